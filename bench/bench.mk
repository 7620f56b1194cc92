# bench/: micro-benchmarks (Google Benchmark via a C shim), pause benchmarks
# and the side-by-side runs against Boehm GC and manual malloc/free.
# Included by the top Makefile.  See bench/README.md.
#
#   make bench                everything below, then the VM's (bench-vm, vm/vm.mk)
#   make bench-micro          build/bench/micro
#   make bench-pause          stw-pause and rt-pause
#   make bench-peers          gcbench, binary-trees, msgbuf on every allocator
#                             (BENCH_RUNS=3 runs each, the median kept;
#                             BENCH_PEERS_ARGS adds run-peers.sh options)

BENCH_RUNS ?= 3
BENCH_PEERS_ARGS ?=
BENCH_STAMP := build/.deps-bench
$(BENCH_STAMP): $(SETUP)
	@mkdir -p build
	@sh $(SETUP) bench
	@touch $@

BENCH_C := $(wildcard bench/micro/*.c)
BENCH_CC := $(wildcard bench/micro/*.cc)
BENCH_OBJ := $(BENCH_C:%.c=$(O)/obj/%.o) $(BENCH_CC:%.cc=$(O)/obj/%.o)

$(O)/obj/bench/%.o: bench/%.c $(BENCH_STAMP) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) -Ibench/micro -c $< -o $@
$(O)/obj/bench/%.o: bench/%.cc $(BENCH_STAMP) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CXX     $<"
	$(Q)$(CXX) $(CXXFLAGS_ALL) -Ibench/micro -c $< -o $@

$(O)/bench/micro: $(BENCH_OBJ) $(O)/librtgc.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CXX) -o $@ $(BENCH_OBJ) $(O)/librtgc.a $(LDFLAGS_ALL) -lbenchmark -ljemalloc $(LDLIBS_LIB)

$(O)/bench/stw-pause: bench/macro/stw_pause.c $(O)/librtgc.a $(BENCH_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< $(O)/librtgc.a $(LDFLAGS_ALL) -ljemalloc $(LDLIBS_LIB)

$(O)/bench/rt-pause: bench/macro/rt_pause.c $(O)/librtgc.a $(BENCH_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< $(O)/librtgc.a $(LDFLAGS_ALL) -ljemalloc $(LDLIBS_LIB)

# The peers: one source, one binary per memory manager (jemalloc replaces
# malloc for a whole process, so it cannot share one with glibc's).
PEERS_BIN := $(O)/bench/peers-rtgc $(O)/bench/peers-boehm $(O)/bench/peers-jemalloc $(O)/bench/peers-glibc
$(O)/bench/peers-rtgc: bench/macro/peers.c $(O)/librtgc.a $(BENCH_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS_ALL) -DPEER_RTGC -o $@ $< $(O)/librtgc.a $(LDFLAGS_ALL) $(LDLIBS_LIB)
$(O)/bench/peers-boehm: bench/macro/peers.c $(O)/librtgc.a $(BENCH_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS_ALL) -DPEER_BOEHM -o $@ $< $(O)/librtgc.a $(LDFLAGS_ALL) -lgc $(LDLIBS_LIB)
$(O)/bench/peers-jemalloc: bench/macro/peers.c $(O)/librtgc.a $(BENCH_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS_ALL) -DPEER_MALLOC -DPEER_JEMALLOC -o $@ $< $(O)/librtgc.a $(LDFLAGS_ALL) -ljemalloc $(LDLIBS_LIB)
$(O)/bench/peers-glibc: bench/macro/peers.c $(O)/librtgc.a $(BENCH_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS_ALL) -DPEER_MALLOC -o $@ $< $(O)/librtgc.a $(LDFLAGS_ALL) $(LDLIBS_LIB)

.PHONY: bench-micro bench-pause bench-peers
bench-micro: $(O)/bench/micro
	$(O)/bench/micro --benchmark_min_time=0.2
bench-pause: $(O)/bench/stw-pause $(O)/bench/rt-pause
	$(O)/bench/stw-pause --live=100M
	$(O)/bench/stw-pause --live=1G
	$(O)/bench/rt-pause --live=1G --threads=2 --seconds=10
bench-peers: $(PEERS_BIN)
	sh bench/run-peers.sh -b $(O) --runs $(BENCH_RUNS) $(BENCH_PEERS_ARGS)

# bench-peers last: its table is the one printed at the end.
bench: bench-micro bench-pause
	@$(MAKE) --no-print-directory bench-peers

# rtvm: the language VM (see vm/README.md).  Included by the top Makefile.
#
#   $(O)/rtvm          the command (jemalloc is its malloc)
#   $(O)/librtvm.a     everything but main, for embedders (gclat)
#   make bench-vm      JIT against interpreter figures (bench/vm/)

RTVM_SRC := vm/read.c vm/compile.c vm/objects.c vm/interp.c vm/builtins.c vm/runtime.c vm/weak.c vm/jit/x64.c vm/jit/jit.c
RTVM_OBJ := $(RTVM_SRC:%.c=$(O)/obj/%.o)
RTVM_LIB := $(O)/librtvm.a
RTVM_CFLAGS := $(CFLAGS_ALL) -Ivm

$(O)/obj/vm/%.o: vm/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(RTVM_CFLAGS) -c $< -o $@

$(RTVM_LIB): $(RTVM_OBJ)
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $(RTVM_OBJ)

$(O)/rtvm: $(O)/obj/vm/main.o $(RTVM_LIB) $(O)/librtgc.a
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $(O)/obj/vm/main.o $(RTVM_LIB) $(O)/librtgc.a $(LDFLAGS_ALL) -ljemalloc $(LDLIBS_LIB) -lm

ALL_EXTRA += $(O)/rtvm $(RTVM_LIB)

# ---- tests (each runs from the repository root; see vm/tests/) ----
$(O)/tests/vm-programs: vm/tests/run-programs.sh
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\nexec sh vm/tests/run-programs.sh $(O)\n' > $@ && chmod +x $@
$(O)/tests/vm-errors: vm/tests/run-errors.sh
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\nexec sh vm/tests/run-errors.sh $(O)\n' > $@ && chmod +x $@

# A VM whose return barrier does not shade: run-teeth.sh expects the
# verifier to catch it on vm/tests/teeth/return-barrier.rtvm.
$(O)/obj/vm-broken/runtime.o: vm/runtime.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (RTVM_BROKEN_RETURN_BARRIER)"
	$(Q)$(CC) $(RTVM_CFLAGS) -DRTVM_BROKEN_RETURN_BARRIER -c $< -o $@
$(O)/tests/rtvm-broken-barrier: $(O)/obj/vm/main.o $(O)/obj/vm-broken/runtime.o $(filter-out $(O)/obj/vm/runtime.o,$(RTVM_OBJ)) $(O)/librtgc.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $(filter %.o,$^) $(O)/librtgc.a $(LDFLAGS_ALL) -ljemalloc $(LDLIBS_LIB) -lm
$(O)/tests/vm-teeth: vm/tests/run-teeth.sh $(O)/tests/rtvm-broken-barrier
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\nexec sh vm/tests/run-teeth.sh $(O)\n' > $@ && chmod +x $@

ALL_EXTRA += $(O)/tests/vm-programs $(O)/tests/vm-errors $(O)/tests/vm-teeth
TESTS_EXTRA += $(O)/tests/vm-programs $(O)/tests/vm-errors $(O)/tests/vm-teeth

$(O)/tests/test_rtvm_embed: vm/tests/test_embed.c $(RTVM_LIB) $(O)/librtgc.a
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(CFLAGS_ALL) -Ivm/include -o $@ $< $(RTVM_LIB) $(O)/librtgc.a $(LDFLAGS_ALL) -lcmocka $(LDLIBS_LIB) -lm

ALL_EXTRA += $(O)/tests/test_rtvm_embed
TESTS_EXTRA += $(O)/tests/test_rtvm_embed

# ---- benchmarks: the JIT against the interpreter (bench/vm/) ----
.PHONY: bench-vm
bench-vm: $(O)/rtvm
	sh bench/vm/run.sh $(O) 5
bench: bench-vm

# ---- fuzzing the reader, the compiler and the JIT's code generator (libFuzzer) ----
# Built with Debian's clang in the default flavour only (it brings its own
# AddressSanitizer); clang comes with the `model` set of packages, installed
# before the build (build/.setup-model), so a fresh machine builds and runs
# it on the first make test.  make test runs it for 12 seconds; for longer:
#   build/fuzz/fuzz_compile -max_total_time=3600 -timeout=5 /tmp/corpus vm/fuzz/corpus
FUZZ_CC ?= clang
ifeq ($(SAN)$(BUILD),opt)
$(O)/fuzz/fuzz_compile: vm/fuzz/fuzz_compile.c $(RTVM_SRC) $(wildcard vm/*.h vm/jit/*.h) $(O)/librtgc.a | build/.setup-model
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) -std=gnu11 -g -O1 -fsanitize=fuzzer,address -Igc/include -Ibarriers/include -Ivm \
	  -o $@ $< $(RTVM_SRC) $(O)/librtgc.a -latomic_ops -lpthread -lm
$(O)/tests/vm-fuzz: vm/fuzz/run-fuzz.sh
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\nexec sh vm/fuzz/run-fuzz.sh $(O)/fuzz/fuzz_compile 12\n' > $@ && chmod +x $@
ALL_EXTRA += $(O)/fuzz/fuzz_compile $(O)/tests/vm-fuzz
TESTS_EXTRA += $(O)/tests/vm-fuzz
endif

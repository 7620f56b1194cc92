# gclat: the latency harness (see harness/README.md).  Included by the top
# Makefile after vm/vm.mk, whose RTVM_LIB (the VM as a library) gclat links
# for its vm engine.

GCLAT_SRC := $(wildcard harness/*.c harness/workloads/*.c)
GCLAT_LIBSRC := $(filter-out harness/main.c,$(GCLAT_SRC))
GCLAT_OBJ := $(GCLAT_SRC:%.c=$(O)/obj/%.o)
GCLAT_LIBOBJ := $(GCLAT_LIBSRC:%.c=$(O)/obj/%.o)
GCLAT_CFLAGS := $(CFLAGS_ALL) -Iharness -Ivm/include

$(O)/obj/harness/%.o: harness/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(GCLAT_CFLAGS) -c $< -o $@

$(O)/gclat: $(GCLAT_OBJ) $(RTVM_LIB) $(O)/librtgc.a
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $(GCLAT_OBJ) $(RTVM_LIB) $(O)/librtgc.a $(LDFLAGS_ALL) -ljemalloc -lm $(LDLIBS_LIB)

# The harness's own tests: option parsing, the JSON, each workload briefly in
# both engines, and an impossible budget that must fail.
$(O)/tests/test_gclat: harness/tests/test_gclat.c $(GCLAT_LIBOBJ) $(RTVM_LIB) $(O)/librtgc.a
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(GCLAT_CFLAGS) -o $@ $< $(GCLAT_LIBOBJ) $(RTVM_LIB) $(O)/librtgc.a $(LDFLAGS_ALL) -lcmocka -ljemalloc -lm $(LDLIBS_LIB)

ALL_EXTRA += $(O)/gclat
TESTS_EXTRA += $(O)/tests/test_gclat
tests: $(O)/tests/test_gclat

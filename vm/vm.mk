# rtvm: the language VM (see vm/README.md).  Included by the top Makefile.
#
#   $(O)/rtvm          the command (jemalloc is its malloc)
#   $(O)/librtvm.a     everything but main, for embedders (gclat)
#   make bench-vm      JIT against interpreter figures (bench/vm/)

RTVM_SRC := vm/read.c vm/compile.c vm/objects.c vm/interp.c vm/builtins.c vm/runtime.c vm/jit/x64.c vm/jit/jit.c
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

ALL_EXTRA += $(O)/tests/vm-programs $(O)/tests/vm-errors
TESTS_EXTRA += $(O)/tests/vm-programs $(O)/tests/vm-errors

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

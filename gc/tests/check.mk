# The long checks: make check-all (and make model, make soak).  Included by
# the top Makefile.
#
#   make check-all     make test, then: the torture test (test_graph) long in
#                      every mode; under AddressSanitizer; under
#                      ThreadSanitizer; a small run under valgrind; the
#                      full model check (two registers a mutator, two
#                      markers: gc/model/check.sh full); both
#                      fuzzers for a while, and the API fuzzer against a
#                      broken load barrier (make fuzz-teeth).  Installs what it needs
#                      (.ci/setup-deps.sh check: spin, valgrind, clang).
#   make model         the SPIN model of marking, the quick check (also in
#                      make test)
#   make soak          gclat's web workload for SOAK_DURATION (10m),
#                      checked for growth, drift and errors (gc/tests/soak.sh)
#
# Every randomised test prints its seed; to replay one:
#   RTGC_TEST_SEED=N RTGC_TEST_SCALE=F RTGC_TEST_FILTER='graph_big' build/tests/test_graph
# (the same scale and filter as the failing run; the threaded tests replay
# each thread's operations, not their interleaving).  A fuzzer's crash input
# is left in build/fuzz/ and replays with build/fuzz/fuzz_api FILE.
#
# Knobs: TORTURE_SCALE (20: about 2M..20M operations a test, 13 tests over
# the four modes), TORTURE_ASAN_SCALE (5), TORTURE_TSAN_SCALE (1, four
# times the TSan default), TORTURE_VALGRIND_SCALE (0.2), FUZZ_LONG_SECS
# (300, each fuzzer).

TORTURE_SCALE ?= 20
TORTURE_ASAN_SCALE ?= 5
TORTURE_TSAN_SCALE ?= 1
TORTURE_VALGRIND_SCALE ?= 0.2
FUZZ_LONG_SECS ?= 300
SOAK_DURATION ?= 10m
SOAK_ARGS ?=

.PHONY: check-all check-deps torture-long torture-asan torture-tsan torture-valgrind model model-full \
        fuzz-long soak

MODEL_STAMP := build/.setup-model
CHECK_STAMP := build/.setup-check

$(MODEL_STAMP): $(SETUP)
	@mkdir -p build
	@sh $(SETUP) model
	@touch $@
$(CHECK_STAMP): $(SETUP)
	@mkdir -p build
	@sh $(SETUP) check
	@touch $@
check-deps: $(CHECK_STAMP)

# The quick model check, in make test (spin installs in seconds).
$(O)/tests/gc-model: gc/model/check.sh gc/model/marking.pml | $(MODEL_STAMP)
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\nexec sh gc/model/check.sh quick\n' > $@ && chmod +x $@
ifeq ($(BUILD)$(SAN)$(BREAK),opt)
ALL_EXTRA += $(O)/tests/gc-model
TESTS_EXTRA += $(O)/tests/gc-model
endif

model: $(MODEL_STAMP)
	sh gc/model/check.sh quick
model-full: $(MODEL_STAMP)
	sh gc/model/check.sh full

# One run of test_graph: $(1) the binary, $(2) the scale, $(3) a label,
# $(4) a command prefix.  The log keeps every seed; the last lines say how
# it went.
define torture_run
	@mkdir -p build/check
	@echo "check-all: $(3): RTGC_TEST_SCALE=$(2) $(4) $(1) (log: build/check/$(3).log)"
	@s=$$(date +%s); RTGC_TEST_SCALE=$(2) $(4) $(1) > build/check/$(3).log 2>&1; rc=$$?; \
	  grep -E '^\[ (STATS|SEED) ' build/check/$(3).log | sed 's/^/  /' | tail -40; \
	  tail -3 build/check/$(3).log | sed 's/^/  /'; \
	  echo "check-all: $(3): exit $$rc after $$(( $$(date +%s) - s )) s"; \
	  if [ $$rc -ne 0 ]; then grep -E 'RTGC_TEST_SEED|ERROR|error|FAIL' build/check/$(3).log | head -20; exit 1; fi
endef

torture-long: tests
	$(call torture_run,$(O)/tests/test_graph,$(TORTURE_SCALE),torture-long,)

torture-asan:
	@$(MAKE) --no-print-directory SAN=address tests
	$(call torture_run,build/opt-address/tests/test_graph,$(TORTURE_ASAN_SCALE),torture-asan,)

torture-tsan:
	@$(MAKE) --no-print-directory SAN=thread tests
	$(call torture_run,build/opt-thread/tests/test_graph,$(TORTURE_TSAN_SCALE),torture-tsan,TSAN_OPTIONS=halt_on_error=1)

# valgrind's memcheck on the check build (poisoned cells, validated
# references), every test at a fifth of its length.
torture-valgrind: $(CHECK_STAMP)
	@$(MAKE) --no-print-directory BUILD=check tests
	$(call torture_run,build/check/tests/test_graph,$(TORTURE_VALGRIND_SCALE),torture-valgrind,valgrind -q --error-exitcode=99 --track-origins=no)

fuzz-long: $(CHECK_STAMP)
	@$(MAKE) --no-print-directory $(O)/fuzz/fuzz_api $(O)/fuzz/fuzz_compile
	@echo "check-all: the API fuzzer for $(FUZZ_LONG_SECS) s"
	@sh gc/fuzz/run-fuzz.sh $(O)/fuzz/fuzz_api $(FUZZ_LONG_SECS)
	@echo "check-all: the VM's parser/compiler fuzzer for $(FUZZ_LONG_SECS) s"
	@sh vm/fuzz/run-fuzz.sh $(O)/fuzz/fuzz_compile $(FUZZ_LONG_SECS)

check-all: $(CHECK_STAMP)
	@$(MAKE) --no-print-directory test
	@$(MAKE) --no-print-directory torture-long
	@$(MAKE) --no-print-directory torture-asan
	@$(MAKE) --no-print-directory torture-tsan
	@$(MAKE) --no-print-directory torture-valgrind
	@$(MAKE) --no-print-directory model-full
	@$(MAKE) --no-print-directory fuzz-long
	@$(MAKE) --no-print-directory fuzz-teeth
	@echo "check-all: everything passed"

soak: all
	sh gc/tests/soak.sh $(O)/gclat $(SOAK_DURATION) $(SOAK_ARGS)

# The soak checker's own test (synthetic samples), in make test.
$(O)/tests/gc-soak-check: gc/tests/test_soak.sh gc/tests/soak.sh
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\nexec sh gc/tests/test_soak.sh\n' > $@ && chmod +x $@
ALL_EXTRA += $(O)/tests/gc-soak-check
TESTS_EXTRA += $(O)/tests/gc-soak-check

# Unreadable and corrupt baseline files against ltcheck, in make test.
$(O)/tests/latency-baseline-files: latency-tests/test_baseline_files.sh $(O)/ltcheck
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\nexec sh latency-tests/test_baseline_files.sh $(O)\n' > $@ && chmod +x $@
ALL_EXTRA += $(O)/tests/latency-baseline-files
TESTS_EXTRA += $(O)/tests/latency-baseline-files

# test_graph is two sources: the torture test and its weak layer.
GRAPH_SRC := gc/tests/test_graph.c gc/tests/graph_weak.c
$(O)/tests/test_graph: $(GRAPH_SRC) gc/tests/graph.h gc/tests/graph_weak.h gc/tests/testutil.h $(O)/librtgc-internal.a
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(CFLAGS_ALL) -DRTGC_INTERNAL -Igc -o $@ $(GRAPH_SRC) $(O)/librtgc-internal.a $(LDFLAGS_ALL) -lcmocka $(LDLIBS_LIB)

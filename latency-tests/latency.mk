# latency-tests: pause-percentile regression tests (see latency-tests/README.md).
# Included by the top Makefile after harness/harness.mk (it drives $(O)/gclat).
#
#   make latency            every case in cases.txt (about 2 minutes)
#   make latency-baseline   record the baselines again (LATENCY_CASES="a b" for
#                           some; LATENCY_RUNS=N runs a case, default 3)
#   make test               runs the short set, ltcheck's own test and the
#                           teeth test (the default flavour only: the baselines
#                           are figures of the -O2 build)

LATENCY_RUNS ?= 3
LATENCY_CASES ?=

$(O)/ltcheck: latency-tests/ltcheck.c latency-tests/json.c latency-tests/json.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) -std=gnu11 $(OPTFLAGS) $(SANFLAGS) $(WARN) -o $@ latency-tests/ltcheck.c latency-tests/json.c $(LDFLAGS_ALL)

$(O)/tests/latency-ltcheck: latency-tests/test_ltcheck.sh
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\nexec sh latency-tests/test_ltcheck.sh $(O)\n' > $@ && chmod +x $@
$(O)/tests/latency-short: latency-tests/run.sh
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\nexec sh latency-tests/run.sh -b $(O) --set short\n' > $@ && chmod +x $@
$(O)/tests/latency-teeth: latency-tests/teeth.sh
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\nexec sh latency-tests/teeth.sh $(O)\n' > $@ && chmod +x $@

ALL_EXTRA += $(O)/ltcheck $(O)/tests/latency-ltcheck
TESTS_EXTRA += $(O)/tests/latency-ltcheck
ifeq ($(BUILD)$(SAN)$(BREAK),opt)
ALL_EXTRA += $(O)/tests/latency-short $(O)/tests/latency-teeth
TESTS_EXTRA += $(O)/tests/latency-short $(O)/tests/latency-teeth
endif

.PHONY: latency latency-baseline
latency: $(O)/gclat $(O)/ltcheck
	sh latency-tests/run.sh -b $(O) $(if $(LATENCY_CASES),--cases "$(LATENCY_CASES)",--set all)

latency-baseline: $(O)/gclat $(O)/ltcheck
	sh latency-tests/run.sh -b $(O) --update --runs $(LATENCY_RUNS) $(if $(LATENCY_CASES),--cases "$(LATENCY_CASES)",--set all)

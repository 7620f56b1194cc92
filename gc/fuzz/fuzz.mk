# The API fuzzer (gc/fuzz/fuzz_api.c): random sequences of API operations
# checked against a model after every collection.  Included by the top
# Makefile.  Built with Debian's clang (libFuzzer and AddressSanitizer) from
# the library's sources, with RTGC_CHECK=2 (poisoned free cells, validated
# references), in the default flavour only and only where clang is found
# (make check-all installs it).  make test runs it for FUZZ_API_SECS (10)
# seconds from an eighth of the committed corpus (make check-all: all of it);
# longer:
#   build/fuzz/fuzz_api -max_total_time=3600 -timeout=10 /tmp/corpus gc/fuzz/corpus
# A crash leaves its input in build/fuzz/ (crash-*); replay it with
#   build/fuzz/fuzz_api build/fuzz/crash-...

FUZZ_API_SECS ?= 10
ifeq ($(SAN)$(BUILD)$(BREAK),opt)
$(O)/fuzz/fuzz_api: gc/fuzz/fuzz_api.c $(LIB_SRC) $(wildcard gc/*.h gc/os/*.h gc/include/rtgc/*.h barriers/*.h barriers/include/rtgc/*.h) | build/.setup-model
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) -std=gnu11 -g -O1 -DRTGC_CHECK=2 -DRTGC_INTERNAL -fsanitize=fuzzer,address -pthread \
	  $(INC) -o $@ gc/fuzz/fuzz_api.c $(LIB_SRC) -latomic_ops -lpthread
$(O)/tests/gc-fuzz-api: gc/fuzz/run-fuzz.sh
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\nexec sh gc/fuzz/run-fuzz.sh $(O)/fuzz/fuzz_api $(FUZZ_API_SECS) 8\n' > $@ && chmod +x $@
ALL_EXTRA += $(O)/fuzz/fuzz_api $(O)/tests/gc-fuzz-api
TESTS_EXTRA += $(O)/tests/gc-fuzz-api
endif

# The fuzzer's teeth (make check-all): built against a load barrier that
# does not shade (as make teeth does for the torture test), the input
# gc/fuzz/corpus/teeth-load-barrier (found by fuzzing that build: step
# mode, 20 us slices) must fail in at least one of 30 runs; the slices are
# timed, so a single run may not.  The correct build passes it in make test.
ifeq ($(SAN)$(BUILD)$(BREAK),opt)
$(O)/fuzz/fuzz_api_broken_load: gc/fuzz/fuzz_api.c $(LIB_SRC) $(wildcard gc/*.h gc/os/*.h gc/include/rtgc/*.h barriers/*.h barriers/include/rtgc/*.h) | build/.setup-model
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@ (broken load barrier)"
	$(Q)$(FUZZ_CC) -std=gnu11 -g -O1 -DRTGC_CHECK=2 -DRTGC_INTERNAL -DRTGC_BROKEN_LOAD_BARRIER -fsanitize=fuzzer,address \
	  -pthread $(INC) -o $@ gc/fuzz/fuzz_api.c $(LIB_SRC) -latomic_ops -lpthread
endif
.PHONY: fuzz-teeth
fuzz-teeth: $(O)/fuzz/fuzz_api_broken_load
	@i=0; while [ $$i -lt 30 ]; do i=$$((i + 1)); \
	  if ! $(O)/fuzz/fuzz_api_broken_load gc/fuzz/corpus/teeth-load-barrier > build/fuzz/teeth.log 2>&1; then \
	    grep -m2 'fuzz_api:' build/fuzz/teeth.log; \
	    echo "fuzz-teeth: ok: the API fuzzer's input caught the broken load barrier (run $$i of 30)"; exit 0; fi; \
	done; echo "fuzz-teeth: FAILED: 30 runs against a broken load barrier passed"; exit 1

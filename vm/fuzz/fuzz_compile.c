/* fuzz_compile.c - libFuzzer target for rtvm's reader, compiler and JIT
 * code generator.
 *
 * Each input is a program text: it is read and compiled; when that
 * succeeds every function is also compiled by the JIT (not run: a random
 * program may loop forever).  A failure must be a clean "file:line:col:"
 * message, never a crash, a leak or an out-of-bounds access (built with
 * AddressSanitizer).
 *
 *   make build/fuzz/fuzz_compile
 *   build/fuzz/fuzz_compile -max_total_time=600 CORPUS_DIR vm/fuzz/corpus
 */
#include "vm.h"
#include <stdlib.h>
#include <string.h>

static rtgc_heap *heap;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!heap) {
        rtgc_config cfg;
        rtgc_error e;
        rtgc_config_init(&cfg);
        if (rtgc_heap_create(&cfg, &heap, &e) != RTGC_OK) abort();
    }
    if (size > 1 << 16) return 0;
    char *src = malloc(size + 1);
    memcpy(src, data, size);
    src[size] = 0;
    char err[600];
    rtvm_options o;
    rtvm_options_init(&o);
    o.jit = RTVM_JIT_ON;
    rtvm_program *p = rtvm_program_from_source(heap, "fuzz.rtvm", src, &o, err, sizeof err);
    if (p) {
        for (int i = 0; i < p->nfuncs; i++)
            if (jit_available() && jit_compile(p, p->funcs[i]) != 0) abort();
        rtvm_program_free(p);
    } else if (strncmp(err, "fuzz.rtvm:", 10) != 0) {
        abort(); /* every error names the file, line and column */
    }
    free(src);
    return 0;
}

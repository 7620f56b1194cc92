/* fuzz_compile.c - libFuzzer target for rtvm: the reader, the compiler, the
 * JIT's code generator, and running the program in both modes.
 *
 * Each input is a program text.  It is read and compiled; a failure must be
 * a clean "file:line:col:" message.  A program that compiles is compiled
 * again by the JIT (every function), then run twice with the same fuel (a
 * bound on calls and loop back-edges, so no input runs forever) and its
 * output captured: once interpreted, once JIT-compiled.  Both runs must
 * print the same and end with the same error message (a differential
 * test), unless the program reads the clock, lists table keys (whose
 * order follows object addresses) or uses weak tables, weak references or
 * finalizers (what they see depends on when collections run, and the heap
 * is shared by both runs).  Built with AddressSanitizer: no crash,
 * leak or out-of-bounds access is allowed either.
 *
 *   make build/fuzz/fuzz_compile
 *   build/fuzz/fuzz_compile -max_total_time=600 -timeout=5 CORPUS_DIR vm/fuzz/corpus
 */
#include "vm.h"
#include <stdlib.h>
#include <string.h>

static rtgc_heap *heap;
static rtgc_thread *thread;

static void oom(rtgc_heap *h, size_t request, void *data) { (void)h, (void)request, (void)data; }

/* Run the program's top level; returns its output and error, malloc'd. */
static char *run(const char *src, rtvm_jit_mode jit) {
    char err[600];
    rtvm_options o;
    rtvm_options_init(&o);
    o.jit = jit;
    o.max_stack = 1 << 16;
    rtvm_program *p = rtvm_program_from_source(heap, "fuzz.rtvm", src, &o, err, sizeof err);
    if (!p) abort(); /* it compiled a moment ago */
    p->fuel = 20000;
    p->capture = 1;
    if (jit == RTVM_JIT_ON && jit_available())
        for (int i = 0; i < p->nfuncs; i++)
            if (jit_compile(p, p->funcs[i]) != 0) abort();
    sbuf out = {0};
    rtvm_ctx *c = rtvm_ctx_create(p, thread, err, sizeof err);
    if (c) {
        if (c->out->s) sb_put(&out, c->out->s, c->out->len);
        rtvm_ctx_destroy(c);
        sb_put(&out, "ok", 2);
    } else {
        sb_put(&out, "error: ", 7);
        sb_put(&out, err, strlen(err));
    }
    rtvm_program_free(p);
    return out.s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!heap) {
        rtgc_config cfg;
        rtgc_error e;
        rtgc_config_init(&cfg);
        cfg.heap_limit = (size_t)64 << 20;
        cfg.mode = RTGC_MODE_STW;
        if (rtgc_heap_create(&cfg, &heap, &e) != RTGC_OK) abort();
        rtgc_set_oom_handler(heap, oom, NULL);
        thread = rtgc_thread_attach(heap, &e);
        if (!thread) abort();
    }
    if (size > 1 << 16) return 0;
    char *src = malloc(size + 1);
    memcpy(src, data, size);
    src[size] = 0;
    char err[600];
    rtvm_program *p = rtvm_program_from_source(heap, "fuzz.rtvm", src, NULL, err, sizeof err);
    if (!p) {
        if (strncmp(err, "fuzz.rtvm:", 10) != 0) abort(); /* every error names the file, line and column */
        free(src);
        return 0;
    }
    rtvm_program_free(p);
    /* the output of the two modes; programs that hit out of memory may differ
     * in where (the JIT keeps fewer temporaries alive), so compare the rest */
    char *a = run(src, RTVM_JIT_OFF);
    char *b = run(src, RTVM_JIT_ON);
    int comparable = !strstr(src, "clock") && !strstr(src, "keys") && !strstr(src, "weak") && !strstr(src, "deref") &&
                     !strstr(src, "finaliz") && !strstr(a, "out of memory") &&
                     !strstr(b, "out of memory");
    if (comparable && strcmp(a, b) != 0) {
        fprintf(stderr, "interpreter and JIT differ\n--- interpreter:\n%s\n--- JIT:\n%s\n", a, b);
        abort();
    }
    free(a);
    free(b);
    free(src);
    return 0;
}

/* rtvm.h - embedding the rtvm language VM (the contract gclat uses).
 *
 * A program is parsed and compiled once (rtvm_program_load) and may then run
 * on several threads at once: each thread makes its own context
 * (rtvm_ctx_create), which has its own globals and stack and runs the
 * program's top level once.  Contexts share the program's code and the
 * collector's heap; they never share VM values.  All VM objects live in the
 * rtgc heap; the VM registers its layouts, roots and threads through the
 * public rtgc API only.
 *
 * Entry functions: a workload program defines global functions (say
 * `setup`, `request`, `frame`, `tick`) that the embedder calls by name with
 * integer arguments and gets an integer (or nil, reported as 0) back.
 */
#ifndef RTVM_H
#define RTVM_H
#include <stddef.h>
#include <stdint.h>
#include <rtgc.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rtvm_program rtvm_program;
typedef struct rtvm_ctx rtvm_ctx;

typedef enum rtvm_jit_mode { RTVM_JIT_AUTO = 0, RTVM_JIT_ON = 1, RTVM_JIT_OFF = 2 } rtvm_jit_mode;

typedef struct rtvm_options {
    rtvm_jit_mode jit;      /* default RTVM_JIT_AUTO: hot functions are compiled */
    int dump_jit;           /* print generated code to stderr as it is made */
    size_t max_stack;       /* value-stack slots per context; 0: the default */
} rtvm_options;

void rtvm_options_init(rtvm_options *o);

/* Parse and compile a program from a file (or from source text, `name` used in
 * messages).  On error returns NULL and writes "file:line:col: message" to
 * err.  Registers the VM's layouts on `heap` the first time it is called for
 * that heap. */
rtvm_program *rtvm_program_load(rtgc_heap *heap, const char *path, const rtvm_options *o,
                                char *err, size_t errlen);
rtvm_program *rtvm_program_from_source(rtgc_heap *heap, const char *name, const char *src,
                                       const rtvm_options *o, char *err, size_t errlen);
void rtvm_program_free(rtvm_program *p);

/* A context for the calling thread, which must be attached to the heap as
 * `t`; runs the program's top level.  NULL on a runtime error (message in
 * err, with its location). */
rtvm_ctx *rtvm_ctx_create(rtvm_program *p, rtgc_thread *t, char *err, size_t errlen);
void rtvm_ctx_destroy(rtvm_ctx *c);

/* Does the program define a global function of this name (after its top level ran)? */
int rtvm_has_function(rtvm_ctx *c, const char *name);

/* Call global function `name` with integer arguments.  Returns 0 and the
 * result in *result (an integer, or 0 for nil/other values), or -1 on a
 * runtime error, whose message (with location) rtvm_last_error gives.  */
int rtvm_call(rtvm_ctx *c, const char *name, int argc, const int64_t *argv, int64_t *result);
const char *rtvm_last_error(const rtvm_ctx *c);

/* Counters of one context (added after the first version of this header). */
typedef struct rtvm_stats {
    uint64_t jit_functions;   /* functions of the program compiled to machine code so far */
    uint64_t jit_slow_ops;    /* ops that this context's JIT code handed to C (slow paths, builtins) */
} rtvm_stats;
void rtvm_get_stats(const rtvm_ctx *c, rtvm_stats *out);

#ifdef __cplusplus
}
#endif
#endif

/* runtime.c - the embedding API (include/rtvm.h): programs, contexts, calls,
 * runtime errors, and the roots each context hands the collector.
 *
 * Roots of a context: its value stack (a stack scanner on its thread that
 * visits [stack, frames[depth-1].top_max), see [ctx.slots] in vm.h), its
 * globals and its constants (root ranges, read with rtgc_load and written
 * with rtgc_store(t, NULL, ...)).  Several contexts may live on one thread;
 * the thread's scanner visits all of them.
 *
 * Errors: vm_error formats "file:line:col: runtime error: message" from the
 * innermost frame's recorded instruction and longjmps to the rtvm_call (or
 * rtvm_ctx_create) that entered the VM, which pops the shadow-stack frames
 * that C helpers pushed since (rtgc_frame_pop of its own frame) and resets
 * the VM stack.
 */
#define _GNU_SOURCE
#include "vm.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void rtvm_options_init(rtvm_options *o) {
    memset(o, 0, sizeof *o);
    o->jit = RTVM_JIT_AUTO;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s:1:1: cannot open file", path);
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) break;
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        if (cap > ((size_t)1 << 30)) {
            free(buf);
            buf = NULL;
            break;
        }
        cap *= 2;
        char *nb = realloc(buf, cap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
    }
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "%s:1:1: file too large or out of memory", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

rtvm_program *rtvm_program_from_source(rtgc_heap *heap, const char *name, const char *src, const rtvm_options *o,
                                       char *err, size_t errlen) {
    const vm_layouts *L = vm_layouts_for(heap, err, errlen);
    if (!L) return NULL;
    rtvm_program *p = vm_compile(heap, name, src, o, err, errlen);
    if (p) p->L = L;
    if (p && p->opt.dump_jit)
        for (int i = 0; i < p->nfuncs; i++) (void)0;
    return p;
}

rtvm_program *rtvm_program_load(rtgc_heap *heap, const char *path, const rtvm_options *o, char *err, size_t errlen) {
    size_t len;
    char *src = read_file(path, &len, err, errlen);
    if (!src) return NULL;
    if (strlen(src) != len) {
        /* find the line and column of the NUL byte */
        int line = 1, col = 1;
        for (size_t i = 0; src[i]; i++) {
            if (src[i] == '\n') line++, col = 1;
            else col++;
        }
        snprintf(err, errlen, "%s:%d:%d: NUL byte in source", path, line, col);
        free(src);
        return NULL;
    }
    rtvm_program *p = rtvm_program_from_source(heap, path, src, o, err, errlen);
    free(src);
    return p;
}

void rtvm_program_free(rtvm_program *p) { vm_program_free(p); }

/* ---- errors ---- */
void vm_error(rtvm_ctx *c, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->depth > 0) {
        vm_frame *fr = &c->frames[c->depth - 1];
        uint32_t pos = fr->fn->pos[fr->pc < fr->fn->ninsns ? fr->pc : fr->fn->ninsns - 1];
        snprintf(c->err, sizeof c->err, "%s:%u:%u: runtime error: %s (in %s)", c->p->file, pos >> 12, pos & 4095, msg,
                 fr->fn->name);
    } else {
        snprintf(c->err, sizeof c->err, "%s: runtime error: %s", c->p->file, msg);
    }
    longjmp(*c->err_jmp, 1);
}

void vm_set_pc(rtvm_ctx *c, int pc) {
    if (c->depth > 0) c->frames[c->depth - 1].pc = pc;
}

void vm_out_of_fuel(rtvm_ctx *c) { vm_error(c, "out of fuel"); }

void vm_maybe_jit(rtvm_ctx *c, vm_func *f) {
    rtvm_program *p = c->p;
    if (p->opt.jit == RTVM_JIT_OFF || !jit_available()) return;
    if (__atomic_load_n(&f->jit_entry, __ATOMIC_ACQUIRE)) return;
    pthread_mutex_lock(&p->jit_lock);
    if (!f->jit_entry && !f->jit_failed && jit_compile(p, f) != 0) __atomic_store_n(&f->jit_failed, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&p->jit_lock);
}

/* ---- roots: the stack scanner of a thread visits each of its contexts ---- */
typedef struct thread_ctxs { rtvm_ctx *list[16]; int n; } thread_ctxs;
static __thread thread_ctxs tl_ctxs;

/* [ctx.watermark] The scan of a context's stack is sliced at frame
 * boundaries, innermost frame first: the first slice visits the innermost
 * frame of every context on the thread (what the thread reads next), later
 * slices visit older frames while the thread runs.  scan_wm is the lowest
 * visited slot: slots below it are not visited yet.  A return into a frame
 * whose base is below scan_wm shades [base, scan_wm) and lowers it
 * (vm_return_barrier; interpreter and JIT epilogue), so the thread never uses
 * an unvisited reference without shading it (rtgc/roots.h's contract).
 * Frames pushed between slices sit above the watermark and hold only what
 * the (already black-allocating) thread wrote. */
static void visit_range(rtgc_root_scan *s, val *lo, val *hi) {
    for (val *p = lo; p < hi; p++)
        if (IS_PTR(*p)) rtgc_scan_visit(s, (void **)p);
        else s->slots_visited++; /* immediates cost a look too: count them toward the slice */
}

static int scan_stacks(rtgc_thread *t, rtgc_root_scan *s, void *data) {
    thread_ctxs *tc = data;
    if (s->cursor == 0) {
        for (int i = 0; i < tc->n; i++) {
            rtvm_ctx *c = tc->list[i];
            c->scan_wm = c->stack;
            if (c->depth <= 0) continue;
            vm_frame *fr = &c->frames[c->depth - 1];
            visit_range(s, fr->fp - 1, fr->top_max);
            c->scan_wm = fr->fp - 1;
            c->scan_frame = c->depth - 1;
        }
        s->cursor = 1;
    }
    for (int i = 0; i < tc->n; i++) {
        rtvm_ctx *c = tc->list[i];
        int64_t k = c->scan_frame - 1 < c->depth - 1 ? c->scan_frame - 1 : c->depth - 1;
        while (c->scan_wm > c->stack) {
            while (k >= 0 && c->frames[k].fp - 1 >= c->scan_wm) k--;
            if (k < 0) {
                c->scan_wm = c->stack; /* no frame left below: nothing live there */
                break;
            }
            val *lo = c->frames[k].fp - 1;
            visit_range(s, lo, c->scan_wm);
            c->scan_wm = lo;
            c->scan_frame = k;
            if (c->scan_wm > c->stack && rtgc_scan_should_yield(s)) return 1;
        }
    }
    return 0;
}

void vm_return_barrier(rtvm_ctx *c) {
    val *lo = c->frames[c->depth - 1].fp - 1;
#ifndef RTVM_BROKEN_RETURN_BARRIER /* vm/tests/run-teeth.sh builds a VM without it */
    for (val *p = lo; p < c->scan_wm; p++)
        if (IS_PTR(*p)) rtgc_shade(c->t, (void *)*p);
#endif
    c->scan_wm = lo;
}

/* ---- contexts ---- */
static void set_cstack_limit(rtvm_ctx *c) {
    pthread_attr_t a;
    void *addr = NULL;
    size_t size = 0;
    char here_;
    char *here = (char *)(uintptr_t)&here_;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        pthread_attr_getstack(&a, &addr, &size);
        pthread_attr_destroy(&a);
    }
    char *lo = addr;
    /* keep 256 KiB for C helpers, libc and the collector's slow paths */
    if (lo && here > lo + (512u << 10)) c->cstack_limit = lo + (256u << 10);
    else c->cstack_limit = (char *)((uintptr_t)here - (1u << 20));
}

static int enter(rtvm_ctx *c, jmp_buf *jb, rtgc_frame *f, void **slot) {
    (void)jb;
    rtgc_frame_push(c->t, f, slot, 1);
    c->err_frame = f;
    return 0;
}

rtvm_ctx *rtvm_ctx_create(rtvm_program *p, rtgc_thread *t, char *err, size_t errlen) {
    if (tl_ctxs.n >= 16) {
        snprintf(err, errlen, "%s: too many contexts on one thread (16)", p->file);
        return NULL;
    }
    rtvm_ctx *c = calloc(1, sizeof *c);
    if (!c) goto oom;
    c->p = p;
    c->t = t;
    c->L = p->L;
    c->nstack = p->opt.max_stack ? p->opt.max_stack : VM_MAX_STACK_DEFAULT;
    if (c->nstack < 1024) c->nstack = 1024;
    c->stack = calloc(c->nstack, sizeof(val));
    c->stack_end = c->stack ? c->stack + c->nstack - 256 : NULL; /* slack for apply */
    c->max_depth = VM_MAX_FRAMES_DEFAULT;
    c->frames = calloc((size_t)c->max_depth + 2, sizeof(vm_frame));
    if (c->frames) {
        c->frames++; /* frames[-1]: a sentinel whose top_max is the stack base */
        c->frames[-1].top_max = c->stack;
        c->frames[-1].fp = c->stack_end + 1; /* returning to depth 0 never trips the return barrier */
    }
    c->hot = calloc((size_t)p->nfuncs, sizeof(uint32_t));
    c->globals = malloc(sizeof(val) * (size_t)(p->nglobals + 1));
    c->consts = calloc((size_t)p->nconsts + 1, sizeof(val)); /* + CTX_FIN_FNS */
    if (!c->stack || !c->frames || !c->hot || !c->globals || !c->consts) goto oom;
    for (int i = 0; i <= p->nglobals; i++) c->globals[i] = V_UNDEF;
    rtgc_heap *heap = rtgc_thread_heap(t);
    if (rtgc_root_range_add(heap, (void **)c->globals, (size_t)p->nglobals + 1) != RTGC_OK) goto oom;
    if (rtgc_root_range_add(heap, (void **)c->consts, (size_t)p->nconsts + 1) != RTGC_OK) {
        rtgc_root_range_remove(heap, (void **)c->globals);
        goto oom;
    }
    set_cstack_limit(c);
    c->scan_wm = c->stack;
    c->fuel = p->fuel;
    c->capture = p->capture;
    if (c->capture && !(c->out = calloc(1, sizeof(sbuf)))) goto oom;
    tl_ctxs.list[tl_ctxs.n++] = c;
    if (tl_ctxs.n == 1) rtgc_thread_set_stack_scanner(t, scan_stacks, &tl_ctxs);

    jmp_buf jb;
    void *slot[1];
    rtgc_frame fr;
    c->err_jmp = &jb;
    enter(c, &jb, &fr, slot);
    if (setjmp(jb)) {
        rtgc_frame_pop(t, c->err_frame);
        snprintf(err, errlen, "%s", c->err);
        c->depth = 0;
        c->err_jmp = NULL;
        rtvm_ctx_destroy(c);
        return NULL;
    }
    for (int i = 0; i < p->nconsts; i++) {
        vm_const *k = &p->consts[i];
        val v = k->kind == C_INT ? MKINT(k->i) : k->kind == C_FLOAT ? vm_float(c, k->d) : vm_string(c, k->s, k->len);
        vm_store(c, NULL, &c->consts[i], v);
    }
    /* the top level: a closure of the main function in slot 0 */
    vm_func *mainf = p->funcs[p->main_fn];
    c->stack[0] = (val)vm_alloc(c, K_CLOSURE, 0);
    ((vclosure *)c->stack[0])->fn = mainf->index;
    if (p->opt.jit == RTVM_JIT_ON) vm_maybe_jit(c, mainf);
    vm_call_value(c, c->stack, 0);
    c->stack[0] = V_NIL;
    rtgc_frame_pop(t, &fr);
    c->err_jmp = NULL;
    return c;
oom:
    snprintf(err, errlen, "%s: out of memory creating a context", p->file);
    if (c) {
        free(c->stack);
        free(c->frames ? c->frames - 1 : NULL);
        free(c->hot);
        free(c->globals);
        free(c->consts);
        free(c);
    }
    return NULL;
}

void rtvm_ctx_destroy(rtvm_ctx *c) {
    if (!c) return;
    for (int i = 0; i < tl_ctxs.n; i++)
        if (tl_ctxs.list[i] == c) {
            tl_ctxs.list[i] = tl_ctxs.list[--tl_ctxs.n];
            break;
        }
    if (tl_ctxs.n == 0) rtgc_thread_set_stack_scanner(c->t, NULL, NULL);
    vm_fin_destroy(c);
    rtgc_heap *heap = rtgc_thread_heap(c->t);
    rtgc_root_range_remove(heap, (void **)c->globals);
    rtgc_root_range_remove(heap, (void **)c->consts);
    if (c->out) free(c->out->s);
    free(c->out);
    free(c->stack);
    free(c->frames - 1);
    free(c->hot);
    free(c->globals);
    free(c->consts);
    free(c);
}

static int find_global(rtvm_program *p, const char *name) {
    for (int i = 0; i < p->nglobals; i++)
        if (strcmp(p->globals[i], name) == 0) return i;
    return -1;
}

int rtvm_has_function(rtvm_ctx *c, const char *name) {
    int g = find_global(c->p, name);
    if (g < 0) return 0;
    return obj_kind(c->L, vm_load(c, &c->globals[g])) == K_CLOSURE;
}

int rtvm_call(rtvm_ctx *c, const char *name, int argc, const int64_t *argv, int64_t *result) {
    jmp_buf jb;
    void *slot[1];
    rtgc_frame fr;
    if (c->err_jmp) {
        snprintf(c->err, sizeof c->err, "%s: rtvm_call: the context is already running", c->p->file);
        return -1;
    }
    c->err_jmp = &jb;
    enter(c, &jb, &fr, slot);
    if (setjmp(jb)) {
        rtgc_frame_pop(c->t, c->err_frame);
        c->depth = 0;
        c->stack[0] = V_NIL;
        c->err_jmp = NULL;
        return -1;
    }
    int g = find_global(c->p, name);
    val f = g >= 0 ? vm_load(c, &c->globals[g]) : V_UNDEF;
    if (g < 0 || f == V_UNDEF) vm_error(c, "undefined name '%s'", name);
    if (argc < 0 || argc > 255) vm_error(c, "bad argument count %d", argc);
    c->stack[0] = f;
    for (int i = 0; i < argc; i++) {
        if (argv[i] < INT_MIN62 || argv[i] > INT_MAX62) vm_error(c, "argument %d out of range", i);
        c->stack[1 + i] = MKINT(argv[i]);
    }
    val r = vm_call_value(c, c->stack, argc);
    c->stack[0] = V_NIL;
    if (result) *result = IS_INT(r) ? INTV(r) : 0;
    rtgc_frame_pop(c->t, &fr);
    c->err_jmp = NULL;
    return 0;
}

const char *rtvm_last_error(const rtvm_ctx *c) { return c->err; }

void rtvm_get_stats(const rtvm_ctx *c, rtvm_stats *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < c->p->nfuncs; i++)
        if (__atomic_load_n(&c->p->funcs[i]->jit_entry, __ATOMIC_ACQUIRE)) out->jit_functions++;
    out->jit_slow_ops = c->jit_slow_ops;
}

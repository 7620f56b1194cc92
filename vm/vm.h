/* vm.h - rtvm's internal header: values, objects, programs, contexts.
 *
 * VALUES are machine words (val) that may sit in any collector reference slot:
 *   nil            0 (NULL)
 *   small integer  (n << 2) | 1      62-bit signed, low bits 01
 *   specials       (k << 2) | 3      false 3, true 7, undef 11 (unset global),
 *                                     tomb 15 (deleted table key)
 *   object         a pointer to an rtgc object (16-byte aligned, low bits 00)
 * The collector ignores words whose low bit is 1, so every slot of every VM
 * object and of the VM stack is precise.
 *
 * OBJECTS live in the rtgc heap; word 0 is the collector's header.  Their
 * layouts are registered once per heap (vm_layouts_for).  Reference fields
 * are read with rtgc_load and written with rtgc_store, always.
 *
 * PROGRAMS (compiled code, record types, constants' source text) are
 * immutable after rtvm_program_load, except each function's JIT entry,
 * published once under the program's lock with a release store.
 *
 * CONTEXTS belong to one thread: a value stack (scanned precisely by the
 * stack scanner registered on the thread), globals and the program's
 * constants materialised as objects (root ranges).  Invariant [ctx.slots]:
 * every slot in [stack, frames[depth-1].top) holds a valid value (the
 * callee zeroes its non-argument slots on entry), and that range is exactly
 * what the scanner visits.
 */
#ifndef RTVM_VM_H
#define RTVM_VM_H

#include <rtgc.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include "include/rtvm.h"

typedef uintptr_t val;

#define V_NIL ((val)0)
#define V_FALSE ((val)3)
#define V_TRUE ((val)7)
#define V_UNDEF ((val)11)
#define V_TOMB ((val)15)

#define INT_MIN62 (-((int64_t)1 << 61))
#define INT_MAX62 (((int64_t)1 << 61) - 1)
#define IS_INT(v) (((v) & 3) == 1)
#define MKINT(n) ((val)(((uint64_t)(int64_t)(n) << 2) | 1))
#define INTV(v) ((int64_t)(v) >> 2)
#define IS_PTR(v) ((v) != 0 && ((v) & 3) == 0)
#define MKBOOL(b) ((b) ? V_TRUE : V_FALSE)
#define TRUTHY(v) ((v) != V_NIL && (v) != V_FALSE)

/* object kinds (each one rtgc layout) */
enum { K_NONE = 0, K_FLOAT, K_STRING, K_VECTOR, K_ITEMS, K_RECORD, K_CLOSURE, K_BOX, K_TABLE, K_WTABLE, K_COUNT };

typedef struct vfloat { uint64_t hdr; double d; } vfloat;                    /* RECORD 16, no refs */
typedef struct vstring { uint64_t hdr; char s[]; } vstring;                  /* BYTES, count = length */
typedef struct vvector { uint64_t hdr; val items; int64_t len; } vvector;    /* RECORD 24, ref at 8 */
typedef struct vitems { uint64_t hdr; val e[]; } vitems;                     /* REF_ARRAY, count = capacity */
typedef struct vrecord { uint64_t hdr; int64_t type; val f[]; } vrecord;     /* REF_ARRAY fixed 16 */
typedef struct vclosure { uint64_t hdr; int64_t fn; val up[]; } vclosure;    /* REF_ARRAY fixed 16 */
typedef struct vbox { uint64_t hdr; val v; } vbox;                           /* RECORD 16, ref at 8 */
typedef struct vtable { uint64_t hdr; val keys, vals; int64_t count, used; } vtable; /* RECORD 40 */
/* A weak-key table (weak.c): slots holds nil (empty), tomb (deleted) or an
 * rtgc ephemeron (key, value); used counts the slots that are not empty. */
typedef struct vwtable { uint64_t hdr; val slots; int64_t used; } vwtable;   /* RECORD 24, ref at 8 */

typedef struct vm_layouts {
    rtgc_heap *heap;
    rtgc_layout_id id[K_COUNT];
    size_t size0[K_COUNT];  /* object size with count 0, to recognise the registration */
    uint8_t kind_of[RTGC_MAX_LAYOUTS];
} vm_layouts;

/* The layouts of `heap`, registered on first use (thread-safe). NULL on error. */
const vm_layouts *vm_layouts_for(rtgc_heap *heap, char *err, size_t errlen);

static inline int obj_kind(const vm_layouts *L, val v) {
    if (!IS_PTR(v)) return K_NONE;
    return L->kind_of[rtgc_header_layout(*(uint64_t *)v)];
}
static inline uint32_t obj_count(val v) { return rtgc_object_count((void *)v); }

/* ---- bytecode ---- */
#include "bytecode.h"

typedef struct vm_func {
    char *name;
    int index;
    int nparams;
    int nregs;             /* frame slots, params included */
    int ninsns;
    insn *code;
    uint32_t *pos;         /* per instruction: line << 12 | column (column capped) */
    uint32_t *dead;        /* per instruction: for a CALL or BUILTIN, 0 or an offset into dead_regs of */
    uint16_t *dead_regs;   /* its dead registers below its live top: count, registers (compile.c [compile.dead]) */
    int nups;              /* upvalues */
    uint16_t *up_src;      /* per upvalue: bit 15 set = parent's upvalue, else parent's register */
    void *jit_entry;       /* compiled code's C entry, NULL until compiled (atomic loads and stores) */
    void *jit_inner;       /* its JIT entry (r12 = ctx, r13 = thread), published before jit_entry */
    int jit_failed;        /* set under the program lock, read without it (atomic) */
} vm_func;

typedef struct vm_rtype {
    char *name;
    int nfields;
    int *fields;           /* field-name ids */
} vm_rtype;

typedef enum { C_STR = 1, C_FLOAT = 2, C_INT = 3 } const_kind;
typedef struct vm_const {
    const_kind kind;
    double d;
    int64_t i;
    char *s;
    size_t len;
} vm_const;

struct rtvm_program {
    char *file;
    rtgc_heap *heap;
    const vm_layouts *L;
    rtvm_options opt;
    vm_func **funcs;
    int nfuncs;
    vm_const *consts;
    int nconsts;
    char **globals;        /* global names */
    int nglobals;
    vm_rtype *rtypes;
    int nrtypes;
    char **fnames;         /* field names */
    int nfnames;
    int16_t *fidx;         /* fidx[type * nfnames + name]: field index or -1 */
    int main_fn;
    int64_t fuel;          /* each context's fuel (0: unlimited); set by the fuzzer */
    int capture;           /* contexts capture their output (fuzzer) */
    pthread_mutex_t jit_lock;
    struct jit_code *jit_chunks; /* code mappings, freed with the program */
};

typedef struct vm_frame {
    vm_func *fn;
    val *fp;
    val *top_max;          /* max over this frame and its callers of fp + nregs */
    int pc;                /* interpreter: resume point in the caller; JIT: last error site */
    int native;            /* frame entered by native (JIT) code or a nested interpreter */
} vm_frame;

#define VM_MAX_FRAMES_DEFAULT 100000
#define VM_MAX_STACK_DEFAULT (1u << 20)

struct rtvm_ctx {
    /* fields JIT code reads (jit.c takes their offsets with offsetof) */
    val *stack_end;        /* 0: no frame may extend past this */
    vm_frame *frames;      /* 8 */
    int64_t depth;         /* 16: frames in use */
    int64_t max_depth;     /* 24 */
    char *cstack_limit;    /* 32: native recursion stops when rsp goes below */
    rtgc_thread *t;        /* 40 */
    val *consts;           /* 48: root range */
    val *globals;          /* 56: root range */
    rtvm_program *p;       /* 64 */
    const vm_layouts *L;   /* 72 */
    val *scan_wm;          /* [ctx.watermark] (runtime.c): slots below are not scanned yet */
    /* the rest only C reads */
    val *stack;
    size_t nstack;
    uint32_t *hot;         /* per function: calls + back-edges (auto JIT) */
    jmp_buf *err_jmp;
    rtgc_frame *err_frame; /* the shadow frame to pop back to on error */
    int err_pending;
    int64_t scan_frame;    /* the sliced scan's last visited frame */
    uint64_t jit_slow_ops;
    char err[512];
    int64_t fuel;          /* calls and back-edges left before "out of fuel" (0: no limit; fuzzing) */
    int capture;           /* print into `out` instead of stdout, clock reads 0 (fuzzing) */
    struct sbuf *out;
    struct vm_fin *fin;    /* finalizer registrations (weak.c); NULL until the first finalize! */
};

/* consts[p->nconsts], one slot past the program's constants and inside the
 * same root range: the context's finalizer closures (a vector, weak.c). */
#define CTX_FIN_FNS(c) (&(c)->consts[(c)->p->nconsts])

/* ---- runtime (runtime.c) ---- */
_Noreturn void vm_error(rtvm_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Note the location of the running instruction of the innermost frame. */
void vm_set_pc(rtvm_ctx *c, int pc);
val vm_call_value(rtvm_ctx *c, val *base, int argc);
/* The return barrier of a sliced stack scan: call after popping a frame when
 * frames[depth-1].fp - 1 < scan_wm. */
void vm_return_barrier(rtvm_ctx *c);
void vm_maybe_jit(rtvm_ctx *c, vm_func *f);
_Noreturn void vm_out_of_fuel(rtvm_ctx *c);

/* ---- objects (objects.c) ---- */
void *vm_alloc(rtvm_ctx *c, int kind, uint32_t count);
val vm_float(rtvm_ctx *c, double d);
val vm_string(rtvm_ctx *c, const char *s, size_t len);
val vm_vector(rtvm_ctx *c, int64_t len, val fill);
void vm_vector_push(rtvm_ctx *c, val *vec_slot, val *x_slot);
val vm_table(rtvm_ctx *c);
val vm_table_get(rtvm_ctx *c, val t, val k, int *found);
void vm_table_put(rtvm_ctx *c, val *t_slot, val *k_slot, val *v_slot);
int vm_table_del(rtvm_ctx *c, val t, val k);
val vm_load(rtvm_ctx *c, const val *slot);
void vm_store(rtvm_ctx *c, void *obj, val *slot, val v);
int vm_equal(rtvm_ctx *c, val a, val b);
const char *vm_type_name(rtvm_ctx *c, val v);
uint64_t vm_mix(uint64_t x);
/* Append v's display form to the growing buffer. */
typedef struct sbuf { char *s; size_t len, cap; } sbuf;
void sb_put(sbuf *b, const char *s, size_t n);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vm_display(rtvm_ctx *c, sbuf *b, val v, int depth);
int vm_is_number(rtvm_ctx *c, val v, double *d);

/* ---- interpreter and builtins ---- */
val vm_interp(rtvm_ctx *c, int base_depth);
void vm_exec_op(rtvm_ctx *c, val *fp, const insn *in);
void vm_exec_op_counted(rtvm_ctx *c, val *fp, const insn *in); /* JIT slow paths: counts them */
val vm_call_from_jit(rtvm_ctx *c, val *fp, int argc);
/* Arithmetic and comparisons on non-small-int operands (interp and JIT share them). */
val vm_arith_slow(rtvm_ctx *c, int op, val a, val b);
val vm_builtin(rtvm_ctx *c, val *fp, int id, int argc, val *args);
val vm_getfield(rtvm_ctx *c, val obj, int name);
void vm_setfield(rtvm_ctx *c, val obj, int name, val v);
val vm_get(rtvm_ctx *c, val coll, val key);
void vm_put(rtvm_ctx *c, val *coll_slot, val *key_slot, val *v_slot);
val vm_new_closure(rtvm_ctx *c, vm_func *f, val *fp);
val vm_new_record(rtvm_ctx *c, int type, val *args);

/* ---- weak tables, weak references, finalizers (weak.c) ---- */
val vm_wtable(rtvm_ctx *c);
val vm_wtable_get(rtvm_ctx *c, val t, val k, int *found);
void vm_wtable_put(rtvm_ctx *c, val *t_slot, val *k_slot, val *v_slot);
int vm_wtable_del(rtvm_ctx *c, val t, val k);
int64_t vm_wtable_len(rtvm_ctx *c, val t);
val vm_wtable_keys(rtvm_ctx *c, val *t_slot);
int vm_is_weakref(rtvm_ctx *c, val v);
val vm_weakref(rtvm_ctx *c, val target);
val vm_deref(rtvm_ctx *c, val w);
void vm_finalize(rtvm_ctx *c, val *obj_slot, val *fn_slot);
int64_t vm_run_finalizers(rtvm_ctx *c);
void vm_collect(rtvm_ctx *c);
void vm_fin_destroy(rtvm_ctx *c);

/* ---- front end (read.c, compile.c) ---- */
rtvm_program *vm_compile(rtgc_heap *heap, const char *name, const char *src, const rtvm_options *o,
                         char *err, size_t errlen);
void vm_program_free(rtvm_program *p);
void vm_disasm(rtvm_program *p, vm_func *f, FILE *out);

/* ---- JIT (jit/jit.c) ---- */
int jit_available(void);
/* Compile f (under the program lock); 0 on success. */
int jit_compile(rtvm_program *p, vm_func *f);
void jit_free_all(rtvm_program *p);
/* Call compiled code for the frame at fp (frame record pushed by the callee). */
val jit_enter(rtvm_ctx *c, void *entry, val *fp, int argc);

#endif

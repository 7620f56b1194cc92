/* jit.c - the x86-64 template JIT: one template per bytecode op.
 *
 * Native frame: rbx = fp (the function's VM stack slots), r12 = ctx,
 * r13 = the rtgc thread (its mutator prefix: state word, free lists),
 * r14 = this function's frame record.  Two entries: the C entry (ctx rdi,
 * fp rsi, argc rdx) sets r12/r13 and calls the JIT entry (fp rsi, argc rdx,
 * r12/r13 already set), which JIT code calls directly; the callee closure
 * is at fp[-1].  The JIT entry checks the argument count, the
 * VM stack, the frame count and the C stack, zeroes the non-argument slots
 * and pushes the frame record exactly as the interpreter does.
 *
 * Invariants:
 *  - Roots stay precise: every VM value lives in a VM stack slot between
 *    templates; registers hold values only inside a template, and a template
 *    reloads from the slots after any call that can poll or allocate.  So a
 *    safepoint or an allocation inside JIT code sees every live reference
 *    in the scanned range [stack, top_max).
 *  - The GC fast paths come from rtgc/barrier-attrs.h (RTGC_ATTR_*), and
 *    the slow paths are called through rtgc_slow_paths(): the poll at loop
 *    back-edges and calls, the load barrier on every reference loaded from
 *    the heap, the store barrier after every reference store (initialising
 *    ones too), and the allocation fast path (pop a free cell, zero the
 *    body, write the header) for boxes, records and closures.
 *  - Every op's slow path is vm_exec_op, the interpreter's own semantics, with
 *    the frame record's pc set first, so errors carry the same locations.
 *  - Code memory is mapped writable, filled, then made read+execute with
 *    mprotect: never writable and executable at once.
 */
#include "vm.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <rtgc/barrier-attrs.h>
#include <sys/mman.h>
#include "x64.h"

typedef struct jit_code { struct jit_code *next; void *addr; size_t size; } jit_code;

int jit_available(void) { return 1; }

_Static_assert(sizeof(vm_frame) == 32, "the prologue indexes frame records with a shift by 5");

#define CTX(f) M(R12, offsetof(rtvm_ctx, f))
#define FR(f) M(R14, offsetof(vm_frame, f))
#define SLOT(i) M(RBX, 8 * (int64_t)(i))
#define STATE M(R13, RTGC_ATTR_STATE_OFFSET)

/* A slow path, emitted out of line after the function's body so that the
 * fast paths fall through. */
enum { S_EXEC, S_EXEC_JF, S_EXEC_JT, S_LOAD, S_STORE, S_POLL, S_ALLOC, S_RETBAR, S_FLOAT };
typedef struct stub {
    int kind, pc, reg, nf, target, slot;
    size_t fails[12];
    size_t resume;
    rtgc_layout_id id;
    uint32_t count;
    size_t size;
} stub;

typedef struct jctx {
    xbuf a;
    rtvm_program *p;
    vm_func *f;
    const rtgc_slow_path_table *slow;
    size_t *label;          /* native offset of each bytecode pc */
    uint8_t *target;        /* is this pc a jump target? */
    struct fix { size_t at; int target; } *fix;
    size_t nfix;
    stub *stubs;
    size_t nstubs, cstubs;
    int failed;
    size_t inner;           /* offset of the JIT entry (after the C entry stub) */
    uint8_t *kint;          /* slots known to hold small ints here (reset at jump targets) */
} jctx;

/* Is slot r of instruction in known to hold a small int (hint bit `bit` or local knowledge)? */
static int known(jctx *j, const insn *in, int r, int bit) {
    return (r >= 0 && r < j->f->nregs && j->kint[r]) || (in->x & bit);
}

static stub *new_stub(jctx *j, int kind, int pc) {
    if (j->nstubs == j->cstubs) {
        size_t nc = j->cstubs ? j->cstubs * 2 : 64;
        stub *ns = realloc(j->stubs, nc * sizeof *ns);
        if (!ns) {
            j->failed = 1;
            static stub dummy;
            return &dummy;
        }
        j->stubs = ns;
        j->cstubs = nc;
    }
    stub *s = &j->stubs[j->nstubs++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->pc = pc;
    return s;
}

/* ---- shared sequences ---- */

static void set_pc(jctx *j, int pc) { x_mov_m32i(&j->a, FR(pc), pc); }

/* Call vm_exec_op for instruction pc (a slow path or a whole op). */
static void call_exec(jctx *j, int pc) {
    set_pc(j, pc);
    x_mov_rr(&j->a, RDI, R12);
    x_mov_rr(&j->a, RSI, RBX);
    x_mov_ri(&j->a, RDX, (int64_t)(uintptr_t)&j->f->code[pc]);
    x_call_abs(&j->a, (void *)vm_exec_op_counted, "vm_exec_op");
}

/* Load barrier on the reference in `r`: the test of RTGC_ATTR_MARKING_BIT
 * in the thread's state word; the slow path (out of line) shades it. */
static void load_barrier(jctx *j, int r) {
    x_note(&j->a, "load barrier");
    x_test_mi(&j->a, STATE, RTGC_ATTR_MARKING_BIT);
    stub *s = new_stub(j, S_LOAD, 0);
    s->reg = r;
    s->fails[s->nf++] = x_jcc_fwd(&j->a, CC_NE);
    s->resume = j->a.len;
}

/* After `mov [slot], r`: the store barrier's test of RTGC_ATTR_STORE_BIT;
 * the slow path shades r.  Caller-saved registers are clobbered when it calls. */
static void store_barrier(jctx *j, int r) {
    x_note(&j->a, "store barrier");
    x_test_mi(&j->a, STATE, RTGC_ATTR_STORE_BIT);
    stub *s = new_stub(j, S_STORE, 0);
    s->reg = r;
    s->fails[s->nf++] = x_jcc_fwd(&j->a, CC_NE);
    s->resume = j->a.len;
}

/* Fuzzing only (p->fuel): count calls and back-edges like the interpreter. */
static void fuel(jctx *j, int pc) {
    if (!j->p->fuel) return;
    x_alu_mi(&j->a, 7, CTX(fuel), 0);
    size_t none = x_jcc_fwd(&j->a, CC_E);
    x_alu_mi(&j->a, 5, CTX(fuel), 1);
    size_t left = x_jcc_fwd(&j->a, CC_NE);
    set_pc(j, pc);
    x_mov_rr(&j->a, RDI, R12);
    x_call_abs(&j->a, (void *)vm_out_of_fuel, "vm_out_of_fuel");
    x_patch_here(&j->a, none);
    x_patch_here(&j->a, left);
}

static void poll(jctx *j, int pc) {
    fuel(j, pc);
    x_note(&j->a, "safepoint poll");
    x_test_mi(&j->a, STATE, RTGC_ATTR_POLL_BIT);
    stub *s = new_stub(j, S_POLL, pc);
    s->fails[s->nf++] = x_jcc_fwd(&j->a, CC_NE);
    s->resume = j->a.len;
}

static void oom_error(rtvm_ctx *c) { vm_error(c, "out of memory"); }

/* Allocate an object of `kind` with `count` elements into rax: the inline
 * free-list pop of rtgc/alloc.h, emitted from RTGC_ATTR_FREE_OFFSET and
 * RTGC_ATTR_FREE_LINK_OFFSET; the slow path is rtgc_slow_paths()->alloc. */
static void alloc(jctx *j, int pc, int kind, uint32_t count) {
    const vm_layouts *L = j->p->L;
    rtgc_layout_id id = L->id[kind];
    size_t size = kind == K_BOX ? sizeof(vbox) : 16 + 8 * (size_t)count; /* records and closures */
    stub *s = new_stub(j, S_ALLOC, pc);
    s->id = id;
    s->count = count;
    s->size = size;
    x_note(&j->a, "allocate %s (%zu bytes)", kind == K_BOX ? "box" : kind == K_RECORD ? "record" : "closure", size);
    if (size <= RTGC_SMALL_MAX) {
        unsigned cls = rtgc_size_class(size);
        xmem freel = M(R13, RTGC_ATTR_FREE_OFFSET + 8 * cls);
        x_mov_rm(&j->a, RAX, freel);
        x_alu_rr(&j->a, 0x85, RAX, RAX);
        s->fails[s->nf++] = x_jcc_fwd(&j->a, CC_E);
        x_mov_rm(&j->a, RCX, M(RAX, RTGC_ATTR_FREE_LINK_OFFSET));
        x_mov_mr(&j->a, freel, RCX);
        x_alu_rr(&j->a, 6, RCX, RCX);
        for (size_t off = 8; off < size; off += 8) x_mov_mr(&j->a, M(RAX, off), RCX);
        x_mov_ri(&j->a, RCX, (int64_t)RTGC_HEADER(id, count));
        x_mov_mr(&j->a, M(RAX, 0), RCX);
    } else {
        s->fails[s->nf++] = x_jmp_fwd(&j->a);
    }
    s->resume = j->a.len;
}

/* Jump to a failure unless r is an object of `kind` (clobbers ecx). */
static void check_kind(jctx *j, int r, int kind, size_t *fails, int *nf) {
    x_alu_rr(&j->a, 0x85, r, r);
    fails[(*nf)++] = x_jcc_fwd(&j->a, CC_E);
    x_test_ri(&j->a, r, 3);
    fails[(*nf)++] = x_jcc_fwd(&j->a, CC_NE);
    x_movzx_w(&j->a, RCX, M(r, 0));
    x_alu_ri(&j->a, 7, RCX, j->p->L->id[kind]);
    fails[(*nf)++] = x_jcc_fwd(&j->a, CC_NE);
}

/* Jump unless r holds a small int: (r - 1) & 3 == 0 (clobbers rdx). */
static void check_int(jctx *j, int r, size_t *fails, int *nf) {
    x_lea(&j->a, RDX, M(r, -1));
    x_test_ri(&j->a, RDX, 3);
    fails[(*nf)++] = x_jcc_fwd(&j->a, CC_NE);
}

/* Both rax and rcx small ints?  ((rax - 1) | (rcx - 1)) & 3 == 0 (clobbers rdx, rsi) */
static void check_ints(jctx *j, size_t *fails, int *nf) {
    x_lea(&j->a, RDX, M(RAX, -1));
    x_lea(&j->a, RSI, M(RCX, -1));
    x_alu_rr(&j->a, 1, RDX, RSI);
    x_test_ri(&j->a, RDX, 3);
    fails[(*nf)++] = x_jcc_fwd(&j->a, CC_NE);
}

/* The fast path ends here; its failures go to an out-of-line call of vm_exec_op. */
static stub *slow_exec(jctx *j, int pc, size_t *fails, int nf) {
    stub *s = new_stub(j, S_EXEC, pc);
    for (int i = 0; i < nf; i++) s->fails[s->nf++] = fails[i];
    s->resume = j->a.len;
    return s;
}

static void jump_to(jctx *j, int cc, int target) {
    size_t at = cc < 0 ? x_jmp_fwd(&j->a) : x_jcc_fwd(&j->a, cc);
    j->fix[j->nfix].at = at;
    j->fix[j->nfix].target = target;
    j->nfix++;
}

/* Jump to bytecode `target` when slot is true (if_true) or false: nil and
 * false are false, everything else true. */
static void branch_on(jctx *j, int slot, int if_true, int target) {
    xbuf *a = &j->a;
    x_mov_rm(a, RAX, SLOT(slot));
    x_alu_rr(a, 0x85, RAX, RAX);
    if (!if_true) {
        jump_to(j, CC_E, target);
        x_alu_ri(a, 7, RAX, (int32_t)V_FALSE);
        jump_to(j, CC_E, target);
    } else {
        size_t skip = x_jcc_fwd(a, CC_E);
        x_alu_ri(a, 7, RAX, (int32_t)V_FALSE);
        jump_to(j, CC_NE, target);
        x_patch_here(a, skip);
    }
}

static void emit_stubs(jctx *j) {
    xbuf *a = &j->a;
    x_note(a, "slow paths");
    for (size_t i = 0; i < j->nstubs; i++) {
        stub *s = &j->stubs[i];
        for (int k = 0; k < s->nf; k++) x_patch_here(a, s->fails[k]);
        switch (s->kind) {
        case S_LOAD:
            x_mov_rr(a, RDI, R13);
            x_mov_rr(a, RSI, s->reg);
            x_call_abs(a, (void *)j->slow->load, "rtgc slow load");
            if (s->reg != RAX) x_mov_rr(a, s->reg, RAX);
            break;
        case S_STORE:
            x_mov_rr(a, RDI, R13);
            x_mov_rr(a, RSI, s->reg);
            x_call_abs(a, (void *)j->slow->store, "rtgc slow store");
            break;
        case S_FLOAT: {
            /* both operands boxed floats: a new boxed float, allocated inline */
            const insn *in = &j->f->code[s->pc];
            size_t notf[8];
            int nn = 0;
            x_mov_rm(a, RAX, SLOT(in->b));
            check_kind(j, RAX, K_FLOAT, notf, &nn);
            x_mov_rm(a, RAX, SLOT(in->c));
            check_kind(j, RAX, K_FLOAT, notf, &nn);
            rtgc_layout_id fid = j->p->L->id[K_FLOAT];
            unsigned cls = rtgc_size_class(sizeof(vfloat));
            xmem freel = M(R13, RTGC_ATTR_FREE_OFFSET + 8 * cls);
            x_mov_rm(a, RAX, freel);
            x_alu_rr(a, 0x85, RAX, RAX);
            size_t slow = x_jcc_fwd(a, CC_E);
            x_mov_rm(a, RCX, M(RAX, RTGC_ATTR_FREE_LINK_OFFSET));
            x_mov_mr(a, freel, RCX);
            size_t got = x_jmp_fwd(a);
            x_patch_here(a, slow);
            set_pc(j, s->pc);
            x_mov_rr(a, RDI, R13);
            x_mov_ri(a, RSI, fid);
            x_mov_ri(a, RDX, 0);
            x_mov_ri(a, RCX, (int64_t)sizeof(vfloat));
            x_call_abs(a, (void *)j->slow->alloc, "rtgc slow alloc");
            x_alu_rr(a, 0x85, RAX, RAX);
            size_t ok = x_jcc_fwd(a, CC_NE);
            x_mov_rr(a, RDI, R12);
            x_call_abs(a, (void *)oom_error, "oom_error");
            x_patch_here(a, ok);
            x_patch_here(a, got);
            x_mov_ri(a, RCX, (int64_t)RTGC_HEADER(fid, 0));
            x_mov_mr(a, M(RAX, 0), RCX);
            /* operands reloaded: the allocation may have collected (they are rooted in their slots) */
            x_mov_rm(a, RCX, SLOT(in->b));
            x_movsd_xm(a, 0, M(RCX, offsetof(vfloat, d)));
            x_mov_rm(a, RCX, SLOT(in->c));
            x_movsd_xm(a, 1, M(RCX, offsetof(vfloat, d)));
            x_sse_xx(a, in->op == OP_ADD ? 0x58 : in->op == OP_SUB ? 0x5c : 0x59, 0, 1);
            x_movsd_mx(a, M(RAX, offsetof(vfloat, d)), 0);
            x_mov_mr(a, SLOT(in->a), RAX);
            x_jmp_to(a, s->resume);
            for (int k = 0; k < nn; k++) x_patch_here(a, notf[k]);
            call_exec(j, s->pc);
            break;
        }
        case S_RETBAR:
            x_push(a, RAX); /* the return value; twice to keep rsp aligned */
            x_push(a, RAX);
            x_mov_rr(a, RDI, R12);
            x_call_abs(a, (void *)vm_return_barrier, "vm_return_barrier");
            x_pop(a, RAX);
            x_pop(a, RAX);
            break;
        case S_POLL:
            set_pc(j, s->pc);
            x_mov_rr(a, RDI, R13);
            x_call_abs(a, (void *)j->slow->poll, "rtgc slow poll");
            break;
        case S_ALLOC: {
            set_pc(j, s->pc);
            x_mov_rr(a, RDI, R13);
            x_mov_ri(a, RSI, s->id);
            x_mov_ri(a, RDX, s->count);
            x_mov_ri(a, RCX, (int64_t)s->size);
            x_call_abs(a, (void *)j->slow->alloc, "rtgc slow alloc");
            x_alu_rr(a, 0x85, RAX, RAX);
            size_t ok = x_jcc_fwd(a, CC_NE);
            x_mov_rr(a, RDI, R12);
            x_call_abs(a, (void *)oom_error, "oom_error");
            x_patch_here(a, ok);
            break;
        }
        case S_EXEC:
        case S_EXEC_JF:
        case S_EXEC_JT:
            call_exec(j, s->pc);
            if (s->kind != S_EXEC) /* the fused branch that followed the compare */
                branch_on(j, s->slot, s->kind == S_EXEC_JT, s->target);
            break;
        }
        x_jmp_to(a, s->resume);
    }
}

static void err_argc(rtvm_ctx *c, vm_func *f, int argc) {
    vm_error(c, "%s expects %d argument%s, got %d", f->name, f->nparams, f->nparams == 1 ? "" : "s", argc);
}
static void err_overflow(rtvm_ctx *c) { vm_error(c, "stack overflow"); }

static void prologue(jctx *j) {
    vm_func *f = j->f;
    xbuf *a = &j->a;
    /* the C entry (offset 0): sets up r12/r13, which JIT code keeps across
     * its calls, and calls the JIT entry that follows */
    x_note(a, "C entry: ctx and thread into r12/r13, then the JIT entry");
    x_push(a, R12);
    x_push(a, R13);
    x_push(a, R12); /* alignment */
    x_mov_rr(a, R12, RDI);
    x_mov_rm(a, R13, CTX(t));
    {
        /* call rel32 to the JIT entry right after this stub */
        size_t at = a->len;
        x_call_rel_fwd(a);
        x_pop(a, RCX);
        x_pop(a, R13);
        x_pop(a, R12);
        x_ret(a);
        j->inner = a->len;
        x_patch(a, at + 1, j->inner);
    }
    x_note(a, "JIT entry (r12 = ctx, r13 = thread): save registers, check arguments and stacks, push the frame record");
    x_push(a, RBP);
    x_mov_rr(a, RBP, RSP);
    x_push(a, RBX);
    x_push(a, R14);
    x_mov_rr(a, RBX, RSI);
    x_alu_ri(a, 7, RDX, f->nparams);
    size_t argc_ok = x_jcc_fwd(a, CC_E);
    x_mov_rr(a, RDI, R12);
    x_mov_ri(a, RSI, (int64_t)(uintptr_t)f);
    x_call_abs(a, (void *)err_argc, "err_argc");
    x_patch_here(a, argc_ok);
    size_t over[3];
    x_cmp_rm(a, RSP, CTX(cstack_limit));
    over[0] = x_jcc_fwd(a, CC_B);
    x_lea(a, RAX, SLOT(f->nregs));
    x_cmp_rm(a, RAX, CTX(stack_end));
    over[1] = x_jcc_fwd(a, CC_A);
    x_mov_rm(a, RCX, CTX(depth));
    x_cmp_rm(a, RCX, CTX(max_depth));
    over[2] = x_jcc_fwd(a, CC_AE);
    size_t fine = x_jmp_fwd(a);
    for (int i = 0; i < 3; i++) x_patch_here(a, over[i]);
    x_mov_rr(a, RDI, R12);
    x_call_abs(a, (void *)err_overflow, "err_overflow");
    x_patch_here(a, fine);
    /* zero the non-argument slots */
    x_alu_rr(a, 6, RDX, RDX);
    for (int i = f->nparams; i < f->nregs; i++) x_mov_mr(a, SLOT(i), RDX);
    /* frame record: frames[depth] = {f, fp, max(top, frames[depth-1].top_max), pc 0} */
    x_mov_rr(a, R14, RCX);
    x_shift_ri(a, 4, R14, 5); /* sizeof(vm_frame) == 32 */
    x_alu_rm(a, 0, R14, CTX(frames));
    x_mov_ri(a, RDX, (int64_t)(uintptr_t)f);
    x_mov_mr(a, FR(fn), RDX);
    x_mov_mr(a, FR(fp), RBX);
    x_mov_rm(a, RDX, M(R14, (int)offsetof(vm_frame, top_max) - (int)sizeof(vm_frame)));
    x_alu_rr(a, 7, RAX, RDX);
    x_cmov(a, CC_B, RAX, RDX);
    x_mov_mr(a, FR(top_max), RAX);
    /* fr->pc is written before anything that can fail or stop; fr->native is unused by JIT frames */
    x_alu_ri(a, 0, RCX, 1);
    x_mov_mr(a, CTX(depth), RCX);
}

static void epilogue(jctx *j, int slot) {
    xbuf *a = &j->a;
    x_mov_rm(a, RAX, SLOT(slot));
    x_alu_mi(a, 5, CTX(depth), 1);
    /* the return barrier of a sliced stack scan ([ctx.watermark]): the
     * caller's frame record is the one below ours */
    x_mov_rm(a, RCX, M(R14, (int)offsetof(vm_frame, fp) - (int)sizeof(vm_frame)));
    x_alu_ri(a, 5, RCX, 8);
    x_cmp_rm(a, RCX, CTX(scan_wm));
    stub *s = new_stub(j, S_RETBAR, 0);
    s->fails[s->nf++] = x_jcc_fwd(a, CC_B);
    s->resume = a->len;
    x_pop(a, R14);
    x_pop(a, RBX);
    x_pop(a, RBP);
    x_ret(a);
}

/* Was register r set to a small constant by the KINT just before pc (in the same block)? */
static int known_int(jctx *j, int pc, int r, int64_t *k) {
    if (pc == 0 || j->target[pc]) return 0;
    const insn *p = &j->f->code[pc - 1];
    if (p->op != OP_KINT || p->a != r || p->j > (1 << 28) || p->j < -(1 << 28)) return 0;
    *k = p->j;
    return 1;
}

/* After an instruction: which slots are known to hold small ints.  Only
 * results whose slow path cannot return something else count: KINT,
 * CHKINT, LEN, and ADD/SUB/MUL of known ints (their slow path is the
 * overflow error). */
static void track_ints(jctx *j, const insn *in) {
    int w = -1, isint = 0;
    switch (in->op) {
    case OP_CALL: memset(j->kint, 0, (size_t)j->f->nregs); return;
    case OP_GSET: case OP_USETBOX: case OP_BOXSET: case OP_SETF: case OP_PUT:
    case OP_JMP: case OP_JF: case OP_JT: case OP_RET: return;
    case OP_KINT: case OP_LEN: w = in->a; isint = 1; break;
    case OP_CHKINT: w = in->a; isint = 1; break;
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MOD:
        w = in->a;
        isint = known(j, in, in->b, 1) && known(j, in, in->c, 2);
        break;
    default: w = in->a; break;
    }
    if (w >= 0 && w < j->f->nregs) j->kint[w] = (uint8_t)isint;
}

/* Emit pc; returns how many following instructions it also covered. */
static int emit_op(jctx *j, int pc) {
    const insn *in = &j->f->code[pc];
    xbuf *a = &j->a;
    size_t fails[16];
    int nf = 0;
    const vm_layouts *L = j->p->L;
    switch (in->op) {
    case OP_MOV:
        x_mov_rm(a, RAX, SLOT(in->b));
        x_mov_mr(a, SLOT(in->a), RAX);
        break;
    case OP_KINT:
        if ((int64_t)MKINT(in->j) >= INT32_MIN && (int64_t)MKINT(in->j) <= INT32_MAX) {
            x_mov_mi(a, SLOT(in->a), (int32_t)(int64_t)MKINT(in->j));
        } else {
            x_mov_ri(a, RAX, (int64_t)MKINT(in->j));
            x_mov_mr(a, SLOT(in->a), RAX);
        }
        break;
    case OP_KNIL: x_mov_mi(a, SLOT(in->a), (int32_t)V_NIL); break;
    case OP_KTRUE: x_mov_mi(a, SLOT(in->a), (int32_t)V_TRUE); break;
    case OP_KFALSE: x_mov_mi(a, SLOT(in->a), (int32_t)V_FALSE); break;
    case OP_KCONST:
        x_mov_rm(a, RAX, CTX(consts));
        x_mov_rm(a, RAX, M(RAX, 8 * in->b));
        load_barrier(j, RAX);
        x_mov_mr(a, SLOT(in->a), RAX);
        break;
    case OP_GGET:
        x_mov_rm(a, RAX, CTX(globals));
        x_mov_rm(a, RAX, M(RAX, 8 * in->b));
        load_barrier(j, RAX);
        x_alu_ri(a, 7, RAX, (int32_t)V_UNDEF);
        fails[nf++] = x_jcc_fwd(a, CC_E);
        x_mov_mr(a, SLOT(in->a), RAX);
        slow_exec(j, pc, fails, nf);
        break;
    case OP_GSET:
        x_mov_rm(a, RCX, CTX(globals));
        x_mov_rm(a, RAX, SLOT(in->a));
        x_mov_mr(a, M(RCX, 8 * in->b), RAX);
        store_barrier(j, RAX);
        break;
    case OP_UGET:
    case OP_UGETBOX:
        x_mov_rm(a, RAX, SLOT(-1));
        x_mov_rm(a, RAX, M(RAX, offsetof(vclosure, up) + 8 * in->b));
        load_barrier(j, RAX);
        if (in->op == OP_UGETBOX) {
            x_mov_rm(a, RAX, M(RAX, offsetof(vbox, v)));
            load_barrier(j, RAX);
        }
        x_mov_mr(a, SLOT(in->a), RAX);
        break;
    case OP_USETBOX:
        x_mov_rm(a, RAX, SLOT(-1));
        x_mov_rm(a, RAX, M(RAX, offsetof(vclosure, up) + 8 * in->b));
        load_barrier(j, RAX);
        x_mov_rm(a, RCX, SLOT(in->a));
        x_mov_mr(a, M(RAX, offsetof(vbox, v)), RCX);
        store_barrier(j, RCX);
        break;
    case OP_BOX:
        alloc(j, pc, K_BOX, 0);
        x_mov_rm(a, RCX, SLOT(in->a));
        x_mov_mr(a, M(RAX, offsetof(vbox, v)), RCX);
        x_mov_mr(a, SLOT(in->a), RAX);
        store_barrier(j, RCX);
        break;
    case OP_BOXGET:
        x_mov_rm(a, RAX, SLOT(in->b));
        x_mov_rm(a, RAX, M(RAX, offsetof(vbox, v)));
        load_barrier(j, RAX);
        x_mov_mr(a, SLOT(in->a), RAX);
        break;
    case OP_BOXSET:
        x_mov_rm(a, RAX, SLOT(in->a));
        x_mov_rm(a, RCX, SLOT(in->b));
        x_mov_mr(a, M(RAX, offsetof(vbox, v)), RCX);
        store_barrier(j, RCX);
        break;
    case OP_CLOSURE: {
        vm_func *g = j->p->funcs[in->b];
        alloc(j, pc, K_CLOSURE, (uint32_t)g->nups);
        x_mov_mi(a, M(RAX, offsetof(vclosure, fn)), g->index);
        x_mov_mr(a, SLOT(in->a), RAX);
        for (int i = 0; i < g->nups; i++) {
            uint16_t s = g->up_src[i];
            if (s & 0x8000) {
                x_mov_rm(a, RCX, SLOT(-1));
                x_mov_rm(a, RCX, M(RCX, offsetof(vclosure, up) + 8 * (s & 0x7fff)));
                load_barrier(j, RCX);
            } else {
                x_mov_rm(a, RCX, SLOT(s));
            }
            x_mov_rm(a, RAX, SLOT(in->a));
            x_mov_mr(a, M(RAX, offsetof(vclosure, up) + 8 * i), RCX);
            store_barrier(j, RCX);
        }
        break;
    }
    case OP_ADD:
    case OP_SUB:
    case OP_MUL: {
        int64_t k;
        int kb = known(j, in, in->b, 1), kc = known(j, in, in->c, 2);
        x_mov_rm(a, RAX, SLOT(in->b));
        if (in->op != OP_MUL && known_int(j, pc, in->c, &k)) {
            /* an operand set by the KINT just before: an immediate */
            if (!kb) check_int(j, RAX, fails, &nf);
            x_alu_ri(a, in->op == OP_ADD ? 0 : 5, RAX, (int32_t)(4 * k));
            fails[nf++] = x_jcc_fwd(a, CC_O);
            x_mov_mr(a, SLOT(in->a), RAX);
            slow_exec(j, pc, fails, nf);
            break;
        }
        x_mov_rm(a, RCX, SLOT(in->c));
        size_t notint[2];
        int nni = 0;
        if (!kb && !kc) check_ints(j, notint, &nni);
        else if (!kb) check_int(j, RAX, fails, &nf);
        else if (!kc) check_int(j, RCX, fails, &nf);
        if (in->op == OP_ADD) {
            x_lea(a, RDX, M(RCX, -1));
            x_alu_rr(a, 0, RDX, RAX);
            fails[nf++] = x_jcc_fwd(a, CC_O);
        } else if (in->op == OP_SUB) {
            x_mov_rr(a, RDX, RAX);
            x_alu_rr(a, 5, RDX, RCX);
            fails[nf++] = x_jcc_fwd(a, CC_O);
            x_alu_ri(a, 0, RDX, 1);
        } else {
            x_mov_rr(a, RDX, RAX);
            x_shift_ri(a, 7, RDX, 2);
            x_alu_ri(a, 5, RCX, 1);
            x_imul_rr(a, RDX, RCX);
            fails[nf++] = x_jcc_fwd(a, CC_O);
            x_alu_ri(a, 0, RDX, 1);
        }
        x_mov_mr(a, SLOT(in->a), RDX);
        slow_exec(j, pc, fails, nf);
        if (nni) { /* not two ints: boxed floats inline, anything else in C */
            stub *fl = new_stub(j, S_FLOAT, pc);
            fl->fails[fl->nf++] = notint[0];
            fl->resume = j->stubs[j->nstubs - 2].resume;
        }
        break;
    }
    case OP_DIV:
    case OP_MOD: {
        /* small ints: untag, idiv; a zero or -1 divisor goes to C (the
         * error, and the one quotient that leaves the 62-bit range) */
        int kb = known(j, in, in->b, 1), kc = known(j, in, in->c, 2);
        x_mov_rm(a, RAX, SLOT(in->b));
        x_mov_rm(a, RCX, SLOT(in->c));
        if (!kb && !kc) check_ints(j, fails, &nf);
        else if (!kb) check_int(j, RAX, fails, &nf);
        else if (!kc) check_int(j, RCX, fails, &nf);
        x_shift_ri(a, 7, RAX, 2);
        x_shift_ri(a, 7, RCX, 2);
        x_alu_rr(a, 0x85, RCX, RCX);
        fails[nf++] = x_jcc_fwd(a, CC_E);
        x_alu_ri(a, 7, RCX, -1);
        fails[nf++] = x_jcc_fwd(a, CC_E);
        x_cqo(a);
        x_idiv_r(a, RCX);
        int r = in->op == OP_DIV ? RAX : RDX;
        x_shift_ri(a, 4, r, 2);
        x_alu_ri(a, 1, r, 1);
        x_mov_mr(a, SLOT(in->a), r);
        slow_exec(j, pc, fails, nf);
        break;
    }
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
    case OP_EQ:
    case OP_NE: {
        static const int ccs[] = {CC_L, CC_LE, CC_G, CC_GE, CC_E, CC_NE};
        int cc = ccs[in->op - OP_LT];
        int64_t k;
        int isk = known_int(j, pc, in->c, &k);
        /* fused with a JF/JT on the result that follows (and is no jump target) */
        const insn *nx = pc + 1 < j->f->ninsns ? &j->f->code[pc + 1] : NULL;
        int fuse = nx && (nx->op == OP_JF || nx->op == OP_JT) && nx->a == in->a && !j->target[pc + 1];
        int kb = known(j, in, in->b, 1), kc = known(j, in, in->c, 2);
        x_mov_rm(a, RAX, SLOT(in->b));
        size_t same = 0;
        if (isk) {
            if (!kb) check_int(j, RAX, fails, &nf);
        } else {
            x_mov_rm(a, RCX, SLOT(in->c));
            if ((in->op == OP_EQ || in->op == OP_NE) && !(kb && kc)) {
                /* identical words are equal whatever they are (nil, objects) */
                x_alu_rr(a, 7, RAX, RCX);
                same = x_jcc_fwd(a, CC_E);
            }
            if (!kb && !kc) check_ints(j, fails, &nf);
            else if (!kb) check_int(j, RAX, fails, &nf);
            else if (!kc) check_int(j, RCX, fails, &nf);
        }
        if (same) x_patch_here(a, same); /* flags: equal */
        else if (isk) x_alu_ri(a, 7, RAX, (int32_t)(4 * k + 1));
        else x_alu_rr(a, 7, RAX, RCX);
        if (same) {
            /* rejoin with the flags of a compare: redo it (cheap, no branch) */
            x_alu_rr(a, 7, RAX, RCX);
        }
        if (!fuse || !nx->x) { /* x: the jump's register is dead after it */
            x_mov_ri(a, RDX, V_TRUE);
            x_mov_ri(a, RAX, V_FALSE);
            x_cmov(a, cc, RAX, RDX);
            x_mov_mr(a, SLOT(in->a), RAX);
        }
        if (fuse) {
            /* flags still hold the compare: branch on them */
            int ncc = cc ^ 1;
            jump_to(j, nx->op == OP_JF ? ncc : cc, nx->j);
            stub *st = slow_exec(j, pc, fails, nf);
            st->kind = nx->op == OP_JF ? S_EXEC_JF : S_EXEC_JT;
            st->slot = in->a;
            st->target = nx->j;
            return 1; /* the branch is done */
        }
        slow_exec(j, pc, fails, nf);
        break;
    }
    case OP_NOT: {
        x_mov_rm(a, RAX, SLOT(in->b));
        x_mov_ri(a, RCX, V_TRUE);
        x_mov_ri(a, RDX, V_FALSE);
        x_alu_rr(a, 0x85, RAX, RAX);
        x_cmov(a, CC_NE, RCX, RDX); /* rcx = rax ? false : true */
        x_alu_ri(a, 7, RAX, (int32_t)V_FALSE);
        x_mov_ri(a, RDX, V_TRUE);
        x_cmov(a, CC_E, RCX, RDX);
        x_mov_mr(a, SLOT(in->a), RCX);
        break;
    }
    case OP_JMP:
        if (in->j <= pc) poll(j, pc);
        jump_to(j, -1, in->j);
        break;
    case OP_JF:
    case OP_JT: branch_on(j, in->a, in->op == OP_JT, in->j); break;
    case OP_CALL: {
        poll(j, pc);
        set_pc(j, pc);
        /* compiled callee: call its entry directly; otherwise vm_call_from_jit */
        x_mov_rm(a, RAX, SLOT(in->a));
        check_kind(j, RAX, K_CLOSURE, fails, &nf);
        x_mov_rm(a, RCX, M(RAX, offsetof(vclosure, fn)));
        x_mov_ri(a, RDX, (int64_t)(uintptr_t)j->p->funcs);
        x_mov_rm(a, RDX, MX(RDX, RCX, 8, 0));
        x_mov_rm(a, RAX, M(RDX, offsetof(vm_func, jit_inner)));
        x_alu_rr(a, 0x85, RAX, RAX);
        fails[nf++] = x_jcc_fwd(a, CC_E);
        x_lea(a, RSI, SLOT(in->a + 1));
        x_mov_ri(a, RDX, in->b);
        x_call_r(a, RAX);
        size_t done = x_jmp_fwd(a);
        for (int i = 0; i < nf; i++) x_patch_here(a, fails[i]);
        x_mov_rr(a, RDI, R12);
        x_lea(a, RSI, SLOT(in->a + 1));
        x_mov_ri(a, RDX, in->b);
        x_call_abs(a, (void *)vm_call_from_jit, "vm_call_from_jit");
        x_patch_here(a, done);
        x_mov_mr(a, SLOT(in->a), RAX);
        break;
    }
    case OP_RET: epilogue(j, in->a); break;
    case OP_NEWREC: {
        vm_rtype *t = &j->p->rtypes[in->b];
        alloc(j, pc, K_RECORD, (uint32_t)t->nfields);
        x_mov_mi(a, M(RAX, offsetof(vrecord, type)), in->b);
        for (int i = 0; i < t->nfields; i++) {
            x_mov_rm(a, RCX, SLOT(in->c + i));
            x_mov_mr(a, M(RAX, offsetof(vrecord, f) + 8 * i), RCX);
        }
        x_mov_mr(a, SLOT(in->a), RAX);
        /* one test covers the initialising stores: no safepoint between them */
        if (t->nfields) {
            x_test_mi(a, STATE, RTGC_ATTR_STORE_BIT);
            size_t skip = x_jcc_fwd(a, CC_E);
            for (int i = 0; i < t->nfields; i++) {
                x_mov_rr(a, RDI, R13);
                x_mov_rm(a, RSI, SLOT(in->c + i));
                x_call_abs(a, (void *)j->slow->store, "rtgc slow store");
            }
            x_patch_here(a, skip);
        }
        break;
    }
    case OP_GETF:
    case OP_SETF: {
        int obj = in->op == OP_GETF ? in->b : in->a;
        int name = in->op == OP_GETF ? in->c : in->b;
        x_mov_rm(a, RAX, SLOT(obj));
        check_kind(j, RAX, K_RECORD, fails, &nf);
        int owner = -1, owners = 0;
        for (int t = 0; t < j->p->nrtypes; t++)
            if (j->p->fidx[t * j->p->nfnames + name] >= 0) owner = t, owners++;
        if (owners == 1) {
            /* one record type has this field: check the type, constant offset */
            x_alu_mi(a, 7, M(RAX, offsetof(vrecord, type)), owner);
            fails[nf++] = x_jcc_fwd(a, CC_NE);
            x_mov_ri(a, RCX, j->p->fidx[owner * j->p->nfnames + name]);
        } else {
            /* index = fidx[type * nfnames + name], -1 when the type lacks the field */
            x_mov_rm(a, RCX, M(RAX, offsetof(vrecord, type)));
            x_imul_rri(a, RCX, RCX, j->p->nfnames);
            x_mov_ri(a, RDX, (int64_t)(uintptr_t)(j->p->fidx + name));
            x_movsx_w(a, RCX, MX(RDX, RCX, 2, 0));
            x_alu_rr(a, 0x85, RCX, RCX);
            fails[nf++] = x_jcc_fwd(a, CC_S);
        }
        if (in->op == OP_GETF) {
            x_mov_rm(a, RAX, MX(RAX, RCX, 8, offsetof(vrecord, f)));
            load_barrier(j, RAX);
            x_mov_mr(a, SLOT(in->a), RAX);
        } else {
            x_lea(a, RDX, MX(RAX, RCX, 8, offsetof(vrecord, f)));
            x_mov_rm(a, RCX, SLOT(in->c));
            x_mov_mr(a, M(RDX, 0), RCX);
            store_barrier(j, RCX);
        }
        slow_exec(j, pc, fails, nf);
        break;
    }
    case OP_GET:
    case OP_PUT: {
        int vec = in->op == OP_GET ? in->b : in->a;
        int key = in->op == OP_GET ? in->c : in->b;
        x_mov_rm(a, RAX, SLOT(vec));
        check_kind(j, RAX, K_VECTOR, fails, &nf);
        x_mov_rm(a, RCX, SLOT(key));
        check_int(j, RCX, fails, &nf);
        x_shift_ri(a, 7, RCX, 2);
        x_cmp_rm(a, RCX, M(RAX, offsetof(vvector, len)));
        fails[nf++] = x_jcc_fwd(a, CC_AE);
        x_mov_rm(a, RAX, M(RAX, offsetof(vvector, items)));
        load_barrier(j, RAX);
        x_mov_rm(a, RCX, SLOT(key));
        x_shift_ri(a, 7, RCX, 2);
        if (in->op == OP_GET) {
            x_mov_rm(a, RAX, MX(RAX, RCX, 8, offsetof(vitems, e)));
            load_barrier(j, RAX);
            x_mov_mr(a, SLOT(in->a), RAX);
        } else {
            x_mov_rm(a, RDX, SLOT(in->c));
            x_mov_mr(a, MX(RAX, RCX, 8, offsetof(vitems, e)), RDX);
            store_barrier(j, RDX);
        }
        slow_exec(j, pc, fails, nf);
        break;
    }
    case OP_LEN:
        x_mov_rm(a, RAX, SLOT(in->b));
        check_kind(j, RAX, K_VECTOR, fails, &nf);
        x_mov_rm(a, RAX, M(RAX, offsetof(vvector, len)));
        x_shift_ri(a, 4, RAX, 2);
        x_alu_ri(a, 1, RAX, 1);
        x_mov_mr(a, SLOT(in->a), RAX);
        slow_exec(j, pc, fails, nf);
        break;
    case OP_CHKINT:
        x_mov_rm(a, RAX, SLOT(in->a));
        check_int(j, RAX, fails, &nf);
        slow_exec(j, pc, fails, nf);
        break;
    case OP_BUILTIN:
        if ((in->b == B_NILP && in->x == 1) || (in->b == B_EQP && in->x == 2)) {
            x_mov_rm(a, RAX, SLOT(in->c));
            if (in->b == B_NILP) x_alu_rr(a, 0x85, RAX, RAX);
            else x_cmp_rm(a, RAX, SLOT(in->c + 1));
            x_mov_ri(a, RDX, V_TRUE);
            x_mov_ri(a, RAX, V_FALSE);
            x_cmov(a, CC_E, RAX, RDX);
            x_mov_mr(a, SLOT(in->a), RAX);
            break;
        }
        call_exec(j, pc);
        break;
    default: /* NEG: the interpreter's code */
        call_exec(j, pc);
        break;
    }
    (void)L;
    return 0;
}

int jit_compile(rtvm_program *p, vm_func *f) {
    jctx j = {0};
    j.p = p;
    j.f = f;
    j.slow = rtgc_slow_paths();
    j.a.record = p->opt.dump_jit;
    j.label = calloc((size_t)f->ninsns + 1, sizeof(size_t));
    j.fix = calloc((size_t)f->ninsns * 4 + 16, sizeof *j.fix);
    j.target = calloc((size_t)f->ninsns + 1, 1);
    j.kint = calloc((size_t)f->nregs + 1, 1);
    if (!j.label || !j.fix || !j.target || !j.kint) goto fail;
    for (int pc = 0; pc < f->ninsns; pc++) {
        int op = f->code[pc].op;
        if ((op == OP_JMP || op == OP_JF || op == OP_JT) && f->code[pc].j >= 0 && f->code[pc].j <= f->ninsns)
            j.target[f->code[pc].j] = 1;
    }
    prologue(&j);
    for (int pc = 0; pc < f->ninsns; pc++) {
        j.label[pc] = j.a.len;
        const insn *in = &f->code[pc];
        x_note(&j.a, "%d: %s a=%d b=%d c=%d j=%d", pc, vm_op_names[in->op], in->a, in->b, in->c, in->j);
        if (j.target[pc]) memset(j.kint, 0, (size_t)f->nregs);
        int covered = emit_op(&j, pc);
        track_ints(&j, in);
        for (int k = 1; k <= covered; k++) j.label[pc + k] = j.a.len;
        pc += covered;
    }
    emit_stubs(&j);
    j.label[f->ninsns] = j.a.len;
    for (size_t i = 0; i < j.nfix; i++) x_patch(&j.a, j.fix[i].at, j.label[j.fix[i].target]);
    if (j.a.failed || j.failed) goto fail;

    /* W^X: write into a read-write mapping, then make it read-execute */
    size_t page = 4096, size = (j.a.len + page - 1) & ~(page - 1);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) goto fail;
    memcpy(mem, j.a.code, j.a.len);
    if (mprotect(mem, size, PROT_READ | PROT_EXEC) != 0) {
        munmap(mem, size);
        goto fail;
    }
    jit_code *jc = malloc(sizeof *jc);
    if (!jc) {
        munmap(mem, size);
        goto fail;
    }
    jc->addr = mem;
    jc->size = size;
    jc->next = p->jit_chunks;
    p->jit_chunks = jc;
    if (p->opt.dump_jit) {
        fprintf(stderr, "== jit: %s (%zu bytes at %p, %d bytecodes)\n", f->name, j.a.len, mem, f->ninsns);
        for (size_t i = 0; i < j.a.nlines; i++) {
            xline *l = &j.a.lines[i];
            if (l->off == (uint32_t)-1) {
                fprintf(stderr, "  ; %s\n", l->text);
                continue;
            }
            size_t end = i + 1 < j.a.nlines ? j.a.lines[i + 1].off : j.a.len;
            for (size_t k = i + 1; end == (uint32_t)-1 && k < j.a.nlines; k++) end = j.a.lines[k].off;
            if (end == (uint32_t)-1 || end < l->off) end = j.a.len;
            char hex[48] = "";
            size_t hn = 0;
            for (size_t b = l->off; b < end && hn + 3 < sizeof hex - 3; b++)
                hn += (size_t)snprintf(hex + hn, sizeof hex - hn, "%02x", j.a.code[b]);
            if (end - l->off > 20) snprintf(hex + 40, sizeof hex - 40, "..");
            fprintf(stderr, "  %6x  %-42s %s\n", l->off, hex, l->text);
        }
    }
    __atomic_store_n(&f->jit_inner, (char *)mem + j.inner, __ATOMIC_RELEASE);
    __atomic_store_n(&f->jit_entry, mem, __ATOMIC_RELEASE);
    x_free(&j.a);
    free(j.label);
    free(j.fix);
    free(j.target);
    free(j.stubs);
    free(j.kint);
    return 0;
fail:
    x_free(&j.a);
    free(j.label);
    free(j.fix);
    free(j.target);
    free(j.stubs);
    free(j.kint);
    return -1;
}

void jit_free_all(rtvm_program *p) {
    jit_code *c = p->jit_chunks;
    while (c) {
        jit_code *n = c->next;
        munmap(c->addr, c->size);
        free(c);
        c = n;
    }
    p->jit_chunks = NULL;
}

/* argc goes as a full register: the prologue compares all 64 bits */
val jit_enter(rtvm_ctx *c, void *entry, val *fp, int argc) {
    val (*fn)(rtvm_ctx *, val *, int64_t) = (val(*)(rtvm_ctx *, val *, int64_t))entry;
    return fn(c, fp, argc);
}

#else /* no JIT on this architecture: the interpreter runs alone */
int jit_available(void) { return 0; }
int jit_compile(rtvm_program *p, vm_func *f) { return -1; }
void jit_free_all(rtvm_program *p) {}
val jit_enter(rtvm_ctx *c, void *entry, val *fp, int argc) { return V_NIL; }
#endif

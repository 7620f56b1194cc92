/* interp.c - the bytecode interpreter and the operations it shares with JIT code.
 *
 * Calls between interpreted functions do not recurse on the C stack: the
 * loop pushes a frame record and continues in the callee.  A call into
 * compiled code (or from compiled code into the interpreter) does recurse;
 * vm_check_cstack bounds that.
 *
 * Invariants: every VM value the loop works on lives in a stack slot of the
 * current frame (precise roots, [ctx.slots] in vm.h); C locals hold values
 * only between operations that cannot allocate or poll.  The current
 * instruction index is written to the frame record before it runs, so an
 * error or a collection always sees a correct location.  A backward jump
 * and a call poll for a safepoint.
 */
#include "vm.h"
#include <math.h>
#include <string.h>

static const char *op_symbol(int op) {
    switch (op) {
    case OP_ADD: return "+";
    case OP_SUB: return "-";
    case OP_MUL: return "*";
    case OP_DIV: return "/";
    case OP_MOD: return "%";
    case OP_LT: return "<";
    case OP_LE: return "<=";
    case OP_GT: return ">";
    case OP_GE: return ">=";
    case OP_EQ: return "=";
    case OP_NE: return "!=";
    case OP_NEG: return "-";
    default: return "?";
    }
}

/* Everything but the small-integer fast paths of the arithmetic and comparison ops. */
val vm_arith_slow(rtvm_ctx *c, int op, val a, val b) {
    if (op == OP_EQ) return MKBOOL(vm_equal(c, a, b));
    if (op == OP_NE) return MKBOOL(!vm_equal(c, a, b));
    if (op == OP_NEG) {
        if (IS_INT(a)) {
            if (INTV(a) == INT_MIN62) vm_error(c, "integer overflow in -");
            return MKINT(-INTV(a));
        }
        if (obj_kind(c->L, a) == K_FLOAT) return vm_float(c, -((vfloat *)a)->d);
        vm_error(c, "'-' expects a number, got %s", vm_type_name(c, a));
    }
    if (IS_INT(a) && IS_INT(b)) {
        int64_t x = INTV(a), y = INTV(b), r = 0;
        switch (op) {
        case OP_ADD: r = x + y; break;
        case OP_SUB: r = x - y; break;
        case OP_MUL:
            if (__builtin_mul_overflow(x, y, &r)) vm_error(c, "integer overflow in *");
            break;
        case OP_DIV:
        case OP_MOD:
            if (y == 0) vm_error(c, "division by zero");
            r = op == OP_DIV ? (x == INT_MIN62 && y == -1 ? INT_MAX62 + (int64_t)1 : x / y) : x % y;
            break;
        case OP_LT: return MKBOOL(x < y);
        case OP_LE: return MKBOOL(x <= y);
        case OP_GT: return MKBOOL(x > y);
        case OP_GE: return MKBOOL(x >= y);
        }
        if (r < INT_MIN62 || r > INT_MAX62) vm_error(c, "integer overflow in %s", op_symbol(op));
        return MKINT(r);
    }
    double x, y;
    if (vm_is_number(c, a, &x) && vm_is_number(c, b, &y)) {
        switch (op) {
        case OP_ADD: return vm_float(c, x + y);
        case OP_SUB: return vm_float(c, x - y);
        case OP_MUL: return vm_float(c, x * y);
        case OP_DIV: return vm_float(c, x / y);
        case OP_MOD: return vm_float(c, fmod(x, y));
        case OP_LT: return MKBOOL(x < y);
        case OP_LE: return MKBOOL(x <= y);
        case OP_GT: return MKBOOL(x > y);
        case OP_GE: return MKBOOL(x >= y);
        }
    }
    if (op >= OP_LT && op <= OP_GE && obj_kind(c->L, a) == K_STRING && obj_kind(c->L, b) == K_STRING) {
        uint32_t na = obj_count(a), nb = obj_count(b);
        int r = memcmp(((vstring *)a)->s, ((vstring *)b)->s, na < nb ? na : nb);
        if (r == 0) r = na < nb ? -1 : na > nb;
        switch (op) {
        case OP_LT: return MKBOOL(r < 0);
        case OP_LE: return MKBOOL(r <= 0);
        case OP_GT: return MKBOOL(r > 0);
        default: return MKBOOL(r >= 0);
        }
    }
    vm_error(c, "'%s' expects numbers, got %s and %s", op_symbol(op), vm_type_name(c, a), vm_type_name(c, b));
}

val vm_new_closure(rtvm_ctx *c, vm_func *f, val *fp) {
    vclosure *cl = vm_alloc(c, K_CLOSURE, (uint32_t)f->nups);
    cl->fn = f->index;
    vclosure *parent = (vclosure *)fp[-1];
    for (int i = 0; i < f->nups; i++) {
        uint16_t s = f->up_src[i];
        val v = (s & 0x8000) ? vm_load(c, &parent->up[s & 0x7fff]) : fp[s];
        vm_store(c, cl, &cl->up[i], v);
    }
    return (val)cl;
}

val vm_new_record(rtvm_ctx *c, int type, val *args) {
    vm_rtype *t = &c->p->rtypes[type];
    vrecord *r = vm_alloc(c, K_RECORD, (uint32_t)t->nfields);
    r->type = type;
    for (int i = 0; i < t->nfields; i++) vm_store(c, r, &r->f[i], args[i]);
    return (val)r;
}

static int field_index(rtvm_ctx *c, val obj, int name) {
    if (obj_kind(c->L, obj) != K_RECORD)
        vm_error(c, "cannot access field '%s' of %s", c->p->fnames[name], vm_type_name(c, obj));
    vrecord *r = (vrecord *)obj;
    int i = c->p->fidx[r->type * c->p->nfnames + name];
    if (i < 0) vm_error(c, "record %s has no field '%s'", c->p->rtypes[r->type].name, c->p->fnames[name]);
    return i;
}

val vm_getfield(rtvm_ctx *c, val obj, int name) {
    int i = field_index(c, obj, name);
    return vm_load(c, &((vrecord *)obj)->f[i]);
}

void vm_setfield(rtvm_ctx *c, val obj, int name, val v) {
    int i = field_index(c, obj, name);
    vm_store(c, (void *)obj, &((vrecord *)obj)->f[i], v);
}

static int64_t vector_index(rtvm_ctx *c, vvector *v, val key) {
    if (!IS_INT(key)) vm_error(c, "vector index must be an int, got %s", vm_type_name(c, key));
    int64_t i = INTV(key);
    if (i < 0 || i >= v->len) vm_error(c, "index %lld out of range for a vector of length %lld", (long long)i, (long long)v->len);
    return i;
}

val vm_get(rtvm_ctx *c, val coll, val key) {
    switch (obj_kind(c->L, coll)) {
    case K_VECTOR: {
        vvector *v = (vvector *)coll;
        int64_t i = vector_index(c, v, key);
        vitems *it = (vitems *)vm_load(c, &v->items);
        return vm_load(c, &it->e[i]);
    }
    case K_TABLE: {
        int found;
        return vm_table_get(c, coll, key, &found);
    }
    case K_WTABLE: {
        int found;
        return vm_wtable_get(c, coll, key, &found);
    }
    default: vm_error(c, "get expects a vector or a table, got %s", vm_type_name(c, coll));
    }
}

void vm_put(rtvm_ctx *c, val *coll_slot, val *key_slot, val *v_slot) {
    switch (obj_kind(c->L, *coll_slot)) {
    case K_VECTOR: {
        vvector *v = (vvector *)*coll_slot;
        int64_t i = vector_index(c, v, *key_slot);
        vitems *it = (vitems *)vm_load(c, &v->items);
        vm_store(c, it, &it->e[i], *v_slot);
        return;
    }
    case K_TABLE: vm_table_put(c, coll_slot, key_slot, v_slot); return;
    case K_WTABLE: vm_wtable_put(c, coll_slot, key_slot, v_slot); return;
    default: vm_error(c, "put! expects a vector or a table, got %s", vm_type_name(c, *coll_slot));
    }
}

static val vm_len(rtvm_ctx *c, val v) {
    switch (obj_kind(c->L, v)) {
    case K_VECTOR: return MKINT(((vvector *)v)->len);
    case K_STRING: return MKINT(obj_count(v));
    case K_TABLE: return MKINT(((vtable *)v)->count);
    case K_WTABLE: return MKINT(vm_wtable_len(c, v));
    default: vm_error(c, "len expects a vector, string or table, got %s", vm_type_name(c, v));
    }
}

/* Push the frame of f at fp (arguments already in place).  The caller's
 * frame record holds the location of the call, for the messages. */
static vm_frame *push_frame(rtvm_ctx *c, vm_func *f, val *fp, int argc) {
    if (argc != f->nparams)
        vm_error(c, "%s expects %d argument%s, got %d", f->name, f->nparams, f->nparams == 1 ? "" : "s", argc);
    if (c->depth >= c->max_depth || fp + f->nregs > c->stack_end) vm_error(c, "stack overflow");
    for (int i = f->nparams; i < f->nregs; i++) fp[i] = V_NIL;
    vm_frame *fr = &c->frames[c->depth];
    val *top = fp + f->nregs;
    val *prev = c->frames[c->depth - 1].top_max; /* frames[-1].top_max is the stack base */
    fr->fn = f;
    fr->fp = fp;
    fr->top_max = top > prev ? top : prev;
    fr->pc = 0;
    fr->native = 0;
    c->depth++;
    return fr;
}

static void check_cstack(rtvm_ctx *c) {
    if ((char *)__builtin_frame_address(0) < c->cstack_limit) vm_error(c, "stack overflow");
}

static vm_func *closure_func(rtvm_ctx *c, val fv) {
    if (obj_kind(c->L, fv) != K_CLOSURE) vm_error(c, "cannot call %s", vm_type_name(c, fv));
    return c->p->funcs[((vclosure *)fv)->fn];
}

/* Count a call or back-edge of f; compile it when it is hot (or at once with --jit=on). */
static inline void note_hot(rtvm_ctx *c, vm_func *f, uint32_t weight) {
    if (c->p->opt.jit == RTVM_JIT_OFF || __atomic_load_n(&f->jit_failed, __ATOMIC_RELAXED)) return;
    uint32_t h = c->hot[f->index] += weight;
    if (c->p->opt.jit == RTVM_JIT_ON || h >= 1000) vm_maybe_jit(c, f);
}

/* Call the closure in base[0] with base[1..argc]; base is at or above every
 * live slot.  Recurses on the C stack (bounded). */
val vm_call_value(rtvm_ctx *c, val *base, int argc) {
    check_cstack(c);
    vm_func *f = closure_func(c, base[0]);
    note_hot(c, f, 1);
    void *entry = __atomic_load_n(&f->jit_entry, __ATOMIC_ACQUIRE);
    if (entry) return jit_enter(c, entry, base + 1, argc);
    vm_frame *fr = push_frame(c, f, base + 1, argc);
    fr->native = 1;
    return vm_interp(c, c->depth - 1);
}

/* JIT code calling a function that is not compiled: closure at fp[-1]. */
val vm_call_from_jit(rtvm_ctx *c, val *fp, int argc) { return vm_call_value(c, fp - 1, argc); }

/* One non-control instruction with its full semantics: the interpreter's
 * rarer ops and every slow path of JIT code (which calls it with the frame
 * record's pc already set, and the operands still in their slots). */
void vm_exec_op(rtvm_ctx *c, val *fp, const insn *in) {
    switch (in->op) {
    case OP_MOV: fp[in->a] = fp[in->b]; return;
    case OP_KINT: fp[in->a] = MKINT(in->j); return;
    case OP_KCONST: fp[in->a] = vm_load(c, &c->consts[in->b]); return;
    case OP_KNIL: fp[in->a] = V_NIL; return;
    case OP_KTRUE: fp[in->a] = V_TRUE; return;
    case OP_KFALSE: fp[in->a] = V_FALSE; return;
    case OP_GGET: {
        val v = vm_load(c, &c->globals[in->b]);
        if (v == V_UNDEF) vm_error(c, "undefined name '%s'", c->p->globals[in->b]);
        fp[in->a] = v;
        return;
    }
    case OP_GSET: vm_store(c, NULL, &c->globals[in->b], fp[in->a]); return;
    case OP_UGET: fp[in->a] = vm_load(c, &((vclosure *)fp[-1])->up[in->b]); return;
    case OP_UGETBOX: {
        vbox *b = (vbox *)vm_load(c, &((vclosure *)fp[-1])->up[in->b]);
        fp[in->a] = vm_load(c, &b->v);
        return;
    }
    case OP_USETBOX: {
        vbox *b = (vbox *)vm_load(c, &((vclosure *)fp[-1])->up[in->b]);
        vm_store(c, b, &b->v, fp[in->a]);
        return;
    }
    case OP_BOX: {
        vbox *b = vm_alloc(c, K_BOX, 0);
        vm_store(c, b, &b->v, fp[in->a]);
        fp[in->a] = (val)b;
        return;
    }
    case OP_BOXGET: fp[in->a] = vm_load(c, &((vbox *)fp[in->b])->v); return;
    case OP_BOXSET: vm_store(c, (void *)fp[in->a], &((vbox *)fp[in->a])->v, fp[in->b]); return;
    case OP_CLOSURE: fp[in->a] = vm_new_closure(c, c->p->funcs[in->b], fp); return;
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MOD:
    case OP_LT: case OP_LE: case OP_GT: case OP_GE: case OP_EQ: case OP_NE:
        fp[in->a] = vm_arith_slow(c, in->op, fp[in->b], fp[in->c]);
        return;
    case OP_NOT: fp[in->a] = MKBOOL(!TRUTHY(fp[in->b])); return;
    case OP_NEG: fp[in->a] = vm_arith_slow(c, OP_NEG, fp[in->b], 0); return;
    case OP_NEWREC: fp[in->a] = vm_new_record(c, in->b, fp + in->c); return;
    case OP_GETF: fp[in->a] = vm_getfield(c, fp[in->b], in->c); return;
    case OP_SETF: vm_setfield(c, fp[in->a], in->b, fp[in->c]); return;
    case OP_GET: fp[in->a] = vm_get(c, fp[in->b], fp[in->c]); return;
    case OP_PUT: vm_put(c, &fp[in->a], &fp[in->b], &fp[in->c]); return;
    case OP_LEN: fp[in->a] = vm_len(c, fp[in->b]); return;
    case OP_BUILTIN: {
        val r = vm_builtin(c, fp, in->b, in->x, fp + in->c);
        fp[in->a] = r;
        return;
    }
    case OP_CHKINT:
        if (!IS_INT(fp[in->a])) vm_error(c, "for loop bounds must be ints, got %s", vm_type_name(c, fp[in->a]));
        return;
    default: vm_error(c, "internal: bad opcode %d", in->op);
    }
}

void vm_exec_op_counted(rtvm_ctx *c, val *fp, const insn *in) {
    c->jit_slow_ops++;
    vm_exec_op(c, fp, in);
}

val vm_interp(rtvm_ctx *c, int entry) {
    rtgc_thread *t = c->t;
    vm_frame *fr = &c->frames[c->depth - 1];
    vm_func *f = fr->fn;
    const insn *code = f->code;
    val *fp = fr->fp;
    int pc = fr->pc;
    for (;;) {
        const insn *in = &code[pc];
        fr->pc = pc;
        pc++;
        switch (in->op) {
        case OP_MOV: fp[in->a] = fp[in->b]; break;
        case OP_KINT: fp[in->a] = MKINT(in->j); break;
        case OP_KNIL: fp[in->a] = V_NIL; break;
        case OP_KTRUE: fp[in->a] = V_TRUE; break;
        case OP_KFALSE: fp[in->a] = V_FALSE; break;
        case OP_GGET: {
            val v = vm_load(c, &c->globals[in->b]);
            if (v == V_UNDEF) vm_error(c, "undefined name '%s'", c->p->globals[in->b]);
            fp[in->a] = v;
            break;
        }
        case OP_ADD: {
            val a = fp[in->b], b = fp[in->c];
            int64_t r;
            if (IS_INT(a) && IS_INT(b) && !__builtin_add_overflow((int64_t)a, (int64_t)b - 1, &r)) fp[in->a] = (val)r;
            else fp[in->a] = vm_arith_slow(c, OP_ADD, a, b);
            break;
        }
        case OP_SUB: {
            val a = fp[in->b], b = fp[in->c];
            int64_t r;
            if (IS_INT(a) && IS_INT(b) && !__builtin_sub_overflow((int64_t)a, (int64_t)b - 1, &r)) fp[in->a] = (val)r;
            else fp[in->a] = vm_arith_slow(c, OP_SUB, a, b);
            break;
        }
        case OP_MUL: {
            val a = fp[in->b], b = fp[in->c];
            int64_t r;
            if (IS_INT(a) && IS_INT(b) && !__builtin_mul_overflow(INTV(a), (int64_t)b - 1, &r)) fp[in->a] = (val)(r + 1);
            else fp[in->a] = vm_arith_slow(c, OP_MUL, a, b);
            break;
        }
#define CMP(OPC, rel)                                                          \
    case OPC: {                                                                \
        val a = fp[in->b], b = fp[in->c];                                      \
        if (IS_INT(a) && IS_INT(b)) fp[in->a] = MKBOOL((int64_t)a rel (int64_t)b); \
        else fp[in->a] = vm_arith_slow(c, OPC, a, b);                          \
        break;                                                                 \
    }
            CMP(OP_LT, <)
            CMP(OP_LE, <=)
            CMP(OP_GT, >)
            CMP(OP_GE, >=)
#undef CMP
        case OP_EQ: {
            val a = fp[in->b], b = fp[in->c];
            fp[in->a] = a == b ? V_TRUE : (IS_INT(a) && IS_INT(b)) ? V_FALSE : vm_arith_slow(c, OP_EQ, a, b);
            break;
        }
        case OP_NE: {
            val a = fp[in->b], b = fp[in->c];
            fp[in->a] = a == b ? V_FALSE : (IS_INT(a) && IS_INT(b)) ? V_TRUE : vm_arith_slow(c, OP_NE, a, b);
            break;
        }
        case OP_NOT: fp[in->a] = MKBOOL(!TRUTHY(fp[in->b])); break;
        case OP_JMP:
            if (in->j < pc) {
                if (RTGC_UNLIKELY(c->fuel) && --c->fuel == 0) vm_out_of_fuel(c);
                rtgc_poll(t);
                note_hot(c, f, 1);
            }
            pc = in->j;
            break;
        case OP_JF:
            if (!TRUTHY(fp[in->a])) pc = in->j;
            break;
        case OP_JT:
            if (TRUTHY(fp[in->a])) pc = in->j;
            break;
        case OP_CALL: {
            if (RTGC_UNLIKELY(c->fuel) && --c->fuel == 0) vm_out_of_fuel(c);
            rtgc_poll(t);
            vm_func *g = closure_func(c, fp[in->a]);
            note_hot(c, g, 1);
            void *gentry = __atomic_load_n(&g->jit_entry, __ATOMIC_ACQUIRE);
            if (gentry) {
                check_cstack(c);
                val r = jit_enter(c, gentry, fp + in->a + 1, in->b);
                fp[in->a] = r;
                break;
            }
            fr = push_frame(c, g, fp + in->a + 1, in->b);
            f = g;
            code = f->code;
            fp = fr->fp;
            pc = 0;
            break;
        }
        case OP_RET: {
            val v = fp[in->a];
            c->depth--;
            if (RTGC_UNLIKELY(c->frames[c->depth - 1].fp - 1 < c->scan_wm)) vm_return_barrier(c);
            if (c->depth == entry) return v;
            fr = &c->frames[c->depth - 1];
            f = fr->fn;
            code = f->code;
            fp = fr->fp;
            pc = fr->pc;
            fp[code[pc].a] = v;
            pc++;
            break;
        }
        case OP_GETF: fp[in->a] = vm_getfield(c, fp[in->b], in->c); break;
        case OP_GET: {
            val v = fp[in->b], k = fp[in->c];
            if (obj_kind(c->L, v) == K_VECTOR && IS_INT(k) && (uint64_t)INTV(k) < (uint64_t)((vvector *)v)->len) {
                vitems *it = (vitems *)vm_load(c, &((vvector *)v)->items);
                fp[in->a] = vm_load(c, &it->e[INTV(k)]);
            } else {
                fp[in->a] = vm_get(c, v, k);
            }
            break;
        }
        default: vm_exec_op(c, fp, in); break;
        }
    }
}

val vm_len_value(rtvm_ctx *c, val v) { return vm_len(c, v); }

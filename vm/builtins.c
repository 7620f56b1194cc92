/* builtins.c - the builtin functions (OP_BUILTIN): printing, strings,
 * vectors, tables, numbers, clock, errors, apply; the weak ones call weak.c.
 *
 * Invariant: arguments arrive in stack slots of the caller's frame
 * (args[0..argc)), which stay rooted while a builtin allocates; a builtin
 * that allocates twice keeps the first result in a rooted slot.
 */
#include "vm.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

const vm_builtin_info vm_builtins[B_COUNT] = {
#define X(id, name, lo, hi) {name, lo, hi},
    BUILTINS(X)
#undef X
};

static vstring *want_string(rtvm_ctx *c, val v, const char *who) {
    if (obj_kind(c->L, v) != K_STRING) vm_error(c, "%s expects a string, got %s", who, vm_type_name(c, v));
    return (vstring *)v;
}
static int64_t want_int(rtvm_ctx *c, val v, const char *who) {
    if (!IS_INT(v)) vm_error(c, "%s expects an int, got %s", who, vm_type_name(c, v));
    return INTV(v);
}
static double want_num(rtvm_ctx *c, val v, const char *who) {
    double d;
    if (!vm_is_number(c, v, &d)) vm_error(c, "%s expects a number, got %s", who, vm_type_name(c, v));
    return d;
}
/* A table or a weak-table: its kind. */
static int want_table(rtvm_ctx *c, val v, const char *who) {
    int k = obj_kind(c->L, v);
    if (k != K_TABLE && k != K_WTABLE) vm_error(c, "%s expects a table, got %s", who, vm_type_name(c, v));
    return k;
}
static vvector *want_vector(rtvm_ctx *c, val v, const char *who) {
    if (obj_kind(c->L, v) != K_VECTOR) vm_error(c, "%s expects a vector, got %s", who, vm_type_name(c, v));
    return (vvector *)v;
}

/* print, str and join: display forms concatenated; join takes them from a vector. */
static val display_all(rtvm_ctx *c, int argc, val *args, int spaces, int to_stdout) {
    sbuf b = {0};
    if (spaces == 2) {
        vvector *v = want_vector(c, args[0], "join");
        if (argc > 1) want_string(c, args[1], "join");
        vitems *it = (vitems *)vm_load(c, &v->items);
        for (int64_t i = 0; i < v->len; i++) {
            if (i && argc > 1) vm_display(c, &b, args[1], 0);
            vm_display(c, &b, vm_load(c, &it->e[i]), 0);
        }
    }
    for (int i = 0; spaces < 2 && i < argc; i++) {
        if (spaces && i) sb_put(&b, " ", 1);
        vm_display(c, &b, args[i], 0);
    }
    if (to_stdout) {
        sb_put(&b, "\n", 1);
        if (c->capture) {
            sb_put(c->out, b.s, b.len);
        } else {
            /* writing may block (a pipe): the collector must not wait for us meanwhile */
            rtgc_enter_blocking(c->t);
            fwrite(b.s, 1, b.len, stdout);
            rtgc_leave_blocking(c->t);
        }
        free(b.s);
        return V_NIL;
    }
    /* build the string without leaking the buffer if allocation fails */
    char *s = b.s;
    size_t n = b.len;
    if (n > 0x7fffffff) {
        free(s);
        vm_error(c, "string too long");
    }
    vstring *o = rtgc_alloc_array_uninit(c->t, c->L->id[K_STRING], (uint32_t)n); /* filled below */
    if (!o) {
        free(s);
        vm_error(c, "out of memory");
    }
    if (n) memcpy(o->s, s, n);
    free(s);
    return (val)o;
}

val vm_builtin(rtvm_ctx *c, val *fp, int id, int argc, val *args) {
    switch (id) {
    case B_PRINT: return display_all(c, argc, args, 1, 1);
    case B_STR: return display_all(c, argc, args, 0, 0);
    case B_JOIN: return display_all(c, argc, args, 2, 0);
    case B_VECTOR: {
        val v = vm_vector(c, 0, V_NIL);
        RTGC_FRAME(c->t, r, 1);
        r[0] = (void *)v;
        for (int i = 0; i < argc; i++) vm_vector_push(c, (val *)&r[0], &args[i]);
        v = (val)r[0];
        RTGC_FRAME_POP(c->t, r);
        return v;
    }
    case B_MAKE_VECTOR: return vm_vector(c, want_int(c, args[0], "make-vector"), argc > 1 ? args[1] : V_NIL);
    case B_TABLE: return vm_table(c);
    case B_HAS: {
        int found;
        if (want_table(c, args[0], "has?") == K_WTABLE) vm_wtable_get(c, args[0], args[1], &found);
        else vm_table_get(c, args[0], args[1], &found);
        return MKBOOL(found);
    }
    case B_DEL:
        if (want_table(c, args[0], "del!") == K_WTABLE) return MKBOOL(vm_wtable_del(c, args[0], args[1]));
        return MKBOOL(vm_table_del(c, args[0], args[1]));
    case B_KEYS: {
        if (want_table(c, args[0], "keys") == K_WTABLE) return vm_wtable_keys(c, &args[0]);
        val v = vm_vector(c, 0, V_NIL);
        RTGC_FRAME(c->t, r, 2);
        r[0] = (void *)v;
        vtable *t = (vtable *)args[0];
        vitems *keys = (vitems *)vm_load(c, &t->keys);
        uint32_t cap = obj_count((val)keys);
        for (uint32_t i = 0; i < cap; i++) {
            keys = (vitems *)vm_load(c, &t->keys);
            val k = vm_load(c, &keys->e[i]);
            if (k == V_NIL || k == V_TOMB) continue;
            r[1] = (void *)k;
            vm_vector_push(c, (val *)&r[0], (val *)&r[1]);
        }
        v = (val)r[0];
        RTGC_FRAME_POP(c->t, r);
        return v;
    }
    case B_PUSH:
        want_vector(c, args[0], "push!");
        vm_vector_push(c, &args[0], &args[1]);
        return args[0];
    case B_POP: {
        vvector *v = want_vector(c, args[0], "pop!");
        if (v->len == 0) vm_error(c, "pop! from an empty vector");
        vitems *it = (vitems *)vm_load(c, &v->items);
        val x = vm_load(c, &it->e[v->len - 1]);
        vm_store(c, it, &it->e[v->len - 1], V_NIL);
        v->len--;
        return x;
    }
    case B_SUBSTR: {
        vstring *s = want_string(c, args[0], "substr");
        int64_t i = want_int(c, args[1], "substr"), j = want_int(c, args[2], "substr");
        int64_t n = obj_count((val)s);
        if (i < 0 || j < i || j > n)
            vm_error(c, "substr range %lld..%lld out of range for a string of length %lld", (long long)i, (long long)j,
                     (long long)n);
        vstring *o = vm_alloc(c, K_STRING, (uint32_t)(j - i));
        memcpy(o->s, ((vstring *)args[0])->s + i, (size_t)(j - i));
        return (val)o;
    }
    case B_REPEAT: {
        vstring *s = want_string(c, args[0], "string-repeat");
        int64_t k = want_int(c, args[1], "string-repeat");
        uint64_t n = obj_count((val)s);
        if (k < 0 || (n && (uint64_t)k > (uint64_t)0x7fffffff / n)) vm_error(c, "string-repeat count %lld out of range", (long long)k);
        vstring *o = vm_alloc(c, K_STRING, (uint32_t)(n * (uint64_t)k));
        s = (vstring *)args[0];
        for (int64_t i = 0; i < k; i++) memcpy(o->s + (uint64_t)i * n, s->s, n);
        return (val)o;
    }
    case B_CHAR_CODE: {
        vstring *s = want_string(c, args[0], "char-code");
        int64_t i = want_int(c, args[1], "char-code");
        if (i < 0 || i >= (int64_t)obj_count((val)s))
            vm_error(c, "index %lld out of range for a string of length %u", (long long)i, obj_count((val)s));
        return MKINT((unsigned char)s->s[i]);
    }
    case B_CHAR: {
        int64_t k = want_int(c, args[0], "char");
        if (k < 0 || k > 255) vm_error(c, "char code %lld out of range 0..255", (long long)k);
        char ch = (char)k;
        return vm_string(c, &ch, 1);
    }
    case B_CLOCK: return c->capture ? MKINT(0) : MKINT((int64_t)(rtgc_now_ns() & (uint64_t)INT_MAX62));
    case B_FLOAT: return vm_float(c, want_num(c, args[0], "float"));
    case B_INT: {
        if (IS_INT(args[0])) return args[0];
        double d = want_num(c, args[0], "int");
        if (!(d >= (double)INT_MIN62 && d <= (double)INT_MAX62)) vm_error(c, "int: %g out of range", d);
        return MKINT((int64_t)d);
    }
    case B_SQRT: return vm_float(c, sqrt(want_num(c, args[0], "sqrt")));
    case B_ABS:
        if (IS_INT(args[0])) {
            if (INTV(args[0]) == INT_MIN62) vm_error(c, "integer overflow in abs");
            return MKINT(llabs(INTV(args[0])));
        }
        return vm_float(c, fabs(want_num(c, args[0], "abs")));
    case B_MIN:
    case B_MAX: {
        double x = want_num(c, args[0], vm_builtins[id].name), y = want_num(c, args[1], vm_builtins[id].name);
        int first = id == B_MIN ? x <= y : x >= y;
        return first ? args[0] : args[1];
    }
    case B_ERROR: {
        sbuf b = {0};
        vm_display(c, &b, args[0], 0);
        char msg[400];
        snprintf(msg, sizeof msg, "%s", b.s ? b.s : "");
        free(b.s);
        vm_error(c, "%s", msg);
    }
    case B_TYPE: {
        const char *s = vm_type_name(c, args[0]);
        return vm_string(c, s, strlen(s));
    }
    case B_EQP: return MKBOOL(args[0] == args[1]);
    case B_NILP: return MKBOOL(args[0] == V_NIL);
    case B_GETD: {
        int k = obj_kind(c->L, args[0]);
        if (k == K_TABLE || k == K_WTABLE) {
            int found;
            val v = k == K_TABLE ? vm_table_get(c, args[0], args[1], &found) : vm_wtable_get(c, args[0], args[1], &found);
            return found ? v : args[2];
        }
        if (k == K_VECTOR) {
            vvector *v = (vvector *)args[0];
            if (!IS_INT(args[1]) || INTV(args[1]) < 0 || INTV(args[1]) >= v->len) return args[2];
            return vm_get(c, args[0], args[1]);
        }
        vm_error(c, "get-or expects a vector or a table, got %s", vm_type_name(c, args[0]));
    }
    case B_GC_STEP: {
        /* step mode from the program itself: up to `us` microseconds of
         * collector work (rtgc_step); true while a cycle needs more */
        int64_t us = want_int(c, args[0], "gc-step");
        if (us < 0 || us > 1000000) vm_error(c, "gc-step: %lld us out of range 0..1000000", (long long)us);
        return MKBOOL(rtgc_step(c->t, (uint64_t)us * 1000) != 0);
    }
    case B_WTABLE: return vm_wtable(c);
    case B_WEAKREF: return vm_weakref(c, args[0]);
    case B_DEREF: return vm_deref(c, args[0]);
    case B_FINALIZE:
        vm_finalize(c, &args[0], &args[1]);
        return V_NIL;
    case B_RUN_FIN: return MKINT(vm_run_finalizers(c));
    case B_COLLECT:
        vm_collect(c);
        return V_NIL;
    case B_APPLY: {
        vvector *v = want_vector(c, args[1], "apply");
        if (v->len > 255) vm_error(c, "apply: too many arguments (%lld)", (long long)v->len);
        val *base = c->frames[c->depth - 1].top_max;
        if (base + 1 + v->len >= c->stack_end) vm_error(c, "stack overflow");
        vitems *it = (vitems *)vm_load(c, &v->items);
        base[0] = args[0];
        for (int64_t i = 0; i < v->len; i++) base[1 + i] = vm_load(c, &it->e[i]);
        return vm_call_value(c, base, (int)v->len);
    }
    }
    vm_error(c, "internal: bad builtin %d", id);
}

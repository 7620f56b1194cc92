/* objects.c - rtvm's objects in the rtgc heap: layouts, allocation, strings,
 * vectors, hash tables, equality and display.
 *
 * Invariants: every reference field is read with rtgc_load (vm_load) and
 * written with rtgc_store (vm_store), initialising stores included.  A
 * helper that allocates more than once keeps what it allocated first in a
 * shadow-stack frame (RTGC_FRAME) or in a caller's VM stack slot, never
 * only in a C local, because any allocation may collect.
 * Allocation failure (rtgc returns NULL) is the runtime error "out of memory".
 */
#include "vm.h"
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- layouts, once per heap ---- */
static pthread_mutex_t lay_lock = PTHREAD_MUTEX_INITIALIZER;
static vm_layouts *lay_list[64];
static int lay_count;

const vm_layouts *vm_layouts_for(rtgc_heap *heap, char *err, size_t errlen) {
    pthread_mutex_lock(&lay_lock);
    for (int i = 0; i < lay_count; i++)
        if (lay_list[i]->heap == heap) {
            /* a heap at the address of a destroyed one does not have our
             * layouts: check them (an unregistered id has size 0) */
            vm_layouts *L = lay_list[i];
            int valid = 1;
            for (int k = 1; k < K_COUNT; k++)
                if (rtgc_layout_object_size(heap, L->id[k], 0) != L->size0[k]) valid = 0;
            if (valid) {
                pthread_mutex_unlock(&lay_lock);
                return L;
            }
            free(L);
            lay_list[i] = lay_list[--lay_count];
            break;
        }
    vm_layouts *L = calloc(1, sizeof *L);
    if (!L) goto fail;
    L->heap = heap;
    static const uint32_t ref8[] = {8}, ref8_16[] = {8, 16};
    rtgc_layout defs[K_COUNT] = {
        [K_FLOAT] = {.name = "float", .kind = RTGC_LAYOUT_RECORD, .size = sizeof(vfloat)},
        [K_STRING] = {.name = "string", .kind = RTGC_LAYOUT_BYTES, .size = 8, .elem_size = 1},
        [K_VECTOR] = {.name = "vector", .kind = RTGC_LAYOUT_RECORD, .size = sizeof(vvector), .ref_offsets = ref8, .ref_count = 1},
        [K_ITEMS] = {.name = "items", .kind = RTGC_LAYOUT_REF_ARRAY, .size = 8, .elem_size = 8},
        [K_RECORD] = {.name = "record", .kind = RTGC_LAYOUT_REF_ARRAY, .size = 16, .elem_size = 8},
        [K_CLOSURE] = {.name = "closure", .kind = RTGC_LAYOUT_REF_ARRAY, .size = 16, .elem_size = 8},
        [K_BOX] = {.name = "box", .kind = RTGC_LAYOUT_RECORD, .size = sizeof(vbox), .ref_offsets = ref8, .ref_count = 1},
        [K_TABLE] = {.name = "table", .kind = RTGC_LAYOUT_RECORD, .size = sizeof(vtable), .ref_offsets = ref8_16, .ref_count = 2},
        [K_WTABLE] = {.name = "weak-table", .kind = RTGC_LAYOUT_RECORD, .size = sizeof(vwtable), .ref_offsets = ref8, .ref_count = 1},
    };
    for (int k = 1; k < K_COUNT; k++) {
        rtgc_error e;
        if (rtgc_layout_register(heap, &defs[k], &L->id[k], &e) != RTGC_OK) {
            snprintf(err, errlen, "registering layout %s: %s", defs[k].name, e.message);
            free(L);
            pthread_mutex_unlock(&lay_lock);
            return NULL;
        }
        L->kind_of[L->id[k]] = (uint8_t)k;
        L->size0[k] = rtgc_layout_object_size(heap, L->id[k], 0);
    }
    if (lay_count == 64) { /* forget the oldest heap: a process rarely makes 64 heaps */
        free(lay_list[0]);
        memmove(lay_list, lay_list + 1, sizeof lay_list[0] * 63);
        lay_count--;
    }
    lay_list[lay_count++] = L;
    pthread_mutex_unlock(&lay_lock);
    return L;
fail:
    snprintf(err, errlen, "out of memory");
    pthread_mutex_unlock(&lay_lock);
    return NULL;
}

/* ---- allocation ---- */
/* Strings and floats hold no references, and every caller writes all their
 * bytes (a string's `count`, a float's value) at once: they are allocated
 * uninitialised (rtgc_alloc_array_uninit), the rest zeroed. */
void *vm_alloc(rtvm_ctx *c, int kind, uint32_t count) {
    void *o = kind == K_STRING || kind == K_FLOAT ? rtgc_alloc_array_uninit(c->t, c->L->id[kind], count)
              : count || kind == K_ITEMS || kind == K_RECORD || kind == K_CLOSURE
                  ? rtgc_alloc_array(c->t, c->L->id[kind], count)
                  : rtgc_alloc(c->t, c->L->id[kind]);
    if (!o) vm_error(c, "out of memory");
    return o;
}

val vm_load(rtvm_ctx *c, const val *slot) { return (val)rtgc_load(c->t, (void *const *)slot); }
void vm_store(rtvm_ctx *c, void *obj, val *slot, val v) { rtgc_store(c->t, obj, (void **)slot, (void *)v); }

val vm_float(rtvm_ctx *c, double d) {
    vfloat *f = vm_alloc(c, K_FLOAT, 0);
    f->d = d;
    return (val)f;
}

val vm_string(rtvm_ctx *c, const char *s, size_t len) {
    if (len > 0xffffffffu) vm_error(c, "string too long");
    vstring *o = vm_alloc(c, K_STRING, (uint32_t)len);
    if (len) memcpy(o->s, s, len);
    return (val)o;
}

val vm_vector(rtvm_ctx *c, int64_t len, val fill) {
    if (len < 0 || len > 100000000) vm_error(c, "bad vector length %lld", (long long)len);
    RTGC_FRAME(c->t, r, 2);
    r[1] = (void *)fill;
    int64_t cap = len < 4 ? 4 : len;
    r[0] = vm_alloc(c, K_ITEMS, (uint32_t)cap);
    vitems *it = r[0];
    for (int64_t i = 0; i < len; i++) vm_store(c, it, &it->e[i], (val)r[1]);
    vvector *v = vm_alloc(c, K_VECTOR, 0);
    vm_store(c, v, &v->items, (val)r[0]);
    v->len = len;
    RTGC_FRAME_POP(c->t, r);
    return (val)v;
}

/* Append *x_slot to the vector in *vec_slot (both are rooted slots). */
void vm_vector_push(rtvm_ctx *c, val *vec_slot, val *x_slot) {
    vvector *v = (vvector *)*vec_slot;
    vitems *it = (vitems *)vm_load(c, &v->items);
    uint32_t cap = obj_count((val)it);
    if ((uint64_t)v->len >= cap) {
        if (cap >= 0x7fffffffu) vm_error(c, "vector too long");
        RTGC_FRAME(c->t, r, 1);
        r[0] = it;
        vitems *n = vm_alloc(c, K_ITEMS, cap * 2);
        it = r[0];
        v = (vvector *)*vec_slot;
        for (int64_t i = 0; i < v->len; i++) vm_store(c, n, &n->e[i], vm_load(c, &it->e[i]));
        vm_store(c, v, &v->items, (val)n);
        it = n;
        RTGC_FRAME_POP(c->t, r);
    }
    vm_store(c, it, &it->e[v->len], *x_slot);
    v->len++;
}

/* ---- equality, hashing ---- */
int vm_is_number(rtvm_ctx *c, val v, double *d) {
    if (IS_INT(v)) {
        *d = (double)INTV(v);
        return 1;
    }
    if (obj_kind(c->L, v) == K_FLOAT) {
        *d = ((vfloat *)v)->d;
        return 1;
    }
    return 0;
}

int vm_equal(rtvm_ctx *c, val a, val b) {
    if (a == b) return 1;
    int ka = obj_kind(c->L, a), kb = obj_kind(c->L, b);
    double x, y;
    if ((ka == K_FLOAT || kb == K_FLOAT) && vm_is_number(c, a, &x) && vm_is_number(c, b, &y)) return x == y;
    if (ka == K_STRING && kb == K_STRING) {
        uint32_t n = obj_count(a);
        return n == obj_count(b) && memcmp(((vstring *)a)->s, ((vstring *)b)->s, n) == 0;
    }
    return 0;
}

/* Table keys: equal when the same int, the same string contents, the same
 * float value, or the same object. */
static int key_equal(rtvm_ctx *c, val a, val b) {
    if (a == b) return 1;
    int ka = obj_kind(c->L, a), kb = obj_kind(c->L, b);
    if (ka != kb) return 0;
    if (ka == K_STRING) return vm_equal(c, a, b);
    if (ka == K_FLOAT) return ((vfloat *)a)->d == ((vfloat *)b)->d;
    return 0;
}

uint64_t vm_mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint64_t key_hash(rtvm_ctx *c, val k) {
    int kind = obj_kind(c->L, k);
    if (kind == K_STRING) {
        uint64_t h = 1469598103934665603ull;
        uint32_t n = obj_count(k);
        const unsigned char *s = (const unsigned char *)((vstring *)k)->s;
        for (uint32_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
        return vm_mix(h);
    }
    if (kind == K_FLOAT) {
        double d = ((vfloat *)k)->d;
        if (d == 0) d = 0; /* -0.0 == 0.0 */
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return vm_mix(bits ^ 0x5555);
    }
    return vm_mix((uint64_t)k);
}

/* ---- hash tables: open addressing, linear probing, power-of-two capacity ---- */
val vm_table(rtvm_ctx *c) {
    RTGC_FRAME(c->t, r, 2);
    r[0] = vm_alloc(c, K_ITEMS, 8);
    r[1] = vm_alloc(c, K_ITEMS, 8);
    vtable *t = vm_alloc(c, K_TABLE, 0);
    vm_store(c, t, &t->keys, (val)r[0]);
    vm_store(c, t, &t->vals, (val)r[1]);
    RTGC_FRAME_POP(c->t, r);
    return (val)t;
}

static int64_t table_find(rtvm_ctx *c, vtable *t, val k, uint64_t h) {
    vitems *keys = (vitems *)vm_load(c, &t->keys);
    uint32_t cap = obj_count((val)keys);
    uint32_t i = (uint32_t)h & (cap - 1);
    for (uint32_t n = 0; n < cap; n++, i = (i + 1) & (cap - 1)) {
        val e = vm_load(c, &keys->e[i]);
        if (e == V_NIL) return -1;
        if (e != V_TOMB && key_equal(c, e, k)) return i;
    }
    return -1;
}

val vm_table_get(rtvm_ctx *c, val tv, val k, int *found) {
    vtable *t = (vtable *)tv;
    int64_t i = table_find(c, t, k, key_hash(c, k));
    *found = i >= 0;
    if (i < 0) return V_NIL;
    vitems *vals = (vitems *)vm_load(c, &t->vals);
    return vm_load(c, &vals->e[i]);
}

static void table_insert_raw(rtvm_ctx *c, vitems *keys, vitems *vals, val k, val v, uint64_t h) {
    uint32_t cap = obj_count((val)keys);
    uint32_t i = (uint32_t)h & (cap - 1);
    while (vm_load(c, &keys->e[i]) != V_NIL) i = (i + 1) & (cap - 1);
    vm_store(c, keys, &keys->e[i], k);
    vm_store(c, vals, &vals->e[i], v);
}

void vm_table_put(rtvm_ctx *c, val *t_slot, val *k_slot, val *v_slot) {
    vtable *t = (vtable *)*t_slot;
    uint64_t h = key_hash(c, *k_slot);
    int64_t i = table_find(c, t, *k_slot, h);
    if (i >= 0) {
        vitems *vals = (vitems *)vm_load(c, &t->vals);
        vm_store(c, vals, &vals->e[i], *v_slot);
        return;
    }
    vitems *keys = (vitems *)vm_load(c, &t->keys);
    uint32_t cap = obj_count((val)keys);
    if ((uint64_t)(t->used + 1) * 4 > (uint64_t)cap * 3) {
        /* grow (or just drop tombstones) */
        uint32_t ncap = (uint64_t)(t->count + 1) * 2 > cap ? cap * 2 : cap;
        if (ncap >= 0x40000000u) vm_error(c, "table too large");
        RTGC_FRAME(c->t, r, 2);
        r[0] = vm_alloc(c, K_ITEMS, ncap);
        r[1] = vm_alloc(c, K_ITEMS, ncap);
        t = (vtable *)*t_slot;
        keys = (vitems *)vm_load(c, &t->keys);
        vitems *vals = (vitems *)vm_load(c, &t->vals);
        for (uint32_t j = 0; j < cap; j++) {
            val k = vm_load(c, &keys->e[j]);
            if (k == V_NIL || k == V_TOMB) continue;
            table_insert_raw(c, r[0], r[1], k, vm_load(c, &vals->e[j]), key_hash(c, k));
        }
        vm_store(c, t, &t->keys, (val)r[0]);
        vm_store(c, t, &t->vals, (val)r[1]);
        t->used = t->count;
        RTGC_FRAME_POP(c->t, r);
        keys = (vitems *)vm_load(c, &t->keys);
    }
    vitems *vals = (vitems *)vm_load(c, &t->vals);
    cap = obj_count((val)keys);
    uint32_t j = (uint32_t)h & (cap - 1);
    for (;;) {
        val e = vm_load(c, &keys->e[j]);
        if (e == V_NIL || e == V_TOMB) {
            if (e == V_NIL) t->used++;
            break;
        }
        j = (j + 1) & (cap - 1);
    }
    vm_store(c, keys, &keys->e[j], *k_slot);
    vm_store(c, vals, &vals->e[j], *v_slot);
    t->count++;
}

int vm_table_del(rtvm_ctx *c, val tv, val k) {
    vtable *t = (vtable *)tv;
    int64_t i = table_find(c, t, k, key_hash(c, k));
    if (i < 0) return 0;
    vitems *keys = (vitems *)vm_load(c, &t->keys);
    vitems *vals = (vitems *)vm_load(c, &t->vals);
    vm_store(c, keys, &keys->e[i], V_TOMB);
    vm_store(c, vals, &vals->e[i], V_NIL);
    t->count--;
    return 1;
}

/* ---- display ---- */
void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 64;
        while (nc < b->len + n + 1) nc *= 2;
        char *ns = realloc(b->s, nc);
        if (!ns) abort();
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void put_double(sbuf *b, double d) {
    if (isnan(d)) { sb_put(b, "nan", 3); return; }
    if (isinf(d)) { sb_put(b, d < 0 ? "-inf" : "inf", d < 0 ? 4 : 3); return; }
    char tmp[64];
    if (d == (double)(int64_t)d && fabs(d) < 1e15) {
        snprintf(tmp, sizeof tmp, "%.1f", d);
        sb_put(b, tmp, strlen(tmp));
        return;
    }
    /* shortest form that reads back the same */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) break;
    }
    if (!strpbrk(tmp, ".eni")) strcat(tmp, ".0");
    sb_put(b, tmp, strlen(tmp));
}

const char *vm_type_name(rtvm_ctx *c, val v) {
    if (v == V_NIL) return "nil";
    if (IS_INT(v)) return "int";
    if (v == V_TRUE || v == V_FALSE) return "bool";
    switch (obj_kind(c->L, v)) {
    case K_FLOAT: return "float";
    case K_STRING: return "string";
    case K_VECTOR: return "vector";
    case K_RECORD: return "record";
    case K_CLOSURE: return "function";
    case K_TABLE: return "table";
    case K_BOX: return "box";
    case K_WTABLE: return "weak-table";
    default: return vm_is_weakref(c, v) ? "weak-ref" : "unknown";
    }
}

void vm_display(rtvm_ctx *c, sbuf *b, val v, int depth) {
    if (v == V_NIL) { sb_put(b, "nil", 3); return; }
    if (IS_INT(v)) { sb_printf(b, "%lld", (long long)INTV(v)); return; }
    if (v == V_TRUE) { sb_put(b, "true", 4); return; }
    if (v == V_FALSE) { sb_put(b, "false", 5); return; }
    switch (obj_kind(c->L, v)) {
    case K_FLOAT: put_double(b, ((vfloat *)v)->d); return;
    case K_STRING: sb_put(b, ((vstring *)v)->s, obj_count(v)); return;
    case K_VECTOR: {
        if (depth > 8) { sb_put(b, "[...]", 5); return; }
        vvector *vec = (vvector *)v;
        vitems *it = (vitems *)vm_load(c, &vec->items);
        sb_put(b, "[", 1);
        for (int64_t i = 0; i < vec->len; i++) {
            if (i) sb_put(b, " ", 1);
            if (i >= 100) { sb_put(b, "...", 3); break; }
            val e = vm_load(c, &it->e[i]);
            if (obj_kind(c->L, e) == K_STRING) {
                sb_put(b, "\"", 1);
                vm_display(c, b, e, depth + 1);
                sb_put(b, "\"", 1);
            } else {
                vm_display(c, b, e, depth + 1);
            }
        }
        sb_put(b, "]", 1);
        return;
    }
    case K_RECORD: {
        vrecord *r = (vrecord *)v;
        vm_rtype *t = &c->p->rtypes[r->type];
        if (depth > 8) { sb_printf(b, "#<%s>", t->name); return; }
        sb_printf(b, "#<%s", t->name);
        for (int i = 0; i < t->nfields; i++) {
            sb_printf(b, " %s=", c->p->fnames[t->fields[i]]);
            vm_display(c, b, vm_load(c, &r->f[i]), depth + 1);
        }
        sb_put(b, ">", 1);
        return;
    }
    case K_CLOSURE: sb_printf(b, "#<fn %s>", c->p->funcs[((vclosure *)v)->fn]->name); return;
    case K_TABLE: sb_printf(b, "#<table %lld>", (long long)((vtable *)v)->count); return;
    case K_WTABLE: sb_printf(b, "#<weak-table %lld>", (long long)vm_wtable_len(c, v)); return;
    default: sb_printf(b, "#<%s>", vm_type_name(c, v)); return;
    }
}

/* weak.c - weak tables, weak references and finalizers in the language,
 * on the collector's ephemerons, weak references and finalizer queue
 * (rtgc/weak.h); and (collect).
 *
 * WEAK TABLES.  A weak-table is an open-addressing hash table (linear
 * probing, power-of-two capacity) of ephemerons, hashed by key identity:
 * the collector never moves objects, so an address is a stable hash.  A
 * slot holds nil (empty), tomb (deleted) or an ephemeron (key, value).
 * Entries are read only through rtgc_ephemeron_get, and an ephemeron the
 * collector cleared (its key died) reads as a tomb.  Ephemerons are
 * immutable: put! of a present key stores a new one in its slot.  Every
 * store into the slot array goes through the store barrier.  Inserts reuse
 * tombs and cleared slots; when the non-empty slots would pass 3/4 of the
 * capacity the table is rehashed into an array sized for its live entries
 * (which may shrink it), moving the live ephemerons and dropping the rest.
 * Keys must be objects with an identity: an int, float, string, bool or
 * nil key is an error (tables compare strings and floats by value, so an
 * entry weakly keyed by one would be meaningless).  Probing reads the keys
 * it passes; while marking is on that shades them (rtgc_ephemeron_get),
 * so they outlive the current cycle, never more.
 *
 * WEAK REFERENCES are the collector's own weak-reference objects, used as
 * VM values directly: obj_kind gives K_NONE, rtgc_is_weak says which.
 *
 * FINALIZERS.  [ctx.fin] (finalize! obj f) registers obj with the
 * collector.  The registration's data word is not a pointer but a number:
 * the context's serial and a slot; the closure f sits at that slot of the
 * context's finalizer vector (CTX_FIN_FNS, inside a root range), so the
 * context keeps f alive, and keeps obj alive only if f reaches it.
 * rtgc_run_finalizers is heap-wide: any thread may pop any context's
 * registration.  So the collector's callback (fin_deliver) never runs VM
 * code: on whatever thread it runs, it holds obj in a global handle and
 * appends the slot to the owning context's inbox, which it finds by serial
 * in fin_homes.  Only the owner takes entries out of its inbox and calls
 * the closures, in its own (run-finalizers), on its own stack.
 * Invariant: fin_lock guards fin_homes and every vm_fin's records, inbox
 * and free list; a vm_fin is listed in fin_homes exactly while its context
 * lives.  A context being destroyed leaves fin_homes first, so a later
 * callback finds no owner and lets the object go (frees its handle); since
 * the data word is a number, no callback can reach freed memory.  Serials
 * are 40 bits and slots 24: a registration could reach the wrong context
 * only if 2^40 contexts were made while it was pending.
 */
#include "vm.h"
#include <stdlib.h>
#include <string.h>

/* ---- keys and targets ---- */
static void want_object(rtvm_ctx *c, val v, const char *what) {
    int k = obj_kind(c->L, v);
    if (!IS_PTR(v) || k == K_STRING || k == K_FLOAT)
        vm_error(c, "%s must be an object (vector, table, record, function...), got %s", what, vm_type_name(c, v));
}

/* ---- weak tables ---- */
val vm_wtable(rtvm_ctx *c) {
    RTGC_FRAME(c->t, r, 1);
    r[0] = vm_alloc(c, K_ITEMS, 8);
    vwtable *t = vm_alloc(c, K_WTABLE, 0);
    vm_store(c, t, &t->slots, (val)r[0]);
    RTGC_FRAME_POP(c->t, r);
    return (val)t;
}

/* The key of a slot's content: nil (empty), tomb (deleted or cleared) or the key. */
static val slot_key(rtvm_ctx *c, val e) {
    if (e == V_NIL || e == V_TOMB) return e;
    void *k;
    return rtgc_ephemeron_get(c->t, (void *)e, &k, NULL) ? (val)k : V_TOMB;
}

static uint32_t home_slot(val k, uint32_t cap) { return (uint32_t)vm_mix((uint64_t)k) & (cap - 1); }

static int64_t wfind(rtvm_ctx *c, vwtable *t, val k) {
    vitems *s = (vitems *)vm_load(c, &t->slots);
    uint32_t cap = obj_count((val)s);
    uint32_t i = home_slot(k, cap);
    for (uint32_t n = 0; n < cap; n++, i = (i + 1) & (cap - 1)) {
        val e = vm_load(c, &s->e[i]);
        if (e == V_NIL) return -1;
        if (slot_key(c, e) == k) return i;
    }
    return -1;
}

val vm_wtable_get(rtvm_ctx *c, val tv, val k, int *found) {
    want_object(c, k, "weak-table key");
    vwtable *t = (vwtable *)tv;
    int64_t i = wfind(c, t, k);
    void *v = NULL;
    *found = 0;
    if (i >= 0) {
        vitems *s = (vitems *)vm_load(c, &t->slots);
        *found = rtgc_ephemeron_get(c->t, (void *)vm_load(c, &s->e[i]), NULL, &v);
    }
    return (val)v;
}

/* Rehash *t_slot into a new slot array (kept in *tmp, a rooted slot) sized
 * for its live entries. */
static void wrehash(rtvm_ctx *c, val *t_slot, void **tmp) {
    vwtable *t = (vwtable *)*t_slot;
    vitems *s = (vitems *)vm_load(c, &t->slots);
    uint32_t cap = obj_count((val)s);
    uint64_t live = 0;
    for (uint32_t j = 0; j < cap; j++) live += IS_PTR(slot_key(c, vm_load(c, &s->e[j])));
    uint64_t ncap = 8;
    while ((live + 1) * 2 > ncap) ncap *= 2;
    if (ncap >= 0x40000000u) vm_error(c, "weak-table too large");
    *tmp = vm_alloc(c, K_ITEMS, (uint32_t)ncap);
    vitems *n = *tmp;
    t = (vwtable *)*t_slot;
    s = (vitems *)vm_load(c, &t->slots);
    int64_t used = 0;
    /* entries the collector cleared meanwhile are dropped here too */
    for (uint32_t j = 0; j < cap; j++) {
        val e = vm_load(c, &s->e[j]);
        val k = slot_key(c, e);
        if (!IS_PTR(k)) continue;
        uint32_t i = home_slot(k, (uint32_t)ncap);
        while (vm_load(c, &n->e[i]) != V_NIL) i = (i + 1) & (uint32_t)(ncap - 1);
        vm_store(c, n, &n->e[i], e);
        used++;
    }
    vm_store(c, t, &t->slots, (val)n);
    t->used = used;
}

void vm_wtable_put(rtvm_ctx *c, val *t_slot, val *k_slot, val *v_slot) {
    want_object(c, *k_slot, "weak-table key");
    RTGC_FRAME(c->t, r, 2);
    r[0] = rtgc_ephemeron_new(c->t, (void *)*k_slot, (void *)*v_slot);
    if (!r[0]) vm_error(c, "out of memory");
    vwtable *t = (vwtable *)*t_slot;
    int64_t i = wfind(c, t, *k_slot);
    if (i < 0) {
        vitems *s = (vitems *)vm_load(c, &t->slots);
        if ((uint64_t)(t->used + 1) * 4 > (uint64_t)obj_count((val)s) * 3) {
            wrehash(c, t_slot, &r[1]);
            t = (vwtable *)*t_slot;
            s = (vitems *)vm_load(c, &t->slots);
        }
        uint32_t cap = obj_count((val)s);
        uint32_t j = home_slot(*k_slot, cap);
        for (;;) {
            val e = vm_load(c, &s->e[j]);
            if (e == V_NIL) {
                t->used++;
                break;
            }
            if (slot_key(c, e) == V_TOMB) break; /* deleted or cleared: reuse it */
            j = (j + 1) & (cap - 1);
        }
        i = j;
    }
    vitems *s = (vitems *)vm_load(c, &t->slots);
    vm_store(c, s, &s->e[i], (val)r[0]);
    RTGC_FRAME_POP(c->t, r);
}

int vm_wtable_del(rtvm_ctx *c, val tv, val k) {
    want_object(c, k, "weak-table key");
    vwtable *t = (vwtable *)tv;
    int64_t i = wfind(c, t, k);
    if (i < 0) return 0;
    vitems *s = (vitems *)vm_load(c, &t->slots);
    vm_store(c, s, &s->e[i], V_TOMB);
    return 1;
}

int64_t vm_wtable_len(rtvm_ctx *c, val tv) {
    vitems *s = (vitems *)vm_load(c, &((vwtable *)tv)->slots);
    uint32_t cap = obj_count((val)s);
    int64_t n = 0;
    for (uint32_t j = 0; j < cap; j++) n += IS_PTR(slot_key(c, vm_load(c, &s->e[j])));
    return n;
}

val vm_wtable_keys(rtvm_ctx *c, val *t_slot) {
    val v = vm_vector(c, 0, V_NIL);
    RTGC_FRAME(c->t, r, 2);
    r[0] = (void *)v;
    vitems *s = (vitems *)vm_load(c, &((vwtable *)*t_slot)->slots);
    uint32_t cap = obj_count((val)s);
    for (uint32_t j = 0; j < cap; j++) {
        s = (vitems *)vm_load(c, &((vwtable *)*t_slot)->slots); /* a push may have collected */
        val k = slot_key(c, vm_load(c, &s->e[j]));
        if (!IS_PTR(k)) continue;
        r[1] = (void *)k;
        vm_vector_push(c, (val *)&r[0], (val *)&r[1]);
    }
    v = (val)r[0];
    RTGC_FRAME_POP(c->t, r);
    return v;
}

/* ---- weak references ---- */
int vm_is_weakref(rtvm_ctx *c, val v) {
    return IS_PTR(v) && obj_kind(c->L, v) == K_NONE && rtgc_is_weak(c->L->heap, (void *)v);
}

val vm_weakref(rtvm_ctx *c, val target) {
    want_object(c, target, "weak-ref target");
    void *w = rtgc_weak_new(c->t, (void *)target);
    if (!w) vm_error(c, "out of memory");
    return (val)w;
}

val vm_deref(rtvm_ctx *c, val w) {
    if (!vm_is_weakref(c, w)) vm_error(c, "deref expects a weak-ref, got %s", vm_type_name(c, w));
    return (val)rtgc_weak_get(c->t, (void *)w);
}

/* ---- (collect) ---- */

/* A full collection that finds unreachable whatever the program can no
 * longer reach.  [collect.clear] First every stack slot that holds no live
 * value is cleared, in every frame: each frame is stopped at a CALL or a
 * BUILTIN (its recorded pc, in the interpreter and in JIT code alike), and
 * its live slots are its closure (fp[-1]) and its registers below that
 * site's live top (a CALL's closure register: from there up the callee's
 * frame begins; a BUILTIN's last argument + 1), less those the compiler
 * listed dead at the site (compile.c [compile.dead]).  Every other slot of
 * [stack, top_max) -- dead registers, registers above a site's live top,
 * gaps between frames -- may hold what earlier code left there, and is
 * cleared.  Frames' live slots never overlap: a CALL's callee starts at or
 * above the caller's live top, a builtin's callee above every frame.
 * Clearing a slot below the sliced scan's watermark while a cycle marks is
 * safe: nothing reads a dead slot, so no reference leaves it unshaded. */
static void clear_dead(rtvm_ctx *c) {
    val *lo = c->stack, *hi = c->frames[c->depth - 1].top_max;
    size_t n = (size_t)(hi - lo);
    uint64_t *keep = calloc(n / 64 + 1, sizeof *keep);
    if (!keep) vm_error(c, "out of memory");
#define KEEP(p) (keep[(size_t)((p) - lo) / 64] |= (uint64_t)1 << ((size_t)((p) - lo) % 64))
    for (int64_t d = 0; d < c->depth; d++) {
        vm_frame *fr = &c->frames[d];
        vm_func *f = fr->fn;
        int top = f->nregs, nd = 0;
        const uint16_t *dl = NULL;
        if (fr->pc >= 0 && fr->pc < f->ninsns) {
            const insn *in = &f->code[fr->pc];
            if (in->op == OP_CALL) top = in->a;
            else if (in->op == OP_BUILTIN) top = in->c + in->x;
            if (f->dead && f->dead[fr->pc]) {
                dl = f->dead_regs + f->dead[fr->pc];
                nd = *dl++;
            }
        }
        KEEP(fr->fp - 1);
        for (int r = 0, k = 0; r < top; r++) {
            while (k < nd && dl[k] < r) k++;
            if (k < nd && dl[k] == r) continue;
            KEEP(fr->fp + r);
        }
    }
#undef KEEP
    for (size_t i = 0; i < n; i++)
        if (!(keep[i / 64] >> (i % 64) & 1)) lo[i] = V_NIL;
    free(keep);
}

/* rtgc_collect runs a whole cycle that starts after the call and returns
 * with its finalizers ready. */
void vm_collect(rtvm_ctx *c) {
    clear_dead(c);
    rtgc_collect(c->t);
}

/* ---- finalizers [ctx.fin] ---- */
typedef struct fin_rec {
    void **handle;       /* the object once delivered (a global handle), else NULL */
    int32_t next;        /* the inbox's or the free list's next slot; -1: none */
} fin_rec;

struct vm_fin {
    uint64_t serial;
    rtgc_heap *heap;
    struct vm_fin *next;         /* fin_homes */
    fin_rec *rec;                /* per slot */
    int32_t nrec, cap;
    int32_t free_head;           /* slots not in use */
    int32_t in_head, in_tail;    /* delivered slots, oldest first */
};

#define FIN_SLOT_BITS 24
static pthread_mutex_t fin_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vm_fin *fin_homes;
static uint64_t fin_serial;

static struct vm_fin *fin_home(rtvm_ctx *c) {
    if (c->fin) return c->fin;
    struct vm_fin *F = calloc(1, sizeof *F);
    if (!F) vm_error(c, "out of memory");
    F->serial = (__atomic_add_fetch(&fin_serial, 1, __ATOMIC_RELAXED)) & (((uint64_t)1 << (64 - FIN_SLOT_BITS)) - 1);
    F->heap = rtgc_thread_heap(c->t);
    F->free_head = F->in_head = F->in_tail = -1;
    pthread_mutex_lock(&fin_lock);
    F->next = fin_homes;
    fin_homes = F;
    pthread_mutex_unlock(&fin_lock);
    c->fin = F;
    return F;
}

/* The collector's callback, on any thread that runs rtgc_run_finalizers. */
static void fin_deliver(rtgc_thread *t, void *obj, void *data) {
    uint64_t d = (uintptr_t)data;
    uint64_t serial = d >> FIN_SLOT_BITS;
    int32_t slot = (int32_t)(d & ((1u << FIN_SLOT_BITS) - 1));
    rtgc_heap *heap = rtgc_thread_heap(t);
    void **h = rtgc_global_handle_new(heap, obj);
    pthread_mutex_lock(&fin_lock);
    struct vm_fin *F = fin_homes;
    while (F && F->serial != serial) F = F->next;
    /* without a handle (no memory) the object is let go and its closure
     * stays in the vector until the context is destroyed */
    if (F && h && slot < F->nrec) {
        F->rec[slot].handle = h;
        F->rec[slot].next = -1;
        if (F->in_tail >= 0) F->rec[F->in_tail].next = slot;
        else F->in_head = slot;
        F->in_tail = slot;
        h = NULL;
    }
    pthread_mutex_unlock(&fin_lock);
    if (h) rtgc_global_handle_free(heap, h);
}

static void free_slot(struct vm_fin *F, int32_t slot) {
    pthread_mutex_lock(&fin_lock);
    F->rec[slot].handle = NULL;
    F->rec[slot].next = F->free_head;
    F->free_head = slot;
    pthread_mutex_unlock(&fin_lock);
}

void vm_finalize(rtvm_ctx *c, val *obj_slot, val *fn_slot) {
    want_object(c, *obj_slot, "finalize! target");
    if (obj_kind(c->L, *fn_slot) != K_CLOSURE) vm_error(c, "finalize! expects a function, got %s", vm_type_name(c, *fn_slot));
    vm_func *f = c->p->funcs[((vclosure *)*fn_slot)->fn];
    if (f->nparams != 1)
        vm_error(c, "finalize! expects a function of one argument, %s takes %d", f->name, f->nparams);
    struct vm_fin *F = fin_home(c);
    RTGC_FRAME(c->t, r, 2);
    r[0] = (void *)vm_load(c, CTX_FIN_FNS(c));
    if (!r[0]) {
        r[0] = (void *)vm_vector(c, 0, V_NIL);
        vm_store(c, NULL, CTX_FIN_FNS(c), (val)r[0]);
    }
    pthread_mutex_lock(&fin_lock);
    int32_t slot = F->free_head;
    if (slot >= 0) {
        F->free_head = F->rec[slot].next;
    } else if (F->nrec < (1 << FIN_SLOT_BITS)) {
        if (F->nrec == F->cap) {
            int32_t ncap = F->cap ? F->cap * 2 : 16;
            fin_rec *n = realloc(F->rec, sizeof *n * (size_t)ncap);
            if (n) F->rec = n, F->cap = ncap;
        }
        if (F->nrec < F->cap) slot = F->nrec++;
    }
    if (slot >= 0) F->rec[slot] = (fin_rec){NULL, -1};
    pthread_mutex_unlock(&fin_lock);
    if (slot < 0) vm_error(c, "finalize!: too many finalizers pending, or out of memory");
    /* the vector reaches the slot (nil fill), then holds f there */
    while (((vvector *)r[0])->len <= slot) vm_vector_push(c, (val *)&r[0], (val *)&r[1]);
    vitems *it = (vitems *)vm_load(c, &((vvector *)r[0])->items);
    vm_store(c, it, &it->e[slot], *fn_slot);
    uintptr_t data = (uintptr_t)(F->serial << FIN_SLOT_BITS) | (uintptr_t)slot;
    if (rtgc_finalizer_register(c->t, (void *)*obj_slot, fin_deliver, (void *)data) != RTGC_OK) {
        it = (vitems *)vm_load(c, &((vvector *)r[0])->items);
        vm_store(c, it, &it->e[slot], V_NIL);
        free_slot(F, slot);
        vm_error(c, "finalize!: out of memory");
    }
    RTGC_FRAME_POP(c->t, r);
}

/* Run every ready finalizer of the heap: this context's are called here,
 * in the order they were delivered, other contexts' go to their inboxes.
 * A closure is called with its object in the slot above the caller's
 * frame, as apply does. */
int64_t vm_run_finalizers(rtvm_ctx *c) {
    rtgc_run_finalizers(c->t, SIZE_MAX);
    struct vm_fin *F = c->fin;
    int64_t ran = 0;
    while (F) {
        val *base = c->frames[c->depth - 1].top_max;
        if (base + 2 >= c->stack_end) vm_error(c, "stack overflow");
        pthread_mutex_lock(&fin_lock);
        int32_t slot = F->in_head;
        void **h = NULL;
        if (slot >= 0) {
            h = F->rec[slot].handle;
            F->in_head = F->rec[slot].next;
            if (F->in_head < 0) F->in_tail = -1;
        }
        pthread_mutex_unlock(&fin_lock);
        if (slot < 0) break;
        /* no safepoint from here to the call: base[0..1] are not scanned until its frame is pushed */
        base[1] = (val)rtgc_load(c->t, h);
        vitems *it = (vitems *)vm_load(c, &((vvector *)vm_load(c, CTX_FIN_FNS(c)))->items);
        base[0] = vm_load(c, &it->e[slot]);
        vm_store(c, it, &it->e[slot], V_NIL);
        rtgc_global_handle_free(F->heap, h);
        free_slot(F, slot);
        vm_call_value(c, base, 1);
        ran++;
    }
    return ran;
}

void vm_fin_destroy(rtvm_ctx *c) {
    struct vm_fin *F = c->fin;
    if (!F) return;
    pthread_mutex_lock(&fin_lock);
    struct vm_fin **pp = &fin_homes;
    while (*pp != F) pp = &(*pp)->next;
    *pp = F->next;
    pthread_mutex_unlock(&fin_lock);
    /* unlisted: no callback reaches F now; delivered objects are let go */
    for (int32_t i = 0; i < F->nrec; i++)
        if (F->rec[i].handle) rtgc_global_handle_free(F->heap, F->rec[i].handle);
    free(F->rec);
    free(F);
    c->fin = NULL;
}

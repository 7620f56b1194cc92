/* gc/tests/graph_weak.c - the graph torture test's weak layer: weak
 * references, ephemerons and finalizers (rtgc/weak.h) over the graph of
 * test_graph.c, checked against its model, in every mode and thread
 * variant.
 *
 * SLOTS.  Each thread has a frame of weak slots (and three temporaries):
 * each slot holds nothing, a weak reference or an ephemeron, and the model
 * records what it was made with (target, or key and value: a private
 * object, or an immediate) and whether it has been seen cleared.  Targets
 * and keys are graph objects, fresh objects held by nothing else, or
 * (keys) what another weak slot or ephemeron reads; ephemeron values are
 * fresh objects held only by their ephemeron, sometimes with a fresh child
 * and edges into the graph; an ephemeron's key may be another's value
 * (chains).  Weak targets are private: no other thread can hold them.
 *
 * REACHABILITY.  S, the strong set: what the roots reach, and by the
 * ephemeron rule as a fixpoint the value of every ephemeron whose key is in
 * S (or an immediate).  H, the maybe-held set: what pending finalizers'
 * objects reach (they may already be queued, which makes them roots), with
 * the same fixpoint over S and H.  full_check computes S by walking the
 * heap (test_graph.c walks the roots, gw_walk the ephemerons); gw_reach
 * computes S and H from the model alone.
 *
 * WHAT IS CHECKED.
 * - At every full check: a weak reference whose target is in S reads
 *   exactly the target; an ephemeron whose key is in S reads key and value,
 *   and the value's subgraph is walked, checked and counted as live.  The
 *   others are read too: NULL marks them cleared for good (a cleared one
 *   that reads non-NULL later fails); a target they still hand out is
 *   checked with everything it reaches, and kept in the model (not dead),
 *   as is everything a pending finalizer's object reaches.  So the model
 *   keeps the records of weakly reachable objects until their weak
 *   references are seen cleared, and a read may resurrect them.
 * - After rtgc_collect (a whole cycle begun after the call): targets and
 *   keys outside S and H read cleared; in S, intact.  Every pending
 *   finalizer whose object is outside S and H is counted by
 *   rtgc_finalizers_ready (single-threaded) and runs when the thread runs
 *   the ready ones (threaded: here or on another thread, soon).
 * - Between checks, reads may give NULL or the target, but never NULL for
 *   a target a root holds, never anything but the target, and the target
 *   and what it reaches must be intact.  Half the non-NULL reads store the
 *   target (or key, or value) in a root, and while marking runs (the
 *   thread's RTGC_STATE_MARKING) half the steps read every weak reference
 *   whose target was only weakly reachable when last seen and store what it
 *   gives in a root, mostly one of the thread's own, which has no barrier:
 *   resurrection through a weak read, the race of [weak.get] (a library
 *   built with BREAK=weak fails here: make teeth).  The model then counts
 *   the target reachable again.
 * - A finalizer runs only inside rtgc_run_finalizers called by the test (a
 *   thread-local flag: never inside a pause, never on a collector thread),
 *   exactly once per registration, for an object outside S (unless a
 *   finalizer resurrected an object that reaches it after it was queued),
 *   with its subgraph intact.  A quarter of them resurrect their object
 *   (stored in a root; sometimes registered again).  A finalizer that runs
 *   on another thread than the one that registered it is sent to the
 *   owner's mailbox (ids only), which the owner checks against its model.
 * - At the end, every registration ran exactly once, and the live counts
 *   after the last walk include the weak objects themselves.
 * A finalizer that resurrects its object may bring back objects whose weak
 * references were cleared when it was queued: those are in doubt (may read
 * cleared though reachable) until a read settles it.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <time.h>

#include "graph_weak.h"

enum { SL_NONE = 0, SL_WEAK, SL_EPH };
#define NTMP 3
#define WEAK_BYTES 16  /* rtgc.weak: header and target */
#define EPH_BYTES 24   /* rtgc.ephemeron: header, key and value */
#define SUBWALK 128    /* objects checked behind a weak read or a finalized object */

typedef struct wslot {
    uint8_t kind;      /* SL_* */
    bool cleared;      /* seen cleared */
    bool weakonly;     /* its target or key was not strongly reachable when last seen */
    bool doubt;        /* may have been cleared though its target is reachable now: a
                        * finalizer resurrected what reaches it; the next read decides */
    uint64_t a, b;     /* EXP_*: target, or key and value */
    void *obj;         /* the weak reference or ephemeron */
} wslot;

/* Per model entry (by ID_INDEX). */
typedef struct wrec {
    uint32_t smark, hmark; /* in S / in H at reach epoch */
    uint32_t pidx;         /* 1 + index in pend, 0: no pending registration */
    uint32_t nruns;
    uint8_t exempt;        /* reachable again through a resurrected object, may still run */
} wrec;

struct gweak {
    gctx *c;
    rtgc_thread *t;
    const graph_layouts *L;
    int owner;
    bool threaded;
    bool settling;         /* finalizers do not resurrect */
    rtgc_frame fr;
    void **slots;          /* nslots weak slots, then NTMP temporaries */
    size_t nslots;
    wslot *ws;
    wrec *rec;
    size_t nrec;
    uint64_t *pend;        /* ids with a pending registration */
    size_t npend, cappend;
    uint32_t repoch;
    bool s_fresh;          /* S computed in this finalizer batch */
    uint64_t *rstack;
    size_t rsp, rcap;
    /* the mailbox: ids of this layer's objects finalized on other threads */
    pthread_mutex_t mu;
    uint64_t *mail;
    size_t nmail, capmail;
    bool closed;
    /* counts */
    uint64_t registered, ran; /* ran: atomic */
    uint64_t n_weak, n_eph, n_chain, reads, reads_null, read_resurrect;
    uint64_t fin_resurrect, fin_reregister, fin_remote, checks, must_clear, must_run, burst;
};

static __thread int tl_in_run; /* inside the test's rtgc_run_finalizers */

/* Failures seen where no context may be written (another thread's
 * finalizer); every check of every context fails on them. */
static pthread_mutex_t async_mu = PTHREAD_MUTEX_INITIALIZER;
static long async_fails;
static char async_msg[512];

static void async_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void async_fail(const char *fmt, ...) {
    va_list ap;
    pthread_mutex_lock(&async_mu);
    if (async_fails++ == 0) {
        va_start(ap, fmt);
        vsnprintf(async_msg, sizeof async_msg, fmt, ap);
        va_end(ap);
        fprintf(stderr, "FAILURE (finalizer) %s\n", async_msg);
    }
    pthread_mutex_unlock(&async_mu);
}

static bool async_check(gctx *c) {
    if (__atomic_load_n(&async_fails, __ATOMIC_SEQ_CST) == 0)
        return true;
    pthread_mutex_lock(&async_mu);
    ctx_fail(c, __FILE__, __LINE__, "%s", async_msg);
    pthread_mutex_unlock(&async_mu);
    return false;
}

static bool priv_ref(uint64_t exp) {
    return EXP_IS_REF(exp) && !(EXP_ID(exp) & SHARED_BIT);
}

static void *grow_arr(void *p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return p;
    size_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    p = realloc(p, nc * elem);
    if (!p)
        abort();
    memset((char *)p + *cap * elem, 0, (nc - *cap) * elem);
    *cap = nc;
    return p;
}

static wrec *rec_of(gweak *w, uint64_t id) {
    size_t i = ID_INDEX(id);
    w->rec = grow_arr(w->rec, &w->nrec, i + 1, sizeof *w->rec);
    return &w->rec[i];
}

static void pend_add(gweak *w, uint64_t id) {
    w->pend = grow_arr(w->pend, &w->cappend, w->npend + 1, sizeof *w->pend);
    w->pend[w->npend++] = id;
    rec_of(w, id)->pidx = (uint32_t)w->npend;
}
static void pend_remove(gweak *w, wrec *r) {
    size_t i = r->pidx - 1;
    uint64_t last = w->pend[--w->npend];
    w->pend[i] = last;
    w->rec[ID_INDEX(last)].pidx = (uint32_t)(i + 1);
    r->pidx = 0;
}

/* ------------------------------------------- reachability from the model */

static bool in_s(gweak *w, uint64_t id) {
    return rec_of(w, id)->smark == w->repoch;
}
static bool in_h(gweak *w, uint64_t id) {
    return rec_of(w, id)->hmark == w->repoch;
}

static void rmark(gweak *w, uint64_t id, bool strong) {
    wrec *r = rec_of(w, id);
    if (r->smark == w->repoch || (!strong && r->hmark == w->repoch))
        return;
    if (strong)
        r->smark = w->repoch;
    else
        r->hmark = w->repoch;
    w->rstack = grow_arr(w->rstack, &w->rcap, w->rsp + 1, sizeof *w->rstack);
    w->rstack[w->rsp++] = id;
}

static void rdrain(gweak *w, bool strong) {
    while (w->rsp) {
        mobj *e = model_get(&w->c->m, w->rstack[--w->rsp]);
        if (!e || e->dead)
            continue;
        for (size_t i = 0; i < e->nfields; i++)
            if (priv_ref(e->fields[i]))
                rmark(w, EXP_ID(e->fields[i]), strong);
    }
}

/* One pass of the ephemeron rule over S (strong) or S and H. */
static bool eph_pass(gweak *w, bool strong) {
    bool changed = false;
    for (size_t s = 0; s < w->nslots; s++) {
        wslot *x = &w->ws[s];
        if (x->kind != SL_EPH || x->cleared || (strong && x->doubt) || !priv_ref(x->b))
            continue;
        bool key = (x->a & 1) || in_s(w, EXP_ID(x->a)) || (!strong && in_h(w, EXP_ID(x->a)));
        uint64_t v = EXP_ID(x->b);
        if (!key || in_s(w, v) || (!strong && in_h(w, v)))
            continue;
        rmark(w, v, strong);
        rdrain(w, strong);
        changed = true;
    }
    return changed;
}

/* S and H (see the opening comment) as marks of a new reach epoch. */
static void gw_reach(gweak *w) {
    model *m = &w->c->m;
    w->repoch++;
    for (size_t r = 0; r < m->nroots; r++)
        if (priv_ref(m->root_exp[r]))
            rmark(w, EXP_ID(m->root_exp[r]), true);
    rdrain(w, true);
    while (eph_pass(w, true)) {
    }
    /* What pending finalizers' objects reach (not the objects themselves:
     * one is in H only if another pending one, or itself, reaches it). */
    for (size_t i = 0; i < w->npend; i++) {
        mobj *e = model_get(m, w->pend[i]);
        for (size_t f = 0; e && !e->dead && f < e->nfields; f++)
            if (priv_ref(e->fields[f]))
                rmark(w, EXP_ID(e->fields[f]), false);
        rdrain(w, false);
    }
    while (eph_pass(w, false)) {
    }
}

/* A finalizer resurrected `id`, which was unreachable when it was queued,
 * with what it reaches: pending registrations on those objects may be
 * queued already, and may run though reachable now; weak references and
 * ephemerons to them may have been cleared (before the queueing), though
 * reachable now. */
static void after_resurrect(gweak *w, uint64_t id) {
    w->repoch++;
    w->s_fresh = false;
    rmark(w, id, true);
    rdrain(w, true);
    while (eph_pass(w, true)) {
    }
    for (size_t i = 0; i < w->npend; i++)
        if (in_s(w, w->pend[i]))
            rec_of(w, w->pend[i])->exempt = 1;
    for (size_t s = 0; s < w->nslots; s++) {
        wslot *x = &w->ws[s];
        if (x->kind != SL_NONE && priv_ref(x->a) && in_s(w, EXP_ID(x->a)))
            x->doubt = true;
    }
}


/* ------------------------------------------------------------- helpers */

static bool root_holds(gctx *c, uint64_t id) {
    for (size_t r = 0; r < c->m.nroots; r++)
        if (c->m.root_exp[r] == EXP_REF(id))
            return true;
    return false;
}

/* o (the object `id`) and up to SUBWALK objects it reaches are intact.
 * No poll: o may be held by nothing but the caller. */
static bool subwalk(gctx *c, void *o, uint64_t id, const char *where) {
    model *m = &c->m;
    if (!check_obj(c, o, id, where))
        return false;
    if (id & SHARED_BIT)
        return true;
    size_t sp = 0, n = 0;
    m->epoch++;
    model_get(m, id)->mark = m->epoch;
    model_push(m, o, &sp);
    while (sp > 0 && n++ < SUBWALK) {
        void *p = m->stack[--sp];
        int kind;
        if (!check_header(c, p, &kind, where))
            return false;
        mobj *e = model_get(m, WORD(p, id_word(kind)));
        CHECK(c, e != NULL, "%s: object %p lost its id", where, p);
        if (!check_contents(c, p, e, &sp))
            return false;
    }
    return true;
}

/* A weak read of `exp` (0, an immediate, or an object) gave v: exactly
 * that.  deep: and up to SUBWALK objects it reaches are intact (not inside
 * full_check, whose walk marks would be lost: it walks them itself). */
static bool check_read(gctx *c, void *v, uint64_t exp, const char *what, bool deep) {
    if (!EXP_IS_REF(exp)) {
        CHECK(c, v == (void *)(uintptr_t)exp, "%s read %p, made with %#llx", what, v,
              (unsigned long long)exp);
        return true;
    }
    mobj *e = model_get(&c->m, EXP_ID(exp));
    CHECK(c, v && e && (uintptr_t)v == e->addr, "%s read %p, made with object %#llx at %p", what,
          v, (unsigned long long)EXP_ID(exp), e ? (void *)e->addr : NULL);
    return deep ? subwalk(c, v, EXP_ID(exp), what) : check_obj(c, v, EXP_ID(exp), what);
}

/* Store v (the object `id`, just read through a weak reference or given
 * to a finalizer) in a root: it is strongly reachable again. */
static void resurrect(gctx *c, void *v, uint64_t id) {
    /* mostly a slot of the thread's own (frame, handle, VM stack): stores
     * there have no barrier, so only the read's shade keeps v alive */
    size_t r = root_to_overwrite(c);
    for (int tries = 0; tries < 4 && c->m.root_global[r] && rnd(c, 4); tries++)
        r = root_to_overwrite(c);
    root_write(c, r, v);
    c->m.root_exp[r] = EXP_REF(id);
}

static size_t slot_of(gctx *c, int kind) {
    gweak *w = c->gw;
    for (int tries = 0; tries < 8; tries++) {
        size_t s = rnd(c, w->nslots);
        if (w->ws[s].kind == kind)
            return s;
    }
    return SIZE_MAX;
}

static size_t run_batch(gctx *c, size_t max) {
    c->gw->s_fresh = false;
    tl_in_run = 1;
    size_t n = rtgc_run_finalizers(c->t, max);
    tl_in_run = 0;
    return n;
}

/* -------------------------------------------------------------- finalizers */

static void gw_finalizer(rtgc_thread *t, void *obj, void *data);

/* A run of the finalizer of `id`, by this thread (obj given) or by another
 * (from the mailbox). */
static bool fin_ran(gctx *c, void *obj, uint64_t id) {
    gweak *w = c->gw;
    CHECK(c, rec_of(w, id)->pidx != 0, "the finalizer of %#llx ran twice, or without a "
          "registration", (unsigned long long)id);
    pend_remove(w, rec_of(w, id));
    rec_of(w, id)->nruns++;
    mobj *e = model_get(&c->m, id);
    CHECK(c, e && !e->dead, "the finalizer of %#llx ran, but the model found it dead",
          (unsigned long long)id);
    if (!w->s_fresh) {
        gw_reach(w);
        w->s_fresh = true;
    }
    CHECK(c, !in_s(w, id) || rec_of(w, id)->exempt,
          "the finalizer of %#llx ran, yet the object is reachable", (unsigned long long)id);
    rec_of(w, id)->exempt = 0;
    if (!obj)
        return true;
    if (!subwalk(c, obj, id, "finalized object"))
        return false;
    if (!w->settling && rnd(c, 4) == 0) {
        resurrect(c, obj, id);
        w->fin_resurrect++;
        after_resurrect(w, id);
        if (rnd(c, 2)) {
            rtgc_status st = rtgc_finalizer_register(c->t, obj, gw_finalizer, w);
            CHECK(c, st == RTGC_OK, "rtgc_finalizer_register in a finalizer: %s",
                  rtgc_status_name(st));
            pend_add(w, id);
            w->registered++;
            w->fin_reregister++;
        }
    }
    return true;
}

static void gw_finalizer(rtgc_thread *t, void *obj, void *data) {
    gweak *w = data;
    if (!tl_in_run)
        async_fail("a finalizer ran outside rtgc_run_finalizers (in a pause, or on a collector "
                   "thread): object %p", obj);
    __atomic_add_fetch(&w->ran, 1, __ATOMIC_SEQ_CST);
    int kind = kind_of_lid(w->L, rtgc_header_layout(rtgc_object_header(obj)));
    uint64_t id = kind < 0 ? 0 : WORD(obj, id_word(kind));
    if (kind < 0 || (id & SHARED_BIT) || ID_OWNER(id) != w->owner || ID_INDEX(id) == 0) {
        async_fail("a finalizer of owner %d got %p (header %#llx, id %#llx)", w->owner, obj,
                   (unsigned long long)rtgc_object_header(obj), (unsigned long long)id);
        return;
    }
    pthread_mutex_lock(&w->mu);
    if (w->closed) {
        /* the owner is done: match the run with its registration */
        if (ID_INDEX(id) >= w->nrec || !w->rec[ID_INDEX(id)].pidx)
            async_fail("the finalizer of %#llx ran twice, or without a registration",
                       (unsigned long long)id);
        else
            pend_remove(w, &w->rec[ID_INDEX(id)]);
        pthread_mutex_unlock(&w->mu);
        return;
    }
    if (t != w->t) {
        w->mail = grow_arr(w->mail, &w->capmail, w->nmail + 1, sizeof *w->mail);
        w->mail[w->nmail++] = id;
        pthread_mutex_unlock(&w->mu);
        return;
    }
    pthread_mutex_unlock(&w->mu);
    fin_ran(w->c, obj, id);
}

static bool mail_drain(gctx *c) {
    gweak *w = c->gw;
    if (!w->threaded)
        return true;
    pthread_mutex_lock(&w->mu);
    uint64_t *ids = w->mail;
    size_t n = w->nmail;
    w->mail = NULL;
    w->nmail = w->capmail = 0;
    pthread_mutex_unlock(&w->mu);
    bool ok = true;
    w->s_fresh = false;
    for (size_t i = 0; i < n && ok; i++) {
        w->fin_remote++;
        ok = fin_ran(c, NULL, ids[i]);
    }
    free(ids);
    return ok;
}

/* ------------------------------------------------------------ operations */

static void *imm(gctx *c) {
    return (void *)(uintptr_t)((test_rand(&c->rng) << 1) | 1);
}

/* A fresh object in temporary t, sometimes with edges into the graph. */
static bool fresh(gctx *c, size_t tmp, void **out) {
    gweak *w = c->gw;
    if (!new_object(c, out))
        return false;
    w->slots[w->nslots + tmp] = *out;
    return rnd(c, 2) || op_link(c, *out, false);
}

static void clear_tmps(gweak *w) {
    for (size_t i = 0; i < NTMP; i++)
        w->slots[w->nslots + i] = NULL;
}

static bool op_weak_new(gctx *c) {
    gweak *w = c->gw;
    size_t s = rnd(c, w->nslots);
    uint64_t x = rnd(c, 100);
    void *target = NULL;
    if (x < 8) {
        target = imm(c);
    } else if (x < 40) {
        if (!fresh(c, 0, &target)) /* held by nothing but the weak reference */
            return false;
    } else {
        if (!pick(c, true, &target))
            return false;
        if (!target)
            return true;
    }
    void *wr = rtgc_weak_new(c->t, target);
    CHECK(c, wr != NULL, "rtgc_weak_new returned NULL");
    CHECK(c, rtgc_is_weak(c->h, wr) && !rtgc_is_ephemeron(c->h, wr),
          "rtgc_weak_new made %p, not a weak reference", wr);
    w->slots[s] = wr;
    uint64_t exp = obj_exp(c, target);
    void *back = rtgc_weak_get(c->t, wr);
    CHECK(c, back == target, "a new weak reference to %p reads %p", target, back);
    clear_tmps(w);
    w->ws[s] = (wslot){.kind = SL_WEAK, .a = exp, .obj = wr, .weakonly = x >= 8 && x < 40};
    w->n_weak++;
    return true;
}

static bool op_eph_new(gctx *c) {
    gweak *w = c->gw;
    size_t s = rnd(c, w->nslots);
    /* the value: fresh, held only by the ephemeron; sometimes a child */
    void *val = NULL;
    uint64_t x = rnd(c, 100);
    if (x < 88) {
        if (!fresh(c, 0, &val))
            return false;
        mobj *ve = model_get(&c->m, EXP_ID(obj_exp(c, val)));
        if (ve->nfields && rnd(c, 2)) {
            void *ch;
            if (!fresh(c, 1, &ch))
                return false;
            val = w->slots[w->nslots];
            ve = model_get(&c->m, EXP_ID(obj_exp(c, val))); /* the model may have moved */
            size_t i = rnd(c, ve->nfields < 8 ? ve->nfields : 8);
            rtgc_store(c->t, val, field_slot(ve->kind, val, i), ch);
            ve->fields[i] = obj_exp(c, ch);
        }
    } else if (x < 94) {
        val = imm(c);
    }
    /* the key, obtained last: nothing allocates until the ephemeron holds it */
    void *key = NULL;
    uint64_t y = rnd(c, 100);
    if (y < 20) {
        size_t e = slot_of(c, SL_EPH);
        void *k, *v;
        if (e != SIZE_MAX && rtgc_ephemeron_get(c->t, w->slots[e], &k, &v) && rtgc_is_ref(v)) {
            if (!check_read(c, k, w->ws[e].a, "chain key's ephemeron key", true) ||
                !check_read(c, v, w->ws[e].b, "chain key's ephemeron value", true))
                return false;
            key = v; /* a chain: that ephemeron's value is this one's key */
            w->n_chain++;
        }
    } else if (y < 32) {
        size_t e = slot_of(c, SL_WEAK);
        void *v = e == SIZE_MAX ? NULL : rtgc_weak_get(c->t, w->slots[e]);
        if (v && !check_read(c, v, w->ws[e].a, "weak key", true))
            return false;
        key = v; /* perhaps weakly reachable only */
    } else if (y < 40) {
        if (!fresh(c, 2, &key)) /* held by nothing but this ephemeron */
            return false;
    } else if (y < 43) {
        key = imm(c);
    }
    if (!key && !pick(c, true, &key))
        return false;
    if (!key) {
        clear_tmps(w);
        return true;
    }
    void *eph = rtgc_ephemeron_new(c->t, key, val);
    CHECK(c, eph != NULL, "rtgc_ephemeron_new returned NULL");
    CHECK(c, rtgc_is_ephemeron(c->h, eph) && !rtgc_is_weak(c->h, eph),
          "rtgc_ephemeron_new made %p, not an ephemeron", eph);
    w->slots[s] = eph;
    clear_tmps(w);
    void *k, *v;
    int live = rtgc_ephemeron_get(c->t, eph, &k, &v);
    CHECK(c, live && k == key && v == val, "a new ephemeron (%p, %p) reads %d (%p, %p)", key, val,
          live, k, v);
    w->ws[s] = (wslot){.kind = SL_EPH, .a = obj_exp(c, key), .b = obj_exp(c, val), .obj = eph,
                       .weakonly = y < 40};
    w->n_eph++;
    return true;
}

/* Reads weak slot s: its target (weak reference), or key and value
 * (ephemeron); false when it reads cleared. */
static bool slot_read(gctx *c, size_t s, void **k, void **v) {
    wslot *x = &c->gw->ws[s];
    *k = *v = NULL;
    if (x->kind == SL_WEAK)
        return (*k = rtgc_weak_get(c->t, x->obj)) != NULL;
    return rtgc_ephemeron_get(c->t, x->obj, k, v) != 0;
}

static const char *slot_what(const wslot *x) {
    return x->kind == SL_WEAK ? "weak reference" : "ephemeron";
}

/* A weak reference or ephemeron read between checks: cleared (never with
 * its target or key in a root, unless in doubt), or intact; sometimes what
 * it gives is stored in a root. */
static bool op_slot_read(gctx *c) {
    gweak *w = c->gw;
    size_t s = slot_of(c, rnd(c, 3) ? SL_WEAK : SL_EPH);
    if (s == SIZE_MAX)
        return true;
    wslot *x = &w->ws[s];
    void *k, *v;
    bool live = slot_read(c, s, &k, &v);
    w->reads++;
    if (!live) {
        w->reads_null++;
        CHECK(c, !k && !v, "a cleared %s reads (%p, %p)", slot_what(x), k, v);
        CHECK(c, !(x->a & 1), "a %s made with immediate %#llx reads cleared", slot_what(x),
              (unsigned long long)x->a);
        /* seen cleared already (a finalizer's object, cleared before it ran,
         * then resurrected): cleared for good, whoever holds the target */
        CHECK(c, x->cleared || x->doubt || !root_holds(c, EXP_ID(x->a)), "a %s whose target/key %#llx a "
              "root holds reads cleared", slot_what(x), (unsigned long long)EXP_ID(x->a));
        x->cleared = true;
        return true;
    }
    CHECK(c, !x->cleared, "a %s seen cleared reads (%p, %p)", slot_what(x), k, v);
    x->doubt = false;
    if (!check_read(c, k, x->a, slot_what(x), true) ||
        (x->kind == SL_EPH && !check_read(c, v, x->b, "ephemeron value", true)))
        return false;
    if (w->settling || rnd(c, 2))
        return true;
    bool val = x->kind == SL_EPH && priv_ref(x->b) && rnd(c, 2);
    if (val || priv_ref(x->a)) {
        resurrect(c, val ? v : k, EXP_ID(val ? x->b : x->a));
        w->read_resurrect++;
    }
    return true;
}

/* While marking runs: read the weak references whose targets were only
 * weakly reachable when last seen, and store what they give in roots
 * ([weak.get]: a read before marking is declared final must shade it). */
static bool op_marking_burst(gctx *c) {
    gweak *w = c->gw;
    for (size_t s = 0; s < w->nslots && (rtgc_state(c->t) & RTGC_STATE_MARKING); s++) {
        wslot *x = &w->ws[s];
        if (x->kind != SL_WEAK || x->cleared || !x->weakonly || !priv_ref(x->a))
            continue;
        void *v = rtgc_weak_get(c->t, x->obj);
        w->reads++;
        if (!v) {
            w->reads_null++;
            x->cleared = true;
            continue;
        }
        x->doubt = false;
        if (!check_read(c, v, x->a, "weak read while marking", false))
            return false;
        resurrect(c, v, EXP_ID(x->a));
        x->weakonly = false;
        w->read_resurrect++;
        w->burst++;
    }
    return true;
}

static bool op_fin_register(gctx *c) {
    gweak *w = c->gw;
    void *o;
    if (!pick(c, true, &o))
        return false;
    if (!o)
        return true;
    uint64_t id = EXP_ID(obj_exp(c, o));
    if (rec_of(w, id)->pidx)
        return true;
    rtgc_status st = rtgc_finalizer_register(c->t, o, gw_finalizer, w);
    CHECK(c, st == RTGC_OK, "rtgc_finalizer_register: %s", rtgc_status_name(st));
    rec_of(w, id)->exempt = 0;
    pend_add(w, id);
    w->registered++;
    return true;
}

static bool op_fin_run(gctx *c) {
    if (!mail_drain(c))
        return false;
    if (rtgc_finalizers_ready(c->h) == 0 && rnd(c, 8))
        return true;
    run_batch(c, rnd(c, 4) ? SIZE_MAX : 1 + rnd(c, 8));
    return !c->failed;
}

bool gw_step(gctx *c) {
    gweak *w = c->gw;
    if (!async_check(c))
        return false;
    if (w->threaded && !mail_drain(c))
        return false;
    if ((rtgc_state(c->t) & RTGC_STATE_MARKING) && rnd(c, 2))
        return op_marking_burst(c);
    uint64_t x = rnd(c, 100);
    if (x < 20)
        return op_weak_new(c);
    if (x < 36)
        return op_eph_new(c);
    if (x < 76)
        return op_slot_read(c);
    if (x < 80) {
        size_t s = rnd(c, w->nslots);
        w->slots[s] = NULL;
        w->ws[s].kind = SL_NONE;
        return true;
    }
    if (x < 88)
        return op_fin_register(c);
    return op_fin_run(c);
}

/* ------------------------------------------------------- explicit collect */

typedef struct must_run {
    uint64_t id;
    uint32_t nruns;
} must_run;

bool gw_collect_check(gctx *c) {
    gweak *w = c->gw;
    if (!mail_drain(c))
        return false;
    gw_reach(w);
    uint32_t ep = w->repoch;
    size_t nmust = 0;
    must_run *must = calloc(w->npend + 1, sizeof *must);
    for (size_t i = 0; i < w->npend; i++) {
        wrec *r = rec_of(w, w->pend[i]);
        if (r->smark != ep && r->hmark != ep)
            must[nmust++] = (must_run){w->pend[i], r->nruns};
    }
    /* verdicts for every slot, from the model as it is now */
    uint8_t *verdict = calloc(w->nslots + 1, 1); /* 1: must be live, 2: must be cleared */
    for (size_t s = 0; s < w->nslots; s++) {
        wslot *x = &w->ws[s];
        if (x->kind == SL_NONE)
            continue;
        if (x->a & 1) {
            verdict[s] = 1;
        } else if (priv_ref(x->a)) {
            wrec *r = rec_of(w, EXP_ID(x->a));
            if (r->smark == ep)
                verdict[s] = x->cleared || x->doubt ? 0 : 1;
            else if (r->hmark != ep)
                verdict[s] = 2;
        }
    }
    rtgc_collect(c->t);
    c->collects++;
    w->checks++;
    bool ok = true;
    for (size_t s = 0; s < w->nslots && ok; s++) {
        wslot *x = &w->ws[s];
        if (x->kind == SL_NONE)
            continue;
        void *k, *v;
        bool live = slot_read(c, s, &k, &v);
        const char *what = slot_what(x);
        if (verdict[s] == 2) {
            w->must_clear++;
            if (live) {
                ctx_fail(c, __FILE__, __LINE__, "after rtgc_collect, a %s whose target/key %#llx "
                         "was unreachable when it began reads %p", what,
                         (unsigned long long)EXP_ID(x->a), k);
                ok = false;
            }
        } else if (verdict[s] == 1 && !live) {
            ctx_fail(c, __FILE__, __LINE__, "after rtgc_collect, a %s whose target/key %#llx is "
                     "reachable reads cleared", what, (unsigned long long)(x->a & 1 ? x->a : EXP_ID(x->a)));
            ok = false;
        } else if (live && x->cleared) {
            ctx_fail(c, __FILE__, __LINE__, "a %s seen cleared reads %p again", what, k);
            ok = false;
        }
        if (!ok)
            break;
        x->doubt = false;
        if (!live) {
            x->cleared = true;
            ok = x->kind == SL_WEAK || (k == NULL && v == NULL);
            if (!ok)
                ctx_fail(c, __FILE__, __LINE__, "a cleared ephemeron reads (%p, %p)", k, v);
            continue;
        }
        ok = check_read(c, k, x->a, what, true) &&
             (x->kind == SL_WEAK || check_read(c, v, x->b, what, true));
    }
    free(verdict);
    /* Every pending finalizer whose object was unreachable is ready. */
    if (ok && !w->threaded) {
        size_t ready = rtgc_finalizers_ready(c->h);
        if (ready < nmust) {
            ctx_fail(c, __FILE__, __LINE__, "after rtgc_collect, %zu finalizers ready, but %zu "
                     "objects with one were unreachable", ready, nmust);
            ok = false;
        }
    }
    if (ok) {
        /* threaded: another thread may have taken some; they reach the
         * mailbox soon */
        uint64_t t0 = rtgc_now_ns();
        for (;;) {
            run_batch(c, SIZE_MAX);
            if (c->failed || !mail_drain(c)) {
                ok = false;
                break;
            }
            size_t left = 0;
            for (size_t i = 0; i < nmust; i++)
                left += rec_of(w, must[i].id)->nruns == must[i].nruns;
            if (!left)
                break;
            if (!w->threaded || rtgc_now_ns() - t0 > 5000000000ull) {
                for (size_t i = 0; i < nmust; i++)
                    if (rec_of(w, must[i].id)->nruns == must[i].nruns) {
                        ctx_fail(c, __FILE__, __LINE__, "%zu finalizers (first: of %#llx) did "
                                 "not run after rtgc_collect, though their objects were "
                                 "unreachable when it began", left,
                                 (unsigned long long)must[i].id);
                        break;
                    }
                ok = false;
                break;
            }
            rtgc_enter_blocking(c->t);
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
            rtgc_leave_blocking(c->t);
        }
    }
    w->must_run += nmust;
    free(must);
    return ok && async_check(c);
}

/* ------------------------------------------------------------- the walk */

bool gw_walk(gctx *c) {
    gweak *w = c->gw;
    model *m = &c->m;
    if (!async_check(c))
        return false;
    /* the weak objects themselves: live, counted */
    for (size_t s = 0; s < w->nslots; s++) {
        wslot *x = &w->ws[s];
        if (x->kind == SL_NONE) {
            CHECK(c, w->slots[s] == NULL, "empty weak slot %zu holds %p", s, w->slots[s]);
            continue;
        }
        CHECK(c, w->slots[s] == x->obj, "weak slot %zu holds %p, set to %p", s, w->slots[s], x->obj);
        bool weak = x->kind == SL_WEAK;
        CHECK(c, weak ? rtgc_is_weak(c->h, x->obj) : rtgc_is_ephemeron(c->h, x->obj),
              "weak slot %zu: %p (header %#llx) is no longer a %s", s, x->obj,
              (unsigned long long)rtgc_object_header(x->obj), weak ? "weak reference" : "ephemeron");
        m->reach_objs++;
        m->reach_bytes += weak ? WEAK_BYTES : EPH_BYTES;
        m->reach_bytes_max += class_bytes(weak ? WEAK_BYTES : EPH_BYTES);
    }
#define STRONG(exp) (((exp) & 1) || (priv_ref(exp) && model_get(m, EXP_ID(exp))->mark == m->epoch))
    /* the ephemeron rule: values of ephemerons whose keys were reached are
     * strongly reachable, and the walk goes on from them */
    size_t sp = 0;
    bool changed = true;
    while (changed) {
        changed = false;
        for (size_t s = 0; s < w->nslots; s++) {
            wslot *x = &w->ws[s];
            if (x->kind != SL_EPH || x->cleared || !STRONG(x->a) || !priv_ref(x->b) ||
                model_get(m, EXP_ID(x->b))->mark == m->epoch)
                continue;
            void *k, *v;
            int live = rtgc_ephemeron_get(c->t, x->obj, &k, &v);
            if (!live && x->doubt) {
                CHECK(c, !k && !v, "a cleared ephemeron reads (%p, %p)", k, v);
                x->cleared = true;
                continue;
            }
            CHECK(c, live, "an ephemeron whose key %#llx is reachable reads cleared (%p, %p)",
                  (unsigned long long)x->a, k, v);
            x->doubt = false;
            if (!check_read(c, k, x->a, "ephemeron key (walk)", false) ||
                !check_value(c, v, x->b, "ephemeron value (walk)", s))
                return false;
            model_get(m, EXP_ID(x->b))->mark = m->epoch;
            model_push(m, v, &sp);
            if (!walk_drain(c, &sp, true))
                return false;
            changed = true;
        }
    }
    /* verdicts before anything weakly held is marked */
    bool strong[w->nslots + 1];
    for (size_t s = 0; s < w->nslots; s++)
        strong[s] = w->ws[s].kind != SL_NONE && !w->ws[s].cleared && !w->ws[s].doubt &&
                    STRONG(w->ws[s].a);
#undef STRONG
    for (size_t s = 0; s < w->nslots; s++) {
        wslot *x = &w->ws[s];
        if (x->kind == SL_NONE)
            continue;
        void *k, *v;
        bool live = slot_read(c, s, &k, &v);
        if (strong[s]) {
            CHECK(c, live, "a %s whose target/key %#llx is reachable reads cleared",
                  slot_what(x), (unsigned long long)x->a);
            if (!check_read(c, k, x->a, "weak read (walk)", false) ||
                (x->kind == SL_EPH && !check_read(c, v, x->b, "ephemeron value (walk)", false)))
                return false;
            continue;
        }
        if (!live) {
            CHECK(c, x->kind == SL_WEAK || (!k && !v), "a cleared ephemeron reads (%p, %p)", k, v);
            x->cleared = true;
            continue;
        }
        CHECK(c, !x->cleared, "a %s seen cleared reads %p again", slot_what(x), k);
        x->doubt = false;
        x->weakonly = true;
        /* weakly held: checked, and kept in the model; no poll meanwhile */
        uint64_t e2[2] = {x->a, x->kind == SL_EPH ? x->b : 0};
        void *o2[2] = {k, v};
        for (int i = 0; i < 2; i++) {
            if (!priv_ref(e2[i]))
                continue;
            if (!check_read(c, o2[i], e2[i], "weakly held object", false))
                return false;
            mobj *e = model_get(m, EXP_ID(e2[i]));
            if (e->mark != m->epoch) {
                e->mark = m->epoch;
                model_push(m, o2[i], &sp);
                if (!walk_drain(c, &sp, false))
                    return false;
            }
        }
    }
    /* what pending finalizers' objects reach stays in the model */
    w->repoch++;
    w->s_fresh = false;
    for (size_t i = 0; i < w->npend; i++)
        rmark(w, w->pend[i], false);
    while (w->rsp) {
        mobj *e = model_get(m, w->rstack[--w->rsp]);
        if (!e || e->dead)
            continue;
        e->mark = m->epoch;
        for (size_t f = 0; f < e->nfields; f++)
            if (priv_ref(e->fields[f]))
                rmark(w, EXP_ID(e->fields[f]), false);
    }
    return true;
}

/* --------------------------------------------------------- set-up, end */

gweak *gw_setup(gctx *c, size_t nslots) {
    gweak *w = calloc(1, sizeof *w);
    w->c = c;
    w->t = c->t;
    w->L = c->L;
    w->owner = c->m.owner;
    w->threaded = c->sh != NULL;
    w->nslots = nslots;
    w->slots = calloc(nslots + NTMP, sizeof *w->slots);
    w->ws = calloc(nslots, sizeof *w->ws);
    pthread_mutex_init(&w->mu, NULL);
    rtgc_frame_push(c->t, &w->fr, w->slots, nslots + NTMP);
    c->gw = w;
    return w;
}

bool gw_settle(gctx *c) {
    gweak *w = c->gw;
    w->settling = true;
    for (int i = 0; i < 100; i++) {
        rtgc_collect(c->t);
        c->collects++;
        if (run_batch(c, SIZE_MAX) == 0)
            return !c->failed && async_check(c);
        if (c->failed)
            return false;
    }
    CHECK(c, false, "100 collections, and each queued more finalizers");
    return false;
}

void gw_close(gctx *c) {
    gweak *w = c->gw;
    if (!w)
        return;
    if (!c->failed)
        mail_drain(c);
    for (size_t i = 0; i < w->nslots + NTMP; i++)
        w->slots[i] = NULL;
    rtgc_frame_pop(c->t, &w->fr);
    pthread_mutex_lock(&w->mu);
    w->closed = true;
    pthread_mutex_unlock(&w->mu);
    c->gw = NULL;
}

bool gw_final_drain(rtgc_thread *t, gweak *const *ws, size_t n, char *err, size_t errlen) {
    size_t ran = 1;
    for (int i = 0; i < 100 && ran; i++) {
        rtgc_collect(t);
        tl_in_run = 1;
        ran = rtgc_run_finalizers(t, SIZE_MAX);
        tl_in_run = 0;
    }
    if (ran) {
        snprintf(err, errlen, "100 collections, and each queued more finalizers");
        return false;
    }
    if (rtgc_finalizers_ready(rtgc_thread_heap(t)) != 0) {
        snprintf(err, errlen, "%zu finalizers ready after they were all run",
                 rtgc_finalizers_ready(rtgc_thread_heap(t)));
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        gweak *w = ws[i];
        if (!w)
            continue;
        uint64_t r = __atomic_load_n(&w->ran, __ATOMIC_SEQ_CST);
        if (w->npend != 0 || r != w->registered) {
            snprintf(err, errlen, "owner %d: %llu finalizers registered, %llu ran, %zu never did "
                     "(first: %#llx)", w->owner, (unsigned long long)w->registered,
                     (unsigned long long)r, w->npend,
                     (unsigned long long)(w->npend ? w->pend[0] : 0));
            return false;
        }
    }
    if (__atomic_load_n(&async_fails, __ATOMIC_SEQ_CST)) {
        snprintf(err, errlen, "%s", async_msg);
        return false;
    }
    return true;
}

void gw_summary(gweak *const *ws, size_t n, char *buf, size_t len) {
    uint64_t t[15] = {0};
    for (size_t i = 0; i < n; i++) {
        const gweak *w = ws[i];
        if (!w)
            continue;
        uint64_t v[15] = {w->n_weak, w->n_eph, w->n_chain, w->reads, w->reads_null,
                          w->read_resurrect, w->registered, w->ran, w->fin_resurrect,
                          w->fin_reregister, w->fin_remote, w->checks, w->must_clear, w->must_run,
                          w->burst};
        for (int k = 0; k < 15; k++)
            t[k] += v[k];
    }
    snprintf(buf, len, "%llu weak refs, %llu ephemerons (%llu chained), %llu weak reads "
             "(%llu cleared, %llu resurrected), %llu finalizers registered, %llu ran "
             "(%llu resurrected, %llu registered again, %llu on another thread), "
             "%llu collect checks (%llu clears, %llu finalizers required), "
             "%llu resurrections while marking",
             (unsigned long long)t[0], (unsigned long long)t[1], (unsigned long long)t[2],
             (unsigned long long)t[3], (unsigned long long)t[4], (unsigned long long)t[5],
             (unsigned long long)t[6], (unsigned long long)t[7], (unsigned long long)t[8],
             (unsigned long long)t[9], (unsigned long long)t[10], (unsigned long long)t[11],
             (unsigned long long)t[12], (unsigned long long)t[13], (unsigned long long)t[14]);
}

void gw_free(gweak *w) {
    if (!w)
        return;
    free(w->slots);
    free(w->ws);
    free(w->rec);
    free(w->pend);
    free(w->rstack);
    free(w->mail);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

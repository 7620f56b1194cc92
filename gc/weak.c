/* gc/weak.c - weak references, ephemerons and finalizers.
 *
 * Objects.  A weak reference is a RECORD of one word (the target) and an
 * ephemeron a RECORD of two (key, value), both of internal layouts with no
 * reference slots: the marker never follows them as strong references.
 * The layouts are registered on first use, so an embedder's layout ids do
 * not move.  Every weak reference and ephemeron is in weak_reg (a registry
 * under weak_lock) from its creation until a collection finds it dead.
 *
 * [weak.order] After strong marking is complete (termination), in a cycle
 * of any mode:
 *   WEAK      clear weak refs with an unmarked target and ephemerons with an
 *             unmarked key (key and value), marked or not (clear_entries);
 *   FINALIZE  every registered object that is unmarked is marked (kept),
 *             traced with everything it reaches, and queued; ephemerons
 *             reached by that tracing join the fixpoint;
 *   WEAK      again, now also forgetting unmarked weak refs and
 *             ephemerons (they are garbage: the sweep frees them).
 * Each step works in slices against the caller's deadline; the registries
 * are walked by index from a snapshot of their length, so threads may
 * register more meanwhile (those are live this cycle: see [weak.get]).
 *
 * [weak.eph] Ephemeron fixpoint.  When the marker traces an ephemeron whose
 * key is marked, it marks the value; otherwise the ephemeron goes on the
 * pending list.  Before marking may end, the pending list is rescanned:
 * values of ephemerons whose key is marked now are marked, and tracing
 * goes on (those values may make more keys reachable).  Marking ends only
 * when a rescan marks nothing.  An ephemeron allocated while marking is on
 * is allocated black and never traced, so its creation shades its value:
 * the value lives through this cycle whatever becomes of the key.
 *
 * [weak.get] The race.  A weak target is white until something marks it,
 * and a black weak reference points at it: the one place where the strong
 * tri-colour invariant does not hold, on purpose.  rtgc_weak_get while
 * marking is on must not hand out a white target after marking has been
 * declared complete (it would be resurrected without its children being
 * traced), and must keep alive (shade) what it hands out before that.  So
 * the slow path runs under weak_lock: if weak_final is set, an unmarked
 * target reads as NULL (it is being cleared); otherwise the target is
 * shaded, which moves shade_count.  The collector declares marking
 * complete (weak_decide) under the same lock, only if shade_count has not
 * moved since its termination round began: a shade that came before sends
 * the cycle back to tracing, one that comes after sees weak_final.  Plain
 * loads cannot shade a white object once no grey object exists
 * ([rt.invariant]), so the lock is only needed on this path.
 *
 * Finalizable objects are held by the registry weakly (it is not a root).
 * Objects found unreachable are marked and traced in the FINALIZE step and
 * wait on `queued` (marked, so nothing frees them this cycle); when
 * marking ends they move to `ready` [weak.ready], which is a root until
 * their finalizers have run.
 *
 * [weak.fq] No step is longer for a longer registry or queue.  The
 * finalizer queues are lists of fixed-size chunks, so `queued` joins
 * `ready` at the end of a cycle in O(1) whatever its length.  The ready
 * queue is a root scanned in slices against the deadline (PHASE_ROOTS,
 * after every thread, like any global); that is safe while mutators run
 * because nothing is added to it while marking is on (only
 * weak_marking_done adds, as marking ends), and rtgc_run_finalizers shades each
 * object it takes out ([rt.invariant]: a read of a global slot shades),
 * so an entry leaves the queue either visited or shaded.  When it frees
 * the chunk the scan is in, it moves the scan's cursor to the next one.
 * The registry passes and the ready scan hold weak_lock for at most
 * WEAK_SLICE entries at a time, and hand it to waiting mutators between
 * holds ([heap.handoff]), so a mutator waiting for it (a weak read while
 * marking, a registration) waits for that much work, not a slice.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define WEAK_SLICE 256u   /* registry entries between clock reads, and under one hold of weak_lock */
#define FQ_CHUNK 340u     /* finalizer-queue entries per chunk (about 8 KiB) */

typedef struct fq_chunk {
    struct fq_chunk *next;
    uint32_t head, n;               /* [head, n) are queued */
    fin_entry e[FQ_CHUNK];
} fq_chunk;

static bool fq_push(struct fin_queue *q, fin_entry e) {
    fq_chunk *c = q->last;
    if (!c || c->n == FQ_CHUNK) {
        c = malloc(sizeof *c);
        if (!c)
            return false;
        c->next = NULL;
        c->head = c->n = 0;
        if (q->last)
            q->last->next = c;
        else
            q->first = c;
        q->last = c;
    }
    c->e[c->n++] = e;
    q->count++;
    return true;
}

/* q is not empty.  A chunk emptied is freed; the ready scan's cursor moves
 * off it [weak.fq]. */
static fin_entry fq_pop(rtgc_heap *h, struct fin_queue *q) {
    fq_chunk *c = q->first;
    fin_entry e = c->e[c->head++];
    q->count--;
    if (c->head == c->n) {
        q->first = c->next;
        if (!q->first)
            q->last = NULL;
        if (h->rscan == c) {
            h->rscan = c->next;
            h->rscan_i = 0;
        }
        free(c);
    }
    return e;
}

static void fq_splice(struct fin_queue *dst, struct fin_queue *src) {
    if (!src->first)
        return;
    if (dst->last)
        dst->last->next = src->first;
    else
        dst->first = src->first;
    dst->last = src->last;
    dst->count += src->count;
    src->first = src->last = NULL;
    src->count = 0;
}

static void fq_free(struct fin_queue *q) {
    for (fq_chunk *c = q->first, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    q->first = q->last = NULL;
    q->count = 0;
}

void weak_init(rtgc_heap *h) {
    pthread_mutex_init(&h->weak_lock, NULL);
    pthread_mutex_init(&h->weak_layout_lock, NULL);
    pthread_mutex_init(&h->eph_lock, NULL);
}

void weak_fini(rtgc_heap *h) {
    free(h->weak_reg);
    free(h->fin);
    fq_free(&h->ready);
    fq_free(&h->queued);
    free(h->eph_pending);
    pthread_mutex_destroy(&h->weak_lock);
    pthread_mutex_destroy(&h->weak_layout_lock);
    pthread_mutex_destroy(&h->eph_lock);
}

bool weak_marked(const rtgc_heap *h, const void *p) {
    if (!rtgc_is_ref(p) || !in_heap(h, p))
        return true;                    /* immediates and static objects never die */
    return rtgc_load_u8(mark_byte(h, p)) == rtgc_load_u8(&h->epoch);
}

static rtgc_layout_id weak_layout(const rtgc_heap *h) {
    return __atomic_load_n(&h->weak_id, __ATOMIC_ACQUIRE);
}
static rtgc_layout_id eph_layout(const rtgc_heap *h) {
    return __atomic_load_n(&h->eph_id, __ATOMIC_ACQUIRE);
}

static bool grow(void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    void *n = realloc(*arr, nc * elem);
    if (!n)
        return false;
    *arr = n;
    *cap = nc;
    return true;
}

/* Register the internal layouts once per heap.  Lock order: h->lock may be
 * held while weak_lock is taken (root scans), never the other way round, so
 * this takes a lock of its own. */
static bool ensure_layouts(rtgc_heap *h) {
    if (__atomic_load_n(&h->eph_id, __ATOMIC_ACQUIRE))
        return true;
    pthread_mutex_lock(&h->weak_layout_lock);
    bool ok = true;
    if (!__atomic_load_n(&h->eph_id, __ATOMIC_RELAXED)) {
        rtgc_layout w = {.name = "rtgc.weak", .kind = RTGC_LAYOUT_RECORD, .size = 16};
        rtgc_layout e = {.name = "rtgc.ephemeron", .kind = RTGC_LAYOUT_RECORD, .size = 24};
        rtgc_layout_id wid, eid;
        rtgc_error err;
        ok = rtgc_layout_register(h, &w, &wid, &err) == RTGC_OK &&
             layout_register(h, &e, &eid, &err, true) == RTGC_OK; /* traced: [weak.eph] */
        if (ok) {
            /* Their slots hold references the collector reads (weakly):
             * never to be allocated uninitialised [alloc.uninit]. */
            const rtgc_layout_id ids[] = {wid, eid};
            for (size_t i = 0; i < 2; i++) {
                h->layouts[ids[i]].pointer_free = false;
                h->layout_info[ids[i]].pointer_free = 0;
            }
            __atomic_store_n(&h->weak_id, wid, __ATOMIC_RELAXED);
            __atomic_store_n(&h->eph_id, eid, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&h->weak_layout_lock);
    return ok;
}

/* [heap.handoff] weak_lock is a plain mutex the collector's passes release
 * and take again between holds of WEAK_SLICE entries: a mutator waiting
 * for it says so, and the passes let it in first. */
static void weak_lock_as_mutator(rtgc_heap *h) {
    lock_as_mutator(&h->weak_lock, &h->weak_waiters);
}

static void *weak_alloc(rtgc_thread *t, rtgc_layout_id id) {
    rtgc_heap *h = t->heap;
    void **obj = rtgc_alloc(t, id);
    if (!obj)
        return NULL;
    weak_lock_as_mutator(h);
    bool ok = grow((void **)&h->weak_reg, &h->capweak, h->nweak + 1, sizeof *h->weak_reg);
    if (ok)
        h->weak_reg[h->nweak++] = obj;
    pthread_mutex_unlock(&h->weak_lock);
    if (!ok) {
        rtgc__report(h, RTGC_ENOMEM, "rtgc_weak_new: out of memory for the weak registry");
        return NULL;
    }
    return obj;
}

void *rtgc_weak_new(rtgc_thread *t, void *target) {
    if (!thread_ok(t, "rtgc_weak_new"))
        return NULL;
    if (!ensure_layouts(t->heap))
        return NULL;
    /* The target is held in a shadow frame across the allocation. */
    RTGC_FRAME(t, r, 1);
    r[0] = target;
    void **w = weak_alloc(t, weak_layout(t->heap));
    if (w)
        rtgc_store_ptr(&w[1], r[0]);    /* no barrier: the slot is not a reference slot */
    RTGC_FRAME_POP(t, r);
    return w;
}

/* [weak.get] */
static void *weak_read(rtgc_thread *t, void **slot) {
    void *v = rtgc_load_ptr(slot);
    if (!rtgc_is_ref(v) || !(rtgc_state(t) & RTGC_STATE_MARKING))
        return v;
    rtgc_heap *h = t->heap;
    weak_lock_as_mutator(h);
    v = rtgc_load_ptr(slot);
    if (rtgc_is_ref(v)) {
        if (rtgc_atomic_load(&h->weak_final)) {
            if (!weak_marked(h, v))
                v = NULL;               /* being cleared */
        } else {
#ifndef RTGC_BROKEN_WEAK_BARRIER
            shade(h, t, v);
#endif
        }
    }
    pthread_mutex_unlock(&h->weak_lock);
    return v;
}

/* Is obj a heap object of layout id?  Only the start of a heap object
 * (a 16-byte-aligned address in the heap) has a header to read: an
 * immediate, NULL or an address outside the heap is not one, and none of
 * them is read. */
static bool is_kind(const rtgc_heap *h, const void *obj, rtgc_layout_id id) {
    return id && rtgc_is_ref(obj) && in_heap(h, obj) && ((uintptr_t)obj & 15) == 0 &&
           rtgc_header_layout(rtgc_object_header(obj)) == id;
}

static bool check_kind(rtgc_thread *t, const void *obj, rtgc_layout_id id, const char *what) {
    if (!is_kind(t->heap, obj, id)) {
        rtgc__misuse(t->heap, "%s: %p is not one", what, obj);
        return false;
    }
    return true;
}

void *rtgc_weak_get(rtgc_thread *t, void *weak) {
    if (!thread_ok(t, "rtgc_weak_get") || !check_kind(t, weak, weak_layout(t->heap), "rtgc_weak_get: a weak reference"))
        return NULL;
    return weak_read(t, (void **)weak + 1);
}

void *rtgc_ephemeron_new(rtgc_thread *t, void *key, void *value) {
    if (!thread_ok(t, "rtgc_ephemeron_new"))
        return NULL;
    if (!key) {
        rtgc__misuse(t->heap, "rtgc_ephemeron_new: the key must not be NULL (a cleared ephemeron has a NULL key)");
        return NULL;
    }
    if (!ensure_layouts(t->heap))
        return NULL;
    RTGC_FRAME(t, r, 2);
    r[0] = key;
    r[1] = value;
    void **e = weak_alloc(t, eph_layout(t->heap));
    if (e) {
        /* [weak.eph] allocated black while marking: never traced, so the
         * value is shaded here. */
        rtgc_shade(t, r[1]);
        rtgc_store_ptr(&e[1], r[0]);
        rtgc_store_ptr(&e[2], r[1]);
    }
    RTGC_FRAME_POP(t, r);
    return e;
}

int rtgc_ephemeron_get(rtgc_thread *t, void *eph, void **key, void **value) {
    void *k = NULL, *v = NULL;
    if (thread_ok(t, "rtgc_ephemeron_get") &&
        check_kind(t, eph, eph_layout(t->heap), "rtgc_ephemeron_get: an ephemeron")) {
        void **e = eph;
        k = weak_read(t, &e[1]);        /* NULL: cleared, or being cleared */
        if (k) {
            /* A live key keeps the value: marked once marking is final
             * [weak.eph], shaded before that. */
            v = rtgc_load_ptr(&e[2]);
            rtgc_shade(t, v);
        }
    }
    if (key)
        *key = k;
    if (value)
        *value = v;
    return k != NULL;
}

int rtgc_is_weak(rtgc_heap *h, const void *obj) {
    return is_kind(h, obj, weak_layout(h));
}

int rtgc_is_ephemeron(rtgc_heap *h, const void *obj) {
    return is_kind(h, obj, eph_layout(h));
}

/* ---- finalizers ---- */

rtgc_status rtgc_finalizer_register(rtgc_thread *t, void *obj, rtgc_finalizer_fn fn, void *data) {
    if (!thread_ok(t, "rtgc_finalizer_register"))
        return RTGC_EMISUSE;
    rtgc_heap *h = t->heap;
    /* the start of an allocated object: the collector will mark and trace it */
    if (!fn) {
        rtgc__misuse(h, "rtgc_finalizer_register: fn is NULL");
        return RTGC_EINVAL;
    }
    if (!rtgc_is_ref(obj) || rtgc_object_start(h, obj) != obj) {
        rtgc__misuse(h, "rtgc_finalizer_register: %p is not the start of a heap object", obj);
        return RTGC_EINVAL;
    }
    weak_lock_as_mutator(h);
    bool ok = grow((void **)&h->fin, &h->capfin, h->nfin + 1, sizeof *h->fin);
    if (ok)
        h->fin[h->nfin++] = (fin_entry){.obj = obj, .fn = fn, .data = data};
    pthread_mutex_unlock(&h->weak_lock);
    return ok ? RTGC_OK : RTGC_ENOMEM;
}

size_t rtgc_finalizers_ready(rtgc_heap *h) {
    weak_lock_as_mutator(h);
    size_t n = h->ready.count;
    pthread_mutex_unlock(&h->weak_lock);
    return n;
}

size_t rtgc_run_finalizers(rtgc_thread *t, size_t max) {
    if (!thread_ok(t, "rtgc_run_finalizers"))
        return 0;
    rtgc_heap *h = t->heap;
    size_t ran = 0;
    RTGC_FRAME(t, r, 1);
    while (ran < max) {
        weak_lock_as_mutator(h);
        if (!h->ready.count) {
            pthread_mutex_unlock(&h->weak_lock);
            break;
        }
        /* The entry stays a root (through r[0]) while fn runs.  The queue is
         * a global root, scanned after every thread: a thread already
         * scanned that takes an object out of it must shade it, as any
         * read of a global slot does ([rt.invariant]), or the object could
         * leave the queue white before the queue is scanned [weak.fq]. */
        fin_entry e = fq_pop(h, &h->ready);
        rtgc_shade(t, e.obj);
        r[0] = e.obj;
        pthread_mutex_unlock(&h->weak_lock);
        e.fn(t, r[0], e.data);
        ran++;
    }
    RTGC_FRAME_POP(t, r);
    return ran;
}

void weak_visit_roots(rtgc_heap *h, rtgc_visitor *v) {
    pthread_mutex_lock(&h->weak_lock);
    for (fq_chunk *c = h->ready.first; c; c = c->next)
        for (uint32_t i = c->head; i < c->n; i++)
            v->visit(v, &c->e[i].obj);
    pthread_mutex_unlock(&h->weak_lock);
}

void weak_ready_scan_begin(rtgc_heap *h) {
    pthread_mutex_lock(&h->weak_lock);
    h->rscan = h->ready.first;
    h->rscan_i = 0;
    h->rscan_on = true;
    pthread_mutex_unlock(&h->weak_lock);
}

/* [weak.fq] Entries below a chunk's head were taken out (and shaded). */
bool weak_ready_scan_slice(rtgc_heap *h, rtgc_visitor *v, uint64_t deadline) {
    for (;;) {
        lock_handoff(&h->weak_waiters, deadline);
        pthread_mutex_lock(&h->weak_lock);
        unsigned budget = WEAK_SLICE;
        while (h->rscan && budget) {
            fq_chunk *c = h->rscan;
            uint32_t i = h->rscan_i > c->head ? h->rscan_i : c->head;
            for (; i < c->n && budget; i++, budget--)
                v->visit(v, &c->e[i].obj);
            if (i == c->n) {
                h->rscan = c->next;
                h->rscan_i = 0;
            } else {
                h->rscan_i = i;
            }
        }
        bool done = !h->rscan;
        if (done)
            h->rscan_on = false;
        pthread_mutex_unlock(&h->weak_lock);
        if (done)
            return true;
        if (os_now_ns() >= deadline)
            return false;
    }
}

/* ---- the collector's side ---- */

static void mark_value(rtgc_heap *h, void *v, bool atomic) {
    if (!rtgc_is_ref(v))
        return;
    if (atomic)
        mark_object_shared(h, v);
    else
        mark_object(h, v);
}

/* Any marker, the coordinator or a helper [mark.parallel]: the value goes
 * on the marker's own stack; the pending list is shared, under eph_lock
 * (a helper may append while the coordinator rescans). */
void weak_eph_traced(marker *m, void *obj) {
    rtgc_heap *h = m->h;
    void **e = obj;
    void *k = rtgc_load_ptr(&e[1]), *v = rtgc_load_ptr(&e[2]);
    if (!rtgc_is_ref(v))
        return;
    if (weak_marked(h, k)) {
        marker_mark(m, v);
        return;
    }
    pthread_mutex_lock(&h->eph_lock);
    if (!grow((void **)&h->eph_pending, &h->capeph, h->neph_pending + 1, sizeof *h->eph_pending))
        rtgc__fatal("out of memory for the ephemeron list");
    h->eph_pending[h->neph_pending++] = obj;
    pthread_mutex_unlock(&h->eph_lock);
}

/* A pass over the pending list goes on from where the last slice stopped
 * (eph_read), so a list longer than one slice can examine is still
 * finished; kept entries are compacted behind it (eph_write).  A pass
 * that marked a value is followed by a whole new pass: the values traced
 * may have made earlier keys reachable.  Entries the marker appends
 * meanwhile go after the read cursor and are examined in this pass. */
static bool eph_rescan_locked(rtgc_heap *h, uint64_t deadline, bool *more);

bool weak_eph_rescan(rtgc_heap *h, uint64_t deadline, bool *more) {
    pthread_mutex_lock(&h->eph_lock);
    bool marked = eph_rescan_locked(h, deadline, more);
    pthread_mutex_unlock(&h->eph_lock);
    return marked;
}

static bool eph_rescan_locked(rtgc_heap *h, uint64_t deadline, bool *more) {
    size_t r = h->eph_read, w = h->eph_write;
    bool atomic = rtgc_atomic_load(&h->phase) != PHASE_IDLE;
    *more = false;
    while (r < h->neph_pending) {
        void **e = h->eph_pending[r++];
        if (weak_marked(h, rtgc_load_ptr(&e[1]))) {
            mark_value(h, rtgc_load_ptr(&e[2]), atomic);
            h->eph_pass_marked = true;
        } else {
            h->eph_pending[w++] = e;
        }
        if ((r & (WEAK_SLICE - 1)) == 0 && r < h->neph_pending && os_now_ns() >= deadline) {
            h->eph_read = r;
            h->eph_write = w;
            *more = true;
            return false;
        }
    }
    h->neph_pending = w;
    h->eph_read = h->eph_write = 0;
    bool marked = h->eph_pass_marked;
    h->eph_pass_marked = false;
    return marked;
}

bool weak_decide(rtgc_heap *h) {
    pthread_mutex_lock(&h->weak_lock);
    bool ok = rtgc_atomic_load(&h->shade_count) == h->term_shaded;
    if (ok) {
        rtgc_atomic_store(&h->weak_final, 1);
        h->weak_cursor = h->weak_read = 0;
        h->weak_snapshot = h->nweak;
    }
    pthread_mutex_unlock(&h->weak_lock);
    return ok;
}

/* A registry pass in slices: entries [0, weak_cursor) are kept, the
 * gap [weak_cursor, weak_read) is what was dropped, [weak_read,
 * weak_snapshot) is still to do, and entries registered since the pass
 * began follow.  The gap is closed once, when the pass ends, so a slice's
 * work is its own entries, not the registry's length.  weak_lock is held
 * for WEAK_SLICE entries at a time [weak.fq]; the pass's state lives in
 * the heap between holds. */
/* [weak.order] Step 1 clears every registered weak reference and
 * ephemeron whose referent is unmarked, its own mark whatever: one that
 * is unmarked may be reachable only from an object about to be finalized,
 * and the FINALIZE step is about to mark what such objects reach, its
 * referent included: cleared now, it agrees with every other weak
 * reference to that referent (seen by the finalizer, or after
 * resurrection).  One that is plain garbage is not touched by anyone else
 * (nothing reaches it) and is freed by the sweep.  Only the marked ones
 * count in weak_cleared.  Step 3 forgets the unmarked (garbage) and clears
 * the marked ones whose referent is still unmarked. */
static void clear_entries(rtgc_heap *h, size_t stop, bool drop_dead) {
    size_t i = h->weak_read, k = h->weak_cursor;
    rtgc_layout_id wid = weak_layout(h);
    while (i < stop) {
        void **w = h->weak_reg[i++];
        bool live = weak_marked(h, w);
        if (!live && drop_dead)
            continue;                   /* garbage the sweep frees */
        bool dead_referent = !weak_marked(h, rtgc_load_ptr(&w[1]));
        if (dead_referent) {
            rtgc_store_ptr(&w[1], NULL);
            if (rtgc_header_layout(rtgc_object_header(w)) != wid)
                rtgc_store_ptr(&w[2], NULL);     /* an ephemeron: its value too */
            if (live)
                h->weak_cleared++;
        }
        h->weak_reg[k++] = w;
    }
    h->weak_read = i;
    h->weak_cursor = k;
}

static void finalize_entries(rtgc_heap *h, size_t stop, bool atomic) {
    size_t i = h->weak_read, k = h->weak_cursor;
    while (i < stop) {
        fin_entry e = h->fin[i++];
        if (weak_marked(h, e.obj)) {
            h->fin[k++] = e;
            continue;
        }
        /* Unreachable: keep it (and, by tracing, what it reaches) and
         * queue it; its registration ends here. */
        mark_value(h, e.obj, atomic);
        if (!fq_push(&h->queued, e))
            rtgc__fatal("out of memory for the finalizer queue");
        h->finalizers_queued++;
    }
    h->weak_read = i;
    h->weak_cursor = k;
}

/* Close the pass's gap in arr (n live entries, elem bytes each): the
 * entries appended since the pass began move down behind the kept ones. */
static void close_gap(void *arr, size_t *n, size_t kept, size_t end, size_t elem) {
    char *a = arr;
    memmove(a + kept * elem, a + end * elem, (*n - end) * elem);
    *n = kept + (*n - end);
}

/* End of a pass: close its gap, and set up the next pass (the FINALIZE
 * step walks the finalizer registry after the first WEAK step, the second
 * WEAK step the weak registry after FINALIZE). */
static void clear_done(rtgc_heap *h, size_t end) {
    close_gap(h->weak_reg, &h->nweak, h->weak_cursor, end, sizeof *h->weak_reg);
    h->weak_snapshot = h->nfin;
}
static void finalize_done(rtgc_heap *h, size_t end) {
    close_gap(h->fin, &h->nfin, h->weak_cursor, end, sizeof *h->fin);
    h->weak_snapshot = h->nweak;
}

/* Run a pass: WEAK_SLICE entries per hold of weak_lock, until the pass
 * ends (true) or the deadline passes between holds (false). */
static bool pass_slices(rtgc_heap *h, uint64_t deadline, void (*entries)(rtgc_heap *, size_t, bool), bool flag,
                        void (*done_fn)(rtgc_heap *, size_t)) {
    for (;;) {
        lock_handoff(&h->weak_waiters, deadline);
        pthread_mutex_lock(&h->weak_lock);
        size_t end = h->weak_snapshot;
        size_t stop = end - h->weak_read > WEAK_SLICE ? h->weak_read + WEAK_SLICE : end;
        entries(h, stop, flag);
        bool done = stop == end;
        if (done) {
            done_fn(h, end);
            h->weak_cursor = h->weak_read = 0;
        }
        pthread_mutex_unlock(&h->weak_lock);
        if (done)
            return true;
        if (os_now_ns() >= deadline)
            return false;
    }
}

bool weak_clear_slice(rtgc_heap *h, uint64_t deadline, bool drop_dead) {
    return pass_slices(h, deadline, clear_entries, drop_dead, clear_done);
}

bool weak_finalize_slice(rtgc_heap *h, uint64_t deadline) {
    return pass_slices(h, deadline, finalize_entries, rtgc_atomic_load(&h->phase) != PHASE_IDLE, finalize_done);
}

/* [weak.ready] The queued become ready as marking ends, before the cycle
 * is counted (cycle_end_marking): a thread that waited for a whole cycle
 * (rtgc_collect) finds them ready.  They are marked, so a thread that runs
 * one before the MARK_OFF round only shades a black object. */
void weak_marking_done(rtgc_heap *h) {
    pthread_mutex_lock(&h->weak_lock);
    fq_splice(&h->ready, &h->queued);   /* O(1) [weak.fq] */
    pthread_mutex_unlock(&h->weak_lock);
}

void weak_cycle_end(rtgc_heap *h) {
    pthread_mutex_lock(&h->weak_lock);
    rtgc_atomic_store(&h->weak_final, 0);
    pthread_mutex_lock(&h->eph_lock);
    h->neph_pending = h->eph_read = h->eph_write = 0;
    h->eph_pass_marked = false;
    pthread_mutex_unlock(&h->eph_lock);
    h->weak_cursor = h->weak_read = h->weak_snapshot = 0;
    pthread_mutex_unlock(&h->weak_lock);
}

/* With the world stopped, after strong marking (mark_drain done): the
 * whole sequence of [weak.order] at once. */
void weak_process_stopped(rtgc_heap *h) {
    bool more;
    while (weak_eph_rescan(h, UINT64_MAX, &more))
        mark_drain(h);
    pthread_mutex_lock(&h->weak_lock);
    h->weak_cursor = h->weak_read = 0;
    h->weak_snapshot = h->nweak;
    pthread_mutex_unlock(&h->weak_lock);
    while (!weak_clear_slice(h, UINT64_MAX, false)) {
    }
    while (!weak_finalize_slice(h, UINT64_MAX)) {
    }
    mark_drain(h);
    while (weak_eph_rescan(h, UINT64_MAX, &more))
        mark_drain(h);
    while (!weak_clear_slice(h, UINT64_MAX, true)) {
    }
    weak_marking_done(h);
    weak_cycle_end(h);
}

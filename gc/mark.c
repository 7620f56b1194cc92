/* gc/mark.c - marking: the mark stack, tracing by layout, the mark visitor.
 *
 * [mark.tricolour] White: mark byte != epoch.  Grey: mark byte == epoch and
 * the object is on the mark stack.  Black: mark byte == epoch and off the
 * stack (traced).  mark_object() shades: it sets the mark byte and pushes;
 * mark_drain() blackens until the stack is empty.  With the world stopped
 * (this file's only caller today), an empty stack after the roots have
 * been shaded means every reachable object is black.
 *
 * References outside the heap's reservation are left alone (an embedder
 * may point at static objects).  Check builds validate every reference
 * into the heap: it must be the start of an allocated object.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- markers ---- */

static void marker_visit(rtgc_visitor *v, void **slot) {
    void *p = rtgc_load_ptr(slot);
    if (rtgc_is_ref(p))
        marker_mark(((struct marker_visitor *)v)->m, p);
}

void marker_init(marker *m, rtgc_heap *h, bool shared) {
    memset(m, 0, sizeof *m);
    m->h = h;
    m->shared = shared;
    m->visitor.v.visit = marker_visit;
    m->visitor.m = m;
}

static void chunks_free(mark_chunk *c) {
    for (mark_chunk *n; c; c = n) {
        n = c->prev;
        free(c);
    }
}

void marker_fini(marker *m) {
    chunks_free(m->top);
    chunks_free(m->spare);
    m->top = m->spare = NULL;
    m->depth = m->nspare = 0;
}

/* [mark.spare] Emptied chunks stay with the marker, up to SPARE_MAX of
 * them, for the next push: given back to malloc, they let it shrink its
 * arena (madvise) and grow it again a moment later, and every madvise
 * that frees pages interrupts every other CPU running the process (a TLB
 * shootdown) - the mutators' cores among them. */
#define SPARE_MAX 256u   /* 2 MiB */
static void chunk_spare(marker *m, mark_chunk *c) {
    if (m->nspare >= SPARE_MAX) {
        free(c);
        return;
    }
    c->prev = m->spare;
    m->spare = c;
    m->nspare++;
}

/* The marker's pending live count goes to its block's counter.  A count
 * must be in place before the sweep reads it: marker_publish, which every
 * drain ends with, flushes it, and cycle_end_marking flushes the
 * coordinator's (marks of roots and finalizable objects are followed by a
 * drain, but the sweep must not depend on it) [sweep.live]. */
void live_flush(marker *m) {
    if (!m->live_n)
        return;
    rtgc_atomic_add(&m->h->block_live[m->live_blk], m->live_n);   /* once a block, not once a mark */
    m->live_n = 0;
}

void marker_publish(marker *m) {
    live_flush(m);
    if (m->bytes)
        __atomic_fetch_add(&m->h->marked_bytes, m->bytes, __ATOMIC_RELAXED);
    if (m->objects)
        __atomic_fetch_add(&m->h->marked_objects, m->objects, __ATOMIC_RELAXED);
    if (m->noscan)
        __atomic_fetch_add(&m->h->marked_noscan, m->noscan, __ATOMIC_RELAXED);
    m->bytes = m->objects = m->noscan = 0;
}

static mark_chunk *chunk_new(marker *m) {
    mark_chunk *nc = m->spare;
    if (nc) {
        m->spare = nc->prev;
        m->nspare--;
    } else if (!(nc = malloc(sizeof *nc)))
        rtgc__fatal("out of memory for the mark stack");
    nc->n = 0;
    return nc;
}

static inline void push(marker *m, void *obj) {
    mark_chunk *c = m->top;
    if (RTGC_UNLIKELY(!c || c->n == MARK_CHUNK)) {
        mark_chunk *nc = chunk_new(m);
        nc->prev = c;
        m->top = c = nc;
    }
    c->objs[c->n++] = obj;
    m->depth++;
}

/* An array continuation's two entries go into one chunk, so that handing
 * whole chunks to the pool never separates them [mark.chunks]. */
static inline void push2(marker *m, void *index, void *tagged) {
    if (m->top && m->top->n + 2 > MARK_CHUNK) {
        mark_chunk *nc = chunk_new(m);
        nc->prev = m->top;
        m->top = nc;
    }
    push(m, index);
    push(m, tagged);
}

static inline void *pop(marker *m) {
    mark_chunk *c = m->top;
    if (!c)
        return NULL;
    if (c->n == 0) {
        m->top = c->prev;
        chunk_spare(m, c);
        c = m->top;
        if (!c)
            return NULL;
    }
    m->depth--;
    return c->objs[--c->n];
}

/* The coordinator's stack, for the callers that run the cycle. */
void mark_init(rtgc_heap *h) {
    marker_init(&h->coord, h, false);
}

void mark_fini(rtgc_heap *h) {
    marker_fini(&h->coord);
}

rtgc_visitor *mark_visitor(rtgc_heap *h) {
    /* Mutators shade concurrently unless the world is stopped. */
    h->coord.shared = rtgc_atomic_load(&h->phase) != PHASE_IDLE || rtgc_atomic_load(&h->help_until) != 0;
    return &h->coord.visitor.v;
}

static void bad_reference(rtgc_heap *h, void *obj, const char *why) {
    rtgc__fatal("marking found a reference %p that %s (a root or field holds something that is not an object)",
                obj, why);
}

static bool valid_object(rtgc_heap *h, void *obj) {
    if ((uintptr_t)obj & (RTGC_OBJECT_ALIGN - 1)) {
        bad_reference(h, obj, "is not 16-byte aligned");
        return false;
    }
    span *s = span_of(h, obj);
    if (!s) {
        bad_reference(h, obj, "points into a free block");
        return false;
    }
    if (s->cls == SPAN_LARGE ? (char *)obj != s->base : cell_start(s, obj) != (char *)obj) {
        bad_reference(h, obj, "points into the middle of a cell");
        return false;
    }
    uint64_t hdr = rtgc_object_header(obj);
    if (hdr == 0 || rtgc_header_layout(hdr) >= __atomic_load_n(&h->nlayouts, __ATOMIC_ACQUIRE)) {
        bad_reference(h, obj, hdr == 0 ? "points at a free cell (freed too early?)" : "has a corrupt header");
        return false;
    }
    return true;
}

/* What the tracing loop reads for every slot, copied into locals that no
 * store can alias, so that they stay in registers. */
typedef struct mark_cx {
    const char *base, *end;
    uint8_t *bias;              /* markmap_bias */
    const layout_desc *layouts;
    const uint8_t *noscan;      /* block_noscan [mark.noscan] */
    uint8_t epoch;
} mark_cx;

static inline mark_cx cx_of(const marker *m) {
    const rtgc_heap *h = m->h;
    return (mark_cx){.base = h->base, .end = h->end, .bias = h->markmap_bias, .layouts = h->layouts,
                     .noscan = h->block_noscan, .epoch = m->epoch};
}

/* [mark.noscan] p, just claimed, is in a noscan span (ns: block_noscan of
 * its block): it is black at once, counted and never pushed.  A small
 * object counts its cell's size (nothing of it is read: its layout is
 * not known); a large one reads its header (one read per object of over
 * 32 KiB) and counts its size, as a traced one does. */
static RTGC_NOINLINE void mark_noscan(marker *m, const layout_desc *layouts, void *p, uint8_t ns) {
    if (RTGC_CHECK >= 2 && !layout_noscan_ok(layout_of(m->h, p)))
        rtgc__fatal("object %p (%s) is in a noscan span but its layout has references [mark.noscan]", p,
                    layout_of(m->h, p)->name);
    m->objects++;
    m->noscan++;
    m->traced++;
    if (ns != NOSCAN_LARGE) {
        m->bytes += rtgc_class_size[ns - 1];
    } else {
        uint64_t hdr = rtgc_object_header(p);
        const layout_desc *d = &layouts[rtgc_header_layout(hdr)];
        m->bytes += object_size(d, d->kind == RTGC_LAYOUT_RECORD ? 0 : rtgc_header_count(hdr));
    }
}

/* [mark.claim] Claim p's mark byte for this cycle: true when this marker
 * set it and p must be pushed.  A relaxed load, and when it is not the
 * epoch a relaxed store of the epoch: no locked instruction, alone or
 * beside other markers and shading mutators.  A CAS (what markers did
 * while others marked) waits for the mark byte's cache miss and keeps the
 * misses of the objects after it from overlapping: over half of the
 * tracing loop's time was on the instruction after it, and two markers
 * marked 1.1-1.4x as fast as one.  So two markers, or a marker and a
 * mutator's CAS (claim, below), may both find p white and both push and
 * trace it: a grey object is in at least one place [rt.termination].  Every value written into a mark byte while marking is the
 * epoch, so no claim undoes another, and tracing an object twice marks
 * nothing that once would not.  What a duplicate costs: its children are
 * read again (and claimed by nobody: they are marked), and it is counted
 * twice where marks are counted (block_live: a span looks more live,
 * never less [sweep.live]; the marked objects and bytes, and
 * live_noscan_objects, may overcount by the racing duplicates, which two
 * markers reaching one object within a cache miss of each other make
 * rare); an ephemeron is examined twice (weak_eph_traced: its value
 * marked twice, or listed twice as pending, which the rescan handles
 * entry by entry); a CUSTOM layout's trace callback may run twice for one
 * object, from two markers at once (rtgc/layout.h).  A mutator's claim
 * stays a CAS ([mark.concurrent]).
 * [sweep.live] The mark is counted in the marker, per block, and added to
 * the block's counter when the marker moves to another block or publishes
 * (marks of one walk cluster: a locked add per mark made two markers
 * slower than one).
 * [mark.noscan] An object in a noscan span is claimed, counted and done
 * (false): the block's byte in block_noscan says so, read from a small
 * table beside the block index computed for the count, not from the
 * object. */
static inline __attribute__((always_inline)) bool claim_cx(marker *m, mark_cx cx, void *p) {
    if ((const char *)p < cx.base || (const char *)p >= cx.end)
        return false;
    if (RTGC_CHECK >= 2 && !valid_object(m->h, p))
        return false;
    uint8_t *mb = &cx.bias[(uintptr_t)p >> GRANULE_SHIFT];
    if (rtgc_load_u8(mb) == cx.epoch)
        return false;
    rtgc_store_u8(mb, cx.epoch);
    size_t blk = (size_t)((const char *)p - cx.base) >> BLOCK_SHIFT;
    if (RTGC_UNLIKELY(blk != m->live_blk)) {
        live_flush(m);
        m->live_blk = blk;
    }
    m->live_n++;
    uint8_t ns = rtgc_load_u8(&cx.noscan[blk]);
    if (RTGC_LIKELY(ns == 0))
        return true;
    mark_noscan(m, cx.layouts, p, ns);
    return false;
}

void marker_mark(marker *m, void *obj) {
    m->epoch = rtgc_load_u8(&m->h->epoch);
    if (claim_cx(m, cx_of(m), obj))
        push(m, obj);
}

void mark_object(rtgc_heap *h, void *obj) {
    h->coord.shared = false;
    marker_mark(&h->coord, obj);
}

/* Visit every reference slot of obj with v. */
void trace_object(rtgc_heap *h, void *obj, rtgc_visitor *v) {
    uint64_t hdr = rtgc_object_header(obj);
    const layout_desc *d = &h->layouts[rtgc_header_layout(hdr)];
    void **words = (void **)obj;
    if (d->kind == RTGC_LAYOUT_CUSTOM) {
        d->trace(obj, v, d->trace_data);
        return;
    }
    for (uint64_t bm = d->bitmap; bm; bm &= bm - 1)
        v->visit(v, &words[__builtin_ctzll(bm)]);
    for (size_t i = 0; i < d->noffsets; i++)
        v->visit(v, (void **)((char *)obj + d->offsets[i]));
    if (d->kind == RTGC_LAYOUT_REF_ARRAY) {
        void **elems = (void **)((char *)obj + d->fixed_size);
        uint32_t n = rtgc_header_count(hdr);
        for (uint32_t i = 0; i < n; i++)
            v->visit(v, &elems[i]);
    }
}

/* One reference read from a field: claim it and push it onto m. */
static inline __attribute__((always_inline)) void mark_ref(marker *m, mark_cx cx, void *p) {
    if (rtgc_is_ref(p) && claim_cx(m, cx, p))
        push(m, p);
}

/* [mark.chunks] A reference array longer than ARRAY_CHUNK is traced a
 * chunk at a time: after a chunk, the rest goes back on the mark stack as
 * two entries, the index to go on from and the array tagged with
 * CONT_TAG (objects are 16-byte aligned, so the tag bit is free; the
 * index is a multiple of ARRAY_CHUNK, so its own bit is clear).  The two
 * share a chunk (push2) and a split of a chunk never separates them
 * (split), so work handed to the pool keeps them together.  The array stays grey
 * until its last chunk, which is all the tri-colour argument needs; a
 * marking slice never holds more than one chunk. */
#define ARRAY_CHUNK 256u
#define CONT_TAG ((uintptr_t)2)

/* Pop an entry: the object, and the element to start from. */
static inline void *pop_entry(marker *m, uint32_t *start) {
    void *obj = pop(m);
    *start = 0;
    if (obj && ((uintptr_t)obj & CONT_TAG)) {
        *start = (uint32_t)(uintptr_t)pop(m);
        obj = (void *)((uintptr_t)obj & ~CONT_TAG);
    }
    return obj;
}

/* Trace obj from element `start`.  Returns the number of slots it read, a
 * measure of the work.  Fields may be stored into while they are read
 * (concurrent modes): each is read once, whole, and either value is safe
 * [rt.invariant]. */
static inline __attribute__((always_inline)) size_t scan_object(marker *m, mark_cx cx, void *obj,
                                                                uint32_t start) {
    rtgc_heap *h = m->h;
    uint64_t hdr = rtgc_object_header(obj);
    const layout_desc *d = &cx.layouts[rtgc_header_layout(hdr)];
    uint32_t count = rtgc_header_count(hdr);
    size_t work = 0;
    if (start == 0) {
        m->objects++;
        m->traced++;
        m->bytes += object_size(d, d->kind == RTGC_LAYOUT_RECORD ? 0 : count);
        /* [mark.noscan] An object without reference slots is counted and
         * done: no field is read.  Such an object in a noscan span never
         * gets here (claim_cx); this one is in an ordinary span
         * (rtgc_alloc_sized, JIT code) or was shaded by a mutator.
         * (Reading its header when it is claimed, to keep it off, was a
         * cache miss at the worst moment and made tree marking 2-3x
         * slower: noscan spans say it without the read.) */
        if (d->noscan)
            return 1;
        if (RTGC_UNLIKELY(weak_is_eph(h, hdr))) {
            weak_eph_traced(m, obj);   /* [weak.eph] */
            return 3;
        }
        if (d->kind == RTGC_LAYOUT_CUSTOM) {
            d->trace(obj, &m->visitor.v, d->trace_data);
            return 1 + d->fixed_size / 8 + (size_t)count * d->elem_size / 8;
        }
        void **words = (void **)obj;
        for (uint64_t bm = d->bitmap; bm; bm &= bm - 1)
            mark_ref(m, cx, rtgc_load_ptr(&words[__builtin_ctzll(bm)]));
        for (size_t i = 0; i < d->noffsets; i++)
            mark_ref(m, cx, rtgc_load_ptr((void **)((char *)obj + d->offsets[i])));
        work = 1 + d->nrefs;
    }
    if (d->kind == RTGC_LAYOUT_REF_ARRAY) {
        void **elems = (void **)((char *)obj + d->fixed_size);
        uint32_t end = count - start > ARRAY_CHUNK ? start + ARRAY_CHUNK : count;
        for (uint32_t i = start; i < end; i++)
            mark_ref(m, cx, rtgc_load_ptr(&elems[i]));
        if (end < count) {
            push2(m, (void *)(uintptr_t)end, (void *)((uintptr_t)obj | CONT_TAG));
        }
        work += end - start;
    }
    return work;
}

/* With the world stopped and no helper: trace everything on the
 * coordinator's stack. */
void mark_drain(rtgc_heap *h) {
    marker *m = &h->coord;
    bool did = false;
    m->shared = false;
    do
        marker_drain(m, UINT64_MAX, &did);
    while (pool_take(m, false));
}

void mark_roots(rtgc_heap *h) {
    rtgc_visitor *v = mark_visitor(h);
    pthread_mutex_lock(&h->lock);    /* an unattached thread may add a range */
    roots_visit_globals(h, v);
    pthread_mutex_unlock(&h->lock);
    for (rtgc_thread *t = h->threads; t; t = t->next)
        roots_visit_thread(h, t, v, NULL);
}

/* ---- the pool [mark.parallel] ----
 *
 * Grey work is in a mutator's grey buffer, the pool (h->shared_grey,
 * packets in the mark stack's chunk format, grey_lock), or a marker's
 * private stack (an object now and then in two of them: [mark.claim]).  A helper's stack is non-empty only while the
 * helper is counted in h->busy: it raises busy in the same grey_lock
 * critical section that takes a packet out of the pool, gives work back to
 * the pool only while still counted, and lowers busy (a release) only
 * once its stack is empty and its counters are published.  So "the pool is
 * empty and busy is 0", read under grey_lock, means no helper holds grey
 * work; with the coordinator's own stack empty and the mutators' buffers
 * flushed, no grey object exists [rt.termination].
 */

bool pool_take(marker *m, bool count_busy) {
    rtgc_heap *h = m->h;
    pthread_mutex_lock(&h->grey_lock);
    mark_chunk *c = h->shared_grey;
    if (c) {
        h->shared_grey = c->prev;
        if (count_busy)
            rtgc_atomic_fetch_add(&h->busy, 1);
    }
    pthread_mutex_unlock(&h->grey_lock);
    if (!c)
        return false;
    marker_link(m, c);
    return true;
}

/* An emptied top chunk that pop has not dropped yet goes to the spare:
 * chunks linked below a new top, or handed to the pool, hold entries. */
static void drop_empty_top(marker *m) {
    if (m->top && m->top->n == 0) {
        mark_chunk *e = m->top;
        m->top = e->prev;
        chunk_spare(m, e);
    }
}

void marker_link(marker *m, mark_chunk *c) {
    drop_empty_top(m);
    c->prev = m->top;
    m->top = c;
    m->depth += c->n;
}

/* Split off the oldest entries of m's stack into a chunk of their own:
 * whole chunks below the top when there are any, else the bottom half of
 * the top chunk (never between an array continuation's two entries). */
static mark_chunk *split(marker *m, size_t keep) {
    mark_chunk *top = m->top;
    if (!top || m->depth <= keep)
        return NULL;
    if (top->prev && top->n >= keep) {
        mark_chunk *c = top->prev;      /* the next-oldest whole chunk */
        top->prev = c->prev;
        m->depth -= c->n;
        return c;
    }
    size_t k = top->n / 2;
    if (k < top->n && ((uintptr_t)top->objs[k] & CONT_TAG))
        k++;                            /* keep an index and its array together */
    if (k == 0 || k >= top->n)
        return NULL;
    mark_chunk *c = chunk_new(m);
    memcpy(c->objs, top->objs, k * sizeof *c->objs);
    memmove(top->objs, top->objs + k, (top->n - k) * sizeof *top->objs);
    c->n = k;
    top->n -= k;
    m->depth -= k;
    return c;
}

void pool_give(marker *m, size_t keep) {
    rtgc_heap *h = m->h;
    mark_chunk *c = split(m, keep);
    if (!c)
        return;
    pthread_mutex_lock(&h->grey_lock);
    c->prev = h->shared_grey;
    h->shared_grey = c;
    pthread_mutex_unlock(&h->grey_lock);   /* hungry helpers look again soon [share.wake] */
}

void pool_give_all(marker *m) {
    rtgc_heap *h = m->h;
    drop_empty_top(m);
    if (!m->top)
        return;
    mark_chunk *last = m->top;
    while (last->prev)
        last = last->prev;
    pthread_mutex_lock(&h->grey_lock);
    last->prev = h->shared_grey;
    h->shared_grey = m->top;
    pthread_mutex_unlock(&h->grey_lock);
    m->top = NULL;
    m->depth = 0;
}

bool pool_quiet(rtgc_heap *h) {
    pthread_mutex_lock(&h->grey_lock);
    bool quiet = !h->shared_grey && rtgc_atomic_load_acquire(&h->busy) == 0;
    pthread_mutex_unlock(&h->grey_lock);
    return quiet;
}

/* [mark.drain] Bounded draining: the marker checks the clock every 32 slots read, so a
 * slice overruns its deadline by at most that much tracing plus one unit
 * (an object, or a 256-element chunk of a reference array [mark.chunks]).
 * On a large heap a slot can cost most of a microsecond (a cache and a TLB
 * miss for the mark byte, another for the object), so the units are small.
 * At each clock check, a marker with work to spare gives the oldest half
 * to the pool when another marker is waiting for some. */
bool marker_drain(marker *m, uint64_t deadline_ns, bool *did_work) {
    rtgc_heap *h = m->h;
    void *obj;
    uint32_t start;
    size_t n = 0;
    m->epoch = rtgc_load_u8(&h->epoch);
    const mark_cx cx = cx_of(m);
    while ((obj = pop_entry(m, &start))) {
        n += scan_object(m, cx, obj, start);
        *did_work = true;
        if (n >= 32) {
            n = 0;
            /* Only while others mark beside it (shared): work given to the
             * pool by a lone drain would wait there for a helper that is
             * not let in, and stay grey. */
            if (RTGC_UNLIKELY(rtgc_atomic_load(&h->hungry)) && m->shared && m->depth >= 2)
                pool_give(m, m->depth / 2);
            /* A helper also stops when helping closes (help_until 0: a
             * stop of the world waits for it, helpers_quiesce) or at the
             * coordinator's deadline.  The clock is read only for a
             * deadline: with the world stopped (no deadline, help_until
             * UINT64_MAX) it is not, as a helper reading it every 32
             * slots spent a quarter of its time in clock_gettime here
             * (perf, kvm-clock). */
            uint64_t stop = deadline_ns;
            if (m->helper) {
                uint64_t until = rtgc_atomic_load(&h->help_until);
                stop = until < stop ? until : stop;
            }
            if (stop != UINT64_MAX && (stop == 0 || os_now_ns() >= stop)) {
                marker_publish(m);
                return m->depth != 0;
            }
        }
    }
    marker_publish(m);
    return false;
}

/* ---- concurrent marking ----
 *
 * [mark.concurrent] While mutators run, a mutator claims a mark byte by
 * CAS from the value read (0 or the previous epoch) to the epoch, and
 * markers by a plain store ([mark.claim]): among mutators the CAS's winner
 * alone pushes the object (into its own grey buffer) and moves
 * shade_count, which termination reads [rt.termination]: it must move for
 * every white object a mutator turns grey, and moves no more often than
 * that.  The CAS costs the mutator, in a barrier's slow path, not the
 * markers' loop.  Mutators hand full buffers over under grey_lock; the
 * marker drains its own stack and takes the hand-overs.
 */

/* A mutator's claim (shade): by CAS, counted at once [sweep.live]. */
static bool claim(rtgc_heap *h, void *obj) {
    if (!in_heap(h, obj))
        return false;
    if (RTGC_CHECK >= 2 && !valid_object(h, obj))
        return false;
    uint8_t *mb = mark_byte(h, obj);
    uint8_t e = rtgc_load_u8(&h->epoch), o = rtgc_load_u8(mb);
    if (o == e || rtgc_atomic_cas_u8(mb, o, e) != o)
        return false;
    live_count(h, obj);
    return true;
}

/* From the code that runs the cycle (gc_lock held): onto the coordinator. */
void mark_object_shared(rtgc_heap *h, void *obj) {
    h->coord.shared = true;
    marker_mark(&h->coord, obj);
}

void grey_flush(rtgc_heap *h, rtgc_thread *t) {
    if (!t->ngrey)
        return;
    mark_chunk *c = malloc(sizeof *c);
    if (!c)
        rtgc__fatal("out of memory for a grey list");
    memcpy(c->objs, t->grey, t->ngrey * sizeof *c->objs);
    c->n = t->ngrey;
    t->ngrey = 0;
    pthread_mutex_lock(&h->grey_lock);
    c->prev = h->shared_grey;
    h->shared_grey = c;
    pthread_mutex_unlock(&h->grey_lock);
}

void grey_discard(rtgc_heap *h) {
    pthread_mutex_lock(&h->grey_lock);
    mark_chunk *list = h->shared_grey;
    h->shared_grey = NULL;
    pthread_mutex_unlock(&h->grey_lock);
    while (list) {
        mark_chunk *c = list;
        list = c->prev;
        free(c);
    }
}

void shade(rtgc_heap *h, rtgc_thread *t, void *obj) {
    if (!rtgc_is_ref(obj) || !claim(h, obj))
        return;
    rtgc_atomic_fetch_add(&h->shade_count, 1);
    if (t->ngrey == GREY_CAP)
        grey_flush(h, t);
    t->grey[t->ngrey++] = obj;
}

typedef struct shade_visitor_s {
    rtgc_visitor v;
    rtgc_heap *h;
    rtgc_thread *t;
} shade_visitor_s;

static void shade_visit(rtgc_visitor *v, void **slot) {
    shade_visitor_s *sv = (shade_visitor_s *)v;
    shade(sv->h, sv->t, *slot);
}

static _Thread_local shade_visitor_s tl_shade;

rtgc_visitor *shade_visitor(rtgc_heap *h, rtgc_thread *t) {
    tl_shade.v.visit = shade_visit;
    tl_shade.h = h;
    tl_shade.t = t;
    return &tl_shade.v;
}

/* The coordinator's drain while mutators run: its own stack, then packets
 * from the pool, until the deadline.  Returns true while grey work is
 * left anywhere the coordinator can see it: on its stack, in the pool, or
 * with a helper that is still busy (it waits for those briefly, as a
 * hungry marker they give work to). */
bool mark_drain_until(rtgc_heap *h, uint64_t deadline_ns, bool *did_work) {
    marker *m = &h->coord;
    m->shared = true;
    for (;;) {
        if (marker_drain(m, deadline_ns, did_work))
            return true;
        if (pool_take(m, false))
            continue;
        if (pool_quiet(h))
            return false;
        /* A helper holds work: wait for a packet from it, or for it to end,
         * spinning (a 20 us nanosleep took 100 us on average here, and this
         * may be a mutator's pause): at most 20 us, never past the
         * deadline. */
        uint64_t now = os_now_ns();
        if (now >= deadline_ns)
            return true;
        uint64_t until = now + 20000 < deadline_ns ? now + 20000 : deadline_ns;
        rtgc_atomic_fetch_add(&h->hungry, 1);
        while (os_now_ns() < until && rtgc_atomic_load(&h->busy))   /* then the pool, under its lock */
            rtgc_cpu_relax();
        rtgc_atomic_fetch_add(&h->hungry, (uintptr_t)-1);
    }
}

/* Free cells handed to a thread that allocates black are marked now, so
 * whatever is allocated from them is born marked. */
void premark_list(rtgc_heap *h, void *list) {
    uint8_t e = h->epoch;
    size_t blk = 0, n = 0;           /* [sweep.live] counted a block at a time */
    for (void **c = list; c; c = c[1]) {
        rtgc_store_u8(mark_byte(h, c), e);
        if (n && block_index(h, c) != blk) {
            rtgc_atomic_add(&h->block_live[blk], n);
            n = 0;
        }
        blk = block_index(h, c);
        n++;
    }
    if (n)
        rtgc_atomic_add(&h->block_live[blk], n);
}

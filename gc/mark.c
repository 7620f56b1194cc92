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

typedef struct mark_visitor_s {
    rtgc_visitor v;
    rtgc_heap *h;
} mark_visitor_s;

static void mark_visit(rtgc_visitor *v, void **slot) {
    void *p = rtgc_load_ptr(slot);
    if (!rtgc_is_ref(p))
        return;
    rtgc_heap *h = ((mark_visitor_s *)v)->h;
    if (rtgc_atomic_load(&h->phase) != PHASE_IDLE)
        mark_object_atomic(h, p);
    else
        mark_object(h, p);
}

static _Thread_local mark_visitor_s tl_visitor;

rtgc_visitor *mark_visitor(rtgc_heap *h) {
    tl_visitor.v.visit = mark_visit;
    tl_visitor.h = h;
    return &tl_visitor.v;
}

void mark_init(rtgc_heap *h) {
    h->mstack.top = NULL;
    h->mstack.spare = NULL;
}

void mark_fini(rtgc_heap *h) {
    for (mark_chunk *c = h->mstack.top, *n; c; c = n) {
        n = c->prev;
        free(c);
    }
    free(h->mstack.spare);
    h->mstack.top = h->mstack.spare = NULL;
}

static void push(rtgc_heap *h, void *obj) {
    mark_chunk *c = h->mstack.top;
    if (!c || c->n == MARK_CHUNK) {
        mark_chunk *nc = h->mstack.spare;
        if (nc)
            h->mstack.spare = NULL;
        else if (!(nc = malloc(sizeof *nc)))
            rtgc__fatal("out of memory for the mark stack");
        nc->prev = c;
        nc->n = 0;
        h->mstack.top = c = nc;
    }
    c->objs[c->n++] = obj;
}

static void *pop(rtgc_heap *h) {
    mark_chunk *c = h->mstack.top;
    if (!c)
        return NULL;
    if (c->n == 0) {
        h->mstack.top = c->prev;
        free(h->mstack.spare);
        h->mstack.spare = c;
        c = h->mstack.top;
        if (!c)
            return NULL;
    }
    return c->objs[--c->n];
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

void mark_object(rtgc_heap *h, void *obj) {
    if (!in_heap(h, obj))
        return;
    if (RTGC_CHECK >= 2 && !valid_object(h, obj))
        return;
    uint8_t *mb = mark_byte(h, obj);
    if (*mb == h->epoch)
        return;
    *mb = h->epoch;
    live_count(h, obj);              /* [sweep.live] */
    push(h, obj);
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

/* Trace obj with the marking visitor inlined for the common kinds.  With
 * `atomic`, mark bytes are claimed by CAS: mutators shade concurrently. */
static inline void mark_ref(rtgc_heap *h, void *p, bool atomic) {
    if (!rtgc_is_ref(p))
        return;
    if (atomic)
        mark_object_atomic(h, p);
    else
        mark_object(h, p);
}

/* [mark.chunks] A reference array longer than ARRAY_CHUNK is traced a
 * chunk at a time: after a chunk, the rest goes back on the mark stack as
 * two entries, the index to go on from and the array tagged with
 * CONT_TAG (objects are 16-byte aligned, so the tag bit is free).  The
 * array stays grey until its last chunk, which is all the tri-colour
 * argument needs; a marking slice never holds more than one chunk. */
#define ARRAY_CHUNK 256u
#define CONT_TAG ((uintptr_t)2)

/* Pop an entry: the object, and the element to start from. */
static void *pop_entry(rtgc_heap *h, uint32_t *start) {
    void *obj = pop(h);
    *start = 0;
    if (obj && ((uintptr_t)obj & CONT_TAG)) {
        *start = (uint32_t)(uintptr_t)pop(h);
        obj = (void *)((uintptr_t)obj & ~CONT_TAG);
    }
    return obj;
}

/* Trace obj from element `start`.  Returns the number of slots it read, a
 * measure of the work. */
static inline size_t scan_object(rtgc_heap *h, void *obj, bool atomic, uint32_t start) {
    uint64_t hdr = rtgc_object_header(obj);
    const layout_desc *d = &h->layouts[rtgc_header_layout(hdr)];
    uint32_t count = rtgc_header_count(hdr);
    size_t work = 0;
    if (start == 0) {
        h->marked_objects++;
        /* read by mutators' pacing checks [cycle.pacer] */
        __atomic_store_n(&h->marked_bytes, h->marked_bytes + object_size(d, d->kind == RTGC_LAYOUT_RECORD ? 0 : count),
                         __ATOMIC_RELAXED);
        if (RTGC_UNLIKELY(weak_is_eph(h, hdr))) {
            weak_eph_traced(h, obj, atomic);   /* [weak.eph] */
            return 3;
        }
        if (d->kind == RTGC_LAYOUT_CUSTOM) {
            d->trace(obj, mark_visitor(h), d->trace_data);
            return 1 + d->fixed_size / 8 + (size_t)count * d->elem_size / 8;
        }
        /* Fields may be stored into while we read them (concurrent modes):
         * each is read once, whole, and either value is safe [rt.invariant]. */
        void **words = (void **)obj;
        for (uint64_t bm = d->bitmap; bm; bm &= bm - 1)
            mark_ref(h, rtgc_load_ptr(&words[__builtin_ctzll(bm)]), atomic);
        for (size_t i = 0; i < d->noffsets; i++)
            mark_ref(h, rtgc_load_ptr((void **)((char *)obj + d->offsets[i])), atomic);
        work = 1 + (size_t)__builtin_popcountll(d->bitmap) + d->noffsets;
    }
    if (d->kind == RTGC_LAYOUT_REF_ARRAY) {
        void **elems = (void **)((char *)obj + d->fixed_size);
        uint32_t end = count - start > ARRAY_CHUNK ? start + ARRAY_CHUNK : count;
        for (uint32_t i = start; i < end; i++)
            mark_ref(h, rtgc_load_ptr(&elems[i]), atomic);
        if (end < count) {
            push(h, (void *)(uintptr_t)end);
            push(h, (void *)((uintptr_t)obj | CONT_TAG));
        }
        work += end - start;
    }
    return work;
}

void mark_drain(rtgc_heap *h) {
    void *obj;
    uint32_t start;
    while ((obj = pop_entry(h, &start)))
        scan_object(h, obj, false, start);
}

void mark_roots(rtgc_heap *h) {
    rtgc_visitor *v = mark_visitor(h);
    pthread_mutex_lock(&h->lock);    /* an unattached thread may add a range */
    roots_visit_globals(h, v);
    pthread_mutex_unlock(&h->lock);
    for (rtgc_thread *t = h->threads; t; t = t->next)
        roots_visit_thread(h, t, v, NULL);
}

/* ---- concurrent marking ----
 *
 * [mark.concurrent] While mutators run, a mark byte is claimed by CAS from
 * the value read (0 or the previous epoch) to the epoch: whoever wins the
 * CAS owns the object's trip through a grey list, so each object is traced
 * once.  Mutators shade into their own grey buffer (no lock) and hand full
 * buffers over under grey_lock; the marker drains its own stack and takes
 * the hand-overs.  shade_count counts mutator shading for termination
 * [rt.termination].
 */

/* Claim obj's mark byte for this cycle; true for the one thread that wins. */
static bool claim(rtgc_heap *h, void *obj) {
    if (!in_heap(h, obj))
        return false;
    if (RTGC_CHECK >= 2 && !valid_object(h, obj))
        return false;
    uint8_t *mb = mark_byte(h, obj);
    uint8_t e = rtgc_load_u8(&h->epoch), o = rtgc_load_u8(mb);
    if (o == e || rtgc_atomic_cas_u8(mb, o, e) != o)
        return false;
    live_count(h, obj);              /* [sweep.live] */
    return true;
}

void mark_object_atomic(rtgc_heap *h, void *obj) {
    if (claim(h, obj))
        push(h, obj);
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

/* Bounded draining: the marker checks the clock every 32 slots read, so a
 * slice overruns its deadline by at most that much tracing plus one unit
 * (an object, or a 256-element chunk of a reference array [mark.chunks]).
 * On a large heap a slot can cost most of a microsecond (a cache and a TLB
 * miss for the mark byte, another for the object), so the units are small. */
bool mark_drain_until(rtgc_heap *h, uint64_t deadline_ns, bool *did_work) {
    for (;;) {
        void *obj;
        uint32_t start;
        size_t n = 0;
        while ((obj = pop_entry(h, &start))) {
            n += scan_object(h, obj, true, start);
            *did_work = true;
            if (n >= 32) {
                n = 0;
                if (os_now_ns() >= deadline_ns)
                    return true;
            }
        }
        pthread_mutex_lock(&h->grey_lock);
        mark_chunk *list = h->shared_grey;
        h->shared_grey = NULL;
        pthread_mutex_unlock(&h->grey_lock);
        if (!list)
            return false;
        /* Hand-overs join the marker's own stack: a grey list has the
         * stack's chunk format, so each is linked in whole, O(1). */
        while (list) {
            mark_chunk *c = list;
            list = c->prev;
            c->prev = h->mstack.top;
            h->mstack.top = c;
        }
        if (os_now_ns() >= deadline_ns)
            return true;
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

/* gc/lookup.c - interior pointers and pinning.
 *
 * rtgc_object_start maps an address to the allocated object around it:
 * the block table gives the span (address arithmetic, [heap.blocks]); in a
 * small-object span the cell index is (addr - base) / cell_size, and the
 * cell is an object when its header is not zero (a free cell's header is
 * zero, [sweep.epoch]); a large-object span holds one object at its base.
 * It takes heap->lock, so spans do not come and go under it; the answer
 * about a cell stays true as long as the caller keeps that object alive.
 *
 * Pinning sets a collector flag bit in the header (RTGC_HEADER_FLAG_PINNED)
 * with an atomic OR: the collector reads headers concurrently (layout id
 * and count), and those bits do not change.  The collector never moves an
 * object, so the promise is kept trivially today; the flag is there for
 * any later compacting mode to honour.
 */
#include "internal.h"

static size_t object_size_of(const rtgc_heap *h, const void *obj) {
    uint64_t hdr = rtgc_object_header(obj);
    const layout_desc *d = &h->layouts[rtgc_header_layout(hdr)];
    return object_size(d, d->kind == RTGC_LAYOUT_RECORD ? 0 : rtgc_header_count(hdr));
}

void *rtgc_object_start(rtgc_heap *h, const void *addr) {
    if (!h || !in_heap(h, addr))
        return NULL;
    void *obj = NULL;
    pthread_mutex_lock(&h->lock);
    span *s = span_of(h, addr);
    if (s) {
        const char *p = addr;
        if (s->cls == SPAN_LARGE) {
            if (p < s->base + span_bytes(s) && rtgc_object_header(s->base) != 0 &&
                p < s->base + object_size_of(h, s->base))
                obj = s->base;
        } else if (p >= s->base) {
            size_t i = (size_t)(p - s->base) / s->cell_size;
            char *c = s->base + i * s->cell_size;
            if (i < s->nthreaded && rtgc_load_ptr((void *const *)c) != NULL &&
                p < c + object_size_of(h, c))
                obj = c;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return obj;
}

/* The flag is set in the header, so obj must be an object's start: an
 * interior address would have a bit of some field set. */
static bool pin_target(rtgc_thread *t, void *obj, const char *what) {
    if (!thread_ok(t, what))
        return false;
    void *start = rtgc_is_ref(obj) ? rtgc_object_start(t->heap, obj) : NULL;
    if (start != obj) {
        rtgc__misuse(t->heap, "%s: %p is not the start of a heap object%s", what, obj,
                     start ? " (an interior address: use rtgc_object_start)" : "");
        return false;
    }
    return true;
}

void rtgc_pin(rtgc_thread *t, void *obj) {
    if (pin_target(t, obj, "rtgc_pin"))
        __atomic_fetch_or((uint64_t *)obj, RTGC_HEADER_FLAG_PINNED, __ATOMIC_RELAXED);
}

void rtgc_unpin(rtgc_thread *t, void *obj) {
    if (pin_target(t, obj, "rtgc_unpin"))
        __atomic_fetch_and((uint64_t *)obj, ~RTGC_HEADER_FLAG_PINNED, __ATOMIC_RELAXED);
}

/* gc/sweep.c - sweeping, lazily and per span; never a pause of its own.
 *
 * [sweep.lazy] When marking ends, every small span goes to its class's
 * unswept list.  Allocation sweeps a span when it needs one (alloc.c), and
 * whatever is left is swept before the next cycle marks (collect.c), so a
 * span is always swept against the marks of the cycle that just ended.
 *
 * [sweep.epoch] A mark byte holds the epoch of the cycle that marked it (1
 * or 2, alternating), or 0.  Sweeping resets the mark byte of every dead
 * cell (and of free cells pre-marked for allocation) to 0 and leaves live
 * cells with the old epoch.  When the next cycle flips the epoch, every
 * live cell reads as unmarked without a pass that clears the mark bytes:
 * only the dead, which the sweeper touches anyway, are written.  Two
 * values suffice because every span is swept once per cycle, so no mark
 * byte is ever older than the previous cycle.
 *
 * A dead cell gets header 0 and is linked into the span's free list; check
 * builds poison the rest of it (POISON_BYTE) so that a write through a
 * dangling reference shows in the verifier and a read yields garbage that
 * is not a valid reference.
 */
#include <string.h>

#include "internal.h"

size_t sweep_span(rtgc_heap *h, span *s) {
    ASSERT(s->cls != SPAN_LARGE && s->owner == NULL);
    const uint8_t epoch = h->epoch;
    const size_t cs = s->cell_size;
    void *list = NULL;
    uint32_t nfree = 0;
    uint64_t freed = 0;
    for (size_t i = s->nthreaded; i-- > 0;) {          /* virgin cells stay as they are */
        char *c = s->base + i * cs;
        uint8_t *mb = mark_byte(h, c);
        if (rtgc_load_u8(mb) == epoch && rtgc_object_header(c) != 0)
            continue;                       /* live: its memory is not touched for the mark test */
        uint64_t hdr = *(uint64_t *)c;
        if (hdr != 0) {                     /* dead: free it */
            *(uint64_t *)c = 0;
            freed += cs;
            if (RTGC_CHECK >= 2)
                memset(c + 16, POISON_BYTE, cs - 16);
        }
        rtgc_store_u8(mb, 0);               /* a marker may read it meanwhile */
        ((void **)c)[1] = list;
        list = c;
        nfree++;
    }
    s->free = list;
    s->nfree = nfree + (s->ncells - s->nthreaded);
    s->handed = false;
    s->swept_cycle = h->cycle;
    h->stats.swept_cells += s->nthreaded;
    h->stats.freed_bytes += freed;
    return s->nthreaded;
}

/* File a swept span: release it when empty, else partial or full.  Returns
 * false when the span was released. */
bool sweep_place(rtgc_heap *h, span *s) {
    if (s->nfree == s->ncells) {
        span_release(h, s);
        return false;
    }
    if (s->nfree)
        list_push(&h->partial[s->cls], s, LIST_PARTIAL);
    else
        list_push(&h->full[s->cls], s, LIST_FULL);
    return true;
}

/* [sweep.once] A span whose swept_cycle is the current cycle has been
 * swept against this cycle's marks already (or was created since); objects
 * allocated in it afterwards are unmarked but live, so sweeping it again
 * would free them.  Queueing is a splice of whole lists (no walk), so the
 * unswept lists can hold such spans: whoever pops one sweeps it only if it
 * is stale, and otherwise files it back as it is (its nfree is old news:
 * it must not decide a release). */
size_t sweep_popped(rtgc_heap *h, span *s) {
    if (s->swept_cycle != h->cycle) {
        size_t cells = sweep_span(h, s);
        sweep_place(h, s);
        return cells;
    }
    if (s->free || s->nthreaded < s->ncells)
        list_push(&h->partial[s->cls], s, LIST_PARTIAL);
    else
        list_push(&h->full[s->cls], s, LIST_FULL);
    return 0;
}

static void splice(span_list *into, span_list *from) {
    if (!from->head)
        return;
    if (into->tail) {
        into->tail->next = from->head;
        from->head->prev = into->tail;
    } else {
        into->head = from->head;
    }
    into->tail = from->tail;
    into->count += from->count;
    from->head = from->tail = NULL;
    from->count = 0;
}

void sweep_queue_all(rtgc_heap *h) {
    for (unsigned c = 0; c < RTGC_SIZE_CLASSES; c++) {
        splice(&h->unswept[c], &h->partial[c]);
        splice(&h->unswept[c], &h->full[c]);
    }
}

size_t sweep_all_unswept(rtgc_heap *h) {
    size_t cells = 0;
    for (unsigned c = 0; c < RTGC_SIZE_CLASSES; c++) {
        span *s;
        while ((s = list_pop(&h->unswept[c])))
            cells += sweep_popped(h, s);
    }
    return cells;
}

/* Large objects: one mark byte each, swept while the world is stopped. */
void sweep_large(rtgc_heap *h) {
    const uint8_t epoch = h->epoch;
    for (span *s = h->large.head, *n; s; s = n) {
        n = s->next;
        if (*mark_byte(h, s->base) == epoch)
            continue;
        list_remove(&h->large, s);
        h->stats.freed_bytes += span_bytes(s);
        span_release(h, s);
    }
}

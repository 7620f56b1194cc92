/* gc/sweep.c - sweeping, per span, by the collector; by a mutator only
 * when it would otherwise stall.
 *
 * [sweep.lazy] When marking ends, every small span goes to its class's
 * unswept list.  Whatever is still unswept when the next cycle would flip
 * the epoch is swept first, so a span is always swept against the marks of
 * the cycle that just ended.
 *
 * [sweep.bg] Who sweeps: the cycle itself.  After the MARK_OFF round the
 * cycle stays in PHASE_SWEEP and sweeps the unswept lists empty in
 * bounded units (sweep_slice), driven like every other phase: by the
 * collector thread (concurrent), by allocation slices (incremental), by
 * rtgc_step (step), inside the stop (stw).  A mutator sweeps only when the
 * alternative is to grow past the pacer's goal or wait at the limit
 * (alloc.c); each such sweep is a pause of cause SWEEP.  A span is swept
 * under heap->lock, so a refill can never pop a span that is being swept;
 * a span's sweep is bounded (at most 4 blocks, or one heap->lock hold for a
 * wholly dead span of any size class), and the lock is handed to waiting
 * mutators between units [heap.handoff].
 *
 * [sweep.live] A span none of whose cells was marked goes back to the block
 * pool whole, without a walk: the marker counts every mark it sets on a
 * small cell in the cell's block's counter (block_live, live_count()), and
 * a span whose blocks' counts sum to zero holds no live cell.  The count is
 * never too low: every path that sets a small cell's mark byte to the
 * epoch counts (claim and mark_object, and premark_list for black
 * allocation), and a count is reset only when its span is swept (after
 * every mark of the cycle it is swept for: sweeping finishes before the
 * epoch flips) or its blocks are freed.  It may be too high (a span
 * pre-marked in the MARK_OFF window after its sweep, or one created after
 * marking ended and skipped by [sweep.once], keeps those counts into the
 * next cycle): that costs the shortcut, never an object.  The mark bytes
 * of a span released whole are cleared ([heap.blocks]: an old epoch left
 * in them would read as marked two cycles later).
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

static void count_sweep(rtgc_heap *h, enum sweeper who) {
    if (who == BY_MUTATOR)
        h->stats.spans_swept_mutator++;
    else
        h->stats.spans_swept_collector++;
}

/* [sweep.live] No cell of s was marked: give its blocks back as they are.
 * Its cells in use count as freed (a walk would have found some of them
 * free already: the figure is an upper bound). */
static void release_whole(rtgc_heap *h, span *s) {
    h->stats.spans_released_whole++;
    h->stats.freed_bytes += (uint64_t)s->nthreaded * s->cell_size;
    memset(mark_byte(h, s->base), 0, span_bytes(s) >> GRANULE_SHIFT);  /* [heap.blocks] */
    s->nfree = s->ncells;
    s->swept_cycle = h->cycle;
    span_release(h, s);
}

size_t sweep_span(rtgc_heap *h, span *s, enum sweeper who) {
    ASSERT(s->cls != SPAN_LARGE && s->owner == NULL);
    count_sweep(h, who);
    const uint8_t epoch = h->epoch;
    const size_t cs = s->cell_size;
    void *list = NULL;
    uint32_t nfree = 0;
    uint64_t freed = 0;
    /* [sweep.full] A marked cell is live, unless it is a free cell
     * pre-marked for black allocation and never handed out (header 0).
     * Free cells of an unowned span are all on its free list (disown puts
     * a thread's back), so with that list empty every marked cell holds an
     * object, and a live cell's memory is not touched at all: no cache
     * miss per live cell (msgbuf: 200k a cycle). */
    const bool marked_is_live = s->free == NULL;
    for (size_t i = s->nthreaded; i-- > 0;) {          /* virgin cells stay as they are */
        char *c = s->base + i * cs;
        uint8_t *mb = mark_byte(h, c);
        if (rtgc_load_u8(mb) == epoch && (marked_is_live || rtgc_object_header(c) != 0))
            continue;                       /* live */
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
    size_t b = block_index(h, s->base);
    for (size_t i = 0; i < s->nblocks; i++)
        rtgc_atomic_store(&h->block_live[b + i], 0);   /* [sweep.live] counts start again */
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
        list_push(&h->partial[s->sc], s, LIST_PARTIAL);   /* its span class [mark.noscan] */
    else
        list_push(&h->full[s->sc], s, LIST_FULL);
    return true;
}

/* [sweep.once] A span whose swept_cycle is the current cycle has been
 * swept against this cycle's marks already (or was created since); objects
 * allocated in it afterwards are unmarked but live, so sweeping it again
 * would free them.  Queueing is a splice of whole lists (no walk), so the
 * unswept lists can hold such spans: whoever pops one sweeps it only if it
 * is stale, and otherwise files it back as it is (its nfree is old news:
 * it must not decide a release). */
size_t sweep_popped(rtgc_heap *h, span *s, enum sweeper who) {
    if (s->swept_cycle != h->cycle) {
        if (span_live_cells(h, s) == 0) {      /* [sweep.live] */
            count_sweep(h, who);
            release_whole(h, s);
            return 1;
        }
        size_t cells = sweep_span(h, s, who);
        sweep_place(h, s);
        return cells;
    }
    if (s->free || s->nthreaded < s->ncells)
        list_push(&h->partial[s->sc], s, LIST_PARTIAL);
    else
        list_push(&h->full[s->sc], s, LIST_FULL);
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
    for (unsigned c = 0; c < SPAN_CLASSES; c++) {
        splice(&h->unswept[c], &h->partial[c]);
        splice(&h->unswept[c], &h->full[c]);
    }
}

size_t sweep_all_unswept(rtgc_heap *h, enum sweeper who) {
    size_t cells = 0;
    for (unsigned c = 0; c < SPAN_CLASSES; c++) {
        span *s;
        while ((s = list_pop(&h->unswept[c])))
            cells += sweep_popped(h, s, who);
    }
    return cells;
}

bool sweep_pending(const rtgc_heap *h) {
    for (unsigned c = 0; c < SPAN_CLASSES; c++)
        if (h->unswept[c].head)
            return true;
    return false;
}

/* [sweep.bg] The cycle's sweeping: a lock hold sweeps spans for at most
 * SWEEP_HOLD_NS (a span is the unit: the clock is read between spans), then
 * waiting mutators get the lock [heap.handoff]. */
#define SWEEP_HOLD_NS 50000u

bool sweep_slice(rtgc_heap *h, uint64_t deadline) {
    for (;;) {
        heap_lock_handoff(h, deadline);
        pthread_mutex_lock(&h->lock);
        unsigned c = 0;              /* a refill may have queued a span meanwhile */
        uint64_t now = os_now_ns(), until = now + SWEEP_HOLD_NS < deadline ? now + SWEEP_HOLD_NS : deadline;
        span *s = NULL;
        do {
            while (c < SPAN_CLASSES && !(s = list_pop(&h->unswept[c])))
                c++;
            if (s)
                sweep_popped(h, s, BY_COLLECTOR);
        } while (s && os_now_ns() < until);
        pthread_mutex_unlock(&h->lock);
        if (!s)
            return false;
        if (os_now_ns() >= deadline)
            return true;
    }
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

/* gc/cycle.c - the concurrent cycle and the collector thread.
 *
 * The phases, and why their order keeps the strong tri-colour invariant,
 * are in gc/DESIGN.md ("The concurrent collector", [rt.invariant]).  In
 * short, with the mutators running throughout:
 *
 *   finish sweeping  -> flip epoch -> MARK_ON round -> ROOTS round ->
 *   global roots -> trace -> termination rounds -> sweep large objects ->
 *   cycle++ -> MARK_OFF round -> queue spans for sweeping -> sweep
 *
 * No step stops more than one thread at a time: each round is a handshake
 * (handshake.c) that every thread serves at its own safepoint, or the
 * collector serves for it while it is blocked.  With verify=1 a cycle
 * also stops the world once after termination to re-check the marks from
 * the roots ([verify.closure]): the check mode, a long stop by design.
 *
 * Still to come (gc/DESIGN.md): budgeted slices for deep stacks, the
 * incremental and step modes, the pacer and assists.
 */
#include <stdlib.h>

#include "internal.h"

/* ---- handshake work (runs on the thread, or for it while it is blocked) ---- */

static void hs_mark_on(rtgc_heap *h, rtgc_thread *t, void *arg) {
    (void)arg;
    pthread_mutex_lock(&h->lock);
    alloc_disown_all(h, t);          /* stop allocating from spans of the old colour */
    pthread_mutex_unlock(&h->lock);
    t->fast.mark_epoch = h->epoch;
    rtgc_atomic_or(&t->fast.state, RTGC_STATE_MARKING | RTGC_STATE_STORE);
}

static void hs_roots(rtgc_heap *h, rtgc_thread *t, void *arg) {
    (void)arg;
    roots_visit_thread(h, t, shade_visitor(h, t), NULL);
    pthread_mutex_lock(&h->lock);
    alloc_disown_all(h, t);          /* from here on, spans are pre-marked */
    pthread_mutex_unlock(&h->lock);
    t->alloc_black = true;
    rtgc_atomic_and(&t->fast.state, ~(uintptr_t)RTGC_STATE_STORE);
    grey_flush(h, t);
}

static void hs_flush(rtgc_heap *h, rtgc_thread *t, void *arg) {
    if (t->ngrey)
        rtgc_atomic_fetch_add((volatile uintptr_t *)arg, t->ngrey);
    grey_flush(h, t);
}

static void hs_mark_off(rtgc_heap *h, rtgc_thread *t, void *arg) {
    (void)arg;
    rtgc_atomic_and(&t->fast.state, ~(uintptr_t)(RTGC_STATE_MARKING | RTGC_STATE_STORE));
    t->alloc_black = false;
    pthread_mutex_lock(&h->lock);
    alloc_disown_all(h, t);          /* every span must be swept for this cycle */
    pthread_mutex_unlock(&h->lock);
    grey_flush(h, t);
}

static void round_all(rtgc_heap *h, handshake_fn fn, void *arg) {
    pthread_mutex_lock(&h->threads_lock);
    handshake_all(h, NULL, fn, arg);
    pthread_mutex_unlock(&h->threads_lock);
}

void cycle_thread_joined(rtgc_heap *h, rtgc_thread *t) {
    /* A new thread holds no references: it is like a thread whose roots
     * were scanned.  threads_lock is held, so the rounds after this see it. */
    uintptr_t ph = rtgc_atomic_load_acquire(&h->phase);
    if (ph == PHASE_MARK_ON || ph == PHASE_ROOTS || ph == PHASE_TRACE) {
        t->fast.state |= RTGC_STATE_MARKING;
        t->alloc_black = true;
    }
}

/* ---- one cycle ---- */

static void sweep_some(rtgc_heap *h, bool all) {
    for (;;) {
        pthread_mutex_lock(&h->lock);
        span *s = NULL;
        for (unsigned c = 0; c < RTGC_SIZE_CLASSES && !s; c++)
            s = list_pop(&h->unswept[c]);
        if (s) {
            sweep_span(h, s);
            sweep_place(h, s);
        }
        pthread_mutex_unlock(&h->lock);
        if (!s)
            return;
        if (!all) {
            pthread_mutex_lock(&h->cycle_lock);
            bool wanted = h->cycle_requested > rtgc_atomic_load(&h->cycle) || h->shutdown;
            pthread_mutex_unlock(&h->cycle_lock);
            if (wanted)
                return;
        }
    }
}

static void run_cycle(rtgc_heap *h) {
    pthread_mutex_lock(&h->gc_lock);
    emit_event(h, RTGC_EV_CYCLE_START, 0);
    sweep_some(h, true);                       /* [sweep.epoch] needs every span swept */

    pthread_mutex_lock(&h->lock);
    rtgc_store_u8(&h->epoch, h->epoch == 1 ? 2 : 1);   /* mutators read it in the barriers */
    h->marked_bytes = h->marked_objects = 0;
    pthread_mutex_unlock(&h->lock);
    emit_event(h, RTGC_EV_MARK_START, 0);

    rtgc_atomic_store_release(&h->phase, PHASE_MARK_ON);
    round_all(h, hs_mark_on, NULL);
    rtgc_atomic_store_release(&h->phase, PHASE_ROOTS);
    round_all(h, hs_roots, NULL);
    pthread_mutex_lock(&h->lock);              /* ranges may be added meanwhile */
    roots_visit_globals(h, mark_visitor(h));   /* after every thread [rt.invariant] */
    pthread_mutex_unlock(&h->lock);
    rtgc_atomic_store_release(&h->phase, PHASE_TRACE);
    for (;;) {
        mark_drain_concurrent(h);
        uintptr_t shaded = rtgc_atomic_load(&h->shade_count);
        volatile uintptr_t flushed = 0;
        round_all(h, hs_flush, (void *)&flushed);
        bool more = mark_drain_concurrent(h);
        if (!more && flushed == 0 && rtgc_atomic_load(&h->shade_count) == shaded)
            break;                               /* [rt.termination] */
    }
    emit_event(h, RTGC_EV_MARK_END, h->marked_bytes);

    if (h->cfg.verify) {
        pthread_mutex_lock(&h->threads_lock);
        world_stop(h, NULL);
        cycle_verify_marks(h);
        world_start(h, NULL);
        pthread_mutex_unlock(&h->threads_lock);
    }

    pthread_mutex_lock(&h->lock);
    cycle_end_marking(h);
    pthread_mutex_unlock(&h->lock);

    rtgc_atomic_store_release(&h->phase, PHASE_MARK_OFF);
    round_all(h, hs_mark_off, NULL);
    pthread_mutex_lock(&h->lock);
    size_t shrunk = cycle_queue_sweep(h);
    pthread_mutex_unlock(&h->lock);
    rtgc_atomic_store_release(&h->phase, PHASE_IDLE);
    if (shrunk)
        emit_event(h, RTGC_EV_HEAP_SHRINK, shrunk);
    emit_event(h, RTGC_EV_CYCLE_END, h->marked_bytes);
    pthread_mutex_lock(&h->cycle_lock);
    pthread_cond_broadcast(&h->cycle_cv);
    pthread_mutex_unlock(&h->cycle_lock);
    sweep_some(h, false);
    pthread_mutex_unlock(&h->gc_lock);
}

static void *collector_main(void *arg) {
    rtgc_heap *h = arg;
    pthread_mutex_lock(&h->cycle_lock);
    while (!h->shutdown) {
        if (h->cycle_requested > rtgc_atomic_load(&h->cycle)) {
            pthread_mutex_unlock(&h->cycle_lock);
            run_cycle(h);
            pthread_mutex_lock(&h->cycle_lock);
            continue;
        }
        pthread_cond_wait(&h->cycle_cv, &h->cycle_lock);
    }
    pthread_mutex_unlock(&h->cycle_lock);
    return NULL;
}

rtgc_status cycle_start_collector(rtgc_heap *h) {
    if (pthread_create(&h->collector, NULL, collector_main, h) != 0)
        return RTGC_ENOMEM;
    h->collector_started = true;
    return RTGC_OK;
}

void cycle_stop_collector(rtgc_heap *h) {
    if (!h->collector_started)
        return;
    pthread_mutex_lock(&h->cycle_lock);
    h->shutdown = true;
    pthread_cond_broadcast(&h->cycle_cv);
    pthread_mutex_unlock(&h->cycle_lock);
    pthread_join(h->collector, NULL);
    h->collector_started = false;
}

void cycle_request(rtgc_heap *h) {
    pthread_mutex_lock(&h->cycle_lock);
    uint64_t done = rtgc_atomic_load(&h->cycle);
    if (h->cycle_requested <= done) {
        h->cycle_requested = done + 1;
        pthread_cond_broadcast(&h->cycle_cv);
    }
    pthread_mutex_unlock(&h->cycle_lock);
}

/* Wait, as a blocked thread (so rounds are served for us), until a cycle
 * that started after `seen_cycle` was read has finished. */
void cycle_wait(rtgc_thread *t, uint64_t target) {
    rtgc_heap *h = t->heap;
    rtgc_enter_blocking(t);
    pthread_mutex_lock(&h->cycle_lock);
    if (h->cycle_requested < target) {
        h->cycle_requested = target;
        pthread_cond_broadcast(&h->cycle_cv);
    }
    while (rtgc_atomic_load_acquire(&h->cycle) < target && !h->shutdown)
        pthread_cond_wait(&h->cycle_cv, &h->cycle_lock);
    pthread_mutex_unlock(&h->cycle_lock);
    rtgc_leave_blocking(t);
}

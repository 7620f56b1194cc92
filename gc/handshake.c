/* gc/handshake.c - per-thread handshakes: work a mutator does for the
 * collector at its own safepoint, without stopping any other thread.
 *
 * [handshake.seq] A request is (fn, arg, sequence number).  The collector
 * writes fn and arg, then publishes the sequence number in hs_req with a
 * release store and sets POLL in the thread's state word.  The thread, at
 * its next safepoint, sees hs_req != hs_done, runs fn, and publishes
 * hs_done = hs_req with a release store.  A thread in a blocking call is
 * claimed by the collector ([threads.status]: BLOCKED -> BLOCKED|GC_OWNS),
 * which runs fn on its behalf and publishes hs_done itself; the thread
 * cannot run mutator code until it is released, so fn never runs twice and
 * never races the thread.  One round is outstanding at a time: the cycle
 * posts the next only when round_progress reported the last complete
 * (threads_lock guards posting and progress).
 *
 * Each served handshake is a pause of cause HANDSHAKE for that thread
 * only; its length is fn's work, which the caller keeps within the budget.
 */
#include <time.h>

#include "internal.h"

static void serve_now(rtgc_heap *h, rtgc_thread *t, uintptr_t seq) {
    t->hs_work = 0;
    t->hs_fn(h, t, t->hs_arg);
    rtgc_atomic_store_release(&t->hs_done, seq);
}

bool handshake_serve(rtgc_thread *t) {
    uintptr_t req = rtgc_atomic_load_acquire(&t->hs_req);
    if (req == rtgc_atomic_load(&t->hs_done))
        return false;
    rtgc_heap *h = t->heap;
    pause_clock pc;
    pause_start(&pc);
    serve_now(h, t, req);
    pause_record(h, t, RTGC_CAUSE_HANDSHAKE, &pc, t->hs_work);
    /* [share.wake] Only a thread waiting in handshake_all is woken, and
     * after the pause is recorded: the collector thread naps instead. */
    if (rtgc_atomic_load(&h->hs_waiters)) {
        pthread_mutex_lock(&h->world_lock);
        pthread_cond_broadcast(&h->hs_cv);
        pthread_mutex_unlock(&h->world_lock);
    }
    return true;
}

/* POLL goes on for every thread, the poster included: a mutator that posts
 * a round from its own step and runs out of budget before serving itself
 * must still be asked at its next safepoint, since nobody else can serve a
 * running thread. */
static void post_one(rtgc_thread *t, rtgc_thread *self, handshake_fn fn, void *arg) {
    (void)self;
    t->hs_fn = fn;
    t->hs_arg = arg;
    rtgc_atomic_store_release(&t->hs_req, t->hs_req + 1);
    rtgc_atomic_or(&t->fast.state, RTGC_STATE_POLL);
}

void round_post(rtgc_heap *h, rtgc_thread *self, handshake_fn fn, void *arg) {
    pthread_mutex_lock(&h->threads_lock);
    for (rtgc_thread *t = h->threads; t; t = t->next)
        post_one(t, self, fn, arg);
    pthread_mutex_unlock(&h->threads_lock);
}

/* Serve t's request for it, if it is blocked (claim, run, release). */
static bool serve_blocked(rtgc_heap *h, rtgc_thread *t) {
    if (rtgc_atomic_load_acquire(&t->status) != TS_BLOCKED ||
        !rtgc_atomic_cas(&t->status, TS_BLOCKED, TS_BLOCKED | TS_GC_OWNS))
        return false;
    uintptr_t req = rtgc_atomic_load_acquire(&t->hs_req);
    if (rtgc_atomic_load_acquire(&t->hs_done) != req)
        serve_now(h, t, req);
    pthread_mutex_lock(&h->world_lock);
    rtgc_atomic_store_release(&t->status, TS_BLOCKED);
    pthread_cond_broadcast(&h->world_cv);
    pthread_mutex_unlock(&h->world_lock);
    return true;
}

bool round_progress(rtgc_heap *h, rtgc_thread *self, uint64_t deadline_ns) {
    bool all = true;
    pthread_mutex_lock(&h->threads_lock);
    for (rtgc_thread *t = h->threads; t; t = t->next) {
        uintptr_t req = rtgc_atomic_load_acquire(&t->hs_req);
        /* Serving for others is the caller's work: past the deadline it
         * stops, and the round goes on in the next step. */
        if (rtgc_atomic_load_acquire(&t->hs_done) != req && (t == self || os_now_ns() < deadline_ns)) {
            if (t == self)
                serve_now(h, t, req);
            else
                serve_blocked(h, t);
        }
        if (rtgc_atomic_load_acquire(&t->hs_done) != rtgc_atomic_load(&t->hs_req)) {
            all = false;
            /* Still running with a request: make sure it is asked (a stop
             * of the world may have cleared its POLL meanwhile). */
            rtgc_atomic_or(&t->fast.state, RTGC_STATE_POLL);
        } else if (t->scan_pending) {
            /* The next slice of its root scan [roots.slices]. */
            post_one(t, self, t->hs_fn, t->hs_arg);
            if (t == self)
                serve_now(h, t, t->hs_req);
            all = false;
        }
    }
    if (all) {
        /* Drop the POLL bits this round set, unless a stop of the world is
         * pending (it sets its own). */
        pthread_mutex_lock(&h->world_lock);
        if (!h->stop_requested)
            for (rtgc_thread *t = h->threads; t; t = t->next)
                rtgc_atomic_and(&t->fast.state, ~(uintptr_t)RTGC_STATE_POLL);
        pthread_mutex_unlock(&h->world_lock);
    }
    pthread_mutex_unlock(&h->threads_lock);
    return all;
}

void handshake_all(rtgc_heap *h, rtgc_thread *self, handshake_fn fn, void *arg) {
    round_post(h, self, fn, arg);
    rtgc_atomic_fetch_add(&h->hs_waiters, 1);
    while (!round_progress(h, self, UINT64_MAX)) {
        pthread_mutex_lock(&h->world_lock);
        os_cond_wait_ns(&h->hs_cv, &h->world_lock, 200000);
        pthread_mutex_unlock(&h->world_lock);
    }
    rtgc_atomic_fetch_add(&h->hs_waiters, (uintptr_t)-1);
}

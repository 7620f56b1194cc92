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
 * never races the thread.  One request per thread is outstanding at a time:
 * handshake_all waits for every thread before it returns, under
 * threads_lock, so no second round can be posted meanwhile.
 *
 * Each served handshake is a pause of cause HANDSHAKE for that thread
 * only; its length is fn's work, which the caller keeps within the budget.
 */
#include "internal.h"

static void serve_now(rtgc_heap *h, rtgc_thread *t, uintptr_t seq) {
    t->hs_fn(h, t, t->hs_arg);
    rtgc_atomic_store_release(&t->hs_done, seq);
}

bool handshake_serve(rtgc_thread *t) {
    uintptr_t req = rtgc_atomic_load_acquire(&t->hs_req);
    if (req == rtgc_atomic_load(&t->hs_done))
        return false;
    rtgc_heap *h = t->heap;
    uint64_t t0 = os_now_ns(), cpu0 = os_thread_cpu_ns();
    serve_now(h, t, req);
    pthread_mutex_lock(&h->world_lock);
    pthread_cond_broadcast(&h->hs_cv);
    pthread_mutex_unlock(&h->world_lock);
    record_pause(h, t, RTGC_CAUSE_HANDSHAKE, t0, os_now_ns(), os_thread_cpu_ns() - cpu0, 0);
    return true;
}

void handshake_all(rtgc_heap *h, rtgc_thread *self, handshake_fn fn, void *arg) {
    uintptr_t seq = ++h->hs_seq;
    for (rtgc_thread *t = h->threads; t; t = t->next) {
        t->hs_fn = fn;
        t->hs_arg = arg;
        rtgc_atomic_store_release(&t->hs_req, seq);
        if (t != self)
            rtgc_atomic_or(&t->fast.state, RTGC_STATE_POLL);
    }
    if (self)
        serve_now(h, self, seq);
    for (rtgc_thread *t = h->threads; t; t = t->next) {
        while (rtgc_atomic_load_acquire(&t->hs_done) != seq) {
            uintptr_t st = rtgc_atomic_load_acquire(&t->status);
            if (st == TS_BLOCKED && rtgc_atomic_cas(&t->status, TS_BLOCKED, TS_BLOCKED | TS_GC_OWNS)) {
                if (rtgc_atomic_load_acquire(&t->hs_done) != seq)
                    serve_now(h, t, seq);
                pthread_mutex_lock(&h->world_lock);
                rtgc_atomic_store_release(&t->status, TS_BLOCKED);
                pthread_cond_broadcast(&h->world_cv);
                pthread_mutex_unlock(&h->world_lock);
                break;
            }
            pthread_mutex_lock(&h->world_lock);
            if (rtgc_atomic_load_acquire(&t->hs_done) != seq &&
                rtgc_atomic_load_acquire(&t->status) == TS_RUNNING)
                pthread_cond_wait(&h->hs_cv, &h->world_lock);
            pthread_mutex_unlock(&h->world_lock);
        }
    }
    /* Requests are served: drop the POLL bits this round set, unless a stop
     * of the world is pending (it sets its own). */
    pthread_mutex_lock(&h->world_lock);
    if (!h->stop_requested)
        for (rtgc_thread *t = h->threads; t; t = t->next)
            rtgc_atomic_and(&t->fast.state, ~(uintptr_t)RTGC_STATE_POLL);
    pthread_mutex_unlock(&h->world_lock);
}

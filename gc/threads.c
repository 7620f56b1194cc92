/* gc/threads.c - mutator threads: attach/detach, blocking calls,
 * safepoints, and stopping the world.
 *
 * [threads.status] Each thread has a status word (enum thread_status):
 *   RUNNING   runs its own code; the collector must wait for a safepoint.
 *   BLOCKED   in a blocking call; its roots are published and frozen, so
 *             the collector may claim it (BLOCKED -> BLOCKED|GC_OWNS, by
 *             CAS) and work on its behalf without waiting.
 *   PARKED    stopped at a safepoint, waiting for the world to restart.
 * Only the thread itself moves RUNNING <-> BLOCKED/PARKED; only the
 * collector sets and clears GC_OWNS.  A thread leaving a blocking call
 * while GC_OWNS is set waits until the collector lets go (recorded as a
 * pause of cause BLOCKING).  The BLOCKED store is a release and the
 * collector's CAS a full barrier, so the roots the thread wrote before
 * blocking are visible to the collector that claims it.
 *
 * [threads.stop] world_stop: set stop_requested, set POLL in every other
 * thread's state word, then for each thread wait until it is PARKED or
 * claim it if BLOCKED.  Threads park under world_lock, so the collector's
 * wait on stop_cv cannot miss a wake-up.  Lock order: gc_lock ->
 * threads_lock -> world_lock -> heap->lock.  A thread must never wait
 * for gc_lock while RUNNING (the collector would wait for it forever), so
 * every mutator takes gc_lock through gc_lock_as_mutator.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static _Thread_local rtgc_thread *tl_current;

/* A thread that exits while attached would hold up every later stop of the
 * world; its key destructor detaches it and reports the misuse. */
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

static void detach_at_exit(void *p) {
    rtgc_thread *t = p;
    if (t && t->magic == THREAD_MAGIC) {
        tl_current = t;
        rtgc__report(t->heap, RTGC_ESTATE,
                     "thread %u exited while attached; detaching it (call rtgc_thread_detach before a thread exits)",
                     t->id);
        rtgc_thread_detach(t);
    }
}

static void make_exit_key(void) {
    (void)pthread_key_create(&exit_key, detach_at_exit);
}

bool thread_ok(rtgc_thread *t, const char *where) {
    if (RTGC_UNLIKELY(!t)) {
        rtgc__misuse(NULL, "%s: the thread is NULL (attach it with rtgc_thread_attach)", where);
        return false;
    }
    if (RTGC_UNLIKELY(t->magic != THREAD_MAGIC)) {
        rtgc__misuse(t->magic == THREAD_DEAD ? t->heap : NULL,
                     "%s: thread %p is not attached (%s)", where, (void *)t,
                     t->magic == THREAD_DEAD ? "it was detached" : "never attached, or corrupt");
        return false;
    }
    if (RTGC_UNLIKELY(!pthread_equal(t->os_thread, pthread_self()))) {
        rtgc__misuse(t->heap, "%s: thread %u belongs to another OS thread", where, t->id);
        return false;
    }
    return true;
}

void rtgc_check_thread(rtgc_thread *t, const char *where) {
    (void)thread_ok(t, where);
}

rtgc_thread *rtgc_thread_attach(rtgc_heap *h, rtgc_error *err) {
    if (!h) {
        set_error(err, RTGC_EINVAL, "heap", "rtgc_thread_attach: heap is NULL");
        return NULL;
    }
    if (tl_current && tl_current->magic == THREAD_MAGIC) {
        set_error(err, RTGC_EMISUSE, "thread", "rtgc_thread_attach: this OS thread is already attached (thread %u)",
                  tl_current->id);
        rtgc__misuse(h, "rtgc_thread_attach: this OS thread is already attached (thread %u)", tl_current->id);
        return NULL;
    }
    rtgc_thread *t = aligned_alloc(64, round_up(sizeof *t, 64));
    if (!t) {
        set_error(err, RTGC_ENOMEM, "thread", "rtgc_thread_attach: out of memory");
        return NULL;
    }
    memset(t, 0, sizeof *t);
    t->magic = THREAD_MAGIC;
    t->heap = h;
    t->os_thread = pthread_self();
    t->tid = os_thread_id();
    t->sched_run = UINT64_MAX;       /* not sampled yet (share.c) */
    t->fast.layouts = h->layout_info;
    t->fast.markmap_bias = h->markmap_bias;
    /* Joining while the world is stopped waits here: the collector holds
     * threads_lock for the whole stop. */
    pthread_mutex_lock(&h->threads_lock);
    t->fast.mark_epoch = rtgc_load_u8(&h->epoch);
    t->id = h->next_thread_id++;
    t->status = TS_RUNNING;
    cycle_thread_joined(h, t);
    t->next = h->threads;
    h->threads = t;
    pthread_mutex_unlock(&h->threads_lock);
    tl_current = t;
    pthread_once(&exit_key_once, make_exit_key);
    (void)pthread_setspecific(exit_key, t);
    return t;
}

rtgc_status rtgc_thread_detach(rtgc_thread *t) {
    if (!thread_ok(t, "rtgc_thread_detach"))
        return RTGC_EMISUSE;
    rtgc_heap *h = t->heap;
    /* Blocked, so a collection in progress never waits for us. */
    rtgc_enter_blocking(t);
    pthread_mutex_lock(&h->threads_lock);
    for (rtgc_thread **p = &h->threads; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    pthread_mutex_lock(&h->lock);
    alloc_disown_all(h, t);
    pthread_mutex_unlock(&h->lock);
    grey_flush(h, t);                /* objects it shaded stay grey */
    handles_free(t);
    t->magic = THREAD_DEAD;
    t->fast.frames = NULL;
    t->next = h->dead_threads;   /* kept so that later misuse is recognised */
    h->dead_threads = t;
    pthread_mutex_unlock(&h->threads_lock);
    if (tl_current == t) {
        tl_current = NULL;
        (void)pthread_setspecific(exit_key, NULL);
    }
    return RTGC_OK;
}

rtgc_thread *rtgc_thread_current(void) {
    return tl_current;
}

rtgc_heap *rtgc_thread_heap(rtgc_thread *t) {
    return t->heap;
}

uint32_t rtgc_thread_id(rtgc_thread *t) {
    return t->id;
}

/* ---- blocking ---- */

void rtgc_enter_blocking(rtgc_thread *t) {
    if (!thread_ok(t, "rtgc_enter_blocking"))
        return;
    rtgc_heap *h = t->heap;
    if (RTGC_UNLIKELY(rtgc_atomic_load(&t->status) != TS_RUNNING)) {
        rtgc__misuse(h, "rtgc_enter_blocking: thread %u is already in a blocking region", t->id);
        return;
    }
    /* A CAS, not a plain store: it is a full barrier, so the loads below
     * cannot pass it (a plain store could be overtaken by them, on x86
     * too), and a collector that read RUNNING would sleep unwoken.  Only
     * this thread moves its status away from RUNNING. */
    rtgc_atomic_cas(&t->status, TS_RUNNING, TS_BLOCKED);
    /* A collector waiting for this thread (a stop, or a handshake) checks
     * the status under world_lock before it sleeps: wake it. */
    if (rtgc_atomic_load_acquire(&h->stop_requested) ||
        rtgc_atomic_load_acquire(&t->hs_req) != rtgc_atomic_load(&t->hs_done)) {
        pthread_mutex_lock(&h->world_lock);
        pthread_cond_broadcast(&h->stop_cv);
        pthread_cond_broadcast(&h->hs_cv);
        pthread_mutex_unlock(&h->world_lock);
    }
}

void rtgc_leave_blocking(rtgc_thread *t) {
    if (!thread_ok(t, "rtgc_leave_blocking"))
        return;
    rtgc_heap *h = t->heap;
    if (RTGC_UNLIKELY(rtgc_atomic_load(&t->status) == TS_RUNNING)) {
        rtgc__misuse(h, "rtgc_leave_blocking: thread %u is not in a blocking region", t->id);
        return;
    }
    if (!rtgc_atomic_cas(&t->status, TS_BLOCKED, TS_RUNNING)) {
        uint64_t t0 = os_now_ns();
        pthread_mutex_lock(&h->world_lock);
        while (!rtgc_atomic_cas(&t->status, TS_BLOCKED, TS_RUNNING))
            pthread_cond_wait(&h->world_cv, &h->world_lock);
        pthread_mutex_unlock(&h->world_lock);
        record_pause(h, t, RTGC_CAUSE_BLOCKING, t0, os_now_ns(), h->stw_work_ns, 0);
    }
    rtgc_poll(t);
}

void gc_lock_as_mutator(rtgc_thread *t) {
    rtgc_heap *h = t->heap;
    rtgc_enter_blocking(t);
    pthread_mutex_lock(&h->gc_lock);
    rtgc_atomic_store_release(&t->status, TS_RUNNING);
}

/* ---- safepoints ---- */

void rtgc_poll_slow(rtgc_thread *t) {
    rtgc_heap *h = t->heap;
    if (!(rtgc_atomic_load(&t->fast.state) & RTGC_STATE_POLL))
        return;
    handshake_serve(t);
    pthread_mutex_lock(&h->world_lock);
    if (!h->stop_requested) {
        /* Nothing asked of this thread any more: drop POLL so its polls are
         * fast again, then look once more, since a request posted meanwhile
         * (hs_req stored before POLL was set, both full barriers) must keep
         * it [handshake.seq]. */
        rtgc_atomic_and(&t->fast.state, ~(uintptr_t)RTGC_STATE_POLL);
        if (rtgc_atomic_load_acquire(&t->hs_req) != rtgc_atomic_load(&t->hs_done))
            rtgc_atomic_or(&t->fast.state, RTGC_STATE_POLL);
        pthread_mutex_unlock(&h->world_lock);
        return;
    }
    uint64_t t0 = os_now_ns();
    rtgc_atomic_store_release(&t->status, TS_PARKED);
    pthread_cond_broadcast(&h->stop_cv);
    while (h->stop_requested)
        pthread_cond_wait(&h->world_cv, &h->world_lock);
    rtgc_atomic_store(&t->status, TS_RUNNING);
    uint64_t work = h->stw_work_ns;
    pthread_mutex_unlock(&h->world_lock);
    record_pause(h, t, RTGC_CAUSE_STW, t0, os_now_ns(), work, 0);
}

/* threads_lock held by the caller for the whole stop. */
void world_stop(rtgc_heap *h, rtgc_thread *self) {
    pthread_mutex_lock(&h->world_lock);
    rtgc_atomic_store_release(&h->stop_requested, 1);
    pthread_mutex_unlock(&h->world_lock);
    for (rtgc_thread *t = h->threads; t; t = t->next)
        if (t != self)
            rtgc_atomic_or(&t->fast.state, RTGC_STATE_POLL);
    for (rtgc_thread *t = h->threads; t; t = t->next) {
        if (t == self)
            continue;
        for (;;) {
            uintptr_t st = rtgc_atomic_load_acquire(&t->status);
            if (st == TS_PARKED || (st & TS_GC_OWNS))
                break;
            if (st == TS_BLOCKED) {
                if (rtgc_atomic_cas(&t->status, TS_BLOCKED, TS_BLOCKED | TS_GC_OWNS))
                    break;
                continue;
            }
            pthread_mutex_lock(&h->world_lock);
            if (rtgc_atomic_load_acquire(&t->status) == TS_RUNNING)
                pthread_cond_wait(&h->stop_cv, &h->world_lock);
            pthread_mutex_unlock(&h->world_lock);
        }
    }
    helpers_quiesce(h);              /* marking helpers stop too [mark.parallel] */
}

void world_start(rtgc_heap *h, rtgc_thread *self) {
    pthread_mutex_lock(&h->world_lock);
    rtgc_atomic_store_release(&h->stop_requested, 0);
    for (rtgc_thread *t = h->threads; t; t = t->next) {
        if (t == self)
            continue;
        /* A handshake request still pending keeps its POLL [handshake.seq]. */
        if (rtgc_atomic_load_acquire(&t->hs_req) == rtgc_atomic_load(&t->hs_done))
            rtgc_atomic_and(&t->fast.state, ~(uintptr_t)RTGC_STATE_POLL);
        if (rtgc_atomic_load(&t->status) & TS_GC_OWNS)
            rtgc_atomic_store_release(&t->status, TS_BLOCKED);
    }
    pthread_cond_broadcast(&h->world_cv);
    pthread_mutex_unlock(&h->world_lock);
}

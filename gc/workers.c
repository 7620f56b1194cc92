/* gc/workers.c - marking helpers: threads that trace beside the coordinator
 * [mark.parallel].
 *
 * threads=N gives a heap N - 1 helpers (the Nth marker is whoever runs the
 * cycle: the collector thread, a mutator in its slice, the thread that
 * stopped the world).  A helper holds no lock while it traces, and touches
 * only what marking touches: mark bytes, its own stack, the pool, the
 * blocks' live counts and the heap's marked counters (atomic adds), the
 * ephemeron list (under eph_lock); it also runs the embedder's CUSTOM trace
 * callbacks, several at once, now and then two for one object
 * ([mark.claim], rtgc/layout.h).  So it needs no phase of its
 * own: the coordinator opens helping for the length of a
 * slice (helpers_open: how many may work, and until when) while marking
 * traces (PHASE_TRACE, PHASE_TERMINATE, or the world stopped), and a helper
 * takes packets from the pool only while it is open.
 *
 * How long a helper traces is bounded like any slice: it reads the clock
 * every 32 slots (marker_drain) and stops at the coordinator's deadline,
 * giving whatever it still holds back to the pool before it lowers busy.
 * So in incremental and step mode, where helping is open only for the
 * mutator's own slice, no helper runs past it; in concurrent mode the
 * collector thread opens it only as far as the CPU policy allows
 * [share.sample].
 *
 * A helper never runs a handshake, never takes gc_lock or heap->lock, and
 * is never counted as a mutator: it cannot hold a mutator up except
 * through grey_lock, whose critical sections are a few pointer moves.
 */
#include <stdlib.h>
#include <time.h>

#include "internal.h"

struct helper {
    rtgc_heap *h;
    unsigned index;
    pthread_t thread;
    marker m;
    uint64_t cpu_ns;          /* CPU time spent tracing */
    uint64_t traced_seen;     /* m.traced at the last cycle's records */
};

/* [share.wake] Nobody signals a helper but a cycle's start, a stop of the
 * world and shutdown: a signal from a mutator's slice would put the helper
 * on the mutator's core, preempting it inside its pause.  So while a cycle
 * runs, helpers poll: briefly when helping is open and the pool is empty,
 * less often while it is closed; between cycles they sleep until woken. */
#define HELPER_POLL_NS 50000u    /* helping open, nothing in the pool */
#define HELPER_NAP_NS 200000u    /* a cycle runs, helping closed */
#define HELPER_SLICE_NS 1000000u /* a helper re-reads the deadline at least this often */
#define HELPER_SPIN_NS 50000u    /* the world stopped, nothing in the pool: look again before napping */

static bool may_help(const rtgc_heap *h, const struct helper *w, uint64_t now) {
    /* acquire: pairs with helpers_open, so what the opener did before (a stop
     * of the world it ended) happens before this helper's marks */
    return w->index < rtgc_atomic_load(&h->help_allow) && now < rtgc_atomic_load_acquire(&h->help_until);
}

/* Trace the packet just taken (busy is raised), and more from the pool,
 * until none is left or helping closes; then lower busy. */
static void help(struct helper *w) {
    rtgc_heap *h = w->h;
    marker *m = &w->m;
    uint64_t cpu0 = os_thread_cpu_ns();
    bool did = false;
    for (;;) {
        uint64_t now = os_now_ns(), until = rtgc_atomic_load(&h->help_until);
        if (!may_help(h, w, now))
            break;
        /* With the world stopped (until UINT64_MAX) no deadline: the
         * drain stops when helping closes, and reads no clock. */
        uint64_t deadline = until == UINT64_MAX              ? UINT64_MAX
                            : now + HELPER_SLICE_NS < until ? now + HELPER_SLICE_NS
                                                            : until;
        if (marker_drain(m, deadline, &did))
            continue;
        if (!pool_take(m, false))        /* still counted in busy */
            break;
    }
    pool_give_all(m);                    /* helping closed: the rest goes back */
    marker_publish(m);
    w->cpu_ns += os_thread_cpu_ns() - cpu0;
    rtgc_atomic_fetch_add(&h->busy, (uintptr_t)-1);   /* full barrier: after the marks */
}

static void nap(rtgc_heap *h, uint64_t ns) {
    if (ns == UINT64_MAX) {
        pthread_cond_wait(&h->help_cv, &h->grey_lock);
        return;
    }
    os_cond_wait_ns(&h->help_cv, &h->grey_lock, ns);
}

/* Hungry, grey_lock held: a marker with work to spare gives some at its
 * next check (32 slots, about a microsecond: marker_drain).  With the
 * world stopped (help_until UINT64_MAX: every core is the collector's) the
 * helper looks again every microsecond or so for up to HELPER_SPIN_NS
 * before it naps: a timed nap of 50 us took 130 us on average here, and a
 * helper marking 1 GB of trees beside the coordinator went hungry 20-40
 * times a collection (3-5% of its time asleep).  Otherwise it naps at once
 * [share.wake]. */
static void hungry_wait(rtgc_heap *h) {
    rtgc_atomic_fetch_add(&h->hungry, 1);
    if (rtgc_atomic_load(&h->help_until) == UINT64_MAX) {
        uint64_t until = os_now_ns() + HELPER_SPIN_NS;
        while (!h->shared_grey && rtgc_atomic_load(&h->help_until) == UINT64_MAX && os_now_ns() < until) {
            pthread_mutex_unlock(&h->grey_lock);
            for (int i = 0; i < 32; i++)
                rtgc_cpu_relax();
            pthread_mutex_lock(&h->grey_lock);
        }
    }
    if (!h->shared_grey)
        nap(h, HELPER_POLL_NS);
    rtgc_atomic_fetch_add(&h->hungry, (uintptr_t)-1);
}

static void *helper_main(void *arg) {
    struct helper *w = arg;
    rtgc_heap *h = w->h;
    pthread_mutex_lock(&h->grey_lock);
    while (!h->help_shutdown) {
        uint64_t now = os_now_ns();
        if (!may_help(h, w, now)) {
            nap(h, cycle_active(h) ? HELPER_NAP_NS : UINT64_MAX);
            continue;
        }
        mark_chunk *c = h->shared_grey;
        if (!c) {
            hungry_wait(h);
            continue;
        }
        /* [mark.parallel] take and count in one critical section */
        h->shared_grey = c->prev;
        rtgc_atomic_fetch_add(&h->busy, 1);
        pthread_mutex_unlock(&h->grey_lock);
        marker_link(&w->m, c);
        help(w);
        pthread_mutex_lock(&h->grey_lock);
    }
    pthread_mutex_unlock(&h->grey_lock);
    return NULL;
}

rtgc_status helpers_start(rtgc_heap *h) {
    unsigned n = h->cfg.collector_threads > 1 ? h->cfg.collector_threads - 1 : 0;
    if (!n)
        return RTGC_OK;
    h->helpers = calloc(n, sizeof *h->helpers);
    if (!h->helpers)
        return RTGC_ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        struct helper *w = &h->helpers[i];
        w->h = h;
        w->index = i;
        marker_init(&w->m, h, true);
        w->m.helper = true;
        if (pthread_create(&w->thread, NULL, helper_main, w) != 0) {
            marker_fini(&w->m);
            return RTGC_ENOMEM;
        }
        h->nhelpers = i + 1;
    }
    return RTGC_OK;
}

void helpers_stop(rtgc_heap *h) {
    pthread_mutex_lock(&h->grey_lock);
    h->help_shutdown = true;
    rtgc_atomic_store(&h->help_until, 0);
    pthread_cond_broadcast(&h->help_cv);
    pthread_mutex_unlock(&h->grey_lock);
    for (unsigned i = 0; i < h->nhelpers; i++) {
        pthread_join(h->helpers[i].thread, NULL);
        marker_fini(&h->helpers[i].m);
    }
    free(h->helpers);
    h->helpers = NULL;
    h->nhelpers = 0;
}

void helpers_open(rtgc_heap *h, unsigned allow, uint64_t until) {
    if (!h->nhelpers)
        return;
    if (allow > h->nhelpers)
        allow = h->nhelpers;
    rtgc_atomic_store(&h->help_allow, allow);
    rtgc_atomic_store_release(&h->help_until, allow ? until : 0);
}

void helpers_wake(rtgc_heap *h) {
    if (!h->nhelpers)
        return;
    pthread_mutex_lock(&h->grey_lock);
    pthread_cond_broadcast(&h->help_cv);
    pthread_mutex_unlock(&h->grey_lock);
}

/* Under grey_lock: a helper decides to take a packet (may_help, then the
 * take and busy++) inside one grey_lock section, so after this a helper
 * either was counted in busy before it, or sees helping closed. */
void helpers_close(rtgc_heap *h) {
    pthread_mutex_lock(&h->grey_lock);
    rtgc_atomic_store(&h->help_until, 0);
    pthread_mutex_unlock(&h->grey_lock);
}

void helpers_quiesce(rtgc_heap *h) {
    helpers_close(h);
    /* A closed helper stops at its next clock check (32 slots): spin first,
     * since this may be inside a mutator's pause (the epoch flip in a
     * step); sleep only for a helper the platform has stopped. */
    uint64_t spin_until = os_now_ns() + 50000;
    while (rtgc_atomic_load_acquire(&h->busy)) {
        if (os_now_ns() < spin_until) {
            rtgc_cpu_relax();
            continue;
        }
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
}

void mark_drain_parallel(rtgc_heap *h) {
    if (!h->nhelpers) {
        mark_drain(h);
        return;
    }
    helpers_open(h, h->nhelpers, UINT64_MAX);
    helpers_wake(h);                     /* the world is stopped: no one to preempt */
    bool did = false;
    while (mark_drain_until(h, UINT64_MAX, &did)) {
    }
    helpers_close(h);
}

/* The cycle's records: how many markers traced since the last call. */
unsigned helpers_cycle_markers(rtgc_heap *h, uint64_t *helper_objects, uint64_t *helper_cpu_ns) {
    unsigned markers = h->coord.traced != h->coord_traced_seen;
    h->coord_traced_seen = h->coord.traced;
    *helper_objects = *helper_cpu_ns = 0;
    for (unsigned i = 0; i < h->nhelpers; i++) {
        struct helper *w = &h->helpers[i];
        uint64_t traced = __atomic_load_n(&w->m.traced, __ATOMIC_RELAXED);
        markers += traced != w->traced_seen;
        *helper_objects += traced - w->traced_seen;
        w->traced_seen = traced;
        *helper_cpu_ns += __atomic_load_n(&w->cpu_ns, __ATOMIC_RELAXED);
    }
    return markers;
}

/* gc/share.c - how much CPU the collector may take now [cycle.share].
 *
 * cpu= (cfg.cpu_share) bounds the share of a core the collector takes from
 * mutators that want the CPU; a core no mutator wants is the collector's
 * to use.  The library tells the two apart by asking the scheduler, not by
 * trusting thread states: a mutator that sleeps without rtgc_enter_blocking
 * wants no CPU, and one in a long blocking call may want a whole core.
 *
 * [share.sample] Every SHARE_PERIOD_NS (or longer with many threads) the
 * collector thread reads, for every attached thread, the time it ran and
 * the time it waited on a run queue since the last sample
 * (os_thread_sched: /proc/self/task/TID/schedstat).  A thread that ran or
 * waited to run for the whole interval wants one core; one that slept
 * wants none.  The sum W over the threads is the cores the mutators want;
 * the CPUs of the process's affinity mask less W are free.  Waiting on a
 * run queue counts as wanting: when the collector (or another process)
 * takes a core a mutator needs, the mutator's wait grows, W grows, and the
 * collector goes back to its share at the next sample.  So on a loaded
 * machine, where the mutators wait for cores, the collector keeps to
 * cpu_share; on a quiet one it uses the cores they leave.
 *
 *   free >= 0.75 core    the collector thread does not rest between
 *                        slices (share_idle_core)
 *   free >= 1.75 cores   and floor(free - 0.75) marking helpers may trace
 *                        beside it (share_helpers, at most threads - 1)
 *
 * Where the kernel does not say (no schedstat), a thread counts as wanting
 * a core unless it is blocked in rtgc_enter_blocking.
 */
#include <stdlib.h>

#include "internal.h"

#define SHARE_PERIOD_NS 2000000u      /* 2 ms: a tenth of a 20 ms frame */
#define SHARE_PER_THREAD_NS 200000u   /* a sample costs 5-10 us a thread: at most ~5% of a core */

static bool share_grow(rtgc_heap *h, size_t n) {
    rtgc_thread **l = realloc(h->share_list, n * 2 * sizeof *l);
    if (!l)
        return false;
    h->share_list = l;
    h->share_cap = n * 2;
    return true;
}

/* The share of the interval dt thread t wanted a CPU; updates its sample. */
static double thread_want(rtgc_thread *t, uint64_t dt) {
    uint64_t run, wait;
    if (os_thread_sched(t->tid, &run, &wait) != 0) {
        t->sched_run = UINT64_MAX;
        return (rtgc_atomic_load(&t->status) & ~(uintptr_t)TS_GC_OWNS) == TS_BLOCKED ? 0.0 : 1.0;
    }
    bool first = t->sched_run == UINT64_MAX;
    double w = first || dt == 0 ? 1.0 : (double)((run - t->sched_run) + (wait - t->sched_wait)) / (double)dt;
    t->sched_run = run;
    t->sched_wait = wait;
    return w > 1.0 ? 1.0 : w;
}

/* The threads to sample are listed under threads_lock; their schedstat
 * files are read outside it (5-10 us each: a mutator taking threads_lock
 * in a pause must not wait for them).  A thread detached meanwhile stays
 * allocated (dead_threads), and only this thread writes the samples. */
void share_update(rtgc_heap *h) {
    uint64_t now = os_now_ns();
    pthread_mutex_lock(&h->threads_lock);
    size_t n = 0;
    for (rtgc_thread *t = h->threads; t; t = t->next)
        n++;
    uint64_t period = SHARE_PERIOD_NS + (uint64_t)n * SHARE_PER_THREAD_NS;
    if ((h->share_sampled && now - h->share_sampled < period) ||
        (n > h->share_cap && !share_grow(h, n))) {
        pthread_mutex_unlock(&h->threads_lock);
        return;
    }
    n = 0;
    for (rtgc_thread *t = h->threads; t; t = t->next)
        h->share_list[n++] = t;
    pthread_mutex_unlock(&h->threads_lock);
    uint64_t dt = h->share_sampled ? now - h->share_sampled : 0;
    double want = 0.0;
    for (size_t i = 0; i < n; i++)
        want += thread_want(h->share_list[i], dt);
    h->share_sampled = now;
    double free_cpus = (double)os_cpu_count() - want;
    rtgc_atomic_store(&h->share_idle_core, free_cpus >= 0.75);
    unsigned helpers = free_cpus >= 1.75 ? (unsigned)(free_cpus - 0.75) : 0;
    rtgc_atomic_store(&h->share_helpers, helpers < h->nhelpers ? helpers : h->nhelpers);
}

void share_fini(rtgc_heap *h) {
    free(h->share_list);
    h->share_list = NULL;
    h->share_cap = 0;
}

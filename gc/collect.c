/* gc/collect.c - the cycle driver.  Today: the stop-the-world collector,
 * the correctness reference and throughput baseline.
 *
 * A stop-the-world cycle, all of it inside one stop of every mutator:
 *   1. stop the world           every thread PARKED at a safepoint or
 *                               BLOCKED and claimed [threads.stop]
 *   2. finish sweeping          spans left unswept by the previous cycle
 *                               [sweep.lazy], so every mark byte is 0 or
 *                               the previous epoch
 *   3. take spans back          every thread's allocation spans [alloc.own]
 *   4. flip the epoch           every object is white [sweep.epoch]
 *   5. mark                     roots, then drain the mark stack
 *   6. (verify=1) verify        the closure of the marks [verify.closure]
 *   7. sweep large objects,     small spans go to the unswept lists, to be
 *      queue the small spans    swept lazily by allocation (a refill sweeps
 *                               its own class first [sweep.lazy]), the rest
 *                               in step 2
 *   8. set the next trigger     live * (1 + growth), at least min_trigger,
 *                               at most the limit; give idle blocks back
 *   9. restart the world
 * The collecting thread records one pause of cause COLLECT; every stopped
 * thread records its own pause of cause STW when it resumes.
 */
#include "internal.h"

/* [cycle.goal] A stopped collection allocates nothing while it runs: the
 * trigger is the goal, live * (1 + growth), at least min_trigger, at most
 * the limit; mutators sweep lazily, in refills [sweep.lazy]. */
static void set_trigger(rtgc_heap *h) {
    double want = (double)h->marked_bytes * (1.0 + h->cfg.growth_factor);
    size_t trig = want > (double)h->cfg.heap_limit ? h->cfg.heap_limit : (size_t)want;
    if (trig < h->cfg.min_trigger)
        trig = h->cfg.min_trigger;
    h->trigger = trig;
    h->heap_goal = trig;
}

/* Marking is complete (lock held): free dead large objects, count the
 * cycle (which makes every span stale [sweep.once]), publish the figures.
 * The next trigger is the caller's: set_trigger here, the pacer in the
 * real-time cycle [cycle.pacer]. */
void cycle_end_marking(rtgc_heap *h) {
    live_flush(&h->coord);           /* [sweep.live] before any sweep reads the counts */
    emit_event(h, RTGC_EV_SWEEP_START, 0);
    sweep_large(h);
    rtgc_atomic_store_release(&h->cycle, h->cycle + 1);
    sweep_queue_all(h);              /* every span is stale now; threads' spans follow at MARK_OFF */
    h->handed_at_mark_end = h->handed_at_mark_start;  /* [cycle.pacer] black allocation survives */
    uint64_t helper_objects, helper_cpu;
    unsigned markers = helpers_cycle_markers(h, &helper_objects, &helper_cpu);
    pthread_mutex_lock(&h->stats_lock);
    h->stats.markers = markers;
    h->stats.helper_objects += helper_objects;
    h->stats.helper_cpu_ns = helper_cpu;
    h->stats.cycles = h->cycle;
    h->stats.live_bytes = h->marked_bytes;
    h->stats.live_objects = h->marked_objects;
    h->stats.live_noscan_objects = h->marked_noscan;
    pthread_mutex_unlock(&h->stats_lock);
}

/* Every thread has given its spans back (lock held): queue them for
 * sweeping (a splice; fresh spans among them are filed back unswept when
 * popped [sweep.once]). */
void cycle_queue_sweep(rtgc_heap *h) {
    sweep_queue_all(h);
}

/* verify=1: a missed object is fatal unless the embedder takes the report. */
void cycle_verify_marks(rtgc_heap *h) {
    size_t bad = verify_marked(h);
    if (bad && !h->error_fn)
        rtgc__fatal("marking missed %zu reachable object(s) in cycle %llu; see the report above", bad,
                    (unsigned long long)h->cycle + 1);
}

static void collect_world_stopped(rtgc_heap *h) {
    pthread_mutex_lock(&h->lock);
    sweep_all_unswept(h, BY_COLLECTOR);
    for (rtgc_thread *t = h->threads; t; t = t->next)
        alloc_disown_all(h, t);
    h->epoch = h->epoch == 1 ? 2 : 1;
    for (rtgc_thread *t = h->threads; t; t = t->next)
        t->fast.mark_epoch = h->epoch;
    h->handed_at_mark_start = h->handed_out;
    pthread_mutex_unlock(&h->lock);

    emit_event(h, RTGC_EV_MARK_START, 0);
    h->marked_bytes = 0;
    h->marked_objects = 0;
    h->marked_noscan = 0;
    mark_roots(h);
    inject_delay(h, RTGC_INJECT_ROOTS);  /* testing knob (rtgc/config.h) */
    mark_drain_parallel(h);              /* with every helper [mark.parallel] */
    weak_process_stopped(h);             /* [weak.order] */
    emit_event(h, RTGC_EV_MARK_END, h->marked_bytes);

    if (h->cfg.verify)
        cycle_verify_marks(h);

    pthread_mutex_lock(&h->lock);
    cycle_end_marking(h);
    set_trigger(h);
    cycle_queue_sweep(h);
    size_t shrunk = heap_decommit_idle(h, SIZE_MAX);
    h->cycle_peak_prev = h->cycle_peak;      /* [heap.retain] */
    h->cycle_peak = h->heap_size;
    pthread_mutex_unlock(&h->lock);
    if (shrunk)
        emit_event(h, RTGC_EV_HEAP_SHRINK, shrunk);
}

void collect_stw(rtgc_thread *t, uint64_t seen_cycle, rtgc_pause_cause cause) {
    rtgc_heap *h = t->heap;
    gc_lock_as_mutator(t);
    if (h->cycle != seen_cycle) {
        pthread_mutex_unlock(&h->gc_lock);
        return;
    }
    uint64_t t0 = os_now_ns(), cpu0 = os_thread_cpu_ns();
    pthread_mutex_lock(&h->threads_lock);
    emit_event(h, RTGC_EV_CYCLE_START, 0);
    world_stop(h, t);
    collect_world_stopped(h);
    uint64_t work = os_thread_cpu_ns() - cpu0;
    h->stw_work_ns = work;
    world_start(h, t);
    pthread_mutex_unlock(&h->threads_lock);
    uint64_t t1 = os_now_ns();
    record_pause(h, t, cause, t0, t1, work, h->marked_bytes);
    emit_event(h, RTGC_EV_CYCLE_END, h->marked_bytes);
    pthread_mutex_unlock(&h->gc_lock);
}

void collect_full(rtgc_thread *t, rtgc_pause_cause cause) {
    rtgc_heap *h = t->heap;
    if (h->cfg.mode == RTGC_MODE_STW) {
        collect_stw(t, rtgc_atomic_load(&h->cycle), cause);
        return;
    }
    /* A whole cycle that starts after this call; waiting for it is a pause
     * of this thread, caused by the collector.  The phase is read first:
     * idle then, any cycle counted by the second read started after the
     * first, so one more suffices; in MARK_OFF, the cycle was counted
     * before the phase was set (a release the acquire pairs with), so the
     * second read counts it, and the next starts after the call: one more;
     * in SWEEP, either the last cycle's sweep (counted, the next marking
     * flips the epoch after the call: one more) or the sweep before a
     * cycle's flip (not counted yet, marks after the call: one more); any
     * other phase, the cycle under way may have been counted or not by
     * the second read, and two more are needed either way.  (Read the
     * other way round, a cycle under way at the count's read and finished
     * by the phase's would have met the target of one more.) */
    uint64_t t0 = os_now_ns();
    uintptr_t phase = rtgc_atomic_load_acquire(&h->phase);
    uint64_t counted = rtgc_atomic_load_acquire(&h->cycle);
    cycle_wait(t, counted + (phase != PHASE_IDLE && phase != PHASE_MARK_OFF && phase != PHASE_SWEEP ? 2 : 1));
    record_pause(h, t, cause, t0, os_now_ns(), 0, 0);
}

void rtgc_collect(rtgc_thread *t) {
    if (!thread_ok(t, "rtgc_collect"))
        return;
    collect_full(t, RTGC_CAUSE_COLLECT);
}

size_t rtgc_verify(rtgc_thread *t) {
    if (!thread_ok(t, "rtgc_verify"))
        return 0;
    rtgc_heap *h = t->heap;
    gc_lock_as_mutator(t);
    pthread_mutex_lock(&h->threads_lock);
    world_stop(h, t);
    size_t problems = verify_heap(h);
    world_start(h, t);
    pthread_mutex_unlock(&h->threads_lock);
    pthread_mutex_unlock(&h->gc_lock);
    return problems;
}

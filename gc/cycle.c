/* gc/cycle.c - the real-time cycle: one state machine, bounded steps, three
 * drivers (STYLE item 9).
 *
 * cycle_step() advances the cycle by at most a time budget and returns;
 * every phase does bounded work per call.  Who calls it is the mode:
 *   concurrent   the collector thread, in slices of the pause budget,
 *                resting between slices so that it takes no more than its
 *                CPU share (cfg.cpu_share) [cycle.share];
 *   incremental  mutators, from the allocation slow path, in slices spaced
 *                so that every 10 ms window leaves the mutator its MMU
 *                target [cycle.mmu];
 *   step         the embedder, through rtgc_step(thread, budget).
 * In the concurrent and incremental modes a mutator that outruns the cycle
 * assists (a slice of its own, cause ASSIST; in step mode only rtgc_step
 * works); in every mode one that reaches the heap limit stalls until a
 * cycle has finished (cause HEAP_LIMIT), driving it itself when no
 * collector thread exists.  Every one of these is a recorded pause.
 *
 * The phases (gc/DESIGN.md, "The concurrent collector", [rt.invariant]):
 *
 *   SWEEP      sweep the last cycle's spans in bounded units (spans with
 *              no marked cell go back whole) [sweep.bg] [sweep.live];
 *              then, when a cycle is wanted, flip the epoch   [sweep.epoch]
 *   MARK_ON    round: barriers on (MARKING|STORE), spans back
 *   ROOTS      round: each thread's roots in slices: the first shades its
 *              frames and handles and starts black allocation, the last
 *              turns its STORE bit off      [roots.slices] [rt.watermark]
 *              then the global roots, after every thread
 *   TRACE      drain grey objects, against the deadline
 *   TERMINATE  round: flush grey buffers; the ephemeron rescan; done when
 *              nothing moved, decided under weak_lock
 *                                         [rt.termination] [weak.get]
 *   WEAK       clear weak refs and ephemerons of unmarked referents, in
 *              slices                                       [weak.order]
 *   FINALIZE   keep, trace and queue unreachable finalizable objects;
 *              then WEAK again, forgetting dead weak objects; then
 *              (verify=1: a stop of the world re-checks the marks) count
 *              the cycle and queue the stale spans for sweeping
 *   MARK_OFF   round: barriers off, spans back              [sweep.once]
 *              then SWEEP again: the cycle ends when its sweep is done
 *
 * No step stops more than one thread at a time: a round is a handshake each
 * thread serves at its own safepoint (handshake.c), one pause per thread.
 * gc_lock is held for the length of one step: it makes the mark stack and
 * the phase the property of whoever is stepping.
 */
#include <stdlib.h>
#include <time.h>

#include <sched.h>

#include "internal.h"

/* ---- handshake work (runs on the thread, or for it while it is blocked) ---- */

static void hs_mark_on(rtgc_heap *h, rtgc_thread *t, void *arg) {
    (void)arg;
    pthread_mutex_lock(&h->lock);
    alloc_disown_all(h, t);          /* stop allocating from spans of the old colour */
    pthread_mutex_unlock(&h->lock);
    t->fast.mark_epoch = rtgc_load_u8(&h->epoch);
    rtgc_atomic_or(&t->fast.state, RTGC_STATE_MARKING | RTGC_STATE_STORE);
}

/* Slots one root slice may visit within the budget, at ROOT_SLOT_NS a slot
 * (shading a slot's object can miss the cache and the TLB twice). */
static uint64_t slice_slots(const rtgc_heap *h) {
    uint64_t n = h->cfg.pause_budget_ns / ROOT_SLOT_NS;
    return n < 256 ? 256 : n > ((uint64_t)1 << 20) ? ((uint64_t)1 << 20) : n;
}

/* [roots.slices] The first slice shades the frames and handles and starts
 * black allocation; the stack scanner goes on from its cursor in later
 * slices, each a handshake of its own, while the thread runs in between.
 * [rt.watermark] Between slices the thread reads no reference from a slot
 * the scanner has not visited without passing it through rtgc_shade
 * (rtgc/roots.h), so the references it holds are non-white, and what it
 * allocates is black: whatever it writes into visited slots is non-white.
 * Its STORE bit stays on until the last slice. */
static void hs_roots(rtgc_heap *h, rtgc_thread *t, void *arg) {
    (void)arg;
    rtgc_visitor *v = shade_visitor(h, t);
    if (!t->scan_pending) {
        roots_visit_direct(t, v);
        for (rtgc_frame *f = t->fast.frames; f; f = f->prev)
            t->hs_work += f->count;
        t->hs_work += t->handle_top;
        t->scan = (rtgc_root_scan){.visitor = v, .cursor = 0, .slots_visited = 0, .slice_limit = 0};
        pthread_mutex_lock(&h->lock);
        alloc_disown_all(h, t);      /* from here on, spans are pre-marked */
        pthread_mutex_unlock(&h->lock);
        t->alloc_black = true;
        inject_delay(h, RTGC_INJECT_ROOTS); /* testing knob, once per thread and cycle */
    }
    t->scan.visitor = v;
    uint64_t before = t->scan.slots_visited;
    t->scan_pending = roots_scan_slice(t, &t->scan, slice_slots(h));
    t->hs_work += t->scan.slots_visited - before;
    if (!t->scan_pending)
        rtgc_atomic_and(&t->fast.state, ~(uintptr_t)RTGC_STATE_STORE);
    grey_flush(h, t);
}

static void hs_flush(rtgc_heap *h, rtgc_thread *t, void *arg) {
    (void)arg;
    if (t->ngrey)
        rtgc_atomic_fetch_add(&h->term_flushed, t->ngrey);
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

void cycle_thread_joined(rtgc_heap *h, rtgc_thread *t) {
    /* threads_lock is held, so every round posted after this includes the
     * new thread.  Joining during MARK_ON it is an unscanned thread like
     * the others (barriers on, white allocation: a black object now could
     * receive a white reference from a thread whose STORE bit is not on
     * yet), and the ROOTS round, posted later, scans it.  Joining later, it
     * holds no references, like a thread whose roots were scanned. */
    uintptr_t ph = rtgc_atomic_load_acquire(&h->phase);
    if (ph == PHASE_MARK_ON) {
        t->fast.state |= RTGC_STATE_MARKING | RTGC_STATE_STORE;
    } else if (ph >= PHASE_ROOTS && ph < PHASE_MARK_OFF) {
        t->fast.state |= RTGC_STATE_MARKING;
        t->alloc_black = true;
    }
}

bool cycle_active(rtgc_heap *h) {
    return rtgc_atomic_load_acquire(&h->phase) != PHASE_IDLE;
}

static void set_phase(rtgc_heap *h, enum phase p) {
    rtgc_atomic_store_release(&h->phase, p);
}

/* ---- the pacer [cycle.pacer] [cycle.goal] ----
 * [cycle.goal] The heap the pacer aims at, in span bytes, is
 * live * (1 + growth) plus a margin of two spans for each size class in use
 * (a class's partly used span and its next one are not shared out; at most
 * a sixteenth of the limit), never below min_trigger, never above the limit: the limit is a hard cap, not
 * the aim (as GOGC is bounded by GOMEMLIMIT).  A cycle starts when heap_live
 * reaches the goal less what the mutators are expected to allocate while it
 * runs: the bytes handed out during the last cycles (the measured
 * allocation rate times the measured cycle length), smoothed, with a
 * quarter more for variance and at least an eighth of the room between
 * live and the goal.  The mutators take fresh blocks up to the goal and
 * sweep for themselves only past it (alloc.c, [sweep.bg]); assists keep
 * marking ahead of allocation over the runway from the trigger to the goal
 * (pace_debt_ns).  Lock held. */
static size_t goal_of(const rtgc_heap *h, size_t live) {
    size_t margin = 0;
    for (unsigned c = 0; c < SPAN_CLASSES; c++)        /* per span class [mark.noscan] */
        if (h->partial[c].head || h->full[c].head || h->unswept[c].head)
            margin += 2 * class_blocks(sc_size_class(c)) * BLOCK_SIZE;
    if (margin > h->cfg.heap_limit / 16)
        margin = h->cfg.heap_limit / 16;    /* bounded: many classes in a small heap */
    double want = (double)live * (1.0 + h->cfg.growth_factor) + (double)margin;
    return want > (double)h->cfg.heap_limit ? h->cfg.heap_limit : (size_t)want;
}

static void pace(rtgc_heap *h) {
    size_t limit = h->cfg.heap_limit, live = h->marked_bytes;
    size_t goal = goal_of(h, live);
    double last = (double)h->last_cycle_alloc;
    h->cycle_alloc_avg = h->cycle_alloc_avg > 0 ? 0.5 * h->cycle_alloc_avg + 0.5 * last : last;
    size_t room = goal > live ? goal - live : 0;
    double expect = h->cycle_alloc_avg * 1.25;
    if (expect < (double)(room / 8))
        expect = (double)(room / 8);
    size_t trig = expect < (double)room ? goal - (size_t)expect : live;
    if (trig < h->cfg.min_trigger) {
        /* A small heap: no cycle before min_trigger, and room above it. */
        trig = h->cfg.min_trigger;
        if (goal < trig + (size_t)expect)
            goal = trig + (size_t)expect;
    }
    h->trigger = trig > limit ? limit : trig;
    h->heap_goal = goal > limit ? limit : goal;
}

/* ---- one step ---- */

static void start_cycle(rtgc_heap *h) {
    h->cycle_work_ns = 0;
    pthread_mutex_lock(&h->lock);
    h->cycle_alloc_start = h->handed_out;
    h->cycle_peak_prev = h->cycle_peak;      /* [heap.retain] */
    h->cycle_peak = h->heap_size;
    /* [cycle.pacer] The trigger aims a cycle at the goal [cycle.goal];
     * assists make sure it ends by the goal plus the room once more
     * (live * (1 + 2 * growth), the limit before the first cycle), or by
     * twice the allocation measured in past cycles when that is more (up
     * to live * (1 + 4 * growth)): a
     * cycle that runs at the measured pace pays none (the MMU comes
     * first: assists are mutator time), one the mutators outrun does.  A
     * cycle that starts late (its sweep took long) still gets half the
     * room as runway: steeper assists, not a wall (an eighth or a quarter
     * made test_rt's incremental mutator assist through its MMU share).  The work expected is the last cycle's
     * live bytes (the whole heap, the first time). */
    uint64_t live = heap_live(h), goal = h->heap_goal, last = h->stats.live_bytes;
    uint64_t room = goal > last ? goal - last : goal;
    uint64_t end = h->cycle ? goal + room : goal, paced = live + (uint64_t)(h->cycle_alloc_avg * 2);
    if (paced > goal + 3 * room)
        paced = goal + 3 * room;
    if (end < paced)
        end = paced;                  /* twice the measured pace, up to live * (1 + 4 * growth) */
    if (end < live + room / 2)
        end = live + room / 2;
    h->pace_heap_start = live;
    h->pace_goal = end;
    h->pace_work = h->cycle ? h->stats.live_bytes : h->heap_size;
    pthread_mutex_unlock(&h->lock);
    rtgc_atomic_store(&h->cycle_begun, 1);
    emit_event(h, RTGC_EV_CYCLE_START, 0);
    set_phase(h, PHASE_SWEEP);
    helpers_wake(h);                 /* from sleep to polling, for this cycle [share.wake] */
}

/* Idle (no cycle, nothing to sweep): give back up to 1 MiB of blocks that
 * stayed free for a whole cycle; false when there were none.  Idle-time
 * work only: during a cycle it would prolong the phases in which mutators
 * allocate. */
static bool shrink_idle(rtgc_heap *h) {
    heap_lock_handoff(h, os_now_ns() + 200000);
    pthread_mutex_lock(&h->lock);
    size_t shrunk = sweep_pending(h) ? 0 : heap_decommit_idle(h, 16);     /* 1 MiB at a time */
    pthread_mutex_unlock(&h->lock);
    if (shrunk)
        emit_event(h, RTGC_EV_HEAP_SHRINK, shrunk);
    return shrunk != 0;
}

static bool cycle_wanted(rtgc_heap *h) {
    pthread_mutex_lock(&h->cycle_lock);
    bool wanted = h->cycle_requested > rtgc_atomic_load(&h->cycle);
    pthread_mutex_unlock(&h->cycle_lock);
    return wanted;
}

static void finish_cycle(rtgc_heap *h) {
    weak_cycle_end(h);                   /* weak reads plain again */
    pthread_mutex_lock(&h->lock);
    cycle_queue_sweep(h);
    h->last_cycle_alloc = h->handed_out - h->cycle_alloc_start;
    if (h->cycle_work_ns > 0 && h->marked_bytes > 0) {
        double rate = (double)h->marked_bytes / (double)h->cycle_work_ns;
        h->mark_rate = h->mark_rate > 0 ? 0.5 * h->mark_rate + 0.5 * rate : rate;
    }
    pace(h);
    pthread_mutex_unlock(&h->lock);
    set_phase(h, PHASE_SWEEP);           /* the cycle sweeps its spans [sweep.bg] */
    emit_event(h, RTGC_EV_CYCLE_END, h->marked_bytes);
    pthread_mutex_lock(&h->cycle_lock);
    pthread_cond_broadcast(&h->cycle_cv);
    pthread_mutex_unlock(&h->cycle_lock);
}

static bool cycle_step_inner(rtgc_heap *h, rtgc_thread *self, uint64_t budget_ns);

bool cycle_step(rtgc_heap *h, rtgc_thread *self, uint64_t budget_ns) {
    uint64_t t0 = os_now_ns();
    bool active = cycle_step_inner(h, self, budget_ns);
    h->cycle_work_ns += os_now_ns() - t0;
    return active;
}

/* What a phase's step tells the loop of cycle_step_inner. */
enum step { STEP_ON, STEP_YIELD, STEP_IDLE };   /* go on; slice over, cycle active; no cycle */

/* PHASE_SWEEP: [sweep.bg] the last cycle's spans, in bounded units; then,
 * if a cycle is wanted, its marking: flip the epoch [sweep.epoch] and post
 * MARK_ON. */
static enum step step_sweep(rtgc_heap *h, rtgc_thread *self, uint64_t deadline) {
    if (sweep_slice(h, deadline))
        return STEP_YIELD;
    if (!rtgc_atomic_load(&h->cycle_begun)) {
        if (!cycle_wanted(h)) {
            set_phase(h, PHASE_IDLE);
            return STEP_IDLE;
        }
        start_cycle(h);
    }
    /* Grey hand-overs left from the last cycle (objects a thread shaded
     * after termination, already marked then) would make this cycle trace
     * from them as if they were roots: drop them. */
    helpers_quiesce(h);        /* no helper holds a packet across the flip */
    grey_discard(h);
    pthread_mutex_lock(&h->lock);
    if (sweep_pending(h)) {    /* a refill queued a span meanwhile */
        pthread_mutex_unlock(&h->lock);
        return STEP_ON;
    }
    rtgc_atomic_store(&h->cycle_begun, 0);
    rtgc_store_u8(&h->epoch, h->epoch == 1 ? 2 : 1);
    __atomic_store_n(&h->marked_bytes, 0, __ATOMIC_RELAXED); /* pace_debt_ns reads it from the sweep phase on */
    h->marked_objects = 0;
    h->marked_noscan = 0;
    h->handed_at_mark_start = h->handed_out;
    pthread_mutex_unlock(&h->lock);
    emit_event(h, RTGC_EV_MARK_START, 0);
    set_phase(h, PHASE_MARK_ON);
    round_post(h, self, hs_mark_on, NULL);
    return STEP_ON;
}

/* PHASE_ROOTS, after every thread's round: the embedder's globals, then the
 * finalizer queue in slices [weak.fq]. */
static enum step step_roots(rtgc_heap *h, rtgc_thread *self, uint64_t deadline) {
    if (!h->rscan_on) {
        if (!round_progress(h, self, deadline))
            return STEP_YIELD;
        pthread_mutex_lock(&h->lock);          /* ranges may be added meanwhile */
        roots_visit_embedder_globals(h, mark_visitor(h)); /* after every thread [rt.invariant] */
        pthread_mutex_unlock(&h->lock);
        weak_ready_scan_begin(h);
    }
    if (!weak_ready_scan_slice(h, mark_visitor(h), deadline))
        return STEP_YIELD;
    set_phase(h, PHASE_TRACE);
    return STEP_ON;
}

/* Back to tracing: something was still grey. */
static enum step retrace(rtgc_heap *h, uint64_t deadline) {
    set_phase(h, PHASE_TRACE);
    return os_now_ns() >= deadline ? STEP_YIELD : STEP_ON;
}

/* PHASE_TERMINATE [rt.termination] [mark.parallel]: after the flush round,
 * nothing grey on the coordinator's stack, in the pool or with a busy
 * helper, nothing flushed or shaded; then the ephemeron rescan [weak.eph]
 * and the decision under weak_lock [weak.get]. */
static enum step step_terminate(rtgc_heap *h, rtgc_thread *self, uint64_t deadline) {
    if (!round_progress(h, self, deadline))
        return STEP_YIELD;
    bool worked = false;
    helpers_open(h, cycle_helpers_allowed(h), deadline);
    bool more = mark_drain_until(h, deadline, &worked);
    if (more || worked || rtgc_atomic_load(&h->term_flushed) != 0 ||
        rtgc_atomic_load(&h->shade_count) != h->term_shaded)
        return retrace(h, deadline);
    /* No grey object anywhere.  Ephemerons whose key is marked now give
     * their values: trace those, and terminate again. */
    bool eph_more = false;
    if (weak_eph_rescan(h, deadline, &eph_more) || eph_more)
        return retrace(h, deadline);
    /* Marking is done, unless a weak read shaded something since the
     * round began. */
    if (!weak_decide(h)) {
        set_phase(h, PHASE_TRACE);
        return STEP_ON;
    }
    helpers_close(h);          /* marking is done [mark.parallel] */
    h->weak_step = 0;
    set_phase(h, PHASE_WEAK);
    return STEP_ON;
}

/* PHASE_WEAK [weak.order]: step 1 (weak_step 0), or step 3 (weak_step 1),
 * after which the cycle is counted and MARK_OFF posted. */
static enum step step_weak(rtgc_heap *h, rtgc_thread *self, uint64_t deadline) {
    if (!weak_clear_slice(h, deadline, h->weak_step == 1))
        return STEP_YIELD;
    if (h->weak_step == 0) {
        set_phase(h, PHASE_FINALIZE);
        return STEP_ON;
    }
    emit_event(h, RTGC_EV_MARK_END, h->marked_bytes);
    if (h->cfg.verify) {
        pthread_mutex_lock(&h->threads_lock);
        world_stop(h, self);
        cycle_verify_marks(h);
        world_start(h, self);
        pthread_mutex_unlock(&h->threads_lock);
    }
    weak_marking_done(h);          /* finalizers ready before the cycle counts [weak.ready] */
    pthread_mutex_lock(&h->lock);
    cycle_end_marking(h);
    pthread_mutex_unlock(&h->lock);
    set_phase(h, PHASE_MARK_OFF);
    round_post(h, self, hs_mark_off, NULL);
    return STEP_ON;
}

/* PHASE_FINALIZE [weak.order] step 2: keep and queue unreachable
 * finalizable objects (weak_step 0), then trace what they reach, with the
 * ephemeron fixpoint (weak_step 1).  Nothing but the marker makes grey
 * objects now: mutators hold only marked objects. */
static enum step step_finalize(rtgc_heap *h, uint64_t deadline) {
    if (h->weak_step == 0) {
        if (!weak_finalize_slice(h, deadline))
            return STEP_YIELD;
        h->weak_step = 1;
    }
    bool traced = false, eph_more = false;
    if (mark_drain_until(h, deadline, &traced))
        return STEP_YIELD;
    if (weak_eph_rescan(h, deadline, &eph_more) || eph_more)
        return STEP_ON;            /* values marked: drain again */
    h->weak_step = 1;
    set_phase(h, PHASE_WEAK);
    pthread_mutex_lock(&h->weak_lock);
    h->weak_cursor = h->weak_read = 0;
    h->weak_snapshot = h->nweak;
    pthread_mutex_unlock(&h->weak_lock);
    return STEP_ON;
}

/* One phase's bounded work. */
static enum step step_phase(rtgc_heap *h, rtgc_thread *self, uint64_t deadline) {
    bool did = false;
    switch ((enum phase)rtgc_atomic_load(&h->phase)) {
    case PHASE_IDLE:
        if (!cycle_wanted(h))
            return STEP_IDLE;
        start_cycle(h);
        return STEP_ON;
    case PHASE_SWEEP:
        return step_sweep(h, self, deadline);
    case PHASE_MARK_ON:
        if (!round_progress(h, self, deadline))
            return STEP_YIELD;
        set_phase(h, PHASE_ROOTS);
        round_post(h, self, hs_roots, NULL);
        return STEP_ON;
    case PHASE_ROOTS:
        return step_roots(h, self, deadline);
    case PHASE_TRACE:
        helpers_open(h, cycle_helpers_allowed(h), deadline);   /* [mark.parallel] */
        if (mark_drain_until(h, deadline, &did))
            return STEP_YIELD;
        h->term_shaded = rtgc_atomic_load(&h->shade_count);
        rtgc_atomic_store(&h->term_flushed, 0);
        set_phase(h, PHASE_TERMINATE);
        round_post(h, self, hs_flush, NULL);
        return STEP_ON;
    case PHASE_TERMINATE:
        return step_terminate(h, self, deadline);
    case PHASE_WEAK:
        return step_weak(h, self, deadline);
    case PHASE_FINALIZE:
        return step_finalize(h, deadline);
    case PHASE_MARK_OFF:
        if (!round_progress(h, self, deadline))
            return STEP_YIELD;
        finish_cycle(h);
        return STEP_YIELD;         /* the sweep goes on in the next slice */
    }
    return STEP_YIELD;
}

static bool cycle_step_inner(rtgc_heap *h, rtgc_thread *self, uint64_t budget_ns) {
    /* [cycle.slice] A slice ends before its budget by a margin: the clock
     * is read between units of work (mark.c, sweep), and the unit that
     * crosses the deadline, the phase change after it and the caller's
     * bookkeeping must still end inside the budget: an eighth of the
     * budget for the unit (32 slots between clock reads, [mark.drain]),
     * and 10 us for the rest (the pause's own clock and rusage reads and
     * the lock), never more than half of it.  (With an eighth alone, 250 us
     * steps took up to 257 us.) */
    uint64_t margin = budget_ns / 8 + 10000;
    if (margin > budget_ns / 2)
        margin = budget_ns / 2;
    uint64_t deadline = os_now_ns() + budget_ns - margin;
    for (;;) {
        enum step st = step_phase(h, self, deadline);
        if (st != STEP_ON)
            return st == STEP_YIELD;
        if (os_now_ns() >= deadline && rtgc_atomic_load(&h->phase) != PHASE_IDLE)
            return true;
    }
}

/* ---- drivers ---- */

void cycle_request(rtgc_heap *h) {
    pthread_mutex_lock(&h->cycle_lock);
    uint64_t done = rtgc_atomic_load(&h->cycle);
    if (h->cycle_requested <= done) {
        h->cycle_requested = done + 1;
        pthread_cond_broadcast(&h->cycle_cv);
    }
    pthread_mutex_unlock(&h->cycle_lock);
}

/* [mark.parallel] Helpers may trace in a slice of the incremental and step
 * modes (the embedder allowed them with threads=N; they stop at the
 * slice's deadline), during a stall, and in the concurrent mode as far as
 * the CPU policy allows [share.sample]. */
unsigned cycle_helpers_allowed(rtgc_heap *h) {
    if (!h->nhelpers)
        return 0;
    if (h->cfg.mode != RTGC_MODE_CONCURRENT || rtgc_atomic_load(&h->stalled))
        return h->nhelpers;
    return (unsigned)rtgc_atomic_load(&h->share_helpers);
}

static uint64_t slice_budget(const rtgc_heap *h) {
    return h->cfg.pause_budget_ns;
}

/* One bounded slice by a mutator, recorded as a pause of `cause`. */
static bool mutator_slice(rtgc_thread *t, rtgc_pause_cause cause, bool wait_for_lock, uint64_t budget) {
    rtgc_heap *h = t->heap;
    if (wait_for_lock) {
        gc_lock_as_mutator(t);
    } else if (pthread_mutex_trylock(&h->gc_lock) != 0) {
        return true;                     /* someone else is stepping */
    }
    pause_clock pc;
    pause_start(&pc);
    bool active = cycle_step(h, t, budget);
    pthread_mutex_unlock(&h->gc_lock);
    pause_record(h, t, cause, &pc, 0);
    return active;
}

/* [cycle.pacer] An assist of `ns`: a slice of marking when the marker is
 * free; when another thread (the collector thread, most often) is in a
 * slice of its own, this thread cannot mark beside it, so it gives up the
 * same time instead, asleep as a blocked thread: allocation is throttled
 * to the marker's pace, which is what the assist is for.  Waiting for the
 * marker's lock instead would add its slice to this pause.  Either way the
 * pause is an ASSIST of at most `ns` plus a wake-up. */
static void assist_or_yield(rtgc_thread *t, uint64_t ns) {
    rtgc_heap *h = t->heap;
    pause_clock pc;
    pause_start(&pc);
    if (pthread_mutex_trylock(&h->gc_lock) == 0) {
        cycle_step(h, t, ns);
        pthread_mutex_unlock(&h->gc_lock);
    } else {
        rtgc_enter_blocking(t);
        struct timespec ts = {0, (long)ns};
        nanosleep(&ts, NULL);
        rtgc_leave_blocking(t);
    }
    pause_record(h, t, RTGC_CAUSE_ASSIST, &pc, 0);
}

/* [cycle.pacer] How far marking lags behind allocation, as the time the
 * calling thread should spend marking to catch up (0: on schedule).
 * Marking of pace_work bytes should be done when the heap has grown from
 * pace_heap_start to pace_goal; each refill checks the marked share
 * against the allocated share of that runway, and the debt in bytes is
 * turned into time with the marking rate measured in past cycles.  The
 * caller pays it in short slices (at most a tenth of the budget), one per
 * quantum of allocation [alloc.quantum], instead of one long one at the
 * limit. */
static uint64_t pace_debt_ns(rtgc_heap *h) {
    /* Marking is paced by the allocation made since it began: the sweep
     * that may come first is unpaced but short (the collector sweeps right
     * after each cycle [sweep.bg]; taking what was allocated meanwhile off
     * the runway made incremental mode assist through most of its MMU
     * share); at the limit's edge every phase asks for a full slice. */
    uintptr_t ph = rtgc_atomic_load(&h->phase);
    if (ph < PHASE_SWEEP || ph > PHASE_TERMINATE)
        return 0;
    heap_lock_as_mutator(h);
    uint64_t alloc = h->handed_out - h->handed_at_mark_start;
    uint64_t runway = h->pace_goal > h->pace_heap_start ? h->pace_goal - h->pace_heap_start : 1;
    uint64_t work = h->pace_work, heap = h->heap_size, limit = h->cfg.heap_limit;
    double rate = h->mark_rate > 0 ? h->mark_rate : 0.5;   /* bytes/ns; 500 MB/s until measured */
    pthread_mutex_unlock(&h->lock);
    uint64_t marked = __atomic_load_n(&h->marked_bytes, __ATOMIC_RELAXED);
    if (heap + (limit >> 6) >= limit)
        return UINT64_MAX;                /* at the limit's edge: a full slice */
    if (ph == PHASE_SWEEP)
        return 0;
    /* A quarter of the work as slack: the marker's first slices (root
     * rounds) mark little, and assists for that would be mutator time
     * spent on nothing the runway needs. */
    double due = (double)work * ((double)alloc / (double)runway) - (double)work / 4;
    if (due <= (double)marked)
        return 0;
    double ns = (due - (double)marked) / rate;
    return ns < 20000 ? 20000 : (uint64_t)ns;
}

void cycle_alloc_hook(rtgc_thread *t) {
    rtgc_heap *h = t->heap;
    if (h->cfg.mode == RTGC_MODE_STW || h->cfg.mode == RTGC_MODE_STEP)
        return;
    if (!cycle_active(h)) {
        pthread_mutex_lock(&h->cycle_lock);
        bool wanted = h->cycle_requested > rtgc_atomic_load(&h->cycle);
        pthread_mutex_unlock(&h->cycle_lock);
        if (!wanted)
            return;
    }
    uint64_t budget = slice_budget(h);
    uint64_t assist = pace_debt_ns(h);
    if (assist) {
        /* [cycle.pacer] Behind schedule: this thread pays for its own
         * allocation with a slice of marking, whatever the mode. */
        uint64_t cap = budget / 10 > 20000 ? budget / 10 : 20000; /* many short assists, not few long ones */
        assist_or_yield(t, assist < cap ? assist : cap);
        return;
    }
    if (h->cfg.mode != RTGC_MODE_INCREMENTAL)
        return;                          /* the collector thread, or rtgc_step, does the work */
    /* [cycle.mmu] A slice may take what the last 10 ms left of the
     * collector's (1 - mmu) share: every pause counts, lazy sweeping in the
     * allocator included.  So the window that ends with this slice keeps
     * the mutator's share; assists (above) are the exception, and are
     * recorded as such. */
    uint64_t now = os_now_ns();
    uint64_t share = (uint64_t)((1.0 - h->cfg.mmu_target) * MMU_WINDOW_NS * 0.75); /* room for sweeps to come */
    uint64_t used = recent_paused(h, now, MMU_WINDOW_NS);
    if (used + 50000 >= share)
        return;
    if (budget > share - used)
        budget = share - used;
    mutator_slice(t, RTGC_CAUSE_STEP, false, budget);
}

int rtgc_step(rtgc_thread *t, uint64_t budget_ns) {
    if (!thread_ok(t, "rtgc_step"))
        return 0;
    rtgc_heap *h = t->heap;
    if (h->cfg.mode == RTGC_MODE_STW)
        return 0;
    heap_lock_as_mutator(h);
    bool over = heap_live(h) >= h->trigger;
    pthread_mutex_unlock(&h->lock);
    if (over)
        cycle_request(h);
    if (pthread_mutex_trylock(&h->gc_lock) != 0)
        return 1;
    pause_clock pc;
    pause_start(&pc);
    bool active = cycle_step(h, t, budget_ns);
    pthread_mutex_unlock(&h->gc_lock);
    pause_record(h, t, RTGC_CAUSE_STEP, &pc, 0);
    return active;
}

/* Stall until the cycle numbered `target` has finished, working on it in
 * budgeted slices (cause ASSIST) meanwhile; between slices that made no
 * progress (a round waiting for other threads' safepoints) the thread
 * sleeps briefly as a blocked thread, so rounds can be served for it. */
void cycle_wait(rtgc_thread *t, uint64_t target) {
    rtgc_heap *h = t->heap;
    pthread_mutex_lock(&h->cycle_lock);
    if (h->cycle_requested < target) {
        h->cycle_requested = target;
        pthread_cond_broadcast(&h->cycle_cv);
    }
    pthread_mutex_unlock(&h->cycle_lock);
    /* The waiting thread works on the cycle itself (beside the collector
     * thread, if there is one: they take turns on gc_lock), so a stall
     * lasts as long as the remaining work, not as long as the collector's
     * CPU share makes it. */
    rtgc_atomic_fetch_add(&h->stalled, 1);
    while (rtgc_atomic_load_acquire(&h->cycle) < target && !h->shutdown) {
        uint64_t before = rtgc_atomic_load(&h->phase);
        mutator_slice(t, RTGC_CAUSE_ASSIST, true, slice_budget(h));
        if (rtgc_atomic_load(&h->phase) == before && rtgc_atomic_load_acquire(&h->cycle) < target) {
            /* Waiting for other threads' handshakes: let them run. */
            rtgc_enter_blocking(t);
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
            rtgc_leave_blocking(t);
        }
    }
    rtgc_atomic_fetch_add(&h->stalled, (uintptr_t)-1);
}

/* ---- the collector thread [cycle.share] ----
 * It works in slices of the pause budget.  When the mutators want every
 * CPU [share.sample], after a slice of length s it rests
 * s * (1 - share) / share, so it takes at most `cpu_share` of a core and
 * never holds a core a mutator needs for longer than one slice.  When a
 * core is free it does not rest (and helpers may trace beside it).  Nor
 * does it rest while a mutator is stalled at the heap limit (nothing else
 * can run then), or while marking is behind the pacer's schedule.
 *
 * [share.wake] No mutator wakes the collector thread: a thread woken by a
 * mutator is placed on the waker's core and preempts it, inside the
 * mutator's pause (seen: handshakes of 1-2 ms wall with 10 us of work and
 * two involuntary switches each).  While a round waits for safepoints the
 * collector sleeps in short naps of its own (50 us, doubling to 1 ms) and
 * looks again; handshake_serve wakes only explicit waiters (hs_waiters). */
static void rest(rtgc_heap *h, uint64_t ns) {
    pthread_mutex_lock(&h->cycle_lock);
    if (!h->shutdown)
        os_cond_wait_ns(&h->cycle_cv, &h->cycle_lock, ns);
    pthread_mutex_unlock(&h->cycle_lock);
}

/* [sweep.bg] The cycle's sweep is behind when the heap has reached the
 * goal with spans still unswept: the mutators sweep for themselves from
 * there (a pause each), so the collector sweeps on without its rest. */
static bool sweep_behind(rtgc_heap *h) {
    if (rtgc_atomic_load(&h->phase) != PHASE_SWEEP)
        return false;
    heap_lock_as_mutator(h);
    bool behind = h->heap_size >= h->heap_goal && sweep_pending(h);
    pthread_mutex_unlock(&h->lock);
    return behind;
}

/* One slice of the collector thread; returns how long to rest after it. */
static uint64_t collector_slice(rtgc_heap *h, uint64_t *nap) {
    share_update(h);
    pthread_mutex_lock(&h->gc_lock);
    uint64_t t0 = os_now_ns(), cpu0 = os_thread_cpu_ns();
    uintptr_t phase0 = rtgc_atomic_load(&h->phase);
    bool active = cycle_step(h, NULL, slice_budget(h));
    uint64_t wall = os_now_ns() - t0;
    bool stuck = active && rtgc_atomic_load(&h->phase) == phase0 && wall < 20000;
    pthread_mutex_unlock(&h->gc_lock);
    /* [heap.prefault] Marking on schedule and the sweep come first: a
     * prefault in the sweep phase delays the sweep that makes room, and
     * the mutators reach the goal and sweep for themselves. */
    if (rtgc_atomic_load(&h->phase) != PHASE_SWEEP && !pace_debt_ns(h) && heap_prefault(h, PREFAULT_SLICE))
        sched_yield();                  /* see collector_idle */
    uint64_t work = os_thread_cpu_ns() - cpu0;
    pthread_mutex_lock(&h->stats_lock);
    h->stats.collector_cpu_ns += work;
    pthread_mutex_unlock(&h->stats_lock);
    if (stuck) {                 /* a round is waiting for mutators' safepoints [share.wake] */
        *nap = *nap ? (*nap * 2 < 1000000 ? *nap * 2 : 1000000) : 50000;
        return *nap;
    }
    *nap = 0;
    if (active && !rtgc_atomic_load(&h->stalled) && h->cfg.cpu_share < 1.0 &&
        !rtgc_atomic_load(&h->share_idle_core) && !pace_debt_ns(h) && !sweep_behind(h))
        return (uint64_t)((double)work * (1.0 - h->cfg.cpu_share) / h->cfg.cpu_share);
    return 0;
}

/* Idle (no cycle wanted): give idle memory back, 1 MiB at a time
 * (sweeping is the cycle's own last phase [sweep.bg]), and fault memory
 * in ahead of a growing heap [heap.prefault].  Then wait for a cycle
 * request; while the mutators allocate (handed_out moved since the last
 * look) only for IDLE_LOOK_NS, so that fresh memory is faulted in ahead
 * of them between cycles too.  cycle_lock held. */
#define IDLE_LOOK_NS 1000000u
static void collector_idle(rtgc_heap *h, uint64_t *handed_seen) {
    pthread_mutex_unlock(&h->cycle_lock);
    bool busy = shrink_idle(h);
    pthread_mutex_lock(&h->lock);
    /* Only a heap big enough to prefault for is looked at again: a small
     * one's collector sleeps until a cycle request (no 1 kHz wake-ups on
     * an embedded device). */
    bool allocating = h->handed_out != *handed_seen && h->heap_size >= PREFAULT_MIN_HEAP;
    *handed_seen = h->handed_out;
    pthread_mutex_unlock(&h->lock);
    /* A chunk at a time, then the CPU to whoever else wants it: woken by
     * a mutator's cycle request, this thread may sit on that mutator's
     * core, and a run of page faults there was a 2.7 ms stop of the
     * mutator while the other core idled (perf sched_switch). */
    if (allocating && heap_prefault(h, PREFAULT_SLICE)) {
        busy = true;
        sched_yield();
    }
    pthread_mutex_lock(&h->cycle_lock);
    if (busy || h->shutdown || h->cycle_requested > rtgc_atomic_load(&h->cycle))
        return;
    if (allocating)
        os_cond_wait_ns(&h->cycle_cv, &h->cycle_lock, IDLE_LOOK_NS);
    else
        pthread_cond_wait(&h->cycle_cv, &h->cycle_lock);
}

static void *collector_main(void *arg) {
    rtgc_heap *h = arg;
    uint64_t nap = 0, handed_seen = 0;
    pthread_mutex_lock(&h->cycle_lock);
    while (!h->shutdown) {
        bool wanted = h->cycle_requested > rtgc_atomic_load(&h->cycle) || cycle_active(h);
        if (!wanted) {
            collector_idle(h, &handed_seen);
            continue;
        }
        pthread_mutex_unlock(&h->cycle_lock);
        uint64_t pause = collector_slice(h, &nap);
        if (pause)
            rest(h, pause);
        pthread_mutex_lock(&h->cycle_lock);
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

/* gc/alloc.c - the allocation slow path.
 *
 * The fast path (rtgc/alloc.h) pops a cell from the thread's free list for
 * the size class.  When that list is empty, refill() gives the thread a span
 * to allocate from, trying in order of cost:
 *   1. a span swept earlier that still has free cells      (heap->partial)
 *   2. fresh blocks, while heap_size stays under the pacer's goal
 *      [cycle.goal] and heap_live under the trigger
 *   3. at the goal: a span not yet swept since the last cycle
 *      (heap->unswept), swept here: the collector sweeps them otherwise,
 *      and a mutator only when it would grow the heap past the goal
 *      [sweep.bg]; then fresh blocks up to the limit
 *   4. over the trigger: a collection, then fresh blocks up to the limit
 *   5. at the limit: sweep every unswept span (emptied spans give their
 *      blocks back), collect once more, then out of memory.
 * Large objects (> RTGC_SMALL_MAX) take their own span through the same
 * trigger/limit steps.
 *
 * [alloc.uninit] rtgc_alloc_uninit_slow is the same path without the
 * zeroing of the body (of a cell, or of a large span's dirty memory), for
 * pointer-free layouts only: the collector reads no word of such an object
 * but the header, so whatever the memory held is safe there.  A layout
 * with a reference slot is refused (misuse, NULL), before anything else
 * happens.
 *
 * [mark.noscan] Spans and lists are per span class (internal.h): a size
 * class, ordinary or noscan.  rtgc_alloc_slow fills a thread's ordinary
 * list (fast.free) from ordinary spans; rtgc_alloc_noscan_slow and
 * rtgc_alloc_uninit_slow fill its noscan list (fast.free_noscan) from
 * noscan spans, and only for layouts that may live there
 * (layout_noscan_ok).  A large object's span is noscan when its layout
 * allows, whichever entry made it.
 *
 * [alloc.own] A thread owns at most one span per span class; the span's
 * free cells are then in the thread's free list for it (thread_free:
 * fast.free[cls] or fast.free_noscan[cls]), and no one else touches
 * them.  A collection takes every span back from every
 * thread before it marks (collect.c), so the sweeper never races a thread
 * for a free list.
 *
 * Pause accounting: a slow path that swept is a pause of cause SWEEP; one
 * that collected records the collection itself (collect.c).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* SWEEP_MORE: at the heap limit, with spans still unswept when the refill's
 * time ran out: the caller sweeps on in further bounded slices, inside a
 * stall [alloc.sweep_bound]. */
enum { GOT_SPAN, NEED_COLLECT_SOFT, NEED_COLLECT_HARD, NO_MEMORY, SWEEP_MORE };

/* [alloc.sweep_bound] A refill sweeps against the clock, not a count of
 * cells (a cell of 1 KiB costs a cache miss where one of 16 bytes costs
 * little): until a quarter of the pause budget while the heap is under
 * three quarters of its limit (then it takes fresh blocks instead), until
 * half of it above (growing would only bring the limit nearer). */
typedef struct sweep_clock {
    uint64_t soft, hard;   /* deadlines: roomy heap, full heap */
    pause_clock *pause;    /* the refill's pause clock: its work begins when it sweeps */
} sweep_clock;

/* Give up the thread's span of span class sc (lock held).  Its remaining
 * free cells go back with it: they are free cells the next sweep
 * re-threads. */
static void disown(rtgc_heap *h, rtgc_thread *t, unsigned sc) {
    span *s = t->own[sc];
    if (!s)
        return;
    /* The unused cells (in the thread's list, and parked in the span: in
     * stress mode, and during marking [alloc.quantum]) stay the span's free
     * list. */
    void **fl = thread_free(t, sc);
    void **list = *fl;
    if (list && !s->free) {
        s->free = list;              /* nothing parked: no walk (a whole span's list is long) */
    } else if (list) {
        void **tail = list;          /* at most a quantum while cells are parked [alloc.quantum] */
        while (tail[1])
            tail = tail[1];
        tail[1] = s->free;
        s->free = list;
    }
    *fl = NULL;
    s->owner = NULL;
    t->own[sc] = NULL;
    if (s->free || s->nthreaded < s->ncells)
        list_push(&h->partial[sc], s, LIST_PARTIAL);
    else
        list_push(&h->full[sc], s, LIST_FULL);
}

/* Both list sets, ordinary and noscan [mark.noscan]. */
void alloc_disown_all(rtgc_heap *h, rtgc_thread *t) {
    for (unsigned sc = 0; sc < SPAN_CLASSES; sc++)
        disown(h, t, sc);
}

/* [alloc.quantum] While marking, a thread gets its free cells QUANTUM at a
 * time (the rest stay parked in its span), so it comes back to the slow
 * path, and to the pacer's assist check, every QUANTUM allocations: a
 * marking debt is paid in many short assists rather than a few long
 * ones. */
#define QUANTUM 64u

static void *take_quantum(span *s) {
    void **list = s->free, **c = list;
    for (unsigned k = 1; c && k < QUANTUM; k++)
        c = c[1];
    s->free = c ? c[1] : NULL;
    if (c)
        c[1] = NULL;
    return list;
}

static bool marking_now(rtgc_heap *h) {
    uintptr_t ph = rtgc_atomic_load(&h->phase);
    return ph >= PHASE_ROOTS && ph < PHASE_MARK_OFF;
}

static void own(rtgc_heap *h, rtgc_thread *t, span *s) {
    void *list = s->free;
    s->free = NULL;
    if (!list)
        list = span_extend(s);       /* [heap.extend] */
    if (t->alloc_black)
        premark_list(h, list);       /* allocate black [rt.invariant] */
    /* [alloc.handed] A span's free cells count as handed out once per
     * sweep, when a thread first owns it: a span given back with unused
     * cells (every handshake round disowns) and owned again must not add
     * them again, or heap_live would grow by the leftovers of every
     * thread's spans at every round. */
    if (!s->handed) {
        h->handed_out += (uint64_t)s->nfree * s->cell_size;
        s->handed = true;
    }
    s->owner = t;
    t->own[s->sc] = s;
    if (!h->cfg.stress_alloc && marking_now(h)) {
        s->free = list;
        list = take_quantum(s);
    }
    *thread_free(t, s->sc) = list;
}

/* [cycle.goal] Lock held: `need` more bytes of spans would take the heap
 * past the pacer's goal, or past three quarters of the limit: a tight heap
 * reuses swept memory before it takes fresh blocks, so that fresh spans
 * do not use up the runs of free blocks a large object or another class
 * will need. */
/* [sweep.lazy] In stw mode nothing sweeps between two stops but the
 * allocator: a refill sweeps its own class's spans before it takes fresh
 * blocks (the mode has no pause budget to keep).  The other modes leave
 * the sweep to the collector [sweep.bg] until the heap is at the goal. */
static bool sweeps_lazily(const rtgc_heap *h) {
    return h->cfg.mode == RTGC_MODE_STW;
}

static bool at_goal(const rtgc_heap *h, size_t need) {
    return h->heap_size + need > h->heap_goal || h->heap_size + need > h->cfg.heap_limit / 4 * 3;
}

/* Memory is short (lock held): sweep unswept spans, this span class's
 * first, then (with `any`) any class's, until this span class has a span
 * with free cells, `need` bytes fit under `cap`, or the deadline.  Returns
 * the work done. */
static size_t sweep_until_room(rtgc_heap *h, unsigned sc, bool any, size_t need, size_t cap, uint64_t deadline) {
    size_t cells = 0;
    for (unsigned k = 0; k <= (any ? SPAN_CLASSES : 0); k++) {
        span *s;
        while ((s = list_pop(&h->unswept[k == 0 ? sc : k - 1]))) {
            cells += sweep_popped(h, s, BY_MUTATOR);
            if (h->partial[sc].head || h->heap_size + need <= cap || os_now_ns() >= deadline)
                return cells;
        }
    }
    return cells;
}

/* Lock held.  Find the thread a span of span class sc.  [sweep.bg] In order:
 * a swept span with free cells; fresh blocks while under the pacer's goal
 * (and the trigger); at the goal, unswept spans swept here (a SWEEP pause,
 * against the clock [alloc.sweep_bound]), then fresh blocks up to the
 * limit; at the limit, sweeping on (SWEEP_MORE) or a collection. */
static int refill(rtgc_heap *h, rtgc_thread *t, unsigned sc, bool over_trigger_ok, uint64_t *swept,
                  const sweep_clock *clk) {
    span *s = t->own[sc];
    void **fl = thread_free(t, sc);
    if (s && !*fl && !s->free && s->nthreaded < s->ncells) {
        /* The next page of the span this thread owns [heap.extend]. */
        void *list = span_extend(s);
        if (t->alloc_black)
            premark_list(h, list);
        *fl = list;
        return GOT_SPAN;
    }
    disown(h, t, sc);
    size_t need = class_blocks(sc_size_class(sc)) * BLOCK_SIZE;
    bool swept_for_goal = false, swept_for_limit = false;
    for (;;) {
        if ((s = list_pop(&h->partial[sc]))) {
            if (s->swept_cycle == h->cycle) {
                if (s->free || s->nthreaded < s->ncells) {
                    own(h, t, s);
                    return GOT_SPAN;
                }
                list_push(&h->full[sc], s, LIST_FULL);   /* swept, nothing free */
            } else if (!at_goal(h, need) && !sweeps_lazily(h)) {
                /* Stale: given back between the end of marking and the
                 * MARK_OFF round [sweep.once].  The collector sweeps it. */
                list_push(&h->unswept[sc], s, LIST_UNSWEPT);
            } else {
                pause_work_begins(clk->pause);
                *swept += sweep_popped(h, s, BY_MUTATOR);
            }
            continue;
        }
        if ((at_goal(h, need) || sweeps_lazily(h)) && !swept_for_goal) {
            /* [alloc.sweep_bound] This class's spans only (sweeping other
             * classes' spans helps this refill only if one is wholly dead);
             * past its time, take fresh blocks instead, and leave the rest
             * to later refills and the collector. */
            swept_for_goal = true;
            bool roomy = h->heap_size + need <= h->cfg.heap_limit / 4 * 3;
            size_t cap = sweeps_lazily(h) ? 0 : h->heap_goal;   /* lazily: until this class has room */
            pause_work_begins(clk->pause);
            *swept += sweep_until_room(h, sc, false, need, cap, roomy ? clk->soft : clk->hard);
            continue;                /* the lists may hold a span for us now */
        }
        if (h->heap_size + need <= h->cfg.heap_limit) {
            if (heap_live(h) + need > h->trigger && !over_trigger_ok)
                return NEED_COLLECT_SOFT;
            if ((s = span_new_small(h, sc))) {
                own(h, t, s);
                return GOT_SPAN;
            }
        }
        /* At the limit, or no run of blocks for the span. */
        if (!swept_for_limit) {
            swept_for_limit = true;
            pause_work_begins(clk->pause);
            *swept += sweep_until_room(h, sc, true, need, h->cfg.heap_limit, clk->hard);
            continue;
        }
        return sweep_pending(h) ? SWEEP_MORE : NEED_COLLECT_HARD;
    }
}

static void *alloc_large(rtgc_heap *h, rtgc_thread *t, size_t size, bool zero, bool noscan, bool over_trigger_ok,
                         int *status) {
    size_t bytes = round_up(size, BLOCK_SIZE);
    *status = GOT_SPAN;
    if (size > h->cfg.heap_limit) {
        *status = NO_MEMORY;
        return NULL;
    }
    if (h->heap_size + bytes > h->cfg.heap_limit) {
        sweep_all_unswept(h, BY_MUTATOR);
        if (h->heap_size + bytes > h->cfg.heap_limit) {
            *status = NEED_COLLECT_HARD;
            return NULL;
        }
    } else if (heap_live(h) + bytes > h->trigger && !over_trigger_ok) {
        *status = NEED_COLLECT_SOFT;
        return NULL;
    }
    span *s = span_new_large(h, size, zero, noscan);
    if (!s) {
        sweep_all_unswept(h, BY_MUTATOR);
        s = span_new_large(h, size, zero, noscan);
        if (!s) {
            *status = NEED_COLLECT_HARD;
            return NULL;
        }
    }
    list_push(&h->large, s, LIST_LARGE);
    h->handed_out += size;
    if (t->alloc_black)
        rtgc_store_u8(mark_byte(h, s->base), rtgc_load_u8(&h->epoch));
    return s->base;
}

static void out_of_memory(rtgc_heap *h, size_t size) {
    pthread_mutex_lock(&h->stats_lock);
    h->stats.oom_count++;
    pthread_mutex_unlock(&h->stats_lock);
    emit_event(h, RTGC_EV_OOM, size);
    if (h->oom_fn)
        h->oom_fn(h, size, h->oom_data);
}

/* The checks of an allocation request: false (misuse reported) when it
 * cannot be served.  A RECORD's count is taken as 0.  Noscan lists (and
 * uninitialised cells) only for layouts that may live in noscan spans
 * [mark.noscan]: the inline paths ask pointer_free, which is the same. */
static bool alloc_request_ok(rtgc_thread *t, rtgc_layout_id layout, uint32_t *count, size_t size, bool zero,
                             bool noscan) {
    const char *what = zero ? "rtgc_alloc" : "rtgc_alloc_uninit";
    if (!thread_ok(t, what))
        return false;
    rtgc_heap *h = t->heap;
    if (RTGC_UNLIKELY(layout == 0 || layout >= __atomic_load_n(&h->nlayouts, __ATOMIC_ACQUIRE))) {
        rtgc__misuse(h, "%s: layout id %u is not registered", what, (unsigned)layout);
        return false;
    }
    const layout_desc *d = &h->layouts[layout];
    if (RTGC_UNLIKELY(noscan && !layout_noscan_ok(d))) {
        rtgc__misuse(h, "%s: layout '%s' has reference slots (or a trace callback): only pointer-free "
                     "layouts may be allocated %s", what, d->name,
                     zero ? "from noscan spans [mark.noscan]" : "uninitialised [alloc.uninit]");
        return false;
    }
    if (d->kind == RTGC_LAYOUT_RECORD)
        *count = 0;
    if (RTGC_UNLIKELY(size != object_size(d, *count))) {
        rtgc__misuse(h, "%s: size %zu does not match layout '%s' with count %u (%zu bytes)", what, size, d->name,
                     *count, object_size(d, *count));
        return false;
    }
    return true;
}

/* A cell of span class sc: parked in the thread's span, or from a refill
 * (a pause of cause SWEEP when it swept).  NULL with *st saying why not. */
static void **alloc_small_try(rtgc_heap *h, rtgc_thread *t, unsigned sc, bool collected, int *st) {
    span *mine = t->own[sc];
    void **fl = thread_free(t, sc);
    void **cell = NULL;
    if (mine && mine->free) {
        /* Cells parked in the span this thread owns: one at a time in
         * stress mode, a quantum while marking [alloc.quantum]. */
        if (h->cfg.stress_alloc) {
            cell = mine->free;
            mine->free = cell[1];
        } else {
            *fl = take_quantum(mine);
            cell = *fl;
            *fl = cell[1];
        }
        *st = GOT_SPAN;
        return cell;
    }
    uint64_t swept = 0;
    /* A refill is a pause only if it sweeps: the pause clock's system
     * calls (a thread-CPU-clock read and a getrusage) wait until it does;
     * most refills take a swept span or the next page of their own. */
    pause_clock pc;
    pause_start_wall(&pc);
    sweep_clock clk = {pc.wall + h->cfg.pause_budget_ns / 4, pc.wall + h->cfg.pause_budget_ns / 2, &pc};
    heap_lock_as_mutator(h);
    *st = refill(h, t, sc, collected, &swept, &clk);
    pthread_mutex_unlock(&h->lock);
    if (swept)
        pause_record(h, t, RTGC_CAUSE_SWEEP, &pc, swept);
    if (*st != GOT_SPAN)
        return NULL;
    cell = *fl;
    *fl = cell[1];
    if (h->cfg.stress_alloc) {
        /* Keep the fast path missing, so that every allocation is counted
         * here. */
        t->own[sc]->free = *fl;
        *fl = NULL;
    }
    return cell;
}

/* The slow path of rtgc_alloc_sized (zero), of rtgc_alloc and
 * rtgc_alloc_array of a pointer-free layout (zero, noscan) and of the
 * _uninit calls (noscan). */
static void *alloc_slow(rtgc_thread *t, rtgc_layout_id layout, uint32_t count, size_t size, bool zero,
                        bool noscan) {
    if (!alloc_request_ok(t, layout, &count, size, zero, noscan))
        return NULL;
    rtgc_heap *h = t->heap;
    rtgc_poll(t);
    if (size < 16)
        size = 16;

    cycle_alloc_hook(t);
    if (h->cfg.stress_alloc && ++t->stress_count >= h->cfg.stress_alloc) {
        t->stress_count = 0;
        collect_full(t, RTGC_CAUSE_COLLECT);
    }

    uint64_t seen = rtgc_atomic_load(&h->cycle);
    bool collected = false, collected_fully = false;
    int stalls = 0;
    uint64_t sweep_stall = 0;   /* start of a stall spent sweeping at the limit */
    for (;;) {
        int st;
        if (size > RTGC_SMALL_MAX) {
            heap_lock_as_mutator(h);
            bool large_noscan = layout_noscan_ok(&h->layouts[layout]);  /* any entry [mark.noscan] */
            void *obj = alloc_large(h, t, size, zero, large_noscan, collected, &st);
            pthread_mutex_unlock(&h->lock);
            if (obj) {
                *(uint64_t *)obj = RTGC_HEADER(layout, count);
                return obj;
            }
        } else {
            void **cell = alloc_small_try(h, t, span_class(rtgc_size_class(size), noscan), collected, &st);
            if (cell) {
                if (sweep_stall)
                    record_pause(h, t, RTGC_CAUSE_HEAP_LIMIT, sweep_stall, os_now_ns(), 0, size);
                if (zero)
                    memset(cell + 1, 0, size - RTGC_HEADER_BYTES);
                *(uint64_t *)cell = RTGC_HEADER(layout, count);
                return cell;
            }
        }
        if (st == SWEEP_MORE) {
            /* [alloc.sweep_bound] At the limit, and the memory is in spans
             * not swept yet: sweep on in bounded slices (each its own SWEEP
             * pause, with a safepoint between them); the whole wait is a
             * stall. */
            if (!sweep_stall)
                sweep_stall = os_now_ns();
            rtgc_poll(t);
            continue;
        }
        if (sweep_stall) {
            record_pause(h, t, RTGC_CAUSE_HEAP_LIMIT, sweep_stall, os_now_ns(), 0, size);
            sweep_stall = 0;
        }
        if (st == NEED_COLLECT_SOFT && h->cfg.mode != RTGC_MODE_STW) {
            /* Over the trigger: start a cycle and go on allocating; the
             * limit is the hard stop. */
            cycle_request(h);
            collected = true;
            continue;
        }
        if (h->cfg.mode == RTGC_MODE_STW && (st == NEED_COLLECT_SOFT || (st == NEED_COLLECT_HARD && !collected_fully))) {
            /* A cycle another thread finished since we looked counts too. */
            collect_stw(t, seen, RTGC_CAUSE_COLLECT);
            seen = rtgc_atomic_load(&h->cycle);
            collected = collected_fully = true;
            continue;
        }
        if (st == NEED_COLLECT_HARD && h->cfg.mode != RTGC_MODE_STW && stalls < 2) {
            /* At the limit: a stall, recorded as such, until the cycle in
             * progress (or a new one) has finished; the waiting thread
             * drives it.  If that one, which may have started before the
             * garbage we need was dropped, freed too little, one more
             * whole cycle; then out of memory. */
            uint64_t t0 = os_now_ns();
            cycle_wait(t, rtgc_atomic_load_acquire(&h->cycle) + 1);
            record_pause(h, t, RTGC_CAUSE_HEAP_LIMIT, t0, os_now_ns(), 0, size);
            stalls++;
            collected = true;
            continue;
        }
        /* Still no room after a full collection and a complete sweep. */
        out_of_memory(h, size);
        return NULL;
    }
}

void *rtgc_alloc_slow(rtgc_thread *t, rtgc_layout_id layout, uint32_t count, size_t size) {
    return alloc_slow(t, layout, count, size, true, false);
}

void *rtgc_alloc_noscan_slow(rtgc_thread *t, rtgc_layout_id layout, uint32_t count, size_t size) {
    return alloc_slow(t, layout, count, size, true, true);
}

void *rtgc_alloc_uninit_slow(rtgc_thread *t, rtgc_layout_id layout, uint32_t count, size_t size) {
    return alloc_slow(t, layout, count, size, false, true);
}

void rtgc_set_oom_handler(rtgc_heap *h, rtgc_oom_fn fn, void *data) {
    h->oom_fn = fn;
    h->oom_data = data;
}

/* rtgc/stats.h - what the collector did: counters, pause records, a
 * log-linear pause histogram, and an event callback.
 *
 * A PAUSE is any interval in which a mutator thread cannot run its own code
 * because of the collector.  A STALL is a pause spent waiting because the
 * heap limit was reached; it is recorded as such, never folded into the
 * ordinary pauses.  Every record keeps its wall time and the CPU time the
 * collector's work took inside it (the thread CPU clock), so a pause
 * stretched by the platform (a preempted vCPU) shows wall >> work.  Pauses
 * of pure work on the paused thread (sweep, assist, step, handshake) also
 * count the thread's context switches and its waits for the collector's
 * lock inside them: wall - work - wait is then time the thread was
 * runnable and not running.
 */
#ifndef RTGC_STATS_H
#define RTGC_STATS_H

#include "rtgc/defs.h"
#include <stddef.h>
#include <stdint.h>
#include "rtgc/layout.h"

RTGC_BEGIN_DECLS

typedef enum rtgc_pause_cause {
    RTGC_CAUSE_STW = 0,          /* stopped while the world was stopped for a collection */
    RTGC_CAUSE_COLLECT = 1,      /* this thread ran a stop-the-world collection */
    RTGC_CAUSE_SWEEP = 2,        /* allocation slow path swept a span lazily */
    RTGC_CAUSE_HANDSHAKE = 3,    /* per-thread handshake work */
    RTGC_CAUSE_ROOTS = 4,        /* a slice of this thread's root scan */
    RTGC_CAUSE_ASSIST = 5,       /* mutator assist */
    RTGC_CAUSE_STEP = 6,         /* rtgc_step / incremental slice */
    RTGC_CAUSE_BLOCKING = 7,     /* leave_blocking waited for the collector */
    RTGC_CAUSE_HEAP_LIMIT = 8,   /* stall: waited for memory at the heap limit */
    RTGC_CAUSE_COUNT = 9
} rtgc_pause_cause;

typedef struct rtgc_pause_record {
    uint64_t start_ns;   /* CLOCK_MONOTONIC */
    uint64_t wall_ns;    /* length */
    uint64_t work_ns;    /* CPU time of the collector's work inside it */
    uint64_t work;       /* units of work: bytes marked, cells swept, slots scanned */
    uint64_t cycle;      /* collection cycle it belongs to */
    uint32_t thread;     /* rtgc_thread_id of the paused thread */
    uint16_t cause;      /* rtgc_pause_cause */
    uint16_t stall;      /* 1 for a stall */
    uint32_t involuntary; /* the thread's involuntary context switches inside the pause (preempted) */
    uint32_t voluntary;   /* ... and voluntary ones (it blocked: a lock, a sleep); both
                             RTGC_SWITCHES_UNKNOWN for pauses that do not count them */
    uint64_t wait_ns;     /* time it waited for the collector's heap lock inside the pause */
} rtgc_pause_record;
#define RTGC_SWITCHES_UNKNOWN 0xffffffffu

/* --- log-linear histogram (HdrHistogram's design), values in ns --- */
#define RTGC_HIST_SUB_BITS 7u                 /* 64 buckets per power of two: <= 1.6% error */
#define RTGC_HIST_MAX_BITS 44u                /* values up to ~4.9 hours */
#define RTGC_HIST_BUCKETS ((RTGC_HIST_MAX_BITS - RTGC_HIST_SUB_BITS + 2u) << (RTGC_HIST_SUB_BITS - 1u))
typedef struct rtgc_hist {
    uint64_t count;
    uint64_t total;
    uint64_t min, max;
    uint64_t buckets[RTGC_HIST_BUCKETS];
} rtgc_hist;
void rtgc_hist_init(rtgc_hist *h);
void rtgc_hist_record(rtgc_hist *h, uint64_t value);
void rtgc_hist_merge(rtgc_hist *into, const rtgc_hist *from);
/* Value at percentile p (0..100), with the bucket's upper bound: never
 * reports less than the true percentile.  0 for an empty histogram. */
uint64_t rtgc_hist_percentile(const rtgc_hist *h, double p);
/* Count of values strictly above `value`'s bucket. */
uint64_t rtgc_hist_count_above(const rtgc_hist *h, uint64_t value);

/* --- counters --- */
typedef struct rtgc_stats {
    size_t heap_limit;          /* configured hard limit */
    size_t heap_size;           /* bytes of spans in use (small + large) */
    size_t heap_peak;           /* largest heap_size seen */
    size_t committed;           /* bytes of heap memory committed (not given back) */
    size_t live_bytes;          /* bytes marked live by the last cycle */
    size_t live_objects;        /* objects marked live by the last cycle */
    uint64_t allocated_bytes;   /* bytes handed out in total (span granularity for small objects) */
    uint64_t handed_bytes;      /* bytes of free cells given to threads, each cell once per sweep, and of
                                   large objects: the pacer's count of allocation */
    uint64_t cycles;            /* completed collection cycles */
    uint64_t pauses;            /* pause records (stalls excluded) */
    uint64_t stalls;            /* stall records */
    uint64_t pause_total_ns;    /* wall time of all pauses */
    uint64_t pause_max_ns;
    uint64_t pause_work_max_ns; /* the longest collector work inside one pause */
    uint64_t stall_total_ns;
    uint64_t swept_cells;       /* cells the sweeper visited (not those of spans released whole) */
    uint64_t freed_bytes;       /* bytes the sweeper reclaimed (a span released whole: all its cells in use) */
    uint64_t decommitted_bytes; /* bytes given back to the OS, in total */
    uint64_t oom_count;         /* allocations that returned NULL */
    uint64_t collector_cpu_ns;  /* CPU time of the collector thread (concurrent mode) */
    uint64_t by_cause[RTGC_CAUSE_COUNT]; /* records per cause */
    uint64_t weak_cleared;      /* weak references and ephemerons cleared */
    uint64_t finalizers_queued; /* objects found unreachable with a finalizer (queued to run) */
    uint32_t markers;           /* threads that traced objects in the last cycle: the one running the
                                   cycle and the marking helpers that found work (threads=N) */
    uint64_t helper_objects;    /* objects traced by marking helpers, in total */
    uint64_t helper_cpu_ns;     /* CPU time of the marking helpers, in total */
    /* Where sweeping happened.  A span is swept once per cycle, by the
     * collector's own work (the collector thread; in incremental and step
     * mode the slices and rtgc_step; in stw mode the stop) or, when memory
     * is short (at the pacer's goal or the limit), by a mutator's
     * allocation slow path in a pause of cause SWEEP.  A span none of
     * whose cells was marked is released whole, without visiting its
     * cells, and counts in spans_released_whole as well as under whoever
     * swept it. */
    uint64_t spans_swept_collector;
    uint64_t spans_swept_mutator;
    uint64_t spans_released_whole;
    size_t heap_goal;           /* heap_size the pacer aims at: live * (1 + growth) + margin (rtgc/config.h) */
    uint64_t prefaulted_bytes;  /* bytes of fresh memory the collector thread faulted in ahead of the
                                   allocators (concurrent mode), in total */
    /* Of live_objects, those the last cycle marked in noscan spans (objects
     * of pointer-free layouts from rtgc_alloc, rtgc_alloc_array and the
     * _uninit calls, rtgc/alloc.h): marked without being pushed on a mark
     * stack or read.  Their share of live_bytes is their cells' size, not
     * their objects' (a small one is not read, so its size is its size
     * class's). */
    size_t live_noscan_objects;
} rtgc_stats;
void rtgc_get_stats(rtgc_heap *heap, rtgc_stats *out);

/* Copy of the pause histogram (wall time; stalls excluded) and of the
 * histogram of the collector's own work per pause. */
void rtgc_pause_histogram(rtgc_heap *heap, rtgc_hist *wall, rtgc_hist *work);

/* Pause records are numbered 0, 1, 2, ... in order of their end.  The ring
 * keeps the last `pause_log` of them; this copies records [first, first+max)
 * that are still kept, returning how many it copied and setting *next to the
 * number to ask for next time (records lost to the ring are skipped). */
size_t rtgc_pause_records(rtgc_heap *heap, uint64_t first, rtgc_pause_record *out,
                          size_t max, uint64_t *next);

/* Minimum mutator utilisation of thread `thread` (rtgc_thread_id; 0 means
 * the worst thread) over every window of `window_ns` inside the span the
 * kept pause records cover: 1 - (most pause time in any such window) /
 * window.  With use_work, a pause counts for the collector's CPU time in it
 * rather than its wall time, which leaves out the platform's own stalls.
 * 1.0 when there are no records. */
double rtgc_mmu(rtgc_heap *heap, uint32_t thread, uint64_t window_ns, int use_work);
/* The same over the records that start in [from_ns, to_ns). */
double rtgc_mmu_range(rtgc_heap *heap, uint32_t thread, uint64_t window_ns, int use_work, uint64_t from_ns,
                      uint64_t to_ns);

/* --- events --- */
typedef enum rtgc_event_kind {
    RTGC_EV_CYCLE_START = 0,
    RTGC_EV_MARK_START = 1,
    RTGC_EV_MARK_END = 2,
    RTGC_EV_SWEEP_START = 3,
    RTGC_EV_CYCLE_END = 4,      /* marking done, sweeping may go on lazily */
    RTGC_EV_PAUSE = 5,          /* a pause or stall record (event.pause) */
    RTGC_EV_OOM = 6,            /* an allocation failed (event.bytes = request) */
    RTGC_EV_HEAP_GROW = 7,      /* committed more memory (event.bytes) */
    RTGC_EV_HEAP_SHRINK = 8     /* gave memory back to the OS (event.bytes) */
} rtgc_event_kind;

typedef struct rtgc_event {
    rtgc_event_kind kind;
    uint64_t time_ns;
    uint64_t cycle;
    size_t bytes;
    const rtgc_pause_record *pause; /* RTGC_EV_PAUSE only */
} rtgc_event;
/* Called synchronously on whichever thread the event happens, possibly
 * inside a pause: keep it short, do not allocate from the heap or block. */
typedef void (*rtgc_event_fn)(rtgc_heap *heap, const rtgc_event *ev, void *data);
void rtgc_set_event_handler(rtgc_heap *heap, rtgc_event_fn fn, void *data);

const char *rtgc_cause_name(rtgc_pause_cause cause);

/* CLOCK_MONOTONIC in ns, the clock every record uses. */
uint64_t rtgc_now_ns(void);

RTGC_END_DECLS
#endif

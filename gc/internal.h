/* gc/internal.h - the collector's private structures.  Not for embedders.
 *
 * Memory map (see gc/DESIGN.md for the full story):
 *   heap->base .. heap->end   one reservation, cut into 64 KiB BLOCKS.
 *   A SPAN is a run of blocks: either a small-object span (cells of one size
 *   class, 1..4 blocks) or one large object (any number of blocks).
 *   heap->block_span[i]       span owning block i (NULL when free): the
 *                             object-to-span lookup is address arithmetic.
 *   heap->markmap             one mark byte per 16-byte granule of the
 *                             reservation; an object's mark byte is the one of
 *                             its first granule.  A 64 KiB block's mark bytes
 *                             are exactly one 4 KiB page.
 */
#ifndef RTGC_GC_INTERNAL_H
#define RTGC_GC_INTERNAL_H

#ifndef RTGC_INTERNAL
#error "gc/internal.h is internal to librtgc; embedders include <rtgc.h>"
#endif

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtgc.h"
#include "rtgc/barrier-attrs.h"
#include "../barriers/atomics.h"
#include "os/os.h"

/* Checking levels (compile time): 0 = production, 1 = API misuse checks and
 * cheap assertions, 2 = also poison free cells and validate every reference
 * the marker follows. */
#ifndef RTGC_CHECK
#define RTGC_CHECK 0
#endif

#define BLOCK_SHIFT 16u
#define BLOCK_SIZE ((size_t)1 << BLOCK_SHIFT)
#define GRANULE_SHIFT RTGC_ATTR_GRANULE_SHIFT
#define GRANULE ((size_t)1 << GRANULE_SHIFT)
#define SPAN_LARGE 0xffu
#define POISON_BYTE 0xdbu
#define THREAD_MAGIC 0x72746763u      /* "rtgc" */
#define THREAD_DEAD 0x64656164u       /* "dead" */
#define HANDLE_CHUNK 256u
#define ROOT_SLICE_SLOTS 4096u        /* slots per slice of a stack scanner (stop-the-world) */
#define ROOT_SLOT_NS 100u             /* budgeted cost of a root slot in a real-time slice */
#define GREY_CAP 256u                 /* a mutator's grey buffer */
#define RECENT_PAUSES 512u            /* pauses the incremental scheduler remembers */
#define MMU_WINDOW_NS 10000000u       /* the window the MMU target is for */

#define ASSERT(c) \
    do { if (RTGC_CHECK && !(c)) rtgc__fatal("assertion failed: %s (%s:%d)", #c, __FILE__, __LINE__); } while (0)

/* ---- spans ---- */
/* [mark.noscan] Span classes, as Go's: a size class, and whether the span
 * is noscan (holds objects of pointer-free layouts only).  The span lists
 * and a thread's spans are per span class: sc = cls for ordinary spans,
 * cls + RTGC_SIZE_CLASSES for noscan ones (whose cells a thread hands out
 * from fast.free_noscan). */
#define SPAN_CLASSES (2u * RTGC_SIZE_CLASSES)
static inline unsigned span_class(unsigned cls, bool noscan) {
    return cls + (noscan ? RTGC_SIZE_CLASSES : 0u);
}
static inline unsigned sc_size_class(unsigned sc) {
    return sc % RTGC_SIZE_CLASSES;
}
static inline bool sc_noscan(unsigned sc) {
    return sc >= RTGC_SIZE_CLASSES;
}
/* h->block_noscan[b], the marker's view of block b's span: 0 for an
 * ordinary span (or none), NOSCAN_LARGE for a noscan large span, else the
 * size class of a noscan small span plus one. */
#define NOSCAN_LARGE 0xffu

enum span_list_id { LIST_NONE = 0, LIST_PARTIAL, LIST_FULL, LIST_UNSWEPT, LIST_LARGE };

typedef struct span {
    char *base;
    size_t nblocks;
    uint32_t cls;          /* size class, or SPAN_LARGE */
    uint32_t sc;           /* span class: the lists it goes on, the thread's slot [mark.noscan] */
    bool noscan;           /* holds objects of pointer-free layouts only [mark.noscan] */
    uint32_t cell_size;
    uint32_t ncells;
    uint32_t nthreaded;    /* cells [0, nthreaded) have been used; the rest are virgin [heap.extend] */
    bool fresh;            /* its memory was not committed when the span took it */
    uint32_t nfree;        /* free cells after the last sweep, virgin ones included */
    bool handed;           /* nfree is counted in heap->handed_out already [alloc.handed] */
    void *free;            /* free cells (linked through word 1) while not owned */
    struct span *next, *prev;
    struct rtgc_thread *owner; /* thread allocating from it, or NULL */
    uint64_t swept_cycle;  /* cycle whose marks this span has been swept for */
    uint8_t list;          /* enum span_list_id it was pushed on (a splice leaves it as it was) */
} span;

/* What block_noscan holds for each block of s [mark.noscan]. */
static inline uint8_t span_noscan_byte(const span *s) {
    return !s->noscan ? 0 : s->cls == SPAN_LARGE ? (uint8_t)NOSCAN_LARGE : (uint8_t)(s->cls + 1);
}

typedef struct span_list {
    span *head, *tail;
    size_t count;
} span_list;

/* ---- layouts ---- */
typedef struct layout_desc {
    rtgc_layout_kind kind;
    uint32_t fixed_size;
    uint32_t elem_size;
    bool pointer_free;     /* no reference slot, no trace callback [alloc.uninit] */
    uint64_t bitmap;       /* reference words of the fixed part when it has <= 64 words */
    uint32_t nrefs;        /* reference slots of the fixed part (bitmap bits + offsets) */
    bool noscan;           /* no reference anywhere: counted, never traced [mark.noscan] */
    uint32_t *offsets;     /* else byte offsets */
    size_t noffsets;
    rtgc_trace_fn trace;
    void *trace_data;
    char name[40];
} layout_desc;

/* [mark.noscan] A cell in a noscan span never holds a reference the
 * collector must trace: only layouts without reference slots, trace
 * callback or weak semantics (pointer_free: not the collector's weak and
 * ephemeron layouts, whose flag weak.c clears) and not traced by the
 * collector (noscan: not the ephemeron's) are allocated there.  Every
 * allocation that takes a noscan span or list asks this (alloc.c), and
 * the verifier checks it (verify.c). */
static inline bool layout_noscan_ok(const layout_desc *d) {
    return d->pointer_free && d->noscan;
}

/* ---- threads ---- */
enum thread_status {
    TS_RUNNING = 0,
    TS_BLOCKED = 1,   /* in a blocking call: the collector works on its behalf */
    TS_PARKED = 2,    /* stopped at a safepoint */
    TS_GC_OWNS = 4    /* bit: the collector is using this blocked thread's roots */
};

struct rtgc_thread;
/* Work a thread does for the collector at a safepoint (handshake.c). */
typedef void (*handshake_fn)(rtgc_heap *h, struct rtgc_thread *t, void *arg);

typedef struct handle_chunk {
    struct handle_chunk *prev;
    void *slots[HANDLE_CHUNK];
} handle_chunk;

struct rtgc_thread {
    struct rtgc_mutator fast;        /* must stay first: the inline paths cast to it */
    uint32_t magic;
    uint32_t id;
    rtgc_heap *heap;
    pthread_t os_thread;
    volatile uintptr_t status;       /* enum thread_status */
    span *own[SPAN_CLASSES];         /* span each span class allocates from [mark.noscan] */
    handle_chunk *handles;           /* newest chunk first */
    size_t handle_top;               /* handles in use */
    size_t handle_cap;               /* slots in all chunks */
    rtgc_stack_scan_fn scanner;
    void *scanner_data;
    uint64_t stress_count;
    /* handshake request [handshake.seq] */
    handshake_fn hs_fn;
    void *hs_arg;
    volatile uintptr_t hs_req;       /* sequence number of the latest request */
    volatile uintptr_t hs_done;      /* sequence number of the latest one served */
    uint64_t hs_work;                /* work units of the last request served (slots scanned) */
    /* concurrent marking [rt.invariant] */
    bool alloc_black;                /* roots scanned this cycle: allocate marked */
    bool scan_pending;               /* a sliced root scan is under way [roots.slices] */
    rtgc_root_scan scan;             /* its state between slices */
    uint32_t ngrey;
    void *grey[GREY_CAP];            /* objects this thread shaded, not yet handed over */
    /* the CPU policy's last sample of this thread (share.c) */
    int tid;                         /* kernel thread id */
    uint64_t sched_run, sched_wait;  /* run and run-queue wait, ns, at the last sample */
    struct rtgc_thread *next;
};

/* The thread's free list of span class sc: fast.free or fast.free_noscan. */
static inline void **thread_free(rtgc_thread *t, unsigned sc) {
    return sc_noscan(sc) ? &t->fast.free_noscan[sc_size_class(sc)] : &t->fast.free[sc];
}

/* ---- roots ---- */
typedef struct root_range {
    void **slots;
    size_t count;
} root_range;

typedef struct root_cb {
    rtgc_root_fn fn;
    void *data;
} root_cb;

/* ---- the mark stack ---- */
#define MARK_CHUNK 1022u
typedef struct mark_chunk {
    struct mark_chunk *prev;
    size_t n;
    void *objs[MARK_CHUNK];
} mark_chunk;

/* A marker: one thread's private grey stack and its counters [mark.parallel].
 * The heap's coordinator (h->coord) belongs to whoever runs the cycle
 * (gc_lock held, or the world stopped); each marking helper owns one. */
typedef struct marker {
    struct rtgc_heap *h;
    mark_chunk *top;            /* the private grey stack, newest chunk first */
    mark_chunk *spare;          /* emptied chunks kept for reuse, nspare of them [mark.spare] */
    size_t nspare;
    size_t depth;               /* entries on the stack */
    uint64_t bytes, objects;    /* marked here, not yet added to the heap's counters */
    uint64_t noscan;            /* of those, marked in noscan spans: never pushed [mark.noscan] */
    uint64_t traced;            /* objects traced or marked noscan, ever (records) */
    size_t live_blk;            /* [sweep.live] marks of block live_blk not yet */
    uintptr_t live_n;           /* added to its counter (live_flush) */
    uint8_t epoch;              /* the cycle's mark value, read when a drain starts */
    bool shared;                /* others mark or shade beside it: its drain gives hungry markers work */
    bool helper;                /* a helper's: stops as soon as helping closes */
    struct marker_visitor {
        rtgc_visitor v;
        struct marker *m;
    } visitor;                  /* marks onto this marker's stack */
} marker;

/* ---- the heap ---- */
struct rtgc_heap {
    rtgc_config cfg;

    /* reservation and side tables */
    char *base, *end;
    size_t reserve;
    size_t nblocks;
    uint8_t *markmap;          /* reserve >> GRANULE_SHIFT bytes */
    uint8_t *markmap_bias;     /* markmap - (base >> GRANULE_SHIFT) */
    span **block_span;
    uint8_t *block_state;      /* enum block_state */
    uint32_t *block_freed;     /* cycle in which a free dirty block was freed */
    volatile uintptr_t *block_live; /* cells starting in the block marked since its span was swept [sweep.live] */
    uint8_t *block_noscan;     /* the block's span is noscan: its size class + 1, NOSCAN_LARGE [mark.noscan] */
    size_t hint_clean, hint_dirty, hint_ready;
    size_t decommit_cursor;    /* where heap_decommit_idle goes on */

    /* heap->lock guards spans, lists, blocks and the counters beside them */
    pthread_mutex_t lock;
    span_list partial[SPAN_CLASSES];   /* per span class [mark.noscan] */
    span_list full[SPAN_CLASSES];
    span_list unswept[SPAN_CLASSES];
    span_list large;
    size_t heap_size;          /* bytes in spans */
    size_t heap_peak;
    size_t cycle_peak, cycle_peak_prev; /* heap_size's peak in this cycle and the last [heap.retain] */
    size_t committed;
    size_t trigger;            /* heap_live at which the next cycle starts [cycle.pacer] */
    size_t heap_goal;          /* heap_size the pacer aims at: live * (1 + growth) + margin [cycle.goal] */
    uint8_t epoch;             /* mark byte value of "marked" this cycle: 1 or 2 */

    /* layouts */
    rtgc_layout_info *layout_info;
    layout_desc *layouts;
    uint32_t nlayouts;         /* ids 1..nlayouts-1 are in use */

    /* threads and the world */
    pthread_mutex_t threads_lock;   /* held by a collector for its whole stop */
    rtgc_thread *threads;
    rtgc_thread *dead_threads;
    uint32_t next_thread_id;
    pthread_mutex_t world_lock;
    pthread_cond_t stop_cv;         /* a thread parked or blocked */
    pthread_cond_t world_cv;        /* the world restarted */
    volatile uintptr_t stop_requested;
    pthread_mutex_t gc_lock;        /* one collection at a time */
    uint64_t stw_work_ns;           /* collector CPU time of the current stop */
    pthread_cond_t hs_cv;           /* a thread served a handshake (world_lock) */
    uintptr_t hs_seq;               /* handshake rounds posted (threads_lock) */
    volatile uintptr_t hs_waiters;  /* threads waiting on hs_cv in handshake_all [share.wake] */

    /* roots (guarded by heap->lock) */
    root_range *ranges;
    size_t nranges, cap_ranges;
    root_cb *root_cbs;
    size_t nroot_cbs, cap_root_cbs;
    void ***ghandle_chunks;         /* chunks of HANDLE_CHUNK slots */
    size_t nghandle_chunks;
    uintptr_t ghandle_free;         /* free list: (index << 1) | 1, 0 = empty */

    /* marking */
    marker coord;                    /* the coordinator's stack: whoever runs the cycle */
    uint64_t marked_bytes, marked_objects; /* markers add theirs (atomic adds) */
    uint64_t marked_noscan;          /* of marked_objects, in noscan spans: never pushed [mark.noscan] */
    pthread_mutex_t grey_lock;       /* guards shared_grey, busy and the helpers' wait */
    mark_chunk *shared_grey;         /* the pool: grey packets from mutators and markers [mark.parallel] */
    volatile uintptr_t busy;         /* helpers holding private grey work (grey_lock to raise) */
    volatile uintptr_t hungry;       /* markers waiting for a packet */
    volatile uintptr_t shade_count;  /* objects mutators shaded, ever [rt.termination] */
    /* marking helpers (workers.c) */
    struct helper *helpers;          /* cfg.collector_threads - 1 of them */
    unsigned nhelpers;
    pthread_cond_t help_cv;          /* a cycle started, the world stopped, shutdown (grey_lock) [share.wake] */
    volatile uintptr_t help_until;   /* helpers may take packets until then (0: closed) */
    volatile uintptr_t help_allow;   /* how many helpers may work now */
    volatile uintptr_t share_helpers;   /* helpers the CPU policy allows (share.c) */
    volatile uintptr_t share_idle_core; /* a core no mutator wants: the collector need not rest */
    uint64_t share_sampled;          /* when the policy last sampled the threads */
    struct rtgc_thread **share_list; /* the threads being sampled (collector thread only) */
    size_t share_cap;
    bool help_shutdown;
    uint64_t coord_traced_seen;      /* coord.traced at the last cycle's records */

    /* the concurrent cycle (cycle.c) */
    volatile uintptr_t phase;        /* enum phase */
    pthread_t collector;
    bool collector_started;
    bool shutdown;
    pthread_mutex_t cycle_lock;      /* guards the fields below */
    pthread_cond_t cycle_cv;         /* a cycle was requested or finished */
    uint64_t cycle_requested;        /* cycles asked for (compare with cycle) */
    uintptr_t term_shaded;           /* shade_count when the flush round was posted */
    volatile uintptr_t term_flushed; /* grey objects the flush round handed over */
    /* the last pauses, for the incremental scheduler [cycle.mmu] (stats_lock) */
    uint64_t recent_start[RECENT_PAUSES], recent_end[RECENT_PAUSES];
    uint32_t recent_next;
    uint64_t cycle_alloc_start;      /* handed_out when the cycle started */
    uint64_t handed_out;             /* bytes of free cells given to threads, and large objects (lock) */
    uint64_t handed_at_mark_start;   /* handed_out when the current (or last) marking started */
    uint64_t handed_at_mark_end;     /* what heap_live counts from: the last marking's start (see there) */
    uint64_t pace_heap_start;        /* heap_size when marking started [cycle.pacer] */
    uint64_t pace_goal;              /* heap_size marking should finish under */
    uint64_t pace_work;              /* bytes marking is expected to mark */
    uint64_t cycle_work_ns;          /* time spent in cycle_step this cycle (gc_lock) */
    double mark_rate;                /* bytes marked per ns of cycle work, last cycles */
    uint64_t last_cycle_alloc;       /* bytes allocated during the last cycle [cycle.pacer] */
    double cycle_alloc_avg;          /* the same, smoothed over the last cycles [cycle.goal] */
    volatile uintptr_t cycle_begun;  /* start_cycle has run for the cycle whose marking is next */
    volatile uintptr_t stalled;      /* threads waiting at the heap limit */
    volatile uintptr_t lock_waiters; /* mutators waiting for `lock` [heap.handoff] */

    /* records (stats_lock) */
    pthread_mutex_t stats_lock;
    rtgc_stats stats;
    rtgc_hist *hist_wall, *hist_work;
    rtgc_pause_record *ring;
    uint64_t ring_next;             /* records ever written */
    volatile uintptr_t cycle;       /* completed cycles */
    uint64_t event_cycle;           /* number of the cycle events belong to */

    /* callbacks */
    rtgc_event_fn event_fn;
    void *event_data;
    rtgc_oom_fn oom_fn;
    /* weak references, ephemerons, finalizers (weak.c); weak_lock guards the
     * registries and weak_final [weak.get] */
    pthread_mutex_t weak_lock;
    volatile uintptr_t weak_waiters; /* mutators waiting for weak_lock [heap.handoff] */
    rtgc_layout_id weak_id, eph_id;  /* internal layouts, registered on first use (0: not yet) */
    volatile uintptr_t weak_final;   /* marking is decided: unmarked means dead [weak.get] */
    void **weak_reg;                 /* every weak reference and ephemeron not known dead */
    size_t nweak, capweak;
    struct fin_entry *fin;           /* registered finalizers */
    size_t nfin, capfin;
    struct fin_queue {               /* a list of chunks [weak.fq] */
        struct fq_chunk *first, *last;
        size_t count;
    } ready,                         /* queued, not run: roots until run */
      queued;                        /* found this cycle; ready once their tracing is done */
    struct fq_chunk *rscan;          /* the ready queue's root scan: next chunk to visit, */
    uint32_t rscan_i;                /* and the index in it [weak.fq] */
    bool rscan_on;                   /* the scan has begun (PHASE_ROOTS) */
    pthread_mutex_t eph_lock;        /* guards eph_pending: helpers append while the coordinator rescans */
    void **eph_pending;              /* ephemerons whose key was white when traced */
    size_t neph_pending, capeph;
    size_t weak_cursor, weak_read, weak_snapshot; /* a registry pass: kept up to weak_cursor, read up to
                                      weak_read, [weak_cursor, weak_read) a gap closed at the pass's end,
                                      the pass ends at weak_snapshot (entries after it came later) */
    size_t eph_read, eph_write;      /* the same for a rescan of eph_pending [weak.eph] */
    bool eph_pass_marked;            /* this rescan pass marked a value: another pass follows */
    int weak_step;                   /* sub-step of PHASE_WEAK / PHASE_FINALIZE (cycle.c) */
    pthread_mutex_t weak_layout_lock; /* first use registers the layouts (h->lock is taken inside) */
    uint64_t weak_cleared, finalizers_queued;
    void *oom_data;
    rtgc_error_fn error_fn;
    void *error_data;
    void *volatile user_data;        /* rtgc_heap_set_user_data */
};

/* Phases of a concurrent/incremental cycle (cycle.c).  Marking is on from
 * MARK_ON to TERMINATE. */
enum phase {
    PHASE_IDLE = 0,
    PHASE_SWEEP,       /* sweeping the last cycle's spans; then marking, if a cycle is wanted [sweep.bg] */
    PHASE_MARK_ON,     /* round: barriers on */
    PHASE_ROOTS,       /* round: each thread's roots, in slices */
    PHASE_TRACE,       /* draining grey objects */
    PHASE_TERMINATE,   /* round: flush grey buffers, check for termination */
    PHASE_WEAK,        /* marking complete: clear weak references and ephemerons [weak.order] */
    PHASE_FINALIZE,    /* keep and queue unreachable finalizable objects, trace them, clear again */
    PHASE_MARK_OFF     /* round: barriers off, spans back */
};

enum block_state { BLOCK_FREE_CLEAN = 0, BLOCK_FREE_DIRTY = 1, BLOCK_USED = 2, BLOCK_FREE_READY = 3,
                   BLOCK_FAULTING = 4 };   /* [heap.blocks] */
/* What a new span's memory holds (take_blocks): */
enum { MEM_DIRTY = 1,       /* some block held garbage: clear it if zeroes are wanted */
       MEM_UNTOUCHED = 2 }; /* some block was never faulted in: touch it a page at a time [heap.extend] */

/* [cycle.pacer] The heap the pacer sees: what the last cycle found live
 * plus everything handed out since that cycle's marking started.  Cells
 * handed out while marking is on are allocated black and survive the
 * cycle whether they die or not, so they count as live until the next
 * sweep; counting only what came after marking ended let the span bytes
 * reach the limit while this figure sat under the trigger (GCBench: 64 MiB
 * of spans, 31 MiB counted, a stall).  Span bytes (heap_size) stay high
 * once the heap has grown, free cells inside them included, so they say
 * nothing about progress; this does.  Lock held. */
static inline uint64_t heap_live(const rtgc_heap *h) {
    return h->stats.live_bytes + (h->handed_out - h->handed_at_mark_end);
}

/* ---- address arithmetic ---- */
static inline bool in_heap(const rtgc_heap *h, const void *p) {
    return (const char *)p >= h->base && (const char *)p < h->end;
}
static inline size_t block_index(const rtgc_heap *h, const void *p) {
    return (size_t)((const char *)p - h->base) >> BLOCK_SHIFT;
}
static inline span *span_of(const rtgc_heap *h, const void *p) {
    return h->block_span[block_index(h, p)];
}
static inline uint8_t *mark_byte(const rtgc_heap *h, const void *p) {
    return &h->markmap_bias[(uintptr_t)p >> GRANULE_SHIFT];
}
static inline const layout_desc *layout_of(const rtgc_heap *h, const void *obj) {
    return &h->layouts[rtgc_header_layout(rtgc_object_header(obj))];
}
static inline size_t object_size(const layout_desc *d, uint32_t count) {
    return (size_t)d->fixed_size + (size_t)count * d->elem_size;
}
static inline size_t round_up(size_t n, size_t a) {
    return (n + a - 1) & ~(a - 1);
}
/* Start of the cell holding p in a small span, or NULL past the cells in
 * use (virgin cells hold no object). */
static inline char *cell_start(const span *s, const void *p) {
    size_t off = (size_t)((const char *)p - s->base);
    size_t i = off / s->cell_size;
    return i < s->nthreaded ? s->base + i * s->cell_size : NULL;
}

/* rtgc_layout_register; `traced` keeps a layout without reference slots
 * off the [mark.noscan] path (the ephemeron's, traced by weak.c). */
rtgc_status layout_register(rtgc_heap *h, const rtgc_layout *l, rtgc_layout_id *id, rtgc_error *err, bool traced);
/* [sweep.live] Count a mark of a small cell: its block's live counter
 * goes up by one.  Called wherever a small cell's mark byte is set to the
 * epoch (mark.c: claim, mark_object, premark_list); large objects are
 * checked by their one mark byte and need no count, but counting them is
 * harmless (span_release resets the counters of every block it frees). */
static inline void live_count(rtgc_heap *h, const void *obj) {
    rtgc_atomic_add(&h->block_live[block_index(h, obj)], 1);
}
/* Cells of span s marked since it was last swept (or more: a count is
 * never too low) [sweep.live]; times cell_size, its live bytes. */
static inline size_t span_live_cells(const rtgc_heap *h, const span *s) {
    size_t n = 0, b = block_index(h, s->base);
    for (size_t i = 0; i < s->nblocks; i++)
        n += rtgc_atomic_load(&h->block_live[b + i]);
    return n;
}
static inline size_t span_live_bytes(const rtgc_heap *h, const span *s) {
    return span_live_cells(h, s) * s->cell_size;
}

/* ---- span lists (heap.c) ---- */
void list_push(span_list *l, span *s, uint8_t id);
span *list_pop(span_list *l);
void list_remove(span_list *l, span *s);

/* ---- heap.c: blocks and spans ---- */
span *span_new_small(rtgc_heap *h, unsigned sc);       /* lock held; NULL if no address space */
void *span_extend(span *s);                            /* owner or lock: thread the next virgin cells */
span *span_new_large(rtgc_heap *h, size_t bytes, bool zero, bool noscan); /* lock held */
void span_release(rtgc_heap *h, span *s);              /* lock held; blocks become free */
size_t heap_decommit_idle(rtgc_heap *h, size_t max_blocks); /* lock held */
size_t heap_prefault(rtgc_heap *h, size_t max_blocks);      /* lock not held [heap.prefault] */
#define PREFAULT_SLICE 2u   /* small blocks one call faults in at most (128 KiB, about 0.35 ms in a VM) */
#define PREFAULT_MIN_HEAP ((size_t)32 << 20)   /* no prefault below this heap size [heap.prefault] */
#define HUGE_BYTES ((size_t)2 << 20)                 /* a transparent huge page [heap.huge] */
#define HUGE_BLOCKS (HUGE_BYTES / BLOCK_SIZE)
size_t span_bytes(const span *s);
size_t class_blocks(unsigned cls);                     /* blocks in a span of class cls */
/* Take gc_lock from a mutator: never wait for it while RUNNING, since the
 * holder may be stopping the world or waiting on a round for this thread
 * [threads.stop]; wait as a blocked thread, then run again (nobody can own
 * us once we hold gc_lock: claims are made under it). */
void gc_lock_as_mutator(rtgc_thread *t);

/* ---- alloc.c ---- */
void alloc_disown_all(rtgc_heap *h, rtgc_thread *t);     /* lock held */

/* ---- sweep.c ---- */
/* Who swept a span, for the stats: the cycle's own work (the collector
 * thread, incremental and step slices, a stop of the world), or a mutator's
 * allocation slow path [sweep.bg]. */
enum sweeper { BY_COLLECTOR, BY_MUTATOR };
size_t sweep_span(rtgc_heap *h, span *s, enum sweeper who); /* lock held; returns cells visited */
size_t sweep_all_unswept(rtgc_heap *h, enum sweeper who); /* lock held */
void sweep_queue_all(rtgc_heap *h);                    /* lock held: partial and full to unswept */
size_t sweep_popped(rtgc_heap *h, span *s, enum sweeper who); /* lock held: sweep if stale, then file [sweep.once] */
bool sweep_pending(const rtgc_heap *h);                /* lock held: a span is still unswept */
/* Sweep unswept spans until the deadline or none is left, handing the lock
 * to waiting mutators between units [heap.handoff]; true if any is left. */
bool sweep_slice(rtgc_heap *h, uint64_t deadline);
void sweep_large(rtgc_heap *h);                        /* world stopped */
bool sweep_place(rtgc_heap *h, span *s);               /* after a sweep: file or release */

/* ---- mark.c ---- */
void mark_init(rtgc_heap *h);
void mark_fini(rtgc_heap *h);
void marker_init(marker *m, rtgc_heap *h, bool shared);
void marker_fini(marker *m);
/* Shade obj onto m's stack (its mark claimed by a plain store [mark.claim]). */
void marker_mark(marker *m, void *obj);
/* Add m's counters to the heap's (atomic adds); before a helper goes idle. */
void marker_publish(marker *m);
void live_flush(marker *m);
/* Trace until m's stack is empty or the deadline (checked every 32 slots).
 * Returns true if m still holds grey work.  A helper that others wait on
 * gives them some of it [mark.parallel]. */
bool marker_drain(marker *m, uint64_t deadline_ns, bool *did_work);
/* The pool [mark.parallel]: take one packet onto m (grey_lock); `count_busy`
 * raises h->busy in the same critical section (helpers). */
bool pool_take(marker *m, bool count_busy);
/* Put packet c on top of m's stack. */
void marker_link(marker *m, mark_chunk *c);
/* Give m's oldest work to the pool, keeping some (at least `keep` entries). */
void pool_give(marker *m, size_t keep);
/* Give all of m's work to the pool (a helper whose helping closed). */
void pool_give_all(marker *m);
/* Under grey_lock: no packet in the pool and no helper holding work. */
bool pool_quiet(rtgc_heap *h);
void mark_object(rtgc_heap *h, void *obj);
void mark_drain(rtgc_heap *h);
void mark_roots(rtgc_heap *h);
rtgc_visitor *mark_visitor(rtgc_heap *h);
void trace_object(rtgc_heap *h, void *obj, rtgc_visitor *v);

/* ---- workers.c: marking helpers [mark.parallel] ---- */
rtgc_status helpers_start(rtgc_heap *h);
void helpers_stop(rtgc_heap *h);
/* Let up to `allow` helpers take packets until `until` (the caller's slice
 * deadline; UINT64_MAX with the world stopped). */
void helpers_open(rtgc_heap *h, unsigned allow, uint64_t until);
void helpers_close(rtgc_heap *h);
/* Wake sleeping helpers: at a cycle's start and a stop of the world only
 * [share.wake]; while the cycle runs they poll. */
void helpers_wake(rtgc_heap *h);
/* Close helping and wait until no helper holds work (its stack went back
 * to the pool): what a stop of the world does last, so that nothing marks
 * while the world is stopped but the one who stopped it.  gc_lock held. */
void helpers_quiesce(rtgc_heap *h);
/* Markers that traced since the last call (the coordinator included), and
 * the helpers' objects since then and CPU time ever. */
unsigned helpers_cycle_markers(rtgc_heap *h, uint64_t *helper_objects, uint64_t *helper_cpu_ns);
/* With the world stopped: the coordinator's stack and the pool traced by
 * the coordinator and every helper until no grey object is left. */
void mark_drain_parallel(rtgc_heap *h);

/* ---- share.c: how much CPU the collector may take [cycle.share] ---- */
/* Sample the mutators (at most every few ms): sets h->share_idle_core and
 * h->share_helpers.  Collector thread only. */
void share_update(rtgc_heap *h);
void share_fini(rtgc_heap *h);

/* Concurrent marking: shade from a mutator (barriers, root handshakes). */
void shade(rtgc_heap *h, rtgc_thread *t, void *obj);
void grey_flush(rtgc_heap *h, rtgc_thread *t);
void grey_discard(rtgc_heap *h);     /* between cycles: stale hand-overs */
/* Drain until empty or the deadline; returns true if grey objects remain. */
bool mark_drain_until(rtgc_heap *h, uint64_t deadline_ns, bool *did_work);
void mark_object_shared(rtgc_heap *h, void *obj);   /* mutators or helpers about */
rtgc_visitor *shade_visitor(rtgc_heap *h, rtgc_thread *t);
void premark_list(rtgc_heap *h, void *list);
/* How many markers may trace during a slice of the calling driver. */
unsigned cycle_helpers_allowed(rtgc_heap *h);

/* ---- roots.c ---- */
/* The embedder's global roots (ranges, global handles, callbacks), and
 * those with the finalizer queue. */
void roots_visit_embedder_globals(rtgc_heap *h, rtgc_visitor *v);
void roots_visit_globals(rtgc_heap *h, rtgc_visitor *v);
void roots_visit_thread(rtgc_heap *h, rtgc_thread *t, rtgc_visitor *v, uint64_t *slices);
void roots_visit_direct(rtgc_thread *t, rtgc_visitor *v);   /* frames and handles */
/* One slice of t's stack scanner; returns true if more remains. */
bool roots_scan_slice(rtgc_thread *t, rtgc_root_scan *scan, uint64_t slots);
void roots_fini(rtgc_heap *h);
void handles_free(rtgc_thread *t);

/* ---- collect.c ---- */
/* Collect if no cycle completed since `seen_cycle`; `t` is the caller. */
void collect_stw(rtgc_thread *t, uint64_t seen_cycle, rtgc_pause_cause cause);
void cycle_end_marking(rtgc_heap *h);        /* lock held */
void cycle_queue_sweep(rtgc_heap *h);        /* lock held */
void cycle_verify_marks(rtgc_heap *h);       /* world stopped */
/* A full collection in any mode; returns when it is done. */
void collect_full(rtgc_thread *t, rtgc_pause_cause cause);

/* ---- cycle.c ---- */
/* Do at most budget_ns of cycle work (starting a cycle if one was asked
 * for).  Returns true while a cycle is in progress.  gc_lock held. */
bool cycle_step(rtgc_heap *h, rtgc_thread *self, uint64_t budget_ns);
/* From the allocation slow path: an incremental slice, or an assist when
 * the mutator is outrunning the cycle. */
void cycle_alloc_hook(rtgc_thread *t);
bool cycle_active(rtgc_heap *h);
rtgc_status cycle_start_collector(rtgc_heap *h);
void cycle_stop_collector(rtgc_heap *h);
/* Ask for a cycle (concurrent mode); returns at once. */
void cycle_request(rtgc_heap *h);
/* Wait until the cycle in progress (or requested) has finished; a stall. */
void cycle_wait(rtgc_thread *t, uint64_t seen_cycle);
/* A thread joining mid-cycle takes the current phase's state. */
void cycle_thread_joined(rtgc_heap *h, rtgc_thread *t);

/* ---- threads.c ---- */
void world_stop(rtgc_heap *h, rtgc_thread *self);
void world_start(rtgc_heap *h, rtgc_thread *self);
bool thread_ok(rtgc_thread *t, const char *where);

/* ---- handshake.c ---- */
/* A non-blocking round: post fn to every thread, then call round_progress
 * until it returns true.  `self` (an attached caller, or NULL) serves
 * inline; blocked threads are served on their behalf until the deadline.
 * A thread whose sliced root scan is not finished (scan_pending) is asked
 * again. */
void round_post(rtgc_heap *h, rtgc_thread *self, handshake_fn fn, void *arg);
bool round_progress(rtgc_heap *h, rtgc_thread *self, uint64_t deadline_ns);
/* A whole round, waiting: returns when every attached thread has run fn
 * (at its safepoint, or by the caller for a blocked thread). */
void handshake_all(rtgc_heap *h, rtgc_thread *self, handshake_fn fn, void *arg);
/* At a safepoint: serve a pending request, if any.  Returns true if it did. */
bool handshake_serve(rtgc_thread *t);

/* ---- stats.c / events ---- */
/* Pause time (all causes) in [now - window, now], from the recent ring. */
uint64_t recent_paused(rtgc_heap *h, uint64_t now, uint64_t window);
void stats_init(rtgc_heap *h);
void stats_fini(rtgc_heap *h);
void record_pause(rtgc_heap *h, rtgc_thread *t, rtgc_pause_cause cause, uint64_t start_ns,
                  uint64_t end_ns, uint64_t work_ns, uint64_t work);
/* A pause of pure work on the paused thread, measured from pause_start:
 * wall time, CPU time and the thread's context switches in it, so that a
 * reader can tell a pause stretched by preemption (involuntary switches
 * only) from one that waited (voluntary ones). */
typedef struct pause_clock {
    uint64_t wall, cpu, wait;
    uint32_t involuntary, voluntary;
    bool counting;         /* cpu and the switches were read (pause_work_begins) */
} pause_clock;
void pause_start(pause_clock *c);
/* A pause that may not happen (an allocation's refill, which is a pause
 * only if it sweeps): pause_start_wall reads only the wall clock, and
 * pause_work_begins the rest (a thread-CPU-clock read and a getrusage,
 * two system calls) once, when the work starts. */
void pause_start_wall(pause_clock *c);
void pause_work_begins(pause_clock *c);
void pause_record(rtgc_heap *h, rtgc_thread *t, rtgc_pause_cause cause, const pause_clock *c, uint64_t work);
void emit_event(rtgc_heap *h, rtgc_event_kind kind, size_t bytes);

/* [heap.handoff] heap->lock is a plain mutex, and a plain mutex is not
 * fair: a collector that unlocks and locks it again in a loop (sweeping
 * span after span) takes it back before a woken mutator runs, again and
 * again, for as long as its slice lasts (seen: a refill waiting 0.9 ms
 * through 98 wake-ups).  So a mutator that finds the lock taken says so,
 * and a loop that releases the lock between units hands it over before
 * taking it again: it waits, briefly, until no mutator is waiting. */
extern _Thread_local uint64_t tl_lock_wait_ns; /* this thread's time blocked on heap->lock or weak_lock */
static inline void lock_as_mutator(pthread_mutex_t *m, volatile uintptr_t *waiters) {
    if (pthread_mutex_trylock(m) == 0)
        return;
    uint64_t t0 = os_now_ns();
    rtgc_atomic_fetch_add(waiters, 1);
    pthread_mutex_lock(m);
    rtgc_atomic_fetch_add(waiters, (uintptr_t)-1);
    tl_lock_wait_ns += os_now_ns() - t0;
}
/* Lock not held: let waiting mutators in first, until deadline. */
void lock_handoff(volatile uintptr_t *waiters, uint64_t deadline);
static inline void heap_lock_as_mutator(rtgc_heap *h) {
    lock_as_mutator(&h->lock, &h->lock_waiters);
}
static inline void heap_lock_handoff(rtgc_heap *h, uint64_t deadline) {
    lock_handoff(&h->lock_waiters, deadline);
}

/* ---- weak.c ---- */
typedef struct fin_entry {
    void *obj;
    rtgc_finalizer_fn fn;
    void *data;
} fin_entry;
void weak_init(rtgc_heap *h);
void weak_fini(rtgc_heap *h);
/* Marker m reached ephemeron obj [weak.eph]. */
void weak_eph_traced(marker *m, void *obj);
static inline bool weak_is_eph(const rtgc_heap *h, uint64_t header) {
    rtgc_layout_id e = __atomic_load_n(&h->eph_id, __ATOMIC_RELAXED); /* set once, on first use */
    return e && rtgc_header_layout(header) == e;
}
/* Pending ephemerons whose key is marked now: mark their values.  True if
 * any value was marked (tracing must go on); *more when the deadline cut
 * the pass short. */
bool weak_eph_rescan(rtgc_heap *h, uint64_t deadline, bool *more);
/* [weak.get] With weak_lock: no shading since the termination round began,
 * so marking is final; false sends the cycle back to tracing. */
bool weak_decide(rtgc_heap *h);
/* Clear weak references and ephemerons whose referent is unmarked, in
 * slices; drop_dead also forgets unmarked ones.  True when done. */
bool weak_clear_slice(rtgc_heap *h, uint64_t deadline, bool drop_dead);
/* Keep and queue unmarked finalizable objects, in slices; true when done. */
bool weak_finalize_slice(rtgc_heap *h, uint64_t deadline);
/* The queued become ready (their tracing is done) [weak.ready]. */
void weak_marking_done(rtgc_heap *h);
/* The cycle's weak state is reset (weak reads plain again). */
void weak_cycle_end(rtgc_heap *h);
/* The ready queue as roots, all at once (the world stopped, or verify). */
void weak_visit_roots(rtgc_heap *h, rtgc_visitor *v);
/* The same in slices while mutators run (PHASE_ROOTS, after every thread
 * and the embedder's globals): begin, then slices until one returns true. */
void weak_ready_scan_begin(rtgc_heap *h);
bool weak_ready_scan_slice(rtgc_heap *h, rtgc_visitor *v, uint64_t deadline);
/* The whole of it with the world stopped (stw collections). */
void weak_process_stopped(rtgc_heap *h);
bool weak_marked(const rtgc_heap *h, const void *p);

/* ---- verify.c ---- */
size_t verify_marked(rtgc_heap *h);        /* after marking: closure and free cells */
size_t verify_heap(rtgc_heap *h);          /* world stopped: the whole heap */

/* ---- the inject= testing knob (rtgc/config.h) ----
 * Spin until the calling thread has used inject_ns more CPU time, when the
 * heap's injection point is `at`.  Spinning (not sleeping) makes the delay
 * collector work: a pause record's work_ns grows by inject_ns, as it would
 * if the collector itself got slower there, which is what the latency
 * regression tests (latency-tests/) must catch.  Off, it costs one compare. */
static inline void inject_delay(const rtgc_heap *h, rtgc_inject_point at);

/* ---- errors.c ---- */
void rtgc__report(rtgc_heap *h, rtgc_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rtgc__misuse(rtgc_heap *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void rtgc__fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void set_error(rtgc_error *err, rtgc_status st, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline void inject_delay(const rtgc_heap *h, rtgc_inject_point at) {
    if (__builtin_expect(h->cfg.inject_point != at, 1))
        return;
    uint64_t end = os_thread_cpu_ns() + h->cfg.inject_ns;
    while (os_thread_cpu_ns() < end)
        ;
}

#endif

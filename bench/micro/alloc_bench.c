/* bench/micro/alloc_bench.c - the mutator's fast paths, one by one.
 *
 *   rtgc_alloc_sized/N   allocation of N bytes, N a compile-time constant (the
 *                        size a C caller or a JIT knows): inline pop, header,
 *                        inlined zeroing
 *   rtgc_alloc/N         a RECORD of N bytes: the size comes from the layout
 *                        table at run time, so the zeroing is a memset call
 *   rtgc_alloc_array/N   a REF_ARRAY of N bytes: size = fixed + count * 8
 *   bytes/zeroed/N, bytes/uninit/N   a BYTES object of N bytes (the count
 *                        known at run time) from rtgc_alloc_array, zeroed, and
 *                        from rtgc_alloc_array_uninit, not; bytes/..._fill/N
 *                        then write every byte, as a program filling a buffer
 *                        does (the zeroing's cost in use)
 *   jemalloc_malloc_free/N, jemalloc_calloc_free/N   the manual baseline (the
 *                        binary links -ljemalloc: malloc IS jemalloc)
 *   rtgc_poll            safepoint poll with no collection requested
 *   poll_loop_baseline   the same loop without the poll
 *   load_chase/N         pointer chase over a ring of N heap objects, with
 *                        rtgc_load (no collection running) and with a plain load
 *   load_scan/N          N independent reference loads out of a REF_ARRAY,
 *                        each followed by a read of the object
 *   store/N              N reference stores into a REF_ARRAY, with rtgc_store
 *                        (no collection running) and with a plain store
 *   rtgc_collect/N       a stop-the-world collection with N live objects
 *
 * Allocation runs in a heap with "mode=stw,heap=1G" and every object dies at
 * once: the time per allocation includes the amortised slow path (taking a
 * span, sweeping it lazily) and the collections the allocation triggers.  The
 * counters say how many cycles ran and how much pause time each allocation
 * carries.  Each run gets a fresh heap, created and destroyed outside the
 * timed loop.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rtgc.h>

#include "shim.h"

#define ALLOC_OPTIONS "mode=stw,heap=1G"
#define SMALL_OPTIONS "mode=stw,heap=64M"
#define ALLOC_BATCH 256   /* allocations per rtb_keep_running_batch call */
#define POLL_BATCH 1024

static const int64_t alloc_sizes[] = {16, 32, 64, 128, 512, 1024, 4096};
#define NSIZES (sizeof alloc_sizes / sizeof alloc_sizes[0])

/* A list node, 32 bytes: a RECORD with one reference at word 1. */
typedef struct node {
    uint64_t header;
    struct node *next;
    uint64_t value;
    uint64_t pad;
} node;

typedef struct refarray {
    uint64_t header;
    void *slot[];
} refarray;

/* ---- a heap for one run ---- */

typedef struct bheap {
    rtgc_heap *heap;
    rtgc_thread *t;
    rtgc_layout_id bytes; /* BYTES, fixed part = the header */
    rtgc_layout_id refs;  /* REF_ARRAY, fixed part = the header */
    rtgc_layout_id node;  /* struct node */
    rtgc_layout_id rec;   /* RECORD of rec_size bytes (0 when not asked for) */
    volatile int oom;
} bheap;

static void on_oom(rtgc_heap *heap, size_t request, void *data) {
    ((bheap *)data)->oom = 1;
}

static int layout_add(bheap *bh, rtgc_layout_kind kind, const char *name, size_t size,
                      uint64_t bitmap, rtgc_layout_id *id, rtgc_error *err) {
    rtgc_layout l;
    memset(&l, 0, sizeof l);
    l.name = name;
    l.kind = kind;
    l.size = size;
    l.ref_bitmap = bitmap;
    return rtgc_layout_register(bh->heap, &l, id, err) == RTGC_OK;
}

/* Create the heap, register the layouts (and a RECORD of rec_size bytes when
 * rec_size != 0), attach the calling thread.  On failure the run is marked
 * failed and 0 comes back. */
static int bheap_open(rtb_state *st, bheap *bh, const char *options, size_t rec_size) {
    rtgc_config cfg;
    rtgc_error err;
    char msg[400];

    memset(bh, 0, sizeof *bh);
    memset(&err, 0, sizeof err);
    rtgc_config_init(&cfg);
    if (rtgc_config_parse(&cfg, options, &err) != RTGC_OK ||
        rtgc_heap_create(&cfg, &bh->heap, &err) != RTGC_OK)
        goto fail;
    rtgc_set_oom_handler(bh->heap, on_oom, bh);
    if (!layout_add(bh, RTGC_LAYOUT_BYTES, "bytes", RTGC_HEADER_BYTES, 0, &bh->bytes, &err) ||
        !layout_add(bh, RTGC_LAYOUT_REF_ARRAY, "refs", RTGC_HEADER_BYTES, 0, &bh->refs, &err) ||
        !layout_add(bh, RTGC_LAYOUT_RECORD, "node", sizeof(node), 1u << 1, &bh->node, &err))
        goto fail;
    if (rec_size != 0 &&
        !layout_add(bh, RTGC_LAYOUT_RECORD, "record", rec_size, 1u << 1, &bh->rec, &err))
        goto fail;
    bh->t = rtgc_thread_attach(bh->heap, &err);
    if (bh->t == NULL)
        goto fail;
    return 1;
fail:
    snprintf(msg, sizeof msg, "heap \"%s\": %s: %s%s%s", options, rtgc_status_name(err.status),
             err.message, err.field[0] ? ", field " : "", err.field);
    rtb_skip_with_error(st, msg);
    if (bh->heap != NULL)
        rtgc_heap_destroy(bh->heap);
    bh->heap = NULL;
    return 0;
}

static void bheap_close(bheap *bh) {
    rtgc_thread_detach(bh->t);
    rtgc_heap_destroy(bh->heap);
}

/* Counters every allocation benchmark reports: collections in the run, and
 * the pause time (collections and lazy sweeps) per allocation. */
static void report_alloc(rtb_state *st, bheap *bh, const rtgc_stats *before, int64_t size) {
    rtgc_stats after;
    int64_t n = rtb_iterations(st);

    rtgc_get_stats(bh->heap, &after);
    if (bh->oom) {
        rtb_skip_with_error(st, "allocation returned NULL (out of memory)");
        return;
    }
    rtb_set_items(st, n);
    rtb_set_bytes(st, n * size);
    rtb_counter(st, "gc_cycles", (double)(after.cycles - before->cycles));
    rtb_counter(st, "pause_ns/alloc",
                n ? (double)(after.pause_total_ns - before->pause_total_ns) / (double)n : 0.0);
}

/* ---- allocation ---- */

/* Size known at compile time: always inlined into one function per size. */
static RTGC_ALWAYS_INLINE void alloc_sized_run(rtb_state *st, size_t size) {
    bheap bh;
    rtgc_stats before;

    if (!bheap_open(st, &bh, ALLOC_OPTIONS, 0))
        return;
    rtgc_thread *t = bh.t;
    rtgc_layout_id id = bh.bytes;
    rtgc_get_stats(bh.heap, &before);
    while (rtb_keep_running_batch(st, ALLOC_BATCH))
        for (int i = 0; i < ALLOC_BATCH; i++)
            rtb_do_not_optimize(rtgc_alloc_sized(t, id, (uint32_t)(size - RTGC_HEADER_BYTES), size));
    report_alloc(st, &bh, &before, (int64_t)size);
    bheap_close(&bh);
}

#define ALLOC_SIZED(n) \
    static void bm_alloc_sized_##n(rtb_state *st, void *arg) { alloc_sized_run(st, n); }
ALLOC_SIZED(16)
ALLOC_SIZED(32)
ALLOC_SIZED(64)
ALLOC_SIZED(128)
ALLOC_SIZED(512)
ALLOC_SIZED(1024)
ALLOC_SIZED(4096)

static void bm_alloc(rtb_state *st, void *arg) {
    int64_t size = rtb_range(st, 0);
    bheap bh;
    rtgc_stats before;

    if (!bheap_open(st, &bh, ALLOC_OPTIONS, (size_t)size))
        return;
    rtgc_thread *t = bh.t;
    rtgc_layout_id id = bh.rec;
    rtgc_get_stats(bh.heap, &before);
    while (rtb_keep_running_batch(st, ALLOC_BATCH))
        for (int i = 0; i < ALLOC_BATCH; i++)
            rtb_do_not_optimize(rtgc_alloc(t, id));
    report_alloc(st, &bh, &before, size);
    bheap_close(&bh);
}

static void bm_alloc_array(rtb_state *st, void *arg) {
    int64_t size = rtb_range(st, 0);
    uint32_t count = (uint32_t)((size - RTGC_HEADER_BYTES) / sizeof(void *));
    bheap bh;
    rtgc_stats before;

    if (!bheap_open(st, &bh, ALLOC_OPTIONS, 0))
        return;
    rtgc_thread *t = bh.t;
    rtgc_layout_id id = bh.refs;
    rtgc_get_stats(bh.heap, &before);
    while (rtb_keep_running_batch(st, ALLOC_BATCH))
        for (int i = 0; i < ALLOC_BATCH; i++)
            rtb_do_not_optimize(rtgc_alloc_array(t, id, count));
    report_alloc(st, &bh, &before, size);
    bheap_close(&bh);
}

/* BYTES objects with the count known at run time; `uninit` and `fill` are
 * constants in each caller. */
static RTGC_ALWAYS_INLINE void alloc_bytes_run(rtb_state *st, int uninit, int fill) {
    int64_t size = rtb_range(st, 0);
    uint32_t n = (uint32_t)(size - RTGC_HEADER_BYTES);
    bheap bh;
    rtgc_stats before;

    if (!bheap_open(st, &bh, ALLOC_OPTIONS, 0))
        return;
    rtgc_thread *t = bh.t;
    rtgc_layout_id id = bh.bytes;
    rtgc_get_stats(bh.heap, &before);
    while (rtb_keep_running_batch(st, ALLOC_BATCH))
        for (int i = 0; i < ALLOC_BATCH; i++) {
            char *o = uninit ? rtgc_alloc_array_uninit(t, id, n) : rtgc_alloc_array(t, id, n);
            if (fill && o)
                memset(o + RTGC_HEADER_BYTES, i, n);
            rtb_do_not_optimize(o);
        }
    report_alloc(st, &bh, &before, size);
    bheap_close(&bh);
}

static void bm_bytes_zeroed(rtb_state *st, void *arg) { alloc_bytes_run(st, 0, 0); }
static void bm_bytes_uninit(rtb_state *st, void *arg) { alloc_bytes_run(st, 1, 0); }
static void bm_bytes_zeroed_fill(rtb_state *st, void *arg) { alloc_bytes_run(st, 0, 1); }
static void bm_bytes_uninit_fill(rtb_state *st, void *arg) { alloc_bytes_run(st, 1, 1); }

static void bm_malloc_free(rtb_state *st, void *arg) {
    size_t size = (size_t)rtb_range(st, 0);

    while (rtb_keep_running_batch(st, ALLOC_BATCH))
        for (int i = 0; i < ALLOC_BATCH; i++) {
            void *p = malloc(size);
            rtb_do_not_optimize(p);
            free(p);
        }
    rtb_set_items(st, rtb_iterations(st));
    rtb_set_bytes(st, rtb_iterations(st) * (int64_t)size);
}

static void bm_calloc_free(rtb_state *st, void *arg) {
    size_t size = (size_t)rtb_range(st, 0);

    while (rtb_keep_running_batch(st, ALLOC_BATCH))
        for (int i = 0; i < ALLOC_BATCH; i++) {
            void *p = calloc(1, size);
            rtb_do_not_optimize(p);
            free(p);
        }
    rtb_set_items(st, rtb_iterations(st));
    rtb_set_bytes(st, rtb_iterations(st) * (int64_t)size);
}

/* ---- safepoint poll ---- */

static void bm_poll(rtb_state *st, void *arg) {
    bheap bh;

    if (!bheap_open(st, &bh, SMALL_OPTIONS, 0))
        return;
    rtgc_thread *t = bh.t;
    while (rtb_keep_running_batch(st, POLL_BATCH))
        for (int i = 0; i < POLL_BATCH; i++)
            rtgc_poll(t);
    rtb_set_items(st, rtb_iterations(st));
    bheap_close(&bh);
}

static void bm_poll_baseline(rtb_state *st, void *arg) {
    while (rtb_keep_running_batch(st, POLL_BATCH))
        for (int i = 0; i < POLL_BATCH; i++)
            rtb_use((uint64_t)i);
    rtb_set_items(st, rtb_iterations(st));
}

/* ---- load and store barriers ---- */

/* n nodes, each in slot i of a REF_ARRAY rooted in r[0], node i linked to
 * node (i+1) % n: a ring for chasing, an array for scanning. */
static int build_ring(rtb_state *st, bheap *bh, void **r, size_t n) {
    rtgc_thread *t = bh->t;

    r[0] = rtgc_alloc_array(t, bh->refs, (uint32_t)n);
    for (size_t i = 0; r[0] != NULL && i < n; i++) {
        node *x = rtgc_alloc(t, bh->node);
        if (x == NULL)
            break;
        x->value = i;
        refarray *a = r[0];
        rtgc_store(t, a, &a->slot[i], x);
    }
    if (r[0] == NULL || bh->oom) {
        rtb_skip_with_error(st, "out of memory building the ring");
        return 0;
    }
    refarray *a = r[0];
    for (size_t i = 0; i < n; i++) {
        node *x = a->slot[i];
        rtgc_store(t, x, (void **)&x->next, a->slot[(i + 1) % n]);
    }
    return 1;
}

enum load_kind { CHASE, SCAN, STORE };

static void load_run(rtb_state *st, enum load_kind kind, int barrier) {
    size_t n = (size_t)rtb_range(st, 0);
    bheap bh;

    if (!bheap_open(st, &bh, SMALL_OPTIONS, 0))
        return;
    rtgc_thread *t = bh.t;
    RTGC_FRAME(t, r, 1);
    if (!build_ring(st, &bh, r, n)) {
        RTGC_FRAME_POP(t, r);
        bheap_close(&bh);
        return;
    }
    /* No allocation from here on: no collection can run, and the plain C
     * pointers below stay valid. */
    refarray *a = r[0];
    if (kind == CHASE) {
        node *p = a->slot[0];
        if (barrier) {
            while (rtb_keep_running_batch(st, (int64_t)n))
                for (size_t i = 0; i < n; i++)
                    p = rtgc_load(t, (void *const *)&p->next);
        } else {
            while (rtb_keep_running_batch(st, (int64_t)n))
                for (size_t i = 0; i < n; i++)
                    p = p->next;
        }
        rtb_do_not_optimize(p);
    } else if (kind == SCAN) {
        uint64_t sum = 0;
        if (barrier) {
            while (rtb_keep_running_batch(st, (int64_t)n))
                for (size_t i = 0; i < n; i++)
                    sum += ((node *)rtgc_load(t, &a->slot[i]))->value;
        } else {
            while (rtb_keep_running_batch(st, (int64_t)n))
                for (size_t i = 0; i < n; i++)
                    sum += ((node *)a->slot[i])->value;
        }
        rtb_use(sum);
    } else {
        /* Each slot gets the node of the next slot: the ring keeps every node
         * reachable.  rtb_use keeps the plain loop a loop of scalar stores. */
        if (barrier) {
            while (rtb_keep_running_batch(st, (int64_t)n))
                for (size_t i = 0; i < n; i++) {
                    rtgc_store(t, a, &a->slot[i], ((node *)a->slot[i])->next);
                    rtb_use(i);
                }
        } else {
            while (rtb_keep_running_batch(st, (int64_t)n))
                for (size_t i = 0; i < n; i++) {
                    a->slot[i] = ((node *)a->slot[i])->next;
                    rtb_use(i);
                }
        }
        rtb_do_not_optimize(a);
    }
    rtb_set_items(st, rtb_iterations(st));
    RTGC_FRAME_POP(t, r);
    bheap_close(&bh);
}

static void bm_load_chase_barrier(rtb_state *st, void *arg) { load_run(st, CHASE, 1); }
static void bm_load_chase_plain(rtb_state *st, void *arg) { load_run(st, CHASE, 0); }
static void bm_load_scan_barrier(rtb_state *st, void *arg) { load_run(st, SCAN, 1); }
static void bm_load_scan_plain(rtb_state *st, void *arg) { load_run(st, SCAN, 0); }
static void bm_store_barrier(rtb_state *st, void *arg) { load_run(st, STORE, 1); }
static void bm_store_plain(rtb_state *st, void *arg) { load_run(st, STORE, 0); }

/* ---- rtgc_collect on a small live set ---- */

static void bm_collect(rtb_state *st, void *arg) {
    size_t n = (size_t)rtb_range(st, 0);
    bheap bh;
    rtgc_stats before, after;
    rtgc_pause_record rec[256];
    uint64_t next = 0, collects = 0, wall = 0, work = 0;
    size_t got;

    if (!bheap_open(st, &bh, SMALL_OPTIONS, 0))
        return;
    rtgc_thread *t = bh.t;
    RTGC_FRAME(t, r, 1);
    for (size_t i = 0; i < n && !bh.oom; i++) { /* a list, newest first */
        node *x = rtgc_alloc(t, bh.node);
        if (x == NULL)
            break;
        x->value = i;
        rtgc_store(t, x, (void **)&x->next, r[0]);
        r[0] = x;
    }
    if (bh.oom) {
        rtb_skip_with_error(st, "out of memory building the live set");
        RTGC_FRAME_POP(t, r);
        bheap_close(&bh);
        return;
    }
    while (rtgc_pause_records(bh.heap, next, rec, 256, &next) > 0) /* skip the build's */
        ;
    rtgc_get_stats(bh.heap, &before);

    while (rtb_keep_running(st))
        rtgc_collect(t);

    rtgc_get_stats(bh.heap, &after);
    while ((got = rtgc_pause_records(bh.heap, next, rec, 256, &next)) > 0)
        for (size_t i = 0; i < got; i++)
            if (rec[i].cause == RTGC_CAUSE_COLLECT) {
                collects++;
                wall += rec[i].wall_ns;
                work += rec[i].work_ns;
            }
    rtb_set_items(st, rtb_iterations(st));
    rtb_counter(st, "gc_cycles", (double)(after.cycles - before.cycles));
    rtb_counter(st, "live_objects", (double)after.live_objects);
    rtb_counter(st, "live_KiB", (double)after.live_bytes / 1024.0);
    rtb_counter(st, "rec_wall_us", collects ? (double)wall / (double)collects / 1e3 : 0.0);
    rtb_counter(st, "rec_work_us", collects ? (double)work / (double)collects / 1e3 : 0.0);
    RTGC_FRAME_POP(t, r);
    bheap_close(&bh);
}

/* ---- registration ---- */

void rtgc_bench_alloc_register(void);

void rtgc_bench_alloc_register(void) {
    static const struct {
        const char *name;
        rtb_fn fn;
    } sized[NSIZES] = {
        {"rtgc_alloc_sized/16", bm_alloc_sized_16},     {"rtgc_alloc_sized/32", bm_alloc_sized_32},
        {"rtgc_alloc_sized/64", bm_alloc_sized_64},     {"rtgc_alloc_sized/128", bm_alloc_sized_128},
        {"rtgc_alloc_sized/512", bm_alloc_sized_512},   {"rtgc_alloc_sized/1024", bm_alloc_sized_1024},
        {"rtgc_alloc_sized/4096", bm_alloc_sized_4096},
    };
    static const int64_t ring_sizes[] = {1024, 65536};
    static const int64_t live_sizes[] = {0, 1024, 65536};

    for (size_t i = 0; i < NSIZES; i++)
        rtb_register(sized[i].name, sized[i].fn, NULL);
    rtb_register_args("rtgc_alloc", bm_alloc, NULL, alloc_sizes, NSIZES);
    rtb_register_args("rtgc_alloc_array", bm_alloc_array, NULL, alloc_sizes, NSIZES);
    static const int64_t bytes_sizes[] = {64, 1024};
    rtb_register_args("bytes/zeroed", bm_bytes_zeroed, NULL, bytes_sizes, 2);
    rtb_register_args("bytes/uninit", bm_bytes_uninit, NULL, bytes_sizes, 2);
    rtb_register_args("bytes/zeroed_fill", bm_bytes_zeroed_fill, NULL, bytes_sizes, 2);
    rtb_register_args("bytes/uninit_fill", bm_bytes_uninit_fill, NULL, bytes_sizes, 2);
    rtb_register_args("jemalloc_malloc_free", bm_malloc_free, NULL, alloc_sizes, NSIZES);
    rtb_register_args("jemalloc_calloc_free", bm_calloc_free, NULL, alloc_sizes, NSIZES);

    rtb_register("rtgc_poll", bm_poll, NULL);
    rtb_register("poll_loop_baseline", bm_poll_baseline, NULL);

    rtb_register_args("load_chase/rtgc_load", bm_load_chase_barrier, NULL, ring_sizes, 2);
    rtb_register_args("load_chase/plain", bm_load_chase_plain, NULL, ring_sizes, 2);
    rtb_register_args("load_scan/rtgc_load", bm_load_scan_barrier, NULL, ring_sizes, 2);
    rtb_register_args("load_scan/plain", bm_load_scan_plain, NULL, ring_sizes, 2);
    rtb_register_args("store/rtgc_store", bm_store_barrier, NULL, ring_sizes, 1);
    rtb_register_args("store/plain", bm_store_plain, NULL, ring_sizes, 1);

    rtb_bench *b = rtb_register_args("rtgc_collect", bm_collect, NULL, live_sizes, 3);
    rtb_bench_arg_name(b, "live_objects");
    rtb_bench_unit(b, RTB_US);
}

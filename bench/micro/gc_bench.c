/* bench/micro/gc_bench.c - what the collector's phases cost.
 *
 *   load_marking/{chase,scan}/N   the load barrier while marking is on: a
 *                                 heap in step mode with a cycle started and
 *                                 stepped until this thread's roots are
 *                                 scanned (MARKING on, STORE off), then the
 *                                 same loops as load_chase/load_scan (the
 *                                 first pass shades the ring, the rest find
 *                                 it marked: the steady cost while marking)
 *   mark/live_MiB:N               rtgc_collect in stw mode over N MiB of live
 *                                 32-byte objects (trees of depth 14):
 *                                 counters mark_MiB/s (live bytes over the
 *                                 marking phase, from the library's events)
 *                                 and collect_MiB/s (over the whole pause)
 *   sweep/heap_MiB:N              a collection whose first step sweeps a heap
 *                                 of N MiB, half of it dead: counters
 *                                 sweep_Mcells/s and sweep_MiB/s (cells and
 *                                 heap bytes swept over the sweep's time)
 *
 * All figures are for one thread; each run gets a fresh heap.
 */
#include <stdio.h>
#include <string.h>

#include <rtgc.h>

#include "shim.h"

typedef struct gnode {
    uint64_t header;
    struct gnode *left, *right;
} gnode; /* 24 bytes: the 32-byte size class */

typedef struct gheap {
    rtgc_heap *heap;
    rtgc_thread *t;
    rtgc_layout_id node, refs;
    volatile int oom;
    /* event times of the current cycle */
    uint64_t cycle_start, mark_start, mark_end;
} gheap;

static void g_oom(rtgc_heap *heap, size_t request, void *data) {
    ((gheap *)data)->oom = 1;
}

static void g_event(rtgc_heap *heap, const rtgc_event *ev, void *data) {
    gheap *g = data;
    if (ev->kind == RTGC_EV_CYCLE_START) g->cycle_start = ev->time_ns;
    else if (ev->kind == RTGC_EV_MARK_START) g->mark_start = ev->time_ns;
    else if (ev->kind == RTGC_EV_MARK_END) g->mark_end = ev->time_ns;
}

static int g_open(rtb_state *st, gheap *g, const char *options) {
    rtgc_config cfg;
    rtgc_error err;
    memset(g, 0, sizeof *g);
    memset(&err, 0, sizeof err);
    rtgc_config_init(&cfg);
    static const uint32_t refs[] = {offsetof(gnode, left), offsetof(gnode, right)};
    rtgc_layout ln = {.name = "gnode", .kind = RTGC_LAYOUT_RECORD, .size = sizeof(gnode), .ref_offsets = refs,
                      .ref_count = 2};
    rtgc_layout lr = {.name = "refs", .kind = RTGC_LAYOUT_REF_ARRAY, .size = RTGC_HEADER_BYTES};
    if (rtgc_config_parse(&cfg, options, &err) != RTGC_OK || rtgc_heap_create(&cfg, &g->heap, &err) != RTGC_OK ||
        rtgc_layout_register(g->heap, &ln, &g->node, &err) != RTGC_OK ||
        rtgc_layout_register(g->heap, &lr, &g->refs, &err) != RTGC_OK || !(g->t = rtgc_thread_attach(g->heap, &err))) {
        char msg[400];
        snprintf(msg, sizeof msg, "heap \"%s\": %s", options, err.message);
        rtb_skip_with_error(st, msg);
        if (g->heap)
            rtgc_heap_destroy(g->heap);
        g->heap = NULL;
        return 0;
    }
    rtgc_set_oom_handler(g->heap, g_oom, g);
    rtgc_set_event_handler(g->heap, g_event, g);
    return 1;
}

static void g_close(gheap *g) {
    rtgc_thread_detach(g->t);
    rtgc_heap_destroy(g->heap);
}

/* A complete tree of depth d, bottom up (children rooted while built). */
static gnode *g_tree(gheap *g, int d) {
    rtgc_thread *t = g->t;
    RTGC_FRAME(t, r, 2);
    if (d > 0) {
        r[0] = g_tree(g, d - 1);
        r[1] = g_tree(g, d - 1);
    }
    gnode *n = rtgc_alloc(t, g->node);
    if (n) {
        rtgc_store(t, n, (void **)&n->left, r[0]);
        rtgc_store(t, n, (void **)&n->right, r[1]);
    }
    RTGC_FRAME_POP(t, r);
    return n;
}

#define TREE_DEPTH 14                                  /* 32767 nodes */
#define TREE_BYTES (((size_t)1 << (TREE_DEPTH + 1)) * 32) /* about 1 MiB */

/* Fill slots [from, n) of the REF_ARRAY in *arr with fresh trees. */
static void g_fill(gheap *g, void **arr, size_t from, size_t n, size_t step) {
    for (size_t i = from; i < n && !g->oom; i += step) {
        gnode *tr = g_tree(g, TREE_DEPTH);
        void **slots = (void **)*arr + 1;
        rtgc_store(g->t, *arr, &slots[i], tr);
    }
}

/* ---- the load barrier while marking ---- */

static void load_marking(rtb_state *st, int chase) {
    size_t n = (size_t)rtb_range(st, 0);
    gheap g;
    if (!g_open(st, &g, "mode=step,heap=512M,min_trigger=1M"))
        return;
    rtgc_thread *t = g.t;
    RTGC_FRAME(t, r, 2);
    /* The ring: slot i of a REF_ARRAY holds node i, whose left is node i+1. */
    r[0] = rtgc_alloc_array(t, g.refs, (uint32_t)n);
    for (size_t i = 0; r[0] && i < n && !g.oom; i++) {
        gnode *x = rtgc_alloc(t, g.node);
        if (x)
            rtgc_store(t, r[0], (void **)r[0] + 1 + i, x);
    }
    /* 64 trees (64 MiB) more, so that marking lasts */
    r[1] = rtgc_alloc_array(t, g.refs, 64);
    if (r[1])
        g_fill(&g, &r[1], 0, 64, 1);
    if (!r[0] || !r[1] || g.oom) {
        rtb_skip_with_error(st, "out of memory building the live set");
        goto out;
    }
    void **ring = (void **)r[0] + 1;
    for (size_t i = 0; i < n; i++) {
        gnode *x = ring[i];
        rtgc_store(t, x, (void **)&x->left, ring[(i + 1) % n]);
    }
    /* Start a cycle and step it until this thread's roots are scanned. */
    struct rtgc_mutator *m = rtgc_mutator_of(t);
    for (int k = 0; k < 100000; k++) {
        uintptr_t s = m->state;
        if ((s & RTGC_STATE_MARKING) && !(s & RTGC_STATE_STORE))
            break;
        rtgc_step(t, 20000);
        rtgc_poll(t);
    }
    if (!(m->state & RTGC_STATE_MARKING) || (m->state & RTGC_STATE_STORE)) {
        rtb_skip_with_error(st, "could not get marking started");
        goto out;
    }
    /* No allocation and no step from here on: the cycle stays in marking. */
    if (chase) {
        gnode *p = ring[0];
        while (rtb_keep_running_batch(st, (int64_t)n))
            for (size_t i = 0; i < n; i++)
                p = rtgc_load(t, (void *const *)&p->left);
        rtb_do_not_optimize(p);
    } else {
        uint64_t sum = 0;
        while (rtb_keep_running_batch(st, (int64_t)n))
            for (size_t i = 0; i < n; i++)
                sum += (uintptr_t)((gnode *)rtgc_load(t, &ring[i]))->left;
        rtb_use(sum);
    }
    rtb_set_items(st, rtb_iterations(st));
    rtb_set_label(st, (m->state & RTGC_STATE_MARKING) ? "marking on throughout" : "marking ended during the run");
out:
    RTGC_FRAME_POP(t, r);
    g_close(&g);
}

static void bm_load_marking_chase(rtb_state *st, void *arg) { load_marking(st, 1); }
static void bm_load_marking_scan(rtb_state *st, void *arg) { load_marking(st, 0); }

/* ---- marking throughput ---- */

static void bm_mark(rtb_state *st, void *arg) {
    size_t mib = (size_t)rtb_range(st, 0), ntrees = mib * ((size_t)1 << 20) / TREE_BYTES;
    char opts[128];
    snprintf(opts, sizeof opts, "mode=stw,heap=%zuM", 4 * mib + 64);
    gheap g;
    if (!g_open(st, &g, opts))
        return;
    rtgc_thread *t = g.t;
    RTGC_FRAME(t, r, 1);
    r[0] = rtgc_alloc_array(t, g.refs, (uint32_t)ntrees);
    if (r[0])
        g_fill(&g, &r[0], 0, ntrees, 1);
    if (!r[0] || g.oom) {
        rtb_skip_with_error(st, "out of memory building the live set");
        RTGC_FRAME_POP(t, r);
        g_close(&g);
        return;
    }
    rtgc_collect(t); /* every span swept once: later collections find the same state */
    rtgc_collect(t);
    uint64_t mark_ns = 0, pause_ns = 0, bytes = 0;
    rtgc_stats s;
    while (rtb_keep_running(st)) {
        uint64_t t0 = rtgc_now_ns();
        rtgc_collect(t);
        pause_ns += rtgc_now_ns() - t0;
        mark_ns += g.mark_end - g.mark_start;
        rtgc_get_stats(g.heap, &s);
        bytes += s.live_bytes;
    }
    rtb_set_items(st, rtb_iterations(st));
    rtb_counter(st, "live_MiB", (double)s.live_bytes / 1048576.0);
    rtb_counter(st, "mark_MiB/s", mark_ns ? (double)bytes / 1048576.0 / ((double)mark_ns / 1e9) : 0.0);
    rtb_counter(st, "collect_MiB/s", pause_ns ? (double)bytes / 1048576.0 / ((double)pause_ns / 1e9) : 0.0);
    RTGC_FRAME_POP(t, r);
    g_close(&g);
}

/* ---- sweeping throughput ----
 * Per iteration: drop every other tree and collect (not timed; it leaves
 * every span unswept, half of the cells dead); then the timed collection,
 * whose first step (cycle start to mark start) sweeps the whole heap; then
 * rebuild the dropped trees (not timed). */
static void bm_sweep(rtb_state *st, void *arg) {
    size_t mib = (size_t)rtb_range(st, 0), ntrees = mib * ((size_t)1 << 20) / TREE_BYTES;
    char opts[128];
    snprintf(opts, sizeof opts, "mode=stw,heap=%zuM", 4 * mib + 64);
    gheap g;
    if (!g_open(st, &g, opts))
        return;
    rtgc_thread *t = g.t;
    RTGC_FRAME(t, r, 1);
    r[0] = rtgc_alloc_array(t, g.refs, (uint32_t)ntrees);
    if (r[0])
        g_fill(&g, &r[0], 0, ntrees, 1);
    uint64_t sweep_ns = 0, cells = 0, heap_bytes = 0;
    while (!g.oom && rtb_keep_running(st)) {
        rtb_pause_timing(st);
        void **slots = (void **)r[0] + 1;
        for (size_t i = 0; i < ntrees; i += 2)
            rtgc_store(t, r[0], &slots[i], NULL);
        rtgc_collect(t);
        rtgc_stats a, b;
        rtgc_get_stats(g.heap, &a);
        rtb_resume_timing(st);
        rtgc_collect(t);
        rtb_pause_timing(st);
        rtgc_get_stats(g.heap, &b);
        sweep_ns += g.mark_start - g.cycle_start;
        cells += b.swept_cells - a.swept_cells;
        heap_bytes += a.heap_size;
        g_fill(&g, &r[0], 0, ntrees, 2);
        rtb_resume_timing(st);
    }
    if (g.oom)
        rtb_skip_with_error(st, "out of memory");
    rtb_set_items(st, rtb_iterations(st));
    rtb_counter(st, "sweep_Mcells/s", sweep_ns ? (double)cells / 1e6 / ((double)sweep_ns / 1e9) : 0.0);
    rtb_counter(st, "sweep_MiB/s", sweep_ns ? (double)heap_bytes / 1048576.0 / ((double)sweep_ns / 1e9) : 0.0);
    rtb_counter(st, "cells/iter", rtb_iterations(st) ? (double)cells / (double)rtb_iterations(st) : 0.0);
    RTGC_FRAME_POP(t, r);
    g_close(&g);
}

void rtgc_bench_gc_register(void);

void rtgc_bench_gc_register(void) {
    static const int64_t ring_sizes[] = {1024, 65536};
    static const int64_t mibs[] = {16, 64};
    rtb_register_args("load_marking/chase/rtgc_load", bm_load_marking_chase, NULL, ring_sizes, 2);
    rtb_register_args("load_marking/scan/rtgc_load", bm_load_marking_scan, NULL, ring_sizes, 2);
    rtb_bench *b = rtb_register_args("mark", bm_mark, NULL, mibs, 2);
    rtb_bench_arg_name(b, "live_MiB");
    rtb_bench_unit(b, RTB_MS);
    b = rtb_register_args("sweep", bm_sweep, NULL, mibs, 2);
    rtb_bench_arg_name(b, "heap_MiB");
    rtb_bench_unit(b, RTB_MS);
}

/* harness/workloads/gcbench.c - GCBench (Ellis, Kovac, Boehm), the classic.
 *
 * Setup builds the long-lived tree (depth 16) and the long-lived array of
 * 500,000 doubles, then a stretch tree of depth 18 that is dropped.  Each
 * iteration at depth d (4, 6, ..., 16, round and round until the duration
 * is up) builds 2 * nodes(18) / nodes(d) trees top-down (populating an
 * empty node) and as many bottom-up, dropping each.  A node is a record of
 * two children and two integers (48 bytes).  An iteration's latency is its
 * own time; the report's throughput is iterations a second.
 */
#include <stdlib.h>

#include "objects.h"

enum { T_LEFT, T_RIGHT, T_I, T_J }; /* node: rec4 */
#define STRETCH 18
#define LONG_LIVED 16
#define ARRAY 500000u

typedef struct bench_state {
    void **tree, **array;
} bench_state;

static void *bench_init(gclat_ctx *c) {
    bench_state *s = calloc(1, sizeof *s);
    if (s) {
        s->tree = rtgc_handle(c->t, NULL);
        s->array = rtgc_handle(c->t, NULL);
    }
    return s;
}

static void bench_fini(gclat_ctx *c, void *p) {
    free(p);
}

static int64_t nodes(int d) {
    return ((int64_t)1 << (d + 1)) - 1;
}

static void *new_node(gclat_ctx *c, void *l, void *r) {
    void *n = new_rec(c->t, 4);
    if (oom(c, n))
        return NULL;
    set(c->t, n, T_LEFT, l);
    set(c->t, n, T_RIGHT, r);
    set(c->t, n, T_I, imm(0));
    set(c->t, n, T_J, imm(0));
    return n;
}

/* Top-down: give the rooted node *node two children, recursively. */
static int populate(gclat_ctx *c, int depth, void **node) {
    if (depth <= 0)
        return 0;
    rtgc_thread *t = c->t;
    int rc = -1;
    RTGC_FRAME(t, r, 1);
    r[0] = new_node(c, NULL, NULL);
    if (!r[0])
        goto out;
    set(t, *node, T_LEFT, r[0]);
    r[0] = new_node(c, NULL, NULL);
    if (!r[0])
        goto out;
    set(t, *node, T_RIGHT, r[0]);
    r[0] = get(t, *node, T_LEFT);
    if (populate(c, depth - 1, &r[0]))
        goto out;
    r[0] = get(t, *node, T_RIGHT);
    if (populate(c, depth - 1, &r[0]))
        goto out;
    rc = 0;
out:
    RTGC_FRAME_POP(t, r);
    return rc;
}

/* Bottom-up. */
static void *make_tree(gclat_ctx *c, int depth) {
    if (depth <= 0)
        return new_node(c, NULL, NULL);
    rtgc_thread *t = c->t;
    void *n = NULL;
    RTGC_FRAME(t, r, 2);
    r[0] = make_tree(c, depth - 1);
    if (r[0] && (r[1] = make_tree(c, depth - 1)))
        n = new_node(c, r[0], r[1]);
    RTGC_FRAME_POP(t, r);
    return n;
}

/* (setup) */
static int64_t bench_setup(gclat_ctx *c, int argc, const int64_t *argv) {
    bench_state *s = c->native;
    rtgc_thread *t = c->t;
    void *n = new_node(c, NULL, NULL);
    if (!n)
        return 0;
    *s->tree = n;
    if (populate(c, LONG_LIVED, s->tree))
        return 0;
    void *a = new_str(t, NULL, ARRAY * 8);
    if (oom(c, a))
        return 0;
    double *d = (double *)(void *)str_bytes(a);
    for (uint32_t i = 0; i < ARRAY / 2; i++)
        d[i] = 1.0 / (i + 1);
    *s->array = a;
    return nodes(LONG_LIVED);
}

/* (stretch) */
static int64_t bench_stretch(gclat_ctx *c, int argc, const int64_t *argv) {
    return make_tree(c, STRETCH) ? nodes(STRETCH) : 0;
}

/* (iteration depth): returns the trees built */
static int64_t bench_iteration(gclat_ctx *c, int argc, const int64_t *argv) {
    int depth = argc > 0 ? (int)argv[0] : 4;
    if (depth < 0 || depth > 24) {
        snprintf(c->error, sizeof c->error, "iteration: depth %d out of range", depth);
        return 0;
    }
    int64_t iters = 2 * nodes(STRETCH) / nodes(depth);
    rtgc_thread *t = c->t;
    RTGC_FRAME(t, r, 1);
    for (int64_t i = 0; i < iters; i++) {
        r[0] = new_node(c, NULL, NULL);
        if (!r[0] || populate(c, depth, &r[0]))
            break;
        rtgc_poll(t);
    }
    for (int64_t i = 0; i < iters && !c->error[0]; i++) {
        r[0] = make_tree(c, depth);
        rtgc_poll(t);
    }
    RTGC_FRAME_POP(t, r);
    /* the long-lived data must still be there */
    if (!c->error[0] && count_of(*((bench_state *)c->native)->array) != ARRAY * 8)
        snprintf(c->error, sizeof c->error, "the long-lived array changed");
    return 2 * iters;
}

static void bench_drive(gclat_ctx *c) {
    gclat_run *run = c->run;
    if (gclat_call(c, "setup", 0, NULL, NULL) || gclat_call(c, "stretch", 0, NULL, NULL))
        return;
    gclat_lat lat;
    gclat_lat_init(&lat);
    uint64_t t0 = gclat_run_barrier(c), end = run->measure_end_ns, a = t0, n = 0, sum = 0;
    int depth = 4;
    while (!run->failed && a < end) {
        int64_t arg = depth, got;
        if (gclat_call(c, "iteration", 1, &arg, &got))
            break;
        uint64_t b = gclat_now();
        gclat_lat_add(&lat, b - a, 0);
        a = b;
        sum += (uint64_t)got;
        n++;
        depth = depth >= 16 ? 4 : depth + 2;
    }
    __atomic_store_n(&run->measure_end_ns, a, __ATOMIC_RELAXED); /* a closed loop ends when it ends */
    gclat_run_add(c, &lat, n, n, 0, 0, sum);
}

static const gclat_entry bench_entries[] = {
    {"setup", bench_setup}, {"stretch", bench_stretch}, {"iteration", bench_iteration}, {NULL, NULL}};
static const char *const bench_params[] = {NULL};

const gclat_workload gclat_gcbench = {
    .name = "gcbench",
    .summary = "the classic GCBench trees (long-lived tree 16, array 500k, depths 4..16)",
    .unit = "iteration",
    .default_mode = "concurrent",
    .default_heap = (size_t)128 << 20, /* six times the most it holds live (about 20 MiB) */
    .default_threads = 1,
    .default_duration_ns = 3000000000ull,
    .params = bench_params,
    .native_init = bench_init,
    .native_fini = bench_fini,
    .entries = bench_entries,
    .drive = bench_drive,
};

/* bench/macro/peers.c - gcbench, binary-trees and msgbuf on one allocator.
 *
 * The same three programs, written once against a tiny allocator interface
 * (below) and built once per memory manager:
 *
 *   build/bench/peers-rtgc      librtgc, any mode (--options mode=...)
 *   build/bench/peers-boehm     the Boehm collector (Debian libgc-dev);
 *                               --incremental calls GC_enable_incremental
 *   build/bench/peers-jemalloc  manual malloc/free, linked with jemalloc
 *                               (Debian's has no je_ prefix: it is malloc)
 *   build/bench/peers-glibc     manual malloc/free, glibc's malloc
 *
 * jemalloc and glibc cannot share a process, so each gets its binary, and
 * every run is a process of its own (peak RSS is per process).
 *
 * librtgc's step mode needs the program to call rtgc_step: these programs
 * give it a step of up to 250 us once a millisecond (see peer_poll).
 *
 *   peers-X --bench msgbuf|gcbench|binary-trees [--options STR] [--incremental]
 *           [--window N] [--pushes N] [--depth N]
 *
 * prints one line, "RESULT key=value ...":
 *   time_s    msgbuf: the push loop; gcbench, binary-trees: the whole run
 *   max_ns, p999_ns, p99_ns
 *             msgbuf: the longest, p99.9 and p99 push (each push timed by
 *             itself, CLOCK_MONOTONIC, so a push that waits for the
 *             collector shows it: the mutator's view);
 *             gcbench, binary-trees: the longest (p99.9, p99) gap between
 *             checkpoints taken every 64 allocations or frees, so any stop
 *             of the mutator (a collection, a sweep, an assist, a long free)
 *             shows at that resolution; the checkpoint costs under 1 ns an
 *             operation
 *   rss_mb    peak resident set (getrusage ru_maxrss)
 *   gc_max_ns, gc_max_cause, gc_cycles
 *   loop_cpu_s msgbuf: the push loop's CPU time (its thread's): time_s
 *             less this is time the loop did not run (preempted, blocked)
 *   loop_runq_s msgbuf: of that, the time it waited on a run queue
 *             (runnable, preempted: Linux schedstat); the rest it was
 *             blocked (a lock, a wait)
 *   mmu10_wall, mmu10_work
 *             librtgc: the minimum mutator utilisation over 10 ms windows
 *             from its pause records, by wall time and by collector work
 *             (-1 for the other allocators)
 *             librtgc: its own longest pause record (wall), its cause, the
 *             collector work inside it, and the cycles;
 *             Boehm: GC_get_gc_no(); the longest collection it timed itself
 *             is not exposed the same way, so gc_max_ns is -1 there
 *   check     a checksum of the work (the same for every allocator)
 *
 * Parameters default to the classic sizes: msgbuf a window of 200,000
 * 1-KiB messages and 5,000,000 pushes (PEERS.md's shape); gcbench
 * Ellis/Kovac/Boehm's (stretch 18, long-lived 16, array 500,000 doubles,
 * trees of depth 4..16); binary-trees the benchmarks game's at depth 18.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

#include <rtgc.h> /* the histogram (rtgc_hist_*) for every allocator */

#if defined(PEER_RTGC) + defined(PEER_BOEHM) + defined(PEER_MALLOC) != 1
#error "define exactly one of PEER_RTGC, PEER_BOEHM, PEER_MALLOC"
#endif

#ifdef PEER_BOEHM
#include <gc/gc.h>
#endif

/* CPU time of the calling thread (the push loop's own, msgbuf) */
static uint64_t cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static double loop_cpu_s = -1, loop_runq_s = -1;

/* Time the calling thread has waited on a run queue, ever (Linux
 * schedstat, second field); 0 where the kernel does not say. */
static uint64_t runq_ns(void) {
    char path[64];
    unsigned long long run = 0, wait = 0;
    snprintf(path, sizeof path, "/proc/self/task/%ld/schedstat", (long)syscall(SYS_gettid));
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &run, &wait) != 2)
            wait = 0;
        fclose(f);
    }
    return wait;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the allocator interface ----
 *
 *   peer_init(options, incremental)
 *   NEW_NODE()              a zeroed tree node
 *   NEW_BYTES(n)            n bytes with no references (an object of n bytes in all),
 *                           uninitialised: the caller writes them (as malloc and
 *                           GC_MALLOC_ATOMIC leave them; librtgc: rtgc_alloc_array_uninit)
 *   NEW_REFS(n)             an array of n references, NULL
 *   NEW_DOUBLES(n)          n doubles
 *   LOAD(obj, field)        read a reference field
 *   STORE(obj, field, v)    write one
 *   REF_GET(a, i), REF_SET(a, i, v)
 *   FREE_NODE(p), FREE_BYTES(p), FREE_REFS(p)   manual memory only (no-ops for a collector)
 *   ROOTS(name, n) / ROOTS_POP(name)   n local roots (a shadow-stack frame for librtgc)
 *   POLL()                  a safepoint
 */

#ifdef PEER_RTGC
#define HEADER uint64_t header;
#else
#define HEADER
#endif

typedef struct node {
    HEADER
    struct node *left, *right;
    int64_t i, j;
} node;

#ifdef PEER_RTGC
static rtgc_heap *H;
static rtgc_thread *T;
static int step_mode;
static unsigned polls;
static uint64_t last_step;
static uint64_t now_ns(void);
static rtgc_layout_id L_NODE, L_BYTES, L_REFS;
static const char *peer_name = "rtgc";

static void die_err(const char *what, const rtgc_error *err) {
    fprintf(stderr, "peers: %s: %s\n", what, err->message);
    exit(2);
}
static void on_oom(rtgc_heap *heap, size_t request, void *data) {
    fprintf(stderr, "peers: out of memory (a request of %zu bytes)\n", request);
    exit(1);
}
static void peer_init(const char *options, int incremental) {
    rtgc_config cfg;
    rtgc_error err;
    rtgc_config_init(&cfg);
    cfg.mode = RTGC_MODE_CONCURRENT;
    cfg.heap_limit = (size_t)1 << 30;
    if (rtgc_config_parse(&cfg, options, &err) != RTGC_OK)
        die_err("--options", &err);
    if (rtgc_heap_create(&cfg, &H, &err) != RTGC_OK)
        die_err("heap", &err);
    rtgc_set_oom_handler(H, on_oom, NULL);
    static const uint32_t node_refs[] = {offsetof(node, left), offsetof(node, right)};
    rtgc_layout ln = {.name = "node", .kind = RTGC_LAYOUT_RECORD, .size = sizeof(node),
                      .ref_offsets = node_refs, .ref_count = 2};
    rtgc_layout lb = {.name = "bytes", .kind = RTGC_LAYOUT_BYTES, .size = RTGC_HEADER_BYTES};
    rtgc_layout lr = {.name = "refs", .kind = RTGC_LAYOUT_REF_ARRAY, .size = RTGC_HEADER_BYTES};
    if (rtgc_layout_register(H, &ln, &L_NODE, &err) || rtgc_layout_register(H, &lb, &L_BYTES, &err) ||
        rtgc_layout_register(H, &lr, &L_REFS, &err))
        die_err("layout", &err);
    if (!(T = rtgc_thread_attach(H, &err)))
        die_err("attach", &err);
    (void)incremental;
    step_mode = cfg.mode == RTGC_MODE_STEP;
}
/* A safepoint.  In step mode nothing collects unless the program calls
 * rtgc_step: here, like a frame loop that gives the collector a quarter of
 * its time, a step of up to 250 us once a millisecond (the clock is read
 * every 64 polls). */
static inline void peer_poll(void) {
    rtgc_poll(T);
    if (step_mode && (++polls & 63) == 0) {
        uint64_t t = now_ns();
        if (t - last_step >= 1000000) {
            rtgc_step(T, 250000);
            last_step = t;
        }
    }
}
static inline node *NEW_NODE(void) { return rtgc_alloc(T, L_NODE); }
static inline void *NEW_BYTES(size_t n) {
    return rtgc_alloc_array_uninit(T, L_BYTES, (uint32_t)(n - RTGC_HEADER_BYTES));
}
static inline void **NEW_REFS(size_t n) { return rtgc_alloc_array(T, L_REFS, (uint32_t)n); }
static inline double *NEW_DOUBLES(size_t n) {
    return rtgc_alloc_array(T, L_BYTES, (uint32_t)(n * sizeof(double)));
}
#define BYTES_OF(p) ((char *)(p) + RTGC_HEADER_BYTES)
#define DOUBLES_OF(p) ((double *)((char *)(p) + RTGC_HEADER_BYTES))
#define REFS_OF(a) ((void **)(a) + 1)
#define LOAD(o, f) ((node *)rtgc_load(T, (void **)&(o)->f))
#define STORE(o, f, v) rtgc_store(T, (o), (void **)&(o)->f, (v))
#define REF_GET(a, i) rtgc_load(T, &REFS_OF(a)[i])
#define REF_SET(a, i, v) rtgc_store(T, (a), &REFS_OF(a)[i], (v))
#define FREE_NODE(p) ((void)(p))
#define FREE_BYTES(p) ((void)(p))
#define FREE_REFS(p) ((void)(p))
#define MANUAL 0
#define ROOTS(name, n) RTGC_FRAME(T, name, n)
#define ROOTS_POP(name) RTGC_FRAME_POP(T, name)
#define POLL() peer_poll()
#endif

#ifdef PEER_BOEHM
static const char *peer_name = "boehm";
static void peer_init(const char *options, int incremental) {
    GC_INIT();
    if (incremental)
        GC_enable_incremental();
    (void)options;
}
static inline node *NEW_NODE(void) { return GC_MALLOC(sizeof(node)); }
static inline void *NEW_BYTES(size_t n) { return GC_MALLOC_ATOMIC(n); }
static inline void **NEW_REFS(size_t n) { return GC_MALLOC(n * sizeof(void *)); }
static inline double *NEW_DOUBLES(size_t n) { return GC_MALLOC_ATOMIC(n * sizeof(double)); }
#define MANUAL 0
#define FREE_NODE(p) ((void)(p))
#define FREE_BYTES(p) ((void)(p))
#define FREE_REFS(p) ((void)(p))
#endif

#ifdef PEER_MALLOC
#ifdef PEER_JEMALLOC
static const char *peer_name = "jemalloc";
#else
static const char *peer_name = "glibc";
#endif
static void peer_init(const char *options, int incremental) {
    (void)options;
    (void)incremental;
}
static inline node *NEW_NODE(void) { return calloc(1, sizeof(node)); }
static inline void *NEW_BYTES(size_t n) { return malloc(n); }
static inline void **NEW_REFS(size_t n) { return calloc(n, sizeof(void *)); }
static inline double *NEW_DOUBLES(size_t n) { return malloc(n * sizeof(double)); }
#define MANUAL 1
#define FREE_NODE(p) free(p)
#define FREE_BYTES(p) free(p)
#define FREE_REFS(p) free(p)
#endif

#ifndef PEER_RTGC /* plain memory: no barriers, no frames, no polls */
#define BYTES_OF(p) ((char *)(p))
#define DOUBLES_OF(p) ((double *)(p))
#define REFS_OF(a) ((void **)(a))
#define LOAD(o, f) ((o)->f)
#define STORE(o, f, v) ((o)->f = (v))
#define REF_GET(a, i) (REFS_OF(a)[i])
#define REF_SET(a, i, v) (REFS_OF(a)[i] = (v))
#define ROOTS(name, n) void *name[n] = {0}
#define ROOTS_POP(name) ((void)(name))
#define POLL() ((void)0)
#endif

static void *need(void *p) {
    if (!p) {
        fprintf(stderr, "peers: out of memory\n");
        exit(1);
    }
    return p;
}

/* ---- the mutator's clock: a checkpoint every 64 operations ---- */

static rtgc_hist gaps;
static uint64_t ops, last_mark;
static inline void tick(void) {
    if ((++ops & 63) == 0) {
        uint64_t t = now_ns();
        rtgc_hist_record(&gaps, t - last_mark);
        last_mark = t;
    }
}

static node *new_node(node *l, node *r) {
    /* l and r are rooted by the caller */
    node *n = need(NEW_NODE());
    tick();
    STORE(n, left, l);
    STORE(n, right, r);
    return n;
}

static void free_tree(node *n) {
#if MANUAL
    if (!n)
        return;
    free_tree(n->left);
    free_tree(n->right);
    FREE_NODE(n);
    tick();
#else
    (void)n;
#endif
}

static int64_t tree_size(int d) {
    return ((int64_t)1 << (d + 1)) - 1;
}

/* Bottom-up: a tree of depth d (each subtree rooted while its sibling is built). */
static node *make_tree(int d) {
    POLL(); /* a call: a VM polls here */
    if (d <= 0)
        return new_node(NULL, NULL);
    ROOTS(r, 2);
    r[0] = make_tree(d - 1);
    r[1] = make_tree(d - 1);
    node *n = new_node(r[0], r[1]);
    ROOTS_POP(r);
    return n;
}

/* Top-down: give the node two children, recursively (the node is reachable
 * from a root, so only the new children need rooting while allocating). */
static void populate(int d, node *n) {
    if (d <= 0)
        return;
    ROOTS(r, 2);
    r[0] = n;
    node *l = new_node(NULL, NULL);
    STORE((node *)r[0], left, l);
    node *rt = new_node(NULL, NULL);
    n = r[0];
    STORE(n, right, rt);
    populate(d - 1, LOAD(n, left));
    populate(d - 1, LOAD(n, right));
    ROOTS_POP(r);
    POLL();
}

static int64_t check_tree(node *n) {
    node *l = LOAD(n, left);
    if (!l)
        return 1;
    return 1 + check_tree(l) + check_tree(LOAD(n, right));
}

/* ---- gcbench (Ellis, Kovac, Boehm) ---- */

static int64_t run_gcbench(void) {
    const int stretch = 18, long_lived = 16, min_d = 4, max_d = 16;
    const size_t array_n = 500000;
    int64_t check = 0;
    ROOTS(r, 3);
    node *t = make_tree(stretch);
    check += check_tree(t);
    free_tree(t);
    r[0] = need(NEW_NODE()); /* the long-lived tree */
    populate(long_lived, r[0]);
    r[1] = need(NEW_DOUBLES(array_n));
    for (size_t i = 0; i < array_n / 2; i++)
        DOUBLES_OF(r[1])[i] = 1.0 / (double)(i + 1);
    for (int d = min_d; d <= max_d; d += 2) {
        int64_t iters = 2 * tree_size(stretch) / tree_size(d);
        for (int64_t i = 0; i < iters; i++) {
            r[2] = need(NEW_NODE());
            tick();
            populate(d, r[2]);
            check += check_tree(r[2]);
            free_tree(r[2]);
            r[2] = NULL;
            node *b = make_tree(d);
            check += check_tree(b);
            free_tree(b);
            POLL();
        }
    }
    check += check_tree(r[0]) + (DOUBLES_OF(r[1])[1000] == 1.0 / 1001 ? 1 : 0);
    free_tree(r[0]);
#if MANUAL
    free(r[1]);
#endif
    ROOTS_POP(r);
    return check;
}

/* ---- binary-trees (the benchmarks game) ---- */

static int64_t run_binary_trees(int n) {
    int min_d = 4, max_d = n < min_d + 2 ? min_d + 2 : n;
    int64_t check = 0;
    node *s = make_tree(max_d + 1);
    check += check_tree(s);
    free_tree(s);
    ROOTS(r, 1);
    r[0] = make_tree(max_d);
    for (int d = min_d; d <= max_d; d += 2) {
        int64_t iters = (int64_t)1 << (max_d - d + min_d);
        for (int64_t i = 0; i < iters; i++) {
            node *t = make_tree(d);
            check += check_tree(t);
            free_tree(t);
            POLL();
        }
    }
    check += check_tree(r[0]);
    free_tree(r[0]);
    ROOTS_POP(r);
    return check;
}

/* ---- msgbuf: a window of 1-KiB messages, each push replacing the oldest ---- */

static rtgc_hist pushes_hist;

static int64_t run_msgbuf(size_t window, uint64_t pushes, double *loop_s) {
    const size_t msg = 1024; /* the whole object; for librtgc its header included */
    ROOTS(r, 1);
    r[0] = need(NEW_REFS(window));
    uint64_t t0 = now_ns(), a = t0, c0 = cpu_ns(), q0 = runq_ns();
    for (uint64_t i = 0; i < pushes; i++) {
        size_t slot = (size_t)(i % window);
        char *m = need(NEW_BYTES(msg));
#ifdef PEER_RTGC
        memset(BYTES_OF(m), (int)(i & 0xff), msg - RTGC_HEADER_BYTES);
#else
        memset(BYTES_OF(m), (int)(i & 0xff), msg);
#endif
#if MANUAL
        free(REF_GET(r[0], slot));
#endif
        REF_SET(r[0], slot, m);
        POLL();
        uint64_t b = now_ns();
        rtgc_hist_record(&pushes_hist, b - a);
        a = b;
    }
    *loop_s = (double)(a - t0) / 1e9;
    loop_cpu_s = (double)(cpu_ns() - c0) / 1e9;
    loop_runq_s = (double)(runq_ns() - q0) / 1e9;
    int64_t check = 0;
    for (size_t i = 0; i < window; i += window / 16 + 1)
        check += (unsigned char)BYTES_OF(REF_GET(r[0], i))[100];
#if MANUAL
    for (size_t i = 0; i < window; i++)
        free(REF_GET(r[0], i));
    free(r[0]);
#endif
    ROOTS_POP(r);
    return check;
}

static void usage(void) {
    fprintf(stderr, "usage: peers-%s --bench msgbuf|gcbench|binary-trees [--options STR] [--incremental] "
                    "[--window N] [--pushes N] [--depth N]\n", peer_name);
    exit(2);
}

static uint64_t num_arg(const char *s) {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || end == s || v == 0)
        usage();
    return v;
}

int main(int argc, char **argv) {
    const char *bench = NULL, *options = "";
    int incremental = 0, depth = 18;
    size_t window = 200000;
    uint64_t npush = 5000000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bench") && i + 1 < argc) bench = argv[++i];
        else if (!strcmp(argv[i], "--options") && i + 1 < argc) options = argv[++i];
        else if (!strcmp(argv[i], "--incremental")) incremental = 1;
        else if (!strcmp(argv[i], "--window") && i + 1 < argc) window = num_arg(argv[++i]);
        else if (!strcmp(argv[i], "--pushes") && i + 1 < argc) npush = num_arg(argv[++i]);
        else if (!strcmp(argv[i], "--depth") && i + 1 < argc) depth = (int)num_arg(argv[++i]);
        else usage();
    }
    if (!bench || depth > 24)
        usage();
    rtgc_hist_init(&gaps);
    rtgc_hist_init(&pushes_hist);
    peer_init(options, incremental);

    int64_t check;
    double secs;
    const rtgc_hist *lat = &gaps;
    uint64_t t0 = now_ns();
    last_mark = t0;
    if (!strcmp(bench, "msgbuf")) {
        check = run_msgbuf(window, npush, &secs);
        lat = &pushes_hist;
    } else if (!strcmp(bench, "gcbench")) {
        check = run_gcbench();
        secs = (double)(now_ns() - t0) / 1e9;
    } else if (!strcmp(bench, "binary-trees")) {
        check = run_binary_trees(depth);
        secs = (double)(now_ns() - t0) / 1e9;
    } else {
        usage();
    }

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int64_t gc_max = -1, gc_cycles = -1;
    double mmu_wall = -1, mmu_work = -1;
    const char *gc_max_cause = "-";
#ifndef PEER_RTGC
    int64_t gc_max_work = -1;
#endif
#ifdef PEER_RTGC
    rtgc_stats st;
    rtgc_get_stats(H, &st);
    gc_max = (int64_t)st.pause_max_ns;
    gc_cycles = (int64_t)st.cycles;
    /* the longest record's cause, from the records the ring still keeps */
    static rtgc_pause_record recs[1024];
    uint64_t next = 0, longest = 0;
    int64_t gc_max_work = -1;
    size_t got;
    while ((got = rtgc_pause_records(H, next, recs, 1024, &next)) > 0)
        for (size_t k = 0; k < got; k++)
            if (recs[k].wall_ns > longest) {
                longest = recs[k].wall_ns;
                gc_max_work = (int64_t)recs[k].work_ns;
                gc_max_cause = rtgc_cause_name(recs[k].cause);
            }
    /* MMU over 10 ms windows, from the collector's records (wall time,
     * and collector work): the whole run, the push loop nearly all of it. */
    mmu_wall = rtgc_mmu(H, 0, 10000000, 0);
    mmu_work = rtgc_mmu(H, 0, 10000000, 1);
    char opts[512];
    rtgc_config_format(rtgc_heap_config(H), opts, sizeof opts);
    /* Where the heap went and who swept it (stderr: not part of RESULT). */
    fprintf(stderr,
            "GCSTATS heap_peak_mb=%.1f live_mb=%.1f goal_mb=%.1f sweep_pauses=%llu assists=%llu "
            "spans_swept_collector=%llu spans_swept_mutator=%llu spans_released_whole=%llu collector_cpu_s=%.2f "
            "decommitted_mb=%.0f prefaulted_mb=%.0f markers=%u helper_cpu_s=%.2f live_objects=%zu live_noscan_objects=%zu\n",
            st.heap_peak / 1e6, st.live_bytes / 1e6, st.heap_goal / 1e6,
            (unsigned long long)st.by_cause[RTGC_CAUSE_SWEEP], (unsigned long long)st.by_cause[RTGC_CAUSE_ASSIST],
            (unsigned long long)st.spans_swept_collector, (unsigned long long)st.spans_swept_mutator,
            (unsigned long long)st.spans_released_whole, st.collector_cpu_ns / 1e9,
            st.decommitted_bytes / 1e6, st.prefaulted_bytes / 1e6, st.markers, st.helper_cpu_ns / 1e9, st.live_objects,
            st.live_noscan_objects);
#elif defined(PEER_BOEHM)
    gc_cycles = (int64_t)GC_get_gc_no();
    const char *opts = incremental ? "incremental" : "plain";
#else
    const char *opts = "-";
#endif
    printf("RESULT bench=%s impl=%s time_s=%.4f max_ns=%llu p999_ns=%llu p99_ns=%llu count=%llu rss_mb=%.1f "
           "gc_max_ns=%lld gc_max_cause=%s gc_max_work_ns=%lld gc_cycles=%lld mmu10_wall=%.2f mmu10_work=%.2f "
           "loop_cpu_s=%.4f loop_runq_s=%.4f check=%lld options=%s\n",
           bench, peer_name, secs, (unsigned long long)lat->max,
           (unsigned long long)rtgc_hist_percentile(lat, 99.9), (unsigned long long)rtgc_hist_percentile(lat, 99),
           (unsigned long long)lat->count, (double)ru.ru_maxrss / 1024.0, (long long)gc_max, gc_max_cause, (long long)gc_max_work, (long long)gc_cycles,
           mmu_wall, mmu_work, loop_cpu_s, loop_runq_s, (long long)check, opts);
#ifdef PEER_RTGC
    rtgc_thread_detach(T);
    rtgc_heap_destroy(H);
#endif
    return 0;
}

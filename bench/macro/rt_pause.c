/* bench/macro/rt_pause.c - the real-time collector's pauses with a large
 * live heap and mutators that keep running.
 *
 *   rt-pause [--live=SIZE] [--threads=N] [--seconds=S] [--work=N] [--options=RTGC_OPTIONS]
 *
 * Each of N mutator threads builds SIZE/N bytes of live data (REF_ARRAY
 * tables of 1023 references to 32-byte records, hung from a shadow-stack
 * root), then for S seconds replaces random records with new ones, reading
 * through rtgc_load and writing through rtgc_store, polling every 256
 * allocations.  The live set stays put; the garbage rate is the allocation
 * rate.  --work=N does N rounds of arithmetic per allocation (the program's
 * own work; 0 makes a pure allocation loop, which no collector with a CPU
 * share keeps up with for long).  Options default to "mode=concurrent,heap=<3 x SIZE>".
 *
 * It prints the pause distribution from the library's own records, by wall
 * time and by the collector's CPU work inside each pause (what the pause
 * budget is about; the difference is the platform), per cause, the MMU over
 * 1, 10 and 100 ms, stalls, and the collector thread's CPU share, all for
 * the steady phase after every thread has built its live data (pause_log is
 * raised to keep every record).
 * Exit status 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rtgc.h>

#define TABLE 1023u

typedef struct rec {
    uint64_t header;
    void *next;
    uint64_t a, b;
} rec;

static rtgc_heap *heap;
static rtgc_layout_id REC, ARR;
static size_t live_per_thread;
static double seconds = 10;
static int work_iters = 64;
static uint64_t allocs_total;
static pthread_mutex_t total_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t built;
static uint64_t steady_start_ns, steady_first_record;

static uint64_t rnd(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void *mutator(void *arg) {
    uint64_t seed = 0x9e3779b97f4a7c15ull * (uintptr_t)(arg + 1);
    rtgc_error err;
    rtgc_thread *t = rtgc_thread_attach(heap, &err);
    if (!t) {
        fprintf(stderr, "rt-pause: attach: %s\n", err.message);
        exit(1);
    }
    RTGC_FRAME(t, r, 1);
    size_t per_table = sizeof(rec) * TABLE + 8 + 8 * TABLE;
    uint32_t tables = (uint32_t)(live_per_thread / per_table);
    if (tables < 1)
        tables = 1;
    r[0] = rtgc_alloc_array(t, ARR, tables);
    for (uint32_t i = 0; i < tables; i++) {
        void **tab = rtgc_alloc_array(t, ARR, TABLE);
        void **top = r[0];
        rtgc_store(t, top, &top[1 + i], tab);
        for (uint32_t k = 0; k < TABLE; k++) {
            rec *x = rtgc_alloc(t, REC);
            x->a = k;
            tab = rtgc_load(t, &top[1 + i]);
            rtgc_store(t, tab, &tab[1 + k], x);
        }
        rtgc_poll(t);
    }
    /* Measure the steady state only: wait (blocked, so a cycle never waits
     * for us) until every thread has built its part. */
    rtgc_enter_blocking(t);
    if (pthread_barrier_wait(&built) == PTHREAD_BARRIER_SERIAL_THREAD) {
        uint64_t next = 0;
        rtgc_pause_record tmp;
        while (rtgc_pause_records(heap, next, &tmp, 1, &next))
            ;
        steady_first_record = next;
        steady_start_ns = rtgc_now_ns();
    }
    pthread_barrier_wait(&built);
    rtgc_leave_blocking(t);
    uint64_t t0 = rtgc_now_ns(), n = 0;
    while (rtgc_now_ns() - t0 < (uint64_t)(seconds * 1e9)) {
        for (int i = 0; i < 256; i++) {
            uint64_t x = rnd(&seed);
            for (int w = 0; w < work_iters; w++)
                x = x * 6364136223846793005ull + 1442695040888963407ull;
            rec *fresh = rtgc_alloc(t, REC);
            fresh->a = x;
            void **top = r[0];
            void **tab = rtgc_load(t, &top[1 + (x >> 32) % tables]);
            rtgc_store(t, tab, &tab[1 + x % TABLE], fresh);
        }
        n += 256;
        rtgc_poll(t);
    }
    pthread_mutex_lock(&total_lock);
    allocs_total += n;
    pthread_mutex_unlock(&total_lock);
    RTGC_FRAME_POP(t, r);
    rtgc_thread_detach(t);
    return NULL;
}

static void usage(void) {
    fprintf(stderr, "usage: rt-pause [--live=SIZE] [--threads=N] [--seconds=S] [--work=N] [--options=RTGC_OPTIONS]\n");
    exit(2);
}

static void line(const char *what, rtgc_hist *h) {
    printf("  %-10s n=%-8" PRIu64 " p50 %8.1f  p99 %8.1f  p99.9 %8.1f  max %8.1f us\n", what, h->count,
           rtgc_hist_percentile(h, 50) / 1e3, rtgc_hist_percentile(h, 99) / 1e3, rtgc_hist_percentile(h, 99.9) / 1e3,
           h->max / 1e3);
}

int main(int argc, char **argv) {
    size_t live = (size_t)256 << 20;
    int threads = 2;
    const char *options = NULL;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--live=", 7) == 0) {
            if (rtgc_parse_size(argv[i] + 7, &live) != RTGC_OK || live == 0)
                usage();
        } else if (strncmp(argv[i], "--threads=", 10) == 0) {
            threads = atoi(argv[i] + 10);
            if (threads < 1 || threads > 64)
                usage();
        } else if (strncmp(argv[i], "--seconds=", 10) == 0) {
            seconds = atof(argv[i] + 10);
            if (!(seconds > 0))
                usage();
        } else if (strncmp(argv[i], "--work=", 7) == 0) {
            work_iters = atoi(argv[i] + 7);
            if (work_iters < 0)
                usage();
        } else if (strncmp(argv[i], "--options=", 10) == 0) {
            options = argv[i] + 10;
        } else {
            usage();
        }
    }
    rtgc_config cfg;
    rtgc_error err;
    rtgc_config_init(&cfg);
    cfg.mode = RTGC_MODE_CONCURRENT;
    cfg.heap_limit = 3 * live;
    cfg.pause_log = 1u << 22;
    if (options && rtgc_config_parse(&cfg, options, &err) != RTGC_OK) {
        fprintf(stderr, "rt-pause: %s\n", err.message);
        return 2;
    }
    if (rtgc_heap_create(&cfg, &heap, &err) != RTGC_OK) {
        fprintf(stderr, "rt-pause: %s\n", err.message);
        return 2;
    }
    char opts[512];
    rtgc_config_format(rtgc_heap_config(heap), opts, sizeof opts);
    printf("rt-pause: libgc %s, live %.0f MiB in %d threads, %.0f s, work %d per allocation\noptions: %s\n",
           rtgc_version(), live / 1048576.0, threads, seconds, work_iters, opts);
    static const uint32_t refs[] = {8};
    rtgc_layout rl = {.name = "rec", .kind = RTGC_LAYOUT_RECORD, .size = sizeof(rec), .ref_offsets = refs, .ref_count = 1};
    rtgc_layout al = {.name = "table", .kind = RTGC_LAYOUT_REF_ARRAY, .size = 8};
    if (rtgc_layout_register(heap, &rl, &REC, &err) || rtgc_layout_register(heap, &al, &ARR, &err)) {
        fprintf(stderr, "rt-pause: %s\n", err.message);
        return 1;
    }
    live_per_thread = live / (size_t)threads;
    pthread_barrier_init(&built, NULL, (unsigned)threads);
    pthread_t th[64];
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, mutator, (void *)(uintptr_t)i);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    uint64_t wall = rtgc_now_ns() - steady_start_ns;

    rtgc_stats st;
    rtgc_get_stats(heap, &st);
    rtgc_hist all_wall, all_work, cw[RTGC_CAUSE_COUNT], cwall[RTGC_CAUSE_COUNT];
    rtgc_hist_init(&all_wall);
    rtgc_hist_init(&all_work);
    for (int c = 0; c < RTGC_CAUSE_COUNT; c++) {
        rtgc_hist_init(&cw[c]);
        rtgc_hist_init(&cwall[c]);
    }
    uint64_t first = steady_first_record, stalls = 0, stall_ns = 0;
    rtgc_pause_record rec_;
    while (rtgc_pause_records(heap, first, &rec_, 1, &first)) {
        if (rec_.stall) {
            stalls++;
            stall_ns += rec_.wall_ns;
        }
        if (!rec_.stall) {
            rtgc_hist_record(&all_wall, rec_.wall_ns);
            rtgc_hist_record(&all_work, rec_.work_ns);
            rtgc_hist_record(&cw[rec_.cause], rec_.work_ns);
            rtgc_hist_record(&cwall[rec_.cause], rec_.wall_ns);
        }
    }
    printf("%" PRIu64 " cycles, %.1f M allocations (%.0f MB/s), live %.0f MiB, peak heap %.0f MiB of %.0f MiB\n",
           st.cycles, allocs_total / 1e6, allocs_total * sizeof(rec) / (wall / 1e9) / 1e6, st.live_bytes / 1048576.0,
           st.heap_peak / 1048576.0, st.heap_limit / 1048576.0);
    printf("pauses (all causes):\n");
    line("wall", &all_wall);
    line("work", &all_work);
    printf("collector work per pause, by cause:\n");
    for (int c = 0; c < RTGC_CAUSE_COUNT; c++)
        if (cw[c].count)
            line(rtgc_cause_name(c), &cw[c]);
    printf("wall time per pause, by cause:\n");
    for (int c = 0; c < RTGC_CAUSE_COUNT; c++)
        if (cwall[c].count)
            line(rtgc_cause_name(c), &cwall[c]);
    printf("stalls %" PRIu64 " (%.1f ms)   collector thread CPU %.1f%% of the run (build included)\n", stalls,
           stall_ns / 1e6, 100.0 * st.collector_cpu_ns / (rtgc_now_ns() - steady_start_ns + 1));
    uint64_t from = steady_start_ns, to = UINT64_MAX;
    printf("MMU by work  1 ms %.3f  10 ms %.3f  100 ms %.3f\n", rtgc_mmu_range(heap, 0, 1000000, 1, from, to),
           rtgc_mmu_range(heap, 0, 10000000, 1, from, to), rtgc_mmu_range(heap, 0, 100000000, 1, from, to));
    printf("MMU by wall  1 ms %.3f  10 ms %.3f  100 ms %.3f\n", rtgc_mmu_range(heap, 0, 1000000, 0, from, to),
           rtgc_mmu_range(heap, 0, 10000000, 0, from, to), rtgc_mmu_range(heap, 0, 100000000, 0, from, to));
    rtgc_heap_destroy(heap);
    return 0;
}

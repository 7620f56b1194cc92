/* gc/tests/test_stats.c - the log-linear histogram, pause records, the event
 * stream and the counters, as a stop-the-world heap produces them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

/* ---- histogram ---- */

/* The header's geometry: RTGC_HIST_BUCKETS buckets up to 2^RTGC_HIST_MAX_BITS
 * leave 2^(RTGC_HIST_SUB_BITS-1) linear sub-buckets per power of two, so a
 * bucket is at most 1/32 of its values wide; the upper bound the percentile
 * reports is at most that far above the true value. */
static uint64_t hist_slack(uint64_t v) {
    return v / (1u << (RTGC_HIST_SUB_BITS - 1)) + 1;
}

static rtgc_hist *new_hist(void) {
    rtgc_hist *h = malloc(sizeof *h);
    memset(h, 0x5a, sizeof *h); /* init must not rely on a zeroed struct */
    rtgc_hist_init(h);
    return h;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The true p-th percentile of sorted values: the smallest value with at
 * least p% of the values at or below it. */
static uint64_t true_percentile(const uint64_t *sorted, size_t n, double p) {
    size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

static void check_percentile(const rtgc_hist *h, const uint64_t *sorted, size_t n, double p,
                             double max_rel) {
    uint64_t truth = true_percentile(sorted, n, p);
    uint64_t got = rtgc_hist_percentile(h, p);
    uint64_t limit = max_rel > 0 ? truth + (uint64_t)((double)truth * max_rel) + 1
                                 : truth + hist_slack(truth);
    if (got < truth || got > limit)
        print_message("p%g: got %llu, true %llu, limit %llu\n", p, (unsigned long long)got,
                      (unsigned long long)truth, (unsigned long long)limit);
    assert_true(got >= truth);
    assert_true(got <= limit);
}

static void test_hist_empty_and_single(void **state) {
    rtgc_hist *h = new_hist();
    assert_int_equal(h->count, 0);
    assert_int_equal(h->total, 0);
    assert_int_equal(rtgc_hist_percentile(h, 50), 0);
    assert_int_equal(rtgc_hist_percentile(h, 99.9), 0);
    assert_int_equal(rtgc_hist_count_above(h, 0), 0);

    rtgc_hist_record(h, 1000);
    assert_int_equal(h->count, 1);
    assert_int_equal(h->total, 1000);
    assert_int_equal(h->min, 1000);
    assert_int_equal(h->max, 1000);
    for (double p = 12.5; p <= 100; p += 12.5) {
        uint64_t v = rtgc_hist_percentile(h, p);
        assert_true(v >= 1000);
        assert_true(v <= 1000 + hist_slack(1000));
    }
    /* small values are exact: buckets are 1 wide below 2^RTGC_HIST_SUB_BITS */
    rtgc_hist_init(h);
    rtgc_hist_record(h, 5);
    assert_int_equal(rtgc_hist_percentile(h, 50), 5);
    rtgc_hist_record(h, 0);
    assert_int_equal(h->min, 0);
    assert_int_equal(h->max, 5);
    assert_int_equal(rtgc_hist_percentile(h, 50), 0);
    assert_int_equal(rtgc_hist_percentile(h, 100), 5);
    free(h);
}

static void test_hist_uniform(void **state) {
    enum { N = 100000 };
    rtgc_hist *h = new_hist();
    uint64_t *v = malloc(N * sizeof *v);
    uint64_t total = 0;
    for (size_t i = 0; i < N; i++) {
        v[i] = i + 1;
        total += v[i];
    }
    /* record in a scrambled order */
    for (size_t i = 0; i < N; i++)
        rtgc_hist_record(h, v[(i * 7919) % N]);
    assert_int_equal(h->count, N);
    assert_int_equal(h->total, total);
    assert_int_equal(h->min, 1);
    assert_int_equal(h->max, N);

    /* the percentiles a report uses: never below, at most 2% above */
    check_percentile(h, v, N, 50, 0.02);
    check_percentile(h, v, N, 90, 0.02);
    check_percentile(h, v, N, 99, 0.02);
    check_percentile(h, v, N, 99.9, 0.02);
    check_percentile(h, v, N, 99.99, 0.02);
    check_percentile(h, v, N, 100, 0.02);
    /* any percentile: within the bucket geometry */
    for (double p = 0.5; p < 100; p += 0.5)
        check_percentile(h, v, N, p, 0);

    /* count_above: the values above 50000's bucket */
    uint64_t above = rtgc_hist_count_above(h, 50000);
    assert_true(above <= N - 50000);
    assert_true(above >= N - 50000 - hist_slack(50000));
    assert_int_equal(rtgc_hist_count_above(h, 0), N);
    assert_int_equal(rtgc_hist_count_above(h, N), 0);
    assert_int_equal(rtgc_hist_count_above(h, (uint64_t)N * 10), 0);
    free(v);
    free(h);
}

static void test_hist_random(void **state) {
    enum { N = 20000 };
    uint64_t seed = test_seed("test_hist_random");
    rtgc_hist *h = new_hist();
    uint64_t *v = malloc(N * sizeof *v);
    uint64_t total = 0, mn = UINT64_MAX, mx = 0;
    for (size_t i = 0; i < N; i++) {
        /* log-uniform over 1 ns .. 2^40 ns */
        unsigned bits = (unsigned)(test_rand(&seed) % 40) + 1;
        uint64_t x = (test_rand(&seed) >> (64 - bits)) | 1u;
        v[i] = x;
        total += x;
        mn = x < mn ? x : mn;
        mx = x > mx ? x : mx;
        rtgc_hist_record(h, x);
    }
    qsort(v, N, sizeof *v, cmp_u64);
    assert_int_equal(h->count, N);
    assert_int_equal(h->total, total);
    assert_int_equal(h->min, mn);
    assert_int_equal(h->max, mx);
    const double ps[] = {1, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        check_percentile(h, v, N, ps[i], 0);
    /* count_above against the truth, within one bucket */
    for (size_t i = 0; i < 20; i++) {
        uint64_t probe = v[test_rand(&seed) % N];
        size_t strictly_above = 0, above_slack = 0;
        for (size_t k = 0; k < N; k++) {
            strictly_above += v[k] > probe;
            above_slack += v[k] > probe + hist_slack(probe);
        }
        uint64_t got = rtgc_hist_count_above(h, probe);
        assert_true(got <= strictly_above);
        assert_true(got >= above_slack);
    }
    free(v);
    free(h);
}

/* The precision a report relies on: any recorded value's percentile is at
 * most 2% above it (the header promises <= 1.6%), also for values just above
 * a power of two, where a log-linear bucket is widest relative to its values. */
static void test_hist_precision_2pct(void **state) {
    rtgc_hist *h = new_hist();
    int bad = 0;
    for (unsigned k = 7; k <= 40; k++) {
        const uint64_t vs[] = {(1ull << k), (1ull << k) + 1, (1ull << k) + (1ull << k) / 3};
        for (size_t i = 0; i < 3; i++) {
            rtgc_hist_init(h);
            rtgc_hist_record(h, vs[i]);
            rtgc_hist_record(h, 1ull << 42); /* so the max does not clamp p50 */
            uint64_t got = rtgc_hist_percentile(h, 50);
            assert_true(got >= vs[i]);
            if ((double)(got - vs[i]) > 0.02 * (double)vs[i]) {
                if (bad++ < 5)
                    print_message("value %llu: p50 reported as %llu (+%.2f%%)\n",
                                  (unsigned long long)vs[i], (unsigned long long)got,
                                  100.0 * (double)(got - vs[i]) / (double)vs[i]);
            }
        }
    }
    free(h);
    if (bad)
        fail_msg("%d values reported more than 2%% above their true value", bad);
}

static void test_hist_merge(void **state) {
    rtgc_hist *a = new_hist(), *b = new_hist(), *all = new_hist(), *empty = new_hist();
    for (uint64_t x = 1; x <= 1000; x++) {
        rtgc_hist_record(a, x * 1000);
        rtgc_hist_record(all, x * 1000);
    }
    for (uint64_t x = 1001; x <= 3000; x++) {
        rtgc_hist_record(b, x * 1000 + 3);
        rtgc_hist_record(all, x * 1000 + 3);
    }
    rtgc_hist_merge(a, b);
    assert_int_equal(a->count, 3000);
    assert_int_equal(a->count, all->count);
    assert_int_equal(a->total, all->total);
    assert_int_equal(a->min, 1000);
    assert_int_equal(a->max, 3000003);
    for (double p = 1; p <= 100; p += 1)
        assert_int_equal(rtgc_hist_percentile(a, p), rtgc_hist_percentile(all, p));
    assert_int_equal(rtgc_hist_count_above(a, 1500000), rtgc_hist_count_above(all, 1500000));
    /* merging an empty histogram changes nothing (min stays) */
    rtgc_hist_merge(a, empty);
    assert_int_equal(a->count, 3000);
    assert_int_equal(a->min, 1000);
    assert_int_equal(a->max, 3000003);
    /* merging into an empty one copies */
    rtgc_hist_merge(empty, b);
    assert_int_equal(empty->count, 2000);
    assert_int_equal(empty->min, 1001003);
    assert_int_equal(empty->max, 3000003);
    assert_int_equal(rtgc_hist_percentile(empty, 50), rtgc_hist_percentile(b, 50));
    free(a);
    free(b);
    free(all);
    free(empty);
}

/* ---- a heap: pause records, events, counters ---- */

static const uint32_t node_offs[] = {8};

typedef struct ev_log {
    size_t n;
    rtgc_event_kind kind[4096];
    uint64_t time[4096];
    uint64_t cycle[4096];
    size_t bytes[4096];
    rtgc_pause_record pause[4096]; /* copy for PAUSE events */
    int null_pause;
} ev_log;

static void on_event(rtgc_heap *heap, const rtgc_event *ev, void *data) {
    ev_log *l = data;
    if (l->n >= 4096)
        return;
    l->kind[l->n] = ev->kind;
    l->time[l->n] = ev->time_ns;
    l->cycle[l->n] = ev->cycle;
    l->bytes[l->n] = ev->bytes;
    if (ev->kind == RTGC_EV_PAUSE) {
        if (ev->pause)
            l->pause[l->n] = *ev->pause;
        else
            l->null_pause = 1;
    }
    l->n++;
}

typedef struct fixture {
    rtgc_heap *h;
    rtgc_thread *t;
    rtgc_layout_id node;
    ev_log *ev;
} fixture;

static int setup_opts(void **state, const char *opts) {
    fixture *f = calloc(1, sizeof *f);
    f->h = test_heap(opts);
    rtgc_layout l = {.name = "node", .kind = RTGC_LAYOUT_RECORD, .size = 32,
                     .ref_offsets = node_offs, .ref_count = 1};
    rtgc_error err;
    if (rtgc_layout_register(f->h, &l, &f->node, &err) != RTGC_OK)
        return -1;
    f->ev = calloc(1, sizeof *f->ev);
    f->t = rtgc_thread_attach(f->h, &err);
    if (!f->t)
        return -1;
    *state = f;
    return 0;
}
static int setup(void **state) {
    return setup_opts(state, "mode=stw");
}
static int setup_small_ring(void **state) {
    return setup_opts(state, "mode=stw,pause_log=16");
}
static int teardown(void **state) {
    fixture *f = *state;
    rtgc_thread_detach(f->t);
    rtgc_heap_destroy(f->h);
    free(f->ev);
    free(f);
    return 0;
}

/* Keep `n` nodes alive in *root so collections have work to record. */
static void keep_nodes(fixture *f, void **root, size_t n) {
    for (size_t i = 0; i < n; i++) {
        void *x = rtgc_alloc(f->t, f->node);
        assert_non_null(x);
        ((void **)x)[1] = *root;
        ((uint64_t *)x)[2] = i;
        *root = x;
    }
}

#define NCOLLECT 5

static void test_pause_records(void **state) {
    fixture *f = *state;
    uint32_t tid = rtgc_thread_id(f->t);
    RTGC_FRAME(f->t, r, 1);
    keep_nodes(f, &r[0], 1000);

    rtgc_stats s0;
    rtgc_get_stats(f->h, &s0);
    assert_int_equal(s0.cycles, 0);
    assert_true(s0.allocated_bytes >= 1000 * 32);

    uint64_t t0 = rtgc_now_ns();
    for (int i = 0; i < NCOLLECT; i++) {
        rtgc_collect(f->t);
        keep_nodes(f, &r[0], 10);
    }
    uint64_t t1 = rtgc_now_ns();

    rtgc_stats s;
    rtgc_get_stats(f->h, &s);
    assert_int_equal(s.cycles, NCOLLECT);
    assert_int_equal(s.live_objects, 1000 + 10 * (NCOLLECT - 1));
    assert_true(s.by_cause[RTGC_CAUSE_COLLECT] >= NCOLLECT);
    assert_int_equal(s.stalls, 0);

    static rtgc_pause_record rec[256];
    uint64_t next = 0;
    size_t n = rtgc_pause_records(f->h, 0, rec, 256, &next);
    assert_true(n >= NCOLLECT);
    assert_int_equal(next, n);
    assert_int_equal(n, s.pauses + s.stalls);

    size_t collects = 0;
    uint64_t sum = 0, mx = 0, last_start = 0, last_cycle = 0;
    for (size_t i = 0; i < n; i++) {
        const rtgc_pause_record *p = &rec[i];
        assert_true(p->cause < RTGC_CAUSE_COUNT);
        assert_int_equal(p->thread, tid);
        assert_int_equal(p->stall, 0);
        assert_true(p->wall_ns > 0);
        assert_true(p->start_ns >= t0 || p->cause != RTGC_CAUSE_COLLECT);
        assert_true(p->start_ns + p->wall_ns <= t1);
        assert_true(p->start_ns >= last_start);
        last_start = p->start_ns;
        sum += p->wall_ns;
        mx = p->wall_ns > mx ? p->wall_ns : mx;
        if (p->cause == RTGC_CAUSE_COLLECT) {
            if (collects > 0)
                assert_true(p->cycle > last_cycle);
            last_cycle = p->cycle;
            assert_true(p->work > 0); /* it marked the 1000 nodes */
            collects++;
        }
    }
    assert_int_equal(collects, NCOLLECT);
    assert_int_equal(s.by_cause[RTGC_CAUSE_COLLECT], NCOLLECT);
    assert_int_equal(s.pause_total_ns, sum);
    assert_int_equal(s.pause_max_ns, mx);
    assert_true(s.pause_work_max_ns > 0);

    /* A second read from `next` finds nothing new; a partial read matches. */
    uint64_t next2 = 0;
    assert_int_equal(rtgc_pause_records(f->h, next, rec + 100, 10, &next2), 0);
    assert_int_equal(next2, next);
    rtgc_pause_record two[2];
    assert_int_equal(rtgc_pause_records(f->h, 1, two, 2, &next2), 2);
    assert_int_equal(next2, 3);
    assert_memory_equal(&two[0], &rec[1], sizeof two[0]);
    assert_memory_equal(&two[1], &rec[2], sizeof two[1]);

    /* The histograms hold the same pauses. */
    rtgc_hist *wall = new_hist(), *work = new_hist();
    rtgc_pause_histogram(f->h, wall, work);
    assert_int_equal(wall->count, s.pauses);
    assert_int_equal(wall->total, s.pause_total_ns);
    assert_int_equal(wall->max, s.pause_max_ns);
    assert_int_equal(work->count, s.pauses);
    assert_int_equal(work->max, s.pause_work_max_ns);
    assert_true(rtgc_hist_percentile(wall, 100) >= s.pause_max_ns);
    free(wall);
    free(work);

    /* The cause has a name. */
    for (int c = 0; c < RTGC_CAUSE_COUNT; c++) {
        const char *name = rtgc_cause_name((rtgc_pause_cause)c);
        assert_non_null(name);
        assert_true(strlen(name) > 0);
        for (int d = 0; d < c; d++)
            assert_string_not_equal(name, rtgc_cause_name((rtgc_pause_cause)d));
    }
    RTGC_FRAME_POP(f->t, r);
}

/* The ring keeps the last pause_log (16) records; older ones are skipped. */
static void test_pause_ring(void **state) {
    fixture *f = *state;
    for (int i = 0; i < 40; i++)
        rtgc_collect(f->t);
    rtgc_stats s;
    rtgc_get_stats(f->h, &s);
    assert_int_equal(s.cycles, 40);
    uint64_t total = s.pauses + s.stalls;
    assert_true(total >= 40);

    rtgc_pause_record rec[64];
    uint64_t next = 0;
    size_t n = rtgc_pause_records(f->h, 0, rec, 64, &next);
    assert_int_equal(n, 16);
    assert_int_equal(next, total);
    for (size_t i = 1; i < n; i++)
        assert_true(rec[i].start_ns >= rec[i - 1].start_ns);
    /* the last record is the last collection's */
    assert_int_equal(rec[n - 1].cause, RTGC_CAUSE_COLLECT);

    /* A range that starts among lost records skips them: what comes back is
     * a run of kept records from the oldest one on, never a lost or
     * invented one, and *next follows it.  (The header allows two readings:
     * only the kept part of [first, first+max), or max records from the
     * oldest kept one; both are accepted.) */
    uint64_t oldest = total - 16;
    uint64_t next2 = 0;
    rtgc_pause_record two[4];
    size_t k = rtgc_pause_records(f->h, total - 18, two, 4, &next2);
    assert_true(k == 2 || k == 4);
    for (size_t i = 0; i < k; i++)
        assert_memory_equal(&two[i], &rec[i], sizeof two[i]);
    assert_int_equal(next2, oldest + k);
    /* a range entirely lost */
    k = rtgc_pause_records(f->h, 1, two, 1, &next2);
    assert_true(k <= 1);
    if (k)
        assert_memory_equal(&two[0], &rec[0], sizeof two[0]);
    assert_int_equal(next2, oldest + k);
    /* reading on from next2 gives the rest, in order */
    k = rtgc_pause_records(f->h, next2, two, 4, &next2);
    assert_true(k >= 1);
    assert_memory_equal(&two[0], &rec[next2 - k - oldest], sizeof two[0]);

    /* the counters and the histogram still count every pause */
    rtgc_hist *wall = new_hist(), *work = new_hist();
    rtgc_pause_histogram(f->h, wall, work);
    assert_int_equal(wall->count, s.pauses);
    free(wall);
    free(work);
}

static size_t find_kind(const ev_log *l, size_t from, size_t to, rtgc_event_kind k) {
    for (size_t i = from; i < to; i++)
        if (l->kind[i] == k)
            return i;
    return (size_t)-1;
}
static size_t count_kind(const ev_log *l, size_t from, size_t to, rtgc_event_kind k) {
    size_t c = 0;
    for (size_t i = from; i < to; i++)
        c += l->kind[i] == k;
    return c;
}

static void test_events(void **state) {
    fixture *f = *state;
    ev_log *l = f->ev;
    uint32_t tid = rtgc_thread_id(f->t);
    RTGC_FRAME(f->t, r, 1);
    keep_nodes(f, &r[0], 100);
    rtgc_set_event_handler(f->h, on_event, l);

    size_t idx[3][4];
    for (int c = 0; c < 3; c++) {
        size_t from = l->n;
        uint64_t t0 = rtgc_now_ns();
        rtgc_collect(f->t);
        uint64_t t1 = rtgc_now_ns();
        size_t to = l->n;
        assert_true(to > from);

        assert_int_equal(count_kind(l, from, to, RTGC_EV_CYCLE_START), 1);
        assert_int_equal(count_kind(l, from, to, RTGC_EV_MARK_START), 1);
        assert_int_equal(count_kind(l, from, to, RTGC_EV_MARK_END), 1);
        assert_int_equal(count_kind(l, from, to, RTGC_EV_CYCLE_END), 1);
        assert_true(count_kind(l, from, to, RTGC_EV_SWEEP_START) <= 1);
        size_t cs = find_kind(l, from, to, RTGC_EV_CYCLE_START);
        size_t ms = find_kind(l, from, to, RTGC_EV_MARK_START);
        size_t me = find_kind(l, from, to, RTGC_EV_MARK_END);
        size_t ce = find_kind(l, from, to, RTGC_EV_CYCLE_END);
        size_t ss = find_kind(l, from, to, RTGC_EV_SWEEP_START);
        assert_true(cs < ms);
        assert_true(ms < me);
        assert_true(me < ce);
        if (ss != (size_t)-1)
            assert_true(ss > me);

        /* one COLLECT pause for this thread, ending after marking */
        size_t pauses = 0;
        for (size_t i = from; i < to; i++) {
            if (l->kind[i] != RTGC_EV_PAUSE)
                continue;
            assert_false(l->null_pause);
            const rtgc_pause_record *p = &l->pause[i];
            if (p->cause == RTGC_CAUSE_COLLECT) {
                pauses++;
                assert_true(i > me);
                assert_int_equal(p->thread, tid);
                assert_true(p->wall_ns > 0);
                assert_true(p->start_ns >= t0);
                assert_true(p->start_ns + p->wall_ns <= t1);
                assert_true(p->start_ns + p->wall_ns >= l->time[me]);
            }
        }
        assert_int_equal(pauses, 1);

        /* time runs forward; the four cycle events share one cycle number,
         * and it grows from collection to collection */
        for (size_t i = from; i < to; i++) {
            assert_true(l->time[i] >= t0 && l->time[i] <= t1);
            if (i > from)
                assert_true(l->time[i] >= l->time[i - 1]);
        }
        idx[c][0] = cs;
        idx[c][1] = ms;
        idx[c][2] = me;
        idx[c][3] = ce;
    }

    /* growth events carry a size */
    for (size_t i = 0; i < l->n; i++)
        if (l->kind[i] == RTGC_EV_HEAP_GROW || l->kind[i] == RTGC_EV_HEAP_SHRINK)
            assert_true(l->bytes[i] > 0);

    /* Removing the handler stops the events. */
    rtgc_set_event_handler(f->h, NULL, NULL);
    size_t n = l->n;
    rtgc_collect(f->t);
    assert_int_equal(l->n, n);

    rtgc_stats s;
    rtgc_get_stats(f->h, &s);
    assert_int_equal(s.cycles, 4);
    RTGC_FRAME_POP(f->t, r);

    /* The events of one cycle carry one cycle number, the same as its
     * COLLECT pause record's, and it grows from cycle to cycle. */
    for (int c = 0; c < 3; c++) {
        uint64_t cyc = l->cycle[idx[c][0]];
        for (int k = 1; k < 4; k++)
            if (l->cycle[idx[c][k]] != cyc)
                fail_msg("collect %d: event %d has cycle %llu, CYCLE_START had %llu", c,
                         (int)l->kind[idx[c][k]], (unsigned long long)l->cycle[idx[c][k]],
                         (unsigned long long)cyc);
        for (size_t i = idx[c][0]; i < l->n && (c == 2 || i < idx[c + 1][0]); i++)
            if (l->kind[i] == RTGC_EV_PAUSE && l->pause[i].cause == RTGC_CAUSE_COLLECT &&
                l->pause[i].cycle != cyc)
                fail_msg("collect %d: its pause record says cycle %llu, its events %llu", c,
                         (unsigned long long)l->pause[i].cycle, (unsigned long long)cyc);
        if (c > 0)
            assert_true(cyc > l->cycle[idx[c - 1][0]]);
    }
}

/* [alloc.handed] Threads that attach, allocate one object and detach take
 * the same span again and again, each time with most of its cells unused:
 * with no sweep between, its free cells are counted as handed out once,
 * so the count stays within the heap's spans (it grew by a span's free
 * bytes at every detach when every owning counted them). */
static void test_handed_once_per_sweep(void **state) {
    (void)state;
    rtgc_heap *h = test_heap("mode=step,heap=64M");
    rtgc_layout l = {.name = "cell", .kind = RTGC_LAYOUT_RECORD, .size = 32};
    rtgc_layout_id id;
    rtgc_error err;
    assert_int_equal(rtgc_layout_register(h, &l, &id, &err), RTGC_OK);
    void *keep[200] = {0};
    assert_int_equal(rtgc_root_range_add(h, keep, 200), RTGC_OK);
    for (int i = 0; i < 200; i++) {
        rtgc_thread *t = rtgc_thread_attach(h, NULL);
        assert_non_null(t);
        void *o = rtgc_alloc(t, id);
        assert_non_null(o);
        rtgc_store(t, NULL, &keep[i], o);
        rtgc_thread_detach(t);
    }
    rtgc_stats s;
    rtgc_get_stats(h, &s);
    assert_int_equal(s.cycles, 0);
    assert_true(s.handed_bytes >= 200 * 32);
    if (s.handed_bytes > s.heap_size)
        fail_msg("handed_bytes %llu > heap_size %zu: free cells counted more than once per sweep",
                 (unsigned long long)s.handed_bytes, s.heap_size);
    rtgc_heap_destroy(h);
}

/* Counters that follow from what the test did. */
static void test_counters(void **state) {
    fixture *f = *state;
    rtgc_stats s0, s1, s2;
    rtgc_get_stats(f->h, &s0);
    assert_int_equal(s0.heap_limit, rtgc_heap_config(f->h)->heap_limit);
    assert_int_equal(s0.cycles, 0);
    assert_int_equal(s0.oom_count, 0);

    RTGC_FRAME(f->t, r, 1);
    keep_nodes(f, &r[0], 5000);
    for (int i = 0; i < 5000; i++)
        (void)rtgc_alloc(f->t, f->node); /* garbage */
    rtgc_get_stats(f->h, &s1);
    assert_true(s1.allocated_bytes >= s0.allocated_bytes + 10000 * 32);
    assert_true(s1.heap_size >= 5000 * 32);
    assert_true(s1.heap_peak >= s1.heap_size);
    assert_true(s1.committed >= s1.heap_size);

    rtgc_collect(f->t);
    rtgc_get_stats(f->h, &s2);
    assert_int_equal(s2.cycles, 1);
    assert_int_equal(s2.live_objects, 5000);
    assert_true(s2.live_bytes >= 5000 * 32);
    assert_true(s2.live_bytes <= 5000 * 48);
    assert_true(s2.heap_peak >= s1.heap_peak);
    assert_true(s2.pauses >= 1);

    r[0] = NULL;
    rtgc_collect(f->t);
    rtgc_get_stats(f->h, &s2);
    assert_int_equal(s2.cycles, 2);
    assert_int_equal(s2.live_objects, 0);
    assert_int_equal(s2.live_bytes, 0);
    RTGC_FRAME_POP(f->t, r);
}

static void test_now_ns(void **state) {
    struct timespec ts;
    uint64_t a = rtgc_now_ns();
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t mono = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    uint64_t b = rtgc_now_ns();
    assert_true(a <= mono);
    assert_true(mono <= b);
    assert_true(b >= a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_empty_and_single),
        cmocka_unit_test(test_hist_uniform),
        cmocka_unit_test(test_hist_random),
        cmocka_unit_test(test_hist_precision_2pct),
        cmocka_unit_test(test_hist_merge),
        cmocka_unit_test_setup_teardown(test_pause_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_ring, setup_small_ring, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
        cmocka_unit_test(test_handed_once_per_sweep),
        cmocka_unit_test(test_now_ns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

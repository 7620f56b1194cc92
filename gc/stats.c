/* gc/stats.c - records: the pause ring, log-linear histograms, counters
 * and events.  gclat, the latency tests and the unit tests all read these
 * same records (STYLE item 13).
 *
 * [stats.hist] Log-linear buckets in the manner of HdrHistogram: values
 * below 2^SUB are exact; above, each power of two is split into 2^(SUB-1)
 * buckets, so a bucket is at most 1/64 of its value wide (1.6%; the
 * percentile query returns the bucket's upper bound, never less than the
 * true value).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define HALF (1u << (RTGC_HIST_SUB_BITS - 1))

static size_t bucket_of(uint64_t v) {
    if (v < (1u << RTGC_HIST_SUB_BITS))
        return (size_t)v;
    unsigned m = 63u - (unsigned)__builtin_clzll(v);
    if (m >= RTGC_HIST_MAX_BITS)
        return RTGC_HIST_BUCKETS - 1;
    unsigned shift = m - (RTGC_HIST_SUB_BITS - 1);
    return (size_t)shift * HALF + (size_t)(v >> shift);
}

/* Largest value that falls in bucket b. */
static uint64_t bucket_high(size_t b) {
    if (b < (1u << RTGC_HIST_SUB_BITS))
        return b;
    size_t shift = b / HALF - 1;
    uint64_t sub = b % HALF + HALF;
    return ((sub + 1) << shift) - 1;
}

void rtgc_hist_init(rtgc_hist *h) {
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

void rtgc_hist_record(rtgc_hist *h, uint64_t v) {
    h->buckets[bucket_of(v)]++;
    h->count++;
    h->total += v;
    if (v < h->min) h->min = v;
    if (v > h->max) h->max = v;
}

void rtgc_hist_merge(rtgc_hist *into, const rtgc_hist *from) {
    for (size_t i = 0; i < RTGC_HIST_BUCKETS; i++)
        into->buckets[i] += from->buckets[i];
    into->count += from->count;
    into->total += from->total;
    if (from->min < into->min) into->min = from->min;
    if (from->max > into->max) into->max = from->max;
}

uint64_t rtgc_hist_percentile(const rtgc_hist *h, double p) {
    if (!h->count)
        return 0;
    if (p >= 100.0)
        return h->max;
    if (p < 0)
        p = 0;
    uint64_t rank = (uint64_t)((p / 100.0) * (double)h->count + 0.999999);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < RTGC_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t hi = bucket_high(i);
            return hi < h->max ? hi : h->max;
        }
    }
    return h->max;
}

uint64_t rtgc_hist_count_above(const rtgc_hist *h, uint64_t v) {
    uint64_t n = 0;
    for (size_t i = bucket_of(v) + 1; i < RTGC_HIST_BUCKETS; i++)
        n += h->buckets[i];
    return n;
}

/* ---- the heap's records ---- */

void stats_init(rtgc_heap *h) {
    h->ring = calloc(h->cfg.pause_log, sizeof *h->ring);
    h->hist_wall = malloc(sizeof *h->hist_wall);
    h->hist_work = malloc(sizeof *h->hist_work);
    if (h->hist_wall) rtgc_hist_init(h->hist_wall);
    if (h->hist_work) rtgc_hist_init(h->hist_work);
}

void stats_fini(rtgc_heap *h) {
    free(h->ring);
    free(h->hist_wall);
    free(h->hist_work);
}

void emit_event(rtgc_heap *h, rtgc_event_kind kind, size_t bytes) {
    /* Every event of a cycle carries that cycle's number: completed
     * cycles + 1 while it runs, the same number at its end. */
    if (kind == RTGC_EV_CYCLE_START)
        h->event_cycle = h->cycle + 1;
    rtgc_event_fn fn = h->event_fn;
    if (!fn)
        return;
    uint64_t cyc = kind == RTGC_EV_OOM || kind == RTGC_EV_HEAP_GROW ? h->cycle : h->event_cycle;
    rtgc_event ev = {.kind = kind, .time_ns = os_now_ns(), .cycle = cyc, .bytes = bytes, .pause = NULL};
    fn(h, &ev, h->event_data);
}

static void record_pause_sw(rtgc_heap *h, rtgc_thread *t, rtgc_pause_cause cause, uint64_t start_ns,
                           uint64_t end_ns, uint64_t work_ns, uint64_t work, uint32_t involuntary,
                           uint32_t voluntary, uint64_t wait_ns);

void record_pause(rtgc_heap *h, rtgc_thread *t, rtgc_pause_cause cause, uint64_t start_ns, uint64_t end_ns,
                  uint64_t work_ns, uint64_t work) {
    record_pause_sw(h, t, cause, start_ns, end_ns, work_ns, work, RTGC_SWITCHES_UNKNOWN, RTGC_SWITCHES_UNKNOWN, 0);
}

void pause_start_wall(pause_clock *c) {
    c->wall = os_now_ns();
    c->wait = tl_lock_wait_ns;
    c->counting = false;
}

void pause_work_begins(pause_clock *c) {
    if (c->counting)
        return;
    c->cpu = os_thread_cpu_ns();
    os_thread_switches(&c->involuntary, &c->voluntary);
    c->counting = true;
}

void pause_start(pause_clock *c) {
    pause_start_wall(c);
    pause_work_begins(c);
}

void pause_record(rtgc_heap *h, rtgc_thread *t, rtgc_pause_cause cause, const pause_clock *c, uint64_t work) {
    ASSERT(c->counting);
    uint32_t inv, vol;
    uint64_t cpu = os_thread_cpu_ns();
    os_thread_switches(&inv, &vol);
    record_pause_sw(h, t, cause, c->wall, os_now_ns(), cpu - c->cpu, work, inv - c->involuntary,
                    vol - c->voluntary, tl_lock_wait_ns - c->wait);
}

static void record_pause_sw(rtgc_heap *h, rtgc_thread *t, rtgc_pause_cause cause, uint64_t start_ns,
                           uint64_t end_ns, uint64_t work_ns, uint64_t work, uint32_t involuntary,
                           uint32_t voluntary, uint64_t wait_ns) {
    rtgc_pause_record r = {
        .wait_ns = wait_ns,
        .involuntary = involuntary,
        .voluntary = voluntary,
        .start_ns = start_ns,
        .wall_ns = end_ns > start_ns ? end_ns - start_ns : 0,
        .work_ns = work_ns,
        .work = work,
        .cycle = rtgc_atomic_load(&h->cycle),
        .thread = t ? t->id : 0,
        .cause = (uint16_t)cause,
        .stall = cause == RTGC_CAUSE_HEAP_LIMIT,
    };
    pthread_mutex_lock(&h->stats_lock);
    if (h->cfg.mode == RTGC_MODE_INCREMENTAL) {
        uint32_t k = h->recent_next++ % RECENT_PAUSES;
        h->recent_start[k] = start_ns;
        h->recent_end[k] = end_ns;
    }
    h->ring[h->ring_next & (h->cfg.pause_log - 1)] = r;
    h->ring_next++;
    rtgc_stats *s = &h->stats;
    s->by_cause[cause]++;
    if (r.stall) {
        s->stalls++;
        s->stall_total_ns += r.wall_ns;
    } else {
        s->pauses++;
        s->pause_total_ns += r.wall_ns;
        if (r.wall_ns > s->pause_max_ns) s->pause_max_ns = r.wall_ns;
        if (r.work_ns > s->pause_work_max_ns) s->pause_work_max_ns = r.work_ns;
        rtgc_hist_record(h->hist_wall, r.wall_ns);
        rtgc_hist_record(h->hist_work, r.work_ns);
    }
    pthread_mutex_unlock(&h->stats_lock);
    if (h->event_fn) {
        rtgc_event ev = {.kind = RTGC_EV_PAUSE, .time_ns = end_ns, .cycle = r.cycle, .bytes = 0, .pause = &r};
        h->event_fn(h, &ev, h->event_data);
    }
}

uint64_t recent_paused(rtgc_heap *h, uint64_t now, uint64_t window) {
    uint64_t from = now > window ? now - window : 0, total = 0;
    pthread_mutex_lock(&h->stats_lock);
    uint32_t n = h->recent_next < RECENT_PAUSES ? h->recent_next : RECENT_PAUSES;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = (h->recent_next - 1 - i) % RECENT_PAUSES;
        uint64_t s = h->recent_start[k], e = h->recent_end[k];
        if (e <= from)
            continue;
        total += e - (s > from ? s : from);
    }
    pthread_mutex_unlock(&h->stats_lock);
    return total;
}

void rtgc_get_stats(rtgc_heap *h, rtgc_stats *out) {
    /* Sweeping counters change under heap->lock, records under stats_lock. */
    pthread_mutex_lock(&h->lock);
    pthread_mutex_lock(&h->stats_lock);
    *out = h->stats;
    out->heap_limit = h->cfg.heap_limit;
    out->heap_size = h->heap_size;
    out->heap_peak = h->heap_peak;
    out->committed = h->committed;
    out->handed_bytes = h->handed_out;
    out->heap_goal = h->heap_goal;
    pthread_mutex_unlock(&h->stats_lock);
    pthread_mutex_unlock(&h->lock);
    pthread_mutex_lock(&h->weak_lock);
    out->weak_cleared = h->weak_cleared;
    out->finalizers_queued = h->finalizers_queued;
    pthread_mutex_unlock(&h->weak_lock);
}

void rtgc_pause_histogram(rtgc_heap *h, rtgc_hist *wall, rtgc_hist *work) {
    pthread_mutex_lock(&h->stats_lock);
    if (wall) *wall = *h->hist_wall;
    if (work) *work = *h->hist_work;
    pthread_mutex_unlock(&h->stats_lock);
}

size_t rtgc_pause_records(rtgc_heap *h, uint64_t first, rtgc_pause_record *out, size_t max, uint64_t *next) {
    pthread_mutex_lock(&h->stats_lock);
    uint64_t end = h->ring_next;
    uint64_t oldest = end > h->cfg.pause_log ? end - h->cfg.pause_log : 0;
    if (first < oldest)
        first = oldest;
    size_t n = 0;
    while (first + n < end && n < max) {
        out[n] = h->ring[(first + n) & (h->cfg.pause_log - 1)];
        n++;
    }
    if (next)
        *next = first + n;
    pthread_mutex_unlock(&h->stats_lock);
    return n;
}

void rtgc_set_event_handler(rtgc_heap *h, rtgc_event_fn fn, void *data) {
    h->event_data = data;
    h->event_fn = fn;
}

const char *rtgc_cause_name(rtgc_pause_cause c) {
    static const char *names[RTGC_CAUSE_COUNT] = {"stw", "collect", "sweep", "handshake", "roots",
                                                  "assist", "step", "blocking", "heap-limit"};
    return (unsigned)c < RTGC_CAUSE_COUNT ? names[c] : "?";
}

uint64_t rtgc_now_ns(void) {
    return os_now_ns();
}

/* ---- minimum mutator utilisation [stats.mmu] ----
 * The worst window either starts where a pause starts or ends where one
 * ends, so those are the only windows tried; a prefix sum of pause lengths
 * and a binary search give each window's pause time.  Overlapping records
 * of one thread (a stall and the assist slices inside it) count once. */
typedef struct ival { uint64_t s, e; } ival;

static int ival_cmp(const void *a, const void *b) {
    const ival *x = a, *y = b;
    return x->s < y->s ? -1 : x->s > y->s;
}

/* Pause time inside [a, b). */
static uint64_t paused_in(const ival *v, const uint64_t *pre, size_t n, uint64_t a, uint64_t b) {
    /* first interval ending after a */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (v[m].e <= a) lo = m + 1; else hi = m;
    }
    uint64_t total = 0;
    size_t i = lo;
    /* whole intervals inside, via prefix sums: find last interval starting before b */
    size_t lo2 = i, hi2 = n;
    while (lo2 < hi2) {
        size_t m = (lo2 + hi2) / 2;
        if (v[m].s < b) lo2 = m + 1; else hi2 = m;
    }
    size_t j = lo2;                      /* intervals [i, j) overlap [a, b) */
    if (j <= i)
        return 0;
    total = pre[j] - pre[i];
    if (v[i].s < a) total -= a - v[i].s;
    if (v[j - 1].e > b) total -= v[j - 1].e - b;
    return total;
}

static double mmu_of(ival *v, size_t n, uint64_t w) {
    if (!n)
        return 1.0;
    qsort(v, n, sizeof *v, ival_cmp);
    /* A stall encloses the assist slices inside it: take the union. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && v[i].s <= v[m - 1].e) {
            if (v[i].e > v[m - 1].e) v[m - 1].e = v[i].e;
        } else {
            v[m++] = v[i];
        }
    }
    n = m;
    uint64_t *pre = malloc((n + 1) * sizeof *pre);
    if (!pre)
        return -1.0;
    pre[0] = 0;
    for (size_t i = 0; i < n; i++)
        pre[i + 1] = pre[i] + (v[i].e - v[i].s);
    uint64_t lo = v[0].s, hi = v[0].e;
    for (size_t i = 0; i < n; i++)
        if (v[i].e > hi) hi = v[i].e;
    uint64_t worst = 0;
    if (hi - lo <= w) {
        worst = pre[n];
        free(pre);
        return 1.0 - (double)(worst > w ? w : worst) / (double)w;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t a = v[i].s + w <= hi ? v[i].s : hi - w;
        uint64_t p = paused_in(v, pre, n, a, a + w);
        if (p > worst) worst = p;
        uint64_t b = v[i].e >= lo + w ? v[i].e : lo + w;
        p = paused_in(v, pre, n, b - w, b);
        if (p > worst) worst = p;
    }
    free(pre);
    return 1.0 - (double)(worst > w ? w : worst) / (double)w;
}

double rtgc_mmu(rtgc_heap *h, uint32_t thread, uint64_t window_ns, int use_work) {
    return rtgc_mmu_range(h, thread, window_ns, use_work, 0, UINT64_MAX);
}

double rtgc_mmu_range(rtgc_heap *h, uint32_t thread, uint64_t window_ns, int use_work, uint64_t from_ns,
                      uint64_t to_ns) {
    if (window_ns == 0)
        return 1.0;
    pthread_mutex_lock(&h->stats_lock);
    uint64_t end = h->ring_next, n = end > h->cfg.pause_log ? h->cfg.pause_log : end;
    rtgc_pause_record *recs = malloc((n ? n : 1) * sizeof *recs);
    if (!recs) {
        pthread_mutex_unlock(&h->stats_lock);
        return -1.0;
    }
    for (uint64_t i = 0; i < n; i++)
        recs[i] = h->ring[(end - n + i) & (h->cfg.pause_log - 1)];
    pthread_mutex_unlock(&h->stats_lock);
    ival *v = malloc((n ? n : 1) * sizeof *v);
    double result = 1.0;
    uint32_t max_id = 0;
    for (uint64_t i = 0; i < n; i++)
        if (recs[i].thread > max_id) max_id = recs[i].thread;
    for (uint32_t id = thread ? thread : 1; v && id <= (thread ? thread : max_id); id++) {
        size_t k = 0;
        for (uint64_t i = 0; i < n; i++) {
            if (recs[i].thread != id || recs[i].start_ns < from_ns || recs[i].start_ns >= to_ns)
                continue;
            uint64_t len = use_work ? (recs[i].work_ns < recs[i].wall_ns ? recs[i].work_ns : recs[i].wall_ns)
                                    : recs[i].wall_ns;
            v[k].s = recs[i].start_ns;
            v[k].e = recs[i].start_ns + len;
            k++;
        }
        double m = mmu_of(v, k, window_ns);
        if (m < result) result = m;
    }
    free(v);
    free(recs);
    return result;
}

/* harness/verdict.c - judging the collector's pauses against the budget,
 * and mutator utilisation from the records.
 *
 * THE RULE.  The platform stalls threads by itself (1 to 66 ms at a time
 * on the shared 2-vCPU machines), so a wall-clock pause alone cannot
 * convict the collector.  Every pause record carries its wall time and the
 * CPU time of the collector's work inside it.  A pause (or stall) breaks
 * the budget when
 *   (a) the collector's own work in it exceeds the budget, unless a probe
 *       hiccup beside it is as long as the excess (a' below), or
 *   (b) its wall time exceeds the budget and nothing outside the collector
 *       explains the excess: no control probe saw a hiccup that overlaps
 *       the pause and is at least (wall - budget - probe period) long, and
 *       the paused thread was not preempted inside it.  "Preempted": for
 *       the records that count context switches and lock waits (sweep,
 *       assist, step, handshake), the collector's own time in the pause
 *       (its CPU work plus the thread's waits for the collector's lock)
 *       is within the budget and the thread was switched out
 *       involuntarily: the rest of the wall time it was runnable and the
 *       CPU went elsewhere.  (A probe cannot see that: a sleeping probe
 *       gets its CPU back at once on wake-up, while a running thread waits
 *       out its time slice.)
 * A pause over the budget by wall time only, with such a hiccup beside it,
 * is counted and shown as "explained by the platform", never dropped.
 * The probe period (250 us) is the slack in (b): a probe only notices a
 * hiccup at its next due wake-up.
 */
#include <stdlib.h>
#include <string.h>

#include "gclat.h"

#define PROBE_PERIOD_NS 250000u

/* A probe hiccup overlaps the pause and is at least `excess` long, less the
 * probe period. */
static int hiccup_covers(const gclat_result *r, const rtgc_pause_record *p, uint64_t excess) {
    uint64_t ps = p->start_ns, pe = p->start_ns + p->wall_ns;
    uint64_t need = excess > PROBE_PERIOD_NS ? excess - PROBE_PERIOD_NS : 0;
    const gclat_hiccup *h = r->probe.hiccups;
    size_t n = r->probe.nhiccups;
    /* hiccups are sorted by start; none lasts more than a few hundred ms */
    size_t lo = 0, hi = n;
    uint64_t from = ps > 1000000000ull ? ps - 1000000000ull : 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (h[mid].start_ns < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < n && h[i].start_ns < pe; i++) {
        uint64_t he = h[i].start_ns + h[i].len_ns;
        if (he <= ps)
            continue;
        if (h[i].len_ns >= need)
            return 1;
    }
    return 0;
}

void gclat_judge(gclat_result *r, uint64_t budget) {
    r->over_work = r->over_wall_explained = r->over_wall_unexplained = r->stalls_over = 0;
    r->over_wall_preempted = 0;
    r->over_work_explained = 0;
    r->nbroke = 0;
    memset(r->over_by_cause, 0, sizeof r->over_by_cause);
    rtgc_hist_init(&r->work_judged);
    for (size_t i = 0; i < r->npauses; i++) {
        const rtgc_pause_record *p = &r->pauses[i];
        int bad = 0;
        uint64_t judged = p->work_ns;
        if (p->work_ns > budget) {
            /* (a') The thread CPU clock runs on while the host has stopped
             * the vCPU (steal time the guest does not see): a pause whose
             * work exceeds the budget by no more than a probe hiccup beside
             * it measured is the platform's (seen: 13.4 ms of "work" in a
             * step, inside a 20 ms hiccup). */
            if (hiccup_covers(r, p, p->work_ns - budget)) {
                r->over_work_explained++;
                judged = budget;     /* the excess was the platform's, not the collector's */
            } else {
                r->over_work++;
                bad = 1;
            }
        } else if (p->wall_ns > budget) {
            int preempted = p->involuntary != RTGC_SWITCHES_UNKNOWN && p->involuntary > 0 &&
                            p->work_ns + p->wait_ns <= budget;
            if (preempted)
                r->over_wall_preempted++;
            if (preempted || hiccup_covers(r, p, p->wall_ns - budget)) {
                r->over_wall_explained++;
            } else {
                r->over_wall_unexplained++;
                bad = 1;
            }
        }
        if (!p->stall)
            rtgc_hist_record(&r->work_judged, judged);
        if (bad && r->nbroke < GCLAT_BROKE_KEEP)
            r->broke[r->nbroke++] = *p;
        if (bad && p->stall)
            r->stalls_over++;
        if (bad && p->cause < RTGC_CAUSE_COUNT)
            r->over_by_cause[p->cause]++;
    }
    r->pass = !r->error[0] && r->over_work == 0 && r->over_wall_unexplained == 0 && r->pauses_lost == 0;
}

/* --- MMU from records --- */

typedef struct ival {
    uint32_t thread;
    uint64_t s, e;
} ival;

static int by_thread_start(const void *a, const void *b) {
    const ival *x = a, *y = b;
    if (x->thread != y->thread)
        return x->thread < y->thread ? -1 : 1;
    return x->s < y->s ? -1 : x->s > y->s;
}

/* Most paused time inside any window [x, x+w] over sorted disjoint
 * intervals v[0..n): the best window starts at an interval's start or
 * ends at an interval's end. */
static uint64_t max_in_window(const ival *v, size_t n, uint64_t w) {
    uint64_t best = 0, sum = 0;
    size_t j = 0;
    /* windows starting at v[i].s */
    for (size_t i = 0; i < n; i++) {
        uint64_t end = v[i].s + w;
        if (j < i) {
            j = i;
            sum = 0;
        }
        while (j < n && v[j].e <= end) {
            sum += v[j].e - v[j].s;
            j++;
        }
        uint64_t part = (j < n && v[j].s < end) ? end - v[j].s : 0;
        if (sum + part > best)
            best = sum + part;
        if (j > i)
            sum -= v[i].e - v[i].s;
    }
    /* windows ending at v[k].e: intervals from i..k, the first clipped */
    sum = 0;
    size_t i = 0;
    for (size_t k = 0; k < n; k++) {
        sum += v[k].e - v[k].s;
        uint64_t start = v[k].e > w ? v[k].e - w : 0;
        while (v[i].e <= start) {
            sum -= v[i].e - v[i].s;
            i++;
        }
        uint64_t clip = v[i].s < start ? start - v[i].s : 0;
        if (sum - clip > best)
            best = sum - clip;
    }
    return best > w ? w : best;
}

double gclat_mmu(const rtgc_pause_record *recs, size_t n, uint64_t window, int use_work) {
    if (n == 0 || window == 0)
        return 1.0;
    ival *v = malloc(n * sizeof *v);
    if (!v)
        return -1.0;
    for (size_t i = 0; i < n; i++) {
        uint64_t len = recs[i].wall_ns;
        if (use_work && recs[i].work_ns < len)
            len = recs[i].work_ns;
        v[i] = (ival){.thread = recs[i].thread, .s = recs[i].start_ns, .e = recs[i].start_ns + len};
    }
    qsort(v, n, sizeof *v, by_thread_start);
    /* merge overlaps within a thread (a stall may enclose work records) */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && v[m - 1].thread == v[i].thread && v[i].s <= v[m - 1].e) {
            if (v[i].e > v[m - 1].e)
                v[m - 1].e = v[i].e;
        } else {
            v[m++] = v[i];
        }
    }
    uint64_t worst = 0;
    for (size_t a = 0; a < m;) {
        size_t b = a;
        while (b < m && v[b].thread == v[a].thread)
            b++;
        uint64_t x = max_in_window(v + a, b - a, window);
        if (x > worst)
            worst = x;
        a = b;
    }
    free(v);
    return 1.0 - (double)worst / (double)window;
}

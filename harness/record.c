/* harness/record.c - clocks, sleeping, latency recording and small helpers.
 *
 * Workload latencies go into the collector's log-linear histogram type
 * (rtgc_hist: 1.6% resolution, percentiles never under-reported), one per
 * thread, merged at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <time.h>

#include "gclat.h"

uint64_t gclat_now(void) {
    return rtgc_now_ns();
}

void gclat_sleep_until(rtgc_thread *t, uint64_t when_ns) {
    if (gclat_now() >= when_ns)
        return;
    struct timespec ts = {.tv_sec = (time_t)(when_ns / 1000000000u), .tv_nsec = (long)(when_ns % 1000000000u)};
    /* Sleeping is a blocking region: the collector handshakes and scans on
     * this thread's behalf instead of waiting for it.  Leaving it may wait
     * for the collector; the library records that as a pause. */
    if (t)
        rtgc_enter_blocking(t);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
    if (t)
        rtgc_leave_blocking(t);
}

void gclat_lat_init(gclat_lat *l) {
    rtgc_hist_init(&l->hist);
    rtgc_hist_init(&l->own);
    l->over = 0;
}

void gclat_lat_add2(gclat_lat *l, uint64_t ns, uint64_t own_ns, uint64_t deadline_ns) {
    rtgc_hist_record(&l->hist, ns);
    rtgc_hist_record(&l->own, own_ns);
    if (deadline_ns && ns > deadline_ns)
        l->over++;
}

void gclat_lat_add(gclat_lat *l, uint64_t ns, uint64_t deadline_ns) {
    gclat_lat_add2(l, ns, ns, deadline_ns);
}

void gclat_lat_merge(gclat_lat *into, const gclat_lat *from) {
    rtgc_hist_merge(&into->hist, &from->hist);
    rtgc_hist_merge(&into->own, &from->own);
    into->over += from->over;
}

void gclat_fmt_ns(char *buf, size_t len, uint64_t ns) {
    if (ns < 10000)
        snprintf(buf, len, "%.2f us", ns / 1e3);
    else if (ns < 1000000)
        snprintf(buf, len, "%.0f us", ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, len, "%.2f ms", ns / 1e6);
    else
        snprintf(buf, len, "%.2f s", ns / 1e9);
}

uint64_t gclat_rand(uint64_t *s) {
    /* xorshift64*; a zero state is moved off zero */
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

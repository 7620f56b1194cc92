/* harness/probe.c - the control probes: how much the platform itself
 * holds threads off.
 *
 * One probe thread per online CPU (up to 16), each pinned to its CPU, sleeps
 * GCLAT_PROBE_PERIOD_NS at a time to an absolute deadline and records how
 * late it woke (jHiccup's method).  A probe is not attached to the heap and
 * touches nothing of the workload: when it wakes late, the platform (the
 * hypervisor, the host, interrupts, another process) kept its CPU from it.
 * Oversleeps over GCLAT_HICCUP_RECORD_NS are kept as intervals
 * [due, due + late], which the verdict lays over the collector's pauses.
 *
 * The probes wake 4000 times a second each and cost about 1% of a core.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "gclat.h"

#define GCLAT_PROBE_PERIOD_NS 250000u
#define MAX_PROBES 16

typedef struct probe {
    struct gclat_probes *owner;
    pthread_t th;
    int cpu;
    int rt;
    rtgc_hist hist;
    gclat_hiccup *h;
    size_t n, cap;
    uint64_t wakeups;
} probe;

struct gclat_probes {
    probe p[MAX_PROBES];
    int n;
    volatile int stop;
};

static void *probe_main(void *arg) {
    probe *p = arg;
    struct gclat_probes *ps = p->owner;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    if (p->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(p->cpu, &set);
        if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0)
            p->cpu = -1;
    }
    if (p->rt) {
        struct sched_param sp = {.sched_priority = sched_get_priority_max(SCHED_FIFO)};
        pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    }
    uint64_t due = gclat_now() + GCLAT_PROBE_PERIOD_NS;
    while (!__atomic_load_n(&ps->stop, __ATOMIC_ACQUIRE)) {
        struct timespec ts = {.tv_sec = (time_t)(due / 1000000000u), .tv_nsec = (long)(due % 1000000000u)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        }
        uint64_t now = gclat_now();
        uint64_t late = now > due ? now - due : 0;
        rtgc_hist_record(&p->hist, late);
        p->wakeups++;
        if (late > GCLAT_HICCUP_RECORD_NS) {
            if (p->n == p->cap) {
                size_t cap = p->cap ? p->cap * 2 : 256;
                gclat_hiccup *nh = realloc(p->h, cap * sizeof *nh);
                if (!nh)
                    continue;
                p->h = nh;
                p->cap = cap;
            }
            p->h[p->n++] = (gclat_hiccup){.start_ns = due, .len_ns = late, .cpu = p->cpu};
        }
        /* The next wake-up is a period after this one, not after the due
         * time: a late wake-up is counted once, not again as a backlog. */
        due = now + GCLAT_PROBE_PERIOD_NS;
    }
    return NULL;
}

gclat_probes *gclat_probes_start(int pin, int rt) {
    (void)pin; /* probes are always pinned: a probe measures its own CPU */
    struct gclat_probes *ps = calloc(1, sizeof *ps);
    if (!ps)
        return NULL;
    cpu_set_t allowed;
    int ncpu = 0;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
        for (int c = 0; c < CPU_SETSIZE && ps->n < MAX_PROBES; c++)
            if (CPU_ISSET(c, &allowed))
                ps->p[ps->n++].cpu = c;
        ncpu = ps->n;
    }
    if (ncpu == 0) {
        ps->n = 1;
        ps->p[0].cpu = -1;
    }
    for (int i = 0; i < ps->n; i++) {
        probe *p = &ps->p[i];
        rtgc_hist_init(&p->hist);
        p->rt = rt;
        p->owner = ps;
        if (pthread_create(&p->th, NULL, probe_main, p) != 0) {
            ps->n = i;
            break;
        }
    }
    return ps;
}

static int by_start(const void *a, const void *b) {
    const gclat_hiccup *x = a, *y = b;
    return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

void gclat_probes_stop(gclat_probes *ps, gclat_probe_result *out) {
    memset(out, 0, sizeof *out);
    rtgc_hist_init(&out->hist);
    if (!ps)
        return;
    __atomic_store_n(&ps->stop, 1, __ATOMIC_RELEASE);
    size_t total = 0;
    for (int i = 0; i < ps->n; i++) {
        pthread_join(ps->p[i].th, NULL);
        total += ps->p[i].n;
    }
    out->hiccups = total ? malloc(total * sizeof *out->hiccups) : NULL;
    for (int i = 0; i < ps->n; i++) {
        probe *p = &ps->p[i];
        rtgc_hist_merge(&out->hist, &p->hist);
        out->wakeups += p->wakeups;
        if (out->hiccups && p->n)
            memcpy(out->hiccups + out->nhiccups, p->h, p->n * sizeof *p->h);
        if (out->hiccups)
            out->nhiccups += p->n;
        free(p->h);
    }
    out->nprobes = ps->n;
    if (out->nhiccups)
        qsort(out->hiccups, out->nhiccups, sizeof *out->hiccups, by_start);
    free(ps);
}

/* harness/trace.c - Chrome trace-event JSON (opens in Perfetto and
 * chrome://tracing).
 *
 * One process per workload; in it one track per mutator thread (its pauses
 * and stalls, as complete events named after the cause, with the
 * collector's work in args), a "collector" track with the phases of each
 * cycle (cycle, marking, sweeping), and a "platform" track with the control
 * probes' hiccups.  Times are microseconds from the first workload's start.
 */
#include <string.h>

#include "gclat.h"

#define TRACK_COLLECTOR 100000
#define TRACK_PLATFORM 100001

static void meta(FILE *f, int pid, int tid, const char *what, const char *name, int *first) {
    fprintf(f, "%s{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"%s\",\"args\":{\"name\":\"%s\"}}", *first ? "" : ",\n",
            pid, tid, what, name);
    *first = 0;
}

static void span(FILE *f, int pid, int tid, const char *name, const char *cat, uint64_t t0, uint64_t s, uint64_t len,
                 const char *args, int *first) {
    fprintf(f, "%s{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"name\":\"%s\",\"cat\":\"%s\",\"ts\":%.3f,\"dur\":%.3f%s%s%s}",
            *first ? "" : ",\n", pid, tid, name, cat, (double)(s - t0) / 1e3, (double)len / 1e3,
            args ? ",\"args\":{" : "", args ? args : "", args ? "}" : "");
    *first = 0;
}

int gclat_write_trace(const char *path, const gclat_result *rs, int n) {
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    uint64_t t0 = n > 0 ? rs[0].t_start_ns : 0;
    int first = 1;
    fprintf(f, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
    for (int w = 0; w < n; w++) {
        const gclat_result *r = &rs[w];
        int pid = w + 1;
        char name[96];
        snprintf(name, sizeof name, "%s (%s, %s)", r->workload, r->mode ? r->mode : "-",
                 r->engine == GCLAT_VM ? "vm" : "native");
        meta(f, pid, 0, "process_name", name, &first);
        meta(f, pid, TRACK_COLLECTOR, "thread_name", "collector phases", &first);
        meta(f, pid, TRACK_PLATFORM, "thread_name", "platform hiccups (control probes)", &first);
        uint32_t named[GCLAT_MAX_THREADS * 4] = {0};
        size_t nnamed = 0;
        for (size_t i = 0; i < r->npauses; i++) {
            const rtgc_pause_record *p = &r->pauses[i];
            int seen = 0;
            for (size_t k = 0; k < nnamed; k++)
                seen |= named[k] == p->thread;
            if (!seen && nnamed < sizeof named / sizeof named[0]) {
                named[nnamed++] = p->thread;
                char tn[48];
                snprintf(tn, sizeof tn, "mutator %u", p->thread);
                meta(f, pid, (int)p->thread, "thread_name", tn, &first);
            }
            char args[160];
            snprintf(args, sizeof args, "\"work_us\":%.3f,\"units\":%llu,\"cycle\":%llu", p->work_ns / 1e3,
                     (unsigned long long)p->work, (unsigned long long)p->cycle);
            span(f, pid, (int)p->thread, rtgc_cause_name((rtgc_pause_cause)p->cause), p->stall ? "stall" : "pause", t0,
                 p->start_ns, p->wall_ns, args, &first);
        }
        /* phases: a cycle from CYCLE_START to CYCLE_END, marking from MARK_START to MARK_END */
        uint64_t cyc_start = 0, mark_start = 0;
        for (size_t i = 0; i < r->nphases; i++) {
            const struct gclat_phase *ph = &r->phases[i];
            char args[64];
            snprintf(args, sizeof args, "\"cycle\":%llu", (unsigned long long)ph->cycle);
            switch (ph->kind) {
            case RTGC_EV_CYCLE_START: cyc_start = ph->t; break;
            case RTGC_EV_MARK_START: mark_start = ph->t; break;
            case RTGC_EV_MARK_END:
                if (mark_start && ph->t >= mark_start)
                    span(f, pid, TRACK_COLLECTOR, "marking", "phase", t0, mark_start, ph->t - mark_start, args, &first);
                mark_start = 0;
                break;
            case RTGC_EV_CYCLE_END:
                if (cyc_start && ph->t >= cyc_start)
                    span(f, pid, TRACK_COLLECTOR, "cycle", "phase", t0, cyc_start, ph->t - cyc_start, args, &first);
                cyc_start = 0;
                break;
            case RTGC_EV_SWEEP_START:
                span(f, pid, TRACK_COLLECTOR, "sweep starts", "phase", t0, ph->t, 0, args, &first);
                break;
            default: break;
            }
        }
        for (size_t i = 0; i < r->probe.nhiccups; i++) {
            const gclat_hiccup *h = &r->probe.hiccups[i];
            char args[32];
            snprintf(args, sizeof args, "\"cpu\":%d", h->cpu);
            span(f, pid, TRACK_PLATFORM, "hiccup", "platform", t0, h->start_ns, h->len_ns, args, &first);
        }
    }
    fprintf(f, "\n]}\n");
    return fclose(f) == 0 ? 0 : -1;
}

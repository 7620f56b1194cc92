/* harness/report.c - the text report and the JSON figures.
 *
 * Both come from the same gclat_result: pause figures from the collector's
 * own records (wall time, and the collector's CPU work inside each pause),
 * workload figures from the harness's measurements, platform figures from
 * the control probes.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "gclat.h"

typedef struct pause_figs {
    rtgc_hist wall, work, stall;
    uint64_t by_cause[RTGC_CAUSE_COUNT];
} pause_figs;

static void figures(const gclat_result *r, pause_figs *f) {
    rtgc_hist_init(&f->wall);
    rtgc_hist_init(&f->work);
    rtgc_hist_init(&f->stall);
    memset(f->by_cause, 0, sizeof f->by_cause);
    for (size_t i = 0; i < r->npauses; i++) {
        const rtgc_pause_record *p = &r->pauses[i];
        if (p->cause < RTGC_CAUSE_COUNT)
            f->by_cause[p->cause]++;
        if (p->stall) {
            rtgc_hist_record(&f->stall, p->wall_ns);
        } else {
            rtgc_hist_record(&f->wall, p->wall_ns);
            rtgc_hist_record(&f->work, p->work_ns);
        }
    }
}

static const char *ns(char *buf, uint64_t v) {
    gclat_fmt_ns(buf, 24, v);
    return buf;
}

static void hist_line(FILE *f, const char *label, const rtgc_hist *h) {
    char a[24], b[24], c[24], d[24], e[24];
    fprintf(f, "  %-18s count %-8llu p50 %-9s p99 %-9s p99.9 %-9s max %-9s total %s\n", label,
            (unsigned long long)h->count, ns(a, rtgc_hist_percentile(h, 50)), ns(b, rtgc_hist_percentile(h, 99)),
            ns(c, rtgc_hist_percentile(h, 99.9)), ns(d, h->max), ns(e, h->total));
}

static int ncpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void gclat_report_header(FILE *f, const gclat_opts *o) {
    char b[24];
    struct utsname u;
    uname(&u);
    fprintf(f, "gclat %s (librtgc %s): budget %s, engine %s%s%s, seed %llu\n", GCLAT_VERSION, rtgc_version(),
            ns(b, o->budget_ns), o->engine == GCLAT_VM ? "vm" : "native", o->engine == GCLAT_VM ? ", jit " : "",
            o->engine == GCLAT_VM ? o->jit : "", (unsigned long long)o->seed);
    fprintf(f, "machine: %d CPUs, %s %s; control probes: one per CPU, pinned, waking every 250 us%s%s\n", ncpus(),
            u.sysname, u.release, o->pin ? "; --pin" : "", o->rt ? "; --rt" : "");
    if (o->budget_ns < RTGC_BUDGET_MIN_NS)
        fprintf(f, "note: the collector's budget is set to its minimum, 10 us; pauses are judged against %s\n",
                ns(b, o->budget_ns));
    fprintf(f, "verdict: a pause breaks the budget when the collector's own work in it exceeds the budget, or when its\n"
               "wall time does and nothing outside the collector explains the excess: no control-probe hiccup beside\n"
               "it, and the thread was not preempted inside it (see harness/README.md)\n");
}

void gclat_report_text(FILE *f, const gclat_opts *o, const gclat_result *r) {
    char a[24], b[24], c[24], d[24];
    const gclat_workload *w = gclat_find_workload(r->workload);
    fprintf(f, "\n== %s: %s\n", r->workload, w ? w->summary : "");
    fprintf(f, "  settings           %s\n", r->settings);
    fprintf(f, "  run                engine %s, %d mutator thread%s, measured %.2f s\n",
            r->engine == GCLAT_VM ? "vm" : "native", r->threads, r->threads == 1 ? "" : "s", r->duration_ns / 1e9);
    if (r->error[0]) {
        fprintf(f, "  ERROR              %s\n", r->error);
    }
    pause_figs pf;
    figures(r, &pf);
    hist_line(f, "pauses (wall)", &pf.wall);
    hist_line(f, "collector work", &pf.work);
    fprintf(f, "  by cause          ");
    for (int i = 0; i < RTGC_CAUSE_COUNT; i++)
        if (pf.by_cause[i])
            fprintf(f, " %s %llu", rtgc_cause_name((rtgc_pause_cause)i), (unsigned long long)pf.by_cause[i]);
    fprintf(f, "\n");
    fprintf(f, "  stalls             %llu, %s in all, longest %s\n", (unsigned long long)pf.stall.count,
            ns(a, pf.stall.total), ns(b, pf.stall.max));
    if (r->over_work_explained)
        fprintf(f, "  over by work       %llu more explained by a probe hiccup as long as the excess (the vCPU was "
                   "stopped; its CPU clock ran on)\n",
                (unsigned long long)r->over_work_explained);
    fprintf(f, "  over the budget    %llu by collector work; %llu by wall time: %llu explained by the platform "
               "(%llu preempted, %llu probe hiccups), %llu unexplained\n",
            (unsigned long long)r->over_work,
            (unsigned long long)(r->over_wall_explained + r->over_wall_unexplained),
            (unsigned long long)r->over_wall_explained, (unsigned long long)r->over_wall_preempted,
            (unsigned long long)(r->over_wall_explained - r->over_wall_preempted),
            (unsigned long long)r->over_wall_unexplained);
    if (r->over_work + r->over_wall_unexplained) {
        fprintf(f, "  broke it, by cause");
        for (int i = 0; i < RTGC_CAUSE_COUNT; i++)
            if (r->over_by_cause[i])
                fprintf(f, " %s %llu", rtgc_cause_name((rtgc_pause_cause)i), (unsigned long long)r->over_by_cause[i]);
        fprintf(f, "\n");
        for (int i = 0; i < r->nbroke; i++) {
            const rtgc_pause_record *p = &r->broke[i];
            fprintf(f, "    at %8.3f s  %-10s wall %-9s work %-9s thread %u", (p->start_ns - r->t_start_ns) / 1e9,
                    rtgc_cause_name((rtgc_pause_cause)p->cause), ns(a, p->wall_ns), ns(b, p->work_ns), p->thread);
            if (p->involuntary != RTGC_SWITCHES_UNKNOWN)
                fprintf(f, "  switches: %u preempted, %u waited; lock wait %s", p->involuntary, p->voluntary,
                        ns(c, p->wait_ns));
            uint64_t hic = 0;
            for (size_t k = 0; k < r->probe.nhiccups; k++) {
                const gclat_hiccup *hc = &r->probe.hiccups[k];
                if (hc->start_ns < p->start_ns + p->wall_ns && hc->start_ns + hc->len_ns > p->start_ns &&
                    hc->len_ns > hic)
                    hic = hc->len_ns;
            }
            if (hic)
                fprintf(f, "; probe hiccup beside it %s", ns(d, hic));
            fprintf(f, "\n");
        }
    }
    if (r->pauses_lost)
        fprintf(f, "  records lost       %llu (the verdict fails: not every pause was seen)\n",
                (unsigned long long)r->pauses_lost);
    fprintf(f, "  MMU (wall)         1 ms %.3f   10 ms %.3f   100 ms %.3f\n", r->mmu_wall[0], r->mmu_wall[1],
            r->mmu_wall[2]);
    fprintf(f, "  MMU (work)         1 ms %.3f   10 ms %.3f   100 ms %.3f\n", r->mmu_work[0], r->mmu_work[1],
            r->mmu_work[2]);
    const rtgc_hist *ph = &r->probe.hist;
    fprintf(f, "  platform hiccups   %d probes, %llu wake-ups: p99 %s p99.9 %s max %s; over 1 ms: %llu\n",
            r->probe.nprobes, (unsigned long long)ph->count, ns(a, rtgc_hist_percentile(ph, 99)),
            ns(b, rtgc_hist_percentile(ph, 99.9)), ns(c, ph->max),
            (unsigned long long)rtgc_hist_count_above(ph, 1000000));
    const rtgc_hist *lh = &r->lat.hist;
    char unitlabel[32];
    size_t ul = strlen(r->unit);
    snprintf(unitlabel, sizeof unitlabel, "%s%s", r->unit, ul >= 2 && !strcmp(r->unit + ul - 2, "sh") ? "es" : "s");
    fprintf(f, "  %-18s %llu", unitlabel, (unsigned long long)r->ops);
    if (r->ops_scheduled && r->ops_scheduled != r->ops)
        fprintf(f, " of %llu due", (unsigned long long)r->ops_scheduled);
    fprintf(f, ": p50 %s p99 %s p99.9 %s max %s", ns(a, rtgc_hist_percentile(lh, 50)),
            ns(b, rtgc_hist_percentile(lh, 99)), ns(c, rtgc_hist_percentile(lh, 99.9)), ns(d, lh->max));
    if (r->deadline_ns)
        fprintf(f, "; %llu over %s", (unsigned long long)r->lat.over, ns(a, r->deadline_ns));
    fprintf(f, "\n");
    const rtgc_hist *oh = &r->lat.own;
    if (oh->count && r->deadline_ns && strcmp(r->workload, "msgbuf")) /* open-loop and slotted workloads */
        fprintf(f, "  %-18s p50 %s p99 %s p99.9 %s max %s (start to end, without waiting for its slot)\n", "  own time",
                ns(a, rtgc_hist_percentile(oh, 50)), ns(b, rtgc_hist_percentile(oh, 99)),
                ns(c, rtgc_hist_percentile(oh, 99.9)), ns(d, oh->max));
    if (!strcmp(r->workload, "gaming"))
        fprintf(f, "  frames missed      %llu of %llu slots%s\n", (unsigned long long)r->frames_missed,
                (unsigned long long)r->ops_scheduled,
                r->step_ns ? "" : "");
    if (r->step_ns)
        fprintf(f, "  rtgc_step          %.1f ms of idle time given to the collector\n", r->step_ns / 1e6);
    double secs = r->duration_ns / 1e9;
    fprintf(f, "  throughput         %.0f %s/s\n", secs > 0 ? r->ops / secs : 0.0, unitlabel);
    fprintf(f, "  heap               peak %.1f MiB of %.0f MiB (%.0f%%); %llu cycles; live after the last %.1f MiB\n",
            r->stats.heap_peak / 1048576.0, r->heap_limit / 1048576.0,
            100.0 * (double)r->stats.heap_peak / (double)r->heap_limit, (unsigned long long)r->stats.cycles,
            r->stats.live_bytes / 1048576.0);
    if (r->stats.weak_cleared || r->stats.finalizers_queued)
        fprintf(f, "  weak               %llu weak references and ephemerons cleared (%.0f/s); %llu finalizers queued\n",
                (unsigned long long)r->stats.weak_cleared,
                secs > 0 ? (double)r->stats.weak_cleared * 1e9 / (double)(r->t_end_ns - r->t_start_ns) : 0.0,
                (unsigned long long)r->stats.finalizers_queued);
    if (r->stats.collector_cpu_ns)
        fprintf(f, "  collector thread   %.2f s of CPU (%.0f%% of a core over the run)\n",
                r->stats.collector_cpu_ns / 1e9,
                100.0 * (double)r->stats.collector_cpu_ns / (double)(r->t_end_ns - r->t_start_ns));
    fprintf(f, "  verdict            %s\n",
            r->error[0] ? "FAIL (the workload did not run to the end)"
            : r->pass   ? "PASS: every pause within the budget"
                        : "FAIL: the budget was broken");
    (void)o;
}

void gclat_report_summary(FILE *f, const gclat_opts *o, const gclat_result *rs, int n) {
    char a[24], b[24], c[24];
    int pass = 1;
    fprintf(f, "\n%-9s %-11s %8s %10s %10s %10s %8s %7s  %s\n", "workload", "mode", "pauses", "p99", "max",
            "max work", "over", "MMU10", "verdict");
    for (int i = 0; i < n; i++) {
        const gclat_result *r = &rs[i];
        pause_figs pf;
        figures(r, &pf);
        fprintf(f, "%-9s %-11s %8llu %10s %10s %10s %8llu %7.3f  %s\n", r->workload, r->mode ? r->mode : "-",
                (unsigned long long)pf.wall.count, ns(a, rtgc_hist_percentile(&pf.wall, 99)), ns(b, pf.wall.max),
                ns(c, pf.work.max), (unsigned long long)(r->over_work + r->over_wall_unexplained), r->mmu_wall[1],
                r->error[0] ? "FAIL (error)" : r->pass ? "PASS" : "FAIL");
        pass &= r->pass;
    }
    fprintf(f, "\ngclat: %s\n", pass ? "every collector pause stayed within the budget"
                                     : "the budget was broken (or a workload failed): exit 1");
    (void)o;
}

/* --- JSON --- */

static void jstr(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void jhist(FILE *f, const char *name, const rtgc_hist *h) {
    fprintf(f, "\"%s\": {\"count\": %llu, \"p50_ns\": %llu, \"p99_ns\": %llu, \"p999_ns\": %llu, \"max_ns\": %llu, "
               "\"total_ns\": %llu}",
            name, (unsigned long long)h->count, (unsigned long long)rtgc_hist_percentile(h, 50),
            (unsigned long long)rtgc_hist_percentile(h, 99), (unsigned long long)rtgc_hist_percentile(h, 99.9),
            (unsigned long long)h->max, (unsigned long long)h->total);
}

int gclat_report_json(const char *path, const gclat_opts *o, const gclat_result *rs, int n) {
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!f)
        return -1;
    int pass = 1;
    for (int i = 0; i < n; i++)
        pass &= rs[i].pass;
    fprintf(f, "{\"gclat\": \"%s\", \"librtgc\": \"%s\", \"budget_ns\": %llu, \"engine\": \"%s\", \"jit\": ",
            GCLAT_VERSION, rtgc_version(), (unsigned long long)o->budget_ns, o->engine == GCLAT_VM ? "vm" : "native");
    jstr(f, o->jit);
    fprintf(f, ", \"seed\": %llu, \"cpus\": %d, \"pass\": %s, \"workloads\": [", (unsigned long long)o->seed, ncpus(),
            pass ? "true" : "false");
    for (int i = 0; i < n; i++) {
        const gclat_result *r = &rs[i];
        pause_figs pf;
        figures(r, &pf);
        fprintf(f, "%s\n  {\"workload\": ", i ? "," : "");
        jstr(f, r->workload);
        fprintf(f, ", \"mode\": ");
        jstr(f, r->mode ? r->mode : "");
        fprintf(f, ", \"settings\": ");
        jstr(f, r->settings);
        fprintf(f, ", \"error\": ");
        jstr(f, r->error);
        fprintf(f, ", \"threads\": %d, \"heap_limit\": %zu, \"duration_ns\": %llu, \"unit\": ", r->threads,
                r->heap_limit, (unsigned long long)r->duration_ns);
        jstr(f, r->unit);
        fprintf(f, ",\n   ");
        jhist(f, "pauses", &pf.wall);
        fprintf(f, ",\n   ");
        jhist(f, "pause_work", &r->work_judged);   /* what latency-tests judge */
        fprintf(f, ",\n   ");
        jhist(f, "pause_work_raw", &pf.work);
        fprintf(f, ",\n   ");
        jhist(f, "stalls", &pf.stall);
        fprintf(f, ",\n   \"by_cause\": {");
        for (int k = 0; k < RTGC_CAUSE_COUNT; k++)
            fprintf(f, "%s\"%s\": %llu", k ? ", " : "", rtgc_cause_name((rtgc_pause_cause)k),
                    (unsigned long long)pf.by_cause[k]);
        fprintf(f, "},\n   \"over_budget_work\": %llu, \"over_budget_wall_explained\": %llu, "
                   "\"over_budget_work_explained\": %llu, \"over_budget_wall_preempted\": %llu, \"over_budget_wall_unexplained\": %llu, \"stalls_over_budget\": %llu, \"records_lost\": %llu,\n",
                (unsigned long long)r->over_work, (unsigned long long)r->over_wall_explained,
                (unsigned long long)r->over_work_explained, (unsigned long long)r->over_wall_preempted,
                (unsigned long long)r->over_wall_unexplained, (unsigned long long)r->stalls_over,
                (unsigned long long)r->pauses_lost);
        fprintf(f, "   \"mmu\": {\"1ms\": %.4f, \"10ms\": %.4f, \"100ms\": %.4f}, \"mmu_work\": {\"1ms\": %.4f, "
                   "\"10ms\": %.4f, \"100ms\": %.4f},\n   ",
                r->mmu_wall[0], r->mmu_wall[1], r->mmu_wall[2], r->mmu_work[0], r->mmu_work[1], r->mmu_work[2]);
        jhist(f, "probe", &r->probe.hist);
        fprintf(f, ", \"probe_over_1ms\": %llu, \"probes\": %d,\n   ",
                (unsigned long long)rtgc_hist_count_above(&r->probe.hist, 1000000), r->probe.nprobes);
        jhist(f, "latency", &r->lat.hist);
        fprintf(f, ",\n   ");
        jhist(f, "own_time", &r->lat.own);
        double secs = r->duration_ns / 1e9;
        fprintf(f, ",\n   \"ops\": %llu, \"ops_due\": %llu, \"deadline_ns\": %llu, \"over_deadline\": %llu, "
                   "\"frames_missed\": %llu, \"step_ns\": %llu, \"throughput\": %.1f,\n",
                (unsigned long long)r->ops, (unsigned long long)r->ops_scheduled, (unsigned long long)r->deadline_ns,
                (unsigned long long)r->lat.over, (unsigned long long)r->frames_missed,
                (unsigned long long)r->step_ns, secs > 0 ? r->ops / secs : 0.0);
        fprintf(f, "   \"heap_peak\": %zu, \"live_bytes\": %zu, \"cycles\": %llu, \"allocated_bytes\": %llu, "
                   "\"collector_cpu_ns\": %llu, \"weak_cleared\": %llu, \"finalizers_queued\": %llu, \"pass\": %s}",
                r->stats.heap_peak, r->stats.live_bytes, (unsigned long long)r->stats.cycles,
                (unsigned long long)r->stats.allocated_bytes, (unsigned long long)r->stats.collector_cpu_ns,
                (unsigned long long)r->stats.weak_cleared, (unsigned long long)r->stats.finalizers_queued,
                r->pass ? "true" : "false");
    }
    fprintf(f, "\n]}\n");
    if (f != stdout)
        return fclose(f) == 0 ? 0 : -1;
    fflush(f);
    return 0;
}

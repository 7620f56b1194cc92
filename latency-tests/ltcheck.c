/* latency-tests/ltcheck.c - compare a gclat run with its committed baseline.
 *
 *   ltcheck check --case NAME --result RUN.json --baseline BASE.json
 *                 [--mmu TARGET|-] [--tol REL] [--command CMD]
 *   ltcheck baseline --case NAME --out BASE.json [--command CMD] RUN.json...
 *
 * `check` reads the gclat --json file of one run (one workload) and judges
 * it on figures the collector accounts for itself, so that a platform that
 * holds threads off for milliseconds (the project's NOISE.md) cannot fail a
 * test, and a slower collector cannot hide behind it:
 *
 *   - the workload ran to the end (no error, no lost record);
 *   - no pause over the budget by collector work (over_budget_work == 0),
 *     and no stall over it (stalls_over_budget == 0);
 *   - collector work per pause, p99, p99.9 and max: at most the budget, and
 *     at most the baseline's plus the tolerance:
 *         limit = max(base * (1 + tol), base + FLOOR)   (FLOOR = 50 us)
 *     (the floor keeps a figure of a few microseconds from failing on a
 *     cache miss);
 *   - MMU by collector work over 10 ms windows (the worst thread): at least
 *     the case's target, and at least the baseline's less MMU_TOL (0.10);
 *     cases whose MMU the collector does not yet keep have no target ("-")
 *     and show it for information only;
 *   - stalls at the heap limit: at most 2 * base + 2.
 *
 * Wall-clock figures (pause p99.9 and max by wall time, the unexplained
 * wall breaches, the MMU by wall time, the probes' hiccups) are printed for
 * information, never judged.  Each regression is one line: what, the value,
 * the limit and how far over; then the command that reproduces the run.
 * Exit: 0 pass, 1 regression, 2 a missing or unreadable file or bad usage.
 *
 * `baseline` writes BASE.json from one or more runs of the case: the worst
 * of them (largest work figures and stall count, smallest MMU), so that a
 * baseline is not one lucky run.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"

#define FLOOR_NS 50000.0
#define MMU_TOL 0.10

static const char *const work_keys[] = {"p99_ns", "p999_ns", "max_ns"};
static const char *const work_names[] = {"p99", "p99.9", "max"};

static void usage(void) {
    fprintf(stderr,
            "usage: ltcheck check --case NAME --result RUN.json --baseline BASE.json [--mmu TARGET|-] "
            "[--tol REL] [--command CMD]\n"
            "       ltcheck baseline --case NAME --out BASE.json [--command CMD] RUN.json...\n");
    exit(2);
}

static char *fmt_ns(char *b, size_t n, double ns) {
    if (ns >= 1e9) snprintf(b, n, "%.2f s", ns / 1e9);
    else if (ns >= 1e6) snprintf(b, n, "%.2f ms", ns / 1e6);
    else if (ns >= 1e3) snprintf(b, n, "%.1f us", ns / 1e3);
    else snprintf(b, n, "%.0f ns", ns);
    return b;
}

/* The one workload of a gclat run; exits 2 when the file is not one. */
static const jv *workload_of(const jv *run, const char *path) {
    const jv *ws = jv_get(run, "workloads");
    if (!ws || ws->type != JV_ARR || ws->n != 1) {
        fprintf(stderr, "ltcheck: %s: expected a gclat --json file with one workload\n", path);
        exit(2);
    }
    return ws->items[0];
}

static double need(const jv *w, const char *path, const char *file) {
    const jv *v = jv_path(w, path);
    if (!v || v->type != JV_NUM) {
        fprintf(stderr, "ltcheck: %s: no number at '%s'\n", file, path);
        exit(2);
    }
    return v->num;
}

/* A baseline's figure: a number in [lo, hi], or the baseline is corrupt
 * (exit 2); a negative or infinite figure would otherwise judge every run
 * as a regression, or none. */
static double need_in(const jv *w, const char *path, const char *file, double lo, double hi) {
    double v = need(w, path, file);
    if (!(v >= lo && v <= hi)) {
        fprintf(stderr, "ltcheck: %s: '%s' is %g, not in [%g, %g]: a corrupt baseline\n", file, path, v, lo, hi);
        exit(2);
    }
    return v;
}

static jv *load(const char *path) {
    char err[300];
    jv *v = jv_parse_file(path, err, sizeof err);
    if (!v) {
        fprintf(stderr, "ltcheck: %s\n", err);
        exit(2);
    }
    return v;
}

/* ---- check ---- */

static int regressions;
static const char *case_name;

static void regress(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("  REGRESSION %s: ", case_name);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    regressions++;
}

static int cmd_check(int argc, char **argv) {
    const char *result = NULL, *base_path = NULL, *mmu_arg = "-", *command = NULL;
    double tol = 1.0;
    for (int i = 0; i < argc; i++) {
        if (i + 1 >= argc) usage();
        if (!strcmp(argv[i], "--case")) case_name = argv[++i];
        else if (!strcmp(argv[i], "--result")) result = argv[++i];
        else if (!strcmp(argv[i], "--baseline")) base_path = argv[++i];
        else if (!strcmp(argv[i], "--mmu")) mmu_arg = argv[++i];
        else if (!strcmp(argv[i], "--command")) command = argv[++i];
        else if (!strcmp(argv[i], "--tol")) {
            char *end;
            tol = strtod(argv[++i], &end);
            if (*end == '%') { tol /= 100; end++; }
            if (*end || !(tol >= 0)) usage();
        } else usage();
    }
    if (!case_name || !result || !base_path)
        usage();
    double mmu_target = -1;
    if (strcmp(mmu_arg, "-") != 0) {
        char *end;
        mmu_target = strtod(mmu_arg, &end);
        if (*end || !(mmu_target > 0 && mmu_target < 1)) usage();
    }

    jv *run = load(result);
    const jv *w = workload_of(run, result);
    /* Without a baseline the run is still judged against the budget and the
     * MMU target, and the missing baseline makes it an error (exit 2). */
    FILE *bf = fopen(base_path, "r");
    jv *base = NULL;
    if (!bf) {
        printf("  ERROR %s: no baseline %s (record one: make latency-baseline LATENCY_CASES=%s); judged against "
               "the budget and the MMU target only\n",
               case_name, base_path, case_name);
    } else {
        fclose(bf);
        base = load(base_path);
    }
    if (base && strcmp(jv_str(jv_get(base, "case"), ""), case_name) != 0) {
        fprintf(stderr, "ltcheck: %s is the baseline of '%s', not '%s'\n", base_path,
                jv_str(jv_get(base, "case"), "?"), case_name);
        exit(2);
    }

    char a[32], b[32], c[32], d[32];
    double budget = need(run, "budget_ns", result);
    const char *error = jv_str(jv_get(w, "error"), "");

    /* 1. ran to the end */
    if (error[0])
        regress("the workload did not run to the end: %s", error);
    double ops = need(w, "ops", result);
    if (ops <= 0)
        regress("no operations done");
    double lost = need(w, "records_lost", result);
    if (lost > 0)
        regress("%.0f pause records lost (the figures are incomplete)", lost);

    /* 2. breaches by the collector's own work */
    double obw = need(w, "over_budget_work", result);
    if (obw > 0)
        regress("%.0f pause(s) over the budget (%s) by collector work (baseline 0)", obw,
                fmt_ns(a, sizeof a, budget));
    double sob = need(w, "stalls_over_budget", result);
    if (sob > 0)
        regress("%.0f stall(s) over the budget", sob);

    /* 3. collector work per pause against the budget and the baseline */
    double work[3], limit[3];
    for (int k = 0; k < 3; k++) {
        char path[64];
        snprintf(path, sizeof path, "pause_work.%s", work_keys[k]);
        work[k] = need(w, path, result);
        double bv = base ? need_in(base, path, base_path, 0, 1e12) : 0;
        limit[k] = bv * (1 + tol);
        if (limit[k] < bv + FLOOR_NS)
            limit[k] = bv + FLOOR_NS;
        if (!base)
            limit[k] = budget;
        if (work[k] > budget)
            regress("collector work per pause, %s: %s > the budget %s (+%s, %.1fx)", work_names[k],
                    fmt_ns(a, sizeof a, work[k]), fmt_ns(b, sizeof b, budget),
                    fmt_ns(c, sizeof c, work[k] - budget), work[k] / budget);
        if (base && work[k] > limit[k])
            regress("collector work per pause, %s: %s > baseline %s + tolerance = %s (+%s over the limit, %.1fx the "
                    "baseline)",
                    work_names[k], fmt_ns(a, sizeof a, work[k]), fmt_ns(b, sizeof b, bv),
                    fmt_ns(c, sizeof c, limit[k]), fmt_ns(d, sizeof d, work[k] - limit[k]),
                    bv > 0 ? work[k] / bv : 0.0);
    }

    /* 4. MMU by collector work */
    double mmu = need(w, "mmu_work.10ms", result);
    double mmu_base = base ? need_in(base, "mmu_work.10ms", base_path, 0, 1) : 0;
    if (mmu_target > 0) {
        if (mmu < mmu_target)
            regress("MMU (work, 10 ms) %.3f < the target %.3f (-%.3f)", mmu, mmu_target, mmu_target - mmu);
        if (base && mmu < mmu_base - MMU_TOL)
            regress("MMU (work, 10 ms) %.3f < baseline %.3f - %.2f = %.3f", mmu, mmu_base, MMU_TOL,
                    mmu_base - MMU_TOL);
    }

    /* 5. stalls */
    double stalls = need(w, "stalls.count", result);
    double stalls_base = base ? need_in(base, "stalls", base_path, 0, 1e12) : 0;
    if (base && stalls > 2 * stalls_base + 2)
        regress("%.0f stalls at the heap limit > 2 x baseline %.0f + 2", stalls, stalls_base);

    /* the judged figures, then the wall-clock ones for information */
    printf("  %-26s %s  work p99 %s p99.9 %s max %s (limits %s", case_name,
           regressions ? "FAIL" : !base ? "ERR " : "ok  ",
           fmt_ns(a, sizeof a, work[0]), fmt_ns(b, sizeof b, work[1]), fmt_ns(c, sizeof c, work[2]),
           fmt_ns(d, sizeof d, limit[0] < budget ? limit[0] : budget));
    printf(" %s", fmt_ns(a, sizeof a, limit[1] < budget ? limit[1] : budget));
    printf(" %s)", fmt_ns(a, sizeof a, limit[2] < budget ? limit[2] : budget));
    if (mmu_target > 0 && base)
        printf("; MMU(work,10ms) %.3f (target %.2f, base %.3f)", mmu, mmu_target, mmu_base);
    else if (mmu_target > 0)
        printf("; MMU(work,10ms) %.3f (target %.2f, no baseline)", mmu, mmu_target);
    else
        printf("; MMU(work,10ms) %.3f (not judged)", mmu);
    printf("; stalls %.0f\n", stalls);
    printf("  %-26s       info, wall time (not judged): pauses %.0f, p99.9 %s, max %s; over the budget by wall "
           "%.0f explained + %.0f unexplained; MMU(wall,10ms) %.3f; probe max %s\n",
           "", need(w, "pauses.count", result), fmt_ns(a, sizeof a, need(w, "pauses.p999_ns", result)),
           fmt_ns(b, sizeof b, need(w, "pauses.max_ns", result)), need(w, "over_budget_wall_explained", result),
           need(w, "over_budget_wall_unexplained", result), need(w, "mmu.10ms", result),
           fmt_ns(c, sizeof c, need(w, "probe.max_ns", result)));
    if (regressions && command)
        printf("  reproduce: %s\n", command);
    jv_free(run);
    jv_free(base);
    return !base ? 2 : regressions ? 1 : 0;
}

/* ---- baseline ---- */

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

static int cmd_baseline(int argc, char **argv) {
    const char *out = NULL, *command = "";
    int first = -1;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--case") && i + 1 < argc) case_name = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--command") && i + 1 < argc) command = argv[++i];
        else if (argv[i][0] == '-') usage();
        else { first = i; break; }
    }
    if (!case_name || !out || first < 0)
        usage();
    double work[3] = {0, 0, 0}, mmu = 1, stalls = 0, wall_p999 = 0, wall_max = 0, budget = 0;
    char settings[512] = "", version[64] = "";
    int runs = 0;
    for (int i = first; i < argc; i++) {
        jv *run = load(argv[i]);
        const jv *w = workload_of(run, argv[i]);
        const char *error = jv_str(jv_get(w, "error"), "");
        if (error[0] || need(w, "over_budget_work", argv[i]) > 0 || need(w, "records_lost", argv[i]) > 0) {
            fprintf(stderr,
                    "ltcheck: %s: will not record a baseline from a run that failed by the collector's own "
                    "figures (error '%s', %.0f over the budget by work)\n",
                    argv[i], error, need(w, "over_budget_work", argv[i]));
            exit(1);
        }
        for (int k = 0; k < 3; k++) {
            char path[64];
            snprintf(path, sizeof path, "pause_work.%s", work_keys[k]);
            double v = need(w, path, argv[i]);
            if (v > work[k]) work[k] = v;
        }
        double m = need(w, "mmu_work.10ms", argv[i]);
        if (m < mmu) mmu = m;
        double s = need(w, "stalls.count", argv[i]);
        if (s > stalls) stalls = s;
        double v = need(w, "pauses.p999_ns", argv[i]);
        if (v > wall_p999) wall_p999 = v;
        v = need(w, "pauses.max_ns", argv[i]);
        if (v > wall_max) wall_max = v;
        budget = need(run, "budget_ns", argv[i]);
        snprintf(settings, sizeof settings, "%s", jv_str(jv_get(w, "settings"), ""));
        snprintf(version, sizeof version, "%s", jv_str(jv_get(run, "gclat"), ""));
        runs++;
        jv_free(run);
    }

    char machine[256] = "unknown";
    FILE *ci = fopen("/proc/cpuinfo", "r");
    if (ci) {
        char line[512];
        while (fgets(line, sizeof line, ci))
            if (!strncmp(line, "model name", 10)) {
                char *p = strchr(line, ':');
                if (p) {
                    p += 1 + (p[1] == ' ');
                    p[strcspn(p, "\n")] = '\0';
                    snprintf(machine, sizeof machine, "%s", p);
                }
                break;
            }
        fclose(ci);
    }
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));

    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        perror(tmp);
        return 2;
    }
    fprintf(f, "{\"case\": ");
    json_str(f, case_name);
    fprintf(f, ",\n \"command\": ");
    json_str(f, command);
    fprintf(f, ",\n \"settings\": ");
    json_str(f, settings);
    fprintf(f, ",\n \"recorded\": \"%s\", \"gclat\": ", when);
    json_str(f, version);
    fprintf(f, ", \"machine\": ");
    json_str(f, machine);
    fprintf(f, ", \"runs\": %d,\n", runs);
    fprintf(f, " \"budget_ns\": %.0f,\n", budget);
    fprintf(f, " \"pause_work\": {\"p99_ns\": %.0f, \"p999_ns\": %.0f, \"max_ns\": %.0f},\n", work[0], work[1],
            work[2]);
    fprintf(f, " \"mmu_work\": {\"10ms\": %.4f},\n", mmu);
    fprintf(f, " \"stalls\": %.0f,\n", stalls);
    fprintf(f, " \"info_wall\": {\"p999_ns\": %.0f, \"max_ns\": %.0f}\n}\n", wall_p999, wall_max);
    if (fclose(f) != 0 || rename(tmp, out) != 0) {
        perror(out);
        return 2;
    }
    char a[32], b[32], c[32];
    printf("  %-26s baseline from %d run(s): work p99 %s p99.9 %s max %s; MMU(work,10ms) %.3f; stalls %.0f -> %s\n",
           case_name, runs, fmt_ns(a, sizeof a, work[0]), fmt_ns(b, sizeof b, work[1]),
           fmt_ns(c, sizeof c, work[2]), mmu, stalls, out);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2)
        usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(argv[1], "check"))
        return cmd_check(argc - 2, argv + 2);
    if (!strcmp(argv[1], "baseline"))
        return cmd_baseline(argc - 2, argv + 2);
    usage();
    return 2;
}

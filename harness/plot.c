/* harness/plot.c - an SVG of each workload's pause histogram and MMU
 * curve, written directly (no plotting dependency).
 *
 * Left panel: pauses per log-spaced bucket of wall time (blue) and of the
 * collector's work (orange), log-log, with the budget as a red line.
 * Right panel: minimum mutator utilisation against the window, by wall
 * time (blue) and by collector work (orange), windows 100 us to 1 s.
 */
#include <math.h>
#include <stdlib.h>

#include "gclat.h"

#define W 1000
#define ROW 320
#define PW 420
#define PH 240
#define BINS 60 /* 10 per decade, 1 us .. 1 s */

static double xlog(double v, double lo, double hi, double x0, double w) {
    if (v < lo)
        v = lo;
    if (v > hi)
        v = hi;
    return x0 + w * (log10(v) - log10(lo)) / (log10(hi) - log10(lo));
}

static void axes(FILE *f, int x0, int y0, const char *title, const char *xlabel, const char *ylabel) {
    fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#444'/>\n", x0, y0, PW, PH);
    fprintf(f, "<text x='%d' y='%d' font-size='14' font-weight='bold'>%s</text>\n", x0, y0 - 8, title);
    fprintf(f, "<text x='%d' y='%d' font-size='11' text-anchor='middle'>%s</text>\n", x0 + PW / 2, y0 + PH + 32, xlabel);
    fprintf(f, "<text x='%d' y='%d' font-size='11' transform='rotate(-90 %d %d)' text-anchor='middle'>%s</text>\n",
            x0 - 40, y0 + PH / 2, x0 - 40, y0 + PH / 2, ylabel);
}

static void decade_ticks(FILE *f, int x0, int y0, double lo, double hi) {
    static const char *const names[] = {"1us", "10us", "100us", "1ms", "10ms", "100ms", "1s"};
    for (int d = 0; d <= 6; d++) {
        double v = 1e3 * pow(10, d);
        if (v < lo || v > hi)
            continue;
        double x = xlog(v, lo, hi, x0, PW);
        fprintf(f, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#ddd'/>\n", x, y0, x, y0 + PH);
        fprintf(f, "<text x='%.1f' y='%d' font-size='10' text-anchor='middle'>%s</text>\n", x, y0 + PH + 14, names[d]);
    }
}

static void histogram(FILE *f, const gclat_result *r, uint64_t budget, int x0, int y0) {
    uint64_t wall[BINS] = {0}, work[BINS] = {0}, maxc = 1;
    for (size_t i = 0; i < r->npauses; i++) {
        double lw = log10((double)(r->pauses[i].wall_ns ? r->pauses[i].wall_ns : 1) / 1e3) * 10;
        double lk = log10((double)(r->pauses[i].work_ns ? r->pauses[i].work_ns : 1) / 1e3) * 10;
        int bw = lw < 0 ? 0 : lw >= BINS ? BINS - 1 : (int)lw;
        int bk = lk < 0 ? 0 : lk >= BINS ? BINS - 1 : (int)lk;
        wall[bw]++;
        work[bk]++;
    }
    for (int b = 0; b < BINS; b++) {
        if (wall[b] > maxc) maxc = wall[b];
        if (work[b] > maxc) maxc = work[b];
    }
    char title[96];
    snprintf(title, sizeof title, "%s: pauses (%zu records)", r->workload, r->npauses);
    axes(f, x0, y0, title, "pause length", "count (log)");
    decade_ticks(f, x0, y0, 1e3, 1e9);
    double ly = log10((double)maxc + 1);
    const uint64_t *series[2] = {wall, work};
    const char *colors[2] = {"#1f77b4", "#ff7f0e"};
    for (int s = 0; s < 2; s++) {
        fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='1.5' points='", colors[s]);
        for (int b = 0; b < BINS; b++) {
            double xa = x0 + (double)PW * b / BINS, xb = x0 + (double)PW * (b + 1) / BINS;
            double y = y0 + PH - PH * log10((double)series[s][b] + 1) / ly;
            fprintf(f, "%.1f,%.1f %.1f,%.1f ", xa, y, xb, y);
        }
        fprintf(f, "'/>\n");
    }
    double bx = xlog((double)budget, 1e3, 1e9, x0, PW);
    fprintf(f, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='red' stroke-dasharray='4 3'/>\n", bx, y0, bx, y0 + PH);
    fprintf(f, "<text x='%.1f' y='%d' font-size='10' fill='red'>budget</text>\n", bx + 3, y0 + 12);
    fprintf(f, "<text x='%d' y='%d' font-size='10' fill='#1f77b4'>wall time</text>", x0 + PW - 110, y0 + 14);
    fprintf(f, "<text x='%d' y='%d' font-size='10' fill='#ff7f0e'>collector work</text>\n", x0 + PW - 110, y0 + 28);
}

static void mmu_curve(FILE *f, const gclat_result *r, int x0, int y0) {
    char title[96];
    snprintf(title, sizeof title, "%s: minimum mutator utilisation", r->workload);
    axes(f, x0, y0, title, "window", "MMU");
    decade_ticks(f, x0, y0, 1e5, 1e9);
    for (int k = 0; k <= 4; k++)
        fprintf(f, "<text x='%d' y='%d' font-size='10' text-anchor='end'>%.2f</text>\n", x0 - 4,
                y0 + PH - PH * k / 4 + 3, k / 4.0);
    const char *colors[2] = {"#1f77b4", "#ff7f0e"};
    for (int use_work = 0; use_work < 2; use_work++) {
        fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='1.5' points='", colors[use_work]);
        for (int i = 0; i <= 40; i++) {
            double win = 1e5 * pow(10, i / 10.0);
            double m = gclat_mmu(r->pauses, r->npauses, (uint64_t)win, use_work);
            if (m < 0)
                m = 0;
            fprintf(f, "%.1f,%.1f ", xlog(win, 1e5, 1e9, x0, PW), y0 + PH - PH * m);
        }
        fprintf(f, "'/>\n");
    }
}

int gclat_write_plot(const char *path, const gclat_opts *o, const gclat_result *rs, int n) {
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif'>\n", W,
            ROW * (n > 0 ? n : 1) + 20);
    fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
    for (int i = 0; i < n; i++) {
        int y0 = 40 + i * ROW;
        histogram(f, &rs[i], o->budget_ns, 70, y0);
        mmu_curve(f, &rs[i], 70 + PW + 80, y0);
    }
    fprintf(f, "</svg>\n");
    return fclose(f) == 0 ? 0 : -1;
}

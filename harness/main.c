/* harness/main.c - gclat: run the workloads, report, judge.
 *
 * Exit status: 0 when every collector pause of every workload stayed within
 * the budget, 1 when one did not or a workload could not run, 2 on bad
 * usage.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gclat.h"

int main(int argc, char **argv) {
    gclat_opts o;
    char err[256];
    int rc = gclat_parse_args(argc, argv, &o, err, sizeof err, stdout);
    if (rc == 1)
        return 0;
    if (rc == 2) {
        fprintf(stderr, "gclat: %s\n", err);
        gclat_usage(stderr);
        return 2;
    }
    int locked = 0;
    if (o.rt) {
        if (mlockall(MCL_CURRENT | MCL_FUTURE) == 0)
            locked = 1;
        else
            fprintf(stderr, "gclat: --rt: mlockall not permitted; going on without it\n");
    }
    if (!o.quiet)
        gclat_report_header(stdout, &o);
    gclat_result rs[GCLAT_MAX_WORKLOADS];
    int pass = 1;
    for (int i = 0; i < o.nworkloads; i++) {
        const gclat_workload *w = gclat_find_workload(o.workloads[i]);
        gclat_run_workload(&o, w, &rs[i]);
        if (!rs[i].error[0])
            gclat_judge(&rs[i], o.budget_ns);
        else
            rs[i].pass = 0;
        pass &= rs[i].pass;
        if (!o.quiet)
            gclat_report_text(stdout, &o, &rs[i]);
        fflush(stdout);
    }
    gclat_report_summary(stdout, &o, rs, o.nworkloads);
    if (o.json_path && gclat_report_json(o.json_path, &o, rs, o.nworkloads)) {
        fprintf(stderr, "gclat: cannot write %s\n", o.json_path);
        pass = 0;
    }
    if (o.trace_path && gclat_write_trace(o.trace_path, rs, o.nworkloads)) {
        fprintf(stderr, "gclat: cannot write %s\n", o.trace_path);
        pass = 0;
    }
    if (o.plot_path && gclat_write_plot(o.plot_path, &o, rs, o.nworkloads)) {
        fprintf(stderr, "gclat: cannot write %s\n", o.plot_path);
        pass = 0;
    }
    for (int i = 0; i < o.nworkloads; i++)
        gclat_result_free(&rs[i]);
    if (locked)
        munlockall();
    return pass ? 0 : 1;
}

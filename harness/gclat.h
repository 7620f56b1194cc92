/* harness/gclat.h - the latency harness's shared types.
 *
 * gclat runs workloads one after another, each on a heap of its own, and
 * judges the collector's pauses against a budget.  The pieces:
 *
 *   options.c     command line -> gclat_opts (bad input: usage, exit 2)
 *   workloads/    the workload shapes: each has an engine-neutral driver
 *                 (open-loop requests, a frame loop, a tick loop, a closed
 *                 loop) and native C bodies; the vm engine runs the same
 *                 shapes as rtvm programs through vm/include/rtvm.h
 *   engine.c      one call interface over the two engines
 *   probe.c       the control probes: threads that measure their own
 *                 hiccups (jHiccup's method), one per CPU
 *   record.c      latency recording (log-linear histograms) and clocks
 *   verdict.c     judging each pause against the budget and the probes
 *   report.c      the text and JSON reports
 *   trace.c       Chrome trace-event JSON (pauses, stalls, phases, hiccups)
 *   plot.c        an SVG of the pause histogram and the MMU curve
 *
 * Everything the collector reports comes from its own records through the
 * public API (rtgc_pause_records, rtgc_get_stats, rtgc_mmu, events); what
 * the workload reports (request, frame, tick latencies) is measured by the
 * harness around the work, so a pause the collector failed to record still
 * shows there.
 */
#ifndef GCLAT_H
#define GCLAT_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <rtgc.h>

#define GCLAT_VERSION "0.1.0"
#define GCLAT_MAX_WORKLOADS 8
#define GCLAT_MAX_PARAMS 16
#define GCLAT_MAX_THREADS 64

typedef enum gclat_engine { GCLAT_NATIVE = 0, GCLAT_VM = 1 } gclat_engine;

/* --- options --- */
typedef struct gclat_param {
    char key[32];
    char value[64];
} gclat_param;

typedef struct gclat_opts {
    const char *workloads[GCLAT_MAX_WORKLOADS]; /* names, in run order */
    int nworkloads;
    uint64_t duration_ns;     /* per workload; 0: each workload's default */
    const char *mode;         /* NULL: each workload's default */
    int threads;              /* mutator threads (web); 0: the default */
    size_t heap;              /* 0: each workload's default */
    uint64_t budget_ns;       /* the pause budget judged against (default 1 ms) */
    gclat_engine engine;
    const char *jit;          /* vm engine: auto|on|off */
    uint64_t seed;
    const char *json_path, *trace_path, *plot_path;
    const char *sample_path;  /* --sample: one line of heap, RSS and pause figures a second */
    const char *gc_options;   /* extra rtgc options "key=value,..." */
    const char *programs_dir; /* where the vm engine finds its programs */
    gclat_param params[GCLAT_MAX_PARAMS];
    int nparams;
    int pin, rt, quiet;
    int progress;             /* -1 auto (a terminal on stderr), 0 off, 1 on */
} gclat_opts;

/* Returns 0, or 2 with a message in err (bad usage); 1 for --help/--version
 * (text written to out). */
int gclat_parse_args(int argc, char **argv, gclat_opts *o, char *err, size_t errlen, FILE *out);
void gclat_usage(FILE *f);
/* Workload parameter `key` (from --param key=value), or def. */
double gclat_param_num(const gclat_opts *o, const char *key, double def);
/* Validates --param keys against the known ones of the selected workloads. */
int gclat_check_params(const gclat_opts *o, char *err, size_t errlen);

/* --- latency recording --- */
typedef struct gclat_lat {
    rtgc_hist hist;     /* ns, from each operation's scheduled start to its end */
    rtgc_hist own;      /* ns, from its actual start to its end (its own time) */
    uint64_t over;      /* operations over the workload's deadline */
} gclat_lat;

uint64_t gclat_now(void);
/* Sleep until absolute CLOCK_MONOTONIC time `when_ns`, inside a blocking
 * region of t (the collector never waits for a sleeping mutator). */
void gclat_sleep_until(rtgc_thread *t, uint64_t when_ns);
void gclat_lat_init(gclat_lat *l);
void gclat_lat_add(gclat_lat *l, uint64_t ns, uint64_t deadline_ns);
/* The same, with the operation's own time (start to end) beside it. */
void gclat_lat_add2(gclat_lat *l, uint64_t ns, uint64_t own_ns, uint64_t deadline_ns);
void gclat_lat_merge(gclat_lat *into, const gclat_lat *from);

/* --- control probes --- */
typedef struct gclat_hiccup {
    uint64_t start_ns, len_ns;  /* the probe woke len_ns later than it asked to, at start+len */
    int cpu;
} gclat_hiccup;

typedef struct gclat_probe_result {
    rtgc_hist hist;             /* oversleep of every wake-up, ns */
    gclat_hiccup *hiccups;      /* those over the recording threshold, by start */
    size_t nhiccups;
    int nprobes;
    uint64_t wakeups;
} gclat_probe_result;

typedef struct gclat_probes gclat_probes;
gclat_probes *gclat_probes_start(int pin, int rt);
/* Stops the probes and fills `out` (whose hiccups the caller frees). */
void gclat_probes_stop(gclat_probes *p, gclat_probe_result *out);
#define GCLAT_HICCUP_RECORD_NS 50000u  /* hiccups kept as intervals: over 50 us */

/* --- the run of one workload --- */
typedef struct gclat_run gclat_run;

typedef struct gclat_result {
    const char *workload;
    const char *unit;           /* "request", "frame", ... */
    const char *mode;
    gclat_engine engine;
    int threads;
    size_t heap_limit;
    uint64_t duration_ns;       /* measured phase */
    uint64_t deadline_ns;       /* what "over" counts against */
    uint64_t ops;               /* operations done in the measured phase */
    uint64_t ops_scheduled;     /* open-loop: operations due in the phase */
    gclat_lat lat;              /* the workload's own latency */
    uint64_t frames_missed;     /* gaming: frames that ended after their slot */
    uint64_t step_ns;           /* step mode: time given to rtgc_step */
    rtgc_stats stats;
    rtgc_pause_record *pauses;  /* every record of the heap (setup included) */
    size_t npauses;
    uint64_t pauses_lost;       /* records the ring dropped */
    double mmu_wall[3], mmu_work[3]; /* windows 1, 10, 100 ms */
    gclat_probe_result probe;
    uint64_t t_start_ns, t_end_ns;   /* the whole workload (setup included) */
    uint64_t measure_start_ns;
    /* phase events for the trace */
    struct gclat_phase { uint64_t t; int kind; uint64_t cycle; } *phases;
    size_t nphases;
    /* verdict (verdict.c) */
    uint64_t over_work;         /* pauses whose collector work exceeded the budget */
    uint64_t over_work_explained; /* ... by no more than a probe hiccup beside them (steal) */
    uint64_t over_wall_explained; /* over the budget by wall time, explained by a probe hiccup */
    uint64_t over_wall_preempted; /* ... of those explained: the thread was preempted inside the pause */
    uint64_t over_wall_unexplained; /* over by wall time with no platform hiccup to explain it */
    uint64_t stalls_over;       /* stalls over the budget */
    uint64_t over_by_cause[RTGC_CAUSE_COUNT]; /* pauses that broke the budget, by cause */
    rtgc_hist work_judged;      /* collector work per pause, a pause whose excess over the budget a
                                   probe hiccup explains counted at the budget (the JSON's pause_work) */
#define GCLAT_BROKE_KEEP 8
    rtgc_pause_record broke[GCLAT_BROKE_KEEP]; /* the first pauses that broke it */
    int nbroke;
    int pass;
    char error[256];            /* a workload that could not run */
    char settings[512];         /* rtgc_config_format of the heap */
    uint64_t checksum;          /* the workload's own result, for the record */
} gclat_result;

/* Per-thread execution context handed to a workload's driver. */
typedef struct gclat_ctx {
    gclat_run *run;
    rtgc_thread *t;
    int worker;
    void *native;               /* native engine: the workload's per-thread state */
    void *vm;                   /* vm engine: rtvm_ctx */
    int arrived;                /* passed gclat_run_barrier */
    char error[256];
} gclat_ctx;

/* A workload: defaults, its driver, and its native bodies. */
typedef int64_t (*gclat_native_fn)(gclat_ctx *c, int argc, const int64_t *argv);
typedef struct gclat_entry {
    const char *name;
    gclat_native_fn fn;
} gclat_entry;

typedef struct gclat_workload {
    const char *name;
    const char *summary;
    const char *unit;
    const char *default_mode;
    size_t default_heap;
    int default_threads;
    uint64_t default_duration_ns;
    const char *const *params;  /* parameter keys it reads (NULL-terminated) */
    /* native engine: per-thread state and its bodies */
    void *(*native_init)(gclat_ctx *c);
    void (*native_fini)(gclat_ctx *c, void *state);
    const gclat_entry *entries;
    /* the driver: runs on each of run->threads threads */
    void (*drive)(gclat_ctx *c);
} gclat_workload;

const gclat_workload *gclat_find_workload(const char *name);
extern const gclat_workload *const gclat_workloads[];
extern const char *const gclat_default_workloads[];

/* What a driver uses. */
struct gclat_run {
    const gclat_opts *opts;
    const gclat_workload *w;
    rtgc_heap *heap;
    int threads;
    uint64_t seed;
    uint64_t duration_ns;
    uint64_t budget_ns;
    int step_mode;
    void *program;              /* vm engine: rtvm_program */
    gclat_result *res;
    /* filled by drivers, merged under lock */
    void *lock;
    volatile int failed;
    uint64_t measure_start_ns;  /* set once by gclat_run_barrier */
    uint64_t measure_end_ns;
};

/* Call a workload entry on the context's engine.  0 on success; -1 on error
 * (message in c->error; the run stops). */
int gclat_call(gclat_ctx *c, const char *entry, int argc, const int64_t *argv, int64_t *result);
/* Step mode: give the time until `when_ns`, less `margin_ns`, to rtgc_step
 * in slices of at most the budget, until the cycle needs no more; returns
 * the time given.  Does nothing in the other modes. */
uint64_t gclat_step_slack(gclat_ctx *c, uint64_t when_ns, uint64_t margin_ns);

/* Every thread calls this after its setup: the last to arrive starts the
 * measured phase; returns its start time. */
uint64_t gclat_run_barrier(gclat_ctx *c);
void gclat_run_fail(gclat_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Merge a thread's figures into the result. */
void gclat_run_add(gclat_ctx *c, const gclat_lat *lat, uint64_t ops, uint64_t ops_scheduled,
                   uint64_t frames_missed, uint64_t step_ns, uint64_t checksum);
void gclat_pin_self(gclat_run *run, int worker);
/* What the workload's "over" counts against (every worker sets the same). */
void gclat_run_deadline(gclat_ctx *c, uint64_t deadline_ns);

/* Run one workload to completion: heap, threads, probes, records. */
int gclat_run_workload(const gclat_opts *o, const gclat_workload *w, gclat_result *res);
void gclat_result_free(gclat_result *r);

/* verdict.c */
void gclat_judge(gclat_result *r, uint64_t budget_ns);
/* Minimum mutator utilisation over every window of window_ns, worst thread. */
double gclat_mmu(const rtgc_pause_record *recs, size_t n, uint64_t window_ns, int use_work);
/* report.c */
void gclat_report_header(FILE *f, const gclat_opts *o);
void gclat_report_text(FILE *f, const gclat_opts *o, const gclat_result *r);
void gclat_report_summary(FILE *f, const gclat_opts *o, const gclat_result *rs, int n);
int gclat_report_json(const char *path, const gclat_opts *o, const gclat_result *rs, int n);
/* trace.c, plot.c */
int gclat_write_trace(const char *path, const gclat_result *rs, int n);
int gclat_write_plot(const char *path, const gclat_opts *o, const gclat_result *rs, int n);

/* Small helpers. */
void gclat_fmt_ns(char *buf, size_t len, uint64_t ns);
uint64_t gclat_rand(uint64_t *state);

#endif

/* harness/run.c - running one workload: its heap, threads, probes and
 * records.
 *
 * Order of a run: a heap of the workload's own (its mode, heap limit and
 * the budget), the control probes, then one thread per worker.  A worker
 * attaches, makes its engine context (native state or an rtvm context),
 * and runs the workload's driver: the driver's setup calls come first, then
 * every worker meets in gclat_run_barrier, which starts the measured phase
 * for all of them at once.  Meanwhile the main thread (not attached to the
 * heap) drains the collector's pause records every 100 ms into one array,
 * so the ring never wraps, and keeps the progress line.  The verdict covers
 * every record of the heap, setup included; the workload's own latencies
 * cover the measured phase.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "gclat.h"

typedef struct run_sync {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived;
    int finished;
    uint64_t phase_cap, phase_n;
} run_sync;

/* --- phase events (the trace's collector track) --- */
static void on_event(rtgc_heap *heap, const rtgc_event *ev, void *data) {
    gclat_result *r = data;
    if (ev->kind > RTGC_EV_CYCLE_END || !r->phases)
        return;
    /* Called on any thread, possibly inside a pause: claim a slot, no lock. */
    size_t i = __atomic_fetch_add(&r->nphases, 1, __ATOMIC_RELAXED);
    if (i < (1u << 16)) {
        r->phases[i].t = ev->time_ns;
        r->phases[i].kind = (int)ev->kind;
        r->phases[i].cycle = ev->cycle;
    }
}

void gclat_run_fail(gclat_ctx *c, const char *fmt, ...) {
    run_sync *s = c->run->lock;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&s->mu);
    if (!c->run->res->error[0])
        snprintf(c->run->res->error, sizeof c->run->res->error, "%s", msg);
    __atomic_store_n(&c->run->failed, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&s->mu);
}

uint64_t gclat_run_barrier(gclat_ctx *c) {
    gclat_run *run = c->run;
    run_sync *s = run->lock;
    if (c->arrived)
        return run->measure_start_ns;
    c->arrived = 1;
    if (c->t)
        rtgc_enter_blocking(c->t);
    pthread_mutex_lock(&s->mu);
    if (++s->arrived == run->threads) {
        uint64_t now = gclat_now();
        /* atomic: the progress line reads them without the lock */
        __atomic_store_n(&run->measure_start_ns, now, __ATOMIC_RELAXED);
        __atomic_store_n(&run->measure_end_ns, now + run->duration_ns, __ATOMIC_RELAXED);
        pthread_cond_broadcast(&s->cv);
    } else {
        while (s->arrived < run->threads)
            pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    if (c->t)
        rtgc_leave_blocking(c->t);
    return run->measure_start_ns;
}

void gclat_run_deadline(gclat_ctx *c, uint64_t deadline_ns) {
    run_sync *s = c->run->lock;
    pthread_mutex_lock(&s->mu);
    c->run->res->deadline_ns = deadline_ns;
    pthread_mutex_unlock(&s->mu);
}

void gclat_run_add(gclat_ctx *c, const gclat_lat *lat, uint64_t ops, uint64_t ops_scheduled,
                   uint64_t frames_missed, uint64_t step_ns, uint64_t checksum) {
    run_sync *s = c->run->lock;
    gclat_result *r = c->run->res;
    pthread_mutex_lock(&s->mu);
    gclat_lat_merge(&r->lat, lat);
    r->ops += ops;
    r->ops_scheduled += ops_scheduled;
    r->frames_missed += frames_missed;
    r->step_ns += step_ns;
    r->checksum += checksum;
    pthread_mutex_unlock(&s->mu);
}

static int cpu_list(int *cpus, int max) {
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int c = 0; c < CPU_SETSIZE && n < max; c++)
            if (CPU_ISSET(c, &set))
                cpus[n++] = c;
    return n;
}

static int pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* Mutator k runs on CPU k (round robin); the collector thread on the last. */
void gclat_pin_self(gclat_run *run, int worker) {
    int cpus[256];
    int n = cpu_list(cpus, 256);
    if (n > 0)
        pin_to(cpus[worker % n]);
}

typedef struct worker_arg {
    gclat_ctx ctx;
    pthread_t th;
} worker_arg;

static void *worker_main(void *p) {
    worker_arg *a = p;
    gclat_ctx *c = &a->ctx;
    gclat_run *run = c->run;
    run_sync *s = run->lock;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    if (run->opts->pin)
        gclat_pin_self(run, c->worker);
    if (run->opts->rt) {
        struct sched_param sp = {.sched_priority = 10};
        pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    }
    rtgc_error err;
    c->t = rtgc_thread_attach(run->heap, &err);
    if (!c->t) {
        gclat_run_fail(c, "thread attach: %s", err.message);
    } else if (gclat_engine_init(c) == 0) {
        run->w->drive(c);
        gclat_engine_fini(c);
    }
    if (!c->arrived)
        gclat_run_barrier(c);
    if (c->t)
        rtgc_thread_detach(c->t);
    pthread_mutex_lock(&s->mu);
    s->finished++;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void drain(gclat_run *run, uint64_t *next, size_t *cap) {
    gclat_result *r = run->res;
    for (;;) {
        if (r->npauses == *cap) {
            size_t nc = *cap ? *cap * 2 : 4096;
            rtgc_pause_record *np = realloc(r->pauses, nc * sizeof *np);
            if (!np)
                return;
            r->pauses = np;
            *cap = nc;
        }
        uint64_t first = *next;
        size_t got = rtgc_pause_records(run->heap, first, r->pauses + r->npauses, *cap - r->npauses, next);
        if (*next - got > first)
            r->pauses_lost += *next - got - first;
        r->npauses += got;
        if (got == 0 || r->npauses < *cap)
            return;
    }
}

/* --sample FILE (soak tests, gc/tests/soak.sh): once a second while a
 * workload runs, one line: the heap's figures (rtgc_get_stats), the
 * process's resident set (/proc/self/status), the memory of the harness's
 * own pause array (which grows by design), and the pauses recorded since
 * the last line (count, stalls, the collector's work per pause: p50, p99,
 * max; the longest wall time).  One file for every workload of the run. */
typedef struct sampler {
    FILE *f;
    uint64_t next_ns;
    size_t from;
    uint64_t *work;
    size_t cap;
} sampler;

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void sample(gclat_run *run, sampler *s, uint64_t now) {
    gclat_result *r = run->res;
    if (!s->f || now < s->next_ns)
        return;
    s->next_ns = now + 1000000000ull;
    rtgc_stats st;
    rtgc_get_stats(run->heap, &st);
    size_t n = r->npauses > s->from ? r->npauses - s->from : 0, np = 0, stalls = 0;
    if (n > s->cap) {
        uint64_t *w = realloc(s->work, n * sizeof *w);
        if (w)
            s->work = w, s->cap = n;
    }
    uint64_t wall_max = 0;
    for (size_t i = s->from; i < r->npauses; i++) {
        const rtgc_pause_record *p = &r->pauses[i];
        if (p->stall)
            stalls++;
        if (p->wall_ns > wall_max)
            wall_max = p->wall_ns;
        if (np < s->cap)
            s->work[np++] = p->work_ns;
    }
    s->from = r->npauses;
    qsort(s->work, np, sizeof *s->work, cmp_u64);
    uint64_t p50 = np ? s->work[(np - 1) / 2] : 0, p99 = np ? s->work[(np - 1) * 99 / 100] : 0;
    fprintf(s->f, "%.1f %s %zu %zu %zu %zu %ld %zu %llu %llu %zu %zu %llu %llu %llu %llu\n",
            (now - r->t_start_ns) / 1e9, run->w->name, st.heap_size, st.heap_peak, st.committed, st.live_bytes,
            rss_kb(), r->npauses * sizeof *r->pauses / 1024, (unsigned long long)st.cycles,
            (unsigned long long)st.oom_count, np, stalls, (unsigned long long)p50, (unsigned long long)p99,
            (unsigned long long)(np ? s->work[np - 1] : 0), (unsigned long long)wall_max);
    fflush(s->f);
}

static void sampler_open(const gclat_opts *o, sampler *s, gclat_result *res) {
    static int opened;
    memset(s, 0, sizeof *s);
    if (!o->sample_path)
        return;
    s->f = fopen(o->sample_path, opened ? "a" : "w");
    if (!s->f) {
        snprintf(res->error, sizeof res->error, "--sample %s: cannot open it for writing", o->sample_path);
        fprintf(stderr, "gclat: cannot write %s\n", o->sample_path);
        return;
    }
    if (!opened)
        fprintf(s->f, "# t_s workload heap_size heap_peak committed live_bytes rss_kb records_kb cycles oom "
                      "pauses stalls work_p50_ns work_p99_ns work_max_ns wall_max_ns\n");
    opened = 1;
}

static void sampler_close(sampler *s) {
    if (s->f)
        fclose(s->f);
    free(s->work);
}

static void progress(const gclat_run *run, int on, uint64_t t0) {
    if (!on)
        return;
    uint64_t now = gclat_now();
    char line[160];
    const char *engine = run->opts->engine == GCLAT_VM ? "vm" : "native";
    uint64_t start = __atomic_load_n(&run->measure_start_ns, __ATOMIC_RELAXED);
    uint64_t end = __atomic_load_n(&run->measure_end_ns, __ATOMIC_RELAXED);
    if (!start || now < start) {
        snprintf(line, sizeof line, "gclat: %s (%s, %s): setting up, %.1f s", run->w->name, engine,
                 run->res->mode, (now - t0) / 1e9);
    } else {
        double left = end > now ? (end - now) / 1e9 : 0;
        snprintf(line, sizeof line, "gclat: %s (%s, %s): %.1f s left", run->w->name, engine, run->res->mode, left);
    }
    fprintf(stderr, "\r%-70s", line);
    fflush(stderr);
}

int gclat_run_workload(const gclat_opts *o, const gclat_workload *w, gclat_result *res) {
    memset(res, 0, sizeof *res);
    gclat_lat_init(&res->lat);
    res->workload = w->name;
    res->unit = w->unit;
    res->engine = o->engine;

    rtgc_config cfg;
    rtgc_error err;
    rtgc_config_init(&cfg);
    cfg.heap_limit = o->heap ? o->heap : w->default_heap;
    cfg.pause_budget_ns = o->budget_ns < RTGC_BUDGET_MIN_NS ? RTGC_BUDGET_MIN_NS : o->budget_ns;
    cfg.pause_log = 1u << 18;
    char modeopt[64];
    snprintf(modeopt, sizeof modeopt, "mode=%s", o->mode ? o->mode : w->default_mode);
    if (rtgc_config_parse(&cfg, modeopt, &err) ||
        (o->gc_options && rtgc_config_parse(&cfg, o->gc_options, &err)) ||
        rtgc_config_from_env(&cfg, NULL, &err)) {
        snprintf(res->error, sizeof res->error, "collector options: %s", err.message);
        return -1;
    }
    res->mode = rtgc_mode_name(cfg.mode);
    res->heap_limit = cfg.heap_limit;
    rtgc_config_format(&cfg, res->settings, sizeof res->settings);

    run_sync sync;
    memset(&sync, 0, sizeof sync);
    pthread_mutex_init(&sync.mu, NULL);
    pthread_cond_init(&sync.cv, NULL);
    gclat_run run = {
        .opts = o,
        .w = w,
        .threads = w->default_threads > 1 ? (o->threads ? o->threads : w->default_threads) : 1,
        .seed = o->seed,
        .duration_ns = o->duration_ns ? o->duration_ns : w->default_duration_ns,
        .budget_ns = o->budget_ns,
        .step_mode = cfg.mode == RTGC_MODE_STEP,
        .res = res,
        .lock = &sync,
    };
    res->threads = run.threads;
    sampler smp;
    sampler_open(o, &smp, res);
    if (res->error[0])
        return -1;
    res->phases = calloc(1u << 16, sizeof *res->phases);

    /* The collector thread inherits the creating thread's CPU and policy. */
    cpu_set_t saved_set;
    int pinned = 0, cpus[256], ncpu = cpu_list(cpus, 256);
    if (o->pin && ncpu > 0 && sched_getaffinity(0, sizeof saved_set, &saved_set) == 0)
        pinned = pin_to(cpus[ncpu - 1]) == 0;
    int saved_policy = 0;
    struct sched_param saved_param;
    int rt_set = 0;
    if (o->rt) {
        pthread_getschedparam(pthread_self(), &saved_policy, &saved_param);
        struct sched_param sp = {.sched_priority = 10}; /* the mutators' own: a lower one would invert priorities */
        rt_set = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
    }
    rtgc_status st = rtgc_heap_create(&cfg, &run.heap, &err);
    if (pinned)
        sched_setaffinity(0, sizeof saved_set, &saved_set);
    if (rt_set)
        pthread_setschedparam(pthread_self(), saved_policy, &saved_param);
    if (st) {
        snprintf(res->error, sizeof res->error, "heap: %s", err.message);
        free(res->phases);
        res->phases = NULL;
        sampler_close(&smp);
        return -1;
    }
    rtgc_set_event_handler(run.heap, on_event, res);

    if (gclat_engine_load(&run) != 0) {
        rtgc_heap_destroy(run.heap);
        sampler_close(&smp);
        return -1;
    }

    res->t_start_ns = gclat_now();
    gclat_probes *probes = gclat_probes_start(o->pin, o->rt);
    worker_arg *workers = calloc((size_t)run.threads, sizeof *workers);
    int started = 0;
    for (int i = 0; i < run.threads; i++) {
        workers[i].ctx.run = &run;
        workers[i].ctx.worker = i;
        if (pthread_create(&workers[i].th, NULL, worker_main, &workers[i]) != 0) {
            snprintf(res->error, sizeof res->error, "could not start worker thread %d", i);
            __atomic_store_n(&run.failed, 1, __ATOMIC_RELEASE);
            /* the ones that started must not wait for the rest at the barrier */
            pthread_mutex_lock(&sync.mu);
            run.threads = started;
            if (sync.arrived >= started) {
                run.measure_start_ns = gclat_now();
                run.measure_end_ns = run.measure_start_ns;
                sync.arrived = started;
            }
            pthread_cond_broadcast(&sync.cv);
            pthread_mutex_unlock(&sync.mu);
            break;
        }
        started++;
    }

    int show = o->progress == 1 || (o->progress == -1 && isatty(2));
    /* Room for a million records up front: growing the array while the
     * workload runs would remap memory (taking the process's mmap lock
     * for writing), which stalls the mutators' page faults. */
    uint64_t next = 0;
    size_t cap = 1u << 20;
    res->pauses = malloc(cap * sizeof *res->pauses);
    if (!res->pauses)
        cap = 0;
    for (;;) {
        pthread_mutex_lock(&sync.mu);
        int done = sync.finished >= started;
        pthread_mutex_unlock(&sync.mu);
        if (done)
            break;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        drain(&run, &next, &cap);
        progress(&run, show, res->t_start_ns);
        sample(&run, &smp, gclat_now());
    }
    for (int i = 0; i < started; i++)
        pthread_join(workers[i].th, NULL);
    if (show)
        fprintf(stderr, "\r%-70s\r", "");
    res->t_end_ns = gclat_now();
    gclat_probes_stop(probes, &res->probe);
    drain(&run, &next, &cap);
    smp.next_ns = 0;
    sample(&run, &smp, gclat_now());      /* the last line covers the rest */
    sampler_close(&smp);
    free(workers);

    res->measure_start_ns = run.measure_start_ns;
    res->duration_ns = run.measure_end_ns > run.measure_start_ns ? run.measure_end_ns - run.measure_start_ns : 0;
    rtgc_get_stats(run.heap, &res->stats);
    static const uint64_t windows[3] = {1000000, 10000000, 100000000};
    for (int i = 0; i < 3; i++) {
        res->mmu_wall[i] = gclat_mmu(res->pauses, res->npauses, windows[i], 0);
        res->mmu_work[i] = gclat_mmu(res->pauses, res->npauses, windows[i], 1);
    }
    if (res->nphases > (1u << 16))
        res->nphases = 1u << 16;
    gclat_engine_unload(&run);
    rtgc_heap_destroy(run.heap);
    pthread_mutex_destroy(&sync.mu);
    pthread_cond_destroy(&sync.cv);
    gclat_judge(res, o->budget_ns);
    return res->error[0] ? -1 : 0;
}

void gclat_result_free(gclat_result *r) {
    free(r->pauses);
    free(r->phases);
    free(r->probe.hiccups);
    r->pauses = NULL;
    r->phases = NULL;
    r->probe.hiccups = NULL;
}

uint64_t gclat_step_slack(gclat_ctx *c, uint64_t when, uint64_t margin) {
    gclat_run *run = c->run;
    uint64_t given = 0;
    if (!run->step_mode)
        return 0;
    for (;;) {
        uint64_t now = gclat_now();
        if (now + margin + 50000 >= when)
            break;
        uint64_t b = when - now - margin;
        if (b > run->budget_ns)
            b = run->budget_ns;
        if (b < RTGC_BUDGET_MIN_NS)
            b = RTGC_BUDGET_MIN_NS;
        int more = rtgc_step(c->t, b);
        given += gclat_now() - now;
        if (!more)
            break;
    }
    return given;
}

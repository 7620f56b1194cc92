/* harness/workloads/embedded.c - a control loop on a small device.
 *
 * One thread, a small fixed heap (8 MiB), incremental mode (no collector
 * thread).  A tick runs every millisecond (param hz, default 1000) and
 * processes `events` sensor events (default 8): each is a record (sensor
 * id, a boxed float reading, a timestamp, a 16-byte tag string and a window
 * of the 8 readings around it as boxed floats, about 300 bytes), updates the
 * sensor's moving average (a new boxed float) and lands in a ring of `ring`
 * events (default 2048; the oldest is overwritten).  Every 100 ticks it
 * builds a summary log string of the 8 sensors.  About 2.5 KiB allocated
 * per tick, 0.6 MiB live.
 *
 * A tick's latency is measured from its scheduled start; each tick's
 * deadline is its period, and a late tick delays the ticks behind it (they
 * are not skipped).  The report adds the peak heap against the limit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "objects.h"

enum { V_SENSOR, V_VALUE, V_TS, V_TAG, V_WINDOW }; /* event: rec5 */
enum { N_ID, N_AVG, N_COUNT };                     /* sensor: rec3 */
#define SENSORS 8

typedef struct emb_state {
    void **ring, **sensors, **log;
    int64_t events_total;
} emb_state;

static void *emb_init(gclat_ctx *c) {
    emb_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ring = rtgc_handle(c->t, NULL);
    s->sensors = rtgc_handle(c->t, NULL);
    s->log = rtgc_handle(c->t, NULL);
    return s;
}

static void emb_fini(gclat_ctx *c, void *p) {
    free(p);
}

/* (setup ring) */
static int64_t emb_setup(gclat_ctx *c, int argc, const int64_t *argv) {
    emb_state *s = c->native;
    rtgc_thread *t = c->t;
    int64_t ring = argc > 0 && argv[0] > 0 ? argv[0] : 2048;
    void *v = new_vec(t, (uint32_t)ring);
    if (oom(c, v))
        return 0;
    *s->ring = v;
    v = new_vec(t, SENSORS);
    if (oom(c, v))
        return 0;
    *s->sensors = v;
    for (uint32_t i = 0; i < SENSORS; i++) {
        void *sn = new_rec(t, 3);
        if (oom(c, sn))
            return 0;
        set(t, sn, N_ID, imm(i));
        set(t, sn, N_COUNT, imm(0));
        set(t, *s->sensors, i, sn);
        void *f = new_float(t, 0.0);
        if (oom(c, f))
            return 0;
        set(t, get(t, *s->sensors, i), N_AVG, f);
    }
    return ring;
}

/* (tick n events): returns the events processed */
static int64_t emb_tick(gclat_ctx *c, int argc, const int64_t *argv) {
    emb_state *s = c->native;
    rtgc_thread *t = c->t;
    int64_t n = argc > 0 ? argv[0] : 0, events = argc > 1 && argv[1] > 0 ? argv[1] : 8;
    char buf[64];
    RTGC_FRAME(t, r, 3);
    for (int64_t e = 0; e < events; e++) {
        int64_t k = s->events_total++;
        uint32_t sensor = (uint32_t)(k % SENSORS);
        double value = 20.0 + 5.0 * sin((double)k * 0.01 + sensor);
        r[0] = new_rec(t, 5);
        if (oom(c, r[0]))
            goto out;
        set(t, r[0], V_SENSOR, imm(sensor));
        r[1] = new_float(t, value);
        if (oom(c, r[1]))
            goto out;
        set(t, r[0], V_VALUE, r[1]);
        set(t, r[0], V_TS, imm(n));
        snprintf(buf, sizeof buf, "s%u-t%08lld", sensor, (long long)(n % 100000000));
        r[1] = new_str(t, buf, 16);
        if (oom(c, r[1]))
            goto out;
        set(t, r[0], V_TAG, r[1]);
        r[1] = new_vec(t, 8);
        if (oom(c, r[1]))
            goto out;
        set(t, r[0], V_WINDOW, r[1]);
        for (uint32_t w = 0; w < 8; w++) {
            void *f = new_float(t, value + 0.1 * w);
            if (oom(c, f))
                goto out;
            set(t, r[1], w, f);
        }
        /* the sensor's moving average */
        void *sn = get(t, *s->sensors, sensor);
        double avg = float_of(get(t, sn, N_AVG)) * 0.9 + value * 0.1;
        void *f = new_float(t, avg);
        if (oom(c, f))
            goto out;
        sn = get(t, *s->sensors, sensor);
        set(t, sn, N_AVG, f);
        set(t, sn, N_COUNT, imm(unimm(get(t, sn, N_COUNT)) + 1));
        set(t, *s->ring, (uint32_t)(k % count_of(*s->ring)), r[0]);
    }
    if (n % 100 == 0) {
        /* the summary log line: one piece per sensor, joined */
        r[0] = new_vec(t, SENSORS);
        if (oom(c, r[0]))
            goto out;
        for (uint32_t i = 0; i < SENSORS; i++) {
            void *sn = get(t, *s->sensors, i);
            int len = snprintf(buf, sizeof buf, "sensor %u avg %.3f n %lld; ", i, float_of(get(t, sn, N_AVG)),
                               (long long)unimm(get(t, sn, N_COUNT)));
            void *p = new_str(t, buf, (uint32_t)len);
            if (oom(c, p))
                goto out;
            set(t, r[0], i, p);
        }
        r[1] = str_join(t, &r[0]);
        if (oom(c, r[1]))
            goto out;
        *s->log = r[1];
    }
out:
    RTGC_FRAME_POP(t, r);
    rtgc_poll(t);
    return events;
}

static void emb_drive(gclat_ctx *c) {
    gclat_run *run = c->run;
    double hz = gclat_param_num(run->opts, "hz", 1000);
    int64_t events = (int64_t)gclat_param_num(run->opts, "events", 8);
    int64_t ring = (int64_t)gclat_param_num(run->opts, "ring", 2048);
    if (hz <= 0 || hz > 100000 || events <= 0 || ring <= 0) {
        gclat_run_fail(c, "embedded: hz must be in (0, 100000], events and ring positive");
        return;
    }
    if (gclat_call(c, "setup", 1, &ring, NULL))
        return;
    gclat_lat lat;
    gclat_lat_init(&lat);
    uint64_t period = (uint64_t)(1e9 / hz);
    gclat_run_deadline(c, period);
    uint64_t t0 = gclat_run_barrier(c), end = run->measure_end_ns;
    uint64_t n = 0, sum = 0, step_ns = 0;
    while (!run->failed) {
        uint64_t sched = t0 + n * period;
        if (sched >= end)
            break;
        if (gclat_now() > end + 2000000000ull)
            break;
        step_ns += gclat_step_slack(c, sched, 100000); /* step mode: idle time goes to the collector */
        gclat_sleep_until(c->t, sched);
        uint64_t began = gclat_now();
        int64_t a[2] = {(int64_t)n, events}, got;
        if (gclat_call(c, "tick", 2, a, &got))
            break;
        sum += (uint64_t)got;
        uint64_t done = gclat_now();
        gclat_lat_add2(&lat, done - sched, done - began, period);
        n++;
    }
    gclat_run_add(c, &lat, n, (end - t0 + period - 1) / period, 0, step_ns, sum);
}

static const gclat_entry emb_entries[] = {{"setup", emb_setup}, {"tick", emb_tick}, {NULL, NULL}};
static const char *const emb_params[] = {"hz", "events", "ring", NULL};

const gclat_workload gclat_embedded = {
    .name = "embedded",
    .summary = "a 1 kHz control tick on an 8 MiB heap, incremental mode",
    .unit = "tick",
    .default_mode = "incremental",
    .default_heap = (size_t)8 << 20,
    .default_threads = 1,
    .default_duration_ns = 4000000000ull,
    .params = emb_params,
    .native_init = emb_init,
    .native_fini = emb_fini,
    .entries = emb_entries,
    .drive = emb_drive,
};

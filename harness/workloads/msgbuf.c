/* harness/workloads/msgbuf.c - the message-buffer benchmark.
 *
 * A window of `window` messages (default 200,000) of 1 KiB each (the
 * object, header included: 1016 bytes of payload, written in full), each new
 * message overwriting the oldest; one thread pushes as fast as it can for
 * the duration or `pushes` pushes (default 5,000,000), whichever comes
 * first.  Live data: the window, about 200 MiB.  The figures to compare with
 * other runtimes: the longest push and the push loop's time.  A push's
 * latency is its own time (a closed loop); "over" counts pushes over the
 * budget.
 */
#include <stdlib.h>

#include "objects.h"

#define MSG_PAYLOAD (1024u - RTGC_HEADER_BYTES)

typedef struct msg_state {
    void **window;
} msg_state;

static void *msg_init(gclat_ctx *c) {
    msg_state *s = calloc(1, sizeof *s);
    if (s)
        s->window = rtgc_handle(c->t, NULL);
    return s;
}

static void msg_fini(gclat_ctx *c, void *p) {
    free(p);
}

/* (setup window) */
static int64_t msg_setup(gclat_ctx *c, int argc, const int64_t *argv) {
    msg_state *s = c->native;
    int64_t n = argc > 0 && argv[0] > 0 ? argv[0] : 200000;
    void *w = new_vec(c->t, (uint32_t)n);
    if (oom(c, w))
        return 0;
    *s->window = w;
    return n;
}

/* (push i) */
static int64_t msg_push(gclat_ctx *c, int argc, const int64_t *argv) {
    msg_state *s = c->native;
    rtgc_thread *t = c->t;
    int64_t i = argc > 0 ? argv[0] : 0;
    void *m = new_buf(t, MSG_PAYLOAD);   /* written in full below */
    if (oom(c, m))
        return 0;
    memset(str_bytes(m), (int)(i & 0xff), MSG_PAYLOAD);
    set(t, *s->window, (uint32_t)((uint64_t)i % count_of(*s->window)), m);
    rtgc_poll(t);
    return i;
}

static void msg_drive(gclat_ctx *c) {
    gclat_run *run = c->run;
    int64_t window = (int64_t)gclat_param_num(run->opts, "window", 200000);
    uint64_t pushes = (uint64_t)gclat_param_num(run->opts, "pushes", 5000000);
    if (window <= 0 || window > 100000000 || pushes == 0) {
        gclat_run_fail(c, "msgbuf: window must be in [1, 1e8] and pushes positive");
        return;
    }
    if (gclat_call(c, "setup", 1, &window, NULL))
        return;
    gclat_run_deadline(c, run->budget_ns);
    gclat_lat lat;
    gclat_lat_init(&lat);
    uint64_t t0 = gclat_run_barrier(c), end = run->measure_end_ns, i = 0, a = t0;
    while (!run->failed && i < pushes && a < end) {
        int64_t arg = (int64_t)i;
        if (gclat_call(c, "push", 1, &arg, NULL))
            break;
        uint64_t b = gclat_now();
        gclat_lat_add(&lat, b - a, run->budget_ns);
        a = b;
        i++;
    }
    /* a closed loop: the measured phase is the push loop itself */
    __atomic_store_n(&run->measure_end_ns, a, __ATOMIC_RELAXED);
    gclat_run_add(c, &lat, i, i, 0, 0, i);
}

static const gclat_entry msg_entries[] = {{"setup", msg_setup}, {"push", msg_push}, {NULL, NULL}};
static const char *const msg_params[] = {"window", "pushes", NULL};

const gclat_workload gclat_msgbuf = {
    .name = "msgbuf",
    .summary = "a window of 200,000 1-KiB messages, each push overwriting the oldest",
    .unit = "push",
    .default_mode = "concurrent",
    .default_heap = (size_t)640 << 20,
    .default_threads = 1,
    .default_duration_ns = 3000000000ull,
    .params = msg_params,
    .native_init = msg_init,
    .native_fini = msg_fini,
    .entries = msg_entries,
    .drive = msg_drive,
};

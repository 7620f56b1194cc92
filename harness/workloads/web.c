/* harness/workloads/web.c - a web server's request path.
 *
 * N worker threads (--threads, default 2) serve requests that arrive
 * open-loop at a fixed total rate (param rate, default 10000 a second),
 * split evenly between workers.  Each worker owns a session table of
 * `sessions` sessions (default 5000); a request names one at random and
 * sticks to that worker.  A request builds a parsed request (a path string
 * of about 40 bytes built from pieces, 12 header name/value string pairs, a
 * 512-byte body) and a response (8 header pairs, a 2 KiB body joined from
 * 16 pieces): about 7.5 KiB, all short-lived.  It then finds or creates its
 * session (a record with a hit count, a ring of the last 16 request
 * summaries and 8 small data strings) and records a summary of itself in
 * the ring: medium-lived data that expires when a session reaches 200 hits
 * and is replaced by a fresh one.  Live data grows as sessions fill: about
 * 9 MiB per worker once every session exists (17.6 MiB for two after 30 s).
 *
 * Latency is measured from each request's scheduled start (no coordinated
 * omission): a worker that falls behind serves the backlog at once, and
 * every request behind a stall carries it.  "over" counts requests slower
 * than 10 ms.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "objects.h"

enum { S_ID, S_HITS, S_HISTORY, S_DATA };          /* session: rec4 */
enum { Q_METHOD, Q_PATH, Q_HEADERS, Q_BODY, Q_SEQ }; /* request: rec5 */
enum { R_STATUS, R_HEADERS, R_BODY };              /* response: rec3 */
enum { M_SEQ, M_STATUS, M_BYTES, M_PATH };         /* summary: rec4 */

#define HISTORY 16
#define EXPIRE_HITS 200

typedef struct web_state {
    void **table; /* handle: the session table (vec) */
    int64_t sessions;
} web_state;

static const char *const header_names[12] = {"Host", "User-Agent", "Accept", "Accept-Language",
                                             "Accept-Encoding", "Connection", "Cookie", "Referer",
                                             "Cache-Control", "Pragma", "X-Request-Id", "X-Forwarded-For"};

static void *new_cstr(rtgc_thread *t, const char *s) {
    return new_str(t, s, (uint32_t)strlen(s));
}

static void *web_init(gclat_ctx *c) {
    web_state *s = calloc(1, sizeof *s);
    if (s)
        s->table = rtgc_handle(c->t, NULL);
    return s;
}

static void web_fini(gclat_ctx *c, void *p) {
    free(p);
}

/* (setup worker sessions) */
static int64_t web_setup(gclat_ctx *c, int argc, const int64_t *argv) {
    web_state *s = c->native;
    s->sessions = argc > 1 && argv[1] > 0 ? argv[1] : 5000;
    void *table = new_vec(c->t, (uint32_t)s->sessions);
    if (oom(c, table))
        return 0;
    *s->table = table;
    return s->sessions;
}

static void *new_pair(gclat_ctx *c, void **r, const char *name, const char *value) {
    rtgc_thread *t = c->t;
    r[0] = new_cstr(t, name);
    r[1] = new_cstr(t, value);
    void *p = new_rec(t, 2);
    if (oom(c, r[0]) || oom(c, r[1]) || oom(c, p))
        return NULL;
    set(t, p, 0, r[0]);
    set(t, p, 1, r[1]);
    return p;
}

/* (request seq session): returns the response body's length */
static int64_t web_request(gclat_ctx *c, int argc, const int64_t *argv) {
    web_state *s = c->native;
    rtgc_thread *t = c->t;
    int64_t seq = argc > 0 ? argv[0] : 0, sid = (argc > 1 ? argv[1] : 0) % s->sessions;
    char buf[160];
    int64_t result = 0;
    RTGC_FRAME(t, r, 12);
    /* the path, from pieces */
    r[0] = new_cstr(t, "/api/v1/items/");
    snprintf(buf, sizeof buf, "%lld", (long long)seq);
    r[1] = new_cstr(t, buf);
    if (oom(c, r[0]) || oom(c, r[1]) || oom(c, r[0] = str_concat(t, &r[0], &r[1])))
        goto out;
    snprintf(buf, sizeof buf, "?session=%lld", (long long)sid);
    r[1] = new_cstr(t, buf);
    if (oom(c, r[1]) || oom(c, r[0] = str_concat(t, &r[0], &r[1])))
        goto out;
    /* the parsed request */
    r[2] = new_vec(t, 12);
    if (oom(c, r[2]))
        goto out;
    for (int i = 0; i < 12; i++) {
        snprintf(buf, sizeof buf, "value-%lld-%d-abcdefghijkl", (long long)seq, i);
        void *p = new_pair(c, &r[3], header_names[i], buf);
        if (!p)
            goto out;
        set(t, r[2], (uint32_t)i, p);
    }
    r[3] = new_buf(t, 512);               /* filled below */
    r[4] = new_cstr(t, "GET");
    r[5] = new_rec(t, 5);
    if (oom(c, r[3]) || oom(c, r[4]) || oom(c, r[5]))
        goto out;
    memset(str_bytes(r[3]), 'b', 512);
    set(t, r[5], Q_METHOD, r[4]);
    set(t, r[5], Q_PATH, r[0]);
    set(t, r[5], Q_HEADERS, r[2]);
    set(t, r[5], Q_BODY, r[3]);
    set(t, r[5], Q_SEQ, imm(seq));
    rtgc_poll(t);
    /* the response: headers, then a body of 16 pieces of 128 bytes */
    r[6] = new_vec(t, 8);
    if (oom(c, r[6]))
        goto out;
    for (int i = 0; i < 8; i++) {
        snprintf(buf, sizeof buf, "resp-value-%d-%lld", i, (long long)seq);
        void *p = new_pair(c, &r[3], header_names[i], buf);
        if (!p)
            goto out;
        set(t, r[6], (uint32_t)i, p);
    }
    r[7] = new_vec(t, 16);
    if (oom(c, r[7]))
        goto out;
    for (int i = 0; i < 16; i++) {
        void *piece = new_buf(t, 128);
        if (oom(c, piece))
            goto out;
        void *path = get(t, r[5], Q_PATH);
        uint32_t pl = count_of(path);
        for (uint32_t k = 0; k < 128; k++)
            str_bytes(piece)[k] = str_bytes(path)[(k + (uint32_t)i) % pl];
        set(t, r[7], (uint32_t)i, piece);
    }
    r[8] = str_join(t, &r[7]);
    r[9] = new_rec(t, 3);
    if (oom(c, r[8]) || oom(c, r[9]))
        goto out;
    set(t, r[9], R_STATUS, imm(200));
    set(t, r[9], R_HEADERS, r[6]);
    set(t, r[9], R_BODY, r[8]);
    result = count_of(r[8]);
    rtgc_poll(t);
    /* the session: find it, or make a fresh one when missing or expired */
    r[10] = get(t, *s->table, (uint32_t)sid);
    if (!r[10] || unimm(get(t, r[10], S_HITS)) >= EXPIRE_HITS) {
        r[10] = new_rec(t, 4);
        if (oom(c, r[10]))
            goto out;
        set(t, r[10], S_ID, imm(sid));
        set(t, r[10], S_HITS, imm(0));
        void *h = new_vec(t, HISTORY);
        if (oom(c, h))
            goto out;
        set(t, r[10], S_HISTORY, h);
        void *d = new_vec(t, 8);
        if (oom(c, d))
            goto out;
        set(t, r[10], S_DATA, d);
        for (int i = 0; i < 8; i++) {
            snprintf(buf, sizeof buf, "session-%lld-data-%d-0123456789", (long long)sid, i);
            void *str = new_cstr(t, buf);
            if (oom(c, str))
                goto out;
            set(t, get(t, r[10], S_DATA), (uint32_t)i, str);
        }
        set(t, *s->table, (uint32_t)sid, r[10]);
    }
    /* its summary of this request, in the session's ring */
    r[11] = new_rec(t, 4);
    if (oom(c, r[11]))
        goto out;
    set(t, r[11], M_SEQ, imm(seq));
    set(t, r[11], M_STATUS, imm(200));
    set(t, r[11], M_BYTES, imm(result));
    set(t, r[11], M_PATH, r[0]);
    int64_t hits = unimm(get(t, r[10], S_HITS));
    set(t, get(t, r[10], S_HISTORY), (uint32_t)(hits % HISTORY), r[11]);
    set(t, r[10], S_HITS, imm(hits + 1));
out:
    RTGC_FRAME_POP(t, r);
    rtgc_poll(t);
    return result;
}

void gclat_drive_requests(gclat_ctx *c, double rate, int64_t sessions, const int64_t *extra, int nextra) {
    gclat_run *run = c->run;
    rate /= run->threads;
    if (rate <= 0 || sessions <= 0) {
        gclat_run_fail(c, "%s: rate and sessions must be positive", run->w->name);
        return;
    }
    int64_t args[8] = {c->worker, sessions};
    for (int k = 0; k < nextra && k < 6; k++)
        args[2 + k] = extra[k];
    if (gclat_call(c, "setup", 2 + (nextra < 6 ? nextra : 6), args, NULL))
        return;
    uint64_t seed = run->seed * 0x9e3779b97f4a7c15ull + (uint64_t)c->worker + 1;
    gclat_lat lat;
    gclat_lat_init(&lat);
    gclat_run_deadline(c, 10000000);
    uint64_t t0 = gclat_run_barrier(c), end = run->measure_end_ns;
    double interval = 1e9 / rate;
    uint64_t step_ns = 0;
    uint64_t i = 0, sum = 0, due = (uint64_t)ceil((double)(end - t0) / interval);
    while (!run->failed) {
        uint64_t sched = t0 + (uint64_t)((double)i * interval);
        if (sched >= end)
            break;
        if (gclat_now() > end + 2000000000ull)
            break; /* hopelessly behind: the rest count as never served */
        step_ns += gclat_step_slack(c, sched, 50000); /* step mode: idle time goes to the collector */
        gclat_sleep_until(c->t, sched);
        uint64_t began = gclat_now();
        int64_t a[2] = {(int64_t)(i * (uint64_t)run->threads + (uint64_t)c->worker),
                        (int64_t)(gclat_rand(&seed) % (uint64_t)sessions)};
        int64_t res;
        if (gclat_call(c, "request", 2, a, &res))
            break;
        sum += (uint64_t)res;
        uint64_t done = gclat_now();
        gclat_lat_add2(&lat, done - sched, done - began, 10000000);
        i++;
    }
    gclat_run_add(c, &lat, i, due, 0, step_ns, sum);
}

static void web_drive(gclat_ctx *c) {
    const gclat_opts *o = c->run->opts;
    gclat_drive_requests(c, gclat_param_num(o, "rate", 10000), (int64_t)gclat_param_num(o, "sessions", 5000), NULL, 0);
}

static const gclat_entry web_entries[] = {{"setup", web_setup}, {"request", web_request}, {NULL, NULL}};
static const char *const web_params[] = {"rate", "sessions", NULL};

const gclat_workload gclat_web = {
    .name = "web",
    .summary = "open-loop requests on worker threads with per-worker session tables",
    .unit = "request",
    .default_mode = "concurrent",
    .default_heap = (size_t)128 << 20,
    .default_threads = 2,
    .default_duration_ns = 5000000000ull,
    .params = web_params,
    .native_init = web_init,
    .native_fini = web_fini,
    .entries = web_entries,
    .drive = web_drive,
};

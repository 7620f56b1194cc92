/* harness/workloads/cache.c - a request path that leans on weak data:
 * weak-keyed tables (ephemerons), weak references and finalizers, the
 * way a JavaScript, Lua or Python server uses WeakMap, weak tables,
 * WeakRef and __gc / __del__.
 *
 * Requests arrive open-loop at `rate` a second in all (default 10000),
 * split between N workers (--threads, default 2), through web's driver.
 * Each worker keeps `sessions` sessions (default 200); a session expires
 * after `expire` hits (default 20) and is replaced: about 250 sessions a
 * second per worker at the default rate.  A request:
 *   - builds a parsed request (a path, 8 header strings, about 1 KiB) and
 *     notes a few facts about it in `attrs`, a weak-keyed table keyed by the
 *     request object (WeakMap-style metadata): the request dies when it
 *     returns, so every request adds an entry that a later collection must
 *     clear: ten thousand ephemerons cleared a second;
 *   - looks its session's derived profile (a 1 KiB string) up in `memo`,
 *     a weak-keyed table keyed by the session: the profile is reachable only
 *     through the table, and lives exactly as long as its session; a miss
 *     for a session already memoised fails the run ("a weak table lost a
 *     live entry");
 *   - builds a 2 KiB response, and keeps a weak reference to it in a ring
 *     of `recent` slots (default 256, a few tens of milliseconds of requests) with the request's number beside it:
 *     reading a slot back gives either nothing (cleared) or that very
 *     response, else the run fails.  The read comes first: the request
 *     holds what it read (a root) until it ends, checks it again then, and
 *     keeps one in 8 (strongly, in a ring of 64, checked again when it
 *     leaves the ring): a weak read during marking must keep what it
 *     returns alive.  (Against a library whose weak reads do not shade,
 *     BREAK=weak, a check build failed this in each of four 2 s runs.)
 *   - a new session gets a finalizer that checks it was expired (a
 *     finalizer for a session still in the table fails the run), and the
 *     request runs at most 8 ready finalizers before it returns: finalizers
 *     run where the embedder chooses, never in a collector pause.
 * So a collection clears thousands of ephemerons and weak references and
 * queues finalizers while the pauses must stay within the budget.  The
 * result of a request is the response body's length; the worker's
 * checksum adds it up.
 *
 * The weak-keyed table: an open-addressing array of ephemerons, hashed by
 * the key's address (the collector never moves an object); a cleared
 * ephemeron is a tombstone an insert may reuse; the array is rebuilt at
 * three quarters full, keeping the live entries.  Reads go through
 * rtgc_ephemeron_get only.
 */
#include <stdio.h>
#include <stdlib.h>

#include "objects.h"

enum { S_ID, S_HITS, S_EXPIRED, S_MEMO };     /* session: rec4 */
enum { T_SLOTS, T_USED };                     /* weak-keyed table: rec2 */
enum { Q_PATH, Q_HEADERS, Q_SEQ };            /* request: rec3 */
enum { A_SEQ, A_SESSION, A_BYTES };           /* request attributes: rec3 */
#define KEPT 64                               /* responses kept after a weak read */

typedef struct cache_state {
    void **sessions, **memo, **attrs, **recent, **recent_seq, **kept, **kept_seq; /* handles */
    int64_t nsessions, expire, served;
} cache_state;

/* Over the heap: a finalizer may run on any worker. */
static uint64_t finalized_live;

static void *cache_init(gclat_ctx *c) {
    cache_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    void ***h[] = {&s->sessions, &s->memo, &s->attrs, &s->recent, &s->recent_seq, &s->kept, &s->kept_seq};
    for (size_t i = 0; i < sizeof h / sizeof *h; i++)
        *h[i] = rtgc_handle(c->t, NULL);
    return s;
}

static void cache_fini(gclat_ctx *c, void *p) {
    (void)c;
    free(p);
}

/* ---- the weak-keyed table ---- */

static uint32_t slot_of(const void *key, uint32_t cap) {
    return (uint32_t)(((uintptr_t)key >> 4) * 0x9e3779b97f4a7c15ull >> 32) & (cap - 1);
}

static void *wt_new(rtgc_thread *t, uint32_t cap) {
    RTGC_FRAME(t, r, 1);
    r[0] = new_rec(t, 2);
    void *slots = r[0] ? new_vec(t, cap) : NULL;
    void *tab = NULL;
    if (slots) {
        set(t, r[0], T_SLOTS, slots);
        set(t, r[0], T_USED, imm(0));
        tab = r[0];
    }
    RTGC_FRAME_POP(t, r);
    return tab;
}

/* The value for key, or NULL. */
static void *wt_get(rtgc_thread *t, void *tab, void *key) {
    void *slots = get(t, tab, T_SLOTS);
    uint32_t cap = count_of(slots);
    for (uint32_t i = slot_of(key, cap), n = 0; n < cap; i = (i + 1) & (cap - 1), n++) {
        void *e = get(t, slots, i);
        if (!e)
            return NULL;
        void *k, *v;
        if (rtgc_ephemeron_get(t, e, &k, &v) && k == key)
            return v;
    }
    return NULL;
}

/* Put an ephemeron (not yet in the table) into slots, at the first empty or
 * cleared slot of key's chain; returns 1 if it took an empty one. */
static int wt_place(rtgc_thread *t, void *slots, void *key, void *eph) {
    uint32_t cap = count_of(slots);
    for (uint32_t i = slot_of(key, cap);; i = (i + 1) & (cap - 1)) {
        void *e = get(t, slots, i);
        if (!e || !rtgc_ephemeron_get(t, e, NULL, NULL)) {
            set(t, slots, i, eph);
            return e == NULL;
        }
    }
}

/* Rebuild *tab's array for its live entries. */
static int wt_rebuild(gclat_ctx *c, void **tab) {
    rtgc_thread *t = c->t;
    void *slots = get(t, *tab, T_SLOTS);
    uint32_t cap = count_of(slots), live = 0;
    for (uint32_t i = 0; i < cap; i++) {
        void *e = get(t, slots, i);
        live += e && rtgc_ephemeron_get(t, e, NULL, NULL);
    }
    uint32_t ncap = 64;
    while (ncap < 4 * live)
        ncap *= 2;
    RTGC_FRAME(t, r, 1);
    r[0] = new_vec(t, ncap);
    int ok = !oom(c, r[0]);
    if (ok) {
        slots = get(t, *tab, T_SLOTS);
        for (uint32_t i = 0; i < cap; i++) {
            void *e = get(t, slots, i), *k;
            if (e && rtgc_ephemeron_get(t, e, &k, NULL))
                wt_place(t, r[0], k, e);
        }
        set(t, *tab, T_SLOTS, r[0]);
        set(t, *tab, T_USED, imm(live));
    }
    RTGC_FRAME_POP(t, r);
    return ok;
}

/* Add key -> value (key not in the table); *tab, *key and *value rooted. */
static int wt_put(gclat_ctx *c, void **tab, void **key, void **value) {
    rtgc_thread *t = c->t;
    int64_t used = unimm(get(t, *tab, T_USED));
    if ((used + 1) * 4 > (int64_t)count_of(get(t, *tab, T_SLOTS)) * 3 && !wt_rebuild(c, tab))
        return 0;
    void *e = rtgc_ephemeron_new(t, *key, *value);
    if (oom(c, e))
        return 0;
    if (wt_place(t, get(t, *tab, T_SLOTS), *key, e))
        set(t, *tab, T_USED, imm(unimm(get(t, *tab, T_USED)) + 1));
    return 1;
}

/* ---- the workload ---- */

static void session_finalizer(rtgc_thread *t, void *session, void *data) {
    (void)data;
    if (get(t, session, S_EXPIRED) != imm(1))
        __atomic_fetch_add(&finalized_live, 1, __ATOMIC_RELAXED);
}

/* (setup worker sessions expire recent) */
static int64_t cache_setup(gclat_ctx *c, int argc, const int64_t *argv) {
    cache_state *s = c->native;
    rtgc_thread *t = c->t;
    s->nsessions = argc > 1 && argv[1] > 0 ? argv[1] : 200;
    s->expire = argc > 2 && argv[2] > 0 ? argv[2] : 20;
    int64_t recent = argc > 3 && argv[3] > 0 ? argv[3] : 256;
    if (c->worker == 0) /* before the barrier: no finalizer is ready yet */
        __atomic_store_n(&finalized_live, 0, __ATOMIC_RELAXED);
    if (oom(c, *s->sessions = new_vec(t, (uint32_t)s->nsessions)) || oom(c, *s->memo = wt_new(t, 64)) ||
        oom(c, *s->attrs = wt_new(t, 64)) || oom(c, *s->recent = new_vec(t, (uint32_t)recent)) ||
        oom(c, *s->recent_seq = new_vec(t, (uint32_t)recent)) || oom(c, *s->kept = new_vec(t, KEPT)) ||
        oom(c, *s->kept_seq = new_vec(t, KEPT)))
        return 0;
    return s->nsessions;
}

/* The session sid, made anew when missing or expired; NULL on OOM. */
static void *session_for(gclat_ctx *c, cache_state *s, int64_t sid) {
    rtgc_thread *t = c->t;
    void *ses = get(t, *s->sessions, (uint32_t)sid);
    if (ses && unimm(get(t, ses, S_HITS)) < s->expire)
        return ses;
    if (ses) {
        set(t, ses, S_EXPIRED, imm(1));
    }
    ses = new_rec(t, 4);
    if (oom(c, ses))
        return NULL;
    set(t, ses, S_ID, imm(sid));
    set(t, ses, S_HITS, imm(0));
    set(t, ses, S_EXPIRED, imm(0));
    set(t, ses, S_MEMO, imm(0));
    set(t, *s->sessions, (uint32_t)sid, ses);
    if (rtgc_finalizer_register(t, ses, session_finalizer, NULL) != RTGC_OK) {
        gclat_run_fail(c, "cache: rtgc_finalizer_register failed");
        return NULL;
    }
    return ses;
}

/* Is resp the response of request seq (led by "seq=N;")? */
static int response_is(void *resp, int64_t seq) {
    char buf[32];
    int len = snprintf(buf, sizeof buf, "seq=%lld;", (long long)seq);
    return count_of(resp) == 2048 && memcmp(str_bytes(resp), buf, (size_t)len) == 0;
}

/* (request seq session): returns the response body's length */
static int64_t cache_request(gclat_ctx *c, int argc, const int64_t *argv) {
    cache_state *s = c->native;
    rtgc_thread *t = c->t;
    int64_t seq = argc > 0 ? argv[0] : 0, sid = (argc > 1 ? argv[1] : 0) % s->nsessions;
    char buf[128];
    int64_t result = 0;
    RTGC_FRAME(t, r, 7);
    /* The ring slot this request will fill: read back the response it
     * holds now, and hold that (r[6], a root) until the request ends. */
    uint32_t slot = (uint32_t)(s->served++ % (int64_t)count_of(*s->recent));
    void *old = get(t, *s->recent, slot);
    int64_t oseq = old ? unimm(get(t, *s->recent_seq, slot)) : -1;
    r[6] = old ? rtgc_weak_get(t, old) : NULL;
    if (r[6] && !response_is(r[6], oseq)) {
        gclat_run_fail(c, "cache: a weak reference read back something other than its response");
        goto out;
    }
    /* the parsed request, and what the server notes about it */
    int len = snprintf(buf, sizeof buf, "/api/v2/cache/%lld?session=%lld", (long long)seq, (long long)sid);
    r[0] = new_str(t, buf, (uint32_t)len);
    r[1] = new_vec(t, 8);
    if (oom(c, r[0]) || oom(c, r[1]))
        goto out;
    for (uint32_t i = 0; i < 8; i++) {
        len = snprintf(buf, sizeof buf, "header-%u: value-%lld-0123456789abcdef0123456789abcdef", i, (long long)seq);
        void *h = new_str(t, buf, (uint32_t)len);
        if (oom(c, h))
            goto out;
        set(t, r[1], i, h);
    }
    r[2] = new_rec(t, 3);
    if (oom(c, r[2]))
        goto out;
    set(t, r[2], Q_PATH, r[0]);
    set(t, r[2], Q_HEADERS, r[1]);
    set(t, r[2], Q_SEQ, imm(seq));
    r[3] = new_rec(t, 3);
    if (oom(c, r[3]))
        goto out;
    set(t, r[3], A_SEQ, imm(seq));
    set(t, r[3], A_SESSION, imm(sid));
    set(t, r[3], A_BYTES, imm(count_of(r[0])));
    if (!wt_put(c, s->attrs, &r[2], &r[3]))
        goto out;
    void *a = wt_get(t, *s->attrs, r[2]);
    if (!a || unimm(get(t, a, A_SEQ)) != seq) {
        gclat_run_fail(c, "cache: a weak table lost the entry of a live key (request %lld)", (long long)seq);
        goto out;
    }
    rtgc_poll(t);
    /* the session and its memoised profile */
    r[4] = session_for(c, s, sid);
    if (!r[4])
        goto out;
    r[5] = wt_get(t, *s->memo, r[4]);
    if (r[5]) {
    } else {
        if (get(t, r[4], S_MEMO) == imm(1)) {
            gclat_run_fail(c, "cache: a weak table lost the entry of a live session (%lld)", (long long)sid);
            goto out;
        }
        r[5] = new_buf(t, 1024);
        if (oom(c, r[5]))
            goto out;
        for (uint32_t k = 0; k < 1024; k++)
            str_bytes(r[5])[k] = (char)('a' + (sid + k) % 26);
        if (!wt_put(c, s->memo, &r[4], &r[5]))
            goto out;
        set(t, r[4], S_MEMO, imm(1));
    }
    set(t, r[4], S_HITS, imm(unimm(get(t, r[4], S_HITS)) + 1));
    /* the response: 2 KiB from the profile, led by the request's number; a
     * weak reference to it in the ring, after reading back the slot's last */
    r[0] = new_buf(t, 2048);
    if (oom(c, r[0]))
        goto out;
    for (uint32_t k = 0; k < 2048; k++)
        str_bytes(r[0])[k] = str_bytes(r[5])[(k + (uint32_t)seq) % 1024];
    len = snprintf(buf, sizeof buf, "seq=%lld;", (long long)seq);
    memcpy(str_bytes(r[0]), buf, (size_t)len);
    result = count_of(r[0]);
    if (r[6]) {
        if (!response_is(r[6], oseq)) {
            gclat_run_fail(c, "cache: a response read through a weak reference was freed while held");
            goto out;
        }
        if (oseq % 8 == 0) {
            /* keep it: it must live on, whole, from the read */
            uint32_t k = (uint32_t)(oseq / 8) % KEPT;
            void *prev = get(t, *s->kept, k);
            if (prev && !response_is(prev, unimm(get(t, *s->kept_seq, k)))) {
                gclat_run_fail(c, "cache: a response kept after a weak read was freed or overwritten");
                goto out;
            }
            set(t, *s->kept, k, r[6]);
            set(t, *s->kept_seq, k, imm(oseq));
        }
    }
    void *w = rtgc_weak_new(t, r[0]);
    if (oom(c, w))
        goto out;
    set(t, *s->recent, slot, w);
    set(t, *s->recent_seq, slot, imm(seq));
    /* finalizers run here, where the server chooses, a few at a time */
    rtgc_run_finalizers(t, 8);
    if (__atomic_load_n(&finalized_live, __ATOMIC_RELAXED)) {
        gclat_run_fail(c, "cache: a finalizer ran for a session still in use");
        goto out;
    }
out:
    RTGC_FRAME_POP(t, r);
    rtgc_poll(t);
    return result;
}

static void cache_drive(gclat_ctx *c) {
    const gclat_opts *o = c->run->opts;
    int64_t extra[2] = {(int64_t)gclat_param_num(o, "expire", 20), (int64_t)gclat_param_num(o, "recent", 256)};
    if (extra[0] <= 0 || extra[1] <= 0) {
        gclat_run_fail(c, "cache: expire and recent must be positive");
        return;
    }
    gclat_drive_requests(c, gclat_param_num(o, "rate", 10000), (int64_t)gclat_param_num(o, "sessions", 200), extra,
                         2);
}

static const gclat_entry cache_entries[] = {{"setup", cache_setup}, {"request", cache_request}, {NULL, NULL}};
static const char *const cache_params[] = {"rate", "sessions", "expire", "recent", NULL};

const gclat_workload gclat_cache = {
    .name = "cache",
    .summary = "requests keeping data in weak-keyed tables, weak references and finalizers",
    .unit = "request",
    .default_mode = "concurrent",
    .default_heap = (size_t)128 << 20,
    .default_threads = 2,
    .default_duration_ns = 3000000000ull,
    .params = cache_params,
    .native_init = cache_init,
    .native_fini = cache_fini,
    .entries = cache_entries,
    .drive = cache_drive,
};

/* gc/tests/test_weak.c - weak references, ephemerons, finalizers, pinning
 * and interior pointers (rtgc/weak.h), in every collector mode.
 *
 * The semantic tests build a known graph, drop parts of it, run whole
 * collections with rtgc_collect, and check exactly what was cleared and
 * what was finalized.  The concurrent test churns weak references,
 * ephemerons and finalizable objects on several threads under the
 * real-time modes with verify=1, reading targets through rtgc_weak_get
 * while marking runs, and checks every object it reaches through them is
 * intact (a payload checksum; check builds poison freed cells).
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static const char *const modes[] = {"stw", "concurrent", "incremental", "step"};

/* Sanitizer builds run the collector 5-20 times slower, unevenly (a unit
 * of work between two reads of the clock can take milliseconds under
 * ThreadSanitizer), and check builds validate every reference they mark:
 * they check what the tests check about safety, not how long a slice
 * took. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__) || RTGC_CHECK > 0
#define CHECK_SLICE_TIMES 0
#else
#define CHECK_SLICE_TIMES 1
#endif

typedef struct node {
    uint64_t header;
    void *next;
    uint64_t id, check;
} node;

static rtgc_layout_id node_layout(rtgc_heap *h) {
    static const uint32_t refs[] = {8};
    rtgc_layout l = {.name = "node", .kind = RTGC_LAYOUT_RECORD, .size = sizeof(node), .ref_offsets = refs, .ref_count = 1};
    rtgc_layout_id id;
    rtgc_error err;
    assert_int_equal(rtgc_layout_register(h, &l, &id, &err), RTGC_OK);
    return id;
}

/* A plain array of references. */
static rtgc_layout_id array_layout(rtgc_heap *h) {
    rtgc_layout l = {.name = "array", .kind = RTGC_LAYOUT_REF_ARRAY, .size = 8};
    rtgc_layout_id id;
    rtgc_error err;
    assert_int_equal(rtgc_layout_register(h, &l, &id, &err), RTGC_OK);
    return id;
}

/* An array of n references (must succeed), and its element i. */
static void *new_array(rtgc_thread *t, rtgc_layout_id ARR, uint32_t n) {
    void *a = rtgc_alloc_array(t, ARR, n);
    assert_non_null(a);
    return a;
}
static void **elem(void *arr, uint32_t i) {
    return (void **)arr + 1 + i;        /* after the header */
}

/* fn(mode) in every mode. */
static void in_every_mode(void (*fn)(const char *mode)) {
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++)
        fn(modes[m]);
}

static node *new_node(rtgc_thread *t, rtgc_layout_id NODE, uint64_t id) {
    node *n = rtgc_alloc(t, NODE);
    assert_non_null(n);
    n->id = id;
    n->check = id * 0x9e3779b97f4a7c15ull + 1;
    return n;
}

static int intact(const node *n) {
    return n->check == n->id * 0x9e3779b97f4a7c15ull + 1 && rtgc_header_layout(n->header) != 0;
}

static rtgc_heap *heap_for(const char *mode, const char *extra) {
    char opts[160];
    snprintf(opts, sizeof opts, "mode=%s,heap=64M%s%s", mode, extra ? "," : "", extra ? extra : "");
    return test_heap(opts);
}

/* ---- weak references ---- */

static void weak_refs_in(const char *mode) {
    rtgc_heap *h = heap_for(mode, "verify=1");
    rtgc_layout_id NODE = node_layout(h);
    rtgc_thread *t = rtgc_thread_attach(h, NULL);
    enum { N = 64 };
    RTGC_FRAME(t, r, 2 * N);  /* r[0..N): weak refs; r[N..2N): strong roots of the even targets */
    for (int i = 0; i < N; i++) {
        node *n = new_node(t, NODE, (uint64_t)i);
        if (i % 2 == 0)
            r[N + i] = n;
        r[i] = rtgc_weak_new(t, n);
        assert_non_null(r[i]);
        assert_true(rtgc_is_weak(h, r[i]));
        assert_ptr_equal(rtgc_weak_get(t, r[i]), n);
    }
    /* immediates and NULL never clear */
    void *wi = rtgc_weak_new(t, (void *)(uintptr_t)((42u << 1) | 1));
    r[N + 1] = wi;
    rtgc_collect(t);
    for (int i = 0; i < N; i++) {
        node *n = rtgc_weak_get(t, r[i]);
        if (i % 2 == 0) {
            assert_non_null(n);         /* reachable: never cleared */
            assert_ptr_equal(n, r[N + i]);
            assert_true(intact(n));
        } else {
            assert_null(n);             /* unreachable: cleared */
        }
    }
    assert_ptr_equal(rtgc_weak_get(t, r[N + 1]), (void *)(uintptr_t)((42u << 1) | 1));
    rtgc_stats st;
    rtgc_get_stats(h, &st);
    assert_int_equal(st.weak_cleared, N / 2);
    /* drop the rest of the targets: cleared by the next collection, and the
     * weak references themselves, once dropped, are forgotten */
    for (int i = 0; i < N; i += 2)
        r[N + i] = NULL;
    rtgc_collect(t);
    for (int i = 0; i < N; i++)
        assert_null(rtgc_weak_get(t, r[i]));
    assert_int_equal(rtgc_verify(t), 0);
    RTGC_FRAME_POP(t, r);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}

static void test_weak_refs(void **state) {
    (void)state;
    in_every_mode(weak_refs_in);
}

/* ---- ephemerons ---- */

static void ephemerons_in(const char *mode) {
    rtgc_heap *h = heap_for(mode, "verify=1");
    rtgc_layout_id NODE = node_layout(h);
    rtgc_thread *t = rtgc_thread_attach(h, NULL);
    /* r[0]: K1 (a root while alive); r[1..3]: ephemerons E1 (K1 -> V1),
     * E2 (V1 -> V2), E3 (K3 -> V3, with V3 -> K3: a value that refers to
     * its own key must not keep it alive); r[4]: E4 with an immediate key */
    RTGC_FRAME(t, r, 6);
    r[0] = new_node(t, NODE, 1);
    node *v1 = new_node(t, NODE, 2);
    r[5] = v1;
    node *v2 = new_node(t, NODE, 3);
    r[2] = rtgc_ephemeron_new(t, v1, v2);        /* E2: key V1 -> V2 */
    v1 = r[5];
    r[1] = rtgc_ephemeron_new(t, r[0], v1);      /* E1: key K1 -> V1 */
    r[5] = NULL;
    node *k3 = new_node(t, NODE, 4);
    r[5] = k3;
    node *v3 = new_node(t, NODE, 5);
    rtgc_store(t, v3, &v3->next, r[5]);
    r[3] = rtgc_ephemeron_new(t, r[5], v3);      /* E3: K3 -> V3 -> K3 */
    r[5] = NULL;
    node *v4 = new_node(t, NODE, 6);
    r[4] = rtgc_ephemeron_new(t, (void *)(uintptr_t)7u, v4);
    assert_true(rtgc_is_ephemeron(h, r[1]));
    rtgc_collect(t);
    void *k, *v;
    /* K1 is a root: E1 keeps V1, and so E2 keeps V2 (a chain) */
    assert_int_equal(rtgc_ephemeron_get(t, r[1], &k, &v), 1);
    assert_ptr_equal(k, r[0]);
    assert_true(intact(v) && ((node *)v)->id == 2);
    assert_int_equal(rtgc_ephemeron_get(t, r[2], &k, &v), 1);
    assert_true(intact(k) && ((node *)k)->id == 2);
    assert_true(intact(v) && ((node *)v)->id == 3);
    /* K3 is reachable only from its own value: both cleared */
    assert_int_equal(rtgc_ephemeron_get(t, r[3], &k, &v), 0);
    assert_null(k);
    assert_null(v);
    /* an immediate key never dies */
    assert_int_equal(rtgc_ephemeron_get(t, r[4], &k, &v), 1);
    assert_true(intact(v) && ((node *)v)->id == 6);
    /* drop K1: E1 and then E2 (whose key was E1's value) are cleared */
    r[0] = NULL;
    rtgc_collect(t);
    assert_int_equal(rtgc_ephemeron_get(t, r[1], &k, &v), 0);
    assert_int_equal(rtgc_ephemeron_get(t, r[2], &k, &v), 0);
    assert_int_equal(rtgc_verify(t), 0);
    RTGC_FRAME_POP(t, r);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}

static void test_ephemerons(void **state) {
    (void)state;
    in_every_mode(ephemerons_in);
}

/* A long chain: E_i has key V_{i-1} and value V_i; only V_0 is a root.
 * Each link needs another round of the fixpoint. */
static void test_ephemeron_chain(void **state) {
    (void)state;
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        rtgc_heap *h = heap_for(modes[m], "verify=1");
        rtgc_layout_id NODE = node_layout(h);
        rtgc_thread *t = rtgc_thread_attach(h, NULL);
        enum { L = 500 };
        void **ephs = calloc(L, sizeof *ephs);   /* a global root range */
        assert_non_null(ephs);
        assert_int_equal(rtgc_root_range_add(h, ephs, L), RTGC_OK);
        RTGC_FRAME(t, r, 2);
        r[0] = new_node(t, NODE, 0);               /* V_0, the only root */
        r[1] = r[0];                               /* the previous value: the next key */
        for (int i = 1; i <= L; i++) {
            node *v = new_node(t, NODE, (uint64_t)i);
            void *e = rtgc_ephemeron_new(t, r[1], v);
            assert_non_null(e);
            rtgc_store(t, NULL, &ephs[i - 1], e);
            void *k;
            assert_int_equal(rtgc_ephemeron_get(t, e, &k, &r[1]), 1);
        }
        r[1] = NULL;
        rtgc_collect(t);
        for (int i = 0; i < L; i++) {
            void *k, *v;
            assert_int_equal(rtgc_ephemeron_get(t, rtgc_load(t, &ephs[i]), &k, &v), 1);
            assert_true(intact(v) && ((node *)v)->id == (uint64_t)i + 1);
        }
        r[0] = NULL;
        rtgc_collect(t);
        for (int i = 0; i < L; i++)
            assert_int_equal(rtgc_ephemeron_get(t, rtgc_load(t, &ephs[i]), NULL, NULL), 0);
        assert_int_equal(rtgc_root_range_remove(h, ephs), RTGC_OK);
        free(ephs);
        RTGC_FRAME_POP(t, r);
        rtgc_thread_detach(t);
        rtgc_heap_destroy(h);
    }
}

/* A weak map larger than a slice can rescan: 200,000 ephemerons whose keys
 * die.  The rescan must go on from where a slice stopped (a rescan that
 * restarted from the first pending entry never reached the end: the cycle
 * never finished).  alarm() turns a hang into a failure. */
static void test_big_weak_map(void **state) {
    (void)state;
    const char *cases[] = {"mode=concurrent", "mode=step,budget=100us", "mode=incremental,budget=200us"};
    for (size_t m = 0; m < 3; m++) {
        char opts[128];
        snprintf(opts, sizeof opts, "%s,heap=128M", cases[m]);
        rtgc_heap *h = test_heap(opts);
        rtgc_layout_id NODE = node_layout(h), ARR = array_layout(h);
        rtgc_thread *t = rtgc_thread_attach(h, NULL);
        enum { N = 200000 };
        RTGC_FRAME(t, r, 3);
        r[0] = new_array(t, ARR, N);
        for (uint32_t i = 0; i < N; i++) {
            r[1] = new_node(t, NODE, i);                 /* the key: only the ephemeron holds it */
            r[2] = new_node(t, NODE, i + 1);
            void *e = rtgc_ephemeron_new(t, r[1], r[2]);
            assert_non_null(e);
            rtgc_store(t, r[0], elem(r[0], i), e);
        }
        r[1] = r[2] = NULL;
        alarm(120);
        rtgc_collect(t);
        alarm(0);
        uint32_t live = 0;
        for (uint32_t i = 0; i < N; i++)
            live += (uint32_t)rtgc_ephemeron_get(t, rtgc_load(t, elem(r[0], i)), NULL, NULL);
        assert_int_equal(live, 0);
        printf("big weak map (%s): %u ephemerons cleared\n", cases[m], (unsigned)N);
        RTGC_FRAME_POP(t, r);
        rtgc_thread_detach(t);
        rtgc_heap_destroy(h);
    }
}

/* ---- finalizers ---- */

typedef struct fin_log {
    int ran[64];
    int inside;                 /* set while rtgc_run_finalizers runs */
    int outside_calls;          /* finalizers called anywhere else */
    void **resurrect;           /* a root slot the finalizer of id 0 stores its object into */
    void *weak_to_3;            /* a weak reference to object 3, read by its finalizer */
    int weak_seen_cleared;
} fin_log;

static fin_log flog;

static void finalize(rtgc_thread *t, void *obj, void *data) {
    node *n = obj;
    assert_true(intact(n));
    assert_ptr_equal(data, &flog);
    if (!flog.inside)
        flog.outside_calls++;
    flog.ran[n->id]++;
    /* what it reaches was kept with it */
    if (n->next)
        assert_true(intact(rtgc_load(t, &n->next)));
    if (n->id == 0)
        rtgc_store(t, NULL, flog.resurrect, obj);
    if (n->id == 3)
        flog.weak_seen_cleared = rtgc_weak_get(t, flog.weak_to_3) == NULL;
}

static void finalizers_in(const char *mode) {
    memset(&flog, 0, sizeof flog);
    rtgc_heap *h = heap_for(mode, "verify=1");
    rtgc_layout_id NODE = node_layout(h);
    rtgc_thread *t = rtgc_thread_attach(h, NULL);
    RTGC_FRAME(t, r, 12);
    flog.resurrect = &r[10];
    /* ids 0..7 finalizable; even ones stay reachable at first; each has a
     * child (id 32+i) reachable only through it */
    for (int i = 0; i < 8; i++) {
        r[11] = new_node(t, NODE, (uint64_t)i);
        node *child = new_node(t, NODE, 32u + (uint64_t)i);
        rtgc_store(t, r[11], &((node *)r[11])->next, child);
        assert_int_equal(rtgc_finalizer_register(t, r[11], finalize, &flog), RTGC_OK);
        r[i] = r[11];
    }
    r[11] = NULL;
    r[9] = rtgc_weak_new(t, r[3]);
    flog.weak_to_3 = r[9];
    for (int i = 1; i < 8; i += 2)
        r[i] = NULL;
    rtgc_collect(t);
    /* odd ones are queued, not run: the collector never runs them */
    assert_int_equal(flog.outside_calls, 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(flog.ran[i], 0);
    assert_int_equal(rtgc_finalizers_ready(h), 4);
    rtgc_stats st;
    rtgc_get_stats(h, &st);
    assert_int_equal(st.finalizers_queued, 4);
    /* the weak reference to 3 was cleared before its finalizer could run */
    flog.inside = 1;
    assert_int_equal(rtgc_run_finalizers(t, 100), 4);
    flog.inside = 0;
    for (int i = 0; i < 8; i++)
        assert_int_equal(flog.ran[i], i % 2);
    assert_true(flog.weak_seen_cleared);
    assert_int_equal(rtgc_finalizers_ready(h), 0);
    /* run once: more collections queue nothing more for them */
    rtgc_collect(t);
    assert_int_equal(rtgc_finalizers_ready(h), 0);
    /* drop the even ones; 0 resurrects itself into r[10] */
    for (int i = 0; i < 8; i += 2)
        r[i] = NULL;
    rtgc_collect(t);
    assert_int_equal(rtgc_finalizers_ready(h), 4);
    flog.inside = 1;
    assert_int_equal(rtgc_run_finalizers(t, 1), 1);   /* max is honoured */
    assert_int_equal(rtgc_run_finalizers(t, 100), 3);
    flog.inside = 0;
    for (int i = 0; i < 8; i++)
        assert_int_equal(flog.ran[i], 1);
    assert_int_equal(flog.outside_calls, 0);
    /* the resurrected object lives on, intact, with its child, and is not
     * finalized again */
    rtgc_collect(t);
    node *z = r[10];
    assert_non_null(z);
    assert_true(intact(z) && z->id == 0);
    assert_true(intact(rtgc_load(t, &z->next)));
    assert_int_equal(rtgc_finalizers_ready(h), 0);
    assert_int_equal(rtgc_verify(t), 0);
    RTGC_FRAME_POP(t, r);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}

static void test_finalizers(void **state) {
    (void)state;
    in_every_mode(finalizers_in);
}

/* [weak.ready] One rtgc_collect is a whole collection: an object dropped
 * before it is finalizable (its finalizer ready) and its weak references
 * cleared when it returns, in every mode, also with a cycle already under
 * way (then the collection waits for the next whole cycle). */
static int ready_calls;
static void count_call(rtgc_thread *t, void *obj, void *data) {
    (void)t;
    (void)data;
    if (intact(obj))
        ready_calls++;
}

typedef struct slow_poller {
    rtgc_heap *h;
    int stop;                   /* atomic */
} slow_poller;

/* An attached thread that polls only every 3 ms: handshake rounds wait for
 * it, so the rounds after marking (MARK_OFF) end well after marking does. */
static void *slow_poll(void *arg) {
    slow_poller *p = arg;
    rtgc_thread *t = rtgc_thread_attach(p->h, NULL);
    while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
        struct timespec ts = {0, 3000000};
        nanosleep(&ts, NULL);
        rtgc_poll(t);
    }
    rtgc_thread_detach(t);
    return NULL;
}

static void test_collect_makes_ready(void **state) {
    (void)state;
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        for (int busy = 0; busy < 3; busy++) {
            rtgc_heap *h = heap_for(modes[m], "verify=1");
            rtgc_layout_id NODE = node_layout(h);
            slow_poller sp = {.h = h};
            pthread_t other;
            if (busy == 2)
                assert_int_equal(pthread_create(&other, NULL, slow_poll, &sp), 0);
            rtgc_thread *t = rtgc_thread_attach(h, NULL);
            RTGC_FRAME(t, r, 2);
            r[1] = new_node(t, NODE, 7);
            r[0] = rtgc_weak_new(t, r[1]);
            assert_int_equal(rtgc_finalizer_register(t, r[1], count_call, NULL), RTGC_OK);
            if (busy == 1 && strcmp(modes[m], "stw") != 0)
                rtgc_step(t, 20000);        /* a cycle under way, its roots perhaps scanned */
            r[1] = NULL;
            ready_calls = 0;
            rtgc_collect(t);
            assert_null(rtgc_weak_get(t, r[0]));
            assert_int_equal(rtgc_finalizers_ready(h), 1);
            assert_int_equal(rtgc_run_finalizers(t, 10), 1);
            assert_int_equal(ready_calls, 1);
            RTGC_FRAME_POP(t, r);
            rtgc_thread_detach(t);
            if (busy == 2) {
                __atomic_store_n(&sp.stop, 1, __ATOMIC_RELEASE);
                pthread_join(other, NULL);
            }
            rtgc_heap_destroy(h);
        }
    }
}

/* [weak.order] A weak reference to an object that only a finalizable
 * object reaches is cleared before the finalizer runs, wherever the weak
 * reference itself is held: by a root (W1), or only by that finalizable
 * object (W2, and an ephemeron keyed by it, E2), so that all of them agree
 * (and stay cleared if the finalizer resurrects its object). */
static struct {
    void **w1;
    int seen, w1_live, w2_live, e2_live, x_intact;
} rule3;

/* F -> X -> holder -> {W2, E2} (a reference array): X and what it reaches
 * are reachable only through F. */
static void rule3_finalizer(rtgc_thread *t, void *obj, void *data) {
    (void)data;
    node *x = rtgc_load(t, &((node *)obj)->next);
    node *holder = rtgc_load(t, &x->next);
    void *arr = rtgc_load(t, &holder->next);
    rule3.seen++;
    rule3.x_intact = intact(obj) && intact(x) && intact(holder);
    rule3.w1_live = rtgc_weak_get(t, rtgc_load(t, rule3.w1)) != NULL;
    rule3.w2_live = rtgc_weak_get(t, rtgc_load(t, elem(arr, 0))) != NULL;
    rule3.e2_live = rtgc_ephemeron_get(t, rtgc_load(t, elem(arr, 1)), NULL, NULL);
}

static void held_by_finalizable_in(const char *mode) {
    memset(&rule3, 0, sizeof rule3);
    rtgc_heap *h = heap_for(mode, "verify=1");
    rtgc_layout_id NODE = node_layout(h), ARR = array_layout(h);
    rtgc_thread *t = rtgc_thread_attach(h, NULL);
    RTGC_FRAME(t, r, 5);
    rule3.w1 = &r[4];
    r[0] = new_node(t, NODE, 1);                            /* F */
    r[1] = new_node(t, NODE, 2);                            /* X */
    rtgc_store(t, r[0], &((node *)r[0])->next, r[1]);
    r[2] = new_node(t, NODE, 3);                            /* holder */
    rtgc_store(t, r[1], &((node *)r[1])->next, r[2]);
    r[3] = new_array(t, ARR, 2);
    rtgc_store(t, r[2], &((node *)r[2])->next, r[3]);
    r[4] = rtgc_weak_new(t, r[1]);                          /* W1: held by a root */
    void *w2 = rtgc_weak_new(t, r[1]);                      /* W2: only F reaches it */
    rtgc_store(t, r[3], elem(r[3], 0), w2);
    void *e2 = rtgc_ephemeron_new(t, r[1], r[2]);           /* E2, keyed by X */
    rtgc_store(t, r[3], elem(r[3], 1), e2);
    assert_int_equal(rtgc_finalizer_register(t, r[0], rule3_finalizer, NULL), RTGC_OK);
    r[0] = r[1] = r[2] = r[3] = NULL;
    rtgc_collect(t);
    assert_int_equal(rtgc_run_finalizers(t, 10), 1);
    assert_int_equal(rule3.seen, 1);
    assert_true(rule3.x_intact);
    assert_false(rule3.w1_live);
    assert_false(rule3.w2_live);
    assert_false(rule3.e2_live);
    RTGC_FRAME_POP(t, r);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}

static void test_weak_held_by_finalizable(void **state) {
    (void)state;
    in_every_mode(held_by_finalizable_in);
}

/* ---- long registries and queues: no step grows with them ---- */

static struct {
    uint64_t ran, bad;
} bigq;

static void big_finalize(rtgc_thread *t, void *obj, void *data) {
    (void)data;
    node *n = obj;
    node *child = rtgc_load(t, &n->next);
    if (!intact(n) || !child || !intact(child) || child->id != n->id + 1)
        bigq.bad++;
    bigq.ran++;
}

/* [weak.fq] N finalizable objects (each with a child only it holds) and N
 * weak references to them: the registry passes, the queueing, the move to
 * the ready queue and the ready queue's root scan all have N entries.
 * Then the finalizers run in small batches while cycles go on, so the
 * ready queue shrinks (chunks freed) under its sliced root scan; each
 * finalizer checks its object and child are intact.  The collector's own
 * accounting must show no slice's work above five times the budget (in
 * optimised builds: see CHECK_SLICE_TIMES): slices end near 0.8x the
 * budget and overrun it on a busy machine by up to a few hundred
 * microseconds (seen: 354 and 610 us), while a step that grows with N (one
 * slice scanning all N ready entries, as before the queues were chunked)
 * takes 2-4 ms at N = 200,000. */
static void big_queues_in(const char *opts, uint64_t budget_ns) {
    memset(&bigq, 0, sizeof bigq);
    rtgc_heap *h = test_heap(opts);
    rtgc_layout_id NODE = node_layout(h), ARR = array_layout(h);
    rtgc_thread *t = rtgc_thread_attach(h, NULL);
    enum { N = 200000 };
    RTGC_FRAME(t, r, 3);
    r[0] = new_array(t, ARR, N);
    for (uint32_t i = 0; i < N; i++) {
        r[1] = new_node(t, NODE, 2 * (uint64_t)i);
        node *child = new_node(t, NODE, 2 * (uint64_t)i + 1);
        rtgc_store(t, r[1], &((node *)r[1])->next, child);
        assert_int_equal(rtgc_finalizer_register(t, r[1], big_finalize, NULL), RTGC_OK);
        void *w = rtgc_weak_new(t, r[1]);
        assert_non_null(w);
        rtgc_store(t, r[0], elem(r[0], i), w);
    }
    r[1] = NULL;
    alarm(120);
    rtgc_collect(t);
    assert_int_equal(rtgc_finalizers_ready(h), N);
    uint32_t live = 0;
    for (uint32_t i = 0; i < N; i++)
        live += rtgc_weak_get(t, rtgc_load(t, elem(r[0], i))) != NULL;
    assert_int_equal(live, 0);
    /* a cycle whose root scan has all N ready entries */
    rtgc_collect(t);
    /* run them a few at a time while cycles go on and garbage is made */
    size_t rounds = 0;
    while (rtgc_finalizers_ready(h)) {
        rtgc_run_finalizers(t, 333);
        for (int k = 0; k < 200; k++)
            (void)new_node(t, NODE, 0);
        if (rounds++ % 64 == 0)
            rtgc_collect(t);
        rtgc_step(t, budget_ns);
    }
    alarm(0);
    assert_int_equal(bigq.ran, N);
    assert_int_equal(bigq.bad, 0);
    assert_int_equal(rtgc_run_finalizers(t, 1), 0);
    rtgc_collect(t);
    assert_int_equal(rtgc_verify(t), 0);
    rtgc_stats st;
    rtgc_get_stats(h, &st);
    printf("big queues (%s): %u finalizers, %u weak refs; longest slice work %.0f us (budget %.0f us)\n", opts,
           (unsigned)N, (unsigned)N, st.pause_work_max_ns / 1e3, budget_ns / 1e3);
    RTGC_FRAME_POP(t, r);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);                 /* first: a failed check must not leave this thread attached */
    if (CHECK_SLICE_TIMES)
        assert_true(st.pause_work_max_ns <= 5 * budget_ns);
}

static void test_big_queues(void **state) {
    (void)state;
    big_queues_in("mode=step,budget=200us,heap=256M", 200000);
    big_queues_in("mode=incremental,budget=200us,heap=256M", 200000);
}

/* ---- pinning and interior pointers ---- */

static void trace_custom(void *obj, rtgc_visitor *v, void *data) {
    (void)data;
    rtgc_visit(v, &((void **)obj)[1]);
}

static void test_pin_and_interior(void **state) {
    (void)state;
    rtgc_heap *h = heap_for("concurrent", NULL);
    rtgc_layout_id NODE = node_layout(h), ARR, BYTES, CUST;
    rtgc_error err;
    rtgc_layout la = {.name = "arr", .kind = RTGC_LAYOUT_REF_ARRAY, .size = 8};
    rtgc_layout lb = {.name = "bytes", .kind = RTGC_LAYOUT_BYTES, .size = 8};
    rtgc_layout lc = {.name = "custom", .kind = RTGC_LAYOUT_CUSTOM, .size = 16, .elem_size = 8, .trace = trace_custom};
    assert_int_equal(rtgc_layout_register(h, &la, &ARR, &err), RTGC_OK);
    assert_int_equal(rtgc_layout_register(h, &lb, &BYTES, &err), RTGC_OK);
    assert_int_equal(rtgc_layout_register(h, &lc, &CUST, &err), RTGC_OK);
    rtgc_thread *t = rtgc_thread_attach(h, NULL);
    RTGC_FRAME(t, r, 6);
    r[0] = new_node(t, NODE, 9);
    r[1] = rtgc_alloc_array(t, ARR, 10);
    r[2] = rtgc_alloc_array(t, BYTES, 37);
    r[3] = rtgc_alloc_array(t, CUST, 3);
    r[4] = rtgc_alloc_array(t, BYTES, 200000);       /* a large object */
    r[5] = rtgc_alloc_array(t, ARR, 5000);           /* a large reference array */
    size_t sizes[6] = {sizeof(node), 8 + 10 * 8, 8 + 37, 16 + 3 * 8, 8 + 200000, 8 + 5000 * 8};
    for (int i = 0; i < 6; i++) {
        char *o = r[i];
        assert_non_null(o);
        assert_ptr_equal(rtgc_object_start(h, o), o);
        assert_ptr_equal(rtgc_object_start(h, o + 8), o);
        assert_ptr_equal(rtgc_object_start(h, o + sizes[i] / 2), o);
        assert_ptr_equal(rtgc_object_start(h, o + sizes[i] - 1), o);
    }
    /* outside the heap, and NULL */
    int local;
    assert_null(rtgc_object_start(h, &local));
    assert_null(rtgc_object_start(h, NULL));
    /* a freed cell is no object */
    node *gone = new_node(t, NODE, 77);
    char *gone_at = (char *)gone;
    gone = NULL;
    rtgc_collect(t);
    rtgc_collect(t);
    void *s = rtgc_object_start(h, gone_at + 8);
    assert_true(s == NULL || rtgc_header_layout(*(uint64_t *)s) != 0);
    /* pinning: a flag in the header that leaves layout and count alone,
     * and an object that never moves */
    uint64_t before = rtgc_object_header(r[1]);
    rtgc_pin(t, r[1]);
    assert_true(rtgc_is_pinned(r[1]));
    assert_int_equal(rtgc_header_layout(rtgc_object_header(r[1])), rtgc_header_layout(before));
    assert_int_equal(rtgc_object_count(r[1]), 10);
    void *where = r[1];
    rtgc_collect(t);
    assert_ptr_equal(r[1], where);
    assert_true(rtgc_is_pinned(r[1]));
    rtgc_unpin(t, r[1]);
    assert_false(rtgc_is_pinned(r[1]));
    assert_int_equal(rtgc_object_header(r[1]), before);
    assert_int_equal(rtgc_verify(t), 0);
    RTGC_FRAME_POP(t, r);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}

/* ---- misuse ---- */

static int misuse_count;
static void on_error(rtgc_heap *h, rtgc_status st, const char *msg, void *data) {
    (void)h;
    (void)st;
    (void)msg;
    (void)data;
    misuse_count++;
}

static void test_weak_misuse(void **state) {
    (void)state;
    rtgc_heap *h = heap_for("stw", NULL);
    rtgc_layout_id NODE = node_layout(h);
    rtgc_set_error_handler(h, on_error, NULL);
    rtgc_thread *t = rtgc_thread_attach(h, NULL);
    RTGC_FRAME(t, r, 1);
    r[0] = new_node(t, NODE, 1);
    misuse_count = 0;
    assert_null(rtgc_weak_get(t, r[0]));                 /* not a weak reference */
    assert_int_equal(rtgc_ephemeron_get(t, r[0], NULL, NULL), 0);
    assert_null(rtgc_ephemeron_new(t, NULL, r[0]));      /* a NULL key */
    int local;
    assert_int_equal(rtgc_finalizer_register(t, &local, finalize, NULL), RTGC_EINVAL);
    assert_int_equal(rtgc_finalizer_register(t, r[0], NULL, NULL), RTGC_EINVAL);
    assert_int_equal(rtgc_finalizer_register(t, (char *)r[0] + 16, finalize, NULL), RTGC_EINVAL); /* interior */
    assert_int_equal(misuse_count, 6);
    assert_false(rtgc_is_weak(h, r[0]));
    assert_false(rtgc_is_ephemeron(h, r[0]));
    /* Once weak objects exist: immediates, small numbers, NULL, addresses
     * outside the heap and copies of a weak reference's words are not
     * weak objects (nothing is read through them), and reading one as a
     * weak reference or ephemeron is misuse, not a crash. */
    void *wr = rtgc_weak_new(t, r[0]);
    assert_non_null(wr);
    uint64_t copy[3] = {rtgc_object_header(wr), (uint64_t)(uintptr_t)r[0], 0};
    void *odd[] = {(void *)(uintptr_t)7, (void *)(uintptr_t)0x1000, NULL, copy, (char *)wr + 8};
    misuse_count = 0;
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        assert_false(rtgc_is_weak(h, odd[i]));
        assert_false(rtgc_is_ephemeron(h, odd[i]));
        assert_null(rtgc_weak_get(t, odd[i]));
        assert_int_equal(rtgc_ephemeron_get(t, odd[i], NULL, NULL), 0);
    }
    assert_int_equal(misuse_count, 2 * (int)(sizeof odd / sizeof *odd));
    /* pinning takes an object's start: an interior address is misuse, and
     * the word there is left alone */
    misuse_count = 0;
    node *n = r[0];
    n->id = 77;
    rtgc_pin(t, &n->id);
    rtgc_unpin(t, &n->id);
    assert_int_equal(misuse_count, 2);
    assert_int_equal(n->id, 77);
    assert_false(rtgc_is_pinned(n));
    RTGC_FRAME_POP(t, r);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}

/* ---- concurrent churn ---- */

typedef struct churn_arg {
    rtgc_heap *h;
    rtgc_layout_id NODE;
    uint64_t seed;
    int ops;
    int bad;
    uint64_t cleared_seen, kept_seen;
    int collector;                      /* this thread also asks for collections */
} churn_arg;

static void fin_count(rtgc_thread *t, void *obj, void *data) {
    (void)t;
    churn_arg *a = data;
    if (!intact(obj))
        a->bad++;
}

static void *churn(void *p) {
    churn_arg *a = p;
    rtgc_thread *t = rtgc_thread_attach(a->h, NULL);
    enum { S = 64 };
    /* r[0..S): strong nodes; r[S..2S): weak refs; r[2S..3S): ephemerons;
     * r[3S..4S): what weak reads returned, kept strongly for a while;
     * r[4S..5S): for half the weak refs, their target, held strongly: such
     * a weak reference must never read as cleared */
    RTGC_FRAME(t, r, 5 * S);
    int had_target[S] = {0};
    for (int op = 0; op < a->ops; op++) {
        uint64_t x = test_rand(&a->seed);
        int i = (int)(x % S);
        switch ((x >> 8) % 8) {
        case 0: case 1: {
            node *n = rtgc_alloc(t, a->NODE);
            if (!n) break;
            n->id = x >> 16;
            n->check = n->id * 0x9e3779b97f4a7c15ull + 1;
            r[i] = n;
            if ((x >> 12) % 4 == 0)
                rtgc_finalizer_register(t, n, fin_count, a);
            break;
        }
        case 2:
            r[i] = NULL;
            break;
        case 3:
            r[4 * S + i] = (x >> 14) % 2 ? r[(i + 1) % S] : NULL;
            r[S + i] = rtgc_weak_new(t, r[(i + 1) % S]);
            had_target[i] = r[(i + 1) % S] != NULL;
            break;
        case 4:
            if (r[(i + 3) % S])
                r[2 * S + i] = rtgc_ephemeron_new(t, r[(i + 3) % S], r[(i + 5) % S] ? r[(i + 5) % S] : r[(i + 3) % S]);
            break;
        case 5: {
            void *w = r[S + i];
            if (!w) break;
            node *n = rtgc_weak_get(t, w);
            if (r[4 * S + i] && n != r[4 * S + i])
                a->bad++;                /* cleared (or changed) while its target was held */
            if (n) {
                if (!intact(n)) a->bad++;
                r[3 * S + i] = n;        /* a weak read made strong */
                a->kept_seen++;
            } else if (had_target[i]) {
                a->cleared_seen++;       /* a weak reference a collection cleared */
            }
            break;
        }
        case 6: {
            void *e = r[2 * S + i], *k, *v;
            if (e && rtgc_ephemeron_get(t, e, &k, &v)) {
                if (!intact(k) || !intact(v)) a->bad++;
                r[3 * S + i] = v;
            }
            break;
        }
        case 7:
            r[3 * S + i] = NULL;
            if ((x >> 20) % 64 == 0)
                rtgc_run_finalizers(t, 16);
            break;
        }
        /* what weak reads handed out stays intact while held */
        if (op % 64 == 0)
            for (int k = 0; k < S; k++)
                if (r[3 * S + k] && !intact(r[3 * S + k]))
                    a->bad++;
        rtgc_poll(t);
        if (op % 1000 == 0)
            rtgc_step(t, 100000);
        if (op % 8000 == 4000 && a->collector)
            rtgc_collect(t);             /* more cycles than the allocation alone would start */
    }
    rtgc_run_finalizers(t, SIZE_MAX);
    RTGC_FRAME_POP(t, r);
    rtgc_thread_detach(t);
    return NULL;
}

static void test_concurrent_churn(void **state) {
    (void)state;
    uint64_t seed = test_seed("weak_churn");
    const char *scale_env = getenv("RTGC_TEST_SCALE");  /* more operations: RTGC_TEST_SCALE=N */
    int scale = scale_env && atoi(scale_env) > 0 ? atoi(scale_env) : 1;
    const char *rt[] = {"concurrent", "incremental", "step", "stw"};
    for (size_t m = 0; m < 4; m++) {
        rtgc_heap *h = heap_for(rt[m], "verify=1,heap=16M,min_trigger=1M");
        rtgc_layout_id NODE = node_layout(h);
        enum { T = 3 };
        churn_arg a[T];
        pthread_t th[T];
        for (int i = 0; i < T; i++) {
            a[i] = (churn_arg){.h = h, .NODE = NODE, .seed = seed + (uint64_t)i * 7919u + m, .ops = 200000 * scale, .collector = i == 0};
            pthread_create(&th[i], NULL, churn, &a[i]);
        }
        for (int i = 0; i < T; i++)
            pthread_join(th[i], NULL);
        rtgc_stats st;
        rtgc_get_stats(h, &st);
        uint64_t kept = 0, cleared = 0;
        for (int i = 0; i < T; i++) {
            assert_int_equal(a[i].bad, 0);
            kept += a[i].kept_seen;
            cleared += a[i].cleared_seen;
        }
        printf("weak churn %s: %llu cycles, weak reads %llu live / %llu cleared\n", rt[m],
               (unsigned long long)st.cycles, (unsigned long long)kept, (unsigned long long)cleared);
        assert_true(st.cycles > 0);
        assert_true(cleared > 0);        /* collections did clear weak references */
        rtgc_heap_destroy(h);
    }
}

int main(void) {
    /* RTGC_TEST_FILTER=pattern runs only the matching tests (cmocka's wildcards) */
    const char *filter = getenv("RTGC_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weak_refs),
        cmocka_unit_test(test_ephemerons),
        cmocka_unit_test(test_ephemeron_chain),
        cmocka_unit_test(test_big_weak_map),
        cmocka_unit_test(test_finalizers),
        cmocka_unit_test(test_collect_makes_ready),
        cmocka_unit_test(test_weak_held_by_finalizable),
        cmocka_unit_test(test_big_queues),
        cmocka_unit_test(test_pin_and_interior),
        cmocka_unit_test(test_weak_misuse),
        cmocka_unit_test(test_concurrent_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* gc/tests/test_noscan.c - noscan spans [mark.noscan].
 *
 *   - where objects go: a pointer-free layout's objects from the _uninit
 *     calls, rtgc_alloc and rtgc_alloc_array are in noscan spans (the
 *     span's flag, its blocks' block_noscan bytes), large ones too; the
 *     same layout through rtgc_alloc_sized, and every layout with
 *     references (REF_ARRAY, a RECORD with a reference, the weak and
 *     ephemeron objects) in ordinary spans; each thread list set is filled
 *     from its own kind of span;
 *   - never pushed: a collection by one marker counts every reachable
 *     object of a noscan span in live_noscan_objects (marked at claim,
 *     never on a stack) and nothing else there;
 *   - alive exactly as long as reachable: uninitialised byte objects
 *     (small and large) hung from reference arrays keep their contents
 *     through collections and are counted live exactly while reachable,
 *     in every mode (stw, concurrent, incremental, step) with 1, 2 and 4
 *     markers;
 *   - a mixed graph (reference arrays of uninitialised byte objects and of
 *     other arrays) rewritten at random survives many cycles with verify=1
 *     in every mode, while one more thread allocates and drops noscan
 *     objects beside it.
 *
 * RTGC_TEST_SCALE multiplies the churn test's rounds; RTGC_TEST_FILTER
 * picks tests; every randomised test prints its seed (RTGC_TEST_SEED).
 */
#include <pthread.h>
#include <string.h>

#include "testutil.h"
#include "internal.h"

static const char *const modes[] = {"stw", "concurrent", "incremental", "step"};
static const unsigned markers[] = {1, 2, 4};

#define BIG (40u * 1024u) /* a large BYTES: > RTGC_SMALL_MAX */

typedef struct err_log {
    int count;
    char first[512];
} err_log;

static void on_error(rtgc_heap *heap, rtgc_status status, const char *message, void *data) {
    err_log *l = data;
    if (l->count++ == 0)
        snprintf(l->first, sizeof l->first, "%s", message);
}

typedef struct world {
    rtgc_heap *h;
    rtgc_thread *t;
    rtgc_layout_id bytes, rec, refs, cell;
    err_log log;
} world;

/* A RECORD with one reference (ordinary spans). */
typedef struct cell {
    uint64_t header;
    void *ref;
} cell;

static rtgc_layout_id reg(rtgc_heap *h, const rtgc_layout *l) {
    rtgc_layout_id id = 0;
    assert_int_equal(rtgc_layout_register(h, l, &id, NULL), RTGC_OK);
    return id;
}

static void world_open(world *w, const char *options) {
    memset(w, 0, sizeof *w);
    w->h = test_heap(options);
    rtgc_set_error_handler(w->h, on_error, &w->log);
    rtgc_layout b = {.name = "bytes", .kind = RTGC_LAYOUT_BYTES, .size = RTGC_HEADER_BYTES};
    rtgc_layout r = {.name = "rec40", .kind = RTGC_LAYOUT_RECORD, .size = 40};
    rtgc_layout a = {.name = "refs", .kind = RTGC_LAYOUT_REF_ARRAY, .size = RTGC_HEADER_BYTES};
    static const uint32_t off[] = {8};
    rtgc_layout c = {.name = "cell", .kind = RTGC_LAYOUT_RECORD, .size = sizeof(cell), .ref_offsets = off,
                     .ref_count = 1};
    w->bytes = reg(w->h, &b);
    w->rec = reg(w->h, &r);
    w->refs = reg(w->h, &a);
    w->cell = reg(w->h, &c);
    w->t = rtgc_thread_attach(w->h, NULL);
    assert_non_null(w->t);
}

static void world_close(world *w) {
    if (w->log.count)
        fail_msg("%d unexpected report(s), the first: %s", w->log.count, w->log.first);
    assert_int_equal(rtgc_thread_detach(w->t), RTGC_OK);
    rtgc_heap_destroy(w->h);
}

static bool in_noscan_span(rtgc_heap *h, const void *o) {
    span *s = span_of(h, o);
    assert_non_null(s);
    assert_int_equal(h->block_noscan[block_index(h, o)], span_noscan_byte(s));
    assert_int_equal(h->block_noscan[block_index(h, o)] != 0, s->noscan);
    return s->noscan;
}

static void **slot(void *arr, uint32_t i) {
    return (void **)arr + 1 + i;
}

/* ---- where objects go ---- */

static void test_placement(void **state) {
    (void)state;
    world w;
    world_open(&w, "mode=stw,heap=64M");
    rtgc_thread *t = w.t;
    RTGC_FRAME(t, r, 9);
    r[0] = rtgc_alloc_array_uninit(t, w.bytes, 100);
    r[1] = rtgc_alloc_uninit(t, w.rec);
    r[2] = rtgc_alloc_array(t, w.bytes, 100);
    r[3] = rtgc_alloc(t, w.rec);
    r[4] = rtgc_alloc_array_uninit(t, w.bytes, BIG);
    r[5] = rtgc_alloc_sized(t, w.bytes, 100, RTGC_HEADER_BYTES + 100);
    r[6] = rtgc_alloc_array(t, w.refs, 10);
    r[7] = rtgc_alloc(t, w.cell);
    r[8] = rtgc_alloc_sized(t, w.bytes, BIG, RTGC_HEADER_BYTES + BIG);
    for (int i = 0; i < 9; i++)
        assert_non_null(r[i]);
    for (int i = 0; i < 5; i++)
        if (!in_noscan_span(w.h, r[i]))
            fail_msg("object %d (a pointer-free layout from a noscan path) is in an ordinary span", i);
    assert_false(in_noscan_span(w.h, r[5]));    /* rtgc_alloc_sized: ordinary lists */
    assert_false(in_noscan_span(w.h, r[6]));
    assert_false(in_noscan_span(w.h, r[7]));
    assert_true(in_noscan_span(w.h, r[8]));     /* large: by its layout, whichever call */
    /* The collector's weak objects hold references: ordinary spans. */
    void *wr = rtgc_weak_new(t, r[6]);
    assert_non_null(wr);
    assert_false(in_noscan_span(w.h, wr));
    void *eph = rtgc_ephemeron_new(t, r[6], r[7]);
    assert_non_null(eph);
    assert_false(in_noscan_span(w.h, eph));
    assert_false(layout_noscan_ok(layout_of(w.h, eph)));
    /* Each list set from its own spans: the next uninit object of r[0]'s
     * class is in r[0]'s span, the next sized one in r[5]'s. */
    void *n0 = rtgc_alloc_array_uninit(t, w.bytes, 100);
    void *n5 = rtgc_alloc_sized(t, w.bytes, 100, RTGC_HEADER_BYTES + 100);
    assert_ptr_equal(span_of(w.h, n0), span_of(w.h, r[0]));
    assert_ptr_equal(span_of(w.h, n5), span_of(w.h, r[5]));
    assert_ptr_not_equal(span_of(w.h, r[0]), span_of(w.h, r[5]));
    rtgc_collect(t);
    assert_int_equal(rtgc_verify(t), 0);
    RTGC_FRAME_POP(t, r);
    world_close(&w);
}

/* ---- never pushed; alive exactly while reachable ---- */

enum { NARR = 8, PER = 600 };

/* Element i of array a: a byte object of a few sizes, one in 97 large. */
static uint32_t len_of(uint32_t a, uint32_t i) {
    return (a * PER + i) % 97 == 0 ? BIG : 1 + ((a * 131u + i * 37u) % 900u);
}
static uint8_t byte_of(uint32_t a, uint32_t i) {
    return (uint8_t)(a * 7u + i * 13u + 1u);
}

typedef struct census {
    size_t live_objects, live_noscan;
    size_t noscan_expected, ordinary_expected;
} census;

/* roots[0]: a REF_ARRAY of NARR REF_ARRAYs of PER uninitialised byte
 * objects each, filled with byte_of. */
static void build(world *w, void **root) {
    rtgc_thread *t = w->t;
    *root = rtgc_alloc_array(t, w->refs, NARR);
    assert_non_null(*root);
    RTGC_FRAME(t, r, 2);
    for (uint32_t a = 0; a < NARR; a++) {
        r[0] = rtgc_alloc_array(t, w->refs, PER);
        assert_non_null(r[0]);
        rtgc_store(t, *root, slot(*root, a), r[0]);
        for (uint32_t i = 0; i < PER; i++) {
            uint32_t n = len_of(a, i);
            uint8_t *o = rtgc_alloc_array_uninit(t, w->bytes, n);
            assert_non_null(o);
            memset(o + RTGC_HEADER_BYTES, byte_of(a, i), n);
            rtgc_store(t, r[0], slot(r[0], i), o);
        }
    }
    RTGC_FRAME_POP(t, r);
}

/* Every object still hung from the arrays holds its bytes. */
static void check_contents(void *root, uint32_t keep_every) {
    for (uint32_t a = 0; a < NARR; a++) {
        void *arr = *slot(root, a);
        for (uint32_t i = 0; i < PER; i++) {
            uint8_t *o = *slot(arr, i);
            if (i % keep_every) {
                assert_null(o);
                continue;
            }
            uint32_t n = len_of(a, i);
            assert_int_equal(rtgc_object_count(o), n);
            for (uint32_t k = 0; k < n; k += 61)
                if (o[RTGC_HEADER_BYTES + k] != byte_of(a, i))
                    fail_msg("array %u object %u byte %u reads %#x, want %#x", a, i, k, o[RTGC_HEADER_BYTES + k],
                             byte_of(a, i));
        }
    }
}

static census collect_census(world *w) {
    rtgc_collect(w->t);
    rtgc_stats s;
    rtgc_get_stats(w->h, &s);
    census c = {.live_objects = s.live_objects, .live_noscan = s.live_noscan_objects};
    return c;
}

static void run_reachability(const char *mode, unsigned threads) {
    char opts[160];
    snprintf(opts, sizeof opts, "mode=%s,heap=128M,verify=1,threads=%u", mode, threads);
    world w;
    world_open(&w, opts);
    rtgc_thread *t = w.t;
    RTGC_FRAME(t, root, 1);
    build(&w, &root[0]);
    size_t arrays = 1 + NARR;
    census c = collect_census(&w);
    check_contents(root[0], 1);
    printf("%-52s all: live %zu, noscan %zu\n", opts, c.live_objects, c.live_noscan);
    assert_int_equal(c.live_noscan, (size_t)NARR * PER);
    assert_int_equal(c.live_objects, arrays + (size_t)NARR * PER);
    /* Drop all but every third: exactly those stay live. */
    for (uint32_t a = 0; a < NARR; a++)
        for (uint32_t i = 0; i < PER; i++)
            if (i % 3)
                rtgc_store(t, *slot(root[0], a), slot(*slot(root[0], a), i), NULL);
    size_t kept = (size_t)NARR * ((PER + 2) / 3);
    c = collect_census(&w);
    check_contents(root[0], 3);
    printf("%-52s a third: live %zu, noscan %zu\n", opts, c.live_objects, c.live_noscan);
    assert_int_equal(c.live_noscan, kept);
    assert_int_equal(c.live_objects, arrays + kept);
    /* Fresh noscan garbage reuses the freed cells; the kept ones hold. */
    for (int k = 0; k < 3000; k++) {
        uint8_t *g = rtgc_alloc_array_uninit(t, w.bytes, 1 + (uint32_t)k % 900);
        assert_non_null(g);
        memset(g + RTGC_HEADER_BYTES, 0x5a, 1 + (size_t)k % 900);
    }
    c = collect_census(&w);
    check_contents(root[0], 3);
    assert_int_equal(c.live_noscan, kept);
    assert_int_equal(rtgc_verify(t), 0);
    /* Nothing reachable: nothing live. */
    root[0] = NULL;
    c = collect_census(&w);
    assert_int_equal(c.live_objects, 0);
    assert_int_equal(c.live_noscan, 0);
    RTGC_FRAME_POP(t, root);
    world_close(&w);
}

static void test_marked_without_push(void **state) {
    (void)state;
    /* One marker, the world stopped: every object of a noscan span is
     * counted as marked without a push, and only those; the same layout
     * from rtgc_alloc_sized goes through the stack. */
    world w;
    world_open(&w, "mode=stw,heap=64M");
    rtgc_thread *t = w.t;
    RTGC_FRAME(t, r, 1);
    r[0] = rtgc_alloc_array(t, w.refs, 300);
    for (uint32_t i = 0; i < 300; i++) {
        void *o = i % 3 == 0   ? rtgc_alloc_array_uninit(t, w.bytes, 50 + i)
                  : i % 3 == 1 ? rtgc_alloc(t, w.rec)
                               : rtgc_alloc_sized(t, w.bytes, 50 + i, RTGC_HEADER_BYTES + 50 + i);
        assert_non_null(o);
        rtgc_store(t, r[0], slot(r[0], i), o);
    }
    uint64_t traced0 = w.h->coord.traced;
    census c = collect_census(&w);
    assert_int_equal(c.live_objects, 301);
    assert_int_equal(c.live_noscan, 200);
    /* The marker's own counters: 301 marked, 200 of them noscan; the
     * array and the 100 ordinary byte objects were popped. */
    assert_int_equal(w.h->coord.traced - traced0, 301);
    rtgc_stats s;
    rtgc_get_stats(w.h, &s);
    /* live bytes: noscan objects count their cells, the others their size */
    size_t want = RTGC_HEADER_BYTES + 8 * 300;
    for (uint32_t i = 0; i < 300; i++)
        want += i % 3 == 0   ? rtgc_class_size[rtgc_size_class(RTGC_HEADER_BYTES + 50 + i)]
                : i % 3 == 1 ? rtgc_class_size[rtgc_size_class(40)]
                             : RTGC_HEADER_BYTES + 50 + i;
    assert_int_equal(s.live_bytes, want);
    RTGC_FRAME_POP(t, r);
    world_close(&w);
}

static void test_reachable_every_mode(void **state) {
    (void)state;
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++)
        for (size_t k = 0; k < sizeof markers / sizeof *markers; k++)
            run_reachability(modes[m], markers[k]);
}

/* ---- a mixed graph, many cycles, verify=1 ---- */

enum { TOP = 64, SUB = 48 };

/* The model: what each leaf should hold (0: nothing). */
typedef struct leaf_exp {
    uint32_t len;
    uint8_t fill;
} leaf_exp;

typedef struct churn_bg {
    rtgc_heap *h;
    rtgc_layout_id bytes, refs;
    bool step;                  /* step mode: it steps the cycle too */
    volatile int stop;
    uint64_t allocs;
} churn_bg;

/* Another thread: short-lived noscan objects and arrays of them. */
static void *churn_bg_main(void *arg) {
    churn_bg *b = arg;
    rtgc_thread *t = rtgc_thread_attach(b->h, NULL);
    RTGC_FRAME(t, r, 1);
    while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
        r[0] = rtgc_alloc_array(t, b->refs, 16);
        for (uint32_t i = 0; i < 16; i++) {
            uint8_t *o = rtgc_alloc_array_uninit(t, b->bytes, 1 + i * 50);
            memset(o + RTGC_HEADER_BYTES, 0x33, 1 + i * 50);
            rtgc_store(t, r[0], slot(r[0], i), o);
        }
        b->allocs += 17;
        rtgc_poll(t);
        if (b->step && b->allocs % (17 * 16) == 0)
            rtgc_step(t, 100000);
    }
    RTGC_FRAME_POP(t, r);
    rtgc_thread_detach(t);
    return NULL;
}

static void check_leaf(rtgc_thread *t, void *sub, uint32_t j, const leaf_exp *e) {
    uint8_t *o = rtgc_load(t, slot(sub, j));
    if (!e->len) {
        assert_null(o);
        return;
    }
    assert_non_null(o);
    assert_int_equal(rtgc_object_count(o), e->len);
    for (uint32_t k = 0; k < e->len; k += 17)
        if (o[RTGC_HEADER_BYTES + k] != e->fill)
            fail_msg("leaf %u byte %u reads %#x, want %#x (freed while reachable?)", j, k, o[RTGC_HEADER_BYTES + k],
                     e->fill);
}

static void run_churn(const char *mode, unsigned threads, uint64_t *rng) {
    char opts[160];
    snprintf(opts, sizeof opts, "mode=%s,heap=32M,min_trigger=1M,verify=1,threads=%u", mode, threads);
    world w;
    world_open(&w, opts);
    rtgc_thread *t = w.t;
    bool step = !strcmp(mode, "step");
    churn_bg bg = {.h = w.h, .bytes = w.bytes, .refs = w.refs, .step = step};
    pthread_t bt;
    assert_int_equal(pthread_create(&bt, NULL, churn_bg_main, &bg), 0);
    static leaf_exp exp[TOP][SUB];
    memset(exp, 0, sizeof exp);
    RTGC_FRAME(t, r, 2);
    r[0] = rtgc_alloc_array(t, w.refs, TOP);
    double scale = getenv("RTGC_TEST_SCALE") ? strtod(getenv("RTGC_TEST_SCALE"), NULL) : 1.0;
    uint64_t rounds = (uint64_t)(60000 * (scale > 0 ? scale : 1.0)) + 1;
    uint64_t c0 = rtgc_atomic_load(&w.h->cycle);
    for (uint64_t n = 0; n < rounds; n++) {
        uint64_t x = test_rand(rng);
        uint32_t a = (uint32_t)(x % TOP), j = (uint32_t)((x >> 8) % SUB);
        void *sub = rtgc_load(t, slot(r[0], a));
        switch ((x >> 20) % 8) {
        case 0:                                   /* a fresh sub-array: the old one and its leaves die */
            r[1] = rtgc_alloc_array(t, w.refs, SUB);
            rtgc_store(t, r[0], slot(r[0], a), r[1]);
            memset(exp[a], 0, sizeof exp[a]);
            break;
        case 1:                                   /* drop a leaf */
            if (sub) {
                rtgc_store(t, sub, slot(sub, j), NULL);
                exp[a][j].len = 0;
            }
            break;
        case 2:                                   /* check a sub-array */
            if (sub)
                for (uint32_t k = 0; k < SUB; k++)
                    check_leaf(t, sub, k, &exp[a][k]);
            break;
        default: {                                /* a new leaf, uninitialised, filled at once */
            if (!sub)
                break;
            uint32_t len = (x >> 32) % 61 == 0 ? BIG : 1 + (uint32_t)((x >> 32) % 1500);
            uint8_t fill = (uint8_t)(x >> 48) | 1;
            uint8_t *o = rtgc_alloc_array_uninit(t, w.bytes, len);
            assert_non_null(o);
            memset(o + RTGC_HEADER_BYTES, fill, len);
            sub = rtgc_load(t, slot(r[0], a));    /* (nothing moves; read the root anyway) */
            rtgc_store(t, sub, slot(sub, j), o);
            exp[a][j] = (leaf_exp){len, fill};
            break;
        }
        }
        if (n % 256 == 0 && step)
            rtgc_step(t, 200000);
        if (n % 4096 == 0)
            rtgc_poll(t);
    }
    for (uint32_t a = 0; a < TOP; a++) {
        void *sub = rtgc_load(t, slot(r[0], a));
        for (uint32_t k = 0; sub && k < SUB; k++)
            check_leaf(t, sub, k, &exp[a][k]);
    }
    __atomic_store_n(&bg.stop, 1, __ATOMIC_RELAXED);
    rtgc_enter_blocking(t);
    pthread_join(bt, NULL);
    rtgc_leave_blocking(t);
    assert_int_equal(rtgc_verify(t), 0);
    rtgc_stats s;
    rtgc_get_stats(w.h, &s);
    uint64_t cycles = rtgc_atomic_load(&w.h->cycle) - c0;
    printf("%-52s %llu rounds, %llu cycles, live %zu (noscan %zu), background allocations %llu\n", opts,
           (unsigned long long)rounds, (unsigned long long)cycles, s.live_objects, s.live_noscan_objects,
           (unsigned long long)bg.allocs);
    assert_true(cycles >= 3);
    RTGC_FRAME_POP(t, r);
    world_close(&w);
}

static void test_mixed_graph_churn(void **state) {
    (void)state;
    uint64_t rng = test_seed("noscan_churn");
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++)
        for (size_t k = 0; k < sizeof markers / sizeof *markers; k++)
            run_churn(modes[m], markers[k], &rng);
}

int main(void) {
    const char *filter = getenv("RTGC_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placement),
        cmocka_unit_test(test_marked_without_push),
        cmocka_unit_test(test_reachable_every_mode),
        cmocka_unit_test(test_mixed_graph_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

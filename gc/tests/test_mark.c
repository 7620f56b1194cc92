/* gc/tests/test_mark.c - parallel marking [mark.parallel] and its records.
 *
 *   - threads=4 really runs 4 markers: a stop-the-world collection of a
 *     heap with enough work to share reports 4 markers in rtgc_stats
 *     (markers) and objects traced by helpers;
 *   - parallel marking finds exactly what one marker finds: the same graph
 *     (trees, a long list, reference arrays of over 256 elements, which
 *     are traced in chunks, and pointer-free leaves [mark.noscan]) gives
 *     the same live objects and bytes with 1, 2 and 4 markers, in every
 *     mode;
 *   - in step mode helpers trace only inside rtgc_step: once a step has
 *     returned, no helper holds work and helping is closed by its deadline.
 */
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "internal.h"

typedef struct tnode {
    uint64_t header;
    void *left, *right;
    uint64_t value;
} tnode;

typedef struct leaf {
    uint64_t header;
    uint64_t a, b, c;
} leaf;

typedef struct graph_ids {
    rtgc_layout_id node, leaf, arr;
} graph_ids;

static graph_ids register_layouts(rtgc_heap *h) {
    graph_ids g;
    rtgc_layout n = {.name = "tnode", .kind = RTGC_LAYOUT_RECORD, .size = sizeof(tnode),
                     .ref_bitmap = (1u << 1) | (1u << 2)};
    rtgc_layout l = {.name = "leaf", .kind = RTGC_LAYOUT_RECORD, .size = sizeof(leaf)};
    rtgc_layout a = {.name = "arr", .kind = RTGC_LAYOUT_REF_ARRAY, .size = 8};
    assert_int_equal(rtgc_layout_register(h, &n, &g.node, NULL), RTGC_OK);
    assert_int_equal(rtgc_layout_register(h, &l, &g.leaf, NULL), RTGC_OK);
    assert_int_equal(rtgc_layout_register(h, &a, &g.arr, NULL), RTGC_OK);
    return g;
}

/* A complete tree of depth d whose leaves hold pointer-free objects in
 * their left field.  Built under a frame slot so that it is always
 * reachable. */
static tnode *tree(rtgc_thread *t, const graph_ids *g, unsigned d) {
    RTGC_FRAME(t, r, 2);
    r[0] = rtgc_alloc(t, g->node);
    if (d == 0) {
        r[1] = rtgc_alloc(t, g->leaf);
        rtgc_store(t, r[0], &((tnode *)r[0])->left, r[1]);
    } else {
        r[1] = tree(t, g, d - 1);
        rtgc_store(t, r[0], &((tnode *)r[0])->left, r[1]);
        r[1] = tree(t, g, d - 1);
        rtgc_store(t, r[0], &((tnode *)r[0])->right, r[1]);
    }
    tnode *res = r[0];
    RTGC_FRAME_POP(t, r);
    return res;
}

/* roots[0]: an array of `fan` slots, each a tree, a list or a leaf. */
static void build(rtgc_thread *t, const graph_ids *g, void **slot, uint32_t fan) {
    *slot = rtgc_alloc_array(t, g->arr, fan);
    for (uint32_t i = 0; i < fan; i++) {
        void *x;
        if (i % 3 == 0) {
            x = tree(t, g, 9);
        } else if (i % 3 == 1) {
            RTGC_FRAME(t, r, 2);
            for (int k = 0; k < 300; k++) {          /* a list through `right` */
                r[1] = rtgc_alloc(t, g->node);
                rtgc_store(t, r[1], &((tnode *)r[1])->right, r[0]);
                r[0] = r[1];
            }
            x = r[0];
            RTGC_FRAME_POP(t, r);
        } else {
            x = rtgc_alloc(t, g->leaf);
        }
        rtgc_store(t, *slot, &((void **)((char *)*slot + 8))[i], x);
    }
}

typedef struct mark_result {
    size_t live_objects, live_bytes;
    unsigned markers_max;
    uint64_t helper_objects;
} mark_result;

static mark_result run(const char *opts, uint32_t fan, int collections) {
    rtgc_heap *h = test_heap(opts);
    graph_ids g = register_layouts(h);
    rtgc_thread *t = rtgc_thread_attach(h, NULL);
    assert_non_null(t);
    RTGC_FRAME(t, roots, 1);
    build(t, &g, &roots[0], fan);
    mark_result r = {0};
    for (int i = 0; i < collections; i++) {
        rtgc_collect(t);
        rtgc_stats s;
        rtgc_get_stats(h, &s);
        if (s.markers > r.markers_max)
            r.markers_max = s.markers;
        r.live_objects = s.live_objects;
        r.live_bytes = s.live_bytes;
        r.helper_objects = s.helper_objects;
    }
    assert_int_equal(rtgc_verify(t), 0);
    RTGC_FRAME_POP(t, roots);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
    return r;
}

/* 1 + 1 array + trees, lists and leaves: what build() makes. */
static size_t expected_objects(uint32_t fan) {
    size_t n = 1;
    for (uint32_t i = 0; i < fan; i++)
        n += i % 3 == 0 ? (1u << 10) - 1 + (1u << 9) : i % 3 == 1 ? 300 : 1;
    return n;
}

static void test_four_markers(void **state) {
    (void)state;
    /* About 60 MiB of trees: every helper finds work before the first
     * marker is done.  A loaded machine may keep a helper off the CPU for
     * a whole collection, so a few collections are allowed to show it. */
    mark_result r = run("mode=stw,heap=512M,threads=4", 3000, 5);
    printf("threads=4: %u markers at most, %llu objects traced by helpers, %zu live objects\n",
           r.markers_max, (unsigned long long)r.helper_objects, r.live_objects);
    assert_int_equal(r.live_objects, expected_objects(3000));
    assert_int_equal(r.markers_max, 4);
    assert_true(r.helper_objects > 0);
}

static void test_same_marks_with_more_markers(void **state) {
    (void)state;
    static const char *const modes[] = {"stw", "concurrent", "incremental", "step"};
    static const unsigned threads[] = {1, 2, 4};
    size_t want = expected_objects(300);
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        size_t bytes = 0;
        for (size_t k = 0; k < sizeof threads / sizeof *threads; k++) {
            char opts[128];
            snprintf(opts, sizeof opts, "mode=%s,heap=128M,verify=1,threads=%u", modes[m], threads[k]);
            mark_result r = run(opts, 300, 2);
            printf("%-40s live %zu objects %zu bytes, %u markers, %llu by helpers\n", opts, r.live_objects,
                   r.live_bytes, r.markers_max, (unsigned long long)r.helper_objects);
            assert_int_equal(r.live_objects, want);
            if (k == 0)
                bytes = r.live_bytes;
            assert_int_equal(r.live_bytes, bytes);
            if (threads[k] == 1)
                assert_int_equal(r.helper_objects, 0);
        }
    }
}

/* In step mode a helper traces only inside the mutator's rtgc_step: when
 * the step has returned and its deadline passed, no helper holds work. */
static void test_step_helpers_stay_inside(void **state) {
    (void)state;
    rtgc_heap *h = test_heap("mode=step,heap=256M,threads=3,budget=200us");
    graph_ids g = register_layouts(h);
    rtgc_thread *t = rtgc_thread_attach(h, NULL);
    RTGC_FRAME(t, roots, 1);
    build(t, &g, &roots[0], 400);
    uint64_t c0 = rtgc_atomic_load(&h->cycle);
    cycle_request(h);
    int steps = 0, checked = 0;
    while (rtgc_atomic_load(&h->cycle) == c0 && steps < 100000) {
        rtgc_step(t, 200000);
        steps++;
        /* A helper stops at its next clock check after the deadline (32
         * slots), then gives its work back: 2 ms is ample. */
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        if (rtgc_atomic_load(&h->phase) == PHASE_TRACE) {
            assert_true(rtgc_atomic_load(&h->help_until) <= os_now_ns());
            assert_int_equal(rtgc_atomic_load(&h->busy), 0);
            checked++;
        }
    }
    rtgc_stats s;
    rtgc_get_stats(h, &s);
    printf("step mode, threads=3: %d steps, %d checked between steps, %llu objects traced by helpers\n", steps,
           checked, (unsigned long long)s.helper_objects);
    assert_true(rtgc_atomic_load(&h->cycle) > c0);
    assert_true(checked > 0);
    assert_true(s.helper_objects > 0);
    RTGC_FRAME_POP(t, roots);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_four_markers),
        cmocka_unit_test(test_same_marks_with_more_markers),
        cmocka_unit_test(test_step_helpers_stay_inside),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

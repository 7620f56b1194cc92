/* gc/tests/test_oom.c - out of memory: with a 4 MiB heap, allocation that
 * keeps everything reachable ends in NULL and the OOM handler; the heap stays
 * consistent and under its limit, and works again once the roots are gone.
 * A single request larger than the heap fails the same way. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define MiB ((size_t)1 << 20)
#define HEAP_LIMIT (4 * MiB)

/* node: header, next (ref, 8), aux (ref, 16), payload (24) */
static const uint32_t node_offs[] = {8, 16};

typedef struct oom_log {
    int calls;
    size_t last_request;
    size_t max_request;
    rtgc_heap *heap;
    int wrong_heap;
    int events;
    size_t event_bytes;
} oom_log;

static void on_oom(rtgc_heap *heap, size_t request, void *data) {
    oom_log *l = data;
    l->calls++;
    l->last_request = request;
    if (request > l->max_request)
        l->max_request = request;
    if (heap != l->heap)
        l->wrong_heap = 1;
}

static void on_event(rtgc_heap *heap, const rtgc_event *ev, void *data) {
    oom_log *l = data;
    if (ev->kind == RTGC_EV_OOM) {
        l->events++;
        l->event_bytes = ev->bytes;
    }
}

typedef struct fixture {
    rtgc_heap *h;
    rtgc_thread *t;
    rtgc_layout_id node, bytes, refs;
    oom_log log;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->h = test_heap("mode=stw,heap=4M,min_trigger=1M");
    rtgc_error err;
    rtgc_layout node = {.name = "node", .kind = RTGC_LAYOUT_RECORD, .size = 32,
                        .ref_offsets = node_offs, .ref_count = 2};
    rtgc_layout bytes = {.name = "bytes", .kind = RTGC_LAYOUT_BYTES, .size = 16};
    rtgc_layout refs = {.name = "refs", .kind = RTGC_LAYOUT_REF_ARRAY, .size = 8};
    if (rtgc_layout_register(f->h, &node, &f->node, &err) != RTGC_OK ||
        rtgc_layout_register(f->h, &bytes, &f->bytes, &err) != RTGC_OK ||
        rtgc_layout_register(f->h, &refs, &f->refs, &err) != RTGC_OK)
        return -1;
    f->log.heap = f->h;
    rtgc_set_oom_handler(f->h, on_oom, &f->log);
    rtgc_set_event_handler(f->h, on_event, &f->log);
    f->t = rtgc_thread_attach(f->h, &err);
    if (!f->t)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    rtgc_thread_detach(f->t);
    rtgc_heap_destroy(f->h);
    free(f);
    return 0;
}

static uint64_t *W(void *o) {
    return (uint64_t *)o;
}
static void **S(void *o) {
    return (void **)o;
}

static unsigned char pat(uint64_t k, size_t i) {
    return (unsigned char)(k * 31 + i * 7);
}

/* Fill the heap with a chain of nodes held by *root; every 4th node (when
 * `with_bytes`) also holds a BYTES object of 1..3000 bytes.  Returns the
 * number of nodes; *failed_request gets the size of the request that failed. */
static size_t fill_heap(fixture *f, void **root, int with_bytes, size_t *failed_request,
                        uint32_t *failed_len, size_t *live_estimate) {
    uint64_t seed = 12345;
    size_t n = 0, est = 0;
    for (;;) {
        void *x = rtgc_alloc(f->t, f->node);
        if (!x) {
            *failed_request = 32;
            *failed_len = 0;
            break;
        }
        W(x)[3] = n;
        S(x)[1] = *root;
        *root = x;
        est += 32;
        n++;
        if (with_bytes && n % 4 == 0) {
            uint32_t len = (uint32_t)(test_rand(&seed) % 3000) + 1;
            void *b = rtgc_alloc_array(f->t, f->bytes, len);
            if (!b) {
                *failed_request = 16 + len;
                *failed_len = len;
                break;
            }
            memset((char *)b + 16, pat(n, 0), len);
            W(b)[1] = n;
            S(x)[2] = b;
            est += 16 + len;
        }
        if (n > 10 * HEAP_LIMIT / 32) /* the limit is not enforced at all */
            fail_msg("allocated %zu nodes in a 4 MiB heap without failing", n);
    }
    *live_estimate = est;
    return n;
}

static void check_chain(void *head, size_t n) {
    void *x = head;
    for (size_t i = 0; i < n; i++) {
        assert_non_null(x);
        if (W(x)[3] != n - 1 - i)
            fail_msg("node %zu: payload %llu, want %zu", i, (unsigned long long)W(x)[3],
                     n - 1 - i);
        void *b = S(x)[2];
        if (b) {
            uint32_t len = rtgc_object_count(b);
            assert_int_equal(W(b)[1], n - i);
            const unsigned char *p = (const unsigned char *)b + 16;
            for (uint32_t k = 0; k < len; k++)
                if (p[k] != pat(n - i, 0))
                    fail_msg("bytes object of node %zu corrupted at %u", i, k);
        }
        x = S(x)[1];
    }
    assert_null(x);
}

static void run_fill(fixture *f, int with_bytes) {
    rtgc_stats s;
    RTGC_FRAME(f->t, r, 1);
    size_t req = 0, est = 0;
    uint32_t len = 0;
    size_t n = fill_heap(f, &r[0], with_bytes, &req, &len, &est);
    print_message("filled: %zu nodes, ~%zu live bytes before the failure\n", n, est);

    /* The handler ran, on this thread, with the request size. */
    assert_true(f->log.calls >= 1);
    assert_false(f->log.wrong_heap);
    assert_true(f->log.last_request >= req);
    assert_true(f->log.last_request <= req + req / 4 + 16);
    rtgc_get_stats(f->h, &s);
    assert_int_equal(s.oom_count, (uint64_t)f->log.calls);
    assert_int_equal(f->log.events, f->log.calls);
    assert_true(f->log.event_bytes >= req);

    /* The limit held, and it was used: live data reached a fair share of it. */
    assert_true(s.heap_peak <= HEAP_LIMIT);
    assert_true(s.heap_size <= HEAP_LIMIT);
    if (!with_bytes)
        assert_true(est >= HEAP_LIMIT / 2);

    /* The heap is consistent and everything reachable is intact. */
    assert_int_equal(rtgc_verify(f->t), 0);
    check_chain(r[0], n);

    /* Still full: the same request fails again and is counted. */
    int calls = f->log.calls;
    void *again = len ? rtgc_alloc_array(f->t, f->bytes, len) : rtgc_alloc(f->t, f->node);
    assert_null(again);
    assert_int_equal(f->log.calls, calls + 1);
    rtgc_get_stats(f->h, &s);
    assert_int_equal(s.oom_count, (uint64_t)calls + 1);
    assert_int_equal(rtgc_verify(f->t), 0);
    check_chain(r[0], n);

    /* Drop the roots: after a collection allocation works again. */
    r[0] = NULL;
    rtgc_collect(f->t);
    rtgc_get_stats(f->h, &s);
    assert_int_equal(s.live_objects, 0);
    calls = f->log.calls;
    for (size_t i = 0; i < n / 2; i++) {
        void *x = rtgc_alloc(f->t, f->node);
        assert_non_null(x);
        W(x)[3] = i;
        S(x)[1] = r[0];
        r[0] = x;
    }
    void *big = rtgc_alloc_array(f->t, f->bytes, 100000);
    assert_non_null(big);
    assert_int_equal(f->log.calls, calls);
    rtgc_collect(f->t);
    rtgc_get_stats(f->h, &s);
    assert_int_equal(s.live_objects, n / 2);
    assert_int_equal(rtgc_verify(f->t), 0);
    RTGC_FRAME_POP(f->t, r);
}

static void test_fill_nodes(void **state) {
    run_fill(*state, 0);
}

static void test_fill_mixed(void **state) {
    run_fill(*state, 1);
}

/* A request larger than the whole heap fails at once, through the handler. */
static void test_too_large(void **state) {
    fixture *f = *state;
    rtgc_stats s;
    RTGC_FRAME(f->t, r, 1);
    r[0] = rtgc_alloc(f->t, f->node);
    assert_non_null(r[0]);
    W(r[0])[3] = 4242;

    void *x = rtgc_alloc_array(f->t, f->bytes, (uint32_t)(8 * MiB));
    assert_null(x);
    assert_int_equal(f->log.calls, 1);
    assert_true(f->log.last_request >= 8 * MiB);
    rtgc_get_stats(f->h, &s);
    assert_int_equal(s.oom_count, 1);

    /* Exactly the limit does not fit either (the header is on top). */
    x = rtgc_alloc_array(f->t, f->bytes, (uint32_t)HEAP_LIMIT);
    assert_null(x);
    assert_int_equal(f->log.calls, 2);

    /* A huge REF_ARRAY: 2^32-1 elements of 8 bytes (32 GiB). */
    x = rtgc_alloc_array(f->t, f->refs, UINT32_MAX);
    assert_null(x);
    assert_int_equal(f->log.calls, 3);
    assert_true(f->log.last_request >= (size_t)UINT32_MAX * 8);
    rtgc_get_stats(f->h, &s);
    assert_int_equal(s.oom_count, 3);
    assert_true(s.heap_peak <= HEAP_LIMIT);

    /* Nothing broke. */
    assert_int_equal(rtgc_verify(f->t), 0);
    assert_int_equal(W(r[0])[3], 4242);
    void *y = rtgc_alloc_array(f->t, f->bytes, 1000000);
    assert_non_null(y);
    void *z = rtgc_alloc(f->t, f->node);
    assert_non_null(z);
    assert_int_equal(f->log.calls, 3);
    rtgc_collect(f->t);
    rtgc_get_stats(f->h, &s);
    assert_int_equal(s.live_objects, 1);
    assert_int_equal(s.oom_count, 3);
    RTGC_FRAME_POP(f->t, r);
}

/* Without a handler, out of memory is still a NULL return (and counted). */
static void test_no_handler(void **state) {
    fixture *f = *state;
    rtgc_set_oom_handler(f->h, NULL, NULL);
    void *x = rtgc_alloc_array(f->t, f->bytes, (uint32_t)(16 * MiB));
    assert_null(x);
    assert_int_equal(f->log.calls, 0);
    rtgc_stats s;
    rtgc_get_stats(f->h, &s);
    assert_int_equal(s.oom_count, 1);
    assert_non_null(rtgc_alloc(f->t, f->node));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fill_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_mixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_handler, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* gc/tests/test_roots.c - every kind of root keeps its objects alive across
 * rtgc_collect, and dropping the root lets them go: global ranges,
 * shadow-stack frames, handles, global handles, global root callbacks, a
 * sliced per-thread stack scanner, and the roots of a thread that sits in a
 * blocking call while another thread collects. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#define IMM(x) ((void *)(((uintptr_t)(x) << 1) | 1u))

/* node: header, next (ref at 8), payload words 2 and 3 */
static const uint32_t node_offs[] = {8};

typedef struct fixture {
    rtgc_heap *h;
    rtgc_thread *t;
    rtgc_layout_id node;
    int errors;       /* reports through the error handler */
    rtgc_status last_error;
} fixture;

static void on_error(rtgc_heap *heap, rtgc_status status, const char *message, void *data) {
    fixture *f = data;
    f->errors++;
    f->last_error = status;
    print_message("error handler: %s\n", message);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->h = test_heap("mode=stw");
    rtgc_layout l = {.name = "node", .kind = RTGC_LAYOUT_RECORD, .size = 32,
                     .ref_offsets = node_offs, .ref_count = 1};
    rtgc_error err;
    if (rtgc_layout_register(f->h, &l, &f->node, &err) != RTGC_OK)
        return -1;
    rtgc_set_error_handler(f->h, on_error, f);
    f->t = rtgc_thread_attach(f->h, &err);
    if (!f->t)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (f->errors)
        print_message("%d error reports in this test\n", f->errors);
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

static void *new_node(rtgc_thread *t, rtgc_layout_id node, uint64_t payload) {
    void *n = rtgc_alloc(t, node);
    assert_non_null(n);
    W(n)[2] = payload;
    W(n)[3] = ~payload;
    return n;
}

/* Build a chain of n nodes with payloads base+n-1 .. base into *root (a root
 * slot), so every node is reachable from the root before the next
 * allocation.  The head has payload base + n - 1. */
static void build_chain(rtgc_thread *t, rtgc_layout_id node, void **root, size_t n,
                        uint64_t base) {
    *root = NULL;
    for (size_t i = 0; i < n; i++) {
        void *x = new_node(t, node, base + i);
        S(x)[1] = *root;
        *root = x;
    }
}

static void check_chain(void *head, size_t n, uint64_t base) {
    void *x = head;
    for (size_t i = 0; i < n; i++) {
        assert_non_null(x);
        uint64_t want = base + n - 1 - i;
        if (W(x)[2] != want || W(x)[3] != ~want)
            fail_msg("chain node %zu: payload %llu, want %llu", i, (unsigned long long)W(x)[2],
                     (unsigned long long)want);
        x = S(x)[1];
    }
    assert_null(x);
}

static size_t live_after_collect(fixture *f) {
    rtgc_collect(f->t);
    rtgc_stats s;
    rtgc_get_stats(f->h, &s);
    return s.live_objects;
}

/* ---- global ranges ---- */

static void *g_static[8];

static void test_root_ranges(void **state) {
    fixture *f = *state;
    assert_int_equal(live_after_collect(f), 0);

    assert_int_equal(rtgc_root_range_add(f->h, g_static, 8), RTGC_OK);
    void **dyn = calloc(100, sizeof(void *));
    assert_int_equal(rtgc_root_range_add(f->h, dyn, 100), RTGC_OK);

    build_chain(f->t, f->node, &g_static[0], 10, 100);
    build_chain(f->t, f->node, &g_static[7], 5, 200);
    g_static[3] = IMM(3);
    for (size_t i = 0; i < 100; i++)
        dyn[i] = new_node(f->t, f->node, 1000 + i);

    for (int round = 0; round < 3; round++) {
        assert_int_equal(live_after_collect(f), 15 + 100);
        check_chain(g_static[0], 10, 100);
        check_chain(g_static[7], 5, 200);
        assert_ptr_equal(g_static[3], IMM(3));
        for (size_t i = 0; i < 100; i++)
            assert_int_equal(W(dyn[i])[2], 1000 + i);
    }
    assert_int_equal(rtgc_verify(f->t), 0);

    /* Remove the static range: its chains go, the malloc'd range stays. */
    assert_int_equal(rtgc_root_range_remove(f->h, g_static), RTGC_OK);
    assert_int_equal(live_after_collect(f), 100);
    memset(g_static, 0, sizeof g_static);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(W(dyn[i])[3], ~(uint64_t)(1000 + i));

    /* Clearing slots of a registered range drops those objects. */
    for (size_t i = 0; i < 100; i += 2)
        dyn[i] = NULL;
    assert_int_equal(live_after_collect(f), 50);

    assert_int_equal(rtgc_root_range_remove(f->h, dyn), RTGC_OK);
    assert_int_equal(live_after_collect(f), 0);
    assert_int_equal(f->errors, 0);
    /* removing it again is an error, not a crash */
    assert_int_not_equal(rtgc_root_range_remove(f->h, dyn), RTGC_OK);
    free(dyn);
}

/* ---- shadow-stack frames ---- */

static size_t deepest_live;

static void nested(fixture *f, int depth, size_t outer_live) {
    RTGC_FRAME(f->t, r, 2);
    assert_null(r[0]);
    assert_null(r[1]);
    r[0] = new_node(f->t, f->node, 5000 + (uint64_t)depth);
    r[1] = IMM(depth);
    if (depth > 1) {
        nested(f, depth - 1, outer_live + 1);
    } else {
        deepest_live = live_after_collect(f);
    }
    /* this level's objects are intact after the inner collections */
    assert_int_equal(W(r[0])[2], 5000 + (uint64_t)depth);
    assert_ptr_equal(r[1], IMM(depth));
    rtgc_collect(f->t);
    rtgc_stats s;
    rtgc_get_stats(f->h, &s);
    assert_int_equal(s.live_objects, outer_live + 1);
    RTGC_FRAME_POP(f->t, r);
}

static void test_frames(void **state) {
    fixture *f = *state;
    rtgc_frame fr;
    void *slots[4] = {(void *)(uintptr_t)0x1000, (void *)(uintptr_t)0x2000, IMM(1), IMM(2)};
    rtgc_frame_push(f->t, &fr, slots, 4);
    for (int i = 0; i < 4; i++)
        assert_null(slots[i]); /* push zeroes the slots */
    assert_ptr_equal(rtgc_mutator_of(f->t)->frames, &fr);

    build_chain(f->t, f->node, &slots[0], 20, 0);
    slots[2] = new_node(f->t, f->node, 77);
    assert_int_equal(live_after_collect(f), 21);

    nested(f, 30, 21);
    assert_int_equal(deepest_live, 21 + 30);
    assert_ptr_equal(rtgc_mutator_of(f->t)->frames, &fr); /* inner frames popped */
    assert_int_equal(live_after_collect(f), 21);
    check_chain(slots[0], 20, 0);
    assert_int_equal(W(slots[2])[2], 77);

    /* A second explicit frame on top; pops are LIFO. */
    rtgc_frame fr2;
    void *slots2[1];
    rtgc_frame_push(f->t, &fr2, slots2, 1);
    slots2[0] = new_node(f->t, f->node, 88);
    assert_int_equal(live_after_collect(f), 22);
    rtgc_frame_pop(f->t, &fr2);
    assert_ptr_equal(rtgc_mutator_of(f->t)->frames, &fr);
    assert_int_equal(live_after_collect(f), 21);

    slots[2] = NULL;
    assert_int_equal(live_after_collect(f), 20);
    rtgc_frame_pop(f->t, &fr);
    assert_int_equal(live_after_collect(f), 0);
}

/* ---- handles ---- */

#define NHANDLES 1000u

static void test_handles(void **state) {
    fixture *f = *state;
    rtgc_handle_mark m0 = rtgc_handles_mark(f->t);
    rtgc_handle_mark m300 = 0;
    void ***hs = calloc(NHANDLES, sizeof *hs);
    for (size_t i = 0; i < NHANDLES; i++) {
        if (i == 300)
            m300 = rtgc_handles_mark(f->t);
        hs[i] = rtgc_handle(f->t, NULL);
        assert_non_null(hs[i]);
        assert_null(*hs[i]);
        *hs[i] = new_node(f->t, f->node, i);
    }
    /* a handle made with an object holds it */
    void **extra = rtgc_handle(f->t, IMM(99));
    assert_non_null(extra);
    assert_ptr_equal(*extra, IMM(99));
    /* distinct slots, and (slots never move) each still holds its object */
    for (size_t i = 1; i < NHANDLES; i++)
        assert_true(hs[i] != hs[i - 1]);
    for (size_t i = 0; i < NHANDLES; i++) {
        assert_int_equal(W(*hs[i])[2], i);
        for (size_t j = i + 1; j < NHANDLES && j < i + 300; j++)
            assert_true(hs[i] != hs[j]);
    }

    assert_int_equal(live_after_collect(f), NHANDLES);
    assert_int_equal(live_after_collect(f), NHANDLES);
    for (size_t i = 0; i < NHANDLES; i++) {
        assert_int_equal(W(*hs[i])[2], i);
        assert_int_equal(W(*hs[i])[3], ~(uint64_t)i);
    }
    assert_ptr_equal(*extra, IMM(99));
    assert_int_equal(rtgc_verify(f->t), 0);

    /* Release back to the mark taken after 300 handles. */
    rtgc_handles_release(f->t, m300);
    assert_int_equal(rtgc_handles_mark(f->t), m300);
    assert_int_equal(live_after_collect(f), 300);
    for (size_t i = 0; i < 300; i++)
        assert_int_equal(W(*hs[i])[2], i);

    /* New handles after a release work (and reuse the chunks). */
    for (size_t i = 300; i < 800; i++) {
        hs[i] = rtgc_handle(f->t, NULL);
        assert_non_null(hs[i]);
        *hs[i] = new_node(f->t, f->node, 10000 + i);
    }
    assert_int_equal(live_after_collect(f), 800);
    for (size_t i = 0; i < 300; i++)
        assert_int_equal(W(*hs[i])[2], i);
    for (size_t i = 300; i < 800; i++)
        assert_int_equal(W(*hs[i])[2], 10000 + i);

    /* Clearing a handle's slot drops its object. */
    *hs[0] = NULL;
    assert_int_equal(live_after_collect(f), 799);

    rtgc_handles_release(f->t, m0);
    assert_int_equal(rtgc_handles_mark(f->t), m0);
    assert_int_equal(live_after_collect(f), 0);
    free(hs);
}

/* ---- global handles ---- */

#define NGLOBAL 1000u

static void test_global_handles(void **state) {
    fixture *f = *state;
    void ***gh = calloc(NGLOBAL, sizeof *gh);
    for (size_t i = 0; i < NGLOBAL; i++) {
        gh[i] = rtgc_global_handle_new(f->h, NULL);
        assert_non_null(gh[i]);
        assert_null(*gh[i]);
        *gh[i] = new_node(f->t, f->node, i);
    }
    for (size_t i = 0; i < NGLOBAL; i++)
        for (size_t j = i + 1; j < NGLOBAL; j++)
            if (gh[i] == gh[j])
                fail_msg("global handles %zu and %zu are the same slot", i, j);

    assert_int_equal(live_after_collect(f), NGLOBAL);
    for (size_t i = 0; i < NGLOBAL; i++)
        assert_int_equal(W(*gh[i])[2], i);

    /* Free the even ones. */
    for (size_t i = 0; i < NGLOBAL; i += 2) {
        rtgc_global_handle_free(f->h, gh[i]);
        gh[i] = NULL;
    }
    assert_int_equal(live_after_collect(f), NGLOBAL / 2);
    for (size_t i = 1; i < NGLOBAL; i += 2)
        assert_int_equal(W(*gh[i])[2], i);

    /* Reuse: new handles never alias a live one. */
    for (size_t i = 0; i < NGLOBAL; i += 2) {
        void *obj = new_node(f->t, f->node, 20000 + i);
        /* obj is unrooted only until the handle is made; nothing allocates in between */
        gh[i] = rtgc_global_handle_new(f->h, obj);
        assert_non_null(gh[i]);
        assert_ptr_equal(*gh[i], obj);
        for (size_t j = 1; j < NGLOBAL; j += 2)
            if (gh[i] == gh[j])
                fail_msg("new global handle aliases live handle %zu", j);
    }
    assert_int_equal(live_after_collect(f), NGLOBAL);
    for (size_t i = 0; i < NGLOBAL; i++)
        assert_int_equal(W(*gh[i])[2], (i % 2 == 0) ? 20000 + i : i);

    /* An immediate in a global handle is left alone. */
    void **imm = rtgc_global_handle_new(f->h, IMM(5));
    assert_non_null(imm);
    assert_int_equal(live_after_collect(f), NGLOBAL);
    assert_ptr_equal(*imm, IMM(5));
    rtgc_global_handle_free(f->h, imm);

    for (size_t i = 0; i < NGLOBAL; i++)
        rtgc_global_handle_free(f->h, gh[i]);
    assert_int_equal(live_after_collect(f), 0);
    free(gh);
}

/* ---- global root callbacks ---- */

typedef struct cb_roots {
    void *slots[20];
    int calls;
} cb_roots;

static void visit_cb_roots(rtgc_heap *heap, rtgc_visitor *v, void *data) {
    cb_roots *c = data;
    c->calls++;
    for (size_t i = 0; i < 20; i++)
        rtgc_visit(v, &c->slots[i]);
}

static void test_root_callbacks(void **state) {
    fixture *f = *state;
    static cb_roots a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    assert_int_equal(rtgc_root_callback_add(f->h, visit_cb_roots, &a), RTGC_OK);
    assert_int_equal(rtgc_root_callback_add(f->h, visit_cb_roots, &b), RTGC_OK);
    for (size_t i = 0; i < 20; i++) {
        a.slots[i] = new_node(f->t, f->node, 300 + i);
        b.slots[i] = (i % 5 == 4) ? IMM(i) : new_node(f->t, f->node, 400 + i);
    }
    int ca = a.calls, cb = b.calls;
    assert_int_equal(live_after_collect(f), 20 + 16);
    assert_int_equal(a.calls, ca + 1); /* once per cycle */
    assert_int_equal(b.calls, cb + 1);
    assert_int_equal(live_after_collect(f), 20 + 16);
    assert_int_equal(a.calls, ca + 2);
    assert_int_equal(b.calls, cb + 2);
    for (size_t i = 0; i < 20; i++) {
        assert_int_equal(W(a.slots[i])[2], 300 + i);
        if (i % 5 == 4)
            assert_ptr_equal(b.slots[i], IMM(i));
        else
            assert_int_equal(W(b.slots[i])[2], 400 + i);
    }

    /* Same function, other data: only (fn, a) goes. */
    assert_int_equal(rtgc_root_callback_remove(f->h, visit_cb_roots, &a), RTGC_OK);
    ca = a.calls;
    cb = b.calls;
    assert_int_equal(live_after_collect(f), 16);
    assert_int_equal(a.calls, ca);
    assert_int_equal(b.calls, cb + 1);
    for (size_t i = 0; i < 20; i++)
        if (i % 5 != 4)
            assert_int_equal(W(b.slots[i])[3], ~(uint64_t)(400 + i));
    assert_int_equal(f->errors, 0);
    assert_int_not_equal(rtgc_root_callback_remove(f->h, visit_cb_roots, &a), RTGC_OK);
    f->errors = 0;

    assert_int_equal(rtgc_root_callback_remove(f->h, visit_cb_roots, &b), RTGC_OK);
    cb = b.calls;
    assert_int_equal(live_after_collect(f), 0);
    assert_int_equal(b.calls, cb);
}

/* ---- a sliced stack scanner ---- */

typedef struct fake_stack {
    void **slots;
    size_t n;
    uint64_t calls;         /* scanner invocations */
    uint64_t scans;         /* invocations with cursor 0 */
    uint64_t completed;     /* scans that returned 0 */
    uint64_t violations;    /* cursor not the one left by the previous slice */
    uint64_t max_slices;    /* most slices one scan took */
    uint64_t slices;        /* slices of the current scan */
    uintptr_t expect;       /* cursor the next call must bring */
    uintptr_t last_cursor;  /* within a scan: must grow */
    pthread_t caller;       /* OS thread of the last call */
} fake_stack;

static int fake_scan(rtgc_thread *t, rtgc_root_scan *scan, void *data) {
    fake_stack *fs = data;
    fs->calls++;
    fs->caller = pthread_self();
    if (scan->cursor != fs->expect)
        fs->violations++;
    if (scan->cursor == 0) {
        fs->scans++;
        fs->slices = 0;
        fs->last_cursor = 0;
    } else if (scan->cursor <= fs->last_cursor) {
        fs->violations++;
    }
    fs->last_cursor = scan->cursor;
    fs->slices++;
    if (fs->slices > fs->max_slices)
        fs->max_slices = fs->slices;
    size_t i = scan->cursor;
    if (fs->slices > 1000000 || i > fs->n) { /* runaway: give up */
        fs->violations++;
        fs->expect = 0;
        return 0;
    }
    while (i < fs->n) {
        rtgc_scan_visit(scan, &fs->slots[i]);
        i++;
        if (i < fs->n && rtgc_scan_should_yield(scan)) {
            scan->cursor = i;
            fs->expect = i;
            return 1;
        }
    }
    fs->expect = 0;
    fs->completed++;
    return 0;
}

#define STACK_SLOTS 100000u

static void fill_fake_stack(rtgc_thread *t, rtgc_layout_id node, fake_stack *fs, size_t n,
                            uint64_t base) {
    for (size_t i = 0; i < n; i++) {
        if (i % 2 == 0)
            fs->slots[i] = new_node(t, node, base + i);
        else if (i % 4 == 1)
            fs->slots[i] = IMM(i);
        else
            fs->slots[i] = NULL;
    }
}

static void check_fake_stack(const fake_stack *fs, size_t n, uint64_t base) {
    for (size_t i = 0; i < n; i++) {
        void *v = fs->slots[i];
        if (i % 2 == 0) {
            if (!v || W(v)[2] != base + i || W(v)[3] != ~(base + i))
                fail_msg("fake stack slot %zu lost its object", i);
        } else if (i % 4 == 1) {
            assert_ptr_equal(v, IMM(i));
        } else {
            assert_null(v);
        }
    }
}

static void test_stack_scanner(void **state) {
    fixture *f = *state;
    fake_stack fs;
    memset(&fs, 0, sizeof fs);
    fs.slots = calloc(STACK_SLOTS, sizeof(void *));
    fs.n = STACK_SLOTS;
    rtgc_thread_set_stack_scanner(f->t, fake_scan, &fs);
    fill_fake_stack(f->t, f->node, &fs, STACK_SLOTS, 0);

    for (int round = 1; round <= 3; round++) {
        uint64_t calls0 = fs.calls, scans0 = fs.scans, done0 = fs.completed;
        fs.max_slices = 0;
        assert_int_equal(live_after_collect(f), STACK_SLOTS / 2);
        print_message("collect %d: %llu scanner calls\n", round,
                      (unsigned long long)(fs.calls - calls0));
        assert_true(fs.calls - calls0 > 1);       /* sliced */
        assert_true(fs.max_slices > 1);
        assert_int_equal(fs.scans - scans0, 1);   /* one scan per collection */
        assert_int_equal(fs.completed - done0, 1);
        assert_int_equal(fs.violations, 0);
        assert_int_equal(fs.expect, 0);
        check_fake_stack(&fs, STACK_SLOTS, 0);
    }

    /* The scanner's slots are the only roots: dropping half of the stack
     * drops those objects. */
    fs.n = STACK_SLOTS / 2;
    assert_int_equal(live_after_collect(f), STACK_SLOTS / 4);
    assert_int_equal(fs.violations, 0);
    check_fake_stack(&fs, STACK_SLOTS / 2, 0);
    fs.n = 0;
    assert_int_equal(live_after_collect(f), 0);
    assert_int_equal(fs.violations, 0);

    /* A NULL scanner removes it. */
    fs.n = 10;
    rtgc_thread_set_stack_scanner(f->t, NULL, NULL);
    uint64_t calls = fs.calls;
    assert_int_equal(live_after_collect(f), 0);
    assert_int_equal(fs.calls, calls);
    free(fs.slots);
}

/* ---- a thread in a blocking call keeps its roots; the collector does not
 * wait for it ---- */

#define T2_CHAIN 200u
#define T2_HANDLES 50u
#define T2_STACK 10000u
#define MAIN_CHAIN 30u

typedef struct blocked_thread {
    rtgc_heap *h;
    rtgc_layout_id node;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;              /* t2 is inside rtgc_enter_blocking */
    int go;                 /* main lets t2 leave */
    int timed_out;          /* t2 left the blocking region on its own */
    int attach_failed;
    int ok_after;           /* t2's objects intact after it left */
    int ok_after_own_collect;
    fake_stack fs;
    pthread_t self;
} blocked_thread;

static int chain_ok(void *head, size_t n, uint64_t base) {
    void *x = head;
    for (size_t i = 0; i < n; i++) {
        uint64_t want = base + n - 1 - i;
        if (!x || W(x)[2] != want || W(x)[3] != ~want)
            return 0;
        x = S(x)[1];
    }
    return x == NULL;
}

static int stack_ok(const fake_stack *fs, size_t n, uint64_t base) {
    for (size_t i = 0; i < n; i++) {
        void *v = fs->slots[i];
        if (i % 2 == 0) {
            if (!v || W(v)[2] != base + i)
                return 0;
        } else if (i % 4 == 1) {
            if (v != IMM(i))
                return 0;
        } else if (v) {
            return 0;
        }
    }
    return 1;
}

static void *blocked_main(void *arg) {
    blocked_thread *b = arg;
    rtgc_error err;
    rtgc_thread *t2 = rtgc_thread_attach(b->h, &err);
    if (!t2) {
        pthread_mutex_lock(&b->mu);
        b->attach_failed = 1;
        b->ready = 1;
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        return NULL;
    }
    b->self = pthread_self();
    RTGC_FRAME(t2, r, 2);
    for (size_t i = 0; i < T2_CHAIN; i++) { /* build_chain without cmocka asserts */
        void *x = rtgc_alloc(t2, b->node);
        W(x)[2] = 7000 + i;
        W(x)[3] = ~(uint64_t)(7000 + i);
        S(x)[1] = r[0];
        r[0] = x;
    }
    rtgc_handle_mark m = rtgc_handles_mark(t2);
    void **hs[T2_HANDLES];
    for (size_t i = 0; i < T2_HANDLES; i++) {
        hs[i] = rtgc_handle(t2, NULL);
        void *x = rtgc_alloc(t2, b->node);
        W(x)[2] = 8000 + i;
        W(x)[3] = ~(uint64_t)(8000 + i);
        *hs[i] = x;
    }
    b->fs.slots = calloc(T2_STACK, sizeof(void *));
    b->fs.n = T2_STACK;
    rtgc_thread_set_stack_scanner(t2, fake_scan, &b->fs);
    for (size_t i = 0; i < T2_STACK; i++) {
        if (i % 2 == 0) {
            void *x = rtgc_alloc(t2, b->node);
            W(x)[2] = 90000 + i;
            W(x)[3] = ~(uint64_t)(90000 + i);
            b->fs.slots[i] = x;
        } else if (i % 4 == 1) {
            b->fs.slots[i] = IMM(i);
        }
    }

    rtgc_enter_blocking(t2);
    pthread_mutex_lock(&b->mu);
    b->ready = 1;
    pthread_cond_broadcast(&b->cv);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 2;
    while (!b->go) {
        if (pthread_cond_timedwait(&b->cv, &b->mu, &deadline) == ETIMEDOUT) {
            b->timed_out = 1;
            break;
        }
    }
    pthread_mutex_unlock(&b->mu);
    rtgc_leave_blocking(t2);

    int ok = chain_ok(r[0], T2_CHAIN, 7000) && stack_ok(&b->fs, T2_STACK, 90000);
    for (size_t i = 0; i < T2_HANDLES; i++)
        if (!*hs[i] || W(*hs[i])[2] != 8000 + i)
            ok = 0;
    b->ok_after = ok;

    /* Now this thread collects while the main thread is the blocked one. */
    rtgc_collect(t2);
    ok = chain_ok(r[0], T2_CHAIN, 7000) && stack_ok(&b->fs, T2_STACK, 90000);
    for (size_t i = 0; i < T2_HANDLES; i++)
        if (!*hs[i] || W(*hs[i])[2] != 8000 + i)
            ok = 0;
    b->ok_after_own_collect = ok;

    rtgc_thread_set_stack_scanner(t2, NULL, NULL);
    rtgc_handles_release(t2, m);
    RTGC_FRAME_POP(t2, r);
    rtgc_thread_detach(t2);
    return NULL;
}

static void test_blocked_thread_roots(void **state) {
    fixture *f = *state;
    RTGC_FRAME(f->t, r, 1);
    build_chain(f->t, f->node, &r[0], MAIN_CHAIN, 600);

    blocked_thread b;
    memset(&b, 0, sizeof b);
    b.h = f->h;
    b.node = f->node;
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    pthread_t th;

    /* While t2 attaches and allocates, this thread is "blocked" too, so a
     * collection started by t2 would not wait for it. */
    rtgc_enter_blocking(f->t);
    assert_int_equal(pthread_create(&th, NULL, blocked_main, &b), 0);
    pthread_mutex_lock(&b.mu);
    while (!b.ready)
        pthread_cond_wait(&b.cv, &b.mu);
    pthread_mutex_unlock(&b.mu);
    rtgc_leave_blocking(f->t);
    assert_false(b.attach_failed);

    /* t2 is now blocked, waiting to be signalled.  Collect, several times,
     * with garbage in between. */
    size_t expect = MAIN_CHAIN + T2_CHAIN + T2_HANDLES + T2_STACK / 2;
    uint64_t scans0 = b.fs.scans;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 500; i++)
            (void)new_node(f->t, f->node, 1);
        assert_int_equal(live_after_collect(f), expect);
    }
    uint64_t scans = b.fs.scans - scans0;
    assert_int_equal(rtgc_verify(f->t), 0); /* may run the scanner too */
    check_chain(r[0], MAIN_CHAIN, 600);

    pthread_mutex_lock(&b.mu);
    int collected_while_blocked = !b.timed_out && !b.go;
    pthread_mutex_unlock(&b.mu);
    /* the collections above returned while t2 still sat in its blocking call */
    assert_true(collected_while_blocked);
    /* t2's scanner was run on its behalf, by this thread, in slices */
    assert_int_equal(scans, 3);
    assert_int_equal(b.fs.violations, 0);
    assert_true(pthread_equal(b.fs.caller, pthread_self()));

    /* Let t2 go; wait for it as a blocked thread. */
    rtgc_enter_blocking(f->t);
    pthread_mutex_lock(&b.mu);
    b.go = 1;
    pthread_cond_broadcast(&b.cv);
    pthread_mutex_unlock(&b.mu);
    pthread_join(th, NULL);
    rtgc_leave_blocking(f->t);

    assert_false(b.timed_out);
    assert_true(b.ok_after);
    assert_true(b.ok_after_own_collect);
    assert_int_equal(b.fs.violations, 0);

    /* t2 detached: its roots are gone. */
    assert_int_equal(live_after_collect(f), MAIN_CHAIN);
    check_chain(r[0], MAIN_CHAIN, 600);
    RTGC_FRAME_POP(f->t, r);
    assert_int_equal(live_after_collect(f), 0);
    free(b.fs.slots);
    pthread_mutex_destroy(&b.mu);
    pthread_cond_destroy(&b.cv);
}

/* ---- rtgc_scan_skip and per-heap user data ---- */

typedef struct skip_stack {
    void **slots;
    size_t n;
    uint64_t calls;
} skip_stack;

/* Mostly immediates: a scanner that only counted visited slots would do
 * them all in one slice; counted with rtgc_scan_skip they are sliced. */
static int skip_scan(rtgc_thread *t, rtgc_root_scan *s, void *data) {
    (void)t;
    skip_stack *st = data;
    st->calls++;
    for (size_t i = s->cursor; i < st->n; i++) {
        if (rtgc_is_ref(st->slots[i]))
            rtgc_scan_visit(s, &st->slots[i]);
        else
            rtgc_scan_skip(s, 1);
        if (rtgc_scan_should_yield(s)) {
            s->cursor = i + 1;
            return i + 1 < st->n;
        }
    }
    return 0;
}

static void test_scan_skip_and_user_data(void **state) {
    (void)state;
    rtgc_heap *h = test_heap("mode=concurrent,heap=32M");
    int mine;
    assert_null(rtgc_heap_user_data(h));
    rtgc_heap_set_user_data(h, &mine);
    assert_ptr_equal(rtgc_heap_user_data(h), &mine);
    static const uint32_t refs[] = {8};
    rtgc_layout nl = {.name = "n", .kind = RTGC_LAYOUT_RECORD, .size = 24, .ref_offsets = refs, .ref_count = 1};
    rtgc_layout_id N;
    rtgc_error err;
    assert_int_equal(rtgc_layout_register(h, &nl, &N, &err), RTGC_OK);
    rtgc_thread *t = rtgc_thread_attach(h, NULL);
    skip_stack st = {.n = 400000};
    st.slots = calloc(st.n, sizeof *st.slots);
    assert_non_null(st.slots);
    for (size_t i = 0; i < st.n; i++)
        st.slots[i] = (void *)(uintptr_t)((i << 1) | 1);
    st.slots[st.n - 1] = rtgc_alloc(t, N);   /* one object, at the far end */
    rtgc_thread_set_stack_scanner(t, skip_scan, &st);
    st.calls = 0;
    rtgc_collect(t);
    print_message("scan of %zu mostly immediate slots: %llu slices\n", st.n, (unsigned long long)st.calls);
    assert_true(st.calls > 1);               /* the skipped slots counted toward the slice */
    rtgc_collect(t);
    assert_int_equal(rtgc_header_layout(rtgc_object_header(st.slots[st.n - 1])), N);  /* still alive */
    assert_int_equal(rtgc_verify(t), 0);
    rtgc_thread_set_stack_scanner(t, NULL, NULL);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
    free(st.slots);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_root_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_global_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_callbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stack_scanner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocked_thread_roots, setup, teardown),
        cmocka_unit_test(test_scan_skip_and_user_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

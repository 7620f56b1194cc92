/* gc/tests/test_layout.c - layout registration (every kind, every way a
 * descriptor can be wrong) and objects of every kind surviving stop-the-world
 * collections with their contents intact, while unreachable ones are
 * reclaimed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define MiB ((size_t)1 << 20)
#define IMM(x) ((void *)(((uintptr_t)(x) << 1) | 1u)) /* a tagged immediate */

static void clear_err(rtgc_error *err) {
    memset(err, 0, sizeof *err);
}

static uint64_t *words(void *obj) {
    return (uint64_t *)obj;
}
static void **slots(void *obj) {
    return (void **)obj;
}

/* ---- registration ---- */

static void expect_bad(rtgc_heap *h, const rtgc_layout *l, const char *field) {
    rtgc_error err;
    rtgc_layout_id id = 0x7777;
    clear_err(&err);
    rtgc_status st = rtgc_layout_register(h, l, &id, &err);
    if (st != RTGC_EINVAL || strcmp(err.field, field) != 0)
        print_message("layout '%s': status %d field '%s' (want '%s') message '%s'\n",
                      l->name ? l->name : "?", (int)st, err.field, field, err.message);
    assert_int_equal(st, RTGC_EINVAL);
    assert_int_equal(err.status, RTGC_EINVAL);
    assert_string_equal(err.field, field);
    assert_true(strlen(err.message) > 0);
}

static void expect_bad2(rtgc_heap *h, const rtgc_layout *l, const char *f1, const char *f2) {
    rtgc_error err;
    rtgc_layout_id id = 0x7777;
    clear_err(&err);
    rtgc_status st = rtgc_layout_register(h, l, &id, &err);
    if (st != RTGC_EINVAL)
        print_message("layout '%s': status %d field '%s' message '%s'\n", l->name, (int)st,
                      err.field, err.message);
    assert_int_equal(st, RTGC_EINVAL);
    if (strcmp(err.field, f1) != 0 && strcmp(err.field, f2) != 0)
        fail_msg("layout '%s': field '%s', want '%s' or '%s'", l->name, err.field, f1, f2);
}

static rtgc_layout_id must_register(rtgc_heap *h, const rtgc_layout *l) {
    rtgc_error err;
    rtgc_layout_id id = 0;
    clear_err(&err);
    rtgc_status st = rtgc_layout_register(h, l, &id, &err);
    if (st != RTGC_OK)
        print_message("layout '%s' refused: field '%s': %s\n", l->name, err.field, err.message);
    assert_int_equal(st, RTGC_OK);
    assert_true(id != 0);
    assert_true(id < RTGC_MAX_LAYOUTS);
    return id;
}

static void noop_trace(void *obj, rtgc_visitor *v, void *data) {
    (void)obj;
    (void)v;
    (void)data;
}

/* Bytes an object should take: at least the raw size, at most the size
 * class's rounding (<= 25% + 16 bytes) or the large-object block rounding. */
static void check_object_size(rtgc_heap *h, rtgc_layout_id id, uint32_t count, size_t raw) {
    size_t s = rtgc_layout_object_size(h, id, count);
    if (s < raw || s > raw + raw / 4 + 16)
        print_message("object_size(id %u, count %u) = %zu, raw %zu\n", id, count, s, raw);
    assert_true(s >= raw);
    assert_true(s <= raw + raw / 4 + 16);
}

static void test_register_every_kind(void **state) {
    rtgc_heap *h = test_heap("mode=stw");
    static const uint32_t offs[] = {8, 24};
    rtgc_layout rec = {.name = "rec_off", .kind = RTGC_LAYOUT_RECORD, .size = 40,
                       .ref_offsets = offs, .ref_count = 2};
    rtgc_layout bm = {.name = "rec_bm", .kind = RTGC_LAYOUT_RECORD, .size = 40,
                      .ref_bitmap = (1u << 1) | (1u << 3)};
    rtgc_layout ra = {.name = "refs", .kind = RTGC_LAYOUT_REF_ARRAY, .size = 16};
    rtgc_layout ra8 = {.name = "refs8", .kind = RTGC_LAYOUT_REF_ARRAY, .size = 24,
                       .ref_bitmap = 1u << 2, .elem_size = 8};
    rtgc_layout by = {.name = "bytes", .kind = RTGC_LAYOUT_BYTES, .size = 16};
    rtgc_layout by1 = {.name = "bytes1", .kind = RTGC_LAYOUT_BYTES, .size = 8, .elem_size = 1};
    rtgc_layout cu = {.name = "custom", .kind = RTGC_LAYOUT_CUSTOM, .size = 16,
                      .elem_size = 24, .trace = noop_trace};
    rtgc_layout tiny = {.name = "tiny", .kind = RTGC_LAYOUT_RECORD, .size = 8};
    static const uint32_t far_offs[] = {8, 1016};
    rtgc_layout big = {.name = "bigrec", .kind = RTGC_LAYOUT_RECORD, .size = 1024,
                       .ref_offsets = far_offs, .ref_count = 2};

    rtgc_layout_id ids[9];
    ids[0] = must_register(h, &rec);
    ids[1] = must_register(h, &bm);
    ids[2] = must_register(h, &ra);
    ids[3] = must_register(h, &ra8);
    ids[4] = must_register(h, &by);
    ids[5] = must_register(h, &by1);
    ids[6] = must_register(h, &cu);
    ids[7] = must_register(h, &tiny);
    ids[8] = must_register(h, &big);
    for (int i = 0; i < 9; i++)
        for (int j = 0; j < i; j++)
            assert_int_not_equal(ids[i], ids[j]);

    check_object_size(h, ids[0], 0, 40);
    check_object_size(h, ids[1], 0, 40);
    check_object_size(h, ids[2], 10, 16 + 80);
    check_object_size(h, ids[2], 0, 16);
    check_object_size(h, ids[3], 3, 24 + 24);
    check_object_size(h, ids[4], 100, 116);
    check_object_size(h, ids[5], 1000, 1008);
    check_object_size(h, ids[6], 5, 16 + 5 * 24);
    check_object_size(h, ids[7], 0, 8);
    check_object_size(h, ids[8], 0, 1024);
    check_object_size(h, ids[2], 100000, 16 + 800000);
    rtgc_heap_destroy(h);
}

static void test_register_rejects_bad(void **state) {
    rtgc_heap *h = test_heap("mode=stw");
    static const uint32_t unaligned[] = {12};
    static const uint32_t in_header[] = {0};
    static const uint32_t in_header2[] = {8, 4};
    static const uint32_t past[] = {24};
    static const uint32_t far_past[] = {8, 4096};
    static const uint32_t ok8[] = {8};

    rtgc_layout l;

    l = (rtgc_layout){.name = "size4", .kind = RTGC_LAYOUT_RECORD, .size = 4};
    expect_bad(h, &l, "size");
    l = (rtgc_layout){.name = "size0", .kind = RTGC_LAYOUT_RECORD, .size = 0};
    expect_bad(h, &l, "size");
    l = (rtgc_layout){.name = "bytes size4", .kind = RTGC_LAYOUT_BYTES, .size = 4};
    expect_bad(h, &l, "size");

    l = (rtgc_layout){.name = "unaligned", .kind = RTGC_LAYOUT_RECORD, .size = 32,
                      .ref_offsets = unaligned, .ref_count = 1};
    expect_bad(h, &l, "ref_offsets");
    l = (rtgc_layout){.name = "in header", .kind = RTGC_LAYOUT_RECORD, .size = 32,
                      .ref_offsets = in_header, .ref_count = 1};
    expect_bad(h, &l, "ref_offsets");
    l = (rtgc_layout){.name = "in header 2", .kind = RTGC_LAYOUT_RECORD, .size = 32,
                      .ref_offsets = in_header2, .ref_count = 2};
    expect_bad(h, &l, "ref_offsets");
    l = (rtgc_layout){.name = "past size", .kind = RTGC_LAYOUT_RECORD, .size = 24,
                      .ref_offsets = past, .ref_count = 1};
    expect_bad(h, &l, "ref_offsets");
    l = (rtgc_layout){.name = "far past size", .kind = RTGC_LAYOUT_RECORD, .size = 64,
                      .ref_offsets = far_past, .ref_count = 2};
    expect_bad(h, &l, "ref_offsets");
    l = (rtgc_layout){.name = "refarray offset past", .kind = RTGC_LAYOUT_REF_ARRAY, .size = 16,
                      .ref_offsets = past, .ref_count = 1};
    expect_bad(h, &l, "ref_offsets");

    l = (rtgc_layout){.name = "both", .kind = RTGC_LAYOUT_RECORD, .size = 32,
                      .ref_offsets = ok8, .ref_count = 1, .ref_bitmap = 1u << 2};
    expect_bad2(h, &l, "ref_bitmap", "ref_offsets");

    l = (rtgc_layout){.name = "bit0", .kind = RTGC_LAYOUT_RECORD, .size = 32,
                      .ref_bitmap = 1u};
    expect_bad(h, &l, "ref_bitmap");
    l = (rtgc_layout){.name = "bit beyond", .kind = RTGC_LAYOUT_RECORD, .size = 24,
                      .ref_bitmap = 1u << 3};
    expect_bad(h, &l, "ref_bitmap");
    l = (rtgc_layout){.name = "bit 63", .kind = RTGC_LAYOUT_RECORD, .size = 64,
                      .ref_bitmap = (1ull << 1) | (1ull << 63)};
    expect_bad(h, &l, "ref_bitmap");

    l = (rtgc_layout){.name = "custom no trace", .kind = RTGC_LAYOUT_CUSTOM, .size = 16,
                      .elem_size = 8};
    expect_bad(h, &l, "trace");

    l = (rtgc_layout){.name = "refarray elem 4", .kind = RTGC_LAYOUT_REF_ARRAY, .size = 16,
                      .elem_size = 4};
    expect_bad(h, &l, "elem_size");
    l = (rtgc_layout){.name = "refarray elem 16", .kind = RTGC_LAYOUT_REF_ARRAY, .size = 16,
                      .elem_size = 16};
    expect_bad(h, &l, "elem_size");
    l = (rtgc_layout){.name = "record with trace", .kind = RTGC_LAYOUT_RECORD, .size = 16,
                      .trace = noop_trace};
    expect_bad(h, &l, "trace");

    l = (rtgc_layout){.name = "kind 0", .kind = (rtgc_layout_kind)0, .size = 16};
    expect_bad(h, &l, "kind");
    l = (rtgc_layout){.name = "kind 9", .kind = (rtgc_layout_kind)9, .size = 16};
    expect_bad(h, &l, "kind");

    l = (rtgc_layout){.name = "offsets NULL", .kind = RTGC_LAYOUT_RECORD, .size = 32,
                      .ref_offsets = NULL, .ref_count = 2};
    expect_bad2(h, &l, "ref_offsets", "ref_count");

    /* After all that, a good one still registers. */
    l = (rtgc_layout){.name = "good", .kind = RTGC_LAYOUT_RECORD, .size = 32,
                      .ref_offsets = ok8, .ref_count = 1};
    (void)must_register(h, &l);
    rtgc_heap_destroy(h);
}

/* ---- objects of every kind through collections ---- */

/* Record A (offsets 8, 24; payload words 2, 4) and record B (bitmap words 1,
 * 3; payload words 2, 4), both 40 bytes. */
static const uint32_t rec_offs[] = {8, 24};

typedef struct custom_elem {
    void *ref;
    uint64_t value;
} custom_elem;

/* CUSTOM: fixed part = header + one payload word; elements {ref, value}. */
typedef struct trace_counter {
    uint64_t calls;
    uint64_t slots;
} trace_counter;

static void custom_trace(void *obj, rtgc_visitor *v, void *data) {
    trace_counter *tc = data;
    tc->calls++;
    custom_elem *e = (custom_elem *)((char *)obj + 16);
    uint32_t n = rtgc_object_count(obj);
    for (uint32_t i = 0; i < n; i++) {
        rtgc_visit(v, &e[i].ref);
        tc->slots++;
    }
}

typedef struct world {
    rtgc_heap *h;
    rtgc_thread *t;
    rtgc_layout_id rec, bm, refs, bytes, custom;
    trace_counter tc;
} world;

static void world_init(world *w) {
    memset(w, 0, sizeof *w);
    w->h = test_heap("mode=stw");
    rtgc_layout rec = {.name = "rec_off", .kind = RTGC_LAYOUT_RECORD, .size = 40,
                       .ref_offsets = rec_offs, .ref_count = 2};
    rtgc_layout bm = {.name = "rec_bm", .kind = RTGC_LAYOUT_RECORD, .size = 40,
                      .ref_bitmap = (1u << 1) | (1u << 3)};
    rtgc_layout ra = {.name = "refs", .kind = RTGC_LAYOUT_REF_ARRAY, .size = 16, .elem_size = 8};
    rtgc_layout by = {.name = "bytes", .kind = RTGC_LAYOUT_BYTES, .size = 16};
    rtgc_layout cu = {.name = "custom", .kind = RTGC_LAYOUT_CUSTOM, .size = 16,
                      .elem_size = sizeof(custom_elem), .trace = custom_trace,
                      .trace_data = &w->tc};
    w->rec = must_register(w->h, &rec);
    w->bm = must_register(w->h, &bm);
    w->refs = must_register(w->h, &ra);
    w->bytes = must_register(w->h, &by);
    w->custom = must_register(w->h, &cu);
    rtgc_error err;
    w->t = rtgc_thread_attach(w->h, &err);
    assert_non_null(w->t);
}

static void world_fini(world *w) {
    assert_int_equal(rtgc_thread_detach(w->t), RTGC_OK);
    rtgc_heap_destroy(w->h);
}

static void check_fresh(void *obj, rtgc_layout_id id, uint32_t count, size_t size) {
    assert_non_null(obj);
    assert_int_equal((uintptr_t)obj % RTGC_OBJECT_ALIGN, 0);
    uint64_t hdr = rtgc_object_header(obj);
    assert_int_equal(rtgc_header_layout(hdr), id);
    assert_int_equal(rtgc_header_count(hdr), count);
    const unsigned char *p = obj;
    for (size_t i = RTGC_HEADER_BYTES; i < size; i++)
        if (p[i] != 0)
            fail_msg("object %p (layout %u) byte %zu is %u, not zero", obj, id, i, p[i]);
}

static void *new_rec(world *w, uint64_t a, uint64_t b) {
    void *o = rtgc_alloc(w->t, w->rec);
    check_fresh(o, w->rec, 0, 40);
    words(o)[2] = a;
    words(o)[4] = b;
    return o;
}
static void *new_bm(world *w, uint64_t a, uint64_t b) {
    void *o = rtgc_alloc(w->t, w->bm);
    check_fresh(o, w->bm, 0, 40);
    words(o)[2] = a;
    words(o)[4] = b;
    return o;
}
static void *new_refs(world *w, uint32_t n, uint64_t tag) {
    void *o = rtgc_alloc_array(w->t, w->refs, n);
    check_fresh(o, w->refs, n, 16 + (size_t)n * 8);
    words(o)[1] = tag;
    return o;
}
static unsigned char pattern(uint64_t seed, size_t i) {
    return (unsigned char)((i * 131u + seed * 7u + (i >> 8)) & 0xff);
}
static void *new_bytes(world *w, uint32_t n, uint64_t seed) {
    void *o = rtgc_alloc_array(w->t, w->bytes, n);
    check_fresh(o, w->bytes, n, 16 + (size_t)n);
    words(o)[1] = seed;
    unsigned char *p = (unsigned char *)o + 16;
    for (size_t i = 0; i < n; i++)
        p[i] = pattern(seed, i);
    return o;
}
static void check_bytes(void *o, uint32_t n, uint64_t seed) {
    assert_int_equal(rtgc_header_layout(rtgc_object_header(o)) != 0, 1);
    assert_int_equal(rtgc_object_count(o), n);
    assert_int_equal(words(o)[1], seed);
    const unsigned char *p = (const unsigned char *)o + 16;
    for (size_t i = 0; i < n; i++)
        if (p[i] != pattern(seed, i))
            fail_msg("bytes object %p byte %zu: %u, want %u", o, i, p[i], pattern(seed, i));
}
static void *new_custom(world *w, uint32_t n, uint64_t tag) {
    void *o = rtgc_alloc_array(w->t, w->custom, n);
    check_fresh(o, w->custom, n, 16 + (size_t)n * sizeof(custom_elem));
    words(o)[1] = tag;
    return o;
}
static custom_elem *elems(void *o) {
    return (custom_elem *)((char *)o + 16);
}

static size_t live_objects(world *w) {
    rtgc_stats s;
    rtgc_get_stats(w->h, &s);
    return s.live_objects;
}

/*
 * The graph, held only by the frame r:
 *   r[0] = A (rec_off): [8] -> B, [24] -> C, payload 0xA1, 0xA2
 *   B (rec_bm):  [8] -> D, [24] -> E, payload 0xB1, 0xB2
 *   C (refs, 1000): element i -> record F_i for i % 3 == 0 (payload i, i*i; [24] = IMM(i)),
 *                   IMM(i) for i % 3 == 1, NULL otherwise
 *   D (custom, 10): element i = {ref -> bytes G_i (i*10+1 bytes), value 1000+i}; odd i: IMM
 *   E (bytes, 5000)
 *   r[1] = immediate; r[2] = cycle back to A through record H ([8] -> A, [24] -> H)
 */
#define C_COUNT 1000u
#define D_COUNT 10u
#define E_COUNT 5000u

static size_t graph_objects(void) {
    size_t n = 5; /* A B C D E */
    n += (C_COUNT + 2) / 3; /* F_i */
    n += D_COUNT / 2;       /* G_i for even i */
    n += 1;                 /* H */
    return n;
}

static void build_graph(world *w, void **r) {
    rtgc_thread *t = w->t;
    r[0] = new_rec(w, 0xA1, 0xA2);
    void *b = new_bm(w, 0xB1, 0xB2);
    rtgc_store(t, r[0], &slots(r[0])[1], b);
    void *c = new_refs(w, C_COUNT, 0xC0);
    rtgc_store(t, r[0], &slots(r[0])[3], c);
    for (uint32_t i = 0; i < C_COUNT; i++) {
        void **cs = &slots(c)[2 + i];
        if (i % 3 == 0) {
            void *f = new_rec(w, i, (uint64_t)i * i);
            slots(f)[3] = IMM(i);
            rtgc_store(t, c, cs, f);
        } else if (i % 3 == 1) {
            rtgc_store(t, c, cs, IMM(i));
        }
    }
    void *d = new_custom(w, D_COUNT, 0xD0);
    rtgc_store(t, b, &slots(b)[1], d);
    for (uint32_t i = 0; i < D_COUNT; i++) {
        elems(d)[i].value = 1000 + i;
        if (i % 2 == 0) {
            void *g = new_bytes(w, i * 10 + 1, 500 + i);
            rtgc_store(t, d, &elems(d)[i].ref, g);
        } else {
            elems(d)[i].ref = IMM(7 * i);
        }
    }
    void *e = new_bytes(w, E_COUNT, 0xE0);
    rtgc_store(t, b, &slots(b)[3], e);
    r[1] = IMM(123456789);
    void *hh = new_rec(w, 0x11, 0x12);
    r[2] = hh;
    slots(hh)[1] = r[0];
    slots(hh)[3] = hh;
}

static void check_graph(world *w, void **r) {
    rtgc_thread *t = w->t;
    void *a = r[0];
    assert_non_null(a);
    assert_int_equal(rtgc_header_layout(rtgc_object_header(a)), w->rec);
    assert_int_equal(words(a)[2], 0xA1);
    assert_int_equal(words(a)[4], 0xA2);
    void *b = rtgc_load(t, &slots(a)[1]);
    assert_int_equal(rtgc_header_layout(rtgc_object_header(b)), w->bm);
    assert_int_equal(words(b)[2], 0xB1);
    assert_int_equal(words(b)[4], 0xB2);
    void *c = rtgc_load(t, &slots(a)[3]);
    assert_int_equal(rtgc_header_layout(rtgc_object_header(c)), w->refs);
    assert_int_equal(rtgc_object_count(c), C_COUNT);
    assert_int_equal(words(c)[1], 0xC0);
    for (uint32_t i = 0; i < C_COUNT; i++) {
        void *v = rtgc_load(t, &slots(c)[2 + i]);
        if (i % 3 == 0) {
            assert_true(rtgc_is_ref(v));
            assert_int_equal(rtgc_header_layout(rtgc_object_header(v)), w->rec);
            assert_int_equal(words(v)[2], i);
            assert_int_equal(words(v)[4], (uint64_t)i * i);
            assert_ptr_equal(slots(v)[1], NULL);
            assert_ptr_equal(slots(v)[3], IMM(i));
        } else if (i % 3 == 1) {
            assert_ptr_equal(v, IMM(i));
        } else {
            assert_null(v);
        }
    }
    void *d = rtgc_load(t, &slots(b)[1]);
    assert_int_equal(rtgc_header_layout(rtgc_object_header(d)), w->custom);
    assert_int_equal(rtgc_object_count(d), D_COUNT);
    assert_int_equal(words(d)[1], 0xD0);
    for (uint32_t i = 0; i < D_COUNT; i++) {
        assert_int_equal(elems(d)[i].value, 1000 + i);
        void *g = rtgc_load(t, &elems(d)[i].ref);
        if (i % 2 == 0)
            check_bytes(g, i * 10 + 1, 500 + i);
        else
            assert_ptr_equal(g, IMM(7 * i));
    }
    void *e = rtgc_load(t, &slots(b)[3]);
    check_bytes(e, E_COUNT, 0xE0);
    assert_ptr_equal(r[1], IMM(123456789));
    void *hh = r[2];
    assert_int_equal(words(hh)[2], 0x11);
    assert_int_equal(words(hh)[4], 0x12);
    assert_ptr_equal(slots(hh)[1], a);
    assert_ptr_equal(slots(hh)[3], hh);
}

static void test_graph_survives(void **state) {
    world w;
    world_init(&w);
    rtgc_thread *t = w.t;
    RTGC_FRAME(t, r, 4);
    for (int i = 0; i < 4; i++)
        assert_null(r[i]); /* push zeroes the slots */
    build_graph(&w, r);
    check_graph(&w, r);

    uint64_t calls_before = w.tc.calls;
    for (int round = 0; round < 4; round++) {
        /* garbage between collections */
        for (int i = 0; i < 2000; i++) {
            void *g = new_rec(&w, 0xdead, 0xbeef);
            slots(g)[1] = IMM(i);
        }
        uint64_t c0 = w.tc.calls;
        rtgc_collect(t);
        assert_true(w.tc.calls > c0); /* the CUSTOM trace ran */
        check_graph(&w, r);
        assert_int_equal(live_objects(&w), graph_objects());
        assert_int_equal(rtgc_verify(t), 0);
    }
    assert_true(w.tc.calls - calls_before >= 4);
    assert_true(w.tc.slots >= 4 * D_COUNT);

    rtgc_stats s;
    rtgc_get_stats(w.h, &s);
    assert_true(s.live_bytes >= 40 * 4 + (16 + 8 * C_COUNT) + (16 + E_COUNT));
    assert_true(s.cycles >= 4);

    /* Drop the custom object's subtree: D and its G_i. */
    slots(rtgc_load(t, &slots(r[0])[1]))[1] = NULL;
    rtgc_collect(t);
    assert_int_equal(live_objects(&w), graph_objects() - 1 - D_COUNT / 2);
    uint64_t calls = w.tc.calls;
    rtgc_collect(t);
    assert_int_equal(w.tc.calls, calls); /* no reachable CUSTOM object any more */

    /* Drop everything but H's cycle, which still holds A: nothing changes. */
    r[0] = NULL;
    rtgc_collect(t);
    assert_int_equal(live_objects(&w), graph_objects() - 1 - D_COUNT / 2);
    /* Drop H: the whole cycle goes. */
    r[2] = NULL;
    rtgc_collect(t);
    assert_int_equal(live_objects(&w), 0);
    assert_ptr_equal(r[1], IMM(123456789));
    assert_int_equal(rtgc_verify(t), 0);
    RTGC_FRAME_POP(t, r);
    world_fini(&w);
}

/* Large objects (> RTGC_SMALL_MAX) of every big kind, plus reclamation. */
#define BIG_REFS 100000u
#define BIG_BYTES ((uint32_t)MiB)

static void test_large_objects(void **state) {
    world w;
    world_init(&w);
    rtgc_thread *t = w.t;
    RTGC_FRAME(t, r, 3);

    r[0] = new_refs(&w, BIG_REFS, 0xB16);
    size_t nrec = 0;
    for (uint32_t i = 0; i < BIG_REFS; i++) {
        void **slot = &slots(r[0])[2 + i];
        if (i % 4 == 0) {
            void *f = new_rec(&w, i ^ 0x5555, i + 7);
            rtgc_store(t, r[0], slot, f);
            nrec++;
        } else if (i % 4 == 1) {
            rtgc_store(t, r[0], slot, IMM(i));
        }
    }
    r[1] = new_bytes(&w, BIG_BYTES, 0x1b);
    r[2] = new_custom(&w, 5000, 0xC5); /* 16 + 5000*16 bytes: large */
    for (uint32_t i = 0; i < 5000; i++) {
        elems(r[2])[i].value = i * 3;
        if (i % 100 == 0) {
            void *f = new_rec(&w, 0xC0DE, i);
            rtgc_store(t, r[2], &elems(r[2])[i].ref, f);
        } else {
            elems(r[2])[i].ref = IMM(i);
        }
    }
    size_t expect = 3 + nrec + 50;

    rtgc_stats s0, s1;
    for (int round = 0; round < 3; round++) {
        uint64_t c0 = w.tc.calls;
        rtgc_collect(t);
        assert_true(w.tc.calls > c0);
        assert_int_equal(live_objects(&w), expect);
    }
    assert_int_equal(rtgc_verify(t), 0);
    /* contents */
    assert_int_equal(rtgc_object_count(r[0]), BIG_REFS);
    assert_int_equal(words(r[0])[1], 0xB16);
    for (uint32_t i = 0; i < BIG_REFS; i++) {
        void *v = rtgc_load(t, &slots(r[0])[2 + i]);
        if (i % 4 == 0) {
            assert_int_equal(words(v)[2], i ^ 0x5555);
            assert_int_equal(words(v)[4], i + 7);
        } else if (i % 4 == 1) {
            assert_ptr_equal(v, IMM(i));
        } else {
            assert_null(v);
        }
    }
    check_bytes(r[1], BIG_BYTES, 0x1b);
    for (uint32_t i = 0; i < 5000; i++) {
        assert_int_equal(elems(r[2])[i].value, i * 3);
        void *v = elems(r[2])[i].ref;
        if (i % 100 == 0) {
            assert_int_equal(words(v)[2], 0xC0DE);
            assert_int_equal(words(v)[4], i);
        } else {
            assert_ptr_equal(v, IMM(i));
        }
    }

    rtgc_get_stats(w.h, &s0);
    assert_true(s0.live_bytes >= 16 + 8 * (size_t)BIG_REFS + 16 + BIG_BYTES);
    assert_true(s0.heap_size >= s0.live_bytes);

    /* Drop the 1 MiB BYTES object: it is reclaimed and its bytes counted. */
    r[1] = NULL;
    rtgc_collect(t);
    rtgc_collect(t);
    rtgc_get_stats(w.h, &s1);
    assert_int_equal(s1.live_objects, expect - 1);
    assert_true(s1.live_bytes + BIG_BYTES <= s0.live_bytes);
    assert_true(s1.freed_bytes >= s0.freed_bytes + BIG_BYTES);
    assert_true(s1.heap_size + BIG_BYTES <= s0.heap_size);

    /* Drop the big ref array: it and its records go. */
    r[0] = NULL;
    rtgc_collect(t);
    assert_int_equal(live_objects(&w), 1 + 50);
    r[2] = NULL;
    rtgc_collect(t);
    assert_int_equal(live_objects(&w), 0);
    assert_int_equal(rtgc_verify(t), 0);
    RTGC_FRAME_POP(t, r);
    world_fini(&w);
}

/* Unreachable small objects are reclaimed: live counts drop at once, and the
 * sweeper's freed_bytes grows by at least their size once the spans have been
 * swept (by allocation or by the next cycles). */
static void test_garbage_reclaimed(void **state) {
    world w;
    world_init(&w);
    rtgc_thread *t = w.t;
    RTGC_FRAME(t, r, 2);
    r[0] = new_refs(&w, 2000, 1);
    for (uint32_t i = 0; i < 2000; i++) {
        void *f = new_rec(&w, i, ~(uint64_t)i);
        rtgc_store(t, r[0], &slots(r[0])[2 + i], f);
    }
    rtgc_collect(t);
    assert_int_equal(live_objects(&w), 2001);
    rtgc_stats s0, s1;
    rtgc_get_stats(w.h, &s0);

    /* Drop every other record. */
    for (uint32_t i = 0; i < 2000; i += 2)
        slots(r[0])[2 + i] = IMM(i);
    rtgc_collect(t);
    assert_int_equal(live_objects(&w), 1001);
    /* allocate more of the same size (sweeps lazily), then two more cycles */
    for (int i = 0; i < 3000; i++)
        (void)new_rec(&w, 1, 2);
    rtgc_collect(t);
    rtgc_collect(t);
    rtgc_get_stats(w.h, &s1);
    assert_int_equal(s1.live_objects, 1001);
    assert_true(s1.freed_bytes >= s0.freed_bytes + 1000 * 40);
    assert_true(s1.swept_cells > s0.swept_cells);
    for (uint32_t i = 0; i < 2000; i++) {
        void *v = slots(r[0])[2 + i];
        if (i % 2 == 0) {
            assert_ptr_equal(v, IMM(i));
        } else {
            assert_int_equal(words(v)[2], i);
            assert_int_equal(words(v)[4], ~(uint64_t)i);
        }
    }
    assert_int_equal(rtgc_verify(t), 0);
    RTGC_FRAME_POP(t, r);
    world_fini(&w);
}

/* Tagged immediates in every kind of reference slot are left alone. */
static void test_immediates(void **state) {
    world w;
    world_init(&w);
    rtgc_thread *t = w.t;
    RTGC_FRAME(t, r, 6);
    r[0] = new_rec(&w, 1, 2);
    slots(r[0])[1] = (void *)(uintptr_t)0x1;
    slots(r[0])[3] = (void *)(uintptr_t)0xffffffffffffffffull;
    r[1] = new_bm(&w, 3, 4);
    slots(r[1])[1] = (void *)(uintptr_t)0x7fff00000001ull; /* looks like a heap address + 1 */
    slots(r[1])[3] = IMM(42);
    r[2] = new_refs(&w, 64, 5);
    for (uint32_t i = 0; i < 64; i++)
        slots(r[2])[2 + i] = (void *)(((uintptr_t)r[0] + 16 * i) | 1u); /* heap-ish odd */
    r[3] = new_custom(&w, 3, 6);
    for (uint32_t i = 0; i < 3; i++)
        elems(r[3])[i].ref = (void *)(((uintptr_t)r[1]) | 1u);
    r[4] = (void *)(((uintptr_t)r[2]) | 1u); /* an immediate root that looks like r[2]+1 */
    r[5] = IMM(0);

    void *keep0 = r[0];
    for (int i = 0; i < 3; i++) {
        rtgc_collect(t);
        assert_int_equal(rtgc_verify(t), 0);
    }
    assert_int_equal(live_objects(&w), 4);
    assert_ptr_equal(slots(r[0])[1], (void *)(uintptr_t)0x1);
    assert_ptr_equal(slots(r[0])[3], (void *)(uintptr_t)0xffffffffffffffffull);
    assert_ptr_equal(slots(r[1])[1], (void *)(uintptr_t)0x7fff00000001ull);
    assert_ptr_equal(slots(r[1])[3], IMM(42));
    for (uint32_t i = 0; i < 64; i++)
        assert_ptr_equal(slots(r[2])[2 + i], (void *)(((uintptr_t)keep0 + 16 * i) | 1u));
    for (uint32_t i = 0; i < 3; i++)
        assert_ptr_equal(elems(r[3])[i].ref, (void *)(((uintptr_t)r[1]) | 1u));
    assert_ptr_equal(r[4], (void *)(((uintptr_t)r[2]) | 1u));
    assert_ptr_equal(r[5], IMM(0));

    /* An odd root does not keep the object it resembles alive. */
    r[2] = NULL;
    rtgc_collect(t);
    assert_int_equal(live_objects(&w), 3);
    assert_ptr_equal(r[5], IMM(0));
    assert_int_equal(rtgc_verify(t), 0);
    RTGC_FRAME_POP(t, r);
    world_fini(&w);
}

/* A layout registered after the thread attached (and allocated) can be used. */
static void test_register_after_attach(void **state) {
    world w;
    world_init(&w);
    rtgc_thread *t = w.t;
    RTGC_FRAME(t, r, 2);
    r[0] = new_rec(&w, 9, 10);
    rtgc_layout late = {.name = "late", .kind = RTGC_LAYOUT_RECORD, .size = 72,
                        .ref_bitmap = 1u << 8};
    rtgc_layout_id id = must_register(w.h, &late);
    r[1] = rtgc_alloc(t, id);
    check_fresh(r[1], id, 0, 72);
    words(r[1])[1] = 0x1234;
    slots(r[1])[8] = r[0];
    r[0] = NULL;
    rtgc_collect(t);
    assert_int_equal(live_objects(&w), 2);
    assert_int_equal(words(r[1])[1], 0x1234);
    assert_int_equal(words(slots(r[1])[8])[2], 9);
    assert_int_equal(rtgc_verify(t), 0);
    RTGC_FRAME_POP(t, r);
    world_fini(&w);
}

/* A big RECORD (more than 64 words) with references at both ends. */
static void test_big_record(void **state) {
    world w;
    world_init(&w);
    rtgc_thread *t = w.t;
    static const uint32_t offs[] = {8, 512, 2040};
    rtgc_layout big = {.name = "big", .kind = RTGC_LAYOUT_RECORD, .size = 2048,
                       .ref_offsets = offs, .ref_count = 3};
    rtgc_layout_id id = must_register(w.h, &big);
    RTGC_FRAME(t, r, 1);
    r[0] = rtgc_alloc(t, id);
    check_fresh(r[0], id, 0, 2048);
    /* word 0 is the header; words 1, 64, 255 are references */
    for (int i = 2; i < 255; i++)
        if (i != 64)
            words(r[0])[i] = (uint64_t)i * 0x0101010101ull;
    slots(r[0])[1] = new_rec(&w, 1, 1);
    slots(r[0])[64] = new_rec(&w, 64, 64);
    slots(r[0])[255] = new_rec(&w, 255, 255);
    rtgc_collect(t);
    rtgc_collect(t);
    assert_int_equal(live_objects(&w), 4);
    assert_int_equal(rtgc_header_layout(rtgc_object_header(r[0])), id);
    for (int i = 2; i < 255; i++)
        if (i != 64)
            assert_int_equal(words(r[0])[i], (uint64_t)i * 0x0101010101ull);
    assert_int_equal(words(slots(r[0])[1])[2], 1);
    assert_int_equal(words(slots(r[0])[64])[2], 64);
    assert_int_equal(words(slots(r[0])[255])[2], 255);
    assert_int_equal(rtgc_verify(t), 0);
    RTGC_FRAME_POP(t, r);
    world_fini(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_every_kind),
        cmocka_unit_test(test_register_rejects_bad),
        cmocka_unit_test(test_graph_survives),
        cmocka_unit_test(test_large_objects),
        cmocka_unit_test(test_garbage_reclaimed),
        cmocka_unit_test(test_immediates),
        cmocka_unit_test(test_register_after_attach),
        cmocka_unit_test(test_big_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

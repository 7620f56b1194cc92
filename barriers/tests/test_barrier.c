/* barriers/tests/test_barrier.c - the inline fast paths (poll, load, store,
 * allocation) with no collection running, and the facts a JIT reads from
 * rtgc/barrier-attrs.h.
 *
 * The heap is made so that no collection starts by itself (no stress, a
 * trigger far above what the tests allocate); the tests that need a
 * collection call rtgc_collect themselves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <rtgc.h>
#include <rtgc/barrier-attrs.h>

/* ------------------------------------------------ compile-time agreement */

_Static_assert(RTGC_ATTR_STATE_OFFSET == 0, "state is at offset 0 (rtgc/mutator.h)");
_Static_assert(RTGC_ATTR_STATE_OFFSET == offsetof(struct rtgc_mutator, state), "state");
_Static_assert(RTGC_ATTR_FRAMES_OFFSET == offsetof(struct rtgc_mutator, frames), "frames");
_Static_assert(RTGC_ATTR_LAYOUTS_OFFSET == offsetof(struct rtgc_mutator, layouts), "layouts");
_Static_assert(RTGC_ATTR_MARKMAP_OFFSET == offsetof(struct rtgc_mutator, markmap_bias), "markmap");
_Static_assert(RTGC_ATTR_EPOCH_OFFSET == offsetof(struct rtgc_mutator, mark_epoch), "epoch");
_Static_assert(RTGC_ATTR_FREE_OFFSET == offsetof(struct rtgc_mutator, free), "free");
_Static_assert(RTGC_ATTR_FREE_LINK_OFFSET == sizeof(void *), "free cells link through word 1");
_Static_assert(((size_t)1 << RTGC_ATTR_GRANULE_SHIFT) == RTGC_OBJECT_ALIGN, "granule = alignment");
_Static_assert(RTGC_ATTR_POLL_BIT == RTGC_STATE_POLL, "poll bit");
_Static_assert(RTGC_ATTR_MARKING_BIT == RTGC_STATE_MARKING, "marking bit");
_Static_assert(RTGC_ATTR_STORE_BIT == RTGC_STATE_STORE, "store bit");
_Static_assert((RTGC_STATE_POLL & RTGC_STATE_MARKING) == 0 && (RTGC_STATE_POLL & RTGC_STATE_STORE) == 0 &&
                   (RTGC_STATE_MARKING & RTGC_STATE_STORE) == 0,
               "distinct state bits");

#define BARRIER_BITS (RTGC_STATE_POLL | RTGC_STATE_MARKING | RTGC_STATE_STORE)
_Static_assert(RTGC_ATTR_HEADER_COUNT_SHIFT == 32, "count in the high half of the header");
_Static_assert(RTGC_HEADER(0xffff, 0xffffffffu) == 0xffffffff0000ffffull, "header packing");

/* ------------------------------------------------------------ fixture */

enum { L_PAIR, L_TINY, L_ARR, L_BYTES, L_CUST, L_BIGREC, L_COUNT };

typedef struct fixture {
    rtgc_heap *h;
    rtgc_thread *t;
    rtgc_layout_id lid[L_COUNT];
    uint32_t fixed[L_COUNT];
    uint32_t elem[L_COUNT];
    void **roots;
    size_t nroots;
} fixture;

#define NROOTS 40000
#define BIGREC_SIZE 40000u

static void cust_trace(void *obj, rtgc_visitor *v, void *data) {
    void **w = (void **)obj;
    rtgc_visit(v, w + 1);
    uint32_t n = rtgc_object_count(obj);
    for (uint32_t i = 0; i < n; i++)
        rtgc_visit(v, w + 2 + 3 * (size_t)i);
}

static long errors;
static void on_error(rtgc_heap *heap, rtgc_status status, const char *message, void *data) {
    errors++;
    fprintf(stderr, "rtgc error (%s): %s\n", rtgc_status_name(status), message);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    rtgc_config cfg;
    rtgc_error err;
    rtgc_config_init(&cfg);
    if (rtgc_config_parse(&cfg, "mode=stw,heap=512M,min_trigger=256M,stress=0,verify=0", &err) !=
        RTGC_OK) {
        fprintf(stderr, "config: %s\n", err.message);
        return -1;
    }
    if (rtgc_heap_create(&cfg, &f->h, &err) != RTGC_OK) {
        fprintf(stderr, "heap_create: %s\n", err.message);
        return -1;
    }
    errors = 0;
    rtgc_set_error_handler(f->h, on_error, NULL);

    static const uint32_t pair_offs[] = {8, 16};
    static const uint32_t big_offs[] = {8, 16, BIGREC_SIZE - 8};
    rtgc_layout lay[L_COUNT] = {
        [L_PAIR] = {.name = "pair", .kind = RTGC_LAYOUT_RECORD, .size = 24,
                    .ref_offsets = pair_offs, .ref_count = 2},
        [L_TINY] = {.name = "tiny", .kind = RTGC_LAYOUT_RECORD, .size = 8},
        [L_ARR] = {.name = "array", .kind = RTGC_LAYOUT_REF_ARRAY, .size = 8},
        [L_BYTES] = {.name = "bytes", .kind = RTGC_LAYOUT_BYTES, .size = 8},
        [L_CUST] = {.name = "custom", .kind = RTGC_LAYOUT_CUSTOM, .size = 16, .elem_size = 24,
                    .trace = cust_trace},
        [L_BIGREC] = {.name = "bigrec", .kind = RTGC_LAYOUT_RECORD, .size = BIGREC_SIZE,
                      .ref_offsets = big_offs, .ref_count = 3},
    };
    static const uint32_t elem[L_COUNT] = {0, 0, 8, 1, 24, 0};
    for (int i = 0; i < L_COUNT; i++) {
        if (rtgc_layout_register(f->h, &lay[i], &f->lid[i], &err) != RTGC_OK) {
            fprintf(stderr, "layout %s: %s (%s)\n", lay[i].name, err.message, err.field);
            return -1;
        }
        f->fixed[i] = (uint32_t)lay[i].size;
        f->elem[i] = elem[i];
    }
    f->t = rtgc_thread_attach(f->h, &err);
    if (!f->t) {
        fprintf(stderr, "attach: %s\n", err.message);
        return -1;
    }
    f->nroots = NROOTS;
    f->roots = calloc(NROOTS, sizeof *f->roots);
    if (rtgc_root_range_add(f->h, f->roots, NROOTS) != RTGC_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    int rc = errors == 0 ? 0 : -1;
    rtgc_root_range_remove(f->h, f->roots);
    rtgc_thread_detach(f->t);
    rtgc_heap_destroy(f->h);
    free(f->roots);
    free(f);
    return rc;
}

static size_t obj_size(const fixture *f, int l, uint32_t count) {
    return (size_t)f->fixed[l] + (size_t)count * f->elem[l];
}

static void *alloc_of(fixture *f, int l, uint32_t count) {
    if (l == L_PAIR || l == L_TINY || l == L_BIGREC)
        return rtgc_alloc(f->t, f->lid[l]);
    return rtgc_alloc_array(f->t, f->lid[l], count);
}

/* A fresh object: aligned, its header, zeroed body. */
static void check_fresh(const fixture *f, void *o, int l, uint32_t count) {
    size_t size = obj_size(f, l, count);
    assert_non_null(o);
    if ((uintptr_t)o % RTGC_OBJECT_ALIGN != 0)
        fail_msg("object %p (layout %d count %u) is not 16-byte aligned", o, l, count);
    uint64_t hdr = rtgc_object_header(o);
    if (hdr != RTGC_HEADER(f->lid[l], count))
        fail_msg("object %p (layout %d count %u): header %#llx, expected %#llx", o, l, count,
                 (unsigned long long)hdr, (unsigned long long)RTGC_HEADER(f->lid[l], count));
    assert_int_equal(rtgc_header_layout(hdr), f->lid[l]);
    assert_int_equal(rtgc_header_count(hdr), count);
    assert_int_equal(rtgc_object_count(o), count);
    const unsigned char *p = o;
    for (size_t i = 8; i < size; i++)
        if (p[i] != 0)
            fail_msg("object %p (layout %d count %u, %zu bytes) not zeroed: byte %zu is %#x", o,
                     l, count, size, i, p[i]);
}

/* --------------------------------------------------------------- tests */

static void test_size_classes(void **state) {
    (void)state;
    /* 16..128 in steps of 16, then four per power of two up to SMALL_MAX. */
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(rtgc_class_size[i], 16 * (i + 1));
    for (unsigned i = 8; i < RTGC_SIZE_CLASSES; i++) {
        uint32_t pow = 128u << ((i - 8) / 4);
        assert_int_equal(rtgc_class_size[i], pow + (pow / 4) * ((i - 8) % 4 + 1));
    }
    assert_int_equal(rtgc_class_size[RTGC_SIZE_CLASSES - 1], RTGC_SMALL_MAX);
    for (unsigned i = 0; i < RTGC_SIZE_CLASSES; i++) {
        assert_int_equal(rtgc_class_size[i] % RTGC_OBJECT_ALIGN, 0);
        if (i > 0)
            assert_true(rtgc_class_size[i] > rtgc_class_size[i - 1]);
        assert_int_equal(rtgc_size_class(rtgc_class_size[i]), i);
    }
    for (size_t s = 1; s <= RTGC_SMALL_MAX; s++) {
        unsigned c = rtgc_size_class(s);
        if (c >= RTGC_SIZE_CLASSES)
            fail_msg("size %zu: class %u out of range", s, c);
        else if (rtgc_class_size[c] < s)
            fail_msg("size %zu: class %u holds only %u bytes", s, c, rtgc_class_size[c]);
        else if (c > 0 && rtgc_class_size[c - 1] >= s)
            fail_msg("size %zu: class %u (%u bytes), but class %u (%u bytes) fits", s, c,
                     rtgc_class_size[c], c - 1, rtgc_class_size[c - 1]);
    }
}

static void test_attrs(void **state) {
    fixture *f = *state;
    struct rtgc_mutator *m = rtgc_mutator_of(f->t);
    char *base = (char *)f->t;
    /* What a JIT reads through the offsets is what the C paths read. */
    assert_int_equal(*(uintptr_t *)(base + RTGC_ATTR_STATE_OFFSET), rtgc_state(f->t));
    assert_ptr_equal(*(rtgc_frame **)(base + RTGC_ATTR_FRAMES_OFFSET), m->frames);
    assert_ptr_equal(*(const rtgc_layout_info **)(base + RTGC_ATTR_LAYOUTS_OFFSET), m->layouts);
    assert_ptr_equal(*(const uint8_t **)(base + RTGC_ATTR_MARKMAP_OFFSET), m->markmap_bias);
    assert_int_equal(*(uintptr_t *)(base + RTGC_ATTR_EPOCH_OFFSET), m->mark_epoch);
    for (unsigned c = 0; c < RTGC_SIZE_CLASSES; c++)
        assert_ptr_equal(*(void **)(base + RTGC_ATTR_FREE_OFFSET + sizeof(void *) * c), m->free[c]);
    assert_non_null(m->layouts);
    assert_non_null(m->markmap_bias);
    /* The per-layout facts the allocation fast path uses. */
    for (int l = 0; l < L_COUNT; l++) {
        assert_int_equal(m->layouts[f->lid[l]].fixed_size, f->fixed[l]);
        assert_int_equal(m->layouts[f->lid[l]].elem_size, f->elem[l]);
        for (uint32_t n = 0; n < 3; n++)
            assert_int_equal(rtgc_layout_object_size(f->h, f->lid[l], n), obj_size(f, l, n));
    }
    /* A mark byte of a live object is readable through the bias. */
    void *o = rtgc_alloc(f->t, f->lid[L_PAIR]);
    f->roots[0] = o;
    volatile uint8_t mb = m->markmap_bias[(uintptr_t)o >> RTGC_ATTR_GRANULE_SHIFT];
    (void)mb;
    f->roots[0] = NULL;
}

static void test_slow_path_table(void **state) {
    fixture *f = *state;
    const rtgc_slow_path_table *sp = rtgc_slow_paths();
    assert_non_null(sp);
    assert_non_null(sp->poll);
    assert_non_null(sp->load);
    assert_non_null(sp->store);
    assert_non_null(sp->alloc);
    assert_ptr_equal(rtgc_slow_paths(), sp);
    /* With no collection running the entries are harmless: a JIT may reach
     * them after the state changed back. */
    sp->poll(f->t);
    assert_int_equal(rtgc_state(f->t) & BARRIER_BITS, 0);
    void *o = sp->alloc(f->t, f->lid[L_PAIR], 0, obj_size(f, L_PAIR, 0));
    check_fresh(f, o, L_PAIR, 0);
    f->roots[0] = o;
    assert_null(sp->load(f->t, NULL));
    assert_ptr_equal(sp->load(f->t, (void *)(uintptr_t)0x2b), (void *)(uintptr_t)0x2b);
    assert_ptr_equal(sp->load(f->t, o), o);
    sp->store(f->t, NULL);
    sp->store(f->t, (void *)(uintptr_t)0x2b);
    sp->store(f->t, o);
    rtgc_store_slow(f->t, o);
    assert_int_equal(rtgc_object_header(o), RTGC_HEADER(f->lid[L_PAIR], 0));
    void *big = sp->alloc(f->t, f->lid[L_ARR], 5000, obj_size(f, L_ARR, 5000));
    check_fresh(f, big, L_ARR, 5000);
    f->roots[1] = big;
    assert_ptr_equal(rtgc_load_slow(f->t, big), big);
    rtgc_poll_slow(f->t);
    f->roots[0] = f->roots[1] = NULL;
}

static void test_poll_does_nothing(void **state) {
    fixture *f = *state;
    struct rtgc_mutator *m = rtgc_mutator_of(f->t);
    assert_int_equal(rtgc_state(f->t) & BARRIER_BITS, 0);
    /* Some cells on the free lists first, so there is something to disturb. */
    for (int i = 0; i < 100; i++)
        f->roots[i] = rtgc_alloc(f->t, f->lid[L_PAIR]);
    struct rtgc_mutator before;
    memcpy(&before, m, sizeof before);
    rtgc_stats s0, s1;
    rtgc_get_stats(f->h, &s0);
    for (int i = 0; i < 100000; i++)
        rtgc_poll(f->t);
    rtgc_get_stats(f->h, &s1);
    assert_memory_equal(&before, m, sizeof before);
    assert_int_equal(s0.cycles, s1.cycles);
    assert_int_equal(s0.pauses, s1.pauses);
    for (int i = 0; i < 100; i++)
        f->roots[i] = NULL;
}

static void test_load_store(void **state) {
    fixture *f = *state;
    rtgc_thread *t = f->t;
    assert_int_equal(rtgc_state(t) & BARRIER_BITS, 0);
    void **a = rtgc_alloc(t, f->lid[L_PAIR]);
    f->roots[0] = a;
    void **b = rtgc_alloc(t, f->lid[L_PAIR]);
    f->roots[1] = b;
    void **arr = rtgc_alloc_array(t, f->lid[L_ARR], 10);
    f->roots[2] = arr;
    void **cu = rtgc_alloc_array(t, f->lid[L_CUST], 3);
    f->roots[3] = cu;

    /* Loads return the slot's value and leave the slot alone. */
    assert_null(rtgc_load(t, &a[1]));
    assert_null(a[1]);
    void *imm = (void *)(uintptr_t)0x12345679;
    a[2] = imm;
    assert_ptr_equal(rtgc_load(t, &a[2]), imm);
    assert_ptr_equal(a[2], imm);

    /* Stores store: objects, immediates, NULL, in every kind of slot. */
    rtgc_store(t, a, &a[1], b);
    assert_ptr_equal(a[1], b);
    assert_ptr_equal(rtgc_load(t, &a[1]), b);
    rtgc_store(t, b, &b[1], a);
    assert_ptr_equal(rtgc_load(t, &b[1]), a);
    rtgc_store(t, b, &b[2], b);
    assert_ptr_equal(rtgc_load(t, &b[2]), b);
    for (size_t i = 0; i < 10; i++) {
        void *v = i % 3 == 0 ? (void *)a : i % 3 == 1 ? (void *)(uintptr_t)(2 * i + 1) : NULL;
        rtgc_store(t, arr, &arr[1 + i], v);
        assert_ptr_equal(arr[1 + i], v);
        assert_ptr_equal(rtgc_load(t, &arr[1 + i]), v);
    }
    rtgc_store(t, cu, &cu[1], arr);
    rtgc_store(t, cu, &cu[2 + 3 * 2], b);
    assert_ptr_equal(rtgc_load(t, &cu[1]), arr);
    assert_ptr_equal(rtgc_load(t, &cu[2 + 3 * 2]), b);
    rtgc_store(t, a, &a[1], NULL);
    assert_null(rtgc_load(t, &a[1]));
    /* The headers are untouched by all this. */
    assert_int_equal(rtgc_object_header(a), RTGC_HEADER(f->lid[L_PAIR], 0));
    assert_int_equal(rtgc_object_header(arr), RTGC_HEADER(f->lid[L_ARR], 10));
    assert_int_equal(rtgc_object_header(cu), RTGC_HEADER(f->lid[L_CUST], 3));
    /* And the stores hold across a collection (b, arr, cu reached). */
    f->roots[1] = f->roots[2] = NULL;
    rtgc_store(t, a, &a[1], cu);
    rtgc_collect(t);
    assert_ptr_equal(rtgc_load(t, &a[1]), cu);
    assert_ptr_equal(rtgc_load(t, &cu[1]), arr);
    assert_ptr_equal(rtgc_load(t, &cu[2 + 3 * 2]), b);
    assert_ptr_equal(rtgc_load(t, &b[1]), a);
    assert_ptr_equal(rtgc_load(t, &arr[1]), a);
    assert_ptr_equal(rtgc_load(t, &arr[2]), (void *)(uintptr_t)3);
    assert_int_equal(rtgc_object_header(b), RTGC_HEADER(f->lid[L_PAIR], 0));
    assert_int_equal(rtgc_object_header(arr), RTGC_HEADER(f->lid[L_ARR], 10));
    assert_int_equal(rtgc_verify(t), 0);
    for (int i = 0; i < 4; i++)
        f->roots[i] = NULL;
}

/* The fast path pops the head of the size class's free list: `free` for a
 * layout with references (what JIT code reads at RTGC_ATTR_FREE_OFFSET),
 * `free_noscan` for a pointer-free one [mark.noscan]. */
static void test_alloc_pops_free_list(void **state) {
    fixture *f = *state;
    struct rtgc_mutator *m = rtgc_mutator_of(f->t);
    char *base = (char *)f->t;
    static const struct { int l; uint32_t count; } cases[] = {
        {L_PAIR, 0}, {L_TINY, 0}, {L_ARR, 0}, {L_ARR, 13}, {L_BYTES, 1}, {L_BYTES, 200},
        {L_CUST, 2}, {L_ARR, 1000}, {L_BYTES, RTGC_SMALL_MAX - 8},
    };
    size_t r = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int l = cases[k].l;
        uint32_t n = cases[k].count;
        size_t size = obj_size(f, l, n);
        unsigned cls = rtgc_size_class(size);
        void *first = alloc_of(f, l, n);
        check_fresh(f, first, l, n);
        f->roots[r++] = first;
        /* The slow path has given the thread cells of this class. */
        int noscan = m->layouts[f->lid[l]].pointer_free != 0;
        assert_int_equal(noscan, l == L_TINY || l == L_BYTES);
        void **lists = noscan ? m->free_noscan : m->free;
        void *head = lists[cls];
        if (head == NULL)
            fail_msg("layout %d count %u (%zu bytes, class %u): no free list after an allocation",
                     l, n, size, cls);
        for (int i = 0; i < 3 && head; i++) {
            /* What a JIT would read. */
            void *jhead = *(void **)(base + RTGC_ATTR_FREE_OFFSET + sizeof(void *) * cls);
            if (!noscan)
                assert_ptr_equal(jhead, head);
            void *next = *(void **)((char *)head + RTGC_ATTR_FREE_LINK_OFFSET);
            void *o = alloc_of(f, l, n);
            assert_ptr_equal(o, head);
            assert_ptr_equal(lists[cls], next);
            check_fresh(f, o, l, n);
            f->roots[r++] = o;
            head = next;
        }
    }
    for (size_t i = 0; i < r; i++)
        f->roots[i] = NULL;
}

/* rtgc_alloc_sized reads no layout: a pointer-free object of a known size
 * comes from `free`, as JIT code's does, and the slow path it calls
 * (rtgc_slow_paths()->alloc) refills `free`, not `free_noscan`. */
static void test_alloc_sized_ordinary_lists(void **state) {
    fixture *f = *state;
    struct rtgc_mutator *m = rtgc_mutator_of(f->t);
    const uint32_t n = 300;
    size_t size = obj_size(f, L_BYTES, n);
    unsigned cls = rtgc_size_class(size);
    void *noscan_head = m->free_noscan[cls];
    void *o = rtgc_alloc_sized(f->t, f->lid[L_BYTES], n, size);
    check_fresh(f, o, L_BYTES, n);
    f->roots[0] = o;
    void *head = m->free[cls];
    assert_non_null(head);
    assert_ptr_equal(m->free_noscan[cls], noscan_head);
    void *o2 = rtgc_alloc_sized(f->t, f->lid[L_BYTES], n, size);
    assert_ptr_equal(o2, head);
    void *o3 = rtgc_slow_paths()->alloc(f->t, f->lid[L_BYTES], n, size);
    check_fresh(f, o3, L_BYTES, n);
    assert_ptr_equal(m->free_noscan[cls], noscan_head);
    f->roots[0] = NULL;
}

typedef struct span_rec {
    uintptr_t p;
    size_t size;
} span_rec;

static int cmp_rec(const void *a, const void *b) {
    uintptr_t x = ((const span_rec *)a)->p, y = ((const span_rec *)b)->p;
    return x < y ? -1 : x > y;
}

/* Many objects of every kind and many sizes: aligned, zeroed, right
 * header, no two overlapping; then all of them dirtied, dropped,
 * collected, and the cells handed out again zeroed. */
static void alloc_round(fixture *f, uint64_t *rng, span_rec *recs, size_t n, int round) {
    for (size_t i = 0; i < n; i++) {
        *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t x = *rng >> 33;
        int l = (int)(x % 5); /* not the big record here */
        uint32_t count = 0;
        if (l == L_ARR)
            count = (uint32_t)(x >> 8) % (i % 97 == 0 ? 5000 : 40);
        else if (l == L_BYTES)
            count = (uint32_t)(x >> 8) % (i % 89 == 0 ? 40000 : 600);
        else if (l == L_CUST)
            count = (uint32_t)(x >> 8) % 12;
        void *o = alloc_of(f, l, count);
        check_fresh(f, o, l, count);
        f->roots[i] = o;
        recs[i].p = (uintptr_t)o;
        recs[i].size = obj_size(f, l, count);
    }
    qsort(recs, n, sizeof *recs, cmp_rec);
    for (size_t i = 1; i < n; i++)
        if (recs[i - 1].p + (recs[i - 1].size < 16 ? 16 : recs[i - 1].size) > recs[i].p)
            fail_msg("round %d: objects %#lx (%zu bytes) and %#lx overlap", round,
                     (unsigned long)recs[i - 1].p, recs[i - 1].size, (unsigned long)recs[i].p);
    /* Dirty every body with an odd pattern (an immediate in every
     * reference slot, so the heap stays valid). */
    for (size_t i = 0; i < n; i++)
        memset((char *)recs[i].p + 8, 0xa5, recs[i].size - 8);
}

static void test_alloc_many(void **state) {
    fixture *f = *state;
    size_t n = 20000;
    span_rec *recs = malloc(n * sizeof *recs);
    uint64_t rng = 42;
    rtgc_stats s0;
    rtgc_get_stats(f->h, &s0);
    alloc_round(f, &rng, recs, n, 0);
    rtgc_stats s1;
    rtgc_get_stats(f->h, &s1);
    /* No collection started by itself in this heap. */
    assert_int_equal(s1.cycles, s0.cycles);
    assert_int_equal(rtgc_verify(f->t), 0);
    for (size_t i = 0; i < n; i++)
        f->roots[i] = NULL;
    rtgc_collect(f->t);
    rtgc_get_stats(f->h, &s1);
    assert_int_equal(s1.live_objects, 0);
    /* Reused cells come back zeroed. */
    alloc_round(f, &rng, recs, n, 1);
    rtgc_collect(f->t);
    rtgc_get_stats(f->h, &s1);
    assert_int_equal(s1.live_objects, n);
    assert_int_equal(rtgc_verify(f->t), 0);
    for (size_t i = 0; i < n; i++)
        f->roots[i] = NULL;
    rtgc_collect(f->t);
    alloc_round(f, &rng, recs, n, 2);
    for (size_t i = 0; i < n; i++)
        f->roots[i] = NULL;
    free(recs);
}

static void test_alloc_large(void **state) {
    fixture *f = *state;
    void *o = rtgc_alloc(f->t, f->lid[L_BIGREC]);
    check_fresh(f, o, L_BIGREC, 0);
    f->roots[0] = o;
    void *a = rtgc_alloc_array(f->t, f->lid[L_ARR], 4097);
    check_fresh(f, a, L_ARR, 4097);
    f->roots[1] = a;
    void *b = rtgc_alloc_array(f->t, f->lid[L_BYTES], 1u << 20);
    check_fresh(f, b, L_BYTES, 1u << 20);
    f->roots[2] = b;
    /* Exactly at the boundary between small and large. */
    void *c = rtgc_alloc_array(f->t, f->lid[L_BYTES], RTGC_SMALL_MAX - 8);
    check_fresh(f, c, L_BYTES, RTGC_SMALL_MAX - 8);
    f->roots[3] = c;
    void *d = rtgc_alloc_array(f->t, f->lid[L_BYTES], RTGC_SMALL_MAX - 7);
    check_fresh(f, d, L_BYTES, RTGC_SMALL_MAX - 7);
    f->roots[4] = d;
    /* The big record's last reference slot is traced. */
    void *p = rtgc_alloc(f->t, f->lid[L_PAIR]);
    rtgc_store(f->t, o, (void **)((char *)o + BIGREC_SIZE - 8), p);
    rtgc_collect(f->t);
    assert_ptr_equal(rtgc_load(f->t, (void **)((char *)o + BIGREC_SIZE - 8)), p);
    assert_int_equal(rtgc_object_header(p), RTGC_HEADER(f->lid[L_PAIR], 0));
    rtgc_stats s;
    rtgc_get_stats(f->h, &s);
    assert_int_equal(s.live_objects, 6);
    assert_int_equal(rtgc_verify(f->t), 0);
    for (int i = 0; i < 5; i++)
        f->roots[i] = NULL;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_classes),
        cmocka_unit_test_setup_teardown(test_attrs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_path_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_does_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_pops_free_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_sized_ordinary_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_large, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

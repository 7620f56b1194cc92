/* gc/tests/test_alloc_uninit.c - uninitialised allocation (rtgc/alloc.h,
 * [alloc.uninit]): rtgc_alloc_uninit and rtgc_alloc_array_uninit.
 *
 *   - objects of pointer-free layouts (BYTES, RECORD without references),
 *     small and large, survive collections in every mode with their
 *     headers and contents, with verify=1 and rtgc_verify finding nothing;
 *   - layouts with references (REF_ARRAY, CUSTOM, RECORD with offsets or a
 *     bitmap, the collector's own weak layouts) and unregistered ids are
 *     refused: one misuse report, NULL, and the heap goes on working;
 *   - the zeroing really is skipped: a cell freed by a collection and
 *     handed out again holds what the dead object held (check builds: the
 *     sweeper's poison), where rtgc_alloc_array hands it out zeroed.
 */
#include <string.h>

#include "testutil.h"

#define PATTERN 0xa5u
#define POISON 0xdbu /* check builds' free-cell poison (gc/internal.h) */
#define BIG (100u * 1024u) /* a large object: > RTGC_SMALL_MAX */

static const char *const modes[] = {"stw", "concurrent", "incremental", "step"};

/* A pointer-free RECORD of 40 bytes. */
typedef struct point {
    uint64_t header;
    double x, y, z;
    uint64_t tag;
} point;

typedef struct err_log {
    int count, misuse;
    char all[2048];
} err_log;

static void on_error(rtgc_heap *heap, rtgc_status status, const char *message, void *data) {
    err_log *l = data;
    l->count++;
    l->misuse += status == RTGC_EMISUSE;
    size_t used = strlen(l->all);
    snprintf(l->all + used, sizeof l->all - used, "%s\n", message);
}

typedef struct world {
    rtgc_heap *h;
    rtgc_thread *t;
    rtgc_layout_id bytes, point, refs;
    err_log log;
} world;

static rtgc_layout_id reg(rtgc_heap *h, const rtgc_layout *l) {
    rtgc_layout_id id = 0;
    rtgc_error err;
    assert_int_equal(rtgc_layout_register(h, l, &id, &err), RTGC_OK);
    return id;
}

static void world_open(world *w, const char *options) {
    memset(w, 0, sizeof *w);
    w->h = test_heap(options);
    rtgc_set_error_handler(w->h, on_error, &w->log);
    rtgc_layout b = {.name = "bytes", .kind = RTGC_LAYOUT_BYTES, .size = RTGC_HEADER_BYTES};
    rtgc_layout p = {.name = "point", .kind = RTGC_LAYOUT_RECORD, .size = sizeof(point)};
    rtgc_layout r = {.name = "refs", .kind = RTGC_LAYOUT_REF_ARRAY, .size = RTGC_HEADER_BYTES};
    w->bytes = reg(w->h, &b);
    w->point = reg(w->h, &p);
    w->refs = reg(w->h, &r);
    w->t = rtgc_thread_attach(w->h, NULL);
    assert_non_null(w->t);
}

/* No report of any kind came (a verify=1 failure is a report too). */
static void world_close(world *w) {
    if (w->log.count)
        fail_msg("unexpected reports: %s", w->log.all);
    assert_int_equal(rtgc_thread_detach(w->t), RTGC_OK);
    rtgc_heap_destroy(w->h);
}

static uint8_t *body(void *obj) {
    return (uint8_t *)obj + RTGC_HEADER_BYTES;
}
static void **slot(void *arr, uint32_t i) {
    return (void **)arr + 1 + i;
}

static void check_header(const void *obj, rtgc_layout_id id, uint32_t count) {
    uint64_t hdr = rtgc_object_header(obj);
    assert_int_equal(rtgc_header_layout(hdr), id);
    assert_int_equal(rtgc_header_count(hdr), count);
}

/* ---- objects survive, in every mode ---- */

enum { NKEEP = 600, NCHURN = 20000 };

/* The i-th kept object: a BYTES of 1..700 bytes, a point, or (one in a
 * hundred) a large BYTES. */
static uint32_t keep_len(uint32_t i) {
    return i % 100 == 99 ? BIG : 1 + (i * 37u) % 700u;
}

static void *new_kept(world *w, uint32_t i) {
    void *o;
    if (i % 3 == 1) {
        point *p = rtgc_alloc_uninit(w->t, w->point);
        assert_non_null(p);
        p->x = i, p->y = -(double)i, p->z = i * 0.5, p->tag = i * 0x9e3779b97f4a7c15ull;
        o = p;
    } else {
        uint32_t n = keep_len(i);
        o = rtgc_alloc_array_uninit(w->t, w->bytes, n);
        assert_non_null(o);
        memset(body(o), (int)(i & 0xff), n);
    }
    return o;
}

static void check_kept(world *w, const void *o, uint32_t i) {
    if (i % 3 == 1) {
        const point *p = o;
        check_header(p, w->point, 0);
        assert_true(p->x == i && p->y == -(double)i && p->z == i * 0.5);
        assert_int_equal(p->tag, i * 0x9e3779b97f4a7c15ull);
        return;
    }
    uint32_t n = keep_len(i);
    check_header(o, w->bytes, n);
    const uint8_t *b = body((void *)o);
    for (uint32_t k = 0; k < n; k++)
        if (b[k] != (i & 0xff))
            fail_msg("object %u (%u bytes): byte %u is %#x, want %#x", i, n, k, b[k], i & 0xff);
}

static void survive_in(const char *mode) {
    char opts[128];
    snprintf(opts, sizeof opts, "mode=%s,heap=64M,verify=1,min_trigger=2M", mode);
    world w;
    world_open(&w, opts);
    rtgc_thread *t = w.t;
    RTGC_FRAME(t, r, 1);
    r[0] = rtgc_alloc_array(t, w.refs, NKEEP);
    assert_non_null(r[0]);
    /* Kept objects among short-lived ones (filled, then dropped) of every
     * size up to 1 KiB, so cells are freed and handed out again. */
    for (uint32_t i = 0; i < NCHURN; i++) {
        void *g = rtgc_alloc_array_uninit(t, w.bytes, 1 + i % 1000);
        assert_non_null(g);
        memset(body(g), 0x5a, 1 + i % 1000);
        if (i % (NCHURN / NKEEP) == 0 && i / (NCHURN / NKEEP) < NKEEP) {
            uint32_t k = i / (NCHURN / NKEEP);
            rtgc_store(t, r[0], slot(r[0], k), new_kept(&w, k));
        }
        if (i % 4096 == 0)
            rtgc_collect(t);
        if (strcmp(mode, "step") == 0 && i % 512 == 0)
            rtgc_step(t, 100000);
        rtgc_poll(t);
    }
    for (int round = 0; round < 2; round++) {
        rtgc_collect(t);
        for (uint32_t k = 0; k < NKEEP; k++)
            check_kept(&w, rtgc_load(t, slot(r[0], k)), k);
    }
    assert_int_equal(rtgc_verify(t), 0);
    RTGC_FRAME_POP(t, r);
    world_close(&w);
}

static void test_survives_every_mode(void **state) {
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++)
        survive_in(modes[m]);
}

/* ---- refused for layouts with references ---- */

static void trace_none(void *obj, rtgc_visitor *v, void *data) {
}

/* One misuse report naming the call, NULL back, nothing else happens. */
static void expect_refused(world *w, rtgc_layout_id id, const char *why) {
    memset(&w->log, 0, sizeof w->log);
    void *a = rtgc_alloc_uninit(w->t, id);
    void *b = rtgc_alloc_array_uninit(w->t, id, 3);
    void *c = rtgc_alloc_uninit_slow(w->t, id, 0, 64);
    if (a || b || c || w->log.count != 3 || w->log.misuse != 3 || !strstr(w->log.all, "rtgc_alloc_uninit") ||
        !strstr(w->log.all, why))
        fail_msg("layout %u: got %p %p %p and %d reports (%d misuse), want NULL and 3 misuse naming "
                 "rtgc_alloc_uninit and '%s': %s", id, a, b, c, w->log.count, w->log.misuse, why, w->log.all);
    memset(&w->log, 0, sizeof w->log);
}

static void test_refused_with_references(void **state) {
    world w;
    world_open(&w, "mode=stw,heap=16M");
    static const uint32_t offs[] = {16};
    rtgc_layout byoff = {.name = "rec-offsets", .kind = RTGC_LAYOUT_RECORD, .size = 32, .ref_offsets = offs,
                         .ref_count = 1};
    rtgc_layout bymap = {.name = "rec-bitmap", .kind = RTGC_LAYOUT_RECORD, .size = 32, .ref_bitmap = 1u << 3};
    rtgc_layout bref = {.name = "bytes-ref", .kind = RTGC_LAYOUT_BYTES, .size = 16, .ref_bitmap = 1u << 1};
    rtgc_layout cust = {.name = "custom", .kind = RTGC_LAYOUT_CUSTOM, .size = 16, .elem_size = 8,
                        .trace = trace_none};
    expect_refused(&w, w.refs, "'refs'");
    expect_refused(&w, reg(w.h, &byoff), "'rec-offsets'");
    expect_refused(&w, reg(w.h, &bymap), "'rec-bitmap'");
    expect_refused(&w, reg(w.h, &bref), "'bytes-ref'");
    expect_refused(&w, reg(w.h, &cust), "'custom'");
    /* The collector's own weak reference layout: its slot is a reference. */
    void *weak = rtgc_weak_new(w.t, NULL);
    assert_non_null(weak);
    expect_refused(&w, rtgc_header_layout(rtgc_object_header(weak)), "'rtgc.weak'");
    expect_refused(&w, 0, "not registered");
    expect_refused(&w, (rtgc_layout_id)(RTGC_MAX_LAYOUTS - 1), "not registered");

    /* The heap still works, uninitialised allocation included. */
    RTGC_FRAME(w.t, r, 2);
    r[0] = rtgc_alloc_array_uninit(w.t, w.bytes, 100);
    assert_non_null(r[0]);
    memset(body(r[0]), 7, 100);
    r[1] = rtgc_alloc_array(w.t, w.refs, 4);
    assert_non_null(r[1]);
    rtgc_collect(w.t);
    check_header(r[0], w.bytes, 100);
    assert_int_equal(body(r[0])[99], 7);
    assert_int_equal(rtgc_verify(w.t), 0);
    RTGC_FRAME_POP(w.t, r);
    world_close(&w);
}

/* ---- the zeroing is skipped ---- */

enum { NCELL = 64, CELL = 256 };   /* one size class, well inside one span */

/* What a freed cell's bytes from 16 on (word 1 is the free list's link)
 * read when handed out again without zeroing. */
static uint8_t freed_byte(void) {
#if defined(RTGC_CHECK) && RTGC_CHECK >= 2
    return POISON;
#else
    return PATTERN;
#endif
}

/* Allocate NCELL cells of CELL bytes, the first (kept in r[0]) with
 * `uninit`, fill them, drop all but the first, collect; then hand out
 * NCELL - 1 cells again, `uninit` or zeroed, and count those at the
 * addresses of the dropped ones whose bytes 16.. all read `want`. */
static unsigned reused_reading(world *w, void **r, int uninit, uint8_t want, unsigned *reused) {
    void *old[NCELL];
    uint32_t n = CELL - RTGC_HEADER_BYTES;
    for (unsigned i = 0; i < NCELL; i++) {
        old[i] = rtgc_alloc_array_uninit(w->t, w->bytes, n);
        assert_non_null(old[i]);
        memset(body(old[i]), PATTERN, n);
    }
    r[0] = old[0];
    rtgc_collect(w->t);
    unsigned matching = 0;
    *reused = 0;
    for (unsigned i = 1; i < NCELL; i++) {
        uint8_t *c = uninit ? rtgc_alloc_array_uninit(w->t, w->bytes, n) : rtgc_alloc_array(w->t, w->bytes, n);
        assert_non_null(c);
        check_header(c, w->bytes, n);
        int was_old = 0;
        for (unsigned k = 1; k < NCELL; k++)
            was_old |= old[k] == (void *)c;
        if (!was_old)
            continue;
        ++*reused;
        unsigned k = 16;
        while (k < CELL && c[k] == want)
            k++;
        matching += k == CELL;
    }
    r[0] = NULL;
    rtgc_collect(w->t);
    return matching;
}

static void test_skips_zeroing(void **state) {
    world w;
    world_open(&w, "mode=stw,heap=16M");
    RTGC_FRAME(w.t, r, 1);
    unsigned reused;
    /* The contrast first: rtgc_alloc_array hands the same cells out zeroed. */
    unsigned zeroed = reused_reading(&w, r, 0, 0, &reused);
    assert_true(reused >= NCELL / 2);
    assert_int_equal(zeroed, reused);
    unsigned kept = reused_reading(&w, r, 1, freed_byte(), &reused);
    if (reused < NCELL / 2 || kept != reused)
        fail_msg("%u of %u cells handed out again read %#x from byte 16 on (want all: the body is not zeroed)",
                 kept, reused, freed_byte());
    RTGC_FRAME_POP(w.t, r);
    world_close(&w);
}

/* A large object's dirty memory is not cleared either: one dropped and
 * allocated again at the same address holds its predecessor's bytes. */
static void test_large_skips_zeroing(void **state) {
    world w;
    world_open(&w, "mode=stw,heap=16M");
    uint8_t *a = rtgc_alloc_array_uninit(w.t, w.bytes, BIG);
    assert_non_null(a);
    check_header(a, w.bytes, BIG);
    memset(body(a), PATTERN, BIG);
    rtgc_collect(w.t);                      /* a is dead: its blocks are free, dirty */
    uint8_t *b = rtgc_alloc_array_uninit(w.t, w.bytes, BIG);
    assert_ptr_equal(b, a);                 /* the lowest run of free blocks, again */
    check_header(b, w.bytes, BIG);
    for (uint32_t k = 0; k < BIG; k++)
        if (body(b)[k] != PATTERN)
            fail_msg("large object: byte %u reads %#x, want %#x (the body is not zeroed)", k, body(b)[k], PATTERN);
    rtgc_collect(w.t);
    uint8_t *c = rtgc_alloc_array(w.t, w.bytes, BIG); /* the zeroing call clears it */
    assert_ptr_equal(c, a);
    for (uint32_t k = 0; k < BIG; k++)
        assert_int_equal(body(c)[k], 0);
    world_close(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_survives_every_mode),
        cmocka_unit_test(test_refused_with_references),
        cmocka_unit_test(test_skips_zeroing),
        cmocka_unit_test(test_large_skips_zeroing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

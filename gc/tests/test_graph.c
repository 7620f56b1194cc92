/* gc/tests/test_graph.c - randomised object graphs checked against a shadow
 * model, under the stress knob, with one thread and with several, in every
 * mode the build supports (the others are skipped).
 *
 * THE GRAPH.  Five layouts, one of each kind and both descriptor forms:
 *   REC2   RECORD    {hdr, id, ref, ref}                 refs by byte offsets
 *   REC4   RECORD    {hdr, ref, id, ref, ref, ref}       refs by bitmap, the id
 *                                                        word between two refs
 *   ARR    REF_ARRAY {hdr, id, head} + count refs        head by offset, elem_size 0 (=8)
 *   BYTES  BYTES     {hdr, id} + count payload bytes     no references; allocated
 *                                                        zeroed or uninitialised
 *                                                        in noscan spans, or
 *                                                        zeroed in ordinary ones
 *                                                        (rtgc_alloc_sized)
 *   CUST   CUSTOM    {hdr, id, extra} + count x {key, ref}; a trace callback
 *                                                        visits extra and the refs
 * Every object carries a unique id (a plain word the collector must not
 * follow; CUSTOM keys are even, aligned words that look like pointers).  A
 * few objects of each array kind are large (above RTGC_SMALL_MAX).
 * Reference slots also hold NULL and immediates (odd words).
 *
 * ROOTS.  A table of root slots mixes every kind an embedder has (see
 * roots_setup): a global range, a shadow-stack frame, thread handles
 * straddling two handle chunks, global handles, a VM stack of 5000 slots
 * scanned by a stack scanner in slices, and a root callback's array.
 * Global slots are read with rtgc_load (gc/DESIGN.md [rt.invariant]).
 *
 * THE MODEL.  Plain malloc'd structures keyed by id record what every root
 * slot and every field of every object should hold (the target's id, NULL,
 * or the exact immediate), each object's address, kind, count and payload
 * salt.  Each step does one random operation through the API: allocate into
 * a root (checking the new object is aligned, zeroed and has its header),
 * link a field with rtgc_store, unlink, drop/copy a root, read a random path
 * with rtgc_load comparing every hop, rewrite a payload, collect
 * explicitly.  The graph's size is steered towards a target (growing mostly
 * by filling empty slots, shrinking by cutting edges), so big subgraphs die
 * now and then.  Every so often the whole graph is walked from the roots
 * and compared with the model: an object freed too early shows up as a
 * wrong header, a wrong id, a wrong address for its id, or a poisoned
 * payload.  The heaps run with verify=1 (the verifier after every cycle; its
 * complaints arrive through the error handler, which the tests count) and
 * rtgc_verify is called at every full check.  At the end, right after a
 * walk, rtgc_collect must find exactly the walk's objects live
 * (rtgc_get_stats), and nothing once every root is dropped.
 *
 * THREADS.  The multi-threaded variants run four attached threads, each
 * with its own root set and model, calling rtgc_poll every step and going
 * through rtgc_enter_blocking/rtgc_leave_blocking around sleeps, joins and
 * a pthread barrier between phases.  They share objects through a global
 * range guarded by a mutex that is always taken inside a blocking section,
 * so that a thread waiting for it never holds up a collection.  Shared
 * objects are fresh, immutable trees (a REC2 whose first field is a BYTES
 * child) whose contents are a pure function of their id, so any thread can
 * check one it adopted into its own graph without a model of it.  After
 * each phase every worker also runs a short-lived helper thread that
 * attaches, works, publishes and detaches while the others run.
 *
 * WEAK LAYER.  graph_weak.c adds, in every test, weak references,
 * ephemerons (chains among them) and finalizers over the graph, held in a
 * frame of weak slots per thread, with its own model: full_check hands it
 * the walk (ephemeron values whose keys were reached are walked and counted
 * as live; what weak references and pending finalizers still hold stays in
 * the model, so a weak read may resurrect it), and some steps are its
 * operations or an explicit collection with what it must clear and queue.
 * Its opening comment has the rules.  Before the last walk every finalizer
 * that can run has run; the live counts include the weak objects; after
 * the roots are dropped, every registration must have run exactly once.
 * graph.h holds what the two files share.
 *
 * SEEDS.  Every test prints its seed; RTGC_TEST_SEED=N replays it (the
 * threads derive theirs from it; their interleaving is not replayable, their
 * operation sequences are).  RTGC_TEST_SCALE=F multiplies the step counts;
 * RTGC_TEST_FILTER=pattern runs only the matching tests; RTGC_TEST_THREADS=N
 * runs every test with N markers (threads=N on top of its options, for
 * every mode with 1, 2 and 4 markers: [mark.claim]); RTGC_TEST_VERBOSE=1
 * prints the graph's size at every full check.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "graph.h"
#include "graph_weak.h"

/* ---------------------------------------------------------------- basics */

const char *const kind_name[K_COUNT] = {"REC2", "REC4", "ARR", "BYTES", "CUST"};


/* RTGC_TEST_SCALE multiplies the step counts.  Under ThreadSanitizer (about
 * ten times slower here) the default is a quarter of the opt run. */
#if defined(__SANITIZE_THREAD__)
#define DEFAULT_SCALE 0.25
#else
#define DEFAULT_SCALE 1.0
#endif
static double test_scale(void) {
    const char *s = getenv("RTGC_TEST_SCALE");
    double f = s && *s ? strtod(s, NULL) : DEFAULT_SCALE;
    return f > 0 ? f : DEFAULT_SCALE;
}
static uint64_t scaled(uint64_t n) {
    double v = (double)n * test_scale();
    return v < 1 ? 1 : (uint64_t)v;
}

/* [mark.claim] With more than one marker two of them may claim an object
 * at the same moment and both count it: the live figures may exceed the
 * walk's by such racing duplicates, never fall short of it.  Allowed: 1%
 * (seen: 5 of 19966 objects with threads=4). */
static size_t dup_allowance(rtgc_heap *h, size_t n) {
    return rtgc_heap_config(h)->collector_threads > 1 ? n / 100 + 1 : 0;
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t cust_key(uint64_t id, size_t j) {
    return mix64(id * 31 + j) & ~(uint64_t)15; /* even, aligned: looks like a pointer */
}

static void fill_payload(uint8_t *p, size_t n, uint64_t id, uint32_t salt) {
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = mix64(id ^ ((uint64_t)salt << 40) ^ (i * 0x9e3779b97f4a7c15ull));
        memcpy(p + i, &w, n - i < 8 ? n - i : 8);
    }
}
/* Index of the first wrong byte, or n. */
static size_t check_payload(const uint8_t *p, size_t n, uint64_t id, uint32_t salt) {
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = mix64(id ^ ((uint64_t)salt << 40) ^ (i * 0x9e3779b97f4a7c15ull));
        size_t k = n - i < 8 ? n - i : 8;
        if (memcmp(p + i, &w, k) != 0) {
            for (size_t j = 0; j < k; j++)
                if (p[i + j] != ((const uint8_t *)&w)[j])
                    return i + j;
        }
    }
    return n;
}

/* ---------------------------------------------------- callbacks and heaps */

static const int cust_magic = 0x5eed;
static long cust_trace_calls;
static long cust_trace_bad;

static void cust_trace(void *obj, rtgc_visitor *v, void *data) {
    if (data != (void *)&cust_magic)
        __atomic_add_fetch(&cust_trace_bad, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&cust_trace_calls, 1, __ATOMIC_RELAXED);
    void **w = (void **)obj;
    rtgc_visit(v, w + 2);
    uint32_t n = rtgc_object_count(obj);
    for (uint32_t j = 0; j < n; j++)
        rtgc_visit(v, w + 4 + 2 * (size_t)j);
}

static long heap_errors;
static long oom_calls;
static char first_error[512];

static void on_error(rtgc_heap *heap, rtgc_status status, const char *message, void *data) {
    long n = __atomic_add_fetch(&heap_errors, 1, __ATOMIC_SEQ_CST);
    if (n == 1)
        snprintf(first_error, sizeof first_error, "%s: %s", rtgc_status_name(status), message);
    if (n <= 20)
        fprintf(stderr, "rtgc error (%s): %s\n", rtgc_status_name(status), message);
}
static void on_oom(rtgc_heap *heap, size_t request, void *data) {
    __atomic_add_fetch(&oom_calls, 1, __ATOMIC_SEQ_CST);
    fprintf(stderr, "rtgc out of memory: request %zu bytes\n", request);
}

/* A heap for `opts`, or NULL when the build does not support them. */
static rtgc_heap *graph_heap(const char *opts, graph_layouts *L) {
    rtgc_config cfg;
    rtgc_error err;
    rtgc_heap *h = NULL;
    memset(&err, 0, sizeof err);
    rtgc_config_init(&cfg);
    rtgc_status st = rtgc_config_parse(&cfg, opts, &err);
    if (st == RTGC_EUNSUPPORTED)
        return NULL;
    if (st != RTGC_OK)
        fail_msg("rtgc_config_parse(\"%s\"): %s (%s)", opts, rtgc_status_name(st), err.message);
    const char *threads = getenv("RTGC_TEST_THREADS");
    if (threads && *threads) {
        char more[32];
        snprintf(more, sizeof more, "threads=%s", threads);
        if (rtgc_config_parse(&cfg, more, &err) != RTGC_OK)
            fail_msg("RTGC_TEST_THREADS=%s: %s", threads, err.message);
    }
    st = rtgc_heap_create(&cfg, &h, &err);
    if (st == RTGC_EUNSUPPORTED) {
        assert_null(h);
        return NULL;
    }
    if (st != RTGC_OK)
        fail_msg("rtgc_heap_create(\"%s\"): %s (%s: %s)", opts, rtgc_status_name(st), err.field,
                 err.message);
    assert_non_null(h);
    printf("[ HEAP     ] %s (threads=%u)\n", opts, cfg.collector_threads);
    fflush(stdout);

    __atomic_store_n(&heap_errors, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&oom_calls, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&cust_trace_calls, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&cust_trace_bad, 0, __ATOMIC_SEQ_CST);
    first_error[0] = 0;
    rtgc_set_error_handler(h, on_error, NULL);
    rtgc_set_oom_handler(h, on_oom, NULL);

    static const uint32_t rec2_offsets[] = {16, 24};
    static const uint32_t arr_offsets[] = {16};
    rtgc_layout lay[K_COUNT];
    memset(lay, 0, sizeof lay);
    lay[K_REC2] = (rtgc_layout){.name = "test.rec2", .kind = RTGC_LAYOUT_RECORD, .size = 32,
                                .ref_offsets = rec2_offsets, .ref_count = 2};
    lay[K_REC4] = (rtgc_layout){.name = "test.rec4", .kind = RTGC_LAYOUT_RECORD, .size = 48,
                                .ref_bitmap = (1u << 1) | (1u << 3) | (1u << 4) | (1u << 5)};
    /* The array's fixed reference is given as an offset here and as a
     * bitmap in REC4, so both descriptor forms are in use. */
    lay[K_ARR] = (rtgc_layout){.name = "test.arr", .kind = RTGC_LAYOUT_REF_ARRAY, .size = 24,
                               .ref_offsets = arr_offsets, .ref_count = 1, .elem_size = 0};
    lay[K_BYTES] = (rtgc_layout){.name = "test.bytes", .kind = RTGC_LAYOUT_BYTES, .size = 16,
                                 .elem_size = 1};
    lay[K_CUST] = (rtgc_layout){.name = "test.cust", .kind = RTGC_LAYOUT_CUSTOM, .size = 24,
                                .elem_size = 16, .trace = cust_trace,
                                .trace_data = (void *)&cust_magic};
    for (int k = 0; k < K_COUNT; k++) {
        st = rtgc_layout_register(h, &lay[k], &L->lid[k], &err);
        if (st != RTGC_OK)
            fail_msg("rtgc_layout_register(%s): %s (%s: %s)", kind_name[k], rtgc_status_name(st),
                     err.field, err.message);
        assert_int_not_equal(L->lid[k], 0);
        for (int j = 0; j < k; j++)
            assert_int_not_equal(L->lid[k], L->lid[j]);
    }
    uint32_t counts[] = {0, 1, 7, 100, 5000};
    for (int k = 0; k < K_COUNT; k++)
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            uint32_t n = (k == K_REC2 || k == K_REC4) ? 0 : counts[c];
            assert_int_equal(rtgc_layout_object_size(h, L->lid[k], n), kind_size(k, n));
        }
    return h;
}

int kind_of_lid(const graph_layouts *L, rtgc_layout_id lid) {
    for (int k = 0; k < K_COUNT; k++)
        if (L->lid[k] == lid)
            return k;
    return -1;
}

/* ------------------------------------------------------------ the model */


static void model_init(model *m, int owner) {
    memset(m, 0, sizeof *m);
    m->owner = owner;
    m->cap = 1024;
    m->objs = calloc(m->cap, sizeof *m->objs);
    m->nobjs = 1; /* index 0 unused */
    m->scap = 1024;
    m->stack = malloc(m->scap * sizeof *m->stack);
}
static void model_fini(model *m) {
    for (size_t i = 0; i < m->nobjs; i++)
        free(m->objs[i].fields);
    free(m->objs);
    free(m->stack);
}
static uint64_t model_new(model *m, int kind, uint32_t count, uintptr_t addr, uint32_t salt) {
    if (m->nobjs == m->cap) {
        m->cap *= 2;
        m->objs = realloc(m->objs, m->cap * sizeof *m->objs);
        memset(m->objs + m->nobjs, 0, (m->cap - m->nobjs) * sizeof *m->objs);
    }
    size_t i = m->nobjs++;
    mobj *e = &m->objs[i];
    e->kind = (uint8_t)kind;
    e->count = count;
    e->nfields = (uint32_t)kind_nfields(kind, count);
    e->fields = e->nfields ? calloc(e->nfields, sizeof *e->fields) : NULL;
    e->addr = addr;
    e->salt = salt;
    e->mark = m->epoch; /* born reached: the next walk decides */
    m->live_model++;
    return ((uint64_t)m->owner << OWNER_SHIFT) | i;
}
mobj *model_get(model *m, uint64_t id) {
    if ((id & SHARED_BIT) || ID_OWNER(id) != m->owner)
        return NULL;
    uint64_t i = ID_INDEX(id);
    return i >= 1 && i < m->nobjs ? &m->objs[i] : NULL;
}
void model_push(model *m, void *o, size_t *sp) {
    if (*sp == m->scap) {
        m->scap *= 2;
        m->stack = realloc(m->stack, m->scap * sizeof *m->stack);
    }
    m->stack[(*sp)++] = o;
}

/* --------------------------------------------------------- the context */


uint64_t rnd(gctx *c, uint64_t n) {
    return n ? test_rand(&c->rng) % n : 0;
}

/* Read root slot r.  Global slots (ranges, global handles, root callback
 * arrays) are read through rtgc_load (rtgc/roots.h; gc/DESIGN.md
 * [rt.invariant]); the thread's own slots are read directly. */
void *root_read(gctx *c, size_t r) {
    if (c->m.root_global[r])
        return rtgc_load(c->t, c->m.root[r]);
    void *v = *c->m.root[r];
    /* [rt.watermark] The stack may be scanned in slices with this thread
     * running in between: a reference read from a slot the scanner may
     * not have visited yet goes through rtgc_shade (rtgc/roots.h). */
    if (c->m.root_stack[r])
        rtgc_shade(c->t, v);
    return v;
}

/* Write root slot r: global slots through rtgc_store with no object
 * (rtgc/roots.h), the thread's own slots directly. */
void root_write(gctx *c, size_t r, void *v) {
    if (c->m.root_global[r])
        rtgc_store(c->t, NULL, c->m.root[r], v);
    else
        *c->m.root[r] = v;
}

void ctx_fail(gctx *c, const char *file, int line, const char *fmt, ...) {
    if (c->failed)
        return;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *base = strrchr(file, '/');
    snprintf(c->err, sizeof c->err, "%s (owner %d, RTGC_TEST_SEED=%llu, step %llu, %s:%d): %s",
             c->name, c->m.owner, (unsigned long long)c->seed, (unsigned long long)c->step,
             base ? base + 1 : file, line, msg);
    c->failed = true;
    fprintf(stderr, "FAILURE %s\n", c->err);
    if (c->sh)
        __atomic_store_n(&c->sh->abort, 1, __ATOMIC_SEQ_CST);
}


/* ------------------------------------------------ checking one object */

static size_t shared_len(uint64_t child_id) {
    return (size_t)(mix64(child_id) % 300);
}

bool check_header(gctx *c, void *o, int *kind_out, const char *where) {
    CHECK(c, ((uintptr_t)o & (RTGC_OBJECT_ALIGN - 1)) == 0, "%s: object %p not %u-byte aligned",
          where, o, RTGC_OBJECT_ALIGN);
    uint64_t hdr = rtgc_object_header(o);
    int kind = kind_of_lid(c->L, rtgc_header_layout(hdr));
    CHECK(c, kind >= 0, "%s: object %p has header %#llx, layout id %u is none of ours", where, o,
          (unsigned long long)hdr, (unsigned)rtgc_header_layout(hdr));
    *kind_out = kind;
    return true;
}

/* A shared tree node, checked as a pure function of its id. */
static bool check_shared(gctx *c, void *o, int kind, uint64_t id, const char *where) {
    if ((id & 1) == 0) {
        CHECK(c, kind == K_REC2, "%s: shared object %p id %#llx is %s, expected REC2", where, o,
              (unsigned long long)id, kind_name[kind]);
        CHECK(c, rtgc_object_count(o) == 0, "%s: shared REC2 %p count %u", where, o,
              rtgc_object_count(o));
        void *imm = rtgc_load(c->t, field_slot(K_REC2, o, 1));
        CHECK(c, imm == (void *)(uintptr_t)((id << 1) | 1),
              "%s: shared REC2 %p id %#llx field 1 holds %p, expected immediate %#llx", where, o,
              (unsigned long long)id, imm, (unsigned long long)((id << 1) | 1));
        void *child = rtgc_load(c->t, field_slot(K_REC2, o, 0));
        CHECK(c, rtgc_is_ref(child), "%s: shared REC2 %p id %#llx lost its child (field 0 = %p)",
              where, o, (unsigned long long)id, child);
        int ck;
        if (!check_header(c, child, &ck, where))
            return false;
        CHECK(c, ck == K_BYTES && WORD(child, 1) == (id | 1),
              "%s: child %p of shared REC2 %#llx is %s id %#llx, expected BYTES id %#llx", where,
              child, (unsigned long long)id, kind_name[ck], (unsigned long long)WORD(child, 1),
              (unsigned long long)(id | 1));
        return check_shared(c, child, ck, id | 1, where);
    }
    size_t n = shared_len(id);
    CHECK(c, kind == K_BYTES && rtgc_object_count(o) == n,
          "%s: shared object %p id %#llx is %s count %u, expected BYTES count %zu", where, o,
          (unsigned long long)id, kind_name[kind], rtgc_object_count(o), n);
    size_t bad = check_payload((uint8_t *)o + 16, n, id, 0);
    CHECK(c, bad == n, "%s: shared BYTES %p id %#llx payload byte %zu of %zu is %#x", where, o,
          (unsigned long long)id, bad, n, bad < n ? ((uint8_t *)o + 16)[bad] : 0);
    return true;
}

/* `o` should be the object with id `want`. */
bool check_obj(gctx *c, void *o, uint64_t want, const char *where) {
    int kind;
    if (!check_header(c, o, &kind, where))
        return false;
    uint64_t id = WORD(o, id_word(kind));
    CHECK(c, id == want, "%s: object %p (%s, header %#llx) has id %#llx, expected %#llx", where,
          o, kind_name[kind], (unsigned long long)rtgc_object_header(o), (unsigned long long)id,
          (unsigned long long)want);
    if (id & SHARED_BIT)
        return check_shared(c, o, kind, id, where);
    mobj *e = model_get(&c->m, id);
    CHECK(c, e != NULL, "%s: object %p id %#llx is not in this thread's model", where, o,
          (unsigned long long)id);
    CHECK(c, !e->dead, "%s: object %p id %#llx was proven unreachable, yet is reached", where, o,
          (unsigned long long)id);
    CHECK(c, e->addr == (uintptr_t)o, "%s: id %#llx found at %p, allocated at %p", where,
          (unsigned long long)id, o, (void *)e->addr);
    CHECK(c, e->kind == kind, "%s: object %p id %#llx is %s, allocated as %s", where, o,
          (unsigned long long)id, kind_name[kind], kind_name[e->kind]);
    CHECK(c, rtgc_object_count(o) == e->count, "%s: object %p id %#llx count %u, allocated %u",
          where, o, (unsigned long long)id, rtgc_object_count(o), e->count);
    return true;
}

/* A slot value against its expectation. */
bool check_value(gctx *c, void *v, uint64_t exp, const char *where, size_t i) {
    if (exp == 0) {
        CHECK(c, v == NULL, "%s[%zu]: holds %p, expected NULL", where, i, v);
        return true;
    }
    if (exp & 1) {
        CHECK(c, v == (void *)(uintptr_t)exp, "%s[%zu]: holds %p, expected immediate %#llx",
              where, i, v, (unsigned long long)exp);
        return true;
    }
    CHECK(c, rtgc_is_ref(v), "%s[%zu]: holds %p, expected object id %#llx", where, i, v,
          (unsigned long long)EXP_ID(exp));
    return check_obj(c, v, EXP_ID(exp), where);
}

/* Fields, keys and payload of a checked private object; with `push`, reached
 * private objects not yet marked in this walk go on the walk stack. */
bool check_contents(gctx *c, void *o, mobj *e, size_t *sp) {
    char where[96];
    uint64_t id = WORD(o, id_word(e->kind));
    snprintf(where, sizeof where, "%s %#llx @%p", kind_name[e->kind], (unsigned long long)id, o);
    for (size_t i = 0; i < e->nfields; i++) {
        void *v = rtgc_load(c->t, field_slot(e->kind, o, i));
        if (!check_value(c, v, e->fields[i], where, i))
            return false;
        if (sp && EXP_IS_REF(e->fields[i]) && !(EXP_ID(e->fields[i]) & SHARED_BIT)) {
            mobj *f = model_get(&c->m, EXP_ID(e->fields[i]));
            if (f->mark != c->m.epoch) {
                f->mark = c->m.epoch;
                model_push(&c->m, v, sp);
            }
        }
    }
    if (e->kind == K_BYTES) {
        size_t bad = check_payload((uint8_t *)o + 16, e->count, id, e->salt);
        CHECK(c, bad == e->count, "%s: payload byte %zu of %u is %#x", where, bad, e->count,
              bad < e->count ? ((uint8_t *)o + 16)[bad] : 0);
    } else if (e->kind == K_CUST) {
        for (size_t j = 0; j < e->count; j++)
            CHECK(c, WORD(o, 3 + 2 * j) == cust_key(id, j), "%s: key %zu is %#llx, expected %#llx",
                  where, j, (unsigned long long)WORD(o, 3 + 2 * j),
                  (unsigned long long)cust_key(id, j));
    }
    return true;
}

size_t class_bytes(size_t size) {
    if (size <= RTGC_SMALL_MAX)
        return rtgc_class_size[rtgc_size_class(size)];
    return size + 65536; /* a large object: at most its blocks */
}

bool walk_drain(gctx *c, size_t *sp, bool count) {
    model *m = &c->m;
    size_t visited = 0;
    while (*sp > 0) {
        void *o = m->stack[--*sp];
        int kind;
        if (!check_header(c, o, &kind, "walk"))
            return false;
        mobj *e = model_get(m, WORD(o, id_word(kind)));
        CHECK(c, e != NULL, "walk: object %p lost its id", o);
        if (!check_contents(c, o, e, sp))
            return false;
        if (!count)
            continue;
        size_t size = kind_size(e->kind, e->count);
        m->reach_objs++;
        m->reach_bytes += size;
        m->reach_bytes_max += class_bytes(size);
        /* Safe: everything on the walk stack is reachable from this
         * thread's roots, which nobody changes during the walk. */
        if (c->poll_in_walk && (++visited & 255) == 0)
            rtgc_poll(c->t);
    }
    return true;
}

/* Walk everything reachable from the roots and compare it with the model;
 * then entries not reached are dead for good. */
static bool full_check(gctx *c) {
    model *m = &c->m;
    size_t sp = 0;
    m->epoch++;
    m->reach_objs = m->reach_bytes = m->reach_bytes_max = 0;
    for (size_t r = 0; r < m->nroots; r++) {
        void *v = root_read(c, r);
        if (!check_value(c, v, m->root_exp[r], "root", r))
            return false;
        if (EXP_IS_REF(m->root_exp[r]) && !(EXP_ID(m->root_exp[r]) & SHARED_BIT)) {
            mobj *e = model_get(m, EXP_ID(m->root_exp[r]));
            if (e->mark != m->epoch) {
                e->mark = m->epoch;
                model_push(m, v, &sp);
            }
        }
    }
    if (!walk_drain(c, &sp, true))
        return false;
    /* The weak layer walks on: ephemeron values (strongly reachable), then
     * what weak references and pending finalizers still hold. */
    if (c->gw && !gw_walk(c))
        return false;
    for (size_t i = 1; i < m->nobjs; i++) {
        mobj *e = &m->objs[i];
        if (!e->dead && e->mark != m->epoch) {
            e->dead = 1;
            free(e->fields);
            e->fields = NULL;
            m->live_model--;
        }
    }
    if (getenv("RTGC_TEST_VERBOSE"))
        fprintf(stderr, "[ WALK     ] %s owner %d step %llu: %zu objects, %zu bytes\n", c->name,
                m->owner, (unsigned long long)c->step, m->reach_objs, m->reach_bytes);
    size_t problems = rtgc_verify(c->t);
    CHECK(c, problems == 0, "rtgc_verify found %zu problems (first: %s)", problems, first_error);
    CHECK(c, __atomic_load_n(&heap_errors, __ATOMIC_SEQ_CST) == 0,
          "%ld errors reported through the error handler (first: %s)", heap_errors, first_error);
    CHECK(c, __atomic_load_n(&cust_trace_bad, __ATOMIC_SEQ_CST) == 0,
          "the CUSTOM trace callback got the wrong data pointer");
    CHECK(c, __atomic_load_n(&oom_calls, __ATOMIC_SEQ_CST) == 0, "out of memory");
    return true;
}

/* ----------------------------------------------------- picking objects */

/* A random object reached from the roots along a random path, checking
 * every hop against the model.  With `private_only`, shared objects are
 * not returned.  *out is NULL when none was found; false on a mismatch. */
bool pick(gctx *c, bool private_only, void **out) {
    model *m = &c->m;
    *out = NULL;
    for (int tries = 0; tries < 8; tries++) {
        size_t r = rnd(c, m->nroots);
        void *v = root_read(c, r);
        if (!check_value(c, v, m->root_exp[r], "root", r))
            return false;
        if (!EXP_IS_REF(m->root_exp[r]))
            continue;
        uint64_t id = EXP_ID(m->root_exp[r]);
        unsigned depth = 0; /* geometric, mean 4: deep objects get picked too */
        while (depth < 48 && rnd(c, 5) != 0)
            depth++;
        for (unsigned d = 0; d < depth && !(id & SHARED_BIT); d++) {
            mobj *e = model_get(m, id);
            if (e->nfields == 0)
                break;
            size_t i = rnd(c, e->nfields);
            if (e->kind == K_ARR && e->nfields > 32 && rnd(c, 2))
                i = rnd(c, 32); /* big arrays: prefer the front, where links cluster */
            void *w = rtgc_load(c->t, field_slot(e->kind, v, i));
            if (!check_value(c, w, e->fields[i], "path", i))
                return false;
            if (!EXP_IS_REF(e->fields[i]))
                break;
            v = w;
            id = EXP_ID(e->fields[i]);
        }
        if (private_only && (id & SHARED_BIT))
            continue;
        *out = v;
        return true;
    }
    return true;
}

uint64_t obj_exp(gctx *c, void *v) {
    if (!rtgc_is_ref(v))
        return (uint64_t)(uintptr_t)v;
    int kind = kind_of_lid(c->L, rtgc_header_layout(rtgc_object_header(v)));
    return EXP_REF(WORD(v, id_word(kind)));
}

static uint64_t rnd_imm(gctx *c) {
    return (test_rand(&c->rng) << 1) | 1;
}

/* ----------------------------------------------------------- operations */

static bool growing(gctx *c);

bool new_object(gctx *c, void **out) {
    model *m = &c->m;
    *out = NULL;
    uint64_t x = rnd(c, 100);
    int kind = x < 25 ? K_REC2 : x < 50 ? K_REC4 : x < 70 ? K_ARR : x < 85 ? K_BYTES : K_CUST;
    bool large = rnd(c, 1000) < c->large_pm;
    uint32_t count = 0;
    switch (kind) {
    case K_ARR: count = large ? 4100 + (uint32_t)rnd(c, 900) : (uint32_t)rnd(c, 25); break;
    case K_BYTES: count = large ? 33000 + (uint32_t)rnd(c, 8000) : (uint32_t)rnd(c, 300); break;
    case K_CUST: count = large ? 2100 + (uint32_t)rnd(c, 300) : (uint32_t)rnd(c, 9); break;
    default: break;
    }
    rtgc_layout_id lid = c->L->lid[kind];
    size_t size = kind_size(kind, count);
    /* BYTES three ways [mark.noscan]: zeroed from a noscan span
     * (rtgc_alloc_array), uninitialised from one (its payload is written
     * below), zeroed from an ordinary span (rtgc_alloc_sized). */
    int how = kind == K_BYTES ? (int)rnd(c, 3) : 0;
    void *o = (kind == K_REC2 || kind == K_REC4) ? rtgc_alloc(c->t, lid)
              : how == 1                        ? rtgc_alloc_array_uninit(c->t, lid, count)
              : how == 2                        ? rtgc_alloc_sized(c->t, lid, count, size)
                                                : rtgc_alloc_array(c->t, lid, count);
    c->allocs++;
    CHECK(c, o != NULL, "allocation of %s count %u (%zu bytes) returned NULL", kind_name[kind],
          count, size);
    CHECK(c, ((uintptr_t)o & (RTGC_OBJECT_ALIGN - 1)) == 0, "new %s at %p is not aligned",
          kind_name[kind], o);
    uint64_t hdr = rtgc_object_header(o);
    CHECK(c, rtgc_header_layout(hdr) == lid && rtgc_header_count(hdr) == count,
          "new %s count %u at %p has header %#llx", kind_name[kind], count, o,
          (unsigned long long)hdr);
    for (size_t b = 8; b < size && how != 1; b += 8) {
        uint64_t w = 0;
        memcpy(&w, (char *)o + b, size - b < 8 ? size - b : 8);
        CHECK(c, w == 0, "new %s count %u at %p is not zeroed: word at +%zu is %#llx",
              kind_name[kind], count, o, b, (unsigned long long)w);
    }
    uint32_t salt = (uint32_t)rnd(c, 1u << 30);
    uint64_t id = model_new(m, kind, count, (uintptr_t)o, salt);
    WORD(o, id_word(kind)) = id;
    if (kind == K_BYTES)
        fill_payload((uint8_t *)o + 16, count, id, salt);
    else if (kind == K_CUST)
        for (size_t j = 0; j < count; j++)
            WORD(o, 3 + 2 * j) = cust_key(id, j);
    *out = o;
    return true;
}

static bool op_alloc(gctx *c) {
    model *m = &c->m;
    /* While growing, mostly park the new object in the last root slot, so
     * that the trees hanging from the other roots are not cut off. */
    size_t r = growing(c) && rnd(c, 4) ? m->nroots - 1 : rnd(c, m->nroots);
    void *o;
    if (!new_object(c, &o))
        return false;
    int kind = kind_of_lid(c->L, rtgc_header_layout(rtgc_object_header(o)));
    uint64_t id = WORD(o, id_word(kind));
    uint32_t count = rtgc_object_count(o);
    /* Rooted before anything else can allocate or poll. */
    root_write(c, r, o);
    m->root_exp[r] = EXP_REF(id);
    /* An incoming edge from the graph, mostly while it is small. */
    if (rnd(c, 100) < (growing(c) ? 80u : 10u)) {
        void *a;
        if (!pick(c, true, &a))
            return false;
        if (a && a != o) {
            int ak = kind_of_lid(c->L, rtgc_header_layout(rtgc_object_header(a)));
            mobj *ae = model_get(m, WORD(a, id_word(ak)));
            if (ae->nfields) {
                size_t i = rnd(c, ae->nfields < 32 ? ae->nfields : 32);
                rtgc_store(c->t, a, field_slot(ak, a, i), o);
                ae->fields[i] = EXP_REF(id);
            }
        }
    }
    size_t nf = kind_nfields(kind, count);
    if (nf && rnd(c, 2)) {
        unsigned links = 1 + (unsigned)rnd(c, 3);
        for (unsigned k = 0; k < links; k++)
            if (!op_link(c, o, false))
                return false;
    }
    return true;
}

/* Objects possibly live: what the last walk reached plus what came since. */
static bool growing(gctx *c) {
    return c->m.live_model < c->target;
}

/* Store into a random field of `a` (or of a picked private object). */
bool op_link(gctx *c, void *a, bool clear) {
    if (!a && !pick(c, true, &a))
        return false;
    if (!a)
        return true;
    int kind = kind_of_lid(c->L, rtgc_header_layout(rtgc_object_header(a)));
    mobj *e = model_get(&c->m, WORD(a, id_word(kind)));
    CHECK(c, e != NULL && (uintptr_t)a == e->addr, "picked object %p is not ours", a);
    if (e->nfields == 0)
        return true;
    size_t i = rnd(c, e->nfields);
    if (e->kind == K_ARR && e->nfields > 32 && rnd(c, 4))
        i = rnd(c, 32);
    /* While the graph is below its target, mostly fill empty fields rather
     * than cut edges, so that it grows deep and wide. */
    for (int tries = 0; !clear && growing(c) && EXP_IS_REF(e->fields[i]) && tries < 4; tries++)
        i = rnd(c, e->nfields < 64 ? e->nfields : 64);
    void *v = NULL;
    uint64_t x = rnd(c, 100);
    if (!clear) {
        if (x < 75) {
            if (!pick(c, false, &v))
                return false;
        } else if (x < 90) {
            v = (void *)(uintptr_t)rnd_imm(c);
        }
    }
    void **slot = field_slot(e->kind, a, i);
    rtgc_store(c->t, a, slot, v);
    e->fields[i] = v ? obj_exp(c, v) : 0;
    void *back = rtgc_load(c->t, slot);
    CHECK(c, back == v, "rtgc_load after rtgc_store gave %p, stored %p", back, v);
    return true;
}

/* A root slot to overwrite: while growing, one that holds no object (or
 * the parking slot), so that no tree is cut off. */
size_t root_to_overwrite(gctx *c) {
    model *m = &c->m;
    size_t r = rnd(c, m->nroots);
    for (int tries = 0; growing(c) && EXP_IS_REF(m->root_exp[r]) && tries < 8; tries++)
        r = tries == 7 ? m->nroots - 1 : rnd(c, m->nroots);
    return r;
}

static bool op_root(gctx *c) {
    model *m = &c->m;
    size_t r = root_to_overwrite(c);
    uint64_t x = rnd(c, 100);
    void *v = NULL;
    if (growing(c) && x < 45)
        x = 45 + rnd(c, 55);
    if (x < 45) {
        v = NULL;
    } else if (x < 75) {
        size_t s = rnd(c, m->nroots);
        v = root_read(c, s);
        if (!check_value(c, v, m->root_exp[s], "root", s))
            return false;
    } else if (x < 95) {
        if (!pick(c, false, &v))
            return false;
    } else {
        v = (void *)(uintptr_t)rnd_imm(c);
    }
    root_write(c, r, v);
    m->root_exp[r] = v ? obj_exp(c, v) : 0;
    return true;
}

static bool op_read(gctx *c) {
    void *o;
    if (!pick(c, true, &o))
        return false;
    if (!o)
        return true;
    int kind = kind_of_lid(c->L, rtgc_header_layout(rtgc_object_header(o)));
    return check_contents(c, o, model_get(&c->m, WORD(o, id_word(kind))), NULL);
}

static bool op_payload(gctx *c) {
    void *o;
    if (!pick(c, true, &o))
        return false;
    if (!o)
        return true;
    int kind = kind_of_lid(c->L, rtgc_header_layout(rtgc_object_header(o)));
    if (kind != K_BYTES)
        return true;
    mobj *e = model_get(&c->m, WORD(o, 1));
    e->salt = (uint32_t)rnd(c, 1u << 30);
    fill_payload((uint8_t *)o + 16, e->count, WORD(o, 1), e->salt);
    return true;
}

/* ------------------------------------------------ multi-threaded parts */

static void shared_lock(gctx *c) {
    /* A thread waiting for the lock must not hold up a collection. */
    rtgc_enter_blocking(c->t);
    pthread_mutex_lock(&c->sh->mu);
    rtgc_leave_blocking(c->t);
}
static void shared_unlock(gctx *c) {
    pthread_mutex_unlock(&c->sh->mu);
}

/* Build a fresh immutable tree in the spare root, then publish it. */
static bool op_publish(gctx *c) {
    uint64_t id = SHARED_BIT | ((uint64_t)c->m.owner << OWNER_SHIFT) | (++c->shared_seq << 1);
    void *p = rtgc_alloc(c->t, c->L->lid[K_REC2]);
    c->allocs++;
    CHECK(c, p != NULL, "allocation of a shared REC2 returned NULL");
    WORD(p, 1) = id;
    *c->tmp = p;
    size_t n = shared_len(id | 1);
    void *b = rtgc_alloc_array(c->t, c->L->lid[K_BYTES], (uint32_t)n);
    c->allocs++;
    CHECK(c, b != NULL, "allocation of a shared BYTES returned NULL");
    p = *c->tmp; /* (the collector does not move objects; read the root anyway) */
    WORD(b, 1) = id | 1;
    fill_payload((uint8_t *)b + 16, n, id | 1, 0);
    rtgc_store(c->t, p, field_slot(K_REC2, p, 0), b);
    rtgc_store(c->t, p, field_slot(K_REC2, p, 1), (void *)(uintptr_t)((id << 1) | 1));
    if (!check_shared(c, p, K_REC2, id, "publish"))
        return false;
    shared_lock(c);
    size_t k = rnd(c, SHARED_N);
    rtgc_store(c->t, NULL, &c->sh->roots[k], p);
    c->sh->ids[k] = id;
    shared_unlock(c);
    *c->tmp = NULL;
    c->published++;
    return true;
}

/* Take a shared tree into this thread's graph: a root or a field. */
static bool op_adopt(gctx *c) {
    bool ok = true;
    shared_lock(c);
    size_t k = rnd(c, SHARED_N);
    void *s = rtgc_load(c->t, &c->sh->roots[k]);
    uint64_t id = c->sh->ids[k];
    if (s) {
        ok = check_obj(c, s, id, "adopt");
        if (ok && rnd(c, 2)) {
            size_t r = root_to_overwrite(c);
            root_write(c, r, s);
            c->m.root_exp[r] = EXP_REF(id);
        } else if (ok) {
            void *a;
            ok = pick(c, true, &a);
            if (ok && a) {
                int kind = kind_of_lid(c->L, rtgc_header_layout(rtgc_object_header(a)));
                mobj *e = model_get(&c->m, WORD(a, id_word(kind)));
                if (e->nfields) {
                    size_t i = rnd(c, e->nfields < 8 ? e->nfields : 8);
                    rtgc_store(c->t, a, field_slot(e->kind, a, i), s);
                    e->fields[i] = EXP_REF(id);
                }
            }
        }
        c->adopted++;
    }
    shared_unlock(c);
    return ok;
}

static void op_blocking(gctx *c) {
    rtgc_enter_blocking(c->t);
    if (rnd(c, 2)) {
        struct timespec ts = {0, 20000 + (long)rnd(c, 80000)};
        nanosleep(&ts, NULL);
    } else {
        sched_yield();
    }
    rtgc_leave_blocking(c->t);
    c->blocked++;
}

/* ------------------------------------------------------------- stepping */

static bool do_step(gctx *c) {
    rtgc_poll(c->t);
    if (c->gw) {
        /* the weak layer: one step in 16 (fewer in big graphs, where its
         * model reach costs more); an explicit collection with its checks
         * about once per `target` steps */
        uint64_t y = rnd(c, 1000);
        if (y < (c->target > 8000 ? 480000 / c->target : 60))
            return gw_step(c);
        if (y == 60 && rnd(c, c->target / 1000 + 1) == 0)
            return gw_collect_check(c);
    }
    uint64_t x = rnd(c, 1000);
    if (x < 300)
        return op_alloc(c);
    if (x < 600)
        return op_link(c, NULL, !growing(c) && rnd(c, 4) == 0);
    if (x < 660)
        return growing(c) && rnd(c, 4) ? op_read(c) : op_link(c, NULL, true);
    if (x < 750)
        return op_root(c);
    if (x < 900)
        return op_read(c);
    if (x < 930)
        return op_payload(c);
    if (x < 931) {
        if (rnd(c, 10) == 0) { /* one step in 10000 */
            rtgc_collect(c->t);
            c->collects++;
        }
        return true;
    }
    if (c->sh) {
        if (x < 945)
            return op_publish(c);
        if (x < 975)
            return op_adopt(c);
        if (x < 985) {
            op_blocking(c);
            return true;
        }
    }
    return op_read(c);
}

static bool run_steps(gctx *c, uint64_t n, uint64_t check_every) {
    for (uint64_t i = 0; i < n; i++) {
        c->step++;
        if (!do_step(c))
            return false;
        if (c->step % check_every == 0 && !full_check(c))
            return false;
        if (c->sh && __atomic_load_n(&c->sh->abort, __ATOMIC_RELAXED))
            return true;
    }
    return true;
}

/* ------------------------------------------------------------ root sets */

/* A VM-style stack scanned by a stack scanner in slices. */
#define VMSTACK_SLOTS 5000u
typedef struct vmstack {
    void **slots;
    size_t n;
} vmstack;

static long scanner_calls, scanner_resumed;

static int vmstack_scan(rtgc_thread *t, rtgc_root_scan *scan, void *data) {
    vmstack *vs = data;
    size_t i = (size_t)scan->cursor;
    __atomic_add_fetch(&scanner_calls, 1, __ATOMIC_RELAXED);
    if (i != 0)
        __atomic_add_fetch(&scanner_resumed, 1, __ATOMIC_RELAXED);
    for (; i < vs->n; i++) {
        if (rtgc_scan_should_yield(scan)) {
            scan->cursor = i;
            return 1;
        }
        rtgc_scan_visit(scan, &vs->slots[i]);
    }
    return 0;
}

/* Global roots visited by a root callback. */
typedef struct cb_roots {
    void **slots;
    size_t n;
} cb_roots;

static void cb_roots_visit(rtgc_heap *heap, rtgc_visitor *v, void *data) {
    cb_roots *r = data;
    for (size_t i = 0; i < r->n; i++)
        rtgc_visit(v, &r->slots[i]);
}

/* Every kind of root slot an embedder has, n/8 or n/4 of each: a global
 * range, a shadow-stack frame, thread handles (straddling two handle
 * chunks), global handles, a scanned VM stack (longer than one scan slice),
 * and a root callback's array.  The last slot (the parking slot) is the
 * callback's. */
typedef struct root_set {
    void **range;
    size_t nrange;
    void **frame;
    rtgc_frame fr;
    rtgc_handle_mark hm;
    void ***ghandles;
    size_t nghandles;
    vmstack vs;
    cb_roots cb;
} root_set;

static bool roots_setup(gctx *c, root_set *rs, size_t nr) {
    model *m = &c->m;
    memset(rs, 0, sizeof *rs);
    CHECK(c, nr % 8 == 0 && nr <= MAX_ROOTS, "bad root count %zu", nr);
    size_t k = 0;
    rs->nrange = nr / 4;
    rs->range = calloc(rs->nrange, sizeof *rs->range);
    CHECK(c, rtgc_root_range_add(c->h, rs->range, rs->nrange) == RTGC_OK, "rtgc_root_range_add");
    for (size_t i = 0; i < rs->nrange; i++) {
        m->root_global[k] = true;
        m->root[k++] = &rs->range[i];
    }

    size_t nframe = nr / 4;
    rs->frame = malloc(nframe * sizeof *rs->frame);
    rtgc_frame_push(c->t, &rs->fr, rs->frame, nframe);
    for (size_t i = 0; i < nframe; i++) {
        CHECK(c, rs->frame[i] == NULL, "rtgc_frame_push did not zero the slots");
        m->root[k++] = &rs->frame[i];
    }

    rs->hm = rtgc_handles_mark(c->t);
    size_t nh = nr / 8;
    for (size_t i = 0; i < 256 - nh / 2; i++) /* so the real ones straddle a chunk boundary */
        CHECK(c, rtgc_handle(c->t, NULL) != NULL, "rtgc_handle returned NULL");
    for (size_t i = 0; i < nh; i++) {
        void **hs = rtgc_handle(c->t, NULL);
        CHECK(c, hs != NULL && *hs == NULL, "rtgc_handle returned %p", (void *)hs);
        m->root[k++] = hs;
    }

    rs->nghandles = nr / 8;
    rs->ghandles = calloc(rs->nghandles, sizeof *rs->ghandles);
    for (size_t i = 0; i < rs->nghandles; i++) {
        rs->ghandles[i] = rtgc_global_handle_new(c->h, NULL);
        CHECK(c, rs->ghandles[i] != NULL && *rs->ghandles[i] == NULL,
              "rtgc_global_handle_new returned %p", (void *)rs->ghandles[i]);
        m->root_global[k] = true;
        m->root[k++] = rs->ghandles[i];
    }

    rs->vs.n = VMSTACK_SLOTS;
    rs->vs.slots = calloc(VMSTACK_SLOTS, sizeof *rs->vs.slots);
    rtgc_thread_set_stack_scanner(c->t, vmstack_scan, &rs->vs);
    size_t ns = nr / 8;
    for (size_t i = 0; i < ns; i++) { /* spread over the stack, the last one near its top */
        m->root_stack[k] = true;
        m->root[k++] = &rs->vs.slots[(VMSTACK_SLOTS - 1) - i * ((VMSTACK_SLOTS - 1) / ns)];
    }

    rs->cb.n = nr - k;
    rs->cb.slots = calloc(rs->cb.n, sizeof *rs->cb.slots);
    CHECK(c, rtgc_root_callback_add(c->h, cb_roots_visit, &rs->cb) == RTGC_OK,
          "rtgc_root_callback_add");
    for (size_t i = 0; i < rs->cb.n; i++) {
        m->root_global[k] = true;
        m->root[k++] = &rs->cb.slots[i];
    }
    m->nroots = k;
    return true;
}

/* Drops every root and unregisters what roots_setup registered. */
static bool roots_teardown(gctx *c, root_set *rs) {
    bool ok = true;
    for (size_t i = 0; i < c->m.nroots; i++) {
        root_write(c, i, NULL);
        c->m.root_exp[i] = 0;
    }
    if (rs->cb.slots && rtgc_root_callback_remove(c->h, cb_roots_visit, &rs->cb) != RTGC_OK)
        ctx_fail(c, __FILE__, __LINE__, "rtgc_root_callback_remove failed"), ok = false;
    rtgc_thread_set_stack_scanner(c->t, NULL, NULL);
    for (size_t i = 0; i < rs->nghandles; i++)
        if (rs->ghandles[i])
            rtgc_global_handle_free(c->h, rs->ghandles[i]);
    rtgc_handles_release(c->t, rs->hm);
    if (rs->frame)
        rtgc_frame_pop(c->t, &rs->fr);
    if (rs->range && rtgc_root_range_remove(c->h, rs->range) != RTGC_OK)
        ctx_fail(c, __FILE__, __LINE__, "rtgc_root_range_remove failed"), ok = false;
    free(rs->range);
    free(rs->frame);
    free(rs->ghandles);
    free(rs->vs.slots);
    free(rs->cb.slots);
    c->m.nroots = 0;
    return ok;
}

/* ------------------------------------------------- single-threaded runs */

typedef struct graph_params {
    const char *name;
    const char *opts;
    size_t nroots;          /* multiple of 4: a quarter range, a half frame, a quarter handles */
    uint64_t steps;         /* scaled by RTGC_TEST_SCALE */
    uint64_t check_every;
    unsigned large_pm;
    uint64_t stress;        /* the stress=N in opts, for the cycle count check */
    size_t target;          /* live objects the graph hovers around */
    bool helpers_trace;     /* threads=N > 1 where helpers must have traced [mark.parallel] */
} graph_params;

static void run_graph(const graph_params *p) {
    graph_layouts L;
    rtgc_heap *h = graph_heap(p->opts, &L);
    if (!h) {
        printf("[ SKIP     ] %s: \"%s\" is not supported by this build\n", p->name, p->opts);
        skip();
        return;
    }
    rtgc_error err;
    rtgc_thread *t = rtgc_thread_attach(h, &err);
    if (!t)
        fail_msg("rtgc_thread_attach: %s", err.message);
    assert_ptr_equal(rtgc_thread_current(), t);
    assert_ptr_equal(rtgc_thread_heap(t), h);

    static gctx cs; /* big: keep it off the stack */
    gctx *c = &cs;
    memset(c, 0, sizeof *c);
    c->name = p->name;
    c->h = h;
    c->t = t;
    c->L = &L;
    c->seed = test_seed(p->name);
    c->rng = c->seed;
    c->large_pm = p->large_pm;
    c->target = p->target;
    model_init(&c->m, 1);

    static root_set rs;
    __atomic_store_n(&scanner_calls, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&scanner_resumed, 0, __ATOMIC_SEQ_CST);
    bool ok = roots_setup(c, &rs, p->nroots);
    gweak *gw = gw_setup(c, p->nroots / 2);

    uint64_t steps = scaled(p->steps);
    uint64_t t0 = rtgc_now_ns();
    /* Every finalizer that can run has run before the last walk. */
    ok = ok && run_steps(c, steps, p->check_every) && gw_settle(c) && full_check(c);

    rtgc_stats s;
    if (ok) {
        /* Nothing allocates between the walk and the collection: the
         * collector must find exactly what the walk found. */
        rtgc_collect(t);
        rtgc_get_stats(h, &s);
        printf("[ STATS    ] %s: %llu steps, %llu allocations, %llu cycles, %llu pauses, "
               "live %zu objects %zu bytes (walk: %zu objects, %zu..%zu bytes), heap %zu peak %zu, "
               "%llu custom traces, %ld stack scanner calls (%ld resumed), %llu objects traced by "
               "helpers, %.2f s\n",
               p->name, (unsigned long long)steps, (unsigned long long)c->allocs,
               (unsigned long long)s.cycles, (unsigned long long)s.pauses, s.live_objects,
               s.live_bytes, c->m.reach_objs, c->m.reach_bytes, c->m.reach_bytes_max, s.heap_size,
               s.heap_peak, (unsigned long long)cust_trace_calls, scanner_calls, scanner_resumed,
               (unsigned long long)s.helper_objects, (rtgc_now_ns() - t0) / 1e9);
        fflush(stdout);
        if (p->helpers_trace && rtgc_heap_config(h)->collector_threads > 1 && s.helper_objects == 0)
            ctx_fail(c, __FILE__, __LINE__, "threads=N, yet no helper traced an object in %llu cycles",
                     (unsigned long long)s.cycles);
        if (s.cycles == 0)
            ctx_fail(c, __FILE__, __LINE__, "no collection cycle ran");
        else if (p->stress && s.cycles < c->allocs / p->stress / 2)
            ctx_fail(c, __FILE__, __LINE__, "stress=%llu and %llu allocations, but only %llu cycles",
                     (unsigned long long)p->stress, (unsigned long long)c->allocs,
                     (unsigned long long)s.cycles);
        else if (s.live_objects < c->m.reach_objs ||
                 s.live_objects > c->m.reach_objs + dup_allowance(h, c->m.reach_objs))
            ctx_fail(c, __FILE__, __LINE__, "stats: %zu live objects after a collection, the walk reached %zu",
                     s.live_objects, c->m.reach_objs);
        else if (s.live_bytes < c->m.reach_bytes ||
                 s.live_bytes > c->m.reach_bytes_max + dup_allowance(h, c->m.reach_bytes_max))
            ctx_fail(c, __FILE__, __LINE__, "stats: %zu live bytes, the walk reached %zu (%zu with cells)",
                     s.live_bytes, c->m.reach_bytes, c->m.reach_bytes_max);
        else if (s.heap_size > s.heap_limit || s.heap_peak > s.heap_limit ||
                 s.heap_size < s.live_bytes)
            ctx_fail(c, __FILE__, __LINE__, "stats: heap %zu, peak %zu, limit %zu, live %zu", s.heap_size,
                     s.heap_peak, s.heap_limit, s.live_bytes);
        else if (s.oom_count != 0)
            ctx_fail(c, __FILE__, __LINE__, "stats: %llu failed allocations", (unsigned long long)s.oom_count);
        else if (s.pauses == 0)
            /* The thread waited for every one of these cycles (stress, or
             * rtgc_collect): a wait for the collector is a pause. */
            ctx_fail(c, __FILE__, __LINE__, "stats: %llu cycles, but not one pause record",
                     (unsigned long long)s.cycles);
        else if (__atomic_load_n(&cust_trace_calls, __ATOMIC_SEQ_CST) == 0)
            ctx_fail(c, __FILE__, __LINE__, "the CUSTOM trace callback was never called");
        else if (__atomic_load_n(&scanner_calls, __ATOMIC_SEQ_CST) < (long)s.cycles)
            ctx_fail(c, __FILE__, __LINE__, "the stack scanner ran %ld times in %llu cycles", scanner_calls,
                     (unsigned long long)s.cycles);
        else if (rtgc_finalizers_ready(h) != 0)
            ctx_fail(c, __FILE__, __LINE__, "a collection right after the walk queued %zu "
                     "finalizers, but every object with one was reachable",
                     rtgc_finalizers_ready(h));
        ok = !c->failed;
    }
    /* Drop every root and unregister them: nothing may stay live once the
     * finalizers this queues have run. */
    gw_close(c);
    ok = roots_teardown(c, &rs) && ok;
    if (ok && !gw_final_drain(t, &gw, 1, c->err, sizeof c->err))
        c->failed = true, ok = false;
    if (ok) {
        char line[600];
        gw_summary(&gw, 1, line, sizeof line);
        printf("[ WEAK     ] %s: %s\n", p->name, line);
        fflush(stdout);
        rtgc_collect(t);
        rtgc_get_stats(h, &s);
        if (s.live_objects != 0 || s.live_bytes != 0)
            ctx_fail(c, __FILE__, __LINE__, "no roots, yet %zu objects (%zu bytes) live", s.live_objects,
                     s.live_bytes);
        else if (rtgc_verify(t) != 0 || heap_errors != 0)
            ctx_fail(c, __FILE__, __LINE__, "the empty heap does not verify (%s)", first_error);
        ok = !c->failed;
    }

    assert_int_equal(rtgc_thread_detach(t), RTGC_OK);
    assert_null(rtgc_thread_current());
    rtgc_heap_destroy(h);
    model_fini(&c->m);
    gw_free(gw);
    if (!ok)
        fail_msg("%s", c->err);
}

/* stress=97: a collection every 97 allocations, the verifier after each. */
static void test_graph_stress97(void **state) {
    static const graph_params p = {.name = "graph_stress97",
                                   .opts = "mode=stw,stress=97,verify=1,heap=64M",
                                   .nroots = 64, .steps = 200000, .check_every = 5000,
                                   .large_pm = 2, .stress = 97, .target = 4000};
    run_graph(&p);
}

/* stress=1: every allocation collects; a short run on a small graph. */
static void test_graph_stress1(void **state) {
    static const graph_params p = {.name = "graph_stress1",
                                   .opts = "mode=stw,stress=1,verify=1,heap=32M",
                                   .nroots = 32, .steps = 8000, .check_every = 500,
                                   .large_pm = 1, .stress = 1, .target = 500};
    run_graph(&p);
}

/* No stress: a bigger graph in a bigger heap, cycles come from the trigger. */
static void test_graph_big(void **state) {
    static const graph_params p = {.name = "graph_big",
                                   .opts = "mode=stw,verify=1,heap=256M,min_trigger=2M",
                                   .nroots = 256, .steps = 1000000, .check_every = 100000,
                                   .large_pm = 3, .target = 60000};
    run_graph(&p);
}

/* A small heap without stress: collections come from the heap limit. */
static void test_graph_small_heap(void **state) {
    static const graph_params p = {.name = "graph_small_heap",
                                   .opts = "mode=stw,verify=1,heap=3M,min_trigger=1M",
                                   .nroots = 64, .steps = 400000, .check_every = 20000,
                                   .large_pm = 0, .target = 22000};
    run_graph(&p);
}

/* The other modes, when this build has them (skipped otherwise). */
static void test_graph_incremental(void **state) {
    static const graph_params p = {.name = "graph_incremental",
                                   .opts = "mode=incremental,stress=97,verify=1,heap=64M",
                                   .nroots = 64, .steps = 60000, .check_every = 2000,
                                   .large_pm = 2, .target = 3000};
    run_graph(&p);
}
static void test_graph_concurrent(void **state) {
    static const graph_params p = {.name = "graph_concurrent",
                                   .opts = "mode=concurrent,stress=97,verify=1,heap=64M",
                                   .nroots = 64, .steps = 200000, .check_every = 5000,
                                   .large_pm = 2, .target = 4000};
    run_graph(&p);
}
static void test_graph_concurrent_nostress(void **state) {
    static const graph_params p = {.name = "graph_concurrent_nostress",
                                   .opts = "mode=concurrent,verify=1,heap=8M,min_trigger=1M",
                                   .nroots = 64, .steps = 400000, .check_every = 20000,
                                   .large_pm = 1, .target = 20000};
    run_graph(&p);
}

static void test_graph_step(void **state) {
    static const graph_params p = {.name = "graph_step",
                                   .opts = "mode=step,stress=97,verify=1,heap=64M",
                                   .nroots = 64, .steps = 60000, .check_every = 2000,
                                   .large_pm = 2, .target = 3000};
    run_graph(&p);
}
/* Step mode with no one calling rtgc_step: every cycle is driven by an
 * allocation that reached the limit (a stall). */
static void test_graph_step_at_limit(void **state) {
    static const graph_params p = {.name = "graph_step_at_limit",
                                   .opts = "mode=step,verify=1,heap=8M,min_trigger=1M",
                                   .nroots = 64, .steps = 200000, .check_every = 20000,
                                   .large_pm = 1, .target = 20000};
    run_graph(&p);
}
static void test_graph_incremental_nostress(void **state) {
    static const graph_params p = {.name = "graph_incremental_nostress",
                                   .opts = "mode=incremental,verify=1,heap=8M,min_trigger=1M",
                                   .nroots = 64, .steps = 200000, .check_every = 20000,
                                   .large_pm = 1, .target = 20000};
    run_graph(&p);
}

/* Parallel marking [mark.parallel]: the same runs with marking helpers
 * (threads=N: N markers).  In stw mode every helper traces during the
 * stop; in incremental and step mode they trace inside the mutator's
 * slices; in concurrent mode as far as the CPU policy allows. */
static void test_graph_markers_stw(void **state) {
    static const graph_params p = {.name = "graph_markers_stw",
                                   .opts = "mode=stw,verify=1,heap=32M,min_trigger=1M,threads=4",
                                   .nroots = 128, .steps = 300000, .check_every = 20000,
                                   .large_pm = 2, .target = 30000, .helpers_trace = true};
    run_graph(&p);
}
static void test_graph_markers_concurrent(void **state) {
    static const graph_params p = {.name = "graph_markers_concurrent",
                                   .opts = "mode=concurrent,verify=1,heap=8M,min_trigger=1M,threads=4",
                                   .nroots = 64, .steps = 300000, .check_every = 20000,
                                   .large_pm = 1, .target = 20000};
    run_graph(&p);
}
static void test_graph_markers_incremental(void **state) {
    static const graph_params p = {.name = "graph_markers_incremental",
                                   .opts = "mode=incremental,verify=1,heap=8M,min_trigger=1M,threads=2",
                                   .nroots = 64, .steps = 200000, .check_every = 20000,
                                   .large_pm = 1, .target = 20000, .helpers_trace = true};
    run_graph(&p);
}
static void test_graph_markers_step(void **state) {
    static const graph_params p = {.name = "graph_markers_step",
                                   .opts = "mode=step,stress=97,verify=1,heap=64M,threads=2",
                                   .nroots = 64, .steps = 60000, .check_every = 2000,
                                   .large_pm = 2, .target = 3000, .helpers_trace = true};
    run_graph(&p);
}

/* --------------------------------------------------- multi-threaded run */

#define WORKERS 4
#define PHASES 4
#define W_ROOTS 32

typedef struct worker {
    gctx c;
    int idx;
    uint64_t steps, check_every;
    gweak *gw;      /* outlives the worker: its finalizers may run later */
} worker;

static shared_area g_shared;

static void phase_barrier(gctx *c) {
    rtgc_enter_blocking(c->t);
    pthread_barrier_wait(&c->sh->bar);
    rtgc_leave_blocking(c->t);
}

/* A short-lived thread: attaches while the others run (and collect),
 * works on a small graph of its own, publishes and adopts shared trees,
 * checks, and detaches. */
typedef struct helper {
    gctx c;
    uint64_t steps;
} helper;

static void *helper_main(void *arg) {
    helper *hp = arg;
    gctx *c = &hp->c;
    rtgc_error err;
    c->t = rtgc_thread_attach(c->h, &err);
    if (!c->t) {
        ctx_fail(c, __FILE__, __LINE__, "rtgc_thread_attach (helper): %s", err.message);
        return NULL;
    }
    root_set rs;
    if (roots_setup(c, &rs, 8)) {
        RTGC_FRAME(c->t, tmp, 1);
        c->tmp = &tmp[0];
        if (run_steps(c, hp->steps, 100) && !__atomic_load_n(&c->sh->abort, __ATOMIC_SEQ_CST))
            full_check(c);
        RTGC_FRAME_POP(c->t, tmp);
    }
    roots_teardown(c, &rs);
    if (rtgc_thread_detach(c->t) != RTGC_OK)
        ctx_fail(c, __FILE__, __LINE__, "rtgc_thread_detach (helper) failed");
    return NULL;
}

static void run_helper(worker *w, int ph) {
    gctx *c = &w->c;
    helper *hp = calloc(1, sizeof *hp);
    hp->steps = 400;
    hp->c.name = c->name;
    hp->c.h = c->h;
    hp->c.L = c->L;
    hp->c.seed = c->seed;
    hp->c.rng = mix64(c->rng + (uint64_t)ph);
    hp->c.large_pm = 0;
    hp->c.target = 300;
    hp->c.poll_in_walk = true;
    hp->c.sh = c->sh;
    model_init(&hp->c.m, 8 + w->idx * PHASES + ph);
    pthread_t th;
    if (pthread_create(&th, NULL, helper_main, hp) != 0) {
        ctx_fail(c, __FILE__, __LINE__, "pthread_create (helper) failed");
    } else {
        rtgc_enter_blocking(c->t);
        pthread_join(th, NULL);
        rtgc_leave_blocking(c->t);
    }
    if (hp->c.failed && !c->failed) {
        snprintf(c->err, sizeof c->err, "helper: %s", hp->c.err);
        c->failed = true;
    }
    c->allocs += hp->c.allocs;
    c->published += hp->c.published;
    c->adopted += hp->c.adopted;
    c->helpers++;
    model_fini(&hp->c.m);
    free(hp);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    gctx *c = &w->c;
    rtgc_error err;
    c->t = rtgc_thread_attach(c->h, &err);
    if (!c->t) {
        ctx_fail(c, __FILE__, __LINE__, "rtgc_thread_attach: %s", err.message);
        /* still keep the barrier count */
        for (int ph = 0; ph < PHASES; ph++)
            pthread_barrier_wait(&c->sh->bar);
        return NULL;
    }
    if (rtgc_thread_current() != c->t)
        ctx_fail(c, __FILE__, __LINE__, "rtgc_thread_current() is not the attached thread");

    root_set rs;
    roots_setup(c, &rs, W_ROOTS);
    RTGC_FRAME(c->t, tmp, 1);
    c->tmp = &tmp[0];
    w->gw = gw_setup(c, W_ROOTS / 2);

    uint64_t per_phase = w->steps / PHASES + 1;
    for (int ph = 0; ph < PHASES; ph++) {
        bool go = !c->failed && !__atomic_load_n(&c->sh->abort, __ATOMIC_SEQ_CST);
        if (go)
            go = run_steps(c, per_phase, w->check_every);
        phase_barrier(c);
        if (go && !__atomic_load_n(&c->sh->abort, __ATOMIC_SEQ_CST)) {
            if (!full_check(c))
                continue;
            if (w->idx == ph % WORKERS) {
                rtgc_collect(c->t); /* with the others running */
                c->collects++;
            }
            run_helper(w, ph);
        }
    }
    if (!c->failed && !__atomic_load_n(&c->sh->abort, __ATOMIC_SEQ_CST))
        full_check(c);

    gw_close(c); /* its pending finalizers run later, on any thread */
    RTGC_FRAME_POP(c->t, tmp);
    roots_teardown(c, &rs);
    if (rtgc_thread_detach(c->t) != RTGC_OK)
        ctx_fail(c, __FILE__, __LINE__, "rtgc_thread_detach failed");
    if (rtgc_thread_current() != NULL)
        ctx_fail(c, __FILE__, __LINE__, "rtgc_thread_current() after detach is not NULL");
    return NULL;
}

static void run_threads(const char *name, const char *opts, uint64_t steps, size_t target) {
    graph_layouts L;
    rtgc_heap *h = graph_heap(opts, &L);
    if (!h) {
        printf("[ SKIP     ] %s: \"%s\" is not supported by this build\n", name, opts);
        skip();
        return;
    }
    uint64_t seed = test_seed(name);
    shared_area *sh = &g_shared;
    memset(sh, 0, sizeof *sh);
    pthread_mutex_init(&sh->mu, NULL);
    pthread_barrier_init(&sh->bar, NULL, WORKERS);
    assert_int_equal(rtgc_root_range_add(h, sh->roots, SHARED_N), RTGC_OK);

    static worker ws[WORKERS];
    pthread_t th[WORKERS];
    memset(ws, 0, sizeof ws);
    uint64_t t0 = rtgc_now_ns();
    for (int i = 0; i < WORKERS; i++) {
        worker *w = &ws[i];
        w->idx = i;
        w->steps = scaled(steps);
        w->check_every = 1500;
        w->c.name = name;
        w->c.h = h;
        w->c.L = &L;
        w->c.seed = seed;
        w->c.rng = mix64(seed + 0x1234567ull * (uint64_t)(i + 1));
        w->c.large_pm = 1;
        w->c.target = target;
        w->c.poll_in_walk = true;
        w->c.sh = sh;
        model_init(&w->c.m, i + 1);
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, w), 0);
    }
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    double secs = (rtgc_now_ns() - t0) / 1e9;

    char msg[1200] = "";
    uint64_t allocs = 0, published = 0, adopted = 0, blocked = 0, collects = 0, helpers = 0;
    gweak *gws[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        gws[i] = ws[i].gw;
        if (ws[i].c.failed && !msg[0])
            snprintf(msg, sizeof msg, "worker %d: %s", i, ws[i].c.err);
        allocs += ws[i].c.allocs;
        published += ws[i].c.published;
        adopted += ws[i].c.adopted;
        blocked += ws[i].c.blocked;
        collects += ws[i].c.collects;
        helpers += ws[i].c.helpers;
        model_fini(&ws[i].c.m);
    }

    /* Every worker is gone; the shared range alone keeps objects alive. */
    rtgc_error err;
    rtgc_thread *t = rtgc_thread_attach(h, &err);
    if (!t)
        fail_msg("rtgc_thread_attach (main): %s", err.message);
    gctx *c = &ws[0].c; /* reuse for the checks below */
    memset(c, 0, sizeof *c);
    c->name = name;
    c->h = h;
    c->t = t;
    c->L = &L;
    c->seed = seed;
    if (msg[0])
        snprintf(c->err, sizeof c->err, "%s", msg), c->failed = true;
    /* The workers' objects are garbage now: their finalizers run here. */
    if (!c->failed && !gw_final_drain(t, gws, WORKERS, c->err, sizeof c->err))
        c->failed = true;
    if (!c->failed) {
        char line[600];
        gw_summary(gws, WORKERS, line, sizeof line);
        printf("[ WEAK     ] %s: %s\n", name, line);
        fflush(stdout);
    }
    size_t distinct = 0, bytes = 0, bytes_max = 0;
    for (int i = 0; i < SHARED_N && !c->failed; i++) {
        void *s = rtgc_load(t, &sh->roots[i]);
        if (!s)
            continue;
        if (!check_obj(c, s, sh->ids[i], "shared root"))
            break;
        bool seen = false;
        for (int j = 0; j < i; j++)
            seen |= rtgc_load(t, &sh->roots[j]) == s;
        if (!seen) {
            size_t n = shared_len(sh->ids[i] | 1);
            distinct += 2;
            bytes += kind_size(K_REC2, 0) + kind_size(K_BYTES, (uint32_t)n);
            bytes_max += class_bytes(kind_size(K_REC2, 0)) + class_bytes(kind_size(K_BYTES, (uint32_t)n));
        }
    }
    rtgc_stats s;
    if (!c->failed) {
        rtgc_collect(t);
        rtgc_get_stats(h, &s);
        printf("[ STATS    ] %s: %d threads, %llu allocations, %llu published, %llu adopted, "
               "%llu blocking calls, %llu explicit collections, %llu helper threads, %llu cycles, "
               "%llu pauses "
               "(max %.3f ms), live %zu objects %zu bytes, heap peak %zu, %.2f s\n",
               name, WORKERS, (unsigned long long)allocs, (unsigned long long)published,
               (unsigned long long)adopted, (unsigned long long)blocked,
               (unsigned long long)collects, (unsigned long long)helpers,
               (unsigned long long)s.cycles,
               (unsigned long long)s.pauses, s.pause_max_ns / 1e6, s.live_objects, s.live_bytes,
               s.heap_peak, secs);
        fflush(stdout);
        if (s.cycles == 0)
            ctx_fail(c, __FILE__, __LINE__, "no collection cycle ran");
        else if (s.live_objects < distinct || s.live_objects > distinct + dup_allowance(h, distinct))
            ctx_fail(c, __FILE__, __LINE__, "stats: %zu live objects, the shared range holds %zu",
                     s.live_objects, distinct);
        else if (s.live_bytes < bytes || s.live_bytes > bytes_max + dup_allowance(h, bytes_max))
            ctx_fail(c, __FILE__, __LINE__, "stats: %zu live bytes, the shared range holds %zu..%zu",
                     s.live_bytes, bytes, bytes_max);
        else if (s.heap_peak > s.heap_limit || s.oom_count)
            ctx_fail(c, __FILE__, __LINE__, "stats: peak %zu over limit %zu, or %llu failed allocations",
                     s.heap_peak, s.heap_limit, (unsigned long long)s.oom_count);
        else if (rtgc_verify(t) != 0 || heap_errors != 0)
            ctx_fail(c, __FILE__, __LINE__, "the heap does not verify (%s)", first_error);
    }
    if (!c->failed) {
        for (int i = 0; i < SHARED_N; i++)
            rtgc_store(t, NULL, &sh->roots[i], NULL);
        rtgc_collect(t);
        rtgc_get_stats(h, &s);
        if (s.live_objects != 0)
            ctx_fail(c, __FILE__, __LINE__, "no roots, yet %zu objects live", s.live_objects);
    }
    assert_int_equal(rtgc_root_range_remove(h, sh->roots), RTGC_OK);
    assert_int_equal(rtgc_thread_detach(t), RTGC_OK);
    rtgc_heap_destroy(h);
    pthread_barrier_destroy(&sh->bar);
    pthread_mutex_destroy(&sh->mu);
    for (int i = 0; i < WORKERS; i++)
        gw_free(gws[i]);
    if (c->failed)
        fail_msg("%s", c->err);
}

static void test_graph_threads(void **state) {
    run_threads("graph_threads", "mode=stw,stress=97,verify=1,heap=128M", 80000, 3000);
}
static void test_graph_threads_nostress(void **state) {
    run_threads("graph_threads_nostress", "mode=stw,verify=1,heap=32M,min_trigger=1M", 200000, 10000);
}
static void test_graph_threads_concurrent(void **state) {
    run_threads("graph_threads_concurrent", "mode=concurrent,stress=97,verify=1,heap=128M", 80000,
                3000);
}
static void test_graph_threads_concurrent_nostress(void **state) {
    run_threads("graph_threads_concurrent_nostress",
                "mode=concurrent,verify=1,heap=32M,min_trigger=1M", 100000, 8000);
}
/* Step mode with four threads and nobody calling rtgc_step: every cycle is
 * driven by a thread stalled at the heap limit, which needs the others'
 * handshakes (they poll, or are blocked).  12 MiB: each thread owns a span
 * (a block here) per span class it allocates from, and with noscan spans
 * [mark.noscan] the graph's kinds use about 23 span classes, not 11: four
 * threads' spans alone came to 92 of a 6 MiB heap's 96 blocks, and a large
 * object found no free block; in 8 MiB the peak reached 8.3 MB, and one
 * run under ThreadSanitizer ran out. */
static void test_graph_threads_step(void **state) {
    run_threads("graph_threads_step", "mode=step,verify=1,heap=12M,min_trigger=1M", 60000, 4000);
}
static void test_graph_threads_incremental(void **state) {
    run_threads("graph_threads_incremental", "mode=incremental,verify=1,heap=32M,min_trigger=1M", 60000,
                4000);
}

static void test_graph_threads_markers_stw(void **state) {
    run_threads("graph_threads_markers_stw", "mode=stw,verify=1,heap=32M,min_trigger=1M,threads=4", 150000,
                10000);
}
static void test_graph_threads_markers_concurrent(void **state) {
    run_threads("graph_threads_markers_concurrent",
                "mode=concurrent,verify=1,heap=32M,min_trigger=1M,threads=4", 100000, 8000);
}
static void test_graph_threads_markers_incremental(void **state) {
    run_threads("graph_threads_markers_incremental",
                "mode=incremental,verify=1,heap=32M,min_trigger=1M,threads=4", 60000, 4000);
}

int main(void) {
    /* RTGC_TEST_FILTER=pattern runs only the matching tests (cmocka's
     * wildcards), e.g. RTGC_TEST_FILTER='*concurrent*'. */
    const char *filter = getenv("RTGC_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph_stress97),
        cmocka_unit_test(test_graph_stress1),
        cmocka_unit_test(test_graph_big),
        cmocka_unit_test(test_graph_small_heap),
        cmocka_unit_test(test_graph_threads),
        cmocka_unit_test(test_graph_threads_nostress),
        cmocka_unit_test(test_graph_incremental),
        cmocka_unit_test(test_graph_incremental_nostress),
        cmocka_unit_test(test_graph_step),
        cmocka_unit_test(test_graph_step_at_limit),
        cmocka_unit_test(test_graph_concurrent),
        cmocka_unit_test(test_graph_concurrent_nostress),
        cmocka_unit_test(test_graph_threads_concurrent),
        cmocka_unit_test(test_graph_threads_concurrent_nostress),
        cmocka_unit_test(test_graph_threads_incremental),
        cmocka_unit_test(test_graph_threads_step),
        cmocka_unit_test(test_graph_markers_stw),
        cmocka_unit_test(test_graph_markers_concurrent),
        cmocka_unit_test(test_graph_markers_incremental),
        cmocka_unit_test(test_graph_markers_step),
        cmocka_unit_test(test_graph_threads_markers_stw),
        cmocka_unit_test(test_graph_threads_markers_concurrent),
        cmocka_unit_test(test_graph_threads_markers_incremental),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

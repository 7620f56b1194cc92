/* gc/tests/graph.h - what the graph torture test (test_graph.c) shares
 * with its weak layer (graph_weak.c): the object kinds and their geometry,
 * the shadow model, the per-thread context, and the checking and picking
 * helpers.  test_graph.c's opening comment describes them.
 */
#ifndef RTGC_TESTS_GRAPH_H
#define RTGC_TESTS_GRAPH_H

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "testutil.h"

/* ---------------------------------------------------------------- basics */

enum kind { K_REC2 = 0, K_REC4, K_ARR, K_BYTES, K_CUST, K_COUNT };
extern const char *const kind_name[K_COUNT];

typedef struct graph_layouts {
    rtgc_layout_id lid[K_COUNT];
} graph_layouts;

#define WORD(o, i) (((uint64_t *)(void *)(o))[i])

/* Object geometry, per kind. */
static inline size_t kind_size(int kind, uint32_t count) {
    switch (kind) {
    case K_REC2: return 32;
    case K_REC4: return 48;
    case K_ARR: return 24 + 8 * (size_t)count;
    case K_BYTES: return 16 + (size_t)count;
    default: return 24 + 16 * (size_t)count;
    }
}
static inline size_t kind_nfields(int kind, uint32_t count) {
    switch (kind) {
    case K_REC2: return 2;
    case K_REC4: return 4;
    case K_ARR: return 1 + (size_t)count;
    case K_BYTES: return 0;
    default: return 1 + (size_t)count;
    }
}
static inline void **field_slot(int kind, void *o, size_t i) {
    void **w = (void **)o;
    switch (kind) {
    case K_REC2: return w + 2 + i;
    case K_REC4: return i == 0 ? w + 1 : w + 2 + i;   /* words 1, 3, 4, 5 */
    case K_ARR: return w + 2 + i;                     /* head at 16, elements from 24 */
    default: return i == 0 ? w + 2 : w + 4 + 2 * (i - 1); /* extra; element refs */
    }
}
static inline unsigned id_word(int kind) {
    return kind == K_REC4 ? 2u : 1u;
}
/* ------------------------------------------------------------ the model */

/* Expected slot values: 0 = NULL, odd = that exact immediate, otherwise
 * id << 1 = a reference to the object with that id. */
#define EXP_REF(id) ((uint64_t)(id) << 1)
#define EXP_IS_REF(e) ((e) != 0 && ((e) & 1) == 0)
#define EXP_ID(e) ((e) >> 1)

/* Ids: private objects (owner << 40) | index, index >= 1; shared trees
 * SHARED_BIT | (owner << 40) | (n << 1), the BYTES child of a tree the
 * parent's id | 1. */
#define OWNER_SHIFT 40
#define SHARED_BIT ((uint64_t)1 << 62)
#define ID_OWNER(id) ((int)(((id) & ~SHARED_BIT) >> OWNER_SHIFT))
#define ID_INDEX(id) ((id) & (((uint64_t)1 << OWNER_SHIFT) - 1))

typedef struct mobj {
    uint64_t *fields;  /* expected value of each field */
    uintptr_t addr;    /* where the object lives (the collector does not move) */
    uint32_t count;    /* header count */
    uint32_t nfields;
    uint32_t salt;     /* BYTES payload salt */
    uint32_t mark;     /* walk epoch */
    uint8_t kind;
    uint8_t dead;      /* proven unreachable by a full walk */
} mobj;

#define MAX_ROOTS 512

typedef struct model {
    int owner;
    mobj *objs;             /* indexed by ID_INDEX */
    size_t nobjs, cap;
    size_t nroots;
    void **root[MAX_ROOTS]; /* the root slots (range, frame or handle) */
    uint64_t root_exp[MAX_ROOTS];
    bool root_global[MAX_ROOTS]; /* a global slot: read with rtgc_load */
    bool root_stack[MAX_ROOTS];  /* a VM stack slot: read through rtgc_shade */
    uint32_t epoch;
    void **stack;           /* walk stack */
    size_t scap;
    /* results of the last full walk */
    size_t reach_objs, reach_bytes, reach_bytes_max;
    size_t live_model;      /* entries not dead */
} model;

/* --------------------------------------------------------- the context */

#define SHARED_N 16

typedef struct shared_area {
    pthread_mutex_t mu;
    void *roots[SHARED_N];     /* a registered global range */
    uint64_t ids[SHARED_N];    /* expected ids, guarded by mu */
    pthread_barrier_t bar;
    int abort;                 /* a worker failed: the others stop working */
} shared_area;

typedef struct gctx {
    const char *name;
    rtgc_heap *h;
    rtgc_thread *t;
    const graph_layouts *L;
    model m;
    uint64_t seed, rng, step;
    unsigned large_pm;       /* per mille of allocations that are large objects */
    size_t target;           /* live objects the graph hovers around */
    bool poll_in_walk;
    shared_area *sh;         /* multi-threaded only */
    void **tmp;              /* a spare root slot (multi-threaded) */
    struct gweak *gw;        /* the weak layer (graph_weak.c), or NULL */
    uint64_t allocs, collects, published, adopted, blocked, helpers;
    uint64_t shared_seq;
    bool failed;
    char err[1024];
} gctx;

void ctx_fail(gctx *c, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Fails the context (and returns false from the caller) unless cond. */
#define CHECK(c, cond, ...)                          \
    do {                                             \
        if (!(cond)) {                               \
            ctx_fail((c), __FILE__, __LINE__, __VA_ARGS__); \
            return false;                            \
        }                                            \
    } while (0)

/* ------------------------------------------------------------- helpers */

uint64_t rnd(gctx *c, uint64_t n);
int kind_of_lid(const graph_layouts *L, rtgc_layout_id lid);
size_t class_bytes(size_t size);
mobj *model_get(model *m, uint64_t id);
void model_push(model *m, void *o, size_t *sp);
void *root_read(gctx *c, size_t r);
void root_write(gctx *c, size_t r, void *v);
/* A root slot to overwrite (one that holds no object while growing). */
size_t root_to_overwrite(gctx *c);

bool check_header(gctx *c, void *o, int *kind_out, const char *where);
/* `o` should be the object with id `want`. */
bool check_obj(gctx *c, void *o, uint64_t want, const char *where);
/* A slot value against its expectation (EXP_*). */
bool check_value(gctx *c, void *v, uint64_t exp, const char *where, size_t i);
/* Fields, keys and payload of a checked private object; with sp, reached
 * private objects not marked in this walk go on the walk stack. */
bool check_contents(gctx *c, void *o, mobj *e, size_t *sp);
/* Checks everything on the walk stack and what it reaches; with count,
 * adds it to the walk's totals (and polls, where the context may). */
bool walk_drain(gctx *c, size_t *sp, bool count);

/* A random private or shared object reached from the roots (NULL if none),
 * every hop checked; false on a mismatch. */
bool pick(gctx *c, bool private_only, void **out);
/* The expectation (EXP_*) for a slot holding v. */
uint64_t obj_exp(gctx *c, void *v);
/* A new object of a random kind with its model entry; NOT rooted: the
 * caller roots it before anything can allocate or poll. */
bool new_object(gctx *c, void **out);
/* Store into a random field of `a` (or of a picked private object). */
bool op_link(gctx *c, void *a, bool clear);

#endif

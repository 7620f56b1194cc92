/* gc/fuzz/fuzz_api.c - a libFuzzer target that drives the public API with
 * random sequences of operations and checks the heap against a model of
 * its own after every collection.
 *
 * The input: byte 0 picks the mode (stw, incremental, step, concurrent)
 * and the heap limit (2 or 3 MiB), byte 1 whether verify=1 and stress=N are
 * on and the budget (200 or 20 us); every following pair of bytes is one
 * operation (op, argument).  Roots 0..7 are a global range, 8..15 a
 * shadow-stack frame of the main thread (cleared when it detaches):
 *
 *   alloc a node or a byte array (sometimes large, sometimes larger than
 *     the heap limit: NULL and the OOM handler are then expected, and the
 *     heap must stay usable) into a root slot
 *   link / unlink a field of a rooted node (rtgc_store), copy or clear a
 *     root, follow a path with rtgc_load and root what it reaches, rewrite
 *     a byte array's payload
 *   collect (rtgc_collect), step (rtgc_step), poll, blocking sections
 *   detach the thread and attach it again (the global roots survive, the
 *     frame's are dropped)
 *   run a second thread that attaches, builds a short list, publishes it
 *     into a root slot and detaches, while this one waits in a blocking
 *     section (the collector thread, when there is one, runs meanwhile)
 *
 * The model: every object has an id; the model keeps for each id its
 * kind, address, fields (ids, or 0) and payload salt; the roots hold ids.
 * After every collection (explicit, or one the counters show has ended
 * since the last check): rtgc_verify() finds nothing wrong, the error
 * handler has not been called, and a walk from the roots finds every
 * object the model says is reachable at its address, with its header,
 * id, fields and payload intact (a freed and reused cell shows up as a
 * wrong header, id or payload; check builds poison freed cells).
 *
 * Build and run: see gc/fuzz/fuzz.mk (make test runs it briefly from the
 * committed corpus, gc/fuzz/corpus/).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rtgc.h>

#define NROOTS 16                 /* 0..7: a global range; 8..15: a shadow-stack frame */
#define NGLOBAL 8
#define MAXOBJ 8192
#define HELPER_LEN 6

enum { K_NODE = 1, K_BYTES = 2 };

typedef struct mobj {
    void *addr;
    uint32_t kind, len, salt;
    uint32_t f[2];      /* node fields: ids, 0 = NULL */
    uint32_t seen;      /* walk epoch */
} mobj;

static struct {
    rtgc_heap *h;
    rtgc_thread *t;
    rtgc_layout_id node, bytes;
    void *roots[NGLOBAL];         /* a registered global range */
    void *fslots[NROOTS - NGLOBAL]; /* the main thread's frame */
    rtgc_frame frame;
    uint32_t root_id[NROOTS];
    mobj objs[MAXOBJ];
    uint32_t nobjs;
    uint32_t epoch;
    long errors, ooms;
    uint64_t cycles_checked;
    size_t heap_limit;
} F;

static void on_error(rtgc_heap *h, rtgc_status st, const char *msg, void *data) {
    (void)h, (void)data;
    __atomic_add_fetch(&F.errors, 1, __ATOMIC_SEQ_CST);
    fprintf(stderr, "fuzz_api: rtgc error (%s): %s\n", rtgc_status_name(st), msg);
}
static void on_oom(rtgc_heap *h, size_t request, void *data) {
    (void)h, (void)data, (void)request;
    __atomic_add_fetch(&F.ooms, 1, __ATOMIC_SEQ_CST);
}

#define FAIL(...) do { fprintf(stderr, "fuzz_api: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

static uint64_t mix(uint64_t x) {
    x ^= x >> 31; x *= 0x7fb5d329728ea185ull; x ^= x >> 27; x *= 0x81dadef4bc2dd44dull; x ^= x >> 33;
    return x;
}
static uint8_t pay(uint32_t id, uint32_t salt, uint32_t i) {
    return (uint8_t)mix(((uint64_t)id << 32) ^ salt ^ ((uint64_t)i * 0x9e3779b9u));
}

/* Node: {hdr, id, ~id, a, b}.  Bytes: {hdr, id} + len bytes. */
#define W(o, i) (((uint64_t *)(void *)(o))[i])

static uint32_t new_id(void *o, uint32_t kind, uint32_t len) {
    if (F.nobjs + 1 >= MAXOBJ)
        return 0;
    uint32_t id = ++F.nobjs;
    mobj *m = &F.objs[id];
    memset(m, 0, sizeof *m);
    m->addr = o;
    m->kind = kind;
    m->len = len;
    W(o, 1) = id;
    if (kind == K_NODE) {
        W(o, 2) = ~(uint64_t)id;
    } else {
        m->salt = (uint32_t)mix(id);
        for (uint32_t i = 0; i < len; i++)
            ((uint8_t *)o)[16 + i] = pay(id, m->salt, i);
    }
    return id;
}

/* Global slots are read with rtgc_load and written with rtgc_store (they
 * are scanned after every thread, [rt.invariant]); frame slots are the
 * thread's own, scanned at its root handshake. */
static void *root_get(rtgc_thread *t, int r) {
    return r < NGLOBAL ? rtgc_load(t, &F.roots[r]) : F.fslots[r - NGLOBAL];
}
static void root_set(rtgc_thread *t, int r, void *v, uint32_t id) {
    if (r < NGLOBAL)
        rtgc_store(t, NULL, &F.roots[r], v);
    else
        F.fslots[r - NGLOBAL] = v;
    F.root_id[r] = id;
}

/* Check one object against the model (no recursion: the walk pushes). */
static void check_obj(rtgc_thread *t, void *o, uint32_t id, const char *where) {
    if (id == 0 || id > F.nobjs)
        FAIL("%s: bad model id %u", where, id);
    mobj *m = &F.objs[id];
    if (o != m->addr)
        FAIL("%s: object %u at %p, expected at %p", where, id, o, m->addr);
    uint64_t hdr = rtgc_object_header(o);
    rtgc_layout_id want = m->kind == K_NODE ? F.node : F.bytes;
    if (rtgc_header_layout(hdr) != want || (m->kind == K_BYTES && rtgc_header_count(hdr) != m->len))
        FAIL("%s: object %u at %p has header %#llx (freed and reused?)", where, id, o, (unsigned long long)hdr);
    if (W(o, 1) != id)
        FAIL("%s: object %u at %p has id %llu", where, id, o, (unsigned long long)W(o, 1));
    if (m->kind == K_NODE) {
        if (W(o, 2) != ~(uint64_t)id)
            FAIL("%s: node %u: check word overwritten", where, id);
    } else {
        for (uint32_t i = 0; i < m->len; i++)
            if (((uint8_t *)o)[16 + i] != pay(id, m->salt, i))
                FAIL("%s: bytes %u (len %u): payload byte %u is wrong", where, id, m->len, i);
    }
    (void)t;
}

static uint32_t stack_[MAXOBJ];
static void *stackp_[MAXOBJ];

/* Walk everything reachable from the roots, checking each object. */
static void walk(rtgc_thread *t) {
    F.epoch++;
    size_t sp = 0;
    for (int r = 0; r < NROOTS; r++) {
        void *v = root_get(t, r);
        uint32_t id = F.root_id[r];
        if ((v == NULL) != (id == 0))
            FAIL("root %d holds %p, the model says id %u", r, v, id);
        if (id && F.objs[id].seen != F.epoch) {
            F.objs[id].seen = F.epoch;
            stack_[sp] = id, stackp_[sp++] = v;
        }
    }
    while (sp) {
        sp--;
        uint32_t id = stack_[sp];
        void *o = stackp_[sp];
        check_obj(t, o, id, "walk");
        mobj *m = &F.objs[id];
        if (m->kind != K_NODE)
            continue;
        for (int k = 0; k < 2; k++) {
            void *c = rtgc_load(t, (void **)&W(o, 3 + k));
            uint32_t cid = m->f[k];
            if ((c == NULL) != (cid == 0))
                FAIL("node %u field %d holds %p, the model says id %u", id, k, c, cid);
            if (cid && F.objs[cid].seen != F.epoch) {
                F.objs[cid].seen = F.epoch;
                stack_[sp] = cid, stackp_[sp++] = c;
            }
        }
    }
}

static void check_all(rtgc_thread *t, const char *why) {
    size_t bad = rtgc_verify(t);
    if (bad)
        FAIL("after %s: rtgc_verify found %zu problems", why, bad);
    if (__atomic_load_n(&F.errors, __ATOMIC_SEQ_CST))
        FAIL("after %s: %ld errors reported", why, F.errors);
    walk(t);
}

/* A finished cycle since the last check: check now. */
static void maybe_check(rtgc_thread *t) {
    rtgc_stats s;
    rtgc_get_stats(F.h, &s);
    if (s.cycles != F.cycles_checked) {
        F.cycles_checked = s.cycles;
        check_all(t, "a cycle");
    }
}

static void *alloc_checked(rtgc_thread *t, uint32_t kind, uint32_t len) {
    long ooms = __atomic_load_n(&F.ooms, __ATOMIC_SEQ_CST);
    size_t size = kind == K_NODE ? 40 : 16 + (size_t)len;
    void *o = kind == K_NODE ? rtgc_alloc(t, F.node) : rtgc_alloc_array(t, F.bytes, len);
    if (!o) {
        if (__atomic_load_n(&F.ooms, __ATOMIC_SEQ_CST) == ooms)
            FAIL("allocation of %zu bytes returned NULL without calling the OOM handler", size);
        check_all(t, "a failed allocation"); /* the heap stays consistent */
        return NULL;
    }
    if (size > F.heap_limit)
        FAIL("an allocation of %zu bytes succeeded in a heap of %zu", size, F.heap_limit);
    for (size_t i = 8; i < size; i++)
        if (((uint8_t *)o)[i])
            FAIL("new object of %zu bytes is not zeroed at %zu", size, i);
    return o;
}

/* ---- the helper thread ---- */

typedef struct helper {
    int slot;
    uint32_t ids[HELPER_LEN];
    void *head;
    int ok;
} helper;

static void *helper_main(void *arg) {
    helper *hp = arg;
    rtgc_error err;
    rtgc_thread *t = rtgc_thread_attach(F.h, &err);
    if (!t)
        FAIL("helper: attach: %s", err.message);
    RTGC_FRAME(t, fr, 1);
    void *prev = NULL;
    int n = 0;
    for (int i = 0; i < HELPER_LEN; i++) {
        void *o = rtgc_alloc(t, F.node);
        if (!o)
            break;                  /* out of memory: the list is shorter */
        rtgc_store(t, o, (void **)&W(o, 3), prev);
        W(o, 1) = 0;                /* ids are given by the main thread (the model is its own) */
        fr[0] = o;
        prev = o;
        hp->ids[n++] = 0;
        rtgc_poll(t);
    }
    hp->head = prev;
    hp->ok = n;
    /* Publish into the root slot before detaching. */
    rtgc_store(t, NULL, &F.roots[hp->slot], prev);
    RTGC_FRAME_POP(t, fr);
    if (rtgc_thread_detach(t) != RTGC_OK)
        FAIL("helper: detach failed");
    return NULL;
}

static void run_helper(rtgc_thread *t, int slot) {
    helper hp = {.slot = slot};
    pthread_t th;
    rtgc_enter_blocking(t);
    if (pthread_create(&th, NULL, helper_main, &hp) != 0) {
        rtgc_leave_blocking(t);
        return;
    }
    pthread_join(th, NULL);
    rtgc_leave_blocking(t);
    /* Adopt the list into the model, head first: the model's ids are
     * written now (plain words the collector does not follow). */
    void *o = rtgc_load(t, &F.roots[slot]);
    if ((o != NULL) != (hp.ok > 0))
        FAIL("helper published %p after %d allocations", o, hp.ok);
    uint32_t next_id = 0, head_id = 0;
    /* Walk from the head (the last allocated) to the first: give ids from the tail up. */
    void *chain[HELPER_LEN];
    int n = 0;
    for (void *p = o; p && n < HELPER_LEN; p = rtgc_load(t, (void **)&W(p, 3)))
        chain[n++] = p;
    if (n != hp.ok)
        FAIL("helper's list has %d nodes, it allocated %d", n, hp.ok);
    for (int i = n - 1; i >= 0; i--) {
        uint32_t id = new_id(chain[i], K_NODE, 0);
        if (!id) {                      /* model full: drop the list */
            root_set(t, slot, NULL, 0);
            return;
        }
        F.objs[id].f[0] = next_id;
        next_id = id;
        head_id = id;
    }
    F.root_id[slot] = head_id;
}

/* ---- the driver ---- */

static const char *const modes[4] = {"stw", "incremental", "step", "concurrent"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    memset(&F, 0, sizeof F);
    char opts[160];
    int mode = data[0] & 3;
    int verify = data[1] & 1, stress = (data[1] >> 1) & 7;
    F.heap_limit = (data[0] & 4) ? 3u << 20 : 2u << 20;
    unsigned budget_us = (data[1] & 0x10) ? 20 : 200;  /* short slices: more interleaving */
    snprintf(opts, sizeof opts, "mode=%s,heap=%zu,budget=%uus,verify=%d,stress=%d,pause_log=16",
             modes[mode], F.heap_limit, budget_us, verify, stress ? 13 * stress : 0);
    rtgc_config cfg;
    rtgc_error err;
    rtgc_config_init(&cfg);
    if (rtgc_config_parse(&cfg, opts, &err) != RTGC_OK)
        FAIL("options %s: %s", opts, err.message);
    if (rtgc_heap_create(&cfg, &F.h, &err) != RTGC_OK)
        FAIL("heap_create %s: %s", opts, err.message);
    rtgc_set_error_handler(F.h, on_error, NULL);
    rtgc_set_oom_handler(F.h, on_oom, NULL);
    static const uint32_t node_refs[] = {24, 32};
    rtgc_layout nl = {.name = "fuzz.node", .kind = RTGC_LAYOUT_RECORD, .size = 40,
                      .ref_offsets = node_refs, .ref_count = 2};
    rtgc_layout bl = {.name = "fuzz.bytes", .kind = RTGC_LAYOUT_BYTES, .size = 16, .elem_size = 1};
    if (rtgc_layout_register(F.h, &nl, &F.node, &err) || rtgc_layout_register(F.h, &bl, &F.bytes, &err))
        FAIL("layout: %s", err.message);
    if (rtgc_root_range_add(F.h, F.roots, NGLOBAL) != RTGC_OK)
        FAIL("root range");
    rtgc_thread *t = rtgc_thread_attach(F.h, &err);
    if (!t)
        FAIL("attach: %s", err.message);
    rtgc_frame_push(t, &F.frame, F.fslots, NROOTS - NGLOBAL);

    for (size_t i = 2; i + 1 < size; i += 2) {
        uint8_t op = data[i], a = data[i + 1];
        int r = a % NROOTS, r2 = (a >> 4) % NROOTS, k = (a >> 3) & 1;
        switch (op % 16) {
        case 0: case 1: case 2: {              /* allocate a node */
            void *o = alloc_checked(t, K_NODE, 0);
            if (o) {
                uint32_t id = new_id(o, K_NODE, 0);
                root_set(t, r, id ? o : NULL, id);
            }
            break;
        }
        case 3: {                              /* a byte array: small, large, or too large */
            uint32_t len = op < 128 ? (uint32_t)a * 3 : op < 224 ? 33000u + (uint32_t)a * 700u
                                                                 : (uint32_t)F.heap_limit + a;
            void *o = alloc_checked(t, K_BYTES, len);
            if (o) {
                uint32_t id = new_id(o, K_BYTES, len);
                root_set(t, r, id ? o : NULL, id);
            }
            break;
        }
        case 4: case 5: case 6: {              /* link: root r's node field k := root r2 */
            uint32_t id = F.root_id[r];
            if (!id || F.objs[id].kind != K_NODE)
                break;
            void *o = root_get(t, r);
            rtgc_store(t, o, (void **)&W(o, 3 + k), root_get(t, r2));
            F.objs[id].f[k] = F.root_id[r2];
            break;
        }
        case 7: {                              /* unlink */
            uint32_t id = F.root_id[r];
            if (!id || F.objs[id].kind != K_NODE)
                break;
            void *o = root_get(t, r);
            rtgc_store(t, o, (void **)&W(o, 3 + k), NULL);
            F.objs[id].f[k] = 0;
            break;
        }
        case 8:                                /* copy or clear a root */
            if (op & 16)
                root_set(t, r, NULL, 0);
            else
                root_set(t, r, root_get(t, r2), F.root_id[r2]);
            break;
        case 9: {                              /* follow a path of loads, root the end */
            uint32_t id = F.root_id[r];
            void *o = root_get(t, r);
            for (int d = 0; id && d < (op >> 4) && F.objs[id].kind == K_NODE; d++) {
                int kk = (a >> d) & 1;
                if (!F.objs[id].f[kk])
                    break;
                o = rtgc_load(t, (void **)&W(o, 3 + kk));
                id = F.objs[id].f[kk];
                check_obj(t, o, id, "path");
            }
            root_set(t, r2, o, id);
            break;
        }
        case 10:                               /* collect */
            rtgc_collect(t);
            maybe_check(t);
            check_all(t, "rtgc_collect");
            break;
        case 11:                               /* step */
            rtgc_step(t, 20000 + (uint64_t)a * 2000);
            break;
        case 12:                               /* a blocking section */
            rtgc_enter_blocking(t);
            rtgc_leave_blocking(t);
            rtgc_poll(t);
            break;
        case 13:                               /* detach and attach again */
            for (int j = NGLOBAL; j < NROOTS; j++) /* the frame goes with the thread */
                F.root_id[j] = 0;
            rtgc_frame_pop(t, &F.frame);
            if (rtgc_thread_detach(t) != RTGC_OK)
                FAIL("detach failed");
            t = rtgc_thread_attach(F.h, &err);
            if (!t)
                FAIL("attach again: %s", err.message);
            rtgc_frame_push(t, &F.frame, F.fslots, NROOTS - NGLOBAL);
            break;
        case 14:                               /* a helper thread, publishing into a global slot */
            run_helper(t, r % NGLOBAL);
            break;
        case 15: {                             /* rewrite a payload */
            uint32_t id = F.root_id[r];
            if (!id || F.objs[id].kind != K_BYTES)
                break;
            mobj *m = &F.objs[id];
            uint8_t *o = root_get(t, r);
            m->salt = (uint32_t)mix(m->salt + a + 1);
            for (uint32_t j = 0; j < m->len; j++)
                o[16 + j] = pay(id, m->salt, j);
            break;
        }
        }
        rtgc_poll(t);
        maybe_check(t);
    }
    rtgc_collect(t);
    check_all(t, "the last collection");
    for (int r = 0; r < NROOTS; r++)
        root_set(t, r, NULL, 0);
    rtgc_frame_pop(t, &F.frame);
    rtgc_collect(t);
    rtgc_stats s;
    rtgc_get_stats(F.h, &s);
    if (s.live_objects != 0)
        FAIL("no roots, yet %zu objects live", s.live_objects);
    if (rtgc_thread_detach(t) != RTGC_OK)
        FAIL("final detach failed");
    rtgc_root_range_remove(F.h, F.roots);
    rtgc_heap_destroy(F.h);
    return 0;
}

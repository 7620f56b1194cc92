/* bench/macro/stw_pause.c - how long a stop-the-world collection of a large
 * live heap takes.
 *
 *   stw-pause --live=SIZE [--heap=SIZE] [--shape=tree|list|array] [--runs=N] [--options=STR]
 *
 * Builds about SIZE bytes of live data in a heap with "mode=stw,heap=HEAP"
 * (HEAP defaults to 3 x SIZE), keeps it reachable from a shadow-stack root,
 * then runs rtgc_collect N times (default 3).  For each run it prints the
 * pause from the library's own record (cause RTGC_CAUSE_COLLECT: wall time
 * and the collector's CPU work inside it), the same pause timed around the
 * call (wall and process CPU), the phases of the pause from the library's
 * events (pre: stopping the world and finishing the previous cycle's lazy
 * sweep; mark: RTGC_EV_MARK_START to RTGC_EV_MARK_END), the counters of
 * rtgc_get_stats, and the marking throughput (live MiB per second of pause
 * and per second of the mark phase).  On these shared machines the wall time
 * can be stretched by the platform; wall >> work says so.
 *
 * Shapes, all of 32-byte objects, hung from one REF_ARRAY root:
 *   tree   complete binary trees of depth 16 (4 MiB each; smaller trees for a
 *          small SIZE), built bottom-up
 *   list   one singly linked list: marking is a serial pointer chase
 *   array  REF_ARRAYs of 1023 references (8 KiB) to leaf records: wide fan-out
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rtgc.h>

#define OBJ 32u             /* bytes of every small object */
#define TREE_DEPTH_MAX 16u  /* 2^17 - 1 nodes = 4 MiB per tree */
#define CHUNK_REFS 1023u    /* references per REF_ARRAY chunk of the array shape */
#define MIB (1024.0 * 1024.0)

typedef struct tnode { /* tree node */
    uint64_t header;
    struct tnode *left, *right;
    uint64_t value;
} tnode;

typedef struct lnode { /* list node */
    uint64_t header;
    struct lnode *next;
    uint64_t value, pad;
} lnode;

typedef struct leaf { /* no references */
    uint64_t header;
    uint64_t a, b, c;
} leaf;

typedef struct refarray {
    uint64_t header;
    void *slot[];
} refarray;

enum shape { SHAPE_TREE, SHAPE_LIST, SHAPE_ARRAY };
static const char *const shape_names[] = {"tree", "list", "array"};

typedef struct world {
    rtgc_heap *heap;
    rtgc_thread *t;
    rtgc_layout_id tnode, lnode, leaf, refs;
    uint64_t objects, bytes; /* what the build allocated and keeps live */
} world;

static const char *prog = "stw-pause";

/* Times of the last cycle's events (CLOCK_MONOTONIC, as the records). */
typedef struct phases {
    uint64_t cycle_start, mark_start, mark_end;
} phases;

static void on_event(rtgc_heap *heap, const rtgc_event *ev, void *data) {
    phases *p = data;
    if (ev->kind == RTGC_EV_CYCLE_START)
        p->cycle_start = ev->time_ns;
    else if (ev->kind == RTGC_EV_MARK_START)
        p->mark_start = ev->time_ns;
    else if (ev->kind == RTGC_EV_MARK_END)
        p->mark_end = ev->time_ns;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: %s --live=SIZE [--heap=SIZE] [--shape=tree|list|array] [--runs=N] [--options=STR]\n"
            "  --live=SIZE   bytes of live data to build, e.g. 100M, 1G (suffixes K M G T)\n"
            "  --heap=SIZE   heap limit (default 3 x live, at least 1M)\n"
            "  --shape=NAME  tree (default), list or array\n"
            "  --runs=N      collections to time (default 3, at most 1000)\n"
            "  --options=STR more heap options (rtgc_config_parse), e.g. threads=2\n",
            prog);
}

static void bad(const char *fmt, const char *arg) {
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    usage(stderr);
    exit(2);
}

static void die(const char *what) {
    fprintf(stderr, "%s: %s\n", prog, what);
    exit(1);
}

static uint64_t clock_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *alloc_or_die(world *w, rtgc_layout_id id, uint32_t count) {
    void *p = count ? rtgc_alloc_array(w->t, id, count) : rtgc_alloc(w->t, id);
    if (p == NULL) {
        rtgc_stats s;
        rtgc_get_stats(w->heap, &s);
        fprintf(stderr,
                "%s: out of memory after building %.1f MiB (heap_size %.1f MiB, limit %.1f MiB);"
                " try a larger --heap\n",
                prog, (double)w->bytes / MIB, (double)s.heap_size / MIB, (double)s.heap_limit / MIB);
        exit(1);
    }
    w->objects++;
    w->bytes += rtgc_layout_object_size(w->heap, id, count);
    return p;
}

/* A complete binary tree of the given depth, built bottom-up: the children
 * stay rooted in a shadow-stack frame while their parent is allocated. */
static tnode *build_tree(world *w, unsigned depth) {
    rtgc_thread *t = w->t;
    RTGC_FRAME(t, r, 2);
    if (depth > 0) {
        r[0] = build_tree(w, depth - 1);
        r[1] = build_tree(w, depth - 1);
    }
    tnode *n = alloc_or_die(w, w->tnode, 0);
    rtgc_store(t, n, (void **)&n->left, r[0]);
    rtgc_store(t, n, (void **)&n->right, r[1]);
    n->value = depth;
    RTGC_FRAME_POP(t, r);
    return n;
}

/* Builds about `live` bytes under r[0] (the top REF_ARRAY). */
static void build(world *w, enum shape shape, size_t live, void **r) {
    rtgc_thread *t = w->t;
    refarray *top;

    switch (shape) {
    case SHAPE_TREE: {
        /* Trees of 4 MiB, smaller when that leaves fewer than 8 of them, so
         * the total is within 1/16 of `live`. */
        unsigned depth = TREE_DEPTH_MAX;
        while (depth > 0 && live / ((((uint64_t)2 << depth) - 1) * OBJ) < 8)
            depth--;
        uint64_t tree_bytes = (((uint64_t)2 << depth) - 1) * OBJ;
        uint64_t k = (live + tree_bytes / 2) / tree_bytes;
        if (k == 0)
            k = 1;
        r[0] = alloc_or_die(w, w->refs, (uint32_t)k);
        for (uint64_t i = 0; i < k; i++) {
            tnode *n = build_tree(w, depth);
            top = r[0];
            rtgc_store(t, top, &top->slot[i], n);
        }
        break;
    }
    case SHAPE_LIST: {
        uint64_t k = live / OBJ;
        r[0] = alloc_or_die(w, w->refs, 1);
        for (uint64_t i = 0; i < k; i++) {
            lnode *n = alloc_or_die(w, w->lnode, 0);
            top = r[0];
            n->value = i;
            rtgc_store(t, n, (void **)&n->next, top->slot[0]);
            rtgc_store(t, top, &top->slot[0], n);
        }
        break;
    }
    case SHAPE_ARRAY: {
        uint64_t chunk_bytes = rtgc_layout_object_size(w->heap, w->refs, CHUNK_REFS) +
                               (uint64_t)CHUNK_REFS * OBJ;
        uint64_t k = (live + chunk_bytes / 2) / chunk_bytes;
        if (k == 0)
            k = 1;
        RTGC_FRAME(t, c, 1);
        r[0] = alloc_or_die(w, w->refs, (uint32_t)k);
        for (uint64_t i = 0; i < k; i++) {
            c[0] = alloc_or_die(w, w->refs, CHUNK_REFS);
            for (uint32_t j = 0; j < CHUNK_REFS; j++) {
                leaf *l = alloc_or_die(w, w->leaf, 0);
                refarray *chunk = c[0];
                l->a = j;
                rtgc_store(t, chunk, &chunk->slot[j], l);
            }
            top = r[0];
            rtgc_store(t, top, &top->slot[i], c[0]);
        }
        RTGC_FRAME_POP(t, c);
        break;
    }
    }
}

static int parse_size_arg(const char *text, size_t *out) {
    return *text != '\0' && rtgc_parse_size(text, out) == RTGC_OK && *out > 0;
}

static void layout(world *w, const char *name, rtgc_layout_kind kind, size_t size, uint64_t bitmap,
                   rtgc_layout_id *id) {
    rtgc_layout l;
    rtgc_error err;
    memset(&l, 0, sizeof l);
    l.name = name;
    l.kind = kind;
    l.size = size;
    l.ref_bitmap = bitmap;
    if (rtgc_layout_register(w->heap, &l, id, &err) != RTGC_OK) {
        fprintf(stderr, "%s: layout %s: %s (%s)\n", prog, name, err.message, err.field);
        exit(1);
    }
}

int main(int argc, char **argv) {
    size_t live = 0, heap = 0;
    enum shape shape = SHAPE_TREE;
    long runs = 3;
    const char *more = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strncmp(a, "--live=", 7) == 0) {
            if (!parse_size_arg(a + 7, &live))
                bad("bad size in '%s'", a);
        } else if (strncmp(a, "--heap=", 7) == 0) {
            if (!parse_size_arg(a + 7, &heap))
                bad("bad size in '%s'", a);
        } else if (strncmp(a, "--shape=", 8) == 0) {
            unsigned s;
            for (s = 0; s < 3 && strcmp(a + 8, shape_names[s]) != 0; s++)
                ;
            if (s == 3)
                bad("unknown shape in '%s'", a);
            shape = (enum shape)s;
        } else if (strncmp(a, "--options=", 10) == 0) {
            more = a + 10;
        } else if (strncmp(a, "--runs=", 7) == 0) {
            char *end;
            errno = 0;
            runs = strtol(a + 7, &end, 10);
            if (errno || end == a + 7 || *end != '\0' || runs < 1 || runs > 1000)
                bad("bad count in '%s' (1 to 1000)", a);
        } else {
            bad("unknown argument '%s'", a);
        }
    }
    if (live == 0)
        bad("%s", "--live=SIZE is required");

    /* The heap. */
    world w;
    rtgc_config cfg;
    rtgc_error err;
    char opts[512];
    memset(&w, 0, sizeof w);
    memset(&err, 0, sizeof err);
    rtgc_config_init(&cfg);
    if (rtgc_config_parse(&cfg, "mode=stw", &err) != RTGC_OK)
        die(err.message);
    if (heap == 0) {
        heap = live > SIZE_MAX / 3 ? SIZE_MAX : live * 3;
        if (heap < RTGC_HEAP_LIMIT_MIN)
            heap = RTGC_HEAP_LIMIT_MIN;
    }
    cfg.heap_limit = heap;
    if (more && rtgc_config_parse(&cfg, more, &err) != RTGC_OK) {
        fprintf(stderr, "%s: --options: %s\n", prog, err.message);
        usage(stderr);
        return 2;
    }
    /* A limit below the default min_trigger (4M) fails validation unless
     * min_trigger comes down with it. */
    if (cfg.min_trigger > heap)
        cfg.min_trigger = heap;
    if (rtgc_heap_create(&cfg, &w.heap, &err) != RTGC_OK) {
        fprintf(stderr, "%s: heap: %s: %s%s%s\n", prog, rtgc_status_name(err.status), err.message,
                err.field[0] ? ", field " : "", err.field);
        if (err.status == RTGC_EINVAL) {
            usage(stderr);
            return 2;
        }
        return 1;
    }
    layout(&w, "tnode", RTGC_LAYOUT_RECORD, sizeof(tnode), (1u << 1) | (1u << 2), &w.tnode);
    layout(&w, "lnode", RTGC_LAYOUT_RECORD, sizeof(lnode), 1u << 1, &w.lnode);
    layout(&w, "leaf", RTGC_LAYOUT_RECORD, sizeof(leaf), 0, &w.leaf);
    layout(&w, "refs", RTGC_LAYOUT_REF_ARRAY, RTGC_HEADER_BYTES, 0, &w.refs);
    w.t = rtgc_thread_attach(w.heap, &err);
    if (w.t == NULL)
        die(err.message);
    rtgc_config_format(rtgc_heap_config(w.heap), opts, sizeof opts);
    printf("stw-pause: libgc %s, shape=%s, live=%.1f MiB, runs=%ld\n", rtgc_version(),
           shape_names[shape], (double)live / MIB, runs);
    printf("options: %s\n", opts);

    /* Build. */
    rtgc_thread *t = w.t;
    RTGC_FRAME(t, r, 1);
    uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
    build(&w, shape, live, r);
    uint64_t t1 = clock_ns(CLOCK_MONOTONIC);
    rtgc_stats st;
    rtgc_get_stats(w.heap, &st);
    printf("built %" PRIu64 " objects, %.1f MiB in %.2f s (%" PRIu64 " collections during the build)\n",
           w.objects, (double)w.bytes / MIB, (double)(t1 - t0) / 1e9, st.cycles);

    /* Skip the records of the build. */
    rtgc_pause_record rec[256];
    uint64_t next = 0;
    size_t got;
    while (rtgc_pause_records(w.heap, next, rec, 256, &next) > 0)
        ;

    phases ph;
    memset(&ph, 0, sizeof ph);
    rtgc_set_event_handler(w.heap, on_event, &ph);

    printf("%-4s %9s %9s %9s %9s %9s %9s %9s %10s %9s %10s %7s %10s\n", "run", "pause_ms",
           "work_ms", "call_ms", "cpu_ms", "pre_ms", "mark_ms", "live_MiB", "live_objs", "heap_MiB",
           "commit_MiB", "MiB/s", "mark_MiB/s");
    double sum_pause = 0, max_pause = 0;
    int status = 0;
    for (long run = 1; run <= runs; run++) {
        memset(&ph, 0, sizeof ph);
        uint64_t c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_ns(CLOCK_MONOTONIC);
        rtgc_collect(t);
        uint64_t w1 = clock_ns(CLOCK_MONOTONIC), c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);

        uint64_t wall = 0, work = 0, nrec = 0;
        while ((got = rtgc_pause_records(w.heap, next, rec, 256, &next)) > 0)
            for (size_t i = 0; i < got; i++)
                if (rec[i].cause == RTGC_CAUSE_COLLECT && rec[i].thread == rtgc_thread_id(t)) {
                    wall += rec[i].wall_ns;
                    work += rec[i].work_ns;
                    nrec++;
                }
        rtgc_get_stats(w.heap, &st);
        if (nrec != 1) {
            fprintf(stderr, "%s: run %ld: %" PRIu64 " pause records of cause collect (expected 1)\n",
                    prog, run, nrec);
            status = 1;
        }
        if (st.live_bytes < w.bytes) {
            fprintf(stderr, "%s: run %ld: live_bytes %zu below the %" PRIu64 " bytes kept reachable\n",
                    prog, run, st.live_bytes, w.bytes);
            status = 1;
        }
        double live_mib = (double)st.live_bytes / MIB;
        uint64_t pre = ph.mark_start > ph.cycle_start ? ph.mark_start - ph.cycle_start : 0;
        uint64_t mark = ph.mark_end > ph.mark_start ? ph.mark_end - ph.mark_start : 0;
        printf("%-4ld %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %9.1f %10zu %9.1f %10.1f %7.0f %10.0f\n",
               run, (double)wall / 1e6, (double)work / 1e6, (double)(w1 - w0) / 1e6,
               (double)(c1 - c0) / 1e6, (double)pre / 1e6, (double)mark / 1e6, live_mib,
               st.live_objects, (double)st.heap_size / MIB, (double)st.committed / MIB,
               wall ? live_mib / ((double)wall / 1e9) : 0.0,
               mark ? live_mib / ((double)mark / 1e9) : 0.0);
        sum_pause += (double)wall / 1e6;
        if ((double)wall / 1e6 > max_pause)
            max_pause = (double)wall / 1e6;
    }
    printf("mean pause %.2f ms, max %.2f ms over %ld runs"
           " (rtgc_get_stats, build included: pause_max %.2f ms, pause_work_max %.2f ms)\n",
           sum_pause / (double)runs, max_pause, runs, (double)st.pause_max_ns / 1e6,
           (double)st.pause_work_max_ns / 1e6);
    printf("markers %u in the last run; objects traced by helpers %llu (%.0f%% of all marked, build included)\n",
           st.markers, (unsigned long long)st.helper_objects,
           100.0 * (double)st.helper_objects / (double)(st.live_objects ? st.live_objects : 1) /
               (double)(runs + 1));
    fflush(stdout);

    rtgc_set_event_handler(w.heap, NULL, NULL);
    RTGC_FRAME_POP(t, r);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(w.heap);
    return status;
}

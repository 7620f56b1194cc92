/* gc/verify.c - the heap verifier (STYLE item 10).
 *
 * Both walks run with the world stopped.
 *
 * [verify.closure] verify_marked, right after marking: every root and
 * every reference field of a marked object points at a marked, allocated
 * object.  With the roots marked, that closure is exactly "every reachable
 * object is live": nothing the sweep will free is reachable.
 *
 * verify_heap, at any safepoint: every allocated object has a registered
 * layout whose size fits its cell; every reference in a root or in an
 * allocated object points at the start of an allocated object; every free
 * cell has header 0 and (check builds) intact poison, so a write through a
 * dangling reference is caught.  [mark.noscan] Every object in a noscan
 * span has a layout allowed there (layout_noscan_ok), every block's
 * block_noscan byte says what its span is, and every thread's span and
 * free list of a span class are of that class.  "Allocated" in a span not yet swept for
 * the last cycle means marked by it; the rest of such a span is garbage
 * waiting for the sweeper and is not inspected.
 *
 * Each problem is reported through the error handler (at most 20 in full);
 * the return value counts them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_REPORTS 20

typedef struct verifier {
    rtgc_visitor v;
    rtgc_heap *h;
    size_t problems;
    bool want_marked;          /* closure check: targets must be marked */
    const void *from;          /* object being checked, NULL for roots */
    void *missed;              /* the first object marking missed */
} verifier;

static void problem(verifier *vf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(verifier *vf, const char *fmt, ...) {
    if (vf->problems++ >= MAX_REPORTS)
        return;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rtgc__report(vf->h, RTGC_ESTATE, "verify: %s", msg);
}

/* Swept against the last finished cycle's marks?  A span a thread still
 * owns can be stale too: in the concurrent cycle a thread keeps its spans
 * from the end of marking until it serves MARK_OFF, and the dead objects in
 * them are only found by the sweep after that. */
static bool span_swept(const rtgc_heap *h, const span *s) {
    return s->cls == SPAN_LARGE || s->swept_cycle == h->cycle;
}

/* Is obj the start of an allocated object? */
static bool allocated(rtgc_heap *h, const void *obj, const char **why) {
    if ((uintptr_t)obj & (RTGC_OBJECT_ALIGN - 1)) { *why = "is not 16-byte aligned"; return false; }
    span *s = span_of(h, obj);
    if (!s) { *why = "points into a free block"; return false; }
    if (s->cls == SPAN_LARGE ? (const char *)obj != s->base : cell_start(s, obj) != (const char *)obj) {
        *why = "points into the middle of an object";
        return false;
    }
    uint64_t hdr = rtgc_object_header(obj);
    if (hdr == 0) { *why = "points at a free cell"; return false; }
    if (!span_swept(h, s) && *mark_byte(h, obj) != h->epoch) {
        static const char *phases[] = {"idle", "sweep", "mark-on", "roots", "trace", "terminate", "weak", "finalize", "mark-off"};
        _Static_assert(sizeof phases / sizeof *phases == PHASE_MARK_OFF + 1, "a name for every phase");
        static _Thread_local char buf[160];
        snprintf(buf, sizeof buf, "points at an unmarked object in a span not yet swept (phase %s, cycle %lu, span swept %lu, mark %u, epoch %u)",
                 phases[h->phase], (unsigned long)h->cycle, (unsigned long)s->swept_cycle, *mark_byte(h, obj), h->epoch);
        *why = buf;
        return false;
    }
    return true;
}

static void check_ref(rtgc_visitor *v, void **slot) {
    verifier *vf = (verifier *)v;
    void *p = *slot;
    if (!rtgc_is_ref(p) || !in_heap(vf->h, p))
        return;
    const char *why = NULL;
    if (!allocated(vf->h, p, &why)) {
        if (vf->from) {
            span *fs = span_of(vf->h, vf->from);
            problem(vf, "object %p (%s, mark %u, span swept %lu, owner %p) slot +%td holds %p, which %s", vf->from, layout_of(vf->h, vf->from)->name,
                    *mark_byte(vf->h, vf->from), (unsigned long)fs->swept_cycle, (void *)fs->owner,
                    (char *)slot - (char *)vf->from, p, why);
        }
        else
            problem(vf, "root slot %p holds %p, which %s", (void *)slot, p, why);
        return;
    }
    if (vf->want_marked && *mark_byte(vf->h, p) != vf->h->epoch) {
        if (!vf->missed)
            vf->missed = p;
        if (vf->from)
            problem(vf, "marked object %p (%s) slot +%td points at unmarked %p (%s): marking missed it", vf->from,
                    layout_of(vf->h, vf->from)->name, (char *)slot - (char *)vf->from, p, layout_of(vf->h, p)->name);
        else
            problem(vf, "root slot %p points at unmarked %p (%s): marking missed it", (void *)slot, p,
                    layout_of(vf->h, p)->name);
    }
}

static void check_object(verifier *vf, const void *obj, size_t room, bool noscan) {
    uint64_t hdr = rtgc_object_header(obj);
    rtgc_layout_id id = rtgc_header_layout(hdr);
    if (id == 0 || id >= __atomic_load_n(&vf->h->nlayouts, __ATOMIC_ACQUIRE)) {
        problem(vf, "object %p has a corrupt header %#" PRIx64 " (layout id %u)", obj, hdr, (unsigned)id);
        return;
    }
    const layout_desc *d = &vf->h->layouts[id];
    size_t size = object_size(d, d->kind == RTGC_LAYOUT_RECORD ? 0 : rtgc_header_count(hdr));
    if (size > room) {
        problem(vf, "object %p (%s) claims %zu bytes but its cell holds %zu", obj, d->name, size, room);
        return;
    }
    if (noscan && !layout_noscan_ok(d)) {   /* the marker would not trace it [mark.noscan] */
        problem(vf, "object %p (%s) is in a noscan span but its layout has references", obj, d->name);
        return;
    }
    vf->from = obj;
    trace_object(vf->h, (void *)obj, &vf->v);
    vf->from = NULL;
}

static void check_free_cell(verifier *vf, const span *s, const char *c) {
    if (RTGC_CHECK < 2 || s->owner)
        return;                  /* an owned span's free list may be mid-use */
    for (size_t i = 16; i < s->cell_size; i++) {
        if ((uint8_t)c[i] != POISON_BYTE) {
            problem(vf, "free cell %p (%u bytes) was written at +%zu after it was freed (use after free)",
                    (const void *)c, s->cell_size, i);
            return;
        }
    }
}

/* [mark.noscan] The marker's table agrees with the span, and a span's
 * class with its flag. */
static void check_span_noscan(verifier *vf, const span *s) {
    rtgc_heap *h = vf->h;
    uint8_t want = span_noscan_byte(s);
    size_t b = block_index(h, s->base);
    for (size_t i = 0; i < s->nblocks; i++)
        if (h->block_noscan[b + i] != want)
            problem(vf, "block %zu of span %p reads block_noscan %u, want %u", b + i, (void *)s->base,
                    h->block_noscan[b + i], want);
    if (s->cls != SPAN_LARGE && (s->sc != span_class(s->cls, s->noscan)))
        problem(vf, "span %p of size class %u (noscan %d) has span class %u", (void *)s->base, s->cls,
                s->noscan, s->sc);
}

/* Each thread's span of span class sc is of that class, owned by it, and
 * its free list (the head is checked) lies in that span. */
static void check_thread_spans(verifier *vf) {
    for (rtgc_thread *t = vf->h->threads; t; t = t->next) {
        for (unsigned sc = 0; sc < SPAN_CLASSES; sc++) {
            const span *s = t->own[sc];
            void *head = *thread_free(t, sc);
            if (!s) {
                if (head)
                    problem(vf, "thread %u has a free list of span class %u but no span", t->id, sc);
                continue;
            }
            if (s->sc != sc || s->owner != t)
                problem(vf, "thread %u's span %p of span class %u has class %u, owner %p", t->id,
                        (void *)s->base, sc, s->sc, (void *)s->owner);
            else if (head && span_of(vf->h, head) != s)
                problem(vf, "thread %u's free list of span class %u starts at %p, outside its span %p", t->id,
                        sc, head, (void *)s->base);
        }
    }
}

static void walk(rtgc_heap *h, verifier *vf) {
    check_thread_spans(vf);
    for (size_t b = 0; b < h->nblocks; b++) {
        span *s = h->block_span[b];
        if (!s || s->base != h->base + b * BLOCK_SIZE)
            continue;
        check_span_noscan(vf, s);
        if (s->cls == SPAN_LARGE) {
            if (!vf->want_marked || *mark_byte(h, s->base) == h->epoch)
                check_object(vf, s->base, span_bytes(s), s->noscan);
            continue;
        }
        bool swept = span_swept(h, s);
        for (size_t i = 0; i < s->nthreaded; i++) {
            const char *c = s->base + i * s->cell_size;
            bool marked = *mark_byte(h, c) == h->epoch;
            if (*(const uint64_t *)c == 0) {
                if (swept)
                    check_free_cell(vf, s, c);
                continue;
            }
            if (vf->want_marked ? marked : (swept || marked))
                check_object(vf, c, s->cell_size, s->noscan);
        }
    }
}

/* ---- the path to a missed object (check mode) ----
 * A breadth-first search from the roots, with each object's parent in an
 * open-addressing table, finds how the missed object is reachable; it is
 * reported root first.  It gives up after PATH_MAX_OBJECTS objects. */
#define PATH_MAX_OBJECTS ((size_t)1 << 22)

typedef struct path_search {
    rtgc_visitor v;
    rtgc_heap *h;
    void **keys, **parents;      /* parents[i] is the parent of keys[i]; (void *)1 marks a root */
    void ***root_slot;           /* the root slot, for objects found from a root */
    size_t cap;
    void **queue;
    size_t qhead, qtail;
    void *parent;                /* object being traced, NULL while visiting roots */
    void **slot;                 /* the root slot being visited */
    bool overflow;
} path_search;

static size_t path_slot(path_search *ps, void *obj) {
    size_t i = ((uintptr_t)obj >> 4) * 0x9e3779b97f4a7c15ull & (ps->cap - 1);
    while (ps->keys[i] && ps->keys[i] != obj)
        i = (i + 1) & (ps->cap - 1);
    return i;
}

static void path_visit(rtgc_visitor *v, void **slot) {
    path_search *ps = (path_search *)v;
    void *p = *slot;
    const char *why;
    if (!rtgc_is_ref(p) || !in_heap(ps->h, p) || !allocated(ps->h, p, &why))
        return;
    size_t i = path_slot(ps, p);
    if (ps->keys[i])
        return;
    if (ps->qtail >= ps->cap / 2) {
        ps->overflow = true;
        return;
    }
    ps->keys[i] = p;
    ps->parents[i] = ps->parent ? ps->parent : (void *)1;
    ps->root_slot[i] = ps->parent ? NULL : slot;
    ps->queue[ps->qtail++] = p;
}

static void report_path(rtgc_heap *h, void *missed) {
    path_search ps = {.v.visit = path_visit, .h = h, .cap = PATH_MAX_OBJECTS * 2};
    ps.keys = calloc(ps.cap, sizeof *ps.keys);
    ps.parents = calloc(ps.cap, sizeof *ps.parents);
    ps.root_slot = calloc(ps.cap, sizeof *ps.root_slot);
    ps.queue = malloc(ps.cap / 2 * sizeof *ps.queue);
    if (!ps.keys || !ps.parents || !ps.root_slot || !ps.queue) {
        rtgc__report(h, RTGC_ESTATE, "verify: no memory to search for the path to %p", missed);
        goto out;
    }
    roots_visit_globals(h, &ps.v);
    for (rtgc_thread *t = h->threads; t; t = t->next)
        roots_visit_thread(h, t, &ps.v, NULL);
    bool found = ps.keys[path_slot(&ps, missed)] != NULL;
    while (!found && ps.qhead < ps.qtail) {
        ps.parent = ps.queue[ps.qhead++];
        trace_object(h, ps.parent, &ps.v);
        found = ps.keys[path_slot(&ps, missed)] != NULL;
    }
    if (!found) {
        rtgc__report(h, RTGC_ESTATE, "verify: no path from the roots to %p found%s", missed,
                     ps.overflow ? " (the search gave up)" : "");
        goto out;
    }
    /* Walk back to the root, then print root first. */
    char path[1024];
    size_t len = 0;
    void *chain[64];
    size_t depth = 0;
    for (void *o = missed; o != (void *)1 && depth < 64; o = ps.parents[path_slot(&ps, o)])
        chain[depth++] = o;
    void **rs = ps.root_slot[path_slot(&ps, chain[depth - 1])];
    len += (size_t)snprintf(path + len, sizeof path - len, "root slot %p", (void *)rs);
    for (size_t k = depth; k-- > 0 && len < sizeof path;)
        len += (size_t)snprintf(path + len, sizeof path - len, " -> %p (%s%s)", chain[k],
                                layout_of(h, chain[k])->name, *mark_byte(h, chain[k]) == h->epoch ? "" : ", unmarked");
    rtgc__report(h, RTGC_ESTATE, "verify: path to the missed object%s: %s", depth == 64 ? " (last 64 hops)" : "", path);
out:
    free(ps.keys);
    free(ps.parents);
    free(ps.root_slot);
    free(ps.queue);
}

size_t verify_marked(rtgc_heap *h) {
    verifier vf = {.v.visit = check_ref, .h = h, .problems = 0, .want_marked = true, .from = NULL};
    roots_visit_globals(h, &vf.v);
    for (rtgc_thread *t = h->threads; t; t = t->next)
        roots_visit_thread(h, t, &vf.v, NULL);
    walk(h, &vf);
    if (vf.problems) {
        rtgc__report(h, RTGC_ESTATE, "verify: %zu problem(s) after marking in cycle %" PRIu64, vf.problems,
                     (uint64_t)h->cycle + 1);
        if (vf.missed)
            report_path(h, vf.missed);
    }
    return vf.problems;
}

size_t verify_heap(rtgc_heap *h) {
    verifier vf = {.v.visit = check_ref, .h = h, .problems = 0, .want_marked = false, .from = NULL};
    pthread_mutex_lock(&h->lock);
    roots_visit_globals(h, &vf.v);
    for (rtgc_thread *t = h->threads; t; t = t->next)
        roots_visit_thread(h, t, &vf.v, NULL);
    walk(h, &vf);
    pthread_mutex_unlock(&h->lock);
    if (vf.problems)
        rtgc__report(h, RTGC_ESTATE, "verify: %zu problem(s) in the heap", vf.problems);
    return vf.problems;
}

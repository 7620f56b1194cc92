/* gc/roots.c - precise roots: global ranges, global handles, root
 * callbacks, and per thread the shadow-stack frames, the handle stack and
 * the VM's stack scanner.
 *
 * [roots.slices] A stack scanner works in slices of ROOT_SLICE_SLOTS slots:
 * the collector calls it with the cursor it left until it reports done, so
 * no single call visits an unbounded number of slots.  In the stop-the-world
 * collector all slices of a scan run inside one stop; the concurrent
 * collector spreads them over handshakes.
 *
 * [roots.ghandle] A free global-handle slot holds (next_free << 1) | 1: an
 * immediate, which the marker ignores, so scanning needs no free map.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- global ranges ---- */

rtgc_status rtgc_root_range_add(rtgc_heap *h, void **slots, size_t count) {
    if (!slots && count) {
        rtgc__misuse(h, "rtgc_root_range_add: slots is NULL");
        return RTGC_EINVAL;
    }
    pthread_mutex_lock(&h->lock);
    if (h->nranges == h->cap_ranges) {
        size_t cap = h->cap_ranges ? 2 * h->cap_ranges : 16;
        root_range *r = realloc(h->ranges, cap * sizeof *r);
        if (!r) {
            pthread_mutex_unlock(&h->lock);
            return RTGC_ENOMEM;
        }
        h->ranges = r;
        h->cap_ranges = cap;
    }
    h->ranges[h->nranges].slots = slots;
    h->ranges[h->nranges].count = count;
    h->nranges++;
    pthread_mutex_unlock(&h->lock);
    return RTGC_OK;
}

rtgc_status rtgc_root_range_remove(rtgc_heap *h, void **slots) {
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->nranges; i++) {
        if (h->ranges[i].slots == slots) {
            h->ranges[i] = h->ranges[--h->nranges];
            pthread_mutex_unlock(&h->lock);
            return RTGC_OK;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return RTGC_EINVAL;             /* not registered: a status, not a misuse report */
}

/* ---- global root callbacks ---- */

rtgc_status rtgc_root_callback_add(rtgc_heap *h, rtgc_root_fn fn, void *data) {
    if (!fn)
        return RTGC_EINVAL;
    pthread_mutex_lock(&h->lock);
    if (h->nroot_cbs == h->cap_root_cbs) {
        size_t cap = h->cap_root_cbs ? 2 * h->cap_root_cbs : 8;
        root_cb *r = realloc(h->root_cbs, cap * sizeof *r);
        if (!r) {
            pthread_mutex_unlock(&h->lock);
            return RTGC_ENOMEM;
        }
        h->root_cbs = r;
        h->cap_root_cbs = cap;
    }
    h->root_cbs[h->nroot_cbs].fn = fn;
    h->root_cbs[h->nroot_cbs].data = data;
    h->nroot_cbs++;
    pthread_mutex_unlock(&h->lock);
    return RTGC_OK;
}

rtgc_status rtgc_root_callback_remove(rtgc_heap *h, rtgc_root_fn fn, void *data) {
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->nroot_cbs; i++) {
        if (h->root_cbs[i].fn == fn && h->root_cbs[i].data == data) {
            memmove(&h->root_cbs[i], &h->root_cbs[i + 1], (h->nroot_cbs - i - 1) * sizeof *h->root_cbs);
            h->nroot_cbs--;
            pthread_mutex_unlock(&h->lock);
            return RTGC_OK;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return RTGC_EINVAL;
}

/* ---- global handles ---- */

void **rtgc_global_handle_new(rtgc_heap *h, void *obj) {
    pthread_mutex_lock(&h->lock);
    if (!h->ghandle_free) {
        void ***chunks = realloc(h->ghandle_chunks, (h->nghandle_chunks + 1) * sizeof *chunks);
        void **chunk = chunks ? malloc(HANDLE_CHUNK * sizeof *chunk) : NULL;
        if (chunks)
            h->ghandle_chunks = chunks;
        if (!chunk) {
            pthread_mutex_unlock(&h->lock);
            return NULL;
        }
        size_t base = h->nghandle_chunks * HANDLE_CHUNK;
        h->ghandle_chunks[h->nghandle_chunks++] = chunk;
        for (size_t i = HANDLE_CHUNK; i-- > 0;) {
            chunk[i] = (void *)h->ghandle_free;
            h->ghandle_free = ((base + i + 1) << 1) | 1;  /* index + 1, so 0 stays "empty" */
        }
    }
    size_t idx = (h->ghandle_free >> 1) - 1;
    void **slot = &h->ghandle_chunks[idx / HANDLE_CHUNK][idx % HANDLE_CHUNK];
    h->ghandle_free = (uintptr_t)*slot;
    *slot = obj;
    pthread_mutex_unlock(&h->lock);
    return slot;
}

void rtgc_global_handle_free(rtgc_heap *h, void **handle) {
    pthread_mutex_lock(&h->lock);
    for (size_t c = 0; c < h->nghandle_chunks; c++) {
        void **chunk = h->ghandle_chunks[c];
        if (handle >= chunk && handle < chunk + HANDLE_CHUNK) {
            size_t idx = c * HANDLE_CHUNK + (size_t)(handle - chunk);
            *handle = (void *)h->ghandle_free;
            h->ghandle_free = ((idx + 1) << 1) | 1;
            pthread_mutex_unlock(&h->lock);
            return;
        }
    }
    pthread_mutex_unlock(&h->lock);
    rtgc__misuse(h, "rtgc_global_handle_free: %p is not a global handle", (void *)handle);
}

void roots_visit_embedder_globals(rtgc_heap *h, rtgc_visitor *v) {
    for (size_t r = 0; r < h->nranges; r++)
        for (size_t i = 0; i < h->ranges[r].count; i++)
            v->visit(v, &h->ranges[r].slots[i]);
    for (size_t c = 0; c < h->nghandle_chunks; c++)
        for (size_t i = 0; i < HANDLE_CHUNK; i++)
            v->visit(v, &h->ghandle_chunks[c][i]);
    for (size_t i = 0; i < h->nroot_cbs; i++)
        h->root_cbs[i].fn(h, v, h->root_cbs[i].data);
}

void roots_visit_globals(rtgc_heap *h, rtgc_visitor *v) {
    roots_visit_embedder_globals(h, v);
    weak_visit_roots(h, v);              /* queued finalizable objects */
}

void roots_fini(rtgc_heap *h) {
    free(h->ranges);
    free(h->root_cbs);
    for (size_t c = 0; c < h->nghandle_chunks; c++)
        free(h->ghandle_chunks[c]);
    free(h->ghandle_chunks);
}

/* ---- per-thread handles ---- */

rtgc_handle_mark rtgc_handles_mark(rtgc_thread *t) {
    if (!thread_ok(t, "rtgc_handles_mark"))
        return 0;
    return t->handle_top;
}

void **rtgc_handle(rtgc_thread *t, void *obj) {
    if (!thread_ok(t, "rtgc_handle"))
        return NULL;
    if (t->handle_top == t->handle_cap) {
        handle_chunk *c = malloc(sizeof *c);
        if (!c)
            return NULL;
        c->prev = t->handles;
        t->handles = c;
        t->handle_cap += HANDLE_CHUNK;
    }
    /* The chunk holding index i: chunks are newest first, each HANDLE_CHUNK slots. */
    size_t i = t->handle_top++;
    handle_chunk *c = t->handles;
    for (size_t first = t->handle_cap - HANDLE_CHUNK; i < first; first -= HANDLE_CHUNK)
        c = c->prev;
    void **slot = &c->slots[i % HANDLE_CHUNK];
    *slot = obj;
    return slot;
}

void rtgc_handles_release(rtgc_thread *t, rtgc_handle_mark mark) {
    if (!thread_ok(t, "rtgc_handles_release"))
        return;
    if (mark > t->handle_top) {
        rtgc__misuse(t->heap, "rtgc_handles_release: mark %zu is above the %zu handles in use", mark,
                     t->handle_top);
        return;
    }
    t->handle_top = mark;
}

void handles_free(rtgc_thread *t) {
    for (handle_chunk *c = t->handles, *n; c; c = n) {
        n = c->prev;
        free(c);
    }
    t->handles = NULL;
    t->handle_top = t->handle_cap = 0;
}

/* ---- per-thread roots ---- */

void rtgc_thread_set_stack_scanner(rtgc_thread *t, rtgc_stack_scan_fn fn, void *data) {
    if (!thread_ok(t, "rtgc_thread_set_stack_scanner"))
        return;
    t->scanner = fn;
    t->scanner_data = data;
}

void roots_visit_direct(rtgc_thread *t, rtgc_visitor *v) {
    for (rtgc_frame *f = t->fast.frames; f; f = f->prev)
        for (size_t i = 0; i < f->count; i++)
            v->visit(v, &f->slots[i]);
    /* Chunks are newest first; chunk k (from the oldest) holds handles
     * [k*HANDLE_CHUNK, (k+1)*HANDLE_CHUNK); those below handle_top are live. */
    size_t k = t->handle_cap / HANDLE_CHUNK;
    for (handle_chunk *c = t->handles; c; c = c->prev) {
        k--;
        size_t first = k * HANDLE_CHUNK;
        size_t n = t->handle_top > first ? t->handle_top - first : 0;
        if (n > HANDLE_CHUNK)
            n = HANDLE_CHUNK;
        for (size_t i = 0; i < n; i++)
            v->visit(v, &c->slots[i]);
    }
}

bool roots_scan_slice(rtgc_thread *t, rtgc_root_scan *scan, uint64_t slots) {
    if (!t->scanner)
        return false;
    scan->slice_limit = scan->slots_visited + slots;
    return t->scanner(t, scan, t->scanner_data) != 0;
}

void roots_visit_thread(rtgc_heap *h, rtgc_thread *t, rtgc_visitor *v, uint64_t *slices) {
    (void)h;
    roots_visit_direct(t, v);
    if (t->scanner) {
        rtgc_root_scan scan = {.visitor = v, .cursor = 0, .slots_visited = 0, .slice_limit = 0};
        bool more;
        do {
            more = roots_scan_slice(t, &scan, ROOT_SLICE_SLOTS);
            if (slices)
                (*slices)++;
        } while (more);
    }
}

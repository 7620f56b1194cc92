/* gc/mark.c - marking: the mark stack, tracing by layout, the mark visitor.
 *
 * [mark.tricolour] White: mark byte != epoch.  Grey: mark byte == epoch and
 * the object is on the mark stack.  Black: mark byte == epoch and off the
 * stack (traced).  mark_object() shades: it sets the mark byte and pushes;
 * mark_drain() blackens until the stack is empty.  With the world stopped
 * (this file's only caller today), an empty stack after the roots have
 * been shaded means every reachable object is black.
 *
 * References outside the heap's reservation are left alone (an embedder
 * may point at static objects).  Check builds validate every reference
 * into the heap: it must be the start of an allocated object.
 */
#include <stdlib.h>

#include "internal.h"

typedef struct mark_visitor_s {
    rtgc_visitor v;
    rtgc_heap *h;
} mark_visitor_s;

static void mark_visit(rtgc_visitor *v, void **slot) {
    void *p = *slot;
    if (rtgc_is_ref(p))
        mark_object(((mark_visitor_s *)v)->h, p);
}

static _Thread_local mark_visitor_s tl_visitor;

rtgc_visitor *mark_visitor(rtgc_heap *h) {
    tl_visitor.v.visit = mark_visit;
    tl_visitor.h = h;
    return &tl_visitor.v;
}

void mark_init(rtgc_heap *h) {
    h->mstack.top = NULL;
    h->mstack.spare = NULL;
}

void mark_fini(rtgc_heap *h) {
    for (mark_chunk *c = h->mstack.top, *n; c; c = n) {
        n = c->prev;
        free(c);
    }
    free(h->mstack.spare);
    h->mstack.top = h->mstack.spare = NULL;
}

static void push(rtgc_heap *h, void *obj) {
    mark_chunk *c = h->mstack.top;
    if (!c || c->n == MARK_CHUNK) {
        mark_chunk *nc = h->mstack.spare;
        if (nc)
            h->mstack.spare = NULL;
        else if (!(nc = malloc(sizeof *nc)))
            rtgc__fatal("out of memory for the mark stack");
        nc->prev = c;
        nc->n = 0;
        h->mstack.top = c = nc;
    }
    c->objs[c->n++] = obj;
}

static void *pop(rtgc_heap *h) {
    mark_chunk *c = h->mstack.top;
    if (!c)
        return NULL;
    if (c->n == 0) {
        h->mstack.top = c->prev;
        free(h->mstack.spare);
        h->mstack.spare = c;
        c = h->mstack.top;
        if (!c)
            return NULL;
    }
    return c->objs[--c->n];
}

static void bad_reference(rtgc_heap *h, void *obj, const char *why) {
    rtgc__fatal("marking found a reference %p that %s (a root or field holds something that is not an object)",
                obj, why);
}

static bool valid_object(rtgc_heap *h, void *obj) {
    if ((uintptr_t)obj & (RTGC_OBJECT_ALIGN - 1)) {
        bad_reference(h, obj, "is not 16-byte aligned");
        return false;
    }
    span *s = span_of(h, obj);
    if (!s) {
        bad_reference(h, obj, "points into a free block");
        return false;
    }
    if (s->cls == SPAN_LARGE ? (char *)obj != s->base : cell_start(s, obj) != (char *)obj) {
        bad_reference(h, obj, "points into the middle of a cell");
        return false;
    }
    uint64_t hdr = rtgc_object_header(obj);
    if (hdr == 0 || rtgc_header_layout(hdr) >= h->nlayouts) {
        bad_reference(h, obj, hdr == 0 ? "points at a free cell (freed too early?)" : "has a corrupt header");
        return false;
    }
    return true;
}

void mark_object(rtgc_heap *h, void *obj) {
    if (!in_heap(h, obj))
        return;
    if (RTGC_CHECK >= 2 && !valid_object(h, obj))
        return;
    uint8_t *mb = mark_byte(h, obj);
    if (*mb == h->epoch)
        return;
    *mb = h->epoch;
    push(h, obj);
}

/* Visit every reference slot of obj with v. */
void trace_object(rtgc_heap *h, void *obj, rtgc_visitor *v) {
    uint64_t hdr = rtgc_object_header(obj);
    const layout_desc *d = &h->layouts[rtgc_header_layout(hdr)];
    void **words = (void **)obj;
    if (d->kind == RTGC_LAYOUT_CUSTOM) {
        d->trace(obj, v, d->trace_data);
        return;
    }
    for (uint64_t bm = d->bitmap; bm; bm &= bm - 1)
        v->visit(v, &words[__builtin_ctzll(bm)]);
    for (size_t i = 0; i < d->noffsets; i++)
        v->visit(v, (void **)((char *)obj + d->offsets[i]));
    if (d->kind == RTGC_LAYOUT_REF_ARRAY) {
        void **elems = (void **)((char *)obj + d->fixed_size);
        uint32_t n = rtgc_header_count(hdr);
        for (uint32_t i = 0; i < n; i++)
            v->visit(v, &elems[i]);
    }
}

/* The marking visitor inlined for the common kinds. */
static void scan_object(rtgc_heap *h, void *obj) {
    uint64_t hdr = rtgc_object_header(obj);
    const layout_desc *d = &h->layouts[rtgc_header_layout(hdr)];
    uint32_t count = rtgc_header_count(hdr);
    h->marked_objects++;
    h->marked_bytes += object_size(d, d->kind == RTGC_LAYOUT_RECORD ? 0 : count);
    if (d->kind == RTGC_LAYOUT_CUSTOM) {
        d->trace(obj, mark_visitor(h), d->trace_data);
        return;
    }
    void **words = (void **)obj;
    for (uint64_t bm = d->bitmap; bm; bm &= bm - 1) {
        void *p = words[__builtin_ctzll(bm)];
        if (rtgc_is_ref(p))
            mark_object(h, p);
    }
    for (size_t i = 0; i < d->noffsets; i++) {
        void *p = *(void **)((char *)obj + d->offsets[i]);
        if (rtgc_is_ref(p))
            mark_object(h, p);
    }
    if (d->kind == RTGC_LAYOUT_REF_ARRAY) {
        void **elems = (void **)((char *)obj + d->fixed_size);
        for (uint32_t i = 0; i < count; i++) {
            void *p = elems[i];
            if (rtgc_is_ref(p))
                mark_object(h, p);
        }
    }
}

void mark_drain(rtgc_heap *h) {
    void *obj;
    while ((obj = pop(h)))
        scan_object(h, obj);
}

void mark_roots(rtgc_heap *h) {
    rtgc_visitor *v = mark_visitor(h);
    roots_visit_globals(h, v);
    for (rtgc_thread *t = h->threads; t; t = t->next)
        roots_visit_thread(h, t, v, NULL);
}

/* rtgc/alloc.h - allocation.
 *
 * rtgc_alloc / rtgc_alloc_array are the fast path: a pop from the calling
 * thread's free list for the size class, a header store and the zeroing of
 * the body.  About 7 instructions plus the zeroing when the list has a cell:
 *     load free[cls]; test; jz slow; load cell[1]; store free[cls];
 *     store header; (zero size-8 bytes)
 * Everything else (taking a swept span, sweeping one lazily, growing the
 * heap, starting a collection, large objects, out of memory) is the slow
 * path rtgc_alloc_slow, out of line.  Objects come back zeroed.
 *
 * Objects allocated while marking is on are born marked (the spans a thread
 * allocates from during marking have their free cells pre-marked), so the
 * fast path needs no test of the collector's phase.
 *
 * Out of memory: when a full collection cannot make room under the heap
 * limit, the handler set with rtgc_set_oom_handler is called and the
 * allocation returns NULL.  The heap stays consistent and usable.
 */
#ifndef RTGC_ALLOC_H
#define RTGC_ALLOC_H

#include "rtgc/defs.h"
#include <string.h>
#include "rtgc/layout.h"
#include "rtgc/mutator.h"

RTGC_BEGIN_DECLS

/* Out of line: the whole allocation, checks included. */
void *rtgc_alloc_slow(rtgc_thread *t, rtgc_layout_id layout, uint32_t count, size_t size);

#if defined(RTGC_CHECK) && RTGC_CHECK
void rtgc_check_thread(rtgc_thread *t, const char *where);
#define RTGC_CHECK_THREAD(t, where) rtgc_check_thread((t), (where))
#else
#define RTGC_CHECK_THREAD(t, where) ((void)0)
#endif

static RTGC_ALWAYS_INLINE void *rtgc_alloc_sized(rtgc_thread *t, rtgc_layout_id layout,
                                                 uint32_t count, size_t size) {
    struct rtgc_mutator *m = rtgc_mutator_of(t);
    RTGC_CHECK_THREAD(t, "rtgc_alloc");
    if (RTGC_LIKELY(size <= RTGC_SMALL_MAX)) {
        unsigned cls = rtgc_size_class(size);
        void **cell = (void **)m->free[cls];
        if (RTGC_LIKELY(cell != NULL)) {
            m->free[cls] = cell[1];
            memset(cell + 1, 0, size - RTGC_HEADER_BYTES);
            *(uint64_t *)cell = RTGC_HEADER(layout, count);
            return cell;
        }
    }
    return rtgc_alloc_slow(t, layout, count, size);
}

/* A RECORD (or any layout with count 0). */
static RTGC_ALWAYS_INLINE void *rtgc_alloc(rtgc_thread *t, rtgc_layout_id layout) {
    size_t size = rtgc_mutator_of(t)->layouts[layout].fixed_size;
    return rtgc_alloc_sized(t, layout, 0, size);
}

/* A variable-size object with `count` elements. */
static RTGC_ALWAYS_INLINE void *rtgc_alloc_array(rtgc_thread *t, rtgc_layout_id layout,
                                                 uint32_t count) {
    const rtgc_layout_info *li = &rtgc_mutator_of(t)->layouts[layout];
    size_t size = (size_t)li->fixed_size + (size_t)count * li->elem_size;
    return rtgc_alloc_sized(t, layout, count, size);
}

typedef void (*rtgc_oom_fn)(rtgc_heap *heap, size_t request, void *data);
/* Called (on the allocating thread, outside any pause) when an allocation of
 * `request` bytes fails after a full collection; the allocation returns NULL. */
void rtgc_set_oom_handler(rtgc_heap *heap, rtgc_oom_fn fn, void *data);

RTGC_END_DECLS
#endif

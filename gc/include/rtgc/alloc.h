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
 * rtgc_alloc_uninit / rtgc_alloc_array_uninit skip the zeroing, for objects
 * without references whose bytes the caller writes at once (see below).
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

/* Out of line: the whole allocation, checks included.  The _uninit entry
 * is the same code without the zeroing; it refuses layouts with references. */
void *rtgc_alloc_slow(rtgc_thread *t, rtgc_layout_id layout, uint32_t count, size_t size);
void *rtgc_alloc_uninit_slow(rtgc_thread *t, rtgc_layout_id layout, uint32_t count, size_t size);

#if defined(RTGC_CHECK) && RTGC_CHECK
void rtgc_check_thread(rtgc_thread *t, const char *where);
#define RTGC_CHECK_THREAD(t, where) rtgc_check_thread((t), (where))
#else
#define RTGC_CHECK_THREAD(t, where) ((void)0)
#endif

/* The fast path of both kinds of allocation; `zero` is a constant at every
 * call, so each inlines to its own shape. */
static RTGC_ALWAYS_INLINE void *rtgc__alloc_fast(rtgc_thread *t, rtgc_layout_id layout, uint32_t count,
                                                 size_t size, int zero) {
    struct rtgc_mutator *m = rtgc_mutator_of(t);
    RTGC_CHECK_THREAD(t, zero ? "rtgc_alloc" : "rtgc_alloc_uninit");
    if (RTGC_LIKELY(size <= RTGC_SMALL_MAX)) {
        unsigned cls = rtgc_size_class(size);
        void **cell = (void **)m->free[cls];
        if (RTGC_LIKELY(cell != NULL)) {
            m->free[cls] = cell[1];
            if (zero)
                memset(cell + 1, 0, size - RTGC_HEADER_BYTES);
            *(uint64_t *)cell = RTGC_HEADER(layout, count);
            return cell;
        }
    }
    return zero ? rtgc_alloc_slow(t, layout, count, size) : rtgc_alloc_uninit_slow(t, layout, count, size);
}

/* An object of `size` bytes (header included) with `count` elements: the
 * size must be the layout's for that count. */
static RTGC_ALWAYS_INLINE void *rtgc_alloc_sized(rtgc_thread *t, rtgc_layout_id layout,
                                                 uint32_t count, size_t size) {
    return rtgc__alloc_fast(t, layout, count, size, 1);
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

/* UNINITIALISED ALLOCATION.  As rtgc_alloc_array, but only the header word
 * is written: the rest of the object holds whatever its memory held (bytes
 * of a dead object, the free list's link in word 1, check builds' 0xdb
 * poison, zeroes).  For objects the caller fills at once (a string copied
 * in, a message buffer written whole), where the zeroing is wasted work.
 *
 * Only for POINTER-FREE layouts: a BYTES or RECORD layout with no
 * reference offset and no bitmap bit.  The collector never reads such an
 * object's body, so garbage in it is safe; in a reference slot it would
 * not be.  Any other layout (REF_ARRAY, CUSTOM, one with reference slots)
 * is refused: the call is reported as misuse (rtgc_set_error_handler) and
 * returns NULL.  The fast path is rtgc_alloc's with one more test (the
 * layout's pointer_free flag) and no zeroing; large objects skip it too. */
static RTGC_ALWAYS_INLINE void *rtgc_alloc_array_uninit(rtgc_thread *t, rtgc_layout_id layout,
                                                        uint32_t count) {
    const rtgc_layout_info *li = &rtgc_mutator_of(t)->layouts[layout];
    size_t size = (size_t)li->fixed_size + (size_t)count * li->elem_size;
    if (RTGC_UNLIKELY(!li->pointer_free))
        return rtgc_alloc_uninit_slow(t, layout, count, size);   /* refused there */
    return rtgc__alloc_fast(t, layout, count, size, 0);
}

/* A pointer-free RECORD (or any pointer-free layout with count 0), uninitialised. */
static RTGC_ALWAYS_INLINE void *rtgc_alloc_uninit(rtgc_thread *t, rtgc_layout_id layout) {
    return rtgc_alloc_array_uninit(t, layout, 0);
}

typedef void (*rtgc_oom_fn)(rtgc_heap *heap, size_t request, void *data);
/* Called (on the allocating thread, outside any pause) when an allocation of
 * `request` bytes fails after a full collection; the allocation returns NULL. */
void rtgc_set_oom_handler(rtgc_heap *heap, rtgc_oom_fn fn, void *data);

RTGC_END_DECLS
#endif

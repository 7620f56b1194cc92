/* rtgc/alloc.h - allocation.
 *
 * rtgc_alloc / rtgc_alloc_array are the fast path: a pop from the calling
 * thread's free list for the size class, a header store and the zeroing of
 * the body.  About 7 instructions plus the zeroing when the list has a cell:
 *     load free[cls]; test; jz slow; load cell[1]; store free[cls];
 *     store header; (zero size-8 bytes)
 * and, for rtgc_alloc / rtgc_alloc_array, the choice of the list set (below):
 * one load of the layout's pointer_free beside the size it already reads,
 * and one test of it.
 * Everything else (taking a swept span, sweeping one lazily, growing the
 * heap, starting a collection, large objects, out of memory) is the slow
 * path, out of line.  Objects come back zeroed.
 *
 * rtgc_alloc_uninit / rtgc_alloc_array_uninit skip the zeroing, for objects
 * without references whose bytes the caller writes at once (see below).
 *
 * NOSCAN SPANS [mark.noscan].  A thread has two sets of free lists: `free`,
 * cells of ordinary spans, and `free_noscan`, cells of noscan spans, which
 * hold objects of pointer-free layouts only (no reference slot, no trace
 * callback: rtgc_layout_info.pointer_free).  The marker marks an object in
 * a noscan span without pushing it or reading any of it.  rtgc_alloc,
 * rtgc_alloc_array and the _uninit calls take a pointer-free layout's cells
 * from free_noscan; rtgc_alloc_sized (the size given, as JIT code knows it)
 * does not look the layout up and always uses `free`: such objects are
 * still marked correctly, only through the mark stack.  Large objects of a
 * pointer-free layout get a noscan span whichever call made them.
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

/* Out of line: the whole allocation, checks included.  rtgc_alloc_slow
 * refills `free` (rtgc_alloc_sized, and JIT code through rtgc_slow_paths);
 * rtgc_alloc_noscan_slow refills `free_noscan` and zeroes; the _uninit
 * entry refills `free_noscan` without the zeroing.  The last two refuse
 * layouts with references (misuse, NULL). */
void *rtgc_alloc_slow(rtgc_thread *t, rtgc_layout_id layout, uint32_t count, size_t size);
void *rtgc_alloc_noscan_slow(rtgc_thread *t, rtgc_layout_id layout, uint32_t count, size_t size);
void *rtgc_alloc_uninit_slow(rtgc_thread *t, rtgc_layout_id layout, uint32_t count, size_t size);

#if defined(RTGC_CHECK) && RTGC_CHECK
void rtgc_check_thread(rtgc_thread *t, const char *where);
#define RTGC_CHECK_THREAD(t, where) rtgc_check_thread((t), (where))
#else
#define RTGC_CHECK_THREAD(t, where) ((void)0)
#endif

/* The fast path of every kind of allocation; `zero` is a constant at every
 * call, so each inlines to its own shape.  `noscan` picks the list set: a
 * constant for rtgc_alloc_sized and the _uninit calls, the layout's
 * pointer_free for rtgc_alloc and rtgc_alloc_array (one test of a word
 * beside the size, which picks the lists' base; then the same pop). */
static RTGC_ALWAYS_INLINE void *rtgc__alloc_fast(rtgc_thread *t, rtgc_layout_id layout, uint32_t count,
                                                 size_t size, int zero, uint32_t noscan) {
    struct rtgc_mutator *m = rtgc_mutator_of(t);
    RTGC_CHECK_THREAD(t, zero ? "rtgc_alloc" : "rtgc_alloc_uninit");
    if (RTGC_LIKELY(size <= RTGC_SMALL_MAX)) {
        unsigned cls = rtgc_size_class(size);
        void **lists = noscan ? m->free_noscan : m->free;
        void **cell = (void **)lists[cls];
        if (RTGC_LIKELY(cell != NULL)) {
            lists[cls] = cell[1];
            if (zero)
                memset(cell + 1, 0, size - RTGC_HEADER_BYTES);
            *(uint64_t *)cell = RTGC_HEADER(layout, count);
            return cell;
        }
    }
    if (!zero)
        return rtgc_alloc_uninit_slow(t, layout, count, size);
    return noscan ? rtgc_alloc_noscan_slow(t, layout, count, size) : rtgc_alloc_slow(t, layout, count, size);
}

/* An object of `size` bytes (header included) with `count` elements: the
 * size must be the layout's for that count.  From the ordinary lists
 * (`free`) whatever the layout: this path reads no layout. */
static RTGC_ALWAYS_INLINE void *rtgc_alloc_sized(rtgc_thread *t, rtgc_layout_id layout,
                                                 uint32_t count, size_t size) {
    return rtgc__alloc_fast(t, layout, count, size, 1, 0);
}

/* A RECORD (or any layout with count 0).  A pointer-free one comes from a
 * noscan span. */
static RTGC_ALWAYS_INLINE void *rtgc_alloc(rtgc_thread *t, rtgc_layout_id layout) {
    const rtgc_layout_info *li = &rtgc_mutator_of(t)->layouts[layout];
    return rtgc__alloc_fast(t, layout, 0, li->fixed_size, 1, li->pointer_free);
}

/* A variable-size object with `count` elements.  A pointer-free one (BYTES)
 * comes from a noscan span. */
static RTGC_ALWAYS_INLINE void *rtgc_alloc_array(rtgc_thread *t, rtgc_layout_id layout,
                                                 uint32_t count) {
    const rtgc_layout_info *li = &rtgc_mutator_of(t)->layouts[layout];
    size_t size = (size_t)li->fixed_size + (size_t)count * li->elem_size;
    return rtgc__alloc_fast(t, layout, count, size, 1, li->pointer_free);
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
 * layout's pointer_free flag) and no zeroing; large objects skip it too.
 * The cells come from noscan spans (free_noscan) [mark.noscan]. */
static RTGC_ALWAYS_INLINE void *rtgc_alloc_array_uninit(rtgc_thread *t, rtgc_layout_id layout,
                                                        uint32_t count) {
    const rtgc_layout_info *li = &rtgc_mutator_of(t)->layouts[layout];
    size_t size = (size_t)li->fixed_size + (size_t)count * li->elem_size;
    if (RTGC_UNLIKELY(!li->pointer_free))
        return rtgc_alloc_uninit_slow(t, layout, count, size);   /* refused there */
    return rtgc__alloc_fast(t, layout, count, size, 0, 1);
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

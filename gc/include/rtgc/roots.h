/* rtgc/roots.h - precise roots.
 *
 * Four kinds, all precise (a root slot holds NULL, an object pointer or an
 * immediate with its low bit set):
 *
 * 1. Global ranges: arrays of slots in static or malloc'd memory, registered
 *    once.  The collector reads them while it scans roots; in the
 *    concurrent modes it does so while mutators run, so read global slots
 *    with rtgc_load and write them with rtgc_store (obj NULL).  The same
 *    holds for global handles and for slots a root callback visits.
 * 2. Shadow-stack frames, the cheapest roots for C code: an array of slots
 *    on the C stack linked into the thread's frame chain.
 *        void *r[3];
 *        rtgc_frame f;
 *        rtgc_frame_push(t, &f, r, 3);      // zeroes r
 *        r[0] = rtgc_alloc(t, pair);
 *        ...
 *        rtgc_frame_pop(t, &f);
 *    or, in one line, RTGC_FRAME(t, r, 3) ... RTGC_FRAME_POP(t, r).
 *    Frames pop in LIFO order.
 * 3. Handles: slots in a per-thread handle stack that never move;
 *    rtgc_handle() returns the slot, rtgc_handles_release(t, mark) pops back
 *    to a mark taken with rtgc_handles_mark().  Global handles
 *    (rtgc_global_handle_new/free) live until freed, on any thread.
 * 4. Scanner callbacks: a per-thread stack scanner for a VM's own stack,
 *    which can do its work in slices (see rtgc_stack_scan_fn), and global
 *    root callbacks.
 */
#ifndef RTGC_ROOTS_H
#define RTGC_ROOTS_H

#include "rtgc/defs.h"
#include <string.h>
#include "rtgc/layout.h"
#include "rtgc/mutator.h"

RTGC_BEGIN_DECLS

/* --- global ranges --- */
rtgc_status rtgc_root_range_add(rtgc_heap *heap, void **slots, size_t count);
/* RTGC_EINVAL when `slots` is not a registered range. */
rtgc_status rtgc_root_range_remove(rtgc_heap *heap, void **slots);

/* --- shadow-stack frames --- */
static inline void rtgc_frame_push(rtgc_thread *t, rtgc_frame *f, void **slots, size_t count) {
    struct rtgc_mutator *m = rtgc_mutator_of(t);
    memset(slots, 0, count * sizeof *slots);
    f->slots = slots;
    f->count = count;
    f->prev = m->frames;
    m->frames = f;
}
static inline void rtgc_frame_pop(rtgc_thread *t, rtgc_frame *f) {
    rtgc_mutator_of(t)->frames = f->prev;
}
#define RTGC_FRAME(t, name, n)  \
    void *name[n];              \
    rtgc_frame name##_frame_;   \
    rtgc_frame_push((t), &name##_frame_, name, (n))
#define RTGC_FRAME_POP(t, name) rtgc_frame_pop((t), &name##_frame_)

/* --- handles --- */
typedef size_t rtgc_handle_mark;
rtgc_handle_mark rtgc_handles_mark(rtgc_thread *t);
/* A new slot holding obj; valid until released.  NULL if memory runs out. */
void **rtgc_handle(rtgc_thread *t, void *obj);
void rtgc_handles_release(rtgc_thread *t, rtgc_handle_mark mark);

void **rtgc_global_handle_new(rtgc_heap *heap, void *obj);
void rtgc_global_handle_free(rtgc_heap *heap, void **handle);

/* --- scanner callbacks --- */

/* State of one stack scan.  A scan may be split into slices: the collector
 * calls the scanner with the cursor it left, until it reports done.  The
 * scanner visits slots with rtgc_scan_visit, asks rtgc_scan_should_yield
 * every so often, and when that says yes stores its position in `cursor`
 * and returns 1 ("more").  It returns 0 when it has visited everything.
 * The cursor starts at 0 for each new scan.
 *
 * Between slices the thread runs (concurrent and incremental modes: each
 * slice is a handshake of its own, within the pause budget).  The contract
 * that makes that safe, the "watermark": until the scanner reports done, the
 * thread may write any slot, but a reference it reads from a slot the
 * scanner has not visited yet must go through rtgc_shade(t, ref) before it
 * is used or stored (in a VM: a return barrier on frames below the
 * cursor).  The cursor is the scanner's own, so the VM knows the boundary;
 * a call with cursor 0 starts a new scan. */
typedef struct rtgc_root_scan {
    rtgc_visitor *visitor;
    uintptr_t cursor;        /* the scanner's own position, kept between slices */
    uint64_t slots_visited;  /* counted by rtgc_scan_visit */
    uint64_t slice_limit;    /* slots this slice may visit (set by the collector) */
} rtgc_root_scan;

static inline void rtgc_scan_visit(rtgc_root_scan *s, void **slot) {
    s->slots_visited++;
    s->visitor->visit(s->visitor, slot);
}
/* Slots the scanner looked at and did not visit (immediates, empty slots)
 * still cost time: count them toward the slice limit. */
static inline void rtgc_scan_skip(rtgc_root_scan *s, uint64_t n) {
    s->slots_visited += n;
}
static inline int rtgc_scan_should_yield(const rtgc_root_scan *s) {
    return s->slots_visited >= s->slice_limit;
}

/* Scans the roots of thread t (a VM's own stack); may be called on another
 * thread while t is stopped or blocked.  Returns 1 if work remains. */
typedef int (*rtgc_stack_scan_fn)(rtgc_thread *t, rtgc_root_scan *scan, void *data);
void rtgc_thread_set_stack_scanner(rtgc_thread *t, rtgc_stack_scan_fn fn, void *data);

/* Scans global roots; called once per cycle, while roots are scanned. */
typedef void (*rtgc_root_fn)(rtgc_heap *heap, rtgc_visitor *v, void *data);
rtgc_status rtgc_root_callback_add(rtgc_heap *heap, rtgc_root_fn fn, void *data);
rtgc_status rtgc_root_callback_remove(rtgc_heap *heap, rtgc_root_fn fn, void *data);

RTGC_END_DECLS
#endif

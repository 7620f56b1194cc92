/* barriers/slow.c - out-of-line slow paths of the barriers, and the table
 * JIT code calls them through.
 *
 * rtgc_load_slow and rtgc_store_slow run only while RTGC_STATE_MARKING or
 * RTGC_STATE_STORE is set in the thread's state word (the concurrent
 * modes, during marking); the stop-the-world collector never sets them.
 */
#include "../gc/internal.h"

/* [rt.invariant] A loaded reference is shaded before the mutator can use it.
 * RTGC_BROKEN_LOAD_BARRIER (make BREAK=load) removes the shading, to show
 * that the torture tests catch a missing barrier (make teeth). */
void *rtgc_load_slow(rtgc_thread *t, void *value) {
#ifndef RTGC_BROKEN_LOAD_BARRIER
    shade(t->heap, t, value);
#else
    (void)t;
#endif
    return value;
}

/* [rt.invariant] An unscanned thread's stores shade the stored value. */
void rtgc_store_slow(rtgc_thread *t, void *value) {
    shade(t->heap, t, value);
}

void rtgc_shade_slow(rtgc_thread *t, void *value) {
    shade(t->heap, t, value);
}

static const rtgc_slow_path_table table = {
    .poll = rtgc_poll_slow,
    .load = rtgc_load_slow,
    .store = rtgc_store_slow,
    .alloc = rtgc_alloc_slow,
};

const rtgc_slow_path_table *rtgc_slow_paths(void) {
    return &table;
}

/* barriers/slow.c - out-of-line slow paths of the barriers, and the table
 * JIT code calls them through.
 *
 * rtgc_load_slow and rtgc_store_slow run only while RTGC_STATE_MARKING or
 * RTGC_STATE_STORE is set in the thread's state word.  The stop-the-world
 * collector never sets them (no mutator runs while it marks); the
 * concurrent modes, which will, are refused by rtgc_heap_create until they
 * are complete.  Reaching these slow paths today is a bug, and says so.
 */
#include "../gc/internal.h"

void *rtgc_load_slow(rtgc_thread *t, void *value) {
    if (rtgc_is_ref(value) && in_heap(t->heap, value) && (rtgc_atomic_load(&t->fast.state) & RTGC_STATE_MARKING))
        rtgc__fatal("load barrier slow path reached with marking on, which no mode enables yet");
    return value;
}

void rtgc_store_slow(rtgc_thread *t, void *value) {
    if (rtgc_atomic_load(&t->fast.state) & RTGC_STATE_STORE)
        rtgc__fatal("store barrier slow path reached with the store barrier on, which no mode enables yet");
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

/* barriers/slow.c - out-of-line slow paths of the barriers, and the table
 * JIT code calls them through.
 *
 * rtgc_load_slow runs only while RTGC_STATE_MARKING is set in the thread's
 * state word.  The stop-the-world collector never sets it (no mutator runs
 * while it marks), so today the slow path only shades its argument for the
 * benefit of a marker that may be running; it is where the concurrent
 * collector's read barrier lands.
 */
#include "../gc/internal.h"

void *rtgc_load_slow(rtgc_thread *t, void *value) {
    if (rtgc_is_ref(value) && in_heap(t->heap, value) && (rtgc_atomic_load(&t->fast.state) & RTGC_STATE_MARKING))
        rtgc__fatal("load barrier slow path reached with marking on, which no mode enables yet");
    return value;
}

static const rtgc_slow_path_table table = {
    .poll = rtgc_poll_slow,
    .load = rtgc_load_slow,
    .alloc = rtgc_alloc_slow,
};

const rtgc_slow_path_table *rtgc_slow_paths(void) {
    return &table;
}

/* rtgc/barrier.h - the mutator's inline fast paths: safepoint poll, load
 * barrier, store.
 *
 * Each is the triple "inline fast test / out-of-line slow path / wrapper".
 * The fast tests read one word, rtgc_mutator.state, which only the collector
 * writes (atomically) and the owning thread reads:
 *
 *   rtgc_poll:  load state; test POLL; jnz slow          (2 instructions + branch)
 *   rtgc_load:  load slot; load state; test MARKING; jnz slow
 *               with no collection running: one thread-local load and a
 *               never-taken branch beside the load of the slot itself.
 *   rtgc_store: store; load state; test STORE; jnz slow
 *               The STORE bit is set only between the start of marking and
 *               the scan of this thread's roots (gc/DESIGN.md,
 *               [rt.invariant]); every other time the store is plain.
 *               Every store of a reference into a heap object goes
 *               through it, the initialising stores into a new object too.
 *
 * Measured with callgrind (gcc 12 -O2, a pointer chase and a poll loop of
 * 10^6 iterations): rtgc_load and rtgc_poll each add 3 instructions per use
 * when no collection runs (mov state, and, jne), 7 against 4 per hop.
 *
 * JIT compilers emit the same tests from rtgc/barrier-attrs.h.
 */
#ifndef RTGC_BARRIER_H
#define RTGC_BARRIER_H

#include "rtgc/defs.h"
#include "rtgc/mutator.h"

RTGC_BEGIN_DECLS

void rtgc_poll_slow(rtgc_thread *t);
void *rtgc_load_slow(rtgc_thread *t, void *value);
void rtgc_store_slow(rtgc_thread *t, void *value);
void rtgc_shade_slow(rtgc_thread *t, void *value);

/* The state word as the owning thread sees it.  A relaxed load: the
 * collector's write becomes visible within a bounded time (x86-TSO and every
 * cache-coherent machine), and the slow paths synchronise properly. */
static RTGC_ALWAYS_INLINE uintptr_t rtgc_state(rtgc_thread *t) {
    return __atomic_load_n(&rtgc_mutator_of(t)->state, __ATOMIC_RELAXED);
}

/* Safepoint poll: call at loop back-edges and calls. */
static RTGC_ALWAYS_INLINE void rtgc_poll(rtgc_thread *t) {
    if (RTGC_UNLIKELY(rtgc_state(t) & RTGC_STATE_POLL))
        rtgc_poll_slow(t);
}

/* Load a reference from a heap slot.  While marking, the value is shaded
 * before the mutator can use it. */
static RTGC_ALWAYS_INLINE void *rtgc_load(rtgc_thread *t, void *const *slot) {
    void *v = __atomic_load_n((void **)slot, __ATOMIC_RELAXED);
    if (RTGC_UNLIKELY(rtgc_state(t) & RTGC_STATE_MARKING))
        v = rtgc_load_slow(t, v);
    return v;
}

/* Shade a reference the mutator got from somewhere the collector has not
 * scanned yet (the return barrier of a sliced stack scan, rtgc/roots.h):
 * a no-op unless marking is on. */
static RTGC_ALWAYS_INLINE void rtgc_shade(rtgc_thread *t, void *value) {
    if (RTGC_UNLIKELY(rtgc_state(t) & RTGC_STATE_MARKING))
        rtgc_shade_slow(t, value);
}

/* Store a reference (or immediate) into a slot of heap object `obj`. */
static RTGC_ALWAYS_INLINE void rtgc_store(rtgc_thread *t, void *obj, void **slot, void *value) {
    (void)obj;
    /* Relaxed: a plain mov, and a collector thread may read the slot meanwhile. */
    __atomic_store_n(slot, value, __ATOMIC_RELAXED);
    if (RTGC_UNLIKELY(rtgc_state(t) & RTGC_STATE_STORE))
        rtgc_store_slow(t, value);
}

RTGC_END_DECLS
#endif

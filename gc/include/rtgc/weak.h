/* rtgc/weak.h - weak references, ephemerons, finalizers, pinning and
 * interior pointers.
 *
 * WEAK REFERENCES.  rtgc_weak_new(t, target) makes a weak-reference object:
 * an ordinary heap object the embedder keeps in its own reference slots
 * (strongly, like any other).  Its target is not kept alive by it: when a
 * collection finds the target unreachable by strong paths, the weak
 * reference is cleared, and rtgc_weak_get returns NULL from then on.  While
 * it has not been cleared, rtgc_weak_get returns the target, and during
 * marking the target it returns stays alive (it goes through the load
 * barrier).  Never read the target slot directly.  A target is NULL, an
 * immediate, the start of a heap object, or an object outside the heap
 * (a static object: it never dies, so the reference never clears); an
 * address inside an object is not a target (use rtgc_object_start).
 * Weak references (16 bytes) and ephemerons (24 bytes) are heap objects of
 * the collector's own layouts.
 *
 * EPHEMERONS.  rtgc_ephemeron_new(t, key, value) makes a key/value pair
 * whose value is kept alive only while the key is reachable by other paths
 * (not through this ephemeron's value, nor through another ephemeron whose
 * key is dead): the building block of weak-key tables (JavaScript's
 * WeakMap, Lua's weak-key tables).  When the key is found unreachable,
 * both key and value are cleared.  Chains (one ephemeron's value is
 * another's key) are resolved by a fixpoint done in budgeted slices.
 * Ephemerons, like weak references, are immutable: to change a value, make
 * a new ephemeron.
 *
 * ORDER OF EVENTS in a collection, after strong marking is complete:
 *   1. every weak reference whose target is unreachable, and every
 *      ephemeron whose key is, is cleared, wherever the weak reference is
 *      held (by the program, or only by an object about to be finalized);
 *   2. objects with a finalizer that are unreachable are kept (with
 *      everything they reach) and queued; their registration is dropped;
 *   3. weak references and ephemerons no longer reachable at all are
 *      forgotten (the sweep frees them).
 * So a weak reference to an object that only objects with finalizers
 * reach (that object itself included) is cleared before the finalizers
 * run, and stays cleared if a finalizer resurrects it (as in Java and
 * CPython): every weak reference to one object agrees.
 *
 * FINALIZERS.  rtgc_finalizer_register(t, obj, fn, data) asks for fn to run
 * once after obj becomes unreachable.  The collector never runs it: it
 * queues the object (keeping it and what it reaches alive), and the
 * embedder runs ready finalizers where it chooses, with
 * rtgc_run_finalizers(t, max), on an attached thread, outside any pause.
 * They are ready as soon as the marking that found the object unreachable
 * ends: after rtgc_collect returns, the finalizers of objects dropped
 * before the call are ready.
 * Finalizers that become ready in the same collection run in the order
 * their objects were registered; no order follows from references between
 * them.  Resurrection: if fn stores obj where the program can reach it,
 * obj lives on as an ordinary object; its finalizer does not run again
 * unless it is registered again.  Objects whose finalizers have not run
 * when the heap is destroyed are not finalized.  Registering twice asks for
 * two runs.  A finalizer may call rtgc_run_finalizers itself.
 *
 * PINNING.  The collector never moves objects; rtgc_pin records that an
 * object must not move, a promise any later compacting mode keeps.  The
 * flag lives in the object's header (a collector flag bit), so pin and
 * unpin take an object's start (anything else is misuse).  Pinning does
 * not keep an object alive.
 *
 * MISUSE (the wrong kind of object, a NULL key or fn, an address that is
 * not an object's start) is reported through the error handler as
 * RTGC_EMISUSE (rtgc_set_error_handler; without a handler misuse aborts the
 * process), and the call then returns its failure value: NULL, 0, or
 * RTGC_EINVAL.
 *
 * INTERIOR POINTERS.  rtgc_object_start maps an address inside an object
 * (a derived pointer, or a word found by a conservative scan of native
 * frames) to the object's start, or NULL when the address is not inside an
 * allocated object.
 */
#ifndef RTGC_WEAK_H
#define RTGC_WEAK_H
#include "rtgc/defs.h"
#include "rtgc/config.h"
#include "rtgc/layout.h"
#include "rtgc/mutator.h"

RTGC_BEGIN_DECLS

/* A weak reference to target (NULL or an immediate make one that never
 * clears).  NULL when memory runs out (after the OOM handler). */
void *rtgc_weak_new(rtgc_thread *t, void *target);
/* The target, or NULL once cleared. */
void *rtgc_weak_get(rtgc_thread *t, void *weak);

/* An ephemeron; NULL when memory runs out, or when key is NULL (misuse: a
 * cleared ephemeron is one whose key reads NULL).  An immediate key never
 * dies, so its value is held strongly. */
void *rtgc_ephemeron_new(rtgc_thread *t, void *key, void *value);
/* Key and value (either pointer may be NULL); returns 0 once cleared (both
 * come back NULL), 1 otherwise. */
int rtgc_ephemeron_get(rtgc_thread *t, void *eph, void **key, void **value);

/* Is obj a weak reference / an ephemeron made by the functions above?  Any
 * value may be asked about: NULL, an immediate, an object in the heap or
 * outside it.  An address inside a heap object is not a value: the answer
 * for one is unspecified (it reads the words there as a header). */
int rtgc_is_weak(rtgc_heap *heap, const void *obj);
int rtgc_is_ephemeron(rtgc_heap *heap, const void *obj);

typedef void (*rtgc_finalizer_fn)(rtgc_thread *t, void *obj, void *data);
/* obj: the start of a heap object; fn: not NULL (misuse otherwise, and
 * RTGC_EINVAL).  RTGC_ENOMEM when the registry cannot grow. */
rtgc_status rtgc_finalizer_register(rtgc_thread *t, void *obj, rtgc_finalizer_fn fn, void *data);
/* Finalizers queued and not run yet. */
size_t rtgc_finalizers_ready(rtgc_heap *heap);
/* Run up to max ready finalizers on the calling thread; returns how many
 * ran.  A finalizer may allocate, register finalizers and run collections. */
size_t rtgc_run_finalizers(rtgc_thread *t, size_t max);

#define RTGC_HEADER_FLAG_PINNED ((uint64_t)1 << 16)
void rtgc_pin(rtgc_thread *t, void *obj);
void rtgc_unpin(rtgc_thread *t, void *obj);
static inline int rtgc_is_pinned(const void *obj) {
    return (rtgc_object_header(obj) & RTGC_HEADER_FLAG_PINNED) != 0;
}

/* The start of the allocated object that contains addr, or NULL. */
void *rtgc_object_start(rtgc_heap *heap, const void *addr);

RTGC_END_DECLS
#endif

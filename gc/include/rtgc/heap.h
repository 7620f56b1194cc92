/* rtgc/heap.h - heap lifecycle, threads, safepoints and explicit collection.
 *
 * Every thread that touches heap objects attaches first and passes its
 * rtgc_thread to the API.  A thread reaches safepoints by calling
 * rtgc_poll() (inline, rtgc/barrier.h) often enough: at loop back-edges and
 * calls, and implicitly in every allocation slow path.  Around a call that
 * may block (I/O, a lock, sleep) a thread says so with
 * rtgc_enter_blocking / rtgc_leave_blocking: while it is blocked the
 * collector scans its roots on its behalf and never waits for it, so its
 * roots (shadow stack, handles, stack scanner's data) must stay as they are
 * until it leaves.  A blocked thread does not touch heap objects.
 */
#ifndef RTGC_HEAP_H
#define RTGC_HEAP_H

#include "rtgc/defs.h"
#include "rtgc/config.h"
#include "rtgc/layout.h"
#include "rtgc/mutator.h"

RTGC_BEGIN_DECLS

/* Create a heap.  On failure *heap is NULL and err says why. */
rtgc_status rtgc_heap_create(const rtgc_config *cfg, rtgc_heap **heap, rtgc_error *err);
/* Destroy a heap.  All threads must have detached. */
void rtgc_heap_destroy(rtgc_heap *heap);
/* The configuration in force. */
const rtgc_config *rtgc_heap_config(rtgc_heap *heap);

/* Attach the calling OS thread; NULL (and err) on failure.  A thread attaches
 * to one heap at a time. */
rtgc_thread *rtgc_thread_attach(rtgc_heap *heap, rtgc_error *err);
/* Detach; the rtgc_thread must not be used again.  Its roots are dropped. */
rtgc_status rtgc_thread_detach(rtgc_thread *t);
/* The calling thread's rtgc_thread, or NULL when it is not attached. */
rtgc_thread *rtgc_thread_current(void);
rtgc_heap *rtgc_thread_heap(rtgc_thread *t);
/* One pointer of the embedder's own per heap (its layout ids, say); NULL
 * until set.  The collector never looks at it. */
void rtgc_heap_set_user_data(rtgc_heap *heap, void *data);
void *rtgc_heap_user_data(rtgc_heap *heap);
/* Small integer naming the thread in pause records (1, 2, ...). */
uint32_t rtgc_thread_id(rtgc_thread *t);

void rtgc_enter_blocking(rtgc_thread *t);
void rtgc_leave_blocking(rtgc_thread *t);

/* Run a full collection now (in stop-the-world mode: a stop of every thread). */
void rtgc_collect(rtgc_thread *t);

/* Step mode (and any mode but stw): do at most `budget_ns` of collector
 * work on this thread, starting a cycle when the heap has reached its
 * trigger.  Returns 1 while a cycle is in progress (call again when there
 * is slack), 0 when no work remains.  Recorded as a pause of cause STEP. */
int rtgc_step(rtgc_thread *t, uint64_t budget_ns);

/* Verify the heap with the world stopped: every object reachable from the
 * roots is allocated, every reference points at an allocated object, layouts
 * are respected, free cells are intact.  Returns the number of problems found
 * (each reported through the error handler); 0 means the heap is sound. */
size_t rtgc_verify(rtgc_thread *t);

/* Errors the library cannot return (misuse inside an inline path, a failed
 * verification): the handler is called with a message; without one the
 * message goes to stderr and misuse aborts the process. */
typedef void (*rtgc_error_fn)(rtgc_heap *heap, rtgc_status status, const char *message, void *data);
void rtgc_set_error_handler(rtgc_heap *heap, rtgc_error_fn fn, void *data);

/* Library version. */
const char *rtgc_version(void);

RTGC_END_DECLS
#endif

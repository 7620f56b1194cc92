/* gc/os/os.h - the narrow contract between the collector and the OS.
 *
 * Memory:
 *   os_reserve(n, huge) reserve n bytes of address space (n a multiple of the
 *                      page size); pages read as zero when first touched.
 *                      With huge, ask for transparent huge pages there.
 *                      NULL on failure.
 *   os_commit(p, n)    make [p, p+n) usable; contents unspecified.
 *   os_decommit(p, n)  give [p, p+n) back to the OS; it reads as zero when
 *                      committed again.  Check builds make it inaccessible,
 *                      so a stray access to freed heap memory faults.
 *   os_prefault(p, n)  fault [p, p+n) in ahead of use (memory no one else
 *                      touches meanwhile, reading as zero): its pages are
 *                      present and writable afterwards, so the first store
 *                      into them costs no page fault; contents stay zero.
 *   os_advise_huge(p, n)  ask for transparent huge pages in [p, p+n) (2 MiB
 *                      aligned), for the faults still to come there.
 *   os_release(p, n)   drop a reservation.
 *   os_map_table(n)    zero-filled read/write memory for side tables, committed
 *                      by the kernel page by page as it is touched.
 *   os_table_discard(p, n)  give pages of such a table back; they read as zero.
 * Clocks:
 *   os_now_ns()        CLOCK_MONOTONIC
 *   os_thread_cpu_ns() CPU time of the calling thread
 *   os_thread_switches() its context switches (getrusage RUSAGE_THREAD)
 *   os_cond_init(cv)   a condition variable whose timed waits use CLOCK_MONOTONIC
 *   os_cond_wait_ns(cv, m, ns)  wait on such a cv (m held) for at most ns
 * Scheduling (sched_linux.c):
 *   os_thread_id()     the calling thread's kernel id
 *   os_cpu_count()     CPUs the calling thread may run on (its affinity mask)
 *   os_thread_sched(tid, run, wait)  time thread tid has run, and waited
 *                      on a run queue, ever (ns); -1 if the kernel does
 *                      not say
 */
#ifndef RTGC_OS_H
#define RTGC_OS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *os_reserve(size_t n, bool huge);
int os_commit(void *p, size_t n);
void os_decommit(void *p, size_t n);
void os_prefault(void *p, size_t n);
void os_advise_huge(void *p, size_t n);
void os_release(void *p, size_t n);
void *os_map_table(size_t n);
void os_table_discard(void *p, size_t n);
size_t os_page_size(void);

uint64_t os_now_ns(void);
uint64_t os_thread_cpu_ns(void);
/* Context switches of the calling thread so far: involuntary (preempted)
 * and voluntary (blocked: a lock, a sleep). */
void os_thread_switches(uint32_t *involuntary, uint32_t *voluntary);
int os_cond_init(pthread_cond_t *cv);
int os_cond_wait_ns(pthread_cond_t *cv, pthread_mutex_t *m, uint64_t ns);

int os_thread_id(void);
unsigned os_cpu_count(void);
int os_thread_sched(int tid, uint64_t *run_ns, uint64_t *wait_ns);

#endif

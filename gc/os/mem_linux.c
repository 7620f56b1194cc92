/* gc/os/mem_linux.c - reserve/commit/decommit on Linux (see os.h). */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>

#include "os.h"

#ifndef RTGC_CHECK
#define RTGC_CHECK 0
#endif

/* Production builds reserve readable/writable, never-reserved memory: the
 * kernel commits a page on first touch and MADV_DONTNEED gives it back.
 * Check builds reserve inaccessible memory and open it block by block, so
 * that touching a free block faults. */
#define RESERVE_PROT (RTGC_CHECK >= 2 ? PROT_NONE : (PROT_READ | PROT_WRITE))

void *os_reserve(size_t n, bool huge) {
    void *p = mmap(NULL, n, RESERVE_PROT, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (huge)
        (void)madvise(p, n, MADV_HUGEPAGE);   /* advice: refused where THP is off, and harmless */
    return p;
}

int os_commit(void *p, size_t n) {
    if (RTGC_CHECK >= 2)
        return mprotect(p, n, PROT_READ | PROT_WRITE);
    return 0;
}

void os_decommit(void *p, size_t n) {
    if (RTGC_CHECK >= 2)
        (void)mmap(p, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    else
        (void)madvise(p, n, MADV_DONTNEED);
}

/* A store into each page faults it in (a huge page's first store, the
 * whole huge page).  Not MADV_POPULATE_WRITE, though it costs half as much
 * a page (about 1 us, and 5 us for the first store after it, against 11 us
 * a fault in a virtual machine): the madvise holds the process's mmap lock
 * for its whole run, and a mutator's page fault meanwhile waited for it in
 * uninterruptible sleep, 1.8-4.4 ms (msgbuf's longest pushes: 3.6-31 ms
 * with it, 0.9-1.8 ms without). */
void os_prefault(void *p, size_t n) {
    size_t page = os_page_size();
    if (RTGC_CHECK >= 2)
        (void)mprotect(p, n, PROT_READ | PROT_WRITE);
    for (size_t i = 0; i < n; i += page)
        ((volatile char *)p)[i] = 0;
}

void os_advise_huge(void *p, size_t n) {
    (void)madvise(p, n, MADV_HUGEPAGE);   /* advice: refused where THP is off, and harmless */
}

void os_release(void *p, size_t n) {
    (void)munmap(p, n);
}

void *os_map_table(size_t n) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void os_table_discard(void *p, size_t n) {
    (void)madvise(p, n, MADV_DONTNEED);
}

size_t os_page_size(void) {
    return (size_t)sysconf(_SC_PAGESIZE);
}

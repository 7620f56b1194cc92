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

void *os_reserve(size_t n) {
    void *p = mmap(NULL, n, RESERVE_PROT, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
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

/* barriers/atomics.h - the one file that includes libatomic_ops.
 *
 * Every atomic read-modify-write and every fence of the library goes through
 * these wrappers, so the memory-ordering assumptions sit in one place:
 *   - rtgc_atomic_load_acquire / store_release publish data between threads
 *     (thread status words, the stop-the-world flag);
 *   - rtgc_atomic_or / and set and clear bits of a mutator's state word
 *     (the collector's only way to talk to a running mutator);
 *   - rtgc_atomic_cas claims a word (a blocked thread's status);
 *   - rtgc_atomic_cas_u8 claims a mark byte when several threads mark.
 * The inline fast paths in the public headers only ever do a relaxed load of
 * the state word; they need nothing from here.
 */
#ifndef RTGC_ATOMICS_H
#define RTGC_ATOMICS_H

#ifndef RTGC_INTERNAL
#error "barriers/atomics.h is internal to librtgc"
#endif

#include <atomic_ops.h>
#include <stdint.h>

typedef volatile AO_t rtgc_atomic_word;

static inline uintptr_t rtgc_atomic_load(const volatile uintptr_t *p) {
    return (uintptr_t)AO_load((const volatile AO_t *)p);
}
static inline uintptr_t rtgc_atomic_load_acquire(const volatile uintptr_t *p) {
    return (uintptr_t)AO_load_acquire((const volatile AO_t *)p);
}
static inline void rtgc_atomic_store(volatile uintptr_t *p, uintptr_t v) {
    AO_store((volatile AO_t *)p, (AO_t)v);
}
static inline void rtgc_atomic_store_release(volatile uintptr_t *p, uintptr_t v) {
    AO_store_release((volatile AO_t *)p, (AO_t)v);
}
static inline void rtgc_atomic_or(volatile uintptr_t *p, uintptr_t bits) {
    AO_or_full((volatile AO_t *)p, (AO_t)bits);
}
static inline void rtgc_atomic_and(volatile uintptr_t *p, uintptr_t bits) {
    AO_and_full((volatile AO_t *)p, (AO_t)bits);
}
static inline uintptr_t rtgc_atomic_fetch_add(volatile uintptr_t *p, uintptr_t v) {
    return (uintptr_t)AO_fetch_and_add_full((volatile AO_t *)p, (AO_t)v);
}
/* A counter bumped by several threads with no ordering implied (the
 * per-block live counts [sweep.live]: read only after marking has ended). */
static inline void rtgc_atomic_add(volatile uintptr_t *p, uintptr_t v) {
    (void)AO_fetch_and_add((volatile AO_t *)p, (AO_t)v);
}
/* Returns nonzero when *p was `old` and is now `nv`. */
static inline int rtgc_atomic_cas(volatile uintptr_t *p, uintptr_t old, uintptr_t nv) {
    return AO_compare_and_swap_full((volatile AO_t *)p, (AO_t)old, (AO_t)nv);
}
/* Returns the byte's previous value. */
static inline unsigned char rtgc_atomic_cas_u8(volatile unsigned char *p, unsigned char old,
                                               unsigned char nv) {
    return AO_char_fetch_compare_and_swap_full(p, old, nv);
}
/* Relaxed single-byte and pointer accesses: the races of concurrent
 * marking (a mark byte read before its CAS, a field read while a mutator
 * stores into it) are by design; these say so to the compiler and to
 * ThreadSanitizer, and cost a plain mov. */
static inline unsigned char rtgc_load_u8(const volatile unsigned char *p) {
    return AO_char_load(p);
}
static inline void rtgc_store_u8(volatile unsigned char *p, unsigned char v) {
    AO_char_store(p, v);
}
static inline void rtgc_store_ptr(void **p, void *v) {
    AO_store((volatile AO_t *)p, (AO_t)v);
}
static inline void *rtgc_load_ptr(void *const *p) {
    return (void *)AO_load((const volatile AO_t *)p);
}

/* One iteration of a spin-wait. */
static inline void rtgc_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static inline void rtgc_atomic_fence(void) {
    AO_nop_full();
}

#endif

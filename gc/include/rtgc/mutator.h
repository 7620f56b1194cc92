/* rtgc/mutator.h - the part of a mutator thread that inline fast paths read.
 *
 * An rtgc_thread is opaque except for this prefix, which the inline fast
 * paths in rtgc/alloc.h and rtgc/barrier.h (and JIT code, through the
 * constants in rtgc/barrier-attrs.h) read directly.  Only the owning thread
 * writes the free lists and the frame chain; the collector writes `state`.
 * Never write these fields from embedder code except through the API.
 */
#ifndef RTGC_MUTATOR_H
#define RTGC_MUTATOR_H

#include "rtgc/defs.h"
#include <stddef.h>
#include <stdint.h>

RTGC_BEGIN_DECLS

typedef struct rtgc_thread rtgc_thread;

/* Size classes: 16..128 in steps of 16, then four classes per power of two up
 * to RTGC_SMALL_MAX.  Larger objects live in the large-object space. */
#define RTGC_SIZE_CLASSES 40u
#define RTGC_SMALL_MAX 32768u
extern const uint32_t rtgc_class_size[RTGC_SIZE_CLASSES];

/* Bits of rtgc_mutator.state. */
#define RTGC_STATE_POLL 0x1u     /* the collector wants this thread at a safepoint */
#define RTGC_STATE_MARKING 0x2u  /* marking is on: loads go through the barrier slow path */
#define RTGC_STATE_STORE 0x4u    /* this thread's roots are not scanned yet: stores shade */

/* Per-layout facts the allocation fast paths need. */
typedef struct rtgc_layout_info {
    uint32_t fixed_size;   /* bytes of the fixed part, header included */
    uint32_t elem_size;    /* bytes per element of the variable part (0 for records) */
    uint32_t pointer_free; /* 1: no reference slot: rtgc_alloc_uninit may be used, and rtgc_alloc,
                              rtgc_alloc_array and the _uninit calls take cells from free_noscan */
} rtgc_layout_info;

/* A shadow-stack frame of root slots (see rtgc/roots.h). */
typedef struct rtgc_frame {
    struct rtgc_frame *prev;
    size_t count;
    void **slots;
} rtgc_frame;

struct rtgc_mutator {
    volatile uintptr_t state;          /* RTGC_STATE_* bits; offset 0 */
    rtgc_frame *frames;                /* innermost shadow-stack frame */
    const rtgc_layout_info *layouts;   /* indexed by layout id */
    const uint8_t *markmap_bias;       /* mark byte of p: markmap_bias[(uintptr_t)p >> 4] */
    uintptr_t mark_epoch;              /* value of a marked object's mark byte this cycle */
    void *free[RTGC_SIZE_CLASSES];     /* per size class: free cells, linked through word 1 */
    /* Added after the fields above, whose offsets JIT code emits from
     * (rtgc/barrier-attrs.h): the same per size class, from noscan spans,
     * which hold only objects of pointer-free layouts and whose objects
     * the marker marks without reading them [mark.noscan]. */
    void *free_noscan[RTGC_SIZE_CLASSES];
};

static inline struct rtgc_mutator *rtgc_mutator_of(rtgc_thread *t) {
    return (struct rtgc_mutator *)(void *)t;
}

/* Size class of an object of `size` bytes (1..RTGC_SMALL_MAX), header included. */
static inline unsigned rtgc_size_class(size_t size) {
    if (size <= 128)
        return size <= 16 ? 0u : (unsigned)((size + 15) / 16 - 1);
    size_t s = size - 1;
    unsigned msb = 63u - (unsigned)__builtin_clzll((unsigned long long)s);
    return 8u + (msb - 7u) * 4u + (unsigned)(s >> (msb - 2u)) - 4u;
}

#if defined(__GNUC__)
#define RTGC_LIKELY(x) __builtin_expect(!!(x), 1)
#define RTGC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RTGC_NOINLINE __attribute__((noinline))
#define RTGC_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define RTGC_LIKELY(x) (x)
#define RTGC_UNLIKELY(x) (x)
#define RTGC_NOINLINE
#define RTGC_ALWAYS_INLINE inline
#endif

RTGC_END_DECLS
#endif

/* rtgc/layout.h - what the embedder tells the collector about its objects.
 *
 * THE HEADER WORD.  Every object starts with one 64-bit word that belongs to
 * the collector; the embedder's fields follow at offset 8.  The object
 * pointer the API hands out points at this header word.
 *
 *     bits  0..15  layout id (0 is never a valid id: a zero header is a free cell)
 *     bits 16..31  collector flags (reserved; leave them alone)
 *     bits 32..63  count: element count of a variable-size object
 *
 * Objects are 16-byte aligned, and at least 16 bytes long.
 *
 * REFERENCE SLOTS.  A slot the layout declares as a reference holds NULL, a
 * pointer to an object's header, or an immediate: any word whose lowest bit is
 * 1 is ignored by the collector, so a VM can keep tagged integers in reference
 * slots.  Pointers into the middle of an object are not references.
 *
 * LAYOUT KINDS.
 *   RECORD     fixed size; references in the fixed part, given as byte offsets
 *              or as a bitmap of words.
 *   REF_ARRAY  a fixed part (as for RECORD) followed by `count` references.
 *   BYTES      a fixed part followed by `count` bytes that hold no references.
 *   CUSTOM     a fixed part followed by `count` elements of elem_size bytes;
 *              a trace callback visits every reference slot of the object.
 */
#ifndef RTGC_LAYOUT_H
#define RTGC_LAYOUT_H

#include "rtgc/defs.h"
#include <stddef.h>
#include <stdint.h>
#include "rtgc/config.h"

RTGC_BEGIN_DECLS

typedef struct rtgc_heap rtgc_heap;
typedef uint16_t rtgc_layout_id;

#define RTGC_HEADER_BYTES 8u
#define RTGC_OBJECT_ALIGN 16u
#define RTGC_MAX_LAYOUTS 4096u
#define RTGC_HEADER_ID_MASK 0xffffu
#define RTGC_HEADER_COUNT_SHIFT 32u

#define RTGC_HEADER(id, count) \
    ((uint64_t)(uint16_t)(id) | ((uint64_t)(uint32_t)(count) << RTGC_HEADER_COUNT_SHIFT))

static inline rtgc_layout_id rtgc_header_layout(uint64_t header) {
    return (rtgc_layout_id)(header & RTGC_HEADER_ID_MASK);
}
static inline uint32_t rtgc_header_count(uint64_t header) {
    return (uint32_t)(header >> RTGC_HEADER_COUNT_SHIFT);
}
/* A relaxed atomic load (a plain load on x86-64): rtgc_pin and
 * rtgc_unpin change the header's flag bits while other threads (the
 * collector among them) read it. */
static inline uint64_t rtgc_object_header(const void *obj) {
    return __atomic_load_n((const uint64_t *)obj, __ATOMIC_RELAXED);
}
static inline uint32_t rtgc_object_count(const void *obj) {
    return rtgc_header_count(rtgc_object_header(obj));
}
/* Is this slot value a reference the collector follows? */
static inline int rtgc_is_ref(const void *value) {
    return value != NULL && ((uintptr_t)value & 1u) == 0;
}

typedef enum rtgc_layout_kind {
    RTGC_LAYOUT_RECORD = 1,
    RTGC_LAYOUT_REF_ARRAY = 2,
    RTGC_LAYOUT_BYTES = 3,
    RTGC_LAYOUT_CUSTOM = 4
} rtgc_layout_kind;

/* A visitor receives reference slots: from a CUSTOM trace callback, from a
 * root scanner.  Call rtgc_visit(v, &slot) for every slot that may hold a
 * reference. */
typedef struct rtgc_visitor rtgc_visitor;
struct rtgc_visitor {
    void (*visit)(rtgc_visitor *self, void **slot);
};
static inline void rtgc_visit(rtgc_visitor *v, void **slot) {
    v->visit(v, slot);
}

/* Visit every reference slot of `obj`.  Runs inside a collector pause or on a
 * collector thread: it must not allocate, block, or call back into rtgc.
 * With threads=N > 1 several marking threads may call it at once, for
 * different objects and now and then for the same one; and an object may
 * be traced more than once in a cycle (two markers, or a marker and a
 * mutator's barrier, that reach it at the same moment both trace it).  So
 * it must be safe to run concurrently and again (read `obj` and `data`,
 * keep no unsynchronised state of its own, count nothing that must be
 * exact). */
typedef void (*rtgc_trace_fn)(void *obj, rtgc_visitor *v, void *data);

typedef struct rtgc_layout {
    const char *name;          /* for error messages and the verifier */
    rtgc_layout_kind kind;
    size_t size;               /* bytes of the fixed part, the header included (>= 8) */
    const uint32_t *ref_offsets; /* reference slots of the fixed part, byte offsets ... */
    size_t ref_count;          /* ... and how many */
    uint64_t ref_bitmap;       /* or: bit i set => word i of the fixed part is a reference */
    size_t elem_size;          /* REF_ARRAY: 8 (0 means 8); BYTES and CUSTOM: bytes per element (0 means 1 for BYTES) */
    rtgc_trace_fn trace;       /* CUSTOM only */
    void *trace_data;          /* passed to trace */
} rtgc_layout;

/* Register a layout; its id (1 .. RTGC_MAX_LAYOUTS-1) goes to *id.  Passing
 * an id that was not registered to rtgc_alloc is reported as misuse.  The descriptor is copied.  Layouts
 * are registered before the threads that use them allocate, and live as long
 * as the heap.  Errors: RTGC_EINVAL with the bad field named in err. */
rtgc_status rtgc_layout_register(rtgc_heap *heap, const rtgc_layout *layout,
                                 rtgc_layout_id *id, rtgc_error *err);

/* Bytes an object of this layout with `count` elements occupies (header included). */
size_t rtgc_layout_object_size(rtgc_heap *heap, rtgc_layout_id id, uint32_t count);

RTGC_END_DECLS
#endif

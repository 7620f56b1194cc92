/* rtgc/barrier-attrs.h - the facts a JIT needs to emit the fast paths
 * itself, exported so that no JIT keeps a private copy of them.
 *
 *   poll:       test qword [thread + RTGC_ATTR_STATE_OFFSET], RTGC_STATE_POLL ; jnz slow
 *   load:       test qword [thread + RTGC_ATTR_STATE_OFFSET], RTGC_STATE_MARKING ; jnz slow
 *   store:      mov [slot], value ; test qword [thread + RTGC_ATTR_STATE_OFFSET], RTGC_STATE_STORE ; jnz slow
 *   alloc:      mov  rax, [thread + RTGC_ATTR_FREE_OFFSET + 8*cls]
 *               test rax, rax ; jz slow
 *               mov  rcx, [rax + RTGC_ATTR_FREE_LINK_OFFSET]
 *               mov  [thread + RTGC_ATTR_FREE_OFFSET + 8*cls], rcx
 *               zero [rax+8, rax+size) ; mov qword [rax], header
 *   mark byte:  markmap_bias = [thread + RTGC_ATTR_MARKMAP_OFFSET]
 *               byte [markmap_bias + (obj >> RTGC_ATTR_GRANULE_SHIFT)] == [thread + RTGC_ATTR_EPOCH_OFFSET]
 *
 * Slow paths are reached through the table returned by rtgc_slow_paths().
 */
#ifndef RTGC_BARRIER_ATTRS_H
#define RTGC_BARRIER_ATTRS_H

#include "rtgc/defs.h"
#include <stddef.h>
#include "rtgc/mutator.h"
#include "rtgc/layout.h"

RTGC_BEGIN_DECLS

#define RTGC_ATTR_STATE_OFFSET offsetof(struct rtgc_mutator, state)
#define RTGC_ATTR_FRAMES_OFFSET offsetof(struct rtgc_mutator, frames)
#define RTGC_ATTR_LAYOUTS_OFFSET offsetof(struct rtgc_mutator, layouts)
#define RTGC_ATTR_MARKMAP_OFFSET offsetof(struct rtgc_mutator, markmap_bias)
#define RTGC_ATTR_EPOCH_OFFSET offsetof(struct rtgc_mutator, mark_epoch)
#define RTGC_ATTR_FREE_OFFSET offsetof(struct rtgc_mutator, free)
#define RTGC_ATTR_FREE_LINK_OFFSET 8u     /* a free cell links to the next through word 1 */
#define RTGC_ATTR_GRANULE_SHIFT 4u        /* one mark byte per 16-byte granule */
#define RTGC_ATTR_POLL_BIT RTGC_STATE_POLL
#define RTGC_ATTR_MARKING_BIT RTGC_STATE_MARKING
#define RTGC_ATTR_STORE_BIT RTGC_STATE_STORE
#define RTGC_ATTR_HEADER_COUNT_SHIFT RTGC_HEADER_COUNT_SHIFT

/* Out-of-line entries JIT code calls (System V ABI). */
typedef struct rtgc_slow_path_table {
    void (*poll)(rtgc_thread *t);
    void *(*load)(rtgc_thread *t, void *value);
    void (*store)(rtgc_thread *t, void *value);
    void *(*alloc)(rtgc_thread *t, rtgc_layout_id layout, uint32_t count, size_t size);
} rtgc_slow_path_table;
const rtgc_slow_path_table *rtgc_slow_paths(void);

RTGC_END_DECLS
#endif

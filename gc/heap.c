/* gc/heap.c - the heap: one reservation, blocks, spans, layouts.
 *
 * Address space for twice the heap limit is reserved up front (the slack
 * lets large objects find contiguous runs in a fragmented heap); the limit
 * itself is enforced on heap_size, the bytes in spans.  Memory is committed
 * block by block as spans take blocks, and given back to the OS
 * (heap_decommit_idle) when a block has stayed free for a whole cycle: in
 * the stop-the-world collector at the end of the stop, in the real-time
 * modes a few runs at a time between cycles.
 *
 * [heap.blocks] A block is USED (it belongs to a span: block_span[i] names
 * it), FREE_DIRTY (free, committed, contents garbage), FREE_READY (free,
 * committed and faulted in ahead of use by the collector, reads as zero:
 * [heap.prefault]), FAULTING (being faulted in: no one takes it) or
 * FREE_CLEAN (free, decommitted or never touched: reads as zero).  Free
 * blocks' mark bytes are zero.  New spans prefer dirty blocks, then ready
 * ones, so committed memory tracks the recent peak of heap_size rather
 * than growing through the reservation.
 *
 * [heap.spans] A small-object span holds cells of one size class; a new
 * span's cells are all free: header word 0, linked through word 1.  A large
 * span holds one object at its base.
 *
 * [mark.noscan] A span, small or large, is noscan when it holds objects of
 * pointer-free layouts only (layout_noscan_ok); its span class says so for
 * the lists, and block_noscan for the marker, which learns it from the
 * block index it computes anyway, without reading the object or the span.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sched.h>

#include "internal.h"

const uint32_t rtgc_class_size[RTGC_SIZE_CLASSES] = {
    16,    32,    48,    64,    80,    96,    112,   128,                /* step 16 */
    160,   192,   224,   256,   320,   384,   448,   512,   640,   768,
    896,   1024,  1280,  1536,  1792,  2048,  2560,  3072,  3584,  4096,
    5120,  6144,  7168,  8192,  10240, 12288, 14336, 16384, 20480, 24576,
    28672, 32768,
};

size_t class_blocks(unsigned cls) {
    size_t want = (size_t)rtgc_class_size[cls] * 8;    /* at least 8 cells a span */
    size_t n = (want + BLOCK_SIZE - 1) / BLOCK_SIZE;
    return n ? n : 1;
}

size_t span_bytes(const span *s) {
    return s->nblocks * BLOCK_SIZE;
}

/* ---- span lists ---- */

void list_push(span_list *l, span *s, uint8_t id) {
    s->prev = l->tail;
    s->next = NULL;
    if (l->tail)
        l->tail->next = s;
    else
        l->head = s;
    l->tail = s;
    l->count++;
    s->list = id;
}

void list_remove(span_list *l, span *s) {
    if (s->prev) s->prev->next = s->next;
    else l->head = s->next;
    if (s->next) s->next->prev = s->prev;
    else l->tail = s->prev;
    s->next = s->prev = NULL;
    s->list = LIST_NONE;
    l->count--;
}

span *list_pop(span_list *l) {
    span *s = l->head;
    if (s)
        list_remove(l, s);
    return s;
}

/* ---- blocks ---- */

static size_t find_state(rtgc_heap *h, size_t from, uint8_t state) {
    if (from >= h->nblocks)
        return h->nblocks;
    const uint8_t *p = memchr(h->block_state + from, state, h->nblocks - from);
    return p ? (size_t)(p - h->block_state) : h->nblocks;
}

static bool block_free(uint8_t state) {
    return state != BLOCK_USED && state != BLOCK_FAULTING;
}

/* A run of n free blocks, for single blocks dirty ones first, then ready
 * ones [heap.prefault]; nblocks if none. */
static size_t find_run(rtgc_heap *h, size_t n) {
    if (n == 1) {
        size_t i = find_state(h, h->hint_dirty, BLOCK_FREE_DIRTY);
        h->hint_dirty = i;
        if (i < h->nblocks)
            return i;
        i = find_state(h, h->hint_ready, BLOCK_FREE_READY);
        h->hint_ready = i;
        if (i < h->nblocks)
            return i;
        i = find_state(h, h->hint_clean, BLOCK_FREE_CLEAN);
        h->hint_clean = i;
        return i;
    }
    size_t start = h->hint_dirty < h->hint_clean ? h->hint_dirty : h->hint_clean;
    if (h->hint_ready < start)
        start = h->hint_ready;
    size_t run = 0;
    for (size_t i = start; i < h->nblocks; i++) {
        if (!block_free(h->block_state[i])) {
            run = 0;
            continue;
        }
        if (++run == n)
            return i + 1 - n;
    }
    return h->nblocks;
}

static void decommit_run(rtgc_heap *h, size_t i, size_t n) {
    os_decommit(h->base + i * BLOCK_SIZE, n * BLOCK_SIZE);
    os_table_discard(h->markmap + ((i * BLOCK_SIZE) >> GRANULE_SHIFT), (n * BLOCK_SIZE) >> GRANULE_SHIFT);
    for (size_t k = i; k < i + n; k++)
        h->block_state[k] = BLOCK_FREE_CLEAN;
    h->committed -= n * BLOCK_SIZE;
    h->stats.decommitted_bytes += n * BLOCK_SIZE;
    if (i < h->hint_clean)
        h->hint_clean = i;
}

/* Take blocks [i, i+n) for span s; *mem says what its memory holds
 * (MEM_*).  Returns false if the OS refused to commit. */
static bool take_blocks(rtgc_heap *h, size_t i, size_t n, span *s, unsigned *mem) {
    size_t grown = 0;
    *mem = 0;
    for (size_t k = i; k < i + n; k++) {
        if (h->block_state[k] == BLOCK_FREE_CLEAN) {
            if (os_commit(h->base + k * BLOCK_SIZE, BLOCK_SIZE) != 0)
                return false;
            /* Fault in the block's page of mark bytes now, in the slow path
             * that takes the block, rather than in whichever marking slice
             * first marks an object here (a first touch costs microseconds
             * in a virtual machine; a slice can meet a hundred). */
            rtgc_store_u8(h->markmap + ((k * BLOCK_SIZE) >> GRANULE_SHIFT), 0);
            grown += BLOCK_SIZE;
            *mem |= MEM_UNTOUCHED;
        } else if (h->block_state[k] == BLOCK_FREE_DIRTY) {
            *mem |= MEM_DIRTY;
        }
    }
    for (size_t k = i; k < i + n; k++) {
        h->block_state[k] = BLOCK_USED;
        h->block_span[k] = s;
    }
    h->committed += grown;
    if (grown)
        emit_event(h, RTGC_EV_HEAP_GROW, grown);
    /* Keep committed memory under the limit: give back dirty (then
     * ready) free blocks. */
    while (h->committed > h->cfg.heap_limit) {
        size_t d = find_state(h, 0, BLOCK_FREE_DIRTY);
        if (d >= h->nblocks)
            d = find_state(h, 0, BLOCK_FREE_READY);
        if (d >= h->nblocks)
            break;
        decommit_run(h, d, 1);
    }
    return true;
}

static void give_blocks(rtgc_heap *h, size_t i, size_t n) {
    uint32_t cyc = (uint32_t)h->cycle;
    for (size_t k = i; k < i + n; k++) {
        h->block_state[k] = BLOCK_FREE_DIRTY;
        h->block_span[k] = NULL;
        h->block_freed[k] = cyc;
        rtgc_atomic_store(&h->block_live[k], 0);   /* [sweep.live] a new span's counts start at zero */
        rtgc_store_u8(&h->block_noscan[k], 0);
    }
    if (i < h->hint_dirty)
        h->hint_dirty = i;
    if (i < h->hint_clean)
        h->hint_clean = i;
}

/* A free block holding committed memory. */
static bool block_committed_free(uint8_t state) {
    return state == BLOCK_FREE_DIRTY || state == BLOCK_FREE_READY;
}

static size_t find_committed_free(rtgc_heap *h, size_t from) {
    size_t d = find_state(h, from, BLOCK_FREE_DIRTY), r = find_state(h, from, BLOCK_FREE_READY);
    return d < r ? d : r;
}

/* [heap.retain] The committed memory the heap keeps: the pacer's goal, or
 * more when the heap went past it in this cycle or the last one (a cycle
 * overshoots its goal by what is allocated while it marks), and an eighth
 * more for the blocks faulted in ahead [heap.prefault] and the dirty
 * blocks that freed spans leave among used ones.  Memory under
 * it stays committed: the mutators take it again before long, and giving
 * it back only to fault it in again costs a page fault per page (about
 * 11 us in a virtual machine) and, for the madvise, an interrupt of every
 * CPU running the process. */
static size_t retained(const rtgc_heap *h) {
    size_t keep = h->heap_goal;
    if (h->cycle_peak > keep)
        keep = h->cycle_peak;
    if (h->cycle_peak_prev > keep)
        keep = h->cycle_peak_prev;
    return keep + keep / 8;
}

/* Give back up to `max_blocks` blocks that have stayed free for a whole
 * cycle, while committed memory is over what the heap retains; returns
 * the bytes given back.  Bounded, so that a cycle's driver can do it a
 * little at a time (madvise costs in proportion to the pages it frees). */
size_t heap_decommit_idle(rtgc_heap *h, size_t max_blocks) {
    uint32_t cyc = (uint32_t)h->cycle;
    size_t before = h->committed, done = 0, keep = retained(h);
    size_t i = find_committed_free(h, h->decommit_cursor);
    while (i < h->nblocks && done < max_blocks && h->committed > keep) {
        size_t n = 0, over = (h->committed - keep + BLOCK_SIZE - 1) / BLOCK_SIZE;
        while (i + n < h->nblocks && n < max_blocks - done && n < over &&
               block_committed_free(h->block_state[i + n]) && cyc - h->block_freed[i + n] >= 2)
            n++;
        if (n) {
            decommit_run(h, i, n);
            done += n;
            i += n;
        } else {
            i++;
        }
        i = find_committed_free(h, i);
    }
    h->decommit_cursor = i < h->nblocks ? i : 0;
    h->hint_dirty = find_state(h, 0, BLOCK_FREE_DIRTY);
    h->hint_ready = find_state(h, 0, BLOCK_FREE_READY);
    return before - h->committed;
}

/* [heap.prefault] Fault in clean blocks ahead of the allocators.  On a
 * virtual machine a page's first touch costs about 11 us, which a growing
 * heap pays on the mutator once a page (msgbuf's push loop spent more
 * time in page faults than in anything else).  The collector thread, on a
 * core no mutator wants, keeps committed free blocks ready under the
 * pacer's goal, once the heap holds PREFAULT_MIN_HEAP, up to a quarter of
 * the heap or PREFAULT_AHEAD bytes if less: blocks a mutator takes
 * from there fault nothing.  The driver calls it only while the mutators
 * allocate.  Memory under the goal is memory the heap grows
 * into before the cycle ends anyway, so the peak is not raised; what is
 * left unused ages out through heap_decommit_idle like any free block.
 *
 * Invariant: a FAULTING block is touched by nobody but the collector
 * thread that set it (find_run and the decommit pass skip it), so the
 * stores of os_prefault race with no one; it becomes FREE_READY under the
 * heap lock when done.  Lock NOT held; returns the blocks faulted in. */
#define PREFAULT_AHEAD ((size_t)16 << 20)

/* [heap.huge] A run of HUGE_BLOCKS clean blocks starting on a 2 MiB
 * boundary, at or after `from`; nblocks if there is none.  Lock held. */
static size_t find_clean_huge(rtgc_heap *h, size_t from) {
    size_t i = find_state(h, from, BLOCK_FREE_CLEAN);
    while (i < h->nblocks) {
        uintptr_t a = (uintptr_t)(h->base + i * BLOCK_SIZE);
        size_t j = i + ((HUGE_BYTES - a % HUGE_BYTES) % HUGE_BYTES) / BLOCK_SIZE;   /* the next boundary */
        if (j + HUGE_BLOCKS > h->nblocks)
            return h->nblocks;
        size_t k = 0;
        while (k < HUGE_BLOCKS && h->block_state[j + k] == BLOCK_FREE_CLEAN)
            k++;
        if (k == HUGE_BLOCKS)
            return j;
        i = find_state(h, j + k + 1, BLOCK_FREE_CLEAN);
    }
    return h->nblocks;
}

/* Lock held: the clean blocks to fault in now, marked FAULTING: a 2 MiB
 * run for a huge page when *huge and `blocks` wanted allow it (else *huge
 * is cleared), or up to min(blocks, max_blocks) from the first clean one.
 * Returns the first; *n is the count. */
static size_t prefault_claim(rtgc_heap *h, size_t blocks, size_t max_blocks, bool *huge, size_t *n) {
    size_t i = h->nblocks;
    *n = 0;
    if (*huge && blocks >= HUGE_BLOCKS && (i = find_clean_huge(h, h->hint_clean)) < h->nblocks) {
        blocks = HUGE_BLOCKS;
    } else {
        *huge = false;
        i = find_state(h, h->hint_clean, BLOCK_FREE_CLEAN);
        if (blocks > max_blocks)
            blocks = max_blocks;
    }
    while (i + *n < h->nblocks && *n < blocks && h->block_state[i + *n] == BLOCK_FREE_CLEAN)
        h->block_state[i + (*n)++] = BLOCK_FAULTING;
    h->committed += *n * BLOCK_SIZE;
    return i;
}

size_t heap_prefault(rtgc_heap *h, size_t max_blocks) {
    pthread_mutex_lock(&h->lock);
    if (h->heap_size < PREFAULT_MIN_HEAP) {
        /* A small heap faults little, and its collector has better things
         * to do: its cycles are short, and a prefault slice delayed them
         * enough that mutators swept twice as often (test_pacer). */
        pthread_mutex_unlock(&h->lock);
        return 0;
    }
    size_t free = h->committed - h->heap_size, room = h->heap_goal > h->heap_size ? h->heap_goal - h->heap_size : 0;
    size_t ahead = h->heap_size / 4 < PREFAULT_AHEAD ? h->heap_size / 4 : PREFAULT_AHEAD;   /* 8-16 MiB */
    size_t want = room < ahead ? room : ahead, n = 0, i = 0;
    bool huge = h->cfg.hugepages == RTGC_HUGEPAGES_AUTO && h->heap_size >= RTGC_HUGEPAGES_AUTO_MIN;
    if (free < want && h->committed + BLOCK_SIZE <= h->cfg.heap_limit) {
        size_t blocks = (want - free) / BLOCK_SIZE, cap = (h->cfg.heap_limit - h->committed) / BLOCK_SIZE;
        if (blocks > cap)
            blocks = cap;
        i = prefault_claim(h, blocks, max_blocks, &huge, &n);
    }
    pthread_mutex_unlock(&h->lock);
    if (!n)
        return 0;
    if (huge)
        os_advise_huge(h->base + i * BLOCK_SIZE, n * BLOCK_SIZE);
    os_prefault(h->base + i * BLOCK_SIZE, n * BLOCK_SIZE);
    for (size_t k = i; k < i + n; k++)
        rtgc_store_u8(h->markmap + ((k * BLOCK_SIZE) >> GRANULE_SHIFT), 0);   /* as take_blocks does */
    pthread_mutex_lock(&h->lock);
    uint32_t cyc = (uint32_t)h->cycle;
    for (size_t k = i; k < i + n; k++) {
        h->block_state[k] = BLOCK_FREE_READY;
        h->block_freed[k] = cyc;
    }
    if (i < h->hint_ready)
        h->hint_ready = i;
    h->stats.prefaulted_bytes += n * BLOCK_SIZE;
    pthread_mutex_unlock(&h->lock);
    return n;
}

/* ---- spans ---- */

static span *span_alloc(rtgc_heap *h, size_t nblocks, unsigned *mem) {
    size_t i = find_run(h, nblocks);
    if (i >= h->nblocks)
        return NULL;
    span *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (!take_blocks(h, i, nblocks, s, mem)) {
        free(s);
        return NULL;
    }
    s->base = h->base + i * BLOCK_SIZE;
    s->nblocks = nblocks;
    s->swept_cycle = h->cycle;
    h->heap_size += nblocks * BLOCK_SIZE;
    if (h->heap_size > h->heap_peak)
        h->heap_peak = h->heap_size;
    if (h->heap_size > h->cycle_peak)
        h->cycle_peak = h->heap_size;
    h->stats.allocated_bytes += nblocks * BLOCK_SIZE;
    return s;
}

/* [heap.extend] A new span's cells are threaded onto a free list a page's
 * worth at a time, as they are needed, not all at once: threading writes
 * every cell, and on fresh memory that is a page fault per 4 KiB, which
 * would all land in one allocation.  Cells past nthreaded are virgin:
 * never allocated, never swept, holding no object. */
void *span_extend(span *s) {
    /* A page (or two cells) of fresh memory at a time; memory that was
     * committed already faults nothing, so it is threaded in one go. */
    uint32_t n = !s->fresh ? s->ncells : s->cell_size >= 2048 ? 2 : 4096 / s->cell_size;
    uint32_t first = s->nthreaded, end = first + n < s->ncells ? first + n : s->ncells;
    void *list = NULL;
    for (uint32_t i = end; i-- > first;) {
        char *c = s->base + (size_t)i * s->cell_size;
        ((uint64_t *)c)[0] = 0;
        ((void **)c)[1] = list;
        if (RTGC_CHECK >= 2)
            memset(c + 16, POISON_BYTE, s->cell_size - 16);
        list = c;
    }
    s->nthreaded = end;
    return list;
}

/* The marker's view of s [mark.noscan]: relaxed stores, as markers read
 * the table without the lock. */
static void set_block_noscan(rtgc_heap *h, const span *s) {
    uint8_t v = span_noscan_byte(s);
    size_t b = block_index(h, s->base);
    for (size_t i = 0; i < s->nblocks; i++)
        rtgc_store_u8(&h->block_noscan[b + i], v);
}

span *span_new_small(rtgc_heap *h, unsigned sc) {
    unsigned mem;
    unsigned cls = sc_size_class(sc);
    span *s = span_alloc(h, class_blocks(cls), &mem);
    if (!s)
        return NULL;
    s->cls = cls;
    s->sc = sc;
    s->noscan = sc_noscan(sc);
    set_block_noscan(h, s);
    s->cell_size = rtgc_class_size[cls];
    s->ncells = (uint32_t)(span_bytes(s) / s->cell_size);
    s->nthreaded = 0;
    s->fresh = (mem & MEM_UNTOUCHED) != 0;
    s->free = NULL;                  /* the owner extends it [heap.extend] */
    s->nfree = s->ncells;
    s->handed = false;
    return s;
}

/* Its memory reads as zero when `zero` (a clean block does already; a
 * dirty one is cleared); else it holds what it held [alloc.uninit]. */
span *span_new_large(rtgc_heap *h, size_t bytes, bool zero, bool noscan) {
    unsigned mem;
    size_t nblocks = round_up(bytes, BLOCK_SIZE) / BLOCK_SIZE;
    span *s = span_alloc(h, nblocks, &mem);
    if (!s)
        return NULL;
    s->cls = SPAN_LARGE;
    s->sc = SPAN_LARGE;              /* on the large list, never a thread's */
    s->noscan = noscan;
    set_block_noscan(h, s);
    s->cell_size = 0;
    s->ncells = 1;
    if ((mem & MEM_DIRTY) && zero)
        memset(s->base, 0, bytes);
    return s;
}

void span_release(rtgc_heap *h, span *s) {
    size_t i = block_index(h, s->base);
    if (s->cls == SPAN_LARGE)
        rtgc_store_u8(mark_byte(h, s->base), 0); /* [heap.blocks] free blocks' mark bytes are zero */
    h->heap_size -= span_bytes(s);
    give_blocks(h, i, s->nblocks);
    free(s);
}

/* ---- layouts ---- */

rtgc_status rtgc_layout_register(rtgc_heap *h, const rtgc_layout *l, rtgc_layout_id *id, rtgc_error *err) {
    return layout_register(h, l, id, err, false);
}

/* The layout's checks, each with its own message; the element size it
 * implies (0 for a RECORD's, 8 a REF_ARRAY's, 1 a BYTES' by default) in
 * *elem_out. */
static rtgc_status layout_check(const rtgc_layout *l, rtgc_error *err, size_t *elem_out) {
#define BAD(field, ...) do { set_error(err, RTGC_EINVAL, field, __VA_ARGS__); return RTGC_EINVAL; } while (0)
    const char *name = l->name ? l->name : "(unnamed)";
    if (l->kind < RTGC_LAYOUT_RECORD || l->kind > RTGC_LAYOUT_CUSTOM)
        BAD("kind", "layout '%s': kind %d is not a layout kind", name, (int)l->kind);
    if (l->size < RTGC_HEADER_BYTES || l->size > UINT32_MAX)
        BAD("size", "layout '%s': size %zu must be at least 8 (the header)", name, l->size);
    if (l->kind == RTGC_LAYOUT_RECORD && l->size > UINT32_MAX - 16)
        BAD("size", "layout '%s': size %zu is too large", name, l->size);
    if (l->ref_count && !l->ref_offsets)
        BAD("ref_offsets", "layout '%s': ref_count is %zu but ref_offsets is NULL", name, l->ref_count);
    if (l->ref_count && l->ref_bitmap)
        BAD("ref_bitmap", "layout '%s': give reference slots as offsets or as a bitmap, not both", name);
    size_t words = l->size / 8;
    if (l->ref_bitmap & 1u)
        BAD("ref_bitmap", "layout '%s': bit 0 is the header word, which is not a reference", name);
    if (words < 64 && (l->ref_bitmap >> words))
        BAD("ref_bitmap", "layout '%s': bitmap names words beyond the fixed part (%zu words)", name, words);
    for (size_t i = 0; i < l->ref_count; i++) {
        uint32_t o = l->ref_offsets[i];
        if (o % 8 || o < RTGC_HEADER_BYTES || (size_t)o + 8 > l->size)
            BAD("ref_offsets", "layout '%s': ref_offsets[%zu] = %u must be 8-aligned, past the header and inside size %zu",
                name, i, o, l->size);
    }
    size_t elem = l->elem_size;
    switch (l->kind) {
    case RTGC_LAYOUT_RECORD:
        if (elem)
            BAD("elem_size", "layout '%s': a RECORD has no elements (elem_size must be 0)", name);
        break;
    case RTGC_LAYOUT_REF_ARRAY:
        if (elem == 0) elem = 8;
        if (elem != 8)
            BAD("elem_size", "layout '%s': REF_ARRAY elements are 8-byte references (elem_size 0 or 8)", name);
        if (l->size % 8)
            BAD("size", "layout '%s': a REF_ARRAY's fixed part must be a multiple of 8 bytes", name);
        break;
    case RTGC_LAYOUT_BYTES:
        if (elem == 0) elem = 1;
        break;
    case RTGC_LAYOUT_CUSTOM:
        if (!l->trace)
            BAD("trace", "layout '%s': a CUSTOM layout needs a trace callback", name);
        break;
    }
    if (elem > UINT32_MAX)
        BAD("elem_size", "layout '%s': elem_size %zu is too large", name, elem);
    if (l->kind != RTGC_LAYOUT_CUSTOM && l->trace)
        BAD("trace", "layout '%s': only CUSTOM layouts take a trace callback", name);
    *elem_out = elem;
    return RTGC_OK;
#undef BAD
}

rtgc_status layout_register(rtgc_heap *h, const rtgc_layout *l, rtgc_layout_id *id, rtgc_error *err, bool traced) {
    if (!h || !l || !id) {
        set_error(err, RTGC_EINVAL, "layout", "heap, layout and id must not be NULL");
        return RTGC_EINVAL;
    }
    size_t elem, words = l->size / 8;
    rtgc_status st = layout_check(l, err, &elem);
    if (st != RTGC_OK)
        return st;
    const char *name = l->name ? l->name : "(unnamed)";
    pthread_mutex_lock(&h->lock);
    if (h->nlayouts >= RTGC_MAX_LAYOUTS) {
        pthread_mutex_unlock(&h->lock);
        set_error(err, RTGC_ENOMEM, "layout", "layout '%s': all %u layout ids are taken", name, RTGC_MAX_LAYOUTS - 1);
        return RTGC_ENOMEM;
    }
    uint32_t n = h->nlayouts;
    layout_desc *d = &h->layouts[n];
    memset(d, 0, sizeof *d);
    d->kind = l->kind;
    /* [alloc.uninit] The collector reads no word of such an object's body. */
    d->pointer_free = (l->kind == RTGC_LAYOUT_RECORD || l->kind == RTGC_LAYOUT_BYTES) && !l->ref_count &&
                      !l->ref_bitmap;
    d->fixed_size = (uint32_t)l->size;
    d->elem_size = (uint32_t)elem;
    d->trace = l->trace;
    d->trace_data = l->trace_data;
    snprintf(d->name, sizeof d->name, "%s", name);
    if (l->ref_count) {
        if (words <= 64) {
            for (size_t i = 0; i < l->ref_count; i++)
                d->bitmap |= (uint64_t)1 << (l->ref_offsets[i] / 8);
        } else {
            d->offsets = malloc(l->ref_count * sizeof *d->offsets);
            if (!d->offsets) {
                pthread_mutex_unlock(&h->lock);
                set_error(err, RTGC_ENOMEM, "ref_offsets", "layout '%s': out of memory", name);
                return RTGC_ENOMEM;
            }
            memcpy(d->offsets, l->ref_offsets, l->ref_count * sizeof *d->offsets);
            d->noffsets = l->ref_count;
        }
    } else {
        d->bitmap = l->ref_bitmap;
    }
    d->nrefs = (uint32_t)__builtin_popcountll(d->bitmap) + (uint32_t)d->noffsets; /* once, not per object */
    d->noscan = d->pointer_free && !traced;          /* [mark.noscan]: and noscan spans, layout_noscan_ok */
    h->layout_info[n].fixed_size = d->fixed_size;
    h->layout_info[n].elem_size = l->kind == RTGC_LAYOUT_RECORD ? 0 : d->elem_size;
    h->layout_info[n].pointer_free = layout_noscan_ok(d);  /* the fast paths' noscan lists [mark.noscan] */
    /* Release: a thread that reads the new count sees the whole descriptor
     * (layouts may be registered while other threads allocate: rtgc/weak.h's
     * own are registered on first use). */
    __atomic_store_n(&h->nlayouts, n + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&h->lock);
    *id = (rtgc_layout_id)n;
    return RTGC_OK;
}

size_t rtgc_layout_object_size(rtgc_heap *h, rtgc_layout_id id, uint32_t count) {
    if (id == 0 || id >= __atomic_load_n(&h->nlayouts, __ATOMIC_ACQUIRE))
        return 0;
    return object_size(&h->layouts[id], h->layouts[id].kind == RTGC_LAYOUT_RECORD ? 0 : count);
}

/* ---- lifecycle ---- */

/* The side tables of a reservation (h->base .. h->end, reserved already):
 * mark bytes, the per-block tables, the layout tables.  False if any is
 * missing; tables_free releases whatever there is. */
static bool tables_alloc(rtgc_heap *h) {
    h->markmap = os_map_table(h->reserve >> GRANULE_SHIFT);
    h->block_span = calloc(h->nblocks, sizeof *h->block_span);
    h->block_state = calloc(h->nblocks, 1);
    h->block_freed = calloc(h->nblocks, sizeof *h->block_freed);
    h->block_live = calloc(h->nblocks, sizeof *h->block_live);
    h->block_noscan = calloc(h->nblocks, 1);
    h->layout_info = calloc(RTGC_MAX_LAYOUTS, sizeof *h->layout_info);
    h->layouts = calloc(RTGC_MAX_LAYOUTS, sizeof *h->layouts);
    return h->base && h->markmap && h->block_span && h->block_state && h->block_freed && h->block_live &&
           h->block_noscan && h->layout_info && h->layouts;
}

static void tables_free(rtgc_heap *h) {
    if (h->base)
        os_release(h->base, h->reserve);
    if (h->markmap)
        os_release(h->markmap, h->reserve >> GRANULE_SHIFT);
    free(h->block_span);
    free(h->block_state);
    free(h->block_freed);
    free((void *)h->block_live);
    free(h->block_noscan);
    free(h->layout_info);
    free(h->layouts);
}

/* The reservation, block-aligned, and the side tables; false (with
 * nothing left allocated but h) when any is refused. */
static bool heap_map(rtgc_heap *h, size_t reserve) {
    h->reserve = reserve;
    h->nblocks = reserve / BLOCK_SIZE;
    /* [heap.huge] on: the whole reservation; auto: only the runs the
     * collector faults in ahead (heap_prefault). */
    h->base = os_reserve(reserve + BLOCK_SIZE, h->cfg.hugepages == RTGC_HUGEPAGES_ON);
    if (h->base) {
        /* Align the base to a block so that block arithmetic is exact. */
        char *aligned = (char *)round_up((uintptr_t)h->base, BLOCK_SIZE);
        if (aligned != h->base)
            os_release(h->base, (size_t)(aligned - h->base));
        size_t tail = BLOCK_SIZE - (size_t)(aligned - h->base);
        if (tail)
            os_release(aligned + reserve, tail);
        h->base = aligned;
        h->end = aligned + reserve;
    }
    if (!tables_alloc(h)) {
        tables_free(h);
        return false;
    }
    h->markmap_bias = h->markmap - ((uintptr_t)h->base >> GRANULE_SHIFT);
    return true;
}

static void heap_init_sync(rtgc_heap *h) {
    pthread_mutex_init(&h->lock, NULL);
    pthread_mutex_init(&h->threads_lock, NULL);
    pthread_mutex_init(&h->world_lock, NULL);
    pthread_mutex_init(&h->gc_lock, NULL);
    pthread_mutex_init(&h->stats_lock, NULL);
    pthread_cond_init(&h->stop_cv, NULL);
    pthread_cond_init(&h->world_cv, NULL);
    os_cond_init(&h->hs_cv);
    pthread_mutex_init(&h->grey_lock, NULL);
    os_cond_init(&h->help_cv);
    pthread_mutex_init(&h->cycle_lock, NULL);
    os_cond_init(&h->cycle_cv);
}

/* The pause records, the helpers and the collector thread; on failure
 * the heap is destroyed and the error set. */
static rtgc_status heap_start(rtgc_heap *h, rtgc_error *err) {
    const rtgc_config *c = &h->cfg;
    if (!h->ring || !h->hist_wall || !h->hist_work) {
        set_error(err, RTGC_ENOMEM, "pause_log", "out of memory for %u pause records", c->pause_log);
        h->threads = NULL;
        rtgc_heap_destroy(h);
        return RTGC_ENOMEM;
    }
    if (helpers_start(h) != RTGC_OK) {
        set_error(err, RTGC_ENOMEM, "collector_threads", "cannot start %u marking helper threads",
                  c->collector_threads - 1);
        rtgc_heap_destroy(h);
        return RTGC_ENOMEM;
    }
    if (c->mode == RTGC_MODE_CONCURRENT && cycle_start_collector(h) != RTGC_OK) {
        set_error(err, RTGC_ENOMEM, "collector_threads", "cannot start the collector thread");
        rtgc_heap_destroy(h);
        return RTGC_ENOMEM;
    }
    return RTGC_OK;
}

rtgc_status rtgc_heap_create(const rtgc_config *cfg, rtgc_heap **out, rtgc_error *err) {
    if (!out) {
        set_error(err, RTGC_EINVAL, "heap", "the heap out-pointer is NULL");
        return RTGC_EINVAL;
    }
    *out = NULL;
    rtgc_config c;
    if (cfg)
        c = *cfg;
    else
        rtgc_config_init(&c);
    rtgc_status st = rtgc_config_validate(&c, err);
    if (st != RTGC_OK)
        return st;
    rtgc_heap *h = calloc(1, sizeof *h);
    if (!h) {
        set_error(err, RTGC_ENOMEM, "heap", "out of memory for the heap descriptor");
        return RTGC_ENOMEM;
    }
    h->cfg = c;
    size_t reserve = round_up(2 * c.heap_limit, BLOCK_SIZE);
    if (reserve < ((size_t)4 << 20))
        reserve = (size_t)4 << 20;
    if (!heap_map(h, reserve)) {
        set_error(err, RTGC_ENOMEM, "heap_limit", "cannot reserve %zu bytes of address space for the heap", reserve);
        free(h);
        return RTGC_ENOMEM;
    }
    /* Unregistered ids read as too large for the fast path, so the slow
     * path sees them and reports the misuse. */
    for (size_t i = 0; i < RTGC_MAX_LAYOUTS; i++)
        h->layout_info[i].fixed_size = UINT32_MAX;
    h->nlayouts = 1;                     /* id 0 marks a free cell */
    snprintf(h->layouts[0].name, sizeof h->layouts[0].name, "(free)");
    h->epoch = 1;
    if (h->cfg.min_trigger == 0) {
        /* auto: 4 MiB, or a quarter of a smaller heap */
        h->cfg.min_trigger = c.heap_limit / 4 < ((size_t)4 << 20) ? c.heap_limit / 4 : ((size_t)4 << 20);
    }
    h->trigger = h->cfg.min_trigger;
    h->heap_goal = c.heap_limit;          /* nothing to sweep before the first cycle [cycle.goal] */
    h->next_thread_id = 1;
    heap_init_sync(h);
    weak_init(h);
    stats_init(h);
    mark_init(h);
    if ((st = heap_start(h, err)) != RTGC_OK)
        return st;
    *out = h;
    return RTGC_OK;
}

void rtgc_heap_destroy(rtgc_heap *h) {
    if (!h)
        return;
    pthread_mutex_lock(&h->threads_lock);
    rtgc_thread *live = h->threads;
    pthread_mutex_unlock(&h->threads_lock);
    if (live) {
        rtgc__misuse(h, "rtgc_heap_destroy: thread %u is still attached; detach every thread first", live->id);
        return;
    }
    cycle_stop_collector(h);
    helpers_stop(h);
    share_fini(h);
    for (mark_chunk *c = h->shared_grey, *n; c; c = n) {
        n = c->prev;
        free(c);
    }
    for (size_t i = 0; i < h->nblocks;) {
        span *s = h->block_span[i];
        if (!s) {
            i++;
            continue;
        }
        i += s->nblocks;             /* a span covers several blocks: free it once */
        free(s);
    }
    for (rtgc_thread *t = h->dead_threads, *n; t; t = n) {
        n = t->next;
        free(t);
    }
    for (uint32_t i = 0; i < h->nlayouts; i++)
        free(h->layouts[i].offsets);
    roots_fini(h);
    weak_fini(h);
    mark_fini(h);
    stats_fini(h);
    tables_free(h);
    pthread_mutex_destroy(&h->lock);
    pthread_mutex_destroy(&h->threads_lock);
    pthread_mutex_destroy(&h->world_lock);
    pthread_mutex_destroy(&h->gc_lock);
    pthread_mutex_destroy(&h->stats_lock);
    pthread_cond_destroy(&h->stop_cv);
    pthread_cond_destroy(&h->world_cv);
    pthread_cond_destroy(&h->hs_cv);
    pthread_mutex_destroy(&h->grey_lock);
    pthread_cond_destroy(&h->help_cv);
    pthread_mutex_destroy(&h->cycle_lock);
    pthread_cond_destroy(&h->cycle_cv);
    free(h);
}

const rtgc_config *rtgc_heap_config(rtgc_heap *h) {
    return &h->cfg;
}

void rtgc_heap_set_user_data(rtgc_heap *h, void *data) {
    __atomic_store_n(&h->user_data, data, __ATOMIC_RELEASE);
}

void *rtgc_heap_user_data(rtgc_heap *h) {
    return __atomic_load_n(&h->user_data, __ATOMIC_ACQUIRE);
}

_Thread_local uint64_t tl_lock_wait_ns;

void lock_handoff(volatile uintptr_t *waiters, uint64_t deadline) {
    /* [heap.handoff] Until the caller's deadline (its slice is bounded),
     * and at most 200 us: a waiter that does not get the lock by then is
     * not running. */
    if (!rtgc_atomic_load(waiters))
        return;
    uint64_t until = os_now_ns() + 200000;
    if (until > deadline)
        until = deadline;
    while (rtgc_atomic_load(waiters) && os_now_ns() < until)
        sched_yield();
}

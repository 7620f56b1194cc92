/* harness/workloads/objects.c - the native object kit (see objects.h). */
#include <stdio.h>

#include "objects.h"

kit K;

int kit_register(rtgc_heap *heap, char *err, size_t len) {
    rtgc_error e;
    rtgc_layout str = {.name = "gclat.str", .kind = RTGC_LAYOUT_BYTES, .size = RTGC_HEADER_BYTES, .elem_size = 1};
    rtgc_layout vec = {.name = "gclat.vec", .kind = RTGC_LAYOUT_REF_ARRAY, .size = RTGC_HEADER_BYTES, .elem_size = 8};
    rtgc_layout flt = {.name = "gclat.float", .kind = RTGC_LAYOUT_RECORD, .size = 16};
    if (rtgc_layout_register(heap, &str, &K.str, &e) || rtgc_layout_register(heap, &vec, &K.vec, &e) ||
        rtgc_layout_register(heap, &flt, &K.flt, &e))
        goto fail;
    for (unsigned n = 1; n <= 8; n++) {
        static char names[9][16];
        snprintf(names[n], sizeof names[n], "gclat.rec%u", n);
        rtgc_layout r = {.name = names[n], .kind = RTGC_LAYOUT_RECORD, .size = 8 + 8 * n,
                         .ref_bitmap = ((1ull << n) - 1) << 1};
        if (rtgc_layout_register(heap, &r, &K.rec[n], &e))
            goto fail;
    }
    return 0;
fail:
    snprintf(err, len, "layout: %s", e.message);
    return -1;
}

void *str_concat(rtgc_thread *t, void **a, void **b) {
    uint32_t la = count_of(*a), lb = count_of(*b);
    void *s = new_buf(t, la + lb);
    if (!s)
        return NULL;
    /* string bytes hold no references: read them directly */
    memcpy(str_bytes(s), str_bytes(*a), la);
    memcpy(str_bytes(s) + la, str_bytes(*b), lb);
    return s;
}

void *str_join(rtgc_thread *t, void **v) {
    uint32_t n = count_of(*v), total = 0;
    for (uint32_t i = 0; i < n; i++) {
        void *p = get(t, *v, i);
        if (p)
            total += count_of(p);
    }
    void *s = new_str(t, NULL, total);
    if (!s)
        return NULL;
    uint32_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        void *p = get(t, *v, i);
        if (p) {
            memcpy(str_bytes(s) + at, str_bytes(p), count_of(p));
            at += count_of(p);
        }
    }
    return s;
}

int oom(gclat_ctx *c, const void *p) {
    if (p)
        return 0;
    if (!c->error[0])
        snprintf(c->error, sizeof c->error, "out of memory: the heap limit is too small for this workload");
    return 1;
}

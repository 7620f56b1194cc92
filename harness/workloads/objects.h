/* harness/workloads/objects.h - the native workloads' object kit.
 *
 * Every native workload builds its data from the same few layouts,
 * registered once per heap (kit_register, on the main thread before any
 * worker allocates):
 *   str     BYTES: count bytes of text after the header
 *   vec     REF_ARRAY: count slots
 *   flt     RECORD of one double (a boxed float, no references)
 *   rec[n]  RECORD of n slots, every one a reference slot (n = 1..8);
 *           small integers live in them as immediates (low bit set)
 *
 * The rules of the public API apply: every reference read from an object
 * goes through rtgc_load, every store through rtgc_store, and any reference
 * that must survive an allocation or a poll sits in a shadow-stack frame
 * slot (RTGC_FRAME) or a handle, never only in a C local.
 */
#ifndef GCLAT_OBJECTS_H
#define GCLAT_OBJECTS_H
#include <string.h>

#include "../gclat.h"

typedef struct kit {
    rtgc_layout_id str, vec, flt, rec[9];
} kit;
extern kit K;

int kit_register(rtgc_heap *heap, char *err, size_t len);

static inline void *imm(int64_t v) {
    return (void *)(((uintptr_t)v << 1) | 1u);
}
static inline int64_t unimm(const void *p) {
    return (int64_t)(intptr_t)p >> 1;
}
static inline void **slots_of(void *obj) {
    return (void **)obj + 1;
}
static inline void *get(rtgc_thread *t, void *obj, uint32_t i) {
    return rtgc_load(t, &slots_of(obj)[i]);
}
static inline void set(rtgc_thread *t, void *obj, uint32_t i, void *v) {
    rtgc_store(t, obj, &slots_of(obj)[i], v);
}
static inline uint32_t count_of(const void *obj) {
    return rtgc_object_count(obj);
}
static inline char *str_bytes(void *s) {
    return (char *)s + RTGC_HEADER_BYTES;
}

/* Allocation; NULL (with the OOM handler called) when the heap is full. */
static inline void *new_rec(rtgc_thread *t, unsigned n) {
    return rtgc_alloc(t, K.rec[n]);
}
static inline void *new_vec(rtgc_thread *t, uint32_t n) {
    return rtgc_alloc_array(t, K.vec, n);
}
/* A str of len bytes, uninitialised (rtgc_alloc_array_uninit): for a
 * caller that writes every byte before it reads any. */
static inline void *new_buf(rtgc_thread *t, uint32_t len) {
    return rtgc_alloc_array_uninit(t, K.str, len);
}
/* A str of len bytes copied from src, or zeroed when src is NULL. */
static inline void *new_str(rtgc_thread *t, const char *src, uint32_t len) {
    if (!src)
        return rtgc_alloc_array(t, K.str, len);
    void *s = new_buf(t, len);
    if (s)
        memcpy(str_bytes(s), src, len);
    return s;
}
static inline void *new_float(rtgc_thread *t, double v) {
    double *f = rtgc_alloc(t, K.flt);
    if (f)
        f[1] = v;
    return f;
}
static inline double float_of(const void *f) {
    return ((const double *)f)[1];
}
/* A new string a+b; a and b must be rooted by the caller. */
void *str_concat(rtgc_thread *t, void **a, void **b);
/* A new string joining the strings of vector *v (rooted by the caller). */
void *str_join(rtgc_thread *t, void **v);

/* The open-loop request driver (web.c): `rate` requests a second over all
 * workers, each calling (setup worker sessions extra...) once, then
 * (request seq session) at its share of the rate, a session picked at
 * random among `sessions`; latency from each request's scheduled start. */
void gclat_drive_requests(gclat_ctx *c, double rate, int64_t sessions, const int64_t *extra, int nextra);

/* Set c->error when an allocation returned NULL; returns 1 if so. */
int oom(gclat_ctx *c, const void *p);
#endif

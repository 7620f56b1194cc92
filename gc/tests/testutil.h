/* gc/tests/testutil.h - helpers shared by the cmocka tests.
 *
 * Every randomised test takes its seed from RTGC_TEST_SEED when set, else
 * from the clock, and prints it, so a failure can be replayed:
 *     RTGC_TEST_SEED=1234 build/tests/test_graph
 */
#ifndef RTGC_TESTUTIL_H
#define RTGC_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <rtgc.h>

/* Whether the mapping holding p asks for huge pages ("hg" among the
 * VmFlags of its /proc/self/smaps entry); -1 where smaps says nothing. */
static inline int test_vma_hugepage_flag(const void *p) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512];
    int in = 0, flag = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {      /* a mapping's first line */
            in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
            continue;
        }
        if (in && strncmp(line, "VmFlags:", 8) == 0) {
            flag = strstr(line, " hg") != NULL;
            break;
        }
    }
    fclose(f);
    return flag;
}

static inline uint64_t test_seed(const char *test) {
    const char *env = getenv("RTGC_TEST_SEED");
    uint64_t seed;
    if (env && *env) {
        seed = strtoull(env, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20);
    }
    printf("[ SEED     ] %s: RTGC_TEST_SEED=%llu\n", test, (unsigned long long)seed);
    fflush(stdout);
    return seed;
}

/* xorshift64*: small, fast, replayable. */
static inline uint64_t test_rand(uint64_t *s) {
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* A heap with the given options string applied on top of the defaults. */
static inline rtgc_heap *test_heap(const char *options) {
    rtgc_config cfg;
    rtgc_error err;
    rtgc_heap *h = NULL;
    rtgc_config_init(&cfg);
    if (options && rtgc_config_parse(&cfg, options, &err) != RTGC_OK) {
        fprintf(stderr, "bad test options '%s': %s\n", options, err.message);
        abort();
    }
    if (rtgc_heap_create(&cfg, &h, &err) != RTGC_OK) {
        fprintf(stderr, "heap_create failed: %s\n", err.message);
        abort();
    }
    return h;
}

#endif

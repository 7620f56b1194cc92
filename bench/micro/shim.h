/* bench/micro/shim.h - Google Benchmark, driven from C.
 *
 * A thin C API over the C++ library (bench/micro/shim.cc), so the
 * micro-benchmarks are written in the project's own language.  A benchmark is
 * a function that loops while rtb_keep_running() says so:
 *
 *     static void bm_thing(rtb_state *st, void *arg) {
 *         ...setup, not timed...
 *         while (rtb_keep_running_batch(st, 256))
 *             for (int i = 0; i < 256; i++)
 *                 rtb_do_not_optimize(thing());
 *         rtb_set_items(st, rtb_iterations(st));
 *     }
 *     rtb_register_args("thing", bm_thing, NULL, sizes, 3);
 *
 * Calls into the shim are out of line (a C caller cannot inline C++), so a
 * benchmark of an operation of a few nanoseconds runs it in batches:
 * rtb_keep_running_batch(st, n) counts n iterations per call, and the
 * reported time per iteration is then the time per operation.
 *
 * The timer starts at the first rtb_keep_running*() call and stops at the
 * last: setup before the loop and teardown after it are not measured.
 */
#ifndef RTGC_BENCH_SHIM_H
#define RTGC_BENCH_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rtb_state rtb_state; /* a benchmark::State */
typedef struct rtb_bench rtb_bench; /* a registered benchmark::internal::Benchmark */
typedef void (*rtb_fn)(rtb_state *st, void *arg);

/* Time unit of the report (Google Benchmark's default is ns). */
typedef enum rtb_unit { RTB_NS = 0, RTB_US = 1, RTB_MS = 2, RTB_S = 3 } rtb_unit;

/* Counter flags, the values of benchmark::Counter::Flags. */
#define RTB_COUNTER_DEFAULT 0u
#define RTB_COUNTER_RATE (1u << 0)           /* divided by the run's time */
#define RTB_COUNTER_AVG_ITERATIONS (1u << 3) /* divided by the iteration count */
#define RTB_COUNTER_INVERT (1u << 31)        /* 1/x, after the above */

/* --- registration (before rtb_main) --- */

/* One benchmark; fn receives arg on every run.  The name is copied. */
rtb_bench *rtb_register(const char *name, rtb_fn fn, void *arg);
/* One benchmark run once per value of args[0..n) (name/<value>); the value
 * is rtb_range(st, 0). */
rtb_bench *rtb_register_args(const char *name, rtb_fn fn, void *arg, const int64_t *args, size_t n);
/* Add one more argument value (another instance). */
void rtb_bench_arg(rtb_bench *b, int64_t value);
/* Show the argument as name:value in the benchmark's name. */
void rtb_bench_arg_name(rtb_bench *b, const char *name);
void rtb_bench_unit(rtb_bench *b, rtb_unit unit);
/* Minimum time a run must last (overrides --benchmark_min_time). */
void rtb_bench_min_time(rtb_bench *b, double seconds);

/* --- inside a benchmark --- */
int rtb_keep_running(rtb_state *st);
int rtb_keep_running_batch(rtb_state *st, int64_t n);
int64_t rtb_iterations(const rtb_state *st);
int64_t rtb_range(const rtb_state *st, int i);
void rtb_pause_timing(rtb_state *st);
void rtb_resume_timing(rtb_state *st);
void rtb_set_items(rtb_state *st, int64_t items);
void rtb_set_bytes(rtb_state *st, int64_t bytes);
void rtb_counter(rtb_state *st, const char *name, double value);
void rtb_counter_flags(rtb_state *st, const char *name, double value, unsigned flags);
void rtb_set_label(rtb_state *st, const char *label);
/* Report the run as failed; the benchmark may return right after (before or
 * instead of its loop). */
void rtb_skip_with_error(rtb_state *st, const char *message);

/* Parse the --benchmark_* flags, run what was registered, report.
 * Returns 0, or 1 for an unrecognised argument. */
int rtb_main(int argc, char **argv);

/* --- keeping the compiler honest (benchmark::DoNotOptimize's asm) --- */

/* p and everything reachable through it is read and may be written. */
static inline __attribute__((always_inline)) void rtb_do_not_optimize(const void *p) {
    __asm__ __volatile__("" : : "r,m"(p) : "memory");
}
/* The value is used, in a register: no memory clobber, so loads and stores
 * around it stay free to be scheduled. */
static inline __attribute__((always_inline)) void rtb_use(uint64_t v) {
    __asm__ __volatile__("" : : "r"(v));
}
/* Every store so far is done; memory may have changed. */
static inline __attribute__((always_inline)) void rtb_clobber_memory(void) {
    __asm__ __volatile__("" : : : "memory");
}

#ifdef __cplusplus
}
#endif
#endif

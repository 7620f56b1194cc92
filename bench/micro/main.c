/* bench/micro/main.c - the micro-benchmark binary (build/bench/micro).
 *
 *   build/bench/micro [--benchmark_filter=REGEX] [--benchmark_min_time=S] ...
 *
 * Every --benchmark_* flag of Google Benchmark works; see --help. */
#include "shim.h"

/* bench/micro/alloc_bench.c */
void rtgc_bench_alloc_register(void);
/* bench/micro/gc_bench.c */
void rtgc_bench_gc_register(void);

int main(int argc, char **argv) {
    rtgc_bench_alloc_register();
    rtgc_bench_gc_register();
    return rtb_main(argc, argv);
}

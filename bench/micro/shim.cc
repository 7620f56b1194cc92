// bench/micro/shim.cc - the C API of bench/micro/shim.h over Google Benchmark.
//
// rtb_state and rtb_bench are the library's own objects behind opaque C
// names; every function here is a cast and one call.

#include "shim.h"

#include <benchmark/benchmark.h>

namespace {

inline benchmark::State *S(rtb_state *st) { return reinterpret_cast<benchmark::State *>(st); }
inline const benchmark::State *S(const rtb_state *st) {
    return reinterpret_cast<const benchmark::State *>(st);
}
inline benchmark::internal::Benchmark *B(rtb_bench *b) {
    return reinterpret_cast<benchmark::internal::Benchmark *>(b);
}
inline rtb_bench *C(benchmark::internal::Benchmark *b) { return reinterpret_cast<rtb_bench *>(b); }

}  // namespace

extern "C" {

rtb_bench *rtb_register(const char *name, rtb_fn fn, void *arg) {
    return C(benchmark::RegisterBenchmark(
        name, [fn, arg](benchmark::State &st) { fn(reinterpret_cast<rtb_state *>(&st), arg); }));
}

rtb_bench *rtb_register_args(const char *name, rtb_fn fn, void *arg, const int64_t *args, size_t n) {
    rtb_bench *b = rtb_register(name, fn, arg);
    for (size_t i = 0; i < n; i++)
        B(b)->Arg(args[i]);
    return b;
}

void rtb_bench_arg(rtb_bench *b, int64_t value) { B(b)->Arg(value); }
void rtb_bench_arg_name(rtb_bench *b, const char *name) { B(b)->ArgName(name); }

void rtb_bench_unit(rtb_bench *b, rtb_unit unit) {
    static const benchmark::TimeUnit units[] = {benchmark::kNanosecond, benchmark::kMicrosecond,
                                                benchmark::kMillisecond, benchmark::kSecond};
    B(b)->Unit(units[unit <= RTB_S ? unit : RTB_NS]);
}

void rtb_bench_min_time(rtb_bench *b, double seconds) { B(b)->MinTime(seconds); }

int rtb_keep_running(rtb_state *st) { return S(st)->KeepRunning(); }
int rtb_keep_running_batch(rtb_state *st, int64_t n) { return S(st)->KeepRunningBatch(n); }
int64_t rtb_iterations(const rtb_state *st) { return S(st)->iterations(); }
int64_t rtb_range(const rtb_state *st, int i) { return S(st)->range(static_cast<std::size_t>(i)); }
void rtb_pause_timing(rtb_state *st) { S(st)->PauseTiming(); }
void rtb_resume_timing(rtb_state *st) { S(st)->ResumeTiming(); }
void rtb_set_items(rtb_state *st, int64_t items) { S(st)->SetItemsProcessed(items); }
void rtb_set_bytes(rtb_state *st, int64_t bytes) { S(st)->SetBytesProcessed(bytes); }

void rtb_counter(rtb_state *st, const char *name, double value) { S(st)->counters[name] = value; }

void rtb_counter_flags(rtb_state *st, const char *name, double value, unsigned flags) {
    S(st)->counters[name] =
        benchmark::Counter(value, static_cast<benchmark::Counter::Flags>(flags));
}

void rtb_set_label(rtb_state *st, const char *label) { S(st)->SetLabel(label); }
void rtb_skip_with_error(rtb_state *st, const char *message) { S(st)->SkipWithError(message); }

int rtb_main(int argc, char **argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

}  // extern "C"

static_assert(RTB_COUNTER_RATE == benchmark::Counter::kIsRate, "counter flags");
static_assert(RTB_COUNTER_AVG_ITERATIONS == benchmark::Counter::kAvgIterations, "counter flags");
static_assert(RTB_COUNTER_INVERT == static_cast<unsigned>(benchmark::Counter::kInvert), "counter flags");

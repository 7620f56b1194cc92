/* rtgc/config.h - heap configuration, status codes and errors.
 *
 * A configuration is a plain struct: fill it with rtgc_config_init(), change
 * fields in code, or apply a "key=value,key=value" string
 * (rtgc_config_parse) or the RTGC_OPTIONS environment variable
 * (rtgc_config_from_env).  rtgc_heap_create() validates it again; a bad value
 * is reported as a status code and a message that names the field, never as
 * a crash.
 *
 * Option keys (the same names as the struct fields, shortened):
 *   heap=SIZE        heap limit, e.g. 64M, 2G (suffixes K M G T, binary)
 *   budget=TIME      pause budget, e.g. 1ms, 250us, 500000ns
 *   mode=NAME        concurrent | incremental | step | stw
 *   threads=N        markers: the thread that runs the cycle and N-1 marking
 *                    helper threads.  concurrent: helpers trace beside the
 *                    collector thread on cores no mutator wants; stw: every
 *                    helper marks during the stop; incremental and step: the
 *                    embedder allows helpers, and they trace only inside the
 *                    mutator's own slice (they stop at its deadline)
 *   mmu=F            minimum mutator utilisation target over 10 ms, 0<F<1 (or 70%)
 *   growth=F         the heap the pacer aims at: live*(1+F) plus a margin of
 *                    two spans per size class in use (like GOGC/100); the
 *                    limit (heap=) is a hard cap, never the aim.  A cycle
 *                    starts early enough, from the measured allocation of
 *                    past cycles, to end near that goal.  It trades memory
 *                    for collector CPU and cycle frequency: a smaller F
 *                    collects more often (each cycle marks the whole live
 *                    set), sweeps more spans and makes the mutators assist
 *                    more; a larger F keeps more garbage between cycles.
 *                    When a cycle allocates more than the room live*F
 *                    (a fast mutator, a collector held to its cpu= share),
 *                    the heap ends cycles past the goal (assists start
 *                    only past the room once more, or past twice the
 *                    measured cycle allocation, up to live*(1+4F): the MMU
 *                    comes first), and the mutators sweep for themselves
 *                    past the goal.
 *                    msgbuf (bench/macro/peers.c: 200,000 x 1 KiB window, 5
 *                    million pushes, 197 MiB live; concurrent, heap=1G,
 *                    the 2-vCPU machine quiet; medians of 3 runs,
 *                    2026-12-08; jemalloc: loop 0.95-1.0 s, 207 MiB RSS):
 *                      growth  loop   peak RSS       cycles  collector CPU  MMU(10ms)
 *                      0.25    1.28s  267 MiB 1.36x  147     0.67 s         0.84
 *                      0.5     1.12s  320 MiB 1.62x  70      0.34 s         0.84
 *                      1       1.32s  420 MiB 2.13x  36      0.24 s         0.88
 *                      2       1.51s  604 MiB 3.06x  20      0.18 s         0.98
 *                    (RSS against the live set; MMU by wall time from the
 *                    records.)  The heap ends cycles near the goal at
 *                    every F here; RSS is the heap plus its mark bytes
 *                    (1/16).  A smaller F costs collector CPU on a core
 *                    the mutator does not use (when there is one), and
 *                    mutator sweeps: 4,000 spans of 260,000 at 0.25.
 *   cpu=F            CPU share a background collector may take from mutators
 *                    that want the CPU, 0<F<=1 (or 25%); a core no mutator
 *                    wants is the collector's (gc/DESIGN.md, [share.sample])
 *   hugepages=auto|on|off  transparent huge pages (2 MiB) for the heap.
 *                    auto (the default): once the heap holds 64 MiB, the
 *                    collector thread faults memory in ahead of the
 *                    mutators as whole huge pages (concurrent mode,
 *                    [heap.prefault]); a mutator's own faults stay on
 *                    small pages.  A huge page faults once where 512
 *                    small ones each fault (about 11 us apiece in a
 *                    virtual machine: msgbuf's push loop 1.6x jemalloc's
 *                    without, 1.1-1.3x with), but a 2 MiB fault took
 *                    0.5-3.9 ms here: on the collector's core, never in a
 *                    mutator's allocation.  on: the whole reservation,
 *                    mutators' faults included (a throughput choice);
 *                    off: never.  Nothing changes where the kernel's THP
 *                    setting is "never".
 *   min_trigger=SIZE never start a cycle below this heap size (0: 4M, or a
 *                    quarter of a smaller heap)
 *   stress=N         collect every N allocations (testing knob; 0 = off)
 *   verify=0|1       run the heap verifier at the end of every cycle
 *   pause_log=N      how many pause records the ring keeps (a power of two, 16..16M)
 *   inject=POINT:TIME  testing knob: spin for TIME of CPU inside every pause
 *                    at POINT, so that regression tests can prove they catch
 *                    a slower collector.  POINT: roots (a thread's root
 *                    handshake; in stw mode, the root scan of the collect
 *                    pause).  inject=none (the default) turns it off;
 *                    rtgc_config_format prints the key only when it is on.
 */
#ifndef RTGC_CONFIG_H
#define RTGC_CONFIG_H

#include "rtgc/defs.h"
#include <stddef.h>
#include <stdint.h>

RTGC_BEGIN_DECLS

typedef enum rtgc_status {
    RTGC_OK = 0,
    RTGC_EINVAL = 1,       /* a bad argument or configuration value */
    RTGC_ENOMEM = 2,       /* the heap limit or the OS refused memory */
    RTGC_EMISUSE = 3,      /* API used against its contract (detached thread, ...) */
    RTGC_ESTATE = 4,       /* not allowed in the current state */
    RTGC_EUNSUPPORTED = 5  /* valid, but not available in this build */
} rtgc_status;

/* Filled in by calls that can fail; `field` names the offending option. */
typedef struct rtgc_error {
    rtgc_status status;
    char field[32];
    char message[256];
} rtgc_error;

typedef enum rtgc_mode {
    RTGC_MODE_CONCURRENT = 0,  /* background collector thread(s) */
    RTGC_MODE_INCREMENTAL = 1, /* no extra thread: time-boxed slices in the mutator */
    RTGC_MODE_STEP = 2,        /* the embedder calls rtgc_step(thread, budget) */
    RTGC_MODE_STW = 3          /* stop the world: the correctness reference */
} rtgc_mode;

/* Where inject= adds its delay (a testing knob; see the key list above). */
typedef enum rtgc_inject_point {
    RTGC_INJECT_NONE = 0,
    RTGC_INJECT_ROOTS = 1  /* a thread's root handshake (stw: the collect pause's root scan) */
} rtgc_inject_point;

/* Transparent huge pages for the heap's memory (hugepages=). */
typedef enum rtgc_hugepages {
    RTGC_HUGEPAGES_AUTO = 0,   /* for memory the collector faults in ahead, once the heap is large */
    RTGC_HUGEPAGES_ON = 1,
    RTGC_HUGEPAGES_OFF = 2
} rtgc_hugepages;
#define RTGC_HUGEPAGES_AUTO_MIN ((size_t)64 << 20)   /* heap size from which auto uses them */

typedef struct rtgc_config {
    size_t heap_limit;          /* hard limit on heap memory in bytes (default 256 MiB) */
    uint64_t pause_budget_ns;   /* longest collector-caused stop (default 1 ms) */
    rtgc_mode mode;             /* see rtgc_mode */
    unsigned collector_threads; /* markers: the cycle's runner + N-1 helper threads (default 1) */
    double mmu_target;          /* minimum mutator utilisation over 10 ms (default 0.70) */
    double growth_factor;       /* aim the heap at live * (1 + growth) (default 1.0; see growth= above) */
    double cpu_share;           /* CPU share of a background collector (default 0.25) */
    size_t min_trigger;         /* no cycle below this heap size (0, the default: min(4 MiB, limit/4)) */
    uint64_t stress_alloc;      /* collect every N allocations; 0 = off */
    int verify;                 /* run the heap verifier after every cycle */
    uint32_t pause_log;         /* pause records kept in the ring: a power of two in [16, 16M] (default 65536) */
    rtgc_inject_point inject_point; /* testing knob: where to add a busy delay (default none) */
    uint64_t inject_ns;         /* the delay, CPU time spun at inject_point (0 with none) */
    rtgc_hugepages hugepages;   /* transparent huge pages for the heap (default auto; see hugepages=) */
} rtgc_config;

/* Limits that validation enforces. */
#define RTGC_HEAP_LIMIT_MIN ((size_t)1 << 20)          /* 1 MiB */
#define RTGC_HEAP_LIMIT_MAX ((size_t)1 << 42)          /* 4 TiB */
#define RTGC_BUDGET_MIN_NS 10000u                      /* 10 us */
#define RTGC_BUDGET_MAX_NS 1000000000u                 /* 1 s */
#define RTGC_COLLECTOR_THREADS_MAX 64u
#define RTGC_INJECT_MAX_NS 1000000000u                 /* inject= at most 1 s */

void rtgc_config_init(rtgc_config *cfg);

/* Apply "key=value,..." to cfg.  On error cfg is left unchanged. */
rtgc_status rtgc_config_parse(rtgc_config *cfg, const char *options, rtgc_error *err);

/* Apply the environment variable `var` (NULL means "RTGC_OPTIONS") if set. */
rtgc_status rtgc_config_from_env(rtgc_config *cfg, const char *var, rtgc_error *err);

/* Check every field; the first bad one is reported. */
rtgc_status rtgc_config_validate(const rtgc_config *cfg, rtgc_error *err);

/* Write the settings as a "key=value,..." string (the format parse reads). */
size_t rtgc_config_format(const rtgc_config *cfg, char *buf, size_t len);

const char *rtgc_mode_name(rtgc_mode mode);
const char *rtgc_status_name(rtgc_status status);

/* Parse helpers shared with tools: "64M" -> bytes, "250us" -> ns. */
rtgc_status rtgc_parse_size(const char *text, size_t *out);
rtgc_status rtgc_parse_duration(const char *text, uint64_t *out_ns);

RTGC_END_DECLS
#endif

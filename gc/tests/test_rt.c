/* The real-time modes, judged from the collector's own records:
 *  - a deep root set is scanned in slices, each a handshake whose work
 *    stays within what one pause budget allows [roots.slices];
 *  - a million-element array is marked a chunk at a time [mark.chunks];
 *  - rtgc_step stops near its budget and says when the cycle is done;
 *  - incremental mode leaves the mutator its MMU target [cycle.mmu];
 *  - concurrent mode's collector thread reports its CPU share [cycle.share].
 * Work is measured as the collector's CPU time or its work units, never as
 * wall time, so the platform's own stalls do not decide the verdict. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <stdatomic.h>
#include <unistd.h>

#include "testutil.h"
#include "internal.h"

/* Sanitizer builds run the collector (all memory accesses) several times
 * slower, and the mutator's arithmetic hardly at all: budgets overrun by
 * more past the same checkpoints, runs need longer, and the mutator needs
 * more work per allocation to stand for the same program. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define OVERRUN_FACTOR 10
#define SLOWDOWN 4
#define WORK_ITERS 1024
#define MMU_FLOOR 0.50     /* slices overrun their budget between checkpoints */
#else
#define OVERRUN_FACTOR 2
#define SLOWDOWN 1
#define WORK_ITERS 64
#define MMU_FLOOR 0.65     /* the 0.70 target less a tolerance: a busy host stretches pauses */
#endif

typedef struct node { uint64_t header; void *next; uint64_t val; } node;

static rtgc_layout_id node_layout(rtgc_heap *h) {
    static const uint32_t refs[] = {8};
    rtgc_layout l = {.name = "node", .kind = RTGC_LAYOUT_RECORD, .size = sizeof(node), .ref_offsets = refs, .ref_count = 1};
    rtgc_layout_id id;
    rtgc_error err;
    assert_int_equal(rtgc_layout_register(h, &l, &id, &err), RTGC_OK);
    return id;
}

/* ---- a deep VM stack ---- */
typedef struct vmstack { void **slots; size_t n; uint64_t calls; uint64_t resumed; } vmstack;

static int scan_stack(rtgc_thread *t, rtgc_root_scan *s, void *data) {
    vmstack *vs = data;
    vs->calls++;
    if (s->cursor)
        vs->resumed++;
    for (size_t i = s->cursor; i < vs->n; i++) {
        rtgc_scan_visit(s, &vs->slots[i]);
        if (rtgc_scan_should_yield(s) && i + 1 < vs->n) {
            s->cursor = i + 1;
            return 1;
        }
    }
    return 0;
}

static void test_deep_roots_in_slices(void **state) {
    (void)state;
    rtgc_heap *h = test_heap("mode=concurrent,budget=100us,heap=256M");
    rtgc_layout_id NODE = node_layout(h);
    rtgc_thread *t = rtgc_thread_attach(h, NULL);
    vmstack vs = {.n = 300000};
    vs.slots = calloc(vs.n, sizeof *vs.slots);
    rtgc_thread_set_stack_scanner(t, scan_stack, &vs);
    for (size_t i = 0; i < vs.n; i++) {
        node *n = rtgc_alloc(t, NODE);
        n->val = i;
        vs.slots[i] = n;
    }
    while (cycle_active(h))         /* let a cycle the allocation started finish */
        rtgc_poll(t);
    uint64_t first = 0;
    rtgc_pause_record rec;
    while (rtgc_pause_records(h, first, &rec, 1, &first))
        ;
    vs.calls = vs.resumed = 0;
    /* Run one cycle while this thread keeps running and polling (its stack
     * does not change, so no watermark is needed here). */
    uint64_t c0 = rtgc_atomic_load(&h->cycle);
    cycle_request(h);
    while (rtgc_atomic_load(&h->cycle) == c0)
        rtgc_poll(t);
    uint64_t slices = 0, max_work = 0;
    uint64_t causes[RTGC_CAUSE_COUNT] = {0};
    while (rtgc_pause_records(h, first, &rec, 1, &first)) {
        causes[rec.cause]++;
        if (rec.cause == RTGC_CAUSE_HANDSHAKE && rec.thread == rtgc_thread_id(t) && rec.work) {
            slices++;
            if (rec.work > max_work)
                max_work = rec.work;
        }
    }
    for (int c = 0; c < RTGC_CAUSE_COUNT; c++)
        if (causes[c])
            printf("  %s: %llu\n", rtgc_cause_name(c), (unsigned long long)causes[c]);
    uint64_t per_slice = 100000 / ROOT_SLOT_NS;  /* what cycle.c allows for a 100 us budget */
    printf("root scan: %llu handshake slices, at most %llu slots each, %llu scanner calls (%llu resumed)\n",
           (unsigned long long)slices, (unsigned long long)max_work, (unsigned long long)vs.calls,
           (unsigned long long)vs.resumed);
    assert_true(slices >= vs.n / per_slice);
    assert_true(max_work <= per_slice);
    assert_true(vs.resumed >= slices - 1);
    for (size_t i = 0; i < vs.n; i++)
        assert_int_equal(((node *)vs.slots[i])->val, i);
    assert_int_equal(rtgc_verify(t), 0);
    rtgc_thread_set_stack_scanner(t, NULL, NULL);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
    free(vs.slots);
}

/* A live set of `tables` x 1024 nodes held by small REF_ARRAYs under a
 * root table; churn replaces random nodes, so the garbage rate is the
 * allocation rate and the live set stays put. */
#define TABLE 1024
static rtgc_layout_id arr_layout(rtgc_heap *h) {
    rtgc_layout l = {.name = "table", .kind = RTGC_LAYOUT_REF_ARRAY, .size = 8};
    rtgc_layout_id id;
    rtgc_error err;
    assert_int_equal(rtgc_layout_register(h, &l, &id, &err), RTGC_OK);
    return id;
}

static void build(rtgc_thread *t, rtgc_layout_id ARR, void **root, uint32_t tables) {
    void **top = rtgc_alloc_array(t, ARR, tables);
    *root = top;
    for (uint32_t i = 0; i < tables; i++) {
        void *tab = rtgc_alloc_array(t, ARR, TABLE);
        top = *root;
        rtgc_store(t, top, &top[1 + i], tab);
    }
}

/* The mutator's own work between allocations (about 100-200 ns): MMU is a
 * share of time, and a mutator that does nothing but allocate spends its
 * time in the allocator's own sweeping, which is charged as a pause. */
static uint64_t mutator_work(uint64_t x) {
    for (int i = 0; i < WORK_ITERS; i++)
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x;
}

static void churn(rtgc_thread *t, rtgc_layout_id NODE, void **root, uint32_t tables, uint64_t *seed, size_t n) {
    for (size_t i = 0; i < n; i++) {
        node *fresh = rtgc_alloc(t, NODE);
        uint64_t r = mutator_work(test_rand(seed));
        fresh->val = r;
        void **top = *root;
        void **tab = rtgc_load(t, &top[1 + (r >> 40) % tables]);
        rtgc_store(t, tab, &tab[1 + r % TABLE], fresh);
        if ((i & 255) == 0)
            rtgc_poll(t);
    }
}

static void step_budget(const char *opts) {
    uint64_t seed = test_seed(opts);
    rtgc_heap *h = test_heap(opts);
    rtgc_layout_id NODE = node_layout(h), ARR = arr_layout(h);
    rtgc_thread *t = rtgc_thread_attach(h, NULL);
    RTGC_FRAME(t, r, 1);
    build(t, ARR, &r[0], 256);           /* 262144 live nodes, 8 MiB */
    const uint64_t budget = 200000;
    uint64_t steps = 0, done_reports = 0;
    rtgc_stats st;
    /* 400 frames, or more until three cycles are done: a slow build (a
     * sanitizer) does less work per step, and the property is that steps
     * finish cycles, not how fast. */
    for (int frame = 0; frame < 4000; frame++) {
        churn(t, NODE, &r[0], 256, &seed, 20000);
        int more;
        do {
            more = rtgc_step(t, budget);
            steps++;
        } while (more && steps % 4);
        if (!more)
            done_reports++;
        rtgc_get_stats(h, &st);
        if (frame >= 400 && st.cycles >= 3)
            break;
    }
    rtgc_get_stats(h, &st);
    uint64_t first = 0, n = 0, over = 0, worst = 0;
    rtgc_pause_record rec;
    while (rtgc_pause_records(h, first, &rec, 1, &first)) {
        if (rec.cause != RTGC_CAUSE_STEP)
            continue;
        n++;
        if (rec.work_ns > worst)
            worst = rec.work_ns;
        if (rec.work_ns > OVERRUN_FACTOR * budget)
            over++;
    }
    printf("%s: %llu cycles, %llu steps recorded, longest collector work in a step %.1f us, %llu over %dx budget, "
           "%llu objects traced by helpers\n", opts, (unsigned long long)st.cycles, (unsigned long long)n,
           worst / 1e3, (unsigned long long)over, OVERRUN_FACTOR, (unsigned long long)st.helper_objects);
    assert_true(st.cycles >= 3);
    assert_true(done_reports > 0);
    assert_true(n > 0);
    assert_true(over * 100 <= n);   /* at most 1% of steps overrun 2x (CPU time still has noise) */
    RTGC_FRAME_POP(t, r);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}

static void test_step_budget(void **state) {
    (void)state;
    step_budget("mode=step,heap=256M,min_trigger=16M");
}

/* With a marking helper: the step still ends by its deadline (the
 * coordinator waits for a busy helper by spinning within it, and the
 * helper stops at the step's deadline [mark.parallel]). */
static void test_step_budget_markers(void **state) {
    (void)state;
    step_budget("mode=step,heap=256M,min_trigger=16M,threads=2");
}

/* About 20 M allocations a second (640 MB/s) with some work between them:
 * every pause counts against the MMU, the allocator's lazy sweeping too.
 * (A mutator that does nothing but allocate spends a third of its time
 * sweeping, and no scheduler of the collector's own slices can give it
 * 70%.) */
static void test_incremental_mmu(void **state) {
    (void)state;
    uint64_t seed = test_seed("incremental_mmu");
    rtgc_heap *h = test_heap("mode=incremental,mmu=0.7,budget=1ms,heap=128M,min_trigger=16M");
    rtgc_layout_id NODE = node_layout(h), ARR = arr_layout(h);
    rtgc_thread *t = rtgc_thread_attach(h, NULL);
    RTGC_FRAME(t, r, 1);
    build(t, ARR, &r[0], 256);
    uint64_t t0 = rtgc_now_ns();
    while (rtgc_now_ns() - t0 < SLOWDOWN * 800000000ull)
        churn(t, NODE, &r[0], 256, &seed, 10000);
    rtgc_stats st;
    rtgc_get_stats(h, &st);
    double mmu_work = rtgc_mmu(h, rtgc_thread_id(t), 10000000, 1);
    double mmu_wall = rtgc_mmu(h, rtgc_thread_id(t), 10000000, 0);
    printf("incremental: %llu cycles, %llu pauses, MMU(10ms) %.3f by collector work, %.3f by wall time\n",
           (unsigned long long)st.cycles, (unsigned long long)st.pauses, mmu_work, mmu_wall);
    for (int c = 0; c < RTGC_CAUSE_COUNT; c++)
        if (st.by_cause[c])
            printf("  %s: %llu\n", rtgc_cause_name(c), (unsigned long long)st.by_cause[c]);
    printf("  pause total %.1f ms, max %.3f ms, stall total %.1f ms\n", st.pause_total_ns / 1e6,
           st.pause_max_ns / 1e6, st.stall_total_ns / 1e6);
    assert_true(st.cycles >= 2);
    assert_true(st.stalls == 0);
    assert_true(mmu_work >= MMU_FLOOR);
    RTGC_FRAME_POP(t, r);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}

/* One reference array of a million elements: marking takes it a chunk at
 * a time [mark.chunks], so no step runs long, and nothing it holds is lost. */
static void test_big_array_steps(void **state) {
    (void)state;
    rtgc_heap *h = test_heap("mode=step,heap=512M,min_trigger=64M");
    rtgc_layout_id NODE = node_layout(h), ARR = arr_layout(h);
    rtgc_thread *t = rtgc_thread_attach(h, NULL);
    RTGC_FRAME(t, r, 1);
    const uint32_t n = 1u << 20;
    r[0] = rtgc_alloc_array(t, ARR, n);
    for (uint32_t i = 0; i < n; i++) {
        node *x = rtgc_alloc(t, NODE);
        x->val = i;
        void **arr = r[0];
        rtgc_store(t, arr, &arr[1 + i], x);
    }
    uint64_t first = 0;
    rtgc_pause_record rec;
    while (rtgc_pause_records(h, first, &rec, 1, &first))
        ;
    const uint64_t budget = 100000;
    uint64_t c0 = rtgc_atomic_load(&h->cycle);
    cycle_request(h);
    uint64_t steps = 0;
    while (rtgc_atomic_load(&h->cycle) == c0) {
        rtgc_step(t, budget);
        steps++;
    }
    uint64_t worst = 0, over = 0, n_steps = 0;
    while (rtgc_pause_records(h, first, &rec, 1, &first)) {
        if (rec.cause != RTGC_CAUSE_STEP)
            continue;
        n_steps++;
        if (rec.work_ns > worst)
            worst = rec.work_ns;
        if (rec.work_ns > OVERRUN_FACTOR * budget)
            over++;
    }
    printf("big array: one cycle in %llu steps, longest collector work in a step %.1f us, %llu over %dx budget\n",
           (unsigned long long)n_steps, worst / 1e3, (unsigned long long)over, OVERRUN_FACTOR);
    assert_true(n_steps > 10);
    assert_true(over * 50 <= n_steps);
    void **arr = r[0];
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(((node *)arr[1 + i])->val, i);
    assert_int_equal(rtgc_verify(t), 0);
    RTGC_FRAME_POP(t, r);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}

/* Run the calling thread (and the threads it creates from now on) on one
 * CPU, so that no core is free; returns false where that is not allowed. */
static bool one_cpu(cpu_set_t *saved) {
    cpu_set_t one;
    if (sched_getaffinity(0, sizeof *saved, saved) != 0)
        return false;
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, saved)) {
            CPU_SET(c, &one);
            break;
        }
    return sched_setaffinity(0, sizeof one, &one) == 0;
}

/* [share.sample] cpu= bounds what the collector takes from a mutator that
 * wants the CPU: on one CPU with a busy mutator no core is free, and the
 * collector thread keeps to its share. */
static void test_collector_share(void **state) {
    (void)state;
    uint64_t seed = test_seed("collector_share");
    cpu_set_t saved;
    if (!one_cpu(&saved)) {
        printf("[ SKIP     ] collector_share: cannot set this thread's CPU affinity\n");
        skip();
    }
    rtgc_heap *h = test_heap("mode=concurrent,cpu=25%,heap=128M,min_trigger=16M");
    rtgc_layout_id NODE = node_layout(h), ARR = arr_layout(h);
    rtgc_thread *t = rtgc_thread_attach(h, NULL);
    RTGC_FRAME(t, r, 1);
    build(t, ARR, &r[0], 256);
    uint64_t t0 = rtgc_now_ns();
    while (rtgc_now_ns() - t0 < SLOWDOWN * 600000000ull)
        churn(t, NODE, &r[0], 256, &seed, 10000);
    uint64_t wall = rtgc_now_ns() - t0;
    rtgc_stats st;
    rtgc_get_stats(h, &st);
    double share = (double)st.collector_cpu_ns / (double)wall;
    printf("concurrent: %llu cycles, collector CPU %.1f ms of %.1f ms (%.1f%%), %llu stalls\n",
           (unsigned long long)st.cycles, st.collector_cpu_ns / 1e6, wall / 1e6, 100 * share,
           (unsigned long long)st.stalls);
    assert_true(st.cycles >= 2);
    assert_true(st.collector_cpu_ns > 0);
    assert_true(share <= 0.25 + 0.10);
    assert_false(rtgc_atomic_load(&h->share_idle_core));
    RTGC_FRAME_POP(t, r);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
    sched_setaffinity(0, sizeof saved, &saved);
}

/* [share.sample] The policy's two answers, from the scheduler's figures:
 * one CPU and an attached thread spinning on it, no core is free; the
 * same thread asleep, one is. */
static atomic_int spin_stop;
static void *spinner(void *arg) {
    rtgc_thread *t = rtgc_thread_attach(arg, NULL);
    while (!atomic_load(&spin_stop))
        rtgc_poll(t);
    rtgc_thread_detach(t);
    return NULL;
}

static void sample_twice(rtgc_heap *h) {
    share_update(h);
    struct timespec ts = {0, 20000000};   /* 20 ms: past the sampling period */
    nanosleep(&ts, NULL);
    share_update(h);
}

static void test_share_policy(void **state) {
    (void)state;
    cpu_set_t saved;
    if (!one_cpu(&saved)) {
        printf("[ SKIP     ] share_policy: cannot set this thread's CPU affinity\n");
        skip();
    }
    rtgc_heap *h = test_heap("mode=incremental");   /* no collector thread: the test samples */
    rtgc_thread *t = rtgc_thread_attach(h, NULL);
    rtgc_enter_blocking(t);
    atomic_store(&spin_stop, 0);
    pthread_t sp;
    assert_int_equal(pthread_create(&sp, NULL, spinner, h), 0);
    sample_twice(h);
    bool busy_idle = rtgc_atomic_load(&h->share_idle_core);
    atomic_store(&spin_stop, 1);
    pthread_join(sp, NULL);
    sample_twice(h);
    bool quiet_idle = rtgc_atomic_load(&h->share_idle_core);
    printf("one CPU: a spinning mutator leaves a core free: %d; a sleeping one: %d\n", busy_idle, quiet_idle);
    assert_false(busy_idle);
    assert_true(quiet_idle);
    rtgc_leave_blocking(t);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
    sched_setaffinity(0, sizeof saved, &saved);
}

/* A cycle must finish when the thread that posted a round from its own
 * step ran out of budget before serving itself, and another thread does
 * the stepping while the first only polls [handshake.seq]. */
static rtgc_heap *stepper_heap;
static atomic_int stepper_done;
static uint64_t stepper_cycles;

static void *stepper(void *arg) {
    (void)arg;
    rtgc_thread *b = rtgc_thread_attach(stepper_heap, NULL);
    uint64_t c0 = rtgc_atomic_load(&stepper_heap->cycle);
    for (int i = 0; i < 2000 && rtgc_atomic_load(&stepper_heap->cycle) == c0; i++) {
        rtgc_step(b, 1000000);
        rtgc_enter_blocking(b);
        usleep(200);
        rtgc_leave_blocking(b);
    }
    stepper_cycles = rtgc_atomic_load(&stepper_heap->cycle) - c0;
    atomic_store(&stepper_done, 1);
    rtgc_thread_detach(b);
    return NULL;
}

static void test_round_posted_by_a_stepper(void **state) {
    (void)state;
    stepper_heap = test_heap("mode=step");
    rtgc_thread *a = rtgc_thread_attach(stepper_heap, NULL);
    cycle_request(stepper_heap);
    for (int n = 0; rtgc_atomic_load(&stepper_heap->phase) != PHASE_MARK_ON && n < 1000000; n++)
        rtgc_step(a, 1);                     /* a 1 ns budget: posts MARK_ON, serves nothing */
    assert_int_equal(rtgc_atomic_load(&stepper_heap->phase), PHASE_MARK_ON);
    atomic_store(&stepper_done, 0);
    pthread_t bt;
    pthread_create(&bt, NULL, stepper, NULL);
    while (!atomic_load(&stepper_done))
        rtgc_poll(a);                        /* only polls: must serve its own request */
    pthread_join(bt, NULL);
    assert_true(stepper_cycles >= 1);
    rtgc_thread_detach(a);
    rtgc_heap_destroy(stepper_heap);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deep_roots_in_slices),
        cmocka_unit_test(test_step_budget),
        cmocka_unit_test(test_step_budget_markers),
        cmocka_unit_test(test_incremental_mmu),
        cmocka_unit_test(test_big_array_steps),
        cmocka_unit_test(test_collector_share),
        cmocka_unit_test(test_share_policy),
        cmocka_unit_test(test_round_posted_by_a_stepper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

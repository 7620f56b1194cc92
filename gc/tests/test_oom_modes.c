/* gc/tests/test_oom_modes.c - heap exhaustion in every mode (test_oom.c
 * covers stw in depth): on a 4 MiB heap a chain that keeps everything
 * reachable ends in a NULL return and a call of the OOM handler; the heap
 * verifies, stays under its limit, and the chain is intact; the next
 * request fails the same way; a request larger than the heap fails at
 * once; once the chain is dropped, allocation works again without a
 * handler call.  In concurrent mode a second thread allocates beside the
 * first until both have seen NULL.
 *
 * Each mode runs in a child process with a time limit, so a hang at the
 * heap limit fails that mode's test with the reason instead of stalling
 * the suite. */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define MiB ((size_t)1 << 20)
#define HEAP_LIMIT (4 * MiB)

static const uint32_t node_offs[] = {8};   /* node: header, next, id, pad */

typedef struct ctx {
    rtgc_heap *h;
    rtgc_layout_id node, bytes;
    long oom_calls;
    size_t last_request;
} ctx;

static void on_oom(rtgc_heap *heap, size_t request, void *data) {
    ctx *c = data;
    __atomic_add_fetch(&c->oom_calls, 1, __ATOMIC_SEQ_CST);
    c->last_request = request;
}
static long errors;
static void on_error(rtgc_heap *heap, rtgc_status st, const char *msg, void *data) {
    __atomic_add_fetch(&errors, 1, __ATOMIC_SEQ_CST);
    fprintf(stderr, "rtgc error (%s): %s\n", rtgc_status_name(st), msg);
}

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            _exit(1);                                                                   \
        }                                                                               \
    } while (0)

/* Fill: prepend nodes (id = count) to *root until allocation fails. */
static size_t fill(ctx *c, rtgc_thread *t, void **root) {
    size_t n = 0;
    for (;;) {
        void **x = rtgc_alloc(t, c->node);
        if (!x)
            return n;
        ((uint64_t *)x)[2] = ++n;
        rtgc_store(t, x, &x[1], *root);
        *root = x;
        rtgc_poll(t);
    }
}

static void check_chain(rtgc_thread *t, void *head, size_t n) {
    size_t k = n;
    for (void **p = head; p; p = rtgc_load(t, &p[1])) {
        CHECK(rtgc_header_layout(rtgc_object_header(p)) != 0);
        CHECK(((uint64_t *)p)[2] == k);
        k--;
    }
    CHECK(k == 0);
}

static void *g_second;                      /* a registered global range of one slot */

typedef struct second {
    ctx *c;
    size_t n;
    int ok;
} second;

static void *second_main(void *arg) {
    second *s = arg;
    rtgc_error err;
    rtgc_thread *t = rtgc_thread_attach(s->c->h, &err);
    if (!t)
        return NULL;
    RTGC_FRAME(t, r, 1);
    s->n = fill(s->c, t, &r[0]);
    check_chain(t, r[0], s->n);
    rtgc_store(t, NULL, &g_second, r[0]);   /* still live after the thread is gone */
    r[0] = NULL;
    RTGC_FRAME_POP(t, r);
    s->ok = rtgc_thread_detach(t) == RTGC_OK;
    return NULL;
}

static void scenario(const char *mode) {
    ctx c;
    memset(&c, 0, sizeof c);
    char opts[96];
    snprintf(opts, sizeof opts, "mode=%s,heap=4M,min_trigger=1M,verify=1", mode);
    c.h = test_heap(opts);
    rtgc_set_oom_handler(c.h, on_oom, &c);
    rtgc_set_error_handler(c.h, on_error, NULL);
    rtgc_error err;
    rtgc_layout node = {.name = "node", .kind = RTGC_LAYOUT_RECORD, .size = 32, .ref_offsets = node_offs,
                        .ref_count = 1};
    rtgc_layout bytes = {.name = "bytes", .kind = RTGC_LAYOUT_BYTES, .size = 16};
    CHECK(rtgc_layout_register(c.h, &node, &c.node, &err) == RTGC_OK);
    CHECK(rtgc_layout_register(c.h, &bytes, &c.bytes, &err) == RTGC_OK);
    CHECK(rtgc_root_range_add(c.h, &g_second, 1) == RTGC_OK);
    rtgc_thread *t = rtgc_thread_attach(c.h, &err);
    CHECK(t != NULL);
    RTGC_FRAME(t, r, 1);

    /* A second thread fills beside this one (concurrent mode). */
    second s2 = {.c = &c};
    pthread_t th;
    int two = strcmp(mode, "concurrent") == 0;
    if (two)
        CHECK(pthread_create(&th, NULL, second_main, &s2) == 0);
    size_t n = fill(&c, t, &r[0]);
    if (two) {
        rtgc_enter_blocking(t);
        pthread_join(th, NULL);
        rtgc_leave_blocking(t);
        CHECK(s2.ok);
    }
    rtgc_stats s;
    rtgc_get_stats(c.h, &s);
    printf("[ OOM      ] %s: %zu nodes (%zu more on a second thread), %ld handler calls, %llu cycles, heap peak "
           "%zu of %zu\n",
           mode, n, s2.n, c.oom_calls, (unsigned long long)s.cycles, s.heap_peak, s.heap_limit);
    fflush(stdout);
    CHECK(n + s2.n > 100000);                  /* most of 4 MiB in 32-byte nodes, both threads together */
    CHECK(c.oom_calls >= 1 + two);
    CHECK(s.oom_count == (uint64_t)c.oom_calls);
    CHECK(s.heap_peak <= HEAP_LIMIT);
    CHECK(rtgc_verify(t) == 0);
    check_chain(t, r[0], n);
    check_chain(t, rtgc_load(t, &g_second), s2.n);

    /* Still full: fails again, through the handler. */
    long calls = c.oom_calls;
    CHECK(rtgc_alloc(t, c.node) == NULL);
    CHECK(c.oom_calls == calls + 1);
    /* Larger than the heap: fails at once. */
    CHECK(rtgc_alloc_array(t, c.bytes, (uint32_t)(2 * HEAP_LIMIT)) == NULL);
    CHECK(c.oom_calls == calls + 2 && c.last_request >= 2 * HEAP_LIMIT);
    CHECK(rtgc_verify(t) == 0);
    check_chain(t, r[0], n);

    /* Dropped: allocation works again (a collection first, or the slow
     * path's own), without a handler call. */
    check_chain(t, rtgc_load(t, &g_second), s2.n);
    r[0] = NULL;
    rtgc_store(t, NULL, &g_second, NULL);
    rtgc_collect(t);
    calls = c.oom_calls;
    void *keep = NULL;
    RTGC_FRAME(t, r2, 1);
    size_t m = 0;
    for (; m < n / 2; m++) {
        void **x = rtgc_alloc(t, c.node);
        CHECK(x != NULL);
        ((uint64_t *)x)[2] = m + 1;
        rtgc_store(t, x, &x[1], r2[0]);
        r2[0] = x;
        rtgc_poll(t);
    }
    keep = rtgc_alloc_array(t, c.bytes, 1000000);
    CHECK(keep != NULL);
    CHECK(c.oom_calls == calls);
    check_chain(t, r2[0], m);
    rtgc_collect(t);
    rtgc_get_stats(c.h, &s);
    CHECK(s.live_objects == m);               /* keep is not rooted */
    CHECK(rtgc_verify(t) == 0);
    CHECK(__atomic_load_n(&errors, __ATOMIC_SEQ_CST) == 0);
    RTGC_FRAME_POP(t, r2);
    RTGC_FRAME_POP(t, r);
    CHECK(rtgc_thread_detach(t) == RTGC_OK);
    rtgc_heap_destroy(c.h);
}

/* In a child with a time limit (a hang at the limit is a failure). */
static void run_mode(const char *mode) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(120);
        scenario(mode);
        fflush(stdout);
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st))
        fail_msg("mode=%s: the child died of signal %d%s", mode, WTERMSIG(st),
                 WTERMSIG(st) == SIGALRM ? " (it hung for 120 s)" : "");
    if (WEXITSTATUS(st) != 0)
        fail_msg("mode=%s: a check failed (above)", mode);
}

static void test_oom_stw(void **state) { run_mode("stw"); }
static void test_oom_incremental(void **state) { run_mode("incremental"); }
static void test_oom_step(void **state) { run_mode("step"); }
static void test_oom_concurrent(void **state) { run_mode("concurrent"); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom_stw),
        cmocka_unit_test(test_oom_incremental),
        cmocka_unit_test(test_oom_step),
        cmocka_unit_test(test_oom_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

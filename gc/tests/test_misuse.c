/* gc/tests/test_misuse.c - the API used against its contract is reported as
 * RTGC_EMISUSE through the error handler, with a message that names the call,
 * and the call fails safely (NULL, an error status, no effect) without
 * crashing or hanging.  Without a handler, misuse aborts the process.
 *
 * Each misuse runs in a child process with a time limit, so a library that
 * crashes or hangs on it fails that one test, with the reason, and the rest
 * still run.  Inside a child, CHECK() reports back through a pipe (cmocka's
 * own asserts would unwind into a copy of the runner). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* ---- running a scenario in a child ---- */

static int result_fd = -1;

static void child_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void child_say(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0 && result_fd >= 0) {
        size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
        ssize_t w = write(result_fd, buf, len);
        (void)w;
    }
}

#define CHECK(c)                                                           \
    do {                                                                   \
        if (!(c)) {                                                        \
            child_say("%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            _exit(1);                                                      \
        }                                                                  \
    } while (0)

typedef void (*scenario_fn)(const void *arg);

static void run_isolated(scenario_fn fn, const void *arg, int timeout_ms) {
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        result_fd = p[1];
        fn(arg);
        _exit(0);
    }
    close(p[1]);
    int status = 0, waited = 0, hung = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (waited >= timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            hung = 1;
            break;
        }
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
        waited += 5;
    }
    char msg[4096];
    size_t used = 0;
    for (;;) {
        ssize_t n = read(p[0], msg + used, sizeof msg - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
        if (used >= sizeof msg - 1)
            break;
    }
    msg[used] = '\0';
    close(p[0]);
    if (hung)
        fail_msg("the call hung (killed after %d ms). %s", timeout_ms, msg);
    if (WIFSIGNALED(status))
        fail_msg("the call crashed the process (signal %d). %s", WTERMSIG(status), msg);
    if (WEXITSTATUS(status) != 0)
        fail_msg("%s", msg);
}

/* ---- the error handler ---- */

typedef struct err_log {
    int count;
    int misuse;
    rtgc_status last_status;
    char last[512];
    char all[4096];
    rtgc_heap *heap;
    int wrong_heap;
} err_log;

static void on_error(rtgc_heap *heap, rtgc_status status, const char *message, void *data) {
    err_log *l = data;
    l->count++;
    if (status == RTGC_EMISUSE)
        l->misuse++;
    l->last_status = status;
    if (heap != l->heap)
        l->wrong_heap = 1;
    snprintf(l->last, sizeof l->last, "%s", message ? message : "(null)");
    size_t used = strlen(l->all);
    snprintf(l->all + used, sizeof l->all - used, "%s\n", l->last);
}

static void reset_log(err_log *l) {
    rtgc_heap *h = l->heap;
    memset(l, 0, sizeof *l);
    l->heap = h;
}

/* In a child: exactly the misuse reports, one or more, naming `what`. */
static void child_expect_misuse(const err_log *l, const char *what) {
    if (l->count < 1 || l->misuse != l->count || !strstr(l->all, what) || l->wrong_heap) {
        child_say("expected an EMISUSE report naming '%s'; got %d reports (%d misuse)%s: %s",
                  what, l->count, l->misuse, l->wrong_heap ? " for the wrong heap" : "",
                  l->count ? l->all : "(none)\n");
        _exit(1);
    }
}

static const uint32_t node_offs[] = {8};

typedef struct world {
    rtgc_heap *h;
    rtgc_layout_id node;
    err_log log;
} world;

static void child_world(world *w) {
    memset(w, 0, sizeof *w);
    rtgc_config c;
    rtgc_error err;
    rtgc_config_init(&c);
    c.mode = RTGC_MODE_STW;
    CHECK(rtgc_heap_create(&c, &w->h, &err) == RTGC_OK);
    rtgc_layout l = {.name = "node", .kind = RTGC_LAYOUT_RECORD, .size = 32,
                     .ref_offsets = node_offs, .ref_count = 1};
    CHECK(rtgc_layout_register(w->h, &l, &w->node, &err) == RTGC_OK);
    w->log.heap = w->h;
    rtgc_set_error_handler(w->h, on_error, &w->log);
}

/* After a misuse: the heap still works for a properly attached thread, and
 * no further errors are reported. */
static void child_heap_still_works(world *w) {
    rtgc_error err;
    reset_log(&w->log);
    rtgc_thread *t = rtgc_thread_attach(w->h, &err);
    CHECK(t != NULL);
    void *r[1];
    rtgc_frame f;
    rtgc_frame_push(t, &f, r, 1);
    r[0] = rtgc_alloc(t, w->node);
    CHECK(r[0] != NULL);
    ((uint64_t *)r[0])[2] = 99;
    rtgc_collect(t);
    CHECK(((uint64_t *)r[0])[2] == 99);
    CHECK(rtgc_verify(t) == 0);
    rtgc_frame_pop(t, &f);
    CHECK(rtgc_thread_detach(t) == RTGC_OK);
    if (w->log.count)
        child_say("unexpected reports afterwards: %s", w->log.all);
    CHECK(w->log.count == 0);
    rtgc_heap_destroy(w->h);
}

/* ---- plain lifecycle (no misuse) ---- */

static void test_thread_lifecycle(void **state) {
    rtgc_heap *h = test_heap("mode=stw");
    err_log log;
    memset(&log, 0, sizeof log);
    log.heap = h;
    rtgc_set_error_handler(h, on_error, &log);
    rtgc_error err;
    assert_null(rtgc_thread_current());
    rtgc_thread *t = rtgc_thread_attach(h, &err);
    assert_non_null(t);
    assert_ptr_equal(rtgc_thread_current(), t);
    assert_ptr_equal(rtgc_thread_heap(t), h);
    assert_true(rtgc_thread_id(t) >= 1);
    rtgc_enter_blocking(t);
    rtgc_leave_blocking(t);
    assert_int_equal(rtgc_thread_detach(t), RTGC_OK);
    assert_null(rtgc_thread_current());
    assert_int_equal(log.count, 0);
    rtgc_heap_destroy(h);
}

/* ---- a detached thread, one call at a time ---- */

typedef enum detached_call {
    D_ALLOC_SLOW,
    D_COLLECT,
    D_DETACH,
    D_HANDLE,
    D_HANDLES_MARK,
    D_HANDLES_RELEASE,
    D_ENTER_BLOCKING,
    D_LEAVE_BLOCKING,
    D_SET_SCANNER,
    D_VERIFY,
    D_ALLOC_INLINE, /* check builds only */
} detached_call;

typedef struct call_case {
    detached_call call;
    const char *name; /* what the message must name */
} call_case;

static int dummy_scan(rtgc_thread *t, rtgc_root_scan *s, void *data) {
    return 0;
}

static void scenario_detached(const void *arg) {
    const call_case *cc = arg;
    world w;
    child_world(&w);
    rtgc_error err;
    rtgc_thread *t = rtgc_thread_attach(w.h, &err);
    CHECK(t != NULL);
    CHECK(rtgc_thread_detach(t) == RTGC_OK);
    rtgc_stats s0, s1;
    rtgc_get_stats(w.h, &s0);
    reset_log(&w.log);
    switch (cc->call) {
    case D_ALLOC_SLOW:
        CHECK(rtgc_alloc_slow(t, w.node, 0, 32) == NULL);
        break;
    case D_COLLECT:
        rtgc_collect(t);
        break;
    case D_DETACH:
        CHECK(rtgc_thread_detach(t) == RTGC_EMISUSE);
        break;
    case D_HANDLE:
        CHECK(rtgc_handle(t, NULL) == NULL);
        break;
    case D_HANDLES_MARK:
        (void)rtgc_handles_mark(t);
        break;
    case D_HANDLES_RELEASE:
        rtgc_handles_release(t, 0);
        break;
    case D_ENTER_BLOCKING:
        rtgc_enter_blocking(t);
        break;
    case D_LEAVE_BLOCKING:
        rtgc_leave_blocking(t);
        break;
    case D_SET_SCANNER:
        rtgc_thread_set_stack_scanner(t, dummy_scan, NULL);
        break;
    case D_VERIFY:
        (void)rtgc_verify(t);
        break;
    case D_ALLOC_INLINE:
#if defined(RTGC_CHECK) && RTGC_CHECK
        CHECK(rtgc_alloc(t, w.node) == NULL);
#endif
        break;
    }
    child_expect_misuse(&w.log, cc->name);
    rtgc_get_stats(w.h, &s1);
    CHECK(s1.cycles == s0.cycles);                   /* no collection ran */
    CHECK(s1.allocated_bytes == s0.allocated_bytes); /* nothing allocated */
    child_heap_still_works(&w);
}

static void test_detached_call(void **state) {
    run_isolated(scenario_detached, *state, 2000);
}

static const call_case detached_cases[] = {
    {D_ALLOC_SLOW, "rtgc_alloc"},
    {D_COLLECT, "rtgc_collect"},
    {D_DETACH, "rtgc_thread_detach"},
    {D_HANDLE, "rtgc_handle"},
    {D_HANDLES_MARK, "rtgc_handles_mark"},
    {D_HANDLES_RELEASE, "rtgc_handles_release"},
    {D_ENTER_BLOCKING, "rtgc_enter_blocking"},
    {D_LEAVE_BLOCKING, "rtgc_leave_blocking"},
    {D_SET_SCANNER, "rtgc_thread_set_stack_scanner"},
    {D_VERIFY, "rtgc_verify"},
    {D_ALLOC_INLINE, "rtgc_alloc"},
};

/* ---- other misuse ---- */

/* Allocation with a layout id that is not registered. */
static void scenario_bad_layout_id(const void *arg) {
    world w;
    child_world(&w);
    rtgc_error err;
    rtgc_thread *t = rtgc_thread_attach(w.h, &err);
    CHECK(t != NULL);
    const rtgc_layout_id bad[] = {0, (rtgc_layout_id)(w.node + 1), 77,
                                  (rtgc_layout_id)(RTGC_MAX_LAYOUTS - 1),
                                  (rtgc_layout_id)RTGC_MAX_LAYOUTS, 0xffff};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        reset_log(&w.log);
        void *p = rtgc_alloc_slow(t, bad[i], 0, 32);
        if (p)
            child_say("layout id %u: ", bad[i]);
        CHECK(p == NULL);
        child_expect_misuse(&w.log, "layout");
    }
#if defined(RTGC_CHECK) && RTGC_CHECK
    reset_log(&w.log);
    CHECK(rtgc_alloc(t, (rtgc_layout_id)(w.node + 1)) == NULL);
    child_expect_misuse(&w.log, "layout");
#endif
    CHECK(rtgc_thread_detach(t) == RTGC_OK);
    child_heap_still_works(&w);
}

static void test_bad_layout_id(void **state) {
    run_isolated(scenario_bad_layout_id, NULL, 2000);
}

/* Releasing handles to a mark above the current top. */
static void scenario_bad_handle_mark(const void *arg) {
    world w;
    child_world(&w);
    rtgc_error err;
    rtgc_thread *t = rtgc_thread_attach(w.h, &err);
    CHECK(t != NULL);
    rtgc_handle_mark m0 = rtgc_handles_mark(t);
    void **a = rtgc_handle(t, NULL);
    CHECK(a != NULL);
    *a = rtgc_alloc(t, w.node);
    CHECK(rtgc_handle(t, NULL) != NULL);
    rtgc_handle_mark m2 = rtgc_handles_mark(t);
    rtgc_handles_release(t, m0);
    CHECK(w.log.count == 0);
    reset_log(&w.log);
    rtgc_handles_release(t, m2 + 5); /* a mark from the future */
    child_expect_misuse(&w.log, "rtgc_handles_release");
    CHECK(rtgc_handles_mark(t) == m0); /* no effect */
    CHECK(rtgc_thread_detach(t) == RTGC_OK);
    child_heap_still_works(&w);
}

static void test_bad_handle_mark(void **state) {
    run_isolated(scenario_bad_handle_mark, NULL, 2000);
}

/* Leaving a blocking region that was never entered. */
static void scenario_leave_without_enter(const void *arg) {
    world w;
    child_world(&w);
    rtgc_error err;
    rtgc_thread *t = rtgc_thread_attach(w.h, &err);
    CHECK(t != NULL);
    reset_log(&w.log);
    rtgc_leave_blocking(t);
    child_expect_misuse(&w.log, "rtgc_leave_blocking");
    /* the thread still works normally */
    reset_log(&w.log);
    rtgc_enter_blocking(t);
    rtgc_leave_blocking(t);
    CHECK(rtgc_alloc(t, w.node) != NULL);
    rtgc_collect(t);
    CHECK(w.log.count == 0);
    CHECK(rtgc_thread_detach(t) == RTGC_OK);
    child_heap_still_works(&w);
}

static void test_leave_without_enter(void **state) {
    run_isolated(scenario_leave_without_enter, NULL, 2000);
}

/* A second attach of the same OS thread fails cleanly. */
static void scenario_double_attach(const void *arg) {
    world w;
    child_world(&w);
    rtgc_error err;
    rtgc_thread *t = rtgc_thread_attach(w.h, &err);
    CHECK(t != NULL);
    memset(&err, 0, sizeof err);
    rtgc_thread *t2 = rtgc_thread_attach(w.h, &err);
    CHECK(t2 == NULL);
    CHECK(err.status == RTGC_EMISUSE || err.status == RTGC_ESTATE);
    CHECK(strlen(err.message) > 0);
    CHECK(rtgc_thread_current() == t);
    CHECK(rtgc_thread_detach(t) == RTGC_OK);
    child_heap_still_works(&w);
}

static void test_double_attach(void **state) {
    run_isolated(scenario_double_attach, NULL, 2000);
}

/* An rtgc_thread used from an OS thread that did not attach it. */
typedef struct foreign_arg {
    rtgc_thread *t;
    rtgc_layout_id node;
    void *result;
} foreign_arg;

static void *foreign_main(void *p) {
    foreign_arg *a = p;
    a->result = rtgc_alloc_slow(a->t, a->node, 0, 32);
    return NULL;
}

static void scenario_foreign_thread(const void *arg) {
    world w;
    child_world(&w);
    rtgc_error err;
    rtgc_thread *t = rtgc_thread_attach(w.h, &err);
    CHECK(t != NULL);
    foreign_arg a = {.t = t, .node = w.node, .result = (void *)(uintptr_t)1};
    reset_log(&w.log);
    pthread_t th;
    rtgc_enter_blocking(t); /* whatever the other thread does, never wait for us */
    CHECK(pthread_create(&th, NULL, foreign_main, &a) == 0);
    pthread_join(th, NULL);
    rtgc_leave_blocking(t);
    CHECK(a.result == NULL);
    child_expect_misuse(&w.log, "rtgc_alloc");
    CHECK(rtgc_thread_detach(t) == RTGC_OK);
    child_heap_still_works(&w);
}

static void test_foreign_thread(void **state) {
    run_isolated(scenario_foreign_thread, NULL, 2000);
}

/* Destroying a heap with a thread still attached is reported; neither the
 * heap nor the thread is touched afterwards (the library may or may not have
 * gone ahead). */
static void scenario_destroy_with_threads(const void *arg) {
    world w;
    child_world(&w);
    static err_log log; /* outlives the heap */
    memset(&log, 0, sizeof log);
    log.heap = w.h;
    rtgc_set_error_handler(w.h, on_error, &log);
    rtgc_error err;
    rtgc_thread *t = rtgc_thread_attach(w.h, &err);
    CHECK(t != NULL);
    rtgc_heap_destroy(w.h);
    child_expect_misuse(&log, "rtgc_heap_destroy");
}

static void test_destroy_with_threads(void **state) {
    run_isolated(scenario_destroy_with_threads, NULL, 2000);
}

/* Without an error handler, misuse aborts. */
static void scenario_abort_without_handler(const void *arg) {
    FILE *null = freopen("/dev/null", "w", stderr); /* the expected message */
    (void)null;
    rtgc_config c;
    rtgc_error err;
    rtgc_heap *h = NULL;
    rtgc_config_init(&c);
    c.mode = RTGC_MODE_STW;
    CHECK(rtgc_heap_create(&c, &h, &err) == RTGC_OK);
    rtgc_thread *t = rtgc_thread_attach(h, &err);
    CHECK(t != NULL);
    CHECK(rtgc_thread_detach(t) == RTGC_OK);
    rtgc_collect(t); /* misuse: must abort */
    child_say("rtgc_collect on a detached thread returned without a handler installed");
    _exit(1);
}

static void test_misuse_aborts_without_handler(void **state) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        scenario_abort_without_handler(NULL);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status))
        fail_msg("child exited with %d instead of aborting", WEXITSTATUS(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void) {
    enum { NDET = sizeof detached_cases / sizeof detached_cases[0] };
    static char names[NDET][64];
    struct CMUnitTest tests[NDET + 16];
    size_t n = 0;
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_thread_lifecycle);
    for (size_t i = 0; i < NDET; i++) {
#if !(defined(RTGC_CHECK) && RTGC_CHECK)
        if (detached_cases[i].call == D_ALLOC_INLINE)
            continue; /* the inline path checks only in check builds */
#endif
        snprintf(names[i], sizeof names[i], "test_detached_%s%s", detached_cases[i].name,
                 detached_cases[i].call == D_ALLOC_INLINE ? "_inline" : "");
        tests[n++] = (struct CMUnitTest){names[i], test_detached_call, NULL, NULL,
                                         (void *)&detached_cases[i]};
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_bad_layout_id);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_bad_handle_mark);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_leave_without_enter);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_double_attach);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_foreign_thread);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_destroy_with_threads);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_misuse_aborts_without_handler);
    return _cmocka_run_group_tests("test_misuse", tests, n, NULL, NULL);
}

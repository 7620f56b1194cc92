/* test_embed.c - rtvm through its embedding API (include/rtvm.h), the way
 * gclat uses it: the workload programs' entry functions called from one or
 * several threads, in every collector mode, with the stress knob on; and
 * finalizers of several contexts sharing one heap.
 * Each case checks the results the programs return, and the heap verifier
 * (verify=1) re-checks every cycle's marks.
 */
#include <rtvm.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static rtgc_heap *make_heap(const char *opts) {
    rtgc_config cfg;
    rtgc_error e;
    rtgc_heap *h;
    rtgc_config_init(&cfg);
    assert_int_equal(rtgc_config_parse(&cfg, opts, &e), RTGC_OK);
    assert_int_equal(rtgc_heap_create(&cfg, &h, &e), RTGC_OK);
    return h;
}

static rtvm_program *load(rtgc_heap *h, const char *path, rtvm_jit_mode jit) {
    rtvm_options o;
    rtvm_options_init(&o);
    o.jit = jit;
    char err[512];
    rtvm_program *p = rtvm_program_load(h, path, &o, err, sizeof err);
    if (!p) fail_msg("%s", err);
    return p;
}

static int64_t call(rtvm_ctx *c, const char *name, int argc, ...) {
    int64_t args[8], r = -1;
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++) args[i] = va_arg(ap, int64_t);
    va_end(ap);
    if (rtvm_call(c, name, argc, args, &r) != 0) fail_msg("%s: %s", name, rtvm_last_error(c));
    return r;
}

typedef struct web_job {
    rtgc_heap *heap;
    rtvm_program *p;
    int worker;
    int requests;
    int ok;
} web_job;

static void *web_worker(void *arg) {
    web_job *j = arg;
    rtgc_error e;
    rtgc_thread *t = rtgc_thread_attach(j->heap, &e);
    if (!t) return NULL;
    char err[512];
    rtvm_ctx *c = rtvm_ctx_create(j->p, t, err, sizeof err);
    if (c) {
        int64_t args[2] = {j->worker, 40}, r;
        int ok = rtvm_call(c, "setup", 2, args, &r) == 0 && r == 40;
        for (int i = 0; ok && i < j->requests; i++) {
            int64_t a[2] = {i, i * 7};
            ok = rtvm_call(c, "request", 2, a, &r) == 0 && r == 2048;
            if (!ok) fprintf(stderr, "request %d: %lld %s\n", i, (long long)r, rtvm_last_error(c));
        }
        j->ok = ok;
        rtvm_ctx_destroy(c);
    } else {
        fprintf(stderr, "%s\n", err);
    }
    rtgc_thread_detach(t);
    return NULL;
}

/* The web workload on `n` threads, each with its own context, sharing one program. */
static void web_threads(const char *opts, rtvm_jit_mode jit, int n, int requests) {
    rtgc_heap *h = make_heap(opts);
    rtvm_program *p = load(h, "vm/programs/web.rtvm", jit);
    pthread_t th[4];
    web_job jobs[4];
    for (int i = 0; i < n; i++) {
        jobs[i] = (web_job){h, p, i, requests, 0};
        pthread_create(&th[i], NULL, web_worker, &jobs[i]);
    }
    for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < n; i++) assert_true(jobs[i].ok);
    rtgc_stats st;
    rtgc_get_stats(h, &st);
    assert_true(st.cycles > 0);
    rtvm_program_free(p);
    rtgc_heap_destroy(h);
}

/* Two contexts of one program on one thread: the thread's scanner visits both. */
static void two_contexts_one_thread(void **state) {
    rtgc_heap *h = make_heap("mode=concurrent,stress=29,verify=1");
    rtgc_error e;
    rtgc_thread *t = rtgc_thread_attach(h, &e);
    char err[512];
    rtvm_program *p = load(h, "vm/programs/web.rtvm", RTVM_JIT_ON);
    rtvm_ctx *a = rtvm_ctx_create(p, t, err, sizeof err);
    rtvm_ctx *b = rtvm_ctx_create(p, t, err, sizeof err);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(call(a, "setup", 2, (int64_t)0, (int64_t)10), 10);
    assert_int_equal(call(b, "setup", 2, (int64_t)1, (int64_t)20), 20);
    for (int i = 0; i < 300; i++) {
        assert_int_equal(call(a, "request", 2, (int64_t)i, (int64_t)i), 2048);
        assert_int_equal(call(b, "request", 2, (int64_t)i, (int64_t)(i * 3)), 2048);
    }
    rtvm_ctx_destroy(a);
    assert_int_equal(call(b, "request", 2, (int64_t)1, (int64_t)2), 2048);
    rtvm_ctx_destroy(b);
    rtvm_program_free(p);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}

static void web_two_threads_concurrent_stress(void **state) {
    web_threads("mode=concurrent,stress=41,verify=1", RTVM_JIT_AUTO, 2, 300);
}
static void web_two_threads_concurrent_jit(void **state) {
    web_threads("mode=concurrent,stress=57", RTVM_JIT_ON, 2, 400);
}
static void web_three_threads_incremental(void **state) {
    web_threads("mode=incremental,stress=73", RTVM_JIT_OFF, 3, 200);
}
static void web_two_threads_stw(void **state) { web_threads("mode=stw,stress=61", RTVM_JIT_ON, 2, 300); }

/* ---- finalizers across contexts and threads ----
 * rtgc_run_finalizers is heap-wide: a context's (run-finalizers) may pop
 * another context's registrations.  Each must still run in the context
 * that registered it (the finalizer checks the owner id stored in its
 * object), and a context destroyed with registrations pending, some of
 * them ready, must leave nothing behind (the sanitizer builds check). */
static const char fin_src[] =
    "(def me 0)\n(def ran 0)\n(def made 0)\n"
    "(defn setup (id) (set! me id) id)\n"
    "(defn owned (o) (when (!= (get o 0) me) (error \"finalized in the wrong context\")) (set! ran (+ ran 1)))\n"
    "(defn drop (n) (for (i 0 n) (finalize! (vector me i) owned)) (set! made (+ made n)) made)\n"
    "(defn settle () (collect) nil)\n"
    "(defn run () (run-finalizers))\n"
    "(defn reap () (collect) (run-finalizers) ran)\n";

static rtvm_program *from_source(rtgc_heap *h, const char *name, const char *src, rtvm_jit_mode jit) {
    rtvm_options o;
    rtvm_options_init(&o);
    o.jit = jit;
    char err[512];
    rtvm_program *p = rtvm_program_from_source(h, name, src, &o, err, sizeof err);
    if (!p) fail_msg("%s", err);
    return p;
}
static rtvm_program *fin_program(rtgc_heap *h, rtvm_jit_mode jit) { return from_source(h, "fin.rtvm", fin_src, jit); }

typedef struct fin_job {
    rtgc_heap *heap;
    rtvm_program *p;
    int id, rounds, ok;
} fin_job;

static int fin_call(rtvm_ctx *c, const char *name, int64_t arg, int64_t *r) {
    if (rtvm_call(c, name, 1, &arg, r) == 0) return 1;
    fprintf(stderr, "%s: %s\n", name, rtvm_last_error(c));
    return 0;
}

static void *fin_worker(void *arg) {
    fin_job *j = arg;
    rtgc_error e;
    rtgc_thread *t = rtgc_thread_attach(j->heap, &e);
    if (!t) return NULL;
    char err[512];
    int64_t r, ran = -1;
    int ok = 0;
    /* a context that goes away with 40 registrations pending, made ready */
    rtvm_ctx *gone = rtvm_ctx_create(j->p, t, err, sizeof err);
    if (gone) {
        ok = fin_call(gone, "setup", 100 + j->id, &r) && fin_call(gone, "drop", 40, &r) &&
             rtvm_call(gone, "settle", 0, NULL, &r) == 0;
        rtvm_ctx_destroy(gone);
    }
    rtvm_ctx *c = ok ? rtvm_ctx_create(j->p, t, err, sizeof err) : NULL;
    if (c) {
        ok = fin_call(c, "setup", j->id, &r);
        for (int i = 0; ok && i < j->rounds; i++)
            ok = fin_call(c, "drop", 25, &r) && rtvm_call(c, "reap", 0, NULL, &ran) == 0;
        /* the other thread may have popped some of ours: they wait in our inbox */
        for (int k = 0; ok && ran != 25 * j->rounds && k < 1000; k++) ok = rtvm_call(c, "reap", 0, NULL, &ran) == 0;
        if (ran != 25 * j->rounds) fprintf(stderr, "context %d: %lld of %d finalizers ran\n", j->id, (long long)ran, 25 * j->rounds);
        j->ok = ok && ran == 25 * j->rounds;
        rtvm_ctx_destroy(c);
    }
    rtgc_thread_detach(t);
    return NULL;
}

static void fin_threads(const char *opts, rtvm_jit_mode jit) {
    rtgc_heap *h = make_heap(opts);
    rtvm_program *p = fin_program(h, jit);
    pthread_t th[2];
    fin_job jobs[2];
    for (int i = 0; i < 2; i++) {
        jobs[i] = (fin_job){h, p, i + 1, 20, 0};
        pthread_create(&th[i], NULL, fin_worker, &jobs[i]);
    }
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) assert_true(jobs[i].ok);
    rtvm_program_free(p);
    rtgc_heap_destroy(h);
}
static void finalizers_two_threads_concurrent(void **state) { fin_threads("mode=concurrent,stress=23,verify=1", RTVM_JIT_ON); }
static void finalizers_two_threads_incremental(void **state) { fin_threads("mode=incremental,stress=31", RTVM_JIT_OFF); }
static void finalizers_two_threads_stw(void **state) { fin_threads("mode=stw,stress=17", RTVM_JIT_AUTO); }

/* Two contexts on one thread: b's (run-finalizers) hands a's finalizers to
 * a, which runs them in its own (run-finalizers). */
static void finalizers_two_contexts_one_thread(void **state) {
    rtgc_heap *h = make_heap("mode=concurrent,stress=29");
    rtgc_thread *t = rtgc_thread_attach(h, NULL);
    rtvm_program *p = fin_program(h, RTVM_JIT_ON);
    char err[512];
    rtvm_ctx *a = rtvm_ctx_create(p, t, err, sizeof err);
    rtvm_ctx *b = rtvm_ctx_create(p, t, err, sizeof err);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(call(a, "setup", 1, (int64_t)1), 1);
    assert_int_equal(call(b, "setup", 1, (int64_t)2), 2);
    assert_int_equal(call(a, "drop", 1, (int64_t)30), 30);
    assert_int_equal(call(b, "reap", 0), 0);  /* pops a's 30, runs none of them */
    assert_int_equal(call(a, "run", 0), 30);
    assert_int_equal(call(a, "reap", 0), 30);
    assert_int_equal(call(b, "drop", 1, (int64_t)5), 5);
    rtvm_ctx_destroy(b);                       /* pending: never run */
    assert_int_equal(call(a, "reap", 0), 30);
    rtvm_ctx_destroy(a);
    rtvm_program_free(p);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}

/* Every workload's entry functions, single-threaded, in one mode. */
static void workloads(const char *opts, rtvm_jit_mode jit, int step) {
    rtgc_heap *h = make_heap(opts);
    rtgc_error e;
    rtgc_thread *t = rtgc_thread_attach(h, &e);
    assert_non_null(t);
    char err[512];

    rtvm_program *p = load(h, "vm/programs/gaming.rtvm", jit);
    rtvm_ctx *c = rtvm_ctx_create(p, t, err, sizeof err);
    assert_non_null(c);
    assert_true(rtvm_has_function(c, "frame"));
    assert_int_equal(call(c, "setup", 1, (int64_t)400), 400);
    for (int i = 0; i < 40; i++) {
        int64_t live = call(c, "frame", 1, (int64_t)i);
        assert_int_equal(live, 64 * (i + 1 < 29 ? i + 1 : 29)); /* 64 a frame, each lives 29 more frames */
        if (step) rtgc_step(t, 200000);
    }
    rtvm_ctx_destroy(c);
    rtvm_program_free(p);

    p = load(h, "vm/programs/embedded.rtvm", jit);
    c = rtvm_ctx_create(p, t, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(call(c, "setup", 1, (int64_t)256), 256);
    for (int i = 0; i < 250; i++) {
        assert_int_equal(call(c, "tick", 2, (int64_t)i, (int64_t)4), 4);
        if (step && i % 10 == 0) rtgc_step(t, 200000);
    }
    rtvm_ctx_destroy(c);
    rtvm_program_free(p);

    p = load(h, "vm/programs/msgbuf.rtvm", jit);
    c = rtvm_ctx_create(p, t, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(call(c, "setup", 1, (int64_t)64), 64);
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(call(c, "push", 1, (int64_t)i), i);
        if (step && i % 50 == 0) rtgc_step(t, 200000);
    }
    rtvm_ctx_destroy(c);
    rtvm_program_free(p);

    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}

static void workloads_stw(void **state) { workloads("mode=stw,stress=37,verify=1", RTVM_JIT_AUTO, 0); }
static void workloads_concurrent(void **state) { workloads("mode=concurrent,stress=37", RTVM_JIT_ON, 0); }
static void workloads_incremental(void **state) { workloads("mode=incremental,stress=53", RTVM_JIT_OFF, 0); }
static void workloads_step(void **state) { workloads("mode=step,heap=64M", RTVM_JIT_ON, 1); }

static void gcbench_small(void **state) {
    rtgc_heap *h = make_heap("mode=concurrent,heap=256M");
    rtgc_error e;
    rtgc_thread *t = rtgc_thread_attach(h, &e);
    char err[512];
    rtvm_program *p = load(h, "vm/programs/gcbench.rtvm", RTVM_JIT_AUTO);
    rtvm_ctx *c = rtvm_ctx_create(p, t, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(call(c, "setup", 0), (1 << 17) - 1);
    assert_int_equal(call(c, "iteration", 1, (int64_t)14), 2 * (2 * ((1 << 19) - 1) / ((1 << 15) - 1)));
    rtvm_ctx_destroy(c);
    rtvm_program_free(p);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}

/* Errors through the API: messages with locations, and the context stays usable. */
static void api_errors(void **state) {
    rtgc_heap *h = make_heap("mode=stw");
    rtgc_error e;
    rtgc_thread *t = rtgc_thread_attach(h, &e);
    char err[512];
    rtvm_program *bad = rtvm_program_from_source(h, "bad.rtvm", "(defn f (x)\n  (+ x 1)", NULL, err, sizeof err);
    assert_null(bad);
    assert_string_equal(err, "bad.rtvm:1:1: unclosed '('");
    rtvm_program *p = rtvm_program_from_source(
        h, "ok.rtvm", "(def n 0)\n(defn f (x) (set! n (+ n 1)) (* x 2))\n(defn g (v) (get v 3))\n(def notfn 5)", NULL,
        err, sizeof err);
    assert_non_null(p);
    rtvm_ctx *c = rtvm_ctx_create(p, t, err, sizeof err);
    assert_non_null(c);
    assert_true(rtvm_has_function(c, "f"));
    assert_false(rtvm_has_function(c, "notfn"));
    assert_false(rtvm_has_function(c, "nosuch"));
    int64_t r, a[1] = {21};
    assert_int_equal(rtvm_call(c, "f", 1, a, &r), 0);
    assert_int_equal(r, 42);
    assert_int_equal(rtvm_call(c, "nosuch", 1, a, &r), -1);
    assert_string_equal(rtvm_last_error(c), "ok.rtvm: runtime error: undefined name 'nosuch'");
    assert_int_equal(rtvm_call(c, "g", 1, a, &r), -1);
    assert_string_equal(rtvm_last_error(c), "ok.rtvm:3:13: runtime error: get expects a vector or a table, got int (in g)");
    assert_int_equal(rtvm_call(c, "f", 0, a, &r), -1);
    assert_int_equal(rtvm_call(c, "f", 1, a, &r), 0);
    assert_int_equal(r, 42);
    rtvm_ctx_destroy(c);
    /* a top level that fails: no context */
    rtvm_program *p2 = rtvm_program_from_source(h, "top.rtvm", "(print (/ 1 0))", NULL, err, sizeof err);
    assert_non_null(p2);
    assert_null(rtvm_ctx_create(p2, t, err, sizeof err));
    assert_string_equal(err, "top.rtvm:1:8: runtime error: division by zero (in <top>)");
    rtvm_program_free(p2);
    rtvm_program_free(p);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}

/* A finalizer that raises an error ends (run-finalizers) with it, through
 * rtvm_call as anywhere; the ones not run yet stay ready and run at the
 * next call, in registration order. */
static void finalizer_error_leaves_rest_ready(rtvm_jit_mode jit) {
    rtgc_heap *h = make_heap("mode=incremental,stress=41,verify=1");
    rtgc_error e;
    rtgc_thread *t = rtgc_thread_attach(h, &e);
    char err[512];
    rtvm_program *p = from_source(
        h, "finerr.rtvm",
        "(def log (vector))\n"
        "(defn setup () (finalize! (vector 1) (fn (x) (push! log 1)))\n"
        "  (finalize! (vector 2) (fn (x) (error \"boom\")))\n"
        "  (finalize! (vector 3) (fn (x) (push! log 3))) (finalize! (vector 4) (fn (x) (push! log 4))) 0)\n"
        "(defn col () (collect) 0)\n"
        "(defn run () (run-finalizers))\n"
        "(defn logged () (let ((n 0)) (for (i 0 (len log)) (set! n (+ (* n 10) (get log i)))) n))\n",
        jit);
    rtvm_ctx *c = rtvm_ctx_create(p, t, err, sizeof err);
    if (!c) fail_msg("%s", err);
    call(c, "setup", 0);
    call(c, "col", 0);
    int64_t r;
    assert_int_equal(rtvm_call(c, "run", 0, NULL, &r), -1);
    assert_string_equal(rtvm_last_error(c), "finerr.rtvm:3:33: runtime error: boom (in lambda)");
    assert_int_equal(call(c, "logged", 0), 1);
    assert_int_equal(call(c, "run", 0), 2);
    assert_int_equal(call(c, "logged", 0), 134);
    assert_int_equal(call(c, "run", 0), 0);
    rtvm_ctx_destroy(c);
    rtvm_program_free(p);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}
static void finalizer_error_interp(void **state) { finalizer_error_leaves_rest_ready(RTVM_JIT_OFF); }
static void finalizer_error_jit(void **state) { finalizer_error_leaves_rest_ready(RTVM_JIT_ON); }

/* JIT code takes its fast paths: int arithmetic and compares, branches,
 * calls, record fields, vector reads and writes, allocation.  Counted by
 * rtvm_get_stats: an op handed to C is a slow path (or a builtin). */
static void jit_fast_paths(void **state) {
    rtgc_heap *h = make_heap("mode=stw");
    rtgc_error e;
    rtgc_thread *t = rtgc_thread_attach(h, &e);
    char err[512];
    rtvm_options o;
    rtvm_options_init(&o);
    o.jit = RTVM_JIT_ON;
    static const char src[] =
        "(record pt (x y))\n"
        "(defn fib (n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))\n"
        "(defn work (n)\n"
        "  (let ((v (make-vector 16 0)) (s 0) (p (new pt 1 2)) (f 0.5) (h 1.5))\n"
        "    (for (i 0 n)\n"
        "      (put! v (% i 16) (* i 3))\n"
        "      (set! s (+ s (get v 5) p.x (- i 1000)))\n"
        "      (set! p (new pt (+ p.x 1) p.y))\n"
        "      (set! f (- (+ f (* h 0.5)) 0.75))\n"
        "      (when (= (nil? p) (eq? p v)) (set! s (+ s 1))))\n"
        "    (+ s (fib 15) (len v))))\n";
    rtvm_program *p = rtvm_program_from_source(h, "fast.rtvm", src, &o, err, sizeof err);
    assert_non_null(p);
    rtvm_ctx *c = rtvm_ctx_create(p, t, err, sizeof err);
    assert_non_null(c);
    rtvm_stats st;
    rtvm_get_stats(c, &st);
    uint64_t before = st.jit_slow_ops;
    int64_t r = call(c, "work", 1, (int64_t)100000);
    rtvm_get_stats(c, &st);
    assert_true(r > 0);
    assert_int_equal(st.jit_functions, 3);
    /* make-vector is a builtin (C); everything else stays inline */
    assert_in_range(st.jit_slow_ops - before, 0, 10);
    /* W^X: no mapping of the process is writable and executable */
    FILE *maps = fopen("/proc/self/maps", "r");
    if (maps) {
        char line[512];
        int wx = 0, x = 0;
        while (fgets(line, sizeof line, maps)) {
            char perms[8] = "";
            if (sscanf(line, "%*s %7s", perms) == 1) {
                if (perms[1] == 'w' && perms[2] == 'x') wx++;
                if (perms[2] == 'x') x++;
            }
        }
        fclose(maps);
        assert_int_equal(wx, 0);
        assert_true(x > 0);
    }
    rtvm_ctx_destroy(c);
    rtvm_program_free(p);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}

/* A deep VM stack scanned in slices while the thread runs ([ctx.watermark]):
 * each of 3000 frames holds objects it checks after its callee returns,
 * while garbage keeps the collector busy. */
static void deep_stack(const char *opts, rtvm_jit_mode jit) {
    rtgc_heap *h = make_heap(opts);
    rtgc_error e;
    rtgc_thread *t = rtgc_thread_attach(h, &e);
    char err[512];
    rtvm_options o;
    rtvm_options_init(&o);
    o.jit = jit;
    static const char src[] =
        "(record cell (n s next))\n"
        "(defn walk (c k) (if (nil? c) k (walk c.next (+ k 1))))\n"
        "(defn deep (n acc)\n"
        "  (if (= n 0)\n"
        "      (walk acc 0)\n"
        "      (let ((c (new cell n (str \"cell-\" n) acc))\n"
        "            (junk (make-vector 8 (str n))))\n"
        "        (let ((r (deep (- n 1) c)))\n"
        "          (when (!= c.n n) (error \"cell number\"))\n"
        "          (when (!= c.s (str \"cell-\" n)) (error \"cell string\"))\n"
        "          (+ r (len (get junk 7)))))))\n"
        "(defn start (n) (deep n nil))\n";
    rtvm_program *p = rtvm_program_from_source(h, "deep.rtvm", src, &o, err, sizeof err);
    assert_non_null(p);
    rtvm_ctx *c = rtvm_ctx_create(p, t, err, sizeof err);
    assert_non_null(c);
    for (int i = 0; i < 3; i++) assert_int_equal(call(c, "start", 1, (int64_t)3000), 13893);
    rtgc_stats st;
    rtgc_get_stats(h, &st);
    assert_true(st.cycles > 0);
    rtvm_ctx_destroy(c);
    rtvm_program_free(p);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
}
static void deep_stack_concurrent_jit(void **state) { deep_stack("mode=concurrent,stress=31,verify=1", RTVM_JIT_ON); }
static void deep_stack_concurrent_interp(void **state) { deep_stack("mode=concurrent,stress=43", RTVM_JIT_OFF); }
static void deep_stack_incremental(void **state) { deep_stack("mode=incremental,stress=37,verify=1", RTVM_JIT_AUTO); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(api_errors),
        cmocka_unit_test(finalizer_error_interp),
        cmocka_unit_test(finalizer_error_jit),
        cmocka_unit_test(jit_fast_paths),
        cmocka_unit_test(deep_stack_concurrent_jit),
        cmocka_unit_test(deep_stack_concurrent_interp),
        cmocka_unit_test(deep_stack_incremental),
        cmocka_unit_test(workloads_stw),
        cmocka_unit_test(workloads_concurrent),
        cmocka_unit_test(workloads_incremental),
        cmocka_unit_test(workloads_step),
        cmocka_unit_test(gcbench_small),
        cmocka_unit_test(web_two_threads_stw),
        cmocka_unit_test(two_contexts_one_thread),
        cmocka_unit_test(web_two_threads_concurrent_stress),
        cmocka_unit_test(web_two_threads_concurrent_jit),
        cmocka_unit_test(web_three_threads_incremental),
        cmocka_unit_test(finalizers_two_contexts_one_thread),
        cmocka_unit_test(finalizers_two_threads_stw),
        cmocka_unit_test(finalizers_two_threads_concurrent),
        cmocka_unit_test(finalizers_two_threads_incremental),
    };
    if (getenv("RTVM_TEST_FILTER")) cmocka_set_test_filter(getenv("RTVM_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}

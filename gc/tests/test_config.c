/* gc/tests/test_config.c - rtgc_config: defaults, the options string, the
 * environment, validation, formatting, the size/duration parsers, and
 * rtgc_heap_create's handling of a bad configuration. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)
#define TiB ((size_t)1 << 40)

static int dbl_eq(double a, double b) {
    return fabs(a - b) <= 1e-9 * (fabs(a) > 1.0 ? fabs(a) : 1.0);
}

static int config_equal(const rtgc_config *a, const rtgc_config *b) {
    return a->heap_limit == b->heap_limit && a->pause_budget_ns == b->pause_budget_ns &&
           a->mode == b->mode && a->collector_threads == b->collector_threads &&
           dbl_eq(a->mmu_target, b->mmu_target) && dbl_eq(a->growth_factor, b->growth_factor) &&
           dbl_eq(a->cpu_share, b->cpu_share) && a->min_trigger == b->min_trigger &&
           a->stress_alloc == b->stress_alloc && a->verify == b->verify &&
           a->pause_log == b->pause_log && a->inject_point == b->inject_point &&
           a->inject_ns == b->inject_ns;
}

static void print_config(const char *what, const rtgc_config *c) {
    print_message("%s: heap=%zu budget=%llu mode=%d threads=%u mmu=%g growth=%g cpu=%g "
                  "min_trigger=%zu stress=%llu verify=%d pause_log=%u inject=%d:%llu\n",
                  what, c->heap_limit, (unsigned long long)c->pause_budget_ns, (int)c->mode,
                  c->collector_threads, c->mmu_target, c->growth_factor, c->cpu_share,
                  c->min_trigger, (unsigned long long)c->stress_alloc, c->verify, c->pause_log,
                  (int)c->inject_point, (unsigned long long)c->inject_ns);
}

/* err.field "names the offending option": the option key is the documented
 * name; the struct field's name is accepted too (validate works on the
 * struct, where the longer name is natural). */
static int field_is(const rtgc_error *err, const char *key, const char *member) {
    return strcmp(err->field, key) == 0 || (member && strcmp(err->field, member) == 0);
}

static void clear_err(rtgc_error *err) {
    memset(err, 0, sizeof *err);
}

/* ---- defaults ---- */

static void test_defaults(void **state) {
    rtgc_config c;
    memset(&c, 0xa5, sizeof c);
    rtgc_config_init(&c);
    assert_int_equal(c.heap_limit, 256 * MiB);
    assert_int_equal(c.pause_budget_ns, 1000000u);
    assert_true(c.mode == RTGC_MODE_CONCURRENT || c.mode == RTGC_MODE_INCREMENTAL ||
                c.mode == RTGC_MODE_STEP || c.mode == RTGC_MODE_STW);
    assert_int_equal(c.collector_threads, 1);
    assert_true(dbl_eq(c.mmu_target, 0.70));
    assert_true(dbl_eq(c.growth_factor, 1.0));
    assert_true(dbl_eq(c.cpu_share, 0.25));
    assert_int_equal(c.min_trigger, 0); /* auto */
    assert_int_equal(c.stress_alloc, 0);
    assert_int_equal(c.verify, 0);
    assert_int_equal(c.pause_log, 65536);
    assert_int_equal(c.inject_point, RTGC_INJECT_NONE);
    assert_int_equal(c.inject_ns, 0);
    assert_int_equal(c.hugepages, RTGC_HUGEPAGES_AUTO);

    rtgc_error err;
    clear_err(&err);
    assert_int_equal(rtgc_config_validate(&c, &err), RTGC_OK);
}

/* ---- every key ---- */

typedef struct good_case {
    const char *opts;
    void (*check)(const rtgc_config *c);
} good_case;

static void chk_heap64m(const rtgc_config *c) { assert_int_equal(c->heap_limit, 64 * MiB); }
static void chk_heap2g(const rtgc_config *c) { assert_int_equal(c->heap_limit, 2 * GiB); }
static void chk_heap4096k(const rtgc_config *c) { assert_int_equal(c->heap_limit, 4096 * KiB); }
static void chk_heap1t(const rtgc_config *c) { assert_int_equal(c->heap_limit, TiB); }
static void chk_heap_bytes(const rtgc_config *c) { assert_int_equal(c->heap_limit, 3 * MiB + 16); }
static void chk_heap_min(const rtgc_config *c) { assert_int_equal(c->heap_limit, RTGC_HEAP_LIMIT_MIN); }
static void chk_heap_max(const rtgc_config *c) { assert_int_equal(c->heap_limit, RTGC_HEAP_LIMIT_MAX); }
static void chk_budget250us(const rtgc_config *c) { assert_int_equal(c->pause_budget_ns, 250000u); }
static void chk_budget1ms(const rtgc_config *c) { assert_int_equal(c->pause_budget_ns, 1000000u); }
static void chk_budget500000ns(const rtgc_config *c) { assert_int_equal(c->pause_budget_ns, 500000u); }
static void chk_budget10us(const rtgc_config *c) { assert_int_equal(c->pause_budget_ns, RTGC_BUDGET_MIN_NS); }
static void chk_budget1000ms(const rtgc_config *c) { assert_int_equal(c->pause_budget_ns, RTGC_BUDGET_MAX_NS); }
static void chk_stw(const rtgc_config *c) { assert_int_equal(c->mode, RTGC_MODE_STW); }
static void chk_concurrent(const rtgc_config *c) { assert_int_equal(c->mode, RTGC_MODE_CONCURRENT); }
static void chk_incremental(const rtgc_config *c) { assert_int_equal(c->mode, RTGC_MODE_INCREMENTAL); }
static void chk_step(const rtgc_config *c) { assert_int_equal(c->mode, RTGC_MODE_STEP); }
static void chk_threads4(const rtgc_config *c) { assert_int_equal(c->collector_threads, 4); }
static void chk_threads_max(const rtgc_config *c) { assert_int_equal(c->collector_threads, RTGC_COLLECTOR_THREADS_MAX); }
static void chk_mmu07(const rtgc_config *c) { assert_true(dbl_eq(c->mmu_target, 0.7)); }
static void chk_mmu055(const rtgc_config *c) { assert_true(dbl_eq(c->mmu_target, 0.55)); }
static void chk_growth05(const rtgc_config *c) { assert_true(dbl_eq(c->growth_factor, 0.5)); }
static void chk_growth3(const rtgc_config *c) { assert_true(dbl_eq(c->growth_factor, 3.0)); }
static void chk_cpu05(const rtgc_config *c) { assert_true(dbl_eq(c->cpu_share, 0.5)); }
static void chk_cpu025(const rtgc_config *c) { assert_true(dbl_eq(c->cpu_share, 0.25)); }
static void chk_cpu1(const rtgc_config *c) { assert_true(dbl_eq(c->cpu_share, 1.0)); }
static void chk_min_trigger(const rtgc_config *c) { assert_int_equal(c->min_trigger, 8 * MiB); }
static void chk_stress(const rtgc_config *c) { assert_int_equal(c->stress_alloc, 100); }
static void chk_stress0(const rtgc_config *c) { assert_int_equal(c->stress_alloc, 0); }
static void chk_verify1(const rtgc_config *c) { assert_int_equal(c->verify, 1); }
static void chk_verify0(const rtgc_config *c) { assert_int_equal(c->verify, 0); }
static void chk_pause_log(const rtgc_config *c) { assert_int_equal(c->pause_log, 1024); }
static void chk_inject_roots3ms(const rtgc_config *c) {
    assert_int_equal(c->inject_point, RTGC_INJECT_ROOTS);
    assert_int_equal(c->inject_ns, 3000000u);
}
static void chk_inject_roots250us(const rtgc_config *c) {
    assert_int_equal(c->inject_point, RTGC_INJECT_ROOTS);
    assert_int_equal(c->inject_ns, 250000u);
}
static void chk_inject_none(const rtgc_config *c) {
    assert_int_equal(c->inject_point, RTGC_INJECT_NONE);
    assert_int_equal(c->inject_ns, 0);
}
static void chk_huge_on(const rtgc_config *c) { assert_int_equal(c->hugepages, RTGC_HUGEPAGES_ON); }
static void chk_huge_off(const rtgc_config *c) { assert_int_equal(c->hugepages, RTGC_HUGEPAGES_OFF); }
static void chk_huge_auto(const rtgc_config *c) { assert_int_equal(c->hugepages, RTGC_HUGEPAGES_AUTO); }
static void chk_multi(const rtgc_config *c) {
    assert_int_equal(c->heap_limit, 64 * MiB);
    assert_int_equal(c->pause_budget_ns, 250000u);
    assert_int_equal(c->mode, RTGC_MODE_STW);
    assert_int_equal(c->collector_threads, 2);
    assert_true(dbl_eq(c->mmu_target, 0.8));
    assert_true(dbl_eq(c->growth_factor, 2.0));
    assert_true(dbl_eq(c->cpu_share, 0.3));
    assert_int_equal(c->min_trigger, 16 * MiB);
    assert_int_equal(c->stress_alloc, 7);
    assert_int_equal(c->verify, 1);
    assert_int_equal(c->pause_log, 256);
}

static const good_case good_cases[] = {
    {"heap=64M", chk_heap64m},
    {"heap=2G", chk_heap2g},
    {"heap=4096K", chk_heap4096k},
    {"heap=1T", chk_heap1t},
    {"heap=3145744,min_trigger=1M", chk_heap_bytes},
    {"heap=1M,min_trigger=1M", chk_heap_min},
    {"heap=4T", chk_heap_max},
    {"budget=250us", chk_budget250us},
    {"budget=1ms", chk_budget1ms},
    {"budget=500000ns", chk_budget500000ns},
    {"budget=10us", chk_budget10us},
    {"budget=1000ms", chk_budget1000ms},
    {"mode=stw", chk_stw},
    {"mode=concurrent", chk_concurrent},
    {"mode=incremental", chk_incremental},
    {"mode=step", chk_step},
    {"threads=4", chk_threads4},
    {"threads=64", chk_threads_max},
    {"mmu=0.7", chk_mmu07},
    {"mmu=70%", chk_mmu07},
    {"mmu=55%", chk_mmu055},
    {"growth=0.5", chk_growth05},
    {"growth=3", chk_growth3},
    {"cpu=0.5", chk_cpu05},
    {"cpu=25%", chk_cpu025},
    {"cpu=1", chk_cpu1},
    {"min_trigger=8M", chk_min_trigger},
    {"stress=100", chk_stress},
    {"stress=0", chk_stress0},
    {"verify=1", chk_verify1},
    {"verify=0", chk_verify0},
    {"pause_log=1024", chk_pause_log},
    {"inject=roots:3ms", chk_inject_roots3ms},
    {"inject=roots:250us", chk_inject_roots250us},
    {"inject=none", chk_inject_none},
    {"hugepages=on", chk_huge_on},
    {"hugepages=off", chk_huge_off},
    {"hugepages=auto", chk_huge_auto},
    {"heap=64M,budget=250us,mode=stw,threads=2,mmu=0.8,growth=2,cpu=30%,min_trigger=16M,"
     "stress=7,verify=1,pause_log=256",
     chk_multi},
};

static void test_parse_every_key(void **state) {
    for (size_t i = 0; i < sizeof good_cases / sizeof good_cases[0]; i++) {
        rtgc_config c;
        rtgc_error err;
        rtgc_config_init(&c);
        if (strncmp(good_cases[i].opts, "verify=0", 8) == 0)
            c.verify = 1; /* so that verify=0 is seen to change something */
        if (strncmp(good_cases[i].opts, "stress=0", 8) == 0)
            c.stress_alloc = 55;
        if (strcmp(good_cases[i].opts, "hugepages=auto") == 0)
            c.hugepages = RTGC_HUGEPAGES_OFF;   /* so that auto is seen to change something */
        if (strcmp(good_cases[i].opts, "inject=none") == 0) {
            c.inject_point = RTGC_INJECT_ROOTS; /* so that inject=none is seen to turn it off */
            c.inject_ns = 5000;
        }
        clear_err(&err);
        rtgc_status st = rtgc_config_parse(&c, good_cases[i].opts, &err);
        if (st != RTGC_OK)
            print_message("parse '%s' failed: field '%s': %s\n", good_cases[i].opts, err.field,
                          err.message);
        assert_int_equal(st, RTGC_OK);
        good_cases[i].check(&c);
        assert_int_equal(rtgc_config_validate(&c, &err), RTGC_OK);
    }
}

/* Parsing changes only the keys it names. */
static void test_parse_changes_only_named_keys(void **state) {
    rtgc_config c, d;
    rtgc_error err;
    rtgc_config_init(&c);
    rtgc_config_init(&d);
    assert_int_equal(rtgc_config_parse(&c, "budget=250us", &err), RTGC_OK);
    d.pause_budget_ns = 250000;
    assert_true(config_equal(&c, &d));

    /* A later key overrides an earlier one. */
    assert_int_equal(rtgc_config_parse(&c, "heap=8M,heap=16M", &err), RTGC_OK);
    assert_int_equal(c.heap_limit, 16 * MiB);

    /* The empty string applies nothing. */
    rtgc_config_init(&c);
    rtgc_config_init(&d);
    assert_int_equal(rtgc_config_parse(&c, "", &err), RTGC_OK);
    assert_true(config_equal(&c, &d));
}

/* Each mode's name parses back to the mode. */
static void test_mode_names(void **state) {
    const rtgc_mode modes[] = {RTGC_MODE_CONCURRENT, RTGC_MODE_INCREMENTAL, RTGC_MODE_STEP,
                               RTGC_MODE_STW};
    for (size_t i = 0; i < 4; i++) {
        const char *name = rtgc_mode_name(modes[i]);
        assert_non_null(name);
        char opts[64];
        snprintf(opts, sizeof opts, "mode=%s", name);
        rtgc_config c;
        rtgc_error err;
        rtgc_config_init(&c);
        c.mode = modes[(i + 1) % 4];
        assert_int_equal(rtgc_config_parse(&c, opts, &err), RTGC_OK);
        assert_int_equal(c.mode, modes[i]);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(name, rtgc_mode_name(modes[j]));
    }
    assert_string_equal(rtgc_mode_name(RTGC_MODE_STW), "stw");
    assert_string_equal(rtgc_mode_name(RTGC_MODE_CONCURRENT), "concurrent");
    assert_string_equal(rtgc_mode_name(RTGC_MODE_INCREMENTAL), "incremental");
    assert_string_equal(rtgc_mode_name(RTGC_MODE_STEP), "step");
}

static void test_status_names(void **state) {
    const rtgc_status sts[] = {RTGC_OK, RTGC_EINVAL, RTGC_ENOMEM, RTGC_EMISUSE, RTGC_ESTATE,
                               RTGC_EUNSUPPORTED};
    for (size_t i = 0; i < 6; i++) {
        const char *n = rtgc_status_name(sts[i]);
        assert_non_null(n);
        assert_true(strlen(n) > 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(n, rtgc_status_name(sts[j]));
    }
}

/* ---- bad values ---- */

typedef struct bad_case {
    const char *opts;
    const char *key;    /* option key expected in err.field */
    const char *member; /* or the struct member's name */
} bad_case;

static const bad_case bad_cases[] = {
    {"heap=-1", "heap", "heap_limit"},
    {"heap=-64M", "heap", "heap_limit"},
    {"heap=0", "heap", "heap_limit"},
    {"heap=512K", "heap", "heap_limit"},
    {"heap=1048575", "heap", "heap_limit"},
    {"heap=8T", "heap", "heap_limit"},
    {"heap=4097G", "heap", "heap_limit"},
    {"heap=12Q", "heap", "heap_limit"},
    {"heap=64MM", "heap", "heap_limit"},
    {"heap=M", "heap", "heap_limit"},
    {"heap=", "heap", "heap_limit"},
    {"heap=99999999999999999999999", "heap", "heap_limit"},
    {"heap=16777216T", "heap", "heap_limit"}, /* 2^64: overflows */
    {"heap", "heap", "heap_limit"},           /* missing '=' */
    {"heap64M", "heap64M", NULL},             /* missing '=': the whole word is the key */
    {"budget=5us", "budget", "pause_budget_ns"},
    {"budget=9999ns", "budget", "pause_budget_ns"},
    {"budget=0ns", "budget", "pause_budget_ns"},
    {"budget=-1ms", "budget", "pause_budget_ns"},
    {"budget=1001ms", "budget", "pause_budget_ns"},
    {"budget=1xs", "budget", "pause_budget_ns"},
    {"budget=ms", "budget", "pause_budget_ns"},
    {"budget=", "budget", "pause_budget_ns"},
    {"mode=fast", "mode", NULL},
    {"mode=", "mode", NULL},
    {"mode=STW2", "mode", NULL},
    {"threads=-1", "threads", "collector_threads"},
    {"threads=65", "threads", "collector_threads"},
    {"threads=abc", "threads", "collector_threads"},
    {"threads=2x", "threads", "collector_threads"},
    {"threads=", "threads", "collector_threads"},
    {"mmu=1.5", "mmu", "mmu_target"},
    {"mmu=1", "mmu", "mmu_target"},
    {"mmu=0", "mmu", "mmu_target"},
    {"mmu=-0.5", "mmu", "mmu_target"},
    {"mmu=150%", "mmu", "mmu_target"},
    {"mmu=abc", "mmu", "mmu_target"},
    {"mmu=0.7x", "mmu", "mmu_target"},
    {"mmu=", "mmu", "mmu_target"},
    {"growth=-1", "growth", "growth_factor"},
    {"growth=x", "growth", "growth_factor"},
    {"growth=", "growth", "growth_factor"},
    {"cpu=0", "cpu", "cpu_share"},
    {"cpu=1.5", "cpu", "cpu_share"},
    {"cpu=-0.25", "cpu", "cpu_share"},
    {"cpu=", "cpu", "cpu_share"},
    {"min_trigger=-5", "min_trigger", NULL},
    {"min_trigger=12Q", "min_trigger", NULL},
    {"min_trigger=", "min_trigger", NULL},
    {"stress=-1", "stress", "stress_alloc"},
    {"stress=x", "stress", "stress_alloc"},
    {"stress=", "stress", "stress_alloc"},
    {"verify=2", "verify", NULL},
    {"verify=-1", "verify", NULL},
    {"verify=", "verify", NULL},
    {"pause_log=1000", "pause_log", NULL},
    {"pause_log=0", "pause_log", NULL},
    {"pause_log=-4", "pause_log", NULL},
    {"pause_log=", "pause_log", NULL},
    {"inject=", "inject", "inject_point"},
    {"inject=roots", "inject", "inject_point"},
    {"inject=roots:", "inject", "inject_point"},
    {"inject=roots:3", "inject", "inject_point"},
    {"inject=roots:0ms", "inject", "inject_point"},
    {"inject=roots:2s", "inject", "inject_point"},
    {"inject=root:3ms", "inject", "inject_point"},
    {"inject=sweep:3ms", "inject", "inject_point"},
    {"inject=none:3ms", "inject", "inject_point"},
    {"inject=3ms", "inject", "inject_point"},
    {"hugepages=1", "hugepages", NULL},
    {"hugepages=yes", "hugepages", NULL},
    {"hugepages=", "hugepages", NULL},
    {"bogus=1", "bogus", NULL},
    {"Heap=64M", "Heap", NULL},
    /* a bad key after good ones: nothing at all is applied */
    {"heap=64M,mode=stw,bogus=1", "bogus", NULL},
    {"mode=stw,budget=1us", "budget", "pause_budget_ns"},
    {"heap=64M,verify", "verify", NULL},
};

static void test_parse_bad_values(void **state) {
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *bc = &bad_cases[i];
        rtgc_config c, before;
        rtgc_error err;
        rtgc_config_init(&c);
        /* a non-default starting point, so "unchanged" is not "reset" */
        c.heap_limit = 48 * MiB;
        c.pause_budget_ns = 300000;
        c.mode = RTGC_MODE_INCREMENTAL;
        c.verify = 1;
        memcpy(&before, &c, sizeof c);
        clear_err(&err);
        rtgc_status st = rtgc_config_parse(&c, bc->opts, &err);
        if (st != RTGC_EINVAL || !field_is(&err, bc->key, bc->member) || !config_equal(&c, &before))
            print_message("case '%s': status %d field '%s' message '%s'\n", bc->opts, (int)st,
                          err.field, err.message);
        assert_int_equal(st, RTGC_EINVAL);
        assert_int_equal(err.status, RTGC_EINVAL);
        assert_true(field_is(&err, bc->key, bc->member));
        assert_true(strlen(err.message) > 0);
        if (!config_equal(&c, &before)) {
            print_config("before", &before);
            print_config("after", &c);
        }
        assert_true(config_equal(&c, &before));
    }
}

/* ---- environment ---- */

static void test_from_env(void **state) {
    rtgc_config c, d;
    rtgc_error err;

    /* A named variable. */
    assert_int_equal(setenv("RTGC_TEST_OPTIONS_X", "heap=32M,mode=stw,budget=500us", 1), 0);
    rtgc_config_init(&c);
    clear_err(&err);
    assert_int_equal(rtgc_config_from_env(&c, "RTGC_TEST_OPTIONS_X", &err), RTGC_OK);
    assert_int_equal(c.heap_limit, 32 * MiB);
    assert_int_equal(c.mode, RTGC_MODE_STW);
    assert_int_equal(c.pause_budget_ns, 500000u);

    /* An unset variable changes nothing. */
    unsetenv("RTGC_TEST_OPTIONS_UNSET");
    rtgc_config_init(&c);
    rtgc_config_init(&d);
    assert_int_equal(rtgc_config_from_env(&c, "RTGC_TEST_OPTIONS_UNSET", &err), RTGC_OK);
    assert_true(config_equal(&c, &d));

    /* NULL means RTGC_OPTIONS. */
    char *saved = getenv("RTGC_OPTIONS") ? strdup(getenv("RTGC_OPTIONS")) : NULL;
    assert_int_equal(setenv("RTGC_OPTIONS", "threads=3,verify=1", 1), 0);
    rtgc_config_init(&c);
    assert_int_equal(rtgc_config_from_env(&c, NULL, &err), RTGC_OK);
    assert_int_equal(c.collector_threads, 3);
    assert_int_equal(c.verify, 1);

    /* A bad value: EINVAL, the field named, nothing applied. */
    assert_int_equal(setenv("RTGC_OPTIONS", "heap=16M,mmu=1.5", 1), 0);
    rtgc_config_init(&c);
    rtgc_config_init(&d);
    clear_err(&err);
    assert_int_equal(rtgc_config_from_env(&c, NULL, &err), RTGC_EINVAL);
    assert_true(field_is(&err, "mmu", "mmu_target"));
    assert_true(config_equal(&c, &d));

    if (saved) {
        setenv("RTGC_OPTIONS", saved, 1);
        free(saved);
    } else {
        unsetenv("RTGC_OPTIONS");
    }
    unsetenv("RTGC_TEST_OPTIONS_X");
}

/* ---- validate ---- */

typedef struct broken_case {
    const char *what;
    void (*breakit)(rtgc_config *c);
    const char *key;
    const char *member;
} broken_case;

static void br_heap0(rtgc_config *c) { c->heap_limit = 0; }
static void br_heap_small(rtgc_config *c) { c->heap_limit = RTGC_HEAP_LIMIT_MIN - 1; }
static void br_heap_big(rtgc_config *c) { c->heap_limit = RTGC_HEAP_LIMIT_MAX + 1; }
static void br_budget_small(rtgc_config *c) { c->pause_budget_ns = RTGC_BUDGET_MIN_NS - 1; }
static void br_budget0(rtgc_config *c) { c->pause_budget_ns = 0; }
static void br_budget_big(rtgc_config *c) { c->pause_budget_ns = (uint64_t)RTGC_BUDGET_MAX_NS + 1; }
static void br_mode(rtgc_config *c) { c->mode = (rtgc_mode)9; }
static void br_mode_neg(rtgc_config *c) { c->mode = (rtgc_mode)-1; }
static void br_threads(rtgc_config *c) { c->collector_threads = RTGC_COLLECTOR_THREADS_MAX + 1; }
static void br_mmu_big(rtgc_config *c) { c->mmu_target = 1.5; }
static void br_mmu1(rtgc_config *c) { c->mmu_target = 1.0; }
static void br_mmu0(rtgc_config *c) { c->mmu_target = 0.0; }
static void br_mmu_nan(rtgc_config *c) { c->mmu_target = NAN; }
static void br_growth(rtgc_config *c) { c->growth_factor = -1.0; }
static void br_growth_nan(rtgc_config *c) { c->growth_factor = NAN; }
static void br_cpu0(rtgc_config *c) { c->cpu_share = 0.0; }
static void br_cpu_big(rtgc_config *c) { c->cpu_share = 1.01; }
static void br_pause_log(rtgc_config *c) { c->pause_log = 1000; }
static void br_pause_log0(rtgc_config *c) { c->pause_log = 0; }
static void br_huge(rtgc_config *c) { c->hugepages = (rtgc_hugepages)3; }

static const broken_case broken_cases[] = {
    {"heap 0", br_heap0, "heap", "heap_limit"},
    {"heap below min", br_heap_small, "heap", "heap_limit"},
    {"heap above max", br_heap_big, "heap", "heap_limit"},
    {"budget below min", br_budget_small, "budget", "pause_budget_ns"},
    {"budget 0", br_budget0, "budget", "pause_budget_ns"},
    {"budget above max", br_budget_big, "budget", "pause_budget_ns"},
    {"mode 9", br_mode, "mode", NULL},
    {"mode -1", br_mode_neg, "mode", NULL},
    {"threads 65", br_threads, "threads", "collector_threads"},
    {"mmu 1.5", br_mmu_big, "mmu", "mmu_target"},
    {"mmu 1", br_mmu1, "mmu", "mmu_target"},
    {"mmu 0", br_mmu0, "mmu", "mmu_target"},
    {"mmu nan", br_mmu_nan, "mmu", "mmu_target"},
    {"growth -1", br_growth, "growth", "growth_factor"},
    {"growth nan", br_growth_nan, "growth", "growth_factor"},
    {"cpu 0", br_cpu0, "cpu", "cpu_share"},
    {"cpu 1.01", br_cpu_big, "cpu", "cpu_share"},
    {"pause_log 1000", br_pause_log, "pause_log", NULL},
    {"pause_log 0", br_pause_log0, "pause_log", NULL},
    {"hugepages 3", br_huge, "hugepages", NULL},
};

static void test_validate_broken(void **state) {
    for (size_t i = 0; i < sizeof broken_cases / sizeof broken_cases[0]; i++) {
        rtgc_config c;
        rtgc_error err;
        rtgc_config_init(&c);
        broken_cases[i].breakit(&c);
        clear_err(&err);
        rtgc_status st = rtgc_config_validate(&c, &err);
        if (st != RTGC_EINVAL || !field_is(&err, broken_cases[i].key, broken_cases[i].member))
            print_message("validate '%s': status %d field '%s' message '%s'\n",
                          broken_cases[i].what, (int)st, err.field, err.message);
        assert_int_equal(st, RTGC_EINVAL);
        assert_int_equal(err.status, RTGC_EINVAL);
        assert_true(field_is(&err, broken_cases[i].key, broken_cases[i].member));
        assert_true(strlen(err.message) > 0);
    }
}

/* ---- format ---- */

static void roundtrip(const rtgc_config *c) {
    char buf[1024];
    memset(buf, 'x', sizeof buf);
    size_t n = rtgc_config_format(c, buf, sizeof buf);
    assert_true(n > 0);
    assert_true(n < sizeof buf);
    assert_int_equal(strlen(buf), n);

    rtgc_config back;
    rtgc_error err;
    rtgc_config_init(&back);
    /* start from a config that differs in every field */
    back.heap_limit = 2 * MiB;
    back.pause_budget_ns = 20000;
    back.mode = c->mode == RTGC_MODE_STEP ? RTGC_MODE_STW : RTGC_MODE_STEP;
    back.collector_threads = c->collector_threads == 7 ? 8 : 7;
    back.mmu_target = 0.123;
    back.growth_factor = 9.5;
    back.cpu_share = 0.9;
    back.min_trigger = 3 * MiB;
    back.stress_alloc = 12345;
    back.verify = !c->verify;
    back.pause_log = c->pause_log == 8 ? 16 : 8;
    /* inject= is printed only when on: parsing the string sets it only then */
    if (c->inject_point != RTGC_INJECT_NONE) {
        back.inject_point = RTGC_INJECT_NONE;
        back.inject_ns = 0;
    }
    clear_err(&err);
    rtgc_status st = rtgc_config_parse(&back, buf, &err);
    if (st != RTGC_OK)
        print_message("format gave '%s'; parse: field '%s': %s\n", buf, err.field, err.message);
    assert_int_equal(st, RTGC_OK);
    if (!config_equal(c, &back)) {
        print_message("format gave '%s'\n", buf);
        print_config("original", c);
        print_config("parsed back", &back);
    }
    assert_true(config_equal(c, &back));
}

static void test_format_roundtrip(void **state) {
    rtgc_config c;
    rtgc_config_init(&c);
    roundtrip(&c);

    c.heap_limit = 64 * MiB + 16; /* not a round number */
    c.pause_budget_ns = 250000;
    c.mode = RTGC_MODE_STW;
    c.collector_threads = 3;
    c.mmu_target = 0.65;
    c.growth_factor = 0.5;
    c.cpu_share = 0.4;
    c.min_trigger = 2 * MiB;
    c.stress_alloc = 1000;
    c.verify = 1;
    c.pause_log = 128;
    roundtrip(&c);

    c.hugepages = RTGC_HUGEPAGES_OFF;
    roundtrip(&c);
    c.hugepages = RTGC_HUGEPAGES_ON;
    roundtrip(&c);

    c.inject_point = RTGC_INJECT_ROOTS;
    c.inject_ns = 3000000;
    roundtrip(&c);
    c.inject_ns = 1234567; /* not a round number */
    roundtrip(&c);
    {
        char buf[1024];
        rtgc_config_format(&c, buf, sizeof buf);
        assert_non_null(strstr(buf, ",inject=roots:1234567ns"));
        c.inject_point = RTGC_INJECT_NONE;
        c.inject_ns = 0;
        rtgc_config_format(&c, buf, sizeof buf);
        assert_null(strstr(buf, "inject")); /* off: not printed at all */
    }

    const rtgc_mode modes[] = {RTGC_MODE_CONCURRENT, RTGC_MODE_INCREMENTAL, RTGC_MODE_STEP,
                               RTGC_MODE_STW};
    for (size_t i = 0; i < 4; i++) {
        c.mode = modes[i];
        c.pause_budget_ns = 12345 + i; /* odd nanosecond values */
        c.heap_limit = RTGC_HEAP_LIMIT_MAX - i * 4096;
        roundtrip(&c);
    }

    /* A short buffer is never overrun and stays a string. */
    char small[16];
    memset(small, 'x', sizeof small);
    rtgc_config_format(&c, small, 10);
    assert_true(memchr(small, '\0', 10) != NULL);
    for (size_t i = 10; i < sizeof small; i++)
        assert_int_equal(small[i], 'x');
}

/* ---- size and duration parsers ---- */

static void test_parse_size(void **state) {
    static const struct {
        const char *text;
        size_t value;
    } ok[] = {
        {"0", 0},
        {"1", 1},
        {"123", 123},
        {"1K", KiB},
        {"1M", MiB},
        {"64M", 64 * MiB},
        {"1G", GiB},
        {"2G", 2 * GiB},
        {"1T", TiB},
        {"4T", 4 * TiB},
        {"1536K", 1536 * KiB},
        {"18446744073709551615", SIZE_MAX},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t v = 77;
        rtgc_status st = rtgc_parse_size(ok[i].text, &v);
        if (st != RTGC_OK || v != ok[i].value)
            print_message("parse_size('%s'): status %d value %zu\n", ok[i].text, (int)st, v);
        assert_int_equal(st, RTGC_OK);
        assert_int_equal(v, ok[i].value);
    }
    static const char *const bad[] = {
        "", "K", "-1", "-1M", "12Q", "1MM", "1M2", "abc", "1.5.5M",
        "18446744073709551616",  /* 2^64 */
        "99999999999999999999999",
        "16777216T",             /* 2^64 */
        "17179869184G",          /* 2^64 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t v = 77;
        rtgc_status st = rtgc_parse_size(bad[i], &v);
        if (st != RTGC_EINVAL)
            print_message("parse_size('%s') accepted: %zu\n", bad[i], v);
        assert_int_equal(st, RTGC_EINVAL);
    }
}

static void test_parse_duration(void **state) {
    static const struct {
        const char *text;
        uint64_t ns;
    } ok[] = {
        {"250us", 250000},
        {"1ms", 1000000},
        {"500000ns", 500000},
        {"0ns", 0},
        {"1ns", 1},
        {"10us", 10000},
        {"1000ms", 1000000000},
        {"4294967296000ns", 4294967296000ull},
        {"18446744073ms", 18446744073000000ull},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t v = 77;
        rtgc_status st = rtgc_parse_duration(ok[i].text, &v);
        if (st != RTGC_OK || v != ok[i].ns)
            print_message("parse_duration('%s'): status %d value %llu\n", ok[i].text, (int)st,
                          (unsigned long long)v);
        assert_int_equal(st, RTGC_OK);
        assert_int_equal(v, ok[i].ns);
    }
    static const char *const bad[] = {
        "", "ms", "us", "-1ms", "-5", "1xs", "1msx", "1 ms x", "abc", "12Q",
        "18446744073709551616ns", /* 2^64 */
        "18446744073710ms",       /* > 2^64 ns */
        "99999999999999999999999us",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 77;
        rtgc_status st = rtgc_parse_duration(bad[i], &v);
        if (st != RTGC_EINVAL)
            print_message("parse_duration('%s') accepted: %llu\n", bad[i], (unsigned long long)v);
        assert_int_equal(st, RTGC_EINVAL);
    }
}

/* ---- heap_create ---- */

static void expect_create_fails(rtgc_config *c, const char *key, const char *member) {
    rtgc_heap *h = (rtgc_heap *)(uintptr_t)0x10; /* must be overwritten with NULL */
    rtgc_error err;
    clear_err(&err);
    rtgc_status st = rtgc_heap_create(c, &h, &err);
    if (st == RTGC_OK) {
        rtgc_heap_destroy(h);
        fail_msg("rtgc_heap_create accepted a bad '%s'", key);
    }
    assert_int_equal(st, RTGC_EINVAL);
    assert_null(h);
    assert_int_equal(err.status, RTGC_EINVAL);
    assert_true(field_is(&err, key, member));
    if (!strstr(err.message, key) && !(member && strstr(err.message, member)))
        fail_msg("message '%s' does not name '%s'", err.message, key);
}

static void test_heap_create_invalid(void **state) {
    rtgc_config c;
    rtgc_config_init(&c);
    c.mode = RTGC_MODE_STW;
    c.heap_limit = 0;
    expect_create_fails(&c, "heap", "heap_limit");

    rtgc_config_init(&c);
    c.mode = RTGC_MODE_STW;
    c.heap_limit = RTGC_HEAP_LIMIT_MAX * 2;
    expect_create_fails(&c, "heap", "heap_limit");

    rtgc_config_init(&c);
    c.mode = RTGC_MODE_STW;
    c.pause_budget_ns = 1000;
    expect_create_fails(&c, "budget", "pause_budget_ns");

    rtgc_config_init(&c);
    c.mode = RTGC_MODE_STW;
    c.mmu_target = 1.5;
    expect_create_fails(&c, "mmu", "mmu_target");

    rtgc_config_init(&c);
    c.mode = (rtgc_mode)42;
    expect_create_fails(&c, "mode", NULL);

    rtgc_config_init(&c);
    c.mode = RTGC_MODE_STW;
    c.pause_log = 3;
    expect_create_fails(&c, "pause_log", NULL);

    rtgc_config_init(&c);
    c.mode = RTGC_MODE_STW;
    c.inject_point = (rtgc_inject_point)9;
    c.inject_ns = 1000;
    expect_create_fails(&c, "inject", "inject_point");

    rtgc_config_init(&c);
    c.mode = RTGC_MODE_STW;
    c.inject_point = RTGC_INJECT_ROOTS;
    c.inject_ns = 0;
    expect_create_fails(&c, "inject", "inject_ns");

    rtgc_config_init(&c);
    c.mode = RTGC_MODE_STW;
    c.inject_ns = 1000; /* a delay with no point */
    expect_create_fails(&c, "inject", "inject_ns");
}

/* inject=roots:T adds T of collector work (CPU time, not a sleep) to the
 * pause that scans the roots: here the stop-the-world collect pause, and in
 * a real-time mode each thread's root handshake.  Without the knob the same
 * collections stay well under it. */
static uint64_t max_work_of_cause(rtgc_heap *h, int cause, size_t *n) {
    static rtgc_pause_record recs[256];
    uint64_t next = 0, most = 0;
    size_t got = rtgc_pause_records(h, 0, recs, 256, &next);
    *n = 0;
    for (size_t i = 0; i < got; i++)
        if (cause < 0 || recs[i].cause == (rtgc_pause_cause)cause) {
            (*n)++;
            if (recs[i].work_ns > most)
                most = recs[i].work_ns;
        }
    return most;
}

/* stw: three collections.  step: rtgc_step until three cycles are done (the
 * thread serves its own root handshake inside its steps and polls). */
static uint64_t inject_run(const char *opts, int cause, size_t *n) {
    rtgc_config c;
    rtgc_error err;
    rtgc_config_init(&c);
    clear_err(&err);
    assert_int_equal(rtgc_config_parse(&c, opts, &err), RTGC_OK);
    rtgc_heap *h = NULL;
    assert_int_equal(rtgc_heap_create(&c, &h, &err), RTGC_OK);
    rtgc_thread *t = rtgc_thread_attach(h, &err);
    assert_non_null(t);
    if (c.mode == RTGC_MODE_STW) {
        for (int i = 0; i < 3; i++)
            rtgc_collect(t);
    } else {
        rtgc_layout bl = {.name = "bytes", .kind = RTGC_LAYOUT_BYTES, .size = RTGC_HEADER_BYTES};
        rtgc_layout_id BYTES;
        assert_int_equal(rtgc_layout_register(h, &bl, &BYTES, &err), RTGC_OK);
        rtgc_stats st;
        for (int i = 0; i < 100000; i++) {
            for (int k = 0; k < 256; k++) /* 64 KiB of garbage: cycles start by themselves */
                assert_non_null(rtgc_alloc_sized(t, BYTES, 248, 256));
            rtgc_step(t, 1000000);
            rtgc_poll(t);
            rtgc_get_stats(h, &st);
            if (st.cycles >= 3)
                break;
        }
        assert_true(st.cycles >= 3);
    }
    uint64_t most = max_work_of_cause(h, cause, n);
    rtgc_thread_detach(t);
    rtgc_heap_destroy(h);
    return most;
}

static void test_inject_roots(void **state) {
    size_t n;
    uint64_t with = inject_run("mode=stw,heap=16M,pause_log=64,inject=roots:3ms", RTGC_CAUSE_COLLECT, &n);
    print_message("stw collect, inject=roots:3ms: longest work %llu ns over %zu collects\n",
                  (unsigned long long)with, n);
    assert_int_equal(n, 3);
    assert_true(with >= 3000000u);
    uint64_t without = inject_run("mode=stw,heap=16M,pause_log=64", RTGC_CAUSE_COLLECT, &n);
    assert_true(without < 3000000u);

    with = inject_run("mode=step,heap=16M,pause_log=256,inject=roots:2ms", -1, &n);
    print_message("step mode, inject=roots:2ms: longest work %llu ns over %zu pauses\n",
                  (unsigned long long)with, n);
    assert_true(n > 0);
    assert_true(with >= 2000000u);
    without = inject_run("mode=step,heap=16M,pause_log=256", -1, &n);
    print_message("step mode, no injection: longest work %llu ns over %zu pauses\n",
                  (unsigned long long)without, n);
    assert_true(without < 2000000u);
}

static void test_heap_create_valid(void **state) {
    rtgc_config c;
    rtgc_error err;
    rtgc_config_init(&c);
    assert_int_equal(rtgc_config_parse(&c, "mode=stw,heap=16M,budget=250us,pause_log=64", &err),
                     RTGC_OK);
    rtgc_heap *h = NULL;
    clear_err(&err);
    assert_int_equal(rtgc_heap_create(&c, &h, &err), RTGC_OK);
    assert_non_null(h);
    const rtgc_config *in_force = rtgc_heap_config(h);
    assert_non_null(in_force);
    assert_int_equal(in_force->heap_limit, 16 * MiB);
    assert_int_equal(in_force->pause_budget_ns, 250000u);
    assert_int_equal(in_force->mode, RTGC_MODE_STW);
    assert_int_equal(in_force->pause_log, 64);
    rtgc_stats s;
    rtgc_get_stats(h, &s);
    assert_int_equal(s.heap_limit, 16 * MiB);
    rtgc_heap_destroy(h);

    assert_non_null(rtgc_version());
    assert_string_equal(rtgc_version(), RTGC_VERSION);
}

/* hugepages= reaches the kernel: with on the whole reservation carries
 * MADV_HUGEPAGE; with off and auto it does not (auto gives huge pages only
 * to the runs the collector faults in ahead: test_pacer's
 * test_prefault_huge). */
static void test_hugepages_mapping(void **state) {
    (void)state;
    static const struct { const char *opts; int want; } cases[] = {
        {"mode=stw,heap=128M,hugepages=on", 1},   {"mode=stw,heap=128M,hugepages=off", 0},
        {"mode=stw,heap=128M", 0},                {"mode=stw,heap=16M", 0},
        {"mode=stw,heap=16M,hugepages=on", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rtgc_config c;
        rtgc_error err;
        rtgc_config_init(&c);
        assert_int_equal(rtgc_config_parse(&c, cases[i].opts, &err), RTGC_OK);
        rtgc_heap *h = NULL;
        assert_int_equal(rtgc_heap_create(&c, &h, &err), RTGC_OK);
        rtgc_layout l = {.name = "bytes", .kind = RTGC_LAYOUT_BYTES, .size = 8};
        rtgc_layout_id id;
        assert_int_equal(rtgc_layout_register(h, &l, &id, &err), RTGC_OK);
        rtgc_thread *t = rtgc_thread_attach(h, NULL);
        void *obj = rtgc_alloc_array(t, id, 100);
        assert_non_null(obj);
        int flag = test_vma_hugepage_flag(obj);
        printf("%s: VmFlags hg %d\n", cases[i].opts, flag);
        if (flag < 0) {
            rtgc_thread_detach(t);
            rtgc_heap_destroy(h);
            printf("[ SKIP     ] hugepages_mapping: /proc/self/smaps does not say\n");
            skip();
        }
        assert_int_equal(flag, cases[i].want);
        rtgc_thread_detach(t);
        rtgc_heap_destroy(h);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_parse_every_key),
        cmocka_unit_test(test_parse_changes_only_named_keys),
        cmocka_unit_test(test_mode_names),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_parse_bad_values),
        cmocka_unit_test(test_from_env),
        cmocka_unit_test(test_validate_broken),
        cmocka_unit_test(test_format_roundtrip),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_heap_create_invalid),
        cmocka_unit_test(test_heap_create_valid),
        cmocka_unit_test(test_inject_roots),
        cmocka_unit_test(test_hugepages_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

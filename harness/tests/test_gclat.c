/* harness/tests/test_gclat.c - gclat's own tests.
 *
 * Group "gclat units", in process (linked against the harness objects):
 *   - option parsing: the good forms, and a table of bad inputs that must
 *     each return 2 with a message naming the problem;
 *   - the verdict (gclat_judge) and the MMU (gclat_mmu) on hand-made pause
 *     records and probe hiccups, against hand-computed figures;
 *   - the JSON and text reports of a hand-made result: every figure under
 *     its own key and on its own line (the JSON read by the small strict
 *     parser below, which has its own test).
 * Group "gclat native runs", through the real build/gclat (found beside
 * this program's directory: <builddir>/tests/test_gclat runs
 * <builddir>/gclat; GCLAT=path overrides):
 *   - each workload for 300 ms in the native engine, with a budget no
 *     working collector can break (1 s): exit 0, the report's lines, nothing
 *     on stderr, and a JSON file whose figures say the workload did work
 *     with its defaults;
 *   - the JSON report with every field report.c writes checked for presence
 *     and type; the trace (valid JSON with traceEvents, named tracks, pause
 *     and cycle spans) and the plot (an <svg> document with its panels);
 *     --json -, --progress, --pin, step mode, settings that reach the heap;
 *   - an impossible budget (1 us) exits 1 and says FAIL; a workload that
 *     cannot run and a report that cannot be written exit 1; bad usage
 *     exits 2 with the usage on stderr.
 * Group "gclat vm runs": the same 300 ms runs in the vm engine, one for
 * every workload (the VM is part of every build); a case that cannot run
 * fails.
 *
 * Runs from the repository root (make test), where vm/programs is.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gclat.h"

#define MS 1000000ull
#define US 1000ull

/* ------------------------------------------------------------------ */
/* A small JSON parser (RFC 8259 grammar, strict: no NaN, no trailing
 * commas, nothing after the value but white space). */

typedef enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jval {
    jtype t;
    int b;
    double num;
    char *str;            /* J_STR */
    struct jval **items;  /* J_ARR, J_OBJ */
    char **keys;          /* J_OBJ */
    size_t n, cap;
} jval;

typedef struct jparser {
    const char *start, *p, *end;
    char err[160];
    int depth;
} jparser;

static const char *jtype_name(jtype t) {
    static const char *const names[] = {"null", "bool", "number", "string", "array", "object"};
    return names[t];
}

static void jfree(jval *v) {
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        jfree(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

static jval *jerr(jparser *j, const char *what) {
    if (!j->err[0])
        snprintf(j->err, sizeof j->err, "%s at byte %td", what, j->p - j->start);
    return NULL;
}

static void jws(jparser *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static jval *jnew(jtype t) {
    jval *v = calloc(1, sizeof *v);
    if (v)
        v->t = t;
    return v;
}

static int jpush(jval *v, char *key, jval *item) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        jval **ni = realloc(v->items, cap * sizeof *ni);
        if (!ni)
            return -1;
        v->items = ni;
        if (v->t == J_OBJ) {
            char **nk = realloc(v->keys, cap * sizeof *nk);
            if (!nk)
                return -1;
            v->keys = nk;
        }
        v->cap = cap;
    }
    v->items[v->n] = item;
    if (v->t == J_OBJ)
        v->keys[v->n] = key;
    v->n++;
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parses a string at j->p (on the opening quote); returns it (malloc'd). */
static char *jstring(jparser *j) {
    if (j->p >= j->end || *j->p != '"') {
        jerr(j, "expected a string");
        return NULL;
    }
    j->p++;
    size_t cap = 32, n = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    for (;;) {
        if (j->p >= j->end) {
            free(s);
            jerr(j, "unterminated string");
            return NULL;
        }
        unsigned char c = (unsigned char)*j->p++;
        if (c == '"')
            break;
        if (c < 0x20) {
            free(s);
            jerr(j, "control character in a string");
            return NULL;
        }
        if (c == '\\') {
            if (j->p >= j->end) {
                free(s);
                jerr(j, "unterminated escape");
                return NULL;
            }
            char e = *j->p++;
            switch (e) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                int cp = 0;
                for (int k = 0; k < 4; k++) {
                    int h = j->p < j->end ? hexval(*j->p) : -1;
                    if (h < 0) {
                        free(s);
                        jerr(j, "bad \\u escape");
                        return NULL;
                    }
                    cp = cp * 16 + h;
                    j->p++;
                }
                c = cp < 0x80 ? (unsigned char)cp : '?'; /* non-ASCII: a stand-in will do here */
                break;
            }
            default:
                free(s);
                jerr(j, "bad escape");
                return NULL;
            }
        }
        if (n + 1 >= cap) {
            cap *= 2;
            char *ns = realloc(s, cap);
            if (!ns) {
                free(s);
                return NULL;
            }
            s = ns;
        }
        s[n++] = (char)c;
    }
    s[n] = 0;
    return s;
}

static int isdig(char c) {
    return c >= '0' && c <= '9';
}

static jval *jvalue(jparser *j);

static jval *jnumber(jparser *j) {
    const char *s = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end || !isdig(*j->p))
        return jerr(j, "bad number");
    if (*j->p == '0')
        j->p++;
    else
        while (j->p < j->end && isdig(*j->p))
            j->p++;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || !isdig(*j->p))
            return jerr(j, "bad fraction");
        while (j->p < j->end && isdig(*j->p))
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (j->p >= j->end || !isdig(*j->p))
            return jerr(j, "bad exponent");
        while (j->p < j->end && isdig(*j->p))
            j->p++;
    }
    char buf[64];
    size_t len = (size_t)(j->p - s);
    if (len >= sizeof buf)
        return jerr(j, "number too long");
    memcpy(buf, s, len);
    buf[len] = 0;
    jval *v = jnew(J_NUM);
    if (v)
        v->num = strtod(buf, NULL);
    return v;
}

static jval *jvalue(jparser *j) {
    jws(j);
    if (j->p >= j->end)
        return jerr(j, "unexpected end");
    if (++j->depth > 64)
        return jerr(j, "nested too deep");
    jval *v = NULL;
    char c = *j->p;
    if (c == '{') {
        j->p++;
        v = jnew(J_OBJ);
        if (!v)
            return NULL;
        jws(j);
        if (j->p < j->end && *j->p == '}') {
            j->p++;
        } else {
            for (;;) {
                jws(j);
                char *key = jstring(j);
                if (!key)
                    goto bad;
                jws(j);
                if (j->p >= j->end || *j->p != ':') {
                    free(key);
                    jerr(j, "expected ':'");
                    goto bad;
                }
                j->p++;
                jval *item = jvalue(j);
                if (!item || jpush(v, key, item)) {
                    free(key);
                    jfree(item);
                    goto bad;
                }
                jws(j);
                if (j->p < j->end && *j->p == ',') {
                    j->p++;
                    continue;
                }
                if (j->p < j->end && *j->p == '}') {
                    j->p++;
                    break;
                }
                jerr(j, "expected ',' or '}'");
                goto bad;
            }
        }
    } else if (c == '[') {
        j->p++;
        v = jnew(J_ARR);
        if (!v)
            return NULL;
        jws(j);
        if (j->p < j->end && *j->p == ']') {
            j->p++;
        } else {
            for (;;) {
                jval *item = jvalue(j);
                if (!item || jpush(v, NULL, item)) {
                    jfree(item);
                    goto bad;
                }
                jws(j);
                if (j->p < j->end && *j->p == ',') {
                    j->p++;
                    continue;
                }
                if (j->p < j->end && *j->p == ']') {
                    j->p++;
                    break;
                }
                jerr(j, "expected ',' or ']'");
                goto bad;
            }
        }
    } else if (c == '"') {
        char *s = jstring(j);
        if (!s)
            return NULL;
        v = jnew(J_STR);
        if (!v) {
            free(s);
            return NULL;
        }
        v->str = s;
    } else if (c == '-' || isdig(c)) {
        v = jnumber(j);
    } else if ((size_t)(j->end - j->p) >= 4 && memcmp(j->p, "true", 4) == 0) {
        j->p += 4;
        if ((v = jnew(J_BOOL)))
            v->b = 1;
    } else if ((size_t)(j->end - j->p) >= 5 && memcmp(j->p, "false", 5) == 0) {
        j->p += 5;
        v = jnew(J_BOOL);
    } else if ((size_t)(j->end - j->p) >= 4 && memcmp(j->p, "null", 4) == 0) {
        j->p += 4;
        v = jnew(J_NULL);
    } else {
        return jerr(j, "unexpected character");
    }
    j->depth--;
    return v;
bad:
    jfree(v);
    return NULL;
}

/* The whole text must be one value. */
static jval *jparse(const char *text, char *err, size_t errlen) {
    jparser j = {.start = text, .p = text, .end = text + strlen(text)};
    jval *v = jvalue(&j);
    if (v) {
        jws(&j);
        if (j.p != j.end) {
            jfree(v);
            v = NULL;
            jerr(&j, "trailing characters");
        }
    }
    if (!v)
        snprintf(err, errlen, "%s", j.err[0] ? j.err : "out of memory");
    return v;
}

static jval *jget(const jval *o, const char *key) {
    if (!o || o->t != J_OBJ)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0)
            return o->items[i];
    return NULL;
}

/* v is the string s */
static int jis(const jval *v, const char *s) {
    return v && v->t == J_STR && strcmp(v->str, s) == 0;
}

/* Counts a field that is missing or of the wrong type, saying which. */
static const jval *want(const jval *o, const char *where, const char *key, jtype t, int *bad) {
    const jval *v = jget(o, key);
    if (!v) {
        print_error("%s: no field \"%s\"\n", where, key);
        (*bad)++;
        return NULL;
    }
    if (v->t != t) {
        print_error("%s: \"%s\" is a %s, expected a %s\n", where, key, jtype_name(v->t), jtype_name(t));
        (*bad)++;
        return NULL;
    }
    return v;
}

static int duplicate_keys(const jval *o, const char *where) {
    int bad = 0;
    for (size_t i = 0; i < o->n; i++)
        for (size_t k = i + 1; k < o->n; k++)
            if (strcmp(o->keys[i], o->keys[k]) == 0) {
                print_error("%s: key \"%s\" appears twice\n", where, o->keys[i]);
                bad++;
            }
    return bad;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = 0;
    return buf;
}

/* The parser's own sanity: good and bad documents. */
static void test_json_parser(void **state) {
    (void)state;
    char err[160];
    static const char *const good[] = {
        "{}", "[]", "0", "-1.5e3", "\"a\\n\\u0041\\\"\"", "true", "false", "null",
        "{\"a\": [1, 2, {\"b\": null}], \"c\": \"d\"}", " [ 1 , 2 ] \n",
    };
    static const char *const badv[] = {
        "", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1.", "-", "nan", "[1] x",
        "\"abc", "\"\\q\"", "{\"a\":1}{", "1e", "[\"tab\there\"]",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        jval *v = jparse(good[i], err, sizeof err);
        if (!v)
            print_error("rejected good JSON %s: %s\n", good[i], err);
        assert_non_null(v);
        jfree(v);
    }
    for (size_t i = 0; i < sizeof badv / sizeof *badv; i++) {
        jval *v = jparse(badv[i], err, sizeof err);
        if (v)
            print_error("accepted bad JSON '%s'\n", badv[i]);
        assert_null(v);
    }
    jval *v = jparse("{\"a\": [1, 2.5, -3], \"s\": \"x\\u0041y\", \"t\": true}", err, sizeof err);
    assert_non_null(v);
    const jval *a = jget(v, "a");
    assert_non_null(a);
    assert_int_equal(a->t, J_ARR);
    assert_int_equal(a->n, 3);
    assert_true(a->items[1]->num == 2.5);
    assert_true(a->items[2]->num == -3);
    assert_string_equal(jget(v, "s")->str, "xAy");
    assert_int_equal(jget(v, "t")->b, 1);
    assert_null(jget(v, "missing"));
    jfree(v);
}

/* ------------------------------------------------------------------ */
/* Option parsing, in process. */

#define ARGV(...) ((char *[]){"gclat", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"gclat", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(o, err, ...) gclat_parse_args(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o), (err), sizeof(err), stdout)

static int parse_ok(gclat_opts *o, int argc, char **argv) {
    char err[256] = "";
    int rc = gclat_parse_args(argc, argv, o, err, sizeof err, stdout);
    if (rc != 0) {
        print_error("gclat_parse_args(");
        for (int i = 1; i < argc; i++)
            print_error("%s%s", i > 1 ? " " : "", argv[i]);
        print_error(") returned %d: %s\n", rc, err);
    }
    return rc;
}
#define PARSE_OK(o, ...) assert_int_equal(parse_ok((o), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__)), 0)

static void test_parse_defaults(void **state) {
    (void)state;
    gclat_opts o;
    char err[256] = "";
    char *argv[] = {"gclat", NULL};
    assert_int_equal(gclat_parse_args(1, argv, &o, err, sizeof err, stdout), 0);
    int ndef = 0;
    while (gclat_default_workloads[ndef])
        ndef++;
    assert_true(ndef >= 3);
    assert_int_equal(o.nworkloads, ndef);
    for (int i = 0; i < ndef; i++)
        assert_string_equal(o.workloads[i], gclat_default_workloads[i]);
    /* the default set starts with the three the project is about */
    assert_string_equal(o.workloads[0], "web");
    assert_string_equal(o.workloads[1], "gaming");
    assert_string_equal(o.workloads[2], "embedded");
    assert_int_equal(o.budget_ns, 1 * MS);
    assert_int_equal(o.engine, GCLAT_NATIVE);
    assert_string_equal(o.jit, "auto");
    assert_int_equal(o.seed, 1);
    assert_string_equal(o.programs_dir, "vm/programs");
    assert_int_equal(o.progress, -1);
    assert_int_equal(o.duration_ns, 0);
    assert_int_equal(o.heap, 0);
    assert_int_equal(o.threads, 0);
    assert_null(o.mode);
    assert_null(o.json_path);
    assert_null(o.trace_path);
    assert_null(o.plot_path);
    assert_null(o.gc_options);
    assert_int_equal(o.nparams, 0);
    assert_int_equal(o.pin + o.rt + o.quiet, 0);

    /* "default" names the same list */
    gclat_opts d;
    PARSE_OK(&d, "--workload", "default");
    assert_int_equal(d.nworkloads, o.nworkloads);
    for (int i = 0; i < d.nworkloads; i++)
        assert_string_equal(d.workloads[i], o.workloads[i]);
}

static void test_parse_good(void **state) {
    (void)state;
    gclat_opts o;

    PARSE_OK(&o, "--budget", "1ms");
    assert_int_equal(o.budget_ns, 1 * MS);
    PARSE_OK(&o, "--budget=250us");
    assert_int_equal(o.budget_ns, 250 * US);
    PARSE_OK(&o, "--budget", "1s");
    assert_int_equal(o.budget_ns, 1000 * MS);
    PARSE_OK(&o, "--budget", "1us"); /* below the collector's minimum: judged at 1 us all the same */
    assert_int_equal(o.budget_ns, 1 * US);

    PARSE_OK(&o, "--workload", "web,gaming");
    assert_int_equal(o.nworkloads, 2);
    assert_string_equal(o.workloads[0], "web");
    assert_string_equal(o.workloads[1], "gaming");
    PARSE_OK(&o, "--workload=gcbench");
    assert_int_equal(o.nworkloads, 1);
    assert_string_equal(o.workloads[0], "gcbench");
    PARSE_OK(&o, "--workload", "all");
    assert_int_equal(o.nworkloads, 6);
    static const char *const all[] = {"web", "gaming", "embedded", "msgbuf", "gcbench", "cache"};
    for (int i = 0; i < 6; i++)
        assert_string_equal(o.workloads[i], all[i]);
    /* the last --workload wins */
    PARSE_OK(&o, "--workload", "web", "--workload", "msgbuf");
    assert_int_equal(o.nworkloads, 1);
    assert_string_equal(o.workloads[0], "msgbuf");

    PARSE_OK(&o, "--param", "rate=5000");
    assert_int_equal(o.nparams, 1);
    assert_string_equal(o.params[0].key, "rate");
    assert_string_equal(o.params[0].value, "5000");
    assert_true(gclat_param_num(&o, "rate", 1) == 5000);
    assert_true(gclat_param_num(&o, "sessions", 7) == 7);
    PARSE_OK(&o, "--workload", "web", "--param", "rate=1", "--param=rate=2.5", "--param", "sessions=300");
    assert_int_equal(o.nparams, 3);
    assert_true(gclat_param_num(&o, "rate", 0) == 2.5); /* the last one given wins */
    assert_true(gclat_param_num(&o, "sessions", 0) == 300);
    /* a key any selected workload takes is accepted, whatever the order */
    PARSE_OK(&o, "--param", "entities=500", "--param", "window=5000", "--workload", "gaming,msgbuf");
    assert_int_equal(o.nparams, 2);
    char err[256];
    assert_int_equal(gclat_check_params(&o, err, sizeof err), 0);

    PARSE_OK(&o, "--engine", "vm");
    assert_int_equal(o.engine, GCLAT_VM);
    PARSE_OK(&o, "--engine=native");
    assert_int_equal(o.engine, GCLAT_NATIVE);
    PARSE_OK(&o, "--jit", "off");
    assert_string_equal(o.jit, "off");
    PARSE_OK(&o, "--jit=on");
    assert_string_equal(o.jit, "on");

    PARSE_OK(&o, "--heap", "8M");
    assert_int_equal(o.heap, (size_t)8 << 20);
    PARSE_OK(&o, "--heap=1M");
    assert_int_equal(o.heap, (size_t)1 << 20);
    PARSE_OK(&o, "--duration", "500ms");
    assert_int_equal(o.duration_ns, 500 * MS);
    PARSE_OK(&o, "--duration=2s");
    assert_int_equal(o.duration_ns, 2000 * MS);
    PARSE_OK(&o, "--duration", "10ms");
    assert_int_equal(o.duration_ns, 10 * MS);
    PARSE_OK(&o, "--threads", "3");
    assert_int_equal(o.threads, 3);
    PARSE_OK(&o, "--threads", "64");
    assert_int_equal(o.threads, 64);
    PARSE_OK(&o, "--mode", "step");
    assert_string_equal(o.mode, "step");
    static const char *const modes[] = {"concurrent", "incremental", "stw"};
    for (int i = 0; i < 3; i++) {
        PARSE_OK(&o, "--mode", (char *)modes[i]);
        assert_string_equal(o.mode, modes[i]);
    }
    PARSE_OK(&o, "--seed", "42");
    assert_int_equal(o.seed, 42);
    PARSE_OK(&o, "--seed", "18446744073709551615");
    assert_true(o.seed == UINT64_MAX);

    PARSE_OK(&o, "--json", "out.json", "--trace=t.json", "--plot", "p.svg", "--programs", "/tmp/progs",
             "--gc-options", "mmu=0.8");
    assert_string_equal(o.json_path, "out.json");
    assert_string_equal(o.trace_path, "t.json");
    assert_string_equal(o.plot_path, "p.svg");
    assert_string_equal(o.programs_dir, "/tmp/progs");
    assert_string_equal(o.gc_options, "mmu=0.8");

    PARSE_OK(&o, "--pin", "--rt", "--quiet", "--progress");
    assert_int_equal(o.pin, 1);
    assert_int_equal(o.rt, 1);
    assert_int_equal(o.quiet, 1);
    assert_int_equal(o.progress, 1);
    PARSE_OK(&o, "--progress", "--no-progress");
    assert_int_equal(o.progress, 0);
}

static void test_parse_help_version(void **state) {
    (void)state;
    gclat_opts o;
    char err[256] = "";
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    char *help[] = {"gclat", "--help", NULL};
    assert_int_equal(gclat_parse_args(2, help, &o, err, sizeof err, out), 1);
    fflush(out);
    assert_non_null(strstr(buf, "usage: gclat"));
    /* the usage names every option the parser takes */
    static const char *const opts[] = {"--workload", "--duration", "--mode", "--threads", "--heap", "--budget",
                                       "--engine", "--jit", "--programs", "--seed", "--param", "--gc-options",
                                       "--json", "--trace", "--plot", "--pin", "--rt", "--progress",
                                       "--no-progress", "--quiet", "--help", "--version"};
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++) {
        if (!strstr(buf, opts[i]))
            print_error("the usage does not mention %s\n", opts[i]);
        assert_non_null(strstr(buf, opts[i]));
    }
    fclose(out);
    free(buf);

    buf = NULL;
    out = open_memstream(&buf, &len);
    assert_non_null(out);
    char *version[] = {"gclat", "--version", NULL};
    assert_int_equal(gclat_parse_args(2, version, &o, err, sizeof err, out), 1);
    fflush(out);
    char want_v[64];
    snprintf(want_v, sizeof want_v, "gclat %s (librtgc %s)", GCLAT_VERSION, rtgc_version());
    assert_non_null(strstr(buf, want_v));
    fclose(out);
    free(buf);

    /* --help wins over what follows it, even bad input */
    out = fopen("/dev/null", "w");
    assert_non_null(out);
    char *help2[] = {"gclat", "--help", "--bogus", NULL};
    assert_int_equal(gclat_parse_args(3, help2, &o, err, sizeof err, out), 1);
    fclose(out);
}

typedef struct bad_case {
    const char *args[6];
    const char *says; /* the message must contain this */
} bad_case;

static const bad_case bad_cases[] = {
    {{"--bogus"}, "unknown option '--bogus'"},
    {{"--bogus=1"}, "--bogus"}, /* options.c says "takes no value" before it finds the option unknown */
    {{"--a-very-long-option-name-that-overflows-the-buffer"}, "unknown option"},
    {{"--budget"}, "--budget needs a value"},
    {{"--budget="}, "--budget needs a value"},
    {{"--workload", "web", "--duration"}, "--duration needs a value"},
    {{"--duration", "soon"}, "--duration"},
    {{"--duration", "5ms"}, "--duration"},   /* under 10 ms */
    {{"--duration", "3601s"}, "--duration"}, /* over an hour */
    {{"--duration", "2h"}, "--duration"},
    {{"--duration", "300"}, "--duration"},   /* no unit */
    {{"--budget", "0"}, "--budget"},
    {{"--budget", "0us"}, "--budget"},
    {{"--budget", "1 ms"}, "--budget"},
    {{"--budget", "-1ms"}, "--budget"},
    {{"--budget", "2s"}, "--budget"}, /* over the collector's maximum */
    {{"--budget", "1kg"}, "--budget"},
    {{"--workload", "bogus"}, "unknown workload 'bogus'"},
    {{"--workload", "web,bogus"}, "unknown workload 'bogus'"},
    {{"--workload", ","}, "--workload"},
    {{"--workload", "all,all"}, "too many workloads"},
    {{"--mode", "fast"}, "--mode"},
    {{"--engine", "jvm"}, "--engine"},
    {{"--jit", "maybe"}, "--jit"},
    {{"--threads", "0"}, "--threads"},
    {{"--threads", "65"}, "--threads"},
    {{"--threads", "two"}, "--threads"},
    {{"--threads", "-1"}, "--threads"},
    {{"--threads", "3x"}, "--threads"},
    {{"--heap", "1K"}, "--heap"},
    {{"--heap", "lots"}, "--heap"},
    {{"--seed", "-1"}, "--seed"},
    {{"--seed", "18446744073709551616"}, "--seed"},
    {{"--param", "rate"}, "KEY=VALUE"},
    {{"--param", "=5"}, "KEY=VALUE"},
    {{"--param", "rate="}, "KEY=VALUE"},
    {{"--param", "rate=fast"}, "--param rate"},
    {{"--param", "rate=-5"}, "--param rate"},
    {{"--workload", "gaming", "--param", "rate=5000"}, "no selected workload takes 'rate'"},
    {{"--param", "pushes=1", "--workload", "web"}, "no selected workload takes 'pushes'"},
    {{"--workload", "gcbench", "--param", "window=10"}, "no selected workload takes 'window'"},
    {{"--gc-options", "bogus=1"}, "--gc-options"},
    {{"--gc-options", "mmu=lots"}, "--gc-options"},
    {{"web"}, "unexpected argument 'web'"},
    {{"--workload", "web", "gaming"}, "unexpected argument 'gaming'"},
    {{"-v"}, "unexpected argument '-v'"},
    {{"--pin=1"}, "--pin takes no value"},
    {{"--quiet=yes"}, "--quiet takes no value"},
    {{"--help=me"}, "--help takes no value"},
};

static void test_parse_bad(void **state) {
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        const bad_case *b = &bad_cases[i];
        char *argv[8] = {"gclat"};
        int argc = 1;
        char line[256] = "";
        for (int k = 0; k < 6 && b->args[k]; k++) {
            argv[argc++] = (char *)b->args[k];
            snprintf(line + strlen(line), sizeof line - strlen(line), "%s%s", k ? " " : "", b->args[k]);
        }
        argv[argc] = NULL;
        gclat_opts o;
        char err[256] = "";
        int rc = gclat_parse_args(argc, argv, &o, err, sizeof err, stdout);
        if (rc != 2) {
            print_error("gclat %s: returned %d, expected 2 (message '%s')\n", line, rc, err);
            failures++;
        } else if (!strstr(err, b->says)) {
            print_error("gclat %s: message '%s' does not say '%s'\n", line, err, b->says);
            failures++;
        }
    }
    /* more parameters than there is room for */
    char *argv[2 + 2 * (GCLAT_MAX_PARAMS + 1)];
    int argc = 0;
    argv[argc++] = "gclat";
    for (int i = 0; i <= GCLAT_MAX_PARAMS; i++) {
        argv[argc++] = "--param";
        argv[argc++] = "rate=1";
    }
    argv[argc] = NULL;
    gclat_opts o;
    char err[256] = "";
    int rc = gclat_parse_args(argc, argv, &o, err, sizeof err, stdout);
    if (rc != 2 || !strstr(err, "at most")) {
        print_error("%d --param: returned %d, message '%s'\n", GCLAT_MAX_PARAMS + 1, rc, err);
        failures++;
    }
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------ */
/* The verdict and the MMU on hand-made records. */

static gclat_result *new_result(const rtgc_pause_record *p, size_t np, const gclat_hiccup *h, size_t nh) {
    gclat_result *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->workload = "web";
    if (np) {
        r->pauses = malloc(np * sizeof *p);
        memcpy(r->pauses, p, np * sizeof *p);
        r->npauses = np;
    }
    if (nh) {
        r->probe.hiccups = malloc(nh * sizeof *h);
        memcpy(r->probe.hiccups, h, nh * sizeof *h);
        r->probe.nhiccups = nh;
    }
    return r;
}

static void free_result(gclat_result *r) {
    gclat_result_free(r);
    free(r);
}

/* A pause on thread 1 starting at `start`, `wall` long with `work` of collector work. */
static rtgc_pause_record pause_at(uint64_t start, uint64_t wall, uint64_t work) {
    return (rtgc_pause_record){.start_ns = start, .wall_ns = wall, .work_ns = work, .thread = 1,
                               .cause = RTGC_CAUSE_COUNT - 2};
}

#define T0 (10000 * MS) /* 10 s: away from 0, so "a second before" is in range */

static void judge(gclat_result *r, uint64_t budget, uint64_t work, uint64_t expl, uint64_t unexpl, int pass) {
    gclat_judge(r, budget);
    assert_int_equal(r->over_work, work);
    assert_int_equal(r->over_wall_explained, expl);
    assert_int_equal(r->over_wall_unexplained, unexpl);
    assert_int_equal(r->pass, pass);
}

static void test_verdict(void **state) {
    (void)state;
    const uint64_t B = 1 * MS;

    /* nothing recorded: a pass */
    gclat_result *r = new_result(NULL, 0, NULL, 0);
    judge(r, B, 0, 0, 0, 1);
    free_result(r);

    /* pauses within the budget, at the budget exactly: a pass */
    rtgc_pause_record within[] = {pause_at(T0, 500 * US, 400 * US), pause_at(T0 + 5 * MS, B, B)};
    r = new_result(within, 2, NULL, 0);
    judge(r, B, 0, 0, 0, 1);
    free_result(r);

    /* the collector's work exceeds the budget: over by work ... */
    rtgc_pause_record heavy[] = {pause_at(T0, 1600 * US, 1500 * US)};
    r = new_result(heavy, 1, NULL, 0);
    judge(r, B, 1, 0, 0, 0);
    assert_int_equal(r->over_work_explained, 0);
    free_result(r);
    /* ... and a hiccup beside it shorter than the excess (500 us, less the
     * probe period: 250 us needed) does not change that ... */
    gclat_hiccup small = {.start_ns = T0 + 100 * US, .len_ns = 200 * US, .cpu = 0};
    r = new_result(heavy, 1, &small, 1);
    judge(r, B, 1, 0, 0, 0);
    free_result(r);
    /* ... but one as long as the excess does: the host stopped the vCPU
     * and the thread's CPU clock ran on (rule a') */
    gclat_hiccup big = {.start_ns = T0, .len_ns = 50 * MS, .cpu = 0};
    r = new_result(heavy, 1, &big, 1);
    judge(r, B, 0, 0, 0, 1);
    assert_int_equal(r->over_work_explained, 1);
    free_result(r);

    /* 3 ms of wall, 0.2 ms of work: excess 2 ms, a hiccup of at least
     * 2 ms - 250 us (the probe period) overlapping the pause explains it */
    rtgc_pause_record stretched[] = {pause_at(T0, 3 * MS, 200 * US)};
    gclat_hiccup overlap = {.start_ns = T0 + 500 * US, .len_ns = 2 * MS, .cpu = 1};
    r = new_result(stretched, 1, &overlap, 1);
    judge(r, B, 0, 1, 0, 1);
    free_result(r);

    /* exactly the length needed (1.75 ms) still explains it */
    gclat_hiccup just = {.start_ns = T0 + 1 * MS, .len_ns = 1750 * US, .cpu = 0};
    r = new_result(stretched, 1, &just, 1);
    judge(r, B, 0, 1, 0, 1);
    free_result(r);

    /* a hiccup that starts before the pause and runs into it explains it */
    gclat_hiccup before_into = {.start_ns = T0 - 1 * MS, .len_ns = 3 * MS, .cpu = 0};
    r = new_result(stretched, 1, &before_into, 1);
    judge(r, B, 0, 1, 0, 1);
    free_result(r);

    /* no hiccup at all: unexplained, a fail */
    r = new_result(stretched, 1, NULL, 0);
    judge(r, B, 0, 0, 1, 0);
    free_result(r);

    /* an overlapping hiccup that is too short (1 ms < 1.75 ms): unexplained */
    gclat_hiccup short_one = {.start_ns = T0 + 500 * US, .len_ns = 1 * MS, .cpu = 0};
    r = new_result(stretched, 1, &short_one, 1);
    judge(r, B, 0, 0, 1, 0);
    free_result(r);

    /* long hiccups that do not overlap the pause: one that ends before it
     * starts (exactly at its start, too), one that starts when it ends */
    gclat_hiccup apart[] = {
        {.start_ns = T0 - 20 * MS, .len_ns = 10 * MS, .cpu = 0},
        {.start_ns = T0 - 5 * MS, .len_ns = 5 * MS, .cpu = 1},
        {.start_ns = T0 + 3 * MS, .len_ns = 10 * MS, .cpu = 0},
        {.start_ns = T0 + 50 * MS, .len_ns = 10 * MS, .cpu = 1},
    };
    r = new_result(stretched, 1, apart, 4);
    judge(r, B, 0, 0, 1, 0);
    free_result(r);

    /* a short excess needs no more than the probe period: wall 1.2 ms
     * (excess 200 us < 250 us), any overlapping recorded hiccup explains it */
    rtgc_pause_record slight[] = {pause_at(T0, 1200 * US, 100 * US)};
    gclat_hiccup tiny = {.start_ns = T0 + 100 * US, .len_ns = 60 * US, .cpu = 0};
    r = new_result(slight, 1, &tiny, 1);
    judge(r, B, 0, 1, 0, 1);
    free_result(r);

    /* a mix, counted one by one; hiccups sorted by start as the probes give them */
    rtgc_pause_record mix[] = {
        pause_at(T0, 300 * US, 300 * US),                /* within */
        pause_at(T0 + 100 * MS, 2 * MS, 1200 * US),      /* over by work */
        pause_at(T0 + 200 * MS, 4 * MS, 100 * US),       /* over by wall, explained */
        pause_at(T0 + 300 * MS, 4 * MS, 100 * US),       /* over by wall, unexplained */
        pause_at(T0 + 400 * MS, 1500 * US, 900 * US),    /* over by wall, explained */
    };
    mix[1].stall = 1;
    mix[1].cause = RTGC_CAUSE_HEAP_LIMIT;
    mix[3].stall = 1;
    mix[3].cause = RTGC_CAUSE_HEAP_LIMIT;
    mix[2].cause = RTGC_CAUSE_ASSIST;
    mix[4].cause = RTGC_CAUSE_ROOTS;
    mix[0].cause = RTGC_CAUSE_ROOTS;
    gclat_hiccup mh[] = {
        {.start_ns = T0 + 200 * MS + 1 * MS, .len_ns = 3 * MS, .cpu = 0},
        {.start_ns = T0 + 300 * MS - 40 * MS, .len_ns = 30 * MS, .cpu = 1}, /* ends before pause 3 */
        {.start_ns = T0 + 400 * MS + 100 * US, .len_ns = 500 * US, .cpu = 0},
    };
    r = new_result(mix, 5, mh, 3);
    judge(r, B, 1, 2, 1, 0);
    assert_int_equal(r->stalls_over, 2);
    /* the causes of the pauses that broke it: the two stalls; an explained
     * pause (assist, roots) is not among them */
    for (int k = 0; k < RTGC_CAUSE_COUNT; k++)
        assert_int_equal(r->over_by_cause[k], k == RTGC_CAUSE_HEAP_LIMIT ? 2 : 0);
    /* judging again gives the same counts (it resets them) */
    judge(r, B, 1, 2, 1, 0);
    assert_int_equal(r->stalls_over, 2);
    /* a 5 ms budget: all within */
    judge(r, 5 * MS, 0, 0, 0, 1);
    assert_int_equal(r->stalls_over, 0);
    assert_int_equal(r->over_by_cause[RTGC_CAUSE_HEAP_LIMIT], 0);
    free_result(r);

    /* preemption (read from the record's context switches and lock waits)
     * explains a pause over by wall time without any hiccup: involuntary
     * switches, and the collector's own time (work + lock wait) within
     * the budget */
    rtgc_pause_record pre[] = {pause_at(T0, 3 * MS, 200 * US)};
    pre[0].involuntary = 2;
    pre[0].voluntary = 0;
    r = new_result(pre, 1, NULL, 0);
    judge(r, B, 0, 1, 0, 1);
    assert_int_equal(r->over_wall_preempted, 1);
    free_result(r);
    /* ... nor does a short wait for the collector's lock change that (the
     * collector's own time, work plus wait, is within the budget) ... */
    pre[0].voluntary = 1;
    pre[0].wait_ns = 300 * US;
    r = new_result(pre, 1, NULL, 0);
    judge(r, B, 0, 1, 0, 1);
    free_result(r);
    /* ... but a wait that takes the collector's own time over it does */
    pre[0].wait_ns = 900 * US;
    r = new_result(pre, 1, NULL, 0);
    judge(r, B, 0, 0, 1, 0);
    assert_int_equal(r->over_wall_preempted, 0);
    /* ... nor with no involuntary switch, nor when the switches are unknown */
    r->pauses[0].involuntary = 0;
    r->pauses[0].voluntary = 0;
    judge(r, B, 0, 0, 1, 0);
    r->pauses[0].involuntary = RTGC_SWITCHES_UNKNOWN;
    r->pauses[0].voluntary = RTGC_SWITCHES_UNKNOWN;
    judge(r, B, 0, 0, 1, 0);
    assert_int_equal(r->over_wall_preempted, 0);
    free_result(r);
    /* preemption never excuses the collector's own work */
    rtgc_pause_record pre_work[] = {pause_at(T0, 3 * MS, 2 * MS)};
    pre_work[0].involuntary = 5;
    r = new_result(pre_work, 1, NULL, 0);
    judge(r, B, 1, 0, 0, 0);
    assert_int_equal(r->over_wall_preempted, 0);
    free_result(r);
    /* a pause explained by both a hiccup and preemption counts once */
    pre[0].voluntary = 0;
    pre[0].wait_ns = 0;
    r = new_result(pre, 1, &overlap, 1);
    judge(r, B, 0, 1, 0, 1);
    assert_int_equal(r->over_wall_preempted, 1);
    free_result(r);

    /* records lost, or a workload error: a fail even with clean pauses */
    r = new_result(within, 2, NULL, 0);
    r->pauses_lost = 3;
    judge(r, B, 0, 0, 0, 0);
    r->pauses_lost = 0;
    snprintf(r->error, sizeof r->error, "out of memory");
    judge(r, B, 0, 0, 0, 0);
    free_result(r);
}

static void near(double got, double want) {
    if (fabs(got - want) > 1e-9)
        print_error("MMU %.9f, expected %.9f\n", got, want);
    assert_true(fabs(got - want) <= 1e-9);
}

static void test_mmu(void **state) {
    (void)state;
    /* nothing recorded, or a zero window: full utilisation */
    near(gclat_mmu(NULL, 0, 10 * MS, 0), 1.0);
    rtgc_pause_record one = pause_at(T0, 1 * MS, 1 * MS);
    near(gclat_mmu(&one, 1, 0, 0), 1.0);

    /* one thread, a 1 ms pause every 10 ms for a second */
    enum { N = 100 };
    rtgc_pause_record p[N];
    for (int i = 0; i < N; i++)
        p[i] = pause_at(T0 + (uint64_t)i * 10 * MS, 1 * MS, 1 * MS);
    near(gclat_mmu(p, N, 10 * MS, 0), 0.9);
    near(gclat_mmu(p, N, 1 * MS, 0), 0.0);
    near(gclat_mmu(p, N, 500 * US, 0), 0.0);
    near(gclat_mmu(p, N, 2 * MS, 0), 0.5);
    near(gclat_mmu(p, N, 5 * MS, 0), 0.8);
    near(gclat_mmu(p, N, 20 * MS, 0), 0.9);
    near(gclat_mmu(p, N, 100 * MS, 0), 0.9);
    near(gclat_mmu(p, N, 15 * MS, 0), 1.0 - 2.0 / 15.0); /* [10 ms, 25 ms) holds two whole pauses, none holds three */
    near(gclat_mmu(p, N, 10 * MS, 1), 0.9);
    /* the order of the records does not matter */
    rtgc_pause_record rev[N];
    for (int i = 0; i < N; i++)
        rev[i] = p[N - 1 - i];
    near(gclat_mmu(rev, N, 10 * MS, 0), 0.9);
    near(gclat_mmu(rev, N, 5 * MS, 0), 0.8);

    /* two threads: the worst thread counts, and pauses of different threads do not add up */
    rtgc_pause_record two[] = {
        pause_at(T0, 1 * MS, 1 * MS),
        pause_at(T0 + 2 * MS, 1 * MS, 1 * MS),
        pause_at(T0 + 50 * MS, 3 * MS, 3 * MS),
    };
    two[1].thread = 2;
    near(gclat_mmu(two, 2, 10 * MS, 0), 0.9); /* thread 1: 1 ms, thread 2: 1 ms, 2 ms apart */
    two[2].thread = 2;
    near(gclat_mmu(two, 3, 10 * MS, 0), 0.7); /* thread 2's 3 ms pause */
    two[2].thread = 1;
    near(gclat_mmu(two, 3, 100 * MS, 0), 0.96); /* thread 1: 1 + 3 ms within 100 ms */

    /* use_work takes min(work, wall) */
    rtgc_pause_record w[] = {pause_at(T0, 2 * MS, 500 * US), pause_at(T0 + 100 * MS, 1 * MS, 3 * MS)};
    near(gclat_mmu(w, 1, 10 * MS, 0), 0.8);
    near(gclat_mmu(w, 1, 10 * MS, 1), 0.95);
    near(gclat_mmu(w + 1, 1, 10 * MS, 0), 0.9);
    near(gclat_mmu(w + 1, 1, 10 * MS, 1), 0.9); /* work over wall: the wall */
    near(gclat_mmu(w, 2, 10 * MS, 1), 0.9);

    /* a stall enclosing a work record on the same thread is counted once */
    rtgc_pause_record nested[] = {pause_at(T0, 4 * MS, 0), pause_at(T0 + 1 * MS, 1 * MS, 1 * MS)};
    nested[0].stall = 1;
    near(gclat_mmu(nested, 2, 10 * MS, 0), 0.6);
    /* partly overlapping records merge: [0, 3) and [2, 5) is 5 ms */
    rtgc_pause_record ov[] = {pause_at(T0, 3 * MS, 3 * MS), pause_at(T0 + 2 * MS, 3 * MS, 3 * MS)};
    near(gclat_mmu(ov, 2, 10 * MS, 0), 0.5);

    /* a pause longer than the window: zero, never negative */
    rtgc_pause_record longp = pause_at(T0, 30 * MS, 30 * MS);
    near(gclat_mmu(&longp, 1, 10 * MS, 0), 0.0);
    /* a window that can only catch part of a pause's tail and part of the next head */
    rtgc_pause_record ends[] = {pause_at(T0, 4 * MS, 4 * MS), pause_at(T0 + 10 * MS, 4 * MS, 4 * MS)};
    near(gclat_mmu(ends, 2, 8 * MS, 0), 0.5); /* a window over both holds 2 ms; one over either, 4 ms */
    near(gclat_mmu(ends, 2, 12 * MS, 0), 1.0 - 6.0 / 12.0); /* [2 ms, 14 ms): 2 + 4 ms */
}

/* ------------------------------------------------------------------ */
/* Running the real gclat. */

static char gclat_path[PATH_MAX];
static char tmpdir[PATH_MAX];
static int gclat_found;

typedef struct proc_out {
    int status;   /* exit status; -1 killed (by the timeout or a signal) */
    int signal;
    char *out, *err;
    double secs;
} proc_out;

static void proc_free(proc_out *p) {
    free(p->out);
    free(p->err);
    p->out = p->err = NULL;
}

static int tmp_fd(const char *name, char *path, size_t len) {
    snprintf(path, len, "%s/%s", tmpdir, name);
    return open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

/* Runs gclat with args (NULL-terminated), output into files, killed after
 * timeout_s. */
static void run_gclat(proc_out *po, int timeout_s, const char *const *args) {
    memset(po, 0, sizeof *po);
    po->status = -1;
    char outp[PATH_MAX], errp[PATH_MAX];
    int fo = tmp_fd("stdout", outp, sizeof outp), fe = tmp_fd("stderr", errp, sizeof errp);
    assert_true(fo >= 0 && fe >= 0);
    const char *argv[64];
    int n = 0;
    argv[n++] = gclat_path;
    for (; args[n - 1] && n < 63; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fo, 1);
        dup2(fe, 2);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        execv(gclat_path, (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", gclat_path, strerror(errno));
        _exit(127);
    }
    int st = 0;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if ((t1.tv_sec - t0.tv_sec) > timeout_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            break;
        }
        struct timespec nap = {0, 5000000};
        nanosleep(&nap, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    po->secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (WIFEXITED(st))
        po->status = WEXITSTATUS(st);
    else if (WIFSIGNALED(st))
        po->signal = WTERMSIG(st);
    close(fo);
    close(fe);
    po->out = read_file(outp);
    po->err = read_file(errp);
    if (!po->out)
        po->out = strdup("");
    if (!po->err)
        po->err = strdup("");
    unlink(outp);
    unlink(errp);
}

/* The whole output (print_error truncates at 1 KiB). */
static void show(const proc_out *po, const char *what) {
    fflush(stderr);
    printf("%s: exit %d%s%s, %.2f s\n--- stdout\n%s--- stderr\n%s---\n", what, po->status,
           po->signal ? ", killed by signal " : "", po->signal ? strsignal(po->signal) : "", po->secs, po->out,
           po->err);
    fflush(stdout);
}

static void require_gclat(void) {
    if (!gclat_found)
        print_error("no gclat program at %s (build it: make build/gclat)\n", gclat_path);
    assert_true(gclat_found);
}

static void expect_in(const proc_out *po, const char *text, const char *what, int *bad) {
    if (!strstr(po->out, text)) {
        print_error("%s: stdout lacks \"%s\"\n", what, text);
        (*bad)++;
    }
}

typedef struct run_case {
    const char *workload;
    const char *args[12]; /* small parameters */
    gclat_engine engine;
    char name[48];
} run_case;

#define RUN_TIMEOUT 120 /* seconds: generous, for sanitizer builds */

static run_case native_cases[] = {
    {"web", {"--param", "rate=2000", "--param", "sessions=200"}, GCLAT_NATIVE, ""},
    {"gaming", {"--param", "entities=500"}, GCLAT_NATIVE, ""},
    {"embedded", {NULL}, GCLAT_NATIVE, ""},
    {"msgbuf", {"--param", "window=5000", "--heap", "64M"}, GCLAT_NATIVE, ""},
    {"gcbench", {"--heap", "128M"}, GCLAT_NATIVE, ""},
    {"cache", {"--param", "rate=2000", "--param", "sessions=50", "--param", "expire=5", "--heap", "4M"}, GCLAT_NATIVE, ""},
};
static run_case vm_cases[sizeof native_cases / sizeof *native_cases];

static const jval *check_report_json(const jval *root, const char *where, int nworkloads, int *bad);

/* One workload, briefly, with a budget a working collector cannot break. */
static void test_run_workload(void **state) {
    run_case *c = *state;
    require_gclat();
    const char *engine = c->engine == GCLAT_VM ? "vm" : "native";
    char json[PATH_MAX];
    snprintf(json, sizeof json, "%s/%s-%s.json", tmpdir, c->workload, engine);
    const char *args[32] = {"--engine", engine, "--workload", c->workload, "--duration", "300ms",
                            "--budget", "1s",   "--seed",     "7",         "--json",     json};
    int n = 12;
    for (int i = 0; c->args[i]; i++)
        args[n++] = c->args[i];
    args[n] = NULL;
    proc_out po;
    run_gclat(&po, RUN_TIMEOUT, args);
    char what[96];
    snprintf(what, sizeof what, "gclat --engine %s --workload %s", engine, c->workload);
    int bad = 0;
    if (po.status != 0) {
        print_error("%s: exit %d, expected 0\n", what, po.status);
        bad++;
    }
    char head[64];
    snprintf(head, sizeof head, "\n== %s: ", c->workload);
    expect_in(&po, head, what, &bad);
    char run_line[64];
    snprintf(run_line, sizeof run_line, "run                engine %s,", engine);
    expect_in(&po, run_line, what, &bad);
    static const char *const lines[] = {
        "gclat " GCLAT_VERSION " (librtgc ", "  settings           heap=", "  pauses (wall)      count ",
        "  collector work     count ", "  by cause", "  stalls             ", "  over the budget    ",
        "  MMU (wall)         1 ms ", "  MMU (work)         1 ms ", "  platform hiccups   ", "  throughput         ",
        "  heap               peak ", "  verdict            PASS: every pause within the budget",
        "gclat: every collector pause stayed within the budget",
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        expect_in(&po, lines[i], what, &bad);
    /* the slotted and open-loop workloads show each operation's own time too */
    if (strcmp(c->workload, "msgbuf") && strcmp(c->workload, "gcbench"))
        expect_in(&po, "\n    own time         p50 ", what, &bad);
    /* the cache workload clears weak references and ephemerons (an entry per
     * request) and queues finalizers (a session per 5 hits at these
     * parameters), and the report says so */
    if (!strcmp(c->workload, "cache"))
        expect_in(&po, "\n  weak               ", what, &bad);
    /* a run without --progress writes nothing to stderr */
    if (po.err[0]) {
        print_error("%s: unexpected output on stderr\n", what);
        bad++;
    }
    if (strstr(po.out, "  ERROR  ")) {
        print_error("%s: the report has an ERROR line\n", what);
        bad++;
    }
    /* the figures: the workload did operations, and the verdict passed */
    char *text = read_file(json);
    if (!text) {
        print_error("%s: no JSON file %s\n", what, json);
        bad++;
    } else {
        char err[160];
        jval *root = jparse(text, err, sizeof err);
        if (!root) {
            print_error("%s: the JSON does not parse: %s\n", what, err);
            bad++;
        } else {
            const jval *ws = check_report_json(root, what, 1, &bad);
            const jval *w = ws && ws->n == 1 ? ws->items[0] : NULL;
            if (w) {
                const jval *name = jget(w, "workload"), *ops = jget(w, "ops"), *pass = jget(w, "pass"),
                           *error = jget(w, "error"), *eng = jget(root, "engine");
                if (!name || name->t != J_STR || strcmp(name->str, c->workload)) {
                    print_error("%s: the JSON names another workload\n", what);
                    bad++;
                }
                if (!eng || eng->t != J_STR || strcmp(eng->str, engine)) {
                    print_error("%s: the JSON's engine is not %s\n", what, engine);
                    bad++;
                }
                if (!ops || ops->t != J_NUM || !(ops->num > 0)) {
                    print_error("%s: no operations done in the measured phase\n", what);
                    bad++;
                }
                if (!pass || pass->t != J_BOOL || !pass->b) {
                    print_error("%s: the JSON's pass is not true\n", what);
                    bad++;
                }
                if (!error || error->t != J_STR || error->str[0]) {
                    print_error("%s: the JSON has an error: %s\n", what, error && error->t == J_STR ? error->str : "?");
                    bad++;
                }
                /* the run used the workload's defaults where nothing was given */
                const gclat_workload *wl = gclat_find_workload(c->workload);
                size_t heap = wl->default_heap;
                for (int i = 0; c->args[i] && c->args[i + 1]; i++)
                    if (!strcmp(c->args[i], "--heap"))
                        assert_int_equal(rtgc_parse_size(c->args[i + 1], &heap), 0);
                const jval *md = jget(w, "mode"), *un = jget(w, "unit"), *th = jget(w, "threads"),
                           *hl = jget(w, "heap_limit"), *du = jget(w, "duration_ns");
                int threads = wl->default_threads > 1 ? wl->default_threads : 1;
                if (!jis(md, wl->default_mode) || !jis(un, wl->unit) || !th || th->num != threads || !hl ||
                    hl->num != (double)heap) {
                    print_error("%s: mode, unit, threads or heap_limit is not the workload's (%s, %s, %d, %zu)\n",
                                what, wl->default_mode, wl->unit, threads, heap);
                    bad++;
                }
                /* open loops measure the duration asked for; the closed loops
                 * (msgbuf, gcbench) their loop, which ends with the first
                 * operation to end after it */
                int closed = !strcmp(c->workload, "msgbuf") || !strcmp(c->workload, "gcbench");
                if (!du || (closed ? (du->num < 300e6 || du->num > 10e9) : du->num != 300e6)) {
                    print_error("%s: duration_ns %.0f, expected %s300 ms\n", what, du ? du->num : -1.0,
                                closed ? "at least " : "");
                    bad++;
                }
            }
            jfree(root);
        }
        free(text);
        unlink(json);
    }
    if (bad)
        show(&po, what);
    else
        print_message("%s: exit 0, %.2f s\n", what, po.secs);
    proc_free(&po);
    assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------------ */
/* The JSON report, the trace and the plot. */

static void check_hist(const jval *o, const char *where, const char *key, int *bad) {
    const jval *h = want(o, where, key, J_OBJ, bad);
    if (!h)
        return;
    char w[128];
    snprintf(w, sizeof w, "%s.%s", where, key);
    static const char *const fields[] = {"count", "p50_ns", "p99_ns", "p999_ns", "max_ns", "total_ns"};
    double v[6] = {0};
    for (int i = 0; i < 6; i++) {
        const jval *f = want(h, w, fields[i], J_NUM, bad);
        v[i] = f ? f->num : 0;
        if (f && f->num < 0) {
            print_error("%s.%s is negative\n", w, fields[i]);
            (*bad)++;
        }
    }
    /* percentiles in order, none over the max; with a count, a max */
    if (!(v[1] <= v[2] && v[2] <= v[3] && v[3] <= v[4] * 1.02 + 1)) {
        print_error("%s: percentiles out of order (p50 %.0f p99 %.0f p99.9 %.0f max %.0f)\n", w, v[1], v[2], v[3],
                    v[4]);
        (*bad)++;
    }
    if (v[0] > 0 && !(v[5] >= v[4])) {
        print_error("%s: total %.0f under the max %.0f\n", w, v[5], v[4]);
        (*bad)++;
    }
}

static void check_mmu(const jval *o, const char *where, const char *key, int *bad) {
    const jval *mm = want(o, where, key, J_OBJ, bad);
    if (!mm)
        return;
    char w[128];
    snprintf(w, sizeof w, "%s.%s", where, key);
    static const char *const windows[] = {"1ms", "10ms", "100ms"};
    double m[3] = {0, 0, 0};
    int have = 0;
    for (int i = 0; i < 3; i++) {
        const jval *f = want(mm, w, windows[i], J_NUM, bad);
        if (!f)
            continue;
        have++;
        m[i] = f->num;
        if (f->num < 0 || f->num > 1) {
            print_error("%s.%s = %f, outside [0, 1]\n", w, windows[i], f->num);
            (*bad)++;
        }
    }
    /* a window k times as long splits into k windows, each at least the
     * shorter window's minimum: MMU(1ms) <= MMU(10ms) <= MMU(100ms)
     * (1e-4: the JSON's rounding) */
    if (have == 3 && !(m[0] <= m[1] + 1e-4 && m[1] <= m[2] + 1e-4)) {
        print_error("%s: MMU %f, %f, %f: not rising with the window\n", w, m[0], m[1], m[2]);
        (*bad)++;
    }
}

/* Every field report.c writes, with its type.  Returns the workloads array. */
static const jval *check_report_json(const jval *root, const char *where, int nworkloads, int *bad) {
    if (root->t != J_OBJ) {
        print_error("%s: the JSON is a %s, not an object\n", where, jtype_name(root->t));
        (*bad)++;
        return NULL;
    }
    *bad += duplicate_keys(root, where);
    const jval *v = want(root, where, "gclat", J_STR, bad);
    if (v && strcmp(v->str, GCLAT_VERSION)) {
        print_error("%s: gclat \"%s\", expected \"%s\"\n", where, v->str, GCLAT_VERSION);
        (*bad)++;
    }
    v = want(root, where, "librtgc", J_STR, bad);
    if (v && strcmp(v->str, rtgc_version())) {
        print_error("%s: librtgc \"%s\", expected \"%s\"\n", where, v->str, rtgc_version());
        (*bad)++;
    }
    want(root, where, "budget_ns", J_NUM, bad);
    v = want(root, where, "engine", J_STR, bad);
    if (v && strcmp(v->str, "native") && strcmp(v->str, "vm")) {
        print_error("%s: engine \"%s\"\n", where, v->str);
        (*bad)++;
    }
    v = want(root, where, "jit", J_STR, bad);
    if (v && strcmp(v->str, "auto") && strcmp(v->str, "on") && strcmp(v->str, "off")) {
        print_error("%s: jit \"%s\"\n", where, v->str);
        (*bad)++;
    }
    want(root, where, "seed", J_NUM, bad);
    v = want(root, where, "cpus", J_NUM, bad);
    if (v && v->num < 1) {
        print_error("%s: cpus %f\n", where, v->num);
        (*bad)++;
    }
    want(root, where, "pass", J_BOOL, bad);
    const jval *ws = want(root, where, "workloads", J_ARR, bad);
    if (!ws)
        return NULL;
    if ((int)ws->n != nworkloads) {
        print_error("%s: %zu workloads in the JSON, expected %d\n", where, ws->n, nworkloads);
        (*bad)++;
    }
    int all_pass = 1;
    for (size_t i = 0; i < ws->n; i++) {
        const jval *w = ws->items[i];
        char wh[128];
        snprintf(wh, sizeof wh, "%s: workloads[%zu]", where, i);
        if (w->t != J_OBJ) {
            print_error("%s is a %s\n", wh, jtype_name(w->t));
            (*bad)++;
            continue;
        }
        *bad += duplicate_keys(w, wh);
        static const char *const strs[] = {"workload", "mode", "settings", "error", "unit"};
        for (size_t k = 0; k < sizeof strs / sizeof *strs; k++)
            want(w, wh, strs[k], J_STR, bad);
        static const char *const nums[] = {
            "threads", "heap_limit", "duration_ns", "over_budget_work", "over_budget_wall_explained",
            "over_budget_work_explained", "over_budget_wall_preempted", "over_budget_wall_unexplained", "stalls_over_budget", "records_lost", "probe_over_1ms", "probes",
            "ops", "ops_due", "deadline_ns", "over_deadline", "frames_missed", "step_ns", "throughput",
            "heap_peak", "live_bytes", "cycles", "allocated_bytes", "collector_cpu_ns", "weak_cleared",
            "finalizers_queued",
        };
        for (size_t k = 0; k < sizeof nums / sizeof *nums; k++) {
            const jval *f = want(w, wh, nums[k], J_NUM, bad);
            if (f && f->num < 0) {
                print_error("%s.%s is negative\n", wh, nums[k]);
                (*bad)++;
            }
        }
        static const char *const hists[] = {"pauses", "pause_work", "stalls", "probe", "latency", "own_time"};
        for (size_t k = 0; k < sizeof hists / sizeof *hists; k++)
            check_hist(w, wh, hists[k], bad);
        check_mmu(w, wh, "mmu", bad);
        check_mmu(w, wh, "mmu_work", bad);
        const jval *bc = want(w, wh, "by_cause", J_OBJ, bad);
        if (bc) {
            char bw[160];
            snprintf(bw, sizeof bw, "%s.by_cause", wh);
            for (int k = 0; k < RTGC_CAUSE_COUNT; k++)
                want(bc, bw, rtgc_cause_name((rtgc_pause_cause)k), J_NUM, bad);
            if ((int)bc->n != RTGC_CAUSE_COUNT) {
                print_error("%s: %zu causes, expected %d\n", bw, bc->n, RTGC_CAUSE_COUNT);
                (*bad)++;
            }
        }
        const jval *p = want(w, wh, "pass", J_BOOL, bad);
        if (p && !p->b)
            all_pass = 0;
        const jval *pre = jget(w, "over_budget_wall_preempted"), *ex = jget(w, "over_budget_wall_explained");
        if (pre && ex && pre->num > ex->num) {
            print_error("%s: %f preempted of %f explained\n", wh, pre->num, ex->num);
            (*bad)++;
        }
        /* the verdict agrees with the counts */
        const jval *ow = jget(w, "over_budget_work"), *un = jget(w, "over_budget_wall_unexplained"),
                   *lost = jget(w, "records_lost"), *er = jget(w, "error");
        if (p && ow && un && lost && er && er->t == J_STR &&
            p->b != (ow->num == 0 && un->num == 0 && lost->num == 0 && !er->str[0])) {
            print_error("%s: pass %d disagrees with over_budget_work %.0f, unexplained %.0f, lost %.0f, error "
                        "\"%s\"\n",
                        wh, p->b, ow->num, un->num, lost->num, er->str);
            (*bad)++;
        }
        /* every key is one of those above: nothing written that we do not know */
        static const char *const objs[] = {"pauses", "pause_work", "stalls", "probe", "latency", "own_time",
                                           "mmu", "mmu_work", "by_cause", "pass"};
        for (size_t k = 0; k < w->n; k++) {
            int known = 0;
            for (size_t s = 0; s < sizeof strs / sizeof *strs && !known; s++)
                known = !strcmp(w->keys[k], strs[s]);
            for (size_t s = 0; s < sizeof nums / sizeof *nums && !known; s++)
                known = !strcmp(w->keys[k], nums[s]);
            for (size_t s = 0; s < sizeof objs / sizeof *objs && !known; s++)
                known = !strcmp(w->keys[k], objs[s]);
            if (!known)
                print_message("note: %s has a field this test does not check: \"%s\"\n", wh, w->keys[k]);
        }
    }
    const jval *pass = jget(root, "pass");
    if (pass && pass->t == J_BOOL && pass->b != all_pass) {
        print_error("%s: top-level pass is %d but the workloads' is %d\n", where, pass->b, all_pass);
        (*bad)++;
    }
    return ws;
}

/* The reports written in process from a hand-made result: every figure
 * lands under its own key and on its own line. */
static gclat_result *report_result(gclat_opts *o) {
    char err[256];
    char *argv[] = {"gclat", "--workload", "web", "--budget", "1ms", "--seed", "9", NULL};
    assert_int_equal(gclat_parse_args(7, argv, o, err, sizeof err, stdout), 0);
    rtgc_pause_record recs[] = {
        pause_at(T0, 300 * US, 250 * US),             /* within */
        pause_at(T0 + 100 * MS, 2 * MS, 1200 * US),   /* over by work (a stall) */
        pause_at(T0 + 200 * MS, 4 * MS, 100 * US),    /* over by wall, a probe hiccup explains it */
        pause_at(T0 + 300 * MS, 4 * MS, 100 * US),    /* over by wall, unexplained (a stall) */
        pause_at(T0 + 400 * MS, 1500 * US, 900 * US), /* over by wall, preempted */
        pause_at(T0 + 500 * MS, 3 * MS, 100 * US),    /* over by wall, unexplained */
    };
    recs[0].cause = RTGC_CAUSE_ROOTS;
    recs[5].cause = RTGC_CAUSE_ROOTS;
    recs[1].cause = RTGC_CAUSE_HEAP_LIMIT;
    recs[1].stall = 1;
    recs[2].cause = RTGC_CAUSE_ASSIST;
    recs[3].cause = RTGC_CAUSE_HEAP_LIMIT;
    recs[3].stall = 1;
    recs[4].cause = RTGC_CAUSE_SWEEP;
    recs[4].involuntary = 3;
    gclat_hiccup h = {.start_ns = T0 + 201 * MS, .len_ns = 3 * MS, .cpu = 0};
    gclat_result *r = new_result(recs, 6, &h, 1);
    r->unit = "request";
    r->mode = "concurrent";
    r->engine = GCLAT_NATIVE;
    r->threads = 2;
    r->heap_limit = (size_t)128 << 20;
    r->duration_ns = 2000 * MS;
    r->deadline_ns = 10 * MS;
    r->ops = 10;
    r->ops_scheduled = 12;
    r->frames_missed = 4;
    r->step_ns = 5;
    snprintf(r->settings, sizeof r->settings, "heap=128M,budget=1ms,mode=concurrent");
    gclat_lat_init(&r->lat);
    for (int i = 1; i <= 10; i++)
        gclat_lat_add(&r->lat, (uint64_t)i * 3 * MS, r->deadline_ns); /* 3..30 ms: 7 over 10 ms */
    rtgc_hist_init(&r->probe.hist);
    for (int i = 0; i < 100; i++)
        rtgc_hist_record(&r->probe.hist, i < 98 ? 20 * US : 3 * MS); /* 2 over 1 ms */
    r->probe.nprobes = 2;
    r->stats.heap_peak = 111 << 20;
    r->stats.live_bytes = 22 << 20;
    r->stats.cycles = 333;
    r->stats.allocated_bytes = 444;
    r->stats.collector_cpu_ns = 555 * MS;
    r->stats.weak_cleared = 666;
    r->stats.finalizers_queued = 777;
    r->mmu_wall[0] = 0.125;
    r->mmu_wall[1] = 0.25;
    r->mmu_wall[2] = 0.5;
    r->mmu_work[0] = 0.375;
    r->mmu_work[1] = 0.625;
    r->mmu_work[2] = 0.875;
    r->t_start_ns = T0 - 1000 * MS;
    r->t_end_ns = r->t_start_ns + 2000 * MS;
    gclat_judge(r, o->budget_ns);
    return r;
}

static double num_at(const jval *o, const char *key, const char *key2) {
    const jval *v = jget(o, key);
    if (key2)
        v = jget(v, key2);
    if (!v || v->t != J_NUM) {
        print_error("no number at %s%s%s\n", key, key2 ? "." : "", key2 ? key2 : "");
        return -12345;
    }
    return v->num;
}

static void test_report_json_values(void **state) {
    (void)state;
    gclat_opts o;
    gclat_result *r = report_result(&o);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/values.json", tmpdir);
    assert_int_equal(gclat_report_json(path, &o, r, 1), 0);
    char *text = read_file(path);
    assert_non_null(text);
    unlink(path);
    char err[160];
    jval *root = jparse(text, err, sizeof err);
    if (!root)
        print_error("%s\n", err);
    assert_non_null(root);
    int bad = 0;
    const jval *ws = check_report_json(root, "in process", 1, &bad);
    assert_int_equal(bad, 0);
    assert_non_null(ws);
    const jval *w = ws->items[0];
    assert_true(num_at(root, "budget_ns", NULL) == 1e6);
    assert_true(num_at(root, "seed", NULL) == 9);
    assert_false(jget(root, "pass")->b);
    assert_false(jget(w, "pass")->b);
    assert_true(jis(jget(w, "workload"), "web"));
    assert_true(jis(jget(w, "mode"), "concurrent"));
    assert_true(jis(jget(w, "unit"), "request"));
    assert_true(jis(jget(w, "settings"), "heap=128M,budget=1ms,mode=concurrent"));
    assert_true(jis(jget(w, "error"), ""));
    assert_true(num_at(w, "threads", NULL) == 2);
    assert_true(num_at(w, "heap_limit", NULL) == 128.0 * 1048576);
    assert_true(num_at(w, "duration_ns", NULL) == 2e9);
    /* pauses: the four that are not stalls; stalls: the two */
    assert_true(num_at(w, "pauses", "count") == 4);
    assert_true(num_at(w, "pauses", "max_ns") == 4e6);
    assert_true(num_at(w, "pauses", "total_ns") == 300e3 + 4e6 + 1.5e6 + 3e6);
    assert_true(num_at(w, "pause_work", "count") == 4);
    assert_true(num_at(w, "pause_work", "max_ns") == 900e3);
    assert_true(num_at(w, "pause_work", "total_ns") == 250e3 + 100e3 + 900e3 + 100e3);
    assert_true(num_at(w, "stalls", "count") == 2);
    assert_true(num_at(w, "stalls", "max_ns") == 4e6);
    assert_true(num_at(w, "stalls", "total_ns") == 6e6);
    assert_true(num_at(w, "by_cause", "roots") == 2);
    assert_true(num_at(w, "by_cause", "heap-limit") == 2);
    assert_true(num_at(w, "by_cause", "assist") == 1);
    assert_true(num_at(w, "by_cause", "sweep") == 1);
    assert_true(num_at(w, "by_cause", "stw") == 0);
    /* the verdict's counts, each under its own key */
    assert_true(num_at(w, "over_budget_work", NULL) == 1);
    assert_true(num_at(w, "over_budget_wall_explained", NULL) == 2);
    assert_true(num_at(w, "over_budget_wall_preempted", NULL) == 1);
    assert_true(num_at(w, "over_budget_wall_unexplained", NULL) == 2);
    assert_true(num_at(w, "stalls_over_budget", NULL) == 2);
    assert_true(num_at(w, "records_lost", NULL) == 0);
    assert_true(num_at(w, "mmu", "1ms") == 0.125);
    assert_true(num_at(w, "mmu", "10ms") == 0.25);
    assert_true(num_at(w, "mmu", "100ms") == 0.5);
    assert_true(num_at(w, "mmu_work", "1ms") == 0.375);
    assert_true(num_at(w, "mmu_work", "10ms") == 0.625);
    assert_true(num_at(w, "mmu_work", "100ms") == 0.875);
    assert_true(num_at(w, "probe", "count") == 100);
    assert_true(num_at(w, "probe", "max_ns") == 3e6);
    assert_true(num_at(w, "probe_over_1ms", NULL) == 2);
    assert_true(num_at(w, "probes", NULL) == 2);
    assert_true(num_at(w, "latency", "count") == 10);
    assert_true(num_at(w, "latency", "max_ns") == 30e6);
    assert_true(num_at(w, "latency", "total_ns") == 165e6);
    assert_true(num_at(w, "ops", NULL) == 10);
    assert_true(num_at(w, "ops_due", NULL) == 12);
    assert_true(num_at(w, "deadline_ns", NULL) == 10e6);
    assert_true(num_at(w, "over_deadline", NULL) == 7);
    assert_true(num_at(w, "frames_missed", NULL) == 4);
    assert_true(num_at(w, "step_ns", NULL) == 5);
    assert_true(num_at(w, "throughput", NULL) == 5.0);
    assert_true(num_at(w, "heap_peak", NULL) == 111.0 * 1048576);
    assert_true(num_at(w, "live_bytes", NULL) == 22.0 * 1048576);
    assert_true(num_at(w, "cycles", NULL) == 333);
    assert_true(num_at(w, "allocated_bytes", NULL) == 444);
    assert_true(num_at(w, "collector_cpu_ns", NULL) == 555e6);
    assert_true(num_at(w, "weak_cleared", NULL) == 666);
    assert_true(num_at(w, "finalizers_queued", NULL) == 777);
    jfree(root);
    free(text);

    /* a string that needs escaping stays valid JSON */
    snprintf(r->error, sizeof r->error, "a \"quoted\" \\ path\nand a tab\t");
    assert_int_equal(gclat_report_json(path, &o, r, 1), 0);
    text = read_file(path);
    assert_non_null(text);
    unlink(path);
    root = jparse(text, err, sizeof err);
    if (!root)
        print_error("%s\n", err);
    assert_non_null(root);
    assert_true(jis(jget(jget(root, "workloads")->items[0], "error"), "a \"quoted\" \\ path\nand a tab\t"));
    jfree(root);
    free(text);
    free_result(r);
}

static void test_report_text_lines(void **state) {
    (void)state;
    gclat_opts o;
    gclat_result *r = report_result(&o);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    gclat_report_text(f, &o, r);
    gclat_report_summary(f, &o, r, 1);
    fclose(f);
    static const char *const lines[] = {
        "\n== web: ",
        "\n  settings           heap=128M,budget=1ms,mode=concurrent\n",
        "\n  run                engine native, 2 mutator threads, measured 2.00 s\n",
        "\n  pauses (wall)      count 4 ",
        "\n  collector work     count 4 ",
        "\n  stalls             2, 6.00 ms in all, longest 4.00 ms\n",
        "\n  over the budget    1 by collector work; 4 by wall time: 2 explained by the platform (1 preempted, 1 probe "
        "hiccups), 2 unexplained\n",
        "\n  broke it, by cause roots 1 heap-limit 2\n",
        "\n    at    1.100 s  heap-limit wall 2.00 ms   work 1.20 ms   thread 1",
        "\n    at    1.300 s  heap-limit wall 4.00 ms   work 100 us    thread 1",
        "\n    at    1.500 s  roots      wall 3.00 ms   work 100 us    thread 1",
        "\n  MMU (wall)         1 ms 0.125   10 ms 0.250   100 ms 0.500\n",
        "\n  MMU (work)         1 ms 0.375   10 ms 0.625   100 ms 0.875\n",
        "\n  platform hiccups   2 probes, 100 wake-ups: ",
        "; over 1 ms: 2\n",
        "\n  requests           10 of 12 due: ",
        "; 7 over 10.00 ms\n",
        "\n  throughput         5 requests/s\n",
        "\n  heap               peak 111.0 MiB of 128 MiB (87%); 333 cycles; live after the last 22.0 MiB\n",
        "\n  collector thread   0.56 s of CPU (28% of a core over the run)\n",
        "\n  verdict            FAIL: the budget was broken\n",
        "\nweb       concurrent         4 ",
        "\ngclat: the budget was broken (or a workload failed): exit 1\n",
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        if (!strstr(buf, lines[i])) {
            print_error("the text report lacks \"%s\"\n", lines[i]);
            bad++;
        }
    /* the summary's "over" is over by work plus unexplained: 3 */
    const char *row = strstr(buf, "\nweb       concurrent ");
    if (row) {
        char mode[32], p99[16], p99u[8], mx[16], mxu[8], mw[16], mwu[8], verdict[16];
        unsigned long long pauses = 0, over = 0;
        double mmu = -1;
        int got = sscanf(row + 1, "web %31s %llu %15s %7s %15s %7s %15s %7s %llu %lf %15s", mode, &pauses, p99, p99u,
                         mx, mxu, mw, mwu, &over, &mmu, verdict);
        if (got != 11 || pauses != 4 || over != 3 || mmu != 0.25 || strcmp(verdict, "FAIL")) {
            print_error("summary row: %d fields, pauses %llu, over %llu, MMU10 %f, verdict %s\n", got, pauses, over,
                        mmu, got == 11 ? verdict : "?");
            bad++;
        }
    }
    if (strstr(buf, "records lost") || strstr(buf, "ERROR")) {
        print_error("the text report has a records-lost or ERROR line it should not\n");
        bad++;
    }
    if (bad)
        printf("--- the report\n%s---\n", buf);
    free(buf);

    /* records lost and an error show, and the verdict says which */
    r->pauses_lost = 7;
    snprintf(r->error, sizeof r->error, "out of memory");
    gclat_judge(r, o.budget_ns);
    buf = NULL;
    f = open_memstream(&buf, &len);
    gclat_report_text(f, &o, r);
    gclat_report_summary(f, &o, r, 1);
    fclose(f);
    static const char *const lines2[] = {
        "\n  ERROR              out of memory\n",
        "\n  records lost       7 (the verdict fails: not every pause was seen)\n",
        "\n  verdict            FAIL (the workload did not run to the end)\n",
        " FAIL (error)\n",
    };
    for (size_t i = 0; i < sizeof lines2 / sizeof *lines2; i++)
        if (!strstr(buf, lines2[i])) {
            print_error("the text report lacks \"%s\"\n", lines2[i]);
            bad++;
        }
    if (bad)
        printf("--- the report\n%s---\n", buf);
    free(buf);
    free_result(r);
    assert_int_equal(bad, 0);
}

static void test_json_trace_plot(void **state) {
    (void)state;
    require_gclat();
    char json[PATH_MAX], trace[PATH_MAX], plot[PATH_MAX];
    snprintf(json, sizeof json, "%s/report.json", tmpdir);
    snprintf(trace, sizeof trace, "%s/trace.json", tmpdir);
    snprintf(plot, sizeof plot, "%s/plot.svg", tmpdir);
    const char *args[] = {"--workload", "gaming,msgbuf", "--duration", "300ms", "--budget", "1s",
                          "--param", "entities=500", "--param", "window=5000", "--heap", "64M", "--seed", "5",
                          "--json", json, "--trace", trace, "--plot", plot, "--quiet", NULL};
    proc_out po;
    run_gclat(&po, RUN_TIMEOUT, args);
    int bad = 0;
    if (po.status != 0) {
        print_error("exit %d, expected 0\n", po.status);
        bad++;
    }
    /* --quiet: the summary only */
    if (strstr(po.out, "== gaming") || !strstr(po.out, "gaming    step") || !strstr(po.out, "msgbuf    concurrent")) {
        print_error("--quiet: expected the summary table only\n");
        bad++;
    }

    /* the JSON */
    char *text = read_file(json);
    if (!text) {
        print_error("no JSON file %s\n", json);
        bad++;
    } else {
        char err[160];
        jval *root = jparse(text, err, sizeof err);
        if (!root) {
            print_error("the JSON does not parse: %s\n", err);
            bad++;
        } else {
            const jval *ws = check_report_json(root, "--json", 2, &bad);
            const jval *b = jget(root, "budget_ns"), *seed = jget(root, "seed"), *eng = jget(root, "engine"),
                       *pass = jget(root, "pass");
            if (!b || b->num != 1e9 || !seed || seed->num != 5 || !jis(eng, "native") || !pass ||
                pass->t != J_BOOL || !pass->b) {
                print_error("--json: budget_ns, seed, engine or pass not as run\n");
                bad++;
            }
            static const char *const names[] = {"gaming", "msgbuf"}, *const modes[] = {"step", "concurrent"},
                                     *const units[] = {"frame", "push"};
            for (size_t i = 0; ws && i < ws->n && i < 2; i++) {
                const jval *w = ws->items[i];
                const jval *nm = jget(w, "workload"), *md = jget(w, "mode"), *un = jget(w, "unit"),
                           *hl = jget(w, "heap_limit"), *du = jget(w, "duration_ns"), *ops = jget(w, "ops"),
                           *pz = jget(jget(w, "pauses"), "count"), *pr = jget(w, "probes"),
                           *pc = jget(jget(w, "probe"), "count"), *err_ = jget(w, "error"),
                           *cy = jget(w, "cycles"), *al = jget(w, "allocated_bytes");
                if (!jis(nm, names[i]) || !jis(md, modes[i]) || !jis(un, units[i])) {
                    print_error("--json: workloads[%zu] is not %s (%s, %s)\n", i, names[i], modes[i], units[i]);
                    bad++;
                }
                /* an open loop measures the duration asked for; a closed loop
                 * (msgbuf) its loop, which ends at the first push after it */
                if (!hl || hl->num != 64.0 * 1048576 || !du ||
                    (i == 0 ? du->num != 300e6 : (du->num < 300e6 || du->num > 1300e6))) {
                    print_error("--json: workloads[%zu]: heap_limit or duration_ns not as run\n", i);
                    bad++;
                }
                if (!ops || !(ops->num > 0) || !pz || !(pz->num > 0) || !pr || !(pr->num >= 1) || !pc ||
                    !(pc->num > 0) || !cy || (i == 1 && !(cy->num >= 1)) || !al || !(al->num > 0)) {
                    print_error("--json: workloads[%zu]: expected operations, pauses, allocation, probe "
                                "wake-ups (and for msgbuf, cycles)\n",
                                i);
                    bad++;
                }
                if (!jis(err_, "")) {
                    print_error("--json: workloads[%zu]: error \"%s\"\n", i, err_ && err_->t == J_STR ? err_->str : "?");
                    bad++;
                }
            }
            jfree(root);
        }
        free(text);
    }

    /* the trace: JSON with a traceEvents array of events */
    text = read_file(trace);
    if (!text) {
        print_error("no trace file %s\n", trace);
        bad++;
    } else {
        char err[160];
        jval *root = jparse(text, err, sizeof err);
        if (!root) {
            print_error("the trace does not parse: %s\n", err);
            bad++;
        } else {
            const jval *ev = jget(root, "traceEvents");
            if (!ev || ev->t != J_ARR || ev->n == 0) {
                print_error("the trace has no traceEvents array of events\n");
                bad++;
            } else {
                int procs = 0, spans[3] = {0}, badev = 0, cycles2 = 0, tracks[3] = {0};
                for (size_t i = 0; i < ev->n; i++) {
                    const jval *e = ev->items[i];
                    const jval *ph = jget(e, "ph"), *pid = jget(e, "pid"), *tid = jget(e, "tid"),
                               *name = jget(e, "name");
                    if (!ph || ph->t != J_STR || !pid || pid->t != J_NUM || !tid || tid->t != J_NUM || !name ||
                        name->t != J_STR) {
                        badev++;
                        continue;
                    }
                    if (!strcmp(ph->str, "M")) {
                        const jval *an = jget(jget(e, "args"), "name");
                        if (!strcmp(name->str, "process_name"))
                            procs++;
                        /* each process names its collector and platform tracks */
                        if (!strcmp(name->str, "thread_name") && pid->num >= 1 && pid->num <= 2 &&
                            (jis(an, "collector phases") || jis(an, "platform hiccups (control probes)")))
                            tracks[(int)pid->num]++;
                    } else if (!strcmp(ph->str, "X")) {
                        const jval *ts = jget(e, "ts"), *dur = jget(e, "dur"), *cat = jget(e, "cat");
                        /* microseconds from the first workload's start: within the run */
                        if (!ts || ts->t != J_NUM || !dur || dur->t != J_NUM || !cat || cat->t != J_STR ||
                            ts->num < 0 || dur->num < 0 || ts->num > 600e6 || dur->num > 600e6) {
                            badev++;
                            continue;
                        }
                        if (!strcmp(cat->str, "pause") && pid->num >= 1 && pid->num <= 2)
                            spans[(int)pid->num]++;
                        /* msgbuf completes cycles: its collector track has them */
                        if (!strcmp(cat->str, "phase") && !strcmp(name->str, "cycle") && pid->num == 2)
                            cycles2++;
                    } else {
                        badev++;
                    }
                }
                if (badev || procs != 2 || !spans[1] || !spans[2] || !cycles2 || tracks[1] != 2 || tracks[2] != 2) {
                    print_error("the trace: %d malformed events, %d processes (expected 2), pause spans "
                                "%d and %d (expected some in each), %d msgbuf cycle spans, named tracks %d and %d "
                                "(expected 2 each)\n",
                                badev, procs, spans[1], spans[2], cycles2, tracks[1], tracks[2]);
                    bad++;
                }
            }
            jfree(root);
        }
        free(text);
    }

    /* the plot: an SVG document */
    text = read_file(plot);
    if (!text) {
        print_error("no plot file %s\n", plot);
        bad++;
    } else {
        size_t len = strlen(text);
        while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
            text[--len] = 0;
        if (strncmp(text, "<svg", 4) || len < 6 || strcmp(text + len - 6, "</svg>")) {
            print_error("the plot does not start with <svg and end with </svg>\n");
            bad++;
        }
        if (!strstr(text, "gaming: pauses (") || !strstr(text, "msgbuf: pauses (") ||
            !strstr(text, "gaming: minimum mutator utilisation") || !strstr(text, "msgbuf: minimum mutator utilisation")) {
            print_error("the plot lacks a panel: a pause histogram and an MMU curve for each workload\n");
            bad++;
        }
        /* four curves a workload: wall and work in each panel */
        int curves = 0;
        for (const char *q = text; (q = strstr(q, "<polyline")); q++)
            curves++;
        if (curves != 8) {
            print_error("the plot has %d curves, expected 8\n", curves);
            bad++;
        }
        free(text);
    }
    if (bad)
        show(&po, "gclat --workload gaming,msgbuf --json --trace --plot");
    proc_free(&po);
    unlink(json);
    unlink(trace);
    unlink(plot);
    assert_int_equal(bad, 0);
}

/* JSON to stdout with "--json -" parses too (the summary goes first), and
 * --mode, --heap, --gc-options and --duration reach the run */
static void test_json_stdout(void **state) {
    (void)state;
    require_gclat();
    /* with the settings overridden: they must reach the heap */
    const char *args[] = {"--workload", "embedded", "--duration", "100ms", "--budget", "1s",  "--json",
                          "-",          "--quiet",  "--mode",     "stw",   "--heap",   "16M", "--gc-options",
                          "mmu=0.5",    "--threads", "3",         "--progress", NULL};
    proc_out po;
    run_gclat(&po, RUN_TIMEOUT, args);
    int bad = 0;
    if (po.status != 0) {
        print_error("exit %d\n", po.status);
        bad++;
    }
    if (!strstr(po.err, "\rgclat: embedded (native, stw): ")) {
        print_error("--progress: no progress line on stderr\n");
        bad++;
    }
    const char *brace = strstr(po.out, "\n{\"gclat\"");
    if (!brace) {
        print_error("no JSON object on stdout\n");
        bad++;
    } else {
        char err[160];
        jval *root = jparse(brace + 1, err, sizeof err);
        if (!root) {
            print_error("the JSON on stdout does not parse: %s\n", err);
            bad++;
        } else {
            const jval *ws = check_report_json(root, "--json -", 1, &bad);
            const jval *w = ws && ws->n == 1 ? ws->items[0] : NULL;
            const jval *set = jget(w, "settings"), *md = jget(w, "mode"), *hl = jget(w, "heap_limit"),
                       *th = jget(w, "threads"), *du = jget(w, "duration_ns");
            if (!set || set->t != J_STR || !strstr(set->str, "heap=16M") || !strstr(set->str, "mode=stw") ||
                !strstr(set->str, "mmu=0.5") || !jis(md, "stw") || !hl || hl->num != 16.0 * 1048576 || !th ||
                th->num != 1 || !du || du->num != 100e6) {
                print_error("--mode stw --heap 16M --gc-options mmu=0.5 --threads 3 --duration 100ms: not in the "
                            "settings, mode, heap_limit, threads (embedded runs 1) or duration_ns\n");
                bad++;
            }
            jfree(root);
        }
    }
    if (bad)
        show(&po, "gclat --json -");
    proc_free(&po);
    assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------------ */
/* Exit statuses. */

static void test_impossible_budget(void **state) {
    (void)state;
    require_gclat();
    /* embedded on a 2 MiB heap collects many times in 300 ms (incremental
     * slices of tens of us): a 1 us budget cannot hold */
    char json[PATH_MAX];
    snprintf(json, sizeof json, "%s/fail.json", tmpdir);
    const char *args[] = {"--budget", "1us", "--workload", "embedded", "--heap", "2M", "--param", "events=32",
                          "--duration", "300ms", "--json", json, NULL};
    proc_out po;
    run_gclat(&po, RUN_TIMEOUT, args);
    int bad = 0;
    if (po.status != 1) {
        print_error("exit %d, expected 1\n", po.status);
        bad++;
    }
    expect_in(&po, "verdict            FAIL: the budget was broken", "--budget 1us", &bad);
    expect_in(&po, "FAIL\n", "--budget 1us", &bad);
    expect_in(&po, "gclat: the budget was broken (or a workload failed): exit 1", "--budget 1us", &bad);
    expect_in(&po, "note: the collector's budget is set to its minimum, 10 us", "--budget 1us", &bad);
    expect_in(&po, "  broke it, by cause ", "--budget 1us", &bad);
    char *text = read_file(json);
    if (text) {
        char err[160];
        jval *root = jparse(text, err, sizeof err);
        const jval *ws = root ? jget(root, "workloads") : NULL;
        const jval *w = ws && ws->t == J_ARR && ws->n == 1 ? ws->items[0] : NULL;
        const jval *ow = jget(w, "over_budget_work"), *pass = jget(root, "pass"), *wp = jget(w, "pass");
        const jval *bn = jget(root, "budget_ns");
        if (!ow || !(ow->num > 0) || !pass || pass->b || !wp || wp->b || !bn || bn->num != 1000) {
            print_error("--budget 1us: the JSON should say pass false, budget_ns 1000, pauses over by work\n");
            bad++;
        }
        jfree(root);
        free(text);
        unlink(json);
    } else {
        print_error("no JSON file %s\n", json);
        bad++;
    }
    if (bad)
        show(&po, "gclat --budget 1us --workload embedded");
    proc_free(&po);
    assert_int_equal(bad, 0);
}

static void test_usage_exits(void **state) {
    (void)state;
    require_gclat();
    int bad = 0;
    proc_out po;

    const char *bogus[] = {"--bogus", NULL};
    run_gclat(&po, 30, bogus);
    if (po.status != 2 || !strstr(po.err, "gclat: unknown option '--bogus'") || !strstr(po.err, "usage: gclat") ||
        po.out[0]) {
        show(&po, "gclat --bogus (expected exit 2, the message and the usage on stderr, nothing on stdout)");
        bad++;
    }
    proc_free(&po);

    const char *budget0[] = {"--budget", "0", NULL};
    run_gclat(&po, 30, budget0);
    if (po.status != 2 || !strstr(po.err, "--budget") || !strstr(po.err, "usage: gclat")) {
        show(&po, "gclat --budget 0 (expected exit 2)");
        bad++;
    }
    proc_free(&po);

    const char *help[] = {"--help", NULL};
    run_gclat(&po, 30, help);
    if (po.status != 0 || !strstr(po.out, "usage: gclat") || po.err[0]) {
        show(&po, "gclat --help (expected exit 0, the usage on stdout)");
        bad++;
    }
    proc_free(&po);

    const char *version[] = {"--version", NULL};
    run_gclat(&po, 30, version);
    static const char vprefix[] = "gclat " GCLAT_VERSION " (librtgc ";
    if (po.status != 0 || strncmp(po.out, vprefix, strlen(vprefix))) {
        show(&po, "gclat --version (expected exit 0, the version on stdout)");
        bad++;
    }
    proc_free(&po);

    /* a workload that cannot run (its window does not fit the heap): exit 1, an ERROR line.  The run
     * ends at the error; the duration only has to outlast filling 4 MiB and the stalls before out of
     * memory is declared, which a loaded machine stretched past 200 ms. */
    const char *oom[] = {"--workload", "msgbuf", "--heap", "4M", "--param", "window=20000", "--duration", "2s",
                         "--budget", "1s", NULL};
    run_gclat(&po, RUN_TIMEOUT, oom);
    if (po.status != 1 || !strstr(po.out, "  ERROR              ") || !strstr(po.out, "FAIL (error)")) {
        show(&po, "gclat --workload msgbuf --heap 4M --param window=20000 (expected exit 1 and an ERROR line)");
        bad++;
    }
    proc_free(&po);

    /* a parameter out of the workload's range passes parsing, fails the run */
    const char *rate0[] = {"--workload", "web", "--param", "rate=0", "--duration", "100ms", "--budget", "1s", NULL};
    run_gclat(&po, RUN_TIMEOUT, rate0);
    if (po.status != 1 || !strstr(po.out, "  ERROR              web: rate and sessions must be positive")) {
        show(&po, "gclat --workload web --param rate=0 (expected exit 1 and an ERROR line)");
        bad++;
    }
    proc_free(&po);

    /* a report that cannot be written: exit 1, said on stderr */
    const char *nowrite[] = {"--workload", "embedded", "--duration", "10ms", "--budget", "1s", "--quiet", "--json",
                             "/nonexistent-dir/gclat.json", NULL};
    run_gclat(&po, RUN_TIMEOUT, nowrite);
    if (po.status != 1 || !strstr(po.err, "gclat: cannot write /nonexistent-dir/gclat.json")) {
        show(&po, "gclat --json /nonexistent-dir/gclat.json (expected exit 1)");
        bad++;
    }
    proc_free(&po);
    assert_int_equal(bad, 0);
}

/* --sample FILE: a line a second of heap, RSS and pause figures, one file
 * for every workload of the run (the soak test, gc/tests/soak.sh, reads
 * it); an unwritable file fails the run. */
static void test_sample(void **state) {
    (void)state;
    require_gclat();
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/samples.txt", tmpdir);
    const char *args[] = {"--workload", "web,embedded", "--duration", "2200ms", "--budget", "1s", "--quiet",
                          "--sample", path, NULL};
    proc_out po;
    run_gclat(&po, RUN_TIMEOUT, args);
    int bad = 0;
    if (po.status != 0) {
        print_error("exit %d\n", po.status);
        bad++;
    }
    FILE *f = fopen(path, "r");
    char line[512];
    int header = 0, lines[2] = {0, 0}, fieldbad = 0;
    unsigned long long pauses = 0, last_cycles[2] = {0, 0};
    while (f && fgets(line, sizeof line, f)) {
        if (line[0] == '#') {
            header += strstr(line, "heap_size") && strstr(line, "rss_kb") && strstr(line, "work_p99_ns");
            continue;
        }
        double t;
        char wl[32];
        unsigned long long v[14];
        int n = sscanf(line, "%lf %31s %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &t, wl,
                       &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12],
                       &v[13]);
        int w = strcmp(wl, "web") == 0 ? 0 : strcmp(wl, "embedded") == 0 ? 1 : -1;
        /* heap_size, heap_peak, rss_kb > 0; peak >= size; cycles never go back; p50 <= p99 <= max */
        if (n != 16 || w < 0 || v[0] == 0 || v[1] < v[0] || v[4] == 0 || v[6] < last_cycles[w] ||
            v[10] > v[11] || v[11] > v[12]) {
            if (!fieldbad++)
                print_error("bad sample line: %s", line);
            continue;
        }
        last_cycles[w] = v[6];
        pauses += v[8];
        lines[w]++;
    }
    if (f)
        fclose(f);
    if (header != 1 || lines[0] < 2 || lines[1] < 2 || fieldbad || pauses == 0 || last_cycles[0] == 0) {
        print_error("--sample: %d header lines (expected 1), %d web and %d embedded lines (expected 2 or more "
                    "each), %d bad lines, %llu pauses, %llu web cycles\n",
                    header, lines[0], lines[1], fieldbad, pauses, last_cycles[0]);
        bad++;
    }
    if (bad)
        show(&po, "gclat --sample");
    proc_free(&po);

    const char *nowrite[] = {"--workload", "embedded", "--duration", "10ms", "--budget", "1s", "--quiet",
                             "--sample", "/nonexistent-dir/samples.txt", NULL};
    run_gclat(&po, RUN_TIMEOUT, nowrite);
    if (po.status != 1 || !strstr(po.err, "gclat: cannot write /nonexistent-dir/samples.txt")) {
        show(&po, "gclat --sample /nonexistent-dir/samples.txt (expected exit 1 and the reason)");
        bad++;
    }
    proc_free(&po);
    assert_int_equal(bad, 0);
}

/* Step mode: the open-loop workloads give their idle time to rtgc_step
 * (web and embedded as well as gaming): steps are recorded and the time
 * given is reported. */
static void test_step_mode(void **state) {
    (void)state;
    require_gclat();
    static const char *const cases[][8] = {
        {"web", "--param", "rate=2000", "--param", "sessions=200", NULL},
        {"embedded", "--heap", "2M", NULL},
        {"gaming", "--param", "entities=500", NULL},
    };
    int bad = 0;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char json[PATH_MAX];
        snprintf(json, sizeof json, "%s/step-%s.json", tmpdir, cases[k][0]);
        const char *args[24] = {"--workload", cases[k][0], "--mode", "step", "--duration", "300ms",
                                "--budget",   "1s",        "--json", json};
        int n = 10;
        for (int i = 1; cases[k][i]; i++)
            args[n++] = cases[k][i];
        args[n] = NULL;
        proc_out po;
        run_gclat(&po, RUN_TIMEOUT, args);
        char what[64];
        snprintf(what, sizeof what, "gclat --workload %s --mode step", cases[k][0]);
        int before = bad;
        if (po.status != 0) {
            print_error("%s: exit %d, expected 0\n", what, po.status);
            bad++;
        }
        expect_in(&po, "\n  rtgc_step          ", what, &bad);
        char *text = read_file(json);
        char err[160];
        jval *root = text ? jparse(text, err, sizeof err) : NULL;
        const jval *ws = jget(root, "workloads");
        const jval *w = ws && ws->t == J_ARR && ws->n == 1 ? ws->items[0] : NULL;
        const jval *st = jget(w, "step_ns"), *steps = jget(jget(w, "by_cause"), "step");
        if (!jis(jget(w, "mode"), "step") || !st || !(st->num > 0) || !steps || !(steps->num > 0)) {
            print_error("%s: the JSON should say mode step, step_ns > 0 and step records\n", what);
            bad++;
        }
        jfree(root);
        free(text);
        unlink(json);
        if (bad > before)
            show(&po, what);
        proc_free(&po);
    }
    assert_int_equal(bad, 0);
}

/* --pin: the threads pinned, the run as good as any (the probes are pinned
 * anyway); the header says so. */
static void test_pin(void **state) {
    (void)state;
    require_gclat();
    const char *args[] = {"--workload", "web",       "--pin",  "--duration", "200ms", "--budget", "1s",
                          "--param",    "rate=1000", "--param", "sessions=100", NULL};
    proc_out po;
    run_gclat(&po, RUN_TIMEOUT, args);
    int bad = 0;
    if (po.status != 0) {
        print_error("exit %d, expected 0\n", po.status);
        bad++;
    }
    expect_in(&po, "waking every 250 us; --pin\n", "--pin", &bad);
    expect_in(&po, "\n  verdict            PASS", "--pin", &bad);
    if (bad)
        show(&po, "gclat --workload web --pin");
    proc_free(&po);
    assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------------ */

static void find_gclat(const char *argv0) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        snprintf(self, sizeof self, "%s", argv0);
        n = (ssize_t)strlen(self);
    }
    self[n] = 0;
    char *dir = dirname(self); /* <builddir>/tests */
    char up[PATH_MAX];
    snprintf(up, sizeof up, "%s", dir);
    snprintf(gclat_path, sizeof gclat_path, "%s/gclat", dirname(up));
    gclat_found = access(gclat_path, X_OK) == 0;
    const char *env = getenv("GCLAT");
    if (env && *env) {
        snprintf(gclat_path, sizeof gclat_path, "%s", env);
        gclat_found = access(gclat_path, X_OK) == 0;
    }
}

static void rm_tmpdir(void) {
    if (tmpdir[0])
        rmdir(tmpdir);
}

int main(int argc, char **argv) {
    (void)argc;
    find_gclat(argv[0]);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_gclat.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    atexit(rm_tmpdir);
    setvbuf(stdout, NULL, _IOLBF, 0);

    const struct CMUnitTest unit[] = {
        cmocka_unit_test(test_json_parser),     cmocka_unit_test(test_parse_defaults),
        cmocka_unit_test(test_parse_good),      cmocka_unit_test(test_parse_help_version),
        cmocka_unit_test(test_parse_bad),       cmocka_unit_test(test_verdict),
        cmocka_unit_test(test_mmu),             cmocka_unit_test(test_report_json_values),
        cmocka_unit_test(test_report_text_lines),
    };
    int failed = cmocka_run_group_tests_name("gclat units", unit, NULL, NULL);

    enum { NW = sizeof native_cases / sizeof *native_cases };
    struct CMUnitTest runs[NW + 7];
    int nr = 0;
    for (int i = 0; i < NW; i++) {
        snprintf(native_cases[i].name, sizeof native_cases[i].name, "native_%s", native_cases[i].workload);
        runs[nr++] = (struct CMUnitTest){native_cases[i].name, test_run_workload, NULL, NULL, &native_cases[i]};
    }
    runs[nr++] = (struct CMUnitTest)cmocka_unit_test(test_json_trace_plot);
    runs[nr++] = (struct CMUnitTest)cmocka_unit_test(test_json_stdout);
    runs[nr++] = (struct CMUnitTest)cmocka_unit_test(test_impossible_budget);
    runs[nr++] = (struct CMUnitTest)cmocka_unit_test(test_usage_exits);
    runs[nr++] = (struct CMUnitTest)cmocka_unit_test(test_pin);
    runs[nr++] = (struct CMUnitTest)cmocka_unit_test(test_step_mode);
    runs[nr++] = (struct CMUnitTest)cmocka_unit_test(test_sample);
    printf("gclat under test: %s%s\n", gclat_path, gclat_found ? "" : " (missing: these cases fail)");
    failed += _cmocka_run_group_tests("gclat native runs", runs, (size_t)nr, NULL, NULL);

    /* The vm engine, a case for each workload: the VM is part of every
     * build, so a missing program or engine fails its case. */
    struct CMUnitTest vmruns[NW];
    int nv = 0;
    for (int i = 0; i < NW; i++) {
        vm_cases[i] = native_cases[i];
        vm_cases[i].engine = GCLAT_VM;
        snprintf(vm_cases[i].name, sizeof vm_cases[i].name, "vm_%s", native_cases[i].workload);
        vmruns[nv++] = (struct CMUnitTest){vm_cases[i].name, test_run_workload, NULL, NULL, &vm_cases[i]};
    }
    if (nv)
        failed += _cmocka_run_group_tests("gclat vm runs", vmruns, (size_t)nv, NULL, NULL);
    return failed ? 1 : 0;
}

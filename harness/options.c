/* harness/options.c - gclat's command line.
 *
 * Every option takes its value as "--opt VALUE" or "--opt=VALUE".  Bad
 * input (an unknown option, a missing or malformed value, an unknown
 * workload, mode or engine) is reported in one line and the caller prints
 * the usage and exits 2.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <math.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "gclat.h"

void gclat_usage(FILE *f) {
    fprintf(f,
            "usage: gclat [options]\n"
            "Runs latency workloads on the libgc collector and judges its pauses against a budget.\n"
            "Exit status: 0 every pause within the budget, 1 a pause broke it (or a workload failed), 2 bad usage.\n"
            "\n"
            "  --workload LIST    workloads to run, comma-separated: web, gaming, embedded, msgbuf, gcbench,\n"
            "                     cache, default or all (both: the six) (default: default)\n"
            "  --duration TIME    measured time of each workload (default: per workload, about 20 s in all)\n"
            "  --mode MODE        collector mode: concurrent, incremental, step, stw (default: per workload)\n"
            "  --threads N        mutator threads of the web and cache workloads (default 2)\n"
            "  --heap SIZE        heap limit, e.g. 64M (default: per workload)\n"
            "  --budget TIME      pause budget, e.g. 1ms, 250us (default 1ms)\n"
            "  --engine ENGINE    native (C against the API) or vm (rtvm programs, JIT) (default native)\n"
            "  --jit MODE         vm engine: auto, on or off (default auto)\n"
            "  --programs DIR     vm engine: where the workload programs are (default vm/programs)\n"
            "  --seed N           random seed (default 1)\n"
            "  --param KEY=VALUE  a workload parameter (rate, sessions, entities, hz, window, ...; see harness/README.md)\n"
            "  --gc-options STR   more collector options, key=value,... (as RTGC_OPTIONS)\n"
            "  --json FILE        write the figures as JSON\n"
            "  --sample FILE      every second, a line of heap size, RSS and pause figures\n"
            "  --trace FILE       write a Chrome trace-event file (opens in Perfetto)\n"
            "  --plot FILE.svg    draw the pause histograms and MMU curves\n"
            "  --pin              pin mutator, collector and probe threads to cores\n"
            "  --rt               SCHED_FIFO and mlockall where permitted (restored afterwards)\n"
            "  --progress, --no-progress   the progress line on stderr (default: when stderr is a terminal)\n"
            "  --quiet            only the summary\n"
            "  --help, --version\n");
}

static int fail(char *err, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return 2;
}

static int add_workloads(gclat_opts *o, const char *list, char *err, size_t len) {
    char buf[256];
    if (strlen(list) >= sizeof buf || !*list)
        return fail(err, len, "--workload: expected a comma-separated list of workloads");
    strcpy(buf, list);
    o->nworkloads = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const char *const *names = NULL;
        if (strcmp(tok, "default") == 0)
            names = gclat_default_workloads;
        if (names || strcmp(tok, "all") == 0) {
            for (int i = 0; names ? names[i] != NULL : gclat_workloads[i] != NULL; i++) {
                if (o->nworkloads >= GCLAT_MAX_WORKLOADS)
                    return fail(err, len, "--workload: too many workloads");
                o->workloads[o->nworkloads++] = names ? gclat_find_workload(names[i])->name : gclat_workloads[i]->name;
            }
            continue;
        }
        const gclat_workload *w = gclat_find_workload(tok);
        if (!w)
            return fail(err, len, "--workload: unknown workload '%s' (web, gaming, embedded, msgbuf, gcbench, cache)",
                        tok);
        if (o->nworkloads >= GCLAT_MAX_WORKLOADS)
            return fail(err, len, "--workload: too many workloads");
        o->workloads[o->nworkloads++] = w->name;
    }
    if (o->nworkloads == 0)
        return fail(err, len, "--workload: expected a comma-separated list of workloads");
    return 0;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *out) {
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

int gclat_parse_args(int argc, char **argv, gclat_opts *o, char *err, size_t len, FILE *out) {
    memset(o, 0, sizeof *o);
    o->budget_ns = 1000000;
    o->engine = GCLAT_NATIVE;
    o->jit = "auto";
    o->seed = 1;
    o->programs_dir = "vm/programs";
    o->progress = -1;
    int have_workloads = 0;

    static const char *const with_value[] = {"--workload", "--duration", "--mode", "--threads", "--heap",
                                             "--budget", "--engine", "--jit", "--seed", "--json",
                                             "--trace", "--plot", "--param", "--gc-options", "--programs", "--sample", NULL};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        char name[32];
        const char *val = NULL;
        if (strncmp(arg, "--", 2) != 0)
            return fail(err, len, "unexpected argument '%s'", arg);
        const char *eq = strchr(arg, '=');
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nlen >= sizeof name)
            return fail(err, len, "unknown option '%s'", arg);
        memcpy(name, arg, nlen);
        name[nlen] = 0;
        int takes = 0, known = 0;
        for (const char *const *w = with_value; *w; w++)
            if (strcmp(*w, name) == 0)
                takes = known = 1;
        static const char *const flags[] = {"--help", "--version", "--pin", "--rt", "--quiet", "--progress", "--no-progress", NULL};
        for (const char *const *w = flags; *w; w++)
            if (strcmp(*w, name) == 0)
                known = 1;
        if (!known)
            return fail(err, len, "unknown option '%s'", name);
        if (takes) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return fail(err, len, "%s needs a value", name);
            if (!*val)
                return fail(err, len, "%s needs a value", name);
        } else if (eq) {
            return fail(err, len, "%s takes no value", name);
        }

        if (strcmp(name, "--help") == 0) {
            gclat_usage(out);
            return 1;
        } else if (strcmp(name, "--version") == 0) {
            fprintf(out, "gclat %s (librtgc %s)\n", GCLAT_VERSION, rtgc_version());
            return 1;
        } else if (strcmp(name, "--workload") == 0) {
            if (add_workloads(o, val, err, len))
                return 2;
            have_workloads = 1;
        } else if (strcmp(name, "--duration") == 0) {
            if (rtgc_parse_duration(val, &o->duration_ns) || o->duration_ns < 10000000ull ||
                o->duration_ns > 3600ull * 1000000000ull)
                return fail(err, len, "--duration: expected a time from 10ms to 1h such as 5s or 500ms, got '%s'", val);
        } else if (strcmp(name, "--mode") == 0) {
            if (strcmp(val, "concurrent") && strcmp(val, "incremental") && strcmp(val, "step") && strcmp(val, "stw"))
                return fail(err, len, "--mode: expected concurrent, incremental, step or stw, got '%s'", val);
            o->mode = val;
        } else if (strcmp(name, "--threads") == 0) {
            uint64_t v;
            if (parse_uint(val, GCLAT_MAX_THREADS, &v) || v == 0)
                return fail(err, len, "--threads: expected 1 to %d, got '%s'", GCLAT_MAX_THREADS, val);
            o->threads = (int)v;
        } else if (strcmp(name, "--heap") == 0) {
            if (rtgc_parse_size(val, &o->heap) || o->heap < RTGC_HEAP_LIMIT_MIN || o->heap > RTGC_HEAP_LIMIT_MAX)
                return fail(err, len, "--heap: expected a size from 1M to 4T such as 64M, got '%s'", val);
        } else if (strcmp(name, "--budget") == 0) {
            if (rtgc_parse_duration(val, &o->budget_ns) || o->budget_ns == 0 || o->budget_ns > RTGC_BUDGET_MAX_NS)
                return fail(err, len, "--budget: expected a time such as 1ms or 250us (at most 1s), got '%s'", val);
        } else if (strcmp(name, "--engine") == 0) {
            if (strcmp(val, "native") == 0)
                o->engine = GCLAT_NATIVE;
            else if (strcmp(val, "vm") == 0)
                o->engine = GCLAT_VM;
            else
                return fail(err, len, "--engine: expected native or vm, got '%s'", val);
        } else if (strcmp(name, "--jit") == 0) {
            if (strcmp(val, "auto") && strcmp(val, "on") && strcmp(val, "off"))
                return fail(err, len, "--jit: expected auto, on or off, got '%s'", val);
            o->jit = val;
        } else if (strcmp(name, "--seed") == 0) {
            if (parse_uint(val, UINT64_MAX, &o->seed))
                return fail(err, len, "--seed: expected a non-negative integer, got '%s'", val);
        } else if (strcmp(name, "--json") == 0) {
            o->json_path = val;
        } else if (strcmp(name, "--sample") == 0) {
            o->sample_path = val;
        } else if (strcmp(name, "--trace") == 0) {
            o->trace_path = val;
        } else if (strcmp(name, "--plot") == 0) {
            o->plot_path = val;
        } else if (strcmp(name, "--programs") == 0) {
            o->programs_dir = val;
        } else if (strcmp(name, "--gc-options") == 0) {
            rtgc_config c;
            rtgc_error e;
            rtgc_config_init(&c);
            if (rtgc_config_parse(&c, val, &e))
                return fail(err, len, "--gc-options: %s", e.message);
            o->gc_options = val;
        } else if (strcmp(name, "--param") == 0) {
            const char *peq = strchr(val, '=');
            if (!peq || peq == val || !peq[1])
                return fail(err, len, "--param: expected KEY=VALUE, got '%s'", val);
            if (o->nparams >= GCLAT_MAX_PARAMS)
                return fail(err, len, "--param: at most %d parameters", GCLAT_MAX_PARAMS);
            gclat_param *p = &o->params[o->nparams];
            size_t kl = (size_t)(peq - val);
            if (kl >= sizeof p->key || strlen(peq + 1) >= sizeof p->value)
                return fail(err, len, "--param: '%s' is too long", val);
            memcpy(p->key, val, kl);
            p->key[kl] = 0;
            strcpy(p->value, peq + 1);
            char *end;
            errno = 0;
            double v = strtod(p->value, &end);
            if (errno || *end || !(v >= 0) || !isfinite(v) || v > 1e12)
                return fail(err, len, "--param %s: expected a non-negative number up to 1e12, got '%s'", p->key,
                            p->value);
            o->nparams++;
        } else if (strcmp(name, "--pin") == 0) {
            o->pin = 1;
        } else if (strcmp(name, "--rt") == 0) {
            o->rt = 1;
        } else if (strcmp(name, "--quiet") == 0) {
            o->quiet = 1;
        } else if (strcmp(name, "--progress") == 0) {
            o->progress = 1;
        } else if (strcmp(name, "--no-progress") == 0) {
            o->progress = 0;
        } else {
            return fail(err, len, "unknown option '%s'", name);
        }
    }
    if (!have_workloads && add_workloads(o, "default", err, len))
        return 2;
    return gclat_check_params(o, err, len) ? 2 : 0;
}

int gclat_check_params(const gclat_opts *o, char *err, size_t len) {
    for (int i = 0; i < o->nparams; i++) {
        int known = 0;
        for (int k = 0; k < o->nworkloads && !known; k++) {
            const gclat_workload *w = gclat_find_workload(o->workloads[k]);
            for (const char *const *p = w->params; p && *p; p++)
                if (strcmp(*p, o->params[i].key) == 0)
                    known = 1;
        }
        if (!known)
            return fail(err, len, "--param: no selected workload takes '%s' (see harness/README.md)",
                        o->params[i].key);
    }
    return 0;
}

double gclat_param_num(const gclat_opts *o, const char *key, double def) {
    for (int i = o->nparams - 1; i >= 0; i--)
        if (strcmp(o->params[i].key, key) == 0)
            return strtod(o->params[i].value, NULL);
    return def;
}

/* gc/config.c - the run-time options table (STYLE item 14).
 *
 * One table names every option once: its key, the struct field it sets, how
 * its value is parsed and printed.  rtgc_config_parse, rtgc_config_format and
 * the validator all walk it, so a new option is one row here plus its range
 * check in rtgc_config_validate.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void rtgc_config_init(rtgc_config *c) {
    memset(c, 0, sizeof *c);
    c->heap_limit = (size_t)256 << 20;
    c->pause_budget_ns = 1000000;
    c->mode = RTGC_MODE_STW;
    c->collector_threads = 1;
    c->mmu_target = 0.70;
    c->growth_factor = 1.0;
    c->cpu_share = 0.25;
    c->min_trigger = 0;                 /* auto: min(4 MiB, heap_limit / 4) */
    c->stress_alloc = 0;
    c->verify = 0;
    c->pause_log = 65536;
    c->inject_point = RTGC_INJECT_NONE;
    c->inject_ns = 0;
    c->hugepages = RTGC_HUGEPAGES_AUTO;
}

static const char *const hugepages_names[] = {"auto", "on", "off"};

const char *rtgc_mode_name(rtgc_mode m) {
    switch (m) {
    case RTGC_MODE_CONCURRENT: return "concurrent";
    case RTGC_MODE_INCREMENTAL: return "incremental";
    case RTGC_MODE_STEP: return "step";
    case RTGC_MODE_STW: return "stw";
    }
    return "?";
}

/* ---- value parsers ---- */

rtgc_status rtgc_parse_size(const char *text, size_t *out) {
    if (!text || !isdigit((unsigned char)*text))
        return RTGC_EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno)
        return RTGC_EINVAL;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: break;
    }
    if ((*end == 'i' || *end == 'I') && shift)
        end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end != '\0')
        return RTGC_EINVAL;
    if (shift && v > (SIZE_MAX >> shift))
        return RTGC_EINVAL;
    *out = (size_t)(v << shift);
    return RTGC_OK;
}

rtgc_status rtgc_parse_duration(const char *text, uint64_t *out_ns) {
    if (!text || !(isdigit((unsigned char)*text) || *text == '.'))
        return RTGC_EINVAL;
    errno = 0;
    char *end;
    double v = strtod(text, &end);
    if (errno || end == text || !(v >= 0) || !isfinite(v))
        return RTGC_EINVAL;
    double mul;
    if (strcmp(end, "ns") == 0) mul = 1;
    else if (strcmp(end, "us") == 0) mul = 1e3;
    else if (strcmp(end, "ms") == 0) mul = 1e6;
    else if (strcmp(end, "s") == 0) mul = 1e9;
    else return RTGC_EINVAL;
    double ns = v * mul;
    if (ns > 1.8e19)
        return RTGC_EINVAL;
    *out_ns = (uint64_t)(ns + 0.5);
    return RTGC_OK;
}

static rtgc_status parse_fraction(const char *text, double *out) {
    if (!text || !*text)
        return RTGC_EINVAL;
    errno = 0;
    char *end;
    double v = strtod(text, &end);
    if (errno || end == text || !isfinite(v))
        return RTGC_EINVAL;
    if (*end == '%') {
        v /= 100.0;
        end++;
    }
    if (*end)
        return RTGC_EINVAL;
    *out = v;
    return RTGC_OK;
}

/* inject=none | inject=roots:TIME (a testing knob, rtgc/config.h).  The
 * point and the delay are one value so that a delay never floats free of
 * where it goes. */
static const char *const inject_points[] = {"none", "roots"};

static rtgc_status parse_inject(const char *text, rtgc_config *c) {
    if (strcmp(text, inject_points[RTGC_INJECT_NONE]) == 0) {
        c->inject_point = RTGC_INJECT_NONE;
        c->inject_ns = 0;
        return RTGC_OK;
    }
    const char *colon = strchr(text, ':');
    if (!colon)
        return RTGC_EINVAL;
    for (unsigned p = RTGC_INJECT_NONE + 1; p < sizeof inject_points / sizeof inject_points[0]; p++) {
        if (strlen(inject_points[p]) == (size_t)(colon - text) && strncmp(text, inject_points[p], (size_t)(colon - text)) == 0) {
            uint64_t ns;
            if (rtgc_parse_duration(colon + 1, &ns) != RTGC_OK || ns == 0 || ns > RTGC_INJECT_MAX_NS)
                return RTGC_EINVAL;
            c->inject_point = (rtgc_inject_point)p;
            c->inject_ns = ns;
            return RTGC_OK;
        }
    }
    return RTGC_EINVAL;
}

static rtgc_status parse_u64(const char *text, uint64_t *out) {
    if (!text || !isdigit((unsigned char)*text))
        return RTGC_EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end)
        return RTGC_EINVAL;
    *out = v;
    return RTGC_OK;
}

/* ---- the table ---- */

enum opt_type { T_SIZE, T_TIME, T_MODE, T_UINT, T_U64, T_FRAC, T_BOOL, T_INJECT, T_HUGE };

typedef struct option {
    const char *key;
    const char *field;   /* the rtgc_config field, as errors name it */
    enum opt_type type;
    size_t offset;
} option;

#define OPT(key, type, field) { key, #field, type, offsetof(rtgc_config, field) }
static const option options[] = {
    OPT("heap", T_SIZE, heap_limit),
    OPT("budget", T_TIME, pause_budget_ns),
    OPT("mode", T_MODE, mode),
    OPT("threads", T_UINT, collector_threads),
    OPT("mmu", T_FRAC, mmu_target),
    OPT("growth", T_FRAC, growth_factor),
    OPT("cpu", T_FRAC, cpu_share),
    OPT("min_trigger", T_SIZE, min_trigger),
    OPT("stress", T_U64, stress_alloc),
    OPT("verify", T_BOOL, verify),
    OPT("pause_log", T_UINT, pause_log),
    OPT("inject", T_INJECT, inject_point),  /* sets inject_point and inject_ns */
    OPT("hugepages", T_HUGE, hugepages),
};
#define NOPTIONS (sizeof options / sizeof options[0])

static rtgc_status apply(rtgc_config *c, const option *o, const char *val, rtgc_error *err) {
    char *p = (char *)c + o->offset;
    rtgc_status st = RTGC_OK;
    switch (o->type) {
    case T_SIZE: st = rtgc_parse_size(val, (size_t *)p); break;
    case T_TIME: st = rtgc_parse_duration(val, (uint64_t *)p); break;
    case T_U64: st = parse_u64(val, (uint64_t *)p); break;
    case T_FRAC: st = parse_fraction(val, (double *)p); break;
    case T_INJECT: st = parse_inject(val, c); break;
    case T_UINT: {
        uint64_t v;
        st = parse_u64(val, &v);
        if (st == RTGC_OK && v > UINT32_MAX)
            st = RTGC_EINVAL;
        if (st == RTGC_OK)
            *(unsigned *)p = (unsigned)v;
        break;
    }
    case T_BOOL:
        if (strcmp(val, "1") == 0 || strcmp(val, "yes") == 0 || strcmp(val, "on") == 0 || strcmp(val, "true") == 0)
            *(int *)p = 1;
        else if (strcmp(val, "0") == 0 || strcmp(val, "no") == 0 || strcmp(val, "off") == 0 || strcmp(val, "false") == 0)
            *(int *)p = 0;
        else
            st = RTGC_EINVAL;
        break;
    case T_HUGE: {
        unsigned k;
        for (k = 0; k < 3 && strcmp(val, hugepages_names[k]) != 0; k++)
            ;
        if (k == 3)
            st = RTGC_EINVAL;
        else
            *(rtgc_hugepages *)p = (rtgc_hugepages)k;
        break;
    }
    case T_MODE: {
        rtgc_mode m;
        for (m = RTGC_MODE_CONCURRENT; m <= RTGC_MODE_STW; m++)
            if (strcmp(val, rtgc_mode_name(m)) == 0)
                break;
        if (m > RTGC_MODE_STW)
            st = RTGC_EINVAL;
        else
            *(rtgc_mode *)p = m;
        break;
    }
    }
    if (st != RTGC_OK) {
        static const char *what[] = {"a size like 64M", "a duration like 250us", "concurrent, incremental, step or stw",
                                     "a whole number", "a whole number", "a number like 0.7 or 70%", "0 or 1",
                                     "none or roots:TIME (TIME in (0, 1s])", "auto, on or off"};
        set_error(err, RTGC_EINVAL, o->field, "option '%s': bad value '%s' (expected %s)", o->key, val,
                  what[o->type]);
    }
    return st;
}

rtgc_status rtgc_config_parse(rtgc_config *cfg, const char *text, rtgc_error *err) {
    rtgc_config c = *cfg;
    if (!text)
        return RTGC_OK;
    const char *p = text;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[256];
        if (len >= sizeof item) {
            set_error(err, RTGC_EINVAL, "", "option '%.40s...' is too long", p);
            return RTGC_EINVAL;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        while (len && item[len - 1] == ' ')
            item[--len] = '\0';
        char *eq = strchr(item, '=');
        if (!eq) {
            set_error(err, RTGC_EINVAL, item, "option '%s' has no value (write key=value)", item);
            return RTGC_EINVAL;
        }
        *eq = '\0';
        const option *o = NULL;
        for (size_t i = 0; i < NOPTIONS; i++)
            if (strcmp(options[i].key, item) == 0)
                o = &options[i];
        if (!o) {
            set_error(err, RTGC_EINVAL, item,
                      "unknown option '%s' (known: heap, budget, mode, threads, mmu, growth, cpu, "
                      "min_trigger, stress, verify, pause_log, inject, hugepages)", item);
            return RTGC_EINVAL;
        }
        if (apply(&c, o, eq + 1, err) != RTGC_OK)
            return RTGC_EINVAL;
        p += len + (end ? 1 : 0);
        if (!end)
            break;
    }
    rtgc_status st = rtgc_config_validate(&c, err);
    if (st == RTGC_OK)
        *cfg = c;
    return st;
}

rtgc_status rtgc_config_from_env(rtgc_config *cfg, const char *var, rtgc_error *err) {
    const char *v = getenv(var ? var : "RTGC_OPTIONS");
    if (!v)
        return RTGC_OK;
    rtgc_status st = rtgc_config_parse(cfg, v, err);
    if (st != RTGC_OK && err) {
        char m[sizeof err->message];
        snprintf(m, sizeof m, "%s: %s", var ? var : "RTGC_OPTIONS", err->message);
        memcpy(err->message, m, sizeof m);
    }
    return st;
}

rtgc_status rtgc_config_validate(const rtgc_config *c, rtgc_error *err) {
#define BAD(field, ...) do { set_error(err, RTGC_EINVAL, #field, __VA_ARGS__); return RTGC_EINVAL; } while (0)
    if (!c)
        BAD(config, "configuration is NULL");
    if (c->heap_limit < RTGC_HEAP_LIMIT_MIN || c->heap_limit > RTGC_HEAP_LIMIT_MAX)
        BAD(heap_limit, "heap_limit %zu is out of range [1 MiB, 4 TiB]", c->heap_limit);
    if (c->pause_budget_ns < RTGC_BUDGET_MIN_NS || c->pause_budget_ns > RTGC_BUDGET_MAX_NS)
        BAD(pause_budget_ns, "pause_budget_ns %" PRIu64 " is out of range [10us, 1s]", c->pause_budget_ns);
    if ((unsigned)c->mode > RTGC_MODE_STW)
        BAD(mode, "mode %d is not a mode", (int)c->mode);
    if (c->collector_threads > RTGC_COLLECTOR_THREADS_MAX)
        BAD(collector_threads, "collector_threads %u is above %u", c->collector_threads, RTGC_COLLECTOR_THREADS_MAX);
    if (c->mode == RTGC_MODE_CONCURRENT && c->collector_threads == 0)
        BAD(collector_threads, "concurrent mode needs at least one collector thread");
    if (!(c->mmu_target > 0.0 && c->mmu_target < 1.0))
        BAD(mmu_target, "mmu_target %g is not in (0, 1)", c->mmu_target);
    if (!(c->growth_factor > 0.0 && c->growth_factor <= 100.0))
        BAD(growth_factor, "growth_factor %g is not in (0, 100]", c->growth_factor);
    if (!(c->cpu_share > 0.0 && c->cpu_share <= 1.0))
        BAD(cpu_share, "cpu_share %g is not in (0, 1]", c->cpu_share);
    if (c->min_trigger > c->heap_limit)
        BAD(min_trigger, "min_trigger %zu is above heap_limit %zu", c->min_trigger, c->heap_limit);
    if (c->verify != 0 && c->verify != 1)
        BAD(verify, "verify must be 0 or 1");
    if (c->pause_log < 16 || c->pause_log > (1u << 24) || (c->pause_log & (c->pause_log - 1)))
        BAD(pause_log, "pause_log %u must be a power of two in [16, 16M]", c->pause_log);
    if ((unsigned)c->hugepages > RTGC_HUGEPAGES_OFF)
        BAD(hugepages, "hugepages %d is not auto, on or off", (int)c->hugepages);
    if ((unsigned)c->inject_point > RTGC_INJECT_ROOTS)
        BAD(inject_point, "inject_point %d is not an injection point", (int)c->inject_point);
    if (c->inject_point == RTGC_INJECT_NONE && c->inject_ns != 0)
        BAD(inject_ns, "inject_ns is set but inject_point is none");
    if (c->inject_point != RTGC_INJECT_NONE && (c->inject_ns == 0 || c->inject_ns > RTGC_INJECT_MAX_NS))
        BAD(inject_ns, "inject_ns %" PRIu64 " is out of range (0, 1s]", c->inject_ns);
#undef BAD
    return RTGC_OK;
}

static void fmt_size(char *b, size_t n, size_t v) {
    static const char suffix[] = "KMGT";
    int i = -1;
    while (v && (v & 1023) == 0 && i < 3) {
        v >>= 10;
        i++;
    }
    if (i < 0)
        snprintf(b, n, "%zu", v);
    else
        snprintf(b, n, "%zu%c", v, suffix[i]);
}

static void fmt_time(char *b, size_t n, uint64_t ns) {
    if (ns % 1000000000u == 0) snprintf(b, n, "%" PRIu64 "s", ns / 1000000000u);
    else if (ns % 1000000u == 0) snprintf(b, n, "%" PRIu64 "ms", ns / 1000000u);
    else if (ns % 1000u == 0) snprintf(b, n, "%" PRIu64 "us", ns / 1000u);
    else snprintf(b, n, "%" PRIu64 "ns", ns);
}

size_t rtgc_config_format(const rtgc_config *c, char *buf, size_t len) {
    size_t used = 0;
    for (size_t i = 0; i < NOPTIONS; i++) {
        const option *o = &options[i];
        const char *p = (const char *)c + o->offset;
        char v[64];
        switch (o->type) {
        case T_SIZE: fmt_size(v, sizeof v, *(const size_t *)p); break;
        case T_TIME: fmt_time(v, sizeof v, *(const uint64_t *)p); break;
        case T_MODE: snprintf(v, sizeof v, "%s", rtgc_mode_name(*(const rtgc_mode *)p)); break;
        case T_UINT: snprintf(v, sizeof v, "%u", *(const unsigned *)p); break;
        case T_U64: snprintf(v, sizeof v, "%" PRIu64, *(const uint64_t *)p); break;
        case T_FRAC: {
            double d = *(const double *)p;
            snprintf(v, sizeof v, "%g", d);
            if (strtod(v, NULL) != d)
                snprintf(v, sizeof v, "%.17g", d);
            break;
        }
        case T_BOOL: snprintf(v, sizeof v, "%d", *(const int *)p); break;
        case T_HUGE:
            /* Printed when not the default, like inject: settings lines
             * recorded before the option stay as they were. */
            if (c->hugepages == RTGC_HUGEPAGES_AUTO)
                continue;
            snprintf(v, sizeof v, "%s", (unsigned)c->hugepages < 3 ? hugepages_names[c->hugepages] : "?");
            break;
        case T_INJECT: {
            /* Printed only when on: a testing knob stays out of every
             * ordinary settings line, and shows in any run it affects. */
            if (c->inject_point == RTGC_INJECT_NONE)
                continue;
            char t[40];
            fmt_time(t, sizeof t, c->inject_ns);
            snprintf(v, sizeof v, "%s:%s", (unsigned)c->inject_point < 2 ? inject_points[c->inject_point] : "?", t);
            break;
        }
        }
        int k = snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0, "%s%s=%s",
                         i ? "," : "", o->key, v);
        used += (size_t)k;
    }
    return used;
}

/* latency-tests/json.c - see json.h. */
#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *s, *p;
    char *err;
    size_t errlen;
    int depth;
} parser;

static int fail(parser *ps, const char *fmt, ...) {
    if (ps->err && ps->errlen && !ps->err[0]) {
        int line = 1;
        for (const char *q = ps->s; q < ps->p; q++)
            line += *q == '\n';
        int k = snprintf(ps->err, ps->errlen, "line %d: ", line);
        if (k >= 0 && (size_t)k < ps->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ps->err + k, ps->errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return 0;
}

static void skip_ws(parser *ps) {
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
        ps->p++;
}

static jv *new_value(jv_type t) {
    jv *v = calloc(1, sizeof *v);
    if (!v) {
        fprintf(stderr, "json: out of memory\n");
        exit(2);
    }
    v->type = t;
    return v;
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "json: out of memory\n");
        exit(2);
    }
    return q;
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

/* A string at ps->p (on the opening quote), decoded into a fresh buffer. */
static char *parse_string(parser *ps) {
    ps->p++;
    size_t cap = 16, len = 0;
    char *b = xrealloc(NULL, cap);
    for (;;) {
        unsigned char c = (unsigned char)*ps->p;
        if (c == '\0') {
            free(b);
            fail(ps, "unterminated string");
            return NULL;
        }
        if (c < 0x20) {
            free(b);
            fail(ps, "control character in a string");
            return NULL;
        }
        if (len + 5 >= cap)
            b = xrealloc(b, cap *= 2);
        ps->p++;
        if (c == '"')
            break;
        if (c != '\\') {
            b[len++] = (char)c;
            continue;
        }
        char e = *ps->p++;
        switch (e) {
        case '"': b[len++] = '"'; break;
        case '\\': b[len++] = '\\'; break;
        case '/': b[len++] = '/'; break;
        case 'b': b[len++] = '\b'; break;
        case 'f': b[len++] = '\f'; break;
        case 'n': b[len++] = '\n'; break;
        case 'r': b[len++] = '\r'; break;
        case 't': b[len++] = '\t'; break;
        case 'u': {
            unsigned u;
            if (!hex4(ps->p, &u)) {
                free(b);
                fail(ps, "bad \\u escape");
                return NULL;
            }
            ps->p += 4;
            if (u >= 0xd800 && u < 0xdc00 && ps->p[0] == '\\' && ps->p[1] == 'u') {
                unsigned lo;
                if (hex4(ps->p + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
                    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                    ps->p += 6;
                }
            }
            if (u < 0x80) {
                b[len++] = (char)u;
            } else if (u < 0x800) {
                b[len++] = (char)(0xc0 | (u >> 6));
                b[len++] = (char)(0x80 | (u & 0x3f));
            } else if (u < 0x10000) {
                b[len++] = (char)(0xe0 | (u >> 12));
                b[len++] = (char)(0x80 | ((u >> 6) & 0x3f));
                b[len++] = (char)(0x80 | (u & 0x3f));
            } else {
                b[len++] = (char)(0xf0 | (u >> 18));
                b[len++] = (char)(0x80 | ((u >> 12) & 0x3f));
                b[len++] = (char)(0x80 | ((u >> 6) & 0x3f));
                b[len++] = (char)(0x80 | (u & 0x3f));
            }
            break;
        }
        default:
            free(b);
            fail(ps, "bad escape '\\%c'", e ? e : '0');
            return NULL;
        }
    }
    b[len] = '\0';
    return b;
}

static jv *parse_value(parser *ps);

static jv *parse_container(parser *ps, int is_obj) {
    if (++ps->depth > 64) {
        fail(ps, "nested too deep");
        return NULL;
    }
    jv *v = new_value(is_obj ? JV_OBJ : JV_ARR);
    ps->p++;
    skip_ws(ps);
    char close = is_obj ? '}' : ']';
    if (*ps->p == close) {
        ps->p++;
        ps->depth--;
        return v;
    }
    for (;;) {
        char *key = NULL;
        if (is_obj) {
            skip_ws(ps);
            if (*ps->p != '"') {
                fail(ps, "expected a key");
                goto bad;
            }
            if (!(key = parse_string(ps)))
                goto bad;
            skip_ws(ps);
            if (*ps->p != ':') {
                free(key);
                fail(ps, "expected ':'");
                goto bad;
            }
            ps->p++;
        }
        jv *item = parse_value(ps);
        if (!item) {
            free(key);
            goto bad;
        }
        v->items = xrealloc(v->items, (v->n + 1) * sizeof *v->items);
        if (is_obj)
            v->keys = xrealloc(v->keys, (v->n + 1) * sizeof *v->keys);
        v->items[v->n] = item;
        if (is_obj)
            v->keys[v->n] = key;
        v->n++;
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            ps->depth--;
            return v;
        }
        fail(ps, "expected ',' or '%c'", close);
        goto bad;
    }
bad:
    jv_free(v);
    return NULL;
}

static jv *parse_value(parser *ps) {
    skip_ws(ps);
    const char *p = ps->p;
    switch (*p) {
    case '{': return parse_container(ps, 1);
    case '[': return parse_container(ps, 0);
    case '"': {
        char *s = parse_string(ps);
        if (!s)
            return NULL;
        jv *v = new_value(JV_STR);
        v->str = s;
        return v;
    }
    case 't':
        if (strncmp(p, "true", 4) == 0) { ps->p += 4; return new_value(JV_TRUE); }
        break;
    case 'f':
        if (strncmp(p, "false", 5) == 0) { ps->p += 5; return new_value(JV_FALSE); }
        break;
    case 'n':
        if (strncmp(p, "null", 4) == 0) { ps->p += 4; return new_value(JV_NULL); }
        break;
    default:
        if (*p == '-' || (*p >= '0' && *p <= '9')) {
            char *end;
            errno = 0;
            double d = strtod(p, &end);
            if (end == p) {
                fail(ps, "bad number");
                return NULL;
            }
            ps->p = end;
            jv *v = new_value(JV_NUM);
            v->num = d;
            return v;
        }
    }
    fail(ps, "unexpected '%.10s'", *p ? p : "end of input");
    return NULL;
}

jv *jv_parse(const char *text, char *err, size_t errlen) {
    parser ps = {text, text, err, errlen, 0};
    if (err && errlen)
        err[0] = '\0';
    jv *v = parse_value(&ps);
    if (!v)
        return NULL;
    skip_ws(&ps);
    if (*ps.p) {
        fail(&ps, "trailing text '%.10s'", ps.p);
        jv_free(v);
        return NULL;
    }
    return v;
}

jv *jv_parse_file(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = xrealloc(NULL, cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2)
            buf = xrealloc(buf, cap *= 2);
    }
    int bad = ferror(f);
    fclose(f);
    buf[len] = '\0';
    if (bad) {
        free(buf);
        snprintf(err, errlen, "%s: read error", path);
        return NULL;
    }
    char e[200];
    jv *v = jv_parse(buf, e, sizeof e);
    free(buf);
    if (!v)
        snprintf(err, errlen, "%s: %s", path, e);
    return v;
}

void jv_free(jv *v) {
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        jv_free(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

const jv *jv_get(const jv *v, const char *key) {
    if (!v || v->type != JV_OBJ)
        return NULL;
    for (size_t i = v->n; i-- > 0;) /* the last of duplicate keys wins */
        if (strcmp(v->keys[i], key) == 0)
            return v->items[i];
    return NULL;
}

const jv *jv_path(const jv *v, const char *path) {
    char part[128];
    while (v && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof part)
            return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        if (v->type == JV_ARR) {
            char *end;
            unsigned long i = strtoul(part, &end, 10);
            v = (*end || end == part || i >= v->n) ? NULL : v->items[i];
        } else {
            v = jv_get(v, part);
        }
        path += n + (path[n] == '.');
    }
    return v;
}

double jv_num(const jv *v, double dflt) { return v && v->type == JV_NUM ? v->num : dflt; }
const char *jv_str(const jv *v, const char *dflt) { return v && v->type == JV_STR ? v->str : dflt; }
int jv_bool(const jv *v, int dflt) { return v && v->type == JV_TRUE ? 1 : v && v->type == JV_FALSE ? 0 : dflt; }

/* read.c - the lexer and reader of rtvm's s-expression syntax.
 *
 * Tokens: ( ) [ ] (brackets are parentheses), integers, floats (a '.' or an
 * exponent), strings with \n \t \" \\ escapes, symbols, and ; comments to the
 * end of the line.  Invariants: every error is reported with the line and
 * column of the offending token and never reads past the terminating NUL;
 * nesting deeper than READ_MAX_DEPTH is an error, not a deep recursion.
 */
#include "read.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *arena_alloc(reader *r, size_t n) {
    n = (n + 15) & ~(size_t)15;
    arena_block *b = r->arena;
    if (!b || b->used + n > b->cap) {
        size_t cap = n > 65536 ? n : 65536;
        b = malloc(sizeof *b + cap);
        if (!b) read_error_at(r, r->line, r->col, "out of memory while reading");
        b->next = r->arena;
        b->used = 0;
        b->cap = cap;
        r->arena = b;
    }
    void *p = (char *)(b + 1) + b->used;
    b->used += n;
    return p;
}

void arena_free(reader *r) {
    arena_block *b = r->arena;
    while (b) {
        arena_block *n = b->next;
        free(b);
        b = n;
    }
    r->arena = NULL;
}

void read_error_at(reader *r, int line, int col, const char *fmt, ...) {
    int n = snprintf(r->err, r->errlen, "%s:%d:%d: ", r->file, line, col);
    if (n < 0) n = 0;
    if ((size_t)n < r->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    longjmp(*r->jb, 1);
}

static node *new_node(reader *r, node_kind k, int line, int col) {
    node *n = arena_alloc(r, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = k;
    n->line = line;
    n->col = col;
    return n;
}

static void advance(reader *r) {
    if (*r->p == '\n') {
        r->line++;
        r->col = 1;
    } else {
        r->col++;
    }
    r->p++;
}

static void skip_space(reader *r) {
    for (;;) {
        char ch = *r->p;
        if (ch == ';') {
            while (*r->p && *r->p != '\n') advance(r);
        } else if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v') {
            advance(r);
        } else {
            return;
        }
    }
}

static int is_delim(char ch) {
    return ch == 0 || ch == '(' || ch == ')' || ch == '[' || ch == ']' || ch == '"' || ch == ';' ||
           isspace((unsigned char)ch);
}

static node *read_form(reader *r, int depth);

static node *read_list(reader *r, int depth, char close) {
    int line = r->line, col = r->col;
    if (depth >= READ_MAX_DEPTH) read_error_at(r, line, col, "nesting too deep (more than %d levels)", READ_MAX_DEPTH);
    advance(r);
    node **items = NULL;
    int n = 0, cap = 0;
    for (;;) {
        skip_space(r);
        char ch = *r->p;
        if (ch == 0) read_error_at(r, line, col, "unclosed '%c'", close == ')' ? '(' : '[');
        if (ch == ')' || ch == ']') {
            if (ch != close) read_error_at(r, r->line, r->col, "'%c' closes '%c'", ch, close == ')' ? '(' : '[');
            advance(r);
            break;
        }
        if (n == cap) {
            int ncap = cap ? cap * 2 : 8;
            node **ni = arena_alloc(r, sizeof *ni * (size_t)ncap);
            if (n) memcpy(ni, items, sizeof *ni * (size_t)n);
            items = ni;
            cap = ncap;
        }
        items[n++] = read_form(r, depth + 1);
    }
    node *l = new_node(r, N_LIST, line, col);
    l->items = items;
    l->n = n;
    return l;
}

static node *read_string(reader *r) {
    int line = r->line, col = r->col;
    advance(r);
    size_t cap = 32, len = 0;
    char *buf = arena_alloc(r, cap);
    for (;;) {
        char ch = *r->p;
        if (ch == 0) read_error_at(r, line, col, "unterminated string");
        if (ch == '"') {
            advance(r);
            break;
        }
        if (ch == '\\') {
            int el = r->line, ec = r->col;
            advance(r);
            char e = *r->p;
            switch (e) {
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case 'r': ch = '\r'; break;
            case '0': ch = 0; break;
            case '\\': ch = '\\'; break;
            case '"': ch = '"'; break;
            default: read_error_at(r, el, ec, "unknown escape '\\%c' in string", e ? e : '0');
            }
        }
        advance(r);
        if (len + 1 >= cap) {
            char *nb = arena_alloc(r, cap * 2);
            memcpy(nb, buf, len);
            buf = nb;
            cap *= 2;
        }
        buf[len++] = ch;
    }
    buf[len] = 0;
    node *s = new_node(r, N_STR, line, col);
    s->s = buf;
    s->n = (int)len;
    return s;
}

static node *make_sym(reader *r, const char *s, size_t len, int line, int col) {
    char *c = arena_alloc(r, len + 1);
    memcpy(c, s, len);
    c[len] = 0;
    node *n = new_node(r, N_SYM, line, col);
    n->s = c;
    return n;
}

static node *read_atom(reader *r) {
    int line = r->line, col = r->col;
    const char *start = r->p;
    while (!is_delim(*r->p)) advance(r);
    size_t len = (size_t)(r->p - start);
    char tok[128];
    const char *q = start;
    if (*q == '-' || *q == '+') q++;
    if (isdigit((unsigned char)*q) || (*q == '.' && isdigit((unsigned char)q[1]))) {
        if (len >= sizeof tok) read_error_at(r, line, col, "number too long");
        memcpy(tok, start, len);
        tok[len] = 0;
        int isfloat = strpbrk(tok, ".eE") != NULL;
        char *end;
        errno = 0;
        if (isfloat) {
            double d = strtod(tok, &end);
            if (*end || errno == ERANGE) read_error_at(r, line, col, "bad number '%s'", tok);
            node *n = new_node(r, N_FLOAT, line, col);
            n->d = d;
            return n;
        }
        long long v = strtoll(tok, &end, 10);
        if (*end) read_error_at(r, line, col, "bad number '%s'", tok);
        if (errno == ERANGE || v < -((long long)1 << 61) || v > ((long long)1 << 61) - 1)
            read_error_at(r, line, col, "integer '%s' out of range (62-bit)", tok);
        node *n = new_node(r, N_INT, line, col);
        n->i = v;
        return n;
    }
    /* a.b.c -> (. (. a b) c) */
    const char *dot = memchr(start, '.', len);
    if (dot && len > 1) {
        const char *seg = start;
        node *acc = NULL;
        for (;;) {
            const char *e = memchr(seg, '.', (size_t)(start + len - seg));
            size_t sl = e ? (size_t)(e - seg) : (size_t)(start + len - seg);
            if (sl == 0) read_error_at(r, line, col, "bad dotted name '%.*s'", (int)len, start);
            node *s = make_sym(r, seg, sl, line, col + (int)(seg - start));
            if (!acc) {
                acc = s;
            } else {
                node *l = new_node(r, N_LIST, line, col);
                l->n = 3;
                l->items = arena_alloc(r, 3 * sizeof(node *));
                l->items[0] = make_sym(r, ".", 1, line, col);
                l->items[1] = acc;
                l->items[2] = s;
                acc = l;
            }
            if (!e) break;
            seg = e + 1;
        }
        return acc;
    }
    return make_sym(r, start, len, line, col);
}

static node *read_form(reader *r, int depth) {
    skip_space(r);
    char ch = *r->p;
    if (ch == '(') return read_list(r, depth, ')');
    if (ch == '[') return read_list(r, depth, ']');
    if (ch == ')' || ch == ']') read_error_at(r, r->line, r->col, "unexpected '%c'", ch);
    if (ch == '"') return read_string(r);
    if (ch == 0) read_error_at(r, r->line, r->col, "unexpected end of input");
    if ((unsigned char)ch < 32 || (unsigned char)ch >= 127)
        read_error_at(r, r->line, r->col, "unexpected character (byte 0x%02x)", (unsigned char)ch);
    return read_atom(r);
}

node *read_program(reader *r) {
    node **items = NULL;
    int n = 0, cap = 0;
    for (;;) {
        skip_space(r);
        if (*r->p == 0) break;
        if (n == cap) {
            int ncap = cap ? cap * 2 : 16;
            node **ni = arena_alloc(r, sizeof *ni * (size_t)ncap);
            if (n) memcpy(ni, items, sizeof *ni * (size_t)n);
            items = ni;
            cap = ncap;
        }
        items[n++] = read_form(r, 0);
    }
    node *l = new_node(r, N_LIST, 1, 1);
    l->items = items;
    l->n = n;
    return l;
}

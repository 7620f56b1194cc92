/* read.h - the reader: source text to s-expression nodes (read.c).
 *
 * Nodes live in an arena freed in one go.  Every node keeps the line and
 * column where it starts, for messages.  A dotted symbol a.b.c is read as
 * (. (. a b) c).  Nesting is bounded (READ_MAX_DEPTH) so that no input can
 * exhaust the C stack of the reader or the compiler.
 */
#ifndef RTVM_READ_H
#define RTVM_READ_H
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#define READ_MAX_DEPTH 200

typedef enum { N_LIST, N_SYM, N_INT, N_FLOAT, N_STR } node_kind;

typedef struct node {
    node_kind kind;
    int line, col;
    int flags;              /* compiler: NF_CAPTURED, NF_ASSIGNED on declaring symbols */
    int n;                  /* N_LIST: items; N_STR: length */
    struct node **items;
    const char *s;          /* N_SYM, N_STR */
    int64_t i;
    double d;
} node;

typedef struct arena_block { struct arena_block *next; size_t used, cap; } arena_block;
typedef struct reader {
    const char *file, *src, *p;
    int line, col;
    arena_block *arena;
    jmp_buf *jb;
    char *err;
    size_t errlen;
} reader;

void *arena_alloc(reader *r, size_t n);
void arena_free(reader *r);
/* Read every top-level form; returns a list node holding them.  On error
 * writes "file:line:col: message" and longjmps to r->jb. */
node *read_program(reader *r);
_Noreturn void read_error_at(reader *r, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif

/* latency-tests/json.h - a small JSON reader (RFC 8259 values into a tree).
 *
 * Enough for the files this project writes itself (gclat --json, the
 * baselines, bench results): objects, arrays, strings (escapes decoded,
 * \u to UTF-8), numbers as doubles, true/false/null.  No dependency beyond
 * libc; python3 is not on every Debian machine the tests run on.
 *
 *     jv *root = jv_parse_file("out.json", err, sizeof err);
 *     double p99 = jv_num(jv_path(root, "workloads.0.pause_work.p99_ns"), -1);
 *     jv_free(root);
 */
#ifndef LT_JSON_H
#define LT_JSON_H

#include <stddef.h>

typedef enum jv_type { JV_NULL, JV_FALSE, JV_TRUE, JV_NUM, JV_STR, JV_ARR, JV_OBJ } jv_type;

typedef struct jv {
    jv_type type;
    double num;          /* JV_NUM */
    char *str;           /* JV_STR (NUL-terminated, decoded) */
    size_t n;            /* JV_ARR, JV_OBJ: items */
    struct jv **items;   /* JV_ARR, JV_OBJ: values */
    char **keys;         /* JV_OBJ: keys, parallel to items */
} jv;

/* Parse a whole text / file; NULL on error with a message ("line L: ...")
 * in err. */
jv *jv_parse(const char *text, char *err, size_t errlen);
jv *jv_parse_file(const char *path, char *err, size_t errlen);
void jv_free(jv *v);

/* Member of an object (NULL if v is not an object or has no such key). */
const jv *jv_get(const jv *v, const char *key);
/* Dotted path: object keys and array indexes, "workloads.0.mmu_work.10ms".
 * A key containing a dot cannot be named this way (none here does). */
const jv *jv_path(const jv *v, const char *path);
/* The number, or dflt when v is NULL or not a number. */
double jv_num(const jv *v, double dflt);
/* The string, or dflt. */
const char *jv_str(const jv *v, const char *dflt);
/* 1 for true, 0 for false, dflt otherwise. */
int jv_bool(const jv *v, int dflt);

#endif

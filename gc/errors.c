/* gc/errors.c - how the library reports what it cannot return.
 *
 * Three levels (STYLE item 12: failure is a status and a policy):
 *   set_error      a call that returns rtgc_status fills the caller's
 *                  rtgc_error (field + message);
 *   rtgc__report   problems found inside the library (a failed
 *                  verification): the embedder's error handler, else stderr;
 *   rtgc__misuse   the API used against its contract: the handler, else a
 *                  message on stderr and abort().  With a handler installed
 *                  the call fails safely (NULL, an error status, no effect).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void set_error(rtgc_error *err, rtgc_status st, const char *field, const char *fmt, ...) {
    if (!err)
        return;
    err->status = st;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

static void vreport(rtgc_heap *h, rtgc_status st, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (h && h->error_fn) {
        h->error_fn(h, st, msg, h->error_data);
        return;
    }
    fprintf(stderr, "rtgc: %s: %s\n", rtgc_status_name(st), msg);
    if (st == RTGC_EMISUSE)
        abort();
}

void rtgc__report(rtgc_heap *h, rtgc_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(h, st, fmt, ap);
    va_end(ap);
}

void rtgc__misuse(rtgc_heap *h, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(h, RTGC_EMISUSE, fmt, ap);
    va_end(ap);
}

_Noreturn void rtgc__fatal(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "rtgc: fatal: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void rtgc_set_error_handler(rtgc_heap *h, rtgc_error_fn fn, void *data) {
    h->error_fn = fn;
    h->error_data = data;
}

const char *rtgc_status_name(rtgc_status st) {
    switch (st) {
    case RTGC_OK: return "ok";
    case RTGC_EINVAL: return "invalid argument";
    case RTGC_ENOMEM: return "out of memory";
    case RTGC_EMISUSE: return "misuse";
    case RTGC_ESTATE: return "wrong state";
    case RTGC_EUNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

const char *rtgc_version(void) {
    return RTGC_VERSION;
}

/* main.c - the rtvm command: build/rtvm FILE [--jit=on|off|auto]
 * [--gc-mode=MODE] [--budget=TIME] [--heap=SIZE] [--gc=OPTIONS] [--dump-jit]
 * [--call=NAME[:ARG...]]...
 *
 * Exit status: 0 on success, 1 on a runtime error, 2 on a parse or compile
 * error or a bad command line.  The collector's configuration starts from
 * the library defaults, then RTGC_OPTIONS, then the command line.
 */
#include "vm.h"
#include <stdlib.h>
#include <string.h>

static void oom_handler(rtgc_heap *heap, size_t request, void *data) {
    (void)heap, (void)request, (void)data; /* the allocation returns NULL: the VM reports it */
}

static int usage(void) {
    fprintf(stderr, "usage: rtvm FILE [--jit=on|off|auto] [--gc-mode=stw|concurrent|incremental|step] [--budget=TIME]\n"
                    "            [--heap=SIZE] [--gc=KEY=VAL,...] [--dump-jit] [--call=NAME[:INT...]]...\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *file = NULL;
    rtvm_options o;
    rtvm_options_init(&o);
    rtgc_config cfg;
    rtgc_error e;
    rtgc_config_init(&cfg);
    if (rtgc_config_from_env(&cfg, NULL, &e) != RTGC_OK) {
        fprintf(stderr, "rtvm: RTGC_OPTIONS: %s\n", e.message);
        return 2;
    }
    const char *calls[64];
    int ncalls = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char opt[300];
        if (!strncmp(a, "--jit=", 6)) {
            if (!strcmp(a + 6, "on")) o.jit = RTVM_JIT_ON;
            else if (!strcmp(a + 6, "off")) o.jit = RTVM_JIT_OFF;
            else if (!strcmp(a + 6, "auto")) o.jit = RTVM_JIT_AUTO;
            else return usage();
        } else if (!strcmp(a, "--dump-jit")) {
            o.dump_jit = 1;
        } else if (!strncmp(a, "--gc-mode=", 10) || !strncmp(a, "--budget=", 9) || !strncmp(a, "--heap=", 7) ||
                   !strncmp(a, "--gc=", 5)) {
            const char *eq = strchr(a, '=');
            if (!strncmp(a, "--gc=", 5)) snprintf(opt, sizeof opt, "%s", eq + 1);
            else if (a[2] == 'g') snprintf(opt, sizeof opt, "mode=%s", eq + 1);
            else snprintf(opt, sizeof opt, "%.*s=%s", (int)(eq - a - 2), a + 2, eq + 1);
            if (rtgc_config_parse(&cfg, opt, &e) != RTGC_OK) {
                fprintf(stderr, "rtvm: %s: %s\n", a, e.message);
                return 2;
            }
        } else if (!strncmp(a, "--call=", 7)) {
            if (ncalls == 64) return usage();
            calls[ncalls++] = a + 7;
        } else if (a[0] == '-' && a[1]) {
            return usage();
        } else if (!file) {
            file = a;
        } else {
            return usage();
        }
    }
    if (!file) return usage();
    if (o.jit == RTVM_JIT_ON && !jit_available())
        fprintf(stderr, "rtvm: note: no JIT on this architecture; running the interpreter\n");
    rtgc_heap *heap;
    if (rtgc_heap_create(&cfg, &heap, &e) != RTGC_OK) {
        fprintf(stderr, "rtvm: %s\n", e.message);
        return 2;
    }
    rtgc_set_oom_handler(heap, oom_handler, NULL);
    char err[600];
    rtvm_program *p = rtvm_program_load(heap, file, &o, err, sizeof err);
    if (!p) {
        fprintf(stderr, "%s\n", err);
        rtgc_heap_destroy(heap);
        return 2;
    }
    rtgc_thread *t = rtgc_thread_attach(heap, &e);
    if (!t) {
        fprintf(stderr, "rtvm: %s\n", e.message);
        return 2;
    }
    int rc = 0;
    rtvm_ctx *c = rtvm_ctx_create(p, t, err, sizeof err);
    if (!c) {
        fflush(stdout);
        fprintf(stderr, "%s\n", err);
        rc = 1;
    }
    for (int i = 0; c && i < ncalls; i++) {
        /* NAME:1:2:3 */
        char name[128];
        int64_t args[16];
        int n = 0;
        const char *s = calls[i];
        const char *colon = strchr(s, ':');
        size_t nl = colon ? (size_t)(colon - s) : strlen(s);
        if (nl >= sizeof name) nl = sizeof name - 1;
        memcpy(name, s, nl);
        name[nl] = 0;
        while (colon && n < 16) {
            args[n++] = strtoll(colon + 1, NULL, 10);
            colon = strchr(colon + 1, ':');
        }
        int64_t r;
        if (rtvm_call(c, name, n, args, &r) != 0) {
            fflush(stdout);
            fprintf(stderr, "%s\n", rtvm_last_error(c));
            rc = 1;
            break;
        }
        printf("%s => %lld\n", name, (long long)r);
        /* step mode: the end of a call is this command's slack, like a game's frame end */
        if (cfg.mode == RTGC_MODE_STEP) rtgc_step(t, cfg.pause_budget_ns);
    }
    fflush(stdout);
    rtvm_ctx_destroy(c);
    rtgc_thread_detach(t);
    rtvm_program_free(p);
    rtgc_heap_destroy(heap);
    return rc;
}

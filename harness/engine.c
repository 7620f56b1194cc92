/* harness/engine.c - calling a workload entry in either engine. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "workloads/objects.h"
#include <rtvm.h>

int gclat_engine_load(gclat_run *run) {
    if (run->opts->engine != GCLAT_VM)
        return kit_register(run->heap, run->res->error, sizeof run->res->error);
    rtvm_options vo;
    rtvm_options_init(&vo);
    vo.jit = strcmp(run->opts->jit, "on") == 0 ? RTVM_JIT_ON : strcmp(run->opts->jit, "off") == 0 ? RTVM_JIT_OFF : RTVM_JIT_AUTO;
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/%s.rtvm", run->opts->programs_dir, run->w->name);
    run->program = rtvm_program_load(run->heap, path, &vo, err, sizeof err);
    if (!run->program) {
        snprintf(run->res->error, sizeof run->res->error, "%s", err);
        return -1;
    }
    return 0;
}

void gclat_engine_unload(gclat_run *run) {
    if (run->program)
        rtvm_program_free(run->program);
    run->program = NULL;
}

int gclat_engine_init(gclat_ctx *c) {
    gclat_run *run = c->run;
    if (run->opts->engine == GCLAT_NATIVE) {
        c->native = run->w->native_init ? run->w->native_init(c) : NULL;
        if (run->w->native_init && !c->native) {
            gclat_run_fail(c, "%s: native state: %s", run->w->name, c->error[0] ? c->error : "out of memory");
            return -1;
        }
        return 0;
    }
    char err[512];
    c->vm = rtvm_ctx_create(run->program, c->t, err, sizeof err);
    if (!c->vm) {
        gclat_run_fail(c, "%s", err);
        return -1;
    }
    return 0;
}

void gclat_engine_fini(gclat_ctx *c) {
    if (c->run->opts->engine == GCLAT_NATIVE) {
        if (c->run->w->native_fini && c->native)
            c->run->w->native_fini(c, c->native);
        c->native = NULL;
        return;
    }
    if (c->vm)
        rtvm_ctx_destroy(c->vm);
    c->vm = NULL;
}

int gclat_call(gclat_ctx *c, const char *entry, int argc, const int64_t *argv, int64_t *result) {
    if (c->run->opts->engine == GCLAT_NATIVE) {
        for (const gclat_entry *e = c->run->w->entries; e && e->name; e++)
            if (strcmp(e->name, entry) == 0) {
                int64_t r = e->fn(c, argc, argv);
                if (c->error[0]) {
                    gclat_run_fail(c, "%s: %s", entry, c->error);
                    return -1;
                }
                if (result)
                    *result = r;
                return 0;
            }
        gclat_run_fail(c, "%s: no native entry '%s'", c->run->w->name, entry);
        return -1;
    }
    int64_t r = 0;
    if (rtvm_call(c->vm, entry, argc, argv, &r) != 0) {
        gclat_run_fail(c, "%s.rtvm: %s", c->run->w->name, rtvm_last_error(c->vm));
        return -1;
    }
    if (result)
        *result = r;
    return 0;
}

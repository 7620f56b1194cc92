/* harness/engine.h - the two engines behind one call interface.
 *
 * native: the workload's C bodies (gclat_workload.entries), per-thread
 *         state from native_init.
 * vm:     the workload's rtvm program (<programs>/<workload>.rtvm), compiled
 *         once per run and shared; each worker thread has its own context.
 */
#ifndef GCLAT_ENGINE_H
#define GCLAT_ENGINE_H
#include "gclat.h"

int gclat_engine_load(gclat_run *run);   /* 0, or -1 with run->res->error set */
void gclat_engine_unload(gclat_run *run);
int gclat_engine_init(gclat_ctx *c);     /* on the worker thread, attached */
void gclat_engine_fini(gclat_ctx *c);
#endif

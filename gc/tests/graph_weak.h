/* gc/tests/graph_weak.h - the graph torture test's weak layer: weak
 * references, ephemerons and finalizers over the test's graph, checked
 * against its model (graph_weak.c's opening comment has the rules).
 */
#ifndef RTGC_TESTS_GRAPH_WEAK_H
#define RTGC_TESTS_GRAPH_WEAK_H

#include "graph.h"

typedef struct gweak gweak;

/* The weak layer of c (c->gw): nslots weak slots in a frame of c's thread,
 * pushed now (after c's own frames).  With c->sh (the threaded tests),
 * other threads may run this layer's finalizers: they leave the ids in its
 * mailbox.  The layer outlives gw_close until gw_free. */
gweak *gw_setup(gctx *c, size_t nslots);
/* One random operation: make, read (and sometimes resurrect through) or
 * drop a weak reference or ephemeron, register or run finalizers. */
bool gw_step(gctx *c);
/* An explicit collection, with what it must have cleared and queued. */
bool gw_collect_check(gctx *c);
/* Called by full_check after its walk of the strong graph. */
bool gw_walk(gctx *c);
/* Before the last walk of a single-threaded run: collect and run
 * finalizers until a collection queues none. */
bool gw_settle(gctx *c);
/* Drops the weak slots and pops their frame; from now on the layer's
 * finalizers are only counted and matched with their registrations. */
void gw_close(gctx *c);
/* After every root is gone: collect and run finalizers until none is
 * left, then every registration of every layer must have run exactly
 * once.  false (with a message in err) otherwise. */
bool gw_final_drain(rtgc_thread *t, gweak *const *ws, size_t n, char *err, size_t errlen);
/* A line of counts, for the test's stats. */
void gw_summary(gweak *const *ws, size_t n, char *buf, size_t len);
void gw_free(gweak *w);

#endif

/* rtgc.h - libgc, a real-time garbage collector for language VMs.
 *
 * The embedder's side in ten minutes:
 *   rtgc/config.h   configuration, options strings, status codes
 *   rtgc/heap.h     heap lifecycle, threads, blocking calls, rtgc_collect
 *   rtgc/layout.h   the header word, object layouts, visitors
 *   rtgc/alloc.h    inline allocation, out-of-memory handler
 *   rtgc/roots.h    global ranges, shadow-stack frames, handles, scanners
 *   rtgc/barrier.h  safepoint poll, load barrier, store
 *   rtgc/stats.h    counters, pause records, histograms, events
 *   rtgc/barrier-attrs.h  offsets and bits for JIT compilers
 */
#ifndef RTGC_H
#define RTGC_H

#define RTGC_VERSION "0.1.0"

#include "rtgc/config.h"
#include "rtgc/layout.h"
#include "rtgc/mutator.h"
#include "rtgc/heap.h"
#include "rtgc/alloc.h"
#include "rtgc/roots.h"
#include "rtgc/barrier.h"
#include "rtgc/stats.h"
#include "rtgc/weak.h"

#endif

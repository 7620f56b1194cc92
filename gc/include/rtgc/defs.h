/* rtgc/defs.h - declaration helpers shared by the public headers. */
#ifndef RTGC_DEFS_H
#define RTGC_DEFS_H

/* The library is built with hidden visibility; what the public headers
 * declare between these markers is its exported API. */
#ifdef __cplusplus
#define RTGC_BEGIN_DECLS extern "C" { _Pragma("GCC visibility push(default)")
#define RTGC_END_DECLS _Pragma("GCC visibility pop") }
#else
#define RTGC_BEGIN_DECLS _Pragma("GCC visibility push(default)")
#define RTGC_END_DECLS _Pragma("GCC visibility pop")
#endif

#endif

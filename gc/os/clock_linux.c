/* gc/os/clock_linux.c - clocks (see os.h). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

#include "os.h"

uint64_t os_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t os_thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void os_thread_switches(uint32_t *involuntary, uint32_t *voluntary) {
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0) {
        *involuntary = *voluntary = 0;
        return;
    }
    *involuntary = (uint32_t)ru.ru_nivcsw;
    *voluntary = (uint32_t)ru.ru_nvcsw;
}

int os_cond_init(pthread_cond_t *cv) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);   /* a wall-clock jump does not stretch a wait */
    int rc = pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
    return rc;
}

int os_cond_wait_ns(pthread_cond_t *cv, pthread_mutex_t *m, uint64_t ns) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);  /* cv made by os_cond_init */
    uint64_t nsec = (uint64_t)ts.tv_nsec + ns;
    ts.tv_sec += (time_t)(nsec / 1000000000u);
    ts.tv_nsec = (long)(nsec % 1000000000u);
    return pthread_cond_timedwait(cv, m, &ts);
}

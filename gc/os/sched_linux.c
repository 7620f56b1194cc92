/* gc/os/sched_linux.c - what the scheduler says about threads and CPUs
 * (os.h), for the collector's CPU policy (gc/share.c). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "os.h"

int os_thread_id(void) {
    return (int)gettid();
}

unsigned os_cpu_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return (unsigned)n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* /proc/self/task/TID/schedstat: "run_ns wait_ns timeslices".  Needs a
 * kernel with scheduler statistics (CONFIG_SCHED_INFO, the usual case). */
int os_thread_sched(int tid, uint64_t *run_ns, uint64_t *wait_ns) {
    char path[64], buf[96];
    snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    unsigned long long run, wait;
    if (sscanf(buf, "%llu %llu", &run, &wait) != 2)
        return -1;
    *run_ns = run;
    *wait_ns = wait;
    return 0;
}

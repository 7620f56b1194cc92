/* harness/workloads/table.c - the workloads gclat knows. */
#include <string.h>

#include "../gclat.h"

extern const gclat_workload gclat_web, gclat_gaming, gclat_embedded, gclat_msgbuf, gclat_gcbench, gclat_cache;

const gclat_workload *const gclat_workloads[] = {&gclat_web,    &gclat_gaming,  &gclat_embedded,
                                                 &gclat_msgbuf, &gclat_gcbench, &gclat_cache, NULL};

const char *const gclat_default_workloads[] = {"web", "gaming", "embedded", "msgbuf", "gcbench", "cache", NULL};

const gclat_workload *gclat_find_workload(const char *name) {
    for (int i = 0; gclat_workloads[i]; i++)
        if (strcmp(gclat_workloads[i]->name, name) == 0)
            return gclat_workloads[i];
    return NULL;
}

/* Allocation wrappers: one door for every allocation so tests can make the Nth one fail
 * (fault.c). */
#include <stdlib.h>

#include "util.h"

static bool should_fail(void) { return vdb_fault_hit(VDB_FAULT_ALLOC) != 0; }

void *vdb_malloc(size_t n) { return should_fail() ? NULL : malloc(n ? n : 1); }
void *vdb_calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}
void *vdb_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n ? n : 1); }
void vdb_free(void *p) { free(p); }

char *vdb_strndup(const char *s, size_t n)
{
    char *d = vdb_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

char *vdb_strdup(const char *s) { return s ? vdb_strndup(s, strlen(s)) : NULL; }

/* Allocation wrappers: one door for every allocation so tests can make the Nth one fail. */
#include <stdatomic.h>
#include <stdlib.h>

#include "util.h"

static _Atomic uint64_t fail_countdown; /* 0: off; else fail when it reaches 1 */
static _Atomic bool fail_sticky;

void vdb_fault_alloc_after(uint64_t nth, bool sticky)
{
    atomic_store(&fail_sticky, sticky);
    atomic_store(&fail_countdown, nth);
}

static bool should_fail(void)
{
    uint64_t c = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (c == 0)
        return false;
    if (c == 1) {
        if (!atomic_load(&fail_sticky))
            atomic_store(&fail_countdown, 0);
        return true;
    }
    atomic_fetch_sub(&fail_countdown, 1);
    return false;
}

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

/* Shared helpers of the conformance programs: command line, options, names, data. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"

static const char *g_uri;
static char g_run[48];
static unsigned g_counter;

const char *cf_init(int argc, char **argv, const char *prog)
{
    g_uri = argc > 1 ? argv[1] : getenv("VDB_CONFORMANCE_URI");
    if (!g_uri || !*g_uri || argc > 3 || (argc > 1 && !strcmp(argv[1], "--help"))) {
        fprintf(stderr,
                "usage: %s URI [FILTER]\n"
                "  URI     the backend to test (or set VDB_CONFORMANCE_URI)\n"
                "  FILTER  a cmocka glob: run only the matching tests\n"
                "  env VDB_CONFORMANCE_SYNC=full|batch|off, VDB_CONFORMANCE_TIMEOUT_MS=N\n",
                prog);
        exit(2);
    }
    if (argc > 2)
        cmocka_set_test_filter(argv[2]);
    snprintf(g_run, sizeof g_run, "cf%lx-%lx", (unsigned long)time(NULL),
             (unsigned long)getpid());
    fprintf(stderr, "%s: testing %s (names start with %s)\n", prog, g_uri, g_run);
    return g_uri;
}

const char *cf_uri(void)
{
    return g_uri;
}

vdb_backend_options cf_options(void)
{
    vdb_backend_options o = {.sync = VDB_SYNC_FULL, .sync_interval_ms = 50, .timeout_ms = 10000};
    const char *s = getenv("VDB_CONFORMANCE_SYNC");
    if (s && !strcmp(s, "batch"))
        o.sync = VDB_SYNC_BATCH;
    else if (s && !strcmp(s, "off"))
        o.sync = VDB_SYNC_OFF;
    const char *t = getenv("VDB_CONFORMANCE_TIMEOUT_MS");
    if (t && atoi(t) > 0)
        o.timeout_ms = (uint32_t)atoi(t);
    return o;
}

char *cf_name(const char *tag)
{
    char buf[160];
    snprintf(buf, sizeof buf, "%s-%u-%s", g_run, __atomic_add_fetch(&g_counter, 1,
                                                                     __ATOMIC_RELAXED), tag);
    char *s = strdup(buf);
    assert_non_null(s);
    return s;
}

uint8_t *cf_bytes(size_t n, uint64_t seed)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 56);
        if (i % 7 == 3)
            p[i] = 0; /* plenty of NULs */
    }
    return p;
}

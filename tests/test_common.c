/* Scratch folders and random data for the tests. */
#define _GNU_SOURCE
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *test_tmpdir(const char *name)
{
    const char *base = getenv("VDB_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", base);
    if (system(cmd) != 0)
        return NULL;
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/%s.%ld.XXXXXX", base, name, (long)getpid());
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

void test_rmdir(const char *path)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", path);
}

uint64_t test_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

float test_randf(uint64_t *s) { return (float)((test_rand(s) >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f; }

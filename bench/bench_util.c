/* The helpers every benchmark shares (bench_util.h). */
#define _GNU_SOURCE
#include "bench_util.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void bench_rm_rf(const char *path) { nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS); }

void bench_die(const char *what, vdb_status st)
{
    fprintf(stderr, "%s: %s failed: %s: %s\n", program_invocation_short_name, what,
            vdb_status_name(st), vdb_errmsg(NULL));
    exit(1);
}

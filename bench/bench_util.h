/* Small helpers every benchmark shares: a monotonic clock, removing a folder tree, and dying
 * with the library's message. */
#ifndef VDB_BENCH_UTIL_H
#define VDB_BENCH_UTIL_H

#include <vdb/vdb.h>

/* Seconds on the monotonic clock. */
double bench_now(void);
/* rm -rf path (errors ignored: it only cleans up benchmark folders). */
void bench_rm_rf(const char *path);
/* Prints "<program>: <what> failed: <status>: <message>" and exits 1. */
void bench_die(const char *what, vdb_status st) __attribute__((noreturn));

#endif

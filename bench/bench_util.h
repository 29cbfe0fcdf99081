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

/* Creates collection name: an INT64 primary key "id" and a FLOAT_VECTOR "emb" (dim, metric). */
void bench_create_collection(vdb_db *db, const char *name, uint32_t dim, vdb_metric metric);
/* Inserts rows vectors (row-major, ids 0..rows-1) into a bench_create_collection collection,
 * batch rows per vdb_insert. */
void bench_insert_vectors(vdb_db *db, const char *name, const float *vecs, size_t rows,
                          uint32_t dim, size_t batch);

#endif

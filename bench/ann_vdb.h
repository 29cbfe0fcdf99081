/* ann_vdb: the libvdb side of bench_ann, through the public API only: a database in a fresh
 * folder, one collection (INT64 primary key "id" = row position, FLOAT_VECTOR "emb" with the
 * data set's metric), the rows inserted in batches and flushed to one sealed segment, then
 * vdb_create_index + vdb_wait_for_index, and vdb_search with Milvus search params. Every
 * function exits the process with the library's message on an unexpected failure (each system
 * of the bench runs in its own child process). */
#ifndef VDB_BENCH_ANN_VDB_H
#define VDB_BENCH_ANN_VDB_H

#include <vdb/vdb.h>

#include "ann_data.h"

typedef struct ann_vdb {
    vdb_db *db;
    uint32_t dim;
    size_t rows;
    int exact; /* the index is FLAT: nothing is built, no row counts as indexed */
} ann_vdb;

/* Opens a new database in path (removed first; indexes built on build_threads threads, 0: one
 * per CPU), creates the collection and loads d's rows. */
void ann_vdb_load(ann_vdb *v, const char *path, const ann_dataset *d, uint32_t build_threads);
/* Creates the index on "emb" and waits until it is built. VDB_EUNSUPPORTED (or VDB_EINVAL for
 * a type this build does not know) is returned, not fatal: the bench skips that type. */
vdb_status ann_vdb_index(ann_vdb *v, const char *type, const char *params);
/* vdb_stats.index_bytes per row. */
double ann_vdb_bytes_per_vector(ann_vdb *v);
/* nq queries in one vdb_search with params ("ef=64", "nprobe=8", NULL); k ids per query. */
void ann_vdb_search(const ann_vdb *v, const float *queries, size_t nq, uint32_t k,
                    const char *params, int64_t *ids);
/* Closes the database and removes its folder. */
void ann_vdb_close(ann_vdb *v, const char *path);

#endif

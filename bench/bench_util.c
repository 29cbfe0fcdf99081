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

void bench_create_collection(vdb_db *db, const char *name, uint32_t dim, vdb_metric metric)
{
    vdb_schema *schema;
    vdb_status st;
    if ((st = vdb_schema_new(name, &schema)) != VDB_OK ||
        (st = vdb_schema_add_field(schema, VDB_FIELD(.name = "id",
                                                     .type = VDB_TYPE_INT64,
                                                     .is_primary = 1))) != VDB_OK ||
        (st = vdb_schema_add_field(schema, VDB_FIELD(.name = "emb",
                                                     .type = VDB_TYPE_FLOAT_VECTOR,
                                                     .dim = dim,
                                                     .metric = metric))) != VDB_OK ||
        (st = vdb_create_collection(db, schema)) != VDB_OK)
        bench_die("creating the collection", st);
    vdb_schema_free(schema);
}

void bench_insert_vectors(vdb_db *db, const char *name, const float *vecs, size_t rows,
                          uint32_t dim, size_t batch)
{
    int64_t *ids = malloc(batch * sizeof *ids);
    if (!ids)
        bench_die("allocating ids", VDB_ENOMEM);
    for (size_t first = 0; first < rows; first += batch) {
        size_t n = rows - first < batch ? rows - first : batch;
        for (size_t i = 0; i < n; i++)
            ids[i] = (int64_t)(first + i);
        vdb_batch *b;
        vdb_status st;
        if ((st = vdb_batch_new(&b)) != VDB_OK ||
            (st = vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0)) != VDB_OK ||
            (st = vdb_batch_add_column(b, "emb", VDB_TYPE_FLOAT_VECTOR, vecs + first * dim,
                                       NULL, n, dim)) != VDB_OK)
            bench_die("building a batch", st);
        if ((st = vdb_insert(db, name, NULL, b, NULL, NULL)) != VDB_OK)
            bench_die("vdb_insert", st);
        vdb_batch_free(b);
    }
    free(ids);
}

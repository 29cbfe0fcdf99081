/* ann_vdb: the libvdb side of bench_ann (ann_vdb.h). */
#include "ann_vdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "bench_util.h"

#define COLLECTION "ann"
#define INSERT_BATCH 1000

void ann_vdb_load(ann_vdb *v, const char *path, const ann_dataset *d, uint32_t build_threads)
{
    bench_rm_rf(path);
    vdb_options opts;
    vdb_options_init(&opts);
    opts.sync = VDB_SYNC_OFF; /* loading is not what is measured */
    opts.compaction_interval_ms = 0;
    opts.index_build_threads = build_threads;
    vdb_status st = vdb_open(path, &opts, &v->db);
    if (st != VDB_OK)
        bench_die("vdb_open", st);
    v->dim = (uint32_t)d->dim;
    v->rows = d->n;
    bench_create_collection(v->db, COLLECTION, v->dim, d->metric);
    bench_insert_vectors(v->db, COLLECTION, d->base, d->n, v->dim, INSERT_BATCH);
    if ((st = vdb_flush(v->db, COLLECTION)) != VDB_OK)
        bench_die("vdb_flush", st);
}

vdb_status ann_vdb_index(ann_vdb *v, const char *type, const char *params)
{
    vdb_status st = vdb_create_index(v->db, COLLECTION, "emb", type, params);
    if (st == VDB_EUNSUPPORTED)
        return st;
    if (st != VDB_OK) {
        fprintf(stderr, "bench_ann: vdb_create_index(%s, \"%s\"): %s: %s\n", type,
                params ? params : "", vdb_status_name(st), vdb_errmsg(v->db));
        return st;
    }
    if ((st = vdb_wait_for_index(v->db, COLLECTION, "emb", UINT64_MAX)) != VDB_OK)
        bench_die("vdb_wait_for_index", st);
    v->exact = !strcasecmp(type, "FLAT");
    return VDB_OK;
}

double ann_vdb_bytes_per_vector(ann_vdb *v)
{
    vdb_stats s = {.struct_size = sizeof s};
    vdb_status st = vdb_collection_stats(v->db, COLLECTION, &s);
    if (st != VDB_OK)
        bench_die("vdb_collection_stats", st);
    if (s.growing_segments != 0 || s.sealed_rows != v->rows ||
        (!v->exact && s.indexed_rows != s.sealed_rows))
        fprintf(stderr, "bench_ann: warning: %llu growing segment(s), %llu of %llu sealed rows "
                        "indexed\n",
                (unsigned long long)s.growing_segments, (unsigned long long)s.indexed_rows,
                (unsigned long long)s.sealed_rows);
    return s.sealed_rows ? (double)s.index_bytes / (double)s.sealed_rows : 0;
}

void ann_vdb_search(const ann_vdb *v, const float *queries, size_t nq, uint32_t k,
                    const char *params, int64_t *ids)
{
    vdb_search_req req = {.struct_size = sizeof req, .collection = COLLECTION, .dim = v->dim,
                          .k = k, .vectors = queries, .nq = nq, .params = params};
    vdb_result *res;
    vdb_status st = vdb_search(v->db, &req, &res);
    if (st != VDB_OK)
        bench_die("vdb_search", st);
    for (size_t q = 0; q < nq; q++) {
        size_t got = vdb_result_rows(res, q);
        for (size_t i = 0; i < k; i++)
            ids[q * k + i] = i < got ? vdb_result_pk_int(res, q, i) : -1;
    }
    vdb_result_free(res);
}

void ann_vdb_close(ann_vdb *v, const char *path)
{
    vdb_close(v->db);
    v->db = NULL;
    bench_rm_rf(path);
}

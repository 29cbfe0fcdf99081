/* bench_filter: filtered search and filter evaluation through the public API.
 *
 * Fashion-MNIST base vectors (60,000 x 784, L2) with a synthetic scalar column r, uniform in
 * [0, 100000): the filter "r < X" passes a chosen fraction of the rows. For selectivities
 * 100%, 50%, 10%, 1% and 0.1% it prints queries/s (nq=1, k=10) and recall@10 against an exact
 * reference computed here over the rows that pass, without and with an STL_SORT index on r.
 * Then the filter alone: vdb_count over 1,000,000 rows (dim-2 vectors) for the same
 * selectivities, in rows/s, without and with the index.
 *
 * Usage: bench_filter [--queries N] [--rows-1m N] [--data DIR] [--dir DIR] */
#define _GNU_SOURCE
#include <float.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <vdb/vdb.h>

#include "bench_util.h"
#include "fmnist.h"

#define K 10
#define RANGE 100000

static void check(vdb_status st, const char *what)
{
    if (st != VDB_OK)
        bench_die(what, st);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void create(vdb_db *db, const char *name, uint32_t dim)
{
    vdb_schema *s;
    check(vdb_schema_new(name, &s), "schema");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                            .is_primary = 1)), "id");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "r", .type = VDB_TYPE_INT32)), "r");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_FLOAT_VECTOR,
                                            .dim = dim)), "v");
    check(vdb_create_collection(db, s), "create_collection");
    vdb_schema_free(s);
}

static void insert(vdb_db *db, const char *name, const float *vecs, uint32_t dim,
                   const int32_t *r, size_t rows)
{
    const size_t batch = 10000;
    int64_t *ids = malloc(batch * sizeof *ids);
    for (size_t at = 0; at < rows; at += batch) {
        size_t n = rows - at < batch ? rows - at : batch;
        for (size_t i = 0; i < n; i++)
            ids[i] = (int64_t)(at + i);
        vdb_batch *b;
        check(vdb_batch_new(&b), "batch");
        check(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0), "id column");
        check(vdb_batch_add_column(b, "r", VDB_TYPE_INT32, r + at, NULL, n, 0), "r column");
        check(vdb_batch_add_column(b, "v", VDB_TYPE_FLOAT_VECTOR, vecs + at * dim, NULL, n, dim),
              "v column");
        check(vdb_insert(db, name, NULL, b, NULL, NULL), "insert");
        vdb_batch_free(b);
    }
    free(ids);
    check(vdb_flush(db, name), "flush");
}

/* The exact top-K ids among rows with r < x. */
static void reference(const float *base, const int32_t *r, size_t n, const float *q, int32_t x,
                      int64_t *out)
{
    float best[K];
    for (int i = 0; i < K; i++) {
        best[i] = FLT_MAX;
        out[i] = -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (r[i] >= x)
            continue;
        float d = 0;
        for (int j = 0; j < FMNIST_DIM; j++) {
            float t = base[i * FMNIST_DIM + j] - q[j];
            d += t * t;
        }
        if (d >= best[K - 1])
            continue;
        int p = K - 1;
        while (p > 0 && best[p - 1] > d) {
            best[p] = best[p - 1];
            out[p] = out[p - 1];
            p--;
        }
        best[p] = d;
        out[p] = (int64_t)i;
    }
}

int main(int argc, char **argv)
{
    size_t nq = 200, rows_1m = 1000000;
    const char *data = NULL;
    char dir[256] = "";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--queries"))
            nq = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--rows-1m"))
            rows_1m = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--data"))
            data = argv[i + 1];
        else if (!strcmp(argv[i], "--dir"))
            snprintf(dir, sizeof dir, "%s", argv[i + 1]);
    }
    if (!*dir) {
        snprintf(dir, sizeof dir, "/tmp/bench_filter.XXXXXX");
        if (!mkdtemp(dir))
            return 1;
    }
    float *base, *queries;
    size_t nbase, nquery;
    if (fmnist_load_base(data, 0, &base, &nbase) || fmnist_load_queries(data, nq, &queries,
        &nquery))
        return 1;
    int32_t *r = malloc((nbase > rows_1m ? nbase : rows_1m) * sizeof *r);
    for (size_t i = 0; i < nbase; i++)
        r[i] = (int32_t)(next_rand() % RANGE);

    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    vdb_db *db;
    check(vdb_open(dir, &o, &db), "open");
    create(db, "fm", FMNIST_DIM);
    insert(db, "fm", base, FMNIST_DIM, r, nbase);

    const double sel[] = {1.0, 0.5, 0.1, 0.01, 0.001};
    printf("filtered search, Fashion-MNIST 60000 x 784, k=%d, %zu queries one at a time\n", K,
           nquery);
    printf("%-8s %-10s %12s %10s %12s\n", "index", "selected", "rows_passing", "recall@10",
           "queries/s");
    for (int with_index = 0; with_index < 2; with_index++) {
        if (with_index)
            check(vdb_create_index(db, "fm", "r", "STL_SORT", NULL), "create_index");
        for (size_t s = 0; s < sizeof sel / sizeof *sel; s++) {
            int32_t x = (int32_t)(sel[s] * RANGE);
            char filter[64];
            snprintf(filter, sizeof filter, "r < %d", x);
            size_t passing = 0;
            for (size_t i = 0; i < nbase; i++)
                passing += r[i] < x;
            double hits = 0, total = 0, t = 0;
            for (size_t qi = 0; qi < nquery; qi++) {
                vdb_search_req req = {.struct_size = sizeof req, .collection = "fm",
                                      .vectors = queries + qi * FMNIST_DIM, .nq = 1,
                                      .dim = FMNIST_DIM, .k = K, .filter = filter};
                vdb_result *res;
                double t0 = bench_now();
                check(vdb_search(db, &req, &res), "search");
                t += bench_now() - t0;
                int64_t ref[K];
                reference(base, r, nbase, queries + qi * FMNIST_DIM, x, ref);
                for (int a = 0; a < K; a++) {
                    if (ref[a] < 0)
                        continue;
                    total++;
                    for (size_t b = 0; b < vdb_result_rows(res, 0); b++)
                        if (vdb_result_pk_int(res, 0, b) == ref[a]) {
                            hits++;
                            break;
                        }
                }
                vdb_result_free(res);
            }
            printf("%-8s %9.1f%% %12zu %10.4f %12.1f\n", with_index ? "STL_SORT" : "none",
                   sel[s] * 100, passing, total ? hits / total : 1.0, (double)nquery / t);
        }
    }

    /* the filter alone over 1M rows */
    float *small = calloc(rows_1m * 2, sizeof *small);
    for (size_t i = 0; i < rows_1m; i++) {
        r[i] = (int32_t)(next_rand() % RANGE);
        small[2 * i] = (float)i;
    }
    create(db, "big", 2);
    insert(db, "big", small, 2, r, rows_1m);
    printf("\nfilter evaluation alone (vdb_count, visibility + filter), %zu rows\n", rows_1m);
    printf("%-8s %-10s %12s %12s %14s\n", "index", "selected", "matches", "ms/call", "rows/s");
    for (int with_index = 0; with_index < 2; with_index++) {
        if (with_index)
            check(vdb_create_index(db, "big", "r", "STL_SORT", NULL), "create_index");
        for (size_t s = 0; s < sizeof sel / sizeof *sel; s++) {
            char filter[64];
            snprintf(filter, sizeof filter, "r < %d", (int32_t)(sel[s] * RANGE));
            uint64_t n = 0;
            const int reps = 10;
            double t0 = bench_now();
            for (int k = 0; k < reps; k++)
                check(vdb_count(db, "big", filter, NULL, &n), "count");
            double t = (bench_now() - t0) / reps;
            printf("%-8s %9.1f%% %12llu %12.2f %14.0f\n", with_index ? "STL_SORT" : "none",
                   sel[s] * 100, (unsigned long long)n, t * 1e3, (double)rows_1m / t);
        }
    }
    vdb_close(db);
    bench_rm_rf(dir);
    free(base);
    free(queries);
    free(r);
    free(small);
    return 0;
}

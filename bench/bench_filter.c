/* bench_filter: filtered search and filter evaluation through the public API.
 *
 * Fashion-MNIST base vectors (60,000 x 784, L2) with a synthetic scalar column r, uniform in
 * [0, 100000): the filter "r < X" passes a chosen fraction of the rows. For selectivities
 * 100%, 50%, 10%, 1% and 0.1% it prints queries/s (nq=1, k=10) and recall@10 against an exact
 * reference computed here over the rows that pass, without and with an STL_SORT index on r.
 * Then the filter alone: vdb_count over 1,000,000 rows (dim-2 vectors) for the same
 * selectivities, in rows/s, without and with the index.
 * Last, low-cardinality and ARRAY filters: vdb_count over --rows-lc rows (default 1,000,000)
 * with an INT32 c of 16 values (skewed) and an ARRAY of 0..4 INT64 tags out of 100, for
 * ==, in, != on c and array_contains / _any / _all on tags: no index, INVERTED, BITMAP, with
 * each index's build time and memory.
 *
 * Usage: bench_filter [--queries N] [--rows-1m N] [--rows-lc N] [--only-lc 1] [--data DIR]
 *                     [--dir DIR] */
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

/* ---- low-cardinality and ARRAY filters ---- */

static void insert_lc(vdb_db *db, size_t rows)
{
    const size_t batch = 10000;
    int64_t *ids = malloc(batch * sizeof *ids);
    int32_t *c = malloc(batch * sizeof *c);
    float *v = calloc(batch * 2, sizeof *v);
    char *text = malloc(batch * 64);
    const char **tags = malloc(batch * sizeof *tags);
    for (size_t at = 0; at < rows; at += batch) {
        size_t n = rows - at < batch ? rows - at : batch;
        for (size_t i = 0; i < n; i++) {
            ids[i] = (int64_t)(at + i);
            /* value k with probability about 2^-(k+1): a few big values, a tail of rare ones */
            uint64_t x = next_rand();
            int k = 0;
            while (k < 15 && (x >> k & 1))
                k++;
            c[i] = k;
            v[2 * i] = (float)(at + i);
            char *t = text + i * 64;
            int m = (int)(next_rand() % 5), o = 0;
            o += snprintf(t + o, 64 - (size_t)o, "[");
            for (int j = 0; j < m; j++)
                o += snprintf(t + o, 64 - (size_t)o, "%s%d", j ? "," : "",
                              (int)(next_rand() % 100));
            snprintf(t + o, 64 - (size_t)o, "]");
            tags[i] = t;
        }
        vdb_batch *b;
        check(vdb_batch_new(&b), "batch");
        check(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0), "id column");
        check(vdb_batch_add_column(b, "c", VDB_TYPE_INT32, c, NULL, n, 0), "c column");
        check(vdb_batch_add_column(b, "tags", VDB_TYPE_ARRAY, tags, NULL, n, 0), "tags column");
        check(vdb_batch_add_column(b, "v", VDB_TYPE_FLOAT_VECTOR, v, NULL, n, 2), "v column");
        check(vdb_insert(db, "lc", NULL, b, NULL, NULL), "insert");
        vdb_batch_free(b);
    }
    free(ids);
    free(c);
    free(v);
    free(text);
    free(tags);
    check(vdb_flush(db, "lc"), "flush");
}

static int low_cardinality(const char *dir, size_t rows)
{
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    char sub[300];
    snprintf(sub, sizeof sub, "%s/lc", dir);
    vdb_db *db;
    check(vdb_open(sub, &o, &db), "open");
    vdb_schema *s;
    check(vdb_schema_new("lc", &s), "schema");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                            .is_primary = 1)), "id");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "c", .type = VDB_TYPE_INT32)), "c");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "tags", .type = VDB_TYPE_ARRAY,
                                            .element_type = VDB_TYPE_INT64,
                                            .max_capacity = 8)), "tags");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_FLOAT_VECTOR,
                                            .dim = 2)), "v");
    check(vdb_create_collection(db, s), "create_collection");
    vdb_schema_free(s);
    insert_lc(db, rows);
    static const char *const filters[] = {
        "c == 3", "c == 12", "c in [1, 5, 9]", "c != 0", "c >= 4 and c < 8",
        "array_contains(tags, 7)", "array_contains_any(tags, [1, 2, 3])",
        "array_contains_all(tags, [1, 2])"};
    static const char *const kinds[] = {"none", "INVERTED", "BITMAP"};
    printf("\nlow-cardinality and ARRAY filters (vdb_count), %zu rows: c INT32 of 16 values "
           "(P(k) ~ 2^-(k+1)), tags ARRAY of 0..4 INT64 out of 100\n", rows);
    printf("%-9s %-38s %12s %10s %14s\n", "index", "filter", "matches", "ms/call", "rows/s");
    uint64_t base[sizeof filters / sizeof *filters];
    for (size_t k = 0; k < 3; k++) {
        if (k) {
            if (k == 2) {
                check(vdb_drop_index(db, "lc", "c"), "drop_index");
                check(vdb_drop_index(db, "lc", "tags"), "drop_index");
            }
            double t0 = bench_now();
            check(vdb_create_index(db, "lc", "c", kinds[k], NULL), "create_index c");
            double t1 = bench_now();
            check(vdb_create_index(db, "lc", "tags", kinds[k], NULL), "create_index tags");
            double t2 = bench_now();
            printf("%-9s build: c %.1f ms, tags %.1f ms\n", kinds[k], (t1 - t0) * 1e3,
                   (t2 - t1) * 1e3);
        }
        for (size_t f = 0; f < sizeof filters / sizeof *filters; f++) {
            uint64_t n = 0;
            const int reps = 10;
            double t0 = bench_now();
            for (int r = 0; r < reps; r++)
                check(vdb_count(db, "lc", filters[f], NULL, &n), "count");
            double t = (bench_now() - t0) / reps;
            if (!k)
                base[f] = n;
            else if (n != base[f]) {
                fprintf(stderr, "bench_filter: '%s' counts %llu with %s, %llu without\n",
                        filters[f], (unsigned long long)n, kinds[k], (unsigned long long)base[f]);
                return 1;
            }
            printf("%-9s %-38s %12llu %10.2f %14.0f\n", kinds[k], filters[f],
                   (unsigned long long)n, t * 1e3, (double)rows / t);
        }
    }
    vdb_close(db);
    bench_rm_rf(dir);
    return 0;
}

int main(int argc, char **argv)
{
    size_t nq = 200, rows_1m = 1000000, rows_lc = 1000000;
    int only_lc = 0;
    const char *data = NULL;
    char dir[256] = "";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--queries"))
            nq = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--rows-1m"))
            rows_1m = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--rows-lc"))
            rows_lc = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--only-lc"))
            only_lc = atoi(argv[i + 1]);
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
    if (only_lc)
        return low_cardinality(dir, rows_lc);
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
    free(base);
    free(queries);
    free(r);
    free(small);
    return low_cardinality(dir, rows_lc);
}

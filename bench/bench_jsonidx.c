/* bench_jsonidx: filtered search and vdb_count with a JSON path index against without.
 *
 * N rows (default 200,000) of random 32-d vectors with a JSON field meta
 * {"a":{"b":<int in [0, 100000)>},"cat":"c<0..99>","tags":[...]}, sealed in 4 segments.
 * For `meta["a"]["b"] < X` at 50%, 10%, 1% and 0.1% of the rows, and `meta["cat"] == "c7"`
 * (1%), it prints search queries/s (nq=1, k=10, exact search) and count rows/s, first
 * without indexes, then with JSON path indexes on meta["a"]["b"] (DOUBLE) and meta["cat"]
 * (VARCHAR); the counts with and without must agree (it stops if not).
 *
 * Usage: bench_jsonidx [--rows N] [--queries N] [--dir DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vdb/vdb.h>

#include "bench_util.h"

#define DIM 32
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

static void create(vdb_db *db)
{
    vdb_schema *s;
    check(vdb_schema_new("j", &s), "schema");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                            .is_primary = 1)), "id");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "meta", .type = VDB_TYPE_JSON)), "meta");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_FLOAT_VECTOR,
                                            .dim = DIM)), "v");
    check(vdb_create_collection(db, s), "create_collection");
    vdb_schema_free(s);
}

static void insert(vdb_db *db, size_t rows)
{
    const size_t batch = 10000;
    int64_t *ids = malloc(batch * sizeof *ids);
    float *vec = malloc(batch * DIM * sizeof *vec);
    char *text = malloc(batch * 96);
    const char **meta = malloc(batch * sizeof *meta);
    if (!ids || !vec || !text || !meta)
        bench_die("malloc", VDB_ENOMEM);
    for (size_t at = 0; at < rows; at += batch) {
        size_t n = rows - at < batch ? rows - at : batch;
        for (size_t i = 0; i < n; i++) {
            ids[i] = (int64_t)(at + i);
            for (int d = 0; d < DIM; d++)
                vec[i * DIM + d] = (float)(next_rand() % 1000) / 1000.0f;
            snprintf(text + i * 96, 96, "{\"a\":{\"b\":%d},\"cat\":\"c%d\",\"tags\":[%d,%d]}",
                     (int)(next_rand() % RANGE), (int)(next_rand() % 100),
                     (int)(next_rand() % 10), (int)(next_rand() % 10));
            meta[i] = text + i * 96;
        }
        vdb_batch *b;
        check(vdb_batch_new(&b), "batch");
        check(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0), "id");
        check(vdb_batch_add_column(b, "meta", VDB_TYPE_JSON, meta, NULL, n, 0), "meta");
        check(vdb_batch_add_column(b, "v", VDB_TYPE_FLOAT_VECTOR, vec, NULL, n, DIM), "v");
        check(vdb_insert(db, "j", NULL, b, NULL, NULL), "insert");
        vdb_batch_free(b);
        if ((at / batch + 1) % ((rows / batch + 3) / 4) == 0)
            check(vdb_flush(db, "j"), "flush");
    }
    check(vdb_flush(db, "j"), "flush");
    free(ids);
    free(vec);
    free(text);
    free(meta);
}

int main(int argc, char **argv)
{
    size_t rows = 200000, nq = 200;
    const char *dir = "/tmp/bench_jsonidx";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rows"))
            rows = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--queries"))
            nq = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
    }
    bench_rm_rf(dir);
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    vdb_db *db;
    check(vdb_open(dir, &o, &db), "open");
    create(db);
    double t0 = bench_now();
    insert(db, rows);
    printf("rows %zu, dim %d, 4 sealed segments, inserted in %.1f s\n", rows, DIM,
           bench_now() - t0);

    char filters[5][64];
    for (int s = 0; s < 4; s++)
        snprintf(filters[s], sizeof filters[s], "meta[\"a\"][\"b\"] < %d",
                 (int)(RANGE * (s == 0 ? 0.5 : s == 1 ? 0.1 : s == 2 ? 0.01 : 0.001)));
    snprintf(filters[4], sizeof filters[4], "meta[\"cat\"] == \"c7\"");
    uint64_t counts[5];
    float *q = malloc(nq * DIM * sizeof *q);
    for (size_t i = 0; i < nq * DIM; i++)
        q[i] = (float)(next_rand() % 1000) / 1000.0f;
    printf("%-6s %-28s %10s %12s %14s\n", "index", "filter", "matches", "search q/s",
           "count rows/s");
    for (int with = 0; with < 2; with++) {
        if (with) {
            t0 = bench_now();
            check(vdb_create_index_named(db, "j", "meta", "ab", "INVERTED",
                                         "json_path=meta[\"a\"][\"b\"],json_cast_type=DOUBLE"),
                  "create_index ab");
            check(vdb_create_index_named(db, "j", "meta", "cat", "INVERTED",
                                         "json_path=meta[\"cat\"],json_cast_type=VARCHAR"),
                  "create_index cat");
            printf("two JSON path indexes built in %.2f s\n", bench_now() - t0);
        }
        for (int f = 0; f < 5; f++) {
            uint64_t n = 0;
            int reps = 5;
            t0 = bench_now();
            for (int r = 0; r < reps; r++)
                check(vdb_count(db, "j", filters[f], NULL, &n), "count");
            double ct = bench_now() - t0;
            if (with && n != counts[f]) {
                fprintf(stderr, "'%s': %llu rows with the index, %llu without\n", filters[f],
                        (unsigned long long)n, (unsigned long long)counts[f]);
                return 1;
            }
            counts[f] = n;
            t0 = bench_now();
            for (size_t i = 0; i < nq; i++) {
                vdb_search_req req = {.struct_size = sizeof req, .collection = "j",
                                      .vectors = q + i * DIM, .nq = 1, .dim = DIM, .k = K,
                                      .filter = filters[f]};
                vdb_result *res;
                check(vdb_search(db, &req, &res), "search");
                vdb_result_free(res);
            }
            double st = bench_now() - t0;
            printf("%-6s %-28s %10llu %12.1f %14.3g\n", with ? "path" : "none", filters[f],
                   (unsigned long long)n, (double)nq / st, (double)rows * reps / ct);
        }
    }
    free(q);
    vdb_close(db);
    bench_rm_rf(dir);
    return 0;
}

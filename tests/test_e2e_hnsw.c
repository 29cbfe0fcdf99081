/* End-to-end: HNSW indexes on sealed segments through the public API — recall against an
 * exact reference, filters and deletes honoured, the index saved beside the segment and
 * loaded on reopen (same answers), and exact search again after drop_index. */
#define _GNU_SOURCE
#include <dirent.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vdb/vdb.h>

#include "test_common.h"

#define DIM 32
#define ROWS 6000
#define NQ 40
#define K 10

static float vecs[ROWS * DIM];
static int32_t groups[ROWS];
static char deleted[ROWS];
static int inserted; /* rows [0, inserted) are in the collection */

static void ok(vdb_status st, const char *what)
{
    if (st != VDB_OK)
        fail_msg("%s: %s: %s", what, vdb_status_name(st), vdb_errmsg(NULL));
}

/* Data with a low intrinsic dimension, as real embeddings have: 6-d latent points mapped
 * to DIM dimensions by a fixed random matrix, plus a little noise. */
static void make_data(void)
{
    uint64_t seed = 42;
    float proj[6][DIM];
    for (int l = 0; l < 6; l++)
        for (int d = 0; d < DIM; d++)
            proj[l][d] = test_randf(&seed);
    for (int i = 0; i < ROWS; i++) {
        float z[6];
        for (int l = 0; l < 6; l++)
            z[l] = test_randf(&seed) * 3;
        for (int d = 0; d < DIM; d++) {
            float v = 0.01f * test_randf(&seed);
            for (int l = 0; l < 6; l++)
                v += z[l] * proj[l][d];
            vecs[i * DIM + d] = v;
        }
        groups[i] = (int32_t)(test_rand(&seed) % 10);
    }
}

static vdb_db *open_db(const char *dir)
{
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    vdb_db *db;
    ok(vdb_open(dir, &o, &db), "open");
    return db;
}

static void insert_rows(vdb_db *db, int from, int to)
{
    int n = to - from;
    int64_t *ids = malloc(sizeof *ids * (size_t)n);
    for (int i = 0; i < n; i++)
        ids[i] = from + i;
    vdb_batch *b;
    ok(vdb_batch_new(&b), "batch");
    ok(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, (size_t)n, 0), "id");
    ok(vdb_batch_add_column(b, "g", VDB_TYPE_INT32, groups + from, NULL, (size_t)n, 0), "g");
    ok(vdb_batch_add_column(b, "v", VDB_TYPE_FLOAT_VECTOR, vecs + (size_t)from * DIM, NULL,
                            (size_t)n, DIM), "v");
    ok(vdb_insert(db, "c", NULL, b, NULL, NULL), "insert");
    inserted = to;
    vdb_batch_free(b);
    free(ids);
}

/* The exact top K over live rows with g < gmax (gmax 10: all). */
static void reference(const float *q, int gmax, int64_t *out)
{
    float best[K];
    for (int i = 0; i < K; i++) {
        best[i] = FLT_MAX;
        out[i] = -1;
    }
    for (int r = 0; r < inserted; r++) {
        if (deleted[r] || groups[r] >= gmax)
            continue;
        float d = 0;
        for (int j = 0; j < DIM; j++) {
            float t = vecs[r * DIM + j] - q[j];
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
        out[p] = r;
    }
}

/* Searches NQ row vectors; returns recall@K and checks every hit is live and passes gmax.
 * ids (NQ * K) gets the hits for comparing runs. */
static double search_recall(vdb_db *db, int gmax, const char *params, int64_t *ids)
{
    char filter[32];
    snprintf(filter, sizeof filter, "g < %d", gmax);
    double hits = 0, total = 0;
    for (int q = 0; q < NQ; q++) {
        const float *qv = vecs + (size_t)(q * 131 % ROWS) * DIM;
        vdb_search_req req = {.struct_size = sizeof req, .collection = "c", .vectors = qv,
                              .nq = 1, .dim = DIM, .k = K, .params = params,
                              .filter = gmax < 10 ? filter : NULL};
        vdb_result *res;
        ok(vdb_search(db, &req, &res), "search");
        int64_t ref[K];
        reference(qv, gmax, ref);
        size_t n = vdb_result_rows(res, 0);
        for (size_t i = 0; i < K; i++)
            ids[q * K + (int)i] = i < n ? vdb_result_pk_int(res, 0, i) : -1;
        for (size_t i = 0; i < n; i++) {
            int64_t id = vdb_result_pk_int(res, 0, i);
            assert_true(id >= 0 && id < inserted);
            assert_false(deleted[id]);
            assert_true(groups[id] < gmax);
        }
        for (int a = 0; a < K; a++) {
            if (ref[a] < 0)
                continue;
            total++;
            for (size_t b = 0; b < n; b++)
                if (vdb_result_pk_int(res, 0, b) == ref[a]) {
                    hits++;
                    break;
                }
        }
        vdb_result_free(res);
    }
    return total ? hits / total : 1.0;
}

static int count_hnsw_objects(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "find '%s/objects' -name 'hnsw_*' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = 0;
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = 0;
        pclose(p);
    }
    return n;
}

static void test_hnsw_recall_filters_deletes_reopen_and_drop(void **state)
{
    (void)state;
    make_data();
    char *dir = test_tmpdir("e2e_hnsw");
    vdb_db *db = open_db(dir);
    vdb_schema *s;
    ok(vdb_schema_new("c", &s), "schema");
    ok(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                         .is_primary = 1)), "id");
    ok(vdb_schema_add_field(s, VDB_FIELD(.name = "g", .type = VDB_TYPE_INT32)), "g");
    ok(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_FLOAT_VECTOR,
                                         .dim = DIM, .metric = VDB_METRIC_L2)), "v");
    ok(vdb_create_collection(db, s), "create");
    vdb_schema_free(s);
    insert_rows(db, 0, 4000);
    ok(vdb_flush(db, "c"), "flush");
    insert_rows(db, 4000, 5000); /* a growing segment too */

    ok(vdb_create_index(db, "c", "v", "HNSW", "M=16,efConstruction=100"), "create_index");
    ok(vdb_wait_for_index(db, "c", "v", 60000), "wait_for_index"); /* builds in the background */
    const char *type = NULL;
    ok(vdb_describe_index(db, "c", "v", &type), "describe_index");
    assert_string_equal(type, "HNSW");
    assert_int_equal(count_hnsw_objects(dir), 1); /* saved beside the sealed segment */

    static int64_t a[NQ * K], b[NQ * K];
    double r0 = search_recall(db, 10, "ef=64", a);
    print_message("recall with HNSW on the sealed segment: %.3f\n", r0);
    assert_true(r0 >= 0.95);
    assert_true(search_recall(db, 3, "ef=64", a) >= 0.95);  /* 30% pass the filter */
    assert_true(search_recall(db, 1, "ef=64", a) >= 0.95);  /* 10% */

    /* deletes in the indexed segment are never returned */
    int64_t gone[200];
    for (int i = 0; i < 200; i++) {
        gone[i] = (int64_t)i * 17 % 4000;
        deleted[gone[i]] = 1;
    }
    ok(vdb_delete(db, "c", NULL, &(vdb_pk_list){.ints = gone, .count = 200}, NULL), "delete");
    assert_true(search_recall(db, 10, "ef=64", a) >= 0.95);

    /* the new sealed segment gets its index too */
    insert_rows(db, 5000, ROWS);
    ok(vdb_flush(db, "c"), "flush 2");
    ok(vdb_wait_for_index(db, "c", "v", 60000), "wait after flush 2");
    assert_int_equal(count_hnsw_objects(dir), 2);
    double before = search_recall(db, 10, "ef=64", a);
    assert_true(before >= 0.95);

    /* reopen: the saved indexes load and give the same answers */
    vdb_close(db);
    db = open_db(dir);
    ok(vdb_describe_index(db, "c", "v", &type), "describe after reopen");
    assert_string_equal(type, "HNSW");
    double after = search_recall(db, 10, "ef=64", b);
    assert_true(after >= 0.95);
    assert_memory_equal(a, b, sizeof a);

    /* bad search parameters */
    vdb_search_req req = {.struct_size = sizeof req, .collection = "c", .vectors = vecs,
                          .nq = 1, .dim = DIM, .k = K, .params = "ef=0"};
    vdb_result *res = NULL;
    assert_int_equal(vdb_search(db, &req, &res), VDB_EINVAL);
    assert_non_null(strstr(vdb_errmsg(db), "ef"));

    /* drop: exact search again */
    ok(vdb_drop_index(db, "c", "v"), "drop_index");
    assert_true(search_recall(db, 10, NULL, a) == 1.0);
    assert_int_equal(vdb_describe_index(db, "c", "v", &type), VDB_ENOTFOUND);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hnsw_recall_filters_deletes_reopen_and_drop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* End-to-end: BINARY_VECTOR fields through the public API. Codes are the sign bits of a random
 * projection of Fashion-MNIST (256 bits): exact search of growing segments and BIN_FLAT give
 * exactly the Hamming distances computed here, BIN_IVF_FLAT recall@10 >= 0.95 (ties counted:
 * a hit is any row at most the tenth exact distance away), output fields as the stored
 * bytes, search by primary key, deletes, time travel, reopen (recovery from the log and the
 * saved index), compaction; JACCARD on random codes against a reference; bad input refused.
 * The Fashion-MNIST part is skipped when its files are absent. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vdb/vdb.h>

#include "../bench/fmnist.h"
#include "test_common.h"

#define N 10000
#define HALF (N / 2)
#define NQ 100
#define K 10
#define BITS 256
#define NB (BITS / 8)

static uint8_t *codes, *qcodes; /* N and NQ codes */
static bool have_data;

static void ok(vdb_status st, const char *what)
{
    if (st != VDB_OK)
        fail_msg("%s: %s: %s", what, vdb_status_name(st), vdb_errmsg(NULL));
}

static unsigned ham(const uint8_t *a, const uint8_t *b)
{
    unsigned c = 0;
    for (int i = 0; i < NB; i++)
        c += (unsigned)__builtin_popcount((unsigned)(a[i] ^ b[i]));
    return c;
}

/* The K smallest Hamming distances of q over rows [from, N), ascending. */
static void exact_dists(const uint8_t *q, int from, unsigned *out)
{
    for (int i = 0; i < K; i++)
        out[i] = ~0u;
    for (int r = from; r < N; r++) {
        unsigned d = ham(q, codes + (size_t)r * NB);
        if (d >= out[K - 1])
            continue;
        int p = K - 1;
        while (p > 0 && out[p - 1] > d) {
            out[p] = out[p - 1];
            p--;
        }
        out[p] = d;
    }
}

/* Sign bits of x (dim floats, centred by mean) against BITS random directions. */
static void project(const float *x, size_t n, const float *mean, const float *dirs,
                    uint8_t *out)
{
    memset(out, 0, n * NB);
    float *c = malloc(sizeof *c * FMNIST_DIM);
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < FMNIST_DIM; j++)
            c[j] = x[i * FMNIST_DIM + j] - mean[j];
        for (int b = 0; b < BITS; b++) {
            float s = 0;
            for (int j = 0; j < FMNIST_DIM; j++)
                s += c[j] * dirs[(size_t)b * FMNIST_DIM + j];
            if (s > 0)
                out[i * NB + b / 8] |= (uint8_t)(0x80u >> (b % 8));
        }
    }
    free(c);
}

static int setup(void **state)
{
    (void)state;
    const char *dir = getenv("VDB_DATA_DIR");
    size_t rows, nq;
    float *b = NULL, *q = NULL;
    if (fmnist_load_base(dir, N, &b, &rows) != 0 || fmnist_load_queries(dir, NQ, &q, &nq) != 0)
        return 0;
    have_data = rows == N && nq == NQ;
    if (!have_data)
        return 0;
    float *mean = calloc(FMNIST_DIM, sizeof *mean), *dirs = malloc(sizeof *dirs * BITS *
                                                                   FMNIST_DIM);
    for (size_t i = 0; i < (size_t)N * FMNIST_DIM; i++)
        mean[i % FMNIST_DIM] += b[i] / N;
    uint64_t seed = 5;
    for (size_t i = 0; i < (size_t)BITS * FMNIST_DIM; i++)
        dirs[i] = test_randf(&seed);
    codes = malloc((size_t)N * NB);
    qcodes = malloc((size_t)NQ * NB);
    project(b, N, mean, dirs, codes);
    project(q, NQ, mean, dirs, qcodes);
    free(mean);
    free(dirs);
    free(b);
    free(q);
    return 0;
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

static uint64_t insert_codes(vdb_db *db, const uint8_t *c, int from, int to)
{
    int n = to - from;
    int64_t *ids = malloc(sizeof *ids * (size_t)n);
    for (int i = 0; i < n; i++)
        ids[i] = from + i;
    vdb_batch *b;
    uint64_t ts;
    ok(vdb_batch_new(&b), "batch");
    ok(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, (size_t)n, 0), "id");
    ok(vdb_batch_add_column(b, "v", VDB_TYPE_BINARY_VECTOR, c + (size_t)from * NB, NULL,
                            (size_t)n, BITS), "v");
    ok(vdb_insert(db, "c", NULL, b, &ts, NULL), "insert");
    vdb_batch_free(b);
    free(ids);
    return ts;
}

static void create(vdb_db *db, vdb_metric m, uint32_t bits)
{
    vdb_schema *s;
    ok(vdb_schema_new("c", &s), "schema");
    ok(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1)),
       "id");
    ok(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_BINARY_VECTOR,
                                         .dim = bits, .metric = m)), "v");
    ok(vdb_create_collection(db, s), "create");
    vdb_schema_free(s);
}

/* exact: every query's distances equal the reference; else the tie-aware recall */
static double check_search(vdb_db *db, const char *params, int dead, bool exact)
{
    double hits = 0;
    for (int q = 0; q < NQ; q++) {
        unsigned ref[K];
        exact_dists(qcodes + (size_t)q * NB, dead, ref);
        vdb_search_req req = {.struct_size = sizeof req, .collection = "c",
                              .binary_vectors = qcodes + (size_t)q * NB, .nq = 1,
                              .dim = BITS, .k = K, .params = params};
        vdb_result *res;
        ok(vdb_search(db, &req, &res), "search");
        size_t n = vdb_result_rows(res, 0);
        assert_int_equal(n, K);
        for (size_t i = 0; i < n; i++) {
            int64_t id = vdb_result_pk_int(res, 0, i);
            assert_true(id >= dead && id < N);
            float d = vdb_result_distance(res, 0, i);
            /* the distance is the row's Hamming distance, exactly */
            assert_true(d == (float)ham(qcodes + (size_t)q * NB, codes + (size_t)id * NB));
            if (exact)
                assert_true(d == (float)ref[i]);
            hits += d <= (float)ref[K - 1];
        }
        vdb_result_free(res);
    }
    return hits / (NQ * K);
}

/* Row r's own code finds it at distance 0 with its bytes as output; or it is not there. */
static void check_self(vdb_db *db, int r, uint64_t travel, bool present)
{
    char filter[32];
    snprintf(filter, sizeof filter, "id == %d", r);
    vdb_search_req req = {.struct_size = sizeof req, .collection = "c",
                          .binary_vectors = codes + (size_t)r * NB, .nq = 1, .dim = BITS,
                          .k = K, .filter = filter};
    const char *outs[] = {"v"};
    req.read.output_fields = outs;
    req.read.n_output_fields = 1;
    req.read.travel_ts = travel;
    vdb_result *res;
    ok(vdb_search(db, &req, &res), "search self");
    if (!present) {
        assert_int_equal(vdb_result_rows(res, 0), 0);
        vdb_result_free(res);
        return;
    }
    assert_int_equal(vdb_result_rows(res, 0), 1);
    assert_int_equal(vdb_result_pk_int(res, 0, 0), r);
    assert_true(vdb_result_distance(res, 0, 0) == 0.0f);
    vdb_value v;
    ok(vdb_result_field(res, 0, 0, "v", &v), "field v");
    assert_int_equal(v.type, VDB_TYPE_BINARY_VECTOR);
    assert_int_equal(v.u.raw.dim, BITS);
    assert_int_equal(v.u.raw.bytes, NB);
    assert_memory_equal(v.u.raw.ptr, codes + (size_t)r * NB, NB);
    vdb_result_free(res);
}

/* Search by primary key: the stored code of the row is the query. */
static void check_by_pk(vdb_db *db, int r)
{
    int64_t key = r;
    vdb_pk_list pk = {.ints = &key, .count = 1};
    vdb_search_req req = {.struct_size = sizeof req, .collection = "c", .k = K,
                          .query_pks = &pk};
    vdb_result *res;
    ok(vdb_search(db, &req, &res), "search by pk");
    assert_true(vdb_result_rows(res, 0) >= 1);
    assert_true(vdb_result_distance(res, 0, 0) == 0.0f);
    vdb_result_free(res);
}

static void test_fmnist_codes(void **state)
{
    (void)state;
    if (!have_data)
        skip();
    char *dir = test_tmpdir("binary");
    vdb_db *db = open_db(dir);
    create(db, VDB_METRIC_HAMMING, BITS);
    insert_codes(db, codes, 0, HALF);
    check_self(db, 7, 0, true);
    ok(vdb_flush(db, "c"), "flush");
    uint64_t ts = insert_codes(db, codes, HALF, N);
    /* growing + sealed without an index: exact */
    check_search(db, NULL, 0, true);
    ok(vdb_create_index(db, "c", "v", "BIN_FLAT", NULL), "BIN_FLAT");
    check_search(db, NULL, 0, true);
    ok(vdb_drop_index(db, "c", "v"), "drop");
    ok(vdb_create_index(db, "c", "v", "BIN_IVF_FLAT", "nlist=64"), "BIN_IVF_FLAT");
    ok(vdb_wait_for_index(db, "c", "v", 600000), "wait");
    double r1 = check_search(db, "nprobe=16", 0, false);
    print_message("BIN_IVF_FLAT nlist=64 nprobe=16 recall@10 %.3f\n", r1);
    assert_true(r1 >= 0.95);
    check_self(db, 42, 0, true);
    check_by_pk(db, 42);
    check_by_pk(db, HALF + 1);
    /* a range search returns only rows inside the window */
    vdb_search_req rr = {.struct_size = sizeof rr, .collection = "c", .binary_vectors = qcodes,
                         .nq = 1, .dim = BITS, .k = 50,
                         .params = "nprobe=64,radius=60,range_filter=10"};
    vdb_result *res;
    ok(vdb_search(db, &rr, &res), "range");
    for (size_t i = 0; i < vdb_result_rows(res, 0); i++) {
        float d = vdb_result_distance(res, 0, i);
        assert_true(d >= 10 && d < 60);
    }
    vdb_result_free(res);

    int64_t dead[10];
    for (int i = 0; i < 10; i++)
        dead[i] = i;
    vdb_pk_list pk = {.ints = dead, .count = 10};
    ok(vdb_delete(db, "c", NULL, &pk, NULL), "delete");
    check_self(db, 3, 0, false);
    check_self(db, 3, ts, true);

    vdb_close(db);
    db = open_db(dir);
    ok(vdb_wait_for_index(db, "c", "v", 600000), "wait after reopen");
    check_self(db, 3, 0, false);
    check_self(db, HALF + 3, 0, true);
    assert_true(check_search(db, "nprobe=16", 10, false) >= 0.95);

    ok(vdb_flush(db, "c"), "flush 2");
    ok(vdb_compact(db, "c"), "compact");
    ok(vdb_wait_for_index(db, "c", "v", 600000), "wait after compact");
    check_self(db, 3, 0, false);
    check_self(db, N - 1, 0, true);
    assert_true(check_search(db, "nprobe=16", 10, false) >= 0.95);
    assert_true(check_search(db, "nprobe=64", 10, true) >= 0.999); /* every list: exact */
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* JACCARD over random codes of 64 bits, exact (growing) and BIN_IVF_FLAT (all lists), against
 * 1 - |a & b| / |a | b| computed here. */
static void test_jaccard(void **state)
{
    (void)state;
    enum { JN = 2000, JB = 8 };
    uint8_t *c = malloc(JN * JB);
    uint64_t seed = 9;
    for (int i = 0; i < JN * JB; i++)
        c[i] = (uint8_t)((test_randf(&seed) + 1) * 128);
    memset(c, 0, JB); /* row 0: all zeros */
    char *dir = test_tmpdir("jaccard");
    vdb_db *db = open_db(dir);
    create(db, VDB_METRIC_JACCARD, JB * 8);
    int64_t *ids = malloc(sizeof *ids * JN);
    for (int i = 0; i < JN; i++)
        ids[i] = i;
    vdb_batch *b;
    ok(vdb_batch_new(&b), "batch");
    ok(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, JN, 0), "id");
    ok(vdb_batch_add_column(b, "v", VDB_TYPE_BINARY_VECTOR, c, NULL, JN, JB * 8), "v");
    ok(vdb_insert(db, "c", NULL, b, NULL, NULL), "insert");
    vdb_batch_free(b);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            ok(vdb_flush(db, "c"), "flush");
            ok(vdb_create_index(db, "c", "v", "BIN_IVF_FLAT", "nlist=16,metric_type=JACCARD"),
               "index");
            ok(vdb_wait_for_index(db, "c", "v", 600000), "wait");
        }
        for (int q = 0; q < 20; q++) {
            const uint8_t *qv = c + (size_t)(q * 37 % JN) * JB;
            vdb_search_req req = {.struct_size = sizeof req, .collection = "c",
                                  .binary_vectors = qv, .nq = 1, .dim = JB * 8, .k = K,
                                  .params = "nprobe=16"};
            vdb_result *res;
            ok(vdb_search(db, &req, &res), "search");
            assert_int_equal(vdb_result_rows(res, 0), K);
            float prev = -1;
            for (size_t i = 0; i < K; i++) {
                const uint8_t *x = c + (size_t)vdb_result_pk_int(res, 0, i) * JB;
                unsigned a = 0, o = 0;
                for (int j = 0; j < JB; j++) {
                    a += (unsigned)__builtin_popcount((unsigned)(qv[j] & x[j]));
                    o += (unsigned)__builtin_popcount((unsigned)(qv[j] | x[j]));
                }
                float want = o ? 1.0f - (float)a / (float)o : 0.0f;
                float d = vdb_result_distance(res, 0, i);
                assert_true(fabsf(d - want) < 1e-6f);
                assert_true(d >= prev);
                prev = d;
            }
            /* the row itself is at distance 0 (the zero row too: two empty sets) */
            assert_true(vdb_result_distance(res, 0, 0) == 0.0f);
            vdb_result_free(res);
        }
    }
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
    free(ids);
    free(c);
}

static void test_bad_input(void **state)
{
    (void)state;
    char *dir = test_tmpdir("binbad");
    vdb_db *db = open_db(dir);
    vdb_schema *s;
    ok(vdb_schema_new("c", &s), "schema");
    assert_int_equal(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_BINARY_VECTOR,
                                                       .dim = 12)), VDB_EINVAL);
    assert_non_null(strstr(vdb_errmsg(NULL), "multiple of 8"));
    assert_int_equal(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_BINARY_VECTOR,
                                                       .dim = 16, .metric = VDB_METRIC_L2)),
                     VDB_EINVAL);
    assert_int_equal(vdb_schema_add_field(s, VDB_FIELD(.name = "f", .type = VDB_TYPE_FLOAT_VECTOR,
                                                       .dim = 16, .metric = VDB_METRIC_HAMMING)),
                     VDB_EINVAL);
    vdb_schema_free(s);
    create(db, VDB_METRIC_HAMMING, 64);
    /* index types of other vector types, and BIN_* on float fields, are refused */
    assert_int_equal(vdb_create_index(db, "c", "v", "HNSW", NULL), VDB_EINVAL);
    assert_int_equal(vdb_create_index(db, "c", "v", "FLAT", NULL), VDB_EINVAL);
    assert_int_equal(vdb_create_index(db, "c", "v", "BIN_IVF_FLAT", "metric_type=L2"), VDB_EINVAL);
    assert_int_equal(vdb_create_index(db, "c", "v", "BIN_IVF_FLAT", "nlist=0"), VDB_EINVAL);
    assert_int_equal(vdb_create_index(db, "c", "v", "MINHASH_LSH", NULL), VDB_EUNSUPPORTED);
    uint8_t v[16] = {1, 2, 3};
    int64_t id = 1;
    vdb_batch *b;
    ok(vdb_batch_new(&b), "batch");
    ok(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, &id, NULL, 1, 0), "id");
    assert_int_equal(vdb_batch_add_column(b, "v", VDB_TYPE_BINARY_VECTOR, v, NULL, 1, 60),
                     VDB_EINVAL);
    ok(vdb_batch_add_column(b, "v", VDB_TYPE_BINARY_VECTOR, v, NULL, 1, 128), "v 128");
    assert_int_equal(vdb_insert(db, "c", NULL, b, NULL, NULL), VDB_EINVAL); /* dim 64 */
    vdb_batch_free(b);
    ok(vdb_batch_new(&b), "batch");
    ok(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, &id, NULL, 1, 0), "id");
    ok(vdb_batch_add_column(b, "v", VDB_TYPE_BINARY_VECTOR, v, NULL, 1, 64), "v 64");
    ok(vdb_insert(db, "c", NULL, b, NULL, NULL), "insert");
    vdb_batch_free(b);
    /* float queries for a binary field, and the wrong dim, are refused */
    float fq[64] = {0};
    vdb_search_req req = {.struct_size = sizeof req, .collection = "c", .vectors = fq, .nq = 1,
                          .dim = 64, .k = 1};
    vdb_result *res;
    assert_int_equal(vdb_search(db, &req, &res), VDB_EINVAL);
    assert_non_null(strstr(vdb_errmsg(NULL), "binary_vectors"));
    req = (vdb_search_req){.struct_size = sizeof req, .collection = "c", .binary_vectors = v,
                           .nq = 1, .dim = 128, .k = 1};
    assert_int_equal(vdb_search(db, &req, &res), VDB_EINVAL);
    req.dim = 64;
    ok(vdb_search(db, &req, &res), "search");
    assert_int_equal(vdb_result_rows(res, 0), 1);
    assert_true(vdb_result_distance(res, 0, 0) == 0.0f);
    vdb_result_free(res);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_jaccard),
        cmocka_unit_test(test_fmnist_codes),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

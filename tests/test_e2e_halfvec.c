/* End-to-end: FLOAT16_VECTOR, BFLOAT16_VECTOR and INT8_VECTOR fields through the public API on
 * Fashion-MNIST (pixels 0..255 are exact in float16 and bfloat16; int8 takes them shifted to
 * -128..127): exact search of growing segments, HNSW on sealed ones (and IVF_FLAT, IVF_SQ8,
 * IVF_PQ for the half types, as Milvus 2.5 allows; int8 takes HNSW only, as Milvus 2.6) with
 * recall@10 >= 0.95 against exact float search computed here, output fields as the stored elements, deletes,
 * time travel, reopen (recovery from the log and the saved index), compaction, and bad input
 * refused. Skipped (77) when the Fashion-MNIST files are absent. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vdb/vdb.h>

#include "../bench/fmnist.h"
#include "test_common.h"
#include "util/vtype.h"

/* 3,000 rows: every path and bound of 10,000 at a third of the time (IVF_PQ's training
 * took 100 s per type at 10,000 on 2 loaded cores; bench_halfvec takes the whole set) */
#define N 3000
#define HALF (N / 2)
#define NQ 100
#define K 10
#define DIM FMNIST_DIM

static float *base, *queries; /* as floats: what the stored elements mean */
static int32_t *gt;           /* NQ * K exact ids */
static bool have_data;
static const char *sparams = "ef=64"; /* recall()'s search parameters: the index's own */

static void ok(vdb_status st, const char *what)
{
    if (st != VDB_OK)
        fail_msg("%s: %s: %s", what, vdb_status_name(st), vdb_errmsg(NULL));
}

static void exact_topk(const float *q, int32_t *out)
{
    float best[K];
    for (int i = 0; i < K; i++) {
        best[i] = FLT_MAX;
        out[i] = -1;
    }
    for (int r = 0; r < N; r++) {
        float d = 0;
        for (int j = 0; j < DIM; j++) {
            float t = base[(size_t)r * DIM + j] - q[j];
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

/* The stored form of the float rows (all exact: small integers). */
static void *encode(vdb_type t, const float *x, size_t n)
{
    size_t w = t == VDB_TYPE_INT8_VECTOR ? 1 : 2;
    uint8_t *out = malloc(n * w);
    for (size_t i = 0; i < n; i++) {
        if (t == VDB_TYPE_INT8_VECTOR) {
            out[i] = (uint8_t)(int8_t)x[i];
        } else {
            uint16_t h = t == VDB_TYPE_FLOAT16_VECTOR ? vdb_f32_to_f16(x[i])
                                                    : vdb_f32_to_bf16(x[i]);
            memcpy(out + 2 * i, &h, 2);
        }
    }
    return out;
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
    base = b;
    queries = q;
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

static uint64_t insert_range(vdb_db *db, vdb_type t, const float *rows, int from, int to)
{
    int n = to - from;
    int64_t *ids = malloc(sizeof *ids * (size_t)n);
    for (int i = 0; i < n; i++)
        ids[i] = from + i;
    void *enc = encode(t, rows + (size_t)from * DIM, (size_t)n * DIM);
    vdb_batch *b;
    uint64_t ts;
    ok(vdb_batch_new(&b), "batch");
    ok(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, (size_t)n, 0), "id");
    ok(vdb_batch_add_column(b, "v", t, enc, NULL, (size_t)n, DIM), "v");
    ok(vdb_insert(db, "c", NULL, b, &ts, NULL), "insert");
    vdb_batch_free(b);
    free(enc);
    free(ids);
    return ts;
}

/* recall@K of NQ queries; checks every id is < N and none is in [0, dead) */
static double recall(vdb_db *db, const float *qs, const int32_t *ref, int dead, uint64_t travel)
{
    double hits = 0;
    for (int q = 0; q < NQ; q++) {
        vdb_search_req req = {.struct_size = sizeof req, .collection = "c",
                              .vectors = qs + (size_t)q * DIM, .nq = 1, .dim = DIM, .k = K,
                              .params = sparams};
        req.read.travel_ts = travel;
        vdb_result *res;
        ok(vdb_search(db, &req, &res), "search");
        size_t n = vdb_result_rows(res, 0);
        assert_true(n <= K);
        for (size_t i = 0; i < n; i++) {
            int64_t id = vdb_result_pk_int(res, 0, i);
            assert_true(id >= dead && id < N);
            for (int j = 0; j < K; j++)
                hits += ref[q * K + j] == id;
        }
        vdb_result_free(res);
    }
    return hits / (NQ * K);
}

/* Row r is found by its own vector at distance 0 and its stored value comes back; or,
 * deleted, it is not found. The search is filtered to the row's key, which the index answers
 * exactly (a walk under a bitset of one row scans it), so Fashion-MNIST's duplicate images
 * and the approximate walk do not matter here; recall() measures the walk. */
static void check_self(vdb_db *db, vdb_type t, const float *rows, int r, uint64_t travel,
                       bool present)
{
    char filter[32];
    snprintf(filter, sizeof filter, "id == %d", r);
    vdb_search_req req = {.struct_size = sizeof req, .collection = "c",
                          .vectors = rows + (size_t)r * DIM, .nq = 1, .dim = DIM, .k = K,
                          .params = "ef=128", .filter = filter};
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
    size_t at = 0;
    assert_int_equal(vdb_result_pk_int(res, 0, at), r);
    assert_true(vdb_result_distance(res, 0, at) == 0.0f);
    vdb_value v;
    ok(vdb_result_field(res, 0, at, "v", &v), "field v");
    assert_int_equal(v.type, t);
    assert_int_equal(v.u.raw.dim, DIM);
    size_t w = t == VDB_TYPE_INT8_VECTOR ? 1 : 2;
    assert_int_equal(v.u.raw.bytes, DIM * w);
    void *enc = encode(t, rows + (size_t)r * DIM, DIM);
    assert_memory_equal(v.u.raw.ptr, enc, DIM * w);
    free(enc);
    vdb_result_free(res);
}

static void bad_input(vdb_db *db, vdb_type t)
{
    int64_t id = N + 1;
    uint8_t *v = calloc(DIM, 2);
    vdb_batch *b;
    if (t != VDB_TYPE_INT8_VECTOR) {
        uint16_t bad[2] = {t == VDB_TYPE_FLOAT16_VECTOR ? 0x7e00 : 0x7fc0,  /* NaN */
                           t == VDB_TYPE_FLOAT16_VECTOR ? 0xfc00 : 0xff80}; /* -Inf */
        for (int k = 0; k < 2; k++) {
            memset(v, 0, DIM * 2);
            memcpy(v + 2 * 100, &bad[k], 2);
            ok(vdb_batch_new(&b), "batch");
            ok(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, &id, NULL, 1, 0), "id");
            ok(vdb_batch_add_column(b, "v", t, v, NULL, 1, DIM), "v");
            assert_int_equal(vdb_insert(db, "c", NULL, b, NULL, NULL), VDB_EINVAL);
            assert_non_null(strstr(vdb_errmsg(NULL), "element 100"));
            vdb_batch_free(b);
        }
    }
    /* another vector type, or another dim, for the field */
    float f[DIM] = {0};
    ok(vdb_batch_new(&b), "batch");
    ok(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, &id, NULL, 1, 0), "id");
    ok(vdb_batch_add_column(b, "v", VDB_TYPE_FLOAT_VECTOR, f, NULL, 1, DIM), "v");
    assert_int_equal(vdb_insert(db, "c", NULL, b, NULL, NULL), VDB_EINVAL);
    vdb_batch_free(b);
    ok(vdb_batch_new(&b), "batch");
    ok(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, &id, NULL, 1, 0), "id");
    ok(vdb_batch_add_column(b, "v", t, v, NULL, 1, DIM - 1), "v");
    assert_int_equal(vdb_insert(db, "c", NULL, b, NULL, NULL), VDB_EINVAL);
    vdb_batch_free(b);
    free(v);
}

/* The index run_type builds, with its build and search parameters (documented in the README:
 * these are the parameters its recall is checked at). */
typedef struct index_case {
    const char *type, *build, *search;
} index_case;
static const index_case hnsw_case = {"HNSW", "M=16,efConstruction=100", "ef=64"};
static const index_case ivf_flat_case = {"IVF_FLAT", "nlist=64", "nprobe=16"};
static const index_case ivf_sq8_case = {"IVF_SQ8", "nlist=64", "nprobe=16"};
/* m=196: four pixels per sub-quantizer (m=392 trained 3x longer for 0.01 more recall) */
static const index_case ivf_pq_case = {"IVF_PQ", "nlist=64,m=196,nbits=8", "nprobe=16"};

#if defined(__SANITIZE_THREAD__)
static const bool under_tsan = true;
#else
static const bool under_tsan = false;
#endif

static void run_type(vdb_type t, const index_case *ic)
{
    if (!have_data)
        skip();
    /* IVF_SQ8 / IVF_PQ train and search in Faiss, which TSan does not instrument; the
     * slow PQ training would only spend the TSan stage's time (plain and ASan run them) */
    if (under_tsan && (ic == &ivf_sq8_case || ic == &ivf_pq_case)) {
        print_message("skipped under TSan: %s is Faiss's code\n", ic->type);
        skip();
    }
    sparams = ic->search;
    /* int8: the pixels shifted to -128..127 */
    float *rows = base, *qs = queries;
    if (t == VDB_TYPE_INT8_VECTOR) {
        rows = malloc(sizeof *rows * N * DIM);
        qs = malloc(sizeof *qs * NQ * DIM);
        for (size_t i = 0; i < (size_t)N * DIM; i++)
            rows[i] = base[i] - 128;
        for (size_t i = 0; i < (size_t)NQ * DIM; i++)
            qs[i] = queries[i] - 128;
    }
    /* exact float L2 over the same values (the shift leaves L2 unchanged) */
    if (!gt) {
        gt = malloc(sizeof *gt * NQ * K);
        for (int q = 0; q < NQ; q++)
            exact_topk(queries + (size_t)q * DIM, gt + q * K);
    }
    char *dir = test_tmpdir(vdb_type_name(t));
    vdb_db *db = open_db(dir);
    vdb_schema *s;
    ok(vdb_schema_new("c", &s), "schema");
    ok(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1)),
       "id");
    ok(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = t, .dim = DIM,
                                         .metric = VDB_METRIC_L2)), "v");
    ok(vdb_create_collection(db, s), "create");
    vdb_schema_free(s);
    bad_input(db, t);

    /* growing: exact search over the stored elements */
    insert_range(db, t, rows, 0, HALF);
    check_self(db, t, rows, 7, 0, true);
    ok(vdb_flush(db, "c"), "flush");
    uint64_t ts = insert_range(db, t, rows, HALF, N);
    check_self(db, t, rows, HALF + 3, 0, true);
    /* the second half stays growing (searched exactly) until after the reopen, so the reopen
     * rebuilds it from the log */
    ok(vdb_create_index(db, "c", "v", ic->type, ic->build), "create_index");
    ok(vdb_wait_for_index(db, "c", "v", 600000), "wait_for_index");
    double r1 = recall(db, qs, gt, 0, 0);
    print_message("%s %s recall@10 %.3f\n", vdb_type_name(t), ic->type, r1);
    assert_true(r1 >= 0.95);
    check_self(db, t, rows, 42, 0, true);

    /* deletes, and time travel to before them */
    int64_t dead[10];
    for (int i = 0; i < 10; i++)
        dead[i] = i;
    vdb_pk_list pk = {.ints = dead, .count = 10};
    ok(vdb_delete(db, "c", NULL, &pk, NULL), "delete");
    check_self(db, t, rows, 3, 0, false);
    check_self(db, t, rows, 3, ts, true);

    /* reopen: the log and the saved segments and index give the same state */
    vdb_close(db);
    db = open_db(dir);
    ok(vdb_wait_for_index(db, "c", "v", 600000), "wait after reopen");
    check_self(db, t, rows, 3, 0, false);
    check_self(db, t, rows, HALF + 3, 0, true);
    double r2 = recall(db, qs, gt, 10, 0);
    assert_true(r2 >= 0.94); /* ten rows fewer than the reference knows */

    /* compaction merges the two segments and drops nothing visible */
    ok(vdb_flush(db, "c"), "flush 2");
    ok(vdb_wait_for_index(db, "c", "v", 600000), "wait after flush 2");
    assert_true(recall(db, qs, gt, 10, 0) >= 0.94);
    ok(vdb_compact(db, "c"), "compact");
    ok(vdb_wait_for_index(db, "c", "v", 600000), "wait after compact");
    check_self(db, t, rows, 3, 0, false);
    check_self(db, t, rows, 42, 0, true);
    check_self(db, t, rows, N - 1, 0, true);
    assert_true(recall(db, qs, gt, 10, 0) >= 0.94);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
    if (rows != base) {
        free(rows);
        free(qs);
    }
}

static void test_float16(void **state) { (void)state; run_type(VDB_TYPE_FLOAT16_VECTOR, &hnsw_case); }
static void test_bfloat16(void **state) { (void)state; run_type(VDB_TYPE_BFLOAT16_VECTOR, &hnsw_case); }
static void test_int8(void **state) { (void)state; run_type(VDB_TYPE_INT8_VECTOR, &hnsw_case); }
static void test_float16_ivf_flat(void **state)
{
    (void)state;
    run_type(VDB_TYPE_FLOAT16_VECTOR, &ivf_flat_case);
}
static void test_bfloat16_ivf_flat(void **state)
{
    (void)state;
    run_type(VDB_TYPE_BFLOAT16_VECTOR, &ivf_flat_case);
}
static void test_float16_ivf_sq8(void **state)
{
    (void)state;
    run_type(VDB_TYPE_FLOAT16_VECTOR, &ivf_sq8_case);
}
static void test_bfloat16_ivf_sq8(void **state)
{
    (void)state;
    run_type(VDB_TYPE_BFLOAT16_VECTOR, &ivf_sq8_case);
}
static void test_float16_ivf_pq(void **state)
{
    (void)state;
    run_type(VDB_TYPE_FLOAT16_VECTOR, &ivf_pq_case);
}
static void test_bfloat16_ivf_pq(void **state)
{
    (void)state;
    run_type(VDB_TYPE_BFLOAT16_VECTOR, &ivf_pq_case);
}

/* IP and COSINE on HNSW (and IVF_FLAT for the half types) over random float16 / bfloat16 / int8
 * rows (no data set needed), against exact search over the rows' float values computed here;
 * int8 fields refuse the IVF kinds by name, as Milvus 2.6 does. */
#define SN 3000
#define SD 32
#define SQ 30
static void run_metrics(vdb_type t)
{
    static const vdb_metric ms[] = {VDB_METRIC_IP, VDB_METRIC_COSINE, VDB_METRIC_L2};
    uint64_t seed = 11;
    float *vals = malloc(sizeof *vals * SN * SD);
    for (size_t i = 0; i < (size_t)SN * SD; i++)
        vals[i] = t == VDB_TYPE_INT8_VECTOR ? (float)(int)(test_randf(&seed) * 127)
                                            : test_randf(&seed) * 2;
    void *enc = encode(t, vals, (size_t)SN * SD); /* halves round: use the stored values */
    vdb_vector_to_f32(t, enc, (size_t)SN * SD, vals);
    int64_t *ids = malloc(sizeof *ids * SN);
    for (int i = 0; i < SN; i++)
        ids[i] = i;
    for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++) {
        char *dir = test_tmpdir("metrics");
        vdb_db *db = open_db(dir);
        vdb_schema *s;
        ok(vdb_schema_new("c", &s), "schema");
        ok(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                             .is_primary = 1)), "id");
        ok(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = t, .dim = SD,
                                             .metric = ms[mi])), "v");
        ok(vdb_create_collection(db, s), "create");
        vdb_schema_free(s);
        bool half = t != VDB_TYPE_INT8_VECTOR;
        static const char *const ivfs[] = {"IVF_FLAT", "IVF_SQ8", "IVF_PQ"};
        for (size_t i = 0; !half && i < 3; i++) {
            assert_int_equal(vdb_create_index(db, "c", "v", ivfs[i], "nlist=16,m=8"),
                             VDB_EINVAL);
            assert_non_null(strstr(vdb_errmsg(NULL), "data type Int8Vector can't build with "
                                                     "this index"));
            assert_non_null(strstr(vdb_errmsg(NULL), "FLAT, HNSW"));
        }
        vdb_batch *b;
        ok(vdb_batch_new(&b), "batch");
        ok(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, SN, 0), "id");
        ok(vdb_batch_add_column(b, "v", t, enc, NULL, SN, SD), "v");
        ok(vdb_insert(db, "c", NULL, b, NULL, NULL), "insert");
        vdb_batch_free(b);
        /* growing (exact), then HNSW, then (half types) IVF_FLAT probing every list: exact
         * over the stored elements, cosine by the rows' norms */
        for (int pass = 0; pass < (half ? 3 : 2); pass++) {
            if (pass == 1) {
                ok(vdb_flush(db, "c"), "flush");
                ok(vdb_create_index(db, "c", "v", "HNSW", "M=16,efConstruction=100"), "index");
                ok(vdb_wait_for_index(db, "c", "v", 600000), "wait");
            } else if (pass == 2) {
                ok(vdb_drop_index(db, "c", "v"), "drop HNSW");
                ok(vdb_create_index(db, "c", "v", "IVF_FLAT", "nlist=16"), "IVF_FLAT");
                ok(vdb_wait_for_index(db, "c", "v", 600000), "wait IVF_FLAT");
            }
            double hits = 0;
            for (int q = 0; q < SQ; q++) {
                float qv[SD];
                for (int j = 0; j < SD; j++)
                    qv[j] = vals[(size_t)(q * 97 % SN) * SD + j] + 0.1f * test_randf(&seed);
                /* the exact top K by the metric over the stored values */
                float best[K];
                int64_t ref[K];
                for (int i = 0; i < K; i++) {
                    best[i] = -FLT_MAX;
                    ref[i] = -1;
                }
                for (int r = 0; r < SN; r++) {
                    double ip = 0, xx = 0, qq = 0, l2 = 0;
                    for (int j = 0; j < SD; j++) {
                        double x = vals[(size_t)r * SD + j];
                        ip += x * qv[j];
                        xx += x * x;
                        qq += (double)qv[j] * qv[j];
                        l2 += (x - qv[j]) * (x - qv[j]);
                    }
                    float sc = ms[mi] == VDB_METRIC_IP ? (float)ip
                               : ms[mi] == VDB_METRIC_L2 ? (float)-l2
                               : (xx > 0 ? (float)(ip / sqrt(xx * qq)) : 0);
                    if (sc <= best[K - 1])
                        continue;
                    int p = K - 1;
                    while (p > 0 && best[p - 1] < sc) {
                        best[p] = best[p - 1];
                        ref[p] = ref[p - 1];
                        p--;
                    }
                    best[p] = sc;
                    ref[p] = r;
                }
                vdb_search_req req = {.struct_size = sizeof req, .collection = "c",
                                      .vectors = qv, .nq = 1, .dim = SD, .k = K,
                                      .params = pass == 2 ? "nprobe=16" : "ef=128"};
                vdb_result *res;
                ok(vdb_search(db, &req, &res), "search");
                for (size_t i = 0; i < vdb_result_rows(res, 0); i++)
                    for (int j = 0; j < K; j++)
                        hits += ref[j] == vdb_result_pk_int(res, 0, i);
                /* the best score agrees with the reference within float rounding */
                float d0 = vdb_result_distance(res, 0, 0);
                float want = ms[mi] == VDB_METRIC_L2 ? -best[0] : best[0];
                if (pass != 1) /* exact; an approximate index may miss the best */
                    assert_true(fabsf(d0 - want) <= 1e-3f * (1 + fabsf(want)));
                vdb_result_free(res);
            }
            double rec = hits / (SQ * K);
            static const char *const what[] = {"exact", "HNSW", "IVF_FLAT nprobe=nlist"};
            print_message("%s %s %s recall@10 %.3f\n", vdb_type_name(t),
                          vdb_metric_name(ms[mi]), what[pass], rec);
            assert_true(pass == 1 ? rec >= 0.95 : rec >= 0.999);
        }
        vdb_close(db);
        test_rmdir(dir);
        free(dir);
    }
    free(ids);
    free(enc);
    free(vals);
}

static void test_metrics_float16(void **state) { (void)state; run_metrics(VDB_TYPE_FLOAT16_VECTOR); }
static void test_metrics_bfloat16(void **state) { (void)state; run_metrics(VDB_TYPE_BFLOAT16_VECTOR); }
static void test_metrics_int8(void **state) { (void)state; run_metrics(VDB_TYPE_INT8_VECTOR); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float16),
        cmocka_unit_test(test_bfloat16),
        cmocka_unit_test(test_int8),
        cmocka_unit_test(test_float16_ivf_flat),
        cmocka_unit_test(test_bfloat16_ivf_flat),
        cmocka_unit_test(test_float16_ivf_sq8),
        cmocka_unit_test(test_bfloat16_ivf_sq8),
        cmocka_unit_test(test_float16_ivf_pq),
        cmocka_unit_test(test_bfloat16_ivf_pq),
        cmocka_unit_test(test_metrics_float16),
        cmocka_unit_test(test_metrics_bfloat16),
        cmocka_unit_test(test_metrics_int8),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

/* End-to-end tests of SPARSE_FLOAT_VECTOR fields through the public API: the input checks,
 * exact search over growing and sealed segments against a brute-force model kept in the
 * test, SPARSE_INVERTED_INDEX and SPARSE_WAND (exact at drop ratios 0), filters, deletes,
 * time travel, reopen (recovery from the log and loading saved indexes), compaction, output
 * fields; and recall@10 on a bag-of-words of real text from files Debian ships. */
#define _GNU_SOURCE
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vdb/vdb.h>

#include "sparse_corpus.h"
#include "test_api.h"

/* ---- data and the model ---- */

static vdb_sparse_row as_row(const srow *r) { return (vdb_sparse_row){r->n, r->idx, r->val}; }

static float dot(const srow *a, const srow *b)
{
    float s = 0.0f;
    uint32_t i = 0, j = 0;
    while (i < a->n && j < b->n) {
        if (a->idx[i] == b->idx[j])
            s += a->val[i++] * b->val[j++];
        else if (a->idx[i] < b->idx[j])
            i++;
        else
            j++;
    }
    return s;
}

/* a random row: up to maxn distinct indices below dims, values in (0, 1] */
static void rand_row(uint64_t *rs, uint32_t dims, uint32_t maxn, srow *out)
{
    uint32_t n = 1 + (uint32_t)(test_rand(rs) % maxn);
    out->idx = malloc(n * sizeof *out->idx);
    out->val = malloc(n * sizeof *out->val);
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t x = (uint32_t)(test_rand(rs) % dims);
        uint32_t j = m;
        bool dup = false;
        for (uint32_t k = 0; k < m; k++)
            dup |= out->idx[k] == x;
        if (dup)
            continue;
        while (j > 0 && out->idx[j - 1] > x) {
            out->idx[j] = out->idx[j - 1];
            out->val[j] = out->val[j - 1];
            j--;
        }
        out->idx[j] = x;
        out->val[j] = (float)((test_rand(rs) % 1000) + 1) / 1000.0f;
        m++;
    }
    out->n = m;
}

static void free_row(srow *r)
{
    free(r->idx);
    free(r->val);
}

typedef struct model {
    srow *rows;          /* by id */
    int64_t *tag;        /* by id */
    uint64_t *ins, *del; /* per id: when inserted, when deleted (0: never) */
    size_t n;
} model;

static vdb_db *open_db(const char *dir, uint64_t seg_rows)
{
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    if (seg_rows)
        o.segment_max_rows = seg_rows;
    vdb_db *db = NULL;
    OK(vdb_open(dir, &o, &db));
    return db;
}

static void create_coll(vdb_db *db, const char *name)
{
    vdb_schema *s;
    OK(vdb_schema_new(name, &s));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "tag", .type = VDB_TYPE_INT64)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "sv", .type = VDB_TYPE_SPARSE_FLOAT_VECTOR)));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
}

static uint64_t insert_rows(vdb_db *db, const char *coll, model *m, size_t from, size_t n)
{
    int64_t *ids = malloc(n * sizeof *ids), *tags = malloc(n * sizeof *tags);
    vdb_sparse_row *rows = malloc(n * sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        ids[i] = (int64_t)(from + i);
        tags[i] = (int64_t)((from + i) % 7);
        rows[i] = as_row(&m->rows[from + i]);
        m->tag[from + i] = tags[i];
    }
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0));
    OK(vdb_batch_add_column(b, "tag", VDB_TYPE_INT64, tags, NULL, n, 0));
    OK(vdb_batch_add_column(b, "sv", VDB_TYPE_SPARSE_FLOAT_VECTOR, rows, NULL, n, 0));
    uint64_t ts;
    OK(vdb_insert(db, coll, NULL, b, &ts, NULL));
    vdb_batch_free(b);
    for (size_t i = 0; i < n; i++)
        m->ins[from + i] = ts;
    free(ids);
    free(tags);
    free(rows);
    return ts;
}

/* The model's best k scores for q at T among rows with tag % tmod != 0 (tmod 0: all). */
static size_t model_topk(const model *m, const srow *q, uint64_t T, int64_t tmod, size_t k,
                         float *best)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (!m->ins[i] || m->ins[i] > T || (m->del[i] && m->del[i] <= T))
            continue;
        if (tmod && m->tag[i] % tmod == 0)
            continue;
        float s = dot(q, &m->rows[i]);
        if (!(s > 0.0f))
            continue;
        size_t j = n < k ? n++ : k;
        if (j == k && s <= best[k - 1])
            continue;
        if (j == k)
            j = k - 1;
        while (j > 0 && best[j - 1] < s) {
            best[j] = best[j - 1];
            j--;
        }
        best[j] = s;
    }
    return n;
}

/* Searches q and checks the hits are exactly the model's best k (scores equal; each hit's
 * score is its true score, its row visible and passing the filter). */
static void check_search(vdb_db *db, const char *coll, const model *m, const srow *qdb,
                         const srow *q, uint64_t travel, uint64_t T, int64_t tmod,
                         const char *params)
{
    enum { K = 10 };
    char filter[64];
    snprintf(filter, sizeof filter, "tag %% %lld != 0", (long long)tmod);
    vdb_sparse_row qr = as_row(qdb);
    const char *outs[] = {"sv", "tag"};
    vdb_search_req req = {.struct_size = sizeof req, .collection = coll, .nq = 1, .k = K,
                          .sparse_vectors = &qr, .filter = tmod ? filter : NULL,
                          .params = params};
    req.read.travel_ts = travel;
    req.read.output_fields = outs;
    req.read.n_output_fields = 2;
    vdb_result *r;
    OK(vdb_search(db, &req, &r));
    float best[K];
    size_t want = model_topk(m, q, T, tmod, K, best);
    size_t got = vdb_result_rows(r, 0);
    if (got != want)
        fail_msg("search (%s): %zu hits, the model has %zu", params ? params : "", got, want);
    for (size_t j = 0; j < got; j++) {
        int64_t id = vdb_result_pk_int(r, 0, j);
        float d = vdb_result_distance(r, 0, j);
        assert_true(id >= 0 && (size_t)id < m->n);
        const srow *row = &m->rows[id];
        if (fabsf(d - best[j]) > 1e-5f * fmaxf(1.0f, best[j]))
            fail_msg("hit %zu: score %g, the model's %zu-th best is %g", j, (double)d, j,
                     (double)best[j]);
        assert_true(fabsf(d - dot(q, row)) <= 1e-5f * fmaxf(1.0f, d));
        assert_true(m->ins[id] <= T && (!m->del[id] || m->del[id] > T));
        vdb_value v;
        OK(vdb_result_field(r, 0, j, "sv", &v));
        assert_int_equal(v.type, VDB_TYPE_SPARSE_FLOAT_VECTOR);
        assert_int_equal(v.u.sparse.count, row->n);
        assert_memory_equal(v.u.sparse.indices, row->idx, row->n * 4);
        assert_memory_equal(v.u.sparse.values, row->val, row->n * 4);
        OK(vdb_result_field(r, 0, j, "tag", &v));
        if (tmod)
            assert_true(v.u.i64 % tmod != 0);
    }
    vdb_result_free(r);
}

static void check_all(vdb_db *db, const char *coll, const model *m, const srow *qs, size_t nq,
                      uint64_t travel, uint64_t T, const char *params)
{
    for (size_t q = 0; q < nq; q++) {
        check_search(db, coll, m, &qs[q], &qs[q], travel, T, 0, params);
        check_search(db, coll, m, &qs[q], &qs[q], travel, T, 3, params);
    }
}

static void delete_ids(vdb_db *db, const char *coll, model *m, const int64_t *ids, size_t n)
{
    vdb_pk_list pk = {.ints = ids, .count = n};
    uint64_t ts;
    OK(vdb_delete(db, coll, NULL, &pk, &ts));
    for (size_t i = 0; i < n; i++)
        if (!m->del[ids[i]])
            m->del[ids[i]] = ts;
}

static void model_new(model *m, size_t n, uint64_t seed)
{
    uint64_t rs = seed;
    m->n = n;
    m->rows = calloc(n, sizeof *m->rows);
    m->tag = calloc(n, sizeof *m->tag);
    m->ins = calloc(n, sizeof *m->ins);
    m->del = calloc(n, sizeof *m->del);
    for (size_t i = 0; i < n; i++)
        rand_row(&rs, 400, 24, &m->rows[i]);
}

static void model_free(model *m)
{
    for (size_t i = 0; i < m->n; i++)
        free_row(&m->rows[i]);
    free(m->rows);
    free(m->tag);
    free(m->ins);
    free(m->del);
}

static void test_sparse_search_growing_sealed_indexes_reopen_compact(void **state)
{
    (void)state;
    char *dir = test_tmpdir("sparse_e2e");
    vdb_db *db = open_db(dir, 400);
    create_coll(db, "sp");
    model m;
    model_new(&m, 2000, 7);
    srow qs[8];
    uint64_t rs = 99;
    for (int i = 0; i < 8; i++)
        rand_row(&rs, 400, 12, &qs[i]);
    /* growing only: the exact scan */
    insert_rows(db, "sp", &m, 0, 300);
    check_all(db, "sp", &m, qs, 8, 0, UINT64_MAX, NULL);
    /* sealed segments (seal at 400 rows) and a growing one */
    for (size_t at = 300; at < 1800; at += 300)
        insert_rows(db, "sp", &m, at, 300);
    OK(vdb_wait_for_seals(db, "sp", 60000));
    check_all(db, "sp", &m, qs, 8, 0, UINT64_MAX, NULL);
    /* the inverted index on the sealed segments: still exact */
    OK(vdb_create_index(db, "sp", "sv", "SPARSE_INVERTED_INDEX", NULL));
    OK(vdb_wait_for_index(db, "sp", "sv", 60000));
    uint64_t idx_rows, total;
    OK(vdb_index_progress(db, "sp", "sv", &idx_rows, &total));
    assert_true(total > 0 && idx_rows == total);
    check_all(db, "sp", &m, qs, 8, 0, UINT64_MAX, NULL);
    /* deletes, then a timestamp before them */
    int64_t del[100];
    for (int i = 0; i < 100; i++)
        del[i] = i * 17;
    uint64_t before = insert_rows(db, "sp", &m, 1800, 200);
    delete_ids(db, "sp", &m, del, 100);
    check_all(db, "sp", &m, qs, 8, 0, UINT64_MAX, NULL);
    check_all(db, "sp", &m, qs, 8, before, before, NULL);
    /* reopen: the log replayed, the saved indexes loaded */
    vdb_close(db);
    db = open_db(dir, 400);
    check_all(db, "sp", &m, qs, 8, 0, UINT64_MAX, NULL);
    check_all(db, "sp", &m, qs, 8, before, before, NULL);
    /* the exhaustive walk gives the same answers */
    OK(vdb_drop_index(db, "sp", "sv"));
    OK(vdb_create_index(db, "sp", "sv", "SPARSE_INVERTED_INDEX", "inverted_index_algo=TAAT_NAIVE"));
    OK(vdb_wait_for_index(db, "sp", "sv", 60000));
    check_all(db, "sp", &m, qs, 8, 0, UINT64_MAX, NULL);
    check_all(db, "sp", &m, qs, 8, before, before, NULL);
    /* the WAND walk gives the same answers */
    OK(vdb_drop_index(db, "sp", "sv"));
    OK(vdb_create_index(db, "sp", "sv", "SPARSE_WAND", "drop_ratio_build=0"));
    OK(vdb_wait_for_index(db, "sp", "sv", 60000));
    check_all(db, "sp", &m, qs, 8, 0, UINT64_MAX, NULL);
    check_all(db, "sp", &m, qs, 8, before, before, NULL);
    /* compaction merges the sealed segments (deletes purged); answers stay */
    OK(vdb_flush(db, "sp"));
    OK(vdb_compact(db, "sp"));
    OK(vdb_wait_for_index(db, "sp", "sv", 60000));
    check_all(db, "sp", &m, qs, 8, 0, UINT64_MAX, NULL);
    vdb_close(db);
    db = open_db(dir, 400);
    check_all(db, "sp", &m, qs, 8, 0, UINT64_MAX, NULL);
    /* get and query return the stored rows */
    int64_t keys[2] = {5, 17};
    const char *outs[] = {"sv"};
    vdb_pk_list pk = {.ints = keys, .count = 2};
    vdb_result *r;
    OK(vdb_get(db, "sp", &pk, VDB_READ_OPTS(.output_fields = outs, .n_output_fields = 1), &r));
    assert_int_equal(vdb_result_rows(r, 0), 1); /* 17 was deleted */
    vdb_value v;
    OK(vdb_result_field(r, 0, 0, "sv", &v));
    assert_int_equal(v.u.sparse.count, m.rows[5].n);
    assert_memory_equal(v.u.sparse.values, m.rows[5].val, m.rows[5].n * 4);
    vdb_result_free(r);
    OK(vdb_query(db, "sp", "id < 3", VDB_READ_OPTS(.output_fields = outs, .n_output_fields = 1),
                 0, 0, &r));
    assert_int_equal(vdb_result_rows(r, 0), 2); /* 0 was deleted */
    vdb_result_free(r);
    vdb_close(db);
    for (int i = 0; i < 8; i++)
        free_row(&qs[i]);
    model_free(&m);
    test_rmdir(dir);
    free(dir);
}

/* drop_ratio_search leaves out the query's smallest values in the exact scan and the index
 * alike: the answers equal an exact search of the pruned query. */
static void test_sparse_drop_ratio_search_prunes_the_query(void **state)
{
    (void)state;
    char *dir = test_tmpdir("sparse_drop");
    vdb_db *db = open_db(dir, 300);
    create_coll(db, "sp");
    model m;
    model_new(&m, 900, 3);
    insert_rows(db, "sp", &m, 0, 900);
    OK(vdb_wait_for_seals(db, "sp", 60000));
    OK(vdb_create_index(db, "sp", "sv", "SPARSE_WAND", NULL));
    OK(vdb_wait_for_index(db, "sp", "sv", 60000));
    /* a query whose two smallest values of eight go at ratio 0.25 */
    uint32_t idx[8] = {3, 40, 77, 120, 200, 250, 301, 399};
    float val[8] = {0.9f, 0.05f, 0.7f, 0.6f, 0.02f, 0.8f, 0.5f, 0.4f};
    uint32_t pidx[6] = {3, 77, 120, 250, 301, 399};
    float pval[6] = {0.9f, 0.7f, 0.6f, 0.8f, 0.5f, 0.4f};
    srow full = {8, idx, val}, pruned = {6, pidx, pval};
    check_search(db, "sp", &m, &full, &pruned, 0, UINT64_MAX, 0, "drop_ratio_search=0.25");
    check_search(db, "sp", &m, &full, &full, 0, UINT64_MAX, 0, NULL);
    vdb_sparse_row qr = as_row(&full);
    vdb_search_req req = {.struct_size = sizeof req, .collection = "sp", .nq = 1, .k = 5,
                          .sparse_vectors = &qr, .params = "drop_ratio_search=1"};
    vdb_result *r;
    ERR(vdb_search(db, &req, &r), VDB_EINVAL, "drop_ratio_search");
    req.params = "radius=0.5";
    ERR(vdb_search(db, &req, &r), VDB_EUNSUPPORTED, "range search");
    /* drop_ratio_build: the build leaves out small values; the answers are still found */
    OK(vdb_drop_index(db, "sp", "sv"));
    ERR(vdb_create_index(db, "sp", "sv", "SPARSE_INVERTED_INDEX", "drop_ratio_build=1"),
        VDB_EINVAL, "drop_ratio_build");
    OK(vdb_create_index(db, "sp", "sv", "SPARSE_INVERTED_INDEX", "drop_ratio_build=0.2"));
    OK(vdb_wait_for_index(db, "sp", "sv", 60000));
    req.params = NULL;
    OK(vdb_search(db, &req, &r));
    assert_true(vdb_result_rows(r, 0) > 0);
    vdb_result_free(r);
    vdb_close(db);
    model_free(&m);
    test_rmdir(dir);
    free(dir);
}

static vdb_status insert_one(vdb_db *db, const char *coll, const uint32_t *idx, const float *val,
                             uint32_t n)
{
    static int64_t next = 1000000;
    int64_t id = next++, tag = 1;
    vdb_sparse_row row = {n, idx, val};
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, &id, NULL, 1, 0));
    OK(vdb_batch_add_column(b, "tag", VDB_TYPE_INT64, &tag, NULL, 1, 0));
    vdb_status st = vdb_batch_add_column(b, "sv", VDB_TYPE_SPARSE_FLOAT_VECTOR, &row, NULL, 1, 0);
    if (st == VDB_OK)
        st = vdb_insert(db, coll, NULL, b, NULL, NULL);
    vdb_batch_free(b);
    return st;
}

static void test_sparse_bad_input_is_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("sparse_bad");
    vdb_db *db = open_db(dir, 0);
    create_coll(db, "sp");
    uint32_t ok_i[3] = {1, 5, 9}, unsorted[3] = {1, 9, 5}, dup[3] = {1, 5, 5};
    uint32_t big[2] = {3, UINT32_MAX};
    float ok_v[3] = {0.5f, 1.0f, 0.0f}, nan_v[3] = {0.5f, NAN, 1.0f};
    float inf_v[3] = {INFINITY, 1.0f, 1.0f}, neg_v[3] = {0.5f, -1.0f, 1.0f};
    OK(insert_one(db, "sp", ok_i, ok_v, 3)); /* a zero value is kept, as Milvus keeps it */
    OK(insert_one(db, "sp", NULL, NULL, 0)); /* an empty row, as Milvus takes it */
    ERR(insert_one(db, "sp", unsorted, ok_v, 3), VDB_EINVAL, "unsorted");
    ERR(insert_one(db, "sp", dup, ok_v, 3), VDB_EINVAL, "duplicate");
    ERR(insert_one(db, "sp", ok_i, nan_v, 3), VDB_EINVAL, "NaN or Inf");
    ERR(insert_one(db, "sp", ok_i, inf_v, 3), VDB_EINVAL, "NaN or Inf");
    ERR(insert_one(db, "sp", ok_i, neg_v, 3), VDB_EINVAL, "negative");
    ERR(insert_one(db, "sp", big, ok_v, 2), VDB_EINVAL, "out of range");
    ERR(insert_one(db, "sp", NULL, ok_v, 2), VDB_EINVAL, "NULL");
    /* schemas */
    vdb_schema *s;
    OK(vdb_schema_new("bad", &s));
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_SPARSE_FLOAT_VECTOR,
                                          .dim = 8)), VDB_EINVAL, "no dim");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_SPARSE_FLOAT_VECTOR,
                                          .metric = VDB_METRIC_L2)), VDB_EINVAL, "IP only");
    vdb_schema_free(s);
    /* indexes */
    ERR(vdb_create_index(db, "sp", "sv", "HNSW", NULL), VDB_EINVAL, "SPARSE_FLOAT_VECTOR");
    ERR(vdb_create_index(db, "sp", "sv", "SPARSE_WAND", "metric_type=L2"), VDB_EINVAL,
        "metric_type");
    ERR(vdb_create_index(db, "sp", "sv", "SPARSE_WAND", "nlist=8"), VDB_EINVAL, "nlist");
    ERR(vdb_create_index(db, "sp", "sv", "SPARSE_WAND", "inverted_index_algo=BM25"), VDB_EINVAL,
        "inverted_index_algo");
    OK(vdb_create_index(db, "sp", "sv", "AUTOINDEX", "metric_type=IP"));
    const char *type;
    OK(vdb_describe_index(db, "sp", "sv", &type));
    assert_string_equal(type, "SPARSE_INVERTED_INDEX");
    /* searches */
    float dense[4] = {1, 2, 3, 4};
    vdb_sparse_row q = {3, unsorted, ok_v};
    vdb_search_req req = {.struct_size = sizeof req, .collection = "sp", .nq = 1, .k = 3,
                          .vectors = dense, .dim = 4};
    vdb_result *r;
    ERR(vdb_search(db, &req, &r), VDB_EINVAL, "sparse_vectors");
    req.vectors = NULL;
    req.dim = 0;
    req.sparse_vectors = &q;
    ERR(vdb_search(db, &req, &r), VDB_EINVAL, "unsorted");
    q.indices = ok_i;
    req.filter = "sv == 1";
    ERR(vdb_search(db, &req, &r), VDB_EINVAL, "vector fields cannot be used in filters");
    req.filter = NULL;
    req.group_by_field = "tag";
    ERR(vdb_search(db, &req, &r), VDB_EUNSUPPORTED, "grouping");
    req.group_by_field = NULL;
    int64_t one = 1;
    vdb_pk_list qpk = {.ints = &one, .count = 1};
    vdb_search_req byk = {.struct_size = sizeof byk, .collection = "sp", .vector_field = "sv",
                          .k = 3, .query_pks = &qpk};
    ERR(vdb_search(db, &byk, &r), VDB_EUNSUPPORTED, "sparse");
    vdb_ann_req ann = {.struct_size = sizeof ann, .vector_field = "sv", .nq = 1, .limit = 3,
                       .vectors = dense, .dim = 4};
    const vdb_ann_req *anns[] = {&ann};
    vdb_hybrid_req hy = {.struct_size = sizeof hy, .collection = "sp", .reqs = anns,
                         .n_reqs = 1, .ranker = VDB_RANKER_RRF, .limit = 3};
    ERR(vdb_hybrid_search(db, &hy, &r), VDB_EUNSUPPORTED, "sparse");
    OK(vdb_search(db, &req, &r));
    assert_int_equal(vdb_result_rows(r, 0), 1); /* the row with {1: .5, 5: 1, 9: 0} */
    assert_true(fabsf(vdb_result_distance(r, 0, 0) - 1.25f) < 1e-6f);
    vdb_result_free(r);
    q.count = 0; /* an empty query matches nothing */
    OK(vdb_search(db, &req, &r));
    assert_int_equal(vdb_result_rows(r, 0), 0);
    vdb_result_free(r);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* ---- recall on real text: a bag of words from Debian's license and copyright files ---- */

/* recall@10 of the collection's answers against the exact top 10 (ties by score: a hit whose
 * true score reaches the 10th best counts) */
static double recall_of(vdb_db *db, const corpus *c, const srow *qs, size_t nq,
                        const char *params)
{
    enum { K = 10 };
    size_t hit = 0, want = 0;
    for (size_t q = 0; q < nq; q++) {
        float best[K];
        size_t nb = 0;
        for (size_t i = 0; i < c->n; i++) {
            float s = dot(&qs[q], &c->docs[i]);
            if (!(s > 0.0f))
                continue;
            size_t j = nb < K ? nb++ : K;
            if (j == K && s <= best[K - 1])
                continue;
            if (j == K)
                j = K - 1;
            while (j > 0 && best[j - 1] < s) {
                best[j] = best[j - 1];
                j--;
            }
            best[j] = s;
        }
        vdb_sparse_row qr = as_row(&qs[q]);
        vdb_search_req req = {.struct_size = sizeof req, .collection = "text", .nq = 1, .k = K,
                              .sparse_vectors = &qr, .params = params};
        vdb_result *r;
        OK(vdb_search(db, &req, &r));
        want += nb;
        for (size_t j = 0; j < vdb_result_rows(r, 0); j++) {
            int64_t id = vdb_result_pk_int(r, 0, j);
            float s = dot(&qs[q], &c->docs[id]);
            hit += nb && s >= best[nb - 1] * (1.0f - 1e-5f);
        }
        vdb_result_free(r);
    }
    return want ? (double)hit / (double)want : 1.0;
}

static void test_sparse_recall_on_debian_text(void **state)
{
    (void)state;
    corpus c = {0};
    vocab v = {0};
    build_corpus(&c, &v, 20000);
    if (c.n < 500)
        skip(); /* a system without Debian's documentation files */
    weigh(&c, &v);
    print_message("corpus: %zu documents, %zu words\n", c.n, v.n);
    char *dir = test_tmpdir("sparse_recall");
    vdb_db *db = open_db(dir, 5000);
    vdb_schema *s;
    OK(vdb_schema_new("text", &s));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "sv", .type = VDB_TYPE_SPARSE_FLOAT_VECTOR)));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
    for (size_t at = 0; at < c.n; at += 2000) {
        size_t n = c.n - at < 2000 ? c.n - at : 2000;
        int64_t *ids = malloc(n * sizeof *ids);
        vdb_sparse_row *rows = malloc(n * sizeof *rows);
        for (size_t i = 0; i < n; i++) {
            ids[i] = (int64_t)(at + i);
            rows[i] = as_row(&c.docs[at + i]);
        }
        vdb_batch *b;
        OK(vdb_batch_new(&b));
        OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0));
        OK(vdb_batch_add_column(b, "sv", VDB_TYPE_SPARSE_FLOAT_VECTOR, rows, NULL, n, 0));
        OK(vdb_insert(db, "text", NULL, b, NULL, NULL));
        vdb_batch_free(b);
        free(ids);
        free(rows);
    }
    OK(vdb_flush(db, "text"));
    /* queries: 2..6 words of a document, weighted by idf */
    enum { NQ = 100 };
    srow qs[NQ];
    uint64_t rs = 2024;
    for (int q = 0; q < NQ; q++) {
        const srow *d = &c.docs[test_rand(&rs) % c.n];
        uint32_t n = 2 + (uint32_t)(test_rand(&rs) % 5);
        n = n < d->n ? n : d->n;
        qs[q].idx = malloc(n * 4);
        qs[q].val = malloc(n * 4);
        uint32_t start = (uint32_t)(test_rand(&rs) % (d->n - n + 1));
        for (uint32_t j = 0; j < n; j++) {
            qs[q].idx[j] = d->idx[start + j];
            qs[q].val[j] = logf((float)c.n / (float)v.df[d->idx[start + j]]);
        }
        qs[q].n = n;
    }
    double exact = recall_of(db, &c, qs, NQ, NULL);
    print_message("exact scan: recall@10 %.4f\n", exact);
    assert_true(exact >= 0.999);
    static const char *const types[] = {"SPARSE_INVERTED_INDEX", "SPARSE_INVERTED_INDEX",
                                        "SPARSE_WAND"};
    static const char *const algos[] = {"inverted_index_algo=TAAT_NAIVE",
                                        "inverted_index_algo=DAAT_MAXSCORE",
                                        "inverted_index_algo=DAAT_WAND"};
    for (int t = 0; t < 3; t++) {
        char with_drop[96];
        snprintf(with_drop, sizeof with_drop, "%s,drop_ratio_build=0.1", algos[t]);
        OK(vdb_create_index(db, "text", "sv", types[t], algos[t]));
        OK(vdb_wait_for_index(db, "text", "sv", 600000));
        double r0 = recall_of(db, &c, qs, NQ, NULL);
        /* the documented approximate settings (README): drop_ratio_search=0.2 (a query of
         * 5 or 6 words loses its least weighted), drop_ratio_build=0.1 */
        double r1 = recall_of(db, &c, qs, NQ, "drop_ratio_search=0.2");
        OK(vdb_drop_index(db, "text", "sv"));
        OK(vdb_create_index(db, "text", "sv", types[t], with_drop));
        OK(vdb_wait_for_index(db, "text", "sv", 600000));
        double r2 = recall_of(db, &c, qs, NQ, NULL);
        OK(vdb_drop_index(db, "text", "sv"));
        print_message("%s %s: recall@10 %.4f (drop ratios 0), %.4f (drop_ratio_search=0.2), "
                      "%.4f (drop_ratio_build=0.1)\n", types[t], algos[t], r0, r1, r2);
        assert_true(r0 >= 0.999); /* exact */
        assert_true(r1 >= 0.95);
        assert_true(r2 >= 0.95);
    }
    vdb_close(db);
    for (int q = 0; q < NQ; q++)
        free_row(&qs[q]);
    corpus_free(&c, &v);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sparse_bad_input_is_refused),
        cmocka_unit_test(test_sparse_search_growing_sealed_indexes_reopen_compact),
        cmocka_unit_test(test_sparse_drop_ratio_search_prunes_the_query),
        cmocka_unit_test(test_sparse_recall_on_debian_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

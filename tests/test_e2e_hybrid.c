/* Several vector fields per collection and hybrid search, through the public API: each field
 * searched by name through growing, sealed, indexed, compacted and reopened segments like a
 * collection's only one; vdb_hybrid_search's fused hits equal a reference RRF / weighted
 * fusion computed here from each request's own exact search; search offset. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_api.h"

#define COLL "multi"
#define N 600
#define NF 3

static const uint32_t dims[NF] = {8, 4, 6};
static const char *const names[NF] = {"v1", "v2", "v3"};
static const vdb_metric metrics[NF] = {VDB_METRIC_L2, VDB_METRIC_IP, VDB_METRIC_COSINE};

static float vecs[NF][N * 8];

static vdb_db *open_db(const char *dir)
{
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    o.compaction_min_segments = 2;
    vdb_db *db = NULL;
    vdb_status st = vdb_open(dir, &o, &db);
    if (st != VDB_OK)
        fail_msg("vdb_open(%s) -> %s: %s", dir, vdb_status_name(st), vdb_errmsg(NULL));
    return db;
}

static void create(vdb_db *db)
{
    vdb_schema *s;
    OK(vdb_schema_new(COLL, &s));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                         .is_primary = 1)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "tag", .type = VDB_TYPE_INT64)));
    for (int f = 0; f < NF; f++)
        OK(vdb_schema_add_field(s, VDB_FIELD(.name = names[f], .type = VDB_TYPE_FLOAT_VECTOR,
                                             .dim = dims[f], .metric = metrics[f])));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
}

static void make_vectors(void)
{
    uint64_t seed = 12345;
    for (int f = 0; f < NF; f++)
        for (size_t i = 0; i < N * dims[f]; i++)
            vecs[f][i] = test_randf(&seed);
}

static void insert_range(vdb_db *db, int64_t from, int64_t to)
{
    size_t n = (size_t)(to - from);
    int64_t *ids = malloc(n * sizeof *ids), *tags = malloc(n * sizeof *tags);
    for (size_t i = 0; i < n; i++) {
        ids[i] = from + (int64_t)i;
        tags[i] = ids[i] % 10;
    }
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0));
    OK(vdb_batch_add_column(b, "tag", VDB_TYPE_INT64, tags, NULL, n, 0));
    for (int f = 0; f < NF; f++)
        OK(vdb_batch_add_column(b, names[f], VDB_TYPE_FLOAT_VECTOR,
                                vecs[f] + (size_t)from * dims[f], NULL, n, dims[f]));
    OK(vdb_insert(db, COLL, NULL, b, NULL, NULL));
    vdb_batch_free(b);
    free(ids);
    free(tags);
}

/* The score of row i of field f to q, as the library defines it. */
static double score(int f, size_t i, const float *q)
{
    const float *v = vecs[f] + i * dims[f];
    double dot = 0, l2 = 0, nv = 0, nq = 0;
    for (uint32_t d = 0; d < dims[f]; d++) {
        dot += (double)v[d] * q[d];
        l2 += ((double)v[d] - q[d]) * ((double)v[d] - q[d]);
        nv += (double)v[d] * v[d];
        nq += (double)q[d] * q[d];
    }
    return metrics[f] == VDB_METRIC_L2 ? l2 : metrics[f] == VDB_METRIC_IP ? dot
                                                                      : dot / sqrt(nv * nq);
}

static int cmp_f, cmp_higher;
static const float *cmp_q;
static int by_score(const void *a, const void *b)
{
    double x = score(cmp_f, *(const size_t *)a, cmp_q), y = score(cmp_f, *(const size_t *)b, cmp_q);
    if (x == y)
        return 0;
    return (cmp_higher ? x > y : x < y) ? -1 : 1;
}

/* The exact top k of field f for q among rows [0, n). */
static void exact_topk(int f, const float *q, size_t n, size_t k, int64_t *out)
{
    size_t *idx = malloc(n * sizeof *idx);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    cmp_f = f;
    cmp_q = q;
    cmp_higher = metrics[f] != VDB_METRIC_L2;
    qsort(idx, n, sizeof *idx, by_score);
    for (size_t i = 0; i < k; i++)
        out[i] = (int64_t)idx[i];
    free(idx);
}

/* Every field searched by name gives the exact top 10 (fields without an index), or at
 * least 9 of them per query (the HNSW field). */
static void check_fields(vdb_db *db, size_t n, bool v1_hnsw)
{
    uint64_t seed = 777;
    for (int f = 0; f < NF; f++) {
        float q[8];
        for (int t = 0; t < 5; t++) {
            for (uint32_t d = 0; d < dims[f]; d++)
                q[d] = test_randf(&seed);
            vdb_search_req req = {.struct_size = sizeof req, .collection = COLL,
                                  .vector_field = names[f], .vectors = q, .nq = 1,
                                  .dim = dims[f], .k = 10, .params = "ef=200"};
            vdb_result *r;
            OK(vdb_search(db, &req, &r));
            assert_int_equal(vdb_result_rows(r, 0), 10);
            int64_t want[10];
            exact_topk(f, q, n, 10, want);
            int same = 0;
            for (int i = 0; i < 10; i++) {
                if (vdb_result_pk_int(r, 0, (size_t)i) == want[i])
                    same++;
                if (!(f == 0 && v1_hnsw)) {
                    assert_int_equal(vdb_result_pk_int(r, 0, (size_t)i), want[i]);
                    double s = score(f, (size_t)want[i], q);
                    assert_true(fabs(vdb_result_distance(r, 0, (size_t)i) - s) < 1e-4);
                }
            }
            if (f == 0 && v1_hnsw) {
                int hit = 0;
                for (int i = 0; i < 10; i++)
                    for (int j = 0; j < 10; j++)
                        hit += vdb_result_pk_int(r, 0, (size_t)i) == want[j];
                assert_true(hit >= 9);
            }
            (void)same;
            vdb_result_free(r);
        }
    }
}

static void test_vector_fields_lifecycle(void **state)
{
    (void)state;
    char *dir = test_tmpdir("hybrid_fields");
    make_vectors();
    vdb_db *db = open_db(dir);

    /* at most 4 vector fields, as Milvus's default */
    vdb_schema *s;
    OK(vdb_schema_new("five", &s));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                         .is_primary = 1)));
    char nm[8];
    for (int f = 0; f < 5; f++) {
        snprintf(nm, sizeof nm, "f%d", f);
        OK(vdb_schema_add_field(s, VDB_FIELD(.name = nm, .type = VDB_TYPE_FLOAT_VECTOR,
                                             .dim = 2)));
    }
    ERR(vdb_create_collection(db, s), VDB_EINVAL, "at most 4");
    vdb_schema_free(s);

    create(db);
    insert_range(db, 0, 200); /* growing */
    check_fields(db, 200, false);
    OK(vdb_flush(db, COLL)); /* sealed */
    insert_range(db, 200, 400);
    OK(vdb_flush(db, COLL));
    insert_range(db, 400, N); /* growing again */
    /* each field its own index */
    OK(vdb_create_index(db, COLL, "v1", "HNSW", "M=16,efConstruction=200"));
    OK(vdb_create_index(db, COLL, "v2", "FLAT", NULL));
    OK(vdb_wait_for_index(db, COLL, "v1", UINT64_MAX));
    const char *type;
    OK(vdb_describe_index(db, COLL, "v1", &type));
    assert_string_equal(type, "HNSW");
    OK(vdb_describe_index(db, COLL, "v2", &type));
    assert_string_equal(type, "FLAT");
    ERR(vdb_describe_index(db, COLL, "v3", &type), VDB_ENOTFOUND, NULL);
    check_fields(db, N, true);
    OK(vdb_compact(db, COLL));
    check_fields(db, N, true);
    vdb_close(db);
    db = open_db(dir); /* recovery: sealed segments, their indexes, the log */
    OK(vdb_wait_for_index(db, COLL, "v1", UINT64_MAX));
    check_fields(db, N, true);
    vdb_stats st = {.struct_size = sizeof st};
    OK(vdb_collection_stats(db, COLL, &st));
    assert_int_equal(st.row_count, N);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* ---- hybrid search against a reference fusion ---------------------------------------------- */

typedef struct ref_hit {
    int64_t pk;
    double score;
} ref_hit;

static int ref_cmp_pk(const void *a, const void *b)
{
    const ref_hit *x = a, *y = b;
    return x->pk < y->pk ? -1 : x->pk > y->pk;
}

static int ref_asc;
static int ref_cmp_score(const void *a, const void *b)
{
    const ref_hit *x = a, *y = b;
    if (x->score != y->score)
        return (ref_asc ? x->score < y->score : x->score > y->score) ? -1 : 1;
    return x->pk < y->pk ? -1 : x->pk > y->pk;
}

static double ref_norm(vdb_metric m, double s)
{
    if (m == VDB_METRIC_COSINE)
        return (1 + s) / 2;
    if (m == VDB_METRIC_IP)
        return 0.5 + atan(s) / 3.14159265358979323846;
    return 1 - 2 * atan(s) / 3.14159265358979323846;
}

/* The reference: each request searched alone (exactly), fused here. */
static size_t reference(vdb_db *db, const vdb_ann_req *const *reqs, const int *field, size_t nr,
                        size_t q, vdb_ranker_kind kind, double k, const float *w, bool raw,
                        ref_hit *out)
{
    size_t m = 0;
    bool all_l2 = true;
    for (size_t i = 0; i < nr; i++)
        all_l2 = all_l2 && metrics[field[i]] == VDB_METRIC_L2;
    ref_asc = kind == VDB_RANKER_WEIGHTED && raw && all_l2;
    for (size_t i = 0; i < nr; i++) {
        const vdb_ann_req *a = reqs[i];
        vdb_search_req sr = {.struct_size = sizeof sr, .collection = COLL,
                             .vector_field = a->vector_field,
                             .vectors = a->vectors + q * a->dim, .nq = 1, .dim = a->dim,
                             .k = a->limit, .filter = a->filter, .params = a->params};
        vdb_result *r;
        OK(vdb_search(db, &sr, &r));
        for (size_t j = 0; j < vdb_result_rows(r, 0); j++) {
            double d = vdb_result_distance(r, 0, j), s;
            vdb_metric mt = metrics[field[i]];
            if (kind == VDB_RANKER_RRF)
                s = 1.0 / (k + (double)(j + 1));
            else if (!raw)
                s = w[i] * ref_norm(mt, d);
            else
                s = w[i] * (mt == VDB_METRIC_L2 && !all_l2 ? -d : d);
            int64_t pk = vdb_result_pk_int(r, 0, j);
            size_t e = 0;
            while (e < m && out[e].pk != pk)
                e++;
            if (e == m)
                out[m++] = (ref_hit){pk, 0};
            out[e].score += s;
        }
        vdb_result_free(r);
    }
    qsort(out, m, sizeof *out, ref_cmp_pk);
    qsort(out, m, sizeof *out, ref_cmp_score);
    return m;
}

static void check_hybrid(vdb_db *db, const vdb_ann_req *const *reqs, const int *field, size_t nr,
                         size_t nq, vdb_ranker_kind kind, double k, const float *w, bool raw,
                         uint32_t limit, uint32_t offset)
{
    const char *outs[] = {"tag"};
    vdb_hybrid_req h = {.struct_size = sizeof h, .collection = COLL, .reqs = reqs,
                        .n_reqs = nr, .ranker = kind, .rrf_k = kind == VDB_RANKER_RRF ? k : 0,
                        .weights = kind == VDB_RANKER_WEIGHTED ? w : NULL,
                        .no_normalize = raw, .limit = limit, .offset = offset,
                        .read = {.struct_size = sizeof h.read, .output_fields = outs,
                                 .n_output_fields = 1}};
    vdb_result *r;
    OK(vdb_hybrid_search(db, &h, &r));
    assert_int_equal(vdb_result_groups(r), nq);
    ref_hit *ref = malloc(4096 * sizeof *ref);
    for (size_t q = 0; q < nq; q++) {
        size_t m = reference(db, reqs, field, nr, q, kind, k ? k : 60, w, raw, ref);
        size_t want = m > offset ? (m - offset < limit ? m - offset : limit) : 0;
        assert_int_equal(vdb_result_rows(r, q), want);
        for (size_t j = 0; j < want; j++) {
            int64_t pk = vdb_result_pk_int(r, q, j);
            if (pk != ref[offset + j].pk)
                fail_msg("query %zu hit %zu: pk %lld, the reference has %lld", q, j,
                         (long long)pk, (long long)ref[offset + j].pk);
            assert_true(fabs(vdb_result_distance(r, q, j) - ref[offset + j].score) < 1e-5);
            vdb_value v;
            OK(vdb_result_field(r, q, j, "tag", &v));
            assert_int_equal(v.u.i64, pk % 10);
        }
    }
    free(ref);
    vdb_result_free(r);
}

static void test_hybrid_fusion(void **state)
{
    (void)state;
    char *dir = test_tmpdir("hybrid_fuse");
    make_vectors();
    vdb_db *db = open_db(dir);
    create(db);
    insert_range(db, 0, 300);
    OK(vdb_flush(db, COLL));
    insert_range(db, 300, N);
    enum { NQ = 3 };
    float q[NF][NQ * 8];
    uint64_t seed = 99;
    for (int f = 0; f < NF; f++)
        for (size_t i = 0; i < NQ * dims[f]; i++)
            q[f][i] = test_randf(&seed);
    vdb_ann_req a1 = {.struct_size = sizeof a1, .vector_field = "v1", .vectors = q[0],
                      .nq = NQ, .dim = 8, .limit = 30};
    vdb_ann_req a2 = {.struct_size = sizeof a2, .vector_field = "v2", .vectors = q[1],
                      .nq = NQ, .dim = 4, .limit = 20, .filter = "tag < 5"};
    vdb_ann_req a3 = {.struct_size = sizeof a3, .vector_field = "v3", .vectors = q[2],
                      .nq = NQ, .dim = 6, .limit = 25, .filter = "tag % 2 == 0"};
    const vdb_ann_req *reqs[] = {&a1, &a2, &a3};
    const int field[] = {0, 1, 2};
    const float w[] = {0.7f, 0.2f, 0.5f};
    check_hybrid(db, reqs, field, 3, NQ, VDB_RANKER_RRF, 0, NULL, false, 10, 0);
    check_hybrid(db, reqs, field, 3, NQ, VDB_RANKER_RRF, 5, NULL, false, 15, 7);
    check_hybrid(db, reqs, field, 2, NQ, VDB_RANKER_RRF, 100, NULL, false, 100, 0); /* all */
    check_hybrid(db, reqs, field, 3, NQ, VDB_RANKER_WEIGHTED, 0, w, false, 10, 0);
    check_hybrid(db, reqs, field, 3, NQ, VDB_RANKER_WEIGHTED, 0, w, false, 12, 30);
    check_hybrid(db, reqs, field, 3, NQ, VDB_RANKER_WEIGHTED, 0, w, true, 10, 2); /* mixed raw */
    check_hybrid(db, reqs, field, 1, NQ, VDB_RANKER_WEIGHTED, 0, w, true, 10, 0); /* all L2 */
    check_hybrid(db, reqs, field, 3, NQ, VDB_RANKER_RRF, 0, NULL, false, 10, 1000); /* past */
    /* two requests on one field, with different filters */
    vdb_ann_req a4 = a1;
    a4.filter = "tag >= 5";
    const vdb_ann_req *same[] = {&a1, &a4};
    const int field2[] = {0, 0};
    check_hybrid(db, same, field2, 2, NQ, VDB_RANKER_WEIGHTED, 0, w, false, 20, 0);
    /* an HNSW index on v1 changes nothing for the fusion (each request's own hits fuse) */
    OK(vdb_create_index(db, COLL, "v1", "HNSW", NULL));
    OK(vdb_wait_for_index(db, COLL, "v1", UINT64_MAX));
    a1.params = "ef=100";
    check_hybrid(db, reqs, field, 3, NQ, VDB_RANKER_RRF, 0, NULL, false, 10, 0);

    /* a VARCHAR primary key: the same rows keyed "k<id>" fuse the same (weighted: no ties) */
    vdb_schema *vs;
    OK(vdb_schema_new("vs", &vs));
    OK(vdb_schema_add_field(vs, VDB_FIELD(.name = "k", .type = VDB_TYPE_VARCHAR,
                                          .max_length = 16, .is_primary = 1)));
    OK(vdb_schema_add_field(vs, VDB_FIELD(.name = "tag", .type = VDB_TYPE_INT64)));
    for (int f = 0; f < NF; f++)
        OK(vdb_schema_add_field(vs, VDB_FIELD(.name = names[f], .type = VDB_TYPE_FLOAT_VECTOR,
                                              .dim = dims[f], .metric = metrics[f])));
    OK(vdb_create_collection(db, vs));
    vdb_schema_free(vs);
    {
        char keybuf[N][16];
        const char *keys[N];
        int64_t tags[N];
        for (size_t i = 0; i < N; i++) {
            snprintf(keybuf[i], sizeof keybuf[i], "k%zu", i);
            keys[i] = keybuf[i];
            tags[i] = (int64_t)(i % 10);
        }
        vdb_batch *b;
        OK(vdb_batch_new(&b));
        OK(vdb_batch_add_column(b, "k", VDB_TYPE_VARCHAR, keys, NULL, N, 0));
        OK(vdb_batch_add_column(b, "tag", VDB_TYPE_INT64, tags, NULL, N, 0));
        for (int f = 0; f < NF; f++)
            OK(vdb_batch_add_column(b, names[f], VDB_TYPE_FLOAT_VECTOR, vecs[f], NULL, N,
                                    dims[f]));
        OK(vdb_insert(db, "vs", NULL, b, NULL, NULL));
        vdb_batch_free(b);
        const char *outs[] = {"tag"};
        vdb_hybrid_req hi = {.struct_size = sizeof hi, .collection = COLL, .reqs = reqs,
                             .n_reqs = 3, .ranker = VDB_RANKER_WEIGHTED, .weights = w,
                             .limit = 15, .offset = 3,
                             .read = {.struct_size = sizeof hi.read, .output_fields = outs,
                                      .n_output_fields = 1}};
        vdb_hybrid_req hs = hi;
        hs.collection = "vs";
        vdb_result *ri, *rs;
        OK(vdb_hybrid_search(db, &hi, &ri));
        OK(vdb_hybrid_search(db, &hs, &rs));
        assert_int_equal(vdb_result_pk_type(rs), VDB_TYPE_VARCHAR);
        for (size_t g = 0; g < NQ; g++) {
            assert_int_equal(vdb_result_rows(rs, g), vdb_result_rows(ri, g));
            for (size_t j = 0; j < vdb_result_rows(ri, g); j++) {
                char want[16];
                snprintf(want, sizeof want, "k%lld", (long long)vdb_result_pk_int(ri, g, j));
                assert_string_equal(vdb_result_pk_str(rs, g, j), want);
                assert_true(vdb_result_distance(rs, g, j) == vdb_result_distance(ri, g, j));
                vdb_value v;
                OK(vdb_result_field(rs, g, j, "tag", &v));
                assert_int_equal(v.u.i64, vdb_result_pk_int(ri, g, j) % 10);
            }
        }
        vdb_result_free(ri);
        vdb_result_free(rs);
    }

    /* errors */
    vdb_result *r;
    vdb_hybrid_req h = {.struct_size = sizeof h, .collection = COLL, .reqs = reqs, .n_reqs = 3,
                        .ranker = VDB_RANKER_RRF, .limit = 10,
                        .read = {.struct_size = sizeof h.read}};
    h.rrf_k = -1;
    ERR(vdb_hybrid_search(db, &h, &r), VDB_EINVAL, "RRF k");
    h.rrf_k = 0;
    h.ranker = (vdb_ranker_kind)7;
    ERR(vdb_hybrid_search(db, &h, &r), VDB_EINVAL, "ranker");
    h.ranker = VDB_RANKER_WEIGHTED;
    ERR(vdb_hybrid_search(db, &h, &r), VDB_EINVAL, "weights");
    const float badw[] = {0.5f, 1.5f, 0};
    h.weights = badw;
    ERR(vdb_hybrid_search(db, &h, &r), VDB_EINVAL, "weight 1");
    h.ranker = VDB_RANKER_RRF;
    h.weights = NULL;
    h.limit = 10000;
    h.offset = 7000;
    ERR(vdb_hybrid_search(db, &h, &r), VDB_EINVAL, "limit + offset");
    h.limit = 10;
    h.offset = 0;
    h.n_reqs = 0;
    ERR(vdb_hybrid_search(db, &h, &r), VDB_EINVAL, "requests");
    h.n_reqs = 3;
    a2.nq = 2;
    ERR(vdb_hybrid_search(db, &h, &r), VDB_EINVAL, "same number");
    a2.nq = NQ;
    a2.vector_field = "tag";
    ERR(vdb_hybrid_search(db, &h, &r), VDB_EINVAL, "request 1");
    a2.vector_field = NULL;
    ERR(vdb_hybrid_search(db, &h, &r), VDB_EINVAL, "several vector fields");
    a2.vector_field = "v2";
    a2.dim = 3;
    ERR(vdb_hybrid_search(db, &h, &r), VDB_EINVAL, "dim");
    a2.dim = 4;
    a2.filter = "nosuch >";
    ERR(vdb_hybrid_search(db, &h, &r), VDB_EINVAL, "request 1");
    a2.filter = NULL;
    h.collection = "nosuch";
    ERR(vdb_hybrid_search(db, &h, &r), VDB_ENOTFOUND, NULL);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* offset: the hits of k + offset past the first offset */
static void test_search_offset(void **state)
{
    (void)state;
    char *dir = test_tmpdir("hybrid_offset");
    make_vectors();
    vdb_db *db = open_db(dir);
    create(db);
    insert_range(db, 0, 200);
    OK(vdb_flush(db, COLL));
    insert_range(db, 200, 400);
    float q[8] = {0.1f, 0.2f, -0.3f, 0.4f, 0, 0.5f, -0.1f, 0.2f};
    vdb_search_req req = {.struct_size = sizeof req, .collection = COLL, .vector_field = "v1",
                          .vectors = q, .nq = 1, .dim = 8, .k = 20};
    vdb_result *all, *page;
    OK(vdb_search(db, &req, &all));
    req.k = 5;
    req.offset = 15;
    OK(vdb_search(db, &req, &page));
    assert_int_equal(vdb_result_rows(page, 0), 5);
    for (size_t j = 0; j < 5; j++)
        assert_int_equal(vdb_result_pk_int(page, 0, j), vdb_result_pk_int(all, 0, 15 + j));
    vdb_result_free(page);
    req.offset = 398; /* past the end: what is left */
    OK(vdb_search(db, &req, &page));
    assert_int_equal(vdb_result_rows(page, 0), 2);
    vdb_result_free(page);
    req.offset = 16380;
    ERR(vdb_search(db, &req, &page), VDB_EINVAL, "k + offset");
    vdb_result_free(all);

    /* search by primary key: the stored vectors of rows 5 and 317 are the queries */
    int64_t keys[2] = {5, 317};
    vdb_pk_list pl = {.ints = keys, .count = 2};
    float qv[2 * 8];
    memcpy(qv, vecs[1] + 5 * 4, 4 * sizeof(float));
    memcpy(qv + 4, vecs[1] + 317 * 4, 4 * sizeof(float));
    vdb_search_req byvec = {.struct_size = sizeof byvec, .collection = COLL,
                            .vector_field = "v2", .vectors = qv, .nq = 2, .dim = 4, .k = 7};
    vdb_search_req bypk = {.struct_size = sizeof bypk, .collection = COLL,
                           .vector_field = "v2", .k = 7, .query_pks = &pl};
    vdb_result *a, *b;
    OK(vdb_search(db, &byvec, &a));
    OK(vdb_search(db, &bypk, &b));
    assert_int_equal(vdb_result_groups(b), 2);
    for (size_t g = 0; g < 2; g++) {
        assert_int_equal(vdb_result_rows(b, g), 7);
        for (size_t j = 0; j < 7; j++) {
            assert_int_equal(vdb_result_pk_int(b, g, j), vdb_result_pk_int(a, g, j));
            assert_true(vdb_result_distance(b, g, j) == vdb_result_distance(a, g, j));
        }
    }
    vdb_result_free(a);
    vdb_result_free(b);
    keys[1] = 100000;
    ERR(vdb_search(db, &bypk, &b), VDB_ENOTFOUND, "100000");
    bypk.vectors = qv;
    ERR(vdb_search(db, &bypk, &b), VDB_EINVAL, "not both");
    bypk.vectors = NULL;
    bypk.vector_field = NULL;
    ERR(vdb_search(db, &bypk, &b), VDB_EINVAL, "several vector fields");
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* ---- grouping search ------------------------------------------------------------------------ */

/* The reference: rows passing keep(), by exact score; groups ranked by their best row; the
 * groups offset.. offset + k - 1 with their best gs rows. */
static size_t ref_grouped(int f, const float *q, size_t n, int64_t (*group_of)(size_t),
                          bool (*keep)(size_t), size_t k, size_t offset, size_t gs,
                          int64_t *out)
{
    size_t *idx = malloc(n * sizeof *idx), m = 0;
    for (size_t i = 0; i < n; i++)
        if (keep(i))
            idx[m++] = i;
    cmp_f = f;
    cmp_q = q;
    cmp_higher = metrics[f] != VDB_METRIC_L2;
    qsort(idx, m, sizeof *idx, by_score);
    int64_t groups[N];
    size_t ng = 0, got = 0;
    for (size_t i = 0; i < m; i++) { /* groups in order of their best row */
        int64_t g = group_of(idx[i]);
        size_t j = 0;
        while (j < ng && groups[j] != g)
            j++;
        if (j == ng)
            groups[ng++] = g;
    }
    for (size_t j = offset; j < ng && j < offset + k; j++) {
        size_t in = 0;
        for (size_t i = 0; i < m && in < gs; i++)
            if (group_of(idx[i]) == groups[j]) {
                out[got++] = (int64_t)idx[i];
                in++;
            }
    }
    free(idx);
    return got;
}

static int64_t by_tag(size_t i) { return (int64_t)(i % 10); }
static int64_t by_id(size_t i) { return (int64_t)i; }
static bool keep_all(size_t i) { (void)i; return true; }
static bool keep_few(size_t i) { return i < 6; } /* 1% of the rows */
static bool keep_odd(size_t i) { return i % 2 == 1; }

static void check_grouped(vdb_db *db, const float *q, const char *gfield, int64_t (*group_of)(size_t),
                          bool (*keep)(size_t), const char *filter, uint32_t k, uint32_t offset,
                          uint32_t gs)
{
    vdb_search_req req = {.struct_size = sizeof req, .collection = COLL, .vector_field = "v1",
                          .vectors = q, .nq = 1, .dim = 8, .k = k, .offset = offset,
                          .filter = filter, .group_by_field = gfield, .group_size = gs};
    vdb_result *r;
    OK(vdb_search(db, &req, &r));
    int64_t want[N];
    size_t n = ref_grouped(0, q, N, group_of, keep, k, offset, gs ? gs : 1, want);
    if (vdb_result_rows(r, 0) != n)
        fail_msg("group by %s k %u offset %u size %u: %zu rows, the reference has %zu", gfield,
                 k, offset, gs, vdb_result_rows(r, 0), n);
    for (size_t j = 0; j < n; j++)
        assert_int_equal(vdb_result_pk_int(r, 0, j), want[j]);
    vdb_result_free(r);
}

static void test_grouping_search(void **state)
{
    (void)state;
    char *dir = test_tmpdir("hybrid_group");
    make_vectors();
    vdb_db *db = open_db(dir);
    create(db);
    insert_range(db, 0, 300);
    OK(vdb_flush(db, COLL));
    insert_range(db, 300, N);
    float q[8] = {0.3f, -0.1f, 0.2f, 0.0f, -0.4f, 0.1f, 0.25f, -0.2f};
    /* exact walk (no index): exactly min(k, groups) groups of group_size rows */
    check_grouped(db, q, "tag", by_tag, keep_all, NULL, 4, 0, 3);
    check_grouped(db, q, "tag", by_tag, keep_all, NULL, 20, 0, 2);  /* 10 groups present */
    check_grouped(db, q, "tag", by_tag, keep_all, NULL, 3, 2, 5);   /* offset skips groups */
    check_grouped(db, q, "tag", by_tag, keep_odd, "id % 2 == 1", 10, 0, 4); /* 5 groups */
    check_grouped(db, q, "tag", by_tag, keep_few, "id < 6", 10, 0, 3); /* 1%: 6 groups of 1 */
    check_grouped(db, q, "id", by_id, keep_all, NULL, 7, 0, 2);     /* one row per group */
    check_grouped(db, q, "tag", by_tag, keep_all, NULL, 5, 0, 0);   /* group_size 0: 1 */

    /* an HNSW index on v1: the index is asked again until enough (full) groups are found */
    OK(vdb_create_index(db, COLL, "v1", "HNSW", "M=8,efConstruction=64"));
    OK(vdb_wait_for_index(db, COLL, "v1", UINT64_MAX));
    for (int strict = 0; strict < 2; strict++) {
        vdb_search_req req = {.struct_size = sizeof req, .collection = COLL,
                              .vector_field = "v1", .vectors = q, .nq = 1, .dim = 8, .k = 10,
                              .group_by_field = "tag", .group_size = 20,
                              .strict_group_size = strict, .read = {0}};
        vdb_result *r;
        OK(vdb_search(db, &req, &r));
        assert_int_equal(vdb_result_rows(r, 0), 10 * 20); /* 10 groups of 20 (60 rows each) */
        int64_t per[10] = {0};
        for (size_t j = 0; j < 200; j++)
            per[vdb_result_pk_int(r, 0, j) % 10]++;
        for (int g = 0; g < 10; g++)
            assert_int_equal(per[g], 20);
        vdb_result_free(r);
    }
    /* 1%-selective filter through the index */
    vdb_search_req few = {.struct_size = sizeof few, .collection = COLL, .vector_field = "v1",
                          .vectors = q, .nq = 1, .dim = 8, .k = 10, .filter = "id < 6",
                          .group_by_field = "tag", .group_size = 3};
    vdb_result *r;
    OK(vdb_search(db, &few, &r));
    assert_int_equal(vdb_result_rows(r, 0), 6);
    vdb_result_free(r);

    /* errors */
    few.group_by_field = "v2";
    ERR(vdb_search(db, &few, &r), VDB_EINVAL, "v2");
    few.group_by_field = "nosuch";
    ERR(vdb_search(db, &few, &r), VDB_EINVAL, "nosuch");
    few.group_by_field = NULL;
    ERR(vdb_search(db, &few, &r), VDB_EINVAL, "group_by_field");
    few.group_by_field = "tag";
    few.group_size = 5000;
    ERR(vdb_search(db, &few, &r), VDB_EINVAL, "group_size");
    few.group_size = 1;
    few.params = "radius=5";
    ERR(vdb_search(db, &few, &r), VDB_EUNSUPPORTED, "range");
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* Hybrid search with grouping: the reference fuses each request's own grouping search by RRF
 * (rank = position in its result), then groups the fused rows best first by tag. */
typedef struct fused { int64_t id; double s; } fused;

static int by_fused(const void *x, const void *y)
{
    const fused *a = x, *b = y;
    if (a->s != b->s)
        return a->s > b->s ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static void check_hybrid_grouped(vdb_db *db, const float *q1, const float *q2,
                                 const char *filter, uint32_t sub_limit, uint32_t limit,
                                 uint32_t offset, uint32_t gs, size_t want_groups)
{
    const float *qs[2] = {q1, q2};
    vdb_ann_req a[2];
    const vdb_ann_req *ap[2] = {&a[0], &a[1]};
    fused f[2 * N];
    size_t nf = 0;
    for (int i = 0; i < 2; i++) {
        a[i] = (vdb_ann_req){.struct_size = sizeof a[i], .vector_field = names[i],
                             .vectors = qs[i], .nq = 1, .dim = dims[i], .limit = sub_limit,
                             .filter = filter};
        vdb_search_req sr = {.struct_size = sizeof sr, .collection = COLL,
                             .vector_field = names[i], .vectors = qs[i], .nq = 1,
                             .dim = dims[i], .k = sub_limit, .filter = filter,
                             .group_by_field = "tag", .group_size = gs};
        vdb_result *r;
        OK(vdb_search(db, &sr, &r));
        for (size_t j = 0; j < vdb_result_rows(r, 0); j++) {
            int64_t id = vdb_result_pk_int(r, 0, j);
            double sc = 1.0 / (60.0 + (double)(j + 1));
            size_t k = 0;
            while (k < nf && f[k].id != id)
                k++;
            if (k == nf)
                f[nf++] = (fused){id, 0};
            f[k].s += sc;
        }
        vdb_result_free(r);
    }
    qsort(f, nf, sizeof *f, by_fused);
    int64_t groups[N], want[N];
    size_t ng = 0, nw = 0;
    for (size_t j = 0; j < nf; j++) {
        size_t g = 0;
        while (g < ng && groups[g] != f[j].id % 10)
            g++;
        if (g == ng)
            groups[ng++] = f[j].id % 10;
    }
    for (size_t g = offset; g < ng && g < offset + limit; g++)
        for (size_t j = 0, in = 0; j < nf && in < gs; j++)
            if (f[j].id % 10 == groups[g]) {
                want[nw++] = f[j].id;
                in++;
            }
    vdb_hybrid_req h = {.struct_size = sizeof h, .collection = COLL, .reqs = ap, .n_reqs = 2,
                        .ranker = VDB_RANKER_RRF, .limit = limit, .offset = offset,
                        .group_by_field = "tag", .group_size = gs};
    vdb_result *r;
    OK(vdb_hybrid_search(db, &h, &r));
    if (vdb_result_rows(r, 0) != nw || nw != want_groups * gs)
        fail_msg("hybrid grouping limit %u offset %u size %u: %zu rows, the reference %zu, "
                 "expected %zu groups", limit, offset, gs, vdb_result_rows(r, 0), nw,
                 want_groups);
    for (size_t j = 0; j < nw; j++)
        assert_int_equal(vdb_result_pk_int(r, 0, j), want[j]);
    vdb_result_free(r);
}

static void test_hybrid_grouping_and_round_decimal(void **state)
{
    (void)state;
    char *dir = test_tmpdir("hybrid_group2");
    make_vectors();
    vdb_db *db = open_db(dir);
    create(db);
    insert_range(db, 0, 300);
    OK(vdb_flush(db, COLL));
    insert_range(db, 300, N);
    float q1[8] = {0.3f, -0.1f, 0.2f, 0.0f, -0.4f, 0.1f, 0.25f, -0.2f};
    float q2[4] = {0.5f, 0.2f, -0.3f, 0.1f};
    check_hybrid_grouped(db, q1, q2, NULL, 10, 4, 0, 3, 4);
    check_hybrid_grouped(db, q1, q2, NULL, 10, 20, 0, 2, 10); /* 10 groups present */
    check_hybrid_grouped(db, q1, q2, NULL, 10, 3, 2, 4, 3);   /* offset skips groups */
    check_hybrid_grouped(db, q1, q2, "id < 6", 10, 10, 0, 1, 6); /* 1%: 6 groups */
    vdb_hybrid_req h = {.struct_size = sizeof h, .collection = COLL, .n_reqs = 1,
                        .ranker = VDB_RANKER_RRF, .limit = 3, .group_size = 2};
    vdb_ann_req a = {.struct_size = sizeof a, .vector_field = "v1", .vectors = q1, .nq = 1,
                     .dim = 8, .limit = 5};
    const vdb_ann_req *ap[1] = {&a};
    h.reqs = ap;
    vdb_result *r;
    ERR(vdb_hybrid_search(db, &h, &r), VDB_EINVAL, "group_by_field");
    h.group_by_field = "v2";
    ERR(vdb_hybrid_search(db, &h, &r), VDB_EINVAL, "v2");

    /* round_decimal, a search parameter honoured by the library itself */
    vdb_search_req sr = {.struct_size = sizeof sr, .collection = COLL, .vector_field = "v1",
                         .vectors = q1, .nq = 1, .dim = 8, .k = 20};
    vdb_result *raw, *rd;
    OK(vdb_search(db, &sr, &raw));
    for (int n = -1; n <= 6; n++) {
        char p[64];
        snprintf(p, sizeof p, "ef=32,round_decimal=%d", n);
        sr.params = p;
        OK(vdb_search(db, &sr, &rd));
        assert_int_equal(vdb_result_rows(rd, 0), 20);
        double m = pow(10.0, n);
        for (size_t j = 0; j < 20; j++) {
            float d = vdb_result_distance(raw, 0, j);
            float want = n < 0 ? d : (float)(round((double)d * m) / m);
            assert_int_equal(vdb_result_pk_int(rd, 0, j), vdb_result_pk_int(raw, 0, j));
            if (vdb_result_distance(rd, 0, j) != want)
                fail_msg("round_decimal=%d: %.9g, expected %.9g", n,
                         (double)vdb_result_distance(rd, 0, j), (double)want);
        }
        vdb_result_free(rd);
    }
    vdb_result_free(raw);
    const char *bad[] = {"round_decimal=7", "round_decimal=-2", "round_decimal=x"};
    for (int i = 0; i < 3; i++) {
        sr.params = bad[i];
        ERR(vdb_search(db, &sr, &rd), VDB_EINVAL, "round_decimal");
    }
    /* grouped results are rounded too */
    sr.params = "round_decimal=1";
    sr.group_by_field = "tag";
    OK(vdb_search(db, &sr, &rd));
    for (size_t j = 0; j < vdb_result_rows(rd, 0); j++) {
        double d = vdb_result_distance(rd, 0, j);
        assert_true(fabs(d * 10 - round(d * 10)) < 1e-4);
    }
    vdb_result_free(rd);

    /* hybrid: round_decimal rounds the fused scores, the ranking stays that of the raw ones */
    float q2b[4] = {0.1f, -0.2f, 0.3f, 0.05f};
    vdb_ann_req a2 = {.struct_size = sizeof a2, .vector_field = "v2", .vectors = q2b,
                      .nq = 1, .dim = 4, .limit = 15};
    a.limit = 15;
    const vdb_ann_req *two[2] = {&a, &a2};
    vdb_hybrid_req hr = {.struct_size = sizeof hr, .collection = COLL, .reqs = two,
                         .n_reqs = 2, .ranker = VDB_RANKER_RRF, .limit = 12};
    OK(vdb_hybrid_search(db, &hr, &raw));
    for (int n = -1; n <= 6; n++) {
        char p[32];
        snprintf(p, sizeof p, "round_decimal=%d", n);
        hr.params = p;
        OK(vdb_hybrid_search(db, &hr, &rd));
        assert_int_equal(vdb_result_rows(rd, 0), vdb_result_rows(raw, 0));
        double m = pow(10.0, n);
        for (size_t j = 0; j < vdb_result_rows(raw, 0); j++) {
            float d = vdb_result_distance(raw, 0, j);
            float want = n < 0 ? d : (float)(round((double)d * m) / m);
            assert_int_equal(vdb_result_pk_int(rd, 0, j), vdb_result_pk_int(raw, 0, j));
            if (vdb_result_distance(rd, 0, j) != want)
                fail_msg("hybrid round_decimal=%d: %.9g, expected %.9g", n,
                         (double)vdb_result_distance(rd, 0, j), (double)want);
        }
        vdb_result_free(rd);
    }
    vdb_result_free(raw);
    const char *hbad[] = {"round_decimal=7", "round_decimal=x", "ef=16"};
    for (int i = 0; i < 3; i++) {
        hr.params = hbad[i];
        ERR(vdb_hybrid_search(db, &hr, &rd), VDB_EINVAL, i < 2 ? "round_decimal" : "ef");
    }
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_fields_lifecycle),
        cmocka_unit_test(test_hybrid_fusion),
        cmocka_unit_test(test_search_offset),
        cmocka_unit_test(test_grouping_search),
        cmocka_unit_test(test_hybrid_grouping_and_round_decimal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* End-to-end tests of full-text search through the public API: a BM25 function from an
 * analyzed VARCHAR field to a SPARSE_FLOAT_VECTOR field, computed at insert; text queries
 * whose scores equal (1e-4) a reference BM25 computed here over the same tokens of the rows
 * visible at the read, on 50,000+ documents of text Debian ships, across sealed segments
 * (with SPARSE_INVERTED_INDEX, metric BM25, bm25_k1 / bm25_b) and growing ones in two
 * shards, after deletes, at a travel timestamp before them, with a filter and after a reopen;
 * the schema's analyzer settings and function kept; the refusals. */
#define _GNU_SOURCE
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vdb/vdb.h>

#include "core/partkey.h"
#include "sparse_corpus.h"
#include "test_api.h"
#include "text/text.h"

#define ANALYZER "{\"type\": \"english\"}"
#define NDOCS 52000

/* A document's terms as the BM25 function makes them: murmur3 of each token, counted. */
typedef struct doc_terms {
    uint32_t n;
    uint32_t *id;
    float *tf;
    double len;
} doc_terms;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void terms_of(const vdb_analyzer *a, const char *text, doc_terms *out)
{
    vdb_tokens tk = {0};
    OK(vdb_analyze(a, text, strlen(text), &tk));
    uint32_t *h = malloc((tk.n + 1) * sizeof *h);
    for (size_t i = 0; i < tk.n; i++)
        h[i] = vdb_murmur3_32(vdb_token_str(&tk, i), tk.t[i].len, 0);
    qsort(h, tk.n, sizeof *h, cmp_u32);
    out->id = malloc((tk.n + 1) * sizeof *out->id);
    out->tf = malloc((tk.n + 1) * sizeof *out->tf);
    out->n = 0;
    out->len = (double)tk.n;
    for (size_t i = 0; i < tk.n; i++) {
        if (out->n && out->id[out->n - 1] == h[i]) {
            out->tf[out->n - 1] += 1;
            continue;
        }
        out->id[out->n] = h[i];
        out->tf[out->n++] = 1;
    }
    free(h);
    vdb_tokens_free(&tk);
}

static float tf_of(const doc_terms *d, uint32_t t)
{
    const uint32_t *hit = bsearch(&t, d->id, d->n, sizeof t, cmp_u32);
    return hit ? d->tf[hit - d->id] : 0.0f;
}

/* Reference BM25 scores of query q over the documents for which visible[i]. */
static void reference(const doc_terms *docs, size_t n, const bool *visible,
                      const doc_terms *q, double k1, double b, double *score)
{
    double N = 0, total = 0;
    double *df = calloc(q->n + 1, sizeof *df);
    for (size_t i = 0; i < n; i++) {
        if (!visible[i])
            continue;
        N += 1;
        total += docs[i].len;
        for (uint32_t j = 0; j < q->n; j++)
            df[j] += tf_of(&docs[i], q->id[j]) > 0;
    }
    double avgdl = total / N;
    for (size_t i = 0; i < n; i++) {
        score[i] = 0;
        if (!visible[i])
            continue;
        for (uint32_t j = 0; j < q->n; j++) {
            double tf = tf_of(&docs[i], q->id[j]);
            if (tf == 0)
                continue;
            double idf = log(1.0 + (N - df[j] + 0.5) / (df[j] + 0.5));
            score[i] += q->tf[j] * idf * tf * (k1 + 1) /
                        (tf + k1 * (1 - b + b * docs[i].len / avgdl));
        }
    }
    free(df);
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x > y ? -1 : x < y;
}

static bool close_to(double got, double want)
{
    return fabs(got - want) <= 1e-4 * fmax(1.0, fabs(want));
}

typedef struct fixture {
    texts t;
    doc_terms *docs;
    vdb_analyzer *a;
    bool *visible;
    double *score, *sorted;
} fixture;

/* Searches text and checks every hit's score against the reference, the hit count and the
 * ranking (the j-th score is the reference's j-th best). */
static void check_query(vdb_db *db, fixture *f, const char *text, uint64_t travel,
                        const char *filter, double k1, double b)
{
    enum { K = 10 };
    doc_terms q;
    terms_of(f->a, text, &q);
    size_t n = f->t.n;
    reference(f->docs, n, f->visible, &q, k1, b, f->score);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (f->score[i] > 0 && (!filter || i % 2 == 0))
            f->sorted[m++] = f->score[i];
    qsort(f->sorted, m, sizeof *f->sorted, cmp_desc);
    const char *texts_[] = {text};
    vdb_search_req req = {.struct_size = sizeof req, .collection = "ft", .nq = 1, .k = K,
                          .vector_field = "sparse", .texts = texts_, .filter = filter};
    req.read.travel_ts = travel;
    vdb_result *r;
    OK(vdb_search(db, &req, &r));
    size_t got = vdb_result_rows(r, 0);
    if (got != (m < K ? m : K))
        fail_msg("'%s': %zu hits, the reference has %zu", text, got, m < K ? m : K);
    for (size_t j = 0; j < got; j++) {
        int64_t id = vdb_result_pk_int(r, 0, j);
        double d = vdb_result_distance(r, 0, j);
        assert_true(id >= 0 && (size_t)id < n && f->visible[id]);
        if (filter)
            assert_true(id % 2 == 0);
        if (!close_to(d, f->score[id]) || !close_to(d, f->sorted[j]))
            fail_msg("'%s' hit %zu (row %lld): score %.6f, the reference's %.6f (its %zu-th "
                     "best %.6f)", text, j, (long long)id, d, f->score[id], j, f->sorted[j]);
    }
    vdb_result_free(r);
    free(q.id);
    free(q.tf);
}

static const char *const queries[] = {
    "software license", "copyright holders permission", "warranty of merchantability",
    "GNU General Public License version 2", "distributed in the hope that it will be useful",
    "Debian packaging", "redistribution and use in source and binary forms",
    "the Free Software Foundation", "zlib compression library", "public domain",
};

static void check_all(vdb_db *db, fixture *f, uint64_t travel, double k1, double b)
{
    for (size_t q = 0; q < VDB_ARRAY_LEN(queries); q++)
        check_query(db, f, queries[q], travel, NULL, k1, b);
    /* a document's own words as the query */
    for (size_t q = 0; q < 5; q++)
        check_query(db, f, f->t.docs[(q * 7919) % f->t.n], travel, NULL, k1, b);
    /* the filter narrows the hits, not the statistics */
    check_query(db, f, queries[0], travel, "id % 2 == 0", k1, b);
}

static vdb_db *open_db(const char *dir)
{
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    o.segment_max_rows = 9000;
    vdb_db *db = NULL;
    OK(vdb_open(dir, &o, &db));
    return db;
}

static void test_bm25_equals_reference_across_segments_deletes_and_travel(void **state)
{
    (void)state;
    fixture f = {0};
    build_texts(&f.t, NDOCS);
    if (f.t.n < NDOCS)
        skip(); /* a system without Debian's documentation files */
    size_t n = f.t.n;
    OK(vdb_analyzer_new(ANALYZER, strlen(ANALYZER), "test", &f.a));
    f.docs = calloc(n, sizeof *f.docs);
    f.visible = malloc(n * sizeof *f.visible);
    f.score = malloc(n * sizeof *f.score);
    f.sorted = malloc(n * sizeof *f.sorted);
    for (size_t i = 0; i < n; i++) {
        terms_of(f.a, f.t.docs[i], &f.docs[i]);
        f.visible[i] = true;
    }
    char *dir = test_tmpdir("fulltext");
    vdb_db *db = open_db(dir);
    vdb_schema *s;
    OK(vdb_schema_new("ft", &s));
    OK(vdb_schema_set_shards(s, 2));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "text", .type = VDB_TYPE_VARCHAR,
                                         .max_length = 16384, .enable_analyzer = 1,
                                         .analyzer_params = ANALYZER)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "sparse",
                                         .type = VDB_TYPE_SPARSE_FLOAT_VECTOR)));
    vdb_function_def fn = {.struct_size = sizeof fn, .name = "text_bm25",
                           .type = VDB_FUNCTION_BM25, .input_field = "text",
                           .output_field = "sparse"};
    OK(vdb_schema_add_function(s, &fn));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
    /* the first 60% sealed and indexed (bm25_k1, bm25_b of the index), the rest half sealed
     * without a build yet... searched exactly, half growing */
    uint64_t ts = 0;
    for (size_t at = 0; at < n; at += 4000) {
        size_t m = n - at < 4000 ? n - at : 4000;
        int64_t *ids = malloc(m * sizeof *ids);
        for (size_t i = 0; i < m; i++)
            ids[i] = (int64_t)(at + i);
        vdb_batch *b;
        OK(vdb_batch_new(&b));
        OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, m, 0));
        OK(vdb_batch_add_column(b, "text", VDB_TYPE_VARCHAR, f.t.docs + at, NULL, m, 0));
        OK(vdb_insert(db, "ft", NULL, b, &ts, NULL));
        vdb_batch_free(b);
        free(ids);
        if (at == 28000) {
            OK(vdb_flush(db, "ft"));
            OK(vdb_create_index(db, "ft", "sparse", "SPARSE_INVERTED_INDEX",
                                "metric_type=BM25,bm25_k1=1.5,bm25_b=0.6"));
            OK(vdb_wait_for_index(db, "ft", "sparse", 600000));
        }
    }
    check_all(db, &f, 0, 1.5, 0.6);
    /* deletes: the deleted rows leave the statistics */
    uint64_t before = ts;
    size_t nd = 0;
    int64_t *del = malloc(n * sizeof *del);
    for (size_t i = 0; i < n; i += 7)
        del[nd++] = (int64_t)i;
    vdb_pk_list pk = {.ints = del, .count = nd};
    OK(vdb_delete(db, "ft", NULL, &pk, &ts));
    free(del);
    for (size_t i = 0; i < n; i += 7)
        f.visible[i] = false;
    check_all(db, &f, 0, 1.5, 0.6);
    /* time travel to before the deletes: they count again */
    for (size_t i = 0; i < n; i++)
        f.visible[i] = true;
    check_all(db, &f, before, 1.5, 0.6);
    /* reopen: the schema's analyzer and function are kept; the scores are the same */
    vdb_close(db);
    db = open_db(dir);
    for (size_t i = 0; i < n; i += 7)
        f.visible[i] = false;
    check_all(db, &f, 0, 1.5, 0.6);
    vdb_schema *back;
    OK(vdb_describe_collection(db, "ft", &back));
    assert_int_equal(vdb_schema_function_count(back), 1);
    vdb_function_def fb = {.struct_size = sizeof fb};
    OK(vdb_schema_function(back, 0, &fb));
    assert_string_equal(fb.name, "text_bm25");
    assert_int_equal(fb.type, VDB_FUNCTION_BM25);
    assert_string_equal(fb.input_field, "text");
    assert_string_equal(fb.output_field, "sparse");
    vdb_field_def d = {.struct_size = sizeof d};
    OK(vdb_schema_field(back, 1, &d));
    assert_true(d.enable_analyzer);
    assert_string_equal(d.analyzer_params, ANALYZER);
    OK(vdb_schema_field(back, 2, &d));
    assert_int_equal(d.metric, VDB_METRIC_BM25);
    vdb_schema_free(back);
    /* the default k1, b without an index */
    OK(vdb_drop_index(db, "ft", "sparse"));
    check_query(db, &f, queries[3], 0, NULL, 1.2, 0.75);
    vdb_close(db);
    for (size_t i = 0; i < n; i++) {
        free(f.docs[i].id);
        free(f.docs[i].tf);
    }
    free(f.docs);
    free(f.visible);
    free(f.score);
    free(f.sorted);
    vdb_analyzer_free(f.a);
    texts_free(&f.t);
    test_rmdir(dir);
    free(dir);
}

static void test_refusals(void **state)
{
    (void)state;
    vdb_schema *s;
    OK(vdb_schema_new("r", &s));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1)));
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "n", .type = VDB_TYPE_INT64,
                                          .enable_analyzer = 1)), VDB_EINVAL, "VARCHAR");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "t", .type = VDB_TYPE_VARCHAR,
                                          .max_length = 100, .analyzer_params = ANALYZER)),
        VDB_EINVAL, "needs enable_analyzer");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "t", .type = VDB_TYPE_VARCHAR,
                                          .max_length = 100, .enable_analyzer = 1,
                                          .analyzer_params = "{\"tokenizer\": \"jieba\"}")),
        VDB_EUNSUPPORTED, "field 't'");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "t", .type = VDB_TYPE_VARCHAR,
                                          .max_length = 100, .enable_analyzer = 1,
                                          .enable_match = 1)),
        VDB_EUNSUPPORTED, "enable_match");
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "plain", .type = VDB_TYPE_VARCHAR,
                                         .max_length = 100)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "t", .type = VDB_TYPE_VARCHAR,
                                         .max_length = 100, .enable_analyzer = 1)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "sp", .type = VDB_TYPE_SPARSE_FLOAT_VECTOR)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "sp2", .type = VDB_TYPE_SPARSE_FLOAT_VECTOR)));
    vdb_function_def fn = {.struct_size = sizeof fn, .name = "f", .type = VDB_FUNCTION_BM25,
                           .input_field = "plain", .output_field = "sp"};
    ERR(vdb_schema_add_function(s, &fn), VDB_EINVAL, "enable_analyzer");
    fn.input_field = "t";
    fn.output_field = "nope";
    ERR(vdb_schema_add_function(s, &fn), VDB_EINVAL, "not in the schema");
    fn.output_field = "t";
    ERR(vdb_schema_add_function(s, &fn), VDB_EINVAL, "SPARSE_FLOAT_VECTOR");
    fn.output_field = "sp";
    fn.type = 9;
    ERR(vdb_schema_add_function(s, &fn), VDB_EINVAL, "function type");
    fn.type = VDB_FUNCTION_BM25;
    OK(vdb_schema_add_function(s, &fn));
    ERR(vdb_schema_add_function(s, &fn), VDB_EEXIST, "'f'");
    fn.name = "g";
    ERR(vdb_schema_add_function(s, &fn), VDB_EINVAL, "already the output");
    char *dir = test_tmpdir("fulltext_refusals");
    vdb_db *db = open_db(dir);
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
    int64_t id = 1;
    const char *txt = "hello world", *bad = "bad \xff";
    vdb_sparse_row row = {0};
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, &id, NULL, 1, 0));
    OK(vdb_batch_add_column(b, "t", VDB_TYPE_VARCHAR, &txt, NULL, 1, 0));
    OK(vdb_batch_add_column(b, "plain", VDB_TYPE_VARCHAR, &txt, NULL, 1, 0));
    OK(vdb_batch_add_column(b, "sp2", VDB_TYPE_SPARSE_FLOAT_VECTOR, &row, NULL, 1, 0));
    OK(vdb_batch_add_column(b, "sp", VDB_TYPE_SPARSE_FLOAT_VECTOR, &row, NULL, 1, 0));
    ERR(vdb_insert(db, "r", NULL, b, NULL, NULL), VDB_EINVAL, "output of BM25 function");
    vdb_batch_free(b);
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, &id, NULL, 1, 0));
    OK(vdb_batch_add_column(b, "t", VDB_TYPE_VARCHAR, &bad, NULL, 1, 0));
    OK(vdb_batch_add_column(b, "plain", VDB_TYPE_VARCHAR, &txt, NULL, 1, 0));
    OK(vdb_batch_add_column(b, "sp2", VDB_TYPE_SPARSE_FLOAT_VECTOR, &row, NULL, 1, 0));
    ERR(vdb_insert(db, "r", NULL, b, NULL, NULL), VDB_EINVAL, "UTF-8");
    vdb_batch_free(b);
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, &id, NULL, 1, 0));
    OK(vdb_batch_add_column(b, "t", VDB_TYPE_VARCHAR, &txt, NULL, 1, 0));
    OK(vdb_batch_add_column(b, "plain", VDB_TYPE_VARCHAR, &txt, NULL, 1, 0));
    OK(vdb_batch_add_column(b, "sp2", VDB_TYPE_SPARSE_FLOAT_VECTOR, &row, NULL, 1, 0));
    OK(vdb_insert(db, "r", NULL, b, NULL, NULL));
    vdb_batch_free(b);
    /* the computed vector: "hello" and "world", once each */
    const char *outs[] = {"sp"};
    vdb_pk_list pk = {.ints = &id, .count = 1};
    vdb_result *r;
    OK(vdb_get(db, "r", &pk, VDB_READ_OPTS(.output_fields = outs, .n_output_fields = 1), &r));
    vdb_value v;
    OK(vdb_result_field(r, 0, 0, "sp", &v));
    assert_int_equal(v.u.sparse.count, 2);
    uint32_t h1 = vdb_murmur3_32("hello", 5, 0), h2 = vdb_murmur3_32("world", 5, 0);
    assert_true((v.u.sparse.indices[0] == VDB_MIN(h1, h2)) &&
                (v.u.sparse.indices[1] == VDB_MAX(h1, h2)));
    assert_true(v.u.sparse.values[0] == 1.0f && v.u.sparse.values[1] == 1.0f);
    vdb_result_free(r);
    /* texts for the BM25 field only; sparse vectors not for it */
    const char *q[] = {"hello"};
    vdb_search_req req = {.struct_size = sizeof req, .collection = "r", .nq = 1, .k = 3,
                          .vector_field = "sp2", .texts = q};
    ERR(vdb_search(db, &req, &r), VDB_EINVAL, "sparse_vectors");
    req.vector_field = "sp";
    req.texts = NULL;
    req.sparse_vectors = &row;
    ERR(vdb_search(db, &req, &r), VDB_EINVAL, "texts");
    req.sparse_vectors = NULL;
    req.texts = q;
    OK(vdb_search(db, &req, &r));
    assert_int_equal(vdb_result_rows(r, 0), 1);
    vdb_result_free(r);
    ERR(vdb_create_index(db, "r", "sp", "SPARSE_INVERTED_INDEX", "metric_type=IP"), VDB_EINVAL,
        "metric_type");
    ERR(vdb_create_index(db, "r", "sp2", "SPARSE_INVERTED_INDEX", "bm25_k1=1.3"), VDB_EINVAL,
        "bm25_k1");
    OK(vdb_create_index(db, "r", "sp", "AUTOINDEX", "metric_type=BM25"));
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bm25_equals_reference_across_segments_deletes_and_travel),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Benchmark of full-text search through the public API on raw text documents of Debian's
 * license and copyright files (tests/sparse_corpus.c): the insert rate with the BM25 function
 * (analyzer "english": tokenizing, stemming, term vectors), the SPARSE_INVERTED_INDEX build
 * rate (metric BM25) over the sealed segments, and text queries/s (one query a call, k = 10),
 * exact (no index) and indexed, for each inverted_index_algo.
 *   bench_fulltext [docs=60000] [queries=500] [dir=/tmp/bench_fulltext] */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vdb/vdb.h>

#include "sparse_corpus.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static const char *arg_s(int argc, char **argv, const char *key, const char *def)
{
    size_t n = strlen(key);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], key, n) && argv[i][n] == '=')
            return argv[i] + n + 1;
    return def;
}

#define CHECK(expr)                                                                          \
    do {                                                                                     \
        vdb_status st_ = (expr);                                                             \
        if (st_ != VDB_OK) {                                                                 \
            fprintf(stderr, "%s: %s\n", #expr, vdb_errmsg(NULL));                            \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

/* queries: 2..5 consecutive words of a document */
static char **make_queries(const texts *t, size_t nq)
{
    char **q = calloc(nq, sizeof *q);
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < nq; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        const char *d = t->docs[s % t->n];
        size_t words = 2 + (s >> 20) % 4, len = 0, w = 0;
        while (d[len] && w < words) {
            if (d[len] == ' ' || d[len] == '\n')
                w++;
            len++;
        }
        q[i] = strndup(d, len);
    }
    return q;
}

static double run_queries(vdb_db *db, char **q, size_t nq, const char *params, size_t *hits)
{
    double t0 = now();
    *hits = 0;
    for (size_t i = 0; i < nq; i++) {
        const char *text[] = {q[i]};
        vdb_search_req req = {.struct_size = sizeof req, .collection = "ft", .nq = 1, .k = 10,
                              .vector_field = "sparse", .texts = text, .params = params};
        vdb_result *r;
        CHECK(vdb_search(db, &req, &r));
        *hits += vdb_result_rows(r, 0);
        vdb_result_free(r);
    }
    return (double)nq / (now() - t0);
}

int main(int argc, char **argv)
{
    size_t ndocs = (size_t)atol(arg_s(argc, argv, "docs", "60000"));
    size_t nq = (size_t)atol(arg_s(argc, argv, "queries", "500"));
    const char *dir = arg_s(argc, argv, "dir", "/tmp/bench_fulltext");
    texts t = {0};
    build_texts(&t, ndocs);
    size_t bytes = 0;
    for (size_t i = 0; i < t.n; i++)
        bytes += strlen(t.docs[i]);
    printf("corpus: %zu documents, %.1f MB of text\n", t.n, (double)bytes / 1e6);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    vdb_options o;
    vdb_options_init(&o);
    o.segment_max_rows = 20000;
    vdb_db *db;
    CHECK(vdb_open(dir, &o, &db));
    vdb_schema *s;
    CHECK(vdb_schema_new("ft", &s));
    CHECK(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                            .is_primary = 1)));
    CHECK(vdb_schema_add_field(s, VDB_FIELD(.name = "text", .type = VDB_TYPE_VARCHAR,
                                            .max_length = 16384, .enable_analyzer = 1,
                                            .analyzer_params = "{\"type\": \"english\"}")));
    CHECK(vdb_schema_add_field(s, VDB_FIELD(.name = "sparse",
                                            .type = VDB_TYPE_SPARSE_FLOAT_VECTOR)));
    vdb_function_def fn = {.struct_size = sizeof fn, .name = "bm25", .type = VDB_FUNCTION_BM25,
                           .input_field = "text", .output_field = "sparse"};
    CHECK(vdb_schema_add_function(s, &fn));
    CHECK(vdb_create_collection(db, s));
    vdb_schema_free(s);
    double t0 = now();
    for (size_t at = 0; at < t.n; at += 5000) {
        size_t m = t.n - at < 5000 ? t.n - at : 5000;
        int64_t *ids = malloc(m * sizeof *ids);
        for (size_t i = 0; i < m; i++)
            ids[i] = (int64_t)(at + i);
        vdb_batch *b;
        CHECK(vdb_batch_new(&b));
        CHECK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, m, 0));
        CHECK(vdb_batch_add_column(b, "text", VDB_TYPE_VARCHAR, t.docs + at, NULL, m, 0));
        CHECK(vdb_insert(db, "ft", NULL, b, NULL, NULL));
        vdb_batch_free(b);
        free(ids);
    }
    double ins = now() - t0;
    CHECK(vdb_flush(db, "ft"));
    printf("insert (analyzer english + BM25 function): %.0f docs/s, %.1f MB/s of text\n",
           (double)t.n / ins, (double)bytes / 1e6 / ins);
    char **q = make_queries(&t, nq);
    size_t hits;
    double exact = run_queries(db, q, nq, NULL, &hits);
    printf("exact (no index): %.0f q/s (%.1f hits a query)\n", exact, (double)hits / (double)nq);
    static const char *const algos[] = {"DAAT_MAXSCORE", "DAAT_WAND", "TAAT_NAIVE"};
    for (int a = 0; a < 3; a++) {
        char params[128];
        snprintf(params, sizeof params, "metric_type=BM25,inverted_index_algo=%s", algos[a]);
        t0 = now();
        CHECK(vdb_create_index(db, "ft", "sparse", "SPARSE_INVERTED_INDEX", params));
        CHECK(vdb_wait_for_index(db, "ft", "sparse", 600000));
        double build = now() - t0;
        double qps = run_queries(db, q, nq, NULL, &hits);
        printf("SPARSE_INVERTED_INDEX %s: build %.0f docs/s, %.0f q/s\n", algos[a],
               (double)t.n / build, qps);
        CHECK(vdb_drop_index(db, "ft", "sparse"));
    }
    vdb_close(db);
    for (size_t i = 0; i < nq; i++)
        free(q[i]);
    free(q);
    texts_free(&t);
    if (system(cmd) != 0)
        return 1;
    return 0;
}

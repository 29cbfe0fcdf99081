/* Tests of the HNSW index: recall against brute force, bitsets, serialization and corruption, threads, edges. */
#include "test_vectors.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/vector/hnsw.h"
#include "index/vector/sq8.h"
#include "index/vector/vindex.h"

/* Sanitizers make the build ~10x slower: fewer rows keep the test within its budget. */
/* TSan (~15x) runs fewer rows still: it is there for the threads, not for recall. */
#if defined(__SANITIZE_THREAD__)
#define ROWS 1000
#elif defined(__SANITIZE_ADDRESS__)
#define ROWS 3000
#else
#define ROWS 10000
#endif
#define NQ 100
#define K 10

/* Mean recall@K of the index over queries, checking every hit is allowed, distinct, and
 * carries the score vdb_dist gives it. */
static double recall(const vdb_hnsw *h, const float *base, size_t n, uint32_t dim, vdb_metric m,
                     const float *qs, size_t nq, uint32_t ef, const uint64_t *bs, size_t nallowed)
{
    bool hb = vdb_metric_higher_is_better(m);
    vdb_topk got, want;
    assert_int_equal(vdb_topk_init(&got, K, hb), VDB_OK);
    assert_int_equal(vdb_topk_init(&want, K, hb), VDB_OK);
    size_t hit = 0, total = 0;
    for (size_t q = 0; q < nq; q++) {
        const float *qv = qs + q * dim;
        vdb_topk_reset(&got);
        assert_int_equal(vdb_hnsw_search(h, qv, K, ef, bs, 0, &got), VDB_OK);
        test_truth(base, n, dim, m, qv, bs, &want);
        assert_int_equal(got.n, VDB_MIN((size_t)K, nallowed));
        for (size_t i = 0; i < got.n; i++) {
            int64_t r = got.id[i];
            assert_true(r >= 0 && (size_t)r < n && test_bit(bs, (size_t)r));
            for (size_t j = 0; j < i; j++)
                assert_true(got.id[j] != r);
            float s = vdb_dist(m, qv, base + (size_t)r * dim, dim);
            assert_true(fabsf(s - got.dist[i]) <= 1e-3f * (1 + fabsf(s)));
            for (size_t j = 0; j < want.n; j++)
                if (want.id[j] == r) {
                    hit++;
                    break;
                }
        }
        total += want.n;
    }
    vdb_topk_free(&got);
    vdb_topk_free(&want);
    return total ? (double)hit / (double)total : 1.0;
}

typedef struct dataset {
    float *base; /* ROWS + NQ rows: the last NQ are the queries */
    uint32_t dim;
} dataset;

static dataset data_for(vdb_metric m)
{
    dataset d = {NULL, 784};
    if (m != VDB_METRIC_IP)
        d.base = test_load_fmnist(ROWS + NQ);
    if (!d.base) {
        d.dim = 64;
        d.base = test_clustered(ROWS + NQ, d.dim, 7 + (uint64_t)m);
    }
    return d;
}

static void progress_cb(void *arg, size_t done, size_t total)
{
    size_t *last = arg;
    assert_true(done <= total && done >= *last);
    *last = done;
}

static void test_recall(void **state)
{
    (void)state;
    const vdb_metric ms[] = {VDB_METRIC_L2, VDB_METRIC_IP, VDB_METRIC_COSINE};
    for (size_t i = 0; i < VDB_ARRAY_LEN(ms); i++) {
        dataset d = data_for(ms[i]);
        vdb_hnsw *h;
        size_t last = 0;
        assert_int_equal(vdb_hnsw_build(d.base, ROWS, d.dim, ms[i], 16, 200, 2, progress_cb,
                                        &last, &h),
                         VDB_OK);
        assert_int_equal(last, ROWS);
        assert_true(vdb_hnsw_memory(h) > 0);
        double r = recall(h, d.base, ROWS, d.dim, ms[i], d.base + (size_t)ROWS * d.dim, NQ, 64,
                          NULL, ROWS);
        print_message("metric %s dim %u recall@10 %.4f (ef 64)\n", vdb_metric_name(ms[i]), d.dim,
                      r);
        assert_true(r >= 0.95);
        vdb_hnsw_free(h);
        free(d.base);
    }
}

static void test_bitset(void **state)
{
    (void)state;
    dataset d = data_for(VDB_METRIC_L2);
    vdb_hnsw *h;
    assert_int_equal(vdb_hnsw_build(d.base, ROWS, d.dim, VDB_METRIC_L2, 16, 200, 2, NULL, NULL,
                                    &h),
                     VDB_OK);
    const float *qs = d.base + (size_t)ROWS * d.dim;
    /* 50% goes through the graph walk, 90% through it or the scan depending on ef * n,
     * 99.9% through the scan */
    const uint32_t keep[] = {2, 10, 1000};
    const uint32_t efs[] = {16, 64};
    for (size_t i = 0; i < VDB_ARRAY_LEN(keep); i++) {
        size_t nallowed;
        uint64_t *bs = test_make_bitset(ROWS, keep[i], &nallowed);
        for (size_t e = 0; e < VDB_ARRAY_LEN(efs); e++) {
            double r = recall(h, d.base, ROWS, d.dim, VDB_METRIC_L2, qs, NQ, efs[e], bs,
                              nallowed);
            print_message("keep 1/%u (%zu rows) ef %u: recall@10 %.4f\n", keep[i], nallowed,
                          efs[e], r);
            assert_true(r >= 0.9);
        }
        free(bs);
    }
    /* nothing allowed: nothing returned */
    uint64_t *none = calloc((ROWS + 63) / 64, sizeof *none);
    vdb_topk t;
    assert_int_equal(vdb_topk_init(&t, K, false), VDB_OK);
    assert_int_equal(vdb_hnsw_search(h, qs, K, 32, none, 0, &t), VDB_OK);
    assert_int_equal(t.n, 0);
    vdb_topk_free(&t);
    free(none);
    vdb_hnsw_free(h);
    free(d.base);
}

/* Results of every query as a flat array of ids and scores. */
static void run_all(const vdb_hnsw *h, const float *qs, size_t nq, uint32_t dim, bool hb,
                    int64_t *ids, float *sc)
{
    vdb_topk t;
    assert_int_equal(vdb_topk_init(&t, K, hb), VDB_OK);
    for (size_t q = 0; q < nq; q++) {
        vdb_topk_reset(&t);
        assert_int_equal(vdb_hnsw_search(h, qs + q * dim, K, 32, NULL, 5, &t), VDB_OK);
        vdb_topk_sort(&t);
        for (size_t i = 0; i < K; i++) {
            ids[q * K + i] = i < t.n ? t.id[i] : -1;
            sc[q * K + i] = i < t.n ? t.dist[i] : 0;
        }
    }
    vdb_topk_free(&t);
}

static void test_roundtrip(void **state)
{
    (void)state;
    const size_t n = 2000, nq = 50;
    const uint32_t dim = 32;
    float *v = test_clustered(n + nq, dim, 3);
    const vdb_metric ms[] = {VDB_METRIC_L2, VDB_METRIC_IP, VDB_METRIC_COSINE};
    for (size_t m = 0; m < VDB_ARRAY_LEN(ms); m++) {
        vdb_hnsw *h, *h2;
        assert_int_equal(vdb_hnsw_build(v, n, dim, ms[m], 8, 64, 1, NULL, NULL, &h), VDB_OK);
        vdb_buf b = {0};
        vdb_buf_u32(&b, 0xabcdef); /* encode appends after what the buffer holds */
        assert_int_equal(vdb_hnsw_encode(h, &b), VDB_OK);
        assert_int_equal(vdb_hnsw_decode(b.p + 4, b.len - 4, v, n, dim, &h2), VDB_OK);
        assert_int_equal(vdb_hnsw_memory(h), vdb_hnsw_memory(h2));
        bool hb = vdb_metric_higher_is_better(ms[m]);
        int64_t ids1[50 * K], ids2[50 * K];
        float s1[50 * K], s2[50 * K];
        run_all(h, v + n * dim, nq, dim, hb, ids1, s1);
        run_all(h2, v + n * dim, nq, dim, hb, ids2, s2);
        assert_memory_equal(ids1, ids2, sizeof ids1);
        assert_memory_equal(s1, s2, sizeof s1);
        /* the same bytes again from the decoded graph */
        vdb_buf b2 = {0};
        assert_int_equal(vdb_hnsw_encode(h2, &b2), VDB_OK);
        assert_int_equal(b2.len, b.len - 4);
        assert_memory_equal(b2.p, b.p + 4, b2.len);
        /* one thread: the same graph from a second build */
        vdb_hnsw *h3;
        vdb_buf b3 = {0};
        assert_int_equal(vdb_hnsw_build(v, n, dim, ms[m], 8, 64, 1, NULL, NULL, &h3), VDB_OK);
        assert_int_equal(vdb_hnsw_encode(h3, &b3), VDB_OK);
        assert_memory_equal(b3.p, b2.p, b2.len);
        vdb_hnsw_free(h3);
        /* other rows than the graph's */
        vdb_hnsw *bad;
        assert_int_equal(vdb_hnsw_decode(b2.p, b2.len, v, n - 1, dim, &bad), VDB_ECORRUPT);
        assert_int_equal(vdb_hnsw_decode(b2.p, b2.len, v, n, dim + 1, &bad), VDB_ECORRUPT);
        vdb_buf_free(&b);
        vdb_buf_free(&b2);
        vdb_buf_free(&b3);
        vdb_hnsw_free(h);
        vdb_hnsw_free(h2);
    }
    free(v);
}

/* Decoded damage either fails with VDB_ECORRUPT (or VDB_EVERSION) or gives a usable index. */
static void try_decode(const uint8_t *p, size_t len, const float *v, size_t n, uint32_t dim,
                       const int64_t *ref_ids, bool must_match)
{
    vdb_hnsw *h = NULL;
    vdb_status st = vdb_hnsw_decode(p, len, v, n, dim, &h);
    if (st != VDB_OK) {
        assert_true(st == VDB_ECORRUPT || st == VDB_EVERSION);
        assert_null(h);
        return;
    }
    int64_t ids[20 * K];
    float sc[20 * K];
    run_all(h, v + n * dim, 20, dim, false, ids, sc);
    if (must_match)
        assert_memory_equal(ids, ref_ids, sizeof ids);
    vdb_hnsw_free(h);
}

static void test_corrupt(void **state)
{
    (void)state;
    const size_t n = 300;
    const uint32_t dim = 8;
    float *v = test_clustered(n + 20, dim, 5);
    vdb_hnsw *h;
    assert_int_equal(vdb_hnsw_build(v, n, dim, VDB_METRIC_L2, 4, 16, 1, NULL, NULL, &h), VDB_OK);
    vdb_buf b = {0};
    assert_int_equal(vdb_hnsw_encode(h, &b), VDB_OK);
    int64_t ref[20 * K];
    float sc[20 * K];
    run_all(h, v + n * dim, 20, dim, false, ref, sc);
    /* every prefix is refused (each copy is exactly len bytes so ASan sees any overread) */
    for (size_t len = 0; len < b.len; len++) {
        uint8_t *p = malloc(len ? len : 1);
        memcpy(p, b.p, len);
        vdb_hnsw *x = NULL;
        assert_int_equal(vdb_hnsw_decode(p, len, v, n, dim, &x), VDB_ECORRUPT);
        free(p);
    }
    uint8_t *p = malloc(b.len);
    uint64_t s = 11;
    for (int i = 0; i < 3000; i++) {
        memcpy(p, b.p, b.len);
        size_t at = test_rand(&s) % b.len;
        p[at] ^= (uint8_t)(1 + test_rand(&s) % 255);
        /* as stored: the checksum catches it */
        try_decode(p, b.len, v, n, dim, ref, true);
        /* with the checksum recomputed, the field checks must hold on their own */
        uint32_t crc = vdb_crc32c(0, p, b.len - 4);
        memcpy(p + b.len - 4, &crc, 4);
        try_decode(p, b.len, v, n, dim, ref, false);
    }
    free(p);
    vdb_buf_free(&b);
    vdb_hnsw_free(h);
    free(v);
}

/* Seen while reading what a search does with a graph fuzz_index decodes: a level-1 list
 * naming a row that has only level 0 passed every check, and the search then stepped to that
 * row and read its level-1 list, another row's or past the end of the upper lists. */
static size_t up64(size_t x) { return (x + 63) & ~(size_t)63; }

static void upper_list_naming_a_lower_row(uint32_t version)
{
    const size_t n = 300;
    const uint32_t dim = 8, M = 4, M0 = 8;
    float *v = test_clustered(n, dim, 9);
    vdb_hnsw *h;
    assert_int_equal(vdb_hnsw_build(v, n, dim, VDB_METRIC_L2, M, 16, 1, NULL, NULL, &h), VDB_OK);
    vdb_buf b = {0};
    assert_int_equal(vdb_hnsw_encode_version(h, version, &b), VDB_OK);
    /* where level[] and the upper lists are (hnsw_io.c): version 2 puts each array on a
     * 64-byte boundary after a 64-byte header and the quantizer's lo[dim] and step[dim] */
    size_t at_level = version == 1 ? 44 : up64(up64(64 + dim * 4) + dim * 4);
    size_t at_upper = version == 1 ? 44 + n + n * (M0 + 1) * 4
                                   : up64(up64(at_level + n) + n * (M0 + 1) * 4);
    const uint8_t *level = b.p + at_level;
    size_t first = n, low = n;
    for (size_t i = 0; i < n; i++) {
        if (level[i] >= 1 && first == n)
            first = i; /* its level-1 list is the first upper list */
        if (level[i] == 0)
            low = i; /* the last row with level 0 alone */
    }
    assert_true(first < n && low < n);
    uint8_t *upper = b.p + at_upper;
    uint32_t one = 1, to = (uint32_t)low;
    memcpy(upper, &one, 4);
    memcpy(upper + 4, &to, 4);
    uint32_t crc = vdb_crc32c(0, b.p, b.len - 4);
    memcpy(b.p + b.len - 4, &crc, 4);
    vdb_hnsw *x = NULL;
    vdb_err_clear();
    assert_int_equal(vdb_hnsw_decode(b.p, b.len, v, n, dim, &x), VDB_ECORRUPT);
    assert_non_null(strstr(vdb_err_get(), "below that level"));
    assert_null(x);
    if (version == 2) { /* in place: the same check, without the checksum */
        uint8_t *al = aligned_alloc(64, up64(b.len));
        memcpy(al, b.p, b.len);
        memset(al + b.len - 4, 0, 4);
        vdb_err_clear();
        assert_int_equal(vdb_hnsw_decode_view(al, b.len, VDB_TYPE_FLOAT_VECTOR, v, n, dim, &x),
                         VDB_ECORRUPT);
        assert_non_null(strstr(vdb_err_get(), "below that level"));
        free(al);
    }
    vdb_buf_free(&b);
    vdb_hnsw_free(h);
    free(v);
}

static void test_upper_list_naming_a_lower_row_is_corrupt(void **state)
{
    (void)state;
    upper_list_naming_a_lower_row(1);
    upper_list_naming_a_lower_row(2);
}

/* Format 1 (no codes) is still read, and answers as format 2 does; format 2 used in place
 * (a view over 64-byte aligned bytes) answers bit for bit as its heap copy, holding only
 * level[] and the list offsets on the heap. */
static void test_format1_and_view(void **state)
{
    (void)state;
    const size_t n = 2000, nq = 50;
    const uint32_t dim = 24;
    float *v = test_clustered(n + nq, dim, 4);
    const vdb_metric ms[] = {VDB_METRIC_L2, VDB_METRIC_IP, VDB_METRIC_COSINE};
    for (size_t m = 0; m < VDB_ARRAY_LEN(ms); m++) {
        vdb_hnsw *h, *h1, *hv;
        assert_int_equal(vdb_hnsw_build(v, n, dim, ms[m], 8, 64, 1, NULL, NULL, &h), VDB_OK);
        vdb_buf b1 = {0}, b2 = {0};
        assert_int_equal(vdb_hnsw_encode_version(h, 1, &b1), VDB_OK);
        assert_int_equal(vdb_hnsw_encode(h, &b2), VDB_OK);
        assert_true(b2.len > b1.len); /* the codes */
        assert_int_equal(vdb_hnsw_decode(b1.p, b1.len, v, n, dim, &h1), VDB_OK);
        uint8_t *al = aligned_alloc(64, up64(b2.len));
        memcpy(al, b2.p, b2.len);
        assert_int_equal(vdb_hnsw_decode_view(al, b2.len, VDB_TYPE_FLOAT_VECTOR, v, n, dim, &hv),
                         VDB_OK);
        assert_true(vdb_hnsw_memory(hv) < vdb_hnsw_memory(h) / 10);
        bool hb = vdb_metric_higher_is_better(ms[m]);
        int64_t i0[50 * K], i1[50 * K], iv[50 * K];
        float s0[50 * K], s1[50 * K], sv[50 * K];
        run_all(h, v + n * dim, nq, dim, hb, i0, s0);
        run_all(h1, v + n * dim, nq, dim, hb, i1, s1);
        run_all(hv, v + n * dim, nq, dim, hb, iv, sv);
        assert_memory_equal(i0, i1, sizeof i0);
        assert_memory_equal(s0, s1, sizeof s0);
        assert_memory_equal(i0, iv, sizeof i0);
        assert_memory_equal(s0, sv, sizeof s0);
        /* a view writes the same bytes again */
        vdb_buf b3 = {0};
        assert_int_equal(vdb_hnsw_encode(hv, &b3), VDB_OK);
        assert_int_equal(b3.len, b2.len);
        assert_memory_equal(b3.p, b2.p, b2.len);
        /* format 1 has no codes to use in place; unaligned bytes are refused */
        vdb_hnsw *x = NULL;
        assert_int_equal(vdb_hnsw_decode_view(b1.p, b1.len, VDB_TYPE_FLOAT_VECTOR, v, n, dim, &x),
                         VDB_EVERSION);
        uint8_t *odd = aligned_alloc(64, up64(b2.len + 8));
        memcpy(odd + 4, b2.p, b2.len);
        assert_int_equal(vdb_hnsw_decode_view(odd + 4, b2.len, VDB_TYPE_FLOAT_VECTOR, v, n, dim,
                                              &x), VDB_EINVAL);
        /* cut short: refused */
        assert_int_equal(vdb_hnsw_decode_view(al, b2.len - 64, VDB_TYPE_FLOAT_VECTOR, v, n, dim,
                                              &x), VDB_ECORRUPT);
        assert_null(x);
        free(odd);
        vdb_hnsw_free(hv); /* before the bytes it reads */
        free(al);
        vdb_buf_free(&b1);
        vdb_buf_free(&b2);
        vdb_buf_free(&b3);
        vdb_hnsw_free(h1);
        vdb_hnsw_free(h);
    }
    free(v);
}

/* Found by fuzz_index: a graph saved for another metric than the field's was taken, and then
 * every search of it refused (the heap's order did not fit the graph's metric). */
static void test_graph_of_another_metric_is_corrupt(void **state)
{
    (void)state;
    const size_t n = 300;
    const uint32_t dim = 8;
    float *v = test_clustered(n, dim, 9);
    vdb_hnsw *h;
    assert_int_equal(vdb_hnsw_build(v, n, dim, VDB_METRIC_L2, 4, 16, 1, NULL, NULL, &h), VDB_OK);
    vdb_buf b = {0};
    assert_int_equal(vdb_hnsw_encode(h, &b), VDB_OK);
    vdb_vectors rows = {VDB_TYPE_FLOAT_VECTOR, dim, VDB_METRIC_L2, n, v, NULL};
    vdb_vindex_spec spec;
    assert_int_equal(vdb_vindex_spec_parse(&vdb_hnsw_kind, "M=4,efConstruction=16", &rows, NULL,
                                           NULL, &spec), VDB_OK);
    vdb_vindex *ix = NULL;
    assert_int_equal(vdb_vindex_decode(&spec, b.p, b.len, &rows, &ix), VDB_OK);
    vdb_vindex_free(ix);
    rows.metric = VDB_METRIC_IP;
    ix = NULL;
    vdb_err_clear();
    assert_int_equal(vdb_vindex_decode(&spec, b.p, b.len, &rows, &ix), VDB_ECORRUPT);
    assert_non_null(strstr(vdb_err_get(), "another metric"));
    assert_null(ix);
    vdb_buf_free(&b);
    vdb_hnsw_free(h);
    free(v);
}

typedef struct shared {
    const vdb_hnsw *h;
    const float *qs;
    uint32_t dim;
    const int64_t *ref;
    int failures;
} shared;

static void *searcher(void *arg)
{
    shared *s = arg;
    vdb_topk t;
    if (vdb_topk_init(&t, K, false) != VDB_OK)
        return NULL;
    for (int round = 0; round < 5; round++)
        for (size_t q = 0; q < 50; q++) {
            vdb_topk_reset(&t);
            if (vdb_hnsw_search(s->h, s->qs + q * s->dim, K, 32, NULL, 5, &t) != VDB_OK) {
                __atomic_add_fetch(&s->failures, 1, __ATOMIC_RELAXED);
                continue;
            }
            vdb_topk_sort(&t);
            for (size_t i = 0; i < K; i++)
                if (t.id[i] != s->ref[q * K + i])
                    __atomic_add_fetch(&s->failures, 1, __ATOMIC_RELAXED);
        }
    vdb_topk_free(&t);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    const size_t n = 3000;
    const uint32_t dim = 48;
    float *v = test_clustered(n + 50, dim, 9);
    vdb_hnsw *h;
    assert_int_equal(vdb_hnsw_build(v, n, dim, VDB_METRIC_L2, 12, 100, 4, NULL, NULL, &h),
                     VDB_OK);
    int64_t ref[50 * K];
    float sc[50 * K];
    run_all(h, v + n * dim, 50, dim, false, ref, sc);
    shared s = {h, v + n * dim, dim, ref, 0};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, searcher, &s), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(s.failures, 0);
    vdb_hnsw_free(h);
    free(v);
}

static void test_small(void **state)
{
    (void)state;
    float *v = test_clustered(8, 4, 1);
    vdb_topk t;
    assert_int_equal(vdb_topk_init(&t, 20, false), VDB_OK);
    /* n = 0: a valid empty index that finds nothing and round-trips */
    vdb_hnsw *h;
    size_t last = 0;
    assert_int_equal(vdb_hnsw_build(NULL, 0, 4, VDB_METRIC_L2, 16, 200, 2, NULL, NULL, &h),
                     VDB_OK);
    assert_int_equal(vdb_hnsw_search(h, v, 10, 10, NULL, 0, &t), VDB_OK);
    assert_int_equal(t.n, 0);
    vdb_buf b = {0};
    assert_int_equal(vdb_hnsw_encode(h, &b), VDB_OK);
    vdb_hnsw *h2;
    assert_int_equal(vdb_hnsw_decode(b.p, b.len, NULL, 0, 4, &h2), VDB_OK);
    assert_int_equal(vdb_hnsw_search(h2, v, 10, 10, NULL, 0, &t), VDB_OK);
    assert_int_equal(t.n, 0);
    vdb_hnsw_free(h2);
    vdb_hnsw_free(h);
    vdb_buf_free(&b);
    /* n = 1 */
    last = 0;
    assert_int_equal(vdb_hnsw_build(v, 1, 4, VDB_METRIC_COSINE, 16, 200, 2, progress_cb, &last,
                                    &h),
                     VDB_OK);
    vdb_topk_free(&t);
    assert_int_equal(vdb_topk_init(&t, 20, true), VDB_OK);
    assert_int_equal(vdb_hnsw_search(h, v + 4, 10, 10, NULL, 100, &t), VDB_OK);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.id[0], 100);
    vdb_hnsw_free(h);
    /* k larger than n: every row, once each */
    assert_int_equal(vdb_hnsw_build(v, 7, 4, VDB_METRIC_IP, 2, 2, 3, NULL, NULL, &h), VDB_OK);
    vdb_topk_reset(&t);
    assert_int_equal(vdb_hnsw_search(h, v + 28, 20, 1, NULL, 0, &t), VDB_OK);
    assert_int_equal(t.n, 7);
    uint32_t seen = 0;
    for (size_t i = 0; i < t.n; i++) {
        assert_true(t.id[i] >= 0 && t.id[i] < 7);
        seen |= 1u << t.id[i];
    }
    assert_int_equal(seen, 0x7f);
    vdb_hnsw_free(h);
    vdb_topk_free(&t);
    free(v);
}

static void expect_einval(vdb_status st, const char *word)
{
    assert_int_equal(st, VDB_EINVAL);
    if (!strstr(vdb_err_get(), word)) {
        print_error("message \"%s\" lacks \"%s\"\n", vdb_err_get(), word);
        fail();
    }
}

static void test_params(void **state)
{
    (void)state;
    float v[16] = {0};
    vdb_hnsw *h;
    expect_einval(vdb_hnsw_build(v, 4, 4, VDB_METRIC_L2, 1, 200, 1, NULL, NULL, &h), "M");
    expect_einval(vdb_hnsw_build(v, 4, 4, VDB_METRIC_L2, 101, 200, 1, NULL, NULL, &h), "M");
    expect_einval(vdb_hnsw_build(v, 4, 4, VDB_METRIC_L2, 16, 0, 1, NULL, NULL, &h),
                  "efConstruction");
    expect_einval(vdb_hnsw_build(v, 4, 4, VDB_METRIC_L2, 16, 10001, 1, NULL, NULL, &h),
                  "efConstruction");
    expect_einval(vdb_hnsw_build(v, 4, 4, VDB_METRIC_L2, 16, 8, 1, NULL, NULL, &h),
                  "efConstruction");
    expect_einval(vdb_hnsw_build(v, 4, 0, VDB_METRIC_L2, 16, 200, 1, NULL, NULL, &h), "dim");
    expect_einval(vdb_hnsw_build(v, 4, 32769, VDB_METRIC_L2, 16, 200, 1, NULL, NULL, &h), "dim");
    expect_einval(vdb_hnsw_build(v, 4, 4, (vdb_metric)9, 16, 200, 1, NULL, NULL, &h), "metric");
    expect_einval(vdb_hnsw_build(NULL, 4, 4, VDB_METRIC_L2, 16, 200, 1, NULL, NULL, &h), "NULL");
    assert_int_equal(vdb_hnsw_build(v, 4, 4, VDB_METRIC_L2, 16, 200, 1, NULL, NULL, &h), VDB_OK);
    vdb_topk t;
    assert_int_equal(vdb_topk_init(&t, 5, false), VDB_OK);
    expect_einval(vdb_hnsw_search(h, v, 5, 0, NULL, 0, &t), "ef");
    expect_einval(vdb_hnsw_search(h, v, 5, 32769, NULL, 0, &t), "ef");
    expect_einval(vdb_hnsw_search(h, v, 0, 10, NULL, 0, &t), "k");
    expect_einval(vdb_hnsw_search(h, NULL, 5, 10, NULL, 0, &t), "NULL");
    assert_int_equal(vdb_hnsw_search(h, v, 5, 32768, NULL, 0, &t), VDB_OK);
    assert_int_equal(t.n, 4);
    vdb_topk_free(&t);
    vdb_hnsw_free(h);
}

/* The 8-bit approximation stays close to the true distance on data whose dimensions have very
 * different scales (and one constant dimension), for L2 and IP. */
/* Found by fuzz_index (UBSan: NaN converted to uint8 / int16): rows near +-FLT_MAX are valid
 * (finite) input, but their range overflowed the float step to inf, and the codes and query
 * weights became inf / inf. The step is finite, the codes and weights in range, and a graph
 * over such rows builds and answers (their squared distances overflow to inf, so which rows
 * it finds is not asked). */
static void test_sq8_and_hnsw_take_rows_near_the_float_limits(void **state)
{
    (void)state;
    const uint32_t dim = 4;
    const size_t n = 64;
    float *x = malloc(n * dim * sizeof *x);
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < dim; j++)
            x[i * dim + j] = (float)((double)i / (n - 1) * 2 - 1) * 3.0e38f * (j % 2 ? 1 : -1);
    vdb_sq8 q;
    assert_int_equal(vdb_sq8_train(&q, x, n, dim, NULL), VDB_OK);
    for (uint32_t j = 0; j < dim; j++)
        assert_true(isfinite(q.step[j]) && q.step[j] > 0);
    uint8_t *code = malloc(q.stride);
    int16_t *w = malloc(q.stride * sizeof *w);
    vdb_sq8_encode(&q, VDB_METRIC_L2, x + (n - 1) * dim, 1.0f, code);
    assert_true(code[0] == 0 || code[0] == 255);
    vdb_sq8_query qp = {w, 0, 0};
    vdb_sq8_query_prepare(&q, VDB_METRIC_L2, x, &qp);
    for (uint32_t j = 0; j < dim; j++)
        assert_true(w[j] >= -32767 && w[j] <= 32767);
    vdb_sq8_free(&q);
    free(code);
    free(w);

    vdb_hnsw *h;
    assert_int_equal(vdb_hnsw_build(x, n, dim, VDB_METRIC_L2, 8, 32, 1, NULL, NULL, &h), VDB_OK);
    vdb_topk t;
    assert_int_equal(vdb_topk_init(&t, 1, false), VDB_OK);
    for (size_t i = 0; i < n; i += 9) {
        assert_int_equal(vdb_hnsw_search(h, x + i * dim, 1, 32, NULL, 0, &t), VDB_OK);
        assert_int_equal(t.n, 1);
        assert_true(t.id[0] >= 0 && t.id[0] < (int64_t)n);
        vdb_topk_reset(&t);
    }
    vdb_topk_free(&t);
    vdb_hnsw_free(h);
    free(x);
}

static void test_sq8_approximates_the_metric(void **state)
{
    (void)state;
    const uint32_t dim = 96;
    const size_t n = 500;
    uint64_t s = 11;
    float *x = malloc(n * dim * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < dim; j++)
            x[i * dim + j] = j == 5 ? 3.0f : test_randf(&s) * (float)(1 + j % 7) * 10.0f - 4.0f;
    vdb_sq8 q;
    assert_int_equal(vdb_sq8_train(&q, x, n, dim, NULL), VDB_OK);
    assert_int_equal(q.stride, 128);
    uint8_t *code = aligned_alloc(64, q.stride);
    int16_t *w = aligned_alloc(64, q.stride * sizeof *w);
    assert_non_null(code);
    assert_non_null(w);
    vdb_metric ms[] = {VDB_METRIC_L2, VDB_METRIC_IP};
    for (size_t mi = 0; mi < 2; mi++) {
        double worst = 0, scale = 0;
        for (size_t a = 0; a < 50; a++) {
            vdb_sq8_query pq = {.w = w};
            vdb_sq8_query_prepare(&q, ms[mi], x + a * dim, &pq);
            for (size_t b = 50; b < n; b += 7) {
                vdb_sq8_encode(&q, ms[mi], x + b * dim, 1.0f, code);
                float approx = vdb_sq8_dist(&q, &pq, code);
                float exact = ms[mi] == VDB_METRIC_L2 ? vdb_dist_l2sq(x + a * dim, x + b * dim, dim)
                                                      : -vdb_dist_ip(x + a * dim, x + b * dim, dim);
                assert_false(isnan(approx));
                worst = fmax(worst, fabs(approx - exact));
                scale = fmax(scale, fabs(exact));
            }
        }
        if (worst > 0.01 * scale) {
            print_error("sq8 %s: error %g against distances up to %g\n", vdb_metric_name(ms[mi]),
                        worst, scale);
            fail();
        }
    }
    free(code);
    free(w);
    vdb_sq8_free(&q);
    free(x);
}

/* Range search (a window on the heap): the graph widens its walk until it has every row in the
 * window up to k, for a plain radius and for an annulus that excludes the nearest rows. */
static void test_range(void **state)
{
    (void)state;
    const uint32_t dim = 32;
    const size_t n = 3000;
    float *base = test_clustered(n + 10, dim, 5);
    vdb_metric ms[] = {VDB_METRIC_L2, VDB_METRIC_COSINE};
    for (size_t mi = 0; mi < 2; mi++) {
        vdb_metric m = ms[mi];
        bool hb = vdb_metric_higher_is_better(m);
        vdb_hnsw *h;
        assert_int_equal(vdb_hnsw_build(base, n, dim, m, 16, 100, 2, NULL, NULL, &h), VDB_OK);
        size_t hit = 0, total = 0;
        for (size_t q = 0; q < 10; q++) {
            const float *qv = base + (n + q) * dim;
            /* the window: from the 300th to the 450th nearest row, so the first walk (ef = k =
             * 200) holds only rows too near and has to widen */
            vdb_topk all;
            assert_int_equal(vdb_topk_init(&all, 450, hb), VDB_OK);
            test_truth(base, n, dim, m, qv, NULL, &all);
            vdb_topk_sort(&all);
            float inner = all.dist[299], outer = all.dist[449];
            vdb_topk want, got;
            assert_int_equal(vdb_topk_init(&want, 200, hb), VDB_OK);
            assert_int_equal(vdb_topk_init(&got, 200, hb), VDB_OK);
            vdb_topk_set_range(&want, outer, inner);
            vdb_topk_set_range(&got, outer, inner);
            test_truth(base, n, dim, m, qv, NULL, &want);
            assert_true(want.n >= 140 && want.n <= 151);
            assert_int_equal(vdb_hnsw_search(h, qv, 200, 16, NULL, 0, &got), VDB_OK);
            for (size_t i = 0; i < got.n; i++) {
                assert_true(vdb_topk_in_range(&got, got.dist[i]));
                for (size_t j = 0; j < want.n; j++)
                    if (want.id[j] == got.id[i]) {
                        hit++;
                        break;
                    }
            }
            total += want.n;
            vdb_topk_free(&all);
            vdb_topk_free(&want);
            vdb_topk_free(&got);
        }
        if ((double)hit < 0.95 * (double)total) {
            print_error("range %s: found %zu of %zu rows in the window\n", vdb_metric_name(m),
                        hit, total);
            fail();
        }
        vdb_hnsw_free(h);
    }
    free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params),  cmocka_unit_test(test_small),
        cmocka_unit_test(test_corrupt), cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_threads), cmocka_unit_test(test_bitset),
        cmocka_unit_test(test_recall), cmocka_unit_test(test_sq8_approximates_the_metric),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_upper_list_naming_a_lower_row_is_corrupt),
        cmocka_unit_test(test_format1_and_view),
        cmocka_unit_test(test_graph_of_another_metric_is_corrupt),
        cmocka_unit_test(test_sq8_and_hnsw_take_rows_near_the_float_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

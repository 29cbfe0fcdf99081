/* Tests of the IVF indexes (IVF_FLAT, IVF_SQ8, IVF_PQ): recall against brute force, bitsets,
 * small and empty segments, serialization and corruption, threads, parameters. */
#include "test_vectors.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/vector/ivf.h"
#include "index/vector/vindex.h"
#include "util/vtype.h"

/* Sanitizers make the build ~10x slower: fewer rows keep the test within its budget. */
/* TSan (~15x) runs fewer rows still: it is there for the threads, not for recall. */
#if defined(__SANITIZE_THREAD__)
#define ROWS 1000
#define PQ_BITS_LESS 1 /* PQ training dominates there: one bit less per code */
#elif defined(__SANITIZE_ADDRESS__)
#define ROWS 3000
#define PQ_BITS_LESS 1
#else
#define ROWS 10000
#define PQ_BITS_LESS 0
#endif
#define NQ 100
#define K 10
#define NLIST 64
#define NPROBE 16

static const vdb_ivf_kind kinds[] = {VDB_IVF_FLAT, VDB_IVF_SQ8, VDB_IVF_PQ};
static const vdb_metric metrics[] = {VDB_METRIC_L2, VDB_METRIC_IP, VDB_METRIC_COSINE};

static const char *kind_name(vdb_ivf_kind k)
{
    return k == VDB_IVF_FLAT ? "IVF_FLAT" : k == VDB_IVF_SQ8 ? "IVF_SQ8" : "IVF_PQ";
}

/* The kind a test runs for (its initial state: each test runs once per kind). IVF_SQ8 and
 * IVF_PQ are skipped, saying why, only in a build without Faiss. */
static vdb_ivf_kind test_kind(void **state)
{
    vdb_ivf_kind k = *(const vdb_ivf_kind *)*state;
#ifndef VDB_HAVE_FAISS
    if (k != VDB_IVF_FLAT) {
        print_message("%s skipped: this libvdb is built without Faiss (meson -Dfaiss)\n",
                      kind_name(k));
        skip();
    }
#endif
    return k;
}

typedef struct dataset {
    float *base; /* ROWS + NQ rows: the last NQ are the queries */
    uint32_t dim;
    bool real;
} dataset;

/* Fashion-MNIST for L2 and COSINE when installed; blobs for IP (inner product on pixel
 * counts favours the brightest images whatever the query). */
static dataset data_for(vdb_metric m)
{
    dataset d = {NULL, 784, true};
    if (m != VDB_METRIC_IP)
        d.base = test_load_fmnist(ROWS + NQ);
    if (!d.base) {
        d.dim = 64;
        d.real = false;
        d.base = test_clustered(ROWS + NQ, d.dim, 7 + (uint64_t)m);
    }
    return d;
}

/* The documented parameters: nlist 64, nprobe 16. IVF_PQ reaches recall@10 0.95 against the
 * exact answer only with fine codes: one dimension per sub-quantizer (m = dim), with 6 bits on
 * Fashion-MNIST (L2 0.99, COSINE 0.977; 5 bits: 0.975 and 0.954) and 8 bits on the
 * 64-dimensional blobs, whose neighbours lie close together (0.995); one bit less in
 * sanitizer builds, over 3,000 rows. */
static vdb_ivf_params params_for(vdb_ivf_kind kind, uint32_t dim)
{
    vdb_ivf_params p = {NLIST, 0, 0};
    if (kind == VDB_IVF_PQ) {
        p.pq_m = dim;
        p.pq_nbits = (dim > 128 ? 6 : 8) - PQ_BITS_LESS;
    }
    return p;
}

/* Faiss's OpenMP barriers spin: on a loaded 2-core CI machine two threads run far slower than
 * one, so IVF_SQ8 (trained and filled by Faiss) builds on one thread here; IVF_FLAT and IVF_PQ
 * train on our pthreads. */
static uint32_t threads_for(vdb_ivf_kind kind) { return kind == VDB_IVF_SQ8 ? 1 : 2; }

/* Mean recall@K over the queries, checking every hit is allowed and distinct; exact kinds
 * (IVF_FLAT, or every answer from a scan) must carry vdb_dist's score. */
static double recall(const vdb_ivf *ivf, const float *base, size_t n, uint32_t dim,
                     vdb_metric m, const float *qs, size_t nq, uint32_t nprobe,
                     const float *scan_base, const uint64_t *bs, size_t nallowed,
                     bool exact_scores)
{
    bool hb = vdb_metric_higher_is_better(m);
    vdb_topk got, want;
    assert_int_equal(vdb_topk_init(&got, K, hb), VDB_OK);
    assert_int_equal(vdb_topk_init(&want, K, hb), VDB_OK);
    size_t hit = 0, total = 0;
    for (size_t q = 0; q < nq; q++) {
        const float *qv = qs + q * dim;
        vdb_topk_reset(&got);
        assert_int_equal(vdb_ivf_search(ivf, qv, K, nprobe, scan_base, bs, 0, &got), VDB_OK);
        test_truth(base, n, dim, m, qv, bs, &want);
        if (scan_base)
            assert_int_equal(got.n, VDB_MIN((size_t)K, nallowed));
        for (size_t i = 0; i < got.n; i++) {
            int64_t r = got.id[i];
            assert_true(r >= 0 && (size_t)r < n && test_bit(bs, (size_t)r));
            for (size_t j = 0; j < i; j++)
                assert_true(got.id[j] != r);
            if (exact_scores) {
                float s = vdb_dist(m, qv, base + (size_t)r * dim, dim);
                assert_true(fabsf(s - got.dist[i]) <= 1e-3f * (1 + fabsf(s)));
            }
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

static void progress_cb(void *arg, size_t done, size_t total)
{
    size_t *last = arg; /* last[0]: done, last[1]: total */
    assert_true(done <= total && done >= last[0]);
    last[0] = done;
    last[1] = total;
}

static void test_recall(void **state)
{
    vdb_ivf_kind kind = test_kind(state);
    for (size_t mi = 0; mi < VDB_ARRAY_LEN(metrics); mi++) {
        vdb_metric m = metrics[mi];
        dataset d = data_for(m);
        const float *qs = d.base + (size_t)ROWS * d.dim;
        vdb_ivf_params p = params_for(kind, d.dim);
        vdb_ivf *ivf;
        size_t last[2] = {0, 0};
        uint64_t t0 = vdb_mono_ns();
        assert_int_equal(vdb_ivf_build(kind, d.base, ROWS, d.dim, m, &p,
                                       threads_for(kind), progress_cb, last, &ivf),
                         VDB_OK);
        double secs = (double)(vdb_mono_ns() - t0) / 1e9;
        assert_true(last[1] > 0 && last[0] == last[1]);
        assert_int_equal(vdb_ivf_rows(ivf), ROWS);
        assert_int_equal(vdb_ivf_kind_of(ivf), kind);
        assert_true(vdb_ivf_memory(ivf) > 0);
        double r = recall(ivf, d.base, ROWS, d.dim, m, qs, NQ, NPROBE, NULL, NULL, ROWS,
                          kind == VDB_IVF_FLAT);
        print_message("%-8s %-6s %s dim %u: recall@10 %.4f (nlist %d nprobe %d), build "
                      "%.2f s, %zu KiB\n",
                      kind_name(kind), vdb_metric_name(m),
                      d.real ? "fashion-mnist" : "blobs", d.dim, r, NLIST, NPROBE, secs,
                      vdb_ivf_memory(ivf) >> 10);
        assert_true(r >= 0.95);
        vdb_ivf_free(ivf);
        free(d.base);
    }
}

static void test_bitset(void **state)
{
    vdb_ivf_kind kind = test_kind(state);
    const size_t n = 4000;
    const uint32_t dim = 32;
    float *v = test_clustered(n + NQ, dim, 21);
    const float *qs = v + n * dim;
    const uint32_t keep[] = {2, 10, 100};
    vdb_ivf_params p = params_for(kind, dim);
    vdb_ivf *ivf;
    assert_int_equal(vdb_ivf_build(kind, v, n, dim, VDB_METRIC_L2, &p,
                                   threads_for(kind), NULL, NULL, &ivf),
                     VDB_OK);
    bool exact = kind == VDB_IVF_FLAT;
    for (size_t i = 0; i < VDB_ARRAY_LEN(keep); i++) {
        size_t nallowed;
        uint64_t *bs = test_make_bitset(n, keep[i], &nallowed);
        double r = recall(ivf, v, n, dim, VDB_METRIC_L2, qs, NQ, NPROBE, v, bs, nallowed,
                          exact || keep[i] == 100);
        print_message("%-8s keep 1/%u (%zu rows): recall@10 %.4f\n", kind_name(kind),
                      keep[i], nallowed, r);
        assert_true(r >= (keep[i] == 100 ? 1.0 : 0.9));
        /* without the rows to scan, the lists alone: fewer results, but all allowed */
        r = recall(ivf, v, n, dim, VDB_METRIC_L2, qs, NQ, NPROBE, NULL, bs, nallowed, exact);
        if (exact)
            assert_true(r >= (keep[i] == 100 ? 1.0 : 0.9));
        free(bs);
    }
    /* nothing allowed: nothing returned */
    uint64_t *none = calloc((n + 63) / 64, sizeof *none);
    vdb_topk t;
    assert_int_equal(vdb_topk_init(&t, K, false), VDB_OK);
    assert_int_equal(vdb_ivf_search(ivf, qs, K, 8, v, none, 0, &t), VDB_OK);
    assert_int_equal(t.n, 0);
    vdb_topk_free(&t);
    free(none);
    vdb_ivf_free(ivf);
    free(v);
}

/* Range search through the caller's heap: every kept score lies in the window, and for
 * IVF_FLAT with every list probed the set is exactly brute force's. */
static void test_range(void **state)
{
    (void)state;
    const size_t n = 2000;
    const uint32_t dim = 16;
    float *v = test_clustered(n + 10, dim, 31);
    vdb_ivf_params p = {32, 0, 0};
    vdb_ivf *ivf;
    assert_int_equal(vdb_ivf_build(VDB_IVF_FLAT, v, n, dim, VDB_METRIC_L2, &p, 1, NULL, NULL,
                                   &ivf),
                     VDB_OK);
    vdb_topk got, want;
    assert_int_equal(vdb_topk_init(&got, 50, false), VDB_OK);
    assert_int_equal(vdb_topk_init(&want, 50, false), VDB_OK);
    for (size_t q = 0; q < 10; q++) {
        const float *qv = v + (n + q) * dim;
        vdb_topk_reset(&got);
        vdb_topk_reset(&want);
        vdb_topk_set_range(&got, 1.5f, 0.5f);
        vdb_topk_set_range(&want, 1.5f, 0.5f);
        assert_int_equal(vdb_ivf_search(ivf, qv, 50, 32, NULL, NULL, 0, &got), VDB_OK);
        assert_int_equal(vdb_flat_search(v, n, dim, VDB_METRIC_L2, qv, 1, NULL, 0, &want),
                         VDB_OK);
        vdb_topk_sort(&got);
        vdb_topk_sort(&want);
        assert_int_equal(got.n, want.n);
        for (size_t i = 0; i < got.n; i++) {
            assert_true(got.dist[i] >= 0.5f && got.dist[i] < 1.5f);
            assert_int_equal(got.id[i], want.id[i]);
        }
    }
    vdb_topk_free(&got);
    vdb_topk_free(&want);
    vdb_ivf_free(ivf);
    free(v);
}

/* Results of every query as flat arrays of ids and scores. */
static void run_all(const vdb_ivf *ivf, const float *qs, size_t nq, uint32_t dim, bool hb,
                    int64_t *ids, float *sc)
{
    vdb_topk t;
    assert_int_equal(vdb_topk_init(&t, K, hb), VDB_OK);
    for (size_t q = 0; q < nq; q++) {
        vdb_topk_reset(&t);
        assert_int_equal(vdb_ivf_search(ivf, qs + q * dim, K, 4, NULL, NULL, 5, &t), VDB_OK);
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
    vdb_ivf_kind kind = test_kind(state);
    const size_t n = 2000, nq = 50;
    const uint32_t dim = 32;
    float *v = test_clustered(n + nq, dim, 3);
    for (size_t mi = 0; mi < VDB_ARRAY_LEN(metrics); mi++) {
        vdb_metric m = metrics[mi];
        vdb_ivf_params p = {16, 8, 8};
        if (kind != VDB_IVF_PQ)
            p.pq_m = p.pq_nbits = 0;
        vdb_ivf *ivf, *ivf2;
        assert_int_equal(vdb_ivf_build(kind, v, n, dim, m, &p, 1, NULL, NULL, &ivf),
                         VDB_OK);
        vdb_buf b = {0};
        vdb_buf_u32(&b, 0xabcdef); /* encode appends after what the buffer holds */
        assert_int_equal(vdb_ivf_encode(ivf, &b), VDB_OK);
        assert_int_equal(vdb_ivf_decode(b.p + 4, b.len - 4, n, dim, &ivf2), VDB_OK);
        assert_int_equal(vdb_ivf_memory(ivf), vdb_ivf_memory(ivf2));
        assert_int_equal(vdb_ivf_kind_of(ivf2), kind);
        bool hb = vdb_metric_higher_is_better(m);
        int64_t ids1[50 * K], ids2[50 * K];
        float s1[50 * K], s2[50 * K];
        run_all(ivf, v + n * dim, nq, dim, hb, ids1, s1);
        run_all(ivf2, v + n * dim, nq, dim, hb, ids2, s2);
        assert_memory_equal(ids1, ids2, sizeof ids1);
        assert_memory_equal(s1, s2, sizeof s1);
        /* the same bytes again from the decoded index */
        vdb_buf b2 = {0};
        assert_int_equal(vdb_ivf_encode(ivf2, &b2), VDB_OK);
        assert_int_equal(b2.len, b.len - 4);
        assert_memory_equal(b2.p, b.p + 4, b2.len);
        /* other rows than the index's */
        vdb_ivf *bad;
        assert_int_equal(vdb_ivf_decode(b2.p, b2.len, n - 1, dim, &bad), VDB_ECORRUPT);
        assert_int_equal(vdb_ivf_decode(b2.p, b2.len, n, dim + 1, &bad), VDB_ECORRUPT);
        vdb_buf_free(&b);
        vdb_buf_free(&b2);
        vdb_ivf_free(ivf);
        vdb_ivf_free(ivf2);
    }
    /* IVF_FLAT with one thread or two: the same index */
    if (kind == VDB_IVF_FLAT) {
        vdb_ivf_params p = {16, 0, 0};
        vdb_buf b1 = {0}, b2 = {0};
        vdb_ivf *a, *c;
        assert_int_equal(vdb_ivf_build(VDB_IVF_FLAT, v, n, dim, VDB_METRIC_L2, &p, 1, NULL, NULL,
                                       &a),
                         VDB_OK);
        assert_int_equal(vdb_ivf_build(VDB_IVF_FLAT, v, n, dim, VDB_METRIC_L2, &p, 3, NULL, NULL,
                                       &c),
                         VDB_OK);
        assert_int_equal(vdb_ivf_encode(a, &b1), VDB_OK);
        assert_int_equal(vdb_ivf_encode(c, &b2), VDB_OK);
        assert_int_equal(b1.len, b2.len);
        assert_memory_equal(b1.p, b2.p, b1.len);
        vdb_buf_free(&b1);
        vdb_buf_free(&b2);
        vdb_ivf_free(a);
        vdb_ivf_free(c);
    }
    free(v);
}

/* Decoded damage either fails with VDB_ECORRUPT (or VDB_EVERSION) or gives a usable index. */
static void try_decode(const uint8_t *p, size_t len, const float *v, size_t n, uint32_t dim,
                       const int64_t *ref_ids, bool must_match)
{
    vdb_ivf *ivf = NULL;
    vdb_status st = vdb_ivf_decode(p, len, n, dim, &ivf);
    if (st != VDB_OK) {
        assert_true(st == VDB_ECORRUPT || st == VDB_EVERSION);
        assert_null(ivf);
        return;
    }
    int64_t ids[20 * K];
    float sc[20 * K];
    run_all(ivf, v + n * dim, 20, dim, false, ids, sc);
    if (must_match)
        assert_memory_equal(ids, ref_ids, sizeof ids);
    vdb_ivf_free(ivf);
}

static void test_corrupt(void **state)
{
    vdb_ivf_kind kind = test_kind(state);
    const size_t n = 300;
    const uint32_t dim = 8;
    float *v = test_clustered(n + 20, dim, 5);
    vdb_ivf_params p = {4, 4, 6};
    if (kind != VDB_IVF_PQ)
        p.pq_m = p.pq_nbits = 0;
    vdb_ivf *ivf;
    assert_int_equal(vdb_ivf_build(kind, v, n, dim, VDB_METRIC_L2, &p, 1, NULL, NULL,
                                   &ivf),
                     VDB_OK);
    vdb_buf b = {0};
    assert_int_equal(vdb_ivf_encode(ivf, &b), VDB_OK);
    int64_t ref[20 * K];
    float sc[20 * K];
    run_all(ivf, v + n * dim, 20, dim, false, ref, sc);
    /* every prefix is refused (each copy is exactly len bytes so ASan sees any overread) */
    for (size_t len = 0; len < b.len; len++) {
        uint8_t *q = malloc(len ? len : 1);
        memcpy(q, b.p, len);
        vdb_ivf *x = NULL;
        assert_int_equal(vdb_ivf_decode(q, len, n, dim, &x), VDB_ECORRUPT);
        free(q);
    }
    uint8_t *q = malloc(b.len);
    uint64_t s = 11;
    for (int i = 0; i < 2000; i++) {
        memcpy(q, b.p, b.len);
        size_t at = test_rand(&s) % b.len;
        q[at] ^= (uint8_t)(1 + test_rand(&s) % 255);
        /* as stored: the checksum catches it */
        try_decode(q, b.len, v, n, dim, ref, true);
        /* With the checksum recomputed our own fields must hold on their own. Faiss's
         * reader trusts the lengths it reads, so the Faiss kinds rely on the checksum
         * (faiss_shim.h) and only their frame header is damaged here. */
        if (kind != VDB_IVF_FLAT && at >= 52)
            continue;
        uint32_t crc = vdb_crc32c(0, q, b.len - 4);
        memcpy(q + b.len - 4, &crc, 4);
        try_decode(q, b.len, v, n, dim, ref, false);
    }
    free(q);
    vdb_buf_free(&b);
    vdb_ivf_free(ivf);
    free(v);
}

typedef struct shared {
    const vdb_ivf *ivf;
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
    for (int round = 0; round < 4; round++)
        for (size_t q = 0; q < 50; q++) {
            vdb_topk_reset(&t);
            if (vdb_ivf_search(s->ivf, s->qs + q * s->dim, K, 4, NULL, NULL, 5, &t) != VDB_OK) {
                __atomic_add_fetch(&s->failures, 1, __ATOMIC_RELAXED);
                continue;
            }
            vdb_topk_sort(&t);
            for (size_t i = 0; i < K; i++)
                if ((i < t.n ? t.id[i] : -1) != s->ref[q * K + i])
                    __atomic_add_fetch(&s->failures, 1, __ATOMIC_RELAXED);
        }
    vdb_topk_free(&t);
    return NULL;
}

static void test_threads(void **state)
{
    vdb_ivf_kind kind = test_kind(state);
    const size_t n = 3000;
    const uint32_t dim = 48;
    float *v = test_clustered(n + 50, dim, 9);
    vdb_ivf_params p = params_for(kind, dim);
    vdb_ivf *ivf;
    assert_int_equal(vdb_ivf_build(kind, v, n, dim, VDB_METRIC_L2, &p,
                                   threads_for(kind), NULL, NULL, &ivf),
                     VDB_OK);
    int64_t ref[50 * K];
    float sc[50 * K];
    run_all(ivf, v + n * dim, 50, dim, false, ref, sc);
    shared s = {ivf, v + n * dim, dim, ref, 0};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, searcher, &s), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(s.failures, 0);
    vdb_ivf_free(ivf);
    free(v);
}

/* Every row once: k above the row count. One probe suffices when the index can scan (IVF_FLAT
 * scans its own vectors, the others base); without base, every list is probed. */
static void expect_all_rows(const vdb_ivf *ivf, const float *q, const float *base, size_t n,
                            bool hb, int64_t id_base)
{
    vdb_topk t;
    uint32_t nprobe = base || vdb_ivf_kind_of(ivf) == VDB_IVF_FLAT ? 1 : 128;
    assert_int_equal(vdb_topk_init(&t, 64, hb), VDB_OK);
    assert_int_equal(vdb_ivf_search(ivf, q, 64, nprobe, base, NULL, id_base, &t), VDB_OK);
    assert_int_equal(t.n, n);
    uint64_t seen = 0;
    for (size_t i = 0; i < t.n; i++) {
        int64_t r = t.id[i] - id_base;
        assert_true(r >= 0 && (size_t)r < n);
        seen |= 1ull << r;
    }
    assert_int_equal(seen, n == 64 ? ~0ull : (1ull << n) - 1);
    vdb_topk_free(&t);
}

static void test_small(void **state)
{
    vdb_ivf_kind kind = test_kind(state);
    const uint32_t dim = 8;
    float *v = test_clustered(300, dim, 1);
    for (size_t mi = 0; mi < VDB_ARRAY_LEN(metrics); mi++) {
        vdb_metric m = metrics[mi];
        bool hb = vdb_metric_higher_is_better(m);
        vdb_ivf_params p = {128, 4, 8};
        if (kind != VDB_IVF_PQ)
            p.pq_m = p.pq_nbits = 0;
        /* n = 0: a valid empty index that finds nothing and round-trips */
        vdb_ivf *ivf, *ivf2;
        size_t last[2] = {0, 0};
        assert_int_equal(vdb_ivf_build(kind, NULL, 0, dim, m, &p, 2, progress_cb, last,
                                       &ivf),
                         VDB_OK);
        vdb_topk t;
        assert_int_equal(vdb_topk_init(&t, 20, hb), VDB_OK);
        assert_int_equal(vdb_ivf_search(ivf, v, 10, 10, NULL, NULL, 0, &t), VDB_OK);
        assert_int_equal(t.n, 0);
        vdb_buf b = {0};
        assert_int_equal(vdb_ivf_encode(ivf, &b), VDB_OK);
        assert_int_equal(vdb_ivf_decode(b.p, b.len, 0, dim, &ivf2), VDB_OK);
        assert_int_equal(vdb_ivf_search(ivf2, v, 10, 10, NULL, NULL, 0, &t), VDB_OK);
        assert_int_equal(t.n, 0);
        vdb_ivf_free(ivf2);
        vdb_ivf_free(ivf);
        vdb_buf_free(&b);
        vdb_topk_free(&t);
        /* n < nlist, and k above n: every row, from the index and from its decoding */
        const size_t ns[] = {1, 5, 64};
        for (size_t i = 0; i < VDB_ARRAY_LEN(ns); i++) {
            assert_int_equal(vdb_ivf_build(kind, v, ns[i], dim, m, &p, 2, NULL, NULL,
                                           &ivf),
                             VDB_OK);
            expect_all_rows(ivf, v + 200 * dim, NULL, ns[i], hb, 100);
            expect_all_rows(ivf, v + 200 * dim, v, ns[i], hb, 0);
            vdb_buf b3 = {0};
            assert_int_equal(vdb_ivf_encode(ivf, &b3), VDB_OK);
            assert_int_equal(vdb_ivf_decode(b3.p, b3.len, ns[i], dim, &ivf2), VDB_OK);
            expect_all_rows(ivf2, v + 200 * dim, NULL, ns[i], hb, 7);
            vdb_ivf_free(ivf2);
            vdb_buf_free(&b3);
            vdb_ivf_free(ivf);
        }
    }
    /* IVF_PQ over fewer rows than 2^nbits keeps them whole: exact within the probed lists */
    if (kind == VDB_IVF_PQ) {
        vdb_ivf_params p = {4, 4, 8};
        vdb_ivf *ivf;
        assert_int_equal(vdb_ivf_build(VDB_IVF_PQ, v, 200, dim, VDB_METRIC_L2, &p, 1, NULL,
                                       NULL, &ivf),
                         VDB_OK);
        assert_true(recall(ivf, v, 200, dim, VDB_METRIC_L2, v + 200 * dim, 50, 4, NULL, NULL,
                           200, true) == 1.0);
        vdb_ivf_free(ivf);
    }
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
    float v[64] = {0};
    for (int i = 0; i < 64; i++)
        v[i] = (float)(i % 7);
    vdb_ivf *ivf;
    vdb_ivf_params p = {65537, 0, 0};
    expect_einval(vdb_ivf_build(VDB_IVF_FLAT, v, 8, 8, VDB_METRIC_L2, &p, 1, NULL, NULL, &ivf),
                  "nlist");
    expect_einval(vdb_ivf_check(VDB_IVF_SQ8, 8, &p), "nlist");
    p = (vdb_ivf_params){4, 3, 8};
    expect_einval(vdb_ivf_build(VDB_IVF_PQ, v, 8, 8, VDB_METRIC_L2, &p, 1, NULL, NULL, &ivf),
                  "m");
    p = (vdb_ivf_params){4, 0, 8};
    expect_einval(vdb_ivf_check(VDB_IVF_PQ, 8, &p), "m");
    p = (vdb_ivf_params){4, 4, 17};
    expect_einval(vdb_ivf_check(VDB_IVF_PQ, 8, &p), "nbits");
    p = (vdb_ivf_params){4, 0, 0};
    expect_einval(vdb_ivf_check((vdb_ivf_kind)7, 8, &p), "kind");
    expect_einval(vdb_ivf_check(VDB_IVF_FLAT, 0, &p), "dim");
    expect_einval(vdb_ivf_check(VDB_IVF_FLAT, 32769, &p), "dim");
    expect_einval(vdb_ivf_build(VDB_IVF_FLAT, v, 8, 8, (vdb_metric)9, &p, 1, NULL, NULL, &ivf),
                  "metric");
    expect_einval(vdb_ivf_build(VDB_IVF_FLAT, NULL, 8, 8, VDB_METRIC_L2, &p, 1, NULL, NULL, &ivf),
                  "NULL");
    /* NULL params and zero fields take the defaults (nlist 128, nbits 8) */
    assert_int_equal(vdb_ivf_check(VDB_IVF_FLAT, 8, NULL), VDB_OK);
    assert_int_equal(vdb_ivf_build(VDB_IVF_FLAT, v, 8, 8, VDB_METRIC_L2, NULL, 1, NULL, NULL,
                                   &ivf),
                     VDB_OK);
    vdb_topk t;
    assert_int_equal(vdb_topk_init(&t, 5, false), VDB_OK);
    expect_einval(vdb_ivf_search(ivf, v, 5, 0, NULL, NULL, 0, &t), "nprobe");
    expect_einval(vdb_ivf_search(ivf, v, 5, 65537, NULL, NULL, 0, &t), "nprobe");
    expect_einval(vdb_ivf_search(ivf, v, 0, 10, NULL, NULL, 0, &t), "k");
    expect_einval(vdb_ivf_search(ivf, NULL, 5, 10, NULL, NULL, 0, &t), "NULL");
    vdb_topk wrong;
    assert_int_equal(vdb_topk_init(&wrong, 5, true), VDB_OK);
    expect_einval(vdb_ivf_search(ivf, v, 5, 10, NULL, NULL, 0, &wrong), "metric");
    vdb_topk_free(&wrong);
    assert_int_equal(vdb_ivf_search(ivf, v, 5, 65536, NULL, NULL, 0, &t), VDB_OK);
    assert_int_equal(t.n, 5);
    vdb_topk_free(&t);
    vdb_ivf_free(ivf);
}

/* Without Faiss, IVF_SQ8 and IVF_PQ are refused with VDB_EUNSUPPORTED and a message that says
 * why, at the parameter check, at build and when a stored index of theirs is read; IVF_FLAT
 * is unaffected. In a build with Faiss this is skipped (test_params and the per-kind tests
 * cover those kinds there). */
static void test_sq8_and_pq_answer_unsupported_without_faiss(void **state)
{
    (void)state;
#ifdef VDB_HAVE_FAISS
    print_message("skipped: this libvdb is built with Faiss\n");
    skip();
#else
    float v[64 * 8];
    for (int i = 0; i < 64 * 8; i++)
        v[i] = (float)(i % 13);
    const vdb_ivf_kind faiss_kinds[] = {VDB_IVF_SQ8, VDB_IVF_PQ};
    for (size_t i = 0; i < 2; i++) {
        vdb_ivf_params p = {4, faiss_kinds[i] == VDB_IVF_PQ ? 4 : 0, 0};
        assert_int_equal(vdb_ivf_check(faiss_kinds[i], 8, &p), VDB_EUNSUPPORTED);
        assert_non_null(strstr(vdb_err_get(), kind_name(faiss_kinds[i])));
        assert_non_null(strstr(vdb_err_get(), "Faiss"));
        vdb_ivf *ivf = (vdb_ivf *)1;
        assert_int_equal(vdb_ivf_build(faiss_kinds[i], v, 64, 8, VDB_METRIC_L2, &p, 1, NULL,
                                       NULL, &ivf),
                         VDB_EUNSUPPORTED);
        assert_null(ivf);
    }
    /* A stored IVF_SQ8 index (built where Faiss was): our frame, then Faiss's bytes. The frame
     * is the IVF_FLAT one with the kind changed, flat 0 and no lists (ivf_io.c's layout). */
    vdb_ivf_params p = {4, 0, 0};
    vdb_ivf *flat;
    assert_int_equal(vdb_ivf_build(VDB_IVF_FLAT, v, 64, 8, VDB_METRIC_L2, &p, 1, NULL, NULL,
                                   &flat),
                     VDB_OK);
    vdb_buf b = {0};
    assert_int_equal(vdb_ivf_encode(flat, &b), VDB_OK);
    vdb_ivf_free(flat);
    const size_t header = 44; /* magic, version, kind, metric, dim, n (u64), nlist, m, nbits, flat */
    vdb_buf f = {0};
    vdb_buf_put(&f, b.p, header);
    vdb_put_u32(f.p + 8, VDB_IVF_SQ8);
    vdb_put_u32(f.p + 40, 0);
    vdb_buf_bytes(&f, "not faiss bytes!", 16); /* u64 length + bytes, as Faiss's are framed */
    vdb_buf_u32(&f, vdb_crc32c(0, f.p, f.len));
    assert_false(f.oom);
    vdb_ivf *got = (vdb_ivf *)1;
    assert_int_equal(vdb_ivf_decode(f.p, f.len, 64, 8, &got), VDB_EUNSUPPORTED);
    assert_null(got);
    assert_non_null(strstr(vdb_err_get(), "IVF_SQ8"));
    assert_non_null(strstr(vdb_err_get(), "Faiss"));
    vdb_buf_free(&f);
    vdb_buf_free(&b);
#endif
}

/* Found by fuzz_index (for HNSW; IVF had the same gap): an index saved for another metric
 * than the field's was taken through the kind table, and then ranked by the wrong distance. */
static void test_index_of_another_metric_is_corrupt(void **state)
{
    (void)state;
    const size_t n = 200;
    const uint32_t dim = 8;
    float *v = test_clustered(n, dim, 4);
    vdb_vectors rows = {VDB_TYPE_FLOAT_VECTOR, dim, VDB_METRIC_IP, n, v, NULL};
    vdb_vindex_spec spec;
    assert_int_equal(vdb_vindex_spec_parse(&vdb_ivf_flat_kind, "nlist=4", &rows, NULL, NULL,
                                           &spec), VDB_OK);
    vdb_vindex *ix;
    assert_int_equal(vdb_vindex_build(&spec, &rows, 1, NULL, NULL, &ix), VDB_OK);
    vdb_buf b = {0};
    assert_int_equal(vdb_vindex_encode(ix, &b), VDB_OK);
    vdb_vindex_free(ix);
    ix = NULL;
    assert_int_equal(vdb_vindex_decode(&spec, b.p, b.len, &rows, &ix), VDB_OK);
    vdb_vindex_free(ix);
    for (int m = VDB_METRIC_L2; m <= VDB_METRIC_COSINE; m += VDB_METRIC_COSINE - VDB_METRIC_L2) {
        rows.metric = (vdb_metric)m;
        ix = NULL;
        vdb_err_clear();
        assert_int_equal(vdb_vindex_decode(&spec, b.p, b.len, &rows, &ix), VDB_ECORRUPT);
        assert_non_null(strstr(vdb_err_get(), "another metric"));
        assert_null(ix);
    }
    vdb_buf_free(&b);
    free(v);
}

/* Over FLOAT16 / BFLOAT16 rows: a saved index decodes over rows of its own type only, answers
 * as before it was saved, and its scores are the exact ones over the stored elements (all
 * lists probed); an INT8 build is refused. */
static void test_half_rows(void **state)
{
    vdb_ivf_kind kind = test_kind(state);
    const size_t n = 2000, nq = 20;
    const uint32_t dim = 32;
    float *v = test_clustered(n + nq, dim, 5);
    uint16_t *h = malloc(n * dim * sizeof *h);
    float *w = malloc(n * dim * sizeof *w);
    static const vdb_type types[] = {VDB_TYPE_FLOAT16_VECTOR, VDB_TYPE_BFLOAT16_VECTOR};
    for (size_t ti = 0; ti < 2; ti++) {
        vdb_type t = types[ti];
        for (size_t i = 0; i < n * dim; i++)
            h[i] = t == VDB_TYPE_FLOAT16_VECTOR ? vdb_f32_to_f16(v[i]) : vdb_f32_to_bf16(v[i]);
        vdb_vector_to_f32(t, h, n * dim, w);
        for (size_t mi = 0; mi < VDB_ARRAY_LEN(metrics); mi++) {
            vdb_metric m = metrics[mi];
            vdb_ivf_params p = {16, kind == VDB_IVF_PQ ? 8 : 0, kind == VDB_IVF_PQ ? 8 : 0};
            vdb_ivf *ivf, *ivf2, *bad;
            assert_int_equal(vdb_ivf_build_t(kind, t, h, n, dim, m, &p, 1, NULL, NULL, &ivf),
                             VDB_OK);
            vdb_buf b = {0};
            assert_int_equal(vdb_ivf_encode(ivf, &b), VDB_OK);
            assert_int_equal(vdb_ivf_decode(b.p, b.len, n, dim, &bad), VDB_ECORRUPT);
            vdb_type other = ti ? VDB_TYPE_FLOAT16_VECTOR : VDB_TYPE_BFLOAT16_VECTOR;
            assert_int_equal(vdb_ivf_decode_t(b.p, b.len, other, n, dim, &bad), VDB_ECORRUPT);
            assert_int_equal(vdb_ivf_decode_t(b.p, b.len, t, n, dim, &ivf2), VDB_OK);
            assert_int_equal(vdb_ivf_memory(ivf), vdb_ivf_memory(ivf2));
            bool hb = vdb_metric_higher_is_better(m);
            int64_t ids1[20 * K], ids2[20 * K];
            float s1[20 * K], s2[20 * K];
            run_all(ivf, v + n * dim, nq, dim, hb, ids1, s1);
            run_all(ivf2, v + n * dim, nq, dim, hb, ids2, s2);
            assert_memory_equal(ids1, ids2, sizeof ids1);
            assert_memory_equal(s1, s2, sizeof s1);
            if (kind == VDB_IVF_FLAT) { /* every list probed: the exact scores */
                vdb_topk got, want;
                assert_int_equal(vdb_topk_init(&got, K, hb), VDB_OK);
                assert_int_equal(vdb_topk_init(&want, K, hb), VDB_OK);
                for (size_t q = 0; q < nq; q++) {
                    vdb_topk_reset(&got);
                    vdb_topk_reset(&want);
                    const float *qv = v + (n + q) * dim;
                    assert_int_equal(vdb_ivf_search(ivf2, qv, K, 16, h, NULL, 0, &got), VDB_OK);
                    assert_int_equal(vdb_flat_search(w, n, dim, m, qv, 1, NULL, 0, &want),
                                     VDB_OK);
                    vdb_topk_sort(&got);
                    vdb_topk_sort(&want);
                    assert_int_equal(got.n, want.n);
                    for (size_t i = 0; i < got.n; i++)
                        assert_true(fabsf(got.dist[i] - want.dist[i]) <=
                                    1e-4f * (1 + fabsf(want.dist[i])));
                }
                vdb_topk_free(&got);
                vdb_topk_free(&want);
            }
            vdb_ivf_free(ivf);
            vdb_ivf_free(ivf2);
            vdb_buf_free(&b);
        }
    }
    vdb_ivf *ivf;
    vdb_ivf_params p = {16, kind == VDB_IVF_PQ ? 8 : 0, kind == VDB_IVF_PQ ? 8 : 0};
    assert_int_equal(vdb_ivf_build_t(kind, VDB_TYPE_INT8_VECTOR, h, n, dim, VDB_METRIC_L2, &p, 1,
                                     NULL, NULL, &ivf), VDB_EINVAL);
    free(w);
    free(h);
    free(v);
}

/* IVF_FLAT's version 3 used in place (as from a mapped file): the same answers and scores as
 * the heap decode, over float and half-precision rows and every metric, with only the struct
 * on the heap; older versions decode and re-encode as version 3 but are not viewed; bad
 * bytes (truncated, damaged with no checksum to catch them, misaligned) refused, never read
 * out of bounds. */
static void test_view(void **state)
{
    (void)state;
    const size_t n = 1500, nq = 20;
    const uint32_t dim = 16;
    float *v = test_clustered(n + nq, dim, 9);
    uint16_t *h = malloc(n * dim * sizeof *h);
    for (size_t i = 0; i < n * dim; i++)
        h[i] = vdb_f32_to_f16(v[i]);
    static const vdb_type types[] = {VDB_TYPE_FLOAT_VECTOR, VDB_TYPE_FLOAT16_VECTOR};
    for (size_t ti = 0; ti < 2; ti++) {
        vdb_type t = types[ti];
        const void *rows = ti ? (const void *)h : (const void *)v;
        for (size_t mi = 0; mi < VDB_ARRAY_LEN(metrics); mi++) {
            vdb_metric m = metrics[mi];
            vdb_ivf_params p = {16, 0, 0};
            vdb_ivf *ivf, *heap, *view, *bad;
            assert_int_equal(vdb_ivf_build_t(VDB_IVF_FLAT, t, rows, n, dim, m, &p, 1, NULL,
                                             NULL, &ivf),
                             VDB_OK);
            vdb_buf b = {0}, old = {0}, again = {0};
            assert_int_equal(vdb_ivf_encode(ivf, &b), VDB_OK);
            size_t cap = (b.len + 64 + 63) & ~(size_t)63;
            uint8_t *a = aligned_alloc(64, cap);
            memcpy(a, b.p, b.len);
            assert_int_equal(vdb_ivf_decode_t(a, b.len, t, n, dim, &heap), VDB_OK);
            assert_int_equal(vdb_ivf_decode_view(a, b.len, t, n, dim, &view), VDB_OK);
            assert_true(vdb_ivf_memory(view) < 1024);
            assert_true(vdb_ivf_memory(heap) > n * dim * 2);
            bool hb = vdb_metric_higher_is_better(m);
            int64_t ids1[20 * K], ids2[20 * K];
            float s1[20 * K], s2[20 * K];
            run_all(heap, v + n * dim, nq, dim, hb, ids1, s1);
            run_all(view, v + n * dim, nq, dim, hb, ids2, s2);
            assert_memory_equal(ids1, ids2, sizeof ids1);
            assert_memory_equal(s1, s2, sizeof s1);
            /* a selective bitset goes through the saved positions */
            uint64_t bits[(1500 + 63) / 64] = {0};
            for (size_t r = 0; r < n; r += 97)
                bits[r >> 6] |= 1ull << (r & 63);
            vdb_topk t1, t2;
            assert_int_equal(vdb_topk_init(&t1, K, hb), VDB_OK);
            assert_int_equal(vdb_topk_init(&t2, K, hb), VDB_OK);
            assert_int_equal(vdb_ivf_search(heap, v + n * dim, K, 4, rows, bits, 0, &t1),
                             VDB_OK);
            assert_int_equal(vdb_ivf_search(view, v + n * dim, K, 4, rows, bits, 0, &t2),
                             VDB_OK);
            vdb_topk_sort(&t1);
            vdb_topk_sort(&t2);
            assert_int_equal(t1.n, t2.n);
            assert_memory_equal(t1.id, t2.id, t1.n * sizeof *t1.id);
            assert_memory_equal(t1.dist, t2.dist, t1.n * sizeof *t1.dist);
            vdb_topk_free(&t1);
            vdb_topk_free(&t2);
            vdb_ivf_free(view);
            /* the old version: read on the heap, written again as version 3, not viewed */
            assert_int_equal(vdb_ivf_encode_version(ivf, ti ? 2 : 1, &old), VDB_OK);
            assert_int_equal(vdb_ivf_encode_version(ivf, ti ? 1 : 2, &again), VDB_EINVAL);
            memcpy(a, old.p, old.len);
            assert_int_equal(vdb_ivf_decode_view(a, old.len, t, n, dim, &bad), VDB_EVERSION);
            vdb_ivf_free(heap);
            assert_int_equal(vdb_ivf_decode_t(old.p, old.len, t, n, dim, &heap), VDB_OK);
            assert_int_equal(vdb_ivf_encode(heap, &again), VDB_OK);
            assert_int_equal(again.len, b.len);
            assert_memory_equal(again.p, b.p, b.len);
            vdb_ivf_free(heap);
            /* misaligned */
            memcpy(a + 4, b.p, b.len);
            assert_int_equal(vdb_ivf_decode_view(a + 4, b.len, t, n, dim, &bad), VDB_EINVAL);
            /* every prefix refused (a copy of exactly len bytes each: ASan sees an overread) */
            for (size_t len = 0; len < b.len; len += len < 256 ? 1 : 61) {
                size_t qcap = (len + 63) & ~(size_t)63;
                uint8_t *q = aligned_alloc(64, qcap ? qcap : 64);
                memcpy(q, b.p, len);
                bad = NULL;
                assert_int_equal(vdb_ivf_decode_view(q, len, t, n, dim, &bad), VDB_ECORRUPT);
                assert_null(bad);
                free(q);
            }
            /* damage a view cannot see by checksum: refused, or an index that answers */
            uint64_t s = 7 + ti * 3 + mi;
            for (int i = 0; i < 300; i++) {
                memcpy(a, b.p, b.len);
                size_t at = test_rand(&s) % (b.len - 4);
                a[at] ^= (uint8_t)(1 + test_rand(&s) % 255);
                bad = NULL;
                vdb_status st = vdb_ivf_decode_view(a, b.len, t, n, dim, &bad);
                if (st != VDB_OK) {
                    assert_true(st == VDB_ECORRUPT || st == VDB_EVERSION);
                    assert_null(bad);
                    continue;
                }
                run_all(bad, v + n * dim, 5, dim, hb, ids2, s2);
                vdb_ivf_free(bad);
            }
            free(a);
            vdb_buf_free(&b);
            vdb_buf_free(&old);
            vdb_buf_free(&again);
            vdb_ivf_free(ivf);
        }
    }
    free(h);
    free(v);
}

/* Each per-kind test once for every kind, named after it. */
#define PER_KIND(f)                                                                            \
    {#f "_IVF_FLAT", f, NULL, NULL, (void *)&kinds[0]},                                        \
        {#f "_IVF_SQ8", f, NULL, NULL, (void *)&kinds[1]},                                     \
        {#f "_IVF_PQ", f, NULL, NULL, (void *)&kinds[2]}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_sq8_and_pq_answer_unsupported_without_faiss),
        PER_KIND(test_small),
        PER_KIND(test_corrupt),
        PER_KIND(test_roundtrip),
        PER_KIND(test_half_rows),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_view),
        cmocka_unit_test(test_index_of_another_metric_is_corrupt),
        PER_KIND(test_threads),
        PER_KIND(test_bitset),
        PER_KIND(test_recall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests of the top-k heap and of flat search (kernel and sgemm paths) against a naive reference. */
#include "test_common.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "index/kernels/kernels.h"

static const vdb_metric metrics[] = {VDB_METRIC_L2, VDB_METRIC_IP, VDB_METRIC_COSINE};

typedef struct cand {
    double s;
    int64_t id;
} cand;

static bool ref_higher_better;

static int cand_cmp(const void *pa, const void *pb)
{
    const cand *a = pa, *b = pb;
    if (a->s != b->s) {
        bool a_better = ref_higher_better ? a->s > b->s : a->s < b->s;
        return a_better ? -1 : 1;
    }
    return a->id < b->id ? -1 : a->id > b->id;
}

static double ref_score(vdb_metric m, const float *q, const float *x, size_t dim)
{
    double dot = 0, qq = 0, xx = 0, l2 = 0;
    for (size_t i = 0; i < dim; i++) {
        double d = (double)q[i] - x[i];
        l2 += d * d;
        dot += (double)q[i] * x[i];
        qq += (double)q[i] * q[i];
        xx += (double)x[i] * x[i];
    }
    if (m == VDB_METRIC_L2)
        return l2;
    if (m == VDB_METRIC_IP)
        return dot;
    return qq == 0 || xx == 0 ? 0 : dot / (sqrt(qq) * sqrt(xx));
}

static bool bit(const uint64_t *bs, size_t i) { return !bs || (bs[i / 64] >> (i % 64)) & 1; }

static double tol(double ref) { return 1e-4 * (1 + fabs(ref)); }

/* Checks a sorted result for one query against brute force in double: the k best scores agree
 * position by position, and every returned id is a distinct candidate whose own score is the
 * one reported. Ids may differ from the reference only between near-equal scores. */
static void check_query(const float *base, size_t n, size_t dim, vdb_metric m, const float *q,
                        const uint64_t *bs, int64_t id_base, size_t k, const vdb_topk *t)
{
    cand *c = malloc((n + 1) * sizeof *c);
    assert_non_null(c);
    size_t nc = 0;
    for (size_t r = 0; r < n; r++) {
        if (!bit(bs, r))
            continue;
        c[nc].s = ref_score(m, q, base + r * dim, dim);
        c[nc].id = (int64_t)r;
        if (!isnan(c[nc].s))
            nc++;
    }
    ref_higher_better = vdb_metric_higher_is_better(m);
    qsort(c, nc, sizeof *c, cand_cmp);
    size_t want = nc < k ? nc : k;
    assert_int_equal(t->n, want);
    for (size_t i = 0; i < want; i++) {
        if (!(fabs(t->dist[i] - c[i].s) <= tol(c[i].s))) {
            print_error("metric %d rank %zu: got %.7g (id %lld), want %.7g (id %lld)\n", (int)m, i,
                        t->dist[i], (long long)t->id[i], c[i].s, (long long)c[i].id);
            fail();
        }
        int64_t r = t->id[i] - id_base;
        assert_true(r >= 0 && (size_t)r < n);
        assert_true(bit(bs, (size_t)r));
        double own = ref_score(m, q, base + (size_t)r * dim, dim);
        assert_true(fabs(t->dist[i] - own) <= tol(own));
        for (size_t j = 0; j < i; j++)
            assert_true(t->id[j] != t->id[i]);
        if (i > 0) /* best first */
            assert_true(ref_higher_better ? t->dist[i - 1] >= t->dist[i]
                                          : t->dist[i - 1] <= t->dist[i]);
    }
    free(c);
}

static float *rand_matrix(size_t rows, size_t dim, uint64_t seed)
{
    float *m = malloc(rows * dim * sizeof(float));
    assert_non_null(m);
    for (size_t i = 0; i < rows * dim; i++)
        m[i] = test_randf(&seed);
    return m;
}

static vdb_topk *heaps_new(size_t nq, size_t k, vdb_metric m)
{
    vdb_topk *t = calloc(nq, sizeof *t);
    assert_non_null(t);
    for (size_t q = 0; q < nq; q++)
        assert_int_equal(vdb_topk_init(&t[q], k, vdb_metric_higher_is_better(m)), VDB_OK);
    return t;
}

static void heaps_free(vdb_topk *t, size_t nq)
{
    for (size_t q = 0; q < nq; q++)
        vdb_topk_free(&t[q]);
    free(t);
}

/* One search over all rows, then the reference check of every query. */
static void run_and_check(const float *base, size_t n, size_t dim, vdb_metric m,
                          const float *queries, size_t nq, const uint64_t *bs, size_t k)
{
    vdb_topk *t = heaps_new(nq, k, m);
    assert_int_equal(vdb_flat_search(base, n, dim, m, queries, nq, bs, 0, t), VDB_OK);
    for (size_t q = 0; q < nq; q++) {
        vdb_topk_sort(&t[q]);
        check_query(base, n, dim, m, queries + q * dim, bs, 0, k, &t[q]);
    }
    heaps_free(t, nq);
}

enum { N = 3001, DIM = 37, K = 10 };

static void search_all_metrics(size_t nq, const uint64_t *bs, size_t k)
{
    float *base = rand_matrix(N, DIM, 7);
    float *queries = rand_matrix(nq, DIM, 8);
    for (size_t mi = 0; mi < VDB_ARRAY_LEN(metrics); mi++)
        run_and_check(base, N, DIM, metrics[mi], queries, nq, bs, k);
    free(base);
    free(queries);
}

/* Most rows cleared: every 37th row plus one dense run, so the sgemm path sees both scattered
 * rows (packed) and a contiguous run (used in place). */
static uint64_t *sparse_bitset(size_t n)
{
    uint64_t *bs = calloc((n + 63) / 64, sizeof *bs);
    assert_non_null(bs);
    for (size_t r = 0; r < n; r++)
        if (r % 37 == 0 || (r >= 1000 && r < 1100))
            bs[r / 64] |= 1ull << (r % 64);
    return bs;
}

static void test_flat_single_query_matches_reference_for_every_metric(void **state)
{
    (void)state;
    search_all_metrics(1, NULL, K);
}

static void test_flat_few_queries_kernel_path_matches_reference(void **state)
{
    (void)state;
    search_all_metrics(5, NULL, K);
}

static void test_flat_batch_sgemm_path_matches_reference_for_every_metric(void **state)
{
    (void)state;
    search_all_metrics(64, NULL, K);
}

static void test_flat_batch_over_query_block_matches_reference(void **state)
{
    (void)state;
    search_all_metrics(300, NULL, 3);
}

static void test_flat_single_query_with_sparse_bitset_returns_only_set_rows(void **state)
{
    (void)state;
    uint64_t *bs = sparse_bitset(N);
    search_all_metrics(1, bs, K);
    free(bs);
}

static void test_flat_batch_with_sparse_bitset_returns_only_set_rows(void **state)
{
    (void)state;
    uint64_t *bs = sparse_bitset(N);
    search_all_metrics(64, bs, K);
    free(bs);
}

static void test_flat_k_larger_than_candidates_returns_fewer_results(void **state)
{
    (void)state;
    uint64_t *bs = calloc((N + 63) / 64, sizeof *bs);
    assert_non_null(bs);
    const size_t keep[] = {0, 63, 64, 2000, N - 1};
    for (size_t i = 0; i < VDB_ARRAY_LEN(keep); i++)
        bs[keep[i] / 64] |= 1ull << (keep[i] % 64);
    search_all_metrics(1, bs, 20);
    search_all_metrics(64, bs, 20);
    free(bs);
}

static void test_flat_empty_bitset_returns_nothing(void **state)
{
    (void)state;
    uint64_t *bs = calloc((N + 63) / 64, sizeof *bs);
    assert_non_null(bs);
    search_all_metrics(1, bs, K);
    search_all_metrics(64, bs, K);
    free(bs);
}

static void test_flat_kernel_path_at_every_simd_level_matches_reference(void **state)
{
    (void)state;
    const char *levels[] = {"portable", "avx2", "avx512"};
    for (size_t i = 0; i < VDB_ARRAY_LEN(levels); i++) {
        if (!vdb_simd_force(levels[i]))
            continue;
        search_all_metrics(3, NULL, K);
    }
    assert_true(vdb_simd_force(NULL));
}

/* Three segments searched into the same heaps with their id offsets must give what one search
 * over the whole base gives; segment bitsets are slices of one bitset (boundaries on words). */
static void multi_segment(size_t nq)
{
    const size_t seg[] = {1024, 1536, N - 1024 - 1536};
    float *base = rand_matrix(N, DIM, 21);
    float *queries = rand_matrix(nq, DIM, 22);
    uint64_t *bs = sparse_bitset(N);
    for (size_t mi = 0; mi < VDB_ARRAY_LEN(metrics); mi++) {
        vdb_metric m = metrics[mi];
        for (int with_bs = 0; with_bs < 2; with_bs++) {
            vdb_topk *t = heaps_new(nq, K, m);
            size_t off = 0;
            for (size_t s = 0; s < VDB_ARRAY_LEN(seg); s++) {
                const uint64_t *sbs = with_bs ? bs + off / 64 : NULL;
                assert_int_equal(vdb_flat_search(base + off * DIM, seg[s], DIM, m, queries, nq,
                                                 sbs, (int64_t)off, t),
                                 VDB_OK);
                off += seg[s];
            }
            for (size_t q = 0; q < nq; q++) {
                vdb_topk_sort(&t[q]);
                check_query(base, N, DIM, m, queries + q * DIM, with_bs ? bs : NULL, 0, K, &t[q]);
            }
            heaps_free(t, nq);
        }
    }
    free(bs);
    free(base);
    free(queries);
}

static void test_flat_segments_merged_in_one_heap_match_one_search(void **state)
{
    (void)state;
    multi_segment(1);
    multi_segment(64);
}

static void test_flat_id_base_offsets_every_returned_id(void **state)
{
    (void)state;
    float *base = rand_matrix(500, DIM, 31);
    float *queries = rand_matrix(64, DIM, 32);
    const int64_t id_base = 1000000007;
    for (size_t nq = 1; nq <= 64; nq += 63) {
        vdb_topk *t = heaps_new(nq, K, VDB_METRIC_L2);
        assert_int_equal(
            vdb_flat_search(base, 500, DIM, VDB_METRIC_L2, queries, nq, NULL, id_base, t),
            VDB_OK);
        for (size_t q = 0; q < nq; q++) {
            vdb_topk_sort(&t[q]);
            check_query(base, 500, DIM, VDB_METRIC_L2, queries + q * DIM, NULL, id_base, K, &t[q]);
        }
        heaps_free(t, nq);
    }
    free(base);
    free(queries);
}

/* Small integers make every dot product exact in float, so duplicate rows tie exactly on both
 * paths and the smaller ids must win. */
static void test_flat_equal_scores_keep_the_smallest_ids(void **state)
{
    (void)state;
    enum { ROWS = 300, D = 16 };
    float *base = malloc(ROWS * D * sizeof(float));
    float *queries = malloc(64 * D * sizeof(float));
    assert_non_null(base);
    assert_non_null(queries);
    for (size_t r = 0; r < ROWS; r++)
        for (size_t i = 0; i < D; i++)
            base[r * D + i] = (float)(i % 3); /* every row the same */
    for (size_t i = 0; i < 64 * D; i++)
        queries[i] = (float)(i % 5);
    for (size_t mi = 0; mi < VDB_ARRAY_LEN(metrics); mi++) {
        for (size_t nq = 1; nq <= 64; nq += 63) {
            vdb_topk *t = heaps_new(nq, 5, metrics[mi]);
            assert_int_equal(
                vdb_flat_search(base, ROWS, D, metrics[mi], queries, nq, NULL, 100, t), VDB_OK);
            for (size_t q = 0; q < nq; q++) {
                vdb_topk_sort(&t[q]);
                assert_int_equal(t[q].n, 5);
                for (size_t i = 0; i < 5; i++)
                    assert_int_equal(t[q].id[i], 100 + (int64_t)i);
            }
            heaps_free(t, nq);
        }
    }
    free(base);
    free(queries);
}

static void test_flat_nan_rows_are_never_returned(void **state)
{
    (void)state;
    float *base = rand_matrix(200, DIM, 41);
    float *queries = rand_matrix(64, DIM, 42);
    for (size_t r = 0; r < 200; r += 2)
        base[r * DIM + 5] = NAN;
    for (size_t mi = 0; mi < VDB_ARRAY_LEN(metrics); mi++) {
        for (size_t nq = 1; nq <= 64; nq += 63) {
            vdb_topk *t = heaps_new(nq, 150, metrics[mi]);
            assert_int_equal(
                vdb_flat_search(base, 200, DIM, metrics[mi], queries, nq, NULL, 0, t), VDB_OK);
            for (size_t q = 0; q < nq; q++) {
                assert_int_equal(t[q].n, 100);
                for (size_t i = 0; i < t[q].n; i++) {
                    assert_true(t[q].id[i] % 2 == 1);
                    assert_false(isnan(t[q].dist[i]));
                }
            }
            heaps_free(t, nq);
        }
    }
    free(base);
    free(queries);
}

static void test_flat_rejects_heap_of_the_wrong_order(void **state)
{
    (void)state;
    float x[4] = {1, 2, 3, 4};
    vdb_topk t;
    assert_int_equal(vdb_topk_init(&t, 3, true), VDB_OK);
    assert_int_equal(vdb_flat_search(x, 1, 4, VDB_METRIC_L2, x, 1, NULL, 0, &t), VDB_EINVAL);
    assert_int_equal(vdb_flat_search(x, 1, 4, (vdb_metric)42, x, 1, NULL, 0, &t), VDB_EINVAL);
    assert_int_equal(vdb_flat_search(x, 1, 0, VDB_METRIC_IP, x, 1, NULL, 0, &t), VDB_EINVAL);
    assert_int_equal(vdb_flat_search(x, 1, 4, VDB_METRIC_IP, x, 1, NULL, 0, &t), VDB_OK);
    assert_int_equal(t.n, 1);
    vdb_topk_free(&t);
}

typedef struct worker {
    const float *base, *queries;
    vdb_metric m;
    vdb_topk *t;
    vdb_status st;
} worker;

static void *worker_run(void *arg)
{
    worker *w = arg;
    w->st = vdb_flat_search(w->base, N, DIM, w->m, w->queries, 64, NULL, 0, w->t);
    return NULL;
}

static void test_flat_concurrent_batches_from_several_threads_are_correct(void **state)
{
    (void)state;
    enum { THREADS = 4 };
    float *base = rand_matrix(N, DIM, 51);
    float *queries = rand_matrix(64 * THREADS, DIM, 52);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (size_t i = 0; i < THREADS; i++) {
        w[i] = (worker){base, queries + i * 64 * DIM, metrics[i % 3], NULL, VDB_EIO};
        w[i].t = heaps_new(64, K, w[i].m);
        assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
    }
    for (size_t i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].st, VDB_OK);
        for (size_t q = 0; q < 64; q++) {
            vdb_topk_sort(&w[i].t[q]);
            check_query(base, N, DIM, w[i].m, w[i].queries + q * DIM, NULL, 0, K, &w[i].t[q]);
        }
        heaps_free(w[i].t, 64);
    }
    free(base);
    free(queries);
}

/* ---- the heap alone ---- */

static void test_topk_ties_keep_smaller_id_in_any_push_order(void **state)
{
    (void)state;
    const int64_t orders[2][4] = {{5, 3, 9, 7}, {9, 7, 3, 5}};
    for (size_t o = 0; o < 2; o++) {
        for (int hb = 0; hb < 2; hb++) {
            vdb_topk t;
            assert_int_equal(vdb_topk_init(&t, 2, hb), VDB_OK);
            for (size_t i = 0; i < 4; i++) {
                int64_t id = orders[o][i];
                vdb_topk_push(&t, id == 7 ? (hb ? 2.0f : 0.5f) : 1.0f, id);
            }
            vdb_topk_sort(&t);
            assert_int_equal(t.n, 2);
            assert_int_equal(t.id[0], 7);
            assert_int_equal(t.id[1], 3);
            vdb_topk_free(&t);
        }
    }
}

static int ref_cmp_lower(const void *pa, const void *pb)
{
    ref_higher_better = false;
    return cand_cmp(pa, pb);
}

static int ref_cmp_higher(const void *pa, const void *pb)
{
    ref_higher_better = true;
    return cand_cmp(pa, pb);
}

static void test_topk_matches_full_sort_with_many_duplicates(void **state)
{
    (void)state;
    enum { COUNT = 10000, KK = 50 };
    cand *c = malloc(COUNT * sizeof *c);
    assert_non_null(c);
    for (int hb = 0; hb < 2; hb++) {
        uint64_t rng = 77 + (uint64_t)hb;
        vdb_topk t;
        assert_int_equal(vdb_topk_init(&t, KK, hb), VDB_OK);
        for (size_t i = 0; i < COUNT; i++) {
            c[i].s = (double)(test_rand(&rng) % 200); /* many equal scores */
            c[i].id = (int64_t)(test_rand(&rng) % 100000);
            vdb_topk_push(&t, (float)c[i].s, c[i].id);
        }
        qsort(c, COUNT, sizeof *c, hb ? ref_cmp_higher : ref_cmp_lower);
        vdb_topk_sort(&t);
        assert_int_equal(t.n, KK);
        for (size_t i = 0; i < KK; i++) {
            assert_true(t.dist[i] == (float)c[i].s);
            assert_int_equal(t.id[i], c[i].id);
        }
        vdb_topk_free(&t);
    }
    free(c);
}

static void test_topk_worst_is_open_until_full_then_the_root(void **state)
{
    (void)state;
    vdb_topk t;
    assert_int_equal(vdb_topk_init(&t, 2, false), VDB_OK);
    assert_true(isinf(vdb_topk_worst(&t)) && vdb_topk_worst(&t) > 0);
    vdb_topk_push(&t, 3.0f, 1);
    assert_true(isinf(vdb_topk_worst(&t)));
    vdb_topk_push(&t, 1.0f, 2);
    assert_true(vdb_topk_worst(&t) == 3.0f);
    vdb_topk_push(&t, 2.0f, 3);
    assert_true(vdb_topk_worst(&t) == 2.0f);
    vdb_topk_push(&t, NAN, 4);
    assert_true(vdb_topk_worst(&t) == 2.0f);
    vdb_topk_reset(&t);
    assert_int_equal(t.n, 0);
    vdb_topk_free(&t);
    assert_int_equal(vdb_topk_init(&t, 0, false), VDB_EINVAL);
    assert_int_equal(vdb_topk_init(&t, 1, true), VDB_OK);
    assert_true(isinf(vdb_topk_worst(&t)) && vdb_topk_worst(&t) < 0);
    vdb_topk_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topk_ties_keep_smaller_id_in_any_push_order),
        cmocka_unit_test(test_topk_matches_full_sort_with_many_duplicates),
        cmocka_unit_test(test_topk_worst_is_open_until_full_then_the_root),
        cmocka_unit_test(test_flat_single_query_matches_reference_for_every_metric),
        cmocka_unit_test(test_flat_few_queries_kernel_path_matches_reference),
        cmocka_unit_test(test_flat_batch_sgemm_path_matches_reference_for_every_metric),
        cmocka_unit_test(test_flat_batch_over_query_block_matches_reference),
        cmocka_unit_test(test_flat_single_query_with_sparse_bitset_returns_only_set_rows),
        cmocka_unit_test(test_flat_batch_with_sparse_bitset_returns_only_set_rows),
        cmocka_unit_test(test_flat_k_larger_than_candidates_returns_fewer_results),
        cmocka_unit_test(test_flat_empty_bitset_returns_nothing),
        cmocka_unit_test(test_flat_kernel_path_at_every_simd_level_matches_reference),
        cmocka_unit_test(test_flat_segments_merged_in_one_heap_match_one_search),
        cmocka_unit_test(test_flat_id_base_offsets_every_returned_id),
        cmocka_unit_test(test_flat_equal_scores_keep_the_smallest_ids),
        cmocka_unit_test(test_flat_nan_rows_are_never_returned),
        cmocka_unit_test(test_flat_rejects_heap_of_the_wrong_order),
        cmocka_unit_test(test_flat_concurrent_batches_from_several_threads_are_correct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

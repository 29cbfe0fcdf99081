/* Benchmark of exact flat search on Fashion-MNIST (60,000 x 784, L2): recall@10 and queries/s
 * per SIMD level, single queries and batches, beside the bare matrix product of the same shape
 * (OpenBLAS sgemm, or the portable product of a build without OpenBLAS). */
#ifdef VDB_HAVE_OPENBLAS
#include <cblas.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmnist.h"
#include "index/kernels/kernels.h"

#define DIM FMNIST_DIM
#define K 10

typedef struct opts {
    const char *data;
    size_t single, batched;
} opts;

static double recall_at_k(const vdb_topk *t, const int32_t *gt)
{
    size_t hit = 0;
    for (size_t i = 0; i < t->n && i < K; i++)
        for (size_t j = 0; j < K; j++)
            if (t->id[i] == gt[j]) {
                hit++;
                break;
            }
    return (double)hit / K;
}

typedef struct run {
    double qps, recall;
} run;

/* Searches the first `total` queries in batches of nq (a final short batch included). */
static int search_run(const float *base, size_t n, const float *queries, const int32_t *gt,
                      size_t gt_k, size_t total, size_t nq, vdb_topk *heaps, run *r)
{
    double recall = 0;
    uint64_t t0 = vdb_mono_ns();
    for (size_t q0 = 0; q0 < total; q0 += nq) {
        size_t m = VDB_MIN(nq, total - q0);
        for (size_t i = 0; i < m; i++)
            vdb_topk_reset(&heaps[i]);
        if (vdb_flat_search(base, n, DIM, VDB_METRIC_L2, queries + q0 * DIM, m, NULL, 0,
                            heaps) != VDB_OK) {
            fprintf(stderr, "flat search: %s\n", vdb_err_get());
            return -1;
        }
        for (size_t i = 0; i < m; i++) {
            vdb_topk_sort(&heaps[i]);
            recall += recall_at_k(&heaps[i], gt + (q0 + i) * gt_k);
        }
    }
    double sec = (double)(vdb_mono_ns() - t0) / 1e9;
    r->qps = (double)total / sec;
    r->recall = recall / (double)total;
    return 0;
}

/* The bare matrix product our batched path is built on: scores only, no norms, no heaps. */
static double sgemm_qps(const float *base, size_t n, const float *queries, size_t total,
                        size_t nq, float *c)
{
    uint64_t t0 = vdb_mono_ns();
    for (size_t q0 = 0; q0 < total; q0 += nq) {
        size_t m = VDB_MIN(nq, total - q0);
        vdb_gemm_nt(m, n, DIM, queries + q0 * DIM, DIM, base, DIM, c, n);
    }
    return (double)total / ((double)(vdb_mono_ns() - t0) / 1e9);
}

static int parse(int argc, char **argv, opts *o)
{
    o->data = fmnist_default_data_dir();
    o->single = 200;
    o->batched = 2000;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--data") == 0)
            o->data = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--single") == 0)
            o->single = strtoul(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(argv[i], "--batched") == 0)
            o->batched = strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr,
                    "usage: %s [--data DIR] [--single N] [--batched N]\n"
                    "  --data: holds fashion-mnist/groundtruth.ivecs (default %s); the images\n"
                    "  come from there or from %s\n",
                    argv[0], o->data, FMNIST_SYSTEM_DIR);
            return -1;
        }
    }
    if (o->single == 0 || o->batched == 0) {
        fprintf(stderr, "--single and --batched need at least one query\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 1;
    opts o;
    if (parse(argc, argv, &o) != 0)
        return 2;
    size_t n = 0, nqueries = 0, ngt = 0, gt_k = 0;
    float *base = NULL, *queries = NULL, *c = NULL;
    int32_t *gt = NULL;
    vdb_topk heaps[256];
    size_t nheaps = 0;

    if (fmnist_load_base(o.data, 0, &base, &n) != 0 ||
        fmnist_load_queries(o.data, 0, &queries, &nqueries) != 0 ||
        fmnist_load_groundtruth(o.data, 0, &gt, &ngt, &gt_k) != 0)
        goto done;
    if (gt_k < K) {
        fprintf(stderr, "ground truth has %zu ids per query, fewer than %d\n", gt_k, K);
        goto done;
    }
    size_t limit = VDB_MIN(nqueries, ngt);
    o.single = VDB_MIN(o.single, limit);
    o.batched = VDB_MIN(o.batched, limit);
    for (; nheaps < VDB_ARRAY_LEN(heaps); nheaps++)
        if (vdb_topk_init(&heaps[nheaps], K, false) != VDB_OK)
            goto done;
    if (!(c = malloc(256 * n * sizeof(float))))
        goto done;

#ifdef VDB_HAVE_OPENBLAS
    printf("flat L2 exact search, %zu x %d, k=%d; cpu level %s; OpenBLAS threads %d (%s)\n", n,
           DIM, K, vdb_simd_level(), openblas_get_num_threads(), openblas_get_config());
    const char *gemm = "OpenBLAS sgemm";
#else
    printf("flat L2 exact search, %zu x %d, k=%d; cpu level %s; no OpenBLAS (blocked product on the kernels)\n",
           n, DIM, K, vdb_simd_level());
    const char *gemm = "blocked product on the SIMD kernels";
#endif
    printf("%-9s %6s %8s %12s %9s\n", "level", "nq", "queries", "queries/s", "recall@10");
    const char *levels[] = {"portable", "avx2", "avx512", "neon", "sve"};
    const size_t batches[] = {64, 256};
    double best_batch[2] = {0, 0};
    for (size_t li = 0; li < VDB_ARRAY_LEN(levels); li++) {
        if (!vdb_simd_force(levels[li])) {
            printf("%-9s (not on this CPU)\n", levels[li]);
            continue;
        }
        run r;
        if (search_run(base, n, queries, gt, gt_k, o.single, 1, heaps, &r) != 0)
            goto done;
        printf("%-9s %6d %8zu %12.1f %9.4f\n", levels[li], 1, o.single, r.qps, r.recall);
        for (size_t bi = 0; bi < VDB_ARRAY_LEN(batches); bi++) {
            if (search_run(base, n, queries, gt, gt_k, o.batched, batches[bi], heaps, &r) != 0)
                goto done;
            printf("%-9s %6zu %8zu %12.1f %9.4f\n", levels[li], batches[bi], o.batched, r.qps,
                   r.recall);
            best_batch[bi] = VDB_MAX(best_batch[bi], r.qps);
        }
    }
    vdb_simd_force(NULL);

    /* Around the kernel/sgemm switch: per-query throughput on each side of it. */
    printf("\nbatch size sweep at %s (%zu queries each):\n", vdb_simd_level(), o.single);
    const size_t sweep[] = {1, 2, 4, 7, 8, 12, 16, 24, 32, 64};
    for (size_t si = 0; si < VDB_ARRAY_LEN(sweep); si++) {
        run r;
        size_t total = VDB_MAX(o.single, sweep[si]);
        if (search_run(base, n, queries, gt, gt_k, total, sweep[si], heaps, &r) != 0)
            goto done;
        printf("  nq %3zu: %10.1f queries/s  recall@10 %.4f\n", sweep[si], r.qps, r.recall);
    }

    printf("\nbare %s (nq x %zu x %d, scores only) vs flat search, same run:\n", gemm, n, DIM);
    for (size_t bi = 0; bi < VDB_ARRAY_LEN(batches); bi++) {
        double s = sgemm_qps(base, n, queries, o.batched, batches[bi], c);
        printf("  nq %3zu: sgemm %10.1f queries/s, flat (best level) %10.1f, flat/sgemm %.2f\n",
               batches[bi], s, best_batch[bi], best_batch[bi] / s);
    }
    rc = 0;
done:
    for (size_t i = 0; i < nheaps; i++)
        vdb_topk_free(&heaps[i]);
    free(c);
    free(gt);
    free(queries);
    free(base);
    return rc;
}

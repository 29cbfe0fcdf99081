/* bench_search: exact search through the database on Fashion-MNIST, beside plain OpenBLAS.
 *
 * Creates a collection (L2, dim 784), inserts the 60,000 base vectors in batches of 1,000
 * (ids 0..59,999 = their positions in the base file), searches the first N queries (k=10) one
 * at a time (nq=1) and in batches (nq=100) while the data is in 1 growing segment, then
 * vdb_flush and the same on the sealed segment. Prints queries/s, p50/p99 latency,
 * recall@10 against the ground truth. In the same run: cblas_sgemm of the same shapes
 * (queries x base^T) timed alone, and sgemm + a top-10 selection (||b||^2 - 2 q.b, base norms
 * computed once beforehand), with the ratios db/sgemm.
 *
 * Usage: bench_search [--queries N] [--nq B] [--data DIR] [--dir DIR] [--keep]
 *   --queries N  queries to run (default 1000, at most 10000)
 *   --nq B       queries per batched call (default 100)
 *   --data DIR   shared data folder (default: the build's VDB_SHARED_DATA)
 *   --dir DIR    database folder (default: a new folder in /tmp, removed at the end) */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cblas.h>
#include <vdb/vdb.h>

#include "bench_util.h"
#include "fmnist.h"

#define K 10
#define DIM FMNIST_DIM
#define INSERT_BATCH 1000

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* p in [0,1] of n sorted values (nearest rank). */
static double pct(const double *sorted, size_t n, double p)
{
    size_t i = (size_t)ceil(p * (double)n);
    return sorted[i ? i - 1 : 0];
}

/* recall@K: mean overlap of each result row with the first K ground-truth ids. */
static double recall(const int64_t *ids, const int32_t *gt, size_t gt_k, size_t nq)
{
    size_t hit = 0;
    for (size_t q = 0; q < nq; q++)
        for (size_t i = 0; i < K; i++)
            for (size_t j = 0; j < K; j++)
                if (ids[q * K + i] == gt[q * gt_k + j]) {
                    hit++;
                    break;
                }
    return (double)hit / (double)(nq * K);
}

typedef struct measure {
    double qps;
    double p50_ms, p99_ms; /* per call */
    double recall;
} measure;

static void print_measure(const char *label, const measure *m)
{
    printf("%-36s %10.1f %9.3f %9.3f %9.4f\n", label, m->qps, m->p50_ms, m->p99_ms, m->recall);
}

/* ---- the database ----------------------------------------------------------------------- */

/* Searches the queries nq at a time; ids gets K ids per query, lat one time per call. */
static measure db_search(vdb_db *db, const float *queries, size_t n, size_t nq,
                         const int32_t *gt, size_t gt_k, int64_t *ids, double *lat)
{
    vdb_search_req req = {.struct_size = sizeof req, .collection = "fmnist", .dim = DIM, .k = K};
    vdb_result *res;
    vdb_status st;
    /* warm-up call, not timed */
    req.vectors = queries;
    req.nq = 1;
    if ((st = vdb_search(db, &req, &res)) != VDB_OK)
        bench_die("vdb_search", st);
    vdb_result_free(res);

    size_t calls = 0;
    double total = 0;
    for (size_t first = 0; first < n; first += nq) {
        size_t m = n - first < nq ? n - first : nq;
        req.vectors = queries + first * DIM;
        req.nq = m;
        double t0 = bench_now();
        if ((st = vdb_search(db, &req, &res)) != VDB_OK)
            bench_die("vdb_search", st);
        double t = bench_now() - t0;
        lat[calls++] = t;
        total += t;
        for (size_t q = 0; q < m; q++) {
            size_t got = vdb_result_rows(res, q);
            for (size_t i = 0; i < K; i++)
                ids[(first + q) * K + i] = i < got ? vdb_result_pk_int(res, q, i) : -1;
        }
        vdb_result_free(res);
    }
    qsort(lat, calls, sizeof *lat, cmp_double);
    measure r = {.qps = (double)n / total, .p50_ms = pct(lat, calls, 0.5) * 1e3,
                 .p99_ms = pct(lat, calls, 0.99) * 1e3, .recall = recall(ids, gt, gt_k, n)};
    return r;
}

/* ---- plain OpenBLAS --------------------------------------------------------------------- */

/* The K smallest of norms[j] - 2 * dots[j] into ids (nearest first). */
static void top_k(const float *dots, const float *norms, size_t rows, int64_t *ids)
{
    float best[K];
    int64_t bid[K];
    size_t have = 0;
    for (size_t j = 0; j < rows; j++) {
        float d = norms[j] - 2.0f * dots[j];
        if (have == K && d >= best[K - 1])
            continue;
        size_t i = have < K ? have++ : K - 1;
        while (i > 0 && best[i - 1] > d) {
            best[i] = best[i - 1];
            bid[i] = bid[i - 1];
            i--;
        }
        best[i] = d;
        bid[i] = (int64_t)j;
    }
    for (size_t i = 0; i < K; i++)
        ids[i] = i < have ? bid[i] : -1;
}

/* sgemm (nq x DIM) x (rows x DIM)^T followed by the top-K selection; one pass times both
 * sides of every call, so "alone" (sgemm only) and "+ top-10" come from the same calls. */
static void blas_search(const float *base, const float *norms, size_t rows,
                        const float *queries, size_t n, size_t nq, const int32_t *gt,
                        size_t gt_k, int64_t *ids, double *lat_gemm, double *lat_all,
                        float *scores, measure *alone, measure *with_topk)
{
    /* warm-up call, not timed */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 1, (int)rows, DIM, 1.0f, queries, DIM,
                base, DIM, 0.0f, scores, (int)rows);
    size_t calls = 0;
    double total_gemm = 0, total_all = 0;
    for (size_t first = 0; first < n; first += nq) {
        size_t m = n - first < nq ? n - first : nq;
        double t0 = bench_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)rows, DIM, 1.0f,
                    queries + first * DIM, DIM, base, DIM, 0.0f, scores, (int)rows);
        double t1 = bench_now();
        for (size_t q = 0; q < m; q++)
            top_k(scores + q * rows, norms, rows, ids + (first + q) * K);
        double t2 = bench_now();
        lat_gemm[calls] = t1 - t0;
        lat_all[calls++] = t2 - t0;
        total_gemm += t1 - t0;
        total_all += t2 - t0;
    }
    qsort(lat_gemm, calls, sizeof *lat_gemm, cmp_double);
    qsort(lat_all, calls, sizeof *lat_all, cmp_double);
    *alone = (measure){.qps = (double)n / total_gemm, .p50_ms = pct(lat_gemm, calls, 0.5) * 1e3,
                       .p99_ms = pct(lat_gemm, calls, 0.99) * 1e3, .recall = NAN};
    *with_topk = (measure){.qps = (double)n / total_all, .p50_ms = pct(lat_all, calls, 0.5) * 1e3,
                           .p99_ms = pct(lat_all, calls, 0.99) * 1e3,
                           .recall = recall(ids, gt, gt_k, n)};
}

/* The same one query at a time through cblas_sgemv (base x q), plus the top-K selection: the
 * BLAS routine made for nq=1, as a second reference beside sgemm with m=1. */
static measure gemv_search(const float *base, const float *norms, size_t rows,
                           const float *queries, size_t n, const int32_t *gt, size_t gt_k,
                           int64_t *ids, double *lat, float *scores)
{
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)rows, DIM, 1.0f, base, DIM, queries, 1, 0.0f,
                scores, 1);
    double total = 0;
    for (size_t q = 0; q < n; q++) {
        double t0 = bench_now();
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)rows, DIM, 1.0f, base, DIM,
                    queries + q * DIM, 1, 0.0f, scores, 1);
        top_k(scores, norms, rows, ids + q * K);
        lat[q] = bench_now() - t0;
        total += lat[q];
    }
    qsort(lat, n, sizeof *lat, cmp_double);
    return (measure){.qps = (double)n / total, .p50_ms = pct(lat, n, 0.5) * 1e3,
                     .p99_ms = pct(lat, n, 0.99) * 1e3, .recall = recall(ids, gt, gt_k, n)};
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_search [--queries N] [--nq B] [--data DIR] [--dir DIR] "
                    "[--keep]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    size_t nqueries = 1000, batch_nq = 100;
    const char *data = NULL, *dir = NULL;
    int keep = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--queries") && i + 1 < argc)
            nqueries = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--nq") && i + 1 < argc)
            batch_nq = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--keep"))
            keep = 1;
        else
            usage();
    }
    if (nqueries == 0 || nqueries > FMNIST_QUERY_ROWS || batch_nq == 0 || batch_nq > 16384)
        usage();

    float *base, *queries;
    int32_t *gt;
    size_t rows, nq_loaded, gt_rows, gt_k;
    double t0 = bench_now();
    if (fmnist_load_base(data, 0, &base, &rows) != 0 ||
        fmnist_load_queries(data, nqueries, &queries, &nq_loaded) != 0 ||
        fmnist_load_groundtruth(data, nqueries, &gt, &gt_rows, &gt_k) != 0)
        return 1;
    if (nq_loaded < nqueries || gt_rows < nqueries || gt_k < K) {
        fprintf(stderr, "bench_search: the data has %zu queries and %zu x %zu ground truth\n",
                nq_loaded, gt_rows, gt_k);
        return 1;
    }
    double t_load = bench_now() - t0;

    char tmpdir[] = "/tmp/vdb-bench-search-XXXXXX";
    if (!dir) {
        if (!mkdtemp(tmpdir)) {
            fprintf(stderr, "bench_search: mkdtemp: %s\n", strerror(errno));
            return 1;
        }
        dir = tmpdir;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/db", dir);
    bench_rm_rf(path);

    printf("bench_search: libvdb %s, Fashion-MNIST %zu x %d (loaded in %.2f s), %zu queries, "
           "k=%d, OpenBLAS %d thread(s), folder %s\n",
           vdb_version(), rows, DIM, t_load, nqueries, K, openblas_get_num_threads(), path);

    vdb_db *db;
    vdb_status st;
    if ((st = vdb_open(path, NULL, &db)) != VDB_OK)
        bench_die("vdb_open", st);
    bench_create_collection(db, "fmnist", DIM, VDB_METRIC_L2);

    t0 = bench_now();
    bench_insert_vectors(db, "fmnist", base, rows, DIM, INSERT_BATCH);
    double t_insert = bench_now() - t0;
    vdb_stats stats = {.struct_size = sizeof stats};
    if ((st = vdb_collection_stats(db, "fmnist", &stats)) != VDB_OK)
        bench_die("vdb_collection_stats", st);
    printf("inserted %zu rows in %.2f s (%.0f rows/s, SYNC_FULL, batches of %d): %llu growing "
           "segment(s), %llu sealed\n",
           rows, t_insert, rows / t_insert, INSERT_BATCH,
           (unsigned long long)stats.growing_segments, (unsigned long long)stats.sealed_segments);

    int64_t *ids = malloc(nqueries * K * sizeof *ids);
    double *lat = malloc(nqueries * sizeof *lat), *lat2 = malloc(nqueries * sizeof *lat2);
    float *scores = malloc(batch_nq * rows * sizeof *scores);
    float *norms = malloc(rows * sizeof *norms);
    if (!ids || !lat || !lat2 || !scores || !norms)
        return 1;

    char l1[64], lb[64];
    snprintf(l1, sizeof l1, "nq=1");
    snprintf(lb, sizeof lb, "nq=%zu", batch_nq);
    printf("\n%-36s %10s %9s %9s %9s\n", "", "queries/s", "p50 ms", "p99 ms", "recall@10");
    printf("(latency columns are per call: one query for nq=1, one batch for nq=%zu)\n",
           batch_nq);

    measure g1 = db_search(db, queries, nqueries, 1, gt, gt_k, ids, lat);
    measure gb = db_search(db, queries, nqueries, batch_nq, gt, gt_k, ids, lat);
    char label[96];
    snprintf(label, sizeof label, "db growing (%llu seg) %s",
             (unsigned long long)stats.growing_segments, l1);
    print_measure(label, &g1);
    snprintf(label, sizeof label, "db growing (%llu seg) %s",
             (unsigned long long)stats.growing_segments, lb);
    print_measure(label, &gb);

    t0 = bench_now();
    if ((st = vdb_flush(db, "fmnist")) != VDB_OK)
        bench_die("vdb_flush", st);
    double t_flush = bench_now() - t0;
    if ((st = vdb_collection_stats(db, "fmnist", &stats)) != VDB_OK)
        bench_die("vdb_collection_stats", st);

    measure s1 = db_search(db, queries, nqueries, 1, gt, gt_k, ids, lat);
    measure sb = db_search(db, queries, nqueries, batch_nq, gt, gt_k, ids, lat);
    snprintf(label, sizeof label, "db sealed (%llu seg) %s",
             (unsigned long long)stats.sealed_segments, l1);
    print_measure(label, &s1);
    snprintf(label, sizeof label, "db sealed (%llu seg) %s",
             (unsigned long long)stats.sealed_segments, lb);
    print_measure(label, &sb);

    for (size_t j = 0; j < rows; j++) {
        double s = 0;
        for (size_t d = 0; d < DIM; d++)
            s += (double)base[j * DIM + d] * base[j * DIM + d];
        norms[j] = (float)s;
    }
    measure a1, ab, k1, kb;
    blas_search(base, norms, rows, queries, nqueries, 1, gt, gt_k, ids, lat, lat2, scores, &a1,
                &k1);
    blas_search(base, norms, rows, queries, nqueries, batch_nq, gt, gt_k, ids, lat, lat2, scores,
                &ab, &kb);
    measure v1 = gemv_search(base, norms, rows, queries, nqueries, gt, gt_k, ids, lat, scores);
    snprintf(label, sizeof label, "sgemm alone %s", l1);
    print_measure(label, &a1);
    snprintf(label, sizeof label, "sgemm alone %s", lb);
    print_measure(label, &ab);
    snprintf(label, sizeof label, "sgemm + top-10 %s", l1);
    print_measure(label, &k1);
    snprintf(label, sizeof label, "sgemm + top-10 %s", lb);
    print_measure(label, &kb);
    print_measure("(extra) sgemv + top-10 nq=1", &v1);

    printf("\nflush (seal 60,000 x 784 to the object store): %.3f s\n", t_flush);
    printf("ratios of queries/s              %10s %10s\n", l1, lb);
    printf("  db growing / sgemm alone       %10.3f %10.3f\n", g1.qps / a1.qps, gb.qps / ab.qps);
    printf("  db sealed  / sgemm alone       %10.3f %10.3f\n", s1.qps / a1.qps, sb.qps / ab.qps);
    printf("  db growing / sgemm + top-10    %10.3f %10.3f\n", g1.qps / k1.qps, gb.qps / kb.qps);
    printf("  db sealed  / sgemm + top-10    %10.3f %10.3f\n", s1.qps / k1.qps, sb.qps / kb.qps);
    printf("  db sealed  / db growing        %10.3f %10.3f\n", s1.qps / g1.qps, sb.qps / gb.qps);
    printf("  db sealed  / sgemv + top-10    %10.3f\n", s1.qps / v1.qps);

    vdb_close(db);
    if (!keep)
        bench_rm_rf(dir == tmpdir ? tmpdir : path);
    free(ids);
    free(lat);
    free(lat2);
    free(scores);
    free(norms);
    free(base);
    free(queries);
    free(gt);
    return 0;
}

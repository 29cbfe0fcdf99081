/* bench_ann: HNSW through the whole database beside hnswlib and Faiss, on Fashion-MNIST.
 *
 * libvdb: a collection (L2, dim 784), the 60,000 base vectors inserted in batches of 1,000
 * (ids 0..59,999 = their positions in the base file), vdb_flush, then vdb_create_index(HNSW,
 * "M=16,efConstruction=200") timed as the build; then vdb_search one query at a time with
 * params "ef=E". hnswlib: HierarchicalNSW<float> over L2Space, same M and efConstruction,
 * addPoint on 2 threads, setEf(E), searchKnn. Faiss: IndexHNSWFlat(784, 16), efConstruction
 * 200, add on 2 OpenMP threads, hnsw.efSearch = E, search of one query. The references live in
 * bench_ann_ref.cpp, compiled with -O3 -march=native.
 *
 * For E in 16, 32, 64, 128, 256 and each system: recall@10 against groundtruth.ivecs, queries/s
 * one query at a time on 1 thread and on 2 threads (each searching half the queries; wall
 * time), p50/p99 latency of single queries (the 1-thread pass), build time, and the peak RSS
 * (getrusage ru_maxrss) after the build. Every system runs in its own child process, so the
 * peak is that system's alone (the parent holds the loaded data, which every child shares).
 * Prints one table, the ratios libvdb/hnswlib and libvdb/faiss of 1-thread queries/s at each
 * ef and at the first ef where every system reaches recall@10 >= 0.99; writes the figures as
 * CSV and, when gnuplot is installed, plots recall against queries/s (bench_ann_plot.gp).
 *
 * Usage: bench_ann [--queries N] [--data DIR] [--dir DIR] [--csv FILE] [--png FILE] [--no-plot]
 *                  [--build-threads T] [--only SYSTEM]
 *   --queries N   queries to run (default 2000, at most 10000)
 *   --data DIR    shared data folder (default: the build's VDB_SHARED_DATA)
 *   --dir DIR     database folder (default: a new folder in /tmp, removed at the end)
 *   --csv FILE    CSV output (default bench_ann.csv in the current folder)
 *   --png FILE    plot output (default bench_ann.png in the current folder)
 *   --no-plot     do not run gnuplot
 *   --build-threads T  threads of the hnswlib and Faiss builds (default 2; libvdb picks its
 *                 own build threads)
 *   --only SYSTEM run only libvdb, hnswlib or faiss (the ratios need libvdb and the other) */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vdb/vdb.h>

#include "bench_util.h"
#include "fmnist.h"

#ifndef BENCH_ANN_PLOT
#define BENCH_ANN_PLOT "bench/bench_ann_plot.gp"
#endif

#define K 10
#define DIM FMNIST_DIM
#define INSERT_BATCH 1000
#define HNSW_M 16
#define HNSW_EFC 200
#define NEF 5
#define NSYS 3

static const int efs[NEF] = {16, 32, 64, 128, 256};
static const char *const sys_names[NSYS] = {"libvdb", "hnswlib", "faiss"};
enum { SYS_VDB = 0, SYS_HNSWLIB = 1, SYS_FAISS = 2 };

/* bench_ann_ref.cpp (kind 0 = hnswlib, 1 = Faiss) */
void *ann_ref_build(int kind, const float *base, size_t rows, size_t dim, int M, int efc,
                    int threads);
void ann_ref_set_ef(void *h, int ef);
void ann_ref_thread_init(void *h);
void ann_ref_search(void *h, const float *query, size_t k, int64_t *ids);
void ann_ref_free(void *h);

typedef struct ef_row {
    double recall, recall_2t;
    double qps_1t, qps_2t;
    double p50_ms, p99_ms;
} ef_row;

/* One system's figures, written by its child process into shared memory. */
typedef struct sys_result {
    int done;
    double build_s;
    double rss_start_mb, rss_peak_mb;
    unsigned long long segments;
    ef_row row[NEF];
} sys_result;

/* What every child reads (set before the forks). */
static const float *g_base, *g_queries;
static const int32_t *g_gt;
static size_t g_rows, g_nq, g_gt_k;
static const char *g_dbpath;
static int g_build_threads = 2;

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
static double recall(const int64_t *ids, size_t nq)
{
    size_t hit = 0;
    for (size_t q = 0; q < nq; q++)
        for (size_t i = 0; i < K; i++)
            for (size_t j = 0; j < K; j++)
                if (ids[q * K + i] == g_gt[q * g_gt_k + j]) {
                    hit++;
                    break;
                }
    return (double)hit / (double)(nq * K);
}

static double maxrss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

static double rss_now_mb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

/* ---- one searcher interface over the three systems ------------------------------------------ */

typedef struct searcher {
    int sys;
    vdb_db *db;     /* libvdb */
    void *ref;      /* hnswlib / Faiss */
    char params[32]; /* libvdb: "ef=E" */
} searcher;

static void search_one(const searcher *s, const float *query, int64_t *ids)
{
    if (s->sys != SYS_VDB) {
        ann_ref_search(s->ref, query, K, ids);
        return;
    }
    vdb_search_req req = {.struct_size = sizeof req, .collection = "fmnist", .dim = DIM, .k = K,
                          .vectors = query, .nq = 1, .params = s->params};
    vdb_result *res;
    vdb_status st = vdb_search(s->db, &req, &res);
    if (st != VDB_OK)
        bench_die("vdb_search", st);
    size_t got = vdb_result_rows(res, 0);
    for (size_t i = 0; i < K; i++)
        ids[i] = i < got ? vdb_result_pk_int(res, 0, i) : -1;
    vdb_result_free(res);
}

typedef struct worker_arg {
    const searcher *s;
    size_t first, n;
    int64_t *ids;
    pthread_barrier_t *start;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    if (a->s->sys != SYS_VDB)
        ann_ref_thread_init(a->s->ref);
    pthread_barrier_wait(a->start);
    for (size_t q = a->first; q < a->first + a->n; q++)
        search_one(a->s, g_queries + q * DIM, a->ids + q * K);
    return NULL;
}

/* The ef sweep of one built system. */
static void sweep(searcher *s, sys_result *out)
{
    int64_t *ids = malloc(g_nq * K * sizeof *ids);
    double *lat = malloc(g_nq * sizeof *lat);
    if (!ids || !lat) {
        fprintf(stderr, "bench_ann: out of memory\n");
        exit(1);
    }
    if (s->sys != SYS_VDB)
        ann_ref_thread_init(s->ref);
    for (int e = 0; e < NEF; e++) {
        ef_row *r = &out->row[e];
        snprintf(s->params, sizeof s->params, "ef=%d", efs[e]);
        if (s->sys != SYS_VDB)
            ann_ref_set_ef(s->ref, efs[e]);
        /* warm-up: a few queries, not timed */
        for (size_t q = 0; q < 20 && q < g_nq; q++)
            search_one(s, g_queries + q * DIM, ids);

        /* 1 thread, one query at a time */
        double total = 0;
        for (size_t q = 0; q < g_nq; q++) {
            double t0 = bench_now();
            search_one(s, g_queries + q * DIM, ids + q * K);
            lat[q] = bench_now() - t0;
            total += lat[q];
        }
        r->recall = recall(ids, g_nq);
        r->qps_1t = (double)g_nq / total;
        qsort(lat, g_nq, sizeof *lat, cmp_double);
        r->p50_ms = pct(lat, g_nq, 0.5) * 1e3;
        r->p99_ms = pct(lat, g_nq, 0.99) * 1e3;

        /* 2 threads, each one query at a time over its half */
        memset(ids, 0xff, g_nq * K * sizeof *ids);
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, 3);
        worker_arg wa[2] = {{s, 0, g_nq / 2, ids, &start},
                            {s, g_nq / 2, g_nq - g_nq / 2, ids, &start}};
        pthread_t th[2];
        for (int t = 0; t < 2; t++)
            if (pthread_create(&th[t], NULL, worker, &wa[t]) != 0) {
                fprintf(stderr, "bench_ann: pthread_create failed\n");
                exit(1);
            }
        pthread_barrier_wait(&start);
        double t0 = bench_now();
        for (int t = 0; t < 2; t++)
            pthread_join(th[t], NULL);
        r->qps_2t = (double)g_nq / (bench_now() - t0);
        pthread_barrier_destroy(&start);
        r->recall_2t = recall(ids, g_nq);
    }
    free(ids);
    free(lat);
}

/* ---- the systems (each in its own child process) -------------------------------------------- */

static void run_vdb(sys_result *out)
{
    bench_rm_rf(g_dbpath);
    vdb_db *db;
    vdb_status st;
    if ((st = vdb_open(g_dbpath, NULL, &db)) != VDB_OK)
        bench_die("vdb_open", st);
    bench_create_collection(db, "fmnist", DIM, VDB_METRIC_L2);
    bench_insert_vectors(db, "fmnist", g_base, g_rows, DIM, INSERT_BATCH);
    if ((st = vdb_flush(db, "fmnist")) != VDB_OK)
        bench_die("vdb_flush", st);

    char params[64];
    snprintf(params, sizeof params, "M=%d,efConstruction=%d", HNSW_M, HNSW_EFC);
    double t0 = bench_now();
    if ((st = vdb_create_index(db, "fmnist", "emb", "HNSW", params)) != VDB_OK)
        bench_die("vdb_create_index", st);
    out->build_s = bench_now() - t0;
    out->rss_peak_mb = maxrss_mb();

    vdb_stats stats;
    if ((st = vdb_collection_stats(db, "fmnist", &stats)) != VDB_OK)
        bench_die("vdb_collection_stats", st);
    out->segments = stats.sealed_segments;
    if (stats.growing_segments != 0 || stats.sealed_rows != g_rows)
        fprintf(stderr, "bench_ann: warning: %llu growing segment(s), %llu sealed rows\n",
                (unsigned long long)stats.growing_segments,
                (unsigned long long)stats.sealed_rows);

    searcher s = {.sys = SYS_VDB, .db = db};
    sweep(&s, out);
    vdb_close(db);
    bench_rm_rf(g_dbpath);
}

static void run_ref(int sys, sys_result *out)
{
    double t0 = bench_now();
    void *ref = ann_ref_build(sys == SYS_HNSWLIB ? 0 : 1, g_base, g_rows, DIM, HNSW_M, HNSW_EFC,
                              g_build_threads);
    if (!ref)
        exit(1);
    out->build_s = bench_now() - t0;
    out->rss_peak_mb = maxrss_mb();
    out->segments = 1;
    searcher s = {.sys = sys, .ref = ref};
    sweep(&s, out);
    ann_ref_free(ref);
}

/* ---- output --------------------------------------------------------------------------------- */

static void print_table(const sys_result *res)
{
    printf("\n%-8s %5s %10s %10s %10s %8s %8s %8s %9s\n", "system", "ef", "recall@10", "qps_1t",
           "qps_2t", "p50_ms", "p99_ms", "build_s", "peak_MiB");
    for (int s = 0; s < NSYS; s++) {
        if (!res[s].done)
            continue;
        for (int e = 0; e < NEF; e++) {
            const ef_row *r = &res[s].row[e];
            printf("%-8s %5d %10.4f %10.1f %10.1f %8.3f %8.3f %8.2f %9.0f\n", sys_names[s],
                   efs[e], r->recall, r->qps_1t, r->qps_2t, r->p50_ms, r->p99_ms,
                   res[s].build_s, res[s].rss_peak_mb);
        }
    }
}

static void print_ratios(const sys_result *res)
{
    if (!res[SYS_VDB].done)
        return;
    printf("\nqps_1t ratios  %5s %14s %14s\n", "ef", "libvdb/hnswlib", "libvdb/faiss");
    for (int e = 0; e < NEF; e++) {
        double v = res[SYS_VDB].row[e].qps_1t;
        printf("               %5d", efs[e]);
        for (int s = SYS_HNSWLIB; s <= SYS_FAISS; s++)
            if (res[s].done)
                printf(" %14.3f", v / res[s].row[e].qps_1t);
            else
                printf(" %14s", "-");
        printf("\n");
    }
    int first = -1;
    for (int e = 0; e < NEF && first < 0; e++) {
        int all = 1;
        for (int s = 0; s < NSYS; s++)
            if (res[s].done && res[s].row[e].recall < 0.99)
                all = 0;
        if (all)
            first = e;
    }
    if (first < 0) {
        printf("no ef of the sweep gives recall@10 >= 0.99 for every system\n");
    } else {
        printf("first ef where every system reaches recall@10 >= 0.99: ef=%d:", efs[first]);
        for (int s = SYS_HNSWLIB; s <= SYS_FAISS; s++)
            if (res[s].done)
                printf("  libvdb/%s %.3f", sys_names[s],
                       res[SYS_VDB].row[first].qps_1t / res[s].row[first].qps_1t);
        printf("\n");
    }
    /* each system at its own smallest ef reaching 0.99 (the "at recall >= 0.99") */
    double q99[NSYS] = {0};
    printf("each system at its own first ef with recall@10 >= 0.99:");
    for (int s = 0; s < NSYS; s++) {
        if (!res[s].done)
            continue;
        for (int e = 0; e < NEF; e++)
            if (res[s].row[e].recall >= 0.99) {
                q99[s] = res[s].row[e].qps_1t;
                printf("  %s ef=%d %.1f q/s", sys_names[s], efs[e], q99[s]);
                break;
            }
        if (q99[s] == 0)
            printf("  %s none", sys_names[s]);
    }
    printf("\n");
    if (q99[SYS_VDB] > 0)
        for (int s = SYS_HNSWLIB; s <= SYS_FAISS; s++)
            if (q99[s] > 0)
                printf("  libvdb/%s at recall@10 >= 0.99: %.3f\n", sys_names[s],
                       q99[SYS_VDB] / q99[s]);
}

static int write_csv(const char *path, const sys_result *res)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_ann: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "system,ef,recall10,qps_1t,qps_2t,p50_ms,p99_ms,build_s,peak_rss_mib\n");
    for (int s = 0; s < NSYS; s++) {
        if (!res[s].done)
            continue;
        for (int e = 0; e < NEF; e++) {
            const ef_row *r = &res[s].row[e];
            fprintf(f, "%s,%d,%.4f,%.1f,%.1f,%.4f,%.4f,%.3f,%.0f\n", sys_names[s], efs[e],
                    r->recall, r->qps_1t, r->qps_2t, r->p50_ms, r->p99_ms, res[s].build_s,
                    res[s].rss_peak_mb);
        }
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "bench_ann: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void plot(const char *csv, const char *png)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        printf("gnuplot not installed: no plot (apt-get install gnuplot-nox)\n");
        return;
    }
    if (access(BENCH_ANN_PLOT, R_OK) != 0) {
        printf("%s not found: no plot\n", BENCH_ANN_PLOT);
        return;
    }
    if (strchr(csv, '\'') || strchr(png, '\'')) {
        printf("file names with quotes: no plot\n");
        return;
    }
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "gnuplot -e \"csv='%s'; png='%s'\" '%s'", csv, png,
             BENCH_ANN_PLOT);
    if (system(cmd) == 0)
        printf("plot: %s\n", png);
    else
        fprintf(stderr, "bench_ann: gnuplot failed: %s\n", cmd);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_ann [--queries N] [--data DIR] [--dir DIR] [--csv FILE] "
                    "[--png FILE] [--no-plot] [--build-threads T] [--only SYSTEM]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    size_t nqueries = 2000;
    const char *data = NULL, *dir = NULL, *csv = "bench_ann.csv", *png = "bench_ann.png";
    int do_plot = 1;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--queries") && i + 1 < argc)
            nqueries = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
            csv = argv[++i];
        else if (!strcmp(argv[i], "--png") && i + 1 < argc)
            png = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--no-plot"))
            do_plot = 0;
        else if (!strcmp(argv[i], "--build-threads") && i + 1 < argc)
            g_build_threads = atoi(argv[++i]);
        else
            usage();
    }
    if (nqueries < 2 || nqueries > FMNIST_QUERY_ROWS || g_build_threads < 1)
        usage();
    if (only && strcmp(only, "libvdb") && strcmp(only, "hnswlib") && strcmp(only, "faiss"))
        usage();

    float *base, *queries;
    int32_t *gt;
    size_t nq_loaded, gt_rows;
    double t0 = bench_now();
    if (fmnist_load_base(data, 0, &base, &g_rows) != 0 ||
        fmnist_load_queries(data, nqueries, &queries, &nq_loaded) != 0 ||
        fmnist_load_groundtruth(data, nqueries, &gt, &gt_rows, &g_gt_k) != 0)
        return 1;
    if (nq_loaded < nqueries || gt_rows < nqueries || g_gt_k < K) {
        fprintf(stderr, "bench_ann: the data has %zu queries and %zu x %zu ground truth\n",
                nq_loaded, gt_rows, g_gt_k);
        return 1;
    }
    g_base = base;
    g_queries = queries;
    g_gt = gt;
    g_nq = nqueries;

    char tmpdir[] = "/tmp/vdb-bench-ann-XXXXXX";
    if (!dir) {
        if (!mkdtemp(tmpdir)) {
            fprintf(stderr, "bench_ann: mkdtemp: %s\n", strerror(errno));
            return 1;
        }
        dir = tmpdir;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/db", dir);
    g_dbpath = path;

    printf("bench_ann: libvdb %s, Fashion-MNIST %zu x %d (loaded in %.2f s), %zu queries, k=%d, "
           "HNSW M=%d efConstruction=%d; reference builds on %d thread(s); %ld CPU(s)\n",
           vdb_version(), g_rows, DIM, bench_now() - t0, g_nq, K, HNSW_M, HNSW_EFC,
           g_build_threads, sysconf(_SC_NPROCESSORS_ONLN));
    printf("qps: one query per call, wall time; 2t: two threads, each half the queries; "
           "p50/p99: single queries on 1 thread; peak_MiB: ru_maxrss after the build, in the "
           "system's own process (the loaded data, %.0f MiB, included)\n",
           rss_now_mb());
    fflush(stdout);

    sys_result *res = mmap(NULL, NSYS * sizeof *res, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (res == MAP_FAILED) {
        fprintf(stderr, "bench_ann: mmap: %s\n", strerror(errno));
        return 1;
    }
    memset(res, 0, NSYS * sizeof *res);
    int failed = 0;
    for (int s = 0; s < NSYS; s++) {
        if (only && strcmp(only, sys_names[s]))
            continue;
        double ts = bench_now();
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "bench_ann: fork: %s\n", strerror(errno));
            return 1;
        }
        if (pid == 0) {
            res[s].rss_start_mb = rss_now_mb();
            if (s == SYS_VDB)
                run_vdb(&res[s]);
            else
                run_ref(s, &res[s]);
            res[s].done = 1;
            fflush(stdout);
            _exit(0);
        }
        int wst;
        if (waitpid(pid, &wst, 0) < 0 || !WIFEXITED(wst) || WEXITSTATUS(wst) != 0 ||
            !res[s].done) {
            fprintf(stderr, "bench_ann: the %s run failed\n", sys_names[s]);
            res[s].done = 0;
            failed = 1;
            continue;
        }
        printf("%-8s built in %.2f s (%llu segment(s)); sweep done, %.1f s in all\n",
               sys_names[s], res[s].build_s, res[s].segments, bench_now() - ts);
        for (int e = 0; e < NEF; e++)
            if (fabs(res[s].row[e].recall_2t - res[s].row[e].recall) > 1e-9)
                printf("  note: %s ef=%d recall on 2 threads %.4f (1 thread %.4f)\n",
                       sys_names[s], efs[e], res[s].row[e].recall_2t, res[s].row[e].recall);
        fflush(stdout);
    }

    print_table(res);
    print_ratios(res);
    if (write_csv(csv, res) == 0)
        printf("\ncsv: %s\n", csv);
    if (do_plot)
        plot(csv, png);

    if (dir == tmpdir)
        bench_rm_rf(tmpdir);
    munmap(res, NSYS * sizeof *res);
    free(base);
    free(queries);
    free(gt);
    return failed;
}

/* bench_ann: approximate and exact search through the whole database beside hnswlib and Faiss.
 *
 * For each data set (ann_data.h: fmnist, fmnist-cos, gauss96, clustered, unit128, aniso256,
 * aniso128-1m) and each index type
 * (HNSW, IVF_FLAT, IVF_SQ8, IVF_PQ, FLAT), every system that has it builds it over the same
 * vectors with the same parameters, then runs the sweep of its search parameter:
 *   libvdb   vdb_open, a collection, vdb_insert in batches of 1,000, vdb_flush, then
 *            vdb_create_index + vdb_wait_for_index (the build time), vdb_search one query per
 *            call with params "ef=E" / "nprobe=P" (ann_vdb.c);
 *   hnswlib  HierarchicalNSW<float> (HNSW only), compiled with -O3 -march=native;
 *   faiss    IndexHNSWFlat, IndexIVFFlat, IndexIVFScalarQuantizer (QT_8bit), IndexIVFPQ,
 *            IndexFlatL2 / IndexFlatIP (bench_ann_ref.cpp).
 * Parameters: HNSW M=16, efConstruction=200, ef 16..256; IVF nlist = 4*sqrt(rows), nprobe
 * 1..128; IVF_PQ m = dim/4, nbits 8; k = 10.
 *
 * Measured per (data set, system, index, parameter, threads): recall@10; queries/s with T
 * client threads each running single-query searches over its share of the queries (wall
 * time); p50/p99 latency of those single queries; the build time; the peak memory (VmHWM,
 * reset through /proc/self/clear_refs, minus the resident size before: from loading the rows
 * into the system through the end of the build, and of the build alone); the index's bytes per
 * vector beside the raw float vectors. FLAT also runs the exact batch: all --batch queries in
 * one call (libvdb: one vdb_search; Faiss: one IndexFlat search) on T threads (OpenBLAS and
 * OpenMP set to T), best of 3. Each (data set, index, system) runs in its own child process,
 * so memory figures are that system's own.
 *
 * Faiss runs OpenMP next to OpenBLAS; with OpenMP's default active waiting its idle threads
 * spin against OpenBLAS's on this 2-CPU machine and halve Faiss's exact batch (and anything
 * else sharing the process). bench_ann therefore starts itself again with
 * OMP_WAIT_POLICY=passive unless that variable is already set.
 *
 * Prints a table per data set, the ratios libvdb/hnswlib and libvdb/faiss at the first
 * parameter reaching the recall (HNSW 0.99, IVF 0.98), writes every row as CSV and
 * plots recall against queries/s per data set (bench_ann_plot.gp).
 *
 * The default run (all data sets; HNSW, IVF_FLAT, FLAT; 1,000 queries; one pass per point;
 * sweeps end at recall 0.999) takes 10 to 17 minutes on 2 CPUs; bench/README.md gives the
 * full run. Options: usage() below. */
#define _GNU_SOURCE
#include <cblas.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vdb/vdb.h>

#include "ann_data.h"
#include "ann_ref.h"
#include "ann_vdb.h"
#include "bench_util.h"

#ifndef BENCH_ANN_PLOT
#define BENCH_ANN_PLOT "bench/bench_ann_plot.gp"
#endif
#ifndef BENCH_ANN_CACHE
#define BENCH_ANN_CACHE "."
#endif

#define K 10
#define HNSW_M 16
#define HNSW_EFC 200
#define PQ_NBITS 8
#define MAX_PARAMS 8
#define MAX_THREADS 8
#define MAX_ROWS 4096
#define EXIT_UNSUPPORTED 3

/* ---- what is run ----------------------------------------------------------------------------- */

enum { SYS_VDB, SYS_HNSWLIB, SYS_FAISS, NSYS };
static const char *const sys_names[NSYS] = {"libvdb", "hnswlib", "faiss"};

typedef struct index_spec {
    const char *name;
    const char *key;              /* search parameter: "ef", "nprobe", NULL (FLAT) */
    int nparams;
    int params[MAX_PARAMS];
    int ref_kind[NSYS];           /* -1: the system has no such index */
    double target;                /* the recall the ratios are taken at */
    bool plateau;                 /* quantized: recall levels off below 1, the sweep may end */
} index_spec;

static const index_spec index_specs[] = {
    {"HNSW", "ef", 5, {16, 32, 64, 128, 256}, {0, ANN_REF_HNSWLIB, ANN_REF_FAISS_HNSW}, 0.99,
     false},
    {"IVF_FLAT", "nprobe", 8, {1, 2, 4, 8, 16, 32, 64, 128}, {0, -1, ANN_REF_FAISS_IVF_FLAT},
     0.98, false},
    {"IVF_SQ8", "nprobe", 8, {1, 2, 4, 8, 16, 32, 64, 128}, {0, -1, ANN_REF_FAISS_IVF_SQ8},
     0.98, true},
    {"IVF_PQ", "nprobe", 8, {1, 2, 4, 8, 16, 32, 64, 128}, {0, -1, ANN_REF_FAISS_IVF_PQ}, 0.98,
     true},
    {"FLAT", NULL, 1, {0}, {0, -1, ANN_REF_FAISS_FLAT}, 0.99, false},
};
#define NINDEX (sizeof index_specs / sizeof index_specs[0])

/* One CSV row. FLAT_BATCH rows: param = the batch size; p50/p99 = the batch's time. */
typedef struct row {
    char dataset[16], system[8], index[16];
    int param, threads, nq;
    double recall, qps, p50_ms, p99_ms;
    double build_s, peak_mb, build_peak_mb, bytes_per_vector;
} row;

typedef struct shared {
    int nrows;
    row rows[MAX_ROWS];
} shared;

static struct {
    const char *data, *dir, *cache, *csv, *png;
    int plot;
    size_t queries, flat_queries, batch;
    int threads[MAX_THREADS], nthreads;
    int build_threads, reps;
    double stop_recall;
    bool dataset_on[16], index_on[NINDEX], system_on[NSYS];
} opt;

static shared *g_out;
static char g_dbpath[4096];

/* ---- small helpers --------------------------------------------------------------------------- */

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

static double recall_of(const ann_dataset *d, const int64_t *ids, size_t nq)
{
    size_t hit = 0;
    for (size_t q = 0; q < nq; q++)
        for (size_t i = 0; i < K; i++)
            for (size_t j = 0; j < K; j++)
                if (ids[q * K + i] == d->gt[q * d->gt_k + j]) {
                    hit++;
                    break;
                }
    return (double)hit / (double)(nq * K);
}

/* VmRSS / VmHWM of this process in MiB. */
static double proc_status_mb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    size_t klen = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, klen) && line[klen] == ':') {
            kb = strtod(line + klen + 1, NULL);
            break;
        }
    if (f)
        fclose(f);
    return kb / 1024.0;
}

/* Resets VmHWM to the current RSS (Linux >= 4.0); returns that RSS in MiB. */
static double reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
    return proc_status_mb("VmRSS");
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench_ann: out of memory\n");
        exit(1);
    }
    return p;
}

static row *new_row(const ann_dataset *d, int sys, const char *index)
{
    if (g_out->nrows >= MAX_ROWS) {
        fprintf(stderr, "bench_ann: too many result rows\n");
        exit(1);
    }
    row *r = &g_out->rows[g_out->nrows];
    memset(r, 0, sizeof *r);
    snprintf(r->dataset, sizeof r->dataset, "%s", d->name);
    snprintf(r->system, sizeof r->system, "%s", sys_names[sys]);
    snprintf(r->index, sizeof r->index, "%s", index);
    return r;
}

/* ---- one built system behind one search call ------------------------------------------------- */

typedef struct searcher {
    int sys;
    ann_vdb vdb;
    void *ref;
    char params[32]; /* libvdb: "ef=E", "nprobe=P" or "" */
} searcher;

static void search(const searcher *s, const float *q, size_t nq, int64_t *ids)
{
    if (s->sys == SYS_VDB)
        ann_vdb_search(&s->vdb, q, nq, K, s->params[0] ? s->params : NULL, ids);
    else
        ann_ref_search(s->ref, q, nq, K, ids);
}

typedef struct worker_arg {
    const searcher *s;
    const ann_dataset *d;
    size_t first, n;
    int64_t *ids;
    double *lat;
    pthread_barrier_t *start;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    if (a->s->sys != SYS_VDB)
        ann_ref_omp_threads(1);
    pthread_barrier_wait(a->start);
    for (size_t q = a->first; q < a->first + a->n; q++) {
        double t0 = bench_now();
        search(a->s, a->d->queries + q * a->d->dim, 1, a->ids + q * K);
        a->lat[q] = bench_now() - t0;
    }
    return NULL;
}

/* nq single-query searches on T client threads (each a contiguous share); fills r's threads,
 * nq, qps, recall, p50_ms and p99_ms. */
static void run_threads(const searcher *s, const ann_dataset *d, size_t nq, int T, row *r)
{
    int64_t *ids = xmalloc(nq * K * sizeof *ids);
    double *lat = xmalloc(nq * sizeof *lat);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)T + 1);
    worker_arg wa[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    for (int t = 0; t < T; t++) {
        size_t lo = nq * (size_t)t / (size_t)T, hi = nq * (size_t)(t + 1) / (size_t)T;
        wa[t] = (worker_arg){s, d, lo, hi - lo, ids, lat, &start};
        if (pthread_create(&th[t], NULL, worker, &wa[t]) != 0) {
            fprintf(stderr, "bench_ann: pthread_create failed\n");
            exit(1);
        }
    }
    pthread_barrier_wait(&start);
    double t0 = bench_now();
    for (int t = 0; t < T; t++)
        pthread_join(th[t], NULL);
    double wall = bench_now() - t0;
    pthread_barrier_destroy(&start);
    r->threads = T;
    r->nq = (int)nq;
    r->qps = (double)nq / wall;
    r->recall = recall_of(d, ids, nq);
    qsort(lat, nq, sizeof *lat, cmp_double);
    r->p50_ms = pct(lat, nq, 0.5) * 1e3;
    r->p99_ms = pct(lat, nq, 0.99) * 1e3;
    free(lat);
    free(ids);
}

/* The exact batch: opt.batch queries in one call on T threads, best of 3. */
static void run_batch(const searcher *s, const ann_dataset *d, int T, row *r)
{
    size_t nq = opt.batch < d->nq ? opt.batch : d->nq;
    int64_t *ids = xmalloc(nq * K * sizeof *ids);
    openblas_set_num_threads(T);
    ann_ref_omp_threads(T);
    double best = INFINITY;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = bench_now();
        search(s, d->queries, nq, ids);
        double t = bench_now() - t0;
        best = t < best ? t : best;
    }
    r->param = (int)nq;
    r->threads = T;
    r->nq = (int)nq;
    r->qps = (double)nq / best;
    r->recall = recall_of(d, ids, nq);
    r->p50_ms = r->p99_ms = best * 1e3;
    free(ids);
}

/* ---- one (data set, index, system) in a child process ---------------------------------------- */

static int ivf_nlist(const ann_dataset *d) { return (int)lround(4.0 * sqrt((double)d->n)); }

static int pq_m(const ann_dataset *d)
{
    int m = (int)d->dim / 4;
    while (m > 1 && d->dim % (size_t)m)
        m--;
    return m;
}

static void index_params(const index_spec *ix, const ann_dataset *d, char *buf, size_t size)
{
    buf[0] = 0;
    if (!strcmp(ix->name, "HNSW"))
        snprintf(buf, size, "M=%d,efConstruction=%d", HNSW_M, HNSW_EFC);
    else if (!strcmp(ix->name, "IVF_PQ"))
        snprintf(buf, size, "nlist=%d,m=%d,nbits=%d", ivf_nlist(d), pq_m(d), PQ_NBITS);
    else if (!strncmp(ix->name, "IVF_", 4))
        snprintf(buf, size, "nlist=%d", ivf_nlist(d));
}

static int run_child(const ann_dataset *d, const index_spec *ix, int sys)
{
    searcher s = {.sys = sys};
    double rss0 = reset_peak(), t0, build_s, rss_index, peak_load = 0;
    char params[128];
    index_params(ix, d, params, sizeof params);
    if (sys == SYS_VDB) {
        ann_vdb_load(&s.vdb, g_dbpath, d, (uint32_t)opt.build_threads);
        peak_load = proc_status_mb("VmHWM") - rss0;
        rss_index = reset_peak();
        t0 = bench_now();
        vdb_status st = ann_vdb_index(&s.vdb, ix->name, params);
        build_s = bench_now() - t0;
        if (st != VDB_OK) {
            ann_vdb_close(&s.vdb, g_dbpath);
            return st == VDB_EUNSUPPORTED ? EXIT_UNSUPPORTED : 1;
        }
    } else {
        ann_ref_params rp = {.M = HNSW_M, .ef_construction = HNSW_EFC, .nlist = ivf_nlist(d),
                             .pq_m = pq_m(d), .pq_nbits = PQ_NBITS};
        rss_index = rss0;
        t0 = bench_now();
        s.ref = ann_ref_build(ix->ref_kind[sys], d->base, d->n, d->dim,
                              d->metric != VDB_METRIC_L2, &rp, opt.build_threads);
        build_s = bench_now() - t0;
        if (!s.ref)
            return 1;
    }
    double hwm = proc_status_mb("VmHWM");
    double build_peak = hwm - rss_index;
    /* the whole child's peak above its start: libvdb's VmHWM was reset between loading and
     * building, so the larger of the two windows */
    double peak = fmax(peak_load, hwm - rss0);
    double bpv =
        sys == SYS_VDB ? ann_vdb_bytes_per_vector(&s.vdb) : ann_ref_bytes_per_vector(s.ref);
    printf("  %-8s %-8s %-34s built in %7.2f s, peak +%6.0f MiB (build +%6.0f), %7.1f B/vector\n",
           sys_names[sys], ix->name, params[0] ? params : "-", build_s, peak, build_peak, bpv);
    fflush(stdout);

    size_t nq = d->nq;
    if (!ix->key && opt.flat_queries < nq)
        nq = opt.flat_queries;
    double last_recall = -1, prev_recall = -1;
    for (int p = 0; p < ix->nparams; p++) {
        /* the sweep ends once recall is all but exact, or (SQ8, PQ) stops rising */
        if (last_recall >= opt.stop_recall ||
            (ix->plateau && p >= 3 && last_recall - prev_recall < 0.001))
            break;
        prev_recall = last_recall;
        s.params[0] = 0;
        if (ix->key) {
            if (sys == SYS_VDB)
                snprintf(s.params, sizeof s.params, "%s=%d", ix->key, ix->params[p]);
            else
                ann_ref_set_param(s.ref, ix->params[p]);
        }
        ann_ref_omp_threads(1);
        int64_t warm[K];
        for (size_t q = 0; q < 10 && q < nq; q++)
            search(&s, d->queries + q * d->dim, 1, warm);
        for (int t = 0; t < opt.nthreads; t++) {
            row *r = new_row(d, sys, ix->name);
            run_threads(&s, d, nq, opt.threads[t], r);
            for (int rep = 1; rep < (ix->key ? opt.reps : 1); rep++) {
                row again;
                run_threads(&s, d, nq, opt.threads[t], &again);
                if (again.qps > r->qps) {
                    r->qps = again.qps;
                    r->recall = again.recall;
                    r->p50_ms = again.p50_ms;
                    r->p99_ms = again.p99_ms;
                }
            }
            r->param = ix->params[p];
            r->build_s = build_s;
            r->peak_mb = peak;
            r->build_peak_mb = build_peak;
            r->bytes_per_vector = bpv;
            g_out->nrows++;
            if (t == 0)
                last_recall = r->recall;
        }
    }
    if (!ix->key && opt.batch > 0) {
        for (int t = 0; t < opt.nthreads; t++) {
            row *r = new_row(d, sys, "FLAT_BATCH");
            run_batch(&s, d, opt.threads[t], r);
            r->build_s = build_s;
            r->peak_mb = peak;
            r->build_peak_mb = build_peak;
            r->bytes_per_vector = bpv;
            g_out->nrows++;
        }
    }
    if (sys == SYS_VDB)
        ann_vdb_close(&s.vdb, g_dbpath);
    else
        ann_ref_free(s.ref);
    return 0;
}

/* ---- output ---------------------------------------------------------------------------------- */

static bool same_curve(const row *r, const char *ds, const char *sys, const char *ix, int T)
{
    return !strcmp(r->dataset, ds) && !strcmp(r->system, sys) && !strcmp(r->index, ix) &&
           r->threads == T;
}

/* The first row of a curve (ascending parameter) whose recall reaches thr. */
static const row *first_reaching(const char *ds, const char *sys, const char *ix, int T,
                                 double thr)
{
    for (int i = 0; i < g_out->nrows; i++) {
        const row *r = &g_out->rows[i];
        if (same_curve(r, ds, sys, ix, T) && r->recall >= thr)
            return r;
    }
    return NULL;
}

static double best_recall(const char *ds, const char *sys, const char *ix, int T)
{
    double b = -1;
    for (int i = 0; i < g_out->nrows; i++)
        if (same_curve(&g_out->rows[i], ds, sys, ix, T))
            b = fmax(b, g_out->rows[i].recall);
    return b;
}

static void print_dataset(const ann_dataset *d)
{
    printf("\n%s (%zu x %zu, %s): %zu queries (FLAT single queries: %zu)\n", d->name, d->n,
           d->dim, vdb_metric_name(d->metric), d->nq,
           opt.flat_queries < d->nq ? opt.flat_queries : d->nq);
    printf("%-8s %-10s %6s %3s %9s %10s %8s %8s %8s %8s %8s %8s\n", "system", "index", "param",
           "thr", "recall@10", "qps", "p50_ms", "p99_ms", "build_s", "peak_MiB", "bld_MiB",
           "B/vec");
    for (int i = 0; i < g_out->nrows; i++) {
        const row *r = &g_out->rows[i];
        if (strcmp(r->dataset, d->name))
            continue;
        printf("%-8s %-10s %6d %3d %9.4f %10.1f %8.3f %8.3f %8.2f %8.0f %8.0f %8.1f\n",
               r->system, r->index, r->param, r->threads, r->recall, r->qps, r->p50_ms,
               r->p99_ms, r->build_s, r->peak_mb, r->build_peak_mb, r->bytes_per_vector);
    }

    /* ratios: each system at its own first parameter reaching the target recall */
    for (size_t x = 0; x < NINDEX; x++) {
        const index_spec *ix = &index_specs[x];
        if (!opt.index_on[x] || !ix->key)
            continue;
        for (int ref = SYS_HNSWLIB; ref < NSYS; ref++) {
            if (ix->ref_kind[ref] < 0 || !opt.system_on[ref] || !opt.system_on[SYS_VDB])
                continue;
            for (int t = 0; t < opt.nthreads; t++) {
                int T = opt.threads[t];
                double bv = best_recall(d->name, "libvdb", ix->name, T);
                double br = best_recall(d->name, sys_names[ref], ix->name, T);
                if (bv < 0 || br < 0)
                    continue;
                /* a target one of them never reaches: 99% of the best recall both reach (at
                 * a plateau, as IVF_PQ's, the top itself would only pick the slowest point) */
                double thr = fmin(bv, br) >= ix->target ? ix->target : 0.99 * fmin(bv, br);
                const row *a = first_reaching(d->name, "libvdb", ix->name, T, thr);
                const row *b = first_reaching(d->name, sys_names[ref], ix->name, T, thr);
                printf("%s %-8s %d thr, recall >= %.3f%s: libvdb %s=%d %.1f q/s, %s %s=%d %.1f "
                       "q/s: libvdb/%s q/s %.3f (p50 %.3f); build %.2f s vs %.2f s (%.3f)\n",
                       d->name, ix->name, T, thr, thr < ix->target ? " (target not reached)" : "",
                       ix->key, a->param, a->qps, sys_names[ref], ix->key, b->param, b->qps,
                       sys_names[ref], a->qps / b->qps, b->p50_ms / a->p50_ms, a->build_s,
                       b->build_s, a->build_s / b->build_s);
            }
        }
    }
    for (int t = 0; t < opt.nthreads; t++) {
        const row *a = NULL, *b = NULL;
        for (int i = 0; i < g_out->nrows; i++) {
            const row *r = &g_out->rows[i];
            if (!strcmp(r->dataset, d->name) && !strcmp(r->index, "FLAT_BATCH") &&
                r->threads == opt.threads[t]) {
                if (!strcmp(r->system, "libvdb"))
                    a = r;
                else if (!strcmp(r->system, "faiss"))
                    b = r;
            }
        }
        if (a && b)
            printf("%s exact batch of %d on %d thr: libvdb %.1f q/s (recall %.4f), faiss %.1f q/s "
                   "(recall %.4f): libvdb/faiss %.3f\n",
                   d->name, a->param, a->threads, a->qps, a->recall, b->qps, b->recall,
                   a->qps / b->qps);
    }
    fflush(stdout);
}

static int write_csv(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_ann: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "dataset,system,index,param,threads,queries,recall10,qps,p50_ms,p99_ms,build_s,"
               "peak_mb,build_peak_mb,bytes_per_vector\n");
    /* each (data set, system, index) group in its order of appearance, and within it one
     * thread count after the other, so that every curve of the plot is one run of rows */
    for (int g = 0; g < g_out->nrows; g++) {
        const row *head = &g_out->rows[g];
        bool seen = false;
        for (int i = 0; i < g && !seen; i++)
            seen = same_curve(&g_out->rows[i], head->dataset, head->system, head->index,
                              g_out->rows[i].threads);
        if (seen)
            continue;
        for (int t = 0; t < opt.nthreads; t++)
            for (int i = g; i < g_out->nrows; i++) {
                const row *r = &g_out->rows[i];
                if (!same_curve(r, head->dataset, head->system, head->index, opt.threads[t]))
                    continue;
                fprintf(f, "%s,%s,%s,%d,%d,%d,%.4f,%.1f,%.4f,%.4f,%.3f,%.0f,%.0f,%.1f\n",
                        r->dataset, r->system, r->index, r->param, r->threads, r->nq, r->recall,
                        r->qps, r->p50_ms, r->p99_ms, r->build_s, r->peak_mb, r->build_peak_mb,
                        r->bytes_per_vector);
            }
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "bench_ann: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void plot(const char *csv, const char *png, const char *datasets)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        printf("gnuplot not installed: no plot (apt-get install gnuplot-nox)\n");
        return;
    }
    if (access(BENCH_ANN_PLOT, R_OK) != 0) {
        printf("%s not found: no plot\n", BENCH_ANN_PLOT);
        return;
    }
    if (strchr(csv, '\'') || strchr(png, '\'') || strchr(csv, '"') || strchr(png, '"')) {
        printf("file names with quotes: no plot\n");
        return;
    }
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "gnuplot -e \"csv='%s'; png='%s'; datasets='%s'\" '%s'", csv, png,
             datasets, BENCH_ANN_PLOT);
    if (system(cmd) == 0)
        printf("plot: %s\n", png);
    else
        fprintf(stderr, "bench_ann: gnuplot failed: %s\n", cmd);
}

/* ---- options --------------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_ann [options]\n"
            "  --dataset LIST   fmnist,fmnist-cos,gauss96,clustered,unit128,aniso256,aniso128-1m or\n"
            "                   all (default: all but aniso128-1m)\n"
            "  --index LIST     HNSW,IVF_FLAT,IVF_SQ8,IVF_PQ,FLAT or all\n"
            "                   (default HNSW,IVF_FLAT,FLAT)\n"
            "  --system LIST    libvdb,hnswlib,faiss (default all)\n"
            "  --queries N      queries of the sweeps (default 1000, at most 10000)\n"
            "  --flat-queries N single-query FLAT searches (default 100)\n"
            "  --batch N        exact batch size (default 1000; 0: no batch)\n"
            "  --threads LIST   client threads (default 1,2)\n"
            "  --reps R         passes per (parameter, threads); the fastest is kept (default 1)\n"
            "  --stop-recall R  end a sweep after recall@10 >= R (1 thread; default 0.999; 2:\n"
            "                   never), or (IVF_SQ8, IVF_PQ) when it rose by < 0.001 (from the\n"
            "                   4th value on)\n"
            "  --build-threads T  threads of every build (default 2)\n"
            "  --data DIR       shared data folder (default the build's ../shared/data)\n"
            "  --dir DIR        database folder (default a new folder in /tmp)\n"
            "  --cache DIR      ground-truth cache (default the build's bench folder)\n"
            "  --csv FILE       (default bench_ann.csv)   --plot FILE  (default bench_ann.png)\n"
            "  --no-plot\n");
    exit(2);
}

/* Splits a comma list, calling f(word) for each; f returns false on an unknown word. */
static void each_word(const char *list, bool (*f)(const char *, void *), void *arg)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save))
        if (!f(w, arg)) {
            fprintf(stderr, "bench_ann: unknown '%s'\n", w);
            usage();
        }
}

static bool pick_dataset(const char *w, void *arg)
{
    (void)arg;
    for (int i = 0; ann_dataset_names[i]; i++)
        if (!strcmp(w, "all") || !strcmp(w, ann_dataset_names[i])) {
            opt.dataset_on[i] = true;
            if (strcmp(w, "all"))
                return true;
        }
    return !strcmp(w, "all");
}

static bool pick_index(const char *w, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < NINDEX; i++)
        if (!strcasecmp(w, "all") || !strcasecmp(w, index_specs[i].name)) {
            opt.index_on[i] = true;
            if (strcasecmp(w, "all"))
                return true;
        }
    return !strcasecmp(w, "all");
}

static bool pick_system(const char *w, void *arg)
{
    (void)arg;
    for (int i = 0; i < NSYS; i++)
        if (!strcmp(w, sys_names[i])) {
            opt.system_on[i] = true;
            return true;
        }
    return false;
}

static bool pick_threads(const char *w, void *arg)
{
    (void)arg;
    int t = atoi(w);
    if (t < 1 || t > MAX_THREADS || opt.nthreads == MAX_THREADS)
        return false;
    opt.threads[opt.nthreads++] = t;
    return true;
}

static void parse(int argc, char **argv)
{
    opt.csv = "bench_ann.csv";
    opt.png = "bench_ann.png";
    opt.cache = BENCH_ANN_CACHE;
    opt.plot = 1;
    opt.queries = 1000;
    opt.flat_queries = 100;
    opt.batch = 1000;
    opt.build_threads = 2;
    opt.reps = 1;
    opt.stop_recall = 0.999;
    const char *ds = "fmnist,fmnist-cos,gauss96,clustered,unit128,aniso256", *ix = "HNSW,IVF_FLAT,FLAT", *sy = "libvdb,hnswlib,faiss", *th = "1,2";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-plot")) {
            opt.plot = 0;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--dataset"))
            ds = v;
        else if (!strcmp(a, "--index"))
            ix = v;
        else if (!strcmp(a, "--system"))
            sy = v;
        else if (!strcmp(a, "--threads"))
            th = v;
        else if (!strcmp(a, "--queries"))
            opt.queries = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--flat-queries"))
            opt.flat_queries = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--batch"))
            opt.batch = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--stop-recall"))
            opt.stop_recall = strtod(v, NULL);
        else if (!strcmp(a, "--reps"))
            opt.reps = atoi(v);
        else if (!strcmp(a, "--build-threads"))
            opt.build_threads = atoi(v);
        else if (!strcmp(a, "--data"))
            opt.data = v;
        else if (!strcmp(a, "--dir"))
            opt.dir = v;
        else if (!strcmp(a, "--cache"))
            opt.cache = v;
        else if (!strcmp(a, "--csv"))
            opt.csv = v;
        else if (!strcmp(a, "--plot") || !strcmp(a, "--png"))
            opt.png = v;
        else
            usage();
    }
    each_word(ds, pick_dataset, NULL);
    each_word(ix, pick_index, NULL);
    each_word(sy, pick_system, NULL);
    each_word(th, pick_threads, NULL);
    if (opt.queries < 2 || opt.queries > 10000 || opt.flat_queries < 2 || opt.nthreads == 0 ||
        opt.build_threads < 1 || opt.reps < 1)
        usage();
}

int main(int argc, char **argv)
{
    /* Faiss's OpenMP threads must sleep, not spin, when idle (see the top of the file). The
     * variable is read when libgomp loads, hence the new exec. */
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
        fprintf(stderr, "bench_ann: warning: cannot restart with OMP_WAIT_POLICY=passive: %s\n",
                strerror(errno));
    }
    parse(argc, argv);

    char tmpdir[] = "/tmp/vdb-bench-ann-XXXXXX";
    const char *dir = opt.dir;
    if (!dir) {
        if (!mkdtemp(tmpdir)) {
            fprintf(stderr, "bench_ann: mkdtemp: %s\n", strerror(errno));
            return 1;
        }
        dir = tmpdir;
    }
    snprintf(g_dbpath, sizeof g_dbpath, "%s/db", dir);
    g_out = mmap(NULL, sizeof *g_out, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g_out == MAP_FAILED) {
        fprintf(stderr, "bench_ann: mmap: %s\n", strerror(errno));
        return 1;
    }
    g_out->nrows = 0;

    printf("bench_ann: libvdb %s; %ld CPU(s); k=%d; HNSW M=%d efConstruction=%d; IVF nlist = "
           "4*sqrt(rows); IVF_PQ m = dim/4, nbits=%d; builds on %d thread(s); client threads",
           vdb_version(), sysconf(_SC_NPROCESSORS_ONLN), K, HNSW_M, HNSW_EFC, PQ_NBITS,
           opt.build_threads);
    for (int t = 0; t < opt.nthreads; t++)
        printf("%s%d", t ? "," : " ", opt.threads[t]);
    printf("; OMP_WAIT_POLICY=%s\n", getenv("OMP_WAIT_POLICY"));
    printf("qps: single-query searches on T client threads, wall time; p50/p99: those queries' "
           "latency; peak_MiB: VmHWM above the RSS before loading (libvdb: insert+flush+build) "
           "or building (references); bld_MiB: the index build alone; B/vec: index bytes per "
           "vector beside the raw float vectors; FLAT_BATCH: param = batch size, one call, best "
           "of 3, p50=p99 = its time\n");
    fflush(stdout);

    char datasets[256] = "";
    int failed = 0;
    for (int di = 0; ann_dataset_names[di]; di++) {
        if (!opt.dataset_on[di])
            continue;
        ann_dataset d;
        double t0 = bench_now();
        if (ann_dataset_load(ann_dataset_names[di], opt.data, opt.cache, opt.queries, &d) != 0)
            return 1;
        printf("\n== %s: %s; %zu x %zu, %s, %zu queries (loaded in %.1f s)\n", d.name, d.what,
               d.n, d.dim, vdb_metric_name(d.metric), d.nq, bench_now() - t0);
        fflush(stdout);
        snprintf(datasets + strlen(datasets), sizeof datasets - strlen(datasets), "%s%s",
                 datasets[0] ? " " : "", d.name);
        for (size_t x = 0; x < NINDEX; x++) {
            if (!opt.index_on[x])
                continue;
            for (int s = 0; s < NSYS; s++) {
                if (!opt.system_on[s] || index_specs[x].ref_kind[s] < 0)
                    continue;
                double ts = bench_now();
                fflush(stdout);
                /* free heap pages would let a child allocate without its RSS growing */
                malloc_trim(0);
                pid_t pid = fork();
                if (pid < 0) {
                    fprintf(stderr, "bench_ann: fork: %s\n", strerror(errno));
                    return 1;
                }
                if (pid == 0) {
                    int rc = run_child(&d, &index_specs[x], s);
                    fflush(stdout);
                    _exit(rc);
                }
                int wst;
                if (waitpid(pid, &wst, 0) < 0 || !WIFEXITED(wst)) {
                    fprintf(stderr, "bench_ann: the %s %s run crashed\n", sys_names[s],
                            index_specs[x].name);
                    failed = 1;
                } else if (WEXITSTATUS(wst) == EXIT_UNSUPPORTED) {
                    printf("  %-8s %-8s not supported\n", sys_names[s], index_specs[x].name);
                } else if (WEXITSTATUS(wst) != 0) {
                    fprintf(stderr, "bench_ann: the %s %s run failed\n", sys_names[s],
                            index_specs[x].name);
                    failed = 1;
                } else {
                    printf("  %-8s %-8s sweep done, %.1f s in all\n", sys_names[s],
                           index_specs[x].name, bench_now() - ts);
                }
                fflush(stdout);
            }
        }
        print_dataset(&d);
        ann_dataset_free(&d);
    }

    if (write_csv(opt.csv) == 0)
        printf("\ncsv: %s\n", opt.csv);
    if (opt.plot)
        plot(opt.csv, opt.png, datasets);
    if (dir == tmpdir)
        bench_rm_rf(tmpdir);
    munmap(g_out, sizeof *g_out);
    return failed;
}

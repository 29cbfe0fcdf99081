/* k-means (Lloyd) for the IVF coarse quantizer: assignment by matrix products (vdb_gemm_nt) in
 * fixed row blocks over pthreads. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "kmeans.h"

/* Rows per sgemm call: a block's score matrix (BLOCK x k floats) stays a few MiB. The
 * boundaries are fixed so the result does not depend on the thread count. */
#define BLOCK 256
#define MAX_THREADS 64
#define SEED 0x1f5eed0c1u

typedef struct assign_job {
    const float *x;
    size_t n;
    uint32_t dim, k;
    vdb_kmeans_assign_by by;
    const float *c, *cnorm; /* cnorm: |c|^2 for L2 */
    uint32_t *assign;
    atomic_size_t next; /* next block */
    atomic_bool oom;
} assign_job;

/* For L2 the best centroid minimizes |c|^2 - 2 x.c (|x|^2 is the same for all). */
static void assign_block(assign_job *j, size_t r0, size_t m, float *scores)
{
    vdb_gemm_nt(m, j->k, j->dim, j->x + r0 * j->dim, j->dim, j->c, j->dim, scores, j->k);
    for (size_t i = 0; i < m; i++) {
        const float *s = scores + i * j->k;
        uint32_t best = 0;
        if (j->by == VDB_KMEANS_IP) {
            float b = s[0];
            for (uint32_t c = 1; c < j->k; c++)
                if (s[c] > b) {
                    b = s[c];
                    best = c;
                }
        } else {
            float b = j->cnorm[0] - 2 * s[0];
            for (uint32_t c = 1; c < j->k; c++) {
                float d = j->cnorm[c] - 2 * s[c];
                if (d < b) {
                    b = d;
                    best = c;
                }
            }
        }
        j->assign[r0 + i] = best;
    }
}

static void *assign_worker(void *arg)
{
    assign_job *j = arg;
    float *scores = vdb_malloc((size_t)BLOCK * j->k * sizeof *scores);
    if (!scores) {
        atomic_store(&j->oom, true);
        return NULL;
    }
    for (;;) {
        size_t b = atomic_fetch_add(&j->next, 1);
        if (b * BLOCK >= j->n)
            break;
        size_t r0 = b * BLOCK;
        assign_block(j, r0, VDB_MIN((size_t)BLOCK, j->n - r0), scores);
    }
    vdb_free(scores);
    return NULL;
}

/* Runs fn over threads workers (the caller is one of them). */
static void run_workers(void *(*fn)(void *), void *arg, uint32_t threads)
{
    pthread_t tid[MAX_THREADS];
    uint32_t started = 0;
    for (uint32_t t = 1; t < threads; t++) {
        if (pthread_create(&tid[started], NULL, fn, arg) != 0)
            break; /* fewer workers: the others take their share */
        started++;
    }
    fn(arg);
    for (uint32_t t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
}

static uint32_t clamp_threads(uint32_t threads, size_t work)
{
    if (threads == 0)
        threads = 1;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    if (threads > work)
        threads = work ? (uint32_t)work : 1;
    return threads;
}

vdb_status vdb_kmeans_assign(const float *x, size_t n, uint32_t dim, const float *c, uint32_t k,
                             vdb_kmeans_assign_by by, uint32_t threads, uint32_t *assign)
{
    float *cnorm = vdb_malloc(k * sizeof *cnorm);
    if (!cnorm)
        return vdb_set_errmsg(VDB_ENOMEM, "k-means: out of memory for %u centroids", k);
    for (uint32_t i = 0; i < k; i++)
        cnorm[i] = vdb_norm_sq(c + (size_t)i * dim, dim);
    assign_job j = {.x = x, .n = n, .dim = dim, .k = k, .by = by, .c = c, .cnorm = cnorm,
                    .assign = assign};
    atomic_init(&j.next, 0);
    atomic_init(&j.oom, false);
    run_workers(assign_worker, &j, clamp_threads(threads, (n + BLOCK - 1) / BLOCK));
    vdb_free(cnorm);
    if (atomic_load(&j.oom))
        return vdb_set_errmsg(VDB_ENOMEM, "k-means: out of memory for %u centroids", k);
    return VDB_OK;
}

/* splitmix64 */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* k-means++ seeding (each next centroid drawn with probability proportional to its squared
 * distance from the nearest chosen one), for problems small enough that its k passes over
 * the rows cost less than one Lloyd step would gain: it spreads the seeds over duplicates and
 * sparse regions where random rows would pile up. */
#define KMEANSPP_BUDGET (1u << 27) /* rows x centroids x dim */

/* Squared L2; PQ sub-spaces are a few dimensions wide, where a call to the dispatched kernel
 * costs more than the arithmetic. */
static inline float l2sq(const float *a, const float *b, uint32_t dim)
{
    if (dim >= 16)
        return vdb_dist_l2sq(a, b, dim);
    float s = 0;
    for (uint32_t i = 0; i < dim; i++)
        s += (a[i] - b[i]) * (a[i] - b[i]);
    return s;
}

static vdb_status seed_pp(const float *x, size_t n, uint32_t dim, uint32_t k, uint64_t *rng,
                          float *c)
{
    double *d2 = vdb_malloc(n * sizeof *d2);
    if (!d2)
        return VDB_ENOMEM;
    size_t first = next_rand(rng) % n;
    memcpy(c, x + first * dim, dim * sizeof *c);
    for (size_t i = 0; i < n; i++)
        d2[i] = l2sq(x + i * dim, c, dim);
    for (uint32_t j = 1; j < k; j++) {
        double total = 0;
        for (size_t i = 0; i < n; i++)
            total += d2[i];
        size_t pick = 0;
        if (total > 0) {
            double u = (double)(next_rand(rng) >> 11) * (1.0 / 9007199254740992.0) * total;
            for (pick = 0; pick + 1 < n && (u -= d2[pick]) >= 0; pick++)
                ;
        } else {
            pick = next_rand(rng) % n; /* all rows already chosen or identical */
        }
        float *cj = c + (size_t)j * dim;
        memcpy(cj, x + pick * dim, dim * sizeof *c);
        for (size_t i = 0; i < n; i++) {
            double d = l2sq(x + i * dim, cj, dim);
            if (d < d2[i])
                d2[i] = d;
        }
    }
    vdb_free(d2);
    return VDB_OK;
}

/* The centroid update: sums in double, row order, split over dimension slices so that every
 * thread count gives the same bits. */
typedef struct update_job {
    const float *x;
    size_t n;
    uint32_t dim, k;
    const uint32_t *assign;
    double *sum;        /* k * dim */
    atomic_uint next;   /* next slice */
} update_job;

#define SLICE 32

static void *update_worker(void *arg)
{
    update_job *j = arg;
    for (;;) {
        uint32_t s = atomic_fetch_add(&j->next, 1);
        uint32_t d0 = s * SLICE;
        if (d0 >= j->dim)
            break;
        uint32_t d1 = VDB_MIN(d0 + SLICE, j->dim);
        for (size_t i = 0; i < j->n; i++) {
            const float *r = j->x + i * j->dim;
            double *acc = j->sum + (size_t)j->assign[i] * j->dim;
            for (uint32_t d = d0; d < d1; d++)
                acc[d] += r[d];
        }
    }
    return NULL;
}

/* Gives each empty cluster half of the largest one: a copy of its centroid nudged apart, as
 * Faiss does; the next assignment splits the members between the two. */
static void split_empty(float *c, uint32_t dim, uint32_t k, size_t *count, uint64_t *rng)
{
    for (uint32_t e = 0; e < k; e++) {
        if (count[e])
            continue;
        uint32_t big = 0;
        for (uint32_t i = 1; i < k; i++)
            if (count[i] > count[big])
                big = i;
        if (count[big] < 2)
            return; /* fewer distinct rows than clusters: nothing to split */
        float *ce = c + (size_t)e * dim, *cb = c + (size_t)big * dim;
        for (uint32_t d = 0; d < dim; d++) {
            float eps = ((float)(next_rand(rng) >> 40) / (float)(1u << 24) - 0.5f) * 2e-3f;
            float v = cb[d];
            ce[d] = v * (1 + eps) + eps * 1e-3f;
            cb[d] = v * (1 - eps) - eps * 1e-3f;
        }
        count[e] = count[big] / 2;
        count[big] -= count[e];
    }
}

vdb_status vdb_kmeans_train(const float *x, size_t n, uint32_t dim, uint32_t k,
                            vdb_kmeans_assign_by by, size_t max_sample, uint32_t iters,
                            uint32_t threads, void (*progress)(void *arg, size_t done,
                                                               size_t total),
                            void *arg, float *c)
{
    vdb_status st = VDB_ENOMEM;
    uint64_t rng = SEED;
    size_t ns = VDB_MIN(n, VDB_MAX(max_sample, (size_t)k));
    uint32_t *perm = NULL, *assign = vdb_malloc(ns * sizeof *assign);
    float *sample = NULL;
    double *sum = vdb_malloc((size_t)k * dim * sizeof *sum);
    size_t *count = vdb_malloc(k * sizeof *count);
    if (!assign || !sum || !count)
        goto done;
    const float *xs = x;
    if (ns < n || k < n) {
        /* A partial Fisher-Yates shuffle: the sample, and the initial centroids from its head. */
        perm = vdb_malloc(n * sizeof *perm);
        if (!perm)
            goto done;
        for (size_t i = 0; i < n; i++)
            perm[i] = (uint32_t)i;
        for (size_t i = 0; i < ns; i++) {
            size_t j = i + next_rand(&rng) % (n - i);
            uint32_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
    }
    if (ns < n) {
        if (!(sample = vdb_malloc(ns * dim * sizeof *sample)))
            goto done;
        for (size_t i = 0; i < ns; i++)
            memcpy(sample + i * dim, x + (size_t)perm[i] * dim, dim * sizeof *sample);
        xs = sample;
        for (uint32_t i = 0; i < k; i++)
            memcpy(c + (size_t)i * dim, sample + (size_t)i * dim, dim * sizeof *c);
    } else if (k < ns && (double)ns * k * dim <= KMEANSPP_BUDGET) {
        if (seed_pp(x, ns, dim, k, &rng, c) != VDB_OK)
            goto done;
    } else {
        for (uint32_t i = 0; i < k; i++)
            memcpy(c + (size_t)i * dim, x + (size_t)(perm ? perm[i] : i) * dim,
                   dim * sizeof *c);
    }
    for (uint32_t it = 0; it < iters; it++) {
        st = vdb_kmeans_assign(xs, ns, dim, c, k, by, threads, assign);
        if (st != VDB_OK)
            goto done;
        memset(sum, 0, (size_t)k * dim * sizeof *sum);
        memset(count, 0, k * sizeof *count);
        for (size_t i = 0; i < ns; i++)
            count[assign[i]]++;
        update_job u = {.x = xs, .n = ns, .dim = dim, .k = k, .assign = assign, .sum = sum};
        atomic_init(&u.next, 0);
        run_workers(update_worker, &u, clamp_threads(threads, (dim + SLICE - 1) / SLICE));
        for (uint32_t i = 0; i < k; i++) {
            if (!count[i])
                continue;
            double inv = 1.0 / (double)count[i];
            for (uint32_t d = 0; d < dim; d++)
                c[(size_t)i * dim + d] = (float)(sum[(size_t)i * dim + d] * inv);
        }
        split_empty(c, dim, k, count, &rng);
        if (progress)
            progress(arg, it + 1, iters);
    }
    st = VDB_OK;
done:
    if (st == VDB_ENOMEM)
        vdb_set_errmsg(st, "k-means: out of memory (%zu rows of dim %u, %u centroids)", ns, dim,
                       k);
    vdb_free(perm);
    vdb_free(sample);
    vdb_free(assign);
    vdb_free(sum);
    vdb_free(count);
    return st;
}

/* IVF_PQ training on our k-means: the coarse centroids and the m codebooks go to Faiss trained. */
#include <pthread.h>
#include <stdatomic.h>

#include "ivf_int.h"
#include "kmeans.h"

/* Rows per PQ centroid that train the codebooks (Faiss trains on up to 256; codebooks this
 * small settle with far fewer, and m of them are trained). */
#define PQ_SAMPLE_PER_CENTROID 32
/* Codebook k-means iterations (Faiss: 25; k-means++ seeds settle sooner). */
#define PQ_ITERS 16
#define MAX_THREADS 64

/* The codebooks are independent: workers take them one at a time, each k-means on one thread
 * (starting threads per Lloyd step would cost more than the step on rows this narrow). */
typedef struct pq_job {
    const float *res; /* ns residuals of dim floats */
    size_t ns, ksub;
    uint32_t dim, dsub, m;
    float *books;
    atomic_uint next;
    uint32_t done;        /* codebooks trained, under lock */
    atomic_int status;
    pthread_mutex_t lock; /* guards done and serializes progress */
    void (*progress)(void *arg, size_t done, size_t total);
    void *arg;
} pq_job;

static void *pq_worker(void *arg)
{
    pq_job *j = arg;
    float *sub = vdb_malloc(j->ns * j->dsub * sizeof *sub);
    if (!sub) {
        atomic_store(&j->status, VDB_ENOMEM);
        return NULL;
    }
    for (;;) {
        uint32_t s = atomic_fetch_add(&j->next, 1);
        if (s >= j->m || atomic_load(&j->status) != VDB_OK)
            break;
        for (size_t i = 0; i < j->ns; i++)
            memcpy(sub + i * j->dsub, j->res + i * j->dim + (size_t)s * j->dsub,
                   j->dsub * sizeof *sub);
        /* Sub-quantizers always train by L2: codes approximate vectors, IP is computed from
         * the approximation. */
        vdb_status st = vdb_kmeans_train(sub, j->ns, j->dsub, (uint32_t)j->ksub, VDB_KMEANS_L2,
                                         j->ns, PQ_ITERS, 1, NULL, NULL,
                                         j->books + (size_t)s * j->ksub * j->dsub);
        if (st != VDB_OK) {
            atomic_store(&j->status, st);
            break;
        }
        /* counted under the lock so that reports never go backwards */
        pthread_mutex_lock(&j->lock);
        j->done++;
        if (j->progress)
            j->progress(j->arg, j->done + 1, j->m + 1);
        pthread_mutex_unlock(&j->lock);
    }
    vdb_free(sub);
    return NULL;
}

vdb_status ivf_pq_train(const vdb_ivf *ivf, const float *x, uint32_t threads,
                        void (*progress)(void *arg, size_t done, size_t total), void *arg,
                        float *coarse, float *books)
{
    size_t n = ivf->n, ksub = (size_t)1 << ivf->pq_nbits;
    uint32_t dim = ivf->dim, m = ivf->pq_m;
    vdb_kmeans_assign_by by = ivf_probe_by_ip(ivf) ? VDB_KMEANS_IP : VDB_KMEANS_L2;
    vdb_status st = vdb_kmeans_train(x, n, dim, ivf->nlist, by,
                                     (size_t)IVF_SAMPLE_PER_LIST * ivf->nlist, IVF_KMEANS_ITERS,
                                     threads, NULL, NULL, coarse);
    if (st != VDB_OK)
        return st;
    if (progress)
        progress(arg, 1, m + 1);
    /* Evenly spaced rows; as Faiss does, the codebooks learn the residuals x - centroid. */
    size_t ns = VDB_MIN(n, PQ_SAMPLE_PER_CENTROID * ksub);
    float *res = vdb_malloc(ns * dim * sizeof *res);
    uint32_t *assign = vdb_malloc(ns * sizeof *assign);
    if (!res || !assign) {
        st = vdb_set_errmsg(VDB_ENOMEM, "ivf build: out of memory for PQ training");
        goto done;
    }
    for (size_t i = 0; i < ns; i++)
        memcpy(res + i * dim, x + (i * n / ns) * dim, dim * sizeof *res);
    st = vdb_kmeans_assign(res, ns, dim, coarse, ivf->nlist, by, threads, assign);
    if (st != VDB_OK)
        goto done;
    for (size_t i = 0; i < ns; i++)
        for (uint32_t j = 0; j < dim; j++)
            res[i * dim + j] -= coarse[(size_t)assign[i] * dim + j];
    pq_job j = {.res = res, .ns = ns, .ksub = ksub, .dim = dim, .dsub = dim / m, .m = m,
                .books = books, .progress = progress, .arg = arg};
    atomic_init(&j.next, 0);
    atomic_init(&j.status, VDB_OK);
    pthread_mutex_init(&j.lock, NULL);
    uint32_t nt = VDB_MIN(VDB_MAX(threads, 1u), VDB_MIN(m, (uint32_t)MAX_THREADS));
    pthread_t tid[MAX_THREADS];
    uint32_t started = 0;
    for (uint32_t t = 1; t < nt; t++)
        if (pthread_create(&tid[started], NULL, pq_worker, &j) == 0)
            started++;
    pq_worker(&j);
    for (uint32_t t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    pthread_mutex_destroy(&j.lock);
    st = (vdb_status)atomic_load(&j.status);
    if (st == VDB_ENOMEM)
        vdb_set_errmsg(st, "ivf build: out of memory for PQ training");
done:
    vdb_free(res);
    vdb_free(assign);
    return st;
}

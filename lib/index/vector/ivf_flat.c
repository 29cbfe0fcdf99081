/* IVF_FLAT: k-means lists of full vectors, scanned with the dispatched SIMD kernels (float
 * rows with the float kernels, FLOAT16 / BFLOAT16 rows as stored with the vdb_vkernels). */
#include <math.h>

#include "ivf_int.h"
#include "kmeans.h"

void ivf_lists_free(ivf_lists *l)
{
    vdb_free(l->centroids);
    vdb_free(l->off);
    vdb_free(l->vec);
    vdb_free(l->row);
    vdb_free(l->pos);
    vdb_free(l->inv_norm);
    memset(l, 0, sizeof *l);
}

/* Progress in iterations of k-means plus two steps (assignment, filling the lists). */
typedef struct flat_progress {
    void (*fn)(void *arg, size_t done, size_t total);
    void *arg;
} flat_progress;

static void kmeans_progress(void *arg, size_t done, size_t total)
{
    flat_progress *fp = arg;
    fp->fn(fp->arg, done, total + 2);
}

static vdb_status oom(const vdb_ivf *ivf)
{
    return vdb_set_errmsg(VDB_ENOMEM, "ivf build: out of memory for %zu rows of dim %u, nlist %u",
                          ivf->n, ivf->dim, ivf->nlist);
}

vdb_status ivf_flat_finish(vdb_ivf *ivf)
{
    ivf_lists *l = &ivf->l;
    if (ivf->n && !(l->pos = vdb_malloc(ivf->n * sizeof *l->pos)))
        return oom(ivf);
    for (size_t p = 0; p < ivf->n; p++)
        l->pos[l->row[p]] = (uint32_t)p;
    /* COSINE over half-precision rows: the rows stay as stored, their norms are kept */
    if (ivf->n && ivf->metric == VDB_METRIC_COSINE && ivf->type != VDB_TYPE_FLOAT_VECTOR) {
        if (!(l->inv_norm = vdb_malloc(ivf->n * sizeof *l->inv_norm)))
            return oom(ivf);
        for (size_t p = 0; p < ivf->n; p++) {
            float len = sqrtf(vdb_norm_sq_t(ivf->type, ivf_vec_at(ivf, p), ivf->dim));
            l->inv_norm[p] = len > 0 ? 1 / len : 0;
        }
    }
    return VDB_OK;
}

/* Rows of half-precision types go through k-means as floats a block at a time, so the build
 * never holds a float copy of the column: a sample for training, blocks for assignment. */
#define HALF_BLOCK 4096

/* Rows rows[0..m) (or from..from+m when rows is NULL) of base widened into out (m * dim),
 * normalized for COSINE. */
static void widen(const vdb_ivf *ivf, const void *base, const uint32_t *rows, size_t from,
                  size_t m, float *out)
{
    size_t rb = ivf_row_bytes(ivf);
    for (size_t i = 0; i < m; i++) {
        float *r = out + i * ivf->dim;
        size_t at = rows ? rows[i] : from + i;
        vdb_vector_to_f32(ivf->type, (const char *)base + at * rb, ivf->dim, r);
        if (ivf->metric != VDB_METRIC_COSINE)
            continue;
        float len = sqrtf(vdb_norm_sq(r, ivf->dim)), inv = len > 0 ? 1 / len : 0;
        for (uint32_t j = 0; j < ivf->dim; j++)
            r[j] *= inv;
    }
}

/* Centroids and assignment for half-precision rows: k-means on a sample of
 * IVF_SAMPLE_PER_LIST rows per list (drawn in row order from a fixed seed, Knuth's selection
 * sampling), then every row assigned block by block. */
static vdb_status train_assign_half(vdb_ivf *ivf, const void *base, uint32_t iters,
                                    uint32_t threads, vdb_kmeans_assign_by by,
                                    void (*progress)(void *arg, size_t done, size_t total),
                                    void *arg, uint32_t *assign)
{
    size_t n = ivf->n, dim = ivf->dim;
    size_t m = VDB_MIN(n, (size_t)IVF_SAMPLE_PER_LIST * ivf->nlist);
    vdb_status st = VDB_OK;
    uint32_t *pick = vdb_malloc(m * sizeof *pick);
    float *x = vdb_malloc(VDB_MAX(m, (size_t)HALF_BLOCK) * dim * sizeof *x);
    if (!pick || !x) {
        st = oom(ivf);
        goto done;
    }
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0, got = 0; i < n && got < m; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        if ((seed >> 33) % (n - i) < m - got)
            pick[got++] = (uint32_t)i;
    }
    widen(ivf, base, pick, 0, m, x);
    st = vdb_kmeans_train(x, m, (uint32_t)dim, ivf->nlist, by, m, iters, threads, progress, arg,
                          ivf->l.centroids);
    for (size_t from = 0; st == VDB_OK && from < n; from += HALF_BLOCK) {
        size_t b = VDB_MIN((size_t)HALF_BLOCK, n - from);
        widen(ivf, base, NULL, from, b, x);
        st = vdb_kmeans_assign(x, b, (uint32_t)dim, ivf->l.centroids, ivf->nlist, by, threads,
                               assign + from);
    }
done:
    vdb_free(pick);
    vdb_free(x);
    return st;
}

vdb_status ivf_flat_build(vdb_ivf *ivf, const void *base, uint32_t threads,
                          void (*progress)(void *arg, size_t done, size_t total), void *arg)
{
    ivf_lists *l = &ivf->l;
    size_t n = ivf->n, rb = ivf_row_bytes(ivf);
    uint32_t dim = ivf->dim, nlist = ivf->nlist;
    uint32_t iters = nlist == n ? 0 : IVF_KMEANS_ITERS; /* one row per list needs no training */
    vdb_kmeans_assign_by by = ivf_probe_by_ip(ivf) ? VDB_KMEANS_IP : VDB_KMEANS_L2;
    bool half = ivf->type != VDB_TYPE_FLOAT_VECTOR;
    vdb_status st = VDB_OK;
    uint32_t *assign = NULL;
    float *norm = NULL;
    l->off = vdb_calloc((size_t)nlist + 1, sizeof *l->off);
    if (!l->off)
        return oom(ivf);
    if (n == 0)
        goto finish;
    l->centroids = vdb_malloc((size_t)nlist * dim * sizeof *l->centroids);
    l->vec = vdb_malloc(n * rb);
    l->row = vdb_malloc(n * sizeof *l->row);
    assign = vdb_malloc(n * sizeof *assign);
    if (!l->centroids || !l->vec || !l->row || !assign) {
        st = oom(ivf);
        goto done;
    }
    const void *x = base;
    if (ivf->metric == VDB_METRIC_COSINE && !half) {
        /* Cosine is inner product on unit vectors, and on those L2 ranks the same way. */
        if (!(norm = vdb_malloc(n * dim * sizeof *norm))) {
            st = oom(ivf);
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            const float *r = (const float *)base + i * dim;
            float len = sqrtf(vdb_norm_sq(r, dim)), inv = len > 0 ? 1 / len : 0;
            for (uint32_t j = 0; j < dim; j++)
                norm[i * dim + j] = r[j] * inv;
        }
        x = norm;
    }
    flat_progress fp = {progress, arg};
    if (half) {
        st = train_assign_half(ivf, base, iters, threads, by, progress ? kmeans_progress : NULL,
                               &fp, assign);
    } else {
        st = vdb_kmeans_train(x, n, dim, nlist, by, (size_t)IVF_SAMPLE_PER_LIST * nlist, iters,
                              threads, progress ? kmeans_progress : NULL, &fp, l->centroids);
        if (st == VDB_OK)
            st = vdb_kmeans_assign(x, n, dim, l->centroids, nlist, by, threads, assign);
    }
    if (st != VDB_OK)
        goto done;
    if (progress)
        progress(arg, iters + 1, iters + 2);
    /* Counting sort of the rows by list: each list's vectors end up contiguous. */
    for (size_t i = 0; i < n; i++)
        l->off[assign[i] + 1]++;
    for (uint32_t c = 0; c < nlist; c++)
        l->off[c + 1] += l->off[c];
    for (size_t i = 0; i < n; i++) {
        uint32_t p = l->off[assign[i]]++;
        l->row[p] = (uint32_t)i;
        memcpy((char *)l->vec + (size_t)p * rb, (const char *)x + i * rb, rb);
    }
    /* The fill advanced each start to the next list's: shift back. */
    memmove(l->off + 1, l->off, nlist * sizeof *l->off);
    l->off[0] = 0;
finish:
    st = ivf_flat_finish(ivf);
    if (st == VDB_OK && progress)
        progress(arg, iters + 2, iters + 2);
done:
    vdb_free(assign);
    vdb_free(norm);
    return st;
}

static inline bool allowed_row(const uint64_t *bitset, uint32_t r)
{
    return !bitset || (bitset[r >> 6] >> (r & 63)) & 1;
}

/* Scores follow vdb_dist: L2 squared distance; IP, and cosine on the normalized copies (float
 * rows) or by the row's inverse norm (half-precision rows; q is normalized already). x is the
 * row at position p. */
static inline float score(const vdb_ivf *ivf, const float *q, size_t p, const void *x)
{
    if (!ivf->vk)
        return ivf->metric == VDB_METRIC_L2 ? vdb_dist_l2sq(q, x, ivf->dim)
                                            : vdb_dist_ip(q, x, ivf->dim);
    if (ivf->metric == VDB_METRIC_L2)
        return ivf->vk->l2sq(q, x, ivf->dim);
    float ip = ivf->vk->ip(q, x, ivf->dim);
    return ivf->l.inv_norm ? ip * ivf->l.inv_norm[p] : ip;
}

/* The allowed rows one by one, through the inverse map: exact. */
static void scan_exact(const vdb_ivf *ivf, const float *q, const uint64_t *bitset,
                       int64_t id_base, vdb_topk *out)
{
    const ivf_lists *l = &ivf->l;
    size_t n = ivf->n;
    for (size_t r = vdb_bitset_next(bitset, n, 0); r < n; r = vdb_bitset_next(bitset, n, r + 1))
        vdb_topk_offer(out, score(ivf, q, l->pos[r], ivf_vec_at(ivf, l->pos[r])),
                       id_base + (int64_t)r);
}

/* The nprobe lists nearest q, best first, into probe (a heap of nprobe). */
static void pick_lists(const vdb_ivf *ivf, const float *q, vdb_topk *probe)
{
    const float *c = ivf->l.centroids;
    bool ip = ivf_probe_by_ip(ivf);
    for (uint32_t i = 0; i < ivf->nlist; i++, c += ivf->dim)
        vdb_topk_offer(probe, ip ? vdb_dist_ip(q, c, ivf->dim) : vdb_dist_l2sq(q, c, ivf->dim), i);
    vdb_topk_sort(probe);
}

/* Scans one list into t; returns the allowed rows it holds. */
static size_t scan_list(const vdb_ivf *ivf, uint32_t list, const float *q,
                        const uint64_t *bitset, int64_t id_base, vdb_topk *t)
{
    const ivf_lists *l = &ivf->l;
    uint32_t p0 = l->off[list], p1 = l->off[list + 1];
    size_t rb = ivf_row_bytes(ivf);
    const char *x = ivf_vec_at(ivf, p0);
    size_t seen = 0;
    for (uint32_t p = p0; p < p1; p++, x += rb) {
        uint32_t r = l->row[p];
        if (!allowed_row(bitset, r))
            continue;
        seen++;
        vdb_topk_offer(t, score(ivf, q, p, x), id_base + r);
    }
    return seen;
}

vdb_status ivf_flat_search(const vdb_ivf *ivf, const float *q, uint32_t k, uint32_t nprobe,
                           const uint64_t *bitset, size_t allowed, int64_t id_base,
                           vdb_topk *out)
{
    /* Fewer allowed rows than the probe would visit: scanning them is cheaper and exact. */
    if (bitset && allowed <= ivf->n / ivf->nlist * nprobe) {
        scan_exact(ivf, q, bitset, id_base, out);
        return VDB_OK;
    }
    vdb_topk probe, mine;
    vdb_status st = vdb_topk_init(&probe, nprobe, ivf_probe_by_ip(ivf));
    if (st != VDB_OK)
        return st;
    /* Our own heap first: if the lists turn out too thin we answer exactly instead, and out
     * must not hold the same rows twice. */
    if ((st = vdb_topk_init(&mine, k, out->higher_better)) != VDB_OK) {
        vdb_topk_free(&probe);
        return st;
    }
    if (out->ranged)
        vdb_topk_set_range(&mine, out->radius, out->range_filter);
    pick_lists(ivf, q, &probe);
    size_t seen = 0;
    for (size_t i = 0; i < probe.n; i++) {
        if (i + 1 < probe.n) /* the head of the next list, while this one is scanned */
            __builtin_prefetch(ivf_vec_at(ivf, ivf->l.off[probe.id[i + 1]]));
        seen += scan_list(ivf, (uint32_t)probe.id[i], q, bitset, id_base, &mine);
    }
    if (seen < VDB_MIN((size_t)k, allowed)) {
        scan_exact(ivf, q, bitset, id_base, out);
    } else {
        for (size_t i = 0; i < mine.n; i++)
            vdb_topk_push(out, mine.dist[i], mine.id[i]);
    }
    vdb_topk_free(&mine);
    vdb_topk_free(&probe);
    return VDB_OK;
}

/* IVF: parameter checks, build and search dispatch between our lists and Faiss, accounting. */
#include <math.h>

#include "ivf_int.h"

#define DEFAULT_NLIST 128
#define DEFAULT_PQ_NBITS 8

/* p with its zero fields replaced by the defaults (p may be NULL). */
static vdb_ivf_params with_defaults(const vdb_ivf_params *p)
{
    vdb_ivf_params d = {0, 0, 0};
    if (p)
        d = *p;
    if (d.nlist == 0)
        d.nlist = DEFAULT_NLIST;
    if (d.pq_nbits == 0)
        d.pq_nbits = DEFAULT_PQ_NBITS;
    return d;
}

vdb_status ivf_check_params(vdb_ivf_kind kind, uint32_t dim, const vdb_ivf_params *p)
{
    if (kind != VDB_IVF_FLAT && kind != VDB_IVF_SQ8 && kind != VDB_IVF_PQ)
        return vdb_set_errmsg(VDB_EINVAL, "ivf: unknown index kind %d", (int)kind);
    if (dim == 0 || dim > IVF_DIM_MAX)
        return vdb_set_errmsg(VDB_EINVAL, "ivf: dim %u out of range 1..%u", dim, IVF_DIM_MAX);
    vdb_ivf_params d = with_defaults(p);
    if (d.nlist < VDB_IVF_NLIST_MIN || d.nlist > VDB_IVF_NLIST_MAX)
        return vdb_set_errmsg(VDB_EINVAL, "ivf: nlist %u out of range %u..%u", d.nlist,
                              VDB_IVF_NLIST_MIN, VDB_IVF_NLIST_MAX);
    if (kind != VDB_IVF_PQ)
        return VDB_OK;
    if (d.pq_m == 0 || dim % d.pq_m)
        return vdb_set_errmsg(VDB_EINVAL, "ivf: IVF_PQ m %u must divide dim %u (and be at least 1)",
                              d.pq_m, dim);
    if (d.pq_nbits < VDB_IVF_PQ_NBITS_MIN || d.pq_nbits > VDB_IVF_PQ_NBITS_MAX)
        return vdb_set_errmsg(VDB_EINVAL, "ivf: IVF_PQ nbits %u out of range %u..%u", d.pq_nbits,
                              VDB_IVF_PQ_NBITS_MIN, VDB_IVF_PQ_NBITS_MAX);
    return VDB_OK;
}

vdb_status vdb_ivf_check(vdb_ivf_kind kind, uint32_t dim, const vdb_ivf_params *p)
{
    vdb_status st = ivf_check_params(kind, dim, p);
    if (st == VDB_OK && kind != VDB_IVF_FLAT && !vdb_faiss_available())
        st = vdb_set_errmsg(VDB_EUNSUPPORTED, "ivf: %s %s",
                            kind == VDB_IVF_SQ8 ? "IVF_SQ8" : "IVF_PQ", VDB_FAISS_MISSING);
    return st;
}

/* Progress of a Faiss build on the scale of ours: training is the first half. */
typedef struct faiss_progress {
    void (*fn)(void *arg, size_t done, size_t total);
    void *arg;
    size_t n;
} faiss_progress;

static void faiss_progress_cb(void *arg, size_t done, size_t total)
{
    faiss_progress *fp = arg;
    fp->fn(fp->arg, total + done, 2 * total);
    fp->n = total;
}

/* PQ training reports (step, steps): scaled into the first half. */
static void pq_progress_cb(void *arg, size_t done, size_t total)
{
    faiss_progress *fp = arg;
    fp->fn(fp->arg, fp->n * done / total, 2 * fp->n);
}

static vdb_status build_faiss(vdb_ivf *ivf, const void *base, uint32_t threads,
                              void (*progress)(void *arg, size_t done, size_t total), void *arg)
{
    /* Faiss trains and encodes float32 rows: half-precision rows are widened here, for the
     * build only (the index keeps its 8-bit or PQ codes, not these floats). */
    const float *x = base;
    float *norm = NULL;
    if (ivf->metric == VDB_METRIC_COSINE || ivf->type != VDB_TYPE_FLOAT_VECTOR) {
        if (!(norm = vdb_malloc(ivf->n * ivf->dim * sizeof *norm)))
            return vdb_set_errmsg(VDB_ENOMEM, "ivf build: out of memory for %zu rows", ivf->n);
        size_t rb = ivf_row_bytes(ivf);
        for (size_t i = 0; i < ivf->n; i++) {
            float *r = norm + i * ivf->dim;
            vdb_vector_to_f32(ivf->type, (const char *)base + i * rb, ivf->dim, r);
            if (ivf->metric != VDB_METRIC_COSINE)
                continue;
            float len = sqrtf(vdb_norm_sq(r, ivf->dim)), inv = len > 0 ? 1 / len : 0;
            for (uint32_t j = 0; j < ivf->dim; j++)
                r[j] *= inv;
        }
        x = norm;
    }
    vdb_faiss_params fp = {.kind = ivf->kind == VDB_IVF_SQ8 ? VDB_FAISS_SQ8 : VDB_FAISS_PQ,
                           .dim = ivf->dim, .nlist = ivf->nlist,
                           .ip = ivf->metric != VDB_METRIC_L2,
                           .pq_m = ivf->pq_m, .pq_nbits = ivf->pq_nbits,
                           .niter = IVF_KMEANS_ITERS};
    faiss_progress pr = {progress, arg, ivf->n};
    if (progress)
        progress(arg, 0, 2 * ivf->n);
    vdb_status st = VDB_OK;
    float *coarse = NULL, *books = NULL;
    if (ivf->kind == VDB_IVF_PQ) {
        /* Faiss trains m codebooks slowly (OpenMP barriers and a 16 MiB buffer per k-means
         * step): ours are sgemm over pthreads. SQ8's training is a min/max, left to Faiss. */
        coarse = vdb_malloc((size_t)ivf->nlist * ivf->dim * sizeof *coarse);
        books = vdb_malloc(((size_t)ivf->dim << ivf->pq_nbits) * sizeof *books);
        if (!coarse || !books)
            st = vdb_set_errmsg(VDB_ENOMEM, "ivf build: out of memory for PQ codebooks");
        else
            st = ivf_pq_train(ivf, x, threads, progress ? pq_progress_cb : NULL, &pr, coarse,
                              books);
    }
    if (st == VDB_OK)
        st = vdb_faiss_build(&fp, x, ivf->n, threads, coarse, books,
                             progress ? faiss_progress_cb : NULL, &pr, &ivf->fx);
    vdb_free(coarse);
    vdb_free(books);
    vdb_free(norm);
    return st;
}

vdb_status vdb_ivf_build(vdb_ivf_kind kind, const float *base, size_t n, uint32_t dim,
                         vdb_metric metric, const vdb_ivf_params *p, uint32_t threads,
                         void (*progress)(void *arg, size_t done, size_t total), void *arg,
                         vdb_ivf **out)
{
    return vdb_ivf_build_t(kind, VDB_TYPE_FLOAT_VECTOR, base, n, dim, metric, p, threads,
                           progress, arg, out);
}

vdb_status vdb_ivf_build_t(vdb_ivf_kind kind, vdb_type type, const void *base, size_t n,
                           uint32_t dim, vdb_metric metric, const vdb_ivf_params *p,
                           uint32_t threads,
                           void (*progress)(void *arg, size_t done, size_t total), void *arg,
                           vdb_ivf **out)
{
    if (!out)
        return vdb_set_errmsg(VDB_EINVAL, "ivf build: NULL out");
    *out = NULL;
    if (type != VDB_TYPE_FLOAT_VECTOR && type != VDB_TYPE_FLOAT16_VECTOR &&
        type != VDB_TYPE_BFLOAT16_VECTOR)
        return vdb_set_errmsg(VDB_EINVAL, "ivf build: rows of type %s are not indexed "
                              "(FLOAT_VECTOR, FLOAT16_VECTOR, BFLOAT16_VECTOR are)",
                              vdb_type_name(type));
    vdb_status st = vdb_ivf_check(kind, dim, p);
    if (st != VDB_OK)
        return st;
    if (metric != VDB_METRIC_L2 && metric != VDB_METRIC_IP && metric != VDB_METRIC_COSINE)
        return vdb_set_errmsg(VDB_EINVAL, "ivf build: unknown metric %d", (int)metric);
    if (!base && n)
        return vdb_set_errmsg(VDB_EINVAL, "ivf build: NULL base with %zu rows", n);
    /* Row numbers are stored as uint32. */
    if (n > UINT32_MAX || n > SIZE_MAX / sizeof(float) / dim)
        return vdb_set_errmsg(VDB_EINVAL, "ivf build: n %zu rows is too many", n);
    vdb_ivf_params d = with_defaults(p);
    vdb_ivf *ivf = vdb_calloc(1, sizeof *ivf);
    if (!ivf)
        return vdb_set_errmsg(VDB_ENOMEM, "ivf build: out of memory");
    ivf->kind = kind;
    ivf->type = type;
    ivf->vk = vdb_vkernels_for(type);
    ivf->metric = metric;
    ivf->dim = dim;
    ivf->n = n;
    ivf->nlist = (uint32_t)VDB_MIN((size_t)d.nlist, n);
    if (kind == VDB_IVF_PQ) {
        ivf->pq_m = d.pq_m;
        ivf->pq_nbits = d.pq_nbits;
    }
    /* PQ codebooks need 2^nbits training rows: below that the rows are kept whole. */
    ivf->flat = kind == VDB_IVF_FLAT || n == 0 ||
                (kind == VDB_IVF_PQ && n < ((size_t)1 << d.pq_nbits));
    st = ivf->flat ? ivf_flat_build(ivf, base, threads, progress, arg)
                   : build_faiss(ivf, base, threads, progress, arg);
    if (st != VDB_OK) {
        vdb_ivf_free(ivf);
        return st;
    }
    *out = ivf;
    return VDB_OK;
}

/* Through Faiss; when the probed lists hold fewer than k allowed rows (a selective bitset),
 * an exact scan of base instead, if the caller gave it. q is normalized for COSINE, orig_q is
 * the caller's query (vdb_flat_search normalizes on its own). */
static vdb_status faiss_search(const vdb_ivf *ivf, const float *q, uint32_t k, uint32_t nprobe,
                               const uint64_t *bitset, size_t allowed, const void *base,
                               const float *orig_q, int64_t id_base, vdb_topk *out)
{
    vdb_status st = VDB_ENOMEM;
    float *dist = vdb_malloc(k * sizeof *dist);
    int64_t *ids = vdb_malloc(k * sizeof *ids);
    if (!dist || !ids) {
        st = vdb_set_errmsg(VDB_ENOMEM, "ivf search: out of memory for k=%u", k);
        goto done;
    }
    st = vdb_faiss_search(ivf->fx, q, k, nprobe, bitset, ivf->n, dist, ids);
    if (st != VDB_OK)
        goto done;
    size_t found = 0;
    for (uint32_t i = 0; i < k; i++)
        found += ids[i] >= 0;
    if (found < VDB_MIN((size_t)k, allowed) && base) {
        st = vdb_flat_search_t(ivf->type, base, ivf->n, ivf->dim, ivf->metric, orig_q, 1,
                               bitset, id_base, out);
        goto done;
    }
    for (uint32_t i = 0; i < k; i++)
        if (ids[i] >= 0 && (size_t)ids[i] < ivf->n)
            vdb_topk_push(out, dist[i], id_base + ids[i]);
done:
    vdb_free(dist);
    vdb_free(ids);
    return st;
}

vdb_status vdb_ivf_search(const vdb_ivf *ivf, const float *query, uint32_t k, uint32_t nprobe,
                          const void *base, const uint64_t *bitset, int64_t id_base,
                          vdb_topk *out)
{
    if (!ivf || !query || !out)
        return vdb_set_errmsg(VDB_EINVAL, "ivf search: NULL index, query or results");
    if (k == 0)
        return vdb_set_errmsg(VDB_EINVAL, "ivf search: k must be at least 1");
    if (nprobe == 0 || nprobe > VDB_IVF_NPROBE_MAX)
        return vdb_set_errmsg(VDB_EINVAL, "ivf search: nprobe %u out of range 1..%u", nprobe,
                              VDB_IVF_NPROBE_MAX);
    if (out->higher_better != vdb_metric_higher_is_better(ivf->metric) || out->k == 0)
        return vdb_set_errmsg(VDB_EINVAL, "ivf search: the results heap does not fit metric %s",
                              vdb_metric_name(ivf->metric));
    size_t allowed = vdb_bitset_count(bitset, ivf->n);
    if (allowed == 0)
        return VDB_OK;
    nprobe = VDB_MIN(nprobe, ivf->nlist);
    const float *q = query;
    float *qn = NULL;
    if (ivf->metric == VDB_METRIC_COSINE) {
        if (!(qn = vdb_malloc(ivf->dim * sizeof *qn)))
            return vdb_set_errmsg(VDB_ENOMEM, "ivf search: out of memory");
        float len = sqrtf(vdb_norm_sq(query, ivf->dim)), inv = len > 0 ? 1 / len : 0;
        for (uint32_t j = 0; j < ivf->dim; j++)
            qn[j] = query[j] * inv;
        q = qn;
    }
    vdb_status st;
    if (ivf->flat) {
        st = ivf_flat_search(ivf, q, k, nprobe, bitset, allowed, id_base, out);
    } else if (base && bitset && allowed <= ivf->n / ivf->nlist * nprobe) {
        /* Fewer allowed rows than the probe would visit: scanning them is cheaper and exact. */
        st = vdb_flat_search_t(ivf->type, base, ivf->n, ivf->dim, ivf->metric, query, 1, bitset,
                               id_base, out);
    } else {
        st = faiss_search(ivf, q, k, nprobe, bitset, allowed, base, query, id_base, out);
    }
    vdb_free(qn);
    return st;
}

void vdb_ivf_free(vdb_ivf *ivf)
{
    if (!ivf)
        return;
    if (!ivf->view)
        ivf_lists_free(&ivf->l);
    if (ivf->fx)
        vdb_faiss_free(ivf->fx);
    vdb_free(ivf);
}

size_t vdb_ivf_memory(const vdb_ivf *ivf)
{
    if (!ivf)
        return 0;
    size_t bytes = sizeof *ivf;
    if (ivf->fx)
        bytes += vdb_faiss_memory(ivf->fx);
    if (ivf->flat && !ivf->view) /* a view's lists are the caller's bytes */
        bytes += (size_t)ivf->nlist * ivf->dim * sizeof(float) +
                 (ivf->nlist + 1) * sizeof(uint32_t) + ivf->n * ivf_row_bytes(ivf) +
                 2 * ivf->n * sizeof(uint32_t) +
                 (ivf->l.inv_norm ? ivf->n * sizeof(float) : 0);
    return bytes;
}

size_t vdb_ivf_rows(const vdb_ivf *ivf) { return ivf ? ivf->n : 0; }

vdb_ivf_kind vdb_ivf_kind_of(const vdb_ivf *ivf) { return ivf->kind; }
vdb_metric vdb_ivf_metric(const vdb_ivf *ivf) { return ivf->metric; }
vdb_type vdb_ivf_type(const vdb_ivf *ivf) { return ivf->type; }

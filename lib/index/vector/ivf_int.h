/* IVF internals shared by ivf.c (parameters, dispatch), ivf_flat.c (our lists), ivf_io.c. */
#ifndef VDB_IVF_INT_H
#define VDB_IVF_INT_H

#include "faiss_shim.h"
#include "ivf.h"

/* k-means: Lloyd iterations and rows sampled per list (Faiss's max_points_per_centroid). */
#define IVF_KMEANS_ITERS 12
#define IVF_SAMPLE_PER_LIST 256
#define IVF_DIM_MAX 32768

/* IVF_FLAT storage; also what IVF_PQ keeps when too few rows train its codebooks (n below
 * 2^nbits: the lists then hold full vectors and answers are exact within the probed lists). */
typedef struct ivf_lists {
    float *centroids; /* nlist * dim */
    uint32_t *off;    /* nlist + 1: list l holds positions off[l] .. off[l + 1] - 1 */
    float *vec;       /* n * dim, list by list (normalized for COSINE) */
    uint32_t *row;    /* n: the row at each position */
    uint32_t *pos;    /* n: the position of each row (inverse of row; not serialized) */
} ivf_lists;

struct vdb_ivf {
    vdb_ivf_kind kind;
    vdb_metric metric;
    uint32_t dim;
    size_t n;
    uint32_t nlist;             /* effective: min(requested, n), 0 when n == 0 */
    uint32_t pq_m, pq_nbits;    /* IVF_PQ as requested */
    bool flat;                  /* the lists below answer (IVF_FLAT, or IVF_PQ over few rows) */
    ivf_lists l;
    vdb_faiss *fx;              /* IVF_SQ8 / IVF_PQ over enough rows */
};

/* How a row picks its list: L2 for L2 and COSINE (rows are normalized), inner product for IP. */
static inline bool ivf_probe_by_ip(const vdb_ivf *ivf) { return ivf->metric == VDB_METRIC_IP; }

/* vdb_ivf_check without asking whether Faiss is built in: the decoder checks the shape of an
 * IVF_SQ8 / IVF_PQ frame before the shim says whether it can read the rest. */
vdb_status ivf_check_params(vdb_ivf_kind kind, uint32_t dim, const vdb_ivf_params *p);

/* Builds ivf->l over base (normalizing for COSINE); ivf's kind, metric, dim, n, nlist set. */
vdb_status ivf_flat_build(vdb_ivf *ivf, const float *base, uint32_t threads,
                          void (*progress)(void *arg, size_t done, size_t total), void *arg);
/* The inverse map and anything else derived from the stored lists. */
vdb_status ivf_flat_finish(vdb_ivf *ivf);
/* Searches the lists into out; see vdb_ivf_search. q is already normalized for COSINE. */
vdb_status ivf_flat_search(const vdb_ivf *ivf, const float *q, uint32_t k, uint32_t nprobe,
                           const uint64_t *bitset, size_t allowed, int64_t id_base,
                           vdb_topk *out);
void ivf_lists_free(ivf_lists *l);

/* IVF_PQ: trains nlist coarse centroids (nlist * dim floats) and m codebooks of 2^nbits
 * centroids over dim / m dimensions (dim * 2^nbits floats, Faiss's layout) on x, which is
 * normalized already for COSINE. progress as in vdb_ivf_build. */
vdb_status ivf_pq_train(const vdb_ivf *ivf, const float *x, uint32_t threads,
                        void (*progress)(void *arg, size_t done, size_t total), void *arg,
                        float *coarse, float *books);

#endif

/* IVF internals shared by ivf.c (parameters, dispatch), ivf_flat.c (our lists), ivf_io.c. */
#ifndef VDB_IVF_INT_H
#define VDB_IVF_INT_H

#include "faiss_shim.h"
#include "ivf.h"
#include "util/vtype.h"

/* k-means: Lloyd iterations and rows sampled per list (Faiss's max_points_per_centroid). */
#define IVF_KMEANS_ITERS 12
#define IVF_SAMPLE_PER_LIST 256
#define IVF_DIM_MAX 32768

/* IVF_FLAT storage; also what IVF_PQ keeps when too few rows train its codebooks (n below
 * 2^nbits: the lists then hold full vectors and answers are exact within the probed lists). */
typedef struct ivf_lists {
    float *centroids; /* nlist * dim */
    uint32_t *off;    /* nlist + 1: list l holds positions off[l] .. off[l + 1] - 1 */
    /* n * dim elements of the index's type, list by list: FLOAT_VECTOR rows normalized for
     * COSINE; FLOAT16 / BFLOAT16 rows as stored (scored by the vdb_vkernels, no float copy) */
    void *vec;
    uint32_t *row;    /* n: the row at each position */
    uint32_t *pos;    /* n: the position of each row (inverse of row; saved from version 3) */
    /* n: 1 / |x| at each position, for COSINE over half-precision rows (else NULL; derived
     * from vec, saved from version 3) */
    float *inv_norm;
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
    vdb_type type;              /* of the rows: FLOAT_VECTOR, FLOAT16_VECTOR, BFLOAT16_VECTOR */
    const vdb_vkernels *vk;     /* the kernels for type's rows; NULL for FLOAT_VECTOR */
    /* A view (vdb_ivf_decode_view): l's arrays point into the caller's bytes, not owned */
    bool view;
};

/* Bytes of one row in the lists, and the row at position p. */
static inline size_t ivf_row_bytes(const vdb_ivf *ivf)
{
    return vdb_vector_elem_size(ivf->type) * ivf->dim;
}
static inline const void *ivf_vec_at(const vdb_ivf *ivf, size_t p)
{
    return (const char *)ivf->l.vec + p * ivf_row_bytes(ivf);
}

/* How a row picks its list: L2 for L2 and COSINE (rows are normalized), inner product for IP. */
static inline bool ivf_probe_by_ip(const vdb_ivf *ivf) { return ivf->metric == VDB_METRIC_IP; }

/* vdb_ivf_check without asking whether Faiss is built in: the decoder checks the shape of an
 * IVF_SQ8 / IVF_PQ frame before the shim says whether it can read the rest. */
vdb_status ivf_check_params(vdb_ivf_kind kind, uint32_t dim, const vdb_ivf_params *p);

/* Builds ivf->l over base, n rows of ivf->type (normalizing float rows for COSINE); ivf's
 * kind, type, vk, metric, dim, n, nlist set. */
vdb_status ivf_flat_build(vdb_ivf *ivf, const void *base, uint32_t threads,
                          void (*progress)(void *arg, size_t done, size_t total), void *arg);
/* The inverse map and anything else derived from the stored lists (the inverse norms). */
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

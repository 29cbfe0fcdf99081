/* IVF indexes: an inverted file over the rows of a segment. A coarse quantizer (k-means
 * centroids) sends each row to its nearest of nlist lists; a search scans the nprobe lists
 * nearest the query. Three kinds, as in Milvus:
 *   IVF_FLAT: lists hold full float vectors (our own code on the dispatched SIMD kernels).
 *   IVF_SQ8:  lists hold 8-bit scalar codes (one byte per dimension).
 *   IVF_PQ:   lists hold product-quantizer codes (m sub-vectors of nbits each), via Faiss.
 * IVF_FLAT and the k-means of IVF_PQ (coarse centroids and codebooks) are ours (kmeans.c);
 * IVF_SQ8 and IVF_PQ encode and search with Faiss (faiss_shim.cpp). IVF_PQ scores are
 * computed from the codes (approximate, as in Milvus); IVF_SQ8's from the 8-bit codes.
 * Scores follow vdb_dist (L2 squared distance, IP, cosine similarity). For COSINE the index
 * works on normalized vectors, so its scores are cosine similarities too.
 *
 * Rows may be FLOAT_VECTOR, FLOAT16_VECTOR or BFLOAT16_VECTOR (util/vtype.h; the _t
 * functions): IVF_FLAT keeps half-precision rows as they are stored and scores them with the
 * vdb_vkernels (float query against half row; COSINE by a per-row inverse norm), so no float
 * copy of the column is kept. IVF_SQ8 and IVF_PQ widen the rows to float32 for the build
 * only (their codes are what they keep); their exact fallback scans the caller's rows in
 * their own type.
 *
 * A built index is read-only: any number of threads may search it at once. */
#ifndef VDB_IVF_H
#define VDB_IVF_H

#include "index/kernels/kernels.h"

typedef struct vdb_ivf vdb_ivf;

typedef enum vdb_ivf_kind {
    VDB_IVF_FLAT = 1,
    VDB_IVF_SQ8 = 2,
    VDB_IVF_PQ = 3,
} vdb_ivf_kind;

/* Parameter ranges (Milvus's), checked with messages naming the parameter. */
#define VDB_IVF_NLIST_MIN 1
#define VDB_IVF_NLIST_MAX 65536
#define VDB_IVF_NPROBE_MAX 65536  /* search nprobe: 1..65536, capped at nlist */
#define VDB_IVF_PQ_NBITS_MIN 1
#define VDB_IVF_PQ_NBITS_MAX 16   /* m must divide dim */

/* A field left 0 takes its default; NULL params means all defaults. */
typedef struct vdb_ivf_params {
    uint32_t nlist;   /* lists (default 128) */
    uint32_t pq_m;    /* IVF_PQ: sub-quantizers; must divide dim (no default: required) */
    uint32_t pq_nbits; /* IVF_PQ: bits per sub-quantizer code (default 8) */
} vdb_ivf_params;

/* Checks params for kind over dim (VDB_EINVAL naming the parameter and its allowed range). */
vdb_status vdb_ivf_check(vdb_ivf_kind kind, uint32_t dim, const vdb_ivf_params *p);

/* Trains the quantizer(s) on the rows (or a sample of them) and fills the lists. When n is
 * smaller than nlist, nlist is lowered to n (an index over few rows still answers; n == 0 is a
 * valid empty index). IVF_PQ over fewer than 2^nbits rows (too few to train its codebooks)
 * keeps the rows whole in IVF_FLAT lists instead: it answers like IVF_FLAT (exact scores
 * within the probed lists), which at that size costs at most 2^nbits vectors. threads worker threads (0 means 1). progress, when not NULL, is called
 * now and then with (arg, done, total) in arbitrary units, never concurrently. The index keeps
 * its own copy of what it needs (it does not point into base). On success *out is freed with
 * vdb_ivf_free. VDB_EINVAL names a bad parameter; VDB_ENOMEM. */
vdb_status vdb_ivf_build(vdb_ivf_kind kind, const float *base, size_t n, uint32_t dim,
                         vdb_metric metric, const vdb_ivf_params *p, uint32_t threads,
                         void (*progress)(void *arg, size_t done, size_t total), void *arg,
                         vdb_ivf **out);
/* The same over n rows of type (FLOAT_VECTOR, FLOAT16_VECTOR or BFLOAT16_VECTOR; another type
 * is VDB_EINVAL). */
vdb_status vdb_ivf_build_t(vdb_ivf_kind kind, vdb_type type, const void *base, size_t n,
                           uint32_t dim, vdb_metric metric, const vdb_ivf_params *p,
                           uint32_t threads,
                           void (*progress)(void *arg, size_t done, size_t total), void *arg,
                           vdb_ivf **out);

/* The k best rows of query among the nprobe nearest lists (nprobe 1..65536, capped at nlist).
 * Only rows whose bit is set in bitset (n bits; NULL: all rows) are returned. When the bitset
 * excludes most rows, or the probed lists hold fewer than k allowed rows, the answer comes from
 * an exact scan of the allowed rows instead (with IVF_FLAT over its own vectors; with the
 * other kinds over the rows given as base, which must then be the build's rows, else
 * NULL to accept fewer results; rows of the index's type). Each hit is pushed into out as (score, id_base + row); out is
 * the caller's heap (vdb_topk honours a range when one is set, which turns this into range
 * search). Thread-safe. VDB_EINVAL; VDB_ENOMEM. */
vdb_status vdb_ivf_search(const vdb_ivf *ivf, const float *query, uint32_t k, uint32_t nprobe,
                          const void *base, const uint64_t *bitset, int64_t id_base,
                          vdb_topk *out);

void vdb_ivf_free(vdb_ivf *ivf);

/* Bytes the index holds (centroids, codes or vectors, ids, quantizer tables). */
size_t vdb_ivf_memory(const vdb_ivf *ivf);
size_t vdb_ivf_rows(const vdb_ivf *ivf);
vdb_ivf_kind vdb_ivf_kind_of(const vdb_ivf *ivf);
vdb_metric vdb_ivf_metric(const vdb_ivf *ivf);
vdb_type vdb_ivf_type(const vdb_ivf *ivf);

/* Appends the whole index to out (versioned, little-endian, crc32c at the end). VDB_ENOMEM. */
vdb_status vdb_ivf_encode(const vdb_ivf *ivf, vdb_buf *out);

/* An index from vdb_ivf_encode's bytes. Damaged bytes give VDB_ECORRUPT, an unknown format
 * version VDB_EVERSION; n and dim must match what was built (else VDB_ECORRUPT). Every field
 * of our frame is checked on its own; Faiss's embedded bytes are checked by the crc32c and,
 * once parsed, for shape and row ids (Faiss's parser itself trusts the lengths it reads, so
 * bytes forged with a valid checksum could make it attempt a huge allocation). */
vdb_status vdb_ivf_decode(const void *p, size_t len, size_t n, uint32_t dim, vdb_ivf **out);
/* The same for an index over rows of type: one saved over another type is VDB_ECORRUPT. */
vdb_status vdb_ivf_decode_t(const void *p, size_t len, vdb_type type, size_t n, uint32_t dim,
                            vdb_ivf **out);
/* An IVF_FLAT index over version-3 bytes used in place: p 64-byte aligned, alive and unchanged
 * until vdb_ivf_free; the crc32c is not verified here (the caller checked it when it wrote
 * them), every count, offset and row id is. Other versions VDB_EVERSION, misaligned bytes
 * VDB_EINVAL, damage VDB_ECORRUPT. */
vdb_status vdb_ivf_decode_view(const void *p, size_t len, vdb_type type, size_t n,
                               uint32_t dim, vdb_ivf **out);
/* vdb_ivf_encode in format version (1 or 2 as the rows' type takes, 3 for flat lists; 0:
 * the current one), for tests of older files. */
vdb_status vdb_ivf_encode_version(const vdb_ivf *ivf, uint32_t version, vdb_buf *out);

#endif

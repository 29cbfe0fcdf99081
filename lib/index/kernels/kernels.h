/* The kernels every index shares: distance kernels (runtime-dispatched: AVX-512 / AVX2 on x86-64,
 * SVE / NEON on AArch64, portable everywhere), a
 * top-k heap, and exact (flat) search under a bitset. Thread-safe: no shared state after
 * the one-time CPU detection. */
#ifndef VDB_INDEX_H
#define VDB_INDEX_H

#include "util/util.h"

/* The kernels picked for this CPU: "avx512-vnni", "avx512", "avx2" (x86-64), "sve", "neon"
 * (AArch64) or "portable". */
const char *vdb_simd_level(void);
/* Tests and benchmarks: force a level (one of the names above); returns false if the CPU (or
 * this build's CPU family) lacks it. NULL restores the automatic choice. Not thread-safe. */
bool vdb_simd_force(const char *level);

float vdb_dist_l2sq(const float *a, const float *b, size_t dim);
float vdb_dist_ip(const float *a, const float *b, size_t dim);
float vdb_norm_sq(const float *a, size_t dim);
/* Sum of c[i] * w[i] over n (a multiple of 64) 8-bit codes and int16 weights; the caller
 * bounds the weights so the sum fits int32 (see sq8.h). */
int32_t vdb_dot_u8i16(const uint8_t *c, const int16_t *w, size_t n);
/* The kernel behind vdb_dot_u8i16 for this CPU, for loops that call it per row (one indirect
 * call instead of two). */
typedef int32_t (*vdb_dot_u8i16_fn)(const uint8_t *c, const int16_t *w, size_t n);
vdb_dot_u8i16_fn vdb_dot_u8i16_kernel(void);
/* The metric's score of x against q: L2 squared distance, IP, or cosine similarity. */
float vdb_dist(vdb_metric m, const float *q, const float *x, size_t dim);

/* Kernels of a float query q (dim floats) against a stored row x of dim FLOAT16, BFLOAT16 or
 * INT8 elements (util/vtype.h), widened to float32 as they are read: the rows are never
 * copied as floats. Dispatched like the float kernels; every level gives the portable
 * kernel's result up to the order of float32 additions. */
typedef struct vdb_vkernels {
    float (*l2sq)(const float *q, const void *x, size_t dim);
    float (*ip)(const float *q, const void *x, size_t dim);
    /* q.x, q.q and x.x */
    void (*cos_parts)(const float *q, const void *x, size_t dim, float parts[3]);
} vdb_vkernels;
/* This CPU's kernels for rows of type t (FLOAT16/BFLOAT16/INT8_VECTOR); NULL for others. */
const vdb_vkernels *vdb_vkernels_for(vdb_type t);
/* vdb_dist for a row x of any dense vector type t (FLOAT_VECTOR: vdb_dist itself). */
float vdb_dist_t(vdb_type t, vdb_metric m, const float *q, const void *x, size_t dim);
/* x.x of a row of type t. */
float vdb_norm_sq_t(vdb_type t, const void *x, size_t dim);
/* IP, COSINE and BM25 are similarities; L2, HAMMING and JACCARD distances. */
static inline bool vdb_metric_higher_is_better(vdb_metric m)
{
    return m == VDB_METRIC_IP || m == VDB_METRIC_COSINE || m == VDB_METRIC_BM25;
}

/* ---- binary vectors (BINARY_VECTOR): rows of nbytes packed bits ----
 * Popcount kernels dispatched with the SIMD level (vdb_simd_force included): AVX-512
 * VPOPCNTDQ on the AVX-512 levels of CPUs that have it, else AVX2 byte lookups (x86-64);
 * NEON CNT (AArch64, the SVE level too); portable C. Integer counts: every level gives
 * exactly the portable kernel's result. */
typedef struct vdb_bin_kernels {
    const char *name; /* "avx512-vpopcntdq", "avx2", "neon" or "portable" */
    uint32_t (*hamming)(const uint8_t *a, const uint8_t *b, size_t nbytes); /* |a ^ b| */
    /* |a & b| and |a | b| */
    void (*and_or)(const uint8_t *a, const uint8_t *b, size_t nbytes, uint32_t out[2]);
} vdb_bin_kernels;
const vdb_bin_kernels *vdb_bin_kernels_active(void);
const vdb_bin_kernels *vdb_bin_kernels_portable(void);
/* Milvus's JACCARD distance from |a & b| and |a | b|: 1 - and / or (0 when or is 0). */
float vdb_jaccard_of(const uint32_t and_or[2]);
/* HAMMING (differing bits, as a float) or JACCARD distance of x to q; NaN for other metrics. */
float vdb_dist_bin(vdb_metric m, const uint8_t *q, const uint8_t *x, size_t nbytes);

/* A bounded heap keeping the k best (distance, id) pairs. With a range set (range search) it
 * keeps only scores inside the window, so every index that pushes into it honours the range
 * without knowing of it; indexes that prune (HNSW) check `ranged` to widen their walk. */
typedef struct vdb_topk {
    size_t k, n;
    bool higher_better;
    bool ranged;
    float radius, range_filter; /* as Milvus: see vdb_topk_set_range */
    float *dist;
    int64_t *id;
} vdb_topk;
vdb_status vdb_topk_init(vdb_topk *t, size_t k, bool higher_better);
void vdb_topk_free(vdb_topk *t);
void vdb_topk_reset(vdb_topk *t);
/* Range search, as Milvus defines it: for L2 keep range_filter <= d < radius, for IP and
 * COSINE keep radius < s <= range_filter. Without a range_filter pass -INFINITY (L2) or
 * +INFINITY (IP, COSINE). */
void vdb_topk_set_range(vdb_topk *t, float radius, float range_filter);
/* Whether d lies inside the heap's range (always true without one). */
static inline bool vdb_topk_in_range(const vdb_topk *t, float d)
{
    if (!t->ranged)
        return true;
    return t->higher_better ? d > t->radius && d <= t->range_filter
                            : d < t->radius && d >= t->range_filter;
}
/* Keeps (d, id) if it is among the k best so far. Equal distances: the smaller id wins. */
void vdb_topk_push(vdb_topk *t, float d, int64_t id);
/* The worst kept distance (the bar to beat when full). */
float vdb_topk_worst(const vdb_topk *t);
/* vdb_topk_push behind a one-compare bar: when the heap is full, what does not match or beat
 * its worst would be refused anyway (NaN fails both compares). For scans' inner loops. */
static inline void vdb_topk_offer(vdb_topk *t, float d, int64_t id)
{
    if (t->n == t->k) {
        float bar = t->dist[0];
        if (t->higher_better ? !(d >= bar) : !(d <= bar))
            return;
    }
    vdb_topk_push(t, d, id);
}
/* Sorts the kept pairs best first (in place; the heap is then no longer a heap). */
void vdb_topk_sort(vdb_topk *t);

/* Bits set in n 64-bit words (the dispatched popcount kernel). */
size_t vdb_popcount(const uint64_t *w, size_t n);
/* How many of the first n bits are set (n when bitset is NULL: everything allowed). */
size_t vdb_bitset_count(const uint64_t *bitset, size_t n);
/* The first row >= r whose bit is set, or n when none is (r itself when bitset is NULL);
 * empty words are skipped whole. */
static inline size_t vdb_bitset_next(const uint64_t *bitset, size_t n, size_t r)
{
    if (!bitset)
        return r < n ? r : n;
    while (r < n) {
        uint64_t w = bitset[r >> 6] >> (r & 63);
        if (w) {
            r += (size_t)__builtin_ctzll(w);
            return r < n ? r : n;
        }
        r = (r | 63) + 1;
    }
    return n;
}

/* c = a times b transposed: c[i * ldc + j] = a_i . b_j for m rows a_i (k floats, lda apart)
 * and n rows b_j (ldb apart). OpenBLAS's sgemm (its own threads) when built with it, else a
 * portable blocked product on this thread. Sizes must fit int. */
void vdb_gemm_nt(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                 size_t ldb, float *c, size_t ldc);

/* Exact search of nq queries over n rows of base (row-major, dim floats each). Only rows whose
 * bit is set in bitset are candidates (NULL: all rows). Each hit is pushed into out[q] with
 * id = id_base + row, so one heap per query can collect several segments. Batches of queries
 * go through vdb_gemm_nt when that is faster. NaN scores are never kept. */
vdb_status vdb_flat_search(const float *base, size_t n, size_t dim, vdb_metric metric,
                           const float *queries, size_t nq, const uint64_t *bitset,
                           int64_t id_base, vdb_topk *out);
/* The same over rows of any dense vector type (util/vtype.h): FLOAT16, BFLOAT16 and INT8 rows
 * are scored in place by the vdb_vkernels, query by query (no matrix product). */
vdb_status vdb_flat_search_t(vdb_type type, const void *base, size_t n, size_t dim,
                             vdb_metric metric, const float *queries, size_t nq,
                             const uint64_t *bitset, int64_t id_base, vdb_topk *out);
/* Exact search of nq BINARY_VECTOR queries (nbytes each) over n rows, as vdb_flat_search
 * (metric HAMMING or JACCARD). */
vdb_status vdb_flat_search_bin(const uint8_t *base, size_t n, size_t nbytes, vdb_metric metric,
                               const uint8_t *queries, size_t nq, const uint64_t *bitset,
                               int64_t id_base, vdb_topk *out);

/* ---- sparse vectors (SPARSE_FLOAT_VECTOR) ----
 * A stored row is n uint32 indices (strictly ascending) then n float values: 8n bytes, at
 * an 8-byte aligned address in a column's bytes (every row's length is a multiple of 8 and
 * the buffer comes from malloc). */
typedef struct vdb_sparse_vec {
    uint32_t n;
    const uint32_t *idx;
    const float *val;
} vdb_sparse_vec;

static inline vdb_sparse_vec vdb_sparse_view(const void *p, size_t len)
{
    uint32_t n = (uint32_t)(len / 8);
    return (vdb_sparse_vec){n, (const uint32_t *)p, (const float *)p + n};
}
/* The dot product over shared indices, summed in ascending index order. */
float vdb_sparse_dot(const vdb_sparse_vec *a, const vdb_sparse_vec *b);
/* Exact IP search of q over n rows (offsets: n + 1 byte offsets into bytes), rows allowed by
 * bitset (NULL: all); a row is a hit only when its score is above 0 (it shares a positive
 * value with the query), as an inverted index finds them. */
void vdb_sparse_flat_search(const uint64_t *offsets, const char *bytes, size_t n,
                            const vdb_sparse_vec *q, const uint64_t *bitset, int64_t id_base,
                            vdb_topk *out);
/* q without its floor(ratio * n) smallest values (Milvus's drop_ratio_search; ties: the
 * later index goes first), into idx / val (room for q->n each), *n_out their count. */
vdb_status vdb_sparse_drop_smallest(const vdb_sparse_vec *q, double ratio, uint32_t *idx,
                                    float *val, uint32_t *n_out);

#endif

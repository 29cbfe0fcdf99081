/* HNSW: a layered small-world graph over the rows of a segment (build, search, serialization). */
#ifndef VDB_HNSW_H
#define VDB_HNSW_H

#include "index/kernels/kernels.h"

/* An HNSW graph over n rows of dim floats. It keeps a pointer to the caller's rows and never
 * copies them: the segment owns the vectors and must keep them alive, unchanged, until
 * vdb_hnsw_free. The graph holds per-row neighbour lists (level 0: up to M0 = 2*M ids, upper
 * levels: up to M), and for COSINE a per-row inverse norm (so cosine = ip(q/|q|, x) / |x|
 * without a normalized copy of the rows).
 *
 * Scores follow vdb_dist: squared L2 (lower is better), inner product, cosine similarity
 * (higher is better). IP is searched as maximum inner product on a graph built with -ip as
 * the "distance": it is not a metric, but greedy search on such a graph works well in
 * practice (recall is lower than L2's at the same ef when norms vary widely).
 *
 * A built index is read-only: any number of threads may search it at once. */
typedef struct vdb_hnsw vdb_hnsw;

/* Parameter ranges, checked with messages naming the parameter. */
#define VDB_HNSW_M_MIN 2
#define VDB_HNSW_M_MAX 100
#define VDB_HNSW_EFC_MAX 10000 /* ef_construction: M..10000 */
#define VDB_HNSW_EF_MAX 32768  /* search ef: 1..32768, raised to k when below it */
#define VDB_HNSW_DIM_MAX 32768

/* Builds the graph over base (n rows, row-major; n may be 0: a valid empty index). threads
 * worker threads insert rows in parallel (0 means 1); with one thread the graph is fully
 * deterministic, with more it depends on scheduling (levels are always drawn from a fixed
 * seed). progress, when not NULL, is called now and then with (arg, rows done, n), from the
 * worker threads but never concurrently. On success *out is freed with vdb_hnsw_free.
 * VDB_EINVAL names a bad parameter; VDB_ENOMEM. */
vdb_status vdb_hnsw_build(const float *base, size_t n, uint32_t dim, vdb_metric metric,
                          uint32_t M, uint32_t ef_construction, uint32_t threads,
                          void (*progress)(void *arg, size_t done, size_t total), void *arg,
                          vdb_hnsw **out);

/* The same over rows of any dense vector type (util/vtype.h): FLOAT16, BFLOAT16 and INT8 rows
 * are read in place (the graph keeps the pointer, never a float copy); the query stays
 * dim floats. */
vdb_status vdb_hnsw_build_t(vdb_type type, const void *base, size_t n, uint32_t dim,
                            vdb_metric metric, uint32_t M, uint32_t ef_construction,
                            uint32_t threads,
                            void (*progress)(void *arg, size_t done, size_t total), void *arg,
                            vdb_hnsw **out);

/* Searches for the k best rows of query with a beam of ef (1..32768, raised to k). Only rows
 * whose bit is set in bitset (n bits; NULL: all rows) are returned; the graph is walked
 * through excluded rows too, and the search goes on until it holds ef allowed rows or has
 * seen every reachable row. When few rows are allowed (allowed^2 < ef * n: walking would
 * cost more than scanning them) or the walk found fewer than min(k, allowed), the answer
 * comes from exact search over the allowed rows instead. Each hit is pushed into out as
 * (score, id_base + row); out is the caller's heap, initialized with
 * vdb_metric_higher_is_better(metric). Thread-safe. VDB_EINVAL; VDB_ENOMEM. */
vdb_status vdb_hnsw_search(const vdb_hnsw *h, const float *query, uint32_t k, uint32_t ef,
                           const uint64_t *bitset, int64_t id_base, vdb_topk *out);

/* Frees the graph (not the rows). NULL is a no-op. */
void vdb_hnsw_free(vdb_hnsw *h);

/* Bytes the index holds beside the vectors. */
size_t vdb_hnsw_memory(const vdb_hnsw *h);

/* Parameters of a built or decoded index. */
size_t vdb_hnsw_rows(const vdb_hnsw *h);
vdb_metric vdb_hnsw_metric(const vdb_hnsw *h);

/* Appends the graph to out (versioned, little-endian, crc32c at the end; the rows are not
 * included, the 8-bit codes are). VDB_ENOMEM. */
vdb_status vdb_hnsw_encode(const vdb_hnsw *h, vdb_buf *out);
/* The format vdb_hnsw_encode writes: 2 (arrays on 64-byte boundaries, codes included: usable
 * in place); 1 is the older one, without codes, still read. */
#define VDB_HNSW_FORMAT 2u
/* vdb_hnsw_encode in a given format version (1 or 2; tests write version 1 with it). */
vdb_status vdb_hnsw_encode_version(const vdb_hnsw *h, uint32_t version, vdb_buf *out);

/* Rebuilds an index from vdb_hnsw_encode's bytes over the same rows (base, n, dim: kept by
 * pointer as in vdb_hnsw_build). Every field, count and neighbour id is checked: damaged or
 * mismatched bytes give VDB_ECORRUPT, an unknown format version VDB_EVERSION. */
vdb_status vdb_hnsw_decode(const void *p, size_t len, const float *base, size_t n, uint32_t dim,
                           vdb_hnsw **out);
/* vdb_hnsw_decode over rows of type (as vdb_hnsw_build_t). */
vdb_status vdb_hnsw_decode_t(const void *p, size_t len, vdb_type type, const void *base,
                             size_t n, uint32_t dim, vdb_hnsw **out);
/* An index over format-2 bytes used in place (a mapped file): p must be 64-byte aligned and
 * stay mapped, unchanged, until vdb_hnsw_free; the neighbour lists, COSINE's norms and the
 * codes are read from p, never copied (level[] and the upper-list offsets, 5 bytes a row, are
 * on the heap). The checksum is not verified (the caller did, when it wrote the bytes); every
 * count and neighbour id is, as vdb_hnsw_decode checks them (reading the lists once).
 * VDB_ECORRUPT; VDB_EVERSION for format 1; VDB_EINVAL when p is not aligned. */
vdb_status vdb_hnsw_decode_view(const void *p, size_t len, vdb_type type, const void *base,
                                size_t n, uint32_t dim, vdb_hnsw **out);

#endif

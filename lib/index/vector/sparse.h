/* The inverted index over sparse vectors (SPARSE_FLOAT_VECTOR), one per sealed segment: a
 * posting list per dimension (the rows holding it, ascending, with their values), each cut
 * into blocks of VDB_SPARSE_BLOCK postings that keep their largest value and last row.
 *
 * Three walks over it (Milvus's inverted_index_algo), all exact for the postings kept:
 * - TAAT_NAIVE, exhaustive: term at a time, every posting of every query term added into a
 *   per-row accumulator;
 * - DAAT_WAND, block-max WAND: document at a time, skipping rows and whole blocks whose
 *   upper bound cannot beat the k-th best score so far;
 * - DAAT_MAXSCORE: document at a time over the lists whose bounds could still make a row
 *   enter the top k, the other lists only probed for those rows while they can matter.
 *
 * Scores come from a scorer: NULL is IP (query value times stored value). A scorer of its
 * own (BM25: idf, term frequency and the row's length) gives each posting's contribution and
 * an upper bound of it over the rows of a block from the block's largest stored value, so
 * WAND stays exact under it; df and the posting lists are what BM25's statistics need.
 * Read-only once built: any number of threads may search one index. */
#ifndef VDB_SPARSE_INDEX_H
#define VDB_SPARSE_INDEX_H

#include "index/vector/vindex.h"

#define VDB_SPARSE_BLOCK 64

typedef struct vdb_sparse_index vdb_sparse_index;

typedef struct vdb_sparse_scorer {
    /* the contribution of a stored value v of row `row` for a query value q */
    float (*term)(const void *arg, uint32_t dim, float q, float v, uint32_t row);
    /* at least term(dim, q, v, row) for every row and every v <= vmax */
    float (*bound)(const void *arg, uint32_t dim, float q, float vmax);
    const void *arg;
} vdb_sparse_scorer;

/* Builds over rows (type SPARSE_FLOAT_VECTOR, offsets set), leaving out the smallest
 * drop_ratio (0 <= r < 1) of all the stored values (Milvus's drop_ratio_build). */
vdb_status vdb_sparse_index_build(const vdb_vectors *rows, double drop_ratio,
                                  vdb_sparse_index **out);
void vdb_sparse_index_free(vdb_sparse_index *ix);
size_t vdb_sparse_index_rows(const vdb_sparse_index *ix);
size_t vdb_sparse_index_memory(const vdb_sparse_index *ix);
/* How many rows hold dimension dim (after drop_ratio_build). */
uint32_t vdb_sparse_index_df(const vdb_sparse_index *ix, uint32_t dim);
typedef enum vdb_sparse_algo {
    VDB_SPARSE_TAAT_NAIVE = 0,
    VDB_SPARSE_DAAT_WAND = 1,
    VDB_SPARSE_DAAT_MAXSCORE = 2,
} vdb_sparse_algo;

/* The best k rows for q among those set in bitset (NULL: all) into out, as
 * (score, id_base + row); a row scoring 0 or less is no hit. scorer NULL: IP. Query values
 * must be >= 0. With a range window on out the walk is TAAT_NAIVE whatever algo says. */
vdb_status vdb_sparse_index_search(const vdb_sparse_index *ix, const vdb_sparse_vec *q,
                                   vdb_sparse_algo algo, const vdb_sparse_scorer *scorer,
                                   const uint64_t *bitset, int64_t id_base, vdb_topk *out);
/* (SPARSE_INVERTED_INDEX and SPARSE_WAND search with a scorer through
 * vdb_vindex_search_scored: query a vdb_sparse_vec, scorer a vdb_sparse_scorer.) */
/* The build parameters of both sparse kinds, by position: */
#define VDB_SPARSE_PARAM_K1 2 /* bm25_k1 */
#define VDB_SPARSE_PARAM_B 3  /* bm25_b */
vdb_status vdb_sparse_index_encode(const vdb_sparse_index *ix, vdb_buf *out);
/* VDB_ECORRUPT when anything is out of bounds. */
vdb_status vdb_sparse_index_decode(const void *p, size_t len, vdb_sparse_index **out);
/* The same over encode's bytes (format 2) used in place: p must stay valid and unchanged
 * while the index lives; every offset, row id and block checked once here. Only the struct
 * is allocated. VDB_EUNSUPPORTED for format 1 or arrays not 8-byte aligned. */
vdb_status vdb_sparse_index_view(const void *p, size_t len, vdb_sparse_index **out);

#endif

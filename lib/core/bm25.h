/* BM25 full-text search: the BM25 function's term vectors (at insert and for query texts),
 * the corpus statistics of the rows visible at a read, and the scorer the sparse index and
 * the exact scan use. */
#ifndef VDB_CORE_BM25_H
#define VDB_CORE_BM25_H

#include "core/schema.h"
#include "index/kernels/kernels.h"
#include "index/vector/sparse.h"
#include "segment/segment.h"
#include "text/text.h"

#define VDB_BM25_K1 1.2
#define VDB_BM25_B 0.75

/* The term vector of text (a stored sparse row: n u32 term ids ascending, then n float
 * counts) appended to out; *nterms gets n. tk is scratch. */
vdb_status vdb_bm25_terms(const vdb_analyzer *a, const char *text, size_t n, vdb_tokens *tk,
                          vdb_buf *out, uint32_t *nterms);
/* The BM25 function: dst (SPARSE_FLOAT_VECTOR, empty) gets the term vector of every row of
 * src (the input VARCHAR column; a NULL row gives an empty vector). */
vdb_status vdb_bm25_fill(const vdb_field_def *in, const vdb_column *src, vdb_column *dst);

/* Statistics over the visible rows: N, the summed lengths and the document frequencies of
 * the query terms (terms: sorted, unique). */
typedef struct vdb_bm25_stats {
    double docs, total_len;
    const uint32_t *terms;
    size_t nterms;
    double *df; /* nterms */
} vdb_bm25_stats;
/* Adds the rows set in visible of column vc (rows rows); dl (rows floats) gets each row's
 * length (its token count: the sum of its values). */
void vdb_bm25_stats_add(vdb_bm25_stats *st, const vdb_column *vc, size_t rows,
                        const uint64_t *visible, float *dl);
double vdb_bm25_idf(const vdb_bm25_stats *st, size_t term);
/* The index of term t in st->terms, or st->nterms. */
size_t vdb_bm25_find(const vdb_bm25_stats *st, uint32_t t);
/* Sorts t[0..n) and drops repeats; returns how many are left. */
size_t vdb_bm25_unique(uint32_t *t, size_t n);

typedef struct vdb_bm25_scorer {
    double k1, b, avgdl;
    const float *dl; /* the segment's row lengths */
} vdb_bm25_scorer;
/* A vdb_sparse_scorer over sc (query values: qtf * idf; stored values: tf). */
vdb_sparse_scorer vdb_bm25_sparse_scorer(const vdb_bm25_scorer *sc);
/* The exact scan: every row set in bits of column vc scored for q into out. */
void vdb_bm25_flat_search(const vdb_column *vc, size_t rows, const vdb_sparse_vec *q,
                          const vdb_bm25_scorer *sc, const uint64_t *bits, int64_t id_base,
                          vdb_topk *out);

#endif

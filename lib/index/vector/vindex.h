/* One interface over the vector indexes (HNSW and the IVF family), so the core builds,
 * searches, saves and frees an index without knowing which kind it holds.
 *
 * Ownership differs by kind and the wrapper keeps it: HNSW points at the caller's rows (the
 * segment's vector column must outlive the index, unchanged), IVF copies what it needs. A
 * built index is read-only: any number of threads may search it at once. */
#ifndef VDB_VINDEX_H
#define VDB_VINDEX_H

#include "index/kernels/kernels.h"

typedef enum vdb_vindex_type {
    VDB_VINDEX_NONE = 0,
    VDB_VINDEX_HNSW = 1,
    VDB_VINDEX_IVF_FLAT = 2,
    VDB_VINDEX_IVF_SQ8 = 3,
    VDB_VINDEX_IVF_PQ = 4,
} vdb_vindex_type;

/* Build parameters; each kind reads its own (ranges: hnsw.h, ivf.h). */
typedef struct vdb_vindex_params {
    uint32_t M, ef_construction;   /* HNSW */
    uint32_t nlist;                /* IVF_* */
    uint32_t pq_m, pq_nbits;       /* IVF_PQ */
} vdb_vindex_params;

/* Search parameters; each kind reads its own. */
typedef struct vdb_vindex_search_params {
    uint32_t ef;     /* HNSW beam: 1..32768 (raised to k) */
    uint32_t nprobe; /* IVF lists probed: 1..65536 (capped at nlist) */
} vdb_vindex_search_params;

typedef struct vdb_vindex vdb_vindex;

/* "HNSW", "IVF_FLAT", ... (upper case; "" for NONE); and back (VDB_VINDEX_NONE if unknown). */
const char *vdb_vindex_type_name(vdb_vindex_type type);
vdb_vindex_type vdb_vindex_type_from_name(const char *name);
vdb_vindex_type vdb_vindex_type_of(const vdb_vindex *idx);

/* Builds an index of type over n rows of base (row-major, dim floats). threads: the build's
 * worker threads (0 means 1). progress (may be NULL) gets (arg, done, total) now and then,
 * never concurrently, in rows for HNSW and in the IVF build's own units otherwise.
 * Errors are the index's own (VDB_EINVAL naming the parameter, VDB_ENOMEM); a kind this
 * library was built without is VDB_EUNSUPPORTED. */
vdb_status vdb_vindex_build(vdb_vindex_type type, const vdb_vindex_params *p, const float *base,
                            size_t n, uint32_t dim, vdb_metric metric, uint32_t threads,
                            void (*progress)(void *arg, size_t done, size_t total), void *arg,
                            vdb_vindex **out);

/* The k best rows for query among those set in bitset (NULL: all), pushed into out as
 * (score, id_base + row); out's range window, when set, turns this into range search.
 * base: the rows the index was built over (HNSW ignores it: it holds them; IVF uses them for
 * its exact fallback). */
vdb_status vdb_vindex_search(const vdb_vindex *idx, const float *query, uint32_t k,
                             const vdb_vindex_search_params *sp, const float *base,
                             const uint64_t *bitset, int64_t id_base, vdb_topk *out);

/* Appends the index's bytes to out (the kind is not included: it is in the object's name). */
vdb_status vdb_vindex_encode(const vdb_vindex *idx, vdb_buf *out);
/* An index of type from vdb_vindex_encode's bytes, over the same rows (HNSW keeps base).
 * VDB_ECORRUPT / VDB_EVERSION as the index's own decoder says. */
vdb_status vdb_vindex_decode(vdb_vindex_type type, const void *p, size_t len, const float *base,
                             size_t n, uint32_t dim, vdb_vindex **out);

/* Bytes the index holds (HNSW: beside the rows it points at). */
size_t vdb_vindex_memory(const vdb_vindex *idx);
size_t vdb_vindex_rows(const vdb_vindex *idx);
/* NULL is a no-op. */
void vdb_vindex_free(vdb_vindex *idx);

#endif

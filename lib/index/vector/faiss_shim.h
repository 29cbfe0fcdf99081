/* A C view of the Faiss pieces behind IVF_SQ8 and IVF_PQ (faiss_shim.cpp). Every C++ exception
 * is caught at this boundary and comes back as a vdb_status with its message (vdb_set_errmsg).
 * Rows are numbered 0..n-1 in the order they were added. Vectors reach Faiss as given: the
 * caller normalizes them for COSINE and asks for inner product. */
#ifndef VDB_FAISS_SHIM_H
#define VDB_FAISS_SHIM_H

#ifdef __cplusplus
extern "C" { /* util/util.h declares its functions without a C++ guard */
#endif

#include "index/kernels/kernels.h"

typedef struct vdb_faiss vdb_faiss;

/* Whether Faiss is built in (meson -Dfaiss). Without it (faiss_shim_none.c) every call below
 * answers VDB_EUNSUPPORTED with VDB_FAISS_MISSING in its message. */
bool vdb_faiss_available(void);
#define VDB_FAISS_MISSING                                                                      \
    "needs Faiss, and this libvdb was built without it (meson -Dfaiss=disabled, or no "        \
    "libfaiss-dev): FLAT, HNSW and IVF_FLAT work without it"

typedef enum vdb_faiss_kind {
    VDB_FAISS_SQ8 = 1, /* IndexIVFScalarQuantizer, QT_8bit */
    VDB_FAISS_PQ = 2,  /* IndexIVFPQ (m sub-quantizers of nbits) */
} vdb_faiss_kind;

typedef struct vdb_faiss_params {
    vdb_faiss_kind kind;
    uint32_t dim, nlist; /* 1 <= nlist <= n */
    bool ip;             /* inner product (else L2) */
    uint32_t pq_m, pq_nbits;
    uint32_t niter;      /* k-means iterations when Faiss trains (0: Faiss's default) */
} vdb_faiss_params;

/* Builds over x (n rows, n >= nlist) with threads OpenMP threads (0 means 1; restored
 * afterwards). Coarse centroids (nlist * dim floats), when given, are used as they are, else
 * Faiss trains them on x; PQ requires them and its codebooks (dim * 2^nbits floats,
 * sub-quantizer by sub-quantizer: ivf_pq.c trains both). Then all n rows are added. progress as in vdb_ivf_build with done counted in rows
 * added out of n. VDB_EINVAL, VDB_ENOMEM, VDB_EIO (any other Faiss error, with its message). */
vdb_status vdb_faiss_build(const vdb_faiss_params *p, const float *x, size_t n, uint32_t threads,
                           const float *coarse, const float *books,
                           void (*progress)(void *arg, size_t done, size_t total), void *arg,
                           vdb_faiss **out);

/* The k best of q in the nprobe nearest lists among rows allowed by bitset (NULL: all; nrows
 * bits). dist/ids get k entries; missing ones have id -1. Thread-safe. */
vdb_status vdb_faiss_search(const vdb_faiss *f, const float *q, uint32_t k, uint32_t nprobe,
                            const uint64_t *bitset, size_t nrows, float *dist, int64_t *ids);

/* Appends Faiss's own serialization of the index (write_index) to out. VDB_ENOMEM, VDB_EIO. */
vdb_status vdb_faiss_write(const vdb_faiss *f, vdb_buf *out);

/* An index from vdb_faiss_write's bytes. The result must be the kind, dimension, metric, list
 * count and PQ shape of p and hold rows 0..n-1 exactly once, each in a list of the right code
 * size; anything else is VDB_ECORRUPT. Faiss's reader trusts the sizes it reads (a forged
 * length makes it allocate that much), so only bytes whose checksum holds should reach it. */
vdb_status vdb_faiss_read(const void *bytes, size_t len, const vdb_faiss_params *p, size_t n,
                          vdb_faiss **out);

/* Bytes held: coarse centroids, quantizer tables, codes and ids. */
size_t vdb_faiss_memory(const vdb_faiss *f);
void vdb_faiss_free(vdb_faiss *f);

#ifdef __cplusplus
}
#endif

#endif

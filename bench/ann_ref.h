/* ann_ref: the reference libraries of bench_ann (hnswlib and Faiss) behind a small C interface,
 * so bench_ann times them exactly as it times libvdb. Implemented in bench_ann_ref.cpp, the one
 * file compiled with -O3 -march=native (hnswlib is header-only: that is how it gets AVX-512).
 * Faiss is Debian's prebuilt libfaiss.a and runs whatever code Debian compiled into it. */
#ifndef VDB_BENCH_ANN_REF_H
#define VDB_BENCH_ANN_REF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum ann_ref_kind {
    ANN_REF_HNSWLIB = 0,     /* hnswlib HierarchicalNSW<float> (L2Space / InnerProductSpace) */
    ANN_REF_FAISS_HNSW = 1,  /* faiss::IndexHNSWFlat */
    ANN_REF_FAISS_IVF_FLAT = 2, /* faiss::IndexIVFFlat */
    ANN_REF_FAISS_IVF_SQ8 = 3,  /* faiss::IndexIVFScalarQuantizer, QT_8bit */
    ANN_REF_FAISS_IVF_PQ = 4,   /* faiss::IndexIVFPQ */
    ANN_REF_FAISS_FLAT = 5,     /* faiss::IndexFlatL2 / IndexFlatIP */
};

typedef struct ann_ref_params {
    int M, ef_construction;      /* HNSW */
    int nlist, pq_m, pq_nbits;   /* IVF */
} ann_ref_params;

/* Builds (trains and adds) an index of kind over rows x dim floats, ids = row positions, by
 * inner product when ip != 0 (unit vectors: cosine) else L2, on threads threads. NULL on
 * failure (message printed). */
void *ann_ref_build(int kind, const float *base, size_t rows, size_t dim, int ip,
                    const ann_ref_params *p, int threads);
/* Memory of the index per vector beside the raw float vectors (for the kinds that store them
 * as they are, those are not counted; for SQ8/PQ the codes are). */
double ann_ref_bytes_per_vector(const void *h);
/* ef (HNSW) or nprobe (IVF) of the following searches; ignored by FLAT. */
void ann_ref_set_param(void *h, int value);
/* OpenMP threads of the calling thread (each bench client thread calls it with 1). */
void ann_ref_omp_threads(int threads);
/* nq queries, k ids each (row-major, nearest first, -1 where fewer came back). */
void ann_ref_search(const void *h, const float *queries, size_t nq, size_t k, int64_t *ids);
void ann_ref_free(void *h);

#ifdef __cplusplus
}
#endif
#endif

/* ann_data: the data sets of bench_ann and their ground truth.
 *
 *   fmnist      Fashion-MNIST-784 as distributed (pixels 0..255 as floats), L2; 60,000 base
 *               vectors, the test images as queries, ground truth from the shared
 *               groundtruth.ivecs.
 *   fmnist-cos  the same vectors each scaled to unit length, COSINE.
 *   gauss96     the Fashion-MNIST vectors through one fixed random Gaussian projection to 96
 *               dimensions (entries N(0, 1/96)), L2.
 *   clustered   100,000 synthetic vectors of 256 dimensions in 1,000 overlapping Gaussian
 *               clusters of a 32-dimensional latent space mapped linearly into 256
 *               dimensions, plus noise; queries drawn the same way; L2.
 *   unit128     the Fashion-MNIST vectors through a random Gaussian projection to 128-d, each
 *               scaled to unit length; IP (real data, full rank, no integer grid).
 *   aniso256    200,000 synthetic vectors of 256 dimensions from a full-rank Gaussian mixture
 *               of 1,000 clusters with per-cluster, per-dimension log-normal scales on top of
 *               a global scale falling 8x across the dimensions; L2 (the hard kind: no
 *               low-rank structure, uneven spreads).
 *   aniso128-1m the same generator, 1,000,000 x 128: how cost grows with rows.
 *
 * The derived and synthetic sets come from a fixed seed (the same floats on every run). Their
 * ground truth is computed here: OpenBLAS sgemm over all rows for candidates, which are then
 * ranked again by the exact distance in double; it is cached in cache_dir under a name that
 * carries a hash of the vectors, so a changed generator never reuses stale neighbours.
 *
 * Loaders return 0, or -1 after printing why to stderr. */
#ifndef VDB_BENCH_ANN_DATA_H
#define VDB_BENCH_ANN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include <vdb/vdb.h>

#define ANN_GT_K 10

typedef struct ann_dataset {
    const char *name;   /* "fmnist", ... (static) */
    const char *what;   /* one line describing it (static) */
    vdb_metric metric;  /* L2, IP, or COSINE (vectors then unit length: IP gives the same order) */
    size_t n, nq, dim;
    float *base;        /* n x dim */
    float *queries;     /* nq x dim */
    int32_t *gt;        /* nq x gt_k ids, nearest first */
    size_t gt_k;
} ann_dataset;

/* The names above, in their default order, NULL-terminated. */
extern const char *const ann_dataset_names[];

/* Loads data set name with its first nq queries (at most 10,000). data_dir: the shared data
 * folder (NULL: the build's); cache_dir: where computed ground truth is kept (NULL: none). */
int ann_dataset_load(const char *name, const char *data_dir, const char *cache_dir, size_t nq,
                     ann_dataset *out);
void ann_dataset_free(ann_dataset *d);

/* Exact k nearest rows of base for each query (L2, or inner product when ip != 0), nearest
 * first, into gt (nq x k). Uses OpenBLAS for candidates, double precision for the order. */
int ann_exact_knn(const float *base, size_t n, const float *queries, size_t nq, size_t dim,
                  int ip, size_t k, int32_t *gt);

#endif

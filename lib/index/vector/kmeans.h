/* k-means for the IVF coarse quantizer: random init from a fixed seed, Lloyd iterations whose
 * assignment step is one matrix product (vdb_gemm_nt) per block of rows, spread over pthreads. */
#ifndef VDB_KMEANS_H
#define VDB_KMEANS_H

#include "index/kernels/kernels.h"

/* How a row picks its centroid: the nearest by L2, or the largest inner product (what an IVF
 * over IP probes by, as Faiss does). */
typedef enum vdb_kmeans_assign_by {
    VDB_KMEANS_L2 = 0,
    VDB_KMEANS_IP = 1,
} vdb_kmeans_assign_by;

/* Trains k centroids (k * dim floats into c) on n rows of x, 1 <= k <= n. At most max_sample
 * rows (drawn from a fixed seed) take part; seeds are k-means++ on small problems (rows x k x
 * dim up to 2^27), else random rows; iters Lloyd iterations; a cluster left empty is
 * re-seeded by splitting the largest one. threads workers (0 means 1). progress, when not
 * NULL, is called after each iteration with (arg, iteration, iters) from the calling thread.
 * The result does not depend on threads: rows go through sgemm in fixed blocks and centroid
 * sums run in row order. VDB_ENOMEM. */
vdb_status vdb_kmeans_train(const float *x, size_t n, uint32_t dim, uint32_t k,
                            vdb_kmeans_assign_by by, size_t max_sample, uint32_t iters,
                            uint32_t threads, void (*progress)(void *arg, size_t done,
                                                               size_t total),
                            void *arg, float *c);

/* The centroid of each of n rows (assign[i] in 0..k-1). VDB_ENOMEM. */
vdb_status vdb_kmeans_assign(const float *x, size_t n, uint32_t dim, const float *c, uint32_t k,
                             vdb_kmeans_assign_by by, uint32_t threads, uint32_t *assign);

#endif

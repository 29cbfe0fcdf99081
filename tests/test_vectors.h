/* Vector data for the index tests: Fashion-MNIST's first rows, clustered synthetic rows,
 * bitsets, and exact answers to compare an index with. */
#ifndef VDB_TEST_VECTORS_H
#define VDB_TEST_VECTORS_H

#include "test_common.h"

#include "index/kernels/kernels.h"

#define TEST_FMNIST "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

/* The first rows of Fashion-MNIST (784 pixels as floats) through zcat; NULL when the Debian
 * package is not installed. free() it. */
float *test_load_fmnist(size_t rows);
/* Blobs around 32 random centres: structure like real embeddings, any dim. free() it. */
float *test_clustered(size_t n, uint32_t dim, uint64_t seed);
/* A bitset keeping one row in every keep_one_in (pseudo-randomly), with the bits past n set on
 * purpose: an index must ignore them. free() it. */
uint64_t *test_make_bitset(size_t n, uint32_t keep_one_in, size_t *nallowed);
static inline bool test_bit(const uint64_t *bs, size_t i)
{
    return !bs || (bs[i / 64] >> (i % 64)) & 1;
}
/* The exact top-k of q over the allowed rows into t (reset first), by vdb_flat_search (itself
 * tested against doubles). */
void test_truth(const float *base, size_t n, uint32_t dim, vdb_metric m, const float *q,
                const uint64_t *bs, vdb_topk *t);

#endif

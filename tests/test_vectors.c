/* Vector data for the index tests (test_vectors.h). */
#include "test_vectors.h"

#include <stdio.h>
#include <stdlib.h>

float *test_load_fmnist(size_t rows)
{
    FILE *f = popen("zcat " TEST_FMNIST " 2>/dev/null", "r");
    if (!f)
        return NULL;
    unsigned char hdr[16];
    unsigned char *px = malloc(rows * 784);
    float *v = malloc(rows * 784 * sizeof *v);
    bool ok = px && v && fread(hdr, 1, 16, f) == 16 && fread(px, 1, rows * 784, f) == rows * 784;
    pclose(f);
    if (ok)
        for (size_t i = 0; i < rows * 784; i++)
            v[i] = px[i];
    free(px);
    if (!ok) {
        free(v);
        return NULL;
    }
    return v;
}

float *test_clustered(size_t n, uint32_t dim, uint64_t seed)
{
    uint64_t s = seed;
    size_t nc = 32;
    float *c = malloc(nc * dim * sizeof *c), *v = malloc((n ? n : 1) * dim * sizeof *v);
    assert_non_null(c);
    assert_non_null(v);
    for (size_t i = 0; i < nc * dim; i++)
        c[i] = test_randf(&s);
    for (size_t i = 0; i < n; i++) {
        size_t k = test_rand(&s) % nc;
        for (uint32_t j = 0; j < dim; j++)
            v[i * dim + j] = c[k * dim + j] + 0.3f * test_randf(&s);
    }
    free(c);
    return v;
}

uint64_t *test_make_bitset(size_t n, uint32_t keep_one_in, size_t *nallowed)
{
    uint64_t *bs = calloc((n + 63) / 64 + 1, sizeof *bs), s = 99;
    assert_non_null(bs);
    *nallowed = 0;
    for (size_t i = 0; i < n; i++)
        if (test_rand(&s) % keep_one_in == 0) {
            bs[i / 64] |= 1ull << (i % 64);
            ++*nallowed;
        }
    bs[(n + 63) / 64] = ~0ull;
    if (n % 64)
        bs[n / 64] |= ~0ull << (n % 64);
    return bs;
}

void test_truth(const float *base, size_t n, uint32_t dim, vdb_metric m, const float *q,
                const uint64_t *bs, vdb_topk *t)
{
    vdb_topk_reset(t);
    assert_int_equal(vdb_flat_search(base, n, dim, m, q, 1, bs, 0, t), VDB_OK);
}

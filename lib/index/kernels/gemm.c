/* The matrix product behind exact batch search and k-means: OpenBLAS's sgemm where the build
 * has it, else a blocked product on the SIMD kernels for builds without OpenBLAS (meson
 * -Dopenblas). */
#include "index/kernels/kernels.h"

#ifdef VDB_HAVE_OPENBLAS
#include <cblas.h>

void vdb_gemm_nt(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                 size_t ldb, float *c, size_t ldc)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, a,
                (int)lda, b, (int)ldb, 0.0f, c, (int)ldc);
}

#else

/* B rows per block: a block of B stays in a 256 KiB L2 while every row of A passes over it. */
#define B_BLOCK_BYTES (256u << 10)

/* Each entry is the dispatched inner-product kernel (NEON, SVE, AVX2, AVX-512 or portable),
 * so the product runs at the CPU's best SIMD level and gives exactly the scores a query on
 * its own gets. Blocking keeps the B rows in cache across the rows of A. */
void vdb_gemm_nt(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                 size_t ldb, float *c, size_t ldc)
{
    size_t nb = k ? VDB_MAX(B_BLOCK_BYTES / (k * sizeof(float)), (size_t)1) : n;
    for (size_t j0 = 0; j0 < n; j0 += nb) {
        size_t j1 = VDB_MIN(j0 + nb, n);
        for (size_t i = 0; i < m; i++)
            for (size_t j = j0; j < j1; j++)
                c[i * ldc + j] = vdb_dist_ip(a + i * lda, b + j * ldb, k);
    }
}

#endif

/* The matrix product behind exact batch search and k-means: OpenBLAS's sgemm where the build
 * has it, else a portable blocked product for builds without OpenBLAS (meson -Dopenblas). */
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

/* Four floats in a GCC vector: SSE on x86-64, NEON on aarch64, plain scalars elsewhere,
 * without intrinsics. Loads go through memcpy: rows need not be aligned. */
typedef float v4 __attribute__((vector_size(16)));

static inline v4 load4(const float *p)
{
    v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline float hsum4(v4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

/* B rows per block: a block of B stays in a 256 KiB L2 while every row of A passes over it. */
#define B_BLOCK_BYTES (256u << 10)

/* Up to 4 rows of A against up to 2 rows of B: eight sums in flight, six loads for every
 * eight multiply-adds, fourteen vector registers (x86-64 has sixteen). */
static void tile(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                 size_t ldb, float *c, size_t ldc)
{
    v4 acc[4][2] = {{{0}}};
    size_t p = 0;
    for (; p + 4 <= k; p += 4) {
        v4 b0 = load4(b + p), b1 = nr > 1 ? load4(b + ldb + p) : b0;
        for (size_t i = 0; i < 4; i++) {
            if (i < mr) {
                v4 ai = load4(a + i * lda + p);
                acc[i][0] += ai * b0;
                acc[i][1] += ai * b1;
            }
        }
    }
    for (size_t i = 0; i < mr; i++) {
        for (size_t j = 0; j < nr; j++) {
            float s = hsum4(acc[i][j]);
            for (size_t q = p; q < k; q++)
                s += a[i * lda + q] * b[j * ldb + q];
            c[i * ldc + j] = s;
        }
    }
}

void vdb_gemm_nt(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                 size_t ldb, float *c, size_t ldc)
{
    size_t nb = k ? B_BLOCK_BYTES / (k * sizeof(float)) : n;
    nb = VDB_MAX(nb - nb % 2, (size_t)2);
    for (size_t j0 = 0; j0 < n; j0 += nb) {
        size_t jn = VDB_MIN(nb, n - j0);
        for (size_t i = 0; i < m; i += 4) {
            size_t mr = VDB_MIN((size_t)4, m - i);
            for (size_t j = j0; j < j0 + jn; j += 2)
                tile(mr, VDB_MIN((size_t)2, j0 + jn - j), k, a + i * lda, lda, b + j * ldb, ldb,
                     c + i * ldc + j, ldc);
        }
    }
}

#endif

/* Distance kernels for AVX-512F, compiled per function so the library runs on any x86-64. */
#include <immintrin.h>

#include "distance_impl.h"
#include "index/kernels/kernels.h"

/* BW for the byte and word integer kernels; every AVX-512 CPU since Skylake-SP has it. */
#define AVX512 __attribute__((target("avx512f,avx512bw")))

AVX512 static inline __mmask16 mask_for(size_t rem) { return (__mmask16)((1u << rem) - 1); }

AVX512 float vdb_l2sq_avx512(const float *a, const float *b, size_t dim)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 64 <= dim; i += 64) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
        __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
        s2 = _mm512_fmadd_ps(d2, d2, s2);
        s3 = _mm512_fmadd_ps(d3, d3, s3);
    }
    for (; i + 16 <= dim; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    if (i < dim) {
        __mmask16 m = mask_for(dim - i);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(d, d, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

AVX512 float vdb_ip_avx512(const float *a, const float *b, size_t dim)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 64 <= dim; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= dim; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < dim) {
        __mmask16 m = mask_for(dim - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

AVX512 float vdb_norm_sq_avx512(const float *a, size_t dim)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 64 <= dim; i += 64) {
        __m512 v0 = _mm512_loadu_ps(a + i), v1 = _mm512_loadu_ps(a + i + 16);
        __m512 v2 = _mm512_loadu_ps(a + i + 32), v3 = _mm512_loadu_ps(a + i + 48);
        s0 = _mm512_fmadd_ps(v0, v0, s0);
        s1 = _mm512_fmadd_ps(v1, v1, s1);
        s2 = _mm512_fmadd_ps(v2, v2, s2);
        s3 = _mm512_fmadd_ps(v3, v3, s3);
    }
    for (; i + 16 <= dim; i += 16) {
        __m512 v = _mm512_loadu_ps(a + i);
        s0 = _mm512_fmadd_ps(v, v, s0);
    }
    if (i < dim) {
        __m512 v = _mm512_maskz_loadu_ps(mask_for(dim - i), a + i);
        s1 = _mm512_fmadd_ps(v, v, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/* Two lanes of each of the three sums: six chains in flight, both inputs read once. */
AVX512 void vdb_cos_parts_avx512(const float *q, const float *x, size_t dim, float parts[3])
{
    __m512 d0 = _mm512_setzero_ps(), d1 = d0, q0 = d0, q1 = d0, x0 = d0, x1 = d0;
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m512 a0 = _mm512_loadu_ps(q + i), a1 = _mm512_loadu_ps(q + i + 16);
        __m512 b0 = _mm512_loadu_ps(x + i), b1 = _mm512_loadu_ps(x + i + 16);
        d0 = _mm512_fmadd_ps(a0, b0, d0);
        d1 = _mm512_fmadd_ps(a1, b1, d1);
        q0 = _mm512_fmadd_ps(a0, a0, q0);
        q1 = _mm512_fmadd_ps(a1, a1, q1);
        x0 = _mm512_fmadd_ps(b0, b0, x0);
        x1 = _mm512_fmadd_ps(b1, b1, x1);
    }
    for (; i < dim; i += 16) {
        __mmask16 m = mask_for(dim - i < 16 ? dim - i : 16);
        __m512 a = _mm512_maskz_loadu_ps(m, q + i), b = _mm512_maskz_loadu_ps(m, x + i);
        d0 = _mm512_fmadd_ps(a, b, d0);
        q0 = _mm512_fmadd_ps(a, a, q0);
        x0 = _mm512_fmadd_ps(b, b, x0);
    }
    parts[0] = _mm512_reduce_add_ps(_mm512_add_ps(d0, d1));
    parts[1] = _mm512_reduce_add_ps(_mm512_add_ps(q0, q1));
    parts[2] = _mm512_reduce_add_ps(_mm512_add_ps(x0, x1));
}

/* 8-bit codes times int16 weights: widen 32 codes to int16, multiply pairs and add them into
 * int32 lanes with one madd; two accumulators keep two chains in flight. */
AVX512 int32_t vdb_dot_u8i16_avx512(const uint8_t *c, const int16_t *w, size_t n)
{
    __m512i s0 = _mm512_setzero_si512(), s1 = s0;
    for (size_t i = 0; i < n; i += 64) {
        __m512i c0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(c + i)));
        __m512i c1 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(c + i + 32)));
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(c0, _mm512_loadu_si512(w + i)));
        s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(c1, _mm512_loadu_si512(w + i + 32)));
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

/* The same with AVX512-VNNI: vpdpwssd fuses the multiply-add of pairs and the accumulation. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) int32_t
vdb_dot_u8i16_vnni(const uint8_t *c, const int16_t *w, size_t n)
{
    __m512i s0 = _mm512_setzero_si512(), s1 = s0;
    for (size_t i = 0; i < n; i += 64) {
        __m512i c0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(c + i)));
        __m512i c1 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(c + i + 32)));
        s0 = _mm512_dpwssd_epi32(s0, c0, _mm512_loadu_si512(w + i));
        s1 = _mm512_dpwssd_epi32(s1, c1, _mm512_loadu_si512(w + i + 32));
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

/* ---- float queries against FLOAT16, BFLOAT16 and INT8 rows ----
 * Each loader widens 16 stored elements to 16 floats (F16C's vcvtph2ps, a 16-bit shift for
 * bfloat16, sign extension for int8); the arithmetic is float32 FMA as above, so the result
 * differs from the portable kernel's only by the order of the additions. A tail of fewer than
 * 16 elements is widened one by one into a zeroed block. */
AVX512 static inline __m512 ld_f16(const void *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}
AVX512 static inline __m512 ld_bf16(const void *p)
{
    __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}
AVX512 static inline __m512 ld_i8(const void *p)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
}

#define VEC_KERNELS_AVX512(NAME, TYPE, LOAD)                                                  \
    AVX512 static inline __m512 tail_##NAME(const void *x, size_t i, size_t rem)              \
    {                                                                                         \
        float t[16] = {0};                                                                    \
        vdb_vector_to_f32(TYPE, (const uint8_t *)x + i * vdb_vector_elem_size(TYPE), rem, t); \
        return _mm512_loadu_ps(t);                                                            \
    }                                                                                         \
    AVX512 float vdb_l2sq_##NAME##_avx512(const float *q, const void *x, size_t dim)          \
    {                                                                                         \
        const uint8_t *b = x;                                                                 \
        const size_t w = vdb_vector_elem_size(TYPE);                                          \
        __m512 s0 = _mm512_setzero_ps(), s1 = s0;                                             \
        size_t i = 0;                                                                         \
        for (; i + 32 <= dim; i += 32) {                                                      \
            __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(q + i), LOAD(b + i * w));               \
            __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(q + i + 16), LOAD(b + (i + 16) * w));   \
            s0 = _mm512_fmadd_ps(d0, d0, s0);                                                 \
            s1 = _mm512_fmadd_ps(d1, d1, s1);                                                 \
        }                                                                                     \
        for (; i + 16 <= dim; i += 16) {                                                      \
            __m512 d = _mm512_sub_ps(_mm512_loadu_ps(q + i), LOAD(b + i * w));                \
            s0 = _mm512_fmadd_ps(d, d, s0);                                                   \
        }                                                                                     \
        if (i < dim) {                                                                        \
            __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(mask_for(dim - i), q + i),         \
                                     tail_##NAME(x, i, dim - i));                             \
            s1 = _mm512_fmadd_ps(d, d, s1);                                                   \
        }                                                                                     \
        return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));                                   \
    }                                                                                         \
    AVX512 float vdb_ip_##NAME##_avx512(const float *q, const void *x, size_t dim)            \
    {                                                                                         \
        const uint8_t *b = x;                                                                 \
        const size_t w = vdb_vector_elem_size(TYPE);                                          \
        __m512 s0 = _mm512_setzero_ps(), s1 = s0;                                             \
        size_t i = 0;                                                                         \
        for (; i + 32 <= dim; i += 32) {                                                      \
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), LOAD(b + i * w), s0);                \
            s1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), LOAD(b + (i + 16) * w), s1);    \
        }                                                                                     \
        for (; i + 16 <= dim; i += 16)                                                        \
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), LOAD(b + i * w), s0);                \
        if (i < dim)                                                                          \
            s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask_for(dim - i), q + i),             \
                                 tail_##NAME(x, i, dim - i), s1);                             \
        return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));                                   \
    }                                                                                         \
    AVX512 void vdb_cos_parts_##NAME##_avx512(const float *q, const void *x, size_t dim,      \
                                              float parts[3])                                 \
    {                                                                                         \
        const uint8_t *b = x;                                                                 \
        const size_t w = vdb_vector_elem_size(TYPE);                                          \
        __m512 d0 = _mm512_setzero_ps(), q0 = d0, x0 = d0;                                    \
        size_t i = 0;                                                                         \
        for (; i < dim; i += 16) {                                                            \
            __m512 a, v;                                                                      \
            if (i + 16 <= dim) {                                                              \
                a = _mm512_loadu_ps(q + i);                                                   \
                v = LOAD(b + i * w);                                                          \
            } else {                                                                          \
                a = _mm512_maskz_loadu_ps(mask_for(dim - i), q + i);                          \
                v = tail_##NAME(x, i, dim - i);                                               \
            }                                                                                 \
            d0 = _mm512_fmadd_ps(a, v, d0);                                                   \
            q0 = _mm512_fmadd_ps(a, a, q0);                                                   \
            x0 = _mm512_fmadd_ps(v, v, x0);                                                   \
        }                                                                                     \
        parts[0] = _mm512_reduce_add_ps(d0);                                                  \
        parts[1] = _mm512_reduce_add_ps(q0);                                                  \
        parts[2] = _mm512_reduce_add_ps(x0);                                                  \
    }

VEC_KERNELS_AVX512(f16, VDB_TYPE_FLOAT16_VECTOR, ld_f16)
VEC_KERNELS_AVX512(bf16, VDB_TYPE_BFLOAT16_VECTOR, ld_bf16)
VEC_KERNELS_AVX512(i8, VDB_TYPE_INT8_VECTOR, ld_i8)

/* ---- BINARY_VECTOR rows: popcounts of a XOR b (HAMMING), a AND b and a OR b (JACCARD) ----
 * VPOPCNTQ over 64 bytes at a time, the last 0..63 bytes through a masked load (zeros count
 * nothing). Only chosen on CPUs with AVX512_VPOPCNTDQ (distance.c). */
#define AVX512P __attribute__((target("avx512f,avx512bw,avx512vpopcntdq")))

AVX512P static inline __mmask64 bytes_mask(size_t rem)
{
    return rem >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << rem) - 1);
}

AVX512P uint32_t vdb_hamming_avx512(const uint8_t *a, const uint8_t *b, size_t nbytes)
{
    __m512i s0 = _mm512_setzero_si512(), s1 = s0;
    size_t i = 0;
    for (; i + 128 <= nbytes; i += 128) {
        __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
        __m512i x1 = _mm512_xor_si512(_mm512_loadu_si512(a + i + 64),
                                      _mm512_loadu_si512(b + i + 64));
        s0 = _mm512_add_epi64(s0, _mm512_popcnt_epi64(x0));
        s1 = _mm512_add_epi64(s1, _mm512_popcnt_epi64(x1));
    }
    for (; i < nbytes; i += 64) {
        __mmask64 m = bytes_mask(nbytes - i);
        __m512i x = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + i),
                                     _mm512_maskz_loadu_epi8(m, b + i));
        s0 = _mm512_add_epi64(s0, _mm512_popcnt_epi64(x));
    }
    return (uint32_t)_mm512_reduce_add_epi64(_mm512_add_epi64(s0, s1));
}

AVX512P void vdb_and_or_avx512(const uint8_t *a, const uint8_t *b, size_t nbytes,
                               uint32_t out[2])
{
    __m512i sa = _mm512_setzero_si512(), so = sa;
    for (size_t i = 0; i < nbytes; i += 64) {
        __mmask64 m = bytes_mask(nbytes - i);
        __m512i x = _mm512_maskz_loadu_epi8(m, a + i), y = _mm512_maskz_loadu_epi8(m, b + i);
        sa = _mm512_add_epi64(sa, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
        so = _mm512_add_epi64(so, _mm512_popcnt_epi64(_mm512_or_si512(x, y)));
    }
    out[0] = (uint32_t)_mm512_reduce_add_epi64(sa);
    out[1] = (uint32_t)_mm512_reduce_add_epi64(so);
}

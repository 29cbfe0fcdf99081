/* Distance kernels for AVX2 + FMA, compiled per function so the library runs on any x86-64. */
#include <immintrin.h>

#include "distance_impl.h"
#include "index/kernels/kernels.h"

#define AVX2 __attribute__((target("avx2,fma")))

/* Loading 8 - rem lanes into the window gives a mask with the first rem lanes on. */
static const int32_t tail_mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

AVX2 static inline __m256i mask_for(size_t rem)
{
    return _mm256_loadu_si256((const __m256i *)(tail_mask + 8 - rem));
}

AVX2 static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 float vdb_l2sq_avx2(const float *a, const float *b, size_t dim)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
        __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
        s2 = _mm256_fmadd_ps(d2, d2, s2);
        s3 = _mm256_fmadd_ps(d3, d3, s3);
    }
    for (; i + 8 <= dim; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(d, d, s0);
    }
    if (i < dim) {
        __m256i m = mask_for(dim - i);
        __m256 d = _mm256_sub_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));
        s1 = _mm256_fmadd_ps(d, d, s1);
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

AVX2 float vdb_ip_avx2(const float *a, const float *b, size_t dim)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= dim; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    if (i < dim) {
        __m256i m = mask_for(dim - i);
        s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

AVX2 float vdb_norm_sq_avx2(const float *a, size_t dim)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m256 v0 = _mm256_loadu_ps(a + i), v1 = _mm256_loadu_ps(a + i + 8);
        __m256 v2 = _mm256_loadu_ps(a + i + 16), v3 = _mm256_loadu_ps(a + i + 24);
        s0 = _mm256_fmadd_ps(v0, v0, s0);
        s1 = _mm256_fmadd_ps(v1, v1, s1);
        s2 = _mm256_fmadd_ps(v2, v2, s2);
        s3 = _mm256_fmadd_ps(v3, v3, s3);
    }
    for (; i + 8 <= dim; i += 8) {
        __m256 v = _mm256_loadu_ps(a + i);
        s0 = _mm256_fmadd_ps(v, v, s0);
    }
    if (i < dim) {
        __m256 v = _mm256_maskload_ps(a + i, mask_for(dim - i));
        s1 = _mm256_fmadd_ps(v, v, s1);
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/* Two lanes of each of the three sums: six chains in flight, both inputs read once. */
AVX2 void vdb_cos_parts_avx2(const float *q, const float *x, size_t dim, float parts[3])
{
    __m256 d0 = _mm256_setzero_ps(), d1 = d0, q0 = d0, q1 = d0, x0 = d0, x1 = d0;
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        __m256 a0 = _mm256_loadu_ps(q + i), a1 = _mm256_loadu_ps(q + i + 8);
        __m256 b0 = _mm256_loadu_ps(x + i), b1 = _mm256_loadu_ps(x + i + 8);
        d0 = _mm256_fmadd_ps(a0, b0, d0);
        d1 = _mm256_fmadd_ps(a1, b1, d1);
        q0 = _mm256_fmadd_ps(a0, a0, q0);
        q1 = _mm256_fmadd_ps(a1, a1, q1);
        x0 = _mm256_fmadd_ps(b0, b0, x0);
        x1 = _mm256_fmadd_ps(b1, b1, x1);
    }
    for (; i < dim; i += 8) {
        size_t rem = dim - i < 8 ? dim - i : 8;
        __m256i m = mask_for(rem);
        __m256 a = _mm256_maskload_ps(q + i, m), b = _mm256_maskload_ps(x + i, m);
        d0 = _mm256_fmadd_ps(a, b, d0);
        q0 = _mm256_fmadd_ps(a, a, q0);
        x0 = _mm256_fmadd_ps(b, b, x0);
    }
    parts[0] = hsum(_mm256_add_ps(d0, d1));
    parts[1] = hsum(_mm256_add_ps(q0, q1));
    parts[2] = hsum(_mm256_add_ps(x0, x1));
}

/* 8-bit codes times int16 weights, 16 dimensions per madd. */
AVX2 int32_t vdb_dot_u8i16_avx2(const uint8_t *c, const int16_t *w, size_t n)
{
    __m256i s0 = _mm256_setzero_si256(), s1 = s0;
    for (size_t i = 0; i < n; i += 32) {
        __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + i)));
        __m256i c1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + i + 16)));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(c0, _mm256_loadu_si256((const __m256i *)(w + i))));
        s1 = _mm256_add_epi32(s1,
                              _mm256_madd_epi16(c1, _mm256_loadu_si256((const __m256i *)(w + i + 16))));
    }
    __m256i s = _mm256_add_epi32(s0, s1);
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return _mm_cvtsi128_si32(h);
}

/* Not AVX2 itself, but every AVX2 CPU has POPCNT: the avx2 and avx512 levels count bits
 * with it (without -mpopcnt the builtin is a library call per word). */
__attribute__((target("popcnt"))) size_t vdb_popcount_popcnt(const uint64_t *w, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += (size_t)__builtin_popcountll(w[i]);
    return c;
}

/* ---- float queries against FLOAT16, BFLOAT16 and INT8 rows ----
 * As the AVX-512 set (distance_avx512.c), 8 elements at a time: F16C widens half floats,
 * bfloat16 is a 16-bit shift, int8 a sign extension; a short tail goes through a zeroed
 * block. */
#define AVX2H __attribute__((target("avx2,fma,f16c")))

AVX2H static inline __m256 ld_f16(const void *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}
AVX2H static inline __m256 ld_bf16(const void *p)
{
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}
AVX2H static inline __m256 ld_i8(const void *p)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

#define VEC_KERNELS_AVX2(NAME, TYPE, LOAD)                                                    \
    AVX2H static inline void tail_##NAME(const float *q, const void *x, size_t i, size_t rem, \
                                         __m256 *a, __m256 *v)                                \
    {                                                                                         \
        float t[8] = {0}, u[8] = {0};                                                         \
        vdb_vector_to_f32(TYPE, (const uint8_t *)x + i * vdb_vector_elem_size(TYPE), rem, t); \
        memcpy(u, q + i, rem * sizeof *u);                                                    \
        *a = _mm256_loadu_ps(u);                                                              \
        *v = _mm256_loadu_ps(t);                                                              \
    }                                                                                         \
    AVX2H float vdb_l2sq_##NAME##_avx2(const float *q, const void *x, size_t dim)             \
    {                                                                                         \
        const uint8_t *b = x;                                                                 \
        const size_t w = vdb_vector_elem_size(TYPE);                                          \
        __m256 s0 = _mm256_setzero_ps(), s1 = s0;                                             \
        size_t i = 0;                                                                         \
        for (; i + 16 <= dim; i += 16) {                                                      \
            __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(q + i), LOAD(b + i * w));               \
            __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(q + i + 8), LOAD(b + (i + 8) * w));     \
            s0 = _mm256_fmadd_ps(d0, d0, s0);                                                 \
            s1 = _mm256_fmadd_ps(d1, d1, s1);                                                 \
        }                                                                                     \
        for (; i + 8 <= dim; i += 8) {                                                        \
            __m256 d = _mm256_sub_ps(_mm256_loadu_ps(q + i), LOAD(b + i * w));                \
            s0 = _mm256_fmadd_ps(d, d, s0);                                                   \
        }                                                                                     \
        if (i < dim) {                                                                        \
            __m256 a, v;                                                                      \
            tail_##NAME(q, x, i, dim - i, &a, &v);                                            \
            __m256 d = _mm256_sub_ps(a, v);                                                   \
            s1 = _mm256_fmadd_ps(d, d, s1);                                                   \
        }                                                                                     \
        return hsum(_mm256_add_ps(s0, s1));                                                   \
    }                                                                                         \
    AVX2H float vdb_ip_##NAME##_avx2(const float *q, const void *x, size_t dim)               \
    {                                                                                         \
        const uint8_t *b = x;                                                                 \
        const size_t w = vdb_vector_elem_size(TYPE);                                          \
        __m256 s0 = _mm256_setzero_ps(), s1 = s0;                                             \
        size_t i = 0;                                                                         \
        for (; i + 16 <= dim; i += 16) {                                                      \
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), LOAD(b + i * w), s0);                \
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), LOAD(b + (i + 8) * w), s1);      \
        }                                                                                     \
        for (; i + 8 <= dim; i += 8)                                                          \
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), LOAD(b + i * w), s0);                \
        if (i < dim) {                                                                        \
            __m256 a, v;                                                                      \
            tail_##NAME(q, x, i, dim - i, &a, &v);                                            \
            s1 = _mm256_fmadd_ps(a, v, s1);                                                   \
        }                                                                                     \
        return hsum(_mm256_add_ps(s0, s1));                                                   \
    }                                                                                         \
    AVX2H void vdb_cos_parts_##NAME##_avx2(const float *q, const void *x, size_t dim,         \
                                           float parts[3])                                    \
    {                                                                                         \
        const uint8_t *b = x;                                                                 \
        const size_t w = vdb_vector_elem_size(TYPE);                                          \
        __m256 d0 = _mm256_setzero_ps(), q0 = d0, x0 = d0;                                    \
        for (size_t i = 0; i < dim; i += 8) {                                                 \
            __m256 a, v;                                                                      \
            if (i + 8 <= dim) {                                                               \
                a = _mm256_loadu_ps(q + i);                                                   \
                v = LOAD(b + i * w);                                                          \
            } else {                                                                          \
                tail_##NAME(q, x, i, dim - i, &a, &v);                                        \
            }                                                                                 \
            d0 = _mm256_fmadd_ps(a, v, d0);                                                   \
            q0 = _mm256_fmadd_ps(a, a, q0);                                                   \
            x0 = _mm256_fmadd_ps(v, v, x0);                                                   \
        }                                                                                     \
        parts[0] = hsum(d0);                                                                  \
        parts[1] = hsum(q0);                                                                  \
        parts[2] = hsum(x0);                                                                  \
    }

VEC_KERNELS_AVX2(f16, VDB_TYPE_FLOAT16_VECTOR, ld_f16)
VEC_KERNELS_AVX2(bf16, VDB_TYPE_BFLOAT16_VECTOR, ld_bf16)
VEC_KERNELS_AVX2(i8, VDB_TYPE_INT8_VECTOR, ld_i8)

/* ---- BINARY_VECTOR rows: popcounts of a XOR b (HAMMING), a AND b and a OR b (JACCARD) ----
 * 32 bytes at a time, each byte's count from two 4-bit lookups (VPSHUFB), summed into four
 * 64-bit lanes by VPSADBW; the last 0..31 bytes by POPCNT on words, then bytes. */
#define AVX2B __attribute__((target("avx2,popcnt")))

AVX2B static inline __m256i bytes_popcnt(__m256i v)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i lo = _mm256_and_si256(v, low);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

AVX2B static inline uint64_t lanes_sum(__m256i s)
{
    __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return (uint64_t)_mm_cvtsi128_si64(t) + (uint64_t)_mm_extract_epi64(t, 1);
}

/* The popcount of op(a, b) over the bytes i.. of a tail shorter than 32 bytes. */
#define TAIL_POPCNT(OP, a, b, i, nbytes, c)                                                   \
    do {                                                                                      \
        for (; (i) + 8 <= (nbytes); (i) += 8) {                                               \
            uint64_t x, y;                                                                    \
            memcpy(&x, (a) + (i), 8);                                                         \
            memcpy(&y, (b) + (i), 8);                                                         \
            (c) += (uint64_t)__builtin_popcountll(x OP y);                                    \
        }                                                                                     \
        for (; (i) < (nbytes); (i)++)                                                         \
            (c) += (uint64_t)__builtin_popcount((unsigned)((a)[i] OP (b)[i]));                \
    } while (0)

AVX2B uint32_t vdb_hamming_avx2(const uint8_t *a, const uint8_t *b, size_t nbytes)
{
    const __m256i zero = _mm256_setzero_si256();
    __m256i s = zero;
    size_t i = 0;
    for (; i + 64 <= nbytes; i += 64) {
        __m256i x0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a + i)),
                                      _mm256_loadu_si256((const __m256i *)(b + i)));
        __m256i x1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a + i + 32)),
                                      _mm256_loadu_si256((const __m256i *)(b + i + 32)));
        /* two bytes of at most 8 each: no byte overflows before the SAD */
        __m256i c = _mm256_add_epi8(bytes_popcnt(x0), bytes_popcnt(x1));
        s = _mm256_add_epi64(s, _mm256_sad_epu8(c, zero));
    }
    for (; i + 32 <= nbytes; i += 32) {
        __m256i x = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a + i)),
                                     _mm256_loadu_si256((const __m256i *)(b + i)));
        s = _mm256_add_epi64(s, _mm256_sad_epu8(bytes_popcnt(x), zero));
    }
    uint64_t c = lanes_sum(s);
    TAIL_POPCNT(^, a, b, i, nbytes, c);
    return (uint32_t)c;
}

AVX2B void vdb_and_or_avx2(const uint8_t *a, const uint8_t *b, size_t nbytes, uint32_t out[2])
{
    const __m256i zero = _mm256_setzero_si256();
    __m256i sa = zero, so = zero;
    size_t i = 0;
    for (; i + 32 <= nbytes; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(b + i));
        sa = _mm256_add_epi64(sa, _mm256_sad_epu8(bytes_popcnt(_mm256_and_si256(x, y)), zero));
        so = _mm256_add_epi64(so, _mm256_sad_epu8(bytes_popcnt(_mm256_or_si256(x, y)), zero));
    }
    uint64_t ca = lanes_sum(sa), co = lanes_sum(so);
    size_t j = i;
    TAIL_POPCNT(&, a, b, i, nbytes, ca);
    TAIL_POPCNT(|, a, b, j, nbytes, co);
    out[0] = (uint32_t)ca;
    out[1] = (uint32_t)co;
}

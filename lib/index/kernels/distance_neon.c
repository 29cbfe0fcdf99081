/* Distance, code and popcount kernels for AArch64 Advanced SIMD (NEON). NEON is part of every
 * AArch64 Linux target, so no target attribute is needed; distance.c still checks HWCAP_ASIMD
 * before choosing them, as it checks the x86 features. */
#include <arm_neon.h>

#include "distance_impl.h"
#include "index/kernels/kernels.h"

/* Four accumulators of four lanes: sixteen floats per step keep the FMA pipes busy. */
float vdb_l2sq_neon(const float *a, const float *b, size_t dim)
{
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        float32x4_t d0 = vsubq_f32(vld1q_f32(a + i), vld1q_f32(b + i));
        float32x4_t d1 = vsubq_f32(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        float32x4_t d2 = vsubq_f32(vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        float32x4_t d3 = vsubq_f32(vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
        s0 = vfmaq_f32(s0, d0, d0);
        s1 = vfmaq_f32(s1, d1, d1);
        s2 = vfmaq_f32(s2, d2, d2);
        s3 = vfmaq_f32(s3, d3, d3);
    }
    for (; i + 4 <= dim; i += 4) {
        float32x4_t d = vsubq_f32(vld1q_f32(a + i), vld1q_f32(b + i));
        s0 = vfmaq_f32(s0, d, d);
    }
    /* No masked loads: the last 0..3 dimensions one by one. */
    float t = 0;
    for (; i < dim; i++)
        t += (a[i] - b[i]) * (a[i] - b[i]);
    return vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3))) + t;
}

float vdb_ip_neon(const float *a, const float *b, size_t dim)
{
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= dim; i += 4)
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    float t = 0;
    for (; i < dim; i++)
        t += a[i] * b[i];
    return vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3))) + t;
}

float vdb_norm_sq_neon(const float *a, size_t dim)
{
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        float32x4_t v0 = vld1q_f32(a + i), v1 = vld1q_f32(a + i + 4);
        float32x4_t v2 = vld1q_f32(a + i + 8), v3 = vld1q_f32(a + i + 12);
        s0 = vfmaq_f32(s0, v0, v0);
        s1 = vfmaq_f32(s1, v1, v1);
        s2 = vfmaq_f32(s2, v2, v2);
        s3 = vfmaq_f32(s3, v3, v3);
    }
    for (; i + 4 <= dim; i += 4) {
        float32x4_t v = vld1q_f32(a + i);
        s0 = vfmaq_f32(s0, v, v);
    }
    float t = 0;
    for (; i < dim; i++)
        t += a[i] * a[i];
    return vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3))) + t;
}

/* Two lanes of each of the three sums: six chains in flight, both inputs read once. */
void vdb_cos_parts_neon(const float *q, const float *x, size_t dim, float parts[3])
{
    float32x4_t d0 = vdupq_n_f32(0), d1 = d0, q0 = d0, q1 = d0, x0 = d0, x1 = d0;
    size_t i = 0;
    for (; i + 8 <= dim; i += 8) {
        float32x4_t a0 = vld1q_f32(q + i), a1 = vld1q_f32(q + i + 4);
        float32x4_t b0 = vld1q_f32(x + i), b1 = vld1q_f32(x + i + 4);
        d0 = vfmaq_f32(d0, a0, b0);
        d1 = vfmaq_f32(d1, a1, b1);
        q0 = vfmaq_f32(q0, a0, a0);
        q1 = vfmaq_f32(q1, a1, a1);
        x0 = vfmaq_f32(x0, b0, b0);
        x1 = vfmaq_f32(x1, b1, b1);
    }
    if (i + 4 <= dim) {
        float32x4_t a = vld1q_f32(q + i), b = vld1q_f32(x + i);
        d0 = vfmaq_f32(d0, a, b);
        q0 = vfmaq_f32(q0, a, a);
        x0 = vfmaq_f32(x0, b, b);
        i += 4;
    }
    float td = 0, tq = 0, tx = 0;
    for (; i < dim; i++) {
        td += q[i] * x[i];
        tq += q[i] * q[i];
        tx += x[i] * x[i];
    }
    parts[0] = vaddvq_f32(vaddq_f32(d0, d1)) + td;
    parts[1] = vaddvq_f32(vaddq_f32(q0, q1)) + tq;
    parts[2] = vaddvq_f32(vaddq_f32(x0, x1)) + tx;
}

/* 8-bit codes times int16 weights: widen 16 codes to int16 (0..255 fits), then widening
 * multiply-accumulates into four int32 accumulators. Exact: the caller bounds the weights so
 * that every partial sum fits int32 (sq8.h). */
int32_t vdb_dot_u8i16_neon(const uint8_t *c, const int16_t *w, size_t n)
{
    int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n; i += 16) {
        uint8x16_t cc = vld1q_u8(c + i);
        int16x8_t lo = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(cc)));
        int16x8_t hi = vreinterpretq_s16_u16(vmovl_high_u8(cc));
        int16x8_t w0 = vld1q_s16(w + i), w1 = vld1q_s16(w + i + 8);
        s0 = vmlal_s16(s0, vget_low_s16(lo), vget_low_s16(w0));
        s1 = vmlal_high_s16(s1, lo, w0);
        s2 = vmlal_s16(s2, vget_low_s16(hi), vget_low_s16(w1));
        s3 = vmlal_high_s16(s3, hi, w1);
    }
    return vaddvq_s32(vaddq_s32(vaddq_s32(s0, s1), vaddq_s32(s2, s3)));
}

/* Bits set in n words: per-byte counts (CNT) of 64 bytes at a time summed as bytes (at most
 * 32 each), then widened pairwise into two 64-bit lanes. */
size_t vdb_popcount_neon(const uint64_t *w, size_t n)
{
    uint64x2_t acc = vdupq_n_u64(0);
    const uint8_t *p = (const uint8_t *)w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint8x16_t c0 = vcntq_u8(vld1q_u8(p + 8 * i)), c1 = vcntq_u8(vld1q_u8(p + 8 * i + 16));
        uint8x16_t c2 = vcntq_u8(vld1q_u8(p + 8 * i + 32)), c3 = vcntq_u8(vld1q_u8(p + 8 * i + 48));
        uint8x16_t s = vaddq_u8(vaddq_u8(c0, c1), vaddq_u8(c2, c3));
        acc = vpadalq_u32(acc, vpaddlq_u16(vpaddlq_u8(s)));
    }
    size_t c = (size_t)vaddvq_u64(acc);
    for (; i < n; i++)
        c += (size_t)vaddv_u8(vcnt_u8(vcreate_u8(w[i])));
    return c;
}

/* Float queries against FLOAT16 / BFLOAT16 / INT8 rows, 4 elements at a time: a half float is
 * widened by FCVTL (part of every AArch64), bfloat16 by a 16-bit shift, int8 by two sign
 * extensions; the last 0..3 elements go through a zeroed block, as on x86. */
static inline float32x4_t ld_f16(const uint8_t *p)
{
    uint16_t h[4];
    memcpy(h, p, sizeof h);
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}
static inline float32x4_t ld_bf16(const uint8_t *p)
{
    uint16_t h[4];
    memcpy(h, p, sizeof h);
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(h), 16));
}
static inline float32x4_t ld_i8(const uint8_t *p)
{
    int8_t b[8] = {0};
    memcpy(b, p, 4);
    return vcvtq_f32_s32(vmovl_s16(vget_low_s16(vmovl_s8(vld1_s8(b)))));
}

#define VEC_KERNELS_NEON(NAME, TYPE, LOAD)                                                    \
    static inline void tail_##NAME(const float *q, const void *x, size_t i, size_t rem,       \
                                   float32x4_t *a, float32x4_t *v)                            \
    {                                                                                         \
        float t[4] = {0}, u[4] = {0};                                                         \
        vdb_vector_to_f32(TYPE, (const uint8_t *)x + i * vdb_vector_elem_size(TYPE), rem, t); \
        memcpy(u, q + i, rem * sizeof *u);                                                    \
        *a = vld1q_f32(u);                                                                    \
        *v = vld1q_f32(t);                                                                    \
    }                                                                                         \
    float vdb_l2sq_##NAME##_neon(const float *q, const void *x, size_t dim)                   \
    {                                                                                         \
        const uint8_t *b = x;                                                                 \
        const size_t w = vdb_vector_elem_size(TYPE);                                          \
        float32x4_t s0 = vdupq_n_f32(0), s1 = s0;                                             \
        size_t i = 0;                                                                         \
        for (; i + 8 <= dim; i += 8) {                                                        \
            float32x4_t d0 = vsubq_f32(vld1q_f32(q + i), LOAD(b + i * w));                    \
            float32x4_t d1 = vsubq_f32(vld1q_f32(q + i + 4), LOAD(b + (i + 4) * w));          \
            s0 = vfmaq_f32(s0, d0, d0);                                                       \
            s1 = vfmaq_f32(s1, d1, d1);                                                       \
        }                                                                                     \
        for (; i + 4 <= dim; i += 4) {                                                        \
            float32x4_t d = vsubq_f32(vld1q_f32(q + i), LOAD(b + i * w));                     \
            s0 = vfmaq_f32(s0, d, d);                                                         \
        }                                                                                     \
        if (i < dim) {                                                                        \
            float32x4_t a, v;                                                                 \
            tail_##NAME(q, x, i, dim - i, &a, &v);                                            \
            float32x4_t d = vsubq_f32(a, v);                                                  \
            s1 = vfmaq_f32(s1, d, d);                                                         \
        }                                                                                     \
        return vaddvq_f32(vaddq_f32(s0, s1));                                                 \
    }                                                                                         \
    float vdb_ip_##NAME##_neon(const float *q, const void *x, size_t dim)                     \
    {                                                                                         \
        const uint8_t *b = x;                                                                 \
        const size_t w = vdb_vector_elem_size(TYPE);                                          \
        float32x4_t s0 = vdupq_n_f32(0), s1 = s0;                                             \
        size_t i = 0;                                                                         \
        for (; i + 8 <= dim; i += 8) {                                                        \
            s0 = vfmaq_f32(s0, vld1q_f32(q + i), LOAD(b + i * w));                            \
            s1 = vfmaq_f32(s1, vld1q_f32(q + i + 4), LOAD(b + (i + 4) * w));                  \
        }                                                                                     \
        for (; i + 4 <= dim; i += 4)                                                          \
            s0 = vfmaq_f32(s0, vld1q_f32(q + i), LOAD(b + i * w));                            \
        if (i < dim) {                                                                        \
            float32x4_t a, v;                                                                 \
            tail_##NAME(q, x, i, dim - i, &a, &v);                                            \
            s1 = vfmaq_f32(s1, a, v);                                                         \
        }                                                                                     \
        return vaddvq_f32(vaddq_f32(s0, s1));                                                 \
    }                                                                                         \
    void vdb_cos_parts_##NAME##_neon(const float *q, const void *x, size_t dim,               \
                                     float parts[3])                                          \
    {                                                                                         \
        const uint8_t *b = x;                                                                 \
        const size_t w = vdb_vector_elem_size(TYPE);                                          \
        float32x4_t d0 = vdupq_n_f32(0), q0 = d0, x0 = d0;                                    \
        for (size_t i = 0; i < dim; i += 4) {                                                 \
            float32x4_t a, v;                                                                 \
            if (i + 4 <= dim) {                                                               \
                a = vld1q_f32(q + i);                                                         \
                v = LOAD(b + i * w);                                                          \
            } else {                                                                          \
                tail_##NAME(q, x, i, dim - i, &a, &v);                                        \
            }                                                                                 \
            d0 = vfmaq_f32(d0, a, v);                                                         \
            q0 = vfmaq_f32(q0, a, a);                                                         \
            x0 = vfmaq_f32(x0, v, v);                                                         \
        }                                                                                     \
        parts[0] = vaddvq_f32(d0);                                                            \
        parts[1] = vaddvq_f32(q0);                                                            \
        parts[2] = vaddvq_f32(x0);                                                            \
    }

VEC_KERNELS_NEON(f16, VDB_TYPE_FLOAT16_VECTOR, ld_f16)
VEC_KERNELS_NEON(bf16, VDB_TYPE_BFLOAT16_VECTOR, ld_bf16)
VEC_KERNELS_NEON(i8, VDB_TYPE_INT8_VECTOR, ld_i8)

/* ---- BINARY_VECTOR rows: popcounts of a XOR b (HAMMING), a AND b and a OR b (JACCARD) ----
 * Per-byte counts (CNT) of 16 bytes at a time, widened pairwise into 32-bit lanes; the last
 * 0..15 bytes one by one. */
uint32_t vdb_hamming_neon(const uint8_t *a, const uint8_t *b, size_t nbytes)
{
    uint32x4_t acc = vdupq_n_u32(0);
    size_t i = 0;
    for (; i + 32 <= nbytes; i += 32) {
        uint8x16_t c0 = vcntq_u8(veorq_u8(vld1q_u8(a + i), vld1q_u8(b + i)));
        uint8x16_t c1 = vcntq_u8(veorq_u8(vld1q_u8(a + i + 16), vld1q_u8(b + i + 16)));
        acc = vpadalq_u16(acc, vpaddlq_u8(vaddq_u8(c0, c1)));
    }
    for (; i + 16 <= nbytes; i += 16)
        acc = vpadalq_u16(acc, vpaddlq_u8(vcntq_u8(veorq_u8(vld1q_u8(a + i), vld1q_u8(b + i)))));
    uint32_t c = vaddvq_u32(acc);
    for (; i < nbytes; i++)
        c += (uint32_t)__builtin_popcount((unsigned)(a[i] ^ b[i]));
    return c;
}

void vdb_and_or_neon(const uint8_t *a, const uint8_t *b, size_t nbytes, uint32_t out[2])
{
    uint32x4_t sa = vdupq_n_u32(0), so = sa;
    size_t i = 0;
    for (; i + 16 <= nbytes; i += 16) {
        uint8x16_t x = vld1q_u8(a + i), y = vld1q_u8(b + i);
        sa = vpadalq_u16(sa, vpaddlq_u8(vcntq_u8(vandq_u8(x, y))));
        so = vpadalq_u16(so, vpaddlq_u8(vcntq_u8(vorrq_u8(x, y))));
    }
    uint32_t ca = vaddvq_u32(sa), co = vaddvq_u32(so);
    for (; i < nbytes; i++) {
        ca += (uint32_t)__builtin_popcount((unsigned)(a[i] & b[i]));
        co += (uint32_t)__builtin_popcount((unsigned)(a[i] | b[i]));
    }
    out[0] = ca;
    out[1] = co;
}

/* Dense vector element types: which vdb_types they are, their element sizes, and the
 * conversions between float32 and the stored half-precision forms (IEEE binary16 and
 * bfloat16), in portable C. Every layer uses these; the SIMD kernels live in lib/index. */
#ifndef VDB_VTYPE_H
#define VDB_VTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vdb/types.h"

/* FLOAT, FLOAT16, BFLOAT16, INT8 and BINARY vectors: a fixed width per row (vdb_vector_bytes)
 * set by the field's dim. */
static inline bool vdb_type_is_vector(vdb_type t)
{
    return t == VDB_TYPE_FLOAT_VECTOR || t == VDB_TYPE_FLOAT16_VECTOR ||
           t == VDB_TYPE_BFLOAT16_VECTOR || t == VDB_TYPE_INT8_VECTOR ||
           t == VDB_TYPE_BINARY_VECTOR;
}

/* ... of them, the ones whose queries are floats (BINARY_VECTOR's are bytes). */
static inline bool vdb_type_is_float_query(vdb_type t)
{
    return vdb_type_is_vector(t) && t != VDB_TYPE_BINARY_VECTOR;
}

/* The metrics of BINARY_VECTOR fields. */
static inline bool vdb_metric_is_binary(vdb_metric m)
{
    return m == VDB_METRIC_HAMMING || m == VDB_METRIC_JACCARD;
}

/* ... or SPARSE_FLOAT_VECTOR (index -> value maps, var-length): every field a search, an
 * index and a metric can be on. */
static inline bool vdb_type_is_any_vector(vdb_type t)
{
    return vdb_type_is_vector(t) || t == VDB_TYPE_SPARSE_FLOAT_VECTOR;
}

/* Bytes of one element (0 for a type that is not a dense vector, and for BINARY_VECTOR,
 * whose elements are bits: see vdb_vector_bytes). */
static inline size_t vdb_vector_elem_size(vdb_type t)
{
    switch (t) {
    case VDB_TYPE_FLOAT_VECTOR: return 4;
    case VDB_TYPE_FLOAT16_VECTOR:
    case VDB_TYPE_BFLOAT16_VECTOR: return 2;
    case VDB_TYPE_INT8_VECTOR: return 1;
    default: return 0;
    }
}

/* Bytes of one row of dim elements of dense vector type t (BINARY_VECTOR: dim bits, rounded
 * up to whole bytes; its fields' dims are multiples of 8). 0 for other types. */
static inline size_t vdb_vector_bytes(vdb_type t, size_t dim)
{
    if (t == VDB_TYPE_BINARY_VECTOR)
        return (dim + 7) / 8;
    return dim * vdb_vector_elem_size(t);
}

static inline float vdb_f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t vdb_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* IEEE binary16 to float32, exact for every value (subnormals, Inf and NaN included). */
static inline float vdb_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f)
        return vdb_f32_from_bits(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24 */
        float f = (float)man * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    return vdb_f32_from_bits(sign | ((exp + 112u) << 23) | (man << 13));
}

/* float32 to IEEE binary16, rounding to nearest even; beyond the range gives +-Inf, NaN a
 * quiet NaN. */
static inline uint16_t vdb_f32_to_f16(float f)
{
    uint32_t u = vdb_f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) /* Inf or NaN */
        return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0));
    if (a >= 0x477ff000u) /* rounds to >= 65520: Inf */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) {
        /* below the smallest normal half (2^-14): a subnormal, man = round(|f| * 2^24) */
        float m = vdb_f32_from_bits(a) * 16777216.0f;
        /* rint in the default rounding mode is round-half-even */
        uint32_t r = (uint32_t)__builtin_rintf(m);
        return (uint16_t)(sign | r);
    }
    uint32_t r = a - 0x38000000u; /* rebias the exponent: 127 - 15 = 112 << 23 */
    r += 0xfffu + ((r >> 13) & 1u); /* round to nearest even on the 13 dropped bits */
    return (uint16_t)(sign | (r >> 13));
}

static inline float vdb_bf16_to_f32(uint16_t h) { return vdb_f32_from_bits((uint32_t)h << 16); }

/* float32 to bfloat16, rounding to nearest even; NaN stays a quiet NaN. */
static inline uint16_t vdb_f32_to_bf16(float f)
{
    uint32_t u = vdb_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* Whether a stored element is a finite number (INT8 always is). */
static inline bool vdb_f16_finite(uint16_t h) { return (h & 0x7c00u) != 0x7c00u; }
static inline bool vdb_bf16_finite(uint16_t h) { return (h & 0x7f80u) != 0x7f80u; }

/* The first element of row x (dim elements of type t) that is NaN or Inf, or dim when every
 * one is finite. */
static inline size_t vdb_vector_nonfinite(vdb_type t, const void *x, size_t dim)
{
    const uint8_t *p = (const uint8_t *)x;
    for (size_t i = 0; i < dim; i++) {
        uint16_t h;
        uint32_t u;
        switch (t) {
        case VDB_TYPE_FLOAT16_VECTOR:
            memcpy(&h, p + 2 * i, 2);
            if (!vdb_f16_finite(h))
                return i;
            break;
        case VDB_TYPE_BFLOAT16_VECTOR:
            memcpy(&h, p + 2 * i, 2);
            if (!vdb_bf16_finite(h))
                return i;
            break;
        case VDB_TYPE_FLOAT_VECTOR:
            memcpy(&u, p + 4 * i, 4);
            if ((u & 0x7f800000u) == 0x7f800000u)
                return i;
            break;
        default:
            return dim;
        }
    }
    return dim;
}

/* Row x (dim elements of type t) as floats into out. */
static inline void vdb_vector_to_f32(vdb_type t, const void *x, size_t dim, float *out)
{
    const uint8_t *p = (const uint8_t *)x;
    for (size_t i = 0; i < dim; i++) {
        uint16_t h;
        switch (t) {
        case VDB_TYPE_FLOAT16_VECTOR:
            memcpy(&h, p + 2 * i, 2);
            out[i] = vdb_f16_to_f32(h);
            break;
        case VDB_TYPE_BFLOAT16_VECTOR:
            memcpy(&h, p + 2 * i, 2);
            out[i] = vdb_bf16_to_f32(h);
            break;
        case VDB_TYPE_INT8_VECTOR:
            out[i] = (float)(int8_t)p[i];
            break;
        default:
            memcpy(out + i, p + 4 * i, 4);
            break;
        }
    }
}

#endif

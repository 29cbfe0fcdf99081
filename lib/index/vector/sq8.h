/* 8-bit scalar quantization for walking a graph: each dimension i gets an offset lo[i] (its
 * minimum over the rows) and a step (its range / 255), and a row is stored as one byte per
 * dimension, x[i] ~ lo[i] + step[i] * code[i]. Queries stay float: a query turns into int16
 * weights once, and its distance to a code is one integer dot product plus per-row and
 * per-query constants, on the scale of the true metric (so it can stand in for vdb_dist's
 * "lower is closer" distances: squared L2, -IP, -cosine on normalized rows).
 *
 * The codes read a quarter of the bytes of float rows, which is what a graph walk is bound
 * by; the few candidates it ends with are re-ranked on the float rows. Per-dimension ranges
 * keep the error small whatever the data's scale (integer pixels, unit vectors, projections). */
#ifndef VDB_SQ8_H
#define VDB_SQ8_H

#include "index/kernels/kernels.h"

typedef struct vdb_sq8 {
    /* stride: the bytes of one code, dim + 4 rounded up to 64: the codes, zeros, and the
     * row's constant (a float) in the last 4 bytes, so a distance reads one place only; the
     * dot product spans the whole stride, the weights past dim being 0. */
    uint32_t dim, stride;
    float *lo, *step;     /* dim each */
    vdb_dot_u8i16_fn dot; /* the CPU's kernel, looked up once */
} vdb_sq8;

/* A query prepared for one quantizer: distance(code) = base + aux + mul * dot(w, code). */
typedef struct vdb_sq8_query {
    int16_t *w; /* stride weights (zero past dim); caller-owned scratch */
    float mul, base;
} vdb_sq8_query;

/* Learns lo/step from n rows (each scaled by scale[r] when scale is not NULL: COSINE's
 * normalized rows). VDB_ENOMEM. */
vdb_status vdb_sq8_train(vdb_sq8 *q, const float *base, size_t n, uint32_t dim,
                         const float *scale);
/* The same over rows of any dense vector type (FLOAT16 / BFLOAT16 / INT8 rows widened one at
 * a time). */
vdb_status vdb_sq8_train_t(vdb_sq8 *q, vdb_type type, const void *base, size_t n, uint32_t dim,
                           const float *scale);
/* Uses given lo/step (decoded from a file): copies them. VDB_ENOMEM. */
vdb_status vdb_sq8_init(vdb_sq8 *q, uint32_t dim, const float *lo, const float *step);
void vdb_sq8_free(vdb_sq8 *q);

/* The code of x * scale (stride bytes) with its constant for metric (L2: |x^ - lo|^2;
 * 0 otherwise). */
void vdb_sq8_encode(const vdb_sq8 *q, vdb_metric metric, const float *x, float scale,
                    uint8_t *code);

/* Prepares query x (already normalized for COSINE) into out->w (stride int16). */
void vdb_sq8_query_prepare(const vdb_sq8 *q, vdb_metric metric, const float *x,
                           vdb_sq8_query *out);

/* The approximate distance (lower is closer) of a prepared query to one code. */
static inline float vdb_sq8_dist(const vdb_sq8 *q, const vdb_sq8_query *pq, const uint8_t *code)
{
    float aux;
    memcpy(&aux, code + q->stride - sizeof aux, sizeof aux);
    return pq->base + aux + pq->mul * (float)q->dot(code, pq->w, q->stride);
}

#endif

/* 8-bit scalar quantization: training, encoding, and turning a query into int16 weights. */
#include <math.h>

#include "sq8.h"

static vdb_status alloc(vdb_sq8 *q, uint32_t dim)
{
    q->dim = dim;
    q->stride = (dim + (uint32_t)sizeof(float) + 63) & ~63u;
    q->dot = vdb_dot_u8i16_kernel();
    q->lo = vdb_calloc(dim ? dim : 1, sizeof *q->lo);
    q->step = vdb_calloc(dim ? dim : 1, sizeof *q->step);
    if (q->lo && q->step)
        return VDB_OK;
    vdb_sq8_free(q);
    return vdb_set_errmsg(VDB_ENOMEM, "sq8: out of memory");
}

vdb_status vdb_sq8_train(vdb_sq8 *q, const float *base, size_t n, uint32_t dim,
                         const float *scale)
{
    return vdb_sq8_train_t(q, VDB_TYPE_FLOAT_VECTOR, base, n, dim, scale);
}

vdb_status vdb_sq8_train_t(vdb_sq8 *q, vdb_type type, const void *base, size_t n, uint32_t dim,
                           const float *scale)
{
    size_t width = (size_t)dim * vdb_vector_elem_size(type);
    bool wide = type != VDB_TYPE_FLOAT_VECTOR;
    vdb_status st = alloc(q, dim);
    if (st != VDB_OK)
        return st;
    float *hi = vdb_malloc((dim ? dim : 1) * sizeof *hi);
    float *row = wide ? vdb_malloc((dim ? dim : 1) * sizeof *row) : NULL;
    if (!hi || (wide && !row)) {
        vdb_free(hi);
        vdb_free(row);
        vdb_sq8_free(q);
        return vdb_set_errmsg(VDB_ENOMEM, "sq8: out of memory");
    }
    for (uint32_t i = 0; i < dim; i++) {
        q->lo[i] = INFINITY;
        hi[i] = -INFINITY;
    }
    for (size_t r = 0; r < n; r++) {
        const void *xr = (const uint8_t *)base + r * width;
        const float *x = xr;
        if (wide) {
            vdb_vector_to_f32(type, xr, dim, row);
            x = row;
        }
        float s = scale ? scale[r] : 1.0f;
        for (uint32_t i = 0; i < dim; i++) {
            float v = x[i] * s;
            q->lo[i] = v < q->lo[i] ? v : q->lo[i];
            hi[i] = v > hi[i] ? v : hi[i];
        }
    }
    for (uint32_t i = 0; i < dim; i++) {
        if (n == 0)
            q->lo[i] = hi[i] = 0;
        /* in double: hi - lo of rows near +-FLT_MAX overflows a float (step inf, then codes
         * of inf / inf) */
        q->step[i] = (float)(((double)hi[i] - q->lo[i]) / 255.0);
    }
    vdb_free(hi);
    vdb_free(row);
    return VDB_OK;
}

vdb_status vdb_sq8_init(vdb_sq8 *q, uint32_t dim, const float *lo, const float *step)
{
    vdb_status st = alloc(q, dim);
    if (st != VDB_OK)
        return st;
    memcpy(q->lo, lo, dim * sizeof *lo);
    memcpy(q->step, step, dim * sizeof *step);
    return VDB_OK;
}

void vdb_sq8_free(vdb_sq8 *q)
{
    vdb_free(q->lo);
    vdb_free(q->step);
    q->lo = q->step = NULL;
}

void vdb_sq8_encode(const vdb_sq8 *q, vdb_metric metric, const float *x, float scale,
                    uint8_t *code)
{
    float a = 0;
    for (uint32_t i = 0; i < q->dim; i++) {
        double c = q->step[i] > 0 ? ((double)x[i] * scale - q->lo[i]) / q->step[i] : 0;
        c = c > 0 ? (c < 255 ? c : 255) : 0; /* outside the trained range: clamped */
        code[i] = (uint8_t)(c + 0.5f); /* rounds: c is in 0..255 here */
        float d = q->step[i] * code[i];
        a += d * d;
    }
    memset(code + q->dim, 0, q->stride - q->dim);
    if (metric != VDB_METRIC_L2)
        a = 0;
    memcpy(code + q->stride - sizeof a, &a, sizeof a);
}

/* |x - x^|^2 = |x - lo|^2 - 2 sum step_i (x_i - lo_i) c_i + |step * c|^2, and
 * x . x^ = x . lo + sum step_i x_i c_i: either way one dot product of the code with weights
 * w_i, scaled to int16 as finely as the int32 sum allows (255 * max|w| * stride < 2^31). */
void vdb_sq8_query_prepare(const vdb_sq8 *q, vdb_metric metric, const float *x,
                           vdb_sq8_query *out)
{
    bool l2 = metric == VDB_METRIC_L2;
    /* Weights in double: for rows near +-FLT_MAX a float weight overflows to inf, and inf
     * times the scale 0 is NaN (no int16 holds it). */
    double wmax = 0, c0 = 0;
    for (uint32_t i = 0; i < q->dim; i++) {
        double d = l2 ? (double)x[i] - q->lo[i] : x[i];
        double w = q->step[i] * d;
        wmax = fabs(w) > wmax ? fabs(w) : wmax;
        c0 += l2 ? d * d : (double)x[i] * q->lo[i];
    }
    double limit = (double)INT32_MAX / (255.0 * q->stride);
    double wq = limit < 32767 ? floor(limit) : 32767;
    double f = wmax > 0 ? wq / wmax : 1.0;
    for (uint32_t i = 0; i < q->dim; i++) {
        double w = q->step[i] * (l2 ? (double)x[i] - q->lo[i] : x[i]);
        double v = w * f; /* within +-32767: round half away from zero without a libm call */
        out->w[i] = (int16_t)(v >= 0 ? v + 0.5 : v - 0.5);
    }
    memset(out->w + q->dim, 0, (q->stride - q->dim) * sizeof *out->w);
    out->mul = (float)((l2 ? -2.0 : -1.0) / f);
    out->base = (float)(l2 ? c0 : -c0);
}

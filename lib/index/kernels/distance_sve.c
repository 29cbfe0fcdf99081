/* Distance, code and popcount kernels for the Scalable Vector Extension, compiled per function
 * (target "+sve") so that the library still runs on AArch64 CPUs without it; distance.c calls
 * them only where HWCAP_SVE is reported. Written for any vector length (128 to 2048 bits):
 * whole vectors first, then one predicated pass over the tail instead of a scalar loop. */
#include <arm_sve.h>

#include "distance_impl.h"
#include "index/kernels/kernels.h"

#define SVE __attribute__((target("+sve")))

SVE float vdb_l2sq_sve(const float *a, const float *b, size_t dim)
{
    svbool_t all = svptrue_b32();
    svfloat32_t s0 = svdup_n_f32(0), s1 = s0;
    size_t vl = svcntw(), i = 0;
    for (; i + 2 * vl <= dim; i += 2 * vl) {
        svfloat32_t d0 = svsub_f32_x(all, svld1_f32(all, a + i), svld1_f32(all, b + i));
        svfloat32_t d1 = svsub_f32_x(all, svld1_f32(all, a + i + vl), svld1_f32(all, b + i + vl));
        s0 = svmla_f32_x(all, s0, d0, d0);
        s1 = svmla_f32_x(all, s1, d1, d1);
    }
    for (; i < dim; i += vl) {
        svbool_t pg = svwhilelt_b32_u64(i, dim);
        svfloat32_t d = svsub_f32_z(pg, svld1_f32(pg, a + i), svld1_f32(pg, b + i));
        s0 = svmla_f32_m(pg, s0, d, d);
    }
    return svaddv_f32(all, svadd_f32_x(all, s0, s1));
}

SVE float vdb_ip_sve(const float *a, const float *b, size_t dim)
{
    svbool_t all = svptrue_b32();
    svfloat32_t s0 = svdup_n_f32(0), s1 = s0;
    size_t vl = svcntw(), i = 0;
    for (; i + 2 * vl <= dim; i += 2 * vl) {
        s0 = svmla_f32_x(all, s0, svld1_f32(all, a + i), svld1_f32(all, b + i));
        s1 = svmla_f32_x(all, s1, svld1_f32(all, a + i + vl), svld1_f32(all, b + i + vl));
    }
    for (; i < dim; i += vl) {
        svbool_t pg = svwhilelt_b32_u64(i, dim);
        s0 = svmla_f32_m(pg, s0, svld1_f32(pg, a + i), svld1_f32(pg, b + i));
    }
    return svaddv_f32(all, svadd_f32_x(all, s0, s1));
}

SVE float vdb_norm_sq_sve(const float *a, size_t dim) { return vdb_ip_sve(a, a, dim); }

SVE void vdb_cos_parts_sve(const float *q, const float *x, size_t dim, float parts[3])
{
    svbool_t all = svptrue_b32();
    svfloat32_t d = svdup_n_f32(0), qq = d, xx = d;
    size_t vl = svcntw();
    for (size_t i = 0; i < dim; i += vl) {
        svbool_t pg = svwhilelt_b32_u64(i, dim);
        svfloat32_t a = svld1_f32(pg, q + i), b = svld1_f32(pg, x + i);
        d = svmla_f32_m(pg, d, a, b);
        qq = svmla_f32_m(pg, qq, a, a);
        xx = svmla_f32_m(pg, xx, b, b);
    }
    parts[0] = svaddv_f32(all, d);
    parts[1] = svaddv_f32(all, qq);
    parts[2] = svaddv_f32(all, xx);
}

/* 8-bit codes zero-extended into int16 lanes as they load, then SDOT: four int16 products
 * summed into each int64 lane. Exact. */
SVE int32_t vdb_dot_u8i16_sve(const uint8_t *c, const int16_t *w, size_t n)
{
    svint64_t s = svdup_n_s64(0);
    size_t vl = svcnth();
    for (size_t i = 0; i < n; i += vl) {
        svbool_t pg = svwhilelt_b16_u64(i, n);
        s = svdot_s64(s, svld1ub_s16(pg, c + i), svld1_s16(pg, w + i));
    }
    return (int32_t)svaddv_s64(svptrue_b64(), s);
}

SVE size_t vdb_popcount_sve(const uint64_t *w, size_t n)
{
    svuint64_t s = svdup_n_u64(0);
    size_t vl = svcntd();
    for (size_t i = 0; i < n; i += vl) {
        svbool_t pg = svwhilelt_b64_u64(i, n);
        s = svadd_u64_m(pg, s, svcnt_u64_z(pg, svld1_u64(pg, w + i)));
    }
    return (size_t)svaddv_u64(svptrue_b64(), s);
}

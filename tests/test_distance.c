/* Tests of the distance, code and popcount kernels at every SIMD level this CPU has: floats
 * against double precision, integers exactly. */
#include "test_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#endif

#include "index/kernels/kernels.h"
#include "util/vtype.h"

/* This CPU family's levels, worst first; the CPU's features are read here on their own, not
 * through the library's detection. Under qemu-user every AArch64 level can be run (-cpu max
 * has SVE; -cpu max,sve=off or cortex-a72 has NEON only). */
#if defined(__x86_64__)
static const char *const levels[] = {"portable", "avx2", "avx512", "avx512-vnni"};

static bool cpu_has(const char *level)
{
    __builtin_cpu_init();
    if (strcmp(level, "avx512-vnni") == 0)
        return cpu_has("avx512") && __builtin_cpu_supports("avx512vnni");
    if (strcmp(level, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("popcnt");
    if (strcmp(level, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("popcnt");
    return strcmp(level, "portable") == 0;
}
#elif defined(__aarch64__)
static const char *const levels[] = {"portable", "neon", "sve"};

static bool cpu_has(const char *level)
{
    unsigned long hw = getauxval(AT_HWCAP);
    if (strcmp(level, "sve") == 0)
        return (hw & HWCAP_SVE) && cpu_has("neon");
    if (strcmp(level, "neon") == 0)
        return hw & HWCAP_ASIMD;
    return strcmp(level, "portable") == 0;
}
#else
static const char *const levels[] = {"portable"};

static bool cpu_has(const char *level) { return strcmp(level, "portable") == 0; }
#endif

/* Every dimension from 1 to 100 walks each tail length and unroll boundary; the large ones are
 * the common real sizes. */
static size_t dims[104];
static size_t ndims;

static void init_dims(void)
{
    ndims = 0;
    for (size_t d = 1; d <= 100; d++)
        dims[ndims++] = d;
    dims[ndims++] = 128;
    dims[ndims++] = 784;
    dims[ndims++] = 1536;
}

/* Vectors start one float past an aligned address and are followed by NaNs, so a kernel that
 * assumes alignment or reads past its tail shows up as a wrong or NaN result. */
static float *vec_with_guard(size_t dim, uint64_t *rng)
{
    float *p = malloc((dim + 1 + 32) * sizeof(float));
    assert_non_null(p);
    for (size_t i = 0; i < dim + 1 + 32; i++)
        p[i] = NAN;
    for (size_t i = 0; i < dim; i++)
        p[1 + i] = test_randf(rng) * 4.0f;
    return p;
}

static void expect_close(double got, double ref, double scale, const char *what, const char *level,
                         size_t dim)
{
    double tol = 1e-5 * scale + 1e-30;
    if (!(fabs(got - ref) <= tol)) {
        print_error("%s at %s, dim %zu: got %.9g, want %.9g (tol %.3g)\n", what, level, dim, got,
                    ref, tol);
        fail();
    }
}

static void check_level(const char *level)
{
    uint64_t rng = 12345;
    for (size_t di = 0; di < ndims; di++) {
        size_t dim = dims[di];
        float *pa = vec_with_guard(dim, &rng), *pb = vec_with_guard(dim, &rng);
        const float *a = pa + 1, *b = pb + 1;
        double l2 = 0, l2s = 0, ip = 0, ips = 0, aa = 0, bb = 0;
        for (size_t i = 0; i < dim; i++) {
            double d = (double)a[i] - b[i];
            l2 += d * d;
            ip += (double)a[i] * b[i];
            ips += fabs((double)a[i] * b[i]);
            aa += (double)a[i] * a[i];
            bb += (double)b[i] * b[i];
        }
        l2s = l2;
        expect_close(vdb_dist_l2sq(a, b, dim), l2, l2s, "l2sq", level, dim);
        expect_close(vdb_dist_ip(a, b, dim), ip, ips, "ip", level, dim);
        expect_close(vdb_norm_sq(a, dim), aa, aa, "norm_sq", level, dim);
        expect_close(vdb_dist(VDB_METRIC_L2, a, b, dim), l2, l2s, "dist L2", level, dim);
        expect_close(vdb_dist(VDB_METRIC_IP, a, b, dim), ip, ips, "dist IP", level, dim);
        double cos = ip / (sqrt(aa) * sqrt(bb));
        expect_close(vdb_dist(VDB_METRIC_COSINE, a, b, dim), cos, ips / (sqrt(aa) * sqrt(bb)),
                     "dist COSINE", level, dim);
        free(pa);
        free(pb);
    }
}

static void test_every_kernel_at_every_level_matches_double_reference(void **state)
{
    (void)state;
    init_dims();
    size_t ran = 0;
    for (size_t i = 0; i < VDB_ARRAY_LEN(levels); i++) {
        if (!cpu_has(levels[i]))
            continue;
        assert_true(vdb_simd_force(levels[i]));
        assert_string_equal(vdb_simd_level(), levels[i]);
        check_level(levels[i]);
        ran++;
    }
    assert_true(vdb_simd_force(NULL));
    assert_true(ran >= 1);
}

static void test_identical_vectors_have_zero_l2_and_unit_cosine(void **state)
{
    (void)state;
    uint64_t rng = 99;
    float v[777];
    for (size_t i = 0; i < VDB_ARRAY_LEN(v); i++)
        v[i] = test_randf(&rng);
    for (size_t i = 0; i < VDB_ARRAY_LEN(levels); i++) {
        if (!vdb_simd_force(levels[i]))
            continue;
        assert_true(vdb_dist_l2sq(v, v, VDB_ARRAY_LEN(v)) == 0.0f);
        assert_float_equal(vdb_dist(VDB_METRIC_COSINE, v, v, VDB_ARRAY_LEN(v)), 1.0f, 1e-5f);
    }
    assert_true(vdb_simd_force(NULL));
}

static void test_cosine_with_zero_vector_scores_zero(void **state)
{
    (void)state;
    float z[19] = {0}, v[19];
    for (size_t i = 0; i < 19; i++)
        v[i] = (float)i + 1;
    for (size_t i = 0; i < VDB_ARRAY_LEN(levels); i++) {
        if (!vdb_simd_force(levels[i]))
            continue;
        assert_true(vdb_dist(VDB_METRIC_COSINE, z, v, 19) == 0.0f);
        assert_true(vdb_dist(VDB_METRIC_COSINE, v, z, 19) == 0.0f);
    }
    assert_true(vdb_simd_force(NULL));
}

static void test_dispatch_reports_the_best_level_the_cpu_has(void **state)
{
    (void)state;
    assert_true(vdb_simd_force(NULL));
    const char *want = "portable";
    for (size_t i = 0; i < VDB_ARRAY_LEN(levels); i++)
        if (cpu_has(levels[i]))
            want = levels[i];
    assert_string_equal(vdb_simd_level(), want);
}

/* Another family's level is refused, not taken for portable. */
static void test_forcing_another_cpu_familys_level_returns_false(void **state)
{
    (void)state;
    const char *foreign[] = {"avx2", "avx512", "avx512-vnni", "neon", "sve"};
    for (size_t i = 0; i < VDB_ARRAY_LEN(foreign); i++) {
        bool ours = false;
        for (size_t j = 0; j < VDB_ARRAY_LEN(levels); j++)
            ours |= strcmp(foreign[i], levels[j]) == 0;
        if (!ours)
            assert_false(vdb_simd_force(foreign[i]));
    }
    assert_true(vdb_simd_force(NULL));
}

static void test_forcing_an_unavailable_level_returns_false_and_keeps_the_level(void **state)
{
    (void)state;
    assert_true(vdb_simd_force("portable"));
    assert_false(vdb_simd_force("sse9"));
    assert_false(vdb_simd_force(""));
    assert_string_equal(vdb_simd_level(), "portable");
    for (size_t i = 0; i < VDB_ARRAY_LEN(levels); i++) {
        assert_int_equal(vdb_simd_force(levels[i]), cpu_has(levels[i]));
        if (!cpu_has(levels[i]))
            assert_string_not_equal(vdb_simd_level(), levels[i]);
    }
    assert_true(vdb_simd_force(NULL));
}

/* The 8-bit code kernel is exact integer arithmetic: every level must give the same sum as a
 * plain loop, up to the extreme weights sq8.h allows (255 * |w| * n < 2^31). */
static void test_code_dot_product_is_exact_at_every_level(void **state)
{
    (void)state;
    uint64_t rng = 7;
    size_t sizes[] = {64, 128, 832, 4096};
    for (size_t si = 0; si < VDB_ARRAY_LEN(sizes); si++) {
        size_t n = sizes[si];
        int16_t wmax = (int16_t)(INT32_MAX / (255.0 * n) < 32767 ? INT32_MAX / (255.0 * n) : 32767);
        uint8_t *c = malloc(n);
        int16_t *w = malloc(n * sizeof *w);
        assert_non_null(c);
        assert_non_null(w);
        for (int round = 0; round < 3; round++) {
            int64_t want = 0;
            for (size_t i = 0; i < n; i++) {
                c[i] = round == 0 ? 255 : (uint8_t)(test_rand(&rng) & 255);
                w[i] = round == 0 ? wmax : (int16_t)((int)(test_rand(&rng) % (2u * wmax + 1)) - wmax);
                want += (int64_t)c[i] * w[i];
            }
            for (size_t li = 0; li < VDB_ARRAY_LEN(levels); li++) {
                if (!vdb_simd_force(levels[li]))
                    continue;
                if (vdb_dot_u8i16(c, w, n) != want) {
                    print_error("dot_u8i16 at %s, n %zu: got %d, want %lld\n", levels[li], n,
                                vdb_dot_u8i16(c, w, n), (long long)want);
                    fail();
                }
            }
        }
        free(c);
        free(w);
    }
    assert_true(vdb_simd_force(NULL));
}

/* Popcount is exact at every level: counts of whole word arrays of every length up to 80
 * (past each unroll width) and of bitsets cut at every bit, against a bit-by-bit count. */
static void test_popcount_and_bitset_count_are_exact_at_every_level(void **state)
{
    (void)state;
    uint64_t rng = 5;
    uint64_t w[81];
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < VDB_ARRAY_LEN(w); i++)
            w[i] = round == 0 ? ~0ull : round == 1 ? 0 : test_rand(&rng) ^ (test_rand(&rng) << 32);
        for (size_t li = 0; li < VDB_ARRAY_LEN(levels); li++) {
            if (!vdb_simd_force(levels[li]))
                continue;
            size_t want = 0;
            for (size_t n = 0; n <= 80; n++) {
                assert_int_equal(vdb_popcount(w + 1, n), want);
                for (int b = 0; n < 80 && b < 64; b++)
                    want += (w[1 + n] >> b) & 1;
            }
            size_t bits = 0;
            for (size_t n = 0; n <= 64 * 10; n++) {
                assert_int_equal(vdb_bitset_count(w, n), bits);
                bits += (w[n / 64] >> (n % 64)) & 1;
            }
        }
    }
    assert_true(vdb_simd_force(NULL));
}

/* BINARY_VECTOR kernels: every byte length 0..300 (each tail and unroll boundary) at
 * unaligned offsets, random, all-ones and all-zero rows, exactly the bit-by-bit counts, and
 * every level's kernels (VPOPCNTDQ, AVX2, NEON) equal to the portable ones. */
static void test_binary_kernels_are_exact_at_every_level(void **state)
{
    (void)state;
    enum { MAXB = 300 };
    static uint8_t a[MAXB + 3], b[MAXB + 3];
    uint64_t rng = 17;
    const vdb_bin_kernels *port = vdb_bin_kernels_portable();
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < sizeof a; i++) {
            a[i] = round == 0 ? 0xff : round == 1 ? 0 : (uint8_t)test_rand(&rng);
            b[i] = round == 0 ? 0xff : round == 1 ? 0 : (uint8_t)test_rand(&rng);
        }
        if (round == 3) /* sparse bits, as JACCARD sees on small sets */
            for (size_t i = 0; i < sizeof a; i++) {
                a[i] &= (uint8_t)test_rand(&rng) & 0x11;
                b[i] &= (uint8_t)test_rand(&rng) & 0x11;
            }
        for (size_t li = 0; li < VDB_ARRAY_LEN(levels); li++) {
            if (!vdb_simd_force(levels[li]))
                continue;
            const vdb_bin_kernels *k = vdb_bin_kernels_active();
            assert_non_null(k);
            for (size_t off = 0; off < 3; off++)
                for (size_t n = 0; n <= MAXB; n++) {
                    const uint8_t *x = a + off, *y = b + (2 - off);
                    uint32_t h = 0, an = 0, orr = 0;
                    for (size_t i = 0; i < n; i++)
                        for (int bit = 0; bit < 8; bit++) {
                            h += ((x[i] ^ y[i]) >> bit) & 1;
                            an += ((x[i] & y[i]) >> bit) & 1;
                            orr += ((x[i] | y[i]) >> bit) & 1;
                        }
                    uint32_t ao[2], pao[2];
                    assert_int_equal(k->hamming(x, y, n), h);
                    assert_int_equal(port->hamming(x, y, n), h);
                    k->and_or(x, y, n, ao);
                    port->and_or(x, y, n, pao);
                    assert_int_equal(ao[0], an);
                    assert_int_equal(ao[1], orr);
                    assert_int_equal(pao[0], an);
                    assert_int_equal(pao[1], orr);
                    if (n) {
                        assert_true(vdb_dist_bin(VDB_METRIC_HAMMING, x, y, n) == (float)h);
                        float j = orr ? 1.0f - (float)an / (float)orr : 0.0f;
                        assert_true(vdb_dist_bin(VDB_METRIC_JACCARD, x, y, n) == j);
                    }
                }
        }
    }
#if defined(__x86_64__)
    /* the AVX-512 levels take VPOPCNTDQ exactly when the CPU has it */
    __builtin_cpu_init();
    if (vdb_simd_force("avx512"))
        assert_string_equal(vdb_bin_kernels_active()->name,
                            __builtin_cpu_supports("avx512vpopcntdq") ? "avx512-vpopcntdq"
                                                                       : "avx2");
    if (vdb_simd_force("avx2"))
        assert_string_equal(vdb_bin_kernels_active()->name, "avx2");
#elif defined(__aarch64__)
    if (vdb_simd_force("neon"))
        assert_string_equal(vdb_bin_kernels_active()->name, "neon");
#endif
    assert_true(vdb_simd_force("portable"));
    assert_string_equal(vdb_bin_kernels_active()->name, "portable");
    assert_true(vdb_simd_force(NULL));
}

#if defined(__aarch64__) && defined(PR_SVE_SET_VL)
/* SVE kernels are written for any vector length: run the float checks and the exact integer
 * checks at every length this CPU (or qemu) lets the process choose, 128 to 2048 bits. */
static void test_sve_kernels_hold_at_every_vector_length(void **state)
{
    if (!cpu_has("sve")) {
        print_message("skipped: this CPU has no SVE\n");
        skip();
    }
    int orig = prctl(PR_SVE_GET_VL);
    assert_true(orig > 0);
    size_t ran = 0;
    for (int bytes = 16; bytes <= 256; bytes *= 2) {
        int got = prctl(PR_SVE_SET_VL, bytes);
        if (got < 0 || (got & PR_SVE_VL_LEN_MASK) != bytes)
            continue;
        init_dims();
        assert_true(vdb_simd_force("sve"));
        check_level("sve");
        test_code_dot_product_is_exact_at_every_level(state);
        test_popcount_and_bitset_count_are_exact_at_every_level(state);
        print_message("sve: checked at %d-bit vectors\n", 8 * bytes);
        ran++;
    }
    assert_true(prctl(PR_SVE_SET_VL, orig & PR_SVE_VL_LEN_MASK) >= 0);
    assert_true(vdb_simd_force(NULL));
    assert_true(ran >= 1);
}
#endif

/* ---- FLOAT16 / BFLOAT16 / INT8 rows ---- */

static void test_half_conversions_are_exact_and_round_to_nearest_even(void **state)
{
    (void)state;
    assert_int_equal(vdb_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(vdb_f32_to_f16(-2.0f), 0xc000);
    assert_int_equal(vdb_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(vdb_f32_to_f16(65519.0f), 0x7bff);
    assert_int_equal(vdb_f32_to_f16(65520.0f), 0x7c00); /* rounds past the largest: Inf */
    assert_int_equal(vdb_f32_to_f16(0x1p-24f), 0x0001);  /* the smallest subnormal */
    assert_int_equal(vdb_f32_to_f16(0x1p-26f), 0x0000);  /* below half of it */
    assert_int_equal(vdb_f32_to_f16(0.1f), 0x2e66);
    assert_int_equal(vdb_f32_to_f16(1.0f + 0x1p-11f), 0x3c00); /* a tie goes to even */
    assert_int_equal(vdb_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
    assert_int_equal(vdb_f32_to_f16(NAN) & 0x7e00, 0x7e00);
    assert_int_equal(vdb_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(vdb_f32_to_bf16(-3.0f), 0xc040);
    assert_int_equal(vdb_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80); /* tie to even */
    assert_int_equal(vdb_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
    /* every finite half and bfloat16 survives the trip through float32 */
    for (uint32_t h = 0; h < 65536; h++) {
        if (vdb_f16_finite((uint16_t)h))
            assert_int_equal(vdb_f32_to_f16(vdb_f16_to_f32((uint16_t)h)), h);
        if (vdb_bf16_finite((uint16_t)h))
            assert_int_equal(vdb_f32_to_bf16(vdb_bf16_to_f32((uint16_t)h)), h);
        assert_int_equal(vdb_f16_finite((uint16_t)h), isfinite(vdb_f16_to_f32((uint16_t)h)));
        assert_int_equal(vdb_bf16_finite((uint16_t)h), isfinite(vdb_bf16_to_f32((uint16_t)h)));
    }
}

static const vdb_type row_types[] = {VDB_TYPE_FLOAT16_VECTOR, VDB_TYPE_BFLOAT16_VECTOR,
                                     VDB_TYPE_INT8_VECTOR};

/* A random row of type t (values in [-4, 4) for halves, any int8) and its float values. */
static void *typed_row(vdb_type t, size_t dim, uint64_t *rng, float *vals)
{
    size_t w = vdb_vector_elem_size(t);
    uint8_t *x = malloc(dim * w + 1);
    for (size_t i = 0; i < dim; i++) {
        if (t == VDB_TYPE_INT8_VECTOR) {
            x[i] = (uint8_t)test_rand(rng);
        } else {
            float f = 4 * test_randf(rng);
            uint16_t h = t == VDB_TYPE_FLOAT16_VECTOR ? vdb_f32_to_f16(f) : vdb_f32_to_bf16(f);
            memcpy(x + 2 * i, &h, 2);
        }
    }
    vdb_vector_to_f32(t, x, dim, vals);
    return x;
}

/* Every level's kernels on typed rows against a double reference over the rows' float values
 * (relative to the sum of magnitudes, as for the float kernels), so every SIMD level equals
 * the portable one within twice that bound. */
static void test_typed_row_kernels_match_double_reference_at_every_level(void **state)
{
    (void)state;
    init_dims();
    size_t ran = 0;
    for (size_t li = 0; li < VDB_ARRAY_LEN(levels); li++) {
        if (!cpu_has(levels[li]))
            continue;
        assert_true(vdb_simd_force(levels[li]));
        ran++;
        for (size_t ti = 0; ti < VDB_ARRAY_LEN(row_types); ti++) {
            vdb_type t = row_types[ti];
            const vdb_vkernels *k = vdb_vkernels_for(t);
            assert_non_null(k);
            uint64_t rng = 7 + ti;
            for (size_t di = 0; di < ndims; di++) {
                size_t dim = dims[di];
                float *q = malloc(dim * sizeof *q), *xv = malloc(dim * sizeof *xv);
                for (size_t i = 0; i < dim; i++)
                    q[i] = 100 * test_randf(&rng);
                void *x = typed_row(t, dim, &rng, xv);
                double l2 = 0, ip = 0, ips = 0, qq = 0, xx = 0;
                for (size_t i = 0; i < dim; i++) {
                    double d = (double)q[i] - xv[i];
                    l2 += d * d;
                    ip += (double)q[i] * xv[i];
                    ips += fabs((double)q[i] * xv[i]);
                    qq += (double)q[i] * q[i];
                    xx += (double)xv[i] * xv[i];
                }
                const char *lv = levels[li];
                expect_close(k->l2sq(q, x, dim), l2, l2, "typed l2sq", lv, dim);
                expect_close(k->ip(q, x, dim), ip, ips, "typed ip", lv, dim);
                float p[3];
                k->cos_parts(q, x, dim, p);
                expect_close(p[0], ip, ips, "typed cos q.x", lv, dim);
                expect_close(p[1], qq, qq, "typed cos q.q", lv, dim);
                expect_close(p[2], xx, xx, "typed cos x.x", lv, dim);
                expect_close(vdb_norm_sq_t(t, x, dim), xx, xx, "typed norm", lv, dim);
                expect_close(vdb_dist_t(t, VDB_METRIC_L2, q, x, dim), l2, l2, "dist_t L2", lv,
                             dim);
                if (xx > 0)
                    expect_close(vdb_dist_t(t, VDB_METRIC_COSINE, q, x, dim),
                                 ip / (sqrt(qq) * sqrt(xx)), ips / (sqrt(qq) * sqrt(xx)),
                                 "dist_t COSINE", lv, dim);
                free(x);
                free(q);
                free(xv);
            }
        }
    }
    assert_true(vdb_simd_force(NULL));
    assert_true(ran >= 1);
    assert_null(vdb_vkernels_for(VDB_TYPE_FLOAT_VECTOR));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kernel_at_every_level_matches_double_reference),
        cmocka_unit_test(test_identical_vectors_have_zero_l2_and_unit_cosine),
        cmocka_unit_test(test_cosine_with_zero_vector_scores_zero),
        cmocka_unit_test(test_dispatch_reports_the_best_level_the_cpu_has),
        cmocka_unit_test(test_forcing_an_unavailable_level_returns_false_and_keeps_the_level),
        cmocka_unit_test(test_code_dot_product_is_exact_at_every_level),
        cmocka_unit_test(test_forcing_another_cpu_familys_level_returns_false),
        cmocka_unit_test(test_popcount_and_bitset_count_are_exact_at_every_level),
        cmocka_unit_test(test_half_conversions_are_exact_and_round_to_nearest_even),
        cmocka_unit_test(test_typed_row_kernels_match_double_reference_at_every_level),
        cmocka_unit_test(test_binary_kernels_are_exact_at_every_level),
#if defined(__aarch64__) && defined(PR_SVE_SET_VL)
        cmocka_unit_test(test_sve_kernels_hold_at_every_vector_length),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

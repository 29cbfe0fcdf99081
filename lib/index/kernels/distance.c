/* Distance kernels: the portable versions, the run-time choice of SIMD level, vdb_dist. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

#include "distance_impl.h"
#include "index/kernels/kernels.h"

/* The SIMD kernels live in distance_avx2.c / distance_avx512.c (x86-64) and distance_neon.c /
 * distance_sve.c (AArch64), each compiled for its own target through function attributes so
 * that the library still runs on any CPU of its family. Other CPUs get the portable set. */

typedef struct kernels {
    const char *name;
    float (*l2sq)(const float *a, const float *b, size_t dim);
    float (*ip)(const float *a, const float *b, size_t dim);
    float (*norm_sq)(const float *a, size_t dim);
    /* q.x, q.q and x.x in one pass over both vectors */
    void (*cos_parts)(const float *q, const float *x, size_t dim, float parts[3]);
    int32_t (*dot_u8i16)(const uint8_t *c, const int16_t *w, size_t n);
    size_t (*popcount)(const uint64_t *w, size_t n);
    vdb_vkernels vk[3]; /* FLOAT16, BFLOAT16, INT8 rows (vk_slot) */
} kernels;

static int vk_slot(vdb_type t)
{
    return t == VDB_TYPE_FLOAT16_VECTOR ? 0 : t == VDB_TYPE_BFLOAT16_VECTOR ? 1
           : t == VDB_TYPE_INT8_VECTOR ? 2 : -1;
}

/* Four independent accumulators break the add dependency chain and give the compiler room to
 * vectorise without reassociating a single sum. */
static float l2sq_portable(const float *a, const float *b, size_t dim)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= dim; i += 4) {
        float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1];
        float d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
    }
    for (; i < dim; i++) {
        float d = a[i] - b[i];
        s0 += d * d;
    }
    return (s0 + s1) + (s2 + s3);
}

static float ip_portable(const float *a, const float *b, size_t dim)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= dim; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < dim; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static float norm_sq_portable(const float *a, size_t dim) { return ip_portable(a, a, dim); }

static void cos_parts_portable(const float *q, const float *x, size_t dim, float parts[3])
{
    float d0 = 0, d1 = 0, q0 = 0, q1 = 0, x0 = 0, x1 = 0;
    size_t i = 0;
    for (; i + 2 <= dim; i += 2) {
        d0 += q[i] * x[i];
        d1 += q[i + 1] * x[i + 1];
        q0 += q[i] * q[i];
        q1 += q[i + 1] * q[i + 1];
        x0 += x[i] * x[i];
        x1 += x[i + 1] * x[i + 1];
    }
    if (i < dim) {
        d0 += q[i] * x[i];
        q0 += q[i] * q[i];
        x0 += x[i] * x[i];
    }
    parts[0] = d0 + d1;
    parts[1] = q0 + q1;
    parts[2] = x0 + x1;
}

static int32_t dot_u8i16_portable(const uint8_t *c, const int16_t *w, size_t n)
{
    int32_t s0 = 0, s1 = 0;
    for (size_t i = 0; i < n; i += 2) {
        s0 += (int32_t)c[i] * w[i];
        s1 += (int32_t)c[i + 1] * w[i + 1];
    }
    return s0 + s1;
}

static size_t popcount_portable(const uint64_t *w, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += (size_t)__builtin_popcountll(w[i]);
    return c;
}

/* BINARY_VECTOR rows: 8-byte words through __builtin_popcountll (whatever the compiler's
 * baseline target makes of it), then the last bytes. */
static uint32_t hamming_portable(const uint8_t *a, const uint8_t *b, size_t nbytes)
{
    uint64_t c = 0;
    size_t i = 0;
    for (; i + 8 <= nbytes; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        c += (uint64_t)__builtin_popcountll(x ^ y);
    }
    for (; i < nbytes; i++)
        c += (uint64_t)__builtin_popcount((unsigned)(a[i] ^ b[i]));
    return (uint32_t)c;
}

static void and_or_portable(const uint8_t *a, const uint8_t *b, size_t nbytes, uint32_t out[2])
{
    uint64_t ca = 0, co = 0;
    size_t i = 0;
    for (; i + 8 <= nbytes; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        ca += (uint64_t)__builtin_popcountll(x & y);
        co += (uint64_t)__builtin_popcountll(x | y);
    }
    for (; i < nbytes; i++) {
        ca += (uint64_t)__builtin_popcount((unsigned)(a[i] & b[i]));
        co += (uint64_t)__builtin_popcount((unsigned)(a[i] | b[i]));
    }
    out[0] = (uint32_t)ca;
    out[1] = (uint32_t)co;
}

static const vdb_bin_kernels bin_portable = {"portable", hamming_portable, and_or_portable};

/* Float queries against FLOAT16 / BFLOAT16 / INT8 rows: each element widened as it is read
 * (util/vtype.h), four accumulators as above. */
static inline float elem_f16(const void *x, size_t i)
{
    uint16_t h;
    memcpy(&h, (const uint8_t *)x + 2 * i, 2);
    return vdb_f16_to_f32(h);
}
static inline float elem_bf16(const void *x, size_t i)
{
    uint16_t h;
    memcpy(&h, (const uint8_t *)x + 2 * i, 2);
    return vdb_bf16_to_f32(h);
}
static inline float elem_i8(const void *x, size_t i) { return (float)((const int8_t *)x)[i]; }

#define VEC_KERNELS_PORTABLE(NAME, ELEM)                                                      \
    static float l2sq_##NAME##_portable(const float *q, const void *x, size_t dim)            \
    {                                                                                         \
        float s[4] = {0, 0, 0, 0};                                                            \
        size_t i = 0;                                                                         \
        for (; i + 4 <= dim; i += 4)                                                          \
            for (int j = 0; j < 4; j++) {                                                     \
                float d = q[i + j] - ELEM(x, i + j);                                          \
                s[j] += d * d;                                                                \
            }                                                                                 \
        for (; i < dim; i++) {                                                                \
            float d = q[i] - ELEM(x, i);                                                      \
            s[0] += d * d;                                                                    \
        }                                                                                     \
        return (s[0] + s[1]) + (s[2] + s[3]);                                                 \
    }                                                                                         \
    static float ip_##NAME##_portable(const float *q, const void *x, size_t dim)              \
    {                                                                                         \
        float s[4] = {0, 0, 0, 0};                                                            \
        size_t i = 0;                                                                         \
        for (; i + 4 <= dim; i += 4)                                                          \
            for (int j = 0; j < 4; j++)                                                       \
                s[j] += q[i + j] * ELEM(x, i + j);                                            \
        for (; i < dim; i++)                                                                  \
            s[0] += q[i] * ELEM(x, i);                                                        \
        return (s[0] + s[1]) + (s[2] + s[3]);                                                 \
    }                                                                                         \
    static void cos_parts_##NAME##_portable(const float *q, const void *x, size_t dim,        \
                                            float parts[3])                                   \
    {                                                                                         \
        float d = 0, qq = 0, xx = 0;                                                          \
        for (size_t i = 0; i < dim; i++) {                                                    \
            float v = ELEM(x, i);                                                             \
            d += q[i] * v;                                                                    \
            qq += q[i] * q[i];                                                                \
            xx += v * v;                                                                      \
        }                                                                                     \
        parts[0] = d;                                                                         \
        parts[1] = qq;                                                                        \
        parts[2] = xx;                                                                        \
    }

VEC_KERNELS_PORTABLE(f16, elem_f16)
VEC_KERNELS_PORTABLE(bf16, elem_bf16)
VEC_KERNELS_PORTABLE(i8, elem_i8)

#define VK(NAME, LEVEL) {vdb_l2sq_##NAME##_##LEVEL, vdb_ip_##NAME##_##LEVEL, \
                         vdb_cos_parts_##NAME##_##LEVEL}
#define VK_SET(LEVEL) {VK(f16, LEVEL), VK(bf16, LEVEL), VK(i8, LEVEL)}
#define VK_PORTABLE {{l2sq_f16_portable, ip_f16_portable, cos_parts_f16_portable},            \
                     {l2sq_bf16_portable, ip_bf16_portable, cos_parts_bf16_portable},         \
                     {l2sq_i8_portable, ip_i8_portable, cos_parts_i8_portable}}

static const kernels portable = {"portable", l2sq_portable, ip_portable, norm_sq_portable,
                                 cos_parts_portable, dot_u8i16_portable, popcount_portable,
                                 VK_PORTABLE};

#if defined(__x86_64__)
static const vdb_bin_kernels bin_avx2 = {"avx2", vdb_hamming_avx2, vdb_and_or_avx2};
static const vdb_bin_kernels bin_avx512 = {"avx512-vpopcntdq", vdb_hamming_avx512,
                                           vdb_and_or_avx512};
static const kernels avx2 = {"avx2", vdb_l2sq_avx2, vdb_ip_avx2, vdb_norm_sq_avx2,
                             vdb_cos_parts_avx2, vdb_dot_u8i16_avx2, vdb_popcount_popcnt,
                             VK_SET(avx2)};
static const kernels avx512 = {"avx512", vdb_l2sq_avx512, vdb_ip_avx512, vdb_norm_sq_avx512,
                               vdb_cos_parts_avx512, vdb_dot_u8i16_avx512, vdb_popcount_popcnt,
                               VK_SET(avx512)};
static const kernels avx512_vnni = {"avx512-vnni", vdb_l2sq_avx512, vdb_ip_avx512,
                                    vdb_norm_sq_avx512, vdb_cos_parts_avx512,
                                    vdb_dot_u8i16_vnni, vdb_popcount_popcnt,
                                    VK_SET(avx512)};
/* Best first. */
static const kernels *const all[] = {&avx512_vnni, &avx512, &avx2, &portable};

static bool cpu_has(const kernels *k)
{
    __builtin_cpu_init();
    if (k == &avx512_vnni)
        return cpu_has(&avx512) && __builtin_cpu_supports("avx512vnni");
    if (k == &avx512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("popcnt");
    if (k == &avx2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("popcnt");
    return true;
}

/* The popcount kernels of a level: VPOPCNTQ on the AVX-512 levels of CPUs that have it (Ice
 * Lake and later), else AVX2's byte lookups. */
static const vdb_bin_kernels *bin_for(const kernels *k)
{
    if (k == &portable)
        return &bin_portable;
    if ((k == &avx512 || k == &avx512_vnni) && __builtin_cpu_supports("avx512vpopcntdq"))
        return &bin_avx512;
    return &bin_avx2;
}
#elif defined(__aarch64__)
static const kernels neon = {"neon", vdb_l2sq_neon, vdb_ip_neon, vdb_norm_sq_neon,
                             vdb_cos_parts_neon, vdb_dot_u8i16_neon, vdb_popcount_neon,
                             VK_SET(neon)};
/* SVE's half-precision and int8 kernels are NEON's (SVE implies NEON). */
static const kernels sve = {"sve", vdb_l2sq_sve, vdb_ip_sve, vdb_norm_sq_sve, vdb_cos_parts_sve,
                            vdb_dot_u8i16_sve, vdb_popcount_sve, VK_SET(neon)};
static const kernels *const all[] = {&sve, &neon, &portable};

/* The kernel's HWCAP bits (asm/hwcap.h: HWCAP_ASIMD 1 << 1, HWCAP_SVE 1 << 22), spelled out
 * so that an older libc's headers do not matter. */
static bool cpu_has(const kernels *k)
{
    unsigned long hw = getauxval(AT_HWCAP);
    if (k == &sve)
        return (hw & (1ul << 22)) && cpu_has(&neon);
    if (k == &neon)
        return hw & (1ul << 1);
    return true;
}

/* SVE's are NEON's (CNT on 16 bytes is what both have). */
static const vdb_bin_kernels bin_neon = {"neon", vdb_hamming_neon, vdb_and_or_neon};
static const vdb_bin_kernels *bin_for(const kernels *k)
{
    return k == &portable ? &bin_portable : &bin_neon;
}
#else
static const kernels *const all[] = {&portable};

static bool cpu_has(const kernels *k) { return true; }
static const vdb_bin_kernels *bin_for(const kernels *k) { return &bin_portable; }
#endif

/* Portable until the constructor has looked at the CPU, so a call from another constructor
 * that runs first is still correct, only slower. */
static const kernels *active = &portable;
static const vdb_bin_kernels *bin_active = &bin_portable;

static void set_active(const kernels *k)
{
    active = k;
    bin_active = bin_for(k);
}

static const kernels *detect(void)
{
    for (size_t i = 0; i < VDB_ARRAY_LEN(all); i++)
        if (cpu_has(all[i]))
            return all[i];
    return &portable;
}

/* VDB_SIMD=<level> (avx2, portable, ...) starts on a lower level than the CPU's best, so one
 * machine measures both paths (bench/README.md); a level the CPU lacks or an unknown name is
 * said on stderr and the best level kept. */
__attribute__((constructor)) static void simd_init(void)
{
    set_active(detect());
    const char *want = getenv("VDB_SIMD");
    if (want && *want && !vdb_simd_force(want))
        fprintf(stderr, "vdb: VDB_SIMD=%s: not a SIMD level this CPU has; using %s\n", want,
                active->name);
}

const char *vdb_simd_level(void) { return active->name; }

bool vdb_simd_force(const char *level)
{
    if (!level) {
        set_active(detect());
        return true;
    }
    for (size_t i = 0; i < VDB_ARRAY_LEN(all); i++) {
        if (strcmp(level, all[i]->name) == 0) {
            if (!cpu_has(all[i]))
                return false;
            set_active(all[i]);
            return true;
        }
    }
    return false;
}

float vdb_dist_l2sq(const float *a, const float *b, size_t dim) { return active->l2sq(a, b, dim); }
float vdb_dist_ip(const float *a, const float *b, size_t dim) { return active->ip(a, b, dim); }
float vdb_norm_sq(const float *a, size_t dim) { return active->norm_sq(a, dim); }
int32_t vdb_dot_u8i16(const uint8_t *c, const int16_t *w, size_t n)
{
    return active->dot_u8i16(c, w, n);
}

vdb_dot_u8i16_fn vdb_dot_u8i16_kernel(void) { return active->dot_u8i16; }

size_t vdb_popcount(const uint64_t *w, size_t n) { return active->popcount(w, n); }

float vdb_dist(vdb_metric m, const float *q, const float *x, size_t dim)
{
    switch (m) {
    case VDB_METRIC_L2:
        return active->l2sq(q, x, dim);
    case VDB_METRIC_IP:
        return active->ip(q, x, dim);
    case VDB_METRIC_COSINE: {
        float p[3];
        active->cos_parts(q, x, dim, p);
        /* A zero vector has no direction: score it 0 (neither like nor unlike), as flat
         * search does, rather than NaN. */
        if (p[1] == 0 || p[2] == 0)
            return 0;
        return p[0] / (sqrtf(p[1]) * sqrtf(p[2]));
    }
    default: /* HAMMING, JACCARD: binary rows (vdb_dist_bin) */
        break;
    }
    return NAN;
}

const vdb_vkernels *vdb_vkernels_for(vdb_type t)
{
    int i = vk_slot(t);
    return i < 0 ? NULL : &active->vk[i];
}

/* Cosine from its parts; a zero vector scores 0, as in vdb_dist. */
static inline float cosine_of(const float p[3])
{
    if (p[1] == 0 || p[2] == 0)
        return 0;
    return p[0] / (sqrtf(p[1]) * sqrtf(p[2]));
}

float vdb_dist_t(vdb_type t, vdb_metric m, const float *q, const void *x, size_t dim)
{
    int i = vk_slot(t);
    if (i < 0)
        return vdb_dist(m, q, x, dim);
    const vdb_vkernels *k = &active->vk[i];
    switch (m) {
    case VDB_METRIC_L2:
        return k->l2sq(q, x, dim);
    case VDB_METRIC_IP:
        return k->ip(q, x, dim);
    case VDB_METRIC_COSINE: {
        float p[3];
        k->cos_parts(q, x, dim, p);
        return cosine_of(p);
    }
    default: /* HAMMING, JACCARD: binary rows (vdb_dist_bin) */
        break;
    }
    return NAN;
}

float vdb_norm_sq_t(vdb_type t, const void *x, size_t dim)
{
    if (vk_slot(t) < 0)
        return vdb_norm_sq(x, dim);
    float buf[256], s = 0;
    for (size_t i = 0; i < dim; i += 256) {
        size_t n = dim - i < 256 ? dim - i : 256;
        vdb_vector_to_f32(t, (const uint8_t *)x + i * vdb_vector_elem_size(t), n, buf);
        s += vdb_norm_sq(buf, n);
    }
    return s;
}

const vdb_bin_kernels *vdb_bin_kernels_active(void) { return bin_active; }
const vdb_bin_kernels *vdb_bin_kernels_portable(void) { return &bin_portable; }

float vdb_jaccard_of(const uint32_t and_or[2])
{
    /* two all-zero vectors are the same set: distance 0 */
    return and_or[1] ? 1.0f - (float)and_or[0] / (float)and_or[1] : 0.0f;
}

float vdb_dist_bin(vdb_metric m, const uint8_t *q, const uint8_t *x, size_t nbytes)
{
    switch (m) {
    case VDB_METRIC_HAMMING:
        return (float)bin_active->hamming(q, x, nbytes);
    case VDB_METRIC_JACCARD: {
        uint32_t ao[2];
        bin_active->and_or(q, x, nbytes, ao);
        return vdb_jaccard_of(ao);
    }
    default:
        return NAN;
    }
}

/* Speed of each kernel at every SIMD level this CPU has, as a ratio to the portable C kernel
 * measured in the same run (levels alternate round by round, the median of the rounds counts),
 * plus the matrix product of exact batch search (OpenBLAS or the portable one, whichever this
 * build has). Data is random and small enough to stay in cache: this measures the arithmetic,
 * not memory. Under qemu-user the absolute figures mean nothing and the ratios say how well
 * the emulator translates each kind of instruction, not how a real core runs them.
 *   bench_kernels [--rounds N] [--quick] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/kernels/kernels.h"

#define NVEC 64 /* vectors per call sweep: 64 x 768 floats = 192 KiB, in L2 */
#define MAX_LEVELS 4
#define MAX_ROUNDS 31

static const char *const all_levels[] = {"portable", "avx2",        "avx512",
                                         "avx512-vnni", "neon",     "sve"};

typedef struct data {
    size_t dim;
    float *a, *b;      /* NVEC x dim */
    uint8_t *codes;    /* NVEC x dim (dim a multiple of 64) */
    int16_t *w;        /* dim */
    uint64_t *bits;    /* 4096 words */
} data;

static volatile double sink;

/* Nanoseconds per call of kernel k over the data, calls calls. */
static double time_kernel(int k, const data *d, size_t calls)
{
    double acc = 0;
    uint64_t t0 = vdb_mono_ns();
    for (size_t c = 0; c < calls; c++) {
        size_t i = c % NVEC, j = (c * 7 + 3) % NVEC;
        const float *x = d->a + i * d->dim, *y = d->b + j * d->dim;
        switch (k) {
        case 0: acc += vdb_dist_l2sq(x, y, d->dim); break;
        case 1: acc += vdb_dist_ip(x, y, d->dim); break;
        case 2: acc += vdb_dist(VDB_METRIC_COSINE, x, y, d->dim); break;
        case 3: acc += vdb_norm_sq(x, d->dim); break;
        case 4: acc += vdb_dot_u8i16(d->codes + i * d->dim, d->w, d->dim); break;
        default: acc += (double)vdb_popcount(d->bits, 4096); break;
        }
    }
    sink = acc;
    return (double)(vdb_mono_ns() - t0) / (double)calls;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float randf(uint64_t *s) { return (float)(rng_next(s) >> 40) / (float)(1u << 24) - 0.5f; }

/* GFLOP/s of vdb_gemm_nt for nq queries against rows rows of dim floats. */
static double gemm_gflops(size_t nq, size_t rows, size_t dim, int reps)
{
    uint64_t s = 11;
    float *q = malloc(nq * dim * sizeof *q), *x = malloc(rows * dim * sizeof *x);
    float *c = malloc(nq * rows * sizeof *c);
    if (!q || !x || !c) {
        free(q);
        free(x);
        free(c);
        return 0;
    }
    for (size_t i = 0; i < nq * dim; i++)
        q[i] = randf(&s);
    for (size_t i = 0; i < rows * dim; i++)
        x[i] = randf(&s);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        uint64_t t0 = vdb_mono_ns();
        vdb_gemm_nt(nq, rows, dim, q, dim, x, dim, c, rows);
        double ns = (double)(vdb_mono_ns() - t0);
        best = ns < best ? ns : best;
    }
    sink = c[0];
    free(q);
    free(x);
    free(c);
    return 2.0 * (double)nq * (double)rows * (double)dim / best;
}

int main(int argc, char **argv)
{
    int rounds = 9;
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else {
            fprintf(stderr, "usage: %s [--rounds N (1..%d)] [--quick]\n", argv[0], MAX_ROUNDS);
            return 2;
        }
    }
    if (rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "--rounds: 1..%d\n", MAX_ROUNDS);
        return 2;
    }
    const char *levels[MAX_LEVELS];
    size_t nl = 0;
    for (size_t i = 0; i < VDB_ARRAY_LEN(all_levels) && nl < MAX_LEVELS; i++)
        if (vdb_simd_force(all_levels[i]))
            levels[nl++] = all_levels[i];
    vdb_simd_force(NULL);
    printf("kernels: levels on this CPU:");
    for (size_t i = 0; i < nl; i++)
        printf(" %s", levels[i]);
    printf(" (automatic: %s); %d rounds, levels alternating, median\n", vdb_simd_level(),
           rounds);

    static const char *const names[] = {"l2sq", "ip", "cosine", "norm_sq", "dot_u8i16",
                                        "popcount"};
    const size_t dims[] = {128, 768};
    uint64_t s = 1;
    for (size_t di = 0; di < VDB_ARRAY_LEN(dims); di++) {
        data d = {.dim = dims[di]};
        d.a = malloc(NVEC * d.dim * sizeof *d.a);
        d.b = malloc(NVEC * d.dim * sizeof *d.b);
        d.codes = malloc(NVEC * d.dim);
        d.w = malloc(d.dim * sizeof *d.w);
        d.bits = malloc(4096 * sizeof *d.bits);
        if (!d.a || !d.b || !d.codes || !d.w || !d.bits)
            return 1;
        for (size_t i = 0; i < NVEC * d.dim; i++) {
            d.a[i] = randf(&s);
            d.b[i] = randf(&s);
            d.codes[i] = (uint8_t)rng_next(&s);
        }
        for (size_t i = 0; i < d.dim; i++)
            d.w[i] = (int16_t)((int)(rng_next(&s) % 2001) - 1000);
        for (size_t i = 0; i < 4096; i++)
            d.bits[i] = rng_next(&s);
        printf("\ndim %zu (popcount: 4096 words)\n%-10s", d.dim, "kernel");
        for (size_t l = 0; l < nl; l++)
            printf(" %10s", levels[l]);
        printf("   ns/call at portable\n");
        size_t calls = quick ? 2000 : 20000;
        for (int k = 0; k < 6; k++) {
            if (k == 5 && di > 0)
                break; /* popcount does not depend on dim */
            double t[MAX_LEVELS][MAX_ROUNDS];
            for (int r = 0; r < rounds; r++)
                for (size_t l = 0; l < nl; l++) {
                    vdb_simd_force(levels[l]);
                    t[l][r] = time_kernel(k, &d, k == 5 ? calls / 10 : calls);
                }
            double med[MAX_LEVELS] = {0};
            for (size_t l = 0; l < nl; l++) {
                qsort(t[l], (size_t)rounds, sizeof(double), cmp_double);
                med[l] = t[l][rounds / 2];
            }
            printf("%-10s", names[k]);
            for (size_t l = 0; l < nl; l++)
                printf(" %9.2fx", med[0] / med[l]);
            printf("   %.1f\n", med[0]);
        }
        vdb_simd_force(NULL);
        free(d.a);
        free(d.b);
        free(d.codes);
        free(d.w);
        free(d.bits);
    }
#ifdef VDB_HAVE_OPENBLAS
    const char *gemm = "OpenBLAS sgemm";
#else
    const char *gemm = "blocked product on the SIMD kernels";
#endif
    size_t rows = quick ? 2048 : 8192;
    printf("\nvdb_gemm_nt (%s), 64 x %zu x 768: %.2f GFLOP/s\n", gemm, rows,
           gemm_gflops(64, rows, 768, quick ? 2 : 5) / 1.0);
    return 0;
}

/* ann_data: bench_ann's data sets and their exact ground truth (ann_data.h). */
#include "ann_data.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmnist.h"

#define ALL_QUERIES 10000
#define CLUSTERED_ROWS 100000
#define CLUSTERED_DIM 256
#define CLUSTERED_LATENT 32
#define CLUSTERED_CLUSTERS 1000
#define GAUSS_DIM 96
#define ANISO_CLUSTERS 1000
#define UNIT_DIM 128

const char *const ann_dataset_names[] = {"fmnist",   "fmnist-cos", "gauss96",   "clustered",
                                         "unit128",  "aniso256",   "aniso128-1m", NULL};

/* ---- a seeded generator (splitmix64) and normal deviates (Box-Muller) ------------------------ */

typedef struct rng {
    uint64_t s;
    double spare;
    int has_spare;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* uniform in (0, 1] */
static double rng_unit(rng *r) { return ((double)(rng_next(r) >> 11) + 1.0) * 0x1p-53; }

static double rng_normal(rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u = rng_unit(r), v = rng_unit(r);
    double m = sqrt(-2.0 * log(u));
    r->spare = m * sin(2 * M_PI * v);
    r->has_spare = 1;
    return m * cos(2 * M_PI * v);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench_ann: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/* ---- exact k nearest neighbours -------------------------------------------------------------- */

#define GT_QB 256
#define GT_RB 4096
#define GT_CAND 32 /* candidates per query from the float pass, ranked again in double */

typedef struct cand {
    double s;
    int32_t id;
} cand;

static int cand_cmp(const void *pa, const void *pb)
{
    const cand *a = pa, *b = pb;
    if (a->s != b->s)
        return a->s < b->s ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

int ann_exact_knn(const float *base, size_t n, const float *queries, size_t nq, size_t dim,
                  int ip, size_t k, int32_t *gt)
{
    if (k > GT_CAND || k > n) {
        fprintf(stderr, "bench_ann: ground truth: k %zu too large\n", k);
        return -1;
    }
    float *xn = xmalloc(n * sizeof *xn);
    float *dots = xmalloc((size_t)GT_QB * GT_RB * sizeof *dots);
    float *cs = xmalloc((size_t)GT_QB * GT_CAND * sizeof *cs); /* float scores, sorted */
    int32_t *ci = xmalloc((size_t)GT_QB * GT_CAND * sizeof *ci);
    for (size_t r = 0; r < n; r++) {
        double s = 0;
        for (size_t j = 0; j < dim; j++)
            s += (double)base[r * dim + j] * base[r * dim + j];
        xn[r] = ip ? 0.0f : (float)s;
    }
    for (size_t q0 = 0; q0 < nq; q0 += GT_QB) {
        size_t m = nq - q0 < GT_QB ? nq - q0 : GT_QB;
        size_t have[GT_QB] = {0};
        for (size_t r0 = 0; r0 < n; r0 += GT_RB) {
            size_t c = n - r0 < GT_RB ? n - r0 : GT_RB;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)c, (int)dim, 1.0f,
                        queries + q0 * dim, (int)dim, base + r0 * dim, (int)dim, 0.0f, dots,
                        (int)c);
            for (size_t qi = 0; qi < m; qi++) {
                float *s = cs + qi * GT_CAND;
                int32_t *id = ci + qi * GT_CAND;
                size_t h = have[qi];
                for (size_t j = 0; j < c; j++) {
                    /* smaller is nearer: |x|^2 - 2 q.x for L2 (|q|^2 is the same for all), -q.x
                     * for IP */
                    float v = xn[r0 + j] - (ip ? 1.0f : 2.0f) * dots[qi * c + j];
                    if (h == GT_CAND && !(v < s[h - 1]))
                        continue;
                    size_t p = h == GT_CAND ? h - 1 : h++;
                    while (p > 0 && s[p - 1] > v) {
                        s[p] = s[p - 1];
                        id[p] = id[p - 1];
                        p--;
                    }
                    s[p] = v;
                    id[p] = (int32_t)(r0 + j);
                }
                have[qi] = h;
            }
        }
        for (size_t qi = 0; qi < m; qi++) {
            const float *q = queries + (q0 + qi) * dim;
            cand c[GT_CAND];
            size_t h = have[qi];
            for (size_t j = 0; j < h; j++) {
                const float *x = base + (size_t)ci[qi * GT_CAND + j] * dim;
                double s = 0;
                for (size_t t = 0; t < dim; t++) {
                    double d = ip ? -(double)q[t] * x[t] : (double)q[t] - x[t];
                    s += ip ? d : d * d;
                }
                c[j] = (cand){s, ci[qi * GT_CAND + j]};
            }
            qsort(c, h, sizeof *c, cand_cmp);
            for (size_t j = 0; j < k; j++)
                gt[(q0 + qi) * k + j] = c[j].id;
        }
    }
    free(ci);
    free(cs);
    free(dots);
    free(xn);
    return 0;
}

/* ---- the ground-truth cache ------------------------------------------------------------------ */

static uint64_t hash_floats(uint64_t h, const float *v, size_t count)
{
    const uint32_t *w = (const uint32_t *)v;
    for (size_t i = 0; i < count; i++) {
        h ^= w[i];
        h *= 0x100000001b3ull;
        h ^= h >> 29;
    }
    return h;
}

static int gt_cached(ann_dataset *d, const char *cache_dir, const float *all_queries,
                     size_t all_nq)
{
    uint64_t h = hash_floats(0xcbf29ce484222325ull, d->base, d->n * d->dim);
    h = hash_floats(h, all_queries, all_nq * d->dim);
    char path[4096];
    snprintf(path, sizeof path, "%s/ann_gt_%s_%zux%zu_%zu_%016llx.ivecs",
             cache_dir ? cache_dir : ".", d->name, d->n, d->dim, all_nq, (unsigned long long)h);
    int32_t *gt = NULL;
    size_t rows = 0, k = 0;
    FILE *f = cache_dir ? fopen(path, "rb") : NULL;
    if (f) {
        fclose(f);
        if (fmnist_read_ivecs(path, 0, &gt, &rows, &k) == 0 && rows == all_nq &&
            k == ANN_GT_K) {
            d->gt = gt;
            d->gt_k = k;
            return 0;
        }
        free(gt);
        fprintf(stderr, "bench_ann: %s: unusable, computing the ground truth again\n", path);
    }
    printf("bench_ann: computing the exact ground truth of %s (%zu queries over %zu x %zu)...\n",
           d->name, all_nq, d->n, d->dim);
    fflush(stdout);
    gt = xmalloc(all_nq * ANN_GT_K * sizeof *gt);
    if (ann_exact_knn(d->base, d->n, all_queries, all_nq, d->dim,
                      d->metric != VDB_METRIC_L2, ANN_GT_K, gt) != 0) {
        free(gt);
        return -1;
    }
    d->gt = gt;
    d->gt_k = ANN_GT_K;
    if (!cache_dir)
        return 0;
    f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "bench_ann: cannot cache %s: %s\n", path, strerror(errno));
        return 0;
    }
    int32_t w = ANN_GT_K;
    int bad = 0;
    for (size_t q = 0; q < all_nq && !bad; q++)
        bad = fwrite(&w, sizeof w, 1, f) != 1 ||
              fwrite(gt + q * ANN_GT_K, sizeof *gt, ANN_GT_K, f) != ANN_GT_K;
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "bench_ann: writing %s failed\n", path);
        remove(path);
    }
    return 0;
}

/* ---- the data sets --------------------------------------------------------------------------- */

static void normalize(float *v, size_t rows, size_t dim)
{
    for (size_t r = 0; r < rows; r++) {
        float *x = v + r * dim;
        double s = 0;
        for (size_t j = 0; j < dim; j++)
            s += (double)x[j] * x[j];
        if (s > 0) {
            double inv = 1.0 / sqrt(s);
            for (size_t j = 0; j < dim; j++)
                x[j] = (float)(x[j] * inv);
        }
    }
}

/* out (rows x to) = in (rows x from) . R, R (from x to) */
static float *project(const float *in, size_t rows, size_t from, const float *R, size_t to)
{
    float *out = xmalloc(rows * to * sizeof *out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)to, (int)from, 1.0f,
                in, (int)from, R, (int)to, 0.0f, out, (int)to);
    return out;
}

static void clustered(float **base, float **queries)
{
    const size_t L = CLUSTERED_LATENT, D = CLUSTERED_DIM, C = CLUSTERED_CLUSTERS;
    rng r = {.s = 0x5eed0c1u};
    /* Cluster centers N(0, 1) and spreads 0.5..1 per latent dimension: the clusters overlap,
     * so a query's neighbours are spread over several of them. */
    float *A = xmalloc(L * D * sizeof *A); /* latent -> data: L x D */
    float *centers = xmalloc(C * L * sizeof *centers);
    float *spread = xmalloc(C * sizeof *spread);
    for (size_t i = 0; i < L * D; i++)
        A[i] = (float)(rng_normal(&r) / sqrt((double)L));
    for (size_t c = 0; c < C; c++) {
        for (size_t j = 0; j < L; j++)
            centers[c * L + j] = (float)rng_normal(&r);
        spread[c] = (float)(0.5 + 0.5 * rng_unit(&r));
    }
    float *out[2];
    size_t rows[2] = {CLUSTERED_ROWS, ALL_QUERIES};
    for (int part = 0; part < 2; part++) {
        float *z = xmalloc(rows[part] * L * sizeof *z);
        for (size_t i = 0; i < rows[part]; i++) {
            size_t c = rng_next(&r) % C;
            for (size_t j = 0; j < L; j++)
                z[i * L + j] = centers[c * L + j] + spread[c] * (float)rng_normal(&r);
        }
        out[part] = project(z, rows[part], L, A, D);
        for (size_t i = 0; i < rows[part] * D; i++)
            out[part][i] += (float)(0.1 * rng_normal(&r));
        free(z);
    }
    free(spread);
    free(centers);
    free(A);
    *base = out[0];
    *queries = out[1];
}

/* Full-rank anisotropic Gaussian mixture: dimension j has a global scale that falls from 1 to
 * 1/8 across the dimensions, each cluster scales every dimension again by its own log-normal
 * factor (spreads as wide as the centers: the clusters overlap, so neighbours cross them).
 * No low-dimensional structure for 8-bit codes to exploit, and spreads so uneven that
 * per-dimension ranges are set by a few outliers. */
static void anisotropic(size_t rows, size_t dim, uint64_t seed, float **base, float **queries)
{
    const size_t C = ANISO_CLUSTERS;
    rng r = {.s = seed};
    float *centers = xmalloc(C * dim * sizeof *centers);
    float *scale = xmalloc(C * dim * sizeof *scale);
    for (size_t c = 0; c < C; c++)
        for (size_t j = 0; j < dim; j++) {
            double g = exp(-log(8.0) * (double)j / (double)dim);
            centers[c * dim + j] = (float)(g * rng_normal(&r));
            scale[c * dim + j] = (float)(g * exp(0.75 * rng_normal(&r)));
        }
    size_t n[2] = {rows, ALL_QUERIES};
    for (int part = 0; part < 2; part++) {
        float *v = xmalloc(n[part] * dim * sizeof *v);
        for (size_t i = 0; i < n[part]; i++) {
            size_t c = rng_next(&r) % C;
            for (size_t j = 0; j < dim; j++)
                v[i * dim + j] =
                    centers[c * dim + j] + scale[c * dim + j] * (float)rng_normal(&r);
        }
        *(part ? queries : base) = v;
    }
    free(scale);
    free(centers);
}

int ann_dataset_load(const char *name, const char *data_dir, const char *cache_dir, size_t nq,
                     ann_dataset *d)
{
    memset(d, 0, sizeof *d);
    if (nq == 0 || nq > ALL_QUERIES) {
        fprintf(stderr, "bench_ann: queries must be 1..%d\n", ALL_QUERIES);
        return -1;
    }
    int i = 0;
    while (ann_dataset_names[i] && strcmp(ann_dataset_names[i], name))
        i++;
    if (!ann_dataset_names[i]) {
        fprintf(stderr, "bench_ann: unknown data set '%s'\n", name);
        return -1;
    }
    d->name = ann_dataset_names[i];
    d->metric = VDB_METRIC_L2;
    float *q = NULL;
    size_t all_nq = 0;
    if (!strcmp(name, "clustered")) {
        d->what = "synthetic: 1,000 overlapping clusters in a 32-d space mapped to 256-d, + noise";
        d->n = CLUSTERED_ROWS;
        d->dim = CLUSTERED_DIM;
        all_nq = ALL_QUERIES;
        clustered(&d->base, &q);
    } else if (!strcmp(name, "aniso256") || !strcmp(name, "aniso128-1m")) {
        int big = !strcmp(name, "aniso128-1m");
        d->what = big ? "synthetic: 1,000,000 x 128 full-rank anisotropic Gaussian mixture"
                      : "synthetic: 200,000 x 256 full-rank anisotropic Gaussian mixture";
        d->n = big ? 1000000 : 200000;
        d->dim = big ? 128 : 256;
        all_nq = ALL_QUERIES;
        anisotropic(d->n, d->dim, big ? 0xa1500001u : 0xa1500256u, &d->base, &q);
    } else {
        size_t got;
        if (fmnist_load_base(data_dir, 0, &d->base, &d->n) != 0 ||
            fmnist_load_queries(data_dir, 0, &q, &all_nq) != 0) {
            free(d->base);
            return -1;
        }
        d->dim = FMNIST_DIM;
        if (!strcmp(name, "fmnist")) {
            d->what = "Fashion-MNIST-784 as distributed (integer pixels 0..255)";
            if (fmnist_load_groundtruth(data_dir, nq, &d->gt, &got, &d->gt_k) != 0 ||
                got < nq || d->gt_k < ANN_GT_K) {
                fprintf(stderr, "bench_ann: the Fashion-MNIST ground truth is too short\n");
                free(d->base);
                free(q);
                free(d->gt);
                return -1;
            }
        } else if (!strcmp(name, "fmnist-cos")) {
            d->what = "Fashion-MNIST-784, each vector scaled to unit length";
            d->metric = VDB_METRIC_COSINE;
            normalize(d->base, d->n, d->dim);
            normalize(q, all_nq, d->dim);
        } else if (!strcmp(name, "unit128")) {
            d->what = "Fashion-MNIST through a random Gaussian projection to 128-d, unit length, IP";
            d->metric = VDB_METRIC_IP;
            rng r = {.s = 0x128u};
            float *R = xmalloc((size_t)FMNIST_DIM * UNIT_DIM * sizeof *R);
            for (size_t j = 0; j < (size_t)FMNIST_DIM * UNIT_DIM; j++)
                R[j] = (float)rng_normal(&r);
            float *b2 = project(d->base, d->n, FMNIST_DIM, R, UNIT_DIM);
            float *q2 = project(q, all_nq, FMNIST_DIM, R, UNIT_DIM);
            free(R);
            free(d->base);
            free(q);
            d->base = b2;
            q = q2;
            d->dim = UNIT_DIM;
            normalize(d->base, d->n, d->dim);
            normalize(q, all_nq, d->dim);
        } else { /* gauss96 */
            d->what = "Fashion-MNIST through a random Gaussian projection to 96-d";
            rng r = {.s = 0x96u};
            float *R = xmalloc((size_t)FMNIST_DIM * GAUSS_DIM * sizeof *R);
            for (size_t j = 0; j < (size_t)FMNIST_DIM * GAUSS_DIM; j++)
                R[j] = (float)(rng_normal(&r) / sqrt((double)GAUSS_DIM));
            float *b2 = project(d->base, d->n, FMNIST_DIM, R, GAUSS_DIM);
            float *q2 = project(q, all_nq, FMNIST_DIM, R, GAUSS_DIM);
            free(R);
            free(d->base);
            free(q);
            d->base = b2;
            q = q2;
            d->dim = GAUSS_DIM;
        }
    }
    if (!d->gt && gt_cached(d, cache_dir, q, all_nq) != 0) {
        free(d->base);
        free(q);
        return -1;
    }
    d->queries = q;
    d->nq = nq;
    return 0;
}

void ann_dataset_free(ann_dataset *d)
{
    free(d->base);
    free(d->queries);
    free(d->gt);
    memset(d, 0, sizeof *d);
}

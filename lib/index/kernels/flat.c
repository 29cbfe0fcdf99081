/* Exact (flat) search under a bitset: SIMD kernels for a few queries, a matrix product
 * (vdb_gemm_nt: OpenBLAS sgemm, or the portable one) for batches. */
#include <limits.h>
#include <math.h>

#include "index/kernels/kernels.h"

/* From this many queries up, one sgemm over a block of rows beats running the kernels query by
 * query (bench/bench_flat measures both sides of it). */
#ifndef VDB_FLAT_GEMM_MIN_NQ
#define VDB_FLAT_GEMM_MIN_NQ 16
#endif
/* Queries per sgemm call, and the byte budgets that size the row block: the score matrix and
 * a gathered copy of the rows stay a few MiB so they live in cache next to the heaps. */
#define QUERY_BLOCK 256
#define SCORE_BUDGET (2u << 20)
#define GATHER_BUDGET (8u << 20)
#define ROW_BLOCK_MIN 64
#define ROW_BLOCK_MAX 4096

/* Rows outer, queries inner: each row is read from memory once for all queries. */
static void search_kernels(const float *base, size_t n, size_t dim, vdb_metric metric,
                           const float *queries, size_t nq, const uint64_t *bitset,
                           int64_t id_base, vdb_topk *out)
{
    for (size_t r = vdb_bitset_next(bitset, n, 0); r < n; r = vdb_bitset_next(bitset, n, r + 1)) {
        const float *x = base + r * dim;
        for (size_t q = 0; q < nq; q++)
            vdb_topk_offer(&out[q], vdb_dist(metric, queries + q * dim, x, dim),
                           id_base + (int64_t)r);
    }
}

/* The same over rows of FLOAT16 / BFLOAT16 / INT8 elements, read in place. */
static void search_kernels_t(vdb_type t, const void *base, size_t n, size_t dim,
                             vdb_metric metric, const float *queries, size_t nq,
                             const uint64_t *bitset, int64_t id_base, vdb_topk *out)
{
    size_t width = dim * vdb_vector_elem_size(t);
    for (size_t r = vdb_bitset_next(bitset, n, 0); r < n; r = vdb_bitset_next(bitset, n, r + 1)) {
        const void *x = (const uint8_t *)base + r * width;
        for (size_t q = 0; q < nq; q++) {
            float d = vdb_dist_t(t, metric, queries + q * dim, x, dim);
            if (!isnan(d))
                vdb_topk_offer(&out[q], d, id_base + (int64_t)r);
        }
    }
}

/* Turns one query's row of dot products into scores, in place: one branch-free pass the
 * compiler vectorizes. */
static void to_scores(vdb_metric metric, float *restrict s, size_t cnt,
                      const float *restrict xnorm, float qn)
{
    if (metric == VDB_METRIC_L2) {
        for (size_t j = 0; j < cnt; j++) {
            /* Rounding in the expansion can dip below zero for near duplicates. */
            float v = qn + xnorm[j] - 2.0f * s[j];
            s[j] = v < 0 ? 0 : v;
        }
    } else if (metric == VDB_METRIC_COSINE) {
        /* The cosine, 0 against a zero vector, without a branch so that this loop vectorizes
         * too (a select after a division that may trap does not, under the default
         * -ftrapping-math): the same division, its bits cleared (+0) where the row's norm is
         * 0 */
        if (qn == 0) {
            for (size_t j = 0; j < cnt; j++)
                s[j] = 0;
            return;
        }
        for (size_t j = 0; j < cnt; j++) {
            float v = s[j] / (qn * xnorm[j]);
            uint32_t bits;
            memcpy(&bits, &v, sizeof bits);
            bits &= -(uint32_t)(xnorm[j] != 0);
            memcpy(&s[j], &bits, sizeof bits);
        }
    }
}

/* Whether any of s[0..SCAN_CHUNK) beats bar (NaN never does); vectorized, branch-free. */
#define SCAN_CHUNK 32
static inline bool chunk_beats(const float *s, float bar, bool hb)
{
    int any = 0;
    if (hb)
        for (size_t j = 0; j < SCAN_CHUNK; j++)
            any |= s[j] >= bar;
    else
        for (size_t j = 0; j < SCAN_CHUNK; j++)
            any |= s[j] <= bar;
    return any;
}

/* Offers one query's row of scores. This runs once per (query, row) pair and is the one serial
 * cost beside the norms while the sgemm threads wait, so whole chunks that hold nothing better
 * than the bar are skipped with a vector compare; the rest is walked row by row with the same
 * compares and pushes as a plain loop, so the results do not change. */
static void scan_scores(vdb_topk *t, const float *s, size_t cnt, int64_t id_base,
                        const size_t *idx, size_t row0)
{
    bool hb = t->higher_better;
    float bar = t->n == t->k ? t->dist[0] : hb ? -INFINITY : INFINITY;
    for (size_t j0 = 0; j0 < cnt; j0 += SCAN_CHUNK) {
        size_t m = VDB_MIN((size_t)SCAN_CHUNK, cnt - j0);
        if (m == SCAN_CHUNK && !chunk_beats(s + j0, bar, hb))
            continue;
        for (size_t j = j0; j < j0 + m; j++) {
            /* NaN fails both compares and is dropped. */
            if (hb ? !(s[j] >= bar) : !(s[j] <= bar))
                continue;
            vdb_topk_push(t, s[j], id_base + (int64_t)(idx ? idx[j] : row0 + j));
            if (t->n == t->k)
                bar = t->dist[0];
        }
    }
}

/* Collects up to cap selected rows from *cursor on; returns how many. */
static size_t next_rows(const uint64_t *bitset, size_t n, size_t *cursor, size_t cap,
                        size_t *rows)
{
    size_t cnt = 0, r = *cursor;
    while (cnt < cap && (r = vdb_bitset_next(bitset, n, r)) < n)
        rows[cnt++] = r++;
    *cursor = r;
    return cnt;
}

static vdb_status search_gemm(const float *base, size_t n, size_t dim, vdb_metric metric,
                              const float *queries, size_t nq, const uint64_t *bitset,
                              int64_t id_base, vdb_topk *out)
{
    vdb_status st = VDB_ENOMEM;
    size_t qb = VDB_MIN(nq, (size_t)QUERY_BLOCK);
    size_t rb = SCORE_BUDGET / (qb * sizeof(float));
    if (bitset)
        rb = VDB_MIN(rb, GATHER_BUDGET / (dim * sizeof(float)));
    rb = VDB_MIN(VDB_MAX(rb, (size_t)ROW_BLOCK_MIN), (size_t)ROW_BLOCK_MAX);
    rb = VDB_MIN(rb, n);

    float *qnorm = vdb_calloc(nq, sizeof(float));
    float *xnorm = vdb_calloc(rb, sizeof(float));
    float *scores = vdb_calloc(qb * rb, sizeof(float));
    size_t *rows = bitset ? vdb_calloc(rb, sizeof(size_t)) : NULL;
    float *gather = NULL;
    if (!qnorm || !xnorm || !scores || (bitset && !rows))
        goto fail;

    /* L2 needs |q|^2, cosine needs |q|; IP needs neither. */
    if (metric != VDB_METRIC_IP) {
        for (size_t q = 0; q < nq; q++) {
            float s = vdb_norm_sq(queries + q * dim, dim);
            qnorm[q] = metric == VDB_METRIC_COSINE ? sqrtf(s) : s;
        }
    }

    size_t cursor = 0;
    while (cursor < n) {
        const float *x;
        size_t cnt, row0 = cursor;
        const size_t *idx = NULL;
        if (!bitset) {
            cnt = VDB_MIN(rb, n - cursor);
            x = base + cursor * dim;
            cursor += cnt;
        } else {
            cnt = next_rows(bitset, n, &cursor, rb, rows);
            if (cnt == 0)
                break;
            row0 = rows[0];
            x = base + row0 * dim;
            /* A dense run needs no copy; scattered rows are packed so sgemm sees one matrix. */
            if (rows[cnt - 1] - rows[0] + 1 != cnt) {
                if (!gather && !(gather = vdb_malloc(rb * dim * sizeof(float))))
                    goto fail;
                for (size_t j = 0; j < cnt; j++)
                    memcpy(gather + j * dim, base + rows[j] * dim, dim * sizeof(float));
                x = gather;
                idx = rows;
            }
        }
        if (metric != VDB_METRIC_IP) {
            for (size_t j = 0; j < cnt; j++) {
                float s = vdb_norm_sq(x + j * dim, dim);
                xnorm[j] = metric == VDB_METRIC_COSINE ? sqrtf(s) : s;
            }
        }
        for (size_t q0 = 0; q0 < nq; q0 += qb) {
            size_t m = VDB_MIN(qb, nq - q0);
            vdb_gemm_nt(m, cnt, dim, queries + q0 * dim, dim, x, dim, scores, cnt);
            for (size_t qi = 0; qi < m; qi++) {
                float *s = scores + qi * cnt;
                to_scores(metric, s, cnt, xnorm, qnorm[q0 + qi]);
                scan_scores(&out[q0 + qi], s, cnt, id_base, idx, row0);
            }
        }
    }
    st = VDB_OK;
fail:
    if (st != VDB_OK)
        vdb_set_errmsg(st, "flat search: out of memory (%zu queries, %zu rows of dim %zu)", nq,
                       rb, dim);
    vdb_free(gather);
    vdb_free(rows);
    vdb_free(scores);
    vdb_free(xnorm);
    vdb_free(qnorm);
    return st;
}

vdb_status vdb_flat_search(const float *base, size_t n, size_t dim, vdb_metric metric,
                           const float *queries, size_t nq, const uint64_t *bitset,
                           int64_t id_base, vdb_topk *out)
{
    return vdb_flat_search_t(VDB_TYPE_FLOAT_VECTOR, base, n, dim, metric, queries, nq, bitset,
                             id_base, out);
}

vdb_status vdb_flat_search_t(vdb_type type, const void *base, size_t n, size_t dim,
                             vdb_metric metric, const float *queries, size_t nq,
                             const uint64_t *bitset, int64_t id_base, vdb_topk *out)
{
    if (!vdb_type_is_float_query(type))
        return vdb_set_errmsg(VDB_EINVAL, "flat search: %s is not a dense vector type of "
                              "float queries", vdb_type_name(type));
    if (metric != VDB_METRIC_L2 && metric != VDB_METRIC_IP && metric != VDB_METRIC_COSINE)
        return vdb_set_errmsg(VDB_EINVAL, "flat search: unknown metric %d", (int)metric);
    if (dim == 0 || dim > INT_MAX)
        return vdb_set_errmsg(VDB_EINVAL, "flat search: dimension %zu out of range", dim);
    if (nq == 0 || n == 0)
        return VDB_OK;
    if (!base || !queries || !out)
        return vdb_set_errmsg(VDB_EINVAL, "flat search: NULL base, queries or results");
    if (n > SIZE_MAX / sizeof(float) / dim || nq > SIZE_MAX / sizeof(float) / dim)
        return vdb_set_errmsg(VDB_EINVAL, "flat search: %zu x %zu floats overflow", n, dim);
    bool hb = vdb_metric_higher_is_better(metric);
    for (size_t q = 0; q < nq; q++) {
        if (out[q].higher_better != hb || out[q].k == 0)
            return vdb_set_errmsg(VDB_EINVAL,
                                  "flat search: heap %zu does not fit metric %s (or k is 0)", q,
                                  vdb_metric_name(metric));
    }
    if (type != VDB_TYPE_FLOAT_VECTOR) {
        search_kernels_t(type, base, n, dim, metric, queries, nq, bitset, id_base, out);
        return VDB_OK;
    }
    if (nq < VDB_FLAT_GEMM_MIN_NQ) {
        search_kernels(base, n, dim, metric, queries, nq, bitset, id_base, out);
        return VDB_OK;
    }
    return search_gemm(base, n, dim, metric, queries, nq, bitset, id_base, out);
}

/* Rows outer, queries inner, as search_kernels; the kernels are fetched once. */
vdb_status vdb_flat_search_bin(const uint8_t *base, size_t n, size_t nbytes, vdb_metric metric,
                               const uint8_t *queries, size_t nq, const uint64_t *bitset,
                               int64_t id_base, vdb_topk *out)
{
    if (!vdb_metric_is_binary(metric))
        return vdb_set_errmsg(VDB_EINVAL, "flat search: metric %s is not one of binary vectors "
                              "(HAMMING, JACCARD)", vdb_metric_name(metric));
    if (nbytes == 0)
        return vdb_set_errmsg(VDB_EINVAL, "flat search: binary rows of 0 bytes");
    if (nq == 0 || n == 0)
        return VDB_OK;
    if (!base || !queries || !out)
        return vdb_set_errmsg(VDB_EINVAL, "flat search: NULL base, queries or results");
    for (size_t q = 0; q < nq; q++)
        if (out[q].higher_better || out[q].k == 0)
            return vdb_set_errmsg(VDB_EINVAL,
                                  "flat search: heap %zu does not fit metric %s (or k is 0)", q,
                                  vdb_metric_name(metric));
    const vdb_bin_kernels *k = vdb_bin_kernels_active();
    for (size_t r = vdb_bitset_next(bitset, n, 0); r < n; r = vdb_bitset_next(bitset, n, r + 1)) {
        const uint8_t *x = base + r * nbytes;
        for (size_t q = 0; q < nq; q++) {
            float d;
            if (metric == VDB_METRIC_HAMMING) {
                d = (float)k->hamming(queries + q * nbytes, x, nbytes);
            } else {
                uint32_t ao[2];
                k->and_or(queries + q * nbytes, x, nbytes, ao);
                d = vdb_jaccard_of(ao);
            }
            vdb_topk_offer(&out[q], d, id_base + (int64_t)r);
        }
    }
    return VDB_OK;
}

/* BM25: term vectors from analyzed text (term id: murmur3 of the token, as Milvus's BM25
 * function; value: the count), statistics of the visible rows, and Okapi BM25 scores. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/bm25.h"
#include "core/partkey.h"

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

vdb_status vdb_bm25_terms(const vdb_analyzer *a, const char *text, size_t n, vdb_tokens *tk,
                          vdb_buf *out, uint32_t *nterms)
{
    *nterms = 0;
    vdb_status st = vdb_analyze(a, text, n, tk);
    if (st != VDB_OK)
        return st;
    if (!tk->n)
        return VDB_OK;
    uint32_t *h = vdb_malloc(tk->n * sizeof *h);
    if (!h)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (size_t i = 0; i < tk->n; i++)
        h[i] = vdb_murmur3_32(vdb_token_str(tk, i), tk->t[i].len, 0);
    qsort(h, tk->n, sizeof *h, cmp_u32);
    size_t m = 0;
    for (size_t i = 0; i < tk->n; i++)
        if (i == 0 || h[i] != h[i - 1])
            m++;
    size_t at = out->len;
    if (!vdb_buf_reserve(out, m * 8)) {
        vdb_free(h);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    uint32_t *idx = (uint32_t *)(void *)(out->p + at);
    float *val = (float *)(void *)(out->p + at + m * 4);
    size_t j = 0;
    for (size_t i = 0; i < tk->n; i++) {
        if (i == 0 || h[i] != h[i - 1]) {
            idx[j] = h[i];
            val[j++] = 1.0f;
        } else {
            val[j - 1] += 1.0f;
        }
    }
    out->len += m * 8;
    *nterms = (uint32_t)m;
    vdb_free(h);
    return VDB_OK;
}

vdb_status vdb_bm25_fill(const vdb_field_def *in, const vdb_column *src, vdb_column *dst)
{
    char what[300];
    snprintf(what, sizeof what, "field '%s'", in->name);
    vdb_analyzer *a = NULL;
    vdb_status st = vdb_analyzer_new(in->analyzer_params,
                                     in->analyzer_params ? strlen(in->analyzer_params) : 0,
                                     what, &a);
    vdb_tokens tk = {0};
    vdb_buf row = {0};
    for (size_t r = 0; r < src->rows && st == VDB_OK; r++) {
        row.len = 0;
        uint32_t m = 0;
        if (!vdb_column_is_null(src, r)) {
            size_t len;
            const char *s = vdb_column_var(src, r, &len);
            st = vdb_bm25_terms(a, s, len, &tk, &row, &m);
            if (st != VDB_OK) {
                st = vdb_set_errmsg(st, "field '%s' row %zu: %s", in->name, r, vdb_err_get());
                break;
            }
        }
        st = vdb_column_push(dst, row.p ? row.p : (const uint8_t *)"", row.len, true);
    }
    vdb_buf_free(&row);
    vdb_tokens_free(&tk);
    vdb_analyzer_free(a);
    return st;
}

size_t vdb_bm25_find(const vdb_bm25_stats *st, uint32_t t)
{
    size_t lo = 0, hi = st->nterms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->terms[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < st->nterms && st->terms[lo] == t ? lo : st->nterms;
}

void vdb_bm25_stats_add(vdb_bm25_stats *st, const vdb_column *vc, size_t rows,
                        const uint64_t *visible, float *dl)
{
    for (size_t r = 0; r < rows; r++) {
        vdb_sparse_vec v = vdb_sparse_view(vc->bytes + vc->offsets[r],
                                           (size_t)(vc->offsets[r + 1] - vc->offsets[r]));
        double len = 0;
        for (uint32_t i = 0; i < v.n; i++)
            len += v.val[i];
        dl[r] = (float)len;
        if (!(visible[r >> 6] >> (r & 63) & 1))
            continue;
        st->docs += 1;
        st->total_len += len;
        for (uint32_t i = 0; i < v.n; i++) {
            size_t k = vdb_bm25_find(st, v.idx[i]);
            if (k < st->nterms)
                st->df[k] += 1;
        }
    }
}

size_t vdb_bm25_unique(uint32_t *t, size_t n)
{
    qsort(t, n, sizeof *t, cmp_u32);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (!u || t[i] != t[u - 1])
            t[u++] = t[i];
    return u;
}

double vdb_bm25_idf(const vdb_bm25_stats *st, size_t term)
{
    double df = st->df[term];
    return log(1.0 + (st->docs - df + 0.5) / (df + 0.5));
}

static inline float doc_part(const vdb_bm25_scorer *sc, float tf, float dl)
{
    double norm = sc->k1 * (1.0 - sc->b + sc->b * (double)dl / sc->avgdl);
    return (float)((double)tf * (sc->k1 + 1.0) / ((double)tf + norm));
}

static float term_score(const void *arg, uint32_t dim, float q, float v, uint32_t row)
{
    (void)dim;
    const vdb_bm25_scorer *sc = arg;
    return q * doc_part(sc, v, sc->dl[row]);
}

/* tf (k1 + 1) / (tf + k1 (1 - b + b dl / avgdl)) grows with tf and shrinks with dl: its
 * largest value for tf <= vmax is at tf = vmax, dl = 0. */
static float term_bound(const void *arg, uint32_t dim, float q, float vmax)
{
    (void)dim;
    const vdb_bm25_scorer *sc = arg;
    double norm = sc->k1 * (1.0 - sc->b);
    return (float)((double)q * vmax * (sc->k1 + 1.0) / ((double)vmax + norm)) * 1.0001f;
}

vdb_sparse_scorer vdb_bm25_sparse_scorer(const vdb_bm25_scorer *sc)
{
    return (vdb_sparse_scorer){term_score, term_bound, sc};
}

void vdb_bm25_flat_search(const vdb_column *vc, size_t rows, const vdb_sparse_vec *q,
                          const vdb_bm25_scorer *sc, const uint64_t *bits, int64_t id_base,
                          vdb_topk *out)
{
    if (!q->n)
        return;
    for (size_t r = vdb_bitset_next(bits, rows, 0); r < rows;
         r = vdb_bitset_next(bits, rows, r + 1)) {
        vdb_sparse_vec row = vdb_sparse_view(vc->bytes + vc->offsets[r],
                                             (size_t)(vc->offsets[r + 1] - vc->offsets[r]));
        float s = 0.0f;
        uint32_t i = 0, j = 0;
        while (i < q->n && j < row.n) {
            uint32_t x = q->idx[i], y = row.idx[j];
            if (x == y)
                s += q->val[i++] * doc_part(sc, row.val[j++], sc->dl[r]);
            else if (x < y)
                i++;
            else
                j++;
        }
        if (s > 0.0f)
            vdb_topk_offer(out, s, id_base + (int64_t)r);
    }
}

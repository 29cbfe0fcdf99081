/* SPARSE_INVERTED_INDEX and SPARSE_WAND: posting lists per dimension with block maxima
 * (sparse.h), the exhaustive term-at-a-time walk and the block-max WAND walk, the saved
 * format, and the two vector-index kinds over them. */
#include <math.h>
#include <stdlib.h>

#include "index/vector/sparse.h"

#define SPARSE_FORMAT 2 /* what encode writes; format 1 (no blocks, no alignment) still read */
#define SPARSE_ALIGN 64u
#define SPARSE_NARR 8u    /* format 2: the arrays, in the order of struct vdb_sparse_index */
#define SPARSE_V2_HEAD (4 + 8 + 4 + 8 + 8 + SPARSE_NARR * 8)

struct vdb_sparse_index {
    size_t nrows;
    uint32_t ndims;
    uint32_t *dims;   /* ndims distinct dimensions, ascending */
    uint64_t *start;  /* ndims + 1: postings of dims[i] are [start[i], start[i + 1]) */
    uint32_t *prow;   /* postings: rows, ascending within a dimension */
    float *pval;      /* ... and their values */
    uint64_t *bstart; /* ndims + 1: blocks of dims[i] are [bstart[i], bstart[i + 1]) */
    float *bmax;      /* per block: its largest value */
    uint32_t *blast;  /* per block: its last row */
    float *dmax;      /* per dimension: its largest value */
    bool view;        /* the arrays are the caller's bytes (a mapped file), not owned */
};

void vdb_sparse_index_free(vdb_sparse_index *ix)
{
    if (!ix)
        return;
    if (ix->view) {
        vdb_free(ix);
        return;
    }
    vdb_free(ix->dims);
    vdb_free(ix->start);
    vdb_free(ix->prow);
    vdb_free(ix->pval);
    vdb_free(ix->bstart);
    vdb_free(ix->bmax);
    vdb_free(ix->blast);
    vdb_free(ix->dmax);
    vdb_free(ix);
}

size_t vdb_sparse_index_rows(const vdb_sparse_index *ix) { return ix->nrows; }

size_t vdb_sparse_index_memory(const vdb_sparse_index *ix)
{
    size_t np = ix->start[ix->ndims], nb = ix->bstart[ix->ndims];
    if (ix->view) /* the arrays are page cache */
        return sizeof *ix;
    return sizeof *ix + ix->ndims * (4 + 4 + 16) + np * 8 + nb * 8;
}

static int64_t find_dim(const vdb_sparse_index *ix, uint32_t d)
{
    size_t lo = 0, hi = ix->ndims;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ix->dims[mid] < d)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ix->ndims && ix->dims[lo] == d ? (int64_t)lo : -1;
}

uint32_t vdb_sparse_index_df(const vdb_sparse_index *ix, uint32_t dim)
{
    int64_t i = find_dim(ix, dim);
    return i < 0 ? 0 : (uint32_t)(ix->start[i + 1] - ix->start[i]);
}

/* Blocks and maxima from the postings (build and decode share it). */
static vdb_status finish(vdb_sparse_index *ix)
{
    size_t nb = 0;
    for (uint32_t d = 0; d < ix->ndims; d++)
        nb += (size_t)((ix->start[d + 1] - ix->start[d] + VDB_SPARSE_BLOCK - 1) /
                       VDB_SPARSE_BLOCK);
    ix->bstart = vdb_malloc(((size_t)ix->ndims + 1) * sizeof *ix->bstart);
    ix->bmax = vdb_malloc((nb + 1) * sizeof *ix->bmax);
    ix->blast = vdb_malloc((nb + 1) * sizeof *ix->blast);
    ix->dmax = vdb_malloc(((size_t)ix->ndims + 1) * sizeof *ix->dmax);
    if (!ix->bstart || !ix->bmax || !ix->blast || !ix->dmax)
        return vdb_set_errmsg(VDB_ENOMEM, "sparse index: out of memory");
    size_t b = 0;
    for (uint32_t d = 0; d < ix->ndims; d++) {
        ix->bstart[d] = b;
        float dm = 0.0f;
        for (uint64_t p = ix->start[d]; p < ix->start[d + 1]; p += VDB_SPARSE_BLOCK, b++) {
            uint64_t e = VDB_MIN(p + VDB_SPARSE_BLOCK, ix->start[d + 1]);
            float m = 0.0f;
            for (uint64_t j = p; j < e; j++)
                m = VDB_MAX(m, ix->pval[j]);
            ix->bmax[b] = m;
            ix->blast[b] = ix->prow[e - 1];
            dm = VDB_MAX(dm, m);
        }
        ix->dmax[d] = dm;
    }
    ix->bstart[ix->ndims] = b;
    return VDB_OK;
}

/* The value at rank k (0-based, ascending) of a[0..n): quickselect, a is reordered. */
static float kth_smallest(float *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = a[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return a[k];
    }
    return a[k];
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

vdb_status vdb_sparse_index_build(const vdb_vectors *rows, double drop_ratio,
                                  vdb_sparse_index **out)
{
    *out = NULL;
    if (rows->type != VDB_TYPE_SPARSE_FLOAT_VECTOR || (rows->n && !rows->offsets))
        return vdb_set_errmsg(VDB_EINVAL, "sparse index: the rows are not sparse vectors");
    if (rows->n > UINT32_MAX)
        return vdb_set_errmsg(VDB_EINVAL, "sparse index: too many rows (%zu)", rows->n);
    const char *bytes = rows->data;
    size_t total = 0;
    for (size_t r = 0; r < rows->n; r++)
        total += (size_t)(rows->offsets[r + 1] - rows->offsets[r]) / 8;
    vdb_sparse_index *ix = vdb_calloc(1, sizeof *ix);
    float *tmp = NULL;
    uint32_t *alld = NULL;
    uint64_t *fill = NULL;
    vdb_status st = ix ? VDB_OK : vdb_set_errmsg(VDB_ENOMEM, "sparse index: out of memory");
    if (st != VDB_OK)
        return st;
    ix->nrows = rows->n;
    /* the value below which stored values are left out (drop_ratio_build) */
    float cut = 0.0f;
    bool cutting = false;
    size_t ndrop = (size_t)(drop_ratio * (double)total);
    if (ndrop > 0 && total > 0) {
        if (!(tmp = vdb_malloc(total * sizeof *tmp)))
            goto nomem;
        size_t k = 0;
        for (size_t r = 0; r < rows->n; r++) {
            vdb_sparse_vec v = vdb_sparse_view(bytes + rows->offsets[r],
                                               (size_t)(rows->offsets[r + 1] - rows->offsets[r]));
            for (uint32_t j = 0; j < v.n; j++)
                tmp[k++] = v.val[j];
        }
        cut = kth_smallest(tmp, total, ndrop);
        cutting = true;
        vdb_free(tmp);
        tmp = NULL;
    }
#define KEEP(x) (!cutting || (x) >= cut)
    /* the distinct dimensions */
    if (!(alld = vdb_malloc((total + 1) * sizeof *alld)))
        goto nomem;
    size_t nd = 0, kept = 0;
    for (size_t r = 0; r < rows->n; r++) {
        vdb_sparse_vec v = vdb_sparse_view(bytes + rows->offsets[r],
                                           (size_t)(rows->offsets[r + 1] - rows->offsets[r]));
        for (uint32_t j = 0; j < v.n; j++)
            if (KEEP(v.val[j])) {
                alld[nd++] = v.idx[j];
                kept++;
            }
    }
    qsort(alld, nd, sizeof *alld, cmp_u32);
    size_t u = 0;
    for (size_t i = 0; i < nd; i++)
        if (!u || alld[u - 1] != alld[i])
            alld[u++] = alld[i];
    ix->ndims = (uint32_t)u;
    ix->dims = vdb_malloc((u + 1) * sizeof *ix->dims);
    ix->start = vdb_calloc(u + 1, sizeof *ix->start);
    fill = vdb_calloc(u + 1, sizeof *fill);
    ix->prow = vdb_malloc((kept + 1) * sizeof *ix->prow);
    ix->pval = vdb_malloc((kept + 1) * sizeof *ix->pval);
    if (!ix->dims || !ix->start || !fill || !ix->prow || !ix->pval)
        goto nomem;
    memcpy(ix->dims, alld, u * sizeof *alld);
    vdb_free(alld);
    alld = NULL;
    /* counts, then the postings in row order (so each list is ascending) */
    for (size_t r = 0; r < rows->n; r++) {
        vdb_sparse_vec v = vdb_sparse_view(bytes + rows->offsets[r],
                                           (size_t)(rows->offsets[r + 1] - rows->offsets[r]));
        for (uint32_t j = 0; j < v.n; j++)
            if (KEEP(v.val[j]))
                ix->start[find_dim(ix, v.idx[j]) + 1]++;
    }
    for (size_t d = 0; d < u; d++)
        ix->start[d + 1] += ix->start[d];
    for (size_t d = 0; d < u; d++)
        fill[d] = ix->start[d];
    for (size_t r = 0; r < rows->n; r++) {
        vdb_sparse_vec v = vdb_sparse_view(bytes + rows->offsets[r],
                                           (size_t)(rows->offsets[r + 1] - rows->offsets[r]));
        for (uint32_t j = 0; j < v.n; j++)
            if (KEEP(v.val[j])) {
                uint64_t p = fill[find_dim(ix, v.idx[j])]++;
                ix->prow[p] = (uint32_t)r;
                ix->pval[p] = v.val[j];
            }
    }
#undef KEEP
    vdb_free(fill);
    if ((st = finish(ix)) != VDB_OK) {
        vdb_sparse_index_free(ix);
        return st;
    }
    *out = ix;
    return VDB_OK;
nomem:
    vdb_free(tmp);
    vdb_free(alld);
    vdb_free(fill);
    vdb_sparse_index_free(ix);
    return vdb_set_errmsg(VDB_ENOMEM, "sparse index: out of memory");
}

/* ---- search ---- */

static inline float term_score(const vdb_sparse_scorer *sc, uint32_t dim, float q, float v,
                               uint32_t row)
{
    return sc ? sc->term(sc->arg, dim, q, v, row) : q * v;
}

static inline float term_bound(const vdb_sparse_scorer *sc, uint32_t dim, float q, float vmax)
{
    return sc ? sc->bound(sc->arg, dim, q, vmax) : q * vmax;
}

static inline bool allowed(const uint64_t *bitset, uint32_t r)
{
    return !bitset || (bitset[r >> 6] >> (r & 63) & 1);
}

static vdb_status search_taat(const vdb_sparse_index *ix, const vdb_sparse_vec *q,
                              const vdb_sparse_scorer *sc, const uint64_t *bitset,
                              int64_t id_base, vdb_topk *out)
{
    float *acc = vdb_calloc(ix->nrows + 1, sizeof *acc);
    if (!acc)
        return vdb_set_errmsg(VDB_ENOMEM, "sparse index: out of memory");
    /* query terms in ascending index order: each row's sum is added up in the order the
     * exact scan adds it (the same float result) */
    for (uint32_t t = 0; t < q->n; t++) {
        int64_t d = find_dim(ix, q->idx[t]);
        if (d < 0 || q->val[t] <= 0.0f)
            continue;
        float qv = q->val[t];
        for (uint64_t p = ix->start[d]; p < ix->start[d + 1]; p++)
            acc[ix->prow[p]] += term_score(sc, q->idx[t], qv, ix->pval[p], ix->prow[p]);
    }
    for (size_t r = vdb_bitset_next(bitset, ix->nrows, 0); r < ix->nrows;
         r = vdb_bitset_next(bitset, ix->nrows, r + 1))
        if (acc[r] > 0.0f)
            vdb_topk_offer(out, acc[r], id_base + (int64_t)r);
    vdb_free(acc);
    return VDB_OK;
}

/* One query term's cursor over its posting list. */
typedef struct cursor {
    uint32_t term;      /* position in the query (the order scores are summed in) */
    uint32_t dim;
    float q, ub;        /* query value; bound of its contribution over the whole list */
    uint64_t p, end;    /* current posting, end of the list */
    uint64_t b, bend;   /* current block, end of the list's blocks */
    uint32_t doc;       /* prow[p], or UINT32_MAX past the end */
    uint64_t first, b0; /* the list's first posting and first block */
} cursor;

static inline void cur_set(const vdb_sparse_index *ix, cursor *c)
{
    c->doc = c->p < c->end ? ix->prow[c->p] : UINT32_MAX;
}

/* Moves the block pointer to the block that holds (or would hold) row target. */
static inline void cur_shallow(const vdb_sparse_index *ix, cursor *c, uint32_t target)
{
    while (c->b < c->bend && ix->blast[c->b] < target)
        c->b++;
}

/* Moves c to its first posting with row >= target: whole blocks by their last rows, then a
 * binary search inside the block. */
static inline void cur_seek(const vdb_sparse_index *ix, cursor *c, uint32_t target)
{
    if (c->doc >= target)
        return;
    cur_shallow(ix, c, target);
    if (c->b >= c->bend) {
        c->p = c->end;
        c->doc = UINT32_MAX;
        return;
    }
    uint64_t lo = VDB_MAX(c->p, c->first + (c->b - c->b0) * VDB_SPARSE_BLOCK);
    uint64_t hi = VDB_MIN(c->first + (c->b - c->b0 + 1) * VDB_SPARSE_BLOCK, c->end);
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (ix->prow[mid] < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    c->p = lo;
    cur_set(ix, c);
}

static vdb_status search_wand(const vdb_sparse_index *ix, const vdb_sparse_vec *q,
                              const vdb_sparse_scorer *sc, const uint64_t *bitset,
                              int64_t id_base, vdb_topk *out)
{
    cursor *cs = vdb_malloc(((size_t)q->n + 1) * sizeof *cs);
    cursor **ord = vdb_malloc(((size_t)q->n + 1) * sizeof *ord);
    if (!cs || !ord) {
        vdb_free(cs);
        vdb_free(ord);
        return vdb_set_errmsg(VDB_ENOMEM, "sparse index: out of memory");
    }
    uint32_t n = 0;
    for (uint32_t t = 0; t < q->n; t++) {
        int64_t d = find_dim(ix, q->idx[t]);
        if (d < 0 || q->val[t] <= 0.0f)
            continue;
        cursor *c = &cs[n];
        *c = (cursor){t, q->idx[t], q->val[t], term_bound(sc, q->idx[t], q->val[t], ix->dmax[d]),
                      ix->start[d], ix->start[d + 1], ix->bstart[d], ix->bstart[d + 1], 0,
                      ix->start[d], ix->bstart[d]};
        cur_set(ix, c);
        ord[n++] = c;
    }
    /* bounds are rounded up a little: a row whose true score equals the bar must still be
     * looked at (a tie goes to the smaller id) */
    const float slack = 1.0f + 1e-5f;
    while (n > 0) {
        /* cursors by current row (insertion sort: few terms, nearly sorted) */
        for (uint32_t i = 1; i < n; i++) {
            cursor *c = ord[i];
            uint32_t j = i;
            while (j > 0 && ord[j - 1]->doc > c->doc) {
                ord[j] = ord[j - 1];
                j--;
            }
            ord[j] = c;
        }
        float bar = out->n == out->k ? vdb_topk_worst(out) : 0.0f;
        /* when the worst kept id is below every row still ahead, a tie with the bar loses
         * (smaller ids win ties): only a bound above it is worth a look */
        bool strict = out->n == out->k && out->id[0] < id_base + (int64_t)ord[0]->doc;
        float ub = 0.0f;
        uint32_t piv = n;
        for (uint32_t i = 0; i < n && ord[i]->doc != UINT32_MAX; i++) {
            ub += ord[i]->ub;
            if ((strict ? ub * slack > bar : ub * slack >= bar) && ub > 0.0f) {
                piv = i;
                break;
            }
        }
        if (piv == n)
            break; /* no row left can reach the bar */
        uint32_t pdoc = ord[piv]->doc;
        while (piv + 1 < n && ord[piv + 1]->doc == pdoc)
            piv++;
        if (ord[0]->doc != pdoc) {
            /* rows before pdoc are in the first cursors only, whose bounds stay below */
            for (uint32_t i = 0; i < piv && ord[i]->doc < pdoc; i++)
                cur_seek(ix, ord[i], pdoc);
            continue;
        }
        /* every cursor up to the pivot is at pdoc: the bound of their current blocks */
        float bub = 0.0f;
        uint32_t next = UINT32_MAX;
        for (uint32_t i = 0; i <= piv; i++) {
            cursor *c = ord[i];
            cur_shallow(ix, c, pdoc);
            bub += term_bound(sc, c->dim, c->q, ix->bmax[c->b]);
            next = VDB_MIN(next, ix->blast[c->b]);
        }
        bool reach = (strict ? bub * slack > bar : bub * slack >= bar) && bub > 0.0f;
        if (!reach || !allowed(bitset, pdoc)) {
            /* skip to past the first of these blocks to end, or to the next cursor's row */
            uint32_t to = next == UINT32_MAX ? UINT32_MAX : next + 1;
            if (reach)
                to = pdoc + 1;
            if (piv + 1 < n)
                to = VDB_MIN(to, ord[piv + 1]->doc);
            if (to <= pdoc)
                to = pdoc + 1;
            for (uint32_t i = 0; i <= piv; i++)
                cur_seek(ix, ord[i], to);
            continue;
        }
        /* the row's score, summed in query order like the exact scan */
        uint32_t at = piv + 1; /* the cursors at pdoc are ord[0..at) */
        float s = 0.0f;
        if (at == n || at == 1) {
            for (uint32_t i = 0; i < at; i++)
                s += term_score(sc, ord[i]->dim, ord[i]->q, ix->pval[ord[i]->p], pdoc);
        } else {
            for (uint32_t t = 0; t < n; t++)
                if (cs[t].doc == pdoc)
                    s += term_score(sc, cs[t].dim, cs[t].q, ix->pval[cs[t].p], pdoc);
        }
        if (s > 0.0f)
            vdb_topk_offer(out, s, id_base + (int64_t)pdoc);
        for (uint32_t i = 0; i < at; i++) {
            ord[i]->p++;
            cur_set(ix, ord[i]);
        }
    }
    vdb_free(cs);
    vdb_free(ord);
    return VDB_OK;
}

/* MaxScore: cursors by bound, ascending; the first ne of them (their bounds summed stay
 * below the bar) are non-essential: a row only they hold cannot enter, so candidates come
 * from the others, and the non-essential lists are probed for a candidate only while its
 * score plus their bounds could still reach the bar. */
static vdb_status search_maxscore(const vdb_sparse_index *ix, const vdb_sparse_vec *q,
                                  const vdb_sparse_scorer *sc, const uint64_t *bitset,
                                  int64_t id_base, vdb_topk *out)
{
    cursor *cs = vdb_malloc(((size_t)q->n + 1) * sizeof *cs);
    float *pre = vdb_malloc(((size_t)q->n + 1) * sizeof *pre);
    if (!cs || !pre) {
        vdb_free(cs);
        vdb_free(pre);
        return vdb_set_errmsg(VDB_ENOMEM, "sparse index: out of memory");
    }
    uint32_t n = 0;
    for (uint32_t t = 0; t < q->n; t++) {
        int64_t d = find_dim(ix, q->idx[t]);
        if (d < 0 || q->val[t] <= 0.0f)
            continue;
        cursor c = {t, q->idx[t], q->val[t], term_bound(sc, q->idx[t], q->val[t], ix->dmax[d]),
                    ix->start[d], ix->start[d + 1], ix->bstart[d], ix->bstart[d + 1], 0,
                    ix->start[d], ix->bstart[d]};
        cur_set(ix, &c);
        uint32_t j = n++; /* insertion by bound, ascending */
        while (j > 0 && cs[j - 1].ub > c.ub) {
            cs[j] = cs[j - 1];
            j--;
        }
        cs[j] = c;
    }
    for (uint32_t i = 0; i < n; i++) /* pre[i]: the bounds of cs[0..i] summed */
        pre[i] = (i ? pre[i - 1] : 0.0f) + cs[i].ub;
    const float slack = 1.0f + 1e-5f;
    uint32_t ne = 0;
    while (n > 0) {
        float bar = out->n == out->k ? vdb_topk_worst(out) : 0.0f;
        bool full = out->n == out->k;
        /* grow the non-essential prefix while its bounds cannot reach the bar */
        while (full && ne < n && pre[ne] * slack < bar)
            ne++;
        if (ne == n)
            break;
        uint32_t cand = UINT32_MAX;
        for (uint32_t i = ne; i < n; i++)
            cand = VDB_MIN(cand, cs[i].doc);
        if (cand == UINT32_MAX)
            break;
        bool ok = allowed(bitset, cand);
        float s = 0.0f;
        for (uint32_t i = ne; i < n; i++)
            if (cs[i].doc == cand) {
                if (ok)
                    s += term_score(sc, cs[i].dim, cs[i].q, ix->pval[cs[i].p], cand);
                cs[i].p++;
                cur_set(ix, &cs[i]);
            }
        if (!ok)
            continue;
        bool strict = full && out->id[0] < id_base + (int64_t)cand;
        for (uint32_t i = ne; i-- > 0;) {
            float reach = (s + pre[i]) * slack;
            if (full && (strict ? reach <= bar : reach < bar))
                break;
            cur_seek(ix, &cs[i], cand);
            if (cs[i].doc == cand)
                s += term_score(sc, cs[i].dim, cs[i].q, ix->pval[cs[i].p], cand);
        }
        if (s > 0.0f)
            vdb_topk_offer(out, s, id_base + (int64_t)cand);
    }
    vdb_free(cs);
    vdb_free(pre);
    return VDB_OK;
}

vdb_status vdb_sparse_index_search(const vdb_sparse_index *ix, const vdb_sparse_vec *q,
                                   vdb_sparse_algo algo, const vdb_sparse_scorer *scorer,
                                   const uint64_t *bitset, int64_t id_base, vdb_topk *out)
{
    if (!q->n || !ix->nrows)
        return VDB_OK;
    if (out->ranged) /* the document-at-a-time bars assume a plain top-k heap */
        algo = VDB_SPARSE_TAAT_NAIVE;
    switch (algo) {
    case VDB_SPARSE_DAAT_WAND: return search_wand(ix, q, scorer, bitset, id_base, out);
    case VDB_SPARSE_DAAT_MAXSCORE: return search_maxscore(ix, q, scorer, bitset, id_base, out);
    default: return search_taat(ix, q, scorer, bitset, id_base, out);
    }
}

/* ---- saved format ----
 * Format 2 (written): u32 version, u64 rows, u32 dims, u64 postings, u64 blocks, then 8 u64
 * offsets (from the start of these bytes) of the arrays dims, start, prow, pval, bstart,
 * bmax, blast, dmax, each placed on a 64-byte boundary of the buffer encode appends to (so
 * that, from a file whose bytes start on a page, they are read in place: decode_view).
 * Format 1: u32 version, u64 rows, u32 dims, u64 postings, then dims, start, prow, pval
 * unpadded; the blocks are computed at decode. */

static void pad_to(vdb_buf *out, size_t align)
{
    while (out->len % align)
        vdb_buf_u8(out, 0);
}

vdb_status vdb_sparse_index_encode(const vdb_sparse_index *ix, vdb_buf *out)
{
    uint64_t np = ix->start[ix->ndims], nb = ix->bstart[ix->ndims], nd = ix->ndims;
    const void *arr[SPARSE_NARR] = {ix->dims, ix->start, ix->prow, ix->pval,
                                    ix->bstart, ix->bmax, ix->blast, ix->dmax};
    const size_t len[SPARSE_NARR] = {nd * 4, (nd + 1) * 8, np * 4, np * 4,
                                     (nd + 1) * 8, nb * 4, nb * 4, nd * 4};
    size_t base = out->len;
    vdb_buf_u32(out, SPARSE_FORMAT);
    vdb_buf_u64(out, ix->nrows);
    vdb_buf_u32(out, ix->ndims);
    vdb_buf_u64(out, np);
    vdb_buf_u64(out, nb);
    size_t offs_at = out->len;
    for (size_t i = 0; i < SPARSE_NARR; i++)
        vdb_buf_u64(out, 0); /* filled below */
    for (size_t i = 0; i < SPARSE_NARR && !out->oom; i++) {
        pad_to(out, SPARSE_ALIGN);
        if (!out->oom)
            vdb_put_u64((uint8_t *)out->p + offs_at + i * 8, (uint64_t)(out->len - base));
        vdb_buf_put(out, arr[i], len[i]);
    }
    return out->oom ? vdb_set_errmsg(VDB_ENOMEM, "sparse index: out of memory encoding")
                    : VDB_OK;
}

/* Format 2's arrays located in p (every one inside it); VDB_ECORRUPT otherwise. */
typedef struct sparse_v2 {
    uint64_t nrows, np, nb;
    uint32_t nd;
    const uint8_t *arr[SPARSE_NARR];
} sparse_v2;

static vdb_status parse_v2(const void *p, size_t len, sparse_v2 *l)
{
    vdb_rd r = vdb_rd_init(p, len);
    (void)vdb_rd_u32(&r);
    l->nrows = vdb_rd_u64(&r);
    l->nd = vdb_rd_u32(&r);
    l->np = vdb_rd_u64(&r);
    l->nb = vdb_rd_u64(&r);
    if (r.err || len < SPARSE_V2_HEAD)
        return vdb_set_errmsg(VDB_ECORRUPT, "sparse index: truncated header");
    if (l->nrows > UINT32_MAX || l->nd > len / 4 || l->np > len / 8 || l->nb > len / 8)
        return vdb_set_errmsg(VDB_ECORRUPT, "sparse index: sizes do not fit the file");
    uint64_t nd = l->nd;
    const uint64_t size[SPARSE_NARR] = {nd * 4, (nd + 1) * 8, l->np * 4, l->np * 4,
                                        (nd + 1) * 8, l->nb * 4, l->nb * 4, nd * 4};
    for (size_t i = 0; i < SPARSE_NARR; i++) {
        uint64_t off = vdb_rd_u64(&r);
        if (r.err || off < SPARSE_V2_HEAD || off > len || size[i] > len - off)
            return vdb_set_errmsg(VDB_ECORRUPT, "sparse index: array %zu out of the file", i);
        l->arr[i] = (const uint8_t *)p + off;
    }
    return VDB_OK;
}

/* The postings as a search relies on them: dimensions ascending, each list non-empty with
 * rows ascending below nrows and values finite and >= 0. */
static vdb_status check_postings(const vdb_sparse_index *ix, uint64_t np)
{
    if (ix->start[0] != 0 || ix->start[ix->ndims] != np)
        return vdb_set_errmsg(VDB_ECORRUPT, "sparse index: posting offsets out of bounds");
    for (uint32_t d = 0; d < ix->ndims; d++) {
        if ((d && ix->dims[d] <= ix->dims[d - 1]) || ix->start[d + 1] <= ix->start[d] ||
            ix->start[d + 1] > np)
            return vdb_set_errmsg(VDB_ECORRUPT, "sparse index: dimension %u is out of order",
                                  d);
        for (uint64_t q = ix->start[d]; q < ix->start[d + 1]; q++)
            if (ix->prow[q] >= ix->nrows ||
                (q > ix->start[d] && ix->prow[q] <= ix->prow[q - 1]) ||
                !(ix->pval[q] >= 0.0f) || isinf(ix->pval[q]))
                return vdb_set_errmsg(VDB_ECORRUPT, "sparse index: posting %llu of dimension "
                                      "%u is out of order or bounds", (unsigned long long)q,
                                      ix->dims[d]);
    }
    return VDB_OK;
}

/* A view's blocks and maxima against what finish computes from its (checked) postings. */
static vdb_status check_blocks(const vdb_sparse_index *ix, uint64_t nb)
{
    uint64_t b = 0;
    for (uint32_t d = 0; d < ix->ndims; d++) {
        if (ix->bstart[d] != b)
            return vdb_set_errmsg(VDB_ECORRUPT, "sparse index: blocks of dimension %u", d);
        float dm = 0.0f;
        for (uint64_t p = ix->start[d]; p < ix->start[d + 1]; p += VDB_SPARSE_BLOCK, b++) {
            uint64_t e = VDB_MIN(p + VDB_SPARSE_BLOCK, ix->start[d + 1]);
            float m = 0.0f;
            for (uint64_t j = p; j < e; j++)
                m = VDB_MAX(m, ix->pval[j]);
            if (b >= nb || ix->bmax[b] != m || ix->blast[b] != ix->prow[e - 1])
                return vdb_set_errmsg(VDB_ECORRUPT, "sparse index: block %llu of dimension "
                                      "%u", (unsigned long long)b, d);
            dm = VDB_MAX(dm, m);
        }
        if (ix->dmax[d] != dm)
            return vdb_set_errmsg(VDB_ECORRUPT, "sparse index: maximum of dimension %u", d);
    }
    if (ix->bstart[ix->ndims] != b || b != nb)
        return vdb_set_errmsg(VDB_ECORRUPT, "sparse index: %llu blocks, the file says %llu",
                              (unsigned long long)b, (unsigned long long)nb);
    return VDB_OK;
}

vdb_status vdb_sparse_index_decode(const void *p, size_t len, vdb_sparse_index **out)
{
    *out = NULL;
    vdb_rd r = vdb_rd_init(p, len);
    uint32_t ver = vdb_rd_u32(&r);
    uint64_t nrows = 0, np = 0;
    uint32_t nd = 0;
    const void *dims, *start, *prow, *pval;
    if (r.err)
        return vdb_set_errmsg(VDB_ECORRUPT, "sparse index: truncated header");
    if (ver == 2) {
        sparse_v2 l;
        vdb_status st = parse_v2(p, len, &l);
        if (st != VDB_OK)
            return st;
        nrows = l.nrows;
        nd = l.nd;
        np = l.np;
        dims = l.arr[0];
        start = l.arr[1];
        prow = l.arr[2];
        pval = l.arr[3];
    } else if (ver == 1) {
        nrows = vdb_rd_u64(&r);
        nd = vdb_rd_u32(&r);
        np = vdb_rd_u64(&r);
        if (r.err)
            return vdb_set_errmsg(VDB_ECORRUPT, "sparse index: truncated header");
        size_t left = len - r.off;
        if (nrows > UINT32_MAX || nd > left / 4 || np > left / 8)
            return vdb_set_errmsg(VDB_ECORRUPT, "sparse index: sizes do not fit the file");
        dims = vdb_rd_take(&r, (size_t)nd * 4);
        start = vdb_rd_take(&r, ((size_t)nd + 1) * 8);
        prow = vdb_rd_take(&r, (size_t)np * 4);
        pval = vdb_rd_take(&r, (size_t)np * 4);
        if (r.err || r.off != len)
            return vdb_set_errmsg(VDB_ECORRUPT, "sparse index: the file is %s",
                                  r.err ? "truncated" : "longer than its arrays");
    } else {
        return vdb_set_errmsg(VDB_EVERSION, "sparse index: format %u is not known", ver);
    }
    vdb_sparse_index *ix = vdb_calloc(1, sizeof *ix);
    if (!ix)
        return vdb_set_errmsg(VDB_ENOMEM, "sparse index: out of memory");
    ix->nrows = (size_t)nrows;
    ix->ndims = nd;
    ix->dims = vdb_malloc((size_t)nd * 4 + 4);
    ix->start = vdb_malloc(((size_t)nd + 1) * 8);
    ix->prow = vdb_malloc((size_t)np * 4 + 4);
    ix->pval = vdb_malloc((size_t)np * 4 + 4);
    vdb_status st = VDB_OK;
    if (!ix->dims || !ix->start || !ix->prow || !ix->pval) {
        st = vdb_set_errmsg(VDB_ENOMEM, "sparse index: out of memory");
        goto fail;
    }
    memcpy(ix->dims, dims, (size_t)nd * 4);
    memcpy(ix->start, start, ((size_t)nd + 1) * 8);
    memcpy(ix->prow, prow, (size_t)np * 4);
    memcpy(ix->pval, pval, (size_t)np * 4);
    if ((st = check_postings(ix, np)) != VDB_OK)
        goto fail;
    if ((st = finish(ix)) != VDB_OK) /* format 2's stored blocks are what this computes */
        goto fail;
    *out = ix;
    return VDB_OK;
fail:
    vdb_sparse_index_free(ix);
    return st;
}

vdb_status vdb_sparse_index_view(const void *p, size_t len, vdb_sparse_index **out)
{
    *out = NULL;
    if (len < 4 || vdb_get_u32(p) != 2)
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "sparse index: only format 2 is read in "
                              "place");
    sparse_v2 l;
    vdb_status st = parse_v2(p, len, &l);
    if (st != VDB_OK)
        return st;
    for (size_t i = 0; i < SPARSE_NARR; i++)
        if ((uintptr_t)l.arr[i] % 8)
            return vdb_set_errmsg(VDB_EUNSUPPORTED, "sparse index: array %zu is not aligned "
                                  "for use in place", i);
    vdb_sparse_index *ix = vdb_calloc(1, sizeof *ix);
    if (!ix)
        return vdb_set_errmsg(VDB_ENOMEM, "sparse index: out of memory");
    ix->view = true;
    ix->nrows = (size_t)l.nrows;
    ix->ndims = l.nd;
    /* read-only in place: a view never writes them */
    ix->dims = (uint32_t *)l.arr[0];
    ix->start = (uint64_t *)l.arr[1];
    ix->prow = (uint32_t *)l.arr[2];
    ix->pval = (float *)l.arr[3];
    ix->bstart = (uint64_t *)l.arr[4];
    ix->bmax = (float *)l.arr[5];
    ix->blast = (uint32_t *)l.arr[6];
    ix->dmax = (float *)l.arr[7];
    st = check_postings(ix, l.np);
    if (st == VDB_OK)
        st = check_blocks(ix, l.nb);
    if (st != VDB_OK) {
        vdb_sparse_index_free(ix);
        return st;
    }
    *out = ix;
    return VDB_OK;
}

/* ---- the two kinds ---- */

/* Milvus's inverted_index_algo: the walk a search takes (the index is the same) */
static const char *const algos[] = {"TAAT_NAIVE", "DAAT_WAND", "DAAT_MAXSCORE", NULL};
/* bm25_k1, bm25_b: the BM25 scorer's (fields of metric BM25 only; Milvus's names and
 * defaults) */
static const vdb_param_def inv_params[] = {
    {"drop_ratio_build", "drop", 0, 0.999999, 0, false, NULL},
    {"inverted_index_algo", "algo", 0, 2, VDB_SPARSE_DAAT_MAXSCORE, true, algos}, /* Milvus's */
    {"bm25_k1", "k1", 0, 3, 1.2, false, NULL},
    {"bm25_b", "b", 0, 1, 0.75, false, NULL},
};
static const vdb_param_def wand_params[] = {
    {"drop_ratio_build", "drop", 0, 0.999999, 0, false, NULL},
    {"inverted_index_algo", "algo", 0, 2, VDB_SPARSE_DAAT_WAND, true, algos},
    {"bm25_k1", "k1", 0, 3, 1.2, false, NULL},
    {"bm25_b", "b", 0, 1, 0.75, false, NULL},
};

static vdb_status kind_check(const vdb_vparams *p, const vdb_vectors *shape)
{
    if (shape && shape->type != VDB_TYPE_SPARSE_FLOAT_VECTOR)
        return vdb_set_errmsg(VDB_EINVAL, "sparse indexes index SPARSE_FLOAT_VECTOR fields");
    if (shape && shape->metric != VDB_METRIC_IP && shape->metric != VDB_METRIC_BM25)
        return vdb_set_errmsg(VDB_EINVAL, "sparse indexes take metric IP or BM25 only");
    /* (saved specs carry every value, so the values are what is checked) */
    if (shape && shape->metric == VDB_METRIC_IP && 
                  (fabs(p->v[2] - 1.2) > 1e-6 || fabs(p->v[3] - 0.75) > 1e-6))
        return vdb_set_errmsg(VDB_EINVAL, "bm25_k1 and bm25_b are for metric BM25 (the output "
                              "field of a BM25 function)");
    return VDB_OK;
}

/* What the kinds keep: the index and which walk searches it. */
typedef struct sparse_impl {
    vdb_sparse_index *ix;
    vdb_sparse_algo algo;
} sparse_impl;

static vdb_status build_with(const vdb_vparams *p, const vdb_vectors *rows, void **out)
{
    sparse_impl *im = vdb_calloc(1, sizeof *im);
    if (!im)
        return vdb_set_errmsg(VDB_ENOMEM, "sparse index: out of memory");
    im->algo = (vdb_sparse_algo)p->v[1];
    vdb_status st = vdb_sparse_index_build(rows, p->v[0], &im->ix);
    if (st != VDB_OK) {
        vdb_free(im);
        return st;
    }
    *out = im;
    return VDB_OK;
}

static vdb_status build_sparse(const vdb_vparams *p, const vdb_vectors *rows,
                               uint32_t threads, vdb_build_progress_fn progress, void *arg,
                               void **out)
{
    (void)threads;
    vdb_status st = build_with(p, rows, out);
    if (st == VDB_OK && progress)
        progress(arg, rows->n, rows->n);
    return st;
}

/* query: a vdb_sparse_vec (already pruned by drop_ratio_search in the core) */
static vdb_status kind_search(const void *idx, const void *query, uint32_t k,
                              const vdb_vparams *sp, const vdb_vectors *rows,
                              const uint64_t *bitset, int64_t id_base, vdb_topk *out)
{
    (void)k;
    (void)sp;
    (void)rows;
    const sparse_impl *im = idx;
    return vdb_sparse_index_search(im->ix, query, im->algo, NULL, bitset, id_base, out);
}

static vdb_status kind_search_scored(const void *idx, const void *query, const void *scorer,
                                     const uint64_t *bitset, int64_t id_base, vdb_topk *out)
{
    const sparse_impl *im = idx;
    return vdb_sparse_index_search(im->ix, query, im->algo, scorer, bitset, id_base, out);
}

/* the kind's file: u32 inverted_index_algo, then the index; with format 2, the crc32c of
 * all that last (the mmap cache names its file by it) */
static vdb_status kind_encode(const void *idx, vdb_buf *out)
{
    const sparse_impl *im = idx;
    size_t base = out->len;
    vdb_buf_u32(out, (uint32_t)im->algo);
    vdb_status st = vdb_sparse_index_encode(im->ix, out);
    if (st == VDB_OK && !out->oom)
        vdb_buf_u32(out, vdb_crc32c(0, (const uint8_t *)out->p + base, out->len - base));
    return st;
}

static vdb_status kind_open(const void *p, size_t len, const vdb_vectors *rows, bool view,
                            void **out)
{
    vdb_rd r = vdb_rd_init(p, len);
    uint32_t algo = vdb_rd_u32(&r);
    uint32_t ver = vdb_rd_u32(&r);
    if (r.err || algo > VDB_SPARSE_DAAT_MAXSCORE)
        return vdb_set_errmsg(VDB_ECORRUPT, "sparse index: bad header");
    size_t ilen = len - 4;
    if (ver >= 2) { /* the trailing crc (a view's bytes were checked when written) */
        if (len < 8 + SPARSE_V2_HEAD)
            return vdb_set_errmsg(VDB_ECORRUPT, "sparse index: truncated");
        ilen -= 4;
        if (!view && vdb_crc32c(0, p, len - 4) != vdb_get_u32((const uint8_t *)p + len - 4))
            return vdb_set_errmsg(VDB_ECORRUPT, "sparse index: the file fails its checksum");
    }
    sparse_impl *im = vdb_calloc(1, sizeof *im);
    if (!im)
        return vdb_set_errmsg(VDB_ENOMEM, "sparse index: out of memory");
    im->algo = (vdb_sparse_algo)algo;
    const uint8_t *ip = (const uint8_t *)p + 4;
    vdb_status st = view ? vdb_sparse_index_view(ip, ilen, &im->ix)
                         : vdb_sparse_index_decode(ip, ilen, &im->ix);
    if (st == VDB_OK && rows && vdb_sparse_index_rows(im->ix) != rows->n)
        st = vdb_set_errmsg(VDB_ECORRUPT, "sparse index: built over %zu rows, the segment has "
                            "%zu", vdb_sparse_index_rows(im->ix), rows->n);
    if (st != VDB_OK) {
        vdb_sparse_index_free(im->ix);
        vdb_free(im);
        return st;
    }
    *out = im;
    return VDB_OK;
}

static vdb_status kind_decode(const void *p, size_t len, const vdb_vectors *rows, void **out)
{
    return kind_open(p, len, rows, false, out);
}

static vdb_status kind_decode_view(const void *p, size_t len, const vdb_vectors *rows,
                                   void **out)
{
    return kind_open(p, len, rows, true, out);
}

static size_t kind_memory(const void *idx)
{
    return sizeof(sparse_impl) + vdb_sparse_index_memory(((const sparse_impl *)idx)->ix);
}

static size_t kind_rows(const void *idx)
{
    return vdb_sparse_index_rows(((const sparse_impl *)idx)->ix);
}

static void kind_free(void *idx)
{
    sparse_impl *im = idx;
    if (!im)
        return;
    vdb_sparse_index_free(im->ix);
    vdb_free(im);
}

const vdb_vindex_kind vdb_sparse_inverted_kind = {
    .name = "SPARSE_INVERTED_INDEX",
    .file_tag = "spinv",
    .types = VDB_VTYPE_BIT(VDB_TYPE_SPARSE_FLOAT_VECTOR),
    .build_params = inv_params,
    .n_build_params = VDB_ARRAY_LEN(inv_params),
    .check = kind_check,
    .build = build_sparse,
    .search = kind_search,
    .encode = kind_encode,
    .decode = kind_decode,
    .decode_view = kind_decode_view,
    .memory = kind_memory,
    .rows = kind_rows,
    .free = kind_free,
    .search_scored = kind_search_scored,
};

const vdb_vindex_kind vdb_sparse_wand_kind = {
    .name = "SPARSE_WAND",
    .file_tag = "spwand",
    .types = VDB_VTYPE_BIT(VDB_TYPE_SPARSE_FLOAT_VECTOR),
    .build_params = wand_params,
    .n_build_params = VDB_ARRAY_LEN(wand_params),
    .check = kind_check,
    .build = build_sparse,
    .search = kind_search,
    .encode = kind_encode,
    .decode = kind_decode,
    .decode_view = kind_decode_view,
    .memory = kind_memory,
    .rows = kind_rows,
    .free = kind_free,
    .search_scored = kind_search_scored,
};

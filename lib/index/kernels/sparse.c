/* Sparse-vector kernels: the dot product of two index-sorted rows, the exact scan over a
 * column of them, and the query pruning of drop_ratio_search. */
#include <stdlib.h>

#include "index/kernels/kernels.h"

float vdb_sparse_dot(const vdb_sparse_vec *a, const vdb_sparse_vec *b)
{
    float s = 0.0f;
    uint32_t i = 0, j = 0;
    while (i < a->n && j < b->n) {
        uint32_t x = a->idx[i], y = b->idx[j];
        if (x == y)
            s += a->val[i++] * b->val[j++];
        else if (x < y)
            i++;
        else
            j++;
    }
    return s;
}

void vdb_sparse_flat_search(const uint64_t *offsets, const char *bytes, size_t n,
                            const vdb_sparse_vec *q, const uint64_t *bitset, int64_t id_base,
                            vdb_topk *out)
{
    if (!q->n || !offsets)
        return;
    for (size_t r = vdb_bitset_next(bitset, n, 0); r < n; r = vdb_bitset_next(bitset, n, r + 1)) {
        vdb_sparse_vec row = vdb_sparse_view(bytes + offsets[r],
                                             (size_t)(offsets[r + 1] - offsets[r]));
        float s = vdb_sparse_dot(q, &row);
        if (s > 0.0f)
            vdb_topk_offer(out, s, id_base + (int64_t)r);
    }
}

typedef struct ranked {
    float v;
    uint32_t at;
} ranked;

static int by_value(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return x->at > y->at ? -1 : x->at < y->at; /* equal values: the later index drops first */
}

vdb_status vdb_sparse_drop_smallest(const vdb_sparse_vec *q, double ratio, uint32_t *idx,
                                    float *val, uint32_t *n_out)
{
    uint32_t drop = (uint32_t)(ratio * q->n);
    memcpy(idx, q->idx, q->n * sizeof *idx);
    memcpy(val, q->val, q->n * sizeof *val);
    *n_out = q->n;
    if (drop == 0)
        return VDB_OK;
    ranked *rk = vdb_malloc((size_t)q->n * sizeof *rk);
    if (!rk)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < q->n; i++)
        rk[i] = (ranked){q->val[i], i};
    qsort(rk, q->n, sizeof *rk, by_value);
    for (uint32_t i = 0; i < drop; i++)
        val[rk[i].at] = -1.0f; /* checked values are >= 0: -1 marks a dropped one */
    vdb_free(rk);
    uint32_t m = 0;
    for (uint32_t i = 0; i < q->n; i++)
        if (val[i] >= 0.0f) {
            idx[m] = idx[i];
            val[m++] = val[i];
        }
    *n_out = m;
    return VDB_OK;
}

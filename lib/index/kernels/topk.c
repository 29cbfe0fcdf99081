/* The bounded top-k heap: the worst kept pair sits at the root so a newcomer is one compare. */
#include <math.h>

#include "index/kernels/kernels.h"

/* A total order on (distance, id): ties on distance go to the smaller id so results do not
 * depend on the order rows were visited in. */
static inline bool worse(const vdb_topk *t, float da, int64_t ia, float db, int64_t ib)
{
    if (da != db)
        return t->higher_better ? da < db : da > db;
    return ia > ib;
}

static void sift_down(vdb_topk *t, size_t i, size_t n)
{
    float d = t->dist[i];
    int64_t id = t->id[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && worse(t, t->dist[c + 1], t->id[c + 1], t->dist[c], t->id[c]))
            c++;
        if (!worse(t, t->dist[c], t->id[c], d, id))
            break;
        t->dist[i] = t->dist[c];
        t->id[i] = t->id[c];
        i = c;
    }
    t->dist[i] = d;
    t->id[i] = id;
}

vdb_status vdb_topk_init(vdb_topk *t, size_t k, bool higher_better)
{
    memset(t, 0, sizeof *t);
    if (k == 0)
        return vdb_set_errmsg(VDB_EINVAL, "top-k: k must be at least 1");
    t->dist = vdb_calloc(k, sizeof *t->dist);
    t->id = vdb_calloc(k, sizeof *t->id);
    if (!t->dist || !t->id)
        goto fail;
    t->k = k;
    t->higher_better = higher_better;
    return VDB_OK;
fail:
    vdb_topk_free(t);
    return vdb_set_errmsg(VDB_ENOMEM, "top-k: out of memory for k=%zu", k);
}

void vdb_topk_free(vdb_topk *t)
{
    vdb_free(t->dist);
    vdb_free(t->id);
    memset(t, 0, sizeof *t);
}

void vdb_topk_reset(vdb_topk *t) { t->n = 0; }

void vdb_topk_set_range(vdb_topk *t, float radius, float range_filter)
{
    t->ranged = true;
    t->radius = radius;
    t->range_filter = range_filter;
}

void vdb_topk_push(vdb_topk *t, float d, int64_t id)
{
    if (isnan(d) || t->k == 0 || !vdb_topk_in_range(t, d))
        return;
    if (t->n < t->k) {
        size_t i = t->n++;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!worse(t, d, id, t->dist[p], t->id[p]))
                break;
            t->dist[i] = t->dist[p];
            t->id[i] = t->id[p];
            i = p;
        }
        t->dist[i] = d;
        t->id[i] = id;
        return;
    }
    if (!worse(t, t->dist[0], t->id[0], d, id))
        return;
    t->dist[0] = d;
    t->id[0] = id;
    sift_down(t, 0, t->n);
}

/* Until the heap is full anything is kept, so the bar is the worst possible score. */
float vdb_topk_worst(const vdb_topk *t)
{
    if (t->n < t->k || t->n == 0)
        return t->higher_better ? -INFINITY : INFINITY;
    return t->dist[0];
}

/* Heap sort: moving the root (the worst) to the end each time leaves the array best first. */
void vdb_topk_sort(vdb_topk *t)
{
    for (size_t end = t->n; end > 1; end--) {
        float d = t->dist[0];
        int64_t id = t->id[0];
        t->dist[0] = t->dist[end - 1];
        t->id[0] = t->id[end - 1];
        t->dist[end - 1] = d;
        t->id[end - 1] = id;
        sift_down(t, 0, end - 1);
    }
}

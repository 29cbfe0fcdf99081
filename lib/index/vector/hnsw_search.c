/* HNSW search: greedy descent of the upper levels, then an ef-bounded beam on level 0 under a bitset. */
#include <math.h>
#include <stdlib.h>

#include "hnsw_int.h"

/* Cache lines of a candidate's code fetched ahead (measured on 784-byte codes: 4 to 13 lines
 * are within noise of each other, 1-2 are slower); the hardware prefetcher streams the rest. */
#ifndef PREFETCH_LINES
#define PREFETCH_LINES 8
#endif

static hnsw_ctx *ctx_get(const vdb_hnsw *h)
{
    vdb_hnsw *m = (vdb_hnsw *)h; /* the pool is the only mutable part, under its lock */
    pthread_mutex_lock(&m->pool_lock);
    hnsw_ctx *c = m->pool;
    if (c) {
        m->pool = c->next;
        m->pooled--;
    }
    pthread_mutex_unlock(&m->pool_lock);
    return c ? c : hnsw_ctx_new(h);
}

static void ctx_put(const vdb_hnsw *h, hnsw_ctx *c)
{
    vdb_hnsw *m = (vdb_hnsw *)h;
    pthread_mutex_lock(&m->pool_lock);
    if (m->pooled < HNSW_POOL_MAX) {
        c->next = m->pool;
        m->pool = c;
        m->pooled++;
        c = NULL;
    }
    pthread_mutex_unlock(&m->pool_lock);
    hnsw_ctx_free(c);
}

static inline bool allowed(const uint64_t *bs, uint32_t r)
{
    return !bs || (bs[r >> 6] >> (r & 63)) & 1;
}

static inline void prefetch_code(const vdb_hnsw *h, uint32_t r)
{
    const char *p = (const char *)hnsw_code(h, r);
    size_t lines = VDB_MIN((size_t)PREFETCH_LINES, (size_t)h->sq.stride / 64);
    for (size_t i = 0; i < lines; i++)
        __builtin_prefetch(p + 64 * i, 0, 3);
}

/* Level-0 beam: the ef closest allowed rows end up in c->res. Excluded rows are walked
 * through (they keep the graph connected) but never enter the result; while fewer than ef
 * rows are held every reached row is expanded, so the walk continues until ef allowed rows
 * are found or the reachable graph is exhausted. */
static bool beam(const vdb_hnsw *h, hnsw_ctx *c, uint32_t ep, float epd, uint32_t ef,
                 const uint64_t *bs)
{
    hnsw_ctx_begin(c, h->n);
    c->mark[ep] = c->epoch;
    if (!hnsw_heap_push(&c->cand, -epd, ep))
        return false;
    if (allowed(bs, ep) && !hnsw_heap_push(&c->res, epd, ep))
        return false;
    while (c->cand.n) {
        hnsw_pair cur = c->cand.a[0];
        if (c->res.n >= ef && -cur.d > c->res.a[0].d)
            break;
        hnsw_heap_pop(&c->cand);
        /* the next candidate's list is likely the next one read: start fetching it */
        if (c->cand.n)
            __builtin_prefetch(hnsw_list(h, c->cand.a[0].id, 0), 0, 3);
        const uint32_t *l = hnsw_list(h, cur.id, 0);
        uint32_t cnt = l[0], m = 0;
        /* first pass: pick the unvisited and start fetching their vectors */
        for (uint32_t i = 0; i < cnt; i++) {
            uint32_t e = l[1 + i];
            if (c->mark[e] == c->epoch)
                continue;
            c->mark[e] = c->epoch;
            c->ids[m++] = e;
            prefetch_code(h, e);
        }
        for (uint32_t i = 0; i < m; i++) {
            uint32_t e = c->ids[i];
            float d = hnsw_qdist(h, &c->pq, e);
            if (c->res.n < ef || d < c->res.a[0].d) {
                if (!hnsw_heap_push(&c->cand, -d, e))
                    return false;
                if (allowed(bs, e)) {
                    if (!hnsw_heap_push(&c->res, d, e))
                        return false;
                    if (c->res.n > ef)
                        hnsw_heap_pop(&c->res);
                }
            }
        }
    }
    return true;
}

/* The walk's best candidates by code re-scored on the float rows and sorted closest first,
 * in place in c->res.a (no longer a heap after this; the next walk starts it afresh). The
 * code order is close enough that the best max(2k, ef/2) hold the true top k: re-scoring
 * fewer than all halves the float reads at large ef with the same recall (measured on
 * Fashion-MNIST, its cosine form and a 96-d Gaussian projection). */
static size_t rerank(const vdb_hnsw *h, hnsw_ctx *c, const float *q, uint32_t k)
{
    size_t n = c->res.n;
    hnsw_pair *a = c->res.a;
    size_t keep = VDB_MAX(2 * (size_t)k, n / 2);
    if (keep < n) {
        qsort(a, n, sizeof *a, hnsw_pair_cmp);
        n = keep;
    }
    for (size_t i = 0; i < n; i++)
        a[i].d = hnsw_dist(h, q, 1.0f, a[i].id);
    qsort(a, n, sizeof *a, hnsw_pair_cmp);
    return n;
}

/* vdb_dist's score from an internal distance (IP and COSINE are stored negated). */
static inline float score_of(const vdb_hnsw *h, float d)
{
    return h->metric == VDB_METRIC_L2 ? d : -d;
}

static vdb_status exact(const vdb_hnsw *h, const float *query, const uint64_t *bs,
                        int64_t id_base, vdb_topk *out)
{
    return vdb_flat_search_t(h->type, h->base, h->n, h->dim, h->metric, query, 1, bs, id_base,
                             out);
}

vdb_status vdb_hnsw_search(const vdb_hnsw *h, const float *query, uint32_t k, uint32_t ef,
                           const uint64_t *bitset, int64_t id_base, vdb_topk *out)
{
    if (!h || !query || !out)
        return vdb_set_errmsg(VDB_EINVAL, "hnsw search: NULL argument");
    if (k < 1)
        return vdb_set_errmsg(VDB_EINVAL, "hnsw search: k must be at least 1");
    if (ef < 1 || ef > VDB_HNSW_EF_MAX)
        return vdb_set_errmsg(VDB_EINVAL, "hnsw search: ef %u out of range 1..%u", ef,
                              VDB_HNSW_EF_MAX);
    if (ef < k)
        ef = k;
    size_t n = h->n;
    if (n == 0)
        return VDB_OK;
    size_t nallowed = vdb_bitset_count(bitset, n);
    if (nallowed == 0)
        return VDB_OK;
    if (nallowed == n)
        bitset = NULL; /* nothing excluded: the walk skips the per-row test */
    /* A walk under a bitset reaches about ef * n / allowed rows; scanning the allowed ones is
     * cheaper below that. */
    if (bitset && (double)nallowed * (double)nallowed < (double)ef * (double)n)
        return exact(h, query, bitset, id_base, out);

    hnsw_ctx *c = ctx_get(h);
    if (!c)
        return vdb_set_errmsg(VDB_ENOMEM, "hnsw search: out of memory");
    const float *q = query;
    if (h->metric == VDB_METRIC_COSINE) {
        float s = vdb_norm_sq(query, h->dim);
        float inv = s > 0 ? 1.0f / sqrtf(s) : 0.0f;
        for (uint32_t i = 0; i < h->dim; i++)
            c->q[i] = query[i] * inv;
        q = c->q;
    }

    hnsw_prepare(h, q, &c->pq);
    uint32_t ep = h->entry;
    float epd = hnsw_qdist(h, &c->pq, ep);
    for (int lc = h->max_level; lc > 0; lc--) {
        bool changed = true;
        while (changed) {
            changed = false;
            const uint32_t *l = hnsw_list(h, ep, lc);
            for (uint32_t i = 0; i < l[0]; i++) {
                float d = hnsw_qdist(h, &c->pq, l[1 + i]);
                if (d < epd) {
                    epd = d;
                    ep = l[1 + i];
                    changed = true;
                }
            }
        }
    }
    /* Range search wants every row inside the window up to k: widen the beam while all it
     * holds is inside and fewer than k are. */
    size_t found;
    for (;;) {
        if (!beam(h, c, ep, epd, ef, bitset)) {
            ctx_put(h, c);
            return vdb_set_errmsg(VDB_ENOMEM, "hnsw search: out of memory");
        }
        found = rerank(h, c, q, k);
        if (!out->ranged || found == 0 || ef >= VDB_HNSW_EF_MAX || ef >= nallowed)
            break;
        size_t inside = 0;
        for (size_t i = 0; i < found; i++)
            inside += vdb_topk_in_range(out, score_of(h, c->res.a[i].d));
        /* the farthest candidate is c->res.a[found - 1]: beyond the radius, nothing further is */
        float far = score_of(h, c->res.a[found - 1].d);
        bool beyond = h->metric == VDB_METRIC_L2 ? far >= out->radius : far <= out->radius;
        if (inside >= k || beyond)
            break;
        ef = ef * 2 > VDB_HNSW_EF_MAX ? VDB_HNSW_EF_MAX : ef * 2;
    }
    if (VDB_MIN(found, (size_t)k) < VDB_MIN((size_t)k, nallowed)) {
        /* the graph reached too few allowed rows (a disconnected part): answer exactly */
        ctx_put(h, c);
        return exact(h, query, bitset, id_base, out);
    }
    for (size_t i = 0; i < found; i++) {
        float d = score_of(h, c->res.a[i].d);
        if (!isnan(d))
            vdb_topk_push(out, d, id_base + (int64_t)c->res.a[i].id);
    }
    ctx_put(h, c);
    return VDB_OK;
}

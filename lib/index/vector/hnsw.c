/* The HNSW index object: parameter checks, allocation and layout, scratch contexts, memory, free. */
#include <math.h>
#include <stdlib.h>

#include "hnsw_int.h"

vdb_status hnsw_check_params(uint32_t dim, vdb_metric metric, uint32_t M, uint32_t efc)
{
    if (dim < 1 || dim > VDB_HNSW_DIM_MAX)
        return vdb_set_errmsg(VDB_EINVAL, "hnsw: dim %u out of range 1..%u", dim,
                              VDB_HNSW_DIM_MAX);
    if (metric != VDB_METRIC_L2 && metric != VDB_METRIC_IP && metric != VDB_METRIC_COSINE)
        return vdb_set_errmsg(VDB_EINVAL, "hnsw: metric %d is not L2, IP or COSINE", (int)metric);
    if (M < VDB_HNSW_M_MIN || M > VDB_HNSW_M_MAX)
        return vdb_set_errmsg(VDB_EINVAL, "hnsw: M %u out of range %u..%u", M, VDB_HNSW_M_MIN,
                              VDB_HNSW_M_MAX);
    if (efc < 1 || efc > VDB_HNSW_EFC_MAX || efc < M)
        return vdb_set_errmsg(VDB_EINVAL, "hnsw: efConstruction %u out of range M (%u)..%u", efc,
                              M, VDB_HNSW_EFC_MAX);
    return VDB_OK;
}

vdb_status hnsw_new(vdb_type type, const void *base, size_t n, uint32_t dim, vdb_metric metric,
                    uint32_t M, uint32_t efc, vdb_hnsw **out)
{
    if (!vdb_type_is_vector(type))
        return vdb_set_errmsg(VDB_EINVAL, "hnsw: %s rows cannot be indexed", vdb_type_name(type));
    /* Rows are uint32 ids inside the graph, and UINT32_MAX is kept free. */
    if (n >= UINT32_MAX)
        return vdb_set_errmsg(VDB_EINVAL, "hnsw: %zu rows, at most %u per index", n,
                              UINT32_MAX - 1);
    vdb_hnsw *h = vdb_calloc(1, sizeof *h);
    if (!h)
        return vdb_set_errmsg(VDB_ENOMEM, "hnsw: out of memory");
    h->base = base;
    h->type = type;
    h->vk = vdb_vkernels_for(type);
    h->width = (size_t)dim * vdb_vector_elem_size(type);
    h->n = n;
    h->dim = dim;
    h->metric = metric;
    h->M = M;
    h->M0 = 2 * M;
    h->ef_construction = efc;
    h->max_level = -1;
    /* calloc of at least one byte so an empty index still has valid arrays */
    h->level = vdb_calloc(n ? n : 1, 1);
    if (!h->level || pthread_mutex_init(&h->pool_lock, NULL) != 0) {
        vdb_free(h->level);
        vdb_free(h);
        return vdb_set_errmsg(VDB_ENOMEM, "hnsw: out of memory");
    }
    *out = h;
    return VDB_OK;
}

/* Codes of every row (COSINE: of the normalized row, so the code's IP is the cosine). */
static vdb_status quantize(vdb_hnsw *h)
{
    vdb_status st = vdb_sq8_train_t(&h->sq, h->type, h->base, h->n, h->dim, h->inv_norm);
    if (st != VDB_OK)
        return st;
    size_t n = h->n ? h->n : 1;
    /* aligned_alloc (not vdb_malloc): rows start on cache lines, which prefetching counts on */
    h->codes = aligned_alloc(64, n * h->sq.stride);
    if (!h->codes)
        return vdb_set_errmsg(VDB_ENOMEM, "hnsw: out of memory for %zu codes", h->n);
    float *buf = h->vk ? vdb_malloc((size_t)h->dim * sizeof *buf) : NULL;
    if (h->vk && !buf)
        return vdb_set_errmsg(VDB_ENOMEM, "hnsw: out of memory");
    for (size_t i = 0; i < h->n; i++)
        vdb_sq8_encode(&h->sq, h->metric, hnsw_row(h, (uint32_t)i, buf),
                       h->inv_norm ? h->inv_norm[i] : 1, h->codes + i * h->sq.stride);
    vdb_free(buf);
    return VDB_OK;
}

vdb_status hnsw_offsets(vdb_hnsw *h)
{
    size_t n = h->n, lists = 0;
    h->upper_off = vdb_malloc((n ? n : 1) * sizeof *h->upper_off);
    if (!h->upper_off)
        return vdb_set_errmsg(VDB_ENOMEM, "hnsw: out of memory");
    for (size_t i = 0; i < n; i++) {
        h->upper_off[i] = (uint32_t)lists;
        lists += h->level[i];
    }
    /* lists <= n * HNSW_MAX_LEVEL; offsets must fit uint32 */
    if (lists >= UINT32_MAX)
        return vdb_set_errmsg(VDB_EINVAL, "hnsw: too many rows for one index");
    h->upper_lists = lists;
    return VDB_OK;
}

vdb_status hnsw_alloc_lists(vdb_hnsw *h)
{
    size_t n = h->n, lists = h->upper_lists;
    h->l0 = vdb_calloc((n ? n : 1) * (h->M0 + 1), sizeof *h->l0);
    h->upper = vdb_calloc((lists ? lists : 1) * (h->M + 1), sizeof *h->upper);
    if (!h->l0 || !h->upper)
        return vdb_set_errmsg(VDB_ENOMEM, "hnsw: out of memory");
    return VDB_OK;
}

vdb_status hnsw_layout(vdb_hnsw *h)
{
    size_t n = h->n;
    vdb_status st = hnsw_offsets(h);
    if (st == VDB_OK)
        st = hnsw_alloc_lists(h);
    if (st != VDB_OK)
        return st;
    if (h->metric == VDB_METRIC_COSINE) {
        h->inv_norm = vdb_malloc((n ? n : 1) * sizeof *h->inv_norm);
        if (!h->inv_norm)
            return vdb_set_errmsg(VDB_ENOMEM, "hnsw: out of memory");
        for (size_t i = 0; i < n; i++) {
            float s = vdb_norm_sq_t(h->type, (const uint8_t *)h->base + i * h->width, h->dim);
            /* a zero row has no direction: cosine 0 against everything, as vdb_dist says */
            h->inv_norm[i] = s > 0 ? 1.0f / sqrtf(s) : 0.0f;
        }
    }
    return quantize(h);
}

bool hnsw_heap_grow(hnsw_heap *hp)
{
    size_t cap = hp->cap ? hp->cap * 2 : 64;
    hnsw_pair *a = vdb_realloc(hp->a, cap * sizeof *a);
    if (!a)
        return false;
    hp->a = a;
    hp->cap = cap;
    return true;
}

int hnsw_pair_cmp(const void *pa, const void *pb)
{
    const hnsw_pair *a = pa, *b = pb;
    if (a->d != b->d)
        return a->d < b->d ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

size_t hnsw_heap_drain_sorted(hnsw_heap *hp, hnsw_pair *a)
{
    size_t m = hp->n;
    for (size_t i = m; i > 0; i--) {
        a[i - 1] = hp->a[0];
        hnsw_heap_pop(hp);
    }
    return m;
}

hnsw_ctx *hnsw_ctx_new(const vdb_hnsw *h)
{
    hnsw_ctx *c = vdb_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->mark = vdb_calloc(h->n ? h->n : 1, sizeof *c->mark);
    c->q = vdb_malloc((size_t)h->dim * sizeof *c->q);
    if (h->vk) {
        c->row = vdb_malloc((size_t)h->dim * sizeof *c->row);
        c->tmp = vdb_malloc((size_t)h->dim * sizeof *c->tmp);
        if (!c->row || !c->tmp) {
            hnsw_ctx_free(c);
            return NULL;
        }
    }
    c->pq.w = aligned_alloc(64, (size_t)h->sq.stride * sizeof *c->pq.w + 64);
    c->ids = vdb_malloc((h->M0 + 2) * sizeof *c->ids);
    /* selection works on up to efConstruction candidates, or a full list plus one */
    size_t nsel = VDB_MAX(h->ef_construction, h->M0 + 1) + 1;
    c->sel = vdb_malloc(nsel * sizeof *c->sel);
    if (!c->mark || !c->q || !c->pq.w || !c->ids || !c->sel || !hnsw_heap_grow(&c->cand) ||
        !hnsw_heap_grow(&c->res)) {
        hnsw_ctx_free(c);
        return NULL;
    }
    return c;
}

void hnsw_ctx_free(hnsw_ctx *c)
{
    if (!c)
        return;
    vdb_free(c->mark);
    vdb_free(c->q);
    vdb_free(c->row);
    vdb_free(c->tmp);
    free(c->pq.w);
    vdb_free(c->ids);
    vdb_free(c->sel);
    vdb_free(c->cand.a);
    vdb_free(c->res.a);
    vdb_free(c);
}

void vdb_hnsw_free(vdb_hnsw *h)
{
    if (!h)
        return;
    for (hnsw_ctx *c = h->pool, *next; c; c = next) {
        next = c->next;
        hnsw_ctx_free(c);
    }
    pthread_mutex_destroy(&h->pool_lock);
    vdb_free(h->level);
    vdb_free(h->upper_off);
    vdb_sq8_free(&h->sq);
    if (!h->view) { /* a view's lists, norms and codes are the caller's bytes */
        vdb_free(h->l0);
        vdb_free(h->upper);
        vdb_free(h->inv_norm);
        free(h->codes);
    }
    vdb_free(h);
}

size_t vdb_hnsw_memory(const vdb_hnsw *h)
{
    if (!h)
        return 0;
    size_t n = h->n;
    size_t b = sizeof *h + n * (sizeof *h->level + sizeof *h->upper_off);
    if (h->view)
        return b + 2 * (size_t)h->dim * sizeof(float);
    b += n * (h->M0 + 1) * sizeof *h->l0 + h->upper_lists * (h->M + 1) * sizeof *h->upper;
    if (h->inv_norm)
        b += n * sizeof *h->inv_norm;
    b += n * h->sq.stride + 2 * (size_t)h->dim * sizeof(float);
    return b;
}

size_t vdb_hnsw_rows(const vdb_hnsw *h) { return h ? h->n : 0; }
vdb_metric vdb_hnsw_metric(const vdb_hnsw *h) { return h->metric; }

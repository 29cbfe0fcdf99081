/* Internals of the HNSW index shared by its object, build, search and serialization files. */
#ifndef VDB_HNSW_INT_H
#define VDB_HNSW_INT_H

#include <pthread.h>

#include "index/vector/hnsw.h"
#include "index/vector/sq8.h"

/* Levels are drawn as floor(-ln(u) / ln(M)); capping keeps them in a byte and bounds what a
 * decoder accepts. 48 levels of M >= 2 is far beyond any row count that fits in uint32. */
#define HNSW_MAX_LEVEL 48
/* Search contexts kept for reuse between queries. */
#define HNSW_POOL_MAX 16

/* (distance, row): distances are "lower is closer" for every metric (-ip for IP/COSINE). */
typedef struct hnsw_pair {
    float d;
    uint32_t id;
} hnsw_pair;

/* A binary max-heap on d (candidates are stored with -d so one heap type serves both). */
typedef struct hnsw_heap {
    hnsw_pair *a;
    size_t n, cap;
} hnsw_heap;

/* Scratch for one search or one build thread: an epoch-stamped visited set (a row is visited
 * when mark[row] == epoch, so clearing is one increment), two heaps, and buffers. */
typedef struct hnsw_ctx {
    uint16_t *mark;
    uint16_t epoch;
    hnsw_heap cand, res;
    float *q;        /* COSINE: the normalized query */
    vdb_sq8_query pq; /* the query (or the row being inserted) as int16 weights */
    uint32_t *ids;   /* a neighbour list copy / the unvisited neighbours */
    hnsw_pair *sel;  /* neighbour selection scratch */
    struct hnsw_ctx *next;
    /* FLOAT16 / BFLOAT16 / INT8 rows: dim floats each, a stored row widened for the build
     * (the row being inserted; the one being compared in neighbour selection) */
    float *row, *tmp;
} hnsw_ctx;

struct vdb_hnsw {
    const void *base;  /* the segment's rows (of type), not owned */
    size_t n;
    uint32_t dim;
    vdb_metric metric;
    uint32_t M, M0, ef_construction;
    int32_t max_level; /* -1 when empty */
    uint32_t entry;
    uint8_t *level;      /* n: each row's top level */
    uint32_t *l0;        /* n * (M0 + 1): count, then ids */
    uint32_t *upper_off; /* n: index of the row's level-1 list in upper */
    uint32_t *upper;     /* upper_lists * (M + 1): levels 1..level of each row, in order */
    size_t upper_lists;
    float *inv_norm;     /* COSINE: 1/|row| (0 for a zero row); NULL otherwise */
    /* The walk runs on 8-bit codes of the rows (sq8.h; derived from the rows, so they are
     * not serialized); the final candidates are re-ranked on the float rows. */
    vdb_sq8 sq;
    uint8_t *codes;      /* n * sq.stride bytes, 64-byte aligned */
    pthread_mutex_t pool_lock;
    hnsw_ctx *pool;
    unsigned pooled;
    /* The rows' element type: FLOAT_VECTOR, or FLOAT16 / BFLOAT16 / INT8 rows scored in place
     * through vk (NULL for float rows); width is the bytes of one row. */
    vdb_type type;
    const vdb_vkernels *vk;
    size_t width;
    /* A view (vdb_hnsw_decode_view): l0, upper, inv_norm and codes point into the caller's
     * bytes (a mapped file) and are not freed here. */
    bool view;
};

static inline uint32_t *hnsw_list(const vdb_hnsw *h, uint32_t row, int level)
{
    if (level == 0)
        return h->l0 + (size_t)row * (h->M0 + 1);
    return h->upper + ((size_t)h->upper_off[row] + (size_t)(level - 1)) * (h->M + 1);
}

/* Distance of query q to a row; qscale is 1/|q| for COSINE (1 when q is already normalized). */
static inline float hnsw_dist(const vdb_hnsw *h, const float *q, float qscale, uint32_t row)
{
    if (h->vk) {
        const void *xv = (const uint8_t *)h->base + (size_t)row * h->width;
        switch (h->metric) {
        case VDB_METRIC_L2:
            return h->vk->l2sq(q, xv, h->dim);
        case VDB_METRIC_IP:
            return -h->vk->ip(q, xv, h->dim);
        case VDB_METRIC_COSINE:
            return -h->vk->ip(q, xv, h->dim) * h->inv_norm[row] * qscale;
        default: /* binary metrics: HNSW does not index BINARY_VECTOR fields */
            break;
        }
        return 0;
    }
    const float *x = (const float *)h->base + (size_t)row * h->dim;
    switch (h->metric) {
    case VDB_METRIC_L2:
        return vdb_dist_l2sq(q, x, h->dim);
    case VDB_METRIC_IP:
        return -vdb_dist_ip(q, x, h->dim);
    case VDB_METRIC_COSINE:
        return -vdb_dist_ip(q, x, h->dim) * h->inv_norm[row] * qscale;
    default:
        break;
    }
    return 0;
}

static inline const uint8_t *hnsw_code(const vdb_hnsw *h, uint32_t row)
{
    return h->codes + (size_t)row * h->sq.stride;
}

/* Approximate distance of the prepared query in c->pq to a row, from its code. */
static inline float hnsw_qdist(const vdb_hnsw *h, const vdb_sq8_query *pq, uint32_t row)
{
    return vdb_sq8_dist(&h->sq, pq, hnsw_code(h, row));
}

/* Prepares q (a float row or query; normalized already for COSINE) for hnsw_qdist. */
static inline void hnsw_prepare(const vdb_hnsw *h, const float *q, vdb_sq8_query *pq)
{
    vdb_sq8_query_prepare(&h->sq, h->metric, q, pq);
}

static inline void hnsw_ctx_begin(hnsw_ctx *c, size_t n)
{
    if (++c->epoch == 0) {
        memset(c->mark, 0, n * sizeof *c->mark);
        c->epoch = 1;
    }
    c->cand.n = c->res.n = 0;
}

/* Heap operations (inline: they sit in the search loop); push grows the array, false on OOM. */
bool hnsw_heap_grow(hnsw_heap *hp);

static inline bool hnsw_heap_push(hnsw_heap *hp, float d, uint32_t id)
{
    if (hp->n == hp->cap && !hnsw_heap_grow(hp))
        return false;
    size_t i = hp->n++;
    hnsw_pair *a = hp->a;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!(a[p].d < d))
            break;
        a[i] = a[p];
        i = p;
    }
    a[i].d = d;
    a[i].id = id;
    return true;
}

static inline void hnsw_heap_pop(hnsw_heap *hp)
{
    hnsw_pair *a = hp->a;
    hnsw_pair last = a[--hp->n];
    size_t n = hp->n, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && a[c + 1].d > a[c].d)
            c++;
        if (!(a[c].d > last.d))
            break;
        a[i] = a[c];
        i = c;
    }
    if (n)
        a[i] = last;
}

/* qsort order of pairs: closer first, then the smaller row. */
int hnsw_pair_cmp(const void *pa, const void *pb);

/* Pops every element into a[] closest first; returns the count. */
size_t hnsw_heap_drain_sorted(hnsw_heap *hp, hnsw_pair *a);

/* Object helpers (hnsw.c). */
vdb_status hnsw_check_params(uint32_t dim, vdb_metric metric, uint32_t M, uint32_t efc);
/* A new index with level[] allocated (and zeroed) but no lists yet. */
vdb_status hnsw_new(vdb_type type, const void *base, size_t n, uint32_t dim, vdb_metric metric,
                    uint32_t M, uint32_t efc, vdb_hnsw **out);
/* Row r as floats: the row itself for float rows, else widened into buf (dim floats). */
static inline const float *hnsw_row(const vdb_hnsw *h, uint32_t r, float *buf)
{
    if (!h->vk)
        return (const float *)h->base + (size_t)r * h->dim;
    vdb_vector_to_f32(h->type, (const uint8_t *)h->base + (size_t)r * h->width, h->dim, buf);
    return buf;
}
/* Allocates l0 / upper_off / upper (zeroed) from level[], inv_norm for COSINE, and the
 * rows' 8-bit codes. */
vdb_status hnsw_layout(vdb_hnsw *h);
/* The parts of hnsw_layout: upper_off and upper_lists from level[]; l0 and upper (zeroed). */
vdb_status hnsw_offsets(vdb_hnsw *h);
vdb_status hnsw_alloc_lists(vdb_hnsw *h);
hnsw_ctx *hnsw_ctx_new(const vdb_hnsw *h);
void hnsw_ctx_free(hnsw_ctx *c);

#endif

/* HNSW as a vector-index kind: its parameters as Milvus names them, and the vtable over
 * hnsw.h. */
#include "index/vector/hnsw.h"
#include "index/vector/vindex.h"

enum { P_M, P_EFC };
static const vdb_param_def build_params[] = {
    [P_M] = {"M", NULL, VDB_HNSW_M_MIN, VDB_HNSW_M_MAX, 16, true, NULL},
    [P_EFC] = {"efConstruction", "efc", 1, VDB_HNSW_EFC_MAX, 200, true, NULL},
};

enum { S_EF };
/* ef: the beam, raised to k (Milvus's default is max(k, 64)) */
static const vdb_param_def search_params[] = {
    [S_EF] = {"ef", NULL, 1, VDB_HNSW_EF_MAX, 64, true, NULL},
};

static vdb_status check(const vdb_vparams *p, const vdb_vectors *shape)
{
    if (p->v[P_EFC] < p->v[P_M])
        return vdb_set_errmsg(VDB_EINVAL, "HNSW efConstruction=%u must be at least M=%u",
                              (uint32_t)p->v[P_EFC], (uint32_t)p->v[P_M]);
    if (shape && shape->dim > VDB_HNSW_DIM_MAX)
        return vdb_set_errmsg(VDB_EINVAL, "HNSW indexes at most %u dimensions, not %u",
                              VDB_HNSW_DIM_MAX, shape->dim);
    return VDB_OK;
}

static vdb_status build(const vdb_vparams *p, const vdb_vectors *rows, uint32_t threads,
                        vdb_build_progress_fn progress, void *arg, void **out)
{
    return vdb_hnsw_build_t(rows->type, rows->data, rows->n, rows->dim, rows->metric,
                            (uint32_t)p->v[P_M], (uint32_t)p->v[P_EFC], threads, progress, arg,
                            (vdb_hnsw **)out);
}

static vdb_status search(const void *idx, const void *query, uint32_t k, const vdb_vparams *sp,
                         const vdb_vectors *rows, const uint64_t *bitset, int64_t id_base,
                         vdb_topk *out)
{
    (void)rows; /* the graph holds its rows */
    uint32_t ef = (uint32_t)sp->v[S_EF];
    return vdb_hnsw_search(idx, query, k, ef < k ? k : ef, bitset, id_base, out);
}

static vdb_status encode(const void *idx, vdb_buf *out) { return vdb_hnsw_encode(idx, out); }

static vdb_status decode_as(bool view, const void *p, size_t len, const vdb_vectors *rows,
                            void **out)
{
    vdb_hnsw *h;
    vdb_status st = view ? vdb_hnsw_decode_view(p, len, rows->type, rows->data, rows->n,
                                                rows->dim, &h)
                         : vdb_hnsw_decode_t(p, len, rows->type, rows->data, rows->n,
                                             rows->dim, &h);
    if (st != VDB_OK)
        return st;
    /* the field's metric is fixed once it has an index: a saved graph of another one is
     * damage (its searches would rank by the wrong distance or be refused) */
    if (vdb_hnsw_metric(h) != rows->metric) {
        vdb_hnsw_free(h);
        return vdb_set_errmsg(VDB_ECORRUPT, "hnsw decode: the graph was built for another "
                              "metric");
    }
    *out = h;
    return VDB_OK;
}

static vdb_status decode(const void *p, size_t len, const vdb_vectors *rows, void **out)
{
    return decode_as(false, p, len, rows, out);
}

static vdb_status decode_view(const void *p, size_t len, const vdb_vectors *rows, void **out)
{
    return decode_as(true, p, len, rows, out);
}

static size_t memory(const void *idx) { return vdb_hnsw_memory(idx); }
static size_t nrows(const void *idx) { return vdb_hnsw_rows(idx); }
static void release(void *idx) { vdb_hnsw_free(idx); }

const vdb_vindex_kind vdb_hnsw_kind = {
    .name = "HNSW",
    .file_tag = "hnsw",
    .types = VDB_VTYPE_BIT(VDB_TYPE_FLOAT_VECTOR) | VDB_VTYPE_BIT(VDB_TYPE_FLOAT16_VECTOR) |
             VDB_VTYPE_BIT(VDB_TYPE_BFLOAT16_VECTOR) | VDB_VTYPE_BIT(VDB_TYPE_INT8_VECTOR),
    .build_params = build_params,
    .n_build_params = VDB_ARRAY_LEN(build_params),
    .search_params = search_params,
    .n_search_params = VDB_ARRAY_LEN(search_params),
    .check = check,
    .build = build,
    .search = search,
    .encode = encode,
    .decode = decode,
    .memory = memory,
    .rows = nrows,
    .free = release,
    .decode_view = decode_view,
};

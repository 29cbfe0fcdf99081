/* IVF_FLAT, IVF_SQ8 and IVF_PQ as vector-index kinds: their parameters as Milvus names them,
 * and one vtable over ivf.h for the three. */
#include <stdio.h>
#include <string.h>

#include "index/vector/ivf.h"
#include "index/vector/vindex.h"

enum { P_NLIST, P_M, P_NBITS };
/* IVF_PQ's m has no default (0: not given): it must divide the field's dim */
static const vdb_param_def pq_params[] = {
    [P_NLIST] = {"nlist", NULL, VDB_IVF_NLIST_MIN, VDB_IVF_NLIST_MAX, 128, true, NULL},
    [P_M] = {"m", NULL, 1, 65536, 0, true, NULL},
    [P_NBITS] = {"nbits", NULL, VDB_IVF_PQ_NBITS_MIN, VDB_IVF_PQ_NBITS_MAX, 8, true, NULL},
};

static const vdb_param_def search_params[] = {
    {"nprobe", NULL, 1, VDB_IVF_NPROBE_MAX, 8, true, NULL},
};

static vdb_ivf_params ivf_params(const vdb_vparams *p, bool pq)
{
    return (vdb_ivf_params){(uint32_t)p->v[P_NLIST], pq ? (uint32_t)p->v[P_M] : 0,
                            pq ? (uint32_t)p->v[P_NBITS] : 0};
}

/* What ivf.c itself refuses, at create_index rather than at the first build: a dim out of
 * range, or a kind this build lacks (IVF_SQ8 and IVF_PQ without Faiss). */
static vdb_status check_with(vdb_ivf_kind kind, const vdb_vparams *p, const vdb_vectors *shape)
{
    vdb_ivf_params ip = ivf_params(p, kind == VDB_IVF_PQ);
    vdb_status st = vdb_ivf_check(kind, shape ? shape->dim : 1, &ip);
    if (st == VDB_OK)
        return st;
    char why[512]; /* the message without ivf.c's prefix (copied: it is the thread's buffer) */
    const char *m = vdb_err_get();
    snprintf(why, sizeof why, "%s", strncmp(m, "ivf: ", 5) ? m : m + 5);
    return vdb_set_errmsg(st, "%s", why);
}

static vdb_status check_flat(const vdb_vparams *p, const vdb_vectors *shape)
{
    return check_with(VDB_IVF_FLAT, p, shape);
}

static vdb_status check_sq8(const vdb_vparams *p, const vdb_vectors *shape)
{
    return check_with(VDB_IVF_SQ8, p, shape);
}

static vdb_status check_pq(const vdb_vparams *p, const vdb_vectors *shape)
{
    uint32_t m = (uint32_t)p->v[P_M];
    if (!(p->given & (1u << P_M)))
        return vdb_set_errmsg(VDB_EINVAL, "IVF_PQ needs parameter m (sub-quantizers: a divisor "
                              "of the field's dim %u)", shape ? shape->dim : 0);
    if (shape && (m > shape->dim || shape->dim % m))
        return vdb_set_errmsg(VDB_EINVAL, "IVF_PQ parameter m=%u must divide the field's dim %u",
                              m, shape->dim);
    return check_with(VDB_IVF_PQ, p, shape);
}

/* One build function per kind: the vtable carries no pointer to its own kind. */
static vdb_status build_as(vdb_ivf_kind kind, const vdb_vparams *p, const vdb_vectors *rows,
                           uint32_t threads, vdb_build_progress_fn progress, void *arg,
                           void **out)
{
    vdb_ivf_params ip = ivf_params(p, kind == VDB_IVF_PQ);
    return vdb_ivf_build_t(kind, rows->type, rows->data, rows->n, rows->dim, rows->metric, &ip,
                           threads, progress, arg, (vdb_ivf **)out);
}

static vdb_status build_flat(const vdb_vparams *p, const vdb_vectors *rows, uint32_t threads,
                             vdb_build_progress_fn progress, void *arg, void **out)
{
    return build_as(VDB_IVF_FLAT, p, rows, threads, progress, arg, out);
}

static vdb_status build_sq8(const vdb_vparams *p, const vdb_vectors *rows, uint32_t threads,
                            vdb_build_progress_fn progress, void *arg, void **out)
{
    return build_as(VDB_IVF_SQ8, p, rows, threads, progress, arg, out);
}

static vdb_status build_pq(const vdb_vparams *p, const vdb_vectors *rows, uint32_t threads,
                           vdb_build_progress_fn progress, void *arg, void **out)
{
    return build_as(VDB_IVF_PQ, p, rows, threads, progress, arg, out);
}

static vdb_status search(const void *idx, const void *query, uint32_t k, const vdb_vparams *sp,
                         const vdb_vectors *rows, const uint64_t *bitset, int64_t id_base,
                         vdb_topk *out)
{
    return vdb_ivf_search(idx, query, k, (uint32_t)sp->v[0], rows->data, bitset, id_base, out);
}

static vdb_status encode(const void *idx, vdb_buf *out) { return vdb_ivf_encode(idx, out); }

static vdb_status decode_as(vdb_ivf_kind kind, bool view, const void *p, size_t len,
                            const vdb_vectors *rows, void **out)
{
    vdb_ivf *ivf;
    vdb_status st = view ? vdb_ivf_decode_view(p, len, rows->type, rows->n, rows->dim, &ivf)
                         : vdb_ivf_decode_t(p, len, rows->type, rows->n, rows->dim, &ivf);
    if (st == VDB_OK && vdb_ivf_kind_of(ivf) != kind) {
        vdb_ivf_free(ivf);
        return vdb_set_errmsg(VDB_ECORRUPT, "the saved IVF index is of another kind");
    }
    /* the field's metric is fixed once it has an index: one saved for another is damage */
    if (st == VDB_OK && vdb_ivf_metric(ivf) != rows->metric) {
        vdb_ivf_free(ivf);
        return vdb_set_errmsg(VDB_ECORRUPT, "ivf decode: the index was built for another "
                              "metric");
    }
    if (st == VDB_OK)
        *out = ivf;
    return st;
}

static vdb_status decode_flat(const void *p, size_t len, const vdb_vectors *rows, void **out)
{
    return decode_as(VDB_IVF_FLAT, false, p, len, rows, out);
}

static vdb_status decode_sq8(const void *p, size_t len, const vdb_vectors *rows, void **out)
{
    return decode_as(VDB_IVF_SQ8, false, p, len, rows, out);
}

static vdb_status decode_pq(const void *p, size_t len, const vdb_vectors *rows, void **out)
{
    return decode_as(VDB_IVF_PQ, false, p, len, rows, out);
}

/* IVF_FLAT only: IVF_SQ8 / IVF_PQ hold Faiss's structures, on the heap */
static vdb_status view_flat(const void *p, size_t len, const vdb_vectors *rows, void **out)
{
    return decode_as(VDB_IVF_FLAT, true, p, len, rows, out);
}

static size_t memory(const void *idx) { return vdb_ivf_memory(idx); }
static size_t nrows(const void *idx) { return vdb_ivf_rows(idx); }
static void release(void *idx) { vdb_ivf_free(idx); }

/* As Milvus 2.5: float, float16 and bfloat16 fields (not INT8_VECTOR, which Milvus 2.6
 * indexes with HNSW only). */
#define IVF_TYPES                                                                            \
    (VDB_VTYPE_BIT(VDB_TYPE_FLOAT_VECTOR) | VDB_VTYPE_BIT(VDB_TYPE_FLOAT16_VECTOR) |           \
     VDB_VTYPE_BIT(VDB_TYPE_BFLOAT16_VECTOR))

#define IVF_KIND(NAME, TAG, NPARAMS, CHECK, BUILD, DECODE, VIEW)                             \
    {                                                                                        \
        .name = NAME, .file_tag = TAG, .types = IVF_TYPES,                                   \
        .build_params = pq_params, .n_build_params = NPARAMS,                                \
        .search_params = search_params, .n_search_params = VDB_ARRAY_LEN(search_params),     \
        .check = CHECK, .build = BUILD, .search = search, .encode = encode, .decode = DECODE, \
        .memory = memory, .rows = nrows, .free = release, .decode_view = VIEW,               \
    }

/* IVF_FLAT and IVF_SQ8 take the first row of pq_params (nlist) only */
const vdb_vindex_kind vdb_ivf_flat_kind = IVF_KIND("IVF_FLAT", "ivf_flat", 1, check_flat,
                                                   build_flat, decode_flat, view_flat);
const vdb_vindex_kind vdb_ivf_sq8_kind = IVF_KIND("IVF_SQ8", "ivf_sq8", 1, check_sq8, build_sq8,
                                                  decode_sq8, NULL);
const vdb_vindex_kind vdb_ivf_pq_kind = IVF_KIND("IVF_PQ", "ivf_pq", VDB_ARRAY_LEN(pq_params),
                                                 check_pq, build_pq, decode_pq, NULL);

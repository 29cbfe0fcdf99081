/* The vector-index wrapper: a tagged union over HNSW and IVF, dispatching each call. */
#include <strings.h>

#include "index/vector/hnsw.h"
#include "index/vector/ivf.h"
#include "index/vector/vindex.h"

struct vdb_vindex {
    vdb_vindex_type type;
    union {
        vdb_hnsw *hnsw;
        vdb_ivf *ivf;
    } u;
};

static const char *const names[] = {"", "HNSW", "IVF_FLAT", "IVF_SQ8", "IVF_PQ"};

const char *vdb_vindex_type_name(vdb_vindex_type type)
{
    return type >= VDB_VINDEX_HNSW && type <= VDB_VINDEX_IVF_PQ ? names[type] : "";
}

vdb_vindex_type vdb_vindex_type_from_name(const char *name)
{
    for (int t = VDB_VINDEX_HNSW; name && t <= VDB_VINDEX_IVF_PQ; t++)
        if (!strcasecmp(name, names[t]))
            return (vdb_vindex_type)t;
    return VDB_VINDEX_NONE;
}

vdb_vindex_type vdb_vindex_type_of(const vdb_vindex *idx) { return idx->type; }

static bool is_ivf(vdb_vindex_type t) { return t >= VDB_VINDEX_IVF_FLAT && t <= VDB_VINDEX_IVF_PQ; }

static vdb_ivf_kind ivf_kind(vdb_vindex_type t)
{
    return t == VDB_VINDEX_IVF_FLAT ? VDB_IVF_FLAT : t == VDB_VINDEX_IVF_SQ8 ? VDB_IVF_SQ8
                                                                            : VDB_IVF_PQ;
}

static vdb_status wrap(vdb_vindex_type type, void *p, vdb_vindex **out)
{
    vdb_vindex *v = vdb_calloc(1, sizeof *v);
    if (!v) {
        if (type == VDB_VINDEX_HNSW)
            vdb_hnsw_free(p);
        else
            vdb_ivf_free(p);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    v->type = type;
    if (type == VDB_VINDEX_HNSW)
        v->u.hnsw = p;
    else
        v->u.ivf = p;
    *out = v;
    return VDB_OK;
}

static vdb_status unknown(vdb_vindex_type type)
{
    return vdb_set_errmsg(VDB_EINVAL, "vector index type %d is unknown (HNSW, IVF_FLAT, "
                          "IVF_SQ8, IVF_PQ)", (int)type);
}

vdb_status vdb_vindex_build(vdb_vindex_type type, const vdb_vindex_params *p, const float *base,
                            size_t n, uint32_t dim, vdb_metric metric, uint32_t threads,
                            void (*progress)(void *arg, size_t done, size_t total), void *arg,
                            vdb_vindex **out)
{
    *out = NULL;
    vdb_status st;
    if (type == VDB_VINDEX_HNSW) {
        vdb_hnsw *h;
        st = vdb_hnsw_build(base, n, dim, metric, p->M, p->ef_construction, threads, progress,
                            arg, &h);
        return st == VDB_OK ? wrap(type, h, out) : st;
    }
    if (!is_ivf(type))
        return unknown(type);
    vdb_ivf_params ip = {p->nlist, p->pq_m, p->pq_nbits};
    vdb_ivf *ivf;
    st = vdb_ivf_build(ivf_kind(type), base, n, dim, metric, &ip, threads, progress, arg, &ivf);
    return st == VDB_OK ? wrap(type, ivf, out) : st;
}

vdb_status vdb_vindex_search(const vdb_vindex *idx, const float *query, uint32_t k,
                             const vdb_vindex_search_params *sp, const float *base,
                             const uint64_t *bitset, int64_t id_base, vdb_topk *out)
{
    if (idx->type == VDB_VINDEX_HNSW)
        return vdb_hnsw_search(idx->u.hnsw, query, k, sp->ef, bitset, id_base, out);
    return vdb_ivf_search(idx->u.ivf, query, k, sp->nprobe, base, bitset, id_base, out);
}

vdb_status vdb_vindex_encode(const vdb_vindex *idx, vdb_buf *out)
{
    return idx->type == VDB_VINDEX_HNSW ? vdb_hnsw_encode(idx->u.hnsw, out)
                                        : vdb_ivf_encode(idx->u.ivf, out);
}

vdb_status vdb_vindex_decode(vdb_vindex_type type, const void *p, size_t len, const float *base,
                             size_t n, uint32_t dim, vdb_vindex **out)
{
    *out = NULL;
    vdb_status st;
    if (type == VDB_VINDEX_HNSW) {
        vdb_hnsw *h;
        st = vdb_hnsw_decode(p, len, base, n, dim, &h);
        return st == VDB_OK ? wrap(type, h, out) : st;
    }
    if (!is_ivf(type))
        return unknown(type);
    vdb_ivf *ivf;
    st = vdb_ivf_decode(p, len, n, dim, &ivf);
    if (st == VDB_OK && vdb_ivf_kind_of(ivf) != ivf_kind(type)) {
        vdb_ivf_free(ivf);
        return vdb_set_errmsg(VDB_ECORRUPT, "saved index is not %s", vdb_vindex_type_name(type));
    }
    return st == VDB_OK ? wrap(type, ivf, out) : st;
}

size_t vdb_vindex_memory(const vdb_vindex *idx)
{
    return sizeof *idx + (idx->type == VDB_VINDEX_HNSW ? vdb_hnsw_memory(idx->u.hnsw)
                                                        : vdb_ivf_memory(idx->u.ivf));
}

size_t vdb_vindex_rows(const vdb_vindex *idx)
{
    return idx->type == VDB_VINDEX_HNSW ? vdb_hnsw_rows(idx->u.hnsw) : vdb_ivf_rows(idx->u.ivf);
}

void vdb_vindex_free(vdb_vindex *idx)
{
    if (!idx)
        return;
    if (idx->type == VDB_VINDEX_HNSW)
        vdb_hnsw_free(idx->u.hnsw);
    else
        vdb_ivf_free(idx->u.ivf);
    vdb_free(idx);
}

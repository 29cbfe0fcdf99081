/* IVF serialization: a versioned little-endian frame with a crc32c; Faiss kinds embed Faiss's own bytes. */
#include "ivf_int.h"

/* Vectors and ids are written as raw words: the format is little-endian and so are the hosts
 * we build for; refuse to compile elsewhere rather than write a different format. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ivf_io.c assumes a little-endian host"
#endif

#define IVF_MAGIC 0x31465649u /* "IVF1" */
#define IVF_VERSION 1u      /* FLOAT_VECTOR rows */
#define IVF_VERSION_TYPED 2u /* other row types: the type follows flat */
#define IVF_VERSION_ALIGNED 3u /* flat lists on 64-byte boundaries, usable in place */
#define HEADER_BYTES 44
#define V3_HEADER 64u
#define V3_ALIGN 64u

/* Layout: magic, version, kind, metric, dim, n (u64), nlist, pq_m, pq_nbits, flat (u32 0/1),
 * in version 2 the rows' vdb_type (u32), then for flat lists: centroids (nlist * dim f32),
 * offsets (nlist + 1 u32), row ids (n u32), vectors (n * dim elements of the rows' type: f32,
 * or the 16-bit FLOAT16 / BFLOAT16 words); else the Faiss index as bytes (u64 length +
 * write_index's bytes); then the crc32c of everything before it. Indexes over float rows are
 * written as version 1, as before types came in.
 *
 * Version 3 (written for flat lists, any row type): the 44 bytes, the rows' vdb_type (u32),
 * zeros to 64 bytes; then, each starting on a multiple of 64 bytes from the start and
 * zero-padded: the centroids (none when n is 0), the offsets, the row ids, the position of
 * each row (n u32, the inverse of the row ids), COSINE's inverse norms over half-precision
 * rows (n f32; absent otherwise), the vectors; then the crc32c of everything before it.
 * Placed on a 64-byte boundary (a mapped file) the lists are used in place
 * (vdb_ivf_decode_view). Faiss-backed indexes are written as versions 1 / 2. */

typedef struct v3_layout {
    uint64_t cent, off, row, pos, norm, vec, crc, len;
} v3_layout;

static uint64_t align_up(uint64_t x) { return (x + V3_ALIGN - 1) & ~(uint64_t)(V3_ALIGN - 1); }

static bool has_norms(const vdb_ivf *ivf)
{
    return ivf->n && ivf->metric == VDB_METRIC_COSINE && ivf->type != VDB_TYPE_FLOAT_VECTOR;
}

/* Section offsets from the header's counts (n < 2^32, nlist and dim bounded: no overflow). */
static v3_layout layout_v3(const vdb_ivf *ivf)
{
    v3_layout L;
    uint64_t n = ivf->n;
    L.cent = V3_HEADER;
    L.off = align_up(L.cent + (n ? (uint64_t)ivf->nlist * ivf->dim * 4 : 0));
    L.row = align_up(L.off + ((uint64_t)ivf->nlist + 1) * 4);
    L.pos = align_up(L.row + n * 4);
    L.norm = align_up(L.pos + n * 4);
    L.vec = align_up(L.norm + (has_norms(ivf) ? n * 4 : 0));
    L.crc = align_up(L.vec + n * ivf_row_bytes(ivf));
    L.len = L.crc + 4;
    return L;
}

static void pad_to(vdb_buf *out, size_t start, uint64_t off)
{
    static const uint8_t zeros[V3_ALIGN];
    size_t have = out->len - start;
    if (off > have)
        vdb_buf_put(out, zeros, (size_t)(off - have));
}

static vdb_status encode_v3(const vdb_ivf *ivf, size_t start, vdb_buf *out)
{
    const ivf_lists *l = &ivf->l;
    v3_layout L = layout_v3(ivf);
    if (!vdb_buf_reserve(out, (size_t)L.len))
        return vdb_set_errmsg(VDB_ENOMEM, "ivf encode: out of memory");
    vdb_buf_u32(out, (uint32_t)ivf->type);
    size_t n = ivf->n;
    pad_to(out, start, L.cent);
    if (n)
        vdb_buf_put(out, l->centroids, (size_t)ivf->nlist * ivf->dim * sizeof(float));
    pad_to(out, start, L.off);
    vdb_buf_put(out, l->off, (ivf->nlist + 1) * sizeof(uint32_t));
    pad_to(out, start, L.row);
    if (n)
        vdb_buf_put(out, l->row, n * sizeof(uint32_t));
    pad_to(out, start, L.pos);
    if (n)
        vdb_buf_put(out, l->pos, n * sizeof(uint32_t));
    pad_to(out, start, L.norm);
    if (has_norms(ivf))
        vdb_buf_put(out, l->inv_norm, n * sizeof(float));
    pad_to(out, start, L.vec);
    if (n)
        vdb_buf_put(out, l->vec, n * ivf_row_bytes(ivf));
    pad_to(out, start, L.crc);
    return VDB_OK;
}

vdb_status vdb_ivf_encode(const vdb_ivf *ivf, vdb_buf *out)
{
    return vdb_ivf_encode_version(ivf, 0, out);
}

vdb_status vdb_ivf_encode_version(const vdb_ivf *ivf, uint32_t version, vdb_buf *out)
{
    if (!ivf || !out)
        return vdb_set_errmsg(VDB_EINVAL, "ivf encode: NULL argument");
    bool typed = ivf->type != VDB_TYPE_FLOAT_VECTOR;
    uint32_t old = typed ? IVF_VERSION_TYPED : IVF_VERSION;
    if (version == 0)
        version = ivf->flat ? IVF_VERSION_ALIGNED : old;
    if (version != old && !(version == IVF_VERSION_ALIGNED && ivf->flat))
        return vdb_set_errmsg(VDB_EINVAL, "ivf encode: format version %u cannot hold this "
                              "index", version);
    size_t start = out->len;
    vdb_buf_u32(out, IVF_MAGIC);
    vdb_buf_u32(out, version);
    vdb_buf_u32(out, (uint32_t)ivf->kind);
    vdb_buf_u32(out, (uint32_t)ivf->metric);
    vdb_buf_u32(out, ivf->dim);
    vdb_buf_u64(out, ivf->n);
    vdb_buf_u32(out, ivf->nlist);
    vdb_buf_u32(out, ivf->pq_m);
    vdb_buf_u32(out, ivf->pq_nbits);
    vdb_buf_u32(out, ivf->flat);
    if (typed && version != IVF_VERSION_ALIGNED)
        vdb_buf_u32(out, (uint32_t)ivf->type);
    if (version == IVF_VERSION_ALIGNED) {
        vdb_status st = encode_v3(ivf, start, out);
        if (st != VDB_OK)
            return st;
    } else if (ivf->flat) {
        const ivf_lists *l = &ivf->l;
        size_t vbytes = ivf->n * ivf_row_bytes(ivf);
        if (!vdb_buf_reserve(out, (size_t)ivf->nlist * ivf->dim * 4 + vbytes +
                                      (ivf->nlist + 1 + ivf->n) * 4 + 4))
            return vdb_set_errmsg(VDB_ENOMEM, "ivf encode: out of memory");
        if (ivf->n)
            vdb_buf_put(out, l->centroids, (size_t)ivf->nlist * ivf->dim * sizeof(float));
        vdb_buf_put(out, l->off, (ivf->nlist + 1) * sizeof(uint32_t));
        if (ivf->n) {
            vdb_buf_put(out, l->row, ivf->n * sizeof(uint32_t));
            vdb_buf_put(out, l->vec, vbytes);
        }
    } else {
        size_t at = out->len;
        vdb_buf_u64(out, 0); /* the length, patched below */
        vdb_status st = vdb_faiss_write(ivf->fx, out);
        if (st != VDB_OK)
            return st;
        if (!out->oom)
            vdb_put_u64(out->p + at, out->len - at - 8);
    }
    if (!out->oom)
        vdb_buf_u32(out, vdb_crc32c(0, out->p + start, out->len - start));
    if (out->oom)
        return vdb_set_errmsg(VDB_ENOMEM, "ivf encode: out of memory");
    return VDB_OK;
}

static vdb_status corrupt(const char *what)
{
    return vdb_set_errmsg(VDB_ECORRUPT, "ivf decode: %s", what);
}

/* The flat lists; r holds exactly their bytes (checked by the caller). */
static vdb_status decode_lists(vdb_rd *r, vdb_ivf *ivf)
{
    ivf_lists *l = &ivf->l;
    size_t n = ivf->n, nlist = ivf->nlist, dim = ivf->dim, rb = ivf_row_bytes(ivf);
    size_t cbytes = n ? nlist * dim * sizeof(float) : 0;
    size_t need = cbytes + (nlist + 1) * 4 + (n ? n * 4 + n * rb : 0);
    if (r->len - r->off != need)
        return corrupt("the lists' size does not match the header");
    l->off = vdb_malloc((nlist + 1) * sizeof *l->off);
    if (n) {
        l->centroids = vdb_malloc(cbytes);
        l->row = vdb_malloc(n * sizeof *l->row);
        l->vec = vdb_malloc(n * rb);
    }
    if (!l->off || (n && (!l->centroids || !l->row || !l->vec)))
        return vdb_set_errmsg(VDB_ENOMEM, "ivf decode: out of memory for %zu rows", n);
    if (n)
        memcpy(l->centroids, vdb_rd_take(r, cbytes), cbytes);
    memcpy(l->off, vdb_rd_take(r, (nlist + 1) * 4), (nlist + 1) * 4);
    if (l->off[0] != 0 || l->off[nlist] != n)
        return corrupt("list offsets do not cover the rows");
    for (size_t i = 0; i < nlist; i++)
        if (l->off[i] > l->off[i + 1])
            return corrupt("list offsets go backwards");
    if (!n)
        return VDB_OK;
    memcpy(l->row, vdb_rd_take(r, n * 4), n * 4);
    memcpy(l->vec, vdb_rd_take(r, n * rb), n * rb);
    /* Every row exactly once: the inverse map doubles as the check. */
    if (!(l->pos = vdb_malloc(n * sizeof *l->pos)))
        return vdb_set_errmsg(VDB_ENOMEM, "ivf decode: out of memory for %zu rows", n);
    memset(l->pos, 0xff, n * sizeof *l->pos);
    for (size_t p = 0; p < n; p++) {
        uint32_t row = l->row[p];
        if (row >= n || l->pos[row] != UINT32_MAX)
            return corrupt("a row id out of range or listed twice");
        l->pos[row] = (uint32_t)p;
    }
    /* the inverse norms of COSINE over half-precision rows (the map above is rebuilt too) */
    vdb_free(l->pos);
    l->pos = NULL;
    return ivf_flat_finish(ivf);
}

/* The offsets cover the rows in order; row ids and positions are inverse permutations
 * (row[p] < n and pos[row[p]] == p for every p: then no row is listed twice). */
static vdb_status check_lists(const vdb_ivf *ivf)
{
    const ivf_lists *l = &ivf->l;
    size_t n = ivf->n, nlist = ivf->nlist;
    if (l->off[0] != 0 || l->off[nlist] != n)
        return corrupt("list offsets do not cover the rows");
    for (size_t i = 0; i < nlist; i++)
        if (l->off[i] > l->off[i + 1])
            return corrupt("list offsets go backwards");
    for (size_t p = 0; p < n; p++)
        if (l->row[p] >= n || l->pos[l->row[p]] != p)
            return corrupt("a row id out of range or listed twice");
    return VDB_OK;
}

/* Version 3's lists at p (len bytes, the crc included); view: they stay in p. */
static vdb_status decode_v3(const uint8_t *p, size_t len, vdb_ivf *ivf, bool view)
{
    v3_layout L = layout_v3(ivf);
    if (L.len != len)
        return corrupt(L.len > len ? "truncated" : "trailing bytes");
    if (view && ((uintptr_t)p % V3_ALIGN) != 0)
        return vdb_set_errmsg(VDB_EINVAL, "ivf view: the bytes are not 64-byte aligned");
    ivf_lists *l = &ivf->l;
    size_t n = ivf->n, nlist = ivf->nlist;
    size_t cbytes = n ? nlist * ivf->dim * sizeof(float) : 0, vbytes = n * ivf_row_bytes(ivf);
    size_t nbytes = has_norms(ivf) ? n * sizeof(float) : 0;
    if (view) {
        ivf->view = true;
        l->centroids = n ? (float *)(uintptr_t)(p + L.cent) : NULL;
        l->off = (uint32_t *)(uintptr_t)(p + L.off);
        l->row = n ? (uint32_t *)(uintptr_t)(p + L.row) : NULL;
        l->pos = n ? (uint32_t *)(uintptr_t)(p + L.pos) : NULL;
        l->inv_norm = nbytes ? (float *)(uintptr_t)(p + L.norm) : NULL;
        l->vec = n ? (void *)(uintptr_t)(p + L.vec) : NULL;
        return check_lists(ivf);
    }
    l->off = vdb_malloc((nlist + 1) * sizeof *l->off);
    if (n) {
        l->centroids = vdb_malloc(cbytes);
        l->row = vdb_malloc(n * sizeof *l->row);
        l->pos = vdb_malloc(n * sizeof *l->pos);
        l->vec = vdb_malloc(vbytes);
    }
    if (nbytes)
        l->inv_norm = vdb_malloc(nbytes);
    if (!l->off || (n && (!l->centroids || !l->row || !l->pos || !l->vec)) ||
        (nbytes && !l->inv_norm))
        return vdb_set_errmsg(VDB_ENOMEM, "ivf decode: out of memory for %zu rows", n);
    memcpy(l->off, p + L.off, (nlist + 1) * sizeof *l->off);
    if (n) {
        memcpy(l->centroids, p + L.cent, cbytes);
        memcpy(l->row, p + L.row, n * sizeof *l->row);
        memcpy(l->pos, p + L.pos, n * sizeof *l->pos);
        memcpy(l->vec, p + L.vec, vbytes);
    }
    if (nbytes)
        memcpy(l->inv_norm, p + L.norm, nbytes);
    return check_lists(ivf);
}

static vdb_status decode_faiss(vdb_rd *r, vdb_ivf *ivf)
{
    uint64_t len = vdb_rd_u64(r);
    if (r->err || len != r->len - r->off)
        return corrupt("the Faiss index's size does not match the frame");
    vdb_faiss_params fp = {.kind = ivf->kind == VDB_IVF_SQ8 ? VDB_FAISS_SQ8 : VDB_FAISS_PQ,
                           .dim = ivf->dim, .nlist = ivf->nlist,
                           .ip = ivf->metric != VDB_METRIC_L2,
                           .pq_m = ivf->pq_m, .pq_nbits = ivf->pq_nbits};
    const void *bytes = vdb_rd_take(r, (size_t)len);
    return vdb_faiss_read(bytes, (size_t)len, &fp, ivf->n, &ivf->fx);
}

/* The header's fields against each other and against the caller's n and dim. */
static bool header_ok(const vdb_ivf *ivf, uint32_t flat)
{
    if (ivf->kind != VDB_IVF_FLAT && ivf->kind != VDB_IVF_SQ8 && ivf->kind != VDB_IVF_PQ)
        return false;
    if (ivf->metric != VDB_METRIC_L2 && ivf->metric != VDB_METRIC_IP &&
        ivf->metric != VDB_METRIC_COSINE)
        return false;
    if (ivf->nlist > VDB_IVF_NLIST_MAX || ivf->nlist > ivf->n || (ivf->n && !ivf->nlist))
        return false;
    if (ivf->kind == VDB_IVF_PQ) {
        vdb_ivf_params p = {ivf->nlist ? ivf->nlist : 1, ivf->pq_m, ivf->pq_nbits};
        if (!ivf->pq_nbits || ivf_check_params(VDB_IVF_PQ, ivf->dim, &p) != VDB_OK)
            return false;
    } else if (ivf->pq_m || ivf->pq_nbits) {
        return false;
    }
    bool want_flat = ivf->kind == VDB_IVF_FLAT || ivf->n == 0 ||
                     (ivf->kind == VDB_IVF_PQ && ivf->n < ((size_t)1 << ivf->pq_nbits));
    return flat == (uint32_t)want_flat;
}

vdb_status vdb_ivf_decode(const void *p, size_t len, size_t n, uint32_t dim, vdb_ivf **out)
{
    return vdb_ivf_decode_t(p, len, VDB_TYPE_FLOAT_VECTOR, n, dim, out);
}

static vdb_status decode_any(const void *p, size_t len, vdb_type type, size_t n, uint32_t dim,
                             bool view, vdb_ivf **out)
{
    if (!out || (!p && len))
        return vdb_set_errmsg(VDB_EINVAL, "ivf decode: NULL argument");
    *out = NULL;
    if (len < HEADER_BYTES + 4)
        return corrupt("too short");
    /* a view's bytes were checked once, when they were written to the mapped file */
    if (!view && vdb_crc32c(0, p, len - 4) != vdb_get_u32((const uint8_t *)p + len - 4))
        return corrupt("checksum mismatch");
    vdb_rd r = vdb_rd_init(p, len - 4);
    if (vdb_rd_u32(&r) != IVF_MAGIC)
        return corrupt("not an IVF index");
    uint32_t version = vdb_rd_u32(&r);
    if (version != IVF_VERSION && version != IVF_VERSION_TYPED && version != IVF_VERSION_ALIGNED)
        return vdb_set_errmsg(VDB_EVERSION, "ivf decode: unknown format version %u", version);
    if (view && version != IVF_VERSION_ALIGNED)
        return vdb_set_errmsg(VDB_EVERSION, "ivf view: format version %u cannot be used in "
                              "place (version 3 can)", version);
    vdb_ivf *ivf = vdb_calloc(1, sizeof *ivf);
    if (!ivf)
        return vdb_set_errmsg(VDB_ENOMEM, "ivf decode: out of memory");
    ivf->kind = (vdb_ivf_kind)vdb_rd_u32(&r);
    ivf->metric = (vdb_metric)vdb_rd_u32(&r);
    ivf->dim = vdb_rd_u32(&r);
    uint64_t fn = vdb_rd_u64(&r);
    ivf->nlist = vdb_rd_u32(&r);
    ivf->pq_m = vdb_rd_u32(&r);
    ivf->pq_nbits = vdb_rd_u32(&r);
    uint32_t flat = vdb_rd_u32(&r);
    uint32_t ftype = version == IVF_VERSION ? VDB_TYPE_FLOAT_VECTOR : vdb_rd_u32(&r);
    ivf->n = n;
    ivf->flat = flat == 1;
    ivf->type = type;
    ivf->vk = vdb_vkernels_for(type);
    vdb_status st;
    if (r.err)
        st = corrupt("too short");
    else if (ivf->dim != dim || fn != n)
        st = corrupt("the index was built over other rows (dim or row count differ)");
    else if (ftype != (uint32_t)type || (type != VDB_TYPE_FLOAT_VECTOR &&
                                         type != VDB_TYPE_FLOAT16_VECTOR &&
                                         type != VDB_TYPE_BFLOAT16_VECTOR))
        st = corrupt("the index was built over rows of another type");
    else if (dim == 0 || dim > IVF_DIM_MAX || n > UINT32_MAX || !header_ok(ivf, flat) ||
             (version == IVF_VERSION_ALIGNED && !ivf->flat))
        st = corrupt("bad parameters");
    else if (version == IVF_VERSION_ALIGNED)
        st = decode_v3(p, len, ivf, view);
    else
        st = ivf->flat ? decode_lists(&r, ivf) : decode_faiss(&r, ivf);
    if (st != VDB_OK) {
        vdb_ivf_free(ivf);
        return st;
    }
    *out = ivf;
    return VDB_OK;
}

vdb_status vdb_ivf_decode_t(const void *p, size_t len, vdb_type type, size_t n, uint32_t dim,
                            vdb_ivf **out)
{
    return decode_any(p, len, type, n, dim, false, out);
}

vdb_status vdb_ivf_decode_view(const void *p, size_t len, vdb_type type, size_t n,
                               uint32_t dim, vdb_ivf **out)
{
    return decode_any(p, len, type, n, dim, true, out);
}

/* HNSW serialization: a versioned little-endian graph with a crc32c, checked field by field on decode. */
#include "hnsw_int.h"

/* The graph arrays are written as raw uint32 words: the format is little-endian and so are
 * the hosts we build for; refuse to compile elsewhere rather than write a different format. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "hnsw_io.c assumes a little-endian host"
#endif

#define HNSW_MAGIC 0x57534e48u /* "HNSW" */
#define HNSW_VERSION 1u

/* Layout: magic, version, metric, dim, n (u64), M, M0, efConstruction, max_level + 1, entry,
 * level[n] (bytes), level-0 lists (n * (M0 + 1) u32), upper lists (sum of levels * (M + 1)
 * u32), crc32c of everything before it. */
vdb_status vdb_hnsw_encode(const vdb_hnsw *h, vdb_buf *out)
{
    if (!h || !out)
        return vdb_set_errmsg(VDB_EINVAL, "hnsw encode: NULL argument");
    size_t start = out->len;
    size_t bytes = 44 + h->n + h->n * (h->M0 + 1) * 4 + h->upper_lists * (h->M + 1) * 4 + 4;
    if (!vdb_buf_reserve(out, bytes))
        return vdb_set_errmsg(VDB_ENOMEM, "hnsw encode: out of memory");
    vdb_buf_u32(out, HNSW_MAGIC);
    vdb_buf_u32(out, HNSW_VERSION);
    vdb_buf_u32(out, (uint32_t)h->metric);
    vdb_buf_u32(out, h->dim);
    vdb_buf_u64(out, h->n);
    vdb_buf_u32(out, h->M);
    vdb_buf_u32(out, h->M0);
    vdb_buf_u32(out, h->ef_construction);
    vdb_buf_u32(out, (uint32_t)(h->max_level + 1));
    vdb_buf_u32(out, h->entry);
    vdb_buf_put(out, h->level, h->n);
    vdb_buf_put(out, h->l0, h->n * (h->M0 + 1) * sizeof *h->l0);
    vdb_buf_put(out, h->upper, h->upper_lists * (h->M + 1) * sizeof *h->upper);
    if (out->oom)
        return vdb_set_errmsg(VDB_ENOMEM, "hnsw encode: out of memory");
    vdb_buf_u32(out, vdb_crc32c(0, out->p + start, out->len - start));
    if (out->oom)
        return vdb_set_errmsg(VDB_ENOMEM, "hnsw encode: out of memory");
    return VDB_OK;
}

/* Every list: count within cap, ids within the rows. */
static bool lists_ok(const uint32_t *a, size_t lists, uint32_t cap, size_t n)
{
    for (size_t i = 0; i < lists; i++) {
        const uint32_t *l = a + i * (cap + 1);
        if (l[0] > cap)
            return false;
        for (uint32_t j = 0; j < l[0]; j++)
            if (l[1 + j] >= n)
                return false;
    }
    return true;
}

static vdb_status corrupt(const char *what)
{
    return vdb_set_errmsg(VDB_ECORRUPT, "hnsw decode: %s", what);
}

static vdb_status decode_body(vdb_rd *r, vdb_hnsw *h)
{
    const uint8_t *lv = vdb_rd_take(r, h->n);
    if (!lv)
        return corrupt("truncated levels");
    for (size_t i = 0; i < h->n; i++)
        if ((int)lv[i] > h->max_level)
            return corrupt("a row's level is above the top level");
    memcpy(h->level, lv, h->n);
    if (h->n && h->level[h->entry] != h->max_level)
        return corrupt("the entry point is not on the top level");
    vdb_status st = hnsw_layout(h);
    if (st != VDB_OK)
        return st;
    size_t l0_bytes = h->n * (h->M0 + 1) * sizeof *h->l0;
    const void *l0 = vdb_rd_take(r, l0_bytes);
    if (!l0)
        return corrupt("truncated level-0 lists");
    memcpy(h->l0, l0, l0_bytes);
    if (!lists_ok(h->l0, h->n, h->M0, h->n))
        return corrupt("bad level-0 neighbour list");
    size_t up_bytes = h->upper_lists * (h->M + 1) * sizeof *h->upper;
    const void *up = vdb_rd_take(r, up_bytes);
    if (!up)
        return corrupt("truncated upper lists");
    memcpy(h->upper, up, up_bytes);
    if (!lists_ok(h->upper, h->upper_lists, h->M, h->n))
        return corrupt("bad upper-level neighbour list");
    /* A neighbour on level L must itself be on level L: the search steps to it and reads
     * its level-L list, which a lower row does not have. */
    for (size_t i = 0; i < h->n; i++)
        for (int lvl = 1; lvl <= (int)h->level[i]; lvl++) {
            const uint32_t *l = hnsw_list(h, (uint32_t)i, lvl);
            for (uint32_t j = 0; j < l[0]; j++)
                if ((int)h->level[l[1 + j]] < lvl)
                    return corrupt("an upper-level list names a row below that level");
        }
    return VDB_OK;
}

vdb_status vdb_hnsw_decode(const void *p, size_t len, const float *base, size_t n, uint32_t dim,
                           vdb_hnsw **out)
{
    return vdb_hnsw_decode_t(p, len, VDB_TYPE_FLOAT_VECTOR, base, n, dim, out);
}

vdb_status vdb_hnsw_decode_t(const void *p, size_t len, vdb_type type, const void *base,
                             size_t n, uint32_t dim, vdb_hnsw **out)
{
    if (!out || (!p && len) || (!base && n))
        return vdb_set_errmsg(VDB_EINVAL, "hnsw decode: NULL argument");
    *out = NULL;
    if (len < 48) /* the header (44 bytes) and the checksum */
        return corrupt("too short");
    if (vdb_crc32c(0, p, len - 4) != vdb_get_u32((const uint8_t *)p + len - 4))
        return corrupt("checksum mismatch");
    vdb_rd r = vdb_rd_init(p, len - 4);
    if (vdb_rd_u32(&r) != HNSW_MAGIC)
        return corrupt("not an HNSW graph");
    uint32_t version = vdb_rd_u32(&r);
    if (version != HNSW_VERSION)
        return vdb_set_errmsg(VDB_EVERSION, "hnsw decode: unknown format version %u", version);
    uint32_t metric = vdb_rd_u32(&r), fdim = vdb_rd_u32(&r);
    uint64_t fn = vdb_rd_u64(&r);
    uint32_t M = vdb_rd_u32(&r), M0 = vdb_rd_u32(&r), efc = vdb_rd_u32(&r);
    uint32_t top1 = vdb_rd_u32(&r), entry = vdb_rd_u32(&r);
    if (fdim != dim || fn != n)
        return corrupt("the graph was built over other rows (dim or row count differ)");
    if (hnsw_check_params(dim, (vdb_metric)metric, M, efc) != VDB_OK || M0 != 2 * M)
        return corrupt("bad parameters");
    if (top1 > HNSW_MAX_LEVEL + 1 || (n == 0) != (top1 == 0) || (n && entry >= n) ||
        (!n && entry))
        return corrupt("bad entry point or top level");
    vdb_hnsw *h;
    vdb_status st = hnsw_new(type, base, n, dim, (vdb_metric)metric, M, efc, &h);
    if (st != VDB_OK)
        return st;
    h->max_level = (int32_t)top1 - 1;
    h->entry = entry;
    st = decode_body(&r, h);
    if (st == VDB_OK && (r.err || r.off != r.len))
        st = corrupt("trailing bytes");
    if (st != VDB_OK) {
        vdb_hnsw_free(h);
        return st;
    }
    *out = h;
    return VDB_OK;
}

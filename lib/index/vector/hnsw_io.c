/* HNSW serialization: a versioned little-endian graph with a crc32c, checked field by field on decode. */
#include <stdlib.h>

#include "hnsw_int.h"

/* The graph arrays are written as raw uint32 words: the format is little-endian and so are
 * the hosts we build for; refuse to compile elsewhere rather than write a different format. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "hnsw_io.c assumes a little-endian host"
#endif

#define HNSW_MAGIC 0x57534e48u /* "HNSW" */
#define HNSW_V2_HEADER 64u
#define HNSW_ALIGN 64u

/* Version 1 (read, and written only for tests): magic, version, metric, dim, n (u64), M, M0,
 * efConstruction, max_level + 1, entry (44 bytes), level[n] (bytes), level-0 lists
 * (n * (M0 + 1) u32), upper lists (sum of levels * (M + 1) u32), crc32c of everything before
 * it. The 8-bit codes and COSINE's norms are derived from the rows when it is decoded.
 *
 * Version 2 (written): the same 44 bytes, then stride (u32) and the number of upper lists
 * (u64), zeros to 64 bytes; then, each starting on a multiple of 64 bytes from the start and
 * zero-padded: the quantizer's lo[dim] and step[dim] (f32), level[n], the level-0 lists, the
 * upper lists, COSINE's inverse norms (n f32; absent for L2/IP), the codes (n * stride);
 * then the crc32c of everything before it. Placed on a 64-byte boundary (a mapped file),
 * the lists, norms and codes are used in place (vdb_hnsw_decode_view). */

typedef struct v2_layout {
    uint64_t lo, step, level, l0, upper, norm, codes, crc, len;
} v2_layout;

static uint64_t align_up(uint64_t x) { return (x + HNSW_ALIGN - 1) & ~(uint64_t)(HNSW_ALIGN - 1); }

/* Section offsets from the header's counts; every product is far below 2^64 (n < 2^32,
 * M0 + 1 <= 201, lists < 2^32, stride < 2^16). */
static v2_layout layout_v2(uint32_t dim, uint64_t n, uint32_t M, uint64_t lists,
                           uint32_t stride, bool cosine)
{
    v2_layout L;
    L.lo = HNSW_V2_HEADER;
    L.step = align_up(L.lo + (uint64_t)dim * 4);
    L.level = align_up(L.step + (uint64_t)dim * 4);
    L.l0 = align_up(L.level + n);
    L.upper = align_up(L.l0 + n * (2 * (uint64_t)M + 1) * 4);
    L.norm = align_up(L.upper + lists * ((uint64_t)M + 1) * 4);
    L.codes = align_up(L.norm + (cosine ? n * 4 : 0));
    L.crc = align_up(L.codes + n * stride);
    L.len = L.crc + 4;
    return L;
}

static void pad_to(vdb_buf *out, size_t start, uint64_t off)
{
    static const uint8_t zeros[HNSW_ALIGN];
    size_t have = out->len - start;
    if (off > have)
        vdb_buf_put(out, zeros, (size_t)(off - have));
}

static void put_head(const vdb_hnsw *h, uint32_t version, vdb_buf *out)
{
    vdb_buf_u32(out, HNSW_MAGIC);
    vdb_buf_u32(out, version);
    vdb_buf_u32(out, (uint32_t)h->metric);
    vdb_buf_u32(out, h->dim);
    vdb_buf_u64(out, h->n);
    vdb_buf_u32(out, h->M);
    vdb_buf_u32(out, h->M0);
    vdb_buf_u32(out, h->ef_construction);
    vdb_buf_u32(out, (uint32_t)(h->max_level + 1));
    vdb_buf_u32(out, h->entry);
}

vdb_status vdb_hnsw_encode_version(const vdb_hnsw *h, uint32_t version, vdb_buf *out)
{
    if (!h || !out)
        return vdb_set_errmsg(VDB_EINVAL, "hnsw encode: NULL argument");
    if (version != 1 && version != 2)
        return vdb_set_errmsg(VDB_EINVAL, "hnsw encode: no format version %u", version);
    size_t start = out->len;
    size_t l0_bytes = h->n * (h->M0 + 1) * sizeof *h->l0;
    size_t up_bytes = h->upper_lists * (h->M + 1) * sizeof *h->upper;
    v2_layout L = layout_v2(h->dim, h->n, h->M, h->upper_lists, h->sq.stride,
                            h->metric == VDB_METRIC_COSINE);
    size_t bytes = version == 1 ? 44 + h->n + l0_bytes + up_bytes + 4 : (size_t)L.len;
    if (!vdb_buf_reserve(out, bytes))
        return vdb_set_errmsg(VDB_ENOMEM, "hnsw encode: out of memory");
    put_head(h, version, out);
    if (version == 1) {
        vdb_buf_put(out, h->level, h->n);
        vdb_buf_put(out, h->l0, l0_bytes);
        vdb_buf_put(out, h->upper, up_bytes);
    } else {
        vdb_buf_u32(out, h->sq.stride);
        vdb_buf_u64(out, h->upper_lists);
        pad_to(out, start, L.lo);
        vdb_buf_put(out, h->sq.lo, (size_t)h->dim * sizeof(float));
        pad_to(out, start, L.step);
        vdb_buf_put(out, h->sq.step, (size_t)h->dim * sizeof(float));
        pad_to(out, start, L.level);
        vdb_buf_put(out, h->level, h->n);
        pad_to(out, start, L.l0);
        vdb_buf_put(out, h->l0, l0_bytes);
        pad_to(out, start, L.upper);
        vdb_buf_put(out, h->upper, up_bytes);
        pad_to(out, start, L.norm);
        if (h->metric == VDB_METRIC_COSINE)
            vdb_buf_put(out, h->inv_norm, h->n * sizeof *h->inv_norm);
        pad_to(out, start, L.codes);
        vdb_buf_put(out, h->codes, h->n * h->sq.stride);
        pad_to(out, start, L.crc);
    }
    if (out->oom)
        return vdb_set_errmsg(VDB_ENOMEM, "hnsw encode: out of memory");
    vdb_buf_u32(out, vdb_crc32c(0, out->p + start, out->len - start));
    if (out->oom)
        return vdb_set_errmsg(VDB_ENOMEM, "hnsw encode: out of memory");
    return VDB_OK;
}

vdb_status vdb_hnsw_encode(const vdb_hnsw *h, vdb_buf *out)
{
    return vdb_hnsw_encode_version(h, VDB_HNSW_FORMAT, out);
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

/* level[] (lv, n bytes) checked and copied. */
static vdb_status take_levels(vdb_hnsw *h, const uint8_t *lv)
{
    for (size_t i = 0; i < h->n; i++)
        if ((int)lv[i] > h->max_level)
            return corrupt("a row's level is above the top level");
    memcpy(h->level, lv, h->n);
    if (h->n && h->level[h->entry] != h->max_level)
        return corrupt("the entry point is not on the top level");
    return VDB_OK;
}

/* The lists as the search relies on them (wherever they are: heap or mapped). */
static vdb_status check_graph(const vdb_hnsw *h)
{
    if (!lists_ok(h->l0, h->n, h->M0, h->n))
        return corrupt("bad level-0 neighbour list");
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

static vdb_status decode_v1(vdb_rd *r, vdb_hnsw *h)
{
    const uint8_t *lv = vdb_rd_take(r, h->n);
    if (!lv)
        return corrupt("truncated levels");
    vdb_status st = take_levels(h, lv);
    if (st == VDB_OK)
        st = hnsw_layout(h);
    if (st != VDB_OK)
        return st;
    size_t l0_bytes = h->n * (h->M0 + 1) * sizeof *h->l0;
    const void *l0 = vdb_rd_take(r, l0_bytes);
    if (!l0)
        return corrupt("truncated level-0 lists");
    memcpy(h->l0, l0, l0_bytes);
    size_t up_bytes = h->upper_lists * (h->M + 1) * sizeof *h->upper;
    const void *up = vdb_rd_take(r, up_bytes);
    if (!up)
        return corrupt("truncated upper lists");
    memcpy(h->upper, up, up_bytes);
    st = check_graph(h);
    if (st == VDB_OK && (r->err || r->off != r->len))
        st = corrupt("trailing bytes");
    return st;
}

/* Version 2 at p (len bytes, the crc included); view: the lists, norms and codes stay in p. */
static vdb_status decode_v2(const uint8_t *p, size_t len, vdb_rd *r, vdb_hnsw *h, bool view)
{
    uint32_t stride = vdb_rd_u32(r);
    uint64_t lists = vdb_rd_u64(r);
    if (r->err)
        return corrupt("truncated header");
    bool cosine = h->metric == VDB_METRIC_COSINE;
    if (stride != ((h->dim + (uint32_t)sizeof(float) + 63) & ~63u))
        return corrupt("bad code stride");
    if (lists >= UINT32_MAX)
        return corrupt("bad upper list count");
    v2_layout L = layout_v2(h->dim, h->n, h->M, lists, stride, cosine);
    if (L.len != len)
        return corrupt(L.len > len ? "truncated" : "trailing bytes");
    if (view && ((uintptr_t)p % HNSW_ALIGN) != 0)
        return vdb_set_errmsg(VDB_EINVAL, "hnsw view: the bytes are not 64-byte aligned");
    vdb_status st = take_levels(h, p + L.level);
    if (st == VDB_OK)
        st = hnsw_offsets(h); /* upper_off and upper_lists from the levels */
    if (st != VDB_OK)
        return st;
    if (h->upper_lists != lists)
        return corrupt("the upper list count does not match the levels");
    /* lo and step may sit at any 4-byte boundary of a buffer (copied: floats read by memcpy) */
    float *qs = vdb_malloc(2 * (size_t)(h->dim ? h->dim : 1) * sizeof *qs);
    if (!qs)
        return vdb_set_errmsg(VDB_ENOMEM, "hnsw: out of memory");
    memcpy(qs, p + L.lo, (size_t)h->dim * sizeof *qs);
    memcpy(qs + h->dim, p + L.step, (size_t)h->dim * sizeof *qs);
    st = vdb_sq8_init(&h->sq, h->dim, qs, qs + h->dim);
    vdb_free(qs);
    if (st != VDB_OK)
        return st;
    size_t n = h->n;
    if (view) {
        h->view = true;
        h->l0 = (uint32_t *)(uintptr_t)(p + L.l0);
        h->upper = (uint32_t *)(uintptr_t)(p + L.upper);
        h->inv_norm = cosine ? (float *)(uintptr_t)(p + L.norm) : NULL;
        h->codes = (uint8_t *)(uintptr_t)(p + L.codes);
    } else {
        if ((st = hnsw_alloc_lists(h)) != VDB_OK)
            return st;
        memcpy(h->l0, p + L.l0, n * (h->M0 + 1) * sizeof *h->l0);
        memcpy(h->upper, p + L.upper, lists * (h->M + 1) * sizeof *h->upper);
        if (cosine) {
            h->inv_norm = vdb_malloc((n ? n : 1) * sizeof *h->inv_norm);
            if (!h->inv_norm)
                return vdb_set_errmsg(VDB_ENOMEM, "hnsw: out of memory");
            memcpy(h->inv_norm, p + L.norm, n * sizeof *h->inv_norm);
        }
        /* aligned_alloc (not vdb_malloc): rows start on cache lines (see hnsw.c) */
        h->codes = aligned_alloc(64, (n ? n : 1) * stride);
        if (!h->codes)
            return vdb_set_errmsg(VDB_ENOMEM, "hnsw: out of memory for %zu codes", n);
        memcpy(h->codes, p + L.codes, n * stride);
    }
    return check_graph(h);
}

static vdb_status decode_any(const void *p, size_t len, vdb_type type, const void *base,
                             size_t n, uint32_t dim, bool view, vdb_hnsw **out)
{
    if (!out || (!p && len) || (!base && n))
        return vdb_set_errmsg(VDB_EINVAL, "hnsw decode: NULL argument");
    *out = NULL;
    if (len < 48) /* the header (44 bytes) and the checksum */
        return corrupt("too short");
    /* a view's bytes were checked once, when they were written to the mapped file */
    if (!view && vdb_crc32c(0, p, len - 4) != vdb_get_u32((const uint8_t *)p + len - 4))
        return corrupt("checksum mismatch");
    vdb_rd r = vdb_rd_init(p, len - 4);
    if (vdb_rd_u32(&r) != HNSW_MAGIC)
        return corrupt("not an HNSW graph");
    uint32_t version = vdb_rd_u32(&r);
    if (version != 1 && version != 2)
        return vdb_set_errmsg(VDB_EVERSION, "hnsw decode: unknown format version %u", version);
    if (view && version != 2)
        return vdb_set_errmsg(VDB_EVERSION, "hnsw view: format version %u cannot be used in "
                              "place (version 2 can)", version);
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
    st = version == 1 ? decode_v1(&r, h) : decode_v2(p, len, &r, h, view);
    if (st != VDB_OK) {
        vdb_hnsw_free(h);
        return st;
    }
    *out = h;
    return VDB_OK;
}

vdb_status vdb_hnsw_decode(const void *p, size_t len, const float *base, size_t n, uint32_t dim,
                           vdb_hnsw **out)
{
    return decode_any(p, len, VDB_TYPE_FLOAT_VECTOR, base, n, dim, false, out);
}

vdb_status vdb_hnsw_decode_t(const void *p, size_t len, vdb_type type, const void *base,
                             size_t n, uint32_t dim, vdb_hnsw **out)
{
    return decode_any(p, len, type, base, n, dim, false, out);
}

vdb_status vdb_hnsw_decode_view(const void *p, size_t len, vdb_type type, const void *base,
                                size_t n, uint32_t dim, vdb_hnsw **out)
{
    return decode_any(p, len, type, base, n, dim, true, out);
}

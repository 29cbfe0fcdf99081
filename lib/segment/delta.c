/* Delete log files ("delta_<n>"): a count of (pk, ts) records behind a magic, checksummed. */
#include "segment_int.h"

#define DELTA_MAGIC "VDBDELT1"
#define DELTA_VERSION 1u

/* Layout: magic, u32 version, u64 count, records {u8 kind (0 int, 1 string), int: u64 /
 * string: u32 len + bytes, u64 ts}, u32 crc32c of all before. */
void vdb_delta_encode(const vdb_delete_rec *recs, size_t n, vdb_buf *out)
{
    size_t start = out->len;
    vdb_buf_put(out, DELTA_MAGIC, 8);
    vdb_buf_u32(out, DELTA_VERSION);
    vdb_buf_u64(out, n);
    for (size_t i = 0; i < n; i++) {
        if (recs[i].pk.s) {
            vdb_buf_u8(out, 1);
            vdb_buf_u32(out, (uint32_t)recs[i].pk.len);
            vdb_buf_put(out, recs[i].pk.s, recs[i].pk.len);
        } else {
            vdb_buf_u8(out, 0);
            vdb_buf_u64(out, (uint64_t)recs[i].pk.i);
        }
        vdb_buf_u64(out, recs[i].ts);
    }
    if (!out->oom)
        vdb_buf_u32(out, vdb_crc32c(0, out->p + start, out->len - start));
}

vdb_status vdb_delta_decode(const void *p, size_t len, vdb_delete_rec **recs, size_t *n)
{
    vdb_status st = VDB_OK;
    const uint8_t *b = p;
    *recs = NULL;
    *n = 0;
    if (len < 24 || memcmp(b, DELTA_MAGIC, 8) != 0)
        return vdb_set_errmsg(VDB_ECORRUPT, "delta: bad magic");
    if (vdb_get_u32(b + len - 4) != vdb_crc32c(0, b, len - 4))
        return vdb_set_errmsg(VDB_ECORRUPT, "delta: checksum mismatch");
    vdb_rd r = vdb_rd_init(b + 8, len - 12);
    uint32_t version = vdb_rd_u32(&r);
    if (version != DELTA_VERSION)
        return vdb_set_errmsg(VDB_EVERSION, "delta: unknown format version %u", version);
    uint64_t count = vdb_rd_u64(&r);
    /* Every record takes at least 13 bytes: bounds the allocation by the input. */
    if (r.err || count > (r.len - r.off) / 13)
        return vdb_set_errmsg(VDB_ECORRUPT, "delta: %llu records do not fit",
                              (unsigned long long)count);
    vdb_delete_rec *out = vdb_calloc(count ? (size_t)count : 1, sizeof *out);
    if (!out)
        return vdb_set_errmsg(VDB_ENOMEM, "delta: out of memory");
    for (size_t i = 0; i < count; i++) {
        uint8_t kind = vdb_rd_u8(&r);
        if (kind == 1) {
            uint32_t sl = vdb_rd_u32(&r);
            const char *s = vdb_rd_take(&r, sl);
            out[i].pk.s = s ? s : "";
            out[i].pk.len = sl;
        } else if (kind == 0) {
            out[i].pk.i = (int64_t)vdb_rd_u64(&r);
        } else if (!r.err) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "delta: bad key kind %u in record %zu", kind, i);
            goto fail;
        }
        out[i].ts = vdb_rd_u64(&r);
        if (r.err) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "delta: truncated record %zu", i);
            goto fail;
        }
    }
    if (r.off != r.len) {
        st = vdb_set_errmsg(VDB_ECORRUPT, "delta: %zu trailing bytes", r.len - r.off);
        goto fail;
    }
    *recs = out;
    *n = (size_t)count;
    return VDB_OK;
fail:
    vdb_free(out);
    return st;
}

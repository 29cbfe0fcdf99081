/* Binlog files: one column's plain encoding, zstd-compressed, behind a checksummed header. */
#include <zstd.h>

#include "segment.h"

#define BINLOG_MAGIC "VDBBLOG1"
#define BINLOG_VERSION 1u
#define BINLOG_HEADER 36 /* magic 8, version 4, crc 4, raw 8, compressed 8, header crc 4 */
#define BINLOG_LEVEL 3

vdb_status vdb_binlog_encode(const vdb_column *c, vdb_buf *out)
{
    vdb_status st = VDB_OK;
    vdb_buf raw = {0};
    vdb_column_encode(c, &raw);
    if (raw.oom) {
        st = vdb_set_errmsg(VDB_ENOMEM, "binlog: out of memory encoding %zu rows", c->rows);
        goto fail;
    }
    size_t bound = ZSTD_compressBound(raw.len);
    size_t start = out->len;
    if (!vdb_buf_reserve(out, BINLOG_HEADER + bound)) {
        st = vdb_set_errmsg(VDB_ENOMEM, "binlog: out of memory for %zu bytes", bound);
        goto fail;
    }
    uint8_t *h = out->p + start;
    size_t clen = ZSTD_compress(h + BINLOG_HEADER, bound, raw.p, raw.len, BINLOG_LEVEL);
    if (ZSTD_isError(clen)) {
        st = vdb_set_errmsg(VDB_EIO, "binlog: zstd: %s", ZSTD_getErrorName(clen));
        goto fail;
    }
    memcpy(h, BINLOG_MAGIC, 8);
    vdb_put_u32(h + 8, BINLOG_VERSION);
    vdb_put_u32(h + 12, vdb_crc32c(0, h + BINLOG_HEADER, clen));
    vdb_put_u64(h + 16, raw.len);
    vdb_put_u64(h + 24, clen);
    vdb_put_u32(h + 32, vdb_crc32c(0, h, 32));
    out->len = start + BINLOG_HEADER + clen;
fail:
    vdb_buf_free(&raw);
    return st;
}

vdb_status vdb_binlog_decode(const void *file, size_t len, vdb_column *out)
{
    const uint8_t *h = file;
    vdb_status st = VDB_OK;
    void *raw = NULL;
    vdb_column_init(out, VDB_TYPE_NONE, 0, false);
    if (len < BINLOG_HEADER)
        return vdb_set_errmsg(VDB_ECORRUPT, "binlog: %zu bytes is shorter than the header",
                              len);
    if (memcmp(h, BINLOG_MAGIC, 8) != 0)
        return vdb_set_errmsg(VDB_ECORRUPT, "binlog: bad magic");
    if (vdb_get_u32(h + 32) != vdb_crc32c(0, h, 32))
        return vdb_set_errmsg(VDB_ECORRUPT, "binlog: header checksum mismatch");
    uint32_t version = vdb_get_u32(h + 8);
    if (version != BINLOG_VERSION)
        return vdb_set_errmsg(VDB_EVERSION, "binlog: unknown format version %u", version);
    uint64_t rawlen = vdb_get_u64(h + 16), clen = vdb_get_u64(h + 24);
    if (clen != len - BINLOG_HEADER)
        return vdb_set_errmsg(VDB_ECORRUPT, "binlog: header says %llu compressed bytes, file "
                              "has %zu", (unsigned long long)clen, len - BINLOG_HEADER);
    if (vdb_get_u32(h + 12) != vdb_crc32c(0, h + BINLOG_HEADER, (size_t)clen))
        return vdb_set_errmsg(VDB_ECORRUPT, "binlog: payload checksum mismatch");
    /* The frame must announce the same size as the header, so the buffer below is bounded
     * by a checked field and the decompressor cannot write past it. */
    unsigned long long fsize = ZSTD_getFrameContentSize(h + BINLOG_HEADER, (size_t)clen);
    if (fsize == ZSTD_CONTENTSIZE_ERROR || fsize == ZSTD_CONTENTSIZE_UNKNOWN || fsize != rawlen)
        return vdb_set_errmsg(VDB_ECORRUPT, "binlog: frame size does not match the header");
    if (rawlen > SIZE_MAX - 1)
        return vdb_set_errmsg(VDB_ECORRUPT, "binlog: raw size %llu too large",
                              (unsigned long long)rawlen);
    raw = vdb_malloc((size_t)rawlen);
    if (!raw)
        return vdb_set_errmsg(VDB_ENOMEM, "binlog: out of memory for %llu bytes",
                              (unsigned long long)rawlen);
    size_t got = ZSTD_decompress(raw, (size_t)rawlen, h + BINLOG_HEADER, (size_t)clen);
    if (ZSTD_isError(got) || got != rawlen) {
        st = vdb_set_errmsg(VDB_ECORRUPT, "binlog: zstd: %s",
                            ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short frame");
        goto fail;
    }
    vdb_rd r = vdb_rd_init(raw, (size_t)rawlen);
    st = vdb_column_decode(&r, out);
    if (st)
        goto fail;
    if (r.off != r.len) {
        vdb_column_free(out);
        st = vdb_set_errmsg(VDB_ECORRUPT, "binlog: %zu trailing bytes after the column",
                            r.len - r.off);
        goto fail;
    }
fail:
    vdb_free(raw);
    return st;
}

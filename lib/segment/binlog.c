/* Binlog files: one column's plain encoding, zstd-compressed, behind a checksummed header. */
#include <zstd.h>

#include "segment.h"

#define BINLOG_MAGIC "VDBBLOG1"
#define BINLOG_VERSION 1u
#define BINLOG_HEADER 36 /* magic 8, version 4, crc 4, raw 8, compressed 8, header crc 4 */
#define BINLOG_LEVEL 3
#define BINLOG_BLOCK_MAX ((uint64_t)128 << 10) /* the largest block a zstd frame holds */
#define BINLOG_WINDOW_LOG_MAX 24                /* 16 MiB */

/* Decompresses the frame src (which says it holds exactly rawlen bytes) into a new buffer
 * grown as output arrives: never larger than twice what the frame has given so far. */
static vdb_status inflate(const uint8_t *src, size_t clen, size_t rawlen, void **out)
{
    vdb_status st = VDB_OK;
    size_t cap = VDB_MIN(rawlen, VDB_MAX((size_t)64 << 10, clen * 4));
    uint8_t *buf = vdb_malloc(cap ? cap : 1);
    ZSTD_DStream *z = ZSTD_createDStream();
    if (!buf || !z) {
        st = vdb_set_errmsg(VDB_ENOMEM, "binlog: out of memory for %zu bytes", cap);
        goto fail;
    }
    /* what our writer uses (level 3: windows up to 2^21) with room to spare, and a bound on
     * what a damaged frame header can make the decoder allocate */
    size_t zr = ZSTD_DCtx_setParameter(z, ZSTD_d_windowLogMax, BINLOG_WINDOW_LOG_MAX);
    if (ZSTD_isError(zr)) {
        st = vdb_set_errmsg(VDB_EIO, "binlog: zstd: %s", ZSTD_getErrorName(zr));
        goto fail;
    }
    ZSTD_inBuffer in = {src, clen, 0};
    ZSTD_outBuffer o = {buf, cap, 0};
    for (;;) {
        size_t in_was = in.pos, out_was = o.pos;
        size_t left = ZSTD_decompressStream(z, &o, &in);
        if (ZSTD_isError(left)) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "binlog: zstd: %s", ZSTD_getErrorName(left));
            goto fail;
        }
        if (left == 0)
            break; /* the frame is whole */
        if (o.pos == o.size && o.size < rawlen) {
            size_t ncap = o.size > rawlen / 2 ? rawlen : o.size * 2;
            uint8_t *nb = vdb_realloc(buf, ncap);
            if (!nb) {
                st = vdb_set_errmsg(VDB_ENOMEM, "binlog: out of memory for %zu bytes", ncap);
                goto fail;
            }
            buf = nb;
            o.dst = buf;
            o.size = ncap;
        } else if (in.pos == in_was && o.pos == out_was) {
            /* no progress: the input ran out mid-frame, or the frame holds more than it
             * announced */
            st = vdb_set_errmsg(VDB_ECORRUPT, "binlog: zstd frame %s",
                                o.pos == o.size ? "longer than its size" : "is truncated");
            goto fail;
        }
    }
    if (o.pos != rawlen || in.pos != in.size) {
        st = vdb_set_errmsg(VDB_ECORRUPT, "binlog: zstd frame gives %zu of %zu bytes%s", o.pos,
                            rawlen, in.pos != in.size ? ", with bytes after it" : "");
        goto fail;
    }
    ZSTD_freeDStream(z);
    *out = buf;
    return VDB_OK;
fail:
    ZSTD_freeDStream(z);
    vdb_free(buf);
    return st;
}

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
    /* Both sizes are only claims: a frame of clen bytes holds at most clen / 3 blocks (each
     * has a 3-byte header) of at most 128 KiB each (RFC 8878, Block_Maximum_Size), so a
     * larger claim is damage. Below that, the buffer grows only as the frame really gives
     * bytes, so that a small file cannot make us allocate what it merely announces. */
    if (rawlen > SIZE_MAX - 1 || rawlen / BINLOG_BLOCK_MAX > clen / 3 + 1)
        return vdb_set_errmsg(VDB_ECORRUPT, "binlog: raw size %llu does not fit in %llu "
                              "compressed bytes", (unsigned long long)rawlen,
                              (unsigned long long)clen);
    st = inflate(h + BINLOG_HEADER, (size_t)clen, (size_t)rawlen, &raw);
    if (st)
        goto fail;
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

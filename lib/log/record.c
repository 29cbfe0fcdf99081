/* Encoding of the records the database writes to its log channels: a fixed header (type,
 * flags, parts, shard, timestamp, collection, partition) and a body. The log frames and
 * checksums each record; this layer only checks the shape. */
#include "log.h"

#define REC_MAGIC 0x52 /* 'R' */
#define REC_HEADER 36

void vdb_rec_encode(const vdb_rec_header *h, const void *body, size_t len, vdb_buf *out)
{
    vdb_buf_u8(out, REC_MAGIC);
    vdb_buf_u8(out, h->type);
    vdb_buf_u8(out, h->flags);
    vdb_buf_u8(out, 0);
    vdb_buf_put(out, &h->parts, 2);
    vdb_buf_put(out, "\0\0", 2);
    vdb_buf_u32(out, h->shard);
    vdb_buf_u64(out, h->ts);
    vdb_buf_u64(out, h->collection_id);
    vdb_buf_u64(out, h->partition_id);
    vdb_buf_put(out, body, len);
}

vdb_status vdb_rec_decode(const void *rec, size_t len, vdb_rec_header *h, const void **body,
                          size_t *body_len)
{
    vdb_rd r = vdb_rd_init(rec, len);
    uint8_t magic = vdb_rd_u8(&r);
    h->type = vdb_rd_u8(&r);
    h->flags = vdb_rd_u8(&r);
    vdb_rd_u8(&r);
    const uint8_t *parts = vdb_rd_take(&r, 4);
    h->shard = vdb_rd_u32(&r);
    h->ts = vdb_rd_u64(&r);
    h->collection_id = vdb_rd_u64(&r);
    h->partition_id = vdb_rd_u64(&r);
    if (r.err || magic != REC_MAGIC || h->type < VDB_REC_INSERT || h->type > VDB_REC_TICK)
        return vdb_set_errmsg(VDB_ECORRUPT, "log record of %zu bytes is malformed", len);
    memcpy(&h->parts, parts, 2);
    if (h->parts == 0)
        return vdb_set_errmsg(VDB_ECORRUPT, "log record says it has 0 parts");
    *body = (const uint8_t *)rec + REC_HEADER;
    *body_len = len - REC_HEADER;
    return VDB_OK;
}

/* Growable little-endian byte buffers and a bounds-checked reader: the encoding under every
 * record, meta value and file this library writes. */
#include "util.h"

void vdb_buf_free(vdb_buf *b)
{
    vdb_free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

bool vdb_buf_reserve(vdb_buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->len + extra <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra)
        cap *= 2;
    uint8_t *p = vdb_realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void vdb_buf_put(vdb_buf *b, const void *p, size_t n)
{
    if (!n || !vdb_buf_reserve(b, n))
        return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void vdb_buf_u8(vdb_buf *b, uint8_t v) { vdb_buf_put(b, &v, 1); }
void vdb_buf_u32(vdb_buf *b, uint32_t v) { vdb_buf_put(b, &v, 4); }
void vdb_buf_u64(vdb_buf *b, uint64_t v) { vdb_buf_put(b, &v, 8); }

void vdb_buf_str(vdb_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    vdb_buf_u32(b, (uint32_t)n);
    vdb_buf_put(b, s, n);
}

void vdb_buf_bytes(vdb_buf *b, const void *p, size_t n)
{
    vdb_buf_u64(b, n);
    vdb_buf_put(b, p, n);
}

const void *vdb_rd_take(vdb_rd *r, size_t n)
{
    if (r->err || n > r->len - r->off) {
        r->err = true;
        return NULL;
    }
    const void *p = r->p + r->off;
    r->off += n;
    return p;
}

uint8_t vdb_rd_u8(vdb_rd *r)
{
    const uint8_t *p = vdb_rd_take(r, 1);
    return p ? *p : 0;
}

uint32_t vdb_rd_u32(vdb_rd *r)
{
    const uint8_t *p = vdb_rd_take(r, 4);
    return p ? vdb_get_u32(p) : 0;
}

uint64_t vdb_rd_u64(vdb_rd *r)
{
    const uint8_t *p = vdb_rd_take(r, 8);
    return p ? vdb_get_u64(p) : 0;
}

char *vdb_rd_str(vdb_rd *r)
{
    uint32_t n = vdb_rd_u32(r);
    const char *p = vdb_rd_take(r, n);
    return p ? vdb_strndup(p, n) : NULL;
}

const void *vdb_rd_bytes(vdb_rd *r, size_t *n)
{
    uint64_t len = vdb_rd_u64(r);
    if (r->err || len > r->len - r->off) {
        r->err = true;
        *n = 0;
        return NULL;
    }
    *n = (size_t)len;
    return vdb_rd_take(r, (size_t)len);
}

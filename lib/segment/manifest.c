/* The manifest of a sealed segment: a versioned, checksummed blob naming its objects. */
#include "segment_int.h"

#define MANIFEST_MAGIC "VDBSEGM1"
#define MANIFEST_VERSION 1u
#define KEY_MAX 4096

/* Layout: magic, u32 version, u64 id, u64 partition, u32 shard, u64 rows, u64 min_ts,
 * u64 max_ts, u64 end_pos, u32 ncols, u32 nfiles, files {str key, u64 size, u32 crc},
 * u32 ndeltas, deltas {str key, u64 size, u32 crc, u64 count}, u32 crc32c of all before. */

void vdb_seg_files_free(vdb_seg_file *f, size_t n)
{
    for (size_t i = 0; f && i < n; i++)
        vdb_free(f[i].key);
    vdb_free(f);
}

void vdb_manifest_free(vdb_manifest *m)
{
    vdb_seg_files_free(m->files, m->nfiles);
    vdb_seg_files_free(m->deltas, m->ndeltas);
    memset(m, 0, sizeof *m);
}

void vdb_manifest_encode(const vdb_manifest *m, vdb_buf *out)
{
    size_t start = out->len;
    vdb_buf_put(out, MANIFEST_MAGIC, 8);
    vdb_buf_u32(out, MANIFEST_VERSION);
    vdb_buf_u64(out, m->id);
    vdb_buf_u64(out, m->partition_id);
    vdb_buf_u32(out, m->shard);
    vdb_buf_u64(out, m->rows);
    vdb_buf_u64(out, m->min_ts);
    vdb_buf_u64(out, m->max_ts);
    vdb_buf_u64(out, m->end_pos);
    vdb_buf_u32(out, (uint32_t)m->ncols);
    vdb_buf_u32(out, (uint32_t)m->nfiles);
    for (size_t i = 0; i < m->nfiles; i++) {
        vdb_buf_str(out, m->files[i].key);
        vdb_buf_u64(out, m->files[i].size);
        vdb_buf_u32(out, m->files[i].crc);
    }
    vdb_buf_u32(out, (uint32_t)m->ndeltas);
    for (size_t i = 0; i < m->ndeltas; i++) {
        vdb_buf_str(out, m->deltas[i].key);
        vdb_buf_u64(out, m->deltas[i].size);
        vdb_buf_u32(out, m->deltas[i].crc);
        vdb_buf_u64(out, m->deltas[i].count);
    }
    if (!out->oom)
        vdb_buf_u32(out, vdb_crc32c(0, out->p + start, out->len - start));
}

/* A key: non-empty, bounded, no NUL inside (it becomes a C string). */
static vdb_status read_key(vdb_rd *r, char **out)
{
    *out = NULL;
    uint32_t n = vdb_rd_u32(r);
    const char *p = vdb_rd_take(r, n);
    if (!p)
        return vdb_set_errmsg(VDB_ECORRUPT, "manifest: truncated object key");
    if (n == 0 || n > KEY_MAX || memchr(p, 0, n))
        return vdb_set_errmsg(VDB_ECORRUPT, "manifest: bad object key of %u bytes", n);
    *out = vdb_strndup(p, n);
    if (!*out)
        return vdb_set_errmsg(VDB_ENOMEM, "manifest: out of memory");
    return VDB_OK;
}

static vdb_status read_files(vdb_rd *r, size_t n, bool delta, vdb_seg_file **out)
{
    /* Each entry takes at least 17 bytes, which bounds the allocation by the input. */
    if (n > (r->len - r->off) / 17)
        return vdb_set_errmsg(VDB_ECORRUPT, "manifest: %zu entries do not fit", n);
    vdb_seg_file *f = vdb_calloc(n ? n : 1, sizeof *f);
    if (!f)
        return vdb_set_errmsg(VDB_ENOMEM, "manifest: out of memory");
    *out = f;
    for (size_t i = 0; i < n; i++) {
        vdb_status st = read_key(r, &f[i].key);
        if (st)
            return st;
        f[i].size = vdb_rd_u64(r);
        f[i].crc = vdb_rd_u32(r);
        if (delta)
            f[i].count = vdb_rd_u64(r);
        if (r->err)
            return vdb_set_errmsg(VDB_ECORRUPT, "manifest: truncated entry %zu", i);
    }
    return VDB_OK;
}

vdb_status vdb_manifest_decode(const void *p, size_t len, vdb_manifest *m)
{
    vdb_status st = VDB_OK;
    memset(m, 0, sizeof *m);
    const uint8_t *b = p;
    if (len < 16 || memcmp(b, MANIFEST_MAGIC, 8) != 0)
        return vdb_set_errmsg(VDB_ECORRUPT, "manifest: bad magic");
    if (vdb_get_u32(b + len - 4) != vdb_crc32c(0, b, len - 4))
        return vdb_set_errmsg(VDB_ECORRUPT, "manifest: checksum mismatch");
    vdb_rd r = vdb_rd_init(b, len - 4);
    vdb_rd_take(&r, 8);
    uint32_t version = vdb_rd_u32(&r);
    if (version != MANIFEST_VERSION)
        return vdb_set_errmsg(VDB_EVERSION, "manifest: unknown format version %u", version);
    m->id = vdb_rd_u64(&r);
    m->partition_id = vdb_rd_u64(&r);
    m->shard = vdb_rd_u32(&r);
    m->rows = vdb_rd_u64(&r);
    m->min_ts = vdb_rd_u64(&r);
    m->max_ts = vdb_rd_u64(&r);
    m->end_pos = vdb_rd_u64(&r);
    m->ncols = vdb_rd_u32(&r);
    uint32_t nfiles = vdb_rd_u32(&r);
    if (r.err) {
        st = vdb_set_errmsg(VDB_ECORRUPT, "manifest: truncated header");
        goto fail;
    }
    if (m->ncols == 0 || nfiles != m->ncols + 2 || m->min_ts > m->max_ts ||
        m->rows >= UINT32_MAX) {
        st = vdb_set_errmsg(VDB_ECORRUPT, "manifest: bad counts (%zu columns, %u files, "
                            "%llu rows)", m->ncols, nfiles, (unsigned long long)m->rows);
        goto fail;
    }
    m->nfiles = nfiles;
    st = read_files(&r, m->nfiles, false, &m->files);
    if (st)
        goto fail;
    m->ndeltas = vdb_rd_u32(&r);
    if (r.err) {
        m->ndeltas = 0;
        st = vdb_set_errmsg(VDB_ECORRUPT, "manifest: truncated delta count");
        goto fail;
    }
    st = read_files(&r, m->ndeltas, true, &m->deltas);
    if (st)
        goto fail;
    if (r.off != r.len) {
        st = vdb_set_errmsg(VDB_ECORRUPT, "manifest: %zu trailing bytes", r.len - r.off);
        goto fail;
    }
    return VDB_OK;
fail:
    if (!m->deltas)
        m->ndeltas = 0;
    if (!m->files)
        m->nfiles = 0;
    vdb_manifest_free(m);
    return st;
}

vdb_status vdb_segment_manifest_files(const void *manifest, size_t len,
                                      void (*fn)(void *arg, const char *key), void *arg)
{
    vdb_manifest m;
    vdb_status st = vdb_manifest_decode(manifest, len, &m);
    if (st)
        return st;
    for (size_t i = 0; i < m.nfiles; i++)
        fn(arg, m.files[i].key);
    for (size_t i = 0; i < m.ndeltas; i++)
        fn(arg, m.deltas[i].key);
    vdb_manifest_free(&m);
    return VDB_OK;
}

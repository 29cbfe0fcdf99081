/* The WAL segment file format: frame headers, file names, listing a channel's files, and a
 * buffered reader that walks and verifies the frames of one file. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "storage/wal_internal.h"
#include "util/sysio.h"

/* Reads are done in windows this large so that small records cost no syscall each. */
#define READ_WINDOW ((size_t)1 << 20)

static uint32_t frame_crc(uint64_t pos, const void *rec, size_t len)
{
    uint8_t p[8];
    vdb_put_u64(p, pos);
    return vdb_crc32c(vdb_crc32c(0, p, 8), rec, len);
}

void wal_frame_header(uint8_t hdr[WAL_FRAME_HEADER], uint64_t pos, const void *rec, size_t len)
{
    vdb_put_u32(hdr, (uint32_t)len);
    vdb_put_u32(hdr + 4, frame_crc(pos, rec, len));
    vdb_put_u64(hdr + 8, pos);
}

void wal_seg_name(char name[WAL_SEG_NAME_LEN + 1], uint64_t first)
{
    snprintf(name, WAL_SEG_NAME_LEN + 1, "%020llu.log", (unsigned long long)first);
}

bool wal_seg_parse_name(const char *name, uint64_t *first)
{
    if (strlen(name) != WAL_SEG_NAME_LEN || strcmp(name + 20, ".log") != 0)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v == 0)
        return false;
    *first = v;
    return true;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

vdb_status wal_seg_list(const char *dir, uint64_t **firsts, size_t *n)
{
    *firsts = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return VDB_OK;
        return vdb_set_errmsg(VDB_EIO, "wal: open folder %s: %s", dir, strerror(errno));
    }
    uint64_t *v = NULL;
    size_t len = 0, cap = 0;
    vdb_status st = VDB_OK;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d))) {
        uint64_t first;
        if (!wal_seg_parse_name(e->d_name, &first))
            continue;
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 16;
            uint64_t *nv = vdb_realloc(v, nc * sizeof *v);
            if (!nv) {
                st = vdb_set_errmsg(VDB_ENOMEM, "wal: out of memory listing %s", dir);
                goto fail;
            }
            v = nv;
            cap = nc;
        }
        v[len++] = first;
        errno = 0;
    }
    if (errno != 0) {
        st = vdb_set_errmsg(VDB_EIO, "wal: read folder %s: %s", dir, strerror(errno));
        goto fail;
    }
    closedir(d);
    if (len)
        qsort(v, len, sizeof *v, cmp_u64);
    *firsts = v;
    *n = len;
    return VDB_OK;
fail:
    closedir(d);
    vdb_free(v);
    return st;
}

void wal_seg_reader_reset(wal_seg_reader *r, int fd, const char *path, uint64_t limit,
                          uint64_t first)
{
    r->fd = fd;
    r->path = path;
    r->limit = limit;
    r->off = 0;
    r->expect = first;
    r->win_len = 0;
    r->win_off = 0;
}

void wal_seg_reader_free(wal_seg_reader *r)
{
    vdb_free(r->buf);
    r->buf = NULL;
    r->cap = 0;
    r->win_len = 0;
}

/* Makes bytes [off, off + n) available in the window. Returns NULL with VDB_OK in *st when the
 * file (up to limit) is shorter than that. */
static const uint8_t *fetch(wal_seg_reader *r, uint64_t off, size_t n, vdb_status *st)
{
    *st = VDB_OK;
    if (off > r->limit || n > r->limit - off)
        return NULL;
    if (off >= r->win_off && off + n <= r->win_off + r->win_len)
        return r->buf + (off - r->win_off);
    size_t want = VDB_MAX(n, READ_WINDOW);
    if (want > r->limit - off)
        want = (size_t)(r->limit - off);
    if (want > r->cap) {
        uint8_t *nb = vdb_realloc(r->buf, want);
        if (!nb) {
            *st = vdb_set_errmsg(VDB_ENOMEM, "wal: out of memory reading %zu bytes of %s", want,
                                 r->path);
            return NULL;
        }
        r->buf = nb;
        r->cap = want;
    }
    r->win_off = off;
    r->win_len = 0;
    while (r->win_len < want) {
        ssize_t got = vdb_sys_pread(r->fd, r->buf + r->win_len, want - r->win_len,
                            (off_t)(off + r->win_len));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            *st = vdb_set_errmsg(VDB_EIO, "wal: read %s at offset %llu: %s", r->path,
                                 (unsigned long long)(off + r->win_len), strerror(errno));
            return NULL;
        }
        if (got == 0)
            break; /* the file is shorter than limit said: treat as a short frame */
        r->win_len += (size_t)got;
    }
    if (r->win_len < n)
        return NULL;
    return r->buf;
}

vdb_status wal_seg_next(wal_seg_reader *r, wal_frame_kind *kind, uint64_t *pos,
                        const void **rec, size_t *len, const char **why)
{
    vdb_status st;
    *why = NULL;
    if (r->off == r->limit) {
        *kind = WAL_FRAME_END;
        return VDB_OK;
    }
    *kind = WAL_FRAME_BAD;
    r->bad_len = UINT64_MAX;
    r->bad_short = false;
    const uint8_t *h = fetch(r, r->off, WAL_FRAME_HEADER, &st);
    if (!h) {
        r->bad_short = true;
        *why = "short frame header";
        return st;
    }
    uint32_t n = vdb_get_u32(h);
    uint32_t crc = vdb_get_u32(h + 4);
    uint64_t p = vdb_get_u64(h + 8);
    if (n > WAL_MAX_RECORD) {
        *why = "record length beyond the 1 GiB limit";
        return VDB_OK;
    }
    r->bad_len = WAL_FRAME_HEADER + (uint64_t)n;
    r->bad_short = r->bad_len > r->limit - r->off;
    if (p != r->expect) {
        *why = "record position out of sequence";
        return VDB_OK;
    }
    const uint8_t *body = fetch(r, r->off + WAL_FRAME_HEADER, n, &st);
    if (!body) {
        r->bad_short = true;
        *why = "short record";
        return st;
    }
    if (frame_crc(p, body, n) != crc) {
        *why = "checksum mismatch";
        return VDB_OK;
    }
    *kind = WAL_FRAME_REC;
    *pos = p;
    *rec = body;
    *len = n;
    r->off += WAL_FRAME_HEADER + n;
    r->expect++;
    return VDB_OK;
}

/* ---- torn write or damage --------------------------------------------------------------------
 * The rule. An append returns only once its frame is whole in the file (and, under
 * VDB_SYNC_FULL, synced). A crash during a write can leave, after the last whole frame, a
 * frame the file ends inside of (the size grew by less than the write), or a frame whose
 * later sectors never reached the disk: the file grew but reads as zero from a sector
 * boundary on. Those two are torn writes, never acknowledged, and are cut. Anything else
 * after the last good frame of the last file -- a frame whose header is whole (a length
 * within the limit and the position the channel expects) and whose payload is all there but
 * whose checksum fails, a wrong position or length with the frame's bytes all present, or any
 * bad frame followed by a valid one -- is damage to written records: VDB_ECORRUPT naming the
 * file. A bad frame before the last file's tail is always damage.
 *
 * What it cannot tell apart, without the marker's bounds (wal.c): damage to the last frame
 * that makes it look torn -- its length field raised past the end of the file, the file cut
 * inside its last frame, or its last sectors zeroed -- and a frame lost with the file cut at a
 * frame boundary. The marker's bounds (the highest durable position, kept in COMMIT) catch
 * those on the writer's next open: any bad or missing record below that position is damage,
 * however torn it looks. They are missing when COMMIT is gone or was never written back
 * (a machine crash under VDB_SYNC_BATCH/OFF), and then the rule above is all there is. The
 * other way round, a torn write whose sectors landed out of order (zeros, then data) or on a
 * file system that shows stale blocks after a crash reads as damage: refusing is the safe
 * side. */

#define TORN_SECTOR 512u

vdb_status wal_seg_bad_is_torn(wal_seg_reader *r, bool *torn)
{
    *torn = true;
    if (r->bad_short)
        return VDB_OK;
    /* The end of the last non-zero byte from the bad frame to the end of the file. */
    uint64_t z = r->off;
    for (uint64_t o = r->off; o < r->limit;) {
        size_t n = (size_t)VDB_MIN((uint64_t)READ_WINDOW, r->limit - o);
        vdb_status st;
        const uint8_t *b = fetch(r, o, n, &st);
        if (!b)
            return st != VDB_OK ? st
                                : vdb_set_errmsg(VDB_EIO, "wal: %s shrank while it was read",
                                                 r->path);
        for (size_t i = n; i-- > 0;)
            if (b[i]) {
                z = o + i + 1;
                break;
            }
        o += n;
    }
    if (z == r->off)
        return VDB_OK; /* zero from the frame's start */
    uint64_t s = (z + TORN_SECTOR - 1) / TORN_SECTOR * TORN_SECTOR;
    uint64_t end = r->bad_len == UINT64_MAX ? r->off + WAL_FRAME_HEADER : r->off + r->bad_len;
    *torn = s < end && s < r->limit;
    return VDB_OK;
}

bool wal_seg_valid_frame_after(wal_seg_reader *r)
{
    /* A torn write leaves garbage only at the very end; a whole frame with a later position
     * past the bad one means the damage is in the middle of acknowledged records. */
    for (uint64_t off = r->off + 1; off + WAL_FRAME_HEADER <= r->limit; off++) {
        vdb_status st;
        const uint8_t *h = fetch(r, off, WAL_FRAME_HEADER, &st);
        if (!h)
            return false;
        uint32_t n = vdb_get_u32(h), crc = vdb_get_u32(h + 4);
        uint64_t p = vdb_get_u64(h + 8);
        if (p <= r->expect || p - r->expect > (UINT64_C(1) << 32) || n > WAL_MAX_RECORD ||
            n > r->limit - off - WAL_FRAME_HEADER)
            continue;
        const uint8_t *body = fetch(r, off + WAL_FRAME_HEADER, n, &st);
        if (body && frame_crc(p, body, n) == crc)
            return true;
    }
    return false;
}

/* The local meta backend (local://<folder>): a sorted in-memory key-value map made durable by
 * a checksummed transaction log, compacted into a snapshot when the log outgrows the data.
 *
 * On disk: meta.snap (generation G, every key at the time it was written; absent means G = 0
 * and empty) and meta-<G>.log (the transactions since). Compaction first creates an empty
 * meta-<G+1>.log, then replaces meta.snap atomically with generation G+1, then drops the old
 * log; open trusts only the log named by the snapshot's generation, so a crash at any step
 * leaves either the old pair or the new pair. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/storage.h"

#define SNAP_MAGIC 0x534d4456u /* "VDMS" */
#define LOG_MAGIC 0x4c4d4456u  /* "VDML" */
#define FORMAT_VERSION 1u
#define LOG_HEADER 16u  /* magic, version, generation */
#define REC_HEADER 8u   /* payload length, crc32c of the payload */
#define MAX_KEY 4096u
#define MAX_VALUE (64u << 20)
#define COMPACT_MIN_LOG (4u << 20)
#define ENTRY_OVERHEAD 16u /* what one entry costs in a snapshot beside its bytes */

/* One key and its value in one allocation: key, NUL, value, NUL. */
typedef struct entry {
    char *key;
    size_t klen, vlen;
} entry;

static inline const uint8_t *entry_val(const entry *e) { return (const uint8_t *)e->key + e->klen + 1; }

typedef struct meta_local {
    pthread_mutex_t mu;
    char *dir;
    char *snap_path;
    char *log_path; /* the log of the current generation */
    int lock_fd;
    int log_fd;
    uint64_t gen;
    uint64_t log_size;
    entry *ents; /* sorted by key, strcmp order (bytes as unsigned) */
    size_t count, cap;
    uint64_t live_bytes;
    char *broken; /* set when the files' state is uncertain: every write then fails */
} meta_local;

/* ---- the sorted map ---- */

/* The index of the first entry whose key is >= key. */
static size_t lower_bound(const meta_local *m, const char *key)
{
    size_t lo = 0, hi = m->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(m->ents[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Byte order of two keys given with their lengths (not NUL-terminated). */
static int key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, VDB_MIN(alen, blen));
    return c ? c : (alen > blen) - (alen < blen);
}

static entry *find(meta_local *m, const char *key)
{
    size_t i = lower_bound(m, key);
    return i < m->count && strcmp(m->ents[i].key, key) == 0 ? &m->ents[i] : NULL;
}

static bool reserve(meta_local *m, size_t extra)
{
    if (m->count + extra <= m->cap)
        return true;
    size_t cap = m->cap ? m->cap : 64;
    while (cap < m->count + extra)
        cap *= 2;
    entry *e = vdb_realloc(m->ents, cap * sizeof *e);
    if (!e)
        return false;
    m->ents = e;
    m->cap = cap;
    return true;
}

static char *blob_new(const char *key, size_t klen, const void *val, size_t vlen)
{
    char *b = vdb_malloc(klen + vlen + 2);
    if (!b)
        return NULL;
    memcpy(b, key, klen);
    b[klen] = 0;
    if (vlen)
        memcpy(b + klen + 1, val, vlen);
    b[klen + 1 + vlen] = 0;
    return b;
}

/* Takes ownership of blob. Capacity for one more entry must be reserved. */
static void map_put(meta_local *m, char *blob, size_t klen, size_t vlen)
{
    size_t i = lower_bound(m, blob);
    if (i < m->count && strcmp(m->ents[i].key, blob) == 0) {
        entry *e = &m->ents[i];
        m->live_bytes -= e->klen + e->vlen + ENTRY_OVERHEAD;
        vdb_free(e->key);
    } else {
        memmove(&m->ents[i + 1], &m->ents[i], (m->count - i) * sizeof(entry));
        m->count++;
    }
    m->ents[i] = (entry){blob, klen, vlen};
    m->live_bytes += klen + vlen + ENTRY_OVERHEAD;
}

static void map_del(meta_local *m, const char *key)
{
    size_t i = lower_bound(m, key);
    if (i >= m->count || strcmp(m->ents[i].key, key) != 0)
        return;
    m->live_bytes -= m->ents[i].klen + m->ents[i].vlen + ENTRY_OVERHEAD;
    vdb_free(m->ents[i].key);
    memmove(&m->ents[i], &m->ents[i + 1], (m->count - i - 1) * sizeof(entry));
    m->count--;
}

/* ---- argument checks ---- */

static vdb_status check_key(const char *key)
{
    if (!key || !*key)
        return vdb_set_errmsg(VDB_EINVAL, "meta key is empty");
    size_t n = strlen(key);
    if (n > MAX_KEY)
        return vdb_set_errmsg(VDB_EINVAL, "meta key of %zu bytes exceeds %u bytes", n, MAX_KEY);
    return VDB_OK;
}

static vdb_status check_value(const char *key, const void *val, size_t len)
{
    if (len > MAX_VALUE)
        return vdb_set_errmsg(VDB_EINVAL, "meta value for %s is %zu bytes, more than %u", key,
                              len, MAX_VALUE);
    if (len && !val)
        return vdb_set_errmsg(VDB_EINVAL, "meta value for %s is NULL", key);
    return VDB_OK;
}

/* ---- files ---- */

static char *log_path(const meta_local *m, uint64_t gen)
{
    char name[64];
    snprintf(name, sizeof name, "meta-%" PRIu64 ".log", gen);
    return vdb_path_join(m->dir, name);
}

static vdb_status pwrite_all(int fd, const void *p, size_t n, uint64_t off, const char *path)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = pwrite(fd, b, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return vdb_set_errmsg(VDB_EIO, "write %s: %s", path, strerror(errno));
        b += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return VDB_OK;
}

/* Creates (or empties) the log for gen with just its header, durably; *fd_out gets it open
 * and *path_out its path. */
static vdb_status log_create(meta_local *m, uint64_t gen, int *fd_out, char **path_out)
{
    char *path = log_path(m, gen);
    if (!path)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    vdb_status st = VDB_OK;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = vdb_set_errmsg(VDB_EIO, "create %s: %s", path, strerror(errno));
        goto fail;
    }
    uint8_t h[LOG_HEADER];
    vdb_put_u32(h, LOG_MAGIC);
    vdb_put_u32(h + 4, FORMAT_VERSION);
    vdb_put_u64(h + 8, gen);
    st = pwrite_all(fd, h, sizeof h, 0, path);
    if (st != VDB_OK)
        goto fail;
    if (fdatasync(fd) != 0) {
        st = vdb_set_errmsg(VDB_EIO, "fdatasync %s: %s", path, strerror(errno));
        goto fail;
    }
    st = vdb_fsync_dir(m->dir);
    if (st != VDB_OK)
        goto fail;
    *path_out = path;
    *fd_out = fd;
    return VDB_OK;
fail:
    if (fd >= 0)
        close(fd);
    vdb_free(path);
    return st;
}

/* Encodes the write ops of a transaction as one log payload: u32 count, then per op a kind
 * byte, the key (u32 length + bytes) and for puts the value (u64 length + bytes). */
static void encode_ops(vdb_buf *b, const vdb_meta_op *ops, size_t n)
{
    uint32_t writes = 0;
    for (size_t i = 0; i < n; i++)
        writes += ops[i].kind == VDB_META_PUT || ops[i].kind == VDB_META_DELETE;
    vdb_buf_u32(b, writes);
    for (size_t i = 0; i < n; i++) {
        if (ops[i].kind != VDB_META_PUT && ops[i].kind != VDB_META_DELETE)
            continue;
        vdb_buf_u8(b, (uint8_t)ops[i].kind);
        vdb_buf_str(b, ops[i].key);
        if (ops[i].kind == VDB_META_PUT)
            vdb_buf_bytes(b, ops[i].val, ops[i].len);
    }
}

/* Appends one record durably. A failed write is cut back off so the log stays well framed;
 * a failed fdatasync leaves the file's state unknown, so the store refuses further writes. */
static vdb_status log_append(meta_local *m, vdb_buf *rec)
{
    vdb_put_u32(rec->p, (uint32_t)(rec->len - REC_HEADER));
    vdb_put_u32(rec->p + 4, vdb_crc32c(0, rec->p + REC_HEADER, rec->len - REC_HEADER));
    vdb_status st = pwrite_all(m->log_fd, rec->p, rec->len, m->log_size, m->log_path);
    if (st != VDB_OK) {
        if (ftruncate(m->log_fd, (off_t)m->log_size) != 0)
            m->broken = vdb_strdup("the meta log could not be cut back after a failed write");
        return st;
    }
    if (fdatasync(m->log_fd) != 0) {
        int e = errno;
        m->broken = vdb_strdup("fdatasync of the meta log failed");
        return vdb_set_errmsg(VDB_EIO, "fdatasync %s: %s", m->log_path, strerror(e));
    }
    m->log_size += rec->len;
    return VDB_OK;
}

/* ---- snapshot ---- */

static vdb_status snapshot_encode(const meta_local *m, uint64_t gen, vdb_buf *b)
{
    vdb_buf_u32(b, SNAP_MAGIC);
    vdb_buf_u32(b, FORMAT_VERSION);
    vdb_buf_u64(b, gen);
    vdb_buf_u64(b, m->count);
    for (size_t i = 0; i < m->count; i++) {
        vdb_buf_str(b, m->ents[i].key);
        vdb_buf_bytes(b, entry_val(&m->ents[i]), m->ents[i].vlen);
    }
    vdb_buf_u32(b, b->oom ? 0 : vdb_crc32c(0, b->p, b->len));
    if (b->oom)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory encoding the meta snapshot");
    return VDB_OK;
}

/* Rewrites the snapshot as generation gen+1 and switches to a fresh log. */
static vdb_status compact(meta_local *m)
{
    vdb_buf b = {0};
    int fd = -1;
    char *path = NULL;
    uint64_t next = m->gen + 1;
    vdb_status st = snapshot_encode(m, next, &b);
    if (st != VDB_OK)
        goto fail;
    st = log_create(m, next, &fd, &path);
    if (st != VDB_OK)
        goto fail;
    st = vdb_file_write_atomic(m->snap_path, b.p, b.len);
    if (st != VDB_OK) {
        /* The rename may or may not have happened (a failed folder fsync comes after it), so
         * neither log is known to be the one a reopen will read. */
        m->broken = vdb_strdup("a snapshot rewrite failed");
        goto fail;
    }
    close(m->log_fd);
    unlink(m->log_path);
    vdb_free(m->log_path);
    m->log_path = path;
    m->log_fd = fd;
    m->gen = next;
    m->log_size = LOG_HEADER;
    vdb_buf_free(&b);
    return VDB_OK;
fail:
    if (fd >= 0) {
        close(fd);
        if (!m->broken)
            unlink(path);
    }
    vdb_free(path);
    vdb_buf_free(&b);
    return st;
}

static vdb_status snapshot_load(meta_local *m)
{
    void *data = NULL;
    size_t len = 0;
    vdb_status st = vdb_file_read(m->snap_path, &data, &len);
    if (st == VDB_ENOTFOUND) {
        m->gen = 0;
        return VDB_OK;
    }
    if (st != VDB_OK)
        return st;
    if (len < 28 || vdb_get_u32(data) != SNAP_MAGIC) {
        st = vdb_set_errmsg(VDB_ECORRUPT, "%s is not a meta snapshot", m->snap_path);
        goto fail;
    }
    if (vdb_crc32c(0, data, len - 4) != vdb_get_u32((uint8_t *)data + len - 4)) {
        st = vdb_set_errmsg(VDB_ECORRUPT, "%s: checksum mismatch", m->snap_path);
        goto fail;
    }
    vdb_rd r = vdb_rd_init(data, len - 4);
    vdb_rd_u32(&r);
    uint32_t ver = vdb_rd_u32(&r);
    if (ver != FORMAT_VERSION) {
        st = vdb_set_errmsg(VDB_EVERSION, "%s: format version %u is not supported",
                            m->snap_path, ver);
        goto fail;
    }
    m->gen = vdb_rd_u64(&r);
    uint64_t count = vdb_rd_u64(&r);
    for (uint64_t i = 0; i < count && !r.err; i++) {
        uint32_t klen = vdb_rd_u32(&r);
        const char *key = vdb_rd_take(&r, klen);
        size_t vlen;
        const void *val = vdb_rd_bytes(&r, &vlen);
        if (r.err || klen == 0 || klen > MAX_KEY || memchr(key, 0, klen))
            break;
        if (m->count && key_cmp(m->ents[m->count - 1].key, m->ents[m->count - 1].klen, key,
                                klen) >= 0) {
            r.err = true; /* snapshots are written in key order, so a repeat means damage */
            break;
        }
        char *blob = blob_new(key, klen, val, vlen);
        if (!blob || !reserve(m, 1)) {
            vdb_free(blob);
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory loading %s", m->snap_path);
            goto fail;
        }
        m->ents[m->count++] = (entry){blob, klen, vlen};
        m->live_bytes += klen + vlen + ENTRY_OVERHEAD;
    }
    if (r.err || r.off != r.len) {
        st = vdb_set_errmsg(VDB_ECORRUPT, "%s: malformed entries", m->snap_path);
        goto fail;
    }
    vdb_free(data);
    return VDB_OK;
fail:
    vdb_free(data);
    return st;
}

/* ---- log replay ---- */

/* Applies one record. One that passed its checksum yet does not decode is damage, not a
 * torn write: VDB_ECORRUPT. */
static vdb_status apply_record(meta_local *m, const uint8_t *p, size_t n, const char *path,
                               uint64_t off)
{
    vdb_rd r = vdb_rd_init(p, n);
    uint32_t count = vdb_rd_u32(&r);
    for (uint32_t i = 0; i < count && !r.err; i++) {
        uint8_t kind = vdb_rd_u8(&r);
        uint32_t klen = vdb_rd_u32(&r);
        const char *key = vdb_rd_take(&r, klen);
        if (r.err || klen == 0 || klen > MAX_KEY || memchr(key, 0, klen))
            break;
        if (kind == VDB_META_PUT) {
            size_t vlen;
            const void *val = vdb_rd_bytes(&r, &vlen);
            if (r.err)
                break;
            char *blob = blob_new(key, klen, val, vlen);
            if (!blob || !reserve(m, 1)) {
                vdb_free(blob);
                return vdb_set_errmsg(VDB_ENOMEM, "out of memory replaying %s", path);
            }
            map_put(m, blob, klen, vlen);
        } else if (kind == VDB_META_DELETE) {
            char *k = vdb_strndup(key, klen);
            if (!k)
                return vdb_set_errmsg(VDB_ENOMEM, "out of memory replaying %s", path);
            map_del(m, k);
            vdb_free(k);
        } else {
            r.err = true;
        }
    }
    if (r.err || r.off != r.len)
        return vdb_set_errmsg(VDB_ECORRUPT, "%s: malformed record at offset %" PRIu64, path,
                              off);
    return VDB_OK;
}

/* Replays meta-<gen>.log into the map and leaves it open for appends. Records after the
 * first one that is short or fails its checksum are a torn tail and are cut off. */
static vdb_status log_replay(meta_local *m)
{
    char *path = log_path(m, m->gen);
    char *created = NULL;
    void *data = NULL;
    size_t len = 0;
    int fd = -1;
    vdb_status st;
    if (!path)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    st = vdb_file_read(path, &data, &len);
    if (st == VDB_ENOTFOUND || (st == VDB_OK && len < LOG_HEADER)) {
        /* Never written, or the crash came before its header was durable. */
        st = log_create(m, m->gen, &m->log_fd, &created);
        m->log_size = LOG_HEADER;
        goto done;
    }
    if (st != VDB_OK)
        goto done;
    const uint8_t *d = data;
    if (vdb_get_u32(d) != LOG_MAGIC || vdb_get_u64(d + 8) != m->gen) {
        st = vdb_set_errmsg(VDB_ECORRUPT, "%s: bad header (expected generation %" PRIu64 ")",
                            path, m->gen);
        goto done;
    }
    if (vdb_get_u32(d + 4) != FORMAT_VERSION) {
        st = vdb_set_errmsg(VDB_EVERSION, "%s: format version %u is not supported", path,
                            vdb_get_u32(d + 4));
        goto done;
    }
    size_t off = LOG_HEADER;
    while (len - off >= REC_HEADER) {
        uint32_t n = vdb_get_u32(d + off);
        uint32_t crc = vdb_get_u32(d + off + 4);
        if (n < 4 || n > len - off - REC_HEADER || vdb_crc32c(0, d + off + REC_HEADER, n) != crc)
            break;
        st = apply_record(m, d + off + REC_HEADER, n, path, off);
        if (st != VDB_OK)
            goto done;
        off += REC_HEADER + n;
    }
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        st = vdb_set_errmsg(VDB_EIO, "open %s: %s", path, strerror(errno));
        goto done;
    }
    if (off != len) {
        if (ftruncate(fd, (off_t)off) != 0 || fdatasync(fd) != 0) {
            st = vdb_set_errmsg(VDB_EIO, "cut torn tail of %s: %s", path, strerror(errno));
            close(fd);
            goto done;
        }
    }
    m->log_fd = fd;
    m->log_size = off;
done:
    vdb_free(data);
    vdb_free(created);
    if (st == VDB_OK)
        m->log_path = path;
    else
        vdb_free(path);
    return st;
}

/* Removes logs of other generations and temporary snapshot files left by a crash. */
static void remove_leftovers(meta_local *m)
{
    DIR *d = opendir(m->dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t g;
        int used = 0;
        bool stale_log = sscanf(e->d_name, "meta-%" SCNu64 ".log%n", &g, &used) == 1 &&
                         e->d_name[used] == 0 && g != m->gen;
        if (stale_log || strncmp(e->d_name, "meta.snap.tmp.", 14) == 0) {
            char *p = vdb_path_join(m->dir, e->d_name);
            if (p)
                unlink(p);
            vdb_free(p);
        }
    }
    closedir(d);
}

/* ---- the vtable ---- */

static void meta_close(void *h)
{
    meta_local *m = h;
    if (!m)
        return;
    if (m->log_fd >= 0)
        close(m->log_fd);
    if (m->lock_fd >= 0)
        close(m->lock_fd);
    for (size_t i = 0; i < m->count; i++)
        vdb_free(m->ents[i].key);
    vdb_free(m->ents);
    vdb_free(m->dir);
    vdb_free(m->snap_path);
    vdb_free(m->log_path);
    vdb_free(m->broken);
    pthread_mutex_destroy(&m->mu);
    vdb_free(m);
}

static vdb_status meta_open(const char *uri, const vdb_backend_options *opt, void **out)
{
    (void)opt;
    static const char scheme[] = "local://";
    if (!uri || strncmp(uri, scheme, sizeof scheme - 1) != 0 || !uri[sizeof scheme - 1])
        return vdb_set_errmsg(VDB_EINVAL, "meta URI %s is not local://<folder>",
                              uri ? uri : "(null)");
    meta_local *m = vdb_calloc(1, sizeof *m);
    if (!m)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    m->log_fd = m->lock_fd = -1;
    pthread_mutex_init(&m->mu, NULL);
    vdb_status st = VDB_OK;
    char *lock_path = NULL;
    m->dir = vdb_strdup(uri + sizeof scheme - 1);
    m->snap_path = m->dir ? vdb_path_join(m->dir, "meta.snap") : NULL;
    lock_path = m->dir ? vdb_path_join(m->dir, "meta.lock") : NULL;
    if (!m->snap_path || !lock_path) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto fail;
    }
    st = vdb_mkdirs(m->dir);
    if (st != VDB_OK)
        goto fail;
    m->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (m->lock_fd < 0) {
        st = vdb_set_errmsg(VDB_EIO, "open %s: %s", lock_path, strerror(errno));
        goto fail;
    }
    if (flock(m->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        st = errno == EWOULDBLOCK
                 ? vdb_set_errmsg(VDB_ELOCKED, "meta store %s is open elsewhere", m->dir)
                 : vdb_set_errmsg(VDB_EIO, "lock %s: %s", lock_path, strerror(errno));
        goto fail;
    }
    st = snapshot_load(m);
    if (st != VDB_OK)
        goto fail;
    st = log_replay(m);
    if (st != VDB_OK)
        goto fail;
    remove_leftovers(m);
    vdb_free(lock_path);
    *out = m;
    return VDB_OK;
fail:
    vdb_free(lock_path);
    meta_close(m);
    return st;
}

static vdb_status meta_get(void *h, const char *key, void **val, size_t *len)
{
    meta_local *m = h;
    vdb_status st = check_key(key);
    if (st != VDB_OK)
        return st;
    pthread_mutex_lock(&m->mu);
    entry *e = find(m, key);
    if (!e) {
        st = vdb_set_errmsg(VDB_ENOTFOUND, "meta key %s not found", key);
    } else {
        uint8_t *copy = vdb_malloc(e->vlen + 1);
        if (!copy) {
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory reading meta key %s (%zu bytes)",
                                key, e->vlen);
        } else {
            memcpy(copy, entry_val(e), e->vlen);
            copy[e->vlen] = 0;
            *val = copy;
            *len = e->vlen;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return st;
}

/* The core of put, del and txn: checks, then one log record, then the map. */
static vdb_status meta_txn(void *h, const vdb_meta_op *ops, size_t n)
{
    meta_local *m = h;
    vdb_status st = VDB_OK;
    vdb_buf rec = {0};
    char **blobs = NULL;
    size_t puts = 0, writes = 0;
    uint64_t bytes = 0;
    if (n && !ops)
        return vdb_set_errmsg(VDB_EINVAL, "meta txn: ops is NULL");
    for (size_t i = 0; i < n; i++) {
        st = check_key(ops[i].key);
        if (st != VDB_OK)
            return st;
        switch (ops[i].kind) {
        case VDB_META_PUT:
            puts++;
            writes++;
            bytes += ops[i].len;
            /* fallthrough */
        case VDB_META_CHECK_VALUE:
            st = check_value(ops[i].key, ops[i].val, ops[i].len);
            if (st != VDB_OK)
                return st;
            break;
        case VDB_META_DELETE:
            writes++;
            break;
        case VDB_META_CHECK_ABSENT:
            break;
        default:
            return vdb_set_errmsg(VDB_EINVAL, "meta txn: op %zu has unknown kind %d", i,
                                  (int)ops[i].kind);
        }
        bytes += strlen(ops[i].key) + 13;
    }
    if (bytes > UINT32_MAX - 64)
        return vdb_set_errmsg(VDB_EINVAL, "meta txn of %" PRIu64 " bytes is too large", bytes);

    /* Everything that can fail without touching the disk happens first, so that once the
     * record is durable the map update cannot fail. */
    blobs = vdb_calloc(puts ? puts : 1, sizeof *blobs);
    if (!blobs) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0, j = 0; i < n; i++) {
        if (ops[i].kind != VDB_META_PUT)
            continue;
        blobs[j] = blob_new(ops[i].key, strlen(ops[i].key), ops[i].val, ops[i].len);
        if (!blobs[j++]) {
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            goto fail;
        }
    }
    vdb_buf_reserve(&rec, REC_HEADER + (size_t)bytes + 4);
    vdb_buf_u64(&rec, 0); /* room for the record header */
    encode_ops(&rec, ops, n);
    if (rec.oom) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory encoding a meta txn");
        goto fail;
    }

    pthread_mutex_lock(&m->mu);
    if (m->broken) {
        st = vdb_set_errmsg(VDB_EIO, "meta store %s refuses writes until reopened: %s", m->dir,
                            m->broken);
        goto unlock;
    }
    for (size_t i = 0; i < n; i++) {
        const vdb_meta_op *o = &ops[i];
        entry *e;
        if (o->kind == VDB_META_CHECK_ABSENT && find(m, o->key)) {
            st = vdb_set_errmsg(VDB_ECONFLICT, "meta txn: key %s exists", o->key);
            goto unlock;
        }
        if (o->kind == VDB_META_CHECK_VALUE &&
            (!(e = find(m, o->key)) || e->vlen != o->len ||
             (o->len && memcmp(entry_val(e), o->val, o->len) != 0))) {
            st = vdb_set_errmsg(VDB_ECONFLICT, "meta txn: key %s %s", o->key,
                                e ? "holds another value" : "is missing");
            goto unlock;
        }
    }
    if (!reserve(m, puts)) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto unlock;
    }
    if (writes == 0)
        goto unlock; /* only checks: nothing to write */
    st = log_append(m, &rec);
    if (st != VDB_OK)
        goto unlock;
    for (size_t i = 0, j = 0; i < n; i++) {
        if (ops[i].kind == VDB_META_PUT) {
            map_put(m, blobs[j], strlen(ops[i].key), ops[i].len);
            blobs[j++] = NULL;
        } else if (ops[i].kind == VDB_META_DELETE) {
            map_del(m, ops[i].key);
        }
    }
    if (m->log_size > COMPACT_MIN_LOG && m->log_size > 2 * m->live_bytes) {
        /* The txn is already durable; a failed rewrite is retried on a later write (or, if
         * it left the files uncertain, makes the next write fail and say so). */
        vdb_status cst = compact(m);
        (void)cst;
    }
unlock:
    pthread_mutex_unlock(&m->mu);
fail:
    for (size_t j = 0; blobs && j < puts; j++)
        vdb_free(blobs[j]);
    vdb_free(blobs);
    vdb_buf_free(&rec);
    return st;
}

static vdb_status meta_put(void *h, const char *key, const void *val, size_t len)
{
    vdb_meta_op op = {VDB_META_PUT, key, val, len};
    return meta_txn(h, &op, 1);
}

static vdb_status meta_del(void *h, const char *key)
{
    vdb_meta_op op = {VDB_META_DELETE, key, NULL, 0};
    return meta_txn(h, &op, 1);
}

/* The matching entries are copied out under the lock and handed to fn after it is released,
 * so fn may call back into the store. */
static vdb_status meta_scan(void *h, const char *prefix, vdb_meta_scan_fn fn, void *arg)
{
    meta_local *m = h;
    if (!fn)
        return vdb_set_errmsg(VDB_EINVAL, "meta scan: callback is NULL");
    if (!prefix)
        prefix = "";
    size_t plen = strlen(prefix);
    vdb_buf b = {0};
    pthread_mutex_lock(&m->mu);
    for (size_t i = lower_bound(m, prefix); i < m->count; i++) {
        const entry *e = &m->ents[i];
        if (strncmp(e->key, prefix, plen) != 0)
            break;
        vdb_buf_put(&b, e->key, e->klen + 1);
        vdb_buf_u64(&b, e->vlen);
        vdb_buf_put(&b, entry_val(e), e->vlen + 1);
    }
    pthread_mutex_unlock(&m->mu);
    if (b.oom) {
        vdb_buf_free(&b);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory scanning meta prefix %s", prefix);
    }
    size_t off = 0;
    while (off < b.len) {
        const char *key = (const char *)b.p + off;
        off += strlen(key) + 1;
        uint64_t vlen = vdb_get_u64(b.p + off);
        off += 8;
        const uint8_t *val = b.p + off;
        off += vlen + 1;
        if (fn(arg, key, val, (size_t)vlen))
            break;
    }
    vdb_buf_free(&b);
    return VDB_OK;
}

const vdb_meta_backend vdb_meta_local_backend = {
    .version = VDB_META_BACKEND_VERSION,
    .scheme = "local",
    .open = meta_open,
    .close = meta_close,
    .get = meta_get,
    .put = meta_put,
    .del = meta_del,
    .scan = meta_scan,
    .txn = meta_txn,
};

/* The local meta backend (local://<folder>): a sorted in-memory key-value map made durable by
 * a checksummed transaction log, compacted into a snapshot when the log outgrows the data.
 *
 * What survives what. Every file is kept twice: two snapshots (meta-a.snap, meta-b.snap: the
 * two roots, as SQLite and LMDB keep two) and two copies of the log of the current generation
 * (meta-<G>-a.log, meta-<G>-b.log), written alike. A transaction is one record written to
 * both copies and synced in both before it is acknowledged, so one damaged, truncated or
 * deleted file (or one bad record) is repaired from its twin at the next open: each copy is
 * the other's high-water mark. A clean close also writes meta.hwm, the sequence the log had
 * reached, so a log that both copies lost the end of is caught too. Damage no copy can make
 * good is VDB_ECORRUPT naming the file, never a quietly shorter map.
 *
 * Snapshot: u32 magic "VDMS", u32 version 2, u64 generation, u64 sequence of the first record
 * of that generation's log, u64 entry count, per entry key (u32 length + bytes) and value
 * (u64 length + bytes) in key order, u32 crc32c of everything before it.
 * Log: a 32-byte header (u32 magic "VDML", u32 version 2, u64 generation, u64 first sequence,
 * u32 0, u32 crc32c of the 28 bytes before), then records: u32 payload length, u64 sequence,
 * u32 crc32c of those 12 bytes, u32 crc32c of the payload seeded with that one, the payload
 * (u32 op count; per op a kind byte, the key as u32 length + bytes, for a put the value as
 * u64 length + bytes). Sequences run on across generations without a gap.
 * meta.hwm: u32 magic "VDMH", u32 version 2, u64 next sequence at the last clean close, u32
 * crc32c. A bound only: missing (never closed cleanly) or damaged, it bounds nothing.
 *
 * The rule for one copy of the log, read from its header on: the copy ends cleanly at its
 * end of file; it ends in a torn tail when fewer than a record header's bytes are left, when
 * an intact header announces more bytes than the file holds, or when every byte left is zero
 * (a write whose size landed before its data); it ends in damage otherwise: a header failing
 * its checksum, a sequence out of turn, a payload failing its checksum. The copies are then
 * merged record by record (both valid copies of a record must agree). A copy that stops
 * early, for any reason, is made good by its twin. Where the merged log ends (the last record
 * either copy holds intact), what follows in a copy is cut if its twin ends there too,
 * cleanly or torn: acknowledgement waits for both copies, so it was never acknowledged (a
 * torn tail, or a last record complete but bad in one copy: a crash between the two writes,
 * counted as torn tails; other bytes: counted as repaired). Otherwise damage there is
 * VDB_ECORRUPT, as is a merged log that ends before meta.hwm. Cases it cannot tell apart:
 * after a crash (no newer meta.hwm), both copies cut at one record boundary, or zeroed from
 * one record on, read as a log that ended there.
 * Whatever open repaired or cut is counted and described (vdb_meta_local_recovery_get) and
 * said in one line on stderr, and
 * the store is then rewritten as the next generation, so no damaged file is left behind.
 *
 * Generations: a compaction creates both logs of generation G+1 (empty, durable), replaces
 * meta-a.snap then meta-b.snap atomically with generation G+1, then drops the logs of G.
 * Open takes the valid snapshot of the highest generation and trusts only its logs, so a
 * crash at any step leaves a consistent pair. Generation 1 is only ever the fresh, empty
 * store: no snapshot but logs of generation 1 without records is a creation that crashed
 * (created again); no snapshot beside any other log, or beside a meta.hwm past the first
 * sequence, is VDB_ECORRUPT; a folder without any of these files is a new store.
 *
 * Format 1 (meta.snap and meta-<G>.log, one copy each, records with no sequence) is read
 * once and upgraded to format 2 on open: a bad record before the end is VDB_ECORRUPT, an
 * incomplete one at the end is cut (and counted); its records carry no header checksum, so a
 * damaged length in the last record cannot be told from a torn write there. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/storage.h"
#include "util/sysio.h"

#define SNAP_MAGIC 0x534d4456u /* "VDMS" */
#define HWM_MAGIC 0x484d4456u  /* "VDMH" */
#define LOG_MAGIC 0x4c4d4456u  /* "VDML" */
#define FORMAT_VERSION 2u
#define LOG_HEADER 32u /* magic, version, generation, first sequence, 0, crc32c */
#define REC_HEADER 20u /* payload length, sequence, header crc32c, payload crc32c */
#define V1_VERSION 1u
#define V1_LOG_HEADER 16u /* magic, version, generation */
#define V1_REC_HEADER 8u  /* payload length, crc32c of the payload */
#define COPIES 2
#define MAX_KEY 4096u
#define MAX_VALUE (64u << 20)
#define COMPACT_MIN_LOG (4u << 20)
#define ENTRY_OVERHEAD 16u /* what one entry costs in a snapshot beside its bytes */

static const char copy_name[COPIES] = {'a', 'b'};

/* One key and its value in one allocation: key, NUL, value, NUL. */
typedef struct entry {
    char *key;
    size_t klen, vlen;
} entry;

static inline const uint8_t *entry_val(const entry *e) { return (const uint8_t *)e->key + e->klen + 1; }

typedef struct meta_local {
    pthread_mutex_t mu;
    char *dir;
    char *snap_path[COPIES];
    char *log_path[COPIES]; /* the two copies of the log of the current generation */
    char *hwm_path;
    int lock_fd;
    int log_fd[COPIES];
    uint64_t gen;
    uint64_t next_seq; /* the sequence the next record gets */
    uint64_t log_size; /* of each copy */
    entry *ents; /* sorted by key, strcmp order (bytes as unsigned) */
    size_t count, cap;
    uint64_t live_bytes;
    char *broken; /* set when the files' state is uncertain: every write then fails */
    vdb_meta_local_recovery rec; /* what the open repaired or cut */
    bool opened;                 /* open succeeded: close records the high-water mark */
    bool read_only;              /* opt->read_only: a reader's snapshot (load_read_only) */
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

static char *snap_path(const meta_local *m, int c)
{
    char name[32];
    snprintf(name, sizeof name, "meta-%c.snap", copy_name[c]);
    return vdb_path_join(m->dir, name);
}

static char *log_path(const meta_local *m, uint64_t gen, int c)
{
    char name[64];
    snprintf(name, sizeof name, "meta-%" PRIu64 "-%c.log", gen, copy_name[c]);
    return vdb_path_join(m->dir, name);
}

/* Adds a sentence to what the open reports (vdb_meta_local_recovery). */
static void note(meta_local *m, const char *fmt, ...) VDB_PRINTF_LIKE(2, 3);
static void note(meta_local *m, const char *fmt, ...)
{
    char *s = m->rec.note;
    size_t used = strlen(s), cap = sizeof m->rec.note;
    if (used + 3 >= cap)
        return;
    if (used) {
        memcpy(s + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s + used, cap - used, fmt, ap);
    va_end(ap);
}

static vdb_status pwrite_all(int fd, const void *p, size_t n, uint64_t off, const char *path)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = vdb_sys_pwrite(fd, b, n, (off_t)off);
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

static void close_logs(int fd[COPIES], char *path[COPIES], bool remove)
{
    for (int c = 0; c < COPIES; c++) {
        if (fd[c] >= 0)
            close(fd[c]);
        fd[c] = -1;
        if (remove && path[c])
            unlink(path[c]);
        vdb_free(path[c]);
        path[c] = NULL;
    }
}

/* Creates (or empties) both copies of the log of gen, whose first record will have sequence
 * first, with just their header, durably; fd and path get them open. */
static vdb_status log_create(meta_local *m, uint64_t gen, uint64_t first, int fd[COPIES],
                             char *path[COPIES])
{
    uint8_t h[LOG_HEADER];
    vdb_put_u32(h, LOG_MAGIC);
    vdb_put_u32(h + 4, FORMAT_VERSION);
    vdb_put_u64(h + 8, gen);
    vdb_put_u64(h + 16, first);
    vdb_put_u32(h + 24, 0);
    vdb_put_u32(h + 28, vdb_crc32c(0, h, 28));
    vdb_status st = VDB_OK;
    for (int c = 0; c < COPIES; c++) {
        fd[c] = -1;
        path[c] = log_path(m, gen, c);
    }
    for (int c = 0; c < COPIES && st == VDB_OK; c++) {
        if (!path[c]) {
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            break;
        }
        fd[c] = vdb_sys_open(path[c], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd[c] < 0) {
            st = vdb_set_errmsg(VDB_EIO, "create %s: %s", path[c], strerror(errno));
            break;
        }
        st = pwrite_all(fd[c], h, sizeof h, 0, path[c]);
        if (st == VDB_OK && vdb_sys_fdatasync(fd[c]) != 0)
            st = vdb_set_errmsg(VDB_EIO, "fdatasync %s: %s", path[c], strerror(errno));
    }
    if (st == VDB_OK)
        st = vdb_fsync_dir(m->dir);
    if (st != VDB_OK)
        close_logs(fd, path, true);
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

/* Appends one record (its first REC_HEADER bytes are room for the header) to both copies,
 * durably. A failed write is cut back off so the copies stay well framed and alike; a failed
 * fdatasync leaves the files' state unknown, so the store refuses further writes. */
static vdb_status log_append(meta_local *m, vdb_buf *rec)
{
    uint8_t *p = rec->p;
    uint32_t n = (uint32_t)(rec->len - REC_HEADER);
    vdb_put_u32(p, n);
    vdb_put_u64(p + 4, m->next_seq);
    uint32_t hcrc = vdb_crc32c(0, p, 12);
    vdb_put_u32(p + 12, hcrc);
    vdb_put_u32(p + 16, vdb_crc32c(hcrc, p + REC_HEADER, n));
    for (int c = 0; c < COPIES; c++) {
        vdb_status st = pwrite_all(m->log_fd[c], p, rec->len, m->log_size, m->log_path[c]);
        if (st != VDB_OK) {
            for (int k = 0; k <= c; k++)
                if (vdb_sys_ftruncate(m->log_fd[k], (off_t)m->log_size) != 0)
                    m->broken = m->broken ? m->broken
                                          : vdb_strdup("the meta log could not be cut back "
                                                       "after a failed write");
            return st;
        }
    }
    for (int c = 0; c < COPIES; c++) {
        if (vdb_sys_fdatasync(m->log_fd[c]) != 0) {
            int e = errno;
            if (!m->broken)
                m->broken = vdb_strdup("fdatasync of the meta log failed");
            return vdb_set_errmsg(VDB_EIO, "fdatasync %s: %s", m->log_path[c], strerror(e));
        }
    }
    m->log_size += rec->len;
    m->next_seq++;
    return VDB_OK;
}

/* ---- snapshots and generations ---- */

static vdb_status snapshot_encode(const meta_local *m, uint64_t gen, vdb_buf *b)
{
    vdb_buf_u32(b, SNAP_MAGIC);
    vdb_buf_u32(b, FORMAT_VERSION);
    vdb_buf_u64(b, gen);
    vdb_buf_u64(b, m->next_seq);
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

/* Writes the map as generation next: both logs, then both snapshots, then drops the logs
 * of the generation before (if open). Used by compaction, by the repair after an open that
 * found damage, by the upgrade from format 1 and to create a fresh store. */
static vdb_status write_generation(meta_local *m, uint64_t next)
{
    vdb_buf b = {0};
    int fd[COPIES] = {-1, -1};
    char *path[COPIES] = {NULL, NULL};
    vdb_status st = snapshot_encode(m, next, &b);
    if (st == VDB_OK)
        st = log_create(m, next, m->next_seq, fd, path);
    if (st != VDB_OK) {
        vdb_buf_free(&b);
        return st;
    }
    for (int c = 0; c < COPIES; c++) {
        st = vdb_file_write_atomic(m->snap_path[c], b.p, b.len);
        if (st != VDB_OK) {
            /* The rename may or may not have happened (a failed folder fsync comes after
             * it), so neither log is known to be the one a reopen will read. */
            m->broken = vdb_strdup("a snapshot rewrite failed");
            close_logs(fd, path, false);
            vdb_buf_free(&b);
            return st;
        }
    }
    vdb_buf_free(&b);
    close_logs(m->log_fd, m->log_path, true);
    for (int c = 0; c < COPIES; c++) {
        m->log_fd[c] = fd[c];
        m->log_path[c] = path[c];
    }
    m->gen = next;
    m->log_size = LOG_HEADER;
    return VDB_OK;
}

/* Loads an encoded snapshot's entries (r past the header and the count) into the map. */
static vdb_status entries_load(meta_local *m, vdb_rd *r, uint64_t count, const char *path)
{
    for (uint64_t i = 0; i < count && !r->err; i++) {
        uint32_t klen = vdb_rd_u32(r);
        const char *key = vdb_rd_take(r, klen);
        size_t vlen;
        const void *val = vdb_rd_bytes(r, &vlen);
        if (r->err || klen == 0 || klen > MAX_KEY || memchr(key, 0, klen))
            break;
        if (m->count && key_cmp(m->ents[m->count - 1].key, m->ents[m->count - 1].klen, key,
                                klen) >= 0) {
            r->err = true; /* snapshots are written in key order, so a repeat means damage */
            break;
        }
        char *blob = blob_new(key, klen, val, vlen);
        if (!blob || !reserve(m, 1)) {
            vdb_free(blob);
            return vdb_set_errmsg(VDB_ENOMEM, "out of memory loading %s", path);
        }
        m->ents[m->count++] = (entry){blob, klen, vlen};
        m->live_bytes += klen + vlen + ENTRY_OVERHEAD;
    }
    if (r->err || r->off != r->len)
        return vdb_set_errmsg(VDB_ECORRUPT, "%s: malformed entries", path);
    return VDB_OK;
}

typedef enum { SNAP_MISSING, SNAP_BAD, SNAP_GOOD } snap_state;

typedef struct snap_file {
    snap_state state;
    void *data;
    size_t len;
    uint64_t gen, first_seq, count;
    char why[160];
} snap_file;

/* Reads and checks one snapshot copy. Only a read error or a version newer than ours fail;
 * damage is reported in s->state and s->why. */
static vdb_status snap_read(const char *path, snap_file *s)
{
    *s = (snap_file){.state = SNAP_MISSING};
    vdb_status st = vdb_file_read(path, &s->data, &s->len);
    if (st == VDB_ENOTFOUND) {
        snprintf(s->why, sizeof s->why, "missing");
        return VDB_OK;
    }
    if (st != VDB_OK)
        return st;
    s->state = SNAP_BAD;
    const uint8_t *d = s->data;
    if (s->len < 36 || vdb_get_u32(d) != SNAP_MAGIC) {
        snprintf(s->why, sizeof s->why, "not a meta snapshot (%zu bytes)", s->len);
        return VDB_OK;
    }
    if (vdb_crc32c(0, d, s->len - 4) != vdb_get_u32(d + s->len - 4)) {
        snprintf(s->why, sizeof s->why, "checksum mismatch");
        return VDB_OK;
    }
    uint32_t ver = vdb_get_u32(d + 4);
    if (ver != FORMAT_VERSION)
        return vdb_set_errmsg(VDB_EVERSION, "%s: format version %u is not supported (this "
                              "libvdb reads %u)", path, ver, FORMAT_VERSION);
    s->gen = vdb_get_u64(d + 8);
    s->first_seq = vdb_get_u64(d + 16);
    s->count = vdb_get_u64(d + 24);
    if (s->gen < 1 || s->first_seq < 1) {
        snprintf(s->why, sizeof s->why, "generation %" PRIu64 ", sequence %" PRIu64
                 " out of range", s->gen, s->first_seq);
        return VDB_OK;
    }
    s->state = SNAP_GOOD;
    return VDB_OK;
}

/* ---- reading one copy of the log ---- */

typedef enum { STOP_END, STOP_TORN, STOP_DAMAGE_LAST, STOP_DAMAGE } stop_kind;

typedef struct rec_ref {
    size_t off; /* of the payload */
    uint32_t len;
} rec_ref;

typedef struct log_copy {
    bool usable; /* present with a good header */
    uint8_t *data;
    size_t len;
    rec_ref *recs;
    size_t n, cap;
    stop_kind stop;
    size_t stop_off;
    char why[160]; /* what is wrong with the copy, if anything */
} log_copy;

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Reads one copy of the log of gen (first record: sequence first) and walks its records by
 * the rule at the top of this file. Only a read error or running out of memory fail. */
static vdb_status log_copy_read(const char *path, uint64_t gen, uint64_t first, log_copy *l)
{
    *l = (log_copy){0};
    void *data = NULL;
    vdb_status st = vdb_file_read(path, &data, &l->len);
    if (st == VDB_ENOTFOUND) {
        snprintf(l->why, sizeof l->why, "missing");
        return VDB_OK;
    }
    if (st != VDB_OK)
        return st;
    l->data = data;
    const uint8_t *d = l->data;
    if (l->len < LOG_HEADER || vdb_get_u32(d) != LOG_MAGIC ||
        vdb_crc32c(0, d, 28) != vdb_get_u32(d + 28)) {
        snprintf(l->why, sizeof l->why, "bad header (%zu bytes)", l->len);
        return VDB_OK;
    }
    if (vdb_get_u32(d + 4) != FORMAT_VERSION || vdb_get_u64(d + 8) != gen ||
        vdb_get_u64(d + 16) != first) {
        snprintf(l->why, sizeof l->why, "header says version %u, generation %" PRIu64
                 ", first sequence %" PRIu64 "; expected %u, %" PRIu64 ", %" PRIu64,
                 vdb_get_u32(d + 4), vdb_get_u64(d + 8), vdb_get_u64(d + 16), FORMAT_VERSION,
                 gen, first);
        return VDB_OK;
    }
    l->usable = true;
    size_t off = LOG_HEADER;
    for (;;) {
        size_t rem = l->len - off;
        l->stop_off = off;
        if (rem == 0) {
            l->stop = STOP_END;
            break;
        }
        if (rem < REC_HEADER || all_zero(d + off, rem)) {
            l->stop = STOP_TORN;
            snprintf(l->why, sizeof l->why, "torn tail of %zu bytes at offset %zu", rem, off);
            break;
        }
        uint32_t n = vdb_get_u32(d + off);
        uint64_t seq = vdb_get_u64(d + off + 4);
        uint32_t hcrc = vdb_get_u32(d + off + 12);
        l->stop = STOP_DAMAGE;
        if (vdb_crc32c(0, d + off, 12) != hcrc) {
            snprintf(l->why, sizeof l->why, "record header checksum mismatch at offset %zu",
                     off);
            break;
        }
        if (seq != first + l->n) {
            snprintf(l->why, sizeof l->why, "record at offset %zu has sequence %" PRIu64
                     ", expected %" PRIu64, off, seq, first + l->n);
            break;
        }
        if (n < 4) {
            snprintf(l->why, sizeof l->why, "record at offset %zu of %u bytes", off, n);
            break;
        }
        if (n > rem - REC_HEADER) {
            l->stop = STOP_TORN;
            snprintf(l->why, sizeof l->why, "torn tail: record at offset %zu of %u bytes, "
                     "%zu in the file", off, n, rem - REC_HEADER);
            break;
        }
        if (vdb_crc32c(hcrc, d + off + REC_HEADER, n) != vdb_get_u32(d + off + 16)) {
            l->stop = n == rem - REC_HEADER ? STOP_DAMAGE_LAST : STOP_DAMAGE;
            snprintf(l->why, sizeof l->why, "record checksum mismatch at offset %zu", off);
            break;
        }
        if (l->n == l->cap) {
            size_t cap = l->cap ? 2 * l->cap : 64;
            rec_ref *r = vdb_realloc(l->recs, cap * sizeof *r);
            if (!r)
                return vdb_set_errmsg(VDB_ENOMEM, "out of memory reading %s", path);
            l->recs = r;
            l->cap = cap;
        }
        l->recs[l->n++] = (rec_ref){off + REC_HEADER, n};
        off += REC_HEADER + n;
    }
    return VDB_OK;
}

static void log_copy_free(log_copy *l)
{
    vdb_free(l->data);
    vdb_free(l->recs);
}

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

/* Replays the two copies of the log of m->gen into the map by the rule at the top of this
 * file. *repair is set when the files must be rewritten (a copy damaged, missing, short, or
 * a torn tail cut); otherwise both copies are left open for appends. */
static vdb_status log_replay(meta_local *m, bool *repair)
{
    log_copy l[COPIES] = {{0}};
    char *path[COPIES] = {NULL, NULL};
    vdb_status st = VDB_OK;
    for (int c = 0; c < COPIES && st == VDB_OK; c++) {
        path[c] = log_path(m, m->gen, c);
        st = path[c] ? log_copy_read(path[c], m->gen, m->next_seq, &l[c])
                     : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    if (st != VDB_OK)
        goto done;
    if (!l[0].usable && !l[1].usable) {
        st = vdb_set_errmsg(VDB_ECORRUPT, "the meta log of generation %" PRIu64 " is lost "
                            "in both copies: %s: %s; %s: %s", m->gen, path[0], l[0].why,
                            path[1], l[1].why);
        goto done;
    }
    size_t total = 0;
    for (int c = 0; c < COPIES; c++)
        if (l[c].usable)
            total = VDB_MAX(total, l[c].n);
    bool cut = false;
    for (int c = 0; c < COPIES; c++) {
        log_copy *x = &l[c], *y = &l[1 - c];
        if (!x->usable) {
            note(m, "%s: %s, repaired from its twin", path[c], x->why);
            m->rec.repaired++;
            *repair = true;
            continue;
        }
        if (x->n < total) {
            if (x->stop != STOP_END || x->n + 1 < total) {
                note(m, "%s: %s, repaired from its twin", path[c],
                     x->stop == STOP_END ? "records missing at its end" : x->why);
                m->rec.repaired++;
            } else {
                /* what a crash between the two writes leaves, or a cut: not counted */
                note(m, "%s: one record shorter than its twin, rewritten", path[c]);
            }
            *repair = true;
            continue;
        }
        /* x stops where the merged log ends. A twin that ends there too, cleanly or torn,
         * shows that nothing after it was ever acknowledged. */
        bool twin_clean = y->usable && y->n == total &&
                          (y->stop == STOP_END || y->stop == STOP_TORN);
        if (x->stop == STOP_DAMAGE && twin_clean) {
            note(m, "%s: %s, past the end of its twin: dropped (never acknowledged)", path[c],
                 x->why);
            m->rec.repaired++;
            *repair = true;
            continue;
        }
        if (x->stop == STOP_DAMAGE || (x->stop == STOP_DAMAGE_LAST && !twin_clean)) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "%s: %s (sequence %" PRIu64 "), and its twin "
                                "%s cannot make it good (%s)", path[c], x->why,
                                m->next_seq + x->n, path[1 - c],
                                !y->usable ? y->why
                                : y->n <= x->n ? (y->stop == STOP_END ? "it ends there" : y->why)
                                               : "it is damaged too");
            goto done;
        }
        if (x->stop != STOP_END) {
            /* a torn tail, or a last record complete but bad while its twin ends cleanly
             * there: a crash before the record was in both copies, so never acknowledged */
            note(m, "%s: %s: cut (never acknowledged)", path[c], x->why);
            cut = true;
            *repair = true;
        }
    }
    m->rec.torn_cut += cut; /* one tail, whether in one copy or both */
    for (size_t i = 0; i < total; i++) {
        const rec_ref *r[COPIES];
        for (int c = 0; c < COPIES; c++)
            r[c] = l[c].usable && i < l[c].n ? &l[c].recs[i] : NULL;
        if (r[0] && r[1] &&
            (r[0]->len != r[1]->len ||
             memcmp(l[0].data + r[0]->off, l[1].data + r[1]->off, r[0]->len) != 0)) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "%s and %s hold different records of sequence "
                                "%" PRIu64 " (offsets %zu and %zu)", path[0], path[1],
                                m->next_seq + i, r[0]->off - REC_HEADER,
                                r[1]->off - REC_HEADER);
            goto done;
        }
        int c = r[0] ? 0 : 1;
        st = apply_record(m, l[c].data + r[c]->off, r[c]->len, path[c], r[c]->off - REC_HEADER);
        if (st != VDB_OK)
            goto done;
    }
    m->next_seq += total;
    if (*repair)
        goto done;
    for (int c = 0; c < COPIES; c++) {
        m->log_fd[c] = vdb_sys_open(path[c], O_RDWR | O_CLOEXEC, 0);
        if (m->log_fd[c] < 0) {
            st = vdb_set_errmsg(VDB_EIO, "open %s: %s", path[c], strerror(errno));
            goto done;
        }
        m->log_path[c] = path[c];
        path[c] = NULL;
    }
    m->log_size = l[0].len;
done:
    for (int c = 0; c < COPIES; c++) {
        log_copy_free(&l[c]);
        vdb_free(path[c]);
    }
    return st;
}

/* ---- format 1 ---- */

static char *v1_path(const meta_local *m, const char *name) { return vdb_path_join(m->dir, name); }

/* Whether the folder holds files of format 1 (meta.snap or meta-<G>.log). */
static bool v1_present(const meta_local *m)
{
    DIR *d = opendir(m->dir);
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        uint64_t g;
        int used = 0;
        found = strcmp(e->d_name, "meta.snap") == 0 ||
                (sscanf(e->d_name, "meta-%" SCNu64 ".log%n", &g, &used) == 1 &&
                 e->d_name[used] == 0);
    }
    closedir(d);
    return found;
}

/* Reads a store of format 1 into the map and rewrites it as format 2 (the files of format 1
 * are removed after the open, with the other leftovers). */
static vdb_status v1_upgrade(meta_local *m)
{
    char *snap = v1_path(m, "meta.snap");
    char *log = NULL;
    void *data = NULL;
    size_t len = 0;
    uint64_t gen = 0;
    bool have_snap = false;
    if (!snap)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    vdb_status st = vdb_file_read(snap, &data, &len);
    if (st == VDB_OK) {
        have_snap = true;
        if (len < 28 || vdb_get_u32(data) != SNAP_MAGIC) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "%s is not a meta snapshot", snap);
            goto done;
        }
        if (vdb_crc32c(0, data, len - 4) != vdb_get_u32((uint8_t *)data + len - 4)) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "%s: checksum mismatch", snap);
            goto done;
        }
        vdb_rd r = vdb_rd_init(data, len - 4);
        vdb_rd_u32(&r);
        uint32_t ver = vdb_rd_u32(&r);
        if (ver != V1_VERSION) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "%s: format version %u where only version 1 "
                                "uses that name", snap, ver);
            goto done;
        }
        gen = vdb_rd_u64(&r);
        st = entries_load(m, &r, vdb_rd_u64(&r), snap);
        if (st != VDB_OK)
            goto done;
    } else if (st != VDB_ENOTFOUND) {
        goto done;
    }
    vdb_free(data);
    data = NULL;
    char name[64];
    snprintf(name, sizeof name, "meta-%" PRIu64 ".log", gen);
    log = v1_path(m, name);
    if (!log) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto done;
    }
    st = vdb_file_read(log, &data, &len);
    if (st == VDB_ENOTFOUND || (st == VDB_OK && len < V1_LOG_HEADER)) {
        /* A store of format 1 created its log at its first open; a short one is a crash
         * before its header was durable, which only a store never written can have. */
        if (have_snap || st == VDB_ENOTFOUND) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "%s (format 1) is %s", log,
                                st == VDB_ENOTFOUND ? "missing" : "shorter than its header");
            goto done;
        }
        st = VDB_OK;
        len = 0;
    } else if (st != VDB_OK) {
        goto done;
    }
    const uint8_t *d = data;
    if (len && (vdb_get_u32(d) != LOG_MAGIC || vdb_get_u32(d + 4) != V1_VERSION ||
                vdb_get_u64(d + 8) != gen)) {
        st = vdb_set_errmsg(VDB_ECORRUPT, "%s: bad header (expected format 1, generation "
                            "%" PRIu64 ")", log, gen);
        goto done;
    }
    size_t off = V1_LOG_HEADER;
    while (len && off < len) {
        size_t rem = len - off;
        uint32_t n = rem >= V1_REC_HEADER ? vdb_get_u32(d + off) : 0;
        if (rem < V1_REC_HEADER || n > rem - V1_REC_HEADER || all_zero(d + off, rem)) {
            note(m, "%s: torn tail of %zu bytes at offset %zu cut", log, rem, off);
            m->rec.torn_cut++;
            break;
        }
        if (n < 4 || vdb_crc32c(0, d + off + V1_REC_HEADER, n) != vdb_get_u32(d + off + 4)) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "%s: record checksum mismatch at offset %zu",
                                log, off);
            goto done;
        }
        st = apply_record(m, d + off + V1_REC_HEADER, n, log, off);
        if (st != VDB_OK)
            goto done;
        off += V1_REC_HEADER + n;
    }
    m->next_seq = 1;
    /* generation 1 is the fresh store's, so the upgraded one starts past it */
    st = write_generation(m, gen + 2);
    if (st == VDB_OK) {
        m->rec.upgraded = true;
        note(m, "%s: format 1 upgraded to format %u", m->dir, FORMAT_VERSION);
    }
done:
    vdb_free(data);
    vdb_free(snap);
    vdb_free(log);
    return st;
}

/* ---- the high-water mark ---- */

/* meta.hwm: u32 magic "VDMH", u32 version 2, u64 the sequence the next record would have had
 * at the last clean close, u32 crc32c of the 16 bytes before. Written at close; a bound only
 * (a store that never closed cleanly has none), so a damaged one is noted and rewritten. */
static uint64_t hwm_read(meta_local *m)
{
    void *data = NULL;
    size_t len = 0;
    vdb_status st = vdb_file_read(m->hwm_path, &data, &len);
    if (st == VDB_ENOTFOUND)
        return 0;
    const uint8_t *d = data;
    uint64_t seq = 0;
    if (st != VDB_OK || len != 20 || vdb_get_u32(d) != HWM_MAGIC ||
        vdb_get_u32(d + 4) != FORMAT_VERSION || vdb_crc32c(0, d, 16) != vdb_get_u32(d + 16)) {
        note(m, "%s: unreadable or damaged (%zu bytes), ignored and rewritten at close",
             m->hwm_path, len);
        m->rec.repaired++;
    } else {
        seq = vdb_get_u64(d + 8);
    }
    vdb_free(data);
    return seq;
}

static void hwm_write(meta_local *m)
{
    uint8_t h[20];
    vdb_put_u32(h, HWM_MAGIC);
    vdb_put_u32(h + 4, FORMAT_VERSION);
    vdb_put_u64(h + 8, m->next_seq);
    vdb_put_u32(h + 16, vdb_crc32c(0, h, 16));
    if (vdb_file_write_atomic(m->hwm_path, h, sizeof h) != VDB_OK)
        vdb_err_clear(); /* close cannot fail; the bound stays the older, lower one */
}

/* ---- open ---- */

/* With no snapshot: VDB_OK when the folder may be taken as a new store (no log, or only
 * the record-less logs of generation 1 a crashed creation leaves); else VDB_ECORRUPT. */
static vdb_status check_unrooted_logs(meta_local *m)
{
    uint64_t hwm = hwm_read(m);
    if (hwm > 1)
        return vdb_set_errmsg(VDB_ECORRUPT, "%s/meta-a.snap and meta-b.snap are missing but "
                              "%s says the store was closed at sequence %" PRIu64, m->dir,
                              m->hwm_path, hwm);
    DIR *d = opendir(m->dir);
    if (!d)
        return VDB_OK;
    vdb_status st = VDB_OK;
    struct dirent *e;
    while (st == VDB_OK && (e = readdir(d))) {
        uint64_t g;
        char c;
        int used = 0;
        if (sscanf(e->d_name, "meta-%" SCNu64 "-%c.log%n", &g, &c, &used) != 2 ||
            e->d_name[used] != 0)
            continue;
        char *p = vdb_path_join(m->dir, e->d_name);
        struct stat sb;
        if (!p)
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        else if (stat(p, &sb) == 0 && (g != 1 || sb.st_size > LOG_HEADER))
            st = vdb_set_errmsg(VDB_ECORRUPT, "%s/meta-a.snap and meta-b.snap are missing "
                                "but %s holds %s", m->dir, p,
                                g != 1 ? "a later generation" : "records");
        vdb_free(p);
    }
    closedir(d);
    return st;
}

/* Loads the snapshot and the log (or creates, upgrades, repairs) into m. */
static vdb_status load(meta_local *m)
{
    snap_file s[COPIES];
    vdb_status st = VDB_OK;
    bool repair = false;
    int n = 0;
    for (; n < COPIES && st == VDB_OK; n++)
        st = snap_read(m->snap_path[n], &s[n]);
    if (st != VDB_OK)
        goto done;
    if (s[0].state == SNAP_MISSING && s[1].state == SNAP_MISSING) {
        if (v1_present(m))
            st = v1_upgrade(m);
        else if ((st = check_unrooted_logs(m)) == VDB_OK) {
            m->next_seq = 1;
            st = write_generation(m, 1);
        }
        goto done;
    }
    int pick = -1;
    for (int c = 0; c < COPIES; c++)
        if (s[c].state == SNAP_GOOD && (pick < 0 || s[c].gen > s[pick].gen))
            pick = c;
    if (pick < 0) {
        st = vdb_set_errmsg(VDB_ECORRUPT, "both meta snapshots are lost: %s: %s; %s: %s",
                            m->snap_path[0], s[0].why, m->snap_path[1], s[1].why);
        goto done;
    }
    snap_file *p = &s[pick], *o = &s[1 - pick];
    if (o->state != SNAP_GOOD) {
        note(m, "%s: %s, repaired from its twin", m->snap_path[1 - pick], o->why);
        m->rec.repaired++;
        repair = true;
    } else if (o->gen != p->gen) {
        repair = true; /* a compaction that stopped between the two snapshots */
    }
    m->gen = p->gen;
    m->next_seq = p->first_seq;
    vdb_rd r = vdb_rd_init((uint8_t *)p->data + 32, p->len - 36);
    st = entries_load(m, &r, p->count, m->snap_path[pick]);
    if (st == VDB_OK)
        st = log_replay(m, &repair);
    uint64_t hwm = st == VDB_OK ? hwm_read(m) : 0;
    if (st == VDB_OK && m->next_seq < hwm) {
        /* checked before any repair, which would make the cut durable */
        char *a = log_path(m, m->gen, 0), *b = log_path(m, m->gen, 1);
        st = vdb_set_errmsg(VDB_ECORRUPT, "%s and %s end before sequence %" PRIu64 ", but "
                            "the store was closed at sequence %" PRIu64 " (%s): records are "
                            "lost", a ? a : "meta log", b ? b : "its twin", m->next_seq, hwm,
                            m->hwm_path);
        vdb_free(a);
        vdb_free(b);
    }
    if (st == VDB_OK && repair)
        st = write_generation(m, m->gen + 1);
done:
    for (int c = 0; c < n; c++)
        vdb_free(s[c].data);
    return st;
}

/* A read_only instance: a reader process's snapshot of a store a writer elsewhere may be
 * changing. Nothing is locked, repaired, cut or written. It takes the snapshot of the highest
 * generation and the records both copies of its log hold intact and alike, which are the
 * acknowledged ones (a record is acknowledged once it is in both) except perhaps the very
 * last, which the writer is between acknowledging and returning. A copy missing, a header
 * not of that generation, or copies that disagree is what a writer's compaction (or a
 * record being written) looks like from outside: VDB_ECONFLICT, and the caller reads again.
 * A store that was never created is VDB_ENOTFOUND. */
static vdb_status load_read_only(meta_local *m)
{
    snap_file s[COPIES];
    log_copy l[COPIES] = {{0}};
    char *path[COPIES] = {NULL, NULL};
    vdb_status st = VDB_OK;
    int n = 0, pick = -1;
    for (; n < COPIES && st == VDB_OK; n++)
        st = snap_read(m->snap_path[n], &s[n]);
    if (st != VDB_OK)
        goto done;
    for (int c = 0; c < COPIES; c++)
        if (s[c].state == SNAP_GOOD && (pick < 0 || s[c].gen > s[pick].gen))
            pick = c;
    if (pick < 0) {
        st = s[0].state == SNAP_MISSING && s[1].state == SNAP_MISSING
                 ? vdb_set_errmsg(VDB_ENOTFOUND, "meta store %s holds no snapshot (a reader "
                                  "needs a store a writer has created)", m->dir)
                 : vdb_set_errmsg(VDB_ECONFLICT, "meta store %s: no good snapshot: %s: %s; "
                                  "%s: %s", m->dir, m->snap_path[0], s[0].why,
                                  m->snap_path[1], s[1].why);
        goto done;
    }
    m->gen = s[pick].gen;
    m->next_seq = s[pick].first_seq;
    vdb_rd r = vdb_rd_init((uint8_t *)s[pick].data + 32, s[pick].len - 36);
    st = entries_load(m, &r, s[pick].count, m->snap_path[pick]);
    for (int c = 0; c < COPIES && st == VDB_OK; c++) {
        path[c] = log_path(m, m->gen, c);
        st = path[c] ? log_copy_read(path[c], m->gen, m->next_seq, &l[c])
                     : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        if (st == VDB_OK && !l[c].usable)
            st = vdb_set_errmsg(VDB_ECONFLICT, "%s: %s (read while the writer changes it?)",
                                path[c], l[c].why);
    }
    size_t total = VDB_MIN(l[0].n, l[1].n);
    for (size_t i = 0; i < total && st == VDB_OK; i++) {
        const rec_ref *a = &l[0].recs[i], *b = &l[1].recs[i];
        if (a->len != b->len || memcmp(l[0].data + a->off, l[1].data + b->off, a->len) != 0)
            st = vdb_set_errmsg(VDB_ECONFLICT, "%s and %s differ at sequence %" PRIu64,
                                path[0], path[1], m->next_seq + i);
        else
            st = apply_record(m, l[0].data + a->off, a->len, path[0], a->off - REC_HEADER);
    }
    if (st == VDB_OK)
        m->next_seq += total;
done:
    for (int c = 0; c < COPIES; c++) {
        log_copy_free(&l[c]);
        vdb_free(path[c]);
    }
    for (int c = 0; c < n; c++)
        vdb_free(s[c].data);
    return st;
}

/* Empties the map (a read_only load that is tried again). */
static void map_clear(meta_local *m)
{
    for (size_t i = 0; i < m->count; i++)
        vdb_free(m->ents[i].key);
    m->count = 0;
    m->live_bytes = 0;
}

/* A read_only open: load_read_only until it reads a steady state (a writer's compaction
 * takes a few file operations; 200 tries 1 ms apart outlast it). */
static vdb_status open_read_only(meta_local *m)
{
    vdb_status st = VDB_ECONFLICT;
    for (int tries = 0; tries < 200 && st == VDB_ECONFLICT; tries++) {
        if (tries) {
            map_clear(m);
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
        st = load_read_only(m);
    }
    if (st == VDB_ECONFLICT)
        st = vdb_set_errmsg(VDB_EIO, "meta store %s did not hold still long enough to be read "
                            "(read_only): %s", m->dir, vdb_err_get());
    return st;
}

void vdb_meta_local_position(void *h, uint64_t *gen, uint64_t *next_seq)
{
    const meta_local *m = h;
    *gen = m->gen;
    *next_seq = m->next_seq;
}

/* Removes logs of other generations, files of format 1 and temporary snapshot files left
 * by a crash. Only called once both snapshots of format 2 are in place. */
static void remove_leftovers(meta_local *m)
{
    DIR *d = opendir(m->dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t g;
        char c;
        int used = 0, used1 = 0;
        bool stale_log = sscanf(e->d_name, "meta-%" SCNu64 "-%c.log%n", &g, &c, &used) == 2 &&
                         e->d_name[used] == 0 && g != m->gen;
        bool v1_log = sscanf(e->d_name, "meta-%" SCNu64 ".log%n", &g, &used1) == 1 &&
                      e->d_name[used1] == 0;
        if (stale_log || v1_log || strcmp(e->d_name, "meta.snap") == 0 ||
            strstr(e->d_name, ".snap.tmp.")) {
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
    if (m->opened && !m->broken && !m->read_only)
        hwm_write(m);
    close_logs(m->log_fd, m->log_path, false);
    if (m->lock_fd >= 0)
        close(m->lock_fd);
    for (size_t i = 0; i < m->count; i++)
        vdb_free(m->ents[i].key);
    vdb_free(m->ents);
    vdb_free(m->dir);
    for (int c = 0; c < COPIES; c++)
        vdb_free(m->snap_path[c]);
    vdb_free(m->broken);
    vdb_free(m->hwm_path);
    pthread_mutex_destroy(&m->mu);
    vdb_free(m);
}

void vdb_meta_local_recovery_get(void *h, vdb_meta_local_recovery *out)
{
    const meta_local *m = h;
    *out = m->rec;
}

static vdb_status meta_open(const char *uri, const vdb_backend_options *opt, void **out)
{
    static const char scheme[] = "local://";
    if (!uri || strncmp(uri, scheme, sizeof scheme - 1) != 0 || !uri[sizeof scheme - 1])
        return vdb_set_errmsg(VDB_EINVAL, "meta URI %s is not local://<folder>",
                              uri ? uri : "(null)");
    meta_local *m = vdb_calloc(1, sizeof *m);
    if (!m)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    m->log_fd[0] = m->log_fd[1] = m->lock_fd = -1;
    pthread_mutex_init(&m->mu, NULL);
    vdb_status st = VDB_OK;
    char *lock_path = NULL;
    m->dir = vdb_strdup(uri + sizeof scheme - 1);
    for (int c = 0; c < COPIES && m->dir; c++)
        m->snap_path[c] = snap_path(m, c);
    lock_path = m->dir ? vdb_path_join(m->dir, "meta.lock") : NULL;
    m->hwm_path = m->dir ? vdb_path_join(m->dir, "meta.hwm") : NULL;
    if (!m->snap_path[0] || !m->snap_path[1] || !lock_path || !m->hwm_path) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto fail;
    }
    if (opt && opt->read_only) {
        m->read_only = true;
        st = open_read_only(m);
        if (st != VDB_OK)
            goto fail;
        m->opened = true;
        vdb_free(lock_path);
        *out = m;
        return VDB_OK;
    }
    st = vdb_mkdirs(m->dir);
    if (st != VDB_OK)
        goto fail;
    m->lock_fd = vdb_sys_open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
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
    st = load(m);
    if (st != VDB_OK)
        goto fail;
    if (m->broken) {
        st = vdb_set_errmsg(VDB_EIO, "meta store %s: %s", m->dir, m->broken);
        goto fail;
    }
    remove_leftovers(m);
    /* Said, like the WAL's torn tails: a repair or a cut is never silent. */
    if (m->rec.note[0])
        fprintf(stderr, "vdb: meta: %s: %s\n", m->dir, m->rec.note);
    m->opened = true;
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
    static const uint8_t room[REC_HEADER];
    vdb_buf_put(&rec, room, sizeof room); /* room for the record header */
    encode_ops(&rec, ops, n);
    if (rec.oom) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory encoding a meta txn");
        goto fail;
    }

    pthread_mutex_lock(&m->mu);
    if (m->read_only) {
        st = vdb_set_errmsg(VDB_EREADONLY, "meta store %s is open read_only (a reader "
                            "process): it writes nothing", m->dir);
        goto unlock;
    }
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
        vdb_status cst = write_generation(m, m->gen + 1);
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

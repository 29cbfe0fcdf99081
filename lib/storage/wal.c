/* The local write-ahead log backend (wal://<folder>): channels as folders of segment files,
 * group commit of concurrent appends, recovery of a channel's torn tail, read, truncate, drop.
 * Subscriptions and read_only instances are in wal_tail.c; the writer keeps them informed
 * through each channel's tail_cv (this process) and commit marker (other processes). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/storage.h"
#include "storage/wal_internal.h"
#include "util/sysio.h"

#define CHANNEL_MAX 128
#define DEFAULT_INTERVAL_MS 100

static uint64_t segment_bytes = WAL_DEFAULT_SEGMENT_BYTES; /* accessed atomically */

void vdb_wal_set_segment_bytes(uint64_t bytes)
{
    __atomic_store_n(&segment_bytes, bytes ? bytes : WAL_DEFAULT_SEGMENT_BYTES,
                     __ATOMIC_SEQ_CST);
}

uint64_t vdb_wal_segment_bytes(void) { return __atomic_load_n(&segment_bytes, __ATOMIC_SEQ_CST); }

/* ---- names ---------------------------------------------------------------------------------- */

vdb_status wal_check_channel(const char *name)
{
    if (!name)
        return vdb_set_errmsg(VDB_EINVAL, "wal: channel name is NULL");
    size_t n = strlen(name);
    if (n == 0 || n > CHANNEL_MAX)
        return vdb_set_errmsg(VDB_EINVAL, "wal: channel name must have 1..%d characters",
                              CHANNEL_MAX);
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
        if (!ok)
            return vdb_set_errmsg(VDB_EINVAL,
                                  "wal: channel name \"%s\" may only use A-Z a-z 0-9 _ . -",
                                  name);
    }
    /* They fit the alphabet but name the WAL folder itself or its parent. */
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        return vdb_set_errmsg(VDB_EINVAL, "wal: channel name \"%s\" is reserved", name);
    return VDB_OK;
}

static vdb_status seg_path(const chan *c, uint64_t first, char **out)
{
    char name[WAL_SEG_NAME_LEN + 1];
    wal_seg_name(name, first);
    *out = vdb_path_join(c->dir, name);
    if (!*out)
        return vdb_set_errmsg(VDB_ENOMEM, "wal: out of memory");
    return VDB_OK;
}

static int retry_fsync(int fd, bool data_only)
{
    int rc;
    do
        rc = data_only ? vdb_sys_fdatasync(fd) : vdb_sys_fsync(fd);
    while (rc != 0 && errno == EINTR);
    return rc;
}

/* ---- the channel table ------------------------------------------------------------------- */

static void chan_free(chan *c)
{
    if (c->fd >= 0)
        close(c->fd);
    wal_mark_close(&c->mark);
    pthread_cond_destroy(&c->tail_cv);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    vdb_free(c->segs);
    vdb_free(c->cur_path);
    vdb_free(c->iov);
    vdb_free(c->name);
    vdb_free(c->dir);
    vdb_free(c);
}

static chan *chan_new(wal *w, const char *name)
{
    chan *c = vdb_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = -1;
    c->mark = WAL_MARK_NONE;
    c->next_pos = 1;
    c->name = vdb_strdup(name);
    c->dir = vdb_path_join(w->root, name);
    if (!c->name || !c->dir)
        goto fail;
    if (pthread_mutex_init(&c->mu, NULL) != 0)
        goto fail;
    if (pthread_cond_init(&c->cv, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        goto fail;
    }
    /* subscriptions wait on it with a deadline: the monotonic clock, as the rest of the WAL */
    pthread_condattr_t ca;
    bool tail_cv = pthread_condattr_init(&ca) == 0;
    if (tail_cv) {
        tail_cv = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
                  pthread_cond_init(&c->tail_cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!tail_cv) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        goto fail;
    }
    return c;
fail:
    vdb_free(c->name);
    vdb_free(c->dir);
    vdb_free(c);
    return NULL;
}

static vdb_status table_grow(wal *w)
{
    size_t nb = w->nbuckets * 2;
    chan **b = vdb_calloc(nb, sizeof *b);
    if (!b)
        return vdb_set_errmsg(VDB_ENOMEM, "wal: out of memory");
    for (size_t i = 0; i < w->nbuckets; i++) {
        chan *c = w->buckets[i];
        while (c) {
            chan *next = c->hnext;
            size_t h = vdb_hash_bytes(c->name, strlen(c->name), 0) & (nb - 1);
            c->hnext = b[h];
            b[h] = c;
            c = next;
        }
    }
    vdb_free(w->buckets);
    w->buckets = b;
    w->nbuckets = nb;
    return VDB_OK;
}

/* The channel named name, made (not yet opened) on first use. Channels live until close. */
vdb_status wal_get_chan(wal *w, const char *name, chan **out)
{
    vdb_status st = VDB_OK;
    size_t len = strlen(name);
    pthread_mutex_lock(&w->mu);
    size_t h = vdb_hash_bytes(name, len, 0) & (w->nbuckets - 1);
    for (chan *c = w->buckets[h]; c; c = c->hnext) {
        if (!strcmp(c->name, name)) {
            *out = c;
            goto done;
        }
    }
    if (w->nchans >= w->nbuckets) {
        st = table_grow(w);
        if (st != VDB_OK)
            goto done;
        h = vdb_hash_bytes(name, len, 0) & (w->nbuckets - 1);
    }
    chan *c = chan_new(w, name);
    if (!c) {
        st = vdb_set_errmsg(VDB_ENOMEM, "wal: out of memory opening channel %s", name);
        goto done;
    }
    c->hnext = w->buckets[h];
    w->buckets[h] = c;
    w->nchans++;
    *out = c;
done:
    pthread_mutex_unlock(&w->mu);
    return st;
}

/* ---- opening a channel: list its files and cut a torn tail off the last one ------------ */

/* What the channel must hold, from the bounds the last writer left in the marker (durable:
 * every position below it was acknowledged and synced; low: the first file truncate kept):
 * every record in [low, durable). A channel that lacks one is VDB_ECORRUPT naming the file
 * that should hold it; so positions never start over below what was acknowledged. The scan
 * found files segs[0..n) and records up to next (exclusive). */
static vdb_status check_bounds(const chan *c, const uint64_t *segs, size_t n, uint64_t next,
                               uint64_t durable, uint64_t low)
{
    if (low == 0)
        low = 1;
    if (durable <= low)
        return VDB_OK;
    char name[WAL_SEG_NAME_LEN + 1];
    if (n == 0 || segs[0] > low) {
        wal_seg_name(name, low);
        return vdb_set_errmsg(VDB_ECORRUPT,
                              "wal: channel %s: %s/%s is missing: %s records positions "
                              "%llu..%llu as written, and the channel's files start at %s",
                              c->name, c->dir, name, WAL_MARK_NAME, (unsigned long long)low,
                              (unsigned long long)(durable - 1),
                              n ? "a later position" : "nothing (no segment files)");
    }
    if (next < durable) {
        wal_seg_name(name, segs[n - 1]);
        return vdb_set_errmsg(VDB_ECORRUPT,
                              "wal: channel %s: %s/%s ends at position %llu, but %s records "
                              "positions up to %llu as written (the file was truncated, or a "
                              "later file removed)",
                              c->name, c->dir, name, (unsigned long long)(next - 1),
                              WAL_MARK_NAME, (unsigned long long)(durable - 1));
    }
    return VDB_OK;
}

vdb_status wal_chan_open_locked(wal *w, chan *c)
{
    if (c->opened)
        return VDB_OK;
    uint64_t *segs = NULL;
    size_t n = 0;
    char *path = NULL;
    int fd = -1;
    wal_seg_reader r = {0};
    uint64_t durable = 0, low = 0;
    bool bounded = wal_mark_peek_bounds(c->dir, &durable, &low);
    vdb_status st = wal_seg_list(c->dir, &segs, &n);
    if (st != VDB_OK)
        goto fail;
    uint64_t next = 1, tail = 0, cut = 0;
    if (n > 0) {
        uint64_t first = segs[n - 1];
        st = seg_path(c, first, &path);
        if (st != VDB_OK)
            goto fail;
        fd = vdb_sys_open(path, O_RDWR | O_CLOEXEC, 0);
        if (fd < 0) {
            st = vdb_set_errmsg(VDB_EIO, "wal: open %s: %s", path, strerror(errno));
            goto fail;
        }
        struct stat sb;
        if (fstat(fd, &sb) != 0) {
            st = vdb_set_errmsg(VDB_EIO, "wal: stat %s: %s", path, strerror(errno));
            goto fail;
        }
        wal_seg_reader_reset(&r, fd, path, (uint64_t)sb.st_size, first);
        for (;;) {
            wal_frame_kind kind;
            uint64_t pos;
            const void *rec;
            size_t len;
            const char *why;
            st = wal_seg_next(&r, &kind, &pos, &rec, &len, &why);
            if (st != VDB_OK)
                goto fail;
            if (kind == WAL_FRAME_REC)
                continue;
            if (kind == WAL_FRAME_END)
                break;
            /* A bad frame after the last good one: a torn write is cut, damage is refused
             * (the rule is in wal_seg.c). */
            if (wal_seg_valid_frame_after(&r)) {
                st = vdb_set_errmsg(VDB_ECORRUPT, "wal: channel %s: %s is corrupt at offset "
                                    "%llu (%s) with valid records after it; refusing to "
                                    "drop them", c->name, path, (unsigned long long)r.off, why);
                goto fail;
            }
            if (bounded && r.expect < durable) {
                st = vdb_set_errmsg(VDB_ECORRUPT, "wal: channel %s: %s is corrupt at offset "
                                    "%llu (%s): position %llu there was acknowledged (%s "
                                    "records positions up to %llu as written)", c->name, path,
                                    (unsigned long long)r.off, why,
                                    (unsigned long long)r.expect, WAL_MARK_NAME,
                                    (unsigned long long)(durable - 1));
                goto fail;
            }
            bool torn;
            if ((st = wal_seg_bad_is_torn(&r, &torn)) != VDB_OK)
                goto fail;
            if (!torn) {
                st = vdb_set_errmsg(VDB_ECORRUPT, "wal: channel %s: %s is corrupt at offset "
                                    "%llu: the frame of position %llu is all there but wrong "
                                    "(%s), which a torn write does not leave", c->name, path,
                                    (unsigned long long)r.off, (unsigned long long)r.expect,
                                    why);
                goto fail;
            }
            /* Never acknowledged: an append returns only after its frame is whole. Reads
             * stop before it; the file is cut before the next append (commit), so that an
             * open the core refuses for other reasons leaves the file as it found it. */
            cut = (uint64_t)sb.st_size - r.off;
            fprintf(stderr, "vdb: wal: channel %s: cut a torn tail of %llu bytes at offset "
                    "%llu of %s (%s; a write that was never acknowledged)\n", c->name,
                    (unsigned long long)cut, (unsigned long long)r.off, path, why);
            break;
        }
        next = r.expect;
        tail = r.off;
        wal_seg_reader_free(&r);
        /* What the scan found is made durable before the marker's bounds say so. */
        if (retry_fsync(fd, false) != 0) {
            st = vdb_set_errmsg(VDB_EIO, "wal: fsync %s: %s", path, strerror(errno));
            goto fail;
        }
    }
    if (bounded && (st = check_bounds(c, segs, n, next, durable, low)) != VDB_OK)
        goto fail;
    if (n > 0) {
        /* Readers in other processes follow the channel through its marker, from now on at
         * the position found here (what a crashed writer had written past it is gone). */
        if (!c->mark.page && (st = wal_mark_create(c->dir, next, &c->mark)) != VDB_OK)
            goto fail;
        wal_mark_publish(&c->mark, next);
        wal_mark_set_bounds(&c->mark, next, segs[0]);
    }
    vdb_free(c->segs);
    c->segs = segs;
    c->nsegs = c->segcap = n;
    c->fd = fd;
    vdb_free(c->cur_path);
    c->cur_path = path;
    c->tail_off = tail;
    c->next_pos = next;
    c->durable = next;
    c->low = n > 0 ? segs[0] : 1;
    if (cut)
        c->torn_tails++;
    c->cut_pending = cut != 0;
    c->opened = true;
    return VDB_OK;
fail:
    wal_seg_reader_free(&r);
    if (fd >= 0)
        close(fd);
    vdb_free(path);
    vdb_free(segs);
    return st;
}

/* ---- the write path (leader only) -------------------------------------------------------- */

/* Hands the thread's current error message to every waiter from x on. */
static void fail_from(waiter *x, vdb_status st)
{
    const char *m = vdb_err_get();
    for (; x; x = x->next) {
        x->st = st;
        snprintf(x->msg, sizeof x->msg, "%s", m);
    }
}

/* Starts a new segment file whose first record is at first, and makes it the one appended to. */
static vdb_status roll(wal *w, chan *c, uint64_t first)
{
    char *path = NULL;
    int fd = -1;
    vdb_status st = seg_path(c, first, &path);
    if (st != VDB_OK)
        goto fail;
    pthread_mutex_lock(&c->mu);
    size_t nsegs = c->nsegs;
    if (c->nsegs == c->segcap) {
        size_t cap = c->segcap ? c->segcap * 2 : 8;
        uint64_t *s = vdb_realloc(c->segs, cap * sizeof *s);
        if (s) {
            c->segs = s;
            c->segcap = cap;
        }
    }
    bool room = c->nsegs < c->segcap;
    pthread_mutex_unlock(&c->mu);
    if (!room) {
        st = vdb_set_errmsg(VDB_ENOMEM, "wal: out of memory rolling %s", c->dir);
        goto fail;
    }
    if (nsegs == 0) {
        st = vdb_mkdirs(c->dir);
        if (st != VDB_OK)
            goto fail;
        if (w->sync != VDB_SYNC_OFF && (st = vdb_fsync_dir(w->root)) != VDB_OK)
            goto fail;
        if (!c->mark.page && (st = wal_mark_create(c->dir, first, &c->mark)) != VDB_OK)
            goto fail;
        pthread_mutex_lock(&c->mu);
        c->durable = c->low = first;
        wal_mark_set_bounds(&c->mark, first, first);
        pthread_mutex_unlock(&c->mu);
    }
    /* The background thread syncs only the newest file, so the old one is synced here. */
    if (c->fd >= 0 && w->sync == VDB_SYNC_BATCH && retry_fsync(c->fd, true) != 0) {
        st = vdb_set_errmsg(VDB_EIO, "wal: fdatasync %s: %s", c->cur_path, strerror(errno));
        goto fail;
    }
    /* O_TRUNC: a file of this name can only be left from a roll that failed, so it holds no
     * acknowledged record. */
    fd = vdb_sys_open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = vdb_set_errmsg(VDB_EIO, "wal: create %s: %s", path, strerror(errno));
        goto fail;
    }
    if (w->sync != VDB_SYNC_OFF && (st = vdb_fsync_dir(c->dir)) != VDB_OK) {
        close(fd);
        fd = -1;
        unlink(path);
        goto fail;
    }
    pthread_mutex_lock(&c->mu);
    int old = c->fd;
    char *old_path = c->cur_path;
    c->fd = fd;
    c->cur_path = path;
    c->tail_off = 0;
    c->segs[c->nsegs++] = first;
    pthread_mutex_unlock(&c->mu);
    if (old >= 0)
        close(old);
    vdb_free(old_path);
    return VDB_OK;
fail:
    vdb_free(path);
    return st;
}

/* Writes one run of frames at the tail of the current file. On failure the file is cut back to
 * the last good frame so that the next append does not leave garbage before its record. */
static vdb_status write_run(wal *w, chan *c, size_t iovn, uint64_t bytes, uint64_t end_pos)
{
    vdb_status st = wal_io_write(w->io, c->fd, c->tail_off, c->iov, iovn,
                                 w->sync == VDB_SYNC_FULL, c->cur_path);
    if (st == VDB_OK) {
        pthread_mutex_lock(&c->mu);
        c->tail_off += bytes;
        c->next_pos = end_pos;
        if (w->sync == VDB_SYNC_BATCH)
            c->dirty = true;
        if (w->sync == VDB_SYNC_FULL) { /* the write was synced with it */
            c->durable = end_pos;
            wal_mark_set_bounds(&c->mark, c->durable, c->low);
        }
        pthread_cond_broadcast(&c->tail_cv);
        pthread_mutex_unlock(&c->mu);
        /* After the write (and its fdatasync in FULL mode): readers elsewhere see the frames
         * only once they are whole and acknowledged. */
        wal_mark_publish(&c->mark, end_pos);
        return VDB_OK;
    }
    char msg[512];
    snprintf(msg, sizeof msg, "%s", vdb_err_get());
    if (vdb_sys_ftruncate(c->fd, (off_t)c->tail_off) != 0 ||
        (w->sync != VDB_SYNC_OFF && retry_fsync(c->fd, false) != 0)) {
        int e = errno;
        pthread_mutex_lock(&c->mu);
        c->broken = true;
        snprintf(c->broken_msg, sizeof c->broken_msg,
                 "wal: channel %s refuses appends: after a failed write, cutting %s back to "
                 "offset %llu failed: %s (reopen the WAL to recover)",
                 c->name, c->cur_path, (unsigned long long)c->tail_off, strerror(e));
        pthread_mutex_unlock(&c->mu);
    }
    return vdb_set_errmsg(st, "%s", msg);
}

static vdb_status reserve_iov(chan *c, size_t n)
{
    if (n <= c->iovcap)
        return VDB_OK;
    size_t cap = VDB_MAX(n, c->iovcap * 2);
    struct iovec *v = vdb_realloc(c->iov, cap * sizeof *v);
    if (!v)
        return vdb_set_errmsg(VDB_ENOMEM, "wal: out of memory for %zu iovecs", cap);
    c->iov = v;
    c->iovcap = cap;
    return VDB_OK;
}

/* Writes a batch of queued appends: one write (and one fdatasync) per run of frames that
 * fits in the current segment file. Sets each waiter's pos or error. */
static void commit(wal *w, chan *c, waiter *batch)
{
    size_t n = 0;
    for (waiter *x = batch; x; x = x->next)
        n++;
    vdb_status st = reserve_iov(c, 2 * n);
    if (st != VDB_OK)
        goto fail_all;
    pthread_mutex_lock(&c->mu);
    bool broken = c->broken;
    pthread_mutex_unlock(&c->mu);
    if (broken) {
        st = vdb_set_errmsg(VDB_EIO, "%s", c->broken_msg);
        goto fail_all;
    }
    /* The torn tail the open found goes before anything is written after it. */
    if (c->cut_pending) {
        if (vdb_sys_ftruncate(c->fd, (off_t)c->tail_off) != 0 || retry_fsync(c->fd, false) != 0) {
            st = vdb_set_errmsg(VDB_EIO, "wal: cut the torn tail of %s at %llu: %s",
                                c->cur_path, (unsigned long long)c->tail_off, strerror(errno));
            goto fail_all;
        }
        c->cut_pending = false;
    }
    waiter *run = batch;
    size_t iovn = 0;
    uint64_t bytes = 0, pos = c->next_pos;
    for (waiter *x = batch; x; x = x->next) {
        uint64_t frame = WAL_FRAME_HEADER + (uint64_t)x->len;
        uint64_t used = c->tail_off + bytes;
        if (c->fd < 0 || (used > 0 && used + frame > w->seg_bytes)) {
            if (iovn > 0 && (st = write_run(w, c, iovn, bytes, pos)) != VDB_OK) {
                fail_from(run, st);
                return;
            }
            if ((st = roll(w, c, pos)) != VDB_OK) {
                fail_from(x, st);
                return;
            }
            run = x;
            iovn = 0;
            bytes = 0;
        }
        wal_frame_header(x->hdr, pos, x->rec, x->len);
        x->pos = pos++;
        x->st = VDB_OK;
        c->iov[iovn++] = (struct iovec){x->hdr, WAL_FRAME_HEADER};
        if (x->len)
            c->iov[iovn++] = (struct iovec){(void *)x->rec, x->len};
        bytes += frame;
    }
    if ((st = write_run(w, c, iovn, bytes, pos)) != VDB_OK)
        fail_from(run, st);
    return;
fail_all:
    fail_from(batch, st);
}

/* ---- the vtable ------------------------------------------------------------------------------ */

/* The channel that append, truncate or drop (what) changes: a valid name, and an instance
 * that may write. */
static vdb_status writer_chan(wal *w, const char *channel, const char *what, chan **c)
{
    vdb_status st = wal_check_channel(channel);
    if (st != VDB_OK)
        return st;
    if (w->read_only)
        return vdb_set_errmsg(VDB_EINVAL, "wal %s: %s refused: this instance was opened "
                              "read_only", w->root, what);
    return wal_get_chan(w, channel, c);
}

vdb_status wal_append(void *log, const char *channel, const void *rec, size_t len, uint64_t *pos)
{
    wal *w = log;
    if (len > WAL_MAX_RECORD)
        return vdb_set_errmsg(VDB_EINVAL, "wal: record of %zu bytes is over the 1 GiB limit",
                              len);
    if (!rec && len)
        return vdb_set_errmsg(VDB_EINVAL, "wal: record is NULL");
    if (!pos)
        return vdb_set_errmsg(VDB_EINVAL, "wal: pos is NULL");
    chan *c;
    vdb_status st = writer_chan(w, channel, "append", &c);
    if (st != VDB_OK)
        return st;
    waiter me = {.rec = rec, .len = len};
    pthread_mutex_lock(&c->mu);
    if ((st = wal_chan_open_locked(w, c)) != VDB_OK)
        goto unlock;
    if (c->sync_errno) {
        st = vdb_set_errmsg(VDB_EIO, "wal: a background fdatasync of channel %s failed: %s",
                            c->name, strerror(c->sync_errno));
        c->sync_errno = 0;
        goto unlock;
    }
    if (c->pending_tail)
        c->pending_tail->next = &me;
    else
        c->pending = &me;
    c->pending_tail = &me;
    /* Group commit: whoever finds no leader writes everything queued so far, while the rest
     * wait; appends that arrive during that write form the next batch. */
    while (!me.done) {
        if (c->leader) {
            pthread_cond_wait(&c->cv, &c->mu);
            continue;
        }
        c->leader = true;
        waiter *batch = c->pending;
        c->pending = c->pending_tail = NULL;
        pthread_mutex_unlock(&c->mu);
        commit(w, c, batch);
        pthread_mutex_lock(&c->mu);
        c->leader = false;
        for (waiter *x = batch, *next; x; x = next) {
            next = x->next;
            x->done = true;
        }
        pthread_cond_broadcast(&c->cv);
    }
    st = me.st;
unlock:
    pthread_mutex_unlock(&c->mu);
    if (st != VDB_OK) {
        if (me.done)
            vdb_set_errmsg(st, "%s", me.msg);
        return st;
    }
    *pos = me.pos;
    return VDB_OK;
}

static bool still_listed(chan *c, uint64_t first)
{
    bool found = false;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nsegs && !found; i++)
        found = c->segs[i] == first;
    pthread_mutex_unlock(&c->mu);
    return found;
}

vdb_status wal_read(void *log, const char *channel, uint64_t from, vdb_log_read_fn fn,
                    void *arg)
{
    wal *w = log;
    vdb_status st = wal_check_channel(channel);
    if (st != VDB_OK)
        return st;
    if (!fn)
        return vdb_set_errmsg(VDB_EINVAL, "wal: read callback is NULL");
    chan *c;
    if ((st = wal_get_chan(w, channel, &c)) != VDB_OK)
        return st;
    uint64_t *segs = NULL;
    size_t n = 0;
    uint64_t tail = 0;
    char *path = NULL;
    int fd = -1;
    wal_seg_reader r = {0};
    /* A snapshot: the files and the end of the last one as they stand now. Later appends are
     * not read, and a frame being written is never seen half done. */
    pthread_mutex_lock(&c->mu);
    st = wal_chan_open_locked(w, c);
    if (st == VDB_OK && c->nsegs > 0) {
        segs = vdb_malloc(c->nsegs * sizeof *segs);
        if (segs) {
            n = c->nsegs;
            memcpy(segs, c->segs, n * sizeof *segs);
            tail = c->tail_off;
        } else {
            st = vdb_set_errmsg(VDB_ENOMEM, "wal: out of memory reading %s", channel);
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (st != VDB_OK || n == 0)
        goto done;
    size_t start = 0;
    while (start + 1 < n && segs[start + 1] <= from)
        start++;
    bool stop = false;
    for (size_t i = start; i < n && !stop; i++) {
        if ((st = seg_path(c, segs[i], &path)) != VDB_OK)
            goto done;
        fd = vdb_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0) {
            int e = errno;
            /* truncate or drop removed it since the snapshot: those records may go. */
            if (e == ENOENT && !still_listed(c, segs[i])) {
                vdb_free(path);
                path = NULL;
                continue;
            }
            st = vdb_set_errmsg(e == ENOENT ? VDB_ECORRUPT : VDB_EIO, "wal: open %s: %s", path,
                                strerror(e));
            goto done;
        }
        uint64_t limit = tail;
        if (i + 1 < n) {
            struct stat sb;
            if (fstat(fd, &sb) != 0) {
                st = vdb_set_errmsg(VDB_EIO, "wal: stat %s: %s", path, strerror(errno));
                goto done;
            }
            limit = (uint64_t)sb.st_size;
        }
        wal_seg_reader_reset(&r, fd, path, limit, segs[i]);
        for (;;) {
            wal_frame_kind kind;
            uint64_t pos;
            const void *rec;
            size_t len;
            const char *why;
            if ((st = wal_seg_next(&r, &kind, &pos, &rec, &len, &why)) != VDB_OK)
                goto done;
            if (kind == WAL_FRAME_END)
                break;
            if (kind == WAL_FRAME_BAD) {
                st = vdb_set_errmsg(VDB_ECORRUPT, "wal: %s at offset %llu of %s", why,
                                    (unsigned long long)r.off, path);
                goto done;
            }
            if (pos >= from && fn(arg, pos, rec, len) != 0) {
                stop = true;
                break;
            }
        }
        if (!stop && i + 1 < n && r.expect != segs[i + 1]) {
            char name[WAL_SEG_NAME_LEN + 1];
            wal_seg_name(name, r.expect);
            st = vdb_set_errmsg(VDB_ECORRUPT,
                                "wal: %s/%s is missing: %s ends before position %llu but the "
                                "next file starts at %llu",
                                c->dir, name, path, (unsigned long long)r.expect,
                                (unsigned long long)segs[i + 1]);
            goto done;
        }
        close(fd);
        fd = -1;
        vdb_free(path);
        path = NULL;
    }
done:
    wal_seg_reader_free(&r);
    if (fd >= 0)
        close(fd);
    vdb_free(path);
    vdb_free(segs);
    return st;
}

vdb_status wal_truncate(void *log, const char *channel, uint64_t upto)
{
    wal *w = log;
    chan *c;
    vdb_status st = writer_chan(w, channel, "truncate", &c);
    if (st != VDB_OK)
        return st;
    uint64_t *gone = NULL;
    size_t k = 0;
    char *path = NULL;
    pthread_mutex_lock(&c->mu);
    st = wal_chan_open_locked(w, c);
    /* File i holds positions below segs[i + 1]; the last file is never removed. */
    while (st == VDB_OK && k + 1 < c->nsegs && c->segs[k + 1] <= upto)
        k++;
    if (k > 0) {
        gone = vdb_malloc(k * sizeof *gone);
        if (gone) {
            memcpy(gone, c->segs, k * sizeof *gone);
            memmove(c->segs, c->segs + k, (c->nsegs - k) * sizeof *c->segs);
            c->nsegs -= k;
            /* The marker learns first that the files before go (see check_bounds). */
            c->low = c->segs[0];
            wal_mark_set_bounds(&c->mark, c->durable, c->low);
            wal_mark_sync(&c->mark);
        } else {
            st = vdb_set_errmsg(VDB_ENOMEM, "wal: out of memory truncating %s", channel);
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (st != VDB_OK || k == 0)
        goto done;
    for (size_t i = 0; i < k; i++) {
        if ((st = seg_path(c, gone[i], &path)) != VDB_OK)
            goto done;
        if (unlink(path) != 0 && errno != ENOENT) {
            st = vdb_set_errmsg(VDB_EIO, "wal: remove %s: %s", path, strerror(errno));
            goto done;
        }
        vdb_free(path);
        path = NULL;
    }
    st = vdb_fsync_dir(c->dir);
done:
    vdb_free(path);
    vdb_free(gone);
    return st;
}

vdb_status wal_drop(void *log, const char *channel)
{
    wal *w = log;
    chan *c;
    vdb_status st = writer_chan(w, channel, "drop", &c);
    if (st != VDB_OK)
        return st;
    pthread_mutex_lock(&c->mu);
    while (c->leader || c->pending)
        pthread_cond_wait(&c->cv, &c->mu);
    /* Subscriptions end, here and in other processes, before the files go. */
    c->epoch++;
    pthread_cond_broadcast(&c->tail_cv);
    if (c->mark.page)
        wal_mark_set_dropped(&c->mark);
    wal_mark_close(&c->mark);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    vdb_free(c->cur_path);
    c->cur_path = NULL;
    c->nsegs = 0;
    c->tail_off = 0;
    c->next_pos = 1;
    c->durable = c->low = 1;
    c->cut_pending = false;
    c->dirty = false;
    c->sync_errno = 0;
    c->broken = false;
    /* The next use scans the folder afresh, so a failed removal is seen as it is on disk. */
    c->opened = false;
    /* Under the lock: an append must not recreate the folder while it is being removed. */
    st = vdb_remove_tree(c->dir);
    if (st == VDB_OK)
        st = vdb_fsync_dir(w->root);
    pthread_mutex_unlock(&c->mu);
    return st;
}

/* ---- background fdatasync (BATCH) ------------------------------------------------------- */

static void sync_all(wal *w)
{
    pthread_mutex_lock(&w->mu);
    size_t n = 0;
    chan **all = vdb_malloc((w->nchans ? w->nchans : 1) * sizeof *all);
    if (all) {
        for (size_t i = 0; i < w->nbuckets; i++)
            for (chan *c = w->buckets[i]; c; c = c->hnext)
                all[n++] = c;
    }
    pthread_mutex_unlock(&w->mu);
    /* Without memory this round is skipped; the next one tries again (dirty stays set). */
    for (size_t i = 0; i < n; i++) {
        chan *c = all[i];
        int fd = -1, err = 0;
        uint64_t upto = 0, epoch = 0;
        pthread_mutex_lock(&c->mu);
        if (c->dirty && c->fd >= 0) {
            /* Every record below next_pos is in this file or in older ones, which roll
             * synced. */
            upto = c->next_pos;
            epoch = c->epoch;
            /* A duplicate stays valid if the leader rolls to a new file meanwhile, and lets
             * the sync run without holding the channel lock. */
            fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
            if (fd < 0)
                c->sync_errno = errno;
            else
                c->dirty = false;
        }
        pthread_mutex_unlock(&c->mu);
        if (fd < 0)
            continue;
        if (retry_fsync(fd, true) != 0)
            err = errno;
        close(fd);
        pthread_mutex_lock(&c->mu);
        if (err) {
            c->sync_errno = err;
        } else if (c->epoch == epoch && upto > c->durable) {
            c->durable = upto;
            wal_mark_set_bounds(&c->mark, c->durable, c->low);
        }
        pthread_mutex_unlock(&c->mu);
    }
    vdb_free(all);
}

static void *bg_main(void *arg)
{
    wal *w = arg;
    pthread_mutex_lock(&w->bg_mu);
    while (!w->bg_stop) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        uint64_t ns = (uint64_t)t.tv_nsec + (uint64_t)w->interval_ms * 1000000u;
        t.tv_sec += (time_t)(ns / 1000000000u);
        t.tv_nsec = (long)(ns % 1000000000u);
        int rc = pthread_cond_timedwait(&w->bg_cv, &w->bg_mu, &t);
        if (w->bg_stop)
            break;
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&w->bg_mu);
            sync_all(w);
            pthread_mutex_lock(&w->bg_mu);
        }
    }
    pthread_mutex_unlock(&w->bg_mu);
    return NULL;
}

/* ---- open / close ---------------------------------------------------------------------------- */

void wal_close(void *log)
{
    wal *w = log;
    if (!w)
        return;
    if (w->bg_started) {
        pthread_mutex_lock(&w->bg_mu);
        w->bg_stop = true;
        pthread_cond_signal(&w->bg_cv);
        pthread_mutex_unlock(&w->bg_mu);
        pthread_join(w->bg, NULL);
    }
    for (size_t i = 0; i < w->nbuckets; i++) {
        chan *c = w->buckets[i];
        while (c) {
            chan *next = c->hnext;
            /* close() cannot return an error; the message is left for the caller's thread. */
            if (c->fd >= 0 && w->sync == VDB_SYNC_BATCH) {
                if (retry_fsync(c->fd, true) != 0) {
                    vdb_set_errmsg(VDB_EIO, "wal: final fdatasync of %s: %s", c->cur_path,
                                   strerror(errno));
                } else if (!c->sync_errno && c->next_pos > c->durable) {
                    c->durable = c->next_pos;
                    wal_mark_set_bounds(&c->mark, c->durable, c->low);
                }
            }
            /* The bounds reach the disk for the next open (under OFF they stay what the
             * last open or sync found). */
            if (w->sync != VDB_SYNC_OFF)
                wal_mark_sync(&c->mark);
            chan_free(c);
            c = next;
        }
    }
    vdb_free(w->buckets);
    wal_io_close(w->io);
    pthread_cond_destroy(&w->bg_cv);
    pthread_mutex_destroy(&w->bg_mu);
    pthread_mutex_destroy(&w->mu);
    vdb_free(w->root);
    vdb_free(w);
}

vdb_status wal_open(const char *uri, const vdb_backend_options *opt, void **out)
{
    static const char prefix[] = "wal://";
    if (!uri || !out)
        return vdb_set_errmsg(VDB_EINVAL, "wal: uri and out must not be NULL");
    if (strncmp(uri, prefix, sizeof prefix - 1) != 0 || !uri[sizeof prefix - 1])
        return vdb_set_errmsg(VDB_EINVAL, "wal: \"%s\" is not a wal://<folder> uri", uri);
    vdb_backend_options def = {.sync = VDB_SYNC_FULL, .sync_interval_ms = DEFAULT_INTERVAL_MS};
    if (!opt)
        opt = &def;
    if (opt->sync != VDB_SYNC_FULL && opt->sync != VDB_SYNC_BATCH && opt->sync != VDB_SYNC_OFF)
        return vdb_set_errmsg(VDB_EINVAL, "wal: unknown sync mode %d", (int)opt->sync);
    vdb_status st;
    wal *w = vdb_calloc(1, sizeof *w);
    if (!w)
        return vdb_set_errmsg(VDB_ENOMEM, "wal: out of memory");
    bool mu = false, bg_mu = false, bg_cv = false;
    w->sync = opt->sync;
    w->read_only = opt->read_only != 0;
    w->interval_ms = opt->sync_interval_ms ? opt->sync_interval_ms : DEFAULT_INTERVAL_MS;
    w->seg_bytes = vdb_wal_segment_bytes();
    w->root = vdb_strdup(uri + sizeof prefix - 1);
    w->nbuckets = 16;
    w->buckets = vdb_calloc(w->nbuckets, sizeof *w->buckets);
    if (!w->root || !w->buckets) {
        st = vdb_set_errmsg(VDB_ENOMEM, "wal: out of memory");
        goto fail;
    }
    if (!(mu = pthread_mutex_init(&w->mu, NULL) == 0) ||
        !(bg_mu = pthread_mutex_init(&w->bg_mu, NULL) == 0)) {
        st = vdb_set_errmsg(VDB_EIO, "wal: pthread_mutex_init failed");
        goto fail;
    }
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) {
        st = vdb_set_errmsg(VDB_EIO, "wal: pthread_condattr_init failed");
        goto fail;
    }
    bg_cv = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
            pthread_cond_init(&w->bg_cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!bg_cv) {
        st = vdb_set_errmsg(VDB_EIO, "wal: pthread_cond_init failed");
        goto fail;
    }
    /* A read_only instance creates nothing: the writer makes the folders as it goes. */
    if (!w->read_only && (st = vdb_mkdirs(w->root)) != VDB_OK)
        goto fail;
    if (!w->read_only && (st = wal_io_open(opt->disable_io_uring != 0, &w->io)) != VDB_OK)
        goto fail;
    if (w->sync == VDB_SYNC_BATCH && !w->read_only) {
        int rc = pthread_create(&w->bg, NULL, bg_main, w);
        if (rc != 0) {
            st = vdb_set_errmsg(VDB_EIO, "wal: start the sync thread: %s", strerror(rc));
            goto fail;
        }
        w->bg_started = true;
    }
    *out = w;
    return VDB_OK;
fail:
    wal_io_close(w->io);
    if (bg_cv)
        pthread_cond_destroy(&w->bg_cv);
    if (bg_mu)
        pthread_mutex_destroy(&w->bg_mu);
    if (mu)
        pthread_mutex_destroy(&w->mu);
    vdb_free(w->buckets);
    vdb_free(w->root);
    vdb_free(w);
    return st;
}

vdb_status vdb_wal_torn_tails(void *log, const char *channel, uint64_t *n)
{
    wal *w = log;
    *n = 0;
    vdb_status st = wal_check_channel(channel);
    if (st != VDB_OK || w->read_only)
        return st;
    chan *c;
    if ((st = wal_get_chan(w, channel, &c)) != VDB_OK)
        return st;
    pthread_mutex_lock(&c->mu);
    *n = c->torn_tails;
    pthread_mutex_unlock(&c->mu);
    return VDB_OK;
}

const char *vdb_wal_write_path(void *log)
{
    const wal *w = log;
    return w->io ? wal_io_name(w->io) : "none (read_only)";
}

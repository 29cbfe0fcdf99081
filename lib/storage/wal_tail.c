/* The WAL's subscriptions and read_only instances: a cursor that walks a channel's segment
 * files from a position and hands out every record below a committed bound, that bound coming
 * from the writer's channel state in this process (waited on with its tail_cv) or from the
 * channel's commit marker written by a writer in another process (waited on with a futex).
 * Nothing here writes to the channel's files. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/wal_internal.h"
#include "util/sysio.h"

/* A read_only subscriber looks again this often for a channel folder that does not exist yet,
 * and at least every recheck_ms for a marker the writer replaced. */
#define APPEAR_POLL_MS 20
#define DEFAULT_RECHECK_MS 1000

static uint32_t recheck_ms = DEFAULT_RECHECK_MS; /* accessed atomically */

void vdb_wal_set_follower_recheck_ms(uint32_t ms)
{
    __atomic_store_n(&recheck_ms, ms ? ms : DEFAULT_RECHECK_MS, __ATOMIC_RELAXED);
}

typedef struct wal_sub {
    wal *w;
    chan *c;          /* the writer instance's channel (channels live until close) */
    char *name;
    char *dir;        /* the channel's folder */
    uint64_t next;    /* the next position to hand out */
    uint64_t epoch;   /* c->epoch when subscribed: a drop since ends the subscription */
    wal_mark mark;    /* read_only: the writer's marker, once there is one */
    bool mark_live;   /* read_only: it was seen not dropped */
    int fd;           /* the segment file holding next, -1 until found */
    uint64_t first;   /* its first position */
    char *path;
    wal_seg_reader r; /* its frames, at r.expect */
} wal_sub;

/* ---- the cursor ------------------------------------------------------------------------------ */

static void cursor_close_file(wal_sub *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    vdb_free(s->path);
    s->path = NULL;
}

static vdb_status open_seg(wal_sub *s, uint64_t first, bool *gone)
{
    char name[WAL_SEG_NAME_LEN + 1];
    wal_seg_name(name, first);
    char *path = vdb_path_join(s->dir, name);
    if (!path)
        return vdb_set_errmsg(VDB_ENOMEM, "wal: out of memory");
    int fd = vdb_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        vdb_status st = VDB_OK;
        if (e == ENOENT)
            *gone = true;
        else
            st = vdb_set_errmsg(VDB_EIO, "wal: open %s: %s", path, strerror(e));
        vdb_free(path);
        return st;
    }
    *gone = false;
    cursor_close_file(s);
    s->fd = fd;
    s->path = path;
    s->first = first;
    wal_seg_reader_reset(&s->r, fd, path, 0, first); /* limit: refresh() */
    return VDB_OK;
}

/* Opens the file that holds position target: the last one starting at or before it, else the
 * first (the records before it were truncated). *none: the channel has no file at all. Files
 * can vanish meanwhile (truncate, drop), so the listing is retried. */
static vdb_status locate(wal_sub *s, uint64_t target, bool *none)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        uint64_t *segs;
        size_t n;
        vdb_status st = wal_seg_list(s->dir, &segs, &n);
        if (st != VDB_OK)
            return st;
        *none = n == 0;
        if (n == 0)
            return VDB_OK;
        size_t i = 0;
        while (i + 1 < n && segs[i + 1] <= target)
            i++;
        uint64_t first = segs[i];
        vdb_free(segs);
        bool gone;
        if ((st = open_seg(s, first, &gone)) != VDB_OK || !gone)
            return st;
    }
    return vdb_set_errmsg(VDB_EIO, "wal: channel %s: its files keep disappearing while read",
                          s->name);
}

/* Where the frames of the current file count up to: its size now. Called after the committed
 * bound was loaded, so every committed frame of the file is inside. The read window is
 * dropped: it may hold bytes read before they were committed. */
static vdb_status refresh(wal_sub *s)
{
    struct stat sb;
    if (fstat(s->fd, &sb) != 0)
        return vdb_set_errmsg(VDB_EIO, "wal: stat %s: %s", s->path, strerror(errno));
    s->r.limit = (uint64_t)sb.st_size;
    if (s->r.off > s->r.limit)
        return vdb_set_errmsg(VDB_ECORRUPT, "wal: %s shrank below offset %llu, where committed "
                              "records were read", s->path, (unsigned long long)s->r.off);
    s->r.win_len = 0;
    return VDB_OK;
}

/* The current file ended before record r.expect, which is committed: it is in the next file,
 * named by that position (or, if truncate removed it, in a later one). */
static vdb_status next_file(wal_sub *s)
{
    uint64_t want = s->r.expect, old = s->first;
    bool gone, none;
    vdb_status st = open_seg(s, want, &gone);
    if (st != VDB_OK || !gone)
        return st;
    if ((st = locate(s, want, &none)) != VDB_OK)
        return st;
    if (none || s->first <= old)
        return vdb_set_errmsg(VDB_ECORRUPT, "wal: channel %s: records from position %llu are "
                              "acknowledged but no file after %s holds them", s->name,
                              (unsigned long long)want, s->path ? s->path : s->dir);
    return VDB_OK;
}

/* Hands fn the records from s->next up to (not including) committed. *count: how many;
 * *stop: fn asked to stop; *none: the channel has no file (dropped meanwhile, or damaged). */
static vdb_status deliver(wal_sub *s, uint64_t committed, vdb_log_read_fn fn, void *arg,
                          size_t *count, bool *stop, bool *none)
{
    *count = 0;
    *stop = false;
    *none = false;
    bool fresh = false;
    vdb_status st;
    while (s->next < committed && !*stop) {
        if (s->fd < 0) {
            if ((st = locate(s, s->next, none)) != VDB_OK || *none)
                return st;
            fresh = false;
        }
        if (!fresh) {
            if ((st = refresh(s)) != VDB_OK)
                return st;
            fresh = true;
        }
        /* the file starts past next: the records in between were truncated away */
        if (s->r.expect > s->next)
            s->next = s->r.expect;
        if (s->r.expect >= committed)
            break;
        wal_frame_kind kind;
        uint64_t pos;
        const void *rec;
        size_t len;
        const char *why;
        if ((st = wal_seg_next(&s->r, &kind, &pos, &rec, &len, &why)) != VDB_OK)
            return st;
        if (kind == WAL_FRAME_REC) {
            if (pos >= s->next) {
                s->next = pos + 1;
                (*count)++;
                if (fn(arg, pos, rec, len) != 0)
                    *stop = true;
            }
            continue;
        }
        if (kind == WAL_FRAME_END) {
            if ((st = next_file(s)) != VDB_OK)
                return st;
            fresh = false;
            continue;
        }
        return vdb_set_errmsg(VDB_ECORRUPT, "wal: channel %s: acknowledged record %llu in %s at "
                              "offset %llu is damaged (%s)", s->name,
                              (unsigned long long)s->r.expect, s->path,
                              (unsigned long long)s->r.off, why);
    }
    return VDB_OK;
}

/* ---- time ------------------------------------------------------------------------------------ */

static uint64_t deadline_of(uint64_t timeout_ms)
{
    if (timeout_ms == UINT64_MAX)
        return UINT64_MAX;
    uint64_t now = vdb_mono_ns();
    if (timeout_ms > (UINT64_MAX - now) / 1000000u)
        return UINT64_MAX;
    return now + timeout_ms * 1000000u;
}

static struct timespec ns_to_ts(uint64_t ns)
{
    return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u),
                             .tv_nsec = (long)(ns % 1000000000u)};
}

static vdb_status timed_out(const wal_sub *s, uint64_t timeout_ms)
{
    return vdb_set_errmsg(VDB_ETIMEDOUT, "wal: channel %s: no record at or after position %llu "
                          "within %llu ms", s->name, (unsigned long long)s->next,
                          (unsigned long long)timeout_ms);
}

static vdb_status files_missing(const wal_sub *s, uint64_t committed)
{
    return vdb_set_errmsg(VDB_ECORRUPT, "wal: channel %s: records up to %llu are acknowledged "
                          "but its folder %s holds no file", s->name,
                          (unsigned long long)committed - 1, s->dir);
}

static vdb_status dropped(const wal_sub *s)
{
    return vdb_set_errmsg(VDB_ENOTFOUND, "wal: channel %s was dropped while subscribed (at "
                          "position %llu)", s->name, (unsigned long long)s->next);
}

/* ---- subscriptions in the writer's process ------------------------------------------------- */

static vdb_status poll_writer(wal_sub *s, uint64_t timeout_ms, vdb_log_read_fn fn, void *arg)
{
    uint64_t deadline = deadline_of(timeout_ms);
    chan *c = s->c;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        while (c->epoch == s->epoch && c->next_pos <= s->next && vdb_mono_ns() < deadline) {
            if (deadline == UINT64_MAX) {
                pthread_cond_wait(&c->tail_cv, &c->mu);
            } else {
                struct timespec ts = ns_to_ts(deadline);
                pthread_cond_timedwait(&c->tail_cv, &c->mu, &ts);
            }
        }
        bool gone = c->epoch != s->epoch;
        uint64_t committed = c->next_pos;
        pthread_mutex_unlock(&c->mu);
        if (gone)
            return dropped(s);
        if (committed <= s->next)
            return timed_out(s, timeout_ms);
        size_t count;
        bool stop, none;
        vdb_status st = deliver(s, committed, fn, arg, &count, &stop, &none);
        if (st != VDB_OK || count > 0)
            return st;
        pthread_mutex_lock(&c->mu);
        gone = c->epoch != s->epoch;
        pthread_mutex_unlock(&c->mu);
        if (gone)
            return dropped(s);
        if (none)
            return files_missing(s, committed);
        /* committed records were all below next after all (truncated ones skipped): wait */
    }
}

/* ---- subscriptions of a read_only instance: the writer is elsewhere ---------------------- */

/* Attaches to the channel's marker if there is one (a dropped one counts as none: the writer
 * replaces it when it writes the channel again). */
static vdb_status attach(wal_sub *s, bool *found)
{
    vdb_status st = wal_mark_attach(s->dir, &s->mark, found);
    if (st == VDB_OK && *found && wal_mark_load(&s->mark).dropped) {
        wal_mark_close(&s->mark);
        *found = false;
    }
    return st;
}

static void sleep_until(uint64_t deadline, uint64_t ms)
{
    uint64_t now = vdb_mono_ns();
    if (now >= deadline)
        return;
    uint64_t ns = ms * 1000000u;
    if (ns > deadline - now)
        ns = deadline - now;
    struct timespec ts = ns_to_ts(ns);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static vdb_status poll_follower(wal_sub *s, uint64_t timeout_ms, vdb_log_read_fn fn, void *arg)
{
    uint64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        vdb_status st;
        if (!s->mark.page) {
            bool found;
            if ((st = attach(s, &found)) != VDB_OK)
                return st;
            if (!found) {
                /* no channel yet (or not since its drop): look again now and then */
                if (vdb_mono_ns() >= deadline)
                    return timed_out(s, timeout_ms);
                sleep_until(deadline, APPEAR_POLL_MS);
                continue;
            }
        }
        wal_mark_state ms = wal_mark_load(&s->mark);
        if (ms.dropped) {
            if (s->mark_live)
                return dropped(s);
            wal_mark_close(&s->mark);
            continue;
        }
        s->mark_live = true;
        if (ms.next <= s->next) {
            uint64_t now = vdb_mono_ns();
            if (now >= deadline)
                return timed_out(s, timeout_ms);
            /* sleep on the marker, waking now and then to see that the writer did not put a
             * new one in its place */
            uint64_t until = deadline;
            uint64_t every = (uint64_t)__atomic_load_n(&recheck_ms, __ATOMIC_RELAXED) * 1000000u;
            if (until - now > every)
                until = now + every;
            wal_mark_wait(&s->mark, ms.seq, until);
            if (vdb_mono_ns() >= until && until < deadline && !wal_mark_current(s->dir, &s->mark)) {
                wal_mark_close(&s->mark);
                s->mark_live = false;
            }
            continue;
        }
        size_t count;
        bool stop, none;
        if ((st = deliver(s, ms.next, fn, arg, &count, &stop, &none)) != VDB_OK || count > 0)
            return st;
        if (wal_mark_load(&s->mark).dropped)
            return dropped(s);
        if (none)
            return files_missing(s, ms.next);
        if (vdb_mono_ns() >= deadline)
            return timed_out(s, timeout_ms);
    }
}

/* ---- the vtable methods ---------------------------------------------------------------------- */

static void sub_free(wal_sub *s)
{
    if (!s)
        return;
    cursor_close_file(s);
    wal_seg_reader_free(&s->r);
    wal_mark_close(&s->mark);
    vdb_free(s->name);
    vdb_free(s->dir);
    vdb_free(s);
}

static vdb_status sub_new(wal *w, const char *channel, uint64_t from, wal_sub **out)
{
    vdb_status st = wal_check_channel(channel);
    if (st != VDB_OK)
        return st;
    wal_sub *s = vdb_calloc(1, sizeof *s);
    if (!s)
        return vdb_set_errmsg(VDB_ENOMEM, "wal: out of memory subscribing to %s", channel);
    s->w = w;
    s->fd = -1;
    s->mark = WAL_MARK_NONE;
    s->next = from ? from : 1;
    s->name = vdb_strdup(channel);
    s->dir = vdb_path_join(w->root, channel);
    if (!s->name || !s->dir) {
        sub_free(s);
        return vdb_set_errmsg(VDB_ENOMEM, "wal: out of memory subscribing to %s", channel);
    }
    *out = s;
    return VDB_OK;
}

vdb_status wal_subscribe(void *log, const char *channel, uint64_t from, void **out)
{
    wal *w = log;
    if (!out)
        return vdb_set_errmsg(VDB_EINVAL, "wal: subscribe: NULL subscription");
    wal_sub *s;
    vdb_status st = sub_new(w, channel, from, &s);
    if (st != VDB_OK)
        return st;
    if (!w->read_only) {
        /* In the writer: open the channel now (its torn tail cut), so that the epoch this
         * subscription checks is that of the channel it reads. */
        if ((st = wal_get_chan(w, channel, &s->c)) != VDB_OK) {
            sub_free(s);
            return st;
        }
        pthread_mutex_lock(&s->c->mu);
        st = wal_chan_open_locked(w, s->c);
        s->epoch = s->c->epoch;
        pthread_mutex_unlock(&s->c->mu);
        if (st != VDB_OK) {
            sub_free(s);
            return st;
        }
    }
    *out = s;
    return VDB_OK;
}

vdb_status wal_poll(void *sub, uint64_t timeout_ms, vdb_log_read_fn fn, void *arg)
{
    wal_sub *s = sub;
    if (!s || !fn)
        return vdb_set_errmsg(VDB_EINVAL, "wal: poll: NULL subscription or callback");
    return s->w->read_only ? poll_follower(s, timeout_ms, fn, arg)
                           : poll_writer(s, timeout_ms, fn, arg);
}

void wal_unsubscribe(void *sub)
{
    sub_free(sub);
}

vdb_status wal_last_pos(void *log, const char *channel, uint64_t *pos)
{
    wal *w = log;
    vdb_status st = wal_check_channel(channel);
    if (st != VDB_OK)
        return st;
    if (!pos)
        return vdb_set_errmsg(VDB_EINVAL, "wal: last_pos: NULL pos");
    if (w->read_only) {
        wal_sub *s = NULL;
        if ((st = sub_new(w, channel, 1, &s)) != VDB_OK)
            return st;
        bool found;
        if ((st = attach(s, &found)) == VDB_OK)
            *pos = found ? wal_mark_load(&s->mark).next - 1 : 0;
        sub_free(s);
        return st;
    }
    chan *c;
    if ((st = wal_get_chan(w, channel, &c)) != VDB_OK)
        return st;
    pthread_mutex_lock(&c->mu);
    st = wal_chan_open_locked(w, c);
    if (st == VDB_OK)
        *pos = c->next_pos - 1;
    pthread_mutex_unlock(&c->mu);
    return st;
}

vdb_status wal_read_committed(wal *w, const char *channel, uint64_t from, vdb_log_read_fn fn,
                              void *arg)
{
    if (!fn)
        return vdb_set_errmsg(VDB_EINVAL, "wal: read callback is NULL");
    wal_sub *s;
    vdb_status st = sub_new(w, channel, from, &s);
    if (st != VDB_OK)
        return st;
    bool found;
    if ((st = attach(s, &found)) == VDB_OK && found) {
        uint64_t committed = wal_mark_load(&s->mark).next;
        size_t count;
        bool stop, none;
        st = deliver(s, committed, fn, arg, &count, &stop, &none);
        if (st == VDB_OK && none && s->next < committed && !wal_mark_load(&s->mark).dropped)
            st = files_missing(s, committed);
    }
    sub_free(s);
    return st;
}

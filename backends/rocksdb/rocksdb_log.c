/* The RocksDB log backend (rocksdb:///dir): one key range per channel, with group commit.
 *
 * A record's key is "l/" + channel + "/" + its position as 8 big-endian bytes, so a channel's
 * records sort by position. Positions stay below 2^56: the byte after the channel's "/" is
 * then always 0, and the range ["l/<ch>/\0", "l/<ch>/\1") holds exactly that channel's
 * records even when another channel's name starts with "<ch>/" (names have no NUL).
 *
 * Appends, truncates and drops of every channel go through one queue per database: positions
 * are handed out in queue order, and one thread at a time (the leader) writes everything
 * queued as one WriteBatch (synced when any of them asks for it), so concurrent appenders
 * share one WAL sync and readers always see a prefix of each channel.
 *
 * Subscriptions: in the process that writes, a subscription waits on the database's tail_cv
 * (broadcast after every written group) for the channel's last written position to reach it,
 * then iterates; a drop (the channel's epoch) ends it. A read_only instance in another process
 * is a RocksDB secondary: each poll catches up with the primary (its WAL and MANIFEST) and
 * iterates, backing off from 5 to 100 ms between looks while nothing is new. A secondary
 * notices a drop only when the channel's last position falls below what it delivered (a drop
 * followed by more appends than before goes unnoticed there). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rocksdb_shared.h"

#define MAX_POS ((uint64_t)1 << 56)
#define GROUP_MAX_BYTES ((size_t)64 << 20)

enum { REQ_PUT, REQ_DELRANGE };

struct vdb_rocksdb_req {
    vdb_rocksdb_req *next;
    int kind;
    int sync;
    const char *key, *end; /* end: REQ_DELRANGE only */
    size_t klen, elen;
    const void *val;
    size_t len;
    vdb_rocksdb_chan *chan;
    uint64_t pos, epoch;
    int done;
    vdb_status st;
    char err[256];
};

typedef struct rlog {
    vdb_rocksdb *r;
    int read_only;
    vdb_sync_mode sync;
    uint32_t interval_ms;
    /* VDB_SYNC_BATCH: a thread syncs the WAL every interval_ms when something was written */
    pthread_t syncer;
    int has_syncer;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    uint64_t writes, synced_writes; /* writes: atomic */
    int bg_failed;                  /* under mu: a background sync failed; told once */
    char bg_err[256];
} rlog;

static void put_be64(char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (char)(v & 0xff);
}

static uint64_t get_be64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (unsigned char)p[i];
    return v;
}

/* "l/" + ch + "/" followed by 8 bytes: the big-endian pos, or (bound) 0x01 and zeros. A
 * malloc'ed buffer of *len bytes. */
static char *chan_key(const char *ch, uint64_t pos, size_t *len)
{
    size_t n = strlen(ch);
    char *k = malloc(n + 11);
    if (!k)
        return NULL;
    memcpy(k, "l/", 2);
    memcpy(k + 2, ch, n);
    k[n + 2] = '/';
    put_be64(k + n + 3, pos);
    *len = n + 11;
    return k;
}

static vdb_status check_chan(rlog *l, const char *ch, const char *what)
{
    if (!ch || !*ch)
        return vdb_set_errmsg(VDB_EINVAL, "rocksdb log %s: %s: empty channel name", l->r->path,
                              what);
    return VDB_OK;
}

/* The position of the channel's last record in the database (0: none). */
static vdb_status stored_last(rlog *l, const char *channel, uint64_t *last)
{
    vdb_rocksdb *r = l->r;
    size_t klen;
    char *key = chan_key(channel, MAX_POS - 1, &klen);
    rocksdb_iterator_t *it = key ? rocksdb_create_iterator(r->db, r->ro) : NULL;
    if (!it) {
        free(key);
        return vdb_set_errmsg(VDB_ENOMEM, "rocksdb log %s: '%s': out of memory", r->path,
                              channel);
    }
    *last = 0;
    rocksdb_iter_seek_for_prev(it, key, klen);
    if (rocksdb_iter_valid(it)) {
        size_t kl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl == klen && !memcmp(k, key, klen - 8) && k[klen - 8] == 0)
            *last = get_be64(k + klen - 8);
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    rocksdb_iter_destroy(it);
    free(key);
    if (!err)
        return VDB_OK;
    vdb_status st = vdb_set_errmsg(VDB_EIO, "rocksdb log %s: channel '%s': reading its last "
                                   "position: %s", r->path, channel, err);
    free(err);
    return st;
}

/* The channel's state, loaded from the last key of its range on first use. log_mu held. */
static vdb_status chan_get(rlog *l, const char *name, vdb_rocksdb_chan **out)
{
    vdb_rocksdb *r = l->r;
    size_t n = strlen(name);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)name[i]) * 1099511628211ull;
    vdb_rocksdb_chan **bucket = &r->chans[h % VDB_ROCKSDB_CHAN_BUCKETS];
    for (vdb_rocksdb_chan *c = *bucket; c; c = c->next) {
        if (!strcmp(c->name, name)) {
            *out = c;
            return VDB_OK;
        }
    }
    vdb_rocksdb_chan *c = malloc(sizeof *c + n + 1);
    if (!c)
        return vdb_set_errmsg(VDB_ENOMEM, "rocksdb log %s: channel '%s': out of memory",
                              r->path, name);
    uint64_t lastpos;
    vdb_status st = stored_last(l, name, &lastpos);
    if (st != VDB_OK) {
        free(c);
        return st;
    }
    memcpy(c->name, name, n + 1);
    c->next_pos = lastpos + 1;
    c->last_written = lastpos;
    c->epoch = 0;
    c->next = *bucket;
    *bucket = c;
    *out = c;
    return VDB_OK;
}

/* Writes the queued requests from the head (up to GROUP_MAX_BYTES, at least one) as one
 * batch. log_mu held on entry and exit; released around the write. */
static void write_group(vdb_rocksdb *r)
{
    vdb_rocksdb_req *first = r->q_head, *last = first;
    size_t bytes = first->len;
    int sync = first->sync;
    while (last->next && bytes + last->next->len <= GROUP_MAX_BYTES) {
        last = last->next;
        bytes += last->len;
        sync |= last->sync;
    }
    r->q_head = last->next;
    if (!r->q_head)
        r->q_tail = NULL;
    last->next = NULL;
    pthread_mutex_unlock(&r->log_mu);

    char *err = NULL;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    if (b) {
        for (vdb_rocksdb_req *q = first; q; q = q->next) {
            if (q->kind == REQ_PUT)
                rocksdb_writebatch_put(b, q->key, q->klen, q->val, q->len);
            else
                rocksdb_writebatch_delete_range(b, q->key, q->klen, q->end, q->elen);
        }
        rocksdb_write(r->db, sync ? r->wo_sync : r->wo_nosync, b, &err);
        rocksdb_writebatch_destroy(b);
    }

    pthread_mutex_lock(&r->log_mu);
    for (vdb_rocksdb_req *q = first, *next; q; q = next) {
        next = q->next; /* q lives on its waiter's stack: read before marking it done */
        if (!b || err) {
            q->st = b ? VDB_EIO : VDB_ENOMEM;
            snprintf(q->err, sizeof q->err, "%s", b ? err : "out of memory");
        } else if (q->kind == REQ_PUT && q->chan->epoch == q->epoch &&
                   q->pos > q->chan->last_written) {
            q->chan->last_written = q->pos;
        }
        q->done = 1;
    }
    free(err);
    pthread_cond_broadcast(&r->log_cv);
    pthread_cond_broadcast(&r->tail_cv);
}

/* Queues q and returns when it is written. log_mu held on entry and exit. */
static void submit(vdb_rocksdb *r, vdb_rocksdb_req *q)
{
    q->next = NULL;
    q->done = 0;
    q->st = VDB_OK;
    if (r->q_tail)
        r->q_tail->next = q;
    else
        r->q_head = q;
    r->q_tail = q;
    while (!q->done) {
        if (r->leader) {
            pthread_cond_wait(&r->log_cv, &r->log_mu);
            continue;
        }
        r->leader = 1;
        while (!q->done)
            write_group(r);
        r->leader = 0;
        pthread_cond_broadcast(&r->log_cv); /* a waiter takes over what is left */
    }
}

static vdb_status refuse_read_only(const rlog *l, const char *what)
{
    return vdb_set_errmsg(VDB_EINVAL, "rocksdb log %s: %s refused: this instance was opened "
                          "read_only", l->r->path, what);
}

static vdb_status take_bg_error(rlog *l)
{
    if (!l->has_syncer)
        return VDB_OK;
    vdb_status st = VDB_OK;
    pthread_mutex_lock(&l->mu);
    if (l->bg_failed) {
        st = vdb_set_errmsg(VDB_EIO, "rocksdb log %s: a background WAL sync failed: %s",
                            l->r->path, l->bg_err);
        l->bg_failed = 0;
    }
    pthread_mutex_unlock(&l->mu);
    return st;
}

static vdb_status rlog_append(void *h, const char *channel, const void *rec, size_t len,
                              uint64_t *pos)
{
    rlog *l = h;
    vdb_rocksdb *r = l->r;
    vdb_status st = check_chan(l, channel, "append");
    if (st == VDB_OK && l->read_only)
        st = refuse_read_only(l, "append");
    if (st == VDB_OK)
        st = take_bg_error(l);
    if (st != VDB_OK)
        return st;
    if (!rec && len)
        return vdb_set_errmsg(VDB_EINVAL, "rocksdb log %s: append to '%s': NULL record",
                              r->path, channel);
    size_t klen;
    char *key = chan_key(channel, 0, &klen);
    if (!key)
        return vdb_set_errmsg(VDB_ENOMEM, "rocksdb log %s: append to '%s': out of memory",
                              r->path, channel);
    vdb_rocksdb_req q = {.kind = REQ_PUT, .sync = l->sync == VDB_SYNC_FULL, .key = key,
                         .klen = klen, .val = rec ? rec : "", .len = len};
    pthread_mutex_lock(&r->log_mu);
    vdb_rocksdb_chan *c;
    st = chan_get(l, channel, &c);
    if (st == VDB_OK && c->next_pos >= MAX_POS)
        st = vdb_set_errmsg(VDB_ERANGE, "rocksdb log %s: channel '%s' is full (2^56 positions)",
                            r->path, channel);
    if (st == VDB_OK) {
        q.chan = c;
        q.epoch = c->epoch;
        q.pos = c->next_pos++;
        put_be64(key + klen - 8, q.pos);
        submit(r, &q);
        st = q.st;
    }
    pthread_mutex_unlock(&r->log_mu);
    free(key);
    if (st != VDB_OK && q.done)
        return vdb_set_errmsg(st, "rocksdb log %s: append to channel '%s': %s", r->path,
                              channel, q.err);
    if (st == VDB_OK) {
        __atomic_fetch_add(&l->writes, 1, __ATOMIC_RELAXED);
        *pos = q.pos;
    }
    return st;
}

/* Calls fn for the channel's records with positions in [from, upto], in order. */
static vdb_status scan(rlog *l, const char *channel, uint64_t from, uint64_t upto,
                       vdb_log_read_fn fn, void *arg)
{
    vdb_rocksdb *r = l->r;
    if (from >= MAX_POS || from > upto)
        return VDB_OK;
    if (upto >= MAX_POS)
        upto = MAX_POS - 1;
    vdb_status st = VDB_OK;
    size_t klen;
    char *lo = chan_key(channel, from, &klen);
    char *hi = chan_key(channel, upto + 1, &klen);
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_iterator_t *it = NULL;
    if (lo && hi && ro) {
        /* upto + 1 <= MAX_POS: as a key, MAX_POS is the channel's end (its byte 0x01) */
        rocksdb_readoptions_set_iterate_upper_bound(ro, hi, klen);
        it = rocksdb_create_iterator(r->db, ro);
    }
    if (!it) {
        st = vdb_set_errmsg(VDB_ENOMEM, "rocksdb log %s: read of '%s': out of memory", r->path,
                            channel);
        goto done;
    }
    for (rocksdb_iter_seek(it, lo, klen); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl != klen) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "rocksdb log %s: channel '%s' holds a key of %zu "
                                "bytes, expected %zu", r->path, channel, kl, klen);
            goto done;
        }
        const char *v = rocksdb_iter_value(it, &vl);
        if (fn(arg, get_be64(k + klen - 8), v, vl))
            break;
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (err) {
        st = vdb_set_errmsg(VDB_EIO, "rocksdb log %s: read of '%s': %s", r->path, channel, err);
        free(err);
    }
done:
    if (it)
        rocksdb_iter_destroy(it);
    if (ro)
        rocksdb_readoptions_destroy(ro);
    free(lo);
    free(hi);
    return st;
}

static vdb_status rlog_read(void *h, const char *channel, uint64_t from, vdb_log_read_fn fn,
                            void *arg)
{
    rlog *l = h;
    vdb_status st = check_chan(l, channel, "read");
    if (st == VDB_OK && !fn)
        st = vdb_set_errmsg(VDB_EINVAL, "rocksdb log %s: read of '%s': NULL callback",
                            l->r->path, channel);
    if (st == VDB_OK)
        st = vdb_rocksdb_catch_up(l->r); /* a secondary: what the primary wrote before now */
    return st != VDB_OK ? st : scan(l, channel, from, MAX_POS - 1, fn, arg);
}

/* Deletes the channel's records in [from, upto) (drop: the whole range, and the channel
 * starts again at position 1). */
static vdb_status delete_range(rlog *l, const char *channel, uint64_t upto, int drop)
{
    vdb_rocksdb *r = l->r;
    const char *what = drop ? "drop" : "truncate";
    vdb_status st = check_chan(l, channel, what);
    if (st == VDB_OK && l->read_only)
        st = refuse_read_only(l, what);
    if (st != VDB_OK)
        return st;
    size_t klen;
    char *lo = chan_key(channel, 0, &klen);
    char *hi = chan_key(channel, 0, &klen);
    if (!lo || !hi) {
        free(lo);
        free(hi);
        return vdb_set_errmsg(VDB_ENOMEM, "rocksdb log %s: %s of '%s': out of memory", r->path,
                              what, channel);
    }
    vdb_rocksdb_req q = {.kind = REQ_DELRANGE, .sync = l->sync == VDB_SYNC_FULL, .key = lo,
                         .klen = klen, .end = hi, .elen = klen};
    pthread_mutex_lock(&r->log_mu);
    vdb_rocksdb_chan *c;
    st = chan_get(l, channel, &c);
    int skip = 0;
    if (st == VDB_OK && drop) {
        hi[klen - 8] = 1;
        /* later appends are queued after this delete: they start the channel afresh */
        c->next_pos = 1;
        c->last_written = 0;
        c->epoch++;
    } else if (st == VDB_OK) {
        /* keep the last written record: the next position after a reopen comes from it */
        uint64_t end = upto < c->last_written ? upto : c->last_written;
        skip = end <= 1;
        put_be64(hi + klen - 8, end);
    }
    if (st == VDB_OK && !skip) {
        submit(r, &q);
        st = q.st;
    }
    pthread_mutex_unlock(&r->log_mu);
    free(lo);
    free(hi);
    if (st != VDB_OK && q.done)
        return vdb_set_errmsg(st, "rocksdb log %s: %s of channel '%s': %s", r->path, what,
                              channel, q.err);
    if (st == VDB_OK && !skip)
        __atomic_fetch_add(&l->writes, 1, __ATOMIC_RELAXED);
    return st;
}

static vdb_status rlog_truncate(void *h, const char *channel, uint64_t upto)
{
    return delete_range(h, channel, upto, 0);
}

static vdb_status rlog_drop(void *h, const char *channel)
{
    return delete_range(h, channel, 0, 1);
}

/* ---- last position and subscriptions ------------------------------------------------------ */

static vdb_status rlog_last_pos(void *h, const char *channel, uint64_t *pos)
{
    rlog *l = h;
    vdb_status st = check_chan(l, channel, "last_pos");
    if (st != VDB_OK)
        return st;
    if (l->r->secondary) {
        if ((st = vdb_rocksdb_catch_up(l->r)) != VDB_OK)
            return st;
        return stored_last(l, channel, pos);
    }
    pthread_mutex_lock(&l->r->log_mu);
    vdb_rocksdb_chan *c;
    if ((st = chan_get(l, channel, &c)) == VDB_OK)
        *pos = c->last_written;
    pthread_mutex_unlock(&l->r->log_mu);
    return st;
}

typedef struct rsub {
    rlog *l;
    char *channel;
    uint64_t next;  /* the next position to hand out */
    uint64_t epoch; /* primary: the channel's epoch when subscribed */
} rsub;

typedef struct handout {
    rsub *s;
    vdb_log_read_fn fn;
    void *arg;
    size_t count;
} handout;

static int handout_fn(void *arg, uint64_t pos, const void *rec, size_t len)
{
    handout *h = arg;
    h->s->next = pos + 1;
    h->count++;
    return h->fn(h->arg, pos, rec, len);
}

static vdb_status rlog_subscribe(void *h, const char *channel, uint64_t from, void **out)
{
    rlog *l = h;
    vdb_status st = check_chan(l, channel, "subscribe");
    if (st != VDB_OK)
        return st;
    rsub *s = calloc(1, sizeof *s);
    if (!s || !(s->channel = strdup(channel))) {
        free(s);
        return vdb_set_errmsg(VDB_ENOMEM, "rocksdb log %s: subscribe to '%s': out of memory",
                              l->r->path, channel);
    }
    s->l = l;
    s->next = from ? from : 1;
    if (!l->r->secondary) {
        pthread_mutex_lock(&l->r->log_mu);
        vdb_rocksdb_chan *c;
        if ((st = chan_get(l, channel, &c)) == VDB_OK)
            s->epoch = c->epoch;
        pthread_mutex_unlock(&l->r->log_mu);
        if (st != VDB_OK) {
            free(s->channel);
            free(s);
            return st;
        }
    }
    *out = s;
    return VDB_OK;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t deadline_of(uint64_t timeout_ms)
{
    uint64_t now = now_ns();
    if (timeout_ms == UINT64_MAX || timeout_ms > (UINT64_MAX - now) / 1000000u)
        return UINT64_MAX;
    return now + timeout_ms * 1000000u;
}

static vdb_status sub_timed_out(const rsub *s, uint64_t timeout_ms)
{
    return vdb_set_errmsg(VDB_ETIMEDOUT, "rocksdb log %s: channel '%s': no record at or after "
                          "position %llu within %llu ms", s->l->r->path, s->channel,
                          (unsigned long long)s->next, (unsigned long long)timeout_ms);
}

static vdb_status sub_dropped(const rsub *s)
{
    return vdb_set_errmsg(VDB_ENOTFOUND, "rocksdb log %s: channel '%s' was dropped while "
                          "subscribed (at position %llu)", s->l->r->path, s->channel,
                          (unsigned long long)s->next);
}

/* The primary: wait on tail_cv for the channel's last written position to reach next. */
static vdb_status poll_primary(rsub *s, uint64_t timeout_ms, handout *ho)
{
    vdb_rocksdb *r = s->l->r;
    uint64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        pthread_mutex_lock(&r->log_mu);
        vdb_rocksdb_chan *c;
        vdb_status st = chan_get(s->l, s->channel, &c);
        while (st == VDB_OK && c->epoch == s->epoch && c->last_written < s->next &&
               now_ns() < deadline) {
            if (deadline == UINT64_MAX) {
                pthread_cond_wait(&r->tail_cv, &r->log_mu);
            } else {
                struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000000u),
                                      .tv_nsec = (long)(deadline % 1000000000u)};
                pthread_cond_timedwait(&r->tail_cv, &r->log_mu, &ts);
            }
        }
        bool gone = st == VDB_OK && c->epoch != s->epoch;
        uint64_t last = st == VDB_OK ? c->last_written : 0;
        pthread_mutex_unlock(&r->log_mu);
        if (st != VDB_OK)
            return st;
        if (gone)
            return sub_dropped(s);
        if (last < s->next)
            return sub_timed_out(s, timeout_ms);
        /* Positions up to last are written (groups are written in position order). */
        if ((st = scan(s->l, s->channel, s->next, last, handout_fn, ho)) != VDB_OK ||
            ho->count > 0)
            return st;
        /* Nothing although last was written: only a drop meanwhile explains it. */
        pthread_mutex_lock(&r->log_mu);
        gone = chan_get(s->l, s->channel, &c) == VDB_OK && c->epoch != s->epoch;
        pthread_mutex_unlock(&r->log_mu);
        if (!gone)
            return vdb_set_errmsg(VDB_ECORRUPT, "rocksdb log %s: channel '%s': position %llu "
                                  "is written but not found", r->path, s->channel,
                                  (unsigned long long)last);
    }
}

/* A secondary: catch up and look, backing off while nothing is new. */
static vdb_status poll_secondary(rsub *s, uint64_t timeout_ms, handout *ho)
{
    uint64_t deadline = deadline_of(timeout_ms), wait_ms = 5;
    for (;;) {
        vdb_status st = vdb_rocksdb_catch_up(s->l->r);
        if (st == VDB_OK)
            st = scan(s->l, s->channel, s->next, MAX_POS - 1, handout_fn, ho);
        if (st != VDB_OK || ho->count > 0)
            return st;
        /* truncate keeps the last record: a last position below what was handed out means
         * the channel was dropped (and maybe written again) */
        uint64_t last;
        if ((st = stored_last(s->l, s->channel, &last)) != VDB_OK)
            return st;
        if (s->next > 1 && last < s->next - 1)
            return sub_dropped(s);
        uint64_t now = now_ns();
        if (now >= deadline)
            return sub_timed_out(s, timeout_ms);
        uint64_t ns = wait_ms * 1000000u;
        if (ns > deadline - now)
            ns = deadline - now;
        struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
                              .tv_nsec = (long)(ns % 1000000000u)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        if (wait_ms < 100)
            wait_ms *= 2;
    }
}

static vdb_status rlog_poll(void *sub, uint64_t timeout_ms, vdb_log_read_fn fn, void *arg)
{
    rsub *s = sub;
    if (!s || !fn)
        return vdb_set_errmsg(VDB_EINVAL, "rocksdb log: poll: NULL subscription or callback");
    handout ho = {.s = s, .fn = fn, .arg = arg};
    return s->l->r->secondary ? poll_secondary(s, timeout_ms, &ho)
                              : poll_primary(s, timeout_ms, &ho);
}

static void rlog_unsubscribe(void *sub)
{
    rsub *s = sub;
    if (!s)
        return;
    free(s->channel);
    free(s);
}

static void *syncer_main(void *arg)
{
    rlog *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)l->interval_ms * 1000000u;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        while (!l->stop && pthread_cond_timedwait(&l->cv, &l->mu, &ts) != ETIMEDOUT)
            ;
        uint64_t w = __atomic_load_n(&l->writes, __ATOMIC_RELAXED);
        if (w == l->synced_writes)
            continue;
        pthread_mutex_unlock(&l->mu);
        char *err = NULL;
        rocksdb_flush_wal(l->r->db, 1, &err);
        pthread_mutex_lock(&l->mu);
        if (err) {
            l->bg_failed = 1;
            snprintf(l->bg_err, sizeof l->bg_err, "%s", err);
            free(err);
        } else {
            l->synced_writes = w;
        }
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void rlog_close(void *h)
{
    rlog *l = h;
    if (!l)
        return;
    if (l->has_syncer) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->syncer, NULL);
        char *err = NULL;
        rocksdb_flush_wal(l->r->db, 1, &err); /* the last interval */
        free(err);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    vdb_rocksdb_release(l->r);
    free(l);
}

static vdb_status rlog_open(const char *uri, const vdb_backend_options *opt, void **out)
{
    *out = NULL;
    rlog *l = calloc(1, sizeof *l);
    if (!l)
        return vdb_set_errmsg(VDB_ENOMEM, "rocksdb log %s: out of memory", uri);
    l->sync = opt ? opt->sync : VDB_SYNC_FULL;
    l->read_only = opt && opt->read_only;
    l->interval_ms = opt && opt->sync_interval_ms ? opt->sync_interval_ms : 100;
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    vdb_status st = vdb_rocksdb_acquire(uri, "log", l->read_only, &l->r);
    if (st == VDB_OK && l->sync == VDB_SYNC_BATCH && !l->read_only) {
        int e = pthread_create(&l->syncer, NULL, syncer_main, l);
        if (e)
            st = vdb_set_errmsg(VDB_EIO, "rocksdb log %s: cannot start the WAL sync thread: %s",
                                l->r->path, strerror(e));
        else
            l->has_syncer = 1;
    }
    if (st != VDB_OK) {
        rlog_close(l);
        return st;
    }
    *out = l;
    return VDB_OK;
}

const vdb_log_backend vdb_rocksdb_log_backend = {
    .version = VDB_LOG_BACKEND_VERSION,
    .scheme = "rocksdb",
    .open = rlog_open,
    .close = rlog_close,
    .append = rlog_append,
    .read = rlog_read,
    .truncate = rlog_truncate,
    .drop = rlog_drop,
    .last_pos = rlog_last_pos,
    .subscribe = rlog_subscribe,
    .poll = rlog_poll,
    .unsubscribe = rlog_unsubscribe,
};

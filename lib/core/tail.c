/* Following a set of log channels in time (tail.h). */
#include <stdio.h>

#include "core/tail.h"

typedef struct tail_chan {
    char *name;
    vdb_log_sub sub;
    bool subscribed;
    uint64_t ts, pos;
} tail_chan;

struct vdb_tail {
    size_t n;
    tail_chan *ch;
};

vdb_status vdb_tail_open(const vdb_log_store *log, size_t n, const char *const *channels,
                         const uint64_t *from, vdb_tail **out)
{
    *out = NULL;
    vdb_tail *t = vdb_calloc(1, sizeof *t);
    if (!t || !(t->ch = vdb_calloc(n ? n : 1, sizeof *t->ch))) {
        vdb_free(t);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    t->n = n;
    vdb_status st = VDB_OK;
    for (size_t i = 0; i < n && st == VDB_OK; i++) {
        if (!(t->ch[i].name = vdb_strdup(channels[i])))
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        else if ((st = vdb_log_store_subscribe(log, channels[i], from ? from[i] : 0,
                                               &t->ch[i].sub)) == VDB_OK)
            t->ch[i].subscribed = true;
    }
    if (st != VDB_OK) {
        vdb_tail_close(t);
        return st;
    }
    *out = t;
    return VDB_OK;
}

void vdb_tail_close(vdb_tail *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        if (t->ch[i].subscribed)
            vdb_log_sub_close(&t->ch[i].sub);
        vdb_free(t->ch[i].name);
    }
    vdb_free(t->ch);
    vdb_free(t);
}

typedef struct tail_poll {
    tail_chan *ch;
    size_t chan;
    vdb_tail_fn fn;
    void *arg;
    vdb_status st;
} tail_poll;

static int on_record(void *arg, uint64_t pos, const void *rec, size_t len)
{
    tail_poll *p = arg;
    vdb_rec_header h;
    const void *body;
    size_t blen;
    p->ch->pos = pos;
    if ((p->st = vdb_rec_decode(rec, len, &h, &body, &blen)) != VDB_OK) {
        p->st = vdb_set_errmsg(p->st, "log channel %s, position %llu: %s", p->ch->name,
                               (unsigned long long)pos, vdb_err_get());
        return 1;
    }
    p->ch->ts = VDB_MAX(p->ch->ts, h.ts); /* an ABORT names an older write's timestamp */
    return p->fn ? p->fn(p->arg, p->chan, pos, &h, body, blen) : 0;
}

vdb_status vdb_tail_poll(vdb_tail *t, size_t chan, uint64_t timeout_ms, vdb_tail_fn fn,
                         void *arg)
{
    if (chan >= t->n)
        return vdb_set_errmsg(VDB_EINVAL, "tail: channel %zu of %zu", chan, t->n);
    tail_poll p = {&t->ch[chan], chan, fn, arg, VDB_OK};
    vdb_status st = vdb_log_sub_poll(&t->ch[chan].sub, timeout_ms, on_record, &p);
    return st == VDB_OK ? p.st : st;
}

uint64_t vdb_tail_ts(const vdb_tail *t, size_t chan) { return chan < t->n ? t->ch[chan].ts : 0; }
uint64_t vdb_tail_pos(const vdb_tail *t, size_t chan)
{
    return chan < t->n ? t->ch[chan].pos : 0;
}

vdb_status vdb_tail_wait_ts(vdb_tail *t, uint64_t ts, uint64_t timeout_ms, vdb_tail_fn fn,
                            void *arg)
{
    uint64_t start = vdb_mono_ns() / 1000000u;
    for (size_t i = 0; i < t->n; i++) {
        while (t->ch[i].ts < ts) {
            uint64_t spent = vdb_mono_ns() / 1000000u - start;
            uint64_t left = timeout_ms == UINT64_MAX ? UINT64_MAX
                            : spent >= timeout_ms    ? 0
                                                     : timeout_ms - spent;
            vdb_status st = vdb_tail_poll(t, i, left, fn, arg);
            if (st == VDB_ETIMEDOUT)
                return vdb_set_errmsg(VDB_ETIMEDOUT, "log channel %s was consumed up to "
                                      "timestamp %llu, not %llu, within %llu ms (is the "
                                      "writer ticking? options.tick_interval_ms)",
                                      t->ch[i].name, (unsigned long long)t->ch[i].ts,
                                      (unsigned long long)ts, (unsigned long long)timeout_ms);
            if (st != VDB_OK)
                return st;
        }
    }
    return VDB_OK;
}

/* Change streams (CDC): a collection's writes read back from its log channels and merged in
 * timestamp order across shards (vdb.h says what is delivered).
 *
 * Each shard is followed through a tail (tail.h); its records are copied into a queue of the
 * stream. The change at the lowest timestamp T among the queues' heads is delivered once
 * every shard has consumed T (a record or a tick stamped T or later): a channel's timestamps
 * only grow, so every part of the write at T is in the queues by then. Fewer parts than the
 * write was split into means a torn write (never acknowledged): it is skipped. The stream
 * holds its shards' logs from truncation (tick.h) at the position after the last record it
 * took; what it took is in its queues. */
#include <stdio.h>

#include "core/apply.h"
#include "core/follow.h"
#include "core/result.h"
#include "core/tail.h"
#include "core/tick.h"

#define QUEUE_CAP 64 /* records taken ahead per shard */

typedef struct cdc_rec {
    uint64_t pos;
    vdb_rec_header h;
    uint8_t *body;
    size_t len;
} cdc_rec;

typedef struct cdc_queue {
    cdc_rec *v;
    size_t head, n; /* v[head .. n) are waiting */
} cdc_queue;

struct vdb_change_stream {
    vdb_db *db;
    uint64_t coll_id;
    char *name;
    uint32_t nshards;
    uint64_t start_ts;
    bool marks;
    uint64_t last_mark;
    vdb_tail *tail;
    cdc_queue *q;
    vdb_log_hold hold;
    bool held;
    vdb_result *cur;
    char *cur_part;
    vdb_status broken; /* a record taken from the log could not be kept: the stream ends */
};

static size_t qlen(const cdc_queue *q) { return q->n - q->head; }

static int take_record(void *arg, size_t chan, uint64_t pos, const vdb_rec_header *h,
                       const void *body, size_t len)
{
    vdb_change_stream *s = arg;
    cdc_queue *q = &s->q[chan];
    if (h->type == VDB_REC_INSERT || h->type == VDB_REC_DELETE) {
        if (h->ts >= s->start_ts) {
            if (q->head == q->n)
                q->head = q->n = 0;
            if (q->n == QUEUE_CAP) { /* move the waiting ones to the front */
                memmove(q->v, q->v + q->head, qlen(q) * sizeof *q->v);
                q->n -= q->head;
                q->head = 0;
            }
            uint8_t *copy = vdb_malloc(len ? len : 1);
            if (!copy) {
                s->broken = VDB_ENOMEM; /* the record counts as taken: the stream ends */
                return 1;
            }
            memcpy(copy, body, len);
            q->v[q->n++] = (cdc_rec){pos, *h, copy, len};
        }
    }
    return qlen(q) >= QUEUE_CAP;
}

void vdb_change_stream_close(vdb_change_stream *s)
{
    if (!s)
        return;
    if (s->held)
        vdb_hold_remove(s->db, &s->hold);
    vdb_tail_close(s->tail);
    for (uint32_t i = 0; s->q && i < s->nshards; i++) {
        for (size_t k = s->q[i].head; k < s->q[i].n; k++)
            vdb_free(s->q[i].v[k].body);
        vdb_free(s->q[i].v);
    }
    vdb_free(s->q);
    vdb_result_free(s->cur);
    vdb_free(s->cur_part);
    vdb_free(s->name);
    vdb_free(s);
}

vdb_status vdb_change_stream_open(vdb_db *db, const char *collection,
                                  const vdb_change_opts *opts_in, vdb_change_stream **out)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "vdb_change_stream_open: not on a reader "
                              "(options.read_only) yet: open the stream in the writer");
    VDB_CHECK_ARG(db && collection && out, "vdb_change_stream_open: db, collection or out is "
                  "NULL");
    *out = NULL;
    vdb_change_opts opts = {0};
    if (opts_in) {
        vdb_status st = vdb_struct_in(opts_in, opts_in->struct_size, sizeof(uint32_t), &opts,
                                      sizeof opts, "vdb_change_opts");
        if (st != VDB_OK)
            return st;
    }
    VDB_CHECK_ARG(opts.caught_up_marks == 0 || opts.caught_up_marks == 1,
                  "vdb_change_opts.caught_up_marks is %d: 0 or 1", opts.caught_up_marks);
    vdb_change_stream *s = vdb_calloc(1, sizeof *s);
    if (!s)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    s->db = db;
    s->marks = opts.caught_up_marks;
    char chans[64][64];
    const char *names[64];
    uint64_t from[64];
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_status st = vdb_catalog_lookup(&db->catalog, collection, &c);
    if (st == VDB_OK) {
        s->coll_id = c->id;
        s->nshards = c->nshards;
        s->name = vdb_strdup(c->name);
        s->q = vdb_calloc(c->nshards, sizeof *s->q);
        for (uint32_t i = 0; s->q && i < c->nshards; i++)
            s->q[i].v = vdb_calloc(QUEUE_CAP, sizeof(cdc_rec));
        st = s->name && s->q && s->q[c->nshards - 1].v
                 ? VDB_OK
                 : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    if (st == VDB_OK) {
        /* under write_mu: no seal moves a checkpoint between the check and the hold */
        vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE);
        uint64_t floor = 0;
        uint32_t worst = 0;
        for (uint32_t i = 0; i < c->nshards; i++) {
            if (c->shards[i].ckpt_ts > floor) {
                floor = c->shards[i].ckpt_ts;
                worst = i;
            }
            memcpy(chans[i], c->shards[i].channel, sizeof chans[i]);
            names[i] = chans[i];
            from[i] = c->shards[i].ckpt_pos + 1;
            s->hold.pos[i] = from[i];
        }
        s->start_ts = opts.start_ts ? opts.start_ts : floor + 1;
        if (opts.start_ts && opts.start_ts <= floor)
            st = vdb_set_errmsg(VDB_ERANGE, "change stream on '%s' from timestamp %llu: shard "
                                "%u's log was truncated at its checkpoint (timestamp %llu, "
                                "sealed); the oldest start it holds is %llu (or 0)", c->name,
                                (unsigned long long)opts.start_ts, worst,
                                (unsigned long long)floor, (unsigned long long)floor + 1);
        s->hold.coll_id = c->id;
        s->hold.nshards = c->nshards;
        if (st == VDB_OK) {
            vdb_hold_add(db, &s->hold);
            s->held = true;
        }
        vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    s->last_mark = s->start_ts ? s->start_ts - 1 : 0;
    if (st == VDB_OK)
        st = vdb_tail_open(&db->log, s->nshards, names, from, &s->tail);
    if (st != VDB_OK) {
        vdb_change_stream_close(s);
        return st;
    }
    *out = s;
    return VDB_OK;
}

/* The change made of the parts recs[0..n) (one write), decoded against the collection. */
static vdb_status build_change(vdb_change_stream *s, cdc_rec *const *recs, size_t n,
                               vdb_change *ch)
{
    vdb_db *db = s->db;
    vdb_result_free(s->cur);
    s->cur = NULL;
    vdb_free(s->cur_part);
    s->cur_part = NULL;
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c = NULL;
    for (size_t i = 0; i < db->catalog.n && !c; i++)
        if (db->catalog.colls[i]->id == s->coll_id)
            c = db->catalog.colls[i];
    vdb_status st = VDB_OK;
    vdb_out_field *of = NULL;
    size_t nof = 0;
    const vdb_rec_header *h = &recs[0]->h;
    bool ins = h->type == VDB_REC_INSERT;
    if (!c) {
        st = vdb_set_errmsg(VDB_ENOTFOUND, "change stream on '%s': the collection was dropped",
                            s->name);
        goto out;
    }
    const char *star = "*";
    vdb_read_opts all = {.struct_size = sizeof all, .output_fields = &star,
                         .n_output_fields = 1};
    if (ins && (st = vdb_resolve_outputs(c, &all, &of, &nof)) != VDB_OK)
        goto out;
    if ((st = vdb_result_open(c, of, nof, 1, false, 0, &s->cur)) != VDB_OK)
        goto out;
    for (size_t k = 0; k < n && st == VDB_OK; k++) {
        if (ins) {
            vdb_column *cols = vdb_calloc(c->ncols, sizeof *cols);
            size_t rows = 0;
            st = cols ? vdb_decode_columns(c, recs[k]->body, recs[k]->len, cols, &rows)
                      : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            for (size_t r = 0; st == VDB_OK && r < rows; r++)
                st = vdb_result_push_cols(c, s->cur, of, nof, cols, r);
            for (size_t i = 0; cols && rows && i < c->ncols; i++)
                vdb_column_free(&cols[i]);
            vdb_free(cols);
        } else {
            /* only the key column is read: the others stay empty */
            vdb_column *cols = vdb_calloc(c->ncols, sizeof *cols);
            st = cols ? vdb_decode_delete(c, recs[k]->body, recs[k]->len, &cols[c->schema->pk])
                      : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            for (size_t r = 0; st == VDB_OK && r < cols[c->schema->pk].rows; r++)
                st = vdb_result_push_cols(c, s->cur, NULL, 0, cols, r);
            if (cols)
                vdb_column_free(&cols[c->schema->pk]);
            vdb_free(cols);
        }
    }
    if (st != VDB_OK)
        goto out;
    s->cur->group_off[1] = s->cur->pks.rows;
    s->cur->ts = h->ts;
    vdb_lock_rd(&c->lock, VDB_RANK_COLL);
    int slot = h->partition_id ? vdb_partition_slot(c, h->partition_id) : -1;
    if (slot >= 0 && !(s->cur_part = vdb_strdup(c->parts[slot].name)))
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    ch->kind = !ins ? VDB_CHANGE_DELETE
               : h->flags & VDB_REC_FLAG_UPSERT ? VDB_CHANGE_UPSERT
                                                : VDB_CHANGE_INSERT;
    ch->ts = h->ts;
    ch->partition = s->cur_part;
    ch->rows = s->cur;
out:
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_free(of);
    return st;
}

/* Looks for a change to deliver: *got = true with *ch filled, or false when there is none
 * yet (*wait gets the shard to wait on). */
static vdb_status try_deliver(vdb_change_stream *s, vdb_change *ch, uint32_t *wait, bool *got)
{
    *got = false;
    for (;;) {
        uint64_t T = UINT64_MAX, frontier = UINT64_MAX;
        for (uint32_t i = 0; i < s->nshards; i++) {
            if (qlen(&s->q[i]))
                T = VDB_MIN(T, s->q[i].v[s->q[i].head].h.ts);
            frontier = VDB_MIN(frontier, vdb_tail_ts(s->tail, i));
        }
        *wait = 0;
        uint64_t low = UINT64_MAX;
        for (uint32_t i = 0; i < s->nshards; i++) {
            uint64_t ts = vdb_tail_ts(s->tail, i);
            if (ts < low && qlen(&s->q[i]) < QUEUE_CAP) {
                low = ts;
                *wait = i;
            }
        }
        if (T == UINT64_MAX || frontier < T) {
            uint64_t mark = T == UINT64_MAX ? frontier : VDB_MIN(frontier, T - 1);
            if (!s->marks || mark <= s->last_mark)
                return VDB_OK;
            s->last_mark = mark;
            vdb_result_free(s->cur);
            s->cur = NULL;
            *ch = (vdb_change){.kind = VDB_CHANGE_CAUGHT_UP, .ts = mark};
            *got = true;
            return VDB_OK;
        }
        cdc_rec *parts[64] = {0};
        size_t n = 0;
        for (uint32_t i = 0; i < s->nshards; i++)
            while (qlen(&s->q[i]) && s->q[i].v[s->q[i].head].h.ts == T && n < 64)
                parts[n++] = &s->q[i].v[s->q[i].head++];
        vdb_status st = VDB_OK;
        if (n && n >= parts[0]->h.parts) { /* else torn: never acknowledged, skipped */
            st = build_change(s, parts, n, ch);
            *got = st == VDB_OK;
            if (*got)
                s->last_mark = VDB_MAX(s->last_mark, T);
        }
        for (size_t k = 0; k < n; k++)
            vdb_free(parts[k]->body);
        if (st != VDB_OK || *got)
            return st;
    }
}

vdb_status vdb_change_stream_next(vdb_change_stream *s, uint64_t timeout_ms, vdb_change *out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(s && out, "vdb_change_stream_next: stream or out is NULL");
    VDB_CHECK_ARG(out->struct_size >= offsetof(vdb_change, partition),
                  "vdb_change.struct_size is %u: set it to sizeof(vdb_change) (%zu)",
                  out->struct_size, sizeof(vdb_change));
    uint64_t start = vdb_mono_ns() / 1000000u;
    for (;;) {
        if (s->broken)
            return vdb_set_errmsg(s->broken, "change stream on '%s': out of memory keeping a "
                                  "record; it cannot go on (open another from the last "
                                  "change's ts + 1)", s->name);
        for (uint32_t i = 0; i < s->nshards; i++) {
            vdb_status st = qlen(&s->q[i]) < QUEUE_CAP
                                ? vdb_tail_poll(s->tail, i, 0, take_record, s)
                                : VDB_OK;
            if (st == VDB_ENOTFOUND)
                return vdb_set_errmsg(VDB_ENOTFOUND, "change stream on '%s': its log is gone "
                                      "(the collection was dropped or truncated): %s",
                                      s->name, vdb_err_get());
            if (st != VDB_OK && st != VDB_ETIMEDOUT)
                return st;
            vdb_err_clear();
            vdb_hold_move(s->db, &s->hold, i, vdb_tail_pos(s->tail, i) + 1);
        }
        vdb_change ch = {0};
        uint32_t wait;
        bool got;
        vdb_status dst = try_deliver(s, &ch, &wait, &got);
        if (dst != VDB_OK)
            return dst;
        if (got) {
            ch.struct_size = out->struct_size;
            return vdb_struct_out(out, sizeof(uint32_t), &ch, sizeof ch, "vdb_change");
        }
        uint64_t spent = vdb_mono_ns() / 1000000u - start;
        if (timeout_ms != UINT64_MAX && spent >= timeout_ms)
            return vdb_set_errmsg(VDB_ETIMEDOUT, "change stream on '%s': no change within "
                                  "%llu ms", s->name, (unsigned long long)timeout_ms);
        uint64_t left = timeout_ms == UINT64_MAX ? UINT64_MAX : timeout_ms - spent;
        vdb_status st = vdb_tail_poll(s->tail, wait, left, take_record, s);
        if (st == VDB_ETIMEDOUT) {
            vdb_err_clear();
            continue; /* the next round says it */
        }
        if (st == VDB_ENOTFOUND)
            return vdb_set_errmsg(VDB_ENOTFOUND, "change stream on '%s': its log is gone (the "
                                  "collection was dropped or truncated): %s", s->name,
                                  vdb_err_get());
        if (st != VDB_OK)
            return st;
    }
}

/* Recovery at open: collections from the meta store, sealed segments from the object store,
 * then each shard's log replayed from its checkpoint into growing segments. A write split
 * over several shards is applied only when all its parts reached the log (or some part is
 * already behind a checkpoint, which proves the write completed). A torn write (a crash
 * between its parts; it was never acknowledged) is voided for good by an ABORT record
 * appended after its part, so that a later checkpoint cannot make it look complete. */
#include <stdio.h>
#include <stdlib.h>

#include "core/aliases.h"
#include "core/apply.h"
#include "core/indexes.h"
#include "core/mmap.h"
#include "core/recovery.h"
#include "core/segment_index.h"

typedef struct coll_list {
    vdb_db *db;
    vdb_status st;
} coll_list;

static int load_collection(void *arg, const char *key, const void *val, size_t len)
{
    coll_list *l = arg;
    vdb_collection *c;
    l->st = vdb_collection_decode(val, len, &c);
    if (l->st != VDB_OK) {
        l->st = vdb_set_errmsg(l->st, "meta key %s: %s", key, vdb_err_get());
        return 1;
    }
    /* mapped or on the heap from now until the close (its mmap.enabled, else options.mmap) */
    if ((l->st = vdb_mmap_decide(l->db, c)) != VDB_OK) {
        vdb_collection_free(c);
        return 1;
    }
    if ((l->st = vdb_catalog_add(&l->db->catalog, c)) != VDB_OK) {
        vdb_collection_free(c);
        return 1;
    }
    return 0;
}

typedef struct seg_loader {
    vdb_db *db;
    vdb_collection *c;
    vdb_status st;
} seg_loader;

static int load_segment(void *arg, const char *key, const void *val, size_t len)
{
    seg_loader *l = arg;
    vdb_segment *s;
    l->st = vdb_segment_load_cached(val, len, &l->c->layout, l->db->obj.be, l->db->obj.h,
                                    vdb_collection_cache(l->db, l->c), &s);
    if (l->st == VDB_OK)
        l->st = vdb_index_segment(l->db, l->c, s, NULL, true); /* saved indexes load here */
    if (l->st == VDB_OK) /* loading an index read every row: those pages may go */
        vdb_segment_drop_mapped_pages(s);
    if (l->st == VDB_OK) {
        l->st = vdb_collection_add_sealed(l->c, s);
        if (l->st != VDB_OK)
            vdb_segment_free(s);
    }
    if (l->st != VDB_OK) {
        l->st = vdb_set_errmsg(l->st, "collection '%s', segment %s cannot be loaded: %s",
                               l->c->name, key, vdb_err_get());
        return 1;
    }
    return 0;
}

static int load_ckpt(void *arg, const char *key, const void *val, size_t len)
{
    seg_loader *l = arg;
    const char *slash = strrchr(key, '/');
    uint64_t shard = slash ? strtoull(slash + 1, NULL, 16) : UINT64_MAX;
    if (len != 16 || shard >= l->c->nshards) {
        l->st = vdb_set_errmsg(VDB_ECORRUPT, "checkpoint %s is malformed", key);
        return 1;
    }
    vdb_shard *sh = &l->c->shards[shard];
    sh->ckpt_pos = sh->last_pos = vdb_get_u64(val);
    sh->ckpt_ts = sh->last_ts = vdb_get_u64((const uint8_t *)val + 8);
    return 0;
}

static int load_hw(void *arg, const char *key, const void *val, size_t len)
{
    seg_loader *l = arg;
    const char *slash = strrchr(key, '/');
    uint64_t shard = slash ? strtoull(slash + 1, NULL, 16) : UINT64_MAX;
    if (len != 8 || shard >= l->c->nshards) {
        l->st = vdb_set_errmsg(VDB_ECORRUPT, "log high-water record %s is malformed", key);
        return 1;
    }
    l->c->shards[shard].hw_pos = vdb_get_u64(val);
    return 0;
}

void vdb_save_log_highwater(vdb_db *db)
{
    size_t n = 0;
    for (size_t i = 0; i < db->catalog.n; i++)
        n += db->catalog.colls[i]->nshards;
    vdb_meta_op *ops = vdb_calloc(n ? n : 1, sizeof *ops);
    char (*keys)[64] = vdb_calloc(n ? n : 1, sizeof *keys);
    uint8_t (*vals)[8] = vdb_calloc(n ? n : 1, sizeof *vals);
    size_t k = 0;
    for (size_t i = 0; ops && keys && vals && i < db->catalog.n; i++) {
        const vdb_collection *c = db->catalog.colls[i];
        for (uint32_t s = 0; s < c->nshards && !c->dropped; s++) {
            const vdb_shard *sh = &c->shards[s];
            if (sh->last_pos <= VDB_MAX(sh->hw_pos, sh->ckpt_pos))
                continue; /* nothing the meta store does not already bound */
            vdb_meta_key(keys[k], sizeof keys[k], "loghw", c->id, s);
            vdb_put_u64(vals[k], sh->last_pos);
            ops[k] = (vdb_meta_op){VDB_META_PUT, keys[k], vals[k], 8};
            k++;
        }
    }
    /* A failure leaves the older (lower) bound, which still holds: only a check is lost. */
    if (k > 0 && db->meta.be->txn(db->meta.h, ops, k) != VDB_OK)
        vdb_err_clear();
    vdb_free(ops);
    vdb_free(keys);
    vdb_free(vals);
}

/* ---- replay ---- */

typedef struct part_count {
    uint64_t ts;
    uint32_t seen, parts;
} part_count;

/* A record a reader's tail read decoded, applied with the others of its read at once. */
typedef struct pending {
    vdb_rec_header h;
    uint64_t pos;
    vdb_column *cols; /* an insert's columns (NULL: a delete's keys in pks, or a tick) */
    size_t rows;
    vdb_column pks;
} pending;

typedef struct replay {
    vdb_db *db;
    vdb_collection *c;
    uint32_t shard;
    bool counting;       /* pass 1: count the parts of multi-shard writes */
    part_count *counts;
    size_t ncounts, cap;
    uint64_t max_ckpt_ts;
    part_count *torn;    /* torn parts found in pass 2: ts, and the shard in `seen` */
    size_t ntorn, torn_cap;
    /* a reader: records at or after bound_ts (the first write not yet whole) and past the
     * channel's seen_pos wait for a later read; live: the tail of a state that answers
     * (vdb_replay_tail), its records collected in pend and checked for gaps (expect) */
    uint64_t bound_ts;
    bool live, gap;
    uint64_t expect;
    pending *pend;
    size_t npend, pend_cap;
    vdb_status st;
} replay;

static int add_torn(replay *r, uint64_t ts)
{
    if (r->ntorn == r->torn_cap) {
        size_t cap = r->torn_cap ? r->torn_cap * 2 : 8;
        part_count *v = vdb_realloc(r->torn, cap * sizeof *v);
        if (!v) {
            r->st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            return 1;
        }
        r->torn = v;
        r->torn_cap = cap;
    }
    r->torn[r->ntorn++] = (part_count){ts, r->shard, 0};
    return 0;
}

static part_count *find_count(replay *r, uint64_t ts)
{
    for (size_t i = r->ncounts; i-- > 0;)
        if (r->counts[i].ts == ts)
            return &r->counts[i];
    return NULL;
}

static int count_record(replay *r, const vdb_rec_header *h)
{
    if (h->type == VDB_REC_ABORT) { /* parts = 0 marks a voided write */
        part_count *pc = find_count(r, h->ts);
        if (pc)
            pc->parts = 0;
        return 0;
    }
    if (h->parts <= 1)
        return 0;
    part_count *pc = find_count(r, h->ts);
    if (!pc) {
        if (r->ncounts == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 64;
            part_count *v = vdb_realloc(r->counts, cap * sizeof *v);
            if (!v) {
                r->st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
                return 1;
            }
            r->counts = v;
            r->cap = cap;
        }
        pc = &r->counts[r->ncounts++];
        *pc = (part_count){h->ts, 0, h->parts};
    }
    pc->seen++;
    return 0;
}

/* Whether a part of a multi-shard write is to be applied (false: torn or voided). */
static bool write_complete(replay *r, const vdb_rec_header *h)
{
    part_count *pc = find_count(r, h->ts);
    if (pc && pc->parts == 0)
        return false; /* voided by an ABORT record */
    if (h->ts <= r->max_ckpt_ts)
        return true; /* another part is behind a checkpoint: the write completed */
    return pc && pc->seen >= pc->parts;
}

static void free_columns(const vdb_collection *c, vdb_column *cols)
{
    for (size_t i = 0; cols && i < c->ncols; i++)
        vdb_column_free(&cols[i]);
    vdb_free(cols);
}

/* Takes cols and *pks (NULL: none) on success and on failure alike. */
static int add_pending(replay *r, const vdb_rec_header *h, uint64_t pos, vdb_column *cols,
                       size_t rows, vdb_column *pks)
{
    if (r->npend == r->pend_cap) {
        size_t cap = r->pend_cap ? r->pend_cap * 2 : 64;
        pending *v = vdb_realloc(r->pend, cap * sizeof *v);
        if (!v) {
            free_columns(r->c, cols);
            if (pks)
                vdb_column_free(pks);
            r->st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            return 1;
        }
        r->pend = v;
        r->pend_cap = cap;
    }
    pending *p = &r->pend[r->npend++];
    *p = (pending){.h = *h, .pos = pos, .cols = cols, .rows = rows};
    if (pks)
        p->pks = *pks;
    return 0;
}

static void free_pending(replay *r)
{
    for (size_t i = 0; i < r->npend; i++) {
        free_columns(r->c, r->pend[i].cols);
        vdb_column_free(&r->pend[i].pks);
    }
    vdb_free(r->pend);
    r->pend = NULL;
    r->npend = r->pend_cap = 0;
}

static int replay_record(void *arg, uint64_t pos, const void *rec, size_t len)
{
    replay *r = arg;
    vdb_collection *c = r->c;
    vdb_rec_header h;
    const void *body;
    size_t blen;
    r->st = vdb_rec_decode(rec, len, &h, &body, &blen);
    if (r->st != VDB_OK)
        goto fail;
    if (h.collection_id != c->id || h.shard != r->shard) {
        r->st = vdb_set_errmsg(VDB_ECORRUPT, "record at %llu belongs to another channel",
                               (unsigned long long)pos);
        goto fail;
    }
    vdb_shard *sh = &c->shards[r->shard];
    if (r->db->read_only) {
        /* a write not yet whole in every channel, and all after it, wait for the next read
         * (each channel's timestamps increase: nothing after it is applied before it) */
        if (pos > sh->seen_pos || h.ts >= r->bound_ts)
            return 1;
        if (r->live && pos != r->expect) { /* truncated under the read: load anew */
            r->gap = true;
            return 1;
        }
        r->expect = pos + 1;
        if (!r->counting && !r->live)
            sh->follow_pos = pos;
    }
    if (h.type == VDB_REC_TICK) { /* time ticks carry nothing to apply (tick.c) */
        if (r->counting)
            return 0;
        if (r->live)
            return add_pending(r, &h, pos, NULL, 0, NULL);
        sh->tick_pos = pos;
        sh->tick_ts = h.ts;
        return 0;
    }
    if (r->counting)
        return count_record(r, &h);
    if (h.type == VDB_REC_ABORT)
        return r->live ? add_pending(r, &h, pos, NULL, 0, NULL) : 0;
    if (h.parts > 1 && !write_complete(r, &h)) {
        part_count *pc = find_count(r, h.ts);
        /* torn (never acknowledged): void it unless an ABORT already did */
        if (pc && pc->parts == 0)
            return r->live ? add_pending(r, &h, pos, NULL, 0, NULL) : 0;
        return add_torn(r, h.ts);
    }
    if (r->live && (h.type == VDB_REC_INSERT || h.type == VDB_REC_DELETE)) {
        vdb_column *cols = NULL, pks = {0};
        size_t rows = 0;
        if (h.type == VDB_REC_INSERT) {
            cols = vdb_calloc(c->ncols, sizeof *cols);
            r->st = cols ? vdb_decode_columns(c, body, blen, cols, &rows)
                         : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        } else {
            r->st = vdb_decode_delete(c, body, blen, &pks);
        }
        if (r->st == VDB_OK)
            return add_pending(r, &h, pos, cols, rows, &pks);
        free_columns(c, cols);
        goto fail;
    }
    if (h.type == VDB_REC_INSERT) {
        vdb_column *cols = vdb_calloc(c->ncols, sizeof *cols);
        size_t rows;
        r->st = cols ? vdb_decode_columns(c, body, blen, cols, &rows)
                     : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        if (r->st == VDB_OK) {
            r->st = vdb_apply_prepare(r->db, c, &h, cols, rows);
            if (r->st == VDB_OK)
                r->st = vdb_apply_insert(c, &h, cols, rows, pos);
            for (size_t i = 0; i < c->ncols; i++)
                vdb_column_free(&cols[i]);
        }
        vdb_free(cols);
    } else if (h.type == VDB_REC_DELETE) {
        vdb_column pks;
        r->st = vdb_decode_delete(c, body, blen, &pks);
        if (r->st == VDB_OK) {
            r->st = vdb_apply_delete(c, h.shard, h.partition_id, &pks, h.ts, pos);
            vdb_column_free(&pks);
        }
    }
    if (r->st != VDB_OK)
        goto fail;
    return 0;
fail:
    r->st = vdb_set_errmsg(r->st, "replaying channel %s at position %llu: %s",
                           c->shards[r->shard].channel, (unsigned long long)pos, vdb_err_get());
    return 1;
}

vdb_status vdb_check_channel_end(vdb_db *db, const vdb_collection *c, uint32_t s)
{
    const vdb_shard *sh = &c->shards[s];
    uint64_t bound = VDB_MAX(sh->ckpt_pos, sh->hw_pos);
    if (bound == 0)
        return VDB_OK;
    uint64_t last = 0;
    vdb_status st = vdb_log_store_last_pos(&db->log, sh->channel, &last);
    if (st == VDB_EUNSUPPORTED) { /* a backend without last_pos: nothing to compare */
        vdb_err_clear();
        return VDB_OK;
    }
    if (st != VDB_OK)
        return st;
    if (last >= bound)
        return VDB_OK;
    char key[96], where[256] = "";
    bool ckpt = sh->ckpt_pos >= sh->hw_pos;
    vdb_meta_key(key, sizeof key, ckpt ? "ckpt" : "loghw", c->id, s);
    if (!db->opts.log_uri) /* the default wal:// folder: name the channel's folder */
        snprintf(where, sizeof where, " in %.100s/wal/%s", db->path, sh->channel);
    return vdb_set_errmsg(VDB_ECORRUPT,
                          "collection '%s': log channel %s%s ends at position %llu, before %s "
                          "%llu (meta %s): the log lost records it had (its files removed or "
                          "cut)",
                          c->name, sh->channel, where, (unsigned long long)last,
                          ckpt ? "its checkpoint" : "the position it had at the last close",
                          (unsigned long long)bound, key);
}

/* The first timestamp of a multi-shard write not yet whole in every channel (a reader
 * applies nothing from it on), or UINT64_MAX. */
static uint64_t first_incomplete(const replay *r)
{
    uint64_t ts = UINT64_MAX;
    for (size_t i = 0; i < r->ncounts; i++) {
        const part_count *pc = &r->counts[i];
        if (pc->parts && pc->seen < pc->parts && pc->ts > r->max_ckpt_ts)
            ts = VDB_MIN(ts, pc->ts);
    }
    return ts;
}

/* Both passes over c's channels, each from its position after `from` (the checkpoint at
 * recovery, what a reader applied for a tail). */
static vdb_status replay_passes(vdb_db *db, vdb_collection *c, replay *r, bool from_follow)
{
    for (uint32_t s = 0; s < c->nshards; s++)
        r->max_ckpt_ts = VDB_MAX(r->max_ckpt_ts, c->shards[s].ckpt_ts);
    r->bound_ts = UINT64_MAX;
    vdb_status st = VDB_OK;
    for (int pass = 0; pass < 2 && st == VDB_OK && !r->gap; pass++) {
        r->counting = pass == 0;
        if (r->counting && c->nshards == 1)
            continue; /* single-shard writes are one record: nothing to count */
        if (!r->counting && db->read_only && c->nshards > 1)
            r->bound_ts = first_incomplete(r);
        for (uint32_t s = 0; s < c->nshards && st == VDB_OK && !r->gap; s++) {
            vdb_shard *sh = &c->shards[s];
            uint64_t from = from_follow ? sh->follow_pos : sh->ckpt_pos;
            r->shard = s;
            r->st = VDB_OK;
            r->expect = from + 1;
            /* a reader notes how far the writer had got and reads no further in either
             * pass: what it leaves (a write in progress) is no reason to load again
             * (follow.c), and the passes see the same records */
            if (db->read_only && (r->counting || c->nshards == 1) &&
                (st = vdb_log_store_last_pos(&db->log, sh->channel, &sh->seen_pos)) != VDB_OK)
                break;
            if (db->read_only && !from_follow && !r->counting)
                sh->follow_pos = sh->ckpt_pos;
            st = db->log.be->read(db->log.h, sh->channel, from + 1, replay_record, r);
            if (st == VDB_OK)
                st = r->st;
        }
    }
    return st;
}

static vdb_status replay_collection(vdb_db *db, vdb_collection *c)
{
    replay r = {.db = db, .c = c};
    vdb_status st = replay_passes(db, c, &r, false);
    /* The checkpoint in the meta store bounds what the log must hold: a channel that ends
     * before it lost records (a file removed or cut), and appending to it would hand out
     * positions below the checkpoint, which the next open would skip. */
    for (uint32_t s = 0; s < c->nshards && st == VDB_OK; s++)
        st = vdb_check_channel_end(db, c, s);
    /* ABORT records after the torn parts, in the channels that hold them (a reader writes
     * nothing: to it a torn part is a write still in progress, left unapplied) */
    for (size_t i = 0; i < r.ntorn && st == VDB_OK && !db->read_only; i++) {
        uint32_t shard = r.torn[i].seen;
        vdb_rec_header h = {.type = VDB_REC_ABORT, .parts = 1, .shard = shard,
                            .ts = r.torn[i].ts, .collection_id = c->id};
        vdb_buf b = {0};
        uint64_t pos;
        vdb_rec_encode(&h, NULL, 0, &b);
        st = b.oom ? vdb_set_errmsg(VDB_ENOMEM, "out of memory")
                   : db->log.be->append(db->log.h, c->shards[shard].channel, b.p, b.len, &pos);
        if (st == VDB_OK)
            c->shards[shard].last_pos = pos;
        vdb_buf_free(&b);
    }
    vdb_free(r.counts);
    vdb_free(r.torn);
    return st;
}

vdb_status vdb_replay_tail(vdb_db *db, vdb_collection *c)
{
    replay r = {.db = db, .c = c, .live = true};
    vdb_status st = replay_passes(db, c, &r, true);
    if (st == VDB_OK && r.gap)
        st = vdb_set_errmsg(VDB_ECONFLICT, "collection '%s': its log was truncated under the "
                            "reader's read", c->name);
    /* growing segments with room for the rows (each takes c->lock), then every record at
     * once under it, as the writer applies a write's parts: no read sees part of one */
    for (size_t i = 0; i < r.npend && st == VDB_OK; i++)
        if (r.pend[i].cols)
            st = vdb_apply_prepare(db, c, &r.pend[i].h, r.pend[i].cols, r.pend[i].rows);
    if (st == VDB_OK && r.npend) {
        vdb_lock_wr(&c->lock, VDB_RANK_COLL);
        for (size_t i = 0; i < r.npend && st == VDB_OK; i++) {
            pending *p = &r.pend[i];
            vdb_shard *sh = &c->shards[p->h.shard];
            if (p->cols)
                st = vdb_apply_insert(c, &p->h, p->cols, p->rows, p->pos);
            else if (p->h.type == VDB_REC_DELETE)
                st = vdb_apply_delete(c, p->h.shard, p->h.partition_id, &p->pks, p->h.ts,
                                      p->pos);
            else if (p->h.type == VDB_REC_TICK) {
                sh->tick_pos = p->pos;
                sh->tick_ts = p->h.ts;
            }
            if (st == VDB_OK)
                sh->follow_pos = p->pos;
        }
        if (st != VDB_OK)
            c->failed = true; /* part applied: the next load replaces the state */
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    }
    free_pending(&r);
    vdb_free(r.counts);
    vdb_free(r.torn);
    return st;
}

static int skip_ddl(void *arg, uint64_t pos, const void *rec, size_t len)
{
    (void)arg;
    (void)pos;
    (void)rec;
    (void)len;
    return 0;
}

vdb_status vdb_recover(vdb_db *db)
{
    coll_list cl = {db, VDB_OK};
    vdb_status st = db->meta.be->scan(db->meta.h, "coll/", load_collection, &cl);
    if (st == VDB_OK)
        st = cl.st;
    if (st == VDB_OK)
        st = vdb_load_aliases(db);
    for (size_t i = 0; i < db->catalog.n && st == VDB_OK; i++) {
        vdb_collection *c = db->catalog.colls[i];
        char prefix[64];
        seg_loader l = {db, c, VDB_OK};
        snprintf(prefix, sizeof prefix, "seg/%016llx/", (unsigned long long)c->id);
        st = vdb_load_indexes(db, c);
        if (st == VDB_OK)
            st = db->meta.be->scan(db->meta.h, prefix, load_segment, &l);
        if (st == VDB_OK)
            st = l.st;
        snprintf(prefix, sizeof prefix, "ckpt/%016llx/", (unsigned long long)c->id);
        if (st == VDB_OK)
            st = db->meta.be->scan(db->meta.h, prefix, load_ckpt, &l);
        if (st == VDB_OK)
            st = l.st;
        snprintf(prefix, sizeof prefix, "loghw/%016llx/", (unsigned long long)c->id);
        if (st == VDB_OK)
            st = db->meta.be->scan(db->meta.h, prefix, load_hw, &l);
        if (st == VDB_OK)
            st = l.st;
        if (st == VDB_OK)
            st = replay_collection(db, c);
    }
    /* The DDL channel holds nothing recovery needs, but it is read through (it is small) so
     * that damage to it is reported now rather than at the next DDL. */
    if (st == VDB_OK)
        st = db->log.be->read(db->log.h, "ddl", 0, skip_ddl, NULL);
    /* the vector indexes that were not saved (or were damaged) build in the background (a
     * reader searches those segments exactly until the writer saves their index) */
    for (size_t i = 0; i < db->catalog.n && st == VDB_OK && !db->read_only; i++)
        for (size_t k = 0; k < db->catalog.colls[i]->nsealed; k++)
            vdb_index_queue(db, db->catalog.colls[i], db->catalog.colls[i]->sealed[k]);
    return st;
}

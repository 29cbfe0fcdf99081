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
    if (h.type == VDB_REC_TICK) { /* time ticks carry nothing to apply (tick.c) */
        c->shards[r->shard].tick_pos = pos;
        c->shards[r->shard].tick_ts = h.ts;
        return 0;
    }
    if (r->counting)
        return count_record(r, &h);
    if (h.type == VDB_REC_ABORT)
        return 0;
    if (h.parts > 1 && !write_complete(r, &h)) {
        part_count *pc = find_count(r, h.ts);
        /* torn (never acknowledged): void it unless an ABORT already did */
        return pc && pc->parts == 0 ? 0 : add_torn(r, h.ts);
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

static vdb_status replay_collection(vdb_db *db, vdb_collection *c)
{
    replay r = {.db = db, .c = c};
    for (uint32_t s = 0; s < c->nshards; s++)
        r.max_ckpt_ts = VDB_MAX(r.max_ckpt_ts, c->shards[s].ckpt_ts);
    vdb_status st = VDB_OK;
    for (int pass = 0; pass < 2 && st == VDB_OK; pass++) {
        r.counting = pass == 0;
        if (r.counting && c->nshards == 1)
            continue; /* single-shard writes are one record: nothing to count */
        for (uint32_t s = 0; s < c->nshards && st == VDB_OK; s++) {
            r.shard = s;
            r.st = VDB_OK;
            /* a reader notes how far the writer had got: what it skips (a write in progress)
             * is no reason to load again (follow.c) */
            if (db->read_only && (r.counting || c->nshards == 1) &&
                (st = vdb_log_store_last_pos(&db->log, c->shards[s].channel,
                                              &c->shards[s].seen_pos)) != VDB_OK)
                break;
            st = db->log.be->read(db->log.h, c->shards[s].channel, c->shards[s].ckpt_pos + 1,
                                  replay_record, &r);
            if (st == VDB_OK)
                st = r.st;
        }
    }
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

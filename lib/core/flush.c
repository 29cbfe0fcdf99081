/* Sealing and compaction. Sealing writes a shard's growing segments and pending deletes to
 * the object store and records them, with the shard's checkpoint, in one meta transaction;
 * the log before the checkpoint is then truncated. Compaction merges small sealed segments
 * and purges rows deleted before the retention horizon, never a row that time travel inside
 * the window can still see. */
#include <stdio.h>

#include "core.h"

typedef struct txn_builder {
    size_t n, cap;
    vdb_meta_op *ops;
    char **keys;
    vdb_buf *vals;
    bool oom;
} txn_builder;

static void txn_add(txn_builder *t, vdb_meta_op_kind kind, const char *key, vdb_buf *val)
{
    if (t->oom)
        return;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        vdb_meta_op *ops = vdb_realloc(t->ops, cap * sizeof *ops);
        char **keys = ops ? vdb_realloc(t->keys, cap * sizeof *keys) : NULL;
        vdb_buf *vals = keys ? vdb_realloc(t->vals, cap * sizeof *vals) : NULL;
        if (ops)
            t->ops = ops;
        if (keys)
            t->keys = keys;
        if (!vals) {
            t->oom = true;
            return;
        }
        t->vals = vals;
        t->cap = cap;
    }
    t->keys[t->n] = vdb_strdup(key);
    memset(&t->vals[t->n], 0, sizeof(vdb_buf));
    if (val) { /* take the buffer */
        t->vals[t->n] = *val;
        memset(val, 0, sizeof *val);
    }
    if (!t->keys[t->n]) {
        vdb_buf_free(&t->vals[t->n]);
        t->oom = true;
        return;
    }
    t->ops[t->n] = (vdb_meta_op){kind, t->keys[t->n], t->vals[t->n].p, t->vals[t->n].len};
    t->n++;
}

static void txn_free(txn_builder *t)
{
    for (size_t i = 0; i < t->n; i++) {
        vdb_free(t->keys[i]);
        vdb_buf_free(&t->vals[i]);
    }
    vdb_free(t->ops);
    vdb_free(t->keys);
    vdb_free(t->vals);
}

static vdb_status txn_commit(vdb_db *db, txn_builder *t)
{
    if (t->oom)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    return t->n ? db->meta.be->txn(db->meta.h, t->ops, t->n) : VDB_OK;
}

static vdb_status add_sealed(vdb_collection *c, vdb_segment *s)
{
    if (c->nsealed == c->sealed_cap) {
        size_t cap = c->sealed_cap ? c->sealed_cap * 2 : 16;
        vdb_segment **v = vdb_realloc(c->sealed, cap * sizeof *v);
        if (!v)
            return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        c->sealed = v;
        c->sealed_cap = cap;
    }
    c->sealed[c->nsealed++] = s;
    return VDB_OK;
}

vdb_status vdb_collection_add_sealed(vdb_collection *c, vdb_segment *s) { return add_sealed(c, s); }

vdb_status vdb_seal_shard(vdb_db *db, vdb_collection *c, uint32_t shard)
{
    vdb_shard *sh = &c->shards[shard];
    txn_builder t = {0};
    vdb_status st = VDB_OK;
    char key[128];
    bool any_growing = false, mutated = false;
    /* write_mu keeps other writers out, so the growing segments only change here; readers
     * go on searching them while their files are written */
    vdb_seal_pending *pending = vdb_calloc(sh->ngrowing + 1, sizeof *pending);
    if (!pending)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (size_t g = 0; g < sh->ngrowing && st == VDB_OK; g++) {
        vdb_segment *s = sh->growing[g];
        if (!s || vdb_segment_rows(s) == 0)
            continue;
        vdb_buf m = {0};
        st = vdb_segment_seal_write(s, db->obj.be, db->obj.h, c->seg_prefix, &m, &pending[g]);
        if (st == VDB_OK) {
            vdb_segment_info info;
            vdb_segment_get_info(s, &info);
            vdb_meta_key(key, sizeof key, "seg", c->id, info.id);
            txn_add(&t, VDB_META_PUT, key, &m);
            any_growing = true;
        }
        vdb_buf_free(&m);
    }
    /* persisting deletes changes a sealed segment readers may be searching: lock them out
     * (delete logs are small) */
    pthread_rwlock_wrlock(&c->lock);
    for (size_t i = 0; i < c->nsealed && st == VDB_OK; i++) {
        vdb_segment_info info;
        vdb_segment_get_info(c->sealed[i], &info);
        if (info.shard != shard || info.deletes == info.persisted_deletes)
            continue;
        vdb_buf m = {0};
        bool wrote = false;
        st = vdb_segment_persist_deletes(c->sealed[i], db->obj.be, db->obj.h, c->seg_prefix, &m,
                                         &wrote);
        if (st == VDB_OK && wrote) {
            mutated = true;
            vdb_meta_key(key, sizeof key, "seg", c->id, info.id);
            txn_add(&t, VDB_META_PUT, key, &m);
        }
        vdb_buf_free(&m);
    }
    pthread_rwlock_unlock(&c->lock);
    if (st == VDB_OK && t.n == 0) {
        vdb_free(pending);
        return VDB_OK; /* nothing to seal */
    }
    if (st == VDB_OK) {
        vdb_buf ck = {0};
        vdb_buf_u64(&ck, sh->last_pos);
        vdb_buf_u64(&ck, sh->last_ts);
        vdb_meta_key(key, sizeof key, "ckpt", c->id, shard);
        txn_add(&t, VDB_META_PUT, key, &ck);
        vdb_buf_free(&ck);
        st = txn_commit(db, &t);
        mutated = mutated || st != VDB_OK; /* the meta store may or may not have it */
    }
    txn_free(&t);
    if (st != VDB_OK) {
        for (size_t g = 0; g < sh->ngrowing; g++)
            vdb_seal_pending_free(&pending[g]);
        vdb_free(pending);
        /* A failed file write changed nothing and is retried by the next seal; once the
         * meta store may disagree with memory, only a reopen can rebuild it. */
        if (mutated)
            c->failed = true;
        return st;
    }
    if (any_growing) {
        size_t first_new = c->nsealed;
        pthread_rwlock_wrlock(&c->lock);
        for (size_t g = 0; g < sh->ngrowing && st == VDB_OK; g++) {
            vdb_segment *s = sh->growing[g];
            if (!s || vdb_segment_rows(s) == 0)
                continue;
            vdb_segment_seal_finish(s, &pending[g]);
            st = add_sealed(c, s);
            if (st == VDB_OK)
                sh->growing[g] = NULL;
        }
        pthread_rwlock_unlock(&c->lock);
        if (st != VDB_OK)
            c->failed = true;
        /* scalar indexes now, vector indexes in the background; a failed build only means
         * the segment is scanned. write_mu keeps c->sealed from changing meanwhile. */
        for (size_t i = first_new; st == VDB_OK && i < c->nsealed; i++) {
            vdb_index_segment(db, c, c->sealed[i], &c->lock, false);
            vdb_index_queue(db, c, c->sealed[i]);
        }
    }
    vdb_free(pending);
    sh->ckpt_pos = sh->last_pos;
    sh->ckpt_ts = sh->last_ts;
    /* everything up to the checkpoint is in sealed segments now */
    db->log.be->truncate(db->log.h, sh->channel, sh->ckpt_pos + 1);
    return st;
}

static vdb_status flush_collection(vdb_db *db, vdb_collection *c)
{
    pthread_mutex_lock(&c->write_mu);
    vdb_status st = c->failed ? vdb_set_errmsg(VDB_EIO, "collection '%s' refuses writes after "
                                               "a failed write; reopen the database", c->name)
                              : VDB_OK;
    for (uint32_t s = 0; s < c->nshards && st == VDB_OK; s++)
        st = vdb_seal_shard(db, c, s);
    pthread_mutex_unlock(&c->write_mu);
    return st;
}

vdb_status vdb_flush(vdb_db *db, const char *collection)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db, "vdb_flush: db is NULL");
    pthread_rwlock_rdlock(&db->catalog);
    vdb_status st = VDB_OK;
    if (collection) {
        vdb_collection *c;
        st = vdb_catalog_lookup(db, collection, &c);
        if (st == VDB_OK)
            st = flush_collection(db, c);
    } else {
        for (size_t i = 0; i < db->ncolls && st == VDB_OK; i++)
            st = flush_collection(db, db->colls[i]);
    }
    pthread_rwlock_unlock(&db->catalog);
    return st;
}

/* ---- compaction ---- */

/* Whether a sealed segment has rows that no read inside the retention window can see. */
static size_t purgeable_rows(vdb_segment *s, uint64_t horizon, uint64_t *bits)
{
    size_t rows = vdb_segment_rows(s);
    vdb_segment_visible(s, horizon, bits);
    const uint64_t *ts = vdb_segment_timestamps(s);
    size_t n = 0;
    for (size_t r = 0; r < rows; r++)
        if (!(bits[r / 64] >> (r % 64) & 1) && ts[r] <= horizon)
            n++;
    return n;
}

/* Merges inputs (same shard and partition) into one new sealed segment. */
static vdb_status merge_segments(vdb_db *db, vdb_collection *c, vdb_segment **in, size_t nin,
                                 uint64_t horizon)
{
    vdb_segment_info info0;
    vdb_segment_get_info(in[0], &info0);
    uint64_t id;
    vdb_segment *out = NULL;
    vdb_column *tmp = vdb_calloc(c->ncols, sizeof *tmp);
    uint32_t *idx = NULL;
    uint64_t *bits = NULL, *kept_ts = NULL;
    txn_builder t = {0};
    vdb_buf m = {0};
    uint64_t *old_ids = vdb_calloc(nin, sizeof *old_ids);
    vdb_status st = tmp && old_ids ? vdb_db_alloc_ids(db, 1, &id)
                                   : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    if (st == VDB_OK)
        st = vdb_segment_new(id, info0.partition_id, info0.shard, &c->layout, &out);
    uint64_t end_pos = 0;
    for (size_t k = 0; k < nin && st == VDB_OK; k++) {
        vdb_segment *s = in[k];
        vdb_segment_info info;
        vdb_segment_get_info(s, &info);
        end_pos = VDB_MAX(end_pos, info.end_pos);
        size_t rows = info.rows;
        vdb_free(idx);
        vdb_free(bits);
        vdb_free(kept_ts);
        idx = vdb_malloc((rows + 1) * sizeof *idx);
        bits = vdb_calloc(rows / 64 + 1, sizeof *bits);
        kept_ts = vdb_malloc((rows + 1) * sizeof *kept_ts);
        if (!idx || !bits || !kept_ts) {
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            break;
        }
        vdb_segment_visible(s, horizon, bits);
        const uint64_t *ts = vdb_segment_timestamps(s);
        size_t n = 0;
        for (size_t r = 0; r < rows; r++)
            if ((bits[r / 64] >> (r % 64) & 1) || ts[r] > horizon) {
                kept_ts[n] = ts[r];
                idx[n++] = (uint32_t)r;
            }
        for (size_t i = 0; i < c->ncols && st == VDB_OK; i++) {
            vdb_column_free(&tmp[i]);
            vdb_column_init(&tmp[i], c->types[i], c->dims[i], c->nullable[i]);
            st = vdb_column_append_rows(&tmp[i], vdb_segment_column(s, i), idx, n);
        }
        /* rows of one write share a timestamp: append them run by run */
        for (size_t a = 0; a < n && st == VDB_OK;) {
            size_t b = a + 1;
            while (b < n && kept_ts[b] == kept_ts[a])
                b++;
            st = vdb_segment_append(out, tmp, a, b - a, kept_ts[a]);
            a = b;
        }
    }
    for (size_t k = 0; k < nin && st == VDB_OK; k++) {
        size_t nd;
        const vdb_delete_rec *d = vdb_segment_deletes(in[k], &nd);
        for (size_t i = 0; i < nd && st == VDB_OK; i++) {
            bool hit;
            if (d[i].ts > horizon)
                st = vdb_segment_delete(out, d[i].pk, d[i].ts, &hit);
        }
    }
    char key[128];
    for (size_t k = 0; k < nin && st == VDB_OK; k++) {
        vdb_segment_info info;
        vdb_segment_get_info(in[k], &info);
        vdb_meta_key(key, sizeof key, "seg", c->id, info.id);
        old_ids[k] = info.id;
        txn_add(&t, VDB_META_DELETE, key, NULL);
    }
    if (st == VDB_OK) {
        vdb_segment_set_end_pos(out, end_pos);
        st = vdb_segment_seal(out, db->obj.be, db->obj.h, c->seg_prefix, &m);
        if (st == VDB_OK)
            vdb_index_segment(db, c, out, NULL, false); /* not yet visible; failure: scanned */
    }
    if (st == VDB_OK) {
        vdb_meta_key(key, sizeof key, "seg", c->id, id);
        if (vdb_segment_rows(out) > 0)
            txn_add(&t, VDB_META_PUT, key, &m);
        st = txn_commit(db, &t);
    }
    if (st == VDB_OK) {
        pthread_rwlock_wrlock(&c->lock);
        size_t kept = 0;
        for (size_t i = 0; i < c->nsealed; i++) {
            bool gone = false;
            for (size_t k = 0; k < nin; k++)
                gone |= c->sealed[i] == in[k];
            if (gone)
                vdb_segment_free(c->sealed[i]);
            else
                c->sealed[kept++] = c->sealed[i];
        }
        c->nsealed = kept;
        vdb_segment *added = NULL;
        if (vdb_segment_rows(out) > 0) {
            add_sealed(c, out); /* cannot fail: the array just shrank */
            added = out;
            out = NULL;
        }
        pthread_rwlock_unlock(&c->lock);
        if (added) /* its vector indexes build in the background; it is scanned till then */
            vdb_index_queue(db, c, added);
        /* nothing reads the old files after the txn */
        for (size_t k = 0; k < nin; k++)
            vdb_segment_objects_delete(db, c, old_ids[k]);
        if (out) /* everything was purged: the empty output is not kept */
            vdb_segment_objects_delete(db, c, id);
    }
    vdb_free(old_ids);
    for (size_t i = 0; tmp && i < c->ncols; i++)
        vdb_column_free(&tmp[i]);
    vdb_free(tmp);
    vdb_free(idx);
    vdb_free(bits);
    vdb_free(kept_ts);
    vdb_buf_free(&m);
    txn_free(&t);
    vdb_segment_free(out);
    return st;
}

vdb_status vdb_compact_collection(vdb_db *db, vdb_collection *c)
{
    uint64_t horizon = vdb_db_horizon(db);
    size_t small_rows = db->opts.segment_max_rows / 2;
    vdb_status st = VDB_OK;
    vdb_segment **group = vdb_calloc(c->nsealed + 1, sizeof *group);
    if (!group)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (uint32_t sh = 0; sh < c->nshards && st == VDB_OK; sh++) {
        for (size_t p = 0; p < c->nparts && st == VDB_OK; p++) {
            size_t n = 0;
            for (size_t i = 0; i < c->nsealed; i++) {
                vdb_segment_info info;
                vdb_segment_get_info(c->sealed[i], &info);
                if (info.shard == sh && info.partition_id == c->parts[p].id &&
                    info.rows < small_rows)
                    group[n++] = c->sealed[i];
            }
            if (n >= db->opts.compaction_min_segments) {
                st = merge_segments(db, c, group, n, horizon);
                continue;
            }
            /* a single segment is rewritten when a tenth of it can be purged */
            for (size_t i = 0; i < c->nsealed && st == VDB_OK; i++) {
                vdb_segment *s = c->sealed[i];
                vdb_segment_info info;
                vdb_segment_get_info(s, &info);
                if (info.shard != sh || info.partition_id != c->parts[p].id || !info.deletes)
                    continue;
                uint64_t *bits = vdb_calloc(info.rows / 64 + 1, sizeof *bits);
                if (!bits) {
                    st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
                    break;
                }
                size_t purge = purgeable_rows(s, horizon, bits);
                vdb_free(bits);
                if (purge > 0 && purge * 10 >= info.rows) {
                    st = merge_segments(db, c, &s, 1, horizon);
                    i = (size_t)-1; /* the array changed: rescan */
                }
            }
        }
    }
    vdb_free(group);
    return st;
}

vdb_status vdb_compact(vdb_db *db, const char *collection)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db, "vdb_compact: db is NULL");
    pthread_rwlock_rdlock(&db->catalog);
    vdb_status st = VDB_OK;
    for (size_t i = 0; i < db->ncolls && st == VDB_OK; i++) {
        vdb_collection *c = db->colls[i];
        if (collection && strcmp(c->name, collection))
            continue;
        pthread_mutex_lock(&c->write_mu);
        if (!c->failed)
            st = vdb_compact_collection(db, c);
        pthread_mutex_unlock(&c->write_mu);
    }
    if (collection && st == VDB_OK && !vdb_catalog_find(db, collection))
        st = vdb_set_errmsg(VDB_ENOTFOUND, "collection '%s' does not exist", collection);
    pthread_rwlock_unlock(&db->catalog);
    return st;
}

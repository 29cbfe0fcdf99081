/* Sealing: a shard's growing segments and its sealed segments' new deletes written to the
 * object store, recorded with the shard's checkpoint in one meta transaction; the log before
 * the checkpoint is then truncated. And vdb_flush, which seals every shard. */
#include <stdio.h>

#include "core/metatxn.h"
#include "core/seal.h"
#include "core/segment_index.h"

vdb_status vdb_seal_shard(vdb_db *db, vdb_collection *c, uint32_t shard)
{
    vdb_shard *sh = &c->shards[shard];
    vdb_metatxn t = {0};
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
            vdb_metatxn_add(&t, VDB_META_PUT, key, &m);
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
            vdb_metatxn_add(&t, VDB_META_PUT, key, &m);
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
        vdb_metatxn_add(&t, VDB_META_PUT, key, &ck);
        vdb_buf_free(&ck);
        st = vdb_metatxn_commit(db, &t);
        mutated = mutated || st != VDB_OK; /* the meta store may or may not have it */
    }
    vdb_metatxn_free(&t);
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
            st = vdb_collection_add_sealed(c, s);
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
    pthread_rwlock_rdlock(&db->catalog.lock);
    vdb_status st = VDB_OK;
    if (collection) {
        vdb_collection *c;
        st = vdb_catalog_lookup(&db->catalog, collection, &c);
        if (st == VDB_OK)
            st = flush_collection(db, c);
    } else {
        for (size_t i = 0; i < db->catalog.n && st == VDB_OK; i++)
            st = flush_collection(db, db->catalog.colls[i]);
    }
    pthread_rwlock_unlock(&db->catalog.lock);
    return st;
}


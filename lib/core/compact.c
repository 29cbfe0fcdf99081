/* Compaction: small sealed segments of a shard and partition merged into one, and rows
 * deleted before the retention horizon purged, never a row that time travel inside the
 * window can still see. */
#include <stdio.h>

#include "core/compact.h"
#include "core/follow.h"
#include "core/ids.h"
#include "core/metatxn.h"
#include "core/mmap.h"
#include "core/segment_index.h"


/* Whether a sealed segment has rows that no read inside the retention window can see. */
static size_t purgeable_rows(const vdb_collection *c, vdb_segment *s, uint64_t horizon,
                             uint64_t *bits)
{
    size_t rows = vdb_segment_rows(s);
    vdb_collection_visible(c, s, horizon, bits); /* TTL-expired rows too */
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
    vdb_metatxn t = {0};
    vdb_buf m = {0};
    uint64_t *old_ids = vdb_calloc(nin, sizeof *old_ids);
    vdb_status st = tmp && old_ids ? vdb_ids_alloc(db, 1, &id)
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
        vdb_collection_visible(c, s, horizon, bits);
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
        if (st == VDB_OK) { /* a mapped file cut short must not be merged in as zeros */
            vdb_lock_rd(&c->lock, VDB_RANK_COLL); /* index attachments change under it */
            st = vdb_segment_check_mapped(s);
            vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
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
        vdb_metatxn_add(&t, VDB_META_DELETE, key, NULL);
    }
    if (st == VDB_OK) {
        vdb_segment_set_end_pos(out, end_pos);
        /* options.mmap: its vector and sparse columns mapped from the cache (not yet
         * visible: no lock) */
        st = vdb_segment_seal_cached(out, db->obj.be, db->obj.h, c->seg_prefix,
                                     vdb_collection_cache(db, c), &m);
        if (st == VDB_OK)
            vdb_index_segment(db, c, out, NULL, false); /* not yet visible; failure: scanned */
    }
    if (st == VDB_OK) {
        vdb_meta_key(key, sizeof key, "seg", c->id, id);
        if (vdb_segment_rows(out) > 0)
            vdb_metatxn_add(&t, VDB_META_PUT, key, &m);
        st = vdb_metatxn_commit(db, &t);
    }
    if (st == VDB_OK) {
        vdb_lock_wr(&c->lock, VDB_RANK_COLL);
        vdb_collection_remove_sealed(c, in, nin);
        vdb_segment *added = NULL;
        if (vdb_segment_rows(out) > 0) {
            vdb_collection_add_sealed(c, out); /* cannot fail: the array just shrank */
            added = out;
            out = NULL;
        }
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
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
    vdb_metatxn_free(&t);
    vdb_segment_free(out);
    return st;
}

vdb_status vdb_compact_collection(vdb_db *db, vdb_collection *c)
{
    uint64_t horizon = vdb_horizon(db);
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
                size_t purge = purgeable_rows(c, s, horizon, bits);
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
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_compact");
    VDB_CHECK_ARG(db, "vdb_compact: db is NULL");
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_status st = VDB_OK;
    const vdb_collection *only = collection ? vdb_catalog_find(&db->catalog, collection) : NULL;
    for (size_t i = 0; i < db->catalog.n && st == VDB_OK; i++) {
        vdb_collection *c = db->catalog.colls[i];
        if (collection && c != only)
            continue;
        vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE);
        if (!c->failed)
            st = vdb_compact_collection(db, c);
        vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
    }
    if (collection && st == VDB_OK && !vdb_catalog_find(&db->catalog, collection))
        st = vdb_set_errmsg(VDB_ENOTFOUND, "collection '%s' does not exist", collection);
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return st;
}

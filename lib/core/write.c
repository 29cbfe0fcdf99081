/* The write path: insert, upsert and delete. Validate, stamp one timestamp, split rows by
 * shard, append one record per shard to the log (durable before return), then apply the
 * records to the in-memory segments. Replay during recovery applies records the same way. */
#include "core/apply.h"
#include "core/batch.h"
#include "core/convert.h"
#include "core/follow.h"
#include "core/memory.h"
#include "core/partkey.h"
#include "core/result.h"
#include "core/seal.h"
#include "core/write.h"

/* ---- the public calls ---- */

typedef struct shard_parts {
    size_t nshards;
    size_t *counts;       /* rows per shard */
    vdb_column **cols;    /* per shard: ncols columns (NULL when it gets no rows) */
} shard_parts;

static void parts_free(shard_parts *p, size_t ncols)
{
    for (size_t s = 0; s < p->nshards && p->cols; s++) {
        if (!p->cols[s])
            continue;
        for (size_t i = 0; i < ncols; i++)
            vdb_column_free(&p->cols[s][i]);
        vdb_free(p->cols[s]);
    }
    vdb_free(p->cols);
    vdb_free(p->counts);
}

/* Splits rows by hash(pk) % shards. With one shard the columns are moved, not copied. */
static vdb_status split_by_shard(vdb_collection *c, vdb_column *cols, size_t ncols,
                                 const vdb_column *pkcol, shard_parts *p)
{
    size_t rows = pkcol->rows;
    p->nshards = c->nshards;
    p->counts = vdb_calloc(c->nshards, sizeof *p->counts);
    p->cols = vdb_calloc(c->nshards, sizeof *p->cols);
    uint32_t *shard_of = NULL, *idx = NULL;
    vdb_status st = VDB_OK;
    if (!p->counts || !p->cols)
        goto oom;
    if (c->nshards == 1) {
        if (!(p->cols[0] = vdb_calloc(ncols, sizeof(vdb_column))))
            goto oom;
        memcpy(p->cols[0], cols, ncols * sizeof(vdb_column));
        memset(cols, 0, ncols * sizeof(vdb_column));
        p->counts[0] = rows;
        return VDB_OK;
    }
    shard_of = vdb_malloc(rows * sizeof *shard_of);
    idx = vdb_malloc(rows * sizeof *idx);
    if (!shard_of || !idx)
        goto oom;
    for (size_t r = 0; r < rows; r++) {
        shard_of[r] = vdb_shard_of(c, vdb_pk_of(pkcol, r));
        p->counts[shard_of[r]]++;
    }
    for (uint32_t s = 0; s < c->nshards && st == VDB_OK; s++) {
        if (!p->counts[s])
            continue;
        size_t n = 0;
        for (size_t r = 0; r < rows; r++)
            if (shard_of[r] == s)
                idx[n++] = (uint32_t)r;
        if (!(p->cols[s] = vdb_calloc(ncols, sizeof(vdb_column))))
            goto oom;
        for (size_t i = 0; i < ncols && st == VDB_OK; i++) {
            vdb_column_init(&p->cols[s][i], cols[i].type, cols[i].dim, cols[i].nullable);
            st = vdb_column_append_rows(&p->cols[s][i], &cols[i], idx, n);
        }
    }
    vdb_free(shard_of);
    vdb_free(idx);
    return st;
oom:
    vdb_free(shard_of);
    vdb_free(idx);
    return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
}

/* Appends one record per shard part; on success every part is durable. A failure after a
 * part was written leaves a torn write in the log: the collection then refuses writes until
 * reopen, where recovery drops the torn parts (see recovery.c). */
static vdb_status append_parts(vdb_db *db, vdb_collection *c, vdb_rec_header *h,
                               shard_parts *p, size_t ncols, uint64_t *pos)
{
    uint16_t nparts = 0;
    for (size_t s = 0; s < p->nshards; s++)
        nparts += p->counts[s] ? 1 : 0;
    bool wrote = false;
    vdb_buf b = {0};
    vdb_status st = VDB_OK;
    for (uint32_t s = 0; s < p->nshards && st == VDB_OK; s++) {
        if (!p->counts[s])
            continue;
        h->shard = s;
        h->parts = nparts;
        b.len = 0;
        vdb_buf tmp = {0};
        vdb_encode_columns(p->cols[s], ncols, &tmp);
        vdb_rec_encode(h, tmp.p, tmp.len, &b);
        st = tmp.oom || b.oom ? vdb_set_errmsg(VDB_ENOMEM, "out of memory")
                              : db->log.be->append(db->log.h, c->shards[s].channel, b.p, b.len,
                                                   &pos[s]);
        vdb_buf_free(&tmp);
        if (st == VDB_OK)
            wrote = true;
    }
    vdb_buf_free(&b);
    if (st != VDB_OK && wrote)
        c->failed = true;
    return st;
}

/* The result a write hands back (its rows' keys), made before anything is written so that
 * no allocation can fail once the rows are durable. */
static vdb_status pks_result(const vdb_column *pk, vdb_result **out)
{
    vdb_result *r;
    vdb_status st = vdb_result_new(pk->type, 1, 0, &r);
    if (st != VDB_OK)
        return st;
    for (size_t i = 0; i < pk->rows && st == VDB_OK; i++) {
        if (pk->type == VDB_TYPE_INT64) {
            st = vdb_column_push(&r->pks, vdb_column_at(pk, i), 8, true);
        } else {
            size_t len;
            const char *s = vdb_column_var(pk, i, &len);
            char *z = vdb_strndup(s, len);
            st = z ? vdb_column_push(&r->pks, z, len + 1, true)
                   : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            vdb_free(z);
        }
    }
    if (st != VDB_OK) {
        vdb_result_free(r);
        return st;
    }
    r->group_off[1] = pk->rows;
    *out = r;
    return VDB_OK;
}

static vdb_status write_rows(vdb_db *db, const char *collection, const char *partition,
                             const vdb_batch *batch, bool upsert, uint64_t *ts_out,
                             vdb_result **pks_out)
{
    vdb_err_clear();
    if (pks_out)
        *pks_out = NULL;
    VDB_CHECK_ARG(db && collection, "%s: db or collection is NULL", upsert ? "vdb_upsert"
                                                                           : "vdb_insert");
    VDB_CHECK_ARG(batch && batch->rows > 0 && batch->ncols > 0,
                  "the batch is NULL or empty: nothing to insert");
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_column *cols = NULL;
    shard_parts parts = {0};
    uint64_t *pos = NULL;
    vdb_result *keys = NULL;
    size_t ncols = 0; /* for the clean-up, after the catalog lock: c may be gone by then */
    vdb_status st = vdb_catalog_lookup(&db->catalog, collection, &c);
    if (st == VDB_OK)
        st = vdb_memory_admit(db, upsert ? "upsert" : "insert");
    if (st != VDB_OK)
        goto out;
    ncols = c->ncols;
    const char *pname = partition ? partition : VDB_DEFAULT_PARTITION;
    cols = vdb_calloc(c->ncols, sizeof *cols);
    pos = vdb_calloc(c->nshards, sizeof *pos);
    if (!cols || !pos) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto out;
    }
    if ((st = vdb_convert_batch(db, c, batch, upsert, cols)) != VDB_OK ||
        (pks_out && (st = pks_result(&cols[c->schema->pk], &keys)) != VDB_OK))
        goto out;
    bool bykey = vdb_has_partition_key(c);
    if (bykey && partition) {
        st = vdb_key_refuse_partitions(c);
        goto out;
    }
    /* partition key: each shard's record holds its rows grouped by partition, partition_id
     * 0, and applying it puts each run in its partition (apply.c) */
    if (bykey && (st = vdb_key_group_rows(c, cols)) != VDB_OK)
        goto out;
    vdb_column pkcol = cols[c->schema->pk]; /* shallow: cols are moved into parts below */
    vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE);
    int slot = bykey ? 0 : vdb_partition_by_name(c, pname);
    uint64_t ts = 0;
    if (slot < 0)
        st = vdb_set_errmsg(VDB_ENOTFOUND, "partition '%s' does not exist in '%s'", pname,
                            collection);
    if (st == VDB_OK)
        st = vdb_collection_check_writable(c);
    if (st == VDB_OK)
        st = split_by_shard(c, cols, c->ncols, &pkcol, &parts);
    if (st == VDB_OK)
        st = vdb_tso_next(db->tso, &ts);
    vdb_rec_header h = {.type = VDB_REC_INSERT, .flags = upsert ? VDB_REC_FLAG_UPSERT : 0,
                        .ts = ts, .collection_id = c->id};
    if (st == VDB_OK && !bykey)
        h.partition_id = c->parts[slot].id;
    /* the growing segments the rows go to, made (a new one's id may need a meta-store write)
     * and given room for the rows before the append: a failure here has written nothing, and
     * once the rows are durable applying them cannot fail for want of memory */
    for (uint32_t s = 0; s < c->nshards && st == VDB_OK; s++) {
        h.shard = s;
        if (parts.counts[s])
            st = vdb_apply_prepare(db, c, &h, parts.cols[s], parts.counts[s]);
    }
    if (st == VDB_OK)
        st = append_parts(db, c, &h, &parts, c->ncols, pos);
    if (st == VDB_OK) {
        vdb_lock_wr(&c->lock, VDB_RANK_COLL);
        for (uint32_t s = 0; s < c->nshards && st == VDB_OK; s++) {
            if (!parts.counts[s])
                continue;
            h.shard = s;
            st = vdb_apply_insert(c, &h, parts.cols[s], parts.counts[s], pos[s]);
        }
        if (st != VDB_OK)
            c->failed = true; /* durable but not applied: reopen replays it */
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    }
    /* a shard past its threshold is sealed in the background, not by this writer */
    for (uint32_t s = 0; s < c->nshards && st == VDB_OK; s++)
        if (parts.counts[s])
            vdb_seal_if_full(db, c, s);
    vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
    if (st == VDB_OK) {
        if (pks_out) {
            keys->ts = ts;
            *pks_out = keys;
            keys = NULL;
        }
        if (ts_out)
            *ts_out = ts;
    }
out:
    vdb_result_free(keys);
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    if (cols) {
        for (size_t i = 0; i < ncols; i++)
            vdb_column_free(&cols[i]);
    }
    if (parts.cols)
        parts_free(&parts, ncols);
    vdb_free(cols);
    vdb_free(pos);
    return st;
}

vdb_status vdb_insert(vdb_db *db, const char *collection, const char *partition,
                      const vdb_batch *batch, uint64_t *ts, vdb_result **pks)
{
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_insert");
    return write_rows(db, collection, partition, batch, false, ts, pks);
}

vdb_status vdb_upsert(vdb_db *db, const char *collection, const char *partition,
                      const vdb_batch *batch, uint64_t *ts, vdb_result **pks)
{
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_upsert");
    return write_rows(db, collection, partition, batch, true, ts, pks);
}

/* Deletes the keys in pkcol (moved from; the caller frees it) at one timestamp. The catalog
 * lock is held by the caller. */
vdb_status vdb_delete_keys(vdb_db *db, vdb_collection *c, const char *partition,
                           vdb_column *pkcol, uint64_t *ts_out)
{
    shard_parts parts = {0};
    uint64_t *pos = NULL;
    vdb_status st = VDB_OK;
    vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE);
    uint64_t pid = 0, ts = 0;
    if (partition && vdb_has_partition_key(c)) {
        st = vdb_key_refuse_partitions(c);
    } else if (partition) {
        int slot = vdb_partition_by_name(c, partition);
        if (slot < 0)
            st = vdb_set_errmsg(VDB_ENOTFOUND, "partition '%s' does not exist in '%s'",
                                partition, c->name);
        else
            pid = c->parts[slot].id;
    }
    if (st == VDB_OK)
        st = vdb_collection_check_writable(c);
    if (st == VDB_OK && !(pos = vdb_calloc(c->nshards, sizeof *pos)))
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    vdb_column view = *pkcol;
    if (st == VDB_OK)
        st = split_by_shard(c, pkcol, 1, &view, &parts);
    if (st == VDB_OK)
        st = vdb_tso_next(db->tso, &ts);
    vdb_rec_header h = {.type = VDB_REC_DELETE, .ts = ts, .collection_id = c->id,
                        .partition_id = pid};
    if (st == VDB_OK)
        st = append_parts(db, c, &h, &parts, 1, pos);
    if (st == VDB_OK) {
        vdb_lock_wr(&c->lock, VDB_RANK_COLL);
        for (uint32_t s = 0; s < c->nshards && st == VDB_OK; s++) {
            if (!parts.counts[s])
                continue;
            st = vdb_apply_delete(c, s, pid, &parts.cols[s][0], ts, pos[s]);
        }
        if (st != VDB_OK)
            c->failed = true;
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    }
    vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
    if (st == VDB_OK && ts_out)
        *ts_out = ts;
    if (parts.cols)
        parts_free(&parts, 1);
    vdb_free(pos);
    return st;
}

vdb_status vdb_delete(vdb_db *db, const char *collection, const char *partition,
                      const vdb_pk_list *pks, uint64_t *ts_out)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_delete");
    VDB_CHECK_ARG(db && collection, "vdb_delete: db or collection is NULL");
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_column pkcol = {0};
    vdb_status st = vdb_catalog_lookup(&db->catalog, collection, &c);
    if (st == VDB_OK)
        st = vdb_convert_pks(c, pks, &pkcol);
    if (st == VDB_OK)
        st = vdb_delete_keys(db, c, partition, &pkcol, ts_out);
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_column_free(&pkcol);
    return st;
}

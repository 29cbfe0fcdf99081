/* Log records applied to segments: the record bodies (a shard's part of an insert, the keys
 * of a delete) and what applying one does, shared by the write path and recovery's replay. */
#include "core/apply.h"
#include "core/partkey.h"
#include "core/ids.h"

/* ---- record bodies: the columns of one shard's part ---- */

void vdb_encode_columns(const vdb_column *cols, size_t ncols, vdb_buf *out)
{
    vdb_buf_u32(out, (uint32_t)ncols);
    for (size_t i = 0; i < ncols; i++)
        vdb_column_encode(&cols[i], out);
}

vdb_status vdb_decode_columns(const vdb_collection *c, const void *body, size_t len, vdb_column *cols,
                              size_t *rows)
{
    vdb_rd r = vdb_rd_init(body, len);
    uint32_t n = vdb_rd_u32(&r);
    /* fewer columns: written before fields were added (widened below) */
    if (r.err || n > c->ncols || n == 0 || (c->schema->dynamic && n < 2))
        return vdb_set_errmsg(VDB_ECORRUPT, "insert record of '%s' has %u columns, expected %zu",
                              c->name, n, c->ncols);
    size_t done = 0;
    vdb_status st = VDB_OK;
    for (; done < n && st == VDB_OK; done++) {
        /* the column of the layout this one of the record is ("$meta" stays last) */
        size_t j = n < c->ncols && c->schema->dynamic && done == n - 1 ? c->ncols - 1 : done;
        st = vdb_column_decode(&r, &cols[done]);
        if (st == VDB_OK && (cols[done].type != c->types[j] || cols[done].dim != c->dims[j] ||
                             cols[done].rows != cols[0].rows)) {
            vdb_column_free(&cols[done]);
            st = vdb_set_errmsg(VDB_ECORRUPT, "insert record of '%s': column %zu does not match "
                                "the schema", c->name, done);
        }
    }
    if (st != VDB_OK) {
        for (size_t i = 0; i + 1 < done; i++)
            vdb_column_free(&cols[i]);
        return st;
    }
    if ((st = vdb_columns_widen(&c->layout, cols, n, cols[0].rows)) != VDB_OK) {
        for (size_t i = 0; i < n; i++)
            vdb_column_free(&cols[i]);
        return vdb_set_errmsg(st, "insert record of '%s': %s", c->name, vdb_err_get());
    }
    *rows = cols[0].rows;
    return VDB_OK;
}

vdb_status vdb_decode_delete(const vdb_collection *c, const void *body, size_t len, vdb_column *pks)
{
    vdb_rd r = vdb_rd_init(body, len);
    uint32_t n = vdb_rd_u32(&r);
    if (r.err || n != 1)
        return vdb_set_errmsg(VDB_ECORRUPT, "delete record of '%s' has %u columns, expected 1",
                              c->name, n);
    vdb_status st = vdb_column_decode(&r, pks);
    if (st == VDB_OK && pks->type != c->types[c->schema->pk]) {
        vdb_column_free(pks);
        st = vdb_set_errmsg(VDB_ECORRUPT, "delete record of '%s' holds %s keys", c->name,
                            vdb_type_name(pks->type));
    }
    return st;
}

/* ---- applying records to segments ---- */

/* One run of rows [from, from + rows) of a record, all of partition slot `slot`. */
static vdb_status prepare_run(vdb_db *db, vdb_collection *c, uint32_t shard, int slot,
                              const vdb_column *cols, size_t from, size_t rows)
{
    vdb_segment *s = NULL;
    vdb_status st = VDB_OK;
    if (!c->shards[shard].growing[slot]) {
        uint64_t id;
        st = vdb_ids_alloc(db, 1, &id);
        if (st == VDB_OK)
            st = vdb_segment_new(id, c->parts[slot].id, shard, &c->layout, &s);
        if (st != VDB_OK)
            return st;
    }
    /* reserving may move the growing segment's arrays: readers must not be looking */
    vdb_lock_wr(&c->lock, VDB_RANK_COLL);
    if (s)
        c->shards[shard].growing[slot] = s;
    st = vdb_segment_reserve(c->shards[shard].growing[slot], cols, from, rows);
    vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    return st;
}

/* A record of a collection with a partition key (partition_id 0): its rows in runs of one
 * partition each (the writer grouped them); the run starting at *from, its slot into *slot. */
static size_t key_run(const vdb_collection *c, const vdb_column *cols, size_t from,
                      size_t rows, int *slot)
{
    const vdb_column *key = &cols[c->schema->pkey];
    *slot = (int)vdb_key_slot(c, key, from);
    size_t end = from + 1;
    while (end < rows && (int)vdb_key_slot(c, key, end) == *slot)
        end++;
    return end - from;
}

static bool by_key(const vdb_collection *c, const vdb_rec_header *h)
{
    return h->partition_id == 0 && vdb_has_partition_key(c) && c->nparts;
}

vdb_status vdb_apply_prepare(vdb_db *db, vdb_collection *c, const vdb_rec_header *h,
                             const vdb_column *cols, size_t rows)
{
    if (by_key(c, h)) {
        vdb_status st = VDB_OK;
        for (size_t r = 0; r < rows && st == VDB_OK;) {
            int slot;
            size_t n = key_run(c, cols, r, rows, &slot);
            st = prepare_run(db, c, h->shard, slot, cols, r, n);
            r += n;
        }
        return st;
    }
    int slot = vdb_partition_slot(c, h->partition_id);
    if (slot < 0)
        return VDB_OK; /* a dropped partition: nothing to apply */
    return prepare_run(db, c, h->shard, slot, cols, 0, rows);
}

/* Records the delete of pk at ts in s when s is in the partition (0: any) and may hold pk. */
static vdb_status delete_in(vdb_segment *s, uint64_t partition_id, vdb_pk pk, uint64_t ts)
{
    bool hit;
    if (!s || (partition_id && vdb_segment_partition(s) != partition_id) ||
        !vdb_segment_may_contain(s, pk))
        return VDB_OK;
    return vdb_segment_delete(s, pk, ts, &hit);
}

vdb_status vdb_apply_delete(vdb_collection *c, uint32_t shard, uint64_t partition_id,
                            const vdb_column *pks, uint64_t ts, uint64_t pos)
{
    vdb_shard *sh = &c->shards[shard];
    vdb_status st = VDB_OK;
    for (size_t r = 0; r < pks->rows && st == VDB_OK; r++) {
        vdb_pk pk = vdb_pk_of(pks, r);
        for (size_t g = 0; g < sh->ngrowing && st == VDB_OK; g++)
            st = delete_in(sh->growing[g], partition_id, pk, ts);
        for (size_t g = 0; g < sh->nsealing && st == VDB_OK; g++)
            st = delete_in(sh->sealing[g], partition_id, pk, ts);
        for (size_t i = 0; i < c->nsealed && st == VDB_OK; i++)
            if (vdb_segment_shard(c->sealed[i]) == shard)
                st = delete_in(c->sealed[i], partition_id, pk, ts);
    }
    if (st == VDB_OK) {
        sh->last_pos = pos;
        sh->last_ts = ts;
    }
    return st;
}

vdb_status vdb_apply_insert(vdb_collection *c, const vdb_rec_header *h, const vdb_column *cols,
                            size_t rows, uint64_t pos)
{
    vdb_status st = VDB_OK;
    if (h->flags & VDB_REC_FLAG_UPSERT)
        st = vdb_apply_delete(c, h->shard, 0, &cols[c->schema->pk], h->ts, pos);
    bool key = by_key(c, h);
    int slot = key ? 0 : vdb_partition_slot(c, h->partition_id);
    /* slot < 0: the partition was dropped since */
    for (size_t r = 0; st == VDB_OK && slot >= 0 && r < rows;) {
        size_t n = key ? key_run(c, cols, r, rows, &slot) : rows;
        vdb_segment *s = c->shards[h->shard].growing[slot];
        if (!s)
            return vdb_set_errmsg(VDB_EINVAL, "no growing segment for shard %u of '%s' "
                                  "(vdb_apply_prepare first)", h->shard, c->name);
        st = vdb_segment_append(s, cols, r, n, h->ts);
        if (st == VDB_OK)
            vdb_segment_set_end_pos(s, pos);
        r += n;
    }
    if (st == VDB_OK) {
        c->shards[h->shard].last_pos = pos;
        c->shards[h->shard].last_ts = h->ts;
        c->shards[h->shard].last_write_ms = vdb_now_ms();
    }
    return st;
}

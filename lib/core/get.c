/* Get by primary key: the newest row of each key visible at the read timestamp. */
#include "core/convert.h"
#include "core/readpath.h"
#include "core/result.h"
#include "core/search.h"

vdb_status vdb_get(vdb_db *db, const char *collection, const vdb_pk_list *pks,
                   const vdb_read_opts *read_in, vdb_result **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && out, "vdb_get: db, collection or out is NULL");
    *out = NULL;
    vdb_read_opts ropts;
    vdb_status rst = vdb_read_opts_copy(read_in, &ropts);
    if (rst == VDB_OK)
        rst = vdb_follow_before_read(db, &ropts);
    if (rst != VDB_OK)
        return rst;
    return vdb_get_at(db, collection, pks, &ropts, 0, out);
}

vdb_status vdb_get_at(vdb_db *db, const char *collection, const vdb_pk_list *pks,
                      const vdb_read_opts *read, uint64_t T_fixed, vdb_result **out)
{
    *out = NULL;
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_column keys = {0};
    vdb_out_field *of = NULL;
    size_t nof = 0;
    bool *want = NULL, locked = false;
    vdb_seg_set set = {0};
    vdb_result *r = NULL;
    uint64_t T = T_fixed;
    vdb_status st = vdb_catalog_lookup(&db->catalog, collection, &c);
    if (st == VDB_OK && !(T_fixed && pks && !pks->count)) /* vdb_hybrid_search's: no rows */
        st = vdb_convert_pks(c, pks, &keys);
    if (st == VDB_OK)
        st = vdb_resolve_outputs(c, read, &of, &nof);
    if (st == VDB_OK && !T_fixed)
        st = vdb_read_ts(db, read, &T);
    if (st != VDB_OK)
        goto out;
    vdb_lock_rd(&c->lock, VDB_RANK_COLL);
    locked = true;
    if (!(want = vdb_calloc(c->nparts + 1, sizeof *want))) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto out;
    }
    if ((st = vdb_pick_partitions(c, read, want)) != VDB_OK ||
        (st = vdb_pick_segments(c, want, UINT32_MAX, &set)) != VDB_OK ||
        (st = vdb_result_open(c, of, nof, 1, false, 0, &r)) != VDB_OK)
        goto out;
    for (size_t k = 0; k < keys.rows && st == VDB_OK; k++) {
        vdb_pk pk = vdb_pk_of(&keys, k);
        uint32_t shard = vdb_shard_of(c, pk);
        vdb_segment *best = NULL;
        int64_t best_row = -1;
        uint64_t best_ts = 0;
        for (size_t i = 0; i < set.n; i++) {
            vdb_segment_info info;
            vdb_segment_get_info(set.segs[i], &info);
            if (info.shard != shard || !vdb_segment_may_contain(set.segs[i], pk))
                continue;
            int64_t row = vdb_segment_find(set.segs[i], pk, T);
            if (row < 0)
                continue;
            uint64_t ts = vdb_segment_timestamps(set.segs[i])[row];
            if (vdb_collection_expired(c, ts, T))
                continue;
            if (!best || ts >= best_ts) {
                best = set.segs[i];
                best_row = row;
                best_ts = ts;
            }
        }
        if (best)
            st = vdb_result_push(c, r, of, nof, best, (size_t)best_row);
    }
    if (st == VDB_OK)
        r->group_off[1] = r->pks.rows;
out:
    if (locked)
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_column_free(&keys);
    vdb_free(of);
    vdb_free(want);
    vdb_free(set.segs);
    if (st != VDB_OK) {
        vdb_result_free(r);
        return st;
    }
    *out = r;
    return VDB_OK;
}

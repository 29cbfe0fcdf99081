/* Collection statistics: rows, segments, deletes, index memory and progress. */
#include "core/memory.h"
#include "core/readpath.h"
#include "core/segment_index.h"

vdb_status vdb_collection_stats(vdb_db *db, const char *collection, vdb_stats *dst)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && dst, "vdb_collection_stats: db, collection or out is "
                  "NULL");
    vdb_stats stats = {.struct_size = sizeof stats}, *out = &stats;
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    uint64_t T;
    vdb_status st = vdb_catalog_lookup(&db->catalog, collection, &c);
    if (st == VDB_OK)
        st = vdb_read_now(db, &T);
    if (st == VDB_OK) {
        vdb_lock_rd(&c->lock, VDB_RANK_COLL);
        out->num_shards = c->nshards;
        out->num_partitions = (uint32_t)c->nparts;
        for (uint32_t s = 0; s < c->nshards && st == VDB_OK; s++)
            for (size_t g = 0; g < c->shards[s].ngrowing + c->shards[s].nsealing; g++) {
                const vdb_shard *sh = &c->shards[s];
                /* segments being sealed count as growing until the seal commits */
                vdb_segment *seg = g < sh->ngrowing ? sh->growing[g]
                                                    : sh->sealing[g - sh->ngrowing];
                if (!seg)
                    continue;
                vdb_segment_info info;
                vdb_segment_get_info(seg, &info);
                out->growing_segments++;
                out->growing_rows += info.rows;
                out->deleted_rows += info.deletes;
            }
        for (size_t i = 0; i < c->nsealed; i++) {
            vdb_segment_info info;
            vdb_segment_get_info(c->sealed[i], &info);
            out->sealed_segments++;
            out->sealed_rows += info.rows;
            out->deleted_rows += info.deletes;
            vdb_index_usage(c, c->sealed[i], &out->index_bytes, &out->indexed_rows);
            out->mapped_bytes += vdb_segment_mapped_bytes(c->sealed[i]);
        }
        out->failed_index_builds = c->index_failures;
        out->memory_bytes = vdb_collection_memory(c);
        out->read_segments = __atomic_load_n(&c->read_segments, __ATOMIC_RELAXED);
        bool *all = vdb_calloc(c->nparts + 1, sizeof *all);
        vdb_seg_set set = {0};
        if (!all)
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        if (st == VDB_OK)
            st = vdb_pick_partitions(c, NULL, all);
        if (st == VDB_OK)
            st = vdb_pick_segments(c, all, UINT32_MAX, &set);
        for (size_t i = 0; i < set.n && st == VDB_OK; i++) {
            size_t rows = vdb_segment_rows(set.segs[i]);
            uint64_t *bits = vdb_calloc(rows / 64 + 1, sizeof *bits);
            if (!bits) {
                st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
                break;
            }
            out->row_count += vdb_collection_visible(c, set.segs[i], T, bits);
            vdb_free(bits);
        }
        vdb_free(set.segs);
        vdb_free(all);
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
        /* The local WAL counts the torn tails it cut; other log backends do not say. */
        for (uint32_t s = 0; s < c->nshards && st == VDB_OK && db->log.be->open ==
                                                                 vdb_wal_backend.open; s++) {
            uint64_t n = 0;
            st = vdb_wal_torn_tails(db->log.h, c->shards[s].channel, &n);
            out->torn_tails += n;
        }
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    /* written out only on success: a caller's too-short struct is refused, not overrun */
    return st == VDB_OK ? vdb_struct_out(dst, sizeof(uint32_t) + 1, &stats, sizeof stats,
                                         "vdb_stats")
                        : st;
}

/* The memory budget: what the database holds, summed over its collections when a write
 * comes (one pass over the segments; with no budget set, nothing is counted). */
#include "core/memory.h"

#include <inttypes.h>

#include "core/catalog.h"
#include "core/segment_index.h"

uint64_t vdb_collection_memory(const vdb_collection *c)
{
    uint64_t bytes = 0, indexed_rows = 0;
    for (uint32_t s = 0; s < c->nshards; s++) {
        const vdb_shard *sh = &c->shards[s];
        for (size_t g = 0; g < sh->ngrowing; g++)
            if (sh->growing[g])
                bytes += vdb_segment_memory(sh->growing[g]);
        for (size_t g = 0; g < sh->nsealing; g++)
            bytes += vdb_segment_memory(sh->sealing[g]);
    }
    for (size_t i = 0; i < c->nsealed; i++) {
        bytes += vdb_segment_memory(c->sealed[i]);
        vdb_index_usage(c, c->sealed[i], &bytes, &indexed_rows);
    }
    return bytes;
}

static uint64_t db_memory(vdb_db *db)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < db->catalog.n; i++) {
        vdb_collection *c = db->catalog.colls[i];
        vdb_lock_rd(&c->lock, VDB_RANK_COLL);
        bytes += vdb_collection_memory(c);
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    }
    return bytes;
}

vdb_status vdb_memory_admit(vdb_db *db, const char *what)
{
    uint64_t budget = db->opts.memory_budget_bytes;
    if (!budget)
        return VDB_OK;
    uint64_t used = db_memory(db);
    if (used <= budget)
        return VDB_OK;
    return vdb_set_errmsg(VDB_ERANGE,
                          "%s refused: the database holds %" PRIu64 " bytes in memory, past "
                          "its memory budget of %" PRIu64 " bytes (vdb_options."
                          "memory_budget_bytes); delete and compact, drop collections, or "
                          "reopen with mmap or a larger budget",
                          what, used, budget);
}

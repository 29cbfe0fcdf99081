/* Per-collection mmap: options.mmap for every collection, overridden by a collection's
 * `mmap.enabled` property ("true" / "false", as Milvus's), read when the collection is
 * loaded at the open; a change takes effect at the next open (Milvus requires the collection
 * released before it is altered). */
#include "core/mmap.h"
#include "segment/seg_cache.h"

vdb_status vdb_mmap_cache_open(vdb_db *db)
{
    if (db->seg_cache)
        return VDB_OK;
    char *dir = db->opts.mmap_cache_dir ? vdb_strdup(db->opts.mmap_cache_dir)
                                        : vdb_path_join(db->path, "mmap_cache");
    vdb_status st = dir ? vdb_seg_cache_open(dir, db->opts.mmap_cache_bytes, &db->seg_cache)
                        : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    vdb_free(dir);
    return st;
}

vdb_status vdb_mmap_decide(vdb_db *db, vdb_collection *c)
{
    int prop = vdb_props_mmap(&c->props);
    bool on = prop >= 0 ? prop == 1 : db->opts.mmap != 0;
    c->mmap_mode = on ? 1 : 2;
    return on ? vdb_mmap_cache_open(db) : VDB_OK;
}

struct vdb_seg_cache *vdb_collection_cache(const vdb_db *db, const vdb_collection *c)
{
    /* 0: made in this session, before any property could say otherwise: options.mmap */
    bool on = c->mmap_mode ? c->mmap_mode == 1 : db->opts.mmap != 0;
    return on ? db->seg_cache : NULL;
}

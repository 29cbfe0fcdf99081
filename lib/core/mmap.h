/* Which collections read their sealed segments in place from the mmap cache: the database's
 * options.mmap, or a collection's own `mmap.enabled` property as it stood when the database
 * was opened (mmap.c). */
#ifndef VDB_CORE_MMAP_H
#define VDB_CORE_MMAP_H

#include "core/db.h"

/* Opens the database's mmap cache (options.mmap_cache_dir, default "<path>/mmap_cache",
 * bounded by options.mmap_cache_bytes) unless it is open already. */
vdb_status vdb_mmap_cache_open(vdb_db *db);
/* At c's load: whether its sealed segments are mapped from now until the database closes
 * (the property `mmap.enabled` when set, else options.mmap); opens the cache when the
 * property asks for it without options.mmap. */
vdb_status vdb_mmap_decide(vdb_db *db, vdb_collection *c);
/* The cache c's sealed segments are mapped through, or NULL: they are held on the heap. */
struct vdb_seg_cache *vdb_collection_cache(const vdb_db *db, const vdb_collection *c);

#endif

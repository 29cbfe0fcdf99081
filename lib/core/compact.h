/* Compaction (compact.c): small sealed segments of a shard and partition merged, rows deleted
 * before the retention horizon purged, never a row time travel inside the window can see. */
#ifndef VDB_CORE_COMPACT_H
#define VDB_CORE_COMPACT_H

#include "core/db.h"

/* One pass over c; write_mu held. */
vdb_status vdb_compact_collection(vdb_db *db, vdb_collection *c);

#endif

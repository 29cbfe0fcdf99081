/* Recovery at open (recovery.c): collections from the meta store, sealed segments from the
 * object store, each shard's log replayed from its checkpoint. */
#ifndef VDB_CORE_RECOVERY_H
#define VDB_CORE_RECOVERY_H

#include "core/db.h"

vdb_status vdb_recover(vdb_db *db);

#endif

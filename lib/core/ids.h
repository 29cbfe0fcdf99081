/* Ids for collections, partitions, segments and auto_id rows, unique across restarts: a
 * window of ids is reserved in the meta store ("idalloc") before any of it is handed out.
 * Thread-safe. And the retention horizon: the oldest timestamp time travel may read. */
#ifndef VDB_CORE_IDS_H
#define VDB_CORE_IDS_H

#include "core/db.h"

/* Reads the reserved window at open (a fresh database starts at 1). */
vdb_status vdb_ids_load(vdb_db *db);
/* n consecutive ids from *first. May write the meta store: never call it under a
 * collection's lock. */
vdb_status vdb_ids_alloc(vdb_db *db, uint64_t n, uint64_t *first);
/* The oldest timestamp a read may travel to (now - retention). */
uint64_t vdb_horizon(const vdb_db *db);

#endif

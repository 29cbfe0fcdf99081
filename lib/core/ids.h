/* Ids for collections, partitions, segments and auto_id rows, unique across restarts: a
 * window of ids is reserved in the meta store ("idalloc") before any of it is handed out.
 * Thread-safe. And the retention horizon: the oldest timestamp time travel may read, held
 * back by the snapshots open iterators pin. */
#ifndef VDB_CORE_IDS_H
#define VDB_CORE_IDS_H

#include "core/db.h"

/* Reads the reserved window at open (a fresh database starts at 1). */
vdb_status vdb_ids_load(vdb_db *db);
/* n consecutive ids from *first. May write the meta store: never call it under a
 * collection's lock. */
vdb_status vdb_ids_alloc(vdb_db *db, uint64_t n, uint64_t *first);
/* The oldest timestamp a read may travel to, and below which compaction may purge: now -
 * retention, or the oldest timestamp an open iterator pins, whichever is older. */
uint64_t vdb_horizon(vdb_db *db);
/* Pins T (an iterator's snapshot): until vdb_unpin_ts(T) the horizon stays at or below it,
 * so compaction keeps every row version a read at T sees. VDB_ERANGE when T is already
 * behind the horizon. Checked and added under one lock (db->pin_mu, a leaf), so a compaction
 * computes its horizon either before (then T >= it) or after (then it sees the pin). */
vdb_status vdb_pin_ts(vdb_db *db, uint64_t T);
/* Drops one pin of T. */
void vdb_unpin_ts(vdb_db *db, uint64_t T);

#endif

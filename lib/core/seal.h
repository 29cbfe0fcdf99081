/* Sealing (seal.c): a shard's growing segments and pending deletes written to the object
 * store and recorded, with the shard's checkpoint, in one meta transaction; then the log
 * before the checkpoint is truncated. */
#ifndef VDB_CORE_SEAL_H
#define VDB_CORE_SEAL_H

#include "core/db.h"

/* Seals shard of c now, in the caller's thread (seal.c tells the steps). The caller holds
 * the catalog lock for reading (or c is kept alive by the seal pool), and neither the
 * shard's seal lock nor write_mu: it takes them itself. A failure before the meta transaction
 * changes nothing durable (the next seal retries); one after it leaves the collection
 * refusing writes until reopened. */
vdb_status vdb_seal_shard(vdb_db *db, vdb_collection *c, uint32_t shard);
/* Write path, write_mu held: queues a background seal of shard when one of its growing
 * segments has reached segment_max_rows or segment_max_bytes. */
void vdb_seal_if_full(vdb_db *db, vdb_collection *c, uint32_t shard);
/* Background thread: queues the seal of every shard whose growing segments have rows and
 * received none for segment_idle_seal_ms (takes the catalog lock and write_mu itself). */
void vdb_seal_idle(vdb_db *db, uint64_t now_ms);

#endif

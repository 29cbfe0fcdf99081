/* Sealing (seal.c): a shard's growing segments and pending deletes written to the object
 * store and recorded, with the shard's checkpoint, in one meta transaction; then the log
 * before the checkpoint is truncated. */
#ifndef VDB_CORE_SEAL_H
#define VDB_CORE_SEAL_H

#include "core/db.h"

/* Seals shard of c; write_mu held. A failure before the meta transaction changes nothing
 * (retried by the next seal); after it the collection refuses writes until reopened. */
vdb_status vdb_seal_shard(vdb_db *db, vdb_collection *c, uint32_t shard);

#endif

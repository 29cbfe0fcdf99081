/* Recovery at open (recovery.c): collections from the meta store, sealed segments from the
 * object store, each shard's log replayed from its checkpoint. */
#ifndef VDB_CORE_RECOVERY_H
#define VDB_CORE_RECOVERY_H

#include "core/db.h"

vdb_status vdb_recover(vdb_db *db);
/* VDB_ECORRUPT when shard s's log channel ends before its checkpoint (the checkpoint in the
 * meta store bounds what the log must hold); VDB_OK when it does not, or the log backend
 * cannot say its last position. */
vdb_status vdb_check_channel_end(vdb_db *db, const vdb_collection *c, uint32_t s);
/* At close: records each shard's last log position in the meta store ("loghw/<coll>/<shard>")
 * as a bound the next open checks the channel against (with the checkpoint). Best effort: a
 * failure keeps the older bound. */
void vdb_save_log_highwater(vdb_db *db);
/* A reader (follow.c): applies to c, a state that answers, what its channels gained after
 * each shard's follow_pos, all at once under c->lock (writes whole in every channel only).
 * VDB_ECONFLICT when the log was truncated under the read (nothing applied: load anew). */
vdb_status vdb_replay_tail(vdb_db *db, vdb_collection *c);

#endif

/* Reader processes (vdb_options.read_only): a handle that follows a writer elsewhere by
 * loading the writer's committed state beside the one it answers from and swapping it in
 * whole (follow.c; README, "Reader processes"; docs/ARCHITECTURE.md, "Readers"). */
#ifndef VDB_CORE_FOLLOW_H
#define VDB_CORE_FOLLOW_H

#include "core/db.h"

/* Loads the first state and starts the follower thread (vdb_open of a reader). */
vdb_status vdb_follow_start(vdb_db *db);
/* Stops the follower thread (vdb_close). */
void vdb_follow_stop(vdb_db *db);
/* Loads what the writer committed up to now, if anything moved (a STRONG read): retried
 * while the writer's files move under it, VDB_ETIMEDOUT after read_only_strong_timeout_ms. */
vdb_status vdb_follow_catch_up(vdb_db *db);
/* What a read call does first, before it takes the catalog's lock: on a reader, a STRONG read
 * (no travel timestamp) catches up; anything else reads the state of the last refresh. */
vdb_status vdb_follow_before_read(vdb_db *db, const vdb_read_opts *r);
/* VDB_EREADONLY naming call on a reader's handle; VDB_OK on a writer's. Inline: the DDL
 * files that call it are below follow.c (which calls recovery). */
static inline vdb_status vdb_refuse_read_only(const vdb_db *db, const char *call)
{
    if (!db || !db->read_only)
        return VDB_OK;
    return vdb_set_errmsg(VDB_EREADONLY, "%s: database %s is open read_only (a reader "
                          "process follows a writer and writes nothing)", call, db->path);
}
/* "Now" for a read: the oracle's next timestamp on a writer; on a reader a timestamp at
 * least the newest one its loaded state holds (it hands none out). */
vdb_status vdb_read_now(vdb_db *db, uint64_t *ts);

#endif

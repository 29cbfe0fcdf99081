/* Time ticks and the trimming of the log (tick.c).
 *
 * Ticks: a thread writes a VDB_REC_TICK record with a fresh timestamp to every shard channel
 * that had no write for options.tick_interval_ms (Milvus's time tick). Timestamps of one
 * collection are handed out under its write_mu, so a tick at T in a channel says that no
 * record below T will follow it there: a follower that consumed it has consumed the channel up
 * to T (tail.h). Replay skips ticks.
 *
 * Trimming: the log is truncated through vdb_log_trim only, which holds a truncation back
 * behind every open change stream's hold (cdc.c), so a stream never misses a record that a
 * seal made redundant while it was behind; the ticker retries a held-back truncation and
 * trims a channel that holds only ticks since its checkpoint to its last tick. */
#ifndef VDB_CORE_TICK_H
#define VDB_CORE_TICK_H

#include "core/collection.h"
#include "core/db.h"

/* Starts and stops the ticker thread (stop: a no-op when it was not started). */
vdb_status vdb_ticker_start(vdb_db *db);
void vdb_ticker_stop(vdb_db *db);

/* A hold on a collection's channels: pos[s] is the first position of shard s's channel that
 * its owner still needs. */
typedef struct vdb_log_hold {
    uint64_t coll_id;
    uint32_t nshards;
    uint64_t pos[64];          /* VDB shards are at most 64 */
    struct vdb_log_hold *next;
} vdb_log_hold;

/* Adds or removes a hold (db->hold_mu taken inside: a leaf lock), or moves shard s's point
 * of a hold that was added (only ever forward). */
void vdb_hold_add(vdb_db *db, vdb_log_hold *h);
void vdb_hold_remove(vdb_db *db, vdb_log_hold *h);
void vdb_hold_move(vdb_db *db, vdb_log_hold *h, uint32_t s, uint64_t pos);

/* Truncates shard s's channel of c below upto, or below the lowest hold on it if that is
 * lower; nothing when the channel was already truncated that far. No lock of c held; a
 * failure is not reported (the records stay, and the next trim tries again). */
void vdb_log_trim(vdb_db *db, vdb_collection *c, uint32_t s, uint64_t upto);

#endif

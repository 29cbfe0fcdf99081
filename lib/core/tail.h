/* Following a set of log channels (a collection's shards) in time: each channel is
 * subscribed through the log vtable from a position, its records' headers are decoded, and
 * the tail knows, per channel, the largest timestamp consumed. Because a channel's
 * timestamps only grow (data records and ticks are stamped under the collection's write_mu;
 * tick.h), a channel whose consumed timestamp is T holds nothing below T that was not
 * delivered: this is how a follower waits until it has consumed its channels up to a read
 * timestamp (vdb_tail_wait_ts), as a Milvus query node waits for its channels' time ticks.
 *
 * Internal: the change stream (cdc.c) stands on it, and so will a cluster's nodes. A tail is
 * used by one thread at a time, and must be closed before its log store. */
#ifndef VDB_CORE_TAIL_H
#define VDB_CORE_TAIL_H

#include "log/log.h"
#include "storage/storage.h"

typedef struct vdb_tail vdb_tail;

/* Called for each record consumed: channel index, position, decoded header and body (valid
 * only during the call). Ticks and ABORT records are handed out too. Non-zero stops the
 * delivery after this record. */
typedef int (*vdb_tail_fn)(void *arg, size_t chan, uint64_t pos, const vdb_rec_header *h,
                           const void *body, size_t len);

/* Subscribes to n channels (names copied), channel i from position from[i] (0: its first
 * record). Nothing is read yet. */
vdb_status vdb_tail_open(const vdb_log_store *log, size_t n, const char *const *channels,
                         const uint64_t *from, vdb_tail **out);
void vdb_tail_close(vdb_tail *t);

/* Polls channel chan once (vdb_log_sub_poll: waits up to timeout_ms; VDB_ETIMEDOUT when no
 * record came; VDB_ENOTFOUND once the channel was dropped), handing its records to fn (NULL:
 * consumed and dropped). A record that does not decode stops the poll with VDB_ECORRUPT
 * naming the channel and position (it counts as consumed). */
vdb_status vdb_tail_poll(vdb_tail *t, size_t chan, uint64_t timeout_ms, vdb_tail_fn fn,
                         void *arg);

/* The largest timestamp consumed from channel chan (0: none yet), and the position of the
 * last record consumed there (0: none). */
uint64_t vdb_tail_ts(const vdb_tail *t, size_t chan);
uint64_t vdb_tail_pos(const vdb_tail *t, size_t chan);

/* Consumes every channel (records to fn, as vdb_tail_poll) until each has consumed a record
 * stamped ts or later, waiting at most timeout_ms in all (0: only what is there; UINT64_MAX:
 * no limit). VDB_OK then; VDB_ETIMEDOUT naming the first channel that had not reached ts
 * (what was consumed stays consumed); another error of a poll as it is. fn stopping the
 * delivery does not end the wait. */
vdb_status vdb_tail_wait_ts(vdb_tail *t, uint64_t ts, uint64_t timeout_ms, vdb_tail_fn fn,
                            void *arg);

#endif

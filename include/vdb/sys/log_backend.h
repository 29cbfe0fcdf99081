/* libvdb — the log vtable, for backend authors: ordered records per named channel.
 *
 * The database appends every write to a channel (one per shard, plus one for DDL) and reads
 * a channel back from its checkpoint on open; subscribers (cluster roles, a change stream)
 * follow a channel as it grows. See sys/backend.h for the rules every vtable follows
 * (versions, memory, errors, thread-safety). Built in: wal:// (lib/storage/wal.c),
 * rocksdb:// and nats:// (backends/). */
#ifndef VDB_SYS_LOG_BACKEND_H
#define VDB_SYS_LOG_BACKEND_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version 1: open, close, append, read, truncate, drop (libvdb 0.1).
 * Version 2: app_data, last_pos, subscribe, poll, unsubscribe. */
#define VDB_LOG_BACKEND_VERSION 2

/* Called for each record in position order; rec/len are valid only during the call. Return
 * non-zero to stop after this record (not an error). */
typedef int (*vdb_log_read_fn)(void *arg, uint64_t pos, const void *rec, size_t len);

typedef struct vdb_log_backend {
    unsigned version; /* the version this struct was written for: 1..VDB_LOG_BACKEND_VERSION */
    const char *scheme; /* "wal" for wal://...; letters, digits, '+', '-', '.' */

    /* ---- version 1 ------------------------------------------------------------------------ */

    /* Opens the log named by uri; *out gets the instance passed to every other method. */
    vdb_status (*open)(const char *uri, const vdb_backend_options *opt, void **out);
    /* Closes the instance. Every subscription of it has been unsubscribed before. */
    void (*close)(void *log);
    /* Appends one record to channel (created on first use); *pos gets its position.
     * Positions are > 0 and strictly increase within a channel. Durable per opt->sync
     * when it returns VDB_OK. */
    vdb_status (*append)(void *log, const char *channel, const void *rec, size_t len,
                         uint64_t *pos);
    /* Calls fn for every record with position >= from, in order: the records appended
     * before the call started (later ones may or may not be read). A channel never written
     * reads as empty. */
    vdb_status (*read)(void *log, const char *channel, uint64_t from, vdb_log_read_fn fn,
                       void *arg);
    /* Records with position < upto may be discarded. Later positions are unaffected, and
     * the channel's last position stays what it was. */
    vdb_status (*truncate)(void *log, const char *channel, uint64_t upto);
    /* Removes a channel and all its records; appending again starts a new channel (positions
     * may start over). Missing channel: VDB_OK. */
    vdb_status (*drop)(void *log, const char *channel);

    /* ---- version 2 ------------------------------------------------------------------------ */

    /* Handed to open() in opt->app_data: lets one implementation serve several registrations,
     * each reaching its own state. The library never looks at it. */
    void *app_data;

    /* The channel's high-water mark: *pos gets the position of its last record, the highest
     * one ever appended to it (truncate does not lower it); 0 for a channel never written or
     * dropped since. Every append that returned VDB_OK before the call is counted. A
     * read_only instance reports what it can see of the writer's (RocksDB secondary: as of
     * this call's catch-up). NULL: not supported. */
    vdb_status (*last_pos)(void *log, const char *channel, uint64_t *pos);

    /* Subscriptions: reading a channel from a position and then following it as it grows.
     * subscribe, poll and unsubscribe are set together or not at all (NULL: not supported).
     *
     * subscribe: *sub gets a new subscription to channel whose first record will be the first
     * at or after position from (0 and 1: the channel's first). The channel need not exist
     * yet. It reads nothing and waits for nothing; the subscription belongs to the caller
     * until unsubscribe, and must be unsubscribed before the log is closed.
     *
     * poll: waits until at least one record at or after the subscription's next position
     * exists, then calls fn for the records there are (at least one, in position order, each
     * with its position) and returns VDB_OK. The wait is at most timeout_ms milliseconds (0:
     * only look; UINT64_MAX: no limit); when it runs out with nothing to deliver, poll gives
     * VDB_ETIMEDOUT and the subscription stays as it was. fn returning non-zero stops the
     * delivery after that record. Each record is delivered once: the next poll goes on after
     * the last record handed to fn (also when a poll fails part-way), so a consumer sees the
     * channel's records in order with no gap and no duplicate. Records are delivered only
     * once their append has returned VDB_OK (or, in another process, once the writer's
     * append would have). Records truncated away before they were delivered are skipped, as
     * read skips them. A drop of the channel after subscribe ends the subscription: poll gives
     * VDB_ENOTFOUND (where the backend can tell: a RocksDB secondary only when the channel's
     * last position falls below what it delivered). To resume after a restart, subscribe
     * again from the position after the last one processed. A network backend's poll may
     * take up to its request timeout (opt->timeout_ms) when the server is slow or away, and
     * then gives VDB_EIO naming it; the subscription stays usable.
     *
     * Threads: a subscription is used by one thread at a time (poll and unsubscribe of one
     * subscription never run at once); any number of subscriptions, appends and reads run
     * concurrently on one instance. fn may call into the same instance (append included). */
    vdb_status (*subscribe)(void *log, const char *channel, uint64_t from, void **sub);
    vdb_status (*poll)(void *sub, uint64_t timeout_ms, vdb_log_read_fn fn, void *arg);
    void (*unsubscribe)(void *sub);
} vdb_log_backend;

/* A struct for the version this header describes, every method NULL: fill in the rest. */
#ifdef __cplusplus
#define VDB_LOG_BACKEND_INIT {VDB_LOG_BACKEND_VERSION}
#else
#define VDB_LOG_BACKEND_INIT {.version = VDB_LOG_BACKEND_VERSION}
#endif

/* Zeroes the part of *be that version defines (never more: a struct compiled against an older
 * header is shorter) and sets be->version. VDB_EVERSION, writing nothing, when version is 0
 * or newer than this library's VDB_LOG_BACKEND_VERSION. */
VDB_EXPORT vdb_status vdb_log_backend_init(vdb_log_backend *be, unsigned version);

/* Registers (a copy of) be under its scheme; see sys/backend.h for what is checked.
 * Registering a scheme again replaces it for later opens (logs already open keep theirs).
 * Thread-safe. */
VDB_EXPORT vdb_status vdb_register_log_backend(const vdb_log_backend *be);

#ifdef __cplusplus
}
#endif
#endif

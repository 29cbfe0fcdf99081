/* The local WAL's vtable (wal://<folder>): the writer's methods (wal.c) and, for subscriptions
 * and read_only instances, the follower's (wal_tail.c). */
#include "storage/wal_internal.h"

static vdb_status read_any(void *log, const char *channel, uint64_t from, vdb_log_read_fn fn,
                           void *arg)
{
    wal *w = log;
    /* A read_only instance never scans (nor repairs) what a writer elsewhere is writing: it
     * reads what the channel's commit marker says is whole. */
    return w->read_only ? wal_read_committed(w, channel, from, fn, arg)
                        : wal_read(log, channel, from, fn, arg);
}

const vdb_log_backend vdb_wal_backend = {
    .version = VDB_LOG_BACKEND_VERSION,
    .scheme = "wal",
    .open = wal_open,
    .close = wal_close,
    .append = wal_append,
    .read = read_any,
    .truncate = wal_truncate,
    .drop = wal_drop,
    .last_pos = wal_last_pos,
    .subscribe = wal_subscribe,
    .poll = wal_poll,
    .unsubscribe = wal_unsubscribe,
};

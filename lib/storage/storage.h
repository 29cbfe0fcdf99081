/* The storage vtables as the core sees them: the backend registry (by URI scheme), the
 * local default backends, and small wrappers pairing a backend with its open instance.
 *
 * A method that a vtable gained after version 1 is only ever called through the wrappers
 * below (vdb_log_store_last_pos, ...): they check the backend's version and that it set the
 * method, and say VDB_EUNSUPPORTED naming both otherwise. Version-1 methods, which every
 * registered backend has, may be called directly (store.be->append(store.h, ...)). */
#ifndef VDB_STORAGE_H
#define VDB_STORAGE_H

#include "util/util.h"
#include "vdb/sys/log_backend.h"
#include "vdb/sys/meta_backend.h"
#include "vdb/sys/object_backend.h"

/* ---- the local defaults, registered at start-up like every other backend ---- */

/* The local WAL: wal://<folder>. One sub-folder per channel holding numbered segment files
 * of framed records ([u32 length][u32 crc32c(pos + payload)][u64 position][payload]);
 * group commit of concurrent appends; fsync per vdb_sync_mode; io_uring on the write path
 * with a pwrite fallback. On a channel's first use, a torn tail of its last file (by the rule
 * in wal_seg.c: short, or zero from a sector boundary) is cut off, said on stderr and counted
 * (vdb_wal_torn_tails); any other bad frame, and a channel holding fewer records than its
 * marker's bounds say were acknowledged, is VDB_ECORRUPT naming the file. Subscriptions
 * follow a channel in the same process (a condition variable) and from other processes
 * (read_only instances: each channel's commit marker, a shared-memory word the writer bumps
 * after every write, waited on with a futex). */
extern const vdb_log_backend vdb_wal_backend;

/* For tests and benchmarks: which write path an open WAL uses ("io_uring" or "pwrite"). */
const char *vdb_wal_write_path(void *wal);
/* How many torn tails the writer instance wal cut off channel's last file since it opened
 * (0 or 1; each cut is also a line on stderr). */
vdb_status vdb_wal_torn_tails(void *wal, const char *channel, uint64_t *n);

extern const vdb_meta_backend vdb_meta_local_backend;     /* local://<folder> */

/* What the open of a local meta store found and did (meta_local.c says the rule): torn tails
 * cut (never acknowledged), damaged or missing files rewritten from their twin, whether
 * format 1 was upgraded, and one sentence per event naming the file (empty: nothing). */
typedef struct vdb_meta_local_recovery {
    uint64_t torn_cut;
    uint64_t repaired;
    bool upgraded;
    char note[1024];
} vdb_meta_local_recovery;
void vdb_meta_local_recovery_get(void *meta, vdb_meta_local_recovery *out);
/* A local meta store opened read_only (vdb_backend_options.read_only: a reader process's
 * snapshot, never locked, repaired or written; writes are VDB_EREADONLY): the generation and
 * the next sequence it was read at, which move with every write of the writer. */
void vdb_meta_local_position(void *meta, uint64_t *gen, uint64_t *next_seq);
extern const vdb_object_backend vdb_object_file_backend;  /* file://<folder> */

/* The part of a URI after "scheme://" (a pointer into uri), or NULL if it has no scheme. */
const char *vdb_uri_rest(const char *uri);

/* An open instance and its backend. be points at the registry's copy of the backend, which
 * lives as long as the process. */
typedef struct vdb_log_store {
    const vdb_log_backend *be;
    void *h;
} vdb_log_store;

typedef struct vdb_meta_store {
    const vdb_meta_backend *be;
    void *h;
} vdb_meta_store;

typedef struct vdb_object_store {
    const vdb_object_backend *be;
    void *h;
} vdb_object_store;

/* Open by URI through the registry; VDB_EUNSUPPORTED names an unknown scheme. o may be NULL
 * (defaults); the backend receives a copy with app_data set from its registration. */
vdb_status vdb_log_store_open(const char *uri, const vdb_backend_options *o, vdb_log_store *out);
vdb_status vdb_meta_store_open(const char *uri, const vdb_backend_options *o, vdb_meta_store *out);
vdb_status vdb_object_store_open(const char *uri, const vdb_backend_options *o,
                                 vdb_object_store *out);
void vdb_log_store_close(vdb_log_store *s);
void vdb_meta_store_close(vdb_meta_store *s);
void vdb_object_store_close(vdb_object_store *s);

/* fault_backend.c: *s (just opened) becomes a store whose every call first asks the fault
 * layer (VDB_FAULT_BACKEND) and then forwards to it. A URI "fault+<uri>" opens this way. On
 * failure *s is closed. */
vdb_status vdb_fault_wrap_log(vdb_log_store *s);
vdb_status vdb_fault_wrap_meta(vdb_meta_store *s);
vdb_status vdb_fault_wrap_objects(vdb_object_store *s);

/* ---- log methods of version 2 (sys/log_backend.h says what each does) ---- */

/* The channel's last position (0: none). */
vdb_status vdb_log_store_last_pos(const vdb_log_store *s, const char *channel, uint64_t *pos);

/* A subscription and the backend that made it. */
typedef struct vdb_log_sub {
    const vdb_log_backend *be;
    void *h;
} vdb_log_sub;

/* Subscribes to channel from position from. Close it with vdb_log_sub_close before the
 * store. */
vdb_status vdb_log_store_subscribe(const vdb_log_store *s, const char *channel, uint64_t from,
                                   vdb_log_sub *out);
/* Waits up to timeout_ms (0: only look; UINT64_MAX: no limit) for records, then hands them
 * to fn; VDB_ETIMEDOUT when none came, VDB_ENOTFOUND once the channel was dropped. */
vdb_status vdb_log_sub_poll(vdb_log_sub *sub, uint64_t timeout_ms, vdb_log_read_fn fn,
                            void *arg);
void vdb_log_sub_close(vdb_log_sub *sub);

#endif

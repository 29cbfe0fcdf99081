/* The storage vtables as the core sees them: the backend registry (by URI scheme), the
 * local default backends, and small wrappers pairing a backend with its open instance. */
#ifndef VDB_STORAGE_H
#define VDB_STORAGE_H

#include "util/util.h"

/* ---- the local defaults, registered at start-up like every other backend ---- */

/* The local WAL: wal://<folder>. One sub-folder per channel holding numbered segment files
 * of framed records ([u32 length][u32 crc32c(pos + payload)][u64 position][payload]);
 * group commit of concurrent appends; fsync per vdb_sync_mode; io_uring on the write path
 * with a pwrite fallback. On a channel's first use, a torn or corrupt tail of its last file
 * is cut off (it was never acknowledged); corruption before the tail is reported as
 * VDB_ECORRUPT by read. */
extern const vdb_log_backend vdb_wal_backend;

/* For tests and benchmarks: which write path an open WAL uses ("io_uring" or "pwrite"). */
const char *vdb_wal_write_path(void *wal);

extern const vdb_meta_backend vdb_meta_local_backend;     /* local://<folder> */
extern const vdb_object_backend vdb_object_file_backend;  /* file://<folder> */

/* The part of a URI after "scheme://" (a pointer into uri), or NULL if it has no scheme. */
const char *vdb_uri_rest(const char *uri);

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

/* Open by URI through the registry; VDB_EUNSUPPORTED names an unknown scheme. */
vdb_status vdb_log_store_open(const char *uri, const vdb_backend_options *o, vdb_log_store *out);
vdb_status vdb_meta_store_open(const char *uri, const vdb_backend_options *o, vdb_meta_store *out);
vdb_status vdb_object_store_open(const char *uri, const vdb_backend_options *o,
                                 vdb_object_store *out);
void vdb_log_store_close(vdb_log_store *s);
void vdb_meta_store_close(vdb_meta_store *s);
void vdb_object_store_close(vdb_object_store *s);

#endif

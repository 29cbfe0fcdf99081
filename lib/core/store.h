/* The storage vtables as the core sees them: the backend registry (by URI scheme), the
 * local default backends, and small wrappers pairing a backend with its open instance. */
#ifndef VDB_STORE_H
#define VDB_STORE_H

#include "util.h"

/* Local defaults (registered at start-up). */
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

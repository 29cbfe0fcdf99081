/* The etcd backend's extras beyond the meta vtable: leases (node liveness) and watch.
 *
 * A handle is what vdb_etcd_meta_backend.open() returns for an etcd:// URI (the same void *
 * the vtable methods take). Keys given here are relative to the URI's prefix, as with the
 * vtable. Every function is thread-safe on one handle, bounded by the handle's timeout
 * (vdb_backend_options.timeout_ms, 10 s by default) except vdb_etcd_watch, which runs until
 * told to stop. On failure they return a status and set the thread's error message. */
#ifndef VDB_BACKENDS_ETCD_H
#define VDB_BACKENDS_ETCD_H

#include <stdint.h>

#include "vdb/sys/meta_backend.h"

extern const vdb_meta_backend vdb_etcd_meta_backend;

/* Grants a lease of ttl_s seconds (etcd may round it up to its minimum, about 2 s with
 * default settings); *id gets its id (non-zero). */
vdb_status vdb_etcd_lease_grant(void *meta, int64_t ttl_s, int64_t *id);

/* Refreshes the lease once; *ttl_left (may be NULL) gets its new remaining TTL in seconds.
 * Call it every third of the TTL. VDB_ENOTFOUND when the lease has expired or was revoked. */
vdb_status vdb_etcd_lease_keepalive(void *meta, int64_t id, int64_t *ttl_left);

/* Revokes the lease: every key attached to it is deleted at once. A missing lease: VDB_OK. */
vdb_status vdb_etcd_lease_revoke(void *meta, int64_t id);

/* put, with the key attached to lease (0: none): it disappears when the lease ends.
 * VDB_ENOTFOUND when the lease does not exist. */
vdb_status vdb_etcd_put_lease(void *meta, const char *key, const void *val, size_t len,
                              int64_t lease);

/* The store's current revision: a watch from revision + 1 sees every later change. */
vdb_status vdb_etcd_revision(void *meta, int64_t *revision);

/* One change seen by a watch. kind is VDB_META_PUT or VDB_META_DELETE (val NULL, len 0).
 * key is relative to the URI's prefix; key and val are valid during the call only. revision
 * is the change's revision. Return non-zero to end the watch. The callback may call back
 * into the store. */
typedef int (*vdb_etcd_watch_fn)(void *arg, vdb_meta_op_kind kind, const char *key,
                                 const void *val, size_t len, int64_t revision);

/* Watches every key starting with prefix from start_revision (0: from now), calling fn for
 * each change in revision order. Blocks until fn returns non-zero or *stop becomes non-zero
 * (set it from another thread with __atomic_store_n(&flag, 1, __ATOMIC_RELEASE); it is checked
 * several times a second; then VDB_OK), or the stream fails (VDB_EIO: the server went
 * away; VDB_ERANGE: start_revision was compacted). To resume after a failure, watch again
 * from the last revision seen + 1. */
vdb_status vdb_etcd_watch(void *meta, const char *prefix, int64_t start_revision,
                          vdb_etcd_watch_fn fn, void *arg, const volatile int *stop);

#endif

/* libvdb — the three storage vtables (log, meta, object) for backend authors.
 *
 * Applications never need this header. A backend is a const struct whose first field is its
 * version, then its URI scheme, then its methods; it is registered by scheme and chosen by the
 * URI in vdb_options. Every method returns a vdb_status and sets the thread's error message
 * (vdb_set_errmsg) when it fails. Memory a backend hands out (values, objects) is allocated with
 * malloc() (vdb_malloc inside libvdb: the same allocator) and freed by the caller with
 * free(). Scan and list callbacks may call back into the same store. Every method must be
 * thread-safe on one instance. */
#ifndef VDB_BACKEND_H
#define VDB_BACKEND_H

#include <stdarg.h>

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a log makes an append durable before the call returns. */
typedef enum vdb_sync_mode {
    VDB_SYNC_FULL = 0,  /* fdatasync (grouped across concurrent appends) before returning */
    VDB_SYNC_BATCH = 1, /* written before returning; fdatasync at most every sync_interval_ms.
                           Survives a process crash; a power loss may drop the last interval. */
    VDB_SYNC_OFF = 2,   /* written before returning; the OS decides when it reaches disk */
} vdb_sync_mode;

/* What a backend's open() receives beside its URI. */
typedef struct vdb_backend_options {
    vdb_sync_mode sync;
    uint32_t sync_interval_ms;
    uint32_t timeout_ms;      /* network backends: give up on one request after this long */
    int disable_io_uring;     /* local WAL: force the plain pwrite path */
} vdb_backend_options;

/* ---- log: ordered records per named channel ------------------------------------------- */

#define VDB_LOG_BACKEND_VERSION 1

/* Called for each record in order; return non-zero to stop reading (not an error). */
typedef int (*vdb_log_read_fn)(void *arg, uint64_t pos, const void *rec, size_t len);

typedef struct vdb_log_backend {
    int version; /* VDB_LOG_BACKEND_VERSION */
    const char *scheme;
    vdb_status (*open)(const char *uri, const vdb_backend_options *opt, void **out);
    void (*close)(void *log);
    /* Appends one record to channel (created on first use); *pos gets its position.
     * Positions are > 0 and strictly increase within a channel. Durable per opt->sync
     * when it returns VDB_OK. */
    vdb_status (*append)(void *log, const char *channel, const void *rec, size_t len,
                         uint64_t *pos);
    /* Calls fn for every record with position >= from, in order. A channel never written
     * reads as empty. */
    vdb_status (*read)(void *log, const char *channel, uint64_t from, vdb_log_read_fn fn,
                       void *arg);
    /* Records with position < upto may be discarded. Later positions are unaffected. */
    vdb_status (*truncate)(void *log, const char *channel, uint64_t upto);
    /* Removes a channel and all its records. Missing channel: VDB_OK. */
    vdb_status (*drop)(void *log, const char *channel);
} vdb_log_backend;

/* ---- meta: a small ordered key-value store with transactions -------------------------- */

#define VDB_META_BACKEND_VERSION 1

typedef enum vdb_meta_op_kind {
    VDB_META_PUT = 1,
    VDB_META_DELETE = 2,
    VDB_META_CHECK_VALUE = 3,  /* the key must hold exactly val/len */
    VDB_META_CHECK_ABSENT = 4, /* the key must not exist */
} vdb_meta_op_kind;

typedef struct vdb_meta_op {
    vdb_meta_op_kind kind;
    const char *key;
    const void *val;
    size_t len;
} vdb_meta_op;

/* Called for each key in ascending byte order; return non-zero to stop. */
typedef int (*vdb_meta_scan_fn)(void *arg, const char *key, const void *val, size_t len);

typedef struct vdb_meta_backend {
    int version; /* VDB_META_BACKEND_VERSION */
    const char *scheme;
    vdb_status (*open)(const char *uri, const vdb_backend_options *opt, void **out);
    void (*close)(void *meta);
    /* VDB_ENOTFOUND when the key is missing. *val is malloc'ed (NUL-terminated past len). */
    vdb_status (*get)(void *meta, const char *key, void **val, size_t *len);
    vdb_status (*put)(void *meta, const char *key, const void *val, size_t len);
    vdb_status (*del)(void *meta, const char *key); /* missing key: VDB_OK */
    vdb_status (*scan)(void *meta, const char *prefix, vdb_meta_scan_fn fn, void *arg);
    /* All checks hold -> every put/delete is applied atomically and durably; a check fails
     * -> nothing is applied and VDB_ECONFLICT is returned. */
    vdb_status (*txn)(void *meta, const vdb_meta_op *ops, size_t n);
} vdb_meta_backend;

/* ---- object: immutable named blobs ------------------------------------------------------ */

#define VDB_OBJECT_BACKEND_VERSION 1

typedef int (*vdb_object_list_fn)(void *arg, const char *key, uint64_t size);

typedef struct vdb_object_backend {
    int version; /* VDB_OBJECT_BACKEND_VERSION */
    const char *scheme;
    vdb_status (*open)(const char *uri, const vdb_backend_options *opt, void **out);
    void (*close)(void *store);
    /* Atomic: a reader sees the old object, or the whole new one. Durable on VDB_OK. */
    vdb_status (*put)(void *store, const char *key, const void *data, size_t len);
    vdb_status (*get)(void *store, const char *key, void **data, size_t *len);
    /* Up to len bytes from offset; *got may be shorter at the end of the object. */
    vdb_status (*get_range)(void *store, const char *key, uint64_t offset, size_t len,
                            void **data, size_t *got);
    vdb_status (*head)(void *store, const char *key, uint64_t *size);
    /* Every key starting with prefix, ascending. */
    vdb_status (*list)(void *store, const char *prefix, vdb_object_list_fn fn, void *arg);
    vdb_status (*del)(void *store, const char *key); /* missing key: VDB_OK */
} vdb_object_backend;

/* Registration by scheme. A backend with an unknown version is refused (VDB_EVERSION);
 * registering a scheme twice replaces the earlier backend. Thread-safe. */
VDB_EXPORT vdb_status vdb_register_log_backend(const vdb_log_backend *be);
VDB_EXPORT vdb_status vdb_register_meta_backend(const vdb_meta_backend *be);
VDB_EXPORT vdb_status vdb_register_object_backend(const vdb_object_backend *be);

/* For backends: set the calling thread's error message and return st. */
VDB_EXPORT vdb_status vdb_set_errmsg(vdb_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif

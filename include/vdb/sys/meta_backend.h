/* libvdb — the meta vtable, for backend authors: a small ordered key-value store with
 * transactions, holding the catalog, segment manifests, checkpoints and the timestamp oracle's
 * window. See sys/backend.h for the rules every vtable follows (versions, memory, errors,
 * thread-safety). Built in: local:// (lib/storage/meta_local.c), rocksdb:// and etcd://
 * (backends/). */
#ifndef VDB_SYS_META_BACKEND_H
#define VDB_SYS_META_BACKEND_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version 1: open, close, get, put, del, scan, txn (libvdb 0.1). Version 2: app_data. */
#define VDB_META_BACKEND_VERSION 2

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
    unsigned version; /* the version this struct was written for: 1..VDB_META_BACKEND_VERSION */
    const char *scheme;

    /* ---- version 1 ------------------------------------------------------------------------ */
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

    /* ---- version 2 ------------------------------------------------------------------------ */
    void *app_data; /* handed to open() in opt->app_data; the library never looks at it */
} vdb_meta_backend;

/* A struct for the version this header describes, every method NULL: fill in the rest. */
#ifdef __cplusplus
#define VDB_META_BACKEND_INIT {VDB_META_BACKEND_VERSION}
#else
#define VDB_META_BACKEND_INIT {.version = VDB_META_BACKEND_VERSION}
#endif

/* Zeroes the part of *be that version defines and sets be->version; VDB_EVERSION, writing
 * nothing, for 0 or a version newer than VDB_META_BACKEND_VERSION. */
VDB_EXPORT vdb_status vdb_meta_backend_init(vdb_meta_backend *be, unsigned version);

/* Registers (a copy of) be under its scheme; see sys/backend.h. Thread-safe. */
VDB_EXPORT vdb_status vdb_register_meta_backend(const vdb_meta_backend *be);

#ifdef __cplusplus
}
#endif
#endif

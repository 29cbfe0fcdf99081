/* libvdb — the object vtable, for backend authors: immutable named blobs (segment binlogs,
 * delete logs, index files). See sys/backend.h for the rules every vtable follows (versions,
 * memory, errors, thread-safety). Built in: file:// (lib/storage/object_file.c), s3:// and
 * azblob:// (backends/). */
#ifndef VDB_SYS_OBJECT_BACKEND_H
#define VDB_SYS_OBJECT_BACKEND_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version 1: open, close, put, get, get_range, head, list, del (libvdb 0.1).
 * Version 2: app_data. */
#define VDB_OBJECT_BACKEND_VERSION 2

/* Called for each key in ascending order; return non-zero to stop. */
typedef int (*vdb_object_list_fn)(void *arg, const char *key, uint64_t size);

typedef struct vdb_object_backend {
    unsigned version; /* the version this struct was written for: 1..VDB_OBJECT_BACKEND_VERSION */
    const char *scheme;

    /* ---- version 1 ------------------------------------------------------------------------ */
    vdb_status (*open)(const char *uri, const vdb_backend_options *opt, void **out);
    void (*close)(void *store);
    /* Atomic: a reader sees the old object, or the whole new one. Durable on VDB_OK. */
    vdb_status (*put)(void *store, const char *key, const void *data, size_t len);
    /* *data is malloc'ed. VDB_ENOTFOUND when there is no such object. */
    vdb_status (*get)(void *store, const char *key, void **data, size_t *len);
    /* Up to len bytes from offset; *got may be shorter at the end of the object. */
    vdb_status (*get_range)(void *store, const char *key, uint64_t offset, size_t len,
                            void **data, size_t *got);
    vdb_status (*head)(void *store, const char *key, uint64_t *size);
    /* Every key starting with prefix, ascending. */
    vdb_status (*list)(void *store, const char *prefix, vdb_object_list_fn fn, void *arg);
    vdb_status (*del)(void *store, const char *key); /* missing key: VDB_OK */

    /* ---- version 2 ------------------------------------------------------------------------ */
    void *app_data; /* handed to open() in opt->app_data; the library never looks at it */
} vdb_object_backend;

/* A struct for the version this header describes, every method NULL: fill in the rest. */
#ifdef __cplusplus
#define VDB_OBJECT_BACKEND_INIT {VDB_OBJECT_BACKEND_VERSION}
#else
#define VDB_OBJECT_BACKEND_INIT {.version = VDB_OBJECT_BACKEND_VERSION}
#endif

/* Zeroes the part of *be that version defines and sets be->version; VDB_EVERSION, writing
 * nothing, for 0 or a version newer than VDB_OBJECT_BACKEND_VERSION. */
VDB_EXPORT vdb_status vdb_object_backend_init(vdb_object_backend *be, unsigned version);

/* Registers (a copy of) be under its scheme; see sys/backend.h. Thread-safe. */
VDB_EXPORT vdb_status vdb_register_object_backend(const vdb_object_backend *be);

#ifdef __cplusplus
}
#endif
#endif

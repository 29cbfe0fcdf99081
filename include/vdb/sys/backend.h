/* libvdb — for storage backend authors: what the log, meta and object vtables share.
 *
 * Applications never include this or the other sys/ headers: <vdb/vdb.h> does not. A backend
 * author includes the header of the vtable it implements (sys/log_backend.h,
 * sys/meta_backend.h, sys/object_backend.h); each includes this one.
 *
 * A backend is a struct of function pointers whose first field is its version, then its URI
 * scheme, then its methods in the order of the versions that added them. It is registered by
 * scheme (vdb_register_log_backend, ...) and chosen by the URI in vdb_options.
 *
 * How the vtables grow without breaking backends (SQLite's iVersion, libgit2's sys/ headers):
 * - A new method is only ever appended to the end of its vtable, with the version number
 *   raised; nothing is removed, reordered or retyped. VDB_<KIND>_BACKEND_VERSION is the newest
 *   version this header describes.
 * - A backend sets version to the version it was written for. Registration accepts any
 *   version from 1 to VDB_<KIND>_BACKEND_VERSION and copies exactly the part of the struct
 *   that version defines (an older backend's struct is shorter: it is never read past its
 *   end), so the caller may free or reuse its struct afterwards. A newer version than this
 *   library knows is refused with VDB_EVERSION.
 * - Before calling a method added in version N the library checks the backend's version (and
 *   that the method is set); otherwise the call fails with VDB_EUNSUPPORTED naming the backend
 *   and the method. Those checks live in one place inside the library (lib/storage).
 * - Every version-1 method is required (registration gives VDB_EINVAL naming a missing one);
 *   later methods may be NULL, meaning "not supported by this backend".
 * - To fill a struct at run time: `vdb_log_backend be = VDB_LOG_BACKEND_INIT;` or
 *   vdb_log_backend_init(&be, VDB_LOG_BACKEND_VERSION), then set the scheme and methods.
 *
 * Conventions for every method:
 * - It returns a vdb_status and, on failure, sets the thread's error message with
 *   vdb_set_errmsg, naming the server, file, channel or key concerned.
 * - Memory a backend hands out (values, objects) is allocated with malloc() and freed by the
 *   library with free(); the library allocates with the same allocator. Pointers passed to a
 *   callback are valid only during that call.
 * - Every method must be thread-safe on one instance, unless its comment says otherwise.
 * - Callbacks (scan, list, read, poll) may call back into the same instance. */
#ifndef VDB_SYS_BACKEND_H
#define VDB_SYS_BACKEND_H

#include <stdarg.h>

#include "../types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a backend's open() receives beside its URI. The library fills it and always passes the
 * whole struct of its own version; a backend reads the fields its vtable version knows. */
typedef struct vdb_backend_options {
    /* ---- version 1 ---- */
    vdb_sync_mode sync;
    uint32_t sync_interval_ms;
    uint32_t timeout_ms;      /* network backends: give up on one request after this long */
    int disable_io_uring;     /* local WAL: force the plain pwrite path */
    /* ---- version 2 (passed to backends whose vtable version is 2 or later) ---- */
    void *app_data;           /* the registered struct's app_data, untouched by the library */
    /* Log backends: the instance will only read (read, last_pos, subscribe, poll) and may run
     * in another process than the one appending. append, truncate and drop give VDB_EINVAL. A
     * log backend that cannot open that way gives VDB_EUNSUPPORTED. The local meta store
     * (local://) opens a read-only snapshot of a store a writer elsewhere may be changing
     * (writes: VDB_EREADONLY); other meta and object backends ignore it. */
    int read_only;
} vdb_backend_options;

/* For backends: set the calling thread's error message (printf format) and return st. */
#if defined(__GNUC__) || defined(__clang__)
#define VDB_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define VDB_PRINTF_LIKE(f, a)
#endif
VDB_EXPORT vdb_status vdb_set_errmsg(vdb_status st, const char *fmt, ...) VDB_PRINTF_LIKE(2, 3);

#ifdef __cplusplus
}
#endif
#endif

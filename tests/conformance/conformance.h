/* Helpers shared by the conformance programs (conformance_log, _meta, _object): the URI and
 * options from the command line or the environment, unique names, and deterministic bytes.
 *
 * Every program takes the same command line:
 *   conformance_<kind> URI [FILTER]
 *     URI     the backend to test (else the variable VDB_CONFORMANCE_URI)
 *     FILTER  run only the tests whose names match this cmocka glob ("*cas*")
 *   VDB_CONFORMANCE_SYNC=full|batch|off  the backend options' sync mode (default full)
 *   VDB_CONFORMANCE_TIMEOUT_MS=N         the backend options' timeout_ms (default 10000)
 * Exit status 0 when every test passed. Each test works under its own names (a prefix made
 * of the time, the pid and a counter), so runs can share one server. */
#ifndef VDB_CONFORMANCE_H
#define VDB_CONFORMANCE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "storage/storage.h"

#define CF_OK(expr)                                                                           \
    do {                                                                                      \
        vdb_status st_ = (expr);                                                              \
        if (st_ != VDB_OK)                                                                    \
            fail_msg("line %d: %s -> %s: %s", __LINE__, #expr, vdb_status_name(st_),          \
                     vdb_err_get());                                                          \
    } while (0)

#define CF_STATUS(expr, want)                                                                 \
    do {                                                                                      \
        vdb_status st_ = (expr);                                                              \
        if (st_ != (want))                                                                    \
            fail_msg("line %d: %s -> %s (%s), expected %s", __LINE__, #expr,                  \
                     vdb_status_name(st_), vdb_err_get(), vdb_status_name(want));             \
    } while (0)

/* Parses the command line (exits with usage on a bad one); returns the URI. */
const char *cf_init(int argc, char **argv, const char *prog);
const char *cf_uri(void);
/* The backend options of the run. */
vdb_backend_options cf_options(void);
/* A fresh name for one test: "<run>-<n>-<tag>" with run unique to this process; letters,
 * digits, '-' only (valid as a WAL channel, a meta key and an object key). malloc'ed. */
char *cf_name(const char *tag);
/* n deterministic bytes from seed, NULs included. malloc'ed. */
uint8_t *cf_bytes(size_t n, uint64_t seed);

#endif

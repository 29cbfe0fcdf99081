/* The one reader of "key=value,key=value" parameter strings (index parameters, search
 * parameters): split on commas, blanks around each pair skipped, every pair must have '='. */
#ifndef VDB_KV_H
#define VDB_KV_H

#include "util/util.h"

#define VDB_KV_MAX_TEXT 511 /* longest parameter string accepted */

/* Called for each pair in order; return anything but VDB_OK to stop with that status. */
typedef vdb_status (*vdb_kv_fn)(void *arg, const char *key, const char *val);

/* Calls fn for every pair of text (NULL or "" has none). what names the string in messages
 * ("index parameter", "search parameter"). VDB_EINVAL for a pair without '=' or a text longer
 * than VDB_KV_MAX_TEXT; otherwise the first status fn returned that was not VDB_OK. */
vdb_status vdb_kv_each(const char *text, const char *what, vdb_kv_fn fn, void *arg);

/* An unsigned integer within [lo, hi] (VDB_EINVAL "<what> key=val is out of range: lo..hi"). */
vdb_status vdb_kv_uint(const char *what, const char *key, const char *val, uint32_t lo,
                       uint32_t hi, uint32_t *out);
/* A finite number (VDB_EINVAL "<what> key=val is not a finite number"). */
vdb_status vdb_kv_float(const char *what, const char *key, const char *val, float *out);

#endif

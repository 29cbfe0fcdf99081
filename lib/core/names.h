/* Lists of names handed to the caller (vdb_names), freed with vdb_names_free. */
#ifndef VDB_CORE_NAMES_H
#define VDB_CORE_NAMES_H

#include "vdb/vdb.h"

#include "util/util.h"

/* An empty list with room for n names. */
vdb_status vdb_names_new(size_t n, vdb_names **out);

/* A copy of name appended to a list made by vdb_names_new (within its room). */
vdb_status vdb_names_add(vdb_names *list, const char *name);

/* The end of a list call that filled *out and got st: on failure the list is freed and *out
 * NULL; on success the names from index `from` on are sorted (those before stay first). */
vdb_status vdb_names_finish(vdb_names **out, size_t from, vdb_status st);

#endif

/* Lists of names handed to the caller (vdb_names), freed with vdb_names_free. */
#ifndef VDB_CORE_NAMES_H
#define VDB_CORE_NAMES_H

#include "vdb/vdb.h"

#include "util/util.h"

/* An empty list with room for n names. */
vdb_status vdb_names_new(size_t n, vdb_names **out);

#endif

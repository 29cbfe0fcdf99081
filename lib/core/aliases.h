/* Aliases of collections (aliases.c): the public calls, and their loading at open. */
#ifndef VDB_CORE_ALIASES_H
#define VDB_CORE_ALIASES_H

#include "core/db.h"

/* Reads every "alias/" record into the catalog (after the collections). */
vdb_status vdb_load_aliases(vdb_db *db);

#endif

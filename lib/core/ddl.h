/* DDL records on the log's "ddl" channel (ddl.c): log as data, so that other roles follow
 * the catalog in a cluster. */
#ifndef VDB_CORE_DDL_H
#define VDB_CORE_DDL_H

#include "core/db.h"

/* Appends "<what> <name>" for collection coll, stamped with a fresh timestamp (name: the
 * collection's; "<alias> <collection>" for the alias calls, "<old> <new>" for a rename). */
vdb_status vdb_ddl_log(vdb_db *db, const char *what, const char *name, uint64_t coll);

#endif

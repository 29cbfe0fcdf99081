/* Databases (databases.c): namespaces of collections, as Milvus has them. A collection or
 * alias of database d is named "d.<name>" everywhere in the library (its meta key included);
 * one of "default" by its bare name, so folders from before databases open unchanged. */
#ifndef VDB_CORE_DATABASES_H
#define VDB_CORE_DATABASES_H

#include "core/db.h"

/* Whether the database of a canonical qualified name exists (catalog lock held); else
 * VDB_ENOTFOUND naming it, as Milvus's "database not found". */
vdb_status vdb_check_database_of(const vdb_catalog *cat, const char *name);
/* Reads the database records at open ("database/<name>"). */
vdb_status vdb_load_databases(vdb_db *db);

#endif

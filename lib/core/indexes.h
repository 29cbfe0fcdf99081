/* Index choices of fields (indexes.c): the checks of index types and parameters, and their
 * records in the meta store ("idx/<collection>/<field>", with the index's name). */
#ifndef VDB_CORE_INDEXES_H
#define VDB_CORE_INDEXES_H

#include "core/db.h"

/* The index of type (AUTOINDEX resolved) with params on field f, checked: VDB_EINVAL naming
 * the parameter and range, VDB_EUNSUPPORTED for a Milvus type this library lacks. */
vdb_status vdb_index_choose(const vdb_field_def *f, const char *type, const char *params,
                            vdb_field_index *out);
/* Recovery: the index choices of c, before its segments load. */
vdb_status vdb_load_indexes(vdb_db *db, vdb_collection *c);

#endif

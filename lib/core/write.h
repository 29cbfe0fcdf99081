/* The write path (write.c): insert, upsert, delete by keys. */
#ifndef VDB_CORE_WRITE_H
#define VDB_CORE_WRITE_H

#include "core/db.h"

/* Deletes the keys in pkcol (moved from; the caller frees it) at one timestamp, in partition
 * (NULL: every partition). The catalog lock is held by the caller. */
vdb_status vdb_delete_keys(vdb_db *db, vdb_collection *c, const char *partition,
                           vdb_column *pkcol, uint64_t *ts_out);

#endif

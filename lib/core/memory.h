/* The memory budget (vdb_options.memory_budget_bytes, memory.c): what a collection holds in
 * memory, and the check every write passes. */
#ifndef VDB_CORE_MEMORY_H
#define VDB_CORE_MEMORY_H

#include "core/db.h"

/* Bytes c holds: the columns, timestamps, pk index, bloom filters and delete records of its
 * growing and sealed segments (vdb_segment_memory: mapped columns are the page cache's, not
 * counted) and its vector indexes. c->lock held for reading. */
uint64_t vdb_collection_memory(const vdb_collection *c);
/* VDB_OK, or VDB_ERANGE naming the budget when the database holds more than it (the write
 * is refused, as Milvus's memory protection denies writes; reads go on). The catalog lock is
 * held; takes each collection's lock for reading. what: the refused call. */
vdb_status vdb_memory_admit(vdb_db *db, const char *what);

#endif

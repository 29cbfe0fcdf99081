/* Log records applied to a collection's segments (apply.c): the one place the write path and
 * recovery's replay share, so a record means the same thing live and after a restart. The
 * caller holds the collection's lock for writing (or is alone, at open). */
#ifndef VDB_CORE_APPLY_H
#define VDB_CORE_APPLY_H

#include "core/db.h"
#include "log/log.h"

/* Record bodies: the columns of one shard's part of an insert, the keys of a delete. */
void vdb_encode_columns(const vdb_column *cols, size_t ncols, vdb_buf *out);
vdb_status vdb_decode_columns(const vdb_collection *c, const void *body, size_t len,
                              vdb_column *cols, size_t *rows);
vdb_status vdb_decode_delete(const vdb_collection *c, const void *body, size_t len,
                             vdb_column *pks);

/* Before applying an insert record of rows rows (write_mu held, or alone at open; not
 * c->lock): creates the growing segment it goes to when there is none (its id may need a
 * meta-store write, which must not happen under c->lock) and makes room there for the rows,
 * so that vdb_apply_insert cannot fail for want of memory once the record is durable. */
vdb_status vdb_apply_prepare(vdb_db *db, vdb_collection *c, const vdb_rec_header *h,
                             const vdb_column *cols, size_t rows);
/* Appends an insert record's rows (cols) to the growing segment of its shard and partition
 * (vdb_apply_prepare made it); an upsert deletes the keys first. A record for a partition
 * dropped since is skipped. */
vdb_status vdb_apply_insert(vdb_collection *c, const vdb_rec_header *h, const vdb_column *cols,
                            size_t rows, uint64_t pos);
/* Records the deletes of pks at ts in every segment of the shard that may hold them
 * (partition_id 0: every partition), and moves the shard's position to pos. */
vdb_status vdb_apply_delete(vdb_collection *c, uint32_t shard, uint64_t partition_id,
                            const vdb_column *pks, uint64_t ts, uint64_t pos);

#endif

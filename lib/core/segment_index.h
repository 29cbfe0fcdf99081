/* Indexes on sealed segments (segment_index.c): scalar ones built in the calling thread,
 * vector ones built in the background, saved beside the segment and swapped in. */
#ifndef VDB_CORE_SEGMENT_INDEX_H
#define VDB_CORE_SEGMENT_INDEX_H

#include "core/db.h"

/* The collection's indexes on sealed segment s: builds the missing scalar indexes here, and
 * loads saved vector indexes from the object store when load_saved (one not found there is
 * left to vdb_index_queue); lock (may be NULL) is taken for writing around the attach when
 * readers may see s. Errors are the scalar builds'. */
vdb_status vdb_index_segment(vdb_db *db, vdb_collection *c, vdb_segment *s,
                             pthread_rwlock_t *lock, bool load_saved);
/* Queues a background build for every vector index s lacks (s must be in c->sealed; the
 * caller holds write_mu or is alone, and not c->lock). The build saves the index beside the
 * segment and attaches it under c's write lock, unless s or the index went meanwhile. */
void vdb_index_queue(vdb_db *db, vdb_collection *c, vdb_segment *s);
/* Memory and rows of the vector indexes on s (any field). */
void vdb_index_usage(const vdb_collection *c, const vdb_segment *s, uint64_t *bytes,
                     uint64_t *rows);
/* Removes every object under a segment's folder (its files and saved indexes). */
void vdb_segment_objects_delete(vdb_db *db, const vdb_collection *c, uint64_t segment_id);
/* Whether field f's index has something to build on each segment (a vector kind other than
 * FLAT). */
bool vdb_index_builds(const vdb_collection *c, size_t f);
/* For vdb_check (write_mu held): decodes every saved vector index of c's sealed segments; fn
 * gets each one that is damaged or cannot be read (its message set, naming the object), and
 * the count is returned. One not saved is no problem: it is built again. */
size_t vdb_index_verify(vdb_db *db, vdb_collection *c, void (*fn)(void *arg, vdb_status st),
                        void *arg);

#endif

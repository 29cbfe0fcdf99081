/* What every read shares (readpath.c): its timestamp, and the segments it covers. */
#ifndef VDB_CORE_READPATH_H
#define VDB_CORE_READPATH_H

#include "core/db.h"
#include "core/follow.h"

typedef struct vdb_seg_set {
    size_t n;
    vdb_segment **segs;
} vdb_seg_set;

/* The timestamp a read sees, from its travel timestamp or consistency level. */
vdb_status vdb_read_ts(vdb_db *db, const vdb_read_opts *r, uint64_t *T);
/* As vdb_read_ts, and pins the timestamp (vdb_pin_ts; EVENTUALLY takes "now") so that
 * compaction keeps what a read at it sees until vdb_unpin_ts: an iterator's snapshot. */
vdb_status vdb_read_pin(vdb_db *db, const vdb_read_opts *r, uint64_t *T);
/* want[slot] = true for the partitions r names (all when none); VDB_ENOTFOUND names one that
 * does not exist; naming any in a collection with a partition key is VDB_EINVAL. */
vdb_status vdb_pick_partitions(const vdb_collection *c, const vdb_read_opts *r, bool *want);
/* The segments of the wanted partitions (shard: only that one; UINT32_MAX: all); c->lock held.
 * out->segs is freed with vdb_free. */
vdb_status vdb_pick_segments(const vdb_collection *c, const bool *want, uint32_t shard,
                             vdb_seg_set *out);
/* The caller's read options (NULL: the defaults) as this library's struct, fields past the
 * caller's struct_size zero; VDB_EINVAL when struct_size is not set. */
vdb_status vdb_read_opts_copy(const vdb_read_opts *in, vdb_read_opts *out);

#endif

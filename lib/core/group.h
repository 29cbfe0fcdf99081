/* Grouping search's collector: the best group_size hits of every group (a value of the
 * group-by field: int, bool, varchar, or NULL) seen so far, and at the end the best groups,
 * ranked by their best hit. One per query. */
#ifndef VDB_CORE_GROUP_H
#define VDB_CORE_GROUP_H

#include "index/kernels/kernels.h"
#include "segment/segment.h"

typedef struct vdb_grouper vdb_grouper;

vdb_status vdb_grouper_new(size_t group_size, bool higher_better, vdb_grouper **out);
void vdb_grouper_free(vdb_grouper *g);
/* Offers hit (d, id) whose group is the value of col at row. */
vdb_status vdb_grouper_offer(vdb_grouper *g, const vdb_column *col, size_t row, float d,
                             int64_t id);
/* Groups seen. */
size_t vdb_grouper_groups(const vdb_grouper *g);
/* *out: whether the want best groups (by their best hit) are all full (false when fewer than
 * want groups were seen). */
vdb_status vdb_grouper_top_full(const vdb_grouper *g, size_t want, bool *out);
/* The hits of groups offset .. offset + limit - 1 in rank order (a group's rank: its best hit;
 * equal ones: the smaller id), each group's hits best first, into ids / dist (room for
 * limit * group_size); *n gets their number. */
vdb_status vdb_grouper_take(vdb_grouper *g, size_t offset, size_t limit, int64_t *ids,
                            float *dist, size_t *n);

#endif

/* The read calls at a timestamp the caller chose: what vdb_hybrid_search (hybrid.c) builds
 * on, so that its requests and the fetch of their output fields see one snapshot. */
#ifndef VDB_CORE_SEARCH_H
#define VDB_CORE_SEARCH_H

#include "core/db.h"

/* vdb_search on a request already copied to this library's layout (read.struct_size set),
 * at timestamp T (0: the one its read options give). what names the call in messages. */
vdb_status vdb_search_at(vdb_db *db, const vdb_search_req *req, uint64_t T, const char *what,
                         vdb_result **out);
/* vdb_get at timestamp T (0: the one read gives); read is this library's layout. With T
 * given, an empty key list is allowed (an empty result). */
vdb_status vdb_get_at(vdb_db *db, const char *collection, const vdb_pk_list *pks,
                      const vdb_read_opts *read, uint64_t T, vdb_result **out);
/* The query iterator's page (query.c): the visible rows at T that pass filter and whose
 * primary key is above *after (after NULL: from the smallest), the batch smallest keys, in
 * key order, as one group, with read's output fields (partitions: read's). *coll_id: 0 takes
 * the collection's id, another is checked against it (VDB_ERANGE: truncated or made again
 * since, so its snapshot is gone). */
vdb_status vdb_query_page_at(vdb_db *db, const char *collection, uint64_t *coll_id,
                             const char *filter, const vdb_read_opts *read, uint64_t T,
                             const struct vdb_pk *after, size_t batch, vdb_result **out);
/* round_decimal's value for what ("search parameter", "hybrid parameter"): -1 (as
 * computed) or 0..6, VDB_EINVAL otherwise. */
vdb_status vdb_round_decimal_param(const char *what, const char *val, int *out);
/* d rounded half away from zero to digits decimals, as Milvus's round_decimal (digits -1:
 * unchanged). One implementation for search and hybrid search. */
float vdb_round_decimal(float d, int digits);

#endif

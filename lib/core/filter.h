/* Filters as the core uses them (filter.c): what an expression may name in a collection,
 * and a compiled filter applied to a segment's rows with the segment's scalar indexes. */
#ifndef VDB_CORE_FILTER_H
#define VDB_CORE_FILTER_H

#include "core/collection.h"

/* Fills c->expr_fields / c->expr_schema from the schema. */
vdb_status vdb_filter_init(vdb_collection *c);
/* NULL or blank gives *out = NULL (no filter). */
vdb_status vdb_filter_compile(const vdb_collection *c, const char *text, vdb_expr **out);
/* Clears in bits (one per row of s) every row the filter rejects. */
vdb_status vdb_filter_apply(const vdb_collection *c, const vdb_expr *e, const vdb_segment *s,
                            uint64_t *bits);

#endif

/* order_by on query results (orderby.c): the matches ranked by scalar fields, ascending or
 * descending each, NULLs last either way, ties by primary key ascending; with a limit only
 * the best offset + limit are kept (a max-heap on the rank), else all are sorted. */
#ifndef VDB_CORE_ORDERBY_H
#define VDB_CORE_ORDERBY_H

#include "core/collection.h"

typedef struct vdb_order_row {
    vdb_segment *s;
    size_t row;
} vdb_order_row;

typedef struct vdb_order_heap vdb_order_heap;

/* Checks the fields (VDB_EINVAL naming one that is missing, twice, or a vector, JSON or
 * ARRAY field) and makes a heap keeping the cap best rows (cap 0: every row). */
vdb_status vdb_order_new(const vdb_collection *c, const vdb_order_by *by, size_t n, size_t cap,
                         vdb_order_heap **out);
void vdb_order_free(vdb_order_heap *h);
vdb_status vdb_order_add(vdb_order_heap *h, vdb_segment *s, size_t row);
/* Sorts what is kept, best first, into *rows (the heap's; n of them). */
void vdb_order_sort(vdb_order_heap *h, const vdb_order_row **rows, size_t *n);

#endif

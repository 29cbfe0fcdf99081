/* Columnar batches as the caller builds them (batch.c): named columns, copied. */
#ifndef VDB_CORE_BATCH_H
#define VDB_CORE_BATCH_H

#include "vdb/vdb.h"

#include "core/limits.h"
#include "segment/segment.h"

typedef struct vdb_batch_col {
    char *name;
    vdb_column col; /* type as given by the caller */
} vdb_batch_col;

struct vdb_batch {
    size_t ncols, cap;
    vdb_batch_col *cols;
    size_t rows;
};

#endif

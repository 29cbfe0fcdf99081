/* Caller input turned into the collection's columns (convert.c): type and shape checks,
 * NaN/Inf, lengths, JSON and arrays, defaults and NULLs, auto ids, the dynamic "$meta". */
#ifndef VDB_CORE_CONVERT_H
#define VDB_CORE_CONVERT_H

#include "core/batch.h"
#include "core/db.h"
#include "index/kernels/kernels.h"

/* b -> c->ncols columns in cols (initialised here; the caller frees them). Auto ids are
 * allocated here, before any lock is taken. */
vdb_status vdb_convert_batch(vdb_db *db, const vdb_collection *c, const vdb_batch *b,
                             bool upsert, vdb_column *cols);
/* A caller's key list -> a primary-key column of c's key type. */
vdb_status vdb_convert_pks(const vdb_collection *c, const vdb_pk_list *pks, vdb_column *out);
/* A stored sparse row (len bytes: n indices, then n values) checked as Milvus checks one:
 * indices strictly ascending and below 2^32 - 1, values finite and >= 0. VDB_EINVAL names
 * what (a field and row, a query) and the offending pair. */
vdb_status vdb_sparse_check(const void *p, size_t len, const char *what);

#endif

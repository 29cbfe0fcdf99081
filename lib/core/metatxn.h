/* A meta-store transaction built up op by op (metatxn.c): it owns copies of the keys and
 * takes the value buffers, so callers can build keys and values in loops. */
#ifndef VDB_CORE_METATXN_H
#define VDB_CORE_METATXN_H

#include "core/db.h"

typedef struct vdb_metatxn {
    size_t n, cap;
    vdb_meta_op *ops;
    char **keys;
    vdb_buf *vals;
    bool oom;
} vdb_metatxn;

/* Adds a put (val is taken: it is emptied) or a delete (val NULL). An allocation failure,
 * here or in the encoding of val (val->oom), is remembered and reported by commit, which then
 * writes nothing. */
void vdb_metatxn_add(vdb_metatxn *t, vdb_meta_op_kind kind, const char *key, vdb_buf *val);
/* Applies every op atomically (nothing to do: VDB_OK). */
vdb_status vdb_metatxn_commit(vdb_db *db, vdb_metatxn *t);
void vdb_metatxn_free(vdb_metatxn *t);

#endif

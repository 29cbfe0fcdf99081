/* JSON path indexes (jsonidx.c): Milvus's create_index on a JSON field with json_path and
 * json_cast_type, several per field (each with its own name). Kept in the meta store under
 * the field's index key ("idx/<collection>/<field>", first line "JSON_PATH", then one line
 * per index: name, cast and path separated by tabs); a library without JSON path indexes
 * refuses that record (it has no index for JSON fields). Built for each sealed segment in
 * the calling thread. */
#ifndef VDB_CORE_JSONIDX_H
#define VDB_CORE_JSONIDX_H

#include "core/db.h"
#include "expr/expr.h"

typedef struct vdb_jpath_def {
    char *name;
    size_t field;
    char *path;      /* as given */
    char *key;       /* vdb_jpath_key */
    size_t len;
    vdb_jcast cast;
} vdb_jpath_def;

/* The attachment of a JSON column on a sealed segment: its path indexes. */
typedef struct vdb_jpath_set {
    size_t n;
    vdb_jindex **ix;
} vdb_jpath_set;

void vdb_jpath_defs_free(vdb_jpath_def *defs, size_t n);
/* The JSON path index called name, -1 if none (write_mu or c->lock held). */
int vdb_jpath_named(const vdb_collection *c, const char *name);
/* create_index on JSON field f (catalog lock read held; takes write_mu): name may be NULL
 * (the field's name). */
vdb_status vdb_jpath_create(vdb_db *db, vdb_collection *c, int f, const char *name,
                            const char *type, const char *params);
/* Drops the path index called name, or (name NULL) the only one of field f (write_mu held). */
vdb_status vdb_jpath_drop(vdb_db *db, vdb_collection *c, int f, const char *name);
/* Recovery: field f's record (text[0..len)). */
vdb_status vdb_jpath_load(vdb_collection *c, int f, const char *key, const char *text,
                          size_t len);
/* Builds the path indexes s lacks; lock (may be NULL) is taken for writing to attach. */
vdb_status vdb_jpath_index_segment(vdb_collection *c, vdb_segment *s, pthread_rwlock_t *lock);
/* Fills out[0..) with the infos of the path indexes (all, or the one called name; c->lock
 * held) and returns how many; VDB_ENOMEM in *st leaves the strings to be freed. */
size_t vdb_jpath_infos(const vdb_collection *c, const char *name, vdb_index_info *out,
                       vdb_status *st);
/* Whether field f has path indexes; the type describe_index names for them. */
bool vdb_jpath_has(const vdb_collection *c, size_t f);

#endif

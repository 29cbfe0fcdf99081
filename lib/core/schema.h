/* Collection schemas inside the library: the fields as added (with parsed defaults), checks
 * that need the whole schema, and the encoding kept in the meta store. A schema is not
 * thread-safe; a collection's copy is never changed after creation. */
#ifndef VDB_CORE_SCHEMA_H
#define VDB_CORE_SCHEMA_H

#include "vdb/vdb.h"

#include "core/limits.h"
#include "util/json.h"
#include "util/util.h"

typedef struct vdb_field {
    vdb_field_def def;     /* strings owned */
    bool has_default;
    vdb_json_scalar defv;  /* parsed default */
    uint64_t added_ts;     /* vdb_add_collection_field's timestamp (0: created with it) */
} vdb_field;

struct vdb_schema {
    char *name;
    char *description;
    bool dynamic;
    uint32_t shards;
    size_t nfields;
    vdb_field *fields;
    int pk;                /* index of the primary key, -1 until added */
    int pkey;              /* index of the partition key field, -1: none */
    uint32_t key_parts;    /* num_partitions as set (0: the default) */
    uint32_t version;      /* bumped by each vdb_add_collection_field (0: as created) */
    size_t nfuncs;
    vdb_function_def *funcs; /* strings owned; input/output checked to exist */
};

#define VDB_DEFAULT_KEY_PARTITIONS 16
#define VDB_MAX_KEY_PARTITIONS 1024

vdb_status vdb_schema_copy(const vdb_schema *src, vdb_schema **out);
/* Appends f's default to col (f must have one), in column storage form. */
struct vdb_column;
vdb_status vdb_field_push_default(struct vdb_column *col, const vdb_field *f);
/* Every check that needs the whole schema (a primary key, a vector field). */
vdb_status vdb_schema_check_complete(const vdb_schema *s);
void vdb_schema_encode(const vdb_schema *s, vdb_buf *out);
vdb_status vdb_schema_decode(vdb_rd *r, vdb_schema **out);
int vdb_schema_find(const vdb_schema *s, const char *name);
/* The BM25 function whose output is field f (-1: none). */
int vdb_schema_function_of(const vdb_schema *s, size_t f);
/* Collection, partition and field names: 1..255 letters, digits or '_', not starting with
 * a digit. */
bool vdb_name_valid(const char *name);
/* Collection and alias names: a name, or "<database>.<name>" (databases.c); "default.<name>"
 * is "<name>". */
bool vdb_qualified_valid(const char *name);
/* The canonical form: "default.<name>" -> "<name>" (a pointer into name). */
const char *vdb_qualified_canon(const char *name);
/* The length of the database part ("db" of "db.c"; 0: the default database). */
size_t vdb_qualified_db_len(const char *name);
/* Whether two canonical names are in the same database. */
bool vdb_same_database(const char *a, const char *b);
#define VDB_DEFAULT_DATABASE "default"

#endif

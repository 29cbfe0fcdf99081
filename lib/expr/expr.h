/* Filter expressions: Milvus's boolean expression language parsed against a collection's
 * fields, and evaluated over a segment's columns into a bitset (using scalar indexes where a
 * leaf predicate allows). A parsed expression is immutable: evaluate it from any thread. */
#ifndef VDB_EXPR_H
#define VDB_EXPR_H

#include "util/util.h"
#include "index/scalar/scalar_index.h"
#include "segment/segment.h"

/* A field the expression may name. */
typedef struct vdb_expr_field {
    const char *name;
    vdb_type type;          /* BOOL, INT8..INT64, FLOAT, DOUBLE, VARCHAR, JSON, ARRAY, vectors */
    vdb_type element_type;  /* ARRAY */
    bool nullable;
    size_t col;             /* its column in a segment */
} vdb_expr_field;

typedef struct vdb_expr_schema {
    size_t nfields;
    const vdb_expr_field *fields;
    int dynamic_col;        /* the "$meta" JSON column (bare unknown names are its keys); -1 */
} vdb_expr_schema;

typedef struct vdb_expr vdb_expr;

/* Parses and type-checks text. Errors are VDB_EINVAL with a message naming the byte position
 * and what was expected ("filter: at 12: expected a value after '==', found ')'"), or the field
 * and the types involved ("filter: field 'age' is INT64, cannot compare with a string").
 * Never crashes on any input (fuzzed); nesting deeper than 200 is an error. */
vdb_status vdb_expr_parse(const char *text, const vdb_expr_schema *schema, vdb_expr **out);
void vdb_expr_free(vdb_expr *e);

/* JSON path indexes (jindex.c): the values at one path of a JSON column of one segment,
 * cast to one type (Milvus's json_cast_type) and indexed by an existing scalar kind. Rows
 * whose value there is missing, JSON null or of another type are left out. Immutable. */
typedef enum vdb_jcast {
    VDB_JCAST_BOOL = 1,
    VDB_JCAST_DOUBLE = 2,
    VDB_JCAST_VARCHAR = 3,
} vdb_jcast;

typedef struct vdb_jindex vdb_jindex;
/* A path (Milvus's json_path: `meta["a"]["b"]`, `meta["list"][0]`) into JSON field `field`,
 * as a key comparable with memcmp (*key, *len; free with vdb_free). VDB_EINVAL names the
 * path when it is not one into that field. */
vdb_status vdb_jpath_key(const char *path, const char *field, char **key, size_t *len);
/* The cast users name ("BOOL", "DOUBLE", "VARCHAR"; any case), or 0; its name back. */
vdb_jcast vdb_jcast_find(const char *name);
const char *vdb_jcast_name(vdb_jcast cast);
/* Builds the index of column col (JSON; column number colno in the expression input) at the
 * path whose key is key[0..len). */
vdb_status vdb_jindex_build(const vdb_column *col, size_t colno, const char *key, size_t len,
                            vdb_jcast cast, vdb_jindex **out);
void vdb_jindex_free(vdb_jindex *ix);
size_t vdb_jindex_memory(const vdb_jindex *ix);

/* One segment's data for evaluation. */
typedef struct vdb_expr_input {
    size_t rows;
    const vdb_column *const *cols;            /* by column index */
    const vdb_scalar_index *const *indexes;   /* by column index; NULL array or entries: none */
} vdb_expr_input;

/* Sets bit i of out (ceil(rows/64) words; the callee zeroes them first) for every row where
 * the expression is true. Comparisons with NULL (or a missing JSON key) are false, as in
 * Milvus; `not` of such a comparison is true only where the inner value exists. */
vdb_status vdb_expr_eval(const vdb_expr *e, const vdb_expr_input *in, uint64_t *out);
/* The same, with the JSON path indexes jx[0..njx) of the input's rows (any columns) asked
 * where they answer a leaf exactly. */
vdb_status vdb_expr_eval_json(const vdb_expr *e, const vdb_expr_input *in,
                              const vdb_jindex *const *jx, size_t njx, uint64_t *out);

/* Whether e can be true only where column col (an INT64 or VARCHAR field) equals one of
 * finitely many constants (`col == c`, `col in [...]`, joined by and / or); if so, calls
 * fn once per constant (an integer i, or the string s[0..len)), duplicates possible.
 * Anything else (not, ranges, other fields alone) gives false. */
typedef void (*vdb_expr_value_fn)(void *arg, int64_t i, const char *s, size_t len, bool is_str);
bool vdb_expr_implies_values(const vdb_expr *e, size_t col, vdb_expr_value_fn fn, void *arg);

#endif

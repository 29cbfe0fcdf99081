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

/* Whether e can be true only where column col (an INT64 or VARCHAR field) equals one of
 * finitely many constants (`col == c`, `col in [...]`, joined by and / or); if so, calls
 * fn once per constant (an integer i, or the string s[0..len)), duplicates possible.
 * Anything else (not, ranges, other fields alone) gives false. */
typedef void (*vdb_expr_value_fn)(void *arg, int64_t i, const char *s, size_t len, bool is_str);
bool vdb_expr_implies_values(const vdb_expr *e, size_t col, vdb_expr_value_fn fn, void *arg);

#endif

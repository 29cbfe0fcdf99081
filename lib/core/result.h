/* Results: rows grouped by query, each with its primary key, distance and output fields,
 * owned by the result and freed with it; and how the read paths fill one from segment rows
 * (which output fields a read asked for, one row appended at a time). */
#ifndef VDB_CORE_RESULT_H
#define VDB_CORE_RESULT_H

#include "core/collection.h"

struct vdb_result {
    size_t ngroups;
    size_t *group_off;     /* ngroups + 1 */
    vdb_column pks;        /* INT64 or VARCHAR */
    float *dist;           /* per row, or NULL */
    size_t nfields;
    char **names;
    vdb_column *fields;    /* one column per output field */
    uint64_t ts;
};

vdb_status vdb_result_new(vdb_type pk_type, size_t ngroups, size_t nfields, vdb_result **out);

/* An output field a read asked for. */
typedef struct vdb_out_field {
    const char *name;
    int col;         /* segment column, or -1 for a dynamic key */
    vdb_type type;
    uint32_t dim;
} vdb_out_field;

/* The fields r->output_fields names ("*": all), checked against c. *out is freed with
 * vdb_free. */
vdb_status vdb_resolve_outputs(const vdb_collection *c, const vdb_read_opts *r,
                               vdb_out_field **out, size_t *n);
/* A result for c with those fields, groups groups, and room for max_rows distances when
 * with_dist. */
vdb_status vdb_result_open(const vdb_collection *c, const vdb_out_field *of, size_t nof,
                           size_t groups, bool with_dist, size_t max_rows, vdb_result **out);
/* Appends row `row` of segment s (its key and the output fields) to r. */
vdb_status vdb_result_push(const vdb_collection *c, vdb_result *r, const vdb_out_field *of,
                           size_t nof, const vdb_segment *s, size_t row);
/* ... row `row` of cols, the c->ncols columns of a log record (core/apply.h). */
vdb_status vdb_result_push_cols(const vdb_collection *c, vdb_result *r,
                                const vdb_out_field *of, size_t nof, const vdb_column *cols,
                                size_t row);
/* A result of one group holding rows[0..n) of r (absolute row indexes), in that order. */
vdb_status vdb_result_select(const vdb_result *r, const uint32_t *rows, size_t n,
                             vdb_result **out);

#endif

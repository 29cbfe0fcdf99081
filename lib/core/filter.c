/* Filters as the core uses them: what an expression may name in a collection, and applying
 * a compiled filter to a segment's rows (with the segment's scalar indexes). */
#include "core/filter.h"
#include "core/jsonidx.h"

vdb_status vdb_filter_init(vdb_collection *c)
{
    const vdb_schema *s = c->schema;
    c->expr_fields = vdb_calloc(s->nfields + 1, sizeof *c->expr_fields);
    if (!c->expr_fields)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->nfields; i++) {
        const vdb_field_def *d = &s->fields[i].def;
        c->expr_fields[i] = (vdb_expr_field){d->name, d->type, d->element_type,
                                             d->nullable != 0, i};
    }
    c->expr_schema = (vdb_expr_schema){s->nfields, c->expr_fields,
                                       s->dynamic ? (int)s->nfields : -1};
    return VDB_OK;
}

vdb_status vdb_filter_compile(const vdb_collection *c, const char *text, vdb_expr **out)
{
    *out = NULL;
    if (!text)
        return VDB_OK;
    const char *p = text;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return *p ? vdb_expr_parse(text, &c->expr_schema, out) : VDB_OK;
}

vdb_status vdb_filter_apply(const vdb_collection *c, const vdb_expr *e, const vdb_segment *s,
                            uint64_t *bits)
{
    if (!e)
        return VDB_OK;
    size_t rows = vdb_segment_rows(s), words = rows / 64 + 1;
    const vdb_column **cols = vdb_calloc(c->ncols + 1, sizeof *cols);
    const vdb_scalar_index **ix = vdb_calloc(c->ncols + 1, sizeof *ix);
    uint64_t *pass = vdb_calloc(words, sizeof *pass);
    const vdb_jindex **jx = NULL;
    size_t njx = 0;
    vdb_status st = VDB_OK;
    if (!cols || !ix || !pass) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < c->ncols; i++) {
        cols[i] = vdb_segment_column(s, i);
        /* vector columns carry vector indexes, which filters never touch; JSON columns
         * their path indexes */
        ix[i] = vdb_type_is_any_vector(c->types[i]) || c->types[i] == VDB_TYPE_JSON
                    ? NULL : vdb_segment_attachment(s, i);
        const vdb_jpath_set *set = c->types[i] == VDB_TYPE_JSON ? vdb_segment_attachment(s, i)
                                                                 : NULL;
        if (set && set->n) {
            const vdb_jindex **g = vdb_realloc(jx, (njx + set->n) * sizeof *jx);
            if (!g)
                continue; /* without memory the filter scans */
            jx = g;
            for (size_t k = 0; k < set->n; k++)
                jx[njx++] = set->ix[k];
        }
    }
    vdb_expr_input in = {rows, cols, ix};
    st = vdb_expr_eval_json(e, &in, jx, njx, pass);
    for (size_t w = 0; st == VDB_OK && w < words; w++)
        bits[w] &= pass[w];
done:
    vdb_free(cols);
    vdb_free(ix);
    vdb_free(jx);
    vdb_free(pass);
    return st;
}

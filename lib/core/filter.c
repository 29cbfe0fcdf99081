/* Filters and scalar indexes as the core uses them: what an expression may name in a
 * collection, applying a compiled filter to a segment's rows, and building the indexes a
 * collection asks for on each sealed segment. */
#include <strings.h>

#include "core.h"

vdb_status vdb_collection_init_filters(vdb_collection *c)
{
    const vdb_schema *s = c->schema;
    c->expr_fields = vdb_calloc(s->nfields + 1, sizeof *c->expr_fields);
    c->index_type = vdb_calloc(s->nfields + 1, sizeof *c->index_type);
    if (!c->expr_fields || !c->index_type)
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

vdb_status vdb_filter_compile(vdb_collection *c, const char *text, vdb_expr **out)
{
    *out = NULL;
    if (!text)
        return VDB_OK;
    const char *p = text;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return *p ? vdb_expr_parse(text, &c->expr_schema, out) : VDB_OK;
}

vdb_status vdb_filter_apply(vdb_collection *c, const vdb_expr *e, const vdb_segment *s,
                            uint64_t *bits)
{
    if (!e)
        return VDB_OK;
    size_t rows = vdb_segment_rows(s), words = rows / 64 + 1;
    const vdb_column **cols = vdb_calloc(c->ncols + 1, sizeof *cols);
    const vdb_scalar_index **ix = vdb_calloc(c->ncols + 1, sizeof *ix);
    uint64_t *pass = vdb_calloc(words, sizeof *pass);
    vdb_status st = VDB_OK;
    if (!cols || !ix || !pass) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < c->ncols; i++) {
        cols[i] = vdb_segment_column(s, i);
        ix[i] = vdb_segment_attachment(s, i);
    }
    vdb_expr_input in = {rows, cols, ix};
    st = vdb_expr_eval(e, &in, pass);
    for (size_t w = 0; st == VDB_OK && w < words; w++)
        bits[w] &= pass[w];
done:
    vdb_free(cols);
    vdb_free(ix);
    vdb_free(pass);
    return st;
}

static bool is_numeric(vdb_type t)
{
    return t == VDB_TYPE_INT8 || t == VDB_TYPE_INT16 || t == VDB_TYPE_INT32 ||
           t == VDB_TYPE_INT64 || t == VDB_TYPE_FLOAT || t == VDB_TYPE_DOUBLE;
}

vdb_status vdb_index_type_check(const vdb_field_def *f, const char *type, const char **canon)
{
    vdb_type t = f->type;
    if (t == VDB_TYPE_FLOAT_VECTOR) {
        /* search is exact: FLAT (and AUTOINDEX, which resolves to it) describe what it does */
        if (!strcasecmp(type, "FLAT") || !strcasecmp(type, "AUTOINDEX")) {
            *canon = "FLAT";
            return VDB_OK;
        }
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "index type '%s' on vector field '%s' is not "
                              "supported yet (FLAT, exact search, is)", type, f->name);
    }
    if (t == VDB_TYPE_JSON || t == VDB_TYPE_ARRAY)
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "field '%s' is %s: no scalar index for it yet",
                              f->name, vdb_type_name(t));
    if (!strcasecmp(type, "AUTOINDEX"))
        type = t == VDB_TYPE_VARCHAR ? "TRIE" : t == VDB_TYPE_BOOL ? "INVERTED" : "STL_SORT";
    if (!strcasecmp(type, "STL_SORT") && (is_numeric(t) || t == VDB_TYPE_BOOL))
        *canon = "STL_SORT";
    else if (!strcasecmp(type, "INVERTED"))
        *canon = "INVERTED";
    else if (!strcasecmp(type, "TRIE") && t == VDB_TYPE_VARCHAR)
        *canon = "TRIE";
    else if (!strcasecmp(type, "STL_SORT") || !strcasecmp(type, "TRIE"))
        return vdb_set_errmsg(VDB_EINVAL, "index type %s does not suit field '%s' of type %s "
                              "(STL_SORT: numeric; TRIE: VARCHAR; INVERTED: any scalar)", type,
                              f->name, vdb_type_name(t));
    else
        return vdb_set_errmsg(VDB_EINVAL, "unknown index type '%s' for field '%s' (scalar: "
                              "STL_SORT, INVERTED, TRIE, AUTOINDEX)", type, f->name);
    return VDB_OK;
}

static vdb_sindex_kind kind_of(const char *type)
{
    if (!strcmp(type, "STL_SORT"))
        return VDB_SINDEX_SORTED;
    if (!strcmp(type, "INVERTED"))
        return VDB_SINDEX_INVERTED;
    if (!strcmp(type, "TRIE"))
        return VDB_SINDEX_TRIE;
    return 0;
}

static void free_sindex(void *p) { vdb_sindex_free(p); }

vdb_status vdb_index_segment(vdb_collection *c, vdb_segment *s, pthread_rwlock_t *lock)
{
    const vdb_schema *sc = c->schema;
    vdb_scalar_index **built = vdb_calloc(sc->nfields + 1, sizeof *built);
    vdb_status st = built ? VDB_OK : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (size_t i = 0; i < sc->nfields && st == VDB_OK; i++) {
        vdb_sindex_kind k = c->index_type[i] ? kind_of(c->index_type[i]) : 0;
        if (k && !vdb_segment_attachment(s, i))
            st = vdb_sindex_build(k, vdb_segment_column(s, i), &built[i]);
    }
    if (st != VDB_OK) {
        for (size_t i = 0; built && i < sc->nfields; i++)
            vdb_sindex_free(built[i]);
        vdb_free(built);
        return st;
    }
    if (lock)
        pthread_rwlock_wrlock(lock);
    for (size_t i = 0; i < sc->nfields; i++)
        if (built[i])
            vdb_segment_set_attachment(s, i, built[i], free_sindex);
    if (lock)
        pthread_rwlock_unlock(lock);
    vdb_free(built);
    return st;
}

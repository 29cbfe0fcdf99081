/* Results: rows grouped by query, each with its primary key, distance and output fields,
 * owned by the result and freed with it. */
#include "core.h"

vdb_status vdb_result_new(vdb_type pk_type, size_t ngroups, size_t nfields, vdb_result **out)
{
    vdb_result *r = vdb_calloc(1, sizeof *r);
    if (!r)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    r->ngroups = ngroups;
    r->nfields = nfields;
    r->group_off = vdb_calloc(ngroups + 1, sizeof *r->group_off);
    r->names = vdb_calloc(nfields + 1, sizeof *r->names);
    r->fields = vdb_calloc(nfields + 1, sizeof *r->fields);
    vdb_column_init(&r->pks, pk_type, 0, false);
    if (!r->group_off || !r->names || !r->fields) {
        vdb_result_free(r);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    *out = r;
    return VDB_OK;
}

void vdb_result_free(vdb_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nfields; i++) {
        if (r->names)
            vdb_free(r->names[i]);
        if (r->fields)
            vdb_column_free(&r->fields[i]);
    }
    vdb_free(r->names);
    vdb_free(r->fields);
    vdb_column_free(&r->pks);
    vdb_free(r->group_off);
    vdb_free(r->dist);
    vdb_free(r);
}

size_t vdb_result_groups(const vdb_result *r) { return r ? r->ngroups : 0; }

size_t vdb_result_rows(const vdb_result *r, size_t g)
{
    return r && g < r->ngroups ? r->group_off[g + 1] - r->group_off[g] : 0;
}

vdb_type vdb_result_pk_type(const vdb_result *r) { return r ? r->pks.type : VDB_TYPE_NONE; }
uint64_t vdb_result_timestamp(const vdb_result *r) { return r ? r->ts : 0; }

/* The absolute row index of (g, row), or SIZE_MAX when out of range. */
static size_t row_index(const vdb_result *r, size_t g, size_t row)
{
    if (!r || g >= r->ngroups || row >= r->group_off[g + 1] - r->group_off[g])
        return SIZE_MAX;
    return r->group_off[g] + row;
}

int64_t vdb_result_pk_int(const vdb_result *r, size_t g, size_t row)
{
    size_t i = row_index(r, g, row);
    if (i == SIZE_MAX || r->pks.type != VDB_TYPE_INT64)
        return 0;
    int64_t v;
    memcpy(&v, vdb_column_at(&r->pks, i), 8);
    return v;
}

const char *vdb_result_pk_str(const vdb_result *r, size_t g, size_t row)
{
    size_t i = row_index(r, g, row), len;
    if (i == SIZE_MAX || r->pks.type != VDB_TYPE_VARCHAR)
        return NULL;
    /* var columns keep a NUL after each value (see result filling in read.c) */
    return vdb_column_var(&r->pks, i, &len);
}

float vdb_result_distance(const vdb_result *r, size_t g, size_t row)
{
    size_t i = row_index(r, g, row);
    return i == SIZE_MAX || !r->dist ? 0.0f : r->dist[i];
}

vdb_status vdb_result_field(const vdb_result *r, size_t g, size_t row, const char *field,
                            vdb_value *out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(r && field && out, "vdb_result_field: result, field or out is NULL");
    size_t i = row_index(r, g, row);
    if (i == SIZE_MAX)
        return vdb_set_errmsg(VDB_ERANGE, "row %zu of group %zu is out of range", row, g);
    for (size_t f = 0; f < r->nfields; f++) {
        if (strcmp(r->names[f], field))
            continue;
        const vdb_column *c = &r->fields[f];
        memset(out, 0, sizeof *out);
        out->type = c->type;
        out->is_null = vdb_column_is_null(c, i);
        const void *p = vdb_type_is_var(c->type) ? NULL : vdb_column_at(c, i);
        switch (c->type) {
        case VDB_TYPE_BOOL: out->u.i64 = *(const uint8_t *)p; break;
        case VDB_TYPE_INT8: out->u.i64 = *(const int8_t *)p; break;
        case VDB_TYPE_INT16: { int16_t v; memcpy(&v, p, 2); out->u.i64 = v; break; }
        case VDB_TYPE_INT32: { int32_t v; memcpy(&v, p, 4); out->u.i64 = v; break; }
        case VDB_TYPE_INT64: memcpy(&out->u.i64, p, 8); break;
        case VDB_TYPE_FLOAT: { float v; memcpy(&v, p, 4); out->u.f64 = v; break; }
        case VDB_TYPE_DOUBLE: memcpy(&out->u.f64, p, 8); break;
        case VDB_TYPE_FLOAT_VECTOR:
            out->u.vec.ptr = p;
            out->u.vec.dim = c->dim;
            break;
        default: {
            size_t len;
            out->u.str.ptr = vdb_column_var(c, i, &len);
            out->u.str.len = len ? len - 1 : 0; /* stored with a trailing NUL */
            break;
        }
        }
        return VDB_OK;
    }
    return vdb_set_errmsg(VDB_ENOTFOUND, "field '%s' is not among the result's output fields",
                          field);
}

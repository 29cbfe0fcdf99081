/* Results: rows grouped by query, each with its primary key, distance and output fields,
 * owned by the result and freed with it. */
#include "core/result.h"
#include "util/json.h"

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
        case VDB_TYPE_SPARSE_FLOAT_VECTOR: { /* kept as stored, without a NUL: aligned */
            size_t len;
            const char *b = vdb_column_var(c, i, &len); /* sets len: its own statement */
            vdb_sparse_vec v = vdb_sparse_view(b, len);
            out->u.sparse.indices = v.idx;
            out->u.sparse.values = v.val;
            out->u.sparse.count = v.n;
            break;
        }
        case VDB_TYPE_FLOAT16_VECTOR:
        case VDB_TYPE_BFLOAT16_VECTOR:
        case VDB_TYPE_INT8_VECTOR:
        case VDB_TYPE_BINARY_VECTOR:
            out->u.raw.ptr = p;
            out->u.raw.dim = c->dim;
            out->u.raw.bytes = (uint32_t)vdb_type_width(c->type, c->dim);
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

/* ---- filling a result from segment rows ---- */

static vdb_status add_out(vdb_out_field **v, size_t *n, const char *name, int col, vdb_type type,
                          uint32_t dim)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*v)[i].name, name))
            return VDB_OK;
    vdb_out_field *nv = vdb_realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    *v = nv;
    nv[(*n)++] = (vdb_out_field){name, col, type, dim};
    return VDB_OK;
}

vdb_status vdb_resolve_outputs(const vdb_collection *c, const vdb_read_opts *r,
                               vdb_out_field **out, size_t *n)
{
    const vdb_schema *s = c->schema;
    *out = NULL;
    *n = 0;
    vdb_status st = VDB_OK;
    for (size_t i = 0; r && r->output_fields && i < r->n_output_fields && st == VDB_OK; i++) {
        const char *name = r->output_fields[i];
        if (!name)
            return vdb_set_errmsg(VDB_EINVAL, "output field %zu is NULL", i);
        if (!strcmp(name, "*")) {
            for (size_t f = 0; f < s->nfields && st == VDB_OK; f++)
                st = add_out(out, n, s->fields[f].def.name, (int)f, c->types[f], c->dims[f]);
            if (st == VDB_OK && s->dynamic)
                st = add_out(out, n, VDB_DYNAMIC_FIELD, (int)s->nfields, VDB_TYPE_JSON, 0);
            continue;
        }
        int f = vdb_schema_find(s, name);
        if (f >= 0)
            st = add_out(out, n, name, f, c->types[f], c->dims[f]);
        else if (s->dynamic && !strcmp(name, VDB_DYNAMIC_FIELD))
            st = add_out(out, n, name, (int)s->nfields, VDB_TYPE_JSON, 0);
        else if (s->dynamic && vdb_name_valid(name))
            st = add_out(out, n, name, -1, VDB_TYPE_JSON, 0);
        else
            st = vdb_set_errmsg(VDB_EINVAL, "output field '%s' is not a field of '%s'", name,
                                c->name);
    }
    if (st != VDB_OK) {
        vdb_free(*out);
        *out = NULL;
    }
    return st;
}

vdb_status vdb_result_open(const vdb_collection *c, const vdb_out_field *of, size_t nof,
                           size_t groups, bool with_dist, size_t max_rows, vdb_result **out)
{
    vdb_result *r;
    vdb_status st = vdb_result_new(c->types[c->schema->pk], groups, nof, &r);
    if (st != VDB_OK)
        return st;
    for (size_t i = 0; i < nof && st == VDB_OK; i++) {
        r->names[i] = vdb_strdup(of[i].name);
        vdb_column_init(&r->fields[i], of[i].type, of[i].dim, true);
        if (!r->names[i])
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    if (st == VDB_OK && with_dist && !(r->dist = vdb_calloc(max_rows + 1, sizeof(float))))
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    if (st != VDB_OK) {
        vdb_result_free(r);
        return st;
    }
    *out = r;
    return VDB_OK;
}

/* var-length values are kept with a trailing NUL so they can be used as C strings */
static vdb_status push_var(vdb_column *col, const char *s, size_t len, bool valid)
{
    char small[256];
    char *tmp = len < sizeof small ? small : vdb_malloc(len + 1);
    if (!tmp)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    memcpy(tmp, s, len);
    tmp[len] = 0;
    vdb_status st = vdb_column_push(col, tmp, len + 1, valid);
    if (tmp != small)
        vdb_free(tmp);
    return st;
}

/* The columns a row is read from: a segment's, or a log record's (an array). */
typedef struct row_src {
    const vdb_segment *seg;
    const vdb_column *cols;
} row_src;

static const vdb_column *src_column(const row_src *src, size_t i)
{
    return src->seg ? vdb_segment_column(src->seg, i) : &src->cols[i];
}

/* Appends row `row` of src to the result. */
static vdb_status push_row(const vdb_collection *c, vdb_result *r, const vdb_out_field *of,
                           size_t nof, const row_src *src, size_t row)
{
    const vdb_column *pk = src_column(src, (size_t)c->schema->pk);
    size_t len = 0;
    vdb_status st;
    if (pk->type == VDB_TYPE_INT64) {
        st = vdb_column_push(&r->pks, vdb_column_at(pk, row), 8, true);
    } else {
        const char *key = vdb_column_var(pk, row, &len); /* sets len: its own statement */
        st = push_var(&r->pks, key, len, true);
    }
    for (size_t i = 0; i < nof && st == VDB_OK; i++) {
        vdb_column *dst = &r->fields[i];
        if (of[i].col < 0) { /* a dynamic key inside "$meta" */
            const vdb_column *meta = src_column(src, c->schema->nfields);
            const char *obj = vdb_column_var(meta, row, &len), *val;
            size_t vlen;
            if (vdb_json_get(obj, len, of[i].name, &val, &vlen))
                st = push_var(dst, val, vlen, true);
            else
                st = push_var(dst, "", 0, false);
            continue;
        }
        const vdb_column *col = src_column(src, (size_t)of[i].col);
        bool valid = !vdb_column_is_null(col, row);
        if (col->type == VDB_TYPE_SPARSE_FLOAT_VECTOR) {
            const char *v = vdb_column_var(col, row, &len);
            st = vdb_column_push(dst, v, len, valid);
            if (st == VDB_OK && col->map && src->seg) /* a mapped file cut short reads as 0 */
                st = vdb_segment_check_mapped(src->seg);
        } else if (vdb_type_is_var(col->type)) {
            const char *v = vdb_column_var(col, row, &len);
            st = push_var(dst, v, len, valid);
        } else {
            st = vdb_column_push(dst, vdb_column_at(col, row), 0, valid);
            if (st == VDB_OK && col->map && src->seg) /* a mapped file cut short reads as 0 */
                st = vdb_segment_check_mapped(src->seg);
        }
    }
    return st;
}

vdb_status vdb_result_push(const vdb_collection *c, vdb_result *r, const vdb_out_field *of,
                           size_t nof, const vdb_segment *s, size_t row)
{
    row_src src = {s, NULL};
    return push_row(c, r, of, nof, &src, row);
}

vdb_status vdb_result_push_cols(const vdb_collection *c, vdb_result *r,
                                const vdb_out_field *of, size_t nof, const vdb_column *cols,
                                size_t row)
{
    row_src src = {NULL, cols};
    return push_row(c, r, of, nof, &src, row);
}

vdb_status vdb_result_select(const vdb_result *r, const uint32_t *rows, size_t n,
                             vdb_result **out)
{
    vdb_result *o;
    vdb_status st = vdb_result_new(r->pks.type, 1, r->nfields, &o);
    if (st != VDB_OK)
        return st;
    st = vdb_column_append_rows(&o->pks, &r->pks, rows, n);
    if (st == VDB_OK && r->dist && !(o->dist = vdb_malloc((n + 1) * sizeof *o->dist)))
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (size_t j = 0; st == VDB_OK && r->dist && j < n; j++)
        o->dist[j] = r->dist[rows[j]];
    for (size_t f = 0; f < r->nfields && st == VDB_OK; f++) {
        vdb_column_init(&o->fields[f], r->fields[f].type, r->fields[f].dim,
                        r->fields[f].nullable);
        if (!(o->names[f] = vdb_strdup(r->names[f])))
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        else
            st = vdb_column_append_rows(&o->fields[f], &r->fields[f], rows, n);
    }
    if (st != VDB_OK) {
        vdb_result_free(o);
        return st;
    }
    o->group_off[1] = n;
    o->ts = r->ts;
    *out = o;
    return VDB_OK;
}

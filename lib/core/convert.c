/* Turns a caller's batch into the collection's columns: type and shape checks, NaN/Inf
 * rejection, string lengths, JSON and array validation, defaults and NULLs, auto ids, and
 * the dynamic "$meta" object built from columns the schema does not name. */
#include <math.h>
#include <stdio.h>

#include "core/bm25.h"
#include "core/convert.h"
#include "core/ids.h"

vdb_status vdb_sparse_check(const void *p, size_t len, const char *what)
{
    if (len % 8)
        return vdb_set_errmsg(VDB_EINVAL, "%s: a sparse vector of %zu bytes (pairs of 8)", what,
                              len);
    vdb_sparse_vec v = vdb_sparse_view(p, len);
    for (uint32_t i = 0; i < v.n; i++) {
        uint32_t x;
        float f;
        memcpy(&x, v.idx + i, 4);
        memcpy(&f, v.val + i, 4);
        if (x == UINT32_MAX)
            return vdb_set_errmsg(VDB_EINVAL, "%s: sparse index %u is out of range (indices "
                                  "must be below 2^32 - 1)", what, x);
        if (i) {
            uint32_t prev;
            memcpy(&prev, v.idx + i - 1, 4);
            if (x <= prev)
                return vdb_set_errmsg(VDB_EINVAL, "%s: sparse indices must be strictly "
                                      "ascending: %s index %u after %u", what,
                                      x == prev ? "duplicate" : "unsorted", x, prev);
        }
        if (!isfinite(f))
            return vdb_set_errmsg(VDB_EINVAL, "%s: the value of sparse index %u is NaN or Inf",
                                  what, x);
        if (f < 0.0f)
            return vdb_set_errmsg(VDB_EINVAL, "%s: the value of sparse index %u is negative "
                                  "(%g); sparse values must be >= 0, as in Milvus", what, x,
                                  (double)f);
    }
    return VDB_OK;
}

/* Checks one present value of field f at row r of the caller's column. */
static vdb_status check_value(const vdb_field *f, const vdb_column *src, size_t r)
{
    const vdb_field_def *d = &f->def;
    char what[300];
    size_t len;
    const char *s;
    switch (d->type) {
    case VDB_TYPE_FLOAT: {
        float v;
        memcpy(&v, vdb_column_at(src, r), 4);
        if (!isfinite(v))
            return vdb_set_errmsg(VDB_EINVAL, "field '%s' row %zu: %g is not a finite number",
                                  d->name, r, (double)v);
        return VDB_OK;
    }
    case VDB_TYPE_DOUBLE: {
        double v;
        memcpy(&v, vdb_column_at(src, r), 8);
        if (!isfinite(v))
            return vdb_set_errmsg(VDB_EINVAL, "field '%s' row %zu: %g is not a finite number",
                                  d->name, r, v);
        return VDB_OK;
    }
    case VDB_TYPE_VARCHAR:
        vdb_column_var(src, r, &len);
        if (len > d->max_length)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s' row %zu: string of %zu bytes exceeds "
                                  "max_length %u", d->name, r, len, d->max_length);
        return VDB_OK;
    case VDB_TYPE_JSON:
        s = vdb_column_var(src, r, &len);
        snprintf(what, sizeof what, "field '%s' row %zu", d->name, r);
        return vdb_json_validate(s, len, what);
    case VDB_TYPE_ARRAY:
        s = vdb_column_var(src, r, &len);
        snprintf(what, sizeof what, "field '%s' row %zu", d->name, r);
        return vdb_json_check_array(s, len, d->element_type, d->max_capacity, d->max_length,
                                    what);
    case VDB_TYPE_FLOAT_VECTOR:
    case VDB_TYPE_FLOAT16_VECTOR:
    case VDB_TYPE_BFLOAT16_VECTOR: {
        size_t bad = vdb_vector_nonfinite(d->type, vdb_column_at(src, r), d->dim);
        if (bad < d->dim)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s' row %zu: element %zu of the %s is "
                                  "NaN or Inf", d->name, r, bad, vdb_type_name(d->type));
        return VDB_OK;
    }
    case VDB_TYPE_SPARSE_FLOAT_VECTOR: {
        s = vdb_column_var(src, r, &len);
        snprintf(what, sizeof what, "field '%s' row %zu", d->name, r);
        return vdb_sparse_check(s, len, what);
    }
    default:
        return VDB_OK;
    }
}

/* Fills column `col` (already initialised for field f) from the caller's column src. */
static vdb_status fill_field(const vdb_field *f, const vdb_column *src, size_t rows,
                             vdb_column *col)
{
    const vdb_field_def *d = &f->def;
    if (!src) {
        if (!d->nullable && !f->has_default)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s' is missing from the batch (it is "
                                  "not nullable and has no default)", d->name);
        for (size_t r = 0; r < rows; r++) {
            vdb_status st = f->has_default ? vdb_field_push_default(col, f)
                                           : vdb_column_push(col, NULL, 0, false);
            if (st != VDB_OK)
                return st;
        }
        return VDB_OK;
    }
    if (src->type != d->type)
        return vdb_set_errmsg(VDB_EINVAL, "field '%s' is %s but the batch column is %s",
                              d->name, vdb_type_name(d->type), vdb_type_name(src->type));
    if (vdb_type_is_vector(d->type) && src->dim != d->dim)
        return vdb_set_errmsg(VDB_EINVAL, "field '%s' has dim %u but the batch column has dim "
                              "%u", d->name, d->dim, src->dim);
    for (size_t r = 0; r < rows; r++) {
        vdb_status st;
        if (vdb_column_is_null(src, r)) {
            if (f->has_default)
                st = vdb_field_push_default(col, f);
            else if (d->nullable)
                st = vdb_column_push(col, NULL, 0, false);
            else
                st = vdb_set_errmsg(VDB_EINVAL, "field '%s' row %zu is NULL but the field is "
                                    "not nullable", d->name, r);
        } else if ((st = check_value(f, src, r)) == VDB_OK) {
            size_t len = 0;
            const void *p = vdb_type_is_var(d->type) ? vdb_column_var(src, r, &len)
                                                     : vdb_column_at(src, r);
            st = vdb_column_push(col, p, len, true);
        }
        if (st != VDB_OK)
            return st;
    }
    return VDB_OK;
}

/* The JSON text of row r of a caller's column (for a dynamic key). */
static void put_json_value(vdb_buf *o, const vdb_column *c, size_t r)
{
    char num[64];
    if (vdb_column_is_null(c, r)) {
        vdb_buf_put(o, "null", 4);
        return;
    }
    const void *p = vdb_type_is_var(c->type) ? NULL : vdb_column_at(c, r);
    int n = 0;
    switch (c->type) {
    case VDB_TYPE_BOOL: vdb_buf_put(o, *(const uint8_t *)p ? "true" : "false",
                                    *(const uint8_t *)p ? 4 : 5); return;
    case VDB_TYPE_INT8: n = snprintf(num, sizeof num, "%d", *(const int8_t *)p); break;
    case VDB_TYPE_INT16: { int16_t v; memcpy(&v, p, 2); n = snprintf(num, sizeof num, "%d", v); break; }
    case VDB_TYPE_INT32: { int32_t v; memcpy(&v, p, 4); n = snprintf(num, sizeof num, "%d", v); break; }
    case VDB_TYPE_INT64: { int64_t v; memcpy(&v, p, 8); n = snprintf(num, sizeof num, "%lld", (long long)v); break; }
    case VDB_TYPE_FLOAT: { float v; memcpy(&v, p, 4); n = snprintf(num, sizeof num, "%.9g", (double)v); break; }
    case VDB_TYPE_DOUBLE: { double v; memcpy(&v, p, 8); n = snprintf(num, sizeof num, "%.17g", v); break; }
    case VDB_TYPE_FLOAT_VECTOR:
    case VDB_TYPE_FLOAT16_VECTOR:
    case VDB_TYPE_BFLOAT16_VECTOR:
    case VDB_TYPE_INT8_VECTOR: {
        size_t w = vdb_vector_elem_size(c->type);
        vdb_buf_u8(o, '[');
        for (uint32_t i = 0; i < c->dim; i++) {
            float v;
            vdb_vector_to_f32(c->type, (const uint8_t *)p + i * w, 1, &v);
            n = snprintf(num, sizeof num, "%s%.9g", i ? "," : "", (double)v);
            vdb_buf_put(o, num, (size_t)n);
        }
        vdb_buf_u8(o, ']');
        return;
    }
    case VDB_TYPE_BINARY_VECTOR: { /* as a list of its bytes (Milvus's REST form) */
        const uint8_t *b = p;
        vdb_buf_u8(o, '[');
        for (size_t i = 0; i < vdb_vector_bytes(c->type, c->dim); i++) {
            n = snprintf(num, sizeof num, "%s%u", i ? "," : "", (unsigned)b[i]);
            vdb_buf_put(o, num, (size_t)n);
        }
        vdb_buf_u8(o, ']');
        return;
    }
    case VDB_TYPE_VARCHAR: {
        size_t len;
        const char *s = vdb_column_var(c, r, &len);
        vdb_json_put_string(o, s, len);
        return;
    }
    default: { /* JSON, ARRAY: already JSON text (validated by the caller) */
        size_t len;
        const char *s = vdb_column_var(c, r, &len);
        vdb_buf_put(o, s, len);
        return;
    }
    }
    vdb_buf_put(o, num, (size_t)n);
}

typedef struct meta_copy {
    vdb_buf *out;
    const vdb_batch *b;
    const int *extra;
    size_t nextra;
    bool first;
} meta_copy;

/* Copies a member of the given "$meta" object unless an explicit column overrides it. */
static int copy_member(void *arg, const char *key, size_t klen, const char *val, size_t vlen)
{
    meta_copy *m = arg;
    for (size_t i = 0; i < m->nextra; i++) {
        const char *name = m->b->cols[m->extra[i]].name;
        if (strlen(name) == klen && !memcmp(name, key, klen))
            return 0;
    }
    if (!m->first)
        vdb_buf_u8(m->out, ',');
    m->first = false;
    vdb_json_put_string(m->out, key, klen);
    vdb_buf_u8(m->out, ':');
    vdb_buf_put(m->out, val, vlen);
    return 0;
}

static vdb_status fill_dynamic(const vdb_batch *b, int meta_col, const int *extra, size_t nextra,
                               vdb_column *col)
{
    vdb_buf o = {0};
    vdb_status st = VDB_OK;
    if (meta_col >= 0 && b->cols[meta_col].col.type != VDB_TYPE_JSON)
        return vdb_set_errmsg(VDB_EINVAL, "column '$meta' must be JSON objects");
    for (size_t i = 0; i < nextra; i++) {
        const vdb_batch_col *bc = &b->cols[extra[i]];
        if (!vdb_name_valid(bc->name))
            return vdb_set_errmsg(VDB_EINVAL, "dynamic field name '%s' is invalid", bc->name);
        if (bc->col.type == VDB_TYPE_SPARSE_FLOAT_VECTOR)
            return vdb_set_errmsg(VDB_EINVAL, "column '%s' is a sparse vector: sparse vectors "
                                  "go in SPARSE_FLOAT_VECTOR fields, not dynamic ones",
                                  bc->name);
        if (bc->col.type == VDB_TYPE_JSON || bc->col.type == VDB_TYPE_ARRAY)
            for (size_t r = 0; r < b->rows && st == VDB_OK; r++) {
                size_t len;
                const char *s = vdb_column_var(&bc->col, r, &len);
                if (!vdb_column_is_null(&bc->col, r))
                    st = vdb_json_validate(s, len, bc->name);
            }
        if (st != VDB_OK)
            return st;
    }
    for (size_t r = 0; r < b->rows && st == VDB_OK; r++) {
        o.len = 0;
        vdb_buf_u8(&o, '{');
        meta_copy m = {&o, b, extra, nextra, true};
        if (meta_col >= 0 && !vdb_column_is_null(&b->cols[meta_col].col, r)) {
            size_t len;
            const char *s = vdb_column_var(&b->cols[meta_col].col, r, &len);
            char what[64];
            snprintf(what, sizeof what, "$meta row %zu", r);
            if ((st = vdb_json_validate(s, len, what)) != VDB_OK)
                break;
            if (!vdb_json_is_object(s, len)) {
                st = vdb_set_errmsg(VDB_EINVAL, "$meta row %zu is not a JSON object", r);
                break;
            }
            vdb_json_each(s, len, copy_member, &m);
        }
        for (size_t i = 0; i < nextra; i++) {
            if (!m.first)
                vdb_buf_u8(&o, ',');
            m.first = false;
            const vdb_batch_col *bc = &b->cols[extra[i]];
            vdb_json_put_string(&o, bc->name, strlen(bc->name));
            vdb_buf_u8(&o, ':');
            put_json_value(&o, &bc->col, r);
        }
        vdb_buf_u8(&o, '}');
        st = o.oom ? vdb_set_errmsg(VDB_ENOMEM, "out of memory")
                   : vdb_column_push(col, o.p, o.len, true);
    }
    vdb_buf_free(&o);
    return st;
}

vdb_status vdb_convert_batch(vdb_db *db, const vdb_collection *c, const vdb_batch *b, bool upsert,
                             vdb_column *cols)
{
    const vdb_schema *s = c->schema;
    size_t rows = b->rows;
    int *map = vdb_calloc(s->nfields + 1, sizeof *map);
    int *extra = vdb_calloc(b->ncols + 1, sizeof *extra);
    size_t nextra = 0;
    int meta_col = -1;
    vdb_status st = VDB_OK;
    if (!map || !extra) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < s->nfields; i++)
        map[i] = -1;
    for (size_t j = 0; j < b->ncols; j++) {
        int f = vdb_schema_find(s, b->cols[j].name);
        if (f >= 0)
            map[f] = (int)j;
        else if (s->dynamic && !strcmp(b->cols[j].name, VDB_DYNAMIC_FIELD))
            meta_col = (int)j;
        else if (s->dynamic)
            extra[nextra++] = (int)j;
        else {
            st = vdb_set_errmsg(VDB_EINVAL, "collection '%s' has no field '%s' (and dynamic "
                                "fields are off)", c->name, b->cols[j].name);
            goto done;
        }
    }
    for (size_t i = 0; i < c->ncols; i++)
        vdb_column_init(&cols[i], c->types[i], c->dims[i], c->nullable[i]);
    for (size_t i = 0; i < s->nfields && st == VDB_OK; i++) {
        const vdb_field *f = &s->fields[i];
        const vdb_column *src = map[i] >= 0 ? &b->cols[map[i]].col : NULL;
        if ((int)i == s->pk && f->def.auto_id) {
            if (src) {
                st = vdb_set_errmsg(VDB_EINVAL, "field '%s' is auto_id: leave it out of the "
                                    "batch, the library assigns it", f->def.name);
                break;
            }
            if (upsert) {
                st = vdb_set_errmsg(VDB_EINVAL, "upsert needs the primary key, but '%s' is "
                                    "auto_id", f->def.name);
                break;
            }
            uint64_t first;
            if ((st = vdb_ids_alloc(db, rows, &first)) != VDB_OK)
                break;
            for (size_t r = 0; r < rows && st == VDB_OK; r++) {
                int64_t id = (int64_t)(first + r);
                st = vdb_column_push(&cols[i], &id, 8, true);
            }
            continue;
        }
        if (vdb_schema_function_of(s, i) >= 0) {
            if (src) {
                st = vdb_set_errmsg(VDB_EINVAL, "field '%s' is the output of BM25 function "
                                    "'%s': leave it out of the batch, it is computed from "
                                    "the text", f->def.name,
                                    s->funcs[vdb_schema_function_of(s, i)].name);
                break;
            }
            continue; /* below, once its input is converted */
        }
        if ((int)i == s->pk && src && src->nullable)
            for (size_t r = 0; r < rows; r++)
                if (vdb_column_is_null(src, r)) {
                    st = vdb_set_errmsg(VDB_EINVAL, "primary key '%s' row %zu is NULL",
                                        f->def.name, r);
                    break;
                }
        if (st == VDB_OK)
            st = fill_field(f, src, rows, &cols[i]);
    }
    for (size_t k = 0; k < s->nfuncs && st == VDB_OK; k++) {
        int fi = vdb_schema_find(s, s->funcs[k].input_field);
        int fo = vdb_schema_find(s, s->funcs[k].output_field);
        st = vdb_bm25_fill(&s->fields[fi].def, &cols[fi], &cols[fo]);
    }
    if (st == VDB_OK && s->dynamic)
        st = fill_dynamic(b, meta_col, extra, nextra, &cols[s->nfields]);
done:
    if (st != VDB_OK)
        for (size_t i = 0; i < c->ncols; i++)
            vdb_column_free(&cols[i]);
    vdb_free(map);
    vdb_free(extra);
    return st;
}

vdb_status vdb_convert_pks(const vdb_collection *c, const vdb_pk_list *pks, vdb_column *out)
{
    const vdb_field_def *d = &c->schema->fields[c->schema->pk].def;
    VDB_CHECK_ARG(pks && pks->count > 0, "the primary key list is NULL or empty");
    VDB_CHECK_ARG((pks->ints != NULL) != (pks->strs != NULL),
                  "give exactly one of ints or strs in the primary key list");
    if (d->type == VDB_TYPE_INT64 && !pks->ints)
        return vdb_set_errmsg(VDB_EINVAL, "primary key '%s' is INT64: pass ints", d->name);
    if (d->type == VDB_TYPE_VARCHAR && !pks->strs)
        return vdb_set_errmsg(VDB_EINVAL, "primary key '%s' is VARCHAR: pass strs", d->name);
    vdb_column_init(out, d->type, 0, false);
    vdb_status st = VDB_OK;
    for (size_t i = 0; i < pks->count && st == VDB_OK; i++) {
        if (pks->ints) {
            st = vdb_column_push(out, &pks->ints[i], 8, true);
            continue;
        }
        const char *s = pks->strs[i];
        if (!s)
            st = vdb_set_errmsg(VDB_EINVAL, "primary key %zu is NULL", i);
        else if (strlen(s) > d->max_length)
            st = vdb_set_errmsg(VDB_EINVAL, "primary key %zu is longer than max_length %u", i,
                                d->max_length);
        else
            st = vdb_column_push(out, s, strlen(s), true);
    }
    if (st != VDB_OK)
        vdb_column_free(out);
    return st;
}

/* vdb-server — JSON rows into columnar batches, results back into JSON rows, primary keys. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define DYNAMIC_FIELD "$meta"

int srv_coll_load(srv_ctx *ctx, const char *name, srv_coll *c, srv_status *err)
{
    memset(c, 0, sizeof *c);
    if (!name || !*name)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: collection name should "
                        "not be empty");
    vdb_status st = vdb_describe_collection(ctx->db, name, &c->schema);
    if (st != VDB_OK)
        return srv_fail_vdb(ctx, err, st, name, 0);
    c->nfields = vdb_schema_field_count(c->schema);
    c->fields = calloc(c->nfields ? c->nfields : 1, sizeof *c->fields);
    if (!c->fields) {
        srv_coll_free(c);
        return srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
    }
    c->pk = 0;
    for (size_t i = 0; i < c->nfields; i++) {
        c->fields[i].struct_size = sizeof c->fields[i];
        vdb_schema_field(c->schema, i, &c->fields[i]);
        if (c->fields[i].is_primary)
            c->pk = (int)i;
    }
    c->dynamic = vdb_schema_dynamic(c->schema);
    return 0;
}

json_t *srv_coll_open(srv_ctx *ctx, const char *name, srv_coll *c)
{
    srv_status err;
    return srv_coll_load(ctx, name, c, &err) ? srv_status_json(&err) : NULL;
}

void srv_coll_free(srv_coll *c)
{
    vdb_schema_free(c->schema);
    free(c->fields);
    memset(c, 0, sizeof *c);
}

int srv_coll_find(const srv_coll *c, const char *field)
{
    for (size_t i = 0; i < c->nfields; i++)
        if (!strcmp(c->fields[i].name, field))
            return (int)i;
    return -1;
}

/* ---- rows -> batch ---------------------------------------------------------------------- */

static json_t *bad_row(const char *field, size_t row, const char *what)
{
    return srv_err(MV_INVALID_INSERT_DATA,
                   "fail to deal the insert data, error: field '%s' of row %zu %s", field, row,
                   what);
}

static int json_to_i64(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
            *out = (int64_t)d;
            return 0;
        }
        return -1;
    }
    if (json_is_string(v)) { /* int64 keys beyond 2^53 travel as text from JavaScript */
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (end != s && !*end && !errno) {
            *out = x;
            return 0;
        }
    }
    return -1;
}

const char *srv_half_vector(vdb_type t, uint32_t dim, json_t *v, uint8_t *out)
{
    size_t w = vdb_vector_elem_size(t), bytes = (size_t)dim * w;
    if (json_is_string(v)) {
        /* as Milvus's REST API: the little-endian elements, base64 */
        char *raw = malloc(bytes + 2);
        if (!raw)
            return "does not fit in memory";
        long n = srv_b64_decode(json_string_value(v), raw, bytes + 2);
        const char *why = n < 0 || (size_t)n != bytes
                              ? "is not base64 of dim elements (2 bytes each for Float16Vector "
                                "and BFloat16Vector, 1 for Int8Vector)"
                              : NULL;
        if (!why)
            memcpy(out, raw, bytes);
        free(raw);
        return why;
    }
    if (!json_is_array(v) || json_array_size(v) != dim)
        return "is not a vector of the field's dim (a list of numbers or a base64 string)";
    for (uint32_t j = 0; j < dim; j++) {
        json_t *x = json_array_get(v, j);
        if (!json_is_number(x))
            return "holds a value that is not a number";
        double d = json_number_value(x);
        if (t == VDB_TYPE_INT8_VECTOR) {
            if (d != floor(d) || d < -128 || d > 127)
                return "holds a value that is not an int8 (-128..127)";
            out[j] = (uint8_t)(int8_t)d;
            continue;
        }
        uint16_t h = t == VDB_TYPE_FLOAT16_VECTOR ? vdb_f32_to_f16((float)d)
                                                  : vdb_f32_to_bf16((float)d);
        memcpy(out + 2 * j, &h, 2);
    }
    return NULL;
}

const char *srv_binary_vector(uint32_t dim, json_t *v, uint8_t *out)
{
    size_t bytes = vdb_vector_bytes(VDB_TYPE_BINARY_VECTOR, dim);
    if (json_is_string(v)) {
        char *raw = malloc(bytes + 2);
        if (!raw)
            return "does not fit in memory";
        long n = srv_b64_decode(json_string_value(v), raw, bytes + 2);
        const char *why = n < 0 || (size_t)n != bytes
                              ? "is not base64 of dim / 8 bytes (a BinaryVector's dim is in bits)"
                              : NULL;
        if (!why)
            memcpy(out, raw, bytes);
        free(raw);
        return why;
    }
    if (!json_is_array(v) || json_array_size(v) != bytes)
        return "is not dim / 8 bytes (a BinaryVector is a list of byte values 0..255 or a "
               "base64 string; its dim is in bits)";
    for (size_t j = 0; j < bytes; j++) {
        json_t *x = json_array_get(v, j);
        if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > 255)
            return "holds a value that is not a byte (an integer 0..255)";
        out[j] = (uint8_t)json_integer_value(x);
    }
    return NULL;
}

/* Adds the column of field fi from the rows (none when no row has the field). */
static json_t *add_column(const srv_coll *c, size_t fi, json_t *rows, size_t n, vdb_batch *b)
{
    const vdb_field_def *f = &c->fields[fi];
    /* a BM25 function's output is computed by the library: no column unless a row gives
     * one (which the library refuses) */
    size_t given = 0;
    for (size_t r = 0; f->metric == VDB_METRIC_BM25 && r < n; r++)
        given += json_object_get(json_array_get(rows, r), f->name) != NULL;
    if (f->metric == VDB_METRIC_BM25 && !given)
        return NULL;
    size_t width = 8;
    switch (f->type) {
    case VDB_TYPE_BOOL: case VDB_TYPE_INT8: width = 1; break;
    case VDB_TYPE_INT16: width = 2; break;
    case VDB_TYPE_INT32: case VDB_TYPE_FLOAT: width = 4; break;
    case VDB_TYPE_FLOAT_VECTOR: case VDB_TYPE_FLOAT16_VECTOR: case VDB_TYPE_BFLOAT16_VECTOR:
    case VDB_TYPE_INT8_VECTOR: width = (size_t)f->dim * vdb_vector_elem_size(f->type); break;
    case VDB_TYPE_BINARY_VECTOR: width = vdb_vector_bytes(f->type, f->dim); break;
    case VDB_TYPE_SPARSE_FLOAT_VECTOR: width = sizeof(vdb_sparse_row); break;
    case VDB_TYPE_VARCHAR: case VDB_TYPE_JSON: case VDB_TYPE_ARRAY: width = sizeof(char *); break;
    default: break;
    }
    uint8_t *valid = NULL;
    char *data = calloc(n ? n : 1, width ? width : 1);
    char **owned = NULL; /* JSON texts we dumped */
    if (f->type == VDB_TYPE_JSON || f->type == VDB_TYPE_ARRAY)
        owned = calloc(n ? n : 1, sizeof *owned);
    json_t *err = NULL;
    size_t present = 0;
    if (!data || ((f->type == VDB_TYPE_JSON || f->type == VDB_TYPE_ARRAY) && !owned)) {
        err = srv_err(MV_MEMORY_LIMIT, "memory limit exceeded");
        goto done;
    }
    for (size_t r = 0; r < n && !err; r++) {
        json_t *v = json_object_get(json_array_get(rows, r), f->name);
        if (!v || json_is_null(v)) {
            if (vdb_type_is_any_vector(f->type)) {
                err = bad_row(f->name, r, "has no vector");
                break;
            }
            if (!valid) {
                if (!(valid = malloc(n))) {
                    err = srv_err(MV_MEMORY_LIMIT, "memory limit exceeded");
                    break;
                }
                memset(valid, 1, n);
            }
            valid[r] = 0;
            if (owned)
                ((const char **)data)[r] = f->type == VDB_TYPE_JSON ? "null" : "[]";
            else if (f->type == VDB_TYPE_VARCHAR)
                ((const char **)data)[r] = "";
            continue;
        }
        present++;
        char *slot = data + r * width;
        int64_t i64;
        switch (f->type) {
        case VDB_TYPE_BOOL:
            if (!json_is_boolean(v))
                err = bad_row(f->name, r, "is not a boolean");
            else
                *(uint8_t *)slot = json_is_true(v);
            break;
        case VDB_TYPE_INT8: case VDB_TYPE_INT16: case VDB_TYPE_INT32: case VDB_TYPE_INT64: {
            int64_t lo = f->type == VDB_TYPE_INT8 ? INT8_MIN : f->type == VDB_TYPE_INT16 ? INT16_MIN
                         : f->type == VDB_TYPE_INT32 ? INT32_MIN : INT64_MIN;
            int64_t hi = f->type == VDB_TYPE_INT8 ? INT8_MAX : f->type == VDB_TYPE_INT16 ? INT16_MAX
                         : f->type == VDB_TYPE_INT32 ? INT32_MAX : INT64_MAX;
            if (json_to_i64(v, &i64) != 0 || (f->type != VDB_TYPE_INT64 && json_is_string(v)))
                err = bad_row(f->name, r, "is not an integer");
            else if (i64 < lo || i64 > hi)
                err = bad_row(f->name, r, "is out of range for its type");
            else if (width == 1)
                *(int8_t *)slot = (int8_t)i64;
            else if (width == 2)
                *(int16_t *)slot = (int16_t)i64;
            else if (width == 4)
                *(int32_t *)slot = (int32_t)i64;
            else
                *(int64_t *)slot = i64;
            break;
        }
        case VDB_TYPE_FLOAT: case VDB_TYPE_DOUBLE:
            if (!json_is_number(v))
                err = bad_row(f->name, r, "is not a number");
            else if (f->type == VDB_TYPE_FLOAT)
                *(float *)slot = (float)json_number_value(v);
            else
                *(double *)slot = json_number_value(v);
            break;
        case VDB_TYPE_VARCHAR:
            if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
                err = bad_row(f->name, r, "is not a string (without NUL characters)");
            else
                *(const char **)slot = json_string_value(v);
            break;
        case VDB_TYPE_JSON: case VDB_TYPE_ARRAY:
            if (f->type == VDB_TYPE_ARRAY && !json_is_array(v)) {
                err = bad_row(f->name, r, "is not an array");
                break;
            }
            owned[r] = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            if (!owned[r])
                err = srv_err(MV_MEMORY_LIMIT, "memory limit exceeded");
            *(const char **)slot = owned[r];
            break;
        case VDB_TYPE_FLOAT_VECTOR: {
            if (!json_is_array(v)) {
                err = bad_row(f->name, r, "is not a vector (an array of numbers)");
                break;
            }
            if (json_array_size(v) != f->dim) {
                char what[128];
                snprintf(what, sizeof what, "has %zu values: the dim of the field is %u",
                         json_array_size(v), f->dim);
                err = bad_row(f->name, r, what);
                break;
            }
            float *vec = (float *)slot;
            for (size_t j = 0; j < f->dim; j++) {
                json_t *x = json_array_get(v, j);
                if (!json_is_number(x)) {
                    err = bad_row(f->name, r, "holds a value that is not a number");
                    break;
                }
                vec[j] = (float)json_number_value(x);
            }
            break;
        }
        case VDB_TYPE_SPARSE_FLOAT_VECTOR: {
            const char *why;
            if (srv_json_sparse(v, (vdb_sparse_row *)slot, &why))
                err = bad_row(f->name, r, why);
            break;
        }
        case VDB_TYPE_FLOAT16_VECTOR: case VDB_TYPE_BFLOAT16_VECTOR: case VDB_TYPE_INT8_VECTOR: {
            const char *why = srv_half_vector(f->type, f->dim, v, (uint8_t *)slot);
            if (why)
                err = bad_row(f->name, r, why);
            break;
        }
        case VDB_TYPE_BINARY_VECTOR: {
            const char *why = srv_binary_vector(f->dim, v, (uint8_t *)slot);
            if (why)
                err = bad_row(f->name, r, why);
            break;
        }
        default:
            err = bad_row(f->name, r, "has a type the server cannot read");
        }
    }
    if (!err && present &&
        vdb_batch_add_column(b, f->name, f->type, data, valid, n,
                             vdb_type_is_vector(f->type) ? f->dim : 0) != VDB_OK)
        err = srv_err(MV_INVALID_INSERT_DATA, "fail to deal the insert data, error: %s",
                      vdb_errmsg(NULL));
done:
    for (size_t r = 0; data && f->type == VDB_TYPE_SPARSE_FLOAT_VECTOR && r < n; r++) {
        vdb_sparse_row *sr = (vdb_sparse_row *)(data + r * width);
        free((void *)sr->indices);
        free((void *)sr->values);
    }
    if (owned)
        for (size_t r = 0; r < n; r++)
            free(owned[r]);
    free(owned);
    free(data);
    free(valid);
    return err;
}

/* Keys that are not fields go, per row, into one "$meta" object (dynamic fields). */
static json_t *add_dynamic(const srv_coll *c, json_t *rows, size_t n, vdb_batch *b)
{
    char **texts = calloc(n ? n : 1, sizeof *texts);
    json_t *err = NULL;
    int any = 0;
    if (!texts)
        return srv_err(MV_MEMORY_LIMIT, "memory limit exceeded");
    for (size_t r = 0; r < n && !err; r++) {
        json_t *row = json_array_get(rows, r), *meta = NULL, *v;
        const char *key;
        json_object_foreach(row, key, v) {
            int fi = srv_coll_find(c, key);
            if (fi >= 0)
                continue;
            if (!c->dynamic) {
                err = srv_err(MV_INVALID_INSERT_DATA, "fail to deal the insert data, error: "
                              "'%s' is not a field of the collection (and dynamic fields are "
                              "off)", key);
                break;
            }
            if (!meta)
                meta = json_object();
            if (!strcmp(key, DYNAMIC_FIELD)) {
                if (!json_is_object(v) && !json_is_null(v)) {
                    err = bad_row(DYNAMIC_FIELD, r, "is not an object");
                    break;
                }
                json_object_update_missing(meta, v);
            } else {
                json_object_set(meta, key, v);
            }
        }
        if (meta && !err) {
            any = 1;
            texts[r] = json_dumps(meta, JSON_COMPACT);
        }
        json_decref(meta);
    }
    if (!err && any) {
        for (size_t r = 0; r < n; r++)
            if (!texts[r])
                texts[r] = strdup("{}");
        if (vdb_batch_add_column(b, DYNAMIC_FIELD, VDB_TYPE_JSON, texts, NULL, n, 0) != VDB_OK)
            err = srv_err(MV_INVALID_INSERT_DATA, "fail to deal the insert data, error: %s",
                          vdb_errmsg(NULL));
    }
    for (size_t r = 0; r < n; r++)
        free(texts[r]);
    free(texts);
    return err;
}

vdb_batch *srv_rows_to_batch(const srv_coll *c, json_t *data, json_t **err)
{
    json_t *rows = data;
    if (json_is_object(data)) { /* one row */
        rows = json_array();
        json_array_append(rows, data);
    } else if (!json_is_array(data) || !json_array_size(data)) {
        *err = srv_err(MV_MISSING_REQUIRED, "missing required parameters, error: 'data' must be "
                                            "a non-empty array of rows");
        return NULL;
    } else {
        json_incref(rows);
    }
    size_t n = json_array_size(rows);
    vdb_batch *b = NULL;
    *err = NULL;
    for (size_t r = 0; r < n; r++)
        if (!json_is_object(json_array_get(rows, r))) {
            *err = srv_err(MV_INVALID_INSERT_DATA,
                           "fail to deal the insert data, error: row %zu is not an object", r);
            goto done;
        }
    if (vdb_batch_new(&b) != VDB_OK) {
        *err = srv_err(MV_MEMORY_LIMIT, "memory limit exceeded");
        goto done;
    }
    for (size_t i = 0; i < c->nfields && !*err; i++) {
        if ((int)i == c->pk && c->fields[i].auto_id)
            continue; /* assigned by the library; a value in the row is ignored, as Milvus */
        *err = add_column(c, i, rows, n, b);
    }
    if (!*err)
        *err = add_dynamic(c, rows, n, b);
done:
    json_decref(rows);
    if (*err) {
        vdb_batch_free(b);
        return NULL;
    }
    return b;
}

/* ---- results -> rows -------------------------------------------------------------------- */

static int plan_add(srv_outplan *p, const char *name, char kind)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->names[i], name))
            return 0;
    const char **nn = realloc(p->names, (p->n + 1) * sizeof *nn);
    if (!nn)
        return -1;
    p->names = nn;
    char *nk = realloc(p->kinds, p->n + 1);
    if (!nk)
        return -1;
    p->kinds = nk;
    p->names[p->n] = name;
    p->kinds[p->n++] = kind;
    return 0;
}

int srv_outplan_names(const srv_coll *c, const char *const *names, size_t nf, int dflt_all,
                      srv_outplan *p, srv_status *err)
{
    memset(p, 0, sizeof *p);
    p->with_pk = 1;
    int rc = 0;
    for (size_t i = 0; i < (nf ? nf : 1) && rc == 0; i++) {
        const char *name;
        if (nf)
            name = names[i];
        else if (dflt_all)
            name = "*";
        else
            break;
        if (!strcmp(name, "*")) {
            for (size_t f = 0; f < c->nfields && rc == 0; f++)
                if ((int)f != c->pk)
                    rc = plan_add(p, c->fields[f].name, 'f');
            if (c->dynamic && rc == 0)
                rc = plan_add(p, DYNAMIC_FIELD, 'm');
            continue;
        }
        int fi = srv_coll_find(c, name);
        if (fi == c->pk)
            continue; /* always printed */
        if (fi >= 0)
            rc = plan_add(p, name, 'f');
        else if (c->dynamic && !strcmp(name, DYNAMIC_FIELD))
            rc = plan_add(p, name, 'm');
        else if (c->dynamic)
            rc = plan_add(p, name, 'd');
        else {
            srv_outplan_free(p);
            return srv_fail(err, MV_FIELD_NOT_FOUND, "field not found[field=%s]: not a field "
                            "of the collection", name);
        }
    }
    if (rc) {
        srv_outplan_free(p);
        return srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
    }
    return 0;
}

int srv_outplan_make(const srv_coll *c, json_t *fields, int dflt_all, srv_outplan *p,
                     json_t **err)
{
    memset(p, 0, sizeof *p);
    size_t nf = json_is_array(fields) ? json_array_size(fields) : 0;
    const char **names = calloc(nf ? nf : 1, sizeof *names);
    if (!names) {
        *err = srv_err(MV_MEMORY_LIMIT, "memory limit exceeded");
        return -1;
    }
    int bad = fields && !json_is_null(fields) && !json_is_array(fields);
    for (size_t i = 0; i < nf && !bad; i++) {
        json_t *e = json_array_get(fields, i);
        bad = !json_is_string(e);
        names[i] = json_string_value(e);
    }
    if (bad) {
        free(names);
        *err = srv_err(MV_INCORRECT_FORMAT, "can only accept json format request, error: "
                                            "'outputFields' must be an array of strings");
        return -1;
    }
    srv_status st;
    int rc = srv_outplan_names(c, names, nf, dflt_all, p, &st);
    free(names);
    if (rc)
        *err = srv_status_json(&st);
    return rc;
}

void srv_outplan_free(srv_outplan *p)
{
    free(p->names);
    free(p->kinds);
    memset(p, 0, sizeof *p);
}

json_t *srv_json_float(float f)
{
    if (!isfinite(f))
        return json_null();
    char buf[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f)
            break;
    }
    return json_real(strtod(buf, NULL)); /* the double nearest the short decimal */
}

typedef struct sparse_pair {
    uint32_t i;
    float v;
} sparse_pair;

static int by_index(const void *a, const void *b)
{
    uint32_t x = ((const sparse_pair *)a)->i, y = ((const sparse_pair *)b)->i;
    return x < y ? -1 : x > y;
}

static int sparse_index(json_t *k, const char *s, uint32_t *out)
{
    long long x;
    if (k) {
        if (!json_is_integer(k))
            return -1;
        x = json_integer_value(k);
    } else {
        char *end;
        if (!*s || *s == '-' || *s == '+' || *s == ' ')
            return -1;
        x = strtoll(s, &end, 10);
        if (*end)
            return -1;
    }
    if (x < 0 || x >= (long long)UINT32_MAX)
        return -1;
    *out = (uint32_t)x;
    return 0;
}

int srv_json_sparse(json_t *v, vdb_sparse_row *out, const char **why)
{
    *out = (vdb_sparse_row){0};
    if (!json_is_object(v)) {
        *why = "is not a sparse vector (an object of index: value)";
        return -1;
    }
    json_t *ji = json_object_get(v, "indices"), *jv = json_object_get(v, "values");
    int pairs = ji && jv && json_object_size(v) == 2;
    size_t n = pairs ? json_array_size(ji) : json_object_size(v);
    if (pairs && (!json_is_array(ji) || !json_is_array(jv) || json_array_size(jv) != n)) {
        *why = "has indices and values that are not two arrays of one length";
        return -1;
    }
    sparse_pair *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) {
        *why = "is too large (memory limit exceeded)";
        return -1;
    }
    size_t m = 0;
    const char *key;
    json_t *val;
    if (pairs) {
        for (size_t j = 0; j < n; j++, m++)
            if (sparse_index(json_array_get(ji, j), NULL, &p[m].i) ||
                !json_is_number(json_array_get(jv, j)))
                break;
            else
                p[m].v = (float)json_number_value(json_array_get(jv, j));
    } else {
        json_object_foreach(v, key, val) {
            if (sparse_index(NULL, key, &p[m].i) || !json_is_number(val))
                break;
            p[m++].v = (float)json_number_value(val);
        }
    }
    if (m != n) {
        free(p);
        *why = "holds an index that is not an integer in [0, 2^32 - 1) or a value that is not "
               "a number";
        return -1;
    }
    qsort(p, n, sizeof *p, by_index);
    uint32_t *idx = malloc((n ? n : 1) * sizeof *idx);
    float *vals = malloc((n ? n : 1) * sizeof *vals);
    if (!idx || !vals) {
        free(p);
        free(idx);
        free(vals);
        *why = "is too large (memory limit exceeded)";
        return -1;
    }
    for (size_t j = 0; j < n; j++) {
        idx[j] = p[j].i;
        vals[j] = p[j].v;
    }
    free(p);
    *out = (vdb_sparse_row){(uint32_t)n, idx, vals};
    return 0;
}

static json_t *value_json(const vdb_value *v)
{
    if (v->is_null)
        return json_null();
    switch (v->type) {
    case VDB_TYPE_BOOL:
        return json_boolean(v->u.i64);
    case VDB_TYPE_INT8: case VDB_TYPE_INT16: case VDB_TYPE_INT32: case VDB_TYPE_INT64:
        return json_integer(v->u.i64);
    case VDB_TYPE_FLOAT:
        return srv_json_float((float)v->u.f64);
    case VDB_TYPE_DOUBLE: {
        json_t *d = json_real(v->u.f64);
        return d ? d : json_null();
    }
    case VDB_TYPE_VARCHAR: {
        json_t *s = json_stringn(v->u.str.ptr, v->u.str.len);
        return s ? s : json_null();
    }
    case VDB_TYPE_FLOAT_VECTOR: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < v->u.vec.dim; i++)
            json_array_append_new(a, srv_json_float(v->u.vec.ptr[i]));
        return a;
    }
    case VDB_TYPE_SPARSE_FLOAT_VECTOR: { /* {"index": value}, as Milvus's REST API */
        json_t *o = json_object();
        char key[16];
        for (uint32_t i = 0; i < v->u.sparse.count; i++) {
            snprintf(key, sizeof key, "%u", v->u.sparse.indices[i]);
            json_object_set_new(o, key, srv_json_float(v->u.sparse.values[i]));
        }
        return o;
    }
    case VDB_TYPE_BINARY_VECTOR: { /* its bytes, as a list of 0..255 (as rows are taken) */
        json_t *a = json_array();
        for (uint32_t i = 0; i < v->u.raw.bytes; i++)
            json_array_append_new(a, json_integer(((const uint8_t *)v->u.raw.ptr)[i]));
        return a;
    }
    case VDB_TYPE_FLOAT16_VECTOR: case VDB_TYPE_BFLOAT16_VECTOR: case VDB_TYPE_INT8_VECTOR: {
        /* the stored elements' values (the REST API takes no such fields yet) */
        json_t *a = json_array();
        size_t w = vdb_vector_elem_size(v->type);
        for (uint32_t i = 0; i < v->u.raw.dim; i++) {
            float x;
            vdb_vector_to_f32(v->type, (const uint8_t *)v->u.raw.ptr + i * w, 1, &x);
            json_array_append_new(a, srv_json_float(x));
        }
        return a;
    }
    default: { /* JSON and ARRAY: JSON text */
        if (!v->u.str.len)
            return json_null();
        json_t *j = json_loadb(v->u.str.ptr, v->u.str.len, JSON_DECODE_ANY, NULL);
        if (!j)
            j = json_stringn(v->u.str.ptr, v->u.str.len);
        return j ? j : json_null();
    }
    }
}

json_t *srv_result_pk(const vdb_result *res, size_t g, size_t r)
{
    if (vdb_result_pk_type(res) == VDB_TYPE_VARCHAR) {
        const char *s = vdb_result_pk_str(res, g, r);
        json_t *j = s ? json_string(s) : NULL;
        return j ? j : json_null();
    }
    return json_integer(vdb_result_pk_int(res, g, r));
}

int srv_result_row(const srv_coll *c, const srv_outplan *p, const vdb_result *res, size_t g,
                   size_t r, int with_dist, json_t *arr)
{
    json_t *o = json_object();
    if (!o)
        return -1;
    json_object_set_new(o, c->fields[c->pk].name, srv_result_pk(res, g, r));
    if (with_dist)
        json_object_set_new(o, "distance", srv_json_float(vdb_result_distance(res, g, r)));
    json_t *meta = NULL;
    for (size_t i = 0; i < p->n; i++) {
        vdb_value v;
        if (vdb_result_field(res, g, r, p->names[i], &v) != VDB_OK)
            continue;
        if (p->kinds[i] == 'f') {
            json_object_set_new(o, p->names[i], value_json(&v));
        } else if (p->kinds[i] == 'm') {
            json_decref(meta);
            meta = value_json(&v);
        } else if (!v.is_null) {
            json_object_set_new(o, p->names[i], value_json(&v));
        }
    }
    if (json_is_object(meta)) /* dynamic keys flattened into the row, as Milvus prints them */
        json_object_update_missing(o, meta);
    json_decref(meta);
    return json_array_append_new(arr, o);
}

/* ---- primary keys ----------------------------------------------------------------------- */

static json_t *bad_pk(const char *pk, const char *what)
{
    return srv_err(MV_CHECK_PRIMARY_KEY, "please check the primary key and its' type can only "
                   "in [int, string], error: '%s' %s", pk, what);
}

int srv_pks_from_json(const srv_coll *c, json_t *v, srv_pks *out, json_t **err)
{
    memset(out, 0, sizeof *out);
    const vdb_field_def *pk = &c->fields[c->pk];
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (!v || json_is_null(v) || json_is_object(v)) {
        *err = bad_pk(pk->name, "needs a key or an array of keys");
        return -1;
    }
    if (pk->type == VDB_TYPE_VARCHAR)
        out->strs = calloc(n ? n : 1, sizeof *out->strs);
    else
        out->ints = calloc(n ? n : 1, sizeof *out->ints);
    if (!out->strs && !out->ints) {
        *err = srv_err(MV_MEMORY_LIMIT, "memory limit exceeded");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        if (out->strs) {
            if (!json_is_string(e)) {
                *err = bad_pk(pk->name, "is a VarChar: keys must be strings");
                srv_pks_free(out);
                return -1;
            }
            out->strs[i] = json_string_value(e);
        } else if (json_to_i64(e, &out->ints[i]) != 0) {
            *err = bad_pk(pk->name, "is an Int64: keys must be integers");
            srv_pks_free(out);
            return -1;
        }
    }
    out->list.count = n;
    out->list.ints = out->ints;
    out->list.strs = out->strs;
    return 0;
}

void srv_pks_free(srv_pks *p)
{
    free(p->ints);
    free(p->strs);
    memset(p, 0, sizeof *p);
}

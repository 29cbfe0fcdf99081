/* vdb-server — rows as Milvus's protobuf carries them: columns (schema.FieldData) straight into
 * a columnar vdb_batch, and results back into columns. The C API is columnar too, so a numeric
 * or vector column goes in as the decoded array itself (no value is looked at one by one);
 * only booleans, narrow integers and JSON texts are copied, and arrays become JSON text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_pb.h"

#define DYNAMIC_FIELD "$meta"

static int bad_col(srv_status *err, const char *field, const char *what)
{
    return srv_fail(err, MV_INVALID_INSERT_DATA, "fail to deal the insert data, error: field "
                    "'%s' %s", field, what);
}

/* The data array of a scalar column and its length (NULL for a kind it does not hold). */
static const void *scalar_data(const pb_scalars *s, int want_case, size_t *n)
{
    *n = 0;
    if (!s || (int)s->data_case != want_case)
        return NULL;
    switch (s->data_case) {
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BOOL_DATA:
        *n = s->bool_data->n_data;
        return s->bool_data->data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA:
        *n = s->int_data->n_data;
        return s->int_data->data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA:
        *n = s->long_data->n_data;
        return s->long_data->data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_FLOAT_DATA:
        *n = s->float_data->n_data;
        return s->float_data->data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_DOUBLE_DATA:
        *n = s->double_data->n_data;
        return s->double_data->data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA:
        *n = s->string_data->n_data;
        return s->string_data->data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA:
        *n = s->json_data->n_data;
        return s->json_data->data;
    case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_ARRAY_DATA:
        *n = s->array_data->n_data;
        return s->array_data->data;
    default:
        return NULL;
    }
}

static int scalar_case(vdb_type t)
{
    switch (t) {
    case VDB_TYPE_BOOL: return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BOOL_DATA;
    case VDB_TYPE_INT8: case VDB_TYPE_INT16: case VDB_TYPE_INT32:
        return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA;
    case VDB_TYPE_INT64: return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
    case VDB_TYPE_FLOAT: return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_FLOAT_DATA;
    case VDB_TYPE_DOUBLE: return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_DOUBLE_DATA;
    case VDB_TYPE_VARCHAR: return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA;
    case VDB_TYPE_JSON: return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA;
    case VDB_TYPE_ARRAY: return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_ARRAY_DATA;
    default: return 0;
    }
}

static size_t type_width(vdb_type t, uint32_t dim)
{
    switch (t) {
    case VDB_TYPE_BOOL: case VDB_TYPE_INT8: return 1;
    case VDB_TYPE_INT16: return 2;
    case VDB_TYPE_INT32: case VDB_TYPE_FLOAT: return 4;
    case VDB_TYPE_FLOAT_VECTOR: case VDB_TYPE_FLOAT16_VECTOR: case VDB_TYPE_BFLOAT16_VECTOR:
    case VDB_TYPE_INT8_VECTOR: return (size_t)dim * vdb_vector_elem_size(t);
    case VDB_TYPE_BINARY_VECTOR: return vdb_vector_bytes(t, dim);
    case VDB_TYPE_VARCHAR: case VDB_TYPE_JSON: case VDB_TYPE_ARRAY: return sizeof(char *);
    default: return 8;
    }
}

/* One array value (a ScalarField of the element type) as JSON text, appended to *buf. */
static int array_json(const pb_scalars *s, vdb_type elem, json_t **out)
{
    size_t n;
    const void *d = scalar_data(s, scalar_case(elem), &n);
    json_t *a = json_array();
    if (!a)
        return -1;
    if (!d && s && s->data_case != 0) {
        json_decref(a);
        return 1; /* elements of another type */
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = NULL;
        switch (elem) {
        case VDB_TYPE_BOOL: v = json_boolean(((const protobuf_c_boolean *)d)[i]); break;
        case VDB_TYPE_INT8: case VDB_TYPE_INT16: case VDB_TYPE_INT32:
            v = json_integer(((const int32_t *)d)[i]);
            break;
        case VDB_TYPE_INT64: v = json_integer(((const int64_t *)d)[i]); break;
        case VDB_TYPE_FLOAT: v = srv_json_float(((const float *)d)[i]); break;
        case VDB_TYPE_DOUBLE: v = json_real(((const double *)d)[i]); break;
        case VDB_TYPE_VARCHAR: v = json_string(((char *const *)d)[i]); break;
        default: break;
        }
        if (!v || json_array_append_new(a, v)) {
            json_decref(a);
            return v ? -1 : 1;
        }
    }
    *out = a;
    return 0;
}

int srv_sparse_from_bytes(const uint8_t *p, size_t len, vdb_sparse_row *out)
{
    *out = (vdb_sparse_row){0};
    if (len % 8)
        return -1;
    size_t n = len / 8;
    uint32_t *idx = malloc((n ? n : 1) * sizeof *idx);
    float *val = malloc((n ? n : 1) * sizeof *val);
    if (!idx || !val) {
        free(idx);
        free(val);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *q = p + i * 8;
        uint32_t bits = (uint32_t)q[4] | (uint32_t)q[5] << 8 | (uint32_t)q[6] << 16 |
                        (uint32_t)q[7] << 24;
        idx[i] = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                 (uint32_t)q[3] << 24;
        memcpy(&val[i], &bits, 4);
    }
    *out = (vdb_sparse_row){(uint32_t)n, idx, val};
    return 0;
}

void srv_sparse_rows_free(vdb_sparse_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free((void *)rows[i].indices);
        free((void *)rows[i].values);
    }
    free(rows);
}

/* A SPARSE_FLOAT_VECTOR column (schema.SparseFloatArray: one bytes row per entity). */
static int add_sparse_column(const vdb_field_def *f, const pb_field_data *fd, size_t rows,
                             vdb_batch *b, srv_status *err)
{
    const pb_vectors *v = fd->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS
                              ? fd->vectors
                              : NULL;
    if (!v || v->data_case != MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_SPARSE_FLOAT_VECTOR ||
        !v->sparse_float_vector)
        return bad_col(err, f->name, "holds no sparse float vectors");
    const Milvus__Proto__Schema__SparseFloatArray *sa = v->sparse_float_vector;
    if (sa->n_contents != rows) {
        char what[96];
        snprintf(what, sizeof what, "holds %zu sparse rows for %zu rows", sa->n_contents, rows);
        return bad_col(err, f->name, what);
    }
    vdb_sparse_row *sr = calloc(rows ? rows : 1, sizeof *sr);
    if (!sr)
        return srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
    int rc = 0;
    for (size_t r = 0; r < rows && !rc; r++)
        if (srv_sparse_from_bytes(sa->contents[r].data, sa->contents[r].len, &sr[r]))
            rc = bad_col(err, f->name, "holds a sparse row whose length is not a multiple of 8 "
                                       "bytes (uint32 index, float32 value pairs)");
    if (!rc && vdb_batch_add_column(b, f->name, f->type, sr, NULL, rows, 0) != VDB_OK)
        rc = srv_fail(err, MV_INVALID_INSERT_DATA, "fail to deal the insert data, error: %s",
                      vdb_errmsg(NULL));
    srv_sparse_rows_free(sr, rows);
    return rc;
}

/* One column into the batch. */
static int add_pb_column(const srv_coll *c, const pb_field_data *fd, size_t rows, vdb_batch *b,
                         srv_status *err)
{
    const char *name = fd->field_name ? fd->field_name : "";
    int dynamic = fd->is_dynamic || !strcmp(name, DYNAMIC_FIELD);
    int fi = dynamic ? -1 : srv_coll_find(c, name);
    vdb_field_def dyn = {.struct_size = sizeof dyn, .name = DYNAMIC_FIELD, .type = VDB_TYPE_JSON};
    if (dynamic && !c->dynamic)
        return bad_col(err, name, "is the dynamic field, but the collection has dynamic fields "
                                  "off");
    if (!dynamic && fi < 0)
        return srv_fail(err, MV_INVALID_INSERT_DATA, "fail to deal the insert data, error: "
                        "field '%s' is not in the schema of the collection", name);
    const vdb_field_def *f = dynamic ? &dyn : &c->fields[fi];
    if (fi == c->pk && f->auto_id)
        return srv_fail(err, MV_INVALID_INSERT_DATA, "fail to deal the insert data, error: the "
                        "primary key '%s' is auto-generated (autoID): do not send it", name);
    if ((int)fd->type != (int)f->type)
        return bad_col(err, name, "has a data type that is not the field's");
    if (f->type == VDB_TYPE_SPARSE_FLOAT_VECTOR)
        return add_sparse_column(f, fd, rows, b, err);
    /* which rows hold a value: valid_data of the column (or of its scalars) */
    const protobuf_c_boolean *valid = fd->valid_data;
    size_t nvalid = fd->n_valid_data;
    if (!nvalid && fd->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS &&
        fd->scalars) {
        valid = fd->scalars->valid_data;
        nvalid = fd->scalars->n_valid_data;
    }
    if (nvalid && nvalid != rows)
        return bad_col(err, name, "has valid_data of another length than the rows");
    size_t present = rows;
    for (size_t r = 0; r < nvalid; r++)
        present -= !valid[r];
    const void *src;
    size_t n;
    uint32_t dim = 0;
    if (vdb_type_is_vector(f->type)) {
        /* FloatArray floats, or the little-endian elements as bytes (float16_vector,
         * bfloat16_vector, int8_vector) */
        const pb_vectors *v = fd->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS
                                  ? fd->vectors
                                  : NULL;
        const ProtobufCBinaryData *bytes = NULL;
        int want = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
        const char *none = "holds no float vectors";
        if (f->type == VDB_TYPE_FLOAT16_VECTOR) {
            want = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT16_VECTOR;
            none = "holds no float16 vectors (VectorField float16_vector)";
            bytes = v ? &v->float16_vector : NULL;
        } else if (f->type == VDB_TYPE_BFLOAT16_VECTOR) {
            want = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BFLOAT16_VECTOR;
            none = "holds no bfloat16 vectors (VectorField bfloat16_vector)";
            bytes = v ? &v->bfloat16_vector : NULL;
        } else if (f->type == VDB_TYPE_INT8_VECTOR) {
            want = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_INT8_VECTOR;
            none = "holds no int8 vectors (VectorField int8_vector)";
            bytes = v ? &v->int8_vector : NULL;
        } else if (f->type == VDB_TYPE_BINARY_VECTOR) {
            want = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BINARY_VECTOR;
            none = "holds no binary vectors (VectorField binary_vector)";
            bytes = v ? &v->binary_vector : NULL;
        }
        if (!v || (int)v->data_case != want ||
            (want == MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR && !v->float_vector))
            return bad_col(err, name, none);
        if (v->dim != f->dim) {
            char what[96];
            snprintf(what, sizeof what, "has dim %lld: the field's is %u", (long long)v->dim,
                     f->dim);
            return bad_col(err, name, what);
        }
        if (present != rows)
            return bad_col(err, name, "has NULL vectors (vector fields are not nullable)");
        /* BINARY_VECTOR: dim / 8 bytes a row, counted in bytes */
        int bin = f->type == VDB_TYPE_BINARY_VECTOR;
        size_t esz = bin ? 1 : vdb_vector_elem_size(f->type);
        size_t per = bin ? vdb_vector_bytes(f->type, f->dim) : f->dim;
        src = bytes ? (const void *)bytes->data : v->float_vector->data;
        n = bytes ? bytes->len / esz : v->float_vector->n_data;
        dim = f->dim;
        if (n != rows * per || (bytes && bytes->len % esz)) {
            char what[128];
            snprintf(what, sizeof what, "holds %zu %s: %zu rows of dim %u need %zu", n,
                     bin ? "bytes" : "elements", rows, dim, rows * per);
            return bad_col(err, name, what);
        }
        if (!bytes)
            for (size_t i = 0; i < n; i++)
                if (!isfinite(((const float *)src)[i]))
                    return bad_col(err, name, "holds a value that is NaN or infinite");
        /* NaN / Inf in half floats: refused by the insert, naming the element */
    } else {
        if (fd->field_case != MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS ||
            !(src = scalar_data(fd->scalars, scalar_case(f->type), &n))) {
            /* every row NULL and no values at all: how the Node SDK sends a nullable field
             * the rows leave out */
            static const char no_values;
            if (!rows || nvalid != rows || present)
                return bad_col(err, name, "holds no values of its type");
            src = &no_values;
            n = 0;
        }
        if (n != rows && n != present) {
            char what[128];
            snprintf(what, sizeof what, "holds %zu values for %zu rows", n, rows);
            return bad_col(err, name, what);
        }
    }
    int sparse = n != rows && !vdb_type_is_vector(f->type); /* values of valid rows only */
    size_t width = type_width(f->type, dim);
    int direct = !sparse && (f->type == VDB_TYPE_INT32 || f->type == VDB_TYPE_INT64 ||
                             f->type == VDB_TYPE_FLOAT || f->type == VDB_TYPE_DOUBLE ||
                             vdb_type_is_vector(f->type) || f->type == VDB_TYPE_VARCHAR);
    uint8_t *vbytes = NULL;
    char *data = NULL, *texts = NULL;
    char **owned = NULL;
    int rc = -1;
    if (nvalid) {
        if (!(vbytes = malloc(rows)))
            goto oom;
        for (size_t r = 0; r < rows; r++)
            vbytes[r] = valid[r] != 0;
    }
    if (!direct && !(data = calloc(rows ? rows : 1, width)))
        goto oom;
    size_t k = 0; /* index into src */
    if (f->type == VDB_TYPE_JSON) { /* NUL-terminated copies, in one block */
        size_t total = 0;
        const ProtobufCBinaryData *bd = src;
        for (size_t i = 0; i < n; i++)
            total += bd[i].len + 1;
        if (!(texts = malloc(total ? total : 1)))
            goto oom;
    }
    size_t toff = 0;
    for (size_t r = 0; r < rows && !direct; r++) {
        int ok = !vbytes || vbytes[r];
        size_t i = sparse ? k : r;
        if (sparse && !ok) {
            if (f->type == VDB_TYPE_VARCHAR)
                ((const char **)data)[r] = "";
            else if (f->type == VDB_TYPE_JSON)
                ((const char **)data)[r] = "null";
            else if (f->type == VDB_TYPE_ARRAY)
                ((const char **)data)[r] = "[]";
            continue;
        }
        k++;
        char *slot = data + r * width;
        switch (f->type) {
        case VDB_TYPE_BOOL:
            *(uint8_t *)slot = ((const protobuf_c_boolean *)src)[i] != 0;
            break;
        case VDB_TYPE_INT8: case VDB_TYPE_INT16: case VDB_TYPE_INT32: {
            int32_t x = ((const int32_t *)src)[i];
            if (ok && ((f->type == VDB_TYPE_INT8 && (x < INT8_MIN || x > INT8_MAX)) ||
                       (f->type == VDB_TYPE_INT16 && (x < INT16_MIN || x > INT16_MAX)))) {
                char what[96];
                snprintf(what, sizeof what, "of row %zu is out of range for its type", r);
                bad_col(err, name, what);
                goto done;
            }
            if (width == 1)
                *(int8_t *)slot = (int8_t)x;
            else if (width == 2)
                *(int16_t *)slot = (int16_t)x;
            else
                *(int32_t *)slot = x;
            break;
        }
        case VDB_TYPE_INT64: *(int64_t *)slot = ((const int64_t *)src)[i]; break;
        case VDB_TYPE_FLOAT: *(float *)slot = ((const float *)src)[i]; break;
        case VDB_TYPE_DOUBLE: *(double *)slot = ((const double *)src)[i]; break;
        case VDB_TYPE_VARCHAR: *(const char **)slot = ((char *const *)src)[i]; break;
        case VDB_TYPE_JSON: {
            const ProtobufCBinaryData *bd = &((const ProtobufCBinaryData *)src)[i];
            if (bd->len)
                memcpy(texts + toff, bd->data, bd->len);
            texts[toff + bd->len] = 0;
            if (!bd->len)
                *(const char **)slot = ok && !dynamic ? "null" : dynamic ? "{}" : "null";
            else
                *(const char **)slot = texts + toff;
            toff += bd->len + 1;
            break;
        }
        case VDB_TYPE_ARRAY: {
            if (!owned && !(owned = calloc(rows, sizeof *owned)))
                goto oom;
            json_t *a = NULL;
            int ar = array_json(((pb_scalars *const *)src)[i], f->element_type, &a);
            if (ar < 0)
                goto oom;
            if (ar > 0) {
                char what[96];
                snprintf(what, sizeof what, "of row %zu holds elements of another type", r);
                bad_col(err, name, what);
                goto done;
            }
            owned[r] = json_dumps(a, JSON_COMPACT);
            json_decref(a);
            if (!owned[r])
                goto oom;
            *(const char **)slot = owned[r];
            break;
        }
        default:
            bad_col(err, name, "has a type the server cannot read");
            goto done;
        }
    }
    const void *col = direct ? src : data;
    if (vdb_batch_add_column(b, dynamic ? DYNAMIC_FIELD : f->name, f->type, col, vbytes, rows,
                             dim) != VDB_OK) {
        srv_fail(err, MV_INVALID_INSERT_DATA, "fail to deal the insert data, error: %s",
                 vdb_errmsg(NULL));
        goto done;
    }
    rc = 0;
    goto done;
oom:
    srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
done:
    if (owned)
        for (size_t r = 0; r < rows; r++)
            free(owned[r]);
    free(owned);
    free(texts);
    free(data);
    free(vbytes);
    return rc;
}

/* The rows of a column, from its data (for requests without num_rows). */
static size_t column_rows(const pb_field_data *fd)
{
    if (fd->n_valid_data)
        return fd->n_valid_data;
    if (fd->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS && fd->vectors &&
        fd->vectors->data_case == MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR &&
        fd->vectors->float_vector && fd->vectors->dim > 0)
        return fd->vectors->float_vector->n_data / (size_t)fd->vectors->dim;
    if (fd->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS && fd->vectors &&
        fd->vectors->dim > 0) {
        const pb_vectors *v = fd->vectors;
        switch (v->data_case) {
        case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT16_VECTOR:
            return v->float16_vector.len / 2 / (size_t)v->dim;
        case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BFLOAT16_VECTOR:
            return v->bfloat16_vector.len / 2 / (size_t)v->dim;
        case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_INT8_VECTOR:
            return v->int8_vector.len / (size_t)v->dim;
        case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BINARY_VECTOR:
            return v->binary_vector.len / vdb_vector_bytes(VDB_TYPE_BINARY_VECTOR,
                                                           (size_t)v->dim);
        default:
            break;
        }
    }
    if (fd->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS && fd->vectors &&
        fd->vectors->data_case ==
            MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_SPARSE_FLOAT_VECTOR &&
        fd->vectors->sparse_float_vector)
        return fd->vectors->sparse_float_vector->n_contents;
    size_t n = 0;
    if (fd->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS && fd->scalars) {
        if (fd->scalars->n_valid_data)
            return fd->scalars->n_valid_data;
        scalar_data(fd->scalars, (int)fd->scalars->data_case, &n);
    }
    return n;
}

vdb_batch *srv_pb_columns_to_batch(const srv_coll *c, pb_field_data **fields, size_t nfields,
                                   uint32_t num_rows, srv_status *err)
{
    if (!nfields) {
        srv_fail(err, MV_MISSING_REQUIRED, "missing required parameters, error: fields_data is "
                 "empty");
        return NULL;
    }
    size_t rows = num_rows ? num_rows : column_rows(fields[0]);
    if (!rows) {
        srv_fail(err, MV_INVALID_INSERT_DATA, "fail to deal the insert data, error: no rows");
        return NULL;
    }
    for (size_t i = 0; i < nfields; i++)
        for (size_t j = 0; j < i; j++)
            if (fields[i]->field_name && fields[j]->field_name &&
                !strcmp(fields[i]->field_name, fields[j]->field_name)) {
                srv_fail(err, MV_INVALID_INSERT_DATA, "fail to deal the insert data, error: "
                         "field '%s' is given twice", fields[i]->field_name);
                return NULL;
            }
    vdb_batch *b;
    if (vdb_batch_new(&b) != VDB_OK) {
        srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
        return NULL;
    }
    for (size_t i = 0; i < nfields; i++)
        if (add_pb_column(c, fields[i], rows, b, err) != 0) {
            vdb_batch_free(b);
            return NULL;
        }
    return b;
}

/* ---- results -> columns ------------------------------------------------------------------- */

typedef struct rowref {
    size_t g, r;
} rowref;

/* The rows to print: (group, row) of every group from offset on. */
static rowref *rows_of(srv_arena *a, const vdb_result *res, size_t offset, size_t *n)
{
    size_t total = 0;
    size_t groups = res ? vdb_result_groups(res) : 0;
    for (size_t g = 0; g < groups; g++) {
        size_t rows = vdb_result_rows(res, g);
        total += rows > offset ? rows - offset : 0;
    }
    rowref *rr = srv_arena_alloc(a, (total ? total : 1) * sizeof *rr);
    if (!rr)
        return NULL;
    size_t k = 0;
    for (size_t g = 0; g < groups; g++)
        for (size_t r = offset; r < vdb_result_rows(res, g); r++)
            rr[k++] = (rowref){g, r};
    *n = total;
    return rr;
}

static pb_scalars *new_scalars(srv_arena *a)
{
    pb_scalars *s = srv_arena_alloc(a, sizeof *s);
    if (s)
        milvus__proto__schema__scalar_field__init(s);
    return s;
}

/* A scalar column of field type t with n rows; the data arrays in the arena. */
static int scalar_column(srv_arena *a, pb_field_data *fd, vdb_type t, vdb_type elem, size_t n,
                         void **data)
{
    pb_scalars *s = new_scalars(a);
    if (!s)
        return -1;
    fd->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
    fd->scalars = s;
    s->data_case = (Milvus__Proto__Schema__ScalarField__DataCase)scalar_case(t);
    size_t cnt = n ? n : 1;
    switch (t) {
    case VDB_TYPE_BOOL:
        s->bool_data = srv_arena_alloc(a, sizeof *s->bool_data);
        if (!s->bool_data)
            return -1;
        milvus__proto__schema__bool_array__init(s->bool_data);
        s->bool_data->n_data = n;
        *data = s->bool_data->data = srv_arena_alloc(a, cnt * sizeof(protobuf_c_boolean));
        break;
    case VDB_TYPE_INT8: case VDB_TYPE_INT16: case VDB_TYPE_INT32:
        s->int_data = srv_arena_alloc(a, sizeof *s->int_data);
        if (!s->int_data)
            return -1;
        milvus__proto__schema__int_array__init(s->int_data);
        s->int_data->n_data = n;
        *data = s->int_data->data = srv_arena_alloc(a, cnt * sizeof(int32_t));
        break;
    case VDB_TYPE_INT64:
        s->long_data = srv_arena_alloc(a, sizeof *s->long_data);
        if (!s->long_data)
            return -1;
        milvus__proto__schema__long_array__init(s->long_data);
        s->long_data->n_data = n;
        *data = s->long_data->data = srv_arena_alloc(a, cnt * sizeof(int64_t));
        break;
    case VDB_TYPE_FLOAT:
        s->float_data = srv_arena_alloc(a, sizeof *s->float_data);
        if (!s->float_data)
            return -1;
        milvus__proto__schema__float_array__init(s->float_data);
        s->float_data->n_data = n;
        *data = s->float_data->data = srv_arena_alloc(a, cnt * sizeof(float));
        break;
    case VDB_TYPE_DOUBLE:
        s->double_data = srv_arena_alloc(a, sizeof *s->double_data);
        if (!s->double_data)
            return -1;
        milvus__proto__schema__double_array__init(s->double_data);
        s->double_data->n_data = n;
        *data = s->double_data->data = srv_arena_alloc(a, cnt * sizeof(double));
        break;
    case VDB_TYPE_VARCHAR:
        s->string_data = srv_arena_alloc(a, sizeof *s->string_data);
        if (!s->string_data)
            return -1;
        milvus__proto__schema__string_array__init(s->string_data);
        s->string_data->n_data = n;
        *data = s->string_data->data = srv_arena_alloc(a, cnt * sizeof(char *));
        break;
    case VDB_TYPE_JSON:
        s->json_data = srv_arena_alloc(a, sizeof *s->json_data);
        if (!s->json_data)
            return -1;
        milvus__proto__schema__jsonarray__init(s->json_data);
        s->json_data->n_data = n;
        *data = s->json_data->data = srv_arena_alloc(a, cnt * sizeof(ProtobufCBinaryData));
        break;
    case VDB_TYPE_ARRAY:
        s->array_data = srv_arena_alloc(a, sizeof *s->array_data);
        if (!s->array_data)
            return -1;
        milvus__proto__schema__array_array__init(s->array_data);
        s->array_data->n_data = n;
        s->array_data->element_type = (Milvus__Proto__Schema__DataType)elem;
        *data = s->array_data->data = srv_arena_alloc(a, cnt * sizeof(pb_scalars *));
        break;
    default:
        return -1;
    }
    return *data ? 0 : -1;
}

/* A JSON array text as a ScalarField of element type elem. */
static pb_scalars *array_value(srv_arena *a, const char *text, size_t len, vdb_type elem)
{
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    size_t n = json_is_array(j) ? json_array_size(j) : 0;
    pb_field_data tmp;
    void *data = NULL;
    if (scalar_column(a, &tmp, elem, VDB_TYPE_NONE, n, &data) != 0) {
        json_decref(j);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(j, i);
        switch (elem) {
        case VDB_TYPE_BOOL: ((protobuf_c_boolean *)data)[i] = json_is_true(e); break;
        case VDB_TYPE_INT8: case VDB_TYPE_INT16: case VDB_TYPE_INT32:
            ((int32_t *)data)[i] = (int32_t)json_integer_value(e);
            break;
        case VDB_TYPE_INT64: ((int64_t *)data)[i] = json_integer_value(e); break;
        case VDB_TYPE_FLOAT: ((float *)data)[i] = (float)json_number_value(e); break;
        case VDB_TYPE_DOUBLE: ((double *)data)[i] = json_number_value(e); break;
        case VDB_TYPE_VARCHAR: {
            const char *s = json_is_string(e) ? json_string_value(e) : "";
            ((char **)data)[i] = srv_arena_strndup(a, s, strlen(s));
            break;
        }
        default: break;
        }
    }
    json_decref(j);
    return tmp.scalars;
}

/* The column of field f (a schema field, or "$meta" as JSON) over rows rr. */
static pb_field_data *field_column(srv_arena *a, const vdb_field_def *f, int is_meta,
                                   const vdb_result *res, const rowref *rr, size_t n,
                                   const char *const *dyn_keys, size_t ndyn, srv_status *err)
{
    pb_field_data *fd = srv_arena_alloc(a, sizeof *fd);
    if (!fd)
        goto oom;
    milvus__proto__schema__field_data__init(fd);
    fd->field_name = (char *)(is_meta ? DYNAMIC_FIELD : f->name);
    fd->type = (Milvus__Proto__Schema__DataType)(is_meta ? VDB_TYPE_JSON : f->type);
    fd->is_dynamic = is_meta;
    if (!is_meta && f->nullable) {
        fd->n_valid_data = n;
        if (!(fd->valid_data = srv_arena_alloc(a, (n ? n : 1) * sizeof *fd->valid_data)))
            goto oom;
    }
    if (!is_meta && f->type == VDB_TYPE_FLOAT_VECTOR) {
        pb_vectors *v = srv_arena_alloc(a, sizeof *v);
        Milvus__Proto__Schema__FloatArray *fa = srv_arena_alloc(a, sizeof *fa);
        float *out = srv_arena_alloc(a, (n ? n : 1) * f->dim * sizeof *out);
        if (!v || !fa || !out)
            goto oom;
        milvus__proto__schema__vector_field__init(v);
        milvus__proto__schema__float_array__init(fa);
        v->dim = f->dim;
        v->data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
        v->float_vector = fa;
        fa->data = out;
        fa->n_data = n * f->dim;
        fd->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS;
        fd->vectors = v;
        for (size_t i = 0; i < n; i++) {
            vdb_value val;
            if (vdb_result_field(res, rr[i].g, rr[i].r, f->name, &val) == VDB_OK && !val.is_null &&
                val.u.vec.dim == f->dim)
                memcpy(out + i * f->dim, val.u.vec.ptr, f->dim * sizeof *out);
        }
        return fd;
    }
    if (!is_meta && f->type == VDB_TYPE_SPARSE_FLOAT_VECTOR) {
        /* each row as little-endian (uint32 index, float32 value) pairs; dim: the largest
         * index + 1, as Milvus reports it */
        pb_vectors *v = srv_arena_alloc(a, sizeof *v);
        Milvus__Proto__Schema__SparseFloatArray *sa = srv_arena_alloc(a, sizeof *sa);
        ProtobufCBinaryData *rows = srv_arena_alloc(a, (n ? n : 1) * sizeof *rows);
        if (!v || !sa || !rows)
            goto oom;
        milvus__proto__schema__vector_field__init(v);
        milvus__proto__schema__sparse_float_array__init(sa);
        int64_t dim = 0;
        for (size_t i = 0; i < n; i++) {
            vdb_value val;
            rows[i] = (ProtobufCBinaryData){0, NULL};
            if (vdb_result_field(res, rr[i].g, rr[i].r, f->name, &val) != VDB_OK ||
                val.is_null)
                continue;
            size_t cnt = val.u.sparse.count;
            uint8_t *o = srv_arena_alloc(a, cnt * 8 + 1);
            if (!o)
                goto oom;
            for (size_t j = 0; j < cnt; j++) {
                uint32_t x = val.u.sparse.indices[j], bits;
                memcpy(&bits, &val.u.sparse.values[j], 4);
                for (int k = 0; k < 4; k++) {
                    o[j * 8 + (size_t)k] = (uint8_t)(x >> (8 * k));
                    o[j * 8 + 4 + (size_t)k] = (uint8_t)(bits >> (8 * k));
                }
                if ((int64_t)x + 1 > dim)
                    dim = (int64_t)x + 1;
            }
            rows[i] = (ProtobufCBinaryData){cnt * 8, o};
        }
        sa->contents = rows;
        sa->n_contents = n;
        sa->dim = dim;
        v->dim = dim;
        v->data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_SPARSE_FLOAT_VECTOR;
        v->sparse_float_vector = sa;
        fd->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS;
        fd->vectors = v;
        return fd;
    }
    if (!is_meta && (f->type == VDB_TYPE_FLOAT16_VECTOR || f->type == VDB_TYPE_BFLOAT16_VECTOR ||
                     f->type == VDB_TYPE_INT8_VECTOR || f->type == VDB_TYPE_BINARY_VECTOR)) {
        /* the stored elements as bytes (schema.proto VectorField binary_vector = 3,
         * float16_vector = 4, bfloat16_vector = 5, int8_vector = 7) */
        size_t w = vdb_vector_bytes(f->type, f->dim);
        pb_vectors *v = srv_arena_alloc(a, sizeof *v);
        uint8_t *out = srv_arena_alloc(a, (n ? n : 1) * w);
        if (!v || !out)
            goto oom;
        memset(out, 0, (n ? n : 1) * w);
        milvus__proto__schema__vector_field__init(v);
        v->dim = f->dim;
        ProtobufCBinaryData bytes = {n * w, out};
        if (f->type == VDB_TYPE_BINARY_VECTOR) {
            v->data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BINARY_VECTOR;
            v->binary_vector = bytes;
        } else if (f->type == VDB_TYPE_FLOAT16_VECTOR) {
            v->data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT16_VECTOR;
            v->float16_vector = bytes;
        } else if (f->type == VDB_TYPE_BFLOAT16_VECTOR) {
            v->data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BFLOAT16_VECTOR;
            v->bfloat16_vector = bytes;
        } else {
            v->data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_INT8_VECTOR;
            v->int8_vector = bytes;
        }
        fd->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS;
        fd->vectors = v;
        for (size_t i = 0; i < n; i++) {
            vdb_value val;
            if (vdb_result_field(res, rr[i].g, rr[i].r, f->name, &val) == VDB_OK &&
                !val.is_null && val.u.raw.bytes == w)
                memcpy(out + i * w, val.u.raw.ptr, w);
        }
        return fd;
    }
    vdb_type t = is_meta ? VDB_TYPE_JSON : f->type;
    void *data;
    if (scalar_column(a, fd, t, is_meta ? VDB_TYPE_NONE : f->element_type, n, &data) != 0)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        vdb_value v = {0};
        if (is_meta && !f) { /* dynamic keys only: one object of them per row */
            json_t *o = json_object();
            for (size_t k = 0; k < ndyn; k++) {
                vdb_value dv;
                if (vdb_result_field(res, rr[i].g, rr[i].r, dyn_keys[k], &dv) != VDB_OK ||
                    dv.is_null)
                    continue;
                json_t *x = dv.type == VDB_TYPE_VARCHAR
                                ? json_stringn(dv.u.str.ptr, dv.u.str.len)
                                : dv.type == VDB_TYPE_JSON || dv.type == VDB_TYPE_ARRAY
                                      ? json_loadb(dv.u.str.ptr, dv.u.str.len, JSON_DECODE_ANY,
                                                   NULL)
                                  : dv.type == VDB_TYPE_DOUBLE || dv.type == VDB_TYPE_FLOAT
                                      ? json_real(dv.u.f64)
                                  : dv.type == VDB_TYPE_BOOL ? json_boolean(dv.u.i64)
                                                             : json_integer(dv.u.i64);
                if (x)
                    json_object_set_new(o, dyn_keys[k], x);
            }
            size_t len = 0;
            char *txt = o ? srv_json_text(o, &len) : NULL;
            json_decref(o);
            ProtobufCBinaryData *bd = &((ProtobufCBinaryData *)data)[i];
            bd->data = txt ? (uint8_t *)srv_arena_strndup(a, txt, len) : NULL;
            bd->len = bd->data ? len : 0;
            free(txt);
            continue;
        }
        int got = vdb_result_field(res, rr[i].g, rr[i].r, is_meta ? DYNAMIC_FIELD : f->name,
                                   &v) == VDB_OK;
        int null = !got || v.is_null;
        if (fd->valid_data)
            fd->valid_data[i] = !null;
        if (null) {
            if (t == VDB_TYPE_VARCHAR)
                ((char **)data)[i] = (char *)"";
            else if (t == VDB_TYPE_ARRAY && !(((pb_scalars **)data)[i] = new_scalars(a)))
                goto oom;
            continue;
        }
        switch (t) {
        case VDB_TYPE_BOOL: ((protobuf_c_boolean *)data)[i] = v.u.i64 != 0; break;
        case VDB_TYPE_INT8: case VDB_TYPE_INT16: case VDB_TYPE_INT32:
            ((int32_t *)data)[i] = (int32_t)v.u.i64;
            break;
        case VDB_TYPE_INT64: ((int64_t *)data)[i] = v.u.i64; break;
        case VDB_TYPE_FLOAT: ((float *)data)[i] = (float)v.u.f64; break;
        case VDB_TYPE_DOUBLE: ((double *)data)[i] = v.u.f64; break;
        case VDB_TYPE_VARCHAR:
            if (!(((char **)data)[i] = srv_arena_strndup(a, v.u.str.ptr, v.u.str.len)))
                goto oom;
            break;
        case VDB_TYPE_JSON: {
            ProtobufCBinaryData *bd = &((ProtobufCBinaryData *)data)[i];
            if (!(bd->data = (uint8_t *)srv_arena_strndup(a, v.u.str.ptr, v.u.str.len)))
                goto oom;
            bd->len = v.u.str.len;
            break;
        }
        case VDB_TYPE_ARRAY:
            if (!(((pb_scalars **)data)[i] = array_value(a, v.u.str.ptr, v.u.str.len,
                                                           f->element_type)))
                goto oom;
            break;
        default:
            break;
        }
    }
    return fd;
oom:
    srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
    return NULL;
}

/* The primary key column over rows rr. */
static pb_field_data *pk_column(srv_arena *a, const srv_coll *c, const vdb_result *res,
                                const rowref *rr, size_t n, srv_status *err)
{
    const vdb_field_def *f = &c->fields[c->pk];
    pb_field_data *fd = srv_arena_alloc(a, sizeof *fd);
    void *data;
    if (!fd)
        goto oom;
    milvus__proto__schema__field_data__init(fd);
    fd->field_name = (char *)f->name;
    fd->type = (Milvus__Proto__Schema__DataType)f->type;
    if (scalar_column(a, fd, f->type, VDB_TYPE_NONE, n, &data) != 0)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        if (f->type == VDB_TYPE_VARCHAR) {
            const char *s = vdb_result_pk_str(res, rr[i].g, rr[i].r);
            if (!(((char **)data)[i] = srv_arena_strndup(a, s ? s : "", s ? strlen(s) : 0)))
                goto oom;
        } else {
            ((int64_t *)data)[i] = vdb_result_pk_int(res, rr[i].g, rr[i].r);
        }
    }
    return fd;
oom:
    srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
    return NULL;
}

int srv_pb_result_columns(srv_arena *a, const srv_coll *c, const srv_outplan *p,
                          const vdb_result *res, size_t offset, pb_field_data ***out, size_t *n,
                          char ***names, size_t *nnames, srv_status *err)
{
    size_t nrows = 0;
    rowref *rr = rows_of(a, res, offset, &nrows);
    pb_field_data **cols = srv_arena_alloc(a, (p->n + 2) * sizeof *cols);
    char **nm = srv_arena_alloc(a, (p->n + 2) * sizeof *nm);
    const char **dyn = srv_arena_alloc(a, (p->n + 1) * sizeof *dyn);
    if (!rr || !cols || !nm || !dyn)
        return srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
    size_t k = 0, kn = 0, ndyn = 0;
    int meta = 0;
    nm[kn++] = (char *)c->fields[c->pk].name;
    if (!(cols[k++] = pk_column(a, c, res, rr, nrows, err)))
        return -1;
    for (size_t i = 0; i < p->n; i++) {
        if (p->kinds[i] == 'd') { /* a dynamic key: printed from "$meta" */
            dyn[ndyn++] = p->names[i];
            nm[kn++] = (char *)p->names[i];
            continue;
        }
        if (p->kinds[i] == 'm') {
            meta = 1;
            continue;
        }
        int fi = srv_coll_find(c, p->names[i]);
        if (fi < 0)
            continue;
        nm[kn++] = (char *)p->names[i];
        if (!(cols[k++] = field_column(a, &c->fields[fi], 0, res, rr, nrows, NULL, 0, err)))
            return -1;
    }
    if (meta || ndyn) {
        /* the whole "$meta" when it was asked for, else an object of the keys asked for */
        if (!(cols[k++] = field_column(a, meta ? &c->fields[c->pk] : NULL, 1, res, rr, nrows,
                                       dyn, ndyn, err)))
            return -1;
        if (meta)
            nm[kn++] = (char *)DYNAMIC_FIELD;
    }
    *out = cols;
    *n = k;
    if (names) {
        *names = nm;
        *nnames = kn;
    }
    return 0;
}

pb_ids *srv_pb_ids(srv_arena *a, const srv_coll *c, const vdb_result *res, size_t offset,
                   srv_status *err)
{
    size_t n = 0;
    rowref *rr = rows_of(a, res, offset, &n);
    pb_ids *ids = srv_arena_alloc(a, sizeof *ids);
    if (!rr || !ids)
        goto oom;
    milvus__proto__schema__ids__init(ids);
    if (c->fields[c->pk].type == VDB_TYPE_VARCHAR) {
        Milvus__Proto__Schema__StringArray *sa = srv_arena_alloc(a, sizeof *sa);
        char **d = srv_arena_alloc(a, (n ? n : 1) * sizeof *d);
        if (!sa || !d)
            goto oom;
        milvus__proto__schema__string_array__init(sa);
        for (size_t i = 0; i < n; i++) {
            const char *s = vdb_result_pk_str(res, rr[i].g, rr[i].r);
            if (!(d[i] = srv_arena_strndup(a, s ? s : "", s ? strlen(s) : 0)))
                goto oom;
        }
        sa->data = d;
        sa->n_data = n;
        ids->id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID;
        ids->str_id = sa;
    } else {
        Milvus__Proto__Schema__LongArray *la = srv_arena_alloc(a, sizeof *la);
        int64_t *d = srv_arena_alloc(a, (n ? n : 1) * sizeof *d);
        if (!la || !d)
            goto oom;
        milvus__proto__schema__long_array__init(la);
        for (size_t i = 0; i < n; i++)
            d[i] = vdb_result_pk_int(res, rr[i].g, rr[i].r);
        la->data = d;
        la->n_data = n;
        ids->id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID;
        ids->int_id = la;
    }
    return ids;
oom:
    srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
    return NULL;
}

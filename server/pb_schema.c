/* vdb-server — collection schemas as Milvus's protobuf spells them (schema.CollectionSchema),
 * both ways. Milvus's DataType numbers are libvdb's vdb_type numbers for the types both have. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "grpc_pb.h"

static const char *pb_type_name(int t)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&milvus__proto__schema__data_type__descriptor, t);
    return v ? v->name : "unknown";
}

static int supported_type(int t)
{
    switch (t) {
    case VDB_TYPE_BOOL: case VDB_TYPE_INT8: case VDB_TYPE_INT16: case VDB_TYPE_INT32:
    case VDB_TYPE_INT64: case VDB_TYPE_FLOAT: case VDB_TYPE_DOUBLE: case VDB_TYPE_VARCHAR:
    case VDB_TYPE_ARRAY: case VDB_TYPE_JSON: case VDB_TYPE_FLOAT_VECTOR:
    case VDB_TYPE_SPARSE_FLOAT_VECTOR: case VDB_TYPE_FLOAT16_VECTOR:
    case VDB_TYPE_BFLOAT16_VECTOR: case VDB_TYPE_INT8_VECTOR: case VDB_TYPE_BINARY_VECTOR:
        return 1;
    default:
        return 0;
    }
}

static int type_param_u32(const char *field, const char *key, const char *v, uint32_t *out,
                          srv_status *err)
{
    char *end;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || x < 1 || x > UINT32_MAX)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: field '%s': type param "
                        "%s='%s' must be a positive integer", field, key, v);
    *out = (uint32_t)x;
    return 0;
}

/* ValueField -> JSON text (malloc'd) for vdb_field_def.default_json. */
static char *default_json(const pb_value *v)
{
    char buf[64];
    json_t *j = NULL;
    switch (v->data_case) {
    case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_BOOL_DATA:
        return strdup(v->bool_data ? "true" : "false");
    case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_INT_DATA:
        snprintf(buf, sizeof buf, "%d", v->int_data);
        return strdup(buf);
    case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_LONG_DATA:
        snprintf(buf, sizeof buf, "%lld", (long long)v->long_data);
        return strdup(buf);
    case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_FLOAT_DATA:
        snprintf(buf, sizeof buf, "%.9g", (double)v->float_data);
        return strdup(buf);
    case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_DOUBLE_DATA:
        snprintf(buf, sizeof buf, "%.17g", v->double_data);
        return strdup(buf);
    case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_STRING_DATA:
        j = json_string(v->string_data ? v->string_data : "");
        break;
    default:
        return NULL;
    }
    char *s = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    return s;
}

/* What is done with a field read from a FieldSchema: 0, or -1 with *err. */
typedef int (*field_fn)(void *arg, const vdb_field_def *d, srv_status *err);

static int add_to_schema(void *arg, const vdb_field_def *d, srv_status *err)
{
    if (vdb_schema_add_field(arg, d) != VDB_OK)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: %s", vdb_errmsg(NULL));
    return 0;
}

static int field_from_pb(const pb_field_schema *f, int schema_auto_id, field_fn fn, void *arg,
                         srv_status *err)
{
    const char *name = f->name && *f->name ? f->name : "";
    if (!*name)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: a field has no name");
    if (!supported_type(f->data_type))
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: field '%s': data type "
                        "%s is not supported by libvdb (Bool, Int8, Int16, Int32, Int64, Float, "
                        "Double, VarChar, JSON, Array, FloatVector, Float16Vector, BFloat16Vector, "
                        "Int8Vector, BinaryVector, SparseFloatVector)", name,
                        pb_type_name(f->data_type));
    if (f->is_clustering_key)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: field '%s': clustering "
                        "keys are not supported by vdb-server", name);
    if (f->is_function_output)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: field '%s': function "
                        "outputs are not supported by vdb-server", name);
    if (f->is_dynamic)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: field '%s': the dynamic "
                        "field is made by enable_dynamic_field, not declared", name);
    if (f->n_index_params)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: field '%s': index "
                        "params in a schema are not supported (create the index)", name);
    vdb_field_def d = {.struct_size = sizeof d, .name = name, .type = (vdb_type)f->data_type,
                       .is_primary = f->is_primary_key, .nullable = f->nullable,
                       .is_partition_key = f->is_partition_key,
                       .description = f->description && *f->description ? f->description
                                                                         : NULL,
                       .metric = VDB_METRIC_COSINE /* Milvus's default for float vectors */};
    if (d.is_primary)
        d.auto_id = f->autoid || schema_auto_id;
    if (d.type == VDB_TYPE_SPARSE_FLOAT_VECTOR)
        d.metric = VDB_METRIC_IP; /* the only metric of sparse vectors */
    if (d.type == VDB_TYPE_BINARY_VECTOR)
        d.metric = VDB_METRIC_HAMMING; /* Milvus's default for binary vectors */
    if (d.type == VDB_TYPE_ARRAY) {
        int et = (int)f->element_type;
        if (!supported_type(et) || et == VDB_TYPE_ARRAY || et == VDB_TYPE_JSON ||
            vdb_type_is_any_vector((vdb_type)et))
            return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: field '%s': an Array "
                            "of %s is not supported (Bool, Int8..Int64, Float, Double, VarChar)",
                            name, pb_type_name(f->element_type));
        d.element_type = (vdb_type)f->element_type;
    }
    for (size_t i = 0; i < f->n_type_params; i++) {
        const char *k = f->type_params[i]->key ? f->type_params[i]->key : "";
        const char *v = f->type_params[i]->value ? f->type_params[i]->value : "";
        int rc = 0;
        if (!strcmp(k, "dim"))
            rc = type_param_u32(name, k, v, &d.dim, err);
        else if (!strcmp(k, "max_length"))
            rc = type_param_u32(name, k, v, &d.max_length, err);
        else if (!strcmp(k, "max_capacity"))
            rc = type_param_u32(name, k, v, &d.max_capacity, err);
        else if (!strcmp(k, "metric_type") && vdb_type_is_any_vector(d.type)) {
            if (srv_metric_from_name(v, &d.metric) != 0)
                rc = srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: field '%s': "
                              "metric_type '%s' (L2, IP, COSINE; HAMMING, JACCARD on binary "
                              "vectors)", name, v);
        } else if (!strcmp(k, "mmap.enabled"))
            continue; /* where Milvus keeps the column; libvdb keeps it in memory */
        else
            rc = srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: field '%s': type param "
                          "'%s' is not supported by vdb-server", name, k);
        if (rc)
            return -1;
    }
    char *dflt = NULL;
    if (f->default_value && f->default_value->data_case) {
        if (!(dflt = default_json(f->default_value)))
            return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: field '%s': a default "
                            "value of this kind is not supported", name);
        d.default_json = dflt;
    }
    int rc = fn(arg, &d, err);
    free(dflt);
    return rc;
}

typedef struct add_call {
    srv_ctx *ctx;
    const char *coll;
} add_call;

static int add_to_collection(void *arg, const vdb_field_def *d, srv_status *err)
{
    add_call *a = arg;
    return srv_op_add_field(a->ctx, a->coll, d, err);
}

int srv_pb_add_field(srv_ctx *ctx, const char *coll, const ProtobufCBinaryData *bytes,
                     srv_status *err)
{
    pb_field_schema *f = milvus__proto__schema__field_schema__unpack(NULL, bytes->len,
                                                                     bytes->data);
    if (!f)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: the schema is not a "
                        "valid FieldSchema message");
    add_call a = {ctx, coll};
    int rc = field_from_pb(f, 0, add_to_collection, &a, err);
    milvus__proto__schema__field_schema__free_unpacked(f, NULL);
    return rc;
}

vdb_schema *srv_pb_schema_to_vdb(const char *name, const ProtobufCBinaryData *bytes,
                                 int32_t shards, srv_status *err)
{
    pb_schema *ps = milvus__proto__schema__collection_schema__unpack(NULL, bytes->len,
                                                                     bytes->data);
    if (!ps) {
        srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: the schema is not a valid "
                 "CollectionSchema message");
        return NULL;
    }
    vdb_schema *s = NULL;
    /* name is qualified with its database (srv_rpc_db), the schema's name is not */
    if (ps->name && *ps->name && strcmp(ps->name, srv_bare_name(name))) {
        srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: collection name [%s] does not "
                 "match schema name [%s]", srv_bare_name(name), ps->name);
        goto fail;
    }
    if (ps->n_functions || ps->n_struct_array_fields) {
        srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: %s are not supported by "
                 "vdb-server", ps->n_functions ? "functions (BM25, embeddings)"
                                              : "struct array fields");
        goto fail;
    }
    if (ps->n_properties) {
        srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: schema property '%s' is not "
                 "supported by vdb-server", ps->properties[0]->key);
        goto fail;
    }
    if (!ps->n_fields) {
        srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: the schema has no fields");
        goto fail;
    }
    if (vdb_schema_new(name, &s) != VDB_OK) {
        srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: %s", vdb_errmsg(NULL));
        goto fail;
    }
    for (size_t i = 0; i < ps->n_fields; i++)
        if (field_from_pb(ps->fields[i], ps->autoid, add_to_schema, s, err) != 0)
            goto fail;
    vdb_schema_set_dynamic(s, ps->enable_dynamic_field);
    if (ps->description && *ps->description &&
        vdb_schema_set_description(s, ps->description) != VDB_OK) {
        srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: %s", vdb_errmsg(NULL));
        goto fail;
    }
    if (shards && (shards < 0 || shards > 64 || vdb_schema_set_shards(s, (uint32_t)shards))) {
        srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: shards_num must be 1..64");
        goto fail;
    }
    milvus__proto__schema__collection_schema__free_unpacked(ps, NULL);
    return s;
fail:
    vdb_schema_free(s);
    milvus__proto__schema__collection_schema__free_unpacked(ps, NULL);
    return NULL;
}

/* ---- vdb_schema -> CollectionSchema (one malloc'd tree) ----------------------------------- */

static pb_kv *kv_new(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static pb_kv *kv_new(const char *key, const char *fmt, ...)
{
    pb_kv *kv = malloc(sizeof *kv + 2 * 64);
    if (!kv)
        return NULL;
    milvus__proto__common__key_value_pair__init(kv);
    char *k = (char *)(kv + 1), *v = k + 64;
    snprintf(k, 64, "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, 64, fmt, ap);
    va_end(ap);
    kv->key = k;
    kv->value = v;
    return kv;
}

/* default_json -> ValueField of the field's type. */
static pb_value *value_from_json(const vdb_field_def *d)
{
    json_t *j = json_loads(d->default_json, JSON_DECODE_ANY, NULL);
    if (!j)
        return NULL;
    pb_value *v = calloc(1, sizeof *v + (json_is_string(j) ? json_string_length(j) + 1 : 0));
    if (!v) {
        json_decref(j);
        return NULL;
    }
    milvus__proto__schema__value_field__init(v);
    switch (d->type) {
    case VDB_TYPE_BOOL:
        v->data_case = MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_BOOL_DATA;
        v->bool_data = json_is_true(j);
        break;
    case VDB_TYPE_INT8: case VDB_TYPE_INT16: case VDB_TYPE_INT32:
        v->data_case = MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_INT_DATA;
        v->int_data = (int32_t)json_integer_value(j);
        break;
    case VDB_TYPE_INT64:
        v->data_case = MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_LONG_DATA;
        v->long_data = json_integer_value(j);
        break;
    case VDB_TYPE_FLOAT:
        v->data_case = MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_FLOAT_DATA;
        v->float_data = (float)json_number_value(j);
        break;
    case VDB_TYPE_DOUBLE:
        v->data_case = MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_DOUBLE_DATA;
        v->double_data = json_number_value(j);
        break;
    case VDB_TYPE_VARCHAR:
        if (json_is_string(j)) {
            v->data_case = MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_STRING_DATA;
            v->string_data = (char *)(v + 1);
            memcpy(v->string_data, json_string_value(j), json_string_length(j) + 1);
        }
        break;
    default:
        break;
    }
    json_decref(j);
    return v;
}

void srv_pb_schema_free(pb_schema *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->n_fields; i++) {
        pb_field_schema *f = ps->fields[i];
        if (!f)
            continue;
        for (size_t k = 0; k < f->n_type_params; k++)
            free(f->type_params[k]);
        free(f->type_params);
        free(f->default_value);
        free(f);
    }
    free(ps->fields);
    free(ps);
}

pb_schema *srv_pb_schema_from_vdb(const vdb_schema *s)
{
    pb_schema *ps = calloc(1, sizeof *ps);
    if (!ps)
        return NULL;
    milvus__proto__schema__collection_schema__init(ps);
    ps->name = (char *)vdb_schema_name(s);
    ps->description = (char *)"";
    ps->enable_dynamic_field = vdb_schema_dynamic(s);
    size_t n = vdb_schema_field_count(s);
    ps->fields = calloc(n ? n : 1, sizeof *ps->fields);
    if (!ps->fields)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        vdb_field_def d = {.struct_size = sizeof d};
        if (vdb_schema_field(s, i, &d) != VDB_OK)
            continue;
        pb_field_schema *f = calloc(1, sizeof *f);
        if (!f)
            goto fail;
        ps->fields[ps->n_fields++] = f;
        milvus__proto__schema__field_schema__init(f);
        f->fieldid = 100 + (int64_t)i;
        f->name = (char *)d.name;
        f->is_primary_key = d.is_primary;
        f->is_partition_key = d.is_partition_key;
        f->description = (char *)(d.description ? d.description : "");
        f->data_type = (Milvus__Proto__Schema__DataType)d.type;
        f->autoid = d.auto_id;
        f->nullable = d.nullable;
        if (d.type == VDB_TYPE_ARRAY)
            f->element_type = (Milvus__Proto__Schema__DataType)d.element_type;
        if (!(f->type_params = calloc(4, sizeof *f->type_params)))
            goto fail;
        if (d.dim && !(f->type_params[f->n_type_params++] = kv_new("dim", "%u", d.dim)))
            goto fail;
        if (d.max_length &&
            !(f->type_params[f->n_type_params++] = kv_new("max_length", "%u", d.max_length)))
            goto fail;
        if (d.max_capacity && !(f->type_params[f->n_type_params++] =
                                    kv_new("max_capacity", "%u", d.max_capacity)))
            goto fail;
        if (d.default_json)
            f->default_value = value_from_json(&d);
    }
    return ps;
fail:
    srv_pb_schema_free(ps);
    return NULL;
}

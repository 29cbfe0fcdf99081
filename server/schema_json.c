/* vdb-server — collection schemas as Milvus's REST API spells them, both ways. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"

static const struct {
    const char *name;
    vdb_type type;
} type_names[] = {
    {"Bool", VDB_TYPE_BOOL},       {"Int8", VDB_TYPE_INT8},
    {"Int16", VDB_TYPE_INT16},     {"Int32", VDB_TYPE_INT32},
    {"Int64", VDB_TYPE_INT64},     {"Float", VDB_TYPE_FLOAT},
    {"Double", VDB_TYPE_DOUBLE},   {"VarChar", VDB_TYPE_VARCHAR},
    {"Array", VDB_TYPE_ARRAY},     {"JSON", VDB_TYPE_JSON},
    {"FloatVector", VDB_TYPE_FLOAT_VECTOR},
    {"SparseFloatVector", VDB_TYPE_SPARSE_FLOAT_VECTOR},
    {"Float16Vector", VDB_TYPE_FLOAT16_VECTOR},
    {"BFloat16Vector", VDB_TYPE_BFLOAT16_VECTOR},
    {"Int8Vector", VDB_TYPE_INT8_VECTOR},
    {"BinaryVector", VDB_TYPE_BINARY_VECTOR},
};

vdb_type srv_type_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (!strcasecmp(name, type_names[i].name))
            return type_names[i].type;
    return VDB_TYPE_NONE;
}

const char *srv_type_name(vdb_type t)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (type_names[i].type == t)
            return type_names[i].name;
    return "None";
}

int srv_metric_from_name(const char *name, vdb_metric *out)
{
    if (!strcasecmp(name, "L2"))
        *out = VDB_METRIC_L2;
    else if (!strcasecmp(name, "IP"))
        *out = VDB_METRIC_IP;
    else if (!strcasecmp(name, "COSINE"))
        *out = VDB_METRIC_COSINE;
    else if (!strcasecmp(name, "HAMMING"))
        *out = VDB_METRIC_HAMMING;
    else if (!strcasecmp(name, "JACCARD"))
        *out = VDB_METRIC_JACCARD;
    else if (!strcasecmp(name, "BM25"))
        *out = VDB_METRIC_BM25;
    else
        return -1;
    return 0;
}

/* A type parameter: Milvus's clients send "dim": "5" as often as "dim": 5. */
static int param_u32(json_t *params, const char *key, uint32_t *out, json_t **err)
{
    json_t *v = json_object_get(params, key);
    if (!v || json_is_null(v))
        return 0;
    long long x = -1;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_string(v)) {
        char *end;
        x = strtoll(json_string_value(v), &end, 10);
        if (end == json_string_value(v) || *end)
            x = -1;
    }
    if (x < 1 || x > UINT32_MAX) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: '%s' must be a positive integer",
                       key);
        return -1;
    }
    *out = (uint32_t)x;
    return 0;
}

static int metric_for(json_t *req, const char *field, vdb_type type, vdb_metric *out,
                      json_t **err)
{
    const char *name = NULL;
    json_t *idx = json_object_get(req, "indexParams");
    size_t i;
    json_t *e;
    json_array_foreach(idx, i, e) {
        json_t *f = json_object_get(e, "fieldName");
        json_t *m = json_object_get(e, "metricType");
        if (json_is_string(f) && !strcmp(json_string_value(f), field) && json_is_string(m))
            name = json_string_value(m);
    }
    if (!name && json_is_string(json_object_get(req, "metricType")))
        name = json_string_value(json_object_get(req, "metricType"));
    int bin = type == VDB_TYPE_BINARY_VECTOR;
    if (!name || !*name) /* Milvus's defaults for AUTOINDEX on float and binary vectors */
        name = bin ? "HAMMING" : "COSINE";
    vdb_metric m;
    if (srv_metric_from_name(name, &m) != 0 || vdb_metric_is_binary(m) != bin) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: metric type '%s' of field "
                       "'%s' (%s)", name, field, bin ? "HAMMING, JACCARD" : "L2, IP, COSINE");
        return -1;
    }
    *out = m;
    return 0;
}

static int add_field(vdb_schema *s, const vdb_field_def *d, json_t **err)
{
    if (vdb_schema_add_field(s, d) != VDB_OK) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: %s", vdb_errmsg(NULL));
        return -1;
    }
    return 0;
}

static int quick_form(json_t *req, vdb_schema *s, json_t **err)
{
    int64_t dim;
    const char *id_type, *pk_name, *vec_name;
    int auto_id, dynamic;
    json_t *params = json_object_get(req, "params");
    uint32_t max_length = 65535;
    if (srv_req_int(req, "dimension", 0, &dim, err) || srv_req_str(req, "idType", 0, &id_type,
        err) ||
        srv_req_str(req, "primaryFieldName", 0, &pk_name, err) ||
        srv_req_str(req, "vectorFieldName", 0, &vec_name, err) ||
        srv_req_bool(req, "autoID", 0, &auto_id, err) ||
        srv_req_bool(req, "enableDynamicField", 1, &dynamic, err) ||
        (params && srv_req_bool(params, "enableDynamicField", dynamic, &dynamic, err)) ||
        param_u32(params, "max_length", &max_length, err))
        return -1;
    if (dim <= 0) {
        *err = srv_err(MV_MISSING_REQUIRED, "missing required parameters, error: 'dimension' "
                                            "(or a 'schema') is required");
        return -1;
    }
    vdb_field_def pk = {.struct_size = sizeof pk, .name = pk_name ? pk_name : "id",
                        .type = VDB_TYPE_INT64,
                        .is_primary = 1, .auto_id = auto_id};
    if (id_type && !strcasecmp(id_type, "VarChar")) {
        pk.type = VDB_TYPE_VARCHAR;
        pk.max_length = max_length;
    } else if (id_type && strcasecmp(id_type, "Int64")) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: idType '%s' (Int64 or VarChar)",
                       id_type);
        return -1;
    }
    vdb_field_def vec = {.struct_size = sizeof vec, .name = vec_name ? vec_name : "vector",
                         .type = VDB_TYPE_FLOAT_VECTOR, .dim = (uint32_t)dim};
    if (dim > UINT32_MAX) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: dimension %lld", (long long)dim);
        return -1;
    }
    if (metric_for(req, vec.name, vec.type, &vec.metric, err) || add_field(s, &pk, err) ||
        add_field(s, &vec, err))
        return -1;
    vdb_schema_set_dynamic(s, dynamic);
    return 0;
}

/* One field of a request (schema.fields[], or add field's schema) into *d; *dflt (free it)
 * holds the default's JSON text d points at, and d->analyzer_params (free it too) the
 * analyzer's. */
static int field_def(json_t *req, json_t *f, int auto_id, vdb_field_def *out, char **dflt_out,
                     json_t **err)
{
    const char *name, *type_name, *elem_name, *desc;
    int primary, nullable, part_key, fauto;
    if (!json_is_object(f)) {
        *err = srv_err(MV_INCORRECT_FORMAT, "can only accept json format request, error: each "
                                            "of schema.fields must be an object");
        return -1;
    }
    if (srv_req_str(f, "fieldName", 1, &name, err) || srv_req_str(f, "dataType", 1, &type_name,
        err) ||
        srv_req_str(f, "elementDataType", 0, &elem_name, err) ||
        srv_req_str(f, "description", 0, &desc, err) ||
        srv_req_bool(f, "isPrimary", 0, &primary, err) ||
        srv_req_bool(f, "nullable", 0, &nullable, err) ||
        srv_req_bool(f, "isPartitionKey", 0, &part_key, err) ||
        srv_req_bool(f, "autoID", auto_id, &fauto, err))
        return -1;
    vdb_field_def d = {.struct_size = sizeof d, .name = name, .description = desc,
                       .is_primary = primary,
                       .nullable = nullable};
    d.type = srv_type_from_name(type_name);
    if (d.type == VDB_TYPE_NONE) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: field '%s': data type '%s' is "
                       "not supported (Bool, Int8, Int16, Int32, Int64, Float, Double, VarChar, "
                       "JSON, Array, FloatVector, SparseFloatVector, Float16Vector, "
                       "BFloat16Vector, Int8Vector, BinaryVector)", name, type_name);
        return -1;
    }
    d.is_partition_key = part_key;
    if (primary)
        d.auto_id = fauto;
    if (d.type == VDB_TYPE_ARRAY) {
        d.element_type = elem_name ? srv_type_from_name(elem_name) : VDB_TYPE_NONE;
        if (d.element_type == VDB_TYPE_NONE) {
            *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: field '%s': an Array needs "
                           "an elementDataType (Bool, Int8..Int64, Float, Double, VarChar)", name);
            return -1;
        }
    }
    json_t *tp;
    int analyzer = 0, match = 0;
    if (srv_req_obj(f, "elementTypeParams", "schema.fields[].elementTypeParams", &tp, err) ||
        param_u32(tp, "dim", &d.dim, err) || param_u32(tp, "max_length", &d.max_length, err) ||
        param_u32(tp, "max_capacity", &d.max_capacity, err) ||
        (tp && (srv_req_bool(tp, "enable_analyzer", 0, &analyzer, err) ||
                srv_req_bool(tp, "enable_match", 0, &match, err))) ||
        srv_req_bool(f, "enableAnalyzer", analyzer, &analyzer, err) ||
        srv_req_bool(f, "enableMatch", match, &match, err))
        return -1;
    d.enable_analyzer = analyzer;
    d.enable_match = match;
    /* analyzer_params: an object (or its JSON text), in elementTypeParams or as
     * analyzerParams beside them */
    json_t *ap = tp ? json_object_get(tp, "analyzer_params") : NULL;
    if (!ap)
        ap = json_object_get(f, "analyzerParams");
    char *ap_text = NULL;
    if (ap && json_is_string(ap))
        ap_text = strdup(json_string_value(ap));
    else if (ap && json_is_object(ap))
        ap_text = json_dumps(ap, JSON_COMPACT);
    else if (ap && !json_is_null(ap)) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: field '%s': analyzer_params "
                       "must be an object", name);
        return -1;
    }
    d.analyzer_params = ap_text;
    /* a sparse field is IP (the library's default for it; an index's metricType is checked
     * when the index is created) */
    if (vdb_type_is_vector(d.type) && metric_for(req, name, d.type, &d.metric, err)) {
        free(ap_text);
        return -1;
    }
    char *dflt = NULL;
    json_t *dv = json_object_get(f, "defaultValue");
    if (dv && !json_is_null(dv))
        dflt = json_dumps(dv, JSON_COMPACT | JSON_ENCODE_ANY);
    d.default_json = dflt;
    *out = d;
    *dflt_out = dflt;
    return 0;
}

int srv_field_from_json(json_t *req, json_t *f, vdb_field_def *d, char **dflt, json_t **err)
{
    return field_def(req, f, 0, d, dflt, err);
}

static int full_field(json_t *req, json_t *f, int auto_id, vdb_schema *s, json_t **err)
{
    vdb_field_def d;
    char *dflt = NULL;
    if (field_def(req, f, auto_id, &d, &dflt, err))
        return -1;
    int rc = add_field(s, &d, err);
    free(dflt);
    free((char *)d.analyzer_params);
    return rc;
}

/* schema.functions[]: {"name", "type": "BM25", "inputFieldNames": [one],
 * "outputFieldNames": [one], "params": {}} as Milvus's REST API. */
static int full_function(json_t *fn, vdb_schema *s, json_t **err)
{
    const char *name, *type, *desc;
    if (!json_is_object(fn) || srv_req_str(fn, "name", 1, &name, err) ||
        srv_req_str(fn, "type", 1, &type, err) || srv_req_str(fn, "description", 0, &desc, err))
        return *err ? -1 : (*err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: each of "
                                           "schema.functions must be an object"), -1);
    json_t *in = json_object_get(fn, "inputFieldNames"), *out = json_object_get(fn,
                                                                               "outputFieldNames");
    json_t *params = json_object_get(fn, "params");
    if (strcasecmp(type, "BM25")) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: function '%s': type '%s' is "
                       "not supported (BM25 is)", name, type);
        return -1;
    }
    if (!json_is_array(in) || json_array_size(in) != 1 || !json_is_string(json_array_get(in, 0)) ||
        !json_is_array(out) || json_array_size(out) != 1 ||
        !json_is_string(json_array_get(out, 0))) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: function '%s': BM25 takes one "
                       "inputFieldNames and one outputFieldNames", name);
        return -1;
    }
    if (params && !json_is_null(params) && (!json_is_object(params) || json_object_size(params))) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: function '%s': BM25 takes no "
                       "params", name);
        return -1;
    }
    vdb_function_def d = {.struct_size = sizeof d, .name = name, .type = VDB_FUNCTION_BM25,
                          .input_field = json_string_value(json_array_get(in, 0)),
                          .output_field = json_string_value(json_array_get(out, 0)),
                          .description = desc};
    if (vdb_schema_add_function(s, &d) != VDB_OK) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: %s", vdb_errmsg(NULL));
        return -1;
    }
    return 0;
}

static int full_form(json_t *req, json_t *schema, vdb_schema *s, json_t **err)
{
    int auto_id, dynamic;
    json_t *params = json_object_get(req, "params");
    if (srv_req_bool(schema, "autoID", 0, &auto_id, err) ||
        srv_req_bool(schema, "autoId", auto_id, &auto_id, err) ||
        srv_req_bool(req, "enableDynamicField", 0, &dynamic, err) ||
        (params && srv_req_bool(params, "enableDynamicField", dynamic, &dynamic, err)) ||
        srv_req_bool(schema, "enabledDynamicField", dynamic, &dynamic, err) ||
        srv_req_bool(schema, "enableDynamicField", dynamic, &dynamic, err))
        return -1;
    json_t *fields = json_object_get(schema, "fields");
    if (!json_is_array(fields) || !json_array_size(fields)) {
        *err = srv_err(MV_MISSING_REQUIRED,
                       "missing required parameters, error: 'schema.fields' must list fields");
        return -1;
    }
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) {
        if (full_field(req, f, auto_id, s, err))
            return -1;
    }
    json_t *fns = json_object_get(schema, "functions");
    if (fns && !json_is_null(fns) && !json_is_array(fns)) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: schema.functions must be a "
                       "list");
        return -1;
    }
    json_array_foreach(fns, i, f) {
        if (full_function(f, s, err))
            return -1;
    }
    vdb_schema_set_dynamic(s, dynamic);
    return 0;
}

vdb_schema *srv_schema_from_request(json_t *req, const char *name, json_t **err)
{
    vdb_schema *s;
    if (vdb_schema_new(name, &s) != VDB_OK) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: %s", vdb_errmsg(NULL));
        return NULL;
    }
    json_t *schema, *params;
    int64_t shards = 0, nparts = 0;
    const char *desc;
    int rc = srv_req_obj(req, "schema", NULL, &schema, err) ||
             srv_req_obj(req, "params", NULL, &params, err) ? -1
             : schema ? full_form(req, schema, s, err) : quick_form(req, s, err);
    if (rc == 0 && (srv_req_int(req, "shardsNum", 0, &shards, err) ||
                    (params && srv_req_int(params, "shardsNum", shards, &shards, err)) ||
                    srv_req_str(req, "description", 0, &desc, err)))
        rc = -1;
    /* Milvus's params.partitionsNum (numPartitions accepted too): the hashed partitions of a
     * collection with a partition key */
    if (rc == 0 && (srv_req_int(req, "numPartitions", 0, &nparts, err) ||
                    (params && (srv_req_int(params, "partitionsNum", nparts, &nparts, err) ||
                                srv_req_int(params, "numPartitions", nparts, &nparts, err)))))
        rc = -1;
    if (rc == 0 && nparts && (nparts < 0 || nparts > 1024 ||
                              vdb_schema_set_partitions(s, (uint32_t)nparts) != VDB_OK)) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: partitionsNum must be 1..1024");
        rc = -1;
    }
    if (rc == 0 && shards && (shards < 0 || shards > 64 ||
                              vdb_schema_set_shards(s, (uint32_t)shards) != VDB_OK)) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: shardsNum must be 1..64");
        rc = -1;
    }
    if (rc == 0 && desc && vdb_schema_set_description(s, desc) != VDB_OK) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: %s", vdb_errmsg(NULL));
        rc = -1;
    }
    if (rc) {
        vdb_schema_free(s);
        return NULL;
    }
    return s;
}

static void kv(json_t *arr, const char *key, const char *fmt, unsigned v)
{
    char buf[32];
    snprintf(buf, sizeof buf, fmt, v);
    json_t *o = json_object();
    json_object_set_new(o, "key", json_string(key));
    json_object_set_new(o, "value", json_string(buf));
    json_array_append_new(arr, o);
}

json_t *srv_schema_describe(srv_ctx *ctx, const char *name, const vdb_schema *s)
{
    json_t *fields = json_array(), *indexes = json_array();
    int auto_id = 0;
    for (size_t i = 0; i < vdb_schema_field_count(s); i++) {
        vdb_field_def d = {.struct_size = sizeof d};
        if (vdb_schema_field(s, i, &d) != VDB_OK)
            continue;
        json_t *f = json_object();
        json_object_set_new(f, "name", json_string(d.name));
        json_object_set_new(f, "id", json_integer(100 + (json_int_t)i));
        json_object_set_new(f, "type", json_string(srv_type_name(d.type)));
        json_object_set_new(f, "description", json_string(d.description ? d.description : ""));
        json_object_set_new(f, "primaryKey", json_boolean(d.is_primary));
        json_object_set_new(f, "autoId", json_boolean(d.auto_id));
        json_object_set_new(f, "partitionKey", json_boolean(d.is_partition_key));
        json_object_set_new(f, "clusteringKey", json_false());
        json_object_set_new(f, "nullable", json_boolean(d.nullable));
        if (d.type == VDB_TYPE_ARRAY)
            json_object_set_new(f, "elementType", json_string(srv_type_name(d.element_type)));
        if (d.default_json) {
            json_t *dv = json_loads(d.default_json, JSON_DECODE_ANY, NULL);
            if (dv)
                json_object_set_new(f, "defaultValue", dv);
        }
        json_t *params = json_array();
        if (d.dim)
            kv(params, "dim", "%u", d.dim);
        if (d.max_length)
            kv(params, "max_length", "%u", d.max_length);
        if (d.max_capacity)
            kv(params, "max_capacity", "%u", d.max_capacity);
        if (vdb_type_is_any_vector(d.type)) {
            json_t *m = json_object();
            json_object_set_new(m, "key", json_string("metric_type"));
            json_object_set_new(m, "value", json_string(vdb_metric_name(d.metric)));
            json_array_append_new(params, m);
        }
        if (json_array_size(params))
            json_object_set_new(f, "params", params);
        else
            json_decref(params);
        json_array_append_new(fields, f);
        if (d.is_primary)
            auto_id = d.auto_id;
        srv_index_info *ix = NULL;
        size_t nix = 0;
        srv_status ie;
        if (srv_op_list_indexes(ctx, name, NULL, d.name, &ix, &nix, &ie) == 0 && nix) {
            json_t *x = json_object();
            json_object_set_new(x, "fieldName", json_string(d.name));
            json_object_set_new(x, "indexName", json_string(ix[0].name));
            json_object_set_new(x, "metricType", json_string(vdb_type_is_any_vector(d.type)
                                                                 ? vdb_metric_name(d.metric)
                                                                 : ""));
            json_array_append_new(indexes, x);
        }
        free(ix);
    }
    vdb_names *parts = NULL;
    size_t nparts = 1;
    if (vdb_list_partitions(ctx->db, name, &parts) == VDB_OK) {
        nparts = parts->count;
        vdb_names_free(parts);
    }
    json_t *o = json_object();
    /* not an alias; the name within its database */
    json_object_set_new(o, "collectionName", json_string(srv_bare_name(vdb_schema_name(s))));
    json_object_set_new(o, "collectionID", json_integer(0));
    json_object_set_new(o, "description", json_string(""));
    json_object_set_new(o, "autoId", json_boolean(auto_id));
    json_object_set_new(o, "fields", fields);
    json_object_set_new(o, "functions", json_array());
    json_object_set_new(o, "indexes", indexes);
    json_t *aliases = json_array();
    vdb_names *al;
    if (vdb_list_aliases(ctx->db, name, &al) == VDB_OK) {
        for (size_t i = 0; i < al->count; i++)
            json_array_append_new(aliases, json_string(srv_bare_name(al->names[i])));
        vdb_names_free(al);
    }
    json_object_set_new(o, "aliases", aliases);
    json_object_set_new(o, "load", json_string("LoadStateLoaded"));
    json_object_set_new(o, "consistencyLevel", json_string("Strong"));
    json_object_set_new(o, "enableDynamicField", json_boolean(vdb_schema_dynamic(s)));
    json_object_set_new(o, "partitionsNum", json_integer((json_int_t)nparts));
    json_object_set_new(o, "shardsNum", json_integer(vdb_schema_shards(s)));
    json_t *props = json_array();
    vdb_names *pk, *pv;
    if (vdb_describe_collection_properties(ctx->db, name, &pk, &pv) == VDB_OK) {
        for (size_t i = 0; i < pk->count; i++) {
            json_t *kv = json_object();
            json_object_set_new(kv, "key", json_string(pk->names[i]));
            json_object_set_new(kv, "value", json_string(pv->names[i]));
            json_array_append_new(props, kv);
        }
        vdb_names_free(pk);
        vdb_names_free(pv);
    }
    json_object_set_new(o, "properties", props);
    return o;
}

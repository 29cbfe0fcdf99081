/* vdb-server — /v2/vectordb/collections/...: create, describe, list, has, drop, stats, load,
 * rename, truncate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"

/* collection properties of a request */
enum { MAX_PROPS = 64 };
typedef struct props_in {
    const char *keys[MAX_PROPS], *vals[MAX_PROPS];
    char bufs[MAX_PROPS][64];
    size_t n;
} props_in;

/* Builds the indexes a create request lists; vector AUTOINDEX/FLAT is what exact search is. */
static json_t *create_indexes(srv_ctx *ctx, const char *name, json_t *req, int quick)
{
    json_t *idx = json_object_get(req, "indexParams");
    srv_coll c;
    json_t *err = srv_coll_open(ctx, name, &c);
    if (err)
        return err;
    srv_status st;
    int rc = 0;
    if (quick && !json_array_size(idx)) {
        /* Milvus's quick form indexes the vector field (AUTOINDEX) */
        const char *vec = "vector", *v;
        json_t *e = NULL;
        if (srv_req_str(req, "vectorFieldName", 0, &v, &e) == 0 && v)
            vec = v;
        json_decref(e);
        rc = srv_op_create_index(ctx, name, &c, vec, NULL, "AUTOINDEX", NULL, NULL, &st);
    } else if (idx && !json_is_array(idx)) {
        srv_coll_free(&c);
        return srv_err(MV_INCORRECT_FORMAT, "can only accept json format request, error: "
                                            "'indexParams' must be an array");
    }
    size_t i;
    json_t *e;
    json_array_foreach(idx, i, e) {
        const char *field, *type = NULL, *metric = NULL, *iname = NULL;
        json_t *params;
        if (rc || (quick && !json_array_size(idx)))
            break;
        if (!json_is_object(e)) {
            err = srv_err(MV_INCORRECT_FORMAT, "can only accept json format request, error: "
                                               "each of indexParams must be an object");
            break;
        }
        if (srv_req_str(e, "fieldName", 1, &field, &err) ||
            srv_req_str(e, "indexType", 0, &type, &err) ||
            srv_req_str(e, "metricType", 0, &metric, &err) ||
            srv_req_str(e, "indexName", 0, &iname, &err) ||
            srv_req_obj(e, "params", "indexParams[].params", &params, &err))
            break;
        rc = srv_op_create_index(ctx, name, &c, field, iname, type, metric, params, &st);
    }
    srv_coll_free(&c);
    if (err)
        return err;
    return rc ? srv_status_json(&st) : NULL;
}

static json_t *props_from_json(json_t *props, props_in *p);

json_t *srv_collections_create(srv_ctx *ctx, json_t *req)
{
    const char *name;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &name, &err))
        return err;
    /* Milvus's "properties" ({"collection.ttl.seconds": 60}): set with the create */
    json_t *pj = json_object_get(req, "properties");
    props_in *p = NULL;
    vdb_create_opts opts = {.struct_size = sizeof opts};
    if (pj && !json_is_null(pj) && !(json_is_object(pj) && !json_object_size(pj))) {
        if (!(p = malloc(sizeof *p)))
            return srv_err(MV_UNEXPECTED, "out of memory");
        if ((err = props_from_json(pj, p))) {
            free(p);
            return err;
        }
        opts.property_keys = p->keys;
        opts.property_values = p->vals;
        opts.n_properties = p->n;
    }
    vdb_schema *s = srv_schema_from_request(req, name, &err);
    if (!s) {
        free(p);
        return err;
    }
    int quick = !json_object_get(req, "schema") || json_is_null(json_object_get(req, "schema"));
    vdb_status st = vdb_create_collection_opts(ctx->db, s, &opts);
    free(p);
    vdb_schema_free(s);
    if (st != VDB_OK)
        return srv_vdb_err(ctx, st, NULL, 0);
    err = create_indexes(ctx, name, req, quick);
    if (err) { /* all or nothing, as a failed call changes nothing */
        vdb_drop_collection(ctx->db, name);
        return err;
    }
    srv_log(SRV_LOG_INFO, "created collection '%s'", name);
    return srv_ok(NULL);
}

json_t *srv_collections_describe(srv_ctx *ctx, json_t *req)
{
    const char *name;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &name, &err))
        return err;
    vdb_schema *s;
    vdb_status st = vdb_describe_collection(ctx->db, name, &s);
    if (st != VDB_OK)
        return srv_vdb_err(ctx, st, name, 0);
    json_t *data = srv_schema_describe(ctx, name, s);
    vdb_schema_free(s);
    return srv_ok(data);
}

json_t *srv_collections_list(srv_ctx *ctx, json_t *req)
{
    vdb_names *names;
    vdb_status st = vdb_list_collections_in(ctx->db, srv_req_dbname(req), &names);
    if (st != VDB_OK)
        return srv_vdb_err(ctx, st, NULL, 0);
    json_t *a = json_array();
    for (size_t i = 0; i < names->count; i++)
        json_array_append_new(a, json_string(names->names[i]));
    vdb_names_free(names);
    return srv_ok(a);
}

json_t *srv_collections_has(srv_ctx *ctx, json_t *req)
{
    const char *name;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &name, &err))
        return err;
    int exists = 0;
    vdb_status st = vdb_has_collection(ctx->db, name, &exists);
    if (st != VDB_OK)
        return srv_vdb_err(ctx, st, NULL, 0);
    json_t *d = json_object();
    json_object_set_new(d, "has", json_boolean(exists));
    return srv_ok(d);
}

json_t *srv_collections_drop(srv_ctx *ctx, json_t *req)
{
    const char *name;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &name, &err))
        return err;
    srv_status st;
    return srv_op_drop_collection(ctx, name, &st) ? srv_status_json(&st) : srv_ok(NULL);
}

json_t *srv_collections_stats(srv_ctx *ctx, json_t *req)
{
    const char *name;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &name, &err))
        return err;
    vdb_stats s = {.struct_size = sizeof s};
    vdb_status st = vdb_collection_stats(ctx->db, name, &s);
    if (st != VDB_OK)
        return srv_vdb_err(ctx, st, name, 0);
    json_t *d = json_object();
    json_object_set_new(d, "rowCount", json_integer((json_int_t)s.row_count));
    return srv_ok(d);
}

/* load / release / refresh_load: every collection is always loaded; checks it exists. */
json_t *srv_collections_load(srv_ctx *ctx, json_t *req)
{
    const char *name;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &name, &err))
        return err;
    srv_status st;
    return srv_op_require_collection(ctx, name, &st) ? srv_status_json(&st) : srv_ok(NULL);
}

json_t *srv_collections_load_state(srv_ctx *ctx, json_t *req)
{
    json_t *r = srv_collections_load(ctx, req);
    if (json_integer_value(json_object_get(r, "code")) != MV_OK)
        return r;
    json_decref(r);
    json_t *d = json_object();
    json_object_set_new(d, "loadState", json_string("LoadStateLoaded"));
    json_object_set_new(d, "loadProgress", json_integer(100));
    return srv_ok(d);
}

json_t *srv_collections_rename(srv_ctx *ctx, json_t *req)
{
    const char *name, *to, *db = NULL;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &name, &err) ||
        srv_req_str(req, "newCollectionName", 1, &to, &err) ||
        srv_req_str(req, "newDbName", 0, &db, &err))
        return err;
    srv_status st;
    return srv_op_rename_collection(ctx, name, to, db, &st) ? srv_status_json(&st)
                                                            : srv_ok(NULL);
}

json_t *srv_collections_truncate(srv_ctx *ctx, json_t *req)
{
    const char *name;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &name, &err))
        return err;
    srv_status st;
    return srv_op_truncate_collection(ctx, name, &st) ? srv_status_json(&st) : srv_ok(NULL);
}

json_t *srv_collections_flush(srv_ctx *ctx, json_t *req)
{
    const char *name;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &name, &err))
        return err;
    vdb_status st = vdb_flush(ctx->db, name);
    return st == VDB_OK ? srv_ok(NULL) : srv_vdb_err(ctx, st, name, 0);
}

json_t *srv_collections_compact(srv_ctx *ctx, json_t *req)
{
    const char *name;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &name, &err))
        return err;
    vdb_status st = vdb_compact(ctx->db, name);
    if (st != VDB_OK)
        return srv_vdb_err(ctx, st, name, 0);
    json_t *d = json_object();
    json_object_set_new(d, "compactionID", json_integer(0)); /* done when this returns */
    return srv_ok(d);
}


/* {"collection.ttl.seconds": 60, ...}: a value is a string, number or boolean (Milvus takes
 * them as strings); NULL when they are fine, else the error to answer. */
static json_t *props_from_json(json_t *props, props_in *p)
{
    p->n = 0;
    if (!json_is_object(props) || !json_object_size(props))
        return srv_err(MV_PARAMETER_INVALID, "invalid parameter: properties must be a "
                       "non-empty object");
    if (json_object_size(props) > MAX_PROPS)
        return srv_err(MV_PARAMETER_INVALID, "invalid parameter: at most %d properties",
                       MAX_PROPS);
    const char *k;
    json_t *v;
    json_object_foreach(props, k, v) {
        size_t n = p->n;
        p->keys[n] = k;
        if (json_is_string(v))
            p->vals[n] = json_string_value(v);
        else if (json_is_boolean(v))
            p->vals[n] = json_is_true(v) ? "true" : "false";
        else if (json_is_number(v)) { /* a real stays one: the check refuses "1.5" */
            if (json_is_integer(v))
                snprintf(p->bufs[n], sizeof p->bufs[n], "%lld",
                         (long long)json_integer_value(v));
            else
                snprintf(p->bufs[n], sizeof p->bufs[n], "%.17g", json_real_value(v));
            p->vals[n] = p->bufs[n];
        } else {
            return srv_err(MV_PARAMETER_INVALID, "invalid parameter: property '%s' must be a "
                           "string, number or boolean", k);
        }
        p->n++;
    }
    return NULL;
}

/* alter_properties {"properties": {"collection.ttl.seconds": 60, ...}} */
json_t *srv_collections_alter_properties(srv_ctx *ctx, json_t *req)
{
    const char *name;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &name, &err))
        return err;
    props_in p;
    if ((err = props_from_json(json_object_get(req, "properties"), &p)))
        return err;
    const char *const *keys = p.keys, *const *vals = p.vals;
    size_t n = p.n;
    srv_status st;
    return srv_op_alter_properties(ctx, name, keys, vals, n, &st) ? srv_status_json(&st)
                                                                  : srv_ok(NULL);
}

/* drop_properties {"propertyKeys": ["collection.ttl.seconds", ...]} */
json_t *srv_collections_drop_properties(srv_ctx *ctx, json_t *req)
{
    const char *name;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &name, &err))
        return err;
    json_t *a = json_object_get(req, "propertyKeys");
    if (!json_is_array(a) || !json_array_size(a) || json_array_size(a) > MAX_PROPS)
        return srv_err(MV_PARAMETER_INVALID, "invalid parameter: propertyKeys must be a list "
                       "of 1..%d strings", MAX_PROPS);
    const char *keys[MAX_PROPS];
    size_t n = json_array_size(a);
    for (size_t i = 0; i < n; i++)
        if (!(keys[i] = json_string_value(json_array_get(a, i))))
            return srv_err(MV_PARAMETER_INVALID, "invalid parameter: propertyKeys[%zu] is not "
                           "a string", i);
    srv_status st;
    return srv_op_alter_properties(ctx, name, keys, NULL, n, &st) ? srv_status_json(&st)
                                                                  : srv_ok(NULL);
}

/* fields/add {"collectionName", "schema": {"fieldName", "dataType", "nullable",
 * "defaultValue", "elementDataType", "elementTypeParams": {...}}} (Milvus 2.6) */
json_t *srv_collections_add_field(srv_ctx *ctx, json_t *req)
{
    const char *name;
    json_t *err = NULL, *f;
    if (srv_req_str(req, "collectionName", 1, &name, &err) ||
        srv_req_obj(req, "schema", NULL, &f, &err))
        return err;
    if (!f)
        return srv_err(MV_MISSING_REQUIRED, "missing required parameters, error: 'schema' "
                       "must give the field to add");
    vdb_field_def d;
    char *dflt = NULL;
    if (srv_field_from_json(req, f, &d, &dflt, &err))
        return err;
    srv_status st;
    int rc = srv_op_add_field(ctx, name, &d, &st);
    free(dflt);
    free((char *)d.analyzer_params);
    return rc ? srv_status_json(&st) : srv_ok(NULL);
}

/* vdb-server — /v2/vectordb/indexes/...: create, describe, list, drop (an index is named after
 * its field: libvdb keeps one index per field). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* The field an indexName names: the field itself. */
static const char *index_field(json_t *req, json_t **err)
{
    const char *name;
    if (srv_req_str(req, "indexName", 1, &name, err))
        return NULL;
    return name;
}

static json_t *create_one(srv_ctx *ctx, const char *coll, const srv_coll *c, json_t *e)
{
    const char *field, *type = NULL, *metric = NULL, *iname = NULL;
    json_t *err = NULL;
    if (!json_is_object(e))
        return srv_err(MV_INCORRECT_FORMAT, "can only accept json format request, error: each "
                                            "of indexParams must be an object");
    if (srv_req_str(e, "fieldName", 1, &field, &err) || srv_req_str(e, "indexType", 0, &type,
        &err) ||
        srv_req_str(e, "metricType", 0, &metric, &err) ||
        srv_req_str(e, "indexName", 0, &iname, &err))
        return err;
    int fi = srv_coll_find(c, field);
    if (fi < 0)
        return srv_err(MV_FIELD_NOT_FOUND, "field not found[field=%s]", field);
    json_t *params = json_object_get(e, "params");
    if (!type && json_is_string(json_object_get(params, "index_type")))
        type = json_string_value(json_object_get(params, "index_type"));
    const vdb_field_def *f = &c->fields[fi];
    vdb_metric m;
    if (f->type == VDB_TYPE_FLOAT_VECTOR && metric && *metric &&
        (srv_metric_from_name(metric, &m) != 0 || m != f->metric))
        return srv_err(MV_PARAMETER_INVALID, "invalid parameter: metric type not match: the "
                       "index asks for %s, field '%s' is %s (the metric is part of the schema)",
                       metric, field, vdb_metric_name(f->metric));
    if (iname && strcmp(iname, field))
        srv_log(SRV_LOG_DEBUG, "index '%s' on '%s.%s' is named after its field", iname, coll,
                field);
    /* the other params go through as "key=value,..." */
    char pbuf[1024];
    size_t len = 0;
    const char *key;
    json_t *v;
    pbuf[0] = 0;
    json_object_foreach(params, key, v) {
        if (!strcmp(key, "index_type") || !strcmp(key, "metric_type") || len >= sizeof pbuf)
            continue;
        if (json_is_integer(v))
            len += (size_t)snprintf(pbuf + len, sizeof pbuf - len, "%s%s=%lld", len ? "," : "",
                                    key, (long long)json_integer_value(v));
        else if (json_is_string(v))
            len += (size_t)snprintf(pbuf + len, sizeof pbuf - len, "%s%s=%s", len ? "," : "",
                                    key, json_string_value(v));
        else if (json_is_real(v))
            len += (size_t)snprintf(pbuf + len, sizeof pbuf - len, "%s%s=%g", len ? "," : "",
                                    key, json_real_value(v));
    }
    vdb_status st = vdb_create_index(ctx->db, coll, field, type ? type : "AUTOINDEX",
                                     len ? pbuf : NULL);
    if (st == VDB_EUNSUPPORTED)
        return srv_err(MV_INDEX_NOT_SUPPORTED, "index type not supported: %s",
                       vdb_errmsg(ctx->db));
    return st == VDB_OK ? NULL : srv_vdb_err(ctx, st, coll, MV_FIELD_NOT_FOUND);
}

json_t *srv_indexes_create(srv_ctx *ctx, json_t *req)
{
    const char *coll;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &coll, &err))
        return err;
    json_t *idx = json_object_get(req, "indexParams");
    if (!json_is_array(idx) || !json_array_size(idx))
        return srv_err(MV_MISSING_REQUIRED, "missing required parameters, error: 'indexParams' "
                                            "must list at least one index");
    srv_coll c;
    if ((err = srv_coll_open(ctx, coll, &c)))
        return err;
    size_t i;
    json_t *e;
    json_array_foreach(idx, i, e) {
        if ((err = create_one(ctx, coll, &c, e)))
            break;
    }
    srv_coll_free(&c);
    return err ? err : srv_ok(NULL);
}

json_t *srv_indexes_describe(srv_ctx *ctx, json_t *req)
{
    const char *coll, *field;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &coll, &err) || !(field = index_field(req, &err)))
        return err;
    srv_coll c;
    if ((err = srv_coll_open(ctx, coll, &c)))
        return err;
    const char *type;
    vdb_stats stats = {.struct_size = sizeof stats};
    vdb_status st = vdb_describe_index(ctx->db, coll, field, &type);
    if (st != VDB_OK) {
        err = st == VDB_ENOTFOUND
                  ? srv_err(MV_INDEX_NOT_FOUND, "index not found[indexName=%s]", field)
                  : srv_vdb_err(ctx, st, coll, MV_INDEX_NOT_FOUND);
        srv_coll_free(&c);
        return err;
    }
    /* vector indexes build in the background: the rows of sealed segments with the index
     * built, and the state of the builds (a failure keeps its message) */
    uint64_t indexed = 0, total = 0;
    vdb_index_progress(ctx->db, coll, field, &indexed, &total);
    vdb_status ws = vdb_wait_for_index(ctx->db, coll, field, 0);
    char reason[512] = "";
    if (ws != VDB_OK && ws != VDB_ETIMEDOUT)
        snprintf(reason, sizeof reason, "%s", vdb_errmsg(ctx->db));
    vdb_collection_stats(ctx->db, coll, &stats);
    int fi = srv_coll_find(&c, field);
    const char *metric = fi >= 0 && c.fields[fi].type == VDB_TYPE_FLOAT_VECTOR
                             ? vdb_metric_name(c.fields[fi].metric)
                             : "";
    json_t *o = json_object();
    json_object_set_new(o, "fieldName", json_string(field));
    json_object_set_new(o, "indexName", json_string(field));
    json_object_set_new(o, "indexType", json_string(type));
    json_object_set_new(o, "metricType", json_string(metric));
    json_object_set_new(o, "indexState", json_string(ws == VDB_OK          ? "Finished"
                                                     : ws == VDB_ETIMEDOUT ? "InProgress"
                                                                           : "Failed"));
    json_object_set_new(o, "totalRows", json_integer((json_int_t)total));
    json_object_set_new(o, "indexedRows", json_integer((json_int_t)indexed));
    json_object_set_new(o, "pendingRows", json_integer((json_int_t)(total - indexed)));
    json_object_set_new(o, "failReason", json_string(reason));
    srv_coll_free(&c);
    json_t *a = json_array();
    json_array_append_new(a, o);
    return srv_ok(a);
}

json_t *srv_indexes_list(srv_ctx *ctx, json_t *req)
{
    const char *coll;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &coll, &err))
        return err;
    srv_coll c;
    if ((err = srv_coll_open(ctx, coll, &c)))
        return err;
    json_t *a = json_array();
    for (size_t i = 0; i < c.nfields; i++) {
        const char *type;
        if (vdb_describe_index(ctx->db, coll, c.fields[i].name, &type) == VDB_OK)
            json_array_append_new(a, json_string(c.fields[i].name));
    }
    srv_coll_free(&c);
    return srv_ok(a);
}

json_t *srv_indexes_drop(srv_ctx *ctx, json_t *req)
{
    const char *coll, *field;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &coll, &err) || !(field = index_field(req, &err)))
        return err;
    vdb_status st = vdb_drop_index(ctx->db, coll, field);
    if (st == VDB_ENOTFOUND) {
        int exists = 1;
        vdb_has_collection(ctx->db, coll, &exists);
        if (!exists)
            return srv_err(MV_COLLECTION_NOT_FOUND, "collection not found[collection=%s]", coll);
        return srv_err(MV_INDEX_NOT_FOUND, "index not found[indexName=%s]", field);
    }
    return st == VDB_OK ? srv_ok(NULL) : srv_vdb_err(ctx, st, coll, MV_INDEX_NOT_FOUND);
}

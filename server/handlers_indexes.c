/* vdb-server — /v2/vectordb/indexes/...: create, describe, list, drop, by index name (an
 * index's name is its field's unless indexName gave another; one index per field). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static json_t *create_one(srv_ctx *ctx, const char *coll, const srv_coll *c, json_t *e)
{
    const char *field, *type = NULL, *metric = NULL, *iname = NULL;
    json_t *err = NULL;
    if (!json_is_object(e))
        return srv_err(MV_INCORRECT_FORMAT, "can only accept json format request, error: each "
                                            "of indexParams must be an object");
    if (srv_req_str(e, "fieldName", 1, &field, &err) || srv_req_str(e, "indexType", 0, &type, &err) ||
        srv_req_str(e, "metricType", 0, &metric, &err) ||
        srv_req_str(e, "indexName", 0, &iname, &err))
        return err;
    json_t *params;
    if (srv_req_obj(e, "params", "indexParams[].params", &params, &err))
        return err;
    srv_status st;
    if (srv_op_create_index(ctx, coll, c, field, iname, type, metric, params, &st))
        return srv_status_json(&st);
    return NULL;
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

static json_t *describe_json(const srv_index_info *info)
{
    json_t *o = json_object();
    json_object_set_new(o, "fieldName", json_string(info->field));
    json_object_set_new(o, "indexName", json_string(info->name));
    json_object_set_new(o, "indexType", json_string(info->type));
    json_object_set_new(o, "metricType", json_string(info->metric));
    json_object_set_new(o, "indexState",
                        json_string(info->state == SRV_INDEX_FINISHED      ? "Finished"
                                    : info->state == SRV_INDEX_IN_PROGRESS ? "InProgress"
                                                                           : "Failed"));
    json_object_set_new(o, "totalRows", json_integer((json_int_t)info->total_rows));
    json_object_set_new(o, "indexedRows", json_integer((json_int_t)info->indexed_rows));
    json_object_set_new(o, "pendingRows",
                        json_integer((json_int_t)(info->total_rows - info->indexed_rows)));
    json_object_set_new(o, "failReason", json_string(info->reason));
    return o;
}

json_t *srv_indexes_describe(srv_ctx *ctx, json_t *req)
{
    const char *coll, *name;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &coll, &err) ||
        srv_req_str(req, "indexName", 1, &name, &err))
        return err;
    srv_index_info *info;
    size_t n;
    srv_status st;
    if (srv_op_list_indexes(ctx, coll, name, NULL, &info, &n, &st))
        return srv_status_json(&st);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, describe_json(&info[i]));
    free(info);
    return srv_ok(a);
}

/* The names of the indexes (of fieldName's only, when given). */
json_t *srv_indexes_list(srv_ctx *ctx, json_t *req)
{
    const char *coll, *field = NULL;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &coll, &err) ||
        srv_req_str(req, "fieldName", 0, &field, &err))
        return err;
    srv_index_info *info;
    size_t n;
    srv_status st;
    if (srv_op_list_indexes(ctx, coll, NULL, field, &info, &n, &st))
        return srv_status_json(&st);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(info[i].name));
    free(info);
    return srv_ok(a);
}

json_t *srv_indexes_drop(srv_ctx *ctx, json_t *req)
{
    const char *coll, *name;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &coll, &err) ||
        srv_req_str(req, "indexName", 1, &name, &err))
        return err;
    srv_status st;
    return srv_op_drop_index(ctx, coll, name, NULL, &st) ? srv_status_json(&st) : srv_ok(NULL);
}

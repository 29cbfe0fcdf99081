/* vdb-server — gRPC handlers for indexes: CreateIndex, DescribeIndex, DropIndex, GetIndexState,
 * GetIndexBuildProgress, by index_name (the field's name unless CreateIndex gave another; one
 * index per field). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_pb.h"

typedef Milvus__Proto__Milvus__IndexRequest index_req;

/* extra_params: index_type, metric_type, params (a JSON object as text) and, from older
 * clients, the index parameters as keys of their own. */
static int create_index(srv_rpc *call, Milvus__Proto__Milvus__CreateIndexRequest *req,
                        srv_status *err)
{
    srv_coll c;
    if (srv_coll_load(call->ctx, req->collection_name, &c, err))
        return -1;
    const char *field = req->field_name && *req->field_name ? req->field_name : NULL;
    int rc = -1;
    json_t *params = NULL;
    if (!field) {
        srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: field_name should not be empty");
        goto done;
    }
    const char *type = srv_kv_get(req->extra_params, req->n_extra_params, "index_type");
    const char *metric = srv_kv_get(req->extra_params, req->n_extra_params, "metric_type");
    const char *ptext = srv_kv_get(req->extra_params, req->n_extra_params, "params");
    if (ptext && *ptext) {
        json_error_t je;
        params = json_loads(ptext, 0, &je);
        if (!json_is_object(params)) {
            srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: index params must be a JSON "
                     "object: %s", ptext);
            goto done;
        }
    } else {
        params = json_object();
    }
    for (size_t i = 0; i < req->n_extra_params; i++) {
        const char *k = req->extra_params[i]->key, *v = req->extra_params[i]->value;
        if (!k || !strcmp(k, "index_type") || !strcmp(k, "metric_type") ||
            !strcmp(k, "params") || json_object_get(params, k))
            continue;
        json_object_set_new(params, k, json_string(v ? v : ""));
    }
    rc = srv_op_create_index(call->ctx, req->collection_name, &c, field, req->index_name, type,
                             metric, params, err);
    if (rc == 0)
        rc = srv_rpc_reply(call, &srv_pb_ok()->base, err);
done:
    json_decref(params);
    srv_coll_free(&c);
    return rc;
}
HANDLER(srv_rpc_create_index, Milvus__Proto__Milvus__CreateIndexRequest,
        milvus__proto__milvus__create_index_request, create_index)

static int describe_index(srv_rpc *call, index_req *req, srv_status *err)
{
    srv_index_info *info = NULL;
    size_t n = 0;
    int rc = -1;
    if (srv_op_list_indexes(call->ctx, req->collection_name, req->index_name, req->field_name,
                            &info, &n, err))
        return -1;
    Milvus__Proto__Milvus__IndexDescription **descs =
        srv_arena_alloc(&call->arena, (n + 1) * sizeof *descs);
    if (!descs) {
        srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        Milvus__Proto__Milvus__IndexDescription *d = srv_arena_alloc(&call->arena, sizeof *d);
        pb_kv *kv = srv_arena_alloc(&call->arena, 2 * sizeof *kv);
        pb_kv **kvs = srv_arena_alloc(&call->arena, 2 * sizeof *kvs);
        char *reason = srv_arena_strndup(&call->arena, info[i].reason, strlen(info[i].reason));
        char *name = srv_arena_strndup(&call->arena, info[i].name, strlen(info[i].name));
        char *field = srv_arena_strndup(&call->arena, info[i].field, strlen(info[i].field));
        if (!d || !kv || !kvs || !reason || !name || !field) {
            srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
            goto done;
        }
        milvus__proto__milvus__index_description__init(d);
        milvus__proto__common__key_value_pair__init(&kv[0]);
        milvus__proto__common__key_value_pair__init(&kv[1]);
        kv[0].key = (char *)"index_type";
        kv[0].value = (char *)info[i].type;
        kv[1].key = (char *)"metric_type";
        kv[1].value = (char *)info[i].metric;
        kvs[0] = &kv[0];
        kvs[1] = &kv[1];
        d->index_name = name;
        d->field_name = field;
        d->indexid = (int64_t)i + 1;
        d->params = kvs;
        d->n_params = *info[i].metric ? 2 : 1;
        d->indexed_rows = (int64_t)info[i].indexed_rows;
        d->total_rows = (int64_t)info[i].total_rows;
        d->pending_index_rows = (int64_t)(info[i].total_rows - info[i].indexed_rows);
        d->state = (Milvus__Proto__Common__IndexState)info[i].state;
        d->index_state_fail_reason = reason;
        descs[i] = d;
    }
    if (!n) {
        const char *f = req->field_name && *req->field_name ? req->field_name : NULL;
        srv_fail(err, MV_INDEX_NOT_FOUND, "index not found[collection=%s]%s%s%s",
                 req->collection_name, f ? "[fieldName=" : "", f ? f : "", f ? "]" : "");
        goto done;
    }
    Milvus__Proto__Milvus__DescribeIndexResponse r =
        MILVUS__PROTO__MILVUS__DESCRIBE_INDEX_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.index_descriptions = descs;
    r.n_index_descriptions = n;
    rc = srv_rpc_reply(call, &r.base, err);
done:
    free(info);
    return rc;
}
HANDLER(srv_rpc_describe_index, index_req, milvus__proto__milvus__index_request, describe_index)

/* The one index a state/progress request is about (the first when it names none). */
static int one_index(srv_rpc *call, index_req *req, srv_index_info *out, srv_status *err)
{
    srv_index_info *info;
    size_t n;
    if (srv_op_list_indexes(call->ctx, req->collection_name, req->index_name, req->field_name,
                            &info, &n, err))
        return -1;
    if (n)
        *out = info[0];
    free(info);
    if (!n)
        return srv_fail(err, MV_INDEX_NOT_FOUND, "index not found[collection=%s]",
                        req->collection_name);
    return 0;
}

static int get_index_state(srv_rpc *call, index_req *req, srv_status *err)
{
    srv_index_info info;
    int rc = one_index(call, req, &info, err);
    if (rc == 0) {
        Milvus__Proto__Milvus__GetIndexStateResponse r =
            MILVUS__PROTO__MILVUS__GET_INDEX_STATE_RESPONSE__INIT;
        r.status = srv_pb_ok();
        r.state = (Milvus__Proto__Common__IndexState)info.state;
        r.fail_reason = info.reason;
        rc = srv_rpc_reply(call, &r.base, err);
    }
    return rc;
}
HANDLER(srv_rpc_get_index_state, index_req, milvus__proto__milvus__index_request,
        get_index_state)

static int get_index_build_progress(srv_rpc *call, index_req *req, srv_status *err)
{
    srv_index_info info;
    int rc = one_index(call, req, &info, err);
    if (rc == 0) {
        Milvus__Proto__Milvus__GetIndexBuildProgressResponse r =
            MILVUS__PROTO__MILVUS__GET_INDEX_BUILD_PROGRESS_RESPONSE__INIT;
        r.status = srv_pb_ok();
        r.indexed_rows = (int64_t)info.indexed_rows;
        r.total_rows = (int64_t)info.total_rows;
        rc = srv_rpc_reply(call, &r.base, err);
    }
    return rc;
}
HANDLER(srv_rpc_get_index_build_progress, index_req, milvus__proto__milvus__index_request,
        get_index_build_progress)

static int drop_index(srv_rpc *call, index_req *req, srv_status *err)
{
    const char *name = req->index_name && *req->index_name ? req->index_name : NULL;
    const char *field = req->field_name && *req->field_name ? req->field_name : NULL;
    if (!req->collection_name || !*req->collection_name || (!name && !field))
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: collection name and "
                        "index (or field) name should not be empty");
    if (srv_op_drop_index(call->ctx, req->collection_name, name, field, err))
        return -1;
    return srv_rpc_reply(call, &srv_pb_ok()->base, err);
}
HANDLER(srv_rpc_drop_index, index_req, milvus__proto__milvus__index_request, drop_index)

/* vdb-server — gRPC handlers for indexes: CreateIndex, DescribeIndex, DropIndex, GetIndexState,
 * GetIndexBuildProgress (an index is named after its field: libvdb keeps one per field). */
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
    if (req->index_name && *req->index_name && strcmp(req->index_name, field))
        srv_log(SRV_LOG_DEBUG, "index '%s' on '%s.%s' is named after its field", req->index_name,
                req->collection_name, field);
    rc = srv_op_create_index(call->ctx, req->collection_name, &c, field, type, metric, params,
                             err);
    if (rc == 0)
        rc = srv_rpc_reply(call, &srv_pb_ok()->base, err);
done:
    json_decref(params);
    srv_coll_free(&c);
    return rc;
}
HANDLER(srv_rpc_create_index, Milvus__Proto__Milvus__CreateIndexRequest,
        milvus__proto__milvus__create_index_request, create_index)

/* The field an index request names: field_name, else index_name (the field's name). */
static const char *named_field(const index_req *req)
{
    if (req->field_name && *req->field_name)
        return req->field_name;
    if (req->index_name && *req->index_name)
        return req->index_name;
    return NULL;
}

static int describe_index(srv_rpc *call, index_req *req, srv_status *err)
{
    srv_coll c;
    if (srv_coll_load(call->ctx, req->collection_name, &c, err))
        return -1;
    const char *want = named_field(req);
    Milvus__Proto__Milvus__IndexDescription **descs =
        srv_arena_alloc(&call->arena, (c.nfields + 1) * sizeof *descs);
    size_t n = 0;
    int rc = -1;
    if (!descs) {
        srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
        goto done;
    }
    for (size_t i = 0; i < c.nfields; i++) {
        const char *field = c.fields[i].name;
        if (want && strcmp(want, field))
            continue;
        srv_index_info info;
        srv_status e;
        if (srv_op_describe_index(call->ctx, req->collection_name, &c, field, &info, &e)) {
            if (e.code == MV_INDEX_NOT_FOUND)
                continue;
            *err = e;
            goto done;
        }
        Milvus__Proto__Milvus__IndexDescription *d = srv_arena_alloc(&call->arena, sizeof *d);
        pb_kv *kv = srv_arena_alloc(&call->arena, 2 * sizeof *kv);
        pb_kv **kvs = srv_arena_alloc(&call->arena, 2 * sizeof *kvs);
        char *reason = srv_arena_strndup(&call->arena, info.reason, strlen(info.reason));
        if (!d || !kv || !kvs || !reason) {
            srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
            goto done;
        }
        milvus__proto__milvus__index_description__init(d);
        milvus__proto__common__key_value_pair__init(&kv[0]);
        milvus__proto__common__key_value_pair__init(&kv[1]);
        kv[0].key = (char *)"index_type";
        kv[0].value = (char *)info.type;
        kv[1].key = (char *)"metric_type";
        kv[1].value = (char *)info.metric;
        kvs[0] = &kv[0];
        kvs[1] = &kv[1];
        d->index_name = (char *)field;
        d->field_name = (char *)field;
        d->indexid = (int64_t)i + 1;
        d->params = kvs;
        d->n_params = *info.metric ? 2 : 1;
        d->indexed_rows = (int64_t)info.indexed_rows;
        d->total_rows = (int64_t)info.total_rows;
        d->pending_index_rows = (int64_t)(info.total_rows - info.indexed_rows);
        d->state = (Milvus__Proto__Common__IndexState)info.state;
        d->index_state_fail_reason = reason;
        descs[n++] = d;
    }
    if (!n) {
        srv_fail(err, MV_INDEX_NOT_FOUND, "index not found[collection=%s]%s%s",
                 req->collection_name, want ? "[indexName=" : "", want ? want : "");
        if (want)
            strncat(err->msg, "]", sizeof err->msg - strlen(err->msg) - 1);
        goto done;
    }
    Milvus__Proto__Milvus__DescribeIndexResponse r =
        MILVUS__PROTO__MILVUS__DESCRIBE_INDEX_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.index_descriptions = descs;
    r.n_index_descriptions = n;
    rc = srv_rpc_reply(call, &r.base, err);
done:
    srv_coll_free(&c);
    return rc;
}
HANDLER(srv_rpc_describe_index, index_req, milvus__proto__milvus__index_request, describe_index)

/* The one index a state/progress request is about (the only one when it names none). */
static int one_index(srv_rpc *call, index_req *req, srv_coll *c, srv_index_info *info,
                     srv_status *err)
{
    if (srv_coll_load(call->ctx, req->collection_name, c, err))
        return -1;
    const char *want = named_field(req);
    for (size_t i = 0; i < c->nfields; i++) {
        if (want && strcmp(want, c->fields[i].name))
            continue;
        srv_status e;
        if (srv_op_describe_index(call->ctx, req->collection_name, c, c->fields[i].name, info,
                                  &e) == 0)
            return 0;
        if (e.code != MV_INDEX_NOT_FOUND) {
            *err = e;
            return -1;
        }
    }
    return srv_fail(err, MV_INDEX_NOT_FOUND, "index not found[collection=%s]",
                    req->collection_name);
}

static int get_index_state(srv_rpc *call, index_req *req, srv_status *err)
{
    srv_coll c;
    srv_index_info info;
    int rc = one_index(call, req, &c, &info, err);
    if (rc == 0) {
        Milvus__Proto__Milvus__GetIndexStateResponse r =
            MILVUS__PROTO__MILVUS__GET_INDEX_STATE_RESPONSE__INIT;
        r.status = srv_pb_ok();
        r.state = (Milvus__Proto__Common__IndexState)info.state;
        r.fail_reason = info.reason;
        rc = srv_rpc_reply(call, &r.base, err);
    }
    srv_coll_free(&c);
    return rc;
}
HANDLER(srv_rpc_get_index_state, index_req, milvus__proto__milvus__index_request,
        get_index_state)

static int get_index_build_progress(srv_rpc *call, index_req *req, srv_status *err)
{
    srv_coll c;
    srv_index_info info;
    int rc = one_index(call, req, &c, &info, err);
    if (rc == 0) {
        Milvus__Proto__Milvus__GetIndexBuildProgressResponse r =
            MILVUS__PROTO__MILVUS__GET_INDEX_BUILD_PROGRESS_RESPONSE__INIT;
        r.status = srv_pb_ok();
        r.indexed_rows = (int64_t)info.indexed_rows;
        r.total_rows = (int64_t)info.total_rows;
        rc = srv_rpc_reply(call, &r.base, err);
    }
    srv_coll_free(&c);
    return rc;
}
HANDLER(srv_rpc_get_index_build_progress, index_req, milvus__proto__milvus__index_request,
        get_index_build_progress)

static int drop_index(srv_rpc *call, index_req *req, srv_status *err)
{
    const char *field = named_field(req);
    if (!req->collection_name || !*req->collection_name || !field)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: collection name and "
                        "field (or index) name should not be empty");
    if (srv_op_drop_index(call->ctx, req->collection_name, field, err))
        return -1;
    return srv_rpc_reply(call, &srv_pb_ok()->base, err);
}
HANDLER(srv_rpc_drop_index, index_req, milvus__proto__milvus__index_request, drop_index)

/* vdb-server — /v2/vectordb/entities/...: insert, upsert, delete, get, query, search. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"

/* partitionNames and consistencyLevel into ro (pointers into req; free *parts). */
static int read_opts(json_t *req, vdb_read_opts *ro, const char ***parts, json_t **err)
{
    size_t n;
    const char *level;
    *ro = (vdb_read_opts){.struct_size = sizeof *ro};
    *parts = NULL;
    if (srv_req_strs(req, "partitionNames", parts, &n, err) ||
        srv_req_str(req, "consistencyLevel", 0, &level, err))
        return -1;
    ro->partitions = n ? *parts : NULL;
    ro->n_partitions = n;
    srv_status st;
    if (srv_op_consistency(level, ro, &st)) {
        free(*parts);
        *parts = NULL;
        *err = srv_status_json(&st);
        return -1;
    }
    return 0;
}

static json_t *write_rows(srv_ctx *ctx, json_t *req, int upsert)
{
    const char *coll, *part;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &coll, &err) ||
        srv_req_str(req, "partitionName", 0, &part, &err))
        return err;
    json_t *data = json_object_get(req, "data");
    if (!data)
        return srv_err(MV_MISSING_REQUIRED, "missing required parameters, error: 'data' is "
                                            "required");
    srv_coll c;
    if ((err = srv_coll_open(ctx, coll, &c)))
        return err;
    vdb_batch *b = srv_rows_to_batch(&c, data, &err);
    if (!b) {
        srv_coll_free(&c);
        return err;
    }
    vdb_result *pks = NULL;
    srv_status st;
    int rc = srv_op_write(ctx, coll, part, b, upsert, &pks, &st);
    size_t n = vdb_batch_rows(b);
    vdb_batch_free(b);
    srv_coll_free(&c);
    if (rc)
        return srv_status_json(&st);
    json_t *ids = json_array();
    for (size_t r = 0; pks && vdb_result_groups(pks) && r < vdb_result_rows(pks, 0); r++)
        json_array_append_new(ids, srv_result_pk(pks, 0, r));
    vdb_result_free(pks);
    json_t *d = json_object();
    json_object_set_new(d, upsert ? "upsertCount" : "insertCount", json_integer((json_int_t)n));
    json_object_set_new(d, upsert ? "upsertIds" : "insertIds", ids);
    return srv_ok(d);
}

json_t *srv_entities_insert(srv_ctx *ctx, json_t *req)
{
    return write_rows(ctx, req, 0);
}

json_t *srv_entities_upsert(srv_ctx *ctx, json_t *req)
{
    return write_rows(ctx, req, 1);
}

json_t *srv_entities_delete(srv_ctx *ctx, json_t *req)
{
    const char *coll, *part, *filter;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &coll, &err) ||
        srv_req_str(req, "partitionName", 0, &part, &err) ||
        srv_req_str(req, "filter", 0, &filter, &err))
        return err;
    json_t *id = json_object_get(req, "id");
    uint64_t count = 0;
    srv_status st;
    int rc;
    if (filter) {
        rc = srv_op_delete(ctx, coll, part, filter, NULL, &count, &st);
    } else if (id) {
        srv_coll c;
        srv_pks pks;
        if ((err = srv_coll_open(ctx, coll, &c)))
            return err;
        rc = srv_pks_from_json(&c, id, &pks, &err);
        srv_coll_free(&c);
        if (rc)
            return err;
        rc = srv_op_delete(ctx, coll, part, NULL, &pks.list, &count, &st);
        srv_pks_free(&pks);
    } else {
        return srv_err(MV_MISSING_REQUIRED, "missing required parameters, error: 'filter' (or "
                                            "'id') is required");
    }
    if (rc)
        return srv_status_json(&st);
    json_t *d = json_object();
    json_object_set_new(d, "deleteCount", json_integer((json_int_t)count));
    return srv_ok(d);
}

/* The rows of group 0 of res as an array of objects. */
static json_t *rows_of(const srv_coll *c, const srv_outplan *p, const vdb_result *res)
{
    json_t *a = json_array();
    if (vdb_result_groups(res))
        for (size_t r = 0; r < vdb_result_rows(res, 0); r++)
            srv_result_row(c, p, res, 0, r, 0, a);
    return a;
}

json_t *srv_entities_get(srv_ctx *ctx, json_t *req)
{
    const char *coll;
    const char **parts = NULL;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &coll, &err))
        return err;
    json_t *id = json_object_get(req, "id");
    if (!id)
        return srv_err(MV_MISSING_REQUIRED, "missing required parameters, error: 'id' is "
                                            "required");
    srv_coll c;
    srv_pks pks = {0};
    srv_outplan p = {0};
    vdb_read_opts ro = {.struct_size = sizeof ro};
    if ((err = srv_coll_open(ctx, coll, &c)))
        return err;
    if (srv_pks_from_json(&c, id, &pks, &err) ||
        srv_outplan_make(&c, json_object_get(req, "outputFields"), 1, &p, &err) ||
        read_opts(req, &ro, &parts, &err))
        goto done;
    ro.output_fields = p.names;
    ro.n_output_fields = p.n;
    vdb_result *res = NULL;
    vdb_status st = pks.list.count ? vdb_get(ctx->db, coll, &pks.list, &ro, &res) : VDB_OK;
    if (st != VDB_OK) {
        err = srv_vdb_err(ctx, st, coll, MV_PARTITION_NOT_FOUND);
        goto done;
    }
    err = srv_ok(res ? rows_of(&c, &p, res) : json_array());
    vdb_result_free(res);
done:
    free(parts);
    srv_outplan_free(&p);
    srv_pks_free(&pks);
    srv_coll_free(&c);
    return err;
}

static int is_count(json_t *fields)
{
    return json_array_size(fields) == 1 && json_is_string(json_array_get(fields, 0)) &&
           srv_is_count_star(json_string_value(json_array_get(fields, 0)));
}

json_t *srv_entities_query(srv_ctx *ctx, json_t *req)
{
    const char *coll, *filter;
    const char **parts = NULL;
    int64_t limit, offset;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &coll, &err) ||
        srv_req_str(req, "filter", 0, &filter, &err) ||
        srv_req_int(req, "limit", 100, &limit, &err) ||
        srv_req_int(req, "offset", 0, &offset, &err))
        return err;
    json_t *fields = json_object_get(req, "outputFields");
    vdb_read_opts ro = {.struct_size = sizeof ro};
    if (is_count(fields)) {
        uint64_t n = 0;
        srv_status st;
        if (read_opts(req, &ro, &parts, &err))
            return err;
        int rc = srv_op_count(ctx, coll, filter, &ro, &n, &st);
        free(parts);
        if (rc)
            return srv_status_json(&st);
        json_t *row = json_object();
        json_object_set_new(row, "count(*)", json_integer((json_int_t)n));
        json_t *a = json_array();
        json_array_append_new(a, row);
        return srv_ok(a);
    }
    srv_coll c;
    srv_outplan p = {0};
    if ((err = srv_coll_open(ctx, coll, &c)))
        return err;
    if (srv_outplan_make(&c, fields, 1, &p, &err) || read_opts(req, &ro, &parts, &err))
        goto done;
    ro.output_fields = p.names;
    ro.n_output_fields = p.n;
    vdb_result *res;
    srv_status st;
    if (srv_op_query(ctx, &c, coll, filter, &ro, limit, offset, &res, &st)) {
        err = srv_status_json(&st);
        goto done;
    }
    err = srv_ok(res ? rows_of(&c, &p, res) : json_array());
    vdb_result_free(res);
done:
    free(parts);
    srv_outplan_free(&p);
    srv_coll_free(&c);
    return err;
}

/* searchParams {"metricType": ..., "params": {...}} -> "key=value,..." for vdb_search_req. */
static int search_params(json_t *req, const vdb_field_def *vf, char **out, json_t **err)
{
    *out = NULL;
    json_t *sp, *params;
    if (srv_req_obj(req, "searchParams", NULL, &sp, err))
        return -1;
    if (!sp)
        return 0;
    if (srv_req_obj(sp, "params", "searchParams.params", &params, err))
        return -1;
    json_t *m = json_object_get(sp, "metricType");
    if (!m)
        m = json_object_get(sp, "metric_type");
    srv_status st;
    /* radius and range_filter (range search) pass through like the rest */
    if (srv_op_check_metric(vf, json_is_string(m) ? json_string_value(m) : NULL,
                            "searchParams", &st) ||
        srv_op_params_text(params, NULL, out, &st)) {
        *err = srv_status_json(&st);
        return -1;
    }
    return 0;
}

/* "data": a list of vectors (or one vector) of the field's dimension. */
static float *query_vectors(json_t *data, uint32_t dim, size_t *nq, json_t **err)
{
    if (!json_is_array(data) || !json_array_size(data)) {
        *err = srv_err(MV_MISSING_REQUIRED, "missing required parameters, error: 'data' must "
                                            "be a non-empty list of vectors");
        return NULL;
    }
    int flat = json_is_number(json_array_get(data, 0));
    size_t n = flat ? 1 : json_array_size(data);
    float *v = malloc(n * dim * sizeof *v);
    if (!v) {
        *err = srv_err(MV_MEMORY_LIMIT, "memory limit exceeded");
        return NULL;
    }
    for (size_t q = 0; q < n; q++) {
        json_t *vec = flat ? data : json_array_get(data, q);
        if (!json_is_array(vec) || json_array_size(vec) != dim) {
            *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: vector dimension mismatch: "
                           "query %zu has %zu values, the field's dim is %u", q,
                           json_is_array(vec) ? json_array_size(vec) : 0, dim);
            free(v);
            return NULL;
        }
        for (uint32_t j = 0; j < dim; j++) {
            json_t *x = json_array_get(vec, j);
            if (!json_is_number(x)) {
                *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: query %zu holds a value "
                               "that is not a number", q);
                free(v);
                return NULL;
            }
            v[q * dim + j] = (float)json_number_value(x);
        }
    }
    *nq = n;
    return v;
}

json_t *srv_entities_search(srv_ctx *ctx, json_t *req)
{
    const char *coll, *filter, *anns;
    const char **parts = NULL;
    int64_t limit, offset;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &coll, &err) ||
        srv_req_str(req, "filter", 0, &filter, &err) ||
        srv_req_str(req, "annsField", 0, &anns, &err) ||
        srv_req_int(req, "limit", 100, &limit, &err) ||
        srv_req_int(req, "offset", 0, &offset, &err))
        return err;
    srv_coll c;
    srv_outplan p = {0};
    float *vecs = NULL;
    char *params = NULL;
    if ((err = srv_coll_open(ctx, coll, &c)))
        return err;
    const vdb_field_def *vf = NULL;
    srv_status st;
    if (srv_op_search_field(&c, anns, &vf, &st)) {
        err = srv_status_json(&st);
        goto done;
    }
    size_t nq;
    vdb_search_req sr = {.struct_size = sizeof sr, .collection = coll, .vector_field = vf->name,
                         .dim = vf->dim, .filter = filter};
    if (!(vecs = query_vectors(json_object_get(req, "data"), vf->dim, &nq, &err)) ||
        search_params(req, vf, &params, &err) ||
        srv_outplan_make(&c, json_object_get(req, "outputFields"), 0, &p, &err) ||
        read_opts(req, &sr.read, &parts, &err))
        goto done;
    sr.vectors = vecs;
    sr.nq = nq;
    sr.params = params;
    sr.read.output_fields = p.n ? p.names : NULL;
    sr.read.n_output_fields = p.n;
    vdb_result *res;
    if (srv_op_search(ctx, coll, &sr, limit, offset, &res, &st)) {
        err = srv_status_json(&st);
        goto done;
    }
    /* one flat list of hits; "topks" says how many belong to each query, as Milvus */
    json_t *hits = json_array(), *topks = json_array();
    for (size_t g = 0; g < vdb_result_groups(res); g++) {
        size_t rows = vdb_result_rows(res, g), k = 0;
        for (size_t r = (size_t)offset; r < rows; r++, k++)
            srv_result_row(&c, &p, res, g, r, 1, hits);
        json_array_append_new(topks, json_integer((json_int_t)k));
    }
    vdb_result_free(res);
    err = srv_ok(hits);
    json_object_set_new(err, "topks", topks);
done:
    free(parts);
    free(params);
    free(vecs);
    srv_outplan_free(&p);
    srv_coll_free(&c);
    return err;
}

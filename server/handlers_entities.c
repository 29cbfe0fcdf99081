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

/* orderByFields (NULL: none): [{"fieldName": f, "order": "asc"|"desc"}, ...] or ["f desc"]
 * into *by (malloc'd, pointing into the request) and *n. */
static json_t *order_by_of(json_t *req, vdb_order_by **by, size_t *n)
{
    json_t *o = json_object_get(req, "orderByFields");
    *by = NULL;
    *n = 0;
    if (!o || json_is_null(o))
        return NULL;
    if (!json_is_array(o) || !json_array_size(o) ||
        !(*by = calloc(json_array_size(o), sizeof **by)))
        return srv_err(MV_INCORRECT_FORMAT, "can only accept json format request, error: "
                       "orderByFields must be a non-empty array");
    for (size_t i = 0; i < json_array_size(o); i++) {
        json_t *e = json_array_get(o, i), *f = NULL, *d = NULL;
        if (json_is_object(e)) {
            f = json_object_get(e, "fieldName");
            d = json_object_get(e, "order");
        } else if (json_is_string(e)) {
            f = e;
        }
        const char *order = json_is_string(d) ? json_string_value(d) : d ? NULL : "asc";
        const char *name = json_is_string(f) ? json_string_value(f) : NULL;
        if (!name || !order || (strcasecmp(order, "asc") && strcasecmp(order, "desc"))) {
            free(*by);
            *by = NULL;
            return srv_err(MV_INCORRECT_FORMAT, "can only accept json format request, error: "
                           "orderByFields[%zu] must be {\"fieldName\": name, \"order\": \"asc\" or "
                           "\"desc\"}", i);
        }
        (*by)[i] = (vdb_order_by){name, !strcasecmp(order, "desc")};
    }
    *n = json_array_size(o);
    return NULL;
}

/* A query with orderByFields: the rows in that order, offset and limit applied to it. */
static int query_ordered(srv_ctx *ctx, const char *coll, const char *filter,
                         const vdb_read_opts *ro, int64_t limit, int64_t offset,
                         const vdb_order_by *by, size_t n, vdb_result **res, srv_status *err)
{
    if (limit < 0 || offset < 0 || limit > SRV_MAX_QUERY_WINDOW ||
        offset > SRV_MAX_QUERY_WINDOW - limit)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid max query result window, "
                        "(offset+limit) should be in range [1, %d], but got limit %lld and "
                        "offset %lld", SRV_MAX_QUERY_WINDOW, (long long)limit,
                        (long long)offset);
    int no_filter = !filter || !filter[strspn(filter, " \t\r\n")];
    vdb_status st = vdb_query_ordered(ctx->db, coll, no_filter ? NULL : filter, ro,
                                      (uint64_t)limit, (uint64_t)offset, by, n, res);
    if (st != VDB_OK)
        return srv_fail_vdb(ctx, err, st, coll, MV_PARTITION_NOT_FOUND);
    return 0;
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
    vdb_order_by *by = NULL;
    size_t nby = 0;
    if ((err = order_by_of(req, &by, &nby)))
        return err;
    if ((err = srv_coll_open(ctx, coll, &c))) {
        free(by);
        return err;
    }
    if (srv_outplan_make(&c, fields, 1, &p, &err) || read_opts(req, &ro, &parts, &err))
        goto done;
    ro.output_fields = p.names;
    ro.n_output_fields = p.n;
    vdb_result *res;
    srv_status st;
    if (nby ? query_ordered(ctx, coll, filter, &ro, limit, offset, by, nby, &res, &st)
            : srv_op_query(ctx, &c, coll, filter, &ro, limit, offset, &res, &st)) {
        err = srv_status_json(&st);
        goto done;
    }
    err = srv_ok(res ? rows_of(&c, &p, res) : json_array());
    vdb_result_free(res);
done:
    free(by);
    free(parts);
    srv_outplan_free(&p);
    srv_coll_free(&c);
    return err;
}

/* A searchParams object (NULL: none) {"metricType": ..., "params": {...}} -> "key=value,..."
 * for vdb_search_req / vdb_ann_req. */
static int params_text(json_t *sp, const vdb_field_def *vf, char **out, json_t **err)
{
    *out = NULL;
    json_t *params;
    if (!sp)
        return 0;
    if (srv_req_obj(sp, "params", "searchParams.params", &params, err))
        return -1;
    json_t *m = json_object_get(sp, "metricType");
    if (!m)
        m = json_object_get(sp, "metric_type");
    srv_status st;
    /* Milvus's search iterator keys are the gRPC API's (what the SDKs' search_iterator sends
     * there); through REST they would be ignored params, so they are refused */
    static const char *const iter_keys[] = {"iterator", "search_iter_v2", "search_iter_id",
                                            "search_iter_batch_size", "search_iter_last_bound",
                                            NULL};
    for (const char *const *k = iter_keys; *k; k++)
        if (json_object_get(sp, *k) || (params && json_object_get(params, *k))) {
            srv_fail(&st, MV_OPERATION_NOT_SUPPORTED, "operation not supported: search "
                     "parameter '%s': search iterators are served over gRPC (the SDKs' "
                     "search_iterator), not REST", *k);
            *err = srv_status_json(&st);
            return -1;
        }
    /* radius and range_filter (range search) pass through like the rest */
    if (srv_op_check_metric(vf, json_is_string(m) ? json_string_value(m) : NULL,
                            "searchParams", &st) ||
        srv_op_params_text(params, NULL, out, &st)) {
        *err = srv_status_json(&st);
        return -1;
    }
    return 0;
}

/* A search request's own "searchParams". */
static int search_params(json_t *req, const vdb_field_def *vf, char **out, json_t **err)
{
    json_t *sp;
    *out = NULL;
    return srv_req_obj(req, "searchParams", NULL, &sp, err) ? -1 : params_text(sp, vf, out, err);
}

/* "data" of a BinaryVector field: a list of vectors (or one), each dim / 8 byte values or a
 * base64 string; nq * dim / 8 bytes. */
static uint8_t *query_binary(json_t *data, uint32_t dim, size_t *nq, json_t **err)
{
    size_t bytes = vdb_vector_bytes(VDB_TYPE_BINARY_VECTOR, dim);
    int flat = json_is_number(json_array_get(data, 0));
    size_t n = flat ? 1 : json_array_size(data);
    uint8_t *v = malloc(n * bytes + 1);
    if (!v) {
        *err = srv_err(MV_MEMORY_LIMIT, "memory limit exceeded");
        return NULL;
    }
    for (size_t q = 0; q < n; q++) {
        const char *why = srv_binary_vector(dim, flat ? data : json_array_get(data, q),
                                            v + q * bytes);
        if (why) {
            *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: query %zu %s (dim %u)", q,
                           why, dim);
            free(v);
            return NULL;
        }
    }
    *nq = n;
    return v;
}

/* "data": a list of vectors (or one vector) of the field's dimension: floats, or for a
 * BinaryVector field its bytes (query_binary). */
static void *query_vectors(json_t *data, vdb_type type, uint32_t dim, size_t *nq,
                           json_t **err)
{
    if (!json_is_array(data) || !json_array_size(data)) {
        *err = srv_err(MV_MISSING_REQUIRED, "missing required parameters, error: 'data' must "
                                            "be a non-empty list of vectors");
        return NULL;
    }
    if (type == VDB_TYPE_BINARY_VECTOR)
        return query_binary(data, dim, nq, err);
    int flat = json_is_number(json_array_get(data, 0));
    int half = type != VDB_TYPE_FLOAT_VECTOR;
    uint8_t *raw = half ? malloc((size_t)dim * 2) : NULL;
    if (half && !raw) {
        *err = srv_err(MV_MEMORY_LIMIT, "memory limit exceeded");
        return NULL;
    }
    size_t n = flat ? 1 : json_array_size(data);
    float *v = malloc(n * dim * sizeof *v);
    if (!v) {
        free(raw);
        *err = srv_err(MV_MEMORY_LIMIT, "memory limit exceeded");
        return NULL;
    }
    for (size_t q = 0; q < n; q++) {
        json_t *vec = flat ? data : json_array_get(data, q);
        if (half && json_is_string(vec)) {
            /* a Float16Vector / BFloat16Vector / Int8Vector query as base64 of its elements */
            const char *why = srv_half_vector(type, dim, vec, raw);
            if (why) {
                *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: query %zu %s", q, why);
                free(v);
                free(raw);
                return NULL;
            }
            vdb_vector_to_f32(type, raw, dim, v + q * dim);
            continue;
        }
        if (!json_is_array(vec) || json_array_size(vec) != dim) {
            *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: vector dimension mismatch: "
                           "query %zu has %zu values, the field's dim is %u", q,
                           json_is_array(vec) ? json_array_size(vec) : 0, dim);
            free(v);
            free(raw);
            return NULL;
        }
        for (uint32_t j = 0; j < dim; j++) {
            json_t *x = json_array_get(vec, j);
            if (!json_is_number(x)) {
                *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: query %zu holds a value "
                               "that is not a number", q);
                free(v);
                free(raw);
                return NULL;
            }
            v[q * dim + j] = (float)json_number_value(x);
        }
    }
    free(raw);
    *nq = n;
    return v;
}

static void sparse_free(vdb_sparse_row *q, size_t n)
{
    for (size_t i = 0; q && i < n; i++) {
        free((void *)q[i].indices);
        free((void *)q[i].values);
    }
    free(q);
}

/* "data" of a sparse field: a list of {"<index>": value} objects (or one object). */
static vdb_sparse_row *query_sparse(json_t *data, size_t *nq, json_t **err)
{
    int one = json_is_object(data);
    if (!one && (!json_is_array(data) || !json_array_size(data))) {
        *err = srv_err(MV_MISSING_REQUIRED, "missing required parameters, error: 'data' must "
                                            "be a non-empty list of sparse vectors");
        return NULL;
    }
    size_t n = one ? 1 : json_array_size(data);
    vdb_sparse_row *q = calloc(n, sizeof *q);
    if (!q) {
        *err = srv_err(MV_MEMORY_LIMIT, "memory limit exceeded");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *why;
        if (srv_json_sparse(one ? data : json_array_get(data, i), &q[i], &why)) {
            *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: query %zu %s", i, why);
            sparse_free(q, n);
            return NULL;
        }
    }
    *nq = n;
    return q;
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
    void *vecs = NULL;
    vdb_sparse_row *sq = NULL;
    size_t nq = 0; /* before the first goto: done frees sq's nq rows */
    char *params = NULL;
    const char **texts = NULL; /* a BM25 field's query texts (the strings are req's) */
    if ((err = srv_coll_open(ctx, coll, &c)))
        return err;
    const vdb_field_def *vf = NULL;
    srv_status st;
    if (srv_op_search_field(&c, anns, &vf, &st)) {
        err = srv_status_json(&st);
        goto done;
    }
    vdb_search_req sr = {.struct_size = sizeof sr, .collection = coll, .vector_field = vf->name,
                         .dim = vf->dim, .filter = filter};
    int sparse = vf->type == VDB_TYPE_SPARSE_FLOAT_VECTOR;
    int bm25 = vf->metric == VDB_METRIC_BM25; /* a BM25 function's output: searched with text */
    if (bm25) {
        json_t *data = json_object_get(req, "data");
        size_t n = json_is_array(data) ? json_array_size(data) : 0;
        texts = n ? calloc(n, sizeof *texts) : NULL;
        for (size_t i = 0; texts && i < n; i++)
            if (!(texts[i] = json_string_value(json_array_get(data, i)))) {
                free(texts);
                texts = NULL;
            }
        if (!texts) {
            err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: field '%s' is the output "
                          "of a BM25 function: 'data' must be a non-empty list of texts",
                          vf->name);
            goto done;
        }
        sr.texts = texts;
        nq = n;
    }
    if (sparse && !bm25 && !(sq = query_sparse(json_object_get(req, "data"), &nq, &err)))
        goto done;
    if ((!sparse &&
         !(vecs = query_vectors(json_object_get(req, "data"), vf->type, vf->dim, &nq, &err))) ||
        search_params(req, vf, &params, &err) ||
        srv_outplan_make(&c, json_object_get(req, "outputFields"), 0, &p, &err) ||
        read_opts(req, &sr.read, &parts, &err))
        goto done;
    const char *gfield;
    int64_t gsize;
    json_t *strict = json_object_get(req, "strictGroupSize");
    if (srv_req_str(req, "groupingField", 0, &gfield, &err) ||
        srv_req_int(req, "groupSize", 0, &gsize, &err))
        goto done;
    if (strict && !json_is_boolean(strict)) {
        err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: strictGroupSize must be a bool");
        goto done;
    }
    if (gsize < 0 || gsize > 1024) {
        err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: groupSize must be 1..1024");
        goto done;
    }
    sr.group_by_field = gfield && *gfield ? gfield : NULL;
    sr.group_size = (uint32_t)gsize;
    sr.strict_group_size = strict && json_is_true(strict);
    int bin = vf->type == VDB_TYPE_BINARY_VECTOR;
    sr.vectors = bin ? NULL : vecs;
    sr.binary_vectors = bin ? vecs : NULL;
    sr.sparse_vectors = sq;
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
        for (size_t r = 0; r < rows; r++, k++)
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
    free(texts);
    sparse_free(sq, sq ? nq : 0);
    srv_outplan_free(&p);
    srv_coll_free(&c);
    return err;
}

/* rerank {"strategy": "rrf", "params": {"k": 60}} or {"strategy": "weighted", "params":
 * {"weights": [...], "norm_score": true}} into h; *w gets the weights (freed by the caller). */
static int rerank(json_t *rr, size_t nreq, vdb_hybrid_req *h, float **w, json_t **err)
{
    *w = NULL;
    json_t *s = json_is_object(rr) ? json_object_get(rr, "strategy") : NULL;
    json_t *p = json_is_object(rr) ? json_object_get(rr, "params") : NULL;
    if (!json_is_string(s)) {
        *err = srv_err(MV_MISSING_REQUIRED, "missing required parameters, error: 'rerank' "
                                            "needs a 'strategy' (rrf or weighted)");
        return -1;
    }
    if (p && !json_is_null(p) && !json_is_object(p)) {
        *err = srv_err(MV_INCORRECT_FORMAT, "can only accept json format request, error: "
                                            "'rerank.params' must be an object");
        return -1;
    }
    const char *name = json_string_value(s);
    if (!strcasecmp(name, "rrf")) {
        json_t *k = p ? json_object_get(p, "k") : NULL;
        h->ranker = VDB_RANKER_RRF;
        if (k && !json_is_number(k)) {
            *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: rerank k must be a number");
            return -1;
        }
        h->rrf_k = k ? json_number_value(k) : 0;
        if (k && h->rrf_k == 0)
            h->rrf_k = -1; /* refused by the library, not read as the default */
        return 0;
    }
    if (strcasecmp(name, "weighted")) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: rerank strategy '%s': "
                       "rrf or weighted", name);
        return -1;
    }
    json_t *ws = p ? json_object_get(p, "weights") : NULL;
    json_t *ns = p ? json_object_get(p, "norm_score") : NULL;
    if (!json_is_array(ws) || json_array_size(ws) != nreq) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: the weighted reranker needs "
                       "%zu weights (one per search request)", nreq);
        return -1;
    }
    if (ns && !json_is_boolean(ns)) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: norm_score must be a bool");
        return -1;
    }
    if (!(*w = malloc((nreq + 1) * sizeof **w))) {
        *err = srv_err(MV_MEMORY_LIMIT, "memory limit exceeded");
        return -1;
    }
    for (size_t i = 0; i < nreq; i++) {
        json_t *x = json_array_get(ws, i);
        if (!json_is_number(x)) {
            *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: weight %zu is not a "
                           "number", i);
            return -1;
        }
        (*w)[i] = (float)json_number_value(x);
    }
    h->ranker = VDB_RANKER_WEIGHTED;
    h->weights = *w;
    h->no_normalize = ns && json_is_false(ns);
    return 0;
}

/* One entry of "search": data, annsField, filter, limit, and search params as "params"
 * (flat, or {"params": {...}} with metricType) or "searchParams". */
static int sub_search(srv_coll *c, json_t *sub, size_t i, vdb_ann_req *a, float **vecs,
                      char **params, json_t **err)
{
    const char *filter, *anns;
    int64_t limit, offset;
    if (!json_is_object(sub)) {
        *err = srv_err(MV_INCORRECT_FORMAT, "can only accept json format request, error: "
                       "search request %zu must be an object", i);
        return -1;
    }
    if (srv_req_str(sub, "filter", 0, &filter, err) ||
        srv_req_str(sub, "annsField", 0, &anns, err) ||
        srv_req_int(sub, "limit", 100, &limit, err) ||
        srv_req_int(sub, "offset", 0, &offset, err))
        return -1;
    if (offset) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: search request %zu: offset "
                       "applies to the fused hits (give it beside 'rerank')", i);
        return -1;
    }
    if (json_object_get(sub, "groupingField")) {
        *err = srv_err(MV_OPERATION_NOT_SUPPORTED, "operation not supported: grouping in "
                       "hybrid search");
        return -1;
    }
    const vdb_field_def *vf;
    srv_status st;
    if (srv_op_search_field(c, anns, &vf, &st)) {
        *err = srv_status_json(&st);
        return -1;
    }
    if (limit < 1 || limit > SRV_MAX_TOPK) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: search request %zu: limit "
                       "must be 1..%d", i, SRV_MAX_TOPK);
        return -1;
    }
    size_t nq;
    if (!(*vecs = query_vectors(json_object_get(sub, "data"), vf->type, vf->dim, &nq, err)))
        return -1;
    json_t *sp, *pp, *flat = NULL;
    if (srv_req_obj(sub, "searchParams", NULL, &sp, err) ||
        srv_req_obj(sub, "params", NULL, &pp, err))
        return -1;
    if (!sp && pp) {
        if (json_is_object(json_object_get(pp, "params")))
            sp = pp;
        else { /* flat params; a metricType among them names the metric */
            json_t *pc = json_copy(pp), *m = json_object_get(sub, "metricType");
            if (!m)
                m = json_object_get(pp, "metricType");
            if (!m)
                m = json_object_get(pp, "metric_type");
            flat = json_pack("{s:o, s:O?}", "params", pc, "metricType", m);
            json_object_del(pc, "metricType");
            json_object_del(pc, "metric_type");
        }
    } else if (!sp && json_object_get(sub, "metricType")) {
        flat = json_pack("{s:O}", "metricType", json_object_get(sub, "metricType"));
    }
    int bad = params_text(flat ? flat : sp, vf, params, err);
    json_decref(flat);
    if (bad)
        return -1;
    int bin = vf->type == VDB_TYPE_BINARY_VECTOR;
    *a = (vdb_ann_req){.struct_size = sizeof *a, .vector_field = vf->name,
                       .vectors = bin ? NULL : *vecs, .nq = nq, .dim = vf->dim,
                       .limit = (uint32_t)limit, .filter = filter, .params = *params,
                       .binary_vectors = bin ? (const uint8_t *)*vecs : NULL};
    return 0;
}

json_t *srv_entities_hybrid_search(srv_ctx *ctx, json_t *req)
{
    const char *coll;
    const char **parts = NULL;
    int64_t limit, offset;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &coll, &err) ||
        srv_req_int(req, "limit", 100, &limit, &err) ||
        srv_req_int(req, "offset", 0, &offset, &err))
        return err;
    json_t *subs = json_object_get(req, "search");
    if (!json_is_array(subs) || !json_array_size(subs))
        return srv_err(MV_MISSING_REQUIRED, "missing required parameters, error: 'search' "
                                            "must be a non-empty list of search requests");
    if (json_object_get(req, "groupingField"))
        return srv_err(MV_OPERATION_NOT_SUPPORTED, "operation not supported: grouping in "
                                                   "hybrid search");
    if (limit < 1 || offset < 0 || limit > SRV_MAX_TOPK ||
        offset > SRV_MAX_TOPK - limit)
        return srv_err(MV_PARAMETER_INVALID, "invalid parameter: limit must be at least 1 and "
                       "limit + offset at most %d", SRV_MAX_TOPK);
    size_t n = json_array_size(subs);
    srv_coll c;
    srv_outplan p = {0};
    if ((err = srv_coll_open(ctx, coll, &c)))
        return err;
    vdb_ann_req *a = calloc(n, sizeof *a);
    const vdb_ann_req **ap = calloc(n, sizeof *ap);
    float **vecs = calloc(n, sizeof *vecs), *w = NULL;
    char **params = calloc(n, sizeof *params);
    vdb_result *res = NULL;
    if (!a || !ap || !vecs || !params) {
        err = srv_err(MV_MEMORY_LIMIT, "memory limit exceeded");
        goto done;
    }
    vdb_hybrid_req h = {.struct_size = sizeof h, .collection = coll, .reqs = ap, .n_reqs = n,
                        .limit = (uint32_t)limit, .offset = (uint32_t)offset};
    for (size_t i = 0; i < n; i++) {
        ap[i] = &a[i];
        if (sub_search(&c, json_array_get(subs, i), i, &a[i], &vecs[i], &params[i], &err))
            goto done;
    }
    if (rerank(json_object_get(req, "rerank"), n, &h, &w, &err) ||
        srv_outplan_make(&c, json_object_get(req, "outputFields"), 0, &p, &err) ||
        read_opts(req, &h.read, &parts, &err))
        goto done;
    h.read.output_fields = p.n ? p.names : NULL;
    h.read.n_output_fields = p.n;
    vdb_status vs = vdb_hybrid_search(ctx->db, &h, &res);
    if (vs != VDB_OK) {
        srv_status st;
        srv_fail_vdb(ctx, &st, vs, coll, MV_PARTITION_NOT_FOUND);
        err = srv_status_json(&st);
        goto done;
    }
    json_t *hits = json_array(), *topks = json_array();
    for (size_t g = 0; g < vdb_result_groups(res); g++) {
        size_t rows = vdb_result_rows(res, g);
        for (size_t r = 0; r < rows; r++)
            srv_result_row(&c, &p, res, g, r, 1, hits);
        json_array_append_new(topks, json_integer((json_int_t)rows));
    }
    err = srv_ok(hits);
    json_object_set_new(err, "topks", topks);
done:
    vdb_result_free(res);
    for (size_t i = 0; i < n && vecs; i++)
        free(vecs[i]);
    for (size_t i = 0; i < n && params; i++)
        free(params[i]);
    free(vecs);
    free(params);
    free(a);
    free(ap);
    free(w);
    free(parts);
    srv_outplan_free(&p);
    srv_coll_free(&c);
    return err;
}

/* ---- iterators: libvdb's REST extensions (Milvus's REST API v2 has none) ------------------
 * entities/query_iterator and entities/search_iterator give one batch per call and a
 * "cursor" for the next (ops_iter.c: the snapshot's timestamp and where the batch ended; the
 * server keeps nothing between calls). The first call reads at a fresh timestamp, every
 * later one at that same timestamp ("timestamp" in each answer), so the iteration sees one
 * snapshot while it is inside the retention window. A batch of fewer than batchSize rows is
 * the last. */

static int iter_args(json_t *req, const char **coll, const char **filter, int64_t *batch,
                     const char **cursor, json_t **err)
{
    if (srv_req_str(req, "collectionName", 1, coll, err) ||
        srv_req_str(req, "filter", 0, filter, err) ||
        srv_req_int(req, "batchSize", 1000, batch, err) ||
        srv_req_str(req, "cursor", 0, cursor, err))
        return -1;
    if (*batch < 1 || *batch > SRV_MAX_TOPK) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: batchSize must be 1..%d",
                       SRV_MAX_TOPK);
        return -1;
    }
    return 0;
}

static json_t *iter_answer(json_t *data, const char *cursor, uint64_t ts)
{
    json_t *out = srv_ok(data);
    json_object_set_new(out, "cursor", json_string(cursor));
    json_object_set_new(out, "timestamp", json_integer((json_int_t)ts));
    return out;
}

json_t *srv_entities_query_iterator(srv_ctx *ctx, json_t *req)
{
    const char *coll, *filter, *cursor;
    const char **parts = NULL;
    int64_t batch;
    json_t *err = NULL;
    if (iter_args(req, &coll, &filter, &batch, &cursor, &err))
        return err;
    json_t *fields = json_object_get(req, "outputFields");
    if (is_count(fields))
        return srv_err(MV_PARAMETER_INVALID, "invalid parameter: count(*) in a query iterator "
                                             "(query it)");
    srv_coll c;
    srv_outplan p = {0};
    if ((err = srv_coll_open(ctx, coll, &c)))
        return err;
    vdb_query_iter_req qr = {.struct_size = sizeof qr, .collection = coll,
                             .filter = filter && *filter ? filter : NULL,
                             .batch_size = (uint32_t)batch};
    if (srv_outplan_make(&c, fields, 1, &p, &err) || read_opts(req, &qr.read, &parts, &err))
        goto done;
    qr.read.output_fields = p.names;
    qr.read.n_output_fields = p.n;
    vdb_result *res;
    char *next;
    uint64_t ts;
    srv_status st;
    if (srv_op_query_iter_batch(ctx, &c, &qr, cursor, "cursor", &res, &next, &ts, &st)) {
        err = srv_status_json(&st);
        goto done;
    }
    err = iter_answer(res ? rows_of(&c, &p, res) : json_array(), next, ts);
    vdb_result_free(res);
    free(next);
done:
    free(parts);
    srv_outplan_free(&p);
    srv_coll_free(&c);
    return err;
}

json_t *srv_entities_search_iterator(srv_ctx *ctx, json_t *req)
{
    const char *coll, *filter, *cursor, *anns;
    const char **parts = NULL;
    int64_t batch;
    json_t *err = NULL;
    if (iter_args(req, &coll, &filter, &batch, &cursor, &err) ||
        srv_req_str(req, "annsField", 0, &anns, &err))
        return err;
    srv_coll c;
    srv_outplan p = {0};
    void *vecs = NULL;
    size_t nq = 0;
    char *params = NULL;
    if ((err = srv_coll_open(ctx, coll, &c)))
        return err;
    const vdb_field_def *vf = NULL;
    srv_status st;
    if (srv_op_search_field(&c, anns, &vf, &st)) {
        err = srv_status_json(&st);
        goto done;
    }
    if (vf->type == VDB_TYPE_SPARSE_FLOAT_VECTOR) {
        err = srv_err(MV_OPERATION_NOT_SUPPORTED, "operation not supported: a search iterator "
                      "on the sparse field '%s'", vf->name);
        goto done;
    }
    if (!(vecs = query_vectors(json_object_get(req, "data"), vf->type, vf->dim, &nq, &err)) ||
        search_params(req, vf, &params, &err) ||
        srv_outplan_make(&c, json_object_get(req, "outputFields"), 0, &p, &err))
        goto done;
    if (nq != 1) {
        err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: a search iterator takes one "
                      "query vector, got %zu", nq);
        goto done;
    }
    int bin = vf->type == VDB_TYPE_BINARY_VECTOR;
    vdb_search_iter_req ir = {.struct_size = sizeof ir, .collection = coll,
                              .vector_field = vf->name, .vector = bin ? NULL : vecs,
                              .binary_vector = bin ? vecs : NULL, .dim = vf->dim,
                              .filter = filter && *filter ? filter : NULL, .params = params,
                              .batch_size = (uint32_t)batch};
    if (read_opts(req, &ir.read, &parts, &err))
        goto done;
    ir.read.output_fields = p.n ? p.names : NULL;
    ir.read.n_output_fields = p.n;
    vdb_result *res;
    char *next;
    uint64_t ts;
    float last;
    if (srv_op_search_iter_batch(ctx, &c, &ir, cursor, "cursor", &res, &next, &ts, &last,
                                 &st)) {
        err = srv_status_json(&st);
        goto done;
    }
    json_t *hits = json_array();
    for (size_t r = 0; r < vdb_result_rows(res, 0); r++)
        srv_result_row(&c, &p, res, 0, r, 1, hits);
    vdb_result_free(res);
    err = iter_answer(hits, next, ts);
    free(next);
done:
    free(parts);
    free(params);
    free(vecs);
    srv_outplan_free(&p);
    srv_coll_free(&c);
    return err;
}

/* vdb-server — gRPC handlers for entities: Insert, Upsert, Delete, Search, Query. Columns go
 * straight into batches (pb_rows.c); the checks, the pk-ordered query, the search and the
 * error mapping are the shared request layer's (ops.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "grpc_pb.h"

typedef Milvus__Proto__Milvus__InsertRequest insert_req;

static const char *level_name(int level, int use_default)
{
    if (use_default)
        return NULL;
    switch (level) {
    case MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Strong: return "Strong";
    case MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Session: return "Session";
    case MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Bounded: return "Bounded";
    case MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Eventually: return "Eventually";
    case MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Customized: return "Strong";
    default: return "?";
    }
}

/* ---- writes -------------------------------------------------------------------------------- */

static int write_rows(srv_rpc *call, insert_req *req, int upsert, srv_status *err)
{
    if (upsert && req->partial_update)
        return srv_fail(err, MV_OPERATION_NOT_SUPPORTED, "operation not supported: partial "
                        "updates (upsert of some fields) are not supported by libvdb");
    srv_coll c;
    if (srv_coll_load(call->ctx, req->collection_name, &c, err))
        return -1;
    const char *part = req->partition_name && *req->partition_name ? req->partition_name : NULL;
    vdb_batch *b = srv_pb_columns_to_batch(&c, req->fields_data, req->n_fields_data,
                                           req->num_rows, err);
    vdb_result *pks = NULL;
    int rc = -1;
    if (!b || srv_op_write(call->ctx, req->collection_name, part, b, upsert, &pks, err))
        goto done;
    size_t n = vdb_batch_rows(b);
    pb_ids *ids = srv_pb_ids(&call->arena, &c, pks, 0, err);
    uint32_t *succ = srv_arena_alloc(&call->arena, (n ? n : 1) * sizeof *succ);
    if (!ids || !succ) {
        srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        succ[i] = (uint32_t)i;
    Milvus__Proto__Milvus__MutationResult r = MILVUS__PROTO__MILVUS__MUTATION_RESULT__INIT;
    r.status = srv_pb_ok();
    r.ids = ids;
    r.succ_index = succ;
    r.n_succ_index = n;
    r.acknowledged = 1;
    if (upsert)
        r.upsert_cnt = (int64_t)n;
    else
        r.insert_cnt = (int64_t)n;
    r.timestamp = pks ? vdb_result_timestamp(pks) : 0;
    rc = srv_rpc_reply(call, &r.base, err);
done:
    vdb_result_free(pks);
    vdb_batch_free(b);
    srv_coll_free(&c);
    return rc;
}

static int insert(srv_rpc *call, insert_req *req, srv_status *err)
{
    return write_rows(call, req, 0, err);
}
HANDLER(srv_rpc_insert, insert_req, milvus__proto__milvus__insert_request, insert)

static int upsert(srv_rpc *call, insert_req *req, srv_status *err)
{
    return write_rows(call, req, 1, err);
}
HANDLER(srv_rpc_upsert, insert_req, milvus__proto__milvus__insert_request, upsert)

static int delete_rows(srv_rpc *call, Milvus__Proto__Milvus__DeleteRequest *req,
                       srv_status *err)
{
    if (!req->collection_name || !*req->collection_name)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: collection name should "
                        "not be empty");
    if (req->n_expr_template_values)
        return srv_fail(err, MV_OPERATION_NOT_SUPPORTED, "operation not supported: expression "
                        "templates (expr_template_values) are not supported by libvdb");
    if (!req->expr || !req->expr[strspn(req->expr, " \t\r\n")])
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: the delete expression "
                        "should not be empty");
    const char *part = req->partition_name && *req->partition_name ? req->partition_name : NULL;
    uint64_t count = 0;
    if (srv_op_delete(call->ctx, req->collection_name, part, req->expr, NULL, &count, err))
        return -1;
    Milvus__Proto__Milvus__MutationResult r = MILVUS__PROTO__MILVUS__MUTATION_RESULT__INIT;
    r.status = srv_pb_ok();
    r.acknowledged = 1;
    r.delete_cnt = (int64_t)count;
    vdb_now(call->ctx->db, &r.timestamp);
    return srv_rpc_reply(call, &r.base, err);
}
HANDLER(srv_rpc_delete, Milvus__Proto__Milvus__DeleteRequest,
        milvus__proto__milvus__delete_request, delete_rows)

/* ---- search -------------------------------------------------------------------------------- */

static int parse_i64(const char *v, const char *key, int64_t *out, srv_status *err)
{
    char *end;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: %s='%s' must be an "
                        "integer", key, v);
    *out = x;
    return 0;
}

static int truthy(const char *v)
{
    return v && (!strcasecmp(v, "true") || !strcmp(v, "1"));
}

/* The one placeholder of a search's group, which must be of placeholder type `type` (want
 * names it for the message): NULL with err set otherwise. *g gets the group (free it, also
 * when NULL is returned, with free_group). */
static Milvus__Proto__Common__PlaceholderValue *
one_placeholder(const ProtobufCBinaryData *pg, int type, const char *want,
                Milvus__Proto__Common__PlaceholderGroup **g, srv_status *err)
{
    *g = milvus__proto__common__placeholder_group__unpack(NULL, pg->len, pg->data);
    if (!*g) {
        srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: the placeholder group is not a "
                 "valid PlaceholderGroup message");
        return NULL;
    }
    if ((*g)->n_placeholders != 1 || !(*g)->placeholders[0]->n_values) {
        srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: a search takes one placeholder "
                 "with at least one vector");
        return NULL;
    }
    Milvus__Proto__Common__PlaceholderValue *p = (*g)->placeholders[0];
    if ((int)p->type != type) {
        srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: query vectors of placeholder "
                 "type %d: %s", (int)p->type, want);
        return NULL;
    }
    return p;
}

static void free_group(Milvus__Proto__Common__PlaceholderGroup *g)
{
    if (g)
        milvus__proto__common__placeholder_group__free_unpacked(g, NULL);
}

/* The query vectors of a BINARY_VECTOR field: placeholder type BinaryVector (100), each
 * value dim / 8 bytes; nq * dim / 8 bytes (malloc'd). */
static uint8_t *query_binary(const ProtobufCBinaryData *pg, uint32_t dim, size_t *nq,
                             srv_status *err)
{
    Milvus__Proto__Common__PlaceholderGroup *g;
    Milvus__Proto__Common__PlaceholderValue *p =
        one_placeholder(pg, MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__BinaryVector,
                        "a BINARY_VECTOR field takes BinaryVector (100)", &g, err);
    size_t w = vdb_vector_bytes(VDB_TYPE_BINARY_VECTOR, dim);
    uint8_t *v = NULL;
    if (!p)
        goto done;
    if (!(v = malloc(p->n_values * w + 1))) {
        srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
        goto done;
    }
    for (size_t q = 0; q < p->n_values; q++) {
        if (p->values[q].len != w) {
            srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: vector dimension mismatch: "
                     "query %zu has %zu bytes, the binary field's dim %u needs %zu (dim / 8)",
                     q, p->values[q].len, dim, w);
            free(v);
            v = NULL;
            goto done;
        }
        memcpy(v + q * w, p->values[q].data, w);
    }
    *nq = p->n_values;
done:
    free_group(g);
    return v;
}

/* The query vectors of a placeholder group for a dense field of type t: nq vectors of dim
 * floats (malloc'd). FloatVector (101) placeholders go to every dense type; Float16Vector
 * (102), BFloat16Vector (103) and Int8Vector (105), the little-endian elements as pymilvus
 * and the Node SDK send them, to fields of their own type only. A BINARY_VECTOR field's are
 * its bytes (query_binary). */
static void *query_vectors(const ProtobufCBinaryData *pg, vdb_type t, uint32_t dim,
                           size_t *nq, srv_status *err)
{
    if (t == VDB_TYPE_BINARY_VECTOR)
        return query_binary(pg, dim, nq, err);
    int own = MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__FloatVector;
    const char *want = "a FLOAT_VECTOR field takes FloatVector (101)";
    if (t == VDB_TYPE_FLOAT16_VECTOR) {
        own = MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__Float16Vector;
        want = "a FLOAT16_VECTOR field takes Float16Vector (102) or FloatVector (101)";
    } else if (t == VDB_TYPE_BFLOAT16_VECTOR) {
        own = MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__BFloat16Vector;
        want = "a BFLOAT16_VECTOR field takes BFloat16Vector (103) or FloatVector (101)";
    } else if (t == VDB_TYPE_INT8_VECTOR) {
        own = MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__Int8Vector;
        want = "an INT8_VECTOR field takes Int8Vector (105) or FloatVector (101)";
    }
    Milvus__Proto__Common__PlaceholderGroup *g =
        milvus__proto__common__placeholder_group__unpack(NULL, pg->len, pg->data);
    int pt = g && g->n_placeholders == 1 ? (int)g->placeholders[0]->type : own;
    free_group(g);
    if (pt != own)
        own = MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__FloatVector;
    vdb_type et = own == MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__FloatVector
                      ? VDB_TYPE_FLOAT_VECTOR
                      : t;
    size_t w = vdb_vector_elem_size(et) * dim;
    Milvus__Proto__Common__PlaceholderValue *p = one_placeholder(pg, own, want, &g, err);
    float *v = NULL;
    if (!p)
        goto done;
    if (!(v = malloc(p->n_values * dim * sizeof *v))) {
        srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
        goto done;
    }
    for (size_t q = 0; q < p->n_values; q++) {
        size_t bad = p->values[q].len == w ? vdb_vector_nonfinite(et, p->values[q].data, dim)
                                           : 0;
        if (p->values[q].len != w || bad < dim) {
            if (p->values[q].len != w)
                srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: vector dimension "
                         "mismatch: query %zu has %zu bytes, the field's dim %u needs %zu", q,
                         p->values[q].len, dim, w);
            else
                srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: query %zu: element "
                         "%zu is NaN or infinite", q, bad);
            free(v);
            v = NULL;
            goto done;
        }
        /* little-endian elements */
        vdb_vector_to_f32(et, p->values[q].data, dim, v + q * dim);
    }
    *nq = p->n_values;
done:
    free_group(g);
    return v;
}

/* The sparse query vectors of a placeholder group (type SparseFloatVector, 104: each value
 * one row of little-endian (uint32 index, float32 value) pairs). */
static vdb_sparse_row *query_sparse(const ProtobufCBinaryData *pg, size_t *nq, srv_status *err)
{
    Milvus__Proto__Common__PlaceholderGroup *g;
    Milvus__Proto__Common__PlaceholderValue *p =
        one_placeholder(pg, MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__SparseFloatVector,
                        "a sparse field takes SparseFloatVector (104)", &g, err);
    vdb_sparse_row *v = NULL;
    if (!p)
        goto done;
    if (!(v = calloc(p->n_values, sizeof *v))) {
        srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
        goto done;
    }
    for (size_t q = 0; q < p->n_values; q++)
        if (srv_sparse_from_bytes(p->values[q].data, p->values[q].len, &v[q])) {
            srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: sparse query %zu has %zu "
                     "bytes, not (uint32, float32) pairs", q, p->values[q].len);
            srv_sparse_rows_free(v, p->n_values);
            v = NULL;
            goto done;
        }
    *nq = p->n_values;
done:
    free_group(g);
    return v;
}

/* search_params: anns_field, topk, offset, metric_type, params (JSON text), round_decimal,
 * ignore_growing, and the params' keys again at top level (the Node SDK sends both). */
typedef struct search_args {
    const char *anns, *metric, *group_by;
    int64_t topk, offset, round_decimal, group_size;
    int strict_group;
    json_t *params;
    /* Milvus's search iterator v2, as the SDKs send it (see search_iter_batch) */
    int iterator, iter_v2;
    int64_t iter_batch, guarantee_ts, coll_id;
    const char *iter_id;
} search_args;

static int search_args_read(pb_kv **kv, size_t n, search_args *a, srv_status *err)
{
    memset(a, 0, sizeof *a);
    a->topk = -1;
    a->round_decimal = -1;
    const char *v;
    if ((v = srv_kv_get(kv, n, "topk")) && parse_i64(v, "topk", &a->topk, err))
        return -1;
    if ((v = srv_kv_get(kv, n, "offset")) && *v && parse_i64(v, "offset", &a->offset, err))
        return -1;
    if ((v = srv_kv_get(kv, n, "round_decimal")) && *v &&
        parse_i64(v, "round_decimal", &a->round_decimal, err))
        return -1;
    if (truthy(srv_kv_get(kv, n, "ignore_growing")))
        return srv_fail(err, MV_OPERATION_NOT_SUPPORTED, "operation not supported: "
                        "ignore_growing: libvdb always searches growing segments too");
    if ((v = srv_kv_get(kv, n, "group_size")) && *v &&
        parse_i64(v, "group_size", &a->group_size, err))
        return -1;
    if (a->group_size < 0 || a->group_size > 1024)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: group_size must be "
                        "1..1024");
    a->group_by = srv_kv_get(kv, n, "group_by_field");
    if (a->group_by && !*a->group_by)
        a->group_by = NULL;
    a->strict_group = truthy(srv_kv_get(kv, n, "strict_group_size"));
    if ((v = srv_kv_get(kv, n, "order_by_fields")) && *v && strcmp(v, "false"))
        return srv_fail(err, MV_OPERATION_NOT_SUPPORTED, "operation not supported: search "
                        "parameter 'order_by_fields' (ordering is not supported by libvdb)");
    a->iterator = truthy(srv_kv_get(kv, n, "iterator"));
    a->iter_v2 = truthy(srv_kv_get(kv, n, "search_iter_v2"));
    a->iter_id = srv_kv_get(kv, n, "search_iter_id");
    if (((v = srv_kv_get(kv, n, "search_iter_batch_size")) && *v &&
         parse_i64(v, "search_iter_batch_size", &a->iter_batch, err)) ||
        ((v = srv_kv_get(kv, n, "guarantee_timestamp")) && *v &&
         parse_i64(v, "guarantee_timestamp", &a->guarantee_ts, err)) ||
        ((v = srv_kv_get(kv, n, "collection_id")) && *v &&
         parse_i64(v, "collection_id", &a->coll_id, err)))
        return -1;
    if (!a->iterator && (a->iter_v2 || (a->iter_id && *a->iter_id)))
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: search_iter_v2 and "
                        "search_iter_id need iterator=true");
    a->anns = srv_kv_get(kv, n, "anns_field");
    a->metric = srv_kv_get(kv, n, "metric_type");
    const char *ptext = srv_kv_get(kv, n, "params");
    json_t *p = ptext && *ptext ? json_loads(ptext, 0, NULL) : json_object();
    if (!json_is_object(p)) {
        json_decref(p);
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: search params must be a "
                        "JSON object: %s", ptext);
    }
    static const char *const known[] = {"topk", "offset", "round_decimal", "ignore_growing",
                                        "anns_field", "metric_type", "params", "hints",
                                        "group_by_field", "group_size", "strict_group_size",
                                        "iterator", "search_iter_v2", "search_iter_batch_size",
                                        "search_iter_last_bound", "search_iter_id",
                                        "guarantee_timestamp", "collection_id", NULL};
    for (const char *const *q = known + 11; *q; q++) /* the iterator's keys: not params */
        json_object_del(p, *q);
    for (size_t i = 0; i < n; i++) {
        const char *k = kv[i]->key;
        int skip = !k || json_object_get(p, k) != NULL;
        for (const char *const *q = known; *q && !skip; q++)
            skip = !strcmp(*q, k);
        if (!skip) /* other keys go to the library like params (unknown ones it ignores) */
            json_object_set_new(p, k, json_string(kv[i]->value ? kv[i]->value : ""));
    }
    json_t *m = json_object_get(p, "metric_type");
    if ((!a->metric || !*a->metric) && json_is_string(m))
        a->metric = json_string_value(m);
    a->params = p;
    return 0;
}

/* The search iterator's round_decimal (the library's own is for vdb_search and hybrid
 * search); checked in search_iter_batch. */
static float round_to(float x, int64_t digits)
{
    if (digits < 0)
        return x;
    double m = pow(10.0, (double)digits);
    return (float)(round((double)x * m) / m);
}

/* A search's hits as SearchResults: one flat list, topks per query, as Milvus; the first
 * offset rows of each query skipped (the caller searched limit + offset). */
static int reply_hits(srv_rpc *call, const srv_coll *cc, const srv_outplan *p,
                      const vdb_result *res, size_t nq, int64_t topk, size_t offset,
                      int64_t round_decimal, const char *coll, srv_status *err,
                      Milvus__Proto__Schema__SearchIteratorV2Results *iter, uint64_t session_ts)
{
    size_t groups = vdb_result_groups(res), total = 0;
    int64_t *topks = srv_arena_alloc(&call->arena, (groups + 1) * sizeof *topks);
    if (!topks)
        return srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
    for (size_t g = 0; g < groups; g++) {
        size_t rows = vdb_result_rows(res, g);
        topks[g] = rows > offset ? (int64_t)(rows - offset) : 0;
        total += (size_t)topks[g];
    }
    float *scores = srv_arena_alloc(&call->arena, (total + 1) * sizeof *scores);
    if (!scores)
        return srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
    size_t k = 0;
    for (size_t g = 0; g < groups; g++)
        for (size_t r = offset; r < vdb_result_rows(res, g); r++)
            scores[k++] = round_to(vdb_result_distance(res, g, r), round_decimal);
    Milvus__Proto__Schema__SearchResultData d = MILVUS__PROTO__SCHEMA__SEARCH_RESULT_DATA__INIT;
    d.num_queries = (int64_t)nq;
    d.top_k = topk;
    d.scores = scores;
    d.n_scores = total;
    d.topks = topks;
    d.n_topks = groups;
    d.primary_field_name = (char *)cc->fields[cc->pk].name;
    if (!(d.ids = srv_pb_ids(&call->arena, cc, res, offset, err)) ||
        srv_pb_result_columns(&call->arena, cc, p, res, offset, &d.fields_data,
                              &d.n_fields_data, &d.output_fields, &d.n_output_fields, err))
        return -1;
    d.all_search_count = (int64_t)total;
    Milvus__Proto__Milvus__SearchResults r = MILVUS__PROTO__MILVUS__SEARCH_RESULTS__INIT;
    r.status = srv_pb_ok();
    r.results = &d;
    r.collection_name = (char *)coll;
    d.search_iterator_v2_results = iter;
    r.session_ts = session_ts;
    return srv_rpc_reply(call, &r.base, err);
}

/* What a SearchRequest may carry that libvdb refuses (Search's and each of HybridSearch's). */
static int refused_search_parts(Milvus__Proto__Milvus__SearchRequest *req, int allow_ids,
                                srv_status *err)
{
    if (req->n_sub_reqs)
        return srv_fail(err, MV_OPERATION_NOT_SUPPORTED, "operation not supported: sub "
                        "requests inside a SearchRequest (send HybridSearch)");
    if (!allow_ids &&
        req->search_input_case == MILVUS__PROTO__MILVUS__SEARCH_REQUEST__SEARCH_INPUT_IDS)
        return srv_fail(err, MV_OPERATION_NOT_SUPPORTED, "operation not supported: search by "
                        "primary keys inside a hybrid search (send the vectors)");
    if (req->n_expr_template_values || req->function_score.len || req->highlighter.len ||
        req->search_aggregation.len || req->n_function_chains)
        return srv_fail(err, MV_OPERATION_NOT_SUPPORTED, "operation not supported: %s are not "
                        "supported by libvdb", req->n_expr_template_values
                        ? "expression templates" : req->function_score.len
                        ? "function scores (rerankers)" : req->highlighter.len
                        ? "highlighters" : req->search_aggregation.len
                        ? "search aggregations" : "function chains");
    if (req->dsl && *req->dsl && req->dsl_type == 0)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: the legacy DSL is not "
                        "supported: send a boolean expression (dsl_type BoolExprV1)");
    return 0;
}

/* One batch of Milvus's search iterator v2 (iterator=true, search_iter_v2=true in the
 * search params, as pymilvus's and the Node SDK's search_iterator send them), stateless
 * here: the token handed back (search_iter_id) carries the snapshot's timestamp, the last
 * distance (exact, as %a) and the keys returned at exactly that distance; the library's
 * search iterator resumes from them (vdb_search_iter_req.resume) at that timestamp, so the
 * batches see one snapshot while it is inside the retention window (after it: an error
 * naming the window). The first batch's timestamp is guarantee_timestamp when the SDK sets
 * one, else the consistency level's now; it comes back as session_ts. collection_id is
 * checked against the id DescribeCollection gives. */
static int search_iter_batch(srv_rpc *call, const srv_coll *c, const srv_outplan *p,
                             const search_args *a, Milvus__Proto__Milvus__SearchRequest *req,
                             const vdb_field_def *vf, const void *vecs, size_t nq,
                             const char *params, srv_status *err)
{
    const char *coll = req->collection_name;
    if (!a->iter_v2)
        return srv_fail(err, MV_OPERATION_NOT_SUPPORTED, "operation not supported: the search "
                        "iterator v1 (libvdb serves search_iter_v2=true)");
    if (nq != 1)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: a search iterator takes "
                        "one query vector, got %zu", nq);
    if (a->group_by || a->offset)
        return srv_fail(err, MV_OPERATION_NOT_SUPPORTED, "operation not supported: %s in a "
                        "search iterator", a->group_by ? "grouping" : "offset");
    if (a->round_decimal < -1 || a->round_decimal > 6)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: round_decimal must be "
                        "-1 (no rounding) or 0..6, not %lld", (long long)a->round_decimal);
    if (a->coll_id && a->coll_id != srv_collection_id(coll))
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: collection_id %lld is "
                        "not the id of collection '%s'", (long long)a->coll_id, coll);
    int64_t batch = a->iter_batch > 0 ? a->iter_batch : a->topk < 0 ? 10 : a->topk;
    if (batch < 1 || batch > SRV_MAX_TOPK)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: search_iter_batch_size "
                        "must be 1..%d", SRV_MAX_TOPK);
    vdb_search_iter_req ir = {.struct_size = sizeof ir, .collection = coll,
                              .vector_field = vf->name, .dim = vf->dim,
                              .filter = req->dsl && *req->dsl ? req->dsl : NULL,
                              .params = params, .batch_size = (uint32_t)batch};
    if (vf->type == VDB_TYPE_BINARY_VECTOR)
        ir.binary_vector = vecs;
    else
        ir.vector = vecs;
    ir.read.partitions = (const char *const *)req->partition_names;
    ir.read.n_partitions = req->n_partition_names;
    ir.read.output_fields = p->n ? p->names : NULL;
    ir.read.n_output_fields = p->n;
    ir.read.travel_ts = a->guarantee_ts > 0 ? (uint64_t)a->guarantee_ts : req->travel_timestamp;
    vdb_result *res = NULL;
    char *token = NULL;
    uint64_t T = 0;
    float last = 0;
    int rc = -1;
    if (srv_op_consistency(level_name(req->consistency_level, req->use_default_consistency),
                           &ir.read, err) ||
        srv_op_search_iter_batch(call->ctx, c, &ir, a->iter_id, "search_iter_id", &res, &token,
                                 &T, &last, err))
        goto out;
    Milvus__Proto__Schema__SearchIteratorV2Results ivr =
        MILVUS__PROTO__SCHEMA__SEARCH_ITERATOR_V2_RESULTS__INIT;
    ivr.token = token;
    ivr.last_bound = last;
    rc = reply_hits(call, c, p, res, 1, batch, 0, a->round_decimal, coll, err, &ivr, T);
out:
    free(token);
    vdb_result_free(res);
    return rc;
}

static int search(srv_rpc *call, Milvus__Proto__Milvus__SearchRequest *req, srv_status *err)
{
    if (refused_search_parts(req, 1, err))
        return -1;
    srv_coll c;
    if (srv_coll_load(call->ctx, req->collection_name, &c, err))
        return -1;
    search_args a;
    srv_outplan p = {0};
    vdb_result *res = NULL;
    void *vecs = NULL;
    vdb_sparse_row *sq = NULL;
    char *params = NULL;
    int rc = -1;
    const vdb_field_def *vf;
    size_t nq = 0;
    if (search_args_read(req->search_params, req->n_search_params, &a, err) ||
        srv_op_search_field(&c, a.anns, &vf, err) ||
        srv_op_check_metric(vf, a.metric, "searchParams", err))
        goto done;
    static const char *const skip[] = {"metric_type", NULL};
    /* search by primary key (Milvus 2.6's ids): the library reads the rows' vectors */
    vdb_pk_list pks = {0};
    int by_ids = req->search_input_case ==
                  MILVUS__PROTO__MILVUS__SEARCH_REQUEST__SEARCH_INPUT_IDS;
    if (by_ids && req->ids && req->ids->id_field_case ==
                                  MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID && req->ids->int_id) {
        pks.ints = req->ids->int_id->data;
        pks.count = req->ids->int_id->n_data;
    } else if (by_ids && req->ids && req->ids->id_field_case ==
                                         MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID &&
               req->ids->str_id) {
        pks.strs = (const char *const *)req->ids->str_id->data;
        pks.count = req->ids->str_id->n_data;
    }
    if (by_ids && !pks.count) {
        srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: search by ids needs at least "
                 "one id");
        goto done;
    }
    int sparse = vf->type == VDB_TYPE_SPARSE_FLOAT_VECTOR;
    /* the library rounds a search's distances (it refuses round_decimal for the iterator,
     * which ranges on the exact distances: its hits are rounded in reply_hits) */
    if (!a.iterator && a.round_decimal != -1)
        json_object_set_new(a.params, "round_decimal", json_integer(a.round_decimal));
    if (srv_op_params_text(a.params, skip, &params, err) ||
        (!by_ids && sparse && !(sq = query_sparse(&req->placeholder_group, &nq, err))) ||
        (!by_ids && !sparse &&
         !(vecs = query_vectors(&req->placeholder_group, vf->type, vf->dim, &nq, err))) ||
        srv_outplan_names(&c, (const char *const *)req->output_fields, req->n_output_fields, 0,
                          &p, err))
        goto done;
    if (by_ids)
        nq = pks.count;
    if (req->nq && (size_t)req->nq != nq) {
        srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: nq is %lld but the placeholder "
                 "group holds %zu vectors", (long long)req->nq, nq);
        goto done;
    }
    if (a.iterator) {
        rc = search_iter_batch(call, &c, &p, &a, req, vf, vecs, nq, params, err);
        goto done;
    }
    vdb_search_req sr = {.struct_size = sizeof sr, .collection = req->collection_name,
                         .vector_field = vf->name, .vectors = vecs, .nq = nq, .dim = vf->dim,
                         .filter = req->dsl && *req->dsl ? req->dsl : NULL, .params = params};
    if (vf->type == VDB_TYPE_BINARY_VECTOR) {
        sr.vectors = NULL;
        sr.binary_vectors = vecs;
    }
    sr.read.partitions = (const char *const *)req->partition_names;
    sr.read.n_partitions = req->n_partition_names;
    sr.read.output_fields = p.n ? p.names : NULL;
    sr.read.n_output_fields = p.n;
    sr.read.travel_ts = req->travel_timestamp;
    sr.query_pks = by_ids ? &pks : NULL;
    sr.sparse_vectors = sq;
    if (by_ids)
        sr.vectors = NULL;
    sr.group_by_field = a.group_by;
    sr.group_size = (uint32_t)a.group_size;
    sr.strict_group_size = a.strict_group;
    if (srv_op_consistency(level_name(req->consistency_level, req->use_default_consistency),
                           &sr.read, err) ||
        srv_op_search(call->ctx, req->collection_name, &sr, a.topk < 0 ? 10 : a.topk, a.offset,
                      &res, err))
        goto done;
    rc = reply_hits(call, &c, &p, res, nq, a.topk < 0 ? 10 : a.topk, 0, -1,
                    req->collection_name, err, NULL, 0);
done:
    vdb_result_free(res);
    free(vecs);
    srv_sparse_rows_free(sq, sq ? nq : 0);
    free(params);
    json_decref(a.params);
    srv_outplan_free(&p);
    srv_coll_free(&c);
    return rc;
}
HANDLER(srv_rpc_search, Milvus__Proto__Milvus__SearchRequest,
        milvus__proto__milvus__search_request, search)

/* ---- hybrid search ------------------------------------------------------------------------- */

typedef Milvus__Proto__Milvus__HybridSearchRequest hybrid_req;

/* Request i of a HybridSearch as a vdb_ann_req: its vectors and params text are the caller's
 * to free (also on failure). */
static int hybrid_sub(srv_coll *c, Milvus__Proto__Milvus__SearchRequest *sr, size_t i,
                      vdb_ann_req *a, float **vecs, char **params, vdb_hybrid_req *h,
                      srv_status *err)
{
    if (refused_search_parts(sr, 0, err))
        return -1;
    search_args sa;
    const vdb_field_def *vf;
    size_t nq;
    static const char *const skip[] = {"metric_type", NULL};
    int bad = search_args_read(sr->search_params, sr->n_search_params, &sa, err) ||
              srv_op_search_field(c, sa.anns, &vf, err) ||
              srv_op_check_metric(vf, sa.metric, "searchParams", err) ||
              srv_op_params_text(sa.params, skip, params, err);
    json_decref(sa.params);
    if (bad)
        return -1;
    if (sa.offset)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: request %zu: offset "
                        "applies to the fused hits (give it in rank_params)", i);
    /* grouping of a request: the same for every request, and as the rank params' */
    if (sa.group_by && h->group_by_field && strcmp(sa.group_by, h->group_by_field))
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: request %zu groups by "
                        "'%s', another by '%s': a hybrid search groups by one field", i,
                        sa.group_by, h->group_by_field);
    if (sa.group_by) {
        h->group_by_field = sa.group_by;
        h->group_size = sa.group_size ? (uint32_t)sa.group_size : h->group_size;
        h->strict_group_size = h->strict_group_size || sa.strict_group;
    }
    if (sa.topk == 0 || sa.topk < -1 || sa.topk > SRV_MAX_TOPK)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: request %zu: topk must "
                        "be 1..%d", i, SRV_MAX_TOPK);
    if (!(*vecs = query_vectors(&sr->placeholder_group, vf->type, vf->dim, &nq, err)))
        return -1;
    *a = (vdb_ann_req){.struct_size = sizeof *a, .vector_field = vf->name, .vectors = *vecs,
                       .nq = nq, .dim = vf->dim, .limit = sa.topk < 0 ? 10 : (uint32_t)sa.topk,
                       .filter = sr->dsl && *sr->dsl ? sr->dsl : NULL, .params = *params};
    if (vf->type == VDB_TYPE_BINARY_VECTOR) {
        a->vectors = NULL;
        a->binary_vectors = (const uint8_t *)*vecs;
    }
    return 0;
}

/* rank_params: strategy (rrf, weighted), params (JSON: k; weights, norm_score), limit,
 * offset, round_decimal. */
static int hybrid_rank(pb_kv **kv, size_t n, size_t nreq, vdb_hybrid_req *h, float **w,
                       int64_t *limit, int64_t *offset, int64_t *round_decimal,
                       srv_status *err)
{
    const char *v;
    *limit = 10;
    *offset = 0;
    *round_decimal = -1;
    if (((v = srv_kv_get(kv, n, "limit")) && *v && parse_i64(v, "limit", limit, err)) ||
        ((v = srv_kv_get(kv, n, "offset")) && *v && parse_i64(v, "offset", offset, err)) ||
        ((v = srv_kv_get(kv, n, "round_decimal")) && *v &&
         parse_i64(v, "round_decimal", round_decimal, err)))
        return -1;
    /* grouping (Milvus 2.5: group_by_field in the rank params, as pymilvus sends it) */
    const char *gb = srv_kv_get(kv, n, "group_by_field");
    int64_t gs = 0;
    if ((v = srv_kv_get(kv, n, "group_size")) && *v && parse_i64(v, "group_size", &gs, err))
        return -1;
    if (gs < 0 || gs > 1024)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: group_size must be "
                        "1..1024");
    if (gb && *gb && h->group_by_field && strcmp(gb, h->group_by_field))
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: rank params group by "
                        "'%s', a request by '%s': a hybrid search groups by one field", gb,
                        h->group_by_field);
    if (gb && *gb)
        h->group_by_field = gb;
    if (gs)
        h->group_size = (uint32_t)gs;
    if (truthy(srv_kv_get(kv, n, "strict_group_size")))
        h->strict_group_size = 1;
    if (*limit < 1 || *offset < 0 || *limit > SRV_MAX_TOPK ||
        *offset > SRV_MAX_TOPK - *limit)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: limit must be at least 1 "
                        "and limit + offset at most %d", SRV_MAX_TOPK);
    const char *strategy = srv_kv_get(kv, n, "strategy");
    const char *ptext = srv_kv_get(kv, n, "params");
    json_t *p = ptext && *ptext ? json_loads(ptext, 0, NULL) : json_object();
    if (!json_is_object(p)) {
        json_decref(p);
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: rank params must be a "
                        "JSON object: %s", ptext);
    }
    int rc = 0;
    if (!strategy || !*strategy || !strcasecmp(strategy, "rrf")) {
        json_t *k = json_object_get(p, "k");
        h->ranker = VDB_RANKER_RRF;
        if (k && !json_is_number(k))
            rc = srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: rrf k must be a "
                          "number");
        else if (k)
            h->rrf_k = json_number_value(k) == 0 ? -1 : json_number_value(k);
    } else if (!strcasecmp(strategy, "weighted")) {
        json_t *ws = json_object_get(p, "weights"), *ns = json_object_get(p, "norm_score");
        h->ranker = VDB_RANKER_WEIGHTED;
        if (!json_is_array(ws) || json_array_size(ws) != nreq)
            rc = srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: the weighted ranker "
                          "needs %zu weights (one per request)", nreq);
        else if (ns && !json_is_boolean(ns))
            rc = srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: norm_score must be a "
                          "bool");
        else if (!(*w = malloc((nreq + 1) * sizeof **w)))
            rc = srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
        for (size_t i = 0; rc == 0 && i < nreq; i++) {
            json_t *x = json_array_get(ws, i);
            if (!json_is_number(x))
                rc = srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: weight %zu is not "
                              "a number", i);
            else
                (*w)[i] = (float)json_number_value(x);
        }
        h->weights = *w;
        h->no_normalize = ns && json_is_false(ns);
    } else {
        rc = srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: rank strategy '%s': rrf "
                      "or weighted", strategy);
    }
    json_decref(p);
    return rc;
}

static int hybrid_search(srv_rpc *call, hybrid_req *req, srv_status *err)
{
    if (req->function_score.len || req->n_function_chains)
        return srv_fail(err, MV_OPERATION_NOT_SUPPORTED, "operation not supported: %s are not "
                        "supported by libvdb (use rank_params: rrf or weighted)",
                        req->function_score.len ? "function scores" : "function chains");
    if (!req->n_requests)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: a hybrid search needs at "
                        "least one request");
    srv_coll c;
    if (srv_coll_load(call->ctx, req->collection_name, &c, err))
        return -1;
    size_t n = req->n_requests;
    int rc = -1;
    srv_outplan p = {0};
    vdb_result *res = NULL;
    float *w = NULL;
    vdb_ann_req *a = calloc(n, sizeof *a);
    const vdb_ann_req **ap = calloc(n, sizeof *ap);
    float **vecs = calloc(n, sizeof *vecs);
    char **params = calloc(n, sizeof *params);
    if (!a || !ap || !vecs || !params) {
        srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
        goto done;
    }
    vdb_hybrid_req h = {.struct_size = sizeof h, .collection = req->collection_name,
                        .reqs = ap, .n_reqs = n};
    int64_t limit, offset, rd;
    for (size_t i = 0; i < n; i++) {
        ap[i] = &a[i];
        if (hybrid_sub(&c, req->requests[i], i, &a[i], &vecs[i], &params[i], &h, err))
            goto done;
    }
    if (hybrid_rank(req->rank_params, req->n_rank_params, n, &h, &w, &limit, &offset, &rd,
                    err) ||
        srv_outplan_names(&c, (const char *const *)req->output_fields, req->n_output_fields, 0,
                          &p, err))
        goto done;
    h.limit = (uint32_t)limit;
    h.offset = (uint32_t)offset;
    char rank_params[32];
    if (rd != -1) { /* the library rounds the fused scores (and checks the range) */
        snprintf(rank_params, sizeof rank_params, "round_decimal=%lld", (long long)rd);
        h.params = rank_params;
    }
    h.read.partitions = (const char *const *)req->partition_names;
    h.read.n_partitions = req->n_partition_names;
    h.read.output_fields = p.n ? p.names : NULL;
    h.read.n_output_fields = p.n;
    h.read.travel_ts = req->travel_timestamp;
    if (srv_op_consistency(level_name(req->consistency_level, req->use_default_consistency),
                           &h.read, err))
        goto done;
    vdb_status vs = vdb_hybrid_search(call->ctx->db, &h, &res);
    if (vs != VDB_OK) {
        srv_fail_vdb(call->ctx, err, vs, req->collection_name, MV_PARTITION_NOT_FOUND);
        goto done;
    }
    rc = reply_hits(call, &c, &p, res, a[0].nq, limit, 0, -1, req->collection_name, err, NULL,
                    0);
done:
    vdb_result_free(res);
    for (size_t i = 0; vecs && i < n; i++)
        free(vecs[i]);
    for (size_t i = 0; params && i < n; i++)
        free(params[i]);
    free(vecs);
    free(params);
    free(a);
    free(ap);
    free(w);
    srv_outplan_free(&p);
    srv_coll_free(&c);
    return rc;
}
HANDLER(srv_rpc_hybrid_search, hybrid_req, milvus__proto__milvus__hybrid_search_request,
        hybrid_search)

/* ---- query --------------------------------------------------------------------------------- */

static int reply_count(srv_rpc *call, const char *coll, const char *name, uint64_t n,
                       srv_status *err)
{
    int64_t v = (int64_t)n;
    Milvus__Proto__Schema__LongArray la = MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT;
    la.data = &v;
    la.n_data = 1;
    pb_scalars s = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
    s.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
    s.long_data = &la;
    pb_field_data fd = MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT, *fds[] = {&fd};
    fd.type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64;
    fd.field_name = (char *)name;
    fd.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
    fd.scalars = &s;
    char *names[] = {(char *)name};
    Milvus__Proto__Milvus__QueryResults r = MILVUS__PROTO__MILVUS__QUERY_RESULTS__INIT;
    r.status = srv_pb_ok();
    r.fields_data = fds;
    r.n_fields_data = 1;
    r.output_fields = names;
    r.n_output_fields = 1;
    r.collection_name = (char *)coll;
    return srv_rpc_reply(call, &r.base, err);
}

static int query(srv_rpc *call, Milvus__Proto__Milvus__QueryRequest *req, srv_status *err)
{
    if (req->n_expr_template_values)
        return srv_fail(err, MV_OPERATION_NOT_SUPPORTED, "operation not supported: expression "
                        "templates (expr_template_values) are not supported by libvdb");
    pb_kv **kv = req->query_params;
    size_t nkv = req->n_query_params;
    int64_t limit = 0, offset = 0;
    const char *v;
    if (((v = srv_kv_get(kv, nkv, "limit")) && *v && parse_i64(v, "limit", &limit, err)) ||
        ((v = srv_kv_get(kv, nkv, "offset")) && *v && parse_i64(v, "offset", &offset, err)))
        return -1;
    if (truthy(srv_kv_get(kv, nkv, "ignore_growing")))
        return srv_fail(err, MV_OPERATION_NOT_SUPPORTED, "operation not supported: "
                        "ignore_growing: libvdb always reads growing segments too");
    static const char *const refused[] = {"group_by_fields", "order_by_fields", NULL};
    for (const char *const *k = refused; *k; k++)
        if ((v = srv_kv_get(kv, nkv, *k)) && *v)
            return srv_fail(err, MV_OPERATION_NOT_SUPPORTED, "operation not supported: query "
                            "parameter '%s' is not supported by libvdb yet", *k);
    vdb_read_opts ro = {.struct_size = sizeof ro,
                        .partitions = (const char *const *)req->partition_names,
                        .n_partitions = req->n_partition_names,
                        .travel_ts = req->travel_timestamp};
    if (srv_op_consistency(level_name(req->consistency_level, req->use_default_consistency),
                           &ro, err))
        return -1;
    /* pymilvus's query_iterator: iterator=True, reduce_stop_for_best, collection_id; its first
     * call's session_ts comes back as guarantee_timestamp in every later one, so each page
     * ("pk > last", limit) reads the first one's snapshot (inside the retention window) */
    int iterator = truthy(srv_kv_get(kv, nkv, "iterator"));
    int64_t coll_id = 0;
    if (((v = srv_kv_get(kv, nkv, "collection_id")) && *v &&
         parse_i64(v, "collection_id", &coll_id, err)))
        return -1;
    if ((v = srv_kv_get(kv, nkv, "reduce_stop_for_best")) && *v && strcasecmp(v, "true") &&
        strcasecmp(v, "false"))
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: reduce_stop_for_best "
                        "'%s' is not True or False", v);
    /* (reduce_stop_for_best lets Milvus stop merging segments early; a limited query here
     * is always the smallest keys, which is what it asks for either way) */
    if (coll_id && coll_id != srv_collection_id(req->collection_name))
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: collection_id %lld is "
                        "not the id of collection '%s'", (long long)coll_id,
                        req->collection_name);
    if (iterator && req->guarantee_timestamp)
        ro.travel_ts = req->guarantee_timestamp;
    if (iterator && !ro.travel_ts) {
        vdb_status st = vdb_now(call->ctx->db, &ro.travel_ts);
        if (st != VDB_OK)
            return srv_fail_vdb(call->ctx, err, st, req->collection_name, 0);
    }
    const char *filter = req->expr && *req->expr ? req->expr : NULL;
    if (req->n_output_fields == 1 && srv_is_count_star(req->output_fields[0])) {
        uint64_t n = 0;
        if (!req->collection_name || !*req->collection_name)
            return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: collection name "
                            "should not be empty");
        if (srv_op_count(call->ctx, req->collection_name, filter, &ro, &n, err))
            return -1;
        return reply_count(call, req->collection_name, req->output_fields[0], n, err);
    }
    srv_coll c;
    if (srv_coll_load(call->ctx, req->collection_name, &c, err))
        return -1;
    srv_outplan p = {0};
    vdb_result *res = NULL;
    int rc = -1;
    if (srv_outplan_names(&c, (const char *const *)req->output_fields, req->n_output_fields, 1,
                          &p, err))
        goto done;
    ro.output_fields = p.names;
    ro.n_output_fields = p.n;
    if (srv_op_query(call->ctx, &c, req->collection_name, filter, &ro, limit, offset, &res, err))
        goto done;
    Milvus__Proto__Milvus__QueryResults r = MILVUS__PROTO__MILVUS__QUERY_RESULTS__INIT;
    r.status = srv_pb_ok();
    r.collection_name = req->collection_name;
    r.primary_field_name = (char *)c.fields[c.pk].name;
    r.session_ts = iterator ? ro.travel_ts : 0;
    if (srv_pb_result_columns(&call->arena, &c, &p, res, 0, &r.fields_data, &r.n_fields_data,
                              &r.output_fields, &r.n_output_fields, err))
        goto done;
    rc = srv_rpc_reply(call, &r.base, err);
done:
    vdb_result_free(res);
    srv_outplan_free(&p);
    srv_coll_free(&c);
    return rc;
}
HANDLER(srv_rpc_query, Milvus__Proto__Milvus__QueryRequest,
        milvus__proto__milvus__query_request, query)

/* vdb-server — the request layer both protocols share: each Milvus operation on the database
 * with its checks, defaults and error mapping, taking C values and giving a srv_status. The
 * REST handlers (handlers_*.c) and the gRPC ones (grpc_*.c) only translate their wire form to
 * these calls and the results back, so a cluster proxy gets both from one place. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"

int srv_op_require_collection(srv_ctx *ctx, const char *coll, srv_status *err)
{
    int exists = 0;
    vdb_status st = vdb_has_collection(ctx->db, coll, &exists);
    if (st != VDB_OK)
        return srv_fail_vdb(ctx, err, st, NULL, 0);
    if (!exists)
        return srv_fail(err, MV_COLLECTION_NOT_FOUND, "collection not found[collection=%s]",
                        coll);
    return 0;
}

int srv_op_drop_collection(srv_ctx *ctx, const char *coll, srv_status *err)
{
    srv_write_lock(ctx);
    vdb_status st = vdb_drop_collection(ctx->db, coll);
    srv_write_unlock(ctx);
    if (st == VDB_ENOTFOUND)
        return 0; /* Milvus: dropping a collection that is not there succeeds */
    if (st != VDB_OK)
        return srv_fail_vdb(ctx, err, st, coll, 0);
    srv_log(SRV_LOG_INFO, "dropped collection '%s'", coll);
    return 0;
}

int srv_op_has_partition(srv_ctx *ctx, const char *coll, const char *part, int *has,
                         srv_status *err)
{
    vdb_names *n;
    vdb_status st = vdb_list_partitions(ctx->db, coll, &n);
    if (st != VDB_OK)
        return srv_fail_vdb(ctx, err, st, coll, 0);
    *has = 0;
    for (size_t i = 0; i < n->count && !*has; i++)
        *has = !strcmp(n->names[i], part);
    vdb_names_free(n);
    return 0;
}

int srv_op_check_partitions(srv_ctx *ctx, const char *coll, const char *const *parts, size_t n,
                            srv_status *err)
{
    if (srv_op_require_collection(ctx, coll, err))
        return -1;
    for (size_t i = 0; i < n; i++) {
        int has = 0;
        if (srv_op_has_partition(ctx, coll, parts[i], &has, err))
            return -1;
        if (!has)
            return srv_fail(err, MV_PARTITION_NOT_FOUND, "partition not found[partition=%s]",
                            parts[i]);
    }
    return 0;
}

int srv_op_partition_rows(srv_ctx *ctx, const char *coll, const char *part, uint64_t *rows,
                          srv_status *err)
{
    vdb_read_opts ro = {.struct_size = sizeof ro, .partitions = &part, .n_partitions = 1};
    vdb_status st = vdb_count(ctx->db, coll, NULL, &ro, rows);
    return st == VDB_OK ? 0 : srv_fail_vdb(ctx, err, st, coll, MV_PARTITION_NOT_FOUND);
}

int srv_op_consistency(const char *level, vdb_read_opts *ro, srv_status *err)
{
    /* every acknowledged write is applied before it is acknowledged: Strong, Session and
     * Bounded all read at a fresh timestamp; Eventually reads what is applied */
    ro->consistency = VDB_CONSISTENCY_STRONG;
    if (!level || !*level || !strcasecmp(level, "Strong") || !strcasecmp(level, "Session") ||
        !strcasecmp(level, "Bounded"))
        return 0;
    if (!strcasecmp(level, "Eventually")) {
        ro->consistency = VDB_CONSISTENCY_EVENTUALLY;
        return 0;
    }
    return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: consistencyLevel '%s' "
                    "(Strong, Session, Bounded, Eventually)", level);
}

/* ---- writes ------------------------------------------------------------------------------ */

void srv_write_lock(srv_ctx *ctx)
{
    pthread_rwlock_rdlock(&ctx->schema_lock);
}

void srv_write_unlock(srv_ctx *ctx)
{
    pthread_rwlock_unlock(&ctx->schema_lock);
}

int srv_op_write(srv_ctx *ctx, const char *coll, const char *part, const vdb_batch *b,
                 int upsert, vdb_result **pks, srv_status *err)
{
    uint64_t ts;
    *pks = NULL;
    srv_write_lock(ctx);
    vdb_status st = upsert ? vdb_upsert(ctx->db, coll, part, b, &ts, pks)
                           : vdb_insert(ctx->db, coll, part, b, &ts, pks);
    srv_write_unlock(ctx);
    if (st == VDB_OK)
        return 0;
    if (st == VDB_EINVAL)
        return srv_fail(err, MV_INVALID_INSERT_DATA, "fail to deal the insert data, error: %s",
                        vdb_errmsg(ctx->db));
    return srv_fail_vdb(ctx, err, st, coll, MV_PARTITION_NOT_FOUND);
}

int srv_op_delete(srv_ctx *ctx, const char *coll, const char *part, const char *filter,
                  const vdb_pk_list *pks, uint64_t *count, srv_status *err)
{
    uint64_t ts;
    vdb_status st = VDB_OK;
    *count = 0;
    srv_write_lock(ctx);
    if (filter && *filter) {
        st = vdb_delete_where(ctx->db, coll, part, filter, &ts, count);
    } else if (pks && pks->count) {
        st = vdb_delete(ctx->db, coll, part, pks, &ts);
        *count = pks->count;
    } else if (!pks) {
        srv_write_unlock(ctx);
        return srv_fail(err, MV_MISSING_REQUIRED, "missing required parameters, error: a "
                        "filter (or ids) is required");
    }
    srv_write_unlock(ctx);
    return st == VDB_OK ? 0 : srv_fail_vdb(ctx, err, st, coll, MV_PARTITION_NOT_FOUND);
}

/* ---- reads ------------------------------------------------------------------------------- */

int srv_is_count_star(const char *name)
{
    char buf[32];
    size_t k = 0;
    for (const char *s = name; *s && k < 31; s++)
        if (*s != ' ')
            buf[k++] = *s;
    buf[k] = 0;
    return !strcasecmp(buf, "count(*)");
}

int srv_op_count(srv_ctx *ctx, const char *coll, const char *filter, const vdb_read_opts *ro,
                 uint64_t *n, srv_status *err)
{
    vdb_status st = vdb_count(ctx->db, coll, filter, ro, n);
    return st == VDB_OK ? 0 : srv_fail_vdb(ctx, err, st, coll, MV_PARTITION_NOT_FOUND);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int srv_op_query(srv_ctx *ctx, const srv_coll *c, const char *coll, const char *filter,
                 const vdb_read_opts *ro_in, int64_t limit, int64_t offset, vdb_result **res,
                 srv_status *err)
{
    *res = NULL;
    /* Milvus's maxQueryResultWindow: offset + limit at most 16384 (limit 0: no limit, with a
     * filter; the offset is bounded alone). Compared without forming the sum. */
    if (limit < 0 || offset < 0)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: limit and offset must be "
                        "non-negative, got limit %lld and offset %lld", (long long)limit,
                        (long long)offset);
    if (limit > SRV_MAX_QUERY_WINDOW || offset > SRV_MAX_QUERY_WINDOW - limit)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid max query result window, "
                        "(offset+limit) should be in range [1, %d], but got limit %lld and "
                        "offset %lld", SRV_MAX_QUERY_WINDOW, (long long)limit,
                        (long long)offset);
    int no_filter = !filter || !filter[strspn(filter, " \t\r\n")];
    if (no_filter && limit == 0)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: empty expression should "
                        "be used with limit");
    vdb_read_opts ro = *ro_in;
    if (!ro.travel_ts) { /* both reads below see one snapshot */
        vdb_status st = vdb_now(ctx->db, &ro.travel_ts);
        if (st != VDB_OK)
            return srv_fail_vdb(ctx, err, st, coll, 0);
    }
    /* Milvus answers a query with a limit with the matches of smallest primary key, in key
     * order (the query iterator pages on "pk > last" and relies on it): take the keys of all
     * matches, keep the offset + limit smallest, then read those rows */
    vdb_read_opts keys_only = ro;
    keys_only.output_fields = NULL;
    keys_only.n_output_fields = 0;
    vdb_result *keys;
    vdb_status st = vdb_query(ctx->db, coll, no_filter ? NULL : filter, &keys_only,
                              no_filter ? UINT64_MAX : 0, 0, &keys);
    if (st != VDB_OK)
        return srv_fail_vdb(ctx, err, st, coll, MV_PARTITION_NOT_FOUND);
    size_t n = vdb_result_groups(keys) ? vdb_result_rows(keys, 0) : 0;
    int is_str = c->fields[c->pk].type == VDB_TYPE_VARCHAR;
    int64_t *ints = NULL;
    const char **strs = NULL;
    if (n && !(is_str ? (void *)(strs = malloc(n * sizeof *strs))
                      : (void *)(ints = malloc(n * sizeof *ints)))) {
        vdb_result_free(keys);
        return srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
    }
    for (size_t i = 0; i < n; i++) {
        if (is_str)
            strs[i] = vdb_result_pk_str(keys, 0, i);
        else
            ints[i] = vdb_result_pk_int(keys, 0, i);
    }
    if (n)
        qsort(is_str ? (void *)strs : (void *)ints, n, is_str ? sizeof *strs : sizeof *ints,
              is_str ? cmp_str : cmp_i64);
    size_t from = (uint64_t)offset < n ? (size_t)offset : n;
    size_t take = n - from;
    if (limit && (uint64_t)limit < take)
        take = (size_t)limit;
    vdb_pk_list list = {.ints = ints ? ints + from : NULL, .strs = strs ? strs + from : NULL,
                        .count = take};
    if (take) /* no rows: *res stays NULL */
        st = vdb_get(ctx->db, coll, &list, &ro, res);
    free(ints);
    free(strs);
    vdb_result_free(keys);
    if (st != VDB_OK)
        return srv_fail_vdb(ctx, err, st, coll, MV_PARTITION_NOT_FOUND);
    return 0;
}

int srv_op_search_field(const srv_coll *c, const char *anns, const vdb_field_def **out,
                        srv_status *err)
{
    const vdb_field_def *vf = NULL;
    for (size_t i = 0; i < c->nfields; i++) {
        if (!vdb_type_is_any_vector(c->fields[i].type))
            continue;
        if (anns && *anns ? !strcmp(anns, c->fields[i].name) : !vf)
            vf = &c->fields[i];
        else if (!anns || !*anns)
            return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: the collection has "
                            "several vector fields: name one with annsField");
    }
    if (!vf)
        return anns && *anns ? srv_fail(err, MV_FIELD_NOT_FOUND, "field not found[field=%s]: "
                                        "not a vector field of the collection", anns)
                             : srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: no "
                                        "vector field");
    *out = vf;
    return 0;
}

/* A JSON scalar as a params value ("64", "0.5", "true"); 0 if it is not a scalar. */
static int param_text(json_t *v, char *out, size_t cap)
{
    if (json_is_integer(v))
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, cap, "%.17g", json_real_value(v));
    else if (json_is_string(v))
        snprintf(out, cap, "%s", json_string_value(v));
    else if (json_is_boolean(v))
        snprintf(out, cap, "%s", json_is_true(v) ? "true" : "false");
    else
        return 0;
    return 1;
}

int srv_op_params_text(json_t *params, const char *const *skip, char **out, srv_status *err)
{
    *out = NULL;
    if (!params || json_is_null(params))
        return 0;
    if (!json_is_object(params))
        return srv_fail(err, MV_INCORRECT_FORMAT, "can only accept json format request, error: "
                        "'params' must be an object");
    size_t cap = 256, len = 0;
    char *s = calloc(1, cap);
    if (!s)
        return srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
    const char *key;
    json_t *v;
    json_object_foreach(params, key, v) {
        int skipped = 0;
        for (const char *const *k = skip; k && *k && !skipped; k++)
            skipped = !strcmp(*k, key);
        char val[128];
        if (skipped || json_is_null(v)) /* null: not given */
            continue;
        /* the text is "key=value,...": a value must be a scalar that fits, and neither may
         * hold the separators */
        if (!param_text(v, val, sizeof val) || strlen(val) >= sizeof val - 1 ||
            strpbrk(val, ",=") || strpbrk(key, ",=") || !*key) {
            free(s);
            return srv_fail(err, MV_INCORRECT_FORMAT, "can only accept json format request, "
                            "error: params '%.64s' must be a number, a string or a boolean (of "
                            "at most %zu characters, without ',' or '=')", key, sizeof val - 2);
        }
        size_t need = len + strlen(key) + strlen(val) + 3;
        if (need > cap) {
            char *ns = realloc(s, need * 2);
            if (!ns) {
                free(s);
                return srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
            }
            s = ns;
            cap = need * 2;
        }
        len += (size_t)snprintf(s + len, cap - len, "%s%s=%s", len ? "," : "", key, val);
    }
    if (len)
        *out = s;
    else
        free(s);
    return 0;
}

int srv_op_check_metric(const vdb_field_def *vf, const char *metric, const char *what,
                        srv_status *err)
{
    vdb_metric want;
    if (!metric || !*metric)
        return 0;
    if (srv_metric_from_name(metric, &want) != 0 || want != vf->metric)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: metric type not match: "
                        "%s asks for %s, field '%s' is %s", what, metric, vf->name,
                        vdb_metric_name(vf->metric));
    return 0;
}

int srv_op_search(srv_ctx *ctx, const char *coll, vdb_search_req *sr, int64_t limit,
                  int64_t offset, vdb_result **res, srv_status *err)
{
    *res = NULL;
    /* compared without forming the sum: both come from the request */
    if (limit < 1 || offset < 0 || limit > SRV_MAX_TOPK || offset > SRV_MAX_TOPK - limit)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: limit must be at least 1 "
                        "and (offset+limit) at most %d, but got limit %lld and offset %lld",
                        SRV_MAX_TOPK, (long long)limit, (long long)offset);
    sr->k = (uint32_t)limit;
    sr->offset = (uint32_t)offset; /* skipped by the library (groups, in a grouping search) */
    vdb_status st = vdb_search(ctx->db, sr, res);
    return st == VDB_OK ? 0 : srv_fail_vdb(ctx, err, st, coll, MV_PARTITION_NOT_FOUND);
}

/* ---- indexes ----------------------------------------------------------------------------- */

/* Index types that take no parameters (re-created by type alone). */
static int paramless_type(const char *type)
{
    static const char *const t[] = {"AUTOINDEX", "FLAT",   "STL_SORT", "INVERTED",
                                    "TRIE",      "BITMAP", NULL};
    for (const char *const *p = t; *p; p++)
        if (!strcasecmp(type, *p))
            return 1;
    return 0;
}

/* libvdb fixes a vector field's metric when the collection is created, but Milvus's clients
 * create the collection first and name the metric in the index. While the collection holds
 * nothing at all (no row ever, no index, only "_default"), it is created again with the
 * field's metric changed: the client sees what Milvus does. Writes wait meanwhile. */
static int remetric(srv_ctx *ctx, const char *coll, const char *field, vdb_metric m,
                    srv_status *err)
{
    pthread_rwlock_wrlock(&ctx->schema_lock);
    vdb_schema *old = NULL, *s = NULL;
    vdb_names *parts = NULL, *aliases = NULL;
    vdb_stats stats = {.struct_size = sizeof stats};
    int rc = -1;
    vdb_status st = vdb_describe_collection(ctx->db, coll, &old);
    if (st != VDB_OK) {
        srv_fail_vdb(ctx, err, st, coll, 0);
        goto done;
    }
    coll = vdb_schema_name(old); /* the collection, when coll is an alias of it */
    st = vdb_collection_stats(ctx->db, coll, &stats);
    if (st == VDB_OK)
        st = vdb_list_partitions(ctx->db, coll, &parts);
    if (st == VDB_OK)
        st = vdb_list_aliases(ctx->db, coll, &aliases);
    if (st != VDB_OK) {
        srv_fail_vdb(ctx, err, st, coll, 0);
        goto done;
    }
    /* indexes on other fields come back by type: only those that take no parameters */
    size_t nf = vdb_schema_field_count(old);
    const char **types = calloc(nf ? nf : 1, sizeof *types);
    if (!types) {
        srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
        goto done;
    }
    int indexed = 0;
    for (size_t i = 0; i < nf; i++) {
        vdb_field_def d = {.struct_size = sizeof d};
        vdb_schema_field(old, i, &d);
        if (vdb_describe_index(ctx->db, coll, d.name, &types[i]) != VDB_OK)
            types[i] = NULL;
        else if (!strcmp(d.name, field) || !paramless_type(types[i]))
            indexed = 1;
    }
    if (stats.row_count || stats.growing_rows || stats.sealed_rows || stats.deleted_rows ||
        stats.sealed_segments || parts->count != 1 || aliases->count || indexed) {
        vdb_field_def d = {.struct_size = sizeof d};
        for (size_t i = 0; i < vdb_schema_field_count(old); i++) {
            vdb_schema_field(old, i, &d);
            if (!strcmp(d.name, field))
                break;
        }
        srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: metric type not match: the "
                 "index asks for %s, field '%s' is %s: libvdb fixes a vector field's metric "
                 "when the collection is created (it can change only while the collection is "
                 "empty and has no index nor alias; give it at create, e.g. the field's "
                 "type_params metric_type)", vdb_metric_name(m), field, vdb_metric_name(d.metric));
        free(types);
        goto done;
    }
    if (vdb_schema_new(coll, &s) != VDB_OK) {
        free(types);
        goto fail_vdb;
    }
    for (size_t i = 0; i < vdb_schema_field_count(old); i++) {
        vdb_field_def d = {.struct_size = sizeof d};
        vdb_schema_field(old, i, &d);
        if (!strcmp(d.name, field))
            d.metric = m;
        if (vdb_schema_add_field(s, &d) != VDB_OK) {
            free(types);
            goto fail_vdb;
        }
    }
    if (vdb_schema_set_dynamic(s, vdb_schema_dynamic(old)) != VDB_OK ||
        vdb_schema_set_shards(s, vdb_schema_shards(old)) != VDB_OK) {
        free(types);
        goto fail_vdb;
    }
    free(types);
    vdb_indexes *keep = NULL; /* the indexes come back under their names */
    if ((st = vdb_list_indexes(ctx->db, coll, &keep)) != VDB_OK ||
        (st = vdb_drop_collection(ctx->db, coll)) != VDB_OK ||
        (st = vdb_create_collection(ctx->db, s)) != VDB_OK) {
        srv_fail_vdb(ctx, err, st, coll, 0);
        srv_log(SRV_LOG_ERROR, "re-creating empty collection '%s' for the metric of '%s' "
                "failed: %s", coll, field, err->msg);
        vdb_indexes_free(keep);
        goto done;
    }
    for (size_t i = 0; i < vdb_indexes_count(keep); i++) {
        vdb_index_info x = {.struct_size = sizeof x};
        if (vdb_indexes_get(keep, i, &x) == VDB_OK &&
            (st = vdb_create_index_named(ctx->db, coll, x.field, x.name, x.type, NULL)) !=
                VDB_OK)
            srv_log(SRV_LOG_ERROR, "re-creating the %s index '%s' of '%s.%s' failed: %s",
                    x.type, x.name, coll, x.field, vdb_errmsg(ctx->db));
    }
    vdb_indexes_free(keep);
    srv_log(SRV_LOG_INFO, "collection '%s' (empty) re-created with metric %s on '%s'", coll,
            vdb_metric_name(m), field);
    rc = 0;
    goto done;
fail_vdb:
    srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: %s", vdb_errmsg(NULL));
done:
    vdb_names_free(parts);
    vdb_names_free(aliases);
    vdb_schema_free(s);
    vdb_schema_free(old);
    pthread_rwlock_unlock(&ctx->schema_lock);
    return rc;
}

int srv_op_create_index(srv_ctx *ctx, const char *coll, const srv_coll *c, const char *field,
                        const char *iname, const char *type, const char *metric,
                        json_t *params, srv_status *err)
{
    int fi = srv_coll_find(c, field);
    if (fi < 0)
        return srv_fail(err, MV_FIELD_NOT_FOUND, "field not found[field=%s]", field);
    const vdb_field_def *f = &c->fields[fi];
    if (!type || !*type) {
        json_t *t = json_object_get(params, "index_type");
        type = json_is_string(t) ? json_string_value(t) : "AUTOINDEX";
    }
    if (!metric || !*metric) {
        json_t *m = json_object_get(params, "metric_type");
        metric = json_is_string(m) ? json_string_value(m) : NULL;
    }
    if (vdb_type_is_vector(f->type) && metric && *metric) {
        vdb_metric m;
        if (srv_metric_from_name(metric, &m) != 0)
            return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: metric type '%s' "
                            "(L2, IP, COSINE; HAMMING, JACCARD on binary vectors)", metric);
        if (m != f->metric && remetric(ctx, coll, field, m, err) != 0)
            return -1;
    }
    static const char *const skip[] = {"index_type", "metric_type", NULL};
    char *text = NULL;
    if (srv_op_params_text(params, skip, &text, err))
        return -1;
    srv_write_lock(ctx); /* not while a re-create of the collection runs */
    vdb_status st = vdb_create_index_named(ctx->db, coll, field, iname, type, text);
    srv_write_unlock(ctx);
    free(text);
    if (st == VDB_EUNSUPPORTED)
        return srv_fail(err, MV_INDEX_NOT_SUPPORTED, "index type not supported: %s",
                        vdb_errmsg(ctx->db));
    if (st != VDB_OK)
        return srv_fail_vdb(ctx, err, st, coll, MV_FIELD_NOT_FOUND);
    return 0;
}

int srv_op_list_indexes(srv_ctx *ctx, const char *coll, const char *iname, const char *field,
                        srv_index_info **out, size_t *n, srv_status *err)
{
    *out = NULL;
    *n = 0;
    vdb_indexes *l = NULL;
    vdb_status st = iname && *iname ? vdb_describe_index_by_name(ctx->db, coll, iname, &l)
                                    : vdb_list_indexes(ctx->db, coll, &l);
    if (st == VDB_ENOTFOUND && iname && *iname) {
        if (srv_op_require_collection(ctx, coll, err))
            return -1;
        return srv_fail(err, MV_INDEX_NOT_FOUND, "index not found[collection=%s][indexName=%s]",
                        coll, iname);
    }
    if (st != VDB_OK)
        return srv_fail_vdb(ctx, err, st, coll, MV_INDEX_NOT_FOUND);
    size_t count = vdb_indexes_count(l);
    srv_index_info *a = calloc(count ? count : 1, sizeof *a);
    if (!a) {
        vdb_indexes_free(l);
        return srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
    }
    for (size_t i = 0; i < count; i++) {
        vdb_index_info x = {.struct_size = sizeof x};
        if (vdb_indexes_get(l, i, &x) != VDB_OK || (field && *field && strcmp(x.field, field)))
            continue;
        srv_index_info *o = &a[(*n)++];
        snprintf(o->name, sizeof o->name, "%s", x.name);
        snprintf(o->field, sizeof o->field, "%s", x.field);
        o->type = x.type; /* static strings */
        o->metric = x.metric;
        o->indexed_rows = x.indexed_rows;
        o->total_rows = x.total_rows;
        o->state = (int)x.state;
        snprintf(o->reason, sizeof o->reason, "%s", x.fail_reason);
    }
    vdb_indexes_free(l);
    *out = a;
    return 0;
}

int srv_op_drop_index(srv_ctx *ctx, const char *coll, const char *iname, const char *field,
                      srv_status *err)
{
    int by_name = iname && *iname;
    if (by_name && field && *field) {
        /* both given (gRPC): they must name the same index, or nothing is dropped */
        vdb_indexes *l = NULL;
        vdb_index_info x = {.struct_size = sizeof x};
        vdb_status ds = vdb_describe_index_by_name(ctx->db, coll, iname, &l);
        int agree = ds == VDB_OK && vdb_indexes_get(l, 0, &x) == VDB_OK && x.field &&
                    strcmp(x.field, field) == 0;
        vdb_indexes_free(l);
        if (ds != VDB_OK && ds != VDB_ENOTFOUND)
            return srv_fail_vdb(ctx, err, ds, coll, MV_INDEX_NOT_FOUND);
        if (!agree) {
            if (srv_op_require_collection(ctx, coll, err))
                return -1;
            return srv_fail(err, MV_INDEX_NOT_FOUND,
                            "index not found[collection=%s][indexName=%s][fieldName=%s]", coll,
                            iname, field);
        }
    }
    vdb_status st = by_name ? vdb_drop_index_by_name(ctx->db, coll, iname)
                            : vdb_drop_index(ctx->db, coll, field);
    if (st == VDB_ENOTFOUND) {
        if (srv_op_require_collection(ctx, coll, err))
            return -1;
        return srv_fail(err, MV_INDEX_NOT_FOUND, "index not found[collection=%s][%s=%s]", coll,
                        by_name ? "indexName" : "fieldName", by_name ? iname : field);
    }
    return st == VDB_OK ? 0 : srv_fail_vdb(ctx, err, st, coll, MV_INDEX_NOT_FOUND);
}

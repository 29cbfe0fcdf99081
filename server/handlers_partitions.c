/* vdb-server — /v2/vectordb/partitions/...: create, drop, list, has, stats, load/release. */
#include <stdlib.h>
#include <string.h>

#include "server.h"

static int names(json_t *req, const char **coll, const char **part, json_t **err)
{
    return srv_req_str(req, "collectionName", 1, coll, err) ||
           (part && srv_req_str(req, "partitionName", 1, part, err));
}

json_t *srv_partitions_create(srv_ctx *ctx, json_t *req)
{
    const char *coll, *part;
    json_t *err = NULL;
    if (names(req, &coll, &part, &err))
        return err;
    srv_write_lock(ctx);
    vdb_status st = vdb_create_partition(ctx->db, coll, part);
    srv_write_unlock(ctx);
    return st == VDB_OK ? srv_ok(NULL) : srv_vdb_err(ctx, st, coll, 0);
}

json_t *srv_partitions_drop(srv_ctx *ctx, json_t *req)
{
    const char *coll, *part;
    json_t *err = NULL;
    if (names(req, &coll, &part, &err))
        return err;
    srv_write_lock(ctx);
    vdb_status st = vdb_drop_partition(ctx->db, coll, part);
    srv_write_unlock(ctx);
    return st == VDB_OK ? srv_ok(NULL) : srv_vdb_err(ctx, st, coll, MV_PARTITION_NOT_FOUND);
}

json_t *srv_partitions_list(srv_ctx *ctx, json_t *req)
{
    const char *coll;
    json_t *err = NULL;
    if (names(req, &coll, NULL, &err))
        return err;
    vdb_names *n;
    vdb_status st = vdb_list_partitions(ctx->db, coll, &n);
    if (st != VDB_OK)
        return srv_vdb_err(ctx, st, coll, 0);
    json_t *a = json_array();
    for (size_t i = 0; i < n->count; i++)
        json_array_append_new(a, json_string(n->names[i]));
    vdb_names_free(n);
    return srv_ok(a);
}

/* 1 if the partition exists, 0 if not, -1 with *err on an error. */
static int has_partition(srv_ctx *ctx, const char *coll, const char *part, json_t **err)
{
    int has = 0;
    srv_status st;
    if (srv_op_has_partition(ctx, coll, part, &has, &st)) {
        *err = srv_status_json(&st);
        return -1;
    }
    return has;
}

json_t *srv_partitions_has(srv_ctx *ctx, json_t *req)
{
    const char *coll, *part;
    json_t *err = NULL;
    if (names(req, &coll, &part, &err))
        return err;
    int has = has_partition(ctx, coll, part, &err);
    if (has < 0)
        return err;
    json_t *d = json_object();
    json_object_set_new(d, "has", json_boolean(has));
    return srv_ok(d);
}

json_t *srv_partitions_stats(srv_ctx *ctx, json_t *req)
{
    const char *coll, *part;
    json_t *err = NULL;
    if (names(req, &coll, &part, &err))
        return err;
    uint64_t count = 0;
    srv_status st;
    if (srv_op_partition_rows(ctx, coll, part, &count, &st))
        return srv_status_json(&st);
    json_t *d = json_object();
    json_object_set_new(d, "rowCount", json_integer((json_int_t)count));
    return srv_ok(d);
}

/* load / release: partitions are always loaded; checks they exist. */
json_t *srv_partitions_load(srv_ctx *ctx, json_t *req)
{
    const char *coll;
    const char **parts;
    size_t n;
    json_t *err = NULL;
    if (names(req, &coll, NULL, &err) || srv_req_strs(req, "partitionNames", &parts, &n, &err))
        return err;
    srv_status st;
    if (srv_op_check_partitions(ctx, coll, parts, n, &st))
        err = srv_status_json(&st);
    free(parts);
    return err ? err : srv_ok(NULL);
}

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
    vdb_status st = vdb_create_partition(ctx->db, coll, part);
    return st == VDB_OK ? srv_ok(NULL) : srv_vdb_err(ctx, st, coll, 0);
}

json_t *srv_partitions_drop(srv_ctx *ctx, json_t *req)
{
    const char *coll, *part;
    json_t *err = NULL;
    if (names(req, &coll, &part, &err))
        return err;
    vdb_status st = vdb_drop_partition(ctx->db, coll, part);
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
    vdb_names *n;
    vdb_status st = vdb_list_partitions(ctx->db, coll, &n);
    if (st != VDB_OK) {
        *err = srv_vdb_err(ctx, st, coll, 0);
        return -1;
    }
    int has = 0;
    for (size_t i = 0; i < n->count && !has; i++)
        has = !strcmp(n->names[i], part);
    vdb_names_free(n);
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
    vdb_read_opts ro = {.struct_size = sizeof ro, .partitions = &part, .n_partitions = 1};
    uint64_t count = 0;
    vdb_status st = vdb_count(ctx->db, coll, NULL, &ro, &count);
    if (st != VDB_OK)
        return srv_vdb_err(ctx, st, coll, MV_PARTITION_NOT_FOUND);
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
    int exists = 0;
    if (vdb_has_collection(ctx->db, coll, &exists) == VDB_OK && !exists)
        err = srv_err(MV_COLLECTION_NOT_FOUND, "collection not found[collection=%s]", coll);
    for (size_t i = 0; i < n && !err; i++) {
        int has = has_partition(ctx, coll, parts[i], &err);
        if (has == 0)
            err = srv_err(MV_PARTITION_NOT_FOUND, "partition not found[partition=%s]", parts[i]);
    }
    free(parts);
    return err ? err : srv_ok(NULL);
}

/* vdb-server — /webui/api/...: what the web page shows that REST v2 has no call for: the
 * server's configuration (secrets redacted) and a collection's segments. */
#include "server.h"

json_t *srv_webui_config(srv_ctx *ctx, json_t *req)
{
    (void)req;
    json_t *cfg = srv_config_json(ctx->cfg);
    if (!cfg)
        return srv_err(MV_MEMORY_LIMIT, "memory limit exceeded");
    json_t *d = json_object();
    json_object_set_new(d, "serverVersion", json_string(VDB_VERSION_STRING));
    json_object_set_new(d, "libraryVersion", json_string(vdb_version()));
    json_object_set_new(d, "auth", json_boolean(ctx->cfg->token != NULL));
    json_object_set_new(d, "tls", json_boolean(ctx->cfg->tls_cert != NULL));
    json_object_set_new(d, "config", cfg);
    return srv_ok(d);
}

/* The segments of collectionName (vdb_collection_stats: libvdb's public API counts them by
 * state; it has no list of single segments). */
json_t *srv_webui_segments(srv_ctx *ctx, json_t *req)
{
    const char *name;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 1, &name, &err))
        return err;
    vdb_stats s = {.struct_size = sizeof s};
    vdb_status st = vdb_collection_stats(ctx->db, name, &s);
    if (st != VDB_OK)
        return srv_vdb_err(ctx, st, name, 0);
    json_t *d = json_object();
#define PUT(key, v) json_object_set_new(d, key, json_integer((json_int_t)(v)))
    PUT("rowCount", s.row_count);
    PUT("growingSegments", s.growing_segments);
    PUT("sealedSegments", s.sealed_segments);
    PUT("growingRows", s.growing_rows);
    PUT("sealedRows", s.sealed_rows);
    PUT("deletedRows", s.deleted_rows);
    PUT("numShards", s.num_shards);
    PUT("numPartitions", s.num_partitions);
    PUT("indexBytes", s.index_bytes);
    PUT("indexedRows", s.indexed_rows);
    PUT("failedIndexBuilds", s.failed_index_builds);
    PUT("tornTails", s.torn_tails);
    PUT("readSegments", s.read_segments);
#undef PUT
    return srv_ok(d);
}

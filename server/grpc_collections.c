/* vdb-server — gRPC handlers: the connection (Connect, GetVersion, CheckHealth,
 * AllocTimestamp, databases), collections, partitions, flush and compaction, aliases, rename
 * and truncate. Each decodes its
 * request, calls the shared request layer (ops.c) and packs Milvus's response. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grpc_pb.h"

typedef Milvus__Proto__Milvus__CollectionRequest coll_req;
typedef Milvus__Proto__Milvus__PartitionRequest part_req;

static int need_name(const char *v, const char *what, srv_status *err)
{
    if (!v || !*v)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: %s should not be empty",
                        what);
    return 0;
}

/* ---- the connection ------------------------------------------------------------------------ */

int srv_rpc_connect(srv_rpc *call, srv_status *err)
{
    static int64_t next_id;
    Milvus__Proto__Common__ServerInfo info = MILVUS__PROTO__COMMON__SERVER_INFO__INIT;
    char tags[64];
    snprintf(tags, sizeof tags, "vdb-server %s (libvdb %s)", VDB_VERSION_STRING, vdb_version());
    info.build_tags = tags;
    info.build_time = (char *)__DATE__ " " __TIME__;
    info.git_commit = (char *)"";
    info.go_version = (char *)"";
    info.deploy_mode = (char *)"STANDALONE";
    Milvus__Proto__Milvus__ConnectResponse r = MILVUS__PROTO__MILVUS__CONNECT_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.server_info = &info;
    /* a client id, as Milvus gives one per Connect (the SDKs send it back as metadata) */
    r.identifier = (int64_t)time(NULL) * 1000 + __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
    return srv_rpc_reply(call, &r.base, err);
}

int srv_rpc_get_version(srv_rpc *call, srv_status *err)
{
    Milvus__Proto__Milvus__GetVersionResponse r =
        MILVUS__PROTO__MILVUS__GET_VERSION_RESPONSE__INIT;
    r.status = srv_pb_ok();
    /* the Milvus API level served (SDKs compare it), not libvdb's own version */
    r.version = (char *)"v2.6.0";
    return srv_rpc_reply(call, &r.base, err);
}

int srv_rpc_check_health(srv_rpc *call, srv_status *err)
{
    Milvus__Proto__Milvus__CheckHealthResponse r =
        MILVUS__PROTO__MILVUS__CHECK_HEALTH_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.ishealthy = 1;
    return srv_rpc_reply(call, &r.base, err);
}

int srv_rpc_alloc_timestamp(srv_rpc *call, srv_status *err)
{
    Milvus__Proto__Milvus__AllocTimestampResponse r =
        MILVUS__PROTO__MILVUS__ALLOC_TIMESTAMP_RESPONSE__INIT;
    vdb_status st = vdb_now(call->ctx->db, &r.timestamp);
    if (st != VDB_OK)
        return srv_fail_vdb(call->ctx, err, st, NULL, 0);
    r.status = srv_pb_ok();
    return srv_rpc_reply(call, &r.base, err);
}

/* A stable id for a database ("default" is 1, as in Milvus). */
static int64_t database_id(const char *name)
{
    if (!strcmp(name, "default"))
        return 1;
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (int64_t)(h >> 2) + 2;
}

int srv_rpc_list_databases(srv_rpc *call, srv_status *err)
{
    int rc = srv_rpc_allowed(call, NULL, NULL, NULL, err);
    if (rc)
        return rc;
    vdb_names *n;
    vdb_status st = vdb_list_databases(call->ctx->db, &n);
    if (st != VDB_OK)
        return srv_fail_vdb(call->ctx, err, st, NULL, 0);
    Milvus__Proto__Milvus__ListDatabasesResponse r =
        MILVUS__PROTO__MILVUS__LIST_DATABASES_RESPONSE__INIT;
    uint64_t *created = srv_arena_alloc(&call->arena, (n->count + 1) * sizeof *created);
    int64_t *ids = srv_arena_alloc(&call->arena, (n->count + 1) * sizeof *ids);
    if (!created || !ids) {
        vdb_names_free(n);
        return srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
    }
    for (size_t i = 0; i < n->count; i++) {
        created[i] = 0;
        ids[i] = database_id(n->names[i]);
    }
    r.status = srv_pb_ok();
    r.n_db_names = r.n_created_timestamp = r.n_db_ids = n->count;
    r.db_names = n->names;
    r.created_timestamp = created;
    r.db_ids = ids;
    rc = srv_rpc_reply(call, &r.base, err);
    vdb_names_free(n);
    return rc;
}

static int describe_database(srv_rpc *call, Milvus__Proto__Milvus__DescribeDatabaseRequest *req,
                             srv_status *err)
{
    const char *name = call->db ? call->db : "default"; /* srv_rpc_db checked it exists */
    (void)req;
    Milvus__Proto__Milvus__DescribeDatabaseResponse r =
        MILVUS__PROTO__MILVUS__DESCRIBE_DATABASE_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.db_name = (char *)name;
    r.dbid = database_id(name);
    return srv_rpc_reply(call, &r.base, err);
}

static int db_fail(srv_rpc *call, vdb_status st, srv_status *err)
{
    if (st == VDB_ENOTFOUND)
        return srv_fail(err, MV_DATABASE_NOT_FOUND, "%s", vdb_errmsg(call->ctx->db));
    if (st == VDB_EEXIST)
        return srv_fail(err, MV_UNEXPECTED, "%s", vdb_errmsg(call->ctx->db));
    return srv_fail_vdb(call->ctx, err, st, NULL, 0);
}

/* db_name names the database made or dropped: not a scope, so srv_rpc_db is not asked. */
int srv_rpc_create_database(srv_rpc *call, srv_status *err)
{
    Milvus__Proto__Milvus__CreateDatabaseRequest *req =
        milvus__proto__milvus__create_database_request__unpack(NULL, call->len, call->in);
    if (!req)
        return srv_rpc_malformed(call);
    int rc = srv_rpc_allowed(call, &req->base, NULL, NULL, err);
    vdb_status st;
    if (rc || need_name(req->db_name, "database name", err))
        rc = rc ? rc : -1;
    else if (req->n_properties)
        rc = srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: database property '%s' "
                      "is not supported by vdb-server", req->properties[0]->key);
    else if ((st = vdb_create_database(call->ctx->db, req->db_name)) != VDB_OK)
        rc = db_fail(call, st, err);
    else
        rc = srv_rpc_reply(call, &srv_pb_ok()->base, err);
    milvus__proto__milvus__create_database_request__free_unpacked(req, NULL);
    return rc;
}

int srv_rpc_drop_database(srv_rpc *call, srv_status *err)
{
    Milvus__Proto__Milvus__DropDatabaseRequest *req =
        milvus__proto__milvus__drop_database_request__unpack(NULL, call->len, call->in);
    if (!req)
        return srv_rpc_malformed(call);
    int rc = srv_rpc_allowed(call, &req->base, NULL, NULL, err);
    vdb_status st;
    if (rc || need_name(req->db_name, "database name", err))
        rc = rc ? rc : -1;
    else if ((st = vdb_drop_database(call->ctx->db, req->db_name)) != VDB_OK)
        rc = db_fail(call, st, err);
    else
        rc = srv_rpc_reply(call, &srv_pb_ok()->base, err);
    milvus__proto__milvus__drop_database_request__free_unpacked(req, NULL);
    return rc;
}
HANDLER(srv_rpc_describe_database, Milvus__Proto__Milvus__DescribeDatabaseRequest,
        milvus__proto__milvus__describe_database_request, describe_database)

/* ---- collections --------------------------------------------------------------------------- */

int64_t srv_collection_id(const char *name)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (int64_t)(h >> 2) + 1;
}

static int create_collection(srv_rpc *call, Milvus__Proto__Milvus__CreateCollectionRequest *req,
                             srv_status *err)
{
    if (need_name(req->collection_name, "collection name", err))
        return -1;
    enum { MAX_PROPS = 64 };
    if (req->n_properties > MAX_PROPS)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: at most %d properties",
                        MAX_PROPS);
    const char *keys[MAX_PROPS], *vals[MAX_PROPS];
    for (size_t i = 0; i < req->n_properties; i++) {
        keys[i] = req->properties[i]->key;
        vals[i] = req->properties[i]->value;
    }
    vdb_create_opts opts = {.struct_size = sizeof opts, .property_keys = keys,
                            .property_values = vals, .n_properties = req->n_properties};
    if (req->num_partitions < 0 || req->num_partitions > 1024)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: num_partitions must be "
                        "1..1024, got %lld", (long long)req->num_partitions);
    vdb_schema *s = srv_pb_schema_to_vdb(req->collection_name, &req->schema, req->shards_num,
                                         err);
    if (!s)
        return -1;
    if (req->num_partitions > 0 &&
        vdb_schema_set_partitions(s, (uint32_t)req->num_partitions) != VDB_OK) {
        vdb_schema_free(s);
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: %s", vdb_errmsg(NULL));
    }
    vdb_status st = vdb_create_collection_opts(call->ctx->db, s, &opts);
    vdb_schema_free(s);
    if (st != VDB_OK)
        return srv_fail_vdb(call->ctx, err, st, NULL, 0);
    srv_log(SRV_LOG_INFO, "created collection '%s'", req->collection_name);
    return srv_rpc_reply(call, &srv_pb_ok()->base, err);
}
HANDLER(srv_rpc_create_collection, Milvus__Proto__Milvus__CreateCollectionRequest,
        milvus__proto__milvus__create_collection_request, create_collection)

static int drop_collection(srv_rpc *call, coll_req *req, srv_status *err)
{
    if (need_name(req->collection_name, "collection name", err) ||
        srv_op_drop_collection(call->ctx, req->collection_name, err))
        return -1;
    return srv_rpc_reply(call, &srv_pb_ok()->base, err);
}
HANDLER(srv_rpc_drop_collection, coll_req, milvus__proto__milvus__collection_request,
        drop_collection)

static int has_collection(srv_rpc *call, coll_req *req, srv_status *err)
{
    if (need_name(req->collection_name, "collection name", err))
        return -1;
    int exists = 0;
    vdb_status st = vdb_has_collection(call->ctx->db, req->collection_name, &exists);
    if (st != VDB_OK)
        return srv_fail_vdb(call->ctx, err, st, NULL, 0);
    Milvus__Proto__Milvus__BoolResponse r = MILVUS__PROTO__MILVUS__BOOL_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.value = exists;
    return srv_rpc_reply(call, &r.base, err);
}
HANDLER(srv_rpc_has_collection, coll_req, milvus__proto__milvus__collection_request,
        has_collection)

static int describe_collection(srv_rpc *call, coll_req *req, srv_status *err)
{
    if (need_name(req->collection_name, "collection name", err))
        return -1;
    vdb_schema *s;
    vdb_status st = vdb_describe_collection(call->ctx->db, req->collection_name, &s);
    if (st != VDB_OK)
        return srv_fail_vdb(call->ctx, err, st, req->collection_name, 0);
    const char *name = vdb_schema_name(s); /* the collection's, when asked by an alias */
    pb_schema *ps = srv_pb_schema_from_vdb(s);
    vdb_names *aliases = NULL;
    vdb_list_aliases(call->ctx->db, name, &aliases);
    vdb_names *parts = NULL;
    int64_t nparts = 1;
    if (vdb_list_partitions(call->ctx->db, req->collection_name, &parts) == VDB_OK) {
        nparts = (int64_t)parts->count;
        vdb_names_free(parts);
    }
    vdb_names *pk = NULL, *pv = NULL;
    pb_kv *kvs = NULL, **kvp = NULL;
    int rc;
    if (vdb_describe_collection_properties(call->ctx->db, req->collection_name, &pk, &pv) ==
            VDB_OK && pk->count) {
        kvs = calloc(pk->count, sizeof *kvs);
        kvp = calloc(pk->count, sizeof *kvp);
    }
    if (!ps || (pk && pk->count && (!kvs || !kvp))) {
        rc = srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
    } else {
        Milvus__Proto__Milvus__DescribeCollectionResponse r =
            MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_RESPONSE__INIT;
        r.status = srv_pb_ok();
        r.schema = ps;
        r.collectionid = srv_collection_id(name);
        r.shards_num = (int32_t)vdb_schema_shards(s);
        r.consistency_level = MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Strong;
        r.collection_name = (char *)srv_bare_name(name);
        r.db_name = (char *)(call->db ? call->db : "default");
        r.num_partitions = nparts;
        if (aliases) {
            for (size_t i = 0; i < aliases->count; i++) /* names within the database */
                memmove(aliases->names[i], srv_bare_name(aliases->names[i]),
                        strlen(srv_bare_name(aliases->names[i])) + 1);
            r.n_aliases = aliases->count;
            r.aliases = aliases->names;
        }
        for (size_t i = 0; kvs && i < pk->count; i++) {
            kvs[i] = (pb_kv)MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT;
            kvs[i].key = pk->names[i];
            kvs[i].value = pv->names[i];
            kvp[i] = &kvs[i];
        }
        r.n_properties = kvs ? pk->count : 0;
        r.properties = kvp;
        rc = srv_rpc_reply(call, &r.base, err);
    }
    free(kvs);
    free(kvp);
    vdb_names_free(pk);
    vdb_names_free(pv);
    srv_pb_schema_free(ps);
    vdb_names_free(aliases);
    vdb_schema_free(s);
    return rc;
}
HANDLER(srv_rpc_describe_collection, coll_req, milvus__proto__milvus__collection_request,
        describe_collection)

static int show_collections(srv_rpc *call, Milvus__Proto__Milvus__ShowCollectionsRequest *req,
                            srv_status *err)
{
    vdb_names *names;
    vdb_status st = vdb_list_collections_in(call->ctx->db, call->db, &names);
    if (st != VDB_OK)
        return srv_fail_vdb(call->ctx, err, st, NULL, 0);
    size_t n = 0;
    char **out = srv_arena_alloc(&call->arena, (names->count + 1) * sizeof *out);
    int64_t *ids = srv_arena_alloc(&call->arena, (names->count + 1) * sizeof *ids);
    uint64_t *zeros = srv_arena_alloc(&call->arena, (names->count + 1) * sizeof *zeros);
    int64_t *pct = srv_arena_alloc(&call->arena, (names->count + 1) * sizeof *pct);
    protobuf_c_boolean *avail = srv_arena_alloc(&call->arena, (names->count + 1) * sizeof *avail);
    int32_t *shards = srv_arena_alloc(&call->arena, (names->count + 1) * sizeof *shards);
    if (!out || !ids || !zeros || !pct || !avail || !shards) {
        vdb_names_free(names);
        return srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
    }
    for (size_t i = 0; i < names->count; i++) {
        int wanted = !req->n_collection_names;
        for (size_t k = 0; k < req->n_collection_names && !wanted; k++)
            wanted = !strcmp(req->collection_names[k], names->names[i]);
        if (!wanted)
            continue;
        out[n] = names->names[i];
        ids[n] = srv_collection_id(names->names[i]);
        pct[n] = 100; /* every collection is loaded */
        avail[n] = 1;
        shards[n] = 1;
        n++;
    }
    Milvus__Proto__Milvus__ShowCollectionsResponse r =
        MILVUS__PROTO__MILVUS__SHOW_COLLECTIONS_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.n_collection_names = r.n_collection_ids = r.n_created_timestamps =
        r.n_created_utc_timestamps = r.n_inmemory_percentages = r.n_query_service_available =
            r.n_shards_num = n;
    r.collection_names = out;
    r.collection_ids = ids;
    r.created_timestamps = r.created_utc_timestamps = zeros;
    r.inmemory_percentages = pct;
    r.query_service_available = avail;
    r.shards_num = shards;
    int rc = srv_rpc_reply(call, &r.base, err);
    vdb_names_free(names);
    return rc;
}
HANDLER(srv_rpc_show_collections, Milvus__Proto__Milvus__ShowCollectionsRequest,
        milvus__proto__milvus__show_collections_request, show_collections)

static int reply_row_count(srv_rpc *call, uint64_t rows, srv_status *err)
{
    char num[32];
    snprintf(num, sizeof num, "%llu", (unsigned long long)rows);
    pb_kv kv = MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT, *kvs[] = {&kv};
    kv.key = (char *)"row_count";
    kv.value = num;
    Milvus__Proto__Milvus__StatisticsResponse r = MILVUS__PROTO__MILVUS__STATISTICS_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.n_stats = 1;
    r.stats = kvs;
    return srv_rpc_reply(call, &r.base, err);
}

static int collection_stats(srv_rpc *call, coll_req *req, srv_status *err)
{
    if (need_name(req->collection_name, "collection name", err))
        return -1;
    vdb_stats s = {.struct_size = sizeof s};
    vdb_status st = vdb_collection_stats(call->ctx->db, req->collection_name, &s);
    if (st != VDB_OK)
        return srv_fail_vdb(call->ctx, err, st, req->collection_name, 0);
    return reply_row_count(call, s.row_count, err);
}
HANDLER(srv_rpc_collection_stats, coll_req, milvus__proto__milvus__collection_request,
        collection_stats)

/* Load and Release: every collection is always loaded; checks it exists. */
static int load_collection(srv_rpc *call, coll_req *req, srv_status *err)
{
    if (need_name(req->collection_name, "collection name", err) ||
        srv_op_require_collection(call->ctx, req->collection_name, err))
        return -1;
    return srv_rpc_reply(call, &srv_pb_ok()->base, err);
}
HANDLER(srv_rpc_load_collection, coll_req, milvus__proto__milvus__collection_request,
        load_collection)

static int check_load(srv_rpc *call, Milvus__Proto__Milvus__LoadStateRequest *req,
                      srv_status *err)
{
    if (need_name(req->collection_name, "collection name", err))
        return -1;
    return srv_op_check_partitions(call->ctx, req->collection_name,
                                   (const char *const *)req->partition_names,
                                   req->n_partition_names, err);
}

static int get_load_state(srv_rpc *call, Milvus__Proto__Milvus__LoadStateRequest *req,
                          srv_status *err)
{
    if (check_load(call, req, err))
        return -1;
    Milvus__Proto__Milvus__GetLoadStateResponse r =
        MILVUS__PROTO__MILVUS__GET_LOAD_STATE_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.state = MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateLoaded;
    return srv_rpc_reply(call, &r.base, err);
}
HANDLER(srv_rpc_get_load_state, Milvus__Proto__Milvus__LoadStateRequest,
        milvus__proto__milvus__load_state_request, get_load_state)

static int get_loading_progress(srv_rpc *call, Milvus__Proto__Milvus__LoadStateRequest *req,
                                srv_status *err)
{
    if (check_load(call, req, err))
        return -1;
    Milvus__Proto__Milvus__GetLoadingProgressResponse r =
        MILVUS__PROTO__MILVUS__GET_LOADING_PROGRESS_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.progress = 100;
    r.refresh_progress = 100;
    return srv_rpc_reply(call, &r.base, err);
}
HANDLER(srv_rpc_get_loading_progress, Milvus__Proto__Milvus__LoadStateRequest,
        milvus__proto__milvus__load_state_request, get_loading_progress)

static int flush(srv_rpc *call, Milvus__Proto__Milvus__FlushRequest *req, srv_status *err)
{
    size_t n = req->n_collection_names;
    Milvus__Proto__Milvus__CollectionSegments **segs =
        srv_arena_alloc(&call->arena, (n + 1) * sizeof *segs);
    Milvus__Proto__Milvus__CollectionTimestamp **tss =
        srv_arena_alloc(&call->arena, (n + 1) * sizeof *tss);
    Milvus__Proto__Milvus__CollectionSealTime **seal =
        srv_arena_alloc(&call->arena, (n + 1) * sizeof *seal);
    if (!segs || !tss || !seal)
        return srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
    for (size_t i = 0; i < n; i++) {
        const char *name = req->collection_names[i];
        vdb_status st = vdb_flush(call->ctx->db, name);
        if (st != VDB_OK)
            return srv_fail_vdb(call->ctx, err, st, name, 0);
        uint64_t ts = 0;
        vdb_now(call->ctx->db, &ts); /* everything before it is sealed (GetFlushState) */
        segs[i] = srv_arena_alloc(&call->arena, sizeof *segs[i]);
        Milvus__Proto__Schema__LongArray *la = srv_arena_alloc(&call->arena, sizeof *la);
        tss[i] = srv_arena_alloc(&call->arena, sizeof *tss[i]);
        seal[i] = srv_arena_alloc(&call->arena, sizeof *seal[i]);
        if (!segs[i] || !la || !tss[i] || !seal[i])
            return srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
        milvus__proto__milvus__collection_segments__init(segs[i]);
        milvus__proto__schema__long_array__init(la);
        segs[i]->key = (char *)name;
        segs[i]->value = la;
        milvus__proto__milvus__collection_timestamp__init(tss[i]);
        tss[i]->key = (char *)name;
        tss[i]->value = ts;
        milvus__proto__milvus__collection_seal_time__init(seal[i]);
        seal[i]->key = (char *)name;
        seal[i]->value = (int64_t)(ts >> 18) / 1000; /* the physical part, in seconds */
    }
    Milvus__Proto__Milvus__FlushResponse r = MILVUS__PROTO__MILVUS__FLUSH_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.db_name = (char *)"default";
    r.n_coll_segids = r.n_flush_coll_segids = r.n_coll_flush_ts = r.n_coll_seal_times = n;
    r.coll_segids = r.flush_coll_segids = segs;
    r.coll_flush_ts = tss;
    r.coll_seal_times = seal;
    return srv_rpc_reply(call, &r.base, err);
}
HANDLER(srv_rpc_flush, Milvus__Proto__Milvus__FlushRequest,
        milvus__proto__milvus__flush_request, flush)

/* Flush seals before it answers: any flush it asks about is done. */
static int get_flush_state(srv_rpc *call, Milvus__Proto__Milvus__GetFlushStateRequest *req,
                           srv_status *err)
{
    if (req->collection_name && *req->collection_name &&
        srv_op_require_collection(call->ctx, req->collection_name, err))
        return -1;
    Milvus__Proto__Milvus__GetFlushStateResponse r =
        MILVUS__PROTO__MILVUS__GET_FLUSH_STATE_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.flushed = 1;
    return srv_rpc_reply(call, &r.base, err);
}
HANDLER(srv_rpc_get_flush_state, Milvus__Proto__Milvus__GetFlushStateRequest,
        milvus__proto__milvus__get_flush_state_request, get_flush_state)

static int manual_compaction(srv_rpc *call, Milvus__Proto__Milvus__ManualCompactionRequest *req,
                             srv_status *err)
{
    if (need_name(req->collection_name, "collection name", err))
        return -1;
    vdb_status st = vdb_compact(call->ctx->db, req->collection_name);
    if (st != VDB_OK)
        return srv_fail_vdb(call->ctx, err, st, req->collection_name, 0);
    Milvus__Proto__Milvus__ManualCompactionResponse r =
        MILVUS__PROTO__MILVUS__MANUAL_COMPACTION_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.compactionid = 1; /* done when this answers: GetCompactionState says Completed */
    return srv_rpc_reply(call, &r.base, err);
}
HANDLER(srv_rpc_manual_compaction, Milvus__Proto__Milvus__ManualCompactionRequest,
        milvus__proto__milvus__manual_compaction_request, manual_compaction)

int srv_rpc_get_compaction_state(srv_rpc *call, srv_status *err)
{
    Milvus__Proto__Milvus__GetCompactionStateRequest *req =
        milvus__proto__milvus__get_compaction_state_request__unpack(NULL, call->len, call->in);
    if (!req)
        return srv_rpc_malformed(call);
    milvus__proto__milvus__get_compaction_state_request__free_unpacked(req, NULL);
    Milvus__Proto__Milvus__GetCompactionStateResponse r =
        MILVUS__PROTO__MILVUS__GET_COMPACTION_STATE_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.state = MILVUS__PROTO__COMMON__COMPACTION_STATE__Completed;
    return srv_rpc_reply(call, &r.base, err);
}

/* ---- partitions ---------------------------------------------------------------------------- */

static int part_names(part_req *req, srv_status *err)
{
    return need_name(req->collection_name, "collection name", err) ||
           need_name(req->partition_name, "partition name", err);
}

static int create_partition(srv_rpc *call, part_req *req, srv_status *err)
{
    if (part_names(req, err))
        return -1;
    srv_write_lock(call->ctx);
    vdb_status st = vdb_create_partition(call->ctx->db, req->collection_name, req->partition_name);
    srv_write_unlock(call->ctx);
    if (st != VDB_OK)
        return srv_fail_vdb(call->ctx, err, st, req->collection_name, 0);
    return srv_rpc_reply(call, &srv_pb_ok()->base, err);
}
HANDLER(srv_rpc_create_partition, part_req, milvus__proto__milvus__partition_request,
        create_partition)

static int drop_partition(srv_rpc *call, part_req *req, srv_status *err)
{
    if (part_names(req, err))
        return -1;
    srv_write_lock(call->ctx);
    vdb_status st = vdb_drop_partition(call->ctx->db, req->collection_name, req->partition_name);
    srv_write_unlock(call->ctx);
    if (st != VDB_OK)
        return srv_fail_vdb(call->ctx, err, st, req->collection_name, MV_PARTITION_NOT_FOUND);
    return srv_rpc_reply(call, &srv_pb_ok()->base, err);
}
HANDLER(srv_rpc_drop_partition, part_req, milvus__proto__milvus__partition_request,
        drop_partition)

static int has_partition(srv_rpc *call, part_req *req, srv_status *err)
{
    int has = 0;
    if (part_names(req, err) ||
        srv_op_has_partition(call->ctx, req->collection_name, req->partition_name, &has, err))
        return -1;
    Milvus__Proto__Milvus__BoolResponse r = MILVUS__PROTO__MILVUS__BOOL_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.value = has;
    return srv_rpc_reply(call, &r.base, err);
}
HANDLER(srv_rpc_has_partition, part_req, milvus__proto__milvus__partition_request,
        has_partition)

static int show_partitions(srv_rpc *call, Milvus__Proto__Milvus__ShowPartitionsRequest *req,
                           srv_status *err)
{
    if (need_name(req->collection_name, "collection name", err))
        return -1;
    vdb_names *names;
    vdb_status st = vdb_list_partitions(call->ctx->db, req->collection_name, &names);
    if (st != VDB_OK)
        return srv_fail_vdb(call->ctx, err, st, req->collection_name, 0);
    size_t m = names->count + 1;
    char **out = srv_arena_alloc(&call->arena, m * sizeof *out);
    int64_t *ids = srv_arena_alloc(&call->arena, m * sizeof *ids);
    uint64_t *zeros = srv_arena_alloc(&call->arena, m * sizeof *zeros);
    int64_t *pct = srv_arena_alloc(&call->arena, m * sizeof *pct);
    if (!out || !ids || !zeros || !pct) {
        vdb_names_free(names);
        return srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
    }
    size_t n = 0;
    for (size_t i = 0; i < names->count; i++) {
        int wanted = !req->n_partition_names;
        for (size_t k = 0; k < req->n_partition_names && !wanted; k++)
            wanted = !strcmp(req->partition_names[k], names->names[i]);
        if (!wanted)
            continue;
        out[n] = names->names[i];
        ids[n] = srv_collection_id(names->names[i]) ^ srv_collection_id(req->collection_name);
        pct[n] = 100;
        n++;
    }
    Milvus__Proto__Milvus__ShowPartitionsResponse r =
        MILVUS__PROTO__MILVUS__SHOW_PARTITIONS_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.n_partition_names = r.n_partitionids = r.n_created_timestamps =
        r.n_created_utc_timestamps = r.n_inmemory_percentages = n;
    r.partition_names = out;
    r.partitionids = ids;
    r.created_timestamps = r.created_utc_timestamps = zeros;
    r.inmemory_percentages = pct;
    int rc = srv_rpc_reply(call, &r.base, err);
    vdb_names_free(names);
    return rc;
}
HANDLER(srv_rpc_show_partitions, Milvus__Proto__Milvus__ShowPartitionsRequest,
        milvus__proto__milvus__show_partitions_request, show_partitions)

/* Load and Release of partitions: always loaded; checks they exist. */
static int load_partitions(srv_rpc *call, Milvus__Proto__Milvus__PartitionsRequest *req,
                           srv_status *err)
{
    if (need_name(req->collection_name, "collection name", err) ||
        srv_op_check_partitions(call->ctx, req->collection_name,
                                (const char *const *)req->partition_names,
                                req->n_partition_names, err))
        return -1;
    return srv_rpc_reply(call, &srv_pb_ok()->base, err);
}
HANDLER(srv_rpc_load_partitions, Milvus__Proto__Milvus__PartitionsRequest,
        milvus__proto__milvus__partitions_request, load_partitions)

static int partition_stats(srv_rpc *call, part_req *req, srv_status *err)
{
    uint64_t rows = 0;
    if (part_names(req, err) ||
        srv_op_partition_rows(call->ctx, req->collection_name, req->partition_name, &rows, err))
        return -1;
    return reply_row_count(call, rows, err);
}
HANDLER(srv_rpc_partition_stats, part_req, milvus__proto__milvus__partition_request,
        partition_stats)

/* ---- aliases, rename, truncate ------------------------------------------------------------- */

typedef Milvus__Proto__Milvus__AliasRequest alias_req;
typedef Milvus__Proto__Milvus__AliasNameRequest alias_name_req;

static int alias_pair(srv_rpc *call, alias_req *req, srv_alias_op op, srv_status *err)
{
    if (need_name(req->collection_name, "collection name", err) ||
        need_name(req->alias, "alias", err) ||
        srv_op_alias(call->ctx, op, req->collection_name, req->alias, err))
        return -1;
    return srv_rpc_reply(call, &srv_pb_ok()->base, err);
}

static int create_alias(srv_rpc *call, alias_req *req, srv_status *err)
{
    return alias_pair(call, req, SRV_ALIAS_CREATE, err);
}
HANDLER(srv_rpc_create_alias, alias_req, milvus__proto__milvus__alias_request, create_alias)

static int alter_alias(srv_rpc *call, alias_req *req, srv_status *err)
{
    return alias_pair(call, req, SRV_ALIAS_ALTER, err);
}
HANDLER(srv_rpc_alter_alias, alias_req, milvus__proto__milvus__alias_request, alter_alias)

static int drop_alias(srv_rpc *call, alias_name_req *req, srv_status *err)
{
    if (need_name(req->alias, "alias", err) ||
        srv_op_alias(call->ctx, SRV_ALIAS_DROP, NULL, req->alias, err))
        return -1;
    return srv_rpc_reply(call, &srv_pb_ok()->base, err);
}
HANDLER(srv_rpc_drop_alias, alias_name_req, milvus__proto__milvus__alias_name_request,
        drop_alias)

static int describe_alias(srv_rpc *call, alias_name_req *req, srv_status *err)
{
    char coll[2 * VDB_MAX_NAME_LEN + 2];
    if (need_name(req->alias, "alias", err) ||
        srv_op_describe_alias(call->ctx, req->alias, coll, sizeof coll, err))
        return -1;
    Milvus__Proto__Milvus__DescribeAliasResponse r =
        MILVUS__PROTO__MILVUS__DESCRIBE_ALIAS_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.db_name = (char *)(call->db ? call->db : "default");
    r.alias = (char *)srv_bare_name(req->alias);
    r.collection = (char *)srv_bare_name(coll);
    return srv_rpc_reply(call, &r.base, err);
}
HANDLER(srv_rpc_describe_alias, alias_name_req, milvus__proto__milvus__alias_name_request,
        describe_alias)

static int list_aliases(srv_rpc *call, coll_req *req, srv_status *err)
{
    vdb_names *n;
    if (srv_op_list_aliases(call->ctx, req->collection_name, &n, err))
        return -1;
    Milvus__Proto__Milvus__ListAliasesResponse r =
        MILVUS__PROTO__MILVUS__LIST_ALIASES_RESPONSE__INIT;
    /* this database's aliases, by their names in it */
    size_t k = 0, dl = call->db ? strlen(call->db) : 0;
    for (size_t i = 0; i < n->count; i++) {
        const char *nm = n->names[i], *dot = strchr(nm, '.');
        if (call->db ? !(dot && (size_t)(dot - nm) == dl && !strncmp(nm, call->db, dl)) : !!dot)
            continue;
        memmove(n->names[i], srv_bare_name(nm), strlen(srv_bare_name(nm)) + 1);
        char *t = n->names[k];
        n->names[k++] = n->names[i];
        n->names[i] = t;
    }
    r.status = srv_pb_ok();
    r.db_name = (char *)(call->db ? call->db : "default");
    r.collection_name = (char *)srv_bare_name(req->collection_name);
    r.n_aliases = k;
    r.aliases = n->names;
    int rc = srv_rpc_reply(call, &r.base, err);
    vdb_names_free(n);
    return rc;
}
HANDLER(srv_rpc_list_aliases, coll_req, milvus__proto__milvus__collection_request,
        list_aliases)

static int rename_collection(srv_rpc *call, Milvus__Proto__Milvus__RenameCollectionRequest *req,
                             srv_status *err)
{
    if (need_name(req->oldname, "old collection name", err) ||
        need_name(req->newname, "new collection name", err) ||
        srv_op_rename_collection(call->ctx, req->oldname, req->newname, req->newdbname, err))
        return -1;
    return srv_rpc_reply(call, &srv_pb_ok()->base, err);
}
HANDLER(srv_rpc_rename_collection, Milvus__Proto__Milvus__RenameCollectionRequest,
        milvus__proto__milvus__rename_collection_request, rename_collection)

/* Milvus's AlterCollection: properties set, or delete_keys dropped (one of the two, as
 * Milvus); each one meta transaction. */
static int alter_collection(srv_rpc *call, Milvus__Proto__Milvus__AlterCollectionRequest *req,
                            srv_status *err)
{
    enum { MAX_PROPS = 64 };
    if (need_name(req->collection_name, "collection name", err))
        return -1;
    if (req->n_properties && req->n_delete_keys)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: cannot provide both "
                        "DeleteKeys and ExtraParams");
    size_t n = req->n_properties ? req->n_properties : req->n_delete_keys;
    if (!n || n > MAX_PROPS)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: 1..%d properties or "
                        "delete_keys are needed", MAX_PROPS);
    const char *keys[MAX_PROPS], *vals[MAX_PROPS];
    for (size_t i = 0; i < n; i++) {
        keys[i] = req->n_properties ? req->properties[i]->key : req->delete_keys[i];
        vals[i] = req->n_properties ? req->properties[i]->value : NULL;
    }
    if (srv_op_alter_properties(call->ctx, req->collection_name, keys,
                                req->n_properties ? vals : NULL, n, err))
        return -1;
    return srv_rpc_reply(call, &srv_pb_ok()->base, err);
}
HANDLER(srv_rpc_alter_collection, Milvus__Proto__Milvus__AlterCollectionRequest,
        milvus__proto__milvus__alter_collection_request, alter_collection)

/* Milvus 2.6's AddCollectionField: one nullable scalar field (vdb_add_collection_field). */
static int add_collection_field(srv_rpc *call,
                                Milvus__Proto__Milvus__AddCollectionFieldRequest *req,
                                srv_status *err)
{
    if (need_name(req->collection_name, "collection name", err) ||
        srv_pb_add_field(call->ctx, req->collection_name, &req->schema, err))
        return -1;
    return srv_rpc_reply(call, &srv_pb_ok()->base, err);
}
HANDLER(srv_rpc_add_collection_field, Milvus__Proto__Milvus__AddCollectionFieldRequest,
        milvus__proto__milvus__add_collection_field_request, add_collection_field)

static int truncate_collection(srv_rpc *call, coll_req *req, srv_status *err)
{
    if (need_name(req->collection_name, "collection name", err) ||
        srv_op_truncate_collection(call->ctx, req->collection_name, err))
        return -1;
    Milvus__Proto__Milvus__StatusOnly r = MILVUS__PROTO__MILVUS__STATUS_ONLY__INIT;
    r.status = srv_pb_ok();
    return srv_rpc_reply(call, &r.base, err);
}
HANDLER(srv_rpc_truncate_collection, coll_req, milvus__proto__milvus__collection_request,
        truncate_collection)

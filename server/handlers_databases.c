/* vdb-server — /v2/vectordb/databases/...: create, drop, list, describe (libvdb's databases:
 * vdb.h). dbName here names the database acted on. */
#include <string.h>

#include "server.h"

/* A stable id for a database (Milvus's are numbers; "default" is 1, as in Milvus). */
static int64_t database_id(const char *name)
{
    if (!strcmp(name, "default"))
        return 1;
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (int64_t)(h >> 2) + 2;
}

static json_t *db_fail(srv_ctx *ctx, vdb_status st)
{
    if (st == VDB_ENOTFOUND)
        return srv_err(MV_DATABASE_NOT_FOUND, "%s", vdb_errmsg(ctx->db));
    if (st == VDB_EEXIST)
        return srv_err(MV_UNEXPECTED, "%s", vdb_errmsg(ctx->db)); /* as Milvus answers it */
    return srv_vdb_err(ctx, st, NULL, 0);
}

static json_t *no_properties(json_t *req)
{
    json_t *p = json_object_get(req, "properties");
    if (p && !json_is_null(p) && !(json_is_object(p) && !json_object_size(p)) &&
        !(json_is_array(p) && !json_array_size(p)))
        return srv_err(MV_PARAMETER_INVALID, "invalid parameter: database properties are not "
                                             "supported by vdb-server");
    return NULL;
}

json_t *srv_databases_create(srv_ctx *ctx, json_t *req)
{
    const char *name;
    json_t *err = NULL;
    if (srv_req_str(req, "dbName", 1, &name, &err))
        return err;
    if ((err = no_properties(req)))
        return err;
    vdb_status st = vdb_create_database(ctx->db, name);
    if (st != VDB_OK)
        return db_fail(ctx, st);
    srv_log(SRV_LOG_INFO, "created database '%s'", name);
    return srv_ok(NULL);
}

json_t *srv_databases_drop(srv_ctx *ctx, json_t *req)
{
    const char *name;
    json_t *err = NULL;
    if (srv_req_str(req, "dbName", 1, &name, &err))
        return err;
    vdb_status st = vdb_drop_database(ctx->db, name);
    if (st != VDB_OK)
        return db_fail(ctx, st);
    srv_log(SRV_LOG_INFO, "dropped database '%s'", name);
    return srv_ok(NULL);
}

json_t *srv_databases_list(srv_ctx *ctx, json_t *req)
{
    (void)req;
    vdb_names *n;
    vdb_status st = vdb_list_databases(ctx->db, &n);
    if (st != VDB_OK)
        return db_fail(ctx, st);
    json_t *a = json_array();
    for (size_t i = 0; i < n->count; i++)
        json_array_append_new(a, json_string(n->names[i]));
    vdb_names_free(n);
    return srv_ok(a);
}

json_t *srv_databases_describe(srv_ctx *ctx, json_t *req)
{
    const char *name;
    json_t *err = NULL;
    if (srv_req_str(req, "dbName", 1, &name, &err))
        return err;
    int exists = 0;
    vdb_status st = vdb_has_database(ctx->db, name, &exists);
    if (st != VDB_OK)
        return db_fail(ctx, st);
    if (!exists)
        return srv_err(MV_DATABASE_NOT_FOUND, "database not found[database=%s]", name);
    json_t *d = json_object();
    json_object_set_new(d, "dbName", json_string(name));
    json_object_set_new(d, "dbID", json_integer(database_id(name)));
    json_object_set_new(d, "properties", json_array());
    return srv_ok(d);
}

/* vdb-server — users and roles: /v2/vectordb/users/... and /roles/... with Milvus's names
 * (libvdb's vdb_create_user & co, vdb.h), and with --authorization 1 the privilege each REST
 * route needs, checked before it runs (srv_rbac_check). */
#include <string.h>

#include "server.h"

/* The privilege a route needs, as Milvus's proxy asks it: on Global ("*") or on the request's
 * collection. A route not listed (the /webui extras) needs "*" on Global. */
typedef struct route_priv {
    const char *path;
    vdb_rbac_object object;
    const char *priv;
} route_priv;

#define G VDB_OBJECT_GLOBAL
#define C VDB_OBJECT_COLLECTION
static const route_priv privs[] = {
    {"/collections/create", G, "CreateCollection"},
    {"/collections/describe", G, "DescribeCollection"},
    {"/collections/list", G, "ShowCollections"},
    {"/collections/has", G, "DescribeCollection"},
    {"/collections/drop", G, "DropCollection"},
    {"/collections/get_stats", C, "GetStatistics"},
    {"/collections/load", C, "Load"},
    {"/collections/release", C, "Release"},
    {"/collections/refresh_load", C, "Load"},
    {"/collections/get_load_state", C, "GetLoadState"},
    {"/collections/rename", G, "RenameCollection"},
    {"/collections/flush", C, "Flush"},
    {"/collections/compact", C, "Compaction"},
    {"/collections/truncate", G, "DropCollection"},
    {"/aliases/create", G, "CreateAlias"},
    {"/aliases/alter", G, "CreateAlias"},
    {"/aliases/drop", G, "DropAlias"},
    {"/aliases/list", G, "ListAliases"},
    {"/aliases/describe", G, "DescribeAlias"},
    {"/partitions/create", C, "CreatePartition"},
    {"/partitions/drop", C, "DropPartition"},
    {"/partitions/list", C, "ShowPartitions"},
    {"/partitions/has", C, "HasPartition"},
    {"/partitions/get_stats", C, "GetStatistics"},
    {"/partitions/load", C, "Load"},
    {"/partitions/release", C, "Release"},
    {"/entities/insert", C, "Insert"},
    {"/entities/upsert", C, "Upsert"},
    {"/entities/delete", C, "Delete"},
    {"/entities/get", C, "Query"},
    {"/entities/query", C, "Query"},
    {"/entities/search", C, "Search"},
    {"/entities/hybrid_search", C, "Search"},
    {"/indexes/create", C, "CreateIndex"},
    {"/indexes/describe", C, "IndexDetail"},
    {"/indexes/list", C, "IndexDetail"},
    {"/indexes/drop", C, "DropIndex"},
    {"/databases/create", G, "CreateDatabase"},
    {"/databases/drop", G, "DropDatabase"},
    {"/databases/list", G, "ListDatabases"},
    {"/databases/describe", G, "ListDatabases"},
    {"/users/create", G, "CreateOwnership"},
    {"/users/drop", G, "DropOwnership"},
    {"/users/list", G, "SelectOwnership"},
    {"/users/describe", G, "SelectUser"},
    {"/users/update_password", G, "UpdateUser"},
    {"/users/grant_role", G, "ManageOwnership"},
    {"/users/revoke_role", G, "ManageOwnership"},
    {"/roles/create", G, "CreateOwnership"},
    {"/roles/drop", G, "DropOwnership"},
    {"/roles/list", G, "SelectOwnership"},
    {"/roles/describe", G, "SelectOwnership"},
    {"/roles/grant_privilege", G, "ManageOwnership"},
    {"/roles/revoke_privilege", G, "ManageOwnership"},
};
#undef G
#undef C

json_t *srv_rbac_check(srv_ctx *ctx, const char *user, const char *path, json_t *req)
{
    const route_priv *rp = NULL;
    for (size_t i = 0; i < sizeof privs / sizeof privs[0]; i++)
        if (!strcmp(privs[i].path, path))
            rp = &privs[i];
    const char *uname = NULL;
    json_t *u = json_object_get(req, "userName");
    if (json_is_string(u))
        uname = json_string_value(u);
    /* a user changes its own password and reads its own roles, as in Milvus */
    if (rp && uname && !strcmp(uname, user) &&
        (!strcmp(path, "/users/update_password") || !strcmp(path, "/users/describe")))
        return NULL;
    const char *dbn = srv_req_dbname(req);
    json_t *cn = json_object_get(req, "collectionName");
    const char *obj = rp && rp->object == VDB_OBJECT_COLLECTION && json_is_string(cn)
                          ? json_string_value(cn)
                          : "*";
    vdb_status st = vdb_check_privilege(ctx->db, user, rp ? rp->object : VDB_OBJECT_GLOBAL, obj,
                                        rp ? rp->priv : "*", dbn);
    if (st == VDB_OK)
        return NULL;
    return srv_vdb_err(ctx, st, NULL, 0);
}

static json_t *fail(srv_ctx *ctx, vdb_status st)
{
    return srv_vdb_err(ctx, st, NULL, 0);
}

static json_t *names_json(vdb_names *n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n->count; i++)
        json_array_append_new(a, json_string(n->names[i]));
    vdb_names_free(n);
    return a;
}

json_t *srv_users_create(srv_ctx *ctx, json_t *req)
{
    const char *user, *pw;
    json_t *err = NULL;
    if (srv_req_str(req, "userName", 1, &user, &err) || srv_req_str(req, "password", 1, &pw, &err))
        return err;
    vdb_status st = vdb_create_user(ctx->db, user, pw);
    if (st != VDB_OK)
        return fail(ctx, st);
    srv_log(SRV_LOG_INFO, "created user '%s'", user);
    return srv_ok(NULL);
}

json_t *srv_users_drop(srv_ctx *ctx, json_t *req)
{
    const char *user;
    json_t *err = NULL;
    if (srv_req_str(req, "userName", 1, &user, &err))
        return err;
    vdb_status st = vdb_drop_user(ctx->db, user);
    if (st != VDB_OK)
        return fail(ctx, st);
    srv_log(SRV_LOG_INFO, "dropped user '%s'", user);
    return srv_ok(NULL);
}

json_t *srv_users_list(srv_ctx *ctx, json_t *req)
{
    (void)req;
    vdb_names *n;
    vdb_status st = vdb_list_users(ctx->db, &n);
    return st != VDB_OK ? fail(ctx, st) : srv_ok(names_json(n));
}

json_t *srv_users_describe(srv_ctx *ctx, json_t *req)
{
    const char *user;
    json_t *err = NULL;
    if (srv_req_str(req, "userName", 1, &user, &err))
        return err;
    vdb_names *n;
    vdb_status st = vdb_describe_user(ctx->db, user, &n);
    if (st != VDB_OK)
        return fail(ctx, st);
    json_t *d = json_object();
    json_object_set_new(d, "userName", json_string(user));
    json_object_set_new(d, "roles", names_json(n));
    return srv_ok(d);
}

json_t *srv_users_update_password(srv_ctx *ctx, json_t *req)
{
    const char *user, *pw, *npw;
    json_t *err = NULL;
    if (srv_req_str(req, "userName", 1, &user, &err) ||
        srv_req_str(req, "password", 1, &pw, &err) ||
        srv_req_str(req, "newPassword", 1, &npw, &err))
        return err;
    vdb_status st = vdb_update_password(ctx->db, user, pw, npw);
    return st != VDB_OK ? fail(ctx, st) : srv_ok(NULL);
}

static json_t *user_role(srv_ctx *ctx, json_t *req, int grant)
{
    const char *user, *role;
    json_t *err = NULL;
    if (srv_req_str(req, "userName", 1, &user, &err) ||
        srv_req_str(req, "roleName", 1, &role, &err))
        return err;
    vdb_status st = grant ? vdb_grant_role(ctx->db, user, role)
                          : vdb_revoke_role(ctx->db, user, role);
    return st != VDB_OK ? fail(ctx, st) : srv_ok(NULL);
}

json_t *srv_users_grant_role(srv_ctx *ctx, json_t *req)
{
    return user_role(ctx, req, 1);
}

json_t *srv_users_revoke_role(srv_ctx *ctx, json_t *req)
{
    return user_role(ctx, req, 0);
}

json_t *srv_roles_create(srv_ctx *ctx, json_t *req)
{
    const char *role;
    json_t *err = NULL;
    if (srv_req_str(req, "roleName", 1, &role, &err))
        return err;
    vdb_status st = vdb_create_role(ctx->db, role);
    return st != VDB_OK ? fail(ctx, st) : srv_ok(NULL);
}

json_t *srv_roles_drop(srv_ctx *ctx, json_t *req)
{
    const char *role;
    json_t *err = NULL;
    if (srv_req_str(req, "roleName", 1, &role, &err))
        return err;
    vdb_status st = vdb_drop_role(ctx->db, role);
    return st != VDB_OK ? fail(ctx, st) : srv_ok(NULL);
}

json_t *srv_roles_list(srv_ctx *ctx, json_t *req)
{
    (void)req;
    vdb_names *n;
    vdb_status st = vdb_list_roles(ctx->db, &n);
    return st != VDB_OK ? fail(ctx, st) : srv_ok(names_json(n));
}

static const char *const object_names[] = {"Global", "Collection", "User"};

json_t *srv_roles_describe(srv_ctx *ctx, json_t *req)
{
    const char *role;
    json_t *err = NULL;
    if (srv_req_str(req, "roleName", 1, &role, &err))
        return err;
    vdb_names *n;
    vdb_status st = vdb_describe_role(ctx->db, role, &n);
    if (st != VDB_OK)
        return fail(ctx, st);
    json_t *a = json_array();
    for (size_t i = 0; i < n->count; i++) { /* "<object>/<db>/<name>/<privilege>" */
        char buf[512];
        snprintf(buf, sizeof buf, "%s", n->names[i]);
        char *parts[4] = {buf, NULL, NULL, NULL};
        for (int k = 1; k < 4 && parts[k - 1]; k++) {
            char *s = strchr(parts[k - 1], '/');
            if (s) {
                *s = 0;
                parts[k] = s + 1;
            }
        }
        json_t *g = json_object();
        json_object_set_new(g, "objectType", json_string(parts[0]));
        json_object_set_new(g, "dbName", json_string(parts[1] ? parts[1] : ""));
        json_object_set_new(g, "objectName", json_string(parts[2] ? parts[2] : ""));
        json_object_set_new(g, "privilege", json_string(parts[3] ? parts[3] : ""));
        json_object_set_new(g, "grantor", json_string("root"));
        json_array_append_new(a, g);
    }
    vdb_names_free(n);
    return srv_ok(a);
}

static json_t *role_priv(srv_ctx *ctx, json_t *req, int grant)
{
    const char *role, *type, *name, *priv, *dbn = NULL;
    json_t *err = NULL;
    if (srv_req_str(req, "roleName", 1, &role, &err) ||
        srv_req_str(req, "objectType", 1, &type, &err) ||
        srv_req_str(req, "objectName", 1, &name, &err) ||
        srv_req_str(req, "privilege", 1, &priv, &err) ||
        srv_req_str(req, "dbName", 0, &dbn, &err))
        return err;
    int o = -1;
    for (int i = 0; i < 3; i++)
        if (!strcmp(type, object_names[i]))
            o = i;
    if (o < 0)
        return srv_err(MV_PARAMETER_INVALID, "invalid parameter: objectType %s: Global, "
                       "Collection or User", type);
    vdb_status st = grant ? vdb_grant_privilege(ctx->db, role, (vdb_rbac_object)o, name, priv, dbn)
                          : vdb_revoke_privilege(ctx->db, role, (vdb_rbac_object)o, name, priv,
                                                 dbn);
    return st != VDB_OK ? fail(ctx, st) : srv_ok(NULL);
}

json_t *srv_roles_grant_privilege(srv_ctx *ctx, json_t *req)
{
    return role_priv(ctx, req, 1);
}

json_t *srv_roles_revoke_privilege(srv_ctx *ctx, json_t *req)
{
    return role_priv(ctx, req, 0);
}

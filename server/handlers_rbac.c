/* vdb-server — users and roles: /v2/vectordb/users/... and /roles/... with Milvus's names
 * (libvdb's vdb_create_user & co, vdb.h), and with --authorization 1 the privilege each REST
 * route and each gRPC method needs, checked before it runs (srv_priv_check: srv_rbac_check
 * for REST, srv_rpc_allowed for gRPC). */
#include <stdio.h>
#include <string.h>

#include "server.h"

/* The privilege a REST route (path) and the gRPC method (rpc) that does the same need, as
 * Milvus's proxy asks it: on Global ("*") or on the request's collection. A row may have no
 * path (gRPC only) or no rpc (REST only); a row without priv needs none (any user who
 * authenticated). A route or method not listed (the /webui extras) needs "*" on Global. */
#define G VDB_OBJECT_GLOBAL
#define C VDB_OBJECT_COLLECTION
static const srv_priv privs[] = {
    {"/collections/create", G, "CreateCollection", "CreateCollection"},
    {"/collections/describe", G, "DescribeCollection", "DescribeCollection"},
    {"/collections/list", G, "ShowCollections", "ShowCollections"},
    {"/collections/has", G, "DescribeCollection", "HasCollection"},
    {"/collections/drop", G, "DropCollection", "DropCollection"},
    {"/collections/get_stats", C, "GetStatistics", "GetCollectionStatistics"},
    {"/collections/load", C, "Load", "LoadCollection"},
    {"/collections/release", C, "Release", "ReleaseCollection"},
    {"/collections/refresh_load", C, "Load"},
    {"/collections/get_load_state", C, "GetLoadState", "GetLoadState"},
    {"/collections/rename", G, "RenameCollection", "RenameCollection"},
    {"/collections/flush", C, "Flush", "Flush"},
    {"/collections/compact", C, "Compaction", "ManualCompaction"},
    {"/collections/truncate", G, "DropCollection", "TruncateCollection"},
    {"/aliases/create", G, "CreateAlias", "CreateAlias"},
    {"/aliases/alter", G, "CreateAlias", "AlterAlias"},
    {"/aliases/drop", G, "DropAlias", "DropAlias"},
    {"/aliases/list", G, "ListAliases", "ListAliases"},
    {"/aliases/describe", G, "DescribeAlias", "DescribeAlias"},
    {"/partitions/create", C, "CreatePartition", "CreatePartition"},
    {"/partitions/drop", C, "DropPartition", "DropPartition"},
    {"/partitions/list", C, "ShowPartitions", "ShowPartitions"},
    {"/partitions/has", C, "HasPartition", "HasPartition"},
    {"/partitions/get_stats", C, "GetStatistics", "GetPartitionStatistics"},
    {"/partitions/load", C, "Load", "LoadPartitions"},
    {"/partitions/release", C, "Release", "ReleasePartitions"},
    {"/entities/insert", C, "Insert", "Insert"},
    {"/entities/upsert", C, "Upsert", "Upsert"},
    {"/entities/delete", C, "Delete", "Delete"},
    {"/entities/get", C, "Query"},
    {"/entities/query", C, "Query", "Query"},
    {"/entities/search", C, "Search", "Search"},
    {"/entities/hybrid_search", C, "Search", "HybridSearch"},
    {"/indexes/create", C, "CreateIndex", "CreateIndex"},
    {"/indexes/describe", C, "IndexDetail", "DescribeIndex"},
    {"/indexes/list", C, "IndexDetail"},
    {"/indexes/drop", C, "DropIndex", "DropIndex"},
    {"/databases/create", G, "CreateDatabase", "CreateDatabase"},
    {"/databases/drop", G, "DropDatabase", "DropDatabase"},
    {"/databases/list", G, "ListDatabases", "ListDatabases"},
    {"/databases/describe", G, "ListDatabases", "DescribeDatabase"},
    {"/users/create", G, "CreateOwnership", "CreateCredential"},
    {"/users/drop", G, "DropOwnership", "DeleteCredential"},
    {"/users/list", G, "SelectOwnership", "ListCredUsers"},
    {"/users/describe", G, "SelectUser", "SelectUser"},
    {"/users/update_password", G, "UpdateUser", "UpdateCredential"},
    {"/users/grant_role", G, "ManageOwnership", "OperateUserRole"},
    {"/users/revoke_role", G, "ManageOwnership"},
    {"/roles/create", G, "CreateOwnership", "CreateRole"},
    {"/roles/drop", G, "DropOwnership", "DropRole"},
    {"/roles/list", G, "SelectOwnership", "SelectRole"},
    {"/roles/describe", G, "SelectOwnership", "SelectGrant"},
    {"/roles/grant_privilege", G, "ManageOwnership", "OperatePrivilege"},
    {"/roles/revoke_privilege", G, "ManageOwnership"},
    /* gRPC only */
    {NULL, G, "ManageOwnership", "OperatePrivilegeV2"},
    {NULL, C, "GetLoadState", "GetLoadingProgress"},
    {NULL, C, "GetFlushState", "GetFlushState"},
    {NULL, C, "IndexDetail", "GetIndexState"},
    {NULL, C, "IndexDetail", "GetIndexBuildProgress"},
    {NULL, G, NULL, "Connect"},
    {NULL, G, NULL, "GetVersion"},
    {NULL, G, NULL, "CheckHealth"},
    {NULL, G, NULL, "AllocTimestamp"},
    {NULL, G, NULL, "GetCompactionState"}, /* by compaction id; Milvus checks none either */
};
#undef G
#undef C

const srv_priv *srv_priv_find(const char *path, const char *rpc)
{
    for (size_t i = 0; i < sizeof privs / sizeof privs[0]; i++)
        if ((path && privs[i].path && !strcmp(privs[i].path, path)) ||
            (rpc && privs[i].rpc && !strcmp(privs[i].rpc, rpc)))
            return &privs[i];
    return NULL;
}

int srv_priv_check(srv_ctx *ctx, const char *user, const srv_priv *p, const char *dbn,
                   const char *coll, const char *target, srv_status *err)
{
    if (p && !p->priv)
        return 0;
    /* a user changes its own password and reads its own roles, as in Milvus */
    if (p && target && !strcmp(target, user) &&
        (!strcmp(p->priv, "UpdateUser") || !strcmp(p->priv, "SelectUser")))
        return 0;
    const char *obj = p && p->object == VDB_OBJECT_COLLECTION && coll && *coll ? coll : "*";
    vdb_status st = vdb_check_privilege(ctx->db, user, p ? p->object : VDB_OBJECT_GLOBAL, obj,
                                        p ? p->priv : "*", dbn && *dbn ? dbn : NULL);
    return st == VDB_OK ? 0 : srv_fail_vdb(ctx, err, st, NULL, 0);
}

json_t *srv_rbac_check(srv_ctx *ctx, const char *user, const char *path, json_t *req)
{
    json_t *u = json_object_get(req, "userName");
    json_t *cn = json_object_get(req, "collectionName");
    srv_status err = {0};
    if (!srv_priv_check(ctx, user, srv_priv_find(path, NULL), srv_req_dbname(req),
                        json_is_string(cn) ? json_string_value(cn) : NULL,
                        json_is_string(u) ? json_string_value(u) : NULL, &err))
        return NULL;
    return srv_status_json(&err);
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

int srv_rbac_object_of(const char *name)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, object_names[i]))
            return i;
    return -1;
}

void srv_grant_parse(const char *s, srv_grant *g)
{
    snprintf(g->buf, sizeof g->buf, "%s", s);
    char *parts[4] = {g->buf, NULL, NULL, NULL};
    for (int k = 1; k < 4 && parts[k - 1]; k++) {
        char *sl = strchr(parts[k - 1], '/');
        if (sl) {
            *sl = 0;
            parts[k] = sl + 1;
        }
    }
    g->object = parts[0];
    g->db = parts[1] ? parts[1] : "";
    g->name = parts[2] ? parts[2] : "";
    g->priv = parts[3] ? parts[3] : "";
}

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
    for (size_t i = 0; i < n->count; i++) {
        srv_grant gr;
        srv_grant_parse(n->names[i], &gr);
        json_t *g = json_object();
        json_object_set_new(g, "objectType", json_string(gr.object));
        json_object_set_new(g, "dbName", json_string(gr.db));
        json_object_set_new(g, "objectName", json_string(gr.name));
        json_object_set_new(g, "privilege", json_string(gr.priv));
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
    int o = srv_rbac_object_of(type);
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

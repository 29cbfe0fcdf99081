/* vdb-server — gRPC handlers for users and roles: CreateCredential, UpdateCredential,
 * DeleteCredential, ListCredUsers, CreateRole, DropRole, OperateUserRole, SelectRole,
 * SelectUser, OperatePrivilege, OperatePrivilegeV2 and SelectGrant, on libvdb's
 * vdb_create_user & co (vdb.h) as the REST routes (handlers_rbac.c). Passwords arrive
 * base64-encoded, as the SDKs send them. */
#include <string.h>

#include "grpc_pb.h"

typedef Milvus__Proto__Milvus__RoleEntity pb_role;
typedef Milvus__Proto__Milvus__UserEntity pb_user;

/* Defines handler `name` as HANDLER (grpc_pb.h) for a request that has no db_name: the
 * privilege is checked in the dbname metadata's database; target (an expression of req) is
 * the user the request is about. */
#define RBAC_HANDLER(name, Type, lower, impl, target)                                       \
    int name(srv_rpc *call, srv_status *err)                                                \
    {                                                                                       \
        Type *req = lower##__unpack(NULL, call->len, call->in);                             \
        if (!req)                                                                           \
            return srv_rpc_malformed(call);                                                 \
        int rc = srv_rpc_allowed(call, &req->base, NULL, (target), err);                    \
        if (!rc)                                                                            \
            rc = impl(call, req, err);                                                      \
        lower##__free_unpacked(req, NULL);                                                  \
        return rc;                                                                          \
    }

static int vdb_fail(srv_rpc *call, vdb_status st, srv_status *err)
{
    return srv_fail_vdb(call->ctx, err, st, NULL, 0);
}

static int done(srv_rpc *call, vdb_status st, srv_status *err)
{
    return st != VDB_OK ? vdb_fail(call, st, err) : srv_rpc_reply(call, &srv_pb_ok()->base, err);
}

static int oom(srv_status *err)
{
    return srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
}

/* A password as the SDKs send it (base64 of its bytes) into out (cap bytes). */
static int password(const char *b64, const char *what, char *out, size_t cap,
                    srv_status *err)
{
    long n = b64 ? srv_b64_decode(b64, out, cap) : -1;
    if (n < 0 || strlen(out) != (size_t)n)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: %s is not base64 of a "
                        "password of at most %zu bytes (the SDKs send it so)", what, cap - 1);
    return 0;
}

static int no_description(const char *d, srv_status *err)
{
    if (d && *d)
        return srv_fail(err, MV_OPERATION_NOT_SUPPORTED, "operation not supported: user "
                        "descriptions are not kept by libvdb");
    return 0;
}

/* ---- users ---- */

static int create_credential(srv_rpc *call, Milvus__Proto__Milvus__CreateCredentialRequest *req,
                             srv_status *err)
{
    char pw[512];
    if (no_description(req->description, err) || password(req->password, "password", pw,
                                                             sizeof pw, err))
        return -1;
    vdb_status st = vdb_create_user(call->ctx->db, req->username, pw);
    if (st == VDB_OK)
        srv_log(SRV_LOG_INFO, "created user '%s'", req->username);
    return done(call, st, err);
}
RBAC_HANDLER(srv_rpc_create_credential, Milvus__Proto__Milvus__CreateCredentialRequest,
             milvus__proto__milvus__create_credential_request, create_credential, NULL)

static int update_credential(srv_rpc *call, Milvus__Proto__Milvus__UpdateCredentialRequest *req,
                             srv_status *err)
{
    char old[512], npw[512];
    if (no_description(req->description, err) ||
        password(req->oldpassword, "oldPassword", old, sizeof old, err) ||
        password(req->newpassword, "newPassword", npw, sizeof npw, err))
        return -1;
    return done(call, vdb_update_password(call->ctx->db, req->username, old, npw), err);
}
RBAC_HANDLER(srv_rpc_update_credential, Milvus__Proto__Milvus__UpdateCredentialRequest,
             milvus__proto__milvus__update_credential_request, update_credential, req->username)

static int delete_credential(srv_rpc *call, Milvus__Proto__Milvus__DeleteCredentialRequest *req,
                             srv_status *err)
{
    vdb_status st = vdb_drop_user(call->ctx->db, req->username);
    if (st == VDB_OK)
        srv_log(SRV_LOG_INFO, "dropped user '%s'", req->username);
    return done(call, st, err);
}
RBAC_HANDLER(srv_rpc_delete_credential, Milvus__Proto__Milvus__DeleteCredentialRequest,
             milvus__proto__milvus__delete_credential_request, delete_credential, NULL)

static int list_cred_users(srv_rpc *call, Milvus__Proto__Milvus__Empty *req, srv_status *err)
{
    (void)req;
    vdb_names *n;
    vdb_status st = vdb_list_users(call->ctx->db, &n);
    if (st != VDB_OK)
        return vdb_fail(call, st, err);
    Milvus__Proto__Milvus__ListCredUsersResponse r =
        MILVUS__PROTO__MILVUS__LIST_CRED_USERS_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.usernames = n->names;
    r.n_usernames = n->count;
    int rc = srv_rpc_reply(call, &r.base, err);
    vdb_names_free(n);
    return rc;
}
RBAC_HANDLER(srv_rpc_list_cred_users, Milvus__Proto__Milvus__Empty, milvus__proto__milvus__empty,
             list_cred_users, NULL)

/* name as a RoleEntity / UserEntity in the arena (NULL when out of memory). */
static pb_role *role_entity(srv_rpc *call, const char *name)
{
    pb_role *e = srv_arena_alloc(&call->arena, sizeof *e);
    char *s = srv_arena_strndup(&call->arena, name, strlen(name));
    if (!e || !s)
        return NULL;
    milvus__proto__milvus__role_entity__init(e);
    e->name = s;
    return e;
}

static pb_user *user_entity(srv_rpc *call, const char *name)
{
    pb_user *e = srv_arena_alloc(&call->arena, sizeof *e);
    char *s = srv_arena_strndup(&call->arena, name, strlen(name));
    if (!e || !s)
        return NULL;
    milvus__proto__milvus__user_entity__init(e);
    e->name = s;
    return e;
}

/* One user's result: its name and (with_roles) its roles. */
static Milvus__Proto__Milvus__UserResult *user_result(srv_rpc *call, const char *user,
                                                      int with_roles, srv_status *err)
{
    Milvus__Proto__Milvus__UserResult *u = srv_arena_alloc(&call->arena, sizeof *u);
    if (!u || (milvus__proto__milvus__user_result__init(u), !(u->user = user_entity(call, user))))
        return oom(err), NULL;
    u->description = (char *)"";
    if (!with_roles)
        return u;
    vdb_names *roles;
    vdb_status st = vdb_describe_user(call->ctx->db, user, &roles);
    if (st != VDB_OK)
        return vdb_fail(call, st, err), NULL;
    u->roles = srv_arena_alloc(&call->arena, (roles->count + 1) * sizeof *u->roles);
    for (size_t i = 0; u->roles && i < roles->count; i++)
        if ((u->roles[i] = role_entity(call, roles->names[i])))
            u->n_roles++;
    int ok = u->roles && u->n_roles == roles->count;
    vdb_names_free(roles);
    return ok ? u : (oom(err), NULL);
}

/* SelectUser: the user named (it may read itself), else every user. */
static int select_user(srv_rpc *call, Milvus__Proto__Milvus__SelectUserRequest *req,
                       srv_status *err)
{
    const char *name = req->user && req->user->name && *req->user->name ? req->user->name
                                                                       : NULL;
    vdb_names *all = NULL;
    vdb_status st = name ? VDB_OK : vdb_list_users(call->ctx->db, &all);
    if (st != VDB_OK)
        return vdb_fail(call, st, err);
    size_t n = name ? 1 : all->count;
    Milvus__Proto__Milvus__SelectUserResponse r =
        MILVUS__PROTO__MILVUS__SELECT_USER_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.results = srv_arena_alloc(&call->arena, (n + 1) * sizeof *r.results);
    int rc = r.results ? 0 : oom(err);
    for (size_t i = 0; !rc && i < n; i++) {
        r.results[i] = user_result(call, name ? name : all->names[i], req->include_role_info,
                                   err);
        rc = r.results[i] ? 0 : -1;
        r.n_results += !rc;
    }
    vdb_names_free(all);
    return rc ? rc : srv_rpc_reply(call, &r.base, err);
}
RBAC_HANDLER(srv_rpc_select_user, Milvus__Proto__Milvus__SelectUserRequest,
             milvus__proto__milvus__select_user_request, select_user,
             req->user && req->user->name && *req->user->name ? req->user->name : NULL)

/* ---- roles ---- */

static int create_role(srv_rpc *call, Milvus__Proto__Milvus__CreateRoleRequest *req,
                       srv_status *err)
{
    if (!req->entity || !req->entity->name)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: the role's entity "
                        "(its name) is missing");
    if (req->entity->description && *req->entity->description)
        return srv_fail(err, MV_OPERATION_NOT_SUPPORTED, "operation not supported: role "
                        "descriptions are not kept by libvdb");
    return done(call, vdb_create_role(call->ctx->db, req->entity->name), err);
}
RBAC_HANDLER(srv_rpc_create_role, Milvus__Proto__Milvus__CreateRoleRequest,
             milvus__proto__milvus__create_role_request, create_role, NULL)

static int drop_role(srv_rpc *call, Milvus__Proto__Milvus__DropRoleRequest *req,
                     srv_status *err)
{
    if (req->force_drop)
        return srv_fail(err, MV_OPERATION_NOT_SUPPORTED, "operation not supported: force_drop: "
                        "revoke the role's privileges first, then drop it");
    return done(call, vdb_drop_role(call->ctx->db, req->role_name), err);
}
RBAC_HANDLER(srv_rpc_drop_role, Milvus__Proto__Milvus__DropRoleRequest,
             milvus__proto__milvus__drop_role_request, drop_role, NULL)

static int operate_user_role(srv_rpc *call, Milvus__Proto__Milvus__OperateUserRoleRequest *req,
                             srv_status *err)
{
    vdb_status st;
    switch (req->type) {
    case MILVUS__PROTO__MILVUS__OPERATE_USER_ROLE_TYPE__AddUserToRole:
        st = vdb_grant_role(call->ctx->db, req->username, req->role_name);
        break;
    case MILVUS__PROTO__MILVUS__OPERATE_USER_ROLE_TYPE__RemoveUserFromRole:
        st = vdb_revoke_role(call->ctx->db, req->username, req->role_name);
        break;
    default:
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: operate user role type "
                        "%d: AddUserToRole (0) or RemoveUserFromRole (1)", (int)req->type);
    }
    return done(call, st, err);
}
RBAC_HANDLER(srv_rpc_operate_user_role, Milvus__Proto__Milvus__OperateUserRoleRequest,
             milvus__proto__milvus__operate_user_role_request, operate_user_role, NULL)

/* The users that have role, into rr (every user is described: at most 100 of them). */
static int role_users(srv_rpc *call, const char *role, vdb_names *users,
                      Milvus__Proto__Milvus__RoleResult *rr, srv_status *err)
{
    rr->users = srv_arena_alloc(&call->arena, (users->count + 1) * sizeof *rr->users);
    if (!rr->users)
        return oom(err);
    for (size_t i = 0; i < users->count; i++) {
        vdb_names *roles;
        vdb_status st = vdb_describe_user(call->ctx->db, users->names[i], &roles);
        if (st != VDB_OK)
            return vdb_fail(call, st, err);
        int has = 0;
        for (size_t k = 0; k < roles->count; k++)
            has |= !strcmp(roles->names[k], role);
        vdb_names_free(roles);
        if (has && !(rr->users[rr->n_users++] = user_entity(call, users->names[i])))
            return oom(err);
    }
    return 0;
}

/* SelectRole: the role named (an error if there is none), else every role; with
 * include_user_info, each one's users. */
static int select_role(srv_rpc *call, Milvus__Proto__Milvus__SelectRoleRequest *req,
                       srv_status *err)
{
    const char *name = req->role && req->role->name && *req->role->name ? req->role->name
                                                                       : NULL;
    vdb_names *roles = NULL, *users = NULL, *grants = NULL;
    vdb_status st = name ? vdb_describe_role(call->ctx->db, name, &grants) /* it exists */
                         : vdb_list_roles(call->ctx->db, &roles);
    if (st == VDB_OK && req->include_user_info)
        st = vdb_list_users(call->ctx->db, &users);
    vdb_names_free(grants);
    int rc = st != VDB_OK ? vdb_fail(call, st, err) : 0;
    size_t n = name ? 1 : roles ? roles->count : 0;
    Milvus__Proto__Milvus__SelectRoleResponse r =
        MILVUS__PROTO__MILVUS__SELECT_ROLE_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.results = rc ? NULL : srv_arena_alloc(&call->arena, (n + 1) * sizeof *r.results);
    if (!rc && !r.results)
        rc = oom(err);
    for (size_t i = 0; !rc && i < n; i++) {
        const char *role = name ? name : roles->names[i];
        Milvus__Proto__Milvus__RoleResult *rr = srv_arena_alloc(&call->arena, sizeof *rr);
        if (!rr)
            rc = oom(err);
        else if (milvus__proto__milvus__role_result__init(rr), !(rr->role = role_entity(call,
                                                                                       role)))
            rc = oom(err);
        else if (users)
            rc = role_users(call, role, users, rr, err);
        if (!rc)
            r.results[r.n_results++] = rr;
    }
    vdb_names_free(roles);
    vdb_names_free(users);
    return rc ? rc : srv_rpc_reply(call, &r.base, err);
}
RBAC_HANDLER(srv_rpc_select_role, Milvus__Proto__Milvus__SelectRoleRequest,
             milvus__proto__milvus__select_role_request, select_role, NULL)

/* ---- privileges ---- */

static int grant_or_revoke(srv_rpc *call, int type, const char *role, vdb_rbac_object o,
                           const char *obj, const char *priv, const char *dbn,
                           srv_status *err)
{
    if (dbn && !*dbn)
        dbn = NULL;
    vdb_status st;
    switch (type) {
    case MILVUS__PROTO__MILVUS__OPERATE_PRIVILEGE_TYPE__Grant:
        st = vdb_grant_privilege(call->ctx->db, role, o, obj, priv, dbn);
        break;
    case MILVUS__PROTO__MILVUS__OPERATE_PRIVILEGE_TYPE__Revoke:
        st = vdb_revoke_privilege(call->ctx->db, role, o, obj, priv, dbn);
        break;
    default:
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: operate privilege type "
                        "%d: Grant (0) or Revoke (1)", type);
    }
    return done(call, st, err);
}

static const char *privilege_of(const Milvus__Proto__Milvus__GrantorEntity *g)
{
    return g && g->privilege && g->privilege->name && *g->privilege->name ? g->privilege->name
                                                                          : NULL;
}

static int operate_privilege(srv_rpc *call, Milvus__Proto__Milvus__OperatePrivilegeRequest *req,
                             srv_status *err)
{
    Milvus__Proto__Milvus__GrantEntity *e = req->entity;
    const char *priv = e ? privilege_of(e->grantor) : NULL;
    if (!e || !e->role || !e->role->name || !e->object || !e->object->name || !priv)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: the grant entity needs "
                        "role, object, object_name and grantor.privilege");
    int o = srv_rbac_object_of(e->object->name);
    if (o < 0)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: object %s: Global, "
                        "Collection or User", e->object->name);
    return grant_or_revoke(call, req->type, e->role->name, (vdb_rbac_object)o,
                           e->object_name ? e->object_name : "", priv, e->db_name, err);
}
RBAC_HANDLER(srv_rpc_operate_privilege, Milvus__Proto__Milvus__OperatePrivilegeRequest,
             milvus__proto__milvus__operate_privilege_request, operate_privilege, NULL)

/* The object comes from the privilege, as Milvus's grant_privilege_v2: a collection privilege
 * on collection_name ("" or "*": every collection), a Global one only with collection_name
 * "" or "*"; "*" (every privilege) on a collection when one is named, else on Global. */
static int operate_privilege_v2(srv_rpc *call,
                                Milvus__Proto__Milvus__OperatePrivilegeV2Request *req,
                                srv_status *err)
{
    const char *priv = privilege_of(req->grantor);
    if (!req->role || !req->role->name || !priv)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: role and "
                        "grantor.privilege are needed");
    const char *coll = req->collection_name && *req->collection_name ? req->collection_name
                                                                     : "*";
    vdb_rbac_object o;
    if (!strcmp(priv, "*")) {
        o = strcmp(coll, "*") ? VDB_OBJECT_COLLECTION : VDB_OBJECT_GLOBAL;
    } else {
        vdb_status st = vdb_privilege_object(priv, &o);
        if (st != VDB_OK)
            return vdb_fail(call, st, err);
    }
    if (o != VDB_OBJECT_COLLECTION && strcmp(coll, "*"))
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: %s is not a collection "
                        "privilege: collection_name must be \"*\"", priv);
    return grant_or_revoke(call, req->type, req->role->name, o, coll, priv, req->db_name, err);
}
RBAC_HANDLER(srv_rpc_operate_privilege_v2, Milvus__Proto__Milvus__OperatePrivilegeV2Request,
             milvus__proto__milvus__operate_privilege_v2_request, operate_privilege_v2, NULL)

static int grant_entity(srv_rpc *call, const char *role, const srv_grant *g,
                        Milvus__Proto__Milvus__GrantEntity **out)
{
    Milvus__Proto__Milvus__GrantEntity *e = srv_arena_alloc(&call->arena, sizeof *e);
    Milvus__Proto__Milvus__ObjectEntity *o = srv_arena_alloc(&call->arena, sizeof *o);
    Milvus__Proto__Milvus__GrantorEntity *gr = srv_arena_alloc(&call->arena, sizeof *gr);
    Milvus__Proto__Milvus__PrivilegeEntity *p = srv_arena_alloc(&call->arena, sizeof *p);
    char *oname = srv_arena_strndup(&call->arena, g->object, strlen(g->object));
    char *name = srv_arena_strndup(&call->arena, g->name, strlen(g->name));
    char *db = srv_arena_strndup(&call->arena, g->db, strlen(g->db));
    char *pname = srv_arena_strndup(&call->arena, g->priv, strlen(g->priv));
    if (!e || !o || !gr || !p || !oname || !name || !db || !pname)
        return -1;
    milvus__proto__milvus__grant_entity__init(e);
    milvus__proto__milvus__object_entity__init(o);
    milvus__proto__milvus__grantor_entity__init(gr);
    milvus__proto__milvus__privilege_entity__init(p);
    o->name = oname;
    p->name = pname;
    gr->privilege = p;
    gr->user = user_entity(call, "root"); /* as the REST route says */
    e->role = role_entity(call, role);
    e->object = o;
    e->object_name = name;
    e->grantor = gr;
    e->db_name = db;
    *out = e;
    return gr->user && e->role ? 0 : -1;
}

/* SelectGrant: the role's grants, only those on entity.object / object_name / db_name when
 * they are set ("*" db_name: every database). */
static int select_grant(srv_rpc *call, Milvus__Proto__Milvus__SelectGrantRequest *req,
                        srv_status *err)
{
    Milvus__Proto__Milvus__GrantEntity *e = req->entity;
    if (!e || !e->role || !e->role->name || !*e->role->name)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: the grant entity needs "
                        "a role");
    const char *obj = e->object && e->object->name && *e->object->name ? e->object->name : NULL;
    const char *oname = e->object_name && *e->object_name ? e->object_name : NULL;
    const char *dbn = e->db_name && *e->db_name && strcmp(e->db_name, "*") ? e->db_name : NULL;
    if (obj && srv_rbac_object_of(obj) < 0)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: object %s: Global, "
                        "Collection or User", obj);
    vdb_names *n;
    vdb_status st = vdb_describe_role(call->ctx->db, e->role->name, &n);
    if (st != VDB_OK)
        return vdb_fail(call, st, err);
    Milvus__Proto__Milvus__SelectGrantResponse r =
        MILVUS__PROTO__MILVUS__SELECT_GRANT_RESPONSE__INIT;
    r.status = srv_pb_ok();
    r.entities = srv_arena_alloc(&call->arena, (n->count + 1) * sizeof *r.entities);
    int rc = r.entities ? 0 : oom(err);
    for (size_t i = 0; !rc && i < n->count; i++) {
        srv_grant g;
        srv_grant_parse(n->names[i], &g);
        if ((obj && strcmp(obj, g.object)) || (oname && strcmp(oname, g.name)) ||
            (dbn && strcmp(dbn, g.db)))
            continue;
        if (grant_entity(call, e->role->name, &g, &r.entities[r.n_entities]))
            rc = oom(err);
        else
            r.n_entities++;
    }
    vdb_names_free(n);
    return rc ? rc : srv_rpc_reply(call, &r.base, err);
}
RBAC_HANDLER(srv_rpc_select_grant, Milvus__Proto__Milvus__SelectGrantRequest,
             milvus__proto__milvus__select_grant_request, select_grant, NULL)

/* vdb-server — the request layer of aliases, rename and truncate (both protocols): each
 * takes C values and gives a srv_status with Milvus's codes (1600 alias not found, 1601 an
 * alias and a collection of one name, 1602 the alias names another collection). */
#include <stdio.h>
#include <string.h>

#include "server.h"

/* The status of a failed alias call (right after it: it reads vdb_errmsg). */
static int alias_fail(srv_ctx *ctx, srv_status *err, vdb_status st, const char *coll,
                      const char *alias)
{
    char buf[VDB_MAX_NAME_LEN + 1];
    if (st == VDB_EEXIST) {
        char msg[768];
        snprintf(msg, sizeof msg, "%s", vdb_errmsg(ctx->db));
        int is_alias = vdb_describe_alias(ctx->db, alias, buf, sizeof buf) == VDB_OK;
        return srv_fail(err, is_alias ? MV_ALIAS_EXISTS : MV_ALIAS_NAME_CONFLICT, "%s: %s",
                        is_alias ? "alias already exist" : "alias and collection name conflict",
                        msg);
    }
    if (st == VDB_ENOTFOUND && coll) { /* the collection, or else the alias */
        int exists = 1;
        vdb_has_collection(ctx->db, coll, &exists);
        if (!exists)
            return srv_fail(err, MV_COLLECTION_NOT_FOUND, "collection not found[collection=%s]",
                            coll);
    }
    return srv_fail_vdb(ctx, err, st, NULL, MV_ALIAS_NOT_FOUND);
}

int srv_op_alias(srv_ctx *ctx, srv_alias_op op, const char *coll, const char *alias,
                 srv_status *err)
{
    srv_write_lock(ctx);
    vdb_status st = op == SRV_ALIAS_CREATE ? vdb_create_alias(ctx->db, coll, alias)
                    : op == SRV_ALIAS_ALTER ? vdb_alter_alias(ctx->db, coll, alias)
                                            : vdb_drop_alias(ctx->db, alias);
    srv_write_unlock(ctx);
    if (st != VDB_OK)
        return alias_fail(ctx, err, st, op == SRV_ALIAS_DROP ? NULL : coll, alias);
    srv_log(SRV_LOG_INFO, "%s alias '%s'%s%s", op == SRV_ALIAS_CREATE ? "created"
            : op == SRV_ALIAS_ALTER ? "altered" : "dropped", alias,
            op == SRV_ALIAS_DROP ? "" : " for ", op == SRV_ALIAS_DROP ? "" : coll);
    return 0;
}

int srv_op_describe_alias(srv_ctx *ctx, const char *alias, char *coll, size_t n,
                          srv_status *err)
{
    vdb_status st = vdb_describe_alias(ctx->db, alias, coll, n);
    return st == VDB_OK ? 0 : alias_fail(ctx, err, st, NULL, alias);
}

int srv_op_list_aliases(srv_ctx *ctx, const char *coll, vdb_names **out, srv_status *err)
{
    vdb_status st = vdb_list_aliases(ctx->db, coll && *coll ? coll : NULL, out);
    return st == VDB_OK ? 0 : srv_fail_vdb(ctx, err, st, coll, 0);
}

int srv_op_rename_collection(srv_ctx *ctx, const char *coll, const char *to,
                             const char *new_db, srv_status *err)
{
    char target[600];
    if (new_db && *new_db) {
        int exists = 0;
        if (vdb_has_database(ctx->db, new_db, &exists) != VDB_OK || !exists)
            return srv_fail(err, MV_DATABASE_NOT_FOUND, "database not found[database=%s]",
                            new_db);
        if (srv_qualify(new_db, srv_bare_name(to), target, sizeof target))
            return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: the new name is too "
                            "long");
        to = target;
    }
    srv_write_lock(ctx);
    vdb_status st = vdb_rename_collection(ctx->db, coll, to);
    srv_write_unlock(ctx);
    if (st != VDB_OK)
        return srv_fail_vdb(ctx, err, st, coll, 0);
    srv_log(SRV_LOG_INFO, "renamed collection '%s' to '%s'", coll, to);
    return 0;
}

int srv_op_truncate_collection(srv_ctx *ctx, const char *coll, srv_status *err)
{
    srv_write_lock(ctx);
    vdb_status st = vdb_truncate_collection(ctx->db, coll);
    srv_write_unlock(ctx);
    if (st != VDB_OK)
        return srv_fail_vdb(ctx, err, st, coll, 0);
    srv_log(SRV_LOG_INFO, "truncated collection '%s'", coll);
    return 0;
}

int srv_op_alter_properties(srv_ctx *ctx, const char *coll, const char *const *keys,
                            const char *const *vals, size_t n, srv_status *err)
{
    srv_write_lock(ctx);
    vdb_status st = vals ? vdb_alter_collection_properties(ctx->db, coll, keys, vals, n)
                         : vdb_drop_collection_properties(ctx->db, coll, keys, n);
    srv_write_unlock(ctx);
    if (st != VDB_OK)
        return srv_fail_vdb(ctx, err, st, coll, 0);
    srv_log(SRV_LOG_INFO, "%s %zu propert%s of collection '%s'", vals ? "altered" : "dropped",
            n, n == 1 ? "y" : "ies", coll);
    return 0;
}

int srv_op_add_field(srv_ctx *ctx, const char *coll, const vdb_field_def *d, srv_status *err)
{
    srv_write_lock(ctx);
    vdb_status st = vdb_add_collection_field(ctx->db, coll, d);
    srv_write_unlock(ctx);
    if (st != VDB_OK)
        return srv_fail_vdb(ctx, err, st, coll, 0);
    srv_log(SRV_LOG_INFO, "added field '%s' to collection '%s'", d->name, coll);
    return 0;
}

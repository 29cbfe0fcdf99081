/* vdb-server — /v2/vectordb/aliases/...: create, alter, drop, list, describe. */
#include <string.h>

#include "server.h"

static json_t *alias_call(srv_ctx *ctx, json_t *req, srv_alias_op op)
{
    const char *coll = NULL, *alias;
    json_t *err = NULL;
    if ((op != SRV_ALIAS_DROP && srv_req_str(req, "collectionName", 1, &coll, &err)) ||
        srv_req_str(req, "aliasName", 1, &alias, &err))
        return err;
    srv_status st;
    return srv_op_alias(ctx, op, coll, alias, &st) ? srv_status_json(&st) : srv_ok(NULL);
}

json_t *srv_aliases_create(srv_ctx *ctx, json_t *req)
{
    return alias_call(ctx, req, SRV_ALIAS_CREATE);
}

json_t *srv_aliases_alter(srv_ctx *ctx, json_t *req)
{
    return alias_call(ctx, req, SRV_ALIAS_ALTER);
}

json_t *srv_aliases_drop(srv_ctx *ctx, json_t *req)
{
    return alias_call(ctx, req, SRV_ALIAS_DROP);
}

json_t *srv_aliases_list(srv_ctx *ctx, json_t *req)
{
    const char *coll;
    json_t *err = NULL;
    if (srv_req_str(req, "collectionName", 0, &coll, &err))
        return err;
    vdb_names *n;
    srv_status st;
    if (srv_op_list_aliases(ctx, coll, &n, &st))
        return srv_status_json(&st);
    json_t *a = json_array();
    const char *db = srv_req_dbname(req);
    size_t dl = db ? strlen(db) : 0;
    for (size_t i = 0; i < n->count; i++) { /* the request's database only */
        const char *nm = n->names[i], *dot = strchr(nm, '.');
        if (db ? (dot && (size_t)(dot - nm) == dl && !strncmp(nm, db, dl)) : !dot)
            json_array_append_new(a, json_string(srv_bare_name(nm)));
    }
    vdb_names_free(n);
    return srv_ok(a);
}

json_t *srv_aliases_describe(srv_ctx *ctx, json_t *req)
{
    const char *alias;
    json_t *err = NULL;
    if (srv_req_str(req, "aliasName", 1, &alias, &err))
        return err;
    char coll[2 * VDB_MAX_NAME_LEN + 2];
    srv_status st;
    if (srv_op_describe_alias(ctx, alias, coll, sizeof coll, &st))
        return srv_status_json(&st);
    const char *db = srv_req_dbname(req);
    json_t *d = json_object();
    json_object_set_new(d, "aliasName", json_string(srv_bare_name(alias)));
    json_object_set_new(d, "collectionName", json_string(srv_bare_name(coll)));
    json_object_set_new(d, "dbName", json_string(db ? db : "default"));
    return srv_ok(d);
}

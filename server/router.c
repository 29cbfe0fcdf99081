/* vdb-server — the table of endpoints under /v2/vectordb (and /webui/api, the web page's
 * extras) and the protocol-free dispatch. */
#include <string.h>

#include "server.h"

static const srv_route routes[] = {
    {"/collections/create", srv_collections_create, 1},
    {"/collections/describe", srv_collections_describe, 0},
    {"/collections/list", srv_collections_list, 0},
    {"/collections/has", srv_collections_has, 0},
    {"/collections/drop", srv_collections_drop, 1},
    {"/collections/get_stats", srv_collections_stats, 0},
    {"/collections/load", srv_collections_load, 0},
    {"/collections/release", srv_collections_load, 0},
    {"/collections/refresh_load", srv_collections_load, 0},
    {"/collections/get_load_state", srv_collections_load_state, 0},
    {"/collections/rename", srv_collections_rename, 1},
    {"/collections/flush", srv_collections_flush, 1},
    {"/collections/compact", srv_collections_compact, 1},
    {"/collections/truncate", srv_collections_truncate, 1},
    {"/collections/alter_properties", srv_collections_alter_properties, 1},
    {"/collections/drop_properties", srv_collections_drop_properties, 1},
    {"/collections/fields/add", srv_collections_add_field, 1},
    {"/aliases/create", srv_aliases_create, 1},
    {"/aliases/alter", srv_aliases_alter, 1},
    {"/aliases/drop", srv_aliases_drop, 1},
    {"/aliases/list", srv_aliases_list, 0},
    {"/aliases/describe", srv_aliases_describe, 0},
    {"/partitions/create", srv_partitions_create, 1},
    {"/partitions/drop", srv_partitions_drop, 1},
    {"/partitions/list", srv_partitions_list, 0},
    {"/partitions/has", srv_partitions_has, 0},
    {"/partitions/get_stats", srv_partitions_stats, 0},
    {"/partitions/load", srv_partitions_load, 0},
    {"/partitions/release", srv_partitions_load, 0},
    {"/entities/insert", srv_entities_insert, 1},
    {"/entities/upsert", srv_entities_upsert, 1},
    {"/entities/delete", srv_entities_delete, 1},
    {"/entities/get", srv_entities_get, 0},
    {"/entities/query", srv_entities_query, 0},
    {"/entities/search", srv_entities_search, 0},
    {"/entities/hybrid_search", srv_entities_hybrid_search, 0},
    {"/entities/query_iterator", srv_entities_query_iterator, 0},
    {"/entities/search_iterator", srv_entities_search_iterator, 0},
    {"/indexes/create", srv_indexes_create, 1},
    {"/indexes/describe", srv_indexes_describe, 0},
    {"/indexes/list", srv_indexes_list, 0},
    {"/indexes/drop", srv_indexes_drop, 1},
    {"/databases/create", srv_databases_create, 1, 1},
    {"/databases/drop", srv_databases_drop, 1, 1},
    {"/databases/list", srv_databases_list, 0, 1},
    {"/databases/describe", srv_databases_describe, 0, 1},
    {"/users/create", srv_users_create, 1, 1},
    {"/users/drop", srv_users_drop, 1, 1},
    {"/users/list", srv_users_list, 0, 1},
    {"/users/describe", srv_users_describe, 0, 1},
    {"/users/update_password", srv_users_update_password, 1, 1},
    {"/users/grant_role", srv_users_grant_role, 1, 1},
    {"/users/revoke_role", srv_users_revoke_role, 1, 1},
    {"/roles/create", srv_roles_create, 1, 1},
    {"/roles/drop", srv_roles_drop, 1, 1},
    {"/roles/list", srv_roles_list, 0, 1},
    {"/roles/describe", srv_roles_describe, 0, 1},
    {"/roles/grant_privilege", srv_roles_grant_privilege, 1, 1},
    {"/roles/revoke_privilege", srv_roles_revoke_privilege, 1, 1},
};

/* under /webui/api: what the web page needs that REST v2 has no call for */
static const srv_route webui_routes[] = {
    {"/config", srv_webui_config, 0},
    {"/segments", srv_webui_segments, 0},
};

static const srv_route *find_in(const srv_route *table, size_t n, const char *path)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--; /* a trailing slash is the same endpoint */
    for (size_t i = 0; i < n; i++)
        if (strlen(table[i].path) == len && !memcmp(table[i].path, path, len))
            return &table[i];
    return NULL;
}

const srv_route *srv_route_find(const char *path)
{
    return find_in(routes, sizeof routes / sizeof routes[0], path);
}

const srv_route *srv_webui_route_find(const char *path)
{
    return find_in(webui_routes, sizeof webui_routes / sizeof webui_routes[0], path);
}

json_t *srv_dispatch(srv_ctx *ctx, const srv_route *route, const char *user, const char *body,
                     size_t len)
{
    json_t *req;
    if (len == 0) {
        req = json_object(); /* an empty body is {} (list needs no parameters) */
    } else {
        json_error_t e;
        req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
        if (!req)
            return srv_err(MV_INCORRECT_FORMAT,
                           "can only accept json format request, error: %s (line %d, column "
                           "%d, byte %d)",
                           e.text, e.line, e.column, e.position);
        if (!json_is_object(req)) {
            json_decref(req);
            return srv_err(MV_INCORRECT_FORMAT, "can only accept json format request, error: "
                                                "the body must be a JSON object");
        }
    }
    json_t *err = ctx->cfg->authorization ? srv_rbac_check(ctx, user, route->path, req) : NULL;
    if (err) {
        json_decref(req);
        return err;
    }
    json_t *resp = route->names_db || srv_req_db(ctx, req, &err) == 0 ? route->fn(ctx, req)
                                                                       : err;
    json_decref(req);
    return resp;
}

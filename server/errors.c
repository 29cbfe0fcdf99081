/* vdb-server — Milvus statuses (protocol-free, and as REST's JSON), vdb statuses mapped to
 * Milvus codes, REST request fields. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

json_t *srv_ok(json_t *data)
{
    json_t *r = json_object();
    json_object_set_new(r, "code", json_integer(MV_OK));
    json_object_set_new(r, "data", data ? data : json_object());
    return r;
}

/* The message may quote request text: keep it valid UTF-8 (JSON and protobuf strings). */
static void utf8_clean(char *msg)
{
    json_t *m = json_string(msg); /* jansson checks UTF-8 */
    if (m) {
        json_decref(m);
        return;
    }
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
}

static void status_vset(srv_status *st, int code, const char *fmt, va_list ap)
{
    st->code = code;
    vsnprintf(st->msg, sizeof st->msg, fmt, ap);
    utf8_clean(st->msg);
}

int srv_fail(srv_status *st, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    status_vset(st, code, fmt, ap);
    va_end(ap);
    return -1;
}

json_t *srv_status_json(const srv_status *st)
{
    json_t *r = json_object();
    json_object_set_new(r, "code", json_integer(st->code));
    json_t *m = json_string(st->msg);
    json_object_set_new(r, "message", m ? m : json_string("error"));
    return r;
}

json_t *srv_err(int code, const char *fmt, ...)
{
    srv_status st;
    va_list ap;
    va_start(ap, fmt);
    status_vset(&st, code, fmt, ap);
    va_end(ap);
    return srv_status_json(&st);
}

int srv_fail_vdb(srv_ctx *ctx, srv_status *out, vdb_status st, const char *collection,
                 int notfound_code)
{
    char msg[768];
    snprintf(msg, sizeof msg, "%s", vdb_errmsg(ctx->db)); /* before any other vdb call */
    switch (st) {
    case VDB_ENOTFOUND: {
        int exists = 1;
        if (collection && vdb_has_collection(ctx->db, collection, &exists) == VDB_OK && !exists)
            return srv_fail(out, MV_COLLECTION_NOT_FOUND, "collection not found[collection=%s]",
                            collection);
        int code = notfound_code ? notfound_code : MV_PARAMETER_INVALID;
        const char *what = code == MV_PARTITION_NOT_FOUND ? "partition not found"
                           : code == MV_INDEX_NOT_FOUND   ? "index not found"
                           : code == MV_FIELD_NOT_FOUND   ? "field not found"
                                                          : "invalid parameter";
        return srv_fail(out, code, "%s: %s", what, msg);
    }
    case VDB_EINVAL:
    case VDB_EEXIST:
    case VDB_ERANGE:
        return srv_fail(out, MV_PARAMETER_INVALID, "invalid parameter: %s", msg);
    case VDB_EPERM:
        return srv_fail(out, MV_PRIVILEGE_NOT_PERMITTED, "%s: privilege not permitted", msg);
    case VDB_EUNSUPPORTED:
        return srv_fail(out, MV_OPERATION_NOT_SUPPORTED, "unsupported operation: %s", msg);
    case VDB_ENOMEM:
        return srv_fail(out, MV_MEMORY_LIMIT, "memory limit exceeded: %s", msg);
    case VDB_EIO:
    case VDB_ECORRUPT:
        return srv_fail(out, MV_IO_FAILED, "IO failed: %s", msg);
    default:
        return srv_fail(out, MV_UNEXPECTED, "unexpected error (%s): %s", vdb_status_name(st),
                        msg);
    }
}

json_t *srv_vdb_err(srv_ctx *ctx, vdb_status st, const char *collection, int notfound_code)
{
    srv_status s;
    srv_fail_vdb(ctx, &s, st, collection, notfound_code);
    return srv_status_json(&s);
}

static json_t *missing(const char *key)
{
    return srv_err(MV_MISSING_REQUIRED, "missing required parameters, error: '%s' is required",
                   key);
}

static json_t *wrong_type(const char *key, const char *want)
{
    return srv_err(MV_INCORRECT_FORMAT,
                   "can only accept json format request, error: '%s' must be %s", key, want);
}

int srv_req_obj(json_t *req, const char *key, const char *path, json_t **out, json_t **err)
{
    json_t *v = json_object_get(req, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v)) {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        *err = srv_err(MV_INCORRECT_FORMAT, "can only accept json format request, error: '%s' "
                       "must be an object, got %.64s", path ? path : key, text ? text : "?");
        free(text);
        return -1;
    }
    *out = v;
    return 0;
}

int srv_req_str(json_t *req, const char *key, int required, const char **out, json_t **err)
{
    json_t *v = json_object_get(req, key);
    *out = NULL;
    if (!v || json_is_null(v) || (json_is_string(v) && !json_string_length(v))) {
        if (required) {
            *err = missing(key);
            return -1;
        }
        return 0;
    }
    if (!json_is_string(v)) {
        *err = wrong_type(key, "a string");
        return -1;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: '%s' holds a NUL character",
                       key);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int srv_req_int(json_t *req, const char *key, int64_t dflt, int64_t *out, json_t **err)
{
    json_t *v = json_object_get(req, key);
    *out = dflt;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    /* 1e30 has no int64: the range is checked before the conversion */
    if (json_is_real(v) && json_real_value(v) >= -0x1p63 && json_real_value(v) < 0x1p63 &&
        json_real_value(v) == (double)(int64_t)json_real_value(v)) {
        *out = (int64_t)json_real_value(v);
        return 0;
    }
    if (json_is_string(v)) { /* "10": Milvus's clients sometimes send numbers as text */
        char *end;
        errno = 0;
        long long x = strtoll(json_string_value(v), &end, 10);
        if (end != json_string_value(v) && !*end && errno != ERANGE) {
            *out = x;
            return 0;
        }
    }
    *err = wrong_type(key, "an integer");
    return -1;
}

int srv_req_bool(json_t *req, const char *key, int dflt, int *out, json_t **err)
{
    json_t *v = json_object_get(req, key);
    *out = dflt;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v) && (!strcmp(json_string_value(v), "true") ||
                              !strcmp(json_string_value(v), "false"))) {
        *out = !strcmp(json_string_value(v), "true");
        return 0;
    }
    *err = wrong_type(key, "a boolean");
    return -1;
}

int srv_req_strs(json_t *req, const char *key, const char ***out, size_t *n, json_t **err)
{
    json_t *v = json_object_get(req, key);
    *out = NULL;
    *n = 0;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        const char **a = calloc(2, sizeof *a);
        if (!a) {
            *err = srv_err(MV_MEMORY_LIMIT, "memory limit exceeded");
            return -1;
        }
        a[0] = json_string_value(v);
        *out = a;
        *n = 1;
        return 0;
    }
    if (!json_is_array(v)) {
        *err = wrong_type(key, "an array of strings");
        return -1;
    }
    size_t m = json_array_size(v);
    const char **a = calloc(m + 1, sizeof *a);
    if (!a) {
        *err = srv_err(MV_MEMORY_LIMIT, "memory limit exceeded");
        return -1;
    }
    for (size_t i = 0; i < m; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e)) {
            free(a);
            *err = wrong_type(key, "an array of strings");
            return -1;
        }
        a[i] = json_string_value(e);
    }
    *out = a;
    *n = m;
    return 0;
}

const char *srv_req_dbname(json_t *req)
{
    const char *db = json_string_value(json_object_get(req, "dbName"));
    return db && *db && strcmp(db, "default") ? db : NULL;
}

const char *srv_bare_name(const char *name)
{
    const char *dot = name ? strchr(name, '.') : NULL;
    return dot ? dot + 1 : name;
}

int srv_qualify(const char *db, const char *name, char *buf, size_t n)
{
    int len = db && *db && strcmp(db, "default") ? snprintf(buf, n, "%s.%s", db, name)
                                                 : snprintf(buf, n, "%s", name);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

/* Rewrites the request's names of collections and aliases as "<db>.<name>" (libvdb's
 * qualified names, vdb.h "databases"), so handlers need not know the database. */
static int qualify_key(json_t *req, const char *db, const char *key, json_t **err)
{
    const char *v;
    if (srv_req_str(req, key, 0, &v, err))
        return -1;
    if (!v || !*v)
        return 0;
    if (strchr(v, '.')) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: %s '%s' holds a '.'", key, v);
        return -1;
    }
    char buf[600];
    if (srv_qualify(db, v, buf, sizeof buf)) {
        *err = srv_err(MV_PARAMETER_INVALID, "invalid parameter: %s is too long", key);
        return -1;
    }
    json_object_set_new(req, key, json_string(buf));
    return 0;
}

int srv_req_db(srv_ctx *ctx, json_t *req, json_t **err)
{
    const char *db;
    if (srv_req_str(req, "dbName", 0, &db, err) != 0)
        return -1;
    db = srv_req_dbname(req);
    if (!db)
        return 0;
    int exists = 0;
    if (vdb_has_database(ctx->db, db, &exists) != VDB_OK || !exists) {
        *err = srv_err(MV_DATABASE_NOT_FOUND, "database not found[database=%s]", db);
        return -1;
    }
    if (qualify_key(req, db, "collectionName", err) || qualify_key(req, db, "aliasName", err))
        return -1;
    /* a rename to another database names it in newDbName (the handler qualifies then) */
    if (!json_object_get(req, "newDbName") && qualify_key(req, db, "newCollectionName", err))
        return -1;
    return 0;
}

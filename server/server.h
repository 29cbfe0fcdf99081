/* vdb-server — the shared declarations of the standalone server's modules. */
#ifndef VDB_SERVER_H
#define VDB_SERVER_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/socket.h>
#include <stdint.h>
#include <vdb/vdb.h>
#include "util/vtype.h"

/* ---- configuration (config.c) --------------------------------------------------------- */

typedef struct srv_config {
    char *host;            /* listen address; default 127.0.0.1 (Milvus listens on all) */
    int port;              /* default 19530, as Milvus */
    char *data;            /* database folder (vdb_open's path) */
    char *log_uri, *meta_uri, *object_uri; /* storage URIs; NULL: under data */
    char *sync;            /* "full" (default), "batch", "off" */
    int threads;           /* request workers; 0: one per CPU (at least 2) */
    int io_threads;        /* HTTP/1.1 and HTTP/2 event loops (each); default 2 */
    char *token;           /* bearer token; NULL: no auth */
    char *tls_cert, *tls_key; /* PEM files: HTTPS when both are set */
    char *log_level;       /* error, warn, info (default), debug */
    uint64_t max_body;     /* request body cap in bytes; default 64 MiB */
    int timeout;           /* seconds a connection may sit idle; default 30 */
    int request_timeout;   /* seconds to receive one whole request; default 120 */
    int max_conns;         /* connection cap (REST and gRPC together); default 256 */
    int max_streams;       /* gRPC: concurrent streams per HTTP/2 connection; default 100 */
    int drain_timeout;     /* seconds shutdown waits for requests in flight; default 30 */
    int header_timeout;    /* seconds to receive an HTTP/1.1 request's head; default 10 */
    int authorization;     /* 1: users and roles (Milvus's common.security.authorizationEnabled) */
} srv_config;

/* Fills cfg from the config file named by --config (if any), then the flags (which win).
 * Returns 0 to run, 1 when --help or --version printed and the program should exit 0,
 * -1 on an error (already printed). */
int srv_config_load(srv_config *cfg, int argc, char **argv);
void srv_config_free(srv_config *cfg);
/* Workers of the write lane: half the read workers, at least 2. */
int srv_write_workers(const srv_config *cfg);
/* The whole file as a NUL-terminated string (malloc'd), or NULL (logged). */
char *srv_read_file(const char *path);

/* ---- logging (log.c) ------------------------------------------------------------------- */

enum { SRV_LOG_ERROR = 0, SRV_LOG_WARN = 1, SRV_LOG_INFO = 2, SRV_LOG_DEBUG = 3 };
int srv_log_set_level(const char *name); /* 0, or -1 for an unknown name */
int srv_log_enabled(int level);
void srv_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- request handling, independent of the transport (router.c, errors.c, handlers_*.c) ---
 * A handler takes the parsed JSON request body (an object) and returns the whole response
 * object: {"code": 0, "data": ...} or {"code": <Milvus code>, "message": "..."}; never NULL.
 * The HTTP layer (http.c) answers it with HTTP 200, as Milvus does; a gRPC front can call
 * the same handlers. Handlers are thread-safe: the vdb_db handle is. */

typedef struct srv_pool srv_pool;
typedef struct srv_conns srv_conns;

typedef struct srv_ctx {
    vdb_db *db;
    const srv_config *cfg;
    srv_pool *reads, *writes; /* the worker lanes both protocols run requests on */
    srv_conns *conns;         /* the connection cap both protocols share */
    /* writes hold it shared; re-creating an empty collection (srv_op_create_index) alone */
    pthread_rwlock_t schema_lock;
} srv_ctx;

/* A Milvus status, protocol-free: REST prints it as {"code", "message"}, gRPC as a
 * common.Status. code 0 is success. */
typedef struct srv_status {
    int code;
    char msg[1024];
} srv_status;

/* Sets st to code and printf(fmt, ...); returns -1 (for `return srv_fail(...)`). */
int srv_fail(srv_status *st, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The status for a failed vdb call: call it right after the call (it reads vdb_errmsg). st
 * maps to a Milvus code; VDB_ENOTFOUND becomes 100 when collection does not exist, else
 * notfound_code (0: 1100). Returns -1. */
int srv_fail_vdb(srv_ctx *ctx, srv_status *out, vdb_status st, const char *collection,
                 int notfound_code);
/* The JSON response {"code", "message"} of st. */
json_t *srv_status_json(const srv_status *st);

typedef json_t *(*srv_handler)(srv_ctx *ctx, json_t *req);

typedef struct srv_route {
    const char *path;  /* under /v2/vectordb, e.g. "/collections/create" */
    srv_handler fn;
    int is_write;      /* runs on the write lane: reads never queue behind it */
    int names_db;      /* dbName names the database acted on (databases/...), not a scope */
} srv_route;

/* ---- users and roles (handlers_rbac.c) ---- */
/* The privilege a REST route or gRPC method needs (one table for both, handlers_rbac.c). */
typedef struct srv_priv {
    const char *path;       /* the REST route (NULL: gRPC only) */
    vdb_rbac_object object; /* Global, or the request's collection */
    const char *priv;       /* Milvus's name (NULL: none; any user who authenticated) */
    const char *rpc;        /* the gRPC method (NULL: REST only) */
} srv_priv;
/* The row of REST route path, else of gRPC method rpc (either may be NULL); NULL if none. */
const srv_priv *srv_priv_find(const char *path, const char *rpc);
/* 0 if user may do p (NULL: what is not listed, "*" on Global) in database dbn (NULL or "":
 * default) on collection coll (for a Collection privilege; NULL: "*"); target: the user a
 * request is about (a user may read itself and change its own password). Else -1 with
 * Milvus's 1401 "PrivilegeX: permission deny to ..." in *err. */
int srv_priv_check(srv_ctx *ctx, const char *user, const srv_priv *p, const char *dbn,
                   const char *coll, const char *target, srv_status *err);
/* Milvus's object type name ("Global", "Collection", "User"): its vdb_rbac_object, or -1. */
int srv_rbac_object_of(const char *name);
/* One grant as vdb_describe_role gives it ("<object>/<db>/<name>/<privilege>"), split. */
typedef struct srv_grant {
    char buf[512];
    const char *object, *db, *name, *priv; /* in buf; "" when missing */
} srv_grant;
void srv_grant_parse(const char *s, srv_grant *g);
/* With --authorization 1: NULL if user may run route on req (dbName, collectionName), else
 * Milvus's 1401 response; changes nothing. */
json_t *srv_rbac_check(srv_ctx *ctx, const char *user, const char *path, json_t *req);
json_t *srv_users_create(srv_ctx *ctx, json_t *req);
json_t *srv_users_drop(srv_ctx *ctx, json_t *req);
json_t *srv_users_list(srv_ctx *ctx, json_t *req);
json_t *srv_users_describe(srv_ctx *ctx, json_t *req);
json_t *srv_users_update_password(srv_ctx *ctx, json_t *req);
json_t *srv_users_grant_role(srv_ctx *ctx, json_t *req);
json_t *srv_users_revoke_role(srv_ctx *ctx, json_t *req);
json_t *srv_roles_create(srv_ctx *ctx, json_t *req);
json_t *srv_roles_drop(srv_ctx *ctx, json_t *req);
json_t *srv_roles_list(srv_ctx *ctx, json_t *req);
json_t *srv_roles_describe(srv_ctx *ctx, json_t *req);
json_t *srv_roles_grant_privilege(srv_ctx *ctx, json_t *req);
json_t *srv_roles_revoke_privilege(srv_ctx *ctx, json_t *req);

/* The route for a path under /v2/vectordb (NULL if none). */
const srv_route *srv_route_find(const char *path);
/* Parses body as JSON and runs the route's handler; a body that is not a JSON object gets
 * Milvus's 1801 error. */
/* user: the authenticated user with --authorization 1 (else unused). */
json_t *srv_dispatch(srv_ctx *ctx, const srv_route *route, const char *user, const char *body,
                     size_t len);

/* Milvus error codes (merr) the server answers with; server/README.md has the table. */
enum {
    MV_OK = 0,
    MV_MEMORY_LIMIT = 3,
    MV_UNIMPLEMENTED = 10,
    MV_COLLECTION_NOT_FOUND = 100,
    MV_PARTITION_NOT_FOUND = 200,
    MV_INDEX_NOT_FOUND = 700,
    MV_INDEX_NOT_SUPPORTED = 701,
    MV_DATABASE_NOT_FOUND = 800,
    MV_IO_FAILED = 1001,
    MV_PARAMETER_INVALID = 1100,
    MV_PARAMETER_MISSING = 1101,
    MV_PARAMETER_TOO_LARGE = 1102,
    MV_ALIAS_NOT_FOUND = 1600,
    MV_ALIAS_NAME_CONFLICT = 1601,
    MV_ALIAS_EXISTS = 1602,
    MV_FIELD_NOT_FOUND = 1700,
    MV_PRIVILEGE_NOT_PERMITTED = 1401, /* merr.ErrPrivilegeNotPermitted (HTTP 403) */
    MV_NEED_AUTHENTICATE = 1800,
    MV_INCORRECT_FORMAT = 1801,
    MV_MISSING_REQUIRED = 1802,
    MV_INVALID_INSERT_DATA = 1804,
    MV_CHECK_PRIMARY_KEY = 1806,
    MV_OPERATION_NOT_SUPPORTED = 3000,
    MV_UNEXPECTED = 65535,
};

/* {"code": 0, "data": data} (data stolen; NULL gives {}). */
json_t *srv_ok(json_t *data);
/* {"code": code, "message": printf(fmt, ...)}. */
json_t *srv_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The response for a failed vdb call: call it right after the call (it reads vdb_errmsg).
 * st maps to a Milvus code; VDB_ENOTFOUND becomes 100 when collection does not exist, else
 * notfound_code (0: 1100). */
json_t *srv_vdb_err(srv_ctx *ctx, vdb_status st, const char *collection, int notfound_code);

/* Request fields. Each returns 0, or sets *err to a 1802/1100 response and returns -1. */
int srv_req_str(json_t *req, const char *key, int required, const char **out, json_t **err);
int srv_req_int(json_t *req, const char *key, int64_t dflt, int64_t *out, json_t **err);
/* A nested object (searchParams, params, ...): absent or null gives *out = NULL; any other
 * type is 1801 naming path (NULL: key), e.g. "searchParams.params". */
int srv_req_obj(json_t *req, const char *key, const char *path, json_t **out, json_t **err);
int srv_req_bool(json_t *req, const char *key, int dflt, int *out, json_t **err);
/* An array of strings (or one string) as a NULL-terminated vector into req (free the vector
 * only); *n gets the count. Missing: *out = NULL, *n = 0. */
int srv_req_strs(json_t *req, const char *key, const char ***out, size_t *n, json_t **err);
/* dbName: absent or "default", or a database that exists (else *err is Milvus's 800), whose
 * collectionName, aliasName and newCollectionName are rewritten as "<db>.<name>". */
int srv_req_db(srv_ctx *ctx, json_t *req, json_t **err);
/* The request's dbName (NULL when absent or "default"). */
const char *srv_req_dbname(json_t *req);
/* A name without its "<db>." part. */
const char *srv_bare_name(const char *name);
/* "<db>.<name>" (name alone for no db or "default") into buf; -1 if it does not fit. */
int srv_qualify(const char *db, const char *name, char *buf, size_t n);

/* Handlers (one file per area). */
json_t *srv_collections_create(srv_ctx *ctx, json_t *req);
json_t *srv_databases_create(srv_ctx *ctx, json_t *req);
json_t *srv_databases_drop(srv_ctx *ctx, json_t *req);
json_t *srv_databases_list(srv_ctx *ctx, json_t *req);
json_t *srv_databases_describe(srv_ctx *ctx, json_t *req);
json_t *srv_collections_describe(srv_ctx *ctx, json_t *req);
json_t *srv_collections_list(srv_ctx *ctx, json_t *req);
json_t *srv_collections_has(srv_ctx *ctx, json_t *req);
json_t *srv_collections_drop(srv_ctx *ctx, json_t *req);
json_t *srv_collections_stats(srv_ctx *ctx, json_t *req);
json_t *srv_collections_load(srv_ctx *ctx, json_t *req);
json_t *srv_collections_load_state(srv_ctx *ctx, json_t *req);
json_t *srv_collections_rename(srv_ctx *ctx, json_t *req);
json_t *srv_collections_flush(srv_ctx *ctx, json_t *req);
json_t *srv_collections_compact(srv_ctx *ctx, json_t *req);
json_t *srv_collections_truncate(srv_ctx *ctx, json_t *req);
json_t *srv_collections_alter_properties(srv_ctx *ctx, json_t *req);
json_t *srv_collections_add_field(srv_ctx *ctx, json_t *req);
json_t *srv_collections_drop_properties(srv_ctx *ctx, json_t *req);

json_t *srv_aliases_create(srv_ctx *ctx, json_t *req);
json_t *srv_aliases_alter(srv_ctx *ctx, json_t *req);
json_t *srv_aliases_drop(srv_ctx *ctx, json_t *req);
json_t *srv_aliases_list(srv_ctx *ctx, json_t *req);
json_t *srv_aliases_describe(srv_ctx *ctx, json_t *req);

json_t *srv_partitions_create(srv_ctx *ctx, json_t *req);
json_t *srv_partitions_drop(srv_ctx *ctx, json_t *req);
json_t *srv_partitions_list(srv_ctx *ctx, json_t *req);
json_t *srv_partitions_has(srv_ctx *ctx, json_t *req);
json_t *srv_partitions_stats(srv_ctx *ctx, json_t *req);
json_t *srv_partitions_load(srv_ctx *ctx, json_t *req);

json_t *srv_entities_insert(srv_ctx *ctx, json_t *req);
json_t *srv_entities_upsert(srv_ctx *ctx, json_t *req);
json_t *srv_entities_delete(srv_ctx *ctx, json_t *req);
json_t *srv_entities_get(srv_ctx *ctx, json_t *req);
json_t *srv_entities_query(srv_ctx *ctx, json_t *req);
json_t *srv_entities_search(srv_ctx *ctx, json_t *req);
json_t *srv_entities_hybrid_search(srv_ctx *ctx, json_t *req);
/* libvdb's extensions: one batch of a query / search iterator per call (handlers_entities.c) */
json_t *srv_entities_query_iterator(srv_ctx *ctx, json_t *req);
json_t *srv_entities_search_iterator(srv_ctx *ctx, json_t *req);

json_t *srv_indexes_create(srv_ctx *ctx, json_t *req);
json_t *srv_indexes_describe(srv_ctx *ctx, json_t *req);
json_t *srv_indexes_list(srv_ctx *ctx, json_t *req);
json_t *srv_indexes_drop(srv_ctx *ctx, json_t *req);

/* ---- schemas as Milvus spells them (schema_json.c) ------------------------------------- */

/* "Int64" -> VDB_TYPE_INT64 (case-insensitive; VDB_TYPE_NONE if unknown or unsupported). */
vdb_type srv_type_from_name(const char *name);
const char *srv_type_name(vdb_type t);          /* VDB_TYPE_INT64 -> "Int64" */
int srv_metric_from_name(const char *name, vdb_metric *out); /* 0, or -1 if unknown */
/* Builds the vdb schema of a collections/create request (quick or full form). On error
 * returns NULL and sets *err. */
vdb_schema *srv_schema_from_request(json_t *req, const char *name, json_t **err);
/* One field as Milvus's REST spells it (an add field's "schema") into *d; *dflt (free it)
 * holds the default's text d points at, d->analyzer_params (free it too) the analyzer's. */
int srv_field_from_json(json_t *req, json_t *f, vdb_field_def *d, char **dflt, json_t **err);
/* The "data" of collections/describe. */
json_t *srv_schema_describe(srv_ctx *ctx, const char *name, const vdb_schema *s);

/* ---- rows and results (json_rows.c) ----------------------------------------------------- */

/* A collection's schema as the row code needs it: described once per request. */
typedef struct srv_coll {
    vdb_schema *schema;
    size_t nfields;
    vdb_field_def *fields;
    int pk;            /* index of the primary key */
    int dynamic;
} srv_coll;

/* Describes collection name into c: 0, or -1 with *err (free c with srv_coll_free). */
int srv_coll_load(srv_ctx *ctx, const char *name, srv_coll *c, srv_status *err);
/* The same for REST: NULL, or the error response. */
json_t *srv_coll_open(srv_ctx *ctx, const char *name, srv_coll *c);
void srv_coll_free(srv_coll *c);
/* A stable id for a collection (Milvus's are numbers; the SDKs only pass them back): what
 * DescribeCollection reports and a search iterator's collection_id is checked against. */
int64_t srv_collection_id(const char *name);
int srv_coll_find(const srv_coll *c, const char *field); /* index or -1 */

/* Converts the rows of an insert/upsert ("data": an array of objects, or one object) into a
 * columnar batch. On error returns NULL and sets *err (1804, as Milvus). */
vdb_batch *srv_rows_to_batch(const srv_coll *c, json_t *data, json_t **err);

/* Which output fields to request and how to print them. */
typedef struct srv_outplan {
    const char **names;   /* what vdb_read_opts.output_fields gets */
    size_t n;
    char *kinds;          /* per name: 'f' field, 'm' "$meta" flattened, 'd' dynamic key */
    int with_pk;          /* the primary key is printed (always for get/query/search) */
} srv_outplan;

/* Builds the plan for outputFields (a JSON array or NULL: dflt_all gives "*", else none). */
int srv_outplan_make(const srv_coll *c, json_t *fields, int dflt_all, srv_outplan *p,
                     json_t **err);
void srv_outplan_free(srv_outplan *p);
/* Appends row (group g, row r) of res to arr as an object; with_dist adds "distance". */
int srv_result_row(const srv_coll *c, const srv_outplan *p, const vdb_result *res, size_t g,
                   size_t r, int with_dist, json_t *arr);
/* The primary key of a row as JSON. */
json_t *srv_result_pk(const vdb_result *res, size_t g, size_t r);
/* A float as the shortest decimal that reads back to the same float. */
json_t *srv_json_float(float f);
/* A sparse vector from JSON as Milvus's REST API takes it: {"<index>": value, ...}, or
 * {"indices": [...], "values": [...]}; sorted by index (duplicates and values are checked by
 * the library). *out's arrays are malloc'ed (free both); NULL with *why set on a bad shape. */
int srv_json_sparse(json_t *v, vdb_sparse_row *out, const char **why);
/* A sparse vector from gRPC's wire form (schema.SparseFloatArray contents, a sparse
 * placeholder): little-endian (uint32 index, float32 value) pairs; -1 when len is not a
 * multiple of 8 or memory runs out. *out's arrays are malloc'ed (free both). The library
 * checks order, range and values. */
int srv_sparse_from_bytes(const uint8_t *p, size_t len, vdb_sparse_row *out);
void srv_sparse_rows_free(vdb_sparse_row *rows, size_t n);

/* Primary keys from a JSON value (a key, or an array of keys) for vdb_delete / vdb_get. */
typedef struct srv_pks {
    vdb_pk_list list;
    int64_t *ints;
    const char **strs;
} srv_pks;
int srv_pks_from_json(const srv_coll *c, json_t *v, srv_pks *out, json_t **err);
void srv_pks_free(srv_pks *p);

/* The plan for output field names (n of them; none: dflt_all gives "*", else nothing). */
int srv_outplan_names(const srv_coll *c, const char *const *names, size_t n, int dflt_all,
                      srv_outplan *p, srv_status *err);

/* ---- the request layer: operations both protocols share (ops.c) -------------------------
 * Each takes C values, returns 0, or -1 with *err set to Milvus's status. */

#define SRV_MAX_TOPK 16384 /* limit + offset of a search, as Milvus */
#define SRV_MAX_QUERY_WINDOW 16384 /* offset + limit of a query (maxQueryResultWindow) */

/* 0 if the collection exists, else 100. */
int srv_op_require_collection(srv_ctx *ctx, const char *coll, srv_status *err);
/* Drops it; one that is not there is success, as Milvus. */
int srv_op_drop_collection(srv_ctx *ctx, const char *coll, srv_status *err);
int srv_op_has_partition(srv_ctx *ctx, const char *coll, const char *part, int *has,
                         srv_status *err);
/* The collection and each partition exist (load/release are no-ops: all is loaded). */
int srv_op_check_partitions(srv_ctx *ctx, const char *coll, const char *const *parts, size_t n,
                            srv_status *err);
int srv_op_partition_rows(srv_ctx *ctx, const char *coll, const char *part, uint64_t *rows,
                          srv_status *err);
/* A consistency level by Milvus's name (NULL or "": Strong) into ro. */
int srv_op_consistency(const char *level, vdb_read_opts *ro, srv_status *err);
/* Aliases, rename and truncate (ops_aliases.c). */
typedef enum srv_alias_op { SRV_ALIAS_CREATE, SRV_ALIAS_ALTER, SRV_ALIAS_DROP } srv_alias_op;
/* create/alter alias for coll; drop alias (coll unused). */
int srv_op_alias(srv_ctx *ctx, srv_alias_op op, const char *coll, const char *alias,
                 srv_status *err);
/* The collection alias names into coll (n bytes). */
int srv_op_describe_alias(srv_ctx *ctx, const char *alias, char *coll, size_t n,
                          srv_status *err);
/* The aliases of coll (NULL or "": of every collection). */
int srv_op_list_aliases(srv_ctx *ctx, const char *coll, vdb_names **out, srv_status *err);
/* new_db: NULL, "" or "default" (the only database). */
int srv_op_rename_collection(srv_ctx *ctx, const char *coll, const char *to,
                             const char *new_db, srv_status *err);
int srv_op_truncate_collection(srv_ctx *ctx, const char *coll, srv_status *err);
/* Sets vals[i] for keys[i] (vals NULL: drops keys) of coll's properties, as
 * vdb_alter_collection_properties / vdb_drop_collection_properties. */
int srv_op_alter_properties(srv_ctx *ctx, const char *coll, const char *const *keys,
                            const char *const *vals, size_t n, srv_status *err);
/* vdb_add_collection_field under the write lock, failures as Milvus answers them */
int srv_op_add_field(srv_ctx *ctx, const char *coll, const vdb_field_def *d, srv_status *err);
/* Writers hold this shared (see srv_ctx.schema_lock). */
void srv_write_lock(srv_ctx *ctx);
void srv_write_unlock(srv_ctx *ctx);
/* Insert or upsert b into partition part (NULL: _default); *pks gets the keys. */
int srv_op_write(srv_ctx *ctx, const char *coll, const char *part, const vdb_batch *b,
                 int upsert, vdb_result **pks, srv_status *err);
/* Deletes by filter (when non-empty) or by pks; *count: rows matched (keys given). */
int srv_op_delete(srv_ctx *ctx, const char *coll, const char *part, const char *filter,
                  const vdb_pk_list *pks, uint64_t *count, srv_status *err);
int srv_is_count_star(const char *name);
int srv_op_count(srv_ctx *ctx, const char *coll, const char *filter, const vdb_read_opts *ro,
                 uint64_t *n, srv_status *err);
/* A query with Milvus's semantics: with a limit, the matches of smallest primary key, in key
 * order, after skipping offset (what the query iterator pages on). *res is NULL when no row
 * matches. */
int srv_op_query(srv_ctx *ctx, const srv_coll *c, const char *coll, const char *filter,
                 const vdb_read_opts *ro, int64_t limit, int64_t offset, vdb_result **res,
                 srv_status *err);
/* The vector field a search names (anns NULL or "": the only one). */
int srv_op_search_field(const srv_coll *c, const char *anns, const vdb_field_def **vf,
                        srv_status *err);
/* A metric a request names must be the field's (what: "searchParams", "the index"). */
int srv_op_check_metric(const vdb_field_def *vf, const char *metric, const char *what,
                        srv_status *err);
/* A params object ({"ef": 64, ...}) as "key=value,..." (NULL when empty), skipping keys. */
int srv_op_params_text(json_t *params, const char *const *skip, char **out, srv_status *err);
/* Runs sr with k = limit + offset (sr->k is set here). */
int srv_op_search(srv_ctx *ctx, const char *coll, vdb_search_req *sr, int64_t limit,
                  int64_t offset, vdb_result **res, srv_status *err);
/* One batch of a search iterator over stateless calls (ops_iter.c): ir filled but for its
 * resume fields, read.travel_ts the first batch's snapshot (0: now); token NULL or "" for the
 * first batch, else the one the previous batch handed back (what names it in errors: the
 * protocol's word). *res gets the hits, *next the token for the next batch (malloc'd), *ts
 * the snapshot's timestamp and *last the last hit's distance. */
int srv_op_search_iter_batch(srv_ctx *ctx, const srv_coll *c, vdb_search_iter_req *ir,
                             const char *token, const char *what, vdb_result **res,
                             char **next, uint64_t *ts, float *last, srv_status *err);
/* One batch of a query iterator over stateless calls: the rows after the token's key (qr's
 * filter and "pk > key", at the token's timestamp), as srv_op_search_iter_batch. */
int srv_op_query_iter_batch(srv_ctx *ctx, const srv_coll *c, vdb_query_iter_req *qr,
                            const char *token, const char *what, vdb_result **res,
                            char **next, uint64_t *ts, srv_status *err);
/* Creates the index of field, named iname (NULL or "": the field's name): type (NULL: params'
 * index_type, else AUTOINDEX), metric (NULL: params' metric_type; must be the field's, but an
 * empty collection takes it), params: the other parameters ({"M": 16, ...}). */
int srv_op_create_index(srv_ctx *ctx, const char *coll, const srv_coll *c, const char *field,
                        const char *iname, const char *type, const char *metric,
                        json_t *params, srv_status *err);
enum { SRV_INDEX_IN_PROGRESS = 2, SRV_INDEX_FINISHED = 3, SRV_INDEX_FAILED = 4 };
typedef struct srv_index_info {
    char name[256], field[256];
    const char *type, *metric;
    uint64_t indexed_rows, total_rows;
    int state; /* SRV_INDEX_* (Milvus's IndexState numbers, as vdb_index_state) */
    char reason[512];
} srv_index_info;
/* The indexes of coll (*out malloc'd, *n of them): the one called iname (NULL or "": all;
 * index not found if none), of field only when field is not NULL or "". */
int srv_op_list_indexes(srv_ctx *ctx, const char *coll, const char *iname, const char *field,
                        srv_index_info **out, size_t *n, srv_status *err);
/* Drops the index called iname, else (iname NULL or "") the index of field. */
int srv_op_drop_index(srv_ctx *ctx, const char *coll, const char *iname, const char *field,
                      srv_status *err);

/* Compact JSON text of v (malloc'd; *len its length), reals in their shortest exact form.
 * NULL when out of memory. (json_out.c) */
char *srv_json_text(const json_t *v, size_t *len);

/* ---- the port, the connection cap, the event loops (front.c, conns.c, loop.c, http.c, h2.c) */

typedef void (*srv_job_fn)(void *arg);
srv_pool *srv_pool_create(int threads, const char *name);
/* Queues fn(arg); returns 0, or -1 when the pool is stopping. */
int srv_pool_submit(srv_pool *p, srv_job_fn fn, void *arg);
/* Refuses new jobs, runs the queued ones to the end and joins the threads (once). */
void srv_pool_stop(srv_pool *p);
/* srv_pool_stop, then frees the pool. */
void srv_pool_destroy(srv_pool *p);

/* The connection cap: try_open takes a slot (0 at the cap), close gives one back (from any
 * thread); the accept loop polls wake_fd, written when a slot frees at the cap. */
srv_conns *srv_conns_create(int max);
void srv_conns_destroy(srv_conns *c);
int srv_conns_try_open(srv_conns *c);
int srv_conns_full(srv_conns *c);
void srv_conns_close(srv_conns *c);
int srv_conns_wake_fd(const srv_conns *c);
void srv_conns_drain_wake(srv_conns *c);

/* The event loops of one protocol (loop.c, no listening socket): REST over HTTP/1.1 (http.c)
 * or gRPC over HTTP/2 (h2.c). The requests run on ctx's database and lanes. */
typedef struct srv_loops srv_loops;
typedef srv_loops srv_http;
typedef srv_loops srv_h2;
/* NULL on error (logged). */
srv_http *srv_http_start(srv_ctx *ctx);
srv_h2 *srv_h2_start(srv_ctx *ctx);

/* The HTTP/1.1 server of one connection without a socket or workers (tests/fuzz/fuzz_http.c):
 * the bytes pieces[0..n) arrive as the connection's reads and go through the code the event
 * loop runs (http.c: the parser, limits, answers); each complete request is given to answer
 * (route, user, body) on the calling thread, as a worker lane would run it, and its JSON sent
 * back. quiesced: as after srv_loops_quiesce. res->out (free it) holds every byte the server
 * would have written. -1 out of memory. */
typedef json_t *(*srv_http_answer_fn)(void *arg, const srv_route *route,
                                      const char *user, const char *body, size_t len);
typedef struct srv_http_fed {
    char *out;
    size_t out_len;
    unsigned requests; /* handed to answer */
    int closed;        /* the server closed the connection (or lingers to close it) */
    int state_head;    /* open and waiting for a new request, nothing buffered */
    int active;        /* requests counted as begun and not answered after the close: 0 */
    int oom;           /* an allocation for out failed */
} srv_http_fed;
int srv_http_feed(srv_ctx *ctx, const char *const *pieces, const size_t *lens, size_t n,
                  srv_http_answer_fn answer, void *arg, int quiesced, srv_http_fed *res);
/* Takes a connection front.c accepted (any thread); its slot is freed when it closes. For
 * HTTP/2: one that sent the preface (or offered h2 by ALPN). */
void srv_loops_add(srv_loops *ls, int fd);
/* Requests in flight go on; new ones are refused. HTTP/1.1: new requests get 503 and every
 * answer closes its connection. HTTP/2: GOAWAY on every connection. */
void srv_loops_quiesce(srv_loops *ls);
/* Waits up to seconds for requests in flight and their answers; returns how many were still
 * running when the wait for them ended. */
int srv_loops_drain(srv_loops *ls, int seconds);
/* Closes every connection and frees everything (stop the pools first); NULL is a no-op. */
void srv_loops_stop(srv_loops *ls);

/* The listening port (front.c): accepts, tells HTTP/1.1 from HTTP/2 and hands them over. */
typedef struct srv_front srv_front;
srv_front *srv_front_start(srv_ctx *ctx, srv_http *http, srv_h2 *h2);
/* Closes the listening socket (and connections that have not said which protocol). */
void srv_front_stop(srv_front *f);

/* ---- gRPC: the MilvusService methods (grpc.c, grpc_*.c) -------------------------------- */

enum { /* gRPC status codes */
    SRV_GRPC_OK = 0,
    SRV_GRPC_CANCELLED = 1,
    SRV_GRPC_UNKNOWN = 2,
    SRV_GRPC_INVALID_ARGUMENT = 3,
    SRV_GRPC_DEADLINE_EXCEEDED = 4,
    SRV_GRPC_RESOURCE_EXHAUSTED = 8,
    SRV_GRPC_UNIMPLEMENTED = 12,
    SRV_GRPC_INTERNAL = 13,
    SRV_GRPC_UNAVAILABLE = 14,
    SRV_GRPC_UNAUTHENTICATED = 16,
    SRV_GRPC_PERMISSION_DENIED = 7,
};

typedef struct srv_grpc_method srv_grpc_method;

/* The answer of a call: buf (malloc'd) holds 5 bytes for the gRPC message prefix, then the
 * packed response; len counts both. status != 0: no message, a gRPC error with message. */
typedef struct srv_grpc_reply {
    uint8_t *buf;
    size_t len;
    int status;
    char message[512];
} srv_grpc_reply;

/* The method a :path names ("/milvus.proto.milvus.MilvusService/Search"); NULL with *why
 * (gRPC's words for UNIMPLEMENTED) when there is none. */
const srv_grpc_method *srv_grpc_find(const char *path, const char **why);
int srv_grpc_is_write(const srv_grpc_method *m);
/* Standard or URL-safe base64 (padded or not) into out (cap bytes, NUL-terminated): the
 * length, or -1 for a bad character or an output that does not fit. */
long srv_b64_decode(const char *in, char *out, size_t cap);
/* One FLOAT16 / BFLOAT16 / INT8 vector of field type t and dim from JSON (a base64 string of
 * the little-endian elements, or dim numbers) into out (dim elements); NULL, or the error's
 * words ("is not ...") in why. */
const char *srv_half_vector(vdb_type t, uint32_t dim, json_t *v, uint8_t *out);
/* One BINARY_VECTOR of dim bits from JSON (a list of dim / 8 byte values 0..255, or a base64
 * string of the dim / 8 bytes, as Milvus's REST API) into out; NULL, or the error's words. */
const char *srv_binary_vector(uint32_t dim, json_t *v, uint8_t *out);
/* 1 if the authorization metadata (base64 of "user:password" or of the token) matches
 * cfg->token; else 0 with *why (Milvus's words). */
int srv_grpc_auth_ok(const srv_config *cfg, const char *authorization, const char **why);
/* --authorization 1: 0 if the metadata (base64 of "user:password") names a user of the
 * database with that password, its name into user (un bytes); else SRV_GRPC_UNAUTHENTICATED
 * with *why. What the user may do is checked when the call runs (srv_grpc_run). */
int srv_grpc_user_check(srv_ctx *ctx, const char *authorization, char *user, size_t un,
                        const char **why);
/* Runs the call on msg (the request message, unframed). dbname: the "dbname" metadata; user:
 * who calls (--authorization 1, authenticated: its privileges are checked), else NULL. */
void srv_grpc_run(srv_ctx *ctx, const srv_grpc_method *m, const char *dbname, const char *user,
                  const uint8_t *msg, size_t len, srv_grpc_reply *out);

/* The HTTP/2 server of one connection without a socket or workers (tests/fuzz/fuzz_h2.c): the
 * bytes pieces[0..n) (the client's preface first) arrive as the connection's reads and go
 * through the code the event loop runs (h2.c on nghttp2: frames, HPACK, the limits, the gRPC
 * framing of a message); each call is run by run instead of srv_grpc_run (same arguments; it
 * fills out, buf with its 5-byte gRPC prefix) on the calling thread, and its answer sent.
 * quiesced: as after srv_loops_quiesce. -1 if the session could not be made. */
typedef void (*srv_h2_run_fn)(void *arg, const srv_grpc_method *m, const char *dbname,
                              const uint8_t *msg, size_t len, srv_grpc_reply *out);
typedef struct srv_h2_fed {
    size_t out_bytes; /* what the server wrote */
    unsigned calls;   /* handed to run */
    int closed;       /* the server closed the connection */
    int active;       /* calls counted as begun and not answered after the close: 0 */
} srv_h2_fed;
int srv_h2_feed(srv_ctx *ctx, const uint8_t *const *pieces, const size_t *lens, size_t n,
                srv_h2_run_fn run, void *arg, int quiesced, srv_h2_fed *res);

/* ---- the web page, /webui (webui.c, handlers_webui.c; the files are in server/webui) ----
 * GET /webui serves index.html, GET /webui/NAME the other files, built into the binary
 * (scripts/embed-files.py writes srv_webui_assets). The page's data calls are POSTs on the
 * REST routes and on the /webui/api/... routes below, with the same token. */

typedef struct srv_asset {
    const char *name;          /* base name, e.g. "app.js" */
    const unsigned char *data;
    size_t len;
} srv_asset;
extern const srv_asset srv_webui_assets[];
extern const size_t srv_webui_nassets;

/* The file a GET names (target: the path without its query): "/webui", "/webui/" and
 * "/webui/index.html" give index.html. NULL when target is under /webui but names no file;
 * *is_webui says whether target is /webui or under it. */
const srv_asset *srv_webui_find(const char *target, int *is_webui);
/* Its Content-Type. */
const char *srv_webui_type(const srv_asset *a);
/* The header lines every /webui answer carries (Cache-Control, Content-Security-Policy,
 * ...), each ending in CRLF. */
extern const char srv_webui_headers[];
/* The route for a path under /webui/api (NULL if none); dispatched as the REST routes. */
const srv_route *srv_webui_route_find(const char *path);

/* The server's configuration as JSON, option names as keys (config.c): the token, secrets in
 * storage URIs (user:password@, key=, sas=, ... query values) are "[redacted]". */
json_t *srv_config_json(const srv_config *cfg);
json_t *srv_webui_config(srv_ctx *ctx, json_t *req);
json_t *srv_webui_segments(srv_ctx *ctx, json_t *req);

#endif

/* vdb-server — gRPC's MilvusService: the method table (which RPCs are served, on which lane,
 * and the shape of their answers), the authorization metadata, and Milvus's status in every
 * answer (common.Status: the 2.x code, the legacy error_code and the reason). A method libvdb
 * lacks the feature for is listed with the reason it answers; a name not in the table gets
 * gRPC's UNIMPLEMENTED. Adding a method: a row here and a handler in grpc_*.c. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grpc_pb.h"
#include "secret.h"

#define SERVICE "milvus.proto.milvus.MilvusService"

enum { SHAPE_STATUS, SHAPE_WRAPPED }; /* the answer is a common.Status / holds it in field 1 */

struct srv_grpc_method {
    const char *name;
    srv_rpc_fn fn;     /* NULL: not supported; answers `note` */
    int is_write;      /* runs on the write lane */
    int shape;
    const char *note;
};

#define RPC(name, fn, w, shape) {name, fn, w, shape, NULL}
#define NOT(name, shape, note) {name, NULL, 0, shape, note}

static const char NO_DB[] = "libvdb has no database properties";
static const char NO_RBAC[] = "privilege groups are not built in libvdb: grant privileges one "
                              "by one";
static const char NO_RG[] = "resource groups and replicas belong to a Milvus cluster";

static const srv_grpc_method methods[] = {
    RPC("Connect", srv_rpc_connect, 0, SHAPE_WRAPPED),
    RPC("GetVersion", srv_rpc_get_version, 0, SHAPE_WRAPPED),
    RPC("CheckHealth", srv_rpc_check_health, 0, SHAPE_WRAPPED),
    RPC("AllocTimestamp", srv_rpc_alloc_timestamp, 0, SHAPE_WRAPPED),
    RPC("ListDatabases", srv_rpc_list_databases, 0, SHAPE_WRAPPED),
    RPC("DescribeDatabase", srv_rpc_describe_database, 0, SHAPE_WRAPPED),
    RPC("CreateCollection", srv_rpc_create_collection, 1, SHAPE_STATUS),
    RPC("DropCollection", srv_rpc_drop_collection, 1, SHAPE_STATUS),
    RPC("HasCollection", srv_rpc_has_collection, 0, SHAPE_WRAPPED),
    RPC("DescribeCollection", srv_rpc_describe_collection, 0, SHAPE_WRAPPED),
    RPC("ShowCollections", srv_rpc_show_collections, 0, SHAPE_WRAPPED),
    RPC("RenameCollection", srv_rpc_rename_collection, 1, SHAPE_STATUS),
    RPC("AlterCollection", srv_rpc_alter_collection, 1, SHAPE_STATUS),
    RPC("AddCollectionField", srv_rpc_add_collection_field, 1, SHAPE_STATUS),
    RPC("TruncateCollection", srv_rpc_truncate_collection, 1, SHAPE_WRAPPED),
    RPC("CreateAlias", srv_rpc_create_alias, 1, SHAPE_STATUS),
    RPC("DropAlias", srv_rpc_drop_alias, 1, SHAPE_STATUS),
    RPC("AlterAlias", srv_rpc_alter_alias, 1, SHAPE_STATUS),
    RPC("DescribeAlias", srv_rpc_describe_alias, 0, SHAPE_WRAPPED),
    RPC("ListAliases", srv_rpc_list_aliases, 0, SHAPE_WRAPPED),
    RPC("GetCollectionStatistics", srv_rpc_collection_stats, 0, SHAPE_WRAPPED),
    RPC("LoadCollection", srv_rpc_load_collection, 0, SHAPE_STATUS),
    RPC("ReleaseCollection", srv_rpc_load_collection, 0, SHAPE_STATUS),
    RPC("GetLoadState", srv_rpc_get_load_state, 0, SHAPE_WRAPPED),
    RPC("GetLoadingProgress", srv_rpc_get_loading_progress, 0, SHAPE_WRAPPED),
    RPC("Flush", srv_rpc_flush, 1, SHAPE_WRAPPED),
    RPC("GetFlushState", srv_rpc_get_flush_state, 0, SHAPE_WRAPPED),
    RPC("ManualCompaction", srv_rpc_manual_compaction, 1, SHAPE_WRAPPED),
    RPC("GetCompactionState", srv_rpc_get_compaction_state, 0, SHAPE_WRAPPED),
    RPC("CreatePartition", srv_rpc_create_partition, 1, SHAPE_STATUS),
    RPC("DropPartition", srv_rpc_drop_partition, 1, SHAPE_STATUS),
    RPC("HasPartition", srv_rpc_has_partition, 0, SHAPE_WRAPPED),
    RPC("ShowPartitions", srv_rpc_show_partitions, 0, SHAPE_WRAPPED),
    RPC("LoadPartitions", srv_rpc_load_partitions, 0, SHAPE_STATUS),
    RPC("ReleasePartitions", srv_rpc_load_partitions, 0, SHAPE_STATUS),
    RPC("GetPartitionStatistics", srv_rpc_partition_stats, 0, SHAPE_WRAPPED),
    RPC("CreateIndex", srv_rpc_create_index, 1, SHAPE_STATUS),
    RPC("DescribeIndex", srv_rpc_describe_index, 0, SHAPE_WRAPPED),
    RPC("DropIndex", srv_rpc_drop_index, 1, SHAPE_STATUS),
    RPC("GetIndexState", srv_rpc_get_index_state, 0, SHAPE_WRAPPED),
    RPC("GetIndexBuildProgress", srv_rpc_get_index_build_progress, 0, SHAPE_WRAPPED),
    RPC("Insert", srv_rpc_insert, 1, SHAPE_WRAPPED),
    RPC("Upsert", srv_rpc_upsert, 1, SHAPE_WRAPPED),
    RPC("Delete", srv_rpc_delete, 1, SHAPE_WRAPPED),
    RPC("Search", srv_rpc_search, 0, SHAPE_WRAPPED),
    RPC("HybridSearch", srv_rpc_hybrid_search, 0, SHAPE_WRAPPED),
    RPC("Query", srv_rpc_query, 0, SHAPE_WRAPPED),
    /* features libvdb lacks today: a clear Milvus error (3000), the request is not read */
    NOT("AlterCollectionField", SHAPE_STATUS, "fields cannot be altered in libvdb"),
    NOT("AlterIndex", SHAPE_STATUS, "index properties cannot be altered in libvdb"),
    RPC("CreateDatabase", srv_rpc_create_database, 1, SHAPE_STATUS),
    RPC("DropDatabase", srv_rpc_drop_database, 1, SHAPE_STATUS),
    NOT("AlterDatabase", SHAPE_STATUS, NO_DB),
    RPC("CreateCredential", srv_rpc_create_credential, 1, SHAPE_STATUS),
    RPC("UpdateCredential", srv_rpc_update_credential, 1, SHAPE_STATUS),
    RPC("DeleteCredential", srv_rpc_delete_credential, 1, SHAPE_STATUS),
    RPC("ListCredUsers", srv_rpc_list_cred_users, 0, SHAPE_WRAPPED),
    RPC("CreateRole", srv_rpc_create_role, 1, SHAPE_STATUS),
    RPC("DropRole", srv_rpc_drop_role, 1, SHAPE_STATUS),
    RPC("OperateUserRole", srv_rpc_operate_user_role, 1, SHAPE_STATUS),
    RPC("SelectRole", srv_rpc_select_role, 0, SHAPE_WRAPPED),
    RPC("SelectUser", srv_rpc_select_user, 0, SHAPE_WRAPPED),
    RPC("OperatePrivilege", srv_rpc_operate_privilege, 1, SHAPE_STATUS),
    RPC("OperatePrivilegeV2", srv_rpc_operate_privilege_v2, 1, SHAPE_STATUS),
    RPC("SelectGrant", srv_rpc_select_grant, 0, SHAPE_WRAPPED),
    NOT("CreatePrivilegeGroup", SHAPE_STATUS, NO_RBAC),
    NOT("DropPrivilegeGroup", SHAPE_STATUS, NO_RBAC),
    NOT("ListPrivilegeGroups", SHAPE_WRAPPED, NO_RBAC),
    NOT("OperatePrivilegeGroup", SHAPE_STATUS, NO_RBAC),
    NOT("CreateResourceGroup", SHAPE_STATUS, NO_RG),
    NOT("DropResourceGroup", SHAPE_STATUS, NO_RG),
    NOT("ListResourceGroups", SHAPE_WRAPPED, NO_RG),
    NOT("DescribeResourceGroup", SHAPE_WRAPPED, NO_RG),
    NOT("GetReplicas", SHAPE_WRAPPED, NO_RG),
    NOT("Import", SHAPE_WRAPPED, "bulk import is not supported by libvdb yet (insert rows)"),
    NOT("GetImportState", SHAPE_WRAPPED, "bulk import is not supported by libvdb yet"),
    NOT("ListImportTasks", SHAPE_WRAPPED, "bulk import is not supported by libvdb yet"),
    NOT("RunAnalyzer", SHAPE_WRAPPED, "analyzers (full text search) are not supported by libvdb"),
};

const srv_grpc_method *srv_grpc_find(const char *path, const char **why)
{
    static const char prefix[] = "/" SERVICE "/";
    if (strncmp(path, prefix, sizeof prefix - 1)) {
        *why = "unknown service: vdb-server serves " SERVICE;
        return NULL;
    }
    const char *name = path + sizeof prefix - 1;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (!strcmp(methods[i].name, name))
            return &methods[i];
    *why = "unknown method for service " SERVICE " (server/README.md lists what vdb-server "
           "serves)";
    return NULL;
}

int srv_grpc_is_write(const srv_grpc_method *m)
{
    return m->is_write;
}

/* ---- authorization ------------------------------------------------------------------------ */

static char **string_field(ProtobufCMessage *msg, const char *name);

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Standard or URL-safe base64, padded or not. Returns the length, or -1. */
long srv_b64_decode(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && *p != '='; p++) {
        int v = b64_value(*p);
        if (v < 0)
            return -1;
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= cap)
                return -1;
            out[o++] = (char)(acc >> bits & 0xff);
        }
    }
    out[o] = 0;
    return (long)o;
}

int srv_grpc_auth_ok(const srv_config *cfg, const char *authorization, const char **why)
{
    if (!authorization || !*authorization) {
        *why = "missing authorization in header";
        return 0;
    }
    char raw[512];
    long n = srv_b64_decode(authorization, raw, sizeof raw);
    if (n < 0) {
        *why = "invalid token format";
        return 0;
    }
    const char *want = cfg->token;
    if (srv_secret_eq(raw, (size_t)n, want, strlen(want)))
        return 1;
    *why = strchr(raw, ':') ? "auth check failure, please check username and password are "
                              "correct"
                            : "auth check failure, please check api key is correct";
    return 0;
}

int srv_grpc_user_check(srv_ctx *ctx, const char *authorization, char *user, size_t un,
                        const char **why)
{
    char raw[512];
    long n = authorization && *authorization ? srv_b64_decode(authorization, raw, sizeof raw)
                                             : -1;
    char *colon = n > 0 ? strchr(raw, ':') : NULL;
    if (!colon) {
        *why = "missing authorization in header, or not base64 of user:password";
        return SRV_GRPC_UNAUTHENTICATED;
    }
    *colon = 0;
    if ((size_t)(colon - raw) >= un || vdb_authenticate(ctx->db, raw, colon + 1) != VDB_OK) {
        *why = "auth check failure, please check username and password are correct";
        return SRV_GRPC_UNAUTHENTICATED;
    }
    memcpy(user, raw, (size_t)(colon - raw) + 1);
    return 0;
}

int srv_rpc_allowed(srv_rpc *call, ProtobufCMessage *msg, const char *db_name,
                    const char *target, srv_status *err)
{
    call->checked = 1;
    if (!call->user)
        return 0;
    const srv_priv *p = srv_priv_find(NULL, call->method);
    const char *db = db_name && *db_name ? db_name : call->dbname;
    if (db && !strcmp(db, "default"))
        db = NULL;
    int rc = 0;
    const ProtobufCFieldDescriptor *f =
        msg && p && p->object == VDB_OBJECT_COLLECTION
            ? protobuf_c_message_descriptor_get_field_by_name(msg->descriptor,
                                                              "collection_names")
            : NULL;
    size_t nnames = f && f->label == PROTOBUF_C_LABEL_REPEATED &&
                    f->type == PROTOBUF_C_TYPE_STRING
                        ? *(size_t *)((char *)msg + f->quantifier_offset)
                        : 0;
    if (nnames) { /* Flush: each collection it names */
        char **names = *(char ***)((char *)msg + f->offset);
        for (size_t i = 0; !rc && i < nnames; i++)
            rc = srv_priv_check(call->ctx, call->user, p, db, names[i], target, err);
    } else {
        char **coll = msg ? string_field(msg, "collection_name") : NULL;
        rc = srv_priv_check(call->ctx, call->user, p, db, coll ? *coll : NULL, target, err);
    }
    if (!rc)
        return 0;
    call->out->status = SRV_GRPC_PERMISSION_DENIED; /* as Milvus's proxy answers it */
    const char *why = err->code == MV_PRIVILEGE_NOT_PERMITTED ? vdb_errmsg(call->ctx->db)
                                                              : err->msg;
    size_t n = strlen(why);
    if (n >= sizeof call->out->message)
        n = sizeof call->out->message - 1;
    memcpy(call->out->message, why, n);
    call->out->message[n] = 0;
    srv_log(SRV_LOG_INFO, "grpc %s: %s", call->method, call->out->message);
    return 1;
}

/* ---- statuses and replies ------------------------------------------------------------------ */

/* Milvus's legacy error_code for a 2.x code (its merr package maps them so). */
static Milvus__Proto__Common__ErrorCode legacy_code(int code)
{
    switch (code) {
    case MV_OK: return MILVUS__PROTO__COMMON__ERROR_CODE__Success;
    case 1: return MILVUS__PROTO__COMMON__ERROR_CODE__NotReadyServe;
    case MV_COLLECTION_NOT_FOUND: return MILVUS__PROTO__COMMON__ERROR_CODE__CollectionNotExists;
    case MV_PARAMETER_INVALID: return MILVUS__PROTO__COMMON__ERROR_CODE__IllegalArgument;
    case MV_PARTITION_NOT_FOUND: return MILVUS__PROTO__COMMON__ERROR_CODE__MetaFailed;
    case MV_MEMORY_LIMIT: return MILVUS__PROTO__COMMON__ERROR_CODE__InsufficientMemoryToLoad;
    case MV_INDEX_NOT_FOUND: return MILVUS__PROTO__COMMON__ERROR_CODE__IndexNotExist;
    default: return MILVUS__PROTO__COMMON__ERROR_CODE__UnexpectedError;
    }
}

pb_status *srv_pb_ok(void)
{
    static pb_status ok = MILVUS__PROTO__COMMON__STATUS__INIT;
    return &ok;
}

static int pack(srv_rpc *call, const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n + 5);
    if (!buf)
        return -1;
    protobuf_c_message_pack(msg, buf + 5);
    buf[0] = 0;
    buf[1] = (uint8_t)(n >> 24);
    buf[2] = (uint8_t)(n >> 16);
    buf[3] = (uint8_t)(n >> 8);
    buf[4] = (uint8_t)n;
    call->out->buf = buf;
    call->out->len = n + 5;
    return 0;
}

int srv_rpc_reply(srv_rpc *call, ProtobufCMessage *msg, srv_status *err)
{
    if (pack(call, msg) != 0)
        return srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded: the answer of %s",
                        call->method);
    return 0;
}

int srv_rpc_malformed(srv_rpc *call)
{
    call->out->status = SRV_GRPC_INTERNAL;
    snprintf(call->out->message, sizeof call->out->message,
             "grpc: error unmarshalling request: the %s request is not a valid protobuf "
             "message of its type", call->method);
    return 1;
}

/* The string field `name` of msg, or NULL when it has none. */
static char **string_field(ProtobufCMessage *msg, const char *name)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, name);
    if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    return (char **)((char *)msg + f->offset);
}

static int qualify_field(ProtobufCMessage *msg, const char *db, const char *name,
                         srv_status *err)
{
    char **p = string_field(msg, name);
    if (!p || !*p || !**p) /* a non-empty string is the decoder's malloc'ed copy */
        return 0;
    if (strchr(*p, '.'))
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: %s '%s' holds a '.'",
                        name, *p);
    char buf[600];
    char *q = srv_qualify(db, *p, buf, sizeof buf) ? NULL : strdup(buf);
    if (!q)
        return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: %s is too long", name);
    free(*p);
    *p = q;
    return 0;
}

int srv_rpc_db(srv_rpc *call, const char *db_name, ProtobufCMessage *msg, srv_status *err)
{
    const char *db = db_name && *db_name ? db_name : call->dbname;
    call->db = NULL;
    if (!db || !*db || !strcmp(db, "default"))
        return 0;
    int exists = 0;
    if (vdb_has_database(call->ctx->db, db, &exists) != VDB_OK || !exists)
        return srv_fail(err, MV_DATABASE_NOT_FOUND, "database not found[database=%s]", db);
    call->db = db;
    if (msg->descriptor == &milvus__proto__milvus__create_database_request__descriptor ||
        msg->descriptor == &milvus__proto__milvus__drop_database_request__descriptor ||
        msg->descriptor == &milvus__proto__milvus__describe_database_request__descriptor)
        return 0; /* db_name is the database acted on */
    char **to_db = string_field(msg, "newDBName");
    if (qualify_field(msg, db, "collection_name", err) || qualify_field(msg, db, "alias", err) ||
        qualify_field(msg, db, "oldName", err) ||
        (!(to_db && *to_db && **to_db) && qualify_field(msg, db, "newName", err)))
        return -1;
    return 0;
}

const char *srv_kv_get(pb_kv **kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (kv[i]->key && !strcmp(kv[i]->key, key))
            return kv[i]->value ? kv[i]->value : "";
    return NULL;
}

/* ---- the arena ---------------------------------------------------------------------------- */

struct srv_arena_block {
    struct srv_arena_block *next;
    size_t used, cap;
    max_align_t data[];
};

void *srv_arena_alloc(srv_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct srv_arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 60 * 1024 ? n : 60 * 1024;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *srv_arena_strndup(srv_arena *a, const char *s, size_t n)
{
    char *d = srv_arena_alloc(a, n + 1);
    if (d) {
        if (n)
            memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

void srv_arena_free(srv_arena *a)
{
    for (struct srv_arena_block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void srv_grpc_run(srv_ctx *ctx, const srv_grpc_method *m, const char *dbname, const char *user,
                  const uint8_t *msg, size_t len, srv_grpc_reply *out)
{
    uint64_t t0 = srv_log_enabled(SRV_LOG_DEBUG) ? now_us() : 0;
    memset(out, 0, sizeof *out);
    srv_rpc call = {.ctx = ctx, .in = msg, .len = len, .dbname = dbname ? dbname : "",
                    .method = m->name, .out = out, .user = user};
    const srv_priv *p = user ? srv_priv_find(NULL, m->name) : NULL;
    if (p && !p->priv)
        call.checked = 1; /* Connect, GetVersion, ...: any user who authenticated */
    srv_status err = {0};
    int rc = m->fn ? m->fn(&call, &err)
                   : srv_fail(&err, MV_OPERATION_NOT_SUPPORTED, "operation not supported: %s: "
                              "%s", m->name, m->note);
    if (rc < 0) {
        free(out->buf);
        out->buf = NULL;
        pb_status st = MILVUS__PROTO__COMMON__STATUS__INIT;
        st.code = err.code;
        st.error_code = legacy_code(err.code);
        st.reason = err.msg;
        st.retriable = err.code == 2;
        Milvus__Proto__Milvus__StatusOnly wrap = MILVUS__PROTO__MILVUS__STATUS_ONLY__INIT;
        wrap.status = &st;
        if (pack(&call, m->shape == SHAPE_STATUS ? &st.base : &wrap.base) != 0) {
            out->status = SRV_GRPC_RESOURCE_EXHAUSTED;
            snprintf(out->message, sizeof out->message, "memory limit exceeded");
        }
    }
    if (user && m->fn && !call.checked && rc == 0)
        srv_log(SRV_LOG_ERROR, "grpc %s ran without a privilege check (a bug: its handler must "
                "call srv_rpc_allowed)", m->name);
    srv_arena_free(&call.arena);
    if (t0)
        srv_log(SRV_LOG_DEBUG, "grpc %s -> %s%d in %llu us", m->name,
                rc < 0 ? "code " : out->status ? "grpc-status " : "", rc < 0 ? err.code
                : out->status, (unsigned long long)(now_us() - t0));
}

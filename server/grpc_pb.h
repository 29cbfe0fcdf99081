/* vdb-server — what the gRPC handlers share (grpc.c, grpc_*.c, pb_*.c): short names for the
 * protobuf-c types generated from server/proto, and the call a handler answers. */
#ifndef VDB_SERVER_GRPC_PB_H
#define VDB_SERVER_GRPC_PB_H

#include "common.pb-c.h"
#include "milvus.pb-c.h"
#include "schema.pb-c.h"
#include "server.h"

typedef Milvus__Proto__Common__Status pb_status;
typedef Milvus__Proto__Common__KeyValuePair pb_kv;
typedef Milvus__Proto__Schema__CollectionSchema pb_schema;
typedef Milvus__Proto__Schema__FieldSchema pb_field_schema;
typedef Milvus__Proto__Schema__FieldData pb_field_data;
typedef Milvus__Proto__Schema__ScalarField pb_scalars;
typedef Milvus__Proto__Schema__VectorField pb_vectors;
typedef Milvus__Proto__Schema__IDs pb_ids;
typedef Milvus__Proto__Schema__ValueField pb_value;

/* Memory for the pieces of one answer, freed at once after it is packed (grpc.c). */
typedef struct srv_arena {
    struct srv_arena_block *head;
} srv_arena;
/* n zeroed bytes (8-aligned), or NULL when out of memory. */
void *srv_arena_alloc(srv_arena *a, size_t n);
char *srv_arena_strndup(srv_arena *a, const char *s, size_t n);
void srv_arena_free(srv_arena *a);

/* One call: the request message, and the reply a handler packs. */
typedef struct srv_rpc {
    srv_ctx *ctx;
    const uint8_t *in;
    size_t len;
    const char *dbname; /* the "dbname" metadata ("" if none) */
    const char *db;     /* the request's database, checked (NULL: "default"; srv_rpc_db) */
    const char *method;
    srv_grpc_reply *out;
    srv_arena arena; /* the answer's pieces */
    const char *user; /* --authorization 1: who calls (authenticated); NULL: no checks */
    int checked;      /* srv_rpc_allowed was asked */
} srv_rpc;

/* A handler returns 0 with the response packed (srv_rpc_reply), -1 with a Milvus error in
 * *err (answered as the method's response holding only that status, as Milvus does), or 1
 * with call->out->status set (a gRPC-level error, e.g. a message that does not decode). */
typedef int (*srv_rpc_fn)(srv_rpc *call, srv_status *err);

/* Defines handler `name`: decodes the request (Type, protobuf-c's `lower` functions), checks
 * the caller's privilege (srv_rpc_allowed) and its database, runs impl(call, req, err). */
#define HANDLER(name, Type, lower, impl)                                                    \
    int name(srv_rpc *call, srv_status *err)                                                \
    {                                                                                       \
        Type *req = lower##__unpack(NULL, call->len, call->in);                             \
        if (!req)                                                                           \
            return srv_rpc_malformed(call);                                                 \
        int rc = srv_rpc_allowed(call, &req->base, req->db_name, NULL, err);                \
        if (!rc)                                                                            \
            rc = srv_rpc_db(call, req->db_name, &req->base, err) ? -1 : impl(call, req, err); \
        lower##__free_unpacked(req, NULL);                                                  \
        return rc;                                                                          \
    }

/* Packs msg as the reply (its status: success). Returns 0, or -1 with *err. */
int srv_rpc_reply(srv_rpc *call, ProtobufCMessage *msg, srv_status *err);
/* For a request that does not decode: gRPC INTERNAL, as gRPC servers answer it. Returns 1. */
int srv_rpc_malformed(srv_rpc *call);
/* The database a request names (its db_name, else the dbname metadata): "default" or one
 * that exists (else Milvus's 800), into call->db; the request's collection_name, alias,
 * oldName and newName (unless newDBName is set) are rewritten as "<db>.<name>", libvdb's
 * qualified names (vdb.h, "databases"). */
int srv_rpc_db(srv_rpc *call, const char *db_name, ProtobufCMessage *msg, srv_status *err);
/* --authorization 1: 0 if call->user may run call->method (the privilege of its row in the
 * table handlers_rbac.c shares with REST) on msg's collection_name (or each of its
 * collection_names; msg may be NULL) in database db_name (NULL or "": the dbname metadata);
 * target: the user the request is about (one may read itself and change its own password).
 * Else 1 with gRPC's PERMISSION_DENIED and Milvus's words ("PrivilegeSearch: permission deny
 * to u1 in the `default` database") in call->out: nothing has run. No user: 0. */
int srv_rpc_allowed(srv_rpc *call, ProtobufCMessage *msg, const char *db_name,
                    const char *target, srv_status *err);
/* A success status (static; fields must not be changed). */
pb_status *srv_pb_ok(void);
/* Looks key up in kv pairs: its value, or NULL. */
const char *srv_kv_get(pb_kv **kv, size_t n, const char *key);

/* Schemas (pb_schema.c). */
/* Milvus's AddCollectionField: bytes is a serialized schema.FieldSchema, added to coll with
 * srv_op_add_field. 0, or -1 with *err. */
int srv_pb_add_field(srv_ctx *ctx, const char *coll, const ProtobufCBinaryData *bytes,
                     srv_status *err);
vdb_schema *srv_pb_schema_to_vdb(const char *name, const ProtobufCBinaryData *bytes,
                                 int32_t shards, srv_status *err);
/* The CollectionSchema of s, allocated with malloc in one tree: free with srv_pb_schema_free. */
pb_schema *srv_pb_schema_from_vdb(const vdb_schema *s);
void srv_pb_schema_free(pb_schema *ps);

/* Rows (pb_rows.c). */
vdb_batch *srv_pb_columns_to_batch(const srv_coll *c, pb_field_data **fields, size_t nfields,
                                   uint32_t num_rows, srv_status *err);
/* The rows of res (NULL: none) as columns, one per field of plan p (the primary key first,
 * dynamic keys inside one "$meta" column), in arena a: of every group, the rows from offset
 * on (a search's hits after its offset; a query's rows with offset 0). *out gets *n columns;
 * *names (may be NULL) the output field names as Milvus lists them. */
int srv_pb_result_columns(srv_arena *a, const srv_coll *c, const srv_outplan *p,
                          const vdb_result *res, size_t offset, pb_field_data ***out, size_t *n,
                          char ***names, size_t *nnames, srv_status *err);
/* The primary keys of the rows (from offset in every group) as IDs, in arena a. */
pb_ids *srv_pb_ids(srv_arena *a, const srv_coll *c, const vdb_result *res, size_t offset,
                   srv_status *err);

/* Handlers (grpc_collections.c, grpc_partitions.c, grpc_indexes.c, grpc_entities.c). */
int srv_rpc_connect(srv_rpc *call, srv_status *err);
int srv_rpc_get_version(srv_rpc *call, srv_status *err);
int srv_rpc_check_health(srv_rpc *call, srv_status *err);
int srv_rpc_alloc_timestamp(srv_rpc *call, srv_status *err);
int srv_rpc_list_databases(srv_rpc *call, srv_status *err);
int srv_rpc_describe_database(srv_rpc *call, srv_status *err);
int srv_rpc_create_database(srv_rpc *call, srv_status *err);
int srv_rpc_drop_database(srv_rpc *call, srv_status *err);
int srv_rpc_create_collection(srv_rpc *call, srv_status *err);
int srv_rpc_drop_collection(srv_rpc *call, srv_status *err);
int srv_rpc_has_collection(srv_rpc *call, srv_status *err);
int srv_rpc_describe_collection(srv_rpc *call, srv_status *err);
int srv_rpc_create_alias(srv_rpc *call, srv_status *err);
int srv_rpc_alter_alias(srv_rpc *call, srv_status *err);
int srv_rpc_drop_alias(srv_rpc *call, srv_status *err);
int srv_rpc_describe_alias(srv_rpc *call, srv_status *err);
int srv_rpc_list_aliases(srv_rpc *call, srv_status *err);
int srv_rpc_rename_collection(srv_rpc *call, srv_status *err);
int srv_rpc_alter_collection(srv_rpc *call, srv_status *err);
int srv_rpc_add_collection_field(srv_rpc *call, srv_status *err);
int srv_rpc_truncate_collection(srv_rpc *call, srv_status *err);
int srv_rpc_show_collections(srv_rpc *call, srv_status *err);
int srv_rpc_collection_stats(srv_rpc *call, srv_status *err);
int srv_rpc_load_collection(srv_rpc *call, srv_status *err);
int srv_rpc_get_load_state(srv_rpc *call, srv_status *err);
int srv_rpc_get_loading_progress(srv_rpc *call, srv_status *err);
int srv_rpc_flush(srv_rpc *call, srv_status *err);
int srv_rpc_get_flush_state(srv_rpc *call, srv_status *err);
int srv_rpc_manual_compaction(srv_rpc *call, srv_status *err);
int srv_rpc_get_compaction_state(srv_rpc *call, srv_status *err);
int srv_rpc_create_partition(srv_rpc *call, srv_status *err);
int srv_rpc_drop_partition(srv_rpc *call, srv_status *err);
int srv_rpc_has_partition(srv_rpc *call, srv_status *err);
int srv_rpc_show_partitions(srv_rpc *call, srv_status *err);
int srv_rpc_load_partitions(srv_rpc *call, srv_status *err);
int srv_rpc_partition_stats(srv_rpc *call, srv_status *err);
int srv_rpc_create_index(srv_rpc *call, srv_status *err);
int srv_rpc_describe_index(srv_rpc *call, srv_status *err);
int srv_rpc_drop_index(srv_rpc *call, srv_status *err);
int srv_rpc_get_index_state(srv_rpc *call, srv_status *err);
int srv_rpc_get_index_build_progress(srv_rpc *call, srv_status *err);
int srv_rpc_insert(srv_rpc *call, srv_status *err);
int srv_rpc_upsert(srv_rpc *call, srv_status *err);
int srv_rpc_delete(srv_rpc *call, srv_status *err);
int srv_rpc_search(srv_rpc *call, srv_status *err);
int srv_rpc_hybrid_search(srv_rpc *call, srv_status *err);
int srv_rpc_query(srv_rpc *call, srv_status *err);
/* Users and roles (grpc_rbac.c). */
int srv_rpc_create_credential(srv_rpc *call, srv_status *err);
int srv_rpc_update_credential(srv_rpc *call, srv_status *err);
int srv_rpc_delete_credential(srv_rpc *call, srv_status *err);
int srv_rpc_list_cred_users(srv_rpc *call, srv_status *err);
int srv_rpc_create_role(srv_rpc *call, srv_status *err);
int srv_rpc_drop_role(srv_rpc *call, srv_status *err);
int srv_rpc_operate_user_role(srv_rpc *call, srv_status *err);
int srv_rpc_select_role(srv_rpc *call, srv_status *err);
int srv_rpc_select_user(srv_rpc *call, srv_status *err);
int srv_rpc_operate_privilege(srv_rpc *call, srv_status *err);
int srv_rpc_operate_privilege_v2(srv_rpc *call, srv_status *err);
int srv_rpc_select_grant(srv_rpc *call, srv_status *err);

#endif

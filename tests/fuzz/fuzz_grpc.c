/* libFuzzer target for vdb-server's gRPC request decoding (server/grpc*.c, pb_rows.c,
 * pb_schema.c, with protobuf-c's unpacking): message bytes go through srv_grpc_run, the
 * transport-free entry the HTTP/2 layer (h2.c, on nghttp2) calls with a whole message, against
 * the same database as fuzz_rest (fuzz_srv.h). An answer is either a gRPC status with a
 * message or a reply that protobuf-c unpacks again.
 *
 * Input: u8 selector, then the message. Selectors below the read methods run that method for
 * real (they change nothing); the others decode what a write would take without writing:
 * Insert/Upsert columns (srv_pb_columns_to_batch) and a CreateCollection's schema
 * (srv_pb_schema_to_vdb).
 * With FUZZ_GRPC_SEEDS=<folder> in the environment the program writes seed messages there
 * (built from the fixture's own answers) and exits. */
#define _GNU_SOURCE
#include <sys/stat.h>

#include "fuzz_srv.h"
#include "grpc_pb.h"

static const char *const methods[] = {
    "Connect", "GetVersion", "CheckHealth", "ListDatabases", "DescribeDatabase",
    "HasCollection", "DescribeCollection", "ShowCollections", "GetCollectionStatistics",
    "LoadCollection", "ReleaseCollection", "GetLoadState", "GetLoadingProgress",
    "GetFlushState", "GetCompactionState", "HasPartition", "ShowPartitions",
    "LoadPartitions", "ReleasePartitions", "GetPartitionStatistics", "DescribeIndex",
    "GetIndexState", "GetIndexBuildProgress", "Search", "Query", "HybridSearch",
    "ListCredUsers", "SelectRole", "SelectUser", "SelectGrant",
};
#define READ_METHODS (sizeof methods / sizeof *methods)
enum { INSERT = READ_METHODS, CREATE, SELECTORS };

static const srv_grpc_method *found[READ_METHODS];

static void run(size_t sel, const uint8_t *msg, size_t len, srv_grpc_reply *out)
{
    srv_grpc_run(&ctx, found[sel], "", NULL, msg, len, out);
}

static void check_reply(srv_grpc_reply *r)
{
    if (r->status != 0) {
        if (!r->message[0])
            __builtin_trap();
    } else if (!r->buf && r->len) {
        __builtin_trap();
    }
    free(r->buf);
}

/* ---- seeds ---- */

static void seed(const char *dir, int sel, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(n + 1);
    b[0] = (uint8_t)sel;
    protobuf_c_message_pack(m, b + 1);
    char path[512];
    static int count;
    snprintf(path, sizeof path, "%s/seed-%s-%d", dir,
             sel % SELECTORS < (int)READ_METHODS ? methods[sel % SELECTORS] : sel % SELECTORS == INSERT ? "Insert" : "Create",
             count++);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n + 1, f) != n + 1 || fclose(f) != 0)
        abort();
    free(b);
}

static size_t sel_of(const char *name)
{
    for (size_t i = 0; i < READ_METHODS; i++)
        if (!strcmp(methods[i], name))
            return i;
    abort();
}

static void write_seeds(const char *dir)
{
    mkdir(dir, 0755);
    /* users and roles: the fixture's built-in ones */
    Milvus__Proto__Milvus__RoleEntity role = MILVUS__PROTO__MILVUS__ROLE_ENTITY__INIT;
    role.name = "public";
    Milvus__Proto__Milvus__GrantEntity ge = MILVUS__PROTO__MILVUS__GRANT_ENTITY__INIT;
    ge.role = &role;
    ge.db_name = "*";
    Milvus__Proto__Milvus__SelectGrantRequest sg =
        MILVUS__PROTO__MILVUS__SELECT_GRANT_REQUEST__INIT;
    sg.entity = &ge;
    seed(dir, (int)sel_of("SelectGrant"), &sg.base);
    Milvus__Proto__Milvus__SelectRoleRequest srq =
        MILVUS__PROTO__MILVUS__SELECT_ROLE_REQUEST__INIT;
    srq.role = &role;
    srq.include_user_info = 1;
    seed(dir, (int)sel_of("SelectRole"), &srq.base);
    Milvus__Proto__Milvus__UserEntity user = MILVUS__PROTO__MILVUS__USER_ENTITY__INIT;
    user.name = "root";
    Milvus__Proto__Milvus__SelectUserRequest su =
        MILVUS__PROTO__MILVUS__SELECT_USER_REQUEST__INIT;
    su.user = &user;
    su.include_role_info = 1;
    seed(dir, (int)sel_of("SelectUser"), &su.base);
    char *names[] = {"c", "s"};
    for (int k = 0; k < 2; k++) {
        Milvus__Proto__Milvus__CollectionRequest cr = MILVUS__PROTO__MILVUS__COLLECTION_REQUEST__INIT;
        cr.collection_name = names[k];
        seed(dir, (int)sel_of("DescribeCollection"), &cr.base);
        seed(dir, (int)sel_of("GetCollectionStatistics"), &cr.base);
        Milvus__Proto__Milvus__IndexRequest ir = MILVUS__PROTO__MILVUS__INDEX_REQUEST__INIT;
        ir.collection_name = names[k];
        ir.field_name = "v";
        seed(dir, (int)sel_of("DescribeIndex"), &ir.base);

        /* the schema, from the fixture's DescribeCollection answer, as a CreateCollection */
        srv_grpc_reply r;
        size_t n = protobuf_c_message_get_packed_size(&cr.base);
        uint8_t *b = malloc(n);
        protobuf_c_message_pack(&cr.base, b);
        run(sel_of("DescribeCollection"), b, n, &r);
        free(b);
        Milvus__Proto__Milvus__DescribeCollectionResponse *dr =
            milvus__proto__milvus__describe_collection_response__unpack(NULL, r.len - 5, r.buf + 5);
        if (!dr || !dr->schema)
            abort();
        Milvus__Proto__Milvus__CreateCollectionRequest cc =
            MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
        cc.collection_name = "fz";
        cc.schema.len = protobuf_c_message_get_packed_size(&dr->schema->base);
        cc.schema.data = malloc(cc.schema.len);
        protobuf_c_message_pack(&dr->schema->base, cc.schema.data);
        cc.shards_num = 2;
        seed(dir, CREATE, &cc.base);
        free(cc.schema.data);
        milvus__proto__milvus__describe_collection_response__free_unpacked(dr, NULL);
        free(r.buf);

        /* every row, from a Query answer, as an Insert and as the Query itself */
        Milvus__Proto__Milvus__QueryRequest q = MILVUS__PROTO__MILVUS__QUERY_REQUEST__INIT;
        char *all[] = {"*"};
        q.collection_name = names[k];
        q.expr = k ? "k in [\"a\", \"b\"]" : "id >= 0 and t like \"o%\" or b == false";
        q.output_fields = all;
        q.n_output_fields = 1;
        seed(dir, (int)sel_of("Query"), &q.base);
        n = protobuf_c_message_get_packed_size(&q.base);
        b = malloc(n);
        protobuf_c_message_pack(&q.base, b);
        run(sel_of("Query"), b, n, &r);
        free(b);
        Milvus__Proto__Milvus__QueryResults *qr =
            milvus__proto__milvus__query_results__unpack(NULL, r.len - 5, r.buf + 5);
        if (!qr)
            abort();
        Milvus__Proto__Milvus__InsertRequest ins = MILVUS__PROTO__MILVUS__INSERT_REQUEST__INIT;
        ins.collection_name = names[k];
        ins.fields_data = qr->fields_data;
        ins.n_fields_data = qr->n_fields_data;
        ins.num_rows = 2;
        seed(dir, INSERT + k * SELECTORS, &ins.base);
        milvus__proto__milvus__query_results__free_unpacked(qr, NULL);
        free(r.buf);
    }
    /* a search: two float vectors of dim 4 in a placeholder group (tag 101 FloatVector) */
    Milvus__Proto__Common__PlaceholderValue pv = MILVUS__PROTO__COMMON__PLACEHOLDER_VALUE__INIT;
    float vecs[2][4] = {{1, 2, 3, 4}, {0, 0, 0, 1}};
    ProtobufCBinaryData vals[2] = {{16, (uint8_t *)vecs[0]}, {16, (uint8_t *)vecs[1]}};
    pv.tag = "$0";
    pv.type = MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__FloatVector;
    pv.values = vals;
    pv.n_values = 2;
    Milvus__Proto__Common__PlaceholderValue *pvs[1] = {&pv};
    Milvus__Proto__Common__PlaceholderGroup pg = MILVUS__PROTO__COMMON__PLACEHOLDER_GROUP__INIT;
    pg.placeholders = pvs;
    pg.n_placeholders = 1;
    Milvus__Proto__Milvus__SearchRequest sr = MILVUS__PROTO__MILVUS__SEARCH_REQUEST__INIT;
    sr.collection_name = "c";
    sr.search_input_case = MILVUS__PROTO__MILVUS__SEARCH_REQUEST__SEARCH_INPUT_PLACEHOLDER_GROUP;
    sr.placeholder_group.len = protobuf_c_message_get_packed_size(&pg.base);
    sr.placeholder_group.data = malloc(sr.placeholder_group.len);
    protobuf_c_message_pack(&pg.base, sr.placeholder_group.data);
    sr.dsl = "i16 > 0";
    pb_kv kv[3] = {MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT,
                   MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT,
                   MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT};
    kv[0].key = "anns_field";
    kv[0].value = "v";
    kv[1].key = "topk";
    kv[1].value = "3";
    kv[2].key = "params";
    kv[2].value = "{\"ef\": 16}";
    pb_kv *kvs[3] = {&kv[0], &kv[1], &kv[2]};
    sr.search_params = kvs;
    sr.n_search_params = 3;
    sr.nq = 2;
    char *outs[] = {"t", "j"};
    sr.output_fields = outs;
    sr.n_output_fields = 2;
    seed(dir, (int)sel_of("Search"), &sr.base);
    free(sr.placeholder_group.data);
    Milvus__Proto__Milvus__ShowCollectionsRequest sc =
        MILVUS__PROTO__MILVUS__SHOW_COLLECTIONS_REQUEST__INIT;
    seed(dir, (int)sel_of("ShowCollections"), &sc.base);
    printf("fuzz_grpc: seeds written to %s\n", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_srv_setup();
    for (size_t i = 0; i < READ_METHODS; i++) {
        char path[128];
        const char *why;
        snprintf(path, sizeof path, "/milvus.proto.milvus.MilvusService/%s", methods[i]);
        if (!(found[i] = srv_grpc_find(path, &why))) {
            fprintf(stderr, "fuzz_grpc: no method %s: %s\n", methods[i], why);
            abort();
        }
    }
    const char *dir = getenv("FUZZ_GRPC_SEEDS");
    if (dir) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}

static void decode_only(int sel, const srv_coll *c, const uint8_t *msg, size_t len)
{
    srv_status err = {0};
    if (sel == INSERT) {
        Milvus__Proto__Milvus__InsertRequest *r =
            milvus__proto__milvus__insert_request__unpack(NULL, len, msg);
        if (!r)
            return;
        vdb_batch *b = srv_pb_columns_to_batch(c, r->fields_data, r->n_fields_data, r->num_rows,
                                               &err);
        if (!b && (!err.code || !err.msg[0]))
            __builtin_trap();
        vdb_batch_free(b);
        milvus__proto__milvus__insert_request__free_unpacked(r, NULL);
    } else {
        Milvus__Proto__Milvus__CreateCollectionRequest *r =
            milvus__proto__milvus__create_collection_request__unpack(NULL, len, msg);
        if (!r)
            return;
        vdb_schema *s = srv_pb_schema_to_vdb("fz", &r->schema, r->shards_num, &err);
        if (!s && (!err.code || !err.msg[0]))
            __builtin_trap();
        vdb_schema_free(s);
        milvus__proto__milvus__create_collection_request__free_unpacked(r, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int sel = data[0] % SELECTORS;
    const srv_coll *c = &colls[(data[0] / SELECTORS) & 1];
    uint8_t *msg = malloc(size);
    if (!msg)
        abort();
    memcpy(msg, data + 1, size - 1);
    if ((size_t)sel < READ_METHODS) {
        srv_grpc_reply r;
        run((size_t)sel, msg, size - 1, &r);
        check_reply(&r);
    } else {
        decode_only(sel, c, msg, size - 1);
    }
    free(msg);
    return 0;
}

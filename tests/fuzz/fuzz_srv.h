/* The database both server targets run against (fuzz_rest.c, fuzz_grpc.c): a scratch folder
 * under /dev/shm (removed at exit) holding collection "c" with every field type (dynamic
 * fields on, an HNSW index) and "s" with string keys, each with a few rows, created through
 * the REST handlers themselves. */
#ifndef VDB_FUZZ_SRV_H
#define VDB_FUZZ_SRV_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_srv_dir[64];

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static srv_config cfg;
static srv_ctx ctx;
static srv_coll colls[2];

static void fuzz_srv_cleanup(void)
{
    if (ctx.db)
        vdb_close(ctx.db);
    ctx.db = NULL;
    if (fuzz_srv_dir[0])
        nftw(fuzz_srv_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}


__attribute__((unused)) static void check_answer(json_t *resp)
{
    if (!resp || !json_is_object(resp) || !json_is_integer(json_object_get(resp, "code")))
        __builtin_trap();
    char *text = json_dumps(resp, JSON_COMPACT);
    if (!text)
        __builtin_trap();
    free(text);
    json_decref(resp);
}

static void must_dispatch(const char *path, const char *body)
{
    json_t *resp = srv_dispatch(&ctx, srv_route_find(path), NULL, body, strlen(body));
    json_t *code = json_object_get(resp, "code");
    if (!json_is_integer(code) || json_integer_value(code) != 0) {
        char *t = json_dumps(resp, 0);
        fprintf(stderr, "fuzz_rest setup: %s: %s\n", path, t);
        abort();
    }
    json_decref(resp);
}

static void fuzz_srv_setup(void)
{
    char *dir = fuzz_srv_dir;
    snprintf(dir, sizeof fuzz_srv_dir, "/dev/shm/vdb_fuzz_rest.%d", (int)getpid());
    if (access("/dev/shm", W_OK) != 0)
        snprintf(dir, sizeof fuzz_srv_dir, "/tmp/vdb_fuzz_rest.%d", (int)getpid());
    json_object_seed(1);
    cfg.data = dir;
    cfg.max_body = 64 << 20;
    vdb_options o;
    vdb_options_init(&o);
    o.sync = VDB_SYNC_OFF;
    if (vdb_open(dir, &o, &ctx.db) != VDB_OK) {
        fprintf(stderr, "fuzz_rest: open %s: %s\n", dir, vdb_errmsg(NULL));
        abort();
    }
    ctx.cfg = &cfg;
    pthread_rwlock_init(&ctx.schema_lock, NULL);
    must_dispatch("/collections/create",
        "{\"collectionName\": \"c\", \"schema\": {\"enableDynamicField\": true, \"fields\": ["
        "{\"fieldName\": \"id\", \"dataType\": \"Int64\", \"isPrimary\": true},"
        "{\"fieldName\": \"v\", \"dataType\": \"FloatVector\", \"elementTypeParams\": {\"dim\": 4}},"
        "{\"fieldName\": \"t\", \"dataType\": \"VarChar\", \"nullable\": true,"
        " \"elementTypeParams\": {\"max_length\": 16}},"
        "{\"fieldName\": \"i8\", \"dataType\": \"Int8\", \"defaultValue\": 3},"
        "{\"fieldName\": \"i16\", \"dataType\": \"Int16\"},"
        "{\"fieldName\": \"i32\", \"dataType\": \"Int32\"},"
        "{\"fieldName\": \"f\", \"dataType\": \"Float\"},"
        "{\"fieldName\": \"d\", \"dataType\": \"Double\"},"
        "{\"fieldName\": \"b\", \"dataType\": \"Bool\"},"
        "{\"fieldName\": \"j\", \"dataType\": \"JSON\", \"nullable\": true},"
        "{\"fieldName\": \"a\", \"dataType\": \"Array\", \"elementDataType\": \"VarChar\","
        " \"elementTypeParams\": {\"max_capacity\": 4, \"max_length\": 8}},"
        "{\"fieldName\": \"ai\", \"dataType\": \"Array\", \"elementDataType\": \"Int64\","
        " \"elementTypeParams\": {\"max_capacity\": 4}}]}}");
    must_dispatch("/collections/create",
        "{\"collectionName\": \"s\", \"schema\": {\"fields\": ["
        "{\"fieldName\": \"k\", \"dataType\": \"VarChar\", \"isPrimary\": true,"
        " \"elementTypeParams\": {\"max_length\": 8}},"
        "{\"fieldName\": \"v\", \"dataType\": \"FloatVector\", \"elementTypeParams\": {\"dim\": 2}}]}}");
    must_dispatch("/entities/insert",
        "{\"collectionName\": \"c\", \"data\": ["
        "{\"id\": 1, \"v\": [1, 2, 3, 4], \"t\": \"one\", \"i16\": 1, \"i32\": 1, \"f\": 1.5,"
        " \"d\": 2.5, \"b\": true, \"j\": {\"x\": 1}, \"a\": [\"p\"], \"ai\": [1], \"dyn\": 7},"
        "{\"id\": 2, \"v\": [0, 0, 0, 1], \"t\": null, \"i8\": -1, \"i16\": 2, \"i32\": 2,"
        " \"f\": 0, \"d\": 0, \"b\": false, \"j\": null, \"a\": [], \"ai\": [2, 3]}]}");
    must_dispatch("/entities/insert",
        "{\"collectionName\": \"s\", \"data\": [{\"k\": \"a\", \"v\": [1, 0]},"
        " {\"k\": \"b\", \"v\": [0, 1]}]}");
    must_dispatch("/indexes/create",
        "{\"collectionName\": \"c\", \"indexParams\": [{\"fieldName\": \"v\","
        " \"indexName\": \"v\", \"metricType\": \"COSINE\", \"indexType\": \"HNSW\","
        " \"params\": {\"M\": 8, \"efConstruction\": 16}}]}");
    srv_status err;
    if (srv_coll_load(&ctx, "c", &colls[0], &err) != 0 ||
        srv_coll_load(&ctx, "s", &colls[1], &err) != 0) {
        fprintf(stderr, "fuzz_rest setup: %s\n", err.msg);
        abort();
    }
    atexit(fuzz_srv_cleanup);
}

#endif

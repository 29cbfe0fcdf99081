/* libFuzzer target for vdb-server's REST request decoding (server/router.c, json_rows.c,
 * schema_json.c, handlers_*.c): bodies go through srv_dispatch, the transport-free entry
 * the HTTP layer (http.c) calls once it has the path and the body, against
 * a database with one collection of every field type and one with string keys. Every answer
 * must be a JSON object with a "code".
 *
 * Input: u8 selector, then the body. Selectors below READ_ROUTES run that route for real (they
 * change nothing, so inputs stay reproducible); the others decode what a write would take
 * without writing: insert/upsert rows (srv_rows_to_batch), delete/get keys (srv_pks_from_json),
 * a create's schema (srv_schema_from_request), and output field lists (srv_outplan_make). */
#include "fuzz_srv.h"

static const char *const routes[] = {
    "/collections/describe", "/collections/list", "/collections/has",
    "/collections/get_stats", "/collections/load", "/collections/release",
    "/collections/get_load_state", "/partitions/list", "/partitions/has",
    "/partitions/get_stats", "/partitions/load", "/entities/get", "/entities/query",
    "/entities/search", "/indexes/describe", "/indexes/list",
};
#define READ_ROUTES (sizeof routes / sizeof *routes)
enum { ROWS = READ_ROUTES, PKS, SCHEMA, OUTPUT, SELECTORS };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_srv_setup();
    return 0;
}

/* The request's "data" / "id" / "outputFields" member when the body is an object that has
 * it, else the whole body. */
static json_t *member_or_all(json_t *req, const char *key)
{
    json_t *m = json_is_object(req) ? json_object_get(req, key) : NULL;
    return m ? m : req;
}

static void decode_only(int sel, const srv_coll *c, const char *body, size_t len)
{
    json_error_t e;
    json_t *req = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
    if (!req)
        return;
    json_t *err = NULL;
    if (sel == ROWS) {
        vdb_batch *b = srv_rows_to_batch(c, member_or_all(req, "data"), &err);
        if ((b == NULL) == (err == NULL))
            __builtin_trap();
        vdb_batch_free(b);
    } else if (sel == PKS) {
        srv_pks pks = {0};
        int rc = srv_pks_from_json(c, member_or_all(req, "id"), &pks, &err);
        if ((rc == 0) != (err == NULL))
            __builtin_trap();
        srv_pks_free(&pks);
    } else if (sel == SCHEMA) {
        if (json_is_object(req)) {
            vdb_schema *s = srv_schema_from_request(req, "fz", &err);
            if ((s == NULL) == (err == NULL))
                __builtin_trap();
            vdb_schema_free(s);
        }
    } else {
        srv_outplan p = {0};
        int rc = srv_outplan_make(c, member_or_all(req, "outputFields"), 1, &p, &err);
        if ((rc == 0) != (err == NULL))
            __builtin_trap();
        srv_outplan_free(&p);
    }
    if (err)
        check_answer(err);
    json_decref(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int sel = data[0] % SELECTORS;
    const srv_coll *c = &colls[(data[0] / SELECTORS) & 1];
    char *body = malloc(size);
    if (!body)
        abort();
    memcpy(body, data + 1, size - 1);
    if ((size_t)sel < READ_ROUTES)
        check_answer(srv_dispatch(&ctx, srv_route_find(routes[sel]), NULL, body, size - 1));
    else
        decode_only(sel, c, body, size - 1);
    free(body);
    return 0;
}

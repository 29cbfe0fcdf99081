/* quickstart: create a collection, insert vectors with scalar fields, search, delete, travel
 * back in time, and reopen. Run: ./quickstart [folder]  (default ./quickstart.db) */
#include <stdio.h>
#include <stdlib.h>

#include <vdb/vdb.h>

#define DIM 8
#define ROWS 1000

static int check(vdb_status st, const char *what)
{
    if (st != VDB_OK) {
        fprintf(stderr, "%s failed: %s: %s\n", what, vdb_status_name(st), vdb_errmsg(NULL));
        exit(1);
    }
    return 0;
}

static void print_hits(const vdb_result *res)
{
    for (size_t q = 0; q < vdb_result_groups(res); q++)
        for (size_t i = 0; i < vdb_result_rows(res, q); i++) {
            vdb_value title;
            check(vdb_result_field(res, q, i, "title", &title), "result_field");
            printf("  query %zu hit %zu: id=%lld distance=%.3f title=%.*s\n", q, i,
                   (long long)vdb_result_pk_int(res, q, i), vdb_result_distance(res, q, i),
                   (int)title.u.str.len, title.u.str.ptr);
        }
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "./quickstart.db";
    printf("libvdb %s, database at %s\n", vdb_version(), path);

    vdb_db *db;
    check(vdb_open(path, NULL, &db), "open");

    int exists = 0;
    check(vdb_has_collection(db, "docs", &exists), "has_collection");
    if (exists)
        check(vdb_drop_collection(db, "docs"), "drop_collection");

    /* schema: int64 primary key, a varchar, an int, a vector */
    vdb_schema *schema;
    check(vdb_schema_new("docs", &schema), "schema_new");
    check(vdb_schema_add_field(schema, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                                 .is_primary = 1)), "add id");
    check(vdb_schema_add_field(schema, VDB_FIELD(.name = "title",
                                                 .type = VDB_TYPE_VARCHAR,
                                                 .max_length = 64)), "add title");
    check(vdb_schema_add_field(schema, VDB_FIELD(.name = "year", .type = VDB_TYPE_INT32,
                                                 .default_json = "2024")), "add year");
    check(vdb_schema_add_field(schema, VDB_FIELD(.name = "emb",
                                                 .type = VDB_TYPE_FLOAT_VECTOR,
                                                 .dim = DIM,
                                                 .metric = VDB_METRIC_L2)), "add emb");
    check(vdb_create_collection(db, schema), "create_collection");
    vdb_schema_free(schema);

    /* a columnar batch */
    static int64_t ids[ROWS];
    static float vecs[ROWS * DIM];
    static char titles[ROWS][32];
    static const char *title_ptrs[ROWS];
    uint32_t seed = 12345;
    for (int i = 0; i < ROWS; i++) {
        ids[i] = i;
        snprintf(titles[i], sizeof titles[i], "doc %d", i);
        title_ptrs[i] = titles[i];
        for (int d = 0; d < DIM; d++)
            vecs[i * DIM + d] = (float)((seed = seed * 1103515245u + 12345u) >> 16) / 65536.0f;
    }
    vdb_batch *batch;
    check(vdb_batch_new(&batch), "batch_new");
    check(vdb_batch_add_column(batch, "id", VDB_TYPE_INT64, ids, NULL, ROWS, 0), "column id");
    check(vdb_batch_add_column(batch, "title", VDB_TYPE_VARCHAR, title_ptrs, NULL, ROWS, 0),
          "column title");
    check(vdb_batch_add_column(batch, "emb", VDB_TYPE_FLOAT_VECTOR, vecs, NULL, ROWS, DIM),
          "column emb");
    uint64_t t_insert;
    check(vdb_insert(db, "docs", NULL, batch, &t_insert, NULL), "insert");
    vdb_batch_free(batch);
    printf("inserted %d rows at timestamp %llu\n", ROWS, (unsigned long long)t_insert);

    /* search for the vector of row 42 */
    const char *outputs[] = {"title"};
    vdb_search_req req = {.struct_size = sizeof req, .collection = "docs",
                          .vectors = &vecs[42 * DIM], .nq = 1, .dim = DIM, .k = 3,
                          .read = {.output_fields = outputs, .n_output_fields = 1}};
    vdb_result *res;
    check(vdb_search(db, &req, &res), "search");
    printf("nearest to row 42:\n");
    print_hits(res);
    vdb_result_free(res);

    /* delete row 42, then search now and as of before the delete */
    int64_t gone = 42;
    uint64_t t_delete;
    check(vdb_delete(db, "docs", NULL, &(vdb_pk_list){.ints = &gone, .count = 1}, &t_delete),
          "delete");
    check(vdb_search(db, &req, &res), "search after delete");
    printf("after deleting 42:\n");
    print_hits(res);
    vdb_result_free(res);
    req.read.travel_ts = t_insert;
    check(vdb_search(db, &req, &res), "search with time travel");
    printf("as of the insert (time travel):\n");
    print_hits(res);
    vdb_result_free(res);

    /* seal the growing segment to the object store, then reopen: everything comes back */
    check(vdb_flush(db, "docs"), "flush");
    vdb_close(db);
    check(vdb_open(path, NULL, &db), "reopen");
    vdb_stats stats = {.struct_size = sizeof stats};
    check(vdb_collection_stats(db, "docs", &stats), "stats");
    printf("after reopen: %llu visible rows in %llu sealed segment(s)\n",
           (unsigned long long)stats.row_count, (unsigned long long)stats.sealed_segments);
    vdb_close(db);
    return 0;
}

/* End-to-end tests of databases: create / drop / list / has, collections and aliases named
 * "<db>.<name>", the Milvus errors, reopen, and a folder without database records opening
 * with every collection in "default". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vdb/vdb.h>

#include "test_api.h"

enum { D = 2 };

static vdb_db *open_db(const char *dir)
{
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    vdb_db *db = NULL;
    vdb_status st = vdb_open(dir, &o, &db);
    if (st != VDB_OK)
        fail_msg("vdb_open(%s) -> %s: %s", dir, vdb_status_name(st), vdb_errmsg(NULL));
    return db;
}

static vdb_status create(vdb_db *db, const char *name)
{
    vdb_schema *s;
    vdb_status st = vdb_schema_new(name, &s);
    if (st != VDB_OK)
        return st;
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "vec", .type = VDB_TYPE_FLOAT_VECTOR, .dim = D)));
    st = vdb_create_collection(db, s);
    vdb_schema_free(s);
    return st;
}

static void insert(vdb_db *db, const char *coll, int64_t first, size_t n)
{
    int64_t ids[64];
    float vec[64 * D];
    for (size_t i = 0; i < n; i++) {
        ids[i] = first + (int64_t)i;
        vec[i * D] = (float)ids[i];
        vec[i * D + 1] = 1;
    }
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vec, NULL, n, D));
    OK(vdb_insert(db, coll, NULL, b, NULL, NULL));
    vdb_batch_free(b);
}

static uint64_t count(vdb_db *db, const char *coll)
{
    uint64_t n = 0;
    OK(vdb_count(db, coll, NULL, VDB_READ_OPTS(0), &n));
    return n;
}

/* names joined by ',' */
static void assert_names(vdb_names *n, const char *want)
{
    char got[1024] = "";
    for (size_t i = 0; i < n->count; i++) {
        if (i)
            strcat(got, ",");
        strcat(got, n->names[i]);
    }
    vdb_names_free(n);
    assert_string_equal(got, want);
}

static void assert_dbs(vdb_db *db, const char *want)
{
    vdb_names *n;
    OK(vdb_list_databases(db, &n));
    assert_names(n, want);
}

static void assert_colls(vdb_db *db, const char *database, const char *want)
{
    vdb_names *n;
    OK(vdb_list_collections_in(db, database, &n));
    assert_names(n, want);
}

static void test_databases(void **state)
{
    (void)state;
    char *dir = test_tmpdir("databases");
    vdb_db *db = open_db(dir);
    /* a folder from before databases: its collections are in "default" */
    OK(create(db, "a"));
    insert(db, "a", 0, 3);
    assert_dbs(db, "default");
    ERR(vdb_create_database(db, "default"), VDB_EEXIST, "database already exist");
    ERR(vdb_create_database(db, "bad.name"), VDB_EINVAL, "invalid");
    ERR(vdb_drop_database(db, "default"), VDB_EINVAL, "can not drop default database");
    ERR(vdb_drop_database(db, "nope"), VDB_ENOTFOUND, "database not found");
    ERR(create(db, "nope.a"), VDB_ENOTFOUND, "database not found[database=nope]");
    OK(vdb_create_database(db, "db2"));
    OK(vdb_create_database(db, "alpha"));
    ERR(vdb_create_database(db, "db2"), VDB_EEXIST, "database already exist: db2");
    assert_dbs(db, "default,alpha,db2");
    int has = 0;
    OK(vdb_has_database(db, "db2", &has));
    assert_true(has);
    OK(vdb_has_database(db, "nope", &has));
    assert_false(has);

    /* the same collection name in two databases: two collections */
    OK(create(db, "db2.a"));
    OK(create(db, "db2.b"));
    ERR(create(db, "db2.a"), VDB_EEXIST, NULL);
    insert(db, "db2.a", 100, 5);
    assert_int_equal(count(db, "a"), 3);
    assert_int_equal(count(db, "default.a"), 3);
    assert_int_equal(count(db, "db2.a"), 5);
    assert_colls(db, NULL, "a");
    assert_colls(db, "default", "a");
    assert_colls(db, "db2", "a,b");
    assert_colls(db, "alpha", "");
    vdb_names *n;
    ERR(vdb_list_collections_in(db, "nope", &n), VDB_ENOTFOUND, "database not found");
    OK(vdb_list_collections(db, &n));
    assert_names(n, "a");

    /* aliases live in their collection's database */
    OK(vdb_create_alias(db, "db2.a", "db2.x"));
    ERR(vdb_create_alias(db, "db2.a", "y"), VDB_EINVAL, "different databases");
    ERR(vdb_create_alias(db, "a", "db2.y"), VDB_EINVAL, "different databases");
    OK(vdb_create_alias(db, "a", "x")); /* "x" of default and "x" of db2 are two aliases */
    assert_int_equal(count(db, "db2.x"), 5);
    assert_int_equal(count(db, "x"), 3);

    /* a database with collections cannot be dropped */
    ERR(vdb_drop_database(db, "db2"), VDB_EINVAL, "not empty");
    /* rename within and across databases */
    OK(vdb_rename_collection(db, "db2.b", "db2.c"));
    ERR(vdb_rename_collection(db, "db2.a", "alpha.a"), VDB_EINVAL, "aliases");
    ERR(vdb_rename_collection(db, "db2.c", "nope.c"), VDB_ENOTFOUND, "database not found");
    OK(vdb_rename_collection(db, "db2.c", "alpha.c"));
    assert_colls(db, "alpha", "c");
    assert_colls(db, "db2", "a");

    /* everything survives a reopen */
    vdb_close(db);
    db = open_db(dir);
    assert_dbs(db, "default,alpha,db2");
    assert_colls(db, "db2", "a");
    assert_colls(db, "alpha", "c");
    assert_int_equal(count(db, "db2.x"), 5);
    assert_int_equal(count(db, "x"), 3);
    char target[VDB_MAX_NAME_LEN + 1];
    OK(vdb_describe_alias(db, "db2.x", target, sizeof target));
    assert_string_equal(target, "db2.a");

    /* emptied, it can be dropped; its names can be used again */
    OK(vdb_drop_alias(db, "db2.x"));
    OK(vdb_drop_collection(db, "db2.a"));
    OK(vdb_drop_database(db, "db2"));
    assert_dbs(db, "default,alpha");
    uint64_t cnt;
    ERR(vdb_count(db, "db2.a", NULL, VDB_READ_OPTS(0), &cnt), VDB_ENOTFOUND, NULL);
    vdb_close(db);
    db = open_db(dir);
    assert_dbs(db, "default,alpha");
    OK(vdb_create_database(db, "db2"));
    assert_colls(db, "db2", "");
    assert_int_equal(count(db, "a"), 3);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_databases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Collection properties end to end: collection.ttl.seconds hides rows older than the TTL
 * from count, query, get and search, compaction drops them, the property survives a reopen
 * and can be dropped; unsupported keys and bad values are refused and change nothing. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vdb/vdb.h>

#include "test_common.h"

#define COLL "ttl"
#define DIM 2

static vdb_db *open_db(const char *path)
{
    vdb_options o;
    vdb_options_init(&o);
    o.retention_seconds = 0;
    o.compaction_interval_ms = 0;
    o.compaction_min_segments = 2;
    vdb_db *db = NULL;
    vdb_status st = vdb_open(path, &o, &db);
    if (st != VDB_OK)
        fail_msg("open %s: %s: %s", path, vdb_status_name(st), vdb_errmsg(NULL));
    return db;
}

static void create(vdb_db *db)
{
    vdb_schema *s;
    assert_int_equal(vdb_schema_new(COLL, &s), VDB_OK);
    assert_int_equal(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                                       .is_primary = 1)), VDB_OK);
    assert_int_equal(vdb_schema_add_field(s, VDB_FIELD(.name = "emb",
                                                       .type = VDB_TYPE_FLOAT_VECTOR,
                                                       .dim = DIM, .metric = VDB_METRIC_L2)),
                     VDB_OK);
    assert_int_equal(vdb_create_collection(db, s), VDB_OK);
    vdb_schema_free(s);
}

static void insert(vdb_db *db, int64_t from, size_t n)
{
    int64_t ids[64];
    float v[64 * DIM];
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        ids[i] = from + (int64_t)i;
        v[i * DIM] = (float)i;
        v[i * DIM + 1] = 1.0f;
    }
    vdb_batch *b;
    assert_int_equal(vdb_batch_new(&b), VDB_OK);
    assert_int_equal(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0), VDB_OK);
    assert_int_equal(vdb_batch_add_column(b, "emb", VDB_TYPE_FLOAT_VECTOR, v, NULL, n, DIM),
                     VDB_OK);
    assert_int_equal(vdb_insert(db, COLL, NULL, b, NULL, NULL), VDB_OK);
    vdb_batch_free(b);
}

static uint64_t count(vdb_db *db, const char *filter)
{
    uint64_t n = 0;
    vdb_status st = vdb_count(db, COLL, filter, NULL, &n);
    if (st != VDB_OK)
        fail_msg("count: %s: %s", vdb_status_name(st), vdb_errmsg(NULL));
    return n;
}

static size_t props(vdb_db *db, const char *key, char *val, size_t n)
{
    vdb_names *k, *v;
    assert_int_equal(vdb_describe_collection_properties(db, COLL, &k, &v), VDB_OK);
    assert_int_equal(k->count, v->count);
    size_t total = k->count;
    if (val)
        val[0] = 0;
    for (size_t i = 0; i < k->count && val; i++)
        if (!strcmp(k->names[i], key))
            snprintf(val, n, "%s", v->names[i]);
    vdb_names_free(k);
    vdb_names_free(v);
    return total;
}

static void test_bad_input_changes_nothing(void **state)
{
    (void)state;
    char *dir = test_tmpdir("props_bad");
    vdb_db *db = open_db(dir);
    create(db);
    const char *k1[] = {"collection.ttl.seconds"};
    const char *ok[] = {"100"};
    assert_int_equal(vdb_alter_collection_properties(db, COLL, k1, ok, 1), VDB_OK);
    static const char *const bad[] = {"-1", "abc", "", "1.5", " 5", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *v[] = {bad[i]};
        assert_int_equal(vdb_alter_collection_properties(db, COLL, k1, v, 1), VDB_EINVAL);
        assert_non_null(strstr(vdb_errmsg(NULL), "collection.ttl.seconds"));
    }
    const char *k2[] = {"collection.ttl.seconds", "mmap.enabled"};
    const char *v2[] = {"5", "yes"}; /* mmap.enabled is true or false */
    assert_int_equal(vdb_alter_collection_properties(db, COLL, k2, v2, 2), VDB_EINVAL);
    assert_non_null(strstr(vdb_errmsg(NULL), "mmap.enabled"));
    const char *k3[] = {"collection.replica.number"};
    assert_int_equal(vdb_alter_collection_properties(db, COLL, k3, ok, 1), VDB_EUNSUPPORTED);
    assert_int_equal(vdb_alter_collection_properties(db, "nope", k1, ok, 1), VDB_ENOTFOUND);
    assert_int_equal(vdb_alter_collection_properties(db, COLL, k1, ok, 0), VDB_EINVAL);
    assert_int_equal(vdb_drop_collection_properties(db, COLL, NULL, 0), VDB_EINVAL);
    char val[32];
    assert_int_equal(props(db, "collection.ttl.seconds", val, sizeof val), 1);
    assert_string_equal(val, "100");
    /* dropping a key not set is no error; dropping the TTL removes it */
    assert_int_equal(vdb_drop_collection_properties(db, COLL, k3, 1), VDB_OK);
    assert_int_equal(props(db, NULL, NULL, 0), 1);
    assert_int_equal(vdb_drop_collection_properties(db, COLL, k1, 1), VDB_OK);
    assert_int_equal(props(db, NULL, NULL, 0), 0);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_ttl(void **state)
{
    (void)state;
    char *dir = test_tmpdir("props_ttl");
    vdb_db *db = open_db(dir);
    create(db);
    insert(db, 0, 30);
    assert_int_equal(vdb_flush(db, COLL), VDB_OK);
    insert(db, 100, 20); /* growing */
    const char *k[] = {"collection.ttl.seconds"};
    const char *v[] = {"2"};
    assert_int_equal(vdb_alter_collection_properties(db, COLL, k, v, 1), VDB_OK);
    /* the property is in the meta record: it survives a reopen */
    vdb_close(db);
    db = open_db(dir);
    char val[32];
    assert_int_equal(props(db, "collection.ttl.seconds", val, sizeof val), 1);
    assert_string_equal(val, "2");
    sleep(3); /* past the TTL: the 50 old rows expire */
    insert(db, 1000, 10);
    assert_int_equal(count(db, NULL), 10);
    assert_int_equal(count(db, "id < 1000"), 0);
    vdb_result *r;
    assert_int_equal(vdb_query(db, COLL, "id >= 0", NULL, 0, 0, &r), VDB_OK);
    assert_int_equal(vdb_result_rows(r, 0), 10);
    vdb_result_free(r);
    vdb_stats s = {.struct_size = sizeof s};
    assert_int_equal(vdb_collection_stats(db, COLL, &s), VDB_OK);
    assert_int_equal(s.row_count, 10);
    /* compaction drops the expired sealed rows */
    assert_int_equal(vdb_flush(db, COLL), VDB_OK);
    assert_int_equal(vdb_compact(db, COLL), VDB_OK);
    assert_int_equal(vdb_collection_stats(db, COLL, &s), VDB_OK);
    assert_int_equal(s.sealed_rows + s.growing_rows, 10);
    assert_int_equal(count(db, NULL), 10);
    /* without the TTL the rows compaction kept are all visible; the purged stay gone */
    assert_int_equal(vdb_drop_collection_properties(db, COLL, k, 1), VDB_OK);
    assert_int_equal(count(db, NULL), 10);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_ttl_drop_restores(void **state)
{
    (void)state;
    char *dir = test_tmpdir("props_restore");
    vdb_db *db = open_db(dir);
    create(db);
    insert(db, 0, 5);
    const char *k[] = {"collection.ttl.seconds"};
    const char *v[] = {"1"};
    assert_int_equal(vdb_alter_collection_properties(db, COLL, k, v, 1), VDB_OK);
    sleep(2);
    assert_int_equal(count(db, NULL), 0);
    /* not compacted yet: dropping the TTL shows the rows again (nothing else changed) */
    assert_int_equal(vdb_drop_collection_properties(db, COLL, k, 1), VDB_OK);
    assert_int_equal(count(db, NULL), 5);
    /* truncation keeps the properties */
    assert_int_equal(vdb_alter_collection_properties(db, COLL, k, v, 1), VDB_OK);
    assert_int_equal(vdb_truncate_collection(db, COLL), VDB_OK);
    assert_int_equal(props(db, NULL, NULL, 0), 1);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input_changes_nothing),
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_ttl_drop_restores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

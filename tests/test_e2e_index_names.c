/* End-to-end tests of index names: create with a name, describe, list and drop by name, the
 * rules (one index per field, names unique and well formed), and names kept across reopen
 * and truncate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vdb/vdb.h>

#include "test_api.h"

enum { D = 4 };

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

/* id INT64 pk, tag INT64, vec FLOAT_VECTOR(D) IP. */
static void create_simple(vdb_db *db, const char *name)
{
    vdb_schema *s;
    OK(vdb_schema_new(name, &s));
    vdb_field_def f[3] = {
        {.struct_size = sizeof f[0], .name = "id", .type = VDB_TYPE_INT64, .is_primary = 1},
        {.struct_size = sizeof f[0], .name = "tag", .type = VDB_TYPE_INT64},
        {.struct_size = sizeof f[0], .name = "vec", .type = VDB_TYPE_FLOAT_VECTOR, .dim = D,
         .metric = VDB_METRIC_IP}};
    for (int i = 0; i < 3; i++)
        OK(vdb_schema_add_field(s, &f[i]));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
}

static void insert_rows(vdb_db *db, const char *coll, int64_t first, size_t n)
{
    int64_t *ids = malloc(n * sizeof *ids), *tags = malloc(n * sizeof *tags);
    float *vec = malloc(n * D * sizeof *vec);
    for (size_t i = 0; i < n; i++) {
        ids[i] = first + (int64_t)i;
        tags[i] = ids[i] % 5;
        for (int d = 0; d < D; d++)
            vec[i * D + d] = (float)(ids[i] % 13) + (float)d;
    }
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0));
    OK(vdb_batch_add_column(b, "tag", VDB_TYPE_INT64, tags, NULL, n, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vec, NULL, n, D));
    OK(vdb_insert(db, coll, NULL, b, NULL, NULL));
    vdb_batch_free(b);
    free(ids);
    free(tags);
    free(vec);
}

/* The one index called name, checked against its expected field and type. */
static vdb_index_info describe(vdb_db *db, const char *coll, const char *name, vdb_indexes **l)
{
    OK(vdb_describe_index_by_name(db, coll, name, l));
    assert_int_equal(vdb_indexes_count(*l), 1);
    vdb_index_info x = {.struct_size = sizeof x};
    OK(vdb_indexes_get(*l, 0, &x));
    assert_string_equal(x.name, name);
    return x;
}

/* The names of the collection's indexes, "name:field,..." in field order. */
static void list_names(vdb_db *db, const char *coll, char *buf, size_t n)
{
    vdb_indexes *l;
    OK(vdb_list_indexes(db, coll, &l));
    buf[0] = 0;
    for (size_t i = 0; i < vdb_indexes_count(l); i++) {
        vdb_index_info x = {.struct_size = sizeof x};
        OK(vdb_indexes_get(l, i, &x));
        size_t at = strlen(buf);
        snprintf(buf + at, n - at, "%s%s:%s", i ? "," : "", x.name, x.field);
    }
    vdb_indexes_free(l);
}

static void test_named_index_is_described_listed_and_dropped_by_its_name(void **state)
{
    (void)state;
    char *dir = test_tmpdir("idxnames_basic");
    vdb_db *db = open_db(dir);
    create_simple(db, "c");
    insert_rows(db, "c", 0, 300);
    OK(vdb_flush(db, "c"));
    OK(vdb_create_index_named(db, "c", "vec", "vec_hnsw", "HNSW", "M=8"));
    OK(vdb_create_index(db, "c", "tag", "STL_SORT", NULL)); /* named after its field */
    OK(vdb_wait_for_index(db, "c", "vec", UINT64_MAX));

    vdb_indexes *l;
    vdb_index_info x = describe(db, "c", "vec_hnsw", &l);
    assert_string_equal(x.field, "vec");
    assert_string_equal(x.type, "HNSW");
    assert_string_equal(x.metric, "IP");
    assert_non_null(strstr(x.params, "M=8"));
    assert_non_null(strstr(x.params, "efConstruction=200")); /* defaults filled */
    assert_int_equal(x.state, VDB_INDEX_FINISHED);
    assert_int_equal(x.total_rows, 300);
    assert_int_equal(x.indexed_rows, 300);
    assert_int_equal(x.fail_status, VDB_OK);
    assert_string_equal(x.fail_reason, "");
    vdb_indexes_free(l);
    x = describe(db, "c", "tag", &l);
    assert_string_equal(x.field, "tag");
    assert_string_equal(x.type, "STL_SORT");
    assert_string_equal(x.metric, "");
    assert_string_equal(x.params, "");
    vdb_indexes_free(l);

    char names[256];
    list_names(db, "c", names, sizeof names);
    assert_string_equal(names, "tag:tag,vec_hnsw:vec");
    /* the field calls still find an index by its field */
    const char *type;
    OK(vdb_describe_index(db, "c", "vec", &type));
    assert_string_equal(type, "HNSW");
    /* a name is not a field, nor a field a name */
    ERR(vdb_describe_index_by_name(db, "c", "vec", &l), VDB_ENOTFOUND, "index 'vec' not found");
    assert_null(l);
    ERR(vdb_drop_index_by_name(db, "c", "vec"), VDB_ENOTFOUND, "index 'vec' not found in 'c'");
    ERR(vdb_describe_index_by_name(db, "nope", "vec_hnsw", &l), VDB_ENOTFOUND, "nope");

    OK(vdb_drop_index_by_name(db, "c", "vec_hnsw"));
    ERR(vdb_describe_index(db, "c", "vec", &type), VDB_ENOTFOUND, "has no index");
    ERR(vdb_drop_index_by_name(db, "c", "vec_hnsw"), VDB_ENOTFOUND, "vec_hnsw");
    list_names(db, "c", names, sizeof names);
    assert_string_equal(names, "tag:tag");
    OK(vdb_drop_index(db, "c", "tag"));
    list_names(db, "c", names, sizeof names);
    assert_string_equal(names, "");
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_one_index_per_field_and_names_unique_and_well_formed(void **state)
{
    (void)state;
    char *dir = test_tmpdir("idxnames_rules");
    vdb_db *db = open_db(dir);
    create_simple(db, "c");
    OK(vdb_create_index_named(db, "c", "vec", "v1", "HNSW", "M=8"));
    /* the same again is a success, under its name or none; another name is refused */
    OK(vdb_create_index_named(db, "c", "vec", "v1", "HNSW", "M=8"));
    OK(vdb_create_index_named(db, "c", "vec", "", "HNSW", "M=8"));
    OK(vdb_create_index(db, "c", "vec", "HNSW", "M=8"));
    ERR(vdb_create_index_named(db, "c", "vec", "v2", "HNSW", "M=8"), VDB_EEXIST,
        "at most one distinct index is allowed per field");
    ERR(vdb_create_index_named(db, "c", "vec", "v1", "HNSW", "M=16"), VDB_EEXIST,
        "other parameters");
    ERR(vdb_create_index_named(db, "c", "vec", "v1", "IVF_FLAT", NULL), VDB_EEXIST,
        "already has a HNSW index");
    /* names are unique within the collection */
    ERR(vdb_create_index_named(db, "c", "tag", "v1", "STL_SORT", NULL), VDB_EEXIST,
        "index name 'v1' is already used in 'c' (by the index of field 'vec')");
    OK(vdb_create_index_named(db, "c", "tag", "vec", "STL_SORT", NULL));
    /* ... which a default name obeys too: "vec" is the tag field's index now */
    OK(vdb_drop_index_by_name(db, "c", "v1"));
    ERR(vdb_create_index(db, "c", "vec", "HNSW", NULL), VDB_EEXIST,
        "index name 'vec' is already used");
    OK(vdb_create_index_named(db, "c", "vec", "_v", "FLAT", NULL));
    /* Milvus's name rules */
    char longname[300];
    memset(longname, 'a', 256);
    longname[256] = 0;
    const char *bad[] = {"1x", "a-b", "a b", "é", longname};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ERR(vdb_create_index_named(db, "c", "id", bad[i], "STL_SORT", NULL), VDB_EINVAL,
            "is invalid: use 1..255 letters, digits or '_', starting with a letter or '_'");
    longname[255] = 0;
    OK(vdb_create_index_named(db, "c", "id", longname, "STL_SORT", NULL));
    vdb_indexes *l;
    vdb_index_info x = describe(db, "c", longname, &l);
    assert_string_equal(x.field, "id");
    vdb_indexes_free(l);
    char names[1024];
    list_names(db, "c", names, sizeof names);
    char want[1024];
    snprintf(want, sizeof want, "%s:id,vec:tag,_v:vec", longname);
    assert_string_equal(names, want);
    /* a field that does not exist, an unknown collection */
    ERR(vdb_create_index_named(db, "c", "nope", "n", "STL_SORT", NULL), VDB_ENOTFOUND, "nope");
    ERR(vdb_list_indexes(db, "nope", &l), VDB_ENOTFOUND, "nope");
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_names_survive_reopen_and_truncate(void **state)
{
    (void)state;
    char *dir = test_tmpdir("idxnames_reopen");
    vdb_db *db = open_db(dir);
    create_simple(db, "c");
    insert_rows(db, "c", 0, 100);
    OK(vdb_flush(db, "c"));
    OK(vdb_create_index_named(db, "c", "vec", "my_vec", "IVF_FLAT", "nlist=4"));
    OK(vdb_create_index_named(db, "c", "tag", "by_tag", "INVERTED", NULL));
    OK(vdb_create_index(db, "c", "id", "STL_SORT", NULL));
    OK(vdb_wait_for_index(db, "c", "vec", UINT64_MAX));
    vdb_close(db);

    db = open_db(dir);
    char names[256];
    list_names(db, "c", names, sizeof names);
    assert_string_equal(names, "id:id,by_tag:tag,my_vec:vec");
    vdb_indexes *l;
    vdb_index_info x = describe(db, "c", "my_vec", &l);
    assert_string_equal(x.type, "IVF_FLAT");
    assert_non_null(strstr(x.params, "nlist=4"));
    vdb_indexes_free(l);
    /* the rules hold after the reopen too */
    ERR(vdb_create_index_named(db, "c", "id", "by_tag", "STL_SORT", NULL), VDB_EEXIST,
        "at most one distinct index");
    OK(vdb_create_index_named(db, "c", "vec", "my_vec", "IVF_FLAT", "nlist=4"));

    OK(vdb_truncate_collection(db, "c"));
    list_names(db, "c", names, sizeof names);
    assert_string_equal(names, "id:id,by_tag:tag,my_vec:vec");
    OK(vdb_drop_index_by_name(db, "c", "by_tag"));
    vdb_close(db);

    db = open_db(dir);
    list_names(db, "c", names, sizeof names);
    assert_string_equal(names, "id:id,my_vec:vec");
    /* a dropped and re-created collection starts without indexes */
    OK(vdb_drop_collection(db, "c"));
    create_simple(db, "c");
    list_names(db, "c", names, sizeof names);
    assert_string_equal(names, "");
    OK(vdb_create_index_named(db, "c", "vec", "my_vec", "FLAT", NULL));
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* What a caller built before fail_reason (say) passes: the library writes no further. */
typedef struct old_index_info {
    uint32_t struct_size;
    const char *name;
    const char *field;
} old_index_info;

static void test_index_info_is_written_within_its_struct_size(void **state)
{
    (void)state;
    char *dir = test_tmpdir("idxnames_abi");
    vdb_db *db = open_db(dir);
    create_simple(db, "c");
    OK(vdb_create_index_named(db, "c", "vec", "v", "FLAT", NULL));
    vdb_indexes *l;
    OK(vdb_list_indexes(db, "c", &l));
    old_index_info *o = malloc(sizeof *o); /* exactly the old size: ASan sees a write past */
    o->struct_size = sizeof *o;
    OK(vdb_indexes_get(l, 0, (vdb_index_info *)o));
    assert_int_equal(o->struct_size, sizeof *o);
    assert_string_equal(o->name, "v");
    assert_string_equal(o->field, "vec");
    vdb_index_info x = {0};
    ERR(vdb_indexes_get(l, 0, &x), VDB_EINVAL, "vdb_index_info.struct_size");
    x.struct_size = sizeof x;
    ERR(vdb_indexes_get(l, 1, &x), VDB_EINVAL, "index 1 of a list of 1");
    free(o);
    vdb_indexes_free(l);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_named_index_is_described_listed_and_dropped_by_its_name),
        cmocka_unit_test(test_one_index_per_field_and_names_unique_and_well_formed),
        cmocka_unit_test(test_names_survive_reopen_and_truncate),
        cmocka_unit_test(test_index_info_is_written_within_its_struct_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

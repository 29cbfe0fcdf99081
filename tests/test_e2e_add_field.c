/* vdb_add_collection_field end to end: rows of segments sealed before and after the add, of
 * growing segments and of log records replayed at reopen read the new field as NULL (or its
 * default); new rows carry it; filters (`is null`, comparisons) see it with and without a
 * scalar index; compaction keeps it; time travel to before the add reads NULL; Milvus's
 * refusals; a dynamic collection keeps "$meta" readable across the add. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vdb/vdb.h>

#include "test_common.h"

#define COLL "af"
#define DIM 2

static vdb_db *open_db(const char *path)
{
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    o.compaction_min_segments = 2;
    o.segment_idle_seal_ms = 0;
    vdb_db *db = NULL;
    vdb_status st = vdb_open(path, &o, &db);
    if (st != VDB_OK)
        fail_msg("open %s: %s: %s", path, vdb_status_name(st), vdb_errmsg(NULL));
    return db;
}

static void create(vdb_db *db, int dynamic)
{
    vdb_schema *s;
    assert_int_equal(vdb_schema_new(COLL, &s), VDB_OK);
    assert_int_equal(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                                       .is_primary = 1)), VDB_OK);
    assert_int_equal(vdb_schema_add_field(s, VDB_FIELD(.name = "emb",
                                                       .type = VDB_TYPE_FLOAT_VECTOR,
                                                       .dim = DIM)), VDB_OK);
    assert_int_equal(vdb_schema_set_dynamic(s, dynamic), VDB_OK);
    assert_int_equal(vdb_create_collection(db, s), VDB_OK);
    vdb_schema_free(s);
}

/* Rows from..from+n-1; with_new: the added INT64 "score" = id * 10 (row i NULL when i % 5
 * == 4) and VARCHAR "tag" left out (its default). dyn: a dynamic key "k" = id. */
static uint64_t insert(vdb_db *db, int64_t from, size_t n, int with_new, int dyn, int upsert)
{
    int64_t ids[64], score[64];
    uint8_t valid[64];
    float v[64 * DIM];
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        ids[i] = from + (int64_t)i;
        score[i] = ids[i] * 10;
        valid[i] = i % 5 != 4;
        v[i * DIM] = (float)ids[i];
        v[i * DIM + 1] = 1.0f;
    }
    vdb_batch *b;
    assert_int_equal(vdb_batch_new(&b), VDB_OK);
    assert_int_equal(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0), VDB_OK);
    assert_int_equal(vdb_batch_add_column(b, "emb", VDB_TYPE_FLOAT_VECTOR, v, NULL, n, DIM),
                     VDB_OK);
    if (with_new)
        assert_int_equal(vdb_batch_add_column(b, "score", VDB_TYPE_INT64, score, valid, n, 0),
                         VDB_OK);
    if (dyn)
        assert_int_equal(vdb_batch_add_column(b, "k", VDB_TYPE_INT64, ids, NULL, n, 0), VDB_OK);
    uint64_t ts = 0;
    vdb_status st = upsert ? vdb_upsert(db, COLL, NULL, b, &ts, NULL)
                           : vdb_insert(db, COLL, NULL, b, &ts, NULL);
    if (st != VDB_OK)
        fail_msg("insert: %s: %s", vdb_status_name(st), vdb_errmsg(NULL));
    vdb_batch_free(b);
    return ts;
}

static uint64_t count_at(vdb_db *db, const char *filter, uint64_t ts)
{
    uint64_t n = 0;
    vdb_status st = vdb_count(db, COLL, filter, VDB_READ_OPTS(.travel_ts = ts), &n);
    if (st != VDB_OK)
        fail_msg("count %s: %s: %s", filter, vdb_status_name(st), vdb_errmsg(NULL));
    return n;
}

static uint64_t count(vdb_db *db, const char *filter) { return count_at(db, filter, 0); }

/* The value of field of row id (get): *is_null, the int or the string into str. */
static int64_t value_of(vdb_db *db, int64_t id, const char *field, int *is_null, char *str,
                        size_t n, uint64_t ts)
{
    const char *of[] = {field};
    vdb_pk_list pks = {.ints = &id, .count = 1};
    vdb_result *r = NULL;
    vdb_status st = vdb_get(db, COLL, &pks,
                            VDB_READ_OPTS(.travel_ts = ts, .output_fields = of,
                                          .n_output_fields = 1), &r);
    if (st != VDB_OK)
        fail_msg("get %lld: %s: %s", (long long)id, vdb_status_name(st), vdb_errmsg(NULL));
    assert_int_equal(vdb_result_rows(r, 0), 1);
    vdb_value v;
    assert_int_equal(vdb_result_field(r, 0, 0, field, &v), VDB_OK);
    *is_null = v.is_null;
    int64_t out = v.is_null ? 0 : v.type == VDB_TYPE_VARCHAR ? 0 : v.u.i64;
    if (str && n) {
        str[0] = 0;
        if (!v.is_null && v.type == VDB_TYPE_VARCHAR)
            snprintf(str, n, "%.*s", (int)v.u.str.len, v.u.str.ptr);
    }
    vdb_result_free(r);
    return out;
}

static void add_fields(vdb_db *db)
{
    assert_int_equal(vdb_add_collection_field(db, COLL,
                                              VDB_FIELD(.name = "score",
                                                        .type = VDB_TYPE_INT64,
                                                        .nullable = 1)), VDB_OK);
    assert_int_equal(vdb_add_collection_field(db, COLL,
                                              VDB_FIELD(.name = "tag",
                                                        .type = VDB_TYPE_VARCHAR,
                                                        .max_length = 16, .nullable = 1,
                                                        .default_json = "\"none\"")),
                     VDB_OK);
}

/* What every check below expects of the data test_evolve writes: ids 0..29 sealed before the
 * add, 30..39 growing at the add (sealed later), 100..119 written after it (score = id*10,
 * NULL for every fifth), 200..209 written after it and replayed from the log at reopen. */
static void check_data(vdb_db *db, uint64_t before_ts, bool replayed)
{
    int is_null;
    char s[32];
    /* old rows: score NULL, tag the default */
    value_of(db, 3, "score", &is_null, NULL, 0, 0);
    assert_true(is_null);
    value_of(db, 35, "score", &is_null, NULL, 0, 0);
    assert_true(is_null);
    value_of(db, 3, "tag", &is_null, s, sizeof s, 0);
    assert_false(is_null);
    assert_string_equal(s, "none");
    /* new rows carry it */
    assert_int_equal(value_of(db, 101, "score", &is_null, NULL, 0, 0), 1010);
    assert_false(is_null);
    value_of(db, 104, "score", &is_null, NULL, 0, 0);
    assert_true(is_null);
    value_of(db, 104, "tag", &is_null, s, sizeof s, 0);
    assert_string_equal(s, "none");
    uint64_t extra = replayed ? 10 : 0, extra_null = replayed ? 2 : 0;
    assert_int_equal(count(db, NULL), 60 + extra);
    assert_int_equal(count(db, "score is null"), 40 + 4 + extra_null);
    assert_int_equal(count(db, "score is not null"), 16 + extra - extra_null);
    assert_int_equal(count(db, "score >= 1100"), 8 + extra - extra_null);
    assert_int_equal(count(db, "tag == \"none\""), 60 + extra);
    /* before the add (time travel) the field has no value */
    value_of(db, 3, "score", &is_null, NULL, 0, before_ts);
    assert_true(is_null);
    assert_int_equal(count_at(db, "score is null", before_ts), 40);
}

static void test_evolve(void **state)
{
    (void)state;
    char *dir = test_tmpdir("addfield_evolve");
    vdb_db *db = open_db(dir);
    create(db, 0);
    insert(db, 0, 30, 0, 0, 0);
    assert_int_equal(vdb_flush(db, COLL), VDB_OK); /* sealed before */
    uint64_t before = insert(db, 30, 10, 0, 0, 0); /* growing at the add */
    add_fields(db);
    /* the schema shows them, appended */
    vdb_schema *sc;
    assert_int_equal(vdb_describe_collection(db, COLL, &sc), VDB_OK);
    assert_int_equal(vdb_schema_field_count(sc), 4);
    vdb_field_def f = {.struct_size = sizeof f};
    assert_int_equal(vdb_schema_field(sc, 2, &f), VDB_OK);
    assert_string_equal(f.name, "score");
    assert_true(f.nullable);
    vdb_schema_free(sc);
    insert(db, 100, 20, 1, 0, 0); /* into the widened growing segment */
    check_data(db, before, false);
    assert_int_equal(vdb_flush(db, COLL), VDB_OK); /* sealed after */
    check_data(db, before, false);
    /* reopen: the segment sealed before is widened at load */
    vdb_close(db);
    db = open_db(dir);
    check_data(db, before, false);
    uint64_t problems = 1; /* the integrity check reads the older segment's files */
    assert_int_equal(vdb_check(db, NULL, NULL, &problems), VDB_OK);
    assert_int_equal(problems, 0);
    /* rows left in the log (not flushed) are replayed at reopen */
    insert(db, 200, 10, 1, 0, 0);
    vdb_close(db);
    db = open_db(dir);
    check_data(db, before, true);
    /* a scalar index on the new field: the filters answer the same */
    assert_int_equal(vdb_create_index(db, COLL, "score", "STL_SORT", NULL), VDB_OK);
    assert_int_equal(vdb_flush(db, COLL), VDB_OK);
    check_data(db, before, true);
    /* compaction merges the segments from before and after: the column goes along */
    assert_int_equal(vdb_compact(db, COLL), VDB_OK);
    vdb_stats st = {.struct_size = sizeof st};
    assert_int_equal(vdb_collection_stats(db, COLL, &st), VDB_OK);
    check_data(db, before, true);
    vdb_close(db);
    db = open_db(dir);
    check_data(db, before, true);
    problems = 1;
    assert_int_equal(vdb_check(db, NULL, NULL, &problems), VDB_OK);
    assert_int_equal(problems, 0);
    /* upsert an old row with the field set */
    insert(db, 0, 5, 1, 0, 1);
    int is_null;
    assert_int_equal(value_of(db, 2, "score", &is_null, NULL, 0, 0), 20);
    assert_false(is_null);
    assert_int_equal(count(db, NULL), 70);
    assert_int_equal(count(db, "score is null"), 46 - 4);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_search_output(void **state)
{
    (void)state;
    char *dir = test_tmpdir("addfield_search");
    vdb_db *db = open_db(dir);
    create(db, 0);
    insert(db, 0, 10, 0, 0, 0);
    assert_int_equal(vdb_flush(db, COLL), VDB_OK);
    add_fields(db);
    insert(db, 10, 10, 1, 0, 0);
    float q[DIM] = {12.0f, 1.0f};
    const char *of[] = {"score", "tag"};
    vdb_search_req req = {.struct_size = sizeof req, .collection = COLL, .vectors = q,
                          .nq = 1, .dim = DIM, .k = 20,
                          .read = {.output_fields = of, .n_output_fields = 2}};
    vdb_result *r;
    assert_int_equal(vdb_search(db, &req, &r), VDB_OK);
    assert_int_equal(vdb_result_rows(r, 0), 20);
    for (size_t i = 0; i < 20; i++) {
        int64_t id = vdb_result_pk_int(r, 0, i);
        vdb_value v;
        assert_int_equal(vdb_result_field(r, 0, i, "score", &v), VDB_OK);
        if (id < 10 || id % 5 == 4) {
            assert_true(v.is_null);
        } else {
            assert_false(v.is_null);
            assert_int_equal(v.u.i64, id * 10);
        }
        assert_int_equal(vdb_result_field(r, 0, i, "tag", &v), VDB_OK);
        assert_false(v.is_null);
        assert_int_equal(v.u.str.len, 4);
    }
    vdb_result_free(r);
    req.filter = "score is null";
    assert_int_equal(vdb_search(db, &req, &r), VDB_OK);
    assert_int_equal(vdb_result_rows(r, 0), 12);
    vdb_result_free(r);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_dynamic(void **state)
{
    (void)state;
    char *dir = test_tmpdir("addfield_dynamic");
    vdb_db *db = open_db(dir);
    create(db, 1);
    insert(db, 0, 10, 0, 1, 0);
    assert_int_equal(vdb_flush(db, COLL), VDB_OK);
    insert(db, 10, 10, 0, 1, 0); /* growing, and in the log */
    add_fields(db);
    insert(db, 20, 10, 1, 1, 0);
    /* a delete in the segment sealed before: its delete log goes into a new manifest of the
     * widened segment, which the reopen below reads */
    int64_t gone = 3;
    vdb_pk_list pks = {.ints = &gone, .count = 1};
    assert_int_equal(vdb_delete(db, COLL, NULL, &pks, NULL), VDB_OK);
    assert_int_equal(vdb_flush(db, COLL), VDB_OK);
    for (int round = 0; round < 2; round++) {
        /* "$meta" stays readable for rows from before and after */
        assert_int_equal(count(db, "k >= 5"), 25);
        assert_int_equal(count(db, "k == 3"), 0);
        assert_int_equal(count(db, "score is null"), 20 + 2 - 1);
        int is_null;
        assert_int_equal(count(db, "k == 7"), 1);
        assert_int_equal(count(db, "k == 15"), 1);
        assert_int_equal(value_of(db, 21, "score", &is_null, NULL, 0, 0), 210);
        vdb_close(db); /* the second round: sealed segment loaded, log replayed */
        db = open_db(dir);
    }
    assert_int_equal(vdb_flush(db, COLL), VDB_OK);
    assert_int_equal(vdb_compact(db, COLL), VDB_OK);
    assert_int_equal(count(db, "k >= 5 and score is not null"), 8);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_refusals(void **state)
{
    (void)state;
    char *dir = test_tmpdir("addfield_refuse");
    vdb_db *db = open_db(dir);
    create(db, 0);
    struct {
        vdb_field_def *f;
        const char *words;
    } bad[] = {
        {VDB_FIELD(.name = "x", .type = VDB_TYPE_INT64), "added field must be nullable"},
        {VDB_FIELD(.name = "v2", .type = VDB_TYPE_FLOAT_VECTOR, .dim = 2, .nullable = 1),
         "not support to add vector field"},
        {VDB_FIELD(.name = "p", .type = VDB_TYPE_INT64, .is_primary = 1, .nullable = 1),
         "not support to add pk field"},
        {VDB_FIELD(.name = "k", .type = VDB_TYPE_INT64, .is_partition_key = 1, .nullable = 1),
         "partition key"},
        {VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .nullable = 1),
         "duplicate field name: id"},
        {VDB_FIELD(.name = "s", .type = VDB_TYPE_VARCHAR, .nullable = 1), "max_length"},
        {VDB_FIELD(.name = "d", .type = VDB_TYPE_INT8, .nullable = 1, .default_json = "300"),
         "default"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(vdb_add_collection_field(db, COLL, bad[i].f), VDB_EINVAL);
        if (!strstr(vdb_errmsg(NULL), bad[i].words))
            fail_msg("case %zu: '%s' lacks '%s'", i, vdb_errmsg(NULL), bad[i].words);
    }
    assert_int_equal(vdb_add_collection_field(db, "nope",
                                              VDB_FIELD(.name = "x", .type = VDB_TYPE_INT64,
                                                        .nullable = 1)), VDB_ENOTFOUND);
    vdb_schema *sc;
    assert_int_equal(vdb_describe_collection(db, COLL, &sc), VDB_OK);
    assert_int_equal(vdb_schema_field_count(sc), 2); /* nothing changed */
    vdb_schema_free(sc);
    /* the field limit */
    char name[32];
    vdb_status st = VDB_OK;
    int added = 0;
    for (; added < 300 && st == VDB_OK; added++) {
        snprintf(name, sizeof name, "f%d", added);
        st = vdb_add_collection_field(db, COLL, VDB_FIELD(.name = name, .type = VDB_TYPE_BOOL,
                                                          .nullable = 1));
    }
    assert_int_equal(st, VDB_EINVAL);
    assert_non_null(strstr(vdb_errmsg(NULL), "at most"));
    assert_int_equal(vdb_describe_collection(db, COLL, &sc), VDB_OK);
    assert_int_equal(vdb_schema_field_count(sc), 256);
    vdb_schema_free(sc);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* An add while vector index builds are queued or running: they are cancelled and queued
 * again, so every sealed segment still gets its index. */
static void test_with_index_builds(void **state)
{
    (void)state;
    char *dir = test_tmpdir("addfield_builds");
    vdb_db *db = open_db(dir);
    create(db, 1);
    assert_int_equal(vdb_create_index(db, COLL, "emb", "HNSW", "M=8,efConstruction=40"),
                     VDB_OK);
    for (int k = 0; k < 4; k++) {
        insert(db, k * 64, 64, 0, 1, 0);
        assert_int_equal(vdb_flush(db, COLL), VDB_OK);
    }
    add_fields(db);
    insert(db, 1000, 10, 1, 1, 0);
    assert_int_equal(vdb_wait_for_index(db, COLL, "emb", 120000), VDB_OK);
    uint64_t done = 0, total = 0;
    assert_int_equal(vdb_index_progress(db, COLL, "emb", &done, &total), VDB_OK);
    assert_int_equal(total, 256);
    assert_int_equal(done, total);
    float q[DIM] = {3.0f, 1.0f};
    vdb_search_req req = {.struct_size = sizeof req, .collection = COLL, .vectors = q,
                          .nq = 1, .dim = DIM, .k = 5, .filter = "score is null"};
    vdb_result *r;
    assert_int_equal(vdb_search(db, &req, &r), VDB_OK);
    assert_int_equal(vdb_result_rows(r, 0), 5);
    assert_true(vdb_result_pk_int(r, 0, 0) < 256);
    vdb_result_free(r);
    assert_int_equal(count(db, "score is not null"), 8);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* Properties at create: in the create's own transaction, checked as alter checks them. */
static void test_create_properties(void **state)
{
    (void)state;
    char *dir = test_tmpdir("addfield_props");
    vdb_db *db = open_db(dir);
    vdb_schema *s;
    assert_int_equal(vdb_schema_new(COLL, &s), VDB_OK);
    assert_int_equal(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                                       .is_primary = 1)), VDB_OK);
    assert_int_equal(vdb_schema_add_field(s, VDB_FIELD(.name = "emb",
                                                       .type = VDB_TYPE_FLOAT_VECTOR,
                                                       .dim = DIM)), VDB_OK);
    const char *k_bad[] = {"collection.ttl.seconds", "collection.replica.number"};
    const char *v_bad[] = {"60", "1"};
    vdb_create_opts o = {.struct_size = sizeof o, .property_keys = k_bad,
                         .property_values = v_bad, .n_properties = 2};
    assert_int_equal(vdb_create_collection_opts(db, s, &o), VDB_EUNSUPPORTED);
    assert_non_null(strstr(vdb_errmsg(NULL), "collection.replica.number"));
    const char *v_neg[] = {"-5"};
    o.property_values = v_neg;
    o.n_properties = 1;
    assert_int_equal(vdb_create_collection_opts(db, s, &o), VDB_EINVAL);
    int exists = 1;
    assert_int_equal(vdb_has_collection(db, COLL, &exists), VDB_OK);
    assert_false(exists); /* refused: nothing created */
    const char *v_ok[] = {"3600"};
    o.property_values = v_ok;
    assert_int_equal(vdb_create_collection_opts(db, s, &o), VDB_OK);
    vdb_schema_free(s);
    for (int round = 0; round < 2; round++) {
        vdb_names *k, *v;
        assert_int_equal(vdb_describe_collection_properties(db, COLL, &k, &v), VDB_OK);
        assert_int_equal(k->count, 1);
        assert_string_equal(k->names[0], "collection.ttl.seconds");
        assert_string_equal(v->names[0], "3600");
        vdb_names_free(k);
        vdb_names_free(v);
        vdb_close(db); /* it is in the meta record */
        db = open_db(dir);
    }
    insert(db, 0, 5, 0, 0, 0);
    assert_int_equal(count(db, NULL), 5); /* rows younger than the TTL are seen */
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_evolve),
        cmocka_unit_test(test_search_output),
        cmocka_unit_test(test_dynamic),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_create_properties),
        cmocka_unit_test(test_with_index_builds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* JSON path indexes (Milvus's json_path / json_cast_type): every operator they answer gives
 * the rows a scan gives (a twin collection without indexes holds the same rows), with
 * missing keys, values of other types, JSON null and NULL rows, across sealed and growing
 * segments, after deletes, compaction and reopen; several per field, listed, dropped by name;
 * the parameter checks. And one test below the API: an index that answers is really asked. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vdb/vdb.h>

#include "test_api.h"
#include "expr/expr.h"
#include "util/util.h"

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

static void create(vdb_db *db, const char *name)
{
    vdb_schema *s;
    OK(vdb_schema_new(name, &s));
    vdb_field_def f[3] = {
        {.struct_size = sizeof f[0], .name = "id", .type = VDB_TYPE_INT64, .is_primary = 1},
        {.struct_size = sizeof f[0], .name = "meta", .type = VDB_TYPE_JSON, .nullable = 1},
        {.struct_size = sizeof f[0], .name = "vec", .type = VDB_TYPE_FLOAT_VECTOR, .dim = D,
         .metric = VDB_METRIC_L2}};
    for (int i = 0; i < 3; i++)
        OK(vdb_schema_add_field(s, &f[i]));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
}

/* Row id's JSON: a.b of every type (or missing, or a not an object), s a string (some with
 * escapes), f a bool; NULL for every 17th row. */
static bool meta_of(int64_t id, char *buf, size_t n)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    if (id % 17 == 5)
        return false;
    char ab[64];
    switch (h % 11) {
    case 0: snprintf(ab, sizeof ab, "\"a\":{\"b\":%lld}", (long long)(h >> 8) % 21 - 10); break;
    case 1: snprintf(ab, sizeof ab, "\"a\":{\"b\":%lld.5}", (long long)(h >> 8) % 9 - 4); break;
    case 2: snprintf(ab, sizeof ab, "\"a\":{\"b\":\"str%d\"}", (int)((h >> 8) % 3)); break;
    case 3: snprintf(ab, sizeof ab, "\"a\":{\"b\":%s}", (h >> 8) % 2 ? "true" : "false"); break;
    case 4: snprintf(ab, sizeof ab, "\"a\":{\"b\":null}"); break;
    case 5: snprintf(ab, sizeof ab, "\"a\":{\"b\":[1,2]}"); break;
    case 6: snprintf(ab, sizeof ab, "\"a\":5"); break;
    case 7: snprintf(ab, sizeof ab, "\"a\":{\"c\":1}"); break;
    case 8: snprintf(ab, sizeof ab, "\"a\":{\"b\":4.0}"); break;
    case 9: snprintf(ab, sizeof ab, "\"a\":{\"b\":%lld}", (long long)(h >> 8) % 7); break;
    default: snprintf(ab, sizeof ab, "\"z\":1"); break;
    }
    char s[32];
    switch ((h >> 20) % 6) {
    case 0: snprintf(s, sizeof s, ",\"s\":\"x%d\"", (int)((h >> 24) % 8)); break;
    case 1: snprintf(s, sizeof s, ",\"s\":\"q\\\"x\""); break;
    case 2: snprintf(s, sizeof s, ",\"s\":%d", (int)((h >> 24) % 4)); break;
    case 3: snprintf(s, sizeof s, ",\"s\":\"\""); break;
    case 4: snprintf(s, sizeof s, ",\"s\":\"x%d\\u0041\"", (int)((h >> 24) % 3)); break;
    default: s[0] = 0; break;
    }
    const char *f = (h >> 40) % 3 == 0 ? ",\"f\":true" : (h >> 40) % 3 == 1 ? ",\"f\":false"
                                                                         : ",\"f\":\"true\"";
    snprintf(buf, n, "{%s%s%s%s}", ab, s, f, id % 97 == 3 ? ",\"big\":9007199254740993" : "");
    return true;
}

static void insert(vdb_db *db, const char *coll, int64_t first, size_t n)
{
    int64_t *ids = malloc(n * sizeof *ids);
    const char **meta = calloc(n, sizeof *meta);
    uint8_t *valid = calloc(n, 1);
    char *text = calloc(n, 160);
    float *vec = calloc(n * D, sizeof *vec);
    assert_non_null(text);
    for (size_t i = 0; i < n; i++) {
        ids[i] = first + (int64_t)i;
        valid[i] = meta_of(ids[i], text + i * 160, 160);
        meta[i] = valid[i] ? text + i * 160 : NULL;
        vec[i * D] = (float)ids[i];
    }
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0));
    OK(vdb_batch_add_column(b, "meta", VDB_TYPE_JSON, meta, valid, n, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vec, NULL, n, D));
    OK(vdb_insert(db, coll, NULL, b, NULL, NULL));
    vdb_batch_free(b);
    free(ids);
    free(meta);
    free(valid);
    free(text);
    free(vec);
}

static const char *const FILTERS[] = {
    "meta[\"a\"][\"b\"] > 3",
    "meta[\"a\"][\"b\"] >= 3",
    "meta[\"a\"][\"b\"] < 3.5",
    "meta[\"a\"][\"b\"] <= -2",
    "meta[\"a\"][\"b\"] == 4",
    "meta[\"a\"][\"b\"] == 4.0",
    "meta[\"a\"][\"b\"] != 4",
    "meta[\"a\"][\"b\"] in [1, 2, 7, -3.5]",
    "meta[\"a\"][\"b\"] not in [1, 2]",
    "not (meta[\"a\"][\"b\"] > 3)",
    "meta[\"a\"][\"b\"] > 3 and meta[\"a\"][\"b\"] < 8",
    "1 < meta[\"a\"][\"b\"] < 5",
    "meta[\"a\"][\"b\"] > 3 or meta[\"s\"] == \"x1\"",
    "meta[\"a\"][\"b\"] == \"str1\"",          /* another type than the cast: scanned */
    "meta[\"a\"][\"b\"] == true",
    "meta[\"big\"] == 9007199254740993",
    "meta[\"s\"] == \"x3\"",
    "meta[\"s\"] == \"q\\\"x\"",
    "meta[\"s\"] == \"x1A\"",
    "meta[\"s\"] > \"x5\"",
    "meta[\"s\"] <= \"x2\"",
    "meta[\"s\"] != \"x2\"",
    "meta[\"s\"] in [\"x1\", \"x4\", \"\"]",
    "meta[\"s\"] in [\"x1\", 2]",             /* a number in the list: scanned */
    "not (meta[\"s\"] in [\"x1\", \"x4\"])",
    "meta[\"s\"] == 2",
    "meta[\"s\"] like \"x1%\"",
    "meta[\"s\"] like \"x%\"",
    "meta[\"s\"] like \"x2\"",
    "meta[\"s\"] like \"%1\"",
    "not (meta[\"s\"] like \"x1%\")",
    "meta[\"f\"] == true",
    "meta[\"f\"] != false",
    "not (meta[\"f\"] == true)",
    "meta[\"f\"] in [true]",
    "exists meta[\"s\"]",
    "meta is null",
};
enum { NF = sizeof FILTERS / sizeof FILTERS[0] };

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The pks that pass filter, sorted, into *out (malloc'd); returns how many. */
static size_t query_pks(vdb_db *db, const char *coll, const char *filter, int64_t **out)
{
    vdb_result *res;
    OK(vdb_query(db, coll, filter, NULL, 0, 0, &res));
    size_t n = vdb_result_rows(res, 0);
    int64_t *p = malloc((n + 1) * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = vdb_result_pk_int(res, 0, i);
    vdb_result_free(res);
    qsort(p, n, sizeof *p, cmp_i64);
    *out = p;
    uint64_t count;
    OK(vdb_count(db, coll, filter, NULL, &count));
    assert_int_equal(count, n);
    return n;
}

/* Every filter gives the same rows on the indexed collection as on its twin; returns the
 * total of matches (so a caller sees the filters select something). */
static size_t check_all(vdb_db *db, const char *when)
{
    size_t total = 0;
    for (size_t i = 0; i < NF; i++) {
        int64_t *a, *b;
        size_t na = query_pks(db, "ix", FILTERS[i], &a);
        size_t nb = query_pks(db, "scan", FILTERS[i], &b);
        if (na != nb)
            fail_msg("%s: '%s' gives %zu rows with the index, %zu by a scan", when, FILTERS[i],
                     na, nb);
        for (size_t k = 0; k < na; k++)
            if (a[k] != b[k])
                fail_msg("%s: '%s': row %zu is pk %lld with the index, %lld by a scan", when,
                         FILTERS[i], k, (long long)a[k], (long long)b[k]);
        total += na;
        free(a);
        free(b);
    }
    return total;
}

/* The number of rows a filter selects, counted from the generator (for a few filters). */
static size_t expect_count(int64_t lo, int64_t hi, const bool *deleted, int which)
{
    size_t n = 0;
    char buf[160];
    for (int64_t id = lo; id < hi; id++) {
        if (deleted && deleted[id])
            continue;
        if (!meta_of(id, buf, sizeof buf))
            continue;
        const char *p = strstr(buf, "\"a\":{\"b\":");
        if (which == 0 && p) { /* meta["a"]["b"] > 3 */
            char *end;
            double v = strtod(p + 9, &end);
            if (end != p + 9 && v > 3)
                n++;
        } else if (which == 1) { /* meta["s"] == "x3" */
            n += strstr(buf, "\"s\":\"x3\"") != NULL;
        }
    }
    return n;
}

static void both(vdb_db *db, void (*fn)(vdb_db *, const char *, int64_t, size_t), int64_t at,
                 size_t n)
{
    fn(db, "ix", at, n);
    fn(db, "scan", at, n);
}

static void delete_some(vdb_db *db, const char *coll, int64_t first, size_t n)
{
    int64_t *pks = malloc(n * sizeof *pks);
    size_t k = 0;
    for (int64_t id = first; id < first + (int64_t)n; id++)
        if (id % 7 == 2)
            pks[k++] = id;
    OK(vdb_delete(db, coll, NULL, &(vdb_pk_list){.ints = pks, .count = k}, NULL));
    free(pks);
}

static void create_indexes(vdb_db *db)
{
    OK(vdb_create_index_named(db, "ix", "meta", "ab_num", "INVERTED",
                              "json_path=meta[\"a\"][\"b\"],json_cast_type=double"));
    OK(vdb_create_index_named(db, "ix", "meta", "s_str", "AUTOINDEX",
                              "json_path=meta[\"s\"],json_cast_type=VARCHAR"));
    OK(vdb_create_index_named(db, "ix", "meta", "f_bool", "INVERTED",
                              "json_cast_type=Bool,json_path=meta[\"f\"]"));
}

/* Every sealed row of "ix" is in the path index called name. */
static void check_indexed(vdb_db *db, const char *name)
{
    vdb_indexes *l;
    OK(vdb_describe_index_by_name(db, "ix", name, &l));
    vdb_index_info x = {.struct_size = sizeof x};
    OK(vdb_indexes_get(l, 0, &x));
    assert_true(x.total_rows > 0);
    assert_int_equal(x.indexed_rows, x.total_rows);
    vdb_indexes_free(l);
}

static void test_path_indexes_equal_a_scan(void **state)
{
    (void)state;
    char *dir = test_tmpdir("jsonidx_scan");
    vdb_db *db = open_db(dir);
    create(db, "ix");
    create(db, "scan");
    enum { N = 1200 };
    bool deleted[4 * N] = {0};
    both(db, insert, 0, N);
    OK(vdb_flush(db, NULL));
    both(db, insert, N, N);
    OK(vdb_flush(db, NULL));
    create_indexes(db);
    both(db, insert, 2 * N, N / 2); /* growing: scanned */
    assert_true(check_all(db, "sealed + growing") > 1000);

    int64_t *p;
    size_t n = query_pks(db, "ix", FILTERS[0], &p);
    free(p);
    assert_int_equal(n, expect_count(0, 2 * N + N / 2, NULL, 0));
    n = query_pks(db, "ix", "meta[\"s\"] == \"x3\"", &p);
    free(p);
    assert_int_equal(n, expect_count(0, 2 * N + N / 2, NULL, 1));

    delete_some(db, "ix", 0, 3 * N);
    delete_some(db, "scan", 0, 3 * N);
    for (int64_t id = 0; id < 3 * N; id++)
        deleted[id] = id % 7 == 2;
    check_all(db, "after deletes");
    n = query_pks(db, "ix", FILTERS[0], &p);
    free(p);
    assert_int_equal(n, expect_count(0, 2 * N + N / 2, deleted, 0));

    OK(vdb_flush(db, NULL)); /* a segment sealed after the indexes were made */
    both(db, insert, 3 * N, N / 2);
    OK(vdb_flush(db, NULL));
    check_all(db, "new sealed segments");
    OK(vdb_compact(db, "ix"));
    OK(vdb_compact(db, "scan"));
    check_all(db, "after compaction");
    check_indexed(db, "ab_num");
    vdb_close(db);

    db = open_db(dir);
    check_all(db, "after reopen");
    check_indexed(db, "s_str");
    vdb_indexes *l;
    OK(vdb_list_indexes(db, "ix", &l));
    assert_int_equal(vdb_indexes_count(l), 3);
    vdb_indexes_free(l);
    OK(vdb_drop_index_by_name(db, "ix", "s_str"));
    check_all(db, "after dropping one");
    vdb_close(db);
    db = open_db(dir);
    OK(vdb_list_indexes(db, "ix", &l));
    assert_int_equal(vdb_indexes_count(l), 2);
    vdb_indexes_free(l);
    check_all(db, "reopened after the drop");
    vdb_close(db);
    free(dir);
}

static void test_path_indexes_are_named_listed_and_dropped(void **state)
{
    (void)state;
    char *dir = test_tmpdir("jsonidx_names");
    vdb_db *db = open_db(dir);
    create(db, "ix");
    insert(db, "ix", 0, 500);
    OK(vdb_flush(db, "ix"));
    OK(vdb_create_index(db, "ix", "id", "STL_SORT", NULL));
    create_indexes(db);
    /* the same again is fine, as in Milvus; a name or a path twice is not */
    OK(vdb_create_index_named(db, "ix", "meta", "ab_num", "INVERTED",
                              "json_path=meta[\"a\"][\"b\"],json_cast_type=DOUBLE"));
    ERR(vdb_create_index_named(db, "ix", "meta", "ab_num", "INVERTED",
                               "json_path=meta[\"a\"],json_cast_type=DOUBLE"), VDB_EEXIST,
        "ab_num");
    ERR(vdb_create_index_named(db, "ix", "meta", "other", "INVERTED",
                               "json_path=meta[\"a\"][\"b\"],json_cast_type=VARCHAR"), VDB_EEXIST,
        "drop it first");
    ERR(vdb_create_index_named(db, "ix", "meta", "id", "INVERTED",
                               "json_path=meta[\"q\"],json_cast_type=VARCHAR"), VDB_EEXIST, "id");
    ERR(vdb_create_index_named(db, "ix", "vec", "f_bool", "FLAT", NULL), VDB_EEXIST,
        "f_bool");
    ERR(vdb_create_index(db, "ix", "meta", "STL_SORT",
                         "json_path=meta[\"q\"],json_cast_type=DOUBLE"), VDB_EINVAL, "INVERTED");
    ERR(vdb_create_index(db, "ix", "meta", "INVERTED", NULL), VDB_EUNSUPPORTED, "json_path");
    ERR(vdb_create_index(db, "ix", "meta", "INVERTED", "json_path=meta[\"q\"]"),
        VDB_EUNSUPPORTED, "json_cast_type");
    ERR(vdb_create_index(db, "ix", "meta", "INVERTED",
                         "json_path=meta[\"q\"],json_cast_type=ARRAY_DOUBLE"), VDB_EUNSUPPORTED,
        "ARRAY_DOUBLE");
    ERR(vdb_create_index(db, "ix", "meta", "INVERTED",
                         "json_path=meta[\"q\"],json_cast_type=INT64"), VDB_EINVAL, "INT64");
    ERR(vdb_create_index(db, "ix", "meta", "INVERTED",
                         "json_path=other[\"q\"],json_cast_type=DOUBLE"), VDB_EINVAL, "other");
    ERR(vdb_create_index(db, "ix", "meta", "INVERTED",
                         "json_path=meta[\"q\",json_cast_type=DOUBLE"), VDB_EINVAL, "json_path");
    ERR(vdb_create_index(db, "ix", "meta", "INVERTED",
                         "json_path=meta[\"q\"],json_cast_type=DOUBLE,nlist=4"), VDB_EINVAL,
        "nlist");
    ERR(vdb_create_index(db, "ix", "meta", "INVERTED",
                         "json_path=meta[\"q\"],json_cast_type=DOUBLE,"
                         "json_cast_function=STRING_TO_DOUBLE"), VDB_EUNSUPPORTED,
        "json_cast_function");

    vdb_indexes *l;
    OK(vdb_list_indexes(db, "ix", &l));
    assert_int_equal(vdb_indexes_count(l), 4);
    vdb_indexes_free(l);
    OK(vdb_describe_index_by_name(db, "ix", "s_str", &l));
    assert_int_equal(vdb_indexes_count(l), 1);
    vdb_index_info x = {.struct_size = sizeof x};
    OK(vdb_indexes_get(l, 0, &x));
    assert_string_equal(x.field, "meta");
    assert_string_equal(x.type, "INVERTED");
    assert_string_equal(x.params, "json_cast_type=VARCHAR,json_path=meta[\"s\"]");
    assert_int_equal(x.state, VDB_INDEX_FINISHED);
    assert_int_equal(x.total_rows, 500);
    assert_int_equal(x.indexed_rows, 500);
    vdb_indexes_free(l);
    const char *type;
    OK(vdb_describe_index(db, "ix", "meta", &type));
    assert_string_equal(type, "INVERTED");
    ERR(vdb_drop_index(db, "ix", "meta"), VDB_EINVAL, "by name");
    OK(vdb_drop_index_by_name(db, "ix", "ab_num"));
    OK(vdb_drop_index_by_name(db, "ix", "s_str"));
    ERR(vdb_drop_index_by_name(db, "ix", "s_str"), VDB_ENOTFOUND, "s_str");
    OK(vdb_drop_index(db, "ix", "meta")); /* the one left */
    ERR(vdb_describe_index(db, "ix", "meta", &type), VDB_ENOTFOUND, NULL);
    OK(vdb_list_indexes(db, "ix", &l));
    assert_int_equal(vdb_indexes_count(l), 1); /* id's */
    vdb_indexes_free(l);
    /* a name given back is free again */
    OK(vdb_create_index_named(db, "ix", "meta", "s_str", "INVERTED",
                              "json_path=meta[\"s\"],json_cast_type=VARCHAR"));
    vdb_close(db);
    db = open_db(dir);
    OK(vdb_describe_index_by_name(db, "ix", "s_str", &l));
    vdb_indexes_free(l);
    vdb_close(db);
    free(dir);
}

/* Below the API: an index built from one column answers for another of the same rows, so
 * the rows that come back show the index was asked (and the scan, where it cannot be). */
static void test_index_is_asked(void **state)
{
    (void)state;
    vdb_column a, b;
    vdb_column_init(&a, VDB_TYPE_JSON, 0, true);
    vdb_column_init(&b, VDB_TYPE_JSON, 0, true);
    const char *av[] = {"{\"k\":1}", "{\"k\":5}", "{\"k\":\"x\"}", "{}", "{\"k\":5.0}"};
    for (int i = 0; i < 5; i++) {
        OK(vdb_column_push(&a, av[i], strlen(av[i]), true));
        OK(vdb_column_push(&b, "{\"k\":0}", 7, true));
    }
    char *key;
    size_t len;
    OK(vdb_jpath_key("m[\"k\"]", "m", &key, &len));
    vdb_jindex *jx;
    OK(vdb_jindex_build(&a, 0, key, len, VDB_JCAST_DOUBLE, &jx));
    vdb_expr_field f = {"m", VDB_TYPE_JSON, 0, true, 0};
    vdb_expr_schema sc = {1, &f, -1};
    const vdb_column *cols[] = {&b};
    const vdb_jindex *jxs[] = {jx};
    vdb_expr_input in = {5, cols, NULL};
    struct { const char *e; uint64_t want; } cases[] = {
        {"m[\"k\"] == 5", 0x12},      /* from the index: rows 1 and 4 */
        {"m[\"k\"] > 0", 0x13},
        {"m[\"k\"] != 5", 0x01},      /* the string row is not != 5 by type: false */
        {"m[\"k\"] in [1, 5]", 0x13},
        {"not (m[\"k\"] == 1)", 0x16}, /* row 3 has no k: unknown, so not true */
        {"m[\"k\"] == 0", 0x00},
        {"m[\"k\"] == \"0\"", 0x00},   /* a string constant: scanned (b has numbers) */
        {"m[\"k\"] >= 0 and m[\"k\"] < 1", 0x00}, /* the index: no value in [0, 1) */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vdb_expr *e;
        OK(vdb_expr_parse(cases[i].e, &sc, &e));
        uint64_t out = 0;
        OK(vdb_expr_eval_json(e, &in, jxs, 1, &out));
        if (out != cases[i].want)
            fail_msg("'%s': rows %#llx, expected %#llx", cases[i].e, (unsigned long long)out,
                     (unsigned long long)cases[i].want);
        vdb_expr_free(e);
    }
    vdb_jindex_free(jx);
    /* a VARCHAR one: equality and prefixes through the trie */
    const char *sv[] = {"{\"k\":\"ab\"}", "{\"k\":\"abc\"}", "{\"k\":1}", "{}", "{\"k\":\"b\"}"};
    vdb_column_free(&a);
    vdb_column_init(&a, VDB_TYPE_JSON, 0, true);
    for (int i = 0; i < 5; i++)
        OK(vdb_column_push(&a, sv[i], strlen(sv[i]), true));
    OK(vdb_jindex_build(&a, 0, key, len, VDB_JCAST_VARCHAR, &jx));
    jxs[0] = jx;
    struct { const char *e; uint64_t want; } scases[] = {
        {"m[\"k\"] like \"ab%\"", 0x03},
        {"m[\"k\"] like \"ab\"", 0x01},
        {"not (m[\"k\"] like \"ab%\")", 0x14}, /* row 3: no k, unknown */
        {"m[\"k\"] >= \"abc\"", 0x12},
        {"m[\"k\"] in [\"b\", \"zz\"]", 0x10},
    };
    for (size_t i = 0; i < sizeof scases / sizeof scases[0]; i++) {
        vdb_expr *e;
        OK(vdb_expr_parse(scases[i].e, &sc, &e));
        uint64_t out = 0;
        OK(vdb_expr_eval_json(e, &in, jxs, 1, &out));
        if (out != scases[i].want)
            fail_msg("'%s': rows %#llx, expected %#llx", scases[i].e, (unsigned long long)out,
                     (unsigned long long)scases[i].want);
        vdb_expr_free(e);
    }
    vdb_jindex_free(jx);
    vdb_free(key);
    vdb_column_free(&a);
    vdb_column_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_is_asked),
        cmocka_unit_test(test_path_indexes_are_named_listed_and_dropped),
        cmocka_unit_test(test_path_indexes_equal_a_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

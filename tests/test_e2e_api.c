/* End-to-end tests of the public API: every call's happy path and its errors. Each error is
 * checked for its status, for a message that names the problem, and for changing nothing. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vdb/vdb.h>

#include "test_api.h"

/* ---- helpers ---------------------------------------------------------------------------- */



static const char *const STAR[] = {"*"};

static vdb_db *open_db(const char *dir)
{
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0; /* keep segment counts deterministic */
    vdb_db *db = NULL;
    vdb_status st = vdb_open(dir, &o, &db);
    if (st != VDB_OK)
        fail_msg("vdb_open(%s) -> %s: %s", dir, vdb_status_name(st), vdb_errmsg(NULL));
    return db;
}

static uint64_t row_count(vdb_db *db, const char *coll)
{
    vdb_stats s = {.struct_size = sizeof s};
    OK(vdb_collection_stats(db, coll, &s));
    return s.row_count;
}

static void add(vdb_schema *s, vdb_field_def d) { OK(vdb_schema_add_field(s, &d)); }

/* id INT64 pk, tag INT64, vec FLOAT_VECTOR(dim). */
static void create_simple(vdb_db *db, const char *name, uint32_t dim, vdb_metric metric,
                          uint32_t shards)
{
    vdb_schema *s;
    OK(vdb_schema_new(name, &s));
    add(s, *VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1));
    add(s, *VDB_FIELD(.name = "tag", .type = VDB_TYPE_INT64));
    add(s, *VDB_FIELD(.name = "vec", .type = VDB_TYPE_FLOAT_VECTOR, .dim = dim,
                      .metric = metric));
    OK(vdb_schema_set_shards(s, shards));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
}

static vdb_batch *simple_batch(const int64_t *ids, const int64_t *tags, const float *vecs,
                               size_t n, uint32_t dim)
{
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0));
    OK(vdb_batch_add_column(b, "tag", VDB_TYPE_INT64, tags, NULL, n, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vecs, NULL, n, dim));
    return b;
}

static uint64_t insert_simple(vdb_db *db, const char *coll, const char *part, const int64_t *ids,
                              const int64_t *tags, const float *vecs, size_t n, uint32_t dim)
{
    vdb_batch *b = simple_batch(ids, tags, vecs, n, dim);
    uint64_t ts = 0;
    OK(vdb_insert(db, coll, part, b, &ts, NULL));
    vdb_batch_free(b);
    assert_true(ts > 0);
    return ts;
}

static uint64_t upsert_simple(vdb_db *db, const char *coll, const int64_t *ids,
                              const int64_t *tags, const float *vecs, size_t n, uint32_t dim)
{
    vdb_batch *b = simple_batch(ids, tags, vecs, n, dim);
    uint64_t ts = 0;
    OK(vdb_upsert(db, coll, NULL, b, &ts, NULL));
    vdb_batch_free(b);
    return ts;
}

static void rand_vecs(float *v, size_t n, uint64_t *seed)
{
    for (size_t i = 0; i < n; i++)
        v[i] = test_randf(seed);
}

/* Row index of id in group g of res, or -1. */
static long find_row(const vdb_result *res, size_t g, int64_t id)
{
    for (size_t i = 0; i < vdb_result_rows(res, g); i++)
        if (vdb_result_pk_int(res, g, i) == id)
            return (long)i;
    return -1;
}

static size_t get_rows(vdb_db *db, const char *coll, const int64_t *ids, size_t n,
                       const vdb_read_opts *ro)
{
    vdb_result *r;
    OK(vdb_get(db, coll, &(vdb_pk_list){.ints = ids, .count = n}, ro, &r));
    size_t rows = vdb_result_rows(r, 0);
    vdb_result_free(r);
    return rows;
}

static int64_t field_i64(const vdb_result *r, size_t g, size_t row, const char *f)
{
    vdb_value v;
    OK(vdb_result_field(r, g, row, f, &v));
    assert_false(v.is_null);
    return v.u.i64;
}

static void assert_str(const vdb_value *v, const char *want)
{
    assert_false(v->is_null);
    if (v->u.str.len != strlen(want) || memcmp(v->u.str.ptr, want, v->u.str.len) != 0)
        fail_msg("got '%.*s', expected '%s'", (int)v->u.str.len, v->u.str.ptr, want);
}

static void assert_names(const vdb_names *n, const char *const *want, size_t count)
{
    assert_int_equal(n->count, count);
    for (size_t i = 0; i < count; i++)
        assert_string_equal(n->names[i], want[i]);
}

static void assert_collections(vdb_db *db, const char *const *want, size_t count)
{
    vdb_names *n;
    OK(vdb_list_collections(db, &n));
    assert_names(n, want, count);
    vdb_names_free(n);
}

static void assert_partitions(vdb_db *db, const char *coll, const char *const *want,
                              size_t count)
{
    vdb_names *n;
    OK(vdb_list_partitions(db, coll, &n));
    assert_names(n, want, count);
    vdb_names_free(n);
}

/* ---- version, options, open ------------------------------------------------------------- */

static void test_version_and_option_defaults(void **state)
{
    (void)state;
    assert_string_equal(vdb_version(), VDB_VERSION_STRING);
    assert_int_equal(vdb_version_number(), VDB_VERSION_NUMBER);
    assert_int_equal(vdb_version_number(),
                     VDB_VERSION_MAJOR * 10000 + VDB_VERSION_MINOR * 100 + VDB_VERSION_PATCH);
    vdb_options o;
    memset(&o, 0xAB, sizeof o);
    vdb_options_init(&o);
    assert_int_equal(o.struct_size, sizeof o);
    assert_int_equal(o.sync, VDB_SYNC_FULL);
    assert_int_equal(o.sync_interval_ms, 100);
    assert_int_equal(o.segment_max_rows, 1u << 20);
    assert_int_equal(o.segment_max_bytes, 512u << 20);
    assert_int_equal(o.retention_seconds, 432000);
    assert_int_equal(o.compaction_interval_ms, 60000);
    assert_int_equal(o.compaction_min_segments, 4);
    assert_null(o.log_uri);
    assert_null(o.meta_uri);
    assert_null(o.object_uri);
    assert_int_equal(o.disable_io_uring, 0);
    assert_string_equal(vdb_status_name(VDB_ELOCKED), "VDB_ELOCKED");
    assert_string_equal(vdb_type_name(VDB_TYPE_INT64), "INT64");
    assert_string_equal(vdb_metric_name(VDB_METRIC_COSINE), "COSINE");
}

static void test_open_rejects_bad_options(void **state)
{
    (void)state;
    char *dir = test_tmpdir("api_badopts");
    vdb_db *db = (vdb_db *)0x1;
    vdb_options o;
    vdb_options_init(&o);
    o.struct_size = 0;
    ERR(vdb_open(dir, &o, &db), VDB_EINVAL, "struct_size");
    assert_null(db);
    vdb_options_init(&o);
    o.sync = (vdb_sync_mode)99;
    ERR(vdb_open(dir, &o, &db), VDB_EINVAL, "sync");
    assert_null(db);
    ERR(vdb_open(NULL, NULL, &db), VDB_EINVAL, "path");
    ERR(vdb_open(dir, NULL, NULL), VDB_EINVAL, "out");
    /* nothing was left locked: a good open works, with defaults (opts NULL) */
    OK(vdb_open(dir, NULL, &db));
    assert_non_null(db);
    vdb_names *n;
    OK(vdb_list_collections(db, &n));
    assert_int_equal(n->count, 0);
    vdb_names_free(n);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_open_same_folder_twice_is_locked(void **state)
{
    (void)state;
    char *dir = test_tmpdir("api_lock");
    vdb_db *db = open_db(dir);
    create_simple(db, "c", 4, VDB_METRIC_L2, 1);
    vdb_db *db2 = (vdb_db *)0x1;
    ERR(vdb_open(dir, NULL, &db2), VDB_ELOCKED, "locked");
    assert_null(db2);
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    assert_non_null(strstr(vdb_errmsg(NULL), pid)); /* names the holder */
    /* the first handle is unharmed */
    int exists = 0;
    OK(vdb_has_collection(db, "c", &exists));
    assert_int_equal(exists, 1);
    vdb_close(db);
    /* after close the folder opens again */
    db = open_db(dir);
    OK(vdb_has_collection(db, "c", &exists));
    assert_int_equal(exists, 1);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_open_newer_format_is_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("api_format");
    char path[4200];
    snprintf(path, sizeof path, "%s/FORMAT", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("libvdb-format 99\n", f);
    fclose(f);
    vdb_db *db = (vdb_db *)0x1;
    ERR(vdb_open(dir, NULL, &db), VDB_EVERSION, "99");
    assert_null(db);
    /* the refused open did not rewrite FORMAT */
    f = fopen(path, "r");
    assert_non_null(f);
    char line[64] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, "libvdb-format 99\n");
    /* and did not keep the lock: a second attempt reports the version again, not a lock */
    ERR(vdb_open(dir, NULL, &db), VDB_EVERSION, NULL);
    test_rmdir(dir);
    free(dir);
}

/* ---- schemas and collections ---------------------------------------------------------- */

static void test_schema_rejects_bad_fields(void **state)
{
    (void)state;
    vdb_schema *s = (vdb_schema *)0x1;
    ERR(vdb_schema_new("1abc", &s), VDB_EINVAL, "1abc");
    assert_null(s);
    ERR(vdb_schema_new("", &s), VDB_EINVAL, "invalid");
    ERR(vdb_schema_new("a-b", &s), VDB_EINVAL, "a-b");
    ERR(vdb_schema_new(NULL, &s), VDB_EINVAL, NULL);
    ERR(vdb_schema_new("ok", NULL), VDB_EINVAL, "out");
    char longname[300];
    memset(longname, 'a', 256);
    longname[256] = 0;
    ERR(vdb_schema_new(longname, &s), VDB_EINVAL, "invalid");
    longname[255] = 0;
    OK(vdb_schema_new(longname, &s));
    assert_string_equal(vdb_schema_name(s), longname);
    vdb_schema_free(s);

    OK(vdb_schema_new("c", &s));
    add(s, *VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1));
    add(s, *VDB_FIELD(.name = "dup", .type = VDB_TYPE_INT32));
    size_t n0 = vdb_schema_field_count(s);
    assert_int_equal(n0, 2);

    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "bad name", .type = VDB_TYPE_INT32)),
        VDB_EINVAL, "bad name");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "9x", .type = VDB_TYPE_INT32)),
        VDB_EINVAL, "9x");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = NULL, .type = VDB_TYPE_INT32)),
        VDB_EINVAL, NULL);
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "dup", .type = VDB_TYPE_INT64)),
        VDB_EEXIST, "dup");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "id2", .type = VDB_TYPE_INT64,
                                          .is_primary = 1)),
        VDB_EINVAL, "id2");
    assert_non_null(strstr(vdb_errmsg(NULL), "primary"));
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "x", .type = (vdb_type)77)),
        VDB_EINVAL, "x");
    ERR(vdb_schema_add_field(s, NULL), VDB_EINVAL, NULL);
    ERR(vdb_schema_add_field(NULL, VDB_FIELD(.name = "x", .type = VDB_TYPE_INT32)),
        VDB_EINVAL, NULL);
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "vec0", .type = VDB_TYPE_FLOAT_VECTOR,
                                          .dim = 0)),
        VDB_EINVAL, "vec0");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "vecbig",
                                          .type = VDB_TYPE_FLOAT_VECTOR, .dim = 40000)),
        VDB_EINVAL, "vecbig");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "vecnull",
                                          .type = VDB_TYPE_FLOAT_VECTOR, .dim = 4,
                                          .nullable = 1)),
        VDB_EINVAL, "vecnull");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "vecm", .type = VDB_TYPE_FLOAT_VECTOR,
                                          .dim = 4, .metric = (vdb_metric)9)),
        VDB_EINVAL, "vecm");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "str0", .type = VDB_TYPE_VARCHAR,
                                          .max_length = 0)),
        VDB_EINVAL, "str0");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "arr0", .type = VDB_TYPE_ARRAY,
                                          .element_type = VDB_TYPE_INT32)),
        VDB_EINVAL, "arr0");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "arrj", .type = VDB_TYPE_ARRAY,
                                          .element_type = VDB_TYPE_JSON,
                                          .max_capacity = 4)),
        VDB_EINVAL, "arrj");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "small", .type = VDB_TYPE_INT8,
                                          .default_json = "300")),
        VDB_EINVAL, "small");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "num", .type = VDB_TYPE_INT32,
                                          .default_json = "\"x\"")),
        VDB_EINVAL, "num");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "notid", .type = VDB_TYPE_INT32,
                                          .auto_id = 1)),
        VDB_EINVAL, "notid");
    assert_int_equal(vdb_schema_field_count(s), n0);
    vdb_schema_free(s);

    /* primary key constraints, on a schema without one */
    OK(vdb_schema_new("c", &s));
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "fpk", .type = VDB_TYPE_FLOAT,
                                          .is_primary = 1)),
        VDB_EINVAL, "fpk");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "vpk", .type = VDB_TYPE_VARCHAR,
                                          .max_length = 8, .is_primary = 1,
                                          .auto_id = 1)),
        VDB_EINVAL, "vpk");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "npk", .type = VDB_TYPE_INT64,
                                          .is_primary = 1, .nullable = 1)),
        VDB_EINVAL, "npk");
    assert_int_equal(vdb_schema_field_count(s), 0);
    ERR(vdb_schema_set_shards(s, 0), VDB_EINVAL, "shards");
    ERR(vdb_schema_set_shards(s, 65), VDB_EINVAL, "shards");
    assert_int_equal(vdb_schema_shards(s), 1);
    vdb_schema_free(s);
}

/* A message that wraps another one (a default that does not fit, a replay error) must keep
 * the inner reason readable: it names the field and says why. */
static void test_error_messages_keep_the_reason(void **state)
{
    (void)state;
    vdb_schema *s;
    OK(vdb_schema_new("c", &s));
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "small", .type = VDB_TYPE_INT8,
                                          .default_json = "300")),
        VDB_EINVAL, "small");
    const char *m = vdb_errmsg(NULL);
    if (!strstr(m, "out of range") || strstr(strstr(m, "does not fit") + 1, "does not fit"))
        fail_msg("message does not give the reason once: '%s'", m);
    vdb_schema_free(s);
}

static void test_collections_create_describe_list_drop(void **state)
{
    (void)state;
    char *dir = test_tmpdir("api_coll");
    vdb_db *db = open_db(dir);
    vdb_schema *s;

    /* no vector field / no primary key: refused at create_collection */
    OK(vdb_schema_new("novec", &s));
    add(s, *VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1));
    ERR(vdb_create_collection(db, s), VDB_EINVAL, "novec");
    assert_non_null(strstr(vdb_errmsg(NULL), "vector"));
    vdb_schema_free(s);
    OK(vdb_schema_new("nopk", &s));
    add(s, *VDB_FIELD(.name = "v", .type = VDB_TYPE_FLOAT_VECTOR, .dim = 4));
    ERR(vdb_create_collection(db, s), VDB_EINVAL, "nopk");
    assert_non_null(strstr(vdb_errmsg(NULL), "primary"));
    vdb_schema_free(s);
    ERR(vdb_create_collection(db, NULL), VDB_EINVAL, NULL);
    assert_collections(db, NULL, 0);

    /* a rich schema described back field by field */
    OK(vdb_schema_new("zeta", &s));
    add(s, *VDB_FIELD(.name = "pk", .type = VDB_TYPE_VARCHAR, .max_length = 40,
                      .is_primary = 1, .description = "the key"));
    add(s, *VDB_FIELD(.name = "year", .type = VDB_TYPE_INT32, .default_json = "2024"));
    add(s, *VDB_FIELD(.name = "note", .type = VDB_TYPE_VARCHAR, .max_length = 100,
                      .nullable = 1));
    add(s, *VDB_FIELD(.name = "tags", .type = VDB_TYPE_ARRAY,
                      .element_type = VDB_TYPE_VARCHAR, .max_capacity = 5,
                      .max_length = 12));
    add(s, *VDB_FIELD(.name = "info", .type = VDB_TYPE_JSON));
    add(s, *VDB_FIELD(.name = "emb", .type = VDB_TYPE_FLOAT_VECTOR, .dim = 16,
                      .metric = VDB_METRIC_COSINE));
    add(s, *VDB_FIELD(.name = "emb2", .type = VDB_TYPE_FLOAT_VECTOR, .dim = 3));
    OK(vdb_schema_set_dynamic(s, 1));
    OK(vdb_schema_set_shards(s, 3));
    OK(vdb_schema_set_description(s, "test collection"));
    OK(vdb_create_collection(db, s));
    ERR(vdb_create_collection(db, s), VDB_EEXIST, "zeta");

    vdb_schema *d;
    OK(vdb_describe_collection(db, "zeta", &d));
    assert_string_equal(vdb_schema_name(d), "zeta");
    assert_int_equal(vdb_schema_field_count(d), vdb_schema_field_count(s));
    assert_int_equal(vdb_schema_dynamic(d), 1);
    assert_int_equal(vdb_schema_shards(d), 3);
    for (size_t i = 0; i < vdb_schema_field_count(s); i++) {
        vdb_field_def a = {.struct_size = sizeof a}, b = {.struct_size = sizeof b};
        OK(vdb_schema_field(s, i, &a));
        OK(vdb_schema_field(d, i, &b));
        assert_string_equal(a.name, b.name);
        assert_int_equal(a.type, b.type);
        assert_int_equal(a.element_type, b.element_type);
        assert_int_equal(a.dim, b.dim);
        assert_int_equal(a.max_length, b.max_length);
        assert_int_equal(a.max_capacity, b.max_capacity);
        assert_int_equal(!!a.is_primary, !!b.is_primary);
        assert_int_equal(!!a.auto_id, !!b.auto_id);
        assert_int_equal(!!a.nullable, !!b.nullable);
        if (a.default_json)
            assert_string_equal(a.default_json, b.default_json);
        else
            assert_null(b.default_json);
        if (a.description)
            assert_string_equal(a.description, b.description);
    }
    vdb_field_def f = {.struct_size = sizeof f};
    OK(vdb_schema_field(d, 6, &f));
    assert_int_equal(f.metric, VDB_METRIC_L2); /* default metric */
    OK(vdb_schema_field(d, 5, &f));
    assert_int_equal(f.metric, VDB_METRIC_COSINE);
    ERR(vdb_schema_field(d, 7, &f), VDB_ENOTFOUND, NULL);
    vdb_schema_free(d);
    vdb_schema_free(s);

    create_simple(db, "alpha", 4, VDB_METRIC_L2, 1);
    create_simple(db, "mid", 4, VDB_METRIC_L2, 1);
    const char *all[] = {"alpha", "mid", "zeta"};
    assert_collections(db, all, 3);
    int ex = -1;
    OK(vdb_has_collection(db, "mid", &ex));
    assert_int_equal(ex, 1);
    OK(vdb_has_collection(db, "nope", &ex));
    assert_int_equal(ex, 0);
    ERR(vdb_has_collection(db, "mid", NULL), VDB_EINVAL, NULL);
    ERR(vdb_describe_collection(db, "nope", &d), VDB_ENOTFOUND, "nope");
    ERR(vdb_describe_collection(db, "mid", NULL), VDB_EINVAL, NULL);
    ERR(vdb_drop_collection(db, "nope"), VDB_ENOTFOUND, "nope");
    assert_collections(db, all, 3);

    /* drop mid: gone, the others stay; it can be created again, empty */
    float v[4] = {1, 2, 3, 4};
    insert_simple(db, "mid", NULL, (int64_t[]){1}, (int64_t[]){1}, v, 1, 4);
    OK(vdb_drop_collection(db, "mid"));
    OK(vdb_has_collection(db, "mid", &ex));
    assert_int_equal(ex, 0);
    const char *two[] = {"alpha", "zeta"};
    assert_collections(db, two, 2);
    vdb_stats st = {.struct_size = sizeof st};
    ERR(vdb_collection_stats(db, "mid", &st), VDB_ENOTFOUND, "mid");
    create_simple(db, "mid", 4, VDB_METRIC_L2, 1);
    assert_int_equal(row_count(db, "mid"), 0);
    assert_int_equal(get_rows(db, "mid", (int64_t[]){1}, 1, NULL), 0);

    /* all of it survives a reopen */
    vdb_close(db);
    db = open_db(dir);
    assert_collections(db, all, 3);
    OK(vdb_describe_collection(db, "zeta", &d));
    assert_int_equal(vdb_schema_field_count(d), 7);
    assert_int_equal(vdb_schema_shards(d), 3);
    vdb_schema_free(d);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* ---- partitions --------------------------------------------------------------------------- */

static void test_partitions_create_list_drop_and_errors(void **state)
{
    (void)state;
    enum { D = 4 };
    char *dir = test_tmpdir("api_parts");
    vdb_db *db = open_db(dir);
    create_simple(db, "c", D, VDB_METRIC_L2, 1);
    const char *def[] = {"_default"};
    assert_partitions(db, "c", def, 1);

    OK(vdb_create_partition(db, "c", "p1"));
    ERR(vdb_create_partition(db, "c", "p1"), VDB_EEXIST, "p1");
    ERR(vdb_create_partition(db, "c", "_default"), VDB_EEXIST, "_default");
    ERR(vdb_create_partition(db, "c", "1bad"), VDB_EINVAL, "1bad");
    ERR(vdb_create_partition(db, "nope", "p2"), VDB_ENOTFOUND, "nope");
    ERR(vdb_drop_partition(db, "c", "_default"), VDB_EINVAL, "_default");
    ERR(vdb_drop_partition(db, "c", "zz"), VDB_ENOTFOUND, "zz");
    ERR(vdb_list_partitions(db, "nope", &(vdb_names *){NULL}), VDB_ENOTFOUND, "nope");
    /* an out pointer holding garbage is set to NULL, never freed */
    vdb_names *junk = (vdb_names *)(uintptr_t)0x1;
    ERR(vdb_list_partitions(db, "nope", &junk), VDB_ENOTFOUND, "nope");
    assert_null(junk);
    const char *both[] = {"_default", "p1"};
    assert_partitions(db, "c", both, 2);

    uint64_t seed = 7;
    float v[20 * D];
    rand_vecs(v, 20 * D, &seed);
    int64_t ids_d[10], ids_p[10], tags[10];
    for (int i = 0; i < 10; i++) {
        ids_d[i] = i;
        ids_p[i] = 100 + i;
        tags[i] = i;
    }
    insert_simple(db, "c", NULL, ids_d, tags, v, 10, D);
    insert_simple(db, "c", "p1", ids_p, tags, v + 10 * D, 5, D);
    OK(vdb_flush(db, "c")); /* p1's first rows sealed, the rest growing */
    insert_simple(db, "c", "p1", ids_p + 5, tags + 5, v + 15 * D, 5, D);
    assert_int_equal(row_count(db, "c"), 20);

    /* unknown partition on insert, search, get, delete */
    vdb_batch *b = simple_batch(ids_d, tags, v, 1, D);
    ERR(vdb_insert(db, "c", "nope", b, NULL, NULL), VDB_ENOTFOUND, "nope");
    vdb_batch_free(b);
    const char *nope[] = {"nope"};
    vdb_search_req req = {.struct_size = sizeof req, .collection = "c", .vectors = v, .nq = 1,
                          .dim = D, .k = 50,
                          .read = {.partitions = nope, .n_partitions = 1}};
    vdb_result *r = NULL;
    ERR(vdb_search(db, &req, &r), VDB_ENOTFOUND, "nope");
    assert_null(r);
    vdb_read_opts ro = {.struct_size = sizeof ro, .partitions = nope, .n_partitions = 1};
    ERR(vdb_get(db, "c", &(vdb_pk_list){.ints = ids_d, .count = 1}, &ro, &r), VDB_ENOTFOUND,
        "nope");
    ERR(vdb_delete(db, "c", "nope", &(vdb_pk_list){.ints = ids_d, .count = 1}, NULL),
        VDB_ENOTFOUND, "nope");
    assert_int_equal(row_count(db, "c"), 20);

    /* search naming a partition sees only its rows */
    const char *p1[] = {"p1"}, *pd[] = {"_default"};
    req.read.partitions = p1;
    OK(vdb_search(db, &req, &r));
    assert_int_equal(vdb_result_rows(r, 0), 10);
    for (size_t i = 0; i < 10; i++)
        assert_true(vdb_result_pk_int(r, 0, i) >= 100);
    vdb_result_free(r);
    req.read.partitions = pd;
    OK(vdb_search(db, &req, &r));
    assert_int_equal(vdb_result_rows(r, 0), 10);
    for (size_t i = 0; i < 10; i++)
        assert_true(vdb_result_pk_int(r, 0, i) < 10);
    vdb_result_free(r);
    ro.partitions = pd;
    assert_int_equal(get_rows(db, "c", ids_p, 10, &ro), 0);
    assert_int_equal(get_rows(db, "c", ids_d, 10, &ro), 10);

    /* delete restricted to a partition touches only that partition */
    OK(vdb_delete(db, "c", "p1", &(vdb_pk_list){.ints = (int64_t[]){3, 103, 107}, .count = 3},
                  NULL));
    assert_int_equal(row_count(db, "c"), 18);
    assert_int_equal(get_rows(db, "c", (int64_t[]){3}, 1, NULL), 1);
    assert_int_equal(get_rows(db, "c", (int64_t[]){103, 107}, 2, NULL), 0);

    /* dropping p1 removes its rows (sealed and growing) from search and get */
    OK(vdb_drop_partition(db, "c", "p1"));
    assert_partitions(db, "c", def, 1);
    assert_int_equal(row_count(db, "c"), 10);
    assert_int_equal(get_rows(db, "c", ids_p, 10, NULL), 0);
    req.read.partitions = NULL;
    req.read.n_partitions = 0;
    OK(vdb_search(db, &req, &r));
    assert_int_equal(vdb_result_rows(r, 0), 10);
    for (size_t i = 0; i < 10; i++)
        assert_true(vdb_result_pk_int(r, 0, i) < 10);
    vdb_result_free(r);
    req.read.partitions = p1;
    req.read.n_partitions = 1;
    ERR(vdb_search(db, &req, &r), VDB_ENOTFOUND, "p1");

    /* and stays dropped after reopen (replay must not bring p1's rows back) */
    vdb_close(db);
    db = open_db(dir);
    assert_partitions(db, "c", def, 1);
    assert_int_equal(row_count(db, "c"), 10);
    assert_int_equal(get_rows(db, "c", ids_p, 10, NULL), 0);
    /* a partition of the same name is new and empty */
    OK(vdb_create_partition(db, "c", "p1"));
    ro.partitions = p1;
    assert_int_equal(get_rows(db, "c", ids_p, 10, &ro), 0);
    assert_int_equal(row_count(db, "c"), 10);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* ---- inserts and reading values back ------------------------------------------------------ */

static void test_insert_every_scalar_type_reads_back_exactly(void **state)
{
    (void)state;
    char *dir = test_tmpdir("api_types");
    vdb_db *db = open_db(dir);
    vdb_schema *s;
    OK(vdb_schema_new("t", &s));
    add(s, *VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1));
    add(s, *VDB_FIELD(.name = "b", .type = VDB_TYPE_BOOL));
    add(s, *VDB_FIELD(.name = "i8", .type = VDB_TYPE_INT8));
    add(s, *VDB_FIELD(.name = "i16", .type = VDB_TYPE_INT16));
    add(s, *VDB_FIELD(.name = "i32", .type = VDB_TYPE_INT32));
    add(s, *VDB_FIELD(.name = "i64", .type = VDB_TYPE_INT64));
    add(s, *VDB_FIELD(.name = "f", .type = VDB_TYPE_FLOAT));
    add(s, *VDB_FIELD(.name = "d", .type = VDB_TYPE_DOUBLE));
    add(s, *VDB_FIELD(.name = "s", .type = VDB_TYPE_VARCHAR, .max_length = 16));
    add(s, *VDB_FIELD(.name = "j", .type = VDB_TYPE_JSON));
    add(s, *VDB_FIELD(.name = "ai", .type = VDB_TYPE_ARRAY,
                      .element_type = VDB_TYPE_INT32, .max_capacity = 4));
    add(s, *VDB_FIELD(.name = "as", .type = VDB_TYPE_ARRAY,
                      .element_type = VDB_TYPE_VARCHAR, .max_capacity = 3,
                      .max_length = 8));
    add(s, *VDB_FIELD(.name = "vec", .type = VDB_TYPE_FLOAT_VECTOR, .dim = 3));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);

    enum { N = 3 };
    int64_t id[N] = {10, 20, 30};
    uint8_t bo[N] = {1, 0, 1};
    int8_t i8[N] = {-128, 127, 0};
    int16_t i16[N] = {-32768, 32767, 5};
    int32_t i32[N] = {INT32_MIN, INT32_MAX, -7};
    int64_t i64[N] = {INT64_MIN, INT64_MAX, 1234567890123LL};
    float fl[N] = {1.5f, -0.1f, 3.0e38f};
    double db_[N] = {1e300, -2.5e-300, 0.1};
    const char *str[N] = {"", "hello", "héllo wörld"}; /* 13 bytes in UTF-8 */
    const char *js[N] = {"{\"a\":[1,2,{\"b\":null}],\"c\":\"x\"}", "42", "[true,false,null]"};
    const char *ai[N] = {"[1,2,3,4]", "[]", "[-2147483648,2147483647]"};
    const char *as[N] = {"[\"a\",\"bb\"]", "[\"12345678\"]", "[]"};
    float vec[N * 3] = {1, 2, 3, -1, -2, -3, 0.5f, 0.25f, 0.125f};
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, id, NULL, N, 0));
    OK(vdb_batch_add_column(b, "b", VDB_TYPE_BOOL, bo, NULL, N, 0));
    OK(vdb_batch_add_column(b, "i8", VDB_TYPE_INT8, i8, NULL, N, 0));
    OK(vdb_batch_add_column(b, "i16", VDB_TYPE_INT16, i16, NULL, N, 0));
    OK(vdb_batch_add_column(b, "i32", VDB_TYPE_INT32, i32, NULL, N, 0));
    OK(vdb_batch_add_column(b, "i64", VDB_TYPE_INT64, i64, NULL, N, 0));
    OK(vdb_batch_add_column(b, "f", VDB_TYPE_FLOAT, fl, NULL, N, 0));
    OK(vdb_batch_add_column(b, "d", VDB_TYPE_DOUBLE, db_, NULL, N, 0));
    OK(vdb_batch_add_column(b, "s", VDB_TYPE_VARCHAR, str, NULL, N, 0));
    OK(vdb_batch_add_column(b, "j", VDB_TYPE_JSON, js, NULL, N, 0));
    OK(vdb_batch_add_column(b, "ai", VDB_TYPE_ARRAY, ai, NULL, N, 0));
    OK(vdb_batch_add_column(b, "as", VDB_TYPE_ARRAY, as, NULL, N, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vec, NULL, N, 3));
    assert_int_equal(vdb_batch_rows(b), N);
    uint64_t ts;
    vdb_result *pks;
    OK(vdb_insert(db, "t", NULL, b, &ts, &pks));
    vdb_batch_free(b);
    assert_int_equal(vdb_result_groups(pks), 1);
    assert_int_equal(vdb_result_rows(pks, 0), N);
    assert_int_equal(vdb_result_pk_type(pks), VDB_TYPE_INT64);
    assert_int_equal(vdb_result_timestamp(pks), ts);
    for (int i = 0; i < N; i++)
        assert_int_equal(vdb_result_pk_int(pks, 0, (size_t)i), id[i]);
    vdb_result_free(pks);

    for (int pass = 0; pass < 3; pass++) { /* growing, sealed, reopened */
        vdb_result *r;
        vdb_read_opts ro = {.struct_size = sizeof ro, .output_fields = STAR, .n_output_fields = 1};
        /* asked in reverse order: rows come back in the order of the keys */
        int64_t keys[N] = {30, 20, 10};
        OK(vdb_get(db, "t", &(vdb_pk_list){.ints = keys, .count = N}, &ro, &r));
        assert_int_equal(vdb_result_rows(r, 0), N);
        for (int k = 0; k < N; k++) {
            int i = N - 1 - k;
            vdb_value v;
            assert_int_equal(vdb_result_pk_int(r, 0, (size_t)k), id[i]);
            OK(vdb_result_field(r, 0, (size_t)k, "id", &v));
            assert_int_equal(v.u.i64, id[i]);
            OK(vdb_result_field(r, 0, (size_t)k, "b", &v));
            assert_int_equal(v.type, VDB_TYPE_BOOL);
            assert_int_equal(v.u.i64, bo[i]);
            assert_int_equal(field_i64(r, 0, (size_t)k, "i8"), i8[i]);
            assert_int_equal(field_i64(r, 0, (size_t)k, "i16"), i16[i]);
            assert_int_equal(field_i64(r, 0, (size_t)k, "i32"), i32[i]);
            assert_true(field_i64(r, 0, (size_t)k, "i64") == i64[i]);
            OK(vdb_result_field(r, 0, (size_t)k, "f", &v));
            assert_int_equal(v.type, VDB_TYPE_FLOAT);
            assert_true(v.u.f64 == (double)fl[i]);
            OK(vdb_result_field(r, 0, (size_t)k, "d", &v));
            assert_true(v.u.f64 == db_[i]);
            OK(vdb_result_field(r, 0, (size_t)k, "s", &v));
            assert_int_equal(v.type, VDB_TYPE_VARCHAR);
            assert_str(&v, str[i]);
            OK(vdb_result_field(r, 0, (size_t)k, "j", &v));
            assert_int_equal(v.type, VDB_TYPE_JSON);
            assert_str(&v, js[i]);
            OK(vdb_result_field(r, 0, (size_t)k, "ai", &v));
            assert_int_equal(v.type, VDB_TYPE_ARRAY);
            assert_str(&v, ai[i]);
            OK(vdb_result_field(r, 0, (size_t)k, "as", &v));
            assert_str(&v, as[i]);
            OK(vdb_result_field(r, 0, (size_t)k, "vec", &v));
            assert_int_equal(v.type, VDB_TYPE_FLOAT_VECTOR);
            assert_int_equal(v.u.vec.dim, 3);
            assert_memory_equal(v.u.vec.ptr, &vec[i * 3], 3 * sizeof(float));
        }
        vdb_value v;
        ERR(vdb_result_field(r, 0, 0, "nosuch", &v), VDB_ENOTFOUND, "nosuch");
        ERR(vdb_result_field(r, 0, N, "i8", &v), VDB_ERANGE, NULL);
        ERR(vdb_result_field(r, 0, 0, "i8", NULL), VDB_EINVAL, NULL);
        vdb_result_free(r);
        /* without output fields, no field values */
        OK(vdb_get(db, "t", &(vdb_pk_list){.ints = keys, .count = 1}, NULL, &r));
        ERR(vdb_result_field(r, 0, 0, "i8", &v), VDB_ENOTFOUND, "i8");
        vdb_result_free(r);
        /* an unknown output field is refused */
        const char *bad[] = {"nosuch"};
        ro.output_fields = bad;
        ERR(vdb_get(db, "t", &(vdb_pk_list){.ints = keys, .count = 1}, &ro, &r),
            VDB_EINVAL, "nosuch");
        if (pass == 0)
            OK(vdb_flush(db, "t"));
        if (pass == 1) {
            vdb_close(db);
            db = open_db(dir);
        }
    }
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_nullable_fields_and_defaults(void **state)
{
    (void)state;
    char *dir = test_tmpdir("api_null");
    vdb_db *db = open_db(dir);
    vdb_schema *s;
    OK(vdb_schema_new("n", &s));
    add(s, *VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1));
    add(s, *VDB_FIELD(.name = "opt", .type = VDB_TYPE_INT32, .nullable = 1));
    add(s, *VDB_FIELD(.name = "ostr", .type = VDB_TYPE_VARCHAR, .max_length = 8,
                      .nullable = 1));
    add(s, *VDB_FIELD(.name = "year", .type = VDB_TYPE_INT32, .default_json = "2024"));
    add(s, *VDB_FIELD(.name = "label", .type = VDB_TYPE_VARCHAR, .max_length = 8,
                      .default_json = "\"abc\""));
    add(s, *VDB_FIELD(.name = "flag", .type = VDB_TYPE_BOOL, .default_json = "true"));
    add(s, *VDB_FIELD(.name = "score", .type = VDB_TYPE_DOUBLE, .nullable = 1,
                      .default_json = "0.5"));
    add(s, *VDB_FIELD(.name = "vec", .type = VDB_TYPE_FLOAT_VECTOR, .dim = 2));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);

    float vec[6] = {1, 0, 0, 1, 1, 1};
    /* batch 1: NULLs given through valid arrays */
    int64_t id1[3] = {1, 2, 3};
    int32_t opt[3] = {11, 999, 33};
    uint8_t opt_ok[3] = {1, 0, 1};
    const char *ostr[3] = {"x", NULL, "zz"};
    uint8_t ostr_ok[3] = {1, 0, 1};
    int32_t year[3] = {1999, 2000, 2001};
    uint8_t year_ok[3] = {0, 1, 1};
    const char *label[3] = {"l1", "l2", "l3"};
    uint8_t label_ok[3] = {1, 1, 0};
    double score[3] = {9, 8, 7};
    uint8_t score_ok[3] = {0, 1, 1};
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, id1, NULL, 3, 0));
    OK(vdb_batch_add_column(b, "opt", VDB_TYPE_INT32, opt, opt_ok, 3, 0));
    OK(vdb_batch_add_column(b, "ostr", VDB_TYPE_VARCHAR, ostr, ostr_ok, 3, 0));
    OK(vdb_batch_add_column(b, "year", VDB_TYPE_INT32, year, year_ok, 3, 0));
    OK(vdb_batch_add_column(b, "label", VDB_TYPE_VARCHAR, label, label_ok, 3, 0));
    OK(vdb_batch_add_column(b, "score", VDB_TYPE_DOUBLE, score, score_ok, 3, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vec, NULL, 3, 2));
    OK(vdb_insert(db, "n", NULL, b, NULL, NULL));
    vdb_batch_free(b);
    /* batch 2: every optional column missing */
    int64_t id2[2] = {4, 5};
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, id2, NULL, 2, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vec, NULL, 2, 2));
    OK(vdb_insert(db, "n", NULL, b, NULL, NULL));
    vdb_batch_free(b);
    assert_int_equal(row_count(db, "n"), 5);

    vdb_result *r;
    vdb_read_opts ro = {.struct_size = sizeof ro, .output_fields = STAR, .n_output_fields = 1};
    int64_t keys[5] = {1, 2, 3, 4, 5};
    OK(vdb_get(db, "n", &(vdb_pk_list){.ints = keys, .count = 5}, &ro, &r));
    assert_int_equal(vdb_result_rows(r, 0), 5);
    vdb_value v;
    /* opt: 11, NULL, 33, NULL, NULL */
    const int opt_null[5] = {0, 1, 0, 1, 1};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(vdb_result_pk_int(r, 0, i), keys[i]);
        OK(vdb_result_field(r, 0, i, "opt", &v));
        assert_int_equal(v.is_null, opt_null[i]);
        OK(vdb_result_field(r, 0, i, "ostr", &v));
        assert_int_equal(v.is_null, opt_null[i]);
    }
    OK(vdb_result_field(r, 0, 0, "opt", &v));
    assert_int_equal(v.u.i64, 11);
    OK(vdb_result_field(r, 0, 2, "opt", &v));
    assert_int_equal(v.u.i64, 33);
    OK(vdb_result_field(r, 0, 2, "ostr", &v));
    assert_str(&v, "zz");
    /* year: NULL -> default 2024, 2000, 2001, missing -> 2024 x2 */
    const int64_t want_year[5] = {2024, 2000, 2001, 2024, 2024};
    const char *want_label[5] = {"l1", "l2", "abc", "abc", "abc"};
    const double want_score[5] = {0.5, 8, 7, 0.5, 0.5};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(field_i64(r, 0, i, "year"), want_year[i]);
        OK(vdb_result_field(r, 0, i, "label", &v));
        assert_str(&v, want_label[i]);
        assert_int_equal(field_i64(r, 0, i, "flag"), i < 3 ? 1 : 1);
        OK(vdb_result_field(r, 0, i, "score", &v));
        assert_false(v.is_null); /* a nullable field with a default takes the default */
        assert_true(v.u.f64 == want_score[i]);
    }
    vdb_result_free(r);

    /* a NULL in a field that is neither nullable nor defaulted is refused */
    vdb_schema *s2;
    OK(vdb_schema_new("strict", &s2));
    add(s2, *VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1));
    add(s2, *VDB_FIELD(.name = "must", .type = VDB_TYPE_INT32));
    add(s2, *VDB_FIELD(.name = "vec", .type = VDB_TYPE_FLOAT_VECTOR, .dim = 2));
    OK(vdb_create_collection(db, s2));
    vdb_schema_free(s2);
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, id1, NULL, 2, 0));
    OK(vdb_batch_add_column(b, "must", VDB_TYPE_INT32, opt, (uint8_t[]){1, 0}, 2, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vec, NULL, 2, 2));
    ERR(vdb_insert(db, "strict", NULL, b, NULL, NULL), VDB_EINVAL, "must");
    vdb_batch_free(b);
    /* a NULL primary key is refused */
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, id1, (uint8_t[]){1, 0}, 2, 0));
    OK(vdb_batch_add_column(b, "must", VDB_TYPE_INT32, opt, NULL, 2, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vec, NULL, 2, 2));
    ERR(vdb_insert(db, "strict", NULL, b, NULL, NULL), VDB_EINVAL, "id");
    vdb_batch_free(b);
    assert_int_equal(row_count(db, "strict"), 0);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_auto_id_assigns_distinct_ids(void **state)
{
    (void)state;
    char *dir = test_tmpdir("api_autoid");
    vdb_db *db = open_db(dir);
    vdb_schema *s;
    OK(vdb_schema_new("a", &s));
    add(s, *VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1,
                      .auto_id = 1));
    add(s, *VDB_FIELD(.name = "tag", .type = VDB_TYPE_INT64));
    add(s, *VDB_FIELD(.name = "vec", .type = VDB_TYPE_FLOAT_VECTOR, .dim = 2));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
    enum { N = 50 };
    int64_t tags[N];
    float vec[N * 2];
    for (int i = 0; i < N; i++) {
        tags[i] = 1000 + i;
        vec[2 * i] = (float)i;
        vec[2 * i + 1] = 0;
    }
    int64_t ids[2 * N];
    for (int round = 0; round < 2; round++) {
        vdb_batch *b;
        OK(vdb_batch_new(&b));
        OK(vdb_batch_add_column(b, "tag", VDB_TYPE_INT64, tags, NULL, N, 0));
        OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vec, NULL, N, 2));
        vdb_result *pks;
        uint64_t ts;
        OK(vdb_insert(db, "a", NULL, b, &ts, &pks));
        assert_int_equal(vdb_result_rows(pks, 0), N);
        assert_int_equal(vdb_result_timestamp(pks), ts);
        for (int i = 0; i < N; i++)
            ids[round * N + i] = vdb_result_pk_int(pks, 0, (size_t)i);
        vdb_result_free(pks);
        /* passing the auto_id column is refused, naming it; upsert is refused */
        OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, tags, NULL, N, 0));
        ERR(vdb_insert(db, "a", NULL, b, NULL, NULL), VDB_EINVAL, "id");
        ERR(vdb_upsert(db, "a", NULL, b, NULL, NULL), VDB_EINVAL, "auto_id");
        vdb_batch_free(b);
        if (round == 0) { /* ids stay distinct across a reopen */
            vdb_close(db);
            db = open_db(dir);
        }
    }
    for (int i = 0; i < 2 * N; i++)
        for (int j = i + 1; j < 2 * N; j++)
            if (ids[i] == ids[j])
                fail_msg("auto ids %d and %d are both %lld", i, j, (long long)ids[i]);
    assert_int_equal(row_count(db, "a"), 2 * N);
    /* the assigned ids find their rows */
    vdb_result *r;
    const char *out[] = {"tag"};
    vdb_read_opts ro = {.struct_size = sizeof ro, .output_fields = out, .n_output_fields = 1};
    OK(vdb_get(db, "a", &(vdb_pk_list){.ints = ids, .count = 2 * N}, &ro, &r));
    assert_int_equal(vdb_result_rows(r, 0), 2 * N);
    for (int i = 0; i < 2 * N; i++) {
        assert_true(vdb_result_pk_int(r, 0, (size_t)i) == ids[i]);
        assert_int_equal(field_i64(r, 0, (size_t)i, "tag"), 1000 + i % N);
    }
    vdb_result_free(r);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_varchar_primary_key(void **state)
{
    (void)state;
    char *dir = test_tmpdir("api_vpk");
    vdb_db *db = open_db(dir);
    vdb_schema *s;
    OK(vdb_schema_new("v", &s));
    add(s, *VDB_FIELD(.name = "key", .type = VDB_TYPE_VARCHAR, .max_length = 16,
                      .is_primary = 1));
    add(s, *VDB_FIELD(.name = "vec", .type = VDB_TYPE_FLOAT_VECTOR, .dim = 2));
    OK(vdb_schema_set_shards(s, 2));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
    const char *keys[4] = {"alpha", "beta", "gamma", "delta"};
    float vec[8] = {0, 0, 1, 0, 2, 0, 3, 0};
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "key", VDB_TYPE_VARCHAR, keys, NULL, 4, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vec, NULL, 4, 2));
    vdb_result *pks;
    OK(vdb_insert(db, "v", NULL, b, NULL, &pks));
    vdb_batch_free(b);
    assert_int_equal(vdb_result_pk_type(pks), VDB_TYPE_VARCHAR);
    assert_int_equal(vdb_result_rows(pks, 0), 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(vdb_result_pk_str(pks, 0, i), keys[i]);
    vdb_result_free(pks);

    /* search returns varchar keys, nearest first */
    vdb_search_req req = {.struct_size = sizeof req, .collection = "v",
                          .vectors = (float[]){2.1f, 0}, .nq = 1, .dim = 2, .k = 4};
    vdb_result *r;
    OK(vdb_search(db, &req, &r));
    assert_int_equal(vdb_result_rows(r, 0), 4);
    assert_string_equal(vdb_result_pk_str(r, 0, 0), "gamma");
    assert_string_equal(vdb_result_pk_str(r, 0, 1), "delta");
    assert_string_equal(vdb_result_pk_str(r, 0, 2), "beta");
    assert_string_equal(vdb_result_pk_str(r, 0, 3), "alpha");
    vdb_result_free(r);

    /* get by string keys, missing ones skipped; ints refused */
    const char *want[3] = {"delta", "nope", "alpha"};
    OK(vdb_get(db, "v", &(vdb_pk_list){.strs = want, .count = 3}, NULL, &r));
    assert_int_equal(vdb_result_rows(r, 0), 2);
    assert_string_equal(vdb_result_pk_str(r, 0, 0), "delta");
    assert_string_equal(vdb_result_pk_str(r, 0, 1), "alpha");
    assert_null(vdb_result_pk_str(r, 0, 2));
    vdb_result_free(r);
    ERR(vdb_get(db, "v", &(vdb_pk_list){.ints = (int64_t[]){1}, .count = 1}, NULL, &r),
        VDB_EINVAL, "key");
    ERR(vdb_delete(db, "v", NULL, &(vdb_pk_list){.ints = (int64_t[]){1}, .count = 1}, NULL),
        VDB_EINVAL, "key");

    /* delete by string keys (a missing one is fine) */
    const char *del[2] = {"beta", "zzz"};
    uint64_t ts = 0;
    OK(vdb_delete(db, "v", NULL, &(vdb_pk_list){.strs = del, .count = 2}, &ts));
    assert_true(ts > 0);
    assert_int_equal(row_count(db, "v"), 3);
    OK(vdb_get(db, "v", &(vdb_pk_list){.strs = keys, .count = 4}, NULL, &r));
    assert_int_equal(vdb_result_rows(r, 0), 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_not_equal(vdb_result_pk_str(r, 0, i), "beta");
    vdb_result_free(r);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_dynamic_fields_stored_and_returned(void **state)
{
    (void)state;
    char *dir = test_tmpdir("api_dyn");
    vdb_db *db = open_db(dir);
    vdb_schema *s;
    OK(vdb_schema_new("dyn", &s));
    add(s, *VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1));
    add(s, *VDB_FIELD(.name = "vec", .type = VDB_TYPE_FLOAT_VECTOR, .dim = 2));
    OK(vdb_schema_set_dynamic(s, 1));
    OK(vdb_create_collection(db, s));
    /* the same schema without dynamic fields */
    vdb_schema_free(s);
    OK(vdb_schema_new("fixed", &s));
    add(s, *VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1));
    add(s, *VDB_FIELD(.name = "vec", .type = VDB_TYPE_FLOAT_VECTOR, .dim = 2));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);

    int64_t ids[2] = {1, 2};
    float vec[4] = {0, 1, 1, 0};
    const char *color[2] = {"red", "blue"};
    int64_t n[2] = {7, -3};
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, 2, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vec, NULL, 2, 2));
    OK(vdb_batch_add_column(b, "color", VDB_TYPE_VARCHAR, color, NULL, 2, 0));
    OK(vdb_batch_add_column(b, "n", VDB_TYPE_INT64, n, NULL, 2, 0));
    ERR(vdb_insert(db, "fixed", NULL, b, NULL, NULL), VDB_EINVAL, "color");
    assert_int_equal(row_count(db, "fixed"), 0);
    OK(vdb_insert(db, "dyn", NULL, b, NULL, NULL));
    vdb_batch_free(b);

    for (int pass = 0; pass < 2; pass++) {
        vdb_result *r;
        const char *out[] = {"color", "$meta", "n", "absent"};
        vdb_read_opts ro = {.struct_size = sizeof ro, .output_fields = out, .n_output_fields = 4};
        OK(vdb_get(db, "dyn", &(vdb_pk_list){.ints = ids, .count = 2}, &ro, &r));
        assert_int_equal(vdb_result_rows(r, 0), 2);
        vdb_value v;
        OK(vdb_result_field(r, 0, 0, "color", &v));
        assert_str(&v, "\"red\"");
        OK(vdb_result_field(r, 0, 1, "color", &v));
        assert_str(&v, "\"blue\"");
        OK(vdb_result_field(r, 0, 1, "n", &v));
        assert_str(&v, "-3");
        OK(vdb_result_field(r, 0, 0, "absent", &v));
        assert_true(v.is_null); /* a key the row does not have */
        OK(vdb_result_field(r, 0, 0, "$meta", &v));
        assert_false(v.is_null);
        char obj[256];
        snprintf(obj, sizeof obj, "%.*s", (int)v.u.str.len, v.u.str.ptr);
        assert_int_equal(obj[0], '{');
        assert_non_null(strstr(obj, "\"color\":\"red\""));
        assert_non_null(strstr(obj, "\"n\":7"));
        vdb_result_free(r);
        /* "*" includes $meta */
        ro.output_fields = STAR;
        ro.n_output_fields = 1;
        OK(vdb_get(db, "dyn", &(vdb_pk_list){.ints = ids + 1, .count = 1}, &ro, &r));
        OK(vdb_result_field(r, 0, 0, "$meta", &v));
        snprintf(obj, sizeof obj, "%.*s", (int)v.u.str.len, v.u.str.ptr);
        assert_non_null(strstr(obj, "\"color\":\"blue\""));
        assert_non_null(strstr(obj, "\"n\":-3"));
        vdb_result_free(r);
        vdb_close(db);
        db = open_db(dir);
    }
    /* output fields that are not in a fixed schema are refused */
    const char *out[] = {"color"};
    vdb_read_opts ro = {.struct_size = sizeof ro, .output_fields = out, .n_output_fields = 1};
    vdb_result *r;
    ERR(vdb_get(db, "fixed", &(vdb_pk_list){.ints = ids, .count = 1}, &ro, &r), VDB_EINVAL,
        "color");
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* ---- insert errors ----------------------------------------------------------------------- */

enum { ED = 4 };
static const int64_t e_ids[2] = {1000, 1001};
static const float e_score[2] = {1.0f, 2.0f};
static const char *const e_label[2] = {"ab", "abcd"};
static const char *const e_doc[2] = {"{}", "{\"k\":1}"};
static const char *const e_nums[2] = {"[1]", "[1,2]"};
static const int32_t e_req[2] = {5, 6};
static const int64_t e_big[2] = {1, 2};
static const float e_emb[2 * ED] = {1, 2, 3, 4, 5, 6, 7, 8};

static void create_err_collection(vdb_db *db)
{
    vdb_schema *s;
    OK(vdb_schema_new("errs", &s));
    add(s, *VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1));
    add(s, *VDB_FIELD(.name = "score", .type = VDB_TYPE_FLOAT));
    add(s, *VDB_FIELD(.name = "label", .type = VDB_TYPE_VARCHAR, .max_length = 4));
    add(s, *VDB_FIELD(.name = "doc", .type = VDB_TYPE_JSON));
    add(s, *VDB_FIELD(.name = "nums", .type = VDB_TYPE_ARRAY,
                      .element_type = VDB_TYPE_INT64, .max_capacity = 2));
    add(s, *VDB_FIELD(.name = "required_n", .type = VDB_TYPE_INT32));
    add(s, *VDB_FIELD(.name = "big", .type = VDB_TYPE_INT64));
    add(s, *VDB_FIELD(.name = "emb", .type = VDB_TYPE_FLOAT_VECTOR, .dim = ED));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
}

/* A valid 2-row batch for "errs" without the column named skip (NULL: complete). */
static vdb_batch *err_batch(const char *skip)
{
    vdb_batch *b;
    OK(vdb_batch_new(&b));
#define COL(name, type, data, dim)                                                            \
    if (!skip || strcmp(skip, name))                                                          \
    OK(vdb_batch_add_column(b, name, type, data, NULL, 2, dim))
    COL("id", VDB_TYPE_INT64, e_ids, 0);
    COL("score", VDB_TYPE_FLOAT, e_score, 0);
    COL("label", VDB_TYPE_VARCHAR, e_label, 0);
    COL("doc", VDB_TYPE_JSON, e_doc, 0);
    COL("nums", VDB_TYPE_ARRAY, e_nums, 0);
    COL("required_n", VDB_TYPE_INT32, e_req, 0);
    COL("big", VDB_TYPE_INT64, e_big, 0);
    COL("emb", VDB_TYPE_FLOAT_VECTOR, e_emb, ED);
#undef COL
    return b;
}

/* Inserts a batch that must fail with want naming `name`; nothing may change. */
static void expect_insert_fails(vdb_db *db, vdb_batch *b, vdb_status want, const char *name,
                                int line)
{
    uint64_t before = row_count(db, "errs");
    uint64_t ts = 12345;
    vdb_result *pks = (vdb_result *)0x1;
    vdb_status st = vdb_insert(db, "errs", NULL, b, &ts, &pks);
    test_check_err(st, want, name, "vdb_insert", line);
    assert_null(pks);
    st = vdb_upsert(db, "errs", NULL, b, NULL, NULL);
    test_check_err(st, want, name, "vdb_upsert", line);
    assert_int_equal(row_count(db, "errs"), before);
    vdb_batch_free(b);
}
#define INSERT_FAILS(b, want, name) expect_insert_fails(db, (b), (want), (name), __LINE__)

static void test_insert_errors_change_nothing(void **state)
{
    (void)state;
    char *dir = test_tmpdir("api_inserr");
    vdb_db *db = open_db(dir);
    create_err_collection(db);
    vdb_batch *b = err_batch(NULL);
    OK(vdb_insert(db, "errs", NULL, b, NULL, NULL));
    vdb_batch_free(b);
    assert_int_equal(row_count(db, "errs"), 2);
    const int64_t ids[2] = {1, 2}; /* fresh keys for the failing batches */

    /* wrong dimension */
    float emb8[16] = {0};
    b = err_batch("emb");
    OK(vdb_batch_add_column(b, "emb", VDB_TYPE_FLOAT_VECTOR, emb8, NULL, 2, 8));
    INSERT_FAILS(b, VDB_EINVAL, "emb");
    /* NaN and Inf in a vector */
    float bad[2 * ED] = {1, 2, 3, 4, 5, 6, 7, 8};
    bad[5] = NAN;
    b = err_batch("emb");
    OK(vdb_batch_add_column(b, "emb", VDB_TYPE_FLOAT_VECTOR, bad, NULL, 2, ED));
    INSERT_FAILS(b, VDB_EINVAL, "emb");
    bad[5] = -INFINITY;
    b = err_batch("emb");
    OK(vdb_batch_add_column(b, "emb", VDB_TYPE_FLOAT_VECTOR, bad, NULL, 2, ED));
    INSERT_FAILS(b, VDB_EINVAL, "emb");
    /* NaN and Inf in a FLOAT field */
    float sc[2] = {1, NAN};
    b = err_batch("score");
    OK(vdb_batch_add_column(b, "score", VDB_TYPE_FLOAT, sc, NULL, 2, 0));
    INSERT_FAILS(b, VDB_EINVAL, "score");
    sc[1] = INFINITY;
    b = err_batch("score");
    OK(vdb_batch_add_column(b, "score", VDB_TYPE_FLOAT, sc, NULL, 2, 0));
    INSERT_FAILS(b, VDB_EINVAL, "score");
    /* too-long varchar (5 bytes > max_length 4) */
    const char *lab[2] = {"ok", "toolo"};
    b = err_batch("label");
    OK(vdb_batch_add_column(b, "label", VDB_TYPE_VARCHAR, lab, NULL, 2, 0));
    INSERT_FAILS(b, VDB_EINVAL, "label");
    /* invalid JSON */
    const char *doc[2] = {"{}", "{\"k\":"};
    b = err_batch("doc");
    OK(vdb_batch_add_column(b, "doc", VDB_TYPE_JSON, doc, NULL, 2, 0));
    INSERT_FAILS(b, VDB_EINVAL, "doc");
    doc[1] = "{bad}";
    b = err_batch("doc");
    OK(vdb_batch_add_column(b, "doc", VDB_TYPE_JSON, doc, NULL, 2, 0));
    INSERT_FAILS(b, VDB_EINVAL, "doc");
    /* array over capacity, wrong element type, not an array */
    const char *nums[2] = {"[1]", "[1,2,3]"};
    b = err_batch("nums");
    OK(vdb_batch_add_column(b, "nums", VDB_TYPE_ARRAY, nums, NULL, 2, 0));
    INSERT_FAILS(b, VDB_EINVAL, "nums");
    nums[1] = "[1,\"x\"]";
    b = err_batch("nums");
    OK(vdb_batch_add_column(b, "nums", VDB_TYPE_ARRAY, nums, NULL, 2, 0));
    INSERT_FAILS(b, VDB_EINVAL, "nums");
    nums[1] = "[1.5]";
    b = err_batch("nums");
    OK(vdb_batch_add_column(b, "nums", VDB_TYPE_ARRAY, nums, NULL, 2, 0));
    INSERT_FAILS(b, VDB_EINVAL, "nums");
    nums[1] = "{\"a\":1}";
    b = err_batch("nums");
    OK(vdb_batch_add_column(b, "nums", VDB_TYPE_ARRAY, nums, NULL, 2, 0));
    INSERT_FAILS(b, VDB_EINVAL, "nums");
    /* missing non-nullable fields (scalar, vector, primary key) */
    INSERT_FAILS(err_batch("required_n"), VDB_EINVAL, "required_n");
    INSERT_FAILS(err_batch("emb"), VDB_EINVAL, "emb");
    INSERT_FAILS(err_batch("id"), VDB_EINVAL, "id");
    /* type mismatch: INT32 column for an INT64 field */
    int32_t big32[2] = {1, 2};
    b = err_batch("big");
    OK(vdb_batch_add_column(b, "big", VDB_TYPE_INT32, big32, NULL, 2, 0));
    INSERT_FAILS(b, VDB_EINVAL, "big");
    /* FLOAT_VECTOR column for a FLOAT field */
    b = err_batch("score");
    OK(vdb_batch_add_column(b, "score", VDB_TYPE_FLOAT_VECTOR, e_emb, NULL, 2, 1));
    INSERT_FAILS(b, VDB_EINVAL, "score");
    /* an unknown column */
    b = err_batch(NULL);
    OK(vdb_batch_add_column(b, "stray", VDB_TYPE_INT64, ids, NULL, 2, 0));
    INSERT_FAILS(b, VDB_EINVAL, "stray");

    /* empty batches */
    OK(vdb_batch_new(&b));
    ERR(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, 0, 0), VDB_EINVAL, "id");
    assert_int_equal(vdb_batch_rows(b), 0);
    INSERT_FAILS(b, VDB_EINVAL, "empty");
    OK(vdb_batch_new(&b));
    INSERT_FAILS(b, VDB_EINVAL, "empty");

    /* columns of different lengths: the odd column is refused, the batch stays as it was */
    b = err_batch("big");
    int64_t three[3] = {1, 2, 3};
    ERR(vdb_batch_add_column(b, "big", VDB_TYPE_INT64, three, NULL, 3, 0), VDB_EINVAL, "big");
    assert_int_equal(vdb_batch_rows(b), 2);
    INSERT_FAILS(b, VDB_EINVAL, "big"); /* still missing */
    /* a duplicate column is refused */
    b = err_batch(NULL);
    ERR(vdb_batch_add_column(b, "big", VDB_TYPE_INT64, e_big, NULL, 2, 0), VDB_EEXIST, "big");
    vdb_batch_free(b);
    /* a NULL string not marked invalid */
    OK(vdb_batch_new(&b));
    const char *nulls[2] = {"a", NULL};
    ERR(vdb_batch_add_column(b, "label", VDB_TYPE_VARCHAR, nulls, NULL, 2, 0), VDB_EINVAL,
        "label");
    /* unknown types and bad vector dims at batch building */
    ERR(vdb_batch_add_column(b, "x", (vdb_type)77, ids, NULL, 2, 0), VDB_EINVAL, "x");
    ERR(vdb_batch_add_column(b, "v", VDB_TYPE_FLOAT_VECTOR, e_emb, NULL, 2, 0), VDB_EINVAL,
        "v");
    assert_int_equal(vdb_batch_rows(b), 0);
    vdb_batch_free(b);

    /* unknown collection */
    b = err_batch(NULL);
    ERR(vdb_insert(db, "nocoll", NULL, b, NULL, NULL), VDB_ENOTFOUND, "nocoll");
    ERR(vdb_upsert(db, "nocoll", NULL, b, NULL, NULL), VDB_ENOTFOUND, "nocoll");
    ERR(vdb_delete(db, "nocoll", NULL, &(vdb_pk_list){.ints = ids, .count = 1}, NULL),
        VDB_ENOTFOUND, "nocoll");
    ERR(vdb_flush(db, "nocoll"), VDB_ENOTFOUND, "nocoll");
    vdb_result *r = NULL;
    ERR(vdb_get(db, "nocoll", &(vdb_pk_list){.ints = ids, .count = 1}, NULL, &r),
        VDB_ENOTFOUND, "nocoll");
    vdb_search_req req = {.struct_size = sizeof req, .collection = "nocoll", .vectors = e_emb,
                          .nq = 1, .dim = ED, .k = 1};
    ERR(vdb_search(db, &req, &r), VDB_ENOTFOUND, "nocoll");
    assert_null(r);
    vdb_batch_free(b);

    /* the same batch without errors is accepted: the failures above changed nothing */
    assert_int_equal(row_count(db, "errs"), 2);
    assert_int_equal(get_rows(db, "errs", ids, 2, NULL), 0);
    b = err_batch("id");
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, 2, 0));
    OK(vdb_insert(db, "errs", NULL, b, NULL, NULL));
    vdb_batch_free(b);
    assert_int_equal(row_count(db, "errs"), 4);
    /* and a reopen replays no failed write */
    vdb_close(db);
    db = open_db(dir);
    assert_int_equal(row_count(db, "errs"), 4);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_null_arguments_are_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("api_nullargs");
    vdb_db *db = open_db(dir);
    create_simple(db, "c", 2, VDB_METRIC_L2, 1);
    float v[2] = {1, 2};
    int64_t id = 1;
    insert_simple(db, "c", NULL, &id, &id, v, 1, 2);
    vdb_batch *b = simple_batch(&id, &id, v, 1, 2);
    vdb_pk_list pl = {.ints = &id, .count = 1};
    vdb_result *r = NULL;
    vdb_names *n = NULL;
    vdb_schema *s = NULL;
    vdb_stats st = {.struct_size = sizeof st};
    uint64_t ts;
    int ex;
    vdb_search_req req = {.struct_size = sizeof req, .collection = "c", .vectors = v, .nq = 1,
                          .dim = 2, .k = 1};

    ERR(vdb_insert(NULL, "c", NULL, b, NULL, NULL), VDB_EINVAL, NULL);
    ERR(vdb_insert(db, NULL, NULL, b, NULL, NULL), VDB_EINVAL, NULL);
    ERR(vdb_insert(db, "c", NULL, NULL, NULL, NULL), VDB_EINVAL, NULL);
    ERR(vdb_upsert(NULL, "c", NULL, b, NULL, NULL), VDB_EINVAL, NULL);
    ERR(vdb_upsert(db, NULL, NULL, b, NULL, NULL), VDB_EINVAL, NULL);
    ERR(vdb_upsert(db, "c", NULL, NULL, NULL, NULL), VDB_EINVAL, NULL);
    ERR(vdb_delete(NULL, "c", NULL, &pl, NULL), VDB_EINVAL, NULL);
    ERR(vdb_delete(db, NULL, NULL, &pl, NULL), VDB_EINVAL, NULL);
    ERR(vdb_delete(db, "c", NULL, NULL, NULL), VDB_EINVAL, NULL);
    ERR(vdb_delete(db, "c", NULL, &(vdb_pk_list){.ints = &id, .count = 0}, NULL), VDB_EINVAL,
        NULL);
    ERR(vdb_delete(db, "c", NULL, &(vdb_pk_list){.count = 1}, NULL), VDB_EINVAL, NULL);
    ERR(vdb_get(NULL, "c", &pl, NULL, &r), VDB_EINVAL, NULL);
    ERR(vdb_get(db, NULL, &pl, NULL, &r), VDB_EINVAL, NULL);
    ERR(vdb_get(db, "c", NULL, NULL, &r), VDB_EINVAL, NULL);
    ERR(vdb_get(db, "c", &pl, NULL, NULL), VDB_EINVAL, NULL);
    ERR(vdb_search(NULL, &req, &r), VDB_EINVAL, NULL);
    ERR(vdb_search(db, NULL, &r), VDB_EINVAL, NULL);
    ERR(vdb_search(db, &req, NULL), VDB_EINVAL, NULL);
    req.vectors = NULL;
    ERR(vdb_search(db, &req, &r), VDB_EINVAL, NULL);
    req.vectors = v;
    req.collection = NULL;
    ERR(vdb_search(db, &req, &r), VDB_EINVAL, NULL);
    req.collection = "c";
    req.struct_size = 0;
    ERR(vdb_search(db, &req, &r), VDB_EINVAL, "struct_size");
    req.struct_size = sizeof req;
    assert_null(r);
    ERR(vdb_collection_stats(NULL, "c", &st), VDB_EINVAL, NULL);
    ERR(vdb_collection_stats(db, NULL, &st), VDB_EINVAL, NULL);
    ERR(vdb_collection_stats(db, "c", NULL), VDB_EINVAL, NULL);
    ERR(vdb_list_collections(NULL, &n), VDB_EINVAL, NULL);
    ERR(vdb_list_collections(db, NULL), VDB_EINVAL, NULL);
    ERR(vdb_list_partitions(db, NULL, &n), VDB_EINVAL, NULL);
    ERR(vdb_list_partitions(db, "c", NULL), VDB_EINVAL, NULL);
    ERR(vdb_create_partition(db, "c", NULL), VDB_EINVAL, NULL);
    ERR(vdb_create_partition(db, NULL, "p"), VDB_EINVAL, NULL);
    ERR(vdb_drop_partition(db, "c", NULL), VDB_EINVAL, NULL);
    ERR(vdb_drop_collection(db, NULL), VDB_EINVAL, NULL);
    ERR(vdb_drop_collection(NULL, "c"), VDB_EINVAL, NULL);
    ERR(vdb_has_collection(NULL, "c", &ex), VDB_EINVAL, NULL);
    ERR(vdb_has_collection(db, NULL, &ex), VDB_EINVAL, NULL);
    ERR(vdb_describe_collection(db, "c", NULL), VDB_EINVAL, NULL);
    ERR(vdb_describe_collection(NULL, "c", &s), VDB_EINVAL, NULL);
    ERR(vdb_create_collection(NULL, s), VDB_EINVAL, NULL);
    ERR(vdb_now(NULL, &ts), VDB_EINVAL, NULL);
    ERR(vdb_now(db, NULL), VDB_EINVAL, NULL);
    ERR(vdb_flush(NULL, "c"), VDB_EINVAL, NULL);
    ERR(vdb_batch_new(NULL), VDB_EINVAL, NULL);
    ERR(vdb_batch_add_column(NULL, "id", VDB_TYPE_INT64, &id, NULL, 1, 0), VDB_EINVAL, NULL);
    ERR(vdb_batch_add_column(b, NULL, VDB_TYPE_INT64, &id, NULL, 1, 0), VDB_EINVAL, NULL);
    ERR(vdb_batch_add_column(b, "x", VDB_TYPE_INT64, NULL, NULL, 1, 0), VDB_EINVAL, NULL);
    ERR(vdb_schema_set_dynamic(NULL, 1), VDB_EINVAL, NULL);
    ERR(vdb_schema_set_shards(NULL, 1), VDB_EINVAL, NULL);
    ERR(vdb_schema_field(NULL, 0, &(vdb_field_def){.struct_size = sizeof(vdb_field_def)}),
        VDB_EINVAL, NULL);
    /* the NULL-safe accessors and frees */
    vdb_close(NULL);
    vdb_result_free(NULL);
    vdb_batch_free(NULL);
    vdb_schema_free(NULL);
    vdb_names_free(NULL);
    assert_int_equal(vdb_result_groups(NULL), 0);
    assert_int_equal(vdb_result_rows(NULL, 0), 0);
    assert_int_equal(vdb_batch_rows(NULL), 0);
    assert_int_equal(vdb_schema_field_count(NULL), 0);
    assert_null(vdb_schema_name(NULL));
    assert_non_null(vdb_errmsg(NULL));
    /* nothing changed */
    assert_int_equal(row_count(db, "c"), 1);
    const char *one[] = {"c"};
    assert_collections(db, one, 1);
    const char *def[] = {"_default"};
    assert_partitions(db, "c", def, 1);
    /* a success clears the message */
    OK(vdb_has_collection(db, "c", &ex));
    assert_string_equal(vdb_errmsg(db), "");
    vdb_batch_free(b);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* ---- search ------------------------------------------------------------------------------ */

typedef struct scored {
    double score; /* lower is better (similarities negated) */
    int64_t id;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    return x->score < y->score ? -1 : x->score > y->score ? 1 : (x->id > y->id) - (x->id < y->id);
}

/* The metric as the library reports it: L2 squared distance, IP, cosine similarity. */
static double metric_value(vdb_metric m, const float *a, const float *b, uint32_t dim)
{
    double dot = 0, na = 0, nb = 0, l2 = 0;
    for (uint32_t i = 0; i < dim; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
        l2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    }
    if (m == VDB_METRIC_L2)
        return l2;
    if (m == VDB_METRIC_IP)
        return dot;
    return dot / (sqrt(na) * sqrt(nb));
}

/* Checks group g of res against a brute force over base (n rows with ids). */
static void check_against_brute_force(const vdb_result *res, size_t g, vdb_metric m,
                                      const float *base, const int64_t *ids, size_t n,
                                      uint32_t dim, const float *q, uint32_t k)
{
    scored *all = malloc(n * sizeof *all);
    for (size_t i = 0; i < n; i++) {
        double v = metric_value(m, q, base + i * dim, dim);
        all[i] = (scored){m == VDB_METRIC_L2 ? v : -v, ids[i]};
    }
    qsort(all, n, sizeof *all, cmp_scored);
    size_t want = k < n ? k : n;
    assert_int_equal(vdb_result_rows(res, g), want);
    const double tol = 1e-3;
    double kth = all[want - 1].score;
    for (size_t j = 0; j < want; j++) {
        int64_t id = vdb_result_pk_int(res, g, j);
        double exact = 0;
        int found = 0;
        for (size_t i = 0; i < n; i++)
            if (all[i].id == id) {
                exact = all[i].score;
                found = 1;
                break;
            }
        if (!found)
            fail_msg("group %zu hit %zu: id %lld is not a row", g, j, (long long)id);
        double got = vdb_result_distance(res, g, j);
        if (m != VDB_METRIC_L2)
            got = -got;
        if (fabs(got - exact) > tol * (1 + fabs(exact)))
            fail_msg("group %zu hit %zu id %lld: distance %g, brute force %g", g, j,
                     (long long)id, got, exact);
        if (exact > kth + tol * (1 + fabs(kth)))
            fail_msg("group %zu hit %zu id %lld (%g) is not among the %zu best (kth %g)", g, j,
                     (long long)id, exact, want, kth);
        if (j > 0) {
            double prev = vdb_result_distance(res, g, j - 1);
            if (m != VDB_METRIC_L2)
                prev = -prev;
            assert_true(prev <= got + 1e-6);
        }
        for (size_t i = 0; i < j; i++)
            assert_true(vdb_result_pk_int(res, g, i) != id);
    }
    /* with a clear gap after the kth, the id sets are equal */
    if (want < n && all[want].score - kth > tol * (1 + fabs(kth))) {
        for (size_t i = 0; i < want; i++)
            if (find_row(res, g, all[i].id) < 0)
                fail_msg("group %zu: brute-force hit %lld missing", g, (long long)all[i].id);
    }
    free(all);
}

static void test_search_equals_brute_force_l2_ip_cosine(void **state)
{
    (void)state;
    enum { N = 2000, D = 32, Q = 10, K = 10 };
    char *dir = test_tmpdir("api_brute");
    vdb_db *db = open_db(dir);
    float *base = malloc(sizeof(float) * N * D);
    int64_t *ids = malloc(sizeof(int64_t) * N);
    float q[Q * D];
    uint64_t seed = 42;
    rand_vecs(base, N * D, &seed);
    rand_vecs(q, Q * D, &seed);
    for (int i = 0; i < N; i++)
        ids[i] = 5 * i + 3;
    const char *names[3] = {"l2", "ip", "cos"};
    const vdb_metric metrics[3] = {VDB_METRIC_L2, VDB_METRIC_IP, VDB_METRIC_COSINE};
    for (int m = 0; m < 3; m++) {
        create_simple(db, names[m], D, metrics[m], 1);
        /* half sealed, half growing */
        insert_simple(db, names[m], NULL, ids, ids, base, N / 2, D);
        OK(vdb_flush(db, names[m]));
        insert_simple(db, names[m], NULL, ids + N / 2, ids + N / 2, base + (N / 2) * D, N / 2,
                      D);
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int m = 0; m < 3; m++) {
            vdb_search_req req = {.struct_size = sizeof req, .collection = names[m],
                                  .vectors = q, .nq = Q, .dim = D, .k = K};
            vdb_result *r;
            OK(vdb_search(db, &req, &r));
            assert_int_equal(vdb_result_groups(r), Q);
            for (size_t g = 0; g < Q; g++)
                check_against_brute_force(r, g, metrics[m], base, ids, N, D, q + g * D, K);
            vdb_result_free(r);
            /* one query at a time gives the same as the batch */
            req.nq = 1;
            req.vectors = q + 3 * D;
            OK(vdb_search(db, &req, &r));
            assert_int_equal(vdb_result_groups(r), 1);
            check_against_brute_force(r, 0, metrics[m], base, ids, N, D, q + 3 * D, K);
            vdb_result_free(r);
        }
        vdb_close(db);
        db = open_db(dir);
    }
    vdb_close(db);
    free(base);
    free(ids);
    test_rmdir(dir);
    free(dir);
}

static void test_search_options_and_errors(void **state)
{
    (void)state;
    enum { D = 8, N = 30 };
    char *dir = test_tmpdir("api_search");
    vdb_db *db = open_db(dir);
    create_simple(db, "c", D, VDB_METRIC_L2, 1);
    float base[N * D];
    int64_t ids[N], tags[N];
    uint64_t seed = 3;
    rand_vecs(base, N * D, &seed);
    for (int i = 0; i < N; i++) {
        ids[i] = i;
        tags[i] = i * 10;
    }
    insert_simple(db, "c", NULL, ids, tags, base, N, D);

    /* k larger than the row count returns all rows, nearest first; exact match first */
    const char *out[] = {"tag", "vec"};
    vdb_search_req req = {.struct_size = sizeof req, .collection = "c", .vectors = base + 7 * D,
                          .nq = 2, .dim = D, .k = 100,
                          .read = {.output_fields = out, .n_output_fields = 2}};
    vdb_result *r;
    OK(vdb_search(db, &req, &r));
    assert_int_equal(vdb_result_groups(r), 2);
    for (size_t g = 0; g < 2; g++) {
        assert_int_equal(vdb_result_rows(r, g), N);
        assert_int_equal(vdb_result_pk_int(r, g, 0), 7 + (int64_t)g);
        assert_true(vdb_result_distance(r, g, 0) == 0.0f);
        check_against_brute_force(r, g, VDB_METRIC_L2, base, ids, N, D, base + (7 + g) * D,
                                  100);
        for (size_t j = 0; j < N; j++) {
            int64_t id = vdb_result_pk_int(r, g, j);
            assert_int_equal(field_i64(r, g, j, "tag"), id * 10);
            vdb_value v;
            OK(vdb_result_field(r, g, j, "vec", &v));
            assert_int_equal(v.u.vec.dim, D);
            assert_memory_equal(v.u.vec.ptr, base + id * D, D * sizeof(float));
        }
    }
    assert_int_equal(vdb_result_rows(r, 2), 0); /* out of range group */
    vdb_result_free(r);

    /* errors */
    req.nq = 1;
    req.read.output_fields = NULL;
    req.read.n_output_fields = 0;
    req.filter = "tag > ";
    ERR(vdb_search(db, &req, &r), VDB_EINVAL, "filter");
    req.filter = "no_such_field == 1";
    ERR(vdb_search(db, &req, &r), VDB_EINVAL, "no_such_field");
    req.filter = NULL;
    req.dim = D + 1;
    ERR(vdb_search(db, &req, &r), VDB_EINVAL, "dim");
    req.dim = D;
    req.k = 0;
    ERR(vdb_search(db, &req, &r), VDB_EINVAL, "k");
    req.k = 5;
    float nanq[D] = {0};
    nanq[2] = NAN;
    req.vectors = nanq;
    ERR(vdb_search(db, &req, &r), VDB_EINVAL, "NaN");
    req.vectors = base;
    req.vector_field = "tag";
    ERR(vdb_search(db, &req, &r), VDB_EINVAL, "tag");
    req.vector_field = "nosuch";
    ERR(vdb_search(db, &req, &r), VDB_EINVAL, "nosuch");
    req.vector_field = "vec";
    OK(vdb_search(db, &req, &r));
    assert_int_equal(vdb_result_rows(r, 0), 5);
    assert_int_equal(vdb_result_pk_int(r, 0, 0), 0);
    vdb_result_free(r);
    const char *badout[] = {"nosuch"};
    req.read.output_fields = badout;
    req.read.n_output_fields = 1;
    ERR(vdb_search(db, &req, &r), VDB_EINVAL, "nosuch");
    req.read.output_fields = NULL;
    req.read.n_output_fields = 0;

    /* an empty collection returns empty groups */
    create_simple(db, "empty", D, VDB_METRIC_L2, 1);
    req.collection = "empty";
    req.vector_field = NULL;
    OK(vdb_search(db, &req, &r));
    assert_int_equal(vdb_result_groups(r), 1);
    assert_int_equal(vdb_result_rows(r, 0), 0);
    vdb_result_free(r);

    /* several vector fields: vector_field is required */
    vdb_schema *s;
    OK(vdb_schema_new("two", &s));
    add(s, *VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1));
    add(s, *VDB_FIELD(.name = "v1", .type = VDB_TYPE_FLOAT_VECTOR, .dim = 2));
    add(s, *VDB_FIELD(.name = "v2", .type = VDB_TYPE_FLOAT_VECTOR, .dim = 3,
                      .metric = VDB_METRIC_IP));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
    int64_t tid[3] = {1, 2, 3};
    float v1[6] = {0, 0, 1, 1, 5, 5};
    float v2[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, tid, NULL, 3, 0));
    OK(vdb_batch_add_column(b, "v1", VDB_TYPE_FLOAT_VECTOR, v1, NULL, 3, 2));
    OK(vdb_batch_add_column(b, "v2", VDB_TYPE_FLOAT_VECTOR, v2, NULL, 3, 3));
    OK(vdb_insert(db, "two", NULL, b, NULL, NULL));
    vdb_batch_free(b);
    vdb_search_req r2 = {.struct_size = sizeof r2, .collection = "two",
                         .vectors = (float[]){0.1f, 0.2f, 3.0f}, .nq = 1, .dim = 3, .k = 1};
    ERR(vdb_search(db, &r2, &r), VDB_EINVAL, "vector_field");
    r2.vector_field = "v2";
    OK(vdb_search(db, &r2, &r));
    assert_int_equal(vdb_result_rows(r, 0), 1);
    assert_int_equal(vdb_result_pk_int(r, 0, 0), 3);
    assert_true(fabsf(vdb_result_distance(r, 0, 0) - 3.0f) < 1e-5f); /* IP */
    vdb_result_free(r);
    r2.vector_field = "v1";
    ERR(vdb_search(db, &r2, &r), VDB_EINVAL, "dim");
    r2.dim = 2;
    r2.vectors = (float[]){4, 4};
    OK(vdb_search(db, &r2, &r));
    assert_int_equal(vdb_result_pk_int(r, 0, 0), 3);
    assert_true(fabsf(vdb_result_distance(r, 0, 0) - 2.0f) < 1e-5f); /* squared L2 */
    vdb_result_free(r);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* ---- delete, upsert, get ----------------------------------------------------------------- */

static void test_delete_upsert_and_get(void **state)
{
    (void)state;
    enum { D = 4, N = 10 };
    char *dir = test_tmpdir("api_delups");
    vdb_db *db = open_db(dir);
    create_simple(db, "c", D, VDB_METRIC_L2, 1);
    float base[N * D];
    int64_t ids[N], tags[N];
    uint64_t seed = 11;
    rand_vecs(base, N * D, &seed);
    for (int i = 0; i < N; i++) {
        ids[i] = i;
        tags[i] = i;
    }
    insert_simple(db, "c", NULL, ids, tags, base, N, D);

    uint64_t ts = 0;
    OK(vdb_delete(db, "c", NULL, &(vdb_pk_list){.ints = (int64_t[]){3, 1000}, .count = 2},
                  &ts));
    assert_true(ts > 0);
    assert_int_equal(row_count(db, "c"), N - 1);
    /* deleting missing keys is fine and changes nothing */
    OK(vdb_delete(db, "c", NULL, &(vdb_pk_list){.ints = (int64_t[]){3, 77}, .count = 2}, NULL));
    assert_int_equal(row_count(db, "c"), N - 1);
    /* get skips missing keys, keeps the order of the keys */
    vdb_result *r;
    const char *out[] = {"tag", "vec"};
    vdb_read_opts ro = {.struct_size = sizeof ro, .output_fields = out, .n_output_fields = 2};
    OK(vdb_get(db, "c", &(vdb_pk_list){.ints = (int64_t[]){5, 3, 999, 1}, .count = 4}, &ro,
               &r));
    assert_int_equal(vdb_result_rows(r, 0), 2);
    assert_int_equal(vdb_result_pk_int(r, 0, 0), 5);
    assert_int_equal(vdb_result_pk_int(r, 0, 1), 1);
    vdb_result_free(r);

    /* upsert id 5 with a new vector and tag; id 20 is new */
    float nv[2 * D] = {9, 9, 9, 9, -9, -9, -9, -9};
    uint64_t uts = upsert_simple(db, "c", (int64_t[]){5, 20}, (int64_t[]){500, 2000}, nv, 2, D);
    assert_true(uts > ts);
    assert_int_equal(row_count(db, "c"), N);
    for (int pass = 0; pass < 3; pass++) {
        OK(vdb_get(db, "c", &(vdb_pk_list){.ints = (int64_t[]){5, 20}, .count = 2}, &ro, &r));
        assert_int_equal(vdb_result_rows(r, 0), 2);
        assert_int_equal(field_i64(r, 0, 0, "tag"), 500);
        assert_int_equal(field_i64(r, 0, 1, "tag"), 2000);
        vdb_value v;
        OK(vdb_result_field(r, 0, 0, "vec", &v));
        assert_memory_equal(v.u.vec.ptr, nv, D * sizeof(float));
        vdb_result_free(r);
        /* searching the old vector of 5: 5 is found once, at its new vector's distance */
        vdb_search_req req = {.struct_size = sizeof req, .collection = "c",
                              .vectors = base + 5 * D, .nq = 1, .dim = D, .k = 100};
        OK(vdb_search(db, &req, &r));
        assert_int_equal(vdb_result_rows(r, 0), N);
        int seen = 0;
        for (size_t j = 0; j < vdb_result_rows(r, 0); j++) {
            int64_t id = vdb_result_pk_int(r, 0, j);
            assert_true(id != 3);
            if (id == 5) {
                seen++;
                float want = (float)metric_value(VDB_METRIC_L2, base + 5 * D, nv, D);
                assert_true(fabsf(vdb_result_distance(r, 0, j) - want) < 1e-3f * want);
            }
        }
        assert_int_equal(seen, 1);
        assert_true(vdb_result_distance(r, 0, 0) > 0.0f); /* the old vector is gone */
        vdb_result_free(r);
        if (pass == 0)
            OK(vdb_flush(db, "c"));
        else if (pass == 1) {
            vdb_close(db);
            db = open_db(dir);
        }
    }
    /* upsert twice more; still one row for the key */
    upsert_simple(db, "c", (int64_t[]){5}, (int64_t[]){501}, nv + D, 1, D);
    upsert_simple(db, "c", (int64_t[]){5}, (int64_t[]){502}, nv, 1, D);
    assert_int_equal(row_count(db, "c"), N);
    OK(vdb_get(db, "c", &(vdb_pk_list){.ints = (int64_t[]){5}, .count = 1}, &ro, &r));
    assert_int_equal(vdb_result_rows(r, 0), 1);
    assert_int_equal(field_i64(r, 0, 0, "tag"), 502);
    vdb_result_free(r);
    /* a key present twice in one get is returned twice */
    OK(vdb_get(db, "c", &(vdb_pk_list){.ints = (int64_t[]){5, 5}, .count = 2}, NULL, &r));
    assert_int_equal(vdb_result_rows(r, 0), 2);
    vdb_result_free(r);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* Upsert deletes the key in every partition, then inserts into the named one. */
static void test_upsert_replaces_row_of_another_partition(void **state)
{
    (void)state;
    enum { D = 2 };
    char *dir = test_tmpdir("api_upspart");
    vdb_db *db = open_db(dir);
    create_simple(db, "c", D, VDB_METRIC_L2, 2);
    OK(vdb_create_partition(db, "c", "p1"));
    float v[2 * D] = {1, 1, 2, 2};
    insert_simple(db, "c", "p1", (int64_t[]){1, 2}, (int64_t[]){10, 20}, v, 2, D);
    vdb_batch *b = simple_batch((int64_t[]){1}, (int64_t[]){11}, v + D, 1, D);
    OK(vdb_upsert(db, "c", NULL, b, NULL, NULL)); /* into _default */
    vdb_batch_free(b);
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(row_count(db, "c"), 2);
        const char *p1[] = {"p1"}, *pd[] = {"_default"}, *out[] = {"tag"};
        vdb_read_opts ro = {.struct_size = sizeof ro, .partitions = p1, .n_partitions = 1,
                            .output_fields = out,
                            .n_output_fields = 1};
        assert_int_equal(get_rows(db, "c", (int64_t[]){1}, 1, &ro), 0);
        ro.partitions = pd;
        vdb_result *r;
        OK(vdb_get(db, "c", &(vdb_pk_list){.ints = (int64_t[]){1}, .count = 1}, &ro, &r));
        assert_int_equal(vdb_result_rows(r, 0), 1);
        assert_int_equal(field_i64(r, 0, 0, "tag"), 11);
        vdb_result_free(r);
        OK(vdb_flush(db, "c"));
        vdb_close(db);
        db = open_db(dir);
    }
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* ---- persistence, shards, statistics ------------------------------------------------------ */

typedef struct snapshot {
    size_t nhits;
    int64_t ids[64];
    float dist[64];
    size_t nget;
    int64_t get_ids[1024];
    int64_t get_tags[1024];
} snapshot;

static void take_snapshot(vdb_db *db, const char *coll, const float *q, size_t nq, uint32_t dim,
                          uint32_t k, const int64_t *keys, size_t nkeys, snapshot *out)
{
    memset(out, 0, sizeof *out);
    vdb_search_req req = {.struct_size = sizeof req, .collection = coll, .vectors = q,
                          .nq = nq, .dim = dim, .k = k};
    vdb_result *r;
    OK(vdb_search(db, &req, &r));
    for (size_t g = 0; g < nq; g++)
        for (size_t j = 0; j < vdb_result_rows(r, g); j++) {
            assert_true(out->nhits < 64);
            out->ids[out->nhits] = vdb_result_pk_int(r, g, j);
            out->dist[out->nhits++] = vdb_result_distance(r, g, j);
        }
    vdb_result_free(r);
    const char *o[] = {"tag"};
    vdb_read_opts ro = {.struct_size = sizeof ro, .output_fields = o, .n_output_fields = 1};
    OK(vdb_get(db, coll, &(vdb_pk_list){.ints = keys, .count = nkeys}, &ro, &r));
    out->nget = vdb_result_rows(r, 0);
    assert_true(out->nget <= 1024);
    for (size_t j = 0; j < out->nget; j++) {
        out->get_ids[j] = vdb_result_pk_int(r, 0, j);
        out->get_tags[j] = field_i64(r, 0, j, "tag");
    }
    vdb_result_free(r);
}

static void assert_same_snapshot(const snapshot *a, const snapshot *b)
{
    assert_int_equal(a->nhits, b->nhits);
    for (size_t i = 0; i < a->nhits; i++) {
        if (a->ids[i] != b->ids[i])
            fail_msg("hit %zu: id %lld vs %lld", i, (long long)a->ids[i], (long long)b->ids[i]);
        assert_true(fabsf(a->dist[i] - b->dist[i]) <= 1e-4f * (1 + fabsf(a->dist[i])));
    }
    assert_int_equal(a->nget, b->nget);
    for (size_t i = 0; i < a->nget; i++) {
        assert_int_equal(a->get_ids[i], b->get_ids[i]);
        assert_int_equal(a->get_tags[i], b->get_tags[i]);
    }
}

static void test_flush_and_reopen_keep_everything(void **state)
{
    (void)state;
    enum { D = 8, N = 200, Q = 3, K = 10 };
    char *dir = test_tmpdir("api_reopen");
    vdb_db *db = open_db(dir);
    create_simple(db, "flushed", D, VDB_METRIC_L2, 1);
    create_simple(db, "logonly", D, VDB_METRIC_IP, 2);
    OK(vdb_create_partition(db, "flushed", "extra"));
    OK(vdb_create_partition(db, "logonly", "p9"));
    float base[N * D], q[Q * D], nv[D], nv2[D];
    int64_t ids[N], tags[N];
    uint64_t seed = 99;
    rand_vecs(base, N * D, &seed);
    rand_vecs(q, Q * D, &seed);
    rand_vecs(nv, D, &seed);
    rand_vecs(nv2, D, &seed);
    for (int i = 0; i < N; i++) {
        ids[i] = i;
        tags[i] = -i;
    }
    const char *colls[2] = {"flushed", "logonly"};
    for (int c = 0; c < 2; c++) {
        insert_simple(db, colls[c], NULL, ids, tags, base, N / 2, D);
        insert_simple(db, colls[c], c ? "p9" : "extra", ids + N / 2, tags + N / 2,
                      base + (N / 2) * D, N / 2, D);
        OK(vdb_delete(db, colls[c], NULL,
                      &(vdb_pk_list){.ints = (int64_t[]){1, 2, 150}, .count = 3}, NULL));
        upsert_simple(db, colls[c], (int64_t[]){4}, (int64_t[]){4444}, nv, 1, D);
    }
    OK(vdb_flush(db, "flushed"));
    /* after the flush: a delete of a sealed row and an upsert, both only in the log */
    OK(vdb_delete(db, "flushed", NULL, &(vdb_pk_list){.ints = (int64_t[]){10, 160}, .count = 2},
                  NULL));
    upsert_simple(db, "flushed", (int64_t[]){11}, (int64_t[]){1111}, nv2, 1, D);

    snapshot before[2], after;
    for (int c = 0; c < 2; c++)
        take_snapshot(db, colls[c], q, Q, D, K, ids, N, &before[c]);
    assert_int_equal(before[0].nget, N - 5);
    assert_int_equal(before[1].nget, N - 3);
    vdb_stats st0[2] = {{.struct_size = sizeof(vdb_stats)}, {.struct_size = sizeof(vdb_stats)}};
    for (int c = 0; c < 2; c++)
        OK(vdb_collection_stats(db, colls[c], &st0[c]));
    assert_int_equal(st0[0].row_count, N - 5);
    assert_true(st0[0].sealed_segments >= 2); /* two partitions */
    assert_int_equal(st0[1].sealed_segments, 0);

    for (int round = 0; round < 2; round++) {
        vdb_close(db);
        db = open_db(dir);
        const char *want[] = {"flushed", "logonly"};
        assert_collections(db, want, 2);
        const char *pf[] = {"_default", "extra"}, *pl[] = {"_default", "p9"};
        assert_partitions(db, "flushed", pf, 2);
        assert_partitions(db, "logonly", pl, 2);
        vdb_schema *s;
        OK(vdb_describe_collection(db, "logonly", &s));
        assert_int_equal(vdb_schema_shards(s), 2);
        vdb_field_def f = {.struct_size = sizeof f};
        OK(vdb_schema_field(s, 2, &f));
        assert_int_equal(f.metric, VDB_METRIC_IP);
        assert_int_equal(f.dim, D);
        vdb_schema_free(s);
        for (int c = 0; c < 2; c++) {
            take_snapshot(db, colls[c], q, Q, D, K, ids, N, &after);
            assert_same_snapshot(&before[c], &after);
            vdb_stats st = {.struct_size = sizeof st};
            OK(vdb_collection_stats(db, colls[c], &st));
            assert_int_equal(st.row_count, st0[c].row_count);
            assert_int_equal(st.num_partitions, 2);
        }
        /* partition-restricted reads after reopen */
        const char *ex[] = {"extra"};
        vdb_read_opts ro = {.struct_size = sizeof ro, .partitions = ex, .n_partitions = 1};
        assert_int_equal(get_rows(db, "flushed", ids, N, &ro), N / 2 - 2); /* 150, 160 gone */
        if (round == 0)
            OK(vdb_flush(db, NULL)); /* second round: everything sealed */
    }
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_multi_shard_matches_single_shard(void **state)
{
    (void)state;
    enum { D = 16, N = 600, Q = 4, K = 8 };
    char *dir = test_tmpdir("api_shards");
    vdb_db *db = open_db(dir);
    create_simple(db, "one", D, VDB_METRIC_L2, 1);
    create_simple(db, "four", D, VDB_METRIC_L2, 4);
    float *base = malloc(sizeof(float) * N * D);
    float q[Q * D], nv[3 * D];
    int64_t ids[N], tags[N];
    uint64_t seed = 1234;
    rand_vecs(base, N * D, &seed);
    rand_vecs(nv, 3 * D, &seed);
    for (int i = 0; i < Q; i++) /* queries near rows so the deletes/upserts matter */
        for (int d = 0; d < D; d++)
            q[i * D + d] = base[(i * 37) * D + d] + 0.01f;
    for (int i = 0; i < N; i++) {
        ids[i] = (int64_t)i * 7919 - 1000;
        tags[i] = i;
    }
    const char *colls[2] = {"one", "four"};
    for (int c = 0; c < 2; c++) {
        insert_simple(db, colls[c], NULL, ids, tags, base, 250, D);
        insert_simple(db, colls[c], NULL, ids + 250, tags + 250, base + 250 * D, 250, D);
        OK(vdb_delete(db, colls[c], NULL,
                      &(vdb_pk_list){.ints = (int64_t[]){ids[0], ids[37], ids[300]},
                                     .count = 3},
                      NULL));
        upsert_simple(db, colls[c], (int64_t[]){ids[74], ids[111], ids[400]},
                      (int64_t[]){-1, -2, -3}, nv, 3, D);
        insert_simple(db, colls[c], NULL, ids + 500, tags + 500, base + 500 * D, 100, D);
    }
    vdb_stats st = {.struct_size = sizeof st};
    OK(vdb_collection_stats(db, "four", &st));
    assert_int_equal(st.num_shards, 4);
    assert_int_equal(st.row_count, N - 3);
    assert_true(st.growing_segments > 1); /* rows spread over shards */
    OK(vdb_collection_stats(db, "one", &st));
    assert_int_equal(st.num_shards, 1);
    assert_int_equal(st.row_count, N - 3);
    for (int stage = 0; stage < 3; stage++) {
        snapshot a, b;
        take_snapshot(db, "one", q, Q, D, K, ids, N, &a);
        take_snapshot(db, "four", q, Q, D, K, ids, N, &b);
        assert_int_equal(a.nget, N - 3);
        assert_same_snapshot(&a, &b);
        /* the upserted rows have their new tags */
        for (size_t i = 0; i < a.nget; i++)
            if (a.get_ids[i] == ids[111])
                assert_int_equal(a.get_tags[i], -2);
        if (stage == 0)
            OK(vdb_flush(db, NULL));
        else if (stage == 1) {
            OK(vdb_collection_stats(db, "four", &st));
            assert_int_equal(st.growing_segments, 0);
            assert_true(st.sealed_segments >= 2);
            vdb_close(db);
            db = open_db(dir);
        }
    }
    vdb_close(db);
    free(base);
    test_rmdir(dir);
    free(dir);
}

static void test_collection_stats_counts(void **state)
{
    (void)state;
    enum { D = 4, N = 100 };
    char *dir = test_tmpdir("api_stats");
    vdb_db *db = open_db(dir);
    create_simple(db, "c", D, VDB_METRIC_L2, 1);
    vdb_stats st = {.struct_size = sizeof st};
    OK(vdb_collection_stats(db, "c", &st));
    assert_int_equal(st.row_count, 0);
    assert_int_equal(st.growing_segments, 0);
    assert_int_equal(st.sealed_segments, 0);
    assert_int_equal(st.num_shards, 1);
    assert_int_equal(st.num_partitions, 1);
    float base[N * D];
    int64_t ids[N];
    uint64_t seed = 5;
    rand_vecs(base, N * D, &seed);
    for (int i = 0; i < N; i++)
        ids[i] = i;
    insert_simple(db, "c", NULL, ids, ids, base, N, D);
    OK(vdb_collection_stats(db, "c", &st));
    assert_int_equal(st.row_count, N);
    assert_int_equal(st.growing_segments, 1);
    assert_int_equal(st.growing_rows, N);
    assert_int_equal(st.sealed_segments, 0);
    assert_int_equal(st.sealed_rows, 0);
    OK(vdb_flush(db, "c"));
    OK(vdb_collection_stats(db, "c", &st));
    assert_int_equal(st.row_count, N);
    assert_int_equal(st.growing_segments, 0);
    assert_int_equal(st.sealed_segments, 1);
    assert_int_equal(st.sealed_rows, N);
    OK(vdb_flush(db, "c")); /* nothing to seal: no empty segment appears */
    OK(vdb_collection_stats(db, "c", &st));
    assert_int_equal(st.sealed_segments, 1);
    OK(vdb_delete(db, "c", NULL, &(vdb_pk_list){.ints = ids, .count = 10}, NULL));
    OK(vdb_create_partition(db, "c", "p"));
    insert_simple(db, "c", "p", (int64_t[]){500, 501}, ids, base, 2, D);
    OK(vdb_collection_stats(db, "c", &st));
    assert_int_equal(st.row_count, N - 10 + 2);
    assert_int_equal(st.deleted_rows, 10);
    assert_int_equal(st.growing_segments, 1);
    assert_int_equal(st.growing_rows, 2);
    assert_int_equal(st.sealed_rows, N);
    assert_int_equal(st.num_partitions, 2);
    OK(vdb_flush(db, NULL));
    OK(vdb_collection_stats(db, "c", &st));
    assert_int_equal(st.row_count, N - 10 + 2);
    assert_int_equal(st.sealed_segments, 2);
    assert_int_equal(st.growing_segments, 0);
    vdb_close(db);
    db = open_db(dir);
    OK(vdb_collection_stats(db, "c", &st));
    assert_int_equal(st.row_count, N - 10 + 2);
    assert_int_equal(st.sealed_segments, 2);
    assert_int_equal(st.sealed_rows, N + 2);
    assert_int_equal(st.deleted_rows, 10);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_and_option_defaults),
        cmocka_unit_test(test_open_rejects_bad_options),
        cmocka_unit_test(test_open_same_folder_twice_is_locked),
        cmocka_unit_test(test_open_newer_format_is_refused),
        cmocka_unit_test(test_schema_rejects_bad_fields),
        cmocka_unit_test(test_error_messages_keep_the_reason),
        cmocka_unit_test(test_collections_create_describe_list_drop),
        cmocka_unit_test(test_partitions_create_list_drop_and_errors),
        cmocka_unit_test(test_insert_every_scalar_type_reads_back_exactly),
        cmocka_unit_test(test_nullable_fields_and_defaults),
        cmocka_unit_test(test_auto_id_assigns_distinct_ids),
        cmocka_unit_test(test_varchar_primary_key),
        cmocka_unit_test(test_dynamic_fields_stored_and_returned),
        cmocka_unit_test(test_insert_errors_change_nothing),
        cmocka_unit_test(test_null_arguments_are_refused),
        cmocka_unit_test(test_search_equals_brute_force_l2_ip_cosine),
        cmocka_unit_test(test_search_options_and_errors),
        cmocka_unit_test(test_delete_upsert_and_get),
        cmocka_unit_test(test_upsert_replaces_row_of_another_partition),
        cmocka_unit_test(test_flush_and_reopen_keep_everything),
        cmocka_unit_test(test_multi_shard_matches_single_shard),
        cmocka_unit_test(test_collection_stats_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

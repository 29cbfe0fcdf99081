/* The ABI can grow: a caller built against an older, shorter header passes structs that end
 * early (allocated here at exactly their old size, so ASan sees any read or write past them),
 * and the library reads and writes no more than their struct_size says. */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <setjmp.h>

#include <cmocka.h>

#include "test_api.h"

#define DIM 4

/* What an older caller's structs looked like: the leading fields of today's. */
typedef struct old_options {
    uint32_t struct_size;
    vdb_sync_mode sync;
    uint32_t sync_interval_ms;
    uint64_t segment_max_rows;
    uint64_t segment_max_bytes;
    uint64_t retention_seconds;
    uint32_t compaction_interval_ms;
    uint32_t compaction_min_segments;
    const char *log_uri;
    const char *meta_uri;
    const char *object_uri;
    int disable_io_uring;
} old_options;

typedef struct old_search_req { /* before read options existed */
    uint32_t struct_size;
    const char *collection;
    const char *vector_field;
    const float *vectors;
    size_t nq;
    uint32_t dim;
    uint32_t k;
    const char *filter;
    const char *params;
} old_search_req;

typedef struct old_field { /* only the name */
    uint32_t struct_size;
    const char *name;
} old_field;

typedef struct old_stats { /* only the first counter */
    uint32_t struct_size;
    uint64_t row_count;
} old_stats;

static vdb_db *open_db(const char *dir)
{
    old_options *o = malloc(sizeof *o);
    assert_non_null(o);
    vdb_options full;
    vdb_options_init(&full);
    memcpy(o, &full, sizeof *o);
    o->struct_size = sizeof *o;
    o->compaction_interval_ms = 0;
    vdb_db *db;
    OK(vdb_open(dir, (const vdb_options *)o, &db));
    free(o);
    return db;
}

static void make_collection(vdb_db *db)
{
    vdb_schema *s;
    OK(vdb_schema_new("c", &s));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_FLOAT_VECTOR, .dim = DIM)));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
    vdb_batch *b;
    int64_t ids[3] = {1, 2, 3};
    float v[3 * DIM] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2};
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, 3, 0));
    OK(vdb_batch_add_column(b, "v", VDB_TYPE_FLOAT_VECTOR, v, NULL, 3, DIM));
    uint64_t ts;
    OK(vdb_insert(db, "c", NULL, b, &ts, NULL));
    vdb_batch_free(b);
}

static void test_older_short_structs_are_read_and_written_within_their_size(void **state)
{
    (void)state;
    char *dir = test_tmpdir("abi_short");
    vdb_db *db = open_db(dir);
    make_collection(db);

    float q[DIM] = {1, 1, 1, 1};
    old_search_req *req = malloc(sizeof *req);
    assert_non_null(req);
    *req = (old_search_req){sizeof *req, "c", NULL, q, 1, DIM, 2, NULL, NULL};
    vdb_result *r;
    OK(vdb_search(db, (const vdb_search_req *)req, &r));
    assert_int_equal(vdb_result_rows(r, 0), 2);
    assert_int_equal(vdb_result_pk_int(r, 0, 0), 2);
    vdb_result_free(r);
    free(req);

    old_stats *st = malloc(sizeof *st);
    assert_non_null(st);
    st->struct_size = sizeof *st;
    OK(vdb_collection_stats(db, "c", (vdb_stats *)st));
    assert_int_equal(st->row_count, 3);
    assert_int_equal(st->struct_size, sizeof *st); /* the caller's size stays */
    free(st);

    vdb_schema *s;
    OK(vdb_describe_collection(db, "c", &s));
    old_field *f = malloc(sizeof *f);
    assert_non_null(f);
    f->struct_size = sizeof *f;
    OK(vdb_schema_field(s, 0, (vdb_field_def *)f));
    assert_string_equal(f->name, "id");
    free(f);
    vdb_schema_free(s);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_unset_struct_size_is_refused_and_changes_nothing(void **state)
{
    (void)state;
    char *dir = test_tmpdir("abi_unset");
    vdb_db *db = open_db(dir);
    make_collection(db);
    vdb_schema *s;
    OK(vdb_schema_new("d", &s));
    ERR(vdb_schema_add_field(s, &(vdb_field_def){.name = "id", .type = VDB_TYPE_INT64}),
        VDB_EINVAL, "vdb_field_def.struct_size");
    assert_int_equal(vdb_schema_field_count(s), 0);
    vdb_schema_free(s);
    vdb_result *r = NULL;
    int64_t one = 1;
    vdb_pk_list keys = {.ints = &one, .count = 1};
    ERR(vdb_get(db, "c", &keys, &(vdb_read_opts){.travel_ts = 0}, &r), VDB_EINVAL,
        "vdb_read_opts.struct_size");
    assert_null(r);
    OK(vdb_get(db, "c", &keys, VDB_READ_OPTS(.consistency = VDB_CONSISTENCY_STRONG), &r));
    assert_int_equal(vdb_result_rows(r, 0), 1);
    vdb_result_free(r);
    vdb_stats st = {0};
    ERR(vdb_collection_stats(db, "c", &st), VDB_EINVAL, "vdb_stats.struct_size");
    assert_int_equal(st.row_count, 0);
    float q[DIM] = {0};
    ERR(vdb_search(db, &(vdb_search_req){.collection = "c", .vectors = q, .nq = 1, .dim = DIM,
                                          .k = 1},
                   &r),
        VDB_EINVAL, "vdb_search_req.struct_size");
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_older_short_structs_are_read_and_written_within_their_size),
        cmocka_unit_test(test_unset_struct_size_is_refused_and_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* End-to-end tests of partition keys (Milvus's is_partition_key / num_partitions): the hashes,
 * the schema checks, results equal to a collection without a key over the same data (growing
 * and sealed segments, reopen and replay), partition pruning seen in read_segments, and the
 * partition calls refused as Milvus refuses them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vdb/vdb.h>

#include "core/partkey.h"
#include "test_api.h"

enum { D = 4, NPART = 8 };

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

/* id INT64 pk, tag INT64 (the partition key when keyed), color VARCHAR, vec. */
static void create(vdb_db *db, const char *name, bool keyed, uint32_t shards)
{
    vdb_schema *s;
    OK(vdb_schema_new(name, &s));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                         .is_primary = 1)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "tag", .type = VDB_TYPE_INT64,
                                         .is_partition_key = keyed)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "color", .type = VDB_TYPE_VARCHAR,
                                         .max_length = 16)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "vec", .type = VDB_TYPE_FLOAT_VECTOR,
                                         .dim = D)));
    if (keyed)
        OK(vdb_schema_set_partitions(s, NPART));
    OK(vdb_schema_set_shards(s, shards));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
}

static const char *const colors[] = {"red", "green", "blue", "cyan", "magenta"};

static void insert_rows(vdb_db *db, const char *coll, int64_t first, size_t n)
{
    int64_t *ids = malloc(n * sizeof *ids), *tags = malloc(n * sizeof *tags);
    const char **col = malloc(n * sizeof *col);
    float *vec = malloc(n * D * sizeof *vec);
    for (size_t i = 0; i < n; i++) {
        ids[i] = first + (int64_t)i;
        tags[i] = (ids[i] * 7) % 13 - 3; /* negative keys too */
        col[i] = colors[ids[i] % 5];
        for (int d = 0; d < D; d++)
            vec[i * D + d] = (float)((uint32_t)(ids[i] * 2654435761u + (uint32_t)d * 40503u) %
                                     100003u) / 1000.0f; /* distinct rows: no ties */
    }
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0));
    OK(vdb_batch_add_column(b, "tag", VDB_TYPE_INT64, tags, NULL, n, 0));
    OK(vdb_batch_add_column(b, "color", VDB_TYPE_VARCHAR, col, NULL, n, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vec, NULL, n, D));
    vdb_result *pks = NULL;
    OK(vdb_insert(db, coll, NULL, b, NULL, &pks));
    /* the keys come back in the order given, whatever the grouping by partition */
    assert_int_equal(vdb_result_rows(pks, 0), n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(vdb_result_pk_int(pks, 0, i), ids[i]);
    vdb_result_free(pks);
    vdb_batch_free(b);
    free(ids);
    free(tags);
    free(col);
    free(vec);
}

static uint64_t read_segments(vdb_db *db, const char *coll)
{
    vdb_stats st = {.struct_size = sizeof st};
    OK(vdb_collection_stats(db, coll, &st));
    return st.read_segments;
}

static const char *const filters[] = {
    NULL, "tag == 3", "tag in [1, -2, 9]", "tag == 3 or tag == 7", "tag > 2",
    "tag == 4 and id < 150", "color == \"red\"", "not (tag == 3)", "tag == 3 || color == \"blue\"",
    "tag in []",
};

static void search(vdb_db *db, const char *coll, const char *filter, vdb_result **r)
{
    float q[2 * D] = {1, 2, 3, 4, 5, 1, 0, 2};
    OK(vdb_search(db, &(vdb_search_req){.struct_size = sizeof(vdb_search_req),
                                        .collection = coll, .vectors = q, .nq = 2, .dim = D,
                                        .k = 20, .filter = filter},
                  r));
}

/* Searches, queries and counts of "k" equal those of "p". */
static void assert_same(vdb_db *db)
{
    for (size_t f = 0; f < sizeof filters / sizeof *filters; f++) {
        vdb_result *a, *b;
        search(db, "k", filters[f], &a);
        search(db, "p", filters[f], &b);
        for (size_t g = 0; g < 2; g++) {
            assert_int_equal(vdb_result_rows(a, g), vdb_result_rows(b, g));
            for (size_t i = 0; i < vdb_result_rows(a, g); i++) {
                assert_int_equal(vdb_result_pk_int(a, g, i), vdb_result_pk_int(b, g, i));
                assert_true(vdb_result_distance(a, g, i) == vdb_result_distance(b, g, i));
            }
        }
        vdb_result_free(a);
        vdb_result_free(b);
        uint64_t na, nb;
        OK(vdb_count(db, "k", filters[f], VDB_READ_OPTS(0), &na));
        OK(vdb_count(db, "p", filters[f], VDB_READ_OPTS(0), &nb));
        assert_int_equal(na, nb);
        if (!filters[f])
            continue;
        OK(vdb_query(db, "k", filters[f], VDB_READ_OPTS(0), 0, 0, &a));
        OK(vdb_query(db, "p", filters[f], VDB_READ_OPTS(0), 0, 0, &b));
        assert_int_equal(vdb_result_rows(a, 0), vdb_result_rows(b, 0));
        assert_int_equal(vdb_result_rows(a, 0), na);
        /* the same set of keys (order may differ with the segment layout) */
        int64_t sa = 0, sb = 0, xa = 0, xb = 0;
        for (size_t i = 0; i < vdb_result_rows(a, 0); i++) {
            sa += vdb_result_pk_int(a, 0, i);
            sb += vdb_result_pk_int(b, 0, i);
            xa ^= vdb_result_pk_int(a, 0, i) * 2654435761;
            xb ^= vdb_result_pk_int(b, 0, i) * 2654435761;
        }
        assert_int_equal(sa, sb);
        assert_int_equal(xa, xb);
        vdb_result_free(a);
        vdb_result_free(b);
    }
}

static void test_hashes(void **state)
{
    (void)state;
    /* published test vectors of MurmurHash3_x86_32 and CRC-32 (IEEE) */
    assert_int_equal(vdb_murmur3_32("", 0, 0), 0);
    assert_int_equal(vdb_murmur3_32("", 0, 1), 0x514e28b7u);
    assert_int_equal(vdb_murmur3_32("test", 4, 0), 0xba6bd213u);
    assert_int_equal(vdb_murmur3_32("Hello, world!", 13, 0), 0xc0363e43u);
    assert_int_equal(vdb_murmur3_32("The quick brown fox jumps over the lazy dog", 43, 0),
                     0x2e4ff723u);
    assert_int_equal(vdb_crc32_ieee("123456789", 9), 0xcbf43926u);
    assert_int_equal(vdb_crc32_ieee("", 0), 0);
    /* strings hash their first 100 bytes only */
    char a[150], b[150];
    memset(a, 'x', sizeof a);
    memcpy(b, a, sizeof b);
    b[120] = 'y';
    assert_int_equal(vdb_key_hash_str(a, 150), vdb_key_hash_str(b, 150));
    b[50] = 'y';
    assert_int_not_equal(vdb_key_hash_str(a, 150), vdb_key_hash_str(b, 150));
    assert_true(vdb_key_hash_int(-1) <= 0x7fffffffu);
}

static void test_schema_checks(void **state)
{
    (void)state;
    vdb_schema *s;
    OK(vdb_schema_new("c", &s));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "vec", .type = VDB_TYPE_FLOAT_VECTOR, .dim = 2)));
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "f", .type = VDB_TYPE_FLOAT,
                                          .is_partition_key = 1)),
        VDB_EINVAL, "Int64 or VarChar");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "n", .type = VDB_TYPE_INT64, .nullable = 1,
                                          .is_partition_key = 1)),
        VDB_EINVAL, "nullable");
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "pk2", .type = VDB_TYPE_INT64,
                                          .is_primary = 1, .is_partition_key = 1)),
        VDB_EINVAL, NULL);
    ERR(vdb_schema_set_partitions(s, 0), VDB_EINVAL, "num_partitions");
    ERR(vdb_schema_set_partitions(s, 1025), VDB_EINVAL, "num_partitions");
    assert_int_equal(vdb_schema_partitions(s), 0);
    char *dir = test_tmpdir("partkey_schema");
    vdb_db *db = open_db(dir);
    OK(vdb_schema_set_partitions(s, 4));
    ERR(vdb_create_collection(db, s), VDB_EINVAL, "partition key");
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "k", .type = VDB_TYPE_VARCHAR,
                                         .max_length = 8, .is_partition_key = 1)));
    ERR(vdb_schema_add_field(s, VDB_FIELD(.name = "k2", .type = VDB_TYPE_INT64,
                                          .is_partition_key = 1)),
        VDB_EINVAL, "more than one partition key");
    assert_int_equal(vdb_schema_partitions(s), 4);
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
    /* the default is 16, as Milvus */
    OK(vdb_schema_new("d", &s));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "k", .type = VDB_TYPE_INT64,
                                         .is_partition_key = 1)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "vec", .type = VDB_TYPE_FLOAT_VECTOR, .dim = 2)));
    assert_int_equal(vdb_schema_partitions(s), 16);
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
    for (int round = 0; round < 2; round++) {
        vdb_names *n;
        OK(vdb_list_partitions(db, "d", &n));
        assert_int_equal(n->count, 16);
        assert_string_equal(n->names[0], "_default_0");
        assert_string_equal(n->names[15], "_default_15");
        vdb_names_free(n);
        OK(vdb_describe_collection(db, "c", &s));
        assert_int_equal(vdb_schema_partitions(s), 4);
        vdb_field_def fd = {.struct_size = sizeof fd};
        OK(vdb_schema_field(s, 2, &fd));
        assert_string_equal(fd.name, "k");
        assert_true(fd.is_partition_key);
        OK(vdb_schema_field(s, 0, &fd));
        assert_false(fd.is_partition_key);
        vdb_schema_free(s);
        vdb_close(db);
        db = open_db(dir); /* survives reopen */
    }
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_same_results_and_pruning(void **state)
{
    (void)state;
    char *dir = test_tmpdir("partkey_same");
    vdb_db *db = open_db(dir);
    create(db, "k", true, 2);
    create(db, "p", false, 2);
    const char *names[2] = {"k", "p"};
    for (int c = 0; c < 2; c++) {
        insert_rows(db, names[c], 0, 120);
        OK(vdb_flush(db, names[c]));
        insert_rows(db, names[c], 120, 90);
        OK(vdb_flush(db, names[c]));
        insert_rows(db, names[c], 210, 70); /* growing */
        vdb_pk_list del = {.count = 3,
                           .ints = (const int64_t[]){5, 130, 220}};
        OK(vdb_delete(db, names[c], NULL, &del, NULL));
    }
    assert_same(db);

    /* pruning: a filter on one key reads the segments of one partition only */
    uint64_t r0 = read_segments(db, "k");
    vdb_result *r;
    search(db, "k", NULL, &r);
    vdb_result_free(r);
    uint64_t all = read_segments(db, "k") - r0;
    search(db, "k", "tag == 3", &r);
    vdb_result_free(r);
    uint64_t one = read_segments(db, "k") - r0 - all;
    assert_true(all > NPART); /* rows of every partition, sealed and growing */
    /* at most 1 partition x 2 shards x (2 sealed + 1 growing) */
    assert_true(one >= 1 && one <= 6 && one * 4 < all);
    uint64_t before = read_segments(db, "k");
    uint64_t n;
    OK(vdb_count(db, "k", "tag == 3 and color == \"red\"", VDB_READ_OPTS(0), &n));
    assert_true(read_segments(db, "k") - before <= 6);
    before = read_segments(db, "k");
    OK(vdb_count(db, "k", "tag > 3", VDB_READ_OPTS(0), &n)); /* a range: no pruning */
    assert_int_equal(read_segments(db, "k") - before, all);
    before = read_segments(db, "k");
    OK(vdb_count(db, "k", "tag in []", VDB_READ_OPTS(0), &n)); /* nothing to read */
    assert_int_equal(read_segments(db, "k") - before, 0);
    assert_int_equal(n, 0);

    /* an upsert moves a row to the partition of its new key */
    for (int c = 0; c < 2; c++) {
        vdb_batch *b;
        OK(vdb_batch_new(&b));
        int64_t id = 7, tag = 11;
        const char *col = "cyan";
        float v[D] = {1, 2, 3, 4};
        OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, &id, NULL, 1, 0));
        OK(vdb_batch_add_column(b, "tag", VDB_TYPE_INT64, &tag, NULL, 1, 0));
        OK(vdb_batch_add_column(b, "color", VDB_TYPE_VARCHAR, &col, NULL, 1, 0));
        OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, v, NULL, 1, D));
        OK(vdb_upsert(db, names[c], NULL, b, NULL, NULL));
        vdb_batch_free(b);
    }
    OK(vdb_count(db, "k", "tag == 11 and id == 7", VDB_READ_OPTS(0), &n));
    assert_int_equal(n, 1);
    assert_same(db);

    /* reopen: sealed segments and the replayed log give the same answers */
    vdb_close(db);
    db = open_db(dir);
    assert_same(db);
    OK(vdb_truncate_collection(db, "k"));
    OK(vdb_truncate_collection(db, "p"));
    for (int c = 0; c < 2; c++)
        insert_rows(db, names[c], 1000, 50);
    assert_same(db);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_partition_calls_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("partkey_refused");
    vdb_db *db = open_db(dir);
    create(db, "k", true, 1);
    insert_rows(db, "k", 0, 10);
    const char *msg = "partition key mode";
    ERR(vdb_create_partition(db, "k", "p1"), VDB_EINVAL, "disable create partition");
    ERR(vdb_drop_partition(db, "k", "_default_1"), VDB_EINVAL, "disable drop partition");
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    int64_t id = 99, tag = 1;
    const char *col = "red";
    float v[D] = {0};
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, &id, NULL, 1, 0));
    OK(vdb_batch_add_column(b, "tag", VDB_TYPE_INT64, &tag, NULL, 1, 0));
    OK(vdb_batch_add_column(b, "color", VDB_TYPE_VARCHAR, &col, NULL, 1, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, v, NULL, 1, D));
    ERR(vdb_insert(db, "k", "_default_0", b, NULL, NULL), VDB_EINVAL, msg);
    ERR(vdb_upsert(db, "k", "_default_0", b, NULL, NULL), VDB_EINVAL, msg);
    vdb_batch_free(b);
    vdb_pk_list del = {.count = 1, .ints = &id};
    ERR(vdb_delete(db, "k", "_default_0", &del, NULL), VDB_EINVAL, msg);
    ERR(vdb_delete_where(db, "k", "_default_0", "id > 0", NULL, NULL), VDB_EINVAL, msg);
    const char *parts[1] = {"_default_0"};
    uint64_t n;
    ERR(vdb_count(db, "k", NULL, VDB_READ_OPTS(.partitions = parts, .n_partitions = 1), &n),
        VDB_EINVAL, msg);
    float q[D] = {0};
    vdb_result *r = NULL;
    ERR(vdb_search(db, &(vdb_search_req){.struct_size = sizeof(vdb_search_req),
                                         .collection = "k", .vectors = q, .nq = 1, .dim = D,
                                         .k = 3, .read = {.partitions = parts,
                                                          .n_partitions = 1}},
                   &r),
        VDB_EINVAL, msg);
    OK(vdb_count(db, "k", NULL, VDB_READ_OPTS(0), &n));
    assert_int_equal(n, 10);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hashes),
        cmocka_unit_test(test_schema_checks),
        cmocka_unit_test(test_same_results_and_pruning),
        cmocka_unit_test(test_partition_calls_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

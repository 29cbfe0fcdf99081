/* End-to-end tests of aliases, rename_collection and truncate_collection: the calls, their
 * Milvus errors, reopen, and readers through an alias while another thread moves it. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
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

/* id INT64 pk, tag INT64, vec FLOAT_VECTOR(D) L2. */
static void create_simple(vdb_db *db, const char *name)
{
    vdb_schema *s;
    OK(vdb_schema_new(name, &s));
    vdb_field_def f[3] = {
        {.struct_size = sizeof f[0], .name = "id", .type = VDB_TYPE_INT64, .is_primary = 1},
        {.struct_size = sizeof f[0], .name = "tag", .type = VDB_TYPE_INT64},
        {.struct_size = sizeof f[0], .name = "vec", .type = VDB_TYPE_FLOAT_VECTOR, .dim = D,
         .metric = VDB_METRIC_L2}};
    for (int i = 0; i < 3; i++)
        OK(vdb_schema_add_field(s, &f[i]));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
}

/* n rows with ids first.. and tag = tag. */
static void insert_rows(vdb_db *db, const char *coll, const char *part, int64_t first, size_t n,
                        int64_t tag)
{
    int64_t *ids = malloc(n * sizeof *ids), *tags = malloc(n * sizeof *tags);
    float *vec = malloc(n * D * sizeof *vec);
    for (size_t i = 0; i < n; i++) {
        ids[i] = first + (int64_t)i;
        tags[i] = tag;
        for (int d = 0; d < D; d++)
            vec[i * D + d] = (float)(ids[i] % 17) + (float)d;
    }
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0));
    OK(vdb_batch_add_column(b, "tag", VDB_TYPE_INT64, tags, NULL, n, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vec, NULL, n, D));
    OK(vdb_insert(db, coll, part, b, NULL, NULL));
    vdb_batch_free(b);
    free(ids);
    free(tags);
    free(vec);
}

static uint64_t count(vdb_db *db, const char *coll)
{
    uint64_t n = 0;
    OK(vdb_count(db, coll, NULL, VDB_READ_OPTS(0), &n));
    return n;
}

static void assert_alias(vdb_db *db, const char *alias, const char *want)
{
    char name[VDB_MAX_NAME_LEN + 1];
    OK(vdb_describe_alias(db, alias, name, sizeof name));
    assert_string_equal(name, want);
}

static void assert_aliases(vdb_db *db, const char *coll, const char *const *want, size_t n)
{
    vdb_names *l;
    OK(vdb_list_aliases(db, coll, &l));
    assert_int_equal(l->count, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l->names[i], want[i]);
    vdb_names_free(l);
}

static void assert_schema_name(vdb_db *db, const char *coll, const char *want)
{
    vdb_schema *s;
    OK(vdb_describe_collection(db, coll, &s));
    assert_string_equal(vdb_schema_name(s), want);
    vdb_schema_free(s);
}

/* ---- aliases ------------------------------------------------------------------------------ */

static void test_alias_calls_errors_and_reopen(void **state)
{
    (void)state;
    char *dir = test_tmpdir("alias_calls");
    vdb_db *db = open_db(dir);
    create_simple(db, "a");
    create_simple(db, "b");
    OK(vdb_create_alias(db, "a", "x"));
    OK(vdb_create_alias(db, "a", "x")); /* the same again: no error, as Milvus */
    OK(vdb_create_alias(db, "b", "y"));

    /* every call takes the alias */
    insert_rows(db, "x", NULL, 0, 10, 1);
    insert_rows(db, "a", NULL, 10, 5, 1);
    assert_int_equal(count(db, "x"), 15);
    assert_int_equal(count(db, "a"), 15);
    assert_int_equal(count(db, "y"), 0);
    assert_schema_name(db, "x", "a");
    int ex = 0;
    OK(vdb_has_collection(db, "x", &ex));
    assert_true(ex);
    OK(vdb_create_partition(db, "x", "p1"));
    insert_rows(db, "x", "p1", 100, 3, 2);
    OK(vdb_flush(db, "x"));
    OK(vdb_create_index(db, "x", "vec", "FLAT", NULL));
    const char *type;
    OK(vdb_describe_index(db, "a", "vec", &type));
    assert_string_equal(type, "FLAT");
    OK(vdb_delete(db, "x", NULL, &(vdb_pk_list){.ints = (int64_t[]){0, 1}, .count = 2}, NULL));
    assert_int_equal(count(db, "a"), 16);
    float q[D] = {0};
    vdb_result *r;
    OK(vdb_search(db, &(vdb_search_req){.struct_size = sizeof(vdb_search_req),
                                        .collection = "x", .vectors = q, .nq = 1, .dim = D,
                                        .k = 3}, &r));
    assert_int_equal(vdb_result_rows(r, 0), 3);
    vdb_result_free(r);
    vdb_stats stt = {.struct_size = sizeof stt};
    OK(vdb_collection_stats(db, "x", &stt));
    assert_int_equal(stt.row_count, 16);

    /* the lists */
    const char *all[] = {"x", "y"}, *xa[] = {"x"}, *yb[] = {"y"};
    assert_aliases(db, NULL, all, 2);
    assert_aliases(db, "a", xa, 1);
    assert_aliases(db, "x", xa, 1); /* through the alias: the collection's aliases */
    assert_aliases(db, "b", yb, 1);
    vdb_names *cl;
    OK(vdb_list_collections(db, &cl)); /* aliases are not collections */
    assert_int_equal(cl->count, 2);
    vdb_names_free(cl);
    assert_alias(db, "x", "a");

    /* the errors, each changing nothing */
    ERR(vdb_create_alias(db, "b", "x"), VDB_EEXIST, "alter_alias");
    ERR(vdb_create_alias(db, "a", "b"), VDB_EEXIST, "name of a collection");
    ERR(vdb_create_alias(db, "x", "z"), VDB_EINVAL, "is an alias");
    ERR(vdb_create_alias(db, "nope", "z"), VDB_ENOTFOUND, "nope");
    ERR(vdb_create_alias(db, "a", "bad-name"), VDB_EINVAL, "bad-name");
    ERR(vdb_alter_alias(db, "a", "z"), VDB_ENOTFOUND, "'z'");
    ERR(vdb_alter_alias(db, "nope", "x"), VDB_ENOTFOUND, "nope");
    ERR(vdb_alter_alias(db, "y", "x"), VDB_EINVAL, "is an alias");
    ERR(vdb_alter_alias(db, "b", "a"), VDB_EEXIST, "name of a collection");
    ERR(vdb_drop_alias(db, "z"), VDB_ENOTFOUND, "'z'");
    ERR(vdb_drop_alias(db, "a"), VDB_ENOTFOUND, "'a'");
    char small[2];
    ERR(vdb_describe_alias(db, "z", small, sizeof small), VDB_ENOTFOUND, "'z'");
    ERR(vdb_describe_alias(db, "x", small, 1), VDB_ERANGE, "'x'");
    ERR(vdb_list_aliases(db, "nope", &cl), VDB_ENOTFOUND, "nope");
    ERR(vdb_drop_collection(db, "x"), VDB_EINVAL, "via alias");
    ERR(vdb_drop_collection(db, "a"), VDB_EINVAL, "drop them first");
    vdb_schema *s;
    OK(vdb_schema_new("x", &s));
    vdb_field_def pk = {.struct_size = sizeof pk, .name = "id", .type = VDB_TYPE_INT64,
                        .is_primary = 1};
    vdb_field_def v = {.struct_size = sizeof v, .name = "v", .type = VDB_TYPE_FLOAT_VECTOR,
                       .dim = 2, .metric = VDB_METRIC_L2};
    OK(vdb_schema_add_field(s, &pk));
    OK(vdb_schema_add_field(s, &v));
    ERR(vdb_create_collection(db, s), VDB_EEXIST, "alias");
    vdb_schema_free(s);
    assert_aliases(db, NULL, all, 2);
    assert_alias(db, "x", "a");
    ERR(vdb_create_alias(NULL, "a", "q"), VDB_EINVAL, NULL);
    ERR(vdb_create_alias(db, NULL, "q"), VDB_EINVAL, NULL);
    ERR(vdb_alter_alias(db, "a", NULL), VDB_EINVAL, NULL);
    ERR(vdb_drop_alias(db, NULL), VDB_EINVAL, NULL);
    ERR(vdb_list_aliases(db, NULL, NULL), VDB_EINVAL, NULL);
    ERR(vdb_describe_alias(db, "x", NULL, 10), VDB_EINVAL, NULL);

    /* alter moves it; all of it survives reopens */
    OK(vdb_alter_alias(db, "b", "x"));
    assert_alias(db, "x", "b");
    assert_int_equal(count(db, "x"), 0);
    OK(vdb_create_alias(db, "a", "w"));
    for (int round = 0; round < 2; round++) {
        vdb_close(db);
        db = open_db(dir);
        assert_alias(db, "x", "b");
        assert_alias(db, "y", "b");
        assert_alias(db, "w", "a");
        const char *wa[] = {"w"}, *xyb[] = {"x", "y"};
        assert_aliases(db, "a", wa, 1);
        assert_aliases(db, "b", xyb, 2);
        assert_int_equal(count(db, "w"), 16);
        assert_int_equal(count(db, "x"), 0);
    }
    OK(vdb_drop_alias(db, "w"));
    ERR(vdb_describe_alias(db, "w", small, sizeof small), VDB_ENOTFOUND, "'w'");
    OK(vdb_drop_collection(db, "a")); /* no alias left */
    vdb_close(db);
    db = open_db(dir);
    const char *xyb[] = {"x", "y"};
    assert_aliases(db, NULL, xyb, 2);
    OK(vdb_has_collection(db, "a", &ex));
    assert_false(ex);
    OK(vdb_has_collection(db, "w", &ex));
    assert_false(ex);
    /* an alias name freed by drop_alias may become a collection */
    OK(vdb_drop_alias(db, "y"));
    create_simple(db, "y");
    assert_int_equal(count(db, "y"), 0);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* ---- readers while the alias moves --------------------------------------------------------- */

enum { NA = 30, NB = 70, SWAPS = 300 };

typedef struct swapper {
    vdb_db *db;
    volatile int done;
    vdb_status st;
} swapper;

static void *swap_loop(void *arg)
{
    swapper *s = arg;
    for (int i = 0; i < SWAPS && s->st == VDB_OK; i++)
        s->st = vdb_alter_alias(s->db, i % 2 ? "ca" : "cb", "live");
    __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_readers_through_alias_while_it_moves(void **state)
{
    (void)state;
    char *dir = test_tmpdir("alias_swap");
    vdb_db *db = open_db(dir);
    create_simple(db, "ca");
    create_simple(db, "cb");
    insert_rows(db, "ca", NULL, 0, NA, 1);
    insert_rows(db, "cb", NULL, 0, NB, 2);
    OK(vdb_flush(db, "cb")); /* one sealed, one growing */
    OK(vdb_create_alias(db, "ca", "live"));
    swapper sw = {db, 0, VDB_OK};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, swap_loop, &sw), 0);
    size_t seen_a = 0, seen_b = 0, reads = 0;
    float q[D] = {0};
    /* reads go on until the swapper is done, and at least a few hundred of them */
    while (!__atomic_load_n(&sw.done, __ATOMIC_ACQUIRE) || reads < 300) {
        uint64_t n = 99999;
        vdb_status st = vdb_count(db, "live", NULL, VDB_READ_OPTS(0), &n);
        if (st != VDB_OK)
            fail_msg("read %zu through the alias: %s: %s", reads, vdb_status_name(st),
                     vdb_errmsg(NULL));
        if (n != NA && n != NB)
            fail_msg("read %zu through the alias counted %llu rows", reads,
                     (unsigned long long)n);
        seen_a += n == NA;
        seen_b += n == NB;
        /* a search: every hit of one collection (tag 1 or tag 2, never both) */
        vdb_result *r;
        const char *tagf[] = {"tag"};
        vdb_search_req req = {.struct_size = sizeof req, .collection = "live", .vectors = q,
                              .nq = 1, .dim = D, .k = 50,
                              .read = {.struct_size = sizeof(vdb_read_opts),
                                       .output_fields = tagf, .n_output_fields = 1}};
        st = vdb_search(db, &req, &r);
        if (st != VDB_OK)
            fail_msg("search %zu through the alias: %s: %s", reads, vdb_status_name(st),
                     vdb_errmsg(NULL));
        size_t rows = vdb_result_rows(r, 0);
        assert_true(rows == NA || rows == 50);
        int64_t first = -1;
        for (size_t i = 0; i < rows; i++) {
            vdb_value v;
            OK(vdb_result_field(r, 0, i, "tag", &v));
            if (first < 0)
                first = v.u.i64;
            assert_int_equal(v.u.i64, first);
        }
        assert_int_equal(first, rows == NA ? 1 : 2);
        vdb_result_free(r);
        reads++;
    }
    pthread_join(t, NULL);
    OK(sw.st);
    assert_int_equal(seen_a + seen_b, reads);
    assert_alias(db, "live", "ca"); /* the last swap, i = SWAPS - 1 odd */
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* ---- rename ----------------------------------------------------------------------------- */

static void test_rename_collection(void **state)
{
    (void)state;
    char *dir = test_tmpdir("alias_rename");
    vdb_db *db = open_db(dir);
    create_simple(db, "old");
    create_simple(db, "other");
    OK(vdb_create_alias(db, "old", "al"));
    OK(vdb_create_alias(db, "other", "al2"));
    OK(vdb_create_partition(db, "old", "p1"));
    insert_rows(db, "old", NULL, 0, 20, 1);
    OK(vdb_flush(db, "old"));
    insert_rows(db, "old", "p1", 20, 7, 1); /* only in the log */
    OK(vdb_create_index(db, "old", "tag", "STL_SORT", NULL));

    ERR(vdb_rename_collection(db, "old", "other"), VDB_EEXIST, "collection 'other' already exists");
    ERR(vdb_rename_collection(db, "old", "al2"), VDB_EEXIST, "alias 'al2' already exists");
    ERR(vdb_rename_collection(db, "al", "n2"), VDB_EINVAL, "via alias");
    ERR(vdb_rename_collection(db, "nope", "n2"), VDB_ENOTFOUND, "nope");
    ERR(vdb_rename_collection(db, "old", "old"), VDB_EINVAL, "the old one");
    ERR(vdb_rename_collection(db, "old", "9bad"), VDB_EINVAL, "9bad");
    ERR(vdb_rename_collection(db, NULL, "x"), VDB_EINVAL, NULL);
    assert_int_equal(count(db, "old"), 27);

    OK(vdb_rename_collection(db, "old", "renamed"));
    int ex = 1;
    OK(vdb_has_collection(db, "old", &ex));
    assert_false(ex);
    ERR(vdb_count(db, "old", NULL, VDB_READ_OPTS(0), &(uint64_t){0}), VDB_ENOTFOUND, "old");
    assert_int_equal(count(db, "renamed"), 27);
    assert_alias(db, "al", "renamed"); /* the alias followed */
    assert_schema_name(db, "al", "renamed");
    /* the old name is free again */
    create_simple(db, "old");
    assert_int_equal(count(db, "old"), 0);
    insert_rows(db, "renamed", NULL, 100, 3, 1);
    for (int round = 0; round < 2; round++) {
        vdb_close(db);
        db = open_db(dir);
        assert_int_equal(count(db, "renamed"), 30);
        assert_int_equal(count(db, "old"), 0);
        assert_alias(db, "al", "renamed");
        assert_alias(db, "al2", "other");
        assert_schema_name(db, "renamed", "renamed");
        const char *type;
        OK(vdb_describe_index(db, "renamed", "tag", &type));
        assert_string_equal(type, "STL_SORT");
        vdb_names *n;
        OK(vdb_list_partitions(db, "renamed", &n));
        assert_int_equal(n->count, 2);
        vdb_names_free(n);
        uint64_t c1 = 0;
        OK(vdb_count(db, "renamed", "tag == 1", VDB_READ_OPTS(0), &c1));
        assert_int_equal(c1, 30);
        if (round == 0)
            OK(vdb_flush(db, NULL));
    }
    /* renamed twice, back to a name in use is refused, to a free one works */
    ERR(vdb_rename_collection(db, "renamed", "old"), VDB_EEXIST, "old");
    OK(vdb_rename_collection(db, "renamed", "third"));
    vdb_close(db);
    db = open_db(dir);
    assert_int_equal(count(db, "third"), 30);
    assert_alias(db, "al", "third");
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* ---- truncate --------------------------------------------------------------------------- */

static void test_truncate_collection(void **state)
{
    (void)state;
    char *dir = test_tmpdir("alias_truncate");
    vdb_db *db = open_db(dir);
    create_simple(db, "t");
    create_simple(db, "keep");
    OK(vdb_create_alias(db, "t", "ta"));
    OK(vdb_create_partition(db, "t", "p1"));
    insert_rows(db, "t", NULL, 0, 40, 1);
    insert_rows(db, "keep", NULL, 0, 5, 1);
    OK(vdb_flush(db, NULL));
    insert_rows(db, "t", "p1", 40, 10, 1); /* in the log only */
    OK(vdb_create_index(db, "t", "vec", "FLAT", NULL));
    OK(vdb_create_index(db, "t", "tag", "STL_SORT", NULL));
    assert_int_equal(count(db, "t"), 50);

    ERR(vdb_truncate_collection(db, "nope"), VDB_ENOTFOUND, "nope");
    ERR(vdb_truncate_collection(db, NULL), VDB_EINVAL, NULL);
    OK(vdb_truncate_collection(db, "ta")); /* through the alias */
    assert_int_equal(count(db, "t"), 0);
    assert_int_equal(count(db, "keep"), 5);
    vdb_stats st = {.struct_size = sizeof st};
    OK(vdb_collection_stats(db, "t", &st));
    assert_int_equal(st.row_count, 0);
    assert_int_equal(st.sealed_segments, 0);
    float q[D] = {0};
    vdb_result *r;
    OK(vdb_search(db, &(vdb_search_req){.struct_size = sizeof(vdb_search_req),
                                        .collection = "t", .vectors = q, .nq = 1, .dim = D,
                                        .k = 5}, &r));
    assert_int_equal(vdb_result_rows(r, 0), 0);
    vdb_result_free(r);
    const char *type;
    OK(vdb_describe_index(db, "t", "vec", &type));
    assert_string_equal(type, "FLAT");
    OK(vdb_describe_index(db, "t", "tag", &type));
    assert_string_equal(type, "STL_SORT");
    vdb_names *n;
    OK(vdb_list_partitions(db, "t", &n));
    assert_int_equal(n->count, 2);
    vdb_names_free(n);
    assert_alias(db, "ta", "t");

    /* inserts work after it, the same keys included */
    insert_rows(db, "t", NULL, 0, 8, 3);
    insert_rows(db, "ta", "p1", 8, 4, 3);
    assert_int_equal(count(db, "t"), 12);
    vdb_result *g;
    OK(vdb_get(db, "t", &(vdb_pk_list){.ints = (int64_t[]){0, 39, 45}, .count = 3}, NULL, &g));
    assert_int_equal(vdb_result_rows(g, 0), 1); /* 0 again; 39, 45 went with the truncation */
    vdb_result_free(g);
    for (int round = 0; round < 2; round++) {
        vdb_close(db);
        db = open_db(dir);
        assert_int_equal(count(db, "t"), 12);
        assert_int_equal(count(db, "keep"), 5);
        uint64_t c3 = 0;
        OK(vdb_count(db, "t", "tag == 3", VDB_READ_OPTS(0), &c3));
        assert_int_equal(c3, 12);
        OK(vdb_describe_index(db, "t", "vec", &type));
        assert_string_equal(type, "FLAT");
        assert_alias(db, "ta", "t");
        if (round == 0)
            OK(vdb_flush(db, "t"));
    }
    /* truncated again, with sealed segments only; then reopened empty */
    OK(vdb_truncate_collection(db, "t"));
    assert_int_equal(count(db, "t"), 0);
    vdb_close(db);
    db = open_db(dir);
    assert_int_equal(count(db, "t"), 0);
    insert_rows(db, "t", NULL, 1000, 2, 4);
    assert_int_equal(count(db, "t"), 2);
    OK(vdb_drop_alias(db, "ta"));
    OK(vdb_drop_collection(db, "t"));
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* Truncations and renames while a writer inserts through an alias and segments are sealed
 * and indexed in the background: the writer never fails, nothing hangs, and what is left
 * after the last truncation is exactly what came after it. */
typedef struct writer {
    vdb_db *db;
    volatile int stop;
    size_t batches;
    vdb_status st;
    char msg[512];
} writer;

static void *write_loop(void *arg)
{
    writer *w = arg;
    float vec[20 * D];
    int64_t ids[20], tags[20];
    for (int64_t k = 0; !__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE); k++) {
        for (int i = 0; i < 20; i++) {
            ids[i] = k * 20 + i;
            tags[i] = 7;
            for (int d = 0; d < D; d++)
                vec[i * D + d] = (float)((ids[i] * 31 + d) % 97);
        }
        vdb_batch *b;
        vdb_status st = vdb_batch_new(&b);
        if (st == VDB_OK)
            st = vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, 20, 0);
        if (st == VDB_OK)
            st = vdb_batch_add_column(b, "tag", VDB_TYPE_INT64, tags, NULL, 20, 0);
        if (st == VDB_OK)
            st = vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vec, NULL, 20, D);
        if (st == VDB_OK)
            st = vdb_insert(w->db, "wa", NULL, b, NULL, NULL);
        vdb_batch_free(b);
        if (st != VDB_OK) {
            snprintf(w->msg, sizeof w->msg, "%s", vdb_errmsg(NULL));
            __atomic_store_n(&w->st, st, __ATOMIC_RELEASE);
            break;
        }
        __atomic_add_fetch(&w->batches, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void test_truncate_and_rename_under_writes_and_seals(void **state)
{
    (void)state;
    char *dir = test_tmpdir("alias_busy");
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    o.segment_max_rows = 64; /* background seals all the time */
    vdb_db *db = NULL;
    OK(vdb_open(dir, &o, &db));
    create_simple(db, "w");
    OK(vdb_create_index(db, "w", "vec", "HNSW", "M=8,efConstruction=32"));
    OK(vdb_create_alias(db, "w", "wa"));
    writer w = {.db = db, .st = VDB_OK};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_loop, &w), 0);
    for (int round = 0; round < 12; round++) {
        while (__atomic_load_n(&w.batches, __ATOMIC_ACQUIRE) < (size_t)(round + 1) * 5 &&
               __atomic_load_n(&w.st, __ATOMIC_ACQUIRE) == VDB_OK)
            sched_yield();
        if (round % 3 == 2)
            OK(vdb_rename_collection(db, round % 2 ? "w2" : "w", round % 2 ? "w" : "w2"));
        else
            OK(vdb_truncate_collection(db, "wa"));
    }
    __atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    if (w.st != VDB_OK)
        fail_msg("the writer failed: %s: %s", vdb_status_name(w.st), w.msg);
    OK(vdb_truncate_collection(db, "wa"));
    assert_int_equal(count(db, "wa"), 0);
    insert_rows(db, "wa", NULL, 0, 100, 9); /* seals again */
    OK(vdb_wait_for_seals(db, "wa", UINT64_MAX));
    char name[VDB_MAX_NAME_LEN + 1];
    OK(vdb_describe_alias(db, "wa", name, sizeof name));
    OK(vdb_wait_for_index(db, name, "vec", UINT64_MAX));
    assert_int_equal(count(db, "wa"), 100);
    vdb_close(db);
    db = open_db(dir);
    assert_int_equal(count(db, "wa"), 100);
    uint64_t n9 = 0;
    OK(vdb_count(db, "wa", "tag == 9", VDB_READ_OPTS(0), &n9));
    assert_int_equal(n9, 100);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alias_calls_errors_and_reopen),
        cmocka_unit_test(test_readers_through_alias_while_it_moves),
        cmocka_unit_test(test_rename_collection),
        cmocka_unit_test(test_truncate_collection),
        cmocka_unit_test(test_truncate_and_rename_under_writes_and_seals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* End-to-end concurrency through the public API: readers searching and getting while writers
 * insert and delete (with seals), writers on the same and on different collections, and
 * flush/compaction running alongside. Threads record problems; the main thread asserts. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vdb/vdb.h>

#include "test_common.h"

#define DIM 8

static float vec_at(int64_t id, int d)
{
    uint64_t s = (uint64_t)id * 2654435761u + (uint64_t)d * 40503u + 7;
    return test_randf(&s);
}

/* ---- failures seen by threads ---------------------------------------------------------------- */

static atomic_int failures;
static char first_failure[1024];
static pthread_mutex_t fail_mu = PTHREAD_MUTEX_INITIALIZER;

static void thread_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void thread_fail(const char *fmt, ...)
{
    if (atomic_fetch_add(&failures, 1) == 0) {
        pthread_mutex_lock(&fail_mu);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(first_failure, sizeof first_failure, fmt, ap);
        va_end(ap);
        pthread_mutex_unlock(&fail_mu);
    }
}

static void reset_failures(void)
{
    atomic_store(&failures, 0);
    first_failure[0] = 0;
}

static void check_no_failures(void)
{
    if (atomic_load(&failures))
        fail_msg("%d thread failure(s); first: %s", atomic_load(&failures), first_failure);
}

/* ---- setup ------------------------------------------------------------------------------------- */

static vdb_db *open_db(const char *path, uint64_t max_rows)
{
    vdb_options o;
    vdb_options_init(&o);
    o.segment_max_rows = max_rows;
    o.compaction_interval_ms = 0;
    o.compaction_min_segments = 2;
    vdb_db *db = NULL;
    vdb_status st = vdb_open(path, &o, &db);
    if (st != VDB_OK)
        fail_msg("open: %s: %s", vdb_status_name(st), vdb_errmsg(NULL));
    return db;
}

static void create(vdb_db *db, const char *name, uint32_t shards)
{
    vdb_schema *s;
    assert_int_equal(vdb_schema_new(name, &s), VDB_OK);
    vdb_field_def id = {.struct_size = sizeof id, .name = "id", .type = VDB_TYPE_INT64,
                        .is_primary = 1};
    vdb_field_def emb = {.struct_size = sizeof emb, .name = "emb", .type = VDB_TYPE_FLOAT_VECTOR,
                         .dim = DIM, .metric = VDB_METRIC_L2};
    assert_int_equal(vdb_schema_add_field(s, &id), VDB_OK);
    assert_int_equal(vdb_schema_add_field(s, &emb), VDB_OK);
    assert_int_equal(vdb_schema_set_shards(s, shards), VDB_OK);
    assert_int_equal(vdb_create_collection(db, s), VDB_OK);
    vdb_schema_free(s);
}

/* Inserts ids first..first+n-1 (no cmocka asserts: called from threads). */
static vdb_status insert_range(vdb_db *db, const char *coll, int64_t first, size_t n)
{
    int64_t *ids = malloc(n * sizeof *ids);
    float *vecs = malloc(n * DIM * sizeof *vecs);
    vdb_batch *b = NULL;
    vdb_status st = ids && vecs ? vdb_batch_new(&b) : VDB_ENOMEM;
    for (size_t i = 0; st == VDB_OK && i < n; i++) {
        ids[i] = first + (int64_t)i;
        for (int d = 0; d < DIM; d++)
            vecs[i * DIM + d] = vec_at(ids[i], d);
    }
    if (st == VDB_OK)
        st = vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0);
    if (st == VDB_OK)
        st = vdb_batch_add_column(b, "emb", VDB_TYPE_FLOAT_VECTOR, vecs, NULL, n, DIM);
    if (st == VDB_OK)
        st = vdb_insert(db, coll, NULL, b, NULL, NULL);
    vdb_batch_free(b);
    free(ids);
    free(vecs);
    return st;
}

/* Checks (main thread) that ids first..first+n-1 are all there with their vectors, except those
 * for which gone(id) is true, which must be absent. */
static void expect_rows(vdb_db *db, const char *coll, int64_t first, size_t n,
                        bool (*gone)(int64_t))
{
    int64_t *ids = malloc(n * sizeof *ids);
    assert_non_null(ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = first + (int64_t)i;
    const char *outs[] = {"emb"};
    vdb_read_opts ro = {.struct_size = sizeof ro, .output_fields = outs, .n_output_fields = 1};
    vdb_result *res;
    vdb_status st = vdb_get(db, coll, &(vdb_pk_list){.ints = ids, .count = n}, &ro, &res);
    if (st != VDB_OK)
        fail_msg("get: %s: %s", vdb_status_name(st), vdb_errmsg(NULL));
    size_t r = 0, rows = vdb_result_rows(res, 0);
    for (size_t i = 0; i < n; i++) {
        bool want = !(gone && gone(ids[i]));
        bool have = r < rows && vdb_result_pk_int(res, 0, r) == ids[i];
        if (want != have)
            fail_msg("%s: id %lld is %s", coll, (long long)ids[i],
                     want ? "missing" : "there after its delete");
        if (have) {
            vdb_value v;
            assert_int_equal(vdb_result_field(res, 0, r, "emb", &v), VDB_OK);
            for (int d = 0; d < DIM; d++)
                assert_true(v.u.vec.ptr[d] == vec_at(ids[i], d));
            r++;
        }
    }
    assert_int_equal(r, rows);
    vdb_result_free(res);
    free(ids);
}

/* ---- readers ---------------------------------------------------------------------------------- */

typedef struct shared {
    vdb_db *db;
    const char *coll;
    atomic_llong issued;  /* ids below this may have been inserted (set before each insert) */
    atomic_int stop;
    atomic_llong searches, gets;
    uint64_t seed;
} shared;

/* Every hit of a search is well-formed: at most k rows per query, L2 distances ascending, ids
 * that were inserted, the distance matching the row's vector. */
static void one_search(shared *sh, uint64_t *rng)
{
    float q[2 * DIM];
    for (int i = 0; i < 2 * DIM; i++)
        q[i] = test_randf(rng);
    uint32_t k = 1 + (uint32_t)(test_rand(rng) % 20);
    const char *outs[] = {"emb"};
    vdb_search_req req = {.struct_size = sizeof req, .collection = sh->coll, .vectors = q,
                          .nq = 2, .dim = DIM, .k = k,
                          .read = {.output_fields = outs, .n_output_fields = 1}};
    vdb_result *res = NULL;
    vdb_status st = vdb_search(sh->db, &req, &res);
    long long issued = atomic_load(&sh->issued);
    if (st != VDB_OK) {
        thread_fail("search: %s: %s", vdb_status_name(st), vdb_errmsg(NULL));
        return;
    }
    if (vdb_result_groups(res) != 2)
        thread_fail("search: %zu groups for 2 queries", vdb_result_groups(res));
    for (size_t g = 0; g < vdb_result_groups(res); g++) {
        size_t n = vdb_result_rows(res, g);
        if (n > k)
            thread_fail("search: %zu rows for k = %u", n, k);
        for (size_t r = 0; r < n; r++) {
            int64_t id = vdb_result_pk_int(res, g, r);
            float dist = vdb_result_distance(res, g, r);
            if (id < 0 || id >= issued)
                thread_fail("search returned id %lld, never inserted (issued < %lld)",
                            (long long)id, issued);
            if (r > 0 && dist < vdb_result_distance(res, g, r - 1))
                thread_fail("search distances not ascending at row %zu: %g < %g", r, dist,
                            vdb_result_distance(res, g, r - 1));
            vdb_value v;
            if (vdb_result_field(res, g, r, "emb", &v) != VDB_OK || v.u.vec.dim != DIM) {
                thread_fail("search: no emb for row %zu", r);
                continue;
            }
            float want = 0;
            for (int d = 0; d < DIM; d++) {
                if (v.u.vec.ptr[d] != vec_at(id, d))
                    thread_fail("search: id %lld has a wrong vector", (long long)id);
                float x = v.u.vec.ptr[d] - q[g * DIM + d];
                want += x * x;
            }
            if (dist < want - 1e-3f || dist > want + 1e-3f)
                thread_fail("search: id %lld distance %g, its vector gives %g", (long long)id,
                            dist, want);
        }
    }
    vdb_result_free(res);
    atomic_fetch_add(&sh->searches, 1);
}

static void one_get(shared *sh, uint64_t *rng)
{
    long long issued = atomic_load(&sh->issued);
    if (issued <= 0)
        return;
    int64_t ids[16];
    for (int i = 0; i < 16; i++)
        ids[i] = (int64_t)(test_rand(rng) % (uint64_t)issued);
    const char *outs[] = {"emb"};
    vdb_read_opts ro = {.struct_size = sizeof ro, .output_fields = outs, .n_output_fields = 1};
    vdb_result *res = NULL;
    vdb_status st = vdb_get(sh->db, sh->coll, &(vdb_pk_list){.ints = ids, .count = 16}, &ro,
                            &res);
    if (st != VDB_OK) {
        thread_fail("get: %s: %s", vdb_status_name(st), vdb_errmsg(NULL));
        return;
    }
    /* rows come in the order asked (a subsequence of ids) */
    size_t n = vdb_result_rows(res, 0), j = 0;
    if (n > 16)
        thread_fail("get: %zu rows for 16 keys", n);
    for (size_t r = 0; r < n && r < 16; r++) {
        int64_t id = vdb_result_pk_int(res, 0, r);
        while (j < 16 && ids[j] != id)
            j++;
        if (j == 16) {
            thread_fail("get returned id %lld not asked for (or out of order)", (long long)id);
            break;
        }
        j++;
        vdb_value v;
        if (vdb_result_field(res, 0, r, "emb", &v) != VDB_OK) {
            thread_fail("get: no emb");
            continue;
        }
        for (int d = 0; d < DIM; d++)
            if (v.u.vec.ptr[d] != vec_at(id, d)) {
                thread_fail("get: id %lld has a wrong vector", (long long)id);
                break;
            }
    }
    vdb_result_free(res);
    atomic_fetch_add(&sh->gets, 1);
}

static void *reader(void *arg)
{
    shared *sh = arg;
    uint64_t rng = atomic_fetch_add(&sh->searches, 0) + (uint64_t)(uintptr_t)&rng;
    while (!atomic_load(&sh->stop)) {
        one_search(sh, &rng);
        one_get(sh, &rng);
        /* A short pause: readers that never let go of the collection's read lock starve the
         * writer (reader-preferring rwlock), which would make this test run for minutes. */
        struct timespec pause = {0, 200000};
        nanosleep(&pause, NULL);
    }
    return NULL;
}

/* ---- readers during writes --------------------------------------------------------------------- */

#define W_BATCHES 60
#define W_ROWS 40

/* Deleted: after batch b (b % 4 == 3) the ids of batch b - 2 with id % 7 == 0. */
static bool deleted_in_rw(int64_t id)
{
    int64_t b = id / W_ROWS;
    return id % 7 == 0 && (b + 2) % 4 == 3 && b + 2 < W_BATCHES;
}

typedef struct writer_res {
    shared *sh;
    long long deleted;
} writer_res;

static void *rw_writer(void *arg)
{
    writer_res *wr = arg;
    shared *sh = wr->sh;
    for (int b = 0; b < W_BATCHES && !atomic_load(&failures); b++) {
        int64_t first = (int64_t)b * W_ROWS;
        atomic_store(&sh->issued, first + W_ROWS);
        vdb_status st = insert_range(sh->db, sh->coll, first, W_ROWS);
        if (st != VDB_OK) {
            thread_fail("insert batch %d: %s: %s", b, vdb_status_name(st), vdb_errmsg(NULL));
            break;
        }
        if (b % 4 == 3) {
            int64_t ids[W_ROWS];
            size_t n = 0;
            for (int64_t id = (int64_t)(b - 2) * W_ROWS; id < (int64_t)(b - 1) * W_ROWS; id++)
                if (id % 7 == 0)
                    ids[n++] = id;
            st = vdb_delete(sh->db, sh->coll, NULL, &(vdb_pk_list){.ints = ids, .count = n},
                            NULL);
            if (st != VDB_OK) {
                thread_fail("delete: %s: %s", vdb_status_name(st), vdb_errmsg(NULL));
                break;
            }
            wr->deleted += (long long)n;
        }
    }
    atomic_store(&sh->stop, 1);
    return NULL;
}

static void readers_during_writes(uint32_t shards)
{
    reset_failures();
    char *path = test_tmpdir("conc_rw");
    vdb_db *db = open_db(path, 150);
    create(db, "rw", shards);
    shared sh = {.db = db, .coll = "rw"};
    writer_res wr = {.sh = &sh};
    pthread_t rd[3], wt;
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&rd[i], NULL, reader, &sh), 0);
    assert_int_equal(pthread_create(&wt, NULL, rw_writer, &wr), 0);
    pthread_join(wt, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(rd[i], NULL);
    check_no_failures();
    assert_true(atomic_load(&sh.searches) > 0);
    /* segments that reached the threshold seal in the background */
    assert_int_equal(vdb_wait_for_seals(db, "rw", 60000), VDB_OK);
    vdb_stats st = {.struct_size = sizeof st};
    assert_int_equal(vdb_collection_stats(db, "rw", &st), VDB_OK);
    print_message("%u shard(s): %lld searches, %lld gets; %llu sealed segments\n", shards,
                  (long long)atomic_load(&sh.searches), (long long)atomic_load(&sh.gets),
                  (unsigned long long)st.sealed_segments);
    assert_int_equal(st.row_count, (uint64_t)(W_BATCHES * W_ROWS - wr.deleted));
    assert_true(st.sealed_segments > 0); /* seals happened during the run */
    expect_rows(db, "rw", 0, W_BATCHES * W_ROWS, deleted_in_rw);
    vdb_close(db);
    test_rmdir(path);
    free(path);
}

static void test_three_readers_and_a_writer_one_shard_see_wellformed_results(void **state)
{
    (void)state;
    readers_during_writes(1);
}

static void test_three_readers_and_a_writer_three_shards_see_wellformed_results(void **state)
{
    (void)state;
    readers_during_writes(3);
}

/* ---- several writers ----------------------------------------------------------------------------- */

typedef struct range_writer {
    vdb_db *db;
    const char *coll;
    int64_t first;
    int batches, rows;
} range_writer;

static void *range_writer_main(void *arg)
{
    range_writer *rw = arg;
    for (int b = 0; b < rw->batches && !atomic_load(&failures); b++) {
        vdb_status st = insert_range(rw->db, rw->coll, rw->first + (int64_t)b * rw->rows,
                                     (size_t)rw->rows);
        if (st != VDB_OK)
            thread_fail("insert into %s: %s: %s", rw->coll, vdb_status_name(st),
                        vdb_errmsg(NULL));
    }
    return NULL;
}

static void test_writers_on_same_and_different_collections_lose_no_row(void **state)
{
    (void)state;
    reset_failures();
    char *path = test_tmpdir("conc_ww");
    vdb_db *db = open_db(path, 200);
    create(db, "a", 2);
    create(db, "b", 1);
    /* two writers into "a" (disjoint ids) and one into "b" */
    range_writer w[3] = {
        {db, "a", 0, 40, 37},
        {db, "a", 100000, 40, 23},
        {db, "b", 0, 40, 31},
    };
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, range_writer_main, &w[i]), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    check_no_failures();
    vdb_stats st = {.struct_size = sizeof st};
    assert_int_equal(vdb_collection_stats(db, "a", &st), VDB_OK);
    assert_int_equal(st.row_count, 40 * 37 + 40 * 23);
    assert_int_equal(vdb_collection_stats(db, "b", &st), VDB_OK);
    assert_int_equal(st.row_count, 40 * 31);
    expect_rows(db, "a", 0, 40 * 37, NULL);
    expect_rows(db, "a", 100000, 40 * 23, NULL);
    expect_rows(db, "b", 0, 40 * 31, NULL);
    /* and after a reopen */
    vdb_close(db);
    db = open_db(path, 200);
    expect_rows(db, "a", 0, 40 * 37, NULL);
    expect_rows(db, "a", 100000, 40 * 23, NULL);
    expect_rows(db, "b", 0, 40 * 31, NULL);
    vdb_close(db);
    test_rmdir(path);
    free(path);
}

/* ---- flush and compaction alongside ------------------------------------------------------------ */

typedef struct maint {
    vdb_db *db;
    atomic_int *stop;
    long long passes;
} maint;

static void *maintenance(void *arg)
{
    maint *m = arg;
    while (!atomic_load(m->stop)) {
        vdb_status st = vdb_flush(m->db, "m");
        if (st != VDB_OK) {
            thread_fail("flush: %s: %s", vdb_status_name(st), vdb_errmsg(NULL));
            break;
        }
        st = vdb_compact(m->db, m->passes % 2 ? NULL : "m");
        if (st != VDB_OK) {
            thread_fail("compact: %s: %s", vdb_status_name(st), vdb_errmsg(NULL));
            break;
        }
        m->passes++;
    }
    return NULL;
}

static void test_flush_and_compact_alongside_inserts_and_searches(void **state)
{
    (void)state;
    reset_failures();
    char *path = test_tmpdir("conc_fc");
    vdb_db *db = open_db(path, 120);
    create(db, "m", 2);
    shared sh = {.db = db, .coll = "m"};
    atomic_store(&sh.issued, 50000 + 50 * 19); /* above both writers' ranges */
    range_writer w[2] = {
        {db, "m", 0, 50, 17},
        {db, "m", 50000, 50, 19},
    };
    maint m = {.db = db, .stop = &sh.stop};
    pthread_t tw[2], tr, tm;
    assert_int_equal(pthread_create(&tr, NULL, reader, &sh), 0);
    assert_int_equal(pthread_create(&tm, NULL, maintenance, &m), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&tw[i], NULL, range_writer_main, &w[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(tw[i], NULL);
    atomic_store(&sh.stop, 1);
    pthread_join(tr, NULL);
    pthread_join(tm, NULL);
    check_no_failures();
    assert_true(m.passes > 0);
    vdb_stats st = {.struct_size = sizeof st};
    assert_int_equal(vdb_collection_stats(db, "m", &st), VDB_OK);
    print_message("%lld flush+compact passes, %llu sealed segments, %lld searches\n", m.passes,
                  (unsigned long long)st.sealed_segments, (long long)atomic_load(&sh.searches));
    assert_int_equal(st.row_count, 50 * 17 + 50 * 19);
    expect_rows(db, "m", 0, 50 * 17, NULL);
    expect_rows(db, "m", 50000, 50 * 19, NULL);
    vdb_close(db);
    db = open_db(path, 120);
    assert_int_equal(vdb_collection_stats(db, "m", &st), VDB_OK);
    assert_int_equal(st.row_count, 50 * 17 + 50 * 19);
    expect_rows(db, "m", 0, 50 * 17, NULL);
    expect_rows(db, "m", 50000, 50 * 19, NULL);
    vdb_close(db);
    test_rmdir(path);
    free(path);
}

/* ---- seals behind the writer -------------------------------------------------------------- */

/* A segment past the threshold stops taking rows at once (so segments have the threshold's
 * size however late the background seal runs), stays visible while it is sealed, and the
 * seals land in order. */
static void test_threshold_seals_run_behind_the_writer_and_lose_nothing(void **state)
{
    (void)state;
    char *path = test_tmpdir("conc_seal_behind");
    vdb_db *db = open_db(path, 100);
    create(db, "s", 1);
    assert_int_equal(vdb_wait_for_seals(db, "s", 0), VDB_OK); /* nothing to wait for */
    for (int b = 0; b < 20; b++) {
        assert_int_equal(insert_range(db, "s", b * 50, 50), VDB_OK);
        uint64_t n = 0;
        assert_int_equal(vdb_count(db, "s", NULL, NULL, &n), VDB_OK);
        assert_int_equal(n, (uint64_t)(b + 1) * 50); /* every acknowledged row, sealing or not */
    }
    assert_int_equal(vdb_wait_for_seals(db, "s", 60000), VDB_OK);
    vdb_stats st = {.struct_size = sizeof st};
    assert_int_equal(vdb_collection_stats(db, "s", &st), VDB_OK);
    assert_int_equal(st.sealed_segments, 10);
    assert_int_equal(st.sealed_rows, 1000);
    assert_int_equal(st.growing_rows, 0);
    assert_int_equal(vdb_wait_for_seals(db, "nope", 0), VDB_ENOTFOUND);
    vdb_close(db);
    db = open_db(path, 100);
    assert_int_equal(vdb_collection_stats(db, "s", &st), VDB_OK);
    assert_int_equal(st.sealed_segments, 10);
    assert_int_equal(st.row_count, 1000);
    expect_rows(db, "s", 0, 1000, NULL);
    vdb_close(db);
    test_rmdir(path);
    free(path);
}

/* A growing segment that stops receiving rows is sealed after segment_idle_seal_ms, and not
 * while rows keep coming. */
static void test_idle_growing_segment_is_sealed_by_the_timer_not_during_inserts(void **state)
{
    (void)state;
    char *path = test_tmpdir("conc_idle_seal");
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    o.segment_idle_seal_ms = 2000; /* far above the insert gap, even on a loaded machine */
    vdb_db *db = NULL;
    assert_int_equal(vdb_open(path, &o, &db), VDB_OK);
    create(db, "i", 1);
    vdb_stats st = {.struct_size = sizeof st};
    for (int b = 0; b < 20; b++) { /* a row every 20 ms: never idle for 2000 */
        assert_int_equal(insert_range(db, "i", b, 1), VDB_OK);
        usleep(20000);
    }
    assert_int_equal(vdb_collection_stats(db, "i", &st), VDB_OK);
    assert_int_equal(st.sealed_segments, 0);
    assert_int_equal(st.growing_rows, 20);
    int waited = 0;
    do { /* idle now: the timer (a quarter of the idle time) seals it */
        usleep(100000);
        assert_int_equal(vdb_wait_for_seals(db, "i", 10000), VDB_OK);
        assert_int_equal(vdb_collection_stats(db, "i", &st), VDB_OK);
    } while (st.sealed_segments == 0 && ++waited < 300);
    assert_int_equal(st.sealed_segments, 1);
    assert_int_equal(st.sealed_rows, 20);
    assert_int_equal(st.row_count, 20);
    vdb_close(db);
    test_rmdir(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_readers_and_a_writer_one_shard_see_wellformed_results),
        cmocka_unit_test(test_three_readers_and_a_writer_three_shards_see_wellformed_results),
        cmocka_unit_test(test_writers_on_same_and_different_collections_lose_no_row),
        cmocka_unit_test(test_flush_and_compact_alongside_inserts_and_searches),
        cmocka_unit_test(test_threshold_seals_run_behind_the_writer_and_lose_nothing),
        cmocka_unit_test(test_idle_growing_segment_is_sealed_by_the_timer_not_during_inserts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

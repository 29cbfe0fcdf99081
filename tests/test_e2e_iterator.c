/* Iterators through the public API: a query iterator over many rows, with inserts, deletes,
 * seals and compactions running on another thread meanwhile, returns every row of its
 * snapshot exactly once, in key order, and its pin keeps compaction from purging rows it
 * still reads; a search iterator returns the ids of one big exact search, in order, none
 * twice (ties at one distance too). */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_api.h"

enum { D = 4 };

static size_t big_rows(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return 20000;
#else
    return getenv("VDB_TEST_SMALL") ? 20000 : 100000;
#endif
}

static vdb_db *open_db(const char *dir, uint64_t seg_rows, uint64_t retention)
{
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    o.compaction_min_segments = 2;
    o.segment_max_rows = seg_rows;
    o.retention_seconds = retention;
    vdb_db *db = NULL;
    vdb_status st = vdb_open(dir, &o, &db);
    if (st != VDB_OK)
        fail_msg("vdb_open(%s) -> %s: %s", dir, vdb_status_name(st), vdb_errmsg(NULL));
    return db;
}

static void create(vdb_db *db, const char *name, vdb_metric m)
{
    vdb_schema *s;
    OK(vdb_schema_new(name, &s));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                         .is_primary = 1)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "tag", .type = VDB_TYPE_INT64)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "vec", .type = VDB_TYPE_FLOAT_VECTOR,
                                         .dim = D, .metric = m)));
    OK(vdb_schema_set_shards(s, 2));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
}

/* Rows [from, to): tag = id % 7, vectors from seed (or all equal to `same` when given). */
static void insert_range(vdb_db *db, const char *name, int64_t from, int64_t to, uint64_t seed,
                         const float *same)
{
    size_t n = (size_t)(to - from);
    int64_t *ids = malloc(n * sizeof *ids), *tags = malloc(n * sizeof *tags);
    float *v = malloc(n * D * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        ids[i] = from + (int64_t)i;
        tags[i] = ids[i] % 7;
        for (int d = 0; d < D; d++)
            v[i * D + d] = same ? same[d] : test_randf(&seed);
    }
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0));
    OK(vdb_batch_add_column(b, "tag", VDB_TYPE_INT64, tags, NULL, n, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, v, NULL, n, D));
    uint64_t ts;
    OK(vdb_insert(db, name, NULL, b, &ts, NULL));
    vdb_batch_free(b);
    free(ids);
    free(tags);
    free(v);
}

/* ---- the query iterator under writes ------------------------------------------------------ */

typedef struct writer {
    vdb_db *db;
    int64_t n;          /* rows of the snapshot: 0..n-1 */
    _Atomic int stop;
    int rounds;
} writer;

/* Inserts new rows, deletes old ones (and some new ones), seals and compacts, until told to
 * stop: every change is after the iterator's snapshot. */
static void *write_loop(void *arg)
{
    writer *w = arg;
    uint64_t seed = 99;
    int64_t next = w->n;
    for (int round = 0; !w->stop || round < 4; round++) {
        insert_range(w->db, "big", next, next + 500, seed + (uint64_t)round, NULL);
        next += 500;
        int64_t del[200];
        for (int i = 0; i < 200; i++)
            del[i] = (int64_t)(test_rand(&seed) % (uint64_t)next);
        vdb_pk_list pks = {.ints = del, .count = 200};
        uint64_t ts;
        OK(vdb_delete(w->db, "big", NULL, &pks, &ts));
        if (round % 3 == 2) {
            OK(vdb_flush(w->db, "big"));
            OK(vdb_compact(w->db, "big"));
        }
        w->rounds = round + 1;
    }
    return NULL;
}

static void test_query_iterator_sees_its_snapshot_once(void **state)
{
    (void)state;
    char *dir = test_tmpdir("iter_query");
    size_t n = big_rows();
    /* retention 1 s: the deletes below fall behind the time horizon while the iterator runs,
     * and only its pin keeps compaction from purging the rows it has yet to return */
    vdb_db *db = open_db(dir, n / 5, 1);
    create(db, "big", VDB_METRIC_L2);
    for (size_t i = 0; i < n; i += 10000)
        insert_range(db, "big", (int64_t)i, (int64_t)(i + 10000 < n ? i + 10000 : n), i + 1, NULL);
    OK(vdb_flush(db, "big"));
    const char *outs[] = {"tag"};
    vdb_query_iter_req rq = {.struct_size = sizeof rq, .collection = "big", .batch_size = 1000,
                             .read = {.output_fields = outs, .n_output_fields = 1}};
    vdb_query_iterator *it;
    OK(vdb_query_iterator_open(db, &rq, &it));
    /* a filtered one over the same snapshot, opened at its timestamp */
    vdb_query_iter_req fq = rq;
    fq.filter = "tag == 3";
    fq.batch_size = 333;
    fq.read.travel_ts = vdb_query_iterator_ts(it);
    vdb_query_iterator *fit;
    OK(vdb_query_iterator_open(db, &fq, &fit));

    writer w = {.db = db, .n = (int64_t)n};
    pthread_t th;
    if (pthread_create(&th, NULL, write_loop, &w))
        fail_msg("pthread_create");
    unsigned char *seen = calloc(n, 1);
    int64_t prev = -1;
    size_t total = 0, batches = 0;
    for (;;) {
        vdb_result *b;
        OK(vdb_query_iterator_next(it, &b));
        size_t rows = vdb_result_rows(b, 0);
        if (!rows) {
            vdb_result_free(b);
            break;
        }
        assert_true(rows <= 1000);
        for (size_t r = 0; r < rows; r++) {
            int64_t id = vdb_result_pk_int(b, 0, r);
            if (id <= prev || id < 0 || id >= (int64_t)n)
                fail_msg("batch %zu row %zu: id %lld after %lld (snapshot holds 0..%zu)",
                         batches, r, (long long)id, (long long)prev, n - 1);
            vdb_value v;
            OK(vdb_result_field(b, 0, r, "tag", &v));
            assert_int_equal(v.u.i64, id % 7);
            seen[id]++;
            prev = id;
        }
        total += rows;
        vdb_result_free(b);
        if (++batches == n / 2000) /* halfway: let the horizon pass the first deletes */
            usleep(1200 * 1000);
    }
    assert_int_equal(total, n);
    for (size_t i = 0; i < n; i++)
        if (seen[i] != 1)
            fail_msg("row %zu returned %u times", i, seen[i]);
    size_t ftotal = 0;
    for (;;) {
        vdb_result *b;
        OK(vdb_query_iterator_next(fit, &b));
        size_t rows = vdb_result_rows(b, 0);
        for (size_t r = 0; r < rows; r++)
            assert_int_equal(vdb_result_pk_int(b, 0, r) % 7, 3);
        ftotal += rows;
        vdb_result_free(b);
        if (!rows)
            break;
    }
    size_t want = 0;
    for (size_t i = 0; i < n; i++)
        want += i % 7 == 3;
    assert_int_equal(ftotal, want);
    w.stop = 1;
    pthread_join(th, NULL);
    assert_true(w.rounds >= 4);
    /* after the end the iterator keeps saying so */
    vdb_result *b;
    OK(vdb_query_iterator_next(it, &b));
    assert_int_equal(vdb_result_rows(b, 0), 0);
    vdb_result_free(b);
    vdb_query_iterator_close(it);
    vdb_query_iterator_close(fit);
    free(seen);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_query_iterator_limit_errors_and_truncate(void **state)
{
    (void)state;
    char *dir = test_tmpdir("iter_limits");
    vdb_db *db = open_db(dir, 1000, 1);
    create(db, "c", VDB_METRIC_L2);
    insert_range(db, "c", 0, 2500, 5, NULL);
    vdb_query_iter_req rq = {.struct_size = sizeof rq, .collection = "c", .batch_size = 300,
                             .limit = 1000};
    vdb_query_iterator *it;
    OK(vdb_query_iterator_open(db, &rq, &it));
    size_t total = 0, rows;
    do {
        vdb_result *b;
        OK(vdb_query_iterator_next(it, &b));
        rows = vdb_result_rows(b, 0);
        assert_true(rows <= 300);
        total += rows;
        vdb_result_free(b);
    } while (rows);
    assert_int_equal(total, 1000);
    vdb_query_iterator_close(it);

    rq.limit = 0;
    rq.batch_size = 20000;
    ERR(vdb_query_iterator_open(db, &rq, &it), VDB_EINVAL, "batch_size");
    rq.batch_size = 10;
    rq.filter = "nosuch > 3";
    ERR(vdb_query_iterator_open(db, &rq, &it), VDB_EINVAL, NULL);
    rq.filter = NULL;
    rq.collection = "nosuch";
    ERR(vdb_query_iterator_open(db, &rq, &it), VDB_ENOTFOUND, "nosuch");
    rq.collection = "c";
    const char *cs[] = {"count(*)"};
    rq.read.output_fields = cs;
    rq.read.n_output_fields = 1;
    ERR(vdb_query_iterator_open(db, &rq, &it), VDB_EINVAL, "count(*)");
    rq.read.output_fields = NULL;
    rq.read.n_output_fields = 0;
    /* a snapshot already behind the horizon is refused; an open iterator's is not */
    uint64_t old;
    OK(vdb_now(db, &old));
    rq.read.travel_ts = old;
    OK(vdb_query_iterator_open(db, &rq, &it));
    usleep(1200 * 1000);
    vdb_query_iterator *it2;
    OK(vdb_query_iterator_open(db, &rq, &it2)); /* it pins that time */
    vdb_query_iterator_close(it2);
    vdb_query_iterator_close(it);
    ERR(vdb_query_iterator_open(db, &rq, &it2), VDB_ERANGE, "retention");
    rq.read.travel_ts = 0;
    /* truncation under an open iterator: its snapshot is gone, said so */
    OK(vdb_query_iterator_open(db, &rq, &it));
    vdb_result *b;
    OK(vdb_query_iterator_next(it, &b));
    assert_int_equal(vdb_result_rows(b, 0), 10);
    vdb_result_free(b);
    OK(vdb_truncate_collection(db, "c"));
    ERR(vdb_query_iterator_next(it, &b), VDB_ERANGE, "truncated");
    vdb_query_iterator_close(it);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* ---- the search iterator ------------------------------------------------------------------ */

static void drain_search(vdb_search_iterator *it, uint32_t batch, int64_t *ids, float *dist,
                         size_t *n, bool higher)
{
    *n = 0;
    for (;;) {
        vdb_result *b;
        OK(vdb_search_iterator_next(it, &b));
        size_t rows = vdb_result_rows(b, 0);
        assert_true(rows <= batch);
        for (size_t r = 0; r < rows; r++) {
            ids[*n] = vdb_result_pk_int(b, 0, r);
            dist[*n] = vdb_result_distance(b, 0, r);
            if (*n && (higher ? dist[*n] > dist[*n - 1] : dist[*n] < dist[*n - 1]))
                fail_msg("hit %zu: distance %g after %g", *n, (double)dist[*n],
                         (double)dist[*n - 1]);
            (*n)++;
        }
        vdb_result_free(b);
        if (!rows)
            return;
    }
}

static void check_search_iterator(vdb_db *db, const char *coll, vdb_metric m, bool sealed)
{
    enum { NR = 3000 };
    float q[D] = {0.1f, -0.2f, 0.3f, 0.05f};
    const char *filter = "tag != 2";
    vdb_search_req big = {.struct_size = sizeof big, .collection = coll, .vectors = q,
                          .nq = 1, .dim = D, .k = NR, .filter = filter};
    vdb_result *all;
    OK(vdb_search(db, &big, &all));
    size_t nall = vdb_result_rows(all, 0);
    assert_true(nall > NR / 2);
    vdb_search_iter_req rq = {.struct_size = sizeof rq, .collection = coll, .vector = q,
                              .dim = D, .filter = filter, .batch_size = 97};
    vdb_search_iterator *it;
    OK(vdb_search_iterator_open(db, &rq, &it));
    /* writes after the snapshot change nothing the iterator returns */
    insert_range(db, coll, NR, NR + 300, 777, NULL);
    int64_t del[50];
    for (int i = 0; i < 50; i++)
        del[i] = i * 7;
    vdb_pk_list pks = {.ints = del, .count = 50};
    uint64_t ts;
    OK(vdb_delete(db, coll, NULL, &pks, &ts));
    if (sealed)
        OK(vdb_flush(db, coll));
    int64_t *ids = malloc((NR + 400) * sizeof *ids);
    float *dist = malloc((NR + 400) * sizeof *dist);
    size_t n;
    drain_search(it, 97, ids, dist, &n, m != VDB_METRIC_L2);
    assert_int_equal(n, nall);
    for (size_t j = 0; j < n; j++) {
        if (ids[j] != vdb_result_pk_int(all, 0, j))
            fail_msg("%s: hit %zu is %lld, the exact search has %lld", coll, j,
                     (long long)ids[j], (long long)vdb_result_pk_int(all, 0, j));
        assert_true(dist[j] == vdb_result_distance(all, 0, j));
    }
    vdb_search_iterator_close(it);
    /* limit, and a window of the caller's own (radius) */
    rq.limit = 250;
    OK(vdb_search_iterator_open(db, &rq, &it));
    drain_search(it, 97, ids, dist, &n, m != VDB_METRIC_L2);
    assert_int_equal(n, 250);
    vdb_search_iterator_close(it);
    free(ids);
    free(dist);
    vdb_result_free(all);
}

static void test_search_iterator_equals_one_exact_search(void **state)
{
    (void)state;
    char *dir = test_tmpdir("iter_search");
    vdb_db *db = open_db(dir, 700, 432000);
    create(db, "l2", VDB_METRIC_L2);
    create(db, "ip", VDB_METRIC_IP);
    insert_range(db, "l2", 0, 3000, 31, NULL);
    insert_range(db, "ip", 0, 3000, 32, NULL);
    OK(vdb_wait_for_seals(db, "l2", UINT64_MAX)); /* sealed and growing segments both */
    OK(vdb_wait_for_seals(db, "ip", UINT64_MAX));
    check_search_iterator(db, "l2", VDB_METRIC_L2, true);
    check_search_iterator(db, "ip", VDB_METRIC_IP, false);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_search_iterator_pages_through_ties(void **state)
{
    (void)state;
    char *dir = test_tmpdir("iter_ties");
    vdb_db *db = open_db(dir, 100000, 432000);
    create(db, "t", VDB_METRIC_L2);
    float same[D] = {0.5f, 0.5f, 0.5f, 0.5f};
    insert_range(db, "t", 0, 300, 3, NULL);
    insert_range(db, "t", 300, 500, 0, same); /* 200 hits at one distance */
    OK(vdb_flush(db, "t"));
    insert_range(db, "t", 500, 600, 0, same); /* ... and 100 more in a growing segment */
    float q[D] = {0.4f, 0.5f, 0.6f, 0.5f};
    vdb_search_iter_req rq = {.struct_size = sizeof rq, .collection = "t", .vector = q,
                              .dim = D, .batch_size = 7};
    vdb_search_iterator *it;
    OK(vdb_search_iterator_open(db, &rq, &it));
    int64_t ids[700];
    float dist[700];
    size_t n;
    drain_search(it, 7, ids, dist, &n, false);
    assert_int_equal(n, 600);
    unsigned char seen[600] = {0};
    for (size_t j = 0; j < n; j++)
        if (ids[j] < 0 || ids[j] >= 600 || seen[ids[j]]++)
            fail_msg("hit %zu: id %lld returned again", j, (long long)ids[j]);
    vdb_search_iterator_close(it);
    /* resuming (a stateless server's way): from the first 3 batches' last distance and the
     * keys returned at it, at their timestamp, the rest comes out as above */
    OK(vdb_search_iterator_open(db, &rq, &it));
    uint64_t T = vdb_search_iterator_ts(it);
    int64_t head[21];
    float last = 0;
    size_t nh = 0;
    for (int b = 0; b < 3; b++) {
        vdb_result *r;
        OK(vdb_search_iterator_next(it, &r));
        for (size_t j = 0; j < vdb_result_rows(r, 0); j++) {
            head[nh++] = vdb_result_pk_int(r, 0, j);
            last = vdb_result_distance(r, 0, j);
        }
        vdb_result_free(r);
    }
    vdb_search_iterator_close(it);
    assert_int_equal(nh, 21);
    int64_t at_last[21];
    size_t nl = 0;
    for (size_t j = 0; j < 21; j++)
        if (dist[j] == last)
            at_last[nl++] = head[j];
    vdb_pk_list lp = {.ints = at_last, .count = nl};
    vdb_search_iter_req rr = rq;
    rr.read.travel_ts = T;
    rr.resume = 1;
    rr.last_bound = last;
    rr.last_pks = &lp;
    OK(vdb_search_iterator_open(db, &rr, &it));
    int64_t rest[700];
    float rdist[700];
    size_t nr;
    drain_search(it, 7, rest, rdist, &nr, false);
    vdb_search_iterator_close(it);
    assert_int_equal(nh + nr, 600);
    for (size_t j = 0; j < nh; j++) {
        assert_int_equal(head[j], ids[j]);
        seen[head[j]]++;
    }
    for (size_t j = 0; j < nr; j++)
        if (seen[rest[j]]++ != 1) /* each once over head and rest together */
            fail_msg("resumed hit %zu: id %lld", j, (long long)rest[j]);
    /* bad requests are refused at open */
    rq.params = "round_decimal=2";
    ERR(vdb_search_iterator_open(db, &rq, &it), VDB_EINVAL, "round_decimal");
    rq.params = NULL;
    rq.dim = 3;
    ERR(vdb_search_iterator_open(db, &rq, &it), VDB_EINVAL, "dim");
    rq.dim = D;
    rq.collection = "nosuch";
    ERR(vdb_search_iterator_open(db, &rq, &it), VDB_ENOTFOUND, "nosuch");
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_iterator_sees_its_snapshot_once),
        cmocka_unit_test(test_query_iterator_limit_errors_and_truncate),
        cmocka_unit_test(test_search_iterator_equals_one_exact_search),
        cmocka_unit_test(test_search_iterator_pages_through_ties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

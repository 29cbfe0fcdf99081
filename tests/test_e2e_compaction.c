/* End-to-end compaction through the public API: merging small sealed segments and purging rows
 * deleted behind the retention horizon must not change any answer time travel can still ask
 * for, before or after a reopen. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vdb/vdb.h>

#include "test_common.h"

#define DIM 4
#define COLL "cmp"
#define BATCH 20     /* rows per batch: < segment_max_rows / 2, so every flushed segment is small */
#define MAX_IDS 1000
#define MAX_TS 64

static float vec_at(int64_t id, int64_t val, int d)
{
    uint64_t s = (uint64_t)id * 7919u + (uint64_t)val * 104729u + (uint64_t)d * 31u + 1;
    return test_randf(&s);
}

static const float query[DIM] = {0.1f, -0.2f, 0.3f, 0.05f};

static vdb_db *open_db(const char *path, uint64_t retention)
{
    vdb_options o;
    vdb_options_init(&o);
    o.retention_seconds = retention;
    o.segment_max_rows = 50;
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
    vdb_field_def id = {.struct_size = sizeof id, .name = "id", .type = VDB_TYPE_INT64,
                        .is_primary = 1};
    vdb_field_def val = {.struct_size = sizeof val, .name = "val", .type = VDB_TYPE_INT64};
    vdb_field_def emb = {.struct_size = sizeof emb, .name = "emb", .type = VDB_TYPE_FLOAT_VECTOR,
                         .dim = DIM,
                         .metric = VDB_METRIC_L2};
    assert_int_equal(vdb_schema_add_field(s, &id), VDB_OK);
    assert_int_equal(vdb_schema_add_field(s, &val), VDB_OK);
    assert_int_equal(vdb_schema_add_field(s, &emb), VDB_OK);
    assert_int_equal(vdb_create_collection(db, s), VDB_OK);
    vdb_schema_free(s);
}

/* The workload and what it did. */
typedef struct work {
    int64_t next_id;
    uint64_t ts[MAX_TS]; /* travel timestamps recorded */
    size_t nts;
} work;

static uint64_t write_rows(vdb_db *db, const int64_t *ids, size_t n, int64_t val, bool upsert)
{
    int64_t vals[BATCH * 2];
    float vecs[BATCH * 2 * DIM];
    assert_true(n <= BATCH * 2);
    for (size_t i = 0; i < n; i++) {
        vals[i] = val;
        for (int d = 0; d < DIM; d++)
            vecs[i * DIM + d] = vec_at(ids[i], val, d);
    }
    vdb_batch *b;
    assert_int_equal(vdb_batch_new(&b), VDB_OK);
    assert_int_equal(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0), VDB_OK);
    assert_int_equal(vdb_batch_add_column(b, "val", VDB_TYPE_INT64, vals, NULL, n, 0), VDB_OK);
    assert_int_equal(vdb_batch_add_column(b, "emb", VDB_TYPE_FLOAT_VECTOR, vecs, NULL, n, DIM),
                     VDB_OK);
    uint64_t ts = 0;
    vdb_status st = upsert ? vdb_upsert(db, COLL, NULL, b, &ts, NULL)
                           : vdb_insert(db, COLL, NULL, b, &ts, NULL);
    if (st != VDB_OK)
        fail_msg("%s: %s: %s", upsert ? "upsert" : "insert", vdb_status_name(st),
                 vdb_errmsg(NULL));
    vdb_batch_free(b);
    return ts;
}

static void note_ts(work *w, uint64_t ts)
{
    assert_true(w->nts < MAX_TS);
    w->ts[w->nts++] = ts;
}

/* One round: `batches` batches of fresh ids, each flushed (a small sealed segment); deletes
 * of ids del_from..+ndel step 3; upserts of ids up_from..+nup step 3 (val 1000 + round);
 * flush. With record, the timestamp of every write goes into w->ts. */
static void round_of_writes(vdb_db *db, work *w, int batches, int64_t del_from, int ndel,
                            int64_t up_from, int nup, int round, bool record)
{
    for (int b = 0; b < batches; b++) {
        int64_t ids[BATCH];
        for (int i = 0; i < BATCH; i++)
            ids[i] = w->next_id++;
        uint64_t ts = write_rows(db, ids, BATCH, round, false);
        if (record)
            note_ts(w, ts);
        assert_int_equal(vdb_flush(db, COLL), VDB_OK);
    }
    if (ndel) {
        int64_t ids[BATCH * 2];
        for (int i = 0; i < ndel; i++)
            ids[i] = del_from + 3 * i;
        uint64_t ts = 0;
        assert_int_equal(vdb_delete(db, COLL, NULL, &(vdb_pk_list){.ints = ids,
                                                                   .count = (size_t)ndel},
                                    &ts),
                         VDB_OK);
        if (record)
            note_ts(w, ts);
    }
    if (nup) {
        int64_t ids[BATCH * 2];
        for (int i = 0; i < nup; i++)
            ids[i] = up_from + 3 * i;
        uint64_t ts = write_rows(db, ids, (size_t)nup, 1000 + round, true);
        if (record)
            note_ts(w, ts);
    }
    assert_int_equal(vdb_flush(db, COLL), VDB_OK);
}

/* An answer: rows of a get of every id, and of a search with k = every row. */
typedef struct answer {
    size_t nget;
    int64_t get_id[MAX_IDS], get_val[MAX_IDS];
    float get_v0[MAX_IDS];
    size_t nsearch;
    int64_t s_id[MAX_IDS], s_val[MAX_IDS];
    float s_dist[MAX_IDS];
} answer;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void read_at(vdb_db *db, const work *w, uint64_t ts, answer *a)
{
    memset(a, 0, sizeof *a);
    static int64_t ids[MAX_IDS];
    for (int64_t i = 0; i < w->next_id; i++)
        ids[i] = i;
    const char *outs[] = {"val", "emb"};
    vdb_read_opts ro = {.struct_size = sizeof ro, .travel_ts = ts, .output_fields = outs,
                        .n_output_fields = 2};
    vdb_result *res;
    vdb_status st = vdb_get(db, COLL, &(vdb_pk_list){.ints = ids, .count = (size_t)w->next_id},
                            &ro, &res);
    if (st != VDB_OK)
        fail_msg("get at %llu: %s: %s", (unsigned long long)ts, vdb_status_name(st),
                 vdb_errmsg(NULL));
    a->nget = vdb_result_rows(res, 0);
    int64_t prev = -1;
    for (size_t r = 0; r < a->nget; r++) {
        vdb_value v;
        a->get_id[r] = vdb_result_pk_int(res, 0, r);
        assert_true(a->get_id[r] > prev); /* in the order asked, each at most once */
        prev = a->get_id[r];
        assert_int_equal(vdb_result_field(res, 0, r, "val", &v), VDB_OK);
        a->get_val[r] = v.u.i64;
        assert_int_equal(vdb_result_field(res, 0, r, "emb", &v), VDB_OK);
        a->get_v0[r] = v.u.vec.ptr[0];
        /* the vector belongs to this (id, val) */
        for (int d = 0; d < DIM; d++)
            assert_true(v.u.vec.ptr[d] == vec_at(a->get_id[r], a->get_val[r], d));
    }
    vdb_result_free(res);

    vdb_search_req req = {.struct_size = sizeof req, .collection = COLL, .vectors = query,
                          .nq = 1, .dim = DIM, .k = MAX_IDS,
                          .read = {.travel_ts = ts, .output_fields = outs,
                                   .n_output_fields = 1}};
    st = vdb_search(db, &req, &res);
    if (st != VDB_OK)
        fail_msg("search at %llu: %s: %s", (unsigned long long)ts, vdb_status_name(st),
                 vdb_errmsg(NULL));
    a->nsearch = vdb_result_rows(res, 0);
    /* search at T sees exactly what get at T sees */
    assert_int_equal(a->nsearch, a->nget);
    struct {
        int64_t id, val;
        float dist;
    } rows[MAX_IDS];
    for (size_t r = 0; r < a->nsearch; r++) {
        vdb_value v;
        rows[r].id = vdb_result_pk_int(res, 0, r);
        rows[r].dist = vdb_result_distance(res, 0, r);
        if (r > 0)
            assert_true(rows[r].dist >= rows[r - 1].dist);
        assert_int_equal(vdb_result_field(res, 0, r, "val", &v), VDB_OK);
        rows[r].val = v.u.i64;
    }
    vdb_result_free(res);
    qsort(rows, a->nsearch, sizeof rows[0], cmp_i64); /* by id (the first member) */
    for (size_t r = 0; r < a->nsearch; r++) {
        a->s_id[r] = rows[r].id;
        a->s_val[r] = rows[r].val;
        a->s_dist[r] = rows[r].dist;
        /* the same rows as the get */
        assert_int_equal(a->s_id[r], a->get_id[r]);
        assert_int_equal(a->s_val[r], a->get_val[r]);
    }
}

static void same_answer(const answer *x, const answer *y, uint64_t ts, const char *when)
{
    if (x->nget != y->nget)
        fail_msg("%s: at ts %llu get returned %zu rows, before %zu", when,
                 (unsigned long long)ts, y->nget, x->nget);
    for (size_t r = 0; r < x->nget; r++) {
        if (x->get_id[r] != y->get_id[r] || x->get_val[r] != y->get_val[r] ||
            x->get_v0[r] != y->get_v0[r])
            fail_msg("%s: at ts %llu get row %zu is (%lld, %lld), before (%lld, %lld)", when,
                     (unsigned long long)ts, r, (long long)y->get_id[r],
                     (long long)y->get_val[r], (long long)x->get_id[r],
                     (long long)x->get_val[r]);
    }
    assert_int_equal(x->nsearch, y->nsearch);
    for (size_t r = 0; r < x->nsearch; r++) {
        assert_int_equal(x->s_id[r], y->s_id[r]);
        assert_int_equal(x->s_val[r], y->s_val[r]);
        assert_float_equal(x->s_dist[r], y->s_dist[r], 1e-5);
    }
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

static vdb_stats stats_of(vdb_db *db)
{
    vdb_stats s = {.struct_size = sizeof s};
    assert_int_equal(vdb_collection_stats(db, COLL, &s), VDB_OK);
    return s;
}

static void test_compaction_purges_behind_horizon_and_keeps_travel_answers(void **state)
{
    (void)state;
    char *path = test_tmpdir("cmp_purge");
    vdb_db *db = open_db(path, 2);
    create(db);
    work *w = calloc(1, sizeof *w);
    assert_non_null(w);
    /* Round 1: 6 small segments (ids 0..119); delete 10 of them and upsert 8 others. */
    round_of_writes(db, w, 6, 0, 10, 1, 8, 1, false);
    vdb_stats s1 = stats_of(db);
    assert_int_equal(s1.growing_rows, 0);
    assert_int_equal(s1.row_count, 120 - 10);
    /* the first round's deletes and old versions go behind the 2 s horizon */
    sleep_ms(2500);
    /* Round 2: 4 more small segments (ids 120..199); delete 6 (3 from round 1, 3 from round 2:
     * ids 111, 114, ..., 126) and upsert 5 (ids 122..134, round 2 rows). */
    round_of_writes(db, w, 4, 111, 6, 122, 5, 2, true);
    uint64_t now;
    assert_int_equal(vdb_now(db, &now), VDB_OK);
    note_ts(w, now);
    vdb_stats before = stats_of(db);
    assert_int_equal(before.growing_rows, 0);
    assert_int_equal(before.row_count, 200 - 10 - 6);
    /* 200 inserted + 8 + 5 upserted versions */
    assert_int_equal(before.sealed_rows, 200 + 8 + 5);

    answer *ref = calloc(w->nts, sizeof *ref), *got = malloc(sizeof *got);
    assert_non_null(ref);
    assert_non_null(got);
    for (size_t i = 0; i < w->nts; i++)
        read_at(db, w, w->ts[i], &ref[i]);

    assert_int_equal(vdb_compact(db, COLL), VDB_OK);
    vdb_stats after = stats_of(db);
    print_message("sealed segments %llu -> %llu, sealed rows %llu -> %llu\n",
                  (unsigned long long)before.sealed_segments,
                  (unsigned long long)after.sealed_segments,
                  (unsigned long long)before.sealed_rows, (unsigned long long)after.sealed_rows);
    assert_true(after.sealed_segments < before.sealed_segments);
    /* gone: the 10 rows deleted in round 1 and the 8 old versions replaced in round 1 */
    assert_int_equal(after.sealed_rows, before.sealed_rows - 10 - 8);
    assert_int_equal(after.row_count, before.row_count);
    for (size_t i = 0; i < w->nts; i++) {
        read_at(db, w, w->ts[i], got);
        same_answer(&ref[i], got, w->ts[i], "after compaction");
    }
    vdb_close(db);
    db = open_db(path, 2);
    vdb_stats reopened = stats_of(db);
    assert_int_equal(reopened.sealed_segments, after.sealed_segments);
    assert_int_equal(reopened.sealed_rows, after.sealed_rows);
    assert_int_equal(reopened.row_count, after.row_count);
    for (size_t i = 0; i < w->nts; i++) {
        read_at(db, w, w->ts[i], got);
        same_answer(&ref[i], got, w->ts[i], "after reopen");
    }
    vdb_close(db);
    free(ref);
    free(got);
    free(w);
    test_rmdir(path);
    free(path);
}

static void test_compaction_with_default_retention_merges_but_purges_nothing(void **state)
{
    (void)state;
    char *path = test_tmpdir("cmp_keep");
    vdb_db *db = open_db(path, 432000);
    create(db);
    work *w = calloc(1, sizeof *w);
    assert_non_null(w);
    round_of_writes(db, w, 6, 0, 10, 1, 8, 1, true);
    round_of_writes(db, w, 4, 111, 6, 122, 5, 2, true);
    uint64_t now;
    assert_int_equal(vdb_now(db, &now), VDB_OK);
    note_ts(w, now);
    vdb_stats before = stats_of(db);
    assert_int_equal(before.sealed_rows, 200 + 8 + 5);
    assert_int_equal(before.row_count, 200 - 16);
    answer *ref = calloc(w->nts, sizeof *ref), *got = malloc(sizeof *got);
    assert_non_null(ref);
    assert_non_null(got);
    for (size_t i = 0; i < w->nts; i++)
        read_at(db, w, w->ts[i], &ref[i]);
    /* the early answers really differ from the late ones (the test can see a change) */
    assert_true(ref[0].nget < ref[5].nget);
    assert_int_equal(vdb_compact(db, COLL), VDB_OK);
    vdb_stats after = stats_of(db);
    assert_true(after.sealed_segments < before.sealed_segments);
    assert_int_equal(after.sealed_rows, before.sealed_rows);
    assert_int_equal(after.row_count, before.row_count);
    for (size_t i = 0; i < w->nts; i++) {
        read_at(db, w, w->ts[i], got);
        same_answer(&ref[i], got, w->ts[i], "after compaction");
    }
    vdb_close(db);
    db = open_db(path, 432000);
    vdb_stats reopened = stats_of(db);
    assert_int_equal(reopened.sealed_segments, after.sealed_segments);
    assert_int_equal(reopened.sealed_rows, after.sealed_rows);
    for (size_t i = 0; i < w->nts; i++) {
        read_at(db, w, w->ts[i], got);
        same_answer(&ref[i], got, w->ts[i], "after reopen");
    }
    vdb_close(db);
    free(ref);
    free(got);
    free(w);
    test_rmdir(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compaction_purges_behind_horizon_and_keeps_travel_answers),
        cmocka_unit_test(test_compaction_with_default_retention_merges_but_purges_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

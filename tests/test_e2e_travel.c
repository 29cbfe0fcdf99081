/* End-to-end tests of MVCC and time travel through the public API: every read at a timestamp
 * sees exactly the rows inserted at or before it and not deleted at or before it, in the
 * version current at that timestamp; growing, sealed and replayed data alike. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vdb/vdb.h>

#include "test_api.h"


enum { D = 4 };

static vdb_db *open_db(const char *dir, uint64_t segment_max_rows, uint64_t retention)
{
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    if (segment_max_rows)
        o.segment_max_rows = segment_max_rows;
    if (retention)
        o.retention_seconds = retention;
    vdb_db *db = NULL;
    vdb_status st = vdb_open(dir, &o, &db);
    if (st != VDB_OK)
        fail_msg("vdb_open(%s) -> %s: %s", dir, vdb_status_name(st), vdb_errmsg(NULL));
    return db;
}

/* id INT64 pk, tag INT64 (which version of the row), vec FLOAT_VECTOR(D), L2. */
static void create_coll(vdb_db *db, const char *name, uint32_t shards)
{
    vdb_schema *s;
    OK(vdb_schema_new(name, &s));
    vdb_field_def f[3] = {
        {.struct_size = sizeof(vdb_field_def), .name = "id", .type = VDB_TYPE_INT64,
         .is_primary = 1},
        {.struct_size = sizeof(vdb_field_def), .name = "tag", .type = VDB_TYPE_INT64},
        {.struct_size = sizeof(vdb_field_def), .name = "vec", .type = VDB_TYPE_FLOAT_VECTOR,
         .dim = D},
    };
    for (int i = 0; i < 3; i++)
        OK(vdb_schema_add_field(s, &f[i]));
    OK(vdb_schema_set_shards(s, shards));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
}

/* ---- a model of every row version, as the visibility rule defines it ---------------------- */

typedef struct version {
    int64_t id, tag;
    uint64_t ins_ts, del_ts; /* del_ts 0: never deleted */
    float vec[D];
} version;

typedef struct model {
    version *v;
    size_t n, cap;
} model;

static void model_delete(model *m, int64_t id, uint64_t ts)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].id == id && m->v[i].ins_ts < ts && !m->v[i].del_ts)
            m->v[i].del_ts = ts;
}

static void model_insert(model *m, int64_t id, int64_t tag, const float *vec, uint64_t ts)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->v = realloc(m->v, m->cap * sizeof *m->v);
    }
    version *v = &m->v[m->n++];
    v->id = id;
    v->tag = tag;
    v->ins_ts = ts;
    v->del_ts = 0;
    memcpy(v->vec, vec, sizeof v->vec);
}

/* The version of id visible at T, or NULL. */
static const version *model_at(const model *m, int64_t id, uint64_t T)
{
    const version *best = NULL;
    for (size_t i = 0; i < m->n; i++) {
        const version *v = &m->v[i];
        if (v->id == id && v->ins_ts <= T && (!v->del_ts || v->del_ts > T) &&
            (!best || v->ins_ts > best->ins_ts))
            best = v;
    }
    return best;
}

static size_t model_count(const model *m, uint64_t T, int64_t *ids_out)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        const version *v = &m->v[i];
        if (v->ins_ts <= T && (!v->del_ts || v->del_ts > T)) {
            if (ids_out)
                ids_out[n] = v->id;
            n++;
        }
    }
    return n;
}

/* ---- writes that keep the model ---------------------------------------------------------- */

static uint64_t do_insert(vdb_db *db, const char *coll, model *m, const int64_t *ids,
                          const int64_t *tags, const float *vecs, size_t n, int upsert)
{
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0));
    OK(vdb_batch_add_column(b, "tag", VDB_TYPE_INT64, tags, NULL, n, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vecs, NULL, n, D));
    uint64_t ts = 0;
    vdb_result *pks;
    if (upsert)
        OK(vdb_upsert(db, coll, NULL, b, &ts, &pks));
    else
        OK(vdb_insert(db, coll, NULL, b, &ts, &pks));
    vdb_batch_free(b);
    assert_true(ts > 0);
    assert_int_equal(vdb_result_timestamp(pks), ts);
    vdb_result_free(pks);
    for (size_t i = 0; i < n; i++) {
        if (upsert)
            model_delete(m, ids[i], ts);
        model_insert(m, ids[i], tags[i], vecs + i * D, ts);
    }
    return ts;
}

static uint64_t do_delete(vdb_db *db, const char *coll, model *m, const int64_t *ids, size_t n)
{
    uint64_t ts = 0;
    OK(vdb_delete(db, coll, NULL, &(vdb_pk_list){.ints = ids, .count = n}, &ts));
    assert_true(ts > 0);
    for (size_t i = 0; i < n; i++)
        model_delete(m, ids[i], ts);
    return ts;
}

/* ---- reads checked against the model ------------------------------------------------------ */

static double l2(const float *a, const float *b)
{
    double s = 0;
    for (int i = 0; i < D; i++)
        s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return s;
}

static const char *const TAG[] = {"tag", "vec"};

/* get of every id in `ids` at T: exactly the visible ones, in their version at T. */
static void check_get_at(vdb_db *db, const char *coll, const model *m, const int64_t *ids,
                         size_t nids, uint64_t T, const char *when)
{
    vdb_read_opts ro = {.struct_size = sizeof ro, .travel_ts = T, .output_fields = TAG,
                        .n_output_fields = 2};
    vdb_result *r;
    vdb_status st = vdb_get(db, coll, &(vdb_pk_list){.ints = ids, .count = nids}, &ro, &r);
    if (st != VDB_OK)
        fail_msg("%s: get at %llu -> %s: %s", when, (unsigned long long)T, vdb_status_name(st),
                 vdb_errmsg(NULL));
    size_t row = 0;
    for (size_t k = 0; k < nids; k++) {
        const version *v = model_at(m, ids[k], T);
        if (!v)
            continue;
        if (row >= vdb_result_rows(r, 0) || vdb_result_pk_int(r, 0, row) != ids[k])
            fail_msg("%s: get at %llu: expected id %lld at row %zu (got %zu rows)", when,
                     (unsigned long long)T, (long long)ids[k], row, vdb_result_rows(r, 0));
        vdb_value tv, vv;
        OK(vdb_result_field(r, 0, row, "tag", &tv));
        OK(vdb_result_field(r, 0, row, "vec", &vv));
        if (tv.u.i64 != v->tag)
            fail_msg("%s: get at %llu: id %lld has tag %lld, expected %lld", when,
                     (unsigned long long)T, (long long)ids[k], (long long)tv.u.i64,
                     (long long)v->tag);
        assert_memory_equal(vv.u.vec.ptr, v->vec, sizeof v->vec);
        row++;
    }
    if (vdb_result_rows(r, 0) != row)
        fail_msg("%s: get at %llu returned %zu rows, expected %zu", when,
                 (unsigned long long)T, vdb_result_rows(r, 0), row);
    vdb_result_free(r);
}

/* search at T with k covering everything: exactly the visible rows, each once, at the
 * distance of its version at T. */
static void check_search_at(vdb_db *db, const char *coll, const model *m, const float *q,
                            uint64_t T, const char *when)
{
    size_t want = model_count(m, T, NULL);
    vdb_search_req req = {.struct_size = sizeof req, .collection = coll, .vectors = q, .nq = 1,
                          .dim = D, .k = (uint32_t)(m->n + 5),
                          .read = {.travel_ts = T, .output_fields = TAG, .n_output_fields = 1}};
    vdb_result *r;
    vdb_status st = vdb_search(db, &req, &r);
    if (st != VDB_OK)
        fail_msg("%s: search at %llu -> %s: %s", when, (unsigned long long)T,
                 vdb_status_name(st), vdb_errmsg(NULL));
    size_t rows = vdb_result_rows(r, 0);
    if (rows != want)
        fail_msg("%s: search at %llu returned %zu rows, expected %zu", when,
                 (unsigned long long)T, rows, want);
    for (size_t j = 0; j < rows; j++) {
        int64_t id = vdb_result_pk_int(r, 0, j);
        const version *v = model_at(m, id, T);
        if (!v)
            fail_msg("%s: search at %llu returned id %lld, not visible then", when,
                     (unsigned long long)T, (long long)id);
        for (size_t i = 0; i < j; i++)
            if (vdb_result_pk_int(r, 0, i) == id)
                fail_msg("%s: search at %llu returned id %lld twice", when,
                         (unsigned long long)T, (long long)id);
        vdb_value tv;
        OK(vdb_result_field(r, 0, j, "tag", &tv));
        if (tv.u.i64 != v->tag)
            fail_msg("%s: search at %llu: id %lld has tag %lld, expected %lld", when,
                     (unsigned long long)T, (long long)id, (long long)tv.u.i64,
                     (long long)v->tag);
        double d = l2(q, v->vec);
        if (fabs(vdb_result_distance(r, 0, j) - d) > 1e-4 * (1 + d))
            fail_msg("%s: search at %llu: id %lld at distance %g, its version is at %g", when,
                     (unsigned long long)T, (long long)id, (double)vdb_result_distance(r, 0, j),
                     d);
    }
    vdb_result_free(r);
}

/* ---- the A/B scenario ------------------------------------------------------------------- */

typedef struct ab {
    model m;
    uint64_t t1, t2, t3, t4;
    float va[D], vb[D], vb2[D];
} ab;

static void ab_write(vdb_db *db, ab *s, int flush_after_t2)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < D; i++) {
        s->va[i] = (float)i;
        s->vb[i] = (float)(10 + i);
        s->vb2[i] = (float)(-5 - i);
    }
    s->t1 = do_insert(db, "ab", &s->m, (int64_t[]){1}, (int64_t[]){10}, s->va, 1, 0);
    s->t2 = do_insert(db, "ab", &s->m, (int64_t[]){2}, (int64_t[]){20}, s->vb, 1, 0);
    if (flush_after_t2)
        OK(vdb_flush(db, "ab"));
    s->t3 = do_delete(db, "ab", &s->m, (int64_t[]){1}, 1);
    s->t4 = do_insert(db, "ab", &s->m, (int64_t[]){2}, (int64_t[]){21}, s->vb2, 1, 1);
    assert_true(s->t1 < s->t2 && s->t2 < s->t3 && s->t3 < s->t4);
}

/* The exact answers at t1, t2, t3-1, t3, t4-1, t4 and now. */
static void ab_check(vdb_db *db, const ab *s, const char *when)
{
    const int64_t ids[2] = {1, 2};
    struct {
        uint64_t T;
        int64_t a_tag, b_tag; /* 0: not visible */
    } want[] = {
        {s->t1 - 1, 0, 0},  {s->t1, 10, 0},      {s->t2, 10, 20}, {s->t3 - 1, 10, 20},
        {s->t3, 0, 20},     {s->t4 - 1, 0, 20},  {s->t4, 0, 21},  {0, 0, 21},
    };
    uint64_t now;
    OK(vdb_now(db, &now));
    assert_true(now > s->t4);
    want[7].T = now;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint64_t T = want[i].T;
        char what[96];
        snprintf(what, sizeof what, "%s, point %zu", when, i);
        /* the model agrees with the table (guards the test itself) */
        const version *a = model_at(&s->m, 1, T), *b = model_at(&s->m, 2, T);
        assert_int_equal(a ? a->tag : 0, want[i].a_tag);
        assert_int_equal(b ? b->tag : 0, want[i].b_tag);
        check_get_at(db, "ab", &s->m, ids, 2, T, what);
        check_search_at(db, "ab", &s->m, s->va, T, what);
        check_search_at(db, "ab", &s->m, s->vb, T, what);
    }
    /* no travel_ts: strong read of now */
    vdb_result *r;
    OK(vdb_get(db, "ab", &(vdb_pk_list){.ints = ids, .count = 2}, NULL, &r));
    assert_int_equal(vdb_result_rows(r, 0), 1);
    assert_int_equal(vdb_result_pk_int(r, 0, 0), 2);
    vdb_result_free(r);
}

static void test_travel_growing_then_flushed_then_reopened(void **state)
{
    (void)state;
    char *dir = test_tmpdir("travel_ab");
    vdb_db *db = open_db(dir, 0, 0);
    create_coll(db, "ab", 1);
    ab s;
    ab_write(db, &s, 0);
    ab_check(db, &s, "growing");
    OK(vdb_flush(db, "ab"));
    vdb_stats st = {.struct_size = sizeof st};
    OK(vdb_collection_stats(db, "ab", &st));
    assert_int_equal(st.growing_segments, 0);
    assert_int_equal(st.sealed_segments, 1);
    ab_check(db, &s, "sealed");
    vdb_close(db);
    db = open_db(dir, 0, 0);
    ab_check(db, &s, "sealed, reopened");
    vdb_close(db);
    free(s.m.v);
    test_rmdir(dir);
    free(dir);
}

/* A and B sealed, then the delete and the upsert land on sealed rows. */
static void test_travel_deletes_on_sealed_rows(void **state)
{
    (void)state;
    char *dir = test_tmpdir("travel_sealdel");
    vdb_db *db = open_db(dir, 0, 0);
    create_coll(db, "ab", 1);
    ab s;
    ab_write(db, &s, 1);
    ab_check(db, &s, "sealed + growing");
    OK(vdb_flush(db, "ab"));
    ab_check(db, &s, "all sealed");
    vdb_close(db);
    db = open_db(dir, 0, 0);
    ab_check(db, &s, "all sealed, reopened");
    vdb_close(db);
    free(s.m.v);
    test_rmdir(dir);
    free(dir);
}

/* Nothing flushed: reopen rebuilds everything, deletes included, from the log. */
static void test_travel_after_log_replay(void **state)
{
    (void)state;
    char *dir = test_tmpdir("travel_replay");
    vdb_db *db = open_db(dir, 0, 0);
    create_coll(db, "ab", 1);
    ab s;
    ab_write(db, &s, 0);
    vdb_close(db);
    db = open_db(dir, 0, 0);
    ab_check(db, &s, "replayed");
    vdb_close(db);
    db = open_db(dir, 0, 0); /* a second replay of the same log */
    ab_check(db, &s, "replayed twice");
    OK(vdb_flush(db, "ab"));
    vdb_close(db);
    db = open_db(dir, 0, 0);
    ab_check(db, &s, "flushed after replay, reopened");
    vdb_close(db);
    free(s.m.v);
    test_rmdir(dir);
    free(dir);
}

/* The same, on sealed rows deleted after the flush (delete records only in the log). */
static void test_travel_after_replay_of_deletes_on_sealed_rows(void **state)
{
    (void)state;
    char *dir = test_tmpdir("travel_replay2");
    vdb_db *db = open_db(dir, 0, 0);
    create_coll(db, "ab", 2);
    ab s;
    ab_write(db, &s, 1);
    vdb_close(db);
    db = open_db(dir, 0, 0);
    ab_check(db, &s, "sealed rows, deletes replayed");
    vdb_close(db);
    free(s.m.v);
    test_rmdir(dir);
    free(dir);
}

/* ---- re-inserting a deleted key ---------------------------------------------------------- */

static void test_reinsert_deleted_key(void **state)
{
    (void)state;
    char *dir = test_tmpdir("travel_reins");
    vdb_db *db = open_db(dir, 0, 0);
    create_coll(db, "c", 1);
    model m = {0};
    float v1[D] = {1, 1, 1, 1}, v2[D] = {2, 2, 2, 2}, v3[D] = {3, 3, 3, 3}, other[D] = {0};
    do_insert(db, "c", &m, (int64_t[]){99}, (int64_t[]){0}, other, 1, 0);
    uint64_t r1 = do_insert(db, "c", &m, (int64_t[]){7}, (int64_t[]){1}, v1, 1, 0);
    uint64_t r2 = do_delete(db, "c", &m, (int64_t[]){7}, 1);
    uint64_t r3 = do_insert(db, "c", &m, (int64_t[]){7}, (int64_t[]){2}, v2, 1, 0);
    uint64_t r4 = do_delete(db, "c", &m, (int64_t[]){7}, 1);
    uint64_t r5 = do_insert(db, "c", &m, (int64_t[]){7}, (int64_t[]){3}, v3, 1, 0);
    const int64_t ids[2] = {7, 99};
    const uint64_t points[] = {r1 - 1, r1, r2 - 1, r2, r3 - 1, r3, r4 - 1, r4, r5 - 1, r5};
    const int64_t tag7[] = {-1, 1, 1, -1, -1, 2, 2, -1, -1, 3}; /* -1: not visible */
    for (int phase = 0; phase < 3; phase++) {
        for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
            const version *v = model_at(&m, 7, points[i]);
            assert_int_equal(v ? v->tag : -1, tag7[i]);
            char what[64];
            snprintf(what, sizeof what, "phase %d point %zu", phase, i);
            check_get_at(db, "c", &m, ids, 2, points[i], what);
            check_search_at(db, "c", &m, v1, points[i], what);
            check_search_at(db, "c", &m, v3, points[i], what);
        }
        vdb_stats st = {.struct_size = sizeof st};
        OK(vdb_collection_stats(db, "c", &st));
        assert_int_equal(st.row_count, 2);
        if (phase == 0)
            OK(vdb_flush(db, "c"));
        else if (phase == 1) {
            vdb_close(db);
            db = open_db(dir, 0, 0);
        }
    }
    vdb_close(db);
    free(m.v);
    test_rmdir(dir);
    free(dir);
}

/* ---- retention window --------------------------------------------------------------------- */

static void test_travel_older_than_retention_is_out_of_range(void **state)
{
    (void)state;
    char *dir = test_tmpdir("travel_retention");
    vdb_db *db = open_db(dir, 0, 1);
    create_coll(db, "c", 1);
    model m = {0};
    float v[D] = {1, 2, 3, 4};
    uint64_t t1 = do_insert(db, "c", &m, (int64_t[]){1}, (int64_t[]){1}, v, 1, 0);
    /* inside the window: fine */
    check_get_at(db, "c", &m, (int64_t[]){1}, 1, t1, "fresh");
    sleep(2);
    vdb_read_opts ro = {.struct_size = sizeof ro, .travel_ts = t1};
    vdb_result *r = (vdb_result *)0x1;
    vdb_status st = vdb_get(db, "c", &(vdb_pk_list){.ints = (int64_t[]){1}, .count = 1}, &ro, &r);
    assert_int_equal(st, VDB_ERANGE);
    assert_null(r);
    assert_non_null(strstr(vdb_errmsg(NULL), "retention"));
    vdb_search_req req = {.struct_size = sizeof req, .collection = "c", .vectors = v, .nq = 1,
                          .dim = D, .k = 1, .read = {.travel_ts = t1}};
    assert_int_equal(vdb_search(db, &req, &r), VDB_ERANGE);
    assert_non_null(strstr(vdb_errmsg(NULL), "retention"));
    /* the data is unharmed, and "now" as a travel timestamp is inside the window */
    uint64_t now;
    OK(vdb_now(db, &now));
    check_get_at(db, "c", &m, (int64_t[]){1}, 1, now, "now");
    req.read.travel_ts = now;
    OK(vdb_search(db, &req, &r));
    assert_int_equal(vdb_result_rows(r, 0), 1);
    vdb_result_free(r);
    vdb_close(db);
    free(m.v);
    test_rmdir(dir);
    free(dir);
}

/* ---- consistency levels ------------------------------------------------------------------- */

static size_t rows_with(vdb_db *db, const vdb_read_opts *ro, const float *q)
{
    vdb_result *r;
    OK(vdb_get(db, "c", &(vdb_pk_list){.ints = (int64_t[]){1}, .count = 1}, ro, &r));
    size_t n = vdb_result_rows(r, 0);
    vdb_result_free(r);
    vdb_search_req req = {.struct_size = sizeof req, .collection = "c", .vectors = q, .nq = 1,
                          .dim = D, .k = 5, .read = *ro};
    OK(vdb_search(db, &req, &r));
    size_t m = vdb_result_rows(r, 0);
    vdb_result_free(r);
    assert_int_equal(n, m); /* get and search agree */
    return n;
}

static void test_consistency_levels(void **state)
{
    (void)state;
    char *dir = test_tmpdir("travel_consistency");
    vdb_db *db = open_db(dir, 0, 0);
    create_coll(db, "c", 1);
    model m = {0};
    float v[D] = {1, 2, 3, 4};
    uint64_t ts = do_insert(db, "c", &m, (int64_t[]){1}, (int64_t[]){1}, v, 1, 0);
    vdb_read_opts ro = {.struct_size = sizeof ro, .consistency = VDB_CONSISTENCY_STRONG};
    assert_int_equal(rows_with(db, &ro, v), 1);
    ro.consistency = VDB_CONSISTENCY_EVENTUALLY;
    assert_int_equal(rows_with(db, &ro, v), 1);
    ro.consistency = VDB_CONSISTENCY_SESSION;
    ro.session_ts = ts;
    assert_int_equal(rows_with(db, &ro, v), 1);
    ro = *VDB_READ_OPTS(.consistency = VDB_CONSISTENCY_BOUNDED, .staleness_ms = 60000);
    assert_int_equal(rows_with(db, &ro, v), 0); /* reads as of a minute ago */
    /* after a delete: strong no longer sees the row; bounded still sees nothing */
    uint64_t dts = do_delete(db, "c", &m, (int64_t[]){1}, 1);
    ro = *VDB_READ_OPTS(.consistency = VDB_CONSISTENCY_STRONG);
    assert_int_equal(rows_with(db, &ro, v), 0);
    ro.consistency = VDB_CONSISTENCY_SESSION;
    ro.session_ts = dts;
    assert_int_equal(rows_with(db, &ro, v), 0);
    ro.consistency = VDB_CONSISTENCY_EVENTUALLY;
    assert_int_equal(rows_with(db, &ro, v), 0);
    /* travel_ts takes precedence over the consistency level */
    ro = *VDB_READ_OPTS(.consistency = VDB_CONSISTENCY_BOUNDED, .staleness_ms = 60000,
                        .travel_ts = ts);
    assert_int_equal(rows_with(db, &ro, v), 1);
    vdb_close(db);
    free(m.v);
    test_rmdir(dir);
    free(dir);
}

/* ---- the timestamp oracle ------------------------------------------------------------------ */

static void test_now_is_monotonic_across_writes_and_reopen(void **state)
{
    (void)state;
    char *dir = test_tmpdir("travel_now");
    vdb_db *db = open_db(dir, 0, 0);
    create_coll(db, "c", 1);
    model m = {0};
    float v[D] = {0};
    uint64_t prev;
    OK(vdb_now(db, &prev));
    for (int i = 0; i < 2000; i++) {
        uint64_t t;
        OK(vdb_now(db, &t));
        if (t <= prev)
            fail_msg("vdb_now went from %llu to %llu", (unsigned long long)prev,
                     (unsigned long long)t);
        prev = t;
        if (i % 400 == 0) {
            uint64_t w = i % 800 ? do_delete(db, "c", &m, (int64_t[]){i}, 1)
                                 : do_insert(db, "c", &m, (int64_t[]){i}, (int64_t[]){i}, v,
                                             1, 0);
            assert_true(w > prev);
            OK(vdb_now(db, &t));
            assert_true(t > w);
            prev = t;
        }
    }
    uint64_t last_write = do_insert(db, "c", &m, (int64_t[]){5}, (int64_t[]){5}, v, 1, 0);
    OK(vdb_flush(db, "c"));
    for (int round = 0; round < 2; round++) {
        vdb_close(db);
        db = open_db(dir, 0, 0);
        uint64_t t;
        OK(vdb_now(db, &t));
        if (t <= prev || t <= last_write)
            fail_msg("after reopen vdb_now gave %llu, not above %llu", (unsigned long long)t,
                     (unsigned long long)prev);
        uint64_t w = do_insert(db, "c", &m, (int64_t[]){100 + round}, (int64_t[]){0}, v, 1, 0);
        assert_true(w > t);
        OK(vdb_now(db, &prev));
        assert_true(prev > w);
        last_write = w;
    }
    vdb_close(db);
    free(m.v);
    test_rmdir(dir);
    free(dir);
}

/* ---- many sealed segments plus a growing one ------------------------------------------------ */

static void test_travel_across_auto_sealed_segments(void **state)
{
    (void)state;
    enum { BATCHES = 10, PER = 40 };
    char *dir = test_tmpdir("travel_segments");
    vdb_db *db = open_db(dir, 100, 0);
    create_coll(db, "c", 1);
    model m = {0};
    uint64_t seed = 2024;
    uint64_t points[4 * BATCHES];
    size_t npoints = 0;
    int64_t all_ids[BATCHES * PER];
    float q[D];
    for (int d = 0; d < D; d++)
        q[d] = test_randf(&seed);
    for (int b = 0; b < BATCHES; b++) {
        int64_t ids[PER], tags[PER];
        float vecs[PER * D];
        for (int i = 0; i < PER; i++) {
            ids[i] = b * PER + i;
            tags[i] = ids[i] * 10;
            all_ids[b * PER + i] = ids[i];
        }
        for (int i = 0; i < PER * D; i++)
            vecs[i] = test_randf(&seed);
        points[npoints++] = do_insert(db, "c", &m, ids, tags, vecs, PER, 0);
        if (b >= 2) {
            /* delete rows of older (by now sealed) segments and of this batch */
            int64_t del[3] = {(b - 2) * PER + 3, (b - 1) * PER + 5, b * PER + 7};
            points[npoints++] = do_delete(db, "c", &m, del, 3);
            /* upsert rows of an old segment with new versions */
            int64_t up[2] = {(b - 2) * PER + 11, (b - 1) * PER + 13};
            int64_t utags[2] = {-(b * 100 + 1), -(b * 100 + 2)};
            float uv[2 * D];
            for (int i = 0; i < 2 * D; i++)
                uv[i] = test_randf(&seed);
            points[npoints++] = do_insert(db, "c", &m, up, utags, uv, 2, 1);
        }
    }
    /* re-insert a deleted key too */
    float rv[D] = {0.5f, 0.5f, 0.5f, 0.5f};
    points[npoints++] = do_insert(db, "c", &m, (int64_t[]){3}, (int64_t[]){333}, rv, 1, 0);
    OK(vdb_wait_for_seals(db, "c", 60000)); /* segments past the threshold seal behind */
    vdb_stats st = {.struct_size = sizeof st};
    OK(vdb_collection_stats(db, "c", &st));
    assert_true(st.sealed_segments >= 3);
    assert_int_equal(st.growing_segments, 1);
    assert_int_equal(st.row_count, model_count(&m, UINT64_MAX - 1, NULL));
    for (int phase = 0; phase < 3; phase++) {
        char what[64];
        for (size_t i = 0; i < npoints; i++) {
            for (int off = -1; off <= 0; off++) {
                uint64_t T = points[i] + (uint64_t)(int64_t)off;
                snprintf(what, sizeof what, "phase %d, write %zu%s", phase, i,
                         off ? " - 1" : "");
                check_get_at(db, "c", &m, all_ids, BATCHES * PER, T, what);
                check_search_at(db, "c", &m, q, T, what);
            }
        }
        uint64_t now;
        OK(vdb_now(db, &now));
        snprintf(what, sizeof what, "phase %d, now", phase);
        check_get_at(db, "c", &m, all_ids, BATCHES * PER, now, what);
        check_search_at(db, "c", &m, q, now, what);
        if (phase == 0)
            OK(vdb_flush(db, "c"));
        else if (phase == 1) {
            vdb_close(db);
            db = open_db(dir, 100, 0);
        }
    }
    vdb_close(db);
    free(m.v);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_travel_growing_then_flushed_then_reopened),
        cmocka_unit_test(test_travel_deletes_on_sealed_rows),
        cmocka_unit_test(test_travel_after_log_replay),
        cmocka_unit_test(test_travel_after_replay_of_deletes_on_sealed_rows),
        cmocka_unit_test(test_reinsert_deleted_key),
        cmocka_unit_test(test_travel_older_than_retention_is_out_of_range),
        cmocka_unit_test(test_consistency_levels),
        cmocka_unit_test(test_now_is_monotonic_across_writes_and_reopen),
        cmocka_unit_test(test_travel_across_auto_sealed_segments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

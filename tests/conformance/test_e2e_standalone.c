/* End-to-end tests through the public API on a database configured with storage URIs, as
 * Milvus standalone runs (RocksDB log + etcd meta + S3 objects): insert, delete, upsert,
 * search, get, time travel, flush, log replay and reopen, each checked against a model of
 * every row version.
 *
 * Usage: test_e2e_standalone [FILTER]
 *   env VDB_LOG_URI, VDB_META_URI, VDB_OBJECT_URI  the storage (each optional: unset means
 *       the embedded default under the database folder). Each test appends "/<unique name>"
 *       to every URI (before a "?query"), so tests and runs never share state and can share
 *       servers: rocksdb:///tmp/x/rocks -> rocksdb:///tmp/x/rocks/<name>,
 *       s3://bucket/p?endpoint=... -> s3://bucket/p/<name>?endpoint=...
 *   env VDB_TEST_TMP  where the database folders go (default /tmp)
 *   FILTER  a cmocka glob over the test names */
#define _GNU_SOURCE
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <vdb/vdb.h>

#include "../test_api.h"


enum { D = 8 };

/* ---- a database on the configured storage -------------------------------------------------- */

typedef struct env {
    char *dir;
    char *uri[3]; /* log, meta, object; NULL: the default */
    uint64_t segment_max_rows;
} env;

static char g_run[64];
static unsigned g_counter;

/* base + "/" + name, inserted before a "?query". */
static char *uri_with(const char *base, const char *name)
{
    const char *q = strchr(base, '?');
    size_t head = q ? (size_t)(q - base) : strlen(base);
    while (head > 0 && base[head - 1] == '/')
        head--;
    char *u;
    assert_true(asprintf(&u, "%.*s/%s%s", (int)head, base, name, q ? q : "") > 0);
    return u;
}

static env env_new(const char *tag, uint64_t segment_max_rows)
{
    env e = {.segment_max_rows = segment_max_rows};
    char name[128];
    snprintf(name, sizeof name, "%s-%u-%s", g_run, ++g_counter, tag);
    const char *base = getenv("VDB_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    assert_true(asprintf(&e.dir, "%s/%s", base, name) > 0);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", e.dir);
    assert_int_equal(system(cmd), 0);
    const char *vars[3] = {"VDB_LOG_URI", "VDB_META_URI", "VDB_OBJECT_URI"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        e.uri[i] = v && *v ? uri_with(v, name) : NULL;
    }
    return e;
}

static void env_free(env *e)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", e->dir);
    free(e->dir);
    for (int i = 0; i < 3; i++)
        free(e->uri[i]);
}

static vdb_db *open_db(const env *e)
{
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    if (e->segment_max_rows)
        o.segment_max_rows = e->segment_max_rows;
    o.log_uri = e->uri[0];
    o.meta_uri = e->uri[1];
    o.object_uri = e->uri[2];
    vdb_db *db = NULL;
    vdb_status st = vdb_open(e->dir, &o, &db);
    if (st != VDB_OK)
        fail_msg("vdb_open(%s, log %s, meta %s, objects %s) -> %s: %s", e->dir,
                 e->uri[0] ? e->uri[0] : "default", e->uri[1] ? e->uri[1] : "default",
                 e->uri[2] ? e->uri[2] : "default", vdb_status_name(st), vdb_errmsg(NULL));
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
         .dim = D, .metric = VDB_METRIC_L2},
    };
    for (int i = 0; i < 3; i++)
        OK(vdb_schema_add_field(s, &f[i]));
    OK(vdb_schema_set_shards(s, shards));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
}

/* ---- a model of every row version ---------------------------------------------------------- */

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
        assert_non_null(m->v);
    }
    version *v = &m->v[m->n++];
    *v = (version){.id = id, .tag = tag, .ins_ts = ts};
    memcpy(v->vec, vec, sizeof v->vec);
}

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

static size_t model_count(const model *m, uint64_t T)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        n += m->v[i].ins_ts <= T && (!m->v[i].del_ts || m->v[i].del_ts > T);
    return n;
}

static uint64_t do_write(vdb_db *db, const char *coll, model *m, const int64_t *ids,
                         const int64_t *tags, const float *vecs, size_t n, int upsert)
{
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0));
    OK(vdb_batch_add_column(b, "tag", VDB_TYPE_INT64, tags, NULL, n, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vecs, NULL, n, D));
    uint64_t ts = 0;
    vdb_result *pks = NULL;
    if (upsert)
        OK(vdb_upsert(db, coll, NULL, b, &ts, &pks));
    else
        OK(vdb_insert(db, coll, NULL, b, &ts, &pks));
    vdb_batch_free(b);
    assert_true(ts > 0);
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

/* ---- reads checked against the model (T 0: now) ------------------------------------------- */

static const char *const FIELDS[] = {"tag", "vec"};

static void check_get_at(vdb_db *db, const char *coll, const model *m, const int64_t *ids,
                         size_t nids, uint64_t T, const char *when)
{
    uint64_t at = T;
    if (!T)
        OK(vdb_now(db, &at));
    vdb_read_opts ro = {.struct_size = sizeof ro, .travel_ts = at, .output_fields = FIELDS,
                        .n_output_fields = 2};
    vdb_result *r;
    vdb_status st = vdb_get(db, coll, &(vdb_pk_list){.ints = ids, .count = nids}, &ro, &r);
    if (st != VDB_OK)
        fail_msg("%s: get -> %s: %s", when, vdb_status_name(st), vdb_errmsg(NULL));
    size_t row = 0;
    for (size_t k = 0; k < nids; k++) {
        const version *v = model_at(m, ids[k], at);
        if (!v)
            continue;
        if (row >= vdb_result_rows(r, 0) || vdb_result_pk_int(r, 0, row) != ids[k])
            fail_msg("%s: get at %llu: expected id %lld at row %zu (got %zu rows)", when,
                     (unsigned long long)at, (long long)ids[k], row, vdb_result_rows(r, 0));
        vdb_value tv, vv;
        OK(vdb_result_field(r, 0, row, "tag", &tv));
        OK(vdb_result_field(r, 0, row, "vec", &vv));
        if (tv.u.i64 != v->tag)
            fail_msg("%s: get at %llu: id %lld has tag %lld, expected %lld", when,
                     (unsigned long long)at, (long long)ids[k], (long long)tv.u.i64,
                     (long long)v->tag);
        assert_memory_equal(vv.u.vec.ptr, v->vec, sizeof v->vec);
        row++;
    }
    if (vdb_result_rows(r, 0) != row)
        fail_msg("%s: get at %llu returned %zu rows, expected %zu", when,
                 (unsigned long long)at, vdb_result_rows(r, 0), row);
    vdb_result_free(r);
}

static double l2(const float *a, const float *b)
{
    double s = 0;
    for (int i = 0; i < D; i++)
        s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return s;
}

/* A search at T with k >= every row: exactly the visible rows, once each, nearest first, at
 * the distance of their version at T. */
static void check_search_at(vdb_db *db, const char *coll, const model *m, const float *q,
                            uint64_t T, const char *when)
{
    uint64_t at = T;
    if (!T)
        OK(vdb_now(db, &at));
    size_t want = model_count(m, at);
    vdb_search_req req = {.struct_size = sizeof req, .collection = coll, .vectors = q, .nq = 1,
                          .dim = D, .k = (uint32_t)(m->n + 5),
                          .read = {.travel_ts = at, .output_fields = FIELDS,
                                   .n_output_fields = 1}};
    vdb_result *r;
    vdb_status st = vdb_search(db, &req, &r);
    if (st != VDB_OK)
        fail_msg("%s: search -> %s: %s", when, vdb_status_name(st), vdb_errmsg(NULL));
    size_t rows = vdb_result_rows(r, 0);
    if (rows != want)
        fail_msg("%s: search at %llu returned %zu rows, expected %zu", when,
                 (unsigned long long)at, rows, want);
    for (size_t j = 0; j < rows; j++) {
        int64_t id = vdb_result_pk_int(r, 0, j);
        const version *v = model_at(m, id, at);
        if (!v)
            fail_msg("%s: search at %llu returned id %lld, not visible then", when,
                     (unsigned long long)at, (long long)id);
        vdb_value tv;
        OK(vdb_result_field(r, 0, j, "tag", &tv));
        if (tv.u.i64 != v->tag)
            fail_msg("%s: search: id %lld has tag %lld, expected %lld", when, (long long)id,
                     (long long)tv.u.i64, (long long)v->tag);
        double d = l2(q, v->vec);
        if (fabs(vdb_result_distance(r, 0, j) - d) > 1e-4 * (1 + d))
            fail_msg("%s: search: id %lld at distance %g, its version is at %g", when,
                     (long long)id, (double)vdb_result_distance(r, 0, j), d);
        if (j && vdb_result_distance(r, 0, j) < vdb_result_distance(r, 0, j - 1) - 1e-5)
            fail_msg("%s: search results out of order at row %zu", when, j);
    }
    vdb_result_free(r);
}

static void random_vecs(uint64_t *seed, float *out, size_t n)
{
    for (size_t i = 0; i < n * D; i++) {
        uint64_t x = *seed;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *seed = x;
        out[i] = (float)((x >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
    }
}

/* ---- tests --------------------------------------------------------------------------------- */

/* Rows A and B; B upserted, A deleted; checked at every timestamp in between, while growing,
 * after a flush and after a reopen. */
static void test_standalone_travel_growing_flushed_reopened(void **state)
{
    (void)state;
    env e = env_new("travel", 0);
    vdb_db *db = open_db(&e);
    create_coll(db, "ab", 1);
    model m = {0};
    float va[D], vb[D], vb2[D];
    for (int i = 0; i < D; i++) {
        va[i] = (float)i;
        vb[i] = (float)(10 + i);
        vb2[i] = (float)(-5 - i);
    }
    uint64_t t[4];
    t[0] = do_write(db, "ab", &m, (int64_t[]){1}, (int64_t[]){10}, va, 1, 0);
    t[1] = do_write(db, "ab", &m, (int64_t[]){2}, (int64_t[]){20}, vb, 1, 0);
    t[2] = do_delete(db, "ab", &m, (int64_t[]){1}, 1);
    t[3] = do_write(db, "ab", &m, (int64_t[]){2}, (int64_t[]){21}, vb2, 1, 1);
    assert_true(t[0] < t[1] && t[1] < t[2] && t[2] < t[3]);
    const int64_t ids[2] = {1, 2};
    for (int phase = 0; phase < 3; phase++) {
        for (int i = 0; i < 4; i++)
            for (int off = -1; off <= 0; off++) {
                char what[64];
                snprintf(what, sizeof what, "phase %d, write %d%s", phase, i, off ? " - 1" : "");
                uint64_t T = t[i] + (uint64_t)(int64_t)off;
                check_get_at(db, "ab", &m, ids, 2, T, what);
                check_search_at(db, "ab", &m, va, T, what);
                check_search_at(db, "ab", &m, vb, T, what);
            }
        check_get_at(db, "ab", &m, ids, 2, 0, "now");
        if (phase == 0)
            OK(vdb_flush(db, "ab"));
        vdb_close(db);
        db = open_db(&e);
    }
    vdb_close(db);
    free(m.v);
    env_free(&e);
}

/* Nothing flushed: a reopen rebuilds every row, delete and upsert from the log, twice over;
 * then a flush and a reopen from sealed segments. */
static void test_standalone_log_replay_after_reopen(void **state)
{
    (void)state;
    enum { N = 300 };
    env e = env_new("replay", 0);
    vdb_db *db = open_db(&e);
    create_coll(db, "c", 2);
    model m = {0};
    uint64_t seed = 7;
    int64_t ids[N], tags[N];
    float vecs[N * D];
    for (int i = 0; i < N; i++) {
        ids[i] = i;
        tags[i] = i * 10;
    }
    random_vecs(&seed, vecs, N);
    uint64_t t1 = do_write(db, "c", &m, ids, tags, vecs, N / 2, 0);
    uint64_t t2 = do_write(db, "c", &m, ids + N / 2, tags + N / 2, vecs + N / 2 * D, N / 2, 0);
    uint64_t t3 = do_delete(db, "c", &m, (int64_t[]){3, 4, 200}, 3);
    int64_t up_tags[2] = {-1, -2};
    uint64_t t4 = do_write(db, "c", &m, (int64_t[]){5, 250}, up_tags, vecs, 2, 1);
    const uint64_t points[] = {t1, t2 - 1, t2, t3 - 1, t3, t4 - 1, t4, 0};
    float q[D];
    random_vecs(&seed, q, 1);
    for (int phase = 0; phase < 4; phase++) {
        char what[64];
        for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
            snprintf(what, sizeof what, "phase %d point %zu", phase, i);
            check_get_at(db, "c", &m, ids, N, points[i], what);
            check_search_at(db, "c", &m, q, points[i], what);
        }
        if (phase == 2)
            OK(vdb_flush(db, "c"));
        vdb_close(db);
        db = open_db(&e);
    }
    vdb_stats st = {.struct_size = sizeof st};
    OK(vdb_collection_stats(db, "c", &st));
    assert_int_equal(st.row_count, N - 3);
    vdb_close(db);
    free(m.v);
    env_free(&e);
}

/* A flush truncates the log; writes after it, and after a reopen, must all replay. */
static void test_standalone_writes_after_flush_survive_reopens(void **state)
{
    (void)state;
    enum { PER = 50, ROUNDS = 4 };
    env e = env_new("flushmore", 0);
    vdb_db *db = open_db(&e);
    create_coll(db, "c", 1);
    model m = {0};
    uint64_t seed = 11;
    int64_t all_ids[PER * ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        int64_t ids[PER], tags[PER];
        float vecs[PER * D];
        for (int i = 0; i < PER; i++) {
            ids[i] = all_ids[r * PER + i] = r * PER + i;
            tags[i] = r;
        }
        random_vecs(&seed, vecs, PER);
        do_write(db, "c", &m, ids, tags, vecs, PER, 0);
        if (r % 2 == 0)
            OK(vdb_flush(db, "c"));
        vdb_close(db);
        db = open_db(&e);
        char what[32];
        snprintf(what, sizeof what, "round %d", r);
        check_get_at(db, "c", &m, all_ids, (size_t)(r + 1) * PER, 0, what);
    }
    vdb_stats st = {.struct_size = sizeof st};
    OK(vdb_collection_stats(db, "c", &st));
    assert_int_equal(st.row_count, PER * ROUNDS);
    vdb_close(db);
    free(m.v);
    env_free(&e);
}

/* Many auto-sealed segments with deletes and upserts landing on sealed rows; checked at every
 * write's timestamp while growing, after a flush and after a reopen. */
static void test_standalone_travel_across_sealed_segments(void **state)
{
    (void)state;
    enum { BATCHES = 8, PER = 40 };
    env e = env_new("segments", 100);
    vdb_db *db = open_db(&e);
    create_coll(db, "c", 2);
    model m = {0};
    uint64_t seed = 2024;
    uint64_t points[4 * BATCHES];
    size_t npoints = 0;
    int64_t all_ids[BATCHES * PER];
    float q[D];
    random_vecs(&seed, q, 1);
    for (int b = 0; b < BATCHES; b++) {
        int64_t ids[PER], tags[PER];
        float vecs[PER * D];
        for (int i = 0; i < PER; i++) {
            ids[i] = all_ids[b * PER + i] = b * PER + i;
            tags[i] = ids[i] * 10;
        }
        random_vecs(&seed, vecs, PER);
        points[npoints++] = do_write(db, "c", &m, ids, tags, vecs, PER, 0);
        if (b >= 2) {
            int64_t del[3] = {(b - 2) * PER + 3, (b - 1) * PER + 5, b * PER + 7};
            points[npoints++] = do_delete(db, "c", &m, del, 3);
            int64_t up[2] = {(b - 2) * PER + 11, (b - 1) * PER + 13};
            int64_t utags[2] = {-(b * 100 + 1), -(b * 100 + 2)};
            float uv[2 * D];
            random_vecs(&seed, uv, 2);
            points[npoints++] = do_write(db, "c", &m, up, utags, uv, 2, 1);
        }
    }
    float rv[D] = {0.5f, 0.5f, 0.5f, 0.5f};
    points[npoints++] = do_write(db, "c", &m, (int64_t[]){3}, (int64_t[]){333}, rv, 1, 0);
    OK(vdb_wait_for_seals(db, "c", 60000)); /* segments past the threshold seal behind */
    vdb_stats st = {.struct_size = sizeof st};
    OK(vdb_collection_stats(db, "c", &st));
    assert_true(st.sealed_segments >= 2);
    for (int phase = 0; phase < 3; phase++) {
        char what[64];
        for (size_t i = 0; i < npoints; i++) {
            snprintf(what, sizeof what, "phase %d, write %zu", phase, i);
            check_get_at(db, "c", &m, all_ids, BATCHES * PER, points[i], what);
            check_search_at(db, "c", &m, q, points[i], what);
        }
        check_search_at(db, "c", &m, q, 0, "now");
        if (phase == 0)
            OK(vdb_flush(db, "c"));
        vdb_close(db);
        db = open_db(&e);
    }
    vdb_close(db);
    free(m.v);
    env_free(&e);
}

/* A dropped collection leaves nothing behind: a new one of the same name starts empty, in
 * memory and after a reopen (its log channels and meta keys are gone). */
static void test_standalone_drop_and_recreate_collection(void **state)
{
    (void)state;
    env e = env_new("recreate", 0);
    vdb_db *db = open_db(&e);
    create_coll(db, "c", 2);
    model old = {0}, m = {0};
    uint64_t seed = 5;
    int64_t ids[20], tags[20];
    float vecs[20 * D];
    for (int i = 0; i < 20; i++) {
        ids[i] = i;
        tags[i] = 1;
    }
    random_vecs(&seed, vecs, 20);
    do_write(db, "c", &old, ids, tags, vecs, 20, 0);
    OK(vdb_flush(db, "c"));
    do_write(db, "c", &old, ids, tags, vecs, 10, 1);
    OK(vdb_drop_collection(db, "c"));
    create_coll(db, "c", 2);
    for (int i = 0; i < 5; i++)
        tags[i] = 2;
    do_write(db, "c", &m, ids + 15, tags, vecs, 5, 0);
    for (int round = 0; round < 2; round++) {
        check_get_at(db, "c", &m, ids, 20, 0, round ? "reopened" : "recreated");
        check_search_at(db, "c", &m, vecs, 0, round ? "reopened" : "recreated");
        vdb_close(db);
        db = open_db(&e);
    }
    vdb_close(db);
    free(old.v);
    free(m.v);
    env_free(&e);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    snprintf(g_run, sizeof g_run, "e2e%lx-%lx", (unsigned long)time(NULL),
             (unsigned long)getpid());
    fprintf(stderr, "test_e2e_standalone: log %s, meta %s, objects %s\n",
            getenv("VDB_LOG_URI") ? getenv("VDB_LOG_URI") : "(default)",
            getenv("VDB_META_URI") ? getenv("VDB_META_URI") : "(default)",
            getenv("VDB_OBJECT_URI") ? getenv("VDB_OBJECT_URI") : "(default)");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standalone_travel_growing_flushed_reopened),
        cmocka_unit_test(test_standalone_log_replay_after_reopen),
        cmocka_unit_test(test_standalone_writes_after_flush_survive_reopens),
        cmocka_unit_test(test_standalone_travel_across_sealed_segments),
        cmocka_unit_test(test_standalone_drop_and_recreate_collection),
    };
    return cmocka_run_group_tests_name("e2e standalone", tests, NULL, NULL);
}

/* Change streams and time ticks: a workload of inserts, upserts and deletes over two shards
 * read back through vdb_change_stream_* and checked against what was written; resuming from
 * the middle and after a reopen; the hold on truncation across a seal and VDB_ERANGE before a
 * checkpoint; ticks that move the caught-up mark and the tail's wait while idle, and that
 * replay skips; a dropped collection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_common.h"
#include "core/db.h"
#include "core/tail.h"
#include "storage/storage.h"
#include "vdb/sys/log_backend.h"
#include "vdb/vdb.h"

#define OK(x)                                                                                 \
    do {                                                                                      \
        vdb_status st_ = (x);                                                                 \
        if (st_ != VDB_OK)                                                                    \
            fail_msg("%s: %s: %s", #x, vdb_status_name(st_), vdb_errmsg(NULL));               \
    } while (0)
#define IS(x, want)                                                                           \
    do {                                                                                      \
        vdb_status st_ = (x);                                                                 \
        if (st_ != (want))                                                                    \
            fail_msg("%s: %s (wanted %s): %s", #x, vdb_status_name(st_),                      \
                     vdb_status_name(want), vdb_errmsg(NULL));                                \
    } while (0)

enum { DIM = 4, MAXROWS = 32, MAXW = 16 };

/* One write as the test made it. */
typedef struct wrote {
    vdb_change_kind kind;
    uint64_t ts;
    const char *partition; /* NULL: every partition (deletes) */
    size_t n;
    int64_t pk[MAXROWS];
    int32_t v[MAXROWS];
} wrote;

static const char *g_log_uri; /* NULL: the default WAL */

static vdb_db *open_db(const char *dir, uint32_t tick_ms)
{
    vdb_options o;
    vdb_options_init(&o);
    o.log_uri = g_log_uri;
    o.tick_interval_ms = tick_ms;
    o.compaction_interval_ms = 0;
    o.segment_idle_seal_ms = 0;
    vdb_db *db;
    OK(vdb_open(dir, &o, &db));
    return db;
}

static void make_collection(vdb_db *db)
{
    vdb_schema *s;
    OK(vdb_schema_new("docs", &s));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_INT32)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "vec", .type = VDB_TYPE_FLOAT_VECTOR,
                                         .dim = DIM)));
    OK(vdb_schema_set_shards(s, 2));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
    OK(vdb_create_partition(db, "docs", "p1"));
}

static void put(vdb_db *db, wrote *w, bool upsert, const char *part, int64_t first, size_t n,
                int32_t v0)
{
    float vec[MAXROWS * DIM];
    vdb_batch *b;
    *w = (wrote){.kind = upsert ? VDB_CHANGE_UPSERT : VDB_CHANGE_INSERT, .n = n,
                 .partition = part ? part : "_default"};
    for (size_t i = 0; i < n; i++) {
        w->pk[i] = first + (int64_t)i;
        w->v[i] = v0 + (int32_t)i;
        for (int d = 0; d < DIM; d++)
            vec[i * DIM + d] = (float)w->pk[i] + 0.25f * (float)d;
    }
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, w->pk, NULL, n, 0));
    OK(vdb_batch_add_column(b, "v", VDB_TYPE_INT32, w->v, NULL, n, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vec, NULL, n, DIM));
    if (upsert)
        OK(vdb_upsert(db, "docs", part, b, &w->ts, NULL));
    else
        OK(vdb_insert(db, "docs", part, b, &w->ts, NULL));
    vdb_batch_free(b);
}

static void del(vdb_db *db, wrote *w, const int64_t *pks, size_t n)
{
    *w = (wrote){.kind = VDB_CHANGE_DELETE, .n = n};
    memcpy(w->pk, pks, n * sizeof *pks);
    vdb_pk_list l = {.ints = pks, .count = n};
    OK(vdb_delete(db, "docs", NULL, &l, &w->ts));
}

/* The workload: 6 writes, most of them split over both shards. */
static size_t workload(vdb_db *db, wrote *w)
{
    size_t n = 0;
    put(db, &w[n++], false, NULL, 1, 10, 100);
    put(db, &w[n++], false, "p1", 100, 5, 200);
    put(db, &w[n++], true, NULL, 3, 4, 300);  /* keys 3..6 again */
    int64_t d[] = {1, 2, 101};
    del(db, &w[n++], d, 3);
    put(db, &w[n++], false, NULL, 50, 1, 400); /* one row: one shard */
    int64_t d2[] = {7};
    del(db, &w[n++], d2, 1);
    return n;
}

/* Reads the next change (not a mark) and checks it against w. */
static void expect(vdb_change_stream *cs, const wrote *w)
{
    vdb_change ch = {.struct_size = sizeof ch};
    OK(vdb_change_stream_next(cs, 20000, &ch));
    assert_int_equal(ch.kind, w->kind);
    assert_int_equal(ch.ts, w->ts);
    if (w->partition)
        assert_string_equal(ch.partition, w->partition);
    else
        assert_null(ch.partition);
    assert_non_null(ch.rows);
    assert_int_equal(vdb_result_groups(ch.rows), 1);
    assert_int_equal(vdb_result_rows(ch.rows, 0), w->n);
    assert_int_equal(vdb_result_timestamp(ch.rows), w->ts);
    bool seen[MAXROWS] = {false};
    for (size_t r = 0; r < w->n; r++) { /* rows come shard by shard: match by key */
        int64_t pk = vdb_result_pk_int(ch.rows, 0, r);
        size_t i = 0;
        while (i < w->n && w->pk[i] != pk)
            i++;
        if (i == w->n || seen[i])
            fail_msg("change at %llu: key %lld was not written there (or came twice)",
                     (unsigned long long)w->ts, (long long)pk);
        seen[i] = true;
        vdb_value val;
        if (w->kind == VDB_CHANGE_DELETE) {
            IS(vdb_result_field(ch.rows, 0, r, "v", &val), VDB_ENOTFOUND);
            continue;
        }
        OK(vdb_result_field(ch.rows, 0, r, "v", &val));
        assert_int_equal(val.u.i64, w->v[i]);
        OK(vdb_result_field(ch.rows, 0, r, "vec", &val));
        assert_int_equal(val.u.vec.dim, DIM);
        for (int d = 0; d < DIM; d++)
            assert_true(val.u.vec.ptr[d] == (float)pk + 0.25f * (float)d);
        OK(vdb_result_field(ch.rows, 0, r, "id", &val));
        assert_int_equal(val.u.i64, pk);
    }
}

static vdb_change_stream *stream(vdb_db *db, uint64_t start, int marks)
{
    vdb_change_stream *cs;
    vdb_change_opts o = {.struct_size = sizeof o, .start_ts = start, .caught_up_marks = marks};
    OK(vdb_change_stream_open(db, "docs", &o, &cs));
    return cs;
}

static void expect_nothing(vdb_change_stream *cs, uint64_t timeout_ms)
{
    vdb_change ch = {.struct_size = sizeof ch};
    IS(vdb_change_stream_next(cs, timeout_ms, &ch), VDB_ETIMEDOUT);
}

static void test_cdc_workload_over_two_shards_in_order_and_resumable(void **state)
{
    (void)state;
    char *dir = test_tmpdir("cdc_workload");
    vdb_db *db = open_db(dir, 20);
    make_collection(db);
    vdb_change_stream *live = stream(db, 0, 0); /* opened before any write */
    wrote w[MAXW];
    size_t n = workload(db, w);
    for (size_t i = 0; i < n; i++)
        expect(live, &w[i]);
    expect_nothing(live, 100);
    /* from the middle: a start at a change's timestamp includes it, one past it does not */
    vdb_change_stream *mid = stream(db, w[2].ts, 0);
    for (size_t i = 2; i < n; i++)
        expect(mid, &w[i]);
    vdb_change_stream_close(mid);
    mid = stream(db, w[2].ts + 1, 0);
    for (size_t i = 3; i < n; i++)
        expect(mid, &w[i]);
    expect_nothing(mid, 0);
    vdb_change_stream_close(mid);
    /* later writes reach the stream that is still open */
    wrote more;
    put(db, &more, false, NULL, 500, 3, 900);
    expect(live, &more);
    vdb_change_stream_close(live);
    /* after a reopen (the log with its ticks replayed), resume from the middle again */
    vdb_close(db);
    db = open_db(dir, 20);
    uint64_t count = 0;
    OK(vdb_count(db, "docs", NULL, VDB_READ_OPTS(), &count));
    assert_int_equal(count, 10 + 5 + 1 - 3 - 1 + 3); /* upserts replace, deletes remove */
    mid = stream(db, w[4].ts, 0);
    for (size_t i = 4; i < n; i++)
        expect(mid, &w[i]);
    expect(mid, &more);
    expect_nothing(mid, 0);
    vdb_change_stream_close(mid);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_cdc_holds_the_log_across_a_seal_and_refuses_a_start_before_it(void **state)
{
    (void)state;
    char *dir = test_tmpdir("cdc_seal");
    /* RocksDB truncates exactly (the WAL removes whole files only, so a missing hold would
     * go unseen there) */
    char uri[512];
    snprintf(uri, sizeof uri, "rocksdb://%s/rocks", dir);
#ifdef VDB_HAVE_ROCKSDB
    g_log_uri = uri;
#endif
    vdb_db *db = open_db(dir, 20);
    make_collection(db);
    vdb_change_stream *cs = stream(db, 0, 0);
    wrote w[MAXW];
    size_t n = workload(db, w);
    OK(vdb_flush(db, "docs")); /* checkpoints both shards and truncates behind them */
    for (size_t i = 0; i < n; i++)
        expect(cs, &w[i]);
    vdb_change_stream_close(cs);
    vdb_change_stream *late;
    vdb_change_opts o = {.struct_size = sizeof o, .start_ts = w[n - 1].ts};
    IS(vdb_change_stream_open(db, "docs", &o, &late), VDB_ERANGE);
    assert_non_null(strstr(vdb_errmsg(db), "checkpoint"));
    /* from the oldest held: only what came after the seal */
    late = stream(db, 0, 0);
    expect_nothing(late, 100);
    wrote after;
    put(db, &after, true, "p1", 100, 2, 700);
    expect(late, &after);
    vdb_change_stream_close(late);
    /* a struct_size of 0 is refused, not read */
    o.struct_size = 0;
    IS(vdb_change_stream_open(db, "docs", &o, &late), VDB_EINVAL);
    IS(vdb_change_stream_open(db, "nope", NULL, &late), VDB_ENOTFOUND);
    vdb_close(db);
    g_log_uri = NULL;
    test_rmdir(dir);
    free(dir);
}

static void test_cdc_ticks_move_the_caught_up_mark_while_idle(void **state)
{
    (void)state;
    g_log_uri = NULL;
    char *dir = test_tmpdir("cdc_ticks");
    vdb_db *db = open_db(dir, 10);
    make_collection(db);
    wrote w;
    put(db, &w, false, NULL, 1, 4, 1);
    vdb_change_stream *cs = stream(db, 0, 1);
    vdb_change ch = {.struct_size = sizeof ch};
    /* marks before the change are below it; the change; then marks past it, growing */
    uint64_t last = 0;
    bool got_change = false;
    int marks_after = 0;
    while (marks_after < 3) {
        OK(vdb_change_stream_next(cs, 20000, &ch));
        if (ch.kind == VDB_CHANGE_CAUGHT_UP) {
            assert_null(ch.rows);
            assert_true(ch.ts > last);
            if (!got_change)
                assert_true(ch.ts < w.ts);
            else
                marks_after++;
            last = ch.ts;
            continue;
        }
        assert_false(got_change);
        assert_int_equal(ch.kind, VDB_CHANGE_INSERT);
        assert_int_equal(ch.ts, w.ts);
        assert_true(ch.ts > last);
        got_change = true;
        last = ch.ts;
    }
    vdb_change_stream_close(cs);

    /* the tail a node would use: its channels reach a timestamp taken now, by the ticks */
    vdb_collection *c = db->catalog.colls[0];
    const char *chans[2] = {c->shards[0].channel, c->shards[1].channel};
    vdb_tail *t;
    OK(vdb_tail_open(&db->log, 2, chans, NULL, &t));
    uint64_t now;
    OK(vdb_now(db, &now));
    OK(vdb_tail_wait_ts(t, now, 20000, NULL, NULL));
    assert_true(vdb_tail_ts(t, 0) >= now && vdb_tail_ts(t, 1) >= now);
    vdb_tail_close(t);
    vdb_close(db);

    /* without ticks, an idle shard never reaches it: VDB_ETIMEDOUT naming the channel */
    db = open_db(dir, 0);
    c = db->catalog.colls[0];
    chans[0] = c->shards[0].channel;
    chans[1] = c->shards[1].channel;
    OK(vdb_tail_open(&db->log, 2, chans, NULL, &t));
    OK(vdb_now(db, &now));
    IS(vdb_tail_wait_ts(t, now, 200, NULL, NULL), VDB_ETIMEDOUT);
    assert_non_null(strstr(vdb_errmsg(db), "tick_interval_ms"));
    vdb_tail_close(t);
    uint64_t count = 0;
    OK(vdb_count(db, "docs", NULL, VDB_READ_OPTS(), &count)); /* replay skipped the ticks */
    assert_int_equal(count, 4);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_cdc_ends_with_enotfound_when_the_collection_is_dropped(void **state)
{
    (void)state;
    g_log_uri = NULL;
    char *dir = test_tmpdir("cdc_drop");
    vdb_db *db = open_db(dir, 20);
    make_collection(db);
    vdb_change_stream *cs = stream(db, 0, 0);
    OK(vdb_drop_collection(db, "docs"));
    vdb_change ch = {.struct_size = sizeof ch};
    IS(vdb_change_stream_next(cs, 20000, &ch), VDB_ENOTFOUND);
    vdb_change_stream_close(cs);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* ---- a torn write: a log backend over the WAL whose appends to shard 1 fail on demand ---- */

static int g_tear; /* 1: the next insert record appended to a shard-1 channel fails */

static vdb_status tear_open(const char *uri, const vdb_backend_options *o, void **out)
{
    char u[4096];
    snprintf(u, sizeof u, "wal://%s", strstr(uri, "://") + 3);
    return vdb_wal_backend.open(u, o, out);
}

static vdb_status tear_append(void *log, const char *channel, const void *rec, size_t len,
                              uint64_t *pos)
{
    size_t n = strlen(channel);
    /* an insert's part (the record's type byte), not a tick the ticker writes meanwhile */
    if (n > 3 && !strcmp(channel + n - 3, "-s1") && len > 1 &&
        ((const uint8_t *)rec)[1] == 1 /* VDB_REC_INSERT */ &&
        __atomic_exchange_n(&g_tear, 0, __ATOMIC_SEQ_CST))
        return VDB_EIO;
    return vdb_wal_backend.append(log, channel, rec, len, pos);
}

static void test_cdc_skips_a_torn_write(void **state)
{
    (void)state;
    vdb_log_backend be = vdb_wal_backend;
    be.scheme = "tear";
    be.open = tear_open;
    be.append = tear_append;
    OK(vdb_register_log_backend(&be));
    char *dir = test_tmpdir("cdc_torn");
    char uri[512];
    snprintf(uri, sizeof uri, "tear://%s/wal", dir);
    g_log_uri = uri;
    vdb_db *db = open_db(dir, 10);
    make_collection(db);
    vdb_change_stream *cs = stream(db, 0, 0);
    wrote a, b;
    put(db, &a, false, NULL, 1, 10, 1);
    /* 10 keys go to both shards: the part for shard 0 is written, shard 1's fails */
    vdb_batch *batch;
    int64_t ids[10];
    int32_t v[10];
    float vec[10 * DIM] = {0};
    for (int i = 0; i < 10; i++) {
        ids[i] = 1000 + i;
        v[i] = i;
    }
    OK(vdb_batch_new(&batch));
    OK(vdb_batch_add_column(batch, "id", VDB_TYPE_INT64, ids, NULL, 10, 0));
    OK(vdb_batch_add_column(batch, "v", VDB_TYPE_INT32, v, NULL, 10, 0));
    OK(vdb_batch_add_column(batch, "vec", VDB_TYPE_FLOAT_VECTOR, vec, NULL, 10, DIM));
    __atomic_store_n(&g_tear, 1, __ATOMIC_SEQ_CST);
    IS(vdb_insert(db, "docs", NULL, batch, NULL, NULL), VDB_EIO);
    vdb_batch_free(batch);
    expect(cs, &a);
    expect_nothing(cs, 300); /* the torn part is never delivered (ticks pass it on shard 1) */
    vdb_change_stream_close(cs);
    vdb_close(db); /* the collection refuses writes until it is reopened */
    db = open_db(dir, 10);
    put(db, &b, true, NULL, 5, 2, 7);
    cs = stream(db, 0, 0);
    expect(cs, &a);
    expect(cs, &b);
    expect_nothing(cs, 100);
    vdb_change_stream_close(cs);
    vdb_close(db);
    g_log_uri = NULL;
    test_rmdir(dir);
    free(dir);
}

static int count_rec(void *arg, uint64_t pos, const void *rec, size_t len)
{
    (void)pos;
    (void)rec;
    (void)len;
    (*(uint64_t *)arg)++;
    return 0;
}

/* An idle channel holding only ticks since its checkpoint is trimmed to its last tick now and
 * then: it keeps a bounded number of ticks (RocksDB, which truncates exactly). */
static void test_ticks_of_an_idle_channel_are_trimmed(void **state)
{
    (void)state;
#ifndef VDB_HAVE_ROCKSDB
    skip();
#endif
    char *dir = test_tmpdir("cdc_trim");
    char uri[512];
    snprintf(uri, sizeof uri, "rocksdb://%s/rocks", dir);
    g_log_uri = uri;
    vdb_db *db = open_db(dir, 10);
    make_collection(db);
    wrote w;
    put(db, &w, false, NULL, 1, 10, 1);
    OK(vdb_flush(db, "docs")); /* nothing but ticks after this */
    const char *ch = db->catalog.colls[0]->shards[0].channel;
    uint64_t first = 0, last = 0;
    OK(vdb_log_store_last_pos(&db->log, ch, &first));
    vdb_tail *t;
    OK(vdb_tail_open(&db->log, 1, &ch, NULL, &t));
    while (last < first + 300) { /* wait for 300 ticks, reading them as they come */
        OK(vdb_tail_poll(t, 0, 20000, NULL, NULL));
        last = vdb_tail_pos(t, 0);
    }
    vdb_tail_close(t);
    uint64_t held = 0;
    OK(db->log.be->read(db->log.h, ch, 0, count_rec, &held));
    if (held > 2 * 64 + 8)
        fail_msg("an idle channel holds %llu records after 300 ticks: ticks are not trimmed",
                 (unsigned long long)held);
    vdb_close(db);
    db = open_db(dir, 10); /* the trimmed channel opens: its ticks are all replay needs */
    uint64_t count = 0;
    OK(vdb_count(db, "docs", NULL, VDB_READ_OPTS(), &count));
    assert_int_equal(count, 10);
    vdb_close(db);
    g_log_uri = NULL;
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cdc_workload_over_two_shards_in_order_and_resumable),
        cmocka_unit_test(test_cdc_holds_the_log_across_a_seal_and_refuses_a_start_before_it),
        cmocka_unit_test(test_cdc_ticks_move_the_caught_up_mark_while_idle),
        cmocka_unit_test(test_cdc_ends_with_enotfound_when_the_collection_is_dropped),
        cmocka_unit_test(test_cdc_skips_a_torn_write),
        cmocka_unit_test(test_ticks_of_an_idle_channel_are_trimmed),
    };
    return cmocka_run_group_tests_name("cdc", tests, NULL, NULL);
}

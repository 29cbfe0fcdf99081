/* Conformance suite of the log vtable (include/vdb/sys/log_backend.h), run unchanged against
 * every log backend: wal://, rocksdb://, nats://, ... Version 1: append, read, truncate, drop;
 * version 2: last_pos and subscriptions (order, resume after a reopen, no gap and no duplicate
 * under concurrent appends, timeouts, wake-ups from another thread, drops, and a subscriber in
 * another process through a read_only instance). A backend without a version-2 feature
 * (VDB_EUNSUPPORTED) has those tests skipped.
 *
 * Usage: conformance_log URI [FILTER]
 *   URI     e.g. wal:///tmp/x/wal, rocksdb:///tmp/x/rocks, nats://127.0.0.1:4222/prefix
 *           (or the variable VDB_CONFORMANCE_URI)
 *   FILTER  a cmocka glob over the test names, e.g. "*concurrent*"
 *   env VDB_CONFORMANCE_SYNC=full|batch|off (default full), VDB_CONFORMANCE_TIMEOUT_MS=N
 * The backend is opened through libvdb's registry by URI. Every test uses channels of its own
 * (named from the time, the pid and a counter), so runs can share a server; nothing is
 * cleaned up beyond what the tests drop. Exit status 0 when all pass.
 * conformance_log --follow ... is the subscriber process the suite starts itself. */
#define _GNU_SOURCE
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"

static vdb_log_store g_log;

static int setup(void **state)
{
    (void)state;
    vdb_backend_options o = cf_options();
    vdb_status st = vdb_log_store_open(cf_uri(), &o, &g_log);
    if (st != VDB_OK) {
        fprintf(stderr, "cannot open log %s: %s: %s\n", cf_uri(), vdb_status_name(st),
                vdb_err_get());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vdb_log_store_close(&g_log);
    return 0;
}

static void reopen(void)
{
    vdb_log_store_close(&g_log);
    vdb_backend_options o = cf_options();
    CF_OK(vdb_log_store_open(cf_uri(), &o, &g_log));
}

static uint64_t append(const char *ch, const void *rec, size_t len)
{
    uint64_t pos = 0;
    CF_OK(g_log.be->append(g_log.h, ch, rec, len, &pos));
    assert_true(pos > 0);
    return pos;
}

/* ---- reading into a list ------------------------------------------------------------------- */

typedef struct rec {
    uint64_t pos;
    uint8_t *data;
    size_t len;
} rec;

typedef struct reclist {
    rec *r;
    size_t n, cap;
    size_t stop_after; /* 0: read everything */
} reclist;

static int collect(void *arg, uint64_t pos, const void *data, size_t len)
{
    reclist *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->r = realloc(l->r, l->cap * sizeof *l->r);
        assert_non_null(l->r);
    }
    rec *r = &l->r[l->n++];
    r->pos = pos;
    r->len = len;
    r->data = malloc(len ? len : 1);
    assert_non_null(r->data);
    if (len)
        memcpy(r->data, data, len);
    return l->stop_after && l->n >= l->stop_after;
}

static void reclist_free(reclist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->r[i].data);
    free(l->r);
    memset(l, 0, sizeof *l);
}

static reclist read_from(const char *ch, uint64_t from)
{
    reclist l = {0};
    CF_OK(g_log.be->read(g_log.h, ch, from, collect, &l));
    for (size_t i = 1; i < l.n; i++)
        if (l.r[i].pos <= l.r[i - 1].pos)
            fail_msg("channel %s: read gave position %llu after %llu", ch,
                     (unsigned long long)l.r[i].pos, (unsigned long long)l.r[i - 1].pos);
    for (size_t i = 0; i < l.n; i++)
        if (l.r[i].pos < from)
            fail_msg("channel %s: read from %llu gave position %llu", ch,
                     (unsigned long long)from, (unsigned long long)l.r[i].pos);
    return l;
}

/* Record i of a test: a header with i, then deterministic bytes (NULs included). */
static uint8_t *make_rec(uint64_t seed, size_t i, size_t *len)
{
    *len = 8 + (i * 37) % 300;
    uint8_t *p = cf_bytes(*len, seed + i);
    memcpy(p, &i, sizeof(uint32_t));
    return p;
}

static void expect_rec(const rec *r, uint64_t pos, uint64_t seed, size_t i)
{
    size_t len;
    uint8_t *want = make_rec(seed, i, &len);
    if (r->pos != pos)
        fail_msg("record %zu: at position %llu, appended at %llu", i,
                 (unsigned long long)r->pos, (unsigned long long)pos);
    if (r->len != len || memcmp(r->data, want, len))
        fail_msg("record %zu (position %llu): %zu bytes differ from the %zu appended", i,
                 (unsigned long long)pos, r->len, len);
    free(want);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_log_positions_increase_and_records_read_back_in_order(void **state)
{
    (void)state;
    enum { N = 200 };
    char *ch = cf_name("order");
    uint64_t pos[N];
    for (size_t i = 0; i < N; i++) {
        size_t len;
        uint8_t *r = make_rec(1, i, &len);
        pos[i] = append(ch, r, len);
        free(r);
        if (i && pos[i] <= pos[i - 1])
            fail_msg("append %zu got position %llu after %llu", i, (unsigned long long)pos[i],
                     (unsigned long long)pos[i - 1]);
    }
    reclist l = read_from(ch, 0);
    assert_int_equal(l.n, N);
    for (size_t i = 0; i < N; i++)
        expect_rec(&l.r[i], pos[i], 1, i);
    reclist_free(&l);
    l = read_from(ch, 1);
    assert_int_equal(l.n, N);
    reclist_free(&l);
    free(ch);
}

static void test_log_read_from_position(void **state)
{
    (void)state;
    enum { N = 50 };
    char *ch = cf_name("from");
    uint64_t pos[N];
    for (size_t i = 0; i < N; i++) {
        size_t len;
        uint8_t *r = make_rec(2, i, &len);
        pos[i] = append(ch, r, len);
        free(r);
    }
    for (size_t k = 0; k < N; k += 7) {
        reclist l = read_from(ch, pos[k]);
        assert_int_equal(l.n, N - k);
        for (size_t i = k; i < N; i++)
            expect_rec(&l.r[i - k], pos[i], 2, i);
        reclist_free(&l);
        /* a position between two records starts at the later one */
        if (k && pos[k] - pos[k - 1] > 1) {
            l = read_from(ch, pos[k - 1] + 1);
            assert_int_equal(l.n, N - k);
            reclist_free(&l);
        }
    }
    reclist l = read_from(ch, pos[N - 1] + 1);
    assert_int_equal(l.n, 0);
    reclist_free(&l);
    l = read_from(ch, UINT64_MAX);
    assert_int_equal(l.n, 0);
    reclist_free(&l);
    /* the callback stops the read with a non-zero return: not an error */
    l = (reclist){.stop_after = 5};
    CF_OK(g_log.be->read(g_log.h, ch, pos[10], collect, &l));
    assert_int_equal(l.n, 5);
    for (size_t i = 0; i < 5; i++)
        expect_rec(&l.r[i], pos[10 + i], 2, 10 + i);
    reclist_free(&l);
    free(ch);
}

static void test_log_never_written_channel_reads_empty(void **state)
{
    (void)state;
    char *ch = cf_name("never");
    reclist l = read_from(ch, 0);
    assert_int_equal(l.n, 0);
    reclist_free(&l);
    l = read_from(ch, 12345);
    assert_int_equal(l.n, 0);
    reclist_free(&l);
    free(ch);
}

/* Channels whose names are prefixes of each other do not see each other's records. */
static void test_log_channels_are_independent(void **state)
{
    (void)state;
    char *base = cf_name("ind");
    char names[3][200];
    snprintf(names[0], sizeof names[0], "%s", base);
    snprintf(names[1], sizeof names[1], "%s-x", base);
    snprintf(names[2], sizeof names[2], "%sx", base);
    uint64_t pos[3][20];
    for (size_t i = 0; i < 20; i++)
        for (int c = 0; c < 3; c++) {
            size_t len;
            uint8_t *r = make_rec(10 + (uint64_t)c * 1000, i, &len);
            pos[c][i] = append(names[c], r, len);
            free(r);
        }
    for (int c = 0; c < 3; c++) {
        reclist l = read_from(names[c], 0);
        assert_int_equal(l.n, 20);
        for (size_t i = 0; i < 20; i++)
            expect_rec(&l.r[i], pos[c][i], 10 + (uint64_t)c * 1000, i);
        reclist_free(&l);
    }
    CF_OK(g_log.be->drop(g_log.h, names[0]));
    reclist l = read_from(names[1], 0);
    assert_int_equal(l.n, 20);
    reclist_free(&l);
    l = read_from(names[2], 0);
    assert_int_equal(l.n, 20);
    reclist_free(&l);
    free(base);
}

typedef struct appender {
    const char *ch;
    uint32_t thread;
    uint32_t n;
    uint64_t *pos;
    vdb_status st;
    char err[256];
} appender;

static void *appender_main(void *arg)
{
    appender *a = arg;
    for (uint32_t i = 0; i < a->n; i++) {
        uint8_t buf[64];
        uint32_t hdr[2] = {a->thread, i};
        memcpy(buf, hdr, sizeof hdr);
        size_t len = sizeof hdr + (i % 50);
        for (size_t j = sizeof hdr; j < len; j++)
            buf[j] = (uint8_t)(a->thread * 31 + i + j);
        a->st = g_log.be->append(g_log.h, a->ch, buf, len, &a->pos[i]);
        if (a->st != VDB_OK) {
            snprintf(a->err, sizeof a->err, "%s", vdb_err_get());
            break;
        }
    }
    return NULL;
}

static void test_log_concurrent_appenders_get_distinct_positions(void **state)
{
    (void)state;
    enum { T = 4, N = 250 };
    char *ch = cf_name("conc");
    appender a[T];
    pthread_t th[T];
    for (uint32_t t = 0; t < T; t++) {
        a[t] = (appender){.ch = ch, .thread = t, .n = N, .pos = calloc(N, sizeof(uint64_t))};
        assert_int_equal(pthread_create(&th[t], NULL, appender_main, &a[t]), 0);
    }
    for (int t = 0; t < T; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < T; t++)
        if (a[t].st != VDB_OK)
            fail_msg("appender %d: %s: %s", t, vdb_status_name(a[t].st), a[t].err);
    reclist l = read_from(ch, 0);
    assert_int_equal(l.n, T * N);
    /* every record is where its appender was told, intact; each thread's records in order */
    size_t next[T] = {0};
    for (size_t k = 0; k < l.n; k++) {
        uint32_t hdr[2];
        assert_true(l.r[k].len >= sizeof hdr);
        memcpy(hdr, l.r[k].data, sizeof hdr);
        assert_true(hdr[0] < T && hdr[1] < N);
        appender *ap = &a[hdr[0]];
        if (ap->pos[hdr[1]] != l.r[k].pos)
            fail_msg("thread %u record %u read at position %llu, appended at %llu", hdr[0],
                     hdr[1], (unsigned long long)l.r[k].pos,
                     (unsigned long long)ap->pos[hdr[1]]);
        if (hdr[1] != next[hdr[0]])
            fail_msg("thread %u: record %u read before record %zu", hdr[0], hdr[1],
                     next[hdr[0]]);
        next[hdr[0]]++;
        assert_int_equal(l.r[k].len, sizeof hdr + (hdr[1] % 50));
        for (size_t j = sizeof hdr; j < l.r[k].len; j++)
            assert_int_equal(l.r[k].data[j], (uint8_t)(hdr[0] * 31 + hdr[1] + j));
    }
    reclist_free(&l);
    for (int t = 0; t < T; t++)
        free(a[t].pos);
    free(ch);
}

static void test_log_large_records(void **state)
{
    (void)state;
    const size_t big = 8u << 20;
    char *ch = cf_name("large");
    uint8_t *b1 = cf_bytes(big, 7), *b2 = cf_bytes(big - 1, 8);
    uint64_t p0 = append(ch, "small", 5);
    uint64_t p1 = append(ch, b1, big);
    uint64_t p2 = append(ch, "x", 1);
    uint64_t p3 = append(ch, b2, big - 1);
    assert_true(p0 < p1 && p1 < p2 && p2 < p3);
    reclist l = read_from(ch, 0);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.r[1].pos, p1);
    assert_int_equal(l.r[1].len, big);
    assert_true(memcmp(l.r[1].data, b1, big) == 0);
    assert_int_equal(l.r[2].len, 1);
    assert_int_equal(l.r[3].len, big - 1);
    assert_true(memcmp(l.r[3].data, b2, big - 1) == 0);
    reclist_free(&l);
    l = read_from(ch, p3);
    assert_int_equal(l.n, 1);
    assert_true(memcmp(l.r[0].data, b2, big - 1) == 0);
    reclist_free(&l);
    free(b1);
    free(b2);
    free(ch);
}

static void test_log_binary_records_with_nul_bytes(void **state)
{
    (void)state;
    char *ch = cf_name("bin");
    const uint8_t zeros[16] = {0};
    const uint8_t mixed[6] = {0, 0xff, 0, 0x80, '\n', 0};
    uint64_t p0 = append(ch, zeros, sizeof zeros);
    uint64_t p1 = append(ch, mixed, sizeof mixed);
    reclist l = read_from(ch, 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.r[0].pos, p0);
    assert_int_equal(l.r[0].len, sizeof zeros);
    assert_memory_equal(l.r[0].data, zeros, sizeof zeros);
    assert_int_equal(l.r[1].pos, p1);
    assert_int_equal(l.r[1].len, sizeof mixed);
    assert_memory_equal(l.r[1].data, mixed, sizeof mixed);
    reclist_free(&l);
    free(ch);
}

static void test_log_truncate_keeps_later_records(void **state)
{
    (void)state;
    enum { N = 30 };
    char *ch = cf_name("trunc");
    uint64_t pos[N];
    for (size_t i = 0; i < N; i++) {
        size_t len;
        uint8_t *r = make_rec(3, i, &len);
        pos[i] = append(ch, r, len);
        free(r);
    }
    CF_OK(g_log.be->truncate(g_log.h, ch, pos[20]));
    /* records before pos[20] may be gone; pos[20] and later are all there */
    reclist l = read_from(ch, 0);
    assert_true(l.n >= N - 20);
    size_t first = N - l.n;
    for (size_t k = 0; k < l.n; k++)
        expect_rec(&l.r[k], pos[first + k], 3, first + k);
    reclist_free(&l);
    l = read_from(ch, pos[20]);
    assert_int_equal(l.n, N - 20);
    reclist_free(&l);
    /* truncating again, or below what is already gone, is fine */
    CF_OK(g_log.be->truncate(g_log.h, ch, pos[20]));
    CF_OK(g_log.be->truncate(g_log.h, ch, pos[5]));
    /* appends continue above */
    uint64_t p = append(ch, "after", 5);
    assert_true(p > pos[N - 1]);
    l = read_from(ch, pos[20]);
    assert_int_equal(l.n, N - 20 + 1);
    assert_int_equal(l.r[l.n - 1].pos, p);
    reclist_free(&l);
    free(ch);
}

/* A checkpointing reader truncates up to its checkpoint + 1 and later reads from there:
 * positions must keep increasing past everything ever handed out, across a reopen too. */
static void test_log_positions_keep_increasing_after_truncate_all_and_reopen(void **state)
{
    (void)state;
    char *ch = cf_name("trall");
    uint64_t last = 0;
    for (int i = 0; i < 5; i++)
        last = append(ch, "abc", 3);
    CF_OK(g_log.be->truncate(g_log.h, ch, last + 1));
    uint64_t p = append(ch, "def", 3);
    assert_true(p > last);
    CF_OK(g_log.be->truncate(g_log.h, ch, p + 1));
    reopen();
    uint64_t q = append(ch, "ghi", 3);
    if (q <= p)
        fail_msg("after truncate and reopen, append got position %llu, not above %llu",
                 (unsigned long long)q, (unsigned long long)p);
    reclist l = read_from(ch, p + 1);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.r[0].pos, q);
    assert_memory_equal(l.r[0].data, "ghi", 3);
    reclist_free(&l);
    free(ch);
}

static void test_log_records_survive_reopen(void **state)
{
    (void)state;
    enum { N = 40 };
    char *ch = cf_name("reopen");
    uint64_t pos[N + 1];
    for (size_t i = 0; i < N; i++) {
        size_t len;
        uint8_t *r = make_rec(4, i, &len);
        pos[i] = append(ch, r, len);
        free(r);
    }
    reopen();
    reclist l = read_from(ch, 0);
    assert_int_equal(l.n, N);
    for (size_t i = 0; i < N; i++)
        expect_rec(&l.r[i], pos[i], 4, i);
    reclist_free(&l);
    size_t len;
    uint8_t *r = make_rec(4, N, &len);
    pos[N] = append(ch, r, len);
    free(r);
    assert_true(pos[N] > pos[N - 1]);
    l = read_from(ch, pos[N - 1]);
    assert_int_equal(l.n, 2);
    expect_rec(&l.r[1], pos[N], 4, N);
    reclist_free(&l);
    free(ch);
}

static void test_log_drop_removes_channel(void **state)
{
    (void)state;
    char *ch = cf_name("drop");
    for (int i = 0; i < 10; i++)
        append(ch, "gone", 4);
    CF_OK(g_log.be->drop(g_log.h, ch));
    reclist l = read_from(ch, 0);
    assert_int_equal(l.n, 0);
    reclist_free(&l);
    /* dropping again, or a channel never written: fine */
    CF_OK(g_log.be->drop(g_log.h, ch));
    char *never = cf_name("dropnever");
    CF_OK(g_log.be->drop(g_log.h, never));
    /* the name can be used again: only the new records are there */
    uint64_t p = append(ch, "new", 3);
    l = read_from(ch, 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.r[0].pos, p);
    assert_memory_equal(l.r[0].data, "new", 3);
    reclist_free(&l);
    reopen();
    l = read_from(ch, 0);
    assert_int_equal(l.n, 1);
    reclist_free(&l);
    CF_OK(g_log.be->drop(g_log.h, ch));
    free(never);
    free(ch);
}

/* ---- subscriptions: read from a position, then follow (vtable version 2) ------------------ */

/* Skips the test when the backend has no subscriptions (VDB_EUNSUPPORTED says so). */
static vdb_log_sub subscribe_or_skip(const char *ch, uint64_t from)
{
    vdb_log_sub sub;
    vdb_status st = vdb_log_store_subscribe(&g_log, ch, from, &sub);
    if (st == VDB_EUNSUPPORTED) {
        fprintf(stderr, "skipped: %s\n", vdb_err_get());
        skip();
    }
    CF_OK(st);
    return sub;
}

/* Polls (each poll waiting up to 20 s) until l holds n records; fails on anything but VDB_OK. */
static void drain(vdb_log_sub *sub, reclist *l, size_t n)
{
    while (l->n < n) {
        size_t before = l->n;
        CF_OK(vdb_log_sub_poll(sub, 20000, collect, l));
        if (l->n == before)
            fail_msg("poll returned VDB_OK without delivering a record");
    }
    if (l->n != n)
        fail_msg("expected %zu records, got %zu", n, l->n);
}

/* l holds exactly the records of positions pos[first..first+n) made by make_rec(seed, i). */
static void expect_run(const reclist *l, const uint64_t *pos, size_t first, size_t n,
                       uint64_t seed)
{
    assert_int_equal(l->n, n);
    for (size_t k = 0; k < n; k++)
        expect_rec(&l->r[k], pos[first + k], seed, first + k);
}

static void append_recs(const char *ch, uint64_t seed, size_t from, size_t to, uint64_t *pos)
{
    for (size_t i = from; i < to; i++) {
        size_t len;
        uint8_t *r = make_rec(seed, i, &len);
        pos[i] = append(ch, r, len);
        free(r);
    }
}

static void test_log_tail_delivers_every_record_in_order_then_times_out(void **state)
{
    (void)state;
    enum { N = 120 };
    char *ch = cf_name("tail");
    uint64_t pos[N + 1];
    append_recs(ch, 20, 0, N, pos);
    vdb_log_sub sub = subscribe_or_skip(ch, 0);
    reclist l = {0};
    drain(&sub, &l, N);
    expect_run(&l, pos, 0, N, 20);
    reclist_free(&l);
    /* caught up: nothing to deliver, now or within a while */
    CF_STATUS(vdb_log_sub_poll(&sub, 0, collect, &l), VDB_ETIMEDOUT);
    CF_STATUS(vdb_log_sub_poll(&sub, 150, collect, &l), VDB_ETIMEDOUT);
    assert_int_equal(l.n, 0);
    /* the next append is delivered, and only it */
    append_recs(ch, 20, N, N + 1, pos);
    drain(&sub, &l, 1);
    expect_run(&l, pos, N, 1, 20);
    reclist_free(&l);
    CF_STATUS(vdb_log_sub_poll(&sub, 0, collect, &l), VDB_ETIMEDOUT);
    vdb_log_sub_close(&sub);
    /* from a position in the middle, and from past the end */
    sub = subscribe_or_skip(ch, pos[70]);
    drain(&sub, &l, N + 1 - 70);
    expect_run(&l, pos, 70, N + 1 - 70, 20);
    reclist_free(&l);
    vdb_log_sub_close(&sub);
    sub = subscribe_or_skip(ch, pos[N] + 1);
    CF_STATUS(vdb_log_sub_poll(&sub, 50, collect, &l), VDB_ETIMEDOUT);
    vdb_log_sub_close(&sub);
    /* a channel never written: nothing, until it is */
    char *never = cf_name("tailnever");
    sub = subscribe_or_skip(never, 0);
    CF_STATUS(vdb_log_sub_poll(&sub, 100, collect, &l), VDB_ETIMEDOUT);
    uint64_t p = append(never, "first", 5);
    drain(&sub, &l, 1);
    assert_int_equal(l.r[0].pos, p);
    assert_memory_equal(l.r[0].data, "first", 5);
    reclist_free(&l);
    vdb_log_sub_close(&sub);
    free(never);
    free(ch);
}

static void test_log_tail_stops_where_the_callback_says_and_resumes_after_it(void **state)
{
    (void)state;
    enum { N = 20 };
    char *ch = cf_name("tailstop");
    uint64_t pos[N];
    append_recs(ch, 21, 0, N, pos);
    vdb_log_sub sub = subscribe_or_skip(ch, 0);
    reclist l = {.stop_after = 3};
    CF_OK(vdb_log_sub_poll(&sub, 20000, collect, &l));
    expect_run(&l, pos, 0, 3, 21);
    reclist_free(&l);
    l = (reclist){.stop_after = 1};
    CF_OK(vdb_log_sub_poll(&sub, 20000, collect, &l));
    expect_run(&l, pos, 3, 1, 21);
    reclist_free(&l);
    drain(&sub, &l, N - 4);
    expect_run(&l, pos, 4, N - 4, 21);
    reclist_free(&l);
    vdb_log_sub_close(&sub);
    free(ch);
}

typedef struct late_appender {
    const char *ch;
    size_t from, to;
    uint64_t *pos;
    vdb_status st;
    char err[256];
} late_appender;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void *late_appender_main(void *arg)
{
    late_appender *a = arg;
    for (size_t i = a->from; i < a->to && a->st == VDB_OK; i++) {
        sleep_ms(i == a->from ? 200 : 15); /* the tail is waiting by then */
        size_t len;
        uint8_t *r = make_rec(22, i, &len);
        a->st = g_log.be->append(g_log.h, a->ch, r, len, &a->pos[i]);
        if (a->st != VDB_OK)
            snprintf(a->err, sizeof a->err, "%s", vdb_err_get());
        free(r);
    }
    return NULL;
}

static void test_log_tail_is_woken_by_an_append_from_another_thread(void **state)
{
    (void)state;
    enum { N = 8 };
    char *ch = cf_name("tailwake");
    uint64_t pos[N];
    append_recs(ch, 22, 0, 2, pos);
    vdb_log_sub sub = subscribe_or_skip(ch, 0);
    reclist l = {0};
    drain(&sub, &l, 2);
    reclist_free(&l);
    late_appender a = {.ch = ch, .from = 2, .to = N, .pos = pos};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, late_appender_main, &a), 0);
    /* every poll blocks until an append wakes it: reaching the deadline is a missed wake-up */
    const uint64_t timeout_ms = 60000;
    while (l.n < N - 2) {
        size_t before = l.n;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        vdb_status st = vdb_log_sub_poll(&sub, timeout_ms, collect, &l);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (st != VDB_OK) {
            pthread_join(th, NULL);
            fail_msg("poll while another thread appends: %s: %s", vdb_status_name(st),
                     vdb_err_get());
        }
        if ((uint64_t)(t1.tv_sec - t0.tv_sec) * 1000 >= timeout_ms)
            fail_msg("poll ran to its deadline: the append did not wake it");
        assert_true(l.n > before);
    }
    pthread_join(th, NULL);
    if (a.st != VDB_OK)
        fail_msg("appender: %s: %s", vdb_status_name(a.st), a.err);
    expect_run(&l, pos, 2, N - 2, 22);
    reclist_free(&l);
    vdb_log_sub_close(&sub);
    free(ch);
}

static void test_log_tail_resumes_from_a_position_after_reopen(void **state)
{
    (void)state;
    enum { N = 40, FIRST = 30, SEEN = 12 };
    char *ch = cf_name("tailresume");
    uint64_t pos[N];
    append_recs(ch, 23, 0, FIRST, pos);
    vdb_log_sub sub = subscribe_or_skip(ch, 0);
    reclist l = {.stop_after = SEEN}; /* the consumer processes SEEN of them, then stops */
    drain(&sub, &l, SEEN);
    expect_run(&l, pos, 0, SEEN, 23);
    uint64_t last = l.r[SEEN - 1].pos;
    reclist_free(&l);
    vdb_log_sub_close(&sub);
    /* the consumer restarts: a new instance, from the position after the last it processed */
    reopen();
    append_recs(ch, 23, FIRST, N, pos);
    sub = subscribe_or_skip(ch, last + 1);
    drain(&sub, &l, N - SEEN);
    expect_run(&l, pos, SEEN, N - SEEN, 23);
    reclist_free(&l);
    CF_STATUS(vdb_log_sub_poll(&sub, 0, collect, &l), VDB_ETIMEDOUT);
    vdb_log_sub_close(&sub);
    free(ch);
}

typedef struct tailer {
    vdb_log_sub *sub;
    size_t want;
    reclist l;
    vdb_status st;
    char err[256];
} tailer;

static void *tailer_main(void *arg)
{
    tailer *t = arg;
    while (t->l.n < t->want) {
        t->st = vdb_log_sub_poll(t->sub, 60000, collect, &t->l);
        if (t->st != VDB_OK) {
            snprintf(t->err, sizeof t->err, "%s", vdb_err_get());
            break;
        }
    }
    return NULL;
}

static void test_log_tail_during_concurrent_appends_has_no_gap_and_no_duplicate(void **state)
{
    (void)state;
    enum { T = 4, N = 150 };
    char *ch = cf_name("tailconc");
    vdb_log_sub sub = subscribe_or_skip(ch, 0);
    tailer tl = {.sub = &sub, .want = T * N};
    pthread_t tth, th[T];
    assert_int_equal(pthread_create(&tth, NULL, tailer_main, &tl), 0);
    appender a[T];
    for (uint32_t t = 0; t < T; t++) {
        a[t] = (appender){.ch = ch, .thread = t, .n = N, .pos = calloc(N, sizeof(uint64_t))};
        assert_int_equal(pthread_create(&th[t], NULL, appender_main, &a[t]), 0);
    }
    for (int t = 0; t < T; t++)
        pthread_join(th[t], NULL);
    pthread_join(tth, NULL);
    for (int t = 0; t < T; t++)
        if (a[t].st != VDB_OK)
            fail_msg("appender %d: %s: %s", t, vdb_status_name(a[t].st), a[t].err);
    if (tl.st != VDB_OK)
        fail_msg("tail: %s: %s", vdb_status_name(tl.st), tl.err);
    /* exactly what read gives: every record once, in position order */
    reclist r = read_from(ch, 0);
    assert_int_equal(r.n, T * N);
    assert_int_equal(tl.l.n, T * N);
    for (size_t k = 0; k < r.n; k++) {
        if (tl.l.r[k].pos != r.r[k].pos)
            fail_msg("tail record %zu at position %llu, read has %llu", k,
                     (unsigned long long)tl.l.r[k].pos, (unsigned long long)r.r[k].pos);
        assert_int_equal(tl.l.r[k].len, r.r[k].len);
        assert_memory_equal(tl.l.r[k].data, r.r[k].data, r.r[k].len);
    }
    reclist_free(&r);
    reclist_free(&tl.l);
    vdb_log_sub_close(&sub);
    for (int t = 0; t < T; t++)
        free(a[t].pos);
    free(ch);
}

static void test_log_tail_after_truncate_starts_at_a_kept_record(void **state)
{
    (void)state;
    enum { N = 30, CUT = 20 };
    char *ch = cf_name("tailtrunc");
    uint64_t pos[N];
    append_recs(ch, 24, 0, N, pos);
    CF_OK(g_log.be->truncate(g_log.h, ch, pos[CUT]));
    /* records before pos[CUT] may be gone: what comes is a run ending with the last one */
    vdb_log_sub sub = subscribe_or_skip(ch, 0);
    reclist l = {0};
    while (l.n == 0 || l.r[l.n - 1].pos != pos[N - 1])
        CF_OK(vdb_log_sub_poll(&sub, 20000, collect, &l));
    assert_true(l.n >= N - CUT);
    size_t first = N - l.n;
    expect_run(&l, pos, first, l.n, 24);
    reclist_free(&l);
    vdb_log_sub_close(&sub);
    free(ch);
}

static void test_log_tail_of_a_dropped_channel_ends_with_enotfound(void **state)
{
    (void)state;
    char *ch = cf_name("taildrop");
    uint64_t pos[3];
    append_recs(ch, 25, 0, 3, pos);
    vdb_log_sub sub = subscribe_or_skip(ch, 0);
    reclist l = {0};
    drain(&sub, &l, 3);
    reclist_free(&l);
    CF_OK(g_log.be->drop(g_log.h, ch));
    CF_STATUS(vdb_log_sub_poll(&sub, 10000, collect, &l), VDB_ENOTFOUND);
    /* also once the channel is written again: the subscription was to the dropped one */
    append(ch, "again", 5);
    CF_STATUS(vdb_log_sub_poll(&sub, 10000, collect, &l), VDB_ENOTFOUND);
    assert_int_equal(l.n, 0);
    vdb_log_sub_close(&sub);
    CF_OK(g_log.be->drop(g_log.h, ch));
    free(ch);
}

static uint64_t last_pos(const char *ch)
{
    uint64_t p = UINT64_MAX;
    vdb_status st = vdb_log_store_last_pos(&g_log, ch, &p);
    if (st == VDB_EUNSUPPORTED) {
        fprintf(stderr, "skipped: %s\n", vdb_err_get());
        skip();
    }
    CF_OK(st);
    return p;
}

static void test_log_last_pos_follows_appends_truncate_reopen_and_drop(void **state)
{
    (void)state;
    char *ch = cf_name("lastpos");
    assert_int_equal(last_pos(ch), 0);
    uint64_t pos[6];
    append_recs(ch, 26, 0, 5, pos);
    assert_int_equal(last_pos(ch), pos[4]);
    CF_OK(g_log.be->truncate(g_log.h, ch, pos[4] + 1));
    assert_int_equal(last_pos(ch), pos[4]);
    reopen();
    assert_int_equal(last_pos(ch), pos[4]);
    append_recs(ch, 26, 5, 6, pos);
    assert_int_equal(last_pos(ch), pos[5]);
    CF_OK(g_log.be->drop(g_log.h, ch));
    assert_int_equal(last_pos(ch), 0);
    free(ch);
}

/* ---- a subscriber in another process ------------------------------------------------------ */

/* FNV-1a of a record, as the follower reports it. */
static uint64_t rec_hash(const void *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ull;
    return h;
}

static int print_rec(void *arg, uint64_t pos, const void *data, size_t len)
{
    size_t *n = arg;
    printf("%llu %zu %016llx\n", (unsigned long long)pos, len,
           (unsigned long long)rec_hash(data, len));
    (*n)++;
    return 0;
}

/* conformance_log --follow URI CHANNEL FROM COUNT: opens the log read_only, follows CHANNEL
 * from FROM until COUNT records came, printing "pos len hash" for each. Exit 0 when all came,
 * 1 on an error, 3 when the read_only instance accepted an append. */
static int follow_main(int argc, char **argv)
{
    if (argc != 6)
        return 2;
    const char *uri = argv[2], *ch = argv[3];
    uint64_t from = strtoull(argv[4], NULL, 10);
    size_t want = strtoull(argv[5], NULL, 10);
    vdb_backend_options o = cf_options();
    o.read_only = 1;
    vdb_log_store log;
    vdb_log_sub sub;
    vdb_status st = vdb_log_store_open(uri, &o, &log);
    if (st == VDB_OK) {
        uint64_t p;
        if (log.be->append(log.h, ch, "x", 1, &p) != VDB_EINVAL)
            return 3;
        st = vdb_log_store_subscribe(&log, ch, from, &sub);
    }
    size_t got = 0;
    while (st == VDB_OK && got < want)
        st = vdb_log_sub_poll(&sub, 30000, print_rec, &got);
    fflush(stdout);
    if (st != VDB_OK) {
        fprintf(stderr, "follower: %s: %s\n", vdb_status_name(st), vdb_err_get());
        return 1;
    }
    vdb_log_sub_close(&sub);
    vdb_log_store_close(&log);
    return 0;
}

static void test_log_tail_from_another_process(void **state)
{
    (void)state;
    enum { BEFORE = 6, AFTER = 30, N = BEFORE + AFTER, FROM = 2 };
    /* Is there a read_only mode to follow with? */
    vdb_backend_options o = cf_options();
    o.read_only = 1;
    vdb_log_store ro;
    vdb_status st = vdb_log_store_open(cf_uri(), &o, &ro);
    if (st == VDB_EUNSUPPORTED) {
        fprintf(stderr, "skipped: %s\n", vdb_err_get());
        skip();
    }
    CF_OK(st);
    vdb_log_store_close(&ro);
    char *ch = cf_name("tailproc");
    uint64_t pos[N];
    append_recs(ch, 27, 0, BEFORE, pos);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    char from[32], count[32];
    snprintf(from, sizeof from, "%llu", (unsigned long long)pos[FROM]);
    snprintf(count, sizeof count, "%d", N - FROM);
    char *args[] = {"conformance_log", "--follow", (char *)cf_uri(), ch, from, count, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    pid_t pid;
    extern char **environ;
    assert_int_equal(posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    /* The follower catches up, then has to wait for each of these. */
    for (size_t i = BEFORE; i < N; i++) {
        sleep_ms(i == BEFORE ? 300 : 20);
        append_recs(ch, 27, i, i + 1, pos);
    }
    FILE *in = fdopen(fds[0], "r");
    assert_non_null(in);
    size_t k = FROM;
    unsigned long long p, h;
    size_t len;
    while (fscanf(in, "%llu %zu %llx", &p, &len, &h) == 3) {
        if (k >= N)
            fail_msg("the follower delivered more than the %d records appended", N - FROM);
        size_t want_len;
        uint8_t *want = make_rec(27, k, &want_len);
        if (p != pos[k] || len != want_len || h != rec_hash(want, want_len))
            fail_msg("follower record %zu: position %llu (%zu bytes), expected %llu (%zu "
                     "bytes)%s", k - FROM, p, len, (unsigned long long)pos[k], want_len,
                     p == pos[k] && len == want_len ? ", contents differ" : "");
        free(want);
        k++;
    }
    fclose(in);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the follower process failed (status %d%s)", status,
                 WIFEXITED(status) && WEXITSTATUS(status) == 3
                     ? ": its read_only instance took an append" : "");
    assert_int_equal(k, N);
    free(ch);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--follow"))
        return follow_main(argc, argv);
    cf_init(argc, argv, "conformance_log");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_positions_increase_and_records_read_back_in_order),
        cmocka_unit_test(test_log_read_from_position),
        cmocka_unit_test(test_log_never_written_channel_reads_empty),
        cmocka_unit_test(test_log_channels_are_independent),
        cmocka_unit_test(test_log_concurrent_appenders_get_distinct_positions),
        cmocka_unit_test(test_log_large_records),
        cmocka_unit_test(test_log_binary_records_with_nul_bytes),
        cmocka_unit_test(test_log_truncate_keeps_later_records),
        cmocka_unit_test(test_log_positions_keep_increasing_after_truncate_all_and_reopen),
        cmocka_unit_test(test_log_records_survive_reopen),
        cmocka_unit_test(test_log_drop_removes_channel),
        cmocka_unit_test(test_log_tail_delivers_every_record_in_order_then_times_out),
        cmocka_unit_test(test_log_tail_stops_where_the_callback_says_and_resumes_after_it),
        cmocka_unit_test(test_log_tail_is_woken_by_an_append_from_another_thread),
        cmocka_unit_test(test_log_tail_resumes_from_a_position_after_reopen),
        cmocka_unit_test(test_log_tail_during_concurrent_appends_has_no_gap_and_no_duplicate),
        cmocka_unit_test(test_log_tail_after_truncate_starts_at_a_kept_record),
        cmocka_unit_test(test_log_tail_of_a_dropped_channel_ends_with_enotfound),
        cmocka_unit_test(test_log_last_pos_follows_appends_truncate_reopen_and_drop),
        cmocka_unit_test(test_log_tail_from_another_process),
    };
    return cmocka_run_group_tests_name("log conformance", tests, setup, teardown);
}

/* Conformance suite of the log vtable (include/vdb/sys/log_backend.h), run unchanged against every log
 * backend: wal://, rocksdb://, nats://, ...
 *
 * Usage: conformance_log URI [FILTER]
 *   URI     e.g. wal:///tmp/x/wal, rocksdb:///tmp/x/rocks, nats://127.0.0.1:4222/prefix
 *           (or the variable VDB_CONFORMANCE_URI)
 *   FILTER  a cmocka glob over the test names, e.g. "*concurrent*"
 *   env VDB_CONFORMANCE_SYNC=full|batch|off (default full), VDB_CONFORMANCE_TIMEOUT_MS=N
 * The backend is opened through libvdb's registry by URI. Every test uses channels of its own
 * (named from the time, the pid and a counter), so runs can share a server; nothing is
 * cleaned up beyond what the tests drop. Exit status 0 when all pass. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(int argc, char **argv)
{
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
    };
    return cmocka_run_group_tests_name("log conformance", tests, setup, teardown);
}

/* Tests for the etcd meta backend (etcd://) against a real etcd: the vtable, prefixes,
 * pagination, transactions and their races, leases, watch, a server that is down, and a
 * SIGKILL of etcd in the middle of a write workload. Run through tests/servers/etcd.sh, which
 * exports VDB_ETCD_ENDPOINT (and VDB_ETCD_PID, VDB_ETCD_RESTART for the fault test). */
#define _GNU_SOURCE
#include "test_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../backends/etcd/etcd.h"
#include "vdb/vdb.h"

static const vdb_meta_backend *be = &vdb_etcd_meta_backend;
static const char *endpoint;
static char run_prefix[64]; /* this run's keys live under it (runs can share a server) */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *msg(void) { return vdb_errmsg(NULL); }

#define OK(call)                                                                              \
    do {                                                                                      \
        vdb_status st_ = (call);                                                              \
        if (st_ != VDB_OK)                                                                    \
            fail_msg("%s -> %d: %s", #call, (int)st_, msg());                                 \
    } while (0)

/* Opens etcd://endpoint/<test prefix><suffix>. */
static void *open_store(const char *suffix, uint32_t timeout_ms)
{
    char uri[512];
    snprintf(uri, sizeof uri, "etcd://%s/%s%s", endpoint, run_prefix, suffix);
    vdb_backend_options o = {.timeout_ms = timeout_ms};
    void *m = NULL;
    OK(be->open(uri, &o, &m));
    return m;
}

static void expect_kv(void *m, const char *key, const void *val, size_t len)
{
    void *got = NULL;
    size_t glen = 99;
    OK(be->get(m, key, &got, &glen));
    assert_int_equal(glen, len);
    if (len)
        assert_memory_equal(got, val, len);
    assert_int_equal(((char *)got)[len], 0);
    free(got);
}

static void expect_missing(void *m, const char *key)
{
    void *got = NULL;
    size_t glen = 0;
    assert_int_equal(be->get(m, key, &got, &glen), VDB_ENOTFOUND);
    assert_null(got);
}

/* ---- the vtable ---- */

static void test_put_get_overwrite_delete(void **state)
{
    void *m = open_store("/basic", 0);
    const char bin[] = {'a', 0, 'b', (char)0xff, 0, 'c'};
    OK(be->put(m, "k1", bin, sizeof bin));
    expect_kv(m, "k1", bin, sizeof bin);
    OK(be->put(m, "k1", "second", 6));
    expect_kv(m, "k1", "second", 6);
    OK(be->put(m, "empty", "", 0)); /* the gateway omits empty values: still found */
    expect_kv(m, "empty", "", 0);
    OK(be->put(m, "null-empty", NULL, 0));
    expect_kv(m, "null-empty", "", 0);
    OK(be->del(m, "k1"));
    expect_missing(m, "k1");
    OK(be->del(m, "k1")); /* missing: OK */
    expect_missing(m, "never");
    OK(be->put(m, "key with spaces/ünïcode\t", "v", 1));
    expect_kv(m, "key with spaces/ünïcode\t", "v", 1);
    be->close(m);
}

static void test_bad_arguments_are_einval(void **state)
{
    void *m = open_store("/args", 0);
    void *v;
    size_t n;
    char big[5000];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(be->put(m, "", "v", 1), VDB_EINVAL);
    assert_int_equal(be->put(m, NULL, "v", 1), VDB_EINVAL);
    assert_int_equal(be->put(m, big, "v", 1), VDB_EINVAL);
    assert_int_equal(be->put(m, "k", NULL, 3), VDB_EINVAL);
    assert_int_equal(be->get(m, "", &v, &n), VDB_EINVAL);
    assert_int_equal(be->scan(m, "", NULL, NULL), VDB_EINVAL);
    vdb_meta_op bad = {.kind = 99, .key = "k"};
    assert_int_equal(be->txn(m, &bad, 1), VDB_EINVAL);
    assert_int_equal(be->txn(m, NULL, 1), VDB_EINVAL);
    OK(be->txn(m, NULL, 0));
    be->close(m);

    const char *bad_uris[] = {"etcd://", "etcd:///x", "etcd://h:0/x", "etcd://h:99999/x",
                              "etcd://h:12x/p", "etcd://[::1/p", "etcd://u@h:1/p", "http://h/x"};
    for (size_t i = 0; i < sizeof bad_uris / sizeof *bad_uris; i++) {
        void *h = NULL;
        assert_int_equal(be->open(bad_uris[i], NULL, &h), VDB_EINVAL);
        assert_null(h);
    }
}

typedef struct collect {
    char keys[64][64];
    char vals[64][64];
    int n, stop_at;
} collect;

static int collect_fn(void *arg, const char *key, const void *val, size_t len)
{
    collect *c = arg;
    if (c->n < 64) {
        snprintf(c->keys[c->n], 64, "%s", key);
        snprintf(c->vals[c->n], 64, "%.*s", (int)len, (const char *)val);
    }
    c->n++;
    return c->stop_at && c->n >= c->stop_at;
}

static void test_scan_prefix_sorted_and_stops(void **state)
{
    void *m = open_store("/scan", 0);
    const char *keys[] = {"b/2", "a/1", "b/1", "b0", "b/10", "c", "b/\xff", "b"};
    for (size_t i = 0; i < 8; i++)
        OK(be->put(m, keys[i], keys[i], strlen(keys[i])));
    collect c = {0};
    OK(be->scan(m, "b/", collect_fn, &c));
    assert_int_equal(c.n, 4);
    assert_string_equal(c.keys[0], "b/1");
    assert_string_equal(c.keys[1], "b/10");
    assert_string_equal(c.keys[2], "b/2");
    assert_string_equal(c.keys[3], "b/\xff");
    assert_string_equal(c.vals[1], "b/10");
    memset(&c, 0, sizeof c);
    OK(be->scan(m, "", collect_fn, &c)); /* everything under the store prefix */
    assert_int_equal(c.n, 8);
    assert_string_equal(c.keys[0], "a/1");
    assert_string_equal(c.keys[7], "c");
    memset(&c, 0, sizeof c);
    c.stop_at = 2;
    OK(be->scan(m, "", collect_fn, &c));
    assert_int_equal(c.n, 2);
    memset(&c, 0, sizeof c);
    OK(be->scan(m, "zz", collect_fn, &c));
    assert_int_equal(c.n, 0);
    be->close(m);
}

/* Scan callbacks may call back into the same store. */
typedef struct reenter {
    void *m;
    int n;
} reenter;

static int reenter_fn(void *arg, const char *key, const void *val, size_t len)
{
    reenter *r = arg;
    void *got = NULL;
    size_t glen;
    if (be->get(r->m, key, &got, &glen) != VDB_OK || glen != len || memcmp(got, val, len))
        return 1;
    free(got);
    if (be->del(r->m, key) != VDB_OK)
        return 1;
    r->n++;
    return 0;
}

static void test_scan_callback_reenters_store(void **state)
{
    void *m = open_store("/reenter", 0);
    for (int i = 0; i < 20; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%02d", i);
        OK(be->put(m, k, k, strlen(k)));
    }
    reenter r = {m, 0};
    OK(be->scan(m, "k", reenter_fn, &r));
    assert_int_equal(r.n, 20);
    collect c = {0};
    OK(be->scan(m, "", collect_fn, &c));
    assert_int_equal(c.n, 0);
    be->close(m);
}

typedef struct order_check {
    char last[64];
    int n;
    bool bad;
} order_check;

static int order_fn(void *arg, const char *key, const void *val, size_t len)
{
    order_check *o = arg;
    char want[16];
    snprintf(want, sizeof want, "v%05d", o->n);
    if ((o->n && strcmp(o->last, key) >= 0) || len != strlen(want) || memcmp(val, want, len))
        o->bad = true;
    snprintf(o->last, sizeof o->last, "%s", key);
    o->n++;
    return 0;
}

static void test_scan_12000_keys_paginates_in_order(void **state)
{
    void *m = open_store("/many", 0);
    enum { N = 12000, BATCH = 500 };
    static vdb_meta_op ops[BATCH];
    static char keys[BATCH][16], vals[BATCH][16];
    for (int i = 0; i < N; i += BATCH) { /* loaded in txns of 500 puts: fast */
        for (int j = 0; j < BATCH; j++) {
            snprintf(keys[j], 16, "k%05d", i + j);
            snprintf(vals[j], 16, "v%05d", i + j);
            ops[j] = (vdb_meta_op){VDB_META_PUT, keys[j], vals[j], strlen(vals[j])};
        }
        OK(be->txn(m, ops, BATCH));
    }
    OK(be->put(m, "l-after", "x", 1)); /* outside the scanned prefix */
    order_check o = {0};
    int64_t t0 = now_ms();
    OK(be->scan(m, "k", order_fn, &o));
    assert_false(o.bad);
    assert_int_equal(o.n, N);
    printf("# scanned %d keys in %" PRId64 " ms\n", N, now_ms() - t0);
    be->close(m);
}

static void test_prefixes_isolate_databases(void **state)
{
    void *a = open_store("/db", 0);
    void *ab = open_store("/db2", 0);
    void *whole = open_store("", 0); /* the parent: sees both, under their prefixes */
    OK(be->put(a, "x", "a", 1));
    OK(be->put(ab, "x", "ab", 2));
    expect_kv(a, "x", "a", 1);
    expect_kv(ab, "x", "ab", 2);
    collect c = {0};
    OK(be->scan(a, "", collect_fn, &c));
    assert_int_equal(c.n, 1);
    assert_string_equal(c.keys[0], "x");
    expect_kv(whole, "db/x", "a", 1);
    expect_kv(whole, "db2/x", "ab", 2);
    OK(be->del(a, "x"));
    expect_kv(ab, "x", "ab", 2);
    /* a trailing slash in the URI is the same prefix */
    void *a2 = open_store("/db2/", 0);
    expect_kv(a2, "x", "ab", 2);
    be->close(a2);
    be->close(a);
    be->close(ab);
    be->close(whole);
}

static void test_large_value_roundtrips(void **state)
{
    void *m = open_store("/large", 0);
    size_t n = 4u << 20;
    uint8_t *big = malloc(n);
    uint64_t rs = 7;
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)test_rand(&rs);
    OK(be->put(m, "big", big, n));
    expect_kv(m, "big", big, n);
    free(big);
    be->close(m);
}

/* ---- transactions ---- */

static void test_txn_checks_and_writes(void **state)
{
    void *m = open_store("/txn", 0);
    vdb_meta_op create[] = {{VDB_META_CHECK_ABSENT, "a", NULL, 0},
                            {VDB_META_PUT, "a", "1", 1},
                            {VDB_META_PUT, "b", "2", 1}};
    OK(be->txn(m, create, 3));
    expect_kv(m, "a", "1", 1);
    expect_kv(m, "b", "2", 1);
    assert_int_equal(be->txn(m, create, 3), VDB_ECONFLICT); /* a exists */
    assert_non_null(strstr(msg(), "key a exists"));

    vdb_meta_op cas[] = {{VDB_META_CHECK_VALUE, "a", "1", 1},
                         {VDB_META_CHECK_ABSENT, "c", NULL, 0},
                         {VDB_META_PUT, "a", "10", 2},
                         {VDB_META_DELETE, "b", NULL, 0},
                         {VDB_META_PUT, "c", "3", 1}};
    OK(be->txn(m, cas, 5));
    expect_kv(m, "a", "10", 2);
    expect_missing(m, "b");
    expect_kv(m, "c", "3", 1);

    /* a stale value: nothing is applied */
    vdb_meta_op stale[] = {{VDB_META_PUT, "d", "4", 1},
                           {VDB_META_CHECK_VALUE, "a", "1", 1},
                           {VDB_META_DELETE, "c", NULL, 0}};
    assert_int_equal(be->txn(m, stale, 3), VDB_ECONFLICT);
    assert_non_null(strstr(msg(), "key a holds another value"));
    expect_missing(m, "d");
    expect_kv(m, "c", "3", 1);
    vdb_meta_op missing[] = {{VDB_META_CHECK_VALUE, "nope", "", 0}};
    assert_int_equal(be->txn(m, missing, 1), VDB_ECONFLICT);
    assert_non_null(strstr(msg(), "key nope is missing"));

    /* an empty value is a value, not absence */
    OK(be->put(m, "e", "", 0));
    vdb_meta_op empty_check[] = {{VDB_META_CHECK_VALUE, "e", "", 0}};
    OK(be->txn(m, empty_check, 1));
    vdb_meta_op absent_e[] = {{VDB_META_CHECK_ABSENT, "e", NULL, 0}};
    assert_int_equal(be->txn(m, absent_e, 1), VDB_ECONFLICT);

    /* several writes to one key apply in order: the last wins */
    vdb_meta_op twice[] = {{VDB_META_PUT, "f", "1", 1},
                           {VDB_META_PUT, "f", "2", 1},
                           {VDB_META_DELETE, "g", NULL, 0},
                           {VDB_META_PUT, "g", "5", 1}};
    OK(be->txn(m, twice, 4));
    expect_kv(m, "f", "2", 1);
    expect_kv(m, "g", "5", 1);
    vdb_meta_op put_del[] = {{VDB_META_PUT, "f", "9", 1}, {VDB_META_DELETE, "f", NULL, 0}};
    OK(be->txn(m, put_del, 2));
    expect_missing(m, "f");
    be->close(m);
}

/* Threads increment one counter by compare-and-swap: no increment is lost. */
typedef struct race {
    void *m;
    int wins, conflicts, errors;
} race;

static void *race_thread(void *arg)
{
    race *r = arg;
    while (r->wins < 25) {
        void *cur = NULL;
        size_t len = 0;
        if (be->get(r->m, "counter", &cur, &len) != VDB_OK) {
            r->errors++;
            return NULL;
        }
        char next[32];
        int nl = snprintf(next, sizeof next, "%ld", strtol(cur, NULL, 10) + 1);
        vdb_meta_op ops[] = {{VDB_META_CHECK_VALUE, "counter", cur, len},
                             {VDB_META_PUT, "counter", next, (size_t)nl}};
        vdb_status st = be->txn(r->m, ops, 2);
        free(cur);
        if (st == VDB_OK)
            r->wins++;
        else if (st == VDB_ECONFLICT)
            r->conflicts++;
        else {
            r->errors++;
            return NULL;
        }
    }
    return NULL;
}

static void test_txn_cas_race_loses_no_increment(void **state)
{
    void *m = open_store("/race", 0);
    OK(be->put(m, "counter", "0", 1));
    enum { T = 6 };
    pthread_t th[T];
    race r[T];
    for (int i = 0; i < T; i++) {
        r[i] = (race){.m = m};
        pthread_create(&th[i], NULL, race_thread, &r[i]);
    }
    int conflicts = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].errors, 0);
        conflicts += r[i].conflicts;
    }
    char want[16];
    snprintf(want, sizeof want, "%d", T * 25);
    expect_kv(m, "counter", want, strlen(want));
    printf("# %d increments, %d conflicts\n", T * 25, conflicts);
    be->close(m);
}

/* ---- leases and watch ---- */

static void test_lease_keeps_key_until_revoked(void **state)
{
    void *m = open_store("/lease", 0);
    int64_t id = 0, ttl = 0;
    OK(vdb_etcd_lease_grant(m, 5, &id));
    assert_true(id != 0);
    OK(vdb_etcd_put_lease(m, "node/1", "alive", 5, id));
    OK(vdb_etcd_lease_keepalive(m, id, &ttl));
    assert_true(ttl > 0 && ttl <= 5);
    expect_kv(m, "node/1", "alive", 5);
    OK(vdb_etcd_lease_revoke(m, id));
    expect_missing(m, "node/1");
    assert_int_equal(vdb_etcd_lease_keepalive(m, id, &ttl), VDB_ENOTFOUND);
    OK(vdb_etcd_lease_revoke(m, id)); /* already gone: OK */
    assert_int_equal(vdb_etcd_put_lease(m, "node/2", "x", 1, id), VDB_ENOTFOUND);
    assert_int_equal(vdb_etcd_lease_grant(m, 0, &id), VDB_EINVAL);
    be->close(m);
}

static void test_lease_expires_without_keepalive(void **state)
{
    void *m = open_store("/expire", 0);
    int64_t id = 0;
    OK(vdb_etcd_lease_grant(m, 1, &id)); /* etcd rounds this up to its minimum (~2 s) */
    OK(vdb_etcd_put_lease(m, "node/1", "alive", 5, id));
    int64_t t0 = now_ms();
    void *v = NULL;
    size_t n;
    vdb_status st;
    while ((st = be->get(m, "node/1", &v, &n)) == VDB_OK && now_ms() - t0 < 15000) {
        free(v);
        v = NULL;
        usleep(100 * 1000);
    }
    assert_int_equal(st, VDB_ENOTFOUND);
    printf("# a 1 s lease ended after %" PRId64 " ms\n", now_ms() - t0);
    be->close(m);
}

typedef struct watch_log {
    pthread_mutex_t mu;
    int n;
    vdb_meta_op_kind kinds[16];
    char keys[16][32], vals[16][32];
    int64_t revs[16];
    int stop_after; /* the callback ends the watch after this many events (0: never) */
} watch_log;

static int watch_fn(void *arg, vdb_meta_op_kind kind, const char *key, const void *val,
                    size_t len, int64_t rev)
{
    watch_log *w = arg;
    pthread_mutex_lock(&w->mu);
    if (w->n < 16) {
        w->kinds[w->n] = kind;
        snprintf(w->keys[w->n], 32, "%s", key);
        snprintf(w->vals[w->n], 32, "%.*s", (int)len, val ? (const char *)val : "");
        w->revs[w->n] = rev;
    }
    int n = ++w->n;
    pthread_mutex_unlock(&w->mu);
    return w->stop_after && n >= w->stop_after;
}

typedef struct watcher {
    void *m;
    int64_t from;
    watch_log *log;
    volatile int stop;
    vdb_status st;
} watcher;

static void *watch_thread(void *arg)
{
    watcher *w = arg;
    w->st = vdb_etcd_watch(w->m, "nodes/", w->from, watch_fn, w->log, &w->stop);
    return NULL;
}

static int log_count(watch_log *l)
{
    pthread_mutex_lock(&l->mu);
    int n = l->n;
    pthread_mutex_unlock(&l->mu);
    return n;
}

static void test_watch_sees_puts_and_deletes(void **state)
{
    void *m = open_store("/watch", 0);
    int64_t rev = 0;
    OK(vdb_etcd_revision(m, &rev));
    watch_log log = {.mu = PTHREAD_MUTEX_INITIALIZER};
    watcher w = {.m = m, .from = rev + 1, .log = &log};
    pthread_t th;
    pthread_create(&th, NULL, watch_thread, &w);
    OK(be->put(m, "nodes/a", "1", 1));
    OK(be->put(m, "other", "x", 1)); /* outside the watched prefix */
    OK(be->del(m, "nodes/a"));
    OK(be->put(m, "nodes/b", "2", 1));
    int64_t t0 = now_ms();
    while (log_count(&log) < 3 && now_ms() - t0 < 10000)
        usleep(10 * 1000);
    __atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    assert_int_equal(w.st, VDB_OK);
    printf("# watch stopped %" PRId64 " ms after the stop flag\n", now_ms() - t0);
    assert_int_equal(log.n, 3);
    assert_int_equal(log.kinds[0], VDB_META_PUT);
    assert_string_equal(log.keys[0], "nodes/a");
    assert_string_equal(log.vals[0], "1");
    assert_int_equal(log.kinds[1], VDB_META_DELETE);
    assert_string_equal(log.keys[1], "nodes/a");
    assert_int_equal(log.kinds[2], VDB_META_PUT);
    assert_string_equal(log.keys[2], "nodes/b");
    assert_true(log.revs[0] < log.revs[1] && log.revs[1] < log.revs[2]);

    /* from an old revision the watch replays history; the callback can end it */
    watch_log again = {.mu = PTHREAD_MUTEX_INITIALIZER, .stop_after = 2};
    OK(vdb_etcd_watch(m, "nodes/", rev + 1, watch_fn, &again, NULL));
    assert_int_equal(again.n, 2);
    assert_int_equal(again.kinds[1], VDB_META_DELETE);

    /* a lease revoke shows as a delete */
    int64_t id;
    OK(vdb_etcd_lease_grant(m, 10, &id));
    OK(vdb_etcd_revision(m, &rev));
    OK(vdb_etcd_put_lease(m, "nodes/c", "3", 1, id));
    OK(vdb_etcd_lease_revoke(m, id));
    watch_log lease_log = {.mu = PTHREAD_MUTEX_INITIALIZER, .stop_after = 2};
    OK(vdb_etcd_watch(m, "nodes/", rev + 1, watch_fn, &lease_log, NULL));
    assert_int_equal(lease_log.kinds[0], VDB_META_PUT);
    assert_int_equal(lease_log.kinds[1], VDB_META_DELETE);
    assert_string_equal(lease_log.keys[1], "nodes/c");
    be->close(m);
}

/* ---- concurrency and throughput ---- */

typedef struct writer {
    void *m;
    int id, errors;
} writer;

static void *writer_thread(void *arg)
{
    writer *w = arg;
    for (int i = 0; i < 100; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "w%d/%03d", w->id, i);
        snprintf(v, sizeof v, "%d-%d", w->id, i);
        if (be->put(w->m, k, v, strlen(v)) != VDB_OK)
            w->errors++;
        void *got = NULL;
        size_t n;
        if (be->get(w->m, k, &got, &n) != VDB_OK || n != strlen(v) || memcmp(got, v, n))
            w->errors++;
        free(got);
    }
    return NULL;
}

static void test_concurrent_threads_share_one_handle(void **state)
{
    void *m = open_store("/threads", 0);
    enum { T = 8 };
    pthread_t th[T];
    writer w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (writer){.m = m, .id = i};
        pthread_create(&th[i], NULL, writer_thread, &w[i]);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].errors, 0);
    }
    collect c = {0};
    OK(be->scan(m, "w3/", collect_fn, &c));
    assert_int_equal(c.n, 100);
    be->close(m);
}

static void test_throughput_sequential_1k(void **state)
{
    void *m = open_store("/tput", 0);
    enum { N = 2000 };
    char val[1024];
    memset(val, 'v', sizeof val);
    char k[32];
    int64_t t0 = now_ms();
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "k%05d", i);
        OK(be->put(m, k, val, sizeof val));
    }
    int64_t t1 = now_ms();
    for (int i = 0; i < N; i++) {
        void *got;
        size_t n;
        snprintf(k, sizeof k, "k%05d", i);
        OK(be->get(m, k, &got, &n));
        assert_int_equal(n, sizeof val);
        free(got);
    }
    int64_t t2 = now_ms();
    printf("# sequential 1 KiB: put %.0f ops/s, get %.0f ops/s (%d each)\n",
           N * 1000.0 / (double)(t1 - t0 ? t1 - t0 : 1),
           N * 1000.0 / (double)(t2 - t1 ? t2 - t1 : 1), N);
    be->close(m);
}

/* ---- failures ---- */

/* A loopback port nobody listens on. */
static int dead_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
    close(s);
    return ntohs(a.sin_port);
}

static void test_server_down_is_eio_within_timeout(void **state)
{
    char uri[128], where[64];
    int port = dead_port();
    snprintf(uri, sizeof uri, "etcd://127.0.0.1:%d/x", port);
    snprintf(where, sizeof where, "etcd 127.0.0.1:%d", port);
    vdb_backend_options o = {.timeout_ms = 700};
    void *m = NULL;
    int64_t t0 = now_ms();
    assert_int_equal(be->open(uri, &o, &m), VDB_EIO);
    int64_t took = now_ms() - t0;
    printf("# open on a dead port: %" PRId64 " ms: %s\n", took, msg());
    assert_null(m);
    assert_true(took >= 600 && took < 2000); /* retried until the timeout, not past it */
    assert_non_null(strstr(msg(), where));
    assert_true(strstr(msg(), "refused") || strstr(msg(), "onnect"));

    /* a listener that never answers: the timeout still holds */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s, 16), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
    snprintf(uri, sizeof uri, "etcd://127.0.0.1:%d/x", ntohs(a.sin_port));
    t0 = now_ms();
    assert_int_equal(be->open(uri, &o, &m), VDB_EIO);
    took = now_ms() - t0;
    printf("# open on a silent server: %" PRId64 " ms: %s\n", took, msg());
    assert_true(took < 2000);
    assert_non_null(strstr(msg(), "etcd 127.0.0.1:"));
    close(s);
}

/* The fault test. A child process writes (puts and create-txns, each key once) while the test
 * SIGKILLs etcd, waits, and restarts it on the same data. The child reports over a pipe every
 * acknowledged write, and every failed one with its duration. Afterwards every acknowledged
 * key must hold its value, and failures must have been VDB_EIO within the timeout. */
enum { FAULT_TIMEOUT_MS = 1000 };

typedef struct report {
    int32_t index;  /* the write's number */
    int32_t status; /* its vdb_status */
    int32_t ms;     /* how long the call took */
} report;

static void fault_child(int fd, volatile sig_atomic_t *unused)
{
    (void)unused;
    void *m = open_store("/fault", FAULT_TIMEOUT_MS);
    char val[256];
    memset(val, 'x', sizeof val);
    for (int32_t i = 0;; i++) {
        char k[32];
        snprintf(k, sizeof k, "k%06d", i);
        snprintf(val, sizeof val, "value-%06d", i);
        size_t vl = strlen(val);
        int64_t t0 = now_ms();
        vdb_status st;
        if (i % 2 == 0) {
            st = be->put(m, k, val, vl);
        } else {
            vdb_meta_op ops[] = {{VDB_META_CHECK_ABSENT, k, NULL, 0},
                                 {VDB_META_PUT, k, val, vl}};
            st = be->txn(m, ops, 2);
        }
        report r = {i, (int32_t)st, (int32_t)(now_ms() - t0)};
        if (write(fd, &r, sizeof r) != (ssize_t)sizeof r)
            _exit(0); /* the parent is done */
    }
}

static void test_fault_sigkill_etcd_during_writes(void **state)
{
    const char *pid_s = getenv("VDB_ETCD_PID"), *restart = getenv("VDB_ETCD_RESTART");
    if (!pid_s || !restart) {
        printf("# VDB_ETCD_PID/VDB_ETCD_RESTART unset: run through tests/servers/etcd.sh\n");
        skip();
    }
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0); /* not inherited by the restarted etcd */
    fflush(stdout);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(fds[0]);
        fault_child(fds[1], NULL);
        _exit(0);
    }
    close(fds[1]);

    enum { MAX = 200000 };
    report *reps = calloc(MAX, sizeof *reps);
    int n = 0, acked_before = 0, acked_after = 0, failed = 0, max_fail_ms = 0, phase = 0;
    int64_t t_kill = 0, t_restarted = 0;
    bool bad_status = false;
    while (n < MAX) {
        report r;
        ssize_t got = read(fds[0], &r, sizeof r);
        if (got != (ssize_t)sizeof r)
            break;
        reps[n++] = r;
        if (r.status == VDB_OK) {
            if (phase == 0)
                acked_before++;
            if (phase == 2)
                acked_after++;
        } else {
            failed++;
            if (r.status != VDB_EIO)
                bad_status = true;
            if (r.ms > max_fail_ms)
                max_fail_ms = r.ms;
        }
        if (phase == 0 && acked_before >= 200) {
            t_kill = now_ms();
            assert_int_equal(kill((pid_t)atol(pid_s), SIGKILL), 0);
            phase = 1;
        }
        /* Stay down long enough for calls to give up (the timeout) before restarting. */
        if (phase == 1 && failed >= 2 && now_ms() - t_kill > 2 * FAULT_TIMEOUT_MS) {
            char cmd[1024];
            snprintf(cmd, sizeof cmd, "%s >/dev/null", restart);
            int rc = system(cmd); /* waits until etcd answers */
            assert_int_equal(rc, 0);
            t_restarted = now_ms();
            phase = 2;
        }
        if (phase == 1 && now_ms() - t_kill > 30000)
            fail_msg("no write failed within 30 s of killing etcd");
        if (phase == 2 && acked_after >= 200)
            break;
    }
    close(fds[0]);
    kill(child, SIGKILL);
    int cst;
    waitpid(child, &cst, 0);
    printf("# fault: %d writes, %d acknowledged before the kill, %d failed (max %d ms), "
           "%d acknowledged after the restart (%" PRId64 " ms down)\n",
           n, acked_before, failed, max_fail_ms, acked_after, t_restarted - t_kill);
    assert_int_equal(phase, 2);
    assert_true(acked_after >= 200);
    assert_true(failed >= 2);
    assert_false(bad_status);
    assert_true(max_fail_ms < FAULT_TIMEOUT_MS + 1000);

    void *m = open_store("/fault", 0);
    int checked = 0;
    for (int i = 0; i < n; i++) {
        if (reps[i].status != VDB_OK)
            continue;
        char k[32], v[32];
        snprintf(k, sizeof k, "k%06d", reps[i].index);
        snprintf(v, sizeof v, "value-%06d", reps[i].index);
        expect_kv(m, k, v, strlen(v));
        checked++;
    }
    printf("# every one of %d acknowledged writes is there after the restart\n", checked);
    free(reps);
    be->close(m);
}

int main(void)
{
    endpoint = getenv("VDB_ETCD_ENDPOINT");
    if (!endpoint || !*endpoint) {
        printf("SKIP: VDB_ETCD_ENDPOINT is unset (run through tests/servers/etcd.sh)\n");
        return 77;
    }
    snprintf(run_prefix, sizeof run_prefix, "t%ld-%d", (long)time(NULL), (int)getpid());
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_overwrite_delete),
        cmocka_unit_test(test_bad_arguments_are_einval),
        cmocka_unit_test(test_scan_prefix_sorted_and_stops),
        cmocka_unit_test(test_scan_callback_reenters_store),
        cmocka_unit_test(test_scan_12000_keys_paginates_in_order),
        cmocka_unit_test(test_prefixes_isolate_databases),
        cmocka_unit_test(test_large_value_roundtrips),
        cmocka_unit_test(test_txn_checks_and_writes),
        cmocka_unit_test(test_txn_cas_race_loses_no_increment),
        cmocka_unit_test(test_lease_keeps_key_until_revoked),
        cmocka_unit_test(test_lease_expires_without_keepalive),
        cmocka_unit_test(test_watch_sees_puts_and_deletes),
        cmocka_unit_test(test_concurrent_threads_share_one_handle),
        cmocka_unit_test(test_throughput_sequential_1k),
        cmocka_unit_test(test_server_down_is_eio_within_timeout),
        cmocka_unit_test(test_fault_sigkill_etcd_during_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

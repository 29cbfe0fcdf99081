/* Conformance suite of the meta vtable (include/vdb/sys/meta_backend.h), run unchanged
 * against every meta backend: local://, rocksdb://, etcd://, ...
 *
 * Usage: conformance_meta URI [FILTER]
 *   URI     e.g. local:///tmp/x/meta, rocksdb:///tmp/x/rocks, etcd://127.0.0.1:2379/prefix
 *           (or the variable VDB_CONFORMANCE_URI)
 *   FILTER  a cmocka glob over the test names, e.g. "*cas*"
 *   env VDB_CONFORMANCE_TIMEOUT_MS=N (the backend options' timeout_ms)
 * The backend is opened through libvdb's registry by URI. Every test works under a key prefix
 * of its own (from the time, the pid and a counter), so runs can share a server; the tests
 * delete most of what they write. Exit status 0 when all pass. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

static vdb_meta_store g_meta;

static int setup(void **state)
{
    (void)state;
    vdb_backend_options o = cf_options();
    vdb_status st = vdb_meta_store_open(cf_uri(), &o, &g_meta);
    if (st != VDB_OK) {
        fprintf(stderr, "cannot open meta %s: %s: %s\n", cf_uri(), vdb_status_name(st),
                vdb_err_get());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vdb_meta_store_close(&g_meta);
    return 0;
}

static char *key_of(const char *prefix, const char *rest)
{
    char *k;
    assert_true(asprintf(&k, "%s%s", prefix, rest) > 0);
    return k;
}

static void put(const char *key, const void *val, size_t len)
{
    CF_OK(g_meta.be->put(g_meta.h, key, val, len));
}

/* key must hold exactly val/len, NUL-terminated past len. */
static void check_value(const char *key, const void *val, size_t len)
{
    void *got = NULL;
    size_t glen = 0;
    vdb_status st = g_meta.be->get(g_meta.h, key, &got, &glen);
    if (st != VDB_OK)
        fail_msg("get %s -> %s: %s", key, vdb_status_name(st), vdb_err_get());
    if (glen != len || (len && memcmp(got, val, len)))
        fail_msg("get %s: %zu bytes, not the %zu expected", key, glen, len);
    assert_int_equal(((char *)got)[glen], 0);
    free(got);
}

static void check_missing(const char *key)
{
    void *got = NULL;
    size_t glen = 0;
    CF_STATUS(g_meta.be->get(g_meta.h, key, &got, &glen), VDB_ENOTFOUND);
}

/* ---- scans into a list -------------------------------------------------------------------- */

typedef struct kvlist {
    char **keys;
    char **vals;
    size_t *lens;
    size_t n, cap, stop_after;
} kvlist;

static int collect(void *arg, const char *key, const void *val, size_t len)
{
    kvlist *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->keys = realloc(l->keys, l->cap * sizeof *l->keys);
        l->vals = realloc(l->vals, l->cap * sizeof *l->vals);
        l->lens = realloc(l->lens, l->cap * sizeof *l->lens);
        assert_true(l->keys && l->vals && l->lens);
    }
    l->keys[l->n] = strdup(key);
    l->vals[l->n] = malloc(len + 1);
    assert_true(l->keys[l->n] && l->vals[l->n]);
    if (len)
        memcpy(l->vals[l->n], val, len);
    l->lens[l->n] = len;
    l->n++;
    return l->stop_after && l->n >= l->stop_after;
}

static void kvlist_free(kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->keys[i]);
        free(l->vals[i]);
    }
    free(l->keys);
    free(l->vals);
    free(l->lens);
    memset(l, 0, sizeof *l);
}

static kvlist scan(const char *prefix)
{
    kvlist l = {0};
    CF_OK(g_meta.be->scan(g_meta.h, prefix, collect, &l));
    for (size_t i = 0; i < l.n; i++) {
        if (strncmp(l.keys[i], prefix, strlen(prefix)))
            fail_msg("scan '%s' gave key '%s'", prefix, l.keys[i]);
        if (i && strcmp(l.keys[i - 1], l.keys[i]) >= 0)
            fail_msg("scan '%s' gave '%s' after '%s'", prefix, l.keys[i], l.keys[i - 1]);
    }
    return l;
}

static void delete_prefix(const char *prefix)
{
    kvlist l = scan(prefix);
    for (size_t i = 0; i < l.n; i++)
        CF_OK(g_meta.be->del(g_meta.h, l.keys[i]));
    kvlist_free(&l);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_meta_get_missing_key_is_not_found(void **state)
{
    (void)state;
    char *p = cf_name("missing");
    check_missing(p);
    char *k = key_of(p, "/deeper/key");
    check_missing(k);
    /* deleting a missing key is fine */
    CF_OK(g_meta.be->del(g_meta.h, k));
    free(k);
    free(p);
}

static void test_meta_put_get_overwrite_delete(void **state)
{
    (void)state;
    char *p = cf_name("pgod");
    char *k = key_of(p, "/k");
    put(k, "one", 3);
    check_value(k, "one", 3);
    put(k, "a longer second value", 21);
    check_value(k, "a longer second value", 21);
    put(k, "3", 1); /* shorter than before: nothing of the old value remains */
    check_value(k, "3", 1);
    put(k, "", 0); /* empty values exist */
    check_value(k, "", 0);
    CF_OK(g_meta.be->del(g_meta.h, k));
    check_missing(k);
    put(k, "back", 4);
    check_value(k, "back", 4);
    CF_OK(g_meta.be->del(g_meta.h, k));
    free(k);
    free(p);
}

static void test_meta_binary_values_with_nul_bytes(void **state)
{
    (void)state;
    char *p = cf_name("bin");
    char *k = key_of(p, "/bin");
    const uint8_t v[] = {0, 1, 0, 0xff, 0x80, 0, '\n', 0};
    put(k, v, sizeof v);
    check_value(k, v, sizeof v);
    uint8_t *big = cf_bytes(5000, 99);
    put(k, big, 5000);
    check_value(k, big, 5000);
    CF_OK(g_meta.be->del(g_meta.h, k));
    free(big);
    free(k);
    free(p);
}

static void test_meta_large_values(void **state)
{
    (void)state;
    const size_t n = 4u << 20;
    char *p = cf_name("large");
    char *k = key_of(p, "/big");
    uint8_t *v = cf_bytes(n, 5);
    put(k, v, n);
    check_value(k, v, n);
    kvlist l = scan(p);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.lens[0], n);
    assert_true(memcmp(l.vals[0], v, n) == 0);
    kvlist_free(&l);
    CF_OK(g_meta.be->del(g_meta.h, k));
    free(v);
    free(k);
    free(p);
}

/* 2,000 keys under prefixes that are prefixes of one another: "a", "a/", "ab". */
static void test_meta_prefix_scans_ordered_with_many_keys(void **state)
{
    (void)state;
    char *p = cf_name("scan");
    char *pa = key_of(p, "/a"), *pa_ = key_of(p, "/a/"), *pab = key_of(p, "/ab");
    size_t n_a_ = 0, n_ab = 0, n_a = 0;
    /* written in a scrambled order */
    for (size_t j = 0; j < 2000; j++) {
        size_t i = (j * 7919) % 2000;
        char rest[64];
        if (i % 3 == 0) {
            snprintf(rest, sizeof rest, "/a/%05zu", i);
            n_a_++;
        } else if (i % 3 == 1) {
            snprintf(rest, sizeof rest, "/ab%05zu", i);
            n_ab++;
        } else {
            snprintf(rest, sizeof rest, "/a%05zu", i);
        }
        n_a++;
        char *k = key_of(p, rest);
        char val[32];
        int len = snprintf(val, sizeof val, "v%zu", i);
        put(k, val, (size_t)len);
        free(k);
    }
    put(pa, "exact", 5); /* the prefix itself is a key */
    n_a++;
    char *other = key_of(p, "/b");
    put(other, "x", 1);
    kvlist l = scan(pa);
    assert_int_equal(l.n, n_a);
    assert_string_equal(l.keys[0], pa);
    assert_int_equal(l.lens[0], 5);
    for (size_t i = 1; i < l.n; i++) {
        const char *rest = l.keys[i] + strlen(p);
        size_t num = strtoul(rest + (rest[2] == '/' ? 3 : rest[2] == 'b' ? 3 : 2), NULL, 10);
        char want[32];
        int len = snprintf(want, sizeof want, "v%zu", num);
        if (l.lens[i] != (size_t)len || memcmp(l.vals[i], want, (size_t)len))
            fail_msg("scan: key %s has the wrong value", l.keys[i]);
    }
    kvlist_free(&l);
    l = scan(pa_);
    assert_int_equal(l.n, n_a_);
    kvlist_free(&l);
    l = scan(pab);
    assert_int_equal(l.n, n_ab);
    kvlist_free(&l);
    l = scan(p); /* everything of this test */
    assert_int_equal(l.n, n_a + 1);
    kvlist_free(&l);
    char *none = key_of(p, "/a/99999x");
    l = scan(none);
    assert_int_equal(l.n, 0);
    kvlist_free(&l);
    /* stopping early is not an error */
    l = (kvlist){.stop_after = 10};
    CF_OK(g_meta.be->scan(g_meta.h, pa, collect, &l));
    assert_int_equal(l.n, 10);
    kvlist_free(&l);
    delete_prefix(p);
    l = scan(p);
    assert_int_equal(l.n, 0);
    kvlist_free(&l);
    free(none);
    free(other);
    free(pa);
    free(pa_);
    free(pab);
    free(p);
}

typedef struct reentry {
    size_t seen;
} reentry;

static int get_inside_scan(void *arg, const char *key, const void *val, size_t len)
{
    reentry *r = arg;
    void *v = NULL;
    size_t vl = 0;
    vdb_status st = g_meta.be->get(g_meta.h, key, &v, &vl);
    if (st != VDB_OK || vl != len || memcmp(v, val, len))
        return 1;
    free(v);
    r->seen++;
    return 0;
}

static void test_meta_scan_callback_may_call_the_store(void **state)
{
    (void)state;
    char *p = cf_name("reent");
    for (int i = 0; i < 20; i++) {
        char rest[32];
        snprintf(rest, sizeof rest, "/k%02d", i);
        char *k = key_of(p, rest);
        put(k, rest, strlen(rest));
        free(k);
    }
    reentry r = {0};
    CF_OK(g_meta.be->scan(g_meta.h, p, get_inside_scan, &r));
    assert_int_equal(r.seen, 20);
    delete_prefix(p);
    free(p);
}

static void test_meta_txn_checks_pass_and_apply_everything(void **state)
{
    (void)state;
    char *p = cf_name("txnok");
    char *a = key_of(p, "/a"), *b = key_of(p, "/b"), *c = key_of(p, "/c"), *d = key_of(p, "/d");
    put(a, "A1", 2);
    put(d, "D", 1);
    vdb_meta_op ops[] = {
        {VDB_META_CHECK_VALUE, a, "A1", 2},
        {VDB_META_CHECK_ABSENT, b, NULL, 0},
        {VDB_META_PUT, a, "A2", 2},
        {VDB_META_PUT, b, "B1\0x", 4},
        {VDB_META_PUT, c, "C1", 2},
        {VDB_META_DELETE, d, NULL, 0},
    };
    CF_OK(g_meta.be->txn(g_meta.h, ops, sizeof ops / sizeof ops[0]));
    check_value(a, "A2", 2);
    check_value(b, "B1\0x", 4);
    check_value(c, "C1", 2);
    check_missing(d);
    /* a txn of checks only, and one of writes only */
    vdb_meta_op checks[] = {{VDB_META_CHECK_VALUE, b, "B1\0x", 4},
                            {VDB_META_CHECK_ABSENT, d, NULL, 0}};
    CF_OK(g_meta.be->txn(g_meta.h, checks, 2));
    vdb_meta_op writes[] = {{VDB_META_DELETE, a, NULL, 0}, {VDB_META_PUT, d, "D2", 2}};
    CF_OK(g_meta.be->txn(g_meta.h, writes, 2));
    check_missing(a);
    check_value(d, "D2", 2);
    /* an empty value can be checked */
    put(a, "", 0);
    vdb_meta_op empty[] = {{VDB_META_CHECK_VALUE, a, "", 0}, {VDB_META_PUT, a, "E", 1}};
    CF_OK(g_meta.be->txn(g_meta.h, empty, 2));
    check_value(a, "E", 1);
    delete_prefix(p);
    free(a);
    free(b);
    free(c);
    free(d);
    free(p);
}

static void test_meta_txn_failed_check_applies_nothing(void **state)
{
    (void)state;
    char *p = cf_name("txnfail");
    char *a = key_of(p, "/a"), *b = key_of(p, "/b"), *c = key_of(p, "/c");
    put(a, "A1", 2);
    put(c, "C1", 2);
    /* wrong value (same length, other bytes) */
    vdb_meta_op ops1[] = {
        {VDB_META_PUT, b, "B", 1},
        {VDB_META_DELETE, c, NULL, 0},
        {VDB_META_CHECK_VALUE, a, "A9", 2},
        {VDB_META_PUT, a, "A2", 2},
    };
    CF_STATUS(g_meta.be->txn(g_meta.h, ops1, 4), VDB_ECONFLICT);
    /* a prefix of the value is another value */
    ops1[2].val = "A";
    ops1[2].len = 1;
    CF_STATUS(g_meta.be->txn(g_meta.h, ops1, 4), VDB_ECONFLICT);
    /* a value expected of a missing key */
    vdb_meta_op ops2[] = {{VDB_META_CHECK_VALUE, b, "x", 1}, {VDB_META_PUT, b, "B", 1}};
    CF_STATUS(g_meta.be->txn(g_meta.h, ops2, 2), VDB_ECONFLICT);
    /* absence expected of a present key, after a passing check */
    vdb_meta_op ops3[] = {
        {VDB_META_CHECK_VALUE, a, "A1", 2},
        {VDB_META_CHECK_ABSENT, c, NULL, 0},
        {VDB_META_PUT, a, "A3", 2},
        {VDB_META_PUT, b, "B", 1},
    };
    CF_STATUS(g_meta.be->txn(g_meta.h, ops3, 4), VDB_ECONFLICT);
    check_value(a, "A1", 2);
    check_missing(b);
    check_value(c, "C1", 2);
    delete_prefix(p);
    free(a);
    free(b);
    free(c);
    free(p);
}

/* ---- compare-and-swap races ---------------------------------------------------------------- */

typedef struct casctx {
    const char *key;
    int n;
    int conflicts;
    vdb_status st;
    char err[256];
} casctx;

static void *cas_main(void *arg)
{
    casctx *c = arg;
    for (int i = 0; i < c->n && c->st == VDB_OK;) {
        void *v = NULL;
        size_t len = 0;
        c->st = g_meta.be->get(g_meta.h, c->key, &v, &len);
        if (c->st != VDB_OK)
            break;
        long cur = strtol(v, NULL, 10); /* NUL-terminated past len */
        char next[32];
        int nl = snprintf(next, sizeof next, "%ld", cur + 1);
        vdb_meta_op ops[] = {{VDB_META_CHECK_VALUE, c->key, v, len},
                             {VDB_META_PUT, c->key, next, (size_t)nl}};
        vdb_status st = g_meta.be->txn(g_meta.h, ops, 2);
        free(v);
        if (st == VDB_OK)
            i++;
        else if (st == VDB_ECONFLICT)
            c->conflicts++;
        else
            c->st = st;
    }
    if (c->st != VDB_OK)
        snprintf(c->err, sizeof c->err, "%s", vdb_err_get());
    return NULL;
}

static void test_meta_cas_race_loses_no_increment(void **state)
{
    (void)state;
    enum { T = 8, N = 60 };
    char *p = cf_name("cas");
    char *k = key_of(p, "/counter");
    vdb_meta_op init[] = {{VDB_META_CHECK_ABSENT, k, NULL, 0}, {VDB_META_PUT, k, "0", 1}};
    CF_OK(g_meta.be->txn(g_meta.h, init, 2));
    CF_STATUS(g_meta.be->txn(g_meta.h, init, 2), VDB_ECONFLICT); /* only one creator wins */
    casctx c[T];
    pthread_t th[T];
    for (int t = 0; t < T; t++) {
        c[t] = (casctx){.key = k, .n = N};
        assert_int_equal(pthread_create(&th[t], NULL, cas_main, &c[t]), 0);
    }
    int conflicts = 0;
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        conflicts += c[t].conflicts;
    }
    for (int t = 0; t < T; t++)
        if (c[t].st != VDB_OK)
            fail_msg("thread %d: %s: %s", t, vdb_status_name(c[t].st), c[t].err);
    char want[32];
    int wl = snprintf(want, sizeof want, "%d", T * N);
    check_value(k, want, (size_t)wl);
    fprintf(stderr, "  %d increments by %d threads, %d conflicts retried\n", T * N, T,
            conflicts);
    CF_OK(g_meta.be->del(g_meta.h, k));
    free(k);
    free(p);
}

static void test_meta_values_survive_reopen(void **state)
{
    (void)state;
    char *p = cf_name("reopen");
    char *k = key_of(p, "/k");
    put(k, "kept\0!", 6);
    vdb_meta_store_close(&g_meta);
    vdb_backend_options o = cf_options();
    CF_OK(vdb_meta_store_open(cf_uri(), &o, &g_meta));
    check_value(k, "kept\0!", 6);
    CF_OK(g_meta.be->del(g_meta.h, k));
    free(k);
    free(p);
}

int main(int argc, char **argv)
{
    cf_init(argc, argv, "conformance_meta");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta_get_missing_key_is_not_found),
        cmocka_unit_test(test_meta_put_get_overwrite_delete),
        cmocka_unit_test(test_meta_binary_values_with_nul_bytes),
        cmocka_unit_test(test_meta_large_values),
        cmocka_unit_test(test_meta_prefix_scans_ordered_with_many_keys),
        cmocka_unit_test(test_meta_scan_callback_may_call_the_store),
        cmocka_unit_test(test_meta_txn_checks_pass_and_apply_everything),
        cmocka_unit_test(test_meta_txn_failed_check_applies_nothing),
        cmocka_unit_test(test_meta_cas_race_loses_no_increment),
        cmocka_unit_test(test_meta_values_survive_reopen),
    };
    return cmocka_run_group_tests_name("meta conformance", tests, setup, teardown);
}

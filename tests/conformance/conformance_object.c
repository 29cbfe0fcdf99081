/* Conformance suite of the object vtable (include/vdb/sys/object_backend.h), run unchanged
 * against every object backend: file://, s3://, azblob://, ...
 *
 * Usage: conformance_object URI [FILTER]
 *   URI     e.g. file:///tmp/x/objects,
 *           s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1
 *           (or the variable VDB_CONFORMANCE_URI)
 *   FILTER  a cmocka glob over the test names, e.g. "*list*"
 *   env VDB_CONFORMANCE_TIMEOUT_MS=N (the backend options' timeout_ms)
 * The backend is opened through libvdb's registry by URI. Every test works under a key prefix
 * of its own (from the time, the pid and a counter), so runs can share a server; the tests
 * delete what they write. Exit status 0 when all pass. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

static vdb_object_store g_obj;

static int setup(void **state)
{
    (void)state;
    vdb_backend_options o = cf_options();
    vdb_status st = vdb_object_store_open(cf_uri(), &o, &g_obj);
    if (st != VDB_OK) {
        fprintf(stderr, "cannot open object store %s: %s: %s\n", cf_uri(),
                vdb_status_name(st), vdb_err_get());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vdb_object_store_close(&g_obj);
    return 0;
}

static char *key_of(const char *prefix, const char *rest)
{
    char *k;
    assert_true(asprintf(&k, "%s%s", prefix, rest) > 0);
    return k;
}

static void put(const char *key, const void *data, size_t len)
{
    CF_OK(g_obj.be->put(g_obj.h, key, data, len));
}

static void check_object(const char *key, const void *data, size_t len)
{
    void *got = NULL;
    size_t glen = 0;
    vdb_status st = g_obj.be->get(g_obj.h, key, &got, &glen);
    if (st != VDB_OK)
        fail_msg("get %s -> %s: %s", key, vdb_status_name(st), vdb_err_get());
    if (glen != len || (len && memcmp(got, data, len)))
        fail_msg("get %s: %zu bytes, not the %zu expected", key, glen, len);
    free(got);
    uint64_t size = 0;
    CF_OK(g_obj.be->head(g_obj.h, key, &size));
    assert_int_equal(size, len);
}

static void check_range(const char *key, const uint8_t *data, size_t size, uint64_t off,
                        size_t len)
{
    void *got = NULL;
    size_t glen = (size_t)-1;
    CF_OK(g_obj.be->get_range(g_obj.h, key, off, len, &got, &glen));
    size_t want = off >= size ? 0 : (size - off < len ? size - off : len);
    if (glen != want)
        fail_msg("get_range %s [%llu, +%zu) of %zu bytes: got %zu bytes, expected %zu", key,
                 (unsigned long long)off, len, size, glen, want);
    if (want && memcmp(got, data + off, want))
        fail_msg("get_range %s [%llu, +%zu): bytes differ", key, (unsigned long long)off, len);
    free(got);
}

typedef struct listing {
    char **keys;
    uint64_t *sizes;
    size_t n, cap, stop_after;
} listing;

static int collect(void *arg, const char *key, uint64_t size)
{
    listing *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->keys = realloc(l->keys, l->cap * sizeof *l->keys);
        l->sizes = realloc(l->sizes, l->cap * sizeof *l->sizes);
        assert_true(l->keys && l->sizes);
    }
    l->keys[l->n] = strdup(key);
    assert_non_null(l->keys[l->n]);
    l->sizes[l->n++] = size;
    return l->stop_after && l->n >= l->stop_after;
}

static void listing_free(listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i]);
    free(l->keys);
    free(l->sizes);
    memset(l, 0, sizeof *l);
}

static listing list(const char *prefix)
{
    listing l = {0};
    CF_OK(g_obj.be->list(g_obj.h, prefix, collect, &l));
    for (size_t i = 0; i < l.n; i++) {
        if (strncmp(l.keys[i], prefix, strlen(prefix)))
            fail_msg("list '%s' gave key '%s'", prefix, l.keys[i]);
        if (i && strcmp(l.keys[i - 1], l.keys[i]) >= 0)
            fail_msg("list '%s' gave '%s' after '%s'", prefix, l.keys[i], l.keys[i - 1]);
    }
    return l;
}

static void delete_prefix(const char *prefix)
{
    listing l = list(prefix);
    for (size_t i = 0; i < l.n; i++)
        CF_OK(g_obj.be->del(g_obj.h, l.keys[i]));
    listing_free(&l);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_object_missing_keys(void **state)
{
    (void)state;
    char *p = cf_name("missing");
    char *k = key_of(p, "/nothing");
    void *d = NULL;
    size_t n = 0;
    uint64_t size = 0;
    CF_STATUS(g_obj.be->get(g_obj.h, k, &d, &n), VDB_ENOTFOUND);
    CF_STATUS(g_obj.be->get_range(g_obj.h, k, 0, 10, &d, &n), VDB_ENOTFOUND);
    CF_STATUS(g_obj.be->head(g_obj.h, k, &size), VDB_ENOTFOUND);
    CF_OK(g_obj.be->del(g_obj.h, k)); /* deleting a missing key is fine */
    listing l = list(p);
    assert_int_equal(l.n, 0);
    listing_free(&l);
    free(k);
    free(p);
}

static void test_object_put_get_head_overwrite_delete(void **state)
{
    (void)state;
    char *p = cf_name("pghod");
    char *k = key_of(p, "/obj");
    put(k, "first version", 13);
    check_object(k, "first version", 13);
    put(k, "2nd", 3); /* shorter: nothing of the old object remains */
    check_object(k, "2nd", 3);
    put(k, "", 0); /* empty objects exist */
    check_object(k, "", 0);
    CF_OK(g_obj.be->del(g_obj.h, k));
    void *d = NULL;
    size_t n = 0;
    CF_STATUS(g_obj.be->get(g_obj.h, k, &d, &n), VDB_ENOTFOUND);
    put(k, "again", 5);
    check_object(k, "again", 5);
    CF_OK(g_obj.be->del(g_obj.h, k));
    free(k);
    free(p);
}

static void test_object_ranged_get(void **state)
{
    (void)state;
    char *p = cf_name("range");
    char *k = key_of(p, "/r");
    const size_t size = 100000;
    uint8_t *data = cf_bytes(size, 11);
    put(k, data, size);
    check_range(k, data, size, 0, 1);         /* the first byte */
    check_range(k, data, size, 0, size);      /* all of it */
    check_range(k, data, size, 4321, 9000);   /* the middle */
    check_range(k, data, size, size - 1, 1);  /* the last byte */
    check_range(k, data, size, size - 10, 1000); /* crossing the end: shorter */
    check_range(k, data, size, 0, size * 2);  /* longer than the object */
    check_range(k, data, size, size, 10);     /* at the end: nothing */
    CF_OK(g_obj.be->del(g_obj.h, k));
    free(data);
    free(k);
    free(p);
}

static void test_object_binary_data(void **state)
{
    (void)state;
    char *p = cf_name("bin");
    char *k = key_of(p, "/bin");
    uint8_t all[512];
    for (int i = 0; i < 512; i++)
        all[i] = (uint8_t)(i % 256);
    memset(all + 256, 0, 64);
    put(k, all, sizeof all);
    check_object(k, all, sizeof all);
    check_range(k, all, sizeof all, 250, 80);
    CF_OK(g_obj.be->del(g_obj.h, k));
    free(k);
    free(p);
}

static void test_object_large_objects(void **state)
{
    (void)state;
    const size_t size = 32u << 20;
    char *p = cf_name("large");
    char *k = key_of(p, "/big");
    uint8_t *data = cf_bytes(size, 13);
    put(k, data, size);
    check_object(k, data, size);
    check_range(k, data, size, (16u << 20) - 3, 1u << 20);
    check_range(k, data, size, size - 5, 100);
    listing l = list(p);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.sizes[0], size);
    listing_free(&l);
    CF_OK(g_obj.be->del(g_obj.h, k));
    free(data);
    free(k);
    free(p);
}

/* 1,200 keys (more than one page of S3's 1,000), under prefixes that are prefixes of one
 * another ("a", "ab") and in nested "folders" ("a/"). */
static void test_object_list_prefix_with_many_keys(void **state)
{
    (void)state;
    enum { N = 1200 };
    char *p = cf_name("list");
    size_t n_slash = 0, n_ab = 0;
    for (size_t j = 0; j < N; j++) {
        size_t i = (j * 7919) % N;
        char rest[64];
        if (i % 4 == 0) {
            snprintf(rest, sizeof rest, "/a/%04zu", i);
            n_slash++;
        } else if (i % 4 == 1) {
            snprintf(rest, sizeof rest, "/ab%04zu", i);
            n_ab++;
        } else if (i % 4 == 2) {
            snprintf(rest, sizeof rest, "/a/sub/%04zu", i);
            n_slash++;
        } else {
            snprintf(rest, sizeof rest, "/a%04zu", i);
        }
        char *k = key_of(p, rest);
        put(k, rest, i % 50 + 1);
        free(k);
    }
    char *other = key_of(p, "/b");
    put(other, "b", 1);
    char *pa = key_of(p, "/a"), *pa_ = key_of(p, "/a/"), *pab = key_of(p, "/ab");
    listing l = list(pa);
    assert_int_equal(l.n, N);
    for (size_t i = 0; i < l.n; i++) {
        const char *digits = l.keys[i] + strlen(l.keys[i]) - 4;
        size_t num = strtoul(digits, NULL, 10);
        if (l.sizes[i] != num % 50 + 1)
            fail_msg("list: %s has size %llu, expected %zu", l.keys[i],
                     (unsigned long long)l.sizes[i], num % 50 + 1);
    }
    listing_free(&l);
    l = list(pa_);
    assert_int_equal(l.n, n_slash);
    listing_free(&l);
    l = list(pab);
    assert_int_equal(l.n, n_ab);
    listing_free(&l);
    l = list(p);
    assert_int_equal(l.n, N + 1);
    listing_free(&l);
    /* stopping early is not an error */
    l = (listing){.stop_after = 1100};
    CF_OK(g_obj.be->list(g_obj.h, pa, collect, &l));
    assert_int_equal(l.n, 1100);
    listing_free(&l);
    delete_prefix(p);
    l = list(p);
    assert_int_equal(l.n, 0);
    listing_free(&l);
    free(pa);
    free(pa_);
    free(pab);
    free(other);
    free(p);
}

static void test_object_survives_reopen(void **state)
{
    (void)state;
    char *p = cf_name("reopen");
    char *k = key_of(p, "/k");
    put(k, "kept\0!", 6);
    vdb_object_store_close(&g_obj);
    vdb_backend_options o = cf_options();
    CF_OK(vdb_object_store_open(cf_uri(), &o, &g_obj));
    check_object(k, "kept\0!", 6);
    CF_OK(g_obj.be->del(g_obj.h, k));
    free(k);
    free(p);
}

int main(int argc, char **argv)
{
    cf_init(argc, argv, "conformance_object");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_object_missing_keys),
        cmocka_unit_test(test_object_put_get_head_overwrite_delete),
        cmocka_unit_test(test_object_ranged_get),
        cmocka_unit_test(test_object_binary_data),
        cmocka_unit_test(test_object_large_objects),
        cmocka_unit_test(test_object_list_prefix_with_many_keys),
        cmocka_unit_test(test_object_survives_reopen),
    };
    return cmocka_run_group_tests_name("object conformance", tests, setup, teardown);
}

/* Tests for the local object backend (file://): put/get/range/head/list/delete, key rules,
 * missing objects and atomic replacement. */
#define _GNU_SOURCE
#include "test_common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/storage.h"

static const vdb_object_backend *be = &vdb_object_file_backend;

typedef struct fixture {
    char *dir;
    void *s;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir("object_file");
    if (!f->dir)
        return -1;
    char uri[4200];
    snprintf(uri, sizeof uri, "file://%s/objects/", f->dir); /* trailing slash tolerated */
    if (be->open(uri, NULL, &f->s) != VDB_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    be->close(f->s);
    test_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void put_str(void *s, const char *k, const char *v)
{
    vdb_status st = be->put(s, k, v, strlen(v));
    if (st != VDB_OK)
        fail_msg("put %s: %s", k, vdb_err_get());
}

static void assert_object(void *s, const char *k, const char *want)
{
    void *d = NULL;
    size_t len = 0;
    vdb_status st = be->get(s, k, &d, &len);
    if (st != VDB_OK)
        fail_msg("get %s: %s", k, vdb_err_get());
    assert_int_equal(len, strlen(want));
    assert_memory_equal(d, want, len);
    assert_int_equal(((char *)d)[len], 0);
    free(d);
}

typedef struct listed {
    char keys[32][128];
    uint64_t sizes[32];
    int n, stop_after;
} listed;

static int collect(void *arg, const char *key, uint64_t size)
{
    listed *l = arg;
    if (l->n < 32) {
        snprintf(l->keys[l->n], 128, "%s", key);
        l->sizes[l->n] = size;
    }
    l->n++;
    return l->stop_after && l->n >= l->stop_after;
}

static void test_put_get_head_delete_round_trip(void **state)
{
    fixture *f = *state;
    put_str(f->s, "seg/1/col/7.bin", "column seven");
    put_str(f->s, "top", "t");
    assert_object(f->s, "seg/1/col/7.bin", "column seven");
    assert_object(f->s, "top", "t");
    uint64_t size = 0;
    assert_int_equal(be->head(f->s, "seg/1/col/7.bin", &size), VDB_OK);
    assert_int_equal(size, 12);
    assert_int_equal(be->put(f->s, "empty", NULL, 0), VDB_OK);
    assert_object(f->s, "empty", "");
    assert_int_equal(be->head(f->s, "empty", &size), VDB_OK);
    assert_int_equal(size, 0);
    assert_int_equal(be->del(f->s, "top"), VDB_OK);
    void *d;
    size_t len;
    assert_int_equal(be->get(f->s, "top", &d, &len), VDB_ENOTFOUND);
    assert_int_equal(be->del(f->s, "top"), VDB_OK); /* missing: fine */
    assert_int_equal(be->del(f->s, "no/such/folder/x"), VDB_OK);
    /* The object is a file under the root named by its key. */
    char path[4300];
    snprintf(path, sizeof path, "%s/objects/seg/1/col/7.bin", f->dir);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 12);
}

static void test_get_range_reads_slices_and_stops_at_the_end(void **state)
{
    fixture *f = *state;
    put_str(f->s, "r", "0123456789");
    void *d;
    size_t got;
    assert_int_equal(be->get_range(f->s, "r", 2, 3, &d, &got), VDB_OK);
    assert_int_equal(got, 3);
    assert_memory_equal(d, "234", 3);
    free(d);
    assert_int_equal(be->get_range(f->s, "r", 7, 100, &d, &got), VDB_OK);
    assert_int_equal(got, 3);
    assert_memory_equal(d, "789", 3);
    assert_int_equal(((char *)d)[3], 0);
    free(d);
    assert_int_equal(be->get_range(f->s, "r", 10, 5, &d, &got), VDB_OK);
    assert_int_equal(got, 0);
    free(d);
    assert_int_equal(be->get_range(f->s, "r", 1000, 5, &d, &got), VDB_OK);
    assert_int_equal(got, 0);
    free(d);
    assert_int_equal(be->get_range(f->s, "r", 0, SIZE_MAX, &d, &got), VDB_OK);
    assert_int_equal(got, 10);
    free(d);
    assert_int_equal(be->get_range(f->s, "nope", 0, 1, &d, &got), VDB_ENOTFOUND);
    assert_non_null(strstr(vdb_err_get(), "nope"));
}

static void test_missing_objects_are_enotfound_naming_the_key(void **state)
{
    fixture *f = *state;
    void *d;
    size_t len;
    uint64_t size;
    assert_int_equal(be->get(f->s, "a/missing", &d, &len), VDB_ENOTFOUND);
    assert_non_null(strstr(vdb_err_get(), "a/missing"));
    assert_int_equal(be->head(f->s, "b/missing", &size), VDB_ENOTFOUND);
    assert_non_null(strstr(vdb_err_get(), "b/missing"));
    /* A folder made by deeper keys is not an object, nor is a path through an object. */
    put_str(f->s, "dir/leaf", "x");
    assert_int_equal(be->get(f->s, "dir", &d, &len), VDB_ENOTFOUND);
    assert_int_equal(be->head(f->s, "dir", &size), VDB_ENOTFOUND);
    assert_int_equal(be->get(f->s, "dir/leaf/below", &d, &len), VDB_ENOTFOUND);
    assert_int_equal(be->del(f->s, "dir"), VDB_OK);
    assert_object(f->s, "dir/leaf", "x");
}

static void test_bad_keys_are_einval(void **state)
{
    fixture *f = *state;
    const char *bad[] = {"", "/abs", "a//b", "a/", "..", "a/../b", ".", "./a", "a/.",
                         "x/.vdbtmp.1.2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        void *d;
        size_t len;
        uint64_t size;
        vdb_err_clear();
        assert_int_equal(be->put(f->s, bad[i], "x", 1), VDB_EINVAL);
        assert_true(strlen(vdb_err_get()) > 0);
        assert_int_equal(be->get(f->s, bad[i], &d, &len), VDB_EINVAL);
        assert_int_equal(be->head(f->s, bad[i], &size), VDB_EINVAL);
        assert_int_equal(be->del(f->s, bad[i]), VDB_EINVAL);
    }
    assert_int_equal(be->put(f->s, NULL, "x", 1), VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "empty"));
    /* Dots inside a name are fine. */
    put_str(f->s, "a/..b/.c/x..y", "ok");
    assert_object(f->s, "a/..b/.c/x..y", "ok");
}

static void test_list_is_recursive_sorted_with_sizes_and_prefix(void **state)
{
    fixture *f = *state;
    put_str(f->s, "a/b", "12");
    put_str(f->s, "a-c", "123");
    put_str(f->s, "a/a/z", "1");
    put_str(f->s, "b", "1234");
    put_str(f->s, "ab/x", "");
    put_str(f->s, "a0", "12345");
    listed l = {0};
    assert_int_equal(be->list(f->s, "", collect, &l), VDB_OK);
    assert_int_equal(l.n, 6);
    const char *want[] = {"a-c", "a/a/z", "a/b", "a0", "ab/x", "b"};
    const uint64_t sizes[] = {3, 1, 2, 5, 0, 4};
    for (int i = 0; i < 6; i++) {
        assert_string_equal(l.keys[i], want[i]);
        assert_int_equal(l.sizes[i], sizes[i]);
    }

    memset(&l, 0, sizeof l);
    assert_int_equal(be->list(f->s, "a/", collect, &l), VDB_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.keys[0], "a/a/z");
    assert_string_equal(l.keys[1], "a/b");

    memset(&l, 0, sizeof l); /* a prefix that ends inside a name */
    assert_int_equal(be->list(f->s, "a/a", collect, &l), VDB_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.keys[0], "a/a/z");

    memset(&l, 0, sizeof l);
    assert_int_equal(be->list(f->s, "a", collect, &l), VDB_OK);
    assert_int_equal(l.n, 5);

    memset(&l, 0, sizeof l);
    assert_int_equal(be->list(f->s, "zzz/", collect, &l), VDB_OK);
    assert_int_equal(l.n, 0);

    memset(&l, 0, sizeof l);
    l.stop_after = 2;
    assert_int_equal(be->list(f->s, "", collect, &l), VDB_OK);
    assert_int_equal(l.n, 2);
}

static void test_list_skips_temporary_files(void **state)
{
    fixture *f = *state;
    put_str(f->s, "d/real", "r");
    char path[4300];
    snprintf(path, sizeof path, "%s/objects/d/.vdbtmp.99.1", f->dir);
    FILE *fp = fopen(path, "wb");
    fputs("half-written", fp);
    fclose(fp);
    listed l = {0};
    assert_int_equal(be->list(f->s, "d/", collect, &l), VDB_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.keys[0], "d/real");
}

static void test_overwrite_replaces_content_and_leaves_no_temp_files(void **state)
{
    fixture *f = *state;
    put_str(f->s, "k", "old content, longer");
    put_str(f->s, "k", "new");
    assert_object(f->s, "k", "new");
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s/objects' | wc -l) -eq 1", f->dir);
    assert_int_equal(system(cmd), 0);
}

/* Readers racing a writer that alternates two contents must always see one of them whole. */
typedef struct race {
    void *s;
    atomic_bool stop;
    const char *a, *b;
    size_t alen, blen;
    int torn, reads;
} race;

static void *overwrite_loop(void *arg)
{
    race *r = arg;
    for (int i = 0; i < 200; i++) {
        bool use_a = i % 2 == 0;
        if (be->put(r->s, "hot", use_a ? r->a : r->b, use_a ? r->alen : r->blen) != VDB_OK)
            break;
    }
    atomic_store(&r->stop, true);
    return NULL;
}

static void test_overwrite_is_atomic_readers_see_old_or_new(void **state)
{
    fixture *f = *state;
    race r = {.s = f->s};
    r.alen = 100000;
    r.blen = 30000;
    char *a = malloc(r.alen), *b = malloc(r.blen);
    memset(a, 'A', r.alen);
    memset(b, 'B', r.blen);
    r.a = a;
    r.b = b;
    assert_int_equal(be->put(f->s, "hot", a, r.alen), VDB_OK);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, overwrite_loop, &r), 0);
    while (!atomic_load(&r.stop)) {
        void *d;
        size_t len;
        assert_int_equal(be->get(f->s, "hot", &d, &len), VDB_OK);
        bool whole_a = len == r.alen && memcmp(d, a, len) == 0;
        bool whole_b = len == r.blen && memcmp(d, b, len) == 0;
        r.torn += !whole_a && !whole_b;
        r.reads++;
        free(d);
    }
    pthread_join(th, NULL);
    assert_int_equal(r.torn, 0);
    assert_true(r.reads > 0);
    free(a);
    free(b);
}

/* Deleting a folder's last object removes the folders it leaves empty (a compacted segment
 * leaves nothing behind), never the root, and a later put makes them again. */
static void test_delete_prunes_empty_folders(void **state)
{
    fixture *f = *state;
    put_str(f->s, "seg/1/col/a.bin", "a");
    put_str(f->s, "seg/1/col/b.bin", "b");
    put_str(f->s, "seg/2/x", "x");
    char path[4300];
    struct stat sb;
    assert_int_equal(be->del(f->s, "seg/1/col/a.bin"), VDB_OK);
    snprintf(path, sizeof path, "%s/objects/seg/1/col", f->dir);
    assert_int_equal(stat(path, &sb), 0); /* b.bin is still in it */
    assert_int_equal(be->del(f->s, "seg/1/col/b.bin"), VDB_OK);
    snprintf(path, sizeof path, "%s/objects/seg/1", f->dir);
    assert_int_not_equal(stat(path, &sb), 0);
    snprintf(path, sizeof path, "%s/objects/seg", f->dir);
    assert_int_equal(stat(path, &sb), 0); /* seg/2 keeps it */
    assert_int_equal(be->del(f->s, "seg/2/x"), VDB_OK);
    assert_int_not_equal(stat(path, &sb), 0);
    snprintf(path, sizeof path, "%s/objects", f->dir);
    assert_int_equal(stat(path, &sb), 0); /* the root stays */
    put_str(f->s, "seg/1/col/a.bin", "again");
    assert_object(f->s, "seg/1/col/a.bin", "again");
}

static void test_open_rejects_other_schemes(void **state)
{
    (void)state;
    void *s = NULL;
    assert_int_equal(be->open("local:///tmp/x", NULL, &s), VDB_EINVAL);
    assert_int_equal(be->open("file://", NULL, &s), VDB_EINVAL);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_head_delete_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_range_reads_slices_and_stops_at_the_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_objects_are_enotfound_naming_the_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_keys_are_einval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_is_recursive_sorted_with_sizes_and_prefix,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_skips_temporary_files, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_overwrite_replaces_content_and_leaves_no_temp_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwrite_is_atomic_readers_see_old_or_new, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_delete_prunes_empty_folders, setup, teardown),
        cmocka_unit_test(test_open_rejects_other_schemes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

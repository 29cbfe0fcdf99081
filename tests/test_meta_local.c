/* Tests for the local meta backend (local://): the map, transactions, the log and snapshots,
 * recovery from torn and corrupt files, and concurrent writers. */
#define _GNU_SOURCE
#include "test_common.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/storage.h"

static const vdb_meta_backend *be = &vdb_meta_local_backend;

typedef struct fixture {
    char *dir;
    char uri[4200];
    void *m;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir("meta_local");
    if (!f->dir)
        return -1;
    snprintf(f->uri, sizeof f->uri, "local://%s/meta", f->dir);
    if (be->open(f->uri, NULL, &f->m) != VDB_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->m)
        be->close(f->m);
    test_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void reopen(fixture *f)
{
    be->close(f->m);
    f->m = NULL;
    vdb_status st = be->open(f->uri, NULL, &f->m);
    if (st != VDB_OK)
        fail_msg("reopen: %s", vdb_err_get());
}

static void put_str(void *m, const char *k, const char *v)
{
    assert_int_equal(be->put(m, k, v, strlen(v)), VDB_OK);
}

static void assert_value(void *m, const char *k, const char *want)
{
    void *v = NULL;
    size_t len = 0;
    vdb_status st = be->get(m, k, &v, &len);
    if (st != VDB_OK)
        fail_msg("get %s: %s", k, vdb_err_get());
    assert_int_equal(len, strlen(want));
    assert_memory_equal(v, want, len);
    assert_int_equal(((char *)v)[len], 0);
    free(v);
}

static void assert_missing(void *m, const char *k)
{
    void *v = NULL;
    size_t len = 0;
    assert_int_equal(be->get(m, k, &v, &len), VDB_ENOTFOUND);
    assert_non_null(strstr(vdb_err_get(), k));
}

static char *file_in(const fixture *f, const char *name)
{
    char *p = malloc(4300);
    snprintf(p, 4300, "%s/meta/%s", f->dir, name);
    return p;
}

static bool file_exists(const fixture *f, const char *name)
{
    char *p = file_in(f, name);
    struct stat sb;
    bool ok = stat(p, &sb) == 0;
    free(p);
    return ok;
}

static off_t file_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

/* ---- scan helper ---- */

typedef struct collected {
    char keys[64][64];
    char vals[64][64];
    int n, stop_after;
} collected;

static int collect(void *arg, const char *key, const void *val, size_t len)
{
    collected *c = arg;
    if (c->n < 64) {
        snprintf(c->keys[c->n], 64, "%s", key);
        snprintf(c->vals[c->n], 64, "%.*s", (int)len, (const char *)val);
    }
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

static int count_keys(void *arg, const char *key, const void *val, size_t len)
{
    (void)key;
    (void)val;
    (void)len;
    (*(int *)arg)++;
    return 0;
}

/* ---- tests ---- */

static void test_put_get_delete_round_trip(void **state)
{
    fixture *f = *state;
    put_str(f->m, "a", "1");
    put_str(f->m, "b", "two");
    assert_value(f->m, "a", "1");
    assert_value(f->m, "b", "two");
    put_str(f->m, "a", "overwritten");
    assert_value(f->m, "a", "overwritten");
    assert_int_equal(be->put(f->m, "empty", "", 0), VDB_OK);
    assert_value(f->m, "empty", "");
    assert_int_equal(be->del(f->m, "a"), VDB_OK);
    assert_missing(f->m, "a");
    assert_int_equal(be->del(f->m, "a"), VDB_OK); /* missing: fine */
    assert_missing(f->m, "never-written");
    assert_value(f->m, "b", "two");
}

static void test_bad_keys_and_values_are_einval(void **state)
{
    fixture *f = *state;
    assert_int_equal(be->put(f->m, "", "x", 1), VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "empty"));
    char *big = malloc(4098);
    memset(big, 'k', 4097);
    big[4097] = 0;
    assert_int_equal(be->put(f->m, big, "x", 1), VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "4097"));
    big[4096] = 0; /* exactly the limit is fine */
    assert_int_equal(be->put(f->m, big, "x", 1), VDB_OK);
    assert_value(f->m, big, "x");
    free(big);
    char one = 'v';
    /* The length check comes before the value is read, so a short buffer is safe here. */
    assert_int_equal(be->put(f->m, "huge", &one, (64u << 20) + 1), VDB_EINVAL);
    assert_missing(f->m, "huge");
}

static void test_scan_returns_prefix_matches_in_byte_order(void **state)
{
    fixture *f = *state;
    const char *keys[] = {"b/2", "a/10", "a/2", "a/1", "a\xff", "a", "ab", "c", "a/1/x", "a0"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        put_str(f->m, keys[i], keys[i]);
    collected c = {0};
    assert_int_equal(be->scan(f->m, "a/", collect, &c), VDB_OK);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.keys[0], "a/1");
    assert_string_equal(c.keys[1], "a/1/x");
    assert_string_equal(c.keys[2], "a/10");
    assert_string_equal(c.keys[3], "a/2");
    assert_string_equal(c.vals[2], "a/10");

    memset(&c, 0, sizeof c);
    assert_int_equal(be->scan(f->m, "", collect, &c), VDB_OK);
    assert_int_equal(c.n, 10);
    const char *all[] = {"a", "a/1", "a/1/x", "a/10", "a/2", "a0", "ab", "a\xff", "b/2", "c"};
    for (int i = 0; i < 10; i++)
        assert_string_equal(c.keys[i], all[i]);

    memset(&c, 0, sizeof c);
    assert_int_equal(be->scan(f->m, "zz", collect, &c), VDB_OK);
    assert_int_equal(c.n, 0);

    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    assert_int_equal(be->scan(f->m, "a", collect, &c), VDB_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.keys[1], "a/1");
}

typedef struct reenter {
    void *m;
    int seen;
} reenter;

static int get_inside_scan(void *arg, const char *key, const void *val, size_t len)
{
    reenter *r = arg;
    void *v;
    size_t n;
    /* The store must not hold its lock while calling back. */
    assert_int_equal(be->get(r->m, key, &v, &n), VDB_OK);
    assert_int_equal(n, len);
    assert_memory_equal(v, val, n);
    free(v);
    assert_int_equal(be->put(r->m, "other/x", "y", 1), VDB_OK);
    r->seen++;
    return 0;
}

static void test_scan_callback_may_call_back_into_the_store(void **state)
{
    fixture *f = *state;
    put_str(f->m, "p/1", "one");
    put_str(f->m, "p/2", "two");
    reenter r = {f->m, 0};
    assert_int_equal(be->scan(f->m, "p/", get_inside_scan, &r), VDB_OK);
    assert_int_equal(r.seen, 2);
    assert_value(f->m, "other/x", "y");
}

static void test_txn_applies_all_when_checks_hold(void **state)
{
    fixture *f = *state;
    put_str(f->m, "ver", "1");
    put_str(f->m, "gone", "x");
    vdb_meta_op ops[] = {
        {VDB_META_CHECK_VALUE, "ver", "1", 1},
        {VDB_META_CHECK_ABSENT, "new", NULL, 0},
        {VDB_META_PUT, "ver", "2", 1},
        {VDB_META_PUT, "new", "n", 1},
        {VDB_META_DELETE, "gone", NULL, 0},
    };
    assert_int_equal(be->txn(f->m, ops, 5), VDB_OK);
    assert_value(f->m, "ver", "2");
    assert_value(f->m, "new", "n");
    assert_missing(f->m, "gone");
    /* Later ops in one txn see earlier ones: put then delete leaves nothing. */
    vdb_meta_op seq[] = {
        {VDB_META_PUT, "tmp", "t", 1},
        {VDB_META_DELETE, "tmp", NULL, 0},
        {VDB_META_PUT, "ver", "3", 1},
    };
    assert_int_equal(be->txn(f->m, seq, 3), VDB_OK);
    assert_missing(f->m, "tmp");
    assert_value(f->m, "ver", "3");
    /* Checks only: nothing written, still OK. */
    vdb_meta_op check[] = {{VDB_META_CHECK_VALUE, "ver", "3", 1}};
    assert_int_equal(be->txn(f->m, check, 1), VDB_OK);
    reopen(f);
    assert_value(f->m, "ver", "3");
    assert_value(f->m, "new", "n");
    assert_missing(f->m, "gone");
}

static void test_txn_with_failing_check_is_conflict_and_applies_nothing(void **state)
{
    fixture *f = *state;
    put_str(f->m, "ver", "1");
    vdb_meta_op wrong_value[] = {
        {VDB_META_PUT, "side", "s", 1},
        {VDB_META_CHECK_VALUE, "ver", "2", 1},
        {VDB_META_PUT, "ver", "3", 1},
    };
    assert_int_equal(be->txn(f->m, wrong_value, 3), VDB_ECONFLICT);
    assert_non_null(strstr(vdb_err_get(), "ver"));
    assert_value(f->m, "ver", "1");
    assert_missing(f->m, "side");

    vdb_meta_op prefix_value[] = {{VDB_META_CHECK_VALUE, "ver", "12", 2},
                                  {VDB_META_DELETE, "ver", NULL, 0}};
    assert_int_equal(be->txn(f->m, prefix_value, 2), VDB_ECONFLICT);
    vdb_meta_op missing[] = {{VDB_META_CHECK_VALUE, "nokey", "", 0},
                             {VDB_META_DELETE, "ver", NULL, 0}};
    assert_int_equal(be->txn(f->m, missing, 2), VDB_ECONFLICT);
    assert_non_null(strstr(vdb_err_get(), "nokey"));
    vdb_meta_op present[] = {{VDB_META_CHECK_ABSENT, "ver", NULL, 0},
                             {VDB_META_PUT, "x", "1", 1}};
    assert_int_equal(be->txn(f->m, present, 2), VDB_ECONFLICT);
    assert_value(f->m, "ver", "1");
    assert_missing(f->m, "x");
    reopen(f);
    assert_value(f->m, "ver", "1");
    assert_missing(f->m, "side");
    assert_missing(f->m, "x");
}

static void test_reopen_keeps_puts_overwrites_and_deletes(void **state)
{
    fixture *f = *state;
    char k[32], v[32];
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof k, "key/%03d", i);
        snprintf(v, sizeof v, "value-%d", i);
        put_str(f->m, k, v);
    }
    for (int i = 0; i < 200; i += 3) {
        snprintf(k, sizeof k, "key/%03d", i);
        assert_int_equal(be->del(f->m, k), VDB_OK);
    }
    put_str(f->m, "key/001", "changed");
    reopen(f);
    reopen(f); /* a reopen of a reopened store changes nothing */
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof k, "key/%03d", i);
        snprintf(v, sizeof v, "value-%d", i);
        if (i % 3 == 0)
            assert_missing(f->m, k);
        else
            assert_value(f->m, k, i == 1 ? "changed" : v);
    }
    int n = 0;
    assert_int_equal(be->scan(f->m, "key/", count_keys, &n), VDB_OK);
    assert_int_equal(n, 200 - 67);
}

static void test_second_open_of_same_folder_is_locked(void **state)
{
    fixture *f = *state;
    void *other = NULL;
    assert_int_equal(be->open(f->uri, NULL, &other), VDB_ELOCKED);
    assert_int_equal(be->open("file:///tmp/x", NULL, &other), VDB_EINVAL);
    assert_int_equal(be->open("local://", NULL, &other), VDB_EINVAL);
}

/* A read_only instance beside the writer: no lock, a snapshot of what the writer has
 * acknowledged (across the writer's compactions), writes refused with VDB_EREADONLY, and a
 * folder without a store is VDB_ENOTFOUND (nothing created). */
static void test_read_only_snapshot_beside_the_writer(void **state)
{
    fixture *f = *state;
    vdb_backend_options ro = {.read_only = 1};
    put_str(f->m, "a", "1");
    put_str(f->m, "b", "2");
    assert_int_equal(be->del(f->m, "b"), VDB_OK);
    void *r = NULL;
    assert_int_equal(be->open(f->uri, &ro, &r), VDB_OK);
    assert_value(r, "a", "1");
    assert_missing(r, "b");
    uint64_t gen, seq, gen2, seq2;
    vdb_meta_local_position(r, &gen, &seq);
    assert_int_equal(be->put(r, "c", "3", 1), VDB_EREADONLY);
    assert_int_equal(be->del(r, "a"), VDB_EREADONLY);
    put_str(f->m, "c", "3"); /* the writer's later put: not in the snapshot taken before */
    assert_missing(r, "c");
    be->close(r);
    /* the writer compacts (generations move) while snapshots are taken */
    size_t vlen = 64 << 10;
    char *v = malloc(vlen);
    for (int i = 0; i < 80; i++) {
        memset(v, 'a' + i % 26, vlen);
        assert_int_equal(be->put(f->m, "big", v, vlen), VDB_OK);
        if (i % 20 == 19) {
            assert_int_equal(be->open(f->uri, &ro, &r), VDB_OK);
            void *got = NULL;
            size_t len = 0;
            assert_int_equal(be->get(r, "big", &got, &len), VDB_OK);
            assert_int_equal(len, vlen);
            assert_memory_equal(got, v, vlen);
            free(got);
            assert_value(r, "c", "3");
            be->close(r);
        }
    }
    free(v);
    assert_int_equal(be->open(f->uri, &ro, &r), VDB_OK);
    vdb_meta_local_position(r, &gen2, &seq2);
    assert_true(gen2 > gen && seq2 > seq);
    be->close(r);
    char uri[4300];
    snprintf(uri, sizeof uri, "local://%s/none", f->dir);
    assert_int_equal(be->open(uri, &ro, &r), VDB_ENOTFOUND);
}

/* Rewrites one key with 64 KiB values until the log passes 4 MiB: the live data stays tiny,
 * so the store must compact into a snapshot and a new log generation. */
static void test_log_compacts_into_snapshot_and_reopen_reads_it(void **state)
{
    fixture *f = *state;
    size_t vlen = 64 << 10;
    char *v = malloc(vlen);
    put_str(f->m, "keep", "kept");
    put_str(f->m, "dropped", "soon");
    assert_int_equal(be->del(f->m, "dropped"), VDB_OK);
    for (int i = 0; i < 80; i++) {
        memset(v, 'a' + i % 26, vlen);
        assert_int_equal(be->put(f->m, "big", v, vlen), VDB_OK);
    }
    assert_true(file_exists(f, "meta-a.snap"));
    assert_true(file_exists(f, "meta-b.snap"));
    assert_false(file_exists(f, "meta-1-a.log"));
    assert_false(file_exists(f, "meta-1-b.log"));
    assert_true(file_exists(f, "meta-2-a.log"));
    assert_true(file_exists(f, "meta-2-b.log"));
    char *log = file_in(f, "meta-2-a.log");
    assert_true(file_size(log) < (4 << 20));
    free(log);
    put_str(f->m, "after", "snapshot");
    reopen(f);
    void *got;
    size_t len;
    assert_int_equal(be->get(f->m, "big", &got, &len), VDB_OK);
    assert_int_equal(len, vlen);
    memset(v, 'a' + 79 % 26, vlen);
    assert_memory_equal(got, v, vlen);
    free(got);
    assert_value(f->m, "keep", "kept");
    assert_value(f->m, "after", "snapshot");
    assert_missing(f->m, "dropped");
    free(v);
}

static void test_stale_files_from_interrupted_compaction_are_ignored(void **state)
{
    fixture *f = *state;
    put_str(f->m, "k", "v");
    be->close(f->m);
    f->m = NULL;
    /* A crash after creating the next logs but before the snapshot renames leaves
     * meta-2-*.log with no snapshot pointing at them (and a temporary snapshot); they must
     * not be replayed (or trusted). */
    const char *names[] = {"meta-2-a.log", "meta-2-b.log", "meta-a.snap.tmp.12"};
    for (int i = 0; i < 3; i++) {
        char *next = file_in(f, names[i]);
        FILE *fp = fopen(next, "wb");
        fputs("junk that is not a log", fp);
        fclose(fp);
        free(next);
    }
    assert_int_equal(be->open(f->uri, NULL, &f->m), VDB_OK);
    assert_value(f->m, "k", "v");
    for (int i = 0; i < 3; i++)
        assert_false(file_exists(f, names[i]));
}

static void truncate_both(const fixture *f, const char *a, off_t len)
{
    char name[64];
    snprintf(name, sizeof name, "%s-a.log", a);
    char *p = file_in(f, name);
    assert_int_equal(truncate(p, len), 0);
    free(p);
    snprintf(name, sizeof name, "%s-b.log", a);
    p = file_in(f, name);
    assert_int_equal(truncate(p, len), 0);
    free(p);
}

static void recovery(const fixture *f, vdb_meta_local_recovery *r)
{
    vdb_meta_local_recovery_get(f->m, r);
}

/* A crash in the middle of a write (here: the process dies without closing, then both
 * copies lose the last record's end) is a torn tail: cut, counted and said. */
static void test_torn_log_tail_is_cut_off(void **state)
{
    fixture *f = *state;
    put_str(f->m, "first", "1");
    put_str(f->m, "second", "2");
    char *log = file_in(f, "meta-1-a.log");
    off_t good = file_size(log);
    be->close(f->m);
    f->m = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        void *m = NULL;
        if (be->open(f->uri, NULL, &m) != VDB_OK || be->put(m, "third", "3", 1) != VDB_OK)
            _exit(1);
        _exit(0); /* no close */
    }
    int status = 1;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(status, 0);
    off_t full = file_size(log);
    assert_true(full > good);
    truncate_both(f, "meta-1", full - 3);
    assert_int_equal(be->open(f->uri, NULL, &f->m), VDB_OK);
    vdb_meta_local_recovery r;
    recovery(f, &r);
    assert_int_equal(r.torn_cut, 1);
    assert_int_equal(r.repaired, 0);
    assert_non_null(strstr(r.note, "meta-1-a.log"));
    assert_value(f->m, "first", "1");
    assert_value(f->m, "second", "2");
    assert_missing(f->m, "third");
    /* the cut is made durable by writing the next generation */
    assert_false(file_exists(f, "meta-1-a.log"));
    assert_true(file_exists(f, "meta-2-a.log"));

    /* the log keeps working after the cut; a second open has nothing to say */
    put_str(f->m, "fourth", "4");
    reopen(f);
    recovery(f, &r);
    assert_int_equal(r.torn_cut + r.repaired, 0);
    assert_string_equal(r.note, "");
    assert_value(f->m, "fourth", "4");
    assert_value(f->m, "first", "1");
    free(log);
}

static void append_junk(const fixture *f, const char *name)
{
    uint8_t junk[24] = {0x10, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3};
    char *p = file_in(f, name);
    int fd = open(p, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    close(fd);
    free(p);
}

/* Garbage after the last record is not a torn write (its header fails its checksum): in one
 * copy it is repaired from the other, in both it is VDB_ECORRUPT naming the file. */
static void test_garbage_after_the_last_record_is_damage(void **state)
{
    fixture *f = *state;
    put_str(f->m, "k", "v");
    be->close(f->m);
    f->m = NULL;
    append_junk(f, "meta-1-a.log");
    assert_int_equal(be->open(f->uri, NULL, &f->m), VDB_OK);
    vdb_meta_local_recovery r;
    recovery(f, &r);
    assert_int_equal(r.repaired, 1);
    assert_int_equal(r.torn_cut, 0);
    assert_non_null(strstr(r.note, "meta-1-a.log"));
    assert_value(f->m, "k", "v");
    put_str(f->m, "k2", "v2");
    be->close(f->m);
    f->m = NULL;
    /* the repair moved the store on to generation 2 */
    assert_false(file_exists(f, "meta-1-a.log"));
    append_junk(f, "meta-2-a.log");
    append_junk(f, "meta-2-b.log");
    assert_int_equal(be->open(f->uri, NULL, &f->m), VDB_ECORRUPT);
    assert_null(f->m);
    assert_non_null(strstr(vdb_err_get(), "meta/meta-2-a.log"));
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

/* One damaged snapshot is repaired from its twin; both: VDB_ECORRUPT naming them. */
static void test_corrupt_snapshot_is_repaired_or_ecorrupt_naming_the_file(void **state)
{
    fixture *f = *state;
    size_t vlen = 256 << 10;
    char *v = calloc(1, vlen);
    for (int i = 0; i < 20; i++)
        assert_int_equal(be->put(f->m, "big", v, vlen), VDB_OK);
    put_str(f->m, "small", "s");
    be->close(f->m);
    f->m = NULL;
    char *snap = file_in(f, "meta-a.snap"), *twin = file_in(f, "meta-b.snap");
    assert_true(file_size(snap) > 100);
    flip_byte(snap, 40);
    assert_int_equal(be->open(f->uri, NULL, &f->m), VDB_OK);
    vdb_meta_local_recovery r;
    recovery(f, &r);
    assert_int_equal(r.repaired, 1);
    assert_non_null(strstr(r.note, "meta-a.snap"));
    void *got;
    size_t len;
    assert_int_equal(be->get(f->m, "big", &got, &len), VDB_OK);
    assert_int_equal(len, vlen);
    assert_memory_equal(got, v, vlen);
    free(got);
    assert_value(f->m, "small", "s");
    be->close(f->m);
    f->m = NULL;

    flip_byte(snap, 40);
    flip_byte(twin, 60);
    assert_int_equal(be->open(f->uri, NULL, &f->m), VDB_ECORRUPT);
    assert_null(f->m);
    assert_non_null(strstr(vdb_err_get(), "meta/meta-a.snap"));
    assert_non_null(strstr(vdb_err_get(), "meta/meta-b.snap"));

    assert_int_equal(truncate(snap, 10), 0);
    assert_int_equal(unlink(twin), 0);
    assert_int_equal(be->open(f->uri, NULL, &f->m), VDB_ECORRUPT);
    assert_non_null(strstr(vdb_err_get(), "meta.snap") || strstr(vdb_err_get(), "meta-a.snap"));
    free(snap);
    free(twin);
    free(v);
}

static void test_large_values_round_trip_across_reopen(void **state)
{
    fixture *f = *state;
    size_t vlen = 10u << 20;
    uint8_t *v = malloc(vlen);
    uint64_t seed = 5;
    for (size_t i = 0; i < vlen; i++)
        v[i] = (uint8_t)test_rand(&seed);
    assert_int_equal(be->put(f->m, "large", v, vlen), VDB_OK);
    reopen(f);
    void *got;
    size_t len;
    assert_int_equal(be->get(f->m, "large", &got, &len), VDB_OK);
    assert_int_equal(len, vlen);
    assert_memory_equal(got, v, vlen);
    free(got);
    free(v);
}

typedef struct writer {
    void *m;
    int id;
    vdb_status st;
} writer;

#define THREADS 4
#define PER_THREAD 100

static void *write_many(void *arg)
{
    writer *w = arg;
    char k[32], v[32];
    for (int i = 0; i < PER_THREAD && w->st == VDB_OK; i++) {
        snprintf(k, sizeof k, "t%d/%04d", w->id, i);
        snprintf(v, sizeof v, "%d-%d", w->id, i);
        w->st = be->put(w->m, k, v, strlen(v));
        if (w->st == VDB_OK && i % 10 == 0) {
            vdb_meta_op ops[] = {{VDB_META_CHECK_VALUE, k, v, strlen(v)},
                                 {VDB_META_PUT, "shared", v, strlen(v)}};
            w->st = be->txn(w->m, ops, 2);
        }
    }
    return NULL;
}

static void test_concurrent_puts_from_threads_all_land(void **state)
{
    fixture *f = *state;
    pthread_t th[THREADS];
    writer w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (writer){f->m, i, VDB_OK};
        assert_int_equal(pthread_create(&th[i], NULL, write_many, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].st, VDB_OK);
    }
    for (int pass = 0; pass < 2; pass++) {
        int n = 0;
        assert_int_equal(be->scan(f->m, "t", count_keys, &n), VDB_OK);
        assert_int_equal(n, THREADS * PER_THREAD);
        assert_value(f->m, "t3/0099", "3-99");
        assert_value(f->m, "t0/0000", "0-0");
        reopen(f);
    }
}

/* Each allocation a txn makes, failed in turn: the txn either fails cleanly with
 * VDB_ENOMEM and changes nothing, or succeeds whole; the store stays usable throughout. */
static void test_allocation_failures_leave_the_store_consistent(void **state)
{
    fixture *f = *state;
    put_str(f->m, "base", "0");
    int failed = 0;
    for (uint64_t nth = 1; nth < 40; nth++) {
        char k[32];
        snprintf(k, sizeof k, "k%02d", (int)nth);
        vdb_meta_op ops[] = {{VDB_META_CHECK_VALUE, "base", "0", 1},
                             {VDB_META_PUT, k, "v", 1},
                             {VDB_META_PUT, "base", "0", 1}};
        vdb_fault_alloc_after(nth, false);
        vdb_status st = be->txn(f->m, ops, 3);
        vdb_fault_alloc_after(0, false);
        if (st == VDB_OK) {
            assert_value(f->m, k, "v");
        } else {
            assert_int_equal(st, VDB_ENOMEM);
            assert_missing(f->m, k);
            failed++;
        }
    }
    assert_true(failed > 0);
    int n = 0;
    assert_int_equal(be->scan(f->m, "k", count_keys, &n), VDB_OK);
    assert_int_equal(n, 39 - failed);
    reopen(f);
    n = 0;
    assert_int_equal(be->scan(f->m, "k", count_keys, &n), VDB_OK);
    assert_int_equal(n, 39 - failed);
    assert_value(f->m, "base", "0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_delete_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_keys_and_values_are_einval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_returns_prefix_matches_in_byte_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_scan_callback_may_call_back_into_the_store, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_txn_applies_all_when_checks_hold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_with_failing_check_is_conflict_and_applies_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_puts_overwrites_and_deletes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_second_open_of_same_folder_is_locked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_read_only_snapshot_beside_the_writer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_compacts_into_snapshot_and_reopen_reads_it,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_files_from_interrupted_compaction_are_ignored,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_log_tail_is_cut_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_after_the_last_record_is_damage, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_snapshot_is_repaired_or_ecorrupt_naming_the_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_large_values_round_trip_across_reopen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_puts_from_threads_all_land, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failures_leave_the_store_consistent,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

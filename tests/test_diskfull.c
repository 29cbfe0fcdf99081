/* A real full disk: the database lives on a 6 MiB tmpfs the test mounts (root only; skipped
 * otherwise). Inserts go on until the file system is full: the failing call is a clear
 * VDB_EIO naming the lack of space, reads go on and see every acknowledged row, and once
 * space is freed writes work again; after a reopen every acknowledged row is there. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vdb/vdb.h>

#include "test_common.h"

#define DIM 64
#define ROWS 200
#define MAX_BATCHES 400

static char *mnt;

static int mount_small(void **state)
{
    (void)state;
    mnt = test_tmpdir("diskfull");
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=6m") != 0) {
        fprintf(stderr, "# cannot mount a tmpfs on %s (%s): needs root\n", mnt, strerror(errno));
        test_rmdir(mnt);
        free(mnt);
        mnt = NULL;
    }
    return 0;
}

static int unmount_small(void **state)
{
    (void)state;
    if (mnt) {
        umount2(mnt, MNT_DETACH);
        test_rmdir(mnt);
        free(mnt);
    }
    return 0;
}

static vdb_status insert_batch(vdb_db *db, int b)
{
    static int64_t ids[ROWS];
    static float vecs[ROWS * DIM];
    for (int i = 0; i < ROWS; i++) {
        ids[i] = (int64_t)b * ROWS + i;
        for (int d = 0; d < DIM; d++)
            vecs[i * DIM + d] = (float)((ids[i] * 7 + d) % 97) / 97.0f;
    }
    vdb_batch *batch = NULL;
    vdb_status st = vdb_batch_new(&batch);
    if (st == VDB_OK &&
        (st = vdb_batch_add_column(batch, "id", VDB_TYPE_INT64, ids, NULL, ROWS, 0)) == VDB_OK &&
        (st = vdb_batch_add_column(batch, "v", VDB_TYPE_FLOAT_VECTOR, vecs, NULL, ROWS, DIM)) ==
            VDB_OK)
        st = vdb_insert(db, "full", NULL, batch, NULL, NULL);
    vdb_batch_free(batch);
    return st;
}

static uint64_t count_rows(vdb_db *db)
{
    uint64_t n = 0;
    vdb_status st = vdb_count(db, "full", NULL, NULL, &n);
    if (st != VDB_OK)
        fail_msg("count on a full disk: %s: %s", vdb_status_name(st), vdb_errmsg(db));
    return n;
}

static void test_full_disk_fails_cleanly_and_recovers(void **state)
{
    (void)state;
    if (!mnt)
        skip();
    char path[4096], ballast[4096];
    snprintf(path, sizeof path, "%s/db", mnt);
    snprintf(ballast, sizeof ballast, "%s/ballast", mnt);
    /* 1 MiB the test frees later, so there is room to write again */
    int fd = open(ballast, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    static char mib[1 << 20];
    memset(mib, 1, sizeof mib);
    assert_int_equal(write(fd, mib, sizeof mib), (ssize_t)sizeof mib);
    close(fd);

    vdb_options o;
    vdb_options_init(&o);
    o.segment_max_rows = 2000;
    o.compaction_interval_ms = 0;
    vdb_db *db = NULL;
    assert_int_equal(vdb_open(path, &o, &db), VDB_OK);
    vdb_schema *s = NULL;
    assert_int_equal(vdb_schema_new("full", &s), VDB_OK);
    vdb_field_def id = {.struct_size = sizeof id, .name = "id", .type = VDB_TYPE_INT64,
                        .is_primary = 1};
    vdb_field_def v = {.struct_size = sizeof v, .name = "v", .type = VDB_TYPE_FLOAT_VECTOR,
                       .dim = DIM};
    assert_int_equal(vdb_schema_add_field(s, &id), VDB_OK);
    assert_int_equal(vdb_schema_add_field(s, &v), VDB_OK);
    assert_int_equal(vdb_create_collection(db, s), VDB_OK);
    vdb_schema_free(s);

    int acked = 0;
    vdb_status st = VDB_OK;
    for (; acked < MAX_BATCHES; acked++)
        if ((st = insert_batch(db, acked)) != VDB_OK)
            break;
    assert_true(acked < MAX_BATCHES); /* the disk did fill up */
    assert_int_not_equal(st, VDB_OK);
    const char *msg = vdb_errmsg(db);
    printf("# full after %d batches of %d rows: %s: %s\n", acked, ROWS, vdb_status_name(st),
           msg);
    assert_int_equal(st, VDB_EIO);
    assert_non_null(strstr(msg, "No space left on device"));
    /* reads go on, and see exactly what was acknowledged */
    assert_int_equal(count_rows(db), (uint64_t)acked * ROWS);
    /* a second write on the full disk fails the same clear way */
    st = insert_batch(db, acked);
    assert_int_not_equal(st, VDB_OK);
    assert_true(vdb_errmsg(db)[0] != 0);
    assert_int_equal(count_rows(db), (uint64_t)acked * ROWS);

    /* space freed: writes work again (the handle, or a reopen if it refuses until then) */
    assert_int_equal(unlink(ballast), 0);
    st = insert_batch(db, acked);
    if (st != VDB_OK) {
        printf("# after freeing space the handle refuses writes (%s: %s); reopening\n",
               vdb_status_name(st), vdb_errmsg(db));
        vdb_close(db);
        assert_int_equal(vdb_open(path, &o, &db), VDB_OK);
        assert_int_equal(count_rows(db), (uint64_t)acked * ROWS);
        st = insert_batch(db, acked);
    }
    if (st != VDB_OK)
        fail_msg("insert after freeing space: %s: %s", vdb_status_name(st), vdb_errmsg(db));
    acked++;
    assert_int_equal(count_rows(db), (uint64_t)acked * ROWS);
    vdb_close(db);

    assert_int_equal(vdb_open(path, &o, &db), VDB_OK);
    assert_int_equal(count_rows(db), (uint64_t)acked * ROWS);
    uint64_t problems = 0;
    assert_int_equal(vdb_check(db, NULL, NULL, &problems), VDB_OK);
    assert_int_equal(problems, 0);
    vdb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_disk_fails_cleanly_and_recovers, mount_small,
                                        unmount_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

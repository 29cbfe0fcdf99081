/* Tests of the local write-ahead log (lib/storage/wal*.c), each run on the io_uring and the pwrite
 * write path. */
#define _GNU_SOURCE
#include "test_common.h"

#include <dirent.h>
#include <fcntl.h>
#ifdef VDB_HAVE_URING
#include <liburing.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/log.h"
#include "storage/storage.h"
#include "storage/wal_internal.h"

static bool g_no_uring; /* the write path of the group being run */

typedef struct fixture {
    char *dir;
    char uri[4200];
    vdb_backend_options opt;
    void *wal;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->dir = test_tmpdir("wal");
    if (!f->dir) {
        free(f);
        return -1;
    }
    snprintf(f->uri, sizeof f->uri, "wal://%s/log", f->dir);
    f->opt.sync = VDB_SYNC_FULL;
    f->opt.sync_interval_ms = 100;
    f->opt.disable_io_uring = g_no_uring;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->wal)
        vdb_wal_backend.close(f->wal);
    vdb_wal_set_segment_bytes(0);
    vdb_wal_fault_write_after(0);
    test_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void wal_open(fixture *f)
{
    if (f->wal)
        vdb_wal_backend.close(f->wal);
    f->wal = NULL;
    vdb_status st = vdb_wal_backend.open(f->uri, &f->opt, &f->wal);
    if (st != VDB_OK)
        fail_msg("open %s: %s", f->uri, vdb_err_get());
}

/* Record i of a channel: deterministic bytes of a length that varies with i (0 included). */
static size_t make_rec(uint8_t *buf, size_t cap, const char *ch, uint64_t i)
{
    size_t len = (size_t)((i * 37) % 300);
    if (len > cap)
        len = cap;
    uint64_t s = i * 1000003u + (uint64_t)ch[0];
    for (size_t k = 0; k < len; k++)
        buf[k] = (uint8_t)test_rand(&s);
    return len;
}

static uint64_t append_rec(fixture *f, const char *ch, uint64_t i)
{
    uint8_t buf[300];
    size_t len = make_rec(buf, sizeof buf, ch, i);
    uint64_t pos = 0;
    vdb_status st = vdb_wal_backend.append(f->wal, ch, buf, len, &pos);
    if (st != VDB_OK)
        fail_msg("append %s #%llu: %s", ch, (unsigned long long)i, vdb_err_get());
    return pos;
}

/* Checks that read calls come in order with the records make_rec gives for each position. */
typedef struct checker {
    const char *ch;
    uint64_t expect; /* next position expected */
    uint64_t count;
    uint64_t stop_after; /* 0: never stop */
    bool bad;
} checker;

static int check_fn(void *arg, uint64_t pos, const void *rec, size_t len)
{
    checker *k = arg;
    uint8_t buf[300];
    size_t want = make_rec(buf, sizeof buf, k->ch, pos);
    if (pos != k->expect || len != want || memcmp(rec, buf, len) != 0)
        k->bad = true;
    k->expect = pos + 1;
    k->count++;
    return k->stop_after && k->count >= k->stop_after;
}

static checker read_all(fixture *f, const char *ch, uint64_t from, uint64_t first_expected)
{
    checker k = {.ch = ch, .expect = first_expected};
    vdb_status st = vdb_wal_backend.read(f->wal, ch, from, check_fn, &k);
    if (st != VDB_OK)
        fail_msg("read %s from %llu: %s", ch, (unsigned long long)from, vdb_err_get());
    return k;
}

static char *chan_file(fixture *f, const char *ch, uint64_t first)
{
    char *p = malloc(4400);
    snprintf(p, 4400, "%s/log/%s/%020llu.log", f->dir, ch, (unsigned long long)first);
    return p;
}

static int count_files(fixture *f, const char *ch)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/log/%s", f->dir, ch);
    DIR *d = opendir(p);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static off_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_write_path_is_the_one_asked_for(void **state)
{
    fixture *f = *state;
    wal_open(f);
    if (g_no_uring) {
        assert_string_equal(vdb_wal_write_path(f->wal), "pwrite");
        return;
    }
    /* io_uring when the build has it and the kernel allows it (qemu-user has none) */
    bool have = false;
#ifdef VDB_HAVE_URING
    struct io_uring ring;
    have = io_uring_queue_init(4, &ring, 0) == 0;
    if (have)
        io_uring_queue_exit(&ring);
#endif
    assert_string_equal(vdb_wal_write_path(f->wal), have ? "io_uring" : "pwrite");
}

static void test_append_gives_positions_from_one_and_read_returns_them_in_order(void **state)
{
    fixture *f = *state;
    wal_open(f);
    for (uint64_t i = 1; i <= 200; i++)
        assert_int_equal(append_rec(f, "ch", i), i);
    checker k = read_all(f, "ch", 1, 1);
    assert_false(k.bad);
    assert_int_equal(k.count, 200);
    /* The first file is named by position 1 and holds exactly the framed records. */
    char *p = chan_file(f, "ch", 1);
    off_t want = 0;
    uint8_t buf[300];
    for (uint64_t i = 1; i <= 200; i++)
        want += WAL_FRAME_HEADER + (off_t)make_rec(buf, sizeof buf, "ch", i);
    assert_int_equal(file_size(p), want);
    free(p);
}

static void test_read_from_the_middle_starts_at_that_position(void **state)
{
    fixture *f = *state;
    wal_open(f);
    for (uint64_t i = 1; i <= 100; i++)
        append_rec(f, "ch", i);
    checker k = read_all(f, "ch", 50, 50);
    assert_false(k.bad);
    assert_int_equal(k.count, 51);
    k = read_all(f, "ch", 0, 1);
    assert_int_equal(k.count, 100);
    k = read_all(f, "ch", 100, 100);
    assert_int_equal(k.count, 1);
    k = read_all(f, "ch", 101, 101);
    assert_int_equal(k.count, 0);
    /* A callback that returns non-zero stops the read without an error. */
    checker s = {.ch = "ch", .expect = 10, .stop_after = 5};
    assert_int_equal(vdb_wal_backend.read(f->wal, "ch", 10, check_fn, &s), VDB_OK);
    assert_int_equal(s.count, 5);
    assert_false(s.bad);
}

static void test_read_of_a_channel_never_written_is_empty(void **state)
{
    fixture *f = *state;
    wal_open(f);
    checker k = read_all(f, "nothing", 1, 1);
    assert_int_equal(k.count, 0);
    assert_int_equal(count_files(f, "nothing"), -1); /* reading created no folder */
    assert_int_equal(vdb_wal_backend.truncate(f->wal, "nothing", 10), VDB_OK);
}

static void test_many_channels_each_count_their_own_positions(void **state)
{
    fixture *f = *state;
    wal_open(f);
    char name[32];
    for (int round = 1; round <= 5; round++) {
        for (int c = 0; c < 60; c++) {
            snprintf(name, sizeof name, "shard_%d", c);
            for (int j = 0; j < c % 3 + 1; j++) {
                uint64_t expect = (uint64_t)(round - 1) * (uint64_t)(c % 3 + 1) + (uint64_t)j + 1;
                assert_int_equal(append_rec(f, name, expect), expect);
            }
        }
    }
    wal_open(f); /* reopen: every channel comes back */
    for (int c = 0; c < 60; c++) {
        snprintf(name, sizeof name, "shard_%d", c);
        checker k = read_all(f, name, 1, 1);
        assert_false(k.bad);
        assert_int_equal(k.count, 5 * (c % 3 + 1));
    }
}

static void test_reopen_keeps_records_and_continues_positions(void **state)
{
    fixture *f = *state;
    wal_open(f);
    for (uint64_t i = 1; i <= 30; i++)
        append_rec(f, "a", i);
    wal_open(f);
    checker k = read_all(f, "a", 1, 1);
    assert_false(k.bad);
    assert_int_equal(k.count, 30);
    assert_int_equal(append_rec(f, "a", 31), 31);
    wal_open(f);
    assert_int_equal(append_rec(f, "a", 32), 32);
    k = read_all(f, "a", 1, 1);
    assert_false(k.bad);
    assert_int_equal(k.count, 32);
}

#define THREADS 4
#define PER_THREAD 300

typedef struct appender {
    fixture *f;
    int id;
    uint64_t pos[PER_THREAD];
    vdb_status st;
} appender;

static void *append_main(void *arg)
{
    appender *a = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        uint32_t rec[16];
        for (int k = 0; k < 16; k++)
            rec[k] = (uint32_t)(a->id * 1000000 + i * 16 + k);
        vdb_status st = vdb_wal_backend.append(a->f->wal, "shared", rec,
                                               sizeof(uint32_t) * (size_t)(1 + i % 16),
                                               &a->pos[i]);
        if (st != VDB_OK) {
            a->st = st;
            return NULL;
        }
    }
    return NULL;
}

typedef struct collected {
    uint64_t n;
    uint64_t last_pos;
    int last_seq[THREADS];
    bool bad;
} collected;

static int collect_fn(void *arg, uint64_t pos, const void *rec, size_t len)
{
    collected *c = arg;
    uint32_t v[16];
    if (len < 4 || len > sizeof v || len % 4 || pos != c->last_pos + 1) {
        c->bad = true;
        return 1;
    }
    memcpy(v, rec, len);
    int id = (int)(v[0] / 1000000), seq = (int)(v[0] % 1000000) / 16;
    if (id < 0 || id >= THREADS || len != 4 * (size_t)(1 + seq % 16) || seq <= c->last_seq[id])
        c->bad = true;
    for (size_t k = 0; k < len / 4; k++)
        if (v[k] != (uint32_t)(id * 1000000 + seq * 16 + (int)k))
            c->bad = true;
    c->last_seq[id] = seq;
    c->last_pos = pos;
    c->n++;
    return 0;
}

static void test_concurrent_appenders_get_distinct_positions_and_intact_records(void **state)
{
    fixture *f = *state;
    wal_open(f);
    appender a[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].f = f;
        a[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, append_main, &a[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].st, VDB_OK);
    }
    /* Every position 1..N handed out exactly once, and increasing within each thread. */
    uint8_t *seen = calloc(THREADS * PER_THREAD + 1, 1);
    for (int i = 0; i < THREADS; i++) {
        for (int j = 0; j < PER_THREAD; j++) {
            uint64_t p = a[i].pos[j];
            assert_true(p >= 1 && p <= THREADS * PER_THREAD);
            assert_int_equal(seen[p], 0);
            seen[p] = 1;
            if (j)
                assert_true(p > a[i].pos[j - 1]);
        }
    }
    free(seen);
    wal_open(f);
    collected c = {0};
    for (int i = 0; i < THREADS; i++)
        c.last_seq[i] = -1;
    assert_int_equal(vdb_wal_backend.read(f->wal, "shared", 1, collect_fn, &c), VDB_OK);
    assert_false(c.bad);
    assert_int_equal(c.n, THREADS * PER_THREAD);
}

typedef struct reader_arg {
    fixture *f;
    int stop;
    int reads;
    bool bad;
    vdb_status st;
} reader_arg;

static void *read_main(void *arg)
{
    reader_arg *r = arg;
    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        collected c = {0};
        for (int i = 0; i < THREADS; i++)
            c.last_seq[i] = -1;
        vdb_status st = vdb_wal_backend.read(r->f->wal, "shared", 1, collect_fn, &c);
        if (st != VDB_OK) {
            r->st = st;
            return NULL;
        }
        r->bad |= c.bad;
        r->reads++;
    }
    return NULL;
}

static void test_read_during_concurrent_appends_sees_an_intact_prefix(void **state)
{
    fixture *f = *state;
    vdb_wal_set_segment_bytes(8192); /* rolls happen while the reader runs */
    wal_open(f);
    reader_arg r = {.f = f};
    pthread_t rt, t[2];
    appender a[2];
    assert_int_equal(pthread_create(&rt, NULL, read_main, &r), 0);
    for (int i = 0; i < 2; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].f = f;
        a[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, append_main, &a[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].st, VDB_OK);
    }
    __atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
    pthread_join(rt, NULL);
    assert_int_equal(r.st, VDB_OK);
    assert_false(r.bad);
    assert_true(r.reads > 0);
}

static void test_torn_tail_is_cut_and_next_append_continues(void **state)
{
    fixture *f = *state;
    wal_open(f);
    for (uint64_t i = 1; i <= 10; i++)
        append_rec(f, "t", i);
    vdb_wal_backend.close(f->wal);
    f->wal = NULL;
    char *p = chan_file(f, "t", 1);
    off_t size = file_size(p);
    uint8_t buf[300];
    off_t last = WAL_FRAME_HEADER + (off_t)make_rec(buf, sizeof buf, "t", 10);
    assert_int_equal(truncate(p, size - 3), 0); /* chop part of record 10 */
    wal_open(f);
    checker k = read_all(f, "t", 1, 1); /* first use of the channel scans its tail */
    assert_false(k.bad);
    assert_int_equal(k.count, 9);
    assert_int_equal(file_size(p), size - last); /* cut back to the end of record 9 */
    assert_int_equal(append_rec(f, "t", 10), 10);
    assert_int_equal(file_size(p), size);
    vdb_wal_backend.close(f->wal);
    f->wal = NULL;

    /* Garbage after the last whole frame, as a crash mid-write leaves it. */
    FILE *fp = fopen(p, "ab");
    assert_non_null(fp);
    fwrite("\x07\x00\x00\x00garbage-garbage", 1, 19, fp);
    fclose(fp);
    wal_open(f);
    k = read_all(f, "t", 1, 1);
    assert_false(k.bad);
    assert_int_equal(k.count, 10);
    assert_int_equal(file_size(p), size);
    assert_int_equal(append_rec(f, "t", 11), 11);
    free(p);
}

static void test_corrupt_tail_record_is_cut_on_reopen(void **state)
{
    fixture *f = *state;
    wal_open(f);
    for (uint64_t i = 1; i <= 5; i++)
        append_rec(f, "c", i);
    vdb_wal_backend.close(f->wal);
    f->wal = NULL;
    char *p = chan_file(f, "c", 1);
    off_t size = file_size(p);
    uint8_t buf[300];
    off_t last = WAL_FRAME_HEADER + (off_t)make_rec(buf, sizeof buf, "c", 5);
    /* Flip the last byte: record 5 fails its checksum, so it was never acknowledged. */
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, size - 1), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, size - 1), 1);
    close(fd);
    wal_open(f);
    checker k = read_all(f, "c", 1, 1);
    assert_false(k.bad);
    assert_int_equal(k.count, 4);
    assert_int_equal(file_size(p), size - last);
    assert_int_equal(append_rec(f, "c", 5), 5);
    free(p);
}

static void test_corrupt_byte_in_a_non_tail_file_makes_read_fail_with_ecorrupt(void **state)
{
    fixture *f = *state;
    vdb_wal_set_segment_bytes(2048);
    wal_open(f);
    for (uint64_t i = 1; i <= 60; i++)
        append_rec(f, "x", i);
    assert_true(count_files(f, "x") >= 3);
    vdb_wal_backend.close(f->wal);
    f->wal = NULL;
    char *p = chan_file(f, "x", 1);
    off_t size = file_size(p);
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, size / 2), 1);
    b ^= 0xff;
    assert_int_equal(pwrite(fd, &b, 1, size / 2), 1);
    close(fd);
    wal_open(f); /* only the last file is checked on open */
    checker k = {.ch = "x", .expect = 1};
    assert_int_equal(vdb_wal_backend.read(f->wal, "x", 1, check_fn, &k), VDB_ECORRUPT);
    assert_non_null(strstr(vdb_err_get(), "00000000000000000001.log"));
    assert_non_null(strstr(vdb_err_get(), "offset"));
    assert_int_equal(file_size(p), size); /* nothing was cut from a non-tail file */
    /* Records after the damaged file are still there to read, and appends go on. */
    uint64_t pos = append_rec(f, "x", 61);
    assert_int_equal(pos, 61);
    checker tail = read_all(f, "x", 61, 61);
    assert_int_equal(tail.count, 1);
    free(p);
}

static int count_fn(void *arg, uint64_t pos, const void *rec, size_t len)
{
    uint64_t *v = arg; /* v[0] count, v[1] first pos, v[2] last pos */
    if (v[0] == 0)
        v[1] = pos;
    v[2] = pos;
    v[0]++;
    (void)rec;
    (void)len;
    return 0;
}

static void test_rolling_starts_a_file_named_by_its_first_position(void **state)
{
    fixture *f = *state;
    vdb_wal_set_segment_bytes(1000);
    wal_open(f);
    /* Frames of 16 + 300 bytes: three fit in 1000 bytes, the fourth rolls. */
    uint8_t big[300];
    memset(big, 0xab, sizeof big);
    uint64_t pos;
    for (int i = 0; i < 7; i++)
        assert_int_equal(vdb_wal_backend.append(f->wal, "r", big, sizeof big, &pos), VDB_OK);
    char *p1 = chan_file(f, "r", 1), *p4 = chan_file(f, "r", 4), *p7 = chan_file(f, "r", 7);
    assert_int_equal(file_size(p1), 3 * 316);
    assert_int_equal(file_size(p4), 3 * 316);
    assert_int_equal(file_size(p7), 316);
    assert_int_equal(count_files(f, "r"), 3);
    /* A record bigger than a segment gets a file of its own. */
    uint8_t *huge = calloc(1, 5000);
    assert_int_equal(vdb_wal_backend.append(f->wal, "r", huge, 5000, &pos), VDB_OK);
    assert_int_equal(pos, 8);
    char *p8 = chan_file(f, "r", 8);
    assert_int_equal(file_size(p8), 5016);
    assert_int_equal(vdb_wal_backend.append(f->wal, "r", big, 10, &pos), VDB_OK);
    assert_int_equal(pos, 9);
    wal_open(f);
    assert_int_equal(vdb_wal_backend.append(f->wal, "r", big, 10, &pos), VDB_OK);
    assert_int_equal(pos, 10);
    uint64_t v[3] = {0};
    assert_int_equal(vdb_wal_backend.read(f->wal, "r", 1, count_fn, v), VDB_OK);
    assert_int_equal(v[0], 10);
    assert_int_equal(v[1], 1);
    assert_int_equal(v[2], 10);
    free(huge);
    free(p1);
    free(p4);
    free(p7);
    free(p8);
}

static void test_rolled_files_read_back_across_boundaries(void **state)
{
    fixture *f = *state;
    vdb_wal_set_segment_bytes(1500);
    wal_open(f);
    for (uint64_t i = 1; i <= 100; i++)
        append_rec(f, "b", i);
    assert_true(count_files(f, "b") > 5);
    for (uint64_t from = 1; from <= 101; from += 7) {
        checker k = read_all(f, "b", from, from);
        assert_false(k.bad);
        assert_int_equal(k.count, 101 - from);
    }
    wal_open(f);
    checker k = read_all(f, "b", 1, 1);
    assert_int_equal(k.count, 100);
}

static void test_truncate_removes_old_files_and_keeps_later_records(void **state)
{
    fixture *f = *state;
    vdb_wal_set_segment_bytes(1000);
    wal_open(f);
    uint8_t rec[300];
    uint64_t pos;
    memset(rec, 1, sizeof rec);
    for (int i = 0; i < 30; i++) /* three per file: files 1, 4, 7, ..., 28 */
        assert_int_equal(vdb_wal_backend.append(f->wal, "tr", rec, sizeof rec, &pos), VDB_OK);
    assert_int_equal(count_files(f, "tr"), 10);
    /* upto 11: files 1..3, 4..6 and 7..9 hold only positions below 11; 10..12 does not. */
    assert_int_equal(vdb_wal_backend.truncate(f->wal, "tr", 11), VDB_OK);
    assert_int_equal(count_files(f, "tr"), 7);
    char *gone = chan_file(f, "tr", 7), *kept = chan_file(f, "tr", 10);
    assert_int_equal(file_size(gone), -1);
    assert_int_equal(file_size(kept), 3 * 316);
    uint64_t v[3] = {0};
    assert_int_equal(vdb_wal_backend.read(f->wal, "tr", 1, count_fn, v), VDB_OK);
    assert_int_equal(v[0], 21);
    assert_int_equal(v[1], 10);
    assert_int_equal(v[2], 30);
    /* The file being appended to is never removed, whatever upto says. */
    assert_int_equal(vdb_wal_backend.truncate(f->wal, "tr", 1000), VDB_OK);
    assert_int_equal(count_files(f, "tr"), 1);
    assert_int_equal(vdb_wal_backend.append(f->wal, "tr", rec, 10, &pos), VDB_OK);
    assert_int_equal(pos, 31);
    wal_open(f);
    assert_int_equal(vdb_wal_backend.append(f->wal, "tr", rec, 10, &pos), VDB_OK);
    assert_int_equal(pos, 32);
    memset(v, 0, sizeof v);
    assert_int_equal(vdb_wal_backend.read(f->wal, "tr", 1, count_fn, v), VDB_OK);
    assert_int_equal(v[0], 5);
    assert_int_equal(v[1], 28);
    assert_int_equal(v[2], 32);
    free(gone);
    free(kept);
}

static void test_invalid_channel_names_are_einval(void **state)
{
    fixture *f = *state;
    wal_open(f);
    char long_name[130];
    memset(long_name, 'a', 129);
    long_name[129] = 0;
    const char *bad[] = {"", "a/b", "..", ".", "a b", "ü", "x\n", long_name, "a:b"};
    uint64_t pos;
    checker k = {.ch = "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vdb_wal_backend.append(f->wal, bad[i], "r", 1, &pos), VDB_EINVAL);
        assert_true(strlen(vdb_err_get()) > 0);
        assert_int_equal(vdb_wal_backend.read(f->wal, bad[i], 1, check_fn, &k), VDB_EINVAL);
        assert_int_equal(vdb_wal_backend.truncate(f->wal, bad[i], 1), VDB_EINVAL);
        assert_int_equal(vdb_wal_backend.drop(f->wal, bad[i]), VDB_EINVAL);
    }
    assert_int_equal(vdb_wal_backend.append(f->wal, NULL, "r", 1, &pos), VDB_EINVAL);
    long_name[128] = 0; /* 128 characters is allowed */
    assert_int_equal(vdb_wal_backend.append(f->wal, long_name, "r", 1, &pos), VDB_OK);
    assert_int_equal(vdb_wal_backend.append(f->wal, "Az09_.-x", "r", 1, &pos), VDB_OK);
    assert_int_equal(pos, 1);
}

static void test_invalid_uri_and_oversized_record_are_einval(void **state)
{
    fixture *f = *state;
    void *w = NULL;
    assert_int_equal(vdb_wal_backend.open("file:///tmp/x", NULL, &w), VDB_EINVAL);
    assert_int_equal(vdb_wal_backend.open("wal://", NULL, &w), VDB_EINVAL);
    assert_int_equal(vdb_wal_backend.open("wal:/x", NULL, &w), VDB_EINVAL);
    assert_null(w);
    /* NULL options: FULL sync; the folder is created. */
    assert_int_equal(vdb_wal_backend.open(f->uri, NULL, &f->wal), VDB_OK);
    uint64_t pos = 0;
    uint8_t small[4] = {1, 2, 3, 4};
    assert_int_equal(vdb_wal_backend.append(f->wal, "c", small, ((size_t)1 << 30) + 1, &pos),
                     VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "1 GiB"));
    assert_int_equal(vdb_wal_backend.append(f->wal, "c", small, 4, &pos), VDB_OK);
    assert_int_equal(pos, 1);
}

static void sync_mode_round_trip(fixture *f, vdb_sync_mode mode)
{
    f->opt.sync = mode;
    f->opt.sync_interval_ms = 5;
    wal_open(f);
    for (uint64_t i = 1; i <= 50; i++)
        assert_int_equal(append_rec(f, "s", i), i);
    /* Concurrent appenders work the same way without a per-batch sync. */
    appender a[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].f = f;
        a[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, append_main, &a[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].st, VDB_OK);
    }
    checker k = read_all(f, "s", 1, 1);
    assert_false(k.bad);
    assert_int_equal(k.count, 50);
    wal_open(f);
    k = read_all(f, "s", 1, 1);
    assert_int_equal(k.count, 50);
    assert_int_equal(append_rec(f, "s", 51), 51);
    collected c = {0};
    for (int i = 0; i < THREADS; i++)
        c.last_seq[i] = -1;
    assert_int_equal(vdb_wal_backend.read(f->wal, "shared", 1, collect_fn, &c), VDB_OK);
    assert_false(c.bad);
    assert_int_equal(c.n, 2 * PER_THREAD);
}

static void test_sync_off_appends_and_reads_back(void **state)
{
    sync_mode_round_trip(*state, VDB_SYNC_OFF);
}

static void test_sync_batch_appends_and_reads_back(void **state)
{
    sync_mode_round_trip(*state, VDB_SYNC_BATCH);
}

static void test_failed_write_is_eio_and_cut_back_so_next_append_is_clean(void **state)
{
    fixture *f = *state;
    wal_open(f);
    for (uint64_t i = 1; i <= 3; i++)
        append_rec(f, "e", i);
    char *p = chan_file(f, "e", 1);
    off_t size = file_size(p);
    vdb_wal_fault_write_after(1);
    uint8_t buf[300];
    size_t len = make_rec(buf, sizeof buf, "e", 4);
    uint64_t pos = 0;
    assert_int_equal(vdb_wal_backend.append(f->wal, "e", buf, len, &pos), VDB_EIO);
    assert_non_null(strstr(vdb_err_get(), "injected"));
    assert_int_equal(file_size(p), size); /* the partial frame is gone */
    assert_int_equal(append_rec(f, "e", 4), 4);
    assert_int_equal(append_rec(f, "e", 5), 5);
    checker k = read_all(f, "e", 1, 1);
    assert_false(k.bad);
    assert_int_equal(k.count, 5);
    wal_open(f);
    k = read_all(f, "e", 1, 1);
    assert_false(k.bad);
    assert_int_equal(k.count, 5);
    free(p);
}

static void test_drop_removes_the_channel_and_positions_restart(void **state)
{
    fixture *f = *state;
    wal_open(f);
    for (uint64_t i = 1; i <= 5; i++)
        append_rec(f, "d", i);
    append_rec(f, "other", 1);
    assert_int_equal(vdb_wal_backend.drop(f->wal, "d"), VDB_OK);
    assert_int_equal(count_files(f, "d"), -1);
    checker k = read_all(f, "d", 1, 1);
    assert_int_equal(k.count, 0);
    assert_int_equal(append_rec(f, "d", 1), 1);
    assert_int_equal(vdb_wal_backend.drop(f->wal, "never_there"), VDB_OK);
    k = read_all(f, "other", 1, 1);
    assert_int_equal(k.count, 1);
    wal_open(f);
    k = read_all(f, "d", 1, 1);
    assert_int_equal(k.count, 1);
}

#define WAL_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static const struct CMUnitTest tests[] = {
    WAL_TEST(test_write_path_is_the_one_asked_for),
    WAL_TEST(test_append_gives_positions_from_one_and_read_returns_them_in_order),
    WAL_TEST(test_read_from_the_middle_starts_at_that_position),
    WAL_TEST(test_read_of_a_channel_never_written_is_empty),
    WAL_TEST(test_many_channels_each_count_their_own_positions),
    WAL_TEST(test_reopen_keeps_records_and_continues_positions),
    WAL_TEST(test_concurrent_appenders_get_distinct_positions_and_intact_records),
    WAL_TEST(test_read_during_concurrent_appends_sees_an_intact_prefix),
    WAL_TEST(test_torn_tail_is_cut_and_next_append_continues),
    WAL_TEST(test_corrupt_tail_record_is_cut_on_reopen),
    WAL_TEST(test_corrupt_byte_in_a_non_tail_file_makes_read_fail_with_ecorrupt),
    WAL_TEST(test_rolling_starts_a_file_named_by_its_first_position),
    WAL_TEST(test_rolled_files_read_back_across_boundaries),
    WAL_TEST(test_truncate_removes_old_files_and_keeps_later_records),
    WAL_TEST(test_invalid_channel_names_are_einval),
    WAL_TEST(test_invalid_uri_and_oversized_record_are_einval),
    WAL_TEST(test_sync_off_appends_and_reads_back),
    WAL_TEST(test_sync_batch_appends_and_reads_back),
    WAL_TEST(test_failed_write_is_eio_and_cut_back_so_next_append_is_clean),
    WAL_TEST(test_drop_removes_the_channel_and_positions_restart),
};

static int use_uring(void **state)
{
    (void)state;
    g_no_uring = false;
    return 0;
}

static int use_pwrite(void **state)
{
    (void)state;
    g_no_uring = true;
    return 0;
}

int main(void)
{
    int failed = cmocka_run_group_tests_name("wal_io_uring", tests, use_uring, NULL);
    failed += cmocka_run_group_tests_name("wal_pwrite", tests, use_pwrite, NULL);
    return failed;
}

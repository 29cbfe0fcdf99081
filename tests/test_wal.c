/* Tests of the local write-ahead log (lib/storage/wal*.c), each run on the io_uring and the pwrite
 * write path: appends, reads, recovery, truncation, and subscriptions of the writer's instance
 * and of read_only followers (the conformance suite covers what every log backend shares). */
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
    vdb_wal_set_follower_recheck_ms(0);
    vdb_wal_set_marker_read_only(false);
    test_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void wal_reopen(fixture *f)
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

/* The segment files of a channel (its folder also holds the commit marker). */
static int count_files(fixture *f, const char *ch)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/log/%s", f->dir, ch);
    DIR *d = opendir(p);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        n += len > 4 && !strcmp(e->d_name + len - 4, ".log");
    }
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
    wal_reopen(f);
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
    wal_reopen(f);
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
    wal_reopen(f);
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
    wal_reopen(f);
    checker k = read_all(f, "nothing", 1, 1);
    assert_int_equal(k.count, 0);
    assert_int_equal(count_files(f, "nothing"), -1); /* reading created no folder */
    assert_int_equal(vdb_wal_backend.truncate(f->wal, "nothing", 10), VDB_OK);
}

static void test_many_channels_each_count_their_own_positions(void **state)
{
    fixture *f = *state;
    wal_reopen(f);
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
    wal_reopen(f); /* reopen: every channel comes back */
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
    wal_reopen(f);
    for (uint64_t i = 1; i <= 30; i++)
        append_rec(f, "a", i);
    wal_reopen(f);
    checker k = read_all(f, "a", 1, 1);
    assert_false(k.bad);
    assert_int_equal(k.count, 30);
    assert_int_equal(append_rec(f, "a", 31), 31);
    wal_reopen(f);
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
    wal_reopen(f);
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
    wal_reopen(f);
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
    wal_reopen(f);
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

/* Appends to file p what a crash in the middle of writing record pos of channel ch leaves:
 * its header and the first keep bytes of its payload (a short tail), or, when zero_to is not
 * 0, the whole frame with every byte from file offset zero_to on zeroed (sectors that never
 * reached the disk). */
static void write_torn_frame(fixture *f, const char *p, const char *ch, uint64_t pos,
                             size_t keep, off_t zero_to)
{
    (void)f;
    uint8_t rec[300], frame[WAL_FRAME_HEADER + 300];
    size_t len = make_rec(rec, sizeof rec, ch, pos);
    wal_frame_header(frame, pos, rec, len);
    memcpy(frame + WAL_FRAME_HEADER, rec, len);
    off_t at = file_size(p);
    size_t n = WAL_FRAME_HEADER + (zero_to ? len : keep);
    if (zero_to)
        for (size_t i = 0; i < n; i++)
            if (at + (off_t)i >= zero_to)
                frame[i] = 0;
    int fd = open(p, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, frame, n, at), (ssize_t)n);
    close(fd);
}

static uint64_t torn_tails(fixture *f, const char *ch)
{
    uint64_t n = 99;
    assert_int_equal(vdb_wal_torn_tails(f->wal, ch, &n), VDB_OK);
    return n;
}

static void flip_byte(const char *p, off_t at, uint8_t mask)
{
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= mask;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

static void remove_marker(fixture *f, const char *ch)
{
    char m[4400];
    snprintf(m, sizeof m, "%s/log/%s/%s", f->dir, ch, WAL_MARK_NAME);
    assert_int_equal(unlink(m), 0);
}

static void test_torn_tail_is_cut_and_next_append_continues(void **state)
{
    fixture *f = *state;
    wal_reopen(f);
    for (uint64_t i = 1; i <= 10; i++)
        append_rec(f, "t", i);
    vdb_wal_backend.close(f->wal);
    f->wal = NULL;
    char *p = chan_file(f, "t", 1);
    off_t size = file_size(p);
    /* Record 11 was being written when the process died: its header and part of its payload
     * are there. It was never acknowledged, so it is cut, and the open counts the cut. */
    write_torn_frame(f, p, "t", 11, 100, 0);
    off_t torn = file_size(p);
    wal_reopen(f);
    checker k = read_all(f, "t", 1, 1); /* first use of the channel scans its tail */
    assert_false(k.bad);
    assert_int_equal(k.count, 10);
    assert_int_equal(torn_tails(f, "t"), 1);
    assert_int_equal(file_size(p), torn); /* the file is cut only before the next append */
    assert_int_equal(append_rec(f, "t", 11), 11);
    uint8_t r11[300];
    assert_int_equal(file_size(p), size + WAL_FRAME_HEADER +
                                       (off_t)make_rec(r11, sizeof r11, "t", 11));
    vdb_wal_backend.close(f->wal);
    f->wal = NULL;
    size = file_size(p);

    /* Garbage after the last whole frame, shorter than the frame its first bytes claim. */
    FILE *fp = fopen(p, "ab");
    assert_non_null(fp);
    fwrite("\x07\x00\x00\x00garbage-garbage", 1, 19, fp);
    fclose(fp);
    wal_reopen(f);
    k = read_all(f, "t", 1, 1);
    assert_false(k.bad);
    assert_int_equal(k.count, 11);
    assert_int_equal(torn_tails(f, "t"), 1);
    assert_int_equal(append_rec(f, "t", 12), 12);
    vdb_wal_backend.close(f->wal);
    f->wal = NULL;
    size = file_size(p);

    /* A whole frame of record 13 whose bytes from a 512-byte boundary on read as zero: the
     * file grew but its last sectors never reached the disk. A torn write, cut. */
    off_t zero_to = (size + WAL_FRAME_HEADER + 511) / 512 * 512;
    write_torn_frame(f, p, "t", 13, 0, zero_to);
    uint8_t rec[300];
    if (zero_to >= size + WAL_FRAME_HEADER + (off_t)make_rec(rec, sizeof rec, "t", 13))
        write_torn_frame(f, p, "t", 13, 0, size + WAL_FRAME_HEADER); /* not past its end */
    wal_reopen(f);
    k = read_all(f, "t", 1, 1);
    assert_false(k.bad);
    assert_int_equal(k.count, 12);
    assert_int_equal(torn_tails(f, "t"), 1);
    assert_int_equal(append_rec(f, "t", 13), 13);
    /* Every cut went before the append after it: nothing is left to cut. */
    wal_reopen(f);
    k = read_all(f, "t", 1, 1);
    assert_false(k.bad);
    assert_int_equal(k.count, 13);
    assert_int_equal(torn_tails(f, "t"), 0);
    free(p);
}

/* Issue 13, case 4: one flipped bit in the last frame of a channel is damage to an
 * acknowledged record, not a torn write: VDB_ECORRUPT naming the file, and nothing is cut. */
static void test_flipped_bit_in_the_last_frame_is_ecorrupt_not_a_torn_tail(void **state)
{
    fixture *f = *state;
    char *p = chan_file(f, "c", 1);
    for (int round = 0; round < 2; round++) {
        /* round 1: without COMMIT, the frame rule alone (a whole frame that fails its
         * checksum is damage) */
        test_rmdir(f->dir);
        assert_int_equal(mkdir(f->dir, 0755), 0);
        wal_reopen(f);
        for (uint64_t i = 1; i <= 5; i++)
            append_rec(f, "c", i);
        vdb_wal_backend.close(f->wal);
        f->wal = NULL;
        off_t size = file_size(p);
        flip_byte(p, size - 1, 0x01);
        if (round == 1)
            remove_marker(f, "c");
        wal_reopen(f);
        checker k = {.ch = "c", .expect = 1};
        assert_int_equal(vdb_wal_backend.read(f->wal, "c", 1, check_fn, &k), VDB_ECORRUPT);
        assert_non_null(strstr(vdb_err_get(), "00000000000000000001.log"));
        assert_non_null(strstr(vdb_err_get(), "corrupt"));
        uint64_t pos;
        assert_int_equal(vdb_wal_backend.append(f->wal, "c", "x", 1, &pos), VDB_ECORRUPT);
        assert_int_equal(file_size(p), size); /* nothing was cut */
    }
    /* A flip in the header's position: the frame is all there, so it is damage too. */
    test_rmdir(f->dir);
    assert_int_equal(mkdir(f->dir, 0755), 0);
    wal_reopen(f);
    for (uint64_t i = 1; i <= 5; i++)
        append_rec(f, "c", i);
    vdb_wal_backend.close(f->wal);
    f->wal = NULL;
    uint8_t buf[300];
    off_t last = WAL_FRAME_HEADER + (off_t)make_rec(buf, sizeof buf, "c", 5);
    flip_byte(p, file_size(p) - last + 8, 0x01);
    remove_marker(f, "c");
    wal_reopen(f);
    checker k = {.ch = "c", .expect = 1};
    assert_int_equal(vdb_wal_backend.read(f->wal, "c", 1, check_fn, &k), VDB_ECORRUPT);
    assert_non_null(strstr(vdb_err_get(), "00000000000000000001.log"));
    free(p);
}

/* Issue 13, case 3: a channel's file cut short, or removed, loses acknowledged records; the
 * marker's bounds make that VDB_ECORRUPT naming the file. Positions never start over. */
static void test_truncated_or_removed_channel_file_is_ecorrupt(void **state)
{
    fixture *f = *state;
    char *p = chan_file(f, "t", 1);
    uint8_t buf[300];
    off_t last = WAL_FRAME_HEADER + (off_t)make_rec(buf, sizeof buf, "t", 10);
    for (int kind = 0; kind < 4; kind++) {
        test_rmdir(f->dir);
        assert_int_equal(mkdir(f->dir, 0755), 0);
        f->opt.sync = kind == 3 ? VDB_SYNC_BATCH : VDB_SYNC_FULL;
        wal_reopen(f);
        for (uint64_t i = 1; i <= 10; i++)
            append_rec(f, "t", i);
        vdb_wal_backend.close(f->wal);
        f->wal = NULL;
        off_t size = file_size(p);
        if (kind == 0 || kind == 3)
            assert_int_equal(truncate(p, size - 3), 0); /* inside record 10 */
        else if (kind == 1)
            assert_int_equal(truncate(p, size - last), 0); /* at a frame boundary */
        else
            assert_int_equal(unlink(p), 0);
        wal_reopen(f);
        checker k = {.ch = "t", .expect = 1};
        assert_int_equal(vdb_wal_backend.read(f->wal, "t", 1, check_fn, &k), VDB_ECORRUPT);
        assert_non_null(strstr(vdb_err_get(), "00000000000000000001.log"));
        uint64_t pos = 0, lp = 0;
        assert_int_equal(vdb_wal_backend.append(f->wal, "t", "x", 1, &pos), VDB_ECORRUPT);
        assert_int_equal(vdb_wal_backend.last_pos(f->wal, "t", &lp), VDB_ECORRUPT);
    }
    f->opt.sync = VDB_SYNC_FULL;
    /* Without COMMIT a file cut inside its last frame looks like a torn write (the case the
     * rule cannot tell apart): it is cut, and counted. */
    test_rmdir(f->dir);
    assert_int_equal(mkdir(f->dir, 0755), 0);
    wal_reopen(f);
    for (uint64_t i = 1; i <= 10; i++)
        append_rec(f, "t", i);
    vdb_wal_backend.close(f->wal);
    f->wal = NULL;
    off_t size = file_size(p);
    assert_int_equal(truncate(p, size - 3), 0);
    remove_marker(f, "t");
    wal_reopen(f);
    checker k = read_all(f, "t", 1, 1);
    assert_int_equal(k.count, 9);
    assert_int_equal(torn_tails(f, "t"), 1);
    free(p);
}

/* A file missing at the start, after truncate removed the ones before it, or in the middle. */
static void test_missing_first_or_middle_file_is_ecorrupt(void **state)
{
    fixture *f = *state;
    vdb_wal_set_segment_bytes(2048);
    wal_reopen(f);
    for (uint64_t i = 1; i <= 80; i++)
        append_rec(f, "m", i);
    uint64_t *segs;
    size_t n;
    char dir[4400];
    snprintf(dir, sizeof dir, "%s/log/m", f->dir);
    assert_int_equal(wal_seg_list(dir, &segs, &n), VDB_OK);
    assert_true(n >= 4);
    /* Drop the first file (truncate up to the second file's first position). */
    assert_int_equal(vdb_wal_backend.truncate(f->wal, "m", segs[1]), VDB_OK);
    vdb_wal_backend.close(f->wal);
    f->wal = NULL;
    char *p1 = chan_file(f, "m", segs[1]), *p2 = chan_file(f, "m", segs[2]);
    char *tmp = malloc(4500);
    snprintf(tmp, 4500, "%s.saved", p1);
    assert_int_equal(rename(p1, tmp), 0); /* the first file truncate kept is gone */
    wal_reopen(f);
    checker k = {.ch = "m", .expect = segs[2]};
    assert_int_equal(vdb_wal_backend.read(f->wal, "m", segs[1], check_fn, &k), VDB_ECORRUPT);
    assert_non_null(strstr(vdb_err_get(), strrchr(p1, '/') + 1));
    vdb_wal_backend.close(f->wal);
    f->wal = NULL;
    assert_int_equal(rename(tmp, p1), 0);
    assert_int_equal(unlink(p2), 0); /* now one in the middle */
    wal_reopen(f);
    k = (checker){.ch = "m", .expect = segs[1]};
    assert_int_equal(vdb_wal_backend.read(f->wal, "m", segs[1], check_fn, &k), VDB_ECORRUPT);
    assert_non_null(strstr(vdb_err_get(), strrchr(p2, '/') + 1));
    assert_non_null(strstr(vdb_err_get(), "missing"));
    free(p1);
    free(p2);
    free(tmp);
    vdb_free(segs);
}

static void test_corrupt_byte_in_a_non_tail_file_makes_read_fail_with_ecorrupt(void **state)
{
    fixture *f = *state;
    vdb_wal_set_segment_bytes(2048);
    wal_reopen(f);
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
    wal_reopen(f); /* only the last file is checked on open */
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
    wal_reopen(f);
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
    wal_reopen(f);
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
    wal_reopen(f);
    for (uint64_t i = 1; i <= 100; i++)
        append_rec(f, "b", i);
    assert_true(count_files(f, "b") > 5);
    for (uint64_t from = 1; from <= 101; from += 7) {
        checker k = read_all(f, "b", from, from);
        assert_false(k.bad);
        assert_int_equal(k.count, 101 - from);
    }
    wal_reopen(f);
    checker k = read_all(f, "b", 1, 1);
    assert_int_equal(k.count, 100);
}

static void test_truncate_removes_old_files_and_keeps_later_records(void **state)
{
    fixture *f = *state;
    vdb_wal_set_segment_bytes(1000);
    wal_reopen(f);
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
    wal_reopen(f);
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
    wal_reopen(f);
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
    wal_reopen(f);
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
    wal_reopen(f);
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
    wal_reopen(f);
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
    wal_reopen(f);
    k = read_all(f, "e", 1, 1);
    assert_false(k.bad);
    assert_int_equal(k.count, 5);
    free(p);
}

static void test_drop_removes_the_channel_and_positions_restart(void **state)
{
    fixture *f = *state;
    wal_reopen(f);
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
    wal_reopen(f);
    k = read_all(f, "d", 1, 1);
    assert_int_equal(k.count, 1);
}

/* ---- subscriptions and read_only followers ----------------------------------------------- */

static void *follower_open(fixture *f)
{
    vdb_backend_options o = f->opt;
    o.read_only = 1;
    void *r = NULL;
    vdb_status st = vdb_wal_backend.open(f->uri, &o, &r);
    if (st != VDB_OK)
        fail_msg("open %s read_only: %s", f->uri, vdb_err_get());
    return r;
}

static void *sub_open(void *log, const char *ch, uint64_t from)
{
    void *s = NULL;
    vdb_status st = vdb_wal_backend.subscribe(log, ch, from, &s);
    if (st != VDB_OK)
        fail_msg("subscribe %s: %s", ch, vdb_err_get());
    return s;
}

/* Positions delivered, each checked against make_rec. */
typedef struct seen {
    const char *ch;
    uint64_t pos[256];
    size_t n;
    size_t stop_after;
    bool bad;
} seen;

static int seen_fn(void *arg, uint64_t pos, const void *rec, size_t len)
{
    seen *s = arg;
    uint8_t buf[300];
    size_t want = make_rec(buf, sizeof buf, s->ch, pos);
    if (len != want || memcmp(rec, buf, len) != 0 || s->n == 256 ||
        (s->n && pos <= s->pos[s->n - 1]))
        s->bad = true;
    if (s->n < 256)
        s->pos[s->n++] = pos;
    return s->stop_after && s->n >= s->stop_after;
}

/* Polls s (20 s a poll) until position last has been delivered. */
static void follow_to(void *sub, seen *s, uint64_t last)
{
    while (s->n == 0 || s->pos[s->n - 1] < last) {
        vdb_status st = vdb_wal_backend.poll(sub, 20000, seen_fn, s);
        if (st != VDB_OK)
            fail_msg("poll %s for position %llu: %s: %s", s->ch, (unsigned long long)last,
                     vdb_status_name(st), vdb_err_get());
    }
    assert_false(s->bad);
}

static void test_followers_see_only_acknowledged_whole_frames(void **state)
{
    fixture *f = *state;
    wal_reopen(f);
    for (uint64_t i = 1; i <= 3; i++)
        append_rec(f, "t", i);
    /* On disk after them, as a writer in the middle of a batch leaves it: a whole frame that
     * is not acknowledged yet, then half of the next one. */
    char *path = chan_file(f, "t", 1);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    off_t end = lseek(fd, 0, SEEK_END);
    uint8_t junk[200], hdr[WAL_FRAME_HEADER];
    memset(junk, 0x5a, sizeof junk);
    wal_frame_header(hdr, 4, junk, sizeof junk);
    assert_int_equal(pwrite(fd, hdr, sizeof hdr, end), (ssize_t)sizeof hdr);
    assert_int_equal(pwrite(fd, junk, sizeof junk, end + (off_t)sizeof hdr), (ssize_t)sizeof junk);
    wal_frame_header(hdr, 5, junk, sizeof junk);
    assert_int_equal(pwrite(fd, hdr, sizeof hdr, end + (off_t)(sizeof hdr + sizeof junk)),
                     (ssize_t)sizeof hdr);
    close(fd);
    free(path);
    void *r = follower_open(f);
    void *subs[2] = {sub_open(r, "t", 1), sub_open(f->wal, "t", 1)};
    for (int k = 0; k < 2; k++) {
        seen s = {.ch = "t"};
        assert_int_equal(vdb_wal_backend.poll(subs[k], 0, seen_fn, &s), VDB_OK);
        assert_int_equal(s.n, 3);
        assert_false(s.bad);
        assert_int_equal(vdb_wal_backend.poll(subs[k], 0, seen_fn, &s), VDB_ETIMEDOUT);
        assert_int_equal(s.n, 3);
    }
    checker k = {.ch = "t", .expect = 1};
    assert_int_equal(vdb_wal_backend.read(r, "t", 1, check_fn, &k), VDB_OK);
    assert_int_equal(k.count, 3);
    assert_false(k.bad);
    uint64_t last;
    assert_int_equal(vdb_wal_backend.last_pos(r, "t", &last), VDB_OK);
    assert_int_equal(last, 3);
    /* the real record 4 takes the place of the bytes left there, and both see it */
    assert_int_equal(append_rec(f, "t", 4), 4);
    for (int i = 0; i < 2; i++) {
        seen s = {.ch = "t"};
        follow_to(subs[i], &s, 4);
        assert_int_equal(s.n, 1);
        vdb_wal_backend.unsubscribe(subs[i]);
    }
    vdb_wal_backend.close(r);
}

typedef struct slow_writer {
    fixture *f;
    const char *ch;
    uint64_t from, to;
} slow_writer;

static void *slow_writer_main(void *arg)
{
    slow_writer *w = arg;
    for (uint64_t i = w->from; i <= w->to; i++) {
        struct timespec ts = {.tv_nsec = (i == w->from ? 150 : 20) * 1000000L};
        nanosleep(&ts, NULL);
        append_rec(w->f, w->ch, i);
    }
    return NULL;
}

/* Like follow_to, and each poll must end before its deadline: woken, not timed out. */
static void follow_woken_to(void *sub, seen *s, uint64_t last)
{
    const uint64_t timeout_ms = 30000;
    while (s->n == 0 || s->pos[s->n - 1] < last) {
        uint64_t t0 = vdb_mono_ns();
        vdb_status st = vdb_wal_backend.poll(sub, timeout_ms, seen_fn, s);
        if (st != VDB_OK)
            fail_msg("poll %s: %s: %s", s->ch, vdb_status_name(st), vdb_err_get());
        if (vdb_mono_ns() - t0 >= timeout_ms * 1000000u)
            fail_msg("poll %s ran to its deadline: the writer's commit did not wake it", s->ch);
    }
    assert_false(s->bad);
}

/* A follower of channel ch gets record 1, then records 2..last that a thread appends 20 ms
 * apart; woken: each of its polls must end before its deadline. */
static void follow_a_slow_writer(fixture *f, const char *ch, uint64_t last, bool woken)
{
    wal_reopen(f);
    append_rec(f, ch, 1);
    void *r = follower_open(f);
    void *sub = sub_open(r, ch, 1);
    seen s = {.ch = ch};
    follow_to(sub, &s, 1);
    slow_writer w = {.f = f, .ch = ch, .from = 2, .to = last};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, slow_writer_main, &w), 0);
    if (woken)
        follow_woken_to(sub, &s, last);
    else
        follow_to(sub, &s, last);
    pthread_join(th, NULL);
    assert_int_equal(s.n, last);
    vdb_wal_backend.unsubscribe(sub);
    vdb_wal_backend.close(r);
}

/* The follower's re-check is set to ten minutes: only the futex wake-ups of the writer's
 * commits end its waits before their deadline. */
static void test_follower_is_woken_by_each_commit_of_the_writer(void **state)
{
    vdb_wal_set_follower_recheck_ms(600000);
    follow_a_slow_writer(*state, "w", 8, true);
}

/* A reader without write permission on the marker cannot count itself a waiter: it looks now
 * and then instead, and still misses nothing. */
static void test_follower_that_may_not_write_the_marker_looks_instead(void **state)
{
    vdb_wal_set_marker_read_only(true);
    follow_a_slow_writer(*state, "p", 6, false);
}

static void test_follower_waits_for_a_new_channel_and_ends_at_its_drop(void **state)
{
    fixture *f = *state;
    wal_reopen(f);
    void *r = follower_open(f);
    void *sub = sub_open(r, "n", 0);
    seen s = {.ch = "n"};
    assert_int_equal(vdb_wal_backend.poll(sub, 0, seen_fn, &s), VDB_ETIMEDOUT);
    assert_int_equal(vdb_wal_backend.poll(sub, 60, seen_fn, &s), VDB_ETIMEDOUT);
    append_rec(f, "n", 1);
    append_rec(f, "n", 2);
    follow_to(sub, &s, 2);
    assert_int_equal(vdb_wal_backend.drop(f->wal, "n"), VDB_OK);
    assert_int_equal(vdb_wal_backend.poll(sub, 10000, seen_fn, &s), VDB_ENOTFOUND);
    vdb_wal_backend.unsubscribe(sub);
    /* written again: a new subscription sees the new channel from position 1 */
    append_rec(f, "n", 1);
    sub = sub_open(r, "n", 0);
    seen s2 = {.ch = "n"};
    follow_to(sub, &s2, 1);
    assert_int_equal(s2.n, 1);
    vdb_wal_backend.unsubscribe(sub);
    vdb_wal_backend.close(r);
}

static void test_follower_keeps_up_across_rolls_truncation_and_a_writer_restart(void **state)
{
    fixture *f = *state;
    vdb_wal_set_segment_bytes(1000); /* a few records per file */
    wal_reopen(f);
    for (uint64_t i = 1; i <= 20; i++)
        append_rec(f, "r", i);
    void *r = follower_open(f);
    void *sub = sub_open(r, "r", 1);
    seen s = {.ch = "r", .stop_after = 4};
    follow_to(sub, &s, 4);
    /* truncate below 15 while the follower stands in the first file */
    assert_int_equal(vdb_wal_backend.truncate(f->wal, "r", 15), VDB_OK);
    s.stop_after = 0;
    follow_to(sub, &s, 20);
    /* 1..4, then maybe some of 5..14 (a file the follower still had open), then 15..20 */
    size_t k = 0;
    while (k < s.n && s.pos[k] == k + 1)
        k++;
    assert_true(k >= 4);
    while (k < s.n && s.pos[k] < 15)
        k++;
    assert_int_equal(s.n - k, 6);
    assert_int_equal(s.pos[k], 15);
    /* the writer goes away and comes back: the same subscription goes on */
    wal_reopen(f);
    append_rec(f, "r", 21);
    append_rec(f, "r", 22);
    follow_to(sub, &s, 22);
    assert_int_equal(s.pos[s.n - 2], 21);
    vdb_wal_backend.unsubscribe(sub);
    vdb_wal_backend.close(r);
}

static void test_read_only_instance_refuses_writes_and_creates_nothing(void **state)
{
    fixture *f = *state;
    void *r = follower_open(f);
    struct stat sb;
    char root[4300];
    snprintf(root, sizeof root, "%s/log", f->dir);
    assert_int_equal(stat(root, &sb), -1);
    uint64_t pos = 7;
    assert_int_equal(vdb_wal_backend.append(r, "c", "x", 1, &pos), VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "read_only"));
    assert_int_equal(vdb_wal_backend.truncate(r, "c", 1), VDB_EINVAL);
    assert_int_equal(vdb_wal_backend.drop(r, "c"), VDB_EINVAL);
    checker k = {.ch = "c", .expect = 1};
    assert_int_equal(vdb_wal_backend.read(r, "c", 1, check_fn, &k), VDB_OK);
    assert_int_equal(k.count, 0);
    assert_int_equal(vdb_wal_backend.last_pos(r, "c", &pos), VDB_OK);
    assert_int_equal(pos, 0);
    assert_int_equal(stat(root, &sb), -1);
    void *sub = NULL;
    assert_int_equal(vdb_wal_backend.subscribe(r, "../x", 1, &sub), VDB_EINVAL);
    assert_null(sub);
    vdb_wal_backend.close(r);
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
    WAL_TEST(test_flipped_bit_in_the_last_frame_is_ecorrupt_not_a_torn_tail),
    WAL_TEST(test_truncated_or_removed_channel_file_is_ecorrupt),
    WAL_TEST(test_missing_first_or_middle_file_is_ecorrupt),
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
    WAL_TEST(test_followers_see_only_acknowledged_whole_frames),
    WAL_TEST(test_follower_is_woken_by_each_commit_of_the_writer),
    WAL_TEST(test_follower_that_may_not_write_the_marker_looks_instead),
    WAL_TEST(test_follower_waits_for_a_new_channel_and_ends_at_its_drop),
    WAL_TEST(test_follower_keeps_up_across_rolls_truncation_and_a_writer_restart),
    WAL_TEST(test_read_only_instance_refuses_writes_and_creates_nothing),
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

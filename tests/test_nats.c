/* Tests of the NATS JetStream log backend (backends/nats) against a real nats-server, started by
 * tests/servers/nats.sh, which exports VDB_NATS_URI, VDB_NATS_STATE and VDB_NATS_RESTART. */
#define _GNU_SOURCE
#include "test_common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vdb/sys/log_backend.h"
#include "vdb/vdb.h"

extern const vdb_log_backend vdb_nats_log_backend;
static const vdb_log_backend *be = &vdb_nats_log_backend;
static const char *g_uri;
static unsigned g_run; /* channel names differ from run to run */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *open_log(uint32_t timeout_ms)
{
    vdb_backend_options o = {.sync = VDB_SYNC_FULL, .timeout_ms = timeout_ms};
    void *l = NULL;
    vdb_status st = be->open(g_uri, &o, &l);
    if (st != VDB_OK)
        fail_msg("open %s: %s", g_uri, vdb_errmsg(NULL));
    return l;
}

static void chan_name(char *buf, size_t cap, const char *what)
{
    snprintf(buf, cap, "%s-%u", what, g_run);
}

/* A record that names itself: its tag, then bytes derived from the tag. */
static void fill(uint8_t *p, size_t len, uint64_t tag)
{
    uint64_t s = tag * 2654435761u + 1;
    size_t i = 0;
    if (len >= 8) {
        memcpy(p, &tag, 8);
        i = 8;
    }
    for (; i < len; i++)
        p[i] = (uint8_t)(test_rand(&s) >> 56);
}

static bool check(const uint8_t *p, size_t len, uint64_t *tag)
{
    if (len < 8)
        return false;
    memcpy(tag, p, 8);
    uint8_t *want = malloc(len);
    fill(want, len, *tag);
    bool ok = memcmp(want, p, len) == 0;
    free(want);
    return ok;
}

typedef struct got {
    size_t n, cap, stop_after;
    uint64_t *pos;
    uint64_t *tag;
    size_t *len;
    bool bad;
} got;

static int collect(void *arg, uint64_t pos, const void *rec, size_t len)
{
    got *g = arg;
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 64;
        g->pos = realloc(g->pos, g->cap * sizeof *g->pos);
        g->tag = realloc(g->tag, g->cap * sizeof *g->tag);
        g->len = realloc(g->len, g->cap * sizeof *g->len);
    }
    uint64_t tag = 0;
    if (!check(rec, len, &tag))
        g->bad = true;
    g->pos[g->n] = pos;
    g->tag[g->n] = tag;
    g->len[g->n] = len;
    g->n++;
    return g->stop_after && g->n >= g->stop_after;
}

static void got_free(got *g)
{
    free(g->pos);
    free(g->tag);
    free(g->len);
    memset(g, 0, sizeof *g);
}

static void read_all(void *l, const char *ch, uint64_t from, got *g)
{
    memset(g, 0, sizeof *g);
    vdb_status st = be->read(l, ch, from, collect, g);
    if (st != VDB_OK)
        fail_msg("read %s from %llu: %s", ch, (unsigned long long)from, vdb_errmsg(NULL));
    assert_false(g->bad);
}

static uint64_t append_tag(void *l, const char *ch, uint64_t tag, size_t len)
{
    uint8_t *buf = malloc(len ? len : 1);
    fill(buf, len, tag);
    uint64_t pos = 0;
    vdb_status st = be->append(l, ch, buf, len, &pos);
    free(buf);
    if (st != VDB_OK)
        fail_msg("append to %s: %s", ch, vdb_errmsg(NULL));
    return pos;
}

/* ---- basics ------------------------------------------------------------------------------ */

static void test_append_returns_increasing_positions_and_read_returns_all_in_order(void **s)
{
    void *l = open_log(0);
    char ch[64];
    chan_name(ch, sizeof ch, "basic");
    uint64_t pos[100];
    for (int i = 0; i < 100; i++) {
        pos[i] = append_tag(l, ch, 1000 + (uint64_t)i, 8 + (size_t)(i * 37) % 3000);
        assert_true(pos[i] > 0);
        if (i)
            assert_true(pos[i] > pos[i - 1]);
    }
    got g;
    read_all(l, ch, 1, &g);
    assert_int_equal(g.n, 100);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(g.pos[i], pos[i]);
        assert_int_equal(g.tag[i], 1000 + (uint64_t)i);
        assert_int_equal(g.len[i], 8 + (size_t)(i * 37) % 3000);
    }
    got_free(&g);
    /* a second instance (another connection) sees the same */
    void *l2 = open_log(0);
    read_all(l2, ch, 0, &g);
    assert_int_equal(g.n, 100);
    got_free(&g);
    be->close(l2);
    be->close(l);
}

static void test_read_from_middle_past_end_and_stop_early(void **s)
{
    void *l = open_log(0);
    char ch[64];
    chan_name(ch, sizeof ch, "middle");
    uint64_t pos[600];
    for (int i = 0; i < 600; i++)
        pos[i] = append_tag(l, ch, (uint64_t)i, 64);
    got g;
    read_all(l, ch, pos[250], &g); /* spans several pull batches */
    assert_int_equal(g.n, 350);
    for (size_t i = 0; i < g.n; i++) {
        assert_int_equal(g.pos[i], pos[250 + i]);
        assert_int_equal(g.tag[i], 250 + i);
    }
    got_free(&g);
    read_all(l, ch, pos[599] + 1, &g);
    assert_int_equal(g.n, 0);
    got_free(&g);
    read_all(l, ch, pos[599] + 1000, &g);
    assert_int_equal(g.n, 0);
    got_free(&g);
    memset(&g, 0, sizeof g);
    g.stop_after = 3;
    assert_int_equal(be->read(l, ch, pos[10], collect, &g), VDB_OK);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.tag[2], 12);
    got_free(&g);
    be->close(l);
}

static void test_never_written_channel_reads_empty_and_truncate_drop_are_ok(void **s)
{
    void *l = open_log(0);
    char ch[64];
    chan_name(ch, sizeof ch, "never");
    got g;
    read_all(l, ch, 1, &g);
    assert_int_equal(g.n, 0);
    got_free(&g);
    assert_int_equal(be->truncate(l, ch, 100), VDB_OK);
    assert_int_equal(be->drop(l, ch), VDB_OK);
    be->close(l);
}

static void test_channel_names_with_dots_wildcards_and_escapes_stay_apart(void **s)
{
    void *l = open_log(0);
    const char *names[] = {"a.b*c>d/e f", "a_2Eb", "a.b", "a_b", "a__b", "ü-ch"};
    char ch[6][64];
    for (int i = 0; i < 6; i++) {
        snprintf(ch[i], sizeof ch[i], "%s-%u", names[i], g_run);
        assert_int_equal(append_tag(l, ch[i], 100 + (uint64_t)i, 32), 1);
    }
    for (int i = 0; i < 6; i++) {
        got g;
        read_all(l, ch[i], 1, &g);
        assert_int_equal(g.n, 1);
        assert_int_equal(g.tag[0], 100 + (uint64_t)i);
        got_free(&g);
    }
    assert_int_equal(be->append(l, "", "x", 1, &(uint64_t){0}), VDB_EINVAL);
    char longname[300];
    memset(longname, 'x', 190);
    longname[190] = 0;
    assert_int_equal(append_tag(l, longname, 5, 16), 1); /* long, but a valid folder name */
    assert_int_equal(be->drop(l, longname), VDB_OK);
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(be->append(l, longname, "x", 1, &(uint64_t){0}), VDB_EINVAL);
    assert_non_null(strstr(vdb_errmsg(NULL), "too long"));
    be->close(l);
}

static void test_large_3mb_records_round_trip_and_over_max_payload_is_einval(void **s)
{
    void *l = open_log(0);
    char ch[64];
    chan_name(ch, sizeof ch, "large");
    const size_t big = 1000 * 784 * 4 + 4096; /* one insert batch of Fashion-MNIST */
    for (int i = 0; i < 6; i++)
        assert_int_equal(append_tag(l, ch, 7 + (uint64_t)i, big - (size_t)i), (uint64_t)i + 1);
    got g;
    read_all(l, ch, 2, &g);
    assert_int_equal(g.n, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(g.tag[i], 8 + (uint64_t)i);
        assert_int_equal(g.len[i], big - 1 - (size_t)i);
    }
    got_free(&g);
    /* more than one pull request's byte budget (32 MiB) */
    for (int i = 6; i < 24; i++)
        assert_int_equal(append_tag(l, ch, 7 + (uint64_t)i, big), (uint64_t)i + 1);
    read_all(l, ch, 1, &g);
    assert_int_equal(g.n, 24);
    for (size_t i = 0; i < g.n; i++) {
        assert_int_equal(g.pos[i], i + 1);
        assert_int_equal(g.tag[i], 7 + i);
    }
    got_free(&g);
    size_t huge = 17u << 20; /* the test server allows 16 MB */
    uint8_t *buf = calloc(1, huge);
    uint64_t pos = 0;
    assert_int_equal(be->append(l, ch, buf, huge, &pos), VDB_EINVAL);
    const char *msg = vdb_errmsg(NULL);
    assert_non_null(strstr(msg, "max_payload"));
    free(buf);
    be->close(l);
}

typedef struct appender {
    void *log;
    const char *ch;
    int id, n;
    uint64_t *pos;
    vdb_status st;
} appender;

static void *append_thread(void *arg)
{
    appender *a = arg;
    uint8_t buf[1024];
    for (int i = 0; i < a->n; i++) {
        fill(buf, sizeof buf, ((uint64_t)a->id << 32) | (uint64_t)i);
        if ((a->st = be->append(a->log, a->ch, buf, sizeof buf, &a->pos[i])) != VDB_OK) {
            fprintf(stderr, "appender %d: %s\n", a->id, vdb_errmsg(NULL));
            break;
        }
    }
    return NULL;
}

static void test_concurrent_appenders_get_unique_positions_matching_the_read(void **s)
{
    void *l = open_log(0);
    char ch[64];
    chan_name(ch, sizeof ch, "concurrent");
    enum { T = 8, N = 250 };
    appender a[T];
    pthread_t th[T];
    for (int t = 0; t < T; t++) {
        a[t] = (appender){.log = l, .ch = ch, .id = t, .n = N, .pos = calloc(N, 8)};
        pthread_create(&th[t], NULL, append_thread, &a[t]);
    }
    for (int t = 0; t < T; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < T; t++) {
        assert_int_equal(a[t].st, VDB_OK);
        for (int i = 1; i < N; i++)
            assert_true(a[t].pos[i] > a[t].pos[i - 1]); /* one thread's appends stay in order */
    }
    got g;
    read_all(l, ch, 1, &g);
    assert_int_equal(g.n, T * N);
    for (size_t i = 0; i < g.n; i++) {
        if (i)
            assert_true(g.pos[i] > g.pos[i - 1]);
        int t = (int)(g.tag[i] >> 32), k = (int)(g.tag[i] & 0xffffffff);
        assert_true(t < T && k < N);
        assert_int_equal(a[t].pos[k], g.pos[i]);
    }
    got_free(&g);
    for (int t = 0; t < T; t++)
        free(a[t].pos);
    be->close(l);
}

static void test_truncate_discards_below_and_keeps_later_positions(void **s)
{
    void *l = open_log(0);
    char ch[64];
    chan_name(ch, sizeof ch, "truncate");
    for (uint64_t i = 1; i <= 20; i++)
        assert_int_equal(append_tag(l, ch, i, 100), i);
    assert_int_equal(be->truncate(l, ch, 11), VDB_OK);
    got g;
    read_all(l, ch, 1, &g);
    assert_int_equal(g.n, 10);
    assert_int_equal(g.pos[0], 11);
    assert_int_equal(g.tag[0], 11);
    got_free(&g);
    assert_int_equal(be->truncate(l, ch, 5), VDB_OK); /* below the start: nothing */
    assert_int_equal(be->truncate(l, ch, 1000), VDB_OK); /* past the end */
    assert_int_equal(append_tag(l, ch, 21, 100), 21);
    read_all(l, ch, 1, &g);
    assert_true(g.n >= 1 && g.n <= 2);
    assert_int_equal(g.pos[g.n - 1], 21);
    assert_int_equal(g.tag[g.n - 1], 21);
    got_free(&g);
    read_all(l, ch, 15, &g); /* a position already discarded reads from what is left */
    assert_int_equal(g.pos[g.n - 1], 21);
    got_free(&g);
    be->close(l);
}

static void test_drop_removes_the_channel_and_it_starts_over(void **s)
{
    void *l = open_log(0);
    char ch[64], other[64];
    chan_name(ch, sizeof ch, "drop");
    chan_name(other, sizeof other, "drop-other");
    for (uint64_t i = 1; i <= 5; i++)
        append_tag(l, ch, i, 50);
    append_tag(l, other, 99, 50);
    assert_int_equal(be->drop(l, ch), VDB_OK);
    got g;
    read_all(l, ch, 1, &g);
    assert_int_equal(g.n, 0);
    got_free(&g);
    assert_int_equal(be->drop(l, ch), VDB_OK);
    assert_int_equal(append_tag(l, ch, 6, 50), 1);
    read_all(l, other, 1, &g); /* the other channel is untouched */
    assert_int_equal(g.n, 1);
    assert_int_equal(g.tag[0], 99);
    got_free(&g);
    be->close(l);
}

static void test_bad_uris_are_einval(void **s)
{
    void *l = NULL;
    assert_int_equal(be->open("nats://", NULL, &l), VDB_EINVAL);
    assert_int_equal(be->open("http://127.0.0.1:4222/x", NULL, &l), VDB_EINVAL);
    assert_null(l);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &n) != 0)
        fail_msg("bind: %m");
    close(fd);
    return ntohs(a.sin_port);
}

static void test_no_server_is_eio_within_the_timeout_naming_the_server(void **s)
{
    char uri[128];
    int port = free_port();
    snprintf(uri, sizeof uri, "nats://127.0.0.1:%d/down", port);
    vdb_backend_options o = {.timeout_ms = 1000};
    void *l = NULL;
    int64_t t0 = now_ms();
    assert_int_equal(be->open(uri, &o, &l), VDB_EIO);
    assert_true(now_ms() - t0 < 3000);
    assert_null(l);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", port);
    assert_non_null(strstr(vdb_errmsg(NULL), want));
    printf("# no server: %s\n", vdb_errmsg(NULL));
}

/* ---- fault: SIGKILL the server during appends, restart it, nothing acknowledged is lost ---- */

static pid_t server_pid(void)
{
    const char *state = getenv("VDB_NATS_STATE");
    char path[4096];
    snprintf(path, sizeof path, "%s/pid", state);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    return (pid_t)pid;
}

static bool pid_gone(pid_t pid) /* exited, or a zombie nobody reaped yet */
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* The fault tests need the script's restart command. */
#define skip_without_restart()                                                                \
    do {                                                                                      \
        if (!getenv("VDB_NATS_RESTART") || !getenv("VDB_NATS_STATE")) {                       \
            print_message("SKIP: VDB_NATS_RESTART not set "                                 \
                          "(run through tests/servers/nats.sh)\n");                          \
            skip();                                                                           \
        }                                                                                     \
    } while (0)

/* SIGKILLs the server and waits until it is gone; the time it was killed. */
static int64_t kill_server(void)
{
    pid_t pid = server_pid();
    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int64_t t0 = now_ms();
    while (!pid_gone(pid) && now_ms() - t0 < 10000)
        usleep(1000);
    return t0;
}

/* Starts it again on the same port and store; its pid. */
static long restart_server(void)
{
    FILE *p = popen(getenv("VDB_NATS_RESTART"), "r");
    assert_non_null(p);
    long npid = 0;
    int n = fscanf(p, "%ld", &npid);
    assert_int_equal(pclose(p), 0);
    assert_int_equal(n, 1);
    return npid;
}

#define FAULT_TIMEOUT_MS 2000
#define FAULT_MAX 100000

typedef struct fault_writer {
    void *log;
    const char *ch;
    atomic_bool stop;
    atomic_int acked;
    uint64_t pos[FAULT_MAX]; /* 0: not acknowledged */
    int attempts, failures, bad_failures;
    int64_t worst_fail_ms;
} fault_writer;

static void *fault_thread(void *arg)
{
    fault_writer *w = arg;
    uint8_t buf[1024];
    for (int k = 0; k < FAULT_MAX && !atomic_load(&w->stop); k++) {
        fill(buf, sizeof buf, (uint64_t)k);
        int64_t t0 = now_ms();
        uint64_t pos = 0;
        vdb_status st = be->append(w->log, w->ch, buf, sizeof buf, &pos);
        int64_t dt = now_ms() - t0;
        w->attempts++;
        if (st == VDB_OK) {
            w->pos[k] = pos;
            atomic_fetch_add(&w->acked, 1);
            continue;
        }
        w->failures++;
        if (dt > w->worst_fail_ms)
            w->worst_fail_ms = dt;
        const char *msg = vdb_errmsg(NULL);
        if (w->failures == 1)
            printf("# append during the outage: %s after %lld ms: %s\n", vdb_status_name(st),
                   (long long)dt, msg);
        if (st != VDB_EIO || !strstr(msg, "nats") || !strstr(msg, "127.0.0.1"))
            w->bad_failures++;
    }
    return NULL;
}

static bool wait_acked(fault_writer *w, int n, int64_t ms)
{
    int64_t end = now_ms() + ms;
    while (atomic_load(&w->acked) < n && now_ms() < end)
        usleep(2000);
    return atomic_load(&w->acked) >= n;
}

static void test_server_killed_during_appends_loses_nothing_acknowledged(void **s)
{
    skip_without_restart();
    void *l = open_log(FAULT_TIMEOUT_MS);
    char ch[64];
    chan_name(ch, sizeof ch, "fault");
    fault_writer *w = calloc(1, sizeof *w);
    w->log = l;
    w->ch = ch;
    pthread_t th;
    pthread_create(&th, NULL, fault_thread, w);
    assert_true(wait_acked(w, 300, 30000));

    int64_t t0 = kill_server();
    int before = atomic_load(&w->acked);

    /* during the outage a read fails cleanly, within its timeout */
    got g = {0};
    int64_t r0 = now_ms();
    vdb_status rst = be->read(l, ch, 1, collect, &g);
    int64_t rdt = now_ms() - r0;
    printf("# read during the outage: %s after %lld ms: %s\n", vdb_status_name(rst),
           (long long)rdt, vdb_errmsg(NULL));
    assert_int_equal(rst, VDB_EIO);
    assert_true(rdt <= FAULT_TIMEOUT_MS + 1500);
    got_free(&g);
    usleep(1000 * 1000); /* keep the server away longer than one append's timeout */

    long npid = restart_server();
    printf("# server down %lld ms; restarted as pid %ld\n", (long long)(now_ms() - t0), npid);
    assert_true(wait_acked(w, atomic_load(&w->acked) + 300, 30000));
    atomic_store(&w->stop, true);
    pthread_join(th, NULL);

    printf("# fault: %d attempts, %d acknowledged (%d before the kill), %d failed, slowest "
           "failure %lld ms\n", w->attempts, atomic_load(&w->acked), before, w->failures,
           (long long)w->worst_fail_ms);
    assert_true(w->failures >= 1);
    assert_int_equal(w->bad_failures, 0);
    assert_true(w->worst_fail_ms <= FAULT_TIMEOUT_MS + 1500);

    /* every acknowledged record is there, at its position, in order; through a new connection */
    void *l2 = open_log(0);
    read_all(l2, ch, 1, &g);
    for (size_t i = 1; i < g.n; i++)
        assert_true(g.pos[i] > g.pos[i - 1]);
    size_t j = 0;
    int found = 0;
    for (int k = 0; k < w->attempts; k++) {
        if (!w->pos[k])
            continue; /* a failed append may or may not be there */
        while (j < g.n && g.pos[j] < w->pos[k])
            j++;
        if (j == g.n || g.pos[j] != w->pos[k] || g.tag[j] != (uint64_t)k)
            fail_msg("acknowledged record %d at position %llu is missing", k,
                     (unsigned long long)w->pos[k]);
        found++;
    }
    assert_int_equal(found, atomic_load(&w->acked));
    printf("# read back %zu records; all %d acknowledged ones in place\n", g.n, found);
    got_free(&g);
    be->close(l2);
    be->close(l);
    free(w);
}

/* ---- fault: a subscription across a server kill and restart ------------------------------- */

/* The tail delivers what read gives, each record once, across the outage: a poll while the
 * server is away fails cleanly (VDB_EIO naming it), and the same subscription goes on after. */
static void test_tail_across_a_server_kill_and_restart_delivers_each_record_once(void **s)
{
    skip_without_restart();
    void *l = open_log(FAULT_TIMEOUT_MS);
    char ch[64];
    chan_name(ch, sizeof ch, "tailfault");
    for (uint64_t t = 0; t < 20; t++)
        append_tag(l, ch, t, 100);
    void *sub = NULL;
    assert_int_equal(be->subscribe(l, ch, 0, &sub), VDB_OK);
    got g = {0};
    while (g.n < 20)
        assert_int_equal(be->poll(sub, 10000, collect, &g), VDB_OK);
    kill_server();
    int64_t t0 = now_ms();
    vdb_status st = be->poll(sub, 300, collect, &g);
    int64_t dt = now_ms() - t0;
    printf("# poll during the outage: %s after %lld ms: %s\n", vdb_status_name(st),
           (long long)dt, vdb_errmsg(NULL));
    assert_int_equal(st, VDB_EIO);
    assert_non_null(strstr(vdb_errmsg(NULL), "127.0.0.1"));
    assert_true(dt <= FAULT_TIMEOUT_MS + 1500);
    restart_server();
    /* appends that fail while the client reconnects are retried: one may land twice */
    for (uint64_t t = 20; t < 40; t++) {
        uint8_t buf[100];
        fill(buf, sizeof buf, t);
        uint64_t pos;
        int tries = 0;
        while (be->append(l, ch, buf, sizeof buf, &pos) != VDB_OK)
            assert_true(++tries < 50);
    }
    got r;
    read_all(l, ch, 1, &r);
    while (g.n < r.n)
        assert_int_equal(be->poll(sub, 10000, collect, &g), VDB_OK);
    assert_int_equal(be->poll(sub, 0, collect, &g), VDB_ETIMEDOUT);
    assert_false(g.bad);
    assert_int_equal(g.n, r.n);
    for (size_t i = 0; i < r.n; i++) {
        assert_int_equal(g.pos[i], r.pos[i]);
        assert_int_equal(g.tag[i], r.tag[i]);
    }
    printf("# tail: %zu records, the same as read, across the restart\n", g.n);
    got_free(&g);
    got_free(&r);
    be->unsubscribe(sub);
    be->close(l);
}

/* ---- append rate --------------------------------------------------------------------------- */

typedef struct rate_arg {
    void *log;
    char ch[64];
    size_t len;
    int n;
    vdb_status st;
} rate_arg;

static void *rate_thread(void *arg)
{
    rate_arg *r = arg;
    uint8_t *buf = malloc(r->len);
    fill(buf, r->len, 1);
    for (int i = 0; i < r->n && r->st == VDB_OK; i++) {
        uint64_t pos;
        r->st = be->append(r->log, r->ch, buf, r->len, &pos);
    }
    free(buf);
    return NULL;
}

static void rate(void *l, const char *what, size_t len, int n, int threads)
{
    rate_arg r[16];
    pthread_t th[16];
    int64_t t0 = now_ms();
    for (int t = 0; t < threads; t++) {
        r[t] = (rate_arg){.log = l, .len = len, .n = n / threads};
        snprintf(r[t].ch, sizeof r[t].ch, "rate-%s-%u-%d", what, g_run, t);
        pthread_create(&th[t], NULL, rate_thread, &r[t]);
    }
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    double sec = (double)(now_ms() - t0) / 1000.0;
    for (int t = 0; t < threads; t++)
        assert_int_equal(r[t].st, VDB_OK);
    int total = n / threads * threads;
    printf("# append rate, %s records, %d thread(s): %.0f records/s, %.1f MB/s\n", what,
           threads, total / sec, (double)total * (double)len / sec / 1e6);
    for (int t = 0; t < threads; t++)
        be->drop(l, r[t].ch);
}

static void test_append_rate_1kib_and_3mb_records(void **s)
{
    void *l = open_log(0);
    rate(l, "1KiB", 1024, 5000, 1);
    rate(l, "1KiB", 1024, 20000, 4);
    rate(l, "3MB", 1000 * 784 * 4 + 4096, 40, 1);
    rate(l, "3MB", 1000 * 784 * 4 + 4096, 40, 4);
    /* read rate for the same channel shape */
    char ch[64];
    chan_name(ch, sizeof ch, "readrate");
    for (int i = 0; i < 5000; i++)
        append_tag(l, ch, (uint64_t)i, 1024);
    int64_t t0 = now_ms();
    got g;
    read_all(l, ch, 1, &g);
    double sec = (double)(now_ms() - t0) / 1000.0;
    assert_int_equal(g.n, 5000);
    printf("# read rate, 1KiB records: %.0f records/s\n", g.n / sec);
    got_free(&g);
    be->close(l);
}

int main(void)
{
    g_uri = getenv("VDB_NATS_URI");
    if (!g_uri || !*g_uri) {
        printf("SKIP: VDB_NATS_URI not set (run through tests/servers/nats.sh run ...)\n");
        return 77;
    }
    g_run = (unsigned)getpid() ^ (unsigned)time(NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_returns_increasing_positions_and_read_returns_all_in_order),
        cmocka_unit_test(test_read_from_middle_past_end_and_stop_early),
        cmocka_unit_test(test_never_written_channel_reads_empty_and_truncate_drop_are_ok),
        cmocka_unit_test(test_channel_names_with_dots_wildcards_and_escapes_stay_apart),
        cmocka_unit_test(test_large_3mb_records_round_trip_and_over_max_payload_is_einval),
        cmocka_unit_test(test_concurrent_appenders_get_unique_positions_matching_the_read),
        cmocka_unit_test(test_truncate_discards_below_and_keeps_later_positions),
        cmocka_unit_test(test_drop_removes_the_channel_and_it_starts_over),
        cmocka_unit_test(test_bad_uris_are_einval),
        cmocka_unit_test(test_no_server_is_eio_within_the_timeout_naming_the_server),
        cmocka_unit_test(test_server_killed_during_appends_loses_nothing_acknowledged),
        cmocka_unit_test(test_tail_across_a_server_kill_and_restart_delivers_each_record_once),
        cmocka_unit_test(test_append_rate_1kib_and_3mb_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

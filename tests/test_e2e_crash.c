/* End-to-end crash safety through the public API: a child process writing batches is killed
 * with SIGKILL at random moments and everything it acknowledged must come back whole; torn and
 * corrupt WAL files, corrupt or missing segment objects, and the folder lock. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vdb/vdb.h>

#include "test_common.h"

#define DIM 16
#define COLL "crash"
#define ROUNDS 8 /* kill points per case; VDB_CRASH_ROUNDS=N for the long run */
#define MAX_BATCHES 100000
#define BATCH_ID_STRIDE 1000

/* ---- the workload, shared by child (writer) and parent (checker) ---------------------------- */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* Rows of batch b: 50..200. Row i has id b * 1000 + i. */
static size_t batch_rows(int64_t b) { return 50 + (size_t)(mix((uint64_t)b) % 151); }
static int64_t row_id(int64_t b, size_t i) { return b * BATCH_ID_STRIDE + (int64_t)i; }
static float vec_at(int64_t id, int d)
{
    return (float)(mix((uint64_t)id * 64 + (uint64_t)d) % 20011) / 20011.0f - 0.5f;
}
/* Deletes: when batch b (b % 7 == 6) is acknowledged, the rows i % 5 == 0 of batch b - 3 go. */
static bool deletes_after(int64_t b) { return b % 7 == 6; }
static bool row_in_delete_set(size_t i) { return i % 5 == 0; }
/* Side work that crashes must leave whole or not at all: a partition created, filled and
 * dropped around batch b (b % 17 == 16), and a collection created, filled and dropped
 * (b % 29 == 28). Side rows have ids SIDE_ID + b * 100 + i. */
#define SIDE_ID 1000000000LL
#define SIDE_ROWS 20
static bool side_partition_at(int64_t b) { return b % 17 == 16; }
static bool side_collection_at(int64_t b) { return b % 29 == 28; }

static vdb_schema *crash_schema_named(const char *name, uint32_t shards)
{
    vdb_schema *s = NULL;
    if (vdb_schema_new(name, &s) != VDB_OK)
        return NULL;
    vdb_field_def id = {.struct_size = sizeof id, .name = "id", .type = VDB_TYPE_INT64,
                        .is_primary = 1};
    vdb_field_def bn = {.struct_size = sizeof bn, .name = "batch", .type = VDB_TYPE_INT64};
    vdb_field_def emb = {.struct_size = sizeof emb, .name = "emb", .type = VDB_TYPE_FLOAT_VECTOR,
                         .dim = DIM,
                         .metric = VDB_METRIC_L2};
    if (vdb_schema_add_field(s, &id) != VDB_OK || vdb_schema_add_field(s, &bn) != VDB_OK ||
        vdb_schema_add_field(s, &emb) != VDB_OK || vdb_schema_set_shards(s, shards) != VDB_OK) {
        vdb_schema_free(s);
        return NULL;
    }
    return s;
}

static vdb_schema *crash_schema(uint32_t shards) { return crash_schema_named(COLL, shards); }

static vdb_status write_batch(vdb_db *db, int64_t b, bool upsert)
{
    size_t n = batch_rows(b);
    int64_t ids[200], bns[200];
    float vecs[200 * DIM];
    for (size_t i = 0; i < n; i++) {
        ids[i] = row_id(b, i);
        bns[i] = b;
        for (int d = 0; d < DIM; d++)
            vecs[i * DIM + d] = vec_at(ids[i], d);
    }
    vdb_batch *batch;
    vdb_status st = vdb_batch_new(&batch);
    if (st != VDB_OK)
        return st;
    if ((st = vdb_batch_add_column(batch, "id", VDB_TYPE_INT64, ids, NULL, n, 0)) == VDB_OK &&
        (st = vdb_batch_add_column(batch, "batch", VDB_TYPE_INT64, bns, NULL, n, 0)) == VDB_OK &&
        (st = vdb_batch_add_column(batch, "emb", VDB_TYPE_FLOAT_VECTOR, vecs, NULL, n, DIM)) ==
            VDB_OK)
        st = upsert ? vdb_upsert(db, COLL, NULL, batch, NULL, NULL)
                    : vdb_insert(db, COLL, NULL, batch, NULL, NULL);
    vdb_batch_free(batch);
    return st;
}

static vdb_status insert_batch(vdb_db *db, int64_t b) { return write_batch(db, b, false); }

/* SIDE_ROWS rows with side ids of batch b into collection coll, partition part. */
static vdb_status insert_side(vdb_db *db, const char *coll, const char *part, int64_t b)
{
    int64_t ids[SIDE_ROWS], bns[SIDE_ROWS];
    float vecs[SIDE_ROWS * DIM];
    for (size_t i = 0; i < SIDE_ROWS; i++) {
        ids[i] = SIDE_ID + b * 100 + (int64_t)i;
        bns[i] = -b;
        for (int d = 0; d < DIM; d++)
            vecs[i * DIM + d] = vec_at(ids[i], d);
    }
    vdb_batch *batch;
    vdb_status st = vdb_batch_new(&batch);
    if (st != VDB_OK)
        return st;
    if ((st = vdb_batch_add_column(batch, "id", VDB_TYPE_INT64, ids, NULL, SIDE_ROWS, 0)) ==
            VDB_OK &&
        (st = vdb_batch_add_column(batch, "batch", VDB_TYPE_INT64, bns, NULL, SIDE_ROWS, 0)) ==
            VDB_OK &&
        (st = vdb_batch_add_column(batch, "emb", VDB_TYPE_FLOAT_VECTOR, vecs, NULL, SIDE_ROWS,
                                   DIM)) == VDB_OK)
        st = vdb_insert(db, coll, part, batch, NULL, NULL);
    vdb_batch_free(batch);
    return st;
}

/* The same rows as insert_batch, upserted: a crash must leave one copy of each. */
static vdb_status upsert_batch(vdb_db *db, int64_t b) { return write_batch(db, b, true); }

/* Creates collection "side", fills and flushes it, drops it. */
static vdb_status side_collection_cycle(vdb_db *db, int64_t b)
{
    vdb_schema *s = crash_schema_named("side", 2);
    if (!s)
        return VDB_ENOMEM;
    vdb_status st = vdb_create_collection(db, s);
    vdb_schema_free(s);
    if (st == VDB_OK)
        st = insert_side(db, "side", NULL, b);
    if (st == VDB_OK)
        st = vdb_flush(db, "side");
    return st == VDB_OK ? vdb_drop_collection(db, "side") : st;
}

static vdb_status delete_rows_of(vdb_db *db, int64_t b)
{
    int64_t ids[200];
    size_t n = 0;
    for (size_t i = 0; i < batch_rows(b); i++)
        if (row_in_delete_set(i))
            ids[n++] = row_id(b, i);
    vdb_pk_list pks = {.ints = ids, .count = n};
    return vdb_delete(db, COLL, NULL, &pks, NULL);
}

/* The log of the case that runs ("": the default local WAL). */
static char crash_log_uri[4200];

static void open_opts(vdb_options *o, vdb_sync_mode sync)
{
    vdb_options_init(o);
    o->log_uri = crash_log_uri[0] ? crash_log_uri : NULL;
    o->sync = sync;
    o->segment_max_rows = 500;
    o->compaction_interval_ms = 0;
    o->tick_interval_ms = 0; /* the tests cut and probe the logs' last records: data only */
}

/* ---- the child: writes batches from `first` on and reports every acknowledged call -------- */

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int fd, const char *fmt, ...)
{
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = sizeof line - 1;
    const char *p = line;
    while (n > 0) {
        ssize_t w = write(fd, p, (size_t)n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (int)w;
    }
}

static void child_writer(const char *path, vdb_sync_mode sync, uint32_t shards, int64_t first,
                         int fd)
{
    vdb_options o;
    open_opts(&o, sync);
    vdb_db *db;
    vdb_status st = vdb_open(path, &o, &db);
    if (st != VDB_OK) {
        say(fd, "E open: %s: %s\n", vdb_status_name(st), vdb_errmsg(NULL));
        _exit(2);
    }
    int exists = 0;
    st = vdb_has_collection(db, COLL, &exists);
    if (st == VDB_OK && !exists) {
        vdb_schema *s = crash_schema(shards);
        st = s ? vdb_create_collection(db, s) : VDB_EINVAL;
        vdb_schema_free(s);
    }
    if (st != VDB_OK) {
        say(fd, "E create: %s: %s\n", vdb_status_name(st), vdb_errmsg(NULL));
        _exit(2);
    }
    say(fd, "O\n");
    /* every sealed segment gets an HNSW build in the background (the same again: a no-op) */
    if ((st = vdb_create_index(db, COLL, "emb", "HNSW", "M=8,efConstruction=32")) != VDB_OK) {
        say(fd, "E index: %s: %s\n", vdb_status_name(st), vdb_errmsg(NULL));
        _exit(2);
    }
    for (int64_t b = first; b < MAX_BATCHES; b++) {
        if ((st = insert_batch(db, b)) != VDB_OK) {
            say(fd, "E insert %lld: %s: %s\n", (long long)b, vdb_status_name(st),
                vdb_errmsg(NULL));
            _exit(2);
        }
        say(fd, "I %lld\n", (long long)b);
        if (b % 5 == 4 && (st = upsert_batch(db, b)) != VDB_OK) {
            say(fd, "E upsert %lld: %s: %s\n", (long long)b, vdb_status_name(st),
                vdb_errmsg(NULL));
            _exit(2);
        }
        if (side_partition_at(b)) {
            char part[64];
            snprintf(part, sizeof part, "side%lld", (long long)b);
            say(fd, "p %lld\n", (long long)b);
            if ((st = vdb_create_partition(db, COLL, part)) != VDB_OK ||
                (st = insert_side(db, COLL, part, b)) != VDB_OK) {
                say(fd, "E side partition %lld: %s: %s\n", (long long)b, vdb_status_name(st),
                    vdb_errmsg(NULL));
                _exit(2);
            }
            say(fd, "P %lld\n", (long long)b);
            say(fd, "q %lld\n", (long long)b);
            if ((st = vdb_drop_partition(db, COLL, part)) != VDB_OK) {
                say(fd, "E drop partition %lld: %s: %s\n", (long long)b, vdb_status_name(st),
                    vdb_errmsg(NULL));
                _exit(2);
            }
            say(fd, "Q %lld\n", (long long)b);
        }
        if (side_collection_at(b)) {
            say(fd, "k %lld\n", (long long)b);
            int there = 0;
            st = vdb_has_collection(db, "side", &there);
            if (st == VDB_OK && there) /* left by a writer killed in the middle */
                st = vdb_drop_collection(db, "side");
            st = st != VDB_OK ? st : side_collection_cycle(db, b);
            if (st != VDB_OK) {
                say(fd, "E side collection %lld: %s: %s\n", (long long)b, vdb_status_name(st),
                    vdb_errmsg(NULL));
                _exit(2);
            }
            say(fd, "K %lld\n", (long long)b);
        }
        if (deletes_after(b)) {
            if ((st = delete_rows_of(db, b - 3)) != VDB_OK) {
                say(fd, "E delete %lld: %s: %s\n", (long long)(b - 3), vdb_status_name(st),
                    vdb_errmsg(NULL));
                _exit(2);
            }
            say(fd, "D %lld\n", (long long)(b - 3));
        }
        if (b % 11 == 10) {
            if ((st = vdb_flush(db, COLL)) != VDB_OK) {
                say(fd, "E flush: %s: %s\n", vdb_status_name(st), vdb_errmsg(NULL));
                _exit(2);
            }
            say(fd, "F %lld\n", (long long)b);
        }
        if (b % 13 == 12) {
            if ((st = vdb_compact(db, COLL)) != VDB_OK) {
                say(fd, "E compact: %s: %s\n", vdb_status_name(st), vdb_errmsg(NULL));
                _exit(2);
            }
            say(fd, "C %lld\n", (long long)b);
        }
    }
    vdb_close(db);
    _exit(0);
}

/* ---- the parent ------------------------------------------------------------------------------ */

typedef struct crash_state {
    int64_t next;           /* first batch number of the next round */
    uint8_t acked[MAX_BATCHES];     /* insert acknowledged */
    uint8_t del_acked[MAX_BATCHES]; /* delete of its subset acknowledged */
    uint8_t used[MAX_BATCHES];      /* a round may have started this batch */
    /* side partition of batch b: 1 create started, 2 its rows acknowledged, 3 drop started,
     * 4 drop acknowledged */
    uint8_t side_part[MAX_BATCHES];
    int side_coll;                  /* 1: a create-fill-drop started, 2: its drop acknowledged */
    int64_t kill_points;            /* rounds run (each ends in a SIGKILL) */
} crash_state;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Reads what is in fd into buf (append); returns false at EOF. */
static bool drain(int fd, char **buf, size_t *len, size_t *cap, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int rc = poll(&p, 1, timeout_ms);
    if (rc <= 0)
        return true;
    if (*len + 4096 + 1 > *cap) {
        *cap = (*cap + 4096) * 2;
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
    ssize_t n = read(fd, *buf + *len, 4096);
    if (n < 0 && errno == EINTR)
        return true;
    if (n <= 0)
        return false;
    *len += (size_t)n;
    (*buf)[*len] = 0;
    return true;
}

/* Runs one round: fork the writer, kill it at a random moment, take in its acknowledgements. */
static void run_round(const char *path, vdb_sync_mode sync, uint32_t shards, crash_state *cs,
                      uint64_t *rng, int round)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_writer(path, sync, shards, cs->next, fds[1]);
        _exit(3);
    }
    close(fds[1]);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    /* Most rounds wait until the child has the database open; every fourth one may kill it
     * during open (recovery) already. */
    if (round % 4 != 3) {
        while (!(buf && strstr(buf, "O\n")) && !(buf && strstr(buf, "E ")))
            if (!drain(fds[0], &buf, &len, &cap, 100) && !(buf && strstr(buf, "O\n")))
                break;
    }
    unsigned ms = 5 + (unsigned)(test_rand(rng) % 196);
    sleep_ms(ms);
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    while (drain(fds[0], &buf, &len, &cap, 1000)) {
    }
    close(fds[0]);
    if (buf && strstr(buf, "E ")) {
        print_message("child error: %s\n", strstr(buf, "E "));
        fail_msg("the writer child failed in round %d: %s", round, strstr(buf, "E "));
    }
    /* The child ends only by our kill. */
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    int64_t last = cs->next - 1;
    for (char *line = buf; line && *line;) {
        char *nl = strchr(line, '\n');
        if (!nl)
            break; /* a line cut by the kill: not acknowledged to us */
        *nl = 0;
        long long b;
        if (sscanf(line, "I %lld", &b) == 1) {
            assert_true(b >= cs->next && b < MAX_BATCHES);
            cs->acked[b] = 1;
            last = b;
        } else if (sscanf(line, "D %lld", &b) == 1) {
            if (b >= 0)
                cs->del_acked[b] = 1;
        } else if (line[0] && strchr("pPqQ", line[0]) && sscanf(line + 1, " %lld", &b) == 1) {
            assert_true(b >= 0 && b < MAX_BATCHES);
            cs->side_part[b] = (uint8_t)(strchr("pPqQ", line[0]) - "pPqQ" + 1);
        } else if (line[0] == 'k') {
            cs->side_coll = 1;
        } else if (line[0] == 'K') {
            cs->side_coll = 2;
        }
        line = nl + 1;
    }
    /* last + 1 may be in flight: mark it used and skip it, so its ids are never reused. */
    for (int64_t b = cs->next; b <= last + 1; b++)
        cs->used[b] = 1;
    cs->next = last + 2;
    free(buf);
}

/* Opens the database and checks every batch ever started: acknowledged ones whole, none partly
 * visible, acknowledged deletes applied; the row count matches. */
static void check_db(const char *path, vdb_sync_mode sync, const crash_state *cs, int round)
{
    vdb_options o;
    open_opts(&o, sync);
    vdb_db *db;
    vdb_status st = vdb_open(path, &o, &db);
    if (st != VDB_OK)
        fail_msg("round %d: reopen after the crash: %s: %s", round, vdb_status_name(st),
                 vdb_errmsg(NULL));
    int exists = 0;
    assert_int_equal(vdb_has_collection(db, COLL, &exists), VDB_OK);
    if (!exists) {
        /* only possible if the child died before its create was acknowledged */
        for (int64_t b = 0; b < cs->next; b++)
            assert_false(cs->acked[b]);
        vdb_close(db);
        return;
    }
    const char *outs[] = {"batch", "emb"};
    vdb_read_opts ro = {.struct_size = sizeof ro, .output_fields = outs, .n_output_fields = 2};
    uint64_t total = 0;
    int64_t acked_batches = 0;
    for (int64_t b = 0; b < cs->next; b++) {
        if (!cs->used[b])
            continue;
        size_t n = batch_rows(b);
        int64_t ids[200];
        for (size_t i = 0; i < n; i++)
            ids[i] = row_id(b, i);
        vdb_result *res = NULL;
        vdb_pk_list pks = {.ints = ids, .count = n};
        st = vdb_get(db, COLL, &pks, &ro, &res);
        if (st != VDB_OK)
            fail_msg("get batch %lld: %s: %s", (long long)b, vdb_status_name(st),
                     vdb_errmsg(NULL));
        assert_int_equal(vdb_result_groups(res), 1);
        size_t got = vdb_result_rows(res, 0);
        size_t in_del = 0, out_del = 0, n_del = 0;
        for (size_t i = 0; i < n; i++)
            n_del += row_in_delete_set(i);
        for (size_t r = 0; r < got; r++) {
            int64_t id = vdb_result_pk_int(res, 0, r);
            assert_true(id >= row_id(b, 0) && id < row_id(b, n));
            size_t i = (size_t)(id - row_id(b, 0));
            if (row_in_delete_set(i))
                in_del++;
            else
                out_del++;
            vdb_value v;
            assert_int_equal(vdb_result_field(res, 0, r, "batch", &v), VDB_OK);
            assert_int_equal(v.u.i64, b);
            assert_int_equal(vdb_result_field(res, 0, r, "emb", &v), VDB_OK);
            assert_int_equal(v.u.vec.dim, DIM);
            for (int d = 0; d < DIM; d++)
                if (v.u.vec.ptr[d] != vec_at(id, d))
                    fail_msg("batch %lld id %lld: vector[%d] is %g, expected %g",
                             (long long)b, (long long)id, d, v.u.vec.ptr[d], vec_at(id, d));
        }
        vdb_result_free(res);
        /* No batch is partly there: the rows outside the delete set all or none. */
        if (out_del != 0 && out_del != n - n_del)
            fail_msg("round %d: batch %lld is partly visible: %zu of %zu rows", round,
                     (long long)b, out_del, n - n_del);
        /* The delete set: all or none (insert and delete are both atomic). */
        if (in_del != 0 && in_del != n_del)
            fail_msg("round %d: batch %lld: %zu of the %zu rows of its delete are visible",
                     round, (long long)b, in_del, n_del);
        if (out_del == 0 && in_del != 0)
            fail_msg("round %d: batch %lld: deleted-set rows without the rest", round,
                     (long long)b);
        if (cs->acked[b]) {
            acked_batches++;
            if (out_del != n - n_del)
                fail_msg("round %d: acknowledged batch %lld lost: %zu of %zu rows", round,
                         (long long)b, out_del, n - n_del);
            /* no delete of this batch can have happened: its rows are all there */
            bool delete_possible = deletes_after(b + 3) && cs->used[b + 3];
            if (!delete_possible && in_del != n_del)
                fail_msg("round %d: batch %lld lost rows no one deleted", round, (long long)b);
        }
        if (cs->del_acked[b] && in_del != 0)
            fail_msg("round %d: acknowledged delete of batch %lld's rows not applied (%zu "
                     "visible)", round, (long long)b, in_del);
        total += got;
    }
    /* Side partitions: their rows all or none; gone (with the partition) once the drop was
     * acknowledged; there while no drop was started. */
    for (int64_t b = 0; b < cs->next; b++) {
        if (!cs->side_part[b])
            continue;
        int64_t ids[SIDE_ROWS];
        for (size_t i = 0; i < SIDE_ROWS; i++)
            ids[i] = SIDE_ID + b * 100 + (int64_t)i;
        vdb_result *res = NULL;
        vdb_pk_list pks = {.ints = ids, .count = SIDE_ROWS};
        assert_int_equal(vdb_get(db, COLL, &pks, NULL, &res), VDB_OK);
        size_t got = vdb_result_rows(res, 0);
        vdb_result_free(res);
        if (got != 0 && got != SIDE_ROWS)
            fail_msg("round %d: side partition of batch %lld partly there: %zu of %d rows",
                     round, (long long)b, got, SIDE_ROWS);
        if (cs->side_part[b] == 4 && got)
            fail_msg("round %d: dropped side partition of batch %lld still has rows", round,
                     (long long)b);
        if (cs->side_part[b] == 2 && !got)
            fail_msg("round %d: acknowledged rows of side partition %lld lost", round,
                     (long long)b);
        char part[64];
        snprintf(part, sizeof part, "side%lld", (long long)b);
        vdb_names *names = NULL;
        assert_int_equal(vdb_list_partitions(db, COLL, &names), VDB_OK);
        bool listed = false;
        for (size_t i = 0; i < names->count; i++)
            listed |= !strcmp(names->names[i], part);
        vdb_names_free(names);
        if (cs->side_part[b] == 4 && listed)
            fail_msg("round %d: dropped partition %s is back", round, part);
        if (cs->side_part[b] == 2 && !listed)
            fail_msg("round %d: acknowledged partition %s lost", round, part);
        total += got;
    }
    if (cs->side_coll == 2) {
        int there = 1;
        assert_int_equal(vdb_has_collection(db, "side", &there), VDB_OK);
        if (there)
            fail_msg("round %d: the dropped collection 'side' is back", round);
    }
    vdb_stats stats = {.struct_size = sizeof stats};
    assert_int_equal(vdb_collection_stats(db, COLL, &stats), VDB_OK);
    assert_int_equal(stats.row_count, total);
    print_message("round %d: %lld acknowledged batches, %llu rows, %llu sealed segments\n",
                  round, (long long)acked_batches, (unsigned long long)total,
                  (unsigned long long)stats.sealed_segments);
    vdb_close(db);
}

/* log: NULL for the local WAL, "rocksdb", or "nats" (the server of VDB_NATS_URI). */
static void crash_rounds_on(const char *name, vdb_sync_mode sync, uint32_t shards,
                            uint64_t seed, const char *log)
{
    char *path = test_tmpdir(name);
    assert_non_null(path);
    crash_log_uri[0] = 0;
    if (log && !strcmp(log, "rocksdb"))
        snprintf(crash_log_uri, sizeof crash_log_uri, "rocksdb://%s/rocks", path);
    else if (log)
        snprintf(crash_log_uri, sizeof crash_log_uri, "%s/%s%ld", getenv("VDB_NATS_URI"), name,
                 (long)getpid());
    crash_state *cs = calloc(1, sizeof *cs);
    assert_non_null(cs);
    uint64_t rng = seed;
    const char *env = getenv("VDB_CRASH_ROUNDS");
    int rounds = env && atoi(env) > 0 ? atoi(env) : ROUNDS;
    for (int round = 0; round < rounds; round++) {
        run_round(path, sync, shards, cs, &rng, round);
        check_db(path, sync, cs, round);
        cs->kill_points++;
    }
    print_message("%s: %lld kill points (seed 0x%llx, log %s)\n", name,
                  (long long)cs->kill_points, (unsigned long long)seed,
                  crash_log_uri[0] ? crash_log_uri : "wal (default)");
    int64_t acked = 0;
    for (int64_t b = 0; b < cs->next; b++)
        acked += cs->acked[b];
    /* The workload made progress (otherwise the test proves nothing). */
    assert_true(acked > 0);
    free(cs);
    test_rmdir(path);
    free(path);
    crash_log_uri[0] = 0;
}

static void crash_rounds(const char *name, vdb_sync_mode sync, uint32_t shards, uint64_t seed)
{
    crash_rounds_on(name, sync, shards, seed, NULL);
}

static void test_sigkill_writer_one_shard_loses_no_acknowledged_batch(void **state)
{
    (void)state;
    crash_rounds("crash1", VDB_SYNC_FULL, 1, 0x1234567ULL);
}

static void test_sigkill_writer_four_shards_loses_no_acknowledged_batch(void **state)
{
    (void)state;
    crash_rounds("crash4", VDB_SYNC_FULL, 4, 0x7654321ULL);
}

static void test_sigkill_writer_sync_off_loses_no_acknowledged_batch(void **state)
{
    (void)state;
    crash_rounds("crashoff", VDB_SYNC_OFF, 4, 0xabcdefULL);
}

/* BATCH: the log's bounds in COMMIT move only after the background fdatasync, so a writer
 * killed between syncs never leaves bounds past what its files hold. */
static void test_sigkill_writer_sync_batch_loses_no_acknowledged_batch(void **state)
{
    (void)state;
    crash_rounds("crashbatch", VDB_SYNC_BATCH, 2, 0x5eed5eedULL);
}

/* The same workload on the RocksDB log (as Milvus standalone) and on NATS JetStream (the
 * server servers/nats.sh starts; skipped when VDB_NATS_URI is not set). */
static void test_sigkill_writer_rocksdb_log_loses_no_acknowledged_batch(void **state)
{
    (void)state;
#if !defined(VDB_HAVE_ROCKSDB) || defined(__SANITIZE_THREAD__)
    /* ThreadSanitizer cannot follow a fork once the process has threads, and RocksDB's
     * background threads stay for the life of the process after its first open */
    skip();
#endif
    crash_rounds_on("crashrocks", VDB_SYNC_FULL, 2, 0x70c45ULL, "rocksdb");
}

static void test_sigkill_writer_nats_log_loses_no_acknowledged_batch(void **state)
{
    (void)state;
    if (!getenv("VDB_NATS_URI"))
        skip(); /* run through tests/servers/nats.sh (test_e2e_crash_nats) */
#if defined(__SANITIZE_THREAD__)
    skip(); /* the NATS backend's threads outlive a close briefly: no fork under TSan then */
#endif
    crash_rounds_on("crashnats", VDB_SYNC_FULL, 2, 0x4a75ULL, "nats");
}

/* ---- file helpers ---------------------------------------------------------------------------- */

/* The newest (largest-named) .log file in dir, or "" when none. */
static void newest_log(const char *dir, char *out, size_t n)
{
    out[0] = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    char best[256] = "";
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".log") && strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", e->d_name);
    }
    closedir(d);
    if (*best)
        snprintf(out, n, "%s/%s", dir, best);
}

/* The data channels (folders other than "ddl") under <db>/wal, sorted; returns how many. */
static size_t data_channels(const char *db, char names[][256], size_t max)
{
    char wal[4096];
    snprintf(wal, sizeof wal, "%s/wal", db);
    DIR *d = opendir(wal);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "ddl"))
            continue;
        snprintf(names[n++], 256, "%s", e->d_name);
    }
    closedir(d);
    for (size_t i = 1; i < n; i++) /* insertion sort */
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[256];
            memcpy(t, names[j], 256);
            memcpy(names[j], names[j - 1], 256);
            memcpy(names[j - 1], t, 256);
        }
    return n;
}

static off_t file_size(const char *p)
{
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    return sb.st_size;
}

static void append_bytes(const char *p, const void *data, size_t n)
{
    int fd = open(p, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

static void flip_byte(const char *p, off_t off)
{
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    uint8_t c;
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x5a;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

/* Creates the collection (shards) and inserts batches 0..n-1, then closes. */
static void make_db(const char *path, uint32_t shards, int64_t n, bool flush)
{
    vdb_options o;
    open_opts(&o, VDB_SYNC_FULL);
    o.segment_max_rows = 1u << 20; /* only flush seals: every record stays in the log */
    vdb_db *db;
    assert_int_equal(vdb_open(path, &o, &db), VDB_OK);
    vdb_schema *s = crash_schema(shards);
    assert_non_null(s);
    assert_int_equal(vdb_create_collection(db, s), VDB_OK);
    vdb_schema_free(s);
    for (int64_t b = 0; b < n; b++)
        assert_int_equal(insert_batch(db, b), VDB_OK);
    if (flush)
        assert_int_equal(vdb_flush(db, COLL), VDB_OK);
    vdb_close(db);
}

/* Number of rows of batch b visible in db; checks the values of those that are. */
static size_t batch_visible(vdb_db *db, int64_t b)
{
    size_t n = batch_rows(b);
    int64_t ids[200];
    for (size_t i = 0; i < n; i++)
        ids[i] = row_id(b, i);
    const char *outs[] = {"batch", "emb"};
    vdb_read_opts ro = {.struct_size = sizeof ro, .output_fields = outs, .n_output_fields = 2};
    vdb_pk_list pks = {.ints = ids, .count = n};
    vdb_result *res = NULL;
    assert_int_equal(vdb_get(db, COLL, &pks, &ro, &res), VDB_OK);
    size_t got = vdb_result_rows(res, 0);
    for (size_t r = 0; r < got; r++) {
        int64_t id = vdb_result_pk_int(res, 0, r);
        assert_true(id >= ids[0] && id <= ids[n - 1]);
        vdb_value v;
        assert_int_equal(vdb_result_field(res, 0, r, "batch", &v), VDB_OK);
        assert_int_equal(v.u.i64, b);
        assert_int_equal(vdb_result_field(res, 0, r, "emb", &v), VDB_OK);
        for (int d = 0; d < DIM; d++)
            assert_true(v.u.vec.ptr[d] == vec_at(id, d));
    }
    vdb_result_free(res);
    return got;
}

static vdb_db *open_ok(const char *path)
{
    vdb_options o;
    open_opts(&o, VDB_SYNC_FULL);
    o.segment_max_rows = 1u << 20;
    vdb_db *db = NULL;
    vdb_status st = vdb_open(path, &o, &db);
    if (st != VDB_OK)
        fail_msg("open %s: %s: %s", path, vdb_status_name(st), vdb_errmsg(NULL));
    return db;
}

/* ---- torn and corrupt WAL -------------------------------------------------------------------- */

static void test_wal_garbage_tail_is_cut_and_every_batch_survives(void **state)
{
    (void)state;
    char *path = test_tmpdir("torn");
    make_db(path, 2, 6, false);
    char chans[8][256];
    size_t nch = data_channels(path, chans, 8);
    assert_int_equal(nch, 2);
    uint8_t garbage[37];
    uint64_t rng = 99;
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)test_rand(&rng);
    for (size_t c = 0; c < nch; c++) {
        char dir[4096], file[4400];
        snprintf(dir, sizeof dir, "%s/wal/%s", path, chans[c]);
        newest_log(dir, file, sizeof file);
        assert_true(file[0] != 0);
        append_bytes(file, garbage, sizeof garbage);
    }
    vdb_db *db = open_ok(path);
    for (int64_t b = 0; b < 6; b++)
        assert_int_equal(batch_visible(db, b), batch_rows(b));
    /* New writes after the cut tail survive the next reopen too. */
    assert_int_equal(insert_batch(db, 6), VDB_OK);
    vdb_close(db);
    db = open_ok(path);
    for (int64_t b = 0; b < 7; b++)
        assert_int_equal(batch_visible(db, b), batch_rows(b));
    vdb_close(db);
    test_rmdir(path);
    free(path);
}

/* Opens path expecting VDB_ECORRUPT whose message names each of want (NULL-terminated). */
static void expect_corrupt(const char *path, const char *const *want)
{
    vdb_options o;
    open_opts(&o, VDB_SYNC_FULL);
    o.segment_max_rows = 1u << 20;
    vdb_db *db = NULL;
    vdb_status st = vdb_open(path, &o, &db);
    if (st == VDB_OK) {
        vdb_stats stats = {.struct_size = sizeof stats};
        vdb_collection_stats(db, COLL, &stats);
        vdb_close(db);
        fail_msg("BUG: open succeeded over a damaged log (%llu rows visible)",
                 (unsigned long long)stats.row_count);
    }
    const char *msg = vdb_errmsg(NULL);
    if (st != VDB_ECORRUPT)
        fail_msg("expected VDB_ECORRUPT, got %s: %s", vdb_status_name(st), msg);
    assert_null(db);
    for (; *want; want++)
        if (!strstr(msg, *want))
            fail_msg("the message does not name %s: %s", *want, msg);
}

/* The channel folder of the only data channel, and its newest file. */
static void only_channel(const char *path, char *dir, size_t dn, char *file, size_t fn)
{
    char chans[8][256];
    assert_int_equal(data_channels(path, chans, 8), 1);
    snprintf(dir, dn, "%s/wal/%s", path, chans[0]);
    newest_log(dir, file, fn);
    assert_true(file[0] != 0);
}

static void remove_marker(const char *dir)
{
    char m[4400];
    snprintf(m, sizeof m, "%s/COMMIT", dir);
    assert_int_equal(unlink(m), 0);
}

static uint64_t visible_rows(vdb_db *db)
{
    vdb_stats stats = {.struct_size = sizeof stats};
    assert_int_equal(vdb_collection_stats(db, COLL, &stats), VDB_OK);
    return stats.row_count;
}

/* Issue 13, case 3: a channel file cut short lost acknowledged records: VDB_ECORRUPT naming
 * it. Only without the channel's COMMIT (its bounds) does the cut look like a torn write,
 * which is then cut, said and counted. */
static void test_wal_truncated_last_record_is_ecorrupt_naming_the_file(void **state)
{
    (void)state;
    char *path = test_tmpdir("trunc");
    make_db(path, 1, 5, false);
    char dir[4096], file[4400];
    only_channel(path, dir, sizeof dir, file, sizeof file);
    off_t sz = file_size(file);
    assert_int_equal(truncate(file, sz - 3), 0);
    const char *want[] = {strrchr(file, '/') + 1, strrchr(dir, '/') + 1, NULL};
    expect_corrupt(path, want);
    assert_int_equal(file_size(file), sz - 3); /* the evidence stays */

    /* Without COMMIT the cut looks like a torn write; the position the channel had at the
     * last close (in the meta store) still says records are missing. */
    remove_marker(dir);
    const char *want2[] = {strrchr(dir, '/') + 1, "loghw/", NULL};
    expect_corrupt(path, want2);
    assert_int_equal(file_size(file), sz - 3); /* the WAL cut nothing of a refused open */
    test_rmdir(path);
    free(path);
}

/* A torn write (a frame the file ends inside of, never acknowledged) is cut at open: every
 * acknowledged batch is there, the open counts the cut in vdb_stats.torn_tails (and says it
 * on stderr), and writes go on after it. */
static void test_wal_torn_tail_is_cut_and_counted(void **state)
{
    (void)state;
    char *path = test_tmpdir("tornc");
    make_db(path, 1, 5, false);
    char dir[4096], file[4400];
    only_channel(path, dir, sizeof dir, file, sizeof file);
    off_t sz = file_size(file);
    /* The header of record 6 claiming 1000 payload bytes, and 20 of them. */
    uint8_t torn[36] = {0xe8, 0x03, 0, 0, 0x11, 0x22, 0x33, 0x44, 6, 0, 0, 0, 0, 0, 0, 0};
    for (size_t i = 16; i < sizeof torn; i++)
        torn[i] = (uint8_t)(i * 7 + 1);
    append_bytes(file, torn, sizeof torn);
    vdb_db *db = open_ok(path);
    for (int64_t b = 0; b < 5; b++)
        assert_int_equal(batch_visible(db, b), batch_rows(b));
    vdb_stats stats = {.struct_size = sizeof stats};
    assert_int_equal(vdb_collection_stats(db, COLL, &stats), VDB_OK);
    assert_int_equal(stats.torn_tails, 1);
    assert_int_equal(file_size(file), sz + (off_t)sizeof torn); /* cut at the next write */
    assert_int_equal(insert_batch(db, 5), VDB_OK);
    vdb_close(db);
    db = open_ok(path);
    for (int64_t b = 0; b < 6; b++)
        assert_int_equal(batch_visible(db, b), batch_rows(b));
    assert_int_equal(vdb_collection_stats(db, COLL, &stats), VDB_OK);
    assert_int_equal(stats.torn_tails, 0); /* nothing cut this time */
    vdb_close(db);
    test_rmdir(path);
    free(path);
}

/* Issue 13, case 3: a deleted channel file, or channel folder, behind the checkpoint and with
 * rows after it: VDB_ECORRUPT naming it, so no insert can get a position below the
 * checkpoint and vanish at the next open. */
static void test_wal_deleted_channel_file_or_folder_is_ecorrupt(void **state)
{
    (void)state;
    char *path = test_tmpdir("walgone");
    make_db(path, 1, 4, true); /* sealed: the checkpoint is past batches 0..3 */
    vdb_db *db = open_ok(path);
    assert_int_equal(insert_batch(db, 4), VDB_OK); /* in the log after the checkpoint */
    assert_int_equal(delete_rows_of(db, 1), VDB_OK);
    vdb_close(db);
    char dir[4096], file[4400];
    only_channel(path, dir, sizeof dir, file, sizeof file);
    char saved[4500];
    snprintf(saved, sizeof saved, "%s.saved", file);
    assert_int_equal(rename(file, saved), 0);
    const char *want[] = {strrchr(file, '/') + 1, "missing", NULL};
    expect_corrupt(path, want);
    /* The whole folder gone, COMMIT with it: the meta store's checkpoint still bounds it. */
    char moved[4500];
    snprintf(moved, sizeof moved, "%s.moved", dir);
    assert_int_equal(rename(saved, file), 0);
    assert_int_equal(rename(dir, moved), 0);
    const char *want2[] = {strrchr(dir, '/') + 1, "ends at position 0", NULL};
    expect_corrupt(path, want2);
    /* Put back, everything is there. */
    assert_int_equal(rename(moved, dir), 0);
    db = open_ok(path);
    size_t n_del = 0;
    for (size_t i = 0; i < batch_rows(1); i++)
        n_del += row_in_delete_set(i);
    assert_int_equal(batch_visible(db, 1), batch_rows(1) - n_del);
    assert_int_equal(batch_visible(db, 4), batch_rows(4));
    vdb_close(db);
    test_rmdir(path);
    free(path);
}

/* A collection never sealed has no checkpoint; the position its channel had at the last
 * close (kept in the meta store) bounds it instead. */
static void test_wal_removed_folder_of_unsealed_collection_is_ecorrupt(void **state)
{
    (void)state;
    char *path = test_tmpdir("walhw");
    make_db(path, 1, 3, false);
    char dir[4096], file[4400], moved[4500];
    only_channel(path, dir, sizeof dir, file, sizeof file);
    snprintf(moved, sizeof moved, "%s.moved", dir);
    assert_int_equal(rename(dir, moved), 0);
    const char *want[] = {strrchr(dir, '/') + 1, "loghw/", NULL};
    expect_corrupt(path, want);
    assert_int_equal(rename(moved, dir), 0);
    vdb_db *db = open_ok(path);
    for (int64_t b = 0; b < 3; b++)
        assert_int_equal(batch_visible(db, b), batch_rows(b));
    vdb_close(db);
    test_rmdir(path);
    free(path);
}

/* Issue 13, case 4: one flipped bit in the last frame of a channel is damage to acknowledged
 * records (deletes here), not a torn tail: VDB_ECORRUPT naming the file, and nothing cut.
 * Also without COMMIT: the frame is whole and fails its checksum. */
static void test_wal_flipped_bit_in_last_frame_is_ecorrupt(void **state)
{
    (void)state;
    char *path = test_tmpdir("walflip");
    make_db(path, 1, 4, false);
    vdb_db *db = open_ok(path);
    assert_int_equal(delete_rows_of(db, 2), VDB_OK); /* the last frame: a delete */
    vdb_close(db);
    char dir[4096], file[4400];
    only_channel(path, dir, sizeof dir, file, sizeof file);
    off_t sz = file_size(file);
    int fd = open(file, O_RDWR);
    assert_true(fd >= 0);
    uint8_t c;
    assert_int_equal(pread(fd, &c, 1, sz - 7), 1);
    c ^= 0x01;
    assert_int_equal(pwrite(fd, &c, 1, sz - 7), 1);
    close(fd);
    const char *want[] = {strrchr(file, '/') + 1, NULL};
    expect_corrupt(path, want);
    assert_int_equal(file_size(file), sz);
    remove_marker(dir);
    expect_corrupt(path, want);
    assert_int_equal(file_size(file), sz);
    test_rmdir(path);
    free(path);
}

/* Issue 13, case 2: a collection made again with the same id (its meta record lost: here the
 * meta folder is put back as it was before the first one was created) never reads the old
 * one's WAL channel: it has its own incarnation in its names. */
static void test_recreated_collection_never_reads_an_old_ones_channel(void **state)
{
    (void)state;
    char *path = test_tmpdir("reborn");
    vdb_db *db = open_ok(path);
    vdb_close(db);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cp -a '%s/meta' '%s/meta.before'", path, path);
    assert_int_equal(system(cmd), 0);
    make_db(path, 1, 3, false); /* the first collection: batches 0..2, in its channel */
    snprintf(cmd, sizeof cmd, "rm -rf '%s/meta' && mv '%s/meta.before' '%s/meta'", path, path,
             path);
    assert_int_equal(system(cmd), 0);
    make_db(path, 1, 0, false); /* the same id again, nothing in it */
    char chans[8][256];
    assert_int_equal(data_channels(path, chans, 8), 1); /* the new one has no channel yet */
    db = open_ok(path);
    assert_int_equal(visible_rows(db), 0);
    assert_int_equal(insert_batch(db, 7), VDB_OK);
    vdb_close(db);
    assert_int_equal(data_channels(path, chans, 8), 2); /* its own, beside the old one */
    db = open_ok(path);
    assert_int_equal(visible_rows(db), batch_rows(7));
    assert_int_equal(batch_visible(db, 0), 0);
    assert_int_equal(batch_visible(db, 7), batch_rows(7));
    vdb_close(db);
    test_rmdir(path);
    free(path);
}

static void test_wal_corrupt_record_in_middle_fails_open_with_ecorrupt(void **state)
{
    (void)state;
    char *path = test_tmpdir("walmid");
    make_db(path, 1, 5, false);
    char chans[8][256];
    assert_int_equal(data_channels(path, chans, 8), 1);
    char dir[4096], file[4400];
    snprintf(dir, sizeof dir, "%s/wal/%s", path, chans[0]);
    newest_log(dir, file, sizeof file);
    assert_true(file[0] != 0);
    /* The first record holds batch 0 (thousands of bytes); flip a byte well inside its
     * payload. Four more records follow it. */
    assert_true(file_size(file) > 5 * 1000);
    flip_byte(file, 16 + 200);
    off_t before = file_size(file);
    vdb_options o;
    open_opts(&o, VDB_SYNC_FULL);
    vdb_db *db = NULL;
    vdb_status st = vdb_open(path, &o, &db);
    const char *msg = vdb_errmsg(NULL);
    if (st == VDB_OK) {
        size_t vis = 0;
        for (int64_t b = 0; b < 5; b++)
            vis += batch_visible(db, b) ? 1 : 0;
        vdb_close(db);
        fail_msg("BUG: open succeeded over a corrupt record followed by 4 good ones: %zu of 5 "
                 "acknowledged batches visible; the WAL file went from %lld to %lld bytes",
                 vis, (long long)before, (long long)file_size(file));
    }
    assert_int_equal(st, VDB_ECORRUPT);
    assert_null(db);
    if (!strstr(msg, chans[0]))
        fail_msg("the message does not name the channel %s: %s", chans[0], msg);
    /* the evidence is still there: the file was not cut */
    assert_int_equal(file_size(file), before);
    test_rmdir(path);
    free(path);
}

/* A delete acknowledged before close is replayed from the log at open. */
static void test_delete_in_log_is_replayed_at_reopen(void **state)
{
    (void)state;
    char *path = test_tmpdir("delreplay");
    make_db(path, 1, 2, false);
    vdb_db *db = open_ok(path);
    assert_int_equal(delete_rows_of(db, 1), VDB_OK);
    vdb_close(db);
    vdb_options o;
    open_opts(&o, VDB_SYNC_FULL);
    vdb_status st = vdb_open(path, &o, &db);
    if (st != VDB_OK)
        fail_msg("BUG: reopen after insert + delete (no flush): %s: %s", vdb_status_name(st),
                 vdb_errmsg(NULL));
    assert_int_equal(batch_visible(db, 0), batch_rows(0));
    size_t n_del = 0;
    for (size_t i = 0; i < batch_rows(1); i++)
        n_del += row_in_delete_set(i);
    assert_int_equal(batch_visible(db, 1), batch_rows(1) - n_del);
    vdb_close(db);
    test_rmdir(path);
    free(path);
}

/* Bytes in the .log files of the channel folder whose name ends with suffix ("-s1"); 0 while
 * the folder does not exist yet (channels are made at their first append). */
static off_t channel_bytes(const char *db, const char *suffix)
{
    char wal[4096];
    snprintf(wal, sizeof wal, "%s/wal", db);
    DIR *w = opendir(wal);
    assert_non_null(w);
    off_t total = 0;
    struct dirent *ce;
    while ((ce = readdir(w))) {
        size_t l = strlen(ce->d_name), sl = strlen(suffix);
        if (l < sl || strcmp(ce->d_name + l - sl, suffix))
            continue;
        char dir[4400];
        snprintf(dir, sizeof dir, "%s/%s", wal, ce->d_name);
        DIR *d = opendir(dir);
        assert_non_null(d);
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char p[4800];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            total += file_size(p);
        }
        closedir(d);
    }
    closedir(w);
    return total;
}

static vdb_status insert_ids(vdb_db *db, const int64_t *ids, size_t n, int64_t bn)
{
    int64_t bns[64];
    float vecs[64 * DIM];
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        bns[i] = bn;
        for (int d = 0; d < DIM; d++)
            vecs[i * DIM + d] = vec_at(ids[i], d);
    }
    vdb_batch *batch;
    assert_int_equal(vdb_batch_new(&batch), VDB_OK);
    assert_int_equal(vdb_batch_add_column(batch, "id", VDB_TYPE_INT64, ids, NULL, n, 0), VDB_OK);
    assert_int_equal(vdb_batch_add_column(batch, "batch", VDB_TYPE_INT64, bns, NULL, n, 0),
                     VDB_OK);
    assert_int_equal(vdb_batch_add_column(batch, "emb", VDB_TYPE_FLOAT_VECTOR, vecs, NULL, n,
                                          DIM), VDB_OK);
    vdb_status st = vdb_insert(db, COLL, NULL, batch, NULL, NULL);
    vdb_batch_free(batch);
    return st;
}

/* A 2-shard insert whose second part never reached the log (a crash between the parts) stays
 * invisible, also after the other shard's checkpoint moves past its timestamp. */
static void test_torn_two_shard_insert_stays_invisible_after_other_shard_flushes(void **state)
{
    (void)state;
    /* Learn which ids go to shard 1 (by which channel grows) in a scratch database. */
    char *probe = test_tmpdir("probe");
    make_db(probe, 2, 0, false);
    char chans[8][256];
    int64_t s1_ids[8];
    size_t n1 = 0;
    vdb_db *db = open_ok(probe);
    for (int64_t id = 5000000; n1 < 8 && id < 5000200; id++) {
        off_t before = channel_bytes(probe, "-s1");
        assert_int_equal(insert_ids(db, &id, 1, -1), VDB_OK);
        if (channel_bytes(probe, "-s1") > before)
            s1_ids[n1++] = id;
    }
    vdb_close(db);
    test_rmdir(probe);
    free(probe);
    assert_int_equal(n1, 8);

    char *path = test_tmpdir("torn2");
    make_db(path, 2, 1, true); /* batch 0, sealed on both shards */
    assert_int_equal(data_channels(path, chans, 8), 2);
    /* The write to tear, parts on both shards, by a process that then dies without closing
     * (so the meta store keeps the channels' positions of the last close). */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        vdb_options co;
        open_opts(&co, VDB_SYNC_FULL);
        co.segment_max_rows = 1u << 20;
        vdb_db *cdb;
        if (vdb_open(path, &co, &cdb) != VDB_OK)
            _exit(2);
        _exit(insert_batch(cdb, 1) == VDB_OK ? 0 : 3);
    }
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    /* Tear it: cut the end off shard 1's part (the last record of that channel). */
    char dir[4096], file[4400];
    snprintf(dir, sizeof dir, "%s/wal/%s", path, chans[1]);
    newest_log(dir, file, sizeof file);
    assert_true(file[0] != 0);
    /* As a crash between the parts leaves it: never acknowledged, so COMMIT's bounds do not
     * cover it (this test's process saw it acknowledged; the marker is taken away). */
    remove_marker(dir);
    assert_int_equal(truncate(file, file_size(file) - 5), 0);
    db = open_ok(path);
    assert_int_equal(batch_visible(db, 0), batch_rows(0));
    assert_int_equal(batch_visible(db, 1), 0);
    /* New rows on shard 1 only, then flush: shard 1's checkpoint passes batch 1's timestamp
     * while shard 0's log still holds batch 1's first part. */
    assert_int_equal(insert_ids(db, s1_ids, n1, 2), VDB_OK);
    assert_int_equal(vdb_flush(db, COLL), VDB_OK);
    assert_int_equal(batch_visible(db, 1), 0);
    vdb_close(db);
    db = open_ok(path);
    size_t vis = batch_visible(db, 1), vis0 = batch_visible(db, 0);
    vdb_close(db);
    if (vis != 0)
        fail_msg("BUG: torn 2-shard insert (batch 1, %zu rows) became partly visible after "
                 "reopen: %zu rows", batch_rows(1), vis);
    assert_int_equal(vis0, batch_rows(0));
    test_rmdir(path);
    free(path);
}

/* ---- corrupt or missing segment objects ------------------------------------------------------ */

/* Finds a file whose name starts with prefix under dir (recursively); rel gets its path
 * relative to base. */
static bool find_object(const char *dir, size_t base_len, const char *prefix, char *full,
                        size_t n)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    struct dirent *e;
    bool found = false;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(p, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode))
            found = find_object(p, base_len, prefix, full, n);
        else if (!strncmp(e->d_name, prefix, strlen(prefix))) {
            snprintf(full, n, "%s", p);
            found = true;
        }
    }
    closedir(d);
    (void)base_len;
    return found;
}

static void damage_object_and_reopen(const char *name, bool remove_it)
{
    char *path = test_tmpdir(name);
    make_db(path, 1, 3, true);
    char objs[4096], file[4096];
    snprintf(objs, sizeof objs, "%s/objects", path);
    assert_true(find_object(objs, strlen(objs), "col_", file, sizeof file));
    const char *rel = file + strlen(objs) + 1; /* the object key, e.g. c.../<seg>/col_2 */
    if (remove_it) {
        assert_int_equal(unlink(file), 0);
    } else {
        off_t sz = file_size(file);
        assert_true(sz > 0);
        flip_byte(file, sz / 2);
    }
    vdb_options o;
    open_opts(&o, VDB_SYNC_FULL);
    vdb_db *db = NULL;
    vdb_status st = vdb_open(path, &o, &db);
    const char *msg = vdb_errmsg(NULL);
    if (st == VDB_OK) {
        vdb_close(db);
        fail_msg("open succeeded with a %s segment object %s", remove_it ? "missing" : "corrupt",
                 rel);
    }
    assert_null(db);
    /* a missing one too (issue 13, case 5): the manifest lists it */
    assert_int_equal(st, VDB_ECORRUPT);
    if (!strstr(msg, rel))
        fail_msg("the message does not name the object %s: %s", rel, msg);
    if (!strstr(msg, "segment"))
        fail_msg("the message does not name the segment: %s", msg);
    test_rmdir(path);
    free(path);
}

static void test_corrupt_segment_object_fails_open_with_ecorrupt_naming_it(void **state)
{
    (void)state;
    damage_object_and_reopen("objflip", false);
}

static void test_missing_segment_object_fails_open_naming_it(void **state)
{
    (void)state;
    damage_object_and_reopen("objgone", true);
}

/* vdb_check reads every segment file and log record of the open database and reports each
 * problem, naming its file. */
typedef struct problems {
    int n;
    char msgs[8][1024];
    vdb_status st[8];
} problems;

static void on_problem(void *arg, vdb_status st, const char *msg)
{
    problems *p = arg;
    if (p->n < 8) {
        p->st[p->n] = st;
        snprintf(p->msgs[p->n], sizeof p->msgs[0], "%s", msg);
    }
    p->n++;
}

static bool some_problem_names(const problems *p, const char *what)
{
    for (int i = 0; i < p->n && i < 8; i++)
        if (strstr(p->msgs[i], what))
            return true;
    return false;
}

static void test_vdb_check_reports_each_damaged_file(void **state)
{
    (void)state;
    char *path = test_tmpdir("check");
    make_db(path, 1, 3, true);
    vdb_db *db = open_ok(path);
    assert_int_equal(insert_batch(db, 3), VDB_OK);
    problems p = {0};
    uint64_t n = 99;
    assert_int_equal(vdb_check(db, on_problem, &p, &n), VDB_OK);
    assert_int_equal(n, 0);
    assert_int_equal(p.n, 0);
    /* Damage three files under the open database. */
    char objs[4096], col[4096], bloom[4096], dir[4096], wal[4400];
    snprintf(objs, sizeof objs, "%s/objects", path);
    assert_true(find_object(objs, strlen(objs), "col_", col, sizeof col));
    assert_true(find_object(objs, strlen(objs), "bloom", bloom, sizeof bloom));
    flip_byte(col, file_size(col) / 2);
    assert_int_equal(unlink(bloom), 0);
    only_channel(path, dir, sizeof dir, wal, sizeof wal);
    flip_byte(wal, file_size(wal) - 200); /* inside batch 3's record: the log's last */
    assert_int_equal(vdb_check(db, on_problem, &p, &n), VDB_ECORRUPT);
    assert_int_equal(n, 3);
    assert_int_equal(p.n, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(p.st[i], VDB_ECORRUPT);
    assert_true(some_problem_names(&p, col + strlen(objs) + 1));
    assert_true(some_problem_names(&p, bloom + strlen(objs) + 1));
    assert_true(some_problem_names(&p, strrchr(wal, '/') + 1));
    assert_non_null(strstr(vdb_errmsg(NULL), "3 problems"));
    assert_int_equal(vdb_check(db, NULL, NULL, NULL), VDB_ECORRUPT); /* no callback needed */
    vdb_close(db);
    test_rmdir(path);
    free(path);
}

/* ---- the folder lock -------------------------------------------------------------------------- */

static void test_second_process_gets_elocked_with_pid_until_holder_killed(void **state)
{
    (void)state;
    char *path = test_tmpdir("lock");
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        vdb_db *db;
        vdb_options o;
        open_opts(&o, VDB_SYNC_FULL);
        if (vdb_open(path, &o, &db) != VDB_OK) {
            say(fds[1], "E %s\n", vdb_errmsg(NULL));
            _exit(2);
        }
        say(fds[1], "O\n");
        for (;;)
            pause();
    }
    close(fds[1]);
    char buf[512] = "";
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = 0;
    assert_string_equal(buf, "O\n");
    vdb_options o;
    open_opts(&o, VDB_SYNC_FULL);
    vdb_db *db = NULL;
    vdb_status st = vdb_open(path, &o, &db);
    assert_int_equal(st, VDB_ELOCKED);
    assert_null(db);
    char pidtext[32];
    snprintf(pidtext, sizeof pidtext, "%ld", (long)pid);
    if (!strstr(vdb_errmsg(NULL), pidtext))
        fail_msg("ELOCKED message does not name pid %s: %s", pidtext, vdb_errmsg(NULL));
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    close(fds[0]);
    st = vdb_open(path, &o, &db);
    if (st != VDB_OK)
        fail_msg("open after the holder died: %s: %s", vdb_status_name(st), vdb_errmsg(NULL));
    /* the database is usable */
    vdb_schema *s = crash_schema(1);
    assert_int_equal(vdb_create_collection(db, s), VDB_OK);
    vdb_schema_free(s);
    assert_int_equal(insert_batch(db, 0), VDB_OK);
    assert_int_equal(batch_visible(db, 0), batch_rows(0));
    vdb_close(db);
    test_rmdir(path);
    free(path);
}

int main(int argc, char **argv)
{
    if (argc > 1) /* a test name pattern: test_e2e_crash '*nats*' */
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_writer_one_shard_loses_no_acknowledged_batch),
        cmocka_unit_test(test_sigkill_writer_four_shards_loses_no_acknowledged_batch),
        cmocka_unit_test(test_sigkill_writer_sync_off_loses_no_acknowledged_batch),
        cmocka_unit_test(test_sigkill_writer_sync_batch_loses_no_acknowledged_batch),
        cmocka_unit_test(test_wal_garbage_tail_is_cut_and_every_batch_survives),
        cmocka_unit_test(test_wal_truncated_last_record_is_ecorrupt_naming_the_file),
        cmocka_unit_test(test_wal_torn_tail_is_cut_and_counted),
        cmocka_unit_test(test_wal_deleted_channel_file_or_folder_is_ecorrupt),
        cmocka_unit_test(test_wal_removed_folder_of_unsealed_collection_is_ecorrupt),
        cmocka_unit_test(test_wal_flipped_bit_in_last_frame_is_ecorrupt),
        cmocka_unit_test(test_recreated_collection_never_reads_an_old_ones_channel),
        cmocka_unit_test(test_wal_corrupt_record_in_middle_fails_open_with_ecorrupt),
        cmocka_unit_test(test_delete_in_log_is_replayed_at_reopen),
        cmocka_unit_test(test_torn_two_shard_insert_stays_invisible_after_other_shard_flushes),
        cmocka_unit_test(test_corrupt_segment_object_fails_open_with_ecorrupt_naming_it),
        cmocka_unit_test(test_missing_segment_object_fails_open_naming_it),
        cmocka_unit_test(test_vdb_check_reports_each_damaged_file),
        cmocka_unit_test(test_second_process_gets_elocked_with_pid_until_holder_killed),
        /* last: the backends' threads outlive them in the process */
        cmocka_unit_test(test_sigkill_writer_rocksdb_log_loses_no_acknowledged_batch),
        cmocka_unit_test(test_sigkill_writer_nats_log_loses_no_acknowledged_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

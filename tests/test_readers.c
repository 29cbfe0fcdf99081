/* Reader processes on one folder (vdb_options.read_only): a writer process ingests batches
 * (two shards, so each batch is a write in two parts), flushes, compacts and builds an HNSW
 * index while 4 reader processes count, search and get. Each reader checks every answer
 * against what the writer had begun and acknowledged (shared memory): only whole batches, a
 * prefix of them, never fewer than it saw before (monotonic), and a STRONG read sees every
 * batch acknowledged before it began (the staleness bound, without clocks). Then the writer
 * is SIGKILLed mid-ingest; the readers go on answering, a new writer opens the folder,
 * carries on, and the readers follow it. Readers refuse writes (VDB_EREADONLY) and a second
 * writer still gets VDB_ELOCKED. The parent opens no database (it only forks). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vdb/vdb.h>

#include "core/db.h" /* follow_loads / follow_tails: which way each reader followed */
#include "test_common.h"

#define DIM 16
#define BATCH 100
#define READERS 4
#define COLL "docs"

typedef struct shared {
    atomic_llong begun;      /* batches the writer has begun (batch b holds ids b*BATCH..) */
    atomic_llong acked;      /* batches acknowledged (vdb_insert returned VDB_OK) */
    atomic_int writer_gen;   /* 1: the first writer, 2: the one after the crash */
    atomic_int stop_readers;
    atomic_int ready;        /* readers that opened */
    atomic_int failures;
    atomic_llong reads[READERS], strong[READERS];
    atomic_llong loads[READERS], tails[READERS]; /* whole loads and log tails applied */
    char first_failure[1024];
    atomic_int refusals_done; /* reader 0 has run check_refusals (the first writer alive) */
} shared;

static shared *sh;

static void child_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void child_fail(const char *fmt, ...)
{
    if (atomic_fetch_add(&sh->failures, 1) == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sh->first_failure, sizeof sh->first_failure, fmt, ap);
        va_end(ap);
    }
}

static float vec_at(int64_t id, int d)
{
    uint64_t s = (uint64_t)id * 2654435761u + (uint64_t)d * 40503u + 11;
    return test_randf(&s);
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&t, NULL);
}

/* ---- the writer --------------------------------------------------------------------------- */

static vdb_status insert_batch(vdb_db *db, long long b)
{
    int64_t ids[BATCH];
    static float vecs[BATCH * DIM];
    for (int i = 0; i < BATCH; i++) {
        ids[i] = b * BATCH + i;
        for (int d = 0; d < DIM; d++)
            vecs[i * DIM + d] = vec_at(ids[i], d);
    }
    vdb_batch *bt = NULL;
    vdb_status st = vdb_batch_new(&bt);
    if (st == VDB_OK)
        st = vdb_batch_add_column(bt, "id", VDB_TYPE_INT64, ids, NULL, BATCH, 0);
    if (st == VDB_OK)
        st = vdb_batch_add_column(bt, "emb", VDB_TYPE_FLOAT_VECTOR, vecs, NULL, BATCH, DIM);
    if (st == VDB_OK)
        st = vdb_insert(db, COLL, NULL, bt, NULL, NULL);
    vdb_batch_free(bt);
    return st;
}

static vdb_db *open_writer(const char *path)
{
    vdb_options o;
    vdb_options_init(&o);
    o.segment_max_rows = 1500;
    o.compaction_interval_ms = 300;
    o.compaction_min_segments = 2;
    o.retention_seconds = 1;
    o.index_build_threads = 1;
    vdb_db *db = NULL;
    vdb_status st = vdb_open(path, &o, &db);
    if (st != VDB_OK)
        child_fail("writer open: %s: %s", vdb_status_name(st), vdb_errmsg(NULL));
    return db;
}

/* Ingests batches from the first not yet there up to `upto` (the first writer: until it is
 * killed), flushing every 10 and compacting every 25. */
static void writer(const char *path, int gen, long long upto)
{
    vdb_db *db = open_writer(path);
    if (!db)
        _exit(1);
    vdb_status st = VDB_OK;
    if (gen == 1) {
        vdb_schema *s = NULL;
        vdb_field_def id = {.struct_size = sizeof id, .name = "id", .type = VDB_TYPE_INT64,
                            .is_primary = 1};
        vdb_field_def emb = {.struct_size = sizeof emb, .name = "emb",
                             .type = VDB_TYPE_FLOAT_VECTOR, .dim = DIM,
                             .metric = VDB_METRIC_L2};
        st = vdb_schema_new(COLL, &s);
        if (st == VDB_OK)
            st = vdb_schema_add_field(s, &id);
        if (st == VDB_OK)
            st = vdb_schema_add_field(s, &emb);
        if (st == VDB_OK)
            st = vdb_schema_set_shards(s, 2);
        if (st == VDB_OK)
            st = vdb_create_collection(db, s);
        vdb_schema_free(s);
    } else {
        /* after the crash: the batch being written was whole or not at all */
        uint64_t n = 0;
        st = vdb_count(db, COLL, NULL, NULL, &n);
        long long m = (long long)(n / BATCH);
        if (st == VDB_OK && (n % BATCH || m < atomic_load(&sh->acked) ||
                             m > atomic_load(&sh->begun)))
            child_fail("the new writer found %llu rows: acked %lld batches, begun %lld",
                       (unsigned long long)n, atomic_load(&sh->acked),
                       atomic_load(&sh->begun));
        atomic_store(&sh->acked, m);
        atomic_store(&sh->begun, m);
    }
    atomic_store(&sh->writer_gen, gen);
    for (long long b = atomic_load(&sh->begun); st == VDB_OK && b < upto; b++) {
        atomic_store(&sh->begun, b + 1);
        st = insert_batch(db, b);
        if (st != VDB_OK)
            break;
        atomic_store(&sh->acked, b + 1);
        if (b % 10 == 9)
            st = vdb_flush(db, COLL);
        if (st == VDB_OK && b % 25 == 24)
            st = vdb_compact(db, COLL);
        if (st == VDB_OK && b == 15)
            st = vdb_create_index(db, COLL, "emb", "HNSW", "M=8,efConstruction=32");
    }
    if (st != VDB_OK)
        child_fail("writer %d: %s: %s", gen, vdb_status_name(st), vdb_errmsg(NULL));
    vdb_close(db);
    _exit(0);
}

/* ---- the readers -------------------------------------------------------------------------- */

static void check_refusals(vdb_db *db, const char *path)
{
    int64_t id = 1;
    float v[DIM] = {0};
    vdb_batch *bt = NULL;
    vdb_batch_new(&bt);
    vdb_batch_add_column(bt, "id", VDB_TYPE_INT64, &id, NULL, 1, 0);
    vdb_batch_add_column(bt, "emb", VDB_TYPE_FLOAT_VECTOR, v, NULL, 1, DIM);
    vdb_status st = vdb_insert(db, COLL, NULL, bt, NULL, NULL);
    vdb_batch_free(bt);
    if (st != VDB_EREADONLY)
        child_fail("insert on a reader: %s, expected VDB_EREADONLY", vdb_status_name(st));
    if ((st = vdb_flush(db, COLL)) != VDB_EREADONLY)
        child_fail("flush on a reader: %s", vdb_status_name(st));
    if ((st = vdb_compact(db, NULL)) != VDB_EREADONLY)
        child_fail("compact on a reader: %s", vdb_status_name(st));
    if ((st = vdb_drop_collection(db, COLL)) != VDB_EREADONLY)
        child_fail("drop on a reader: %s", vdb_status_name(st));
    vdb_db *w = NULL;
    if ((st = vdb_open(path, NULL, &w)) != VDB_ELOCKED) {
        child_fail("a second writer: %s, expected VDB_ELOCKED", vdb_status_name(st));
        vdb_close(w);
    }
}

static void reader(const char *path, int who)
{
    vdb_options o;
    vdb_options_init(&o);
    o.read_only = 1;
    o.read_only_refresh_ms = 50;
    vdb_db *db = NULL;
    vdb_status st = VDB_ENOTFOUND;
    for (int tries = 0; tries < 500 && st != VDB_OK; tries++) {
        st = vdb_open(path, &o, &db);
        if (st != VDB_OK)
            sleep_ms(10);
    }
    if (st != VDB_OK) {
        child_fail("reader %d open: %s: %s", who, vdb_status_name(st), vdb_errmsg(NULL));
        _exit(1);
    }
    atomic_fetch_add(&sh->ready, 1);
    if (who == 0) {
        check_refusals(db, path);
        atomic_store(&sh->refusals_done, 1);
    }
    uint64_t rng = 1234 + (uint64_t)who;
    long long last = 0;
    for (long long i = 0; !atomic_load(&sh->stop_readers) && getppid() != 1; i++) {
        bool strong = i % 8 == 0;
        long long acked_before = atomic_load(&sh->acked);
        vdb_read_opts ro = {.struct_size = sizeof ro,
                            .consistency = strong ? VDB_CONSISTENCY_STRONG
                                                  : VDB_CONSISTENCY_EVENTUALLY};
        uint64_t n = 0;
        st = vdb_count(db, COLL, NULL, &ro, &n);
        if (st == VDB_ENOTFOUND && !strong) /* before the writer made the collection */
            continue;
        long long begun_after = atomic_load(&sh->begun);
        if (st != VDB_OK) {
            child_fail("reader %d count: %s: %s", who, vdb_status_name(st), vdb_errmsg(NULL));
            break;
        }
        long long m = (long long)(n / BATCH);
        if (n % BATCH)
            child_fail("reader %d saw %llu rows: part of a batch", who, (unsigned long long)n);
        if (m > begun_after)
            child_fail("reader %d saw %lld batches, only %lld begun", who, m, begun_after);
        if (m < last)
            child_fail("reader %d went back from %lld batches to %lld", who, last, m);
        if (strong && m < acked_before)
            child_fail("reader %d: a STRONG count saw %lld batches, %lld were acknowledged "
                       "before it", who, m, acked_before);
        last = m;
        if (m > 0) { /* the whole of the prefix: its first and last rows, by key */
            int64_t keys[2] = {0, m * BATCH - 1};
            const char *outs[] = {"emb"};
            vdb_read_opts go = ro;
            go.consistency = VDB_CONSISTENCY_EVENTUALLY;
            go.output_fields = outs;
            go.n_output_fields = 1;
            vdb_result *res = NULL;
            st = vdb_get(db, COLL, &(vdb_pk_list){.ints = keys, .count = 2}, &go, &res);
            if (st != VDB_OK)
                child_fail("reader %d get: %s: %s", who, vdb_status_name(st), vdb_errmsg(NULL));
            else if (vdb_result_rows(res, 0) != 2)
                child_fail("reader %d: get of ids 0 and %lld found %zu rows (%lld batches "
                           "counted)", who, (long long)keys[1], vdb_result_rows(res, 0), m);
            vdb_result_free(res);
            /* a search finds a row by its own vector, and only rows begun */
            int64_t id = (int64_t)(test_rand(&rng) % (uint64_t)(m * BATCH));
            float q[DIM];
            for (int d = 0; d < DIM; d++)
                q[d] = vec_at(id, d);
            vdb_search_req rq = {.struct_size = sizeof rq, .collection = COLL, .vectors = q,
                                 .nq = 1, .dim = DIM, .k = 5,
                                 .read = {.consistency = VDB_CONSISTENCY_EVENTUALLY}};
            st = vdb_search(db, &rq, &res);
            long long begun = atomic_load(&sh->begun);
            if (st != VDB_OK) {
                child_fail("reader %d search: %s: %s", who, vdb_status_name(st),
                           vdb_errmsg(NULL));
            } else {
                for (size_t r = 0; r < vdb_result_rows(res, 0); r++)
                    if (vdb_result_pk_int(res, 0, r) >= begun * BATCH)
                        child_fail("reader %d: search found id %lld, not begun", who,
                                   (long long)vdb_result_pk_int(res, 0, r));
            }
            vdb_result_free(res);
        }
        atomic_fetch_add(&sh->reads[who], 1);
        if (strong)
            atomic_fetch_add(&sh->strong[who], 1);
    }
    /* the last word: everything acknowledged, seen */
    vdb_read_opts ro = {.struct_size = sizeof ro};
    uint64_t n = 0;
    st = vdb_count(db, COLL, NULL, &ro, &n);
    if (st != VDB_OK || (long long)n != atomic_load(&sh->acked) * BATCH)
        child_fail("reader %d: final STRONG count %s, %llu rows; %lld batches acknowledged",
                   who, vdb_status_name(st), (unsigned long long)n, atomic_load(&sh->acked));
    atomic_store(&sh->loads[who], (long long)__atomic_load_n(&db->follow_loads, __ATOMIC_RELAXED));
    atomic_store(&sh->tails[who], (long long)__atomic_load_n(&db->follow_tails, __ATOMIC_RELAXED));
    vdb_close(db);
    _exit(0);
}

/* ---- the test ----------------------------------------------------------------------------- */

static pid_t spawn_writer(const char *path, int gen, long long upto)
{
    pid_t p = fork();
    if (p == 0)
        writer(path, gen, upto);
    return p;
}

static void wait_acked(long long n, pid_t w)
{
    for (int i = 0; i < 120000 && atomic_load(&sh->acked) < n; i++) {
        if (waitpid(w, NULL, WNOHANG) == w) {
            atomic_store(&sh->stop_readers, 1);
            fail_msg("the writer exited early: %s", sh->first_failure);
        }
        sleep_ms(1);
    }
    assert_true(atomic_load(&sh->acked) >= n);
}

static void test_readers_follow_writer(void **state)
{
    (void)state;
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(sh != MAP_FAILED);
    memset(sh, 0, sizeof *sh);
    char *path = test_tmpdir("readers");
    assert_non_null(path);

    /* a reader of a folder without a database is refused, as is a log it cannot follow */
    pid_t p0 = fork();
    if (p0 == 0) {
        vdb_options o;
        vdb_options_init(&o);
        o.read_only = 1;
        vdb_db *db = NULL;
        if (vdb_open(path, &o, &db) != VDB_ENOTFOUND)
            _exit(1);
        o.log_uri = "rocksdb:///nonexistent"; /* a reader follows the WAL only, yet */
        _exit(vdb_open(path, &o, &db) == VDB_EUNSUPPORTED ? 0 : 2);
    }
    int ws;
    assert_int_equal(waitpid(p0, &ws, 0), p0);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);

    pid_t w = spawn_writer(path, 1, 1000000);
    wait_acked(1, w);
    pid_t r[READERS];
    for (int i = 0; i < READERS; i++) {
        r[i] = fork();
        if (r[i] == 0)
            reader(path, i);
    }
    fprintf(stderr, "# readers started\n");
    wait_acked(70, w);
    fprintf(stderr, "# 70 batches acknowledged\n");
    /* every reader open, and reader 0's refusals checked, before the kill: a check_refusals
     * that came after it (a reader's open is slow under qemu-user) would open the folder as
     * a second writer once the first is dead, and hold the lock the new writer then finds
     * (VDB_ELOCKED naming the reader) */
    for (int i = 0; i < 120000 && !atomic_load(&sh->failures) &&
                    (atomic_load(&sh->ready) < READERS || !atomic_load(&sh->refusals_done));
         i++)
        sleep_ms(1);
    if (atomic_load(&sh->failures) || !atomic_load(&sh->refusals_done)) {
        atomic_store(&sh->stop_readers, 1);
        fail_msg("the readers did not all open: %s", sh->first_failure);
    }
    /* the crash: the first writer dies mid-ingest; the readers go on */
    assert_int_equal(kill(w, SIGKILL), 0);
    assert_int_equal(waitpid(w, NULL, 0), w);
    long long at_kill = atomic_load(&sh->acked);
    sleep_ms(300);
    pid_t w2 = spawn_writer(path, 2, at_kill + 40);
    fprintf(stderr, "# killed at %lld; second writer started\n", at_kill);
    assert_int_equal(waitpid(w2, &ws, 0), w2);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0 || atomic_load(&sh->failures))
        fail_msg("second writer: %s", sh->first_failure);
    sleep_ms(300);
    atomic_store(&sh->stop_readers, 1);
    for (int i = 0; i < READERS; i++) {
        assert_int_equal(waitpid(r[i], &ws, 0), r[i]);
        assert_true(WIFEXITED(ws));
    }
    long long reads = 0, strong = 0, loads = 0, tails = 0;
    for (int i = 0; i < READERS; i++) {
        reads += atomic_load(&sh->reads[i]);
        strong += atomic_load(&sh->strong[i]);
        loads += atomic_load(&sh->loads[i]);
        tails += atomic_load(&sh->tails[i]);
    }
    printf("# the readers followed by %lld whole loads and %lld log tails\n", loads, tails);
    printf("# killed the writer at %lld batches; %lld acknowledged in all; %d readers made %lld "
           "checked reads (%lld STRONG)\n", at_kill, atomic_load(&sh->acked), READERS, reads,
           strong);
    if (atomic_load(&sh->failures))
        fail_msg("%d failure(s); first: %s", atomic_load(&sh->failures), sh->first_failure);
    assert_int_equal(atomic_load(&sh->ready), READERS);
    assert_true(reads > 0 && strong > 0);
    /* inserts between flushes only move the log: most refreshes apply its tail */
    assert_true(tails > 0 && loads > 0);
    test_rmdir(path);
    free(path);
    munmap(sh, sizeof *sh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readers_follow_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Fault injection end to end (lib/util/fault.c): one workload — open, create, inserts into two
 * partitions over two shards, upserts, deletes by key and by expression, seals, flush, an HNSW
 * build, compaction, a partition drop, a collection create and drop, close — is run once for
 * every N with the Nth file-system call (EIO, then ENOSPC) or the Nth allocation (ENOMEM)
 * failing, until a run passes with no fault left to inject; then again with every call into
 * the backends failing in turn (the fault+ wrapper over the WAL/local/file stores and over
 * RocksDB), as a server that goes away would. Each run checks:
 * - the failed call returns an error with a message (and nothing crashes or leaks: ASan);
 * - the handle then either keeps working or refuses writes with a clear status;
 * - a reopen without faults always succeeds and vdb_check finds nothing wrong;
 * - every acknowledged write is there, and the failed one is there whole or not at all.
 * VDB_FAULT_RUNS bounds the runs per fault kind (default 40: the N are spread evenly over the
 * calls the workload makes); VDB_FAULT_RUNS=0 runs every N (the long run, README "Tests").
 * An argument picks tests by name pattern: test_faults 'test_alloc*'. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vdb/vdb.h>

#include "test_common.h"
#include "util/util.h"

#define DIM 8
#define COLL "f"
#define MAXID 2000
#define EXTRA_ID 1900 /* the write after a failure: ids EXTRA_ID.. */

typedef struct model {
    int val[MAXID]; /* the "batch" column of id, -1: no row */
    int part[MAXID]; /* 0: _default, 1: p1 */
} model;

static float vec_at(int id, int d) { return (float)((id * 31 + d * 17) % 101) / 101.0f; }

static vdb_status put_rows(vdb_db *db, bool upsert, const char *partition, int first, int n,
                           int value)
{
    int64_t ids[64], vals[64];
    float vecs[64 * DIM];
    for (int i = 0; i < n; i++) {
        ids[i] = first + i;
        vals[i] = value;
        for (int d = 0; d < DIM; d++)
            vecs[i * DIM + d] = vec_at(first + i, d) + (float)value * 0.001f;
    }
    vdb_batch *b = NULL;
    vdb_status st = vdb_batch_new(&b);
    if (st == VDB_OK &&
        (st = vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, (size_t)n, 0)) == VDB_OK &&
        (st = vdb_batch_add_column(b, "batch", VDB_TYPE_INT64, vals, NULL, (size_t)n, 0)) ==
            VDB_OK &&
        (st = vdb_batch_add_column(b, "emb", VDB_TYPE_FLOAT_VECTOR, vecs, NULL, (size_t)n, DIM)) ==
            VDB_OK)
        st = upsert ? vdb_upsert(db, COLL, partition, b, NULL, NULL)
                    : vdb_insert(db, COLL, partition, b, NULL, NULL);
    vdb_batch_free(b);
    return st;
}

static vdb_status create_coll(vdb_db *db)
{
    vdb_schema *s = NULL;
    vdb_status st = vdb_schema_new(COLL, &s);
    if (st != VDB_OK)
        return st;
    vdb_field_def id = {.struct_size = sizeof id, .name = "id", .type = VDB_TYPE_INT64,
                        .is_primary = 1};
    vdb_field_def bn = {.struct_size = sizeof bn, .name = "batch", .type = VDB_TYPE_INT64};
    vdb_field_def emb = {.struct_size = sizeof emb, .name = "emb", .type = VDB_TYPE_FLOAT_VECTOR,
                         .dim = DIM, .metric = VDB_METRIC_L2};
    if ((st = vdb_schema_add_field(s, &id)) == VDB_OK &&
        (st = vdb_schema_add_field(s, &bn)) == VDB_OK &&
        (st = vdb_schema_add_field(s, &emb)) == VDB_OK &&
        (st = vdb_schema_set_shards(s, 2)) == VDB_OK)
        st = vdb_create_collection(db, s);
    vdb_schema_free(s);
    return st;
}

/* ---- the workload: step i runs one call and says what it does to the model ---------------- */

enum { OP_OPEN, OP_CREATE, OP_PARTITION, OP_INSERT, OP_UPSERT, OP_DELETE, OP_DELETE_WHERE,
       OP_FLUSH, OP_INDEX, OP_COMPACT, OP_DROP_PARTITION, OP_OTHER_COLLECTION, OP_CLOSE };

typedef struct step {
    int op;
    int first, n, value; /* rows first..first+n-1; value: the batch column */
    int part;            /* 1: p1 */
} step;

static const step workload[] = {
    {.op = OP_OPEN},
    {.op = OP_CREATE},
    {.op = OP_PARTITION},
    {.op = OP_INSERT, .first = 0, .n = 40, .value = 1, .part = 0},
    {.op = OP_INSERT, .first = 40, .n = 40, .value = 2, .part = 1},
    {.op = OP_INSERT, .first = 80, .n = 50, .value = 3, .part = 0},
    {.op = OP_UPSERT, .first = 10, .n = 20, .value = 4, .part = 0},   /* over batch 1 */
    {.op = OP_DELETE, .first = 45, .n = 10, .value = 0, .part = 0},   /* ids 45..54 of batch 2 */
    {.op = OP_INSERT, .first = 130, .n = 60, .value = 5, .part = 1},
    {.op = OP_FLUSH},
    {.op = OP_DELETE_WHERE, .first = 0, .n = 0, .value = 3, .part = 0}, /* batch == 3 */
    {.op = OP_INSERT, .first = 190, .n = 60, .value = 6, .part = 0},
    {.op = OP_INDEX},
    {.op = OP_UPSERT, .first = 140, .n = 30, .value = 7, .part = 1},  /* over batch 5, into p1 */
    {.op = OP_INSERT, .first = 250, .n = 60, .value = 8, .part = 0},
    {.op = OP_FLUSH},
    {.op = OP_COMPACT},
    {.op = OP_DROP_PARTITION},         /* p1 */
    {.op = OP_INSERT, .first = 310, .n = 30, .value = 9, .part = 0},
    {.op = OP_OTHER_COLLECTION},
    {.op = OP_CLOSE},
};
#define STEPS (sizeof workload / sizeof workload[0])

static void apply(model *m, const step *s)
{
    switch (s->op) {
    case OP_INSERT:
    case OP_UPSERT:
        for (int i = s->first; i < s->first + s->n; i++) {
            m->val[i] = s->value;
            m->part[i] = s->part;
        }
        break;
    case OP_DELETE:
        for (int i = s->first; i < s->first + s->n; i++)
            m->val[i] = -1;
        break;
    case OP_DELETE_WHERE:
        for (int i = 0; i < MAXID; i++)
            if (m->val[i] == s->value)
                m->val[i] = -1;
        break;
    case OP_DROP_PARTITION:
        for (int i = 0; i < MAXID; i++)
            if (m->part[i] == 1)
                m->val[i] = -1;
        break;
    default:
        break;
    }
}

static vdb_status run_step(vdb_db **db, const char *path, const vdb_options *o, const step *s)
{
    switch (s->op) {
    case OP_OPEN:
        return vdb_open(path, o, db);
    case OP_CREATE:
        return create_coll(*db);
    case OP_PARTITION:
        return vdb_create_partition(*db, COLL, "p1");
    case OP_INSERT:
    case OP_UPSERT:
        return put_rows(*db, s->op == OP_UPSERT, s->part ? "p1" : NULL, s->first, s->n,
                        s->value);
    case OP_DELETE: {
        int64_t ids[64];
        for (int i = 0; i < s->n; i++)
            ids[i] = s->first + i;
        vdb_pk_list pks = {.ints = ids, .count = (size_t)s->n};
        return vdb_delete(*db, COLL, NULL, &pks, NULL);
    }
    case OP_DELETE_WHERE: {
        char f[64];
        snprintf(f, sizeof f, "batch == %d", s->value);
        return vdb_delete_where(*db, COLL, NULL, f, NULL, NULL);
    }
    case OP_FLUSH:
        return vdb_flush(*db, COLL);
    case OP_INDEX: {
        vdb_status st = vdb_create_index(*db, COLL, "emb", "HNSW", "M=8,efConstruction=40");
        return st == VDB_OK ? vdb_wait_for_index(*db, COLL, "emb", 60000) : st;
    }
    case OP_COMPACT:
        return vdb_compact(*db, COLL);
    case OP_DROP_PARTITION:
        return vdb_drop_partition(*db, COLL, "p1");
    case OP_OTHER_COLLECTION: {
        vdb_status st;
        vdb_schema *sc = NULL;
        if ((st = vdb_schema_new("g", &sc)) != VDB_OK)
            return st;
        vdb_field_def id = {.struct_size = sizeof id, .name = "k", .type = VDB_TYPE_VARCHAR,
                            .is_primary = 1, .max_length = 16};
        vdb_field_def v = {.struct_size = sizeof v, .name = "v", .type = VDB_TYPE_FLOAT_VECTOR,
                           .dim = 2, .metric = VDB_METRIC_IP};
        if ((st = vdb_schema_add_field(sc, &id)) == VDB_OK &&
            (st = vdb_schema_add_field(sc, &v)) == VDB_OK &&
            (st = vdb_create_collection(*db, sc)) == VDB_OK)
            st = vdb_drop_collection(*db, "g");
        vdb_schema_free(sc);
        return st;
    }
    case OP_CLOSE:
        vdb_close(*db);
        *db = NULL;
        return VDB_OK;
    }
    return VDB_EINVAL;
}

/* ---- checks ---------------------------------------------------------------------------------- */

/* Reads every row (-1: none) into got; false when the collection is not there. */
static bool read_rows(vdb_db *db, int *got)
{
    for (int i = 0; i < MAXID; i++)
        got[i] = -1;
    int exists = 0;
    assert_int_equal(vdb_has_collection(db, COLL, &exists), VDB_OK);
    if (!exists)
        return false;
    const char *out[] = {"batch"};
    vdb_result *r = NULL;
    vdb_status st = vdb_query(db, COLL, "id >= 0",
                              VDB_READ_OPTS(.output_fields = out, .n_output_fields = 1), 0, 0, &r);
    if (st != VDB_OK)
        fail_msg("query after reopen: %s: %s", vdb_status_name(st), vdb_errmsg(db));
    for (size_t i = 0; i < vdb_result_rows(r, 0); i++) {
        int64_t id = vdb_result_pk_int(r, 0, i);
        vdb_value v;
        assert_int_equal(vdb_result_field(r, 0, i, "batch", &v), VDB_OK);
        assert_true(id >= 0 && id < MAXID);
        assert_int_equal(got[id], -1); /* one row per key */
        got[id] = (int)v.u.i64;
    }
    vdb_result_free(r);
    return true;
}

static bool same(const int *got, const model *m, bool extra)
{
    for (int i = 0; i < MAXID; i++) {
        int want = m->val[i];
        if (extra && i >= EXTRA_ID && i < EXTRA_ID + 10)
            want = 99;
        if (got[i] != want)
            return false;
    }
    return true;
}

static void first_difference(const int *got, const model *m, bool extra, char *out, size_t n)
{
    for (int i = 0; i < MAXID; i++) {
        int want = extra && i >= EXTRA_ID && i < EXTRA_ID + 10 ? 99 : m->val[i];
        if (got[i] != want) {
            snprintf(out, n, "id %d: batch %d, expected %d", i, got[i], want);
            return;
        }
    }
    snprintf(out, n, "none");
}

static void check_problem(void *arg, vdb_status st, const char *msg)
{
    fprintf(stderr, "  vdb_check: %s: %s\n", vdb_status_name(st), msg);
    (*(int *)arg)++;
}

/* NULL: the default local backends; else the log and meta schemes opened as fault+<uri> */
static const char *wrapped_log, *wrapped_meta;

typedef struct run_result {
    bool fired;   /* the fault was injected */
    int failed_step; /* -1: every call succeeded */
} run_result;

/* One run with the nth call of ops failing with err (nth 0: no fault; *calls gets the count). */
static run_result run_once(const char *path, unsigned ops, uint64_t nth, int err,
                           uint64_t *calls)
{
    test_rmdir(path);
    vdb_options o;
    vdb_options_init(&o);
    o.segment_max_rows = 70;  /* seals in the background as rows come */
    o.compaction_interval_ms = 0;
    o.compaction_min_segments = 2;
    o.retention_seconds = 0;  /* compaction drops deleted rows at once */
    o.index_build_threads = 1;
    o.segment_idle_seal_ms = 0;
    char log_uri[4200], meta_uri[4200], obj_uri[4200];
    if (wrapped_log) { /* every backend call through the fault+ wrapper */
        snprintf(log_uri, sizeof log_uri, "fault+%s://%s/log", wrapped_log, path);
        snprintf(meta_uri, sizeof meta_uri, "fault+%s://%s/meta", wrapped_meta, path);
        snprintf(obj_uri, sizeof obj_uri, "fault+file://%s/objects", path);
        o.log_uri = log_uri;
        o.meta_uri = meta_uri;
        o.object_uri = obj_uri;
    }
    model m;
    for (int i = 0; i < MAXID; i++)
        m.val[i] = -1, m.part[i] = 0;
    vdb_db *db = NULL;
    run_result res = {.failed_step = -1};
    vdb_fault_arm(ops, nth ? nth : UINT64_MAX, err, false);
    size_t i;
    for (i = 0; i < STEPS; i++) {
        vdb_status st = run_step(&db, path, &o, &workload[i]);
        if (st != VDB_OK) {
            const char *msg = vdb_errmsg(db);
            if (!msg || !*msg)
                fail_msg("step %zu (op %d) failed with %s and no message", i, workload[i].op,
                         vdb_status_name(st));
            res.failed_step = (int)i;
            break;
        }
        apply(&m, &workload[i]);
    }
    res.fired = vdb_fault_fired() > 0;
    if (calls)
        *calls = vdb_fault_passed();
    vdb_fault_disarm();
    if (nth && !res.fired && res.failed_step >= 0)
        fail_msg("step %d failed with no fault injected: %s", res.failed_step, vdb_errmsg(db));
    model after = m;
    if (res.failed_step >= 0)
        apply(&after, &workload[res.failed_step]);
    /* After a failure the handle keeps working, or refuses with a clear status. */
    bool extra = false;
    if (db && res.failed_step >= 0 && workload[res.failed_step].op != OP_CREATE) {
        int exists = 0;
        if (vdb_has_collection(db, COLL, &exists) == VDB_OK && exists) {
            vdb_status st = put_rows(db, false, NULL, EXTRA_ID, 10, 99);
            if (st == VDB_OK)
                extra = true;
            else if (!vdb_errmsg(db)[0])
                fail_msg("a write after the failure: %s with no message", vdb_status_name(st));
        }
    }
    if (db)
        vdb_close(db);
    db = NULL;
    vdb_status st = vdb_open(path, &o, &db);
    if (st != VDB_OK)
        fail_msg("reopen after fault %llu of ops 0x%x (%s) at step %d: %s: %s",
                 (unsigned long long)nth, ops, strerror(err), res.failed_step,
                 vdb_status_name(st), vdb_errmsg(NULL));
    static int got[MAXID];
    read_rows(db, got);
    if (!same(got, &m, extra) && !same(got, &after, extra)) {
        char why[160];
        first_difference(got, &m, extra, why, sizeof why);
        fail_msg("fault %llu of ops 0x%x (%s), failed step %d: rows are neither before nor "
                 "after the failed call (%s)",
                 (unsigned long long)nth, ops, strerror(err), res.failed_step, why);
    }
    int problems = 0;
    uint64_t n_problems = 0;
    st = vdb_check(db, check_problem, &problems, &n_problems);
    if (st != VDB_OK || n_problems)
        fail_msg("vdb_check after fault %llu of ops 0x%x (%s): %s, %llu problems",
                 (unsigned long long)nth, ops, strerror(err), vdb_status_name(st),
                 (unsigned long long)n_problems);
    vdb_close(db);
    return res;
}

static void sweep(unsigned ops, int err, const char *what)
{
    char *path = test_tmpdir("faults");
    uint64_t calls = 0;
    run_result clean = run_once(path, ops, 0, err, &calls);
    assert_int_equal(clean.failed_step, -1);
    assert_true(calls > 0);
    const char *env = getenv("VDB_FAULT_RUNS");
    uint64_t runs = env ? strtoull(env, NULL, 10) : 40;
    uint64_t stride = runs == 0 || runs >= calls ? 1 : calls / runs;
    uint64_t failed_calls = 0, ran = 0, n;
    /* Past the last call there is no fault left to inject: the run passes clean. */
    for (n = 1;; n += stride) {
        run_result r = run_once(path, ops, n, err, NULL);
        ran++;
        if (r.failed_step >= 0)
            failed_calls++;
        if (!r.fired)
            break;
    }
    printf("# %s: %llu calls counted in a clean run; %llu runs (every %llu-th call), %llu "
           "with a failed call; a run at N=%llu had no fault left to inject\n",
           what, (unsigned long long)calls, (unsigned long long)ran,
           (unsigned long long)stride, (unsigned long long)failed_calls,
           (unsigned long long)n);
    test_rmdir(path);
    free(path);
}

static void test_io_eio(void **state)
{
    (void)state;
    sweep(VDB_FAULT_IO, EIO, "file-system calls, EIO");
}

static void test_io_enospc(void **state)
{
    (void)state;
    sweep(VDB_FAULT_WRITE | VDB_FAULT_SYNC | VDB_FAULT_OPEN, ENOSPC, "writes, ENOSPC");
}

static void test_alloc_enomem(void **state)
{
    (void)state;
    sweep(VDB_FAULT_ALLOC, ENOMEM, "allocations, ENOMEM");
}

static void test_backend_calls_rocksdb(void **state)
{
    (void)state;
    char *probe = test_tmpdir("faults-probe");
    char uri[4200];
    snprintf(uri, sizeof uri, "rocksdb://%s/log", probe);
    vdb_options o;
    vdb_options_init(&o);
    o.log_uri = uri;
    vdb_db *db = NULL;
    vdb_status st = vdb_open(probe, &o, &db);
    if (db)
        vdb_close(db);
    test_rmdir(probe);
    free(probe);
    if (st == VDB_EUNSUPPORTED)
        skip(); /* built without RocksDB */
    assert_int_equal(st, VDB_OK);
    wrapped_log = "rocksdb";
    wrapped_meta = "rocksdb";
    sweep(VDB_FAULT_BACKEND, EIO, "backend calls (RocksDB log and meta, file objects), EIO");
    wrapped_log = wrapped_meta = NULL;
}

static void test_backend_calls_local(void **state)
{
    (void)state;
    wrapped_log = "wal";
    wrapped_meta = "local";
    sweep(VDB_FAULT_BACKEND, EIO, "backend calls (WAL log, local meta, file objects), EIO");
    wrapped_log = wrapped_meta = NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1) /* a test name pattern, e.g. test_faults 'test_alloc*' */
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_io_eio),
        cmocka_unit_test(test_io_enospc),
        cmocka_unit_test(test_alloc_enomem),
        cmocka_unit_test(test_backend_calls_local),
        cmocka_unit_test(test_backend_calls_rocksdb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

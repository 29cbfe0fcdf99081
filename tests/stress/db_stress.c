/* db_stress: many threads of mixed operations on one database, checked all the time against an
 * in-memory oracle (RocksDB's db_stress is the model). tests/stress/README.md tells how to run it.
 *
 * The oracle. The key space [0, rows) is split into one range per worker thread; only the owner
 * writes its keys, so it knows each key's state exactly (absent, or present with a version
 * `ver` in a partition). Every row's other columns are functions of (pk, ver): the vector, grp,
 * name. Each key has a sequence number that is odd while its owner has a write of it in flight
 * (each worker also has one for its whole range). Another thread that reads a key takes the
 * sequence before and after its read: when both are the same even number the key's state was
 * settled for the whole read (committed before the read's timestamp and not touched since), and
 * the read must show exactly that state; otherwise the key is not checked. The owner's own
 * reads are always settled. Time travel reads of the owner's keys check the state a write left
 * at that write's timestamp. Every now and then all threads pause, the whole oracle is checked,
 * the database is closed and reopened, and checked again.
 *
 * Every mismatch prints the seed, the operation and the key, and the run fails (exit 1). */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vdb/vdb.h>

#define DIM 16
#define COLL "stress"
#define MAX_BATCH 32
#define K 10
#define RING 256
#define MAX_PARTS 2

/* ---- options ----------------------------------------------------------------------------- */

static struct {
    double seconds;
    int threads;
    uint64_t seed;
    int64_t rows;
    const char *dir;
    int reopen_ms;
    int retention_s;
    int seal_rows;
    int report_s;
    int keep;
    const char *log_uri, *meta_uri, *object_uri;
    int sync;
} cfg = {.seconds = 20, .threads = 4, .rows = 20000, .reopen_ms = 5000, .retention_s = 3,
         .seal_rows = 1500, .report_s = 60, .sync = VDB_SYNC_BATCH};

/* ---- failures ---------------------------------------------------------------------------- */

static atomic_int failed;
static atomic_int stop;

static void fail(const char *op, int64_t key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(const char *op, int64_t key, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "db_stress: MISMATCH seed=%" PRIu64 " op=%s key=%" PRId64 ": %s\n", cfg.seed,
            op, key, msg);
    atomic_fetch_add(&failed, 1);
    atomic_store(&stop, 1);
}

/* a library call that must succeed */
#define CHECK(op, key, call)                                                                    \
    do {                                                                                        \
        vdb_status st_ = (call);                                                                \
        if (st_ != VDB_OK)                                                                      \
            fail(op, key, "%s: %s: %s", #call, vdb_status_name(st_), vdb_errmsg(NULL));          \
    } while (0)

/* ---- rows as functions of (pk, ver) ------------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t rnd(uint64_t *s) { return *s = mix(*s); }
static uint64_t rnd_below(uint64_t *s, uint64_t n) { return n ? rnd(s) % n : 0; }

static void row_vec(int64_t pk, int64_t ver, float *v)
{
    uint64_t s = mix((uint64_t)pk * 1000003u ^ (uint64_t)ver * 7919u);
    for (int d = 0; d < DIM; d++)
        v[d] = (float)((double)(rnd(&s) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static int32_t row_grp(int64_t pk, int64_t ver)
{
    return (int32_t)(mix((uint64_t)pk ^ ((uint64_t)ver << 20)) % 8);
}

static float l2(const float *a, const float *b)
{
    double s = 0;
    for (int d = 0; d < DIM; d++)
        s += ((double)a[d] - b[d]) * ((double)a[d] - b[d]);
    return (float)s;
}

/* ---- the oracle ---------------------------------------------------------------------------- */

static atomic_uint *kseq;      /* per key: odd while its owner writes it */
static atomic_llong *kver;     /* per key: version, -1 absent */
static atomic_uint *kpart;     /* per key: partition generation (0: _default) */

typedef struct ring_ent {
    uint64_t ts;
    int64_t pk, ver;
    unsigned part;
} ring_ent;

typedef struct part_slot {
    unsigned gen; /* 0: slot free */
    char name[48];
} part_slot;

enum op_kind {
    OP_INSERT, OP_UPSERT, OP_DELETE, OP_DELETE_WHERE, OP_GET, OP_GET_OTHER, OP_QUERY, OP_COUNT,
    OP_COUNT_OTHER, OP_SEARCH, OP_SEARCH_ALL, OP_TRAVEL, OP_PARTITION, OP_FLUSH, OP_COMPACT,
    OP_INDEX, OP_REOPEN, OP_SCRATCH, OP_KINDS
};
static const char *op_names[OP_KINDS] = {
    "insert", "upsert", "delete", "delete_where", "get", "get_other", "query", "count",
    "count_other", "search", "search_all", "travel_get", "partition", "flush", "compact",
    "index", "reopen", "scratch_ddl"};
static atomic_ullong op_count[OP_KINDS];
static atomic_ullong op_ns[OP_KINDS], op_max_ns[OP_KINDS]; /* time in the op, by kind */
static atomic_ullong checks_settled, checks_skipped;

typedef struct worker {
    int id;
    int64_t lo, hi; /* keys [lo, hi) */
    atomic_uint tseq; /* odd while this worker writes */
    uint64_t rng;
    unsigned next_gen, next_ver;
    part_slot parts[MAX_PARTS];
    ring_ent ring[RING];
    unsigned ring_n;
    uint64_t last_ts; /* timestamp of this worker's last write */
    pthread_t th;
} worker;

static worker *workers;

/* recall of approximate searches */
static pthread_mutex_t recall_mu = PTHREAD_MUTEX_INITIALIZER;
static double recall_sum;
static uint64_t recall_n;
static double recall_min = 1.0;

/* 1 while an approximate index may serve searches; approx_epoch moves on every change */
static atomic_int approx;
static atomic_uint approx_epoch;

/* ---- the pause gate (close+reopen with every thread stopped) --------------------------------- */

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_paused, gate_active;
static vdb_db *g_db; /* changes only while paused */

static vdb_db *gate_enter(void)
{
    pthread_mutex_lock(&gate_mu);
    while (gate_paused)
        pthread_cond_wait(&gate_cv, &gate_mu);
    gate_active++;
    vdb_db *db = g_db;
    pthread_mutex_unlock(&gate_mu);
    return db;
}

static void gate_leave(void)
{
    pthread_mutex_lock(&gate_mu);
    if (--gate_active == 0)
        pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

static void gate_pause(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_paused = 1;
    while (gate_active)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

static void gate_resume(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_paused = 0;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

/* ---- helpers ------------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* a "Name:   123 kB" line of /proc/self/status, in KiB (-1 if missing) */
static long status_kib(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static worker *owner_of(int64_t pk) { return &workers[pk / (cfg.rows / cfg.threads)]; }

static const char *part_name(worker *w, unsigned gen)
{
    if (gen == 0)
        return "_default";
    for (int i = 0; i < MAX_PARTS; i++)
        if (w->parts[i].gen == gen)
            return w->parts[i].name;
    return NULL;
}

static void op_time(int op, double t0)
{
    unsigned long long ns = (unsigned long long)((now_s() - t0) * 1e9);
    atomic_fetch_add(&op_ns[op], ns);
    unsigned long long m = atomic_load(&op_max_ns[op]);
    while (ns > m && !atomic_compare_exchange_weak(&op_max_ns[op], &m, ns))
        ;
}

/* begin/end a write of keys by their owner */
static void write_begin(worker *w, const int64_t *pks, size_t n)
{
    atomic_fetch_add(&w->tseq, 1);
    for (size_t i = 0; i < n; i++)
        atomic_fetch_add(&kseq[pks[i]], 1);
}

static void write_end(worker *w, const int64_t *pks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        atomic_fetch_add(&kseq[pks[i]], 1);
    atomic_fetch_add(&w->tseq, 1);
}

static void ring_add(worker *w, uint64_t ts, int64_t pk, int64_t ver, unsigned part)
{
    w->last_ts = ts;
    w->ring[w->ring_n++ % RING] = (ring_ent){ts, pk, ver, part};
}

/* a batch of full rows for keys pks at versions vers */
static vdb_batch *make_batch(const int64_t *pks, const int64_t *vers, size_t n)
{
    vdb_batch *b = NULL;
    if (vdb_batch_new(&b) != VDB_OK)
        return NULL;
    float vec[MAX_BATCH * DIM];
    int32_t grp[MAX_BATCH];
    char names[MAX_BATCH][48];
    const char *nptr[MAX_BATCH];
    for (size_t i = 0; i < n; i++) {
        row_vec(pks[i], vers[i], vec + i * DIM);
        grp[i] = row_grp(pks[i], vers[i]);
        snprintf(names[i], sizeof names[i], "k%" PRId64 "v%" PRId64, pks[i], vers[i]);
        nptr[i] = names[i];
    }
    if (vdb_batch_add_column(b, "id", VDB_TYPE_INT64, pks, NULL, n, 0) != VDB_OK ||
        vdb_batch_add_column(b, "ver", VDB_TYPE_INT64, vers, NULL, n, 0) != VDB_OK ||
        vdb_batch_add_column(b, "grp", VDB_TYPE_INT32, grp, NULL, n, 0) != VDB_OK ||
        vdb_batch_add_column(b, "name", VDB_TYPE_VARCHAR, nptr, NULL, n, 0) != VDB_OK ||
        vdb_batch_add_column(b, "emb", VDB_TYPE_FLOAT_VECTOR, vec, NULL, n, DIM) != VDB_OK) {
        vdb_batch_free(b);
        return NULL;
    }
    return b;
}

/* checks one returned row against (pk, ver): the version and every column */
static bool check_row_g(const char *op, const vdb_result *r, size_t group, size_t row,
                        int64_t pk, int64_t ver, bool full);

static bool check_row(const char *op, const vdb_result *r, size_t row, int64_t pk, int64_t ver,
                      bool full)
{
    return check_row_g(op, r, 0, row, pk, ver, full);
}

static bool check_row_g(const char *op, const vdb_result *r, size_t group, size_t row,
                        int64_t pk, int64_t ver, bool full)
{
    vdb_value v;
    vdb_status st = vdb_result_field(r, group, row, "ver", &v);
    if (st != VDB_OK) {
        fail(op, pk, "field ver: %s: %s", vdb_status_name(st), vdb_errmsg(NULL));
        return false;
    }
    if (v.u.i64 != ver) {
        fail(op, pk, "version %" PRId64 ", the oracle has %" PRId64, v.u.i64, ver);
        return false;
    }
    if (!full)
        return true;
    st = vdb_result_field(r, group, row, "emb", &v);
    float want[DIM];
    row_vec(pk, ver, want);
    if (st != VDB_OK || v.u.vec.dim != DIM || memcmp(v.u.vec.ptr, want, sizeof want) != 0) {
        fail(op, pk, "vector of version %" PRId64 " differs (%s)", ver, vdb_status_name(st));
        return false;
    }
    st = vdb_result_field(r, group, row, "grp", &v);
    if (st != VDB_OK || v.u.i64 != row_grp(pk, ver)) {
        fail(op, pk, "grp of version %" PRId64 " differs (%s)", ver, vdb_status_name(st));
        return false;
    }
    st = vdb_result_field(r, group, row, "name", &v);
    char name[48];
    int nl = snprintf(name, sizeof name, "k%" PRId64 "v%" PRId64, pk, ver);
    if (st != VDB_OK || v.u.str.len != (size_t)nl || memcmp(v.u.str.ptr, name, (size_t)nl)) {
        fail(op, pk, "name of version %" PRId64 " differs (%s)", ver, vdb_status_name(st));
        return false;
    }
    return true;
}

static const char *const out_all[] = {"ver", "grp", "name", "emb"};
static const char *const out_ver[] = {"ver"};

/* get of keys (all settled: the caller owns them or paused everything); expect[i] the version */
static void check_get_at(vdb_db *db, const char *op, const int64_t *pks, const int64_t *expect,
                         size_t n, uint64_t travel_ts, uint64_t session_ts)
{
    vdb_pk_list l = {.ints = pks, .count = n};
    vdb_result *r = NULL;
    vdb_status st = vdb_get(db, COLL, &l,
                            VDB_READ_OPTS(.travel_ts = travel_ts, .output_fields = out_all,
                                          .n_output_fields = 4, .session_ts = session_ts,
                                          .consistency = session_ts ? VDB_CONSISTENCY_SESSION
                                                                    : VDB_CONSISTENCY_STRONG),
                            &r);
    if (st != VDB_OK) {
        fail(op, pks[0], "get: %s: %s", vdb_status_name(st), vdb_errmsg(NULL));
        return;
    }
    size_t row = 0, rows = vdb_result_rows(r, 0);
    for (size_t i = 0; i < n; i++) {
        if (expect[i] < 0) {
            if (row < rows && vdb_result_pk_int(r, 0, row) == pks[i] &&
                (i == 0 || pks[i - 1] != pks[i])) {
                fail(op, pks[i], "visible, the oracle has it deleted (ts %" PRIu64 ")",
                     travel_ts);
                break;
            }
            continue;
        }
        if (row >= rows || vdb_result_pk_int(r, 0, row) != pks[i]) {
            fail(op, pks[i], "missing, the oracle has version %" PRId64 " (ts %" PRIu64 ")",
                 expect[i], travel_ts);
            break;
        }
        if (!check_row(op, r, row, pks[i], expect[i], true))
            break;
        row++;
    }
    if (row != rows && !atomic_load(&failed))
        fail(op, pks[0], "%zu rows returned, %zu expected", rows, row);
    vdb_result_free(r);
}

static void check_get(vdb_db *db, const char *op, const int64_t *pks, const int64_t *expect,
                      size_t n, uint64_t travel_ts)
{
    check_get_at(db, op, pks, expect, n, travel_ts, 0);
}

/* distinct random keys of w's range */
static size_t pick_range(uint64_t *rng, int64_t lo, int64_t hi, int64_t *pks, size_t n)
{
    size_t got = 0;
    int64_t span = hi - lo;
    for (size_t tries = 0; got < n && tries < n * 4; tries++) {
        int64_t pk = lo + (int64_t)rnd_below(rng, (uint64_t)span);
        bool dup = false;
        for (size_t i = 0; i < got; i++)
            dup |= pks[i] == pk;
        if (!dup)
            pks[got++] = pk;
    }
    /* sorted, so a get's result order is the same */
    for (size_t i = 1; i < got; i++)
        for (size_t j = i; j > 0 && pks[j - 1] > pks[j]; j--) {
            int64_t t = pks[j];
            pks[j] = pks[j - 1];
            pks[j - 1] = t;
        }
    return got;
}

static size_t pick_keys(worker *w, int64_t *pks, size_t n)
{
    return pick_range(&w->rng, w->lo, w->hi, pks, n);
}

/* ---- worker operations ----------------------------------------------------------------------- */

static unsigned pick_part(worker *w)
{
    if (rnd_below(&w->rng, 5) != 0)
        return 0;
    unsigned live[MAX_PARTS], n = 0;
    for (int i = 0; i < MAX_PARTS; i++)
        if (w->parts[i].gen)
            live[n++] = w->parts[i].gen;
    return n ? live[rnd_below(&w->rng, n)] : 0;
}

static void op_write(vdb_db *db, worker *w, bool upsert)
{
    int64_t pks[MAX_BATCH], vers[MAX_BATCH];
    size_t n = pick_keys(w, pks, 1 + rnd_below(&w->rng, MAX_BATCH));
    if (!upsert) { /* insert only absent keys (an insert never replaces) */
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (atomic_load(&kver[pks[i]]) < 0)
                pks[m++] = pks[i];
        n = m;
        if (!n)
            return;
    }
    unsigned part = pick_part(w);
    for (size_t i = 0; i < n; i++)
        vers[i] = (int64_t)w->next_ver++ * cfg.threads + w->id;
    vdb_batch *b = make_batch(pks, vers, n);
    if (!b) {
        fail(upsert ? "upsert" : "insert", pks[0], "batch: %s", vdb_errmsg(NULL));
        return;
    }
    write_begin(w, pks, n);
    uint64_t ts = 0;
    const char *pn = part_name(w, part);
    vdb_status st = upsert ? vdb_upsert(db, COLL, pn, b, &ts, NULL)
                           : vdb_insert(db, COLL, pn, b, &ts, NULL);
    if (st == VDB_OK)
        for (size_t i = 0; i < n; i++) {
            atomic_store(&kver[pks[i]], vers[i]);
            atomic_store(&kpart[pks[i]], part);
            ring_add(w, ts, pks[i], vers[i], part);
        }
    write_end(w, pks, n);
    vdb_batch_free(b);
    if (st != VDB_OK)
        fail(upsert ? "upsert" : "insert", pks[0], "%s of %zu rows into %s: %s: %s",
             upsert ? "upsert" : "insert", n, pn, vdb_status_name(st), vdb_errmsg(NULL));
    atomic_fetch_add(&op_count[upsert ? OP_UPSERT : OP_INSERT], 1);
}

static void op_delete(vdb_db *db, worker *w)
{
    int64_t pks[MAX_BATCH];
    size_t n = pick_keys(w, pks, 1 + rnd_below(&w->rng, 8));
    /* one time in four only in one partition: keys elsewhere stay */
    unsigned part = rnd_below(&w->rng, 4) ? UINT32_MAX : pick_part(w);
    const char *pn = part == UINT32_MAX ? NULL : part_name(w, part);
    write_begin(w, pks, n);
    uint64_t ts = 0;
    vdb_pk_list l = {.ints = pks, .count = n};
    vdb_status st = vdb_delete(db, COLL, pn, &l, &ts);
    if (st == VDB_OK)
        for (size_t i = 0; i < n; i++) {
            if (pn && atomic_load(&kpart[pks[i]]) != part) {
                ring_add(w, ts, pks[i], atomic_load(&kver[pks[i]]), atomic_load(&kpart[pks[i]]));
                continue;
            }
            atomic_store(&kver[pks[i]], -1);
            ring_add(w, ts, pks[i], -1, 0);
        }
    write_end(w, pks, n);
    if (st != VDB_OK)
        fail("delete", pks[0], "in %s: %s: %s", pn ? pn : "every partition", vdb_status_name(st),
             vdb_errmsg(NULL));
    atomic_fetch_add(&op_count[OP_DELETE], 1);
}

static void own_subrange(worker *w, int64_t *lo, int64_t *hi, int64_t max)
{
    int64_t span = w->hi - w->lo;
    int64_t len = 1 + (int64_t)rnd_below(&w->rng, (uint64_t)(max < span ? max : span));
    *lo = w->lo + (int64_t)rnd_below(&w->rng, (uint64_t)(span - len + 1));
    *hi = *lo + len;
}

static void op_delete_where(vdb_db *db, worker *w)
{
    int64_t lo, hi;
    own_subrange(w, &lo, &hi, 300);
    int32_t g = (int32_t)rnd_below(&w->rng, 8);
    char filter[160];
    int kind = (int)rnd_below(&w->rng, 4);
    int64_t last = hi - 1;
    if (kind == 0) { /* the rows of one key, by its name's prefix */
        hi = lo + 1;
        snprintf(filter, sizeof filter, "name like \"k%" PRId64 "v%%\"", lo);
    } else if (kind == 1) { /* two keys (the ends of the range) by `in` */
        snprintf(filter, sizeof filter, "id in [%" PRId64 ", %" PRId64 "] && grp in [%d, %d]",
                 lo, last, g, g);
    } else {
        snprintf(filter, sizeof filter,
                 "id >= %" PRId64 " && id < %" PRId64 " && grp == %d", lo, hi, g);
    }
    /* one time in three only in one partition */
    unsigned part = rnd_below(&w->rng, 3) ? UINT32_MAX : pick_part(w);
    const char *pn = part == UINT32_MAX ? NULL : part_name(w, part);
#define DW_MATCH(pk, v)                                                                     \
    ((v) >= 0 && (kind == 0 || row_grp(pk, v) == g) &&                                      \
     (kind != 1 || (pk) == lo || (pk) == last) && (!pn || atomic_load(&kpart[pk]) == part))
    uint64_t expect = 0;
    atomic_fetch_add(&w->tseq, 1);
    for (int64_t pk = lo; pk < hi; pk++) {
        atomic_fetch_add(&kseq[pk], 1);
        int64_t v = atomic_load(&kver[pk]);
        expect += DW_MATCH(pk, v);
    }
    uint64_t ts = 0, deleted = 0;
    vdb_status st = vdb_delete_where(db, COLL, pn, filter, &ts, &deleted);
    if (st == VDB_OK)
        for (int64_t pk = lo; pk < hi; pk++) {
            int64_t v = atomic_load(&kver[pk]);
            if (DW_MATCH(pk, v)) {
                atomic_store(&kver[pk], -1);
                ring_add(w, ts, pk, -1, 0);
            }
        }
    for (int64_t pk = lo; pk < hi; pk++)
        atomic_fetch_add(&kseq[pk], 1);
    atomic_fetch_add(&w->tseq, 1);
    if (st != VDB_OK)
        fail("delete_where", lo, "'%s': %s: %s", filter, vdb_status_name(st), vdb_errmsg(NULL));
    else if (deleted != expect)
        fail("delete_where", lo, "'%s' in %s deleted %" PRIu64 " rows, the oracle has %" PRIu64,
             filter, pn ? pn : "every partition", deleted, expect);
    atomic_fetch_add(&op_count[OP_DELETE_WHERE], 1);
}

static void op_get(vdb_db *db, worker *w)
{
    int64_t pks[MAX_BATCH], exp[MAX_BATCH];
    size_t n = pick_keys(w, pks, 1 + rnd_below(&w->rng, MAX_BATCH));
    for (size_t i = 0; i < n; i++)
        exp[i] = atomic_load(&kver[pks[i]]);
    /* half of them at SESSION consistency: this worker's own writes must show */
    check_get_at(db, "get", pks, exp, n, 0, rnd_below(&w->rng, 2) ? w->last_ts : 0);
    atomic_fetch_add(&op_count[OP_GET], 1);
}

/* get of another worker's keys: checks those settled for the whole read */
static void op_get_other(vdb_db *db, worker *w)
{
    worker *o = &workers[rnd_below(&w->rng, (uint64_t)cfg.threads)];
    int64_t pks[MAX_BATCH], ver[MAX_BATCH];
    unsigned seq[MAX_BATCH];
    size_t n = pick_range(&w->rng, o->lo, o->hi, pks, 1 + rnd_below(&w->rng, MAX_BATCH));
    for (size_t i = 0; i < n; i++) {
        seq[i] = atomic_load(&kseq[pks[i]]);
        ver[i] = atomic_load(&kver[pks[i]]);
    }
    vdb_pk_list l = {.ints = pks, .count = n};
    vdb_result *r = NULL;
    vdb_status st = vdb_get(db, COLL, &l,
                            VDB_READ_OPTS(.output_fields = out_all, .n_output_fields = 4), &r);
    if (st != VDB_OK) {
        fail("get_other", pks[0], "%s: %s", vdb_status_name(st), vdb_errmsg(NULL));
        return;
    }
    size_t rows = vdb_result_rows(r, 0), row = 0;
    for (size_t i = 0; i < n; i++) {
        bool present = row < rows && vdb_result_pk_int(r, 0, row) == pks[i];
        bool settled = !(seq[i] & 1) && atomic_load(&kseq[pks[i]]) == seq[i];
        if (settled) {
            atomic_fetch_add(&checks_settled, 1);
            if (present != (ver[i] >= 0)) {
                fail("get_other", pks[i], "%s, the oracle has %s (settled)",
                     present ? "visible" : "missing", ver[i] >= 0 ? "it" : "it deleted");
                break;
            }
            if (present && !check_row("get_other", r, row, pks[i], ver[i], true))
                break;
        } else {
            atomic_fetch_add(&checks_skipped, 1);
        }
        row += present;
    }
    vdb_result_free(r);
    atomic_fetch_add(&op_count[OP_GET_OTHER], 1);
}

static void op_query(vdb_db *db, worker *w)
{
    int64_t lo, hi;
    own_subrange(w, &lo, &hi, 400);
    char filter[128];
    snprintf(filter, sizeof filter, "id >= %" PRId64 " && id < %" PRId64, lo, hi);
    bool def_only = rnd_below(&w->rng, 3) == 0;
    /* one time in four a page of it (limit, offset): then only its size and rows are checked */
    bool page = rnd_below(&w->rng, 4) == 0;
    uint64_t limit = page ? 1 + rnd_below(&w->rng, 50) : 0;
    uint64_t offset = page ? rnd_below(&w->rng, 50) : 0;
    const char *parts[] = {"_default"};
    vdb_result *r = NULL;
    vdb_status st = vdb_query(db, COLL, filter,
                              VDB_READ_OPTS(.output_fields = out_all, .n_output_fields = 4,
                                            .partitions = def_only ? parts : NULL,
                                            .n_partitions = def_only ? 1 : 0),
                              limit, offset, &r);
    if (st != VDB_OK) {
        fail("query", lo, "'%s': %s: %s", filter, vdb_status_name(st), vdb_errmsg(NULL));
        return;
    }
    size_t rows = vdb_result_rows(r, 0);
    /* the result's keys, marked in a bitmap of the subrange */
    size_t span = (size_t)(hi - lo);
    int64_t *rowof = malloc(span * sizeof *rowof);
    for (size_t i = 0; i < span; i++)
        rowof[i] = -1;
    for (size_t i = 0; i < rows && !atomic_load(&failed); i++) {
        int64_t pk = vdb_result_pk_int(r, 0, i);
        if (pk < lo || pk >= hi)
            fail("query", pk, "'%s' returned a key outside it", filter);
        else if (rowof[pk - lo] >= 0)
            fail("query", pk, "'%s' returned the key twice", filter);
        else
            rowof[pk - lo] = (int64_t)i;
    }
    uint64_t live = 0;
    for (int64_t pk = lo; pk < hi; pk++)
        live += atomic_load(&kver[pk]) >= 0 && (!def_only || atomic_load(&kpart[pk]) == 0);
    uint64_t page_rows = live > offset ? live - offset : 0;
    if (page && page_rows > limit)
        page_rows = limit;
    if (page && rows != page_rows)
        fail("query", lo, "'%s' limit %" PRIu64 " offset %" PRIu64 "%s: %zu rows, the oracle "
             "has %" PRIu64 " of %" PRIu64, filter, limit, offset, def_only ? " in _default" : "",
             rows, page_rows, live);
    for (int64_t pk = lo; pk < hi && !atomic_load(&failed); pk++) {
        int64_t v = atomic_load(&kver[pk]);
        bool want = v >= 0 && (!def_only || atomic_load(&kpart[pk]) == 0);
        int64_t row = rowof[pk - lo];
        if (page && want && row < 0)
            continue;
        if (want && row < 0)
            fail("query", pk, "'%s'%s: missing, the oracle has version %" PRId64, filter,
                 def_only ? " in _default" : "", v);
        else if (!want && row >= 0)
            fail("query", pk, "'%s'%s: returned, the oracle has it %s", filter,
                 def_only ? " in _default" : "", v >= 0 ? "in another partition" : "deleted");
        else if (want)
            check_row("query", r, (size_t)row, pk, v, true);
    }
    free(rowof);
    vdb_result_free(r);
    atomic_fetch_add(&op_count[OP_QUERY], 1);
}

static uint64_t oracle_count(int64_t lo, int64_t hi)
{
    uint64_t n = 0;
    for (int64_t pk = lo; pk < hi; pk++)
        n += atomic_load(&kver[pk]) >= 0;
    return n;
}

static void op_count_range(vdb_db *db, worker *w, worker *o)
{
    int64_t lo = o->lo, hi = o->hi;
    if (o == w && rnd_below(&w->rng, 2))
        own_subrange(w, &lo, &hi, 1000);
    char filter[128];
    snprintf(filter, sizeof filter, "id >= %" PRId64 " && id < %" PRId64, lo, hi);
    unsigned s0 = atomic_load(&o->tseq);
    uint64_t want = oracle_count(lo, hi), got = 0;
    vdb_status st;
    if (rnd_below(&w->rng, 2)) {
        st = vdb_count(db, COLL, filter, VDB_READ_OPTS(), &got);
    } else { /* the same through query's output_fields ["count(*)"] */
        static const char *const cnt[] = {"count(*)"};
        vdb_result *r = NULL;
        st = vdb_query(db, COLL, filter, VDB_READ_OPTS(.output_fields = cnt, .n_output_fields = 1),
                       0, 0, &r);
        vdb_value v;
        if (st == VDB_OK && vdb_result_rows(r, 0) == 1 &&
            vdb_result_field(r, 0, 0, "count(*)", &v) == VDB_OK)
            got = (uint64_t)v.u.i64;
        else if (st == VDB_OK)
            fail("count", lo, "query count(*) gave %zu rows: %s", vdb_result_rows(r, 0),
                 vdb_errmsg(NULL));
        vdb_result_free(r);
    }
    bool settled = !(s0 & 1) && atomic_load(&o->tseq) == s0;
    const char *op = o == w ? "count" : "count_other";
    if (st != VDB_OK)
        fail(op, lo, "'%s': %s: %s", filter, vdb_status_name(st), vdb_errmsg(NULL));
    else if (settled && got != want)
        fail(op, lo, "'%s' counted %" PRIu64 ", the oracle has %" PRIu64, filter, got, want);
    if (o != w)
        atomic_fetch_add(settled ? &checks_settled : &checks_skipped, 1);
    atomic_fetch_add(&op_count[o == w ? OP_COUNT : OP_COUNT_OTHER], 1);
}

typedef struct cand {
    int64_t pk;
    float d;
} cand;

static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    return x->d < y->d ? -1 : x->d > y->d ? 1 : (x->pk > y->pk) - (x->pk < y->pk);
}

static bool close_enough(float a, float b) { return fabsf(a - b) <= 1e-3f * (1.0f + fabsf(b)); }

/* a search of w's own range (filtered): exact unless an approximate index may be in use, then
 * recall-bounded; every returned row must be a live row at its distance */
static void op_search(vdb_db *db, worker *w)
{
    /* one to four queries in one call: each group checked alone */
    size_t nq = 1 + rnd_below(&w->rng, 4);
    float qs[4 * DIM];
    for (size_t g = 0; g < nq; g++)
        row_vec(-1 - (int64_t)rnd_below(&w->rng, 1u << 30), 0, qs + g * DIM);
    char filter[128];
    snprintf(filter, sizeof filter, "id >= %" PRId64 " && id < %" PRId64, w->lo, w->hi);
    unsigned e0 = atomic_load(&approx_epoch);
    int a0 = atomic_load(&approx);
    bool def_only = rnd_below(&w->rng, 3) == 0; /* only in _default */
    static const char *const defp[] = {"_default"};
    vdb_search_req req = {.struct_size = sizeof req, .collection = COLL, .vectors = qs, .nq = nq,
                          .dim = DIM, .k = K, .filter = filter, .params = "ef=128,nprobe=64",
                          .read = {.struct_size = sizeof(vdb_read_opts),
                                   .output_fields = out_ver, .n_output_fields = 1,
                                   .partitions = def_only ? defp : NULL,
                                   .n_partitions = def_only ? 1 : 0}};
    vdb_result *r = NULL;
    vdb_status st = vdb_search(db, &req, &r);
    bool exact = !a0 && !atomic_load(&approx) && atomic_load(&approx_epoch) == e0;
    if (st != VDB_OK) {
        fail("search", w->lo, "%s: %s", vdb_status_name(st), vdb_errmsg(NULL));
        return;
    }
    if (vdb_result_groups(r) != nq)
        fail("search", w->lo, "%zu groups for %zu queries", vdb_result_groups(r), nq);
    size_t span = (size_t)(w->hi - w->lo);
    cand *c = malloc(span * sizeof *c);
    for (size_t g = 0; g < nq && !atomic_load(&failed); g++) {
        const float *q = qs + g * DIM;
        /* the oracle's top k */
        size_t live = 0;
        for (int64_t pk = w->lo; pk < w->hi; pk++) {
            int64_t v = atomic_load(&kver[pk]);
            if (v < 0 || (def_only && atomic_load(&kpart[pk]) != 0))
                continue;
            float vec[DIM];
            row_vec(pk, v, vec);
            c[live++] = (cand){pk, l2(q, vec)};
        }
        qsort(c, live, sizeof *c, cand_cmp);
        size_t want = live < K ? live : K, rows = vdb_result_rows(r, g), hits = 0;
        if (rows > want || (exact && rows != want))
            fail("search", w->lo, "query %zu of %zu: %zu rows, the oracle has %zu (exact %d)", g,
                 nq, rows, want, exact);
        for (size_t i = 0; i < rows && !atomic_load(&failed); i++) {
            int64_t pk = vdb_result_pk_int(r, g, i);
            float d = vdb_result_distance(r, g, i);
            if (pk < w->lo || pk >= w->hi) {
                fail("search", pk, "returned a key outside the filter");
                break;
            }
            int64_t v = atomic_load(&kver[pk]);
            if (v < 0) {
                fail("search", pk, "returned a deleted key (distance %g)", d);
                break;
            }
            if (def_only && atomic_load(&kpart[pk]) != 0) {
                fail("search", pk, "returned from partition %s, searched only _default",
                     part_name(w, atomic_load(&kpart[pk])));
                break;
            }
            if (!check_row_g("search", r, g, i, pk, v, false))
                break;
            float vec[DIM];
            row_vec(pk, v, vec);
            if (!close_enough(d, l2(q, vec))) {
                fail("search", pk, "distance %g, the oracle has %g", d, l2(q, vec));
                break;
            }
            if (i > 0 && d < vdb_result_distance(r, g, i - 1) - 1e-6f)
                fail("search", pk, "rows not sorted by distance");
            /* a hit: no farther than the oracle's k-th */
            if (want && d <= c[want - 1].d + 1e-3f * (1.0f + c[want - 1].d))
                hits++;
            if (exact && !close_enough(d, c[i].d))
                fail("search", pk, "row %zu at distance %g, the oracle's row %zu (key %" PRId64
                     ") at %g", i, d, i, c[i].pk, c[i].d);
        }
        if (!exact && want) {
            double rec = (double)hits / (double)want;
            pthread_mutex_lock(&recall_mu);
            recall_sum += rec;
            recall_n++;
            if (rec < recall_min)
                recall_min = rec;
            pthread_mutex_unlock(&recall_mu);
        }
    }
    free(c);
    vdb_result_free(r);
    atomic_fetch_add(&op_count[OP_SEARCH], 1);
}

/* a search of the whole collection: every returned row whose key was settled through the
 * search must be that key's live version, at its distance */
static void op_search_all(vdb_db *db, worker *w)
{
    float q[DIM];
    row_vec(-1 - (int64_t)rnd_below(&w->rng, 1u << 30), 1, q);
    vdb_search_req req = {.struct_size = sizeof req, .collection = COLL, .vectors = q, .nq = 1,
                          .dim = DIM, .k = K, .params = "ef=64",
                          .read = {.struct_size = sizeof(vdb_read_opts),
                                   .output_fields = out_ver, .n_output_fields = 1}};
    /* every key's sequence and version before: a returned key settled through the search
     * must be live at the version returned */
    unsigned *seq = malloc((size_t)cfg.rows * sizeof *seq);
    int64_t *ver = malloc((size_t)cfg.rows * sizeof *ver);
    for (int64_t pk = 0; pk < cfg.rows; pk++) {
        seq[pk] = atomic_load(&kseq[pk]);
        ver[pk] = atomic_load(&kver[pk]);
    }
    vdb_result *r = NULL;
    vdb_status st = vdb_search(db, &req, &r);
    if (st != VDB_OK) {
        fail("search_all", 0, "%s: %s", vdb_status_name(st), vdb_errmsg(NULL));
        free(seq);
        free(ver);
        return;
    }
    size_t rows = vdb_result_rows(r, 0);
    for (size_t i = 0; i < rows; i++) {
        int64_t pk = vdb_result_pk_int(r, 0, i);
        if (pk < 0 || pk >= cfg.rows) {
            fail("search_all", pk, "a key never written");
            break;
        }
        vdb_value v;
        if (vdb_result_field(r, 0, i, "ver", &v) != VDB_OK) {
            fail("search_all", pk, "no ver: %s", vdb_errmsg(NULL));
            break;
        }
        float vec[DIM];
        row_vec(pk, v.u.i64, vec);
        float d = vdb_result_distance(r, 0, i);
        if (!close_enough(d, l2(q, vec))) {
            fail("search_all", pk, "distance %g, version %" PRId64 " is at %g", d, v.u.i64,
                 l2(q, vec));
            break;
        }
        /* versions encode their writer: v % threads is the owner's id */
        if (v.u.i64 % cfg.threads != owner_of(pk)->id) {
            fail("search_all", pk, "version %" PRId64 " not written by its owner", v.u.i64);
            break;
        }
        if (!(seq[pk] & 1) && atomic_load(&kseq[pk]) == seq[pk]) {
            atomic_fetch_add(&checks_settled, 1);
            if (v.u.i64 != ver[pk]) {
                fail("search_all", pk, "version %" PRId64 " returned, the oracle has %s%" PRId64
                     " (settled)", v.u.i64, ver[pk] < 0 ? "it deleted, " : "", ver[pk]);
                break;
            }
        } else {
            atomic_fetch_add(&checks_skipped, 1);
        }
    }
    free(seq);
    free(ver);
    vdb_result_free(r);
    atomic_fetch_add(&op_count[OP_SEARCH_ALL], 1);
}

static void op_travel(vdb_db *db, worker *w)
{
    if (!w->ring_n)
        return;
    unsigned n = w->ring_n < RING ? w->ring_n : RING;
    ring_ent e = w->ring[(w->ring_n - 1 - rnd_below(&w->rng, n)) % RING];
    if (e.part && !part_name(w, e.part))
        return; /* its partition was dropped since */
    uint64_t now = 0;
    CHECK("travel_get", e.pk, vdb_now(db, &now));
    uint64_t age_ms = (now >> 18) - (e.ts >> 18);
    if (age_ms * 4 > (uint64_t)cfg.retention_s * 1000)
        return; /* too near the edge of the retention window */
    check_get(db, "travel_get", &e.pk, &e.ver, 1, e.ts);
    atomic_fetch_add(&op_count[OP_TRAVEL], 1);
}

static void op_partition(vdb_db *db, worker *w)
{
    int slot = (int)rnd_below(&w->rng, MAX_PARTS);
    part_slot *p = &w->parts[slot];
    if (!p->gen) {
        unsigned gen = ++w->next_gen;
        snprintf(p->name, sizeof p->name, "p%d_%u", w->id, gen);
        vdb_status st = vdb_create_partition(db, COLL, p->name);
        if (st != VDB_OK) {
            fail("partition", w->lo, "create %s: %s: %s", p->name, vdb_status_name(st),
                 vdb_errmsg(NULL));
            return;
        }
        p->gen = gen;
    } else {
        atomic_fetch_add(&w->tseq, 1);
        for (int64_t pk = w->lo; pk < w->hi; pk++)
            if (atomic_load(&kpart[pk]) == p->gen)
                atomic_fetch_add(&kseq[pk], 1);
        vdb_status st = vdb_drop_partition(db, COLL, p->name);
        for (int64_t pk = w->lo; pk < w->hi; pk++)
            if (atomic_load(&kpart[pk]) == p->gen) {
                if (st == VDB_OK && atomic_load(&kver[pk]) >= 0)
                    atomic_store(&kver[pk], -1);
                if (st == VDB_OK)
                    atomic_store(&kpart[pk], 0);
                atomic_fetch_add(&kseq[pk], 1);
            }
        atomic_fetch_add(&w->tseq, 1);
        if (st != VDB_OK) {
            fail("partition", w->lo, "drop %s: %s: %s", p->name, vdb_status_name(st),
                 vdb_errmsg(NULL));
            return;
        }
        p->gen = 0;
    }
    atomic_fetch_add(&op_count[OP_PARTITION], 1);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    static const struct {
        int op, weight;
    } mix_tab[] = {
        {OP_INSERT, 16}, {OP_UPSERT, 16}, {OP_DELETE, 8},      {OP_DELETE_WHERE, 2},
        {OP_GET, 10},    {OP_GET_OTHER, 10}, {OP_QUERY, 4},    {OP_COUNT, 4},
        {OP_COUNT_OTHER, 4}, {OP_SEARCH, 8}, {OP_SEARCH_ALL, 4}, {OP_TRAVEL, 6},
        {OP_PARTITION, 1},
    };
    int total = 0;
    for (size_t i = 0; i < sizeof mix_tab / sizeof mix_tab[0]; i++)
        total += mix_tab[i].weight;
    while (!atomic_load(&stop)) {
        int x = (int)rnd_below(&w->rng, (uint64_t)total), op = 0;
        for (size_t i = 0; i < sizeof mix_tab / sizeof mix_tab[0]; i++) {
            if (x < mix_tab[i].weight) {
                op = mix_tab[i].op;
                break;
            }
            x -= mix_tab[i].weight;
        }
        vdb_db *db = gate_enter();
        double ts0 = now_s();
        switch (op) {
        case OP_INSERT: op_write(db, w, false); break;
        case OP_UPSERT: op_write(db, w, true); break;
        case OP_DELETE: op_delete(db, w); break;
        case OP_DELETE_WHERE: op_delete_where(db, w); break;
        case OP_GET: op_get(db, w); break;
        case OP_GET_OTHER: op_get_other(db, w); break;
        case OP_QUERY: op_query(db, w); break;
        case OP_COUNT: op_count_range(db, w, w); break;
        case OP_COUNT_OTHER:
            op_count_range(db, w, &workers[rnd_below(&w->rng, (uint64_t)cfg.threads)]);
            break;
        case OP_SEARCH: op_search(db, w); break;
        case OP_SEARCH_ALL: op_search_all(db, w); break;
        case OP_TRAVEL: op_travel(db, w); break;
        case OP_PARTITION: op_partition(db, w); break;
        }
        op_time(op, ts0);
        gate_leave();
    }
    return NULL;
}

/* ---- background threads: flush, compaction, index create/drop ---------------------------- */

static void interruptible_sleep(int ms)
{
    for (int t = 0; t < ms && !atomic_load(&stop); t += 50)
        sleep_ms(50);
}

static void *flusher_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        interruptible_sleep(400);
        vdb_db *db = gate_enter();
        double ts0 = now_s();
        CHECK("flush", 0, vdb_flush(db, COLL));
        op_time(OP_FLUSH, ts0);
        atomic_fetch_add(&op_count[OP_FLUSH], 1);
        gate_leave();
    }
    return NULL;
}

static void *compactor_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        interruptible_sleep(700);
        vdb_db *db = gate_enter();
        double ts0 = now_s();
        CHECK("compact", 0, vdb_compact(db, COLL));
        op_time(OP_COMPACT, ts0);
        atomic_fetch_add(&op_count[OP_COMPACT], 1);
        gate_leave();
    }
    return NULL;
}

static void *indexer_main(void *arg)
{
    uint64_t rng = cfg.seed ^ 0x1dull;
    (void)arg;
    while (!atomic_load(&stop)) {
        interruptible_sleep(1200);
        vdb_db *db = gate_enter();
        double ts0 = now_s();
        const char *type = NULL;
        vdb_status st = vdb_describe_index(db, COLL, "emb", &type);
        if (st == VDB_OK) {
            uint64_t done = 0, total = 0;
            CHECK("index", 0, vdb_index_progress(db, COLL, "emb", &done, &total));
            if (done > total)
                fail("index", 0, "progress %" PRIu64 " of %" PRIu64, done, total);
            vdb_status ws = vdb_wait_for_index(db, COLL, "emb", 0);
            if (ws != VDB_OK && ws != VDB_ETIMEDOUT)
                fail("index", 0, "wait_for_index: %s: %s", vdb_status_name(ws),
                     vdb_errmsg(NULL));
            CHECK("index", 0, vdb_drop_index(db, COLL, "emb"));
            atomic_store(&approx, 0);
            atomic_fetch_add(&approx_epoch, 1);
        } else if (st == VDB_ENOTFOUND) {
            uint64_t x = rnd_below(&rng, 5);
            const char *t = x < 3 ? "HNSW" : x == 3 ? "IVF_FLAT" : "FLAT";
            const char *params = x < 3 ? "M=16,efConstruction=100" : x == 3 ? "nlist=16" : "";
            if (x < 4) {
                atomic_fetch_add(&approx_epoch, 1);
                atomic_store(&approx, 1);
            }
            CHECK("index", 0, vdb_create_index(db, COLL, "emb", t, params));
        } else {
            fail("index", 0, "describe_index: %s: %s", vdb_status_name(st), vdb_errmsg(NULL));
        }
        /* a scalar index on grp (deletes by expression filter on it) and on name, toggled */
        static const char *const sfield[] = {"grp", "name"};
        static const char *const stype[2][2] = {{"STL_SORT", "INVERTED"}, {"TRIE", "INVERTED"}};
        int sf = (int)rnd_below(&rng, 2);
        const char *have = NULL;
        st = vdb_describe_index(db, COLL, sfield[sf], &have);
        if (st == VDB_OK)
            CHECK("index", 0, vdb_drop_index(db, COLL, sfield[sf]));
        else if (st == VDB_ENOTFOUND)
            CHECK("index", 0, vdb_create_index(db, COLL, sfield[sf],
                                               stype[sf][rnd_below(&rng, 2)], ""));
        else
            fail("index", 0, "describe_index %s: %s: %s", sfield[sf], vdb_status_name(st),
                 vdb_errmsg(NULL));
        op_time(OP_INDEX, ts0);
        atomic_fetch_add(&op_count[OP_INDEX], 1);
        gate_leave();
    }
    return NULL;
}

/* a side collection created, filled, indexed, truncated and dropped over and over, while the
 * rest goes on: its expected row count (or absence) is known after every step */
static char scratch_name[64];
static atomic_llong scratch_rows = -1; /* -1: the collection does not exist */

static void scratch_fill(vdb_db *db, int64_t base, size_t n)
{
    int64_t pks[MAX_BATCH], vers[MAX_BATCH];
    for (size_t done = 0; done < n && !atomic_load(&failed);) {
        size_t m = n - done < MAX_BATCH ? n - done : MAX_BATCH;
        for (size_t i = 0; i < m; i++) {
            pks[i] = base + (int64_t)(done + i);
            vers[i] = 0;
        }
        vdb_batch *b = make_batch(pks, vers, m);
        uint64_t ts;
        CHECK("scratch_ddl", pks[0], b ? vdb_insert(db, scratch_name, NULL, b, &ts, NULL)
                                       : VDB_ENOMEM);
        vdb_batch_free(b);
        done += m;
    }
}

static void scratch_expect(vdb_db *db, const char *step)
{
    long long want = atomic_load(&scratch_rows);
    int exists = 0;
    CHECK("scratch_ddl", 0, vdb_has_collection(db, scratch_name, &exists));
    if (exists != (want >= 0)) {
        fail("scratch_ddl", 0, "%s: collection %s %s", step, scratch_name,
             exists ? "exists after its drop" : "missing");
        return;
    }
    if (want < 0)
        return;
    uint64_t got = 0;
    CHECK("scratch_ddl", 0, vdb_count(db, scratch_name, NULL, VDB_READ_OPTS(), &got));
    if ((long long)got != want)
        fail("scratch_ddl", 0, "%s: %s counts %" PRIu64 ", expected %lld", step, scratch_name,
             got, want);
}

static int create_collection_named(vdb_db *db, const char *name, uint32_t shards);

static void *scratch_main(void *arg)
{
    uint64_t rng = cfg.seed ^ 0x5c7a7c4ull;
    unsigned gen = 0;
    (void)arg;
    while (!atomic_load(&stop) && !atomic_load(&failed)) {
        interruptible_sleep(300);
        vdb_db *db = gate_enter();
        double ts0 = now_s();
        long long have = atomic_load(&scratch_rows);
        int step = (int)rnd_below(&rng, 6);
        if (have < 0) {
            snprintf(scratch_name, sizeof scratch_name, "scratch_%u", ++gen);
            if (create_collection_named(db, scratch_name, 1 + (uint32_t)rnd_below(&rng, 2)))
                fail("scratch_ddl", 0, "create %s: %s", scratch_name, vdb_errmsg(NULL));
            else
                atomic_store(&scratch_rows, 0);
        } else if (step <= 1) {
            size_t n = 50 + rnd_below(&rng, 400);
            scratch_fill(db, have, n); /* keys follow on from the rows there are */
            atomic_store(&scratch_rows, have + (long long)n);
        } else if (step == 2) {
            CHECK("scratch_ddl", 0, vdb_flush(db, scratch_name));
            const char *t;
            if (vdb_describe_index(db, scratch_name, "emb", &t) == VDB_ENOTFOUND)
                CHECK("scratch_ddl", 0, vdb_create_index(db, scratch_name, "emb", "HNSW",
                                                         "M=8,efConstruction=40"));
        } else if (step == 3) {
            CHECK("scratch_ddl", 0, vdb_truncate_collection(db, scratch_name));
            atomic_store(&scratch_rows, 0);
        } else if (step == 4) {
            CHECK("scratch_ddl", 0, vdb_compact(db, scratch_name));
        } else {
            CHECK("scratch_ddl", 0, vdb_drop_collection(db, scratch_name));
            atomic_store(&scratch_rows, -1);
        }
        scratch_expect(db, "after a step");
        op_time(OP_SCRATCH, ts0);
        atomic_fetch_add(&op_count[OP_SCRATCH], 1);
        gate_leave();
    }
    return NULL;
}

/* ---- whole-oracle check, open/close ------------------------------------------------------- */

static void verify_all(vdb_db *db, const char *when)
{
    char op[64];
    snprintf(op, sizeof op, "verify(%s)", when);
    int64_t pks[256], exp[256];
    for (int64_t lo = 0; lo < cfg.rows && !atomic_load(&failed); lo += 256) {
        size_t n = 0;
        for (int64_t pk = lo; pk < lo + 256 && pk < cfg.rows; pk++) {
            pks[n] = pk;
            exp[n++] = atomic_load(&kver[pk]);
        }
        check_get(db, op, pks, exp, n, 0);
    }
    uint64_t got = 0, want = oracle_count(0, cfg.rows);
    CHECK(op, 0, vdb_count(db, COLL, NULL, VDB_READ_OPTS(), &got));
    if (got != want)
        fail(op, 0, "count %" PRIu64 ", the oracle has %" PRIu64, got, want);
    if (scratch_name[0])
        scratch_expect(db, op);
    vdb_stats stats = {.struct_size = sizeof stats};
    CHECK(op, 0, vdb_collection_stats(db, COLL, &stats));
    if (stats.row_count != want)
        fail(op, 0, "stats row_count %" PRIu64 ", the oracle has %" PRIu64, stats.row_count,
             want);
    if (stats.indexed_rows > stats.sealed_rows)
        fail(op, 0, "stats: %" PRIu64 " indexed rows of %" PRIu64 " sealed", stats.indexed_rows,
             stats.sealed_rows);
    if (stats.failed_index_builds)
        fail(op, 0, "stats: %" PRIu64 " failed index builds", stats.failed_index_builds);
    for (int t = 0; t < cfg.threads; t++) {
        worker *w = &workers[t];
        for (int s = 0; s < MAX_PARTS; s++) {
            if (!w->parts[s].gen)
                continue;
            const char *parts[] = {w->parts[s].name};
            uint64_t in = 0, pw = 0;
            for (int64_t pk = w->lo; pk < w->hi; pk++)
                pw += atomic_load(&kver[pk]) >= 0 && atomic_load(&kpart[pk]) == w->parts[s].gen;
            CHECK(op, w->lo, vdb_count(db, COLL, NULL,
                                        VDB_READ_OPTS(.partitions = parts, .n_partitions = 1),
                                        &in));
            if (in != pw)
                fail(op, w->lo, "partition %s counts %" PRIu64 ", the oracle has %" PRIu64,
                     parts[0], in, pw);
        }
    }
}

static vdb_db *open_db(void)
{
    vdb_options o;
    vdb_options_init(&o);
    o.sync = (vdb_sync_mode)cfg.sync;
    o.log_uri = cfg.log_uri;
    o.meta_uri = cfg.meta_uri;
    o.object_uri = cfg.object_uri;
    o.segment_max_rows = (uint64_t)cfg.seal_rows;
    o.retention_seconds = (uint64_t)cfg.retention_s;
    o.compaction_interval_ms = 500;
    o.compaction_min_segments = 2;
    o.index_build_workers = 1;
    o.index_build_threads = 1;
    o.search_threads = 2;
    o.segment_idle_seal_ms = 2000;
    vdb_db *db = NULL;
    vdb_status st = vdb_open(cfg.dir, &o, &db);
    if (st != VDB_OK) {
        fail("open", 0, "open %s: %s: %s", cfg.dir, vdb_status_name(st), vdb_errmsg(NULL));
        return NULL;
    }
    return db;
}

static int create_collection(vdb_db *db) { return create_collection_named(db, COLL, 2); }

static int create_collection_named(vdb_db *db, const char *name, uint32_t shards)
{
    vdb_schema *s = NULL;
    if (vdb_schema_new(name, &s) != VDB_OK ||
        vdb_schema_add_field(s, &(vdb_field_def){.struct_size = sizeof(vdb_field_def),
                                                 .name = "id", .type = VDB_TYPE_INT64,
                                                 .is_primary = 1}) != VDB_OK ||
        vdb_schema_add_field(s, &(vdb_field_def){.struct_size = sizeof(vdb_field_def),
                                                 .name = "ver", .type = VDB_TYPE_INT64}) ||
        vdb_schema_add_field(s, &(vdb_field_def){.struct_size = sizeof(vdb_field_def),
                                                 .name = "grp", .type = VDB_TYPE_INT32}) ||
        vdb_schema_add_field(s, &(vdb_field_def){.struct_size = sizeof(vdb_field_def),
                                                 .name = "name", .type = VDB_TYPE_VARCHAR,
                                                 .max_length = 64}) ||
        vdb_schema_add_field(s, &(vdb_field_def){.struct_size = sizeof(vdb_field_def),
                                                 .name = "emb",
                                                 .type = VDB_TYPE_FLOAT_VECTOR, .dim = DIM,
                                                 .metric = VDB_METRIC_L2}) ||
        vdb_schema_set_shards(s, shards) || vdb_create_collection(db, s)) {
        fprintf(stderr, "db_stress: create collection: %s\n", vdb_errmsg(NULL));
        vdb_schema_free(s);
        return -1;
    }
    vdb_schema_free(s);
    return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void report(double t0, const char *what)
{
    double el = now_s() - t0;
    unsigned long long total = 0;
    for (int i = 0; i < OP_KINDS; i++)
        total += atomic_load(&op_count[i]);
    /* RSS, and its anonymous (heap) and file-backed (mapped segment files) parts; the
     * collection's sealed+growing segments and delete records */
    vdb_stats st = {.struct_size = sizeof st};
    if (!g_db || vdb_collection_stats(g_db, COLL, &st) != VDB_OK)
        memset(&st, 0, sizeof st);
    printf("db_stress: %s t=%.0fs ops=%llu ops/s=%.0f rss=%ld KiB (anon %ld, file %ld) "
           "checks=%llu skipped=%llu segments=%" PRIu64 "+%" PRIu64 " deletes=%" PRIu64
           " index=%" PRIu64 " KiB\n",
           what, el, total, total / (el > 0 ? el : 1), status_kib("VmRSS"),
           status_kib("RssAnon"), status_kib("RssFile"),
           (unsigned long long)atomic_load(&checks_settled),
           (unsigned long long)atomic_load(&checks_skipped), st.sealed_segments,
           st.growing_segments, st.deleted_rows, st.index_bytes / 1024);
    fflush(stdout);
}

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
    fprintf(stderr,
            "usage: db_stress [--seconds S] [--threads N] [--seed X] [--rows R] [--dir D]\n"
            "                 [--reopen-ms MS] [--retention S] [--seal-rows N] [--report S]"
            " [--keep]\n"
            "                 [--sync full|batch|off] [--log-uri U] [--meta-uri U]"
            " [--object-uri U]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    cfg.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--keep")) {
            cfg.keep = 1;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--seconds")) cfg.seconds = atof(v);
        else if (!strcmp(a, "--threads")) cfg.threads = atoi(v);
        else if (!strcmp(a, "--seed")) cfg.seed = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--rows")) cfg.rows = strtoll(v, NULL, 0);
        else if (!strcmp(a, "--dir")) cfg.dir = v;
        else if (!strcmp(a, "--reopen-ms")) cfg.reopen_ms = atoi(v);
        else if (!strcmp(a, "--retention")) cfg.retention_s = atoi(v);
        else if (!strcmp(a, "--seal-rows")) cfg.seal_rows = atoi(v);
        else if (!strcmp(a, "--report")) cfg.report_s = atoi(v);
        else if (!strcmp(a, "--log-uri")) cfg.log_uri = v;
        else if (!strcmp(a, "--meta-uri")) cfg.meta_uri = v;
        else if (!strcmp(a, "--object-uri")) cfg.object_uri = v;
        else if (!strcmp(a, "--sync"))
            cfg.sync = !strcmp(v, "full") ? VDB_SYNC_FULL : !strcmp(v, "off") ? VDB_SYNC_OFF
                     : !strcmp(v, "batch") ? VDB_SYNC_BATCH : (usage(), 0);
        else usage();
    }
    if (cfg.threads < 1 || cfg.threads > 256 || cfg.rows < cfg.threads * 64 || cfg.seconds <= 0 ||
        cfg.retention_s < 1 || cfg.seal_rows < 1 || cfg.report_s < 1)
        usage();
    cfg.rows -= cfg.rows % cfg.threads;
    char dirbuf[4096];
    int made_dir = 0;
    if (!cfg.dir) {
        const char *base = getenv("VDB_TEST_TMP");
        if (!base || !*base)
            base = getenv("TMPDIR");
        if (!base || !*base)
            base = "/tmp";
        mkdir(base, 0755);
        snprintf(dirbuf, sizeof dirbuf, "%s/db_stress-XXXXXX", base);
        if (!mkdtemp(dirbuf)) {
            fprintf(stderr, "db_stress: mkdtemp %s: %s\n", dirbuf, strerror(errno));
            return 2;
        }
        cfg.dir = dirbuf;
        made_dir = 1;
    }
    printf("db_stress: seed=%" PRIu64 " threads=%d rows=%" PRId64 " seconds=%.0f dir=%s\n",
           cfg.seed, cfg.threads, cfg.rows, cfg.seconds, cfg.dir);

    kseq = calloc((size_t)cfg.rows, sizeof *kseq);
    kver = malloc((size_t)cfg.rows * sizeof *kver);
    kpart = calloc((size_t)cfg.rows, sizeof *kpart);
    workers = calloc((size_t)cfg.threads, sizeof *workers);
    for (int64_t i = 0; i < cfg.rows; i++)
        atomic_init(&kver[i], -1);

    g_db = open_db();
    if (!g_db)
        return 1;
    int exists = 0;
    if (vdb_has_collection(g_db, COLL, &exists) != VDB_OK || exists) {
        fprintf(stderr, "db_stress: %s already has a collection '%s': give an empty --dir\n",
                cfg.dir, COLL);
        vdb_close(g_db);
        return 2;
    }
    if (create_collection(g_db))
        return 1;

    int64_t per = cfg.rows / cfg.threads;
    for (int t = 0; t < cfg.threads; t++) {
        workers[t].id = t;
        workers[t].lo = per * t;
        workers[t].hi = per * (t + 1);
        workers[t].rng = mix(cfg.seed + (uint64_t)t * 0x51ed27u);
    }
    double t0 = now_s();
    report(t0, "start");
    for (int t = 0; t < cfg.threads; t++)
        pthread_create(&workers[t].th, NULL, worker_main, &workers[t]);
    pthread_t bg[4];
    pthread_create(&bg[0], NULL, flusher_main, NULL);
    pthread_create(&bg[1], NULL, compactor_main, NULL);
    pthread_create(&bg[2], NULL, indexer_main, NULL);
    pthread_create(&bg[3], NULL, scratch_main, NULL);

    double next_reopen = t0 + cfg.reopen_ms / 1000.0, next_report = t0 + cfg.report_s;
    while (!atomic_load(&stop) && now_s() - t0 < cfg.seconds) {
        sleep_ms(50);
        if (now_s() >= next_report) {
            report(t0, "running");
            next_report += cfg.report_s;
        }
        if (now_s() >= next_reopen) {
            double ts0 = now_s();
            gate_pause();
            verify_all(g_db, "before close");
            vdb_close(g_db);
            g_db = atomic_load(&failed) ? NULL : open_db();
            if (g_db)
                verify_all(g_db, "after reopen");
            op_time(OP_REOPEN, ts0);
            atomic_fetch_add(&op_count[OP_REOPEN], 1);
            if (!g_db)
                atomic_store(&stop, 1);
            gate_resume();
            next_reopen = now_s() + cfg.reopen_ms / 1000.0;
        }
    }
    atomic_store(&stop, 1);
    for (int t = 0; t < cfg.threads; t++)
        pthread_join(workers[t].th, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(bg[i], NULL);
    double el = now_s() - t0;
    if (g_db) {
        if (!atomic_load(&failed)) {
            verify_all(g_db, "end");
            uint64_t problems = 0;
            vdb_status st = vdb_check(g_db, NULL, NULL, &problems);
            if (st != VDB_OK)
                fail("check", 0, "vdb_check: %s: %s (%" PRIu64 " problems)", vdb_status_name(st),
                     vdb_errmsg(NULL), problems);
        }
        vdb_close(g_db);
        g_db = NULL;
    }
    report(t0, "end");
    /* everything is freed now: what malloc_trim gives back was the allocator's, not live data */
    malloc_trim(0);
    report(t0, "end, after malloc_trim");
    unsigned long long total = 0;
    for (int i = 0; i < OP_KINDS; i++) {
        unsigned long long c = atomic_load(&op_count[i]);
        total += c;
        printf("  %-13s %10llu ops %9.1f ops/s  mean %8.2f ms  max %8.1f ms\n", op_names[i], c,
               c / el, c ? atomic_load(&op_ns[i]) / 1e6 / (double)c : 0.0,
               atomic_load(&op_max_ns[i]) / 1e6);
    }
    printf("  %-13s %10llu ops %9.1f ops/s\n", "total", total, total / el);
    if (recall_n)
        printf("  approximate searches %" PRIu64 ": mean recall@%d %.4f, min %.2f\n", recall_n,
               K, recall_sum / (double)recall_n, recall_min);
    if (recall_n >= 20 && recall_sum / (double)recall_n < 0.9)
        fail("search", 0, "mean recall %.3f of %" PRIu64 " approximate searches is below 0.9",
             recall_sum / (double)recall_n, recall_n);
    if (made_dir && !cfg.keep && !atomic_load(&failed))
        nftw(cfg.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(kseq);
    free(kver);
    free(kpart);
    free(workers);
    if (atomic_load(&failed)) {
        printf("db_stress: FAILED (%d mismatches) seed=%" PRIu64 " dir=%s\n",
               atomic_load(&failed), cfg.seed, cfg.dir);
        return 1;
    }
    printf("db_stress: OK\n");
    return 0;
}

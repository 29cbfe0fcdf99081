/* bench_recovery: open/recovery time, from the log and from sealed segments.
 *
 * Inserts --rows random rows of dim 16 (default 1,000,000, batches of 1,000), closes; reopens
 * timing vdb_open (the rows come back by replaying the WAL: no flush happened); flushes,
 * closes; reopens timing vdb_open (the rows come back by loading the sealed segments). Prints
 * rows/s of recovery both ways, and the memory of each phase.
 *
 * Each phase runs in its own child process, so getrusage(ru_maxrss) is the peak of that phase
 * alone (in one process it could only grow). "rss now" is the resident size at the end of the
 * phase, before close (from /proc/self/statm).
 *
 * Usage: bench_recovery [--rows N] [--batch N] [--sync full|batch|off] [--dir DIR] [--keep]
 *   --sync   the sync policy while inserting (default full) */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vdb/vdb.h>

#include "bench_util.h"

#define DIM 16

static size_t g_rows = 1000000, g_batch = 1000;
static vdb_sync_mode g_sync = VDB_SYNC_FULL;
static char g_path[4096];

static double maxrss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
}

static double rss_now_mb(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static double g_bytes;
static int add_size(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)p, (void)ftw;
    if (flag == FTW_F)
        g_bytes += (double)sb->st_size;
    return 0;
}

static double tree_mb(const char *path)
{
    g_bytes = 0;
    nftw(path, add_size, 32, FTW_PHYS);
    return g_bytes / (1024.0 * 1024.0);
}

/* size of the files under <db folder>/sub */
static double tree_mb_sub(const char *sub)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", g_path, sub);
    return tree_mb(path);
}

static vdb_db *open_db(double *secs)
{
    vdb_options opts;
    vdb_options_init(&opts);
    opts.sync = g_sync;
    vdb_db *db;
    double t0 = bench_now();
    vdb_status st = vdb_open(g_path, &opts, &db);
    if (st != VDB_OK)
        bench_die("vdb_open", st);
    if (secs)
        *secs = bench_now() - t0;
    return db;
}

static vdb_stats stats_of(vdb_db *db)
{
    vdb_stats s = {.struct_size = sizeof s};
    vdb_status st = vdb_collection_stats(db, "rec", &s);
    if (st != VDB_OK)
        bench_die("vdb_collection_stats", st);
    return s;
}

static void report(const char *phase, double secs, const char *what, vdb_db *db)
{
    vdb_stats s = stats_of(db);
    printf("%-26s %9.3f s %12.0f rows/s  rows %8llu (growing %llu in %llu seg, sealed %llu in "
           "%llu seg)  rss now %7.1f MB  peak %7.1f MB  %s\n",
           phase, secs, secs > 0 ? (double)s.row_count / secs : 0,
           (unsigned long long)s.row_count, (unsigned long long)s.growing_rows,
           (unsigned long long)s.growing_segments, (unsigned long long)s.sealed_rows,
           (unsigned long long)s.sealed_segments, rss_now_mb(), maxrss_mb(), what);
    if (s.row_count != g_rows) {
        fprintf(stderr, "bench_recovery: %s: %llu visible rows, expected %zu\n", phase,
                (unsigned long long)s.row_count, g_rows);
        exit(1);
    }
}

/* One search for row 0's vector: the nearest must be row 0 (a check that data came back). */
static void check_search(vdb_db *db, const float *v0)
{
    vdb_search_req req = {.struct_size = sizeof req, .collection = "rec", .vectors = v0,
                          .nq = 1, .dim = DIM, .k = 1};
    vdb_result *res;
    vdb_status st = vdb_search(db, &req, &res);
    if (st != VDB_OK)
        bench_die("vdb_search", st);
    if (vdb_result_rows(res, 0) != 1 || vdb_result_distance(res, 0, 0) != 0.0f) {
        fprintf(stderr, "bench_recovery: row 0 is not found by its own vector\n");
        exit(1);
    }
    vdb_result_free(res);
}

static float rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return (float)(*s >> 8) / 16777216.0f;
}

static const uint32_t SEED = 2463534242u;

static void row0(float *v)
{
    uint32_t s = SEED;
    for (int d = 0; d < DIM; d++)
        v[d] = rnd(&s);
}

static void phase_insert(void)
{
    vdb_db *db = open_db(NULL);
    vdb_schema *schema;
    vdb_status st;
    if ((st = vdb_schema_new("rec", &schema)) != VDB_OK ||
        (st = vdb_schema_add_field(schema, VDB_FIELD(.name = "id",
                                                     .type = VDB_TYPE_INT64,
                                                     .is_primary = 1))) != VDB_OK ||
        (st = vdb_schema_add_field(schema, VDB_FIELD(.name = "emb",
                                                     .type = VDB_TYPE_FLOAT_VECTOR,
                                                     .dim = DIM,
                                                     .metric = VDB_METRIC_L2))) != VDB_OK ||
        (st = vdb_create_collection(db, schema)) != VDB_OK)
        bench_die("creating the collection", st);
    vdb_schema_free(schema);
    int64_t *ids = malloc(g_batch * sizeof *ids);
    float *vecs = malloc(g_batch * DIM * sizeof *vecs);
    if (!ids || !vecs)
        exit(1);
    uint32_t s = SEED;
    double t0 = bench_now();
    for (size_t first = 0; first < g_rows; first += g_batch) {
        size_t n = g_rows - first < g_batch ? g_rows - first : g_batch;
        for (size_t i = 0; i < n; i++) {
            ids[i] = (int64_t)(first + i);
            for (int d = 0; d < DIM; d++)
                vecs[i * DIM + d] = rnd(&s);
        }
        vdb_batch *b;
        if ((st = vdb_batch_new(&b)) != VDB_OK ||
            (st = vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0)) != VDB_OK ||
            (st = vdb_batch_add_column(b, "emb", VDB_TYPE_FLOAT_VECTOR, vecs, NULL, n, DIM)) !=
                VDB_OK)
            bench_die("building a batch", st);
        uint64_t ts;
        if ((st = vdb_insert(db, "rec", NULL, b, &ts, NULL)) != VDB_OK)
            bench_die("vdb_insert", st);
        vdb_batch_free(b);
    }
    double t = bench_now() - t0;
    free(ids);
    free(vecs);
    report("1 insert", t, "(rows/s = insert rate)", db);
    double tc = bench_now();
    vdb_close(db);
    printf("%-26s %9.3f s   folder %.1f MB (wal %.1f MB)\n", "  close", bench_now() - tc,
           tree_mb(g_path), tree_mb_sub("wal"));
}

static void phase_replay(void)
{
    double t;
    vdb_db *db = open_db(&t);
    report("2 reopen: WAL replay", t, "(vdb_open)", db);
    float v0[DIM];
    row0(v0);
    check_search(db, v0);
    double tc = bench_now();
    vdb_close(db);
    printf("%-26s %9.3f s\n", "  close", bench_now() - tc);
}

static void phase_flush(void)
{
    double to;
    vdb_db *db = open_db(&to);
    double t0 = bench_now();
    vdb_status st = vdb_flush(db, "rec");
    if (st != VDB_OK)
        bench_die("vdb_flush", st);
    double t = bench_now() - t0;
    report("3 open + flush", t, "(time and rows/s of vdb_flush alone)", db);
    double tc = bench_now();
    vdb_close(db);
    printf("%-26s %9.3f s   (its vdb_open took %.3f s)  folder %.1f MB (wal %.1f MB, objects "
           "%.1f MB)\n",
           "  close", bench_now() - tc, to, tree_mb(g_path), tree_mb_sub("wal"),
           tree_mb_sub("objects"));
}

static void phase_sealed(void)
{
    double t;
    vdb_db *db = open_db(&t);
    report("4 reopen: sealed load", t, "(vdb_open)", db);
    float v0[DIM];
    row0(v0);
    check_search(db, v0);
    double tc = bench_now();
    vdb_close(db);
    printf("%-26s %9.3f s\n", "  close", bench_now() - tc);
}

/* Runs fn in a child process; exits if it fails. */
static void run_phase(void (*fn)(void))
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "bench_recovery: fork: %s\n", strerror(errno));
        exit(1);
    }
    if (pid == 0) {
        fn();
        fflush(stdout);
        _exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            fprintf(stderr, "bench_recovery: waitpid: %s\n", strerror(errno));
            exit(1);
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_recovery: a phase failed (status 0x%x)\n", status);
        exit(1);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_recovery [--rows N] [--batch N] [--sync full|batch|off] "
                    "[--dir DIR] [--keep]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *sync_name = "full";
    int keep = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            g_rows = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            g_batch = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--sync") && i + 1 < argc)
            sync_name = argv[++i];
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--keep"))
            keep = 1;
        else
            usage();
    }
    if (!strcmp(sync_name, "full"))
        g_sync = VDB_SYNC_FULL;
    else if (!strcmp(sync_name, "batch"))
        g_sync = VDB_SYNC_BATCH;
    else if (!strcmp(sync_name, "off"))
        g_sync = VDB_SYNC_OFF;
    else
        usage();
    if (g_rows == 0 || g_batch == 0)
        usage();

    char tmpdir[] = "/tmp/vdb-bench-recovery-XXXXXX";
    if (!dir) {
        if (!mkdtemp(tmpdir)) {
            fprintf(stderr, "bench_recovery: mkdtemp: %s\n", strerror(errno));
            return 1;
        }
        dir = tmpdir;
    }
    snprintf(g_path, sizeof g_path, "%s/db", dir);
    bench_rm_rf(g_path);

    printf("bench_recovery: libvdb %s, %zu rows x dim %d (%.1f MB of vectors), batches of %zu, "
           "SYNC_%s while inserting, folder %s\n",
           vdb_version(), g_rows, DIM, (double)g_rows * DIM * 4 / 1e6, g_batch, sync_name,
           g_path);
    printf("each phase runs in its own process: peak = ru_maxrss of that phase alone\n\n");
    run_phase(phase_insert);
    run_phase(phase_replay);
    run_phase(phase_flush);
    run_phase(phase_sealed);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("\nparent process peak %.1f MB (holds no data)\n", (double)ru.ru_maxrss / 1024.0);
    if (!keep)
        bench_rm_rf(dir == tmpdir ? tmpdir : g_path);
    return 0;
}

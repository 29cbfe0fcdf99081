/* bench_insert: durable insert rate through vdb_insert, beside the disk's own limit.
 *
 * For 128-d random vectors and 784-d Fashion-MNIST vectors, inserts --rows rows in batches of
 * 1,000 into a fresh database under each sync policy (FULL, BATCH, OFF) and prints rows/s and
 * MB/s of vector payload (MB = 10^6 bytes, rows * dim * 4). In the same run and the same
 * folder it measures the disk: sequential write() of the same bytes (the batch's id and vector
 * columns) in the same chunks, with one fdatasync() per 1,000-row chunk, and prints the ratio
 * insert/disk. A write()-only pass (page cache, no fdatasync) is printed too, as the ceiling
 * for SYNC_OFF.
 *
 * Usage: bench_insert [--rows N] [--dir DIR] [--data DIR] [--batch N] [--repeat R] [--pwrite]
 *                    [--keep]
 *   --rows N   rows per run (default 60000)
 *   --dir DIR  folder for the databases and the disk test (default: a new folder in /tmp)
 *   --data DIR shared data folder (default: the build's VDB_SHARED_DATA)
 *   --batch N  rows per vdb_insert / per fdatasync (default 1000)
 *   --repeat R rounds (default 5); each line prints the median round and the spread
 *   --pwrite   open with vdb_options.disable_io_uring = 1 (the plain pwrite() WAL path);
 *              by default the library picks its WAL path itself
 *   --keep     leave the databases on disk
 *   --log-uri U  log backend URI instead of the local WAL; "@DIR@" in it becomes the run's
 *              database folder (rocksdb://@DIR@/rocks, nats://127.0.0.1:4222/bench-@RUN@ with
 *              @RUN@ a unique name per run) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vdb/vdb.h>

#include "bench_util.h"
#include "fmnist.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* xorshift32 -> [0,1) */
static float rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return (float)(*s >> 8) / 16777216.0f;
}

static int g_pwrite; /* --pwrite: vdb_options.disable_io_uring = 1 */
static const char *g_log_uri; /* --log-uri */

/* --log-uri with @DIR@ and @RUN@ filled in for one run */
static void log_uri_for(const char *path, char *out, size_t n)
{
    static unsigned run;
    char runs[64];
    snprintf(runs, sizeof runs, "r%ld-%u", (long)getpid(), run++);
    out[0] = 0;
    for (const char *p = g_log_uri; *p && strlen(out) + 1 < n;) {
        const char *sub = !strncmp(p, "@DIR@", 5) ? path : !strncmp(p, "@RUN@", 5) ? runs : NULL;
        size_t len = strlen(out);
        if (sub) {
            snprintf(out + len, n - len, "%s", sub);
            p += 5;
        } else {
            out[len] = *p++;
            out[len + 1] = 0;
        }
    }
}

typedef struct dataset {
    uint32_t dim;
    const float *vecs; /* src_rows x dim; row i of the run uses vecs[i % src_rows] */
    size_t src_rows;
    const char *name;
} dataset;

/* Fills ids and vecs for rows [first, first + n). */
static void fill_chunk(const dataset *ds, size_t first, size_t n, int64_t *ids, float *vecs)
{
    for (size_t i = 0; i < n; i++) {
        ids[i] = (int64_t)(first + i);
        memcpy(vecs + i * ds->dim, ds->vecs + ((first + i) % ds->src_rows) * ds->dim,
               ds->dim * sizeof(float));
    }
}

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Sequential write() of the same bytes per chunk as the insert batches (ids then vectors);
 * fdatasync after each chunk when sync. Returns seconds. */
static double disk_run(const char *dir, const dataset *ds, size_t rows, size_t batch, int sync,
                       int64_t *ids, float *vecs)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/disk-%u.dat", dir, ds->dim);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "bench_insert: open %s: %s\n", path, strerror(errno));
        exit(1);
    }
    double t0 = bench_now();
    for (size_t first = 0; first < rows; first += batch) {
        size_t n = rows - first < batch ? rows - first : batch;
        fill_chunk(ds, first, n, ids, vecs);
        if (write_all(fd, ids, n * sizeof *ids) != 0 ||
            write_all(fd, vecs, n * ds->dim * sizeof *vecs) != 0 || (sync && fdatasync(fd) != 0)) {
            fprintf(stderr, "bench_insert: write %s: %s\n", path, strerror(errno));
            exit(1);
        }
    }
    double t = bench_now() - t0;
    close(fd);
    unlink(path);
    return t;
}

typedef struct insert_times {
    double total; /* the whole loop: building batches + vdb_insert */
    double insert; /* inside vdb_insert only */
    double open;
    double close;
} insert_times;

static insert_times db_run(const char *dir, const dataset *ds, size_t rows, size_t batch,
                           vdb_sync_mode mode, const char *mode_name, int keep, int64_t *ids,
                           float *vecs)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/db-%u-%s", dir, ds->dim, mode_name);
    bench_rm_rf(path);
    insert_times t = {0};
    vdb_options opts;
    vdb_options_init(&opts);
    opts.sync = mode;
    opts.disable_io_uring = g_pwrite;
    char log_uri[4096];
    if (g_log_uri) {
        log_uri_for(path, log_uri, sizeof log_uri);
        opts.log_uri = log_uri;
    }
    vdb_db *db;
    double t0 = bench_now();
    vdb_status st = vdb_open(path, &opts, &db);
    if (st != VDB_OK)
        bench_die("vdb_open", st);
    t.open = bench_now() - t0;

    vdb_schema *schema;
    if ((st = vdb_schema_new("bench", &schema)) != VDB_OK)
        bench_die("vdb_schema_new", st);
    if ((st = vdb_schema_add_field(schema, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                                     .is_primary = 1))) != VDB_OK)
        bench_die("add id", st);
    if ((st = vdb_schema_add_field(schema, VDB_FIELD(.name = "emb",
                                                     .type = VDB_TYPE_FLOAT_VECTOR,
                                                     .dim = ds->dim,
                                                     .metric = VDB_METRIC_L2))) != VDB_OK)
        bench_die("add emb", st);
    if ((st = vdb_create_collection(db, schema)) != VDB_OK)
        bench_die("vdb_create_collection", st);
    vdb_schema_free(schema);

    t0 = bench_now();
    for (size_t first = 0; first < rows; first += batch) {
        size_t n = rows - first < batch ? rows - first : batch;
        fill_chunk(ds, first, n, ids, vecs);
        vdb_batch *b;
        if ((st = vdb_batch_new(&b)) != VDB_OK)
            bench_die("vdb_batch_new", st);
        if ((st = vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0)) != VDB_OK)
            bench_die("add column id", st);
        if ((st = vdb_batch_add_column(b, "emb", VDB_TYPE_FLOAT_VECTOR, vecs, NULL, n,
                                       ds->dim)) != VDB_OK)
            bench_die("add column emb", st);
        uint64_t ts;
        double ti = bench_now();
        if ((st = vdb_insert(db, "bench", NULL, b, &ts, NULL)) != VDB_OK)
            bench_die("vdb_insert", st);
        t.insert += bench_now() - ti;
        vdb_batch_free(b);
    }
    t.total = bench_now() - t0;

    vdb_stats stats = {.struct_size = sizeof stats};
    if ((st = vdb_collection_stats(db, "bench", &stats)) != VDB_OK)
        bench_die("vdb_collection_stats", st);
    if (stats.row_count != rows) {
        fprintf(stderr, "bench_insert: %s: %llu visible rows after inserting %zu\n", path,
                (unsigned long long)stats.row_count, rows);
        exit(1);
    }
    t0 = bench_now();
    vdb_close(db);
    t.close = bench_now() - t0;
    if (!keep)
        bench_rm_rf(path);
    return t;
}

static double median(const double *v, int n)
{
    double *c = malloc((size_t)n * sizeof *c);
    if (!c)
        exit(1);
    memcpy(c, v, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, cmp_double);
    double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    free(c);
    return m;
}

/* One line: medians of n timings of rows rows, and the spread of rows/s (no newline). */
static void print_line(const char *label, const double *t, int n, size_t rows, size_t batch,
                       double mb)
{
    double med = median(t, n), lo = t[0], hi = t[0];
    for (int i = 1; i < n; i++) {
        lo = t[i] < lo ? t[i] : lo;
        hi = t[i] > hi ? t[i] : hi;
    }
    char spread[48];
    snprintf(spread, sizeof spread, "%.0f..%.0f", rows / hi, rows / lo);
    printf("%-34s %10.0f %9.1f %9.3f  %-21s", label, rows / med, mb / med,
           med * 1e3 * batch / rows, spread);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_insert [--rows N] [--dir DIR] [--data DIR] [--batch N] "
                    "[--repeat R] [--pwrite] [--keep] [--log-uri URI]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    size_t rows = 60000, batch = 1000;
    const char *dir = NULL, *data = NULL;
    int keep = 0, repeat = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            rows = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--keep"))
            keep = 1;
        else if (!strcmp(argv[i], "--log-uri") && i + 1 < argc)
            g_log_uri = argv[++i];
        else if (!strcmp(argv[i], "--pwrite"))
            g_pwrite = 1;
        else
            usage();
    }
    if (rows == 0 || batch == 0 || repeat < 1 || repeat > 100)
        usage();

    char tmpdir[] = "/tmp/vdb-bench-insert-XXXXXX";
    int made_tmp = 0;
    if (!dir) {
        if (!mkdtemp(tmpdir)) {
            fprintf(stderr, "bench_insert: mkdtemp: %s\n", strerror(errno));
            return 1;
        }
        dir = tmpdir;
        made_tmp = 1;
    } else if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "bench_insert: mkdir %s: %s\n", dir, strerror(errno));
        return 1;
    }

    /* 128-d random, 784-d Fashion-MNIST (cycled when --rows > 60,000; ids stay distinct) */
    size_t nrand = rows < 100000 ? rows : 100000;
    float *rand_vecs = malloc(nrand * 128 * sizeof(float));
    if (!rand_vecs)
        return 1;
    uint32_t seed = 2463534242u;
    for (size_t i = 0; i < nrand * 128; i++)
        rand_vecs[i] = rnd(&seed);
    float *fm;
    size_t fm_rows;
    if (fmnist_load_base(data, rows < FMNIST_BASE_ROWS ? rows : 0, &fm, &fm_rows) != 0)
        return 1;
    dataset sets[2] = {{128, rand_vecs, nrand, "random"}, {FMNIST_DIM, fm, fm_rows, "fmnist"}};

    int64_t *ids = malloc(batch * sizeof *ids);
    float *vecs = malloc(batch * FMNIST_DIM * sizeof *vecs);
    if (!ids || !vecs)
        return 1;

    static const struct {
        vdb_sync_mode mode;
        const char *name;
    } modes[] = {{VDB_SYNC_FULL, "FULL"}, {VDB_SYNC_BATCH, "BATCH"}, {VDB_SYNC_OFF, "OFF"}};

    printf("bench_insert: libvdb %s, %zu rows per run, %zu rows per batch, folder %s, "
           "disable_io_uring=%d\n",
           vdb_version(), rows, batch, dir, g_pwrite);
    printf("MB = 10^6 bytes of vector payload (rows x dim x 4); 'call' = time inside vdb_insert "
           "only, 'loop' = building batches + vdb_insert\n");
    for (int s = 0; s < 2; s++) {
        const dataset *ds = &sets[s];
        double mb = (double)rows * ds->dim * sizeof(float) / 1e6;
        printf("\n== dim %u (%s), %.1f MB of vectors, %zu chunks, %d rounds ==\n", ds->dim,
               ds->name, mb, (rows + batch - 1) / batch, repeat);
        /* rounds of: disk with fdatasync, disk write only, FULL, BATCH, OFF; the rounds
         * interleave so that slow and fast spells of the disk touch every line alike */
        double *d_sync = calloc((size_t)repeat, sizeof *d_sync);
        double *d_write = calloc((size_t)repeat, sizeof *d_write);
        double *t_call[3], *t_loop[3];
        for (int m = 0; m < 3; m++) {
            t_call[m] = calloc((size_t)repeat, sizeof(double));
            t_loop[m] = calloc((size_t)repeat, sizeof(double));
        }
        double open_ms[3] = {0}, close_ms[3] = {0};
        for (int r = 0; r < repeat; r++) {
            d_sync[r] = disk_run(dir, ds, rows, batch, 1, ids, vecs);
            d_write[r] = disk_run(dir, ds, rows, batch, 0, ids, vecs);
            for (int m = 0; m < 3; m++) {
                insert_times t =
                    db_run(dir, ds, rows, batch, modes[m].mode, modes[m].name, keep, ids, vecs);
                t_call[m][r] = t.insert;
                t_loop[m][r] = t.total;
                open_ms[m] += t.open * 1e3 / repeat;
                close_ms[m] += t.close * 1e3 / repeat;
            }
        }
        double ds_med = median(d_sync, repeat), dw_med = median(d_write, repeat);
        printf("%-34s %10s %9s %9s  %-21s\n", "(medians of the rounds)", "rows/s", "MB/s",
               "ms/chunk", "rows/s min..max");
        print_line("disk write+fdatasync per chunk", d_sync, repeat, rows, batch, mb);
        printf("\n");
        print_line("disk write only (page cache)", d_write, repeat, rows, batch, mb);
        printf("\n");
        for (int m = 0; m < 3; m++) {
            char label[64];
            snprintf(label, sizeof label, "vdb_insert SYNC_%s (call)", modes[m].name);
            print_line(label, t_call[m], repeat, rows, batch, mb);
            double tm = median(t_call[m], repeat);
            printf("  insert/disk_fsync %.2f  insert/disk_write %.2f\n", ds_med / tm, dw_med / tm);
            snprintf(label, sizeof label, "vdb_insert SYNC_%s (loop)", modes[m].name);
            print_line(label, t_loop[m], repeat, rows, batch, mb);
            printf("  insert/disk_fsync %.2f  (open %.1f ms, close %.1f ms)\n",
                   ds_med / median(t_loop[m], repeat), open_ms[m], close_ms[m]);
        }
        free(d_sync);
        free(d_write);
        for (int m = 0; m < 3; m++) {
            free(t_call[m]);
            free(t_loop[m]);
        }
    }
    free(ids);
    free(vecs);
    free(rand_vecs);
    free(fm);
    if (made_tmp && !keep)
        bench_rm_rf(tmpdir);
    return 0;
}

/* Resident memory and queries per second of sealed segments with and without options.mmap
 * (bench/README.md, "bench_mmap").
 *
 *   bench_mmap [rows=1000000] [dim=128] [queries=2000] [M=16] [efc=100] [ef=64] [dir=...]
 *
 * Builds the collection once (random vectors, HNSW, segments of 262,144 rows), then runs
 * each case in a fresh child process, so that VmRSS is that of a process that opened the
 * database and searched it, nothing else:
 *   heap        options.mmap = 0: the vectors decoded into RAM
 *   mmap-first  options.mmap = 1, no cache yet: the open writes the cache files
 *   mmap-warm   the cache files mapped, their pages in the page cache
 *   mmap-cold   the same, the cache files' pages dropped from the page cache after the open
 *               (POSIX_FADV_DONTNEED): every vector a query reads comes from disk
 * For each: open seconds, q/s of single-vector searches (k=10) on one thread, VmRSS, RssAnon
 * and RssFile after the searches. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

static size_t rows = 1000000, nq = 2000;
static uint32_t dim = 128, M = 16, efc = 100, ef = 64;
static char dir[4096] = "/tmp/bench_mmap";

static uint64_t rng = 12345;
static float randf(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)(rng >> 40) / (float)(1u << 24) * 2.0f - 1.0f;
}

static vdb_db *open_db(int mmap_on)
{
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    o.segment_idle_seal_ms = 0;
    o.segment_max_rows = 262144;
    o.search_threads = 1;
    o.mmap = (uint32_t)mmap_on;
    vdb_db *db;
    vdb_status st = vdb_open(dir, &o, &db);
    if (st)
        bench_die("open", st);
    return db;
}

static void build(void)
{
    vdb_db *db = open_db(0);
    bench_create_collection(db, "c", dim, VDB_METRIC_L2);
    char params[64];
    snprintf(params, sizeof params, "M=%u,efConstruction=%u", M, efc);
    vdb_status st = vdb_create_index(db, "c", "emb", "HNSW", params);
    if (st)
        bench_die("create_index", st);
    size_t chunk = 50000;
    float *v = malloc(chunk * dim * sizeof *v);
    int64_t *ids = malloc(chunk * sizeof *ids);
    for (size_t from = 0; from < rows; from += chunk) {
        size_t n = rows - from < chunk ? rows - from : chunk;
        for (size_t i = 0; i < n * dim; i++)
            v[i] = randf();
        for (size_t i = 0; i < n; i++)
            ids[i] = (int64_t)(from + i);
        vdb_batch *b;
        vdb_batch_new(&b);
        vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0);
        vdb_batch_add_column(b, "emb", VDB_TYPE_FLOAT_VECTOR, v, NULL, n, dim);
        if ((st = vdb_insert(db, "c", NULL, b, NULL, NULL)) != VDB_OK)
            bench_die("insert", st);
        vdb_batch_free(b);
    }
    free(v);
    free(ids);
    if ((st = vdb_flush(db, "c")) != VDB_OK)
        bench_die("flush", st);
    if ((st = vdb_wait_for_index(db, "c", "emb", UINT64_MAX)) != VDB_OK)
        bench_die("wait_for_index", st);
    vdb_close(db);
}

static void evict_cache(void)
{
    char cache[4200];
    snprintf(cache, sizeof cache, "%s/mmap_cache", dir);
    DIR *d = opendir(cache);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char p[8704];
        snprintf(p, sizeof p, "%s/%s", cache, de->d_name);
        int fd = strstr(de->d_name, ".vmap") ? open(p, O_RDONLY) : -1;
        if (fd >= 0) {
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
    }
    if (d)
        closedir(d);
}

static void rss(long *vm, long *anon, long *file)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "VmRSS: %ld", vm);
        sscanf(line, "RssAnon: %ld", anon);
        sscanf(line, "RssFile: %ld", file);
    }
    if (f)
        fclose(f);
}

static void run_case(const char *name, int mmap_on, int cold)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0) {
        int ws;
        waitpid(pid, &ws, 0);
        return;
    }
    double t0 = bench_now();
    vdb_db *db = open_db(mmap_on);
    double t_open = bench_now() - t0;
    if (cold)
        evict_cache();
    float *q = malloc(dim * sizeof *q);
    char params[32];
    snprintf(params, sizeof params, "ef=%u", ef);
    rng = 777;
    double t1 = bench_now();
    for (size_t i = 0; i < nq; i++) {
        for (uint32_t d = 0; d < dim; d++)
            q[d] = randf();
        vdb_search_req req = {.struct_size = sizeof req, .collection = "c", .vectors = q,
                              .nq = 1, .dim = dim, .k = 10, .params = params};
        vdb_result *res;
        vdb_status st = vdb_search(db, &req, &res);
        if (st)
            bench_die("search", st);
        vdb_result_free(res);
    }
    double qps = (double)nq / (bench_now() - t1);
    long vm = 0, anon = 0, file = 0;
    rss(&vm, &anon, &file);
    vdb_stats s = {.struct_size = sizeof s};
    vdb_collection_stats(db, "c", &s);
    printf("%-11s open %6.2f s  %8.0f q/s  VmRSS %7ld MiB  RssAnon %7ld MiB  RssFile %7ld MiB"
           "  (HNSW %llu MiB)\n", name, t_open, qps, vm / 1024, anon / 1024, file / 1024,
           (unsigned long long)(s.index_bytes >> 20));
    vdb_close(db);
    fflush(stdout); /* _exit does not */
    _exit(0);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "rows=", 5))
            rows = strtoull(a + 5, NULL, 10);
        else if (!strncmp(a, "dim=", 4))
            dim = (uint32_t)strtoul(a + 4, NULL, 10);
        else if (!strncmp(a, "queries=", 8))
            nq = strtoull(a + 8, NULL, 10);
        else if (!strncmp(a, "M=", 2))
            M = (uint32_t)strtoul(a + 2, NULL, 10);
        else if (!strncmp(a, "efc=", 4))
            efc = (uint32_t)strtoul(a + 4, NULL, 10);
        else if (!strncmp(a, "ef=", 3))
            ef = (uint32_t)strtoul(a + 3, NULL, 10);
        else if (!strncmp(a, "dir=", 4))
            snprintf(dir, sizeof dir, "%s", a + 4);
        else {
            fprintf(stderr, "usage: %s [rows=N] [dim=D] [queries=Q] [M=m] [efc=e] [ef=e] "
                    "[dir=path]\n", argv[0]);
            return 2;
        }
    }
    char cache[4200];
    snprintf(cache, sizeof cache, "%s/mmap_cache", dir);
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        double t = bench_now();
        build();
        printf("built %zu x %u, HNSW M=%u efConstruction=%u in %.1f s\n", rows, dim, M, efc,
               bench_now() - t);
    }
    bench_rm_rf(cache);
    printf("%zu x %u (vectors %zu MiB), %zu queries k=10 ef=%u, one search thread\n", rows,
           dim, rows * dim * sizeof(float) >> 20, nq, ef);
    run_case("heap", 0, 0);
    run_case("mmap-first", 1, 0);
    run_case("mmap-warm", 1, 0);
    run_case("mmap-cold", 1, 1);
    return 0;
}

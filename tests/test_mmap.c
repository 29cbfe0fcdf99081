/* End-to-end: sealed segments opened with options.mmap answer searches exactly as without
 * it, with resident memory (VmRSS) well below the bytes of the vectors; a cache file cut
 * short while closed is fetched again, one cut short while mapped makes the search
 * VDB_ECORRUPT naming it (never a SIGBUS), and the next open fetches it again.
 *
 * Each phase runs in a child process so that VmRSS is measured in a process that never held
 * the vectors on its heap. Rows: VDB_MMAP_ROWS (default 200,000 x 128; the long run is
 * VDB_MMAP_ROWS=1000000, README "Memory-mapped segments"). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vdb/vdb.h>

#include "segment/seg_cache.h"
#include "test_common.h"

#define DIM 128
#define NQ 20
#define K 10
#define SEG_ROWS 50000

typedef struct shared {
    int64_t ids[NQ * K];
    float dist[NQ * K];
    long rss_kb, anon_kb, file_kb;
    uint64_t index_bytes;
    long open_file_kb; /* search_mapped: RssFile right after the open */
    char msg[1024];
    uint64_t out_hash;     /* the sparse phases: a hash of the output fields and get rows */
    uint64_t mapped_bytes; /* vdb_stats.mapped_bytes after the search */
    uint64_t memory_bytes; /* vdb_stats.memory_bytes after the search */
    uint64_t segments;     /* "late": vdb_stats.sealed_segments */
} shared;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
static const bool under_sanitizer = true;
#else
static const bool under_sanitizer = false;
#endif

static size_t rows_total;
static char *dir, *cache;
static shared *ref, *got; /* MAP_SHARED: written by the children */
static float queries[NQ * DIM];

/* cmocka's failures in a child end the child with a non-zero status */
#define CHILD_CHECK(cond, ...)                                                                 \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fprintf(stderr, "\n");                                                             \
            _exit(1);                                                                          \
        }                                                                                      \
    } while (0)

static void child_ok(vdb_status st, const char *what)
{
    CHILD_CHECK(st == VDB_OK, "%s: %s: %s", what, vdb_status_name(st), vdb_errmsg(NULL));
}

static vdb_db *open_db(int mmap_on)
{
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    o.segment_idle_seal_ms = 0;
    o.segment_max_rows = SEG_ROWS;
    o.mmap = (uint32_t)mmap_on;
    vdb_db *db;
    child_ok(vdb_open(dir, &o, &db), "open");
    return db;
}

/* Runs fn in a child; fails the test when the child does not exit 0 (a signal included). */
static void in_child(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    if (WIFSIGNALED(ws))
        fail_msg("child killed by signal %d", WTERMSIG(ws));
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
}

static void build(void)
{
    vdb_db *db = open_db(0);
    vdb_schema *s;
    child_ok(vdb_schema_new("c", &s), "schema");
    child_ok(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                               .is_primary = 1)), "id");
    child_ok(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_FLOAT_VECTOR,
                                               .dim = DIM, .metric = VDB_METRIC_L2)), "v");
    child_ok(vdb_create_collection(db, s), "create");
    vdb_schema_free(s);
    child_ok(vdb_create_index(db, "c", "v", "HNSW", "M=8,efConstruction=40"), "index");
    uint64_t seed = 7;
    size_t chunk = 10000;
    float *v = malloc(chunk * DIM * sizeof *v);
    int64_t *ids = malloc(chunk * sizeof *ids);
    for (size_t from = 0; from < rows_total; from += chunk) {
        size_t n = rows_total - from < chunk ? rows_total - from : chunk;
        for (size_t i = 0; i < n; i++) {
            ids[i] = (int64_t)(from + i);
            for (int d = 0; d < DIM; d++)
                v[i * DIM + d] = test_randf(&seed);
        }
        vdb_batch *b;
        child_ok(vdb_batch_new(&b), "batch");
        child_ok(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0), "ids");
        child_ok(vdb_batch_add_column(b, "v", VDB_TYPE_FLOAT_VECTOR, v, NULL, n, DIM), "v");
        child_ok(vdb_insert(db, "c", NULL, b, NULL, NULL), "insert");
        vdb_batch_free(b);
    }
    free(v);
    free(ids);
    child_ok(vdb_flush(db, "c"), "flush");
    child_ok(vdb_wait_for_index(db, "c", "v", UINT64_MAX), "wait index");
    vdb_close(db);
}

static void read_rss(shared *out)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "VmRSS: %ld", &out->rss_kb);
        sscanf(line, "RssAnon: %ld", &out->anon_kb);
        sscanf(line, "RssFile: %ld", &out->file_kb);
    }
    if (f)
        fclose(f);
}

/* The collection the phases search ("c": HNSW; "ivf": IVF_FLAT) and its search parameters. */
static const char *coll = "c", *coll_params = "ef=64";

/* Searches into out; the status of the search (the first that failed). */
static vdb_status search_into(vdb_db *db, shared *out)
{
    vdb_search_req req = {.struct_size = sizeof req, .collection = coll, .vectors = queries,
                          .nq = NQ, .dim = DIM, .k = K, .params = coll_params};
    vdb_result *res;
    vdb_status st = vdb_search(db, &req, &res);
    if (st != VDB_OK) {
        snprintf(out->msg, sizeof out->msg, "%s", vdb_errmsg(NULL));
        return st;
    }
    for (size_t q = 0; q < NQ; q++) {
        size_t n = vdb_result_rows(res, q);
        for (size_t i = 0; i < K; i++) {
            out->ids[q * K + i] = i < n ? vdb_result_pk_int(res, q, i) : -1;
            out->dist[q * K + i] = i < n ? vdb_result_distance(res, q, i) : -1;
        }
    }
    vdb_result_free(res);
    return VDB_OK;
}

static void search_plain(void)
{
    vdb_db *db = open_db(0);
    child_ok(search_into(db, ref), "search without mmap");
    read_rss(ref);
    vdb_stats stats = {.struct_size = sizeof stats};
    child_ok(vdb_collection_stats(db, coll, &stats), "stats");
    ref->index_bytes = stats.index_bytes;
    vdb_close(db);
}

static size_t count_cache_files(void);
static void evict_cache_files(void);
static bool evict;       /* search_mapped: drop the cache files from the page cache first */

static void search_mapped(void)
{
    memset(got, 0, sizeof *got);
    vdb_db *db = open_db(1);
    /* The page cache under pressure, as on a small device: the kernel drops the cache files'
     * pages; without this, a fault maps the neighbouring pages already cached too (fault
     * around, 64 KiB), and VmRSS counts what the page cache happens to hold. */
    if (evict)
        evict_cache_files();
    shared at_open = {0};
    read_rss(&at_open);
    got->open_file_kb = at_open.file_kb;
    child_ok(search_into(db, got), "search with mmap");
    read_rss(got);
    vdb_stats stats = {.struct_size = sizeof stats};
    child_ok(vdb_collection_stats(db, coll, &stats), "stats");
    got->index_bytes = stats.index_bytes;
    vdb_close(db);
}

static void assert_same(void)
{
    for (size_t i = 0; i < NQ * K; i++) {
        assert_int_equal(got->ids[i], ref->ids[i]);
        assert_memory_equal(&got->dist[i], &ref->dist[i], sizeof(float));
    }
}

/* The path of the first cache file whose name holds part (malloc'ed), and its size: "col_"
 * for a column's, "hnsw_" for an index's. */
static char *first_cache_file(const char *part, off_t *size)
{
    DIR *d = opendir(cache);
    assert_non_null(d);
    struct dirent *de;
    char *p = NULL;
    while (!p && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n > 5 && strcmp(de->d_name + n - 5, ".vmap") == 0 && strstr(de->d_name, part)) {
            p = malloc(strlen(cache) + n + 2);
            sprintf(p, "%s/%s", cache, de->d_name);
        }
    }
    closedir(d);
    assert_non_null(p);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    *size = sb.st_size;
    return p;
}

static void evict_cache_files(void)
{
    DIR *d = opendir(cache);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char p[4096];
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

/* KiB of the cache files whose names hold part. */
static long cache_kb(const char *part)
{
    DIR *d = opendir(cache);
    long kb = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", cache, de->d_name);
        struct stat sb;
        if (strstr(de->d_name, ".vmap") && strstr(de->d_name, part) && stat(p, &sb) == 0)
            kb += (long)(sb.st_size / 1024);
    }
    if (d)
        closedir(d);
    return kb;
}

static size_t count_cache_files(void)
{
    DIR *d = opendir(cache);
    size_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += strstr(de->d_name, ".vmap") != NULL;
    if (d)
        closedir(d);
    return n;
}

static void test_mmap_same_answers_low_rss(void **state)
{
    (void)state;
    in_child(build);
    in_child(search_plain);
    in_child(search_mapped); /* cold: writes the cache */
    assert_same();
    size_t segs = (rows_total + SEG_ROWS - 1) / SEG_ROWS;
    assert_int_equal(count_cache_files(), 2 * segs); /* a column and an index per segment */
    in_child(search_mapped); /* warm: maps the cache files */
    assert_same();
    shared warm = *got;
    evict = true;
    in_child(search_mapped); /* warm cache files, their pages dropped from the page cache */
    evict = false;
    assert_same();
    long vec_kb = (long)(rows_total * DIM * sizeof(float) / 1024);
    print_message("rows %zu x %d: vectors %ld KiB; VmRSS after the search: without mmap %ld "
                  "KiB (anon %ld, file %ld); with mmap %ld KiB (anon %ld, file %ld); with mmap "
                  "and the page cache dropped %ld KiB (anon %ld, file %ld; file after open "
                  "%ld); HNSW indexes on the heap %llu KiB without mmap, %llu KiB with it "
                  "(the rest mapped)\n", rows_total, DIM, vec_kb, ref->rss_kb,
                  ref->anon_kb, ref->file_kb, warm.rss_kb, warm.anon_kb, warm.file_kb,
                  got->rss_kb, got->anon_kb, got->file_kb, got->open_file_kb,
                  (unsigned long long)ref->index_bytes / 1024,
                  (unsigned long long)got->index_bytes / 1024);
    /* the graphs and codes are read from their mapped files: 5 bytes a row stay on the heap
     * (levels and list offsets) against ~100 at M=8 */
    assert_true(got->index_bytes < ref->index_bytes / 10);
    if (under_sanitizer) { /* shadow memory and quarantine: resident sizes mean nothing */
        print_message("under a sanitizer: resident memory not checked\n");
        return;
    }
    /* without mmap the vectors and the index are on the heap; with it they are not */
    long index_kb = (long)(ref->index_bytes / 1024);
    assert_true(ref->anon_kb > vec_kb + index_kb);
    assert_true(got->anon_kb < ref->anon_kb - (vec_kb + index_kb) * 3 / 4);
    /* the pages of the mapped files (vectors, graphs and codes) the searches made resident
     * are a part of them: what a walk reads (README, "Memory-mapped segments") */
    long files_kb = vec_kb + cache_kb("hnsw_");
    assert_true(got->file_kb - got->open_file_kb < files_kb / 2);
    /* what libvdb holds itself (the pk index, timestamps, bloom filters, the graph's levels)
     * is a small part of the vectors */
    assert_true(got->anon_kb < vec_kb / 2);
}

static void truncated_while_closed(const char *part)
{
    off_t size;
    char *p = first_cache_file(part, &size);
    assert_int_equal(truncate(p, size / 2), 0);
    in_child(search_mapped); /* the damaged file is fetched again from its object */
    assert_same();
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_size, size);
    free(p);
}

static void test_mmap_truncated_while_closed(void **state)
{
    (void)state;
    truncated_while_closed("col_");
    truncated_while_closed("hnsw_");
}

static char *victim;

static void truncate_while_mapped(void)
{
    vdb_db *db = open_db(1);
    CHILD_CHECK(truncate(victim, 4096) == 0, "truncate"); /* the header only */
    memset(got, 0, sizeof *got);
    vdb_status st = search_into(db, got);
    CHILD_CHECK(st == VDB_ECORRUPT, "search over a cut file: %s (%s)", vdb_status_name(st),
                got->msg);
    CHILD_CHECK(strstr(got->msg, victim) != NULL, "message names the file: %s", got->msg);
    vdb_close(db);
}

static void truncated_while_mapped(const char *part)
{
    off_t size;
    victim = first_cache_file(part, &size);
    in_child(truncate_while_mapped);
    print_message("search over the cut %s file: %s\n", part, got->msg);
    in_child(search_mapped); /* fetched again */
    assert_same();
    struct stat sb;
    assert_int_equal(stat(victim, &sb), 0);
    assert_int_equal(sb.st_size, size);
    free(victim);
}

static void test_mmap_truncated_while_mapped(void **state)
{
    (void)state;
    truncated_while_mapped("col_");
    truncated_while_mapped("hnsw_");
}

/* An index file's bytes changed at the same size while closed (its header intact): the
 * graph's checks at load find the damage; that open uses the index from its object, the
 * file is dropped, and the next open writes it again, as it was. */
static void test_mmap_index_file_damaged(void **state)
{
    (void)state;
    off_t size;
    char *p = first_cache_file("hnsw_", &size);
    uint8_t *orig = malloc((size_t)size);
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, orig, (size_t)size, 0), size);
    /* 0xff over 4 KiB past the header and the graph's own header: level-0 lists (or levels)
     * with counts past M0 and ids past the rows */
    uint8_t junk[4096];
    memset(junk, 0xff, sizeof junk);
    assert_int_equal(pwrite(fd, junk, sizeof junk, 4096 + 8192), (ssize_t)sizeof junk);
    close(fd);
    in_child(search_mapped);
    assert_same();
    in_child(search_mapped); /* written again */
    assert_same();
    uint8_t *now = malloc((size_t)size);
    fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, now, (size_t)size, 0), size);
    close(fd);
    assert_memory_equal(now, orig, (size_t)size);
    free(now);
    free(orig);
    free(p);
}

/* Collection "ivf": IVF_FLAT (COSINE) over a quarter of the rows, one segment. */
static void build_ivf(void)
{
    vdb_db *db = open_db(0);
    vdb_schema *s;
    child_ok(vdb_schema_new("ivf", &s), "schema");
    child_ok(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                               .is_primary = 1)), "id");
    child_ok(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_FLOAT_VECTOR,
                                               .dim = DIM, .metric = VDB_METRIC_COSINE)), "v");
    child_ok(vdb_create_collection(db, s), "create");
    vdb_schema_free(s);
    child_ok(vdb_create_index(db, "ivf", "v", "IVF_FLAT", "nlist=64"), "index");
    size_t n = rows_total / 4 < SEG_ROWS ? rows_total / 4 : SEG_ROWS;
    uint64_t seed = 17;
    float *v = malloc(n * DIM * sizeof *v);
    int64_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        ids[i] = (int64_t)i;
        for (int d = 0; d < DIM; d++)
            v[i * DIM + d] = test_randf(&seed);
    }
    vdb_batch *b;
    child_ok(vdb_batch_new(&b), "batch");
    child_ok(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0), "ids");
    child_ok(vdb_batch_add_column(b, "v", VDB_TYPE_FLOAT_VECTOR, v, NULL, n, DIM), "v");
    child_ok(vdb_insert(db, "ivf", NULL, b, NULL, NULL), "insert");
    vdb_batch_free(b);
    free(v);
    free(ids);
    child_ok(vdb_flush(db, "ivf"), "flush");
    child_ok(vdb_wait_for_index(db, "ivf", "v", UINT64_MAX), "wait index");
    vdb_close(db);
}

/* IVF_FLAT's lists are used in place as HNSW's graph is: the same answers, the index's heap
 * bytes a small part of what it holds without mmap; its cache file cut while mapped makes
 * the search VDB_ECORRUPT naming it; damaged while closed, the load's checks drop it. */
static void test_mmap_ivf_flat(void **state)
{
    (void)state;
    coll = "ivf";
    coll_params = "nprobe=8";
    in_child(build_ivf);
    in_child(search_plain);
    in_child(search_mapped); /* cold: decodes the object and writes version 3 */
    assert_same();
    in_child(search_mapped); /* warm: maps the cache file */
    assert_same();
    print_message("IVF_FLAT index on the heap: %llu KiB without mmap, %llu bytes with it\n",
                  (unsigned long long)ref->index_bytes / 1024,
                  (unsigned long long)got->index_bytes);
    assert_true(got->index_bytes < ref->index_bytes / 10);
    truncated_while_mapped("ivf_flat_");
    /* 0xff over row ids (past the file's header, the index's and its centroids) */
    off_t size;
    char *p = first_cache_file("ivf_flat_", &size);
    uint8_t junk[4096];
    memset(junk, 0xff, sizeof junk);
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, junk, sizeof junk, 4096 + 40000), (ssize_t)sizeof junk);
    close(fd);
    in_child(search_mapped); /* dropped; the object answers */
    assert_same();
    in_child(search_mapped); /* written again */
    assert_same();
    free(p);
    coll = "c";
    coll_params = "ef=64";
}

static void test_mmap_options_checked(void **state)
{
    (void)state;
    vdb_options o;
    vdb_options_init(&o);
    o.mmap_cache_bytes = 1 << 20; /* without mmap = 1 */
    vdb_db *db;
    assert_int_equal(vdb_open(dir, &o, &db), VDB_EINVAL);
    o.mmap = 2;
    assert_int_equal(vdb_open(dir, &o, &db), VDB_EINVAL);
    /* a bound too small for one file: the load is refused, naming the bound */
    char *small = test_tmpdir("mmap_small_cache");
    o.mmap = 1;
    o.mmap_cache_dir = small;
    o.mmap_cache_bytes = 1 << 20;
    o.compaction_interval_ms = 0;
    o.segment_idle_seal_ms = 0;
    assert_int_equal(vdb_open(dir, &o, &db), VDB_ERANGE);
    assert_non_null(strstr(vdb_errmsg(NULL), "mmap_cache_bytes"));
    test_rmdir(small);
    free(small);
}

/* The cache alone: the bound evicts the least recently mapped file not mapped now, never a
 * mapped one; a header that does not match is a miss (and the file goes). */
static void test_seg_cache_lru(void **state)
{
    (void)state;
    char *d = test_tmpdir("seg_cache");
    vdb_seg_cache *c;
    size_t len = 64 * 1024;
    float *data = calloc(1, len);
    /* room for two files (4 KiB header each) */
    assert_int_equal(vdb_seg_cache_open(d, 2 * (len + 4096), &c), VDB_OK);
    vdb_seg_map_shape sh = {VDB_TYPE_FLOAT_VECTOR, 16, len / 64, len, 1};
    vdb_seg_map *a, *b, *x;
    const void *p;
    assert_int_equal(vdb_seg_cache_put(c, "s/1/col_1", &sh, data, &a, &p), VDB_OK);
    sh.src_crc = 2;
    assert_int_equal(vdb_seg_cache_put(c, "s/2/col_1", &sh, data, &b, &p), VDB_OK);
    /* both mapped: a third does not fit, and nothing mapped is evicted */
    sh.src_crc = 3;
    assert_int_equal(vdb_seg_cache_put(c, "s/3/col_1", &sh, data, &x, &p), VDB_ERANGE);
    vdb_seg_map_release(a);
    vdb_seg_map_release(b);
    /* map 1 again: 2 is now the least recently used, and goes */
    sh.src_crc = 1;
    assert_int_equal(vdb_seg_cache_get(c, "s/1/col_1", &sh, &a, &p), VDB_OK);
    assert_non_null(a);
    sh.src_crc = 3;
    assert_int_equal(vdb_seg_cache_put(c, "s/3/col_1", &sh, data, &x, &p), VDB_OK);
    sh.src_crc = 2;
    assert_int_equal(vdb_seg_cache_get(c, "s/2/col_1", &sh, &b, &p), VDB_OK);
    assert_null(b);
    /* another shape for a cached key is a miss; the stale file is removed */
    vdb_seg_map_release(x);
    sh.src_crc = 3;
    sh.rows++;
    assert_int_equal(vdb_seg_cache_get(c, "s/3/col_1", &sh, &x, &p), VDB_OK);
    assert_null(x);
    vdb_seg_map_release(a);
    vdb_seg_cache_close(c);
    /* reopened: the one file left is indexed again and maps */
    assert_int_equal(vdb_seg_cache_open(d, 0, &c), VDB_OK);
    sh.src_crc = 1;
    sh.rows = len / 64;
    assert_int_equal(vdb_seg_cache_get(c, "s/1/col_1", &sh, &a, &p), VDB_OK);
    assert_non_null(a);
    assert_int_equal(vdb_seg_map_size(a), len);
    vdb_seg_map_release(a);
    vdb_seg_cache_close(c);
    free(data);
    test_rmdir(d);
    free(d);
}

/* ---- SPARSE_FLOAT_VECTOR columns ----
 * Collection "sp": "sv" with SPARSE_INVERTED_INDEX and "sf" without an index (searched by
 * the exact scan over its mapped rows), in segments of SEG_ROWS; half the rows of "c". */

static size_t sp_rows;

/* Row i's sparse vector (field f 0 or 1): up to 24 ascending indices, values in (0, 1]. */
static uint32_t sp_row(size_t i, int f, uint32_t *idx, float *val)
{
    uint64_t rs = i * 2 + (uint64_t)f + 1;
    uint32_t n = (uint32_t)(test_rand(&rs) % 25), at = (uint32_t)(test_rand(&rs) % 40);
    for (uint32_t j = 0; j < n; j++) {
        idx[j] = at;
        val[j] = (float)(test_rand(&rs) % 1000 + 1) / 1000.0f;
        at += 1 + (uint32_t)(test_rand(&rs) % 40);
    }
    return n;
}

static void build_sparse(void)
{
    vdb_db *db = open_db(0);
    vdb_schema *s;
    child_ok(vdb_schema_new("sp", &s), "schema");
    child_ok(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                               .is_primary = 1)), "id");
    child_ok(vdb_schema_add_field(s, VDB_FIELD(.name = "sv",
                                               .type = VDB_TYPE_SPARSE_FLOAT_VECTOR)), "sv");
    child_ok(vdb_schema_add_field(s, VDB_FIELD(.name = "sf",
                                               .type = VDB_TYPE_SPARSE_FLOAT_VECTOR)), "sf");
    child_ok(vdb_create_collection(db, s), "create");
    vdb_schema_free(s);
    child_ok(vdb_create_index(db, "sp", "sv", "SPARSE_INVERTED_INDEX", NULL), "index");
    size_t chunk = 10000;
    int64_t *ids = malloc(chunk * sizeof *ids);
    uint32_t *idx = malloc(chunk * 2 * 24 * sizeof *idx);
    float *val = malloc(chunk * 2 * 24 * sizeof *val);
    vdb_sparse_row *rows = malloc(chunk * 2 * sizeof *rows);
    for (size_t from = 0; from < sp_rows; from += chunk) {
        size_t n = sp_rows - from < chunk ? sp_rows - from : chunk;
        for (size_t i = 0; i < n; i++) {
            ids[i] = (int64_t)(from + i);
            for (int f = 0; f < 2; f++) {
                size_t r = (size_t)f * chunk + i;
                rows[r].count = sp_row(from + i, f, idx + r * 24, val + r * 24);
                rows[r].indices = idx + r * 24;
                rows[r].values = val + r * 24;
            }
        }
        vdb_batch *b;
        child_ok(vdb_batch_new(&b), "batch");
        child_ok(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0), "ids");
        child_ok(vdb_batch_add_column(b, "sv", VDB_TYPE_SPARSE_FLOAT_VECTOR, rows, NULL, n, 0),
                 "sv");
        child_ok(vdb_batch_add_column(b, "sf", VDB_TYPE_SPARSE_FLOAT_VECTOR, rows + chunk, NULL,
                                      n, 0), "sf");
        child_ok(vdb_insert(db, "sp", NULL, b, NULL, NULL), "insert");
        vdb_batch_free(b);
    }
    free(ids);
    free(idx);
    free(val);
    free(rows);
    child_ok(vdb_flush(db, "sp"), "flush");
    child_ok(vdb_wait_for_index(db, "sp", "sv", UINT64_MAX), "wait index");
    vdb_close(db);
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static uint64_t hash_sparse(uint64_t h, const vdb_result *r, size_t g, size_t row,
                            const char *field)
{
    vdb_value v;
    if (vdb_result_field(r, g, row, field, &v) != VDB_OK)
        return h * 31 + 1;
    h = hash_bytes(h, &v.u.sparse.count, sizeof v.u.sparse.count);
    h = hash_bytes(h, v.u.sparse.indices, v.u.sparse.count * sizeof(uint32_t));
    return hash_bytes(h, v.u.sparse.values, v.u.sparse.count * sizeof(float));
}

/* NQ/2 queries on each field (ids and scores into out), their output fields and a get of
 * every 7th row, hashed into out->out_hash. The status of the first call that failed. */
static vdb_status sparse_into(vdb_db *db, shared *out)
{
    uint32_t idx[NQ][24];
    float val[NQ][24];
    vdb_sparse_row q[NQ];
    for (size_t i = 0; i < NQ; i++)
        q[i] = (vdb_sparse_row){sp_row(1000003 + i, 0, idx[i], val[i]), idx[i], val[i]};
    uint64_t h = 14695981039346656037ull;
    vdb_status st = VDB_OK;
    const char *fields[2] = {"sv", "sf"};
    for (int f = 0; f < 2 && st == VDB_OK; f++) {
        const char *outs[2] = {"sv", "sf"};
        vdb_search_req req = {.struct_size = sizeof req, .collection = "sp",
                              .vector_field = fields[f], .nq = NQ / 2, .k = K,
                              .sparse_vectors = q + f * (NQ / 2)};
        req.read.output_fields = outs;
        req.read.n_output_fields = 2;
        vdb_result *res;
        st = vdb_search(db, &req, &res);
        if (st != VDB_OK)
            break;
        for (size_t g = 0; g < NQ / 2; g++) {
            size_t n = vdb_result_rows(res, g), at = (size_t)f * (NQ / 2) + g;
            for (size_t i = 0; i < K; i++) {
                out->ids[at * K + i] = i < n ? vdb_result_pk_int(res, g, i) : -1;
                out->dist[at * K + i] = i < n ? vdb_result_distance(res, g, i) : -1;
                if (i < n)
                    h = hash_sparse(hash_sparse(h, res, g, i, "sv"), res, g, i, "sf");
            }
        }
        vdb_result_free(res);
    }
    size_t nget = sp_rows / 7;
    int64_t *keys = malloc(nget * sizeof *keys);
    for (size_t i = 0; i < nget; i++)
        keys[i] = (int64_t)(i * 7);
    vdb_pk_list pks = {.ints = keys, .count = nget};
    const char *outs[2] = {"sv", "sf"};
    vdb_result *res = NULL;
    if (st == VDB_OK)
        st = vdb_get(db, "sp", &pks, VDB_READ_OPTS(.output_fields = outs, .n_output_fields = 2),
                     &res);
    if (st == VDB_OK) {
        size_t n = vdb_result_rows(res, 0);
        h = hash_bytes(h, &n, sizeof n);
        for (size_t i = 0; i < n; i++)
            h = hash_sparse(hash_sparse(h, res, 0, i, "sv"), res, 0, i, "sf");
        vdb_result_free(res);
    }
    free(keys);
    if (st != VDB_OK)
        snprintf(out->msg, sizeof out->msg, "%s", vdb_errmsg(NULL));
    out->out_hash = h;
    return st;
}

static void sparse_stats(vdb_db *db, shared *out)
{
    read_rss(out);
    vdb_stats stats = {.struct_size = sizeof stats};
    child_ok(vdb_collection_stats(db, "sp", &stats), "stats");
    out->mapped_bytes = stats.mapped_bytes;
    out->memory_bytes = stats.memory_bytes;
    out->index_bytes = stats.index_bytes;
}

static void sparse_plain(void)
{
    memset(ref, 0, sizeof *ref);
    vdb_db *db = open_db(0);
    child_ok(sparse_into(db, ref), "sparse search without mmap");
    sparse_stats(db, ref);
    vdb_close(db);
}

static void sparse_mapped(void)
{
    memset(got, 0, sizeof *got);
    vdb_db *db = open_db(1);
    child_ok(sparse_into(db, got), "sparse search with mmap");
    sparse_stats(db, got);
    vdb_close(db);
}

static void assert_same_sparse(void)
{
    assert_same();
    assert_true(ref->out_hash == got->out_hash);
}

/* The cache files of sparse columns, or with index of sparse indexes (their header's
 * type), malloc'ed paths; *n of them, *kb their KiB. */
static char **sparse_cache_files(bool index, size_t *n, long *kb)
{
    DIR *d = opendir(cache);
    assert_non_null(d);
    char **out = NULL;
    *n = 0;
    *kb = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strstr(de->d_name, ".vmap"))
            continue;
        size_t plen = strlen(cache) + strlen(de->d_name) + 2;
        char *p = malloc(plen);
        if (!p)
            continue;
        snprintf(p, plen, "%s/%s", cache, de->d_name);
        uint8_t h[16];
        int fd = open(p, O_RDONLY);
        bool sparse = fd >= 0 && pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h &&
                      h[12] == VDB_TYPE_SPARSE_FLOAT_VECTOR && !h[13] &&
                      h[14] == (index ? 1 : 0) && !h[15]; /* VDB_SEG_MAP_INDEX: 0x10000 */
        struct stat sb;
        if (fd >= 0 && fstat(fd, &sb) == 0 && sparse)
            *kb += (long)(sb.st_size / 1024);
        if (fd >= 0)
            close(fd);
        if (!sparse) {
            free(p);
            continue;
        }
        out = realloc(out, (*n + 1) * sizeof *out);
        out[(*n)++] = p;
    }
    closedir(d);
    return out;
}

static void free_paths(char **p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(p[i]);
    free(p);
}

static void sparse_truncate_while_mapped(void)
{
    vdb_db *db = open_db(1);
    CHILD_CHECK(truncate(victim, 4096) == 0, "truncate"); /* the header only */
    memset(got, 0, sizeof *got);
    vdb_status st = sparse_into(db, got);
    CHILD_CHECK(st == VDB_ECORRUPT, "sparse search over a cut file: %s (%s)",
                vdb_status_name(st), got->msg);
    CHILD_CHECK(strstr(got->msg, victim) != NULL, "message names the file: %s", got->msg);
    vdb_close(db);
}

/* Sparse columns mapped: the same ids, scores, output fields and get rows as on the heap,
 * their bytes mapped (vdb_stats.mapped_bytes) and off the heap; a cache file cut short while
 * closed, or its offsets damaged at the same size, is made again from its object; one cut
 * while mapped makes the search VDB_ECORRUPT naming it. */
static void test_mmap_sparse(void **state)
{
    (void)state;
    /* a database of its own, so that resident memory is the sparse collection's */
    char *dense_dir = dir, *dense_cache = cache;
    dir = test_tmpdir("mmap_sparse");
    cache = malloc(strlen(dir) + 16);
    sprintf(cache, "%s/mmap_cache", dir);
    in_child(build_sparse);
    in_child(sparse_plain);
    in_child(sparse_mapped); /* cold: writes the cache */
    assert_same_sparse();
    size_t nfiles;
    long sp_kb;
    char **files = sparse_cache_files(false, &nfiles, &sp_kb);
    size_t segs = (sp_rows + SEG_ROWS - 1) / SEG_ROWS;
    assert_int_equal(nfiles, 2 * segs); /* both sparse columns of every segment */
    size_t nix;
    long ix_kb;
    char **ixfiles = sparse_cache_files(true, &nix, &ix_kb);
    assert_int_equal(nix, segs); /* the index of "sv" */
    /* the posting lists and blocks are read in place: only the index's struct stays */
    print_message("sparse index on the heap: %llu KiB without mmap, %llu bytes with it "
                  "(cache files %ld KiB)\n", (unsigned long long)ref->index_bytes / 1024,
                  (unsigned long long)got->index_bytes, ix_kb);
    assert_true(got->index_bytes < 1024 * segs);
    assert_true(ref->index_bytes > (uint64_t)ix_kb * 1024 / 2);
    assert_int_equal(ref->mapped_bytes, 0);
    assert_true(got->mapped_bytes + (nfiles + nix) * 4096 >=
                (uint64_t)(sp_kb + ix_kb) * 1024); /* headers */
    in_child(sparse_mapped); /* warm: maps the cache files */
    assert_same_sparse();
    print_message("sparse: %zu rows x 2 fields, cache files %ld KiB; RssAnon without mmap "
                  "%ld KiB, with mmap %ld KiB; memory_bytes %llu KiB without, %llu KiB with; "
                  "mapped %llu KiB\n", sp_rows, sp_kb, ref->anon_kb, got->anon_kb,
                  (unsigned long long)ref->memory_bytes / 1024,
                  (unsigned long long)got->memory_bytes / 1024,
                  (unsigned long long)got->mapped_bytes / 1024);
    /* the columns' bytes are page cache, not heap */
    assert_true(got->memory_bytes + (uint64_t)sp_kb * 1024 * 3 / 4 < ref->memory_bytes);
    if (!under_sanitizer)
        assert_true(got->anon_kb < ref->anon_kb - sp_kb * 3 / 4);
    /* cut short while closed: fetched again */
    struct stat sb;
    assert_int_equal(stat(files[0], &sb), 0);
    off_t size = sb.st_size;
    assert_int_equal(truncate(files[0], size / 2), 0);
    in_child(sparse_mapped);
    assert_same_sparse();
    assert_int_equal(stat(files[0], &sb), 0);
    assert_int_equal(sb.st_size, size);
    /* its offsets damaged at the same size (the header intact): the check at the open
     * drops it, the object answers, and the file is written again as it was */
    uint8_t *orig = malloc((size_t)size), *now = malloc((size_t)size);
    int fd = open(files[0], O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, orig, (size_t)size, 0), size);
    uint8_t junk[512];
    memset(junk, 0xff, sizeof junk);
    assert_int_equal(pwrite(fd, junk, sizeof junk, 4096 + 64), (ssize_t)sizeof junk);
    close(fd);
    in_child(sparse_mapped);
    assert_same_sparse();
    fd = open(files[0], O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, now, (size_t)size, 0), size);
    close(fd);
    assert_memory_equal(now, orig, (size_t)size);
    free(orig);
    free(now);
    /* the index file's postings damaged at the same size: its checks at the open drop it,
     * the object answers, and the next open writes it again */
    fd = open(ixfiles[0], O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &sb), 0);
    assert_int_equal(pwrite(fd, junk, sizeof junk, sb.st_size / 2), (ssize_t)sizeof junk);
    close(fd);
    in_child(sparse_mapped);
    assert_same_sparse();
    assert_true(got->index_bytes > 1024 * segs); /* that segment's index on the heap */
    in_child(sparse_mapped);
    assert_same_sparse();
    assert_true(got->index_bytes < 1024 * segs);
    /* cut short while mapped: VDB_ECORRUPT naming it, never a SIGBUS; fetched again next */
    files = realloc(files, (nfiles + 1) * sizeof *files);
    files[nfiles++] = ixfiles[0];
    ixfiles[0] = NULL;
    for (size_t i = 0; i < nfiles; i++) {
        victim = files[i];
        in_child(sparse_truncate_while_mapped);
        if (i == 0)
            print_message("sparse search over a cut file: %s\n", got->msg);
        in_child(sparse_mapped);
        assert_same_sparse();
    }
    victim = NULL;
    /* the cache bound holds for sparse files too: one too small for a column fails the
     * open, naming the bound, and the files it did write stay within it */
    vdb_options o;
    vdb_options_init(&o);
    o.mmap = 1;
    o.compaction_interval_ms = 0;
    o.segment_idle_seal_ms = 0;
    o.segment_max_rows = SEG_ROWS;
    char *small = test_tmpdir("mmap_sparse_small");
    o.mmap_cache_dir = small;
    o.mmap_cache_bytes = 64 * 1024;
    vdb_db *db;
    assert_int_equal(vdb_open(dir, &o, &db), VDB_ERANGE);
    assert_non_null(strstr(vdb_errmsg(NULL), "mmap_cache_bytes"));
    char *dense_of_small = cache;
    cache = small;
    size_t nsmall;
    long small_kb;
    char **smallf = sparse_cache_files(false, &nsmall, &small_kb);
    free_paths(smallf, nsmall);
    assert_true(small_kb <= 64);
    cache = dense_of_small;
    test_rmdir(small);
    free(small);
    free_paths(files, nfiles);
    free_paths(ixfiles, nix);
    test_rmdir(dir);
    free(dir);
    free(cache);
    dir = dense_dir;
    cache = dense_cache;
}

/* ---- segments sealed and compacted after the open ----
 * Collection "late" (a 32-d FLOAT_VECTOR and a SPARSE_FLOAT_VECTOR, no indexes: the exact
 * scans read every mapped row), made in a database opened with mmap: each flush's segment
 * has its columns mapped as soon as its binlogs are saved, and so does a compaction's (the
 * four small segments merged into one). */

#define LATE_DIM 32
#define LATE_ROWS 4000

static vdb_status late_into(vdb_db *db, shared *out)
{
    memset(out->ids, 0, sizeof out->ids);
    uint32_t idx[NQ][24];
    float val[NQ][24];
    vdb_sparse_row q[NQ / 2];
    for (size_t i = 0; i < NQ / 2; i++)
        q[i] = (vdb_sparse_row){sp_row(2000003 + i, 1, idx[i], val[i]), idx[i], val[i]};
    const char *outs[2] = {"v", "sv"};
    uint64_t h = 14695981039346656037ull;
    vdb_status st = VDB_OK;
    for (int f = 0; f < 2 && st == VDB_OK; f++) {
        vdb_search_req req = {.struct_size = sizeof req, .collection = "late", .nq = NQ / 2,
                              .k = K, .vector_field = f ? "sv" : "v"};
        if (f)
            req.sparse_vectors = q;
        else {
            req.vectors = queries;
            req.dim = LATE_DIM;
        }
        req.read.output_fields = outs;
        req.read.n_output_fields = 2;
        vdb_result *res;
        st = vdb_search(db, &req, &res);
        if (st != VDB_OK)
            break;
        for (size_t g = 0; g < NQ / 2; g++) {
            size_t n = vdb_result_rows(res, g), at = (size_t)f * (NQ / 2) + g;
            for (size_t i = 0; i < K; i++) {
                out->ids[at * K + i] = i < n ? vdb_result_pk_int(res, g, i) : -1;
                out->dist[at * K + i] = i < n ? vdb_result_distance(res, g, i) : -1;
                vdb_value v;
                if (i < n && vdb_result_field(res, g, i, "v", &v) == VDB_OK)
                    h = hash_bytes(h, v.u.vec.ptr, LATE_DIM * sizeof(float));
                if (i < n)
                    h = hash_sparse(h, res, g, i, "sv");
            }
        }
        vdb_result_free(res);
    }
    if (st != VDB_OK)
        snprintf(out->msg, sizeof out->msg, "%s", vdb_errmsg(NULL));
    vdb_stats stats = {.struct_size = sizeof stats};
    if (st == VDB_OK)
        st = vdb_collection_stats(db, "late", &stats);
    out->mapped_bytes = stats.mapped_bytes;
    out->memory_bytes = stats.memory_bytes;
    out->segments = stats.sealed_segments;
    out->out_hash = h;
    return st;
}

static void late_build_mapped(void)
{
    memset(got, 0, sizeof *got);
    vdb_db *db = open_db(1);
    vdb_schema *s;
    child_ok(vdb_schema_new("late", &s), "schema");
    child_ok(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                               .is_primary = 1)), "id");
    child_ok(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_FLOAT_VECTOR,
                                               .dim = LATE_DIM, .metric = VDB_METRIC_L2)), "v");
    child_ok(vdb_schema_add_field(s, VDB_FIELD(.name = "sv",
                                               .type = VDB_TYPE_SPARSE_FLOAT_VECTOR)), "sv");
    child_ok(vdb_create_collection(db, s), "create");
    vdb_schema_free(s);
    int64_t *ids = malloc(LATE_ROWS * sizeof *ids);
    float *v = malloc(LATE_ROWS * LATE_DIM * sizeof *v);
    uint32_t *idx = malloc(LATE_ROWS * 24 * sizeof *idx);
    float *val = malloc(LATE_ROWS * 24 * sizeof *val);
    vdb_sparse_row *rows = malloc(LATE_ROWS * sizeof *rows);
    uint64_t seed = 23, sparse_bytes = 0;
    for (int seg = 0; seg < 4; seg++) { /* compaction_min_segments (4) small ones */
        for (size_t i = 0; i < LATE_ROWS; i++) {
            size_t id = (size_t)seg * LATE_ROWS + i;
            ids[i] = (int64_t)id;
            for (int d = 0; d < LATE_DIM; d++)
                v[i * LATE_DIM + d] = test_randf(&seed);
            rows[i].count = sp_row(id, 1, idx + i * 24, val + i * 24);
            rows[i].indices = idx + i * 24;
            rows[i].values = val + i * 24;
            sparse_bytes += rows[i].count * 8;
        }
        vdb_batch *b;
        child_ok(vdb_batch_new(&b), "batch");
        child_ok(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, LATE_ROWS, 0), "ids");
        child_ok(vdb_batch_add_column(b, "v", VDB_TYPE_FLOAT_VECTOR, v, NULL, LATE_ROWS,
                                      LATE_DIM), "v");
        child_ok(vdb_batch_add_column(b, "sv", VDB_TYPE_SPARSE_FLOAT_VECTOR, rows, NULL,
                                      LATE_ROWS, 0), "sv");
        child_ok(vdb_insert(db, "late", NULL, b, NULL, NULL), "insert");
        vdb_batch_free(b);
        child_ok(vdb_flush(db, "late"), "flush");
    }
    free(ids);
    free(v);
    free(idx);
    free(val);
    free(rows);
    child_ok(late_into(db, got), "search after the seals");
    uint64_t vec_bytes = 4ull * LATE_ROWS * LATE_DIM * sizeof(float);
    /* every sealed segment's columns are read in place: mapped, not held */
    CHILD_CHECK(got->segments == 4, "%llu sealed segments", (unsigned long long)got->segments);
    CHILD_CHECK(got->mapped_bytes >= vec_bytes + sparse_bytes, "mapped %llu bytes, want %llu",
                (unsigned long long)got->mapped_bytes,
                (unsigned long long)(vec_bytes + sparse_bytes));
    CHILD_CHECK(got->memory_bytes < vec_bytes / 2, "memory_bytes %llu",
                (unsigned long long)got->memory_bytes);
    vdb_close(db);
}

static void late_plain(void)
{
    memset(ref, 0, sizeof *ref);
    vdb_db *db = open_db(0);
    child_ok(late_into(db, ref), "search without mmap");
    vdb_close(db);
}

static void late_compact_mapped(void)
{
    memset(got, 0, sizeof *got);
    vdb_db *db = open_db(1);
    size_t n = 4 * LATE_ROWS / 2;
    int64_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = (int64_t)(i * 2);
    vdb_pk_list pks = {.ints = ids, .count = n};
    child_ok(vdb_delete(db, "late", NULL, &pks, NULL), "delete");
    free(ids);
    child_ok(vdb_flush(db, "late"), "flush the deletes");
    child_ok(vdb_compact(db, "late"), "compact");
    child_ok(late_into(db, got), "search after the compaction");
    uint64_t vec_bytes = (4ull * LATE_ROWS - n) * LATE_DIM * sizeof(float);
    CHILD_CHECK(got->segments == 1, "%llu sealed segments after the compaction",
                (unsigned long long)got->segments);
    CHILD_CHECK(got->mapped_bytes >= vec_bytes, "mapped %llu bytes after the compaction",
                (unsigned long long)got->mapped_bytes);
    /* the merged segment keeps every row (the deletes are inside the retention window):
     * its pk index, timestamps and delete records stay, its vectors alone would be more */
    CHILD_CHECK(got->memory_bytes < 4ull * LATE_ROWS * LATE_DIM * sizeof(float),
                "memory_bytes %llu after the compaction", (unsigned long long)got->memory_bytes);
    vdb_close(db);
}

static void test_mmap_sealed_after_open(void **state)
{
    (void)state;
    char *dense_dir = dir, *dense_cache = cache;
    dir = test_tmpdir("mmap_late");
    cache = malloc(strlen(dir) + 16);
    sprintf(cache, "%s/mmap_cache", dir);
    in_child(late_build_mapped);
    shared sealed = *got;
    in_child(late_plain);
    *got = sealed;
    assert_same_sparse();
    print_message("sealed after the open: mapped %llu KiB, memory_bytes %llu KiB\n",
                  (unsigned long long)sealed.mapped_bytes / 1024,
                  (unsigned long long)sealed.memory_bytes / 1024);
    in_child(late_compact_mapped);
    shared compacted = *got;
    in_child(late_plain);
    *got = compacted;
    assert_same_sparse();
    print_message("compacted after the open into %llu segment(s): mapped %llu KiB, "
                  "memory_bytes %llu KiB\n", (unsigned long long)compacted.segments,
                  (unsigned long long)compacted.mapped_bytes / 1024,
                  (unsigned long long)compacted.memory_bytes / 1024);
    test_rmdir(dir);
    free(dir);
    free(cache);
    dir = dense_dir;
    cache = dense_cache;
}

/* mmap.enabled per collection, read at the open: "true" maps a collection's sealed segments
 * in a database opened without mmap (the cache folder made for it), "false" keeps them on the
 * heap in one opened with mmap; the answers stay the same. */
static void prop_phases(void)
{
    vdb_db *db = open_db(0);
    vdb_schema *s;
    child_ok(vdb_schema_new("pm", &s), "schema");
    child_ok(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                               .is_primary = 1)), "id");
    child_ok(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_FLOAT_VECTOR,
                                               .dim = LATE_DIM, .metric = VDB_METRIC_L2)), "v");
    child_ok(vdb_create_collection(db, s), "create");
    vdb_schema_free(s);
    int64_t *ids = malloc(LATE_ROWS * sizeof *ids);
    float *v = malloc(LATE_ROWS * LATE_DIM * sizeof *v);
    uint64_t seed = 31;
    for (size_t i = 0; i < LATE_ROWS; i++) {
        ids[i] = (int64_t)i;
        for (int d = 0; d < LATE_DIM; d++)
            v[i * LATE_DIM + d] = test_randf(&seed);
    }
    vdb_batch *b;
    child_ok(vdb_batch_new(&b), "batch");
    child_ok(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, LATE_ROWS, 0), "ids");
    child_ok(vdb_batch_add_column(b, "v", VDB_TYPE_FLOAT_VECTOR, v, NULL, LATE_ROWS, LATE_DIM),
             "v");
    child_ok(vdb_insert(db, "pm", NULL, b, NULL, NULL), "insert");
    vdb_batch_free(b);
    free(ids);
    free(v);
    child_ok(vdb_flush(db, "pm"), "flush");
    const char *key[] = {"mmap.enabled"}, *on[] = {"true"}, *off[] = {"False"};
    child_ok(vdb_alter_collection_properties(db, "pm", key, on, 1), "alter true");
    vdb_search_req req = {.struct_size = sizeof req, .collection = "pm", .vectors = queries,
                          .nq = NQ, .dim = LATE_DIM, .k = K};
    vdb_result *res;
    child_ok(vdb_search(db, &req, &res), "search");
    int64_t want[NQ * K];
    for (size_t i = 0; i < NQ * K; i++)
        want[i] = vdb_result_pk_int(res, i / K, i % K);
    vdb_result_free(res);
    vdb_stats st = {.struct_size = sizeof st};
    child_ok(vdb_collection_stats(db, "pm", &st), "stats");
    CHILD_CHECK(st.mapped_bytes == 0, "mapped before the next open: %llu",
                (unsigned long long)st.mapped_bytes);
    vdb_close(db);
    for (int phase = 0; phase < 2; phase++) {
        db = open_db(phase); /* without mmap, then with it */
        child_ok(vdb_collection_stats(db, "pm", &st), "stats");
        uint64_t vec_bytes = (uint64_t)LATE_ROWS * LATE_DIM * sizeof(float);
        if (phase == 0)
            CHILD_CHECK(st.mapped_bytes >= vec_bytes, "mmap.enabled true: %llu bytes mapped",
                        (unsigned long long)st.mapped_bytes);
        else
            CHILD_CHECK(st.mapped_bytes == 0, "mmap.enabled false: %llu bytes mapped",
                        (unsigned long long)st.mapped_bytes);
        child_ok(vdb_search(db, &req, &res), "search");
        for (size_t i = 0; i < NQ * K; i++)
            CHILD_CHECK(vdb_result_pk_int(res, i / K, i % K) == want[i], "answer %zu", i);
        vdb_result_free(res);
        if (phase == 0)
            child_ok(vdb_alter_collection_properties(db, "pm", key, off, 1), "alter false");
        vdb_close(db);
    }
}

static void test_mmap_collection_property(void **state)
{
    (void)state;
    char *dense_dir = dir, *dense_cache = cache;
    dir = test_tmpdir("mmap_prop");
    cache = malloc(strlen(dir) + 16);
    sprintf(cache, "%s/mmap_cache", dir);
    in_child(prop_phases);
    test_rmdir(dir);
    free(dir);
    free(cache);
    dir = dense_dir;
    cache = dense_cache;
}

/* Seals in the background while searches and gets read the segments being sealed: their
 * columns swap from the heap to the cache files under the collection's lock (for TSan). */
static volatile int cc_done;

static void *cc_reader(void *arg)
{
    vdb_db *db = arg;
    const char *outs[] = {"v", "sv"};
    int64_t keys[4] = {1, 700, 1500, 2900};
    vdb_pk_list pks = {.ints = keys, .count = 4};
    while (!__atomic_load_n(&cc_done, __ATOMIC_ACQUIRE)) {
        vdb_search_req req = {.struct_size = sizeof req, .collection = "cc", .vectors = queries,
                              .nq = 2, .dim = LATE_DIM, .k = K, .vector_field = "v"};
        req.read.output_fields = outs;
        req.read.n_output_fields = 2;
        vdb_result *res;
        vdb_status st = vdb_search(db, &req, &res);
        CHILD_CHECK(st == VDB_OK, "search: %s", vdb_errmsg(NULL));
        vdb_result_free(res);
        st = vdb_get(db, "cc", &pks, VDB_READ_OPTS(.output_fields = outs, .n_output_fields = 2),
                     &res);
        CHILD_CHECK(st == VDB_OK, "get: %s", vdb_errmsg(NULL));
        vdb_result_free(res);
    }
    return NULL;
}

static void cc_phase(void)
{
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    o.segment_idle_seal_ms = 0;
    o.segment_max_rows = 1000;
    o.mmap = 1;
    vdb_db *db;
    child_ok(vdb_open(dir, &o, &db), "open");
    vdb_schema *s;
    child_ok(vdb_schema_new("cc", &s), "schema");
    child_ok(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                               .is_primary = 1)), "id");
    child_ok(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_FLOAT_VECTOR,
                                               .dim = LATE_DIM, .metric = VDB_METRIC_L2)), "v");
    child_ok(vdb_schema_add_field(s, VDB_FIELD(.name = "sv",
                                               .type = VDB_TYPE_SPARSE_FLOAT_VECTOR)), "sv");
    child_ok(vdb_create_collection(db, s), "create");
    vdb_schema_free(s);
    pthread_t th;
    CHILD_CHECK(pthread_create(&th, NULL, cc_reader, db) == 0, "thread");
    enum { BATCH = 250 };
    int64_t ids[BATCH];
    float v[BATCH * LATE_DIM];
    uint32_t idx[BATCH * 24];
    float val[BATCH * 24];
    vdb_sparse_row rows[BATCH];
    uint64_t seed = 41;
    for (size_t from = 0; from < 3000; from += BATCH) {
        for (size_t i = 0; i < BATCH; i++) {
            ids[i] = (int64_t)(from + i);
            for (int d = 0; d < LATE_DIM; d++)
                v[i * LATE_DIM + d] = test_randf(&seed);
            rows[i] = (vdb_sparse_row){sp_row(from + i, 0, idx + i * 24, val + i * 24),
                                       idx + i * 24, val + i * 24};
        }
        vdb_batch *b;
        child_ok(vdb_batch_new(&b), "batch");
        child_ok(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, BATCH, 0), "ids");
        child_ok(vdb_batch_add_column(b, "v", VDB_TYPE_FLOAT_VECTOR, v, NULL, BATCH, LATE_DIM),
                 "v");
        child_ok(vdb_batch_add_column(b, "sv", VDB_TYPE_SPARSE_FLOAT_VECTOR, rows, NULL, BATCH,
                                      0), "sv");
        child_ok(vdb_insert(db, "cc", NULL, b, NULL, NULL), "insert");
        vdb_batch_free(b);
    }
    child_ok(vdb_wait_for_seals(db, "cc", 60000), "seals");
    __atomic_store_n(&cc_done, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    vdb_stats st = {.struct_size = sizeof st};
    child_ok(vdb_collection_stats(db, "cc", &st), "stats");
    CHILD_CHECK(st.sealed_segments >= 2 && st.row_count == 3000, "%llu sealed, %llu rows",
                (unsigned long long)st.sealed_segments, (unsigned long long)st.row_count);
    CHILD_CHECK(st.mapped_bytes >= st.sealed_rows * LATE_DIM * sizeof(float),
                "mapped %llu bytes for %llu sealed rows", (unsigned long long)st.mapped_bytes,
                (unsigned long long)st.sealed_rows);
    vdb_close(db);
}

static void test_mmap_seal_under_readers(void **state)
{
    (void)state;
    char *dense_dir = dir, *dense_cache = cache;
    dir = test_tmpdir("mmap_cc");
    cache = malloc(strlen(dir) + 16);
    sprintf(cache, "%s/mmap_cache", dir);
    in_child(cc_phase);
    test_rmdir(dir);
    free(dir);
    free(cache);
    dir = dense_dir;
    cache = dense_cache;
}

int main(void)
{
    const char *env = getenv("VDB_MMAP_ROWS");
    /* sanitizer builds (CI) check the answers and the damage cases on fewer rows */
    rows_total = env ? strtoull(env, NULL, 10) : under_sanitizer ? 20000 : 200000;
    sp_rows = rows_total / 2;
    dir = test_tmpdir("mmap");
    cache = malloc(strlen(dir) + 16);
    sprintf(cache, "%s/mmap_cache", dir);
    ref = mmap(NULL, sizeof *ref, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    got = mmap(NULL, sizeof *got, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    uint64_t seed = 99;
    for (size_t i = 0; i < NQ * DIM; i++)
        queries[i] = test_randf(&seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mmap_same_answers_low_rss),
        cmocka_unit_test(test_mmap_truncated_while_closed),
        cmocka_unit_test(test_mmap_truncated_while_mapped),
        cmocka_unit_test(test_mmap_index_file_damaged),
        cmocka_unit_test(test_mmap_ivf_flat),
        cmocka_unit_test(test_mmap_sparse),
        cmocka_unit_test(test_mmap_sealed_after_open),
        cmocka_unit_test(test_mmap_collection_property),
        cmocka_unit_test(test_mmap_seal_under_readers),
        cmocka_unit_test(test_mmap_options_checked),
        cmocka_unit_test(test_seg_cache_lru),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    test_rmdir(dir);
    free(dir);
    free(cache);
    return rc;
}

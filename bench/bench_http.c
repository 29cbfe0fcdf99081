/* bench_http — the in-process half of bench/bench_http.sh: the same search and insert work the
 * script sends to vdb-server over HTTP, run through the C API from N threads, with QPS and
 * p50/p99 latency, so the two can be compared.
 *
 *   bench_http [--dir DIR] [--dim 128] [--rows 20000] [--batch 100] [--threads 8]
 *              [--seconds 10] [--k 10] [--sync full|batch|off]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_load.h"
#include <vdb/vdb.h>

static const char *dir = "/tmp/bench_http.db";
static uint32_t dim = 128, k = 10;
static size_t rows = 20000, batch = 100;
static int threads = 8, seconds = 10;
static vdb_sync_mode sync_mode = VDB_SYNC_FULL;
static vdb_db *db;
static atomic_int stop;

#define CHECK(call)                                                                           \
    do {                                                                                      \
        vdb_status st_ = (call);                                                              \
        if (st_ != VDB_OK) {                                                                  \
            fprintf(stderr, "%s: %s (%s)\n", #call, vdb_errmsg(db), vdb_status_name(st_));    \
            exit(1);                                                                          \
        }                                                                                     \
    } while (0)

static void create(const char *name, int auto_id)
{
    vdb_schema *s;
    CHECK(vdb_schema_new(name, &s));
    CHECK(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                            .is_primary = 1, .auto_id = auto_id)));
    CHECK(vdb_schema_add_field(s, VDB_FIELD(.name = "vector",
                                            .type = VDB_TYPE_FLOAT_VECTOR, .dim = dim,
                                            .metric = VDB_METRIC_L2)));
    CHECK(vdb_create_collection(db, s));
    vdb_schema_free(s);
}

typedef struct worker {
    int id;
    int insert; /* else search */
    double *lat;
    size_t nlat, cap;
} worker;

static void record(worker *w, double t)
{
    if (w->nlat == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 4096;
        w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
        if (!w->lat)
            exit(1);
    }
    w->lat[w->nlat++] = t;
}

static void *run(void *arg)
{
    worker *w = arg;
    uint64_t seed = 0x9E3779B97F4A7C15ull ^ (uint64_t)(w->id + 1) * 0x100000001B3ull;
    size_t n = w->insert ? batch : 1;
    float *v = malloc(n * dim * sizeof *v);
    while (!atomic_load(&stop)) {
        bench_fill(v, n * dim, &seed);
        double t0 = bench_now_s();
        if (w->insert) {
            vdb_batch *b;
            CHECK(vdb_batch_new(&b));
            CHECK(vdb_batch_add_column(b, "vector", VDB_TYPE_FLOAT_VECTOR, v, NULL, n, dim));
            uint64_t ts;
            vdb_result *pks;
            CHECK(vdb_insert(db, "bench_ins", NULL, b, &ts, &pks));
            vdb_result_free(pks);
            vdb_batch_free(b);
        } else {
            vdb_search_req req = {.struct_size = sizeof req, .collection = "bench",
                                  .vectors = v, .nq = 1, .dim = dim, .k = k};
            vdb_result *res;
            CHECK(vdb_search(db, &req, &res));
            vdb_result_free(res);
        }
        record(w, bench_now_s() - t0);
    }
    free(v);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void phase(int insert)
{
    worker *ws = calloc((size_t)threads, sizeof *ws);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    atomic_store(&stop, 0);
    double t0 = bench_now_s();
    for (int i = 0; i < threads; i++) {
        ws[i] = (worker){.id = i + (insert ? 1000 : 0), .insert = insert};
        pthread_create(&tid[i], NULL, run, &ws[i]);
    }
    sleep((unsigned)seconds);
    atomic_store(&stop, 1);
    size_t total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        total += ws[i].nlat;
    }
    double el = bench_now_s() - t0;
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t m = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + m, ws[i].lat, ws[i].nlat * sizeof *all);
        m += ws[i].nlat;
        free(ws[i].lat);
    }
    qsort(all, total, sizeof *all, cmp);
    double p50 = total ? all[total / 2] : 0, p99 = total ? all[total * 99 / 100] : 0;
    /* the same words bench_http.sh prints for the HTTP side */
    printf("inproc %s threads=%d requests=%zu qps=%.1f rows_per_s=%.1f p50_ms=%.3f "
           "p99_ms=%.3f\n", insert ? "insert" : "search", threads, total, total / el,
           total * (insert ? (double)batch : 1.0) / el, p50 * 1e3, p99 * 1e3);
    free(all);
    free(ws);
    free(tid);
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--dir")) dir = v;
        else if (!strcmp(a, "--dim")) dim = (uint32_t)atoi(v);
        else if (!strcmp(a, "--rows")) rows = (size_t)atol(v);
        else if (!strcmp(a, "--batch")) batch = (size_t)atol(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--seconds")) seconds = atoi(v);
        else if (!strcmp(a, "--k")) k = (uint32_t)atoi(v);
        else if (!strcmp(a, "--sync"))
            sync_mode = !strcmp(v, "off") ? VDB_SYNC_OFF : !strcmp(v, "batch") ? VDB_SYNC_BATCH
                                                                               : VDB_SYNC_FULL;
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    vdb_options o;
    vdb_options_init(&o);
    o.sync = sync_mode;
    CHECK(vdb_open(dir, &o, &db));
    create("bench", 0);
    create("bench_ins", 1);
    /* the search collection: rows random vectors, loaded in batches as the script does */
    uint64_t seed = 42;
    float *v = malloc(batch * dim * sizeof *v);
    int64_t *ids = malloc(batch * sizeof *ids);
    for (size_t done = 0; done < rows; done += batch) {
        size_t n = rows - done < batch ? rows - done : batch;
        bench_fill(v, n * dim, &seed);
        for (size_t i = 0; i < n; i++)
            ids[i] = (int64_t)(done + i);
        vdb_batch *b;
        CHECK(vdb_batch_new(&b));
        CHECK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0));
        CHECK(vdb_batch_add_column(b, "vector", VDB_TYPE_FLOAT_VECTOR, v, NULL, n, dim));
        uint64_t ts;
        CHECK(vdb_insert(db, "bench", NULL, b, &ts, NULL));
        vdb_batch_free(b);
    }
    free(v);
    free(ids);
    phase(0);
    phase(1);
    vdb_close(db);
    if (system(cmd) != 0)
        return 1;
    return 0;
}

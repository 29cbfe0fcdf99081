/* Benchmark of HAMMING search over BINARY_VECTOR rows through the public API: BIN_FLAT (exact)
 * and BIN_IVF_FLAT at a few nprobe, against a plain scan in this file (__builtin_popcountll on
 * 8-byte words as the compiler's baseline target makes it, one query at a time, a top-k by
 * insertion) in the same run. Random codes (no data set): n rows of bits bits; one query at a
 * time, searches on one thread. Recall@10 of BIN_IVF_FLAT is tie-aware (a hit is any row at
 * most the tenth exact distance away).
 *
 *   bench_binary [rows (default 200000)] [bits (default 256)] [queries (default 200)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vdb/vdb.h>

#include "index/kernels/kernels.h"

#define K 10

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The plain scan: the K smallest distances of q, ascending, into best. */
static void plain_scan(const uint8_t *base, size_t n, size_t nb, const uint8_t *q,
                       unsigned *best)
{
    for (int i = 0; i < K; i++)
        best[i] = ~0u;
    for (size_t r = 0; r < n; r++) {
        const uint8_t *x = base + r * nb;
        unsigned d = 0;
        for (size_t i = 0; i + 8 <= nb; i += 8) {
            uint64_t a, b;
            memcpy(&a, x + i, 8);
            memcpy(&b, q + i, 8);
            d += (unsigned)__builtin_popcountll(a ^ b);
        }
        if (d >= best[K - 1])
            continue;
        int p = K - 1;
        while (p > 0 && best[p - 1] > d) {
            best[p] = best[p - 1];
            p--;
        }
        best[p] = d;
    }
}

static void check(vdb_status st, const char *what)
{
    if (st != VDB_OK) {
        fprintf(stderr, "%s: %s\n", what, vdb_errmsg(NULL));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
    uint32_t bits = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 256;
    size_t nq = argc > 3 ? strtoul(argv[3], NULL, 10) : 200;
    if (!n || !bits || bits % 64 || !nq) {
        fprintf(stderr, "bench_binary [rows] [bits: a multiple of 64] [queries]\n");
        return 2;
    }
    size_t nb = bits / 8;
    uint8_t *base = malloc(n * nb), *qs = malloc(nq * nb);
    int64_t *ids = malloc(n * sizeof *ids);
    unsigned *ref = malloc(nq * K * sizeof *ref);
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < n * nb; i++)
        base[i] = (uint8_t)rnd(&s);
    for (size_t i = 0; i < nq * nb; i++)
        qs[i] = (uint8_t)rnd(&s);
    for (size_t i = 0; i < n; i++)
        ids[i] = (int64_t)i;
    printf("bench_binary: %zu rows x %u bits, %zu queries, k=%d, one thread; SIMD level %s, "
           "popcount kernels %s\n", n, bits, nq, K, vdb_simd_level(),
           vdb_bin_kernels_active()->name);

    double t0 = now();
    for (size_t q = 0; q < nq; q++)
        plain_scan(base, n, nb, qs + q * nb, ref + q * K);
    double plain = nq / (now() - t0);
    printf("%-28s %10.1f q/s  1.00x\n", "plain popcount scan", plain);

    char dir[] = "/tmp/bench_binary_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    o.search_threads = 1;
    o.index_build_threads = 2;
    vdb_db *db;
    check(vdb_open(dir, &o, &db), "open");
    vdb_schema *sc;
    check(vdb_schema_new("c", &sc), "schema");
    check(vdb_schema_add_field(sc, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                             .is_primary = 1)), "id");
    check(vdb_schema_add_field(sc, VDB_FIELD(.name = "v", .type = VDB_TYPE_BINARY_VECTOR,
                                             .dim = bits, .metric = VDB_METRIC_HAMMING)), "v");
    check(vdb_create_collection(db, sc), "create");
    vdb_schema_free(sc);
    vdb_batch *b;
    check(vdb_batch_new(&b), "batch");
    check(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0), "ids");
    check(vdb_batch_add_column(b, "v", VDB_TYPE_BINARY_VECTOR, base, NULL, n, bits), "v");
    check(vdb_insert(db, "c", NULL, b, NULL, NULL), "insert");
    vdb_batch_free(b);
    check(vdb_flush(db, "c"), "flush");

    static const char *const runs[][3] = {
        {"BIN_FLAT", NULL, NULL},
        {"BIN_IVF_FLAT", "nlist=256", "nprobe=8"},
        {"BIN_IVF_FLAT", NULL, "nprobe=32"},
        {"BIN_IVF_FLAT", NULL, "nprobe=128"},
    };
    for (size_t ri = 0; ri < sizeof runs / sizeof runs[0]; ri++) {
        if (runs[ri][1] || ri == 0) {
            if (ri)
                check(vdb_drop_index(db, "c", "v"), "drop");
            double tb = now();
            check(vdb_create_index(db, "c", "v", runs[ri][0], runs[ri][1]), "index");
            check(vdb_wait_for_index(db, "c", "v", 3600000), "wait");
            if (runs[ri][1])
                printf("%s %s built in %.2f s\n", runs[ri][0], runs[ri][1], now() - tb);
        }
        double hits = 0;
        t0 = now();
        for (size_t q = 0; q < nq; q++) {
            vdb_search_req req = {.struct_size = sizeof req, .collection = "c",
                                  .binary_vectors = qs + q * nb, .nq = 1, .dim = bits, .k = K,
                                  .params = runs[ri][2]};
            vdb_result *res;
            check(vdb_search(db, &req, &res), "search");
            for (size_t i = 0; i < vdb_result_rows(res, 0); i++)
                hits += vdb_result_distance(res, 0, i) <= (float)ref[q * K + K - 1];
            vdb_result_free(res);
        }
        double qps = nq / (now() - t0);
        char name[64];
        snprintf(name, sizeof name, "%s %s", runs[ri][0], runs[ri][2] ? runs[ri][2] : "");
        printf("%-28s %10.1f q/s  %.2fx  recall@10 %.3f\n", name, qps, qps / plain,
               hits / (double)(nq * K));
    }
    vdb_close(db);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(base);
    free(qs);
    free(ids);
    free(ref);
    return 0;
}

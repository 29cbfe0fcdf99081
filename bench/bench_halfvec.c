/* Benchmark of HNSW over float32 rows against the same rows stored as FLOAT16, BFLOAT16 and
 * INT8 (pixels shifted to -128..127) on Fashion-MNIST (60,000 x 784, L2): build time, bytes
 * per vector (row bytes plus the index's own memory per row), recall@10 against the shared
 * ground truth and queries/s one query at a time on one thread, at a few ef. The index reads
 * the stored elements in place (no float copy); the queries are float32.
 *
 * All four indexes are built first; then at each ef the types take turns (float32, float16,
 * bfloat16, int8, then again) for the given number of rounds and each keeps its best q/s, so
 * that a shared machine's load falls on every type alike; each type's q/s is also printed as
 * a ratio to float32's measured in the same run.
 *
 *   bench_halfvec [data_dir] [queries (default 2000)] [build threads (default 2)]
 *                 [rounds (default 3)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmnist.h"
#include "index/vector/hnsw.h"

#define DIM FMNIST_DIM
#define K 10

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const vdb_type types[] = {VDB_TYPE_FLOAT_VECTOR, VDB_TYPE_FLOAT16_VECTOR,
                                 VDB_TYPE_BFLOAT16_VECTOR, VDB_TYPE_INT8_VECTOR};
static const uint32_t efs[] = {16, 32, 64, 128};

static void *stored(vdb_type t, const float *x, size_t n)
{
    size_t w = vdb_vector_elem_size(t);
    uint8_t *out = malloc(n * w);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        switch (t) {
        case VDB_TYPE_FLOAT16_VECTOR:
            h = vdb_f32_to_f16(x[i]);
            memcpy(out + 2 * i, &h, 2);
            break;
        case VDB_TYPE_BFLOAT16_VECTOR:
            h = vdb_f32_to_bf16(x[i]);
            memcpy(out + 2 * i, &h, 2);
            break;
        case VDB_TYPE_INT8_VECTOR:
            out[i] = (uint8_t)(int8_t)(x[i] - 128);
            break;
        default:
            memcpy(out + 4 * i, x + i, 4);
            break;
        }
    }
    return out;
}

int main(int argc, char **argv)
{
    const char *data = argc > 1 ? argv[1] : NULL;
    size_t nq = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000;
    uint32_t threads = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 2;
    float *base, *queries;
    int32_t *gt;
    size_t n, qn, gk;
    if (fmnist_load_base(data, 0, &base, &n) || fmnist_load_queries(data, nq, &queries, &qn) ||
        fmnist_load_groundtruth(data, nq, &gt, &qn, &gk))
        return 1;
    nq = qn;
    float *q8 = malloc(nq * DIM * sizeof *q8); /* the queries in int8's shifted space */
    for (size_t i = 0; i < nq * DIM; i++)
        q8[i] = queries[i] - 128;
    int rounds = argc > 4 ? atoi(argv[4]) : 3;
    if (rounds < 1)
        rounds = 1;
    enum { NT = VDB_ARRAY_LEN(types) };
    printf("Fashion-MNIST %zu x %d, %zu queries, k=%d, SIMD %s, HNSW M=16 efConstruction=200, "
           "%u build threads, search on one thread, best of %d alternating rounds\n", n, DIM,
           nq, K, vdb_simd_level(), threads, rounds);
    vdb_hnsw *h[NT];
    void *rows[NT];
    double build[NT], bpv[NT];
    for (size_t ti = 0; ti < NT; ti++) {
        vdb_type t = types[ti];
        rows[ti] = stored(t, base, n * DIM);
        double t0 = bench_now();
        if (!rows[ti] || vdb_hnsw_build_t(t, rows[ti], n, DIM, VDB_METRIC_L2, 16, 200, threads,
                                          NULL, NULL, &h[ti]) != VDB_OK) {
            fprintf(stderr, "build %s: %s\n", vdb_type_name(t), vdb_err_get());
            return 1;
        }
        build[ti] = bench_now() - t0;
        bpv[ti] = (double)(vdb_vector_elem_size(t) * DIM) +
                  (double)vdb_hnsw_memory(h[ti]) / (double)n;
    }
    printf("%-16s %8s %10s %5s %8s %10s %8s\n", "type", "build_s", "bytes/vec", "ef", "recall",
           "queries/s", "vs_f32");
    vdb_topk top;
    vdb_topk_init(&top, K, false);
    for (size_t ei = 0; ei < VDB_ARRAY_LEN(efs); ei++) {
        double best[NT] = {0};
        size_t hits[NT] = {0};
        for (int r = 0; r < rounds; r++) {
            for (size_t ti = 0; ti < NT; ti++) {
                const float *qs = types[ti] == VDB_TYPE_INT8_VECTOR ? q8 : queries;
                size_t hit = 0;
                double t0 = bench_now();
                for (size_t q = 0; q < nq; q++) {
                    vdb_topk_reset(&top);
                    vdb_hnsw_search(h[ti], qs + q * DIM, K, efs[ei], NULL, 0, &top);
                    for (size_t i = 0; i < top.n; i++)
                        for (size_t j = 0; j < K; j++)
                            hit += top.id[i] == gt[q * gk + j];
                }
                double qps = (double)nq / (bench_now() - t0);
                if (qps > best[ti])
                    best[ti] = qps;
                hits[ti] = hit;
            }
        }
        for (size_t ti = 0; ti < NT; ti++)
            printf("%-16s %8.1f %10.0f %5u %8.3f %10.0f %8.2f\n", vdb_type_name(types[ti]),
                   build[ti], bpv[ti], efs[ei], (double)hits[ti] / (double)(nq * K), best[ti],
                   best[ti] / best[0]);
    }
    vdb_topk_free(&top);
    for (size_t ti = 0; ti < NT; ti++) {
        vdb_hnsw_free(h[ti]);
        free(rows[ti]);
    }
    free(q8);
    free(base);
    free(queries);
    free(gt);
    return 0;
}

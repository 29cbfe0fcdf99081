/* Benchmark of HNSW over float32 rows against the same rows stored as FLOAT16, BFLOAT16 and
 * INT8 (pixels shifted to -128..127) on Fashion-MNIST (60,000 x 784, L2): build time, bytes
 * per vector (row bytes plus the index's own memory per row), recall@10 against the shared
 * ground truth and queries/s one query at a time on one thread, at a few ef. The index reads
 * the stored elements in place (no float copy); the queries are float32.
 *
 *   bench_halfvec [data_dir] [queries (default 2000)] [build threads (default 2)]
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
    printf("Fashion-MNIST %zu x %d, %zu queries, k=%d, SIMD %s, HNSW M=16 efConstruction=200, "
           "%u build threads, search on one thread\n", n, DIM, nq, K, vdb_simd_level(), threads);
    printf("%-16s %8s %10s %5s %8s %10s\n", "type", "build_s", "bytes/vec", "ef", "recall",
           "queries/s");
    for (size_t ti = 0; ti < VDB_ARRAY_LEN(types); ti++) {
        vdb_type t = types[ti];
        void *rows = stored(t, base, n * DIM);
        vdb_hnsw *h;
        double t0 = bench_now();
        if (!rows || vdb_hnsw_build_t(t, rows, n, DIM, VDB_METRIC_L2, 16, 200, threads, NULL,
                                      NULL, &h) != VDB_OK) {
            fprintf(stderr, "build %s: %s\n", vdb_type_name(t), vdb_err_get());
            return 1;
        }
        double build = bench_now() - t0;
        double bpv = (double)(vdb_vector_elem_size(t) * DIM) +
                     (double)vdb_hnsw_memory(h) / (double)n;
        const float *qs = t == VDB_TYPE_INT8_VECTOR ? q8 : queries;
        for (size_t ei = 0; ei < VDB_ARRAY_LEN(efs); ei++) {
            vdb_topk top;
            vdb_topk_init(&top, K, false);
            size_t hit = 0;
            t0 = bench_now();
            for (size_t q = 0; q < nq; q++) {
                vdb_topk_reset(&top);
                vdb_hnsw_search(h, qs + q * DIM, K, efs[ei], NULL, 0, &top);
                for (size_t i = 0; i < top.n; i++)
                    for (size_t j = 0; j < K; j++)
                        hit += top.id[i] == gt[q * gk + j];
            }
            double secs = bench_now() - t0;
            printf("%-16s %8.1f %10.0f %5u %8.3f %10.0f\n", vdb_type_name(t), build, bpv,
                   efs[ei], (double)hit / (double)(nq * K), (double)nq / secs);
            vdb_topk_free(&top);
        }
        vdb_hnsw_free(h);
        free(rows);
    }
    free(q8);
    free(base);
    free(queries);
    free(gt);
    return 0;
}

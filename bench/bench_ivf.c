/* bench_ivf: the IVF indexes on Fashion-MNIST (60,000 x 784, L2): build time, then recall@10
 * against the shared ground truth and queries/s (one query at a time, one thread) per nprobe.
 *
 *   bench_ivf [kind=IVF_FLAT|IVF_SQ8|IVF_PQ] [nlist=1024] [queries=2000] [threads=2]
 *             [m=392] [nbits=8] [nprobe=1,4,8,16,32,64]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmnist.h"
#include "index/vector/ivf.h"

#define K 10

typedef struct opts {
    vdb_ivf_kind kind;
    uint32_t nlist, threads, m, nbits;
    size_t nq;
    char nprobe[256];
} opts;

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){VDB_IVF_FLAT, 1024, 2, 392, 8, 2000, "1,4,8,16,32,64"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = strchr(a, '=');
        if (!v)
            return -1;
        v++;
        if (!strncmp(a, "kind=", 5))
            o->kind = !strcmp(v, "IVF_SQ8") ? VDB_IVF_SQ8 : !strcmp(v, "IVF_PQ") ? VDB_IVF_PQ
                                                                               : VDB_IVF_FLAT;
        else if (!strncmp(a, "nlist=", 6))
            o->nlist = (uint32_t)atoi(v);
        else if (!strncmp(a, "queries=", 8))
            o->nq = (size_t)atol(v);
        else if (!strncmp(a, "threads=", 8))
            o->threads = (uint32_t)atoi(v);
        else if (!strncmp(a, "m=", 2))
            o->m = (uint32_t)atoi(v);
        else if (!strncmp(a, "nbits=", 6))
            o->nbits = (uint32_t)atoi(v);
        else if (!strncmp(a, "nprobe=", 7))
            snprintf(o->nprobe, sizeof o->nprobe, "%s", v);
        else
            return -1;
    }
    return 0;
}

static void progress(void *arg, size_t done, size_t total)
{
    (void)arg;
    fprintf(stderr, "\rbuild %3zu%%", total ? done * 100 / total : 100);
}

int main(int argc, char **argv)
{
    opts o;
    if (parse(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: bench_ivf [kind=IVF_FLAT|IVF_SQ8|IVF_PQ] [nlist=N] [queries=N] "
                        "[threads=N] [m=N] [nbits=N] [nprobe=a,b,...]\n");
        return 2;
    }
    float *base, *qs;
    int32_t *gt;
    size_t n, nq, gk, gr;
    if (fmnist_load_base(NULL, 0, &base, &n) || fmnist_load_queries(NULL, o.nq, &qs, &nq) ||
        fmnist_load_groundtruth(NULL, o.nq, &gt, &gr, &gk) || gr < nq || gk < K)
        return 1;
    vdb_ivf_params p = {o.nlist, o.kind == VDB_IVF_PQ ? o.m : 0, o.nbits};
    vdb_ivf *ivf;
    uint64_t t0 = vdb_mono_ns();
    vdb_status st = vdb_ivf_build(o.kind, base, n, FMNIST_DIM, VDB_METRIC_L2, &p, o.threads,
                                  progress, NULL, &ivf);
    double build = (double)(vdb_mono_ns() - t0) / 1e9;
    fprintf(stderr, "\n");
    if (st != VDB_OK) {
        fprintf(stderr, "build: %s: %s\n", vdb_status_name(st), vdb_err_get());
        return 1;
    }
    printf("%s nlist %u: build %.2f s on %u threads, %zu MiB, SIMD %s\n",
           o.kind == VDB_IVF_FLAT ? "IVF_FLAT" : o.kind == VDB_IVF_SQ8 ? "IVF_SQ8" : "IVF_PQ",
           o.nlist, build, o.threads, vdb_ivf_memory(ivf) >> 20, vdb_simd_level());
    vdb_topk t;
    if (vdb_topk_init(&t, K, false) != VDB_OK)
        return 1;
    for (char *s = o.nprobe, *tok; (tok = strtok(s, ",")); s = NULL) {
        uint32_t nprobe = (uint32_t)atoi(tok);
        size_t hit = 0;
        t0 = vdb_mono_ns();
        for (size_t q = 0; q < nq; q++) {
            vdb_topk_reset(&t);
            if (vdb_ivf_search(ivf, qs + q * FMNIST_DIM, K, nprobe, base, NULL, 0, &t) != VDB_OK)
                return 1;
            for (size_t i = 0; i < t.n; i++)
                for (size_t j = 0; j < K; j++)
                    hit += t.id[i] == gt[q * gk + j];
        }
        double secs = (double)(vdb_mono_ns() - t0) / 1e9;
        printf("nprobe %5u: recall@10 %.4f, %8.0f queries/s\n", nprobe,
               (double)hit / (double)(nq * K), (double)nq / secs);
    }
    vdb_topk_free(&t);
    vdb_ivf_free(ivf);
    free(base);
    free(qs);
    free(gt);
    return 0;
}

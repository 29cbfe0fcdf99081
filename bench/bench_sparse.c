/* Benchmark of the sparse inverted index alone (no database around it): queries/s of the
 * block-max WAND walk (SPARSE_WAND's DAAT_WAND) and of DAAT_MAXSCORE against the exhaustive
 * term-at-a-time walk (TAAT_NAIVE) on the same index, over a bag of words of Debian's license and
 * copyright files (tests/sparse_corpus.c), for short and long queries; recall@10 of each
 * against an exact scan, with drop_ratio_build / drop_ratio_search as given.
 *   bench_sparse [docs=50000] [queries=2000] [drop_build=0] [drop_search=0] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "index/vector/sparse.h"
#include "sparse_corpus.h"

#define K 10

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double arg(int argc, char **argv, const char *key, double def)
{
    size_t n = strlen(key);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], key, n) && argv[i][n] == '=')
            return atof(argv[i] + n + 1);
    return def;
}

int main(int argc, char **argv)
{
    size_t max_docs = (size_t)arg(argc, argv, "docs", 50000);
    size_t nq = (size_t)arg(argc, argv, "queries", 2000);
    double drop_build = arg(argc, argv, "drop_build", 0), drop_search = arg(argc, argv,
                                                                             "drop_search", 0);
    corpus c = {0};
    vocab v = {0};
    build_corpus(&c, &v, max_docs);
    if (c.n < 100) {
        fprintf(stderr, "bench_sparse: too little text under /usr/share/doc\n");
        return 1;
    }
    weigh(&c, &v);
    /* the rows as a column stores them: n indices, then n values */
    uint64_t *offs = malloc((c.n + 1) * sizeof *offs);
    size_t total = 0;
    for (size_t i = 0; i < c.n; i++)
        total += c.docs[i].n;
    char *bytes = malloc(total * 8 + 8);
    offs[0] = 0;
    for (size_t i = 0; i < c.n; i++) {
        memcpy(bytes + offs[i], c.docs[i].idx, c.docs[i].n * 4);
        memcpy(bytes + offs[i] + c.docs[i].n * 4, c.docs[i].val, c.docs[i].n * 4);
        offs[i + 1] = offs[i] + c.docs[i].n * 8;
    }
    vdb_vectors rows = {VDB_TYPE_SPARSE_FLOAT_VECTOR, 0, VDB_METRIC_IP, c.n, bytes, offs};
    double t0 = now();
    vdb_sparse_index *ix;
    if (vdb_sparse_index_build(&rows, drop_build, &ix) != VDB_OK) {
        fprintf(stderr, "build: %s\n", vdb_err_get());
        return 1;
    }
    double tb = now() - t0;
    printf("corpus: %zu documents, %zu words, %zu postings; build %.3f s (drop_ratio_build=%g), "
           "%.1f MiB\n", c.n, v.n, total, tb, drop_build,
           (double)vdb_sparse_index_memory(ix) / (1 << 20));
    /* short queries (2..6 words of a document, as a search box gets) and long ones (a whole
     * document, as a learned sparse embedding of a passage) */
    static const struct { const char *name; uint32_t lo, hi; } shapes[] = {
        {"short (2-6 terms)", 2, 6}, {"long (whole document, up to 64 terms)", 64, 64}};
    for (size_t sh = 0; sh < 2; sh++) {
        uint64_t rs = 88172645463325252ull;
        vdb_sparse_vec *qs = calloc(nq, sizeof *qs);
        for (size_t q = 0; q < nq; q++) {
            const srow *d = &c.docs[rnd(&rs) % c.n];
            uint32_t n = shapes[sh].lo + (uint32_t)(rnd(&rs) % (shapes[sh].hi - shapes[sh].lo + 1));
            n = n < d->n ? n : d->n;
            uint32_t start = (uint32_t)(rnd(&rs) % (d->n - n + 1));
            uint32_t *idx = malloc(n * 4 + 4);
            float *val = malloc(n * 4 + 4);
            for (uint32_t j = 0; j < n; j++) {
                idx[j] = d->idx[start + j];
                val[j] = logf((float)c.n / (float)v.df[idx[j]]);
            }
            vdb_sparse_vec full = {n, idx, val};
            uint32_t kept;
            uint32_t *pi = malloc(n * 4 + 4);
            float *pv = malloc(n * 4 + 4);
            vdb_sparse_drop_smallest(&full, drop_search, pi, pv, &kept);
            free(idx);
            free(val);
            qs[q] = (vdb_sparse_vec){kept, pi, pv};
        }
        /* exact answers: the scan over every row (unpruned rows, pruned query) */
        int64_t *gt = calloc(nq * K, sizeof *gt);
        float *gts = calloc(nq * K, sizeof *gts);
        size_t *gtn = calloc(nq, sizeof *gtn);
        vdb_topk h;
        vdb_topk_init(&h, K, true);
        t0 = now();
        for (size_t q = 0; q < nq; q++) {
            vdb_topk_reset(&h);
            vdb_sparse_flat_search(offs, bytes, c.n, &qs[q], NULL, 0, &h);
            vdb_topk_sort(&h);
            gtn[q] = h.n;
            memcpy(gt + q * K, h.id, h.n * sizeof *gt);
            memcpy(gts + q * K, h.dist, h.n * sizeof *gts);
        }
        double tscan = now() - t0;
        printf("\n%s, %zu queries, k=%d%s\n", shapes[sh].name, nq, K,
               drop_search > 0 ? " (drop_ratio_search applied)" : "");
        printf("  %-46s %8.0f q/s\n", "exact scan of the rows", (double)nq / tscan);
        static const char *const names[] = {"SPARSE_INVERTED_INDEX, TAAT_NAIVE (exhaustive)",
                                            "SPARSE_WAND, DAAT_WAND (block-max WAND)",
                                            "DAAT_MAXSCORE (Milvus's default)"};
        for (int algo = 0; algo < 3; algo++) {
            size_t hit = 0, want = 0;
            t0 = now();
            for (size_t q = 0; q < nq; q++) {
                vdb_topk_reset(&h);
                vdb_sparse_index_search(ix, &qs[q], (vdb_sparse_algo)algo, NULL, NULL, 0, &h);
                vdb_topk_sort(&h);
                /* recall by score: ties at the k-th score count */
                want += gtn[q];
                for (size_t j = 0; j < h.n && gtn[q]; j++)
                    hit += h.dist[j] >= gts[q * K + gtn[q] - 1] * (1.0f - 1e-5f);
            }
            double t = now() - t0;
            printf("  %-46s %8.0f q/s   recall@10 %.4f\n", names[algo], (double)nq / t,
                   want ? (double)hit / (double)want : 1.0);
        }
        vdb_topk_free(&h);
        for (size_t q = 0; q < nq; q++) {
            free((void *)qs[q].idx);
            free((void *)qs[q].val);
        }
        free(qs);
        free(gt);
        free(gts);
        free(gtn);
    }
    vdb_sparse_index_free(ix);
    free(offs);
    free(bytes);
    corpus_free(&c, &v);
    return 0;
}

/* bench_ann_ref: the reference libraries of bench_ann (hnswlib and Faiss), behind a small C
 * interface so bench_ann.c times them exactly as it times libvdb.
 *
 * This file alone is compiled with -O3 -march=native (bench/meson.build): hnswlib is
 * header-only, so that is how it gets AVX-512/AVX2. Faiss is Debian's prebuilt libfaiss.a
 * and runs whatever code Debian compiled into it.
 *
 * Interface (declared again in bench_ann.c; kept C-only on purpose):
 *   ann_ref_build   builds an index over rows x dim floats (ids = row positions) with
 *                   M / efConstruction on `threads` threads; NULL on failure (message printed)
 *   ann_ref_set_ef  the search beam width for the following searches
 *   ann_ref_thread_init  called once by every searching thread (Faiss: no OpenMP team per
 *                   single-query call, the bench does its own threading)
 *   ann_ref_search  one query, k ids nearest first (-1 where fewer came back)
 *   ann_ref_free */
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#include <omp.h>

#include <faiss/IndexHNSW.h>
#include <hnswlib/hnswlib.h>

namespace {

enum { REF_HNSWLIB = 0, REF_FAISS = 1 };

struct ref_index {
    int kind = 0;
    std::unique_ptr<hnswlib::L2Space> space;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
    std::unique_ptr<faiss::IndexHNSWFlat> faiss_index;
};

void build_hnswlib(ref_index *r, const float *base, size_t rows, size_t dim, int M, int efc,
                   int threads)
{
    r->space.reset(new hnswlib::L2Space(dim));
    r->hnsw.reset(new hnswlib::HierarchicalNSW<float>(r->space.get(), rows, (size_t)M,
                                                       (size_t)efc));
    std::atomic<size_t> next(0);
    auto worker = [&]() {
        for (;;) {
            size_t i = next.fetch_add(1);
            if (i >= rows)
                break;
            r->hnsw->addPoint(base + i * dim, (hnswlib::labeltype)i);
        }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; t++)
        pool.emplace_back(worker);
    worker();
    for (auto &t : pool)
        t.join();
}

void build_faiss(ref_index *r, const float *base, size_t rows, size_t dim, int M, int efc,
                 int threads)
{
    r->faiss_index.reset(new faiss::IndexHNSWFlat((int)dim, M));
    r->faiss_index->hnsw.efConstruction = efc;
    omp_set_num_threads(threads);
    r->faiss_index->add((faiss::Index::idx_t)rows, base);
}

} // namespace

extern "C" {

void *ann_ref_build(int kind, const float *base, size_t rows, size_t dim, int M, int efc,
                    int threads);
void ann_ref_set_ef(void *h, int ef);
void ann_ref_thread_init(void *h);
void ann_ref_search(void *h, const float *query, size_t k, int64_t *ids);
void ann_ref_free(void *h);

void *ann_ref_build(int kind, const float *base, size_t rows, size_t dim, int M, int efc,
                    int threads)
{
    try {
        std::unique_ptr<ref_index> r(new ref_index);
        r->kind = kind;
        if (kind == REF_HNSWLIB)
            build_hnswlib(r.get(), base, rows, dim, M, efc, threads);
        else
            build_faiss(r.get(), base, rows, dim, M, efc, threads);
        return r.release();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "bench_ann: building the %s index failed: %s\n",
                     kind == REF_HNSWLIB ? "hnswlib" : "Faiss", e.what());
        return nullptr;
    }
}

void ann_ref_set_ef(void *h, int ef)
{
    ref_index *r = static_cast<ref_index *>(h);
    if (r->kind == REF_HNSWLIB)
        r->hnsw->setEf((size_t)ef);
    else
        r->faiss_index->hnsw.efSearch = ef;
}

void ann_ref_thread_init(void *h)
{
    (void)h;
    omp_set_num_threads(1);
}

void ann_ref_search(void *h, const float *query, size_t k, int64_t *ids)
{
    ref_index *r = static_cast<ref_index *>(h);
    if (r->kind == REF_HNSWLIB) {
        auto top = r->hnsw->searchKnn(query, k);
        size_t n = top.size();
        for (size_t i = n; i < k; i++)
            ids[i] = -1;
        /* the priority queue pops the farthest first */
        while (!top.empty()) {
            ids[--n] = (int64_t)top.top().second;
            top.pop();
        }
    } else {
        float dist[256];
        faiss::Index::idx_t lab[256];
        if (k > 256)
            k = 256;
        r->faiss_index->search(1, query, (faiss::Index::idx_t)k, dist, lab);
        for (size_t i = 0; i < k; i++)
            ids[i] = (int64_t)lab[i];
    }
}

void ann_ref_free(void *h)
{
    delete static_cast<ref_index *>(h);
}

} // extern "C"

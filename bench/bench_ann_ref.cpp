/* bench_ann_ref: hnswlib and Faiss for bench_ann, behind the C interface of ann_ref.h.
 *
 * This file alone is compiled with -O3 -march=native (bench/meson.build). Every index gets
 * the same parameters as libvdb's: HNSW M / efConstruction; IVF nlist; PQ m and nbits; each
 * library trains with its own defaults (Faiss: k-means on up to 256 points per centroid). */
#include "ann_ref.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#include <omp.h>

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/invlists/InvertedLists.h>
#include <hnswlib/hnswlib.h>

namespace {

struct ref_index {
    int kind = 0;
    size_t dim = 0, rows = 0;
    std::unique_ptr<hnswlib::SpaceInterface<float>> space;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
    std::unique_ptr<faiss::Index> faiss_index;
};

void build_hnswlib(ref_index *r, const float *base, int ip, const ann_ref_params *p,
                   int threads)
{
    size_t dim = r->dim, rows = r->rows;
    if (ip)
        r->space.reset(new hnswlib::InnerProductSpace(dim));
    else
        r->space.reset(new hnswlib::L2Space(dim));
    r->hnsw.reset(new hnswlib::HierarchicalNSW<float>(r->space.get(), rows, (size_t)p->M,
                                                       (size_t)p->ef_construction));
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

faiss::Index *new_faiss(int kind, size_t dim, int ip, const ann_ref_params *p)
{
    faiss::MetricType m = ip ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
    faiss::IndexIVF *ivf = nullptr;
    faiss::Index *quantizer = nullptr;
    switch (kind) {
    case ANN_REF_FAISS_HNSW: {
        faiss::IndexHNSWFlat *h = new faiss::IndexHNSWFlat((int)dim, p->M, m);
        h->hnsw.efConstruction = p->ef_construction;
        return h;
    }
    case ANN_REF_FAISS_FLAT:
        if (ip)
            return new faiss::IndexFlatIP((faiss::Index::idx_t)dim);
        return new faiss::IndexFlatL2((faiss::Index::idx_t)dim);
    default:
        break;
    }
    if (ip)
        quantizer = new faiss::IndexFlatIP((faiss::Index::idx_t)dim);
    else
        quantizer = new faiss::IndexFlatL2((faiss::Index::idx_t)dim);
    if (kind == ANN_REF_FAISS_IVF_FLAT)
        ivf = new faiss::IndexIVFFlat(quantizer, dim, (size_t)p->nlist, m);
    else if (kind == ANN_REF_FAISS_IVF_SQ8)
        ivf = new faiss::IndexIVFScalarQuantizer(quantizer, dim, (size_t)p->nlist,
                                                 faiss::ScalarQuantizer::QT_8bit, m);
    else
        ivf = new faiss::IndexIVFPQ(quantizer, dim, (size_t)p->nlist, (size_t)p->pq_m,
                                    (size_t)p->pq_nbits, m);
    ivf->own_fields = true;
    return ivf;
}

double hnswlib_bytes(const ref_index *r)
{
    const hnswlib::HierarchicalNSW<float> *h = r->hnsw.get();
    size_t n = h->cur_element_count;
    if (!n)
        return 0;
    double upper = 0;
    for (size_t i = 0; i < n; i++)
        upper += (double)h->element_levels_[i] * (double)h->size_links_per_element_;
    /* per element: level-0 links + label beside the vector, its level, its lock, the
     * upper-level link pointer, an entry of the label map (node + bucket, about 32 bytes) */
    double per = (double)(h->size_data_per_element_ - h->data_size_) + sizeof(int) +
                 sizeof(std::mutex) + sizeof(char *) + 32.0;
    return per + upper / (double)n;
}

double faiss_bytes(const ref_index *r)
{
    double n = (double)r->rows, bytes = 0;
    if (!n)
        return 0;
    const faiss::Index *x = r->faiss_index.get();
    if (auto h = dynamic_cast<const faiss::IndexHNSW *>(x)) {
        bytes += (double)h->hnsw.neighbors.size() * sizeof(faiss::HNSW::storage_idx_t) +
                 (double)h->hnsw.levels.size() * sizeof(int) +
                 (double)h->hnsw.offsets.size() * sizeof(size_t);
    } else if (auto ivf = dynamic_cast<const faiss::IndexIVF *>(x)) {
        bytes += (double)ivf->quantizer->ntotal * (double)r->dim * sizeof(float);
        if (auto al = dynamic_cast<const faiss::ArrayInvertedLists *>(ivf->invlists)) {
            for (size_t l = 0; l < al->nlist; l++)
                bytes += (double)al->codes[l].size() +
                         (double)al->ids[l].size() * sizeof(faiss::Index::idx_t);
        }
        if (dynamic_cast<const faiss::IndexIVFFlat *>(x))
            bytes -= n * (double)r->dim * sizeof(float); /* the raw vectors themselves */
        if (auto sq = dynamic_cast<const faiss::IndexIVFScalarQuantizer *>(x))
            bytes += (double)sq->sq.trained.size() * sizeof(float);
        if (auto pq = dynamic_cast<const faiss::IndexIVFPQ *>(x))
            bytes += (double)pq->pq.centroids.size() * sizeof(float) +
                     (double)pq->precomputed_table.size() * sizeof(float);
    }
    return bytes / n;
}

} // namespace

extern "C" {

void *ann_ref_build(int kind, const float *base, size_t rows, size_t dim, int ip,
                    const ann_ref_params *p, int threads)
{
    try {
        std::unique_ptr<ref_index> r(new ref_index);
        r->kind = kind;
        r->dim = dim;
        r->rows = rows;
        if (kind == ANN_REF_HNSWLIB) {
            build_hnswlib(r.get(), base, ip, p, threads);
        } else {
            omp_set_num_threads(threads);
            r->faiss_index.reset(new_faiss(kind, dim, ip, p));
            if (!r->faiss_index->is_trained)
                r->faiss_index->train((faiss::Index::idx_t)rows, base);
            r->faiss_index->add((faiss::Index::idx_t)rows, base);
        }
        return r.release();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "bench_ann: building the %s index (kind %d) failed: %s\n",
                     kind == ANN_REF_HNSWLIB ? "hnswlib" : "Faiss", kind, e.what());
        return nullptr;
    }
}

double ann_ref_bytes_per_vector(const void *h)
{
    const ref_index *r = static_cast<const ref_index *>(h);
    return r->kind == ANN_REF_HNSWLIB ? hnswlib_bytes(r) : faiss_bytes(r);
}

void ann_ref_set_param(void *h, int value)
{
    ref_index *r = static_cast<ref_index *>(h);
    if (r->kind == ANN_REF_HNSWLIB) {
        r->hnsw->setEf((size_t)value);
        return;
    }
    if (auto hn = dynamic_cast<faiss::IndexHNSW *>(r->faiss_index.get()))
        hn->hnsw.efSearch = value;
    else if (auto ivf = dynamic_cast<faiss::IndexIVF *>(r->faiss_index.get()))
        ivf->nprobe = (size_t)value;
}

void ann_ref_omp_threads(int threads)
{
    omp_set_num_threads(threads);
}

void ann_ref_search(const void *h, const float *queries, size_t nq, size_t k, int64_t *ids)
{
    const ref_index *r = static_cast<const ref_index *>(h);
    if (r->kind == ANN_REF_HNSWLIB) {
        for (size_t q = 0; q < nq; q++) {
            int64_t *out = ids + q * k;
            auto top = r->hnsw->searchKnn(queries + q * r->dim, k);
            size_t n = top.size();
            for (size_t i = n; i < k; i++)
                out[i] = -1;
            /* the priority queue pops the farthest first */
            while (!top.empty()) {
                out[--n] = (int64_t)top.top().second;
                top.pop();
            }
        }
        return;
    }
    if (nq == 1 && k <= 256) {
        float dist[256];
        faiss::Index::idx_t lab[256];
        r->faiss_index->search(1, queries, (faiss::Index::idx_t)k, dist, lab);
        for (size_t i = 0; i < k; i++)
            ids[i] = (int64_t)lab[i];
        return;
    }
    std::vector<float> dist(nq * k);
    std::vector<faiss::Index::idx_t> lab(nq * k);
    r->faiss_index->search((faiss::Index::idx_t)nq, queries, (faiss::Index::idx_t)k,
                           dist.data(), lab.data());
    for (size_t i = 0; i < nq * k; i++)
        ids[i] = (int64_t)lab[i];
}

void ann_ref_free(void *h)
{
    delete static_cast<ref_index *>(h);
}

} // extern "C"

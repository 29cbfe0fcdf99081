// The Faiss side of IVF_SQ8 and IVF_PQ behind a C interface (faiss_shim.h). Nothing here
// lets a C++ exception cross into C: every entry point catches and turns it into a status.
#include "faiss_shim.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <faiss/invlists/InvertedLists.h>
#include <omp.h>

#include <algorithm>
#include <memory>
#include <new>
#include <string>
#include <vector>

struct vdb_faiss {
    std::unique_ptr<faiss::IndexIVF> index;
};

namespace {

// Rows added per call between two progress reports.
constexpr size_t ADD_CHUNK = 16384;

// Runs fn, mapping what it throws to a status whose message names the operation.
template <class F>
vdb_status guarded(const char *what, F fn)
{
    try {
        return fn();
    } catch (const std::bad_alloc &) {
        return vdb_set_errmsg(VDB_ENOMEM, "faiss %s: out of memory", what);
    } catch (const std::exception &e) {
        return vdb_set_errmsg(VDB_EIO, "faiss %s: %s", what, e.what());
    } catch (...) {
        return vdb_set_errmsg(VDB_EIO, "faiss %s: unknown exception", what);
    }
}

// Sets the calling thread's OpenMP team size for a scope (Faiss sizes its loops by it).
// ThreadSanitizer cannot see libgomp's (uninstrumented) synchronization and reports every
// OpenMP team as racing: its builds keep Faiss on the calling thread.
#if defined(__SANITIZE_THREAD__)
constexpr int OMP_MAX = 1;
#else
constexpr int OMP_MAX = 1 << 10;
#endif
class omp_threads {
  public:
    explicit omp_threads(int n) : old_(omp_get_max_threads())
    {
        omp_set_num_threads(std::min(n, OMP_MAX));
    }
    ~omp_threads() { omp_set_num_threads(old_); }
    omp_threads(const omp_threads &) = delete;
    omp_threads &operator=(const omp_threads &) = delete;

  private:
    int old_;
};

faiss::MetricType metric_of(const vdb_faiss_params *p)
{
    return p->ip ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
}

std::unique_ptr<faiss::IndexIVF> make_index(const vdb_faiss_params *p)
{
    std::unique_ptr<faiss::Index> q;
    if (p->ip)
        q.reset(new faiss::IndexFlatIP(p->dim));
    else
        q.reset(new faiss::IndexFlatL2(p->dim));
    std::unique_ptr<faiss::IndexIVF> ix;
    if (p->kind == VDB_FAISS_SQ8)
        ix.reset(new faiss::IndexIVFScalarQuantizer(q.get(), p->dim, p->nlist,
                                                    faiss::ScalarQuantizer::QT_8bit,
                                                    metric_of(p)));
    else
        ix.reset(new faiss::IndexIVFPQ(q.get(), p->dim, p->nlist, p->pq_m, p->pq_nbits,
                                       metric_of(p)));
    ix->own_fields = true;
    q.release();
    // Small segments train on fewer rows than Faiss likes; that is expected, not a warning.
    ix->cp.min_points_per_centroid = 1;
    if (p->niter)
        ix->cp.niter = (int)p->niter;
    return ix;
}

// IVFPQ precomputes nlist x m x 2^nbits floats of L2 terms to save work per probed list.
// Past the size of the codes themselves that trade is a poor one (1024 lists, m 98, 8 bits:
// 100 MiB beside 6 MiB of codes), so the table is dropped and terms computed per list. The
// choice depends only on the index's shape: a decoded index makes the same one, and answers
// the same.
void size_tables(faiss::IndexIVF *ix)
{
    auto *pq = dynamic_cast<faiss::IndexIVFPQ *>(ix);
    if (!pq)
        return;
    size_t table = ix->nlist * pq->pq.M * pq->pq.ksub * sizeof(float);
    if (table > (size_t)ix->ntotal * ix->code_size) {
        pq->use_precomputed_table = -1;
        pq->precomputed_table.resize(0);
    } else if (pq->precomputed_table.size() == 0) {
        pq->use_precomputed_table = 0;
        pq->precompute_table();
    }
}

// The decoded index against what our header says it is (see vdb_faiss_read).
const char *check_index(const faiss::IndexIVF *ix, const vdb_faiss_params *p, size_t n)
{
    if ((size_t)ix->d != p->dim || ix->nlist != p->nlist || ix->metric_type != metric_of(p))
        return "dimension, list count or metric differ from the header";
    if (!ix->is_trained || (size_t)ix->ntotal != n)
        return "untrained, or the row count differs";
    const faiss::Index *q = ix->quantizer;
    if (!q || q->d != ix->d || (size_t)q->ntotal != p->nlist || q->metric_type != ix->metric_type)
        return "bad coarse quantizer";
    if (!dynamic_cast<const faiss::IndexFlat *>(q))
        return "the coarse quantizer is not flat";
    if (p->kind == VDB_FAISS_SQ8) {
        auto *sq = dynamic_cast<const faiss::IndexIVFScalarQuantizer *>(ix);
        if (!sq || sq->sq.qtype != faiss::ScalarQuantizer::QT_8bit || sq->sq.d != p->dim ||
            sq->code_size != p->dim || sq->sq.code_size != p->dim ||
            sq->sq.trained.size() != 2 * (size_t)p->dim)
            return "not an 8-bit scalar quantizer of this dimension";
    } else {
        auto *pq = dynamic_cast<const faiss::IndexIVFPQ *>(ix);
        if (!pq || pq->pq.d != p->dim || pq->pq.M != p->pq_m || pq->pq.nbits != p->pq_nbits ||
            pq->pq.ksub != ((size_t)1 << p->pq_nbits) || pq->pq.dsub * pq->pq.M != p->dim ||
            pq->code_size != pq->pq.code_size ||
            pq->pq.centroids.size() != (size_t)p->dim * pq->pq.ksub)
            return "not a product quantizer of this shape";
    }
    auto *il = dynamic_cast<const faiss::ArrayInvertedLists *>(ix->invlists);
    if (!il || il->nlist != p->nlist || il->code_size != ix->code_size ||
        il->codes.size() != p->nlist || il->ids.size() != p->nlist)
        return "bad inverted lists";
    // A plain array rather than std::vector<bool>: template code instantiated here would be
    // exported from libvdb.so (the standard library's templates carry default visibility).
    std::unique_ptr<uint8_t, decltype(&vdb_free)> seen(
            static_cast<uint8_t *>(vdb_calloc(n ? n : 1, 1)), vdb_free);
    if (!seen)
        throw std::bad_alloc();
    size_t total = 0;
    for (size_t l = 0; l < p->nlist; l++) {
        if (il->codes[l].size() != il->ids[l].size() * il->code_size)
            return "a list's codes and ids disagree";
        for (faiss::Index::idx_t id : il->ids[l]) {
            if (id < 0 || (size_t)id >= n || seen.get()[id])
                return "a row id out of range or listed twice";
            seen.get()[id] = 1;
        }
        total += il->ids[l].size();
    }
    if (total != n)
        return "the lists do not hold every row";
    if (!ix->direct_map.array.empty() || ix->direct_map.type != faiss::DirectMap::NoMap)
        return "unexpected direct map";
    return nullptr;
}

} // namespace

bool vdb_faiss_available(void) { return true; }

vdb_status vdb_faiss_build(const vdb_faiss_params *p, const float *x, size_t n, uint32_t threads,
                           const float *coarse, const float *books,
                           void (*progress)(void *arg, size_t done, size_t total), void *arg,
                           vdb_faiss **out)
{
    *out = nullptr;
    if (!p || (!x && n) || p->nlist == 0 || p->nlist > n ||
        (p->kind == VDB_FAISS_PQ && (p->pq_m == 0 || p->dim % p->pq_m || p->pq_nbits == 0 ||
                                     p->pq_nbits > 16 || !coarse || !books)))
        return vdb_set_errmsg(VDB_EINVAL, "faiss build: bad parameters");
    return guarded("build", [&]() -> vdb_status {
        omp_threads scope(threads ? (int)threads : 1);
        std::unique_ptr<vdb_faiss> f(new vdb_faiss);
        f->index = make_index(p);
        faiss::IndexIVF *ix = f->index.get();
        auto *pq = dynamic_cast<faiss::IndexIVFPQ *>(ix);
        if (coarse) {
            ix->quantizer->add((faiss::Index::idx_t)p->nlist, coarse);
            if (pq) // its table of precomputed terms is made (or not) by size_tables
                pq->pq.centroids.assign(books, books + (size_t)p->dim * pq->pq.ksub);
            else
                ix->train_residual((faiss::Index::idx_t)n, x);
            ix->is_trained = true;
        } else {
            ix->train((faiss::Index::idx_t)n, x);
        }
        for (size_t done = 0; done < n;) {
            size_t cnt = std::min(ADD_CHUNK, n - done);
            f->index->add((faiss::Index::idx_t)cnt, x + done * p->dim);
            done += cnt;
            if (progress)
                progress(arg, done, n);
        }
        size_tables(f->index.get());
        *out = f.release();
        return VDB_OK;
    });
}

vdb_status vdb_faiss_search(const vdb_faiss *f, const float *q, uint32_t k, uint32_t nprobe,
                            const uint64_t *bitset, size_t nrows, float *dist, int64_t *ids)
{
    return guarded("search", [&]() -> vdb_status {
        // Our bitset is little-endian 64-bit words: as bytes, bit i is bit i % 8 of byte i / 8,
        // which is the layout IDSelectorBitmap reads.
        static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "bitset bytes need LE words");
        std::unique_ptr<faiss::IDSelectorBitmap> sel;
        faiss::SearchParametersIVF sp;
        sp.nprobe = std::min<size_t>(nprobe, f->index->nlist);
        if (bitset) {
            sel.reset(new faiss::IDSelectorBitmap((nrows + 7) / 8,
                                                  reinterpret_cast<const uint8_t *>(bitset)));
            sp.sel = sel.get();
        }
        static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t), "Faiss ids are int64");
        f->index->search(1, q, k, dist, reinterpret_cast<faiss::Index::idx_t *>(ids), &sp);
        return VDB_OK;
    });
}

vdb_status vdb_faiss_write(const vdb_faiss *f, vdb_buf *out)
{
    return guarded("write", [&]() -> vdb_status {
        faiss::VectorIOWriter w;
        faiss::write_index(f->index.get(), &w);
        vdb_buf_put(out, w.data.data(), w.data.size());
        return out->oom ? vdb_set_errmsg(VDB_ENOMEM, "faiss write: out of memory") : VDB_OK;
    });
}

vdb_status vdb_faiss_read(const void *bytes, size_t len, const vdb_faiss_params *p, size_t n,
                          vdb_faiss **out)
{
    *out = nullptr;
    vdb_status st = guarded("read", [&]() -> vdb_status {
        faiss::VectorIOReader r;
        const uint8_t *b = static_cast<const uint8_t *>(bytes);
        r.data.assign(b, b + len);
        std::unique_ptr<faiss::Index> ix(faiss::read_index(&r));
        auto *ivf = dynamic_cast<faiss::IndexIVF *>(ix.get());
        if (!ivf)
            return vdb_set_errmsg(VDB_ECORRUPT, "ivf decode: the Faiss index is not an IVF");
        if (r.rp != r.data.size())
            return vdb_set_errmsg(VDB_ECORRUPT, "ivf decode: trailing bytes after the Faiss index");
        if (const char *why = check_index(ivf, p, n))
            return vdb_set_errmsg(VDB_ECORRUPT, "ivf decode: Faiss index: %s", why);
        std::unique_ptr<vdb_faiss> f(new vdb_faiss);
        ix.release();
        f->index.reset(ivf);
        size_tables(ivf);
        *out = f.release();
        return VDB_OK;
    });
    // Faiss's reader throws on what it cannot parse: in a decode that means damaged bytes.
    if (st == VDB_EIO) {
        std::string why = vdb_err_get(); // a copy: the message is rewritten in place
        return vdb_set_errmsg(VDB_ECORRUPT, "ivf decode: %s", why.c_str());
    }
    return st;
}

size_t vdb_faiss_memory(const vdb_faiss *f)
{
    const faiss::IndexIVF *ix = f->index.get();
    size_t bytes = (size_t)ix->quantizer->ntotal * (size_t)ix->d * sizeof(float);
    if (auto *il = dynamic_cast<const faiss::ArrayInvertedLists *>(ix->invlists))
        for (size_t l = 0; l < il->nlist; l++)
            bytes += il->codes[l].size() + il->ids[l].size() * sizeof(faiss::Index::idx_t);
    if (auto *sq = dynamic_cast<const faiss::IndexIVFScalarQuantizer *>(ix))
        bytes += sq->sq.trained.size() * sizeof(float);
    if (auto *pq = dynamic_cast<const faiss::IndexIVFPQ *>(ix))
        bytes += (pq->pq.centroids.size() + pq->precomputed_table.size()) * sizeof(float);
    return bytes;
}

void vdb_faiss_free(vdb_faiss *f) { delete f; }

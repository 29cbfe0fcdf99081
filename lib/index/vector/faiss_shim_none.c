/* The Faiss shim of a build without Faiss (meson -Dfaiss=disabled): IVF_SQ8 and IVF_PQ answer
 * VDB_EUNSUPPORTED, saying so, and nothing else changes. vdb_ivf_check already refuses them,
 * so these are reached only by an index of those kinds read from storage. */
#include "faiss_shim.h"

static vdb_status missing(const vdb_faiss_params *p)
{
    const char *kind = !p ? "IVF_SQ8 / IVF_PQ" : p->kind == VDB_FAISS_SQ8 ? "IVF_SQ8" : "IVF_PQ";
    return vdb_set_errmsg(VDB_EUNSUPPORTED, "ivf: %s %s", kind, VDB_FAISS_MISSING);
}

bool vdb_faiss_available(void) { return false; }

vdb_status vdb_faiss_build(const vdb_faiss_params *p, const float *x, size_t n, uint32_t threads,
                           const float *coarse, const float *books,
                           void (*progress)(void *arg, size_t done, size_t total), void *arg,
                           vdb_faiss **out)
{
    *out = NULL;
    return missing(p);
}

vdb_status vdb_faiss_search(const vdb_faiss *f, const float *q, uint32_t k, uint32_t nprobe,
                            const uint64_t *bitset, size_t nrows, float *dist, int64_t *ids)
{
    return missing(NULL);
}

vdb_status vdb_faiss_write(const vdb_faiss *f, vdb_buf *out) { return missing(NULL); }

vdb_status vdb_faiss_read(const void *bytes, size_t len, const vdb_faiss_params *p, size_t n,
                          vdb_faiss **out)
{
    *out = NULL;
    return missing(p);
}

size_t vdb_faiss_memory(const vdb_faiss *f) { return 0; }

void vdb_faiss_free(vdb_faiss *f) {}

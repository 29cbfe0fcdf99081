/* libFuzzer target for saved vector index files (HNSW: lib/index/vector/hnsw_io.c; IVF_FLAT,
 * and IVF_SQ8 / IVF_PQ on their flat lists: ivf_io.c), read through the kind table as a
 * reopened segment reads them (vdb_vindex_decode), over rows that come with the input. An
 * index that decodes is searched, so a graph or list that passes the checks but points
 * somewhere wrong shows up as a bad read.
 *
 * Input: u8 kind (0 HNSW, 1 IVF_FLAT, 2 IVF_SQ8, 3 IVF_PQ), u8 flags (bit 0: recompute the
 * trailing crc32c), u8 metric (1 L2, 2 IP, 3 COSINE), u8 dim (1..64), u16 rows (<= 2048),
 * the build parameters as text ("M=16,efConstruction=200") ending in a NUL, rows * dim
 * floats, then the index file. tests/fuzz/seeds.c writes inputs of this shape from real
 * indexes. */
#include <math.h>

#include "fuzz.h"
#include "index/kernels/kernels.h"
#include "index/vector/vindex.h"

#define MAX_ROWS 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 6)
        return 0;
    static const vdb_vindex_kind *const kinds[] = {&vdb_hnsw_kind, &vdb_ivf_flat_kind,
                                                   &vdb_ivf_sq8_kind, &vdb_ivf_pq_kind};
    const vdb_vindex_kind *kind = kinds[data[0] % 4];
    bool fix = data[1] & 1;
    vdb_metric metric = (vdb_metric)(1 + data[2] % 3);
    uint32_t dim = 1 + data[3] % 64;
    size_t n = (size_t)(data[4] | data[5] << 8);
    if (n > MAX_ROWS)
        return 0;
    size_t off = 6;
    const uint8_t *nul = memchr(data + off, 0, VDB_MIN(size - off, (size_t)128));
    if (!nul)
        return 0;
    char params[128];
    memcpy(params, data + off, (size_t)(nul - (data + off)) + 1);
    off = (size_t)(nul - data) + 1;
    size_t vbytes = n * dim * sizeof(float);
    if (size - off < vbytes)
        return 0;
    float *vecs = malloc(vbytes ? vbytes : 1);
    if (!vecs)
        abort();
    memcpy(vecs, data + off, vbytes);
    for (size_t i = 0; i < n * dim; i++)
        if (!isfinite(vecs[i]))
            vecs[i] = 0; /* the library never holds NaN or Inf rows */
    off += vbytes;
    vdb_vectors rows = {VDB_TYPE_FLOAT_VECTOR, dim, metric, n, vecs, NULL};
    vdb_vindex_spec spec;
    if (vdb_vindex_spec_parse(kind, params, &rows, NULL, NULL, &spec) != VDB_OK) {
        free(vecs);
        return 0;
    }
    uint8_t *file = fuzz_copy(data + off, size - off);
    size_t len = size - off;
    if (fix)
        fuzz_fix_tail_crc(file, len);
    vdb_vindex *idx = NULL;
    vdb_status st = vdb_vindex_decode(&spec, file, len, &rows, &idx);
    if (!(st == VDB_EUNSUPPORTED && (kind == &vdb_ivf_sq8_kind || kind == &vdb_ivf_pq_kind)))
        fuzz_check_status("fuzz_index", st);
    if (st == VDB_OK) {
        if (vdb_vindex_rows(idx) != n)
            __builtin_trap();
        vdb_vparams sp;
        vdb_vindex_search_defaults(kind, &sp);
        vdb_topk top;
        if (vdb_topk_init(&top, 10, vdb_metric_higher_is_better(metric)) != VDB_OK)
            abort();
        const float *q = n ? vecs + (n / 2) * dim : vecs;
        float zero[64] = {0};
        st = vdb_vindex_search(idx, n ? q : zero, 10, &sp, &rows, NULL, 0, &top);
        if (st != VDB_OK && st != VDB_ECORRUPT) {
            fprintf(stderr, "fuzz_index: search: status %d '%s'\n", (int)st, vdb_err_get());
            __builtin_trap();
        }
        for (size_t i = 0; i < top.n; i++)
            if (top.id[i] < 0 || (size_t)top.id[i] >= n)
                __builtin_trap();
        vdb_topk_free(&top);
        vdb_vindex_free(idx);
    }
    free(file);
    free(vecs);
    return 0;
}

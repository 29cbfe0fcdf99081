/* Indexes of BINARY_VECTOR fields, as Milvus names them:
 *   BIN_FLAT: exact search (nothing to build; the segment's rows through the popcount
 *             kernels).
 *   BIN_IVF_FLAT: an inverted file of binary centroids. Training is k-means in float space
 *             on a sample of the rows unpacked to 0/1 per bit (on 0/1 vectors the squared L2
 *             distance is the Hamming distance), each centroid then rounded back to bits
 *             (a coordinate above 1/2 is a 1). Every row goes to its nearest centroid by the
 *             field's metric, its code copied into that list; a search probes the nprobe
 *             nearest lists by the same metric and scores their codes exactly.
 * Scores are vdb_dist_bin's: HAMMING (differing bits) or JACCARD distances, smaller nearer.
 * A built index is read-only: any number of threads may search it at once. */
#include <string.h>

#include "index/vector/kmeans.h"
#include "index/vector/vindex.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "bin_ivf.c assumes a little-endian host"
#endif

#define BIN_IVF_MAGIC 0x31564942u /* "BIV1" */
#define BIN_IVF_VERSION 1u
#define BIN_KMEANS_ITERS 12
#define BIN_SAMPLE_PER_LIST 256

typedef struct bin_ivf {
    vdb_metric metric;
    uint32_t dim;       /* bits */
    size_t nbytes;      /* per row: dim / 8 */
    size_t n;
    uint32_t nlist;     /* effective: min(requested, n); 0 when n == 0 */
    uint8_t *centroids; /* nlist * nbytes */
    uint32_t *off;      /* nlist + 1: list l holds positions off[l] .. off[l + 1] - 1 */
    uint32_t *row;      /* n: the row at each position */
    uint8_t *code;      /* n * nbytes, list by list */
} bin_ivf;

enum { P_NLIST };
static const vdb_param_def build_params[] = {
    [P_NLIST] = {"nlist", NULL, 1, 65536, 128, true, NULL},
};
static const vdb_param_def search_params[] = {
    {"nprobe", NULL, 1, 65536, 8, true, NULL},
};

static void bin_ivf_free(bin_ivf *b)
{
    if (!b)
        return;
    vdb_free(b->centroids);
    vdb_free(b->off);
    vdb_free(b->row);
    vdb_free(b->code);
    vdb_free(b);
}

static vdb_status oom(const bin_ivf *b)
{
    return vdb_set_errmsg(VDB_ENOMEM, "BIN_IVF_FLAT build: out of memory for %zu rows of %u "
                          "bits, nlist %u", b->n, b->dim, b->nlist);
}

static inline float bin_score(vdb_metric m, const vdb_bin_kernels *k, const uint8_t *q,
                              const uint8_t *x, size_t nbytes)
{
    if (m == VDB_METRIC_HAMMING)
        return (float)k->hamming(q, x, nbytes);
    uint32_t ao[2];
    k->and_or(q, x, nbytes, ao);
    return vdb_jaccard_of(ao);
}

/* splitmix64: the sample's fixed sequence (the same index from the same rows every time). */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void unpack_bits(const uint8_t *code, uint32_t dim, float *out)
{
    for (uint32_t j = 0; j < dim; j++)
        out[j] = (float)((code[j >> 3] >> (7 - (j & 7))) & 1);
}

/* The centroids: k-means on the 0/1 floats of a sample, rounded back to bits. */
static vdb_status train(bin_ivf *b, const uint8_t *base, uint32_t threads,
                        vdb_build_progress_fn progress, void *arg)
{
    size_t n = b->n, m = VDB_MIN(n, (size_t)BIN_SAMPLE_PER_LIST * b->nlist);
    uint32_t *pick = vdb_malloc(n * sizeof *pick);
    float *x = vdb_malloc(m * b->dim * sizeof *x);
    float *c = vdb_malloc((size_t)b->nlist * b->dim * sizeof *c);
    vdb_status st = VDB_OK;
    if (!pick || !x || !c) {
        st = oom(b);
        goto done;
    }
    /* the first m of a partial Fisher-Yates shuffle */
    uint64_t seed = 0x62696e5f6976664full;
    for (size_t i = 0; i < n; i++)
        pick[i] = (uint32_t)i;
    for (size_t i = 0; i < m; i++) {
        size_t j = i + (size_t)(mix(&seed) % (n - i));
        uint32_t t = pick[i];
        pick[i] = pick[j];
        pick[j] = t;
        unpack_bits(base + (size_t)pick[i] * b->nbytes, b->dim, x + i * b->dim);
    }
    uint32_t iters = b->nlist == n ? 0 : BIN_KMEANS_ITERS;
    st = vdb_kmeans_train(x, m, b->dim, b->nlist, VDB_KMEANS_L2, m, iters, threads, progress,
                          arg, c);
    if (st != VDB_OK)
        goto done;
    memset(b->centroids, 0, (size_t)b->nlist * b->nbytes);
    for (size_t l = 0; l < b->nlist; l++)
        for (uint32_t j = 0; j < b->dim; j++)
            if (c[l * b->dim + j] > 0.5f)
                b->centroids[l * b->nbytes + (j >> 3)] |= (uint8_t)(0x80u >> (j & 7));
done:
    vdb_free(pick);
    vdb_free(x);
    vdb_free(c);
    return st;
}

static uint32_t nearest_list(const bin_ivf *b, const vdb_bin_kernels *k, const uint8_t *q)
{
    uint32_t best = 0;
    float bd = 0;
    for (uint32_t l = 0; l < b->nlist; l++) {
        float d = bin_score(b->metric, k, q, b->centroids + (size_t)l * b->nbytes, b->nbytes);
        if (l == 0 || d < bd) {
            bd = d;
            best = l;
        }
    }
    return best;
}

static vdb_status build(const vdb_vparams *p, const vdb_vectors *rows, uint32_t threads,
                        vdb_build_progress_fn progress, void *arg, void **out)
{
    if (!vdb_metric_is_binary(rows->metric) || rows->dim == 0 || rows->dim % 8)
        return vdb_set_errmsg(VDB_EINVAL, "BIN_IVF_FLAT: rows of %u bits with metric %s (a "
                              "multiple of 8 bits, HAMMING or JACCARD)", rows->dim,
                              vdb_metric_name(rows->metric));
    if (rows->n > UINT32_MAX)
        return vdb_set_errmsg(VDB_EINVAL, "BIN_IVF_FLAT: %zu rows is too many", rows->n);
    bin_ivf *b = vdb_calloc(1, sizeof *b);
    if (!b)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    b->metric = rows->metric;
    b->dim = rows->dim;
    b->nbytes = rows->dim / 8;
    b->n = rows->n;
    b->nlist = (uint32_t)VDB_MIN((size_t)p->v[P_NLIST], rows->n);
    const uint8_t *base = rows->data;
    uint32_t *assign = NULL;
    vdb_status st = VDB_OK;
    b->off = vdb_calloc((size_t)b->nlist + 1, sizeof *b->off);
    if (b->n) {
        b->centroids = vdb_malloc((size_t)b->nlist * b->nbytes);
        b->row = vdb_malloc(b->n * sizeof *b->row);
        b->code = vdb_malloc(b->n * b->nbytes);
        assign = vdb_malloc(b->n * sizeof *assign);
    }
    if (!b->off || (b->n && (!b->centroids || !b->row || !b->code || !assign))) {
        st = oom(b);
        goto done;
    }
    if (b->n == 0)
        goto done;
    if ((st = train(b, base, threads, progress, arg)) != VDB_OK)
        goto done;
    const vdb_bin_kernels *k = vdb_bin_kernels_active();
    for (size_t i = 0; i < b->n; i++) {
        assign[i] = nearest_list(b, k, base + i * b->nbytes);
        b->off[assign[i] + 1]++;
    }
    for (uint32_t l = 0; l < b->nlist; l++)
        b->off[l + 1] += b->off[l];
    for (size_t i = 0; i < b->n; i++) {
        uint32_t at = b->off[assign[i]]++;
        b->row[at] = (uint32_t)i;
        memcpy(b->code + (size_t)at * b->nbytes, base + i * b->nbytes, b->nbytes);
    }
    /* the fill moved each start to the next list's: shift back */
    memmove(b->off + 1, b->off, b->nlist * sizeof *b->off);
    b->off[0] = 0;
done:
    vdb_free(assign);
    if (st != VDB_OK) {
        bin_ivf_free(b);
        return st;
    }
    *out = b;
    return VDB_OK;
}

static inline bool allowed_row(const uint64_t *bitset, uint32_t r)
{
    return !bitset || (bitset[r >> 6] >> (r & 63)) & 1;
}

static vdb_status search(const void *idx, const void *query, uint32_t k, const vdb_vparams *sp,
                         const vdb_vectors *rows, const uint64_t *bitset, int64_t id_base,
                         vdb_topk *out)
{
    const bin_ivf *b = idx;
    const uint8_t *q = query;
    if (out->higher_better || out->k == 0)
        return vdb_set_errmsg(VDB_EINVAL, "BIN_IVF_FLAT search: the results heap does not fit "
                              "metric %s", vdb_metric_name(b->metric));
    size_t allowed = vdb_bitset_count(bitset, b->n);
    if (allowed == 0)
        return VDB_OK;
    uint32_t nprobe = VDB_MIN((uint32_t)sp->v[0], b->nlist);
    /* fewer allowed rows than the probe would visit: scanning them is cheaper and exact */
    if (bitset && rows && rows->data && allowed <= b->n / b->nlist * nprobe)
        return vdb_flat_search_bin(rows->data, b->n, b->nbytes, b->metric, q, 1, bitset,
                                   id_base, out);
    const vdb_bin_kernels *kk = vdb_bin_kernels_active();
    vdb_topk probe, mine;
    vdb_status st = vdb_topk_init(&probe, nprobe, false);
    if (st != VDB_OK)
        return st;
    if ((st = vdb_topk_init(&mine, k, false)) != VDB_OK) {
        vdb_topk_free(&probe);
        return st;
    }
    if (out->ranged)
        vdb_topk_set_range(&mine, out->radius, out->range_filter);
    for (uint32_t l = 0; l < b->nlist; l++)
        vdb_topk_offer(&probe, bin_score(b->metric, kk, q, b->centroids + (size_t)l * b->nbytes,
                                         b->nbytes), l);
    vdb_topk_sort(&probe);
    size_t seen = 0;
    for (size_t i = 0; i < probe.n; i++) {
        uint32_t l = (uint32_t)probe.id[i];
        const uint8_t *x = b->code + (size_t)b->off[l] * b->nbytes;
        for (uint32_t at = b->off[l]; at < b->off[l + 1]; at++, x += b->nbytes) {
            uint32_t r = b->row[at];
            if (!allowed_row(bitset, r))
                continue;
            seen++;
            vdb_topk_offer(&mine, bin_score(b->metric, kk, q, x, b->nbytes), id_base + r);
        }
    }
    /* the probed lists hold fewer than k allowed rows: answer exactly (out must not get the
     * same rows twice, hence the heap of our own) */
    if (seen < VDB_MIN((size_t)k, allowed) && rows && rows->data)
        st = vdb_flat_search_bin(rows->data, b->n, b->nbytes, b->metric, q, 1, bitset, id_base,
                                 out);
    else
        for (size_t i = 0; i < mine.n; i++)
            vdb_topk_push(out, mine.dist[i], mine.id[i]);
    vdb_topk_free(&mine);
    vdb_topk_free(&probe);
    return st;
}

/* Layout: magic, version, metric, dim (bits), n (u64), nlist, then centroids (nlist * nbytes),
 * offsets (nlist + 1 u32), row ids (n u32), codes (n * nbytes), then the crc32c of all that. */
static vdb_status encode(const void *idx, vdb_buf *out)
{
    const bin_ivf *b = idx;
    size_t start = out->len;
    vdb_buf_u32(out, BIN_IVF_MAGIC);
    vdb_buf_u32(out, BIN_IVF_VERSION);
    vdb_buf_u32(out, (uint32_t)b->metric);
    vdb_buf_u32(out, b->dim);
    vdb_buf_u64(out, b->n);
    vdb_buf_u32(out, b->nlist);
    if (b->n)
        vdb_buf_put(out, b->centroids, (size_t)b->nlist * b->nbytes);
    vdb_buf_put(out, b->off, ((size_t)b->nlist + 1) * sizeof *b->off);
    if (b->n) {
        vdb_buf_put(out, b->row, b->n * sizeof *b->row);
        vdb_buf_put(out, b->code, b->n * b->nbytes);
    }
    if (!out->oom)
        vdb_buf_u32(out, vdb_crc32c(0, out->p + start, out->len - start));
    return out->oom ? vdb_set_errmsg(VDB_ENOMEM, "BIN_IVF_FLAT encode: out of memory")
                    : VDB_OK;
}

static vdb_status corrupt(const char *what)
{
    return vdb_set_errmsg(VDB_ECORRUPT, "BIN_IVF_FLAT decode: %s", what);
}

static vdb_status decode(const void *p, size_t len, const vdb_vectors *rows, void **out)
{
    if (len < 32)
        return corrupt("too short");
    if (vdb_crc32c(0, p, len - 4) != vdb_get_u32((const uint8_t *)p + len - 4))
        return corrupt("checksum mismatch");
    vdb_rd r = vdb_rd_init(p, len - 4);
    uint32_t magic = vdb_rd_u32(&r), ver = vdb_rd_u32(&r), metric = vdb_rd_u32(&r);
    uint32_t dim = vdb_rd_u32(&r);
    uint64_t n = vdb_rd_u64(&r);
    uint32_t nlist = vdb_rd_u32(&r);
    if (magic != BIN_IVF_MAGIC)
        return corrupt("bad magic");
    if (ver != BIN_IVF_VERSION)
        return vdb_set_errmsg(VDB_EVERSION, "BIN_IVF_FLAT decode: format version %u, this "
                              "library reads %u", ver, BIN_IVF_VERSION);
    if (metric != (uint32_t)rows->metric)
        return corrupt("the index was built for another metric");
    if (dim != rows->dim || n != rows->n || dim == 0 || dim % 8)
        return corrupt("the index does not match the segment's rows (dim or count)");
    if (n ? (nlist == 0 || nlist > n || nlist > 65536) : nlist != 0)
        return corrupt("bad nlist");
    size_t nbytes = dim / 8;
    size_t need = (n ? (size_t)nlist * nbytes : 0) + ((size_t)nlist + 1) * 4 +
                  (size_t)n * (4 + nbytes);
    if (r.len - r.off != need)
        return corrupt("the lists' size does not match the header");
    bin_ivf *b = vdb_calloc(1, sizeof *b);
    if (!b)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    b->metric = (vdb_metric)metric;
    b->dim = dim;
    b->nbytes = nbytes;
    b->n = (size_t)n;
    b->nlist = nlist;
    b->off = vdb_malloc(((size_t)nlist + 1) * sizeof *b->off);
    if (n) {
        b->centroids = vdb_malloc((size_t)nlist * nbytes);
        b->row = vdb_malloc((size_t)n * sizeof *b->row);
        b->code = vdb_malloc((size_t)n * nbytes);
    }
    if (!b->off || (n && (!b->centroids || !b->row || !b->code))) {
        bin_ivf_free(b);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    if (n)
        memcpy(b->centroids, vdb_rd_take(&r, (size_t)nlist * nbytes), (size_t)nlist * nbytes);
    memcpy(b->off, vdb_rd_take(&r, ((size_t)nlist + 1) * 4), ((size_t)nlist + 1) * 4);
    if (n) {
        memcpy(b->row, vdb_rd_take(&r, (size_t)n * 4), (size_t)n * 4);
        memcpy(b->code, vdb_rd_take(&r, (size_t)n * nbytes), (size_t)n * nbytes);
    }
    /* offsets ascend from 0 to n; every row once */
    bool ok = b->off[0] == 0 && b->off[nlist] == n;
    for (uint32_t l = 0; ok && l < nlist; l++)
        ok = b->off[l] <= b->off[l + 1];
    uint8_t *seen = ok && n ? vdb_calloc((size_t)n, 1) : NULL;
    if (ok && n && !seen) {
        bin_ivf_free(b);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; ok && i < n; i++) {
        ok = b->row[i] < n && !seen[b->row[i]];
        if (ok)
            seen[b->row[i]] = 1;
    }
    vdb_free(seen);
    if (!ok) {
        bin_ivf_free(b);
        return corrupt("list offsets or row ids out of order");
    }
    *out = b;
    return VDB_OK;
}

static size_t memory(const void *idx)
{
    const bin_ivf *b = idx;
    return sizeof *b + (size_t)b->nlist * b->nbytes + ((size_t)b->nlist + 1) * 4 +
           b->n * (4 + b->nbytes);
}

static size_t nrows(const void *idx) { return ((const bin_ivf *)idx)->n; }
static void release(void *idx) { bin_ivf_free(idx); }

/* BIN_FLAT: exact search, nothing to build (the core scans the rows, as for FLAT). */
const vdb_vindex_kind vdb_bin_flat_kind = {
    .name = "BIN_FLAT",
    .file_tag = "bin_flat",
    .types = VDB_VTYPE_BIT(VDB_TYPE_BINARY_VECTOR),
};

const vdb_vindex_kind vdb_bin_ivf_flat_kind = {
    .name = "BIN_IVF_FLAT",
    .file_tag = "bin_ivf_flat",
    .types = VDB_VTYPE_BIT(VDB_TYPE_BINARY_VECTOR),
    .build_params = build_params,
    .n_build_params = VDB_ARRAY_LEN(build_params),
    .search_params = search_params,
    .n_search_params = VDB_ARRAY_LEN(search_params),
    .build = build,
    .search = search,
    .encode = encode,
    .decode = decode,
    .memory = memory,
    .rows = nrows,
    .free = release,
};

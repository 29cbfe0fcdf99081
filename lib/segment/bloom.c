/* A bloom filter over primary-key hashes, with double hashing to derive its k probes. */
#include <math.h>

#include "segment_int.h"

#define BLOOM_MAX_BITS (1ULL << 40)

vdb_status vdb_bloom_init(vdb_bloom *b, size_t expected, double fp_rate)
{
    memset(b, 0, sizeof *b);
    if (!(fp_rate > 0 && fp_rate < 1))
        return vdb_set_errmsg(VDB_EINVAL, "bloom: false positive rate %g not in (0, 1)",
                              fp_rate);
    double n = expected ? (double)expected : 1;
    double ln2 = log(2.0);
    double m = ceil(-n * log(fp_rate) / (ln2 * ln2));
    if (m > (double)BLOOM_MAX_BITS)
        return vdb_set_errmsg(VDB_ENOMEM, "bloom: %zu keys need too many bits", expected);
    uint64_t nbits = ((uint64_t)m + 63) / 64 * 64;
    if (nbits < 64)
        nbits = 64;
    double k = round((double)nbits / n * ln2);
    b->k = (uint32_t)(k < 1 ? 1 : k > 30 ? 30 : k);
    b->bits = vdb_calloc((size_t)(nbits / 64), sizeof(uint64_t));
    if (!b->bits)
        return vdb_set_errmsg(VDB_ENOMEM, "bloom: out of memory for %llu bits",
                              (unsigned long long)nbits);
    b->nbits = nbits;
    return VDB_OK;
}

void vdb_bloom_free(vdb_bloom *b)
{
    vdb_free(b->bits);
    memset(b, 0, sizeof *b);
}

/* The second hash is re-mixed and odd so that the probe sequence never repeats a stride. */
#define PROBE(b, h1, h2, i) (((h1) + (uint64_t)(i) * (h2)) % (b)->nbits)

void vdb_bloom_add(vdb_bloom *b, uint64_t hash)
{
    uint64_t h2 = vdb_hash_u64(hash ^ 0x9e3779b97f4a7c15ULL) | 1;
    for (uint32_t i = 0; i < b->k; i++) {
        uint64_t bit = PROBE(b, hash, h2, i);
        b->bits[bit / 64] |= 1ULL << (bit % 64);
    }
}

bool vdb_bloom_may_contain(const vdb_bloom *b, uint64_t hash)
{
    if (!b->bits)
        return false;
    uint64_t h2 = vdb_hash_u64(hash ^ 0x9e3779b97f4a7c15ULL) | 1;
    for (uint32_t i = 0; i < b->k; i++) {
        uint64_t bit = PROBE(b, hash, h2, i);
        if (!(b->bits[bit / 64] & (1ULL << (bit % 64))))
            return false;
    }
    return true;
}

/* u64 nbits, u32 k, nbits/64 words. */
void vdb_bloom_encode(const vdb_bloom *b, vdb_buf *out)
{
    vdb_buf_u64(out, b->nbits);
    vdb_buf_u32(out, b->k);
    vdb_buf_put(out, b->bits, (size_t)(b->nbits / 64) * sizeof(uint64_t));
}

vdb_status vdb_bloom_decode(vdb_rd *r, vdb_bloom *out)
{
    memset(out, 0, sizeof *out);
    uint64_t nbits = vdb_rd_u64(r);
    uint32_t k = vdb_rd_u32(r);
    if (r->err)
        return vdb_set_errmsg(VDB_ECORRUPT, "bloom: truncated header");
    if (nbits == 0 || nbits % 64 || nbits > BLOOM_MAX_BITS)
        return vdb_set_errmsg(VDB_ECORRUPT, "bloom: bad bit count %llu",
                              (unsigned long long)nbits);
    if (k == 0 || k > 30)
        return vdb_set_errmsg(VDB_ECORRUPT, "bloom: bad probe count %u", k);
    size_t nw = (size_t)(nbits / 64);
    if (nw > (r->len - r->off) / sizeof(uint64_t))
        return vdb_set_errmsg(VDB_ECORRUPT, "bloom: truncated bits");
    const void *p = vdb_rd_take(r, nw * sizeof(uint64_t));
    if (!p)
        return vdb_set_errmsg(VDB_ECORRUPT, "bloom: truncated bits");
    out->bits = vdb_malloc(nw * sizeof(uint64_t));
    if (!out->bits)
        return vdb_set_errmsg(VDB_ENOMEM, "bloom: out of memory for %zu words", nw);
    memcpy(out->bits, p, nw * sizeof(uint64_t));
    out->nbits = nbits;
    out->k = k;
    return VDB_OK;
}

#define BLOOM_MAGIC "VDBBLOOM"
#define BLOOM_VERSION 1u

void vdb_bloom_file_encode(const vdb_bloom *b, vdb_buf *out)
{
    size_t start = out->len;
    vdb_buf_put(out, BLOOM_MAGIC, 8);
    vdb_buf_u32(out, BLOOM_VERSION);
    vdb_bloom_encode(b, out);
    if (!out->oom)
        vdb_buf_u32(out, vdb_crc32c(0, out->p + start, out->len - start));
}

vdb_status vdb_bloom_file_decode(const void *p, size_t len, vdb_bloom *out)
{
    memset(out, 0, sizeof *out);
    if (len < 16 || memcmp(p, BLOOM_MAGIC, 8) != 0)
        return vdb_set_errmsg(VDB_ECORRUPT, "bloom: bad magic");
    const uint8_t *b = p;
    if (vdb_get_u32(b + len - 4) != vdb_crc32c(0, b, len - 4))
        return vdb_set_errmsg(VDB_ECORRUPT, "bloom: checksum mismatch");
    uint32_t version = vdb_get_u32(b + 8);
    if (version != BLOOM_VERSION)
        return vdb_set_errmsg(VDB_EVERSION, "bloom: unknown format version %u", version);
    vdb_rd r = vdb_rd_init(b + 12, len - 16);
    vdb_status st = vdb_bloom_decode(&r, out);
    if (st)
        return st;
    if (r.off != r.len) {
        vdb_bloom_free(out);
        return vdb_set_errmsg(VDB_ECORRUPT, "bloom: %zu trailing bytes", r.len - r.off);
    }
    return VDB_OK;
}

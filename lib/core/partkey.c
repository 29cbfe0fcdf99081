/* Partition keys: the hashes Milvus routes keys with, row grouping at insert and partition
 * pruning for filters on the key. */
#include "core/partkey.h"

static uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

uint32_t vdb_murmur3_32(const void *p, size_t n, uint32_t seed)
{
    const uint8_t *b = p;
    uint32_t h = seed;
    const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t k = (uint32_t)b[i] | (uint32_t)b[i + 1] << 8 | (uint32_t)b[i + 2] << 16 |
                     (uint32_t)b[i + 3] << 24;
        k = rotl32(k * c1, 15) * c2;
        h = rotl32(h ^ k, 13) * 5 + 0xe6546b64u;
    }
    uint32_t k = 0;
    switch (n & 3) {
    case 3: k ^= (uint32_t)b[i + 2] << 16; /* fall through */
    case 2: k ^= (uint32_t)b[i + 1] << 8;  /* fall through */
    case 1:
        k ^= b[i];
        h ^= rotl32(k * c1, 15) * c2;
    }
    h ^= (uint32_t)n;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

uint32_t vdb_crc32_ieee(const void *p, size_t n)
{
    static uint32_t table[256];
    static bool ready; /* a benign race: every thread computes the same table */
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            __atomic_store_n(&table[i], c, __ATOMIC_RELAXED);
        }
        __atomic_store_n(&ready, true, __ATOMIC_RELEASE);
    }
    const uint8_t *b = p;
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        c = __atomic_load_n(&table[(c ^ b[i]) & 0xff], __ATOMIC_RELAXED) ^ (c >> 8);
    return c ^ 0xffffffffu;
}

uint32_t vdb_key_hash_int(int64_t v)
{
    uint8_t b[8];
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(u >> (8 * i));
    return vdb_murmur3_32(b, 8, 0) & 0x7fffffffu;
}

uint32_t vdb_key_hash_str(const char *s, size_t len)
{
    return vdb_crc32_ieee(s, len > 100 ? 100 : len);
}

static size_t nkeyparts(const vdb_collection *c)
{
    return c->nparts ? c->nparts : 1;
}

size_t vdb_key_slot(const vdb_collection *c, const vdb_column *key, size_t r)
{
    uint32_t h;
    if (key->type == VDB_TYPE_INT64) {
        int64_t v;
        memcpy(&v, vdb_column_at(key, r), sizeof v);
        h = vdb_key_hash_int(v);
    } else {
        size_t len;
        const char *s = vdb_column_var(key, r, &len);
        h = vdb_key_hash_str(s, len);
    }
    return h % nkeyparts(c);
}

vdb_status vdb_key_refuse_partitions(const vdb_collection *c)
{
    return vdb_set_errmsg(VDB_EINVAL, "not support manually specifying the partition names if "
                          "partition key mode is used (collection '%s', partition key '%s')",
                          c->name, c->schema->fields[c->schema->pkey].def.name);
}

vdb_status vdb_key_group_rows(const vdb_collection *c, vdb_column *cols)
{
    const vdb_column *key = &cols[c->schema->pkey];
    size_t rows = key->rows, n = nkeyparts(c);
    size_t *start = vdb_calloc(n + 1, sizeof *start);
    uint32_t *slot = vdb_malloc((rows + 1) * sizeof *slot);
    uint32_t *idx = vdb_malloc((rows + 1) * sizeof *idx);
    vdb_column *out = vdb_calloc(c->ncols, sizeof *out);
    vdb_status st = VDB_OK;
    if (!start || !slot || !idx || !out) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto done;
    }
    bool sorted = true;
    for (size_t r = 0; r < rows; r++) {
        slot[r] = (uint32_t)vdb_key_slot(c, key, r);
        start[slot[r] + 1]++;
        sorted = sorted && (r == 0 || slot[r] >= slot[r - 1]);
    }
    if (sorted)
        goto done;
    for (size_t i = 0; i < n; i++)
        start[i + 1] += start[i];
    for (size_t r = 0; r < rows; r++)
        idx[start[slot[r]]++] = (uint32_t)r;
    for (size_t i = 0; i < c->ncols && st == VDB_OK; i++) {
        vdb_column_init(&out[i], cols[i].type, cols[i].dim, cols[i].nullable);
        st = vdb_column_append_rows(&out[i], &cols[i], idx, rows);
    }
    for (size_t i = 0; i < c->ncols; i++) {
        vdb_column *drop = st == VDB_OK ? &cols[i] : &out[i];
        vdb_column_free(drop);
        if (st == VDB_OK)
            cols[i] = out[i];
    }
done:
    vdb_free(start);
    vdb_free(slot);
    vdb_free(idx);
    vdb_free(out);
    return st;
}

typedef struct prune {
    const vdb_collection *c;
    bool *keep;
} prune;

static void keep_value(void *arg, int64_t i, const char *s, size_t len, bool is_str)
{
    prune *p = arg;
    uint32_t h = is_str ? vdb_key_hash_str(s, len) : vdb_key_hash_int(i);
    p->keep[h % nkeyparts(p->c)] = true;
}

void vdb_key_prune(const vdb_collection *c, const vdb_expr *filter, bool *want)
{
    if (!vdb_has_partition_key(c) || !filter || !c->nparts)
        return;
    bool *keep = vdb_calloc(c->nparts, sizeof *keep);
    prune p = {c, keep};
    if (keep && vdb_expr_implies_values(filter, (size_t)c->schema->pkey, keep_value, &p))
        for (size_t i = 0; i < c->nparts; i++)
            want[i] = want[i] && keep[i];
    vdb_free(keep); /* out of memory: no pruning, the same answer */
}

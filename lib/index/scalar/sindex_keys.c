/* Numeric keys for the sorted and inverted indexes: column values widened as a scan compares
 * them, and an LSD radix sort (O(n), stable, so rows stay ascending within a value). */
#include <math.h>

#include "sindex_int.h"

#define SIGN_BIT (UINT64_C(1) << 63)

/* The key of one row, widened as a scan compares it; false for NaN (no comparison with NaN
 * is true, so a NaN row can never match a lookup and is left out). */
static bool read_key(const vdb_column *col, size_t row, vdb_skey *k)
{
    const void *p = vdb_column_at(col, row);
    switch (col->type) {
    case VDB_TYPE_BOOL: k->i = *(const uint8_t *)p != 0; return true;
    case VDB_TYPE_INT8: { int8_t v; memcpy(&v, p, 1); k->i = v; return true; }
    case VDB_TYPE_INT16: { int16_t v; memcpy(&v, p, 2); k->i = v; return true; }
    case VDB_TYPE_INT32: { int32_t v; memcpy(&v, p, 4); k->i = v; return true; }
    case VDB_TYPE_INT64: memcpy(&k->i, p, 8); return true;
    case VDB_TYPE_FLOAT: { float v; memcpy(&v, p, 4); k->d = v; break; }
    case VDB_TYPE_DOUBLE: memcpy(&k->d, p, 8); break;
    default: return false;
    }
    if (isnan(k->d))
        return false;
    if (k->d == 0)
        k->d = 0.0; /* -0.0 and 0.0 compare equal: one key, so they form one value */
    return true;
}

/* Order-preserving unsigned encodings: flip the sign bit of an int64; for a double flip all
 * bits of negatives (larger magnitude sorts first) and the sign bit of the rest. */
static uint64_t encode(vdb_skey k, bool is_float)
{
    if (!is_float)
        return k.u ^ SIGN_BIT;
    return (k.u & SIGN_BIT) ? ~k.u : (k.u | SIGN_BIT);
}

static uint64_t decode(uint64_t u, bool is_float)
{
    if (!is_float)
        return u ^ SIGN_BIT;
    return (u & SIGN_BIT) ? (u ^ SIGN_BIT) : ~u;
}

/* Byte-wise LSD radix sort of (u, rows); passes where every key shares the byte are skipped,
 * so small integers and bools take one or two passes. */
static vdb_status radix_sort(vdb_skey *u, uint32_t *rows, size_t n)
{
    vdb_skey *tu = NULL;
    uint32_t *tr = NULL;
    size_t (*hist)[256] = NULL;
    vdb_status st = VDB_OK;

    if (n < 2)
        return VDB_OK;
    tu = vdb_malloc(n * sizeof *tu);
    tr = vdb_malloc(n * sizeof *tr);
    hist = vdb_calloc(8, sizeof *hist);
    if (!tu || !tr || !hist) {
        st = vdb_set_errmsg(VDB_ENOMEM, "scalar index: out of memory sorting %zu keys", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 8; b++)
            hist[b][(u[i].u >> (8 * b)) & 0xff]++;
    for (int b = 0; b < 8; b++) {
        if (hist[b][(u[0].u >> (8 * b)) & 0xff] == n)
            continue;
        size_t pos[256], sum = 0;
        for (int d = 0; d < 256; d++) {
            pos[d] = sum;
            sum += hist[b][d];
        }
        for (size_t i = 0; i < n; i++) {
            size_t at = pos[(u[i].u >> (8 * b)) & 0xff]++;
            tu[at] = u[i];
            tr[at] = rows[i];
        }
        memcpy(u, tu, n * sizeof *u);
        memcpy(rows, tr, n * sizeof *rows);
    }
done:
    vdb_free(tu);
    vdb_free(tr);
    vdb_free(hist);
    return st;
}

vdb_status vdb_sindex_sort_pairs(vdb_skey *keys, uint32_t *rows, size_t n, bool is_float)
{
    for (size_t i = 0; i < n; i++)
        keys[i].u = encode(keys[i], is_float);
    vdb_status st = radix_sort(keys, rows, n);
    for (size_t i = 0; i < n; i++)
        keys[i].u = decode(keys[i].u, is_float);
    return st;
}

vdb_status vdb_sindex_sort_numeric(vdb_scalar_index *ix, const vdb_column *col)
{
    size_t rows = col->rows, n = 0;
    ix->is_float = col->type == VDB_TYPE_FLOAT || col->type == VDB_TYPE_DOUBLE;
    ix->keys = vdb_malloc(rows * sizeof *ix->keys);
    ix->rows = vdb_malloc(rows * sizeof *ix->rows);
    if (!ix->keys || !ix->rows)
        return vdb_set_errmsg(VDB_ENOMEM, "scalar index: out of memory for %zu rows", rows);
    for (size_t r = 0; r < rows; r++) {
        vdb_skey k;
        if (vdb_column_is_null(col, r) || !read_key(col, r, &k))
            continue;
        ix->keys[n] = k;
        ix->rows[n++] = (uint32_t)r;
    }
    vdb_status st = vdb_sindex_sort_pairs(ix->keys, ix->rows, n, ix->is_float);
    if (st != VDB_OK)
        return st;
    vdb_sindex_shrink((void **)&ix->keys, n * sizeof *ix->keys);
    vdb_sindex_shrink((void **)&ix->rows, n * sizeof *ix->rows);
    ix->n = ix->nvals = n;
    return VDB_OK;
}

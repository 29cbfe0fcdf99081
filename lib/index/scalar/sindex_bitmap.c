/* The bitmap kind (Milvus's BITMAP), for low-cardinality columns: the distinct values in
 * order, each with the set of its rows. A frequent value keeps its set as a plain bitset of
 * the segment's rows (a lookup ORs whole words); a rare one as its ascending row list, which
 * is smaller than a bitset while the value holds fewer than one row in 32. So the index is
 * never larger than the inverted kind's lists, and at most 32 values hold bitsets. Equality,
 * `in` and (over the sorted values) ranges and prefixes OR the sets of the matching values. */
#include "sindex_int.h"

/* A value's row list costs 32 bits a row; a bitset 1 bit a segment row. */
static bool worth_bits(size_t count, size_t rows) { return count > rows / 32; }

vdb_status vdb_sindex_bitmap_densify(vdb_scalar_index *ix)
{
    size_t m = ix->nvals, rows = ix->rows_total, nd = 0, k = 0;
    for (size_t v = 0; v < m; v++)
        nd += worth_bits(ix->starts[v + 1] - ix->starts[v], rows);
    ix->words = (rows + 63) / 64;
    ix->dense = vdb_malloc((m ? m : 1) * sizeof *ix->dense);
    ix->bits = vdb_calloc(nd && ix->words ? nd * ix->words : 1, sizeof *ix->bits);
    if (!ix->dense || !ix->bits)
        return vdb_set_errmsg(VDB_ENOMEM, "scalar index: out of memory for %zu bitsets", nd);
    ix->ndense = 0;
    size_t a = m ? ix->starts[0] : 0;
    for (size_t v = 0; v < m; v++) {
        size_t b = ix->starts[v + 1]; /* read before starts[v + 1] is rewritten */
        ix->starts[v] = (uint32_t)k;
        if (worth_bits(b - a, rows)) {
            uint64_t *bs = ix->bits + ix->ndense * ix->words;
            for (size_t i = a; i < b; i++)
                bs[ix->rows[i] >> 6] |= UINT64_C(1) << (ix->rows[i] & 63);
            ix->dense[v] = (uint32_t)ix->ndense++;
        } else {
            memmove(ix->rows + k, ix->rows + a, (b - a) * sizeof *ix->rows);
            k += b - a;
            ix->dense[v] = VDB_SINDEX_NO_BITS;
        }
        a = b;
    }
    ix->starts[m] = (uint32_t)k;
    ix->n = k;
    vdb_sindex_shrink((void **)&ix->rows, k * sizeof *ix->rows);
    return VDB_OK;
}

vdb_status vdb_sindex_bitmap_build(vdb_scalar_index *ix, const vdb_column *col)
{
    vdb_status st = vdb_sindex_inverted_build(ix, col);
    return st == VDB_OK ? vdb_sindex_bitmap_densify(ix) : st;
}

/* The inverted kind: each distinct value with the ascending list of its rows (all lists back
 * to back in one array). Numeric and bool values are found by binary search over the distinct
 * values; varchar uses the distinct-string table of sindex_trie.c. Answers equality (and so
 * `in`, one value at a time); ranges and prefixes are left to the sorted and trie kinds. */
#include "sindex_int.h"

/* Collapses the sorted per-row keys into distinct keys with row-list starts. */
vdb_status vdb_sindex_group_keys(vdb_scalar_index *ix)
{
    size_t m = 0, k = 0;
    ix->starts = vdb_malloc((ix->n + 1) * sizeof *ix->starts);
    if (!ix->starts)
        return vdb_set_errmsg(VDB_ENOMEM, "scalar index: out of memory for %zu rows", ix->n);
    for (size_t i = 0; i < ix->n; i++) {
        /* bit equality is value equality: no NaN, and -0.0 became 0.0 */
        bool same = m > 0 && ix->keys[m - 1].u == ix->keys[i].u;
        if (same && ix->rows[k - 1] == ix->rows[i])
            continue; /* an array holding the element twice: its row once */
        ix->rows[k++] = ix->rows[i];
        if (same)
            continue;
        ix->keys[m] = ix->keys[i];
        ix->starts[m++] = (uint32_t)(k - 1);
    }
    ix->starts[m] = (uint32_t)k;
    ix->n = k;
    ix->nvals = m;
    vdb_sindex_shrink((void **)&ix->rows, k * sizeof *ix->rows);
    vdb_sindex_shrink((void **)&ix->keys, m * sizeof *ix->keys);
    vdb_sindex_shrink((void **)&ix->starts, (m + 1) * sizeof *ix->starts);
    return VDB_OK;
}

vdb_status vdb_sindex_inverted_build(vdb_scalar_index *ix, const vdb_column *col)
{
    if (col->type == VDB_TYPE_VARCHAR)
        return vdb_sindex_strings_build(ix, col);
    vdb_status st = vdb_sindex_sort_numeric(ix, col);
    if (st != VDB_OK)
        return st;
    return vdb_sindex_group_keys(ix);
}

/* Scalar indexes: checks that a kind suits a column, builds it, frees it, and sends each
 * lookup to the kind that can answer it. */
#include "sindex_int.h"

static const char *kind_name(vdb_sindex_kind kind)
{
    switch (kind) {
    case VDB_SINDEX_SORTED: return "SORTED";
    case VDB_SINDEX_INVERTED: return "INVERTED";
    case VDB_SINDEX_TRIE: return "TRIE";
    }
    return "unknown";
}

static bool is_numeric(vdb_type t)
{
    switch (t) {
    case VDB_TYPE_BOOL:
    case VDB_TYPE_INT8:
    case VDB_TYPE_INT16:
    case VDB_TYPE_INT32:
    case VDB_TYPE_INT64:
    case VDB_TYPE_FLOAT:
    case VDB_TYPE_DOUBLE: return true;
    default: return false;
    }
}

static bool suits(vdb_sindex_kind kind, vdb_type t)
{
    switch (kind) {
    case VDB_SINDEX_SORTED: return is_numeric(t);
    case VDB_SINDEX_INVERTED: return is_numeric(t) || t == VDB_TYPE_VARCHAR;
    case VDB_SINDEX_TRIE: return t == VDB_TYPE_VARCHAR;
    }
    return false;
}

vdb_status vdb_sindex_build(vdb_sindex_kind kind, const vdb_column *col, vdb_scalar_index **out)
{
    vdb_scalar_index *ix = NULL;
    vdb_status st;

    if (!col || !out)
        return vdb_set_errmsg(VDB_EINVAL, "scalar index: NULL column or output");
    *out = NULL;
    if (kind != VDB_SINDEX_SORTED && kind != VDB_SINDEX_INVERTED && kind != VDB_SINDEX_TRIE)
        return vdb_set_errmsg(VDB_EINVAL, "scalar index: unknown index kind %d", (int)kind);
    if (!suits(kind, col->type))
        return vdb_set_errmsg(VDB_EINVAL, "scalar index: a %s index cannot index a %s column",
                              kind_name(kind), vdb_type_name(col->type));
    /* rows are stored as uint32 to halve the index; a segment never gets near 4 billion */
    if (col->rows > UINT32_MAX)
        return vdb_set_errmsg(VDB_EINVAL, "scalar index: %zu rows is more than a segment holds",
                              col->rows);
    ix = vdb_calloc(1, sizeof *ix);
    if (!ix)
        return vdb_set_errmsg(VDB_ENOMEM, "scalar index: out of memory");
    ix->kind = kind;
    ix->type = col->type;
    switch (kind) {
    case VDB_SINDEX_SORTED: st = vdb_sindex_sorted_build(ix, col); break;
    case VDB_SINDEX_INVERTED: st = vdb_sindex_inverted_build(ix, col); break;
    default: st = vdb_sindex_trie_build(ix, col); break;
    }
    if (st != VDB_OK)
        goto fail;
    *out = ix;
    return VDB_OK;
fail:
    vdb_sindex_free(ix);
    return st;
}

void vdb_sindex_free(vdb_scalar_index *ix)
{
    if (!ix)
        return;
    vdb_free(ix->rows);
    vdb_free(ix->starts);
    vdb_free(ix->keys);
    vdb_free(ix->blob);
    vdb_free(ix->soff);
    vdb_free(ix);
}

vdb_sindex_kind vdb_sindex_kind_of(const vdb_scalar_index *ix) { return ix->kind; }

size_t vdb_sindex_memory(const vdb_scalar_index *ix)
{
    size_t m = sizeof *ix + ix->n * sizeof *ix->rows;
    if (ix->starts)
        m += (ix->nvals + 1) * sizeof *ix->starts;
    if (ix->keys)
        m += ix->nvals * sizeof *ix->keys;
    if (ix->soff)
        m += (ix->nvals + 1) * sizeof *ix->soff + (size_t)ix->soff[ix->nvals];
    return m;
}

bool vdb_sindex_eq(const vdb_scalar_index *ix, const vdb_sval *v, uint64_t *out)
{
    if (!v)
        return false;
    if (ix->type == VDB_TYPE_VARCHAR)
        return vdb_sindex_str_range(ix, v, true, v, true, out);
    return vdb_sindex_num_lookup(ix, v, true, v, true, out);
}

bool vdb_sindex_range(const vdb_scalar_index *ix, const vdb_sval *lo, bool lo_incl,
                      const vdb_sval *hi, bool hi_incl, uint64_t *out)
{
    switch (ix->kind) {
    case VDB_SINDEX_SORTED: return vdb_sindex_num_lookup(ix, lo, lo_incl, hi, hi_incl, out);
    case VDB_SINDEX_TRIE: return vdb_sindex_str_range(ix, lo, lo_incl, hi, hi_incl, out);
    default: return false; /* the inverted kind promises equality only, as a hash would */
    }
}

bool vdb_sindex_prefix(const vdb_scalar_index *ix, const char *p, size_t n, uint64_t *out)
{
    if (ix->kind != VDB_SINDEX_TRIE || (!p && n))
        return false;
    vdb_sindex_str_prefix(ix, p, n, out);
    return true;
}

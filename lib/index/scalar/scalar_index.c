/* Scalar indexes: the table of kinds, the checks that a kind suits a column, build, free,
 * and each lookup sent to the kind that can answer it. */
#include <strings.h>

#include "sindex_int.h"

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

static bool suits_sorted(vdb_type t) { return is_numeric(t); }
static bool suits_inverted(vdb_type t) { return is_numeric(t) || t == VDB_TYPE_VARCHAR; }
static bool suits_trie(vdb_type t) { return t == VDB_TYPE_VARCHAR; }
/* Milvus's BITMAP: bool, ints and varchar (not float/double, whose values rarely repeat) */
static bool suits_bitmap(vdb_type t)
{
    return is_numeric(t) && t != VDB_TYPE_FLOAT && t != VDB_TYPE_DOUBLE ? true
                                                                        : t == VDB_TYPE_VARCHAR;
}

/* Every kind, once: a new kind is one enum value, one file with its build, and a line here. */
typedef struct kind_ops {
    const char *name;        /* in this module's messages */
    const char *milvus_name; /* the index type users name */
    bool (*suits)(vdb_type t);
    vdb_status (*build)(vdb_scalar_index *ix, const vdb_column *col);
    bool ranges;             /* answers ranges (the inverted kind promises equality only) */
    bool prefixes;           /* answers like "abc%" */
    bool (*suits_elems)(vdb_type elem); /* indexes ARRAY elements of this type; NULL: none */
} kind_ops;

static const kind_ops kinds[] = {
    [VDB_SINDEX_SORTED] = {"SORTED", "STL_SORT", suits_sorted, vdb_sindex_sorted_build, true,
                           false, NULL},
    [VDB_SINDEX_INVERTED] = {"INVERTED", "INVERTED", suits_inverted, vdb_sindex_inverted_build,
                             false, false, suits_inverted},
    [VDB_SINDEX_TRIE] = {"TRIE", "TRIE", suits_trie, vdb_sindex_trie_build, true, true, NULL},
    [VDB_SINDEX_BITMAP] = {"BITMAP", "BITMAP", suits_bitmap, vdb_sindex_bitmap_build, true, true,
                           suits_bitmap},
};

static const kind_ops *ops(vdb_sindex_kind kind)
{
    return kind > 0 && (size_t)kind < VDB_ARRAY_LEN(kinds) && kinds[kind].name ? &kinds[kind]
                                                                              : NULL;
}

vdb_sindex_kind vdb_sindex_kind_find(const char *name)
{
    for (size_t k = 1; name && k < VDB_ARRAY_LEN(kinds); k++)
        if (kinds[k].name && !strcasecmp(name, kinds[k].milvus_name))
            return (vdb_sindex_kind)k;
    return 0;
}

const char *vdb_sindex_kind_name(vdb_sindex_kind kind)
{
    const kind_ops *o = ops(kind);
    return o ? o->milvus_name : "";
}

const char *vdb_sindex_kind_names(void) { return "STL_SORT, INVERTED, TRIE, BITMAP"; }

bool vdb_sindex_suits(vdb_sindex_kind kind, vdb_type t)
{
    const kind_ops *o = ops(kind);
    return o && o->suits(t);
}

bool vdb_sindex_suits_elems(vdb_sindex_kind kind, vdb_type elem)
{
    const kind_ops *o = ops(kind);
    return o && o->suits_elems && o->suits_elems(elem);
}

vdb_sindex_kind vdb_sindex_auto(vdb_type t)
{
    if (t == VDB_TYPE_VARCHAR)
        return VDB_SINDEX_TRIE;
    if (t == VDB_TYPE_BOOL)
        return VDB_SINDEX_INVERTED;
    return is_numeric(t) ? VDB_SINDEX_SORTED : 0;
}

vdb_status vdb_sindex_build(vdb_sindex_kind kind, const vdb_column *col, vdb_scalar_index **out)
{
    vdb_scalar_index *ix = NULL;
    vdb_status st;

    if (!col || !out)
        return vdb_set_errmsg(VDB_EINVAL, "scalar index: NULL column or output");
    *out = NULL;
    const kind_ops *o = ops(kind);
    if (!o)
        return vdb_set_errmsg(VDB_EINVAL, "scalar index: unknown index kind %d", (int)kind);
    if (!o->suits(col->type))
        return vdb_set_errmsg(VDB_EINVAL, "scalar index: a %s index cannot index a %s column",
                              o->name, vdb_type_name(col->type));
    /* rows are stored as uint32 to halve the index; a segment never gets near 4 billion */
    if (col->rows > UINT32_MAX)
        return vdb_set_errmsg(VDB_EINVAL, "scalar index: %zu rows is more than a segment holds",
                              col->rows);
    ix = vdb_calloc(1, sizeof *ix);
    if (!ix)
        return vdb_set_errmsg(VDB_ENOMEM, "scalar index: out of memory");
    ix->kind = kind;
    ix->type = col->type;
    ix->rows_total = col->rows;
    if ((st = o->build(ix, col)) != VDB_OK)
        goto fail;
    *out = ix;
    return VDB_OK;
fail:
    vdb_sindex_free(ix);
    return st;
}

vdb_status vdb_sindex_build_elems(vdb_sindex_kind kind, vdb_type elem, const vdb_column *col,
                                  vdb_scalar_index **out)
{
    vdb_scalar_index *ix = NULL;
    vdb_status st;

    if (!col || !out)
        return vdb_set_errmsg(VDB_EINVAL, "scalar index: NULL column or output");
    *out = NULL;
    const kind_ops *o = ops(kind);
    if (!o)
        return vdb_set_errmsg(VDB_EINVAL, "scalar index: unknown index kind %d", (int)kind);
    if (col->type != VDB_TYPE_ARRAY || !o->suits_elems || !o->suits_elems(elem))
        return vdb_set_errmsg(VDB_EINVAL, "scalar index: a %s index cannot index the elements "
                              "of a %s column of %s", o->name, vdb_type_name(col->type),
                              vdb_type_name(elem));
    if (col->rows > UINT32_MAX)
        return vdb_set_errmsg(VDB_EINVAL, "scalar index: %zu rows is more than a segment holds",
                              col->rows);
    ix = vdb_calloc(1, sizeof *ix);
    if (!ix)
        return vdb_set_errmsg(VDB_ENOMEM, "scalar index: out of memory");
    ix->kind = kind;
    ix->type = elem; /* lookups compare with elements */
    ix->elems = true;
    ix->elem = elem;
    ix->rows_total = col->rows;
    st = vdb_sindex_elems_build(ix, col);
    if (st == VDB_OK && kind == VDB_SINDEX_BITMAP)
        st = vdb_sindex_bitmap_densify(ix);
    if (st != VDB_OK)
        goto fail;
    *out = ix;
    return VDB_OK;
fail:
    vdb_sindex_free(ix);
    return st;
}

bool vdb_sindex_is_elems(const vdb_scalar_index *ix) { return ix->elems; }

void vdb_sindex_free(vdb_scalar_index *ix)
{
    if (!ix)
        return;
    vdb_free(ix->rows);
    vdb_free(ix->starts);
    vdb_free(ix->keys);
    vdb_free(ix->blob);
    vdb_free(ix->soff);
    vdb_free(ix->dense);
    vdb_free(ix->bits);
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
    if (ix->dense)
        m += ix->nvals * sizeof *ix->dense + ix->ndense * ix->words * sizeof *ix->bits;
    return m;
}

bool vdb_sindex_eq(const vdb_scalar_index *ix, const vdb_sval *v, uint64_t *out)
{
    if (!v)
        return false;
    /* a float array's element written as an integer is compared as one by the scan; beyond
     * 2^53 the index's double keys could not tell it apart, so the scan answers */
    if (ix->elems && ix->is_float && v->is_int && !vdb_sval_is_str(v) &&
        (v->i >= (INT64_C(1) << 53) || v->i <= -(INT64_C(1) << 53)))
        return false;
    if (ix->type == VDB_TYPE_VARCHAR)
        return vdb_sindex_str_range(ix, v, true, v, true, out);
    return vdb_sindex_num_lookup(ix, v, true, v, true, out);
}

bool vdb_sindex_range(const vdb_scalar_index *ix, const vdb_sval *lo, bool lo_incl,
                      const vdb_sval *hi, bool hi_incl, uint64_t *out)
{
    if (!kinds[ix->kind].ranges)
        return false;
    return ix->type == VDB_TYPE_VARCHAR ? vdb_sindex_str_range(ix, lo, lo_incl, hi, hi_incl, out)
                                        : vdb_sindex_num_lookup(ix, lo, lo_incl, hi, hi_incl, out);
}

bool vdb_sindex_prefix(const vdb_scalar_index *ix, const char *p, size_t n, uint64_t *out)
{
    if (!kinds[ix->kind].prefixes || (!p && n))
        return false;
    vdb_sindex_str_prefix(ix, p, n, out);
    return true;
}

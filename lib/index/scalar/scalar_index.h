/* Scalar indexes over one column of a sealed segment: sorted (numeric ranges and equality),
 * inverted (value -> rows: equality and `in` for numeric, bool and varchar) and a prefix
 * structure for varchar (equality, `like "abc%"`). Built in memory from the column; NULL rows
 * are never in an index. Immutable after build: query from any thread. */
#ifndef VDB_SCALAR_INDEX_H
#define VDB_SCALAR_INDEX_H

#include "util/util.h"
#include "segment/segment.h"

typedef enum vdb_sindex_kind {
    VDB_SINDEX_SORTED = 1,   /* numeric and bool */
    VDB_SINDEX_INVERTED = 2, /* numeric, bool, varchar */
    VDB_SINDEX_TRIE = 3,     /* varchar */
    VDB_SINDEX_BITMAP = 4,   /* bool, ints, varchar: a bitset per frequent value */
} vdb_sindex_kind;

typedef struct vdb_scalar_index vdb_scalar_index;

/* The kind users name ("STL_SORT", "INVERTED", "TRIE", "BITMAP": Milvus's index types; any
 * case), or 0; and its name back ("" for an unknown kind). */
vdb_sindex_kind vdb_sindex_kind_find(const char *name);
const char *vdb_sindex_kind_name(vdb_sindex_kind kind);
/* "STL_SORT, INVERTED, TRIE, BITMAP", for messages. */
const char *vdb_sindex_kind_names(void);
/* Whether kind can index columns of type t. */
bool vdb_sindex_suits(vdb_sindex_kind kind, vdb_type t);
/* Whether kind can index the elements of ARRAY columns of element type elem (INVERTED:
 * numeric, bool, varchar; BITMAP: bool, ints, varchar). */
bool vdb_sindex_suits_elems(vdb_sindex_kind kind, vdb_type elem);
/* The kind AUTOINDEX picks for a column of type t (0: none suits). */
vdb_sindex_kind vdb_sindex_auto(vdb_type t);

/* A constant to look up: numbers as int64 when is_int, else as double (compared with the
 * column's values exactly as a scan would: an INT column against 2.5 is a range between ints);
 * bools as i (0/1); strings as s/len. */
typedef struct vdb_sval {
    bool is_int;
    int64_t i;
    double d;
    const char *s;
    size_t len;
} vdb_sval;

/* VDB_EINVAL when the kind does not suit the column type. */
vdb_status vdb_sindex_build(vdb_sindex_kind kind, const vdb_column *col, vdb_scalar_index **out);
/* An element index of an ARRAY column whose elements are of type elem: a lookup gives the
 * rows whose array holds a matching element (vdb_sindex_eq; `array_contains*`). NULL rows
 * and empty arrays match nothing. VDB_EINVAL when the kind does not suit; VDB_ECORRUPT when
 * a row's text is not an array of elem. */
vdb_status vdb_sindex_build_elems(vdb_sindex_kind kind, vdb_type elem, const vdb_column *col,
                                  vdb_scalar_index **out);
/* Whether ix indexes ARRAY elements. */
bool vdb_sindex_is_elems(const vdb_scalar_index *ix);
void vdb_sindex_free(vdb_scalar_index *ix);
vdb_sindex_kind vdb_sindex_kind_of(const vdb_scalar_index *ix);
size_t vdb_sindex_memory(const vdb_scalar_index *ix);

/* Each lookup ORs the matching rows into out (bit i = row i) and returns true, or returns
 * false when this kind of index cannot answer it (the caller then scans). */
bool vdb_sindex_eq(const vdb_scalar_index *ix, const vdb_sval *v, uint64_t *out);
bool vdb_sindex_range(const vdb_scalar_index *ix, const vdb_sval *lo, bool lo_incl,
                      const vdb_sval *hi, bool hi_incl, uint64_t *out); /* lo/hi NULL: open */
bool vdb_sindex_prefix(const vdb_scalar_index *ix, const char *p, size_t n, uint64_t *out);

#endif

/* Private to the scalar index files: the one index struct every kind fills, and the helpers
 * the kinds share (numeric key sorting, value spans, string tables, bitset output). */
#ifndef VDB_SINDEX_INT_H
#define VDB_SINDEX_INT_H

#include "scalar_index.h"

/* A numeric key: INT8..INT64 and BOOL columns as int64, FLOAT and DOUBLE as double (a float
 * widens to double exactly). u is the raw bits, used while radix sorting. */
typedef union vdb_skey {
    int64_t i;
    double d;
    uint64_t u;
} vdb_skey;

/* Every kind is "sorted values, each owning a slice of rows": the rows of value v are
 * rows[start(v) .. start(v+1)), ascending. The sorted kind keeps one value per row
 * (starts == NULL, start(v) = v); the inverted and trie kinds keep distinct values. */
struct vdb_scalar_index {
    vdb_sindex_kind kind;
    vdb_type type;
    bool is_float;      /* keys are doubles */
    size_t n;           /* rows in the index (non-NULL) */
    uint32_t *rows;     /* n */
    size_t nvals;       /* values: n for the sorted kind, distinct values otherwise */
    uint32_t *starts;   /* nvals + 1, or NULL */
    vdb_skey *keys;     /* numeric: nvals */
    char *blob;         /* varchar: the distinct strings back to back */
    uint64_t *soff;     /* varchar: nvals + 1 offsets into blob */
    bool elems;         /* over the elements of an ARRAY column: a row per distinct element */
    vdb_type elem;      /* elems: the element type */
    size_t rows_total;  /* rows of the column (bitset length) */
    uint32_t *dense;    /* bitmap kind: nvals entries, the value's bitset in bits or NO_BITS */
    uint64_t *bits;     /* bitmap kind: ndense bitsets of words words each */
    size_t ndense, words;
};

#define VDB_SINDEX_NO_BITS UINT32_MAX

static inline size_t vdb_sindex_start(const vdb_scalar_index *ix, size_t v)
{
    return ix->starts ? ix->starts[v] : v;
}

/* ORs the rows of values [a, b) into out. */
static inline void vdb_sindex_emit(const vdb_scalar_index *ix, size_t a, size_t b, uint64_t *out)
{
    if (ix->dense) { /* bitmap kind: the values with a bitset OR it, the others their rows */
        for (size_t v = a; v < b; v++) {
            const uint64_t *bs = ix->dense[v] == VDB_SINDEX_NO_BITS
                                     ? NULL : ix->bits + (size_t)ix->dense[v] * ix->words;
            for (size_t w = 0; bs && w < ix->words; w++)
                out[w] |= bs[w];
            for (size_t k = ix->starts[v]; !bs && k < ix->starts[v + 1]; k++)
                out[ix->rows[k] >> 6] |= UINT64_C(1) << (ix->rows[k] & 63);
        }
        return;
    }
    size_t end = vdb_sindex_start(ix, b);
    for (size_t k = vdb_sindex_start(ix, a); k < end; k++)
        out[ix->rows[k] >> 6] |= UINT64_C(1) << (ix->rows[k] & 63);
}

/* Gives back the unused tail of an array; if the allocator cannot, the larger block serves. */
static inline void vdb_sindex_shrink(void **p, size_t bytes)
{
    void *q = vdb_realloc(*p, bytes);
    if (q)
        *p = q;
}

static inline bool vdb_sval_is_str(const vdb_sval *v) { return v->s != NULL; }

/* sindex_keys.c: the non-NULL, non-NaN rows of a numeric or bool column sorted by value
 * (rows ascending within a value) into ix->keys / ix->rows / ix->n (nvals = n). */
vdb_status vdb_sindex_sort_numeric(vdb_scalar_index *ix, const vdb_column *col);
/* sindex_sorted.c: the values [*a, *b) of sorted keys[0..m) inside the range; false when none can match
 * (including a NaN bound, which no comparison matches). Bounds must be numeric. */
bool vdb_sindex_num_span(const vdb_skey *keys, size_t m, bool is_float, const vdb_sval *lo,
                         bool lo_incl, const vdb_sval *hi, bool hi_incl, size_t *a, size_t *b);
/* Equality or range over the numeric values of ix (sorted and inverted kinds). */
bool vdb_sindex_num_lookup(const vdb_scalar_index *ix, const vdb_sval *lo, bool lo_incl,
                           const vdb_sval *hi, bool hi_incl, uint64_t *out);

/* sindex_sorted.c / sindex_inverted.c / sindex_trie.c: fill ix (kind and type already set). */
vdb_status vdb_sindex_sorted_build(vdb_scalar_index *ix, const vdb_column *col);
vdb_status vdb_sindex_inverted_build(vdb_scalar_index *ix, const vdb_column *col);
vdb_status vdb_sindex_trie_build(vdb_scalar_index *ix, const vdb_column *col);

/* sindex_trie.c, shared with the inverted kind on varchar: the distinct-string table
 * (blob, soff, starts, rows), and lookups over it. */
vdb_status vdb_sindex_strings_build(vdb_scalar_index *ix, const vdb_column *col);
bool vdb_sindex_str_range(const vdb_scalar_index *ix, const vdb_sval *lo, bool lo_incl,
                          const vdb_sval *hi, bool hi_incl, uint64_t *out);
void vdb_sindex_str_prefix(const vdb_scalar_index *ix, const char *p, size_t n, uint64_t *out);

/* One string of a row, for the distinct-string table (sindex_trie.c). */
typedef struct vdb_sstr {
    uint64_t head; /* the first 8 bytes, big-endian, zero-padded: settles most comparisons */
    const char *p;
    size_t len;
    uint32_t row;
} vdb_sstr;
/* The table from n entries (sorted here; ents is reordered); equal (string, row) pairs count
 * once, so a row whose array repeats an element is listed once. */
vdb_status vdb_sindex_strings_table(vdb_scalar_index *ix, vdb_sstr *ents, size_t n);
uint64_t vdb_sindex_str_head(const char *p, size_t len);

/* sindex_inverted.c: sorted (key, row) pairs (ix->keys, ix->rows, ix->n) grouped into
 * distinct keys with their row lists; equal (key, row) pairs count once. */
vdb_status vdb_sindex_group_keys(vdb_scalar_index *ix);
/* sindex_keys.c: order-preserving radix sort of (keys, rows) pairs by key, rows kept in
 * input order within a key; keys are decoded back in place. */
vdb_status vdb_sindex_sort_pairs(vdb_skey *keys, uint32_t *rows, size_t n, bool is_float);

/* sindex_array.c: the element table of an ARRAY column (ix->elems and ix->elem set). */
vdb_status vdb_sindex_elems_build(vdb_scalar_index *ix, const vdb_column *col);
/* sindex_bitmap.c: the bitmap kind over a plain column, and the bitsets of a built table. */
vdb_status vdb_sindex_bitmap_build(vdb_scalar_index *ix, const vdb_column *col);
vdb_status vdb_sindex_bitmap_densify(vdb_scalar_index *ix);

#endif

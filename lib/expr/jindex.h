/* Private to lib/expr: the JSON path index struct and the leaves the evaluator asks it. */
#ifndef VDB_EXPR_JINDEX_H
#define VDB_EXPR_JINDEX_H

#include "expr_int.h"

struct vdb_jindex {
    size_t col;               /* the JSON column */
    char *key;                /* the path (vdb_jpath_key) */
    size_t len;
    vdb_jcast cast;
    size_t rows;
    vdb_scalar_index *ix;     /* over the values of the cast type */
    uint64_t *present;        /* rows/64 + 1 words: a non-null value at the path */
    uint64_t *typed;          /* ... a value of the cast type (the rows in ix) */
    bool big_ints;            /* an int past 2^53: int constants are left to the scan */
};

/* The path indexes an evaluation may ask, over rows rows. */
typedef struct vdb_jinput {
    const vdb_jindex *const *ix;
    size_t n, rows;
} vdb_jinput;

/* `path op constant` and `path in [...]` (x) through a JSON path index of the input: fills
 * t (true) and k (known) as the scan would and returns true, or false when no index of the
 * input answers it exactly (the caller scans). */
bool vdb_jindex_cmp(const vdb_jinput *in, const vdb_xnode *x, size_t words, uint64_t *t,
                    uint64_t *k);
bool vdb_jindex_in(const vdb_jinput *in, const vdb_xnode *x, size_t words, uint64_t *t,
                   uint64_t *k);
/* `path like "abc"` and `path like "abc%"` through a VARCHAR path index. */
bool vdb_jindex_like(const vdb_jinput *in, const vdb_xnode *x, size_t words, uint64_t *t,
                     uint64_t *k);

#endif

/* The trie kind for varchar: the distinct strings in bytewise order, each with its ascending
 * rows. The strings sharing a prefix are one contiguous run, found by two binary searches,
 * which gives what a trie gives (equality, prefix, ranges) at a fraction of its memory.
 * The distinct-string table is also the inverted kind's varchar storage. */
#include <stdlib.h>

#include "sindex_int.h"

typedef vdb_sstr str_ent;

/* Bytewise order, shorter first on a tie: what strcmp gives on the raw bytes. */
static int cmp_bytes(const char *a, size_t la, const char *b, size_t lb)
{
    size_t m = VDB_MIN(la, lb);
    int c = m ? memcmp(a, b, m) : 0;
    if (c)
        return c;
    return (la > lb) - (la < lb);
}

static int cmp_ent(const void *x, const void *y)
{
    const str_ent *a = x, *b = y;
    if (a->head != b->head)
        return a->head < b->head ? -1 : 1;
    int c = cmp_bytes(a->p, a->len, b->p, b->len);
    if (c)
        return c;
    return (a->row > b->row) - (a->row < b->row); /* rows ascending within a value */
}

uint64_t vdb_sindex_str_head(const char *p, size_t len)
{
    uint64_t h = 0;
    for (size_t i = 0; i < 8; i++)
        h = (h << 8) | (i < len ? (uint8_t)p[i] : 0);
    return h;
}

vdb_status vdb_sindex_strings_build(vdb_scalar_index *ix, const vdb_column *col)
{
    size_t n = 0;
    str_ent *ents = vdb_malloc(col->rows * sizeof *ents);
    if (!ents && col->rows)
        return vdb_set_errmsg(VDB_ENOMEM, "scalar index: out of memory indexing %zu strings",
                              col->rows);
    for (size_t r = 0; r < col->rows; r++) {
        if (vdb_column_is_null(col, r))
            continue;
        str_ent *e = &ents[n++];
        e->p = vdb_column_var(col, r, &e->len);
        e->head = vdb_sindex_str_head(e->p, e->len);
        e->row = (uint32_t)r;
    }
    vdb_status st = vdb_sindex_strings_table(ix, ents, n);
    vdb_free(ents);
    return st;
}

static bool same_ent(const str_ent *a, const str_ent *b)
{
    return cmp_bytes(a->p, a->len, b->p, b->len) == 0;
}

vdb_status vdb_sindex_strings_table(vdb_scalar_index *ix, str_ent *ents, size_t n)
{
    size_t m = 0, bytes = 0, k = 0;

    if (n)
        qsort(ents, n, sizeof *ents, cmp_ent);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && same_ent(&ents[i - 1], &ents[i]))
            continue;
        m++;
        bytes += ents[i].len;
    }
    ix->rows = vdb_malloc((n ? n : 1) * sizeof *ix->rows);
    ix->starts = vdb_malloc((m + 1) * sizeof *ix->starts);
    ix->soff = vdb_malloc((m + 1) * sizeof *ix->soff);
    ix->blob = vdb_malloc(bytes ? bytes : 1);
    if (!ix->rows || !ix->starts || !ix->soff || !ix->blob)
        return vdb_set_errmsg(VDB_ENOMEM, "scalar index: out of memory indexing %zu strings",
                              n);
    m = 0;
    bytes = 0;
    for (size_t i = 0; i < n; i++) {
        bool same = i > 0 && same_ent(&ents[i - 1], &ents[i]);
        if (same && ents[i - 1].row == ents[i].row)
            continue; /* an array holding the element twice: its row once */
        ix->rows[k++] = ents[i].row;
        if (same)
            continue;
        ix->starts[m] = (uint32_t)(k - 1);
        ix->soff[m++] = bytes;
        if (ents[i].len)
            memcpy(ix->blob + bytes, ents[i].p, ents[i].len);
        bytes += ents[i].len;
    }
    ix->starts[m] = (uint32_t)k;
    ix->soff[m] = bytes;
    ix->n = k;
    ix->nvals = m;
    return VDB_OK;
}

vdb_status vdb_sindex_trie_build(vdb_scalar_index *ix, const vdb_column *col)
{
    return vdb_sindex_strings_build(ix, col);
}

/* First value i whose string (cut to len bytes when trunc) compares >= bar against key. */
static size_t partition(const vdb_scalar_index *ix, const char *key, size_t len, bool trunc,
                        int bar)
{
    size_t lo = 0, hi = ix->nvals;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        size_t sl = (size_t)(ix->soff[mid + 1] - ix->soff[mid]);
        if (trunc)
            sl = VDB_MIN(sl, len);
        if (cmp_bytes(ix->blob + ix->soff[mid], sl, key, len) < bar)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool vdb_sindex_str_range(const vdb_scalar_index *ix, const vdb_sval *lo, bool lo_incl,
                          const vdb_sval *hi, bool hi_incl, uint64_t *out)
{
    if ((lo && !vdb_sval_is_str(lo)) || (hi && !vdb_sval_is_str(hi)))
        return false;
    size_t a = lo ? partition(ix, lo->s, lo->len, false, lo_incl ? 0 : 1) : 0;
    size_t b = hi ? partition(ix, hi->s, hi->len, false, hi_incl ? 1 : 0) : ix->nvals;
    if (a < b)
        vdb_sindex_emit(ix, a, b, out);
    return true;
}

/* Cut to the prefix's length, strings before the run compare below it, the run equal, and
 * strings after it above, so the run lies between the two partition points. */
void vdb_sindex_str_prefix(const vdb_scalar_index *ix, const char *p, size_t n, uint64_t *out)
{
    size_t a = partition(ix, p, n, true, 0);
    size_t b = partition(ix, p, n, true, 1);
    if (a < b)
        vdb_sindex_emit(ix, a, b, out);
}

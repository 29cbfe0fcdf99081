/* The sorted kind: one (value, row) pair per non-NULL row of a numeric or bool column, in value
 * order, so equality and ranges are two binary searches and one contiguous slice of rows. The
 * same search serves the inverted kind over its distinct values. */
#include <math.h>

#include "sindex_int.h"

vdb_status vdb_sindex_sorted_build(vdb_scalar_index *ix, const vdb_column *col)
{
    return vdb_sindex_sort_numeric(ix, col);
}

/* key <=> v as a scan compares them: ints as int64 against an int constant, as double against
 * a double one (so 3 > 2.5 and no int equals 2.5); floats as double. Never called with NaN. */
static int cmp_key(vdb_skey k, const vdb_sval *v, bool is_float)
{
    if (!is_float && v->is_int)
        return (k.i > v->i) - (k.i < v->i);
    double x = is_float ? k.d : (double)k.i;
    double c = v->is_int ? (double)v->i : v->d;
    return (x > c) - (x < c);
}

static bool is_nan(const vdb_sval *v) { return v && !v->is_int && isnan(v->d); }

/* First index in keys[0..m) where cmp_key(keys[i], v) >= bar (0: not below v; 1: above v).
 * Valid because int64 -> double conversion never reverses order, so the predicate flips once. */
static size_t partition(const vdb_skey *keys, size_t m, bool is_float, const vdb_sval *v, int bar)
{
    size_t lo = 0, hi = m;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_key(keys[mid], v, is_float) < bar)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool vdb_sindex_num_span(const vdb_skey *keys, size_t m, bool is_float, const vdb_sval *lo,
                         bool lo_incl, const vdb_sval *hi, bool hi_incl, size_t *a, size_t *b)
{
    if (is_nan(lo) || is_nan(hi))
        return false;
    *a = lo ? partition(keys, m, is_float, lo, lo_incl ? 0 : 1) : 0;
    *b = hi ? partition(keys, m, is_float, hi, hi_incl ? 1 : 0) : m;
    return *a < *b;
}

bool vdb_sindex_num_lookup(const vdb_scalar_index *ix, const vdb_sval *lo, bool lo_incl,
                           const vdb_sval *hi, bool hi_incl, uint64_t *out)
{
    size_t a, b;
    if ((lo && vdb_sval_is_str(lo)) || (hi && vdb_sval_is_str(hi)))
        return false;
    if (vdb_sindex_num_span(ix->keys, ix->nvals, ix->is_float, lo, lo_incl, hi, hi_incl, &a, &b))
        vdb_sindex_emit(ix, a, b, out);
    return true;
}

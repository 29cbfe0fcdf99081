/* The filter evaluator: three-valued (true / false / unknown) bitsets per subtree, combined a
 * word at a time. Leaves `field op constant`, `in`, `like` and `is null` on plain columns run
 * one tight loop over the column (or ask a scalar index); JSON paths, arithmetic and the
 * array functions compute per row. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>

#include "jindex.h"

typedef struct ectx {
    const vdb_expr_input *in;
    const vdb_jinput *jin;   /* JSON path indexes (NULL: none) */
    size_t rows, words;
    vdb_buf s1, s2;   /* unescaped JSON strings of the two sides of a comparison */
    uint8_t *seen;    /* json_contains_all: which list items a row holds */
    bool oom;
} ectx;

static uint64_t last_mask(size_t rows)
{
    return rows % 64 ? (UINT64_C(1) << (rows % 64)) - 1 : ~UINT64_C(0);
}

static void set_all(uint64_t *b, size_t rows)
{
    size_t words = (rows + 63) / 64;
    if (!words)
        return;
    memset(b, 0xff, words * 8);
    b[words - 1] &= last_mask(rows);
}

/* Bit i set when row i is not NULL. */
static void valid_bits(const vdb_column *col, size_t rows, uint64_t *k)
{
    if (!col->nullable) {
        set_all(k, rows);
        return;
    }
    for (size_t w = 0; w < (rows + 63) / 64; w++) {
        size_t base = w * 64, m = VDB_MIN(rows - base, (size_t)64);
        uint64_t bits = 0;
        for (size_t j = 0; j < m; j++)
            bits |= (uint64_t)(col->valid[base + j] != 0) << j;
        k[w] = bits;
    }
}

/* ---- arithmetic ---- */

static double num_of(const vdb_xconst *v) { return v->type == XY_INT ? (double)v->i : v->d; }

bool vdb_expr_arith(int op, const vdb_xconst *a, const vdb_xconst *b, vdb_xconst *out)
{
    memset(out, 0, sizeof *out);
    if (a->type == XY_INT && b->type == XY_INT && op != XO_POW) {
        int64_t x = a->i, y = b->i, r = 0;
        bool ovf = false;
        switch (op) {
        case XO_ADD: ovf = __builtin_add_overflow(x, y, &r); break;
        case XO_SUB: ovf = __builtin_sub_overflow(x, y, &r); break;
        case XO_MUL: ovf = __builtin_mul_overflow(x, y, &r); break;
        case XO_DIV:
            if (y == 0)
                return false;
            ovf = x == INT64_MIN && y == -1;
            r = ovf ? 0 : x / y;
            break;
        case XO_MOD:
            if (y == 0)
                return false;
            r = y == -1 ? 0 : x % y;
            break;
        default: return false;
        }
        if (!ovf) {
            out->type = XY_INT;
            out->i = r;
            return true;
        }
        /* an overflowing int result continues as a float, as it would in a wider type */
    }
    double x = num_of(a), y = num_of(b), r;
    switch (op) {
    case XO_ADD: r = x + y; break;
    case XO_SUB: r = x - y; break;
    case XO_MUL: r = x * y; break;
    case XO_DIV:
        if (y == 0)
            return false;
        r = x / y;
        break;
    case XO_MOD:
        if (y == 0)
            return false;
        r = fmod(x, y);
        break;
    case XO_POW: r = pow(x, y); break;
    default: return false;
    }
    if (!isfinite(r))
        return false;
    out->type = XY_FLOAT;
    out->d = r;
    return true;
}

/* Follows x's path from the row's JSON (or ARRAY) text. false: NULL row or no such value. */
static bool locate(const ectx *c, const vdb_xnode *x, size_t row, const char **v, size_t *vlen)
{
    const vdb_column *col = c->in->cols[x->col];
    if (vdb_column_is_null(col, row))
        return false;
    size_t n;
    const char *s = vdb_column_var(col, row, &n);
    return vdb_expr_json_follow(s, n, x->steps, x->nsteps, v, vlen);
}

/* A JSON value's text as a typed value: JSON null is XY_NONE, arrays and objects XY_ARRAY. */
static void classify(ectx *c, const char *s, size_t n, vdb_buf *scratch, vdb_xconst *out)
{
    vdb_expr_json_value(s, n, scratch, out, &c->oom);
}

static size_t arr_count(const char *s, size_t n, bool *is_arr)
{
    size_t pos, cnt = 0, vlen;
    const char *v;
    *is_arr = vdb_expr_arr_begin(s, n, &pos);
    if (*is_arr)
        while (vdb_expr_arr_next(s, n, &pos, &v, &vlen))
            cnt++;
    return cnt;
}

/* ---- per-row values and conditions ---- */

static void get_val(ectx *c, const vdb_xnode *x, size_t row, vdb_buf *scratch, vdb_xconst *out)
{
    const vdb_column *col;
    const char *v;
    size_t vlen;
    vdb_xconst a, b;
    memset(out, 0, sizeof *out);
    switch (x->kind) {
    case XN_CONST: *out = x->c; return;
    case XN_FIELD:
        col = c->in->cols[x->col];
        if (vdb_column_is_null(col, row))
            return;
        out->type = x->type;
        switch (col->type) {
        case VDB_TYPE_BOOL: out->i = *(const uint8_t *)vdb_column_at(col, row) != 0; return;
        case VDB_TYPE_INT8: out->i = *(const int8_t *)vdb_column_at(col, row); return;
        case VDB_TYPE_INT16: out->i = *(const int16_t *)vdb_column_at(col, row); return;
        case VDB_TYPE_INT32: out->i = *(const int32_t *)vdb_column_at(col, row); return;
        case VDB_TYPE_INT64: out->i = *(const int64_t *)vdb_column_at(col, row); return;
        case VDB_TYPE_FLOAT: out->d = *(const float *)vdb_column_at(col, row); return;
        case VDB_TYPE_DOUBLE: out->d = *(const double *)vdb_column_at(col, row); return;
        case VDB_TYPE_VARCHAR: out->s = vdb_column_var(col, row, &out->len); return;
        default: out->type = XY_NONE; return;
        }
    case XN_JSON:
        if (locate(c, x, row, &v, &vlen))
            classify(c, v, vlen, scratch, out);
        return;
    case XN_ARITH:
        get_val(c, x->a, row, scratch, &a);
        get_val(c, x->b, row, scratch, &b);
        if ((a.type == XY_INT || a.type == XY_FLOAT) && (b.type == XY_INT || b.type == XY_FLOAT) &&
            !vdb_expr_arith(x->op, &a, &b, out))
            out->type = XY_NONE;
        return;
    case XN_ALEN: {
        bool is_arr;
        if (!locate(c, x->a, row, &v, &vlen))
            return;
        size_t cnt = arr_count(v, vlen, &is_arr);
        if (is_arr) {
            out->type = XY_INT;
            out->i = (int64_t)cnt;
        }
        return;
    }
    default: return;
    }
}

/* 1 true, 0 false, -1 unknown (a NULL or missing side). Other types never match. */
static int cmp_vals(const vdb_xconst *a, int op, const vdb_xconst *b)
{
    if (a->type == XY_NONE || b->type == XY_NONE)
        return -1;
    int r;
    bool an = a->type == XY_INT || a->type == XY_FLOAT;
    bool bn = b->type == XY_INT || b->type == XY_FLOAT;
    if (an && bn) {
        if (a->type == XY_INT && b->type == XY_INT) {
            r = a->i < b->i ? -1 : a->i > b->i;
        } else {
            double x = num_of(a), y = num_of(b);
            if (isnan(x) || isnan(y))
                return op == XO_NE;
            r = x < y ? -1 : x > y;
        }
    } else if (a->type == XY_STR && b->type == XY_STR) {
        r = memcmp(a->s, b->s, VDB_MIN(a->len, b->len));
        r = r ? (r < 0 ? -1 : 1) : a->len < b->len ? -1 : a->len > b->len;
    } else if (a->type == XY_BOOL && b->type == XY_BOOL) {
        r = (a->i != 0) - (b->i != 0);
    } else {
        return 0;
    }
    switch (op) {
    case XO_EQ: return r == 0;
    case XO_NE: return r != 0;
    case XO_LT: return r < 0;
    case XO_LE: return r <= 0;
    case XO_GT: return r > 0;
    default: return r >= 0;
    }
}

static size_t utf8_step(const unsigned char *s, size_t left)
{
    size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 1;
    return VDB_MIN(len, left);
}

/* Glob matching with one backtrack point: the last % absorbs one more character. */
static bool like_match(const char *str, size_t n, const uint16_t *pat, size_t np)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t si = 0, pi = 0, star = SIZE_MAX, star_s = 0;
    while (si < n) {
        if (pi < np && pat[pi] == VDB_LIKE_ANY) {
            star = pi++;
            star_s = si;
        } else if (pi < np && pat[pi] == VDB_LIKE_ONE) {
            si += utf8_step(s + si, n - si);
            pi++;
        } else if (pi < np && pat[pi] == s[si]) {
            si++;
            pi++;
        } else if (star != SIZE_MAX) {
            pi = star + 1;
            star_s += utf8_step(s + star_s, n - star_s);
            si = star_s;
        } else {
            return false;
        }
    }
    while (pi < np && pat[pi] == VDB_LIKE_ANY)
        pi++;
    return pi == np;
}

static int contains_row(ectx *c, const vdb_xnode *x, size_t row)
{
    const char *v, *e;
    size_t vlen, elen, pos, hits = 0;
    if (!locate(c, x->a, row, &v, &vlen))
        return -1;
    if (!vdb_expr_arr_begin(v, vlen, &pos))
        return 0;
    if (x->op == XF_ALL) {
        if (!x->nlist)
            return 1;
        memset(c->seen, 0, x->nlist);
    }
    while (vdb_expr_arr_next(v, vlen, &pos, &e, &elen)) {
        vdb_xconst ev;
        classify(c, e, elen, &c->s1, &ev);
        for (size_t i = 0; i < x->nlist; i++) {
            if (cmp_vals(&ev, XO_EQ, &x->list[i]) != 1)
                continue;
            if (x->op != XF_ALL)
                return 1;
            if (!c->seen[i]) {
                c->seen[i] = 1;
                if (++hits == x->nlist)
                    return 1;
            }
        }
    }
    return 0;
}

static int pred_row(ectx *c, const vdb_xnode *x, size_t row)
{
    vdb_xconst a, b;
    const char *v;
    size_t vlen;
    int r;
    switch (x->kind) {
    case XN_CMP:
        get_val(c, x->a, row, &c->s1, &a);
        get_val(c, x->b, row, &c->s2, &b);
        return cmp_vals(&a, x->op, &b);
    case XN_IN:
        get_val(c, x->a, row, &c->s1, &a);
        if (a.type == XY_NONE)
            return -1;
        for (size_t i = 0; i < x->nlist; i++)
            if ((r = cmp_vals(&a, XO_EQ, &x->list[i])) != 0)
                return r;
        return 0;
    case XN_LIKE:
        get_val(c, x->a, row, &c->s1, &a);
        if (a.type == XY_NONE)
            return -1;
        return a.type == XY_STR && like_match(a.s, a.len, x->pat, x->npat);
    case XN_ISNULL:
        if (x->a->kind == XN_FIELD)
            r = !vdb_column_is_null(c->in->cols[x->a->col], row);
        else
            r = locate(c, x->a, row, &v, &vlen) &&
                vdb_expr_skip_ws(v, vlen, 0) < vlen && v[vdb_expr_skip_ws(v, vlen, 0)] != 'n';
        return x->negate ? r : !r;
    case XN_EXISTS: return locate(c, x->a, row, &v, &vlen);
    case XN_CONTAINS: return contains_row(c, x, row);
    default: return -1;
    }
}

static vdb_status eval_rows(ectx *c, const vdb_xnode *x, uint64_t *t, uint64_t *k)
{
    if (x->kind == XN_CONTAINS && x->op == XF_ALL && x->nlist) {
        c->seen = vdb_malloc(x->nlist);
        if (!c->seen)
            return vdb_set_errmsg(VDB_ENOMEM, "filter: out of memory");
    }
    for (size_t w = 0; w < c->words; w++) {
        size_t base = w * 64, m = VDB_MIN(c->rows - base, (size_t)64);
        uint64_t tb = 0, kb = 0;
        for (size_t j = 0; j < m; j++) {
            int r = pred_row(c, x, base + j);
            kb |= (uint64_t)(r >= 0) << j;
            tb |= (uint64_t)(r == 1) << j;
        }
        t[w] = tb;
        k[w] = kb;
    }
    vdb_free(c->seen);
    c->seen = NULL;
    if (c->oom)
        return vdb_set_errmsg(VDB_ENOMEM, "filter: out of memory");
    return VDB_OK;
}

/* ---- column scans: one loop per type and operator, 64 rows to a word ---- */

#define SCAN(COND)                                                                           \
    for (size_t w = 0; w < words; w++) {                                                     \
        size_t base = w * 64, m = rows - base < 64 ? rows - base : 64;                       \
        uint64_t bits = 0;                                                                   \
        for (size_t j = 0; j < m; j++) {                                                     \
            size_t i = base + j;                                                             \
            bits |= (uint64_t)(COND) << j;                                                   \
        }                                                                                    \
        t[w] = bits;                                                                         \
    }

#define DEF_SCAN(NAME, T, CT, LOAD)                                                          \
    static void NAME(const void *data, size_t rows, int op, CT c, uint64_t *t)               \
    {                                                                                        \
        const T *d = data;                                                                   \
        size_t words = (rows + 63) / 64;                                                     \
        switch (op) {                                                                        \
        case XO_EQ: SCAN(LOAD == c) break;                                                   \
        case XO_NE: SCAN(LOAD != c) break;                                                   \
        case XO_LT: SCAN(LOAD < c) break;                                                    \
        case XO_LE: SCAN(LOAD <= c) break;                                                   \
        case XO_GT: SCAN(LOAD > c) break;                                                    \
        default: SCAN(LOAD >= c) break;                                                      \
        }                                                                                    \
    }

DEF_SCAN(scan_i8, int8_t, int64_t, (int64_t)d[i])
DEF_SCAN(scan_i16, int16_t, int64_t, (int64_t)d[i])
DEF_SCAN(scan_i32, int32_t, int64_t, (int64_t)d[i])
DEF_SCAN(scan_i64, int64_t, int64_t, d[i])
DEF_SCAN(scan_bool, uint8_t, int64_t, (int64_t)(d[i] != 0))
DEF_SCAN(scan_f32, float, double, (double)d[i])
DEF_SCAN(scan_f64, double, double, d[i])

typedef void (*iscan_fn)(const void *, size_t, int, int64_t, uint64_t *);

static iscan_fn int_scan(vdb_type t)
{
    switch (t) {
    case VDB_TYPE_INT8: return scan_i8;
    case VDB_TYPE_INT16: return scan_i16;
    case VDB_TYPE_INT32: return scan_i32;
    case VDB_TYPE_INT64: return scan_i64;
    case VDB_TYPE_BOOL: return scan_bool;
    default: return NULL;
    }
}

/* An integer column against a non-integer constant becomes an integer comparison (x < 2.5
 * is x <= 2), or all rows / no rows: *mode 1 all, 0 none, -1 compare with op and *bound. */
static void int_vs_float(int *op, double d, int64_t *bound, int *mode)
{
    const double lim = 9223372036854775808.0; /* 2^63 */
    double f = floor(d), cl = ceil(d);
    *mode = -1;
    switch (*op) {
    case XO_EQ:
    case XO_NE:
        if (f != d || d < -lim || d >= lim)
            *mode = *op == XO_NE;
        else
            *bound = (int64_t)d;
        return;
    case XO_LT:
    case XO_GE:
        if (cl >= lim)
            *mode = *op == XO_LT;
        else if (cl < -lim)
            *mode = *op == XO_GE;
        else
            *bound = (int64_t)cl;
        return;
    default: /* LE, GT */
        if (f >= lim)
            *mode = *op == XO_LE;
        else if (f < -lim)
            *mode = *op == XO_GT;
        else
            *bound = (int64_t)f;
        return;
    }
}

static int str_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int r = memcmp(a, b, VDB_MIN(alen, blen));
    return r ? r : alen < blen ? -1 : alen > blen;
}

static void scan_str(const vdb_column *col, size_t rows, int op, const vdb_xconst *v,
                     uint64_t *t)
{
    size_t words = (rows + 63) / 64, len;
    const char *s;
#define STR_R (s = vdb_column_var(col, i, &len), str_cmp(s, len, v->s, v->len))
    switch (op) {
    case XO_EQ: SCAN(STR_R == 0) break;
    case XO_NE: SCAN(STR_R != 0) break;
    case XO_LT: SCAN(STR_R < 0) break;
    case XO_LE: SCAN(STR_R <= 0) break;
    case XO_GT: SCAN(STR_R > 0) break;
    default: SCAN(STR_R >= 0) break;
    }
#undef STR_R
}

static vdb_sval sval_of(const vdb_xconst *c)
{
    vdb_sval v = {c->type != XY_FLOAT, c->i, c->d, c->s, c->len};
    return v;
}

/* `field op constant` through the column's index; false when the index cannot answer. */
static bool cmp_index(const vdb_scalar_index *ix, const vdb_column *col, int op,
                      const vdb_xconst *cst, size_t words, uint64_t *t, const uint64_t *k)
{
    vdb_sval v = sval_of(cst);
    bool ok;
    memset(t, 0, words * 8);
    if (col->type == VDB_TYPE_BOOL && op != XO_EQ && op != XO_NE)
        return false;
    switch (op) {
    case XO_EQ:
    case XO_NE: ok = vdb_sindex_eq(ix, &v, t); break;
    case XO_LT: ok = vdb_sindex_range(ix, NULL, false, &v, false, t); break;
    case XO_LE: ok = vdb_sindex_range(ix, NULL, false, &v, true, t); break;
    case XO_GT: ok = vdb_sindex_range(ix, &v, false, NULL, false, t); break;
    default: ok = vdb_sindex_range(ix, &v, true, NULL, false, t); break;
    }
    if (!ok) {
        memset(t, 0, words * 8);
        return false;
    }
    if (op == XO_NE) /* the index holds no NULLs: != is the valid rows minus the equal ones */
        for (size_t w = 0; w < words; w++)
            t[w] = k[w] & ~t[w];
    return true;
}

static const vdb_scalar_index *index_of(const ectx *c, size_t col)
{
    return c->in->indexes ? c->in->indexes[col] : NULL;
}

static void fast_cmp(ectx *c, const vdb_xnode *x, uint64_t *t, uint64_t *k)
{
    const vdb_column *col = c->in->cols[x->a->col];
    const vdb_xconst *cst = &x->b->c;
    const vdb_scalar_index *ix = index_of(c, x->a->col);
    size_t rows = c->rows, words = c->words;
    valid_bits(col, rows, k);
    if (!(ix && cmp_index(ix, col, x->op, cst, words, t, k))) {
        iscan_fn is = int_scan(col->type);
        int op = x->op, mode = -1;
        int64_t bound = cst->i;
        if (is && cst->type == XY_FLOAT)
            int_vs_float(&op, cst->d, &bound, &mode);
        if (mode == 1)
            set_all(t, rows);
        else if (mode == 0)
            memset(t, 0, words * 8);
        else if (is)
            is(col->data, rows, op, bound, t);
        else if (col->type == VDB_TYPE_FLOAT)
            scan_f32(col->data, rows, op, num_of(cst), t);
        else if (col->type == VDB_TYPE_DOUBLE)
            scan_f64(col->data, rows, op, num_of(cst), t);
        else
            scan_str(col, rows, op, cst, t);
    }
    for (size_t w = 0; w < words; w++)
        t[w] &= k[w];
}

/* ---- in lists on columns ---- */

static bool in_index(const vdb_scalar_index *ix, const vdb_xnode *x, size_t words, uint64_t *t)
{
    memset(t, 0, words * 8);
    for (size_t i = 0; i < x->nlist; i++) {
        vdb_sval v = sval_of(&x->list[i]);
        if (!vdb_sindex_eq(ix, &v, t)) {
            memset(t, 0, words * 8);
            return false;
        }
    }
    return true;
}

/* The list is sorted by the parser (in the field's type), so a row binary-searches it. */
static bool in_sorted(const vdb_xconst *list, size_t n, const vdb_xconst *v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const vdb_xconst *m = &list[mid];
        int r;
        if (v->type == XY_STR)
            r = str_cmp(m->s, m->len, v->s, v->len);
        else if (v->type == XY_FLOAT)
            r = m->d < v->d ? -1 : m->d > v->d;
        else
            r = m->i < v->i ? -1 : m->i > v->i;
        if (r == 0)
            return true;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static void fast_in(ectx *c, const vdb_xnode *x, uint64_t *t, uint64_t *k)
{
    const vdb_column *col = c->in->cols[x->a->col];
    const vdb_scalar_index *ix = index_of(c, x->a->col);
    size_t rows = c->rows, words = c->words;
    valid_bits(col, rows, k);
    if (!(ix && in_index(ix, x, words, t))) {
        for (size_t w = 0; w < words; w++) {
            size_t base = w * 64, m = VDB_MIN(rows - base, (size_t)64);
            uint64_t bits = 0;
            for (size_t j = 0; j < m; j++) {
                vdb_xconst v;
                get_val(c, x->a, base + j, NULL, &v);
                if (x->a->type == XY_BOOL)
                    v.type = XY_BOOL; /* bools sort as ints */
                bits |= (uint64_t)in_sorted(x->list, x->nlist, &v) << j;
            }
            t[w] = bits;
        }
    }
    for (size_t w = 0; w < words; w++)
        t[w] &= k[w];
}

/* ---- like on varchar columns ---- */

static void fast_like(ectx *c, const vdb_xnode *x, uint64_t *t, uint64_t *k)
{
    const vdb_column *col = c->in->cols[x->a->col];
    const vdb_scalar_index *ix = index_of(c, x->a->col);
    size_t rows = c->rows, words = c->words, lit = 0;
    valid_bits(col, rows, k);
    while (lit < x->npat && x->pat[lit] < 256)
        lit++;
    bool exact = lit == x->npat;
    bool prefix = lit + 1 == x->npat && x->pat[lit] == VDB_LIKE_ANY;
    bool done = false;
    if (ix && (exact || prefix)) {
        char *p = vdb_malloc(lit + 1);
        if (p) { /* without memory the scan below still answers */
            for (size_t i = 0; i < lit; i++)
                p[i] = (char)x->pat[i];
            memset(t, 0, words * 8);
            vdb_xconst v = {.type = XY_STR, .s = p, .len = lit};
            vdb_sval sv = sval_of(&v);
            done = exact ? vdb_sindex_eq(ix, &sv, t) : vdb_sindex_prefix(ix, p, lit, t);
            vdb_free(p);
        }
    }
    if (!done) {
        const char *s;
        size_t len;
        SCAN((s = vdb_column_var(col, i, &len), like_match(s, len, x->pat, x->npat)))
    }
    for (size_t w = 0; w < words; w++)
        t[w] &= k[w];
}

/* ---- array_contains* on an ARRAY field with an element index ---- */

/* true when the element index answered: t gets the rows whose array holds a matching
 * element (one of the list for _any, every one for _all), k the non-NULL rows. */
static bool contains_index(ectx *c, const vdb_xnode *x, uint64_t *t, uint64_t *k)
{
    const vdb_xnode *a = x->a;
    if (a->kind != XN_JSON || a->nsteps || a->elem == XY_NONE || !a->field ||
        a->field->type != VDB_TYPE_ARRAY)
        return false;
    const vdb_scalar_index *ix = index_of(c, a->col);
    if (!ix || !vdb_sindex_is_elems(ix))
        return false;
    size_t words = c->words;
    uint64_t *one = NULL;
    if (x->op == XF_ALL && x->nlist > 1 && !(one = vdb_malloc(words * 8)))
        return false; /* without memory the scan still answers */
    valid_bits(c->in->cols[a->col], c->rows, k);
    if (x->op == XF_ALL)
        memcpy(t, k, words * 8); /* all of nothing holds for every array */
    else
        memset(t, 0, words * 8);
    bool ok = true;
    for (size_t i = 0; i < x->nlist && ok; i++) {
        vdb_sval v = sval_of(&x->list[i]);
        if (x->op != XF_ALL) {
            ok = vdb_sindex_eq(ix, &v, t);
            continue;
        }
        uint64_t *dst = one ? one : t;
        if (one)
            memset(one, 0, words * 8);
        else
            memset(t, 0, words * 8);
        ok = vdb_sindex_eq(ix, &v, dst);
        for (size_t w = 0; one && ok && w < words; w++)
            t[w] &= one[w];
    }
    vdb_free(one);
    for (size_t w = 0; ok && w < words; w++)
        t[w] &= k[w];
    return ok;
}

/* ---- the tree ---- */

static vdb_status eval_node(ectx *c, const vdb_xnode *x, uint64_t *t, uint64_t *k);

static vdb_status eval_chain(ectx *c, const vdb_xnode *x, uint64_t *t, uint64_t *k)
{
    size_t words = c->words;
    vdb_status st = eval_node(c, x->kids[0], t, k);
    if (st != VDB_OK)
        return st;
    uint64_t *t2 = vdb_malloc(VDB_MAX(words, (size_t)1) * 16);
    if (!t2)
        return vdb_set_errmsg(VDB_ENOMEM, "filter: out of memory");
    uint64_t *k2 = t2 + words;
    for (size_t i = 1; i < x->nkids; i++) {
        if ((st = eval_node(c, x->kids[i], t2, k2)) != VDB_OK)
            break;
        for (size_t w = 0; w < words; w++) {
            /* false = known and not true; and: false wins, or: true wins */
            uint64_t f1 = k[w] & ~t[w], f2 = k2[w] & ~t2[w], tt, ff;
            if (x->kind == XN_AND) {
                tt = t[w] & t2[w];
                ff = f1 | f2;
            } else {
                tt = t[w] | t2[w];
                ff = f1 & f2;
            }
            t[w] = tt;
            k[w] = tt | ff;
        }
    }
    vdb_free(t2);
    return st;
}

static vdb_status eval_node(ectx *c, const vdb_xnode *x, uint64_t *t, uint64_t *k)
{
    vdb_status st;
    switch (x->kind) {
    case XN_BOOL:
        set_all(k, c->rows);
        if (x->c.i)
            set_all(t, c->rows);
        else
            memset(t, 0, c->words * 8);
        return VDB_OK;
    case XN_AND:
    case XN_OR: return eval_chain(c, x, t, k);
    case XN_NOT:
        if ((st = eval_node(c, x->a, t, k)) != VDB_OK)
            return st;
        for (size_t w = 0; w < c->words; w++)
            t[w] = k[w] & ~t[w];
        return VDB_OK;
    case XN_CMP:
        if (x->a->kind == XN_FIELD && x->b->kind == XN_CONST) {
            fast_cmp(c, x, t, k);
            return VDB_OK;
        }
        if (x->a->kind == XN_JSON && vdb_jindex_cmp(c->jin, x, c->words, t, k))
            return VDB_OK;
        break;
    case XN_IN:
        if (x->a->kind == XN_FIELD) {
            fast_in(c, x, t, k);
            return VDB_OK;
        }
        if (x->a->kind == XN_JSON && vdb_jindex_in(c->jin, x, c->words, t, k))
            return VDB_OK;
        break;
    case XN_LIKE:
        if (x->a->kind == XN_FIELD) {
            fast_like(c, x, t, k);
            return VDB_OK;
        }
        if (x->a->kind == XN_JSON && vdb_jindex_like(c->jin, x, c->words, t, k))
            return VDB_OK;
        break;
    case XN_CONTAINS:
        if (contains_index(c, x, t, k))
            return VDB_OK;
        break;
    case XN_ISNULL:
        if (x->a->kind == XN_FIELD) {
            valid_bits(c->in->cols[x->a->col], c->rows, t);
            set_all(k, c->rows);
            if (!x->negate)
                for (size_t w = 0; w < c->words; w++)
                    t[w] = k[w] & ~t[w];
            return VDB_OK;
        }
        break;
    default: break;
    }
    return eval_rows(c, x, t, k);
}

vdb_status vdb_expr_eval(const vdb_expr *e, const vdb_expr_input *in, uint64_t *out)
{
    return vdb_expr_eval_json(e, in, NULL, 0, out);
}

vdb_status vdb_expr_eval_json(const vdb_expr *e, const vdb_expr_input *in,
                              const vdb_jindex *const *jx, size_t njx, uint64_t *out)
{
    if (!e || !in || (!out && in->rows))
        return vdb_set_errmsg(VDB_EINVAL, "filter: expression, input or output is NULL");
    size_t words = (in->rows + 63) / 64;
    if (words)
        memset(out, 0, words * 8);
    if (!in->rows)
        return VDB_OK;
    for (size_t i = 0; i < e->nuses; i++) {
        const vdb_column *col = in->cols ? in->cols[e->uses[i].col] : NULL;
        if (!col || col->type != e->uses[i].type || col->rows < in->rows)
            return vdb_set_errmsg(VDB_EINVAL, "filter: column %zu is %s with %zu rows, the "
                                  "filter expects %s with %zu", e->uses[i].col,
                                  col ? vdb_type_name(col->type) : "missing",
                                  col ? col->rows : 0, vdb_type_name(e->uses[i].type), in->rows);
    }
    vdb_jinput jin = {jx, njx, in->rows};
    ectx c = {in, &jin, in->rows, words, {0}, {0}, NULL, false};
    uint64_t *k = vdb_malloc(words * 8);
    if (!k)
        return vdb_set_errmsg(VDB_ENOMEM, "filter: out of memory");
    vdb_status st = eval_node(&c, e->root, out, k);
    if (st != VDB_OK)
        memset(out, 0, words * 8);
    vdb_free(k);
    vdb_buf_free(&c.s1);
    vdb_buf_free(&c.s2);
    return st;
}

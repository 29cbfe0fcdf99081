/* JSON path indexes: the values at one path of a JSON column, read as the evaluator reads
 * them (eval.c's JSON helpers), cast to one type, written into a plain column and indexed
 * by the existing scalar kinds (sorted for DOUBLE, trie for VARCHAR, inverted for BOOL).
 * Beside the index: the rows where the path holds any non-null value (a comparison there is
 * known: true or false) and the rows of the cast type (the ones the index holds). */
#include <math.h>
#include <strings.h>

#include "expr_int.h"
#include "jindex.h"

static const char *const cast_names[] = {
    [VDB_JCAST_BOOL] = "BOOL",
    [VDB_JCAST_DOUBLE] = "DOUBLE",
    [VDB_JCAST_VARCHAR] = "VARCHAR",
};

vdb_jcast vdb_jcast_find(const char *name)
{
    for (size_t k = 1; name && k < VDB_ARRAY_LEN(cast_names); k++)
        if (!strcasecmp(name, cast_names[k]))
            return (vdb_jcast)k;
    return 0;
}

const char *vdb_jcast_name(vdb_jcast cast)
{
    return cast > 0 && (size_t)cast < VDB_ARRAY_LEN(cast_names) ? cast_names[cast] : "";
}

/* The steps back from a key (they point into it). */
static size_t steps_of(const char *key, size_t len, vdb_xstep *steps, char **keys)
{
    size_t n = 0, at = 0;
    while (at + 9 <= len) {
        uint64_t v;
        memcpy(&v, key + at + 1, 8);
        if (key[at] == 'k') {
            memcpy(keys[n], key + at + 9, (size_t)v);
            keys[n][v] = 0;
            steps[n] = (vdb_xstep){keys[n], 0};
            at += 9 + (size_t)v;
        } else {
            steps[n] = (vdb_xstep){NULL, (int64_t)v};
            at += 9;
        }
        n++;
    }
    return n;
}

static size_t count_steps(const char *key, size_t len)
{
    size_t n = 0, at = 0;
    while (at + 9 <= len) {
        uint64_t v;
        memcpy(&v, key + at + 1, 8);
        at += 9 + (key[at] == 'k' ? (size_t)v : 0);
        n++;
    }
    return n;
}

void vdb_jindex_free(vdb_jindex *ix)
{
    if (!ix)
        return;
    vdb_sindex_free(ix->ix);
    vdb_free(ix->key);
    vdb_free(ix->present);
    vdb_free(ix->typed);
    vdb_free(ix);
}

size_t vdb_jindex_memory(const vdb_jindex *ix)
{
    return sizeof *ix + ix->len + 2 * (ix->rows / 64 + 1) * 8 +
           (ix->ix ? vdb_sindex_memory(ix->ix) : 0);
}

#define EXACT_INT (INT64_C(1) << 53) /* ints up to this compare as doubles exactly */

/* Reads every row's value at the path into cast (a column of the cast type, NULL where the
 * row has no value of that type). */
static vdb_status extract(const vdb_column *col, vdb_jindex *ix, vdb_column *cast)
{
    vdb_xstep *steps = NULL;
    char **keys = NULL;
    vdb_buf scratch = {0};
    vdb_status st = VDB_OK;
    size_t n = count_steps(ix->key, ix->len);
    steps = vdb_calloc(n + 1, sizeof *steps);
    keys = vdb_calloc(n + 1, sizeof *keys);
    if (!steps || !keys) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (!(keys[i] = vdb_malloc(ix->len + 1))) {
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            goto done;
        }
    steps_of(ix->key, ix->len, steps, keys);
    for (size_t r = 0; r < col->rows && st == VDB_OK; r++) {
        vdb_xconst v = {0};
        bool oom = false, typed = false;
        if (!vdb_column_is_null(col, r)) {
            size_t tn, vlen;
            const char *t = vdb_column_var(col, r, &tn), *s;
            if (vdb_expr_json_follow(t, tn, steps, n, &s, &vlen))
                vdb_expr_json_value(s, vlen, &scratch, &v, &oom);
        }
        if (oom) {
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            break;
        }
        if (v.type != XY_NONE)
            ix->present[r / 64] |= UINT64_C(1) << (r % 64);
        switch (ix->cast) {
        case VDB_JCAST_BOOL: {
            uint8_t b = v.i != 0;
            typed = v.type == XY_BOOL;
            st = vdb_column_push(cast, &b, 1, typed);
            break;
        }
        case VDB_JCAST_DOUBLE: {
            double d = v.type == XY_INT ? (double)v.i : v.d;
            typed = v.type == XY_INT || v.type == XY_FLOAT;
            if (v.type == XY_INT && (v.i > EXACT_INT || v.i < -EXACT_INT))
                ix->big_ints = true;
            if (typed && isnan(d))
                ix->big_ints = true; /* never from JSON text; if it were, scan instead */
            st = vdb_column_push(cast, &d, 8, typed);
            break;
        }
        default:
            typed = v.type == XY_STR;
            st = vdb_column_push(cast, typed ? v.s : "", typed ? v.len : 0, typed);
            break;
        }
        if (typed)
            ix->typed[r / 64] |= UINT64_C(1) << (r % 64);
    }
done:
    for (size_t i = 0; keys && i < n; i++)
        vdb_free(keys[i]);
    vdb_free(keys);
    vdb_free(steps);
    vdb_buf_free(&scratch);
    return st;
}

vdb_status vdb_jindex_build(const vdb_column *col, size_t colno, const char *key, size_t len,
                            vdb_jcast cast, vdb_jindex **out)
{
    *out = NULL;
    if (!col || col->type != VDB_TYPE_JSON || !vdb_jcast_name(cast)[0])
        return vdb_set_errmsg(VDB_EINVAL, "JSON path index: not a JSON column, or no cast");
    vdb_jindex *ix = vdb_calloc(1, sizeof *ix);
    vdb_column c;
    vdb_type t = cast == VDB_JCAST_BOOL ? VDB_TYPE_BOOL : cast == VDB_JCAST_DOUBLE
                                                             ? VDB_TYPE_DOUBLE : VDB_TYPE_VARCHAR;
    vdb_column_init(&c, t, 0, true);
    vdb_status st = VDB_OK;
    if (!ix || !(ix->key = vdb_malloc(len + 1)) ||
        !(ix->present = vdb_calloc(col->rows / 64 + 1, 8)) ||
        !(ix->typed = vdb_calloc(col->rows / 64 + 1, 8))) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(ix->key, key, len);
    ix->len = len;
    ix->col = colno;
    ix->cast = cast;
    ix->rows = col->rows;
    if ((st = extract(col, ix, &c)) != VDB_OK)
        goto done;
    vdb_sindex_kind kind = cast == VDB_JCAST_BOOL ? VDB_SINDEX_INVERTED : cast == VDB_JCAST_DOUBLE
                                                       ? VDB_SINDEX_SORTED : VDB_SINDEX_TRIE;
    st = vdb_sindex_build(kind, &c, &ix->ix);
done:
    vdb_column_free(&c);
    if (st != VDB_OK)
        vdb_jindex_free(ix);
    else
        *out = ix;
    return st;
}

/* ---- answering leaves of a filter ---- */

/* The index for x (an XN_JSON node) in the input, or NULL. */
static const vdb_jindex *find(const vdb_jinput *in, const vdb_xnode *x)
{
    if (!in || !in->n || x->kind != XN_JSON || x->elem != XY_NONE || !x->nsteps)
        return NULL;
    vdb_buf b = {0};
    const vdb_jindex *hit = NULL;
    if (vdb_expr_path_key(x->steps, x->nsteps, &b))
        for (size_t i = 0; i < in->n && !hit; i++) {
            const vdb_jindex *j = in->ix[i];
            if (j && j->col == x->col && j->rows == in->rows && j->len == b.len &&
                !memcmp(j->key, b.p, b.len))
                hit = j;
        }
    vdb_buf_free(&b);
    return hit;
}

/* The constant as the index's key, or false when the index cannot answer for it exactly. */
static bool key_for(const vdb_jindex *j, const vdb_xconst *c, vdb_sval *v)
{
    *v = (vdb_sval){0};
    switch (j->cast) {
    case VDB_JCAST_BOOL:
        v->is_int = true;
        v->i = c->i != 0;
        return c->type == XY_BOOL;
    case VDB_JCAST_DOUBLE:
        if (c->type == XY_INT) {
            if (j->big_ints || c->i > EXACT_INT || c->i < -EXACT_INT)
                return false;
            v->d = (double)c->i;
            return true;
        }
        v->d = c->d;
        return c->type == XY_FLOAT && !j->big_ints && !isnan(c->d);
    default:
        v->s = c->s ? c->s : "";
        v->len = c->len;
        return c->type == XY_STR;
    }
}

bool vdb_jindex_cmp(const vdb_jinput *in, const vdb_xnode *x, size_t words, uint64_t *t,
                    uint64_t *k)
{
    const vdb_jindex *j = find(in, x->a);
    vdb_sval v;
    if (!j || x->b->kind != XN_CONST || !key_for(j, &x->b->c, &v))
        return false;
    if (j->cast == VDB_JCAST_BOOL && x->op != XO_EQ && x->op != XO_NE)
        return false;
    memset(t, 0, words * 8);
    bool ok;
    switch (x->op) {
    case XO_EQ:
    case XO_NE: ok = vdb_sindex_eq(j->ix, &v, t); break;
    case XO_LT: ok = vdb_sindex_range(j->ix, NULL, false, &v, false, t); break;
    case XO_LE: ok = vdb_sindex_range(j->ix, NULL, false, &v, true, t); break;
    case XO_GT: ok = vdb_sindex_range(j->ix, &v, false, NULL, false, t); break;
    default: ok = vdb_sindex_range(j->ix, &v, true, NULL, false, t); break;
    }
    if (!ok)
        return false;
    /* known wherever the path holds a value; values of other types compare false */
    for (size_t w = 0; w < words; w++) {
        if (x->op == XO_NE)
            t[w] = j->typed[w] & ~t[w];
        k[w] = j->present[w];
    }
    return true;
}

bool vdb_jindex_in(const vdb_jinput *in, const vdb_xnode *x, size_t words, uint64_t *t,
                   uint64_t *k)
{
    const vdb_jindex *j = find(in, x->a);
    vdb_sval v;
    if (!j)
        return false;
    for (size_t i = 0; i < x->nlist; i++)
        if (!key_for(j, &x->list[i], &v))
            return false;
    memset(t, 0, words * 8);
    for (size_t i = 0; i < x->nlist; i++) {
        key_for(j, &x->list[i], &v);
        if (!vdb_sindex_eq(j->ix, &v, t))
            return false;
    }
    memcpy(k, j->present, words * 8);
    return true;
}

bool vdb_jindex_like(const vdb_jinput *in, const vdb_xnode *x, size_t words, uint64_t *t,
                     uint64_t *k)
{
    const vdb_jindex *j = find(in, x->a);
    size_t lit = 0;
    if (!j || j->cast != VDB_JCAST_VARCHAR)
        return false;
    while (lit < x->npat && x->pat[lit] < 256)
        lit++;
    bool exact = lit == x->npat;
    if (!exact && !(lit + 1 == x->npat && x->pat[lit] == VDB_LIKE_ANY))
        return false; /* only "abc" and "abc%" have an answer in the index */
    char *p = vdb_malloc(lit + 1);
    if (!p)
        return false; /* the scan still answers */
    for (size_t i = 0; i < lit; i++)
        p[i] = (char)x->pat[i];
    memset(t, 0, words * 8);
    vdb_sval v = {.s = p, .len = lit};
    bool ok = exact ? vdb_sindex_eq(j->ix, &v, t) : vdb_sindex_prefix(j->ix, p, lit, t);
    vdb_free(p);
    if (ok)
        memcpy(k, j->present, words * 8);
    return ok;
}

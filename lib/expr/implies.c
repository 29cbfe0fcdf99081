/* What a filter implies about one column: the finite set of constants the column must equal
 * for the filter to be true (partition-key pruning). Conservative: anything not recognised
 * implies nothing. */
#include "expr/expr_int.h"

/* fn NULL: only checks. Returns whether node implies col in a finite set of constants of the
 * column's kind (XY_INT or XY_STR), and calls fn for each (duplicates possible). */
static bool implies(const vdb_xnode *x, size_t col, vdb_expr_value_fn fn, void *arg)
{
    switch (x->kind) {
    case XN_CMP:
        if (x->op != XO_EQ || x->a->kind != XN_FIELD || x->a->col != col ||
            x->b->kind != XN_CONST || (x->b->c.type != XY_INT && x->b->c.type != XY_STR) ||
            x->b->c.type != x->a->type)
            return false;
        if (fn)
            fn(arg, x->b->c.i, x->b->c.s, x->b->c.len, x->b->c.type == XY_STR);
        return true;
    case XN_IN:
        if (x->a->kind != XN_FIELD || x->a->col != col)
            return false;
        for (size_t i = 0; i < x->nlist; i++)
            if (x->list[i].type != x->a->type ||
                (x->list[i].type != XY_INT && x->list[i].type != XY_STR))
                return false;
        for (size_t i = 0; fn && i < x->nlist; i++)
            fn(arg, x->list[i].i, x->list[i].s, x->list[i].len, x->list[i].type == XY_STR);
        return true;
    case XN_AND: /* one conjunct that implies a set is enough */
        for (size_t i = 0; i < x->nkids; i++)
            if (implies(x->kids[i], col, NULL, NULL))
                return implies(x->kids[i], col, fn, arg);
        return false;
    case XN_OR: /* every disjunct must: the union */
        for (size_t i = 0; i < x->nkids; i++)
            if (!implies(x->kids[i], col, NULL, NULL))
                return false;
        for (size_t i = 0; fn && i < x->nkids; i++)
            implies(x->kids[i], col, fn, arg);
        return true;
    default:
        return false;
    }
}

bool vdb_expr_implies_values(const vdb_expr *e, size_t col, vdb_expr_value_fn fn, void *arg)
{
    if (!e || !e->root || !implies(e->root, col, NULL, NULL))
        return false;
    implies(e->root, col, fn, arg);
    return true;
}

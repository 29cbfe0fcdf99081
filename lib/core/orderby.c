/* order_by: ranking matches by scalar fields with a bounded max-heap (the worst kept row on
 * top, replaced by a better one), then a heap sort of what is kept. */
#include <math.h>

#include "core/orderby.h"

typedef struct order_key {
    size_t col;
    vdb_type type;
    bool desc;
} order_key;

struct vdb_order_heap {
    const vdb_collection *c;
    order_key *keys;
    size_t nkeys;
    size_t cap; /* 0: no bound */
    vdb_order_row *rows;
    size_t n, alloc;
};

static bool sortable(vdb_type t)
{
    switch (t) {
    case VDB_TYPE_BOOL:
    case VDB_TYPE_INT8:
    case VDB_TYPE_INT16:
    case VDB_TYPE_INT32:
    case VDB_TYPE_INT64:
    case VDB_TYPE_FLOAT:
    case VDB_TYPE_DOUBLE:
    case VDB_TYPE_VARCHAR: return true;
    default: return false;
    }
}

vdb_status vdb_order_new(const vdb_collection *c, const vdb_order_by *by, size_t n, size_t cap,
                         vdb_order_heap **out)
{
    *out = NULL;
    vdb_order_heap *h = vdb_calloc(1, sizeof *h);
    if (!h || !(h->keys = vdb_calloc(n + 1, sizeof *h->keys))) {
        vdb_free(h);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    h->c = c;
    h->cap = cap;
    for (size_t i = 0; i < n; i++) {
        const char *name = by[i].field;
        int f = name ? vdb_schema_find(c->schema, name) : -1;
        vdb_status st = VDB_OK;
        if (f < 0)
            st = vdb_set_errmsg(VDB_EINVAL, "order_by: collection '%s' has no field '%s'",
                                c->name, name ? name : "(null)");
        else if (!sortable(c->types[f]))
            st = vdb_set_errmsg(VDB_EINVAL, "order_by: field '%s' is %s: only bool, integer, "
                                "float, double and varchar fields sort", name,
                                vdb_type_name(c->types[f]));
        for (size_t j = 0; j < i && st == VDB_OK; j++)
            if (h->keys[j].col == (size_t)f)
                st = vdb_set_errmsg(VDB_EINVAL, "order_by: field '%s' is named twice", name);
        if (st != VDB_OK) {
            vdb_order_free(h);
            return st;
        }
        h->keys[i] = (order_key){(size_t)f, c->types[f], by[i].desc != 0};
    }
    h->nkeys = n;
    *out = h;
    return VDB_OK;
}

void vdb_order_free(vdb_order_heap *h)
{
    if (!h)
        return;
    vdb_free(h->keys);
    vdb_free(h->rows);
    vdb_free(h);
}

static double num_at(const vdb_column *col, size_t row, int64_t *i, bool *is_int)
{
    const void *p = vdb_column_at(col, row);
    *is_int = true;
    switch (col->type) {
    case VDB_TYPE_BOOL: *i = *(const uint8_t *)p != 0; return 0;
    case VDB_TYPE_INT8: *i = *(const int8_t *)p; return 0;
    case VDB_TYPE_INT16: { int16_t v; memcpy(&v, p, 2); *i = v; return 0; }
    case VDB_TYPE_INT32: { int32_t v; memcpy(&v, p, 4); *i = v; return 0; }
    case VDB_TYPE_INT64: memcpy(i, p, 8); return 0;
    case VDB_TYPE_FLOAT: { float v; memcpy(&v, p, 4); *is_int = false; return v; }
    default: { double v; memcpy(&v, p, 8); *is_int = false; return v; }
    }
}

/* <0 when a ranks before b. NULLs last in both directions; NaN after every number. */
static int cmp_key(const order_key *k, const vdb_order_row *a, const vdb_order_row *b)
{
    const vdb_column *ca = vdb_segment_column(a->s, k->col);
    const vdb_column *cb = vdb_segment_column(b->s, k->col);
    bool na = vdb_column_is_null(ca, a->row), nb = vdb_column_is_null(cb, b->row);
    if (na || nb)
        return na - nb;
    int r;
    if (k->type == VDB_TYPE_VARCHAR) {
        size_t la, lb;
        const char *sa = vdb_column_var(ca, a->row, &la), *sb = vdb_column_var(cb, b->row, &lb);
        r = memcmp(sa, sb, VDB_MIN(la, lb));
        r = r ? (r < 0 ? -1 : 1) : la < lb ? -1 : la > lb;
    } else {
        int64_t ia = 0, ib = 0;
        bool ii;
        double da = num_at(ca, a->row, &ia, &ii), db = num_at(cb, b->row, &ib, &ii);
        if (ii) {
            r = ia < ib ? -1 : ia > ib;
        } else {
            bool xa = isnan(da), xb = isnan(db);
            if (xa || xb)
                return xa - xb;
            r = da < db ? -1 : da > db;
        }
    }
    return k->desc ? -r : r;
}

static int cmp_rows(const vdb_order_heap *h, const vdb_order_row *a, const vdb_order_row *b)
{
    for (size_t i = 0; i < h->nkeys; i++) {
        int r = cmp_key(&h->keys[i], a, b);
        if (r)
            return r;
    }
    size_t pk = (size_t)h->c->schema->pk;
    return vdb_pk_cmp(vdb_pk_of(vdb_segment_column(a->s, pk), a->row),
                      vdb_pk_of(vdb_segment_column(b->s, pk), b->row));
}

static void sift_down(vdb_order_heap *h, size_t n, size_t i)
{
    vdb_order_row *x = h->rows;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && cmp_rows(h, &x[l], &x[m]) > 0)
            m = l;
        if (r < n && cmp_rows(h, &x[r], &x[m]) > 0)
            m = r;
        if (m == i)
            return;
        vdb_order_row t = x[i];
        x[i] = x[m];
        x[m] = t;
        i = m;
    }
}

vdb_status vdb_order_add(vdb_order_heap *h, vdb_segment *s, size_t row)
{
    vdb_order_row add = {s, row};
    if (h->cap && h->n == h->cap) {
        if (cmp_rows(h, &add, &h->rows[0]) < 0) {
            h->rows[0] = add;
            sift_down(h, h->n, 0);
        }
        return VDB_OK;
    }
    if (h->n == h->alloc) {
        size_t want = h->alloc ? 2 * h->alloc : 64;
        if (h->cap && want > h->cap)
            want = h->cap;
        vdb_order_row *g = vdb_realloc(h->rows, want * sizeof *g);
        if (!g)
            return vdb_set_errmsg(VDB_ENOMEM, "order_by: out of memory for %zu rows", want);
        h->rows = g;
        h->alloc = want;
    }
    size_t i = h->n++;
    h->rows[i] = add;
    while (i && cmp_rows(h, &h->rows[(i - 1) / 2], &h->rows[i]) < 0) {
        vdb_order_row t = h->rows[i];
        h->rows[i] = h->rows[(i - 1) / 2];
        h->rows[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
    return VDB_OK;
}

void vdb_order_sort(vdb_order_heap *h, const vdb_order_row **rows, size_t *n)
{
    for (size_t k = h->n; k > 1; k--) { /* the worst to the end */
        vdb_order_row t = h->rows[0];
        h->rows[0] = h->rows[k - 1];
        h->rows[k - 1] = t;
        sift_down(h, k - 1, 0);
    }
    *rows = h->rows;
    *n = h->n;
}

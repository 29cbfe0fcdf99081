/* Reads and deletes by filter: query (rows that pass, with limit and offset), count, and
 * delete_where (the matching keys deleted at one timestamp). */
#include "core/filter.h"
#include "core/orderby.h"
#include "core/partkey.h"
#include "core/readpath.h"
#include "core/result.h"
#include "core/search.h"
#include "core/write.h"

/* The segments a read covers, with each one's bitset of visible rows that pass the filter.
 * Hands back one segment at a time through fn; stops when fn returns non-zero. */
typedef int (*match_fn)(void *arg, vdb_segment *s, const uint64_t *bits, size_t rows);

static vdb_status for_each_match(vdb_collection *c, const vdb_expr *filter, uint64_t T,
                                 const vdb_read_opts *read, match_fn fn, void *arg)
{
    bool *want = vdb_calloc(c->nparts + 1, sizeof *want);
    vdb_seg_set set = {0};
    uint64_t *bits = NULL;
    vdb_status st = want ? vdb_pick_partitions(c, read, want)
                         : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    if (st == VDB_OK)
        vdb_key_prune(c, filter, want);
    if (st == VDB_OK)
        st = vdb_pick_segments(c, want, UINT32_MAX, &set);
    if (st == VDB_OK)
        __atomic_add_fetch(&c->read_segments, set.n, __ATOMIC_RELAXED);
    for (size_t i = 0; i < set.n && st == VDB_OK; i++) {
        vdb_segment *s = set.segs[i];
        size_t rows = vdb_segment_rows(s);
        vdb_free(bits);
        if (!(bits = vdb_calloc(rows / 64 + 1, sizeof *bits))) {
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            break;
        }
        if (!rows || vdb_collection_visible(c, s, T, bits) == 0)
            continue;
        st = vdb_filter_apply(c, filter, s, bits);
        if (st == VDB_OK && fn(arg, s, bits, rows))
            break;
    }
    vdb_free(bits);
    vdb_free(set.segs);
    vdb_free(want);
    return st;
}

static size_t popcount_bits(const uint64_t *bits, size_t rows)
{
    size_t n = 0;
    for (size_t w = 0; w < rows / 64 + 1; w++)
        n += (size_t)__builtin_popcountll(bits[w]);
    return n;
}

static int count_rows(void *arg, vdb_segment *s, const uint64_t *bits, size_t rows)
{
    (void)s;
    *(uint64_t *)arg += popcount_bits(bits, rows);
    return 0;
}

/* Opens a read: the collection (catalog lock held on success), its filter and timestamp. */
static vdb_status begin_read(vdb_db *db, const char *collection, const char *filter,
                             const vdb_read_opts *read, vdb_collection **c, vdb_expr **e,
                             uint64_t *T)
{
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_status st = vdb_catalog_lookup(&db->catalog, collection, c);
    if (st == VDB_OK)
        st = vdb_filter_compile(*c, filter, e);
    if (st == VDB_OK)
        st = vdb_read_ts(db, read, T);
    if (st != VDB_OK) {
        if (*e)
            vdb_expr_free(*e);
        *e = NULL;
        vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    }
    return st;
}

static void end_read(vdb_db *db, vdb_expr *e)
{
    if (e)
        vdb_expr_free(e);
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
}

vdb_status vdb_count(vdb_db *db, const char *collection, const char *filter,
                     const vdb_read_opts *read_in, uint64_t *count)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && count, "vdb_count: db, collection or count is NULL");
    *count = 0;
    vdb_read_opts ropts;
    vdb_status rst = vdb_read_opts_copy(read_in, &ropts);
    if (rst == VDB_OK)
        rst = vdb_follow_before_read(db, &ropts);
    if (rst != VDB_OK)
        return rst;
    const vdb_read_opts *read = &ropts;
    vdb_collection *c;
    vdb_expr *e = NULL;
    uint64_t T;
    vdb_status st = begin_read(db, collection, filter, read, &c, &e, &T);
    if (st != VDB_OK)
        return st;
    vdb_lock_rd(&c->lock, VDB_RANK_COLL);
    st = for_each_match(c, e, T, read, count_rows, count);
    vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    end_read(db, e);
    return st;
}

typedef struct query_rows {
    vdb_collection *c;
    vdb_result *r;
    const vdb_out_field *of;
    size_t nof;
    uint64_t skip, limit; /* limit 0: no limit */
    vdb_status st;
} query_rows;

static int take_rows(void *arg, vdb_segment *s, const uint64_t *bits, size_t rows)
{
    query_rows *q = arg;
    for (size_t w = 0; w < rows / 64 + 1; w++) {
        for (uint64_t b = bits[w]; b; b &= b - 1) {
            if (q->skip) {
                q->skip--;
                continue;
            }
            if (q->limit && q->r->pks.rows >= q->limit)
                return 1;
            size_t row = w * 64 + (size_t)__builtin_ctzll(b);
            q->st = vdb_result_push(q->c, q->r, q->of, q->nof, s, row);
            if (q->st != VDB_OK)
                return 1;
        }
    }
    return q->limit && q->r->pks.rows >= q->limit;
}

static bool is_count_star(const vdb_read_opts *read)
{
    return read && read->n_output_fields == 1 && read->output_fields &&
           read->output_fields[0] && !strcmp(read->output_fields[0], "count(*)");
}

/* The one-row answer to output_fields ["count(*)"]. */
static vdb_status count_result(vdb_collection *c, uint64_t n, vdb_result **out)
{
    vdb_result *r;
    vdb_status st = vdb_result_new(c->types[c->schema->pk], 1, 1, &r);
    if (st != VDB_OK)
        return st;
    int64_t zero = 0, v = (int64_t)n;
    r->names[0] = vdb_strdup("count(*)");
    vdb_column_init(&r->fields[0], VDB_TYPE_INT64, 0, true);
    st = r->names[0] ? vdb_column_push(&r->fields[0], &v, 8, true)
                     : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    if (st == VDB_OK) /* the row has no key: 0 or "" */
        st = r->pks.type == VDB_TYPE_INT64 ? vdb_column_push(&r->pks, &zero, 8, true)
                                           : vdb_column_push(&r->pks, "", 1, true);
    if (st != VDB_OK) {
        vdb_result_free(r);
        return st;
    }
    r->group_off[1] = 1;
    *out = r;
    return VDB_OK;
}

typedef struct ordered_rows {
    vdb_order_heap *h;
    vdb_status st;
} ordered_rows;

static int take_ordered(void *arg, vdb_segment *s, const uint64_t *bits, size_t rows)
{
    ordered_rows *o = arg;
    for (size_t w = 0; w < rows / 64 + 1; w++)
        for (uint64_t b = bits[w]; b; b &= b - 1)
            if ((o->st = vdb_order_add(o->h, s, w * 64 + (size_t)__builtin_ctzll(b))) != VDB_OK)
                return 1;
    return 0;
}

/* The matches of e ranked by `by` into r, offset and limit applied (c->lock read held). */
static vdb_status query_ordered(vdb_collection *c, const vdb_expr *e, uint64_t T,
                                const vdb_read_opts *read, uint64_t limit, uint64_t offset,
                                const vdb_order_by *by, size_t nby, vdb_result *r,
                                const vdb_out_field *of, size_t nof)
{
    uint64_t cap = limit ? offset + limit : 0;
    if (limit && (cap < offset || cap > SIZE_MAX / 2))
        return vdb_set_errmsg(VDB_EINVAL, "vdb_query: offset + limit is too large to order");
    vdb_order_heap *h;
    vdb_status st = vdb_order_new(c, by, nby, (size_t)cap, &h);
    if (st != VDB_OK)
        return st;
    ordered_rows o = {h, VDB_OK};
    st = for_each_match(c, e, T, read, take_ordered, &o);
    if (st == VDB_OK)
        st = o.st;
    const vdb_order_row *rows;
    size_t n;
    vdb_order_sort(h, &rows, &n);
    for (size_t i = (size_t)VDB_MIN(offset, (uint64_t)n); i < n && st == VDB_OK; i++)
        st = vdb_result_push(c, r, of, nof, rows[i].s, rows[i].row);
    vdb_order_free(h);
    return st;
}

static vdb_status query_impl(vdb_db *db, const char *collection, const char *filter,
                             const vdb_read_opts *read_in, uint64_t limit, uint64_t offset,
                             const vdb_order_by *by, size_t nby, vdb_result **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && out, "vdb_query: db, collection or out is NULL");
    *out = NULL;
    vdb_read_opts ropts;
    vdb_status rst = vdb_read_opts_copy(read_in, &ropts);
    if (rst == VDB_OK)
        rst = vdb_follow_before_read(db, &ropts);
    if (rst != VDB_OK)
        return rst;
    const vdb_read_opts *read = &ropts;
    if (is_count_star(read)) {
        uint64_t n;
        vdb_status st = vdb_count(db, collection, filter, read, &n);
        if (st != VDB_OK)
            return st;
        vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
        vdb_collection *c;
        st = vdb_catalog_lookup(&db->catalog, collection, &c);
        if (st == VDB_OK)
            st = count_result(c, n, out);
        vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
        return st;
    }
    bool no_filter = !filter || !filter[strspn(filter, " \t\r\n")];
    VDB_CHECK_ARG(!no_filter || limit > 0, "vdb_query: without a filter give a limit (as in "
                  "Milvus), or output_fields [\"count(*)\"]");
    vdb_collection *c;
    vdb_expr *e = NULL;
    uint64_t T;
    vdb_status st = begin_read(db, collection, filter, read, &c, &e, &T);
    if (st != VDB_OK)
        return st;
    vdb_out_field *of = NULL;
    size_t nof = 0;
    vdb_result *r = NULL;
    st = vdb_resolve_outputs(c, read, &of, &nof);
    if (st == VDB_OK)
        st = vdb_result_open(c, of, nof, 1, false, 0, &r);
    if (st == VDB_OK) {
        query_rows q = {c, r, of, nof, offset, limit, VDB_OK};
        vdb_lock_rd(&c->lock, VDB_RANK_COLL);
        if (nby)
            st = query_ordered(c, e, T, read, limit, offset, by, nby, r, of, nof);
        else
            st = for_each_match(c, e, T, read, take_rows, &q);
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
        if (st == VDB_OK)
            st = q.st;
        r->group_off[1] = r->pks.rows;
    }
    end_read(db, e);
    vdb_free(of);
    if (st != VDB_OK) {
        vdb_result_free(r);
        return st;
    }
    *out = r;
    return VDB_OK;
}

vdb_status vdb_query(vdb_db *db, const char *collection, const char *filter,
                     const vdb_read_opts *read, uint64_t limit, uint64_t offset,
                     vdb_result **out)
{
    return query_impl(db, collection, filter, read, limit, offset, NULL, 0, out);
}

vdb_status vdb_query_ordered(vdb_db *db, const char *collection, const char *filter,
                             const vdb_read_opts *read, uint64_t limit, uint64_t offset,
                             const vdb_order_by *by, size_t n, vdb_result **out)
{
    if (n && !by) {
        vdb_err_clear();
        return vdb_set_errmsg(VDB_EINVAL, "vdb_query_ordered: by is NULL with n %zu", n);
    }
    return query_impl(db, collection, filter, read, limit, offset, by, n, out);
}

/* A page in key order: the batch smallest keys above `after` among the matches, kept in a
 * max-heap on the key while the segments are walked (c->lock held throughout). */
typedef struct page_row {
    vdb_pk pk; /* points into the segment's column */
    vdb_segment *s;
    size_t row;
} page_row;

typedef struct key_page {
    const vdb_collection *c;
    const vdb_pk *after;
    page_row *heap;
    size_t n, cap;
} key_page;

static void page_sift_down(page_row *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && vdb_pk_cmp(h[l].pk, h[m].pk) > 0)
            m = l;
        if (r < n && vdb_pk_cmp(h[r].pk, h[m].pk) > 0)
            m = r;
        if (m == i)
            return;
        page_row t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static int take_page(void *arg, vdb_segment *s, const uint64_t *bits, size_t rows)
{
    key_page *p = arg;
    if (!p->cap) /* a page of no rows (the iterator's probe): heap[0] is never filled */
        return 0;
    const vdb_column *pkc = vdb_segment_column(s, (size_t)p->c->schema->pk);
    for (size_t w = 0; w < rows / 64 + 1; w++)
        for (uint64_t b = bits[w]; b; b &= b - 1) {
            size_t row = w * 64 + (size_t)__builtin_ctzll(b);
            vdb_pk pk = vdb_pk_of(pkc, row);
            if (p->after && vdb_pk_cmp(pk, *p->after) <= 0)
                continue;
            if (p->n < p->cap) { /* sift up */
                size_t i = p->n++;
                p->heap[i] = (page_row){pk, s, row};
                while (i && vdb_pk_cmp(p->heap[(i - 1) / 2].pk, p->heap[i].pk) < 0) {
                    page_row t = p->heap[i];
                    p->heap[i] = p->heap[(i - 1) / 2];
                    p->heap[(i - 1) / 2] = t;
                    i = (i - 1) / 2;
                }
            } else if (vdb_pk_cmp(pk, p->heap[0].pk) < 0) {
                p->heap[0] = (page_row){pk, s, row};
                page_sift_down(p->heap, p->n, 0);
            }
        }
    return 0;
}

vdb_status vdb_query_page_at(vdb_db *db, const char *collection, uint64_t *coll_id,
                             const char *filter, const vdb_read_opts *read, uint64_t T,
                             const vdb_pk *after, size_t batch, vdb_result **out)
{
    *out = NULL;
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_expr *e = NULL;
    vdb_out_field *of = NULL;
    size_t nof = 0;
    vdb_result *r = NULL;
    key_page p = {0};
    bool locked = false;
    vdb_status st = vdb_catalog_lookup(&db->catalog, collection, &c);
    if (st == VDB_OK && *coll_id && c->id != *coll_id)
        st = vdb_set_errmsg(VDB_ERANGE, "collection '%s' was truncated, or dropped and made "
                            "again, since the iterator's snapshot: its rows are gone",
                            collection);
    if (st == VDB_OK)
        *coll_id = c->id;
    if (st == VDB_OK)
        st = vdb_filter_compile(c, filter, &e);
    if (st == VDB_OK)
        st = vdb_resolve_outputs(c, read, &of, &nof);
    if (st == VDB_OK)
        st = vdb_result_open(c, of, nof, 1, false, 0, &r);
    if (st == VDB_OK && !(p.heap = vdb_malloc((batch + 1) * sizeof *p.heap)))
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    if (st == VDB_OK) {
        p.c = c;
        p.after = after;
        p.cap = batch;
        vdb_lock_rd(&c->lock, VDB_RANK_COLL);
        locked = true;
        st = for_each_match(c, e, T, read, take_page, &p);
    }
    /* heap order to key order: pop the largest to the end */
    for (size_t n = p.n; st == VDB_OK && n > 1; n--) {
        page_row t = p.heap[0];
        p.heap[0] = p.heap[n - 1];
        p.heap[n - 1] = t;
        page_sift_down(p.heap, n - 1, 0);
    }
    for (size_t i = 0; i < p.n && st == VDB_OK; i++)
        st = vdb_result_push(c, r, of, nof, p.heap[i].s, p.heap[i].row);
    if (locked)
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    if (r)
        r->group_off[1] = r->pks.rows;
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    if (e)
        vdb_expr_free(e);
    vdb_free(of);
    vdb_free(p.heap);
    if (st != VDB_OK) {
        vdb_result_free(r);
        return st;
    }
    *out = r;
    return VDB_OK;
}

typedef struct key_collect {
    const vdb_collection *c;
    vdb_column *keys;
    vdb_status st;
} key_collect;

static int take_keys(void *arg, vdb_segment *s, const uint64_t *bits, size_t rows)
{
    key_collect *k = arg;
    const vdb_column *pk = vdb_segment_column(s, (size_t)k->c->schema->pk);
    for (size_t w = 0; w < rows / 64 + 1 && k->st == VDB_OK; w++)
        for (uint64_t b = bits[w]; b && k->st == VDB_OK; b &= b - 1)
            k->st = vdb_column_append(k->keys, pk, w * 64 + (size_t)__builtin_ctzll(b), 1);
    return k->st != VDB_OK;
}

vdb_status vdb_delete_where(vdb_db *db, const char *collection, const char *partition,
                            const char *filter, uint64_t *ts, uint64_t *deleted)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_delete_where");
    VDB_CHECK_ARG(db && collection, "vdb_delete_where: db or collection is NULL");
    VDB_CHECK_ARG(filter && filter[strspn(filter, " \t\r\n")],
                  "vdb_delete_where: the filter is empty (to delete everything, drop the "
                  "collection or use a filter that matches all rows)");
    if (deleted)
        *deleted = 0;
    vdb_collection *c;
    vdb_expr *e = NULL;
    uint64_t T;
    vdb_status st = begin_read(db, collection, filter, NULL, &c, &e, &T);
    if (st != VDB_OK)
        return st;
    const char *parts[1] = {partition};
    vdb_read_opts scope = {.struct_size = sizeof scope, .partitions = partition ? parts : NULL,
                           .n_partitions = partition ? 1 : 0};
    vdb_column keys;
    vdb_column_init(&keys, c->types[c->schema->pk], 0, false);
    key_collect k = {c, &keys, VDB_OK};
    vdb_lock_rd(&c->lock, VDB_RANK_COLL);
    st = for_each_match(c, e, T, &scope, take_keys, &k);
    vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    if (st == VDB_OK)
        st = k.st;
    size_t n = keys.rows;
    if (st == VDB_OK && n > 0)
        st = vdb_delete_keys(db, c, partition, &keys, ts);
    else if (st == VDB_OK && ts)
        st = vdb_tso_next(db->tso, ts); /* nothing matched: still a point in time */
    end_read(db, e);
    vdb_column_free(&keys);
    if (st == VDB_OK && deleted)
        *deleted = n;
    return st;
}

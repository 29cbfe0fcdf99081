/* Iterators, as Milvus's query_iterator and search_iterator: cursors whose every batch reads
 * at the one timestamp taken (and pinned, ids.c) at open. The query iterator pages on the
 * primary key (the batch smallest keys above the last one returned); the search iterator
 * ranges outwards from the last distance returned, leaving out the hits already returned at
 * exactly that distance (Milvus's search iterator v2). Neither keeps a segment between
 * batches: the collection is looked up again each time, so seals and compactions meanwhile
 * are harmless, and its id is checked so that a truncation is an error, not an empty end. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/ids.h"
#include "core/limits.h"
#include "core/readpath.h"
#include "core/result.h"
#include "core/search.h"
#include "util/kv.h"

#define DEFAULT_BATCH 1000

/* The read options with copies of the caller's partition and output-field names. */
typedef struct read_copy {
    vdb_read_opts r;
    char **parts, **outs;
} read_copy;

static vdb_status strv_dup(const char *const *v, size_t n, char ***out)
{
    *out = NULL;
    if (!v || !n)
        return VDB_OK;
    char **c = vdb_calloc(n + 1, sizeof *c);
    if (!c)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    *out = c;
    for (size_t i = 0; i < n; i++)
        if (v[i] && !(c[i] = vdb_strdup(v[i])))
            return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    return VDB_OK;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        vdb_free(v[i]);
    vdb_free(v);
}

static vdb_status read_copy_in(const vdb_read_opts *in, read_copy *out)
{
    out->r = *in;
    out->r.struct_size = sizeof out->r;
    vdb_status st = strv_dup(in->partitions, in->n_partitions, &out->parts);
    if (st == VDB_OK)
        st = strv_dup(in->output_fields, in->n_output_fields, &out->outs);
    out->r.partitions = (const char *const *)out->parts;
    out->r.output_fields = (const char *const *)out->outs;
    if (!out->parts)
        out->r.n_partitions = 0;
    if (!out->outs)
        out->r.n_output_fields = 0;
    return st;
}

static void read_copy_free(read_copy *c)
{
    strv_free(c->parts, c->r.n_partitions);
    strv_free(c->outs, c->r.n_output_fields);
}

static vdb_status batch_size_of(uint32_t b, const char *what, uint32_t *out)
{
    VDB_CHECK_ARG(b <= VDB_MAX_TOPK, "%s: batch_size must be 1..%d, got %u", what,
                  VDB_MAX_TOPK, b);
    *out = b ? b : DEFAULT_BATCH;
    return VDB_OK;
}

/* ---- query iterator ------------------------------------------------------------------------ */

struct vdb_query_iterator {
    vdb_db *db;
    char *collection, *filter;
    read_copy read;
    uint32_t batch;
    uint64_t limit, returned;
    uint64_t T, coll_id;
    bool pinned, done, has_last;
    vdb_pk last; /* last.s: owned */
};

void vdb_query_iterator_close(vdb_query_iterator *it)
{
    if (!it)
        return;
    if (it->pinned)
        vdb_unpin_ts(it->db, it->T);
    vdb_free(it->collection);
    vdb_free(it->filter);
    read_copy_free(&it->read);
    vdb_free((void *)it->last.s);
    vdb_free(it);
}

uint64_t vdb_query_iterator_ts(const vdb_query_iterator *it) { return it ? it->T : 0; }

vdb_status vdb_query_iterator_open(vdb_db *db, const vdb_query_iter_req *in,
                                   vdb_query_iterator **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && in && out, "vdb_query_iterator_open: db, req or out is NULL");
    *out = NULL;
    vdb_query_iter_req req;
    vdb_status st = vdb_struct_in(in, in->struct_size, offsetof(vdb_query_iter_req, read), &req,
                                  sizeof req, "vdb_query_iter_req");
    if (st != VDB_OK)
        return st;
    req.read.struct_size = sizeof req.read;
    if ((st = vdb_follow_before_read(db, &req.read)) != VDB_OK)
        return st;
    VDB_CHECK_ARG(req.collection, "vdb_query_iterator_open: collection is NULL");
    for (size_t i = 0; req.read.output_fields && i < req.read.n_output_fields; i++)
        VDB_CHECK_ARG(!req.read.output_fields[i] ||
                          strcmp(req.read.output_fields[i], "count(*)"),
                      "vdb_query_iterator_open: output field count(*) is not for iterators "
                      "(use vdb_count)");
    vdb_query_iterator *it = vdb_calloc(1, sizeof *it);
    if (!it)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    it->db = db;
    it->limit = req.limit;
    vdb_result *probe = NULL;
    if ((st = batch_size_of(req.batch_size, "vdb_query_iterator_open", &it->batch)) != VDB_OK)
        goto fail;
    it->collection = vdb_strdup(req.collection);
    it->filter = req.filter ? vdb_strdup(req.filter) : NULL;
    if (!it->collection || (req.filter && !it->filter)) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto fail;
    }
    if ((st = read_copy_in(&req.read, &it->read)) != VDB_OK ||
        (st = vdb_read_pin(db, &req.read, &it->T)) != VDB_OK)
        goto fail;
    it->pinned = true;
    /* the collection, filter, partitions and fields checked now, and the collection's id
     * taken, by a page of no rows */
    if ((st = vdb_query_page_at(db, it->collection, &it->coll_id, it->filter, &it->read.r,
                                it->T, NULL, 0, &probe)) != VDB_OK)
        goto fail;
    vdb_result_free(probe);
    *out = it;
    return VDB_OK;
fail:
    vdb_query_iterator_close(it);
    return st;
}

vdb_status vdb_query_iterator_next(vdb_query_iterator *it, vdb_result **batch)
{
    vdb_err_clear();
    VDB_CHECK_ARG(it && batch, "vdb_query_iterator_next: iterator or batch is NULL");
    *batch = NULL;
    size_t want = it->batch;
    if (it->limit)
        want = (size_t)VDB_MIN((uint64_t)want, it->limit - it->returned);
    if (it->done)
        want = 0;
    vdb_result *r;
    vdb_status st = vdb_query_page_at(it->db, it->collection, &it->coll_id, it->filter,
                                      &it->read.r, it->T, it->has_last ? &it->last : NULL,
                                      want, &r);
    if (st != VDB_OK)
        return st;
    size_t n = r->pks.rows;
    if (n < want || !want)
        it->done = true;
    if (n) {
        vdb_pk k = vdb_pk_of(&r->pks, n - 1);
        char *s = NULL;
        if (k.s && !(s = vdb_strndup(k.s, k.len))) {
            vdb_result_free(r);
            return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        }
        vdb_free((void *)it->last.s);
        it->last = (vdb_pk){k.i, s, k.len};
        it->has_last = true;
        it->returned += n;
    }
    *batch = r;
    return VDB_OK;
}

/* ---- search iterator ----------------------------------------------------------------------- */

struct vdb_search_iterator {
    vdb_db *db;
    char *collection, *vector_field, *filter, *params;
    float *vec;
    uint8_t *bvec;               /* a BINARY_VECTOR query (dim / 8 bytes), or NULL */
    uint32_t dim;
    read_copy read;
    uint32_t batch;
    uint64_t limit, returned;
    uint64_t T, coll_id;
    bool pinned, done, started, higher, str_pk;
    bool user_radius, user_rf;   /* the caller's own window */
    float radius, range_filter;
    float last;                  /* the distance of the last hit returned */
    int64_t *tie_i;              /* the keys returned at exactly `last` */
    char **tie_s;
    size_t nties, ties_cap;
};

static void clear_ties(vdb_search_iterator *it)
{
    for (size_t i = 0; it->tie_s && i < it->nties; i++)
        vdb_free(it->tie_s[i]);
    it->nties = 0;
}

void vdb_search_iterator_close(vdb_search_iterator *it)
{
    if (!it)
        return;
    if (it->pinned)
        vdb_unpin_ts(it->db, it->T);
    clear_ties(it);
    vdb_free(it->tie_i);
    vdb_free(it->tie_s);
    vdb_free(it->collection);
    vdb_free(it->vector_field);
    vdb_free(it->filter);
    vdb_free(it->params);
    vdb_free(it->vec);
    vdb_free(it->bvec);
    read_copy_free(&it->read);
    vdb_free(it);
}

uint64_t vdb_search_iterator_ts(const vdb_search_iterator *it) { return it ? it->T : 0; }

static vdb_status add_tie(vdb_search_iterator *it, vdb_pk k);

/* The id of collection now (catalog lock taken and released). */
static vdb_status coll_id_now(vdb_db *db, const char *name, uint64_t *id)
{
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_status st = vdb_catalog_lookup(&db->catalog, name, &c);
    if (st == VDB_OK)
        *id = c->id;
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return st;
}

static vdb_status same_collection(vdb_search_iterator *it)
{
    uint64_t id;
    vdb_status st = coll_id_now(it->db, it->collection, &id);
    if (st == VDB_OK && id != it->coll_id)
        st = vdb_set_errmsg(VDB_ERANGE, "collection '%s' was truncated, or dropped and made "
                            "again, since the iterator's snapshot: its rows are gone",
                            it->collection);
    return st;
}

/* The caller's radius and range_filter (the rest of its params are read by vdb_search). */
static vdb_status iter_param(void *arg, const char *key, const char *val)
{
    vdb_search_iterator *it = arg;
    if (!strcasecmp(key, "radius")) {
        it->user_radius = true;
        return vdb_kv_float("search parameter", "radius", val, &it->radius);
    }
    if (!strcasecmp(key, "range_filter")) {
        it->user_rf = true;
        return vdb_kv_float("search parameter", "range_filter", val, &it->range_filter);
    }
    if (!strcasecmp(key, "round_decimal"))
        return vdb_set_errmsg(VDB_EINVAL, "search parameter round_decimal is not for the "
                              "search iterator (it ranges on the exact distances)");
    return VDB_OK;
}

/* One search of the iteration: k hits at the snapshot, from the last distance outwards. */
static vdb_status iter_search(vdb_search_iterator *it, uint32_t k, vdb_result **out)
{
    char *params = NULL;
    if (it->started) {
        /* L2: range_filter <= d < radius; IP, COSINE: radius < s <= range_filter. %a keeps
         * the float exact through the text */
        float outer = it->user_radius ? it->radius : it->higher ? -FLT_MAX : FLT_MAX;
        float inner = it->last;
        if (it->user_rf)
            inner = it->higher ? VDB_MIN(inner, it->range_filter)
                               : VDB_MAX(inner, it->range_filter);
        const char *user = it->params ? it->params : "";
        size_t n = strlen(user) + 128;
        if (!(params = vdb_malloc(n)))
            return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        snprintf(params, n, "%s%sradius=%a,range_filter=%a", user, *user ? "," : "",
                 (double)outer, (double)inner);
    }
    vdb_search_req sr = {.struct_size = sizeof sr, .collection = it->collection,
                         .vector_field = it->vector_field,
                         .vectors = it->bvec ? NULL : it->vec, .binary_vectors = it->bvec,
                         .nq = 1,
                         .dim = it->dim, .k = k, .filter = it->filter,
                         .params = params ? params : it->params, .read = it->read.r};
    vdb_status st = vdb_search_at(it->db, &sr, it->T, "vdb_search_iterator", out);
    vdb_free(params);
    return st;
}

vdb_status vdb_search_iterator_open(vdb_db *db, const vdb_search_iter_req *in,
                                    vdb_search_iterator **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && in && out, "vdb_search_iterator_open: db, req or out is NULL");
    *out = NULL;
    vdb_search_iter_req req;
    vdb_status st = vdb_struct_in(in, in->struct_size, offsetof(vdb_search_iter_req, read),
                                  &req, sizeof req, "vdb_search_iter_req");
    if (st != VDB_OK)
        return st;
    req.read.struct_size = sizeof req.read;
    if ((st = vdb_follow_before_read(db, &req.read)) != VDB_OK)
        return st;
    VDB_CHECK_ARG(req.collection, "vdb_search_iterator_open: collection is NULL");
    VDB_CHECK_ARG((req.vector || req.binary_vector) && req.dim > 0,
                  "vdb_search_iterator_open: no query vector");
    VDB_CHECK_ARG(!req.vector || !req.binary_vector,
                  "vdb_search_iterator_open: give vector or binary_vector, not both");
    vdb_search_iterator *it = vdb_calloc(1, sizeof *it);
    if (!it)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    it->db = db;
    it->limit = req.limit;
    it->dim = req.dim;
    vdb_schema *s = NULL;
    vdb_result *probe = NULL;
    if ((st = batch_size_of(req.batch_size, "vdb_search_iterator_open", &it->batch)) != VDB_OK)
        goto fail;
    it->collection = vdb_strdup(req.collection);
    it->vector_field = req.vector_field ? vdb_strdup(req.vector_field) : NULL;
    it->filter = req.filter ? vdb_strdup(req.filter) : NULL;
    it->params = req.params ? vdb_strdup(req.params) : NULL;
    /* a binary query's dim / 8 bytes are kept in bvec (vec stays allocated, unused) */
    it->vec = vdb_malloc(req.dim * sizeof *it->vec);
    if (req.binary_vector && (it->bvec = vdb_malloc((req.dim + 7) / 8)))
        memcpy(it->bvec, req.binary_vector, (req.dim + 7) / 8);
    if (!it->collection || (req.vector_field && !it->vector_field) ||
        (req.filter && !it->filter) || (req.params && !it->params) || !it->vec ||
        (req.binary_vector && !it->bvec)) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto fail;
    }
    if (req.vector)
        memcpy(it->vec, req.vector, req.dim * sizeof *it->vec);
    if ((st = vdb_kv_each(it->params, "search parameter", iter_param, it)) != VDB_OK ||
        (st = read_copy_in(&req.read, &it->read)) != VDB_OK ||
        (st = vdb_describe_collection(db, it->collection, &s)) != VDB_OK)
        goto fail;
    /* the metric, for the direction of the ranges (vdb_search checks the field itself) */
    for (size_t i = 0; i < s->nfields; i++) {
        const vdb_field_def *d = &s->fields[i].def;
        if (vdb_type_is_vector(d->type) &&
            (!it->vector_field || !strcmp(d->name, it->vector_field))) {
            it->higher = vdb_metric_higher_is_better(d->metric);
            break;
        }
    }
    it->str_pk = s->fields[s->pk].def.type == VDB_TYPE_VARCHAR;
    if ((st = vdb_read_pin(db, &req.read, &it->T)) != VDB_OK)
        goto fail;
    it->pinned = true;
    /* the collection, field, filter, params and output fields checked by a search of one */
    if ((st = coll_id_now(db, it->collection, &it->coll_id)) != VDB_OK ||
        (st = iter_search(it, 1, &probe)) != VDB_OK || (st = same_collection(it)) != VDB_OK)
        goto fail;
    if (req.resume) {
        const vdb_pk_list *lp = req.last_pks;
        if (lp && lp->count && (it->str_pk ? !lp->strs : !lp->ints)) {
            st = vdb_set_errmsg(VDB_EINVAL, "vdb_search_iterator_open: last_pks must be %s "
                                "keys", it->str_pk ? "string" : "integer");
            goto fail;
        }
        if (!isfinite(req.last_bound)) {
            st = vdb_set_errmsg(VDB_EINVAL, "vdb_search_iterator_open: last_bound is not "
                                "finite");
            goto fail;
        }
        it->started = true;
        it->last = req.last_bound;
        for (size_t i = 0; lp && i < lp->count && st == VDB_OK; i++) {
            vdb_pk k = {lp->ints ? lp->ints[i] : 0, lp->strs ? lp->strs[i] : NULL,
                        lp->strs ? strlen(lp->strs[i]) : 0};
            st = add_tie(it, k);
        }
        if (st != VDB_OK)
            goto fail;
    }
    vdb_result_free(probe);
    vdb_schema_free(s);
    *out = it;
    return VDB_OK;
fail:
    vdb_result_free(probe);
    vdb_schema_free(s);
    vdb_search_iterator_close(it);
    return st;
}

static bool is_tie(const vdb_search_iterator *it, const vdb_result *r, size_t row)
{
    if (!it->started || r->dist[row] != it->last)
        return false;
    vdb_pk k = vdb_pk_of(&r->pks, row);
    /* a result's varchar keys carry their NUL terminator in the length */
    size_t klen = it->str_pk ? strnlen(k.s, k.len) : 0;
    for (size_t i = 0; i < it->nties; i++)
        if (it->str_pk ? strlen(it->tie_s[i]) == klen && !memcmp(it->tie_s[i], k.s, klen)
                       : it->tie_i[i] == k.i)
            return true;
    return false;
}

static vdb_status add_tie(vdb_search_iterator *it, vdb_pk k)
{
    if (it->nties == it->ties_cap) {
        size_t cap = it->ties_cap ? it->ties_cap * 2 : 16;
        int64_t *ti = vdb_realloc(it->tie_i, cap * sizeof *ti);
        if (ti)
            it->tie_i = ti;
        char **ts = ti ? vdb_realloc(it->tie_s, cap * sizeof *ts) : NULL;
        if (ts)
            it->tie_s = ts;
        if (!ti || !ts)
            return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        it->ties_cap = cap;
    }
    it->tie_i[it->nties] = k.i;
    it->tie_s[it->nties] = NULL;
    if (it->str_pk && !(it->tie_s[it->nties] = vdb_strndup(k.s, k.len)))
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    it->nties++;
    return VDB_OK;
}

vdb_status vdb_search_iterator_next(vdb_search_iterator *it, vdb_result **batch)
{
    vdb_err_clear();
    VDB_CHECK_ARG(it && batch, "vdb_search_iterator_next: iterator or batch is NULL");
    *batch = NULL;
    size_t want = it->batch;
    if (it->limit)
        want = (size_t)VDB_MIN((uint64_t)want, it->limit - it->returned);
    if (it->done)
        want = 0;
    /* the hits already returned at the last distance come back too: ask for them as well */
    size_t ties = it->started ? it->nties : 0;
    if (want && ties >= VDB_MAX_TOPK)
        return vdb_set_errmsg(VDB_ERANGE, "vdb_search_iterator_next: %zu hits at distance %g: "
                              "more than %d at one distance cannot be paged", ties,
                              (double)it->last, VDB_MAX_TOPK - 1);
    uint32_t k = (uint32_t)VDB_MIN(want + ties, (size_t)VDB_MAX_TOPK);
    want = k - ties;
    vdb_result *r = NULL, *o = NULL;
    uint32_t *keep = vdb_malloc((k + 1) * sizeof *keep);
    vdb_status st = keep ? VDB_OK : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    if (st == VDB_OK)
        st = iter_search(it, want ? k : 1, &r);
    if (st == VDB_OK)
        st = same_collection(it);
    size_t n = 0, rows = r ? r->pks.rows : 0;
    for (size_t j = 0; st == VDB_OK && j < rows && n < want; j++)
        if (!is_tie(it, r, j))
            keep[n++] = (uint32_t)j;
    if (st == VDB_OK)
        st = vdb_result_select(r, keep, n, &o);
    if (st == VDB_OK && (rows < k || n < want || !want))
        it->done = true;
    if (st == VDB_OK && n) {
        float last = r->dist[keep[n - 1]];
        if (!it->started || last != it->last)
            clear_ties(it);
        for (size_t j = 0; j < n && st == VDB_OK; j++)
            if (r->dist[keep[j]] == last)
                st = add_tie(it, vdb_pk_of(&r->pks, keep[j]));
        it->last = last;
        it->started = true;
        it->returned += n;
    }
    vdb_free(keep);
    vdb_result_free(r);
    if (st != VDB_OK) {
        vdb_result_free(o);
        return st;
    }
    *batch = o;
    return VDB_OK;
}

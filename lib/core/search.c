/* Search: per segment, the MVCC bitset at the read timestamp and the filter, then the
 * segment's vector index under that bitset (or exact search while it has none); segments in
 * parallel on the search pool; merged across segments and shards. Readers hold the
 * collection's read lock only: they never wait for log or object I/O, nor for a build. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/bm25.h"
#include "core/convert.h"
#include "core/filter.h"
#include "core/group.h"
#include "core/partkey.h"
#include "core/readpath.h"
#include "core/result.h"
#include "core/search.h"
#include "core/segment_index.h"
#include "util/kv.h"

/* Query q of the request for field fd: dim floats, or dim / 8 bytes of a binary field. */
static const void *query_of(const vdb_search_req *req, const vdb_field_def *fd, size_t q)
{
    if (fd->type == VDB_TYPE_BINARY_VECTOR)
        return req->binary_vectors + q * vdb_vector_bytes(fd->type, fd->dim);
    return req->vectors + q * fd->dim;
}

static int vector_field(vdb_collection *c, const char *name)
{
    const vdb_schema *s = c->schema;
    if (name) {
        int f = vdb_schema_find(s, name);
        return f >= 0 && vdb_type_is_any_vector(s->fields[f].def.type) ? f : -1;
    }
    int found = -1;
    for (size_t i = 0; i < s->nfields; i++)
        if (vdb_type_is_any_vector(s->fields[i].def.type)) {
            if (found >= 0)
                return -2;
            found = (int)i;
        }
    return found;
}

/* Search parameters "key=value,...", as Milvus's: radius and range_filter (range search,
 * for every index) here, the rest read by the index kinds' tables (ef, nprobe, ...). Keys
 * meant for other index types, or unknown, are ignored as Milvus ignores them; a malformed
 * value of a known key is an error. */
typedef struct search_params {
    const vdb_vindex_kind *kind; /* the field's index kind (NULL: none to build) */
    vdb_vparams sp;
    bool ranged, has_filter;
    float radius, range_filter;
    int round_decimal; /* -1: distances as computed; 0..6: rounded to that many decimals */
    double drop_ratio_search; /* sparse fields: the share of each query's values left out */
} search_params;

static vdb_status search_param(void *arg, const char *key, const char *val)
{
    search_params *p = arg;
    if (!strcasecmp(key, "radius")) {
        p->ranged = true;
        return vdb_kv_float("search parameter", "radius", val, &p->radius);
    }
    if (!strcasecmp(key, "range_filter")) {
        p->has_filter = true;
        return vdb_kv_float("search parameter", "range_filter", val, &p->range_filter);
    }
    if (!strcasecmp(key, "round_decimal"))
        return vdb_round_decimal_param("search parameter", val, &p->round_decimal);
    if (!strcasecmp(key, "drop_ratio_search")) {
        /* read for every sparse search, indexed or not (the exact scan honours it too) */
        float r;
        vdb_status st = vdb_kv_float("search parameter", "drop_ratio_search", val, &r);
        if (st == VDB_OK && !(r >= 0.0f && r < 1.0f))
            st = vdb_set_errmsg(VDB_EINVAL, "search parameter drop_ratio_search=%s must be in "
                                "[0, 1)", val);
        p->drop_ratio_search = r;
        return st;
    }
    bool taken;
    return vdb_vindex_search_param(p->kind, key, val, &p->sp, &taken);
}

static vdb_status parse_search_params(const char *params, const vdb_vindex_kind *kind,
                                      vdb_metric metric, search_params *out)
{
    *out = (search_params){.kind = kind, .round_decimal = -1};
    vdb_vindex_search_defaults(kind, &out->sp);
    vdb_status st = vdb_kv_each(params, "search parameter", search_param, out);
    if (st != VDB_OK)
        return st;
    bool higher = vdb_metric_higher_is_better(metric);
    if (out->has_filter && !out->ranged)
        return vdb_set_errmsg(VDB_EINVAL, "search parameter range_filter needs radius");
    if (out->has_filter && (higher ? out->range_filter <= out->radius
                                   : out->range_filter >= out->radius))
        return vdb_set_errmsg(VDB_EINVAL, "search parameter range_filter=%g must be %s "
                              "radius=%g for metric %s (%s)", out->range_filter,
                              higher ? "above" : "below", out->radius, vdb_metric_name(metric),
                              higher ? "radius < similarity <= range_filter"
                                     : "range_filter <= distance < radius");
    if (out->ranged && !out->has_filter)
        out->range_filter = higher ? INFINITY : -INFINITY;
    return VDB_OK;
}

vdb_status vdb_round_decimal_param(const char *what, const char *val, int *out)
{
    if (!strcmp(val, "-1")) {
        *out = -1;
        return VDB_OK;
    }
    uint32_t n;
    if (vdb_kv_uint(what, "round_decimal", val, 0, 6, &n) != VDB_OK)
        return vdb_set_errmsg(VDB_EINVAL, "%s round_decimal=%s must be -1 (no rounding) or "
                              "0..6", what, val);
    *out = (int)n;
    return VDB_OK;
}

float vdb_round_decimal(float d, int digits)
{
    static const double scale[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    if (digits < 0 || digits > 6)
        return d;
    double m = scale[digits];
    return (float)(round((double)d * m) / m);
}

static float rounded(const search_params *sp, float d)
{
    return vdb_round_decimal(d, sp->round_decimal);
}

/* The search of one call, shared by the tasks that search its segments. Each participant
 * (slot) collects into its own nq heaps; they are merged at the end. */
typedef struct search_ctx {
    vdb_collection *c;
    const vdb_search_req *req;
    const vdb_field_def *fd;
    size_t vf;
    uint64_t T;
    const vdb_expr *filter;
    const vdb_seg_set *set;
    const search_params *sp;
    vdb_topk *heaps;          /* slots * nq */
    vdb_status *st;           /* per slot: the first error */
    char (*msg)[512];         /* ... and its words (errors are per thread) */
    const vdb_sparse_vec *sq; /* a sparse field's nq queries (drop_ratio_search applied) */
    const vdb_bm25_scorer *bm25; /* BM25: a scorer per segment of set (NULL: IP) */
} search_ctx;

/* Segment i of the call into slot's heaps: visibility at T, the filter, then the segment's
 * vector index under that bitset, or exact search when it has none (yet). */
static void search_segment(void *arg, size_t i, uint32_t slot)
{
    search_ctx *x = arg;
    if (x->st[slot] != VDB_OK)
        return;
    const vdb_search_req *req = x->req;
    vdb_topk *heaps = x->heaps + (size_t)slot * req->nq;
    vdb_segment *s = x->set->segs[i];
    size_t rows = vdb_segment_rows(s);
    if (!rows)
        return;
    uint64_t *bits = vdb_calloc(rows / 64 + 1, sizeof *bits);
    vdb_status st = bits ? VDB_OK : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    if (st == VDB_OK && vdb_collection_visible(x->c, s, x->T, bits) > 0 &&
        (st = vdb_filter_apply(x->c, x->filter, s, bits)) == VDB_OK) {
        const vdb_column *vc = vdb_segment_column(s, x->vf);
        const vdb_field_def *fd = x->fd;
        /* an attachment of a vector field is its index only when the kind builds one */
        const vdb_vindex *v = x->sp->kind ? vdb_segment_attachment(s, x->vf) : NULL;
        vdb_vectors base = {fd->type, fd->dim, fd->metric, rows, vc->data, NULL};
        if (x->sq) { /* sparse: the index per query, or the exact scan */
            base = (vdb_vectors){fd->type, 0, fd->metric, rows, vc->bytes, vc->offsets};
            vdb_sparse_scorer sc = {0};
            if (x->bm25)
                sc = vdb_bm25_sparse_scorer(&x->bm25[i]);
            for (size_t q = 0; q < req->nq && st == VDB_OK; q++)
                if (x->bm25 && v)
                    st = vdb_vindex_search_scored(v, &x->sq[q], &sc, bits, (int64_t)i << 32,
                                                  &heaps[q]);
                else if (x->bm25)
                    vdb_bm25_flat_search(vc, rows, &x->sq[q], &x->bm25[i], bits,
                                         (int64_t)i << 32, &heaps[q]);
                else if (v)
                    st = vdb_vindex_search(v, &x->sq[q], req->k, &x->sp->sp, &base, bits,
                                           (int64_t)i << 32, &heaps[q]);
                else
                    vdb_sparse_flat_search(vc->offsets, vc->bytes, rows, &x->sq[q], bits,
                                           (int64_t)i << 32, &heaps[q]);
            v = NULL;
        } else if (!v && fd->type == VDB_TYPE_BINARY_VECTOR)
            st = vdb_flat_search_bin(vc->data, rows, vdb_vector_bytes(fd->type, fd->dim),
                                     fd->metric, req->binary_vectors, req->nq, bits,
                                     (int64_t)i << 32, heaps);
        else if (!v)
            st = vdb_flat_search_t(fd->type, vc->data, rows, fd->dim, fd->metric,
                                   req->vectors, req->nq, bits, (int64_t)i << 32, heaps);
        /* the index honours the bitset, and searches exactly when it excludes most rows */
        for (size_t q = 0; v && q < req->nq && st == VDB_OK; q++)
            st = vdb_vindex_search(v, query_of(req, fd, q), req->k, &x->sp->sp, &base,
                                   bits, (int64_t)i << 32, &heaps[q]);
        if (st == VDB_OK) /* a mapped file cut short under the search (seg_cache.h) */
            st = vdb_segment_check_mapped(s);
    }
    vdb_free(bits);
    if (st != VDB_OK) {
        x->st[slot] = st;
        snprintf(x->msg[slot], sizeof x->msg[slot], "%s", vdb_err_get());
    }
}

/* Grouping search over the call's segments, on the caller's thread, into one grouper per
 * query: the exact walk offers every passing row; a segment with an index is asked for
 * more hits (4x each time) until its hits hold want groups (strict: its want best groups
 * all full) or every passing row. */
static vdb_status search_grouped(search_ctx *x, size_t gf, size_t want, size_t gs, bool strict,
                                 vdb_grouper **gq)
{
    const vdb_search_req *req = x->req;
    const vdb_field_def *fd = x->fd;
    vdb_status st = VDB_OK;
    for (size_t i = 0; i < x->set->n && st == VDB_OK; i++) {
        vdb_segment *s = x->set->segs[i];
        size_t rows = vdb_segment_rows(s);
        if (!rows)
            continue;
        uint64_t *bits = vdb_calloc(rows / 64 + 1, sizeof *bits);
        if (!bits)
            return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        if (vdb_collection_visible(x->c, s, x->T, bits) == 0 ||
            (st = vdb_filter_apply(x->c, x->filter, s, bits)) != VDB_OK) {
            vdb_free(bits);
            continue;
        }
        const vdb_column *vc = vdb_segment_column(s, x->vf), *gc = vdb_segment_column(s, gf);
        const uint8_t *base = vc->data;
        size_t width = vdb_type_width(fd->type, fd->dim);
        const vdb_vindex *v = x->sp->kind ? vdb_segment_attachment(s, x->vf) : NULL;
        vdb_vectors vb = {fd->type, fd->dim, fd->metric, rows, vc->data, NULL};
        size_t passing = vdb_bitset_count(bits, rows);
        bool higher = vdb_metric_higher_is_better(fd->metric);
        int64_t idb = (int64_t)i << 32;
        for (size_t q = 0; q < req->nq && st == VDB_OK && passing; q++) {
            const void *qv = query_of(req, fd, q);
            bool bin = fd->type == VDB_TYPE_BINARY_VECTOR;
            if (!v) {
                for (size_t r = vdb_bitset_next(bits, rows, 0); r < rows && st == VDB_OK;
                     r = vdb_bitset_next(bits, rows, r + 1)) {
                    float d = bin ? vdb_dist_bin(fd->metric, qv, base + r * width, width)
                                  : vdb_dist_t(fd->type, fd->metric, qv, base + r * width,
                                               fd->dim);
                    if (!isnan(d))
                        st = vdb_grouper_offer(gq[q], gc, r, d, idb + (int64_t)r);
                }
                continue;
            }
            size_t kk = VDB_MIN(VDB_MAX(want * gs * 2, (size_t)64), passing);
            for (;;) {
                vdb_topk h;
                vdb_grouper *tmp = NULL;
                if ((st = vdb_topk_init(&h, kk, higher)) != VDB_OK)
                    break;
                st = vdb_vindex_search(v, qv, (uint32_t)kk, &x->sp->sp, &vb, bits, idb, &h);
                if (st == VDB_OK)
                    st = vdb_grouper_new(gs, higher, &tmp);
                for (size_t j = 0; j < h.n && st == VDB_OK; j++)
                    st = vdb_grouper_offer(tmp, gc, (size_t)(h.id[j] & 0xffffffff), h.dist[j],
                                           h.id[j]);
                bool top_full = false;
                if (st == VDB_OK && strict)
                    st = vdb_grouper_top_full(tmp, want, &top_full);
                bool done = st != VDB_OK || h.n < kk || kk >= passing ||
                            (strict ? top_full : vdb_grouper_groups(tmp) >= want);
                for (size_t j = 0; done && j < h.n && st == VDB_OK; j++)
                    st = vdb_grouper_offer(gq[q], gc, (size_t)(h.id[j] & 0xffffffff),
                                           h.dist[j], h.id[j]);
                vdb_grouper_free(tmp);
                vdb_topk_free(&h);
                if (done)
                    break;
                kk = VDB_MIN(kk * 4, passing);
            }
        }
        vdb_free(bits);
    }
    return st;
}

/* Below this much work (rows times dim over the call's segments) a search stays on the
 * caller's thread: handing tasks to other threads would cost more than it saves. */
#define PARALLEL_MIN_WORK (1u << 18)

/* Bytes of heaps one call may hold per participant before it uses fewer participants. */
#define SLOT_HEAP_BUDGET (64u << 20)

/* How many participants search the call's segments (1: the caller alone). */
static uint32_t search_slots(vdb_db *db, const vdb_seg_set *set, const vdb_search_req *req)
{
    if (!db->search)
        return 1;
    size_t nonempty = 0, work = 0;
    for (size_t i = 0; i < set->n; i++) {
        size_t rows = vdb_segment_rows(set->segs[i]);
        nonempty += rows > 0;
        work += rows * VDB_MAX(req->dim, 16u); /* sparse (dim 0): a guess per row */
    }
    if (nonempty < 2 || work < PARALLEL_MIN_WORK)
        return 1;
    size_t per_slot = req->nq * (size_t)req->k * (sizeof(float) + sizeof(int64_t));
    size_t slots = VDB_MIN((size_t)vdb_pool_threads(db->search), nonempty);
    slots = VDB_MIN(slots, VDB_MAX(1, SLOT_HEAP_BUDGET / VDB_MAX(per_slot, 1)));
    return (uint32_t)VDB_MAX(slots, 1);
}

/* A grouping search's result: the groups offset .. offset + k - 1 of each query. */
static vdb_status grouped_result(vdb_collection *c, const vdb_search_req *req, uint32_t k,
                                 uint32_t gs, bool strict, size_t gf, const vdb_field_def *fd,
                                 size_t vf, uint64_t T, const vdb_expr *filter,
                                 const vdb_seg_set *set, const search_params *sp,
                                 const vdb_out_field *of, size_t nof, vdb_result **out)
{
    size_t per_q = (size_t)k * gs;
    vdb_grouper **gq = vdb_calloc(req->nq, sizeof *gq);
    int64_t *ids = vdb_malloc((per_q + 1) * sizeof *ids);
    float *dist = vdb_malloc((per_q + 1) * sizeof *dist);
    vdb_result *r = NULL;
    bool higher = vdb_metric_higher_is_better(fd->metric);
    vdb_status st = gq && ids && dist ? VDB_OK : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (size_t q = 0; q < req->nq && st == VDB_OK; q++)
        st = vdb_grouper_new(gs, higher, &gq[q]);
    search_ctx x = {c, req, fd, vf, T, filter, set, sp, NULL, NULL, NULL, NULL, NULL};
    if (st == VDB_OK)
        st = search_grouped(&x, gf, (size_t)req->offset + k, gs, strict, gq);
    if (st == VDB_OK)
        st = vdb_result_open(c, of, nof, req->nq, true, req->nq * per_q, &r);
    for (size_t q = 0; q < req->nq && st == VDB_OK; q++) {
        size_t n;
        st = vdb_grouper_take(gq[q], req->offset, k, ids, dist, &n);
        for (size_t j = 0; j < n && st == VDB_OK; j++) {
            r->dist[r->pks.rows] = rounded(sp, dist[j]);
            st = vdb_result_push(c, r, of, nof, set->segs[ids[j] >> 32],
                                 (size_t)(ids[j] & 0xffffffff));
        }
        r->group_off[q + 1] = r->pks.rows;
    }
    for (size_t q = 0; gq && q < req->nq; q++)
        vdb_grouper_free(gq[q]);
    vdb_free(gq);
    vdb_free(ids);
    vdb_free(dist);
    if (st != VDB_OK) {
        vdb_result_free(r);
        return st;
    }
    *out = r;
    return VDB_OK;
}

/* Search by primary key: the rows' stored vectors, read at the timestamp the search then
 * runs at, are the query vectors. */
static vdb_status search_by_pks(vdb_db *db, vdb_search_req *rq, vdb_result **out)
{
    VDB_CHECK_ARG(!rq->vectors && !rq->binary_vectors && !rq->sparse_vectors,
                  "vdb_search: give query vectors or query_pks, not both");
    VDB_CHECK_ARG(rq->collection, "vdb_search: collection is NULL");
    VDB_CHECK_ARG(rq->query_pks->count > 0 && rq->query_pks->count <= 16384,
                  "vdb_search: query_pks must hold 1..16384 keys, got %zu",
                  rq->query_pks->count);
    vdb_schema *s = NULL;
    vdb_result *got = NULL;
    float *vecs = NULL;
    uint64_t T;
    vdb_status st = vdb_describe_collection(db, rq->collection, &s);
    if (st != VDB_OK)
        return st;
    const char *field = rq->vector_field;
    uint32_t dim = 0;
    vdb_type vt = VDB_TYPE_NONE;
    size_t nvec = 0;
    for (size_t i = 0; i < s->nfields; i++) {
        const vdb_field_def *d = &s->fields[i].def;
        if (d->type == VDB_TYPE_SPARSE_FLOAT_VECTOR && field && !strcmp(field, d->name))
            st = vdb_set_errmsg(VDB_EUNSUPPORTED, "vdb_search: search by primary key of a "
                                "sparse vector field ('%s') is not supported by libvdb",
                                d->name);
        if (!vdb_type_is_vector(d->type))
            continue;
        nvec++;
        if (field ? !strcmp(field, d->name) : nvec == 1) {
            field = field ? field : d->name;
            dim = d->dim;
            vt = d->type;
        }
    }
    if (st == VDB_OK && !rq->vector_field && nvec > 1)
        st = vdb_set_errmsg(VDB_EINVAL, "collection '%s' has several vector fields: name one "
                            "in vector_field", s->name);
    else if (st == VDB_OK && !dim)
        st = vdb_set_errmsg(VDB_EINVAL, "'%s' is not a vector field of '%s'",
                            field ? field : "(null)", s->name);
    vdb_read_opts ro = rq->read;
    const char *outs[] = {field};
    ro.output_fields = outs;
    ro.n_output_fields = 1;
    if (st == VDB_OK && (st = vdb_read_ts(db, &rq->read, &T)) == VDB_OK)
        st = vdb_get_at(db, rq->collection, rq->query_pks, &ro, T, &got);
    size_t n = rq->query_pks->count;
    if (st == VDB_OK && got->pks.rows != n) {
        /* name the first key without a row: get keeps the keys' order, skipping missing ones */
        size_t i = 0, j = 0;
        for (; i < n; i++, j++) {
            bool same = j < got->pks.rows &&
                        (rq->query_pks->ints ? vdb_result_pk_int(got, 0, j) ==
                                                   rq->query_pks->ints[i]
                                             : !strcmp(vdb_result_pk_str(got, 0, j),
                                                       rq->query_pks->strs[i]));
            if (!same)
                break;
        }
        if (rq->query_pks->ints)
            st = vdb_set_errmsg(VDB_ENOTFOUND, "vdb_search: query_pks[%zu] = %lld has no "
                                "visible row in '%s'", i, (long long)rq->query_pks->ints[i],
                                rq->collection);
        else
            st = vdb_set_errmsg(VDB_ENOTFOUND, "vdb_search: query_pks[%zu] = '%s' has no "
                                "visible row in '%s'", i, rq->query_pks->strs[i],
                                rq->collection);
    }
    /* binary rows: their bytes are the queries (vecs then holds n * dim / 8 bytes) */
    bool bin = vt == VDB_TYPE_BINARY_VECTOR;
    size_t qbytes = bin ? vdb_vector_bytes(vt, dim) : dim * sizeof *vecs;
    if (st == VDB_OK && !(vecs = vdb_malloc(n * qbytes)))
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && st == VDB_OK; i++) {
        vdb_value v;
        if ((st = vdb_result_field(got, 0, i, field, &v)) != VDB_OK)
            break;
        if (bin)
            memcpy((uint8_t *)vecs + i * qbytes, v.u.raw.ptr, qbytes);
        else if (v.type == VDB_TYPE_FLOAT_VECTOR)
            memcpy(vecs + i * dim, v.u.vec.ptr, dim * sizeof *vecs);
        else /* FLOAT16 / BFLOAT16 / INT8 rows: the queries are their float values */
            vdb_vector_to_f32(v.type, v.u.raw.ptr, dim, vecs + i * dim);
    }
    if (st == VDB_OK) {
        rq->vector_field = field;
        rq->vectors = bin ? NULL : vecs;
        rq->binary_vectors = bin ? (const uint8_t *)vecs : NULL;
        rq->nq = n;
        rq->dim = dim;
        st = vdb_search_at(db, rq, T, "vdb_search", out);
    }
    vdb_free(vecs);
    vdb_result_free(got);
    vdb_schema_free(s);
    return st;
}

/* A sparse search's query rows, checked as inserted rows are, with drop_ratio_search
 * applied: *out views into one block *mem (both freed by the caller). */
static vdb_status sparse_queries(const vdb_search_req *req, double drop, vdb_sparse_vec **out,
                                 void **mem)
{
    size_t pairs = 0;
    for (size_t q = 0; q < req->nq; q++) {
        const vdb_sparse_row *r = &req->sparse_vectors[q];
        if (r->count && (!r->indices || !r->values))
            return vdb_set_errmsg(VDB_EINVAL, "sparse query %zu: %u pairs but indices or values "
                                  "is NULL", q, r->count);
        if (r->count > VDB_MAX_SPARSE_NNZ)
            return vdb_set_errmsg(VDB_EINVAL, "sparse query %zu: %u pairs, at most %u", q,
                                  r->count, VDB_MAX_SPARSE_NNZ);
        pairs += r->count;
    }
    vdb_sparse_vec *v = vdb_calloc(req->nq, sizeof *v);
    uint8_t *m = vdb_malloc(pairs * 16 + 8);
    if (!v || !m) {
        vdb_free(v);
        vdb_free(m);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    vdb_status st = VDB_OK;
    uint8_t *at = m;
    for (size_t q = 0; q < req->nq && st == VDB_OK; q++) {
        const vdb_sparse_row *r = &req->sparse_vectors[q];
        size_t n = r->count;
        /* the row as stored (checked like one), then the pruned copy beside it */
        if (n) {
            memcpy(at, r->indices, n * 4);
            memcpy(at + n * 4, r->values, n * 4);
        }
        char what[64];
        snprintf(what, sizeof what, "sparse query %zu", q);
        if ((st = vdb_sparse_check(at, n * 8, what)) != VDB_OK)
            break;
        vdb_sparse_vec full = vdb_sparse_view(at, n * 8);
        uint32_t *idx = (uint32_t *)(at + n * 8);
        float *val = (float *)(at + n * 12);
        uint32_t kept;
        st = vdb_sparse_drop_smallest(&full, drop, idx, val, &kept);
        v[q] = (vdb_sparse_vec){kept, idx, val};
        at += n * 16;
    }
    if (st != VDB_OK) {
        vdb_free(v);
        vdb_free(m);
        return st;
    }
    *out = v;
    *mem = m;
    return VDB_OK;
}

/* BM25 over the call's segments: the query texts' term vectors, the statistics of the
 * rows visible at T in every segment of set (N, the summed lengths, the df of each query
 * term: sums over segments, so shards and segments add up to one corpus; deleted rows and
 * rows after T are not in the visibility bitset, so they do not count), then each query's
 * weights qtf * idf with drop_ratio_search applied. *sq views into *mem; *scorers gets one
 * scorer per segment, whose row lengths are in *dl_mem. Under c->lock (read). */
typedef struct bm25_call {
    vdb_sparse_vec *sq;
    void *mem;
    vdb_bm25_scorer *scorers;
    float *dl;
    uint32_t *terms;
    double *df;
} bm25_call;

static void bm25_call_free(bm25_call *b)
{
    vdb_free(b->sq);
    vdb_free(b->mem);
    vdb_free(b->scorers);
    vdb_free(b->dl);
    vdb_free(b->terms);
    vdb_free(b->df);
}

static vdb_status bm25_prepare(vdb_collection *c, const vdb_search_req *req, size_t vf,
                               uint64_t T, const vdb_seg_set *set, double drop, double k1,
                               double b, bm25_call *bx)
{
    const vdb_schema *s = c->schema;
    const vdb_function_def *fn = &s->funcs[vdb_schema_function_of(s, vf)];
    const vdb_field_def *in = &s->fields[vdb_schema_find(s, fn->input_field)].def;
    char what[300];
    snprintf(what, sizeof what, "field '%s'", in->name);
    vdb_analyzer *a = NULL;
    vdb_status st = vdb_analyzer_new(in->analyzer_params,
                                     in->analyzer_params ? strlen(in->analyzer_params) : 0,
                                     what, &a);
    if (st != VDB_OK)
        return st;
    vdb_tokens tk = {0};
    vdb_buf all = {0};
    size_t *start = vdb_calloc(req->nq + 1, sizeof *start);
    if (!start)
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (size_t q = 0; q < req->nq && st == VDB_OK; q++) {
        const char *text = req->texts[q];
        uint32_t m = 0;
        if (!text) {
            st = vdb_set_errmsg(VDB_EINVAL, "texts[%zu] is NULL", q);
            break;
        }
        st = vdb_bm25_terms(a, text, strlen(text), &tk, &all, &m);
        if (st != VDB_OK)
            st = vdb_set_errmsg(st, "texts[%zu]: %s", q, vdb_err_get());
        start[q + 1] = all.len;
    }
    vdb_tokens_free(&tk);
    vdb_analyzer_free(a);
    size_t pairs = all.len / 8, rows = 0;
    for (size_t i = 0; i < set->n; i++)
        rows += vdb_segment_rows(set->segs[i]);
    if (st == VDB_OK) {
        bx->sq = vdb_calloc(req->nq, sizeof *bx->sq);
        bx->mem = vdb_malloc(pairs * 8 + 8);
        bx->terms = vdb_malloc(pairs * 4 + 4);
        bx->df = vdb_calloc(pairs + 1, sizeof *bx->df);
        bx->scorers = vdb_calloc(set->n + 1, sizeof *bx->scorers);
        bx->dl = vdb_malloc((rows + 1) * sizeof *bx->dl);
        if (!bx->sq || !bx->mem || !bx->terms || !bx->df || !bx->scorers || !bx->dl)
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    /* the query terms, sorted and unique */
    vdb_bm25_stats stats = {0};
    if (st == VDB_OK) {
        size_t n = 0;
        for (size_t q = 0; q < req->nq; q++) {
            vdb_sparse_vec v = vdb_sparse_view(all.p + start[q], start[q + 1] - start[q]);
            memcpy(bx->terms + n, v.idx, v.n * 4);
            n += v.n;
        }
        size_t u = vdb_bm25_unique(bx->terms, n);
        stats = (vdb_bm25_stats){0, 0, bx->terms, u, bx->df};
    }
    float *dl = bx->dl;
    for (size_t i = 0; i < set->n && st == VDB_OK; i++) {
        vdb_segment *seg = set->segs[i];
        size_t n = vdb_segment_rows(seg);
        bx->scorers[i].dl = dl;
        if (!n)
            continue;
        uint64_t *bits = vdb_calloc(n / 64 + 1, sizeof *bits);
        if (!bits) {
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            break;
        }
        vdb_collection_visible(c, seg, T, bits);
        vdb_bm25_stats_add(&stats, vdb_segment_column(seg, vf), n, bits, dl);
        vdb_free(bits);
        dl += n;
    }
    double avgdl = stats.docs > 0 && stats.total_len > 0 ? stats.total_len / stats.docs : 1.0;
    for (size_t i = 0; i < set->n && st == VDB_OK; i++) {
        bx->scorers[i].k1 = k1;
        bx->scorers[i].b = b;
        bx->scorers[i].avgdl = avgdl;
    }
    uint8_t *at = bx->mem;
    for (size_t q = 0; q < req->nq && st == VDB_OK; q++) {
        vdb_sparse_vec v = vdb_sparse_view(all.p + start[q], start[q + 1] - start[q]);
        float *w = vdb_malloc(v.n * sizeof *w + 4);
        if (!w) {
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            break;
        }
        for (uint32_t j = 0; j < v.n; j++) {
            w[j] = (float)(v.val[j] * vdb_bm25_idf(&stats, vdb_bm25_find(&stats, v.idx[j])));
        }
        vdb_sparse_vec full = {v.n, v.idx, w};
        uint32_t *idx = (uint32_t *)(void *)at;
        float *val = (float *)(void *)(at + v.n * 4);
        uint32_t kept = 0;
        st = vdb_sparse_drop_smallest(&full, drop, idx, val, &kept);
        bx->sq[q] = (vdb_sparse_vec){kept, idx, val};
        at += v.n * 8;
        vdb_free(w);
    }
    vdb_free(start);
    vdb_buf_free(&all);
    return st;
}

vdb_status vdb_search(vdb_db *db, const vdb_search_req *req_in, vdb_result **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && req_in && out, "vdb_search: db, req or out is NULL");
    *out = NULL;
    /* an older caller's shorter request reads as zeros past its end (its read options
     * included: the request's size covers them) */
    vdb_search_req rq;
    vdb_status st0 = vdb_struct_in(req_in, req_in->struct_size, offsetof(vdb_search_req, read),
                                   &rq, sizeof rq, "vdb_search_req");
    if (st0 != VDB_OK)
        return st0;
    rq.read.struct_size = sizeof rq.read;
    if ((st0 = vdb_follow_before_read(db, &rq.read)) != VDB_OK)
        return st0;
    if (rq.query_pks)
        return search_by_pks(db, &rq, out);
    return vdb_search_at(db, &rq, 0, "vdb_search", out);
}

vdb_status vdb_search_at(vdb_db *db, const vdb_search_req *req_full, uint64_t T_fixed,
                         const char *what, vdb_result **out)
{
    *out = NULL;
    VDB_CHECK_ARG(req_full->collection, "%s: collection is NULL", what);
    VDB_CHECK_ARG((req_full->vectors || req_full->sparse_vectors || req_full->binary_vectors ||
                   req_full->texts) && req_full->nq > 0, "%s: no query vectors", what);
    VDB_CHECK_ARG(!!req_full->vectors + !!req_full->sparse_vectors +
                      !!req_full->binary_vectors + !!req_full->texts == 1,
                  "%s: give one of vectors, sparse_vectors, binary_vectors and texts", what);
    VDB_CHECK_ARG(req_full->nq <= 16384, "%s: at most 16384 query vectors per call", what);
    VDB_CHECK_ARG(req_full->k >= 1 && req_full->k <= VDB_MAX_TOPK,
                  "%s: k must be 1..%d, got %u", what, VDB_MAX_TOPK, req_full->k);
    VDB_CHECK_ARG((uint64_t)req_full->k + req_full->offset <= VDB_MAX_TOPK,
                  "%s: k + offset must be at most %d (as Milvus), got %u + %u", what,
                  VDB_MAX_TOPK, req_full->k, req_full->offset);
    for (size_t i = 0; req_full->vectors && i < req_full->nq * (size_t)req_full->dim; i++)
        if (!isfinite(req_full->vectors[i]))
            return vdb_set_errmsg(VDB_EINVAL, "query vector %zu holds NaN or Inf",
                                  i / (req_full->dim ? req_full->dim : 1));
    bool grouped = req_full->group_by_field != NULL;
    uint32_t gs = req_full->group_size ? req_full->group_size : 1;
    VDB_CHECK_ARG(grouped || (!req_full->group_size && !req_full->strict_group_size),
                  "%s: group_size and strict_group_size need group_by_field", what);
    VDB_CHECK_ARG(gs <= 1024, "%s: group_size must be 1..1024, got %u", what, gs);
    VDB_CHECK_ARG(!grouped || (uint64_t)req_full->k * gs <= (1u << 20),
                  "%s: k * group_size must be at most %u, got %u * %u", what, 1u << 20,
                  req_full->k, gs);
    /* the walk finds k + offset hits per query; the first offset are skipped at the end */
    vdb_search_req rk = *req_full;
    rk.k += rk.offset;
    const vdb_search_req *req = &rk;
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_out_field *of = NULL;
    size_t nof = 0;
    vdb_seg_set set = {0};
    vdb_topk *heaps = NULL;
    vdb_status *slot_st = NULL;
    char (*slot_msg)[512] = NULL;
    uint32_t slots = 1;
    vdb_result *r = NULL;
    bool *want = NULL;
    bool locked = false;
    vdb_expr *filter = NULL;
    vdb_sparse_vec *sq = NULL;
    void *sq_mem = NULL;
    bm25_call bx = {0};
    vdb_status st = vdb_catalog_lookup(&db->catalog, req->collection, &c);
    if (st != VDB_OK)
        goto out;
    int vf = vector_field(c, req->vector_field);
    if (vf < 0) {
        st = vf == -2 ? vdb_set_errmsg(VDB_EINVAL, "collection '%s' has several vector fields: "
                                       "name one in vector_field", c->name)
                      : vdb_set_errmsg(VDB_EINVAL, "'%s' is not a vector field of '%s'",
                                       req->vector_field ? req->vector_field : "(null)",
                                       c->name);
        goto out;
    }
    const vdb_field_def *fd = &c->schema->fields[vf].def;
    int gf = grouped ? vdb_schema_find(c->schema, req->group_by_field) : -1;
    if (grouped) {
        vdb_type gt = gf >= 0 ? c->schema->fields[gf].def.type : VDB_TYPE_NONE;
        if (gf < 0) {
            st = vdb_set_errmsg(VDB_EINVAL, "group_by_field '%s' is not a field of '%s'",
                                req->group_by_field, c->name);
            goto out;
        }
        if (gt != VDB_TYPE_BOOL && gt != VDB_TYPE_INT8 && gt != VDB_TYPE_INT16 &&
            gt != VDB_TYPE_INT32 && gt != VDB_TYPE_INT64 && gt != VDB_TYPE_VARCHAR) {
            st = vdb_set_errmsg(VDB_EINVAL, "group_by_field '%s' is %s: grouping takes BOOL, "
                                "INT8..INT64 or VARCHAR fields", req->group_by_field,
                                vdb_type_name(gt));
            goto out;
        }
    }
    bool sparse = fd->type == VDB_TYPE_SPARSE_FLOAT_VECTOR;
    bool binary = fd->type == VDB_TYPE_BINARY_VECTOR;
    bool bm25 = fd->metric == VDB_METRIC_BM25;
    if (sparse != (req->sparse_vectors != NULL || req->texts != NULL) ||
        binary != (req->binary_vectors != NULL) || bm25 != (req->texts != NULL)) {
        st = vdb_set_errmsg(VDB_EINVAL, "field '%s' is %s%s: search it with %s", fd->name,
                            vdb_type_name(fd->type), bm25 ? " (BM25 function output)" : "",
                            bm25 ? "texts" : sparse ? "sparse_vectors"
                                 : binary ? "binary_vectors" : "vectors");
        goto out;
    }
    if (sparse && grouped) {
        st = vdb_set_errmsg(VDB_EUNSUPPORTED, "grouping search on sparse vector field '%s' is "
                            "not supported by libvdb", fd->name);
        goto out;
    }
    if (!sparse && req->dim != fd->dim) {
        st = vdb_set_errmsg(VDB_EINVAL, "query vectors have dim %u but field '%s' has dim %u%s",
                            req->dim, fd->name, fd->dim, binary ? " (bits)" : "");
        goto out;
    }
    uint64_t T;
    search_params sp;
    /* the kind is read once under the catalog lock; an index created meanwhile is used by
     * the next call (its segments are searched exactly until their builds land anyway) */
    vdb_lock_rd(&c->lock, VDB_RANK_COLL);
    const vdb_vindex_kind *kind = vdb_index_builds(c, (size_t)vf) ? c->index[vf].spec.kind
                                                                  : NULL;
    double k1 = VDB_BM25_K1, bm25_b = VDB_BM25_B;
    if (bm25 && kind) {
        k1 = c->index[vf].spec.p.v[VDB_SPARSE_PARAM_K1];
        bm25_b = c->index[vf].spec.p.v[VDB_SPARSE_PARAM_B];
    }
    vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    if ((st = parse_search_params(req->params, kind, fd->metric, &sp)) != VDB_OK ||
        (st = vdb_resolve_outputs(c, &req->read, &of, &nof)) != VDB_OK ||
        (st = vdb_filter_compile(c, req->filter, &filter)) != VDB_OK ||
        (T_fixed == 0 && (st = vdb_read_ts(db, &req->read, &T)) != VDB_OK))
        goto out;
    if (T_fixed)
        T = T_fixed;
    if (sparse && sp.ranged) {
        st = vdb_set_errmsg(VDB_EUNSUPPORTED, "range search (radius) on sparse vector field "
                            "'%s' is not supported by libvdb", fd->name);
        goto out;
    }
    if (sparse && !bm25 &&
        (st = sparse_queries(req, sp.drop_ratio_search, &sq, &sq_mem)) != VDB_OK)
        goto out;
    vdb_lock_rd(&c->lock, VDB_RANK_COLL);
    locked = true;
    if (!(want = vdb_calloc(c->nparts + 1, sizeof *want))) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto out;
    }
    if ((st = vdb_pick_partitions(c, &req->read, want)) == VDB_OK)
        vdb_key_prune(c, filter, want);
    if (st != VDB_OK || (st = vdb_pick_segments(c, want, UINT32_MAX, &set)) != VDB_OK)
        goto out;
    __atomic_add_fetch(&c->read_segments, set.n, __ATOMIC_RELAXED);
    if (bm25) {
        if ((st = bm25_prepare(c, req, (size_t)vf, T, &set, sp.drop_ratio_search, k1, bm25_b,
                               &bx)) != VDB_OK)
            goto out;
        sq = bx.sq;
    }
    if (grouped) {
        if (sp.ranged) {
            st = vdb_set_errmsg(VDB_EUNSUPPORTED, "grouping search with a range (radius) is "
                                "not supported by libvdb");
            goto out;
        }
        st = grouped_result(c, req, req_full->k, gs, req_full->strict_group_size != 0,
                            (size_t)gf, fd, (size_t)vf, T, filter, &set, &sp, of, nof, &r);
        goto out;
    }
    slots = search_slots(db, &set, req);
    heaps = vdb_calloc((size_t)slots * req->nq, sizeof *heaps);
    slot_st = vdb_calloc(slots, sizeof *slot_st);
    slot_msg = vdb_calloc(slots, sizeof *slot_msg);
    if (!heaps || !slot_st || !slot_msg) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto out;
    }
    bool higher = vdb_metric_higher_is_better(fd->metric);
    for (size_t h = 0; h < (size_t)slots * req->nq && st == VDB_OK; h++) {
        st = vdb_topk_init(&heaps[h], req->k, higher);
        if (st == VDB_OK && sp.ranged) /* every index honours the window through the heap */
            vdb_topk_set_range(&heaps[h], sp.radius, sp.range_filter);
    }
    if (st != VDB_OK)
        goto out;
    search_ctx x = {c,       req,      fd, (size_t)vf, T,         filter, &set,
                    &sp,     heaps,    slot_st,       slot_msg, sq,     bm25 ? bx.scorers : NULL};
    if (slots == 1)
        for (size_t i = 0; i < set.n && slot_st[0] == VDB_OK; i++)
            search_segment(&x, i, 0);
    else
        vdb_pool_for(db->search, set.n, slots - 1, search_segment, &x);
    for (uint32_t sl = 0; sl < slots && st == VDB_OK; sl++)
        if (slot_st[sl] != VDB_OK)
            st = vdb_set_errmsg(slot_st[sl], "%s", slot_msg[sl]);
    /* merge: the best k of the union of each slot's best k (ties: the smaller id, as in
     * a single heap, so the answer does not depend on how the segments were shared out) */
    for (uint32_t sl = 1; sl < slots && st == VDB_OK; sl++)
        for (size_t q = 0; q < req->nq; q++) {
            const vdb_topk *from = &heaps[(size_t)sl * req->nq + q];
            for (size_t j = 0; j < from->n; j++)
                vdb_topk_push(&heaps[q], from->dist[j], from->id[j]);
        }
    if (st == VDB_OK)
        st = vdb_result_open(c, of, nof, req->nq, true, req->nq * (size_t)req->k, &r);
    for (size_t q = 0; q < req->nq && st == VDB_OK; q++) {
        vdb_topk_sort(&heaps[q]);
        for (size_t j = req->offset; j < heaps[q].n && st == VDB_OK; j++) {
            int64_t id = heaps[q].id[j];
            r->dist[r->pks.rows] = rounded(&sp, heaps[q].dist[j]);
            st = vdb_result_push(c, r, of, nof, set.segs[id >> 32], (size_t)(id & 0xffffffff));
        }
        r->group_off[q + 1] = r->pks.rows;
    }
out:
    if (locked)
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    for (size_t h = 0; heaps && h < (size_t)slots * req->nq; h++)
        vdb_topk_free(&heaps[h]);
    vdb_free(heaps);
    vdb_free(slot_st);
    vdb_free(slot_msg);
    vdb_free(set.segs);
    vdb_free(of);
    vdb_free(want);
    if (sq != bx.sq)
        vdb_free(sq);
    vdb_free(sq_mem);
    bm25_call_free(&bx);
    if (filter)
        vdb_expr_free(filter);
    if (st != VDB_OK) {
        vdb_result_free(r);
        return st;
    }
    *out = r;
    return VDB_OK;
}

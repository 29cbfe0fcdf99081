/* Search: per segment, the MVCC bitset at the read timestamp and the filter, then the
 * segment's vector index under that bitset (or exact search while it has none); segments in
 * parallel on the search pool; merged across segments and shards. Readers hold the
 * collection's read lock only: they never wait for log or object I/O, nor for a build. */
#include <math.h>
#include <stdio.h>
#include <strings.h>

#include "core/filter.h"
#include "core/readpath.h"
#include "core/result.h"
#include "core/segment_index.h"
#include "util/kv.h"

static int vector_field(vdb_collection *c, const char *name)
{
    const vdb_schema *s = c->schema;
    if (name) {
        int f = vdb_schema_find(s, name);
        return f >= 0 && s->fields[f].def.type == VDB_TYPE_FLOAT_VECTOR ? f : -1;
    }
    int found = -1;
    for (size_t i = 0; i < s->nfields; i++)
        if (s->fields[i].def.type == VDB_TYPE_FLOAT_VECTOR) {
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
    bool taken;
    return vdb_vindex_search_param(p->kind, key, val, &p->sp, &taken);
}

static vdb_status parse_search_params(const char *params, const vdb_vindex_kind *kind,
                                      vdb_metric metric, search_params *out)
{
    *out = (search_params){.kind = kind};
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
    if (st == VDB_OK && vdb_segment_visible(s, x->T, bits) > 0 &&
        (st = vdb_filter_apply(x->c, x->filter, s, bits)) == VDB_OK) {
        const vdb_column *vc = vdb_segment_column(s, x->vf);
        const vdb_field_def *fd = x->fd;
        /* an attachment of a vector field is its index only when the kind builds one */
        const vdb_vindex *v = x->sp->kind ? vdb_segment_attachment(s, x->vf) : NULL;
        vdb_vectors base = {fd->type, fd->dim, fd->metric, rows, vc->data};
        if (!v)
            st = vdb_flat_search((const float *)vc->data, rows, fd->dim, fd->metric,
                                 req->vectors, req->nq, bits, (int64_t)i << 32, heaps);
        /* the index honours the bitset, and searches exactly when it excludes most rows */
        for (size_t q = 0; v && q < req->nq && st == VDB_OK; q++)
            st = vdb_vindex_search(v, req->vectors + q * fd->dim, req->k, &x->sp->sp, &base,
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
        work += rows * req->dim;
    }
    if (nonempty < 2 || work < PARALLEL_MIN_WORK)
        return 1;
    size_t per_slot = req->nq * (size_t)req->k * (sizeof(float) + sizeof(int64_t));
    size_t slots = VDB_MIN((size_t)vdb_pool_threads(db->search), nonempty);
    slots = VDB_MIN(slots, VDB_MAX(1, SLOT_HEAP_BUDGET / VDB_MAX(per_slot, 1)));
    return (uint32_t)VDB_MAX(slots, 1);
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
    const vdb_search_req *req = &rq;
    VDB_CHECK_ARG(req->collection, "vdb_search: collection is NULL");
    VDB_CHECK_ARG(req->vectors && req->nq > 0, "vdb_search: no query vectors");
    VDB_CHECK_ARG(req->nq <= 16384, "vdb_search: at most 16384 query vectors per call");
    VDB_CHECK_ARG(req->k >= 1 && req->k <= VDB_MAX_TOPK, "vdb_search: k must be 1..%d, got %u",
                  VDB_MAX_TOPK, req->k);
    for (size_t i = 0; i < req->nq * (size_t)req->dim; i++)
        if (!isfinite(req->vectors[i]))
            return vdb_set_errmsg(VDB_EINVAL, "query vector %zu holds NaN or Inf",
                                  i / (req->dim ? req->dim : 1));
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
    if (req->dim != fd->dim) {
        st = vdb_set_errmsg(VDB_EINVAL, "query vectors have dim %u but field '%s' has dim %u",
                            req->dim, fd->name, fd->dim);
        goto out;
    }
    uint64_t T;
    search_params sp;
    /* the kind is read once under the catalog lock; an index created meanwhile is used by
     * the next call (its segments are searched exactly until their builds land anyway) */
    vdb_lock_rd(&c->lock, VDB_RANK_COLL);
    const vdb_vindex_kind *kind = vdb_index_builds(c, (size_t)vf) ? c->index[vf].spec.kind
                                                                  : NULL;
    vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    if ((st = parse_search_params(req->params, kind, fd->metric, &sp)) != VDB_OK ||
        (st = vdb_resolve_outputs(c, &req->read, &of, &nof)) != VDB_OK ||
        (st = vdb_filter_compile(c, req->filter, &filter)) != VDB_OK ||
        (st = vdb_read_ts(db, &req->read, &T)) != VDB_OK)
        goto out;
    vdb_lock_rd(&c->lock, VDB_RANK_COLL);
    locked = true;
    if (!(want = vdb_calloc(c->nparts + 1, sizeof *want))) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto out;
    }
    if ((st = vdb_pick_partitions(c, &req->read, want)) != VDB_OK ||
        (st = vdb_pick_segments(c, want, UINT32_MAX, &set)) != VDB_OK)
        goto out;
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
    search_ctx x = {c, req, fd, (size_t)vf, T, filter, &set, &sp, heaps, slot_st, slot_msg};
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
        for (size_t j = 0; j < heaps[q].n && st == VDB_OK; j++) {
            int64_t id = heaps[q].id[j];
            r->dist[r->pks.rows] = heaps[q].dist[j];
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
    if (filter)
        vdb_expr_free(filter);
    if (st != VDB_OK) {
        vdb_result_free(r);
        return st;
    }
    *out = r;
    return VDB_OK;
}

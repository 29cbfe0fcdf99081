/* The read path: search (per segment under the MVCC bitset, through the segment's vector
 * index or exactly, segments in parallel, merged across segments and shards), get by primary
 * key, and statistics. Readers hold the collection's read lock only: they never wait for
 * log or object I/O, nor for an index build. */
#include <math.h>
#include <stdio.h>

#include <stdlib.h>
#include <strings.h>

#include "core.h"
#include "index/vector/hnsw.h"
#include "index/kernels/kernels.h"
#include "index/vector/ivf.h"

/* The timestamp a read sees, from its travel timestamp or consistency level. */
vdb_status vdb_read_ts(vdb_db *db, const vdb_read_opts *r, uint64_t *T)
{
    if (r && r->travel_ts) {
        uint64_t horizon = vdb_db_horizon(db);
        if (r->travel_ts < horizon)
            return vdb_set_errmsg(VDB_ERANGE, "travel timestamp %llu is older than the "
                                  "retention window (%llu s)",
                                  (unsigned long long)r->travel_ts,
                                  (unsigned long long)db->opts.retention_seconds);
        *T = r->travel_ts;
        return VDB_OK;
    }
    switch (r ? r->consistency : VDB_CONSISTENCY_STRONG) {
    case VDB_CONSISTENCY_STRONG:
    case VDB_CONSISTENCY_SESSION: /* writes are applied before they return: now covers them */
        return vdb_tso_next(db->tso, T);
    case VDB_CONSISTENCY_BOUNDED: {
        uint64_t now = vdb_now_ms();
        *T = vdb_ts_make(now > r->staleness_ms ? now - r->staleness_ms : 0, 0);
        return VDB_OK;
    }
    case VDB_CONSISTENCY_EVENTUALLY:
        *T = UINT64_MAX;
        return VDB_OK;
    }
    return vdb_set_errmsg(VDB_EINVAL, "unknown consistency level %d", (int)r->consistency);
}

/* ---- the segments a read covers ---- */


vdb_status vdb_pick_partitions(vdb_collection *c, const vdb_read_opts *r, bool *want)
{
    if (!r || !r->partitions || r->n_partitions == 0) {
        for (size_t i = 0; i < c->nparts; i++)
            want[i] = true;
        return VDB_OK;
    }
    for (size_t i = 0; i < r->n_partitions; i++) {
        int slot = r->partitions[i] ? vdb_partition_by_name(c, r->partitions[i]) : -1;
        if (slot < 0)
            return vdb_set_errmsg(VDB_ENOTFOUND, "partition '%s' does not exist in '%s'",
                                  r->partitions[i] ? r->partitions[i] : "(null)", c->name);
        want[slot] = true;
    }
    return VDB_OK;
}

/* Segments of the wanted partitions (shard: only that one; UINT32_MAX: all). */
vdb_status vdb_pick_segments(vdb_collection *c, const bool *want, uint32_t shard,
                                vdb_seg_set *out)
{
    size_t cap = c->nsealed;
    for (uint32_t s = 0; s < c->nshards; s++)
        cap += c->shards[s].ngrowing;
    out->segs = vdb_calloc(cap + 1, sizeof *out->segs);
    out->n = 0;
    if (!out->segs)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (uint32_t s = 0; s < c->nshards; s++) {
        if (shard != UINT32_MAX && s != shard)
            continue;
        for (size_t g = 0; g < c->shards[s].ngrowing; g++)
            if (want[g] && c->shards[s].growing[g])
                out->segs[out->n++] = c->shards[s].growing[g];
    }
    for (size_t i = 0; i < c->nsealed; i++) {
        vdb_segment_info info;
        vdb_segment_get_info(c->sealed[i], &info);
        int slot = vdb_partition_slot(c, info.partition_id);
        if (slot >= 0 && want[slot] && (shard == UINT32_MAX || info.shard == shard))
            out->segs[out->n++] = c->sealed[i];
    }
    return VDB_OK;
}

/* ---- output fields ---- */


static vdb_status add_out(vdb_out_field **v, size_t *n, const char *name, int col, vdb_type type,
                          uint32_t dim)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*v)[i].name, name))
            return VDB_OK;
    vdb_out_field *nv = vdb_realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    *v = nv;
    nv[(*n)++] = (vdb_out_field){name, col, type, dim};
    return VDB_OK;
}

vdb_status vdb_resolve_outputs(vdb_collection *c, const vdb_read_opts *r, vdb_out_field **out,
                                  size_t *n)
{
    const vdb_schema *s = c->schema;
    *out = NULL;
    *n = 0;
    vdb_status st = VDB_OK;
    for (size_t i = 0; r && r->output_fields && i < r->n_output_fields && st == VDB_OK; i++) {
        const char *name = r->output_fields[i];
        if (!name)
            return vdb_set_errmsg(VDB_EINVAL, "output field %zu is NULL", i);
        if (!strcmp(name, "*")) {
            for (size_t f = 0; f < s->nfields && st == VDB_OK; f++)
                st = add_out(out, n, s->fields[f].def.name, (int)f, c->types[f], c->dims[f]);
            if (st == VDB_OK && s->dynamic)
                st = add_out(out, n, VDB_DYNAMIC_FIELD, (int)s->nfields, VDB_TYPE_JSON, 0);
            continue;
        }
        int f = vdb_schema_find(s, name);
        if (f >= 0)
            st = add_out(out, n, name, f, c->types[f], c->dims[f]);
        else if (s->dynamic && !strcmp(name, VDB_DYNAMIC_FIELD))
            st = add_out(out, n, name, (int)s->nfields, VDB_TYPE_JSON, 0);
        else if (s->dynamic && vdb_name_valid(name))
            st = add_out(out, n, name, -1, VDB_TYPE_JSON, 0);
        else
            st = vdb_set_errmsg(VDB_EINVAL, "output field '%s' is not a field of '%s'", name,
                                c->name);
    }
    if (st != VDB_OK) {
        vdb_free(*out);
        *out = NULL;
    }
    return st;
}

vdb_status vdb_result_open(vdb_collection *c, const vdb_out_field *of, size_t nof, size_t groups,
                              bool with_dist, size_t max_rows, vdb_result **out)
{
    vdb_result *r;
    vdb_status st = vdb_result_new(c->types[c->schema->pk], groups, nof, &r);
    if (st != VDB_OK)
        return st;
    for (size_t i = 0; i < nof && st == VDB_OK; i++) {
        r->names[i] = vdb_strdup(of[i].name);
        vdb_column_init(&r->fields[i], of[i].type, of[i].dim, true);
        if (!r->names[i])
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    if (st == VDB_OK && with_dist && !(r->dist = vdb_calloc(max_rows + 1, sizeof(float))))
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    if (st != VDB_OK) {
        vdb_result_free(r);
        return st;
    }
    *out = r;
    return VDB_OK;
}

/* var-length values are kept with a trailing NUL so they can be used as C strings */
static vdb_status push_var(vdb_column *col, const char *s, size_t len, bool valid)
{
    char small[256];
    char *tmp = len < sizeof small ? small : vdb_malloc(len + 1);
    if (!tmp)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    memcpy(tmp, s, len);
    tmp[len] = 0;
    vdb_status st = vdb_column_push(col, tmp, len + 1, valid);
    if (tmp != small)
        vdb_free(tmp);
    return st;
}

/* Appends row `row` of segment s to the result. */
vdb_status vdb_result_push(vdb_collection *c, vdb_result *r, const vdb_out_field *of, size_t nof,
                              vdb_segment *s, size_t row)
{
    const vdb_column *pk = vdb_segment_column(s, (size_t)c->schema->pk);
    size_t len = 0;
    vdb_status st;
    if (pk->type == VDB_TYPE_INT64) {
        st = vdb_column_push(&r->pks, vdb_column_at(pk, row), 8, true);
    } else {
        const char *key = vdb_column_var(pk, row, &len); /* sets len: its own statement */
        st = push_var(&r->pks, key, len, true);
    }
    for (size_t i = 0; i < nof && st == VDB_OK; i++) {
        vdb_column *dst = &r->fields[i];
        if (of[i].col < 0) { /* a dynamic key inside "$meta" */
            const vdb_column *meta = vdb_segment_column(s, c->schema->nfields);
            const char *obj = vdb_column_var(meta, row, &len), *val;
            size_t vlen;
            if (vdb_json_get(obj, len, of[i].name, &val, &vlen))
                st = push_var(dst, val, vlen, true);
            else
                st = push_var(dst, "", 0, false);
            continue;
        }
        const vdb_column *src = vdb_segment_column(s, (size_t)of[i].col);
        bool valid = !vdb_column_is_null(src, row);
        if (vdb_type_is_var(src->type)) {
            const char *v = vdb_column_var(src, row, &len);
            st = push_var(dst, v, len, valid);
        } else {
            st = vdb_column_push(dst, vdb_column_at(src, row), 0, valid);
        }
    }
    return st;
}

/* ---- search ---- */

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

/* Search parameters "key=value,...", as Milvus's: ef (HNSW), nprobe (IVF), radius and
 * range_filter (range search). Keys meant for other index types, or unknown, are ignored as
 * Milvus ignores them; a malformed value of a known key is an error. */
typedef struct search_params {
    vdb_vindex_search_params sp;
    bool ranged, has_filter;
    float radius, range_filter;
} search_params;

static vdb_status uint_value(const char *key, const char *val, uint32_t lo, uint32_t hi,
                             uint32_t *out)
{
    char *stop;
    unsigned long v = strtoul(val, &stop, 10);
    if (!*val || *stop || *val == '-' || v < lo || v > hi)
        return vdb_set_errmsg(VDB_EINVAL, "search parameter %s=%s is out of range: %u..%u", key,
                              val, lo, hi);
    *out = (uint32_t)v;
    return VDB_OK;
}

static vdb_status float_value(const char *key, const char *val, float *out)
{
    char *stop;
    float v = strtof(val, &stop);
    if (!*val || *stop || !isfinite(v))
        return vdb_set_errmsg(VDB_EINVAL, "search parameter %s=%s is not a finite number", key,
                              val);
    *out = v;
    return VDB_OK;
}

static vdb_status parse_search_params(const char *params, uint32_t k, vdb_metric metric,
                                      search_params *out)
{
    *out = (search_params){.sp = {k > 64 ? k : 64, 8}};
    char buf[512];
    if (params && strlen(params) >= sizeof buf)
        return vdb_set_errmsg(VDB_EINVAL, "search parameters are too long (%zu bytes; at most "
                              "%zu)", strlen(params), sizeof buf - 1);
    strcpy(buf, params ? params : "");
    vdb_status st = VDB_OK;
    uint32_t ef = 0;
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv && st == VDB_OK;
         kv = strtok_r(NULL, ",", &save)) {
        while (*kv == ' ')
            kv++;
        if (!*kv)
            continue;
        char *eq = strchr(kv, '=');
        if (!eq)
            return vdb_set_errmsg(VDB_EINVAL, "search parameter '%s' is not key=value", kv);
        *eq = 0;
        const char *key = kv, *val = eq + 1;
        if (!strcasecmp(key, "ef"))
            st = uint_value("ef", val, 1, VDB_HNSW_EF_MAX, &ef);
        else if (!strcasecmp(key, "nprobe"))
            st = uint_value("nprobe", val, 1, VDB_IVF_NPROBE_MAX, &out->sp.nprobe);
        else if (!strcasecmp(key, "radius")) {
            st = float_value("radius", val, &out->radius);
            out->ranged = true;
        } else if (!strcasecmp(key, "range_filter")) {
            st = float_value("range_filter", val, &out->range_filter);
            out->has_filter = true;
        }
    }
    if (st != VDB_OK)
        return st;
    if (ef)
        out->sp.ef = ef < k ? k : ef;
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
        const vdb_vindex *v = vdb_segment_attachment(s, x->vf);
        const vdb_field_def *fd = x->fd;
        if (!v)
            st = vdb_flat_search((const float *)vc->data, rows, fd->dim, fd->metric,
                                 req->vectors, req->nq, bits, (int64_t)i << 32, heaps);
        /* the index honours the bitset, and searches exactly when it excludes most rows */
        for (size_t q = 0; v && q < req->nq && st == VDB_OK; q++)
            st = vdb_vindex_search(v, req->vectors + q * fd->dim, req->k, &x->sp->sp,
                                   (const float *)vc->data, bits, (int64_t)i << 32, &heaps[q]);
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

vdb_status vdb_search(vdb_db *db, const vdb_search_req *req, vdb_result **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && req && out, "vdb_search: db, req or out is NULL");
    *out = NULL;
    VDB_CHECK_ARG(req->struct_size >= offsetof(vdb_search_req, read),
                  "vdb_search_req.struct_size is %u: set it to sizeof(vdb_search_req)",
                  req->struct_size);
    VDB_CHECK_ARG(req->collection, "vdb_search: collection is NULL");
    VDB_CHECK_ARG(req->vectors && req->nq > 0, "vdb_search: no query vectors");
    VDB_CHECK_ARG(req->nq <= 16384, "vdb_search: at most 16384 query vectors per call");
    VDB_CHECK_ARG(req->k >= 1 && req->k <= VDB_MAX_TOPK, "vdb_search: k must be 1..%d, got %u",
                  VDB_MAX_TOPK, req->k);
    for (size_t i = 0; i < req->nq * (size_t)req->dim; i++)
        if (!isfinite(req->vectors[i]))
            return vdb_set_errmsg(VDB_EINVAL, "query vector %zu holds NaN or Inf",
                                  i / (req->dim ? req->dim : 1));
    pthread_rwlock_rdlock(&db->catalog);
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
    vdb_status st = vdb_catalog_lookup(db, req->collection, &c);
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
    if ((st = parse_search_params(req->params, req->k, fd->metric, &sp)) != VDB_OK ||
        (st = vdb_resolve_outputs(c, &req->read, &of, &nof)) != VDB_OK ||
        (st = vdb_filter_compile(c, req->filter, &filter)) != VDB_OK ||
        (st = vdb_read_ts(db, &req->read, &T)) != VDB_OK)
        goto out;
    pthread_rwlock_rdlock(&c->lock);
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
        pthread_rwlock_unlock(&c->lock);
    pthread_rwlock_unlock(&db->catalog);
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

/* ---- get ---- */

vdb_status vdb_get(vdb_db *db, const char *collection, const vdb_pk_list *pks,
                   const vdb_read_opts *read, vdb_result **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && out, "vdb_get: db, collection or out is NULL");
    *out = NULL;
    pthread_rwlock_rdlock(&db->catalog);
    vdb_collection *c;
    vdb_column keys = {0};
    vdb_out_field *of = NULL;
    size_t nof = 0;
    bool *want = NULL, locked = false;
    vdb_seg_set set = {0};
    vdb_result *r = NULL;
    uint64_t T;
    vdb_status st = vdb_catalog_lookup(db, collection, &c);
    if (st == VDB_OK)
        st = vdb_convert_pks(c, pks, &keys);
    if (st == VDB_OK)
        st = vdb_resolve_outputs(c, read, &of, &nof);
    if (st == VDB_OK)
        st = vdb_read_ts(db, read, &T);
    if (st != VDB_OK)
        goto out;
    pthread_rwlock_rdlock(&c->lock);
    locked = true;
    if (!(want = vdb_calloc(c->nparts + 1, sizeof *want))) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto out;
    }
    if ((st = vdb_pick_partitions(c, read, want)) != VDB_OK ||
        (st = vdb_pick_segments(c, want, UINT32_MAX, &set)) != VDB_OK ||
        (st = vdb_result_open(c, of, nof, 1, false, 0, &r)) != VDB_OK)
        goto out;
    for (size_t k = 0; k < keys.rows && st == VDB_OK; k++) {
        vdb_pk pk = vdb_pk_of(&keys, k);
        uint32_t shard = vdb_shard_of(c, pk);
        vdb_segment *best = NULL;
        int64_t best_row = -1;
        uint64_t best_ts = 0;
        for (size_t i = 0; i < set.n; i++) {
            vdb_segment_info info;
            vdb_segment_get_info(set.segs[i], &info);
            if (info.shard != shard || !vdb_segment_may_contain(set.segs[i], pk))
                continue;
            int64_t row = vdb_segment_find(set.segs[i], pk, T);
            if (row < 0)
                continue;
            uint64_t ts = vdb_segment_timestamps(set.segs[i])[row];
            if (!best || ts >= best_ts) {
                best = set.segs[i];
                best_row = row;
                best_ts = ts;
            }
        }
        if (best)
            st = vdb_result_push(c, r, of, nof, best, (size_t)best_row);
    }
    if (st == VDB_OK)
        r->group_off[1] = r->pks.rows;
out:
    if (locked)
        pthread_rwlock_unlock(&c->lock);
    pthread_rwlock_unlock(&db->catalog);
    vdb_column_free(&keys);
    vdb_free(of);
    vdb_free(want);
    vdb_free(set.segs);
    if (st != VDB_OK) {
        vdb_result_free(r);
        return st;
    }
    *out = r;
    return VDB_OK;
}

/* ---- statistics ---- */

vdb_status vdb_collection_stats(vdb_db *db, const char *collection, vdb_stats *out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && out, "vdb_collection_stats: db, collection or out is "
                  "NULL");
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&db->catalog);
    vdb_collection *c;
    uint64_t T;
    vdb_status st = vdb_catalog_lookup(db, collection, &c);
    if (st == VDB_OK)
        st = vdb_tso_next(db->tso, &T);
    if (st == VDB_OK) {
        pthread_rwlock_rdlock(&c->lock);
        out->num_shards = c->nshards;
        out->num_partitions = (uint32_t)c->nparts;
        for (uint32_t s = 0; s < c->nshards && st == VDB_OK; s++)
            for (size_t g = 0; g < c->shards[s].ngrowing && st == VDB_OK; g++) {
                vdb_segment *seg = c->shards[s].growing[g];
                if (!seg)
                    continue;
                vdb_segment_info info;
                vdb_segment_get_info(seg, &info);
                out->growing_segments++;
                out->growing_rows += info.rows;
                out->deleted_rows += info.deletes;
            }
        for (size_t i = 0; i < c->nsealed; i++) {
            vdb_segment_info info;
            vdb_segment_get_info(c->sealed[i], &info);
            out->sealed_segments++;
            out->sealed_rows += info.rows;
            out->deleted_rows += info.deletes;
            vdb_index_usage(c, c->sealed[i], &out->index_bytes, &out->indexed_rows);
        }
        out->failed_index_builds = c->index_failures;
        bool *all = vdb_calloc(c->nparts + 1, sizeof *all);
        vdb_seg_set set = {0};
        if (!all)
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        if (st == VDB_OK)
            st = vdb_pick_partitions(c, NULL, all);
        if (st == VDB_OK)
            st = vdb_pick_segments(c, all, UINT32_MAX, &set);
        for (size_t i = 0; i < set.n && st == VDB_OK; i++) {
            size_t rows = vdb_segment_rows(set.segs[i]);
            uint64_t *bits = vdb_calloc(rows / 64 + 1, sizeof *bits);
            if (!bits) {
                st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
                break;
            }
            out->row_count += vdb_segment_visible(set.segs[i], T, bits);
            vdb_free(bits);
        }
        vdb_free(set.segs);
        vdb_free(all);
        pthread_rwlock_unlock(&c->lock);
    }
    pthread_rwlock_unlock(&db->catalog);
    return st;
}

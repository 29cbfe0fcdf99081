/* The read path: search (exact, per segment under the MVCC bitset, merged across segments
 * and shards), get by primary key, and statistics. Readers hold the collection's read lock
 * only: they never wait for log or object I/O. */
#include <math.h>
#include <stdio.h>

#include <stdlib.h>
#include <strings.h>

#include "core.h"
#include "index/hnsw.h"
#include "index/index.h"

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

/* Search parameters "key=value,...": ef (HNSW's beam width; default max(k, 64)). Keys meant
 * for other index types are ignored, as Milvus ignores them. */
static vdb_status search_ef(const char *params, uint32_t k, uint32_t *ef)
{
    *ef = k > 64 ? k : 64;
    for (const char *p = params; p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 3 && !strncasecmp(p, "ef=", 3)) {
            char num[16] = "";
            memcpy(num, p + 3, VDB_MIN(n - 3, sizeof num - 1));
            char *stop;
            unsigned long v = strtoul(num, &stop, 10);
            if (!*num || *stop || v < 1 || v > VDB_HNSW_EF_MAX)
                return vdb_set_errmsg(VDB_EINVAL, "search parameter ef=%s is out of range: "
                                      "1..%d", num, VDB_HNSW_EF_MAX);
            *ef = v < k ? k : (uint32_t)v;
        }
        p = end ? end + 1 : NULL;
    }
    return VDB_OK;
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
    uint64_t *bits = NULL;
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
    uint32_t ef;
    if ((st = search_ef(req->params, req->k, &ef)) != VDB_OK ||
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
    if (!(heaps = vdb_calloc(req->nq, sizeof *heaps))) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto out;
    }
    bool higher = vdb_metric_higher_is_better(fd->metric);
    for (size_t q = 0; q < req->nq && st == VDB_OK; q++)
        st = vdb_topk_init(&heaps[q], req->k, higher);
    for (size_t i = 0; i < set.n && st == VDB_OK; i++) {
        vdb_segment *s = set.segs[i];
        size_t rows = vdb_segment_rows(s);
        if (!rows)
            continue;
        vdb_free(bits);
        if (!(bits = vdb_calloc(rows / 64 + 1, sizeof *bits))) {
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            break;
        }
        if (vdb_segment_visible(s, T, bits) == 0)
            continue;
        if ((st = vdb_filter_apply(c, filter, s, bits)) != VDB_OK)
            break;
        const vdb_column *vc = vdb_segment_column(s, (size_t)vf);
        const vdb_hnsw *h = vdb_segment_attachment(s, (size_t)vf);
        if (!h) {
            st = vdb_flat_search((const float *)vc->data, rows, fd->dim, fd->metric,
                                 req->vectors, req->nq, bits, (int64_t)i << 32, heaps);
            continue;
        }
        /* the graph honours the bitset, and searches exactly when it excludes most rows */
        for (size_t q = 0; q < req->nq && st == VDB_OK; q++)
            st = vdb_hnsw_search(h, req->vectors + q * fd->dim, req->k, ef, bits,
                                 (int64_t)i << 32, &heaps[q]);
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
    for (size_t q = 0; heaps && q < req->nq; q++)
        vdb_topk_free(&heaps[q]);
    vdb_free(heaps);
    vdb_free(bits);
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
        }
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

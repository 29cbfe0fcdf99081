/* Hybrid search, as Milvus's: several ANN requests (one per vector field, each with its own
 * vectors, filter, params and limit) at one timestamp, their hits fused per query by a
 * ranker (RRF or weighted), then offset and limit, then the output fields of the fused
 * rows, fetched by key at the same timestamp. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/group.h"
#include "core/readpath.h"
#include "core/result.h"
#include "core/search.h"
#include "core/schema.h"
#include "util/kv.h"

#define MAX_REQS 1024
#define RRF_DEFAULT_K 60.0
#define PI 3.14159265358979323846

/* One hit of one request, or (after fusion) one fused row. */
typedef struct hit {
    vdb_pk pk;     /* s points into a sub-result */
    double score;
    size_t req;    /* the request it came from (ties in the sum: request order) */
    const vdb_result *src; /* the sub-result and row it came from (grouping: its value) */
    size_t row;
} hit;

static int by_pk_then_req(const void *x, const void *y)
{
    const hit *a = x, *b = y;
    int c = vdb_pk_cmp(a->pk, b->pk);
    return c ? c : (a->req < b->req ? -1 : a->req > b->req);
}

static int by_score_desc(const void *x, const void *y)
{
    const hit *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return vdb_pk_cmp(a->pk, b->pk);
}

static int by_score_asc(const void *x, const void *y)
{
    const hit *a = x, *b = y;
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    return vdb_pk_cmp(a->pk, b->pk);
}

/* Milvus's metric-aware normalisation of a score into [0, 1], larger better. */
static double norm_score(vdb_metric m, double s)
{
    switch (m) {
    case VDB_METRIC_COSINE: return (1.0 + s) * 0.5;
    case VDB_METRIC_IP: return 0.5 + atan(s) / PI;
    default: return 1.0 - 2.0 * atan(s) / PI; /* L2, HAMMING, JACCARD: distances */
    }
}

/* The metric of the vector field a request names (NULL: the only one). */
static vdb_status request_metric(const vdb_schema *s, const char *field, size_t i,
                                 vdb_metric *out)
{
    int found = -1;
    for (size_t f = 0; f < s->nfields; f++) {
        if (s->fields[f].def.type == VDB_TYPE_SPARSE_FLOAT_VECTOR && field &&
            !strcmp(field, s->fields[f].def.name))
            return vdb_set_errmsg(VDB_EUNSUPPORTED, "vdb_hybrid_search: request %zu: sparse "
                                  "vector field '%s' in a hybrid search is not supported by "
                                  "libvdb", i, field);
        if (!vdb_type_is_vector(s->fields[f].def.type))
            continue;
        if (field ? !strcmp(field, s->fields[f].def.name) : found < 0) {
            found = (int)f;
            if (field)
                break;
        } else if (!field) {
            return vdb_set_errmsg(VDB_EINVAL, "vdb_hybrid_search: request %zu: collection '%s' "
                                  "has several vector fields: name one in vector_field", i,
                                  s->name);
        }
    }
    if (found < 0)
        return vdb_set_errmsg(VDB_EINVAL, "vdb_hybrid_search: request %zu: '%s' is not a "
                              "vector field of '%s'", i, field ? field : "(null)", s->name);
    *out = s->fields[found].def.metric;
    return VDB_OK;
}

static vdb_status check_request(const vdb_hybrid_req *h, size_t *nq)
{
    VDB_CHECK_ARG(h->collection, "vdb_hybrid_search: collection is NULL");
    VDB_CHECK_ARG(h->reqs && h->n_reqs >= 1 && h->n_reqs <= MAX_REQS,
                  "vdb_hybrid_search: give 1..%d requests, got %zu", MAX_REQS, h->n_reqs);
    VDB_CHECK_ARG(h->limit >= 1 && h->limit <= VDB_MAX_TOPK,
                  "vdb_hybrid_search: limit must be 1..%d, got %u", VDB_MAX_TOPK, h->limit);
    VDB_CHECK_ARG((uint64_t)h->limit + h->offset <= VDB_MAX_TOPK,
                  "vdb_hybrid_search: limit + offset must be at most %d (as Milvus), got "
                  "%u + %u", VDB_MAX_TOPK, h->limit, h->offset);
    if (h->ranker == VDB_RANKER_RRF) {
        VDB_CHECK_ARG(h->rrf_k == 0 || (h->rrf_k > 0 && h->rrf_k < 16384),
                      "vdb_hybrid_search: RRF k must be in (0, 16384), got %g", h->rrf_k);
        VDB_CHECK_ARG(!h->weights, "vdb_hybrid_search: weights are for the WEIGHTED ranker");
        VDB_CHECK_ARG(!h->no_normalize,
                      "vdb_hybrid_search: no_normalize is for the WEIGHTED ranker");
    } else if (h->ranker == VDB_RANKER_WEIGHTED) {
        VDB_CHECK_ARG(h->weights, "vdb_hybrid_search: the WEIGHTED ranker needs %zu weights",
                      h->n_reqs);
        VDB_CHECK_ARG(h->rrf_k == 0, "vdb_hybrid_search: rrf_k is for the RRF ranker");
        for (size_t i = 0; i < h->n_reqs; i++)
            VDB_CHECK_ARG(h->weights[i] >= 0 && h->weights[i] <= 1,
                          "vdb_hybrid_search: weight %zu is %g: weights must be in [0, 1]",
                          i, (double)h->weights[i]);
    } else {
        return vdb_set_errmsg(VDB_EINVAL, "vdb_hybrid_search: ranker must be VDB_RANKER_RRF "
                              "or VDB_RANKER_WEIGHTED, got %d", (int)h->ranker);
    }
    uint32_t gs = h->group_size ? h->group_size : 1;
    VDB_CHECK_ARG(h->group_by_field || (!h->group_size && !h->strict_group_size),
                  "vdb_hybrid_search: group_size and strict_group_size need group_by_field");
    VDB_CHECK_ARG(gs <= 1024, "vdb_hybrid_search: group_size must be 1..1024, got %u", gs);
    VDB_CHECK_ARG(!h->group_by_field || (uint64_t)h->limit * gs <= (1u << 20),
                  "vdb_hybrid_search: limit * group_size must be at most %u, got %u * %u",
                  1u << 20, h->limit, gs);
    *nq = 0;
    for (size_t i = 0; i < h->n_reqs; i++) {
        VDB_CHECK_ARG(h->reqs[i], "vdb_hybrid_search: request %zu is NULL", i);
        size_t n = h->reqs[i]->struct_size >= offsetof(vdb_ann_req, nq) + sizeof(size_t)
                       ? h->reqs[i]->nq : 0;
        VDB_CHECK_ARG(n > 0, "vdb_hybrid_search: request %zu has no query vectors", i);
        VDB_CHECK_ARG(i == 0 || n == *nq, "vdb_hybrid_search: request %zu has %zu query "
                      "vectors, request 0 has %zu: every request needs the same number", i, n,
                      *nq);
        *nq = n;
    }
    return VDB_OK;
}

/* Fuses query q's hits of every sub-result into fused (sorted best first); *n gets their
 * number. scratch holds room for every hit. */
static void fuse_query(const vdb_hybrid_req *h, vdb_result *const *sub, const vdb_metric *metric,
                       bool ascending, size_t q, hit *scratch, size_t *n)
{
    size_t m = 0;
    double k = h->rrf_k > 0 ? h->rrf_k : RRF_DEFAULT_K;
    for (size_t i = 0; i < h->n_reqs; i++) {
        const vdb_result *r = sub[i];
        size_t base = r->group_off[q], rows = r->group_off[q + 1] - base;
        for (size_t j = 0; j < rows; j++) {
            double s;
            if (h->ranker == VDB_RANKER_RRF)
                s = 1.0 / (k + (double)(j + 1));
            else if (!h->no_normalize)
                s = h->weights[i] * norm_score(metric[i], r->dist[base + j]);
            else if (!ascending && !vdb_metric_higher_is_better(metric[i]))
                s = h->weights[i] * -(double)r->dist[base + j];
            else
                s = h->weights[i] * (double)r->dist[base + j];
            scratch[m++] = (hit){vdb_pk_of(&r->pks, base + j), s, i, r, base + j};
        }
    }
    qsort(scratch, m, sizeof *scratch, by_pk_then_req);
    size_t out = 0;
    for (size_t j = 0; j < m; j++) {
        if (out && !vdb_pk_cmp(scratch[out - 1].pk, scratch[j].pk))
            scratch[out - 1].score += scratch[j].score;
        else
            scratch[out++] = scratch[j];
    }
    qsort(scratch, out, sizeof *scratch, ascending ? by_score_asc : by_score_desc);
    *n = out;
}

/* vdb_hybrid_req.params: round_decimal only */
static vdb_status hybrid_param(void *arg, const char *key, const char *val)
{
    if (!strcasecmp(key, "round_decimal"))
        return vdb_round_decimal_param("hybrid parameter", val, arg);
    return vdb_set_errmsg(VDB_EINVAL, "vdb_hybrid_search: unknown hybrid parameter '%s' "
                          "(it takes round_decimal)", key);
}

vdb_status vdb_hybrid_search(vdb_db *db, const vdb_hybrid_req *in, vdb_result **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && in && out, "vdb_hybrid_search: db, req or out is NULL");
    *out = NULL;
    vdb_hybrid_req h;
    vdb_status st = vdb_struct_in(in, in->struct_size, offsetof(vdb_hybrid_req, read), &h,
                                  sizeof h, "vdb_hybrid_req");
    if (st != VDB_OK)
        return st;
    h.read.struct_size = sizeof h.read;
    if ((st = vdb_follow_before_read(db, &h.read)) != VDB_OK)
        return st;
    size_t nq = 0;
    int round_decimal = -1;
    if ((st = check_request(&h, &nq)) != VDB_OK ||
        (st = vdb_kv_each(h.params, "hybrid parameter", hybrid_param, &round_decimal)) != VDB_OK)
        return st;
    vdb_schema *schema = NULL;
    vdb_result **sub = vdb_calloc(h.n_reqs, sizeof *sub);
    vdb_metric *metric = vdb_calloc(h.n_reqs, sizeof *metric);
    hit *scratch = NULL, *picked = NULL;
    vdb_grouper *grouper = NULL;
    int64_t *gids = NULL;
    float *gdist = NULL;
    bool grouped = h.group_by_field != NULL;
    size_t gs = grouped && h.group_size ? h.group_size : 1;
    const char *gfield[1] = {h.group_by_field};
    size_t *group_end = vdb_calloc(nq, sizeof *group_end);
    int64_t *ints = NULL;
    const char **strs = NULL;
    vdb_result *got = NULL;
    uint64_t T;
    if (!sub || !metric || !group_end) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto out;
    }
    if ((st = vdb_describe_collection(db, h.collection, &schema)) != VDB_OK ||
        (st = vdb_read_ts(db, &h.read, &T)) != VDB_OK)
        goto out;
    bool ascending = h.ranker == VDB_RANKER_WEIGHTED && h.no_normalize;
    size_t total = 0;
    for (size_t i = 0; i < h.n_reqs && st == VDB_OK; i++) {
        vdb_ann_req a;
        /* a caller from before binary_vectors has the shorter struct: the rest reads as 0 */
        if ((st = vdb_struct_in(h.reqs[i], h.reqs[i]->struct_size,
                                offsetof(vdb_ann_req, binary_vectors), &a, sizeof a,
                                "vdb_ann_req")) != VDB_OK ||
            (st = request_metric(schema, a.vector_field, i, &metric[i])) != VDB_OK)
            break;
        ascending = ascending && !vdb_metric_higher_is_better(metric[i]);
        vdb_search_req sr = {.struct_size = sizeof sr, .collection = h.collection,
                             .vector_field = a.vector_field, .vectors = a.vectors, .nq = a.nq,
                             .dim = a.dim, .k = a.limit, .filter = a.filter,
                             .params = a.params, .read = h.read,
                             .group_by_field = h.group_by_field, .group_size = h.group_size,
                             .strict_group_size = h.strict_group_size,
                             .binary_vectors = a.binary_vectors};
        sr.read.output_fields = grouped ? gfield : NULL; /* grouping: each hit's value */
        sr.read.n_output_fields = grouped ? 1 : 0;
        char what[64];
        snprintf(what, sizeof what, "vdb_hybrid_search: request %zu", i);
        st = vdb_search_at(db, &sr, T, what, &sub[i]);
        if (st != VDB_OK)
            st = vdb_set_errmsg(st, "vdb_hybrid_search: request %zu (field '%s'): %s", i,
                                a.vector_field ? a.vector_field : "(the vector field)",
                                vdb_err_get());
        else
            total += sub[i]->pks.rows;
    }
    if (st != VDB_OK)
        goto out;
    scratch = vdb_malloc((total + 1) * sizeof *scratch);
    size_t per_q = (size_t)h.limit * gs;
    picked = vdb_malloc((nq * per_q + 1) * sizeof *picked);
    if (grouped) {
        gids = vdb_malloc((per_q + 1) * sizeof *gids);
        gdist = vdb_malloc((per_q + 1) * sizeof *gdist);
    }
    if (!scratch || !picked || (grouped && (!gids || !gdist))) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto out;
    }
    size_t npicked = 0;
    for (size_t q = 0; q < nq && st == VDB_OK; q++) {
        size_t n;
        fuse_query(&h, sub, metric, ascending, q, scratch, &n);
        if (!grouped) {
            for (size_t j = h.offset; j < n && j < (size_t)h.offset + h.limit; j++)
                picked[npicked++] = scratch[j];
            group_end[q] = npicked;
            continue;
        }
        /* the fused rows, best first, into groups by their value; a hit's id is its rank,
         * so equal (float) scores keep the fused order */
        size_t taken = 0;
        st = vdb_grouper_new(gs, !ascending, &grouper);
        for (size_t j = 0; j < n && st == VDB_OK; j++)
            st = vdb_grouper_offer(grouper, &scratch[j].src->fields[0], scratch[j].row,
                                   (float)scratch[j].score, (int64_t)j);
        if (st == VDB_OK)
            st = vdb_grouper_take(grouper, h.offset, h.limit, gids, gdist, &taken);
        for (size_t j = 0; j < taken && st == VDB_OK; j++)
            picked[npicked++] = scratch[gids[j]];
        group_end[q] = npicked;
        vdb_grouper_free(grouper);
        grouper = NULL;
    }
    if (st != VDB_OK)
        goto out;
    /* the fused rows' output fields, by key at the same timestamp */
    bool str_pk = sub[0]->pks.type == VDB_TYPE_VARCHAR;
    if (str_pk) {
        strs = vdb_calloc(npicked + 1, sizeof *strs);
        for (size_t j = 0; strs && j < npicked && st == VDB_OK; j++)
            if (!(strs[j] = vdb_strndup(picked[j].pk.s, picked[j].pk.len)))
                st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    } else if ((ints = vdb_malloc((npicked + 1) * sizeof *ints))) {
        for (size_t j = 0; j < npicked; j++)
            ints[j] = picked[j].pk.i;
    }
    if (st == VDB_OK && !strs && !ints)
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    if (st != VDB_OK)
        goto out;
    vdb_pk_list keys = {str_pk ? NULL : ints, str_pk ? (const char *const *)strs : NULL,
                        npicked};
    if ((st = vdb_get_at(db, h.collection, &keys, &h.read, T, &got)) != VDB_OK)
        goto out;
    if (got->pks.rows != npicked) { /* a row seen by a request is visible at T to get */
        st = vdb_set_errmsg(VDB_EIO, "vdb_hybrid_search: %zu of %zu fused rows of '%s' were "
                            "not found again at the search's timestamp", npicked -
                            got->pks.rows, npicked, h.collection);
        goto out;
    }
    size_t *off = vdb_realloc(got->group_off, (nq + 1) * sizeof *off);
    float *dist = vdb_malloc((npicked + 1) * sizeof *dist);
    if (off)
        got->group_off = off;
    if (!off || !dist) {
        vdb_free(dist);
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto out;
    }
    off[0] = 0;
    for (size_t q = 0; q < nq; q++)
        off[q + 1] = group_end[q];
    for (size_t j = 0; j < npicked; j++)
        dist[j] = vdb_round_decimal((float)picked[j].score, round_decimal);
    got->ngroups = nq;
    got->dist = dist;
out:
    for (size_t i = 0; sub && i < h.n_reqs; i++)
        vdb_result_free(sub[i]);
    for (size_t j = 0; strs && strs[j]; j++)
        vdb_free((void *)strs[j]);
    vdb_free(strs);
    vdb_free(ints);
    vdb_free(sub);
    vdb_free(metric);
    vdb_free(scratch);
    vdb_free(picked);
    vdb_free(group_end);
    vdb_grouper_free(grouper);
    vdb_free(gids);
    vdb_free(gdist);
    vdb_schema_free(schema);
    if (st != VDB_OK) {
        vdb_result_free(got);
        return st;
    }
    *out = got;
    return VDB_OK;
}

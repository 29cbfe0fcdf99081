/* The vector-index registry, the one reader of the kinds' parameter tables, and the wrapper
 * that pairs a built index with its kind. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "index/vector/vindex.h"
#include "util/kv.h"

/* Every kind, once. A new index type is one file defining its kind and one line here. */
static const vdb_vindex_kind *const kinds[] = {
    &vdb_flat_kind,
    &vdb_hnsw_kind,
    &vdb_ivf_flat_kind,
    &vdb_ivf_sq8_kind,
    &vdb_ivf_pq_kind,
    &vdb_sparse_inverted_kind,
    &vdb_sparse_wand_kind,
    &vdb_bin_flat_kind,
    &vdb_bin_ivf_flat_kind,
};

struct vdb_vindex {
    const vdb_vindex_kind *kind;
    void *impl;
};

/* ---- kinds ---- */

const vdb_vindex_kind *vdb_vindex_kind_find(const char *name)
{
    if (name && !strcasecmp(name, "AUTOINDEX")) /* exact search: Milvus's brute-force answers */
        return &vdb_flat_kind;
    for (size_t i = 0; name && i < VDB_ARRAY_LEN(kinds); i++)
        if (!strcasecmp(name, kinds[i]->name))
            return kinds[i];
    return NULL;
}

static char kind_names[256];
static pthread_once_t kind_names_once = PTHREAD_ONCE_INIT;

static void fill_kind_names(void)
{
    size_t at = 0;
    for (size_t i = 0; i < VDB_ARRAY_LEN(kinds); i++) {
        int k = snprintf(kind_names + at, sizeof kind_names - at, "%s, ", kinds[i]->name);
        if (k > 0 && (size_t)k < sizeof kind_names - at)
            at += (size_t)k;
    }
    snprintf(kind_names + at, sizeof kind_names - at, "AUTOINDEX");
}

const char *vdb_vindex_kind_names(void)
{
    pthread_once(&kind_names_once, fill_kind_names);
    return kind_names;
}

void vdb_vindex_kind_names_for(vdb_type t, char *buf, size_t n)
{
    size_t at = 0;
    if (n)
        buf[0] = 0;
    for (size_t i = 0; i < VDB_ARRAY_LEN(kinds); i++) {
        if ((unsigned)t < 100 || !(kinds[i]->types & VDB_VTYPE_BIT(t)))
            continue;
        int k = snprintf(buf + VDB_MIN(at, n), at < n ? n - at : 0, "%s%s", at ? ", " : "",
                         kinds[i]->name);
        at += k > 0 ? (size_t)k : 0;
    }
}

bool vdb_vindex_kind_unsupported(const char *name)
{
    static const char *const milvus_only[] = {"SCANN", "DISKANN", "GPU_IVF_FLAT", "GPU_IVF_PQ",
                                              "GPU_CAGRA", "GPU_BRUTE_FORCE", "MINHASH_LSH"};
    for (size_t i = 0; name && i < VDB_ARRAY_LEN(milvus_only); i++)
        if (!strcasecmp(name, milvus_only[i]))
            return true;
    return false;
}

/* ---- parameter tables ---- */

static int param_index(const vdb_param_def *defs, size_t n, const char *key, bool nocase)
{
    for (size_t i = 0; i < n; i++)
        if (nocase ? !strcasecmp(defs[i].name, key) : !strcmp(defs[i].name, key))
            return (int)i;
    return -1;
}

/* One value of def: a word of its choices, or a number in range (whole if integer). */
static vdb_status read_value(const char *what, const vdb_param_def *d, const char *val,
                             double *out)
{
    if (d->choices) {
        for (size_t i = 0; d->choices[i]; i++)
            if (!strcasecmp(val, d->choices[i])) {
                *out = (double)i;
                return VDB_OK;
            }
        char words[256] = "";
        for (size_t i = 0, at = 0; d->choices[i] && at < sizeof words; i++) {
            int k = snprintf(words + at, sizeof words - at, "%s%s", i ? ", " : "", d->choices[i]);
            at += k > 0 ? (size_t)k : 0;
        }
        return vdb_set_errmsg(VDB_EINVAL, "%s %s=%s is not one of %s", what, d->name, val, words);
    }
    if (d->integer) {
        uint32_t v;
        vdb_status st = vdb_kv_uint(what, d->name, val, (uint32_t)d->lo, (uint32_t)d->hi, &v);
        *out = v;
        return st;
    }
    float f;
    vdb_status st = vdb_kv_float(what, d->name, val, &f);
    if (st == VDB_OK && (f < d->lo || f > d->hi))
        st = vdb_set_errmsg(VDB_EINVAL, "%s %s=%s is out of range: %g..%g", what, d->name, val,
                            d->lo, d->hi);
    *out = f;
    return st;
}

static void defaults(const vdb_param_def *defs, size_t n, vdb_vparams *p)
{
    *p = (vdb_vparams){0};
    /* a fractional default as read_value reads a given value (a float), so that the default
     * and the same value given (or read back from the meta store) are one spec and one file
     * name: bm25_k1's 1.2 is 1.20000005 either way */
    for (size_t i = 0; i < n && i < VDB_VINDEX_MAX_PARAMS; i++)
        p->v[i] = defs[i].integer || defs[i].choices ? defs[i].def : (double)(float)defs[i].def;
}

/* "; HNSW takes M: 2..100, efConstruction: 1..10000" for messages. */
static void takes(const vdb_vindex_kind *k, char *buf, size_t n)
{
    if (!k->n_build_params) {
        snprintf(buf, n, "; %s takes no parameters", k->name);
        return;
    }
    int w = snprintf(buf, n, "; %s takes ", k->name);
    size_t at = w > 0 ? (size_t)w : 0;
    for (size_t i = 0; i < k->n_build_params && at < n; i++) {
        const vdb_param_def *d = &k->build_params[i];
        w = d->choices ? snprintf(buf + at, n - at, "%s%s", i ? ", " : "", d->name)
                       : snprintf(buf + at, n - at, "%s%s: %g..%g", i ? ", " : "", d->name,
                                  d->lo, d->hi);
        at += w > 0 ? (size_t)w : 0;
    }
}

typedef struct spec_reader {
    vdb_vindex_spec *s;
    vdb_param_hook hook;
    void *arg;
} spec_reader;

static vdb_status spec_pair(void *arg, const char *key, const char *val)
{
    spec_reader *r = arg;
    const vdb_vindex_kind *k = r->s->kind;
    vdb_status st;
    if (r->hook && r->hook(r->arg, key, val, &st))
        return st;
    /* build parameter names are case-sensitive: IVF_PQ's m is not HNSW's M */
    int i = param_index(k->build_params, k->n_build_params, key, false);
    if (i < 0) {
        char t[256];
        takes(k, t, sizeof t);
        return vdb_set_errmsg(VDB_EINVAL, "index type %s has no parameter '%s' (%s=%s)%s",
                              k->name, key, key, val, t);
    }
    r->s->p.given |= 1u << i;
    char what[64];
    snprintf(what, sizeof what, "%s parameter", k->name);
    return read_value(what, &k->build_params[i], val, &r->s->p.v[i]);
}

vdb_status vdb_vindex_spec_parse(const vdb_vindex_kind *kind, const char *text,
                                 const vdb_vectors *shape, vdb_param_hook hook, void *arg,
                                 vdb_vindex_spec *out)
{
    out->kind = kind;
    defaults(kind->build_params, kind->n_build_params, &out->p);
    spec_reader r = {out, hook, arg};
    vdb_status st = vdb_kv_each(text, "index parameter", spec_pair, &r);
    if (st == VDB_OK && kind->check)
        st = kind->check(&out->p, shape);
    return st;
}

/* A value as text: a choice's word, or the number (integers without a fraction). */
static int put_value(const vdb_param_def *d, double v, char *buf, size_t n)
{
    if (d->choices)
        return snprintf(buf, n, "%s", d->choices[(size_t)v]);
    return d->integer ? snprintf(buf, n, "%u", (uint32_t)v) : snprintf(buf, n, "%.9g", v);
}

int vdb_vindex_spec_format(const vdb_vindex_spec *s, char *buf, size_t n)
{
    const vdb_vindex_kind *k = s->kind;
    size_t at = 0;
    if (n)
        buf[0] = 0;
    for (size_t i = 0; i < k->n_build_params; i++) {
        int w = snprintf(buf + VDB_MIN(at, n), at < n ? n - at : 0, "%s%s=", i ? "," : "",
                         k->build_params[i].name);
        at += w > 0 ? (size_t)w : 0;
        w = put_value(&k->build_params[i], s->p.v[i], buf + VDB_MIN(at, n), at < n ? n - at : 0);
        at += w > 0 ? (size_t)w : 0;
    }
    return (int)at;
}

bool vdb_vindex_spec_equal(const vdb_vindex_spec *a, const vdb_vindex_spec *b)
{
    if (a->kind != b->kind)
        return false;
    for (size_t i = 0; i < a->kind->n_build_params; i++)
        if (a->p.v[i] != b->p.v[i])
            return false;
    return true;
}

int vdb_vindex_spec_file(const vdb_vindex_spec *s, size_t col, char *buf, size_t n)
{
    const vdb_vindex_kind *k = s->kind;
    int w = snprintf(buf, n, "%s_%zu", k->file_tag, col);
    size_t at = w > 0 ? (size_t)w : 0;
    for (size_t i = 0; i < k->n_build_params; i++) {
        const vdb_param_def *d = &k->build_params[i];
        w = snprintf(buf + VDB_MIN(at, n), at < n ? n - at : 0, "_%s", d->tag ? d->tag : d->name);
        at += w > 0 ? (size_t)w : 0;
        w = put_value(d, s->p.v[i], buf + VDB_MIN(at, n), at < n ? n - at : 0);
        at += w > 0 ? (size_t)w : 0;
    }
    return (int)at;
}

uint32_t vdb_vparam_u32(const vdb_param_def *defs, size_t n, const vdb_vparams *p,
                        const char *name)
{
    int i = param_index(defs, n, name, false);
    return i < 0 ? 0 : (uint32_t)p->v[i];
}

/* ---- search parameters ---- */

void vdb_vindex_search_defaults(const vdb_vindex_kind *kind, vdb_vparams *sp)
{
    if (kind)
        defaults(kind->search_params, kind->n_search_params, sp);
    else
        *sp = (vdb_vparams){0};
}

vdb_status vdb_vindex_search_param(const vdb_vindex_kind *kind, const char *key, const char *val,
                                   vdb_vparams *sp, bool *taken)
{
    *taken = false;
    if (kind) {
        int i = param_index(kind->search_params, kind->n_search_params, key, true);
        if (i >= 0) {
            *taken = true;
            sp->given |= 1u << i;
            return read_value("search parameter", &kind->search_params[i], val, &sp->v[i]);
        }
    }
    for (size_t k = 0; k < VDB_ARRAY_LEN(kinds); k++) {
        int i = param_index(kinds[k]->search_params, kinds[k]->n_search_params, key, true);
        if (i >= 0) {
            double ignored;
            *taken = true;
            return read_value("search parameter", &kinds[k]->search_params[i], val, &ignored);
        }
    }
    return VDB_OK;
}

/* ---- built indexes ---- */

static vdb_status wrap(const vdb_vindex_kind *k, void *impl, vdb_vindex **out)
{
    vdb_vindex *v = vdb_calloc(1, sizeof *v);
    if (!v) {
        k->free(impl);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    v->kind = k;
    v->impl = impl;
    *out = v;
    return VDB_OK;
}

static vdb_status check_rows(const vdb_vindex_kind *k, const vdb_vectors *rows)
{
    if (rows->type < 100 || !(k->types & VDB_VTYPE_BIT(rows->type)))
        return vdb_set_errmsg(VDB_EINVAL, "index type %s does not index %s fields", k->name,
                              vdb_type_name(rows->type));
    return VDB_OK;
}

vdb_status vdb_vindex_build(const vdb_vindex_spec *s, const vdb_vectors *rows, uint32_t threads,
                            vdb_build_progress_fn progress, void *arg, vdb_vindex **out)
{
    *out = NULL;
    const vdb_vindex_kind *k = s->kind;
    if (!k->build)
        return vdb_set_errmsg(VDB_EINVAL, "index type %s has nothing to build", k->name);
    vdb_status st = check_rows(k, rows);
    void *impl = NULL;
    if (st == VDB_OK)
        st = k->build(&s->p, rows, threads, progress, arg, &impl);
    return st == VDB_OK ? wrap(k, impl, out) : st;
}

vdb_status vdb_vindex_search(const vdb_vindex *idx, const void *query, uint32_t k,
                             const vdb_vparams *sp, const vdb_vectors *rows,
                             const uint64_t *bitset, int64_t id_base, vdb_topk *out)
{
    return idx->kind->search(idx->impl, query, k, sp, rows, bitset, id_base, out);
}

vdb_status vdb_vindex_search_scored(const vdb_vindex *idx, const void *query, const void *scorer,
                                    const uint64_t *bitset, int64_t id_base, vdb_topk *out)
{
    if (!idx->kind->search_scored)
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "index type %s has no scorer search",
                              idx->kind->name);
    return idx->kind->search_scored(idx->impl, query, scorer, bitset, id_base, out);
}

vdb_status vdb_vindex_encode(const vdb_vindex *idx, vdb_buf *out)
{
    return idx->kind->encode(idx->impl, out);
}

vdb_status vdb_vindex_decode(const vdb_vindex_spec *s, const void *p, size_t len,
                             const vdb_vectors *rows, vdb_vindex **out)
{
    *out = NULL;
    const vdb_vindex_kind *k = s->kind;
    if (!k->decode)
        return vdb_set_errmsg(VDB_EINVAL, "index type %s has no saved form", k->name);
    vdb_status st = check_rows(k, rows);
    void *impl = NULL;
    if (st == VDB_OK)
        st = k->decode(p, len, rows, &impl);
    return st == VDB_OK ? wrap(k, impl, out) : st;
}

vdb_status vdb_vindex_decode_view(const vdb_vindex_spec *s, const void *p, size_t len,
                                  const vdb_vectors *rows, vdb_vindex **out)
{
    *out = NULL;
    const vdb_vindex_kind *k = s->kind;
    if (!k->decode_view)
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "index type %s is loaded into memory, not "
                              "used in place from a mapped file", k->name);
    vdb_status st = check_rows(k, rows);
    void *impl = NULL;
    if (st == VDB_OK)
        st = k->decode_view(p, len, rows, &impl);
    return st == VDB_OK ? wrap(k, impl, out) : st;
}

const vdb_vindex_kind *vdb_vindex_kind_of(const vdb_vindex *idx) { return idx->kind; }

size_t vdb_vindex_memory(const vdb_vindex *idx)
{
    return sizeof *idx + idx->kind->memory(idx->impl);
}

size_t vdb_vindex_rows(const vdb_vindex *idx) { return idx->kind->rows(idx->impl); }

void vdb_vindex_free(vdb_vindex *idx)
{
    if (!idx)
        return;
    idx->kind->free(idx->impl);
    vdb_free(idx);
}

/* ---- FLAT: exact search, nothing to build ---- */

const vdb_vindex_kind vdb_flat_kind = {
    .name = "FLAT",
    .file_tag = "flat",
    .types = VDB_VTYPE_BIT(VDB_TYPE_FLOAT_VECTOR) | VDB_VTYPE_BIT(VDB_TYPE_FLOAT16_VECTOR) |
             VDB_VTYPE_BIT(VDB_TYPE_BFLOAT16_VECTOR) | VDB_VTYPE_BIT(VDB_TYPE_INT8_VECTOR),
};

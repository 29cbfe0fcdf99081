/* Index DDL: create, drop and describe the index of a field, and the checks of index types
 * and parameters. The choice is kept in the meta store ("idx/<collection>/<field>": the type,
 * and its parameters on a second line); the indexes themselves are built for each sealed
 * segment (segment_index.c) when it is sealed, loaded, or when the index is created. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "core.h"
#include "index/vector/hnsw.h"
#include "index/vector/ivf.h"

static bool is_numeric(vdb_type t)
{
    return t == VDB_TYPE_INT8 || t == VDB_TYPE_INT16 || t == VDB_TYPE_INT32 ||
           t == VDB_TYPE_INT64 || t == VDB_TYPE_FLOAT || t == VDB_TYPE_DOUBLE;
}

static vdb_status type_check(const vdb_field_def *f, const char *type, const char **canon)
{
    vdb_type t = f->type;
    vdb_vindex_type vt = vdb_vindex_type_from_name(type);
    if (t == VDB_TYPE_FLOAT_VECTOR) {
        /* AUTOINDEX keeps exact search (FLAT): the same answers Milvus's brute force gives */
        if (!strcasecmp(type, "FLAT") || !strcasecmp(type, "AUTOINDEX"))
            *canon = "FLAT";
        else if (vt != VDB_VINDEX_NONE)
            *canon = vdb_vindex_type_name(vt);
        else if (!strcasecmp(type, "SCANN") || !strcasecmp(type, "DISKANN") ||
                 !strcasecmp(type, "GPU_IVF_FLAT") || !strcasecmp(type, "GPU_IVF_PQ") ||
                 !strcasecmp(type, "GPU_CAGRA") || !strcasecmp(type, "GPU_BRUTE_FORCE"))
            return vdb_set_errmsg(VDB_EUNSUPPORTED, "index type %s on vector field '%s' is "
                                  "not supported (FLAT, HNSW, IVF_FLAT, IVF_SQ8, IVF_PQ, "
                                  "AUTOINDEX are)", type, f->name);
        else
            return vdb_set_errmsg(VDB_EINVAL, "unknown index type '%s' for vector field '%s' "
                                  "(FLAT, HNSW, IVF_FLAT, IVF_SQ8, IVF_PQ, AUTOINDEX)", type,
                                  f->name);
        return VDB_OK;
    }
    if (t == VDB_TYPE_JSON || t == VDB_TYPE_ARRAY)
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "field '%s' is %s: no scalar index for it yet",
                              f->name, vdb_type_name(t));
    if (!strcasecmp(type, "AUTOINDEX"))
        type = t == VDB_TYPE_VARCHAR ? "TRIE" : t == VDB_TYPE_BOOL ? "INVERTED" : "STL_SORT";
    if (!strcasecmp(type, "STL_SORT") && (is_numeric(t) || t == VDB_TYPE_BOOL))
        *canon = "STL_SORT";
    else if (!strcasecmp(type, "INVERTED"))
        *canon = "INVERTED";
    else if (!strcasecmp(type, "TRIE") && t == VDB_TYPE_VARCHAR)
        *canon = "TRIE";
    else if (!strcasecmp(type, "STL_SORT") || !strcasecmp(type, "TRIE"))
        return vdb_set_errmsg(VDB_EINVAL, "index type %s does not suit field '%s' of type %s "
                              "(STL_SORT: numeric; TRIE: VARCHAR; INVERTED: any scalar)", type,
                              f->name, vdb_type_name(t));
    else if (vt != VDB_VINDEX_NONE || !strcasecmp(type, "FLAT"))
        return vdb_set_errmsg(VDB_EINVAL, "index type %s is for vector fields; '%s' is %s",
                              type, f->name, vdb_type_name(t));
    else
        return vdb_set_errmsg(VDB_EINVAL, "unknown index type '%s' for field '%s' (scalar: "
                              "STL_SORT, INVERTED, TRIE, AUTOINDEX)", type, f->name);
    return VDB_OK;
}

/* One "key=value" of an index's parameters, as an integer within [lo, hi]. */
static vdb_status uint_param(const char *type, const char *key, const char *val, uint32_t lo,
                             uint32_t hi, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul(val, &end, 10);
    if (!*val || *end || *val == '-' || v < lo || v > hi)
        return vdb_set_errmsg(VDB_EINVAL, "%s parameter %s=%s is out of range: %u..%u", type,
                              key, val, lo, hi);
    *out = (uint32_t)v;
    return VDB_OK;
}

/* What each vector type takes, for messages. */
static const char *takes(const char *canon)
{
    if (!strcmp(canon, "HNSW"))
        return "; HNSW takes M: 2..100 and efConstruction: M..10000";
    if (!strcmp(canon, "IVF_FLAT") || !strcmp(canon, "IVF_SQ8"))
        return "; IVF_FLAT and IVF_SQ8 take nlist: 1..65536";
    if (!strcmp(canon, "IVF_PQ"))
        return "; IVF_PQ takes nlist: 1..65536, m: a divisor of dim, nbits: 1..16";
    return "";
}

/* One parameter of a vector index type; false when the type has no such key. */
static bool vector_param(const vdb_field_def *f, const char *canon, const char *key,
                         const char *val, vdb_index_params *out, vdb_status *st)
{
    bool ivf = !strncmp(canon, "IVF_", 4);
    if (!strcmp(canon, "HNSW") && !strcmp(key, "M"))
        *st = uint_param("HNSW", key, val, VDB_HNSW_M_MIN, VDB_HNSW_M_MAX, &out->M);
    else if (!strcmp(canon, "HNSW") && !strcmp(key, "efConstruction"))
        *st = uint_param("HNSW", key, val, 1, VDB_HNSW_EFC_MAX, &out->ef_construction);
    else if (ivf && !strcmp(key, "nlist"))
        *st = uint_param(canon, key, val, VDB_IVF_NLIST_MIN, VDB_IVF_NLIST_MAX, &out->nlist);
    else if (!strcmp(canon, "IVF_PQ") && !strcmp(key, "m")) {
        *st = uint_param(canon, key, val, 1, f->dim, &out->pq_m);
        if (*st == VDB_OK && f->dim % out->pq_m)
            *st = vdb_set_errmsg(VDB_EINVAL, "IVF_PQ parameter m=%s must divide the dim %u of "
                                 "field '%s'", val, f->dim, f->name);
    } else if (!strcmp(canon, "IVF_PQ") && !strcmp(key, "nbits"))
        *st = uint_param(canon, key, val, VDB_IVF_PQ_NBITS_MIN, VDB_IVF_PQ_NBITS_MAX,
                         &out->pq_nbits);
    else
        return false;
    return true;
}

vdb_status vdb_index_check(const vdb_field_def *f, const char *type, const char *params,
                           const char **canon, vdb_index_params *out)
{
    vdb_status st = type_check(f, type, canon);
    if (st != VDB_OK)
        return st;
    /* defaults, as Milvus's: HNSW M=16, efConstruction=200; IVF nlist=128; PQ nbits=8 */
    *out = (vdb_index_params){16, 200, 128, 0, 8};
    char buf[512];
    if (params && strlen(params) >= sizeof buf)
        return vdb_set_errmsg(VDB_EINVAL, "index parameters are too long");
    strcpy(buf, params ? params : "");
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv && st == VDB_OK;
         kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            return vdb_set_errmsg(VDB_EINVAL, "index parameter '%s' is not key=value", kv);
        *eq = 0;
        const char *key = kv, *val = eq + 1;
        vdb_metric m;
        if (!strcasecmp(key, "metric_type") || !strcasecmp(key, "metricType")) {
            m = !strcasecmp(val, "L2") ? VDB_METRIC_L2 : !strcasecmp(val, "IP") ? VDB_METRIC_IP
                : !strcasecmp(val, "COSINE") ? VDB_METRIC_COSINE : 0;
            if (f->type != VDB_TYPE_FLOAT_VECTOR || m != f->metric)
                st = vdb_set_errmsg(VDB_EINVAL, "metric_type %s does not match field '%s' "
                                    "(%s)", val, f->name, f->type == VDB_TYPE_FLOAT_VECTOR
                                    ? vdb_metric_name(f->metric) : "not a vector field");
        } else if (!vector_param(f, *canon, key, val, out, &st)) {
            st = vdb_set_errmsg(VDB_EINVAL, "index type %s has no parameter '%s' (%s=%s)%s",
                                *canon, key, key, val, takes(*canon));
        }
    }
    if (st == VDB_OK && !strcmp(*canon, "HNSW") && out->ef_construction < out->M)
        st = vdb_set_errmsg(VDB_EINVAL, "HNSW efConstruction=%u must be at least M=%u",
                            out->ef_construction, out->M);
    if (st == VDB_OK && !strcmp(*canon, "IVF_PQ") && !out->pq_m)
        st = vdb_set_errmsg(VDB_EINVAL, "IVF_PQ needs parameter m (sub-quantizers: a divisor "
                            "of the dim %u of field '%s')", f->dim, f->name);
    return st;
}

/* The meta value: the type, then its parameters on a second line. */
static int encode_value(char *buf, size_t n, const char *canon, const vdb_index_params *p)
{
    if (!strcmp(canon, "HNSW"))
        return snprintf(buf, n, "%s\nM=%u,efConstruction=%u", canon, p->M, p->ef_construction);
    if (!strcmp(canon, "IVF_FLAT") || !strcmp(canon, "IVF_SQ8"))
        return snprintf(buf, n, "%s\nnlist=%u", canon, p->nlist);
    if (!strcmp(canon, "IVF_PQ"))
        return snprintf(buf, n, "%s\nnlist=%u,m=%u,nbits=%u", canon, p->nlist, p->pq_m,
                        p->pq_nbits);
    return snprintf(buf, n, "%s", canon);
}

/* Only what the type uses counts when comparing two choices. */
static bool same_params(const char *canon, const vdb_index_params *a, const vdb_index_params *b)
{
    if (!strcmp(canon, "HNSW"))
        return a->M == b->M && a->ef_construction == b->ef_construction;
    if (!strcmp(canon, "IVF_FLAT") || !strcmp(canon, "IVF_SQ8"))
        return a->nlist == b->nlist;
    if (!strcmp(canon, "IVF_PQ"))
        return a->nlist == b->nlist && a->pq_m == b->pq_m && a->pq_nbits == b->pq_nbits;
    return true;
}

static void idx_key(char *buf, size_t n, const vdb_collection *c, const char *field)
{
    snprintf(buf, n, "idx/%016llx/%s", (unsigned long long)c->id, field);
}

static vdb_status find_field(vdb_collection *c, const char *field, int *f)
{
    *f = vdb_schema_find(c->schema, field);
    if (*f < 0)
        return vdb_set_errmsg(VDB_ENOTFOUND, "collection '%s' has no field '%s'", c->name,
                              field);
    return VDB_OK;
}

/* The collection and the field's column (under the caller's catalog lock). */
static vdb_status lookup_field(vdb_db *db, const char *collection, const char *field,
                               vdb_collection **c, int *f)
{
    vdb_status st = vdb_catalog_lookup(db, collection, c);
    return st == VDB_OK ? find_field(*c, field, f) : st;
}

vdb_status vdb_create_index(vdb_db *db, const char *collection, const char *field,
                            const char *type, const char *params)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && field, "vdb_create_index: db, collection or field is "
                  "NULL");
    if (!type || !*type)
        type = "AUTOINDEX";
    pthread_rwlock_rdlock(&db->catalog);
    vdb_collection *c;
    int f;
    const char *canon = NULL;
    vdb_index_params ip;
    vdb_status st = lookup_field(db, collection, field, &c, &f);
    if (st == VDB_OK)
        st = vdb_index_check(&c->schema->fields[f].def, type, params, &canon, &ip);
    if (st != VDB_OK)
        goto out;
    pthread_mutex_lock(&c->write_mu); /* no seal or compaction while the index is added */
    if (c->index_type[f] && (strcmp(c->index_type[f], canon) ||
                             !same_params(canon, &c->index_params[f], &ip))) {
        st = vdb_set_errmsg(VDB_EEXIST, "field '%s' already has a %s index%s: drop it first",
                            field, c->index_type[f], strcmp(c->index_type[f], canon) ? ""
                            : " with other parameters");
    } else if (!c->index_type[f]) {
        char key[400], val[128];
        idx_key(key, sizeof key, c, field);
        int n = encode_value(val, sizeof val, canon, &ip);
        st = db->meta.be->put(db->meta.h, key, val, (size_t)n);
        if (st == VDB_OK) {
            pthread_rwlock_wrlock(&c->lock);
            c->index_type[f] = canon;
            c->index_params[f] = ip;
            c->index_gen[f]++;
            pthread_rwlock_unlock(&c->lock);
            /* scalar indexes are built here; vector ones are queued, and searches scan a
             * segment exactly until its index is attached */
            for (size_t i = 0; i < c->nsealed && st == VDB_OK; i++)
                st = vdb_index_segment(db, c, c->sealed[i], &c->lock, false);
            for (size_t i = 0; i < c->nsealed && st == VDB_OK; i++)
                vdb_index_queue(db, c, c->sealed[i]);
            vdb_index_notify(db);
        }
    }
    pthread_mutex_unlock(&c->write_mu);
out:
    pthread_rwlock_unlock(&db->catalog);
    return st;
}

vdb_status vdb_drop_index(vdb_db *db, const char *collection, const char *field)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && field, "vdb_drop_index: db, collection or field is NULL");
    pthread_rwlock_rdlock(&db->catalog);
    vdb_collection *c;
    int f;
    vdb_status st = lookup_field(db, collection, field, &c, &f);
    if (st != VDB_OK)
        goto out;
    pthread_mutex_lock(&c->write_mu);
    if (!c->index_type[f]) {
        st = vdb_set_errmsg(VDB_ENOTFOUND, "field '%s' of '%s' has no index", field, collection);
    } else {
        char key[400];
        idx_key(key, sizeof key, c, field);
        st = db->meta.be->del(db->meta.h, key);
        if (st == VDB_OK) {
            /* builds of it still queued see the new generation and do nothing */
            pthread_rwlock_wrlock(&c->lock);
            c->index_type[f] = NULL;
            c->index_gen[f]++;
            c->index_fail[f] = VDB_OK;
            vdb_free(c->index_fail_msg[f]);
            c->index_fail_msg[f] = NULL;
            c->index_failures = 0;
            for (size_t i = 0; i < c->nsealed; i++)
                vdb_segment_set_attachment(c->sealed[i], (size_t)f, NULL, NULL);
            pthread_rwlock_unlock(&c->lock);
            vdb_index_notify(db);
        }
    }
    pthread_mutex_unlock(&c->write_mu);
out:
    pthread_rwlock_unlock(&db->catalog);
    return st;
}

vdb_status vdb_describe_index(vdb_db *db, const char *collection, const char *field,
                              const char **type)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && field && type, "vdb_describe_index: db, collection, field "
                  "or type is NULL");
    pthread_rwlock_rdlock(&db->catalog);
    vdb_collection *c;
    int f;
    vdb_status st = lookup_field(db, collection, field, &c, &f);
    if (st == VDB_OK) {
        pthread_rwlock_rdlock(&c->lock);
        *type = c->index_type[f];
        pthread_rwlock_unlock(&c->lock);
        if (!*type)
            st = vdb_set_errmsg(VDB_ENOTFOUND, "field '%s' of '%s' has no index", field,
                                collection);
    }
    pthread_rwlock_unlock(&db->catalog);
    return st;
}

/* ---- build state: waiting, progress ---- */

/* The build state of field f (c->lock held): *pending gets the sealed segments still
 * without the field's vector index; the rows go to *indexed / *total. */
static void build_state(const vdb_collection *c, int f, size_t *pending, uint64_t *indexed,
                        uint64_t *total)
{
    bool vec = vdb_vindex_type_from_name(c->index_type[f]) != VDB_VINDEX_NONE;
    *pending = 0;
    *indexed = *total = 0;
    for (size_t i = 0; i < c->nsealed; i++) {
        uint64_t rows = vdb_segment_rows(c->sealed[i]);
        bool done = !vec || vdb_segment_attachment(c->sealed[i], (size_t)f);
        /* FLAT has nothing to build; scalar indexes are built synchronously */
        if (!vec && strcmp(c->index_type[f], "FLAT"))
            done = vdb_segment_attachment(c->sealed[i], (size_t)f) != NULL;
        *total += rows;
        if (done)
            *indexed += rows;
        else
            (*pending)++;
    }
}

/* One look: VDB_OK when done, VDB_ETIMEDOUT while builds are pending, else the error. */
static vdb_status wait_look(vdb_db *db, const char *collection, const char *field)
{
    pthread_rwlock_rdlock(&db->catalog);
    vdb_collection *c;
    int f;
    vdb_status st = lookup_field(db, collection, field, &c, &f);
    if (st == VDB_OK) {
        pthread_rwlock_rdlock(&c->lock);
        size_t pending = 0;
        uint64_t indexed, total;
        if (c->index_type[f])
            build_state(c, f, &pending, &indexed, &total);
        if (c->index_fail_msg[f])
            st = vdb_set_errmsg(c->index_fail[f], "%s", c->index_fail_msg[f]);
        else if (pending)
            st = vdb_set_errmsg(VDB_ETIMEDOUT, "the index of '%s' in '%s' is still building "
                                "(%zu segment%s to go)", field, collection, pending,
                                pending == 1 ? "" : "s");
        pthread_rwlock_unlock(&c->lock);
    }
    pthread_rwlock_unlock(&db->catalog);
    return st;
}

vdb_status vdb_wait_for_index(vdb_db *db, const char *collection, const char *field,
                              uint64_t timeout_ms)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && field, "vdb_wait_for_index: db, collection or field is "
                  "NULL");
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    uint64_t start = (uint64_t)until.tv_sec * 1000u + (uint64_t)until.tv_nsec / 1000000u;
    uint64_t deadline = timeout_ms > UINT64_MAX - start ? UINT64_MAX : start + timeout_ms;
    for (;;) {
        /* read the event count before looking, so an event after the look wakes us */
        uint64_t ev = __atomic_load_n(&db->idx_events, __ATOMIC_ACQUIRE);
        vdb_status st = wait_look(db, collection, field);
        if (st != VDB_ETIMEDOUT)
            return st;
        clock_gettime(CLOCK_MONOTONIC, &until);
        uint64_t now = (uint64_t)until.tv_sec * 1000u + (uint64_t)until.tv_nsec / 1000000u;
        if (now >= deadline)
            return st;
        /* waits at most 200 ms at a time (the clock of idx_cv is the realtime one) */
        uint64_t step = VDB_MIN(deadline - now, 200);
        clock_gettime(CLOCK_REALTIME, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + step * 1000000u;
        until.tv_sec += (time_t)(ns / 1000000000u);
        until.tv_nsec = (long)(ns % 1000000000u);
        pthread_mutex_lock(&db->idx_mu);
        while (__atomic_load_n(&db->idx_events, __ATOMIC_ACQUIRE) == ev)
            if (pthread_cond_timedwait(&db->idx_cv, &db->idx_mu, &until) != 0)
                break;
        pthread_mutex_unlock(&db->idx_mu);
    }
}

vdb_status vdb_index_progress(vdb_db *db, const char *collection, const char *field,
                              uint64_t *indexed_rows, uint64_t *total_rows)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && field && indexed_rows && total_rows, "vdb_index_progress: "
                  "db, collection, field, indexed_rows or total_rows is NULL");
    pthread_rwlock_rdlock(&db->catalog);
    vdb_collection *c;
    int f;
    vdb_status st = lookup_field(db, collection, field, &c, &f);
    if (st == VDB_OK) {
        pthread_rwlock_rdlock(&c->lock);
        size_t pending;
        if (!c->index_type[f])
            st = vdb_set_errmsg(VDB_ENOTFOUND, "field '%s' of '%s' has no index", field,
                                collection);
        else
            build_state(c, f, &pending, indexed_rows, total_rows);
        pthread_rwlock_unlock(&c->lock);
    }
    pthread_rwlock_unlock(&db->catalog);
    return st;
}

vdb_status vdb_set_index_progress(vdb_db *db, vdb_index_progress_fn fn, void *arg)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db, "vdb_set_index_progress: db is NULL");
    pthread_mutex_lock(&db->progress_mu); /* calls run under it: none is in flight after */
    db->progress_fn = fn;
    db->progress_arg = fn ? arg : NULL;
    pthread_mutex_unlock(&db->progress_mu);
    return VDB_OK;
}

/* Recovery: the index choices of a collection, before its segments load. */
typedef struct idx_loader {
    vdb_collection *c;
    vdb_status st;
} idx_loader;

static int load_one(void *arg, const char *key, const void *val, size_t len)
{
    idx_loader *l = arg;
    const char *field = strrchr(key, '/');
    int f = field ? vdb_schema_find(l->c->schema, field + 1) : -1;
    char text[128];
    if (f < 0 || len == 0 || len >= sizeof text) {
        l->st = vdb_set_errmsg(VDB_ECORRUPT, "meta key %s names no field of '%s'", key,
                               l->c->name);
        return 1;
    }
    memcpy(text, val, len);
    text[len] = 0;
    char *params = strchr(text, '\n');
    if (params)
        *params++ = 0;
    const char *canon;
    vdb_index_params ip;
    l->st = vdb_index_check(&l->c->schema->fields[f].def, text, params, &canon, &ip);
    if (l->st != VDB_OK) {
        l->st = vdb_set_errmsg(VDB_ECORRUPT, "meta key %s: %s", key, vdb_err_get());
        return 1;
    }
    l->c->index_type[f] = canon;
    l->c->index_params[f] = ip;
    return 0;
}

vdb_status vdb_load_indexes(vdb_db *db, vdb_collection *c)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "idx/%016llx/", (unsigned long long)c->id);
    idx_loader l = {c, VDB_OK};
    vdb_status st = db->meta.be->scan(db->meta.h, prefix, load_one, &l);
    return st == VDB_OK ? l.st : st;
}

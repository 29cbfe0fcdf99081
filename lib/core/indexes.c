/* Index DDL: create, drop and describe the index of a field, and the checks of index types
 * and parameters. The choice is kept in the meta store ("idx/<collection>/<field>": the type,
 * and its parameters on a second line); the indexes themselves are built for each sealed
 * segment (segment_index.c) when it is sealed, loaded, or when the index is created. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "core.h"
#include "index/hnsw.h"

static bool is_numeric(vdb_type t)
{
    return t == VDB_TYPE_INT8 || t == VDB_TYPE_INT16 || t == VDB_TYPE_INT32 ||
           t == VDB_TYPE_INT64 || t == VDB_TYPE_FLOAT || t == VDB_TYPE_DOUBLE;
}

static vdb_status type_check(const vdb_field_def *f, const char *type, const char **canon)
{
    vdb_type t = f->type;
    if (t == VDB_TYPE_FLOAT_VECTOR) {
        /* AUTOINDEX keeps exact search (FLAT): the same answers Milvus's brute force gives */
        if (!strcasecmp(type, "FLAT") || !strcasecmp(type, "AUTOINDEX"))
            *canon = "FLAT";
        else if (!strcasecmp(type, "HNSW"))
            *canon = "HNSW";
        else
            return vdb_set_errmsg(VDB_EUNSUPPORTED, "index type '%s' on vector field '%s' is "
                                  "not supported yet (FLAT and HNSW are)", type, f->name);
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
    else if (!strcasecmp(type, "HNSW") || !strcasecmp(type, "FLAT"))
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
    if (!*val || *end || v < lo || v > hi)
        return vdb_set_errmsg(VDB_EINVAL, "%s parameter %s=%s is out of range: %u..%u", type,
                              key, val, lo, hi);
    *out = (uint32_t)v;
    return VDB_OK;
}

vdb_status vdb_index_check(const vdb_field_def *f, const char *type, const char *params,
                           const char **canon, vdb_index_params *out)
{
    vdb_status st = type_check(f, type, canon);
    if (st != VDB_OK)
        return st;
    *out = (vdb_index_params){16, 200}; /* HNSW defaults, as Milvus's */
    char buf[512];
    if (!params || !*params)
        return VDB_OK;
    if (strlen(params) >= sizeof buf)
        return vdb_set_errmsg(VDB_EINVAL, "index parameters are too long");
    strcpy(buf, params);
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
        } else if (!strcmp(*canon, "HNSW") && !strcmp(key, "M")) {
            st = uint_param("HNSW", key, val, VDB_HNSW_M_MIN, VDB_HNSW_M_MAX, &out->M);
        } else if (!strcmp(*canon, "HNSW") && !strcmp(key, "efConstruction")) {
            st = uint_param("HNSW", key, val, 1, VDB_HNSW_EFC_MAX, &out->ef_construction);
        } else {
            st = vdb_set_errmsg(VDB_EINVAL, "index type %s has no parameter '%s' (%s=%s)%s",
                                *canon, key, key, val, !strcmp(*canon, "HNSW") ? "; HNSW takes "
                                "M: 2..100 and efConstruction: M..10000" : "");
        }
    }
    if (st == VDB_OK && !strcmp(*canon, "HNSW") && out->ef_construction < out->M)
        st = vdb_set_errmsg(VDB_EINVAL, "HNSW efConstruction=%u must be at least M=%u",
                            out->ef_construction, out->M);
    return st;
}

/* The meta value: the type, then "M=..,efConstruction=.." for HNSW. */
static int encode_value(char *buf, size_t n, const char *canon, const vdb_index_params *p)
{
    if (!strcmp(canon, "HNSW"))
        return snprintf(buf, n, "%s\nM=%u,efConstruction=%u", canon, p->M, p->ef_construction);
    return snprintf(buf, n, "%s", canon);
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
    vdb_status st = vdb_catalog_lookup(db, collection, &c);
    if (st == VDB_OK)
        st = find_field(c, field, &f);
    if (st == VDB_OK)
        st = vdb_index_check(&c->schema->fields[f].def, type, params, &canon, &ip);
    if (st != VDB_OK)
        goto out;
    pthread_mutex_lock(&c->write_mu); /* no seal or compaction while the index is added */
    if (c->index_type[f] && (strcmp(c->index_type[f], canon) ||
                             memcmp(&c->index_params[f], &ip, sizeof ip))) {
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
            pthread_rwlock_unlock(&c->lock);
            /* searches go on meanwhile: a segment is searched exactly until its index is
             * attached */
            for (size_t i = 0; i < c->nsealed && st == VDB_OK; i++)
                st = vdb_index_segment(db, c, c->sealed[i], &c->lock);
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
    vdb_status st = vdb_catalog_lookup(db, collection, &c);
    if (st == VDB_OK)
        st = find_field(c, field, &f);
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
            pthread_rwlock_wrlock(&c->lock);
            c->index_type[f] = NULL;
            for (size_t i = 0; i < c->nsealed; i++)
                vdb_segment_set_attachment(c->sealed[i], (size_t)f, NULL, NULL);
            pthread_rwlock_unlock(&c->lock);
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
    vdb_status st = vdb_catalog_lookup(db, collection, &c);
    if (st == VDB_OK)
        st = find_field(c, field, &f);
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

/* Index DDL: create, drop and describe the index of a field. The choice is kept in the meta
 * store ("idx/<collection>/<field>"); the indexes themselves are built from each sealed
 * segment's columns (filter.c) when it is sealed, loaded or when the index is created. */
#include <stdio.h>

#include "core.h"

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
    vdb_status st = vdb_catalog_lookup(db, collection, &c);
    if (st == VDB_OK)
        st = find_field(c, field, &f);
    if (st == VDB_OK)
        st = vdb_index_type_check(&c->schema->fields[f].def, type, &canon);
    if (st == VDB_OK && params && *params)
        st = vdb_set_errmsg(VDB_EINVAL, "index type %s takes no parameters, got '%s'", canon,
                            params);
    if (st != VDB_OK)
        goto out;
    pthread_mutex_lock(&c->write_mu); /* no seal or compaction while the index is added */
    if (c->index_type[f] && strcmp(c->index_type[f], canon)) {
        st = vdb_set_errmsg(VDB_EEXIST, "field '%s' already has a %s index: drop it first",
                            field, c->index_type[f]);
    } else if (!c->index_type[f]) {
        char key[400];
        idx_key(key, sizeof key, c, field);
        st = db->meta.be->put(db->meta.h, key, canon, strlen(canon));
        if (st == VDB_OK) {
            pthread_rwlock_wrlock(&c->lock);
            c->index_type[f] = canon;
            pthread_rwlock_unlock(&c->lock);
            /* searches go on meanwhile: a segment is scanned until its index is attached */
            for (size_t i = 0; i < c->nsealed && st == VDB_OK; i++)
                st = vdb_index_segment(c, c->sealed[i], &c->lock);
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
    char type[32];
    const char *canon;
    if (f < 0 || len == 0 || len >= sizeof type) {
        l->st = vdb_set_errmsg(VDB_ECORRUPT, "meta key %s names no field of '%s'", key,
                               l->c->name);
        return 1;
    }
    memcpy(type, val, len);
    type[len] = 0;
    l->st = vdb_index_type_check(&l->c->schema->fields[f].def, type, &canon);
    if (l->st != VDB_OK)
        return 1;
    l->c->index_type[f] = canon;
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

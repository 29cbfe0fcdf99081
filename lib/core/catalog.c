/* The catalog: collections and partitions, their DDL calls, and how they are kept in the
 * meta store ("coll/<name>": id, schema, partitions). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include "core.h"

#define COLL_ENCODING 1

void vdb_meta_key(char *buf, size_t n, const char *kind, uint64_t coll, uint64_t id)
{
    snprintf(buf, n, "%s/%016llx/%016llx", kind, (unsigned long long)coll,
             (unsigned long long)id);
}

static void coll_key(char *buf, size_t n, const char *name) { snprintf(buf, n, "coll/%s", name); }

vdb_collection *vdb_catalog_find(vdb_db *db, const char *name)
{
    for (size_t i = 0; i < db->ncolls; i++)
        if (!strcmp(db->colls[i]->name, name))
            return db->colls[i];
    return NULL;
}

vdb_status vdb_catalog_lookup(vdb_db *db, const char *name, vdb_collection **out)
{
    *out = name ? vdb_catalog_find(db, name) : NULL;
    if (!*out)
        return vdb_set_errmsg(VDB_ENOTFOUND, "collection '%s' does not exist",
                              name ? name : "(null)");
    return VDB_OK;
}

int vdb_partition_slot(const vdb_collection *c, uint64_t partition_id)
{
    for (size_t i = 0; i < c->nparts; i++)
        if (c->parts[i].id == partition_id)
            return (int)i;
    return -1;
}

int vdb_partition_by_name(const vdb_collection *c, const char *name)
{
    for (size_t i = 0; i < c->nparts; i++)
        if (!strcmp(c->parts[i].name, name))
            return (int)i;
    return -1;
}

uint32_t vdb_shard_of(const vdb_collection *c, vdb_pk pk)
{
    return c->nshards == 1 ? 0 : (uint32_t)(vdb_pk_hash(pk) % c->nshards);
}

void vdb_collection_free(vdb_collection *c)
{
    if (!c)
        return;
    for (uint32_t s = 0; s < c->nshards && c->shards; s++) {
        for (size_t g = 0; g < c->shards[s].ngrowing; g++)
            vdb_segment_free(c->shards[s].growing[g]);
        vdb_free(c->shards[s].growing);
    }
    for (size_t i = 0; i < c->nsealed; i++)
        vdb_segment_free(c->sealed[i]);
    for (size_t i = 0; i < c->nparts; i++)
        vdb_free(c->parts[i].name);
    vdb_free(c->sealed);
    vdb_free(c->parts);
    vdb_free(c->shards);
    vdb_free(c->expr_fields);
    vdb_free(c->index_type);
    vdb_free(c->index_params);
    vdb_free(c->index_gen);
    vdb_free(c->index_fail);
    for (size_t i = 0; c->index_fail_msg && c->schema && i < c->schema->nfields; i++)
        vdb_free(c->index_fail_msg[i]);
    vdb_free(c->index_fail_msg);
    vdb_free(c->types);
    vdb_free(c->dims);
    vdb_free(c->nullable);
    vdb_schema_free(c->schema);
    vdb_free(c->name);
    pthread_mutex_destroy(&c->write_mu);
    pthread_rwlock_destroy(&c->lock);
    vdb_free(c);
}

/* A collection in memory with no partitions yet. */
vdb_status vdb_collection_new(vdb_db *db, const vdb_schema *schema, uint64_t id,
                              vdb_collection **out)
{
    (void)db;
    vdb_collection *c = vdb_calloc(1, sizeof *c);
    if (!c)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    pthread_mutex_init(&c->write_mu, NULL);
    /* writers first: a steady stream of searches must not starve inserts */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&c->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    c->id = id;
    vdb_status st = vdb_schema_copy(schema, &c->schema);
    if (st != VDB_OK) {
        vdb_free(c);
        return st;
    }
    c->name = vdb_strdup(schema->name);
    c->ncols = schema->nfields + (schema->dynamic ? 1 : 0);
    c->types = vdb_calloc(c->ncols, sizeof *c->types);
    c->dims = vdb_calloc(c->ncols, sizeof *c->dims);
    c->nullable = vdb_calloc(c->ncols, sizeof *c->nullable);
    c->nshards = schema->shards;
    c->shards = vdb_calloc(c->nshards, sizeof *c->shards);
    if (!c->name || !c->types || !c->dims || !c->nullable || !c->shards) {
        vdb_collection_free(c);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < schema->nfields; i++) {
        const vdb_field_def *d = &schema->fields[i].def;
        c->types[i] = d->type;
        c->dims[i] = d->type == VDB_TYPE_FLOAT_VECTOR ? d->dim : 0;
        c->nullable[i] = d->nullable != 0;
    }
    if (schema->dynamic)
        c->types[schema->nfields] = VDB_TYPE_JSON;
    c->layout = (vdb_segment_layout){c->ncols, c->types, c->dims, c->nullable,
                                     (size_t)schema->pk};
    if ((st = vdb_collection_init_filters(c)) != VDB_OK) {
        vdb_collection_free(c);
        return st;
    }
    snprintf(c->seg_prefix, sizeof c->seg_prefix, "c%016llx", (unsigned long long)id);
    for (uint32_t s = 0; s < c->nshards; s++)
        snprintf(c->shards[s].channel, sizeof c->shards[s].channel, "c%016llx-s%u",
                 (unsigned long long)id, s);
    *out = c;
    return VDB_OK;
}

static vdb_status add_partition(vdb_collection *c, const char *name, uint64_t id)
{
    vdb_partition *parts = vdb_realloc(c->parts, (c->nparts + 1) * sizeof *parts);
    if (!parts)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    c->parts = parts;
    for (uint32_t s = 0; s < c->nshards; s++) {
        vdb_shard *sh = &c->shards[s];
        vdb_segment **g = vdb_realloc(sh->growing, (c->nparts + 1) * sizeof *g);
        if (!g)
            return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        g[c->nparts] = NULL;
        sh->growing = g;
        sh->ngrowing = c->nparts + 1;
    }
    char *n = vdb_strdup(name);
    if (!n)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    c->parts[c->nparts].name = n;
    c->parts[c->nparts].id = id;
    c->nparts++;
    return VDB_OK;
}

static void encode_collection(const vdb_collection *c, const vdb_partition *extra,
                              int skip_slot, vdb_buf *b)
{
    vdb_buf_u32(b, COLL_ENCODING);
    vdb_buf_u64(b, c->id);
    vdb_schema_encode(c->schema, b);
    uint32_t n = (uint32_t)c->nparts + (extra ? 1 : 0) - (skip_slot >= 0 ? 1 : 0);
    vdb_buf_u32(b, n);
    for (size_t i = 0; i < c->nparts; i++) {
        if ((int)i == skip_slot)
            continue;
        vdb_buf_str(b, c->parts[i].name);
        vdb_buf_u64(b, c->parts[i].id);
    }
    if (extra) {
        vdb_buf_str(b, extra->name);
        vdb_buf_u64(b, extra->id);
    }
}

vdb_status vdb_collection_save(vdb_db *db, vdb_collection *c, vdb_buf *out)
{
    (void)db;
    encode_collection(c, NULL, -1, out);
    return out->oom ? vdb_set_errmsg(VDB_ENOMEM, "out of memory") : VDB_OK;
}

vdb_status vdb_collection_decode(vdb_db *db, const void *val, size_t len, vdb_collection **out)
{
    vdb_rd r = vdb_rd_init(val, len);
    if (vdb_rd_u32(&r) != COLL_ENCODING)
        return vdb_set_errmsg(VDB_EVERSION, "collection record of an unknown encoding");
    uint64_t id = vdb_rd_u64(&r);
    vdb_schema *s = NULL;
    vdb_status st = vdb_schema_decode(&r, &s);
    if (st != VDB_OK)
        return st;
    vdb_collection *c = NULL;
    st = vdb_collection_new(db, s, id, &c);
    vdb_schema_free(s);
    if (st != VDB_OK)
        return st;
    uint32_t n = vdb_rd_u32(&r);
    for (uint32_t i = 0; i < n && st == VDB_OK && !r.err; i++) {
        char *name = vdb_rd_str(&r);
        uint64_t pid = vdb_rd_u64(&r);
        st = name && !r.err ? add_partition(c, name, pid)
                            : vdb_set_errmsg(VDB_ECORRUPT, "collection record is truncated");
        vdb_free(name);
    }
    if (st == VDB_OK && (r.err || c->nparts == 0))
        st = vdb_set_errmsg(VDB_ECORRUPT, "collection record of '%s' is corrupt", c->name);
    if (st != VDB_OK) {
        vdb_collection_free(c);
        return st;
    }
    *out = c;
    return VDB_OK;
}

/* DDL goes to the DDL channel too (log as data: other roles follow it in a cluster). */
static vdb_status log_ddl(vdb_db *db, const char *what, const char *name, uint64_t coll)
{
    uint64_t ts;
    vdb_status st = vdb_tso_next(db->tso, &ts);
    if (st != VDB_OK)
        return st;
    char text[600];
    int n = snprintf(text, sizeof text, "%s %s", what, name);
    vdb_rec_header h = {.type = VDB_REC_DDL, .parts = 1, .ts = ts, .collection_id = coll};
    vdb_buf b = {0};
    vdb_rec_encode(&h, text, (size_t)n, &b);
    uint64_t pos;
    st = b.oom ? vdb_set_errmsg(VDB_ENOMEM, "out of memory")
               : db->log.be->append(db->log.h, "ddl", b.p, b.len, &pos);
    vdb_buf_free(&b);
    return st;
}

vdb_status vdb_create_collection(vdb_db *db, const vdb_schema *schema)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && schema, "vdb_create_collection: db or schema is NULL");
    vdb_status st = vdb_schema_check_complete(schema);
    if (st != VDB_OK)
        return st;
    pthread_rwlock_wrlock(&db->catalog);
    vdb_collection *c = NULL;
    vdb_buf b = {0};
    if (vdb_catalog_find(db, schema->name)) {
        st = vdb_set_errmsg(VDB_EEXIST, "collection '%s' already exists", schema->name);
        goto done;
    }
    vdb_collection **colls = vdb_realloc(db->colls, (db->ncolls + 1) * sizeof *colls);
    if (!colls) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto done;
    }
    db->colls = colls;
    uint64_t ids;
    if ((st = vdb_db_alloc_ids(db, 2, &ids)) != VDB_OK ||
        (st = vdb_collection_new(db, schema, ids, &c)) != VDB_OK ||
        (st = add_partition(c, VDB_DEFAULT_PARTITION, ids + 1)) != VDB_OK ||
        (st = vdb_collection_save(db, c, &b)) != VDB_OK ||
        (st = log_ddl(db, "create_collection", c->name, c->id)) != VDB_OK)
        goto done;
    char key[300];
    coll_key(key, sizeof key, c->name);
    vdb_meta_op ops[2] = {{VDB_META_CHECK_ABSENT, key, NULL, 0}, {VDB_META_PUT, key, b.p, b.len}};
    if ((st = db->meta.be->txn(db->meta.h, ops, 2)) != VDB_OK)
        goto done;
    db->colls[db->ncolls++] = c;
    c = NULL;
done:
    pthread_rwlock_unlock(&db->catalog);
    vdb_collection_free(c);
    vdb_buf_free(&b);
    return st;
}

typedef struct key_list {
    size_t n, cap;
    char **keys;
    bool oom;
} key_list;

static int collect_key(void *arg, const char *key, const void *val, size_t len)
{
    (void)val;
    (void)len;
    key_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **k = vdb_realloc(l->keys, cap * sizeof *k);
        if (!k) {
            l->oom = true;
            return 1;
        }
        l->keys = k;
        l->cap = cap;
    }
    if (!(l->keys[l->n] = vdb_strdup(key))) {
        l->oom = true;
        return 1;
    }
    l->n++;
    return 0;
}

static void key_list_free(key_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        vdb_free(l->keys[i]);
    vdb_free(l->keys);
}

static int collect_object(void *arg, const char *key, uint64_t size)
{
    (void)size;
    return collect_key(arg, key, NULL, 0);
}

vdb_status vdb_drop_collection(vdb_db *db, const char *name)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && name, "vdb_drop_collection: db or name is NULL");
    pthread_rwlock_wrlock(&db->catalog);
    vdb_collection *c;
    vdb_status st = vdb_catalog_lookup(db, name, &c);
    key_list keys = {0}, objs = {0};
    vdb_meta_op *ops = NULL;
    if (st != VDB_OK)
        goto done;
    pthread_mutex_lock(&c->write_mu); /* wait for a write in flight */
    char prefix[64], ckey[300];
    snprintf(prefix, sizeof prefix, "seg/%016llx/", (unsigned long long)c->id);
    st = db->meta.be->scan(db->meta.h, prefix, collect_key, &keys);
    snprintf(prefix, sizeof prefix, "ckpt/%016llx/", (unsigned long long)c->id);
    if (st == VDB_OK)
        st = db->meta.be->scan(db->meta.h, prefix, collect_key, &keys);
    snprintf(prefix, sizeof prefix, "idx/%016llx/", (unsigned long long)c->id);
    if (st == VDB_OK)
        st = db->meta.be->scan(db->meta.h, prefix, collect_key, &keys);
    if (st == VDB_OK && keys.oom)
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    if (st == VDB_OK && !(ops = vdb_calloc(keys.n + 1, sizeof *ops)))
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    if (st == VDB_OK)
        st = log_ddl(db, "drop_collection", c->name, c->id);
    if (st == VDB_OK) {
        coll_key(ckey, sizeof ckey, c->name);
        ops[0] = (vdb_meta_op){VDB_META_DELETE, ckey, NULL, 0};
        for (size_t i = 0; i < keys.n; i++)
            ops[i + 1] = (vdb_meta_op){VDB_META_DELETE, keys.keys[i], NULL, 0};
        st = db->meta.be->txn(db->meta.h, ops, keys.n + 1);
    }
    pthread_mutex_unlock(&c->write_mu);
    if (st != VDB_OK)
        goto done;
    /* Its queued index builds are discarded and a running one is waited for (builds take
     * only c->lock, which nobody holds here), so none saves into the folder deleted below. */
    vdb_pool_cancel(db->builds, c);
    /* The collection is gone from the meta store; its files and channels are garbage now.
     * A failure below leaves garbage, never a half-dropped collection. */
    for (uint32_t s = 0; s < c->nshards; s++)
        db->log.be->drop(db->log.h, c->shards[s].channel);
    if (db->obj.be->list(db->obj.h, c->seg_prefix, collect_object, &objs) == VDB_OK)
        for (size_t i = 0; i < objs.n; i++)
            db->obj.be->del(db->obj.h, objs.keys[i]);
    for (size_t i = 0; i < db->ncolls; i++)
        if (db->colls[i] == c) {
            db->colls[i] = db->colls[--db->ncolls];
            break;
        }
    vdb_index_notify(db);
    vdb_collection_free(c);
done:
    pthread_rwlock_unlock(&db->catalog);
    key_list_free(&keys);
    key_list_free(&objs);
    vdb_free(ops);
    return st;
}

vdb_status vdb_has_collection(vdb_db *db, const char *name, int *exists)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && name && exists, "vdb_has_collection: db, name or exists is NULL");
    pthread_rwlock_rdlock(&db->catalog);
    *exists = vdb_catalog_find(db, name) != NULL;
    pthread_rwlock_unlock(&db->catalog);
    return VDB_OK;
}

vdb_status vdb_describe_collection(vdb_db *db, const char *name, vdb_schema **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && name && out, "vdb_describe_collection: db, name or out is NULL");
    *out = NULL;
    pthread_rwlock_rdlock(&db->catalog);
    vdb_collection *c;
    vdb_status st = vdb_catalog_lookup(db, name, &c);
    if (st == VDB_OK)
        st = vdb_schema_copy(c->schema, out);
    pthread_rwlock_unlock(&db->catalog);
    return st;
}

static vdb_status names_new(size_t n, vdb_names **out)
{
    vdb_names *v = vdb_calloc(1, sizeof *v);
    if (v)
        v->names = vdb_calloc(n + 1, sizeof *v->names);
    if (!v || !v->names) {
        vdb_free(v);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    *out = v;
    return VDB_OK;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

vdb_status vdb_list_collections(vdb_db *db, vdb_names **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && out, "vdb_list_collections: db or out is NULL");
    *out = NULL;
    pthread_rwlock_rdlock(&db->catalog);
    vdb_status st = names_new(db->ncolls, out);
    for (size_t i = 0; st == VDB_OK && i < db->ncolls; i++) {
        if (!((*out)->names[i] = vdb_strdup(db->colls[i]->name)))
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        (*out)->count = i + 1;
    }
    pthread_rwlock_unlock(&db->catalog);
    if (st != VDB_OK) {
        vdb_names_free(*out);
        *out = NULL;
        return st;
    }
    qsort((*out)->names, (*out)->count, sizeof(char *), name_cmp);
    return VDB_OK;
}

void vdb_names_free(vdb_names *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->count; i++)
        vdb_free(n->names[i]);
    vdb_free(n->names);
    vdb_free(n);
}

vdb_status vdb_list_partitions(vdb_db *db, const char *collection, vdb_names **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && out, "vdb_list_partitions: db, collection or out is NULL");
    *out = NULL;
    pthread_rwlock_rdlock(&db->catalog);
    vdb_collection *c;
    vdb_status st = vdb_catalog_lookup(db, collection, &c);
    if (st == VDB_OK) {
        pthread_rwlock_rdlock(&c->lock);
        st = names_new(c->nparts, out);
        for (size_t i = 0; st == VDB_OK && i < c->nparts; i++) {
            if (!((*out)->names[i] = vdb_strdup(c->parts[i].name)))
                st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            (*out)->count = i + 1;
        }
        pthread_rwlock_unlock(&c->lock);
    }
    pthread_rwlock_unlock(&db->catalog);
    if (st != VDB_OK && *out) {
        vdb_names_free(*out);
        *out = NULL;
    }
    return st;
}

vdb_status vdb_create_partition(vdb_db *db, const char *collection, const char *name)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && name, "vdb_create_partition: db, collection or name is "
                  "NULL");
    VDB_CHECK_ARG(vdb_name_valid(name), "partition name '%s' is invalid: use 1..255 letters, "
                  "digits or '_', starting with a letter or '_'", name);
    pthread_rwlock_rdlock(&db->catalog);
    vdb_collection *c;
    vdb_status st = vdb_catalog_lookup(db, collection, &c);
    vdb_buf b = {0};
    if (st != VDB_OK)
        goto out;
    pthread_mutex_lock(&c->write_mu);
    uint64_t id;
    if (vdb_partition_by_name(c, name) >= 0)
        st = vdb_set_errmsg(VDB_EEXIST, "partition '%s' already exists in '%s'", name,
                            collection);
    else if (c->nparts >= VDB_MAX_PARTITIONS)
        st = vdb_set_errmsg(VDB_EINVAL, "a collection holds at most %d partitions",
                            VDB_MAX_PARTITIONS);
    else if ((st = vdb_db_alloc_ids(db, 1, &id)) == VDB_OK) {
        vdb_partition p = {(char *)name, id};
        encode_collection(c, &p, -1, &b);
        char key[300];
        coll_key(key, sizeof key, c->name);
        st = b.oom ? vdb_set_errmsg(VDB_ENOMEM, "out of memory") : VDB_OK;
        if (st == VDB_OK)
            st = log_ddl(db, "create_partition", name, c->id);
        if (st == VDB_OK)
            st = db->meta.be->put(db->meta.h, key, b.p, b.len);
        if (st == VDB_OK) {
            pthread_rwlock_wrlock(&c->lock);
            st = add_partition(c, name, id);
            pthread_rwlock_unlock(&c->lock);
            if (st != VDB_OK)
                c->failed = true; /* meta has it, memory does not: reopen to resync */
        }
    }
    pthread_mutex_unlock(&c->write_mu);
out:
    pthread_rwlock_unlock(&db->catalog);
    vdb_buf_free(&b);
    return st;
}

vdb_status vdb_drop_partition(vdb_db *db, const char *collection, const char *name)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && name, "vdb_drop_partition: db, collection or name is NULL");
    VDB_CHECK_ARG(strcmp(name, VDB_DEFAULT_PARTITION), "the _default partition cannot be "
                  "dropped");
    pthread_rwlock_rdlock(&db->catalog);
    vdb_collection *c;
    vdb_status st = vdb_catalog_lookup(db, collection, &c);
    vdb_buf b = {0};
    vdb_meta_op *ops = NULL;
    if (st != VDB_OK)
        goto out;
    pthread_mutex_lock(&c->write_mu);
    int slot = vdb_partition_by_name(c, name);
    if (slot < 0) {
        st = vdb_set_errmsg(VDB_ENOTFOUND, "partition '%s' does not exist in '%s'", name,
                            collection);
        goto unlock;
    }
    uint64_t pid = c->parts[slot].id;
    encode_collection(c, NULL, slot, &b);
    ops = vdb_calloc(c->nsealed + 1, sizeof *ops);
    char (*keys)[64] = vdb_calloc(c->nsealed + 1, 64);
    if (b.oom || !ops || !keys) {
        vdb_free(keys);
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto unlock;
    }
    char ckey[300];
    coll_key(ckey, sizeof ckey, c->name);
    size_t n = 0;
    ops[n++] = (vdb_meta_op){VDB_META_PUT, ckey, b.p, b.len};
    for (size_t i = 0; i < c->nsealed; i++) {
        vdb_segment_info info;
        vdb_segment_get_info(c->sealed[i], &info);
        if (info.partition_id != pid)
            continue;
        vdb_meta_key(keys[n], 64, "seg", c->id, info.id);
        ops[n] = (vdb_meta_op){VDB_META_DELETE, keys[n], NULL, 0};
        n++;
    }
    st = log_ddl(db, "drop_partition", name, c->id);
    if (st == VDB_OK)
        st = db->meta.be->txn(db->meta.h, ops, n);
    vdb_free(keys);
    if (st != VDB_OK)
        goto unlock;
    /* the partition's segments are gone from the meta store: their objects are garbage */
    for (size_t i = 0; i < c->nsealed; i++) {
        vdb_segment_info info;
        vdb_segment_get_info(c->sealed[i], &info);
        if (info.partition_id == pid)
            vdb_segment_objects_delete(db, c, info.id);
    }
    pthread_rwlock_wrlock(&c->lock);
    for (uint32_t s = 0; s < c->nshards; s++) {
        vdb_shard *sh = &c->shards[s];
        vdb_segment_free(sh->growing[slot]);
        memmove(&sh->growing[slot], &sh->growing[slot + 1],
                (sh->ngrowing - (size_t)slot - 1) * sizeof *sh->growing);
        sh->ngrowing--;
    }
    size_t kept = 0;
    for (size_t i = 0; i < c->nsealed; i++) {
        vdb_segment_info info;
        vdb_segment_get_info(c->sealed[i], &info);
        if (info.partition_id == pid)
            vdb_segment_free(c->sealed[i]);
        else
            c->sealed[kept++] = c->sealed[i];
    }
    c->nsealed = kept;
    vdb_free(c->parts[slot].name);
    memmove(&c->parts[slot], &c->parts[slot + 1], (c->nparts - (size_t)slot - 1) * sizeof *c->parts);
    c->nparts--;
    pthread_rwlock_unlock(&c->lock);
unlock:
    pthread_mutex_unlock(&c->write_mu);
out:
    pthread_rwlock_unlock(&db->catalog);
    vdb_free(ops);
    vdb_buf_free(&b);
    return st;
}

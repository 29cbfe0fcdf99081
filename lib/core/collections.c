/* The collection calls: create, drop, has, describe, list. A collection is one record in
 * the meta store ("coll/<name>"); dropping it deletes that record with its segments',
 * checkpoints' and indexes' records in one transaction, then its files and channels. */
#include <stdio.h>
#include <stdlib.h>

#include "core/ddl.h"
#include "core/events.h"
#include "core/ids.h"
#include "core/names.h"
#include "core/segment_index.h"

vdb_status vdb_create_collection(vdb_db *db, const vdb_schema *schema)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && schema, "vdb_create_collection: db or schema is NULL");
    vdb_status st = vdb_schema_check_complete(schema);
    if (st != VDB_OK)
        return st;
    vdb_lock_wr(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c = NULL;
    vdb_buf b = {0};
    if (vdb_catalog_find(&db->catalog, schema->name)) {
        st = vdb_set_errmsg(VDB_EEXIST, "collection '%s' already exists", schema->name);
        goto done;
    }
    uint64_t ids, born;
    /* the slot in the list first: nothing can fail once the meta store has it */
    if ((st = vdb_catalog_reserve(&db->catalog)) != VDB_OK)
        goto done;
    if ((st = vdb_ids_alloc(db, 2, &ids)) != VDB_OK ||
        (st = vdb_tso_next(db->tso, &born)) != VDB_OK ||
        (st = vdb_collection_new(schema, ids, born, &c)) != VDB_OK ||
        (st = vdb_collection_add_partition(c, VDB_DEFAULT_PARTITION, ids + 1)) != VDB_OK ||
        (st = vdb_collection_encode(c, NULL, -1, &b)) != VDB_OK ||
        (st = vdb_ddl_log(db, "create_collection", c->name, c->id)) != VDB_OK)
        goto done;
    char key[300];
    vdb_collection_key(key, sizeof key, c->name);
    vdb_meta_op ops[2] = {{VDB_META_CHECK_ABSENT, key, NULL, 0}, {VDB_META_PUT, key, b.p, b.len}};
    if ((st = db->meta.be->txn(db->meta.h, ops, 2)) != VDB_OK)
        goto done;
    vdb_catalog_add(&db->catalog, c); /* reserved: cannot fail */
    c = NULL;
done:
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
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
    vdb_lock_wr(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_status st = vdb_catalog_lookup(&db->catalog, name, &c);
    key_list keys = {0}, objs = {0};
    vdb_meta_op *ops = NULL;
    if (st != VDB_OK)
        goto done;
    vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE); /* wait for a write in flight */
    char prefix[64], ckey[300];
    snprintf(prefix, sizeof prefix, "seg/%016llx/", (unsigned long long)c->id);
    st = db->meta.be->scan(db->meta.h, prefix, collect_key, &keys);
    snprintf(prefix, sizeof prefix, "ckpt/%016llx/", (unsigned long long)c->id);
    if (st == VDB_OK)
        st = db->meta.be->scan(db->meta.h, prefix, collect_key, &keys);
    snprintf(prefix, sizeof prefix, "idx/%016llx/", (unsigned long long)c->id);
    if (st == VDB_OK)
        st = db->meta.be->scan(db->meta.h, prefix, collect_key, &keys);
    snprintf(prefix, sizeof prefix, "loghw/%016llx/", (unsigned long long)c->id);
    if (st == VDB_OK)
        st = db->meta.be->scan(db->meta.h, prefix, collect_key, &keys);
    if (st == VDB_OK && keys.oom)
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    if (st == VDB_OK && !(ops = vdb_calloc(keys.n + 1, sizeof *ops)))
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    if (st == VDB_OK)
        st = vdb_ddl_log(db, "drop_collection", c->name, c->id);
    if (st == VDB_OK) {
        vdb_collection_key(ckey, sizeof ckey, c->name);
        ops[0] = (vdb_meta_op){VDB_META_DELETE, ckey, NULL, 0};
        for (size_t i = 0; i < keys.n; i++)
            ops[i + 1] = (vdb_meta_op){VDB_META_DELETE, keys.keys[i], NULL, 0};
        st = db->meta.be->txn(db->meta.h, ops, keys.n + 1);
    }
    if (st == VDB_OK)
        c->dropped = true; /* a seal in flight writes nothing more for it */
    vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
    if (st != VDB_OK)
        goto done;
    /* Its queued seals and index builds are discarded and running ones are waited for
     * (they take only the shard's seal lock, write_mu and c->lock, none of which is held
     * here), so none writes into the folder deleted below. */
    vdb_pool_cancel(db->seals, c);
    vdb_pool_cancel(db->builds, c);
    /* The collection is gone from the meta store; its files and channels are garbage now.
     * A failure below leaves garbage, never a half-dropped collection. */
    for (uint32_t s = 0; s < c->nshards; s++)
        db->log.be->drop(db->log.h, c->shards[s].channel);
    if (db->obj.be->list(db->obj.h, c->seg_prefix, collect_object, &objs) == VDB_OK)
        for (size_t i = 0; i < objs.n; i++)
            db->obj.be->del(db->obj.h, objs.keys[i]);
    vdb_catalog_remove(&db->catalog, c);
    vdb_events_notify(db);
    vdb_collection_free(c);
done:
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    key_list_free(&keys);
    key_list_free(&objs);
    vdb_free(ops);
    return st;
}

vdb_status vdb_has_collection(vdb_db *db, const char *name, int *exists)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && name && exists, "vdb_has_collection: db, name or exists is NULL");
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    *exists = vdb_catalog_find(&db->catalog, name) != NULL;
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return VDB_OK;
}

vdb_status vdb_describe_collection(vdb_db *db, const char *name, vdb_schema **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && name && out, "vdb_describe_collection: db, name or out is NULL");
    *out = NULL;
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_status st = vdb_catalog_lookup(&db->catalog, name, &c);
    if (st == VDB_OK)
        st = vdb_schema_copy(c->schema, out);
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return st;
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
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_status st = vdb_names_new(db->catalog.n, out);
    for (size_t i = 0; st == VDB_OK && i < db->catalog.n; i++) {
        if (!((*out)->names[i] = vdb_strdup(db->catalog.colls[i]->name)))
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        (*out)->count = i + 1;
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    if (st != VDB_OK) {
        vdb_names_free(*out);
        *out = NULL;
        return st;
    }
    qsort((*out)->names, (*out)->count, sizeof(char *), name_cmp);
    return VDB_OK;
}



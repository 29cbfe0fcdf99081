/* The collection calls: create, drop, has, describe, list, rename, truncate. A collection is
 * one record in the meta store ("coll/<name>"); dropping it deletes that record with its
 * segments', checkpoints' and indexes' records in one transaction, then its files and
 * channels. A rename moves the record (and rewrites the aliases naming it) in one
 * transaction; a truncation puts in its place a collection with a fresh id, the same schema,
 * partitions and index definitions, in one transaction, and discards the old one's data as a
 * drop does. */
#include <stdio.h>
#include <stdlib.h>

#include "core/databases.h"
#include "core/ddl.h"
#include "core/events.h"
#include "core/follow.h"
#include "core/ids.h"
#include "core/indexes.h"
#include "core/metatxn.h"
#include "core/names.h"
#include "core/segment_index.h"

vdb_status vdb_create_collection(vdb_db *db, const vdb_schema *schema)
{
    return vdb_create_collection_opts(db, schema, NULL);
}

vdb_status vdb_create_collection_opts(vdb_db *db, const vdb_schema *schema,
                                      const vdb_create_opts *opts_in)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_create_collection");
    VDB_CHECK_ARG(db && schema, "vdb_create_collection: db or schema is NULL");
    vdb_create_opts opts = {0};
    vdb_status st = opts_in ? vdb_struct_in(opts_in, opts_in->struct_size,
                                            sizeof(uint32_t), &opts, sizeof opts,
                                            "vdb_create_opts")
                            : VDB_OK;
    if (st != VDB_OK)
        return st;
    VDB_CHECK_ARG(!opts.n_properties || (opts.property_keys && opts.property_values),
                  "vdb_create_collection: %zu properties but their keys or values are NULL",
                  opts.n_properties);
    for (size_t i = 0; i < opts.n_properties; i++)
        VDB_CHECK_ARG(opts.property_keys[i] && opts.property_keys[i][0] &&
                      opts.property_values[i],
                      "vdb_create_collection: property key or value %zu is NULL or empty", i);
    if ((st = vdb_schema_check_complete(schema)) != VDB_OK)
        return st;
    vdb_props props = {0};
    uint64_t ttl = 0;
    /* checked as vdb_alter_collection_properties checks them (props.c) */
    const vdb_props none = {0};
    if (opts.n_properties &&
        ((st = vdb_props_edit(&none, opts.n_properties, opts.property_keys,
                              opts.property_values, &props)) != VDB_OK ||
         (st = vdb_props_check(&props, &ttl)) != VDB_OK)) {
        vdb_props_free(&props);
        return st;
    }
    vdb_lock_wr(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c = NULL;
    vdb_buf b = {0};
    vdb_alias *a = vdb_catalog_find_alias(&db->catalog, schema->name);
    if (a) {
        st = vdb_set_errmsg(VDB_EEXIST, "collection name '%s' is taken by an alias of "
                            "collection '%s'", schema->name, a->c->name);
        goto done;
    }
    if (vdb_catalog_find(&db->catalog, schema->name)) {
        st = vdb_set_errmsg(VDB_EEXIST, "collection '%s' already exists", schema->name);
        goto done;
    }
    if ((st = vdb_check_database_of(&db->catalog, schema->name)) != VDB_OK)
        goto done;
    uint64_t ids, born;
    /* the slot in the list first: nothing can fail once the meta store has it */
    if ((st = vdb_catalog_reserve(&db->catalog)) != VDB_OK)
        goto done;
    /* a partition key: "_default_0".."_default_<n-1>" in slot order (partkey.h) */
    uint32_t nkey = vdb_schema_partitions(schema);
    if ((st = vdb_ids_alloc(db, 2 + nkey, &ids)) != VDB_OK ||
        (st = vdb_tso_next(db->tso, &born)) != VDB_OK ||
        (st = vdb_collection_new(schema, ids, born, &c)) != VDB_OK)
        goto done;
    if (!nkey)
        st = vdb_collection_add_partition(c, VDB_DEFAULT_PARTITION, ids + 1);
    for (uint32_t i = 0; i < nkey && st == VDB_OK; i++) {
        char pname[64];
        snprintf(pname, sizeof pname, "%s_%u", VDB_DEFAULT_PARTITION, i);
        st = vdb_collection_add_partition(c, pname, ids + 1 + i);
    }
    if (st == VDB_OK) /* in the record the create writes: one transaction */
        vdb_collection_take_props(c, &props, ttl);
    if (st != VDB_OK ||
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
    vdb_props_free(&props);
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

/* The meta keys of c's segments, checkpoints and indexes. */
static vdb_status collect_data_keys(vdb_db *db, const vdb_collection *c, key_list *keys)
{
    static const char *const kinds[] = {"seg", "ckpt", "idx", "loghw"};
    vdb_status st = VDB_OK;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds && st == VDB_OK; k++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s/%016llx/", kinds[k], (unsigned long long)c->id);
        st = db->meta.be->scan(db->meta.h, prefix, collect_key, keys);
    }
    if (st == VDB_OK && keys->oom)
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    return st;
}

/* Once c is gone from the meta store (c->dropped set; catalog lock held for writing): its
 * queued seals and index builds are discarded and running ones are waited for (they take
 * only the shard's seal lock, write_mu and c->lock, none of which is held here), so none
 * writes into the folder deleted here; then its channels and files go. A failure here leaves
 * garbage, never a half-dropped collection. */
static void discard_data(vdb_db *db, vdb_collection *c)
{
    key_list objs = {0};
    vdb_pool_cancel(db->seals, c);
    vdb_pool_cancel(db->builds, c);
    for (uint32_t s = 0; s < c->nshards; s++)
        db->log.be->drop(db->log.h, c->shards[s].channel);
    if (db->obj.be->list(db->obj.h, c->seg_prefix, collect_object, &objs) == VDB_OK)
        for (size_t i = 0; i < objs.n; i++)
            db->obj.be->del(db->obj.h, objs.keys[i]);
    key_list_free(&objs);
}

vdb_status vdb_drop_collection(vdb_db *db, const char *name)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_drop_collection");
    VDB_CHECK_ARG(db && name, "vdb_drop_collection: db or name is NULL");
    vdb_lock_wr(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c = vdb_catalog_find_exact(&db->catalog, name);
    vdb_alias *a = c ? NULL : vdb_catalog_find_alias(&db->catalog, name);
    vdb_status st = VDB_OK;
    key_list keys = {0};
    vdb_metatxn t = {0};
    if (a) {
        st = vdb_set_errmsg(VDB_EINVAL, "cannot drop the collection via alias '%s' (of "
                            "collection '%s')", name, a->c->name);
        goto done;
    }
    if (!c) {
        st = vdb_catalog_lookup(&db->catalog, name, &c);
        goto done;
    }
    size_t naliases = vdb_catalog_count_aliases(&db->catalog, c);
    if (naliases) {
        st = vdb_set_errmsg(VDB_EINVAL, "cannot drop collection '%s': it has %zu alias%s; "
                            "drop them first", name, naliases, naliases == 1 ? "" : "es");
        goto done;
    }
    vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE); /* wait for a write in flight */
    char ckey[300];
    st = collect_data_keys(db, c, &keys);
    if (st == VDB_OK)
        st = vdb_ddl_log(db, "drop_collection", c->name, c->id);
    if (st == VDB_OK) {
        vdb_collection_key(ckey, sizeof ckey, c->name);
        vdb_metatxn_add(&t, VDB_META_DELETE, ckey, NULL);
        for (size_t i = 0; i < keys.n; i++)
            vdb_metatxn_add(&t, VDB_META_DELETE, keys.keys[i], NULL);
        st = vdb_metatxn_commit(db, &t);
    }
    if (st == VDB_OK)
        c->dropped = true; /* a seal in flight writes nothing more for it */
    vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
    if (st != VDB_OK)
        goto done;
    discard_data(db, c);
    vdb_catalog_remove(&db->catalog, c);
    vdb_events_notify(db);
    vdb_collection_free(c);
done:
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    key_list_free(&keys);
    vdb_metatxn_free(&t);
    return st;
}

vdb_status vdb_rename_collection(vdb_db *db, const char *name, const char *new_name)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_rename_collection");
    VDB_CHECK_ARG(db && name && new_name, "vdb_rename_collection: db, name or new_name is "
                  "NULL");
    VDB_CHECK_ARG(vdb_qualified_valid(new_name), "new collection name '%s' is invalid: use "
                  "1..255 letters, digits or '_', starting with a letter or '_' "
                  "(\"<database>.<name>\" to move it to another database)", new_name);
    new_name = vdb_qualified_canon(new_name);
    vdb_lock_wr(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c = vdb_catalog_find_exact(&db->catalog, name);
    vdb_alias *a = c ? NULL : vdb_catalog_find_alias(&db->catalog, name);
    vdb_status st = VDB_OK;
    vdb_metatxn t = {0};
    vdb_buf b = {0};
    char *n1 = NULL, *n2 = NULL;
    if (a) {
        st = vdb_set_errmsg(VDB_EINVAL, "cannot rename a collection via alias '%s': rename "
                            "collection '%s'", name, a->c->name);
        goto done;
    }
    if (!c) {
        st = vdb_catalog_lookup(&db->catalog, name, &c);
        goto done;
    }
    if (!strcmp(c->name, new_name)) {
        st = vdb_set_errmsg(VDB_EINVAL, "cannot rename collection '%s': the new name is the "
                            "old one", name);
        goto done;
    }
    if (vdb_catalog_find_exact(&db->catalog, new_name) ||
        vdb_catalog_find_alias(&db->catalog, new_name)) {
        st = vdb_set_errmsg(VDB_EEXIST, "cannot rename collection '%s' to '%s': %s '%s' "
                            "already exists", name, new_name,
                            vdb_catalog_find_exact(&db->catalog, new_name) ? "collection"
                                                                           : "alias",
                            new_name);
        goto done;
    }
    if ((st = vdb_check_database_of(&db->catalog, new_name)) != VDB_OK)
        goto done;
    if (!vdb_same_database(c->name, new_name) && vdb_catalog_count_aliases(&db->catalog, c)) {
        st = vdb_set_errmsg(VDB_EINVAL, "cannot move collection '%s' to another database "
                            "while it has aliases; drop them first", name);
        goto done;
    }
    if (!(n1 = vdb_strdup(new_name)) || !(n2 = vdb_strdup(new_name))) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto done;
    }
    char okey[300], nkey[300], text[520];
    if ((st = vdb_collection_encode_as(c, new_name, &b)) != VDB_OK)
        goto done;
    vdb_collection_key(okey, sizeof okey, c->name);
    vdb_collection_key(nkey, sizeof nkey, new_name);
    vdb_metatxn_add(&t, VDB_META_CHECK_ABSENT, nkey, NULL);
    vdb_metatxn_add(&t, VDB_META_DELETE, okey, NULL);
    vdb_metatxn_add(&t, VDB_META_PUT, nkey, &b);
    for (size_t i = 0; i < db->catalog.naliases; i++) {
        if (db->catalog.aliases[i].c != c)
            continue;
        vdb_buf v = {0};
        char akey[300];
        vdb_alias_key(akey, sizeof akey, db->catalog.aliases[i].name);
        vdb_buf_put(&v, new_name, strlen(new_name));
        if (v.oom)
            t.oom = true;
        vdb_metatxn_add(&t, VDB_META_PUT, akey, &v);
        vdb_buf_free(&v);
    }
    snprintf(text, sizeof text, "%s %s", name, new_name);
    if ((st = vdb_ddl_log(db, "rename_collection", text, c->id)) != VDB_OK ||
        (st = vdb_metatxn_commit(db, &t)) != VDB_OK)
        goto done;
    /* background builds read the name under c->lock (segment_index.c) */
    vdb_lock_wr(&c->lock, VDB_RANK_COLL);
    char *old = c->name;
    c->name = n1;
    n1 = old;
    old = c->schema->name;
    c->schema->name = n2;
    n2 = old;
    vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
done:
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_free(n1);
    vdb_free(n2);
    vdb_buf_free(&b);
    vdb_metatxn_free(&t);
    return st;
}

/* Puts each index definition of the old collection under the new one's id. */
typedef struct idx_copy {
    vdb_metatxn *t;
    uint64_t id;
} idx_copy;

static int copy_index_def(void *arg, const char *key, const void *val, size_t len)
{
    idx_copy *x = arg;
    const char *field = strchr(key + 4, '/'); /* "idx/<id>/<field>" */
    char nkey[400];
    vdb_buf v = {0};
    if (!field)
        return 0;
    snprintf(nkey, sizeof nkey, "idx/%016llx%s", (unsigned long long)x->id, field);
    vdb_buf_put(&v, val, len);
    if (v.oom)
        x->t->oom = true;
    vdb_metatxn_add(x->t, VDB_META_PUT, nkey, &v);
    vdb_buf_free(&v);
    return 0;
}

vdb_status vdb_truncate_collection(vdb_db *db, const char *collection)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_truncate_collection");
    VDB_CHECK_ARG(db && collection, "vdb_truncate_collection: db or collection is NULL");
    vdb_lock_wr(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c, *nc = NULL;
    key_list keys = {0};
    vdb_metatxn t = {0};
    vdb_buf b = {0};
    uint64_t id, born;
    vdb_status st = vdb_catalog_lookup(&db->catalog, collection, &c);
    if (st != VDB_OK)
        goto done;
    if ((st = vdb_ids_alloc(db, 1, &id)) != VDB_OK ||
        (st = vdb_tso_next(db->tso, &born)) != VDB_OK ||
        (st = vdb_collection_new(c->schema, id, born, &nc)) != VDB_OK)
        goto done;
    for (size_t i = 0; i < c->nparts && st == VDB_OK; i++) /* partitions keep their ids */
        st = vdb_collection_add_partition(nc, c->parts[i].name, c->parts[i].id);
    vdb_props props = {0};
    if (st == VDB_OK && (st = vdb_props_edit(&c->props, 0, NULL, NULL, &props)) == VDB_OK)
        vdb_collection_take_props(nc, &props, c->ttl_ms); /* properties stay too */
    if (st != VDB_OK || (st = vdb_collection_encode(nc, NULL, -1, &b)) != VDB_OK)
        goto done;
    vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE); /* wait for a write in flight */
    char ckey[300], prefix[64];
    idx_copy x = {&t, id};
    vdb_collection_key(ckey, sizeof ckey, c->name);
    snprintf(prefix, sizeof prefix, "idx/%016llx/", (unsigned long long)c->id);
    st = collect_data_keys(db, c, &keys);
    if (st == VDB_OK)
        st = db->meta.be->scan(db->meta.h, prefix, copy_index_def, &x);
    if (st == VDB_OK)
        st = vdb_ddl_log(db, "truncate_collection", c->name, c->id);
    if (st == VDB_OK) {
        for (size_t i = 0; i < keys.n; i++)
            vdb_metatxn_add(&t, VDB_META_DELETE, keys.keys[i], NULL);
        vdb_metatxn_add(&t, VDB_META_PUT, ckey, &b);
        st = vdb_metatxn_commit(db, &t);
    }
    if (st == VDB_OK)
        c->dropped = true; /* a seal in flight writes nothing more for it */
    vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
    if (st != VDB_OK)
        goto done;
    /* committed: the new collection is the one the meta store has (its index definitions
     * read back as at open); what fails below fails as at the next open */
    st = vdb_load_indexes(db, nc);
    discard_data(db, c);
    vdb_catalog_replace(&db->catalog, c, nc);
    vdb_events_notify(db);
    vdb_collection_free(c);
    nc = NULL;
done:
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection_free(nc);
    key_list_free(&keys);
    vdb_metatxn_free(&t);
    vdb_buf_free(&b);
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

vdb_status vdb_list_collections(vdb_db *db, vdb_names **out)
{
    return vdb_list_collections_in(db, VDB_DEFAULT_DATABASE, out); /* databases.c */
}

/* Collection properties (Milvus's alter_collection_properties / drop_collection_properties):
 * key/value strings kept in the collection's record, each change one meta transaction
 * (checked and applied by props.c). Honoured: collection.ttl.seconds (a row inserted before
 * a read's physical time minus the TTL is not visible to it, and compaction drops it).
 * Every other key is refused. */
#include "core/ddl.h"
#include "core/metatxn.h"

/* Sets (vals non-NULL) or removes n keys of collection's properties in one transaction. */
static vdb_status edit(vdb_db *db, const char *collection, const char *const *keys,
                       const char *const *vals, size_t n, const char *what)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && keys, "%s: db, collection or keys is NULL", what);
    VDB_CHECK_ARG(n, "%s: no keys given", what);
    for (size_t i = 0; i < n; i++)
        VDB_CHECK_ARG(keys[i] && keys[i][0] && (!vals || vals[i]),
                      "%s: key or value %zu is NULL or empty", what, i);
    vdb_lock_wr(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_props p = {0};
    vdb_metatxn t = {0};
    vdb_buf b = {0};
    uint64_t ttl = 0;
    vdb_status st = vdb_catalog_lookup(&db->catalog, collection, &c);
    if (st != VDB_OK)
        goto done;
    if ((st = vdb_props_edit(&c->props, n, keys, vals, &p)) != VDB_OK ||
        (st = vdb_props_check(&p, &ttl)) != VDB_OK)
        goto done;
    /* the record is encoded with the new properties swapped in (the catalog's write lock
     * keeps every other writer of c->props out; readers of c->props take that lock too) */
    vdb_props old = c->props;
    c->props = p;
    st = vdb_collection_encode(c, NULL, -1, &b);
    c->props = old;
    char ckey[300];
    vdb_collection_key(ckey, sizeof ckey, c->name);
    if (st == VDB_OK)
        st = vdb_ddl_log(db, what + 4, c->name, c->id); /* without "vdb_" */
    if (st == VDB_OK) {
        vdb_metatxn_add(&t, VDB_META_PUT, ckey, &b);
        st = vdb_metatxn_commit(db, &t);
    }
    if (st == VDB_OK) {
        vdb_lock_wr(&c->lock, VDB_RANK_COLL);
        vdb_collection_take_props(c, &p, ttl);
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    }
done:
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_props_free(&p);
    vdb_metatxn_free(&t);
    vdb_buf_free(&b);
    return st;
}

vdb_status vdb_alter_collection_properties(vdb_db *db, const char *collection,
                                           const char *const *keys, const char *const *values,
                                           size_t n)
{
    if (!values && n) {
        vdb_err_clear();
        return vdb_set_errmsg(VDB_EINVAL, "vdb_alter_collection_properties: values is NULL");
    }
    return edit(db, collection, keys, values, n, "vdb_alter_collection_properties");
}

vdb_status vdb_drop_collection_properties(vdb_db *db, const char *collection,
                                          const char *const *keys, size_t n)
{
    return edit(db, collection, keys, NULL, n, "vdb_drop_collection_properties");
}

vdb_status vdb_describe_collection_properties(vdb_db *db, const char *collection,
                                              vdb_names **keys, vdb_names **values)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && keys && values,
                  "vdb_describe_collection_properties: db, collection, keys or values is NULL");
    *keys = *values = NULL;
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_status st = vdb_catalog_lookup(&db->catalog, collection, &c);
    vdb_names *k = NULL, *v = NULL;
    if (st == VDB_OK) {
        k = vdb_calloc(1, sizeof *k);
        v = vdb_calloc(1, sizeof *v);
        size_t cap = c->props.n ? c->props.n : 1;
        if (k && v && (k->names = vdb_calloc(cap, sizeof *k->names)) &&
            (v->names = vdb_calloc(cap, sizeof *v->names))) {
            for (size_t i = 0; i < c->props.n; i++) {
                if (!(k->names[k->count] = vdb_strdup(c->props.keys[i])))
                    break;
                k->count++;
                if (!(v->names[v->count] = vdb_strdup(c->props.vals[i])))
                    break;
                v->count++;
            }
        }
        if (!k || !v || !k->names || !v->names || v->count < c->props.n)
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    if (st != VDB_OK) {
        vdb_names_free(k);
        vdb_names_free(v);
        return st;
    }
    *keys = k;
    *values = v;
    return VDB_OK;
}

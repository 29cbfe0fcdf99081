/* Adding a field to an existing collection (Milvus 2.6's add_collection_field): a nullable
 * scalar field, appended to the schema in one meta transaction that bumps the schema's
 * version. Rows written before it read its default, else NULL: the segments in memory get
 * the column here (vdb_segment_widen), sealed segments written before get it when loaded,
 * and log records written before get it when replayed (vdb_decode_columns). The schema is
 * then encoded as version 3, which older libraries refuse (VDB_EVERSION) instead of
 * misreading the segments. */
#include "core/ddl.h"
#include "core/follow.h"
#include "core/metatxn.h"
#include "core/segment_index.h"
#include "tso/tso.h"

/* Milvus's rules for an added field, with its words. */
static vdb_status check_added(const vdb_field_def *d)
{
    const char *n = d->name ? d->name : "(null)";
    if (vdb_type_is_any_vector(d->type))
        return vdb_set_errmsg(VDB_EINVAL, "not support to add vector field, field name = %s", n);
    if (d->is_primary)
        return vdb_set_errmsg(VDB_EINVAL, "not support to add pk field, field name = %s", n);
    if (d->auto_id)
        return vdb_set_errmsg(VDB_EINVAL, "only primary field can speficy AutoID with true, "
                              "field name = %s", n);
    if (d->is_partition_key)
        return vdb_set_errmsg(VDB_EINVAL, "not support to add partition key field, field "
                              "name = %s", n);
    if (!d->nullable)
        return vdb_set_errmsg(VDB_EINVAL, "added field must be nullable, please check it, "
                              "field name = %s", n);
    return VDB_OK;
}

/* Moves the schema-shaped members of nc (made from the new schema) into c and c's old ones
 * into nc, which the caller frees. The index choices move to the new, longer array. */
static void swap_schema(vdb_collection *c, vdb_collection *nc)
{
    for (size_t i = 0; i < c->schema->nfields; i++) {
        nc->index[i] = c->index[i];
        c->index[i] = (vdb_field_index){0};
    }
#define SWAP(m)                                                                               \
    do {                                                                                      \
        __typeof__(c->m) tmp_ = c->m;                                                         \
        c->m = nc->m;                                                                         \
        nc->m = tmp_;                                                                         \
    } while (0)
    SWAP(schema);
    SWAP(ncols);
    SWAP(types);
    SWAP(dims);
    SWAP(nullable);
    SWAP(fill);
    SWAP(layout);
    SWAP(expr_fields);
    SWAP(expr_schema);
    SWAP(index);
#undef SWAP
}

/* Every segment of c in memory gets the new columns (catalog, every seal lock, write_mu and
 * c->lock held). */
static vdb_status widen_all(vdb_collection *c)
{
    vdb_status st = VDB_OK;
    for (uint32_t s = 0; s < c->nshards && st == VDB_OK; s++) {
        vdb_shard *sh = &c->shards[s];
        for (size_t g = 0; g < sh->ngrowing && st == VDB_OK; g++)
            if (sh->growing[g])
                st = vdb_segment_widen(sh->growing[g], &c->layout);
        for (size_t g = 0; g < sh->nsealing && st == VDB_OK; g++)
            st = vdb_segment_widen(sh->sealing[g], &c->layout);
    }
    for (size_t i = 0; i < c->nsealed && st == VDB_OK; i++)
        st = vdb_segment_widen(c->sealed[i], &c->layout);
    return st;
}

vdb_status vdb_add_collection_field(vdb_db *db, const char *collection,
                                    const vdb_field_def *field)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_add_collection_field");
    VDB_CHECK_ARG(db && collection && field,
                  "vdb_add_collection_field: db, collection or field is NULL");
    vdb_field_def def;
    vdb_status st = vdb_struct_in(field, field->struct_size, sizeof def, &def, sizeof def,
                                  "vdb_field_def");
    if (st != VDB_OK || (st = check_added(&def)) != VDB_OK)
        return st;
    vdb_lock_wr(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c, *nc = NULL;
    vdb_schema *ns = NULL;
    vdb_metatxn t = {0};
    vdb_buf b = {0};
    uint64_t ts;
    uint32_t locked = 0;
    if ((st = vdb_catalog_lookup(&db->catalog, collection, &c)) != VDB_OK)
        goto done;
    if (vdb_schema_find(c->schema, def.name ? def.name : "") >= 0) {
        st = vdb_set_errmsg(VDB_EINVAL, "duplicate field name: %s", def.name);
        goto done;
    }
    if ((st = vdb_schema_copy(c->schema, &ns)) != VDB_OK ||
        (st = vdb_schema_add_field(ns, &def)) != VDB_OK ||
        (st = vdb_tso_next(db->tso, &ts)) != VDB_OK)
        goto done;
    ns->fields[ns->nfields - 1].added_ts = ts;
    ns->version++;
    if ((st = vdb_collection_new(ns, c->id, c->incarnation, &nc)) != VDB_OK ||
        (st = vdb_collection_encode_schema(c, ns, &b)) != VDB_OK)
        goto done;
    /* no seal of any shard may be writing a segment's columns while they change */
    for (; locked < c->nshards; locked++)
        vdb_lock_mu(&c->shards[locked].seal_mu, VDB_RANK_SEAL);
    vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE); /* wait for a write in flight */
    if ((st = vdb_collection_check_writable(c)) == VDB_OK &&
        (st = vdb_ddl_log(db, "add_collection_field", c->name, c->id)) == VDB_OK) {
        char ckey[300];
        vdb_collection_key(ckey, sizeof ckey, c->name);
        vdb_metatxn_add(&t, VDB_META_PUT, ckey, &b);
        st = vdb_metatxn_commit(db, &t);
    }
    if (st == VDB_OK) {
        /* background builds read the schema without a lock: the queued ones go (queued
         * again below) and the running ones finish first */
        vdb_pool_cancel(db->builds, c);
        vdb_lock_wr(&c->lock, VDB_RANK_COLL);
        swap_schema(c, nc);
        st = widen_all(c);
        if (st != VDB_OK)
            c->failed = true; /* committed: a reopen loads the segments widened */
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
        for (size_t i = 0; i < c->nsealed; i++)
            vdb_index_queue(db, c, c->sealed[i]);
    }
    vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
    while (locked)
        vdb_unlock_mu(&c->shards[--locked].seal_mu, VDB_RANK_SEAL);
done:
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection_free(nc);
    vdb_schema_free(ns);
    vdb_metatxn_free(&t);
    vdb_buf_free(&b);
    return st;
}

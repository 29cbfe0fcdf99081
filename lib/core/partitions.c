/* The partition calls: create, drop, list. Partitions live in their collection's record;
 * dropping one deletes its segments' records in the same transaction, then their files. */
#include <stdio.h>

#include "core/ddl.h"
#include "core/follow.h"
#include "core/ids.h"
#include "core/names.h"
#include "core/partkey.h"
#include "core/segment_index.h"

vdb_status vdb_list_partitions(vdb_db *db, const char *collection, vdb_names **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && out, "vdb_list_partitions: db, collection or out is NULL");
    *out = NULL;
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_status st = vdb_catalog_lookup(&db->catalog, collection, &c);
    if (st == VDB_OK) {
        vdb_lock_rd(&c->lock, VDB_RANK_COLL);
        st = vdb_names_new(c->nparts, out);
        for (size_t i = 0; st == VDB_OK && i < c->nparts; i++) {
            if (!((*out)->names[i] = vdb_strdup(c->parts[i].name)))
                st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            (*out)->count = i + 1;
        }
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    if (st != VDB_OK && *out) {
        vdb_names_free(*out);
        *out = NULL;
    }
    return st;
}

vdb_status vdb_create_partition(vdb_db *db, const char *collection, const char *name)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_create_partition");
    VDB_CHECK_ARG(db && collection && name, "vdb_create_partition: db, collection or name is "
                  "NULL");
    VDB_CHECK_ARG(vdb_name_valid(name), "partition name '%s' is invalid: use 1..255 letters, "
                  "digits or '_', starting with a letter or '_'", name);
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_status st = vdb_catalog_lookup(&db->catalog, collection, &c);
    vdb_buf b = {0};
    if (st != VDB_OK)
        goto out;
    vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE);
    uint64_t id;
    if (vdb_has_partition_key(c))
        st = vdb_set_errmsg(VDB_EINVAL, "disable create partition if partition key mode is "
                            "used (collection '%s')", collection);
    else if (vdb_partition_by_name(c, name) >= 0)
        st = vdb_set_errmsg(VDB_EEXIST, "partition '%s' already exists in '%s'", name,
                            collection);
    else if (c->nparts >= VDB_MAX_PARTITIONS)
        st = vdb_set_errmsg(VDB_EINVAL, "a collection holds at most %d partitions",
                            VDB_MAX_PARTITIONS);
    else if ((st = vdb_ids_alloc(db, 1, &id)) == VDB_OK) {
        vdb_partition p = {(char *)name, id};
        st = vdb_collection_encode(c, &p, -1, &b);
        char key[300];
        vdb_collection_key(key, sizeof key, c->name);
        if (st == VDB_OK)
            st = vdb_ddl_log(db, "create_partition", name, c->id);
        if (st == VDB_OK)
            st = db->meta.be->put(db->meta.h, key, b.p, b.len);
        if (st == VDB_OK) {
            vdb_lock_wr(&c->lock, VDB_RANK_COLL);
            st = vdb_collection_add_partition(c, name, id);
            vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
            if (st != VDB_OK)
                c->failed = true; /* meta has it, memory does not: reopen to resync */
        }
    }
    vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
out:
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_buf_free(&b);
    return st;
}

vdb_status vdb_drop_partition(vdb_db *db, const char *collection, const char *name)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_drop_partition");
    VDB_CHECK_ARG(db && collection && name, "vdb_drop_partition: db, collection or name is NULL");
    VDB_CHECK_ARG(strcmp(name, VDB_DEFAULT_PARTITION), "the _default partition cannot be "
                  "dropped");
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_status st = vdb_catalog_lookup(&db->catalog, collection, &c);
    vdb_buf b = {0};
    vdb_meta_op *ops = NULL;
    if (st != VDB_OK)
        goto out;
    vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE);
    int slot = vdb_partition_by_name(c, name);
    if (vdb_has_partition_key(c)) {
        st = vdb_set_errmsg(VDB_EINVAL, "disable drop partition if partition key mode is used "
                            "(collection '%s')", collection);
        goto unlock;
    }
    if (slot < 0) {
        st = vdb_set_errmsg(VDB_ENOTFOUND, "partition '%s' does not exist in '%s'", name,
                            collection);
        goto unlock;
    }
    uint64_t pid = c->parts[slot].id;
    st = vdb_collection_encode(c, NULL, slot, &b);
    ops = vdb_calloc(c->nsealed + 1, sizeof *ops);
    char (*keys)[64] = vdb_calloc(c->nsealed + 1, 64);
    if (st != VDB_OK || !ops || !keys) {
        vdb_free(keys);
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto unlock;
    }
    char ckey[300];
    vdb_collection_key(ckey, sizeof ckey, c->name);
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
    st = vdb_ddl_log(db, "drop_partition", name, c->id);
    if (st == VDB_OK)
        st = db->meta.be->txn(db->meta.h, ops, n);
    vdb_free(keys);
    if (st != VDB_OK)
        goto unlock;
    /* the partition's segments are gone from the meta store: their objects are garbage */
    for (size_t i = 0; i < c->nsealed; i++)
        if (vdb_segment_partition(c->sealed[i]) == pid)
            vdb_segment_objects_delete(db, c, vdb_segment_id(c->sealed[i]));
    vdb_lock_wr(&c->lock, VDB_RANK_COLL);
    for (uint32_t s = 0; s < c->nshards; s++) {
        vdb_shard *sh = &c->shards[s];
        vdb_segment_free(sh->growing[slot]);
        memmove(&sh->growing[slot], &sh->growing[slot + 1],
                (sh->ngrowing - (size_t)slot - 1) * sizeof *sh->growing);
        sh->ngrowing--;
        /* a seal in flight finds them gone at its commit and deletes what it wrote */
        size_t keep = 0;
        for (size_t g = 0; g < sh->nsealing; g++) {
            if (vdb_segment_partition(sh->sealing[g]) == pid)
                vdb_segment_free(sh->sealing[g]);
            else
                sh->sealing[keep++] = sh->sealing[g];
        }
        sh->nsealing = keep;
    }
    size_t kept = 0;
    for (size_t i = 0; i < c->nsealed; i++) {
        if (vdb_segment_partition(c->sealed[i]) == pid)
            vdb_segment_free(c->sealed[i]);
        else
            c->sealed[kept++] = c->sealed[i];
    }
    c->nsealed = kept;
    vdb_free(c->parts[slot].name);
    memmove(&c->parts[slot], &c->parts[slot + 1],
            (c->nparts - (size_t)slot - 1) * sizeof *c->parts);
    c->nparts--;
    vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
unlock:
    vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
out:
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_free(ops);
    vdb_buf_free(&b);
    return st;
}

/* Id allocation (a window reserved in the meta store before it is handed out) and the
 * retention horizon. */
#include "core/ids.h"

#define ID_WINDOW 65536 /* ids reserved per meta write */

vdb_status vdb_ids_load(vdb_db *db)
{
    void *v;
    size_t len;
    vdb_status st = db->meta.be->get(db->meta.h, "idalloc", &v, &len);
    if (st == VDB_ENOTFOUND) {
        db->next_id = db->id_limit = 1;
        return VDB_OK;
    }
    if (st != VDB_OK)
        return st;
    if (len != 8) {
        vdb_free(v);
        return vdb_set_errmsg(VDB_ECORRUPT, "meta key idalloc has %zu bytes, expected 8", len);
    }
    memcpy(&db->id_limit, v, 8);
    db->next_id = db->id_limit; /* ids below the saved limit may have been handed out */
    vdb_free(v);
    return VDB_OK;
}

vdb_status vdb_ids_alloc(vdb_db *db, uint64_t n, uint64_t *first)
{
    vdb_status st = VDB_OK;
    vdb_lock_forbid_io(VDB_RANK_COLL, "id allocation (a meta-store write)");
    pthread_mutex_lock(&db->id_mu);
    if (db->next_id + n > db->id_limit) {
        /* reserve a window in the meta store before handing any of it out */
        uint64_t limit = db->next_id + n + ID_WINDOW;
        st = db->meta.be->put(db->meta.h, "idalloc", &limit, sizeof limit);
        if (st == VDB_OK)
            db->id_limit = limit;
    }
    if (st == VDB_OK) {
        *first = db->next_id;
        db->next_id += n;
    }
    pthread_mutex_unlock(&db->id_mu);
    return st;
}

uint64_t vdb_horizon(const vdb_db *db)
{
    uint64_t now = vdb_now_ms(), keep = db->opts.retention_seconds * 1000u;
    return now > keep ? vdb_ts_make(now - keep, 0) : 0;
}

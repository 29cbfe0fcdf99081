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
    if (db->read_only) { /* a reader's ids (its growing segments') are its own, from 2^62 */
        *first = db->next_id;
        db->next_id += n;
        pthread_mutex_unlock(&db->id_mu);
        return VDB_OK;
    }
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

/* now - retention: the horizon when no iterator holds an older snapshot. */
static uint64_t time_horizon(const vdb_db *db)
{
    uint64_t now = vdb_now_ms(), keep = db->opts.retention_seconds * 1000u;
    return now > keep ? vdb_ts_make(now - keep, 0) : 0;
}

/* pin_mu held. */
static uint64_t horizon_locked(const vdb_db *db)
{
    uint64_t h = time_horizon(db);
    for (size_t i = 0; i < db->npins; i++)
        h = VDB_MIN(h, db->pins[i]);
    return h;
}

uint64_t vdb_horizon(vdb_db *db)
{
    pthread_mutex_lock(&db->pin_mu);
    uint64_t h = horizon_locked(db);
    pthread_mutex_unlock(&db->pin_mu);
    return h;
}

vdb_status vdb_pin_ts(vdb_db *db, uint64_t T)
{
    vdb_status st = VDB_OK;
    pthread_mutex_lock(&db->pin_mu);
    uint64_t h = horizon_locked(db);
    if (T < h) {
        st = vdb_set_errmsg(VDB_ERANGE, "timestamp %llu is older than the retention window "
                            "(%llu s)", (unsigned long long)T,
                            (unsigned long long)db->opts.retention_seconds);
    } else if (db->npins == db->pins_cap) {
        size_t cap = db->pins_cap ? db->pins_cap * 2 : 8;
        uint64_t *p = vdb_realloc(db->pins, cap * sizeof *p);
        if (p) {
            db->pins = p;
            db->pins_cap = cap;
        } else {
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        }
    }
    if (st == VDB_OK)
        db->pins[db->npins++] = T;
    pthread_mutex_unlock(&db->pin_mu);
    return st;
}

void vdb_unpin_ts(vdb_db *db, uint64_t T)
{
    pthread_mutex_lock(&db->pin_mu);
    for (size_t i = 0; i < db->npins; i++)
        if (db->pins[i] == T) {
            db->pins[i] = db->pins[--db->npins];
            break;
        }
    pthread_mutex_unlock(&db->pin_mu);
}

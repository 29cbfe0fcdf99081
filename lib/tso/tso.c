/* The timestamp oracle: hands out hybrid timestamps from the wall clock and a logical
 * counter, persisting a reserved window ahead of the clock so a restart never repeats one. */
#include <pthread.h>
#include <stdlib.h>

#include "tso/tso.h"

#define DEFAULT_WINDOW_MS 3000

struct vdb_tso {
    pthread_mutex_t mu;
    const vdb_meta_backend *be;
    void *meta;
    char *key;
    uint64_t window_ms;
    uint64_t saved;     /* physical ms up to which timestamps may have been handed out */
    uint64_t phys;      /* physical part of the last timestamp (or the floor after open) */
    uint64_t logical;   /* its logical part */
    uint64_t last;      /* the last timestamp handed out by this instance, 0 if none */
};

static vdb_status save_window(vdb_tso *t, uint64_t upto)
{
    uint8_t v[8];
    vdb_put_u64(v, upto);
    vdb_status st = t->be->put(t->meta, t->key, v, sizeof v);
    if (st != VDB_OK)
        return st;
    t->saved = upto;
    return VDB_OK;
}

vdb_status vdb_tso_open(const vdb_meta_backend *be, void *meta, const char *key,
                        uint64_t window_ms, vdb_tso **out)
{
    if (!be || !key || !*key || !out)
        return vdb_set_errmsg(VDB_EINVAL, "tso: meta backend, key and out are required");
    vdb_tso *t = vdb_calloc(1, sizeof *t);
    if (!t)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    pthread_mutex_init(&t->mu, NULL);
    t->be = be;
    t->meta = meta;
    t->window_ms = window_ms ? window_ms : DEFAULT_WINDOW_MS;
    void *val = NULL;
    size_t len = 0;
    vdb_status st;
    t->key = vdb_strdup(key);
    if (!t->key) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto fail;
    }
    st = be->get(meta, key, &val, &len);
    if (st == VDB_OK) {
        if (len != 8) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "tso window under %s is %zu bytes, not 8", key,
                                len);
            goto fail;
        }
        /* Anything up to the saved window may have been handed out before the restart:
         * pretend the last one was the largest possible in that millisecond. */
        t->saved = vdb_get_u64(val);
        t->phys = t->saved;
        t->logical = VDB_TS_LOGICAL_MASK;
    } else if (st != VDB_ENOTFOUND) {
        goto fail;
    }
    st = VDB_OK;
    free(val); /* backend memory is the C allocator's (vdb/sys/backend.h) */
    *out = t;
    return VDB_OK;
fail:
    free(val);
    vdb_tso_close(t);
    return st;
}

void vdb_tso_close(vdb_tso *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->mu);
    vdb_free(t->key);
    vdb_free(t);
}

vdb_status vdb_tso_next(vdb_tso *t, uint64_t *ts)
{
    if (!t || !ts)
        return vdb_set_errmsg(VDB_EINVAL, "tso next: NULL argument");
    vdb_status st = VDB_OK;
    pthread_mutex_lock(&t->mu);
    uint64_t now = vdb_now_ms();
    uint64_t phys = t->phys, logical = t->logical + 1;
    if (now > phys) {
        phys = now;
        logical = 0;
    } else if (logical > VDB_TS_LOGICAL_MASK) {
        /* The counter ran out within one millisecond: borrow the next one. */
        phys++;
        logical = 0;
    }
    if (phys > t->saved) {
        st = save_window(t, VDB_MAX(phys, now) + t->window_ms);
        if (st != VDB_OK)
            goto done;
    }
    t->phys = phys;
    t->logical = logical;
    t->last = vdb_ts_make(phys, logical);
    *ts = t->last;
done:
    pthread_mutex_unlock(&t->mu);
    return st;
}

uint64_t vdb_tso_last(vdb_tso *t)
{
    if (!t)
        return 0;
    pthread_mutex_lock(&t->mu);
    uint64_t last = t->last;
    pthread_mutex_unlock(&t->mu);
    return last;
}

/* The RocksDB meta backend (rocksdb:///dir): keys "m/" + key, every write synced; a txn's
 * checks and writes happen under the database's meta lock, its writes as one WriteBatch. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rocksdb_shared.h"

typedef struct rmeta {
    vdb_rocksdb *r;
} rmeta;

/* "m/" + key, malloc'ed; *len without the NUL. */
static char *meta_key(const char *key, size_t *len)
{
    size_t n = strlen(key);
    char *k = malloc(n + 3);
    if (!k)
        return NULL;
    memcpy(k, "m/", 2);
    memcpy(k + 2, key, n + 1);
    *len = n + 2;
    return k;
}

static vdb_status oom(rmeta *m, const char *what, const char *key)
{
    return vdb_set_errmsg(VDB_ENOMEM, "rocksdb meta %s: %s '%s': out of memory", m->r->path,
                          what, key);
}

static vdb_status check_key(rmeta *m, const char *key, const char *what)
{
    if (!key)
        return vdb_set_errmsg(VDB_EINVAL, "rocksdb meta %s: %s: NULL key", m->r->path, what);
    return VDB_OK;
}

/* The value of key: *found 0 when missing; *val malloc'ed with a NUL past len when want. */
static vdb_status read_value(rmeta *m, const char *key, int *found, void **val, size_t *len,
                             const char *what)
{
    size_t klen;
    char *k = meta_key(key, &klen);
    if (!k)
        return oom(m, what, key);
    char *err = NULL;
    rocksdb_pinnableslice_t *ps = rocksdb_get_pinned(m->r->db, m->r->ro, k, klen, &err);
    free(k);
    if (err) {
        vdb_status st = vdb_set_errmsg(VDB_EIO, "rocksdb meta %s: %s '%s': %s", m->r->path,
                                       what, key, err);
        free(err);
        return st;
    }
    *found = ps != NULL;
    if (!ps)
        return VDB_OK;
    size_t n;
    const char *v = rocksdb_pinnableslice_value(ps, &n);
    char *copy = malloc(n + 1);
    if (!copy) {
        rocksdb_pinnableslice_destroy(ps);
        return oom(m, what, key);
    }
    memcpy(copy, v, n);
    copy[n] = '\0';
    rocksdb_pinnableslice_destroy(ps);
    *val = copy;
    *len = n;
    return VDB_OK;
}

static vdb_status rmeta_get(void *h, const char *key, void **val, size_t *len)
{
    rmeta *m = h;
    vdb_status st = check_key(m, key, "get");
    int found = 0;
    if (st == VDB_OK)
        st = read_value(m, key, &found, val, len, "get");
    if (st == VDB_OK && !found)
        st = vdb_set_errmsg(VDB_ENOTFOUND, "rocksdb meta %s: no key '%s'", m->r->path, key);
    return st;
}

/* Writes b synced; meta_mu held. */
static vdb_status write_batch(rmeta *m, rocksdb_writebatch_t *b, const char *what,
                              const char *key)
{
    char *err = NULL;
    rocksdb_write(m->r->db, m->r->wo_sync, b, &err);
    if (!err)
        return VDB_OK;
    vdb_status st = vdb_set_errmsg(VDB_EIO, "rocksdb meta %s: %s '%s': %s", m->r->path, what,
                                   key, err);
    free(err);
    return st;
}

static vdb_status put_or_del(rmeta *m, const char *key, const void *val, size_t len, int del)
{
    const char *what = del ? "delete" : "put";
    vdb_status st = check_key(m, key, what);
    if (st != VDB_OK)
        return st;
    if (!del && !val && len)
        return vdb_set_errmsg(VDB_EINVAL, "rocksdb meta %s: put '%s': NULL value", m->r->path,
                              key);
    size_t klen;
    char *k = meta_key(key, &klen);
    rocksdb_writebatch_t *b = k ? rocksdb_writebatch_create() : NULL;
    if (!b) {
        free(k);
        return oom(m, what, key);
    }
    if (del)
        rocksdb_writebatch_delete(b, k, klen);
    else
        rocksdb_writebatch_put(b, k, klen, val ? val : "", len);
    pthread_mutex_lock(&m->r->meta_mu);
    st = write_batch(m, b, what, key);
    pthread_mutex_unlock(&m->r->meta_mu);
    rocksdb_writebatch_destroy(b);
    free(k);
    return st;
}

static vdb_status rmeta_put(void *h, const char *key, const void *val, size_t len)
{
    return put_or_del(h, key, val, len, 0);
}

static vdb_status rmeta_del(void *h, const char *key)
{
    return put_or_del(h, key, NULL, 0, 1);
}

static vdb_status rmeta_scan(void *h, const char *prefix, vdb_meta_scan_fn fn, void *arg)
{
    rmeta *m = h;
    vdb_status st = VDB_OK;
    if (!prefix)
        prefix = "";
    size_t plen;
    char *lo = meta_key(prefix, &plen);
    char *hi = lo ? malloc(plen) : NULL;
    rocksdb_readoptions_t *ro = hi ? rocksdb_readoptions_create() : NULL;
    rocksdb_iterator_t *it = NULL;
    char *kbuf = NULL;
    size_t kcap = 0;
    if (ro) {
        /* the upper bound: the prefix with its last byte below 0xff incremented ("m/" has
         * such a byte, so there always is one) */
        memcpy(hi, lo, plen);
        size_t hlen = plen;
        while ((unsigned char)hi[hlen - 1] == 0xff)
            hlen--;
        hi[hlen - 1]++;
        rocksdb_readoptions_set_iterate_upper_bound(ro, hi, hlen);
        it = rocksdb_create_iterator(m->r->db, ro);
    }
    if (!it) {
        st = oom(m, "scan", prefix);
        goto done;
    }
    for (rocksdb_iter_seek(it, lo, plen); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl < plen || memcmp(k, lo, plen))
            break;
        if (kl - 1 > kcap) {
            free(kbuf);
            kcap = kl * 2;
            if (!(kbuf = malloc(kcap))) {
                st = oom(m, "scan", prefix);
                goto done;
            }
        }
        memcpy(kbuf, k + 2, kl - 2);
        kbuf[kl - 2] = '\0';
        const char *v = rocksdb_iter_value(it, &vl);
        if (fn(arg, kbuf, v, vl))
            break;
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (err) {
        st = vdb_set_errmsg(VDB_EIO, "rocksdb meta %s: scan '%s': %s", m->r->path, prefix, err);
        free(err);
    }
done:
    if (it)
        rocksdb_iter_destroy(it);
    if (ro)
        rocksdb_readoptions_destroy(ro);
    free(kbuf);
    free(lo);
    free(hi);
    return st;
}

static vdb_status rmeta_txn(void *h, const vdb_meta_op *ops, size_t n)
{
    rmeta *m = h;
    vdb_status st = VDB_OK;
    for (size_t i = 0; i < n && st == VDB_OK; i++) {
        if ((st = check_key(m, ops[i].key, "txn")) != VDB_OK)
            break;
        if (ops[i].kind < VDB_META_PUT || ops[i].kind > VDB_META_CHECK_ABSENT)
            st = vdb_set_errmsg(VDB_EINVAL, "rocksdb meta %s: txn op %zu on '%s': unknown kind "
                                "%d", m->r->path, i, ops[i].key, (int)ops[i].kind);
        else if (!ops[i].val && ops[i].len &&
                 (ops[i].kind == VDB_META_PUT || ops[i].kind == VDB_META_CHECK_VALUE))
            st = vdb_set_errmsg(VDB_EINVAL, "rocksdb meta %s: txn op %zu on '%s': NULL value",
                                m->r->path, i, ops[i].key);
    }
    if (st != VDB_OK)
        return st;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    if (!b)
        return oom(m, "txn", n ? ops[0].key : "");
    int writes = 0;
    for (size_t i = 0; i < n && st == VDB_OK; i++) {
        if (ops[i].kind != VDB_META_PUT && ops[i].kind != VDB_META_DELETE)
            continue;
        size_t klen;
        char *k = meta_key(ops[i].key, &klen);
        if (!k) {
            st = oom(m, "txn", ops[i].key);
            break;
        }
        if (ops[i].kind == VDB_META_PUT)
            rocksdb_writebatch_put(b, k, klen, ops[i].val ? ops[i].val : "", ops[i].len);
        else
            rocksdb_writebatch_delete(b, k, klen);
        free(k);
        writes++;
    }
    pthread_mutex_lock(&m->r->meta_mu);
    for (size_t i = 0; i < n && st == VDB_OK; i++) {
        const vdb_meta_op *op = &ops[i];
        if (op->kind != VDB_META_CHECK_VALUE && op->kind != VDB_META_CHECK_ABSENT)
            continue;
        int found = 0;
        void *v = NULL;
        size_t len = 0;
        if ((st = read_value(m, op->key, &found, &v, &len, "txn check")) != VDB_OK)
            break;
        if (op->kind == VDB_META_CHECK_ABSENT && found)
            st = vdb_set_errmsg(VDB_ECONFLICT, "rocksdb meta %s: txn: key '%s' exists (%zu "
                                "bytes), expected absent", m->r->path, op->key, len);
        else if (op->kind == VDB_META_CHECK_VALUE && !found)
            st = vdb_set_errmsg(VDB_ECONFLICT, "rocksdb meta %s: txn: key '%s' is missing, "
                                "expected a value of %zu bytes", m->r->path, op->key, op->len);
        else if (op->kind == VDB_META_CHECK_VALUE &&
                 (len != op->len || (len && memcmp(v, op->val, len))))
            st = vdb_set_errmsg(VDB_ECONFLICT, "rocksdb meta %s: txn: key '%s' holds another "
                                "value (%zu bytes, expected %zu)", m->r->path, op->key, len,
                                op->len);
        free(v);
    }
    if (st == VDB_OK && writes)
        st = write_batch(m, b, "txn", ops[0].key);
    pthread_mutex_unlock(&m->r->meta_mu);
    rocksdb_writebatch_destroy(b);
    return st;
}

static void rmeta_close(void *h)
{
    rmeta *m = h;
    if (!m)
        return;
    vdb_rocksdb_release(m->r);
    free(m);
}

static vdb_status rmeta_open(const char *uri, const vdb_backend_options *opt, void **out)
{
    (void)opt; /* meta writes are always synced */
    *out = NULL;
    rmeta *m = calloc(1, sizeof *m);
    if (!m)
        return vdb_set_errmsg(VDB_ENOMEM, "rocksdb meta %s: out of memory", uri);
    vdb_status st = vdb_rocksdb_acquire(uri, "meta", 0, &m->r);
    if (st != VDB_OK) {
        free(m);
        return st;
    }
    *out = m;
    return VDB_OK;
}

const vdb_meta_backend vdb_rocksdb_meta_backend = {
    .version = VDB_META_BACKEND_VERSION,
    .scheme = "rocksdb",
    .open = rmeta_open,
    .close = rmeta_close,
    .get = rmeta_get,
    .put = rmeta_put,
    .del = rmeta_del,
    .scan = rmeta_scan,
    .txn = rmeta_txn,
};

/* Fault injection over any backend: a store opened from "fault+<uri>" is the store of <uri>
 * with every call first asking the fault layer (util/fault.c, VDB_FAULT_BACKEND); an armed
 * test makes the Nth call fail with VDB_EIO before it reaches the backend, as a server that
 * went away or a disk that failed would. Disarmed it only forwards. */
#include <errno.h>

#include "storage/storage.h"

#define FAILED(what)                                                                        \
    vdb_set_errmsg(VDB_EIO, "%s: %s (injected backend fault)", what, strerror(injected_errno))

static _Thread_local int injected_errno; /* set by hit() for FAILED on the same thread */

static bool hit(void)
{
    int e = vdb_fault_hit(VDB_FAULT_BACKEND);
    if (e)
        injected_errno = e;
    return e != 0;
}

static vdb_status not_opened(const char *uri, const vdb_backend_options *opt, void **out)
{
    (void)uri, (void)opt, (void)out;
    return vdb_set_errmsg(VDB_EUNSUPPORTED, "a fault+ store is opened through the registry");
}

/* ---- log --------------------------------------------------------------------------------- */

typedef struct fault_log {
    vdb_log_backend vt; /* what callers see: these functions, as far as the inner one has */
    vdb_log_store in;
} fault_log;

typedef struct fault_sub {
    const vdb_log_backend *be;
    void *h;
} fault_sub;

static void log_close(void *h)
{
    fault_log *f = h;
    f->in.be->close(f->in.h);
    vdb_free(f);
}
static vdb_status log_append(void *h, const char *ch, const void *rec, size_t len, uint64_t *pos)
{
    fault_log *f = h;
    return hit() ? FAILED("log append") : f->in.be->append(f->in.h, ch, rec, len, pos);
}
static vdb_status log_read(void *h, const char *ch, uint64_t from, vdb_log_read_fn fn, void *arg)
{
    fault_log *f = h;
    return hit() ? FAILED("log read") : f->in.be->read(f->in.h, ch, from, fn, arg);
}
static vdb_status log_truncate(void *h, const char *ch, uint64_t upto)
{
    fault_log *f = h;
    return hit() ? FAILED("log truncate") : f->in.be->truncate(f->in.h, ch, upto);
}
static vdb_status log_drop(void *h, const char *ch)
{
    fault_log *f = h;
    return hit() ? FAILED("log drop") : f->in.be->drop(f->in.h, ch);
}
static vdb_status log_last_pos(void *h, const char *ch, uint64_t *pos)
{
    fault_log *f = h;
    return hit() ? FAILED("log last_pos") : f->in.be->last_pos(f->in.h, ch, pos);
}
static vdb_status log_subscribe(void *h, const char *ch, uint64_t from, void **out)
{
    fault_log *f = h;
    if (hit())
        return FAILED("log subscribe");
    fault_sub *s = vdb_calloc(1, sizeof *s);
    if (!s)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory subscribing to %s", ch);
    s->be = f->in.be;
    vdb_status st = s->be->subscribe(f->in.h, ch, from, &s->h);
    if (st != VDB_OK) {
        vdb_free(s);
        return st;
    }
    *out = s;
    return VDB_OK;
}
static vdb_status log_poll(void *h, uint64_t timeout_ms, vdb_log_read_fn fn, void *arg)
{
    fault_sub *s = h;
    return hit() ? FAILED("log poll") : s->be->poll(s->h, timeout_ms, fn, arg);
}
static void log_unsubscribe(void *h)
{
    fault_sub *s = h;
    s->be->unsubscribe(s->h);
    vdb_free(s);
}

vdb_status vdb_fault_wrap_log(vdb_log_store *s)
{
    fault_log *f = vdb_calloc(1, sizeof *f);
    if (!f) {
        s->be->close(s->h);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory opening a fault+ log");
    }
    f->in = *s;
    const vdb_log_backend *in = s->be;
    f->vt = (vdb_log_backend){.version = VDB_LOG_BACKEND_VERSION, .scheme = "fault",
                              .open = not_opened, .close = log_close, .append = log_append,
                              .read = log_read, .truncate = log_truncate, .drop = log_drop};
    if (in->version >= 2 && in->last_pos)
        f->vt.last_pos = log_last_pos;
    if (in->version >= 2 && in->subscribe) {
        f->vt.subscribe = log_subscribe;
        f->vt.poll = log_poll;
        f->vt.unsubscribe = log_unsubscribe;
    }
    s->be = &f->vt;
    s->h = f;
    return VDB_OK;
}

/* ---- meta -------------------------------------------------------------------------------- */

typedef struct fault_meta {
    vdb_meta_backend vt;
    vdb_meta_store in;
} fault_meta;

static void meta_close(void *h)
{
    fault_meta *f = h;
    f->in.be->close(f->in.h);
    vdb_free(f);
}
static vdb_status meta_get(void *h, const char *key, void **val, size_t *len)
{
    fault_meta *f = h;
    return hit() ? FAILED("meta get") : f->in.be->get(f->in.h, key, val, len);
}
static vdb_status meta_put(void *h, const char *key, const void *val, size_t len)
{
    fault_meta *f = h;
    return hit() ? FAILED("meta put") : f->in.be->put(f->in.h, key, val, len);
}
static vdb_status meta_del(void *h, const char *key)
{
    fault_meta *f = h;
    return hit() ? FAILED("meta delete") : f->in.be->del(f->in.h, key);
}
static vdb_status meta_scan(void *h, const char *prefix, vdb_meta_scan_fn fn, void *arg)
{
    fault_meta *f = h;
    return hit() ? FAILED("meta scan") : f->in.be->scan(f->in.h, prefix, fn, arg);
}
static vdb_status meta_txn(void *h, const vdb_meta_op *ops, size_t n)
{
    fault_meta *f = h;
    return hit() ? FAILED("meta transaction") : f->in.be->txn(f->in.h, ops, n);
}

vdb_status vdb_fault_wrap_meta(vdb_meta_store *s)
{
    fault_meta *f = vdb_calloc(1, sizeof *f);
    if (!f) {
        s->be->close(s->h);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory opening a fault+ meta store");
    }
    f->in = *s;
    f->vt = (vdb_meta_backend){.version = s->be->version, .scheme = "fault",
                               .open = not_opened, .close = meta_close, .get = meta_get,
                               .put = meta_put, .del = meta_del, .scan = meta_scan,
                               .txn = s->be->txn ? meta_txn : NULL};
    s->be = &f->vt;
    s->h = f;
    return VDB_OK;
}

/* ---- objects ----------------------------------------------------------------------------- */

typedef struct fault_objects {
    vdb_object_backend vt;
    vdb_object_store in;
} fault_objects;

static void obj_close(void *h)
{
    fault_objects *f = h;
    f->in.be->close(f->in.h);
    vdb_free(f);
}
static vdb_status obj_put(void *h, const char *key, const void *data, size_t len)
{
    fault_objects *f = h;
    return hit() ? FAILED("object put") : f->in.be->put(f->in.h, key, data, len);
}
static vdb_status obj_get(void *h, const char *key, void **data, size_t *len)
{
    fault_objects *f = h;
    return hit() ? FAILED("object get") : f->in.be->get(f->in.h, key, data, len);
}
static vdb_status obj_get_range(void *h, const char *key, uint64_t off, size_t len,
                                void **data, size_t *got)
{
    fault_objects *f = h;
    return hit() ? FAILED("object range get")
                 : f->in.be->get_range(f->in.h, key, off, len, data, got);
}
static vdb_status obj_head(void *h, const char *key, uint64_t *size)
{
    fault_objects *f = h;
    return hit() ? FAILED("object head") : f->in.be->head(f->in.h, key, size);
}
static vdb_status obj_list(void *h, const char *prefix, vdb_object_list_fn fn, void *arg)
{
    fault_objects *f = h;
    return hit() ? FAILED("object list") : f->in.be->list(f->in.h, prefix, fn, arg);
}
static vdb_status obj_del(void *h, const char *key)
{
    fault_objects *f = h;
    return hit() ? FAILED("object delete") : f->in.be->del(f->in.h, key);
}

vdb_status vdb_fault_wrap_objects(vdb_object_store *s)
{
    fault_objects *f = vdb_calloc(1, sizeof *f);
    if (!f) {
        s->be->close(s->h);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory opening a fault+ object store");
    }
    f->in = *s;
    bool ranges = s->be->version >= 2 && s->be->get_range;
    f->vt = (vdb_object_backend){.version = s->be->version, .scheme = "fault",
                                 .open = not_opened, .close = obj_close, .put = obj_put,
                                 .get = obj_get, .get_range = ranges ? obj_get_range : NULL,
                                 .head = obj_head, .list = obj_list, .del = obj_del};
    s->be = &f->vt;
    s->h = f;
    return VDB_OK;
}

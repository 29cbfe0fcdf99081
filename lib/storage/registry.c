/* The backend registry: log, meta and object backends by URI scheme, opening by URI, and the
 * one place that checks a backend's vtable version before calling a method added after
 * version 1. */
#include <pthread.h>
#include <stddef.h>

#include "storage/storage.h"

#define MAX_BACKENDS 16

/* The backends built into this library (backends/: each defines its const struct and is
 * compiled in when its dependency was found). */
#ifdef VDB_HAVE_ROCKSDB
extern const vdb_log_backend vdb_rocksdb_log_backend;
extern const vdb_meta_backend vdb_rocksdb_meta_backend;
#define ROCKSDB_LOG &vdb_rocksdb_log_backend,
#define ROCKSDB_META &vdb_rocksdb_meta_backend,
#else
#define ROCKSDB_LOG
#define ROCKSDB_META
#endif
#ifdef VDB_HAVE_ETCD
extern const vdb_meta_backend vdb_etcd_meta_backend;
#define ETCD_META &vdb_etcd_meta_backend,
#else
#define ETCD_META
#endif
#ifdef VDB_HAVE_S3
extern const vdb_object_backend vdb_s3_object_backend;
#define S3_OBJECT &vdb_s3_object_backend,
#else
#define S3_OBJECT
#endif
#ifdef VDB_HAVE_AZURE
extern const vdb_object_backend vdb_azure_object_backend;
#define AZURE_OBJECT &vdb_azure_object_backend,
#else
#define AZURE_OBJECT
#endif
#ifdef VDB_HAVE_NATS
extern const vdb_log_backend vdb_nats_log_backend;
#define NATS_LOG &vdb_nats_log_backend,
#else
#define NATS_LOG
#endif

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static const void *logs[MAX_BACKENDS] = {&vdb_wal_backend, ROCKSDB_LOG NATS_LOG};
static const void *metas[MAX_BACKENDS] = {&vdb_meta_local_backend, ROCKSDB_META ETCD_META};
static const void *objects[MAX_BACKENDS] = {&vdb_object_file_backend, S3_OBJECT AZURE_OBJECT};

/* ---- the shape of each vtable, per version ------------------------------------------------ */

/* Version 2 starts exactly where version 1 ended: a field inserted before app_data would move
 * the methods an old backend put there. */
#define FN_SIZE sizeof(void (*)(void))
_Static_assert(offsetof(vdb_log_backend, app_data) == offsetof(vdb_log_backend, drop) + FN_SIZE,
               "log vtable: version 1 ends at drop");
_Static_assert(offsetof(vdb_meta_backend, app_data) == offsetof(vdb_meta_backend, txn) + FN_SIZE,
               "meta vtable: version 1 ends at txn");
_Static_assert(offsetof(vdb_object_backend, app_data) ==
                   offsetof(vdb_object_backend, del) + FN_SIZE,
               "object vtable: version 1 ends at del");

typedef struct method {
    const char *name;
    size_t off;
} method;

typedef struct kind {
    const char *name;     /* "log", for messages */
    unsigned newest;      /* VDB_LOG_BACKEND_VERSION */
    size_t sizes[3];      /* sizes[v]: bytes of the struct a version-v backend has */
    method required[8];   /* the version-1 methods, which every backend must set */
    const void **table;
} kind;

#define M(type, f) {#f, offsetof(type, f)}

static const kind log_kind = {
    "log", VDB_LOG_BACKEND_VERSION,
    {0, offsetof(vdb_log_backend, app_data), sizeof(vdb_log_backend)},
    {M(vdb_log_backend, open), M(vdb_log_backend, close), M(vdb_log_backend, append),
     M(vdb_log_backend, read), M(vdb_log_backend, truncate), M(vdb_log_backend, drop)},
    logs,
};
static const kind meta_kind = {
    "meta", VDB_META_BACKEND_VERSION,
    {0, offsetof(vdb_meta_backend, app_data), sizeof(vdb_meta_backend)},
    {M(vdb_meta_backend, open), M(vdb_meta_backend, close), M(vdb_meta_backend, get),
     M(vdb_meta_backend, put), M(vdb_meta_backend, del), M(vdb_meta_backend, scan),
     M(vdb_meta_backend, txn)},
    metas,
};
static const kind object_kind = {
    "object", VDB_OBJECT_BACKEND_VERSION,
    {0, offsetof(vdb_object_backend, app_data), sizeof(vdb_object_backend)},
    {M(vdb_object_backend, open), M(vdb_object_backend, close), M(vdb_object_backend, put),
     M(vdb_object_backend, get), M(vdb_object_backend, get_range), M(vdb_object_backend, head),
     M(vdb_object_backend, list), M(vdb_object_backend, del)},
    objects,
};
_Static_assert(VDB_LOG_BACKEND_VERSION == 2 && VDB_META_BACKEND_VERSION == 2 &&
                   VDB_OBJECT_BACKEND_VERSION == 2,
               "a new vtable version needs its size in the kind tables above");

/* Every vtable starts with these two fields. */
typedef struct be_head {
    unsigned version;
    const char *scheme;
} be_head;

static bool fn_set(const void *be, size_t off)
{
    void (*fn)(void);
    memcpy(&fn, (const char *)be + off, sizeof fn);
    return fn != NULL;
}

/* ---- registration --------------------------------------------------------------------------- */

/* A registered backend: the caller's struct copied (the part its version defines) into a zeroed
 * struct of this library's size, and its scheme. Copies are never freed: a store opened with
 * one keeps using it after its scheme is registered again. */
typedef struct kept {
    struct kept *next;
    char *scheme;
    _Alignas(max_align_t) unsigned char be[];
} kept;

static kept *kept_head; /* (reg_mu) */

static bool scheme_ok(const char *s)
{
    /* RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    for (const char *p = s + 1; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '-' || c == '.'))
            return false;
    }
    return strlen(s) <= 32;
}

static vdb_status check_backend(const kind *k, const be_head *be)
{
    if (!be)
        return vdb_set_errmsg(VDB_EINVAL, "%s backend: NULL", k->name);
    /* The version first: a newer struct's other fields may not be what this library thinks. */
    if (be->version == 0 || be->version > k->newest)
        return vdb_set_errmsg(VDB_EVERSION, "%s backend '%s' has vtable version %u; this library "
                              "takes versions 1 to %u%s", k->name,
                              be->scheme ? be->scheme : "(no scheme)", be->version, k->newest,
                              be->version ? " (it was built for a newer libvdb)"
                                          : " (set it, e.g. with the _INIT macro)");
    if (!be->scheme || !*be->scheme || !scheme_ok(be->scheme))
        return vdb_set_errmsg(VDB_EINVAL, "%s backend: scheme '%s' is not a URI scheme (a letter, "
                              "then letters, digits, '+', '-' or '.'; at most 32 characters)",
                              k->name, be->scheme ? be->scheme : "(null)");
    for (size_t i = 0; i < sizeof k->required / sizeof k->required[0] && k->required[i].name; i++)
        if (!fn_set(be, k->required[i].off))
            return vdb_set_errmsg(VDB_EINVAL, "%s backend '%s': method %s is NULL (every "
                                  "version-1 method is required)", k->name, be->scheme,
                                  k->required[i].name);
    return VDB_OK;
}

static vdb_status reg_add(const kind *k, const be_head *be)
{
    vdb_status st = check_backend(k, be);
    if (st != VDB_OK)
        return st;
    size_t full = k->sizes[k->newest];
    kept *c = vdb_calloc(1, sizeof *c + full);
    char *scheme = c ? vdb_strdup(be->scheme) : NULL;
    if (!scheme) {
        vdb_free(c);
        return vdb_set_errmsg(VDB_ENOMEM, "%s backend '%s': out of memory", k->name,
                              be->scheme);
    }
    memcpy(c->be, be, k->sizes[be->version]);
    c->scheme = scheme;
    memcpy(c->be + offsetof(be_head, scheme), &c->scheme, sizeof c->scheme);
    bool placed = false;
    pthread_mutex_lock(&reg_mu);
    for (int i = 0; i < MAX_BACKENDS && !placed; i++) {
        const be_head *cur = k->table[i];
        if (!cur || !strcmp(cur->scheme, scheme)) {
            k->table[i] = c->be;
            c->next = kept_head;
            kept_head = c;
            placed = true;
        }
    }
    pthread_mutex_unlock(&reg_mu);
    if (placed)
        return VDB_OK;
    vdb_free(scheme);
    vdb_free(c);
    return vdb_set_errmsg(VDB_ENOMEM, "%s backend registry is full (%d schemes); '%s' is not "
                          "registered", k->name, MAX_BACKENDS, be->scheme);
}

vdb_status vdb_register_log_backend(const vdb_log_backend *be)
{
    vdb_status st = check_backend(&log_kind, (const be_head *)be);
    if (st != VDB_OK)
        return st;
    if (be->version >= 2) {
        int n = (be->subscribe != NULL) + (be->poll != NULL) + (be->unsubscribe != NULL);
        if (n != 0 && n != 3)
            return vdb_set_errmsg(VDB_EINVAL, "log backend '%s': subscribe, poll and "
                                  "unsubscribe must be set together (or all left NULL)",
                                  be->scheme);
    }
    return reg_add(&log_kind, (const be_head *)be);
}
vdb_status vdb_register_meta_backend(const vdb_meta_backend *be)
{
    return reg_add(&meta_kind, (const be_head *)be);
}
vdb_status vdb_register_object_backend(const vdb_object_backend *be)
{
    return reg_add(&object_kind, (const be_head *)be);
}

static vdb_status init_struct(const kind *k, void *be, unsigned version)
{
    if (!be)
        return vdb_set_errmsg(VDB_EINVAL, "%s backend init: NULL struct", k->name);
    if (version == 0 || version > k->newest)
        return vdb_set_errmsg(VDB_EVERSION, "%s backend init: version %u; this library knows "
                              "versions 1 to %u", k->name, version, k->newest);
    memset(be, 0, k->sizes[version]);
    ((be_head *)be)->version = version;
    return VDB_OK;
}

vdb_status vdb_log_backend_init(vdb_log_backend *be, unsigned version)
{
    return init_struct(&log_kind, be, version);
}
vdb_status vdb_meta_backend_init(vdb_meta_backend *be, unsigned version)
{
    return init_struct(&meta_kind, be, version);
}
vdb_status vdb_object_backend_init(vdb_object_backend *be, unsigned version)
{
    return init_struct(&object_kind, be, version);
}

/* ---- opening by URI ------------------------------------------------------------------------- */

const char *vdb_uri_rest(const char *uri)
{
    const char *p = uri ? strstr(uri, "://") : NULL;
    return p ? p + 3 : NULL;
}

static bool scheme_is(const char *uri, const char *scheme)
{
    size_t n = strlen(scheme);
    return !strncmp(uri, scheme, n) && !strncmp(uri + n, "://", 3);
}

static const void *reg_find(const kind *k, const char *uri, vdb_status *st)
{
    if (!uri || !vdb_uri_rest(uri)) {
        *st = vdb_set_errmsg(VDB_EINVAL, "%s URI '%s' has no scheme (expected scheme://...)",
                             k->name, uri ? uri : "(null)");
        return NULL;
    }
    const void *found = NULL;
    pthread_mutex_lock(&reg_mu);
    for (int i = 0; i < MAX_BACKENDS && k->table[i]; i++)
        if (scheme_is(uri, ((const be_head *)k->table[i])->scheme))
            found = k->table[i];
    pthread_mutex_unlock(&reg_mu);
    if (!found)
        *st = vdb_set_errmsg(VDB_EUNSUPPORTED, "no %s backend for '%s' in this build of "
                             "libvdb (its dependency was missing at build time, or it must be "
                             "registered)", k->name, uri);
    return found;
}

/* The options a backend's open() gets: the caller's (or the defaults) and its app_data. */
static vdb_backend_options open_options(const vdb_backend_options *o, unsigned version,
                                        void *app_data)
{
    vdb_backend_options r = {.sync = VDB_SYNC_FULL, .sync_interval_ms = 100,
                             .timeout_ms = 10000};
    if (o)
        r = *o;
    r.app_data = version >= 2 ? app_data : NULL;
    return r;
}

#define FAULT_PREFIX "fault+"
static bool fault_uri(const char *uri)
{
    return uri && strncmp(uri, FAULT_PREFIX, strlen(FAULT_PREFIX)) == 0;
}

vdb_status vdb_log_store_open(const char *uri, const vdb_backend_options *o, vdb_log_store *out)
{
    vdb_status st = VDB_OK;
    out->h = NULL;
    if (fault_uri(uri)) {
        st = vdb_log_store_open(uri + strlen(FAULT_PREFIX), o, out);
        return st == VDB_OK ? vdb_fault_wrap_log(out) : st;
    }
    out->be = reg_find(&log_kind, uri, &st);
    if (!out->be)
        return st;
    /* A version-1 backend does not know read_only and would open for writing. */
    if (o && o->read_only && out->be->version < 2)
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "log backend '%s' cannot open %s read-only: it "
                              "was built for version %u of the log vtable (read_only came in "
                              "version 2)", out->be->scheme, uri, out->be->version);
    vdb_backend_options opt = open_options(o, out->be->version, out->be->app_data);
    return out->be->open(uri, &opt, &out->h);
}
vdb_status vdb_meta_store_open(const char *uri, const vdb_backend_options *o, vdb_meta_store *out)
{
    vdb_status st = VDB_OK;
    out->h = NULL;
    if (fault_uri(uri)) {
        st = vdb_meta_store_open(uri + strlen(FAULT_PREFIX), o, out);
        return st == VDB_OK ? vdb_fault_wrap_meta(out) : st;
    }
    out->be = reg_find(&meta_kind, uri, &st);
    if (!out->be)
        return st;
    vdb_backend_options opt = open_options(o, out->be->version, out->be->app_data);
    return out->be->open(uri, &opt, &out->h);
}
vdb_status vdb_object_store_open(const char *uri, const vdb_backend_options *o,
                                 vdb_object_store *out)
{
    vdb_status st = VDB_OK;
    out->h = NULL;
    if (fault_uri(uri)) {
        st = vdb_object_store_open(uri + strlen(FAULT_PREFIX), o, out);
        return st == VDB_OK ? vdb_fault_wrap_objects(out) : st;
    }
    out->be = reg_find(&object_kind, uri, &st);
    if (!out->be)
        return st;
    vdb_backend_options opt = open_options(o, out->be->version, out->be->app_data);
    return out->be->open(uri, &opt, &out->h);
}

void vdb_log_store_close(vdb_log_store *s)
{
    if (s->be && s->h)
        s->be->close(s->h);
    s->h = NULL;
}
void vdb_meta_store_close(vdb_meta_store *s)
{
    if (s->be && s->h)
        s->be->close(s->h);
    s->h = NULL;
}
void vdb_object_store_close(vdb_object_store *s)
{
    if (s->be && s->h)
        s->be->close(s->h);
    s->h = NULL;
}

/* ---- methods added after version 1: checked here, and only here ----------------------------- */

static vdb_status log_method(const vdb_log_backend *be, unsigned since, bool set,
                             const char *name)
{
    if (be->version < since)
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "log backend '%s' does not support %s: it was "
                              "built for version %u of the log vtable, and %s came in version "
                              "%u", be->scheme, name, be->version, name, since);
    if (!set)
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "log backend '%s' does not support %s",
                              be->scheme, name);
    return VDB_OK;
}

vdb_status vdb_log_store_last_pos(const vdb_log_store *s, const char *channel, uint64_t *pos)
{
    if (!s || !s->be || !s->h || !channel || !pos)
        return vdb_set_errmsg(VDB_EINVAL, "last_pos: NULL log, channel or pos");
    vdb_status st = log_method(s->be, 2, s->be->version >= 2 && s->be->last_pos, "last_pos");
    return st != VDB_OK ? st : s->be->last_pos(s->h, channel, pos);
}

vdb_status vdb_log_store_subscribe(const vdb_log_store *s, const char *channel, uint64_t from,
                                   vdb_log_sub *out)
{
    if (!out)
        return vdb_set_errmsg(VDB_EINVAL, "subscribe: NULL subscription");
    out->be = NULL;
    out->h = NULL;
    if (!s || !s->be || !s->h || !channel)
        return vdb_set_errmsg(VDB_EINVAL, "subscribe: NULL log or channel");
    vdb_status st = log_method(s->be, 2, s->be->version >= 2 && s->be->subscribe, "subscribe");
    if (st == VDB_OK && (st = s->be->subscribe(s->h, channel, from, &out->h)) == VDB_OK)
        out->be = s->be;
    return st;
}

vdb_status vdb_log_sub_poll(vdb_log_sub *sub, uint64_t timeout_ms, vdb_log_read_fn fn,
                            void *arg)
{
    if (!sub || !sub->be || !sub->h || !fn)
        return vdb_set_errmsg(VDB_EINVAL, "poll: NULL subscription or callback");
    return sub->be->poll(sub->h, timeout_ms, fn, arg);
}

void vdb_log_sub_close(vdb_log_sub *sub)
{
    if (sub && sub->be && sub->h)
        sub->be->unsubscribe(sub->h);
    if (sub)
        sub->h = NULL;
}

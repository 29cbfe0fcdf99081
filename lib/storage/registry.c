/* The backend registry: log, meta and object backends by URI scheme, and opening by URI. */
#include <pthread.h>

#include "storage/storage.h"
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
static const vdb_log_backend *logs[MAX_BACKENDS] = {&vdb_wal_backend, ROCKSDB_LOG NATS_LOG};
static const vdb_meta_backend *metas[MAX_BACKENDS] = {&vdb_meta_local_backend,
                                                      ROCKSDB_META ETCD_META};
static const vdb_object_backend *objects[MAX_BACKENDS] = {&vdb_object_file_backend, S3_OBJECT
                                                          AZURE_OBJECT};

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

/* One registry shape for the three kinds: a table of pointers to structs that start with
 * (int version, const char *scheme). */
typedef struct be_head {
    int version;
    const char *scheme;
} be_head;

static vdb_status reg_add(const void **table, const be_head *be, int version, const char *kind)
{
    if (!be || !be->scheme || !*be->scheme)
        return vdb_set_errmsg(VDB_EINVAL, "%s backend: missing scheme", kind);
    if (be->version != version)
        return vdb_set_errmsg(VDB_EVERSION, "%s backend '%s' has version %d; this library "
                              "speaks version %d", kind, be->scheme, be->version, version);
    pthread_mutex_lock(&reg_mu);
    vdb_status st = vdb_set_errmsg(VDB_ENOMEM, "%s backend registry is full", kind);
    for (int i = 0; i < MAX_BACKENDS; i++) {
        const be_head *cur = table[i];
        if (!cur || !strcmp(cur->scheme, be->scheme)) {
            table[i] = be;
            st = VDB_OK;
            break;
        }
    }
    pthread_mutex_unlock(&reg_mu);
    return st;
}

static const void *reg_find(const void **table, const char *uri, const char *kind,
                            vdb_status *st)
{
    if (!uri || !vdb_uri_rest(uri)) {
        *st = vdb_set_errmsg(VDB_EINVAL, "%s URI '%s' has no scheme (expected scheme://...)",
                             kind, uri ? uri : "(null)");
        return NULL;
    }
    const void *found = NULL;
    pthread_mutex_lock(&reg_mu);
    for (int i = 0; i < MAX_BACKENDS && table[i]; i++)
        if (scheme_is(uri, ((const be_head *)table[i])->scheme))
            found = table[i];
    pthread_mutex_unlock(&reg_mu);
    if (!found)
        *st = vdb_set_errmsg(VDB_EUNSUPPORTED, "no %s backend for '%s' in this build of "
                             "libvdb (its dependency was missing at build time, or it must be "
                             "registered)", kind, uri);
    return found;
}

vdb_status vdb_register_log_backend(const vdb_log_backend *be)
{
    return reg_add((const void **)logs, (const be_head *)be, VDB_LOG_BACKEND_VERSION, "log");
}
vdb_status vdb_register_meta_backend(const vdb_meta_backend *be)
{
    return reg_add((const void **)metas, (const be_head *)be, VDB_META_BACKEND_VERSION, "meta");
}
vdb_status vdb_register_object_backend(const vdb_object_backend *be)
{
    return reg_add((const void **)objects, (const be_head *)be, VDB_OBJECT_BACKEND_VERSION,
                   "object");
}

vdb_status vdb_log_store_open(const char *uri, const vdb_backend_options *o, vdb_log_store *out)
{
    vdb_status st = VDB_OK;
    out->be = reg_find((const void **)logs, uri, "log", &st);
    return out->be ? out->be->open(uri, o, &out->h) : st;
}
vdb_status vdb_meta_store_open(const char *uri, const vdb_backend_options *o, vdb_meta_store *out)
{
    vdb_status st = VDB_OK;
    out->be = reg_find((const void **)metas, uri, "meta", &st);
    return out->be ? out->be->open(uri, o, &out->h) : st;
}
vdb_status vdb_object_store_open(const char *uri, const vdb_backend_options *o,
                                 vdb_object_store *out)
{
    vdb_status st = VDB_OK;
    out->be = reg_find((const void **)objects, uri, "object", &st);
    return out->be ? out->be->open(uri, o, &out->h) : st;
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

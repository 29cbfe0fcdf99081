/* The database handle: options, the folder lock, the format version, the three stores, the
 * timestamp oracle, open (with recovery) and close, and the background thread (compaction,
 * seals of idle segments); the ticker is tick.c's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/databases.h"
#include "core/rbac.h"
#include "core/compact.h"
#include "core/follow.h"
#include "core/ids.h"
#include "core/memory.h"
#include "core/mmap.h"
#include "core/recovery.h"
#include "core/seal.h"
#include "core/tick.h"
#include "segment/seg_cache.h"
#include "util/sysio.h"

const char *vdb_version(void) { return VDB_VERSION_STRING; }
int vdb_version_number(void) { return VDB_VERSION_NUMBER; }

const char *vdb_errmsg(const vdb_db *db)
{
    (void)db;
    return vdb_err_get();
}

void vdb_options_init(vdb_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->sync = VDB_SYNC_FULL;
    o->sync_interval_ms = 100;
    o->segment_max_rows = 1u << 20;
    o->segment_max_bytes = 512u << 20;
    o->retention_seconds = 432000;
    o->compaction_interval_ms = 60000;
    o->compaction_min_segments = 4;
    o->segment_idle_seal_ms = 600000;
    o->tick_interval_ms = 200;
    o->read_only_refresh_ms = 200;
    o->read_only_strong_timeout_ms = 10000;
}

void vdb_options_init_sized(vdb_options *o, size_t size)
{
    if (!o || size < sizeof(uint32_t))
        return;
    vdb_options full;
    vdb_options_init(&full);
    full.struct_size = (uint32_t)VDB_MIN(size, sizeof full);
    memcpy(o, &full, VDB_MIN(size, sizeof full));
}

/* The pid a LOCK file names, if that process is alive; 0 if none does (yet). */
static long lock_holder(int fd)
{
    char text[32] = "";
    ssize_t n = vdb_sys_pread(fd, text, sizeof text - 1, 0);
    text[n > 0 ? n : 0] = 0;
    char *end;
    long pid = strtol(text, &end, 10);
    if (end == text || pid <= 0 || (*end && *end != ' ' && *end != '\n'))
        return 0;
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM) /* EPERM: alive, another user's */
        return 0;
    return pid;
}

/* Takes the folder's write lock: an OFD lock, so a second open in the same process conflicts
 * too, and the kernel drops it when the holder dies (a stale lock is taken over). The holder
 * writes its pid into the file right after it takes the lock; a process that finds the lock
 * held and no live pid in the file yet (the holder is between the two steps, or LOCK names a
 * dead process whose lock a new one took over) tries again for up to LOCK_WAIT_MS, so its
 * message names the holder. The pid is written over the old text in one write of fixed width
 * (then the rest is cut), so the file never reads empty once a pid was written. */
#define LOCK_WAIT_MS 2000
static vdb_status take_lock(vdb_db *db)
{
    char *p = vdb_path_join(db->path, "LOCK");
    if (!p)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    int fd = vdb_sys_open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        vdb_status st = vdb_set_errmsg(VDB_EIO, "open %s: %s", p, strerror(errno));
        vdb_free(p);
        return st;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    for (int waited = 0; fcntl(fd, F_OFD_SETLK, &fl) != 0; waited++) {
        long holder = lock_holder(fd);
        if (holder || waited >= LOCK_WAIT_MS) {
            close(fd);
            char who[64] = "(unknown: LOCK names no live process)";
            if (holder)
                snprintf(who, sizeof who, "%ld", holder);
            vdb_status st = vdb_set_errmsg(VDB_ELOCKED, "database %s is locked by process %s "
                                           "(one process at a time may open it)", db->path,
                                           who);
            vdb_free(p);
            return st;
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%-20ld\n", (long)getpid());
    if (vdb_sys_pwrite(fd, pid, (size_t)len, 0) != len || vdb_sys_ftruncate(fd, len) != 0) {
        vdb_status st = vdb_set_errmsg(VDB_EIO, "write %s: %s", p, strerror(errno));
        close(fd);
        vdb_free(p);
        return st;
    }
    vdb_free(p);
    db->lock_fd = fd;
    return VDB_OK;
}

/* FORMAT holds the on-disk format version; a newer one than ours is refused. *fresh: there
 * is none yet (check_created writes it once the meta store knows the database). */
static vdb_status check_format(vdb_db *db, bool *fresh)
{
    char *p = vdb_path_join(db->path, "FORMAT");
    if (!p)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    void *data;
    size_t len;
    vdb_status st = vdb_file_read(p, &data, &len);
    *fresh = st == VDB_ENOTFOUND;
    if (st == VDB_ENOTFOUND) {
        st = VDB_OK;
    } else if (st == VDB_OK) {
        int v = 0;
        if (sscanf(data, "libvdb-format %d", &v) != 1 || v < 1)
            st = vdb_set_errmsg(VDB_ECORRUPT, "%s is not a libvdb format file", p);
        else if (v > VDB_FORMAT_VERSION)
            st = vdb_set_errmsg(VDB_EVERSION, "database %s has format version %d; this "
                                "libvdb %s reads up to version %d: upgrade libvdb", db->path,
                                v, VDB_VERSION_STRING, VDB_FORMAT_VERSION);
        vdb_free(data);
    }
    vdb_free(p);
    return st;
}

/* o: the caller's options over the defaults (fields past its struct_size keep theirs). */
static vdb_status check_options(const vdb_options *o)
{
    VDB_CHECK_ARG(o->sync <= VDB_SYNC_OFF, "options.sync: unknown sync mode %d", (int)o->sync);
    VDB_CHECK_ARG(o->sync != VDB_SYNC_BATCH || o->sync_interval_ms >= 1,
                  "options.sync_interval_ms must be >= 1 with VDB_SYNC_BATCH");
    VDB_CHECK_ARG(o->segment_max_rows >= 1, "options.segment_max_rows must be >= 1");
    VDB_CHECK_ARG(o->segment_max_bytes >= 4096, "options.segment_max_bytes must be >= 4096");
    VDB_CHECK_ARG(o->compaction_min_segments >= 2, "options.compaction_min_segments must be "
                  ">= 2");
    VDB_CHECK_ARG(o->index_build_workers <= 64, "options.index_build_workers is %u: 0..64 "
                  "(0 = 1)", o->index_build_workers);
    VDB_CHECK_ARG(o->index_build_threads <= 1024, "options.index_build_threads is %u: 0..1024 "
                  "(0 = one per CPU)", o->index_build_threads);
    VDB_CHECK_ARG(o->search_threads <= 1024, "options.search_threads is %u: 0..1024 (0 = one "
                  "per CPU)", o->search_threads);
    VDB_CHECK_ARG(o->mmap <= 1, "options.mmap is %u: 0 or 1", o->mmap);
    VDB_CHECK_ARG(o->mmap || (!o->mmap_cache_dir && !o->mmap_cache_bytes),
                  "options.mmap_cache_dir and mmap_cache_bytes need options.mmap = 1");
    VDB_CHECK_ARG(o->tick_interval_ms == 0 ||
                      (o->tick_interval_ms >= 10 && o->tick_interval_ms <= 3600000),
                  "options.tick_interval_ms is %u: 0 (no ticks) or 10..3600000",
                  o->tick_interval_ms);
    VDB_CHECK_ARG(o->read_only <= 1, "options.read_only is %u: 0 or 1", o->read_only);
    VDB_CHECK_ARG(o->read_only_refresh_ms >= 10 && o->read_only_refresh_ms <= 3600000,
                  "options.read_only_refresh_ms is %u: 10..3600000", o->read_only_refresh_ms);
    VDB_CHECK_ARG(o->read_only_strong_timeout_ms >= 1, "options.read_only_strong_timeout_ms "
                  "must be >= 1");
    if (o->read_only) {
        VDB_CHECK_ARG(!o->mmap, "options.mmap cannot be used with options.read_only (the mmap "
                      "cache is written)");
        VDB_CHECK_ARG(!o->meta_uri || !strncmp(o->meta_uri, "local://", 8),
                      "options.read_only needs the local meta store (local://), not %s",
                      o->meta_uri);
        VDB_CHECK_ARG(!o->object_uri || !strncmp(o->object_uri, "file://", 7),
                      "options.read_only needs the file object store (file://), not %s",
                      o->object_uri);
        if (o->log_uri && strncmp(o->log_uri, "wal://", 6) != 0)
            return vdb_set_errmsg(VDB_EUNSUPPORTED, "options.read_only: reader processes "
                                  "follow the local WAL (wal://) only, not %s (not built yet "
                                  "for other logs)", o->log_uri);
    }
    return VDB_OK;
}

static int first_key(void *arg, const char *key, const void *val, size_t len)
{
    (void)key;
    (void)val;
    (void)len;
    *(bool *)arg = true;
    return 1; /* one is enough */
}

/* The meta key "created" is put before FORMAT is first written, so a database with FORMAT
 * whose meta store lacks it has lost its metadata (a deleted meta/ folder, a wiped etcd
 * prefix): VDB_ECORRUPT, not an empty database. A database from before the key gets it at
 * its next open if its meta store holds anything. */
static vdb_status check_created(vdb_db *db, bool fresh, const char *meta_uri)
{
    static const char key[] = "created";
    void *v = NULL;
    size_t len = 0;
    vdb_status st = db->meta.be->get(db->meta.h, key, &v, &len);
    free(v); /* backend memory is the C allocator's */
    if (st != VDB_ENOTFOUND)
        return st;
    if (!fresh) {
        bool any = false;
        st = db->meta.be->scan(db->meta.h, "", first_key, &any);
        if (st != VDB_OK)
            return st;
        if (!any)
            return vdb_set_errmsg(VDB_ECORRUPT, "database %s: its meta store %s is empty, "
                                  "but %s/FORMAT shows the database was created before: "
                                  "the metadata is lost", db->path, meta_uri, db->path);
    }
    char text[64];
    int n = snprintf(text, sizeof text, "libvdb-format %d\n", VDB_FORMAT_VERSION);
    st = db->meta.be->put(db->meta.h, key, text, (size_t)n);
    if (st != VDB_OK || !fresh)
        return st;
    char *p = vdb_path_join(db->path, "FORMAT");
    if (!p)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    st = vdb_file_write_atomic(p, text, (size_t)n);
    vdb_free(p);
    return st;
}

static char *default_uri(const char *scheme, const char *path, const char *sub)
{
    size_t n = strlen(scheme) + strlen(path) + strlen(sub) + 8;
    char *u = vdb_malloc(n);
    if (u)
        snprintf(u, n, "%s://%s/%s", scheme, path, sub);
    return u;
}

static vdb_status open_stores(vdb_db *db, bool fresh)
{
    vdb_backend_options bo = {
        .sync = db->opts.sync,
        .sync_interval_ms = db->opts.sync_interval_ms,
        .timeout_ms = 10000,
        .disable_io_uring = db->opts.disable_io_uring,
        .read_only = (int)db->opts.read_only,
    };
    char *log = db->opts.log_uri ? vdb_strdup(db->opts.log_uri) : default_uri("wal", db->path, "wal");
    char *meta = db->opts.meta_uri ? vdb_strdup(db->opts.meta_uri)
                                   : default_uri("local", db->path, "meta");
    char *obj = db->opts.object_uri ? vdb_strdup(db->opts.object_uri)
                                    : default_uri("file", db->path, "objects");
    vdb_status st = VDB_OK;
    if (!log || !meta || !obj)
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    if (st == VDB_OK)
        st = vdb_meta_store_open(meta, &bo, &db->meta);
    if (st == VDB_OK)
        st = vdb_object_store_open(obj, &bo, &db->obj);
    if (st == VDB_OK)
        st = vdb_log_store_open(log, &bo, &db->log);
    if (st == VDB_OK && db->opts.read_only) { /* a reader: the writer created the database */
        void *v = NULL;
        size_t len = 0;
        st = db->meta.be->get(db->meta.h, "created", &v, &len);
        free(v);
        if (st == VDB_ENOTFOUND)
            st = vdb_set_errmsg(VDB_ENOTFOUND, "database %s: its meta store %s does not hold "
                                "a database yet (a reader opens one a writer created)",
                                db->path, meta);
    } else if (st == VDB_OK) {
        st = check_created(db, fresh, meta);
        if (st == VDB_OK)
            st = vdb_tso_open(db->meta.be, db->meta.h, "tso", 0, &db->tso);
    }
    vdb_free(log);
    vdb_free(meta);
    vdb_free(obj);
    return st;
}

/* The background thread's period: often enough for both of its jobs. */
static uint64_t bg_period_ms(const vdb_options *o)
{
    uint64_t p = o->compaction_interval_ms ? o->compaction_interval_ms : UINT64_MAX;
    if (o->segment_idle_seal_ms)
        p = VDB_MIN(p, VDB_MAX(o->segment_idle_seal_ms / 4, 50));
    return p;
}

/* Periodic work: compaction every compaction_interval_ms, and the seal of idle growing
 * segments. Errors are kept for the next explicit call; the work is retried next period. */
/* The loaded data past memory_budget_bytes fails the open. */
static vdb_status open_within_budget(vdb_db *db)
{
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_status st = vdb_memory_admit(db, "open");
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return st;
}

static void *background(void *arg)
{
    vdb_db *db = arg;
    uint64_t period = bg_period_ms(&db->opts), last_compact = vdb_now_ms();
    pthread_mutex_lock(&db->bg_mu);
    while (!db->bg_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        uint64_t ns = until.tv_nsec + period * 1000000u;
        until.tv_sec += (time_t)(ns / 1000000000u);
        until.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&db->bg_cv, &db->bg_mu, &until);
        if (db->bg_stop)
            break;
        pthread_mutex_unlock(&db->bg_mu);
        uint64_t now = vdb_now_ms();
        if (db->opts.segment_idle_seal_ms)
            vdb_seal_idle(db, now);
        if (db->opts.compaction_interval_ms &&
            now - last_compact >= db->opts.compaction_interval_ms) {
            vdb_compact(db, NULL);
            last_compact = now;
        }
        pthread_mutex_lock(&db->bg_mu);
    }
    pthread_mutex_unlock(&db->bg_mu);
    return NULL;
}

vdb_status vdb_open(const char *path, const vdb_options *opts, vdb_db **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(out, "vdb_open: out is NULL");
    *out = NULL;
    VDB_CHECK_ARG(path && *path, "vdb_open: path is NULL or empty");
    vdb_options o;
    vdb_options_init(&o);
    if (opts) {
        VDB_CHECK_ARG(opts->struct_size >= offsetof(vdb_options, disable_io_uring),
                      "vdb_options.struct_size is %u: call vdb_options_init first",
                      opts->struct_size);
        memcpy(&o, opts, VDB_MIN(opts->struct_size, sizeof o));
        o.struct_size = sizeof o;
        vdb_status st = check_options(&o);
        if (st != VDB_OK)
            return st;
    }
    vdb_db *db = vdb_calloc(1, sizeof *db);
    if (!db)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    db->lock_fd = -1;
    db->opts = o;
    pthread_mutex_init(&db->id_mu, NULL);
    pthread_mutex_init(&db->pin_mu, NULL);
    vdb_catalog_init(&db->catalog);
    pthread_mutex_init(&db->bg_mu, NULL);
    pthread_cond_init(&db->bg_cv, NULL);
    pthread_mutex_init(&db->progress_mu, NULL);
    pthread_mutex_init(&db->idx_mu, NULL);
    pthread_cond_init(&db->idx_cv, NULL);
    pthread_mutex_init(&db->ticker_mu, NULL);
    pthread_cond_init(&db->ticker_cv, NULL);
    pthread_mutex_init(&db->hold_mu, NULL);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    uint32_t ncpu = cpus > 0 ? (uint32_t)cpus : 1;
    db->build_threads = o.index_build_threads ? o.index_build_threads : ncpu;
    uint32_t searchers = o.search_threads ? o.search_threads : ncpu;
    /* the pools come first: recovery queues the builds of indexes it could not load */
    vdb_status st = vdb_pool_new(o.index_build_workers ? o.index_build_workers : 1,
                                 "vdb-build", &db->builds);
    if (st == VDB_OK)
        st = vdb_pool_new(1, "vdb-seal", &db->seals);
    if (st == VDB_OK && searchers > 1)
        st = vdb_pool_new(searchers, "vdb-search", &db->search);
    db->path = vdb_strdup(path);
    if (st == VDB_OK && !db->path)
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    /* a reader takes no lock and creates nothing: the folder is the writer's */
    if (st == VDB_OK && !o.read_only)
        st = vdb_mkdirs(path);
    if (st == VDB_OK && !o.read_only)
        st = take_lock(db);
    bool fresh = false;
    if (st == VDB_OK)
        st = check_format(db, &fresh);
    if (st == VDB_OK && fresh && o.read_only)
        st = vdb_set_errmsg(VDB_ENOTFOUND, "%s holds no database (no FORMAT file): a reader "
                            "(options.read_only) opens one a writer created", path);
    if (st == VDB_OK)
        st = open_stores(db, fresh);
    if (st == VDB_OK && o.read_only) {
        st = vdb_follow_start(db);
        goto opened;
    }
    if (st == VDB_OK)
        st = vdb_ids_load(db);
    if (st == VDB_OK && o.mmap)
        st = vdb_mmap_cache_open(db);
    if (st == VDB_OK)
        st = vdb_recover(db);
    if (st == VDB_OK)
        st = vdb_load_databases(db);
    if (st == VDB_OK)
        st = vdb_load_rbac(db);
    if (st == VDB_OK)
        st = open_within_budget(db);
#ifdef __GLIBC__
    /* Loading freed as much as it kept (compressed objects, decode buffers): with mmap, when
     * resident memory is the point, the free pages between live blocks go back to the OS. */
    if (st == VDB_OK && db->seg_cache)
        malloc_trim(0);
#endif
    if (st == VDB_OK && (o.compaction_interval_ms || o.segment_idle_seal_ms)) {
        if (pthread_create(&db->bg, NULL, background, db) != 0)
            st = vdb_set_errmsg(VDB_EIO, "could not start the background thread");
        else
            db->bg_started = true;
    }
    if (st == VDB_OK && o.tick_interval_ms)
        st = vdb_ticker_start(db);
opened:
    if (st != VDB_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", vdb_err_get());
        vdb_close(db); /* may set messages of its own */
        return vdb_set_errmsg(st, "%s", msg);
    }
    db->recovered = true;
    *out = db;
    return VDB_OK;
}

void vdb_close(vdb_db *db)
{
    if (!db)
        return;
    vdb_ticker_stop(db);
    vdb_follow_stop(db);
    if (db->bg_started) {
        pthread_mutex_lock(&db->bg_mu);
        db->bg_stop = true;
        pthread_cond_signal(&db->bg_cv);
        pthread_mutex_unlock(&db->bg_mu);
        pthread_join(db->bg, NULL);
    }
    /* queued seals and builds are dropped (the rows are in the log; open queues the builds
     * again), running ones finish first */
    vdb_pool_free(db->seals);
    vdb_pool_free(db->builds);
    vdb_pool_free(db->search);
    if (db->recovered && !db->read_only) /* a failed open (or a reader) writes nothing */
        vdb_save_log_highwater(db);
    vdb_catalog_destroy(&db->catalog);
    vdb_seg_cache_close(db->seg_cache); /* after the segments, which release their maps */
    if (db->tso)
        vdb_tso_close(db->tso);
    vdb_log_store_close(&db->log);
    vdb_object_store_close(&db->obj);
    vdb_meta_store_close(&db->meta);
    if (db->lock_fd >= 0)
        close(db->lock_fd); /* releases the OFD lock */
    pthread_mutex_destroy(&db->id_mu);
    pthread_mutex_destroy(&db->pin_mu);
    vdb_free(db->pins);
    vdb_rbac_free(db->rbac);
    pthread_mutex_destroy(&db->bg_mu);
    pthread_cond_destroy(&db->bg_cv);
    pthread_mutex_destroy(&db->progress_mu);
    pthread_mutex_destroy(&db->idx_mu);
    pthread_cond_destroy(&db->idx_cv);
    pthread_mutex_destroy(&db->ticker_mu);
    pthread_cond_destroy(&db->ticker_cv);
    pthread_mutex_destroy(&db->hold_mu);
    vdb_free(db->path);
    vdb_free(db);
}

vdb_status vdb_now(vdb_db *db, uint64_t *ts)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && ts, "vdb_now: db or ts is NULL");
    return vdb_read_now(db, ts);
}

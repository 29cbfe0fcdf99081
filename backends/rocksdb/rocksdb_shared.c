/* The RocksDB backend's registry of open databases: one rocksdb_t per folder per process,
 * refcounted, opened with the options both the log and the meta store want. */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rocksdb_shared.h"

#define BLOCK_CACHE_BYTES (32u << 20)

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static vdb_rocksdb *reg_head;

/* mkdir -p; path is modified in place and restored. */
static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void destroy(vdb_rocksdb *r)
{
    if (r->db)
        rocksdb_close(r->db);
    if (r->secondary_dir) {
        nftw(r->secondary_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(r->secondary_dir);
    }
    if (r->ro)
        rocksdb_readoptions_destroy(r->ro);
    if (r->wo_sync)
        rocksdb_writeoptions_destroy(r->wo_sync);
    if (r->wo_nosync)
        rocksdb_writeoptions_destroy(r->wo_nosync);
    if (r->opts)
        rocksdb_options_destroy(r->opts);
    if (r->table)
        rocksdb_block_based_options_destroy(r->table);
    if (r->cache)
        rocksdb_cache_destroy(r->cache);
    pthread_mutex_destroy(&r->meta_mu);
    pthread_mutex_destroy(&r->catchup_mu);
    pthread_mutex_destroy(&r->log_mu);
    pthread_cond_destroy(&r->log_cv);
    pthread_cond_destroy(&r->tail_cv);
    for (int i = 0; i < VDB_ROCKSDB_CHAN_BUCKETS; i++) {
        while (r->chans[i]) {
            vdb_rocksdb_chan *c = r->chans[i];
            r->chans[i] = c->next;
            free(c);
        }
    }
    free(r->path);
    free(r);
}

static vdb_status open_db(vdb_rocksdb *r, const char *kind)
{
    r->cache = rocksdb_cache_create_lru(BLOCK_CACHE_BYTES);
    r->table = rocksdb_block_based_options_create();
    r->opts = rocksdb_options_create();
    r->ro = rocksdb_readoptions_create();
    r->wo_sync = rocksdb_writeoptions_create();
    r->wo_nosync = rocksdb_writeoptions_create();
    if (!r->cache || !r->table || !r->opts || !r->ro || !r->wo_sync || !r->wo_nosync)
        return vdb_set_errmsg(VDB_ENOMEM, "rocksdb %s %s: out of memory", kind, r->path);
    rocksdb_writeoptions_set_sync(r->wo_sync, 1);
    rocksdb_block_based_options_set_block_cache(r->table, r->cache);
    rocksdb_options_set_block_based_table_factory(r->opts, r->table);
    rocksdb_options_set_create_if_missing(r->opts, 1);
    /* lz4 for the upper levels (cheap), zstd at the bottom where most bytes rest; Debian's
     * librocksdb links both. */
    rocksdb_options_set_compression(r->opts, rocksdb_lz4_compression);
    rocksdb_options_set_bottommost_compression(r->opts, rocksdb_zstd_compression);
    rocksdb_options_increase_parallelism(r->opts, 2);
    rocksdb_options_set_max_open_files(r->opts, 512);
    rocksdb_options_set_keep_log_file_num(r->opts, 4);
    rocksdb_options_set_max_total_wal_size(r->opts, 256u << 20);
    char *err = NULL;
    if (r->secondary) {
        /* A secondary keeps every table file open, so that the primary's compactions cannot
         * take one from under it between two catch-ups. */
        rocksdb_options_set_max_open_files(r->opts, -1);
        rocksdb_options_set_create_if_missing(r->opts, 0);
        const char *tmp = getenv("TMPDIR");
        size_t n = strlen(tmp && *tmp ? tmp : "/tmp") + 40;
        r->secondary_dir = malloc(n);
        if (!r->secondary_dir)
            return vdb_set_errmsg(VDB_ENOMEM, "rocksdb %s %s: out of memory", kind, r->path);
        snprintf(r->secondary_dir, n, "%s/vdb-rocksdb-secondary-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(r->secondary_dir)) {
            vdb_status st = vdb_set_errmsg(VDB_EIO, "rocksdb %s %s: cannot make a folder for "
                                           "the secondary instance (%s): %s", kind, r->path,
                                           r->secondary_dir, strerror(errno));
            free(r->secondary_dir);
            r->secondary_dir = NULL;
            return st;
        }
        r->db = rocksdb_open_as_secondary(r->opts, r->path, r->secondary_dir, &err);
    } else {
        r->db = rocksdb_open(r->opts, r->path, &err);
    }
    if (!r->db) {
        vdb_status st = err && strstr(err, "lock") ? VDB_ELOCKED : VDB_EIO;
        vdb_set_errmsg(st, "rocksdb %s: cannot open %s%s: %s", kind, r->path,
                       r->secondary ? " as a secondary (read_only) instance" : "",
                       err ? err : "unknown error");
        free(err);
        return st;
    }
    return VDB_OK;
}

vdb_status vdb_rocksdb_catch_up(vdb_rocksdb *r)
{
    if (!r->secondary)
        return VDB_OK;
    char *err = NULL;
    pthread_mutex_lock(&r->catchup_mu);
    rocksdb_try_catch_up_with_primary(r->db, &err);
    pthread_mutex_unlock(&r->catchup_mu);
    if (!err)
        return VDB_OK;
    vdb_status st = vdb_set_errmsg(VDB_EIO, "rocksdb log %s: secondary instance cannot catch up "
                                   "with the primary: %s", r->path, err);
    free(err);
    return st;
}

vdb_status vdb_rocksdb_acquire(const char *uri, const char *kind, int read_only,
                               vdb_rocksdb **out)
{
    *out = NULL;
    const char *p = uri ? strstr(uri, "://") : NULL;
    if (!p || strncmp(uri, "rocksdb://", 10) != 0 || !p[3])
        return vdb_set_errmsg(VDB_EINVAL, "rocksdb %s: URI '%s' names no folder (expected "
                              "rocksdb:///abs/dir or rocksdb://./rel/dir)", kind,
                              uri ? uri : "(null)");
    char *dir = strdup(p + 3);
    if (!dir)
        return vdb_set_errmsg(VDB_ENOMEM, "rocksdb %s %s: out of memory", kind, uri);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        dir[--n] = '\0';
    if (!read_only && mkdirs(dir) != 0) {
        int e = errno;
        vdb_status st = vdb_set_errmsg(VDB_EIO, "rocksdb %s: cannot create folder %s: %s",
                                       kind, dir, strerror(e));
        free(dir);
        return st;
    }
    char *real = realpath(dir, NULL);
    if (!real) {
        int e = errno;
        vdb_status st = vdb_set_errmsg(VDB_EIO, "rocksdb %s: cannot resolve folder %s: %s",
                                       kind, dir, strerror(e));
        free(dir);
        return st;
    }
    free(dir);

    pthread_mutex_lock(&reg_mu);
    /* A writer needs the primary; a reader takes the primary if this process has one (it
     * sees every write at once), else a secondary. */
    vdb_rocksdb *found = NULL;
    for (vdb_rocksdb *r = reg_head; r; r = r->next)
        if (!strcmp(r->path, real) && !r->secondary)
            found = r;
    for (vdb_rocksdb *r = reg_head; r && read_only && !found; r = r->next)
        if (!strcmp(r->path, real))
            found = r;
    if (found) {
        found->refs++;
        pthread_mutex_unlock(&reg_mu);
        free(real);
        *out = found;
        return VDB_OK;
    }
    vdb_status st = VDB_OK;
    vdb_rocksdb *r = calloc(1, sizeof *r);
    if (!r) {
        free(real);
        pthread_mutex_unlock(&reg_mu);
        return vdb_set_errmsg(VDB_ENOMEM, "rocksdb %s %s: out of memory", kind, uri);
    }
    r->path = real;
    r->refs = 1;
    r->secondary = read_only;
    pthread_mutex_init(&r->meta_mu, NULL);
    pthread_mutex_init(&r->catchup_mu, NULL);
    pthread_mutex_init(&r->log_mu, NULL);
    pthread_cond_init(&r->log_cv, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->tail_cv, &ca);
    pthread_condattr_destroy(&ca);
    /* opened under the registry lock: a second opener of the same folder waits for this
     * one instead of failing on RocksDB's LOCK file */
    if ((st = open_db(r, kind)) != VDB_OK) {
        destroy(r);
        pthread_mutex_unlock(&reg_mu);
        return st;
    }
    r->next = reg_head;
    reg_head = r;
    pthread_mutex_unlock(&reg_mu);
    *out = r;
    return VDB_OK;
}

void vdb_rocksdb_release(vdb_rocksdb *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&reg_mu);
    int last = --r->refs == 0;
    if (last) {
        for (vdb_rocksdb **pp = &reg_head; *pp; pp = &(*pp)->next) {
            if (*pp == r) {
                *pp = r->next;
                break;
            }
        }
        /* closed under the registry lock so that a new opener of the folder waits for
         * RocksDB to let go of it */
        destroy(r);
    }
    pthread_mutex_unlock(&reg_mu);
}

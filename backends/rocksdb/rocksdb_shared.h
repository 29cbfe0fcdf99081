/* The RocksDB backend's shared part: one open RocksDB per folder per process, refcounted, so
 * that rocksdb:///dir as log and as meta at once share the database (RocksDB allows one open
 * per folder). The log and meta keys live apart under "l/" and "m/". A read_only log in a
 * process that does not have the folder open is a secondary instance (RocksDB's own mode for
 * following a primary in another process), with its private files in a temporary folder. */
#ifndef VDB_ROCKSDB_SHARED_H
#define VDB_ROCKSDB_SHARED_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <rocksdb/c.h>

#include "vdb/sys/log_backend.h"
#include "vdb/sys/meta_backend.h"

/* A log channel's state (under log_mu): the next position to hand out, and the last one
 * known written, which truncate never deletes (so that positions keep increasing after a
 * reopen: the next position is found from the last key). epoch counts drops. */
typedef struct vdb_rocksdb_chan {
    struct vdb_rocksdb_chan *next;
    uint64_t next_pos, last_written, epoch;
    char name[];
} vdb_rocksdb_chan;

/* One append/truncate/drop waiting for the group commit (see rocksdb_log.c). */
typedef struct vdb_rocksdb_req vdb_rocksdb_req;

#define VDB_ROCKSDB_CHAN_BUCKETS 256

typedef struct vdb_rocksdb {
    struct vdb_rocksdb *next; /* in the registry */
    char *path;               /* realpath of the folder: the registry key, with secondary */
    int refs;                 /* under the registry lock */
    int secondary;            /* opened with rocksdb_open_as_secondary: reads only */
    char *secondary_dir;      /* its own folder (info log), removed when closed */
    pthread_mutex_t catchup_mu; /* secondary: one try_catch_up_with_primary at a time */
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_block_based_table_options_t *table;
    rocksdb_cache_t *cache;
    rocksdb_readoptions_t *ro;
    rocksdb_writeoptions_t *wo_sync, *wo_nosync;

    /* meta: put, delete and txn serialize here, so a txn's checks and writes are atomic
     * against every other writer in the process (the folder's LOCK keeps other processes
     * out). Reads take no lock. */
    pthread_mutex_t meta_mu;

    /* log: channel positions and the group-commit queue, shared by every log instance on
     * this folder so two instances never hand out the same position. */
    pthread_mutex_t log_mu;
    pthread_cond_t log_cv;
    pthread_cond_t tail_cv; /* broadcast after each written group: subscriptions wait on it */
    vdb_rocksdb_chan *chans[VDB_ROCKSDB_CHAN_BUCKETS];
    vdb_rocksdb_req *q_head, *q_tail;
    int leader; /* a thread is writing a group */
} vdb_rocksdb;

/* Opens (or takes another reference to) the RocksDB of the folder named by uri
 * ("rocksdb:///abs/dir", "rocksdb://./rel"); creates the folder if needed. kind ("log",
 * "meta") is for error messages. read_only: the process's primary instance of the folder if
 * it has one, else a secondary instance (the folder must hold a database already). */
vdb_status vdb_rocksdb_acquire(const char *uri, const char *kind, int read_only,
                               vdb_rocksdb **out);
/* A secondary instance: catch up with what the primary has written so far. */
vdb_status vdb_rocksdb_catch_up(vdb_rocksdb *r);
/* Drops a reference; the last one closes the database. */
void vdb_rocksdb_release(vdb_rocksdb *r);

#endif

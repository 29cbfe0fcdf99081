/* The database handle: the options it was opened with, the three stores, the timestamp
 * oracle, the catalog, id allocation, the worker pools and the background thread. */
#ifndef VDB_CORE_DB_H
#define VDB_CORE_DB_H

#include <pthread.h>

#include "core/catalog.h"
#include "storage/storage.h"
#include "tso/tso.h"
#include "util/workers.h"

struct vdb_db {
    char *path;
    vdb_options opts;
    int lock_fd;
    vdb_log_store log;
    vdb_meta_store meta;
    vdb_object_store obj;
    vdb_tso *tso;
    bool recovered;            /* vdb_open succeeded: close records the log's high-water */
    struct vdb_seg_cache *seg_cache; /* options.mmap: the mmap cache (lib/segment) */

    pthread_mutex_t id_mu;     /* ids.c */
    uint64_t next_id, id_limit;

    vdb_catalog catalog;

    pthread_t bg;              /* background compaction */
    bool bg_started, bg_stop;
    pthread_mutex_t bg_mu;
    pthread_cond_t bg_cv;

    vdb_pool *seals;           /* background seals of full growing segments */
    vdb_pool *builds;          /* background vector-index builds */
    vdb_pool *search;          /* helpers of parallel searches (NULL: searches run inline) */
    uint32_t build_threads;    /* threads per build */
    pthread_mutex_t progress_mu; /* the user's progress callback: set, and one call at a time */
    vdb_index_progress_fn progress_fn;
    void *progress_arg;
    pthread_mutex_t idx_mu;    /* with idx_cv: waiting for index builds */
    pthread_cond_t idx_cv;
    uint64_t idx_events;       /* atomic: bumped when a build ends or an index comes or goes */

    pthread_t ticker;          /* time ticks (tick.c) */
    bool ticker_started, ticker_stop;
    pthread_mutex_t ticker_mu;
    pthread_cond_t ticker_cv;
    /* leaf lock: the open change streams' holds on the log (tick.c) and each shard's
     * trim_pos */
    pthread_mutex_t hold_mu;
    struct vdb_log_hold *holds;
    pthread_mutex_t pin_mu;    /* ids.c: the timestamps open iterators hold (a leaf lock) */
    uint64_t *pins;
    size_t npins, pins_cap;

    /* options.read_only: a reader (follow.c) */
    bool read_only;
    pthread_t follower;
    bool follow_started, follow_stop;
    pthread_mutex_t follow_mu;   /* one load at a time; taken before the catalog's lock */
    pthread_mutex_t follow_wait_mu; /* with follow_cv: the follower's sleep */
    pthread_cond_t follow_cv;
    uint64_t follow_gen, follow_seq; /* the meta store's position the state was loaded at */
    uint64_t follow_ts;          /* atomic: the newest timestamp the loaded state holds */
    uint64_t follow_loads;       /* atomic: states loaded so far */
    uint64_t follow_tails;       /* atomic: log tails applied to the loaded state so far */
    struct vdb_rbac *rbac;     /* users and roles (rbac.c) */
};

#endif

/* Worker pools: a fixed set of threads running queued jobs. The core keeps two, so that
 * searches never queue behind index builds: one for background index builds (jobs that can
 * be cancelled by owner) and one that helps a search run its segments in parallel
 * (vdb_pool_for). All functions are thread-safe. */
#ifndef VDB_WORKERS_H
#define VDB_WORKERS_H

#include <stdbool.h>
#include <stdint.h>

#include "vdb/types.h"

typedef struct vdb_job vdb_job;
struct vdb_job {
    void (*run)(vdb_job *job);               /* on a worker thread */
    /* Called exactly once: after run (ran = true), or instead of it when the job is
     * cancelled or the pool freed (ran = false). Frees the job. It must not touch what the
     * owner may free once vdb_pool_cancel returns: that is run's business. May be NULL. */
    void (*release)(vdb_job *job, bool ran);
    const void *owner;                       /* what vdb_pool_cancel matches on */
    vdb_job *next;
};

typedef struct vdb_pool vdb_pool;

/* A pool of threads (>= 1) named name (for debuggers). VDB_ENOMEM, VDB_EIO. */
vdb_status vdb_pool_new(uint32_t threads, const char *name, vdb_pool **out);
/* Releases the queued jobs unrun, waits for the running ones, joins the threads. */
void vdb_pool_free(vdb_pool *p);
uint32_t vdb_pool_threads(const vdb_pool *p);
/* Queues job (FIFO). */
void vdb_pool_submit(vdb_pool *p, vdb_job *job);
/* Releases unrun every queued job whose owner matches (NULL: every job), then waits until no
 * running job has that owner. The caller must not hold anything such a job's run takes. */
void vdb_pool_cancel(vdb_pool *p, const void *owner);

/* Runs fn(arg, i, slot) for every i in [0, n) on the calling thread and on up to `helpers`
 * pool threads, and returns when all have run. slot (0 for the caller, 1..helpers) names
 * the participant: two calls with the same slot never overlap, so per-slot scratch needs no
 * lock. The caller takes part, so this finishes even when the pool is busy. */
void vdb_pool_for(vdb_pool *p, size_t n, uint32_t helpers,
                  void (*fn)(void *arg, size_t i, uint32_t slot), void *arg);

#endif

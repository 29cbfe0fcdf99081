/* The lock order (docs/ARCHITECTURE.md), checked where it is cheap: in builds with assertions
 * each thread keeps the ranks of the locks it holds, and taking one whose rank is not above
 * every held one aborts with both names, as does I/O attempted under a lock that forbids it.
 * Without assertions (NDEBUG) these are the plain pthread calls. */
#ifndef VDB_LOCKORDER_H
#define VDB_LOCKORDER_H

#include <pthread.h>

/* Lower ranks are taken first. */
typedef enum vdb_lock_rank {
    VDB_RANK_CATALOG = 10, /* the catalog's collection list */
    VDB_RANK_SEAL = 20,    /* one shard's seal */
    VDB_RANK_WRITE = 30,   /* a collection's writers (write_mu) */
    VDB_RANK_COLL = 40,    /* a collection's readers-vs-changes lock (c->lock) */
} vdb_lock_rank;

#ifdef NDEBUG
static inline void vdb_lock_rd(pthread_rwlock_t *l, vdb_lock_rank r) { (void)r; pthread_rwlock_rdlock(l); }
static inline void vdb_lock_wr(pthread_rwlock_t *l, vdb_lock_rank r) { (void)r; pthread_rwlock_wrlock(l); }
static inline void vdb_unlock_rw(pthread_rwlock_t *l, vdb_lock_rank r) { (void)r; pthread_rwlock_unlock(l); }
static inline void vdb_lock_mu(pthread_mutex_t *m, vdb_lock_rank r) { (void)r; pthread_mutex_lock(m); }
static inline void vdb_unlock_mu(pthread_mutex_t *m, vdb_lock_rank r) { (void)r; pthread_mutex_unlock(m); }
static inline void vdb_lock_forbid_io(vdb_lock_rank r, const char *what) { (void)r; (void)what; }
#else
void vdb_lock_rd(pthread_rwlock_t *l, vdb_lock_rank r);
void vdb_lock_wr(pthread_rwlock_t *l, vdb_lock_rank r);
void vdb_unlock_rw(pthread_rwlock_t *l, vdb_lock_rank r);
void vdb_lock_mu(pthread_mutex_t *m, vdb_lock_rank r);
void vdb_unlock_mu(pthread_mutex_t *m, vdb_lock_rank r);
/* Aborts when the thread holds a lock of rank r or above: what (meta-store or object-store
 * I/O, say) must not run under it. */
void vdb_lock_forbid_io(vdb_lock_rank r, const char *what);
#endif

#endif

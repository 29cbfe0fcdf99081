/* The per-thread record of held lock ranks behind the lock-order checks (builds with
 * assertions only). */
#ifndef NDEBUG
#include <stdio.h>
#include <stdlib.h>

#include "util/lockorder.h"

#define MAX_HELD 16

static _Thread_local vdb_lock_rank held[MAX_HELD];
static _Thread_local int nheld;

static const char *rank_name(vdb_lock_rank r)
{
    switch (r) {
    case VDB_RANK_CATALOG: return "the catalog lock";
    case VDB_RANK_SEAL: return "a shard's seal lock";
    case VDB_RANK_WRITE: return "a collection's write_mu";
    case VDB_RANK_COLL: return "a collection's lock";
    }
    return "a lock";
}

static void take(vdb_lock_rank r)
{
    for (int i = 0; i < nheld; i++)
        /* several shards' seal locks may be held, taken in shard order (addfield.c) */
        if (held[i] > r || (held[i] == r && r != VDB_RANK_SEAL)) {
            fprintf(stderr, "libvdb: lock order violated: taking %s while holding %s "
                    "(docs/ARCHITECTURE.md)\n", rank_name(r), rank_name(held[i]));
            abort();
        }
    if (nheld < MAX_HELD)
        held[nheld++] = r;
}

static void drop(vdb_lock_rank r)
{
    for (int i = nheld; i-- > 0;)
        if (held[i] == r) {
            held[i] = held[--nheld];
            return;
        }
}

void vdb_lock_rd(pthread_rwlock_t *l, vdb_lock_rank r)
{
    take(r);
    pthread_rwlock_rdlock(l);
}

void vdb_lock_wr(pthread_rwlock_t *l, vdb_lock_rank r)
{
    take(r);
    pthread_rwlock_wrlock(l);
}

void vdb_unlock_rw(pthread_rwlock_t *l, vdb_lock_rank r)
{
    pthread_rwlock_unlock(l);
    drop(r);
}

void vdb_lock_mu(pthread_mutex_t *m, vdb_lock_rank r)
{
    take(r);
    pthread_mutex_lock(m);
}

void vdb_unlock_mu(pthread_mutex_t *m, vdb_lock_rank r)
{
    pthread_mutex_unlock(m);
    drop(r);
}

void vdb_lock_forbid_io(vdb_lock_rank r, const char *what)
{
    for (int i = 0; i < nheld; i++)
        /* several shards' seal locks may be held, taken in shard order (addfield.c) */
        if (held[i] > r || (held[i] == r && r != VDB_RANK_SEAL)) {
            fprintf(stderr, "libvdb: %s while holding %s (docs/ARCHITECTURE.md)\n", what,
                    rank_name(held[i]));
            abort();
        }
}
#endif

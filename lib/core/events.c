/* Waiting for background work: an event counter and a condition variable. */
#include <time.h>

#include "core/events.h"

void vdb_events_notify(vdb_db *db)
{
    __atomic_add_fetch(&db->idx_events, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&db->idx_mu);
    pthread_cond_broadcast(&db->idx_cv);
    pthread_mutex_unlock(&db->idx_mu);
}

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

vdb_status vdb_events_wait(vdb_db *db, uint64_t timeout_ms, vdb_status (*look)(void *arg),
                           void *arg)
{
    uint64_t start = mono_ms();
    uint64_t deadline = timeout_ms > UINT64_MAX - start ? UINT64_MAX : start + timeout_ms;
    for (;;) {
        /* read the event count before looking, so an event after the look wakes us */
        uint64_t ev = __atomic_load_n(&db->idx_events, __ATOMIC_ACQUIRE);
        vdb_status st = look(arg);
        if (st != VDB_ETIMEDOUT)
            return st;
        uint64_t now = mono_ms();
        if (now >= deadline)
            return st;
        /* at most 200 ms at a time (the condition variable's clock is the realtime one) */
        uint64_t step = VDB_MIN(deadline - now, 200);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + step * 1000000u;
        until.tv_sec += (time_t)(ns / 1000000000u);
        until.tv_nsec = (long)(ns % 1000000000u);
        pthread_mutex_lock(&db->idx_mu);
        while (__atomic_load_n(&db->idx_events, __ATOMIC_ACQUIRE) == ev)
            if (pthread_cond_timedwait(&db->idx_cv, &db->idx_mu, &until) != 0)
                break;
        pthread_mutex_unlock(&db->idx_mu);
    }
}

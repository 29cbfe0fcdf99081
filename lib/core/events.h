/* Background work that callers can wait for (index builds, seals): a counter bumped with a
 * broadcast whenever such work ends or changes, and one wait loop over it (events.c). */
#ifndef VDB_CORE_EVENTS_H
#define VDB_CORE_EVENTS_H

#include "core/db.h"

/* Tells waiters to look again. Thread-safe; takes no collection lock. */
void vdb_events_notify(vdb_db *db);
/* Calls look until it returns anything but VDB_ETIMEDOUT (returned), or timeout_ms has passed
 * (then look's VDB_ETIMEDOUT with its message). Waits between looks for an event, at most
 * 200 ms at a time. timeout_ms 0 looks once; UINT64_MAX waits for ever. */
vdb_status vdb_events_wait(vdb_db *db, uint64_t timeout_ms, vdb_status (*look)(void *arg),
                           void *arg);

#endif

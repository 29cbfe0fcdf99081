/* The timestamp oracle: hybrid timestamps (physical ms << 18 | logical counter), strictly
 * increasing within a process and across restarts. Like Milvus, it persists a reserved
 * window (a physical time up to which timestamps may have been handed out) in the meta
 * store and, after a restart, starts above it. All functions are thread-safe. */
#ifndef VDB_TSO_H
#define VDB_TSO_H

#include "util/util.h"
#include "vdb/sys/meta_backend.h"

#define VDB_TS_LOGICAL_BITS 18
#define VDB_TS_LOGICAL_MASK ((UINT64_C(1) << VDB_TS_LOGICAL_BITS) - 1)

static inline uint64_t vdb_ts_make(uint64_t physical_ms, uint64_t logical)
{
    return (physical_ms << VDB_TS_LOGICAL_BITS) | (logical & VDB_TS_LOGICAL_MASK);
}
static inline uint64_t vdb_ts_physical(uint64_t ts) { return ts >> VDB_TS_LOGICAL_BITS; }
static inline uint64_t vdb_ts_logical(uint64_t ts) { return ts & VDB_TS_LOGICAL_MASK; }

typedef struct vdb_tso vdb_tso;

/* Opens the oracle over a meta store, keeping its window under key. window_ms is how far
 * ahead of the clock a reservation reaches (0: 3000 ms). */
vdb_status vdb_tso_open(const vdb_meta_backend *be, void *meta, const char *key,
                        uint64_t window_ms, vdb_tso **out);
void vdb_tso_close(vdb_tso *tso);
/* A fresh timestamp, greater than every one handed out before (also before a restart). */
vdb_status vdb_tso_next(vdb_tso *tso, uint64_t *ts);
/* The largest timestamp handed out so far (0 if none). */
uint64_t vdb_tso_last(vdb_tso *tso);

#endif

/* The log module: the local write-ahead log backend (scheme "wal") and the encoding of the
 * records the database writes to its channels (insert, delete, DDL). */
#ifndef VDB_LOG_H
#define VDB_LOG_H

#include "core/util.h"

/* The local WAL: wal://<folder>. One sub-folder per channel holding numbered segment files
 * of framed records ([u32 length][u32 crc32c(pos + payload)][u64 position][payload]);
 * group commit of concurrent appends; fsync per vdb_sync_mode; io_uring on the write path
 * with a pwrite fallback. On a channel's first use, a torn or corrupt tail of its last file
 * is cut off (it was never acknowledged); corruption before the tail is reported as
 * VDB_ECORRUPT by read. */
extern const vdb_log_backend vdb_wal_backend;

/* For tests and benchmarks: which write path an open WAL uses ("io_uring" or "pwrite"). */
const char *vdb_wal_write_path(void *wal);

/* ---- records ---- */
typedef enum vdb_rec_type {
    VDB_REC_INSERT = 1, /* body: encoded columns of a batch part */
    VDB_REC_DELETE = 2, /* body: encoded primary key column */
    VDB_REC_DDL = 3,    /* body: a DDL description (core/catalog) */
    VDB_REC_ABORT = 4,  /* no body: the torn write stamped ts is void in this channel */
} vdb_rec_type;

enum {
    VDB_REC_FLAG_UPSERT = 1, /* INSERT: delete the same keys at the same ts first */
};

typedef struct vdb_rec_header {
    uint8_t type;           /* vdb_rec_type */
    uint8_t flags;
    uint16_t parts;         /* how many channels got a part of this write (>= 1) */
    uint32_t shard;
    uint64_t ts;
    uint64_t collection_id;
    uint64_t partition_id;  /* 0: every partition (deletes) */
} vdb_rec_header;

/* Appends header + body to out (a fresh or reused buffer). */
void vdb_rec_encode(const vdb_rec_header *h, const void *body, size_t len, vdb_buf *out);
/* Parses a record; VDB_ECORRUPT with a message when it is malformed. body points into rec. */
vdb_status vdb_rec_decode(const void *rec, size_t len, vdb_rec_header *h, const void **body,
                          size_t *body_len);

#endif

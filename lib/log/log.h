/* The log module: the encoding of the records the database writes to its channels (insert,
 * delete, DDL, abort, time tick). The channels themselves are a log backend (lib/storage,
 * backends/). */
#ifndef VDB_LOG_H
#define VDB_LOG_H

#include "util/util.h"

/* ---- records ---- */
typedef enum vdb_rec_type {
    VDB_REC_INSERT = 1, /* body: encoded columns of a batch part */
    VDB_REC_DELETE = 2, /* body: encoded primary key column */
    VDB_REC_DDL = 3,    /* body: a DDL description (core/catalog) */
    VDB_REC_ABORT = 4,  /* no body: the torn write stamped ts is void in this channel */
    VDB_REC_TICK = 5,   /* no body: a time tick; no write to the channel will have a smaller
                           ts (core/tick.c); replay skips it, subscribers see it */
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

/* Inside the local WAL: the segment file format (wal_seg.c), the write path (wal_io.c) and the
 * hooks tests use to make segments small and writes fail. Only lib/storage/wal*.c and tests include
 * this; everyone else goes through log.h. */
#ifndef VDB_WAL_INTERNAL_H
#define VDB_WAL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/util.h"

/* ---- segment files ----------------------------------------------------------------------
 * A channel folder holds files named by the position of their first record
 * (00000000000000000001.log). Each record is one frame:
 *   [u32 payload length][u32 crc32c(position u64 LE + payload)][u64 position][payload]
 * all little-endian, so a frame proves its own place in the channel. */

#define WAL_FRAME_HEADER 16u
#define WAL_MAX_RECORD ((size_t)1 << 30)
#define WAL_SEG_NAME_LEN 24 /* 20 digits + ".log" */
#define WAL_DEFAULT_SEGMENT_BYTES ((uint64_t)64 << 20)

/* Writes the frame header of a record at pos into hdr. */
void wal_frame_header(uint8_t hdr[WAL_FRAME_HEADER], uint64_t pos, const void *rec, size_t len);

/* name gets "<20-digit pos>.log" (buffer of WAL_SEG_NAME_LEN + 1). */
void wal_seg_name(char name[WAL_SEG_NAME_LEN + 1], uint64_t first);
/* Parses a segment file name; false for anything else in the folder. */
bool wal_seg_parse_name(const char *name, uint64_t *first);

/* The first positions of the segment files in dir, ascending (malloc'ed via vdb_malloc; NULL
 * with n = 0 when there are none). A missing folder is no files. */
vdb_status wal_seg_list(const char *dir, uint64_t **firsts, size_t *n);

/* Walks the frames of one segment file. Not thread-safe; one per reading thread. */
typedef struct wal_seg_reader {
    int fd;
    const char *path; /* for messages */
    uint64_t limit;   /* bytes of the file that count (the rest is ignored) */
    uint64_t off;     /* where the next frame starts */
    uint64_t expect;  /* the position the next frame must carry */
    uint8_t *buf;     /* read window over the file */
    size_t cap, win_len;
    uint64_t win_off;
} wal_seg_reader;

typedef enum wal_frame_kind {
    WAL_FRAME_REC = 0, /* a good record; off and expect moved past it */
    WAL_FRAME_END = 1, /* off == limit */
    WAL_FRAME_BAD = 2, /* a short, torn or corrupt frame starts at off; why says which */
} wal_frame_kind;

/* Points the reader at fd (the caller owns fd); frames start at offset 0 with position first.
 * buf is kept across calls so one reader can walk several files. */
void wal_seg_reader_reset(wal_seg_reader *r, int fd, const char *path, uint64_t limit,
                          uint64_t first);
void wal_seg_reader_free(wal_seg_reader *r);
/* The next frame. On WAL_FRAME_REC, rec and len point into the reader's buffer until the next
 * call and *pos is its position. A failed read of the file is VDB_EIO. */
vdb_status wal_seg_next(wal_seg_reader *r, wal_frame_kind *kind, uint64_t *pos,
                        const void **rec, size_t *len, const char **why);

/* After WAL_FRAME_BAD: whether a whole valid frame with a later position follows somewhere in
 * the file (then the bad frame is corruption, not a torn tail). Moves the read window. */
bool wal_seg_valid_frame_after(wal_seg_reader *r);

/* ---- the write path ---------------------------------------------------------------------- */

typedef struct wal_io wal_io;

/* io_uring unless disabled or io_uring_queue_init fails; then pwrite. Thread-safe after open. */
vdb_status wal_io_open(bool disable_io_uring, wal_io **out);
void wal_io_close(wal_io *io);
const char *wal_io_name(const wal_io *io); /* "io_uring" or "pwrite" */
/* Writes all bytes of iov[0..n) at off in fd, then fdatasync when datasync (linked to the write
 * in the same io_uring submission). Consumes iov (entries are advanced on short writes).
 * Short writes are continued; an error or a write that makes no progress is VDB_EIO. */
vdb_status wal_io_write(wal_io *io, int fd, uint64_t off, struct iovec *iov, size_t n,
                        bool datasync, const char *path);

/* ---- test hooks ---------------------------------------------------------------------------- */

/* Segment roll size for WALs opened after the call (0 restores 64 MiB). */
void vdb_wal_set_segment_bytes(uint64_t bytes);
uint64_t vdb_wal_segment_bytes(void);
/* The nth write operation from now (1 = the next) writes only its first iovec and then fails
 * with an injected I/O error, leaving a partial frame on disk. 0 turns it off. */
void vdb_wal_fault_write_after(uint64_t nth);

#endif

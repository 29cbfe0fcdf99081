/* Inside the local WAL: the segment file format (wal_seg.c), the write path (wal_io.c), the
 * commit marker that other processes follow (wal_mark.c), the channel state shared by the
 * appenders (wal.c) and the subscriptions (wal_tail.c), and the hooks tests use to make
 * segments small and writes fail. Only lib/storage/wal*.c and tests include this; everyone
 * else goes through the log vtable (storage.h). */
#ifndef VDB_WAL_INTERNAL_H
#define VDB_WAL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "storage/storage.h"

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
    /* After WAL_FRAME_BAD: the length the bad frame's header claims (UINT64_MAX when the
     * header is short or its length is beyond the limit), and whether the file ends inside
     * the frame it claims. wal_seg_bad_is_torn uses them. */
    uint64_t bad_len;
    bool bad_short;
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

/* After WAL_FRAME_BAD: *torn gets whether the bad frame looks like a torn write, by the rule
 * in wal_seg.c (the file ends inside the frame, or the file is zero from a 512-byte boundary
 * inside the frame to its end); false: the frame is whole but wrong, which is damage. A
 * failed read is VDB_EIO (VDB_ENOMEM without memory). Moves the read window. */
vdb_status wal_seg_bad_is_torn(wal_seg_reader *r, bool *torn);

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

/* ---- the commit marker (wal_mark.c) --------------------------------------------------------
 * Each channel folder holds COMMIT: one page that the writer and any reading process map
 * shared. After every successful write the writer stores there the position the next record
 * will get (every record below it is whole on disk and acknowledged), then bumps a counter
 * and, if a reader counts itself as waiting, wakes the futex waiters on it. Readers change
 * nothing but that count: they never write to the segment files and never make the writer
 * wait. A reader in another process therefore never reads a frame being written, nor one of
 * a failed write that the writer cuts back. The marker is a hint, rebuilt by the writer
 * whenever it opens the channel; a drop marks it dropped before the folder goes, so that
 * readers stop. */

#define WAL_MARK_NAME "COMMIT"
#define WAL_MARK_POLL_MS 10 /* a reader that may not write the marker looks this often */

typedef struct wal_mark {
    int fd;                      /* -1: none */
    struct wal_mark_page *page;  /* the shared mapping */
    bool can_wait;               /* mapped writable: may count itself a waiter and sleep */
} wal_mark;

typedef struct wal_mark_state {
    uint64_t next;   /* records below this position are committed */
    uint32_t seq;    /* bumped on every change; what wal_mark_wait waits on */
    bool dropped;    /* the writer dropped the channel */
} wal_mark_state;

#define WAL_MARK_NONE ((wal_mark){.fd = -1, .page = NULL, .can_wait = false})

/* Writer: maps the folder's marker (a dropped or damaged one is replaced by a fresh file;
 * readers of the old one see it dropped) and publishes next. */
vdb_status wal_mark_create(const char *dir, uint64_t next, wal_mark *m);
/* Reader: maps the folder's marker (writable when it may, to count itself a waiter); *found
 * false (VDB_OK) when there is none yet or it is not whole. */
vdb_status wal_mark_attach(const char *dir, wal_mark *m, bool *found);
/* Whether dir's marker is still the file m maps (the writer may have replaced it). */
bool wal_mark_current(const char *dir, const wal_mark *m);
void wal_mark_close(wal_mark *m);
void wal_mark_publish(wal_mark *m, uint64_t next);
void wal_mark_set_dropped(wal_mark *m);
wal_mark_state wal_mark_load(const wal_mark *m);

/* The channel's bounds, kept in the marker for the writer's next open (wal.c says how they
 * are used): every record in [low, durable) is durable on disk and must be in the files.
 * durable only moves after the fdatasync that made the records durable, and low (the first
 * file truncate kept) moves before truncate removes a file, so the page never claims more
 * than the files hold, whenever the kernel writes it back. A check word makes a torn or
 * damaged page (or one written before the bounds existed) read as no bounds. */
void wal_mark_set_bounds(wal_mark *m, uint64_t durable, uint64_t low);
/* Writes the marker page to disk (msync); an error is ignored: the bounds are a check. */
void wal_mark_sync(wal_mark *m);
/* Reads the bounds of dir's marker without mapping it: false when there is no marker, it is
 * not whole, it was dropped, or its bounds do not check. */
bool wal_mark_peek_bounds(const char *dir, uint64_t *durable, uint64_t *low);
/* Waits until the counter differs from seq or the CLOCK_MONOTONIC time deadline_ns passes
 * (spurious returns are possible: callers look again). */
void wal_mark_wait(const wal_mark *m, uint32_t seq, uint64_t deadline_ns);

/* ---- the WAL's state (wal.c) ---------------------------------------------------------------- */

/* One append waiting to be written. It lives on its caller's stack; the leader that writes it
 * fills pos/st/msg and then sets done under the channel lock. */
typedef struct waiter {
    struct waiter *next;
    const void *rec;
    size_t len;
    uint64_t pos;
    vdb_status st;
    bool done;
    uint8_t hdr[WAL_FRAME_HEADER];
    char msg[512]; /* the leader's error message, handed to this appender's thread */
} waiter;

/* A channel. Fields marked (mu) are read and written under mu. fd, mark, tail_off, next_pos,
 * segs and cur_path change only in the leader (which publishes them under mu), or under mu
 * while there is no leader (first use, drop), so the leader reads them without the lock. */
typedef struct chan {
    struct chan *hnext; /* hash chain (wal.mu) */
    char *name;
    char *dir;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool opened;         /* (mu) the folder has been scanned */
    bool leader;         /* (mu) a thread is writing a batch */
    waiter *pending;     /* (mu) appends queued for the next leader */
    waiter *pending_tail;
    uint64_t *segs;      /* (mu) first positions of the segment files, ascending */
    size_t nsegs, segcap;
    int fd;              /* the last segment, -1 before the first append */
    char *cur_path;      /* its path */
    uint64_t tail_off;   /* end of the last good frame in the last segment */
    uint64_t next_pos;   /* the position the next record gets */
    bool dirty;          /* (mu) BATCH: written since the last background fdatasync */
    int sync_errno;      /* (mu) BATCH: a background fdatasync failed; the next append says so */
    bool broken;         /* (mu) a failed write could not be cut back; appends are refused */
    char broken_msg[512];
    uint64_t durable;    /* (mu) the marker's bounds: records in [low, durable) are durable */
    uint64_t low;
    uint64_t torn_tails; /* (mu) torn tails cut since the WAL opened */
    bool cut_pending;    /* the last file has a torn tail after tail_off, cut before the next
                            write (set at open, cleared by the leader) */
    pthread_cond_t tail_cv; /* (mu) broadcast when next_pos moves or the channel is dropped */
    uint64_t epoch;      /* (mu) drops so far: a subscription from before a drop ends */
    wal_mark mark;       /* like fd: the folder's commit marker, for readers elsewhere */
    struct iovec *iov;   /* leader's scratch */
    size_t iovcap;
} chan;

typedef struct wal {
    char *root;
    bool read_only;     /* opt->read_only: follows a writer (maybe elsewhere) through markers */
    vdb_sync_mode sync;
    uint32_t interval_ms;
    uint64_t seg_bytes;
    wal_io *io;
    pthread_mutex_t mu; /* the channel table */
    chan **buckets;
    size_t nbuckets, nchans;
    pthread_mutex_t bg_mu;
    pthread_cond_t bg_cv;
    bool bg_stop;
    bool bg_started;
    pthread_t bg;
} wal;


/* The methods of the writer's instance (a read_only one refuses the writes). */
vdb_status wal_open(const char *uri, const vdb_backend_options *opt, void **out);
void wal_close(void *log);
vdb_status wal_append(void *log, const char *channel, const void *rec, size_t len,
                      uint64_t *pos);
/* read() of the writer's instance: scans the files (cutting a torn tail on first use). */
vdb_status wal_read(void *log, const char *channel, uint64_t from, vdb_log_read_fn fn,
                    void *arg);
vdb_status wal_truncate(void *log, const char *channel, uint64_t upto);
vdb_status wal_drop(void *log, const char *channel);

/* Lists and scans a channel for the writer: its files, and a torn tail cut (c->mu held). */
vdb_status wal_chan_open_locked(wal *w, chan *c);
/* The channel named name, made (not yet opened) on first use. */
vdb_status wal_get_chan(wal *w, const char *name, chan **out);
vdb_status wal_check_channel(const char *name);

/* ---- subscriptions, and reading as a read_only instance (wal_tail.c) ------------------------ */

vdb_status wal_last_pos(void *log, const char *channel, uint64_t *pos);
vdb_status wal_subscribe(void *log, const char *channel, uint64_t from, void **sub);
vdb_status wal_poll(void *sub, uint64_t timeout_ms, vdb_log_read_fn fn, void *arg);
void wal_unsubscribe(void *sub);
/* read() of a read_only instance: the records below the marker's position. */
vdb_status wal_read_committed(wal *w, const char *channel, uint64_t from, vdb_log_read_fn fn,
                              void *arg);

/* ---- test hooks ---------------------------------------------------------------------------- */

/* Segment roll size for WALs opened after the call (0 restores 64 MiB). */
void vdb_wal_set_segment_bytes(uint64_t bytes);
uint64_t vdb_wal_segment_bytes(void);
/* How often a read_only subscriber waiting on a marker checks that the writer did not put a
 * new one in its place (0 restores 1000 ms). Tests set it high to see that wake-ups alone
 * keep a follower going. */
void vdb_wal_set_follower_recheck_ms(uint32_t ms);
/* Readers attaching to a marker after the call map it read-only, as one without write
 * permission on it does (and so look every WAL_MARK_POLL_MS instead of sleeping). */
void vdb_wal_set_marker_read_only(bool on);
/* The nth write operation from now (1 = the next) writes only its first iovec and then fails
 * with an injected I/O error, leaving a partial frame on disk. 0 turns it off. */
void vdb_wal_fault_write_after(uint64_t nth);

#endif

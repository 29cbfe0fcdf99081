/* The WAL write path: a write of a batch of frames at a file offset plus fdatasync, through
 * io_uring (write linked to fdatasync in one submission) or plain pwritev + fdatasync. A build
 * without liburing (meson -Dio_uring=disabled) has only the second. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <unistd.h>

#include "storage/wal_internal.h"

/* One ring serves one writer at a time; channels whose leaders write at the same moment each
 * take a ring from the pool, so the pool grows to the number of concurrently writing channels,
 * up to this bound, after which writers wait for a free ring. */
#ifdef VDB_HAVE_URING
#include <liburing.h>
#else
/* Stands in for the ring in the signatures below; never allocated. */
struct io_uring {
    int unused;
};
#endif

#define MAX_RINGS 16
#define RING_DEPTH 8
#define MAX_IOV 1024 /* UIO_MAXIOV: the kernel refuses longer vectors */

enum { TAG_WRITE = 1, TAG_SYNC = 2 };

typedef struct wal_ring {
    struct io_uring ring;
    struct wal_ring *next;
} wal_ring;

struct wal_io {
    bool use_uring;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    wal_ring *free_rings;
    unsigned nrings;
};

/* Tests: the nth WAL write from now fails, leaving half a frame behind (the fault layer). */
void vdb_wal_fault_write_after(uint64_t nth) { vdb_fault_arm(VDB_FAULT_WRITE, nth, EIO, false); }

static wal_ring *ring_new(void)
{
#ifdef VDB_HAVE_URING
    wal_ring *r = vdb_calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (io_uring_queue_init(RING_DEPTH, &r->ring, 0) < 0) {
        vdb_free(r);
        return NULL;
    }
    return r;
#else
    return NULL; /* built without io_uring: the pwrite path */
#endif
}

static void ring_free(wal_ring *r)
{
#ifdef VDB_HAVE_URING
    io_uring_queue_exit(&r->ring);
#endif
    vdb_free(r);
}

vdb_status wal_io_open(bool disable_io_uring, wal_io **out)
{
    wal_io *io = vdb_calloc(1, sizeof *io);
    if (!io)
        return vdb_set_errmsg(VDB_ENOMEM, "wal: out of memory");
    if (pthread_mutex_init(&io->mu, NULL) != 0) {
        vdb_free(io);
        return vdb_set_errmsg(VDB_EIO, "wal: pthread_mutex_init failed");
    }
    if (pthread_cond_init(&io->cv, NULL) != 0) {
        pthread_mutex_destroy(&io->mu);
        vdb_free(io);
        return vdb_set_errmsg(VDB_EIO, "wal: pthread_cond_init failed");
    }
    if (!disable_io_uring) {
        /* A kernel without io_uring (or one that forbids it, as some containers do) is the
         * documented reason for the pwrite path; vdb_wal_write_path() tells which one runs. */
        io->free_rings = ring_new();
        if (io->free_rings) {
            io->use_uring = true;
            io->nrings = 1;
        }
    }
    *out = io;
    return VDB_OK;
}

void wal_io_close(wal_io *io)
{
    if (!io)
        return;
    while (io->free_rings) {
        wal_ring *r = io->free_rings;
        io->free_rings = r->next;
        ring_free(r);
    }
    pthread_cond_destroy(&io->cv);
    pthread_mutex_destroy(&io->mu);
    vdb_free(io);
}

const char *wal_io_name(const wal_io *io) { return io->use_uring ? "io_uring" : "pwrite"; }

static wal_ring *ring_take(wal_io *io)
{
    pthread_mutex_lock(&io->mu);
    for (;;) {
        if (io->free_rings) {
            wal_ring *r = io->free_rings;
            io->free_rings = r->next;
            pthread_mutex_unlock(&io->mu);
            return r;
        }
        if (io->nrings < MAX_RINGS) {
            wal_ring *r = ring_new();
            if (r) {
                io->nrings++;
                pthread_mutex_unlock(&io->mu);
                return r;
            }
            if (io->nrings == 0) {
                /* Nobody holds a ring that could come back. */
                pthread_mutex_unlock(&io->mu);
                return NULL;
            }
        }
        /* At the bound (or out of ring resources): wait for a writer to give one back. */
        pthread_cond_wait(&io->cv, &io->mu);
    }
}

static void ring_give(wal_io *io, wal_ring *r)
{
    pthread_mutex_lock(&io->mu);
    r->next = io->free_rings;
    io->free_rings = r;
    pthread_cond_signal(&io->cv);
    pthread_mutex_unlock(&io->mu);
}

/* A ring whose submission failed may hold queued entries; it is not reused. */
static void ring_discard(wal_io *io, wal_ring *r)
{
    ring_free(r);
    pthread_mutex_lock(&io->mu);
    io->nrings--;
    pthread_cond_signal(&io->cv);
    pthread_mutex_unlock(&io->mu);
}

#ifdef VDB_HAVE_URING
/* One writev at off (and a linked fdatasync when sync). *wrote gets the write's result (bytes
 * or -errno); *synced tells whether the fdatasync ran and succeeded; a failed fdatasync is an
 * error. */
static vdb_status uring_write(wal_io *io, wal_ring *r, int fd, uint64_t off,
                              const struct iovec *iov, unsigned n, bool sync, ssize_t *wrote,
                              bool *synced, bool *discard, const char *path)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (!sqe)
        return vdb_set_errmsg(VDB_EIO, "wal: io_uring submission queue full writing %s", path);
    io_uring_prep_writev(sqe, fd, iov, n, off);
    io_uring_sqe_set_data64(sqe, TAG_WRITE);
    unsigned nsqe = 1;
    if (sync) {
        sqe->flags |= IOSQE_IO_LINK;
        struct io_uring_sqe *s2 = io_uring_get_sqe(&r->ring);
        if (!s2) {
            *discard = true;
            return vdb_set_errmsg(VDB_EIO, "wal: io_uring submission queue full writing %s",
                                  path);
        }
        io_uring_prep_fsync(s2, fd, IORING_FSYNC_DATASYNC);
        io_uring_sqe_set_data64(s2, TAG_SYNC);
        nsqe = 2;
    }
    unsigned submitted = 0;
    vdb_status st = VDB_OK;
    while (submitted < nsqe) {
        /* Submit and wait in one system call; completions are reaped below. */
        int rc = io_uring_submit_and_wait(&r->ring, nsqe - submitted);
        if (rc == -EINTR || rc == -EAGAIN)
            continue;
        if (rc < 0) {
            *discard = true;
            st = vdb_set_errmsg(VDB_EIO, "wal: io_uring_submit writing %s: %s", path,
                                strerror(-rc));
            break;
        }
        if (rc == 0) {
            *discard = true;
            st = vdb_set_errmsg(VDB_EIO, "wal: io_uring_submit writing %s took nothing", path);
            break;
        }
        submitted += (unsigned)rc;
    }
    /* Reap whatever went in, even after an error, so the iovecs are no longer in use. */
    int sync_res = -ECANCELED;
    *wrote = -ECANCELED;
    for (unsigned i = 0; i < submitted; i++) {
        struct io_uring_cqe *cqe;
        int rc;
        do
            rc = io_uring_wait_cqe(&r->ring, &cqe);
        while (rc == -EINTR);
        if (rc < 0) {
            *discard = true;
            return vdb_set_errmsg(VDB_EIO, "wal: io_uring_wait_cqe writing %s: %s", path,
                                  strerror(-rc));
        }
        if (io_uring_cqe_get_data64(cqe) == TAG_WRITE)
            *wrote = cqe->res;
        else
            sync_res = cqe->res;
        io_uring_cqe_seen(&r->ring, cqe);
    }
    if (st != VDB_OK)
        return st;
    *synced = false;
    if (sync && *wrote >= 0) {
        /* A short write cancels the linked sync (the caller syncs after the rest is written). */
        if (sync_res < 0 && sync_res != -ECANCELED)
            return vdb_set_errmsg(VDB_EIO, "wal: fdatasync %s: %s", path, strerror(-sync_res));
        *synced = sync_res >= 0;
    }
    return VDB_OK;
}

#else
static vdb_status uring_write(wal_io *io, wal_ring *r, int fd, uint64_t off,
                              const struct iovec *iov, unsigned n, bool sync, ssize_t *wrote,
                              bool *synced, bool *discard, const char *path)
{
    return vdb_set_errmsg(VDB_EIO, "wal: writing %s: built without io_uring", path);
}
#endif

/* Advances iov[*i..] past done bytes. */
static void iov_consume(struct iovec *iov, size_t n, size_t *i, size_t done)
{
    while (done > 0 && *i < n) {
        if (done >= iov[*i].iov_len) {
            done -= iov[*i].iov_len;
            (*i)++;
        } else {
            iov[*i].iov_base = (char *)iov[*i].iov_base + done;
            iov[*i].iov_len -= done;
            done = 0;
        }
    }
    while (*i < n && iov[*i].iov_len == 0)
        (*i)++;
}

vdb_status wal_io_write(wal_io *io, int fd, uint64_t off, struct iovec *iov, size_t n,
                        bool datasync, const char *path)
{
    vdb_status st = VDB_OK;
    wal_ring *r = NULL;
    if (io->use_uring) {
        r = ring_take(io);
        if (!r)
            return vdb_set_errmsg(VDB_EIO, "wal: io_uring_queue_init failed writing %s", path);
    }
    bool discard = false, synced = false;
    /* An injected fdatasync failure (util/fault.c): the data is written, its sync "fails". */
    int sync_fault = datasync ? vdb_fault_hit(VDB_FAULT_SYNC) : 0;
    if (sync_fault)
        datasync = false;
    size_t i = 0;
    iov_consume(iov, n, &i, 0);
    while (i < n) {
        unsigned cnt = (unsigned)VDB_MIN(n - i, (size_t)MAX_IOV);
        bool last = i + cnt == n;
        ssize_t wrote = 0;
        int fault = vdb_fault_hit(VDB_FAULT_WRITE);
        if (fault) {
            /* Leave a real partial frame behind, as a dying disk or a full one would. */
            ssize_t w = pwrite(fd, iov[i].iov_base, iov[i].iov_len / 2 + 1, (off_t)off);
            (void)w;
            st = vdb_set_errmsg(VDB_EIO, "wal: write %s at offset %llu: %s (injected)", path,
                                (unsigned long long)off, strerror(fault));
            goto done;
        }
        if (r) {
            st = uring_write(io, r, fd, off, &iov[i], cnt, datasync && last, &wrote, &synced,
                             &discard, path);
            if (st != VDB_OK)
                goto done;
        } else {
            do
                wrote = pwritev(fd, &iov[i], (int)cnt, (off_t)off); /* fault: above */
            while (wrote < 0 && errno == EINTR);
            if (wrote < 0)
                wrote = -errno;
        }
        if (wrote < 0) {
            st = vdb_set_errmsg(VDB_EIO, "wal: write %s at offset %llu: %s", path,
                                (unsigned long long)off, strerror((int)-wrote));
            goto done;
        }
        if (wrote == 0) {
            st = vdb_set_errmsg(VDB_EIO, "wal: write %s at offset %llu wrote nothing", path,
                                (unsigned long long)off);
            goto done;
        }
        off += (uint64_t)wrote;
        iov_consume(iov, n, &i, (size_t)wrote);
    }
    if (datasync && !synced) {
        int rc;
        do
            rc = fdatasync(fd); /* fault: sync_fault */
        while (rc != 0 && errno == EINTR);
        if (rc != 0)
            st = vdb_set_errmsg(VDB_EIO, "wal: fdatasync %s: %s", path, strerror(errno));
    }
    if (sync_fault)
        st = vdb_set_errmsg(VDB_EIO, "wal: fdatasync %s: %s (injected)", path,
                            strerror(sync_fault));
done:
    if (r) {
        if (discard)
            ring_discard(io, r);
        else
            ring_give(io, r);
    }
    return st;
}

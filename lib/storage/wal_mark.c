/* The WAL's commit marker: one shared page per channel folder in which the writer publishes how
 * far the channel is whole and acknowledged, and a futex word that reader processes sleep on
 * until it moves (wal_internal.h says why it exists). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "storage/wal_internal.h"
#include "util/sysio.h"

#define MARK_BYTES 4096u
#define MARK_MAGIC UINT64_C(0x314b524d4c415756) /* "VWALMRK1" little-endian */

/* Native byte order and layout: it is shared by processes of one machine, never copied
 * elsewhere. Every field is read and written with atomic operations. */
struct wal_mark_page {
    uint64_t magic;
    uint64_t next;
    uint32_t seq;     /* the futex word */
    uint32_t dropped;
    /* Readers sleeping on seq (or about to). The writer makes the wake-up system call only
     * when it is not 0: a shared futex costs about a microsecond, a fifth of an unsynced
     * append. A reader that dies while waiting leaves it high; the writer then just wakes
     * nobody on each commit. */
    uint32_t waiters;
    uint32_t pad;
    /* Appended after the first layout (older pages hold zeros here, which never check): the
     * bounds of wal_mark_set_bounds, and their check word. Written by the writer only. */
    uint64_t durable;
    uint64_t low;
    uint64_t check;
};

/* Never 0 (bit 32 is set), so a zeroed page has no bounds. */
static uint64_t bounds_check(uint64_t durable, uint64_t low)
{
    uint8_t b[16];
    vdb_put_u64(b, durable);
    vdb_put_u64(b + 8, low);
    return (UINT64_C(1) << 32) | vdb_crc32c(0x564d524b, b, sizeof b);
}

static bool attach_read_only; /* test hook: readers behave as if they may not write it */

void vdb_wal_set_marker_read_only(bool on)
{
    __atomic_store_n(&attach_read_only, on, __ATOMIC_RELAXED);
}

static char *mark_path(const char *dir, const char *name)
{
    char *p = vdb_path_join(dir, name);
    if (!p)
        vdb_set_errmsg(VDB_ENOMEM, "wal: out of memory");
    return p;
}

/* Maps fd's first page if it holds a whole marker; NULL otherwise. */
static struct wal_mark_page *map_page(int fd, bool writable)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size < MARK_BYTES)
        return NULL;
    void *p = vdb_sys_mmap(NULL, MARK_BYTES, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
                   fd, 0);
    if (p == MAP_FAILED)
        return NULL;
    struct wal_mark_page *pg = p;
    if (__atomic_load_n(&pg->magic, __ATOMIC_ACQUIRE) != MARK_MAGIC) {
        munmap(p, MARK_BYTES);
        return NULL;
    }
    return pg;
}

/* A fresh marker file, made whole under a temporary name and renamed into place, so that a
 * reader opening COMMIT always finds a complete one. Not fsynced: after a machine crash the
 * writer rebuilds it when it opens the channel. */
static vdb_status make_fresh(const char *dir, uint64_t next, wal_mark *m)
{
    char *path = mark_path(dir, WAL_MARK_NAME), *tmp = mark_path(dir, WAL_MARK_NAME ".tmp");
    vdb_status st = VDB_OK;
    int fd = -1;
    void *p = MAP_FAILED;
    if (!path || !tmp) {
        st = VDB_ENOMEM;
        goto done;
    }
    fd = vdb_sys_open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || vdb_sys_ftruncate(fd, MARK_BYTES) != 0) {
        st = vdb_set_errmsg(VDB_EIO, "wal: create %s: %s", tmp, strerror(errno));
        goto done;
    }
    p = vdb_sys_mmap(NULL, MARK_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        st = vdb_set_errmsg(VDB_EIO, "wal: map %s: %s", tmp, strerror(errno));
        goto done;
    }
    struct wal_mark_page *pg = p;
    __atomic_store_n(&pg->next, next, __ATOMIC_RELAXED);
    __atomic_store_n(&pg->magic, MARK_MAGIC, __ATOMIC_RELEASE);
    if (vdb_sys_rename(tmp, path) != 0) {
        st = vdb_set_errmsg(VDB_EIO, "wal: rename %s to %s: %s", tmp, path, strerror(errno));
        goto done;
    }
    m->fd = fd;
    m->page = pg;
    m->can_wait = true;
    fd = -1;
    p = MAP_FAILED;
done:
    if (p != MAP_FAILED)
        munmap(p, MARK_BYTES);
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    vdb_free(path);
    vdb_free(tmp);
    return st;
}

vdb_status wal_mark_create(const char *dir, uint64_t next, wal_mark *m)
{
    *m = WAL_MARK_NONE;
    char *path = mark_path(dir, WAL_MARK_NAME);
    if (!path)
        return VDB_ENOMEM;
    /* The marker of an earlier run of the writer: readers may be waiting on it, keep it. */
    int fd = vdb_sys_open(path, O_RDWR | O_CLOEXEC, 0);
    vdb_free(path);
    if (fd >= 0) {
        struct wal_mark_page *pg = map_page(fd, true);
        if (pg && !__atomic_load_n(&pg->dropped, __ATOMIC_ACQUIRE)) {
            m->fd = fd;
            m->page = pg;
            m->can_wait = true;
            wal_mark_publish(m, next);
            return VDB_OK;
        }
        if (pg)
            munmap(pg, MARK_BYTES);
        close(fd);
    }
    return make_fresh(dir, next, m);
}

vdb_status wal_mark_attach(const char *dir, wal_mark *m, bool *found)
{
    *m = WAL_MARK_NONE;
    *found = false;
    char *path = mark_path(dir, WAL_MARK_NAME);
    if (!path)
        return VDB_ENOMEM;
    /* Read-write only to count itself among the waiters; a reader without write permission
     * maps it read-only and looks every WAL_MARK_POLL_MS instead of sleeping on it. */
    bool rw = !__atomic_load_n(&attach_read_only, __ATOMIC_RELAXED);
    int fd = rw ? vdb_sys_open(path, O_RDWR | O_CLOEXEC, 0) : -1;
    if (!rw || (fd < 0 && errno == EACCES)) {
        rw = false;
        fd = vdb_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
    }
    if (fd < 0) {
        int e = errno;
        vdb_status st = e == ENOENT || e == ENOTDIR
                            ? VDB_OK
                            : vdb_set_errmsg(VDB_EIO, "wal: open %s: %s", path, strerror(e));
        vdb_free(path);
        return st;
    }
    vdb_free(path);
    struct wal_mark_page *pg = map_page(fd, rw);
    if (!pg) {
        close(fd);
        return VDB_OK;
    }
    m->fd = fd;
    m->page = pg;
    m->can_wait = rw;
    *found = true;
    return VDB_OK;
}

bool wal_mark_current(const char *dir, const wal_mark *m)
{
    char *path = vdb_path_join(dir, WAL_MARK_NAME);
    struct stat a, b;
    bool same = path && stat(path, &a) == 0 && fstat(m->fd, &b) == 0 && a.st_ino == b.st_ino &&
                a.st_dev == b.st_dev;
    vdb_free(path);
    return same;
}

void wal_mark_close(wal_mark *m)
{
    if (m->page)
        munmap(m->page, MARK_BYTES);
    if (m->fd >= 0)
        close(m->fd);
    *m = WAL_MARK_NONE;
}

static void wake_all(struct wal_mark_page *pg)
{
    /* seq was bumped (seq_cst) before waiters is read (seq_cst); a reader adds itself to
     * waiters before the kernel compares seq: either this sees the reader, or the reader's
     * futex wait sees the new seq and returns at once. Shared (not FUTEX_PRIVATE): the
     * waiters are in other processes. */
    if (__atomic_load_n(&pg->waiters, __ATOMIC_SEQ_CST) != 0)
        syscall(SYS_futex, &pg->seq, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

void wal_mark_publish(wal_mark *m, uint64_t next)
{
    if (!m->page)
        return;
    __atomic_store_n(&m->page->next, next, __ATOMIC_RELEASE);
    __atomic_add_fetch(&m->page->seq, 1, __ATOMIC_SEQ_CST);
    wake_all(m->page);
}

void wal_mark_set_dropped(wal_mark *m)
{
    __atomic_store_n(&m->page->dropped, 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&m->page->seq, 1, __ATOMIC_SEQ_CST);
    wake_all(m->page);
}

wal_mark_state wal_mark_load(const wal_mark *m)
{
    wal_mark_state s;
    /* seq first: a wait on it then cannot miss a change made after the rest was read */
    s.seq = __atomic_load_n(&m->page->seq, __ATOMIC_SEQ_CST);
    s.next = __atomic_load_n(&m->page->next, __ATOMIC_ACQUIRE);
    s.dropped = __atomic_load_n(&m->page->dropped, __ATOMIC_ACQUIRE) != 0;
    return s;
}

void wal_mark_wait(const wal_mark *m, uint32_t seq, uint64_t deadline_ns)
{
    if (!m->can_wait) {
        uint64_t now = vdb_mono_ns(), poll = (uint64_t)WAL_MARK_POLL_MS * 1000000u;
        if (deadline_ns > now + poll)
            deadline_ns = now + poll;
    }
    struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
                          .tv_nsec = (long)(deadline_ns % 1000000000u)};
    if (!m->can_wait) {
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        return;
    }
    __atomic_add_fetch(&m->page->waiters, 1, __ATOMIC_SEQ_CST);
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline; it returns at once if the
     * word is no longer seq (EAGAIN), on a wake, on a signal or at the deadline. */
    syscall(SYS_futex, &m->page->seq, FUTEX_WAIT_BITSET, seq, &ts, NULL, FUTEX_BITSET_MATCH_ANY);
    __atomic_sub_fetch(&m->page->waiters, 1, __ATOMIC_SEQ_CST);
}

void wal_mark_set_bounds(wal_mark *m, uint64_t durable, uint64_t low)
{
    if (!m->page)
        return;
    /* The check last: a page written back between the stores reads as no bounds. */
    __atomic_store_n(&m->page->check, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&m->page->durable, durable, __ATOMIC_RELEASE);
    __atomic_store_n(&m->page->low, low, __ATOMIC_RELEASE);
    __atomic_store_n(&m->page->check, bounds_check(durable, low), __ATOMIC_RELEASE);
}

void wal_mark_sync(wal_mark *m)
{
    if (m->page)
        (void)msync(m->page, MARK_BYTES, MS_SYNC);
}

bool wal_mark_peek_bounds(const char *dir, uint64_t *durable, uint64_t *low)
{
    char *path = vdb_path_join(dir, WAL_MARK_NAME);
    if (!path)
        return false;
    int fd = vdb_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
    vdb_free(path);
    if (fd < 0)
        return false;
    struct wal_mark_page pg;
    ssize_t got;
    do
        got = vdb_sys_pread(fd, &pg, sizeof pg, 0);
    while (got < 0 && errno == EINTR);
    close(fd);
    if (got != (ssize_t)sizeof pg || pg.magic != MARK_MAGIC || pg.dropped ||
        pg.check != bounds_check(pg.durable, pg.low))
        return false;
    *durable = pg.durable;
    *low = pg.low;
    return true;
}

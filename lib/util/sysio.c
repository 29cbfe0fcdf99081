/* One door per file-system call (sysio.h): the fault layer decides, then the real call. */
#define _GNU_SOURCE
#include "sysio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* Fails the call when the fault layer says so: errno set, the caller returns its -1. */
static bool injected(unsigned op)
{
    int e = vdb_fault_hit(op);
    if (e)
        errno = e;
    return e != 0;
}

int vdb_sys_open(const char *path, int flags, mode_t mode)
{
    return injected(VDB_FAULT_OPEN) ? -1 : open(path, flags, mode);
}
ssize_t vdb_sys_write(int fd, const void *p, size_t n)
{
    return injected(VDB_FAULT_WRITE) ? -1 : write(fd, p, n);
}
ssize_t vdb_sys_pwrite(int fd, const void *p, size_t n, off_t off)
{
    return injected(VDB_FAULT_WRITE) ? -1 : pwrite(fd, p, n, off);
}
ssize_t vdb_sys_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    return injected(VDB_FAULT_WRITE) ? -1 : pwritev(fd, iov, cnt, off);
}
ssize_t vdb_sys_pread(int fd, void *p, size_t n, off_t off)
{
    return injected(VDB_FAULT_READ) ? -1 : pread(fd, p, n, off);
}
int vdb_sys_fsync(int fd) { return injected(VDB_FAULT_SYNC) ? -1 : fsync(fd); }
int vdb_sys_fdatasync(int fd) { return injected(VDB_FAULT_SYNC) ? -1 : fdatasync(fd); }
int vdb_sys_ftruncate(int fd, off_t len)
{
    return injected(VDB_FAULT_WRITE) ? -1 : ftruncate(fd, len);
}
int vdb_sys_rename(const char *from, const char *to)
{
    return injected(VDB_FAULT_RENAME) ? -1 : rename(from, to);
}
int vdb_sys_mkdir(const char *path, mode_t mode)
{
    return injected(VDB_FAULT_OPEN) ? -1 : mkdir(path, mode);
}
void *vdb_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return injected(VDB_FAULT_MMAP) ? MAP_FAILED : mmap(addr, len, prot, flags, fd, off);
}

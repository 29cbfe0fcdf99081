/* The file-system calls of the local backends, through one door each so a test can make the
 * Nth of them fail (vdb_fault_arm in util.h). Same arguments, results and errno as the calls
 * they wrap; an injected failure sets errno to the armed error and returns -1 (MAP_FAILED). */
#ifndef VDB_SYSIO_H
#define VDB_SYSIO_H

#include <sys/types.h>
#include <sys/uio.h>

int vdb_sys_open(const char *path, int flags, mode_t mode);
ssize_t vdb_sys_write(int fd, const void *p, size_t n);
ssize_t vdb_sys_pwrite(int fd, const void *p, size_t n, off_t off);
ssize_t vdb_sys_pwritev(int fd, const struct iovec *iov, int cnt, off_t off);
ssize_t vdb_sys_pread(int fd, void *p, size_t n, off_t off);
int vdb_sys_fsync(int fd);
int vdb_sys_fdatasync(int fd);
int vdb_sys_ftruncate(int fd, off_t len);
int vdb_sys_rename(const char *from, const char *to);
int vdb_sys_mkdir(const char *path, mode_t mode);
void *vdb_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

#endif

/* Small file helpers: atomic replace, whole-file read, mkdir -p, rm -rf, clocks. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sysio.h"
#include "util.h"

uint64_t vdb_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

uint64_t vdb_mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

char *vdb_path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = vdb_malloc(la + lb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

vdb_status vdb_fsync_dir(const char *path)
{
    int fd = vdb_sys_open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0)
        return vdb_set_errmsg(VDB_EIO, "open folder %s: %s", path, strerror(errno));
    int rc = vdb_sys_fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return vdb_set_errmsg(VDB_EIO, "fsync folder %s: %s", path, strerror(e));
    return VDB_OK;
}

vdb_status vdb_file_write_all(int fd, const void *data, size_t len, const char *path)
{
    const char *p = data;
    while (len) {
        ssize_t w = vdb_sys_write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return vdb_set_errmsg(VDB_EIO, "write %s: %s", path, strerror(errno));
        p += w;
        len -= (size_t)w;
    }
    return VDB_OK;
}

vdb_status vdb_file_write_atomic(const char *path, const void *data, size_t len)
{
    size_t n = strlen(path);
    char *tmp = vdb_malloc(n + 32);
    char *dir = vdb_strdup(path);
    if (!tmp || !dir) {
        vdb_free(tmp);
        vdb_free(dir);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory writing %s", path);
    }
    snprintf(tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
    vdb_status st = VDB_OK;
    int fd = vdb_sys_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = vdb_set_errmsg(VDB_EIO, "create %s: %s", tmp, strerror(errno));
        goto done;
    }
    st = vdb_file_write_all(fd, data, len, tmp);
    if (st == VDB_OK && vdb_sys_fdatasync(fd) != 0)
        st = vdb_set_errmsg(VDB_EIO, "fdatasync %s: %s", tmp, strerror(errno));
    close(fd);
    if (st == VDB_OK && vdb_sys_rename(tmp, path) != 0)
        st = vdb_set_errmsg(VDB_EIO, "rename %s: %s", path, strerror(errno));
    if (st != VDB_OK) {
        unlink(tmp);
        goto done;
    }
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        st = vdb_fsync_dir(*dir ? dir : "/");
    } else {
        st = vdb_fsync_dir(".");
    }
done:
    vdb_free(tmp);
    vdb_free(dir);
    return st;
}

vdb_status vdb_file_read(const char *path, void **data, size_t *len)
{
    int fd = vdb_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        if (errno == ENOENT)
            return vdb_set_errmsg(VDB_ENOTFOUND, "%s does not exist", path);
        return vdb_set_errmsg(VDB_EIO, "open %s: %s", path, strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return vdb_set_errmsg(VDB_EIO, "stat %s: %s", path, strerror(errno));
    }
    size_t size = (size_t)sb.st_size;
    char *buf = vdb_malloc(size + 1);
    if (!buf) {
        close(fd);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory reading %s (%zu bytes)", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = vdb_sys_pread(fd, buf + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = errno;
            close(fd);
            vdb_free(buf);
            return vdb_set_errmsg(VDB_EIO, "read %s: %s", path, r < 0 ? strerror(e) : "short");
        }
        got += (size_t)r;
    }
    close(fd);
    buf[size] = 0;
    *data = buf;
    *len = size;
    return VDB_OK;
}

vdb_status vdb_mkdirs(const char *path)
{
    char *p = vdb_strdup(path);
    if (!p)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (vdb_sys_mkdir(p, 0755) != 0 && errno != EEXIST) {
                vdb_status st = vdb_set_errmsg(VDB_EIO, "mkdir %s: %s", p, strerror(errno));
                vdb_free(p);
                return st;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    vdb_free(p);
    return VDB_OK;
}

vdb_status vdb_remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? VDB_OK
                               : vdb_set_errmsg(VDB_EIO, "stat %s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return vdb_set_errmsg(VDB_EIO, "opendir %s: %s", path, strerror(errno));
        struct dirent *e;
        vdb_status st = VDB_OK;
        while (st == VDB_OK && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char *child = vdb_path_join(path, e->d_name);
            st = child ? vdb_remove_tree(child) : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            vdb_free(child);
        }
        closedir(d);
        if (st != VDB_OK)
            return st;
        if (rmdir(path) != 0)
            return vdb_set_errmsg(VDB_EIO, "rmdir %s: %s", path, strerror(errno));
        return VDB_OK;
    }
    if (unlink(path) != 0 && errno != ENOENT)
        return vdb_set_errmsg(VDB_EIO, "unlink %s: %s", path, strerror(errno));
    return VDB_OK;
}

/* The local object backend (file://<folder>): one file per object under the folder, keys as
 * relative paths, each put made atomic by writing a temporary file and renaming it over. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/storage.h"
#include "util/sysio.h"

/* Temporary files start with this; keys may not have a segment that does, so list can tell
 * them apart. */
#define TMP_PREFIX ".vdbtmp."
#define MAX_SEGMENT 255
#define MAX_KEY_LEN 3072

typedef struct object_file {
    char *root;
} object_file;

static _Atomic uint64_t tmp_counter;

/* Keys are relative paths whose every segment is a plain file name. */
static vdb_status check_key(const char *key)
{
    if (!key || !*key)
        return vdb_set_errmsg(VDB_EINVAL, "object key is empty");
    size_t n = strlen(key);
    if (n > MAX_KEY_LEN)
        return vdb_set_errmsg(VDB_EINVAL, "object key of %zu bytes is longer than %d", n,
                              MAX_KEY_LEN);
    if (key[0] == '/')
        return vdb_set_errmsg(VDB_EINVAL, "object key %s is absolute", key);
    const char *seg = key;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 0)
            return vdb_set_errmsg(VDB_EINVAL, "object key %s has an empty segment", key);
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return vdb_set_errmsg(VDB_EINVAL, "object key %s has a '.' or '..' segment", key);
        if (len > MAX_SEGMENT)
            return vdb_set_errmsg(VDB_EINVAL, "object key %s has a segment longer than %d bytes",
                                  key, MAX_SEGMENT);
        if (len >= sizeof TMP_PREFIX - 1 && memcmp(seg, TMP_PREFIX, sizeof TMP_PREFIX - 1) == 0)
            return vdb_set_errmsg(VDB_EINVAL, "object key %s has a segment starting with %s", key,
                                  TMP_PREFIX);
        if (!end)
            return VDB_OK;
        seg = end + 1;
    }
}

static char *key_path(const object_file *o, const char *key)
{
    char *p = vdb_path_join(o->root, key);
    if (!p)
        vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    return p;
}

/* Creates the folders of path below the root, each made durable in its parent, since a
 * rename into a folder that a crash forgets is lost with it. */
static vdb_status make_parents(const object_file *o, char *path)
{
    size_t root_len = strlen(o->root);
    for (char *s = path + root_len + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        int rc = vdb_sys_mkdir(path, 0755);
        int e = errno;
        vdb_status st = VDB_OK;
        if (rc != 0 && e != EEXIST) {
            st = vdb_set_errmsg(VDB_EIO, "mkdir %s: %s", path, strerror(e));
        } else if (rc == 0) {
            char *slash = strrchr(path, '/');
            *slash = 0;
            st = vdb_fsync_dir(path);
            *slash = '/';
        }
        *s = '/';
        if (st != VDB_OK)
            return st;
    }
    return VDB_OK;
}

static vdb_status obj_put(void *h, const char *key, const void *data, size_t len)
{
    object_file *o = h;
    vdb_status st = check_key(key);
    if (st != VDB_OK)
        return st;
    if (len && !data)
        return vdb_set_errmsg(VDB_EINVAL, "object %s: data is NULL", key);
    char *path = key_path(o, key);
    char *tmp = NULL;
    int fd = -1;
    if (!path)
        return VDB_ENOMEM;
    st = make_parents(o, path);
    if (st != VDB_OK)
        goto fail;
    char *slash = strrchr(path, '/');
    size_t dir_len = (size_t)(slash - path);
    tmp = vdb_malloc(dir_len + 64);
    if (!tmp) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(tmp, dir_len + 64, "%.*s/" TMP_PREFIX "%ld.%" PRIu64, (int)dir_len, path,
             (long)getpid(), atomic_fetch_add(&tmp_counter, 1));
    fd = vdb_sys_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    /* a delete of the folder's last object may have pruned it between mkdir and open */
    for (int again = 0; fd < 0 && errno == ENOENT && again < 8; again++) {
        if ((st = make_parents(o, path)) != VDB_OK)
            goto fail;
        fd = vdb_sys_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (fd < 0) {
        st = vdb_set_errmsg(VDB_EIO, "create %s: %s", tmp, strerror(errno));
        goto fail;
    }
    st = vdb_file_write_all(fd, data, len, tmp);
    if (st != VDB_OK)
        goto fail;
    if (vdb_sys_fdatasync(fd) != 0) {
        st = vdb_set_errmsg(VDB_EIO, "fdatasync %s: %s", tmp, strerror(errno));
        goto fail;
    }
    close(fd);
    fd = -1;
    if (vdb_sys_rename(tmp, path) != 0) {
        st = vdb_set_errmsg(VDB_EIO, "rename %s to %s: %s", tmp, path, strerror(errno));
        goto fail;
    }
    *slash = 0;
    st = vdb_fsync_dir(path);
    vdb_free(tmp);
    vdb_free(path);
    return st;
fail:
    if (fd >= 0)
        close(fd);
    if (tmp)
        unlink(tmp);
    vdb_free(tmp);
    vdb_free(path);
    return st;
}

/* Opens the object as a regular file; a folder or anything else is not an object. */
static vdb_status open_object(object_file *o, const char *key, int *fd_out, uint64_t *size)
{
    vdb_status st = check_key(key);
    if (st != VDB_OK)
        return st;
    char *path = key_path(o, key);
    if (!path)
        return VDB_ENOMEM;
    int fd = vdb_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
    struct stat sb;
    if (fd < 0) {
        st = errno == ENOENT || errno == ENOTDIR
                 ? vdb_set_errmsg(VDB_ENOTFOUND, "object %s not found", key)
                 : vdb_set_errmsg(VDB_EIO, "open %s: %s", path, strerror(errno));
    } else if (fstat(fd, &sb) != 0) {
        st = vdb_set_errmsg(VDB_EIO, "stat %s: %s", path, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        st = vdb_set_errmsg(VDB_ENOTFOUND, "object %s not found (a folder)", key);
    } else {
        *size = (uint64_t)sb.st_size;
        *fd_out = fd;
        vdb_free(path);
        return VDB_OK;
    }
    if (fd >= 0)
        close(fd);
    vdb_free(path);
    return st;
}

/* Reads up to len bytes at offset into a fresh buffer (NUL-terminated past the end). */
static vdb_status read_at(int fd, const char *key, uint64_t size, uint64_t offset, size_t len,
                          void **data, size_t *got)
{
    size_t n = offset >= size ? 0 : (size_t)VDB_MIN((uint64_t)len, size - offset);
    uint8_t *buf = vdb_malloc(n + 1);
    if (!buf)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory reading object %s (%zu bytes)", key, n);
    size_t have = 0;
    while (have < n) {
        ssize_t r = vdb_sys_pread(fd, buf + have, n - have, (off_t)(offset + have));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            vdb_free(buf);
            return vdb_set_errmsg(VDB_EIO, "read object %s: %s", key, strerror(e));
        }
        if (r == 0)
            break; /* shrank under us: an object is never rewritten in place, so this is rare */
        have += (size_t)r;
    }
    buf[have] = 0;
    *data = buf;
    *got = have;
    return VDB_OK;
}

static vdb_status obj_get_range(void *h, const char *key, uint64_t offset, size_t len,
                                void **data, size_t *got)
{
    int fd;
    uint64_t size;
    vdb_status st = open_object(h, key, &fd, &size);
    if (st != VDB_OK)
        return st;
    st = read_at(fd, key, size, offset, len, data, got);
    close(fd);
    return st;
}

static vdb_status obj_get(void *h, const char *key, void **data, size_t *len)
{
    int fd;
    uint64_t size;
    vdb_status st = open_object(h, key, &fd, &size);
    if (st != VDB_OK)
        return st;
    if (size > SIZE_MAX - 1) {
        close(fd);
        return vdb_set_errmsg(VDB_ENOMEM, "object %s is too large to read", key);
    }
    st = read_at(fd, key, size, 0, (size_t)size, data, len);
    close(fd);
    return st;
}

static vdb_status obj_head(void *h, const char *key, uint64_t *size)
{
    int fd;
    vdb_status st = open_object(h, key, &fd, size);
    if (st == VDB_OK)
        close(fd);
    return st;
}

/* Removes dir and its parents below the root while they are empty, so deleting a segment's
 * last object leaves no folder behind. Best effort: a folder that is not empty (or that a
 * put is filling right now) stays; a put that finds its folder gone makes it again. */
static void prune_empty(const object_file *o, char *dir)
{
    size_t root_len = strlen(o->root);
    while (strlen(dir) > root_len && rmdir(dir) == 0) {
        char *slash = strrchr(dir, '/');
        *slash = 0;
        if (vdb_fsync_dir(dir) != VDB_OK)
            vdb_err_clear(); /* the object is gone; a folder a crash brings back is empty */
    }
}

static vdb_status obj_del(void *h, const char *key)
{
    object_file *o = h;
    vdb_status st = check_key(key);
    if (st != VDB_OK)
        return st;
    char *path = key_path(o, key);
    if (!path)
        return VDB_ENOMEM;
    struct stat sb;
    if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        vdb_free(path);
        return VDB_OK; /* a folder holding other objects is not this object */
    }
    if (unlink(path) != 0) {
        int e = errno;
        st = e == ENOENT || e == ENOTDIR ? VDB_OK
                                         : vdb_set_errmsg(VDB_EIO, "unlink %s: %s", path,
                                                          strerror(e));
    } else {
        *strrchr(path, '/') = 0;
        st = vdb_fsync_dir(path);
        if (st == VDB_OK)
            prune_empty(o, path);
    }
    vdb_free(path);
    return st;
}

/* ---- list ---- */

typedef struct listing {
    char **keys;
    uint64_t *sizes;
    size_t count, cap;
} listing;

static int cmp_index_keys(const void *a, const void *b, void *arg)
{
    char **keys = arg;
    return strcmp(keys[*(const size_t *)a], keys[*(const size_t *)b]);
}

static vdb_status listing_add(listing *l, const char *key, uint64_t size)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **k = vdb_realloc(l->keys, cap * sizeof *k);
        if (!k)
            return vdb_set_errmsg(VDB_ENOMEM, "out of memory listing objects");
        l->keys = k;
        uint64_t *s = vdb_realloc(l->sizes, cap * sizeof *s);
        if (!s)
            return vdb_set_errmsg(VDB_ENOMEM, "out of memory listing objects");
        l->sizes = s;
        l->cap = cap;
    }
    l->keys[l->count] = vdb_strdup(key);
    if (!l->keys[l->count])
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory listing objects");
    l->sizes[l->count++] = size;
    return VDB_OK;
}

/* Walks the folder root/rel (rel "" for the root), adding every object whose key starts
 * with prefix. Only folders that can hold such keys are entered. */
static vdb_status walk(const object_file *o, const char *rel, const char *prefix, listing *l)
{
    char *dir = *rel ? vdb_path_join(o->root, rel) : vdb_strdup(o->root);
    if (!dir)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory listing objects");
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        vdb_free(dir);
        return e == ENOENT || e == ENOTDIR
                   ? VDB_OK
                   : vdb_set_errmsg(VDB_EIO, "opendir %s/%s: %s", o->root, rel, strerror(e));
    }
    vdb_status st = VDB_OK;
    size_t plen = strlen(prefix);
    struct dirent *e;
    while (st == VDB_OK && (e = readdir(d))) {
        const char *name = e->d_name;
        if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
            continue;
        if (strncmp(name, TMP_PREFIX, sizeof TMP_PREFIX - 1) == 0)
            continue;
        char *key = *rel ? vdb_path_join(rel, name) : vdb_strdup(name);
        if (!key) {
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory listing objects");
            break;
        }
        size_t klen = strlen(key);
        struct stat sb;
        char *full = vdb_path_join(o->root, key);
        if (!full) {
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory listing objects");
        } else if (lstat(full, &sb) != 0) {
            if (errno != ENOENT) /* deleted while listing: simply not there */
                st = vdb_set_errmsg(VDB_EIO, "stat %s: %s", full, strerror(errno));
        } else if (S_ISDIR(sb.st_mode)) {
            /* key + "/" is a prefix of every key inside: enter when it and prefix agree. */
            if (strncmp(key, prefix, VDB_MIN(klen, plen)) == 0 &&
                (plen <= klen || prefix[klen] == '/'))
                st = walk(o, key, prefix, l);
        } else if (S_ISREG(sb.st_mode) && strncmp(key, prefix, plen) == 0) {
            st = listing_add(l, key, (uint64_t)sb.st_size);
        }
        vdb_free(full);
        vdb_free(key);
    }
    closedir(d);
    vdb_free(dir);
    return st;
}

static vdb_status obj_list(void *h, const char *prefix, vdb_object_list_fn fn, void *arg)
{
    object_file *o = h;
    if (!fn)
        return vdb_set_errmsg(VDB_EINVAL, "object list: callback is NULL");
    if (!prefix)
        prefix = "";
    if (prefix[0] == '/')
        return vdb_set_errmsg(VDB_EINVAL, "object prefix %s is absolute", prefix);
    listing l = {0};
    size_t *order = NULL;
    vdb_status st = walk(o, "", prefix, &l);
    if (st != VDB_OK)
        goto done;
    /* Folder order is not key order ("a-b" sorts before "a/b"), so sort whole keys. */
    order = vdb_malloc(l.count * sizeof *order);
    if (!order) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory listing objects");
        goto done;
    }
    for (size_t i = 0; i < l.count; i++)
        order[i] = i;
    qsort_r(order, l.count, sizeof *order, cmp_index_keys, l.keys);
    for (size_t i = 0; i < l.count; i++)
        if (fn(arg, l.keys[order[i]], l.sizes[order[i]]))
            break;
done:
    for (size_t i = 0; i < l.count; i++)
        vdb_free(l.keys[i]);
    vdb_free(l.keys);
    vdb_free(l.sizes);
    vdb_free(order);
    return st;
}

/* ---- open / close ---- */

static void obj_close(void *h)
{
    object_file *o = h;
    if (!o)
        return;
    vdb_free(o->root);
    vdb_free(o);
}

static vdb_status obj_open(const char *uri, const vdb_backend_options *opt, void **out)
{
    (void)opt;
    static const char scheme[] = "file://";
    if (!uri || strncmp(uri, scheme, sizeof scheme - 1) != 0 || !uri[sizeof scheme - 1])
        return vdb_set_errmsg(VDB_EINVAL, "object URI %s is not file://<folder>",
                              uri ? uri : "(null)");
    object_file *o = vdb_calloc(1, sizeof *o);
    if (!o)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    vdb_status st;
    o->root = vdb_strdup(uri + sizeof scheme - 1);
    if (!o->root) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto fail;
    }
    /* A trailing slash would make every key path hold "//". */
    for (size_t n = strlen(o->root); n > 1 && o->root[n - 1] == '/'; n--)
        o->root[n - 1] = 0;
    st = vdb_mkdirs(o->root);
    if (st != VDB_OK)
        goto fail;
    *out = o;
    return VDB_OK;
fail:
    obj_close(o);
    return st;
}

const vdb_object_backend vdb_object_file_backend = {
    .version = VDB_OBJECT_BACKEND_VERSION,
    .scheme = "file",
    .open = obj_open,
    .close = obj_close,
    .put = obj_put,
    .get = obj_get,
    .get_range = obj_get_range,
    .head = obj_head,
    .list = obj_list,
    .del = obj_del,
};

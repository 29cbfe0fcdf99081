/* The local cache of memory-mapped sealed-segment files: naming, writing with a read-back
 * check, mapping with size and header checks, LRU eviction of files not mapped, and the
 * SIGBUS handler scoped to the mapped ranges (seg_cache.h says why). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seg_cache.h"
#include "util/sysio.h"

#define VMAP_MAGIC "VDBVMAP1"
#define VMAP_VERSION 1u
#define VMAP_HEADER 4096u /* the values start on a page boundary */
#define VMAP_FIELDS 48u   /* bytes of the header that carry fields; the rest is zero */
#define VMAP_SUFFIX ".vmap"
#define MAX_MAPS 8192     /* mapped files at once, process-wide (the SIGBUS table) */

/* ---- the ranges the SIGBUS handler owns ---------------------------------------------- */

typedef struct map_slot {
    uintptr_t start; /* atomic: 0 = free */
    size_t len;      /* atomic */
    int damaged;     /* atomic */
} map_slot;

static map_slot slots[MAX_MAPS];
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction old_bus;
static pthread_once_t bus_once = PTHREAD_ONCE_INIT;
static long page_size;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    uintptr_t a = (uintptr_t)si->si_addr;
    for (size_t i = 0; i < MAX_MAPS; i++) {
        uintptr_t start = __atomic_load_n(&slots[i].start, __ATOMIC_ACQUIRE);
        size_t len = __atomic_load_n(&slots[i].len, __ATOMIC_RELAXED);
        if (!start || a < start || a - start >= len)
            continue;
        /* A zero page over the faulting one lets the read complete; the mapping is marked
         * damaged for vdb_seg_map_check. mmap is a plain system call on Linux. */
        void *page = (void *)(a & ~(uintptr_t)(page_size - 1));
        void *p = mmap(page, (size_t)page_size, PROT_READ,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        __atomic_store_n(&slots[i].damaged, 1, __ATOMIC_RELEASE);
        if (p != MAP_FAILED)
            return;
        break;
    }
    /* Not ours (or the zero page failed): what would have happened without libvdb. */
    if (old_bus.sa_flags & SA_SIGINFO) {
        old_bus.sa_sigaction(sig, si, uc);
    } else if (old_bus.sa_handler != SIG_DFL && old_bus.sa_handler != SIG_IGN) {
        old_bus.sa_handler(sig);
    } else {
        /* the fault repeats when this returns, now with the default action */
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigemptyset(&dfl.sa_mask);
        sigaction(SIGBUS, &dfl, NULL);
    }
}

static void install_sigbus(void)
{
    page_size = sysconf(_SC_PAGESIZE);
    if (page_size <= 0)
        page_size = 4096;
    struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old_bus);
}

static int slot_take(const void *base, size_t len)
{
    pthread_mutex_lock(&slots_mu);
    int got = -1;
    for (int i = 0; i < MAX_MAPS && got < 0; i++) {
        if (__atomic_load_n(&slots[i].start, __ATOMIC_RELAXED) == 0) {
            __atomic_store_n(&slots[i].damaged, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&slots[i].len, len, __ATOMIC_RELAXED);
            __atomic_store_n(&slots[i].start, (uintptr_t)base, __ATOMIC_RELEASE);
            got = i;
        }
    }
    pthread_mutex_unlock(&slots_mu);
    return got;
}

static void slot_drop(int i)
{
    pthread_mutex_lock(&slots_mu);
    __atomic_store_n(&slots[i].start, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&slots_mu);
}

/* ---- the cache folder ------------------------------------------------------------------ */

typedef struct cache_entry {
    char *name;     /* file name in the folder */
    uint64_t size;  /* bytes on disk */
    uint64_t used;  /* tick of the last map */
    int maps;
} cache_entry;

struct vdb_seg_cache {
    char *dir;
    uint64_t max_bytes, total, tick;
    pthread_mutex_t mu;
    cache_entry *e;
    size_t n, cap;
};

struct vdb_seg_map {
    vdb_seg_cache *cache;
    char *name, *path;
    void *base;
    size_t len;
    int slot;
    bool reported;
};

static cache_entry *entry_find(vdb_seg_cache *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i].name, name) == 0)
            return &c->e[i];
    return NULL;
}

static cache_entry *entry_add(vdb_seg_cache *c, const char *name, uint64_t size)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        cache_entry *e = vdb_realloc(c->e, cap * sizeof *e);
        if (!e)
            return NULL;
        c->e = e;
        c->cap = cap;
    }
    char *nm = vdb_strdup(name);
    if (!nm)
        return NULL;
    c->e[c->n] = (cache_entry){nm, size, ++c->tick, 0};
    c->total += size;
    return &c->e[c->n++];
}

/* Deletes the file of entry e and forgets it (under mu; e must not be mapped). */
static void entry_remove(vdb_seg_cache *c, cache_entry *e)
{
    char *p = vdb_path_join(c->dir, e->name);
    if (p)
        unlink(p);
    vdb_free(p);
    c->total -= e->size;
    vdb_free(e->name);
    *e = c->e[--c->n];
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

vdb_status vdb_seg_cache_open(const char *dir, uint64_t max_bytes, vdb_seg_cache **out)
{
    *out = NULL;
    pthread_once(&bus_once, install_sigbus);
    vdb_status st = vdb_mkdirs(dir);
    if (st)
        return st;
    vdb_seg_cache *c = vdb_calloc(1, sizeof *c);
    if (!c || !(c->dir = vdb_strdup(dir))) {
        vdb_free(c);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    c->max_bytes = max_bytes;
    pthread_mutex_init(&c->mu, NULL);
    DIR *d = opendir(dir);
    if (!d) {
        st = vdb_set_errmsg(VDB_EIO, "mmap cache %s: %s", dir, strerror(errno));
        vdb_seg_cache_close(c);
        return st;
    }
    struct dirent *de;
    while (st == VDB_OK && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        struct stat sb;
        if (fstatat(dirfd(d), de->d_name, &sb, 0) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (!has_suffix(de->d_name, VMAP_SUFFIX)) { /* a write cut short by a crash */
            if (has_suffix(de->d_name, ".tmp"))
                unlinkat(dirfd(d), de->d_name, 0);
            continue;
        }
        if (!entry_add(c, de->d_name, (uint64_t)sb.st_size))
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    closedir(d);
    if (st) {
        vdb_seg_cache_close(c);
        return st;
    }
    *out = c;
    return VDB_OK;
}

void vdb_seg_cache_close(vdb_seg_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        vdb_free(c->e[i].name);
    vdb_free(c->e);
    vdb_free(c->dir);
    pthread_mutex_destroy(&c->mu);
    vdb_free(c);
}

/* "<key with / as _>.<crc>.vmap"; a long key keeps its tail and a hash of the whole. */
static void file_name(const char *key, uint32_t src_crc, char *buf, size_t n)
{
    char safe[160];
    size_t len = strlen(key), from = len > 120 ? len - 120 : 0, j = 0;
    for (size_t i = from; i < len && j < sizeof safe - 1; i++) {
        char ch = key[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        safe[j++] = ok ? ch : '_';
    }
    safe[j] = 0;
    if (from)
        snprintf(buf, n, "%08x_%s.%08x" VMAP_SUFFIX, vdb_crc32c(0, key, len), safe, src_crc);
    else
        snprintf(buf, n, "%s.%08x" VMAP_SUFFIX, safe, src_crc);
}

static void header_encode(const vdb_seg_map_shape *s, uint32_t data_crc, uint8_t *h)
{
    memset(h, 0, VMAP_HEADER);
    memcpy(h, VMAP_MAGIC, 8);
    vdb_put_u32(h + 8, VMAP_VERSION);
    vdb_put_u32(h + 12, s->type);
    vdb_put_u32(h + 16, s->dim);
    vdb_put_u32(h + 20, s->src_crc);
    vdb_put_u64(h + 24, s->rows);
    vdb_put_u64(h + 32, s->data_len);
    vdb_put_u32(h + 40, data_crc);
    vdb_put_u32(h + 44, vdb_crc32c(0, h, 44));
}

static bool header_matches(const uint8_t *h, const vdb_seg_map_shape *s)
{
    return memcmp(h, VMAP_MAGIC, 8) == 0 && vdb_get_u32(h + 44) == vdb_crc32c(0, h, 44) &&
           vdb_get_u32(h + 8) == VMAP_VERSION && vdb_get_u32(h + 12) == s->type &&
           vdb_get_u32(h + 16) == s->dim && vdb_get_u32(h + 20) == s->src_crc &&
           vdb_get_u64(h + 24) == s->rows &&
           (s->data_len == VDB_SEG_MAP_ANY_LEN || vdb_get_u64(h + 32) == s->data_len) &&
           vdb_get_u64(h + 32) < VDB_SEG_MAP_ANY_LEN - VMAP_HEADER;
}

/* Maps path (size checked against shape) and records the map against entry e (under mu). */
static vdb_status map_file(vdb_seg_cache *c, cache_entry *e, const char *path,
                           const vdb_seg_map_shape *shape, vdb_seg_map **out,
                           const void **data)
{
    uint64_t want = VMAP_HEADER + shape->data_len;
    int fd = vdb_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return vdb_set_errmsg(VDB_EIO, "mmap cache: open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != want) {
        close(fd);
        return vdb_set_errmsg(VDB_ECORRUPT, "mmap cache: %s has %lld bytes, expected %llu",
                              path, (long long)sb.st_size, (unsigned long long)want);
    }
    void *base = vdb_sys_mmap(NULL, (size_t)want, PROT_READ, MAP_SHARED, fd, 0);
    int err = errno;
    close(fd);
    if (base == MAP_FAILED)
        return vdb_set_errmsg(VDB_EIO, "mmap cache: mmap %s: %s", path, strerror(err));
    vdb_seg_map *m = vdb_calloc(1, sizeof *m);
    int slot = m ? slot_take(base, (size_t)want) : -1;
    if (!m || slot < 0 || !(m->name = vdb_strdup(e->name)) || !(m->path = vdb_strdup(path))) {
        if (slot >= 0)
            slot_drop(slot);
        munmap(base, (size_t)want);
        if (m)
            vdb_free(m->name);
        vdb_free(m);
        return m && slot < 0
                   ? vdb_set_errmsg(VDB_ERANGE, "mmap cache: more than %d files mapped at once",
                                    MAX_MAPS)
                   : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    m->cache = c;
    m->base = base;
    m->len = (size_t)want;
    m->slot = slot;
    e->maps++;
    e->used = ++c->tick;
    *out = m;
    *data = (const uint8_t *)base + VMAP_HEADER;
    return VDB_OK;
}

vdb_status vdb_seg_cache_get(vdb_seg_cache *c, const char *key, const vdb_seg_map_shape *shape,
                             vdb_seg_map **out, const void **data)
{
    char name[256];
    *out = NULL;
    *data = NULL;
    file_name(key, shape->src_crc, name, sizeof name);
    char *path = vdb_path_join(c->dir, name);
    if (!path)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    vdb_status st = VDB_OK;
    pthread_mutex_lock(&c->mu);
    cache_entry *e = entry_find(c, name);
    if (e) {
        uint8_t h[VMAP_FIELDS];
        int fd = vdb_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
        bool ok = fd >= 0 && vdb_sys_pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h &&
                  header_matches(h, shape);
        if (fd >= 0)
            close(fd);
        vdb_seg_map_shape sized = *shape; /* VDB_SEG_MAP_ANY_LEN: the header's length */
        if (ok)
            sized.data_len = vdb_get_u64(h + 32);
        if (ok)
            st = map_file(c, e, path, &sized, out, data);
        /* damaged (cut short, another header): fetched again by the caller */
        if ((!ok || st == VDB_ECORRUPT) && e->maps == 0) {
            entry_remove(c, e);
            st = VDB_OK;
        }
    }
    pthread_mutex_unlock(&c->mu);
    vdb_free(path);
    return st;
}

/* Evicts files not mapped, least recently used first, until need more bytes fit. */
static vdb_status make_room(vdb_seg_cache *c, uint64_t need, const char *name)
{
    if (!c->max_bytes)
        return VDB_OK;
    while (c->total + need > c->max_bytes) {
        cache_entry *lru = NULL;
        for (size_t i = 0; i < c->n; i++)
            if (c->e[i].maps == 0 && (!lru || c->e[i].used < lru->used))
                lru = &c->e[i];
        if (!lru)
            return vdb_set_errmsg(VDB_ERANGE, "mmap cache %s: options.mmap_cache_bytes = %llu "
                                  "cannot hold %s (%llu bytes) beside %llu bytes of mapped "
                                  "files", c->dir, (unsigned long long)c->max_bytes, name,
                                  (unsigned long long)need, (unsigned long long)c->total);
        entry_remove(c, lru);
    }
    return VDB_OK;
}

/* Reads path back and checks the payload's crc: what is on disk is what was meant. */
static vdb_status verify_file(const char *path, uint64_t len, uint32_t crc)
{
    int fd = vdb_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return vdb_set_errmsg(VDB_EIO, "mmap cache: open %s: %s", path, strerror(errno));
    size_t bufsz = 1u << 20;
    uint8_t *buf = vdb_malloc(bufsz);
    vdb_status st = buf ? VDB_OK : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    uint32_t got = 0;
    for (uint64_t off = 0; st == VDB_OK && off < len;) {
        size_t n = (size_t)VDB_MIN(bufsz, len - off);
        ssize_t r = vdb_sys_pread(fd, buf, n, (off_t)(VMAP_HEADER + off));
        if (r <= 0)
            st = vdb_set_errmsg(VDB_EIO, "mmap cache: reading back %s: %s", path,
                                r < 0 ? strerror(errno) : "short file");
        else {
            got = vdb_crc32c(got, buf, (size_t)r);
            off += (uint64_t)r;
        }
    }
    if (st == VDB_OK && got != crc)
        st = vdb_set_errmsg(VDB_ECORRUPT, "mmap cache: %s fails its checksum after writing",
                            path);
    vdb_free(buf);
    close(fd);
    return st;
}

vdb_status vdb_seg_cache_put(vdb_seg_cache *c, const char *key, const vdb_seg_map_shape *shape,
                             const void *data, vdb_seg_map **out, const void **mapped)
{
    size_t len = (size_t)shape->data_len;
    return vdb_seg_cache_put_parts(c, key, shape, &data, &len, 1, out, mapped);
}

vdb_status vdb_seg_cache_put_parts(vdb_seg_cache *c, const char *key,
                                   const vdb_seg_map_shape *shape, const void *const *parts,
                                   const size_t *lens, size_t nparts, vdb_seg_map **out,
                                   const void **mapped)
{
    char name[256];
    *out = NULL;
    *mapped = NULL;
    file_name(key, shape->src_crc, name, sizeof name);
    char *path = vdb_path_join(c->dir, name);
    size_t plen = path ? strlen(path) : 0;
    char *tmp = path ? vdb_malloc(plen + 5) : NULL;
    uint8_t *h = vdb_malloc(VMAP_HEADER);
    vdb_status st = VDB_OK;
    if (!path || !tmp || !h) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    uint32_t crc = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < nparts; i++) {
        crc = vdb_crc32c(crc, parts[i], lens[i]);
        total += lens[i];
    }
    if (total != shape->data_len) {
        st = vdb_set_errmsg(VDB_EINVAL, "mmap cache: %s: parts of %llu bytes, the shape says "
                            "%llu", path, (unsigned long long)total,
                            (unsigned long long)shape->data_len);
        goto done;
    }
    header_encode(shape, crc, h);
    uint64_t size = VMAP_HEADER + shape->data_len;
    pthread_mutex_lock(&c->mu);
    cache_entry *e = entry_find(c, name);
    if (e && e->maps == 0)
        entry_remove(c, e); /* replaced below */
    else if (e) {
        pthread_mutex_unlock(&c->mu);
        st = vdb_set_errmsg(VDB_ECONFLICT, "mmap cache: %s is mapped already", path);
        goto done;
    }
    st = make_room(c, size, path);
    pthread_mutex_unlock(&c->mu);
    if (st)
        goto done;
    /* The write and its check run outside mu; one load writes a given file at a time. */
    int fd = vdb_sys_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = vdb_set_errmsg(VDB_EIO, "mmap cache: create %s: %s", tmp, strerror(errno));
        goto done;
    }
    st = vdb_file_write_all(fd, h, VMAP_HEADER, tmp);
    for (size_t i = 0; st == VDB_OK && i < nparts; i++)
        if (lens[i])
            st = vdb_file_write_all(fd, parts[i], lens[i], tmp);
    if (st == VDB_OK && vdb_sys_fsync(fd) != 0)
        st = vdb_set_errmsg(VDB_EIO, "mmap cache: fsync %s: %s", tmp, strerror(errno));
    close(fd);
    if (st == VDB_OK)
        st = verify_file(tmp, shape->data_len, crc);
    if (st == VDB_OK && vdb_sys_rename(tmp, path) != 0)
        st = vdb_set_errmsg(VDB_EIO, "mmap cache: rename %s: %s", tmp, strerror(errno));
    if (st) {
        unlink(tmp);
        goto done;
    }
    pthread_mutex_lock(&c->mu);
    e = entry_add(c, name, size);
    st = e ? map_file(c, e, path, shape, out, mapped)
           : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    pthread_mutex_unlock(&c->mu);
done:
    vdb_free(h);
    vdb_free(tmp);
    vdb_free(path);
    return st;
}

void vdb_seg_map_release(vdb_seg_map *m)
{
    if (!m)
        return;
    slot_drop(m->slot);
    munmap(m->base, m->len);
    vdb_seg_cache *c = m->cache;
    pthread_mutex_lock(&c->mu);
    cache_entry *e = entry_find(c, m->name);
    if (e && --e->maps == 0 && __atomic_load_n(&m->reported, __ATOMIC_RELAXED))
        entry_remove(c, e); /* damaged: the next load fetches it again */
    pthread_mutex_unlock(&c->mu);
    vdb_free(m->name);
    vdb_free(m->path);
    vdb_free(m);
}

void vdb_seg_map_discard(vdb_seg_map *m)
{
    if (!m)
        return;
    __atomic_store_n(&m->reported, true, __ATOMIC_RELAXED);
    vdb_seg_map_release(m);
}

vdb_status vdb_seg_map_check(vdb_seg_map *m)
{
    if (!m || !__atomic_load_n(&slots[m->slot].damaged, __ATOMIC_ACQUIRE))
        return VDB_OK;
    __atomic_store_n(&m->reported, true, __ATOMIC_RELAXED); /* only ever set to true */
    return vdb_set_errmsg(VDB_ECORRUPT, "mmap cache file %s was cut short or damaged while "
                          "mapped (its missing pages read as zeros); it is fetched again "
                          "when the database is next opened", m->path);
}

void vdb_seg_map_drop_pages(vdb_seg_map *m)
{
    if (!m)
        return;
    /* advice only: a failure changes nothing */
    madvise(m->base, m->len, MADV_DONTNEED);
    madvise(m->base, m->len, MADV_RANDOM);
}

size_t vdb_seg_map_size(const vdb_seg_map *m) { return m ? m->len - VMAP_HEADER : 0; }
const char *vdb_seg_map_path(const vdb_seg_map *m) { return m ? m->path : NULL; }

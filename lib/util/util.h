/* Shared internals: allocation (with fault injection), errors, byte buffers, checksums,
 * hashing and clocks. Every module includes this; it includes only the public headers. */
#ifndef VDB_UTIL_H
#define VDB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vdb/sys/backend.h"
#include "vdb/types.h"
#include "util/vtype.h"

/* ---- allocation: every allocation goes through these so tests can inject failures ---- */
void *vdb_malloc(size_t n);
void *vdb_calloc(size_t count, size_t size);
void *vdb_realloc(void *p, size_t n);
void vdb_free(void *p);
char *vdb_strdup(const char *s);
char *vdb_strndup(const char *s, size_t n);

/* ---- fault injection (fault.c): tests make the Nth allocation or file-system call fail ---- */
enum vdb_fault_op {
    VDB_FAULT_ALLOC = 1u << 0,  /* vdb_malloc / calloc / realloc: NULL */
    VDB_FAULT_WRITE = 1u << 1,  /* write, pwrite(v), ftruncate (sysio.h) and WAL writes */
    VDB_FAULT_SYNC = 1u << 2,   /* fsync, fdatasync (files and folders) */
    VDB_FAULT_RENAME = 1u << 3,
    VDB_FAULT_READ = 1u << 4,   /* pread */
    VDB_FAULT_OPEN = 1u << 5,   /* open, mkdir */
    VDB_FAULT_MMAP = 1u << 6,
    VDB_FAULT_IO = 0x7eu,       /* every file-system call */
    VDB_FAULT_BACKEND = 1u << 7, /* every call into a store opened as "fault+<uri>" */
};
/* From now on, count the calls of the ops kinds (vdb_fault_op bits) and fail the nth with
 * errno err (and every later one while sticky); nth 0 disarms. */
void vdb_fault_arm(unsigned ops, uint64_t nth, int err, bool sticky);
void vdb_fault_disarm(void);
uint64_t vdb_fault_passed(void); /* counted calls since the arm */
uint64_t vdb_fault_fired(void);  /* of them, failed */
/* The door: 0 lets the call go on, else the errno it fails with. */
int vdb_fault_hit(unsigned op);
/* Tests: make the nth allocation from now fail (and every one after it while sticky); 0 off. */
void vdb_fault_alloc_after(uint64_t nth, bool sticky);

/* ---- errors: the calling thread's last message ---- */
/* vdb_set_errmsg (public: vdb/sys/backend.h) sets it; vdb_err_clear resets it on entry to a
 * call. */
void vdb_err_clear(void);
const char *vdb_err_get(void);

/* ---- growable byte buffer (little-endian encoders) ---- */
typedef struct vdb_buf {
    uint8_t *p;
    size_t len, cap;
    bool oom; /* an append failed; the buffer keeps what it had */
} vdb_buf;

void vdb_buf_free(vdb_buf *b);
bool vdb_buf_reserve(vdb_buf *b, size_t extra);
void vdb_buf_put(vdb_buf *b, const void *p, size_t n);
void vdb_buf_u8(vdb_buf *b, uint8_t v);
void vdb_buf_u32(vdb_buf *b, uint32_t v);
void vdb_buf_u64(vdb_buf *b, uint64_t v);
void vdb_buf_str(vdb_buf *b, const char *s); /* u32 length + bytes */
void vdb_buf_bytes(vdb_buf *b, const void *p, size_t n); /* u64 length + bytes */

/* ---- bounds-checked reader over bytes; any overrun sets err and yields zeros ---- */
typedef struct vdb_rd {
    const uint8_t *p;
    size_t len, off;
    bool err;
} vdb_rd;

static inline vdb_rd vdb_rd_init(const void *p, size_t len)
{
    vdb_rd r = {(const uint8_t *)p, len, 0, false};
    return r;
}
const void *vdb_rd_take(vdb_rd *r, size_t n); /* NULL (and err) on overrun */
uint8_t vdb_rd_u8(vdb_rd *r);
uint32_t vdb_rd_u32(vdb_rd *r);
uint64_t vdb_rd_u64(vdb_rd *r);
/* A vdb_buf_str: returns a malloc'ed NUL-terminated copy, NULL on overrun or OOM. */
char *vdb_rd_str(vdb_rd *r);
/* A vdb_buf_bytes: points into the input; NULL on overrun. */
const void *vdb_rd_bytes(vdb_rd *r, size_t *n);

static inline void vdb_put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void vdb_put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint32_t vdb_get_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t vdb_get_u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* ---- structs that carry their size (first member: uint32_t struct_size) ---- */
/* Copies the caller's struct in (struct_size bytes, at least min) to out (size bytes, zero
 * past what the caller had). VDB_EINVAL names what when struct_size is short. */
vdb_status vdb_struct_in(const void *in, uint32_t struct_size, size_t min, void *out, size_t size,
                         const char *what);
/* Copies src (size bytes) out to the caller's dst, no further than dst's struct_size (which
 * must be at least min, else VDB_EINVAL naming what, and nothing is written). */
vdb_status vdb_struct_out(void *dst, size_t min, const void *src, size_t size, const char *what);

/* ---- checksums and hashing ---- */
/* CRC32C (Castagnoli), hardware-accelerated where the CPU has it (x86-64 SSE4.2, AArch64
 * CRC32; chosen at run time). Start with crc = 0. */
uint32_t vdb_crc32c(uint32_t crc, const void *p, size_t n);
/* Tests: "hardware" or "table", the implementation in use; force the table (true) or go back
 * to the CPU's choice (false). Not thread-safe. */
const char *vdb_crc32c_impl(void);
void vdb_crc32c_force_table(bool table);
/* A fast 64-bit hash of bytes (seeded), and of an int64. */
uint64_t vdb_hash_bytes(const void *p, size_t n, uint64_t seed);
uint64_t vdb_hash_u64(uint64_t v);

/* ---- clocks ---- */
uint64_t vdb_now_ms(void);      /* wall clock, ms since the epoch */
uint64_t vdb_mono_ns(void);     /* monotonic */

/* ---- files ---- */
/* Writes data to path atomically: a temporary file, fsync, rename, fsync of the folder. */
vdb_status vdb_file_write_atomic(const char *path, const void *data, size_t len);
/* write() of all len bytes (continuing short writes); VDB_EIO names path. */
vdb_status vdb_file_write_all(int fd, const void *data, size_t len, const char *path);
/* Reads a whole file into a malloc'ed buffer (NUL-terminated past len). */
vdb_status vdb_file_read(const char *path, void **data, size_t *len);
/* mkdir -p */
vdb_status vdb_mkdirs(const char *path);
/* fsync a directory so that creates/renames in it are durable */
vdb_status vdb_fsync_dir(const char *path);
/* rm -rf */
vdb_status vdb_remove_tree(const char *path);
/* A path joined from parts: malloc'ed "a/b" */
char *vdb_path_join(const char *a, const char *b);

/* Argument checks on entry to a public call: VDB_EINVAL with the message. */
#define VDB_CHECK_ARG(cond, ...)                                                            \
    do {                                                                                    \
        if (!(cond))                                                                        \
            return vdb_set_errmsg(VDB_EINVAL, __VA_ARGS__);                                 \
    } while (0)

#define VDB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define VDB_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VDB_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif

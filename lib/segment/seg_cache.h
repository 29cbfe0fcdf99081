/* The local cache of memory-mapped sealed-segment files (seg_cache.c).
 *
 * With vdb_options.mmap, the vector columns of sealed segments are not decoded into RAM: each
 * binlog (zstd) is decoded once into an uncompressed cache file "<dir>/<name>.vmap" whose
 * payload checksum is verified when it is written (read back from disk), and that file is
 * mapped read-only; the page cache decides what stays in memory. The folder is bounded
 * (max_bytes, 0 = no bound): files not mapped are evicted least recently used first.
 *
 * SIGBUS: a mapped file cut short under us (another process, a full disk on a sparse file)
 * would raise SIGBUS on the next read of a page past its end. Sizes are checked when a file
 * is mapped, and a process-wide SIGBUS handler, installed when the first cache opens,
 * handles faults inside libvdb's mapped ranges only: it maps a zero page over the faulting
 * page, so that the read completes, and marks the mapping damaged; vdb_seg_map_check then
 * turns that into VDB_ECORRUPT naming the file (the search that read it fails). Faults
 * anywhere else go to the handler installed before libvdb's (or the default action). */
#ifndef VDB_SEG_CACHE_H
#define VDB_SEG_CACHE_H

#include "util/util.h"

typedef struct vdb_seg_cache vdb_seg_cache;
typedef struct vdb_seg_map vdb_seg_map;

/* What a cache file holds: a fixed-width column's values, dim and rows to check against. */
typedef struct vdb_seg_map_shape {
    uint32_t type, dim;
    uint64_t rows;
    uint64_t data_len;  /* bytes of values */
    uint32_t src_crc;   /* the crc32c of the object it came from (the manifest's) */
} vdb_seg_map_shape;

/* shape.type of a vector index's file: this bit or'ed with the indexed field's type (the
 * column files carry the column's type). */
#define VDB_SEG_MAP_INDEX 0x10000u
/* shape.data_len for vdb_seg_cache_get: whatever length the cached file's header says (the
 * file's size must still match it); vdb_seg_map_size tells it. */
#define VDB_SEG_MAP_ANY_LEN UINT64_MAX

/* Opens (creating) the cache folder: forgets temporary files left by a crash, indexes the
 * files there for eviction. */
vdb_status vdb_seg_cache_open(const char *dir, uint64_t max_bytes, vdb_seg_cache **out);
/* Every map must be released first. */
void vdb_seg_cache_close(vdb_seg_cache *c);

/* Maps the cache file for object key (whose manifest crc is shape->src_crc) when it is there
 * and its header and size match shape: *out set, *data its values. When it is missing or
 * does not match (a damaged file is deleted here), *out = NULL and VDB_OK: the caller
 * decodes the object and calls vdb_seg_cache_put. */
vdb_status vdb_seg_cache_get(vdb_seg_cache *c, const char *key, const vdb_seg_map_shape *shape,
                             vdb_seg_map **out, const void **data);
/* Writes data (shape->data_len bytes) as the cache file of key, verifies it on disk, evicts
 * files not mapped to keep the bound, and maps it. VDB_ENOSPC-like errors are VDB_ERANGE
 * (the bound cannot fit the file) or VDB_EIO, naming the file. */
vdb_status vdb_seg_cache_put(vdb_seg_cache *c, const char *key, const vdb_seg_map_shape *shape,
                             const void *data, vdb_seg_map **out, const void **mapped);
/* The same, with the payload given as nparts pieces written one after the other (lens[i]
 * bytes at parts[i], summing to shape->data_len): a layout of several arrays without a copy
 * of them all in one buffer. */
vdb_status vdb_seg_cache_put_parts(vdb_seg_cache *c, const char *key,
                                   const vdb_seg_map_shape *shape, const void *const *parts,
                                   const size_t *lens, size_t nparts, vdb_seg_map **out,
                                   const void **mapped);
/* Unmaps; the file stays cached (and may now be evicted). NULL is a no-op. */
void vdb_seg_map_release(vdb_seg_map *m);
/* Unmaps and deletes the file from the cache (its contents proved unusable). NULL: no-op. */
void vdb_seg_map_discard(vdb_seg_map *m);
/* VDB_OK, or VDB_ECORRUPT naming the file when a read of it faulted (it was cut short
 * while mapped: the values read as zeros); the file is deleted from the cache so that the
 * next load fetches it again. */
vdb_status vdb_seg_map_check(vdb_seg_map *m);
/* Drops the process's page-table entries for m (madvise MADV_DONTNEED): the pages stay in
 * the page cache, but no longer count in the process's resident set until read again; and
 * advises random access (MADV_RANDOM: a page fault reads that page, not 128 KiB around it).
 * For after a pass over every row (an index loaded from them), when the reads that follow
 * are an index's: a few rows per query, anywhere. */
void vdb_seg_map_drop_pages(vdb_seg_map *m);
/* Bytes mapped (the file's payload). */
size_t vdb_seg_map_size(const vdb_seg_map *m);
/* The cache file's path (for tests and messages). */
const char *vdb_seg_map_path(const vdb_seg_map *m);

#endif

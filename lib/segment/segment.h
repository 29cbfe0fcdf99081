/* The segment module: columns, binlog files, bloom filters, primary-key lookup, delete
 * records and the growing/sealed segment built from them. Not thread-safe: the core holds
 * a segment's lock around every call that changes it. */
#ifndef VDB_SEGMENT_H
#define VDB_SEGMENT_H

#include "util/util.h"
#include "vdb/sys/object_backend.h"

/* ---- columns ---------------------------------------------------------------------------- */

/* Column storage: fixed-width types (BOOL as 1 byte, INT8..INT64, FLOAT, DOUBLE, FLOAT_VECTOR
 * as dim floats, FLOAT16 / BFLOAT16 / INT8 vectors as dim 2- or 1-byte elements) in one
 * array; var-length types (VARCHAR, JSON, ARRAY as JSON text) as bytes plus rows+1 offsets.
 * A SPARSE_FLOAT_VECTOR row is var-length too: its n indices (uint32) then its n values
 * (float), 8n bytes (index/kernels/kernels.h, vdb_sparse_view). A nullable column has one
 * valid byte per row (1 = present); a NULL row
 * still takes its slot (zeros / empty string). */
typedef struct vdb_column {
    vdb_type type;
    uint32_t dim;
    bool nullable;
    size_t rows, cap;
    uint8_t *data;      /* fixed-width: rows * width bytes */
    uint8_t *valid;     /* nullable only */
    uint64_t *offsets;  /* var-length only: rows + 1 entries, offsets[0] = 0 */
    char *bytes;        /* var-length only */
    size_t nbytes, bytes_cap;
    struct vdb_seg_map *map; /* non-NULL: data is mapped from the mmap cache (read-only) */
} vdb_column;

/* Bytes per row of a fixed-width type; 0 for var-length types. */
size_t vdb_type_width(vdb_type type, uint32_t dim);
static inline bool vdb_type_is_var(vdb_type t)
{
    return t == VDB_TYPE_VARCHAR || t == VDB_TYPE_JSON || t == VDB_TYPE_ARRAY ||
           t == VDB_TYPE_SPARSE_FLOAT_VECTOR;
}

void vdb_column_init(vdb_column *c, vdb_type type, uint32_t dim, bool nullable);
void vdb_column_free(vdb_column *c);
/* Appends one row: fixed types read width bytes at val (len ignored); var types read len
 * bytes. valid=false appends a NULL (val may be NULL). VDB_ENOMEM leaves c unchanged. */
vdb_status vdb_column_push(vdb_column *c, const void *val, size_t len, bool valid);
/* Checks rows [from, from+n) of src against dst and makes room for them: appending them then
 * cannot fail. */
vdb_status vdb_column_reserve_for(vdb_column *dst, const vdb_column *src, size_t from, size_t n);
/* Appends rows [from, from+n) of src (same type) / the rows listed in idx. */
vdb_status vdb_column_append(vdb_column *dst, const vdb_column *src, size_t from, size_t n);
vdb_status vdb_column_append_rows(vdb_column *dst, const vdb_column *src, const uint32_t *idx,
                                  size_t n);
/* Drops rows past `rows` (to undo a partial append). */
void vdb_column_truncate(vdb_column *c, size_t rows);

static inline const void *vdb_column_at(const vdb_column *c, size_t row)
{
    return c->data + row * vdb_type_width(c->type, c->dim);
}
static inline const char *vdb_column_var(const vdb_column *c, size_t row, size_t *len)
{
    *len = (size_t)(c->offsets[row + 1] - c->offsets[row]);
    /* a column of empty values has no bytes at all (and NULL + 0 is undefined) */
    return c->bytes ? c->bytes + c->offsets[row] : "";
}
static inline bool vdb_column_is_null(const vdb_column *c, size_t row)
{
    return c->nullable && !c->valid[row];
}
size_t vdb_column_memory(const vdb_column *c);

/* Checks a var-length column's rows + 1 offsets (little-endian u64, any alignment): the first
 * is 0, none decreases, a NULL row (valid[i] == 0; valid may be NULL) has no bytes, a sparse
 * row is a multiple of 8 bytes. *nbytes gets the last offset. VDB_ECORRUPT names the row. */
vdb_status vdb_column_check_offsets(const void *offsets, size_t rows, const uint8_t *valid,
                                    vdb_type type, uint64_t *nbytes);
/* Plain encoding (used inside log records): type, dim, nullable, rows, then the arrays. */
void vdb_column_encode(const vdb_column *c, vdb_buf *out);
/* Checks every length and offset; VDB_ECORRUPT with a message when anything is off. */
vdb_status vdb_column_decode(vdb_rd *r, vdb_column *out);

/* ---- binlog files: one column, zstd-compressed, checksummed ----------------------------- */
/* Layout: "VDBBLOG1", u32 format version, u32 crc32c of the compressed payload, u64 raw
 * size, u64 compressed size, u32 crc32c of the header so far; then the zstd frame of the
 * column's plain encoding. */
vdb_status vdb_binlog_encode(const vdb_column *c, vdb_buf *out);
vdb_status vdb_binlog_decode(const void *file, size_t len, vdb_column *out);

/* ---- primary keys ------------------------------------------------------------------------ */

/* A primary key value: an int64, or a string (s != NULL, len bytes). */
typedef struct vdb_pk {
    int64_t i;
    const char *s;
    size_t len;
} vdb_pk;

uint64_t vdb_pk_hash(vdb_pk pk);
bool vdb_pk_equal(vdb_pk a, vdb_pk b);
/* Key order, as Milvus orders primary keys: integers by value, strings bytewise (a prefix
 * first). Both keys of one type. */
int vdb_pk_cmp(vdb_pk a, vdb_pk b);
/* The key of row `row` of a primary-key column (INT64 or VARCHAR). */
vdb_pk vdb_pk_of(const vdb_column *pkcol, size_t row);

/* A bloom filter over primary-key hashes. */
typedef struct vdb_bloom {
    uint64_t *bits;
    uint64_t nbits;
    uint32_t k;
} vdb_bloom;
vdb_status vdb_bloom_init(vdb_bloom *b, size_t expected, double fp_rate);
void vdb_bloom_free(vdb_bloom *b);
void vdb_bloom_add(vdb_bloom *b, uint64_t hash);
bool vdb_bloom_may_contain(const vdb_bloom *b, uint64_t hash);
void vdb_bloom_encode(const vdb_bloom *b, vdb_buf *out);
vdb_status vdb_bloom_decode(vdb_rd *r, vdb_bloom *out);

/* ---- segments ---------------------------------------------------------------------------- */

/* What a segment's columns look like: one per schema field, in schema order (the dynamic
 * "$meta" JSON column is just the last field when the schema has one). */
/* Columns a layout may have at most (the schema's fields and "$meta"). */
#define VDB_SEG_MAX_COLS 258

typedef struct vdb_segment_layout {
    size_t ncols;
    const vdb_type *types;
    const uint32_t *dims;
    const bool *nullable;
    size_t pk_col;
    /* Columns a collection gained after a segment or log record was written
     * (vdb_add_collection_field): fill[i] holds the one value (a NULL or the field's default)
     * such a column reads as in the older rows; a column whose fill has no row (or fill
     * NULL) can never be missing. meta_last: the last column is the dynamic "$meta" one,
     * which stays last, so the fields added go before it. */
    const vdb_column *fill;
    bool meta_last;
} vdb_segment_layout;

/* Widens the n columns of an older layout in cols (room for layout->ncols) to the layout:
 * the older "$meta" column moves last, each missing column gets `rows` rows of its fill.
 * VDB_ECORRUPT when a missing column has no fill; on failure cols is as it was. */
vdb_status vdb_columns_widen(const vdb_segment_layout *layout, vdb_column *cols, size_t n,
                             size_t rows);

typedef struct vdb_delete_rec {
    vdb_pk pk;      /* s (if any) is owned by the segment */
    uint64_t ts;
} vdb_delete_rec;

typedef struct vdb_segment vdb_segment;

typedef struct vdb_segment_info {
    uint64_t id;
    uint64_t partition_id;
    uint32_t shard;
    bool sealed;
    size_t rows;
    uint64_t min_ts, max_ts;
    uint64_t end_pos;        /* log position of the last record whose rows are all here */
    size_t deletes;          /* delete records held */
    size_t persisted_deletes;
    size_t memory;           /* bytes held in memory */
} vdb_segment_info;

/* A new segment holds one reference (its creator's). */
vdb_status vdb_segment_new(uint64_t id, uint64_t partition_id, uint32_t shard,
                           const vdb_segment_layout *layout, vdb_segment **out);
/* Reference counting, so a background index build can keep a segment alive while the
 * catalog drops it (compaction, drop partition): vdb_segment_ref adds a holder and
 * vdb_segment_free drops one, freeing the segment with the last. Both are thread-safe
 * (atomic); everything else about a segment still needs the caller's lock. */
void vdb_segment_ref(vdb_segment *s);
void vdb_segment_free(vdb_segment *s);
void vdb_segment_get_info(const vdb_segment *s, vdb_segment_info *out);
/* The facts a caller needs per row or per key, without the walk vdb_segment_get_info does. */
uint64_t vdb_segment_id(const vdb_segment *s);
uint32_t vdb_segment_shard(const vdb_segment *s);
uint64_t vdb_segment_partition(const vdb_segment *s);
size_t vdb_segment_memory(const vdb_segment *s); /* O(columns) */
void vdb_segment_set_end_pos(vdb_segment *s, uint64_t pos);

/* Checks `rows` rows of cols against the segment and makes room for them, so that appending
 * them next cannot fail (for a write that must not fail once it is durable). */
vdb_status vdb_segment_reserve(vdb_segment *s, const vdb_column *cols, size_t from, size_t rows);
/* Appends `rows` rows stamped ts; cols[i] are parallel to the layout and hold at least
 * from+rows rows. All or nothing. Only for growing segments. */
vdb_status vdb_segment_append(vdb_segment *s, const vdb_column *cols, size_t from, size_t rows,
                              uint64_t ts);
const vdb_column *vdb_segment_column(const vdb_segment *s, size_t col);
/* Gives s the columns layout has and it lacks (vdb_columns_widen), growing or sealed; the
 * caller holds every lock that keeps readers and seal writers of s out. A sealed segment's
 * files stay those it was written with (a later load widens it again). */
vdb_status vdb_segment_widen(vdb_segment *s, const vdb_segment_layout *layout);
const uint64_t *vdb_segment_timestamps(const vdb_segment *s);
size_t vdb_segment_rows(const vdb_segment *s);

/* Records a delete of pk at ts when this segment holds a row with that key inserted before
 * ts (*hit = true); otherwise records nothing. A (pk, ts) already held is not added twice. */
vdb_status vdb_segment_delete(vdb_segment *s, vdb_pk pk, uint64_t ts, bool *hit);
/* The delete records (for compaction and tests). */
const vdb_delete_rec *vdb_segment_deletes(const vdb_segment *s, size_t *n);

/* MVCC: sets bit i of bitset (ceil(rows/64) words, zeroed by the callee) when row i is
 * visible at T: inserted at ts <= T and no delete of its key at td with ts < td <= T.
 * Returns the number of visible rows. */
size_t vdb_segment_visible(const vdb_segment *s, uint64_t T, uint64_t *bitset);
/* The row with key pk visible at T (the newest if several), or -1. */
int64_t vdb_segment_find(const vdb_segment *s, vdb_pk pk, uint64_t T);
/* Whether the segment may hold pk (bloom filter; exact for growing segments). */
bool vdb_segment_may_contain(const vdb_segment *s, vdb_pk pk);

/* Per-column attachments (indexes built by lib/index): the segment keeps one pointer per
 * column and frees it with free_fn when replaced or when the segment is freed. Reading them
 * is safe alongside other readers; setting needs the caller's exclusive lock. */
void vdb_segment_set_attachment(vdb_segment *s, size_t col, void *ptr, void (*free_fn)(void *));
/* The same for an attachment that reads a file mapped from the mmap cache (an index used in
 * place): the segment releases map after freeing ptr, and vdb_segment_check_mapped /
 * vdb_segment_drop_mapped_pages cover it as they cover mapped columns. map may be NULL. */
void vdb_segment_set_attachment_mapped(vdb_segment *s, size_t col, void *ptr,
                                       void (*free_fn)(void *), struct vdb_seg_map *map);
void *vdb_segment_attachment(const vdb_segment *s, size_t col);

/* ---- persistence through the object store -----------------------------------------------
 * A sealed segment lives under "<prefix>/<id>/": one binlog per column ("col_<i>"), one for
 * row timestamps ("ts"), the bloom filter ("bloom"), and delete logs ("delta_<n>"). Its
 * manifest (written by the core into the meta store) lists them. */

/* Marks s sealed and writes its files; *manifest gets the manifest. */
vdb_status vdb_segment_seal(vdb_segment *s, const vdb_object_backend *be, void *store,
                            const char *prefix, vdb_buf *manifest);
/* The same, with cache != NULL: its columns mapped as vdb_segment_seal_map maps them (for a
 * segment nothing else sees yet: a compaction's output). */
struct vdb_seg_cache;
vdb_status vdb_segment_seal_cached(vdb_segment *s, const vdb_object_backend *be, void *store,
                                   const char *prefix, struct vdb_seg_cache *cache,
                                   vdb_buf *manifest);
/* The same in two steps, so that readers need not wait for the I/O: seal_write writes the
 * files and the manifest and only reads s (readers may run alongside; no writer may);
 * seal_finish then marks s sealed, a short in-memory step for under the caller's exclusive
 * lock. A pending seal that is not finished is freed with vdb_seal_pending_free. */
typedef struct vdb_seal_pending {
    struct vdb_seg_file *files;
    size_t nfiles;
    struct vdb_seg_file *deltas;
    size_t ndeltas;
    vdb_bloom bloom;
    size_t persisted;
    /* vdb_segment_seal_map: per column, its cache file mapped (NULL: stays on the heap) */
    struct vdb_seg_map **maps;
    const void **mapped;
} vdb_seal_pending;
/* deletes: the segment's delete records as vdb_segment_deletes_snapshot gave them (taken
 * under a lock that keeps delete writers out, so that seal_write itself needs none), or NULL
 * to read them here. */
vdb_status vdb_segment_seal_write(const vdb_segment *s, const vdb_object_backend *be,
                                  void *store, const char *prefix, const vdb_buf *deletes,
                                  size_t ndeletes, vdb_buf *manifest, vdb_seal_pending *out);
vdb_status vdb_segment_deletes_snapshot(const vdb_segment *s, vdb_buf *out, size_t *count);
void vdb_segment_seal_finish(vdb_segment *s, vdb_seal_pending *p);
/* With options.mmap, between seal_write and seal_finish (only reads s; no lock needed beyond
 * seal_write's): writes the vector and sparse columns to the mmap cache under the keys and
 * checksums of the binlogs just written, as a later load would, and maps them; seal_finish
 * then frees the heap copies and reads the columns in place. A column the cache cannot take
 * (its bound, an I/O error) stays on the heap; nothing fails. */
struct vdb_seg_cache;
void vdb_segment_seal_map(const vdb_segment *s, struct vdb_seg_cache *cache,
                          vdb_seal_pending *p);
void vdb_seal_pending_free(vdb_seal_pending *p);
/* Delete records not yet persisted, written as a new delta file in two steps like the seal:
 * deletes_write only reads s (readers may run alongside; no writer may) and, when there were
 * any (out->deltas != NULL), gives the updated manifest; deletes_finish then counts them as
 * persisted, a short in-memory step for under the caller's exclusive lock, once the manifest
 * is committed. Sealed segments only. */
typedef struct vdb_delta_pending {
    struct vdb_seg_file *deltas; /* the segment's delta files with the new one last */
    size_t ndeltas;
    size_t persisted;
} vdb_delta_pending;
vdb_status vdb_segment_deletes_write(const vdb_segment *s, const vdb_object_backend *be,
                                     void *store, const char *prefix, vdb_buf *manifest,
                                     vdb_delta_pending *out);
void vdb_segment_deletes_finish(vdb_segment *s, vdb_delta_pending *p);
void vdb_delta_pending_free(vdb_delta_pending *p);
/* Both steps at once; *wrote tells whether there was anything to write. */
vdb_status vdb_segment_persist_deletes(vdb_segment *s, const vdb_object_backend *be,
                                       void *store, const char *prefix, vdb_buf *manifest,
                                       bool *wrote);
/* Loads a sealed segment from its manifest; checks every file (VDB_ECORRUPT names it). */
vdb_status vdb_segment_load(const void *manifest, size_t len, const vdb_segment_layout *layout,
                            const vdb_object_backend *be, void *store, vdb_segment **out);
/* Reads every file the manifest lists (columns, timestamps, bloom filter, delete logs) and
 * checks it against the size and checksum the manifest records, for vdb_check: fn gets each
 * problem (its message set, naming the file) and the count is returned. A manifest that does
 * not decode is one problem. */
size_t vdb_segment_verify(const void *manifest, size_t len, const vdb_object_backend *be,
                          void *store, void (*fn)(void *arg, vdb_status st), void *arg);
/* The same, with cache != NULL: the vector columns are mapped from the local mmap cache
 * (seg_cache.h) instead of decoded into RAM; a cache file missing or damaged is made again
 * from its object. */
struct vdb_seg_cache;
vdb_status vdb_segment_load_cached(const void *manifest, size_t len,
                                   const vdb_segment_layout *layout,
                                   const vdb_object_backend *be, void *store,
                                   struct vdb_seg_cache *cache, vdb_segment **out);
/* VDB_ECORRUPT naming the file when a read of one of s's mapped files faulted (the file was
 * cut short while mapped, seg_cache.h); VDB_OK otherwise. For after a search of s. */
vdb_status vdb_segment_check_mapped(const vdb_segment *s);
/* After a pass over every row of s's mapped columns (an index loaded over them, which
 * re-encodes its codes from the rows) or over its mapped index files (checked when loaded):
 * their pages leave the process's resident set, stay in the page cache, and are read page
 * by page from now on (vdb_seg_map_drop_pages). */
void vdb_segment_drop_mapped_pages(const vdb_segment *s);
/* Bytes of s mapped from the mmap cache, index files included (not counted by
 * vdb_segment_memory). */
size_t vdb_segment_mapped_bytes(const vdb_segment *s);
/* The object keys a segment's manifest names (to delete them after a drop or compaction).
 * Calls fn for each. */
vdb_status vdb_segment_manifest_files(const void *manifest, size_t len,
                                      void (*fn)(void *arg, const char *key), void *arg);

#endif

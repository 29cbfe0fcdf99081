/* Inside the segment module: the pk index, the segment struct and the helpers that
 * segment.c and segment_store.c share. Not part of the module's door (segment.h). */
#ifndef VDB_SEGMENT_INT_H
#define VDB_SEGMENT_INT_H

#include "segment.h"

#define VDB_ROW_NONE UINT32_MAX

/* One distinct key: its hash, its newest row (older rows chain through next[]) and its
 * newest delete record (older ones chain through the segment's del_next[]). */
typedef struct vdb_pk_slot {
    uint64_t hash;
    uint32_t row; /* VDB_ROW_NONE: empty slot */
    uint32_t del; /* VDB_ROW_NONE: no delete recorded */
} vdb_pk_slot;

/* Open addressing (linear probing) over distinct keys; rows with equal keys are chained.
 * Rebuilt from the pk column on load, never stored. */
typedef struct vdb_pk_index {
    vdb_pk_slot *slots;
    size_t mask; /* nslots - 1; nslots is a power of two, 0 when unallocated */
    size_t nkeys;
    uint32_t *next;
    size_t rows, next_cap;
} vdb_pk_index;

void vdb_pk_index_free(vdb_pk_index *x);
/* Makes room so that adding rows up to `total` cannot fail. */
vdb_status vdb_pk_index_reserve(vdb_pk_index *x, size_t total);
/* Adds row x->rows (the next one) of pkcol; needs room reserved. */
void vdb_pk_index_add(vdb_pk_index *x, const vdb_column *pkcol);
/* The slot of pk, or NULL. */
vdb_pk_slot *vdb_pk_index_find(const vdb_pk_index *x, const vdb_column *pkcol, vdb_pk pk);
size_t vdb_pk_index_memory(const vdb_pk_index *x);

/* An object a sealed segment's manifest names. */
typedef struct vdb_seg_file {
    char *key;
    uint64_t size;
    uint32_t crc;
    uint64_t count; /* delta files: delete records in it */
} vdb_seg_file;

typedef struct vdb_seg_attachment {
    void *ptr;
    void (*free_fn)(void *);
    struct vdb_seg_map *map; /* what ptr reads in place (an index file), released after it */
} vdb_seg_attachment;

struct vdb_segment {
    uint64_t id, partition_id, end_pos, min_ts, max_ts;
    uint32_t shard;
    bool sealed;
    size_t ncols, pk_col, rows;
    vdb_column *cols;
    uint64_t *ts;
    size_t ts_cap;
    vdb_pk_index idx;
    vdb_bloom bloom; /* sealed only */
    vdb_delete_rec *dels;
    uint32_t *del_next;
    size_t ndels, dels_cap, persisted;
    size_t del_bytes;    /* string keys of the delete records */
    vdb_seg_file *files; /* sealed: col_0..col_{n-1}, ts, bloom */
    size_t nfiles;
    vdb_seg_file *deltas;
    size_t ndeltas;
    vdb_seg_attachment *att; /* per column, NULL until the first attachment */
    int refs;                /* atomic: holders (the catalog, background index builds) */
};

/* Records (pk, ts) against the key's slot unless already held; copies a string key. */
vdb_status vdb_segment_add_delete(vdb_segment *s, vdb_pk_slot *slot, vdb_pk pk, uint64_t ts);

/* A sealed segment's manifest: what it is and which objects hold it (manifest.c). */
typedef struct vdb_manifest {
    uint64_t id, partition_id, rows, min_ts, max_ts, end_pos;
    uint32_t shard;
    size_t ncols;
    vdb_seg_file *files; /* ncols + 2: the columns, "ts", "bloom" */
    size_t nfiles;
    vdb_seg_file *deltas;
    size_t ndeltas;
} vdb_manifest;

void vdb_manifest_encode(const vdb_manifest *m, vdb_buf *out);
/* Strict: magic, version, checksum, every count and key; VDB_ECORRUPT otherwise. */
vdb_status vdb_manifest_decode(const void *p, size_t len, vdb_manifest *out);
void vdb_manifest_free(vdb_manifest *m);
void vdb_seg_files_free(vdb_seg_file *f, size_t n);

/* Delete log files (delta.c): *recs is malloc'ed; string keys point into p. */
void vdb_delta_encode(const vdb_delete_rec *recs, size_t n, vdb_buf *out);
vdb_status vdb_delta_decode(const void *p, size_t len, vdb_delete_rec **recs, size_t *n);

/* The bloom filter as a file: magic, version, the encoding, crc32c (bloom.c). */
void vdb_bloom_file_encode(const vdb_bloom *b, vdb_buf *out);
vdb_status vdb_bloom_file_decode(const void *p, size_t len, vdb_bloom *out);

#endif

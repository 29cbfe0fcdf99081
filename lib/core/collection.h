/* A collection in memory: its schema, the column layout its segments share, partitions,
 * shards (one log channel each, with its growing segments), its sealed segments, and the
 * index chosen for each field. collection.c owns the object: creation, the meta-store
 * encoding, partition and shard lookups, and the sealed-segment list.
 *
 * Locks (docs/ARCHITECTURE.md has the whole order): write_mu serialises the collection's
 * writers and DDL, so that timestamp order is log order; lock is taken for reading by
 * searches and for writing by the short in-memory steps that change what readers see. */
#ifndef VDB_CORE_COLLECTION_H
#define VDB_CORE_COLLECTION_H

#include <pthread.h>

#include "core/schema.h"
#include "expr/expr.h"
#include "index/scalar/scalar_index.h"
#include "index/vector/vindex.h"
#include "segment/segment.h"
#include "util/lockorder.h"

typedef struct vdb_partition {
    char *name;
    uint64_t id;
} vdb_partition;

typedef struct vdb_shard {
    char channel[64];
    uint64_t last_pos;       /* last log position applied */
    uint64_t last_ts;        /* timestamp of the last record applied */
    uint64_t ckpt_pos;       /* everything up to here is in sealed segments */
    uint64_t ckpt_ts;
    uint64_t hw_pos;         /* the channel's last position when the database last closed
                                (meta "loghw/<coll>/<shard>"; 0: none): the log holds it */
    vdb_segment **growing;   /* one per partition slot (NULL: none yet) */
    size_t ngrowing;
    /* growing segments rotated out by a seal that has not committed yet: still searched and
     * still taking deletes, no longer taking rows (the list holds a reference to each) */
    vdb_segment **sealing;
    size_t nsealing, sealing_cap;
    uint64_t last_write_ms;  /* wall clock of the last rows applied (idle seals) */
    uint64_t rotated_pos;    /* the log position and timestamp at the last rotation: every */
    uint64_t rotated_ts;     /* record up to it is in a sealing or sealed segment */
    pthread_mutex_t seal_mu; /* one seal of this shard at a time; taken before write_mu */
    bool seal_queued;        /* a background seal is queued (under write_mu) */
    vdb_status seal_fail;    /* the last background seal's failure (VDB_OK: none) ... */
    char *seal_fail_msg;     /* ... and its words; under write_mu */
    /* time ticks (tick.c; under write_mu): the last tick's position and timestamp, and the
     * ticks written since the channel was last trimmed to its last tick */
    uint64_t tick_pos, tick_ts;
    uint32_t ticks_untrimmed;
    uint64_t trim_pos;       /* the last `upto` passed to the log's truncate (db->hold_mu) */
    uint64_t seen_pos;       /* a reader (follow.c): the channel's last position when read */
    uint64_t follow_pos;     /* a reader: every record up to here is applied (or void) */
} vdb_shard;

/* The index chosen for one schema field (type NULL: none). Changed under write_mu and lock. */
typedef struct vdb_field_index {
    const char *type;             /* canonical name: "HNSW", "FLAT", "STL_SORT", ... */
    vdb_vindex_spec spec;         /* vector fields: the kind (FLAT included) and parameters */
    vdb_sindex_kind skind;        /* scalar fields: the kind */
    /* bumped by every create/drop of the field's index, so a background build for an index
     * that is no longer there is discarded */
    uint64_t gen;
    vdb_status fail;              /* the first failed build of this index: its status */
    char *fail_msg;               /* ... and its message (NULL: none failed) */
    char *name;                   /* the index's name (set with type; changed under write_mu
                                     and c->lock written) */
} vdb_field_index;

/* Collection properties as key/value strings (Milvus's collection properties). */
typedef struct vdb_props {
    size_t n;
    char **keys, **vals;
} vdb_props;

void vdb_props_free(vdb_props *p);
/* Copies src, then sets (vals[i] non-NULL) or removes (NULL) keys[i] for i < n; *out is
 * all or nothing. */
vdb_status vdb_props_edit(const vdb_props *src, size_t n, const char *const *keys,
                          const char *const *vals, vdb_props *out);
/* Checks p's keys and values: collection.ttl.seconds a decimal integer >= 0; every other key
 * VDB_EUNSUPPORTED, named. *ttl_ms gets the TTL in ms (0: none). */
vdb_status vdb_props_check(const vdb_props *p, uint64_t *ttl_ms);
/* mmap.enabled of checked properties: 1 "true", 0 "false", -1 not set. */
int vdb_props_mmap(const vdb_props *p);

typedef struct vdb_collection {
    char *name;              /* changed by a rename under the catalog's and c->lock's write
                                locks: threads that hold neither read it under c->lock */
    uint64_t id;
    uint64_t incarnation;    /* its creation timestamp (0: made before incarnations) */
    vdb_schema *schema;
    /* segment layout: schema fields, then "$meta" when dynamic */
    size_t ncols;
    vdb_type *types;
    uint32_t *dims;
    bool *nullable;
    vdb_segment_layout layout;
    char seg_prefix[64];     /* object key prefix of its segments */
    vdb_expr_field *expr_fields; /* what filters may name */
    vdb_expr_schema expr_schema;
    vdb_field_index *index;  /* per schema field */
    uint64_t index_failures; /* failed builds since the indexes were created */

    pthread_mutex_t write_mu; /* serialises writers: ts order == log order */
    pthread_rwlock_t lock;    /* readers vs. in-memory changes */
    bool failed;              /* a write failed half-way: refuse writes until reopen */
    bool dropped;             /* dropped from the meta store (under write_mu): nothing more
                                 may be written there for it */

    size_t nparts;
    vdb_partition *parts;
    uint32_t nshards;
    vdb_shard *shards;
    size_t nsealed, sealed_cap;
    vdb_segment **sealed;
    uint64_t read_segments;  /* segments picked by reads (atomic; vdb_stats.read_segments) */
    /* collection properties (props.c), kept in its record after the incarnation;
     * replaced under the catalog's write lock and c->lock for writing */
    vdb_props props;
    uint64_t ttl_ms;         /* collection.ttl.seconds in ms (0: none); atomic */
    /* per column: what older rows read for a field added since (layout.fill; addfield.c) */
    vdb_column *fill;
    /* mmap.c: set once when the collection is loaded at the open, from its mmap.enabled
     * property or options.mmap: 1 mapped, 2 on the heap; 0 (created since): options.mmap */
    int mmap_mode;
    /* JSON path indexes (jsonidx.c), any number per JSON field; changed under write_mu and
     * c->lock written. Each sealed segment holds those of a field as the attachment of the
     * field's column (a vdb_jpath_set). */
    size_t njpath;
    struct vdb_jpath_def *jpath;
} vdb_collection;

/* A collection in memory with no partitions yet (schema is copied). incarnation (its creation
 * timestamp; 0 for one made before incarnations) is part of its channel and object names. */
vdb_status vdb_collection_new(const vdb_schema *schema, uint64_t id, uint64_t incarnation,
                              vdb_collection **out);
void vdb_collection_free(vdb_collection *c);
/* The meta-store record of c ("coll/<name>": id, schema, partitions, incarnation); extra
 * (may be NULL) is added to the partitions and skip_slot (-1: none) left out, for DDL that is
 * not applied yet. */
vdb_status vdb_collection_encode(const vdb_collection *c, const vdb_partition *extra,
                                 int skip_slot, vdb_buf *out);
/* ... the record c would have with another schema (add_collection_field). */
vdb_status vdb_collection_encode_schema(const vdb_collection *c, const vdb_schema *schema,
                                       vdb_buf *out);
/* ... the record c would have under another name (rename). */
vdb_status vdb_collection_encode_as(const vdb_collection *c, const char *name, vdb_buf *out);
vdb_status vdb_collection_decode(const void *val, size_t len, vdb_collection **out);
/* The meta key of a collection record. */
void vdb_collection_key(char *buf, size_t n, const char *name);
/* The meta key of an alias record ("alias/<alias>"; the value: its collection's name). */
void vdb_alias_key(char *buf, size_t n, const char *alias);
/* "<kind>/<collection id>/<id>": keys of segments ("seg"), checkpoints ("ckpt"). */
void vdb_meta_key(char *buf, size_t n, const char *kind, uint64_t coll, uint64_t id);

vdb_status vdb_collection_add_partition(vdb_collection *c, const char *name, uint64_t id);
int vdb_partition_slot(const vdb_collection *c, uint64_t partition_id);
int vdb_partition_by_name(const vdb_collection *c, const char *name);
uint32_t vdb_shard_of(const vdb_collection *c, vdb_pk pk);

/* Replaces c's properties by p (taken), with their TTL (caller's locks as for c->props). */
void vdb_collection_take_props(vdb_collection *c, vdb_props *p, uint64_t ttl_ms);
/* vdb_segment_visible for a segment of c, less the rows its TTL expired at T (inserted
 * before T's physical time minus the TTL), as a read at T sees them (props.c). */
size_t vdb_collection_visible(const vdb_collection *c, const vdb_segment *s, uint64_t T,
                              uint64_t *bitset);
/* Whether a row inserted at ts is expired by c's TTL at T. */
bool vdb_collection_expired(const vdb_collection *c, uint64_t ts, uint64_t T);

/* The sealed-segment list (lock held for writing where readers may look). */
vdb_status vdb_collection_add_sealed(vdb_collection *c, vdb_segment *s);
bool vdb_collection_has_sealed(const vdb_collection *c, const vdb_segment *s);
/* Takes the listed segments out of the list, dropping the list's reference to each. */
void vdb_collection_remove_sealed(vdb_collection *c, vdb_segment *const *segs, size_t n);

/* A shard's list of segments being sealed: add one (the list takes the reference), or take
 * one out (false when it is not there; the caller gets the list's reference). */
vdb_status vdb_shard_add_sealing(vdb_shard *sh, vdb_segment *s);
bool vdb_shard_take_sealing(vdb_shard *sh, const vdb_segment *s);

/* Refuses writes after a write failed half-way (VDB_EIO naming the collection). */
vdb_status vdb_collection_check_writable(const vdb_collection *c);

#endif

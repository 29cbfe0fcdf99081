/* The core's own structures: the database handle, the catalog (collections, partitions,
 * shards, segments), schemas and batches, and the functions the core's files share. */
#ifndef VDB_CORE_H
#define VDB_CORE_H

#include <pthread.h>

#include "vdb/vdb.h"

#include "expr/expr.h"
#include "index/scalar/scalar_index.h"
#include "index/vector/vindex.h"
#include "util/json.h"
#include "log/log.h"
#include "segment/segment.h"
#include "storage/storage.h"
#include "tso/tso.h"
#include "util/util.h"
#include "util/workers.h"

#define VDB_FORMAT_VERSION 1
#define VDB_DEFAULT_PARTITION "_default"
#define VDB_DYNAMIC_FIELD "$meta"
#define VDB_MAX_NAME 255
#define VDB_MAX_FIELDS 256
#define VDB_MAX_DIM 32768
#define VDB_MAX_VARCHAR 65535
#define VDB_MAX_CAPACITY 4096
#define VDB_MAX_SHARDS 64
#define VDB_MAX_PARTITIONS 1024
#define VDB_MAX_TOPK 16384
#define VDB_MAX_BATCH_ROWS (1u << 24)

/* ---- schemas ---- */
typedef struct vdb_field {
    vdb_field_def def;     /* strings owned */
    bool has_default;
    vdb_json_scalar defv;  /* parsed default */
} vdb_field;

struct vdb_schema {
    char *name;
    char *description;
    bool dynamic;
    uint32_t shards;
    size_t nfields;
    vdb_field *fields;
    int pk;                /* index of the primary key, -1 until added */
};

vdb_status vdb_schema_copy(const vdb_schema *src, vdb_schema **out);
/* Every check that needs the whole schema (a primary key, a vector field). */
vdb_status vdb_schema_check_complete(const vdb_schema *s);
void vdb_schema_encode(const vdb_schema *s, vdb_buf *out);
vdb_status vdb_schema_decode(vdb_rd *r, vdb_schema **out);
int vdb_schema_find(const vdb_schema *s, const char *name);
bool vdb_name_valid(const char *name);

/* ---- batches ---- */
typedef struct vdb_batch_col {
    char *name;
    vdb_column col; /* type as given by the caller */
} vdb_batch_col;

struct vdb_batch {
    size_t ncols, cap;
    vdb_batch_col *cols;
    size_t rows;
};

/* ---- results ---- */
struct vdb_result {
    size_t ngroups;
    size_t *group_off;     /* ngroups + 1 */
    vdb_column pks;        /* INT64 or VARCHAR */
    float *dist;           /* per row, or NULL */
    size_t nfields;
    char **names;
    vdb_column *fields;    /* one column per output field */
    uint64_t ts;
};

vdb_status vdb_result_new(vdb_type pk_type, size_t ngroups, size_t nfields, vdb_result **out);

/* ---- index parameters (indexes.c) ---- */
typedef struct vdb_index_params {
    uint32_t M, ef_construction; /* HNSW */
    uint32_t nlist;              /* IVF_*: lists (default 128) */
    uint32_t pq_m, pq_nbits;     /* IVF_PQ: sub-quantizers (divides dim), bits (default 8) */
} vdb_index_params;

static inline vdb_vindex_params vdb_index_vparams(const vdb_index_params *p)
{
    return (vdb_vindex_params){p->M, p->ef_construction, p->nlist, p->pq_m, p->pq_nbits};
}

/* ---- catalog ---- */
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
    vdb_segment **growing;   /* one per partition slot (NULL: none yet) */
    size_t ngrowing;
} vdb_shard;

typedef struct vdb_collection {
    char *name;
    uint64_t id;
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
    const char **index_type; /* per schema field: the index type name, or NULL */
    vdb_index_params *index_params; /* per schema field: its parameters */
    /* per schema field, under lock: bumped by every create/drop of the field's index, so a
     * background build for an index that is no longer there is discarded */
    uint64_t *index_gen;
    vdb_status *index_fail;   /* per field: the status of a failed build of this index */
    char **index_fail_msg;    /* ... and its message (NULL: none failed) */
    uint64_t index_failures;  /* failed builds since the index was created */

    pthread_mutex_t write_mu; /* serialises writers: ts order == log order */
    pthread_rwlock_t lock;    /* readers vs. in-memory changes */
    bool failed;              /* a write failed half-way: refuse writes until reopen */

    size_t nparts;
    vdb_partition *parts;
    uint32_t nshards;
    vdb_shard *shards;
    size_t nsealed, sealed_cap;
    vdb_segment **sealed;
} vdb_collection;

struct vdb_db {
    char *path;
    vdb_options opts;
    int lock_fd;
    vdb_log_store log;
    vdb_meta_store meta;
    vdb_object_store obj;
    vdb_tso *tso;

    pthread_mutex_t id_mu;
    uint64_t next_id, id_limit;

    pthread_rwlock_t catalog; /* the collection list */
    size_t ncolls;
    vdb_collection **colls;

    pthread_t bg;
    bool bg_started, bg_stop;
    pthread_mutex_t bg_mu;
    pthread_cond_t bg_cv;

    vdb_pool *builds;          /* background vector-index builds */
    vdb_pool *search;          /* helpers of parallel searches (NULL: searches run inline) */
    uint32_t build_threads;    /* threads per build */
    pthread_mutex_t progress_mu; /* the user's progress callback: set, and one call at a time */
    vdb_index_progress_fn progress_fn;
    void *progress_arg;
    pthread_mutex_t idx_mu;    /* with idx_cv: waiting for index builds */
    pthread_cond_t idx_cv;
    uint64_t idx_events;       /* atomic: bumped when a build ends or an index comes or goes */
};

/* ids for collections, partitions, segments and auto_id rows: unique across restarts */
vdb_status vdb_db_alloc_ids(vdb_db *db, uint64_t n, uint64_t *first);
uint64_t vdb_db_horizon(vdb_db *db); /* oldest timestamp time travel may still read */

/* catalog.c */
vdb_collection *vdb_catalog_find(vdb_db *db, const char *name); /* catalog lock held */
vdb_status vdb_catalog_lookup(vdb_db *db, const char *name, vdb_collection **out);
vdb_status vdb_collection_new(vdb_db *db, const vdb_schema *schema, uint64_t id,
                              vdb_collection **out);
void vdb_collection_free(vdb_collection *c);
vdb_status vdb_collection_save(vdb_db *db, vdb_collection *c, vdb_buf *out);
vdb_status vdb_collection_decode(vdb_db *db, const void *val, size_t len,
                                 vdb_collection **out);
int vdb_partition_slot(const vdb_collection *c, uint64_t partition_id);
int vdb_partition_by_name(const vdb_collection *c, const char *name);
uint32_t vdb_shard_of(const vdb_collection *c, vdb_pk pk);
void vdb_meta_key(char *buf, size_t n, const char *kind, uint64_t coll, uint64_t id);

vdb_status vdb_delete_keys(vdb_db *db, vdb_collection *c, const char *partition,
                           vdb_column *pkcol, uint64_t *ts_out);

/* convert.c: caller input -> the collection's columns (ncols of them, initialised here) */
vdb_status vdb_convert_batch(vdb_db *db, vdb_collection *c, const vdb_batch *b, bool upsert,
                             vdb_column *cols);
vdb_status vdb_convert_pks(vdb_collection *c, const vdb_pk_list *pks, vdb_column *out);

/* write.c */
vdb_status vdb_apply_insert(vdb_db *db, vdb_collection *c, const vdb_rec_header *h,
                            const vdb_column *cols, size_t rows, uint64_t pos);
vdb_status vdb_apply_delete(vdb_db *db, vdb_collection *c, uint32_t shard,
                            uint64_t partition_id, const vdb_column *pks, uint64_t ts);
vdb_status vdb_decode_columns(vdb_collection *c, const void *body, size_t len,
                              vdb_column *cols, size_t *rows);
vdb_status vdb_decode_delete(vdb_collection *c, const void *body, size_t len, vdb_column *pks);

/* flush.c: seal a shard's growing segments and persist deletes (write_mu held) */
vdb_status vdb_seal_shard(vdb_db *db, vdb_collection *c, uint32_t shard);
vdb_status vdb_collection_add_sealed(vdb_collection *c, vdb_segment *s);
vdb_status vdb_compact_collection(vdb_db *db, vdb_collection *c);

/* read.c: the pieces every read shares */
typedef struct vdb_seg_set {
    size_t n;
    vdb_segment **segs;
} vdb_seg_set;

typedef struct vdb_out_field {
    const char *name;
    int col;         /* segment column, or -1 for a dynamic key */
    vdb_type type;
    uint32_t dim;
} vdb_out_field;

vdb_status vdb_read_ts(vdb_db *db, const vdb_read_opts *r, uint64_t *T);
vdb_status vdb_pick_partitions(vdb_collection *c, const vdb_read_opts *r, bool *want);
vdb_status vdb_pick_segments(vdb_collection *c, const bool *want, uint32_t shard,
                             vdb_seg_set *out);
vdb_status vdb_resolve_outputs(vdb_collection *c, const vdb_read_opts *r, vdb_out_field **out,
                               size_t *n);
vdb_status vdb_result_open(vdb_collection *c, const vdb_out_field *of, size_t nof,
                           size_t groups, bool with_dist, size_t max_rows, vdb_result **out);
vdb_status vdb_result_push(vdb_collection *c, vdb_result *r, const vdb_out_field *of,
                           size_t nof, vdb_segment *s, size_t row);

/* filter.c: filters and scalar indexes on segments */
vdb_status vdb_collection_init_filters(vdb_collection *c);
/* NULL or "" gives *out = NULL (no filter). */
vdb_status vdb_filter_compile(vdb_collection *c, const char *text, vdb_expr **out);
/* Clears in bits (one per row of s) every row the filter rejects. */
vdb_status vdb_filter_apply(vdb_collection *c, const vdb_expr *e, const vdb_segment *s,
                            uint64_t *bits);

/* segment_index.c: the collection's indexes on sealed segment s. Builds the missing scalar
 * indexes here, and loads saved vector indexes from the object store when load_saved (a
 * vector index not found there is left to vdb_index_queue); lock (may be NULL) is taken for
 * writing around the attach when readers may see s. Errors are the scalar builds'. */
vdb_status vdb_index_segment(vdb_db *db, vdb_collection *c, vdb_segment *s,
                             pthread_rwlock_t *lock, bool load_saved);
/* Queues a background build for every vector index s lacks (s must be in c->sealed; the
 * caller holds write_mu or is alone, and not c->lock). The build saves the index beside the
 * segment and attaches it under c's write lock, unless s or the index went meanwhile. */
void vdb_index_queue(vdb_db *db, vdb_collection *c, vdb_segment *s);
/* Tells waiters (vdb_wait_for_index) to look again. */
void vdb_index_notify(vdb_db *db);
/* Memory and rows of the vector indexes on s (any field). */
void vdb_index_usage(const vdb_collection *c, const vdb_segment *s, uint64_t *bytes,
                     uint64_t *rows);
/* Removes every object under a segment's folder (its files and saved indexes). */
void vdb_segment_objects_delete(vdb_db *db, const vdb_collection *c, uint64_t segment_id);

/* indexes.c */
vdb_status vdb_load_indexes(vdb_db *db, vdb_collection *c);
/* The index type for a field (AUTOINDEX resolved) and its parameters, checked. */
vdb_status vdb_index_check(const vdb_field_def *f, const char *type, const char *params,
                           const char **canon, vdb_index_params *out);

/* recovery.c */
vdb_status vdb_recover(vdb_db *db);

/* entry/exit of public calls */
#define VDB_CHECK_ARG(cond, ...)                                                            \
    do {                                                                                    \
        if (!(cond))                                                                        \
            return vdb_set_errmsg(VDB_EINVAL, __VA_ARGS__);                                 \
    } while (0)

#endif

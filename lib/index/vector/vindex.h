/* The vector-index kinds behind one vtable. Each kind (HNSW, IVF_FLAT, ...) is a const
 * vdb_vindex_kind defined in its own file, listed once in vindex.c; it declares its build and
 * search parameters as tables (names as Milvus spells them, ranges, defaults), which the one
 * parser here reads, and it owns its build, search and file format. The core sees kinds only
 * through this header: adding an index type is one file plus one line in vindex.c.
 *
 * Ownership differs by kind and the kind keeps it: HNSW points at the caller's rows (the
 * segment's vector column must outlive the index, unchanged), IVF copies what it needs (a
 * view, decode_view, reads the caller's bytes instead). A
 * built index is read-only: any number of threads may search it at once. */
#ifndef VDB_VINDEX_H
#define VDB_VINDEX_H

#include "index/kernels/kernels.h"

#define VDB_VINDEX_MAX_PARAMS 8

/* One parameter of a kind. Numbers are kept as doubles; integer ones are checked to be whole.
 * A parameter with choices takes one of those words (case-insensitive) and is kept as its
 * index. */
typedef struct vdb_param_def {
    const char *name;            /* as Milvus spells it: "M", "efConstruction", "nprobe" */
    const char *tag;             /* its short form in saved index names ("efc"); NULL: name */
    double lo, hi, def;          /* range and default */
    bool integer;
    const char *const *choices;  /* NULL-terminated words, or NULL for a number */
} vdb_param_def;

/* Values of a kind's parameters, in the order of its table (defaults where not given). */
typedef struct vdb_vparams {
    double v[VDB_VINDEX_MAX_PARAMS];
    uint32_t given; /* bit i: parameter i was named by the caller */
} vdb_vparams;

/* The rows an index is built over (a sealed segment's vector column). */
typedef struct vdb_vectors {
    vdb_type type;      /* a vector type (BINARY_VECTOR: dim bits, dim / 8 bytes a row) */
    uint32_t dim;
    vdb_metric metric;
    size_t n;
    const void *data;   /* n rows, row-major, dim elements each */
    /* SPARSE_FLOAT_VECTOR (dim 0): n + 1 byte offsets of the rows in data (kernels.h,
     * vdb_sparse_view); NULL for dense types. */
    const uint64_t *offsets;
} vdb_vectors;

/* Vector types are numbered from 100 (as Milvus's DataType): one bit each in a kind's mask. */
#define VDB_VTYPE_BIT(t) (1u << (((unsigned)(t) - 100u) & 31u))

typedef void (*vdb_build_progress_fn)(void *arg, size_t done, size_t total);

typedef struct vdb_vindex_kind {
    const char *name;      /* "HNSW": upper case, as Milvus names it */
    const char *file_tag;  /* "hnsw": saved indexes are "<file_tag>_<column>_<params>" */
    uint32_t types;        /* VDB_VTYPE_BIT(t) set: indexes vectors of vdb_type t */
    const vdb_param_def *build_params;
    size_t n_build_params;
    const vdb_param_def *search_params;
    size_t n_search_params;
    /* What a single parameter's range cannot say (efConstruction >= M; m divides dim); a
     * required parameter not given. NULL: nothing more to check. */
    vdb_status (*check)(const vdb_vparams *p, const vdb_vectors *shape);
    /* NULL for a kind with nothing to build (FLAT: exact search). */
    vdb_status (*build)(const vdb_vparams *p, const vdb_vectors *rows, uint32_t threads,
                        vdb_build_progress_fn progress, void *arg, void **out);
    /* The k best rows for query among those set in bitset (NULL: all), pushed into out as
     * (score, id_base + row); out's range window, when set, turns this into range search.
     * rows: what the index was built over (for kinds that re-rank or fall back to exact). */
    vdb_status (*search)(const void *idx, const void *query, uint32_t k, const vdb_vparams *sp,
                         const vdb_vectors *rows, const uint64_t *bitset, int64_t id_base,
                         vdb_topk *out);
    vdb_status (*encode)(const void *idx, vdb_buf *out);
    /* An index from encode's bytes over the same rows; VDB_ECORRUPT / VDB_EVERSION. */
    vdb_status (*decode)(const void *p, size_t len, const vdb_vectors *rows, void **out);
    size_t (*memory)(const void *idx); /* bytes held (HNSW: beside the rows it points at) */
    size_t (*rows)(const void *idx);
    void (*free)(void *idx);
    /* decode over bytes used in place (a mapped file: 64-byte aligned, alive and unchanged
     * until free; their checksum verified by the caller when it wrote them); they must be
     * what encode writes. NULL: the kind copies what it decodes (vdb_vindex_decode_view is
     * VDB_EUNSUPPORTED). */
    vdb_status (*decode_view)(const void *p, size_t len, const vdb_vectors *rows, void **out);
    /* search with the kind's own scorer (sparse kinds: a vdb_sparse_scorer, for BM25);
     * NULL: the kind has none (vdb_vindex_search_scored is VDB_EUNSUPPORTED). */
    vdb_status (*search_scored)(const void *idx, const void *query, const void *scorer,
                                const uint64_t *bitset, int64_t id_base, vdb_topk *out);
} vdb_vindex_kind;

/* ---- kinds ---- */

/* The kind named name (case-insensitive; AUTOINDEX is FLAT), or NULL. */
const vdb_vindex_kind *vdb_vindex_kind_find(const char *name);
/* The names of every kind, for messages ("FLAT, HNSW, IVF_FLAT, ..."). */
const char *vdb_vindex_kind_names(void);
/* The names of the kinds that index vectors of type t ("FLAT, HNSW"), into buf. */
void vdb_vindex_kind_names_for(vdb_type t, char *buf, size_t n);
/* Vector index types Milvus has and this library does not (DISKANN, SCANN, GPU_*). */
bool vdb_vindex_kind_unsupported(const char *name);
/* Whether the kind has anything to build (false for FLAT). */
static inline bool vdb_vindex_kind_builds(const vdb_vindex_kind *k) { return k->build != NULL; }

/* ---- a kind with its build parameters: the choice recorded for a field ---- */

typedef struct vdb_vindex_spec {
    const vdb_vindex_kind *kind;
    vdb_vparams p;
} vdb_vindex_spec;

/* A key=value the caller handles itself (metric_type, say): returns true when it took the
 * pair, with *st its verdict. */
typedef bool (*vdb_param_hook)(void *arg, const char *key, const char *val, vdb_status *st);

/* Reads "key=value,..." into kind's parameters for vectors of shape (defaults for the rest)
 * and checks them: VDB_EINVAL naming the parameter and what the kind takes. Each pair is
 * offered to hook first (may be NULL). */
vdb_status vdb_vindex_spec_parse(const vdb_vindex_kind *kind, const char *text,
                                 const vdb_vectors *shape, vdb_param_hook hook, void *arg,
                                 vdb_vindex_spec *out);
/* "M=16,efConstruction=200": every parameter, so that parsing it again gives the same spec. */
int vdb_vindex_spec_format(const vdb_vindex_spec *s, char *buf, size_t n);
bool vdb_vindex_spec_equal(const vdb_vindex_spec *a, const vdb_vindex_spec *b);
/* The object name of a saved index of column col: "hnsw_3_M16_efc200". */
int vdb_vindex_spec_file(const vdb_vindex_spec *s, size_t col, char *buf, size_t n);
/* An integer parameter of a spec or search parameter set, by name (its default if absent). */
uint32_t vdb_vparam_u32(const vdb_param_def *defs, size_t n, const vdb_vparams *p,
                        const char *name);

/* ---- search parameters ---- */

/* One search parameter key=val for an index of kind (NULL: the field has no index to
 * build). A key of kind's table is read into sp; a key another kind takes is checked against
 * that kind's range and otherwise has no effect here (Milvus lets a search name parameters of
 * other index types); a key no kind takes is ignored, as Milvus ignores it. *taken tells
 * whether some kind knew the key. */
vdb_status vdb_vindex_search_param(const vdb_vindex_kind *kind, const char *key, const char *val,
                                   vdb_vparams *sp, bool *taken);
/* Defaults of kind's search parameters into sp (kind may be NULL). */
void vdb_vindex_search_defaults(const vdb_vindex_kind *kind, vdb_vparams *sp);

/* ---- built indexes ---- */

typedef struct vdb_vindex vdb_vindex;

/* Builds an index of s over rows. threads: the build's worker threads (0 means 1). progress
 * (may be NULL) gets (arg, done, total) now and then, never concurrently. Errors are the
 * kind's own (VDB_EINVAL naming the parameter, VDB_ENOMEM, VDB_EUNSUPPORTED for a kind this
 * library was built without). */
vdb_status vdb_vindex_build(const vdb_vindex_spec *s, const vdb_vectors *rows, uint32_t threads,
                            vdb_build_progress_fn progress, void *arg, vdb_vindex **out);
vdb_status vdb_vindex_search(const vdb_vindex *idx, const void *query, uint32_t k,
                             const vdb_vparams *sp, const vdb_vectors *rows,
                             const uint64_t *bitset, int64_t id_base, vdb_topk *out);
/* Appends the index's bytes to out (the kind and parameters are in the object's name). */
vdb_status vdb_vindex_encode(const vdb_vindex *idx, vdb_buf *out);
vdb_status vdb_vindex_decode(const vdb_vindex_spec *s, const void *p, size_t len,
                             const vdb_vectors *rows, vdb_vindex **out);
/* An index over encode's bytes used in place (vdb_vindex_kind.decode_view says how): what
 * a kind without it answers is VDB_EUNSUPPORTED. */
vdb_status vdb_vindex_decode_view(const vdb_vindex_spec *s, const void *p, size_t len,
                                  const vdb_vectors *rows, vdb_vindex **out);
/* Whether kind k's saved indexes can be used in place. */
static inline bool vdb_vindex_kind_views(const vdb_vindex_kind *k) { return k->decode_view; }
const vdb_vindex_kind *vdb_vindex_kind_of(const vdb_vindex *idx);
/* kind->search_scored on idx. */
vdb_status vdb_vindex_search_scored(const vdb_vindex *idx, const void *query, const void *scorer,
                                    const uint64_t *bitset, int64_t id_base, vdb_topk *out);
size_t vdb_vindex_memory(const vdb_vindex *idx);
size_t vdb_vindex_rows(const vdb_vindex *idx);
/* NULL is a no-op. */
void vdb_vindex_free(vdb_vindex *idx);

/* The kinds (defined in hnsw.c, ivf.c and vindex.c). */
extern const vdb_vindex_kind vdb_flat_kind;
extern const vdb_vindex_kind vdb_hnsw_kind;
extern const vdb_vindex_kind vdb_ivf_flat_kind;
extern const vdb_vindex_kind vdb_ivf_sq8_kind;
extern const vdb_vindex_kind vdb_ivf_pq_kind;
extern const vdb_vindex_kind vdb_sparse_inverted_kind; /* sparse.c */
extern const vdb_vindex_kind vdb_sparse_wand_kind;
extern const vdb_vindex_kind vdb_bin_flat_kind; /* bin_ivf.c: BINARY_VECTOR fields */
extern const vdb_vindex_kind vdb_bin_ivf_flat_kind;

#endif

/* libvdb — an embeddable vector database with the architecture of Milvus 2.x.
 *
 * This header is the manual. Conventions for every function:
 * - It returns a vdb_status; VDB_OK (0) is success. On failure nothing was changed, and
 *   vdb_errmsg() gives the reason in words (the last error on the calling thread).
 * - Strings and arrays passed in are copied when needed; the caller keeps ownership.
 * - What the library hands out is freed by the named function (vdb_result_free, ...).
 * - A vdb_db handle is thread-safe: any number of threads may call into one handle.
 *   Schema and batch builders are not: use one per thread.
 *
 * Applications need only this header (it includes types.h). Storage backends are chosen by
 * URI in vdb_options; writing a backend of your own is done with the headers under vdb/sys/
 * (sys/log_backend.h, sys/meta_backend.h, sys/object_backend.h), which this one does not
 * include: the vtables are not part of the application API.
 */
#ifndef VDB_H
#define VDB_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VDB_VERSION_MAJOR 0
#define VDB_VERSION_MINOR 1
#define VDB_VERSION_PATCH 0
#define VDB_VERSION_NUMBER (VDB_VERSION_MAJOR * 10000 + VDB_VERSION_MINOR * 100 + VDB_VERSION_PATCH)
#define VDB_VERSION_STRING "0.1.0"

/* The version of the library actually loaded, as "0.1.0" and as VDB_VERSION_NUMBER. */
VDB_EXPORT const char *vdb_version(void);
VDB_EXPORT int vdb_version_number(void);

/* The message of the last failed call on this thread ("" if none). db may be NULL; the
 * message belongs to the thread, so it is right for whichever handle the thread used last.
 * Valid until the thread's next call into the library. */
typedef struct vdb_db vdb_db;
VDB_EXPORT const char *vdb_errmsg(const vdb_db *db);

/* ---- opening a database ------------------------------------------------------------------ */

/* Consistency of a search or get, as Milvus defines them. */
typedef enum vdb_consistency {
    VDB_CONSISTENCY_STRONG = 0,     /* sees every write acknowledged before the call */
    VDB_CONSISTENCY_BOUNDED = 1,    /* sees writes older than staleness_ms */
    VDB_CONSISTENCY_SESSION = 2,    /* sees at least up to the given session timestamp */
    VDB_CONSISTENCY_EVENTUALLY = 3, /* sees whatever has been applied (in-process: all) */
} vdb_consistency;

typedef struct vdb_options {
    uint32_t struct_size;        /* sizeof(vdb_options): lets the struct grow */
    vdb_sync_mode sync;          /* default VDB_SYNC_FULL */
    uint32_t sync_interval_ms;   /* VDB_SYNC_BATCH: default 100 */
    uint64_t segment_max_rows;   /* seal a growing segment at this many rows (default 1<<20) */
    uint64_t segment_max_bytes;  /* ... or at this many bytes (default 512 MiB) */
    uint64_t retention_seconds;  /* time travel window (default 432000 = 5 days, as Milvus) */
    uint32_t compaction_interval_ms; /* background compaction period; 0 = off (default 60000) */
    uint32_t compaction_min_segments; /* merge when a shard has this many small segments (4) */
    /* Where the log, meta and objects live, by URI scheme: the built-in backends (README,
     * "Storage backends") or one registered with vdb_register_*_backend (vdb/sys/). */
    const char *log_uri;         /* NULL: wal://<path>/wal */
    const char *meta_uri;        /* NULL: local://<path>/meta */
    const char *object_uri;      /* NULL: file://<path>/objects */
    int disable_io_uring;        /* force the plain pwrite() WAL path */
    /* Vector indexes are built in the background by index_build_workers threads (segments
     * indexed at once; 0 = 1, at most 64, default 1), each build using index_build_threads
     * threads (0 = one per CPU, the default; at most 1024). */
    uint32_t index_build_workers;
    uint32_t index_build_threads;
    /* A search spreads its segments over search_threads threads, the caller's included
     * (0 = one per CPU, the default; 1 = on the caller only; at most 1024). A search of one
     * segment, or of little data, always runs on the caller. */
    uint32_t search_threads;
    /* A growing segment that has rows and received none for this long is sealed in the
     * background, as Milvus seals idle segments (0 = never; default 600000: ten minutes). */
    uint32_t segment_idle_seal_ms;
    /* Memory-mapped sealed segments (Milvus's mmap). mmap = 1: the vector columns of sealed
     * segments loaded at open are not read into RAM; each is decoded once into an
     * uncompressed file of a local cache folder (its checksum verified when written) and
     * mapped, and the page cache decides what stays in memory. Searches answer the same.
     * mmap_cache_dir: the folder (NULL: <path>/mmap_cache); mmap_cache_bytes bounds it
     * (files not mapped are evicted, least recently used first; 0 = no bound; a load that
     * cannot fit is VDB_ERANGE). A cache file cut short while mapped does not crash the
     * process: the search reading it is VDB_ECORRUPT naming it, and it is fetched again at
     * the next open (README, "Memory-mapped segments"). */
    uint32_t mmap;
    const char *mmap_cache_dir;
    uint64_t mmap_cache_bytes;
    /* A bound on what the database holds in memory (0: none, the default): segment columns,
     * timestamps, pk indexes, bloom filters, delete records and vector indexes, as
     * vdb_stats.memory_bytes counts them (mapped columns are the page cache's and do not
     * count). An open whose loaded data is past it fails with VDB_ERANGE; an insert or upsert
     * that finds the database past it is VDB_ERANGE and changes nothing (Milvus's memory
     * protection); reads, deletes, flushes and compaction go on. */
    uint64_t memory_budget_bytes;
    /* Time ticks (Milvus's time tick): every shard's log channel that had no write for this
     * many milliseconds gets a tick record with a fresh timestamp, so that whoever follows the
     * log (a change stream, a node of a cluster) knows how far it has consumed in time. 0 =
     * no ticks; default 200; otherwise 10..3600000. A channel that holds only ticks since its
     * last seal is trimmed to its last tick now and then, so an idle database's log stays
     * small (docs/ARCHITECTURE.md, "Time ticks"). */
    uint32_t tick_interval_ms;
    /* A reader process (README, "Reader processes"). read_only = 1 opens the folder of a
     * database another process (the writer) has created, without its write lock and without
     * writing anything: every write, DDL, flush and compaction is VDB_EREADONLY. The reader
     * follows the writer's commits: every read_only_refresh_ms (default 200; 10..3600000) it
     * looks at the writer's meta store and log commit markers and, if they moved, loads the
     * new state beside the one it answers from and swaps it in whole (only whole committed
     * writes are ever seen, and reads never wait for a load). A STRONG read first catches
     * up with everything the writer committed before the call, giving up with VDB_ETIMEDOUT
     * after read_only_strong_timeout_ms (default 10000); BOUNDED, SESSION and EVENTUALLY
     * read the state of the last refresh. Needs the local meta store (local://) and object
     * store (file://) and the local WAL (wal://; another log is VDB_EUNSUPPORTED); mmap is
     * refused with it. */
    uint32_t read_only;
    uint32_t read_only_refresh_ms;
    uint32_t read_only_strong_timeout_ms;
} vdb_options;

/* Fills opts with the defaults above (sizeof(vdb_options) bytes, struct_size set). */
VDB_EXPORT void vdb_options_init(vdb_options *opts);
/* The same for a caller whose vdb_options is size bytes (an older, shorter layout, or a
 * binding that declares the struct itself): nothing past size is written. */
VDB_EXPORT void vdb_options_init_sized(vdb_options *opts, size_t size);

/* Opens (creating if needed) the database in folder path. opts may be NULL for defaults.
 * One process at a time may open a folder: a second gets VDB_ELOCKED naming the holder's pid
 * (readers, options.read_only, take no lock; the folder must hold a database then).
 * A lock left by a dead process is taken over. A folder written by a newer format version is
 * refused with VDB_EVERSION. Recovery (meta, sealed segments, log replay) happens here. */
VDB_EXPORT vdb_status vdb_open(const char *path, const vdb_options *opts, vdb_db **out);

/* An integrity check of the open database, as SQLite's PRAGMA integrity_check: reads every
 * file of every sealed segment (columns, timestamps, bloom filter, delete logs) and checks it
 * against the size and checksum its manifest records, reads every record each log channel
 * still holds (the DDL channel's too), and checks that no channel ends before its
 * checkpoint or the position it had at the last close. Each problem is handed to fn (may be NULL) with its status and a message naming
 * the file; *problems (may be NULL) gets how many there were. VDB_OK: none; otherwise the
 * first problem's status (VDB_ECORRUPT for damage) with a message counting them; a failure of
 * the check itself (the meta store unreadable) is returned as it is. Saved vector indexes are
 * decoded too; a damaged one is reported (it would be built again when next loaded). Writes
 * to a collection wait while it is checked. */
typedef void (*vdb_check_fn)(void *arg, vdb_status status, const char *message);
VDB_EXPORT vdb_status vdb_check(vdb_db *db, vdb_check_fn fn, void *arg, uint64_t *problems);

/* Closes the handle: stops background work, releases the lock. Acknowledged writes are
 * already durable; close does not flush growing segments (they are rebuilt from the log). */
VDB_EXPORT void vdb_close(vdb_db *db);

/* ---- schemas ----------------------------------------------------------------------------- */

typedef struct vdb_schema vdb_schema;

/* One field. Zero the struct, set struct_size, then set what applies. */
typedef struct vdb_field_def {
    uint32_t struct_size;    /* sizeof(vdb_field_def): lets the struct grow */
    const char *name;        /* letters, digits, '_'; starts with a letter or '_'; <= 255 */
    vdb_type type;
    vdb_type element_type;   /* ARRAY: the element type (bool, ints, float, double, varchar) */
    uint32_t dim;            /* vector fields (FLOAT, FLOAT16, BFLOAT16, INT8): 1..32768
                              * (SPARSE_FLOAT_VECTOR: none, 0; BINARY_VECTOR: bits, a
                              * multiple of 8 in 8..32768) */
    vdb_metric metric;       /* vector fields: default L2; SPARSE_FLOAT_VECTOR: IP only;
                              * BINARY_VECTOR: HAMMING (default) or JACCARD only */
    uint32_t max_length;     /* VARCHAR (and VARCHAR array elements): 1..65535 bytes */
    uint32_t max_capacity;   /* ARRAY: 1..4096 elements */
    int is_primary;          /* exactly one field: INT64 or VARCHAR */
    int auto_id;             /* primary INT64 only: the library assigns ids */
    int nullable;            /* scalar fields only */
    const char *default_json; /* default for a missing column or a NULL, as JSON text
                                ("5", "\"abc\"", "true"); scalar fields only */
    const char *description;
    /* Milvus's is_partition_key: at most one scalar INT64 or VARCHAR field (not the primary
     * key, not nullable). The collection then has vdb_schema_set_partitions hashed
     * partitions "_default_0".."_default_<n-1>"; each row goes to the one its key hashes to
     * (Milvus's hash: murmur3 of the 8 little-endian bytes & 0x7fffffff for INT64, CRC-32
     * (IEEE) of the first 100 bytes for VARCHAR, modulo n). Naming partitions in writes and
     * reads, and creating or dropping them, is then refused (VDB_EINVAL), as in Milvus; a
     * filter `key == v`, `key in [...]` (and / or of those) reads only their partitions. */
    int is_partition_key;
    /* Full-text search (Milvus 2.5), VARCHAR fields only. enable_analyzer: the field's text
     * is split into tokens by an analyzer, as the input of a BM25 function; analyzer_params
     * (with enable_analyzer only) is Milvus's analyzer_params JSON, checked here (NULL: the
     * standard analyzer): {"type": "standard" | "english"} or {"tokenizer": "standard" |
     * "whitespace", "filter": ["lowercase", {"type": "stop", "stop_words": ["_english_"]},
     * {"type": "length", "max": 40}, {"type": "stemmer", "language": "english"}]}.
     * README "Full-text search" lists what is built. enable_match (needs enable_analyzer):
     * TEXT_MATCH / PHRASE_MATCH filters (not built yet: VDB_EUNSUPPORTED). */
    int enable_analyzer;
    const char *analyzer_params;
    int enable_match;
} vdb_field_def;

#ifndef __cplusplus
/* A pointer to a field definition with struct_size set, for C callers:
 * vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1)); */
#define VDB_FIELD(...) (&(vdb_field_def){.struct_size = sizeof(vdb_field_def), __VA_ARGS__})
#endif

/* A new empty schema for a collection named name. Free with vdb_schema_free. */
VDB_EXPORT vdb_status vdb_schema_new(const char *name, vdb_schema **out);
VDB_EXPORT void vdb_schema_free(vdb_schema *schema);
/* Adds a field (copied). Checked here: name, type, parameters, one primary key. */
VDB_EXPORT vdb_status vdb_schema_add_field(vdb_schema *schema, const vdb_field_def *def);
/* Dynamic fields (Milvus's enable_dynamic_field): keys not in the schema are kept per row in
 * a hidden JSON field named "$meta" and returned like fields. Default off. */
VDB_EXPORT vdb_status vdb_schema_set_dynamic(vdb_schema *schema, int enabled);
/* Number of shards (log channels) of the collection: 1..64, default 1. */
VDB_EXPORT vdb_status vdb_schema_set_shards(vdb_schema *schema, uint32_t num_shards);
VDB_EXPORT vdb_status vdb_schema_set_description(vdb_schema *schema, const char *text);
/* Milvus's num_partitions: the hashed partitions of a collection with a partition key,
 * 1..1024 (default 16). Refused (at create) for a schema without a partition key. */
VDB_EXPORT vdb_status vdb_schema_set_partitions(vdb_schema *schema, uint32_t num_partitions);
/* The number of hashed partitions (0: the schema has no partition key). */
VDB_EXPORT uint32_t vdb_schema_partitions(const vdb_schema *schema);

/* Functions of a schema (Milvus's Function): VDB_FUNCTION_BM25 turns the text of an
 * enable_analyzer VARCHAR field into a SPARSE_FLOAT_VECTOR field at insert: one dimension
 * per distinct token, numbered by the token's hash (murmur3 x86 32-bit, seed 0, of its
 * UTF-8 bytes, as Milvus's BM25 function; two tokens of one hash count as one term), with
 * the token's count in the row as the value. The output field is left out of inserts
 * (supplying it is VDB_EINVAL), takes metric BM25 (set here) and is searched with text
 * (vdb_search_req.texts). Both fields must be in the schema already. */
typedef enum vdb_function_type {
    VDB_FUNCTION_BM25 = 1,
} vdb_function_type;

typedef struct vdb_function_def {
    uint32_t struct_size;     /* sizeof(vdb_function_def) */
    const char *name;         /* letters, digits, '_'; unique among the schema's functions */
    vdb_function_type type;
    const char *input_field;  /* a VARCHAR field with enable_analyzer */
    const char *output_field; /* a SPARSE_FLOAT_VECTOR field, the output of one function */
    const char *description;
} vdb_function_def;
VDB_EXPORT vdb_status vdb_schema_add_function(vdb_schema *schema, const vdb_function_def *def);
VDB_EXPORT size_t vdb_schema_function_count(const vdb_schema *schema);
/* Function i into *out (struct_size set by the caller); pointers live with the schema. */
VDB_EXPORT vdb_status vdb_schema_function(const vdb_schema *schema, size_t i,
                                          vdb_function_def *out);

/* Reading a schema (from vdb_describe_collection or one you built). */
VDB_EXPORT const char *vdb_schema_name(const vdb_schema *schema);
VDB_EXPORT size_t vdb_schema_field_count(const vdb_schema *schema);
/* Field i (0-based) into *out, whose struct_size the caller sets (the library writes no
 * more than that); pointers stay valid while the schema lives. */
VDB_EXPORT vdb_status vdb_schema_field(const vdb_schema *schema, size_t i, vdb_field_def *out);
VDB_EXPORT int vdb_schema_dynamic(const vdb_schema *schema);
VDB_EXPORT uint32_t vdb_schema_shards(const vdb_schema *schema);

/* ---- collections and partitions ---------------------------------------------------------- */

/* Creates a collection from schema (copied), with a "_default" partition. */
VDB_EXPORT vdb_status vdb_create_collection(vdb_db *db, const vdb_schema *schema);
/* Options of a create (vdb_create_collection_opts): zero it, set struct_size. */
typedef struct vdb_create_opts {
    uint32_t struct_size;      /* sizeof(vdb_create_opts): fields past it read as zero */
    /* Milvus's create_collection(properties=...): property_keys[i] = property_values[i],
     * i < n_properties, set in the same meta transaction as the create and checked as
     * vdb_alter_collection_properties checks them (an unknown key is VDB_EUNSUPPORTED, a
     * bad value VDB_EINVAL; then nothing is created). */
    const char *const *property_keys;
    const char *const *property_values;
    size_t n_properties;
} vdb_create_opts;
/* vdb_create_collection with options (opts may be NULL: none). */
VDB_EXPORT vdb_status vdb_create_collection_opts(vdb_db *db, const vdb_schema *schema,
                                                 const vdb_create_opts *opts);
/* Drops a collection and all its data: refused (VDB_EINVAL) through an alias and while the
 * collection has aliases (drop them first), as Milvus does. */
VDB_EXPORT vdb_status vdb_drop_collection(vdb_db *db, const char *name);
VDB_EXPORT vdb_status vdb_has_collection(vdb_db *db, const char *name, int *exists);
/* The collection's schema (a copy): free it with vdb_schema_free. */
VDB_EXPORT vdb_status vdb_describe_collection(vdb_db *db, const char *name, vdb_schema **out);

/* A list of names, freed with vdb_names_free. */
typedef struct vdb_names {
    size_t count;
    char **names;
} vdb_names;
/* The collections of the default database (vdb_list_collections_in: of another). */
VDB_EXPORT vdb_status vdb_list_collections(vdb_db *db, vdb_names **out);
VDB_EXPORT void vdb_names_free(vdb_names *names);

/* ---- databases ------------------------------------------------------------------------------
 * Namespaces of collections, as Milvus's databases. "default" always exists (it cannot be
 * created or dropped) and holds every collection named plainly, so a folder from before
 * databases opens with all its collections there. A collection or alias of another database
 * d is named "d.<name>" in every call that takes a collection or alias name (create through
 * the schema's name, rename to move it); names hold no '.', so this is unambiguous, and
 * "default.<name>" is "<name>". A qualified name is thread-friendly where a per-handle
 * "current database" would not be. An alias names a collection of its own database. */
/* VDB_EEXIST if it exists ("default" included); at most 64 databases, as Milvus. */
VDB_EXPORT vdb_status vdb_create_database(vdb_db *db, const char *name);
/* Refused for "default" (VDB_EINVAL) and while the database has collections (VDB_EINVAL,
 * Milvus's "not empty"); VDB_ENOTFOUND if there is none. */
VDB_EXPORT vdb_status vdb_drop_database(vdb_db *db, const char *name);
/* "default" first, then the others sorted. */
VDB_EXPORT vdb_status vdb_list_databases(vdb_db *db, vdb_names **out);
VDB_EXPORT vdb_status vdb_has_database(vdb_db *db, const char *name, int *exists);
/* The collections of database (NULL: "default"), by their names in it (unqualified), sorted;
 * VDB_ENOTFOUND if there is no such database. */
VDB_EXPORT vdb_status vdb_list_collections_in(vdb_db *db, const char *database,
                                              vdb_names **out);

VDB_EXPORT vdb_status vdb_create_partition(vdb_db *db, const char *collection, const char *name);
/* "_default" cannot be dropped. The partition's rows go with it. */
VDB_EXPORT vdb_status vdb_drop_partition(vdb_db *db, const char *collection, const char *name);
VDB_EXPORT vdb_status vdb_list_partitions(vdb_db *db, const char *collection, vdb_names **out);

/* ---- aliases, renames, truncation ---------------------------------------------------------- */

/* An alias is another name of a collection, as in Milvus: every call that takes a collection
 * name takes an alias too (vdb_drop_collection and vdb_rename_collection refuse one,
 * VDB_EINVAL). A call resolves the alias once, so while vdb_alter_alias moves it a call sees
 * one collection or the other, never neither. Aliases share the collections' namespace. */
/* Creates alias for collection (which must be a collection, not an alias). The same alias
 * for the same collection again is a no-op; for another collection VDB_EEXIST, as is a
 * collection of that name. */
VDB_EXPORT vdb_status vdb_create_alias(vdb_db *db, const char *collection, const char *alias);
/* Moves an existing alias to collection, in one step (VDB_ENOTFOUND if there is no alias). */
VDB_EXPORT vdb_status vdb_alter_alias(vdb_db *db, const char *collection, const char *alias);
/* VDB_ENOTFOUND if there is no such alias. A collection cannot be dropped while it has one. */
VDB_EXPORT vdb_status vdb_drop_alias(vdb_db *db, const char *alias);
/* The aliases of collection (a collection or an alias of it), or of all collections of every
 * database when it is NULL (those of other databases qualified, "d.<alias>"), sorted. */
VDB_EXPORT vdb_status vdb_list_aliases(vdb_db *db, const char *collection, vdb_names **out);
/* The name of the collection alias names, into collection (n bytes; VDB_MAX_NAME_LEN + 1 is
 * always enough; VDB_ERANGE if n is too small). */
#define VDB_MAX_NAME_LEN 255
VDB_EXPORT vdb_status vdb_describe_alias(vdb_db *db, const char *alias, char *collection,
                                         size_t n);
/* Renames a collection (not through an alias); its aliases follow it. VDB_EEXIST if
 * new_name is taken by a collection or an alias. */
VDB_EXPORT vdb_status vdb_rename_collection(vdb_db *db, const char *name, const char *new_name);
/* Removes every row of the collection (Milvus 2.6 truncate_collection): the schema,
 * partitions, index definitions and aliases stay; the data, its segments and log go, as
 * does what time travel could see before the truncation. */
VDB_EXPORT vdb_status vdb_truncate_collection(vdb_db *db, const char *collection);

/* ---- collection properties ---------------------------------------------------------------
 * Milvus's collection properties, as key/value strings kept in the collection's meta record;
 * each call is one meta transaction and changes nothing when it fails. Honoured:
 * - "collection.ttl.seconds": a whole number of seconds, 0 (no TTL) up to 2^32. A row whose
 *   insert timestamp is older than the read timestamp's physical time minus the TTL is not
 *   seen by search, query, get, count or iterators, and compaction drops it.
 * Refused (VDB_EUNSUPPORTED, named): "mmap.enabled" (per collection; vdb_options.mmap covers
 * every collection) and every other key. A bad value is VDB_EINVAL. */
/* Sets values[i] for keys[i], i < n (others keep theirs). */
VDB_EXPORT vdb_status vdb_alter_collection_properties(vdb_db *db, const char *collection,
                                                      const char *const *keys,
                                                      const char *const *values, size_t n);
/* Removes keys[i], i < n (a key not set is no error, as in Milvus). */
VDB_EXPORT vdb_status vdb_drop_collection_properties(vdb_db *db, const char *collection,
                                                     const char *const *keys, size_t n);
/* The properties set, as two lists of the same count (keys[i] has values[i]); free both
 * with vdb_names_free. */
VDB_EXPORT vdb_status vdb_describe_collection_properties(vdb_db *db, const char *collection,
                                                         vdb_names **keys, vdb_names **values);

/* ---- schemas that evolve ------------------------------------------------------------------
 * Milvus 2.6's add_collection_field: appends field (copied) to the collection's schema, in
 * one meta transaction that bumps the schema's version. As in Milvus the field must be a
 * scalar (vector fields are refused), nullable (a default is allowed besides), not the
 * primary key, not auto_id, not a partition key, and not named like a field the schema has
 * (VDB_EINVAL with Milvus's message); the schema's field limit applies. Rows written before
 * read the field's default if it has one, else NULL, in output and in filters (`f is null`);
 * new rows carry it and inserts may leave it out. Sealed and growing segments, compaction,
 * reopen and the replay of log records written before all see it so. A read at a timestamp
 * before the field was added (time travel) reads it as NULL when it has no default, and as
 * its default when it has one; vdb_describe_collection always shows the current schema.
 * Once a field was added, the collection's record is of a newer schema encoding: a library
 * from before this call refuses to open the folder (VDB_EVERSION, "schema written by an
 * unknown version") rather than misread it. */
VDB_EXPORT vdb_status vdb_add_collection_field(vdb_db *db, const char *collection,
                                               const vdb_field_def *field);

/* ---- columnar batches ---------------------------------------------------------------------- */

typedef struct vdb_batch vdb_batch;

VDB_EXPORT vdb_status vdb_batch_new(vdb_batch **out);
VDB_EXPORT void vdb_batch_free(vdb_batch *batch);

/* Adds a column of rows values for field (data is copied). Every column of a batch must
 * have the same number of rows.
 * - BOOL: const uint8_t[rows] (0/1); INT8..INT64: the C integer type; FLOAT: float;
 *   DOUBLE: double; FLOAT_VECTOR: const float[rows * dim]; FLOAT16_VECTOR and
 *   BFLOAT16_VECTOR: const uint16_t[rows * dim] (binary16 / bfloat16 bits; NaN and Inf are
 *   refused at insert, naming the element); INT8_VECTOR: const int8_t[rows * dim];
 *   BINARY_VECTOR: const uint8_t[rows * dim / 8] (dim in bits, a multiple of 8; packed as
 *   types.h says).
 * - SPARSE_FLOAT_VECTOR: const vdb_sparse_row[rows] (types.h; dim 0); the pairs are copied
 *   and checked at insert (ascending unique indices < 2^32 - 1, finite values >= 0).
 * - VARCHAR: const char *const[rows] (NUL-terminated UTF-8).
 * - JSON: const char *const[rows], each a JSON text. ARRAY: const char *const[rows], each a
 *   JSON array of the field's element type.
 * - valid: NULL (all present) or uint8_t[rows] with 0 where the value is NULL (nullable
 *   fields, or fields with a default; a NULL row takes the default).
 * type must match the field's type; it is checked at insert time, against the schema.
 * A column whose name is not in the schema goes, in a collection with dynamic fields on,
 * into each row's "$meta" object under that name. A column named "$meta" gives each row's
 * dynamic object directly (JSON objects). */
VDB_EXPORT vdb_status vdb_batch_add_column(vdb_batch *batch, const char *field, vdb_type type,
                                           const void *data, const uint8_t *valid, size_t rows,
                                           uint32_t dim);
VDB_EXPORT size_t vdb_batch_rows(const vdb_batch *batch);

/* ---- results ------------------------------------------------------------------------------ */

/* Rows grouped by query: a search gives one group per query vector; insert, get gives one
 * group. Free with vdb_result_free. */
typedef struct vdb_result vdb_result;

VDB_EXPORT void vdb_result_free(vdb_result *res);
VDB_EXPORT size_t vdb_result_groups(const vdb_result *res);
VDB_EXPORT size_t vdb_result_rows(const vdb_result *res, size_t group);
/* The primary key of a row: int64 keys through pk_int, varchar keys through pk_str. */
VDB_EXPORT vdb_type vdb_result_pk_type(const vdb_result *res);
VDB_EXPORT int64_t vdb_result_pk_int(const vdb_result *res, size_t group, size_t row);
VDB_EXPORT const char *vdb_result_pk_str(const vdb_result *res, size_t group, size_t row);
/* Search only: the distance (L2) or similarity (IP, COSINE) of the row to its query. */
VDB_EXPORT float vdb_result_distance(const vdb_result *res, size_t group, size_t row);
/* A requested output field of a row (schema field, or a dynamic key, or "$meta"). */
VDB_EXPORT vdb_status vdb_result_field(const vdb_result *res, size_t group, size_t row,
                                       const char *field, vdb_value *out);
/* The timestamp a write was stamped with (insert, upsert, delete results). */
VDB_EXPORT uint64_t vdb_result_timestamp(const vdb_result *res);

/* ---- writes -------------------------------------------------------------------------------- */

/* Inserts batch into partition (NULL: "_default"). The whole batch gets one timestamp and is
 * durable and visible when this returns VDB_OK; on error nothing of it is. *ts gets the
 * timestamp; *pks (may be NULL) gets the rows' primary keys (the assigned ones when auto_id),
 * as one group. */
VDB_EXPORT vdb_status vdb_insert(vdb_db *db, const char *collection, const char *partition,
                                 const vdb_batch *batch, uint64_t *ts, vdb_result **pks);
/* Like insert, but first deletes every row with the same primary key (in any partition), at
 * the same timestamp. Not allowed with auto_id. */
VDB_EXPORT vdb_status vdb_upsert(vdb_db *db, const char *collection, const char *partition,
                                 const vdb_batch *batch, uint64_t *ts, vdb_result **pks);
/* Deletes the rows with these primary keys (partition NULL: in every partition). Keys that
 * match nothing are not an error. */
VDB_EXPORT vdb_status vdb_delete(vdb_db *db, const char *collection, const char *partition,
                                 const vdb_pk_list *pks, uint64_t *ts);
/* Seals every growing segment of the collection (NULL: all collections) and writes it to the
 * object store, in the caller's thread. */
VDB_EXPORT vdb_status vdb_flush(vdb_db *db, const char *collection);
/* A growing segment that reaches segment_max_rows or segment_max_bytes stops taking rows at
 * once and is sealed in the background (searches keep seeing it meanwhile). This waits until
 * no such seal of the collection is left: VDB_OK; VDB_ETIMEDOUT when the time is up (the
 * seals go on); a seal that failed gives its status and message (its rows are safe in the
 * log and it is tried again by the next seal or vdb_flush). timeout_ms 0 only looks. */
VDB_EXPORT vdb_status vdb_wait_for_seals(vdb_db *db, const char *collection,
                                         uint64_t timeout_ms);
/* Runs a compaction pass now (the background one runs every compaction_interval_ms). */
VDB_EXPORT vdb_status vdb_compact(vdb_db *db, const char *collection);

/* ---- reads --------------------------------------------------------------------------------- */

/* Where a read stands in time. travel_ts != 0 reads as of that timestamp (time travel; it
 * must be inside the retention window, else VDB_ERANGE); else the consistency level picks.
 * Passed alone (get, query, count), struct_size must be set; inside a vdb_search_req the
 * request's struct_size covers it. */
typedef struct vdb_read_opts {
    uint32_t struct_size;         /* sizeof(vdb_read_opts): lets the struct grow */
    uint64_t travel_ts;
    vdb_consistency consistency;  /* default STRONG */
    uint64_t staleness_ms;        /* BOUNDED */
    uint64_t session_ts;          /* SESSION: the timestamp of the caller's last write */
    const char *const *partitions; /* NULL: all partitions */
    size_t n_partitions;
    const char *const *output_fields; /* NULL: none; "*": every field */
    size_t n_output_fields;
} vdb_read_opts;

#ifndef __cplusplus
/* A pointer to read options with struct_size set, for C callers:
 * vdb_get(db, "docs", &keys, VDB_READ_OPTS(.travel_ts = ts), &res); */
#define VDB_READ_OPTS(...) (&(vdb_read_opts){.struct_size = sizeof(vdb_read_opts), __VA_ARGS__})
#endif

typedef struct vdb_search_req {
    uint32_t struct_size;       /* sizeof(vdb_search_req): fields past it read as zero */
    const char *collection;
    const char *vector_field;   /* NULL: the collection's only vector field */
    const float *vectors;       /* nq * dim floats, for every dense vector type: FLOAT16,
                                   BFLOAT16 and INT8 rows are scored against the float query
                                   as they are stored (no float copy of the rows) */
    size_t nq;
    uint32_t dim;
    uint32_t k;                 /* 1..16384 */
    const char *filter;         /* boolean expression (Milvus syntax) rows must pass; NULL: all */
    const char *params;         /* search parameters "key=value,...": see below */
    vdb_read_opts read;
    uint32_t offset;            /* skip this many hits of each query first (pagination);
                                   k + offset at most 16384, as Milvus */
    /* Grouping search, as Milvus's: with group_by_field (a BOOL, INT8..INT64 or VARCHAR
     * field; NULL values form one group) k counts groups, not rows: the k best groups
     * (ranked by their best hit; offset skips groups) each with its group_size best rows
     * (default 1; 1..1024; k * group_size at most 1048576), every group's rows together,
     * best first. Exactly min(k, groups present) groups come back. The exact walk (segments
     * without a built index) keeps every group's best rows as it goes, so each group has
     * group_size rows where the data has them. An index is asked again for more hits (4x
     * each time) until they hold enough groups, or with strict_group_size until the best
     * groups among them are all full, or every passing row is returned; without
     * strict_group_size a group found through an index may come back with fewer rows, as
     * in Milvus. Not with range search. */
    const char *group_by_field;
    uint32_t group_size;
    int strict_group_size;
    /* Search by primary key (Milvus 2.6): with vectors NULL, the query vectors are the
     * stored vectors (of vector_field) of these rows, read at the search's own timestamp;
     * nq and dim are taken from them. A key with no visible row is VDB_ENOTFOUND. */
    const vdb_pk_list *query_pks;
    /* A SPARSE_FLOAT_VECTOR field is searched with nq of these instead of vectors (which
     * stays NULL; dim 0). Metric IP: the score is the dot product over shared indices.
     * params: drop_ratio_search (0 <= r < 1, default 0) ignores that fraction of each
     * query's smallest values, as Milvus's. Not with grouping, range search or query_pks
     * (VDB_EUNSUPPORTED). */
    const vdb_sparse_row *sparse_vectors;
    /* A BINARY_VECTOR field is searched with these instead of vectors (which stays NULL):
     * nq queries of dim / 8 bytes each (dim: the field's, in bits), packed as the rows are
     * (types.h). Metric HAMMING or JACCARD, as the field's; every search feature applies
     * (filters, range search with radius / range_filter on the distance, grouping,
     * offset, round_decimal). Search by primary key reads the stored bytes. */
    const uint8_t *binary_vectors;
    /* Full-text search: the output field of a BM25 function (vector_field) is searched with
     * nq texts (UTF-8) instead of vectors, tokenized by the input field's analyzer. The score
     * of a row d is sum over the query's distinct terms t of
     *   qtf(t) * idf(t) * tf(t,d) * (k1 + 1) / (tf(t,d) + k1 * (1 - b + b * |d| / avgdl)),
     * idf(t) = log(1 + (N - df(t) + 0.5) / (df(t) + 0.5)), with N, avgdl (the mean of |d|,
     * a row's token count) and df(t) over the rows visible at the read timestamp in the
     * partitions searched (deleted rows and rows after a travel timestamp do not count; the
     * filter does not change them), so the scores are those of one BM25 index over those
     * rows. k1 and b are the index's bm25_k1 (default 1.2) and bm25_b (0.75);
     * drop_ratio_search applies to the query's weights. A row sharing no term scores 0 and
     * is no hit. */
    const char *const *texts;
} vdb_search_req;

/* The k nearest visible rows for each query vector, nearest first; fewer when the collection
 * holds fewer rows. Equal scores: the order is still deterministic.
 * params, as Milvus's search params ("ef=64,nprobe=16"):
 * - ef: HNSW's beam width, 1..32768 (default max(k, 64); raised to k).
 * - nprobe: IVF lists probed, 1..65536 (default 8; capped at the index's nlist).
 * - radius, range_filter: range search. Only rows whose score lies in the window are
 *   returned, at most k, best first: for L2, range_filter <= distance < radius; for IP and
 *   COSINE, radius < similarity <= range_filter. range_filter is optional; one on the wrong
 *   side of radius (or range_filter without radius) is VDB_EINVAL.
 * - round_decimal: -1 (the default: as computed) or 0..6, each returned distance rounded to
 *   that many decimals (half away from zero), as Milvus's round_decimal; the ranking is the
 *   one of the exact distances.
 * Keys for another index type are ignored (as Milvus does), unknown keys too, but a malformed
 * or out-of-range value of a known key is VDB_EINVAL naming it. Segments without a built
 * index (growing ones, or sealed ones whose build is pending) are searched exactly.
 * A search of several segments runs them in parallel (vdb_options.search_threads). */
VDB_EXPORT vdb_status vdb_search(vdb_db *db, const vdb_search_req *req, vdb_result **out);

/* ---- hybrid search: several ANN requests fused by a ranker ---------------------------------
 * One request per vector field (or several on one field), each with its own query vectors,
 * filter, params and limit, all read at one timestamp; their hits are fused per query by a
 * ranker, then offset hits are skipped and limit returned, each with the output fields of
 * the call's read options. As Milvus's hybrid_search. */
typedef struct vdb_ann_req {
    uint32_t struct_size;       /* sizeof(vdb_ann_req): fields past it read as zero */
    const char *vector_field;   /* NULL: the collection's only vector field */
    const float *vectors;       /* nq * dim floats; every request has the same nq */
    size_t nq;
    uint32_t dim;
    uint32_t limit;             /* hits of this request fed to the ranker: 1..16384 */
    const char *filter;         /* NULL: all rows */
    const char *params;         /* as vdb_search's params (ef, nprobe, radius, ...) */
    /* A BINARY_VECTOR field's nq queries of dim / 8 bytes each, instead of vectors (as in
     * vdb_search_req); its HAMMING / JACCARD distances are normalised as L2's. */
    const uint8_t *binary_vectors;
} vdb_ann_req;

typedef enum vdb_ranker_kind {
    VDB_RANKER_RRF = 1,      /* score = sum over requests of 1 / (rrf_k + rank), rank from 1 */
    VDB_RANKER_WEIGHTED = 2, /* score = sum over requests of weight * norm(score) */
} vdb_ranker_kind;

typedef struct vdb_hybrid_req {
    uint32_t struct_size;       /* sizeof(vdb_hybrid_req): fields past it read as zero */
    const char *collection;
    const vdb_ann_req *const *reqs; /* 1..1024 requests */
    size_t n_reqs;
    vdb_ranker_kind ranker;
    double rrf_k;               /* RRF: 0 < k < 16384; 0 means Milvus's default 60 */
    const float *weights;       /* WEIGHTED: n_reqs weights, each in [0, 1] */
    int no_normalize;           /* WEIGHTED: 0 (default, as Milvus's norm_score=True) maps
                                   each score into [0, 1] by its field's metric first:
                                   IP 0.5 + atan(s)/pi, COSINE (1 + s)/2,
                                   L2 1 - 2*atan(s)/pi. 1 sums raw scores: when every
                                   request is L2 the fused score is a distance (smaller is
                                   better); mixed with IP/COSINE an L2 distance counts
                                   negated. */
    uint32_t limit;             /* fused hits returned per query: 1..16384 */
    uint32_t offset;            /* fused hits skipped first; limit + offset <= 16384 */
    vdb_read_opts read;         /* time, partitions and output fields of every request */
    /* Grouping, as vdb_search's (Milvus 2.5 allows it in hybrid search): each request is a
     * grouping search on group_by_field with group_size and strict_group_size (its limit
     * counts groups), the fused rows are grouped by the field's value, and limit groups
     * (offset skips groups) come back, ranked by their best fused score, each with its
     * group_size best fused rows, every group's rows together. A group has group_size rows
     * where the requests' own groups have them; k * group_size at most 1048576. */
    const char *group_by_field;
    uint32_t group_size;
    int strict_group_size;
    /* "key=value,..." of the fusion, as Milvus's rank_params: round_decimal (-1, the
     * default: as computed, or 0..6: each fused score rounded half away from zero to that
     * many decimals after the ranking). Other keys are refused. NULL: none. */
    const char *params;
} vdb_hybrid_req;

/* The fused hits for each query (one group per query vector), best first: the distance of a
 * hit is its fused score (larger is better, but see no_normalize). A row found by only
 * some requests scores from those only. Equal scores: the smaller primary key first. */
VDB_EXPORT vdb_status vdb_hybrid_search(vdb_db *db, const vdb_hybrid_req *req,
                                        vdb_result **out);

/* ---- iterators: long reads over one snapshot ------------------------------------------------
 * As Milvus's query_iterator and search_iterator: a cursor handed out batch by batch, every
 * batch read at the one timestamp the iterator took when it was opened (read.travel_ts, or
 * the consistency level's "now"), so writes, deletes, seals and compactions meanwhile change
 * nothing it returns. While an iterator is open it pins that timestamp: the retention
 * horizon (time travel, and what compaction may purge) stays at or below it, so its snapshot
 * is never collected, however long it stays open (close it: a forgotten iterator holds back
 * compaction's purge of deleted rows). Opening one at a travel_ts already behind the
 * horizon is VDB_ERANGE. A collection truncated, or dropped and made again, meanwhile makes
 * the next batch VDB_ERANGE (its snapshot is gone); dropped or renamed, VDB_ENOTFOUND. An
 * iterator is used by one thread at a time; close every iterator before vdb_close. */
typedef struct vdb_query_iter_req {
    uint32_t struct_size;       /* sizeof(vdb_query_iter_req): fields past it read as zero */
    const char *collection;
    const char *filter;         /* NULL or "": every row */
    vdb_read_opts read;         /* the snapshot's time, partitions and output fields
                                   ("count(*)" is refused) */
    uint32_t batch_size;        /* rows per batch: 1..16384 (0: 1000, as pymilvus) */
    uint64_t limit;             /* rows in all (0: no limit) */
} vdb_query_iter_req;

typedef struct vdb_query_iterator vdb_query_iterator;

/* Opens a query iterator: the rows that pass filter at the snapshot, in primary-key order
 * (pages of keys above the last one returned, as Milvus's), each exactly once. */
VDB_EXPORT vdb_status vdb_query_iterator_open(vdb_db *db, const vdb_query_iter_req *req,
                                              vdb_query_iterator **out);
/* The next batch (one group of at most batch_size rows) into *batch, freed with
 * vdb_result_free; a batch of 0 rows: the iteration is over. */
VDB_EXPORT vdb_status vdb_query_iterator_next(vdb_query_iterator *it, vdb_result **batch);
/* The timestamp the iterator reads at. */
VDB_EXPORT uint64_t vdb_query_iterator_ts(const vdb_query_iterator *it);
/* Releases the iterator and its pin (it may be NULL). */
VDB_EXPORT void vdb_query_iterator_close(vdb_query_iterator *it);

typedef struct vdb_search_iter_req {
    uint32_t struct_size;       /* sizeof(vdb_search_iter_req): fields past it read as zero */
    const char *collection;
    const char *vector_field;   /* NULL: the collection's only vector field */
    const float *vector;        /* one query vector of dim floats (as Milvus: nq = 1) */
    uint32_t dim;
    const char *filter;         /* NULL: all rows */
    const char *params;         /* as vdb_search's; radius / range_filter bound the whole
                                   iteration */
    vdb_read_opts read;         /* the snapshot's time, partitions and output fields */
    uint32_t batch_size;        /* hits per batch: 1..16384 (0: 1000, as pymilvus) */
    uint64_t limit;             /* hits in all (0: no limit) */
    /* Resuming an iteration (what a stateless server does between its clients' calls):
     * with resume set, the first batch continues after one whose last hit was at distance
     * last_bound and whose hits at exactly that distance were last_pks; read.travel_ts
     * should be the first iterator's timestamp (vdb_search_iterator_ts). */
    int resume;
    float last_bound;
    const vdb_pk_list *last_pks;
    /* A BINARY_VECTOR field: the query as dim / 8 bytes instead of vector (which stays NULL;
     * dim is the field's, in bits). */
    const uint8_t *binary_vector;
} vdb_search_iter_req;

typedef struct vdb_search_iterator vdb_search_iterator;

/* Opens a search iterator: the hits of the query vector at the snapshot, nearest first,
 * batch after batch, none twice. As Milvus's search_iterator v2: each batch is a range search
 * from the last batch's distance (inclusive) outwards, the hits already returned at exactly
 * that distance left out. Segments searched exactly (no index, FLAT) give the order of one
 * big exact search; through an approximate index (HNSW, IVF) each batch is as approximate
 * as a search is, and a segment whose index lands between two batches is searched through
 * it from then on. */
VDB_EXPORT vdb_status vdb_search_iterator_open(vdb_db *db, const vdb_search_iter_req *req,
                                               vdb_search_iterator **out);
/* The next batch (one group of at most batch_size hits with their distances, nearest first)
 * into *batch, freed with vdb_result_free; a batch of 0 hits: the iteration is over. */
VDB_EXPORT vdb_status vdb_search_iterator_next(vdb_search_iterator *it, vdb_result **batch);
VDB_EXPORT uint64_t vdb_search_iterator_ts(const vdb_search_iterator *it);
VDB_EXPORT void vdb_search_iterator_close(vdb_search_iterator *it);

/* The visible rows with these primary keys, in the order of pks (missing keys are skipped). */
VDB_EXPORT vdb_status vdb_get(vdb_db *db, const char *collection, const vdb_pk_list *pks,
                              const vdb_read_opts *read, vdb_result **out);

/* ---- filters: Milvus's boolean expressions -------------------------------------------------
 * The same language as Milvus: comparisons (== != < <= > >=) on numeric, bool and varchar
 * fields, chained ranges (10 < x <= 20), in / not in lists, like ("ab%", "%ab", "%ab%"),
 * and / or / not (&& || !) with parentheses, arithmetic on a field inside a comparison
 * (x + 5 > 10, x % 2 == 0), JSON paths (meta["a"]["b"] == 1), json_contains /
 * json_contains_all / json_contains_any, exists, array_contains / array_contains_all /
 * array_contains_any / array_length, is null / is not null, and dynamic keys by bare name.
 * A malformed expression is VDB_EINVAL with the position and what was expected there. */

/* The visible rows that pass filter (NULL or "": all), after skipping offset of them, at most
 * limit (0: no limit; without a filter a limit is required, as in Milvus), as one group.
 * output_fields "count(*)" alone returns one row whose field "count(*)" (INT64) counts the
 * matches instead. */
VDB_EXPORT vdb_status vdb_query(vdb_db *db, const char *collection, const char *filter,
                                const vdb_read_opts *read, uint64_t limit, uint64_t offset,
                                vdb_result **out);
/* One key of vdb_query_ordered: a scalar field, ascending unless desc is non-zero. */
typedef struct vdb_order_by {
    const char *field;
    int desc;
} vdb_order_by;
/* vdb_query with the matches in order (Milvus 3.0's order_by_fields): by by[0], ties by
 * by[1], ..., then by primary key ascending; NULLs last in either direction (NaN after every
 * number). offset and limit apply to that order; with a limit only offset + limit rows are
 * kept while the segments are walked. Fields must be bool, integer, float, double or varchar
 * (VDB_EINVAL names a vector, JSON or ARRAY field, a missing one or one named twice).
 * n 0: as vdb_query. */
VDB_EXPORT vdb_status vdb_query_ordered(vdb_db *db, const char *collection, const char *filter,
                                        const vdb_read_opts *read, uint64_t limit,
                                        uint64_t offset, const vdb_order_by *by, size_t n,
                                        vdb_result **out);
/* How many visible rows pass filter (NULL or "": all). */
VDB_EXPORT vdb_status vdb_count(vdb_db *db, const char *collection, const char *filter,
                                const vdb_read_opts *read, uint64_t *count);
/* Deletes every row visible now that passes filter (partition NULL: every partition), all at
 * one timestamp (*ts); *deleted (may be NULL) gets how many rows matched. */
VDB_EXPORT vdb_status vdb_delete_where(vdb_db *db, const char *collection, const char *partition,
                                       const char *filter, uint64_t *ts, uint64_t *deleted);

/* ---- indexes --------------------------------------------------------------------------------
 * One index per field, built for every sealed segment (growing segments are scanned).
 * Each index has a name (as Milvus's): by default its field's, else the one given to
 * vdb_create_index_named; names are unique within a collection, 1..255 letters, digits or
 * '_', starting with a letter or '_'. The calls below that take a field find the index by
 * its field; the _by_name ones by its name.
 * Scalar types: "STL_SORT" (numeric ranges), "INVERTED" (equality and `in`; numeric, bool,
 * varchar), "TRIE" (varchar, also `like "abc%"`), "AUTOINDEX" (picks by the field's type);
 * results are the same with or without them. They are built inside the calls that need them.
 * Vector types (metrics L2, IP, COSINE for the float ones), params "key=value,...":
 * - "HNSW": M 2..100 (default 16), efConstruction M..10000 (default 200); search "ef".
 * - "IVF_FLAT", "IVF_SQ8": nlist 1..65536 (default 128); search "nprobe".
 * - "IVF_PQ": nlist as above, m (required; must divide dim), nbits 1..16 (default 8).
 * - "FLAT" and "AUTOINDEX": exact search (nothing to build).
 * - "SPARSE_INVERTED_INDEX", "SPARSE_WAND" (SPARSE_FLOAT_VECTOR fields, IP): posting lists
 *   per dimension; drop_ratio_build 0 <= r < 1 (default 0) leaves out the smallest r of the
 *   segment's stored values; inverted_index_algo (Milvus's) picks the walk: TAAT_NAIVE
 *   adds up every posting of every query term, DAAT_WAND walks the lists with block-max
 *   WAND, DAAT_MAXSCORE with MaxScore, both skipping what cannot enter the top k (default:
 *   DAAT_MAXSCORE for SPARSE_INVERTED_INDEX, as Milvus, DAAT_WAND for SPARSE_WAND). All are
 *   exact when drop_ratio_build and drop_ratio_search are 0. AUTOINDEX on a sparse field is
 *   SPARSE_INVERTED_INDEX.
 * - "BIN_FLAT" (exact) and "BIN_IVF_FLAT" (nlist 1..65536, default 128; search nprobe
 *   1..65536, default 8, capped at nlist): BINARY_VECTOR fields only (HAMMING, JACCARD),
 *   which take no other type; AUTOINDEX on a binary field is BIN_FLAT. BIN_IVF_FLAT's
 *   centroids are k-means on the rows' bits rounded back to bits; its lists are scored
 *   exactly. MINHASH_LSH (Milvus 2.6's MHJACCARD) is VDB_EUNSUPPORTED.
 * A "metric_type" param must match the field's metric. A key the type does not take, or a
 * value out of range, is VDB_EINVAL naming it and its range; an unknown type is VDB_EINVAL,
 * one this library lacks VDB_EUNSUPPORTED.
 * Vector indexes are built in the background, per sealed segment, and saved beside it in the
 * object store (an open loads them instead of rebuilding; a missing or damaged one is built
 * again). Until its index is in, a segment is searched exactly: a search never waits for a
 * build and never sees half of one. A build that fails leaves its segment exact and is
 * reported by vdb_wait_for_index and vdb_collection_stats. */

/* Records the index choice and queues the builds for the sealed segments there are (later
 * ones are built when they seal), then returns: vdb_wait_for_index waits for the builds.
 * The same type and params again is a no-op; others are VDB_EEXIST (drop first). The index
 * is named after the field (vdb_create_index_named with index_name NULL). */
VDB_EXPORT vdb_status vdb_create_index(vdb_db *db, const char *collection, const char *field,
                                       const char *type, const char *params);
/* Drops the index; builds of it still queued are discarded, one running is thrown away when
 * it ends (this call does not wait for it). */
VDB_EXPORT vdb_status vdb_drop_index(vdb_db *db, const char *collection, const char *field);
/* vdb_create_index with a name (index_name NULL or "": the field's name). The same type and
 * params again on the field is a no-op when index_name is NULL, "" or the index's name; with
 * another name it is VDB_EEXIST (at most one index per field, as Milvus: drop it first), as
 * is a name another field's index has. A malformed name is VDB_EINVAL. The name is kept in
 * the index's meta record (one write) with its type and params. */
VDB_EXPORT vdb_status vdb_create_index_named(vdb_db *db, const char *collection,
                                             const char *field, const char *index_name,
                                             const char *type, const char *params);
/* vdb_drop_index of the index called index_name: VDB_ENOTFOUND if the collection has none. */
VDB_EXPORT vdb_status vdb_drop_index_by_name(vdb_db *db, const char *collection,
                                             const char *index_name);

/* The build state of an index (the numbers of Milvus's IndexState). */
typedef enum vdb_index_state {
    VDB_INDEX_IN_PROGRESS = 2, /* sealed segments still wait for their build */
    VDB_INDEX_FINISHED = 3,    /* every sealed segment has it (or there is nothing to build) */
    VDB_INDEX_FAILED = 4       /* a build failed: fail_status, fail_reason (segment stays exact) */
} vdb_index_state;

/* One index of a list (vdb_indexes_get): set struct_size first; the library writes no more
 * than that. The strings belong to the list (valid until vdb_indexes_free). */
typedef struct vdb_index_info {
    uint32_t struct_size;      /* sizeof(vdb_index_info) */
    const char *name;          /* the index's name */
    const char *field;         /* the field it indexes */
    const char *type;          /* "HNSW", "FLAT", "STL_SORT", ... (AUTOINDEX resolved) */
    const char *metric;        /* vector fields: the field's ("L2", "IP", "COSINE"); else "" */
    const char *params;        /* every build parameter, defaults filled ("M=16,efConstruction=200";
                                  "" when the type takes none) */
    vdb_index_state state;
    uint64_t indexed_rows;     /* as vdb_index_progress */
    uint64_t total_rows;
    vdb_status fail_status;    /* VDB_OK unless state is VDB_INDEX_FAILED */
    const char *fail_reason;   /* the failed build's message; "" if none failed */
} vdb_index_info;

/* A list of indexes (opaque), freed with vdb_indexes_free. */
typedef struct vdb_indexes vdb_indexes;
/* Every index of the collection, in the order of their fields. */
VDB_EXPORT vdb_status vdb_list_indexes(vdb_db *db, const char *collection, vdb_indexes **out);
/* A list of the one index called index_name: VDB_ENOTFOUND if the collection has none. */
VDB_EXPORT vdb_status vdb_describe_index_by_name(vdb_db *db, const char *collection,
                                                 const char *index_name, vdb_indexes **out);
VDB_EXPORT size_t vdb_indexes_count(const vdb_indexes *list);
/* Index i of the list into *out (VDB_EINVAL if i is past the end or struct_size unset). */
VDB_EXPORT vdb_status vdb_indexes_get(const vdb_indexes *list, size_t i, vdb_index_info *out);
VDB_EXPORT void vdb_indexes_free(vdb_indexes *list);
/* The index on field: *type gets its type name (a static string), VDB_ENOTFOUND if none
 * (vdb_describe_index_by_name gives its name, params, metric and state). */
VDB_EXPORT vdb_status vdb_describe_index(vdb_db *db, const char *collection, const char *field,
                                         const char **type);
/* Waits until every sealed segment of the collection has the field's index: VDB_OK then, or
 * at once when the field has no index or one with nothing to build (FLAT, scalar types).
 * timeout_ms 0 only looks; UINT64_MAX waits for ever. VDB_ETIMEDOUT when the time is up
 * (builds go on); a failed build gives its own status and message (the segment stays exact);
 * VDB_ENOTFOUND if the collection or field is gone (also when dropped meanwhile). */
VDB_EXPORT vdb_status vdb_wait_for_index(vdb_db *db, const char *collection, const char *field,
                                         uint64_t timeout_ms);
/* Build progress of the field's index, as Milvus's describe_index: *total_rows gets the rows
 * of the sealed segments (growing rows are never indexed), *indexed_rows those in segments
 * whose index is built (for FLAT: all of them). VDB_ENOTFOUND if the field has no index. */
VDB_EXPORT vdb_status vdb_index_progress(vdb_db *db, const char *collection, const char *field,
                                         uint64_t *indexed_rows, uint64_t *total_rows);
/* Called as a segment's vector index builds: done_rows of total_rows (the segment's rows)
 * so far, now and then (at most ~10 times a second per build, and once at the end with
 * done_rows == total_rows). It runs on a build worker thread, never two calls at once; it
 * must return quickly and must not call into the library (a drop or close may be waiting
 * for the build). */
typedef void (*vdb_index_progress_fn)(void *arg, const char *collection, const char *field,
                                      uint64_t done_rows, uint64_t total_rows);
/* Sets (fn NULL: clears) the handle's progress callback. When this returns, no call to the
 * previous callback is running or will start. */
VDB_EXPORT vdb_status vdb_set_index_progress(vdb_db *db, vdb_index_progress_fn fn, void *arg);

/* Allocates a fresh timestamp (for time travel: "now"). */
VDB_EXPORT vdb_status vdb_now(vdb_db *db, uint64_t *ts);

/* ---- change streams (CDC) ------------------------------------------------------------------
 * A collection's inserts, upserts and deletes as they reach its log, in timestamp order
 * across its shards (as milvus-cdc reads Milvus's log). One change per write: a write split
 * over several shards is delivered once, its rows shard by shard; a write torn by a crash
 * (never acknowledged) is never delivered. Resume after a restart by opening a stream with
 * start_ts = the last delivered change's ts + 1. The log holds what is not sealed yet: once
 * a seal has checkpointed a shard (vdb_flush, or a full or idle segment) and truncated its
 * log, a start at or before that checkpoint's timestamp is VDB_ERANGE; an open stream holds
 * the truncation back, so it never misses a change. On a collection of several shards a
 * change is delivered once every shard's log has reached its timestamp (a later write or a
 * time tick, vdb_options.tick_interval_ms): with ticks off, a shard that is never written
 * again keeps the others' changes back. Close every stream before vdb_close. */
typedef struct vdb_change_stream vdb_change_stream;

typedef enum vdb_change_kind {
    VDB_CHANGE_INSERT = 1,
    VDB_CHANGE_UPSERT = 2,     /* the keys' earlier rows are deleted at the same timestamp */
    VDB_CHANGE_DELETE = 3,
    VDB_CHANGE_CAUGHT_UP = 4,  /* caught_up_marks: every change up to ts was delivered */
} vdb_change_kind;

typedef struct vdb_change_opts {
    uint32_t struct_size;      /* sizeof(vdb_change_opts): fields past it read as zero */
    /* changes stamped start_ts or later; 0: from the oldest the log still holds (after the
     * last checkpoint of every shard) */
    uint64_t start_ts;
    /* 1: next() also delivers VDB_CHANGE_CAUGHT_UP marks, each time the time up to which
     * every change was delivered has moved on (ticks move it while the collection is idle) */
    int caught_up_marks;
} vdb_change_opts;

typedef struct vdb_change {
    uint32_t struct_size;      /* set by the caller: the library writes no more than that */
    vdb_change_kind kind;
    uint64_t ts;               /* the write's timestamp (a mark: caught up to here) */
    /* the partition written to; NULL for a delete in every partition, for a collection with
     * a partition key (each row's key field says), for a partition dropped since, and for
     * marks */
    const char *partition;
    /* one group: the keys (vdb_result_pk_*), and for inserts and upserts every field of each
     * row (vdb_result_field by name; "$meta" with dynamic fields); NULL for marks. Owned by
     * the stream: valid until its next call of next or close. */
    const vdb_result *rows;
} vdb_change;

/* Opens a stream on collection (or an alias, resolved now). opts may be NULL (all defaults).
 * VDB_ERANGE when start_ts is at or before a shard's checkpoint (the message gives the
 * oldest start there is); VDB_EUNSUPPORTED when the log backend cannot be followed. */
VDB_EXPORT vdb_status vdb_change_stream_open(vdb_db *db, const char *collection,
                                             const vdb_change_opts *opts,
                                             vdb_change_stream **out);
/* The next change into *out: waits up to timeout_ms (0: only looks; UINT64_MAX: no limit)
 * and gives VDB_ETIMEDOUT when none came; VDB_ENOTFOUND once the collection was dropped or
 * truncated (its log is gone). The stream stays usable after VDB_ETIMEDOUT. */
VDB_EXPORT vdb_status vdb_change_stream_next(vdb_change_stream *stream, uint64_t timeout_ms,
                                             vdb_change *out);
VDB_EXPORT void vdb_change_stream_close(vdb_change_stream *stream);

/* ---- statistics ---------------------------------------------------------------------------- */

/* Filled by vdb_collection_stats: set struct_size first; the library writes no more than
 * that, so a caller built against an older, shorter vdb_stats stays safe. */
typedef struct vdb_stats {
    uint32_t struct_size;      /* sizeof(vdb_stats) */
    uint64_t row_count;        /* visible rows now */
    uint64_t growing_segments;
    uint64_t sealed_segments;
    uint64_t growing_rows;     /* rows (visible or not) in growing segments */
    uint64_t sealed_rows;      /* rows (visible or not) in sealed segments */
    uint64_t deleted_rows;     /* delete records held */
    uint32_t num_shards;
    uint32_t num_partitions;
    uint64_t index_bytes;      /* memory held by the vector indexes of sealed segments */
    uint64_t indexed_rows;     /* rows of sealed segments that have every vector index */
    uint64_t failed_index_builds; /* builds of the current indexes that failed */
    /* torn tails (a write that was never acknowledged, cut by the rule in docs/ARCHITECTURE.md,
     * "Damage") the log cut off this collection's channels since the database opened; each
     * cut is also a line on stderr. Counted by the local WAL; 0 with other log backends. */
    uint64_t torn_tails;
    /* segments searched or scanned by searches, queries and counts of the collection since
     * it was opened (or created): shows partition-key pruning */
    uint64_t read_segments;
    /* bytes the collection holds in memory (vdb_options.memory_budget_bytes counts these) */
    uint64_t memory_bytes;
    /* bytes of sealed segments read in place from the mmap cache (vdb_options.mmap): vector
     * and sparse columns, index files; page cache, not counted in memory_bytes */
    uint64_t mapped_bytes;
} vdb_stats;

VDB_EXPORT vdb_status vdb_collection_stats(vdb_db *db, const char *collection, vdb_stats *out);

/* ---- users and roles (rbac.c) -----------------------------------------------------------
 * As Milvus has them. Each change is one meta transaction; passwords are kept as salted
 * PBKDF2-HMAC-SHA256 hashes. Built in: the user "root" (password "Milvus" until changed; it
 * holds every privilege and cannot be dropped) and the roles "admin" (every privilege) and
 * "public" (every user's: Milvus's DescribeCollection and ShowCollections on Global,
 * IndexDetail on Collection, plus what is granted to it); neither can be dropped. User names:
 * a letter then letters, digits or '_', at most 32; role names: a letter or '_' first, at
 * most 32; passwords 6..256 bytes. The library checks nothing itself: a front (vdb-server)
 * calls vdb_authenticate and vdb_check_privilege before each request. */
typedef enum vdb_rbac_object {
    VDB_OBJECT_GLOBAL = 0,     /* Milvus's "Global"; object name "*" */
    VDB_OBJECT_COLLECTION = 1, /* "Collection"; a collection name or "*" */
    VDB_OBJECT_USER = 2,       /* "User"; a user name or "*" */
} vdb_rbac_object;

VDB_EXPORT vdb_status vdb_create_user(vdb_db *db, const char *user, const char *password);
/* "root" cannot be dropped (VDB_EINVAL); VDB_ENOTFOUND if there is no such user. */
VDB_EXPORT vdb_status vdb_drop_user(vdb_db *db, const char *user);
/* VDB_EPERM if old_password is not the user's. */
VDB_EXPORT vdb_status vdb_update_password(vdb_db *db, const char *user,
                                          const char *old_password, const char *new_password);
/* VDB_OK if password is the user's, else VDB_EPERM (an unknown user too). */
VDB_EXPORT vdb_status vdb_authenticate(vdb_db *db, const char *user, const char *password);
/* vdb_authenticate's answer when it needs no PBKDF2 (the password last verified for the user,
 * compared by its HMAC in constant time; an unknown user; root's default password): then
 * *need_full = 0 and VDB_OK or VDB_EPERM. Otherwise *need_full = 1 (and VDB_EPERM): call
 * vdb_authenticate, off any thread that must not wait ~0.1-0.5 s (a server's event loop). A
 * changed password or a dropped user is never answered VDB_OK from what was remembered. */
VDB_EXPORT vdb_status vdb_authenticate_cached(vdb_db *db, const char *user,
                                              const char *password, int *need_full);
VDB_EXPORT vdb_status vdb_list_users(vdb_db *db, vdb_names **out);
/* The roles granted to user (sorted); VDB_ENOTFOUND if there is no such user. */
VDB_EXPORT vdb_status vdb_describe_user(vdb_db *db, const char *user, vdb_names **out);
VDB_EXPORT vdb_status vdb_create_role(vdb_db *db, const char *role);
/* Refused for "admin" and "public" and while a privilege is granted to it (VDB_EINVAL, as
 * Milvus); its users lose it in the same transaction. */
VDB_EXPORT vdb_status vdb_drop_role(vdb_db *db, const char *role);
VDB_EXPORT vdb_status vdb_list_roles(vdb_db *db, vdb_names **out);
/* The role's grants, each "<object>/<db_name>/<object_name>/<privilege>" (object as Milvus
 * names it: Global, Collection, User), sorted; VDB_ENOTFOUND if there is no such role. */
VDB_EXPORT vdb_status vdb_describe_role(vdb_db *db, const char *role, vdb_names **out);
/* Granting a role the user has is a no-op; revoking one it has not is a no-op. */
VDB_EXPORT vdb_status vdb_grant_role(vdb_db *db, const char *user, const char *role);
VDB_EXPORT vdb_status vdb_revoke_role(vdb_db *db, const char *user, const char *role);
/* privilege: one of Milvus's names for that object type ("Search", "Insert", ...) or "*"
 * (all); Milvus's privilege groups (ClusterReadOnly, ...) are VDB_EUNSUPPORTED. db_name NULL:
 * "default"; "*" any database. Granting twice or revoking what is not granted: a no-op. */
VDB_EXPORT vdb_status vdb_grant_privilege(vdb_db *db, const char *role, vdb_rbac_object object,
                                          const char *object_name, const char *privilege,
                                          const char *db_name);
VDB_EXPORT vdb_status vdb_revoke_privilege(vdb_db *db, const char *role,
                                           vdb_rbac_object object, const char *object_name,
                                           const char *privilege, const char *db_name);
/* VDB_OK if user may do privilege on the object (root and admin may do anything), else
 * VDB_EPERM with Milvus's message ("PrivilegeSearch: permission deny to u1 in the `default`
 * database"). */
VDB_EXPORT vdb_status vdb_check_privilege(vdb_db *db, const char *user, vdb_rbac_object object,
                                          const char *object_name, const char *privilege,
                                          const char *db_name);
/* The object type a privilege is granted on, as Milvus derives it from the name (its
 * grant_privilege_v2): Collection for a collection privilege ("Search", "Insert", ...), else
 * Global ("CreateCollection", ...; "UpdateUser" and "SelectUser" too), into *out. VDB_EINVAL
 * for "*" or a name Milvus does not have; VDB_EUNSUPPORTED for a privilege group. */
VDB_EXPORT vdb_status vdb_privilege_object(const char *privilege, vdb_rbac_object *out);

#ifdef __cplusplus
}
#endif
#endif

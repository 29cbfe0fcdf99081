/* libvdb — status codes, data types, metrics and values shared by every public header. */
#ifndef VDB_TYPES_H
#define VDB_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the library's public functions. Building libvdb itself (meson defines VDB_BUILDING
 * for its own sources) exports them; a program using the library imports them (Windows
 * DLLs), or links a static libvdb with VDB_STATIC defined. Elsewhere they are the only
 * symbols with default visibility: everything else is built with -fvisibility=hidden. */
#if defined(_WIN32) || defined(__CYGWIN__)
#if defined(VDB_BUILDING)
#define VDB_EXPORT __declspec(dllexport)
#elif defined(VDB_STATIC)
#define VDB_EXPORT
#else
#define VDB_EXPORT __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define VDB_EXPORT __attribute__((visibility("default")))
#else
#define VDB_EXPORT
#endif

/* Every call returns a status. VDB_OK is zero; the words of the last error on the
 * calling thread come from vdb_errmsg(). */
typedef enum vdb_status {
    VDB_OK = 0,
    VDB_EINVAL = 1,       /* bad argument: wrong dimension, NaN, unknown field, NULL, ... */
    VDB_ENOTFOUND = 2,    /* no such collection, partition, key or object */
    VDB_EEXIST = 3,       /* the name is taken */
    VDB_EIO = 4,          /* the operating system or a storage backend failed */
    VDB_ECORRUPT = 5,     /* a file or record failed its checksum or format check */
    VDB_EUNSUPPORTED = 6, /* the feature is not built yet, or not by this backend */
    VDB_ENOMEM = 7,       /* an allocation failed */
    VDB_ELOCKED = 8,      /* another process holds the database's write lock */
    VDB_EVERSION = 9,     /* written by an unknown (newer) format version */
    VDB_ECONFLICT = 10,   /* a compare-and-swap found another value */
    VDB_ERANGE = 11,      /* a timestamp outside the retention window, a value out of range */
    VDB_ETIMEDOUT = 12,   /* a wait ran out of time (the work goes on) */
    VDB_EREADONLY = 13,   /* a write on a handle opened with vdb_options.read_only */
    VDB_EPERM = 14,       /* wrong password, or the user lacks the privilege (rbac.c) */
} vdb_status;

/* How the log makes a write durable before the call returns (vdb_options.sync). */
typedef enum vdb_sync_mode {
    VDB_SYNC_FULL = 0,  /* fdatasync (grouped across concurrent appends) before returning */
    VDB_SYNC_BATCH = 1, /* written before returning; fdatasync at most every sync_interval_ms.
                           Survives a process crash; a power loss may drop the last interval. */
    VDB_SYNC_OFF = 2,   /* written before returning; the OS decides when it reaches disk */
} vdb_sync_mode;

/* Field types. Arrays name their element type separately (vdb_field_def.element_type). */
typedef enum vdb_type {
    VDB_TYPE_NONE = 0,
    VDB_TYPE_BOOL = 1,
    VDB_TYPE_INT8 = 2,
    VDB_TYPE_INT16 = 3,
    VDB_TYPE_INT32 = 4,
    VDB_TYPE_INT64 = 5,
    VDB_TYPE_FLOAT = 10,
    VDB_TYPE_DOUBLE = 11,
    VDB_TYPE_VARCHAR = 21,
    VDB_TYPE_ARRAY = 22,
    VDB_TYPE_JSON = 23,
    VDB_TYPE_FLOAT_VECTOR = 101,
    /* index -> value maps (Milvus's SparseFloatVector): uint32 indices below 2^32 - 1,
     * strictly ascending, finite non-negative float values; metric IP. No dim. */
    VDB_TYPE_SPARSE_FLOAT_VECTOR = 104,
    /* Milvus's numbering (schema.proto DataType). Half-precision vectors hold 2 bytes per
     * element, IEEE 754 binary16 (FLOAT16) or bfloat16 (the top half of a float32), native
     * byte order; INT8_VECTOR one signed byte per element. */
    VDB_TYPE_FLOAT16_VECTOR = 102,
    VDB_TYPE_BFLOAT16_VECTOR = 103,
    VDB_TYPE_INT8_VECTOR = 105,
    /* Milvus's BinaryVector: dim bits (dim a multiple of 8), stored as dim / 8 bytes; bit i
     * of the vector is bit 7 - i % 8 of byte i / 8 (numpy.packbits' order, as pymilvus
     * sends them). Metrics HAMMING and JACCARD. */
    VDB_TYPE_BINARY_VECTOR = 100,
} vdb_type;

/* Vector metrics. L2 is the squared Euclidean distance (smaller is nearer), as in Milvus;
 * IP and COSINE are similarities (larger is nearer). BINARY_VECTOR fields take HAMMING (the
 * number of differing bits) and JACCARD (1 - |a AND b| / |a OR b|; 0 for two all-zero
 * vectors), distances as Milvus returns them (smaller is nearer); other types refuse them. */
typedef enum vdb_metric {
    VDB_METRIC_L2 = 1,
    VDB_METRIC_IP = 2,
    VDB_METRIC_COSINE = 3,
    VDB_METRIC_HAMMING = 4,
    VDB_METRIC_JACCARD = 5,
    /* Okapi BM25, Milvus's metric for the SPARSE_FLOAT_VECTOR output of a BM25 function
     * (vdb_schema_add_function): a similarity (larger is nearer) over the visible rows. */
    VDB_METRIC_BM25 = 6,
} vdb_metric;

/* A value read out of a result. Pointers stay valid until the result is freed.
 * VARCHAR, JSON and ARRAY values are text (ARRAY and JSON as JSON text); FLOAT_VECTOR values
 * point at dim floats (u.vec); FLOAT16, BFLOAT16 and INT8 vectors at their stored elements
 * (u.raw: dim elements, bytes = dim * 2 or dim; BINARY_VECTOR: dim bits, bytes = dim / 8);
 * sparse vectors at count indices and count
 * values (u.sparse). */
typedef struct vdb_value {
    vdb_type type;
    int is_null;
    union {
        int64_t i64;   /* BOOL (0/1), INT8..INT64 */
        double f64;    /* FLOAT, DOUBLE */
        struct {
            const char *ptr;
            size_t len;
        } str;         /* VARCHAR, JSON, ARRAY: not NUL-terminated; len bytes */
        struct {
            const float *ptr;
            uint32_t dim;
        } vec;         /* FLOAT_VECTOR */
        struct {
            const uint32_t *indices; /* count ascending indices */
            const float *values;     /* their values */
            uint32_t count;
        } sparse;      /* SPARSE_FLOAT_VECTOR */
        struct {
            const void *ptr;
            uint32_t dim;
            uint32_t bytes;
        } raw;         /* FLOAT16_VECTOR, BFLOAT16_VECTOR (uint16 bits), INT8_VECTOR (int8),
                          BINARY_VECTOR (packed bits) */
    } u;
} vdb_value;

/* One sparse vector as the caller gives it (a batch column of SPARSE_FLOAT_VECTOR is an
 * array of these, one per row; a sparse search takes nq of them): count pairs, indices
 * strictly ascending and below 2^32 - 1, values finite and >= 0 (as Milvus checks them).
 * count 0 is an empty row, which Milvus accepts. Copied by the library. */
typedef struct vdb_sparse_row {
    uint32_t count;
    const uint32_t *indices;
    const float *values;
} vdb_sparse_row;

/* The primary keys of a delete or get: exactly one of ints / strs is non-NULL. */
typedef struct vdb_pk_list {
    const int64_t *ints;
    const char *const *strs;
    size_t count;
} vdb_pk_list;

/* Name of a status, type or metric ("VDB_EINVAL", "INT64", "L2"); never NULL. */
VDB_EXPORT const char *vdb_status_name(vdb_status st);
VDB_EXPORT const char *vdb_type_name(vdb_type t);
VDB_EXPORT const char *vdb_metric_name(vdb_metric m);

#ifdef __cplusplus
}
#endif
#endif

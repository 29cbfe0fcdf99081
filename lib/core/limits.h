/* The database's fixed limits and reserved names (Milvus's, where Milvus has one). */
#ifndef VDB_CORE_LIMITS_H
#define VDB_CORE_LIMITS_H

#define VDB_FORMAT_VERSION 1
#define VDB_DEFAULT_PARTITION "_default"
#define VDB_DYNAMIC_FIELD "$meta"
#define VDB_MAX_NAME 255
#define VDB_MAX_FIELDS 256
#define VDB_MAX_VECTOR_FIELDS 4 /* Milvus's default maxVectorFieldNum */
#define VDB_MAX_DIM 32768
/* pairs in one sparse vector (Milvus bounds only the message size) */
#define VDB_MAX_SPARSE_NNZ (1u << 20)
#define VDB_MAX_VARCHAR 65535
#define VDB_MAX_CAPACITY 4096
#define VDB_MAX_SHARDS 64
#define VDB_MAX_PARTITIONS 1024
#define VDB_MAX_TOPK 16384
#define VDB_MAX_BATCH_ROWS (1u << 24)

#endif

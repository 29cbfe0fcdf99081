/* Partition keys (Milvus's is_partition_key): rows hashed to the collection's "_default_<i>"
 * partitions by the key field's value, and filters on the key narrowed to the partitions
 * their values hash to. A collection with a key has its partitions in slots 0..n-1 in that
 * order (made so at create, kept by truncation; partitions cannot be added or dropped). */
#ifndef VDB_CORE_PARTKEY_H
#define VDB_CORE_PARTKEY_H

#include "core/collection.h"

/* Milvus's typeutil hashes: murmur3 (x86, 32-bit, seed 0) of the 8 little-endian bytes,
 * masked with 0x7fffffff; CRC-32 (IEEE) of the first 100 bytes of a string. */
uint32_t vdb_murmur3_32(const void *p, size_t n, uint32_t seed);
uint32_t vdb_crc32_ieee(const void *p, size_t n);
uint32_t vdb_key_hash_int(int64_t v);
uint32_t vdb_key_hash_str(const char *s, size_t len);

/* Whether c has a partition key. */
static inline bool vdb_has_partition_key(const vdb_collection *c)
{
    return c->schema->pkey >= 0;
}
/* The partition slot of row r of the key column. */
size_t vdb_key_slot(const vdb_collection *c, const vdb_column *key, size_t r);
/* The message Milvus gives when partitions are named in partition key mode (VDB_EINVAL). */
vdb_status vdb_key_refuse_partitions(const vdb_collection *c);
/* Reorders the rows of cols (c's columns) so that rows of one partition are contiguous, in
 * slot order, keeping their order within a partition (a stable sort by slot). */
vdb_status vdb_key_group_rows(const vdb_collection *c, vdb_column *cols);
/* Narrows want (a read's partitions) to those the filter's key values hash to, when the
 * filter pins the key to finitely many values. */
void vdb_key_prune(const vdb_collection *c, const vdb_expr *filter, bool *want);

#endif

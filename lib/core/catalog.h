/* The catalog: the database's list of collections. Its lock is held for reading by every
 * call on a collection (so a collection outlives the call) and for writing by create and
 * drop, which add and remove. */
#ifndef VDB_CORE_CATALOG_H
#define VDB_CORE_CATALOG_H

#include "core/collection.h"

typedef struct vdb_catalog {
    pthread_rwlock_t lock;
    size_t n, cap;
    vdb_collection **colls;
} vdb_catalog;

void vdb_catalog_init(vdb_catalog *cat);
/* Frees every collection and the list. */
void vdb_catalog_destroy(vdb_catalog *cat);
/* The collection named name, or NULL (lock held). */
vdb_collection *vdb_catalog_find(const vdb_catalog *cat, const char *name);
/* ... or VDB_ENOTFOUND naming it. */
vdb_status vdb_catalog_lookup(const vdb_catalog *cat, const char *name, vdb_collection **out);
/* Adds c (the catalog takes it) / removes c (the caller takes it back); lock held for
 * writing, or alone at open. After vdb_catalog_reserve, one add cannot fail. */
vdb_status vdb_catalog_reserve(vdb_catalog *cat);
vdb_status vdb_catalog_add(vdb_catalog *cat, vdb_collection *c);
void vdb_catalog_remove(vdb_catalog *cat, vdb_collection *c);

#endif

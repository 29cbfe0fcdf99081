/* The catalog: the database's list of collections and their aliases. Its lock is held for
 * reading by every call on a collection (so a collection outlives the call) and for writing
 * by the DDL that adds, removes or renames (collections and aliases alike), so a call sees
 * an alias name one collection or the other, never half a change. */
#ifndef VDB_CORE_CATALOG_H
#define VDB_CORE_CATALOG_H

#include "core/collection.h"

/* Another name of a collection ("alias/<name>" in the meta store: the collection's name). */
typedef struct vdb_alias {
    char *name;
    vdb_collection *c;
} vdb_alias;

typedef struct vdb_catalog {
    pthread_rwlock_t lock;
    size_t n, cap;
    vdb_collection **colls;
    size_t naliases, aliases_cap;
    vdb_alias *aliases;
    size_t ndbs, dbs_cap;    /* the databases besides "default" (databases.c) */
    char **dbs;
} vdb_catalog;

void vdb_catalog_init(vdb_catalog *cat);
/* Frees every collection and the list. */
void vdb_catalog_destroy(vdb_catalog *cat);
/* The collection named name, or that the alias name names, or NULL (lock held). Every call
 * that takes a collection name resolves it here, so every one accepts an alias, and the
 * qualified names of databases.c ("default.<c>" is "<c>"). */
vdb_collection *vdb_catalog_find(const vdb_catalog *cat, const char *name);
/* The collection of exactly that name (aliases not looked at), or NULL. */
vdb_collection *vdb_catalog_find_exact(const vdb_catalog *cat, const char *name);
/* The alias of that name, or NULL. */
vdb_alias *vdb_catalog_find_alias(const vdb_catalog *cat, const char *name);
/* How many aliases name c. */
size_t vdb_catalog_count_aliases(const vdb_catalog *cat, const vdb_collection *c);
/* ... or VDB_ENOTFOUND naming it. */
vdb_status vdb_catalog_lookup(const vdb_catalog *cat, const char *name, vdb_collection **out);
/* Adds c (the catalog takes it) / removes c (the caller takes it back); lock held for
 * writing, or alone at open. After vdb_catalog_reserve, one add cannot fail. */
vdb_status vdb_catalog_reserve(vdb_catalog *cat);
vdb_status vdb_catalog_add(vdb_catalog *cat, vdb_collection *c);
void vdb_catalog_remove(vdb_catalog *cat, vdb_collection *c);
/* Puts nc where c was, aliases included (the caller takes c back); lock held for writing. */
void vdb_catalog_replace(vdb_catalog *cat, vdb_collection *c, vdb_collection *nc);
/* Adds an alias (name, allocated, is taken, freed on failure) / removes one; lock held for
 * writing, or alone at open. After vdb_catalog_reserve_alias, one add cannot fail. */
vdb_status vdb_catalog_reserve_alias(vdb_catalog *cat);
vdb_status vdb_catalog_add_alias(vdb_catalog *cat, char *name, vdb_collection *c);
void vdb_catalog_remove_alias(vdb_catalog *cat, vdb_alias *a);

#endif

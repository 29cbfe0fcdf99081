/* The catalog: the list of collections and of aliases, looked up by name. */
#include "core/catalog.h"

void vdb_catalog_init(vdb_catalog *cat)
{
    *cat = (vdb_catalog){0};
    pthread_rwlock_init(&cat->lock, NULL);
}

void vdb_catalog_destroy(vdb_catalog *cat)
{
    for (size_t i = 0; i < cat->n; i++)
        vdb_collection_free(cat->colls[i]);
    vdb_free(cat->colls);
    for (size_t i = 0; i < cat->naliases; i++)
        vdb_free(cat->aliases[i].name);
    vdb_free(cat->aliases);
    for (size_t i = 0; i < cat->ndbs; i++)
        vdb_free(cat->dbs[i]);
    vdb_free(cat->dbs);
    pthread_rwlock_destroy(&cat->lock);
    *cat = (vdb_catalog){0};
}

vdb_collection *vdb_catalog_find_exact(const vdb_catalog *cat, const char *name)
{
    name = vdb_qualified_canon(name);
    for (size_t i = 0; name && i < cat->n; i++)
        if (!strcmp(cat->colls[i]->name, name))
            return cat->colls[i];
    return NULL;
}

vdb_alias *vdb_catalog_find_alias(const vdb_catalog *cat, const char *name)
{
    name = vdb_qualified_canon(name);
    for (size_t i = 0; name && i < cat->naliases; i++)
        if (!strcmp(cat->aliases[i].name, name))
            return &cat->aliases[i];
    return NULL;
}

vdb_collection *vdb_catalog_find(const vdb_catalog *cat, const char *name)
{
    vdb_collection *c = vdb_catalog_find_exact(cat, name);
    if (c)
        return c;
    vdb_alias *a = vdb_catalog_find_alias(cat, name);
    return a ? a->c : NULL;
}

size_t vdb_catalog_count_aliases(const vdb_catalog *cat, const vdb_collection *c)
{
    size_t n = 0;
    for (size_t i = 0; i < cat->naliases; i++)
        n += cat->aliases[i].c == c;
    return n;
}

vdb_status vdb_catalog_lookup(const vdb_catalog *cat, const char *name, vdb_collection **out)
{
    *out = vdb_catalog_find(cat, name);
    if (!*out)
        return vdb_set_errmsg(VDB_ENOTFOUND, "collection '%s' does not exist",
                              name ? name : "(null)");
    return VDB_OK;
}

vdb_status vdb_catalog_reserve(vdb_catalog *cat)
{
    if (cat->n < cat->cap)
        return VDB_OK;
    size_t cap = cat->cap ? cat->cap * 2 : 8;
    vdb_collection **v = vdb_realloc(cat->colls, cap * sizeof *v);
    if (!v)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    cat->colls = v;
    cat->cap = cap;
    return VDB_OK;
}

vdb_status vdb_catalog_add(vdb_catalog *cat, vdb_collection *c)
{
    vdb_status st = vdb_catalog_reserve(cat);
    if (st == VDB_OK)
        cat->colls[cat->n++] = c;
    return st;
}

void vdb_catalog_remove(vdb_catalog *cat, vdb_collection *c)
{
    for (size_t i = 0; i < cat->n; i++)
        if (cat->colls[i] == c) {
            cat->colls[i] = cat->colls[--cat->n];
            return;
        }
}

void vdb_catalog_replace(vdb_catalog *cat, vdb_collection *c, vdb_collection *nc)
{
    for (size_t i = 0; i < cat->n; i++)
        if (cat->colls[i] == c)
            cat->colls[i] = nc;
    for (size_t i = 0; i < cat->naliases; i++)
        if (cat->aliases[i].c == c)
            cat->aliases[i].c = nc;
}

vdb_status vdb_catalog_reserve_alias(vdb_catalog *cat)
{
    if (cat->naliases < cat->aliases_cap)
        return VDB_OK;
    size_t cap = cat->aliases_cap ? cat->aliases_cap * 2 : 8;
    vdb_alias *v = vdb_realloc(cat->aliases, cap * sizeof *v);
    if (!v)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    cat->aliases = v;
    cat->aliases_cap = cap;
    return VDB_OK;
}

vdb_status vdb_catalog_add_alias(vdb_catalog *cat, char *name, vdb_collection *c)
{
    vdb_status st = vdb_catalog_reserve_alias(cat);
    if (st == VDB_OK)
        cat->aliases[cat->naliases++] = (vdb_alias){name, c};
    else
        vdb_free(name);
    return st;
}

void vdb_catalog_remove_alias(vdb_catalog *cat, vdb_alias *a)
{
    vdb_free(a->name);
    *a = cat->aliases[--cat->naliases];
}

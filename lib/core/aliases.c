/* Aliases: other names of collections, as Milvus has them. Each is one meta record
 * ("alias/<alias>" holding the collection's name) and one catalog entry; every change is
 * one meta transaction under the catalog's write lock, so a reader resolving the alias
 * (vdb_catalog_find) sees the collection before or after, nothing in between. */
#include <stdio.h>
#include <stdlib.h>

#include "core/aliases.h"
#include "core/ddl.h"
#include "core/follow.h"
#include "core/metatxn.h"
#include "core/names.h"

/* The target of create/alter: a collection, not an alias, and an alias name that no
 * collection has. */
static vdb_status check_pair(vdb_db *db, const char *collection, const char *alias,
                             vdb_collection **c)
{
    if (!vdb_qualified_valid(alias))
        return vdb_set_errmsg(VDB_EINVAL, "alias '%s' is invalid: use 1..255 letters, digits "
                              "or '_', starting with a letter or '_'", alias);
    if (!vdb_same_database(alias, vdb_qualified_canon(collection)))
        return vdb_set_errmsg(VDB_EINVAL, "alias '%s' and collection '%s' are in different "
                              "databases: an alias names a collection of its own database",
                              alias, collection);
    if (vdb_catalog_find_exact(&db->catalog, alias))
        return vdb_set_errmsg(VDB_EEXIST, "alias '%s' is the name of a collection: an alias "
                              "must differ from every collection name", alias);
    vdb_alias *other = vdb_catalog_find_alias(&db->catalog, collection);
    if (other)
        return vdb_set_errmsg(VDB_EINVAL, "'%s' is an alias (of collection '%s'), not a "
                              "collection: an alias names a collection", collection,
                              other->c->name);
    return vdb_catalog_lookup(&db->catalog, collection, c);
}

/* Writes alias -> c->name (a put, checked absent when create) and logs the DDL. */
static vdb_status commit_alias(vdb_db *db, const char *what, const char *alias,
                               const vdb_collection *c, bool create)
{
    char key[300], text[520];
    vdb_alias_key(key, sizeof key, alias);
    vdb_buf v = {0};
    vdb_buf_put(&v, c->name, strlen(c->name));
    vdb_metatxn t = {.oom = v.oom};
    if (create)
        vdb_metatxn_add(&t, VDB_META_CHECK_ABSENT, key, NULL);
    vdb_metatxn_add(&t, VDB_META_PUT, key, &v);
    snprintf(text, sizeof text, "%s %s", alias, c->name);
    vdb_status st = vdb_ddl_log(db, what, text, c->id);
    if (st == VDB_OK)
        st = vdb_metatxn_commit(db, &t);
    vdb_metatxn_free(&t);
    vdb_buf_free(&v);
    return st;
}

vdb_status vdb_create_alias(vdb_db *db, const char *collection, const char *alias)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_create_alias");
    VDB_CHECK_ARG(db && collection && alias, "vdb_create_alias: db, collection or alias is "
                  "NULL");
    alias = vdb_qualified_canon(alias);
    vdb_lock_wr(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    char *name = NULL;
    vdb_status st = check_pair(db, collection, alias, &c);
    if (st != VDB_OK)
        goto done;
    vdb_alias *a = vdb_catalog_find_alias(&db->catalog, alias);
    if (a && a->c == c)
        goto done; /* as Milvus: the same alias again is no error */
    if (a) {
        st = vdb_set_errmsg(VDB_EEXIST, "alias '%s' already exists and names collection '%s' "
                            "(use alter_alias to move it to '%s')", alias, a->c->name,
                            c->name);
        goto done;
    }
    if (!(name = vdb_strdup(alias))) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto done;
    }
    if ((st = vdb_catalog_reserve_alias(&db->catalog)) != VDB_OK ||
        (st = commit_alias(db, "create_alias", alias, c, true)) != VDB_OK)
        goto done;
    vdb_catalog_add_alias(&db->catalog, name, c); /* reserved: cannot fail */
    name = NULL;
done:
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_free(name);
    return st;
}

vdb_status vdb_alter_alias(vdb_db *db, const char *collection, const char *alias)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_alter_alias");
    VDB_CHECK_ARG(db && collection && alias, "vdb_alter_alias: db, collection or alias is "
                  "NULL");
    alias = vdb_qualified_canon(alias);
    vdb_lock_wr(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_alias *a = NULL;
    vdb_status st = check_pair(db, collection, alias, &c);
    if (st == VDB_OK && !(a = vdb_catalog_find_alias(&db->catalog, alias)))
        st = vdb_set_errmsg(VDB_ENOTFOUND, "alias '%s' does not exist (create_alias makes "
                            "it)", alias);
    if (st == VDB_OK && a->c != c) {
        st = commit_alias(db, "alter_alias", alias, c, false);
        if (st == VDB_OK)
            a->c = c; /* the swap: readers hold the catalog lock for reading */
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return st;
}

vdb_status vdb_drop_alias(vdb_db *db, const char *alias)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_drop_alias");
    VDB_CHECK_ARG(db && alias, "vdb_drop_alias: db or alias is NULL");
    alias = vdb_qualified_canon(alias);
    vdb_lock_wr(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_status st = VDB_OK;
    vdb_alias *a = vdb_catalog_find_alias(&db->catalog, alias);
    if (!a) {
        st = vdb_set_errmsg(VDB_ENOTFOUND, "alias '%s' does not exist", alias);
        goto done;
    }
    char key[300], text[520];
    vdb_alias_key(key, sizeof key, alias);
    snprintf(text, sizeof text, "%s %s", alias, a->c->name);
    vdb_metatxn t = {0};
    vdb_metatxn_add(&t, VDB_META_DELETE, key, NULL);
    st = vdb_ddl_log(db, "drop_alias", text, a->c->id);
    if (st == VDB_OK)
        st = vdb_metatxn_commit(db, &t);
    vdb_metatxn_free(&t);
    if (st == VDB_OK)
        vdb_catalog_remove_alias(&db->catalog, a);
done:
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return st;
}

vdb_status vdb_list_aliases(vdb_db *db, const char *collection, vdb_names **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && out, "vdb_list_aliases: db or out is NULL");
    *out = NULL;
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c = NULL;
    vdb_status st = collection ? vdb_catalog_lookup(&db->catalog, collection, &c) : VDB_OK;
    if (st == VDB_OK)
        st = vdb_names_new(db->catalog.naliases, out);
    for (size_t i = 0; st == VDB_OK && i < db->catalog.naliases; i++) {
        const vdb_alias *a = &db->catalog.aliases[i];
        if (c && a->c != c)
            continue;
        if (!((*out)->names[(*out)->count] = vdb_strdup(a->name)))
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        else
            (*out)->count++;
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return vdb_names_finish(out, 0, st);
}

vdb_status vdb_describe_alias(vdb_db *db, const char *alias, char *collection, size_t n)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && alias && collection, "vdb_describe_alias: db, alias or collection is "
                  "NULL");
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_status st = VDB_OK;
    const vdb_alias *a = vdb_catalog_find_alias(&db->catalog, alias);
    if (!a)
        st = vdb_set_errmsg(VDB_ENOTFOUND, "alias '%s' does not exist", alias);
    else if (strlen(a->c->name) >= n)
        st = vdb_set_errmsg(VDB_ERANGE, "vdb_describe_alias: the collection name of '%s' takes "
                            "%zu bytes, the buffer has %zu", alias, strlen(a->c->name) + 1, n);
    else
        memcpy(collection, a->c->name, strlen(a->c->name) + 1);
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return st;
}

/* ---- at open ---- */

typedef struct alias_loader {
    vdb_catalog *cat;
    vdb_status st;
} alias_loader;

static int load_alias(void *arg, const char *key, const void *val, size_t len)
{
    alias_loader *l = arg;
    char target[VDB_MAX_NAME + 1];
    const char *alias = key + strlen("alias/");
    vdb_collection *c = NULL;
    if (len < sizeof target) {
        memcpy(target, val, len);
        target[len] = 0;
        c = vdb_catalog_find_exact(l->cat, target);
    }
    if (!c || !vdb_qualified_valid(alias) || !vdb_same_database(alias, c->name) ||
        vdb_catalog_find(l->cat, alias)) {
        l->st = vdb_set_errmsg(VDB_ECORRUPT, "meta key %s: the alias names no collection, or "
                               "its name is taken", key);
        return 1;
    }
    char *name = vdb_strdup(alias);
    l->st = name ? vdb_catalog_add_alias(l->cat, name, c)
                 : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    return l->st != VDB_OK;
}

vdb_status vdb_load_aliases(vdb_db *db)
{
    alias_loader l = {&db->catalog, VDB_OK};
    vdb_status st = db->meta.be->scan(db->meta.h, "alias/", load_alias, &l);
    return st == VDB_OK ? l.st : st;
}

/* Databases: namespaces of collections, as Milvus has them. "default" always exists and is
 * not stored; each other database is one meta record "database/<name>" and one catalog
 * entry, created or dropped in one meta transaction under the catalog's write lock. A
 * collection's qualified name ("<db>.<name>", schema.c) is its name in the catalog and the
 * meta store, so every call finds it as it finds any other; '.' is in no plain name, so the
 * qualified name is unambiguous. */
#include <stdio.h>
#include <stdlib.h>

#include "core/databases.h"
#include "core/ddl.h"
#include "core/follow.h"
#include "core/metatxn.h"
#include "core/names.h"

#define VDB_MAX_DATABASES 64 /* Milvus's rootCoord.maxDatabaseNum, "default" included */

static int find_db(const vdb_catalog *cat, const char *name, size_t n)
{
    for (size_t i = 0; i < cat->ndbs; i++)
        if (strlen(cat->dbs[i]) == n && !strncmp(cat->dbs[i], name, n))
            return (int)i;
    return -1;
}

vdb_status vdb_check_database_of(const vdb_catalog *cat, const char *name)
{
    size_t n = vdb_qualified_db_len(name);
    if (n == 0 || find_db(cat, name, n) >= 0)
        return VDB_OK;
    return vdb_set_errmsg(VDB_ENOTFOUND, "database not found[database=%.*s] (create it with "
                          "vdb_create_database)", (int)n, name);
}

static void db_key(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "database/%s", name);
}

static vdb_status add_db(vdb_catalog *cat, const char *name)
{
    if (cat->ndbs == cat->dbs_cap) {
        size_t cap = cat->dbs_cap ? cat->dbs_cap * 2 : 8;
        char **v = vdb_realloc(cat->dbs, cap * sizeof *v);
        if (!v)
            return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        cat->dbs = v;
        cat->dbs_cap = cap;
    }
    if (!(cat->dbs[cat->ndbs] = vdb_strdup(name)))
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    cat->ndbs++;
    return VDB_OK;
}

static vdb_status check_name(const char *name)
{
    if (!vdb_name_valid(name))
        return vdb_set_errmsg(VDB_EINVAL, "database name '%s' is invalid: use 1..255 letters, "
                              "digits or '_', starting with a letter or '_'",
                              name ? name : "(null)");
    return VDB_OK;
}

vdb_status vdb_create_database(vdb_db *db, const char *name)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_create_database");
    VDB_CHECK_ARG(db && name, "vdb_create_database: db or name is NULL");
    vdb_status st = check_name(name);
    if (st != VDB_OK)
        return st;
    vdb_lock_wr(&db->catalog.lock, VDB_RANK_CATALOG);
    char key[300];
    vdb_metatxn t = {0};
    if (!strcmp(name, VDB_DEFAULT_DATABASE) || find_db(&db->catalog, name, strlen(name)) >= 0) {
        st = vdb_set_errmsg(VDB_EEXIST, "database already exist: %s", name);
        goto done;
    }
    if (db->catalog.ndbs + 1 >= VDB_MAX_DATABASES) {
        st = vdb_set_errmsg(VDB_EINVAL, "database number (%d) exceeds max configuration (%d)",
                            VDB_MAX_DATABASES, VDB_MAX_DATABASES);
        goto done;
    }
    db_key(key, sizeof key, name);
    vdb_buf v = {0};
    vdb_buf_u32(&v, 1); /* record version; nothing else yet (Milvus's properties: none) */
    if (v.oom)
        t.oom = true;
    vdb_metatxn_add(&t, VDB_META_CHECK_ABSENT, key, NULL);
    vdb_metatxn_add(&t, VDB_META_PUT, key, &v);
    vdb_buf_free(&v);
    if ((st = vdb_ddl_log(db, "create_database", name, 0)) == VDB_OK &&
        (st = vdb_metatxn_commit(db, &t)) == VDB_OK &&
        (st = add_db(&db->catalog, name)) != VDB_OK)
        st = vdb_set_errmsg(st, "database '%s' is created but not in memory: reopen", name);
done:
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_metatxn_free(&t);
    return st;
}

vdb_status vdb_drop_database(vdb_db *db, const char *name)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_drop_database");
    VDB_CHECK_ARG(db && name, "vdb_drop_database: db or name is NULL");
    VDB_CHECK_ARG(strcmp(name, VDB_DEFAULT_DATABASE), "can not drop default database");
    vdb_lock_wr(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_status st = VDB_OK;
    vdb_metatxn t = {0};
    int i = find_db(&db->catalog, name, strlen(name));
    if (i < 0) {
        st = vdb_set_errmsg(VDB_ENOTFOUND, "database not found[database=%s]", name);
        goto done;
    }
    size_t n = strlen(name), ncoll = 0;
    for (size_t k = 0; k < db->catalog.n; k++) {
        const char *c = db->catalog.colls[k]->name;
        ncoll += vdb_qualified_db_len(c) == n && !strncmp(c, name, n);
    }
    if (ncoll) {
        st = vdb_set_errmsg(VDB_EINVAL, "database:%s not empty, must drop all collections "
                            "before drop database (it has %zu)", name, ncoll);
        goto done;
    }
    char key[300];
    db_key(key, sizeof key, name);
    vdb_metatxn_add(&t, VDB_META_DELETE, key, NULL);
    if ((st = vdb_ddl_log(db, "drop_database", name, 0)) == VDB_OK &&
        (st = vdb_metatxn_commit(db, &t)) == VDB_OK) {
        vdb_free(db->catalog.dbs[i]);
        db->catalog.dbs[i] = db->catalog.dbs[--db->catalog.ndbs];
    }
done:
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_metatxn_free(&t);
    return st;
}

vdb_status vdb_list_databases(vdb_db *db, vdb_names **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && out, "vdb_list_databases: db or out is NULL");
    *out = NULL;
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_status st = vdb_names_new(db->catalog.ndbs + 1, out);
    for (size_t i = 0; st == VDB_OK && i <= db->catalog.ndbs; i++) {
        const char *n = i ? db->catalog.dbs[i - 1] : VDB_DEFAULT_DATABASE;
        if (!((*out)->names[i] = vdb_strdup(n)))
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        else
            (*out)->count = i + 1;
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    /* "default" first, as Milvus lists it, then the others by name */
    return vdb_names_finish(out, 1, st);
}

vdb_status vdb_has_database(vdb_db *db, const char *name, int *exists)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && name && exists, "vdb_has_database: db, name or exists is NULL");
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    *exists = !strcmp(name, VDB_DEFAULT_DATABASE) ||
              find_db(&db->catalog, name, strlen(name)) >= 0;
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return VDB_OK;
}

vdb_status vdb_list_collections_in(vdb_db *db, const char *database, vdb_names **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && out, "vdb_list_collections_in: db or out is NULL");
    *out = NULL;
    if (!database)
        database = VDB_DEFAULT_DATABASE;
    bool dflt = !strcmp(database, VDB_DEFAULT_DATABASE);
    size_t n = dflt ? 0 : strlen(database);
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_status st = VDB_OK;
    if (!dflt && find_db(&db->catalog, database, n) < 0)
        st = vdb_set_errmsg(VDB_ENOTFOUND, "database not found[database=%s]", database);
    if (st == VDB_OK)
        st = vdb_names_new(db->catalog.n, out);
    for (size_t i = 0; st == VDB_OK && i < db->catalog.n; i++) {
        const char *c = db->catalog.colls[i]->name;
        if (vdb_qualified_db_len(c) != n || (n && strncmp(c, database, n)))
            continue;
        if (!((*out)->names[(*out)->count] = vdb_strdup(n ? c + n + 1 : c)))
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        else
            (*out)->count++;
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return vdb_names_finish(out, 0, st);
}

typedef struct db_loader {
    vdb_catalog *cat;
    vdb_status st;
} db_loader;

static int load_db(void *arg, const char *key, const void *val, size_t len)
{
    (void)val;
    (void)len;
    db_loader *l = arg;
    const char *name = key + strlen("database/");
    if (!vdb_name_valid(name) || !strcmp(name, VDB_DEFAULT_DATABASE) ||
        find_db(l->cat, name, strlen(name)) >= 0) {
        l->st = vdb_set_errmsg(VDB_ECORRUPT, "meta key %s: not a database name", key);
        return 1;
    }
    l->st = add_db(l->cat, name);
    return l->st != VDB_OK;
}

vdb_status vdb_load_databases(vdb_db *db)
{
    db_loader l = {&db->catalog, VDB_OK};
    vdb_status st = db->meta.be->scan(db->meta.h, "database/", load_db, &l);
    if (st == VDB_OK)
        st = l.st;
    /* every collection's database must be there (drop_database refuses a non-empty one) */
    for (size_t i = 0; st == VDB_OK && i < db->catalog.n; i++)
        if (vdb_check_database_of(&db->catalog, db->catalog.colls[i]->name) != VDB_OK)
            st = vdb_set_errmsg(VDB_ECORRUPT, "collection '%s': its database has no record",
                                db->catalog.colls[i]->name);
    return st;
}

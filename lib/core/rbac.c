/* Users and roles, as Milvus has them. Each user is one meta record "rbac/user/<name>"
 * (version, PBKDF2 iterations, salt, hash, its roles), each role one "rbac/role/<name>"
 * (version, its grants); a change writes the records it touches in one meta transaction
 * under r->mu, then updates the copy in memory. "root" has a record only once its password
 * changed (until then its password is Milvus's default, "Milvus"); "admin" and "public"
 * have one only when something is granted to public.
 *
 * A verified password leaves an HMAC of it (keyed by the salt) in memory, so the next
 * request with the same password costs one HMAC, not the whole PBKDF2 (a front checks every
 * request); it is compared in constant time and dropped when the password changes. The
 * PBKDF2 itself runs without r->mu (a user's first request does not hold up every other
 * user's checks): what it compares against is copied with the user's credential generation,
 * and the answer counts only if that generation is still the user's afterwards (a password
 * changed or the user dropped meanwhile: refused). vdb_authenticate_cached answers only what
 * needs no PBKDF2, so that a server's event loop never runs one (server/http.c). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/metatxn.h"
#include "core/names.h"
#include "core/rbac.h"
#include "util/kdf.h"

#define SALT_LEN 16
#define PBKDF2_ITERS 100000
#define MAX_USERS 100 /* Milvus's proxy.maxUserNum */
#define MAX_ROLES 10  /* proxy.maxRoleNum */
#define NAME_MAX_LEN 32
#define PW_MIN 6
#define PW_MAX 256
#define ROOT "root"
#define ROOT_DEFAULT_PW "Milvus"

typedef struct rb_grant {
    uint8_t object;
    char *dbn, *obj, *priv;
} rb_grant;

typedef struct rb_role {
    char *name;
    rb_grant *g;
    size_t ng;
} rb_role;

typedef struct rb_user {
    char *name;
    uint32_t iters;
    uint8_t salt[SALT_LEN], hash[VDB_SHA256_LEN];
    bool stored;                 /* root: false until its password is set */
    bool fast_ok;
    uint8_t fast[VDB_SHA256_LEN];
    char **roles;
    size_t nroles;
    uint64_t cred_gen; /* r->gen when its password was last set (0: loaded as it is) */
} rb_user;

struct vdb_rbac {
    pthread_mutex_t mu;
    rb_user *users;
    size_t nusers;
    rb_role *roles;
    size_t nroles;
    uint64_t gen; /* credential generations handed out */
};

static const char *const obj_names[] = {"Global", "Collection", "User"};

/* Milvus's privilege names by object type (its "All" is "*") */
static const char *const global_privs[] = {
    "CreateCollection", "DropCollection", "DescribeCollection", "ShowCollections",
    "RenameCollection", "FlushAll", "CreateOwnership", "DropOwnership", "SelectOwnership",
    "ManageOwnership", "CreateResourceGroup", "DropResourceGroup", "DescribeResourceGroup",
    "ListResourceGroups", "TransferNode", "TransferReplica", "CreateDatabase", "DropDatabase",
    "ListDatabases", "CreateAlias", "DropAlias", "DescribeAlias", "ListAliases", "UpdateUser",
    "SelectUser", NULL};
static const char *const coll_privs[] = {
    "CreateIndex", "DropIndex", "IndexDetail", "Load", "GetLoadingProgress", "GetLoadState",
    "Release", "Insert", "Delete", "Upsert", "Search", "Flush", "GetFlushState", "Query",
    "GetStatistics", "Compaction", "Import", "LoadBalance", "CreatePartition", "DropPartition",
    "ShowPartitions", "HasPartition", NULL};
static const char *const user_privs[] = {"UpdateUser", "SelectUser", NULL};
static const char *const priv_groups[] = {
    "ClusterReadOnly", "ClusterReadWrite", "ClusterAdmin", "DatabaseReadOnly",
    "DatabaseReadWrite", "DatabaseAdmin", "CollectionReadOnly", "CollectionReadWrite",
    "CollectionAdmin", NULL};

static bool in_list(const char *const *l, const char *s)
{
    for (; *l; l++)
        if (!strcmp(*l, s))
            return true;
    return false;
}

static vdb_status check_priv(vdb_rbac_object o, const char *priv)
{
    if (!strcmp(priv, "*"))
        return VDB_OK;
    if (in_list(priv_groups, priv))
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "privilege group %s: privilege groups are not "
                              "built; grant its privileges one by one", priv);
    const char *const *l = o == VDB_OBJECT_GLOBAL ? global_privs
                           : o == VDB_OBJECT_COLLECTION ? coll_privs : user_privs;
    if (!in_list(l, priv))
        return vdb_set_errmsg(VDB_EINVAL, "not found the privilege name[%s] in object[%s]",
                              priv, obj_names[o]);
    return VDB_OK;
}

static vdb_status check_user_name(const char *name)
{
    size_t n = strlen(name);
    bool ok = n && n <= NAME_MAX_LEN &&
              ((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z'));
    if (ok && vdb_name_valid(name))
        return VDB_OK;
    return vdb_set_errmsg(VDB_EINVAL, "invalid user name %s: the first character must be a "
                          "letter, the others letters, digits or '_', at most %d", name,
                          NAME_MAX_LEN);
}

static vdb_status check_role_name(const char *name)
{
    if (strlen(name) <= NAME_MAX_LEN && vdb_name_valid(name))
        return VDB_OK;
    return vdb_set_errmsg(VDB_EINVAL, "invalid role name %s: the first character must be a "
                          "letter or '_', the others letters, digits or '_', at most %d", name,
                          NAME_MAX_LEN);
}

static vdb_status check_password(const char *pw)
{
    size_t n = strlen(pw);
    if (n >= PW_MIN && n <= PW_MAX)
        return VDB_OK;
    return vdb_set_errmsg(VDB_EINVAL, "invalid password length: the length of password must "
                          "be between %d and %d", PW_MIN, PW_MAX);
}

/* names in the object/db fields: a plain name or "*" */
static vdb_status check_obj_name(const char *what, const char *s)
{
    if (!strcmp(s, "*") || vdb_name_valid(s))
        return VDB_OK;
    return vdb_set_errmsg(VDB_EINVAL, "invalid %s '%s': a name or \"*\"", what, s);
}

static rb_user *find_user(struct vdb_rbac *r, const char *name)
{
    for (size_t i = 0; i < r->nusers; i++)
        if (!strcmp(r->users[i].name, name))
            return &r->users[i];
    return NULL;
}

static rb_role *find_role(struct vdb_rbac *r, const char *name)
{
    for (size_t i = 0; i < r->nroles; i++)
        if (!strcmp(r->roles[i].name, name))
            return &r->roles[i];
    return NULL;
}

static void user_free(rb_user *u)
{
    vdb_free(u->name);
    for (size_t i = 0; i < u->nroles; i++)
        vdb_free(u->roles[i]);
    vdb_free(u->roles);
}

static void grant_free(rb_grant *g)
{
    vdb_free(g->dbn);
    vdb_free(g->obj);
    vdb_free(g->priv);
}

static void role_free(rb_role *ro)
{
    vdb_free(ro->name);
    for (size_t i = 0; i < ro->ng; i++)
        grant_free(&ro->g[i]);
    vdb_free(ro->g);
}

void vdb_rbac_free(struct vdb_rbac *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nusers; i++)
        user_free(&r->users[i]);
    vdb_free(r->users);
    for (size_t i = 0; i < r->nroles; i++)
        role_free(&r->roles[i]);
    vdb_free(r->roles);
    pthread_mutex_destroy(&r->mu);
    vdb_free(r);
}

static bool grow(void **v, size_t n, size_t elem)
{
    void *p = vdb_realloc(*v, (n + 1) * elem);
    if (!p)
        return false;
    *v = p;
    return true;
}

/* ---- records ---- */

static void user_key(char *k, size_t n, const char *name)
{
    snprintf(k, n, "rbac/user/%s", name);
}

static void role_key(char *k, size_t n, const char *name)
{
    snprintf(k, n, "rbac/role/%s", name);
}

static void put_user(vdb_metatxn *t, const rb_user *u)
{
    vdb_buf v = {0};
    vdb_buf_u32(&v, 1);
    vdb_buf_u32(&v, u->iters);
    vdb_buf_bytes(&v, u->salt, SALT_LEN);
    vdb_buf_bytes(&v, u->hash, VDB_SHA256_LEN);
    vdb_buf_u32(&v, (uint32_t)u->nroles);
    for (size_t i = 0; i < u->nroles; i++)
        vdb_buf_str(&v, u->roles[i]);
    char key[64];
    user_key(key, sizeof key, u->name);
    vdb_metatxn_add(t, VDB_META_PUT, key, &v);
    vdb_buf_free(&v);
}

static void put_role(vdb_metatxn *t, const rb_role *ro)
{
    vdb_buf v = {0};
    vdb_buf_u32(&v, 1);
    vdb_buf_u32(&v, (uint32_t)ro->ng);
    for (size_t i = 0; i < ro->ng; i++) {
        vdb_buf_u8(&v, ro->g[i].object);
        vdb_buf_str(&v, ro->g[i].dbn);
        vdb_buf_str(&v, ro->g[i].obj);
        vdb_buf_str(&v, ro->g[i].priv);
    }
    char key[64];
    role_key(key, sizeof key, ro->name);
    vdb_metatxn_add(t, VDB_META_PUT, key, &v);
    vdb_buf_free(&v);
}

typedef struct loader {
    struct vdb_rbac *r;
    vdb_status st;
} loader;

static int load_user(void *arg, const char *key, const void *val, size_t len)
{
    loader *l = arg;
    const char *name = key + strlen("rbac/user/");
    vdb_rd rd = vdb_rd_init(val, len);
    rb_user u = {0};
    size_t sl = 0, hl = 0;
    uint32_t ver = vdb_rd_u32(&rd);
    u.iters = vdb_rd_u32(&rd);
    const void *salt = vdb_rd_bytes(&rd, &sl);
    const void *hash = vdb_rd_bytes(&rd, &hl);
    uint32_t nr = vdb_rd_u32(&rd);
    if (rd.err || ver != 1 || !u.iters || sl != SALT_LEN || hl != VDB_SHA256_LEN ||
        nr > MAX_ROLES + 2 || check_user_name(name) != VDB_OK || find_user(l->r, name)) {
        l->st = vdb_set_errmsg(ver > 1 && !rd.err ? VDB_EVERSION : VDB_ECORRUPT,
                               "meta record %s: not a user record", key);
        return 1;
    }
    memcpy(u.salt, salt, SALT_LEN);
    memcpy(u.hash, hash, VDB_SHA256_LEN);
    u.stored = true;
    if (!(u.name = vdb_strdup(name)) || (nr && !(u.roles = vdb_calloc(nr, sizeof *u.roles))))
        goto oom;
    for (; u.nroles < nr; u.nroles++) {
        if (!(u.roles[u.nroles] = vdb_rd_str(&rd))) {
            user_free(&u);
            l->st = vdb_set_errmsg(VDB_ECORRUPT, "meta record %s: a role name is cut", key);
            return 1;
        }
    }
    if (!grow((void **)&l->r->users, l->r->nusers, sizeof u))
        goto oom;
    l->r->users[l->r->nusers++] = u;
    return 0;
oom:
    user_free(&u);
    l->st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    return 1;
}

static int load_role(void *arg, const char *key, const void *val, size_t len)
{
    loader *l = arg;
    const char *name = key + strlen("rbac/role/");
    vdb_rd rd = vdb_rd_init(val, len);
    rb_role ro = {0};
    uint32_t ver = vdb_rd_u32(&rd);
    uint32_t ng = vdb_rd_u32(&rd);
    if (rd.err || ver != 1 || ng > len || check_role_name(name) != VDB_OK ||
        find_role(l->r, name)) {
        l->st = vdb_set_errmsg(ver > 1 && !rd.err ? VDB_EVERSION : VDB_ECORRUPT,
                               "meta record %s: not a role record", key);
        return 1;
    }
    if (!(ro.name = vdb_strdup(name)) || (ng && !(ro.g = vdb_calloc(ng, sizeof *ro.g)))) {
        role_free(&ro);
        l->st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        return 1;
    }
    for (; ro.ng < ng; ro.ng++) {
        rb_grant *g = &ro.g[ro.ng];
        g->object = vdb_rd_u8(&rd);
        g->dbn = vdb_rd_str(&rd);
        g->obj = vdb_rd_str(&rd);
        g->priv = vdb_rd_str(&rd);
        if (rd.err || !g->dbn || !g->obj || !g->priv || g->object > VDB_OBJECT_USER) {
            ro.ng++;
            role_free(&ro);
            l->st = vdb_set_errmsg(VDB_ECORRUPT, "meta record %s: grant %u is damaged", key,
                                   (unsigned)ro.ng);
            return 1;
        }
    }
    if (!grow((void **)&l->r->roles, l->r->nroles, sizeof ro)) {
        role_free(&ro);
        l->st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        return 1;
    }
    l->r->roles[l->r->nroles++] = ro;
    return 0;
}

static vdb_status add_builtin_role(struct vdb_rbac *r, const char *name)
{
    if (find_role(r, name))
        return VDB_OK;
    rb_role ro = {0};
    if (!(ro.name = vdb_strdup(name)) || !grow((void **)&r->roles, r->nroles, sizeof ro)) {
        vdb_free(ro.name);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    r->roles[r->nroles++] = ro;
    return VDB_OK;
}

vdb_status vdb_load_rbac(vdb_db *db)
{
    struct vdb_rbac *r = vdb_calloc(1, sizeof *r);
    if (!r)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    pthread_mutex_init(&r->mu, NULL);
    db->rbac = r;
    loader l = {r, VDB_OK};
    vdb_status st = db->meta.be->scan(db->meta.h, "rbac/user/", load_user, &l);
    if (st == VDB_OK && (st = l.st) == VDB_OK)
        st = db->meta.be->scan(db->meta.h, "rbac/role/", load_role, &l);
    if (st == VDB_OK)
        st = l.st;
    if (st == VDB_OK)
        st = add_builtin_role(r, "admin");
    if (st == VDB_OK)
        st = add_builtin_role(r, "public");
    if (st == VDB_OK && !find_user(r, ROOT)) {
        rb_user u = {0};
        if (!(u.name = vdb_strdup(ROOT)) || !grow((void **)&r->users, r->nusers, sizeof u)) {
            vdb_free(u.name);
            return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        }
        r->users[r->nusers++] = u;
    }
    /* every role a user holds must exist */
    for (size_t i = 0; st == VDB_OK && i < r->nusers; i++)
        for (size_t j = 0; st == VDB_OK && j < r->users[i].nroles; j++)
            if (!find_role(r, r->users[i].roles[j]))
                st = vdb_set_errmsg(VDB_ECORRUPT, "meta record rbac/user/%s: role %s has no "
                                    "record", r->users[i].name, r->users[i].roles[j]);
    return st;
}

/* ---- users ---- */

static vdb_status set_password(struct vdb_rbac *r, rb_user *u, const char *pw)
{
    if (!vdb_random_bytes(u->salt, SALT_LEN))
        return vdb_set_errmsg(VDB_EIO, "getrandom: no random bytes for the salt");
    u->iters = PBKDF2_ITERS;
    vdb_pbkdf2_sha256(pw, strlen(pw), u->salt, SALT_LEN, u->iters, u->hash, VDB_SHA256_LEN);
    u->fast_ok = false;
    u->stored = true;
    u->cred_gen = ++r->gen;
    return VDB_OK;
}

/* What can be told of pw without the PBKDF2 (r->mu held): 1 it is u's password (root's
 * default, or the remembered HMAC, left in f), 0 it is not (root's default), -1 not known
 * without the PBKDF2 (f: pw's HMAC). */
static int verify_fast(const rb_user *u, const char *pw, size_t n, uint8_t f[VDB_SHA256_LEN])
{
    if (!u->stored) { /* root before its password is set */
        size_t m = strlen(ROOT_DEFAULT_PW);
        uint8_t a[VDB_SHA256_LEN], b[VDB_SHA256_LEN];
        vdb_sha256(pw, n, a);
        vdb_sha256(ROOT_DEFAULT_PW, m, b);
        return vdb_ct_equal(a, b, sizeof a) ? 1 : 0;
    }
    vdb_hmac_sha256(u->salt, SALT_LEN, pw, n, f);
    return u->fast_ok && vdb_ct_equal(f, u->fast, VDB_SHA256_LEN) ? 1 : -1;
}

/* Whether pw is u's password (r->mu held: vdb_update_password's check of the old one). */
static bool verify(rb_user *u, const char *pw)
{
    size_t n = strlen(pw);
    uint8_t f[VDB_SHA256_LEN];
    int fast = verify_fast(u, pw, n, f);
    if (fast >= 0)
        return fast == 1;
    uint8_t h[VDB_SHA256_LEN];
    vdb_pbkdf2_sha256(pw, n, u->salt, SALT_LEN, u->iters, h, sizeof h);
    if (!vdb_ct_equal(h, u->hash, sizeof h))
        return false;
    memcpy(u->fast, f, sizeof f);
    u->fast_ok = true;
    return true;
}

vdb_status vdb_create_user(vdb_db *db, const char *user, const char *password)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && user && password, "vdb_create_user: db, user or password is NULL");
    vdb_status st;
    if ((st = check_user_name(user)) != VDB_OK || (st = check_password(password)) != VDB_OK)
        return st;
    struct vdb_rbac *r = db->rbac;
    rb_user u = {0};
    vdb_metatxn t = {0};
    pthread_mutex_lock(&r->mu);
    if (find_user(r, user)) {
        st = vdb_set_errmsg(VDB_EEXIST, "user already exists: %s", user);
        goto done;
    }
    if (r->nusers >= MAX_USERS) {
        st = vdb_set_errmsg(VDB_EINVAL, "unable to add user because the number of users has "
                            "reached the limit (%d)", MAX_USERS);
        goto done;
    }
    if ((st = set_password(r, &u, password)) != VDB_OK)
        goto done;
    if (!(u.name = vdb_strdup(user)) || !grow((void **)&r->users, r->nusers, sizeof u)) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto done;
    }
    char key[64];
    user_key(key, sizeof key, user);
    vdb_metatxn_add(&t, VDB_META_CHECK_ABSENT, key, NULL);
    put_user(&t, &u);
    if ((st = vdb_metatxn_commit(db, &t)) == VDB_OK) {
        r->users[r->nusers++] = u;
        u.name = NULL;
    }
done:
    pthread_mutex_unlock(&r->mu);
    vdb_free(u.name);
    vdb_metatxn_free(&t);
    return st;
}

vdb_status vdb_drop_user(vdb_db *db, const char *user)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && user, "vdb_drop_user: db or user is NULL");
    VDB_CHECK_ARG(strcmp(user, ROOT), "the user root cannot be dropped");
    struct vdb_rbac *r = db->rbac;
    vdb_status st;
    vdb_metatxn t = {0};
    pthread_mutex_lock(&r->mu);
    rb_user *u = find_user(r, user);
    if (!u) {
        st = vdb_set_errmsg(VDB_ENOTFOUND, "user not found: %s", user);
        goto done;
    }
    char key[64];
    user_key(key, sizeof key, user);
    vdb_metatxn_add(&t, VDB_META_DELETE, key, NULL);
    if ((st = vdb_metatxn_commit(db, &t)) == VDB_OK) {
        user_free(u);
        *u = r->users[--r->nusers];
    }
done:
    pthread_mutex_unlock(&r->mu);
    vdb_metatxn_free(&t);
    return st;
}

vdb_status vdb_update_password(vdb_db *db, const char *user, const char *old_password,
                               const char *new_password)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && user && old_password && new_password,
                  "vdb_update_password: db, user or a password is NULL");
    vdb_status st = check_password(new_password);
    if (st != VDB_OK)
        return st;
    struct vdb_rbac *r = db->rbac;
    vdb_metatxn t = {0};
    pthread_mutex_lock(&r->mu);
    rb_user *u = find_user(r, user);
    if (!u) {
        st = vdb_set_errmsg(VDB_ENOTFOUND, "user not found: %s", user);
        goto done;
    }
    if (!verify(u, old_password)) {
        st = vdb_set_errmsg(VDB_EPERM, "old password not correct for %s", user);
        goto done;
    }
    rb_user nu = *u;
    if ((st = set_password(r, &nu, new_password)) != VDB_OK)
        goto done;
    put_user(&t, &nu);
    if ((st = vdb_metatxn_commit(db, &t)) == VDB_OK)
        *u = nu;
done:
    pthread_mutex_unlock(&r->mu);
    vdb_metatxn_free(&t);
    return st;
}

static vdb_status auth_failure(void)
{
    return vdb_set_errmsg(VDB_EPERM, "auth check failure, please check username and password "
                          "are correct");
}

vdb_status vdb_authenticate(vdb_db *db, const char *user, const char *password)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && user && password, "vdb_authenticate: db, user or password is NULL");
    struct vdb_rbac *r = db->rbac;
    size_t n = strlen(password);
    uint8_t f[VDB_SHA256_LEN], salt[SALT_LEN], hash[VDB_SHA256_LEN], h[VDB_SHA256_LEN];
    pthread_mutex_lock(&r->mu);
    rb_user *u = find_user(r, user);
    int fast = u ? verify_fast(u, password, n, f) : 0;
    uint32_t iters = u ? u->iters : 0;
    uint64_t gen = u ? u->cred_gen : 0;
    if (fast < 0) {
        memcpy(salt, u->salt, SALT_LEN);
        memcpy(hash, u->hash, sizeof hash);
    }
    pthread_mutex_unlock(&r->mu);
    if (fast >= 0)
        return fast ? VDB_OK : auth_failure();
    vdb_pbkdf2_sha256(password, n, salt, SALT_LEN, iters, h, sizeof h); /* without r->mu */
    if (!vdb_ct_equal(h, hash, sizeof h))
        return auth_failure();
    pthread_mutex_lock(&r->mu);
    u = find_user(r, user);
    bool ok = u && u->stored && u->cred_gen == gen; /* not changed or dropped meanwhile */
    if (ok) {
        memcpy(u->fast, f, sizeof f);
        u->fast_ok = true;
    }
    pthread_mutex_unlock(&r->mu);
    return ok ? VDB_OK : auth_failure();
}

vdb_status vdb_authenticate_cached(vdb_db *db, const char *user, const char *password,
                                   int *need_full)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && user && password && need_full,
                  "vdb_authenticate_cached: db, user, password or need_full is NULL");
    struct vdb_rbac *r = db->rbac;
    uint8_t f[VDB_SHA256_LEN];
    pthread_mutex_lock(&r->mu);
    rb_user *u = find_user(r, user);
    int fast = u ? verify_fast(u, password, strlen(password), f) : 0;
    pthread_mutex_unlock(&r->mu);
    *need_full = fast < 0;
    if (fast == 1)
        return VDB_OK;
    if (fast < 0)
        return vdb_set_errmsg(VDB_EPERM, "auth check of %s needs the full PBKDF2 "
                              "(vdb_authenticate)", user);
    return auth_failure();
}

vdb_status vdb_list_users(vdb_db *db, vdb_names **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && out, "vdb_list_users: db or out is NULL");
    struct vdb_rbac *r = db->rbac;
    pthread_mutex_lock(&r->mu);
    vdb_status st = vdb_names_new(r->nusers, out);
    for (size_t i = 0; st == VDB_OK && i < r->nusers; i++)
        st = vdb_names_add(*out, r->users[i].name);
    pthread_mutex_unlock(&r->mu);
    return vdb_names_finish(out, 0, st);
}

vdb_status vdb_describe_user(vdb_db *db, const char *user, vdb_names **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && user && out, "vdb_describe_user: db, user or out is NULL");
    *out = NULL;
    struct vdb_rbac *r = db->rbac;
    pthread_mutex_lock(&r->mu);
    rb_user *u = find_user(r, user);
    vdb_status st = u ? vdb_names_new(u->nroles, out)
                      : vdb_set_errmsg(VDB_ENOTFOUND, "user not found: %s", user);
    for (size_t i = 0; st == VDB_OK && i < u->nroles; i++)
        st = vdb_names_add(*out, u->roles[i]);
    pthread_mutex_unlock(&r->mu);
    return vdb_names_finish(out, 0, st);
}

/* ---- roles ---- */

static bool builtin_role(const char *name)
{
    return !strcmp(name, "admin") || !strcmp(name, "public");
}

vdb_status vdb_create_role(vdb_db *db, const char *role)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && role, "vdb_create_role: db or role is NULL");
    vdb_status st = check_role_name(role);
    if (st != VDB_OK)
        return st;
    struct vdb_rbac *r = db->rbac;
    rb_role ro = {0};
    vdb_metatxn t = {0};
    pthread_mutex_lock(&r->mu);
    if (find_role(r, role)) {
        st = vdb_set_errmsg(VDB_EEXIST, "role [name:\"%s\"] already exists", role);
        goto done;
    }
    if (r->nroles >= MAX_ROLES + 2) {
        st = vdb_set_errmsg(VDB_EINVAL, "unable to create role because the number of roles "
                            "has reached the limit (%d)", MAX_ROLES);
        goto done;
    }
    if (!(ro.name = vdb_strdup(role)) || !grow((void **)&r->roles, r->nroles, sizeof ro)) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto done;
    }
    char key[64];
    role_key(key, sizeof key, role);
    vdb_metatxn_add(&t, VDB_META_CHECK_ABSENT, key, NULL);
    put_role(&t, &ro);
    if ((st = vdb_metatxn_commit(db, &t)) == VDB_OK) {
        r->roles[r->nroles++] = ro;
        ro.name = NULL;
    }
done:
    pthread_mutex_unlock(&r->mu);
    vdb_free(ro.name);
    vdb_metatxn_free(&t);
    return st;
}

static int role_index(const rb_user *u, const char *role)
{
    for (size_t i = 0; i < u->nroles; i++)
        if (!strcmp(u->roles[i], role))
            return (int)i;
    return -1;
}

vdb_status vdb_drop_role(vdb_db *db, const char *role)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && role, "vdb_drop_role: db or role is NULL");
    VDB_CHECK_ARG(!builtin_role(role), "the role %s is built in and cannot be dropped", role);
    struct vdb_rbac *r = db->rbac;
    vdb_status st = VDB_OK;
    vdb_metatxn t = {0};
    pthread_mutex_lock(&r->mu);
    rb_role *ro = find_role(r, role);
    if (!ro) {
        st = vdb_set_errmsg(VDB_ENOTFOUND, "role not found: %s", role);
        goto done;
    }
    if (ro->ng) {
        st = vdb_set_errmsg(VDB_EINVAL, "fail to drop the role that it has privileges: %s has "
                            "%zu grants, revoke them first", role, ro->ng);
        goto done;
    }
    char key[64];
    role_key(key, sizeof key, role);
    vdb_metatxn_add(&t, VDB_META_DELETE, key, NULL);
    /* its users lose it in the same transaction: their records without it */
    for (size_t i = 0; i < r->nusers; i++) {
        rb_user *u = &r->users[i];
        int k = role_index(u, role);
        if (k < 0)
            continue;
        rb_user c = *u;
        char *tmp[MAX_ROLES + 2];
        size_t n = 0;
        for (size_t j = 0; j < u->nroles && n < MAX_ROLES + 2; j++)
            if ((int)j != k)
                tmp[n++] = u->roles[j];
        c.roles = tmp;
        c.nroles = n;
        put_user(&t, &c);
    }
    if ((st = vdb_metatxn_commit(db, &t)) != VDB_OK)
        goto done;
    for (size_t i = 0; i < r->nusers; i++) {
        rb_user *u = &r->users[i];
        int k = role_index(u, role);
        if (k >= 0) {
            vdb_free(u->roles[k]);
            u->roles[k] = u->roles[--u->nroles];
        }
    }
    role_free(ro);
    *ro = r->roles[--r->nroles];
done:
    pthread_mutex_unlock(&r->mu);
    vdb_metatxn_free(&t);
    return st;
}

vdb_status vdb_list_roles(vdb_db *db, vdb_names **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && out, "vdb_list_roles: db or out is NULL");
    struct vdb_rbac *r = db->rbac;
    pthread_mutex_lock(&r->mu);
    vdb_status st = vdb_names_new(r->nroles, out);
    for (size_t i = 0; st == VDB_OK && i < r->nroles; i++)
        st = vdb_names_add(*out, r->roles[i].name);
    pthread_mutex_unlock(&r->mu);
    return vdb_names_finish(out, 0, st);
}

vdb_status vdb_describe_role(vdb_db *db, const char *role, vdb_names **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && role && out, "vdb_describe_role: db, role or out is NULL");
    *out = NULL;
    struct vdb_rbac *r = db->rbac;
    pthread_mutex_lock(&r->mu);
    rb_role *ro = find_role(r, role);
    vdb_status st = ro ? vdb_names_new(ro->ng, out)
                       : vdb_set_errmsg(VDB_ENOTFOUND, "role not found: %s", role);
    for (size_t i = 0; st == VDB_OK && i < ro->ng; i++) {
        const rb_grant *g = &ro->g[i];
        size_t n = strlen(g->dbn) + strlen(g->obj) + strlen(g->priv) + 16;
        char *s = vdb_malloc(n);
        if (!s) {
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            break;
        }
        snprintf(s, n, "%s/%s/%s/%s", obj_names[g->object], g->dbn, g->obj, g->priv);
        (*out)->names[(*out)->count++] = s;
    }
    pthread_mutex_unlock(&r->mu);
    return vdb_names_finish(out, 0, st);
}

static vdb_status operate_role(vdb_db *db, const char *user, const char *role, bool grant)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && user && role, "%s: db, user or role is NULL",
                  grant ? "vdb_grant_role" : "vdb_revoke_role");
    struct vdb_rbac *r = db->rbac;
    vdb_status st = VDB_OK;
    vdb_metatxn t = {0};
    pthread_mutex_lock(&r->mu);
    rb_user *u = find_user(r, user);
    int k = u ? role_index(u, role) : -1;
    if (!u)
        st = vdb_set_errmsg(VDB_ENOTFOUND, "user not found: %s", user);
    else if (!find_role(r, role))
        st = vdb_set_errmsg(VDB_ENOTFOUND, "role not found: %s", role);
    if (st != VDB_OK || (grant ? k >= 0 : k < 0))
        goto done; /* granted already or not held: nothing to do */
    char *tmp[MAX_ROLES + 3];
    size_t n = 0;
    for (size_t j = 0; j < u->nroles && n < MAX_ROLES + 2; j++)
        if (grant || (int)j != k)
            tmp[n++] = u->roles[j];
    char *nr = NULL;
    if (grant) {
        if (!(nr = vdb_strdup(role)) ||
            !grow((void **)&u->roles, u->nroles, sizeof *u->roles)) {
            vdb_free(nr);
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            goto done;
        }
        tmp[n++] = nr;
    }
    rb_user c = *u;
    c.roles = tmp;
    c.nroles = n;
    put_user(&t, &c);
    if ((st = vdb_metatxn_commit(db, &t)) != VDB_OK) {
        vdb_free(nr);
        goto done;
    }
    if (grant) {
        u->roles[u->nroles++] = nr;
    } else {
        vdb_free(u->roles[k]);
        u->roles[k] = u->roles[--u->nroles];
    }
done:
    pthread_mutex_unlock(&r->mu);
    vdb_metatxn_free(&t);
    return st;
}

vdb_status vdb_grant_role(vdb_db *db, const char *user, const char *role)
{
    return operate_role(db, user, role, true);
}

vdb_status vdb_revoke_role(vdb_db *db, const char *user, const char *role)
{
    return operate_role(db, user, role, false);
}

/* ---- privileges ---- */

static int grant_index(const rb_role *ro, vdb_rbac_object o, const char *obj, const char *priv,
                       const char *dbn)
{
    for (size_t i = 0; i < ro->ng; i++) {
        const rb_grant *g = &ro->g[i];
        if (g->object == o && !strcmp(g->obj, obj) && !strcmp(g->priv, priv) &&
            !strcmp(g->dbn, dbn))
            return (int)i;
    }
    return -1;
}

static vdb_status operate_priv(vdb_db *db, const char *role, vdb_rbac_object o,
                               const char *obj, const char *priv, const char *dbn, bool grant)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && role && obj && priv, "%s: db, role, object_name or privilege is NULL",
                  grant ? "vdb_grant_privilege" : "vdb_revoke_privilege");
    VDB_CHECK_ARG((unsigned)o <= VDB_OBJECT_USER, "object type %d is not Global, Collection "
                  "or User", (int)o);
    if (!dbn)
        dbn = VDB_DEFAULT_DATABASE;
    vdb_status st;
    if ((st = check_priv(o, priv)) != VDB_OK || (st = check_obj_name("object name", obj)) != VDB_OK ||
        (st = check_obj_name("database name", dbn)) != VDB_OK)
        return st;
    struct vdb_rbac *r = db->rbac;
    vdb_metatxn t = {0};
    rb_grant ng = {0};
    pthread_mutex_lock(&r->mu);
    rb_role *ro = find_role(r, role);
    if (!ro) {
        st = vdb_set_errmsg(VDB_ENOTFOUND, "role not found: %s", role);
        goto done;
    }
    if (!strcmp(role, "admin")) {
        st = vdb_set_errmsg(VDB_EINVAL, "the role admin holds every privilege; its grants "
                            "cannot change");
        goto done;
    }
    int k = grant_index(ro, o, obj, priv, dbn);
    if (grant ? k >= 0 : k < 0)
        goto done;
    rb_role c = *ro;
    rb_grant *tmp = vdb_malloc((ro->ng + 1) * sizeof *tmp);
    if (!tmp) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        goto done;
    }
    size_t n = 0;
    for (size_t j = 0; j < ro->ng; j++)
        if (grant || (int)j != k)
            tmp[n++] = ro->g[j];
    if (grant) {
        ng.object = (uint8_t)o;
        ng.dbn = vdb_strdup(dbn);
        ng.obj = vdb_strdup(obj);
        ng.priv = vdb_strdup(priv);
        if (!ng.dbn || !ng.obj || !ng.priv ||
            !grow((void **)&ro->g, ro->ng, sizeof *ro->g)) {
            vdb_free(tmp);
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            goto done;
        }
        tmp[n++] = ng;
    }
    c.g = tmp;
    c.ng = n;
    put_role(&t, &c);
    vdb_free(tmp);
    if ((st = vdb_metatxn_commit(db, &t)) != VDB_OK)
        goto done;
    if (grant) {
        ro->g[ro->ng++] = ng;
        memset(&ng, 0, sizeof ng);
    } else {
        grant_free(&ro->g[k]);
        ro->g[k] = ro->g[--ro->ng];
    }
done:
    pthread_mutex_unlock(&r->mu);
    grant_free(&ng);
    vdb_metatxn_free(&t);
    return st;
}

vdb_status vdb_grant_privilege(vdb_db *db, const char *role, vdb_rbac_object object,
                               const char *object_name, const char *privilege,
                               const char *db_name)
{
    return operate_priv(db, role, object, object_name, privilege, db_name, true);
}

vdb_status vdb_revoke_privilege(vdb_db *db, const char *role, vdb_rbac_object object,
                                const char *object_name, const char *privilege,
                                const char *db_name)
{
    return operate_priv(db, role, object, object_name, privilege, db_name, false);
}

static bool role_allows(const rb_role *ro, vdb_rbac_object o, const char *obj,
                        const char *priv, const char *dbn)
{
    for (size_t i = 0; i < ro->ng; i++) {
        const rb_grant *g = &ro->g[i];
        if (g->object == o && (!strcmp(g->obj, "*") || !strcmp(g->obj, obj)) &&
            (!strcmp(g->priv, "*") || !strcmp(g->priv, priv)) &&
            (!strcmp(g->dbn, "*") || !strcmp(g->dbn, dbn)))
            return true;
    }
    return false;
}

/* Milvus's public role grants, which every user has */
static bool public_default(vdb_rbac_object o, const char *priv)
{
    if (o == VDB_OBJECT_GLOBAL)
        return !strcmp(priv, "DescribeCollection") || !strcmp(priv, "ShowCollections");
    return o == VDB_OBJECT_COLLECTION && !strcmp(priv, "IndexDetail");
}

vdb_status vdb_check_privilege(vdb_db *db, const char *user, vdb_rbac_object object,
                               const char *object_name, const char *privilege,
                               const char *db_name)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && user && object_name && privilege,
                  "vdb_check_privilege: db, user, object_name or privilege is NULL");
    VDB_CHECK_ARG((unsigned)object <= VDB_OBJECT_USER, "object type %d is not Global, "
                  "Collection or User", (int)object);
    if (!db_name)
        db_name = VDB_DEFAULT_DATABASE;
    struct vdb_rbac *r = db->rbac;
    bool ok = !strcmp(user, ROOT) || public_default(object, privilege);
    pthread_mutex_lock(&r->mu);
    rb_user *u = find_user(r, user);
    if (!ok && u) {
        const rb_role *pub = find_role(r, "public");
        ok = pub && role_allows(pub, object, object_name, privilege, db_name);
        for (size_t i = 0; !ok && i < u->nroles; i++) {
            const rb_role *ro = find_role(r, u->roles[i]);
            ok = ro && (!strcmp(ro->name, "admin") ||
                        role_allows(ro, object, object_name, privilege, db_name));
        }
    }
    pthread_mutex_unlock(&r->mu);
    if (ok)
        return VDB_OK;
    return vdb_set_errmsg(VDB_EPERM, "Privilege%s: permission deny to %s in the `%s` database",
                          privilege, user, db_name);
}

vdb_status vdb_privilege_object(const char *privilege, vdb_rbac_object *out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(privilege && out, "vdb_privilege_object: privilege or out is NULL");
    if (in_list(coll_privs, privilege))
        *out = VDB_OBJECT_COLLECTION;
    else if (in_list(global_privs, privilege))
        *out = VDB_OBJECT_GLOBAL;
    else if (in_list(priv_groups, privilege))
        return check_priv(VDB_OBJECT_GLOBAL, privilege);
    else
        return vdb_set_errmsg(VDB_EINVAL, "not found the privilege name[%s]", privilege);
    return VDB_OK;
}

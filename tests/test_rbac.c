/* Users and roles (lib/core/rbac.c) and the KDF under them (lib/util/kdf.c): SHA-256, HMAC and
 * PBKDF2 against published test vectors, users/roles/grants kept across a reopen, grant and
 * revoke taking effect, Milvus's errors, and a damaged record refused. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vdb/vdb.h>

#include "test_api.h"
#include "util/kdf.h"

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void test_kdf(void **state)
{
    (void)state;
    uint8_t h[40];
    char s[81];
    vdb_sha256("abc", 3, h); /* FIPS 180-4 examples */
    hex(h, 32, s);
    assert_string_equal(s, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    vdb_sha256(m, strlen(m), h);
    hex(h, 32, s);
    assert_string_equal(s, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    uint8_t key[131];
    memset(key, 0x0b, 20); /* RFC 4231 cases 1 and 6 */
    vdb_hmac_sha256(key, 20, "Hi There", 8, h);
    hex(h, 32, s);
    assert_string_equal(s, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    memset(key, 0xaa, sizeof key);
    m = "Test Using Larger Than Block-Size Key - Hash Key First";
    vdb_hmac_sha256(key, sizeof key, m, strlen(m), h);
    hex(h, 32, s);
    assert_string_equal(s, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    /* PBKDF2-HMAC-SHA256 (the RFC 6070 inputs; values as Python's hashlib gives them) */
    vdb_pbkdf2_sha256("password", 8, "salt", 4, 1, h, 32);
    hex(h, 32, s);
    assert_string_equal(s, "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
    vdb_pbkdf2_sha256("password", 8, "salt", 4, 4096, h, 32);
    hex(h, 32, s);
    assert_string_equal(s, "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
    const char *pw = "passwordPASSWORDpassword", *salt = "saltSALTsaltSALTsaltSALTsaltSALTsalt";
    vdb_pbkdf2_sha256(pw, strlen(pw), salt, strlen(salt), 4096, h, 40); /* two blocks */
    hex(h, 40, s);
    assert_string_equal(s, "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1"
                           "c635518c7dac47e9");
    assert_true(vdb_ct_equal("abcd", "abcd", 4));
    assert_false(vdb_ct_equal("abcd", "abce", 4));
    uint8_t r1[16] = {0}, r2[16] = {0};
    assert_true(vdb_random_bytes(r1, sizeof r1) && vdb_random_bytes(r2, sizeof r2));
    assert_memory_not_equal(r1, r2, sizeof r1);
}

static vdb_db *open_db(const char *dir)
{
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    vdb_db *db = NULL;
    vdb_status st = vdb_open(dir, &o, &db);
    if (st != VDB_OK)
        fail_msg("vdb_open(%s) -> %s: %s", dir, vdb_status_name(st), vdb_errmsg(NULL));
    return db;
}

/* the names joined by ',' */
static void assert_names(vdb_names *n, const char *want)
{
    char got[1024] = "";
    for (size_t i = 0; i < n->count; i++) {
        if (i)
            strcat(got, ",");
        strcat(got, n->names[i]);
    }
    vdb_names_free(n);
    assert_string_equal(got, want);
}

static void users(vdb_db *db, const char *want)
{
    vdb_names *n;
    OK(vdb_list_users(db, &n));
    assert_names(n, want);
}

static void roles_of(vdb_db *db, const char *user, const char *want)
{
    vdb_names *n;
    OK(vdb_describe_user(db, user, &n));
    assert_names(n, want);
}

static void grants_of(vdb_db *db, const char *role, const char *want)
{
    vdb_names *n;
    OK(vdb_describe_role(db, role, &n));
    assert_names(n, want);
}

static vdb_status can_search(vdb_db *db, const char *user, const char *coll)
{
    return vdb_check_privilege(db, user, VDB_OBJECT_COLLECTION, coll, "Search", NULL);
}

static void test_users_roles(void **state)
{
    (void)state;
    char *dir = test_tmpdir("rbac");
    vdb_db *db = open_db(dir);
    /* built in */
    users(db, "root");
    vdb_names *n;
    OK(vdb_list_roles(db, &n));
    assert_names(n, "admin,public");
    OK(vdb_authenticate(db, "root", "Milvus"));
    ERR(vdb_authenticate(db, "root", "milvus"), VDB_EPERM, "auth check failure");
    ERR(vdb_drop_user(db, "root"), VDB_EINVAL, "cannot be dropped");
    ERR(vdb_drop_role(db, "admin"), VDB_EINVAL, "built in");
    ERR(vdb_drop_role(db, "public"), VDB_EINVAL, "built in");
    /* users */
    OK(vdb_create_user(db, "alice", "secret1"));
    ERR(vdb_create_user(db, "alice", "secret2"), VDB_EEXIST, "user already exists");
    ERR(vdb_create_user(db, "_x", "secret2"), VDB_EINVAL, "invalid user name");
    ERR(vdb_create_user(db, "bob", "short"), VDB_EINVAL, "between 6 and 256");
    OK(vdb_create_user(db, "bob", "bobpass"));
    users(db, "alice,bob,root");
    OK(vdb_authenticate(db, "alice", "secret1"));
    OK(vdb_authenticate(db, "alice", "secret1")); /* the remembered HMAC */
    ERR(vdb_authenticate(db, "alice", "secret2"), VDB_EPERM, "auth check failure");
    ERR(vdb_authenticate(db, "nobody", "secret1"), VDB_EPERM, "auth check failure");
    ERR(vdb_update_password(db, "alice", "wrong!!", "secret3"), VDB_EPERM, "old password");
    OK(vdb_update_password(db, "alice", "secret1", "secret3"));
    ERR(vdb_authenticate(db, "alice", "secret1"), VDB_EPERM, "auth check failure");
    OK(vdb_authenticate(db, "alice", "secret3"));
    OK(vdb_update_password(db, "root", "Milvus", "rootpw1"));
    ERR(vdb_authenticate(db, "root", "Milvus"), VDB_EPERM, "auth check failure");
    /* roles and privileges */
    OK(vdb_create_role(db, "reader"));
    ERR(vdb_create_role(db, "reader"), VDB_EEXIST, "already exists");
    ERR(vdb_create_role(db, "1bad"), VDB_EINVAL, "invalid role name");
    ERR(vdb_grant_role(db, "alice", "nosuch"), VDB_ENOTFOUND, "role not found");
    ERR(vdb_grant_role(db, "nobody", "reader"), VDB_ENOTFOUND, "user not found");
    ERR(can_search(db, "alice", "c1"), VDB_EPERM,
        "PrivilegeSearch: permission deny to alice in the `default` database");
    OK(vdb_check_privilege(db, "alice", VDB_OBJECT_GLOBAL, "*", "ShowCollections", NULL));
    OK(can_search(db, "root", "c1"));
    ERR(vdb_grant_privilege(db, "reader", VDB_OBJECT_COLLECTION, "c1", "Searchh", NULL),
        VDB_EINVAL, "not found the privilege name[Searchh]");
    ERR(vdb_grant_privilege(db, "reader", VDB_OBJECT_GLOBAL, "*", "Search", NULL), VDB_EINVAL,
        "in object[Global]");
    ERR(vdb_grant_privilege(db, "reader", VDB_OBJECT_COLLECTION, "c1", "CollectionReadOnly",
                            NULL), VDB_EUNSUPPORTED, "privilege groups");
    OK(vdb_grant_privilege(db, "reader", VDB_OBJECT_COLLECTION, "c1", "Search", NULL));
    OK(vdb_grant_privilege(db, "reader", VDB_OBJECT_COLLECTION, "c1", "Search", NULL));
    OK(vdb_grant_privilege(db, "reader", VDB_OBJECT_COLLECTION, "*", "Query", "db2"));
    ERR(can_search(db, "alice", "c1"), VDB_EPERM, "permission deny"); /* not alice's yet */
    OK(vdb_grant_role(db, "alice", "reader"));
    OK(vdb_grant_role(db, "alice", "reader"));
    roles_of(db, "alice", "reader");
    OK(can_search(db, "alice", "c1"));
    ERR(can_search(db, "alice", "c2"), VDB_EPERM, "permission deny");
    ERR(vdb_check_privilege(db, "alice", VDB_OBJECT_COLLECTION, "c1", "Search", "db2"),
        VDB_EPERM, "in the `db2` database");
    OK(vdb_check_privilege(db, "alice", VDB_OBJECT_COLLECTION, "any", "Query", "db2"));
    ERR(vdb_check_privilege(db, "alice", VDB_OBJECT_COLLECTION, "any", "Query", NULL),
        VDB_EPERM, "PrivilegeQuery");
    ERR(can_search(db, "bob", "c1"), VDB_EPERM, "permission deny to bob");
    OK(vdb_grant_role(db, "bob", "admin"));
    OK(can_search(db, "bob", "c1"));
    OK(vdb_grant_privilege(db, "public", VDB_OBJECT_COLLECTION, "pub", "Insert", "*"));
    OK(vdb_check_privilege(db, "alice", VDB_OBJECT_COLLECTION, "pub", "Insert", "db9"));
    grants_of(db, "reader", "Collection/db2/*/Query,Collection/default/c1/Search");
    ERR(vdb_drop_role(db, "reader"), VDB_EINVAL, "has privileges");
    vdb_close(db);

    /* all of it kept across a reopen */
    db = open_db(dir);
    users(db, "alice,bob,root");
    OK(vdb_list_roles(db, &n));
    assert_names(n, "admin,public,reader");
    OK(vdb_authenticate(db, "alice", "secret3"));
    OK(vdb_authenticate(db, "root", "rootpw1"));
    ERR(vdb_authenticate(db, "root", "Milvus"), VDB_EPERM, "auth check failure");
    OK(vdb_authenticate(db, "bob", "bobpass"));
    roles_of(db, "alice", "reader");
    roles_of(db, "bob", "admin");
    grants_of(db, "reader", "Collection/db2/*/Query,Collection/default/c1/Search");
    grants_of(db, "public", "Collection/*/pub/Insert");
    OK(can_search(db, "alice", "c1"));
    /* revoke takes effect */
    OK(vdb_revoke_privilege(db, "reader", VDB_OBJECT_COLLECTION, "c1", "Search", NULL));
    OK(vdb_revoke_privilege(db, "reader", VDB_OBJECT_COLLECTION, "c1", "Search", NULL));
    ERR(can_search(db, "alice", "c1"), VDB_EPERM, "permission deny");
    OK(vdb_grant_privilege(db, "reader", VDB_OBJECT_COLLECTION, "c1", "*", NULL));
    OK(can_search(db, "alice", "c1"));
    OK(vdb_revoke_role(db, "alice", "reader"));
    roles_of(db, "alice", "");
    ERR(can_search(db, "alice", "c1"), VDB_EPERM, "permission deny");
    OK(vdb_grant_role(db, "alice", "reader"));
    OK(vdb_revoke_privilege(db, "reader", VDB_OBJECT_COLLECTION, "c1", "*", NULL));
    OK(vdb_revoke_privilege(db, "reader", VDB_OBJECT_COLLECTION, "*", "Query", "db2"));
    OK(vdb_drop_role(db, "reader")); /* its users lose it in the same transaction */
    roles_of(db, "alice", "");
    OK(vdb_drop_user(db, "bob"));
    ERR(vdb_drop_user(db, "bob"), VDB_ENOTFOUND, "user not found");
    vdb_close(db);

    db = open_db(dir);
    users(db, "alice,root");
    OK(vdb_list_roles(db, &n));
    assert_names(n, "admin,public");
    roles_of(db, "alice", "");
    ERR(vdb_authenticate(db, "bob", "bobpass"), VDB_EPERM, "auth check failure");
    vdb_close(db);
    free(dir);
}

/* The object a privilege belongs to, as Milvus's grant_privilege_v2 derives it. */
static void test_privilege_object(void **state)
{
    (void)state;
    vdb_rbac_object o = VDB_OBJECT_USER;
    OK(vdb_privilege_object("Search", &o));
    assert_int_equal(o, VDB_OBJECT_COLLECTION);
    OK(vdb_privilege_object("GetFlushState", &o));
    assert_int_equal(o, VDB_OBJECT_COLLECTION);
    OK(vdb_privilege_object("CreateCollection", &o));
    assert_int_equal(o, VDB_OBJECT_GLOBAL);
    OK(vdb_privilege_object("SelectUser", &o));
    assert_int_equal(o, VDB_OBJECT_GLOBAL);
    ERR(vdb_privilege_object("*", &o), VDB_EINVAL, "privilege name[*]");
    ERR(vdb_privilege_object("Searchh", &o), VDB_EINVAL, "not found the privilege name[Searchh]");
    ERR(vdb_privilege_object("ClusterAdmin", &o), VDB_EUNSUPPORTED, "privilege group");
    ERR(vdb_privilege_object(NULL, &o), VDB_EINVAL, "NULL");
}

typedef struct auth_arg {
    vdb_db *db;
    int rounds;
} auth_arg;

static void *auth_loop(void *p)
{
    auth_arg *a = p;
    for (int i = 0; i < a->rounds; i++) {
        vdb_status st = vdb_authenticate(a->db, "carol", "carolpw1");
        if (st != VDB_OK && st != VDB_EPERM)
            return p; /* anything else is wrong: caught by the join */
    }
    return NULL;
}

/* vdb_authenticate_cached answers only what needs no PBKDF2, and never VDB_OK from what was
 * remembered once the password changed or the user was dropped; vdb_authenticate's PBKDF2
 * runs without the users' lock while another thread changes the password (TSan). */
static void test_auth_cached(void **state)
{
    (void)state;
    char *dir = test_tmpdir("rbac_cached");
    vdb_db *db = open_db(dir);
    int full = -1;
    OK(vdb_authenticate_cached(db, "root", "Milvus", &full)); /* the default: no PBKDF2 */
    assert_int_equal(full, 0);
    ERR(vdb_authenticate_cached(db, "root", "milvus", &full), VDB_EPERM, "auth check failure");
    assert_int_equal(full, 0);
    ERR(vdb_authenticate_cached(db, "nobody", "whatever", &full), VDB_EPERM,
        "auth check failure");
    assert_int_equal(full, 0);
    OK(vdb_create_user(db, "carol", "carolpw1"));
    ERR(vdb_authenticate_cached(db, "carol", "carolpw1", &full), VDB_EPERM, "full PBKDF2");
    assert_int_equal(full, 1); /* not verified yet */
    OK(vdb_authenticate(db, "carol", "carolpw1"));
    OK(vdb_authenticate_cached(db, "carol", "carolpw1", &full));
    assert_int_equal(full, 0);
    ERR(vdb_authenticate_cached(db, "carol", "carolpw2", &full), VDB_EPERM, "full PBKDF2");
    assert_int_equal(full, 1); /* another password: only the PBKDF2 tells */
    /* a changed password: the remembered one is forgotten at once */
    OK(vdb_update_password(db, "carol", "carolpw1", "carolpw3"));
    ERR(vdb_authenticate_cached(db, "carol", "carolpw1", &full), VDB_EPERM, "full PBKDF2");
    assert_int_equal(full, 1);
    ERR(vdb_authenticate(db, "carol", "carolpw1"), VDB_EPERM, "auth check failure");
    OK(vdb_authenticate(db, "carol", "carolpw3"));
    OK(vdb_authenticate_cached(db, "carol", "carolpw3", &full));
    /* a dropped user, and one of the same name and password made again */
    OK(vdb_drop_user(db, "carol"));
    ERR(vdb_authenticate_cached(db, "carol", "carolpw3", &full), VDB_EPERM,
        "auth check failure");
    assert_int_equal(full, 0);
    ERR(vdb_authenticate(db, "carol", "carolpw3"), VDB_EPERM, "auth check failure");
    OK(vdb_create_user(db, "carol", "carolpw1"));
    ERR(vdb_authenticate_cached(db, "carol", "carolpw1", &full), VDB_EPERM, "full PBKDF2");
    assert_int_equal(full, 1);
    /* PBKDF2s on another thread while the password changes under them */
    auth_arg a = {db, 2};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, auth_loop, &a), 0);
    OK(vdb_update_password(db, "carol", "carolpw1", "carolpw4"));
    void *res = &a;
    assert_int_equal(pthread_join(t, &res), 0);
    assert_null(res);
    ERR(vdb_authenticate_cached(db, "carol", "carolpw1", &full), VDB_EPERM, "full PBKDF2");
    assert_int_equal(full, 1); /* what the thread verified is forgotten */
    OK(vdb_authenticate(db, "carol", "carolpw4"));
    ERR(vdb_authenticate_cached(db, NULL, "x", &full), VDB_EINVAL, "NULL");
    vdb_close(db);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kdf),
        cmocka_unit_test(test_users_roles),
        cmocka_unit_test(test_privilege_object),
        cmocka_unit_test(test_auth_cached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

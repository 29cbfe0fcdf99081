/* The backend registry and the growth of the vtables: a backend built for an older vtable
 * version (a shorter struct, as a plugin compiled against libvdb 0.1 has) works for all that
 * version had and gets VDB_EUNSUPPORTED for what came later; newer versions are refused;
 * registration copies the struct and checks it; app_data reaches open. The old structs sit at
 * the very end of a page followed by an inaccessible one, so a read past them crashes. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "storage/storage.h"
#include "test_api.h"

/* ---- what a plugin built against libvdb 0.1 declared (include/vdb/backend.h of then) ---- */

typedef struct v1_backend_options {
    vdb_sync_mode sync;
    uint32_t sync_interval_ms;
    uint32_t timeout_ms;
    int disable_io_uring;
} v1_backend_options;

typedef struct v1_log_backend {
    int version; /* 1 */
    const char *scheme;
    vdb_status (*open)(const char *uri, const v1_backend_options *opt, void **out);
    void (*close)(void *log);
    vdb_status (*append)(void *log, const char *channel, const void *rec, size_t len,
                         uint64_t *pos);
    vdb_status (*read)(void *log, const char *channel, uint64_t from, vdb_log_read_fn fn,
                       void *arg);
    vdb_status (*truncate)(void *log, const char *channel, uint64_t upto);
    vdb_status (*drop)(void *log, const char *channel);
} v1_log_backend;

typedef struct v1_meta_backend {
    int version;
    const char *scheme;
    vdb_status (*open)(const char *uri, const v1_backend_options *opt, void **out);
    void (*close)(void *meta);
    vdb_status (*get)(void *meta, const char *key, void **val, size_t *len);
    vdb_status (*put)(void *meta, const char *key, const void *val, size_t len);
    vdb_status (*del)(void *meta, const char *key);
    vdb_status (*scan)(void *meta, const char *prefix, vdb_meta_scan_fn fn, void *arg);
    vdb_status (*txn)(void *meta, const vdb_meta_op *ops, size_t n);
} v1_meta_backend;

typedef struct v1_object_backend {
    int version;
    const char *scheme;
    vdb_status (*open)(const char *uri, const v1_backend_options *opt, void **out);
    void (*close)(void *store);
    vdb_status (*put)(void *store, const char *key, const void *data, size_t len);
    vdb_status (*get)(void *store, const char *key, void **data, size_t *len);
    vdb_status (*get_range)(void *store, const char *key, uint64_t offset, size_t len,
                            void **data, size_t *got);
    vdb_status (*head)(void *store, const char *key, uint64_t *size);
    vdb_status (*list)(void *store, const char *prefix, vdb_object_list_fn fn, void *arg);
    vdb_status (*del)(void *store, const char *key);
} v1_object_backend;

/* The old plugins delegate to the built-in local backends, seeing only the old options. */
static vdb_backend_options from_v1(const v1_backend_options *o)
{
    return (vdb_backend_options){.sync = o->sync, .sync_interval_ms = o->sync_interval_ms,
                                 .timeout_ms = o->timeout_ms,
                                 .disable_io_uring = o->disable_io_uring};
}

/* "<any>://rest" -> "<scheme>://rest" */
static char *real_uri(const char *uri, const char *scheme)
{
    char *u;
    assert_true(asprintf(&u, "%s://%s", scheme, strstr(uri, "://") + 3) > 0);
    return u;
}

typedef vdb_status (*open_fn)(const char *uri, const vdb_backend_options *opt, void **out);

static vdb_status delegate_open(const char *uri, const v1_backend_options *o, void **out,
                                const char *scheme, open_fn open)
{
    vdb_backend_options opt = from_v1(o);
    char *u = real_uri(uri, scheme);
    vdb_status st = open(u, &opt, out);
    free(u);
    return st;
}
static vdb_status old_log_open(const char *uri, const v1_backend_options *o, void **out)
{
    return delegate_open(uri, o, out, "wal", vdb_wal_backend.open);
}
static vdb_status old_meta_open(const char *uri, const v1_backend_options *o, void **out)
{
    return delegate_open(uri, o, out, "local", vdb_meta_local_backend.open);
}
static vdb_status old_object_open(const char *uri, const v1_backend_options *o, void **out)
{
    return delegate_open(uri, o, out, "file", vdb_object_file_backend.open);
}

/* size bytes ending exactly at an inaccessible page. */
static void *at_page_end(size_t size)
{
    long pg = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    assert_true(p != MAP_FAILED);
    assert_int_equal(mprotect(p + pg, (size_t)pg, PROT_NONE), 0);
    return p + pg - size;
}

static void free_page_end(void *p, size_t size)
{
    long pg = sysconf(_SC_PAGESIZE);
    munmap((char *)p + size - pg, 2 * (size_t)pg);
}

static v1_log_backend *old_log(const char *scheme)
{
    v1_log_backend *be = at_page_end(sizeof *be);
    *be = (v1_log_backend){
        .version = 1, .scheme = scheme, .open = old_log_open, .close = vdb_wal_backend.close,
        .append = vdb_wal_backend.append, .read = vdb_wal_backend.read,
        .truncate = vdb_wal_backend.truncate, .drop = vdb_wal_backend.drop,
    };
    return be;
}

static v1_meta_backend *old_meta(const char *scheme)
{
    v1_meta_backend *be = at_page_end(sizeof *be);
    const vdb_meta_backend *l = &vdb_meta_local_backend;
    *be = (v1_meta_backend){.version = 1, .scheme = scheme, .open = old_meta_open,
                            .close = l->close, .get = l->get, .put = l->put, .del = l->del,
                            .scan = l->scan, .txn = l->txn};
    return be;
}

static v1_object_backend *old_object(const char *scheme)
{
    v1_object_backend *be = at_page_end(sizeof *be);
    const vdb_object_backend *f = &vdb_object_file_backend;
    *be = (v1_object_backend){.version = 1, .scheme = scheme, .open = old_object_open,
                              .close = f->close, .put = f->put, .get = f->get,
                              .get_range = f->get_range, .head = f->head, .list = f->list,
                              .del = f->del};
    return be;
}

static int count_fn(void *arg, uint64_t pos, const void *rec, size_t len)
{
    (void)pos;
    (void)rec;
    (void)len;
    (*(int *)arg)++;
    return 0;
}

static char *uri_for(const char *scheme, const char *dir, const char *sub)
{
    char *u;
    assert_true(asprintf(&u, "%s://%s/%s", scheme, dir, sub) > 0);
    return u;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_version_1_log_backend_appends_reads_truncates_and_drops(void **state)
{
    (void)state;
    char *dir = test_tmpdir("reg_v1_log");
    v1_log_backend *old = old_log("oldwal");
    OK(vdb_register_log_backend((const vdb_log_backend *)old));
    char *uri = uri_for("oldwal", dir, "wal");
    vdb_log_store s;
    OK(vdb_log_store_open(uri, NULL, &s));
    assert_int_equal(s.be->version, 1);
    uint64_t pos[10];
    for (int i = 0; i < 10; i++)
        OK(s.be->append(s.h, "ch", "record", 6, &pos[i]));
    int n = 0;
    OK(s.be->read(s.h, "ch", pos[3], count_fn, &n));
    assert_int_equal(n, 7);
    OK(s.be->truncate(s.h, "ch", pos[5]));
    OK(s.be->drop(s.h, "ch"));
    n = 0;
    OK(s.be->read(s.h, "ch", 0, count_fn, &n));
    assert_int_equal(n, 0);
    vdb_log_store_close(&s);
    free_page_end(old, sizeof *old);
    free(uri);
    test_rmdir(dir);
    free(dir);
}

static void test_version_1_log_backend_gives_eunsupported_naming_backend_and_method(void **state)
{
    (void)state;
    char *dir = test_tmpdir("reg_v1_unsup");
    v1_log_backend *old = old_log("oldwal2");
    OK(vdb_register_log_backend((const vdb_log_backend *)old));
    char *uri = uri_for("oldwal2", dir, "wal");
    vdb_log_store s;
    OK(vdb_log_store_open(uri, NULL, &s));
    uint64_t p;
    OK(s.be->append(s.h, "ch", "x", 1, &p));
    uint64_t last = 77;
    ERR(vdb_log_store_last_pos(&s, "ch", &last), VDB_EUNSUPPORTED, "'oldwal2'");
    ERR(vdb_log_store_last_pos(&s, "ch", &last), VDB_EUNSUPPORTED, "last_pos");
    assert_int_equal(last, 77);
    vdb_log_sub sub;
    ERR(vdb_log_store_subscribe(&s, "ch", 1, &sub), VDB_EUNSUPPORTED, "subscribe");
    ERR(vdb_log_store_subscribe(&s, "ch", 1, &sub), VDB_EUNSUPPORTED, "version 1");
    assert_null(sub.h);
    /* what version 1 had still works after those refusals */
    int n = 0;
    OK(s.be->read(s.h, "ch", 0, count_fn, &n));
    assert_int_equal(n, 1);
    vdb_log_store_close(&s);
    /* read_only came with version 2: an old backend would open for writing */
    vdb_backend_options ro = {.sync = VDB_SYNC_FULL, .read_only = 1};
    ERR(vdb_log_store_open(uri, &ro, &s), VDB_EUNSUPPORTED, "read-only");
    free_page_end(old, sizeof *old);
    free(uri);
    test_rmdir(dir);
    free(dir);
}

/* A whole database on three version-1 backends: the core needs nothing newer. */
static void test_version_1_backends_run_a_whole_database(void **state)
{
    (void)state;
    char *dir = test_tmpdir("reg_v1_db");
    v1_log_backend *ol = old_log("oldwal3");
    v1_meta_backend *om = old_meta("oldlocal");
    v1_object_backend *oo = old_object("oldfile");
    OK(vdb_register_log_backend((const vdb_log_backend *)ol));
    OK(vdb_register_meta_backend((const vdb_meta_backend *)om));
    OK(vdb_register_object_backend((const vdb_object_backend *)oo));
    vdb_options o;
    vdb_options_init(&o);
    char *lu = uri_for("oldwal3", dir, "wal"), *mu = uri_for("oldlocal", dir, "meta"),
         *ou = uri_for("oldfile", dir, "objects");
    o.log_uri = lu;
    o.meta_uri = mu;
    o.object_uri = ou;
    o.compaction_interval_ms = 0;
    char *path;
    assert_true(asprintf(&path, "%s/db", dir) > 0);
    vdb_db *db;
    OK(vdb_open(path, &o, &db));
    vdb_schema *sc;
    OK(vdb_schema_new("docs", &sc));
    OK(vdb_schema_add_field(sc, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                          .is_primary = 1)));
    OK(vdb_schema_add_field(sc, VDB_FIELD(.name = "v", .type = VDB_TYPE_FLOAT_VECTOR,
                                          .dim = 4)));
    OK(vdb_create_collection(db, sc));
    vdb_schema_free(sc);
    enum { N = 50 };
    int64_t ids[N];
    float vec[N * 4];
    for (int i = 0; i < N; i++) {
        ids[i] = i;
        for (int d = 0; d < 4; d++)
            vec[i * 4 + d] = (float)(i + d);
    }
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, 30, 0));
    OK(vdb_batch_add_column(b, "v", VDB_TYPE_FLOAT_VECTOR, vec, NULL, 30, 4));
    uint64_t ts;
    OK(vdb_insert(db, "docs", NULL, b, &ts, NULL));
    vdb_batch_free(b);
    OK(vdb_flush(db, "docs")); /* sealed: binlogs through the old object backend */
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids + 30, NULL, 20, 0));
    OK(vdb_batch_add_column(b, "v", VDB_TYPE_FLOAT_VECTOR, vec + 30 * 4, NULL, 20, 4));
    OK(vdb_insert(db, "docs", NULL, b, &ts, NULL)); /* growing: only in the old log */
    vdb_batch_free(b);
    vdb_close(db);
    OK(vdb_open(path, &o, &db));
    uint64_t count = 0;
    OK(vdb_count(db, "docs", NULL, NULL, &count));
    assert_int_equal(count, N);
    vdb_search_req req = {.struct_size = sizeof req, .collection = "docs", .vectors = vec + 44 * 4,
                          .nq = 1, .dim = 4, .k = 1};
    vdb_result *res;
    OK(vdb_search(db, &req, &res));
    assert_int_equal(vdb_result_rows(res, 0), 1);
    assert_int_equal(vdb_result_pk_int(res, 0, 0), 44);
    vdb_result_free(res);
    vdb_close(db);
    free(path);
    free(lu);
    free(mu);
    free(ou);
    free_page_end(ol, sizeof *ol);
    free_page_end(om, sizeof *om);
    free_page_end(oo, sizeof *oo);
    test_rmdir(dir);
    free(dir);
}

static void test_newer_or_zero_version_is_refused_with_eversion(void **state)
{
    (void)state;
    vdb_log_backend be = vdb_wal_backend;
    be.scheme = "fromthefuture";
    be.version = VDB_LOG_BACKEND_VERSION + 1;
    ERR(vdb_register_log_backend(&be), VDB_EVERSION, "fromthefuture");
    be.version = 0;
    ERR(vdb_register_log_backend(&be), VDB_EVERSION, "version 0");
    vdb_meta_backend mb = vdb_meta_local_backend;
    mb.scheme = "fromthefuture";
    mb.version = 99;
    ERR(vdb_register_meta_backend(&mb), VDB_EVERSION, "99");
    vdb_object_backend ob = vdb_object_file_backend;
    ob.scheme = "fromthefuture";
    ob.version = 3;
    ERR(vdb_register_object_backend(&ob), VDB_EVERSION, "versions 1 to 2");
    /* nothing was registered */
    vdb_log_store s;
    ERR(vdb_log_store_open("fromthefuture:///tmp/x", NULL, &s), VDB_EUNSUPPORTED,
        "fromthefuture");
}

static vdb_status never_subscribe(void *log, const char *channel, uint64_t from, void **sub)
{
    fail_msg("a backend refused at registration was called");
    return VDB_EIO;
}

static void test_missing_method_partial_subscriptions_and_bad_scheme_are_einval(void **state)
{
    (void)state;
    vdb_log_backend be = vdb_wal_backend;
    be.scheme = "broken";
    be.read = NULL;
    ERR(vdb_register_log_backend(&be), VDB_EINVAL, "method read is NULL");
    be = vdb_wal_backend;
    be.scheme = "broken";
    be.subscribe = never_subscribe; /* without poll and unsubscribe */
    be.poll = NULL;
    be.unsubscribe = NULL;
    ERR(vdb_register_log_backend(&be), VDB_EINVAL, "together");
    be = vdb_wal_backend;
    be.scheme = "no spaces";
    ERR(vdb_register_log_backend(&be), VDB_EINVAL, "not a URI scheme");
    be.scheme = NULL;
    ERR(vdb_register_log_backend(&be), VDB_EINVAL, "scheme");
    ERR(vdb_register_log_backend(NULL), VDB_EINVAL, NULL);
    vdb_meta_backend mb = vdb_meta_local_backend;
    mb.scheme = "broken";
    mb.txn = NULL;
    ERR(vdb_register_meta_backend(&mb), VDB_EINVAL, "method txn");
    vdb_object_backend ob = vdb_object_file_backend;
    ob.scheme = "broken";
    ob.get_range = NULL;
    ERR(vdb_register_object_backend(&ob), VDB_EINVAL, "method get_range");
    vdb_log_store s;
    ERR(vdb_log_store_open("broken:///tmp/x", NULL, &s), VDB_EUNSUPPORTED, NULL);
}

static void test_init_fills_only_the_part_of_its_version(void **state)
{
    (void)state;
    /* version 1 into an old, shorter struct: the page after it is never touched */
    v1_log_backend *old = at_page_end(sizeof *old);
    memset(old, 0xab, sizeof *old);
    OK(vdb_log_backend_init((vdb_log_backend *)old, 1));
    assert_int_equal(old->version, 1);
    assert_null(old->scheme);
    assert_null(old->drop);
    free_page_end(old, sizeof *old);
    v1_meta_backend *om = at_page_end(sizeof *om);
    OK(vdb_meta_backend_init((vdb_meta_backend *)om, 1));
    assert_null(om->txn);
    free_page_end(om, sizeof *om);
    v1_object_backend *oo = at_page_end(sizeof *oo);
    OK(vdb_object_backend_init((vdb_object_backend *)oo, 1));
    assert_null(oo->del);
    free_page_end(oo, sizeof *oo);
    /* the newest version: everything */
    vdb_log_backend be;
    memset(&be, 0xab, sizeof be);
    OK(vdb_log_backend_init(&be, VDB_LOG_BACKEND_VERSION));
    assert_int_equal(be.version, VDB_LOG_BACKEND_VERSION);
    assert_null(be.app_data);
    assert_null(be.unsubscribe);
    vdb_log_backend m = VDB_LOG_BACKEND_INIT;
    assert_int_equal(m.version, VDB_LOG_BACKEND_VERSION);
    assert_null(m.subscribe);
    vdb_meta_backend mm = VDB_META_BACKEND_INIT;
    assert_int_equal(mm.version, VDB_META_BACKEND_VERSION);
    assert_null(mm.app_data);
    vdb_object_backend oi = VDB_OBJECT_BACKEND_INIT;
    assert_int_equal(oi.version, VDB_OBJECT_BACKEND_VERSION);
    assert_null(oi.del);
    /* an unknown version writes nothing */
    memset(&be, 0xab, sizeof be);
    ERR(vdb_log_backend_init(&be, VDB_LOG_BACKEND_VERSION + 1), VDB_EVERSION, NULL);
    ERR(vdb_log_backend_init(&be, 0), VDB_EVERSION, NULL);
    const unsigned char *p = (const unsigned char *)&be;
    for (size_t i = 0; i < sizeof be; i++)
        assert_int_equal(p[i], 0xab);
    ERR(vdb_meta_backend_init(NULL, 1), VDB_EINVAL, NULL);
}

/* ---- app_data and the registry's copy ------------------------------------------------------- */

typedef struct app_state {
    int opens;
    const char *last_uri;
} app_state;

static vdb_status app_log_open(const char *uri, const vdb_backend_options *opt, void **out)
{
    app_state *a = opt->app_data;
    assert_non_null(a);
    a->opens++;
    a->last_uri = uri;
    char *u = real_uri(uri, "wal");
    vdb_status st = vdb_wal_backend.open(u, opt, out);
    free(u);
    return st;
}

static vdb_status app_meta_open(const char *uri, const vdb_backend_options *opt, void **out)
{
    ((app_state *)opt->app_data)->opens++;
    char *u = real_uri(uri, "local");
    vdb_status st = vdb_meta_local_backend.open(u, opt, out);
    free(u);
    return st;
}

static void test_app_data_reaches_open_of_each_registration(void **state)
{
    (void)state;
    char *dir = test_tmpdir("reg_appdata");
    app_state a = {0}, b = {0}, m = {0};
    vdb_log_backend be;
    OK(vdb_log_backend_init(&be, VDB_LOG_BACKEND_VERSION));
    be.scheme = "appa";
    be.open = app_log_open;
    be.close = vdb_wal_backend.close;
    be.append = vdb_wal_backend.append;
    be.read = vdb_wal_backend.read;
    be.truncate = vdb_wal_backend.truncate;
    be.drop = vdb_wal_backend.drop;
    be.app_data = &a;
    OK(vdb_register_log_backend(&be));
    be.scheme = "appb";
    be.app_data = &b;
    OK(vdb_register_log_backend(&be));
    /* the registry keeps copies: the caller's struct may change or go */
    memset(&be, 0xff, sizeof be);
    char *ua = uri_for("appa", dir, "a"), *ub = uri_for("appb", dir, "b");
    vdb_log_store s, s2;
    OK(vdb_log_store_open(ua, NULL, &s));
    vdb_log_store_close(&s);
    OK(vdb_log_store_open(ub, NULL, &s));
    OK(vdb_log_store_open(ub, NULL, &s2));
    vdb_log_store_close(&s);
    vdb_log_store_close(&s2);
    assert_int_equal(a.opens, 1);
    assert_int_equal(b.opens, 2);
    /* this backend leaves last_pos unset: unsupported, by name */
    OK(vdb_log_store_open(ua, NULL, &s));
    uint64_t p;
    ERR(vdb_log_store_last_pos(&s, "c", &p), VDB_EUNSUPPORTED, "does not support last_pos");
    vdb_log_store_close(&s);
    vdb_meta_backend mb = vdb_meta_local_backend;
    mb.scheme = "appmeta";
    mb.open = app_meta_open;
    mb.app_data = &m;
    OK(vdb_register_meta_backend(&mb));
    char *um = uri_for("appmeta", dir, "m");
    vdb_meta_store ms;
    OK(vdb_meta_store_open(um, NULL, &ms));
    OK(ms.be->put(ms.h, "k", "v", 1));
    vdb_meta_store_close(&ms);
    assert_int_equal(m.opens, 1);
    free(ua);
    free(ub);
    free(um);
    test_rmdir(dir);
    free(dir);
}

static int opened_by;

static vdb_status first_open(const char *uri, const vdb_backend_options *opt, void **out)
{
    opened_by = 1;
    return app_log_open(uri, opt, out);
}

static vdb_status second_open(const char *uri, const vdb_backend_options *opt, void **out)
{
    opened_by = 2;
    return app_log_open(uri, opt, out);
}

static void test_registering_a_scheme_again_leaves_open_logs_working(void **state)
{
    (void)state;
    char *dir = test_tmpdir("reg_again");
    app_state a = {0};
    vdb_log_backend be = vdb_wal_backend;
    be.scheme = "swap";
    be.open = first_open;
    be.app_data = &a;
    OK(vdb_register_log_backend(&be));
    char *u = uri_for("swap", dir, "w");
    vdb_log_store s1, s2;
    OK(vdb_log_store_open(u, NULL, &s1));
    assert_int_equal(opened_by, 1);
    be.open = second_open;
    OK(vdb_register_log_backend(&be));
    uint64_t p;
    OK(s1.be->append(s1.h, "c", "x", 1, &p)); /* s1 still has its backend */
    assert_int_equal(p, 1);
    vdb_log_store_close(&s1);
    OK(vdb_log_store_open(u, NULL, &s2));
    assert_int_equal(opened_by, 2);
    vdb_log_store_close(&s2);
    free(u);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_1_log_backend_appends_reads_truncates_and_drops),
        cmocka_unit_test(test_version_1_log_backend_gives_eunsupported_naming_backend_and_method),
        cmocka_unit_test(test_version_1_backends_run_a_whole_database),
        cmocka_unit_test(test_newer_or_zero_version_is_refused_with_eversion),
        cmocka_unit_test(test_missing_method_partial_subscriptions_and_bad_scheme_are_einval),
        cmocka_unit_test(test_init_fills_only_the_part_of_its_version),
        cmocka_unit_test(test_app_data_reaches_open_of_each_registration),
        cmocka_unit_test(test_registering_a_scheme_again_leaves_open_logs_working),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Damage trials (issue 13): a closed database with sealed segments, a delete log, a saved
 * vector index, rows and deletes still in the log; then, for every file of the log (each
 * channel's segment files and COMMIT) and of the object store, one at a time on a fresh copy:
 * a byte flipped at several offsets, a cut at several lengths, a zeroed range, the file
 * deleted. Each trial must end in VDB_ECORRUPT naming the damaged file, or in exactly the
 * expected rows (an index rebuilt, a torn tail cut by the documented rule): never in other
 * data. The meta store's files are left to its own trials. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vdb/vdb.h>

#include "core/collection.h"
#include "test_common.h"

#define COLL "dmg"
#define DIM 8
#define ROWS 40
#define BATCHES 6

static int64_t row_id(int b, int i) { return (int64_t)b * 1000 + i; }
static float vec_at(int64_t id, int d) { return (float)((id * 31 + d * 7) % 97) / 97.0f; }
/* Batch 1 loses rows i % 4 == 0 before the second flush (a delete log), batch 4 rows
 * i % 5 == 0 after it (in the log only). */
static bool deleted(int b, int i) { return (b == 1 && i % 4 == 0) || (b == 4 && i % 5 == 0); }

static void opts(vdb_options *o)
{
    vdb_options_init(o);
    o->segment_max_rows = 1u << 20; /* seals only on flush */
    o->compaction_interval_ms = 0;
    o->segment_idle_seal_ms = 0;
    o->tick_interval_ms = 0; /* the tests damage the logs' records by number: data only */
}

static void must(vdb_status st, const char *what)
{
    if (st != VDB_OK)
        fail_msg("%s: %s: %s", what, vdb_status_name(st), vdb_errmsg(NULL));
}

static void insert_batch(vdb_db *db, int b)
{
    int64_t ids[ROWS], vals[ROWS];
    float vecs[ROWS * DIM];
    for (int i = 0; i < ROWS; i++) {
        ids[i] = row_id(b, i);
        vals[i] = ids[i] * 3;
        for (int d = 0; d < DIM; d++)
            vecs[i * DIM + d] = vec_at(ids[i], d);
    }
    vdb_batch *batch;
    must(vdb_batch_new(&batch), "batch");
    must(vdb_batch_add_column(batch, "id", VDB_TYPE_INT64, ids, NULL, ROWS, 0), "id");
    must(vdb_batch_add_column(batch, "val", VDB_TYPE_INT64, vals, NULL, ROWS, 0), "val");
    must(vdb_batch_add_column(batch, "vec", VDB_TYPE_FLOAT_VECTOR, vecs, NULL, ROWS, DIM),
         "vec");
    must(vdb_insert(db, COLL, NULL, batch, NULL, NULL), "insert");
    vdb_batch_free(batch);
}

static void delete_of(vdb_db *db, int b)
{
    int64_t ids[ROWS];
    size_t n = 0;
    for (int i = 0; i < ROWS; i++)
        if (deleted(b, i))
            ids[n++] = row_id(b, i);
    vdb_pk_list pks = {.ints = ids, .count = n};
    must(vdb_delete(db, COLL, NULL, &pks, NULL), "delete");
}

static void build(const char *path)
{
    vdb_options o;
    opts(&o);
    vdb_db *db;
    must(vdb_open(path, &o, &db), "open");
    vdb_schema *s;
    must(vdb_schema_new(COLL, &s), "schema");
    must(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                           .is_primary = 1)), "field id");
    must(vdb_schema_add_field(s, VDB_FIELD(.name = "val", .type = VDB_TYPE_INT64)), "field val");
    must(vdb_schema_add_field(s, VDB_FIELD(.name = "vec", .type = VDB_TYPE_FLOAT_VECTOR,
                                           .dim = DIM)), "field vec");
    must(vdb_schema_set_shards(s, 2), "shards");
    must(vdb_create_collection(db, s), "create");
    vdb_schema_free(s);
    for (int b = 0; b < 4; b++)
        insert_batch(db, b);
    must(vdb_create_index(db, COLL, "vec", "HNSW", "M=8,efConstruction=32"), "index");
    must(vdb_flush(db, COLL), "flush 1");
    delete_of(db, 1);
    insert_batch(db, 4);
    must(vdb_flush(db, COLL), "flush 2");
    must(vdb_wait_for_index(db, COLL, "vec", 60000), "wait for index");
    insert_batch(db, 5);
    delete_of(db, 4);
    vdb_close(db);
}

/* Whether db holds exactly the expected rows; *why says what differs. */
static bool exact(vdb_db *db, char *why, size_t n)
{
    uint64_t want = 0;
    for (int b = 0; b < BATCHES; b++) {
        int64_t ids[ROWS];
        size_t alive = 0;
        for (int i = 0; i < ROWS; i++) {
            ids[i] = row_id(b, i);
            alive += !deleted(b, i);
        }
        want += alive;
        const char *outs[] = {"val", "vec"};
        vdb_read_opts ro = {.struct_size = sizeof ro, .output_fields = outs,
                            .n_output_fields = 2};
        vdb_pk_list pks = {.ints = ids, .count = ROWS};
        vdb_result *res = NULL;
        vdb_status st = vdb_get(db, COLL, &pks, &ro, &res);
        if (st != VDB_OK) {
            snprintf(why, n, "get of batch %d: %s", b, vdb_errmsg(NULL));
            return false;
        }
        size_t got = vdb_result_rows(res, 0);
        bool ok = got == alive;
        for (size_t r = 0; r < got && ok; r++) {
            int64_t id = vdb_result_pk_int(res, 0, r);
            int i = (int)(id - row_id(b, 0));
            vdb_value v;
            ok = i >= 0 && i < ROWS && !deleted(b, i) &&
                 vdb_result_field(res, 0, r, "val", &v) == VDB_OK && v.u.i64 == id * 3 &&
                 vdb_result_field(res, 0, r, "vec", &v) == VDB_OK;
            for (int d = 0; ok && d < DIM; d++)
                ok = v.u.vec.ptr[d] == vec_at(id, d);
        }
        vdb_result_free(res);
        if (!ok) {
            snprintf(why, n, "batch %d: %zu rows visible, %zu expected (or values differ)", b,
                     got, alive);
            return false;
        }
    }
    vdb_stats stats = {.struct_size = sizeof stats};
    if (vdb_collection_stats(db, COLL, &stats) != VDB_OK || stats.row_count != want) {
        snprintf(why, n, "row_count %llu, %llu expected", (unsigned long long)stats.row_count,
                 (unsigned long long)want);
        return false;
    }
    return true;
}

/* Every regular file under dir (recursively), as paths relative to root. */
static void list_files(const char *root, const char *rel, char ***out, size_t *n)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4096], full[8200];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        struct stat sb;
        if (stat(full, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            list_files(root, sub, out, n);
        } else if (S_ISREG(sb.st_mode)) {
            *out = realloc(*out, (*n + 1) * sizeof **out);
            (*out)[(*n)++] = strdup(sub);
        }
    }
    closedir(d);
}

typedef enum { FLIP, CUT, ZERO, GONE } damage_kind;

/* Applies one damage to file f of size sz; false when it does not apply (offset past the
 * end). */
static bool damage(const char *f, off_t sz, damage_kind k, int variant)
{
    int fd = open(f, O_RDWR);
    assert_true(fd >= 0);
    bool done = true;
    if (k == FLIP) { /* first byte, middle, last */
        off_t at = variant == 0 ? 0 : variant == 1 ? sz / 2 : sz - 1;
        uint8_t c;
        if (sz == 0 || pread(fd, &c, 1, at) != 1) {
            done = false;
        } else {
            c ^= 0x01;
            assert_int_equal(pwrite(fd, &c, 1, at), 1);
        }
    } else if (k == CUT) { /* to 0, to half, one byte off */
        off_t to = variant == 0 ? 0 : variant == 1 ? sz / 2 : sz - 1;
        done = sz > 0;
        if (done)
            assert_int_equal(ftruncate(fd, to), 0);
    } else if (k == ZERO) { /* 64 bytes from the middle */
        uint8_t z[64] = {0};
        off_t at = sz / 2;
        size_t n = sz - at < 64 ? (size_t)(sz - at) : 64;
        done = n > 0;
        if (done)
            assert_int_equal(pwrite(fd, z, n, at), (ssize_t)n);
    }
    close(fd);
    if (k == GONE)
        assert_int_equal(unlink(f), 0);
    return done;
}

static const char *kind_name(damage_kind k)
{
    return k == FLIP ? "flip" : k == CUT ? "cut" : k == ZERO ? "zero" : "delete";
}

/* What a message must hold to name file rel (relative to the database folder): its last two
 * path parts ("<channel>/<file>" or "<segment>/<object>"). */
static const char *short_name(const char *rel)
{
    const char *p = rel + strlen(rel);
    int slashes = 0;
    while (p > rel && slashes < 2)
        if (*--p == '/')
            slashes++;
    return slashes == 2 ? p + 1 : rel;
}

static void run_trials(const char *area)
{
    char *pristine = test_tmpdir("dmg");
    assert_non_null(pristine);
    build(pristine);
    char root[4200];
    snprintf(root, sizeof root, "%s/%s", pristine, area);
    char **files = NULL;
    size_t nfiles = 0;
    list_files(root, "", &files, &nfiles);
    assert_true(nfiles > 0);
    int trials = 0, corrupt = 0, exact_ok = 0, bad = 0;
    char report[8192] = "";
    for (size_t fi = 0; fi < nfiles; fi++) {
        for (damage_kind k = FLIP; k <= GONE; k++) {
            int variants = k == FLIP || k == CUT ? 3 : 1;
            for (int v = 0; v < variants; v++) {
                char *trial = test_tmpdir("dmgtrial");
                char cmd[9000], file[9000], rel[4400];
                snprintf(cmd, sizeof cmd, "cp -a '%s'/. '%s'/", pristine, trial);
                assert_int_equal(system(cmd), 0);
                snprintf(rel, sizeof rel, "%s/%s", area, files[fi]);
                snprintf(file, sizeof file, "%s/%s", trial, rel);
                struct stat sb;
                assert_int_equal(stat(file, &sb), 0);
                if (!damage(file, sb.st_size, k, v)) {
                    test_rmdir(trial);
                    free(trial);
                    continue;
                }
                trials++;
                vdb_options o;
                opts(&o);
                vdb_db *db = NULL;
                vdb_status st = vdb_open(trial, &o, &db);
                char why[1024] = "";
                bool fine;
                if (st == VDB_OK) {
                    fine = exact(db, why, sizeof why);
                    exact_ok += fine;
                    vdb_close(db);
                } else {
                    const char *msg = vdb_errmsg(NULL);
                    fine = st == VDB_ECORRUPT && strstr(msg, short_name(rel));
                    corrupt += fine;
                    snprintf(why, sizeof why, "%s: %s", vdb_status_name(st), msg);
                }
                printf("  %-6s %s (variant %d): %s\n", kind_name(k), rel, v,
                       st == VDB_OK ? (fine ? "exact data" : why) : vdb_status_name(st));
                if (!fine) {
                    bad++;
                    size_t l = strlen(report);
                    snprintf(report + l, sizeof report - l, "\n  %s %s (variant %d): %.300s",
                             kind_name(k), rel, v, why);
                }
                test_rmdir(trial);
                free(trial);
            }
        }
    }
    printf("%s: %d trials over %zu files: %d VDB_ECORRUPT naming the file, %d exact data, %d "
           "wrong\n", area, trials, nfiles, corrupt, exact_ok, bad);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    test_rmdir(pristine);
    free(pristine);
    if (bad)
        fail_msg("%d of %d trials ended in neither VDB_ECORRUPT naming the file nor the exact "
                 "data:%s", bad, trials, report);
}

static void test_damage_to_the_log_is_never_silent(void **state)
{
    (void)state;
    run_trials("wal");
}

static void test_damage_to_segment_objects_is_never_silent(void **state)
{
    (void)state;
    run_trials("objects");
}

/* The meta store keeps two copies of everything (meta_local.c): one damaged file is repaired
 * from its twin, so these trials end in the exact data or VDB_ECORRUPT naming the file. */
static void test_damage_to_the_meta_store_is_never_silent(void **state)
{
    (void)state;
    run_trials("meta");
}

typedef struct seen {
    int n;
    char first[1024];
} seen;

static void on_problem(void *arg, vdb_status st, const char *msg)
{
    seen *k = arg;
    if (k->n++ == 0)
        snprintf(k->first, sizeof k->first, "%s: %s", vdb_status_name(st), msg);
}

/* vdb_check decodes the saved vector indexes too: one damaged under the open database is
 * reported, naming its object. */
static void test_vdb_check_reports_a_damaged_index(void **state)
{
    (void)state;
    char *path = test_tmpdir("dmgcheck");
    build(path);
    vdb_options o;
    opts(&o);
    vdb_db *db;
    must(vdb_open(path, &o, &db), "open");
    must(vdb_wait_for_index(db, COLL, "vec", 60000), "wait for index");
    seen k = {0};
    must(vdb_check(db, on_problem, &k, NULL), "check of a sound database");
    assert_int_equal(k.n, 0);
    char root[4200];
    snprintf(root, sizeof root, "%s/objects", path);
    char **files = NULL;
    size_t n = 0;
    list_files(root, "", &files, &n);
    const char *idx = NULL;
    for (size_t i = 0; i < n && !idx; i++)
        if (strstr(files[i], "/hnsw_"))
            idx = files[i];
    assert_non_null(idx);
    char file[8400];
    snprintf(file, sizeof file, "%s/%s", root, idx);
    struct stat sb;
    assert_int_equal(stat(file, &sb), 0);
    assert_true(damage(file, sb.st_size, CUT, 1));
    uint64_t count = 0;
    assert_int_equal(vdb_check(db, on_problem, &k, &count), VDB_ECORRUPT);
    assert_int_equal(count, 1);
    assert_int_equal(k.n, 1);
    if (!strstr(k.first, idx))
        fail_msg("the problem does not name %s: %s", idx, k.first);
    vdb_close(db);
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
    test_rmdir(path);
    free(path);
}

/* A collection record from before incarnations (none after its partitions) decodes with
 * incarnation 0 and the old names, so such a database opens as it did; a new one carries its
 * incarnation in every name. */
static void test_collection_without_incarnation_keeps_the_old_names(void **state)
{
    (void)state;
    vdb_schema *s;
    must(vdb_schema_new(COLL, &s), "schema");
    must(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                           .is_primary = 1)), "field id");
    must(vdb_schema_add_field(s, VDB_FIELD(.name = "vec", .type = VDB_TYPE_FLOAT_VECTOR,
                                           .dim = DIM)), "field vec");
    vdb_collection *c, *d;
    must(vdb_collection_new(s, 7, 0x1234, &c), "new");
    vdb_schema_free(s);
    must(vdb_collection_add_partition(c, "_default", 8), "partition");
    assert_string_equal(c->shards[0].channel, "c0000000000000007-0000000000001234-s0");
    assert_string_equal(c->seg_prefix, "c0000000000000007-0000000000001234");
    vdb_buf b = {0};
    must(vdb_collection_encode(c, NULL, -1, &b), "encode");
    must(vdb_collection_decode(b.p, b.len, &d), "decode");
    assert_int_equal(d->incarnation, 0x1234);
    assert_string_equal(d->shards[0].channel, c->shards[0].channel);
    vdb_collection_free(d);
    /* the old record: the same without the last 8 bytes */
    must(vdb_collection_decode(b.p, b.len - 8, &d), "decode old");
    assert_int_equal(d->incarnation, 0);
    assert_string_equal(d->shards[0].channel, "c0000000000000007-s0");
    assert_string_equal(d->seg_prefix, "c0000000000000007");
    assert_int_equal(d->nparts, 1);
    vdb_collection_free(d);
    /* cut inside the partitions: refused */
    assert_int_equal(vdb_collection_decode(b.p, b.len - 12, &d), VDB_ECORRUPT);
    vdb_buf_free(&b);
    vdb_collection_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collection_without_incarnation_keeps_the_old_names),
        cmocka_unit_test(test_vdb_check_reports_a_damaged_index),
        cmocka_unit_test(test_damage_to_the_log_is_never_silent),
        cmocka_unit_test(test_damage_to_segment_objects_is_never_silent),
        cmocka_unit_test(test_damage_to_the_meta_store_is_never_silent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

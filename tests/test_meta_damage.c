/* Damage to the local meta store (local://, lib/storage/meta_local.c): every file it writes is
 * damaged in turn (one byte flipped at every offset, truncated at every length, ranges zeroed,
 * deleted) and the store reopened. One damaged file is always made good by its twin: the open
 * must give exactly the data written. The same damage to both copies of the log must end in
 * VDB_ECORRUPT naming a file of meta/, or in the data of the records wholly before the
 * damage when the rule at the top of meta_local.c reads it as a torn tail (counted), never in
 * other data. Also: the upgrade from format 1, and a store whose files are all gone. */
#define _GNU_SOURCE
#include "test_common.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/storage.h"
#include "vdb/vdb.h"

static const vdb_meta_backend *be = &vdb_meta_local_backend;

#define NKEYS 24
#define MAXTXN 40
#define LOG_HEADER 32
#define REC_HEADER 20

/* The model of the map: which keys hold which value. */
typedef struct model {
    bool has[NKEYS];
    char val[NKEYS][48];
} model;

typedef struct saved_file {
    char name[64];
    uint8_t *data;
    size_t len;
} saved_file;

typedef struct fixture {
    char *base;   /* the scratch folder */
    char dir[4096]; /* its meta/ */
    char uri[4300];
    model states[MAXTXN + 1]; /* states[j]: after j records of the final log */
    int nrec;                 /* records in the final log */
    saved_file files[16];
    int nfiles;
} fixture;

static void key_name(char *k, size_t n, int i) { snprintf(k, n, "k%02d", i); }

/* One transaction, number t: puts, overwrites and deletes of a few keys, applied to the
 * store and to the model. */
static void run_txn(void *m, model *md, int t) /* m NULL: the model only */
{
    vdb_meta_op ops[3];
    char keys[3][16], vals[3][48];
    int n = t % 3 == 2 ? 3 : 1;
    for (int i = 0; i < n; i++) {
        int k = (t * 7 + i * 5) % NKEYS;
        key_name(keys[i], sizeof keys[i], k);
        bool del = t % 5 == 4 && i == 0;
        snprintf(vals[i], sizeof vals[i], "value %d of txn %d", i, t);
        ops[i] = del ? (vdb_meta_op){VDB_META_DELETE, keys[i], NULL, 0}
                     : (vdb_meta_op){VDB_META_PUT, keys[i], vals[i], strlen(vals[i])};
        if (del) {
            md->has[k] = false;
        } else {
            md->has[k] = true;
            snprintf(md->val[k], sizeof md->val[k], "%s", vals[i]);
        }
    }
    if (m)
        assert_int_equal(be->txn(m, ops, (size_t)n), VDB_OK);
}

typedef struct seen {
    model md;
    int n;
    bool bad;
} seen;

static int collect(void *arg, const char *key, const void *val, size_t len)
{
    seen *s = arg;
    int k = -1;
    s->n++;
    if (sscanf(key, "k%d", &k) != 1 || k < 0 || k >= NKEYS || len >= 48 || s->md.has[k]) {
        s->bad = true;
        return 0;
    }
    s->md.has[k] = true;
    memcpy(s->md.val[k], val, len);
    s->md.val[k][len] = 0;
    return 0;
}

static bool same(const model *a, const model *b)
{
    for (int k = 0; k < NKEYS; k++)
        if (a->has[k] != b->has[k] || (a->has[k] && strcmp(a->val[k], b->val[k]) != 0))
            return false;
    return true;
}

/* Whether the open store holds exactly md. */
static bool holds(void *m, const model *md)
{
    seen s = {0};
    assert_int_equal(be->scan(m, "", collect, &s), VDB_OK);
    return !s.bad && same(&s.md, md);
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc((size_t)n + 1);
    assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return d;
}

static void write_all(const char *path, const void *d, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, len, f), len);
    fclose(f);
}

static void path_of(const fixture *f, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%.200s", f->dir, name);
}

/* Empties meta/ but for its lock file. */
static void clear_dir(const fixture *f)
{
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "meta.lock") == 0)
            continue;
        char p[4400];
        path_of(f, e->d_name, p, sizeof p);
        assert_int_equal(unlink(p), 0);
    }
    closedir(d);
}

static void restore(const fixture *f)
{
    clear_dir(f);
    for (int i = 0; i < f->nfiles; i++) {
        char p[4400];
        path_of(f, f->files[i].name, p, sizeof p);
        write_all(p, f->files[i].data, f->files[i].len);
    }
}

static const saved_file *saved(const fixture *f, const char *suffix)
{
    for (int i = 0; i < f->nfiles; i++) {
        size_t n = strlen(f->files[i].name), s = strlen(suffix);
        if (n >= s && strcmp(f->files[i].name + n - s, suffix) == 0)
            return &f->files[i];
    }
    fail_msg("no saved file ending in %s", suffix);
    return NULL;
}

/* tmpfs when there is one: the trials reopen thousands of times and each repair syncs. */
static char *scratch(void)
{
    struct stat sb;
    if (stat("/dev/shm", &sb) == 0 && access("/dev/shm", W_OK) == 0) {
        char *p = malloc(4096);
        snprintf(p, 4096, "/dev/shm/meta_damage.%ld.XXXXXX", (long)getpid());
        if (mkdtemp(p))
            return p;
        free(p);
    }
    return test_tmpdir("meta_damage"); /* under VDB_TEST_TMP */
}

/* A store whose snapshots hold data (a repair at reopen wrote them) and whose log holds
 * records after them; the files are saved, and the states after each record kept. */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->base = scratch();
    if (!f->base)
        return -1;
    snprintf(f->dir, sizeof f->dir, "%s/meta", f->base);
    snprintf(f->uri, sizeof f->uri, "local://%s", f->dir);
    void *m = NULL;
    if (be->open(f->uri, NULL, &m) != VDB_OK)
        return -1;
    model md = {0};
    int t = 0;
    for (; t < 8; t++)
        run_txn(m, &md, t);
    be->close(m);
    /* a lost copy makes the next open write a new generation: the map goes into both
     * snapshots */
    char p[4400];
    snprintf(p, sizeof p, "%s/meta-1-b.log", f->dir);
    if (unlink(p) != 0 || be->open(f->uri, NULL, &m) != VDB_OK)
        return -1;
    f->states[0] = md;
    for (int j = 0; j < 14; j++, t++) {
        run_txn(m, &md, t);
        f->states[j + 1] = md;
    }
    f->nrec = 14;
    be->close(m);
    DIR *d = opendir(f->dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "meta.lock") == 0)
            continue;
        saved_file *s = &f->files[f->nfiles++];
        snprintf(s->name, sizeof s->name, "%.60s", e->d_name);
        path_of(f, e->d_name, p, sizeof p);
        s->data = read_all(p, &s->len);
    }
    closedir(d);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < f->nfiles; i++)
        free(f->files[i].data);
    test_rmdir(f->base);
    free(f->base);
    free(f);
    return 0;
}

typedef enum { FLIP, TRUNCATE, ZERO, DELETE } damage_kind;

static const char *kind_name[] = {"flip", "truncate", "zero", "delete"};

/* Applies one damage to the saved file at index i (its fresh copy in the folder). */
static void damage(const fixture *f, const saved_file *s, damage_kind k, size_t at, size_t len)
{
    char p[4400];
    path_of(f, s->name, p, sizeof p);
    if (k == DELETE) {
        assert_int_equal(unlink(p), 0);
        return;
    }
    if (k == TRUNCATE) {
        assert_int_equal(truncate(p, (off_t)at), 0);
        return;
    }
    uint8_t *d = malloc(s->len);
    memcpy(d, s->data, s->len);
    if (k == FLIP)
        d[at] ^= 0x5a;
    else
        memset(d + at, 0, VDB_MIN(len, s->len - at));
    write_all(p, d, s->len);
    free(d);
}

/* How many records of the log lie wholly before byte off. */
static int records_before(const saved_file *log, size_t off)
{
    size_t pos = LOG_HEADER;
    int n = 0;
    while (pos + REC_HEADER <= log->len) {
        uint32_t len;
        memcpy(&len, log->data + pos, 4);
        if (pos + REC_HEADER + len > off)
            break;
        pos += REC_HEADER + len;
        n++;
    }
    return n;
}

typedef struct tally {
    int trials, exact, corrupt, cut;
} tally;

/* Opens after a damage and checks the outcome. prefix >= 0: the records wholly before the
 * damage, whose state a torn tail cut may leave; -1: only the full data will do. */
static void check_open(fixture *f, tally *t, const char *what, int prefix, bool may_corrupt)
{
    void *m = NULL;
    vdb_status st = be->open(f->uri, NULL, &m);
    t->trials++;
    if (st == VDB_ECORRUPT) {
        if (!may_corrupt)
            fail_msg("%s: VDB_ECORRUPT where the twin should repair it: %s", what,
                     vdb_err_get());
        if (!strstr(vdb_err_get(), "meta/meta-"))
            fail_msg("%s: the error does not name a file of meta/: %s", what, vdb_err_get());
        t->corrupt++;
        return;
    }
    if (st != VDB_OK)
        fail_msg("%s: open gave %d: %s", what, (int)st, vdb_err_get());
    vdb_meta_local_recovery rec;
    vdb_meta_local_recovery_get(m, &rec);
    if (holds(m, &f->states[f->nrec])) {
        t->exact++;
    } else if (prefix >= 0 && holds(m, &f->states[prefix])) {
        if (rec.torn_cut == 0)
            fail_msg("%s: records were cut and the open did not count it", what);
        t->cut++;
    } else {
        fail_msg("%s: the open gave different data (recovery: %s)", what, rec.note);
    }
    /* what the repair wrote reads back the same, with nothing left to repair */
    model want;
    seen s = {0};
    assert_int_equal(be->scan(m, "", collect, &s), VDB_OK);
    want = s.md;
    be->close(m);
    m = NULL;
    st = be->open(f->uri, NULL, &m);
    if (st != VDB_OK)
        fail_msg("%s: the open after the repair gave %d: %s", what, (int)st, vdb_err_get());
    vdb_meta_local_recovery_get(m, &rec);
    if (!holds(m, &want) || rec.torn_cut || rec.repaired)
        fail_msg("%s: the repaired store reads differently (%s)", what, rec.note);
    be->close(m);
}

static const char *const one_file[] = {"meta-a.snap", "meta-b.snap", "-a.log", "-b.log",
                                       "meta.hwm"};

static void test_one_damaged_file_is_always_repaired_from_its_twin(void **state)
{
    fixture *f = *state;
    tally t = {0};
    char what[256];
    assert_int_equal(f->nfiles, 5);
    for (int i = 0; i < 5; i++) {
        const saved_file *s = saved(f, one_file[i]);
        for (size_t at = 0; at < s->len; at++) {
            restore(f);
            damage(f, s, FLIP, at, 1);
            snprintf(what, sizeof what, "%s: flip at %zu of %zu", s->name, at, s->len);
            check_open(f, &t, what, -1, false);
        }
        for (size_t at = 0; at < s->len; at++) {
            restore(f);
            damage(f, s, TRUNCATE, at, 0);
            snprintf(what, sizeof what, "%s: truncate to %zu of %zu", s->name, at, s->len);
            check_open(f, &t, what, -1, false);
        }
        for (size_t at = 0; at < s->len; at += 7) {
            for (size_t len = 1; len <= s->len; len *= 4) {
                restore(f);
                damage(f, s, ZERO, at, len);
                snprintf(what, sizeof what, "%s: zero %zu at %zu of %zu", s->name, len, at,
                         s->len);
                check_open(f, &t, what, -1, false);
            }
        }
        restore(f);
        damage(f, s, DELETE, 0, 0);
        snprintf(what, sizeof what, "%s: delete", s->name);
        check_open(f, &t, what, -1, false);
    }
    print_message("one file: %d trials, all %d exact\n", t.trials, t.exact);
    assert_int_equal(t.exact, t.trials);
}

/* The same damage to both copies of the log: ECORRUPT, or the records before the damage by
 * the torn-tail rule; never other data. */
static void test_same_damage_to_both_log_copies_is_ecorrupt_or_a_counted_cut(void **state)
{
    fixture *f = *state;
    const saved_file *a = saved(f, "-a.log"), *b = saved(f, "-b.log");
    assert_int_equal(a->len, b->len);
    assert_memory_equal(a->data, b->data, a->len);
    tally t[4] = {{0}};
    char what[256];
    for (size_t at = 0; at < a->len; at++) {
        restore(f);
        damage(f, a, FLIP, at, 1);
        damage(f, b, FLIP, at, 1);
        snprintf(what, sizeof what, "both logs: flip at %zu of %zu", at, a->len);
        check_open(f, &t[FLIP], what, -1, true);
    }
    for (size_t at = 0; at < a->len; at++) {
        restore(f);
        damage(f, a, TRUNCATE, at, 0);
        damage(f, b, TRUNCATE, at, 0);
        snprintf(what, sizeof what, "both logs: truncate to %zu of %zu", at, a->len);
        check_open(f, &t[TRUNCATE], what, records_before(a, at), true);
    }
    for (size_t at = 0; at < a->len; at += 3) {
        for (size_t len = 1; len <= a->len; len *= 3) {
            restore(f);
            damage(f, a, ZERO, at, len);
            damage(f, b, ZERO, at, len);
            snprintf(what, sizeof what, "both logs: zero %zu at %zu of %zu", len, at, a->len);
            check_open(f, &t[ZERO], what, records_before(a, at), true);
        }
    }
    restore(f);
    damage(f, a, DELETE, 0, 0);
    damage(f, b, DELETE, 0, 0);
    check_open(f, &t[DELETE], "both logs: delete", -1, true);
    for (int k = 0; k < 4; k++)
        print_message("both logs, %s: %d trials: %d exact, %d ECORRUPT, %d cut as torn\n",
                      kind_name[k], t[k].trials, t[k].exact, t[k].corrupt, t[k].cut);
    /* every byte is under a checksum: a flip is never read as good data; and the store was
     * closed cleanly, so its high-water mark (meta.hwm) makes every cut, even at a record
     * boundary, a loss: VDB_ECORRUPT */
    assert_int_equal(t[FLIP].corrupt, t[FLIP].trials);
    assert_int_equal(t[TRUNCATE].corrupt, t[TRUNCATE].trials);
    assert_int_equal(t[ZERO].cut, 0);
    assert_int_equal(t[DELETE].corrupt, 1);
}

/* A process that dies after its last write leaves no new high-water mark: a torn record at
 * the end of both copies (the crash came during the write) is cut and counted, and so is a
 * last record complete but bad in one copy and absent from the other (the crash came between
 * the two writes); a cut below the mark of the last clean close is VDB_ECORRUPT. */
static void test_torn_tail_after_a_crash_is_cut_and_counted(void **state)
{
    fixture *f = *state;
    const saved_file *a = saved(f, "-a.log"), *b = saved(f, "-b.log");
    model after = f->states[f->nrec], crashed = after;
    restore(f);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        void *m = NULL;
        if (be->open(f->uri, NULL, &m) != VDB_OK)
            _exit(1);
        run_txn(m, &crashed, 100);
        _exit(0); /* no close: a crash */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    run_txn(NULL, &crashed, 100); /* the model only */
    char pa[4400], pb[4400];
    path_of(f, a->name, pa, sizeof pa);
    path_of(f, b->name, pb, sizeof pb);
    size_t la, lb;
    uint8_t *ca = read_all(pa, &la), *cb = read_all(pb, &lb);
    assert_int_equal(la, lb);
    assert_true(la > a->len);
    struct {
        size_t cut_a, cut_b;
        int flip_a; /* flip the last record's last byte in copy a */
        const model *want;
        int torn, repaired;
    } cases[64];
    int n = 0;
    cases[n++] = (__typeof__(cases[0])){la, la, 0, &crashed, 0, 0};
    for (size_t cut = a->len + 1; cut < la; cut += 3)
        cases[n++] = (__typeof__(cases[0])){cut, cut, 0, &after, 1, 0};
    cases[n++] = (__typeof__(cases[0])){a->len, a->len, 0, &after, 0, 0};
    cases[n++] = (__typeof__(cases[0])){la, a->len, 1, &after, 1, 0};
    cases[n++] = (__typeof__(cases[0])){la, la, 1, &crashed, 0, 1};
    cases[n++] = (__typeof__(cases[0])){a->len - 1, a->len - 1, 0, NULL, 0, 0};
    cases[n++] = (__typeof__(cases[0])){LOG_HEADER + 5, LOG_HEADER + 5, 0, NULL, 0, 0};
    cases[n++] = (__typeof__(cases[0])){la, la, 2, NULL, 0, 0};
    assert_true(n <= 64);
    for (int i = 0; i < n; i++) {
        restore(f);
        uint8_t *da = malloc(la), *db = malloc(la);
        memcpy(da, ca, la);
        memcpy(db, cb, la);
        if (cases[i].flip_a) {
            da[la - 1] ^= 1;
            if (cases[i].flip_a == 2)
                db[la - 1] ^= 1;
        }
        write_all(pa, da, cases[i].cut_a);
        write_all(pb, db, cases[i].cut_b);
        free(da);
        free(db);
        void *m = NULL;
        vdb_status st = be->open(f->uri, NULL, &m);
        if (!cases[i].want) {
            if (st != VDB_ECORRUPT)
                fail_msg("case %d: open gave %d, not VDB_ECORRUPT", i, (int)st);
            assert_non_null(strstr(vdb_err_get(), "meta/meta-"));
            continue;
        }
        if (st != VDB_OK)
            fail_msg("case %d: open gave %d: %s", i, (int)st, vdb_err_get());
        vdb_meta_local_recovery rec;
        vdb_meta_local_recovery_get(m, &rec);
        if (!holds(m, cases[i].want) || rec.torn_cut != (uint64_t)cases[i].torn ||
            rec.repaired != (uint64_t)cases[i].repaired)
            fail_msg("case %d (cuts %zu %zu of %zu, flip %d): torn %d repaired %d: %s", i,
                     cases[i].cut_a, cases[i].cut_b, la, cases[i].flip_a, (int)rec.torn_cut,
                     (int)rec.repaired, rec.note);
        if (cases[i].torn)
            assert_non_null(strstr(rec.note, "cut"));
        be->close(m);
    }
    free(ca);
    free(cb);
}

static void test_lost_snapshots_beside_a_log_are_ecorrupt(void **state)
{
    fixture *f = *state;
    tally t = {0};
    restore(f);
    damage(f, saved(f, "meta-a.snap"), DELETE, 0, 0);
    damage(f, saved(f, "meta-b.snap"), DELETE, 0, 0);
    check_open(f, &t, "both snapshots deleted", -1, true);
    assert_int_equal(t.corrupt, 1);
    assert_non_null(strstr(vdb_err_get(), "meta-a.snap"));

    restore(f);
    damage(f, saved(f, "meta-a.snap"), FLIP, 40, 1);
    damage(f, saved(f, "meta-b.snap"), TRUNCATE, 10, 0);
    check_open(f, &t, "both snapshots damaged", -1, true);
    assert_int_equal(t.corrupt, 2);
    assert_non_null(strstr(vdb_err_get(), "meta/meta-a.snap"));
    assert_non_null(strstr(vdb_err_get(), "meta/meta-b.snap"));
}

static void test_an_empty_folder_is_a_new_store(void **state)
{
    fixture *f = *state;
    clear_dir(f);
    void *m = NULL;
    assert_int_equal(be->open(f->uri, NULL, &m), VDB_OK);
    model none = {0};
    assert_true(holds(m, &none));
    be->close(m);
}

/* Through vdb_open: a database whose meta/ folder is gone does not open as an empty one; a
 * fresh folder is a new database; one lost meta file is repaired. */
static void test_a_database_without_its_meta_folder_is_ecorrupt(void **state)
{
    fixture *f = *state;
    char db_path[4200], cmd[4400];
    snprintf(db_path, sizeof db_path, "%s/db", f->base);
    vdb_db *db = NULL;
    assert_int_equal(vdb_open(db_path, NULL, &db), VDB_OK);
    uint64_t ts0 = 0, ts1 = 0;
    assert_int_equal(vdb_now(db, &ts0), VDB_OK);
    vdb_close(db);

    snprintf(cmd, sizeof cmd, "rm -f '%s'/meta/meta-*-a.log", db_path);
    assert_int_equal(system(cmd), 0);
    db = NULL;
    assert_int_equal(vdb_open(db_path, NULL, &db), VDB_OK);
    assert_int_equal(vdb_now(db, &ts1), VDB_OK);
    assert_true(ts1 > ts0); /* the TSO window survived in the twin */
    vdb_close(db);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'/meta", db_path);
    assert_int_equal(system(cmd), 0);
    db = NULL;
    assert_int_equal(vdb_open(db_path, NULL, &db), VDB_ECORRUPT);
    assert_null(db);
    assert_non_null(strstr(vdb_errmsg(NULL), "meta"));
    assert_non_null(strstr(vdb_errmsg(NULL), "lost"));
}

/* ---- format 1 ---- */

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* A log of format 1 holding one put per key: header (magic, version 1, generation 0), then
 * records [u32 length][u32 crc32c][payload]. */
static size_t v1_log(uint8_t *buf, int keys, size_t *rec_off)
{
    put_u32(buf, 0x4c4d4456u);
    put_u32(buf + 4, 1);
    put_u64(buf + 8, 0);
    size_t off = 16;
    for (int i = 0; i < keys; i++) {
        char k[16], v[32];
        key_name(k, sizeof k, i);
        snprintf(v, sizeof v, "old value %d", i);
        uint8_t *p = buf + off + 8;
        size_t n = 0;
        put_u32(p + n, 1), n += 4;
        p[n++] = VDB_META_PUT;
        put_u32(p + n, (uint32_t)strlen(k)), n += 4;
        memcpy(p + n, k, strlen(k)), n += strlen(k);
        put_u64(p + n, strlen(v)), n += 8;
        memcpy(p + n, v, strlen(v)), n += strlen(v);
        put_u32(buf + off, (uint32_t)n);
        put_u32(buf + off + 4, vdb_crc32c(0, p, n));
        if (rec_off)
            rec_off[i] = off;
        off += 8 + n;
    }
    return off;
}

static void test_format_1_is_upgraded_on_open(void **state)
{
    fixture *f = *state;
    uint8_t buf[4096];
    size_t off[8];
    size_t len = v1_log(buf, 8, off);
    char p[4400];
    path_of(f, "meta-0.log", p, sizeof p);
    model md = {0};
    for (int i = 0; i < 8; i++) {
        md.has[i] = true;
        snprintf(md.val[i], sizeof md.val[i], "old value %d", i);
    }

    /* a torn last record is cut, and said */
    clear_dir(f);
    write_all(p, buf, len - 3);
    void *m = NULL;
    assert_int_equal(be->open(f->uri, NULL, &m), VDB_OK);
    vdb_meta_local_recovery rec;
    vdb_meta_local_recovery_get(m, &rec);
    assert_true(rec.upgraded);
    assert_int_equal(rec.torn_cut, 1);
    model cut = md;
    cut.has[7] = false;
    assert_true(holds(m, &cut));
    be->close(m);

    /* the whole log is read, its files replaced by format 2 */
    clear_dir(f);
    write_all(p, buf, len);
    assert_int_equal(be->open(f->uri, NULL, &m), VDB_OK);
    vdb_meta_local_recovery_get(m, &rec);
    assert_true(rec.upgraded);
    assert_int_equal(rec.torn_cut, 0);
    assert_true(holds(m, &md));
    be->close(m);
    assert_int_not_equal(access(p, F_OK), 0);
    assert_int_equal(be->open(f->uri, NULL, &m), VDB_OK);
    vdb_meta_local_recovery_get(m, &rec);
    assert_false(rec.upgraded);
    assert_true(holds(m, &md));
    be->close(m);

    /* a bad record before the end is damage, not a tail */
    for (int r = 0; r < 7; r++) {
        clear_dir(f);
        buf[off[r] + 12] ^= 1;
        write_all(p, buf, len);
        buf[off[r] + 12] ^= 1;
        m = NULL;
        assert_int_equal(be->open(f->uri, NULL, &m), VDB_ECORRUPT);
        assert_non_null(strstr(vdb_err_get(), "meta/meta-0.log"));
        assert_null(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_damaged_file_is_always_repaired_from_its_twin,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_same_damage_to_both_log_copies_is_ecorrupt_or_a_counted_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_after_a_crash_is_cut_and_counted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lost_snapshots_beside_a_log_are_ecorrupt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_an_empty_folder_is_a_new_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_database_without_its_meta_folder_is_ecorrupt,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_1_is_upgraded_on_open, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

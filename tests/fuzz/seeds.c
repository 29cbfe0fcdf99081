/* Writes seed inputs for the fuzz targets from a real database: builds one with the public API
 * in a scratch folder (every column type, int and string keys, deletes before and after a
 * seal, HNSW and IVF_FLAT indexes, records left in the log), then takes its files as the
 * targets read them:
 *   wal/<channel>/<pos>.log    -> corpus_wal     (flags 0 and "fix the checksums")
 *   each record of those files -> corpus_record
 *   objects/.../col_<i>, ts    -> corpus_binlog  (the file, and its column for mode 2)
 *   objects/.../bloom          -> corpus_bloom
 *   objects/.../delta_<n>      -> corpus_delta
 *   objects/.../hnsw_*, ivf_*  -> corpus_index   (with the segment's vectors in front)
 *   the meta store's seg/ keys -> corpus_manifest
 *   the meta folder's files    -> corpus_meta    (as fuzz_meta's chunks, flags 0 and 1)
 * Usage: fuzz_seeds SCRATCH_FOLDER OUT_FOLDER (OUT gets corpus_<target>/ folders). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vdb/vdb.h>

#include "log/log.h"
#include "segment/segment.h"
#include "storage/storage.h"
#include "storage/wal_internal.h"

#define ROWS 40
#define DIM 8

static const char *out_root;
static unsigned counter;

static void check(vdb_status st, const char *what)
{
    if (st != VDB_OK) {
        fprintf(stderr, "fuzz_seeds: %s: %s: %s\n", what, vdb_status_name(st), vdb_errmsg(NULL));
        exit(1);
    }
}

/* out_root/corpus_<target>/<name>-<n>: prefix bytes, then the data. */
static void emit(const char *target, const char *name, const void *prefix, size_t plen,
                 const void *data, size_t len)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/corpus_%s", out_root, target);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        perror(dir);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/seed-%s-%u", dir, name, counter++);
    FILE *f = fopen(path, "wb");
    if (!f || (plen && fwrite(prefix, 1, plen, f) != plen) ||
        (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(n > 0 ? (size_t)n : 1);
    if (!p || (n > 0 && fread(p, 1, (size_t)n, f) != (size_t)n)) {
        fclose(f);
        free(p);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* ---- the database ---- */

static void build(const char *path)
{
    vdb_db *db;
    check(vdb_open(path, NULL, &db), "open");
    vdb_schema *s;
    check(vdb_schema_new("all", &s), "schema");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                            .is_primary = 1)), "id");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_FLOAT_VECTOR,
                                            .dim = DIM, .metric = VDB_METRIC_L2)), "v");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "w", .type = VDB_TYPE_FLOAT_VECTOR,
                                            .dim = DIM, .metric = VDB_METRIC_IP)), "w");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "t", .type = VDB_TYPE_VARCHAR,
                                            .max_length = 32, .nullable = 1)), "t");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "i8", .type = VDB_TYPE_INT8)), "i8");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "i32", .type = VDB_TYPE_INT32,
                                            .default_json = "7")), "i32");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "d", .type = VDB_TYPE_DOUBLE)), "d");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "b", .type = VDB_TYPE_BOOL)), "b");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "j", .type = VDB_TYPE_JSON)), "j");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "a", .type = VDB_TYPE_ARRAY,
                                            .element_type = VDB_TYPE_INT64,
                                            .max_capacity = 8)), "a");
    check(vdb_schema_set_dynamic(s, 1), "dynamic");
    check(vdb_create_collection(db, s), "create all");
    vdb_schema_free(s);

    check(vdb_schema_new("keys", &s), "schema");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "k", .type = VDB_TYPE_VARCHAR,
                                            .max_length = 16, .is_primary = 1)), "k");
    check(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_FLOAT_VECTOR,
                                            .dim = 2)), "v");
    check(vdb_create_collection(db, s), "create keys");
    vdb_schema_free(s);

    static int64_t ids[ROWS];
    static float v[ROWS * DIM], w[ROWS * DIM], v2[ROWS * 2];
    static char tbuf[ROWS][16], jbuf[ROWS][48], abuf[ROWS][32], kbuf[ROWS][16];
    static const char *t[ROWS], *j[ROWS], *a[ROWS], *k[ROWS];
    static uint8_t tvalid[ROWS], b[ROWS];
    static int8_t i8[ROWS];
    static int32_t i32[ROWS];
    static double d[ROWS];
    uint32_t x = 7;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < ROWS; i++) {
            int r = pass * ROWS + i;
            ids[i] = r;
            for (int c = 0; c < DIM; c++) {
                v[i * DIM + c] = (float)((x = x * 1103515245u + 12345u) >> 16) / 65536.0f;
                w[i * DIM + c] = (float)((x = x * 1103515245u + 12345u) >> 16) / 65536.0f - 0.5f;
            }
            v2[i * 2] = (float)r;
            v2[i * 2 + 1] = (float)(r % 7);
            snprintf(tbuf[i], sizeof tbuf[i], "t%d\xc3\xa9", r);
            t[i] = tbuf[i];
            tvalid[i] = r % 5 != 0;
            snprintf(jbuf[i], sizeof jbuf[i], "{\"n\": %d, \"s\": \"x\\\"%d\", \"l\": [1, null]}",
                     r, r);
            j[i] = jbuf[i];
            snprintf(abuf[i], sizeof abuf[i], "[%d, -%d]", r, r);
            a[i] = abuf[i];
            snprintf(kbuf[i], sizeof kbuf[i], "key-%d", r);
            k[i] = kbuf[i];
            i8[i] = (int8_t)r;
            i32[i] = r * 1000;
            d[i] = r / 3.0;
            b[i] = r & 1;
        }
        vdb_batch *bt;
        check(vdb_batch_new(&bt), "batch");
        check(vdb_batch_add_column(bt, "id", VDB_TYPE_INT64, ids, NULL, ROWS, 0), "c id");
        check(vdb_batch_add_column(bt, "v", VDB_TYPE_FLOAT_VECTOR, v, NULL, ROWS, DIM), "c v");
        check(vdb_batch_add_column(bt, "w", VDB_TYPE_FLOAT_VECTOR, w, NULL, ROWS, DIM), "c w");
        check(vdb_batch_add_column(bt, "t", VDB_TYPE_VARCHAR, t, tvalid, ROWS, 0), "c t");
        check(vdb_batch_add_column(bt, "i8", VDB_TYPE_INT8, i8, NULL, ROWS, 0), "c i8");
        check(vdb_batch_add_column(bt, "i32", VDB_TYPE_INT32, i32, NULL, ROWS, 0), "c i32");
        check(vdb_batch_add_column(bt, "d", VDB_TYPE_DOUBLE, d, NULL, ROWS, 0), "c d");
        check(vdb_batch_add_column(bt, "b", VDB_TYPE_BOOL, b, NULL, ROWS, 0), "c b");
        check(vdb_batch_add_column(bt, "j", VDB_TYPE_JSON, j, NULL, ROWS, 0), "c j");
        check(vdb_batch_add_column(bt, "a", VDB_TYPE_ARRAY, a, NULL, ROWS, 0), "c a");
        check(vdb_batch_add_column(bt, "extra", VDB_TYPE_INT32, i32, NULL, ROWS, 0), "c extra");
        check(vdb_insert(db, "all", NULL, bt, NULL, NULL), "insert all");
        vdb_batch_free(bt);
        check(vdb_batch_new(&bt), "batch");
        check(vdb_batch_add_column(bt, "k", VDB_TYPE_VARCHAR, k, NULL, ROWS, 0), "c k");
        check(vdb_batch_add_column(bt, "v", VDB_TYPE_FLOAT_VECTOR, v2, NULL, ROWS, 2), "c v2");
        check(vdb_upsert(db, "keys", NULL, bt, NULL, NULL), "upsert keys");
        vdb_batch_free(bt);

        int64_t gone[3] = {pass * ROWS + 1, pass * ROWS + 2, pass * ROWS + 50};
        const char *sgone[2] = {k[3], k[4]};
        check(vdb_delete(db, "all", NULL, &(vdb_pk_list){.ints = gone, .count = 3}, NULL),
              "delete");
        check(vdb_delete(db, "keys", NULL, &(vdb_pk_list){.strs = sgone, .count = 2}, NULL),
              "delete keys");
        if (pass == 0) {
            check(vdb_flush(db, NULL), "flush");
            check(vdb_create_index(db, "all", "v", "HNSW", "M=8,efConstruction=32"), "hnsw");
            check(vdb_create_index(db, "all", "w", "IVF_FLAT", "nlist=4"), "ivf");
            check(vdb_wait_for_index(db, "all", "v", UINT64_MAX), "wait hnsw");
            check(vdb_wait_for_index(db, "all", "w", UINT64_MAX), "wait ivf");
            /* deletes of sealed rows: a delta file at the next flush */
            int64_t sealed[2] = {10, 11};
            const char *ssealed[1] = {"key-20"};
            check(vdb_delete(db, "all", NULL, &(vdb_pk_list){.ints = sealed, .count = 2}, NULL),
                  "delete sealed");
            check(vdb_delete(db, "keys", NULL, &(vdb_pk_list){.strs = ssealed, .count = 1},
                             NULL), "delete sealed keys");
            check(vdb_flush(db, NULL), "flush 2");
        }
    }
    /* the second pass stays in the log */
    vdb_close(db);
}

/* ---- harvesting ---- */

static void wal_records(const char *path, const void *file, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    const char *base = strrchr(path, '/');
    uint64_t first = 1;
    if (base && !wal_seg_parse_name(base + 1, &first))
        first = 1;
    wal_seg_reader r = {0};
    wal_seg_reader_reset(&r, fileno(f), path, len, first);
    for (int i = 0; i < 16; i++) {
        wal_frame_kind kind;
        uint64_t pos;
        const void *rec;
        size_t rlen;
        const char *why;
        if (wal_seg_next(&r, &kind, &pos, &rec, &rlen, &why) != VDB_OK || kind != WAL_FRAME_REC)
            break;
        emit("record", "wal", NULL, 0, rec, rlen);
    }
    wal_seg_reader_free(&r);
    fclose(f);
    (void)file;
}

/* The segment's vectors of column col, for an index seed. */
static void index_seed(const char *dir, const char *name, const void *file, size_t len)
{
    unsigned col;
    const char *us = strchr(name, '_');
    bool ivf = strncmp(name, "ivf_flat_", 9) == 0;
    if (ivf)
        us = name + 8;
    if (!us || sscanf(us + 1, "%u", &col) != 1)
        return;
    char path[4200];
    snprintf(path, sizeof path, "%s/col_%u", dir, col);
    size_t blen;
    void *bin = slurp(path, &blen);
    if (!bin)
        return;
    vdb_column c;
    if (vdb_binlog_decode(bin, blen, &c) != VDB_OK) {
        free(bin);
        return;
    }
    const char *params = ivf ? "nlist=4" : "M=8,efConstruction=32";
    size_t plen = strlen(params) + 1;
    size_t vbytes = c.rows * c.dim * sizeof(float);
    size_t hlen = 6 + plen + vbytes;
    uint8_t *h = malloc(hlen);
    h[0] = ivf ? 1 : 0;
    h[1] = 0;
    h[2] = ivf ? 1 : 0; /* the metric as fuzz_index reads it (1 + b % 3): IP for w, L2 for v */
    h[3] = (uint8_t)(c.dim - 1);
    h[4] = (uint8_t)(c.rows & 0xff);
    h[5] = (uint8_t)(c.rows >> 8);
    memcpy(h + 6, params, plen);
    memcpy(h + 6 + plen, c.data, vbytes);
    emit("index", ivf ? "ivf" : "hnsw", h, hlen, file, len);
    free(h);
    vdb_column_free(&c);
    free(bin);
}

static void walk(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            walk(path);
            continue;
        }
        size_t len;
        void *p = slurp(path, &len);
        if (!p)
            continue;
        const char *n = e->d_name;
        static const uint8_t zero = 0, two = 2;
        if (strstr(n, ".log") && len > 0) {
            /* renumbered from 1 (the target names the file ...01.log), checksums redone */
            emit("wal", "log", (const uint8_t[]){3}, 1, p, len);
            emit("wal", "log-whole", (const uint8_t[]){7}, 1, p, len);
            wal_records(path, p, len);
        } else if (!strncmp(n, "col_", 4) || !strcmp(n, "ts")) {
            emit("binlog", "binlog", &zero, 1, p, len);
            vdb_column c;
            if (vdb_binlog_decode(p, len, &c) == VDB_OK) {
                vdb_buf raw = {0};
                vdb_column_encode(&c, &raw);
                if (raw.len < 8192)
                    emit("binlog", "column", &two, 1, raw.p, raw.len);
                vdb_buf_free(&raw);
                vdb_column_free(&c);
            }
        } else if (!strcmp(n, "bloom")) {
            emit("bloom", "bloom", &zero, 1, p, len);
        } else if (!strncmp(n, "delta_", 6)) {
            emit("delta", "delta", &zero, 1, p, len);
        } else if (!strncmp(n, "hnsw_", 5) || !strncmp(n, "ivf_flat_", 9)) {
            index_seed(dir, n, p, len);
        }
        free(p);
    }
    closedir(d);
}

static int on_manifest(void *arg, const char *key, const void *val, size_t len)
{
    (void)arg;
    (void)key;
    static const uint8_t zero = 0;
    emit("manifest", "manifest", &zero, 1, val, len);
    return 0;
}

/* The files of a closed meta folder as one fuzz_meta input: chunks (file, u16 length, bytes)
 * with fuzz_meta's file numbers; once as they are, once with "fix the checksums" set. */
static void meta_seed(const char *dir)
{
    static const char *const kinds[] = {"meta-a.snap", "meta-b.snap", "-a.log", "-b.log",
                                        NULL, NULL, "meta.hwm"};
    uint8_t *in = NULL;
    size_t n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        exit(1);
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        int file = -1;
        for (int k = 0; k < 7; k++) {
            size_t kl = kinds[k] ? strlen(kinds[k]) : 0, el = strlen(e->d_name);
            if (kinds[k] && el >= kl && !strcmp(e->d_name + el - kl, kinds[k]))
                file = k;
        }
        if (file < 0)
            continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = 0;
        uint8_t *data = slurp(path, &len);
        for (size_t off = 0; off < len || (len == 0 && off == 0); off += 65535) {
            size_t part = len - off < 65535 ? len - off : 65535;
            in = realloc(in, n + 3 + part);
            if (!in)
                exit(1);
            in[n] = (uint8_t)file;
            in[n + 1] = (uint8_t)(part & 0xff);
            in[n + 2] = (uint8_t)(part >> 8);
            memcpy(in + n + 3, data + off, part);
            n += 3 + part;
            if (len == 0)
                break;
        }
        free(data);
    }
    closedir(d);
    for (uint8_t flags = 0; flags < 2; flags++)
        emit("meta", "meta", &flags, 1, in, n);
    free(in);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fuzz_seeds SCRATCH_FOLDER OUT_FOLDER\n");
        return 2;
    }
    out_root = argv[2];
    build(argv[1]);
    char path[4200];
    snprintf(path, sizeof path, "%s/wal", argv[1]);
    walk(path);
    snprintf(path, sizeof path, "%s/objects", argv[1]);
    walk(path);
    char uri[4200];
    snprintf(uri, sizeof uri, "local://%s/meta", argv[1]);
    vdb_meta_store m;
    check(vdb_meta_store_open(uri, NULL, &m), "meta open");
    check(m.be->scan(m.h, "seg/", on_manifest, NULL), "meta scan");
    m.be->close(m.h);
    snprintf(path, sizeof path, "%s/meta", argv[1]);
    meta_seed(path);
    printf("fuzz_seeds: %u seed files under %s\n", counter, out_root);
    return 0;
}

/* End-to-end tests of filters through the public API: filtered search returns the true top-k
 * of the rows that pass, query / count return exactly the passing rows, delete by expression
 * deletes exactly them at one timestamp, and scalar indexes change none of it. Every answer is
 * checked against a reference the test keeps itself: its own copy of every row (respecting
 * deletes and upserts) and each filter written a second time in C. */
#define _GNU_SOURCE
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vdb/vdb.h>

#include "test_api.h"

/* ---- helpers ---------------------------------------------------------------------------- */



#define COLL "fc"
#define DIM 16
#define MAXPK 6000

static vdb_db *open_db(const char *dir)
{
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0; /* keep segments as the test makes them */
    vdb_db *db = NULL;
    vdb_status st = vdb_open(dir, &o, &db);
    if (st != VDB_OK)
        fail_msg("vdb_open(%s) -> %s: %s", dir, vdb_status_name(st), vdb_errmsg(NULL));
    return db;
}

static void add(vdb_schema *s, vdb_field_def d) { OK(vdb_schema_add_field(s, &d)); }

/* ---- the test's own copy of the collection ------------------------------------------------ */

static const char *const COLORS[] = {"red", "green", "blue"};
static const char *const PREFIXES[] = {"ab", "abc", "abd", "abx", "a", "b", "ba", "bab", "xy",
                                       "zz"};
static const char *const TAGS[] = {"t0", "t1", "t2", "t3", "t4"};
static const char *const SWORDS[] = {"red", "x", "yy", "zzz"};

typedef struct row {
    bool alive;
    int part; /* 0 "_default", 1 "p1" */
    int32_t r;
    int64_t g;
    float f;
    double d;
    uint8_t b;
    char s[24];
    bool n_null;
    int32_t n;
    bool has_a;
    int64_t a;
    int ntags, tags[3];
    int xk;   /* sub.x = xk / 100 */
    double x; /* sub.x as the library parses it */
    int narr;
    int64_t arr[6];
    int nsarr, sarr[3];
    int color; /* index into COLORS, or -1: no "color" key */
    float v[DIM];
} row;

typedef struct refstate {
    row rows[MAXPK];
} refstate;

static void gen_row(row *w, uint64_t *seed, int part)
{
    memset(w, 0, sizeof *w);
    w->alive = true;
    w->part = part;
    w->r = (int32_t)(test_rand(seed) % 10000);
    w->g = (int64_t)(test_rand(seed) % 10);
    uint64_t fr = test_rand(seed) % 50;
    w->f = fr == 0 ? 0.1f : fr == 1 ? 0.5f : (test_randf(seed) + 1.0f) / 2.0f;
    w->d = (double)(test_rand(seed) >> 11) / (double)(1ULL << 53);
    w->b = test_rand(seed) % 3 == 0;
    int len = snprintf(w->s, sizeof w->s, "%s", PREFIXES[test_rand(seed) % 10]);
    int extra = (int)(test_rand(seed) % 5);
    for (int i = 0; i < extra; i++)
        w->s[len++] = "abcxyz"[test_rand(seed) % 6];
    w->s[len] = 0;
    w->n_null = test_rand(seed) % 5 == 0;
    w->n = w->n_null ? 0 : (int32_t)(test_rand(seed) % 100);
    w->has_a = test_rand(seed) % 10 != 0;
    w->a = (int64_t)(test_rand(seed) % 11);
    w->ntags = (int)(test_rand(seed) % 4);
    for (int i = 0; i < w->ntags; i++)
        w->tags[i] = (int)(test_rand(seed) % 5);
    w->xk = (int)(test_rand(seed) % 100);
    char tmp[16];
    snprintf(tmp, sizeof tmp, "%d.%02d", w->xk / 100, w->xk % 100);
    w->x = strtod(tmp, NULL);
    w->narr = (int)(test_rand(seed) % 6);
    for (int i = 0; i < w->narr; i++)
        w->arr[i] = (int64_t)(test_rand(seed) % 10);
    w->nsarr = (int)(test_rand(seed) % 4);
    for (int i = 0; i < w->nsarr; i++)
        w->sarr[i] = (int)(test_rand(seed) % 4);
    int c = (int)(test_rand(seed) % 4);
    w->color = c == 3 ? -1 : c;
    for (int i = 0; i < DIM; i++)
        w->v[i] = test_randf(seed);
}

static void meta_text(const row *w, char *buf, size_t n)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, n - o, "{");
    if (w->has_a)
        o += (size_t)snprintf(buf + o, n - o, "\"a\": %lld, ", (long long)w->a);
    o += (size_t)snprintf(buf + o, n - o, "\"tags\": [");
    for (int i = 0; i < w->ntags; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s\"%s\"", i ? ", " : "", TAGS[w->tags[i]]);
    snprintf(buf + o, n - o, "], \"sub\": {\"x\": %d.%02d}}", w->xk / 100, w->xk % 100);
}

static void arr_text(const row *w, char *buf, size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < w->narr; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? "," : "", (long long)w->arr[i]);
    snprintf(buf + o, n - o, "]");
}

static void sarr_text(const row *w, char *buf, size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < w->nsarr; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s\"%s\"", i ? "," : "", SWORDS[w->sarr[i]]);
    snprintf(buf + o, n - o, "]");
}

static void dyn_text(const row *w, char *buf, size_t n)
{
    if (w->color < 0)
        snprintf(buf, n, "{\"other\": 1}");
    else
        snprintf(buf, n, "{\"color\": \"%s\"}", COLORS[w->color]);
}

/* A partition by number: -1 none named (every partition), 0 "_default", 1 "p1". */
static const char *part_name(int part) { return part < 0 ? NULL : part ? "p1" : "_default"; }

/* Writes fresh random rows for pks into the collection (insert or upsert) and into st. */
static uint64_t write_rows(vdb_db *db, refstate *st, const int64_t *pks, size_t n, int part,
                           bool upsert, uint64_t *seed)
{
    int32_t *r = calloc(n, 4), *nv = calloc(n, 4);
    int64_t *g = calloc(n, 8);
    float *f = calloc(n, 4), *v = calloc(n * DIM, 4);
    double *d = calloc(n, 8);
    uint8_t *b = calloc(n, 1), *nvalid = calloc(n, 1);
    const char **s = calloc(n, sizeof *s), **meta = calloc(n, sizeof *meta),
               **arr = calloc(n, sizeof *arr), **sarr = calloc(n, sizeof *sarr),
               **dyn = calloc(n, sizeof *dyn);
    char *text = calloc(n, 4 * 256);
    assert_non_null(text);
    for (size_t i = 0; i < n; i++) {
        assert_true(pks[i] >= 0 && pks[i] < MAXPK);
        row *w = &st->rows[pks[i]];
        gen_row(w, seed, part);
        r[i] = w->r;
        g[i] = w->g;
        f[i] = w->f;
        d[i] = w->d;
        b[i] = w->b;
        s[i] = w->s;
        nv[i] = w->n;
        nvalid[i] = !w->n_null;
        char *t = text + i * 1024;
        meta_text(w, t, 256);
        arr_text(w, t + 256, 256);
        sarr_text(w, t + 512, 256);
        dyn_text(w, t + 768, 256);
        meta[i] = t;
        arr[i] = t + 256;
        sarr[i] = t + 512;
        dyn[i] = t + 768;
        memcpy(v + i * DIM, w->v, sizeof w->v);
    }
    vdb_batch *bt;
    OK(vdb_batch_new(&bt));
    OK(vdb_batch_add_column(bt, "id", VDB_TYPE_INT64, pks, NULL, n, 0));
    OK(vdb_batch_add_column(bt, "r", VDB_TYPE_INT32, r, NULL, n, 0));
    OK(vdb_batch_add_column(bt, "g", VDB_TYPE_INT64, g, NULL, n, 0));
    OK(vdb_batch_add_column(bt, "f", VDB_TYPE_FLOAT, f, NULL, n, 0));
    OK(vdb_batch_add_column(bt, "d", VDB_TYPE_DOUBLE, d, NULL, n, 0));
    OK(vdb_batch_add_column(bt, "b", VDB_TYPE_BOOL, b, NULL, n, 0));
    OK(vdb_batch_add_column(bt, "s", VDB_TYPE_VARCHAR, s, NULL, n, 0));
    OK(vdb_batch_add_column(bt, "n", VDB_TYPE_INT32, nv, nvalid, n, 0));
    OK(vdb_batch_add_column(bt, "meta", VDB_TYPE_JSON, meta, NULL, n, 0));
    OK(vdb_batch_add_column(bt, "arr", VDB_TYPE_ARRAY, arr, NULL, n, 0));
    OK(vdb_batch_add_column(bt, "sarr", VDB_TYPE_ARRAY, sarr, NULL, n, 0));
    OK(vdb_batch_add_column(bt, "$meta", VDB_TYPE_JSON, dyn, NULL, n, 0));
    OK(vdb_batch_add_column(bt, "v", VDB_TYPE_FLOAT_VECTOR, v, NULL, n, DIM));
    uint64_t ts = 0;
    if (upsert)
        OK(vdb_upsert(db, COLL, part_name(part), bt, &ts, NULL));
    else
        OK(vdb_insert(db, COLL, part_name(part), bt, &ts, NULL));
    assert_true(ts > 0);
    vdb_batch_free(bt);
    free(r), free(nv), free(g), free(f), free(v), free(d), free(b), free(nvalid);
    free(s), free(meta), free(arr), free(sarr), free(dyn), free(text);
    return ts;
}

static uint64_t write_range(vdb_db *db, refstate *st, int64_t lo, int64_t hi, int part,
                            bool upsert, uint64_t *seed)
{
    size_t n = (size_t)(hi - lo);
    int64_t *pks = malloc(n * sizeof *pks);
    for (size_t i = 0; i < n; i++)
        pks[i] = lo + (int64_t)i;
    uint64_t ts = write_rows(db, st, pks, n, part, upsert, seed);
    free(pks);
    return ts;
}

static uint64_t delete_pks(vdb_db *db, refstate *st, const int64_t *pks, size_t n)
{
    uint64_t ts = 0;
    OK(vdb_delete(db, COLL, NULL, &(vdb_pk_list){.ints = pks, .count = n}, &ts));
    for (size_t i = 0; i < n; i++)
        st->rows[pks[i]].alive = false;
    return ts;
}

static void create_collection(vdb_db *db)
{
    vdb_schema *s;
    OK(vdb_schema_new(COLL, &s));
    add(s, *VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1));
    add(s, *VDB_FIELD(.name = "r", .type = VDB_TYPE_INT32));
    add(s, *VDB_FIELD(.name = "g", .type = VDB_TYPE_INT64));
    add(s, *VDB_FIELD(.name = "f", .type = VDB_TYPE_FLOAT));
    add(s, *VDB_FIELD(.name = "d", .type = VDB_TYPE_DOUBLE));
    add(s, *VDB_FIELD(.name = "b", .type = VDB_TYPE_BOOL));
    add(s, *VDB_FIELD(.name = "s", .type = VDB_TYPE_VARCHAR, .max_length = 32));
    add(s, *VDB_FIELD(.name = "n", .type = VDB_TYPE_INT32, .nullable = 1));
    add(s, *VDB_FIELD(.name = "meta", .type = VDB_TYPE_JSON));
    add(s, *VDB_FIELD(.name = "arr", .type = VDB_TYPE_ARRAY,
                      .element_type = VDB_TYPE_INT64, .max_capacity = 8));
    add(s, *VDB_FIELD(.name = "sarr", .type = VDB_TYPE_ARRAY,
                      .element_type = VDB_TYPE_VARCHAR, .max_length = 8,
                      .max_capacity = 4));
    add(s, *VDB_FIELD(.name = "v", .type = VDB_TYPE_FLOAT_VECTOR, .dim = DIM,
                      .metric = VDB_METRIC_L2));
    OK(vdb_schema_set_dynamic(s, 1));
    OK(vdb_schema_set_shards(s, 2));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
    OK(vdb_create_partition(db, COLL, "p1"));
}

typedef struct fixture {
    char *dir;
    vdb_db *db;
    refstate *st;
    refstate *snap;      /* the rows as of snap_ts (before the deletes and upserts) */
    uint64_t snap_ts;
    uint64_t seed;
} fixture;

/* 5,000 rows in four batches over two partitions, a flush after the second (sealed and
 * growing segments), deletes and upserts that touch both kinds of segments. */
static void build(fixture *fx, const char *name)
{
    memset(fx, 0, sizeof *fx);
    fx->dir = test_tmpdir(name);
    assert_non_null(fx->dir);
    fx->db = open_db(fx->dir);
    fx->st = calloc(1, sizeof *fx->st);
    fx->snap = calloc(1, sizeof *fx->snap);
    assert_non_null(fx->st);
    assert_non_null(fx->snap);
    fx->seed = 0x5eed1234abcdULL;
    create_collection(fx->db);
    write_range(fx->db, fx->st, 0, 1500, 0, false, &fx->seed);
    write_range(fx->db, fx->st, 1500, 2500, 1, false, &fx->seed);
    OK(vdb_flush(fx->db, COLL));
    fx->snap_ts = write_range(fx->db, fx->st, 2500, 4000, 0, false, &fx->seed);
    memcpy(fx->snap, fx->st, sizeof *fx->st);
    int64_t del[200];
    size_t nd = 0;
    for (int64_t pk = 0; pk < 4000; pk += 37)
        del[nd++] = pk;
    delete_pks(fx->db, fx->st, del, nd);
    write_range(fx->db, fx->st, 100, 200, 0, true, &fx->seed);   /* sealed rows, some deleted */
    write_range(fx->db, fx->st, 3000, 3050, 0, true, &fx->seed); /* growing rows */
    write_range(fx->db, fx->st, 1600, 1620, 1, true, &fx->seed); /* sealed, in p1 */
    write_range(fx->db, fx->st, 4000, 5000, 1, false, &fx->seed);
    vdb_stats stt = {.struct_size = sizeof stt};
    OK(vdb_collection_stats(fx->db, COLL, &stt));
    assert_true(stt.sealed_segments > 0);
    assert_true(stt.growing_segments > 0);
}

static void teardown_fx(fixture *fx)
{
    if (fx->db)
        vdb_close(fx->db);
    test_rmdir(fx->dir);
    free(fx->dir);
    free(fx->st);
    free(fx->snap);
}

static void reopen(fixture *fx)
{
    vdb_close(fx->db);
    fx->db = open_db(fx->dir);
}

static size_t alive_count(const refstate *st)
{
    size_t n = 0;
    for (int pk = 0; pk < MAXPK; pk++)
        n += st->rows[pk].alive;
    return n;
}

/* ---- the filters, each also written in C -------------------------------------------------- */

static bool has_arr(const row *w, int64_t v)
{
    for (int i = 0; i < w->narr; i++)
        if (w->arr[i] == v)
            return true;
    return false;
}
static bool has_sarr(const row *w, int v)
{
    for (int i = 0; i < w->nsarr; i++)
        if (w->sarr[i] == v)
            return true;
    return false;
}
static bool has_tag(const row *w, int t)
{
    for (int i = 0; i < w->ntags; i++)
        if (w->tags[i] == t)
            return true;
    return false;
}
static bool prefix(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

typedef bool (*pred_fn)(const row *w);
#define PRED(name, cond)                                                                      \
    static bool name(const row *w) { return (cond); }

PRED(p_all, w->r < 10000)
PRED(p_half, w->r < 5000)
PRED(p_tenth, w->r < 1000)
PRED(p_pct, w->r < 100)
PRED(p_permille, w->r < 10)
PRED(p_gin_f, (w->g == 1 || w->g == 3) && (double)w->f > 0.5)
PRED(p_like_or_b, prefix(w->s, "ab") || w->b)
PRED(p_not_r, !(w->r >= 100))
PRED(p_meta_a, w->has_a && w->a > 5)
PRED(p_arr7, has_arr(w, 7))
PRED(p_n_null, w->n_null)
PRED(p_red, w->color == 0)
PRED(p_f_le, (double)w->f <= 0.1)
PRED(p_f_eq, (double)w->f == 0.5)
PRED(p_r_le_half, w->r <= 99)
PRED(p_g_ne, w->g != 4)
PRED(p_not_gin, !(w->g == 1 || w->g == 3))
PRED(p_s_in, !strcmp(w->s, "ab") || !strcmp(w->s, "ba") || !strcmp(w->s, "abc"))
PRED(p_like, prefix(w->s, "ab"))
PRED(p_like_suffix, strlen(w->s) >= 1 && w->s[strlen(w->s) - 1] == 'x')
PRED(p_s_gt, strcmp(w->s, "b") > 0)
PRED(p_s_eq, !strcmp(w->s, "bab"))
PRED(p_n_ne, !w->n_null && w->n != 7)
PRED(p_not_n, !w->n_null && !(w->n < 50))
PRED(p_n_notnull_lt, !w->n_null && w->n < 10)
PRED(p_b_false, !w->b)
PRED(p_sarr_red, has_sarr(w, 0))
PRED(p_tag1, has_tag(w, 1))
PRED(p_subx, w->x < 0.3)
PRED(p_exists_a, w->has_a)
PRED(p_range_gin, 100 <= w->r && w->r < 2000 && (w->g == 2 || w->g == 5 || w->g == 7))
PRED(p_arr_empty, w->narr == 0)
PRED(p_mod, w->r % 7 == 0)
PRED(p_color_in, w->color == 1 || w->color == 2)
PRED(p_none, w->r < 0)
PRED(p_few, w->r < 10 && w->b)
PRED(p_like_one, strlen(w->s) == 3 && prefix(w->s, "ab"))
PRED(p_like_infix, w->s[0] == 'a' && strlen(w->s) >= 2 && w->s[strlen(w->s) - 1] == 'c')
PRED(p_like_exact, !strcmp(w->s, "ab"))
PRED(p_like_any, true)
PRED(p_s_ne, strcmp(w->s, "bab") != 0)
PRED(p_s_range, strcmp(w->s, "ab") >= 0 && strcmp(w->s, "abd") < 0)
PRED(p_g_in_float, w->g == 1)
PRED(p_f_in, (double)w->f == 0.5 || (double)w->f == 0.1)
PRED(p_r_float_range, w->r <= 20)
PRED(p_d_range, w->d > 0.5 && w->d <= 0.75)
PRED(p_b_ne, !w->b)
PRED(p_b_in, w->b)
PRED(p_n_in, !w->n_null && w->n >= 1 && w->n <= 3)
PRED(p_not_n_in, !w->n_null && !(w->n >= 1 && w->n <= 3))
PRED(p_n_or_null, w->n_null || w->n >= 95)
PRED(p_not_s_in, strcmp(w->s, "ab") != 0 && strcmp(w->s, "ba") != 0)
PRED(p_a_in, w->has_a && (w->a == 1 || w->a == 2))
PRED(p_arr_any, has_arr(w, 1) || has_arr(w, 2))
PRED(p_arr_all, has_arr(w, 1) && has_arr(w, 2))
PRED(p_arr0, w->narr > 0 && w->arr[0] == 3)
PRED(p_tag0, w->ntags > 0 && w->tags[0] == 2)
PRED(p_arith, w->g * 2 + 1 == 7)
PRED(p_neg, -w->r > -50)
PRED(p_mixed, (w->r >= 9000 || w->g == 0) && !(prefix(w->s, "b")) && w->d < 0.5)

static const struct {
    const char *expr;
    pred_fn pred;
} FILTERS[] = {
    {"r < 10000", p_all}, /* selectivity 100% */
    {"r < 5000", p_half}, /* 50% */
    {"r < 1000", p_tenth}, /* 10% */
    {"r < 100", p_pct}, /* 1% */
    {"r < 10", p_permille}, /* 0.1%: fewer rows than k */
    {"g in [1,3] and f > 0.5", p_gin_f},
    {"s like \"ab%\" or b == true", p_like_or_b},
    {"not (r >= 100)", p_not_r},
    {"meta[\"a\"] > 5", p_meta_a},
    {"array_contains(arr, 7)", p_arr7},
    {"n is null", p_n_null},
    {"color == \"red\"", p_red},
    {"f <= 0.1", p_f_le}, /* rows hold 0.1f, which is above the double 0.1 */
    {"f == 0.5", p_f_eq},
    {"r <= 99.5", p_r_le_half},
    {"g != 4", p_g_ne},
    {"not (g in [1, 3])", p_not_gin},
    {"s in [\"ab\", \"ba\", \"abc\"]", p_s_in},
    {"s like \"ab%\"", p_like},
    {"s like \"%x\"", p_like_suffix},
    {"s > \"b\"", p_s_gt},
    {"s == \"bab\"", p_s_eq},
    {"n != 7", p_n_ne},
    {"not (n < 50)", p_not_n},
    {"n is not null && n < 10", p_n_notnull_lt},
    {"b == false", p_b_false},
    {"array_contains(sarr, \"red\")", p_sarr_red},
    {"json_contains(meta[\"tags\"], \"t1\")", p_tag1},
    {"meta[\"sub\"][\"x\"] < 0.3", p_subx},
    {"exists meta[\"a\"]", p_exists_a},
    {"100 <= r < 2000 and g in [2, 5, 7]", p_range_gin},
    {"array_length(arr) == 0", p_arr_empty},
    {"r % 7 == 0", p_mod},
    {"color in [\"green\", \"blue\"]", p_color_in},
    {"r < 0", p_none},
    {"s like \"ab_\"", p_like_one},
    {"s like \"a%c\"", p_like_infix},
    {"s like \"ab\"", p_like_exact},
    {"s like \"%\"", p_like_any},
    {"s != \"bab\"", p_s_ne},
    {"s >= \"ab\" and s < \"abd\"", p_s_range},
    {"g in [1.0, 3.5]", p_g_in_float},
    {"f in [0.5, 0.1]", p_f_in},
    {"r > -1.5 and r < 20.5", p_r_float_range},
    {"d > 0.5 and d <= 0.75", p_d_range},
    {"b != true", p_b_ne},
    {"b in [true]", p_b_in},
    {"n in [1, 2, 3]", p_n_in},
    {"not (n in [1, 2, 3])", p_not_n_in},
    {"n >= 95 or n is null", p_n_or_null},
    {"s not in [\"ab\", \"ba\"]", p_not_s_in},
    {"meta[\"a\"] in [1, 2]", p_a_in},
    {"array_contains_any(arr, [1, 2])", p_arr_any},
    {"array_contains_all(arr, [1, 2])", p_arr_all},
    {"arr[0] == 3", p_arr0},
    {"meta[\"tags\"][0] == \"t2\"", p_tag0},
    {"g * 2 + 1 == 7", p_arith},
    {"-r > -50", p_neg},
    {"r < 10 and b == true", p_few}, /* fewer rows than k = 10 */
    {"(r >= 9000 || g == 0) and not (s like \"b%\") and d < 0.5", p_mixed},
};
#define NFILTERS (sizeof FILTERS / sizeof FILTERS[0])

/* The live pks passing filter fi, ascending. */
static size_t ref_rows(const refstate *st, size_t fi, int part, int64_t *out)
{
    size_t n = 0;
    for (int pk = 0; pk < MAXPK; pk++) {
        const row *w = &st->rows[pk];
        if (w->alive && (part < 0 || w->part == part) && FILTERS[fi].pred(w))
            out[n++] = pk;
    }
    return n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ---- a record of answers, to show runs with and without indexes are identical ------------ */

typedef struct record {
    int64_t *v;
    size_t n, cap;
} record;

static void rec_push(record *r, int64_t x)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 4096;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
        assert_non_null(r->v);
    }
    r->v[r->n++] = x;
}

static void rec_compare(const record *a, const record *b, const char *what)
{
    if (a->n != b->n)
        fail_msg("%s: %zu recorded values, expected %zu", what, b->n, a->n);
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i] != b->v[i])
            fail_msg("%s: answers differ at value %zu: %lld vs %lld", what, i,
                     (long long)a->v[i], (long long)b->v[i]);
}

/* ---- checks ------------------------------------------------------------------------------- */

static int64_t value_i64(const vdb_result *res, size_t i, const char *field, bool *is_null)
{
    vdb_value v;
    OK(vdb_result_field(res, 0, i, field, &v));
    *is_null = v.is_null;
    return v.u.i64;
}

static bool value_is_str(const vdb_value *v, const char *want)
{
    return !v->is_null && v->u.str.len == strlen(want) &&
           memcmp(v->u.str.ptr, want, v->u.str.len) == 0;
}

/* Output fields r, g, s, n and color of one query row hold the reference row's values. */
static void check_row_fields(const vdb_result *res, size_t i, const row *w, const char *expr)
{
    int64_t pk = vdb_result_pk_int(res, 0, i);
    bool null;
    if (value_i64(res, i, "r", &null) != w->r || null)
        fail_msg("filter '%s': pk %lld: field r is wrong", expr, (long long)pk);
    if (value_i64(res, i, "g", &null) != w->g || null)
        fail_msg("filter '%s': pk %lld: field g is wrong", expr, (long long)pk);
    int64_t n = value_i64(res, i, "n", &null);
    if (null != w->n_null || (!null && n != w->n))
        fail_msg("filter '%s': pk %lld: field n is %s%lld, expected %s%d", expr, (long long)pk,
                 null ? "NULL " : "", (long long)n, w->n_null ? "NULL " : "", w->n);
    vdb_value v;
    OK(vdb_result_field(res, 0, i, "s", &v));
    if (!value_is_str(&v, w->s))
        fail_msg("filter '%s': pk %lld: field s is '%.*s', expected '%s'", expr, (long long)pk,
                 (int)v.u.str.len, v.u.str.ptr, w->s);
    OK(vdb_result_field(res, 0, i, "color", &v));
    char want[32];
    if (w->color >= 0)
        snprintf(want, sizeof want, "\"%s\"", COLORS[w->color]);
    if (w->color < 0 ? !v.is_null : !value_is_str(&v, want))
        fail_msg("filter '%s': pk %lld: dynamic field color is wrong", expr, (long long)pk);
}

/* vdb_query with filter fi, no limit: exactly the reference rows; returns their pks sorted. */
static size_t check_query(vdb_db *db, const refstate *st, size_t fi, const vdb_read_opts *base,
                          int64_t *got, const int64_t *want, size_t nwant)
{
    const char *const outs[] = {"r", "g", "s", "n", "color"};
    vdb_read_opts ro = base ? *base : *VDB_READ_OPTS(0);
    ro.output_fields = outs;
    ro.n_output_fields = 5;
    vdb_result *res;
    OK(vdb_query(db, COLL, FILTERS[fi].expr, &ro, 0, 0, &res));
    assert_int_equal(vdb_result_groups(res), 1);
    size_t n = vdb_result_rows(res, 0);
    if (n != nwant)
        fail_msg("query '%s' returned %zu rows, expected %zu", FILTERS[fi].expr, n, nwant);
    for (size_t i = 0; i < n; i++) {
        got[i] = vdb_result_pk_int(res, 0, i);
        assert_true(got[i] >= 0 && got[i] < MAXPK);
        check_row_fields(res, i, &st->rows[got[i]], FILTERS[fi].expr);
    }
    vdb_result_free(res);
    qsort(got, n, sizeof *got, cmp_i64);
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("query '%s': row %zu is pk %lld, expected pk %lld (sorted)",
                     FILTERS[fi].expr, i, (long long)got[i], (long long)want[i]);
    return n;
}

/* Pages of 97 rows: their union is the full result, with no duplicates. */
static void check_pages(vdb_db *db, size_t fi, int64_t *got, const int64_t *want, size_t nwant)
{
    const uint64_t page = 97;
    size_t total = 0;
    for (uint64_t off = 0;; off += page) {
        vdb_result *res;
        OK(vdb_query(db, COLL, FILTERS[fi].expr, NULL, page, off, &res));
        size_t n = vdb_result_rows(res, 0);
        size_t expect = nwant > off ? (size_t)(nwant - off < page ? nwant - off : page) : 0;
        if (n != expect)
            fail_msg("query '%s' limit %llu offset %llu: %zu rows, expected %zu",
                     FILTERS[fi].expr, (unsigned long long)page, (unsigned long long)off, n,
                     expect);
        for (size_t i = 0; i < n; i++)
            got[total++] = vdb_result_pk_int(res, 0, i);
        vdb_result_free(res);
        if (n < page)
            break;
    }
    qsort(got, total, sizeof *got, cmp_i64);
    for (size_t i = 0; i < total; i++) {
        if (i && got[i] == got[i - 1])
            fail_msg("query '%s': pk %lld appears on two pages", FILTERS[fi].expr,
                     (long long)got[i]);
        if (got[i] != want[i])
            fail_msg("query '%s': the pages hold pk %lld where the full result has %lld",
                     FILTERS[fi].expr, (long long)got[i], (long long)want[i]);
    }
    assert_int_equal(total, nwant);
}

static void check_count(vdb_db *db, size_t fi, const vdb_read_opts *ro, size_t nwant)
{
    uint64_t c = 0;
    OK(vdb_count(db, COLL, FILTERS[fi].expr, ro, &c));
    if (c != nwant)
        fail_msg("count '%s' = %llu, expected %zu", FILTERS[fi].expr, (unsigned long long)c,
                 nwant);
    const char *const cs[] = {"count(*)"};
    vdb_read_opts r2 = ro ? *ro : *VDB_READ_OPTS(0);
    r2.output_fields = cs;
    r2.n_output_fields = 1;
    vdb_result *res;
    OK(vdb_query(db, COLL, FILTERS[fi].expr, &r2, 0, 0, &res));
    assert_int_equal(vdb_result_rows(res, 0), 1);
    bool null;
    int64_t v = value_i64(res, 0, "count(*)", &null);
    assert_false(null);
    if ((uint64_t)v != nwant)
        fail_msg("query '%s' count(*) = %lld, expected %zu", FILTERS[fi].expr, (long long)v,
                 nwant);
    vdb_result_free(res);
}

/* Query vectors of the battery. */
#define NQ 3
static float QV[NQ * DIM];

static void init_queries(void)
{
    uint64_t seed = 0xfeedULL;
    for (size_t i = 0; i < NQ * DIM; i++)
        QV[i] = test_randf(&seed);
}

static double l2(const float *a, const float *b)
{
    double s = 0;
    for (int i = 0; i < DIM; i++) {
        double t = (double)a[i] - (double)b[i];
        s += t * t;
    }
    return s;
}

typedef struct cand {
    double dist;
    int64_t pk;
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->dist != y->dist)
        return x->dist < y->dist ? -1 : 1;
    return (x->pk > y->pk) - (x->pk < y->pk);
}

static bool close_enough(double a, double b) { return fabs(a - b) <= 1e-4 * (1.0 + fabs(b)); }

/* Filtered search: for each query the true top-k of the passing rows (ids up to ties, and
 * distances), exactly the passing rows when fewer than k pass. */
static void check_search(vdb_db *db, const refstate *st, size_t fi, uint32_t k,
                         const vdb_read_opts *base, const int64_t *pass, size_t npass,
                         cand *buf, record *rec)
{
    vdb_search_req req = {.struct_size = sizeof req, .collection = COLL, .vectors = QV,
                          .nq = NQ, .dim = DIM, .k = k, .filter = FILTERS[fi].expr};
    if (base)
        req.read = *base;
    const char *const outs[] = {"r"};
    req.read.output_fields = outs;
    req.read.n_output_fields = 1;
    vdb_result *res;
    OK(vdb_search(db, &req, &res));
    assert_int_equal(vdb_result_groups(res), NQ);
    const char *e = FILTERS[fi].expr;
    for (size_t q = 0; q < NQ; q++) {
        for (size_t i = 0; i < npass; i++)
            buf[i] = (cand){l2(QV + q * DIM, st->rows[pass[i]].v), pass[i]};
        qsort(buf, npass, sizeof *buf, cmp_cand);
        size_t want = npass < k ? npass : k;
        size_t n = vdb_result_rows(res, q);
        if (n != want)
            fail_msg("search '%s' k=%u query %zu: %zu rows, expected %zu (of %zu passing)", e,
                     k, q, n, want, npass);
        for (size_t i = 0; i < n; i++) {
            int64_t pk = vdb_result_pk_int(res, q, i);
            float dist = vdb_result_distance(res, q, i);
            rec_push(rec, pk);
            uint32_t bits;
            memcpy(&bits, &dist, 4);
            rec_push(rec, bits);
            if (pk < 0 || pk >= MAXPK || !st->rows[pk].alive || !FILTERS[fi].pred(&st->rows[pk]))
                fail_msg("search '%s' k=%u query %zu: rank %zu is pk %lld, which does not pass "
                         "or is not live", e, k, q, i, (long long)pk);
            for (size_t j = 0; j < i; j++)
                if (vdb_result_pk_int(res, q, j) == pk)
                    fail_msg("search '%s': pk %lld returned twice", e, (long long)pk);
            vdb_value v;
            OK(vdb_result_field(res, q, i, "r", &v));
            if (v.is_null || v.u.i64 != st->rows[pk].r)
                fail_msg("search '%s': output field r of pk %lld is wrong", e, (long long)pk);
            double truth = l2(QV + q * DIM, st->rows[pk].v);
            if (!close_enough(dist, truth))
                fail_msg("search '%s': pk %lld has distance %.7g, its true distance is %.7g", e,
                         (long long)pk, (double)dist, truth);
            if (!close_enough(dist, buf[i].dist))
                fail_msg("search '%s' k=%u query %zu: rank %zu has distance %.7g (pk %lld), the "
                         "true rank %zu has %.7g (pk %lld)", e, k, q, i, (double)dist,
                         (long long)pk, i, buf[i].dist, (long long)buf[i].pk);
            if (pk != buf[i].pk) { /* only a tie may swap ids */
                size_t j = 0;
                while (j < npass && buf[j].pk != pk)
                    j++;
                if (j == npass || !close_enough(buf[j].dist, buf[i].dist))
                    fail_msg("search '%s' k=%u query %zu: rank %zu is pk %lld, expected pk %lld",
                             e, k, q, i, (long long)pk, (long long)buf[i].pk);
            }
        }
    }
    vdb_result_free(res);
}

/* Every filter through count, count(*), query, pages and search (k 10 and 100) against the
 * reference; the answers are recorded into rec. */
static void battery(vdb_db *db, const refstate *st, record *rec, bool pages)
{
    int64_t *want = malloc(MAXPK * sizeof *want), *got = malloc(MAXPK * sizeof *got);
    cand *buf = malloc(MAXPK * sizeof *buf);
    for (size_t fi = 0; fi < NFILTERS; fi++) {
        size_t n = ref_rows(st, fi, -1, want);
        check_count(db, fi, NULL, n);
        rec_push(rec, (int64_t)n);
        check_query(db, st, fi, NULL, got, want, n);
        for (size_t i = 0; i < n; i++)
            rec_push(rec, got[i]);
        if (pages)
            check_pages(db, fi, got, want, n);
        check_search(db, st, fi, 10, NULL, want, n, buf, rec);
        check_search(db, st, fi, 100, NULL, want, n, buf, rec);
    }
    free(want);
    free(got);
    free(buf);
}

static void sanity_of_selectivities(const refstate *st)
{
    /* the reference data covers what the tests mean to cover */
    int64_t *tmp = malloc(MAXPK * sizeof *tmp);
    size_t all = alive_count(st);
    size_t n100 = ref_rows(st, 0, -1, tmp), n50 = ref_rows(st, 1, -1, tmp),
           n10 = ref_rows(st, 2, -1, tmp), n1 = ref_rows(st, 3, -1, tmp),
           n01 = ref_rows(st, 4, -1, tmp);
    assert_int_equal(n100, all);
    assert_true(n50 > all * 4 / 10 && n50 < all * 6 / 10);
    assert_true(n10 > all / 20 && n10 < all / 5);
    assert_true(n1 > all / 200 && n1 < all / 50);
    if (!(n01 >= 1 && n01 < 30))
        fail_msg("r < 10 passes %zu rows", n01);
    assert_true(n1 < 100); /* fewer than k = 100: search must return exactly these */
    for (size_t fi = 5; fi < NFILTERS; fi++) {
        size_t n = ref_rows(st, fi, -1, tmp);
        if (FILTERS[fi].pred != p_none && FILTERS[fi].pred != p_like_any && (n == 0 || n == all))
            fail_msg("filter '%s' passes %zu of %zu rows: not a useful case", FILTERS[fi].expr,
                     n, all);
    }
    assert_int_equal(ref_rows(st, 13, -1, tmp) > 0, 1); /* f == 0.5 rows exist */
    assert_int_equal(FILTERS[NFILTERS - 2].pred == p_few, 1);
    size_t nfew = ref_rows(st, NFILTERS - 2, -1, tmp);
    if (nfew < 1 || nfew >= 10)
        fail_msg("'r < 10 and b == true' passes %zu rows, want 1..9", nfew);
    free(tmp);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void create_all_indexes(vdb_db *db)
{
    OK(vdb_create_index(db, COLL, "r", "STL_SORT", NULL));
    OK(vdb_create_index(db, COLL, "g", "INVERTED", NULL));
    OK(vdb_create_index(db, COLL, "s", "TRIE", NULL));
    OK(vdb_create_index(db, COLL, "f", "AUTOINDEX", NULL));
    OK(vdb_create_index(db, COLL, "n", "INVERTED", ""));
    OK(vdb_create_index(db, COLL, "b", "AUTOINDEX", NULL));
    OK(vdb_create_index(db, COLL, "d", "STL_SORT", NULL));
}

static void assert_index(vdb_db *db, const char *field, const char *want)
{
    const char *type = NULL;
    OK(vdb_describe_index(db, COLL, field, &type));
    assert_non_null(type);
    if (strcmp(type, want))
        fail_msg("index on '%s' is %s, expected %s", field, type, want);
}

static void assert_all_indexes(vdb_db *db)
{
    assert_index(db, "r", "STL_SORT");
    assert_index(db, "g", "INVERTED");
    assert_index(db, "s", "TRIE");
    assert_index(db, "f", "STL_SORT"); /* AUTOINDEX on FLOAT */
    assert_index(db, "n", "INVERTED");
    assert_index(db, "b", "INVERTED"); /* AUTOINDEX on BOOL */
    assert_index(db, "d", "STL_SORT");
}

static void test_filters_match_reference_with_and_without_indexes(void **state)
{
    (void)state;
    fixture fx;
    build(&fx, "filt_battery");
    sanity_of_selectivities(fx.st);
    record a = {0}, b = {0}, c = {0}, d = {0}, e = {0};

    /* no index: scans only */
    battery(fx.db, fx.st, &a, true);
    /* indexes on sealed segments (growing ones are scanned) */
    create_all_indexes(fx.db);
    assert_all_indexes(fx.db);
    battery(fx.db, fx.st, &b, true);
    rec_compare(&a, &b, "after create_index");
    /* the growing rows sealed: their segments get indexes at the flush */
    OK(vdb_flush(fx.db, COLL));
    vdb_stats stt = {.struct_size = sizeof stt};
    OK(vdb_collection_stats(fx.db, COLL, &stt));
    assert_int_equal(stt.growing_rows, 0);
    battery(fx.db, fx.st, &c, false);
    rec_compare(&a, &c, "after flush with indexes");

    /* more rows, deletes and upserts on top, a new sealed segment and a growing one */
    write_range(fx.db, fx.st, 5000, 5500, 0, false, &fx.seed);
    int64_t del[] = {5001, 5100, 5499, 4000, 2, 1700};
    delete_pks(fx.db, fx.st, del, sizeof del / sizeof del[0]);
    write_range(fx.db, fx.st, 5200, 5230, 1, true, &fx.seed);
    OK(vdb_flush(fx.db, COLL));
    write_range(fx.db, fx.st, 5500, 5600, 1, false, &fx.seed);
    write_range(fx.db, fx.st, 10, 20, 0, true, &fx.seed);
    battery(fx.db, fx.st, &d, false);

    /* reopen: the indexes are rebuilt as segments load */
    reopen(&fx);
    assert_all_indexes(fx.db);
    battery(fx.db, fx.st, &e, true);
    rec_compare(&d, &e, "after reopen");

    /* drop every index: scans again, same answers */
    const char *fields[] = {"r", "g", "s", "f", "n", "b", "d"};
    for (size_t i = 0; i < 7; i++) {
        OK(vdb_drop_index(fx.db, COLL, fields[i]));
        const char *type = "x";
        ERR(vdb_describe_index(fx.db, COLL, fields[i], &type), VDB_ENOTFOUND, fields[i]);
    }
    e.n = 0;
    battery(fx.db, fx.st, &e, false);
    rec_compare(&d, &e, "after drop_index");
    /* and dropped indexes stay dropped across a reopen */
    reopen(&fx);
    const char *type = NULL;
    ERR(vdb_describe_index(fx.db, COLL, "r", &type), VDB_ENOTFOUND, "r");
    e.n = 0;
    battery(fx.db, fx.st, &e, false);
    rec_compare(&d, &e, "after drop_index and reopen");

    free(a.v), free(b.v), free(c.v), free(d.v), free(e.v);
    teardown_fx(&fx);
}

/* BITMAP on the low-cardinality fields and element indexes (INVERTED, BITMAP) on the ARRAY
 * fields answer every filter of the battery as the reference does: on sealed segments, after
 * deletes and upserts, after compaction merged the segments, and after a reopen rebuilt them. */
static void test_bitmap_and_array_indexes_match_reference_through_compaction(void **state)
{
    (void)state;
    fixture fx;
    build(&fx, "filt_bitmap");
    record a = {0}, b = {0};
    battery(fx.db, fx.st, &a, false);
    OK(vdb_create_index(fx.db, COLL, "r", "BITMAP", NULL));
    OK(vdb_create_index(fx.db, COLL, "g", "bitmap", NULL));
    OK(vdb_create_index(fx.db, COLL, "s", "BITMAP", ""));
    OK(vdb_create_index(fx.db, COLL, "b", "BITMAP", NULL));
    OK(vdb_create_index(fx.db, COLL, "n", "BITMAP", NULL));
    OK(vdb_create_index(fx.db, COLL, "arr", "INVERTED", NULL));
    OK(vdb_create_index(fx.db, COLL, "sarr", "BITMAP", NULL));
    assert_index(fx.db, "r", "BITMAP");
    assert_index(fx.db, "g", "BITMAP");
    assert_index(fx.db, "arr", "INVERTED");
    assert_index(fx.db, "sarr", "BITMAP");
    battery(fx.db, fx.st, &b, false);
    rec_compare(&a, &b, "after BITMAP and array indexes");

    OK(vdb_flush(fx.db, COLL));
    write_range(fx.db, fx.st, 5000, 5400, 0, false, &fx.seed);
    int64_t del[] = {5001, 5100, 4000, 2, 1700, 33};
    delete_pks(fx.db, fx.st, del, sizeof del / sizeof del[0]);
    write_range(fx.db, fx.st, 5200, 5230, 1, true, &fx.seed);
    OK(vdb_flush(fx.db, COLL));
    write_range(fx.db, fx.st, 40, 60, 0, true, &fx.seed);
    OK(vdb_flush(fx.db, COLL));
    record c = {0}, d = {0}, e = {0};
    battery(fx.db, fx.st, &c, false);
    OK(vdb_compact(fx.db, COLL));
    battery(fx.db, fx.st, &d, false);
    rec_compare(&c, &d, "after compaction");
    reopen(&fx);
    assert_index(fx.db, "sarr", "BITMAP");
    battery(fx.db, fx.st, &e, false);
    rec_compare(&c, &e, "after reopen");
    free(a.v), free(b.v), free(c.v), free(d.v), free(e.v);
    teardown_fx(&fx);
}

/* A read at a travel timestamp before deletes and upserts sees the rows as they were. */
static void check_travel(vdb_db *db, const refstate *snap, uint64_t ts)
{
    vdb_read_opts ro = {.struct_size = sizeof ro, .travel_ts = ts};
    int64_t *want = malloc(MAXPK * sizeof *want), *got = malloc(MAXPK * sizeof *got);
    cand *buf = malloc(MAXPK * sizeof *buf);
    record rec = {0};
    for (size_t fi = 0; fi < NFILTERS; fi++) {
        size_t n = ref_rows(snap, fi, -1, want);
        check_count(db, fi, &ro, n);
        check_query(db, snap, fi, &ro, got, want, n);
        check_search(db, snap, fi, 10, &ro, want, n, buf, &rec);
    }
    free(rec.v);
    free(want);
    free(got);
    free(buf);
}

static void test_query_time_travel_sees_deleted_and_replaced_rows(void **state)
{
    (void)state;
    fixture fx;
    build(&fx, "filt_travel");
    /* pk 37 was deleted after snap_ts: the query at snap_ts returns it, now it does not */
    assert_true(fx.snap->rows[37].alive);
    assert_false(fx.st->rows[37].alive);
    vdb_read_opts ro = {.struct_size = sizeof ro, .travel_ts = fx.snap_ts};
    vdb_result *res;
    OK(vdb_query(fx.db, COLL, "id == 37", &ro, 0, 0, &res));
    assert_int_equal(vdb_result_rows(res, 0), 1);
    assert_int_equal(vdb_result_pk_int(res, 0, 0), 37);
    vdb_result_free(res);
    OK(vdb_query(fx.db, COLL, "id == 37", NULL, 0, 0, &res));
    assert_int_equal(vdb_result_rows(res, 0), 0);
    vdb_result_free(res);
    check_travel(fx.db, fx.snap, fx.snap_ts);
    /* with indexes, after a flush and after a reopen: the same past */
    create_all_indexes(fx.db);
    check_travel(fx.db, fx.snap, fx.snap_ts);
    OK(vdb_flush(fx.db, COLL));
    check_travel(fx.db, fx.snap, fx.snap_ts);
    reopen(&fx);
    check_travel(fx.db, fx.snap, fx.snap_ts);
    teardown_fx(&fx);
}

static uint64_t count_of(vdb_db *db, const char *filter, const vdb_read_opts *ro)
{
    uint64_t c = 0;
    OK(vdb_count(db, COLL, filter, ro, &c));
    return c;
}

static size_t ref_count_expr(const refstate *st, pred_fn p, int part)
{
    size_t n = 0;
    for (int pk = 0; pk < MAXPK; pk++)
        n += st->rows[pk].alive && (part < 0 || st->rows[pk].part == part) && p(&st->rows[pk]);
    return n;
}

/* delete_where(filter): the matching rows are gone at one timestamp; travel before it sees
 * them; rows that do not match (or lie in other partitions) stay. */
static uint64_t delete_where_checked(fixture *fx, const char *filter, pred_fn p, int part)
{
    size_t want = ref_count_expr(fx->st, p, part);
    assert_true(want > 0);
    size_t live = alive_count(fx->st);
    uint64_t before = 0, ts = 0, deleted = 12345;
    OK(vdb_now(fx->db, &before));
    OK(vdb_delete_where(fx->db, COLL, part_name(part), filter, &ts, &deleted));
    if (deleted != want)
        fail_msg("delete_where '%s' deleted %llu rows, expected %zu", filter,
                 (unsigned long long)deleted, want);
    assert_true(ts > before);
    for (int pk = 0; pk < MAXPK; pk++) {
        row *w = &fx->st->rows[pk];
        if (w->alive && (part < 0 || w->part == part) && p(w))
            w->alive = false;
    }
    assert_int_equal(count_of(fx->db, NULL, NULL), live - want);
    vdb_read_opts at = {.struct_size = sizeof at, .travel_ts = ts},
                        just_before = {.struct_size = sizeof(vdb_read_opts), .travel_ts = ts - 1};
    const char *const parts[] = {part_name(part)};
    if (part >= 0) {
        at.partitions = just_before.partitions = parts;
        at.n_partitions = just_before.n_partitions = 1;
    }
    /* one timestamp: all of them visible just before ts, none at ts */
    assert_int_equal(count_of(fx->db, filter, &just_before), want);
    assert_int_equal(count_of(fx->db, filter, &at), 0);
    assert_int_equal(count_of(fx->db, NULL, VDB_READ_OPTS(.travel_ts = ts - 1)), live);
    return ts;
}

PRED(p_del1, w->g == 3 && w->r < 5000)
PRED(p_del2, w->color == 0)
PRED(p_del3, prefix(w->s, "ab") && w->n_null)
PRED(p_del4, (double)w->f > 0.9 && !w->b)

static void test_delete_where_deletes_exactly_the_matching_rows(void **state)
{
    (void)state;
    fixture fx;
    build(&fx, "filt_delete");
    record rec = {0};

    size_t want1 = ref_count_expr(fx.st, p_del1, -1);
    uint64_t ts1 = delete_where_checked(&fx, "g == 3 and r < 5000", p_del1, -1);
    /* restricted to a partition: red rows of p1 go, red rows of _default stay */
    size_t red_default = ref_count_expr(fx.st, p_del2, 0);
    assert_true(red_default > 0);
    uint64_t ts2 = delete_where_checked(&fx, "color == \"red\"", p_del2, 1);
    assert_true(ts2 > ts1);
    assert_int_equal(count_of(fx.db, "color == \"red\"", NULL), red_default);
    const char *const pdef[] = {"_default"}, *const pp1[] = {"p1"};
    assert_int_equal(count_of(fx.db, "color == \"red\"",
                              VDB_READ_OPTS(.partitions = pdef, .n_partitions = 1)),
                     red_default);
    assert_int_equal(count_of(fx.db, "color == \"red\"",
                              VDB_READ_OPTS(.partitions = pp1, .n_partitions = 1)),
                     0);
    /* through the indexes (TRIE prefix, STL_SORT range, INVERTED bool) */
    create_all_indexes(fx.db);
    OK(vdb_flush(fx.db, COLL));
    uint64_t ts3 = delete_where_checked(&fx, "s like \"ab%\" and n is null", p_del3, -1);
    uint64_t ts4 = delete_where_checked(&fx, "f > 0.9 and b == false", p_del4, 0);
    assert_true(ts4 > ts3);
    /* a filter matching nothing deletes nothing, and still gives a timestamp */
    uint64_t ts5 = 0, deleted = 99;
    size_t live = alive_count(fx.st);
    OK(vdb_delete_where(fx.db, COLL, NULL, "r < 0", &ts5, &deleted));
    assert_int_equal(deleted, 0);
    assert_true(ts5 > ts4);
    assert_int_equal(count_of(fx.db, NULL, NULL), live);
    /* deleting already deleted rows: none match now */
    OK(vdb_delete_where(fx.db, COLL, NULL, "g == 3 and r < 5000", &ts5, &deleted));
    assert_int_equal(deleted, 0);
    assert_int_equal(count_of(fx.db, NULL, NULL), live);

    battery(fx.db, fx.st, &rec, false);
    /* reopen: the deletes hold, travel still sees the rows before each delete */
    reopen(&fx);
    rec.n = 0;
    battery(fx.db, fx.st, &rec, false);
    vdb_read_opts before1 = {.struct_size = sizeof before1, .travel_ts = ts1 - 1};
    assert_int_equal(count_of(fx.db, "g == 3 and r < 5000", &before1), want1);
    assert_int_equal(count_of(fx.db, "g == 3 and r < 5000", VDB_READ_OPTS(.travel_ts = ts1)),
                     0);
    assert_int_equal(count_of(fx.db, "color == \"red\"", VDB_READ_OPTS(.travel_ts = ts2)),
                     red_default);
    /* and again after the growing rows are sealed and the database reopened */
    OK(vdb_flush(fx.db, COLL));
    reopen(&fx);
    rec.n = 0;
    battery(fx.db, fx.st, &rec, false);
    free(rec.v);
    teardown_fx(&fx);
}

/* A delete by expression on sealed and growing rows, then straight to a reopen (the delete
 * records replayed from the log): the rows stay deleted, travel before the delete sees them. */
static void test_delete_where_survives_reopen_exactly(void **state)
{
    (void)state;
    fixture fx;
    build(&fx, "filt_delete_reopen");
    size_t want = ref_count_expr(fx.st, p_del1, -1);
    size_t live = alive_count(fx.st);
    uint64_t ts = 0, deleted = 0;
    OK(vdb_delete_where(fx.db, COLL, NULL, "g == 3 and r < 5000", &ts, &deleted));
    assert_int_equal(deleted, want);
    reopen(&fx);
    assert_int_equal(count_of(fx.db, "g == 3 and r < 5000", NULL), 0);
    assert_int_equal(count_of(fx.db, NULL, NULL), live - want);
    assert_int_equal(count_of(fx.db, "g == 3 and r < 5000", VDB_READ_OPTS(.travel_ts = ts - 1)),
                     want);
    assert_int_equal(count_of(fx.db, NULL, VDB_READ_OPTS(.travel_ts = ts - 1)), live);
    teardown_fx(&fx);
}

static void test_query_limit_offset_count_star_and_no_filter(void **state)
{
    (void)state;
    fixture fx;
    build(&fx, "filt_query");
    size_t live = alive_count(fx.st);
    vdb_result *res = (vdb_result *)0x1;
    /* without a filter a limit is required */
    ERR(vdb_query(fx.db, COLL, NULL, NULL, 0, 0, &res), VDB_EINVAL, "limit");
    assert_null(res);
    ERR(vdb_query(fx.db, COLL, "", NULL, 0, 0, &res), VDB_EINVAL, "limit");
    ERR(vdb_query(fx.db, COLL, "  ", NULL, 0, 5, &res), VDB_EINVAL, "limit");
    /* with one: that many rows, all live; pages without a filter cover everything */
    int64_t *seen = calloc(MAXPK, sizeof *seen);
    size_t total = 0;
    for (uint64_t off = 0;; off += 1000) {
        OK(vdb_query(fx.db, COLL, NULL, NULL, 1000, off, &res));
        size_t n = vdb_result_rows(res, 0);
        for (size_t i = 0; i < n; i++) {
            int64_t pk = vdb_result_pk_int(res, 0, i);
            assert_true(pk >= 0 && pk < MAXPK);
            assert_true(fx.st->rows[pk].alive);
            if (seen[pk]++)
                fail_msg("pk %lld on two pages", (long long)pk);
        }
        total += n;
        vdb_result_free(res);
        if (n < 1000)
            break;
    }
    assert_int_equal(total, live);
    free(seen);
    /* count(*) without a filter counts every live row; vdb_count agrees */
    const char *const cs[] = {"count(*)"};
    OK(vdb_query(fx.db, COLL, NULL, VDB_READ_OPTS(.output_fields = cs, .n_output_fields = 1),
                 0, 0, &res));
    assert_int_equal(vdb_result_rows(res, 0), 1);
    vdb_value v;
    OK(vdb_result_field(res, 0, 0, "count(*)", &v));
    assert_int_equal(v.u.i64, (int64_t)live);
    vdb_result_free(res);
    assert_int_equal(count_of(fx.db, NULL, NULL), live);
    assert_int_equal(count_of(fx.db, "", NULL), live);
    /* offset past the end: no rows; limit 1: one row */
    OK(vdb_query(fx.db, COLL, "r < 5000", NULL, 10, 100000, &res));
    assert_int_equal(vdb_result_rows(res, 0), 0);
    vdb_result_free(res);
    OK(vdb_query(fx.db, COLL, "r < 5000", NULL, 1, 0, &res));
    assert_int_equal(vdb_result_rows(res, 0), 1);
    assert_true(p_half(&fx.st->rows[vdb_result_pk_int(res, 0, 0)]));
    vdb_result_free(res);
    /* offset alone (no limit) skips that many of the full result */
    size_t n50 = ref_count_expr(fx.st, p_half, -1);
    OK(vdb_query(fx.db, COLL, "r < 5000", NULL, 0, 100, &res));
    assert_int_equal(vdb_result_rows(res, 0), n50 - 100);
    vdb_result_free(res);
    /* query, count and search restricted to a partition */
    const char *const pp1[] = {"p1"};
    vdb_read_opts in_p1 = {.struct_size = sizeof in_p1, .partitions = pp1, .n_partitions = 1};
    int64_t *want = malloc(MAXPK * sizeof *want), *got = malloc(MAXPK * sizeof *got);
    cand *buf = malloc(MAXPK * sizeof *buf);
    record rec = {0};
    for (int round = 0; round < 2; round++) { /* without, then with indexes */
        for (size_t fi = 0; fi < NFILTERS; fi++) {
            size_t nw = ref_rows(fx.st, fi, 1, want);
            check_query(fx.db, fx.st, fi, &in_p1, got, want, nw);
            check_count(fx.db, fi, &in_p1, nw);
            check_search(fx.db, fx.st, fi, 10, &in_p1, want, nw, buf, &rec);
        }
        if (round == 0)
            create_all_indexes(fx.db);
    }
    free(buf);
    free(rec.v);
    free(want);
    free(got);
    teardown_fx(&fx);
}

static void test_index_ddl_and_errors(void **state)
{
    (void)state;
    fixture fx;
    build(&fx, "filt_ddl");
    size_t live = alive_count(fx.st);
    const char *type = "x";
    ERR(vdb_describe_index(fx.db, COLL, "r", &type), VDB_ENOTFOUND, "r");
    ERR(vdb_drop_index(fx.db, COLL, "r"), VDB_ENOTFOUND, "r");
    /* TRIE needs VARCHAR; STL_SORT needs a number */
    ERR(vdb_create_index(fx.db, COLL, "g", "TRIE", NULL), VDB_EINVAL, "g");
    ERR(vdb_describe_index(fx.db, COLL, "g", &type), VDB_ENOTFOUND, NULL);
    ERR(vdb_create_index(fx.db, COLL, "s", "STL_SORT", NULL), VDB_EINVAL, "s");
    /* BITMAP: not FLOAT/DOUBLE, not the primary key, not JSON; on arrays of ints and
     * strings; an ARRAY field takes INVERTED or BITMAP only, AUTOINDEX picks INVERTED */
    ERR(vdb_create_index(fx.db, COLL, "f", "BITMAP", NULL), VDB_EINVAL, "f");
    ERR(vdb_create_index(fx.db, COLL, "d", "BITMAP", NULL), VDB_EINVAL, "DOUBLE");
    ERR(vdb_create_index(fx.db, COLL, "id", "BITMAP", NULL), VDB_EINVAL, "primary");
    ERR(vdb_create_index(fx.db, COLL, "meta", "BITMAP", NULL), VDB_EINVAL, "JSON field 'meta'");
    ERR(vdb_create_index(fx.db, COLL, "arr", "STL_SORT", NULL), VDB_EINVAL, "arr");
    ERR(vdb_create_index(fx.db, COLL, "sarr", "TRIE", NULL), VDB_EINVAL, "sarr");
    ERR(vdb_create_index(fx.db, COLL, "arr", "HNSW", NULL), VDB_EINVAL, "vector");
    ERR(vdb_create_index(fx.db, COLL, "arr", "BITMAP", "bitmap_cardinality_limit=10"),
        VDB_EINVAL, "bitmap_cardinality_limit");
    OK(vdb_create_index(fx.db, COLL, "arr", "AUTOINDEX", NULL));
    assert_index(fx.db, "arr", "INVERTED");
    OK(vdb_drop_index(fx.db, COLL, "arr"));
    /* unknown type */
    ERR(vdb_create_index(fx.db, COLL, "r", "BTREE", NULL), VDB_EINVAL, "BTREE");
    ERR(vdb_describe_index(fx.db, COLL, "r", &type), VDB_ENOTFOUND, NULL);
    /* vector index types we do not have, and bad vector parameters */
    ERR(vdb_create_index(fx.db, COLL, "v", "DISKANN", NULL), VDB_EUNSUPPORTED, "DISKANN");
    ERR(vdb_create_index(fx.db, COLL, "v", "IVF_FLAT", "nlist=0"), VDB_EINVAL, "nlist");
    ERR(vdb_create_index(fx.db, COLL, "v", "HNSW", "M=1"), VDB_EINVAL, "M=1");
    ERR(vdb_create_index(fx.db, COLL, "v", "HNSW", "efConstruction=5,M=16"), VDB_EINVAL,
        "efConstruction");
    ERR(vdb_create_index(fx.db, COLL, "v", "HNSW", "nlist=8"), VDB_EINVAL, "nlist");
    ERR(vdb_describe_index(fx.db, COLL, "v", &type), VDB_ENOTFOUND, NULL);
    /* missing field, missing collection */
    ERR(vdb_create_index(fx.db, COLL, "nope", "STL_SORT", NULL), VDB_ENOTFOUND, "nope");
    ERR(vdb_create_index(fx.db, "nocoll", "r", "STL_SORT", NULL), VDB_ENOTFOUND, "nocoll");
    ERR(vdb_describe_index(fx.db, COLL, "nope", &type), VDB_ENOTFOUND, "nope");
    /* parameters are refused by scalar indexes */
    ERR(vdb_create_index(fx.db, COLL, "r", "STL_SORT", "m=4"), VDB_EINVAL, "m=4");
    ERR(vdb_describe_index(fx.db, COLL, "r", &type), VDB_ENOTFOUND, NULL);
    /* one index per field: the same type again is fine, a different one is EEXIST */
    OK(vdb_create_index(fx.db, COLL, "r", "STL_SORT", NULL));
    OK(vdb_create_index(fx.db, COLL, "r", "stl_sort", NULL));
    ERR(vdb_create_index(fx.db, COLL, "r", "INVERTED", NULL), VDB_EEXIST, "r");
    assert_index(fx.db, "r", "STL_SORT");
    OK(vdb_create_index(fx.db, COLL, "s", "INVERTED", NULL));
    ERR(vdb_create_index(fx.db, COLL, "s", "TRIE", NULL), VDB_EEXIST, "s");
    assert_index(fx.db, "s", "INVERTED");
    /* the index choices persist across a reopen; a drop makes room for another type */
    reopen(&fx);
    assert_index(fx.db, "r", "STL_SORT");
    assert_index(fx.db, "s", "INVERTED");
    OK(vdb_drop_index(fx.db, COLL, "s"));
    ERR(vdb_describe_index(fx.db, COLL, "s", &type), VDB_ENOTFOUND, "s");
    OK(vdb_create_index(fx.db, COLL, "s", "TRIE", NULL));
    assert_index(fx.db, "s", "TRIE");
    /* nothing above changed a row */
    assert_int_equal(count_of(fx.db, NULL, NULL), live);
    record rec = {0};
    battery(fx.db, fx.st, &rec, false);
    free(rec.v);
    teardown_fx(&fx);
}

/* A message of a parse error: "at N" with N the byte position. */
static void check_position(const char *filter, long want_pos)
{
    const char *m = vdb_errmsg(NULL);
    const char *at = strstr(m, "at ");
    if (!at || at[3] < '0' || at[3] > '9')
        fail_msg("filter '%s': message '%s' gives no position", filter, m);
    if (want_pos >= 0 && strtol(at + 3, NULL, 10) != want_pos)
        fail_msg("filter '%s': message '%s' gives the position %ld, expected %ld", filter, m,
                 strtol(at + 3, NULL, 10), want_pos);
}

/* filter fails the same way through search, query, count and delete_where, changing nothing. */
static void check_bad_filter(vdb_db *db, const char *coll, const char *filter, const char *sub,
                             long pos, uint64_t live)
{
    vdb_result *res = (vdb_result *)0x1;
    vdb_search_req req = {.struct_size = sizeof req, .collection = coll, .vectors = QV,
                          .nq = 1, .dim = DIM, .k = 10, .filter = filter};
    vdb_status st = vdb_search(db, &req, &res);
    test_check_err(st, VDB_EINVAL, sub, filter, __LINE__);
    assert_null(res);
    if (pos != -2)
        check_position(filter, pos);
    res = (vdb_result *)0x1;
    test_check_err(vdb_query(db, coll, filter, NULL, 10, 0, &res), VDB_EINVAL, sub, filter,
              __LINE__);
    assert_null(res);
    if (pos != -2)
        check_position(filter, pos);
    uint64_t c = 77;
    test_check_err(vdb_count(db, coll, filter, NULL, &c), VDB_EINVAL, sub, filter, __LINE__);
    uint64_t ts = 0, deleted = 0;
    test_check_err(vdb_delete_where(db, coll, NULL, filter, &ts, &deleted), VDB_EINVAL, sub, filter,
              __LINE__);
    if (pos != -2)
        check_position(filter, pos);
    assert_int_equal(deleted, 0);
    uint64_t now = 0;
    OK(vdb_count(db, coll, NULL, NULL, &now));
    if (now != live)
        fail_msg("filter '%s': a failed call changed the row count %llu -> %llu", filter,
                 (unsigned long long)live, (unsigned long long)now);
}

static void test_bad_filters_are_einval_and_change_nothing(void **state)
{
    (void)state;
    fixture fx;
    build(&fx, "filt_errors");
    uint64_t live = alive_count(fx.st);
    vdb_db *db = fx.db;
    /* malformed: the message says where */
    check_bad_filter(db, COLL, "r <", "expected", 3, live);
    check_bad_filter(db, COLL, "r < 5 and", "expected", 9, live);
    check_bad_filter(db, COLL, "(r < 5", "expected", 6, live);
    check_bad_filter(db, COLL, "r < 5)", "expected", 5, live);
    check_bad_filter(db, COLL, "r < 5 r > 2", "expected", 6, live);
    check_bad_filter(db, COLL, "r in [1, 2", "expected", -1, live);
    check_bad_filter(db, COLL, "r == == 3", "expected", -1, live);
    check_bad_filter(db, COLL, "s like", "expected", -1, live);
    check_bad_filter(db, COLL, "r < 1 <", "expected", -1, live);
    check_bad_filter(db, COLL, "s == \"abc", NULL, -1, live);
    check_bad_filter(db, COLL, "r < 5 @ 3", NULL, -1, live);
    check_bad_filter(db, COLL, "nofunc(r)", "nofunc", 0, live);
    /* type mismatches name the field */
    check_bad_filter(db, COLL, "r == \"x\"", "'r'", -2, live);
    check_bad_filter(db, COLL, "s > 5", "'s'", -2, live);
    check_bad_filter(db, COLL, "b == 1", "'b'", -2, live);
    check_bad_filter(db, COLL, "arr == 1", "arr", -2, live);
    check_bad_filter(db, COLL, "array_contains(arr, \"x\")", "arr", -2, live);
    check_bad_filter(db, COLL, "s + 1 > 2", "'s'", -2, live);
    check_bad_filter(db, COLL, "r like \"a%\"", "'r'", -2, live);
    check_bad_filter(db, COLL, "r", NULL, -2, live); /* not a condition */
    /* the vector field */
    check_bad_filter(db, COLL, "v > 0", "'v'", -2, live);
    check_bad_filter(db, COLL, "v[0] > 0", "vector", -2, live);
    /* an unknown bare name in a dynamic collection is a dynamic key: it matches nothing */
    assert_int_equal(count_of(db, "nokey == 1", NULL), 0);
    assert_int_equal(count_of(db, "not (nokey == 1)", NULL), 0);
    /* unknown field in a collection without dynamic fields */
    vdb_schema *s;
    OK(vdb_schema_new("plain", &s));
    add(s, *VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64, .is_primary = 1));
    add(s, *VDB_FIELD(.name = "r", .type = VDB_TYPE_INT32));
    add(s, *VDB_FIELD(.name = "v", .type = VDB_TYPE_FLOAT_VECTOR, .dim = DIM));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
    int64_t ids[3] = {1, 2, 3};
    int32_t rs[3] = {5, 6, 7};
    vdb_batch *bt;
    OK(vdb_batch_new(&bt));
    OK(vdb_batch_add_column(bt, "id", VDB_TYPE_INT64, ids, NULL, 3, 0));
    OK(vdb_batch_add_column(bt, "r", VDB_TYPE_INT32, rs, NULL, 3, 0));
    OK(vdb_batch_add_column(bt, "v", VDB_TYPE_FLOAT_VECTOR, QV, NULL, 3, DIM));
    OK(vdb_insert(db, "plain", NULL, bt, NULL, NULL));
    vdb_batch_free(bt);
    check_bad_filter(db, "plain", "r > 1 and zz == 3", "zz", 10, 3);
    check_bad_filter(db, "plain", "color == \"red\"", "color", 0, 3);
    uint64_t c = 0;
    OK(vdb_count(db, "plain", "r > 5", NULL, &c));
    assert_int_equal(c, 2);
    /* a missing collection is ENOTFOUND, before the filter */
    ERR(vdb_count(db, "nocoll", "r > 1", NULL, &c), VDB_ENOTFOUND, "nocoll");
    /* an empty filter is refused by delete_where (it would delete everything) */
    uint64_t ts = 0;
    ERR(vdb_delete_where(db, COLL, NULL, "", &ts, NULL), VDB_EINVAL, "filter");
    ERR(vdb_delete_where(db, COLL, NULL, NULL, &ts, NULL), VDB_EINVAL, "filter");
    ERR(vdb_delete_where(db, COLL, "nopart", "r < 10", &ts, NULL), VDB_ENOTFOUND, "nopart");
    assert_int_equal(count_of(db, NULL, NULL), live);
    /* everything still answers as before */
    record rec = {0};
    battery(db, fx.st, &rec, false);
    free(rec.v);
    teardown_fx(&fx);
}

int main(void)
{
    init_queries();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filters_match_reference_with_and_without_indexes),
        cmocka_unit_test(test_bitmap_and_array_indexes_match_reference_through_compaction),
        cmocka_unit_test(test_query_time_travel_sees_deleted_and_replaced_rows),
        cmocka_unit_test(test_delete_where_deletes_exactly_the_matching_rows),
        cmocka_unit_test(test_delete_where_survives_reopen_exactly),
        cmocka_unit_test(test_query_limit_offset_count_star_and_no_filter),
        cmocka_unit_test(test_index_ddl_and_errors),
        cmocka_unit_test(test_bad_filters_are_einval_and_change_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

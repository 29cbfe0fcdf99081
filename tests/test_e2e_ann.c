/* End-to-end: every vector index type (HNSW, IVF_FLAT, IVF_SQ8, IVF_PQ) through the public
 * API on the first rows of Fashion-MNIST — recall@10 against exact search of the same
 * collection, L2 and COSINE, partitions and deletes honoured, the same answers after a reopen,
 * range search; background builds (wait, progress, the callback, searches while a build
 * lands, drops and close while builds are pending); parallel search over many segments equal
 * to a search on one thread; and the errors of bad index and search parameters. */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_api.h"

/* Sanitizers make the build ~10x slower: fewer rows keep the program within its budget. */
/* TSan (~15x) runs fewer rows still: it is there for the threads, not for recall. */
#if defined(__SANITIZE_THREAD__)
#define ROWS 1000
#elif defined(__SANITIZE_ADDRESS__)
#define ROWS 3000
#else
#define ROWS 10000
#endif
#define DIM 784
#define NQ 50
#define K 10
#define FMNIST_DIR "/usr/share/datasets/fashion-mnist/"

static float *base, *queries;

/* rows images of an IDX file through zcat, as floats; NULL when not installed. */
static float *load_idx(const char *file, size_t rows)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "zcat %s%s 2>/dev/null", FMNIST_DIR, file);
    FILE *f = popen(cmd, "r");
    if (!f)
        return NULL;
    unsigned char hdr[16];
    unsigned char *px = malloc(rows * DIM);
    float *v = malloc(rows * DIM * sizeof *v);
    bool good = px && v && fread(hdr, 1, 16, f) == 16 && fread(px, 1, rows * DIM, f) == rows * DIM;
    pclose(f);
    for (size_t i = 0; good && i < rows * DIM; i++)
        v[i] = px[i];
    free(px);
    if (!good) {
        free(v);
        return NULL;
    }
    return v;
}

static int load_data(void **state)
{
    (void)state;
    base = load_idx("train-images-idx3-ubyte.gz", ROWS);
    queries = load_idx("t10k-images-idx3-ubyte.gz", NQ);
    return 0;
}

static int free_data(void **state)
{
    (void)state;
    free(base);
    free(queries);
    return 0;
}

#define NEED_DATA()                                                                           \
    do {                                                                                      \
        if (!base || !queries)                                                                \
            skip(); /* dataset-fashion-mnist is not installed */                              \
    } while (0)

/* IVF_SQ8 and IVF_PQ run on Faiss: skipped, saying so, only in a build without it. */
#ifdef VDB_HAVE_FAISS
#define NEED_FAISS() ((void)0)
#else
#define NEED_FAISS()                                                                          \
    do {                                                                                      \
        print_message("skipped: this libvdb is built without Faiss (meson -Dfaiss)\n");       \
        skip();                                                                               \
    } while (0)
#endif

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static vdb_db *open_db(const char *dir, uint64_t seg_rows, uint32_t search_threads)
{
    vdb_options o;
    vdb_options_init(&o);
    o.compaction_interval_ms = 0;
    o.sync = VDB_SYNC_OFF;
    if (seg_rows)
        o.segment_max_rows = seg_rows;
    o.search_threads = search_threads;
    vdb_db *db;
    OK(vdb_open(dir, &o, &db));
    return db;
}

static void make_collection(vdb_db *db, const char *name, uint32_t dim, vdb_metric m)
{
    vdb_schema *s;
    OK(vdb_schema_new(name, &s));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                         .is_primary = 1)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "g", .type = VDB_TYPE_INT32)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "v", .type = VDB_TYPE_FLOAT_VECTOR,
                                         .dim = dim, .metric = m)));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
}

/* Rows [from, to) of vecs (dim floats each) with id = row and g = row % 10. */
static void insert(vdb_db *db, const char *coll, const char *part, const float *vecs,
                   uint32_t dim, int from, int to)
{
    size_t n = (size_t)(to - from);
    int64_t *ids = malloc(n * sizeof *ids);
    int32_t *g = malloc(n * sizeof *g);
    for (size_t i = 0; i < n; i++) {
        ids[i] = from + (int64_t)i;
        g[i] = (int32_t)((from + (int)i) % 10);
    }
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0));
    OK(vdb_batch_add_column(b, "g", VDB_TYPE_INT32, g, NULL, n, 0));
    OK(vdb_batch_add_column(b, "v", VDB_TYPE_FLOAT_VECTOR, vecs + (size_t)from * dim, NULL, n,
                            dim));
    OK(vdb_insert(db, coll, part, b, NULL, NULL));
    vdb_batch_free(b);
    free(ids);
    free(g);
}

typedef struct hits {
    size_t n[NQ];
    int64_t id[NQ][64];
    float d[NQ][64];
} hits;

/* nq queries of k (<= 64) into h; part: one partition or NULL. */
static vdb_status search(vdb_db *db, const char *coll, const float *qs, size_t nq, uint32_t dim,
                         uint32_t k, const char *params, const char *part, const char *filter,
                         hits *h)
{
    const char *parts[1] = {part};
    vdb_search_req req = {.struct_size = sizeof req, .collection = coll, .vectors = qs,
                          .nq = nq, .dim = dim, .k = k, .params = params, .filter = filter,
                          .read = {.partitions = part ? parts : NULL, .n_partitions = !!part}};
    vdb_result *res;
    vdb_status st = vdb_search(db, &req, &res);
    if (st != VDB_OK)
        return st;
    memset(h, 0, sizeof *h);
    for (size_t q = 0; q < nq; q++) {
        h->n[q] = vdb_result_rows(res, q);
        assert_true(h->n[q] <= k);
        for (size_t i = 0; i < h->n[q]; i++) {
            h->id[q][i] = vdb_result_pk_int(res, q, i);
            h->d[q][i] = vdb_result_distance(res, q, i);
        }
    }
    vdb_result_free(res);
    return VDB_OK;
}

static double recall(const hits *got, const hits *truth, size_t nq)
{
    double found = 0, total = 0;
    for (size_t q = 0; q < nq; q++)
        for (size_t a = 0; a < truth->n[q]; a++) {
            total++;
            for (size_t b = 0; b < got->n[q]; b++)
                if (got->id[q][b] == truth->id[q][a]) {
                    found++;
                    break;
                }
        }
    return total ? found / total : 1.0;
}

static bool in_window(vdb_metric m, float d, float radius, float range_filter)
{
    return m == VDB_METRIC_L2 ? d < radius && d >= range_filter
                              : d > radius && d <= range_filter;
}

/* ---- every index type: recall, partitions, deletes, range search, reopen ---- */

typedef struct ann_case {
    const char *type, *params, *search;
    vdb_metric metric;
    int rows; /* 0: ROWS */
} ann_case;

static void run_case(const ann_case *tc)
{
    const int rows = tc->rows && tc->rows < ROWS ? tc->rows : ROWS;
    char *dir = test_tmpdir("e2e_ann");
    vdb_db *db = open_db(dir, 0, 0);
    make_collection(db, "c", DIM, tc->metric);
    OK(vdb_create_partition(db, "c", "p1"));
    /* two sealed segments (one per partition) and a growing tail */
    int half = rows / 2, tail = rows - rows / 20;
    insert(db, "c", "p1", base, DIM, 0, half);
    insert(db, "c", NULL, base, DIM, half, tail);
    OK(vdb_flush(db, "c"));
    insert(db, "c", NULL, base, DIM, tail, rows);

    /* the truth: exact search of the same collection, before any index */
    static hits truth, truth_p1, got, again;
    OK(search(db, "c", queries, NQ, DIM, K, NULL, NULL, NULL, &truth));
    OK(search(db, "c", queries, NQ, DIM, K, NULL, "p1", NULL, &truth_p1));

    double t0 = now_s();
    OK(vdb_create_index(db, "c", "v", tc->type, tc->params));
    OK(vdb_wait_for_index(db, "c", "v", 300000));
    double built = now_s() - t0;
    uint64_t indexed, total;
    OK(vdb_index_progress(db, "c", "v", &indexed, &total));
    assert_int_equal(total, tail);
    assert_int_equal(indexed, total);
    vdb_stats stats = {.struct_size = sizeof stats};
    OK(vdb_collection_stats(db, "c", &stats));
    assert_int_equal(stats.indexed_rows, tail);
    assert_true(stats.index_bytes > 0);
    assert_int_equal(stats.failed_index_builds, 0);

    OK(search(db, "c", queries, NQ, DIM, K, tc->search, NULL, NULL, &got));
    double r = recall(&got, &truth, NQ);
    OK(search(db, "c", queries, NQ, DIM, K, tc->search, "p1", NULL, &got));
    double rp = recall(&got, &truth_p1, NQ);
    for (size_t q = 0; q < NQ; q++)
        for (size_t i = 0; i < got.n[q]; i++)
            assert_true(got.id[q][i] < half); /* partition p1 only */
    print_message("%-8s %-6s %-26s build %.2f s, recall@10 %.3f (partition p1: %.3f)\n",
                  tc->type, vdb_metric_name(tc->metric), tc->params, built, r, rp);
    assert_true(r >= 0.95);
    assert_true(rp >= 0.95);

    /* deletes in the indexed segments are never returned: delete the truth's first hits */
    int64_t gone[NQ];
    for (size_t q = 0; q < NQ; q++)
        gone[q] = truth.id[q][0];
    OK(vdb_delete(db, "c", NULL, &(vdb_pk_list){.ints = gone, .count = NQ}, NULL));
    OK(search(db, "c", queries, NQ, DIM, K, tc->search, NULL, NULL, &got));
    for (size_t q = 0; q < NQ; q++) {
        assert_int_equal(got.n[q], K);
        for (size_t i = 0; i < got.n[q]; i++)
            for (size_t j = 0; j < NQ; j++)
                assert_true(got.id[q][i] != gone[j]);
    }

    /* range search: every score inside the window; the window between the truth's 2nd and
     * 8th scores of each query keeps that query's in-between rows */
    for (size_t q = 0; q < 5; q++) {
        float radius = truth.d[q][7], rf = truth.d[q][1]; /* best first, either metric */
        char p[256];
        snprintf(p, sizeof p, "%s,radius=%.9g,range_filter=%.9g", tc->search, radius, rf);
        OK(search(db, "c", queries + q * DIM, 1, DIM, K, p, NULL, NULL, &got));
        assert_true(got.n[0] >= 1);
        for (size_t i = 0; i < got.n[0]; i++)
            assert_true(in_window(tc->metric, got.d[0][i], radius, rf));
    }

    /* reopen: the saved indexes load (nothing to build) and answer the same */
    OK(search(db, "c", queries, NQ, DIM, K, tc->search, NULL, "g < 7", &got));
    vdb_close(db);
    db = open_db(dir, 0, 0);
    OK(vdb_wait_for_index(db, "c", "v", 0)); /* loaded, not queued */
    OK(search(db, "c", queries, NQ, DIM, K, tc->search, NULL, "g < 7", &again));
    assert_memory_equal(&got, &again, sizeof got);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static const ann_case cases[] = {
    {"HNSW", "M=16,efConstruction=200", "ef=64", VDB_METRIC_L2, 0},
    {"HNSW", "M=16,efConstruction=200", "ef=64", VDB_METRIC_COSINE, 0},
    {"IVF_FLAT", "nlist=64", "nprobe=16", VDB_METRIC_L2, 0},
    {"IVF_FLAT", "nlist=64", "nprobe=16", VDB_METRIC_COSINE, 0},
    {"IVF_SQ8", "nlist=64", "nprobe=16", VDB_METRIC_L2, 0},
    {"IVF_SQ8", "nlist=64", "nprobe=16", VDB_METRIC_COSINE, 0},
    /* PQ reaches 0.95 only with fine codes (m=196 or nbits=4 at 2 dims per code stay under
     * it); one dim per code of 6 bits trains 4x faster than 2 dims of 8 bits (which took
     * 140 s under TSan) with a like recall; 3,000 rows */
    {"IVF_PQ", "nlist=32,m=784,nbits=6", "nprobe=16", VDB_METRIC_L2, 3000},
};

static void test_hnsw_recall_l2_cosine_partitions_deletes_range_reopen(void **state)
{
    (void)state;
    NEED_DATA();
    run_case(&cases[0]);
    run_case(&cases[1]);
}

static void test_ivf_flat_recall_l2_cosine_partitions_deletes_range_reopen(void **state)
{
    (void)state;
    NEED_DATA();
    run_case(&cases[2]);
    run_case(&cases[3]);
}

static void test_ivf_sq8_recall_l2_cosine_partitions_deletes_range_reopen(void **state)
{
    (void)state;
    NEED_FAISS();
    NEED_DATA();
    run_case(&cases[4]);
    run_case(&cases[5]);
}

static void test_ivf_pq_recall_l2_partitions_deletes_range_reopen(void **state)
{
    (void)state;
    NEED_FAISS();
    NEED_DATA();
    run_case(&cases[6]);
}

/* ---- small synthetic data: many segments, range search exactness, errors ---- */

#define SDIM 16
#define SROWS 6000
static float svecs[SROWS * SDIM];

static void make_small(void)
{
    uint64_t seed = 7;
    for (size_t i = 0; i < SROWS * SDIM; i++)
        svecs[i] = test_randf(&seed);
}

static float l2(const float *a, const float *b)
{
    float d = 0;
    for (int j = 0; j < SDIM; j++)
        d += (a[j] - b[j]) * (a[j] - b[j]);
    return d;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static void test_flat_range_search_returns_exactly_the_rows_in_the_window(void **state)
{
    (void)state;
    make_small();
    char *dir = test_tmpdir("e2e_ann_range");
    vdb_db *db = open_db(dir, 1000, 0);
    make_collection(db, "c", SDIM, VDB_METRIC_L2);
    for (int r = 0; r < SROWS; r += 1000) /* sealed at 1000 rows: 6 segments */
        insert(db, "c", NULL, svecs, SDIM, r, r + 1000);
    const float *q = svecs + 17 * SDIM;
    /* the window: from the 5th to the 40th nearest distance */
    static float all[SROWS];
    for (int r = 0; r < SROWS; r++)
        all[r] = l2(q, svecs + r * SDIM);
    static float sorted[SROWS];
    memcpy(sorted, all, sizeof all);
    qsort(sorted, SROWS, sizeof *sorted, cmp_float);
    float radius = sorted[40], rf = sorted[5];
    size_t want = 0;
    for (int r = 0; r < SROWS; r++)
        want += all[r] < radius && all[r] >= rf;
    assert_true(want > 0 && want < 64); /* the window holds some rows, fewer than k */
    static hits got;
    char p[128];
    snprintf(p, sizeof p, "radius=%.9g,range_filter=%.9g", radius, rf);
    OK(search(db, "c", q, 1, SDIM, 64, p, NULL, NULL, &got));
    assert_int_equal(got.n[0], want);
    for (size_t i = 0; i < got.n[0]; i++) {
        assert_true(in_window(VDB_METRIC_L2, got.d[0][i], radius, rf));
        assert_true(i == 0 || got.d[0][i - 1] <= got.d[0][i]);
    }
    /* up to k: the best k inside the window */
    static hits top;
    OK(search(db, "c", q, 1, SDIM, 5, p, NULL, NULL, &top));
    assert_int_equal(top.n[0], want < 5 ? want : 5);
    for (size_t i = 0; i < top.n[0]; i++)
        assert_int_equal(top.id[0][i], got.id[0][i]);
    /* radius alone: everything nearer than it (k caps) */
    OK(search(db, "c", q, 1, SDIM, 64, "radius=0.5", NULL, NULL, &got));
    for (size_t i = 0; i < got.n[0]; i++)
        assert_true(got.d[0][i] < 0.5f);
    assert_int_equal(got.id[0][0], 17); /* the query row itself, at 0 */
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

static void test_bad_index_types_params_and_search_params_are_errors(void **state)
{
    (void)state;
    make_small();
    char *dir = test_tmpdir("e2e_ann_err");
    vdb_db *db = open_db(dir, 0, 0);
    make_collection(db, "c", SDIM, VDB_METRIC_L2);
    insert(db, "c", NULL, svecs, SDIM, 0, 500);
    const char *t;
    ERR(vdb_create_index(db, "c", "v", "NOSUCH", NULL), VDB_EINVAL, "NOSUCH");
    ERR(vdb_create_index(db, "c", "v", "DISKANN", NULL), VDB_EUNSUPPORTED, "DISKANN");
    ERR(vdb_create_index(db, "c", "g", "IVF_FLAT", NULL), VDB_EINVAL, "vector");
    ERR(vdb_create_index(db, "c", "v", "HNSW", "M=1"), VDB_EINVAL, "2..100");
    ERR(vdb_create_index(db, "c", "v", "HNSW", "M=16,efConstruction=8"), VDB_EINVAL,
        "efConstruction");
    ERR(vdb_create_index(db, "c", "v", "HNSW", "M"), VDB_EINVAL, "key=value");
    ERR(vdb_create_index(db, "c", "v", "HNSW", "nlist=8"), VDB_EINVAL, "nlist");
    ERR(vdb_create_index(db, "c", "v", "IVF_FLAT", "nlist=0"), VDB_EINVAL, "1..65536");
    ERR(vdb_create_index(db, "c", "v", "IVF_SQ8", "nlist=65537"), VDB_EINVAL, "nlist");
    ERR(vdb_create_index(db, "c", "v", "IVF_SQ8", "nlist=abc"), VDB_EINVAL, "nlist");
    ERR(vdb_create_index(db, "c", "v", "IVF_FLAT", "M=16"), VDB_EINVAL, "'M'");
    ERR(vdb_create_index(db, "c", "v", "IVF_PQ", "nlist=8"), VDB_EINVAL, "m");
    ERR(vdb_create_index(db, "c", "v", "IVF_PQ", "m=5"), VDB_EINVAL, "divide");
    ERR(vdb_create_index(db, "c", "v", "IVF_PQ", "m=4,nbits=17"), VDB_EINVAL, "1..16");
    ERR(vdb_create_index(db, "c", "v", "IVF_PQ", "m=4,nbits=0"), VDB_EINVAL, "nbits");
    ERR(vdb_create_index(db, "c", "v", "IVF_FLAT", "metric_type=IP"), VDB_EINVAL, "metric");
    ERR(vdb_describe_index(db, "c", "v", &t), VDB_ENOTFOUND, NULL); /* nothing was recorded */

    /* search parameters: keys for other types are ignored, bad values are errors */
    static hits h;
    OK(search(db, "c", svecs, 1, SDIM, 5, "nprobe=4,ef=32,search_k=7", NULL, NULL, &h));
    ERR(search(db, "c", svecs, 1, SDIM, 5, "ef=0", NULL, NULL, &h), VDB_EINVAL, "ef");
    ERR(search(db, "c", svecs, 1, SDIM, 5, "ef=40000", NULL, NULL, &h), VDB_EINVAL, "1..32768");
    ERR(search(db, "c", svecs, 1, SDIM, 5, "nprobe=0", NULL, NULL, &h), VDB_EINVAL, "nprobe");
    ERR(search(db, "c", svecs, 1, SDIM, 5, "nprobe=x", NULL, NULL, &h), VDB_EINVAL, "1..65536");
    ERR(search(db, "c", svecs, 1, SDIM, 5, "radius=abc", NULL, NULL, &h), VDB_EINVAL, "radius");
    ERR(search(db, "c", svecs, 1, SDIM, 5, "radius=1,range_filter=2", NULL, NULL, &h),
        VDB_EINVAL, "range_filter");
    ERR(search(db, "c", svecs, 1, SDIM, 5, "range_filter=0.5", NULL, NULL, &h), VDB_EINVAL,
        "radius");
    ERR(search(db, "c", svecs, 1, SDIM, 5, "nprobe", NULL, NULL, &h), VDB_EINVAL, "key=value");

    /* IP: the window is the other way round */
    make_collection(db, "ip", SDIM, VDB_METRIC_IP);
    ERR(search(db, "ip", svecs, 1, SDIM, 5, "radius=2,range_filter=1", NULL, NULL, &h),
        VDB_EINVAL, "above");
    OK(search(db, "ip", svecs, 1, SDIM, 5, "radius=1,range_filter=2", NULL, NULL, &h));

    /* waiting on what has nothing to build */
    OK(vdb_wait_for_index(db, "c", "v", 0));
    ERR(vdb_wait_for_index(db, "c", "nope", 0), VDB_ENOTFOUND, "nope");
    ERR(vdb_wait_for_index(db, "nope", "v", 0), VDB_ENOTFOUND, "nope");
    uint64_t a, b;
    ERR(vdb_index_progress(db, "c", "v", &a, &b), VDB_ENOTFOUND, "no index");
    OK(vdb_create_index(db, "c", "v", "FLAT", NULL));
    OK(vdb_flush(db, "c"));
    OK(vdb_wait_for_index(db, "c", "v", 0));
    OK(vdb_index_progress(db, "c", "v", &a, &b));
    assert_int_equal(a, 500);
    assert_int_equal(b, 500);
    assert_string_equal(vdb_status_name(VDB_ETIMEDOUT), "VDB_ETIMEDOUT");
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* ---- parallel search over many segments ---- */

typedef struct par_search {
    vdb_db *db;
    const hits *want;
    const char *params;
    int bad;
} par_search;

#define PNQ 8
#define PK 50

static void *search_loop(void *arg)
{
    par_search *p = arg;
    static __thread hits got;
    for (int it = 0; it < 20; it++) {
        if (search(p->db, "c", svecs, PNQ, SDIM, PK, p->params, NULL, "g != 3", &got) != VDB_OK ||
            memcmp(&got, p->want, sizeof got))
            p->bad++;
    }
    return NULL;
}

static void test_parallel_search_of_many_segments_equals_one_thread(void **state)
{
    (void)state;
    make_small();
    char *dir = test_tmpdir("e2e_ann_par");
    vdb_db *db = open_db(dir, 400, 0);
    make_collection(db, "c", SDIM, VDB_METRIC_L2);
    OK(vdb_create_partition(db, "c", "empty"));
    for (int r = 0; r < SROWS; r += 400) /* 15 sealed segments */
        insert(db, "c", NULL, svecs, SDIM, r, r + 400);
    insert(db, "c", "empty", svecs, SDIM, 0, 300); /* a growing segment... */
    int64_t del[300];
    for (int i = 0; i < 300; i++)
        del[i] = i;
    OK(vdb_delete(db, "c", "empty", &(vdb_pk_list){.ints = del, .count = 300}, NULL));
    for (int i = 0; i < 300; i++)
        del[i] = 1000 + i * 7; /* ...with no visible rows, and deletes in sealed ones */
    OK(vdb_delete(db, "c", NULL, &(vdb_pk_list){.ints = del, .count = 300}, NULL));
    OK(vdb_wait_for_seals(db, "c", 60000)); /* segments past the threshold seal behind */
    vdb_stats st = {.struct_size = sizeof st};
    OK(vdb_collection_stats(db, "c", &st));
    assert_true(st.sealed_segments >= 10);

    static hits par[3], seq[3];
    const char *params[3] = {NULL, "radius=3.5", "ef=64"};
    for (int v = 0; v < 2; v++)
        OK(search(db, "c", svecs, PNQ, SDIM, PK, params[v], NULL, "g != 3", &par[v]));
    /* k beyond the rows: every visible row that passes */
    vdb_search_req req = {.struct_size = sizeof req, .collection = "c", .vectors = svecs,
                          .nq = 1, .dim = SDIM, .k = 16384, .filter = "g != 3"};
    vdb_result *all_par, *all_seq;
    OK(vdb_search(db, &req, &all_par));
    assert_int_equal(vdb_result_rows(all_par, 0), 5400 - 270);
    /* concurrent callers all get the same answer */
    pthread_t th[4];
    par_search ps = {db, &par[0], NULL, 0};
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, search_loop, &ps);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(ps.bad, 0);
    /* with HNSW on every sealed segment */
    OK(vdb_create_index(db, "c", "v", "HNSW", "M=8,efConstruction=64"));
    OK(vdb_wait_for_index(db, "c", "v", 120000));
    OK(search(db, "c", svecs, PNQ, SDIM, PK, params[2], NULL, "g != 3", &par[2]));
    vdb_close(db);

    db = open_db(dir, 400, 1); /* the caller's thread only */
    OK(search(db, "c", svecs, PNQ, SDIM, PK, params[2], NULL, "g != 3", &seq[2]));
    OK(vdb_drop_index(db, "c", "v")); /* the others were exact */
    for (int v = 0; v < 2; v++)
        OK(search(db, "c", svecs, PNQ, SDIM, PK, params[v], NULL, "g != 3", &seq[v]));
    OK(vdb_search(db, &req, &all_seq));
    vdb_close(db);
    for (int v = 0; v < 3; v++)
        for (size_t q = 0; q < PNQ; q++) {
            assert_int_equal(par[v].n[q], seq[v].n[q]);
            for (size_t i = 0; i < par[v].n[q]; i++)
                if (par[v].id[q][i] != seq[v].id[q][i] || par[v].d[q][i] != seq[v].d[q][i])
                    fail_msg("params %s, query %zu, hit %zu: %lld (%g) in parallel, %lld (%g) "
                             "on one thread", params[v] ? params[v] : "none", q, i,
                             (long long)par[v].id[q][i], par[v].d[q][i],
                             (long long)seq[v].id[q][i], seq[v].d[q][i]);
        }
    assert_int_equal(vdb_result_rows(all_seq, 0), vdb_result_rows(all_par, 0));
    for (size_t i = 0; i < vdb_result_rows(all_par, 0); i++) {
        assert_int_equal(vdb_result_pk_int(all_par, 0, i), vdb_result_pk_int(all_seq, 0, i));
        assert_true(i == 0 || vdb_result_distance(all_par, 0, i - 1) <=
                                  vdb_result_distance(all_par, 0, i));
    }
    vdb_result_free(all_par);
    vdb_result_free(all_seq);
    test_rmdir(dir);
    free(dir);
}

/* ---- background builds ---- */

typedef struct progress_log {
    pthread_mutex_t mu;
    int calls, finals, bad, inside;
    uint64_t last_total;
} progress_log;

static void on_progress(void *arg, const char *coll, const char *field, uint64_t done,
                        uint64_t total)
{
    progress_log *l = arg;
    if (__atomic_add_fetch(&l->inside, 1, __ATOMIC_SEQ_CST) != 1)
        l->bad++; /* two calls at once */
    pthread_mutex_lock(&l->mu);
    l->calls++;
    l->finals += done == total;
    l->last_total = total;
    if (strcmp(coll, "c") || strcmp(field, "v") || done > total || total == 0)
        l->bad++;
    pthread_mutex_unlock(&l->mu);
    __atomic_sub_fetch(&l->inside, 1, __ATOMIC_SEQ_CST);
}

typedef struct searcher {
    vdb_db *db;
    const hits *truth;
    int stop; /* atomic */
    int runs, bad;
    double worst;
} searcher;

/* Searches in a loop while an index lands: every answer a valid top-k of visible rows
 * (full, best first, distinct, no deleted row) with recall at the indexed floor or better. */
static void *searching(void *arg)
{
    searcher *s = arg;
    static hits got;
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE) || s->runs < 3) {
        if (search(s->db, "c", queries, 10, DIM, K, "ef=64", NULL, NULL, &got) != VDB_OK) {
            s->bad++;
            break;
        }
        for (size_t q = 0; q < 10; q++) {
            s->bad += got.n[q] != K;
            for (size_t i = 0; i < got.n[q]; i++) {
                s->bad += got.id[q][i] < 100; /* deleted before the loop */
                s->bad += i > 0 && got.d[q][i - 1] > got.d[q][i];
                for (size_t j = 0; j < i; j++)
                    s->bad += got.id[q][j] == got.id[q][i];
            }
        }
        double r = recall(&got, s->truth, 10);
        s->worst = r < s->worst ? r : s->worst;
        s->runs++;
    }
    return NULL;
}

static void test_builds_run_in_background_with_progress_and_searches_meanwhile(void **state)
{
    (void)state;
    NEED_DATA();
    char *dir = test_tmpdir("e2e_ann_bg");
    vdb_db *db = open_db(dir, 0, 0);
    static progress_log log = {.mu = PTHREAD_MUTEX_INITIALIZER};
    OK(vdb_set_index_progress(db, on_progress, &log));
    make_collection(db, "c", DIM, VDB_METRIC_L2);
    insert(db, "c", NULL, base, DIM, 0, ROWS / 2);
    OK(vdb_flush(db, "c"));
    insert(db, "c", NULL, base, DIM, ROWS / 2, ROWS);
    OK(vdb_flush(db, "c"));
    int64_t del[100];
    for (int i = 0; i < 100; i++)
        del[i] = i;
    OK(vdb_delete(db, "c", NULL, &(vdb_pk_list){.ints = del, .count = 100}, NULL));
    static hits truth;
    OK(search(db, "c", queries, 10, DIM, K, NULL, NULL, NULL, &truth));

    searcher s = {db, &truth, 0, 0, 0, 1.0};
    pthread_t th;
    pthread_create(&th, NULL, searching, &s);
    double t0 = now_s();
    OK(vdb_create_index(db, "c", "v", "HNSW", "M=16,efConstruction=200"));
    /* create_index returned before the builds ended */
    uint64_t indexed, total;
    OK(vdb_index_progress(db, "c", "v", &indexed, &total));
    assert_int_equal(total, ROWS);
    assert_true(indexed < total);
    ERR(vdb_wait_for_index(db, "c", "v", 0), VDB_ETIMEDOUT, "building");
    OK(vdb_wait_for_index(db, "c", "v", UINT64_MAX));
    double secs = now_s() - t0;
    __atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    OK(vdb_index_progress(db, "c", "v", &indexed, &total));
    assert_int_equal(indexed, total);
    print_message("build of 2 segments: %.2f s, %d progress calls, %d searches meanwhile, "
                  "worst recall %.3f\n", secs, log.calls, s.runs, s.worst);
    assert_int_equal(s.bad, 0);
    assert_true(s.worst >= 0.95);
    pthread_mutex_lock(&log.mu);
    assert_int_equal(log.bad, 0);
    assert_int_equal(log.finals, 2);   /* once at the end of each segment's build */
    assert_true(log.calls >= 2);
    assert_true(log.calls <= 2 * (int)(secs * 10 + 2)); /* at most ~10 a second a build */
    pthread_mutex_unlock(&log.mu);

    /* a new sealed segment is indexed in the background too */
    OK(vdb_set_index_progress(db, NULL, NULL));
    insert(db, "c", NULL, base, DIM, 0, 200);
    OK(vdb_flush(db, "c"));
    OK(vdb_wait_for_index(db, "c", "v", 60000));
    vdb_stats st = {.struct_size = sizeof st};
    OK(vdb_collection_stats(db, "c", &st));
    assert_int_equal(st.indexed_rows, st.sealed_rows);
    assert_int_equal(log.finals, 2); /* the callback was cleared */

    /* a build that fails leaves its segment exact and is reported: PQ codes of 16 bits
     * need more rows to train than a small segment has (IVF_PQ needs Faiss: see
     * test_ivf_sq8_and_pq_without_faiss_answer_unsupported for a build without it) */
#ifdef VDB_HAVE_FAISS
    make_collection(db, "f", SDIM, VDB_METRIC_L2);
    make_small();
    insert(db, "f", NULL, svecs, SDIM, 0, 300);
    OK(vdb_flush(db, "f"));
    OK(vdb_create_index(db, "f", "v", "IVF_PQ", "nlist=4,m=16,nbits=16"));
    vdb_status ws = vdb_wait_for_index(db, "f", "v", 60000);
    static hits h;
    OK(search(db, "f", svecs, 1, SDIM, 5, "nprobe=4", NULL, NULL, &h));
    assert_int_equal(h.id[0][0], 0);
    OK(vdb_collection_stats(db, "f", &st));
    print_message("IVF_PQ nbits=16 on 300 rows: %s (%s), failed builds %llu\n",
                  vdb_status_name(ws), vdb_errmsg(db), (unsigned long long)st.failed_index_builds);
    if (ws != VDB_OK) {
        assert_true(st.failed_index_builds == 1);
        assert_non_null(strstr(vdb_errmsg(db), "IVF_PQ"));
    }
#endif
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

/* A build without Faiss refuses IVF_SQ8 and IVF_PQ with VDB_EUNSUPPORTED and a message naming
 * the type and Faiss. create_index does not call into the index code yet, so today the refusal
 * comes from the build of the first sealed segment (wait_for_index reports it, the segment
 * stays exact, nothing else changes); once create_index checks the type with vdb_ivf_check it
 * comes from create_index itself, and nothing is recorded. Either way searches go on exact.
 * Skipped in a build with Faiss. */
static void test_ivf_sq8_and_pq_without_faiss_answer_unsupported(void **state)
{
    (void)state;
#ifdef VDB_HAVE_FAISS
    print_message("skipped: this libvdb is built with Faiss\n");
    skip();
#else
    make_small();
    char *dir = test_tmpdir("e2e_ann_nofaiss");
    vdb_db *db = open_db(dir, 0, 0);
    const char *types[] = {"IVF_SQ8", "IVF_PQ"}, *params[] = {"nlist=4", "nlist=4,m=4"};
    for (int i = 0; i < 2; i++) {
        char name[8];
        snprintf(name, sizeof name, "c%d", i);
        make_collection(db, name, SDIM, VDB_METRIC_L2);
        insert(db, name, NULL, svecs, SDIM, 0, 300);
        OK(vdb_flush(db, name));
        vdb_status st = vdb_create_index(db, name, "v", types[i], params[i]);
        if (st == VDB_OK)
            st = vdb_wait_for_index(db, name, "v", 60000);
        print_message("%s without Faiss: %s (%s)\n", types[i], vdb_status_name(st),
                      vdb_errmsg(db));
        assert_int_equal(st, VDB_EUNSUPPORTED);
        assert_non_null(strstr(vdb_errmsg(db), types[i]));
        assert_non_null(strstr(vdb_errmsg(db), "Faiss"));
        static hits h;
        OK(search(db, name, svecs + 7 * SDIM, 1, SDIM, 5, "nprobe=4", NULL, NULL, &h));
        assert_int_equal(h.id[0][0], 7);
        vdb_stats vs;
        OK(vdb_collection_stats(db, name, &vs));
        assert_int_equal(vs.indexed_rows, 0);
    }
    /* IVF_FLAT is there all the same */
    make_collection(db, "c2", SDIM, VDB_METRIC_L2);
    insert(db, "c2", NULL, svecs, SDIM, 0, 300);
    OK(vdb_flush(db, "c2"));
    OK(vdb_create_index(db, "c2", "v", "IVF_FLAT", "nlist=4"));
    OK(vdb_wait_for_index(db, "c2", "v", 60000));
    vdb_stats vs;
    OK(vdb_collection_stats(db, "c2", &vs));
    assert_int_equal(vs.indexed_rows, 300);
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
#endif
}

static void test_drop_index_drop_collection_and_close_while_builds_pending(void **state)
{
    (void)state;
    NEED_DATA();
    char *dir = test_tmpdir("e2e_ann_drop");
    vdb_db *db = open_db(dir, (uint64_t)ROWS / 4, 0);
    make_collection(db, "c", DIM, VDB_METRIC_L2);
    make_collection(db, "d", DIM, VDB_METRIC_L2);
    insert(db, "c", NULL, base, DIM, 0, ROWS); /* four sealed segments */
    insert(db, "d", NULL, base, DIM, 0, ROWS);
    OK(vdb_flush(db, "c"));
    OK(vdb_flush(db, "d"));
    /* drop while queued/running, then again with other parameters: the old builds are
     * thrown away, the new ones land */
    OK(vdb_create_index(db, "c", "v", "HNSW", "M=8,efConstruction=32"));
    OK(vdb_drop_index(db, "c", "v"));
    OK(vdb_create_index(db, "c", "v", "IVF_FLAT", "nlist=32"));
    OK(vdb_wait_for_index(db, "c", "v", 120000));
    const char *t;
    OK(vdb_describe_index(db, "c", "v", &t));
    assert_string_equal(t, "IVF_FLAT");
    /* drop a collection whose builds are pending, and a partition of the other */
    OK(vdb_create_index(db, "d", "v", "HNSW", "M=8,efConstruction=32"));
    OK(vdb_drop_collection(db, "d"));
    ERR(vdb_wait_for_index(db, "d", "v", 0), VDB_ENOTFOUND, "d");
    /* compaction replaces segments whose builds are pending */
    OK(vdb_drop_index(db, "c", "v"));
    OK(vdb_create_index(db, "c", "v", "HNSW", "M=8,efConstruction=32"));
    int64_t del[ROWS / 4];
    for (int i = 0; i < ROWS / 4; i++)
        del[i] = i * 4;
    OK(vdb_delete(db, "c", NULL, &(vdb_pk_list){.ints = del, .count = ROWS / 4}, NULL));
    OK(vdb_flush(db, "c"));
    /* close with builds still queued: nothing leaks, nothing hangs; open builds them again */
    vdb_close(db);
    db = open_db(dir, (uint64_t)ROWS / 4, 0);
    OK(vdb_wait_for_index(db, "c", "v", 120000));
    static hits got;
    OK(search(db, "c", queries, 5, DIM, K, "ef=64", NULL, NULL, &got));
    for (size_t q = 0; q < 5; q++)
        for (size_t i = 0; i < got.n[q]; i++)
            assert_true(got.id[q][i] % 4 != 0 || got.id[q][i] >= ROWS);
    OK(vdb_create_index(db, "c", "g", "STL_SORT", NULL)); /* scalar: built synchronously */
    OK(vdb_wait_for_index(db, "c", "g", 0));
    vdb_close(db);
    test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_index_types_params_and_search_params_are_errors),
        cmocka_unit_test(test_flat_range_search_returns_exactly_the_rows_in_the_window),
        cmocka_unit_test(test_parallel_search_of_many_segments_equals_one_thread),
        cmocka_unit_test(test_hnsw_recall_l2_cosine_partitions_deletes_range_reopen),
        cmocka_unit_test(test_ivf_flat_recall_l2_cosine_partitions_deletes_range_reopen),
        cmocka_unit_test(test_ivf_sq8_recall_l2_cosine_partitions_deletes_range_reopen),
        cmocka_unit_test(test_ivf_pq_recall_l2_partitions_deletes_range_reopen),
        cmocka_unit_test(test_builds_run_in_background_with_progress_and_searches_meanwhile),
        cmocka_unit_test(test_drop_index_drop_collection_and_close_while_builds_pending),
        cmocka_unit_test(test_ivf_sq8_and_pq_without_faiss_answer_unsupported),
    };
    return cmocka_run_group_tests(tests, load_data, free_data);
}

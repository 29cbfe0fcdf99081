/* order_by on query results (vdb_query_ordered): against a sort of the live rows done here,
 * for one and several keys, asc and desc, NULLs, limit and offset, a filter, across sealed
 * and growing segments, after deletes, compaction and reopen; the fields it refuses. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vdb/vdb.h>

#include "test_api.h"

#define VDB_MIN(a, b) ((a) < (b) ? (a) : (b))

enum { D = 2, N = 3000 };

typedef struct row {
    int64_t id;
    double price;
    bool price_null;
    char cat[8];
    int32_t n;
    bool n_null;
    uint8_t flag;
    bool alive;
} row;

static row rows[N];

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

static void create(vdb_db *db)
{
    vdb_schema *s;
    OK(vdb_schema_new("c", &s));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "id", .type = VDB_TYPE_INT64,
                                         .is_primary = 1)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "price", .type = VDB_TYPE_DOUBLE,
                                         .nullable = 1)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "cat", .type = VDB_TYPE_VARCHAR,
                                         .max_length = 8)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "n", .type = VDB_TYPE_INT32, .nullable = 1)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "flag", .type = VDB_TYPE_BOOL)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "meta", .type = VDB_TYPE_JSON)));
    OK(vdb_schema_add_field(s, VDB_FIELD(.name = "vec", .type = VDB_TYPE_FLOAT_VECTOR, .dim = D)));
    OK(vdb_create_collection(db, s));
    vdb_schema_free(s);
}

static void insert(vdb_db *db, size_t first, size_t n)
{
    int64_t *ids = calloc(n, 8);
    double *price = calloc(n, 8);
    int32_t *nv = calloc(n, 4);
    uint8_t *pv = calloc(n, 1), *nvv = calloc(n, 1), *flag = calloc(n, 1);
    const char **cat = calloc(n, sizeof *cat), **meta = calloc(n, sizeof *meta);
    float *vec = calloc(n * D, 4);
    for (size_t i = 0; i < n; i++) {
        row *r = &rows[first + i];
        uint64_t h = (first + i + 1) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 31;
        r->id = (int64_t)(first + i);
        r->price_null = h % 13 == 0;
        r->price = (double)(h % 200) / 4.0 - 10; /* many ties */
        snprintf(r->cat, sizeof r->cat, "c%d", (int)((h >> 8) % 5));
        r->n_null = (h >> 16) % 7 == 0;
        r->n = (int32_t)((h >> 20) % 50) - 25;
        r->flag = (h >> 30) & 1;
        r->alive = true;
        ids[i] = r->id;
        price[i] = r->price;
        pv[i] = !r->price_null;
        nv[i] = r->n;
        nvv[i] = !r->n_null;
        flag[i] = r->flag;
        cat[i] = r->cat;
        meta[i] = "{}";
    }
    vdb_batch *b;
    OK(vdb_batch_new(&b));
    OK(vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0));
    OK(vdb_batch_add_column(b, "price", VDB_TYPE_DOUBLE, price, pv, n, 0));
    OK(vdb_batch_add_column(b, "cat", VDB_TYPE_VARCHAR, cat, NULL, n, 0));
    OK(vdb_batch_add_column(b, "n", VDB_TYPE_INT32, nv, nvv, n, 0));
    OK(vdb_batch_add_column(b, "flag", VDB_TYPE_BOOL, flag, NULL, n, 0));
    OK(vdb_batch_add_column(b, "meta", VDB_TYPE_JSON, meta, NULL, n, 0));
    OK(vdb_batch_add_column(b, "vec", VDB_TYPE_FLOAT_VECTOR, vec, NULL, n, D));
    OK(vdb_insert(db, "c", NULL, b, NULL, NULL));
    vdb_batch_free(b);
    free(ids);
    free(price);
    free(nv);
    free(pv);
    free(nvv);
    free(flag);
    free(cat);
    free(meta);
    free(vec);
}

/* The reference: a comparison of two rows under the keys, as the API promises. */
static const vdb_order_by *ref_by;
static size_t ref_n;

static int cmp3(double a, double b) { return a < b ? -1 : a > b; }

static int ref_cmp(const void *pa, const void *pb)
{
    const row *a = &rows[*(const int64_t *)pa], *b = &rows[*(const int64_t *)pb];
    for (size_t k = 0; k < ref_n; k++) {
        const char *f = ref_by[k].field;
        int r = 0;
        bool na = false, nb = false;
        if (!strcmp(f, "price")) {
            na = a->price_null;
            nb = b->price_null;
            r = cmp3(a->price, b->price);
        } else if (!strcmp(f, "n")) {
            na = a->n_null;
            nb = b->n_null;
            r = cmp3(a->n, b->n);
        } else if (!strcmp(f, "cat")) {
            r = strcmp(a->cat, b->cat);
            r = r < 0 ? -1 : r > 0;
        } else if (!strcmp(f, "flag")) {
            r = cmp3(a->flag, b->flag);
        } else {
            r = cmp3((double)a->id, (double)b->id);
        }
        if (na || nb) {
            if (na != nb)
                return na ? 1 : -1;
            continue;
        }
        if (ref_by[k].desc)
            r = -r;
        if (r)
            return r;
    }
    return cmp3((double)a->id, (double)b->id);
}

static void check_order(vdb_db *db, const char *filter, const vdb_order_by *by, size_t nby,
                        uint64_t limit, uint64_t offset, const char *when)
{
    int64_t *ref = malloc(N * sizeof *ref);
    size_t nref = 0;
    for (size_t i = 0; i < N; i++)
        if (rows[i].alive && rows[i].id >= 0 && (!filter || rows[i].id % 3 != 0))
            ref[nref++] = rows[i].id;
    ref_by = by;
    ref_n = nby;
    qsort(ref, nref, sizeof *ref, ref_cmp);
    size_t from = VDB_MIN((size_t)offset, nref);
    size_t want = limit ? VDB_MIN((size_t)limit, nref - from) : nref - from;
    vdb_result *res;
    OK(vdb_query_ordered(db, "c", filter ? filter : "id >= 0", NULL, limit, offset, by, nby,
                         &res));
    size_t got = vdb_result_rows(res, 0);
    if (got != want)
        fail_msg("%s: %zu rows, expected %zu (by %s, limit %llu, offset %llu)", when, got, want,
                 by[0].field, (unsigned long long)limit, (unsigned long long)offset);
    for (size_t i = 0; i < got; i++)
        if (vdb_result_pk_int(res, 0, i) != ref[from + i])
            fail_msg("%s: row %zu is pk %lld, expected %lld (by %s%s, limit %llu, offset %llu)",
                     when, i, (long long)vdb_result_pk_int(res, 0, i), (long long)ref[from + i],
                     by[0].field, by[0].desc ? " desc" : "", (unsigned long long)limit,
                     (unsigned long long)offset);
    vdb_result_free(res);
    free(ref);
}

static void check_all(vdb_db *db, const char *when)
{
    static const vdb_order_by k1[] = {{"price", 0}}, k2[] = {{"price", 1}},
                              k3[] = {{"cat", 0}, {"n", 1}}, k4[] = {{"flag", 1}, {"price", 0}},
                              k5[] = {{"n", 0}, {"cat", 1}, {"price", 1}}, k6[] = {{"id", 1}};
    const struct { const vdb_order_by *by; size_t n; } keys[] = {
        {k1, 1}, {k2, 1}, {k3, 2}, {k4, 2}, {k5, 3}, {k6, 1}};
    const uint64_t limits[][2] = {{0, 0}, {10, 0}, {7, 5}, {100, 37}, {0, 2000}, {50, 5000}};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++) {
            check_order(db, NULL, keys[k].by, keys[k].n, limits[l][0], limits[l][1], when);
            check_order(db, "id % 3 != 0", keys[k].by, keys[k].n, limits[l][0], limits[l][1],
                        when);
        }
}

static void test_order_by_equals_a_sort(void **state)
{
    (void)state;
    char *dir = test_tmpdir("orderby");
    vdb_db *db = open_db(dir);
    create(db);
    insert(db, 0, N / 3);
    OK(vdb_flush(db, "c"));
    insert(db, N / 3, N / 3);
    OK(vdb_flush(db, "c"));
    insert(db, 2 * N / 3, N - 2 * N / 3); /* growing */
    check_all(db, "fresh");
    int64_t del[N / 5];
    size_t nd = 0;
    for (size_t i = 0; i < N; i += 5)
        del[nd++] = (int64_t)i;
    OK(vdb_delete(db, "c", NULL, &(vdb_pk_list){.ints = del, .count = nd}, NULL));
    for (size_t i = 0; i < nd; i++)
        rows[del[i]].alive = false;
    check_all(db, "after deletes");
    OK(vdb_flush(db, "c"));
    OK(vdb_compact(db, "c"));
    check_all(db, "after compaction");
    vdb_close(db);
    db = open_db(dir);
    check_all(db, "after reopen");

    vdb_result *res;
    ERR(vdb_query_ordered(db, "c", "id >= 0", NULL, 10, 0, &(vdb_order_by){"vec", 0}, 1, &res),
        VDB_EINVAL, "vec");
    ERR(vdb_query_ordered(db, "c", "id >= 0", NULL, 10, 0, &(vdb_order_by){"meta", 0}, 1, &res),
        VDB_EINVAL, "JSON");
    ERR(vdb_query_ordered(db, "c", "id >= 0", NULL, 10, 0, &(vdb_order_by){"nope", 0}, 1, &res),
        VDB_EINVAL, "nope");
    const vdb_order_by twice[] = {{"price", 0}, {"price", 1}};
    ERR(vdb_query_ordered(db, "c", "id >= 0", NULL, 10, 0, twice, 2, &res), VDB_EINVAL, "twice");
    ERR(vdb_query_ordered(db, "c", "id >= 0", NULL, 10, 0, NULL, 1, &res), VDB_EINVAL, NULL);
    vdb_close(db);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_by_equals_a_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

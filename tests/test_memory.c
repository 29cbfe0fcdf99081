/* The memory budget (vdb_options.memory_budget_bytes) and vdb_stats.memory_bytes: an open
 * whose data is past the budget fails, inserts past it are refused and change nothing while
 * reads and deletes go on, and mmap brings the same data under a budget it was over. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vdb/vdb.h>

#include "test_common.h"

#define DIM 64
#define BATCH 1000

static vdb_status insert_rows(vdb_db *db, int64_t first, size_t n)
{
    int64_t *ids = malloc(n * sizeof *ids);
    float *vecs = malloc(n * DIM * sizeof *vecs);
    assert_true(ids && vecs);
    for (size_t i = 0; i < n; i++) {
        ids[i] = first + (int64_t)i;
        for (int d = 0; d < DIM; d++)
            vecs[i * DIM + d] = (float)((ids[i] * 13 + d) % 101) / 101.0f;
    }
    vdb_batch *b = NULL;
    vdb_status st = vdb_batch_new(&b);
    if (st == VDB_OK && (st = vdb_batch_add_column(b, "id", VDB_TYPE_INT64, ids, NULL, n, 0)) ==
                            VDB_OK &&
        (st = vdb_batch_add_column(b, "v", VDB_TYPE_FLOAT_VECTOR, vecs, NULL, n, DIM)) == VDB_OK)
        st = vdb_insert(db, "m", NULL, b, NULL, NULL);
    vdb_batch_free(b);
    free(ids);
    free(vecs);
    return st;
}

static uint64_t memory_of(vdb_db *db, uint64_t *rows)
{
    vdb_stats s = {.struct_size = sizeof s};
    assert_int_equal(vdb_collection_stats(db, "m", &s), VDB_OK);
    if (rows)
        *rows = s.row_count;
    return s.memory_bytes;
}

static vdb_status open_with(const char *path, uint64_t budget, int mmap, vdb_db **db)
{
    vdb_options o;
    vdb_options_init(&o);
    o.memory_budget_bytes = budget;
    o.mmap = (uint32_t)mmap;
    o.compaction_interval_ms = 0;
    return vdb_open(path, &o, db);
}

static void test_budget_refuses_opens_and_inserts_past_it(void **state)
{
    (void)state;
    char *path = test_tmpdir("memory");
    vdb_db *db = NULL;
    assert_int_equal(open_with(path, 0, 0, &db), VDB_OK);
    vdb_schema *s = NULL;
    assert_int_equal(vdb_schema_new("m", &s), VDB_OK);
    vdb_field_def id = {.struct_size = sizeof id, .name = "id", .type = VDB_TYPE_INT64,
                        .is_primary = 1};
    vdb_field_def v = {.struct_size = sizeof v, .name = "v", .type = VDB_TYPE_FLOAT_VECTOR,
                       .dim = DIM};
    assert_int_equal(vdb_schema_add_field(s, &id), VDB_OK);
    assert_int_equal(vdb_schema_add_field(s, &v), VDB_OK);
    assert_int_equal(vdb_create_collection(db, s), VDB_OK);
    vdb_schema_free(s);
    for (int b = 0; b < 8; b++)
        assert_int_equal(insert_rows(db, b * BATCH, BATCH), VDB_OK);
    assert_int_equal(vdb_flush(db, "m"), VDB_OK);
    uint64_t heap = memory_of(db, NULL);
    /* at least the vectors and keys of 8,000 rows */
    assert_true(heap >= 8 * BATCH * (DIM * 4 + 8));
    printf("# 8,000 x %d-d rows sealed: %llu bytes in memory (%.0f per row)\n", DIM,
           (unsigned long long)heap, (double)heap / (8 * BATCH));
    vdb_close(db);

    /* past the budget at open: refused, naming it */
    assert_int_equal(open_with(path, heap / 2, 0, &db), VDB_ERANGE);
    assert_non_null(strstr(vdb_errmsg(NULL), "memory budget"));

    /* under it: inserts go on until the budget is reached, then are refused */
    uint64_t budget = heap + heap / 4;
    assert_int_equal(open_with(path, budget, 0, &db), VDB_OK);
    int64_t next = 8 * BATCH;
    vdb_status st;
    while ((st = insert_rows(db, next, BATCH)) == VDB_OK)
        next += BATCH;
    assert_int_equal(st, VDB_ERANGE);
    assert_non_null(strstr(vdb_errmsg(db), "memory budget"));
    uint64_t rows = 0;
    uint64_t used = memory_of(db, &rows);
    assert_true(used > budget);
    assert_int_equal(rows, (uint64_t)next); /* the refused batch changed nothing */
    assert_true(next > 8 * BATCH);
    /* reads and deletes go on */
    uint64_t n = 0;
    assert_int_equal(vdb_count(db, "m", "id < 100", NULL, &n), VDB_OK);
    assert_int_equal(n, 100);
    uint64_t deleted = 0;
    assert_int_equal(vdb_delete_where(db, "m", NULL, "id < 100", NULL, &deleted), VDB_OK);
    assert_int_equal(deleted, 100);
    vdb_close(db);

    /* mmap: the vectors are the page cache's, so the same data opens under a budget it was
     * over on the heap, and takes inserts again */
    assert_int_equal(open_with(path, 0, 0, &db), VDB_OK);
    assert_int_equal(vdb_flush(db, "m"), VDB_OK);
    heap = memory_of(db, NULL);
    vdb_close(db);
    assert_int_equal(open_with(path, heap / 2, 1, &db), VDB_OK);
    uint64_t mapped = memory_of(db, NULL);
    printf("# the same rows with mmap: %llu bytes in memory, %llu without\n",
           (unsigned long long)mapped, (unsigned long long)heap);
    assert_true(mapped < heap / 2);
    assert_int_equal(insert_rows(db, next, BATCH), VDB_OK);
    vdb_close(db);
    test_rmdir(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_refuses_opens_and_inserts_past_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

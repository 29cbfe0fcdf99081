/* Tests for the timestamp oracle: strictly increasing timestamps within a process, across
 * threads and across restarts, the persisted window, and the logical counter's overflow. */
#define _GNU_SOURCE
#include "test_common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/storage.h"
#include "tso/tso.h"

static const vdb_meta_backend *be = &vdb_meta_local_backend;
static const char *KEY = "tso/window";

typedef struct fixture {
    char *dir;
    char uri[4200];
    void *meta;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir("tso");
    if (!f->dir)
        return -1;
    snprintf(f->uri, sizeof f->uri, "local://%s", f->dir);
    if (be->open(f->uri, NULL, &f->meta) != VDB_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->meta)
        be->close(f->meta);
    test_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static uint64_t saved_window(fixture *f)
{
    void *v;
    size_t len;
    assert_int_equal(be->get(f->meta, KEY, &v, &len), VDB_OK);
    assert_int_equal(len, 8);
    uint64_t w = vdb_get_u64(v);
    free(v);
    return w;
}

static void set_window(fixture *f, uint64_t w)
{
    uint8_t v[8];
    vdb_put_u64(v, w);
    assert_int_equal(be->put(f->meta, KEY, v, 8), VDB_OK);
}

static void test_100k_timestamps_strictly_increase_near_now(void **state)
{
    fixture *f = *state;
    vdb_tso *t;
    assert_int_equal(vdb_tso_open(be, f->meta, KEY, 0, &t), VDB_OK);
    assert_true(vdb_tso_last(t) == 0);
    uint64_t before = vdb_now_ms();
    uint64_t prev = 0, ts = 0;
    for (int i = 0; i < 100000; i++) {
        assert_int_equal(vdb_tso_next(t, &ts), VDB_OK);
        if (ts <= prev)
            fail_msg("timestamp %d: %llu after %llu", i, (unsigned long long)ts,
                     (unsigned long long)prev);
        prev = ts;
    }
    uint64_t after = vdb_now_ms();
    assert_true(vdb_tso_last(t) == ts);
    /* The physical part follows the clock: never behind it when taken, and at most a
     * fraction of a millisecond of counter overflow ahead of it. */
    assert_true(vdb_ts_physical(ts) >= before);
    assert_true(vdb_ts_physical(ts) <= after + 1);
    /* The reserved window covers what was handed out and reaches about 3 s ahead. */
    uint64_t w = saved_window(f);
    assert_true(w >= vdb_ts_physical(ts));
    assert_true(w <= after + 1 + 3000);
    vdb_tso_close(t);
}

typedef struct worker {
    vdb_tso *t;
    uint64_t *out;
    int n;
    vdb_status st;
} worker;

static void *take_many(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->n && w->st == VDB_OK; i++)
        w->st = vdb_tso_next(w->t, &w->out[i]);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void test_threads_get_distinct_increasing_timestamps(void **state)
{
    fixture *f = *state;
    enum { THREADS = 4, PER = 25000 };
    vdb_tso *t;
    assert_int_equal(vdb_tso_open(be, f->meta, KEY, 50, &t), VDB_OK);
    uint64_t *all = calloc(THREADS * PER, sizeof *all);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){t, all + i * PER, PER, VDB_OK};
        assert_int_equal(pthread_create(&th[i], NULL, take_many, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].st, VDB_OK);
        for (int j = 1; j < PER; j++)
            assert_true(w[i].out[j] > w[i].out[j - 1]);
    }
    qsort(all, THREADS * PER, sizeof *all, cmp_u64);
    for (int j = 1; j < THREADS * PER; j++)
        if (all[j] == all[j - 1])
            fail_msg("timestamp %llu handed out twice", (unsigned long long)all[j]);
    assert_true(vdb_tso_last(t) == all[THREADS * PER - 1]);
    free(all);
    vdb_tso_close(t);
}

static void test_reopen_continues_above_everything_handed_out(void **state)
{
    fixture *f = *state;
    vdb_tso *t;
    uint64_t last = 0, ts;
    for (int round = 0; round < 5; round++) {
        assert_int_equal(vdb_tso_open(be, f->meta, KEY, 0, &t), VDB_OK);
        assert_int_equal(vdb_tso_next(t, &ts), VDB_OK);
        assert_true(ts > last);
        for (int i = 0; i < 1000; i++)
            assert_int_equal(vdb_tso_next(t, &last), VDB_OK);
        vdb_tso_close(t);
        /* The meta store itself restarts too. */
        be->close(f->meta);
        f->meta = NULL;
        assert_int_equal(be->open(f->uri, NULL, &f->meta), VDB_OK);
    }
}

static void test_reopen_with_window_in_the_future_starts_above_it(void **state)
{
    fixture *f = *state;
    /* As if the clock went back by a minute since the window was saved. */
    uint64_t future = vdb_now_ms() + 60000;
    set_window(f, future);
    vdb_tso *t;
    assert_int_equal(vdb_tso_open(be, f->meta, KEY, 0, &t), VDB_OK);
    assert_true(vdb_tso_last(t) == 0);
    uint64_t ts, prev;
    assert_int_equal(vdb_tso_next(t, &ts), VDB_OK);
    assert_true(vdb_ts_physical(ts) == future + 1);
    assert_true(vdb_ts_logical(ts) == 0);
    assert_true(saved_window(f) > future + 1);
    for (int i = 0; i < 100; i++) {
        prev = ts;
        assert_int_equal(vdb_tso_next(t, &ts), VDB_OK);
        assert_true(ts == prev + 1); /* the clock is behind: only the counter moves */
    }
    vdb_tso_close(t);
}

static void test_logical_overflow_moves_physical_forward(void **state)
{
    fixture *f = *state;
    uint64_t future = vdb_now_ms() + 600000; /* far enough that the clock never catches up */
    set_window(f, future);
    vdb_tso *t;
    assert_int_equal(vdb_tso_open(be, f->meta, KEY, 0, &t), VDB_OK);
    uint64_t ts = 0, prev = 0;
    for (uint64_t i = 0; i <= VDB_TS_LOGICAL_MASK + 1; i++) {
        assert_int_equal(vdb_tso_next(t, &ts), VDB_OK);
        assert_true(ts > prev);
        prev = ts;
    }
    /* future+1 took logical 0..MASK; the next one is future+2, logical 0. */
    assert_true(vdb_ts_physical(ts) == future + 2);
    assert_true(vdb_ts_logical(ts) == 0);
    assert_true(saved_window(f) >= future + 2);
    vdb_tso_close(t);
}

static void test_corrupt_window_value_is_ecorrupt(void **state)
{
    fixture *f = *state;
    assert_int_equal(be->put(f->meta, KEY, "abc", 3), VDB_OK);
    vdb_tso *t = NULL;
    assert_int_equal(vdb_tso_open(be, f->meta, KEY, 0, &t), VDB_ECORRUPT);
    assert_non_null(strstr(vdb_err_get(), KEY));
    assert_null(t);
}

/* A meta backend whose writes can be made to fail, to see that no timestamp escapes
 * without its window saved. */
static int fail_puts;
static vdb_status failing_put(void *m, const char *k, const void *v, size_t n)
{
    if (fail_puts)
        return vdb_set_errmsg(VDB_EIO, "injected put failure");
    return vdb_meta_local_backend.put(m, k, v, n);
}

static void test_window_save_failure_hands_out_nothing(void **state)
{
    fixture *f = *state;
    vdb_meta_backend failing = vdb_meta_local_backend;
    failing.put = failing_put;
    vdb_tso *t;
    assert_int_equal(vdb_tso_open(&failing, f->meta, KEY, 0, &t), VDB_OK);
    fail_puts = 1;
    uint64_t ts = 0;
    assert_int_equal(vdb_tso_next(t, &ts), VDB_EIO);
    assert_non_null(strstr(vdb_err_get(), "injected"));
    assert_true(ts == 0);
    assert_true(vdb_tso_last(t) == 0);
    fail_puts = 0;
    assert_int_equal(vdb_tso_next(t, &ts), VDB_OK);
    assert_true(ts > 0);
    assert_true(saved_window(f) >= vdb_ts_physical(ts));
    vdb_tso_close(t);
}

static void test_ts_helpers_pack_and_unpack(void **state)
{
    (void)state;
    uint64_t ts = vdb_ts_make(1700000000000ULL, 12345);
    assert_true(vdb_ts_physical(ts) == 1700000000000ULL);
    assert_true(vdb_ts_logical(ts) == 12345);
    assert_true(vdb_ts_make(5, VDB_TS_LOGICAL_MASK) < vdb_ts_make(6, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_100k_timestamps_strictly_increase_near_now, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_threads_get_distinct_increasing_timestamps, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reopen_continues_above_everything_handed_out, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reopen_with_window_in_the_future_starts_above_it,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_logical_overflow_moves_physical_forward, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_window_value_is_ecorrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_save_failure_hands_out_nothing, setup,
                                        teardown),
        cmocka_unit_test(test_ts_helpers_pack_and_unpack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for segments: append all-or-nothing, deletes and MVCC visibility, find, bloom filters,
 * and seal / persist_deletes / load through an in-memory object store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segment/segment.h"
#include "test_common.h"

/* ---- an in-memory object store: lets the tests corrupt and remove objects ---------------- */

#define MEM_MAX 64

typedef struct mem_store {
    size_t n;
    char *keys[MEM_MAX];
    uint8_t *data[MEM_MAX];
    size_t len[MEM_MAX];
    int puts;
    int fail_put_at; /* the nth put from now fails with VDB_EIO; 0: never */
} mem_store;

static int mem_find(mem_store *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], key) == 0)
            return (int)i;
    return -1;
}

static vdb_status mem_put(void *store, const char *key, const void *data, size_t len)
{
    mem_store *m = store;
    if (m->fail_put_at && ++m->puts == m->fail_put_at)
        return vdb_set_errmsg(VDB_EIO, "mem: injected write failure");
    int i = mem_find(m, key);
    if (i < 0) {
        assert_true(m->n < MEM_MAX);
        i = (int)m->n++;
        m->keys[i] = strdup(key);
    } else {
        free(m->data[i]);
    }
    m->data[i] = malloc(len ? len : 1);
    memcpy(m->data[i], data, len);
    m->len[i] = len;
    return VDB_OK;
}

static vdb_status mem_get(void *store, const char *key, void **data, size_t *len)
{
    mem_store *m = store;
    int i = mem_find(m, key);
    if (i < 0)
        return vdb_set_errmsg(VDB_ENOTFOUND, "mem: no object '%s'", key);
    *data = malloc(m->len[i] ? m->len[i] : 1);
    memcpy(*data, m->data[i], m->len[i]);
    *len = m->len[i];
    return VDB_OK;
}

static vdb_status mem_head(void *store, const char *key, uint64_t *size)
{
    mem_store *m = store;
    int i = mem_find(m, key);
    if (i < 0)
        return vdb_set_errmsg(VDB_ENOTFOUND, "mem: no object '%s'", key);
    *size = m->len[i];
    return VDB_OK;
}

static vdb_status mem_del(void *store, const char *key)
{
    mem_store *m = store;
    int i = mem_find(m, key);
    if (i < 0)
        return VDB_OK;
    free(m->keys[i]);
    free(m->data[i]);
    m->n--;
    m->keys[i] = m->keys[m->n];
    m->data[i] = m->data[m->n];
    m->len[i] = m->len[m->n];
    return VDB_OK;
}

static const vdb_object_backend mem_backend = {
    .version = VDB_OBJECT_BACKEND_VERSION,
    .scheme = "mem",
    .put = mem_put,
    .get = mem_get,
    .head = mem_head,
    .del = mem_del,
};

static void mem_clear(mem_store *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->keys[i]);
        free(m->data[i]);
    }
    memset(m, 0, sizeof *m);
}

/* ---- a layout with every kind of column ------------------------------------------------ */

enum { C_PK, C_VEC, C_TAG, C_META, C_FLAG, C_SCORE, NCOLS };
static const vdb_type int_types[NCOLS] = {VDB_TYPE_INT64, VDB_TYPE_FLOAT_VECTOR,
                                          VDB_TYPE_VARCHAR, VDB_TYPE_JSON, VDB_TYPE_BOOL,
                                          VDB_TYPE_DOUBLE};
static const vdb_type str_types[NCOLS] = {VDB_TYPE_VARCHAR, VDB_TYPE_FLOAT_VECTOR,
                                          VDB_TYPE_VARCHAR, VDB_TYPE_JSON, VDB_TYPE_BOOL,
                                          VDB_TYPE_DOUBLE};
static const uint32_t dims[NCOLS] = {0, 4, 0, 0, 0, 0};
static const bool nullable[NCOLS] = {false, false, true, false, true, true};

static vdb_segment_layout layout_of(bool str_pk)
{
    vdb_segment_layout l = {NCOLS, str_pk ? str_types : int_types, dims, nullable, C_PK,
                            NULL, false};
    return l;
}

/* A batch of n rows with keys pks[i] (as text when str_pk). */
typedef struct batch {
    vdb_column cols[NCOLS];
} batch;

static void batch_init(batch *b, bool str_pk)
{
    vdb_segment_layout l = layout_of(str_pk);
    for (size_t i = 0; i < NCOLS; i++)
        vdb_column_init(&b->cols[i], l.types[i], l.dims[i], l.nullable[i]);
}

static void batch_add(batch *b, int64_t pk, uint64_t *rs)
{
    char text[64];
    if (b->cols[C_PK].type == VDB_TYPE_VARCHAR) {
        int n = snprintf(text, sizeof text, "key-%lld", (long long)pk);
        assert_int_equal(vdb_column_push(&b->cols[C_PK], text, (size_t)n, true), VDB_OK);
    } else {
        assert_int_equal(vdb_column_push(&b->cols[C_PK], &pk, 0, true), VDB_OK);
    }
    float v[4];
    for (int j = 0; j < 4; j++)
        v[j] = test_randf(rs);
    assert_int_equal(vdb_column_push(&b->cols[C_VEC], v, 0, true), VDB_OK);
    int n = snprintf(text, sizeof text, "tag%llu", (unsigned long long)(test_rand(rs) % 1000));
    bool tag_valid = test_rand(rs) % 4 != 0;
    assert_int_equal(vdb_column_push(&b->cols[C_TAG], text, (size_t)n, tag_valid), VDB_OK);
    n = snprintf(text, sizeof text, "{\"pk\":%lld}", (long long)pk);
    assert_int_equal(vdb_column_push(&b->cols[C_META], text, (size_t)n, true), VDB_OK);
    uint8_t flag = (uint8_t)(pk & 1);
    assert_int_equal(vdb_column_push(&b->cols[C_FLAG], &flag, 0, pk % 5 != 0), VDB_OK);
    double score = (double)pk * 0.5;
    assert_int_equal(vdb_column_push(&b->cols[C_SCORE], &score, 0, pk % 7 != 0), VDB_OK);
}

static void batch_free(batch *b)
{
    for (size_t i = 0; i < NCOLS; i++)
        vdb_column_free(&b->cols[i]);
}

static vdb_segment *new_segment(uint64_t id, bool str_pk)
{
    vdb_segment_layout l = layout_of(str_pk);
    vdb_segment *s;
    assert_int_equal(vdb_segment_new(id, 77, 3, &l, &s), VDB_OK);
    return s;
}

/* Appends one row with key pk at ts. */
static void put_row(vdb_segment *s, bool str_pk, int64_t pk, uint64_t ts, uint64_t *rs)
{
    batch b;
    batch_init(&b, str_pk);
    batch_add(&b, pk, rs);
    assert_int_equal(vdb_segment_append(s, b.cols, 0, 1, ts), VDB_OK);
    batch_free(&b);
}

static vdb_pk ipk(int64_t v)
{
    vdb_pk p = {v, NULL, 0};
    return p;
}

static vdb_pk spk(const char *s)
{
    vdb_pk p = {0, s, strlen(s)};
    return p;
}

static bool bit(const uint64_t *bits, size_t i) { return (bits[i / 64] >> (i % 64)) & 1; }

/* ---- primary keys and bloom filters ---------------------------------------------------- */

static void test_pk_equal_and_hash_separate_ints_and_strings(void **state)
{
    (void)state;
    assert_true(vdb_pk_equal(ipk(5), ipk(5)));
    assert_false(vdb_pk_equal(ipk(5), ipk(6)));
    assert_false(vdb_pk_equal(ipk(0), spk("")));
    assert_true(vdb_pk_equal(spk("abc"), spk("abc")));
    assert_false(vdb_pk_equal(spk("abc"), spk("abd")));
    vdb_pk a = {0, "abcdef", 3};
    assert_true(vdb_pk_equal(a, spk("abc")));
    assert_int_equal(vdb_pk_hash(a), vdb_pk_hash(spk("abc")));
    assert_true(vdb_pk_hash(ipk(1)) != vdb_pk_hash(ipk(2)));
    assert_true(vdb_pk_hash(spk("1")) != vdb_pk_hash(spk("2")));

    vdb_column c;
    vdb_column_init(&c, VDB_TYPE_VARCHAR, 0, false);
    assert_int_equal(vdb_column_push(&c, "", 0, true), VDB_OK);
    vdb_pk p = vdb_pk_of(&c, 0);
    assert_non_null(p.s); /* an empty string key is still a string key */
    assert_true(vdb_pk_equal(p, spk("")));
    assert_int_equal(vdb_column_push(&c, "zz", 2, true), VDB_OK);
    assert_true(vdb_pk_equal(vdb_pk_of(&c, 1), spk("zz")));
    vdb_column_free(&c);
    vdb_column_init(&c, VDB_TYPE_INT64, 0, false);
    int64_t v = -42;
    assert_int_equal(vdb_column_push(&c, &v, 0, true), VDB_OK);
    assert_true(vdb_pk_equal(vdb_pk_of(&c, 0), ipk(-42)));
    vdb_column_free(&c);
}

static void test_bloom_has_no_false_negatives_and_near_target_fp_rate(void **state)
{
    (void)state;
    const size_t n = 100000;
    vdb_bloom b;
    assert_int_equal(vdb_bloom_init(&b, n, 0.001), VDB_OK);
    for (size_t i = 0; i < n; i++)
        vdb_bloom_add(&b, vdb_pk_hash(ipk((int64_t)i * 3)));
    for (size_t i = 0; i < n; i++)
        assert_true(vdb_bloom_may_contain(&b, vdb_pk_hash(ipk((int64_t)i * 3))));
    size_t fp = 0;
    for (size_t i = 0; i < n; i++)
        fp += vdb_bloom_may_contain(&b, vdb_pk_hash(ipk((int64_t)i * 3 + 1)));
    double rate = (double)fp / (double)n;
    assert_true(rate < 0.002);
    assert_true(fp >= 20); /* ~100 expected: sized for the target, not vastly over it */

    /* encode/decode keeps every bit */
    vdb_buf buf = {0};
    vdb_bloom_encode(&b, &buf);
    vdb_rd r = vdb_rd_init(buf.p, buf.len);
    vdb_bloom d;
    assert_int_equal(vdb_bloom_decode(&r, &d), VDB_OK);
    assert_int_equal(d.nbits, b.nbits);
    assert_int_equal(d.k, b.k);
    assert_memory_equal(d.bits, b.bits, b.nbits / 8);
    vdb_bloom_free(&d);
    for (size_t cut = 0; cut < 12; cut++) {
        r = vdb_rd_init(buf.p, cut);
        assert_int_equal(vdb_bloom_decode(&r, &d), VDB_ECORRUPT);
    }
    r = vdb_rd_init(buf.p, buf.len - 1);
    assert_int_equal(vdb_bloom_decode(&r, &d), VDB_ECORRUPT);
    vdb_buf_free(&buf);
    vdb_bloom_free(&b);
    assert_int_equal(vdb_bloom_init(&b, 10, 1.5), VDB_EINVAL);
}

/* ---- append ---------------------------------------------------------------------------- */

static void test_new_rejects_bad_layouts(void **state)
{
    (void)state;
    vdb_segment *s;
    vdb_type t[2] = {VDB_TYPE_DOUBLE, VDB_TYPE_INT64};
    uint32_t d[2] = {0, 0};
    bool nl[2] = {false, true};
    vdb_segment_layout l = {2, t, d, NULL, 0, NULL, false};
    assert_int_equal(vdb_segment_new(1, 1, 0, &l, &s), VDB_EINVAL); /* DOUBLE key */
    l.pk_col = 1;
    assert_int_equal(vdb_segment_new(1, 1, 0, &l, &s), VDB_OK);
    vdb_segment_free(s);
    l.nullable = nl;
    assert_int_equal(vdb_segment_new(1, 1, 0, &l, &s), VDB_EINVAL); /* nullable key */
    l.nullable = NULL;
    l.pk_col = 2;
    assert_int_equal(vdb_segment_new(1, 1, 0, &l, &s), VDB_EINVAL);
    t[0] = VDB_TYPE_FLOAT_VECTOR; /* dim 0 */
    l.pk_col = 1;
    assert_int_equal(vdb_segment_new(1, 1, 0, &l, &s), VDB_EINVAL);
}

static void test_append_stores_rows_timestamps_and_info(void **state)
{
    (void)state;
    uint64_t rs = 1;
    vdb_segment *s = new_segment(9, false);
    batch b;
    batch_init(&b, false);
    for (int64_t i = 0; i < 300; i++)
        batch_add(&b, i, &rs);
    assert_int_equal(vdb_segment_append(s, b.cols, 0, 100, 50), VDB_OK);
    assert_int_equal(vdb_segment_append(s, b.cols, 100, 200, 40), VDB_OK);
    assert_int_equal(vdb_segment_append(s, b.cols, 0, 0, 10), VDB_OK); /* empty: no change */
    assert_int_equal(vdb_segment_rows(s), 300);
    const uint64_t *ts = vdb_segment_timestamps(s);
    assert_int_equal(ts[0], 50);
    assert_int_equal(ts[99], 50);
    assert_int_equal(ts[100], 40);
    for (size_t c = 0; c < NCOLS; c++) {
        const vdb_column *col = vdb_segment_column(s, c);
        assert_int_equal(col->rows, 300);
        for (size_t r = 0; r < 300; r++) {
            assert_int_equal(vdb_column_is_null(col, r), vdb_column_is_null(&b.cols[c], r));
            if (vdb_type_is_var(col->type)) {
                size_t la, lb;
                const char *pa = vdb_column_var(col, r, &la);
                const char *pb = vdb_column_var(&b.cols[c], r, &lb);
                assert_int_equal(la, lb);
                assert_memory_equal(pa, pb, la);
            } else {
                assert_memory_equal(vdb_column_at(col, r), vdb_column_at(&b.cols[c], r),
                                    vdb_type_width(col->type, col->dim));
            }
        }
    }
    assert_null(vdb_segment_column(s, NCOLS));
    vdb_segment_set_end_pos(s, 1234);
    vdb_segment_info info;
    vdb_segment_get_info(s, &info);
    assert_int_equal(info.id, 9);
    assert_int_equal(info.partition_id, 77);
    assert_int_equal(info.shard, 3);
    assert_false(info.sealed);
    assert_int_equal(info.rows, 300);
    assert_int_equal(info.min_ts, 40);
    assert_int_equal(info.max_ts, 50);
    assert_int_equal(info.end_pos, 1234);
    assert_int_equal(info.deletes, 0);
    assert_true(info.memory > 300 * (16 + 8 + 8));
    batch_free(&b);
    vdb_segment_free(s);
}

static void test_append_rejects_wrong_columns_and_short_input(void **state)
{
    (void)state;
    uint64_t rs = 2;
    vdb_segment *s = new_segment(1, false);
    batch b;
    batch_init(&b, true); /* VARCHAR keys for an INT64 layout */
    batch_add(&b, 1, &rs);
    vdb_err_clear();
    assert_int_equal(vdb_segment_append(s, b.cols, 0, 1, 5), VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "column 0"));
    batch_free(&b);
    batch_init(&b, false);
    batch_add(&b, 1, &rs);
    assert_int_equal(vdb_segment_append(s, b.cols, 0, 2, 5), VDB_EINVAL);
    assert_int_equal(vdb_segment_append(s, b.cols, 1, 1, 5), VDB_EINVAL);
    assert_int_equal(vdb_segment_rows(s), 0);
    /* a NULL in a non-nullable column (a nullable source for the JSON column) */
    vdb_column_free(&b.cols[C_META]);
    vdb_column_init(&b.cols[C_META], VDB_TYPE_JSON, 0, true);
    assert_int_equal(vdb_column_push(&b.cols[C_META], NULL, 0, false), VDB_OK);
    assert_int_equal(vdb_segment_append(s, b.cols, 0, 1, 5), VDB_EINVAL);
    assert_int_equal(vdb_segment_rows(s), 0);
    for (size_t c = 0; c < NCOLS; c++)
        assert_int_equal(vdb_segment_column(s, c)->rows, 0);
    batch_free(&b);
    vdb_segment_free(s);
}

static void test_append_is_all_or_nothing_under_allocation_failure(void **state)
{
    (void)state;
    uint64_t rs = 3;
    vdb_segment *s = new_segment(1, true);
    batch first, big;
    batch_init(&first, true);
    batch_init(&big, true);
    for (int64_t i = 0; i < 10; i++)
        batch_add(&first, i, &rs);
    for (int64_t i = 0; i < 500; i++)
        batch_add(&big, 1000 + i, &rs);
    assert_int_equal(vdb_segment_append(s, first.cols, 0, 10, 1), VDB_OK);
    int failures = 0;
    for (uint64_t nth = 1;; nth++) {
        vdb_fault_alloc_after(nth, false);
        vdb_status st = vdb_segment_append(s, big.cols, 0, 500, 2);
        vdb_fault_alloc_after(0, false);
        if (st == VDB_OK)
            break;
        failures++;
        assert_int_equal(st, VDB_ENOMEM);
        assert_int_equal(vdb_segment_rows(s), 10);
        for (size_t c = 0; c < NCOLS; c++) {
            const vdb_column *col = vdb_segment_column(s, c);
            assert_int_equal(col->rows, 10);
            if (vdb_type_is_var(col->type))
                assert_int_equal(col->nbytes, col->offsets[10]);
        }
        /* the index did not learn the rows that were rolled back */
        assert_int_equal(vdb_segment_find(s, spk("key-1000"), 100), -1);
        assert_false(vdb_segment_may_contain(s, spk("key-1000")));
        assert_int_equal(vdb_segment_find(s, spk("key-3"), 100), 3);
    }
    assert_true(failures >= 3);
    assert_int_equal(vdb_segment_rows(s), 510);
    for (int64_t i = 0; i < 500; i++) {
        char key[32];
        snprintf(key, sizeof key, "key-%lld", (long long)(1000 + i));
        assert_int_equal(vdb_segment_find(s, spk(key), 2), 10 + i);
    }
    size_t len;
    const char *p = vdb_column_var(vdb_segment_column(s, C_META), 509, &len);
    assert_int_equal(len, strlen("{\"pk\":1499}"));
    assert_memory_equal(p, "{\"pk\":1499}", len);
    batch_free(&first);
    batch_free(&big);
    vdb_segment_free(s);
}

/* ---- deletes, visibility and find ------------------------------------------------------ */

static void test_delete_records_only_when_an_older_row_exists(void **state)
{
    (void)state;
    uint64_t rs = 4;
    vdb_segment *s = new_segment(1, false);
    put_row(s, false, 7, 10, &rs);
    bool hit = true;
    assert_int_equal(vdb_segment_delete(s, ipk(8), 20, &hit), VDB_OK);
    assert_false(hit); /* no such key */
    assert_int_equal(vdb_segment_delete(s, ipk(7), 10, &hit), VDB_OK);
    assert_false(hit); /* same ts as the row: not before it */
    assert_int_equal(vdb_segment_delete(s, ipk(7), 5, &hit), VDB_OK);
    assert_false(hit);
    size_t n;
    vdb_segment_deletes(s, &n);
    assert_int_equal(n, 0);
    assert_int_equal(vdb_segment_delete(s, ipk(7), 11, &hit), VDB_OK);
    assert_true(hit);
    assert_int_equal(vdb_segment_delete(s, ipk(7), 11, &hit), VDB_OK); /* again */
    const vdb_delete_rec *d = vdb_segment_deletes(s, &n);
    assert_int_equal(n, 1);
    assert_int_equal(d[0].ts, 11);
    assert_true(vdb_pk_equal(d[0].pk, ipk(7)));
    assert_int_equal(vdb_segment_delete(s, ipk(7), 30, &hit), VDB_OK);
    assert_true(hit);
    vdb_segment_deletes(s, &n);
    assert_int_equal(n, 2);
    vdb_segment_info info;
    vdb_segment_get_info(s, &info);
    assert_int_equal(info.deletes, 2);
    assert_int_equal(info.persisted_deletes, 0);
    vdb_segment_free(s);
}

static void test_delete_copies_string_keys(void **state)
{
    (void)state;
    uint64_t rs = 5;
    vdb_segment *s = new_segment(1, true);
    put_row(s, true, 1, 10, &rs);
    char key[16] = "key-1";
    bool hit;
    assert_int_equal(vdb_segment_delete(s, spk(key), 20, &hit), VDB_OK);
    assert_true(hit);
    memset(key, 'X', 5);
    size_t n;
    const vdb_delete_rec *d = vdb_segment_deletes(s, &n);
    assert_int_equal(n, 1);
    assert_int_equal(d[0].pk.len, 5);
    assert_memory_equal(d[0].pk.s, "key-1", 5);
    assert_true(d[0].pk.s != key);
    assert_int_equal(vdb_segment_find(s, spk("key-1"), 19), 0);
    assert_int_equal(vdb_segment_find(s, spk("key-1"), 20), -1);
    vdb_segment_free(s);
}

static void test_delete_out_of_memory_records_nothing(void **state)
{
    (void)state;
    uint64_t rs = 6;
    vdb_segment *s = new_segment(1, true);
    put_row(s, true, 1, 10, &rs);
    bool hit;
    for (uint64_t nth = 1; nth <= 3; nth++) {
        vdb_fault_alloc_after(nth, false);
        vdb_status st = vdb_segment_delete(s, spk("key-1"), 20, &hit);
        vdb_fault_alloc_after(0, false);
        assert_int_equal(st, VDB_ENOMEM);
        assert_false(hit);
        size_t n;
        vdb_segment_deletes(s, &n);
        assert_int_equal(n, 0);
    }
    assert_int_equal(vdb_segment_delete(s, spk("key-1"), 20, &hit), VDB_OK);
    assert_true(hit);
    vdb_segment_free(s);
}

static void test_upsert_new_row_visible_at_its_ts_old_row_not(void **state)
{
    (void)state;
    uint64_t rs = 7;
    vdb_segment *s = new_segment(1, false);
    put_row(s, false, 7, 10, &rs); /* row 0 */
    put_row(s, false, 8, 10, &rs); /* row 1 */
    bool hit;
    /* upsert of 7 at 20: delete at 20, insert at 20 */
    assert_int_equal(vdb_segment_delete(s, ipk(7), 20, &hit), VDB_OK);
    assert_true(hit);
    put_row(s, false, 7, 20, &rs); /* row 2 */
    /* the same upsert replayed: the delete must not hit the new row (ts not < 20) twice */
    assert_int_equal(vdb_segment_delete(s, ipk(7), 20, &hit), VDB_OK);
    size_t n;
    vdb_segment_deletes(s, &n);
    assert_int_equal(n, 1);

    uint64_t bits[1];
    assert_int_equal(vdb_segment_visible(s, 9, bits), 0);
    assert_int_equal(bits[0], 0);
    assert_int_equal(vdb_segment_visible(s, 10, bits), 2);
    assert_int_equal(bits[0], 0x3);
    assert_int_equal(vdb_segment_visible(s, 19, bits), 2);
    assert_int_equal(bits[0], 0x3);
    assert_int_equal(vdb_segment_visible(s, 20, bits), 2);
    assert_int_equal(bits[0], 0x6);
    assert_int_equal(vdb_segment_visible(s, UINT64_MAX, bits), 2);
    assert_int_equal(bits[0], 0x6);

    assert_int_equal(vdb_segment_find(s, ipk(7), 9), -1);
    assert_int_equal(vdb_segment_find(s, ipk(7), 10), 0);
    assert_int_equal(vdb_segment_find(s, ipk(7), 19), 0);
    assert_int_equal(vdb_segment_find(s, ipk(7), 20), 2);
    assert_int_equal(vdb_segment_find(s, ipk(7), 1000), 2);
    assert_int_equal(vdb_segment_find(s, ipk(8), 1000), 1);
    assert_int_equal(vdb_segment_find(s, ipk(9), 1000), -1);

    /* delete 7 again at 30: nothing of 7 visible from 30 on */
    assert_int_equal(vdb_segment_delete(s, ipk(7), 30, &hit), VDB_OK);
    assert_true(hit);
    assert_int_equal(vdb_segment_visible(s, 30, bits), 1);
    assert_int_equal(bits[0], 0x2);
    assert_int_equal(vdb_segment_find(s, ipk(7), 30), -1);
    assert_int_equal(vdb_segment_find(s, ipk(7), 29), 2);
    assert_int_equal(vdb_segment_visible(s, 25, bits), 2);
    assert_int_equal(bits[0], 0x6);
    vdb_segment_free(s);
}

static void test_find_prefers_newest_ts_then_last_appended(void **state)
{
    (void)state;
    uint64_t rs = 8;
    vdb_segment *s = new_segment(1, false);
    put_row(s, false, 5, 30, &rs); /* row 0 */
    put_row(s, false, 5, 10, &rs); /* row 1: older ts, appended later */
    put_row(s, false, 5, 30, &rs); /* row 2: ties with row 0, appended later */
    put_row(s, false, 5, 20, &rs); /* row 3 */
    assert_int_equal(vdb_segment_find(s, ipk(5), 10), 1);
    assert_int_equal(vdb_segment_find(s, ipk(5), 25), 3);
    assert_int_equal(vdb_segment_find(s, ipk(5), 30), 2);
    bool hit;
    assert_int_equal(vdb_segment_delete(s, ipk(5), 25, &hit), VDB_OK); /* kills rows 1, 3 */
    assert_int_equal(vdb_segment_find(s, ipk(5), 25), -1);
    assert_int_equal(vdb_segment_find(s, ipk(5), 24), 3);
    assert_int_equal(vdb_segment_find(s, ipk(5), 30), 2);
    vdb_segment_free(s);
}

/* The rule, applied by brute force to every delete ever issued. */
typedef struct model_del {
    int64_t pk;
    uint64_t ts;
} model_del;

static bool model_visible(const vdb_segment *s, const model_del *dels, size_t nd, size_t row,
                          uint64_t T)
{
    const uint64_t *ts = vdb_segment_timestamps(s);
    if (ts[row] > T)
        return false;
    vdb_pk pk = vdb_pk_of(vdb_segment_column(s, C_PK), row);
    for (size_t d = 0; d < nd; d++)
        if (dels[d].pk == pk.i && ts[row] < dels[d].ts && dels[d].ts <= T)
            return false;
    return true;
}

static void check_against_model(const vdb_segment *s, const model_del *dels, size_t nd,
                                 uint64_t maxT)
{
    size_t rows = vdb_segment_rows(s);
    uint64_t *bits = malloc(((rows + 63) / 64 + 1) * sizeof *bits);
    for (uint64_t T = 0; T <= maxT; T += 3) {
        size_t want = 0;
        memset(bits, 0xff, ((rows + 63) / 64 + 1) * sizeof *bits);
        size_t got = vdb_segment_visible(s, T, bits);
        for (size_t r = 0; r < rows; r++) {
            bool v = model_visible(s, dels, nd, r, T);
            want += v;
            assert_int_equal(bit(bits, r), v);
        }
        for (size_t r = rows; r % 64; r++)
            assert_false(bit(bits, r)); /* tail bits of the last word are clear */
        assert_int_equal(got, want);
        /* find agrees: the newest visible row of each key */
        for (int64_t pk = 0; pk < 40; pk++) {
            int64_t best = -1;
            const uint64_t *ts = vdb_segment_timestamps(s);
            for (size_t r = 0; r < rows; r++)
                if (vdb_pk_of(vdb_segment_column(s, C_PK), r).i == pk &&
                    model_visible(s, dels, nd, r, T) && (best < 0 || ts[r] >= ts[best]))
                    best = (int64_t)r;
            assert_int_equal(vdb_segment_find(s, ipk(pk), T), best);
        }
    }
    free(bits);
}

static void test_visibility_matches_the_rule_under_random_upserts_and_deletes(void **state)
{
    (void)state;
    uint64_t rs = 12345;
    vdb_segment *s = new_segment(1, false);
    model_del dels[2000];
    size_t nd = 0;
    uint64_t ts = 1;
    for (int op = 0; op < 1500; op++) {
        int64_t pk = (int64_t)(test_rand(&rs) % 40);
        uint64_t kind = test_rand(&rs) % 10;
        if (test_rand(&rs) % 3)
            ts++; /* several operations can share a timestamp */
        bool hit;
        if (kind < 5) {
            put_row(s, false, pk, ts, &rs);
        } else if (kind < 8) {
            assert_int_equal(vdb_segment_delete(s, ipk(pk), ts, &hit), VDB_OK);
            dels[nd].pk = pk;
            dels[nd++].ts = ts;
        } else {
            /* upsert: delete then insert at the same ts */
            assert_int_equal(vdb_segment_delete(s, ipk(pk), ts, &hit), VDB_OK);
            dels[nd].pk = pk;
            dels[nd++].ts = ts;
            put_row(s, false, pk, ts, &rs);
        }
    }
    check_against_model(s, dels, nd, ts + 3);
    /* each recorded delete has an older row and is unique */
    size_t n;
    const vdb_delete_rec *d = vdb_segment_deletes(s, &n);
    assert_true(n > 0 && n <= nd);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_false(d[i].pk.i == d[j].pk.i && d[i].ts == d[j].ts);
    vdb_segment_free(s);
}

static void test_may_contain_is_exact_on_growing_segments(void **state)
{
    (void)state;
    uint64_t rs = 9;
    vdb_segment *s = new_segment(1, true);
    for (int64_t i = 0; i < 200; i += 2)
        put_row(s, true, i, 5, &rs);
    for (int64_t i = 0; i < 200; i++) {
        char key[32];
        snprintf(key, sizeof key, "key-%lld", (long long)i);
        assert_int_equal(vdb_segment_may_contain(s, spk(key)), i % 2 == 0);
    }
    assert_false(vdb_segment_may_contain(s, ipk(0)));
    vdb_segment_free(s);
}

/* ---- seal, persist, load --------------------------------------------------------------- */

static void assert_segments_equal(const vdb_segment *a, const vdb_segment *b)
{
    assert_int_equal(vdb_segment_rows(a), vdb_segment_rows(b));
    size_t rows = vdb_segment_rows(a);
    if (rows)
        assert_memory_equal(vdb_segment_timestamps(a), vdb_segment_timestamps(b), rows * 8);
    for (size_t c = 0; c < NCOLS; c++) {
        const vdb_column *x = vdb_segment_column(a, c), *y = vdb_segment_column(b, c);
        assert_int_equal(x->type, y->type);
        assert_int_equal(x->nullable, y->nullable);
        assert_int_equal(x->dim, y->dim);
        assert_int_equal(x->rows, y->rows);
        for (size_t r = 0; r < rows; r++) {
            assert_int_equal(vdb_column_is_null(x, r), vdb_column_is_null(y, r));
            if (vdb_type_is_var(x->type)) {
                size_t la, lb;
                const char *pa = vdb_column_var(x, r, &la), *pb = vdb_column_var(y, r, &lb);
                assert_int_equal(la, lb);
                if (la)
                    assert_memory_equal(pa, pb, la);
            } else {
                assert_memory_equal(vdb_column_at(x, r), vdb_column_at(y, r),
                                    vdb_type_width(x->type, x->dim));
            }
        }
    }
    size_t na, nb;
    const vdb_delete_rec *da = vdb_segment_deletes(a, &na), *db = vdb_segment_deletes(b, &nb);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_true(vdb_pk_equal(da[i].pk, db[i].pk));
        assert_int_equal(da[i].ts, db[i].ts);
    }
    vdb_segment_info ia, ib;
    vdb_segment_get_info(a, &ia);
    vdb_segment_get_info(b, &ib);
    assert_int_equal(ia.id, ib.id);
    assert_int_equal(ia.partition_id, ib.partition_id);
    assert_int_equal(ia.shard, ib.shard);
    assert_int_equal(ia.min_ts, ib.min_ts);
    assert_int_equal(ia.max_ts, ib.max_ts);
    assert_int_equal(ia.end_pos, ib.end_pos);
    assert_int_equal(ia.persisted_deletes, ib.persisted_deletes);
    uint64_t *ba = calloc(rows / 64 + 1, 8), *bb = calloc(rows / 64 + 1, 8);
    for (uint64_t T = 0; T < 60; T += 7) {
        assert_int_equal(vdb_segment_visible(a, T, ba), vdb_segment_visible(b, T, bb));
        assert_memory_equal(ba, bb, (rows + 63) / 64 * 8);
    }
    free(ba);
    free(bb);
}

/* A sealed-ready segment: 150 rows with string keys at ts 1..50, some deleted. */
static vdb_segment *sample_segment(uint64_t id)
{
    uint64_t rs = id * 31 + 1;
    vdb_segment *s = new_segment(id, true);
    batch b;
    batch_init(&b, true);
    for (int64_t i = 0; i < 150; i++)
        batch_add(&b, i % 120, &rs);
    for (size_t r = 0; r < 150; r += 3)
        assert_int_equal(vdb_segment_append(s, b.cols, r, 3, 1 + r / 3), VDB_OK);
    batch_free(&b);
    bool hit;
    assert_int_equal(vdb_segment_delete(s, spk("key-4"), 30, &hit), VDB_OK);
    assert_true(hit);
    assert_int_equal(vdb_segment_delete(s, spk("key-100"), 45, &hit), VDB_OK);
    assert_true(hit);
    vdb_segment_set_end_pos(s, 999);
    return s;
}

typedef struct key_list {
    char keys[16][128];
    size_t n;
} key_list;

static void collect_key(void *arg, const char *key)
{
    key_list *l = arg;
    assert_true(l->n < 16);
    snprintf(l->keys[l->n++], 128, "%s", key);
}

static bool has_key(const key_list *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->keys[i], key) == 0)
            return true;
    return false;
}

static void test_seal_then_load_round_trips_column_by_column(void **state)
{
    (void)state;
    mem_store ms = {0};
    vdb_segment *s = sample_segment(42);
    vdb_buf man = {0};
    assert_int_equal(vdb_segment_seal(s, &mem_backend, &ms, "segs/c1", &man), VDB_OK);
    vdb_segment_info info;
    vdb_segment_get_info(s, &info);
    assert_true(info.sealed);
    assert_int_equal(info.persisted_deletes, 2);
    /* files: 6 columns, ts, bloom, one delta */
    assert_int_equal(ms.n, NCOLS + 3);
    assert_true(mem_find(&ms, "segs/c1/42/col_0") >= 0);
    assert_true(mem_find(&ms, "segs/c1/42/col_5") >= 0);
    assert_true(mem_find(&ms, "segs/c1/42/ts") >= 0);
    assert_true(mem_find(&ms, "segs/c1/42/bloom") >= 0);
    assert_true(mem_find(&ms, "segs/c1/42/delta_0") >= 0);
    key_list kl = {0};
    assert_int_equal(vdb_segment_manifest_files(man.p, man.len, collect_key, &kl), VDB_OK);
    assert_int_equal(kl.n, NCOLS + 3);
    for (size_t i = 0; i < ms.n; i++)
        assert_true(has_key(&kl, ms.keys[i]));

    /* a sealed segment takes no rows but still takes deletes */
    uint64_t rs = 1;
    batch b;
    batch_init(&b, true);
    batch_add(&b, 1, &rs);
    assert_int_equal(vdb_segment_append(s, b.cols, 0, 1, 60), VDB_EINVAL);
    batch_free(&b);
    vdb_buf man2 = {0};
    assert_int_equal(vdb_segment_seal(s, &mem_backend, &ms, "segs/c1", &man2), VDB_EINVAL);

    vdb_segment_layout l = layout_of(true);
    vdb_segment *t;
    assert_int_equal(vdb_segment_load(man.p, man.len, &l, &mem_backend, &ms, &t), VDB_OK);
    vdb_segment_get_info(t, &info);
    assert_true(info.sealed);
    assert_int_equal(info.rows, 150);
    assert_int_equal(info.deletes, 2);
    assert_int_equal(info.persisted_deletes, 2);
    assert_segments_equal(s, t);
    for (int64_t i = 0; i < 120; i++) {
        char key[32];
        snprintf(key, sizeof key, "key-%lld", (long long)i);
        assert_true(vdb_segment_may_contain(t, spk(key))); /* bloom: no false negatives */
        for (uint64_t T = 0; T < 60; T += 11)
            assert_int_equal(vdb_segment_find(s, spk(key), T), vdb_segment_find(t, spk(key), T));
    }
    size_t fp = 0;
    for (int64_t i = 1000; i < 11000; i++) {
        char key[32];
        snprintf(key, sizeof key, "key-%lld", (long long)i);
        fp += vdb_segment_may_contain(t, spk(key));
    }
    assert_true(fp < 60); /* 0.1% target on 10k absent keys */
    vdb_segment_free(t);
    vdb_segment_free(s);
    vdb_buf_free(&man);
    vdb_buf_free(&man2);
    mem_clear(&ms);
}

static void test_seal_with_empty_prefix_and_no_rows_loads(void **state)
{
    (void)state;
    mem_store ms = {0};
    vdb_segment *s = new_segment(5, false);
    vdb_buf man = {0};
    assert_int_equal(vdb_segment_seal(s, &mem_backend, &ms, "", &man), VDB_OK);
    assert_true(mem_find(&ms, "5/col_0") >= 0);
    assert_int_equal(ms.n, NCOLS + 2); /* no deletes: no delta file */
    vdb_segment_layout l = layout_of(false);
    vdb_segment *t;
    assert_int_equal(vdb_segment_load(man.p, man.len, &l, &mem_backend, &ms, &t), VDB_OK);
    assert_int_equal(vdb_segment_rows(t), 0);
    uint64_t bits[1] = {0};
    assert_int_equal(vdb_segment_visible(t, 100, bits), 0);
    assert_int_equal(vdb_segment_find(t, ipk(1), 100), -1);
    vdb_segment_free(t);
    vdb_segment_free(s);
    vdb_buf_free(&man);
    mem_clear(&ms);
}

static void test_seal_write_failure_leaves_segment_growing(void **state)
{
    (void)state;
    mem_store ms = {0};
    vdb_segment *s = sample_segment(8);
    ms.fail_put_at = 4;
    vdb_buf man = {0};
    vdb_err_clear();
    assert_int_equal(vdb_segment_seal(s, &mem_backend, &ms, "p", &man), VDB_EIO);
    assert_non_null(strstr(vdb_err_get(), "p/8/col_3"));
    assert_non_null(strstr(vdb_err_get(), "injected"));
    vdb_segment_info info;
    vdb_segment_get_info(s, &info);
    assert_false(info.sealed);
    assert_int_equal(man.len, 0);
    ms.fail_put_at = 0;
    assert_int_equal(vdb_segment_seal(s, &mem_backend, &ms, "p", &man), VDB_OK);
    vdb_segment_layout l = layout_of(true);
    vdb_segment *t;
    assert_int_equal(vdb_segment_load(man.p, man.len, &l, &mem_backend, &ms, &t), VDB_OK);
    assert_segments_equal(s, t);
    vdb_segment_free(t);
    vdb_segment_free(s);
    vdb_buf_free(&man);
    mem_clear(&ms);
}

static void test_seal_and_persist_out_of_memory_fail_cleanly(void **state)
{
    (void)state;
    mem_store ms = {0};
    vdb_segment *s = sample_segment(15);
    vdb_buf man = {0};
    int failures = 0;
    for (uint64_t nth = 1;; nth++) {
        vdb_fault_alloc_after(nth, false);
        vdb_status st = vdb_segment_seal(s, &mem_backend, &ms, "f", &man);
        vdb_fault_alloc_after(0, false);
        if (st == VDB_OK)
            break;
        assert_int_equal(st, VDB_ENOMEM);
        vdb_segment_info info;
        vdb_segment_get_info(s, &info);
        assert_false(info.sealed);
        assert_int_equal(info.persisted_deletes, 0);
        failures++;
    }
    assert_true(failures > 5);
    bool hit, wrote;
    assert_int_equal(vdb_segment_delete(s, spk("key-9"), 60, &hit), VDB_OK);
    assert_true(hit);
    failures = 0;
    for (uint64_t nth = 1;; nth++) {
        vdb_buf_free(&man);
        vdb_fault_alloc_after(nth, false);
        vdb_status st = vdb_segment_persist_deletes(s, &mem_backend, &ms, "f", &man, &wrote);
        vdb_fault_alloc_after(0, false);
        if (st == VDB_OK)
            break;
        assert_int_equal(st, VDB_ENOMEM);
        assert_false(wrote);
        vdb_segment_info info;
        vdb_segment_get_info(s, &info);
        assert_int_equal(info.persisted_deletes, 2); /* retried until a manifest exists */
        failures++;
    }
    assert_true(failures > 0);
    assert_true(wrote);
    vdb_segment_layout l = layout_of(true);
    vdb_segment *t;
    assert_int_equal(vdb_segment_load(man.p, man.len, &l, &mem_backend, &ms, &t), VDB_OK);
    assert_segments_equal(s, t);
    vdb_segment_free(t);
    vdb_segment_free(s);
    vdb_buf_free(&man);
    mem_clear(&ms);
}

static void test_persist_deletes_then_load_sees_them(void **state)
{
    (void)state;
    mem_store ms = {0};
    vdb_segment *s = sample_segment(3);
    vdb_buf man = {0};
    bool wrote = true;
    assert_int_equal(vdb_segment_persist_deletes(s, &mem_backend, &ms, "x", &man, &wrote),
                     VDB_EINVAL); /* growing */
    assert_int_equal(vdb_segment_seal(s, &mem_backend, &ms, "x", &man), VDB_OK);
    assert_int_equal(vdb_segment_persist_deletes(s, &mem_backend, &ms, "x", &man, &wrote),
                     VDB_OK);
    assert_false(wrote); /* nothing new */

    vdb_segment_layout l = layout_of(true);
    vdb_segment *t;
    assert_int_equal(vdb_segment_load(man.p, man.len, &l, &mem_backend, &ms, &t), VDB_OK);
    vdb_buf_free(&man);
    /* deletes on the loaded (sealed) segment */
    bool hit;
    assert_int_equal(vdb_segment_delete(t, spk("key-7"), 50, &hit), VDB_OK);
    assert_true(hit);
    assert_int_equal(vdb_segment_delete(t, spk("key-4"), 30, &hit), VDB_OK); /* already held */
    assert_int_equal(vdb_segment_delete(t, spk("nope"), 50, &hit), VDB_OK);
    assert_false(hit);
    vdb_segment_info info;
    vdb_segment_get_info(t, &info);
    assert_int_equal(info.deletes, 3);
    assert_int_equal(info.persisted_deletes, 2);
    assert_int_equal(vdb_segment_persist_deletes(t, &mem_backend, &ms, "x", &man, &wrote),
                     VDB_OK);
    assert_true(wrote);
    assert_true(mem_find(&ms, "x/3/delta_1") >= 0);
    vdb_segment_get_info(t, &info);
    assert_int_equal(info.persisted_deletes, 3);
    assert_int_equal(vdb_segment_delete(t, spk("key-8"), 51, &hit), VDB_OK);
    assert_true(hit);
    vdb_buf_free(&man);
    assert_int_equal(vdb_segment_persist_deletes(t, &mem_backend, &ms, "x", &man, &wrote),
                     VDB_OK);
    assert_true(wrote);
    assert_true(mem_find(&ms, "x/3/delta_2") >= 0);

    key_list kl = {0};
    assert_int_equal(vdb_segment_manifest_files(man.p, man.len, collect_key, &kl), VDB_OK);
    assert_int_equal(kl.n, NCOLS + 2 + 3);
    assert_true(has_key(&kl, "x/3/delta_2"));

    vdb_segment *u;
    assert_int_equal(vdb_segment_load(man.p, man.len, &l, &mem_backend, &ms, &u), VDB_OK);
    vdb_segment_get_info(u, &info);
    assert_int_equal(info.deletes, 4);
    assert_int_equal(info.persisted_deletes, 4);
    assert_segments_equal(t, u);
    int64_t r7 = vdb_segment_find(u, spk("key-7"), 49);
    assert_true(r7 >= 0);
    assert_int_equal(vdb_segment_find(u, spk("key-7"), 50), -1);
    assert_int_equal(vdb_segment_find(u, spk("key-8"), 51), -1);
    assert_int_equal(vdb_segment_find(u, spk("key-4"), 30), -1);
    /* a delete loaded from a delta file is not recorded twice */
    assert_int_equal(vdb_segment_delete(u, spk("key-8"), 51, &hit), VDB_OK);
    vdb_segment_get_info(u, &info);
    assert_int_equal(info.deletes, 4);
    vdb_segment_free(u);
    vdb_segment_free(t);
    vdb_segment_free(s);
    vdb_buf_free(&man);
    mem_clear(&ms);
}

static void test_load_names_a_corrupt_or_missing_file(void **state)
{
    (void)state;
    mem_store ms = {0};
    vdb_segment *s = sample_segment(11);
    vdb_buf man = {0};
    assert_int_equal(vdb_segment_seal(s, &mem_backend, &ms, "c", &man), VDB_OK);
    vdb_segment_layout l = layout_of(true);
    vdb_segment *t = NULL;
    uint64_t rs = 77;
    for (size_t i = 0; i < ms.n; i++) {
        const char *key = ms.keys[i];
        /* a flipped byte anywhere */
        for (int it = 0; it < 5; it++) {
            size_t at = test_rand(&rs) % ms.len[i];
            uint8_t x = (uint8_t)(1 + test_rand(&rs) % 255);
            ms.data[i][at] ^= x;
            vdb_err_clear();
            assert_int_equal(vdb_segment_load(man.p, man.len, &l, &mem_backend, &ms, &t),
                             VDB_ECORRUPT);
            assert_null(t);
            assert_non_null(strstr(vdb_err_get(), key));
            ms.data[i][at] ^= x;
        }
        /* truncated */
        ms.len[i]--;
        vdb_err_clear();
        assert_int_equal(vdb_segment_load(man.p, man.len, &l, &mem_backend, &ms, &t),
                         VDB_ECORRUPT);
        assert_non_null(strstr(vdb_err_get(), key));
        ms.len[i]++;
    }
    /* a file that is internally valid but not the one the manifest names: its crc differs */
    int c0 = mem_find(&ms, "c/11/col_0"), c2 = mem_find(&ms, "c/11/col_2");
    uint8_t *keep = ms.data[c0];
    size_t keep_len = ms.len[c0];
    ms.data[c0] = ms.data[c2];
    ms.len[c0] = ms.len[c2];
    assert_int_equal(vdb_segment_load(man.p, man.len, &l, &mem_backend, &ms, &t), VDB_ECORRUPT);
    assert_non_null(strstr(vdb_err_get(), "c/11/col_0"));
    ms.data[c0] = keep;
    ms.len[c0] = keep_len;
    /* missing: the manifest lists it, so its loss is corruption (issue 13, case 5) */
    char *missing = strdup("c/11/bloom");
    assert_int_equal(mem_del(&ms, missing), VDB_OK);
    vdb_err_clear();
    assert_int_equal(vdb_segment_load(man.p, man.len, &l, &mem_backend, &ms, &t), VDB_ECORRUPT);
    assert_non_null(strstr(vdb_err_get(), missing));
    assert_non_null(strstr(vdb_err_get(), "missing"));
    free(missing);
    vdb_segment_free(s);
    vdb_buf_free(&man);
    mem_clear(&ms);
}

static void test_load_rejects_a_layout_that_does_not_match(void **state)
{
    (void)state;
    mem_store ms = {0};
    vdb_segment *s = sample_segment(12);
    vdb_buf man = {0};
    assert_int_equal(vdb_segment_seal(s, &mem_backend, &ms, "c", &man), VDB_OK);
    vdb_segment *t = NULL;
    vdb_segment_layout l = layout_of(false); /* INT64 keys: col_0 holds VARCHAR */
    vdb_err_clear();
    assert_int_equal(vdb_segment_load(man.p, man.len, &l, &mem_backend, &ms, &t), VDB_ECORRUPT);
    assert_non_null(strstr(vdb_err_get(), "c/12/col_0"));
    l = layout_of(true);
    l.ncols = NCOLS - 1;
    assert_int_equal(vdb_segment_load(man.p, man.len, &l, &mem_backend, &ms, &t), VDB_ECORRUPT);
    assert_null(t);
    vdb_segment_free(s);
    vdb_buf_free(&man);
    mem_clear(&ms);
}

static void test_manifest_rejects_every_truncation_and_flip(void **state)
{
    (void)state;
    mem_store ms = {0};
    vdb_segment *s = sample_segment(13);
    vdb_buf man = {0};
    assert_int_equal(vdb_segment_seal(s, &mem_backend, &ms, "m", &man), VDB_OK);
    assert_memory_equal(man.p, "VDBSEGM1", 8);
    vdb_segment_layout l = layout_of(true);
    vdb_segment *t = NULL;
    key_list kl;
    for (size_t cut = 0; cut < man.len; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, man.p, cut);
        assert_int_equal(vdb_segment_load(p, cut, &l, &mem_backend, &ms, &t), VDB_ECORRUPT);
        kl.n = 0;
        assert_int_equal(vdb_segment_manifest_files(p, cut, collect_key, &kl), VDB_ECORRUPT);
        assert_int_equal(kl.n, 0);
        free(p);
    }
    for (size_t at = 0; at < man.len; at++) {
        man.p[at] ^= 0x20;
        vdb_status st = vdb_segment_load(man.p, man.len, &l, &mem_backend, &ms, &t);
        assert_int_equal(st, VDB_ECORRUPT);
        man.p[at] ^= 0x20;
    }
    assert_int_equal(vdb_segment_load(man.p, man.len, &l, &mem_backend, &ms, &t), VDB_OK);
    vdb_segment_free(t);
    vdb_segment_free(s);
    vdb_buf_free(&man);
    mem_clear(&ms);
}

static void test_load_out_of_memory_fails_cleanly(void **state)
{
    (void)state;
    mem_store ms = {0};
    vdb_segment *s = sample_segment(14);
    vdb_buf man = {0};
    assert_int_equal(vdb_segment_seal(s, &mem_backend, &ms, "o", &man), VDB_OK);
    vdb_segment_layout l = layout_of(true);
    vdb_segment *t = NULL;
    int failures = 0;
    for (uint64_t nth = 1;; nth++) {
        vdb_fault_alloc_after(nth, false);
        vdb_status st = vdb_segment_load(man.p, man.len, &l, &mem_backend, &ms, &t);
        vdb_fault_alloc_after(0, false);
        if (st == VDB_OK)
            break;
        assert_int_equal(st, VDB_ENOMEM);
        assert_null(t);
        failures++;
    }
    assert_true(failures > 10);
    assert_segments_equal(s, t);
    vdb_segment_free(t);
    vdb_segment_free(s);
    vdb_buf_free(&man);
    mem_clear(&ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pk_equal_and_hash_separate_ints_and_strings),
        cmocka_unit_test(test_bloom_has_no_false_negatives_and_near_target_fp_rate),
        cmocka_unit_test(test_new_rejects_bad_layouts),
        cmocka_unit_test(test_append_stores_rows_timestamps_and_info),
        cmocka_unit_test(test_append_rejects_wrong_columns_and_short_input),
        cmocka_unit_test(test_append_is_all_or_nothing_under_allocation_failure),
        cmocka_unit_test(test_delete_records_only_when_an_older_row_exists),
        cmocka_unit_test(test_delete_copies_string_keys),
        cmocka_unit_test(test_delete_out_of_memory_records_nothing),
        cmocka_unit_test(test_upsert_new_row_visible_at_its_ts_old_row_not),
        cmocka_unit_test(test_find_prefers_newest_ts_then_last_appended),
        cmocka_unit_test(test_visibility_matches_the_rule_under_random_upserts_and_deletes),
        cmocka_unit_test(test_may_contain_is_exact_on_growing_segments),
        cmocka_unit_test(test_seal_then_load_round_trips_column_by_column),
        cmocka_unit_test(test_seal_with_empty_prefix_and_no_rows_loads),
        cmocka_unit_test(test_seal_write_failure_leaves_segment_growing),
        cmocka_unit_test(test_seal_and_persist_out_of_memory_fail_cleanly),
        cmocka_unit_test(test_persist_deletes_then_load_sees_them),
        cmocka_unit_test(test_load_names_a_corrupt_or_missing_file),
        cmocka_unit_test(test_load_rejects_a_layout_that_does_not_match),
        cmocka_unit_test(test_manifest_rejects_every_truncation_and_flip),
        cmocka_unit_test(test_load_out_of_memory_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

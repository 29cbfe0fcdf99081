/* Tests for columns: every type, nullable and var-length rows, plain encoding and binlog
 * files, and rejection of truncated or garbled input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segment/segment.h"
#include "test_common.h"

typedef struct col_case {
    vdb_type type;
    uint32_t dim;
    bool nullable;
} col_case;

static const col_case cases[] = {
    {VDB_TYPE_BOOL, 0, false},         {VDB_TYPE_BOOL, 0, true},
    {VDB_TYPE_INT8, 0, false},         {VDB_TYPE_INT16, 0, true},
    {VDB_TYPE_INT32, 0, false},        {VDB_TYPE_INT64, 0, false},
    {VDB_TYPE_INT64, 0, true},         {VDB_TYPE_FLOAT, 0, false},
    {VDB_TYPE_DOUBLE, 0, true},        {VDB_TYPE_FLOAT_VECTOR, 5, false},
    {VDB_TYPE_FLOAT_VECTOR, 3, true},  {VDB_TYPE_VARCHAR, 0, false},
    {VDB_TYPE_VARCHAR, 0, true},       {VDB_TYPE_JSON, 0, false},
    {VDB_TYPE_JSON, 0, true},          {VDB_TYPE_ARRAY, 0, true},
};

/* Fills c with n rows of deterministic data (every third row NULL when nullable). */
static void fill(vdb_column *c, size_t n, uint64_t seed)
{
    uint64_t st = seed;
    for (size_t i = 0; i < n; i++) {
        bool valid = !(c->nullable && i % 3 == 1);
        uint8_t val[64];
        size_t len = 0;
        uint64_t r = test_rand(&st);
        if (vdb_type_is_var(c->type)) {
            len = (size_t)(r % 20);
            for (size_t j = 0; j < len; j++)
                val[j] = (uint8_t)('a' + (test_rand(&st) % 26));
        } else if (c->type == VDB_TYPE_BOOL) {
            val[0] = (uint8_t)(r & 1);
        } else if (c->type == VDB_TYPE_FLOAT_VECTOR) {
            for (uint32_t j = 0; j < c->dim; j++) {
                float f = test_randf(&st);
                memcpy(val + 4 * j, &f, 4);
            }
        } else {
            memcpy(val, &r, 8);
        }
        assert_int_equal(vdb_column_push(c, valid ? val : NULL, len, valid), VDB_OK);
    }
}

static void assert_row_equal(const vdb_column *a, size_t ra, const vdb_column *b, size_t rb)
{
    assert_int_equal(vdb_column_is_null(a, ra), vdb_column_is_null(b, rb));
    if (vdb_type_is_var(a->type)) {
        size_t la, lb;
        const char *pa = vdb_column_var(a, ra, &la), *pb = vdb_column_var(b, rb, &lb);
        assert_int_equal(la, lb);
        if (la)
            assert_memory_equal(pa, pb, la);
    } else {
        assert_memory_equal(vdb_column_at(a, ra), vdb_column_at(b, rb),
                            vdb_type_width(a->type, a->dim));
    }
}

static void assert_col_equal(const vdb_column *a, const vdb_column *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->nullable, b->nullable);
    assert_int_equal(a->rows, b->rows);
    if (a->type == VDB_TYPE_FLOAT_VECTOR)
        assert_int_equal(a->dim, b->dim);
    for (size_t i = 0; i < a->rows; i++)
        assert_row_equal(a, i, b, i);
}

static void test_type_width_covers_every_type(void **state)
{
    (void)state;
    assert_int_equal(vdb_type_width(VDB_TYPE_BOOL, 0), 1);
    assert_int_equal(vdb_type_width(VDB_TYPE_INT8, 0), 1);
    assert_int_equal(vdb_type_width(VDB_TYPE_INT16, 0), 2);
    assert_int_equal(vdb_type_width(VDB_TYPE_INT32, 0), 4);
    assert_int_equal(vdb_type_width(VDB_TYPE_INT64, 0), 8);
    assert_int_equal(vdb_type_width(VDB_TYPE_FLOAT, 0), 4);
    assert_int_equal(vdb_type_width(VDB_TYPE_DOUBLE, 0), 8);
    assert_int_equal(vdb_type_width(VDB_TYPE_FLOAT_VECTOR, 7), 28);
    assert_int_equal(vdb_type_width(VDB_TYPE_VARCHAR, 0), 0);
    assert_int_equal(vdb_type_width(VDB_TYPE_JSON, 0), 0);
    assert_int_equal(vdb_type_width(VDB_TYPE_ARRAY, 0), 0);
    assert_true(vdb_type_is_var(VDB_TYPE_ARRAY));
    assert_false(vdb_type_is_var(VDB_TYPE_FLOAT_VECTOR));
}

/* Found by fuzz_rest (UBSan: "applying zero offset to null pointer"): a var-length column
 * whose values are all empty has no byte array, and reading a value did NULL + 0. */
static void test_all_empty_values_read_as_empty_strings(void **state)
{
    (void)state;
    vdb_column c;
    vdb_column_init(&c, VDB_TYPE_VARCHAR, 0, true);
    assert_int_equal(vdb_column_push(&c, "", 0, true), VDB_OK);
    assert_int_equal(vdb_column_push(&c, NULL, 0, false), VDB_OK);
    size_t len = 1;
    const char *v = vdb_column_var(&c, 0, &len);
    assert_non_null(v);
    assert_int_equal(len, 0);
    v = vdb_column_var(&c, 1, &len);
    assert_non_null(v);
    assert_int_equal(len, 0);
    vdb_column_free(&c);
}

static void test_push_stores_values_and_nulls(void **state)
{
    (void)state;
    vdb_column c;
    vdb_column_init(&c, VDB_TYPE_INT32, 0, true);
    int32_t v = 42;
    assert_int_equal(vdb_column_push(&c, &v, 0, true), VDB_OK);
    assert_int_equal(vdb_column_push(&c, NULL, 0, false), VDB_OK);
    v = -7;
    assert_int_equal(vdb_column_push(&c, &v, 0, true), VDB_OK);
    assert_int_equal(c.rows, 3);
    assert_int_equal(*(const int32_t *)vdb_column_at(&c, 0), 42);
    assert_true(vdb_column_is_null(&c, 1));
    assert_int_equal(*(const int32_t *)vdb_column_at(&c, 1), 0); /* a NULL keeps its slot */
    assert_int_equal(*(const int32_t *)vdb_column_at(&c, 2), -7);
    assert_false(vdb_column_is_null(&c, 2));
    assert_true(vdb_column_memory(&c) >= 3 * 4 + 3);
    vdb_column_free(&c);

    vdb_column s;
    vdb_column_init(&s, VDB_TYPE_VARCHAR, 0, true);
    assert_int_equal(vdb_column_push(&s, "hello", 5, true), VDB_OK);
    assert_int_equal(vdb_column_push(&s, "ignored", 7, false), VDB_OK);
    assert_int_equal(vdb_column_push(&s, "", 0, true), VDB_OK);
    assert_int_equal(vdb_column_push(&s, "x\0y", 3, true), VDB_OK); /* bytes as given */
    size_t len;
    const char *p = vdb_column_var(&s, 0, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(p, "hello", 5);
    vdb_column_var(&s, 1, &len);
    assert_int_equal(len, 0);
    assert_true(vdb_column_is_null(&s, 1));
    vdb_column_var(&s, 2, &len);
    assert_int_equal(len, 0);
    assert_false(vdb_column_is_null(&s, 2));
    p = vdb_column_var(&s, 3, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(p, "x\0y", 3);
    vdb_column_free(&s);
}

static void test_push_null_into_non_nullable_is_rejected(void **state)
{
    (void)state;
    vdb_column c;
    vdb_column_init(&c, VDB_TYPE_DOUBLE, 0, false);
    vdb_err_clear();
    assert_int_equal(vdb_column_push(&c, NULL, 0, false), VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "not nullable"));
    assert_int_equal(c.rows, 0);
    vdb_column_free(&c);
}

static void test_push_out_of_memory_leaves_column_unchanged(void **state)
{
    (void)state;
    vdb_column c;
    vdb_column_init(&c, VDB_TYPE_VARCHAR, 0, true);
    for (int i = 0; i < 16; i++)
        assert_int_equal(vdb_column_push(&c, "abcdefgh", 8, true), VDB_OK);
    /* The next push grows every array; failing any one of them must change nothing. */
    for (uint64_t nth = 1; nth <= 3; nth++) {
        vdb_fault_alloc_after(nth, false);
        vdb_status st = vdb_column_push(&c, "0123456789abcdef0123456789abcdef0123456789abcdef"
                                            "0123456789abcdef0123456789abcdef0123456789abcdef"
                                            "0123456789abcdef0123456789abcdef0123456789abcdef"
                                            "0123456789abcdef0123456789abcdef0123456789abcdef",
                                        256, true);
        vdb_fault_alloc_after(0, false);
        assert_int_equal(st, VDB_ENOMEM);
        assert_int_equal(c.rows, 16);
        assert_int_equal(c.nbytes, 128);
        assert_int_equal(c.offsets[16], 128);
    }
    assert_int_equal(vdb_column_push(&c, "z", 1, true), VDB_OK);
    assert_int_equal(c.rows, 17);
    size_t len;
    assert_memory_equal(vdb_column_var(&c, 16, &len), "z", 1);
    vdb_column_free(&c);
}

static void test_append_and_append_rows_copy_rows_for_every_type(void **state)
{
    (void)state;
    for (size_t k = 0; k < VDB_ARRAY_LEN(cases); k++) {
        vdb_column src, a, b;
        vdb_column_init(&src, cases[k].type, cases[k].dim, cases[k].nullable);
        vdb_column_init(&a, cases[k].type, cases[k].dim, cases[k].nullable);
        vdb_column_init(&b, cases[k].type, cases[k].dim, cases[k].nullable);
        fill(&src, 100, k + 1);
        assert_int_equal(vdb_column_append(&a, &src, 10, 50), VDB_OK);
        assert_int_equal(a.rows, 50);
        for (size_t i = 0; i < 50; i++)
            assert_row_equal(&a, i, &src, 10 + i);
        uint32_t idx[] = {99, 0, 5, 5, 42};
        assert_int_equal(vdb_column_append_rows(&b, &src, idx, 5), VDB_OK);
        assert_int_equal(b.rows, 5);
        for (size_t i = 0; i < 5; i++)
            assert_row_equal(&b, i, &src, idx[i]);
        /* past the end */
        assert_int_equal(vdb_column_append(&a, &src, 90, 11), VDB_EINVAL);
        uint32_t bad[] = {1, 100};
        assert_int_equal(vdb_column_append_rows(&b, &src, bad, 2), VDB_EINVAL);
        assert_int_equal(a.rows, 50);
        assert_int_equal(b.rows, 5);
        vdb_column_free(&src);
        vdb_column_free(&a);
        vdb_column_free(&b);
    }
}

static void test_append_rejects_type_mismatch_and_nulls_into_non_nullable(void **state)
{
    (void)state;
    vdb_column a, b, v3, v4;
    vdb_column_init(&a, VDB_TYPE_INT64, 0, false);
    vdb_column_init(&b, VDB_TYPE_INT32, 0, true);
    fill(&b, 3, 1);
    assert_int_equal(vdb_column_append(&a, &b, 0, 1), VDB_EINVAL);
    vdb_column nb;
    vdb_column_init(&nb, VDB_TYPE_INT64, 0, true);
    fill(&nb, 3, 2); /* row 1 is NULL */
    assert_int_equal(vdb_column_append(&a, &nb, 0, 1), VDB_OK);
    vdb_err_clear();
    assert_int_equal(vdb_column_append(&a, &nb, 0, 3), VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "NULL"));
    assert_int_equal(a.rows, 1);
    vdb_column_init(&v3, VDB_TYPE_FLOAT_VECTOR, 3, false);
    vdb_column_init(&v4, VDB_TYPE_FLOAT_VECTOR, 4, false);
    fill(&v4, 2, 3);
    assert_int_equal(vdb_column_append(&v3, &v4, 0, 2), VDB_EINVAL);
    vdb_column_free(&a);
    vdb_column_free(&b);
    vdb_column_free(&nb);
    vdb_column_free(&v3);
    vdb_column_free(&v4);
}

static void test_truncate_drops_rows_and_bytes(void **state)
{
    (void)state;
    vdb_column c;
    vdb_column_init(&c, VDB_TYPE_JSON, 0, false);
    assert_int_equal(vdb_column_push(&c, "{\"a\":1}", 7, true), VDB_OK);
    assert_int_equal(vdb_column_push(&c, "[1,2]", 5, true), VDB_OK);
    assert_int_equal(vdb_column_push(&c, "null", 4, true), VDB_OK);
    vdb_column_truncate(&c, 1);
    assert_int_equal(c.rows, 1);
    assert_int_equal(c.nbytes, 7);
    vdb_column_truncate(&c, 5); /* growing is not truncating */
    assert_int_equal(c.rows, 1);
    assert_int_equal(vdb_column_push(&c, "true", 4, true), VDB_OK);
    size_t len;
    const char *p = vdb_column_var(&c, 1, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(p, "true", 4);
    vdb_column_free(&c);
}

static void test_encode_decode_round_trips_every_type(void **state)
{
    (void)state;
    for (size_t k = 0; k < VDB_ARRAY_LEN(cases); k++) {
        for (size_t n = 0; n <= 70; n += 35) {
            vdb_column c, d;
            vdb_column_init(&c, cases[k].type, cases[k].dim, cases[k].nullable);
            fill(&c, n, 7 * k + n);
            vdb_buf b = {0};
            vdb_buf_u32(&b, 0xabcdef01); /* encoding starts mid-buffer in log records */
            vdb_column_encode(&c, &b);
            vdb_buf_u32(&b, 0x12345678); /* and is followed by more */
            assert_false(b.oom);
            vdb_rd r = vdb_rd_init(b.p, b.len);
            assert_int_equal(vdb_rd_u32(&r), 0xabcdef01);
            assert_int_equal(vdb_column_decode(&r, &d), VDB_OK);
            assert_int_equal(vdb_rd_u32(&r), 0x12345678);
            assert_int_equal(r.off, b.len);
            assert_col_equal(&c, &d);
            vdb_column_free(&c);
            vdb_column_free(&d);
            vdb_buf_free(&b);
        }
    }
}

static void test_decode_rejects_every_truncation(void **state)
{
    (void)state;
    for (size_t k = 0; k < VDB_ARRAY_LEN(cases); k++) {
        vdb_column c, d;
        vdb_column_init(&c, cases[k].type, cases[k].dim, cases[k].nullable);
        fill(&c, 9, k + 100);
        vdb_buf b = {0};
        vdb_column_encode(&c, &b);
        for (size_t cut = 0; cut < b.len; cut++) {
            /* A copy of exactly cut bytes so that ASan sees any read past it. */
            uint8_t *p = malloc(cut ? cut : 1);
            memcpy(p, b.p, cut);
            vdb_rd r = vdb_rd_init(p, cut);
            vdb_err_clear();
            assert_int_equal(vdb_column_decode(&r, &d), VDB_ECORRUPT);
            assert_non_null(strstr(vdb_err_get(), "column:"));
            vdb_column_free(&d);
            free(p);
        }
        vdb_column_free(&c);
        vdb_buf_free(&b);
    }
}

static void test_decode_survives_random_byte_flips(void **state)
{
    (void)state;
    uint64_t rs = 99;
    size_t rejected = 0, total = 0;
    for (size_t k = 0; k < VDB_ARRAY_LEN(cases); k++) {
        vdb_column c, d;
        vdb_column_init(&c, cases[k].type, cases[k].dim, cases[k].nullable);
        fill(&c, 12, k + 200);
        vdb_buf b = {0};
        vdb_column_encode(&c, &b);
        for (int it = 0; it < 400; it++) {
            uint8_t *p = malloc(b.len);
            memcpy(p, b.p, b.len);
            int flips = 1 + (int)(test_rand(&rs) % 3);
            for (int f = 0; f < flips; f++)
                p[test_rand(&rs) % b.len] ^= (uint8_t)(1 + test_rand(&rs) % 255);
            vdb_rd r = vdb_rd_init(p, b.len);
            vdb_status st = vdb_column_decode(&r, &d);
            total++;
            if (st == VDB_OK) {
                /* A flip in a value is undetectable here; the result must still be sane. */
                assert_true(r.off <= b.len);
                for (size_t i = 0; vdb_type_is_var(d.type) && i < d.rows; i++)
                    assert_true(d.offsets[i] <= d.offsets[i + 1] && d.offsets[i + 1] <= d.nbytes);
            } else {
                assert_int_equal(st, VDB_ECORRUPT);
                rejected++;
            }
            vdb_column_free(&d);
            free(p);
        }
        vdb_column_free(&c);
        vdb_buf_free(&b);
    }
    assert_true(rejected > 0 && rejected < total);
}

static void test_decode_rejects_huge_row_count_without_allocating(void **state)
{
    (void)state;
    vdb_buf b = {0};
    vdb_buf_u32(&b, VDB_TYPE_INT64);
    vdb_buf_u32(&b, 0);
    vdb_buf_u8(&b, 0);
    vdb_buf_u64(&b, UINT64_MAX / 4);
    vdb_buf_u64(&b, 1);
    vdb_rd r = vdb_rd_init(b.p, b.len);
    vdb_column d;
    assert_int_equal(vdb_column_decode(&r, &d), VDB_ECORRUPT);
    vdb_buf_free(&b);
    /* an unknown type and a decreasing offset */
    vdb_buf_u32(&b, 77);
    vdb_buf_u32(&b, 0);
    vdb_buf_u8(&b, 0);
    vdb_buf_u64(&b, 0);
    r = vdb_rd_init(b.p, b.len);
    assert_int_equal(vdb_column_decode(&r, &d), VDB_ECORRUPT);
    vdb_buf_free(&b);
    vdb_buf_u32(&b, VDB_TYPE_VARCHAR);
    vdb_buf_u32(&b, 0);
    vdb_buf_u8(&b, 0);
    vdb_buf_u64(&b, 2);
    vdb_buf_u64(&b, 0);
    vdb_buf_u64(&b, 3);
    vdb_buf_u64(&b, 2);
    vdb_buf_put(&b, "abc", 3);
    r = vdb_rd_init(b.p, b.len);
    vdb_err_clear();
    assert_int_equal(vdb_column_decode(&r, &d), VDB_ECORRUPT);
    assert_non_null(strstr(vdb_err_get(), "decrease"));
    vdb_buf_free(&b);
}

static void test_binlog_round_trips_every_type(void **state)
{
    (void)state;
    for (size_t k = 0; k < VDB_ARRAY_LEN(cases); k++) {
        vdb_column c, d;
        vdb_column_init(&c, cases[k].type, cases[k].dim, cases[k].nullable);
        fill(&c, 1000, k + 300);
        vdb_buf b = {0};
        assert_int_equal(vdb_binlog_encode(&c, &b), VDB_OK);
        assert_memory_equal(b.p, "VDBBLOG1", 8);
        assert_int_equal(vdb_binlog_decode(b.p, b.len, &d), VDB_OK);
        assert_col_equal(&c, &d);
        vdb_column_free(&c);
        vdb_column_free(&d);
        vdb_buf_free(&b);
    }
}

static void test_binlog_compresses_repetitive_data(void **state)
{
    (void)state;
    vdb_column c;
    vdb_column_init(&c, VDB_TYPE_INT64, 0, false);
    for (int64_t i = 0; i < 10000; i++) {
        int64_t v = i % 4;
        assert_int_equal(vdb_column_push(&c, &v, 0, true), VDB_OK);
    }
    vdb_buf b = {0};
    assert_int_equal(vdb_binlog_encode(&c, &b), VDB_OK);
    assert_true(b.len < 10000 * 8 / 10);
    vdb_column_free(&c);
    vdb_buf_free(&b);
}

static void test_binlog_checksum_mismatch_is_corrupt(void **state)
{
    (void)state;
    vdb_column c, d;
    vdb_column_init(&c, VDB_TYPE_VARCHAR, 0, true);
    fill(&c, 200, 5);
    vdb_buf b = {0};
    assert_int_equal(vdb_binlog_encode(&c, &b), VDB_OK);
    /* a payload byte: the payload checksum catches it */
    b.p[b.len - 3] ^= 0x10;
    vdb_err_clear();
    assert_int_equal(vdb_binlog_decode(b.p, b.len, &d), VDB_ECORRUPT);
    assert_non_null(strstr(vdb_err_get(), "checksum"));
    b.p[b.len - 3] ^= 0x10;
    /* a header byte (the raw size): the header checksum catches it */
    b.p[17] ^= 0x01;
    vdb_err_clear();
    assert_int_equal(vdb_binlog_decode(b.p, b.len, &d), VDB_ECORRUPT);
    assert_non_null(strstr(vdb_err_get(), "header checksum"));
    b.p[17] ^= 0x01;
    assert_int_equal(vdb_binlog_decode(b.p, b.len, &d), VDB_OK);
    vdb_column_free(&d);
    /* a newer format version with a valid header checksum */
    vdb_put_u32(b.p + 8, 2);
    vdb_put_u32(b.p + 32, vdb_crc32c(0, b.p, 32));
    assert_int_equal(vdb_binlog_decode(b.p, b.len, &d), VDB_EVERSION);
    vdb_column_free(&c);
    vdb_buf_free(&b);
}

static void test_binlog_rejects_every_truncation_and_any_flip(void **state)
{
    (void)state;
    vdb_column c, d;
    vdb_column_init(&c, VDB_TYPE_FLOAT_VECTOR, 4, true);
    fill(&c, 30, 8);
    vdb_buf b = {0};
    assert_int_equal(vdb_binlog_encode(&c, &b), VDB_OK);
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, b.p, cut);
        assert_int_equal(vdb_binlog_decode(p, cut, &d), VDB_ECORRUPT);
        free(p);
    }
    uint64_t rs = 3;
    for (int it = 0; it < 2000; it++) {
        uint8_t *p = malloc(b.len);
        memcpy(p, b.p, b.len);
        size_t at = test_rand(&rs) % b.len;
        p[at] ^= (uint8_t)(1 + test_rand(&rs) % 255);
        vdb_status st = vdb_binlog_decode(p, b.len, &d);
        /* A flipped version byte is EVERSION only if the header crc also matched: never. */
        assert_int_equal(st, VDB_ECORRUPT);
        free(p);
    }
    /* trailing garbage */
    vdb_buf_u8(&b, 0);
    assert_int_equal(vdb_binlog_decode(b.p, b.len, &d), VDB_ECORRUPT);
    vdb_column_free(&c);
    vdb_buf_free(&b);
}

/* b (a binlog) rewritten so that its zstd frame and its header both claim raw bytes; the
 * checksums are made to match, so only the size check can refuse it. */
static void claim_raw_size(vdb_buf *b, uint64_t raw)
{
    const size_t H = 36;
    uint8_t *f = b->p + H;
    uint8_t fhd = f[4];
    bool single = (fhd >> 5) & 1;
    static const size_t dict_bytes[4] = {0, 1, 2, 4};
    size_t fcs_at = 5 + (single ? 0 : 1) + dict_bytes[fhd & 3];
    size_t fcs_bytes[4] = {single ? 1 : 0, 2, 4, 8};
    size_t old = fcs_bytes[fhd >> 6];
    size_t clen = b->len - H;
    uint8_t *nf = malloc(clen - old + 8);
    memcpy(nf, f, fcs_at);
    nf[4] = (uint8_t)(3u << 6 | (fhd & 0x3f));
    memcpy(nf + fcs_at, &raw, 8);
    memcpy(nf + fcs_at + 8, f + fcs_at + old, clen - fcs_at - old);
    b->len = H;
    vdb_buf_put(b, nf, clen - old + 8);
    free(nf);
    clen = b->len - H;
    vdb_put_u32(b->p + 12, vdb_crc32c(0, b->p + H, clen));
    vdb_put_u64(b->p + 16, raw);
    vdb_put_u64(b->p + 24, clen);
    vdb_put_u32(b->p + 32, vdb_crc32c(0, b->p, 32));
}

/* Found by fuzz_binlog: a file of a few dozen bytes whose header and frame both claim a
 * terabyte made the decoder allocate it (ASan: allocation-size-too-big). */
static void test_binlog_size_claims_beyond_the_frame_are_corrupt(void **state)
{
    (void)state;
    vdb_column c, d;
    vdb_column_init(&c, VDB_TYPE_INT64, 0, false);
    fill(&c, 100, 4);
    vdb_buf b = {0};
    assert_int_equal(vdb_binlog_encode(&c, &b), VDB_OK);
    vdb_buf raw = {0};
    vdb_column_encode(&c, &raw);
    vdb_buf orig = {0};
    vdb_buf_put(&orig, b.p, b.len);

    claim_raw_size(&b, UINT64_C(1) << 40);
    vdb_err_clear();
    assert_int_equal(vdb_binlog_decode(b.p, b.len, &d), VDB_ECORRUPT);
    assert_non_null(strstr(vdb_err_get(), "does not fit"));

    /* a claim the frame's size allows but its blocks do not give */
    b.len = 0;
    vdb_buf_put(&b, orig.p, orig.len);
    claim_raw_size(&b, raw.len + 1000);
    vdb_err_clear();
    assert_int_equal(vdb_binlog_decode(b.p, b.len, &d), VDB_ECORRUPT);
    assert_non_null(strstr(vdb_err_get(), "binlog: zstd"));

    /* and one short of what they give */
    b.len = 0;
    vdb_buf_put(&b, orig.p, orig.len);
    claim_raw_size(&b, raw.len - 1);
    assert_int_equal(vdb_binlog_decode(b.p, b.len, &d), VDB_ECORRUPT);

    /* the rewriting itself keeps a true claim decodable */
    b.len = 0;
    vdb_buf_put(&b, orig.p, orig.len);
    claim_raw_size(&b, raw.len);
    assert_int_equal(vdb_binlog_decode(b.p, b.len, &d), VDB_OK);
    assert_col_equal(&c, &d);
    vdb_column_free(&d);
    vdb_column_free(&c);
    vdb_buf_free(&b);
    vdb_buf_free(&raw);
    vdb_buf_free(&orig);
}

/* A column whose raw bytes are far more than its compressed ones (the decoder's buffer grows
 * as the frame gives bytes). */
static void test_binlog_highly_compressed_column_round_trips(void **state)
{
    (void)state;
    vdb_column c, d;
    vdb_column_init(&c, VDB_TYPE_INT64, 0, false);
    for (int64_t i = 0; i < 1000000; i++) {
        int64_t v = i < 500000 ? 0 : 7;
        assert_int_equal(vdb_column_push(&c, &v, 0, true), VDB_OK);
    }
    vdb_buf b = {0};
    assert_int_equal(vdb_binlog_encode(&c, &b), VDB_OK);
    assert_true(b.len * 100 < c.rows * 8);
    assert_int_equal(vdb_binlog_decode(b.p, b.len, &d), VDB_OK);
    assert_col_equal(&c, &d);
    vdb_column_free(&c);
    vdb_column_free(&d);
    vdb_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_width_covers_every_type),
        cmocka_unit_test(test_push_stores_values_and_nulls),
        cmocka_unit_test(test_all_empty_values_read_as_empty_strings),
        cmocka_unit_test(test_push_null_into_non_nullable_is_rejected),
        cmocka_unit_test(test_push_out_of_memory_leaves_column_unchanged),
        cmocka_unit_test(test_append_and_append_rows_copy_rows_for_every_type),
        cmocka_unit_test(test_append_rejects_type_mismatch_and_nulls_into_non_nullable),
        cmocka_unit_test(test_truncate_drops_rows_and_bytes),
        cmocka_unit_test(test_encode_decode_round_trips_every_type),
        cmocka_unit_test(test_decode_rejects_every_truncation),
        cmocka_unit_test(test_decode_survives_random_byte_flips),
        cmocka_unit_test(test_decode_rejects_huge_row_count_without_allocating),
        cmocka_unit_test(test_binlog_round_trips_every_type),
        cmocka_unit_test(test_binlog_compresses_repetitive_data),
        cmocka_unit_test(test_binlog_checksum_mismatch_is_corrupt),
        cmocka_unit_test(test_binlog_rejects_every_truncation_and_any_flip),
        cmocka_unit_test(test_binlog_size_claims_beyond_the_frame_are_corrupt),
        cmocka_unit_test(test_binlog_highly_compressed_column_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

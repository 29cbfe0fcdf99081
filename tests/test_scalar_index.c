/* Tests for scalar indexes: every kind on every suitable type against a plain scan, refusal
 * of unsuitable pairs, lookups a kind cannot answer, edge columns and allocation failures. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"
#include "index/scalar/scalar_index.h"
#include "test_common.h"
#include "util/json.h"

static const vdb_type numeric_types[] = {VDB_TYPE_BOOL,  VDB_TYPE_INT8,  VDB_TYPE_INT16,
                                         VDB_TYPE_INT32, VDB_TYPE_INT64, VDB_TYPE_FLOAT,
                                         VDB_TYPE_DOUBLE};

#define TWO53 (INT64_C(1) << 53)

/* ---- random data ---------------------------------------------------------------------- */

/* Integers from a small domain (many duplicates) plus each type's extremes, and for INT64
 * values where int64 -> double rounding matters. */
static int64_t rand_int(uint64_t *st, vdb_type t)
{
    static const int64_t big[] = {INT64_MIN, INT64_MAX, INT64_MAX - 1, TWO53, TWO53 + 1,
                                  TWO53 + 2, -TWO53 - 1, INT64_MIN + 1};
    uint64_t r = test_rand(st) % 100;
    if (r < 5) {
        switch (t) {
        case VDB_TYPE_INT8: return r & 1 ? INT8_MAX : INT8_MIN;
        case VDB_TYPE_INT16: return r & 1 ? INT16_MAX : INT16_MIN;
        case VDB_TYPE_INT32: return r & 1 ? INT32_MAX : INT32_MIN;
        default: return big[test_rand(st) % VDB_ARRAY_LEN(big)];
        }
    }
    return (int64_t)(test_rand(st) % 21) - 10;
}

static double rand_real(uint64_t *st)
{
    static const double special[] = {-0.0, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 0.1, 1e-30};
    if (test_rand(st) % 100 < 8)
        return special[test_rand(st) % VDB_ARRAY_LEN(special)];
    return (double)((int64_t)(test_rand(st) % 41) - 20) / 4;
}

/* Short strings over a tiny alphabet that includes NUL and a byte above 0x7f, so that
 * duplicates, shared prefixes and signedness mistakes all show up. */
static size_t rand_str(uint64_t *st, char *buf, size_t maxlen)
{
    static const char alpha[] = {'a', 'b', '\0', (char)0xff};
    size_t len = (size_t)(test_rand(st) % (maxlen + 1));
    for (size_t i = 0; i < len; i++)
        buf[i] = alpha[test_rand(st) % 4];
    return len;
}

/* n rows; when nullable about one in five is NULL. */
static void make_column(vdb_column *c, vdb_type t, size_t n, bool nullable, uint64_t *st)
{
    vdb_column_init(c, t, 0, nullable);
    for (size_t r = 0; r < n; r++) {
        bool valid = !(nullable && test_rand(st) % 5 == 0);
        uint8_t val[16];
        char sbuf[8];
        size_t len = 0;
        const void *p = val;
        int64_t x = rand_int(st, t);
        switch (t) {
        case VDB_TYPE_BOOL: val[0] = (uint8_t)(test_rand(st) & 1); break;
        case VDB_TYPE_INT8: { int8_t v = (int8_t)x; memcpy(val, &v, 1); break; }
        case VDB_TYPE_INT16: { int16_t v = (int16_t)x; memcpy(val, &v, 2); break; }
        case VDB_TYPE_INT32: { int32_t v = (int32_t)x; memcpy(val, &v, 4); break; }
        case VDB_TYPE_INT64: memcpy(val, &x, 8); break;
        case VDB_TYPE_FLOAT: { float v = (float)rand_real(st); memcpy(val, &v, 4); break; }
        case VDB_TYPE_DOUBLE: { double v = rand_real(st); memcpy(val, &v, 8); break; }
        case VDB_TYPE_VARCHAR: len = rand_str(st, sbuf, 5); p = sbuf; break;
        default: fail();
        }
        assert_int_equal(vdb_column_push(c, valid ? p : NULL, len, valid), VDB_OK);
    }
}

/* A numeric constant: an int (small, or an extreme) or a double (quarters, huge, infinite,
 * NaN); fractional doubles against int columns are the interesting case. */
static vdb_sval rand_num_sval(uint64_t *st)
{
    static const double dspecial[] = {9223372036854775808.0, -9223372036854775808.0,
                                      9007199254740992.0,    9007199254740994.0,
                                      INFINITY,              -INFINITY,
                                      NAN,                   -0.0,
                                      0.5,                   127.5};
    vdb_sval v = {0};
    uint64_t r = test_rand(st) % 100;
    if (r < 45) {
        v.is_int = true;
        v.i = r < 5 ? rand_int(st, VDB_TYPE_INT64) : (int64_t)(test_rand(st) % 25) - 12;
        v.d = (double)v.i;
    } else if (r < 55) {
        v.d = dspecial[test_rand(st) % VDB_ARRAY_LEN(dspecial)];
    } else {
        v.d = (double)((int64_t)(test_rand(st) % 97) - 48) / 4;
    }
    return v;
}

/* ---- the scan the index must agree with ------------------------------------------------- */

enum op { OP_LT, OP_LE, OP_EQ, OP_GE, OP_GT };

static bool apply_i(int64_t x, int64_t c, enum op op)
{
    switch (op) {
    case OP_LT: return x < c;
    case OP_LE: return x <= c;
    case OP_EQ: return x == c;
    case OP_GE: return x >= c;
    default: return x > c;
    }
}

static bool apply_d(double x, double c, enum op op)
{
    switch (op) {
    case OP_LT: return x < c;
    case OP_LE: return x <= c;
    case OP_EQ: return x == c;
    case OP_GE: return x >= c;
    default: return x > c;
    }
}

/* strcmp on raw bytes, written out byte by byte. */
static int str_order(const char *a, size_t la, const char *b, size_t lb)
{
    for (size_t i = 0; i < la && i < lb; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x != y)
            return x < y ? -1 : 1;
    }
    return la == lb ? 0 : la < lb ? -1 : 1;
}

/* Row value `op` constant, as a scan evaluates it in C. */
static bool row_holds(const vdb_column *c, size_t row, const vdb_sval *v, enum op op)
{
    const void *p = vdb_column_at(c, row);
    int64_t x;
    switch (c->type) {
    case VDB_TYPE_BOOL: x = *(const uint8_t *)p; break;
    case VDB_TYPE_INT8: x = *(const int8_t *)p; break;
    case VDB_TYPE_INT16: { int16_t y; memcpy(&y, p, 2); x = y; break; }
    case VDB_TYPE_INT32: { int32_t y; memcpy(&y, p, 4); x = y; break; }
    case VDB_TYPE_INT64: memcpy(&x, p, 8); break;
    case VDB_TYPE_FLOAT: {
        float f;
        memcpy(&f, p, 4);
        return apply_d((double)f, v->is_int ? (double)v->i : v->d, op);
    }
    case VDB_TYPE_DOUBLE: {
        double d;
        memcpy(&d, p, 8);
        return apply_d(d, v->is_int ? (double)v->i : v->d, op);
    }
    default: {
        size_t len;
        const char *s = vdb_column_var(c, row, &len);
        return apply_i(str_order(s, len, v->s, v->len), 0, op);
    }
    }
    return v->is_int ? apply_i(x, v->i, op) : apply_d((double)x, v->d, op);
}

static size_t words_for(size_t rows) { return (rows + 63) / 64 + 1; }

static void set_bit(uint64_t *b, size_t i) { b[i >> 6] |= UINT64_C(1) << (i & 63); }

/* Fills two bitsets with the same starting bits: zeros, or noise to check the OR. */
static void seed_bits(uint64_t *a, uint64_t *b, size_t words, uint64_t *st)
{
    bool noise = test_rand(st) % 3 == 0;
    for (size_t i = 0; i < words; i++)
        a[i] = b[i] = noise ? test_rand(st) & test_rand(st) : 0;
}

static void scan_range(const vdb_column *c, const vdb_sval *lo, bool lo_incl, const vdb_sval *hi,
                       bool hi_incl, uint64_t *out)
{
    for (size_t r = 0; r < c->rows; r++) {
        if (vdb_column_is_null(c, r))
            continue;
        if (lo && !row_holds(c, r, lo, lo_incl ? OP_GE : OP_GT))
            continue;
        if (hi && !row_holds(c, r, hi, hi_incl ? OP_LE : OP_LT))
            continue;
        set_bit(out, r);
    }
}

static void scan_eq(const vdb_column *c, const vdb_sval *v, uint64_t *out)
{
    for (size_t r = 0; r < c->rows; r++)
        if (!vdb_column_is_null(c, r) && row_holds(c, r, v, OP_EQ))
            set_bit(out, r);
}

static void scan_prefix(const vdb_column *c, const char *p, size_t n, uint64_t *out)
{
    for (size_t r = 0; r < c->rows; r++) {
        size_t len;
        const char *s = vdb_column_var(c, r, &len);
        if (!vdb_column_is_null(c, r) && len >= n && memcmp(s, p, n) == 0)
            set_bit(out, r);
    }
}

static void assert_bits_equal(const uint64_t *want, const uint64_t *got, size_t words,
                              const char *what, vdb_type t)
{
    for (size_t i = 0; i < words; i++) {
        if (want[i] != got[i]) {
            print_error("%s on %s: word %zu want %016llx got %016llx\n", what, vdb_type_name(t),
                        i, (unsigned long long)want[i], (unsigned long long)got[i]);
            fail();
        }
    }
}

/* ---- kinds against the scan ------------------------------------------------------------- */

static vdb_scalar_index *build_ok(vdb_sindex_kind kind, const vdb_column *c)
{
    vdb_scalar_index *ix = NULL;
    vdb_status st = vdb_sindex_build(kind, c, &ix);
    if (st != VDB_OK)
        print_error("build: %s\n", vdb_err_get());
    assert_int_equal(st, VDB_OK);
    assert_non_null(ix);
    assert_int_equal(vdb_sindex_kind_of(ix), kind);
    return ix;
}

/* Random numeric columns, random equality and (for SORTED) every range shape. */
static void check_numeric_kind(vdb_sindex_kind kind, uint64_t seed)
{
    uint64_t st = seed;
    for (size_t ti = 0; ti < VDB_ARRAY_LEN(numeric_types); ti++) {
        vdb_type t = numeric_types[ti];
        if (!vdb_sindex_suits(kind, t))
            continue; /* BITMAP: not FLOAT or DOUBLE */
        for (int round = 0; round < 4; round++) {
            vdb_column c;
            size_t n = (size_t)(test_rand(&st) % 700) + (round == 0 ? 0 : 64);
            make_column(&c, t, n, round % 2 == 1, &st);
            vdb_scalar_index *ix = build_ok(kind, &c);
            size_t words = words_for(n);
            uint64_t *want = calloc(words, 8), *got = calloc(words, 8);
            assert_non_null(want);
            assert_non_null(got);
            for (int q = 0; q < 60; q++) {
                vdb_sval lo = rand_num_sval(&st), hi = rand_num_sval(&st);
                seed_bits(want, got, words, &st);
                scan_eq(&c, &lo, want);
                assert_true(vdb_sindex_eq(ix, &lo, got));
                assert_bits_equal(want, got, words, "eq", t);
                for (int shape = 0; shape < 16; shape++) {
                    const vdb_sval *l = shape & 1 ? &lo : NULL, *h = shape & 2 ? &hi : NULL;
                    bool li = shape & 4, hinc = shape & 8;
                    seed_bits(want, got, words, &st);
                    if (kind == VDB_SINDEX_INVERTED) {
                        assert_false(vdb_sindex_range(ix, l, li, h, hinc, got));
                        assert_memory_equal(want, got, words * 8);
                        continue;
                    }
                    scan_range(&c, l, li, h, hinc, want);
                    assert_true(vdb_sindex_range(ix, l, li, h, hinc, got));
                    assert_bits_equal(want, got, words, "range", t);
                }
            }
            free(want);
            free(got);
            vdb_sindex_free(ix);
            vdb_column_free(&c);
        }
    }
}

static void test_sorted_matches_scan_for_eq_and_every_range_shape(void **state)
{
    (void)state;
    check_numeric_kind(VDB_SINDEX_SORTED, 11);
}

static void test_inverted_matches_scan_for_eq_on_every_numeric_type(void **state)
{
    (void)state;
    check_numeric_kind(VDB_SINDEX_INVERTED, 12);
}

/* Varchar under INVERTED (eq) and TRIE (eq, ranges, prefixes including "" and long ones). */
static void check_varchar_kind(vdb_sindex_kind kind, uint64_t seed)
{
    uint64_t st = seed;
    for (int round = 0; round < 6; round++) {
        vdb_column c;
        size_t n = (size_t)(test_rand(&st) % 900) + (round == 0 ? 0 : 64);
        make_column(&c, VDB_TYPE_VARCHAR, n, round % 2 == 1, &st);
        vdb_scalar_index *ix = build_ok(kind, &c);
        size_t words = words_for(n);
        uint64_t *want = calloc(words, 8), *got = calloc(words, 8);
        assert_non_null(want);
        assert_non_null(got);
        for (int q = 0; q < 200; q++) {
            char a[8], b[8];
            vdb_sval lo = {.s = a}, hi = {.s = b};
            lo.len = rand_str(&st, a, 7); /* up to 7: longer than any value */
            hi.len = rand_str(&st, b, 7);

            seed_bits(want, got, words, &st);
            scan_eq(&c, &lo, want);
            assert_true(vdb_sindex_eq(ix, &lo, got));
            assert_bits_equal(want, got, words, "eq", VDB_TYPE_VARCHAR);

            seed_bits(want, got, words, &st);
            if (kind != VDB_SINDEX_INVERTED) {
                scan_prefix(&c, a, lo.len, want);
                assert_true(vdb_sindex_prefix(ix, a, lo.len, got));
                assert_bits_equal(want, got, words, "prefix", VDB_TYPE_VARCHAR);
            } else {
                assert_false(vdb_sindex_prefix(ix, a, lo.len, got));
                assert_memory_equal(want, got, words * 8);
            }
            for (int shape = 0; shape < 16; shape++) {
                const vdb_sval *l = shape & 1 ? &lo : NULL, *h = shape & 2 ? &hi : NULL;
                bool li = shape & 4, hinc = shape & 8;
                seed_bits(want, got, words, &st);
                if (kind == VDB_SINDEX_INVERTED) {
                    assert_false(vdb_sindex_range(ix, l, li, h, hinc, got));
                    assert_memory_equal(want, got, words * 8);
                    continue;
                }
                scan_range(&c, l, li, h, hinc, want);
                assert_true(vdb_sindex_range(ix, l, li, h, hinc, got));
                assert_bits_equal(want, got, words, "range", VDB_TYPE_VARCHAR);
            }
        }
        /* the empty prefix is every non-NULL row */
        memset(want, 0, words * 8);
        memset(got, 0, words * 8);
        if (kind != VDB_SINDEX_INVERTED) {
            scan_prefix(&c, "", 0, want);
            assert_true(vdb_sindex_prefix(ix, NULL, 0, got));
            assert_bits_equal(want, got, words, "empty prefix", VDB_TYPE_VARCHAR);
        }
        free(want);
        free(got);
        vdb_sindex_free(ix);
        vdb_column_free(&c);
    }
}

static void test_inverted_matches_scan_for_varchar_eq(void **state)
{
    (void)state;
    check_varchar_kind(VDB_SINDEX_INVERTED, 21);
}

static void test_trie_matches_scan_for_eq_prefix_and_range(void **state)
{
    (void)state;
    check_varchar_kind(VDB_SINDEX_TRIE, 22);
}

/* BITMAP: frequent values as bitsets, rare ones (the extremes) as row lists, side by side. */
static void test_bitmap_matches_scan_for_eq_and_ranges_on_bool_and_ints(void **state)
{
    (void)state;
    check_numeric_kind(VDB_SINDEX_BITMAP, 13);
}

static void test_bitmap_matches_scan_for_varchar_eq_prefix_and_range(void **state)
{
    (void)state;
    check_varchar_kind(VDB_SINDEX_BITMAP, 23);
}

/* ---- exact cases ------------------------------------------------------------------------ */

static void push_i64(vdb_column *c, int64_t v) { assert_int_equal(vdb_column_push(c, &v, 8, true), VDB_OK); }

static uint64_t lookup_range(const vdb_scalar_index *ix, const vdb_sval *lo, bool li,
                             const vdb_sval *hi, bool hinc)
{
    uint64_t out = 0;
    assert_true(vdb_sindex_range(ix, lo, li, hi, hinc, &out));
    return out;
}

static void test_int_column_with_fractional_bounds_is_a_range_between_ints(void **state)
{
    (void)state;
    vdb_column c;
    vdb_column_init(&c, VDB_TYPE_INT32, 0, false);
    for (int32_t v = 0; v < 6; v++)
        assert_int_equal(vdb_column_push(&c, &v, 4, true), VDB_OK); /* row i holds i */
    vdb_scalar_index *ix = build_ok(VDB_SINDEX_SORTED, &c);
    vdb_sval d25 = {.d = 2.5}, d4 = {.d = 4.0}, i2 = {.is_int = true, .i = 2};
    assert_int_equal(lookup_range(ix, &d25, false, NULL, false), 0x38); /* x > 2.5: 3,4,5 */
    assert_int_equal(lookup_range(ix, &d25, true, NULL, false), 0x38);
    assert_int_equal(lookup_range(ix, NULL, false, &d25, true), 0x07);  /* x <= 2.5: 0,1,2 */
    assert_int_equal(lookup_range(ix, &i2, false, &d4, false), 0x08);   /* 2 < x < 4.0 */
    assert_int_equal(lookup_range(ix, &i2, true, &d4, true), 0x1c);
    assert_int_equal(lookup_range(ix, &d4, true, &i2, true), 0);        /* inverted range */
    uint64_t out = 0;
    assert_true(vdb_sindex_eq(ix, &d25, &out));
    assert_int_equal(out, 0);
    vdb_sindex_free(ix);
    vdb_column_free(&c);
}

/* Near 2^53 several int64 values round to the same double; a double constant must match
 * every one of them, as a scan converting the column value would. */
static void test_int64_against_double_near_2_pow_53_matches_like_a_scan(void **state)
{
    (void)state;
    static const int64_t vals[] = {TWO53 + 3, TWO53 + 1, TWO53, TWO53 + 2, TWO53 - 1,
                                   INT64_MAX, INT64_MIN, INT64_MAX - 1};
    vdb_column c;
    vdb_column_init(&c, VDB_TYPE_INT64, 0, false);
    for (size_t i = 0; i < VDB_ARRAY_LEN(vals); i++)
        push_i64(&c, vals[i]);
    vdb_sindex_kind kinds[] = {VDB_SINDEX_SORTED, VDB_SINDEX_INVERTED};
    vdb_sval consts[] = {{.d = 9007199254740992.0},  {.d = 9007199254740994.0},
                         {.d = 9223372036854775808.0}, {.d = -9223372036854775808.0},
                         {.is_int = true, .i = TWO53 + 1}, {.is_int = true, .i = INT64_MAX}};
    for (size_t k = 0; k < 2; k++) {
        vdb_scalar_index *ix = build_ok(kinds[k], &c);
        for (size_t i = 0; i < VDB_ARRAY_LEN(consts); i++) {
            uint64_t want = 0, got = 0;
            scan_eq(&c, &consts[i], &want);
            assert_true(vdb_sindex_eq(ix, &consts[i], &got));
            assert_int_equal(want, got);
            if (kinds[k] == VDB_SINDEX_SORTED) {
                want = 0;
                scan_range(&c, &consts[i], false, NULL, false, &want);
                assert_int_equal(lookup_range(ix, &consts[i], false, NULL, false), want);
            }
        }
        uint64_t got = 0;
        assert_true(vdb_sindex_eq(ix, &consts[0], &got));
        assert_int_equal(got, 0x06); /* rows 1, 2: 2^53+1 rounds (to even) to 2^53 */
        vdb_sindex_free(ix);
    }
    vdb_column_free(&c);
}

static void test_float_negative_zero_equals_zero_and_nan_constant_matches_nothing(void **state)
{
    (void)state;
    static const float vals[] = {0.0f, -0.0f, INFINITY, -INFINITY, 1.5f};
    vdb_column c;
    vdb_column_init(&c, VDB_TYPE_FLOAT, 0, false);
    for (size_t i = 0; i < VDB_ARRAY_LEN(vals); i++)
        assert_int_equal(vdb_column_push(&c, &vals[i], 4, true), VDB_OK);
    for (vdb_sindex_kind k = VDB_SINDEX_SORTED; k <= VDB_SINDEX_INVERTED; k++) {
        vdb_scalar_index *ix = build_ok(k, &c);
        vdb_sval zero = {.is_int = true, .i = 0}, nzero = {.d = -0.0}, nan = {.d = NAN};
        vdb_sval inf = {.d = INFINITY};
        uint64_t out = 0;
        assert_true(vdb_sindex_eq(ix, &zero, &out));
        assert_int_equal(out, 0x03);
        out = 0;
        assert_true(vdb_sindex_eq(ix, &nzero, &out));
        assert_int_equal(out, 0x03);
        out = 0;
        assert_true(vdb_sindex_eq(ix, &inf, &out));
        assert_int_equal(out, 0x04);
        out = 0;
        assert_true(vdb_sindex_eq(ix, &nan, &out));
        assert_int_equal(out, 0);
        if (k == VDB_SINDEX_SORTED) {
            assert_int_equal(lookup_range(ix, &nan, true, NULL, false), 0);
            assert_int_equal(lookup_range(ix, NULL, false, &nan, true), 0);
            assert_int_equal(lookup_range(ix, &nzero, true, &zero, true), 0x03);
            assert_int_equal(lookup_range(ix, &zero, false, NULL, false), 0x14);
        }
        vdb_sindex_free(ix);
    }
    vdb_column_free(&c);
}

/* The database rejects NaN, but a column holding one must still build; no lookup matches it
 * since every comparison with NaN is false. */
static void test_nan_in_column_builds_and_never_matches(void **state)
{
    (void)state;
    static const double vals[] = {NAN, 1.0, -NAN, 2.0, NAN};
    vdb_column c;
    vdb_column_init(&c, VDB_TYPE_DOUBLE, 0, false);
    for (size_t i = 0; i < VDB_ARRAY_LEN(vals); i++)
        assert_int_equal(vdb_column_push(&c, &vals[i], 8, true), VDB_OK);
    for (vdb_sindex_kind k = VDB_SINDEX_SORTED; k <= VDB_SINDEX_INVERTED; k++) {
        vdb_scalar_index *ix = build_ok(k, &c);
        vdb_sval one = {.is_int = true, .i = 1};
        uint64_t out = 0;
        assert_true(vdb_sindex_eq(ix, &one, &out));
        assert_int_equal(out, 0x02);
        if (k == VDB_SINDEX_SORTED)
            assert_int_equal(lookup_range(ix, NULL, false, NULL, false), 0x0a);
        vdb_sindex_free(ix);
    }
    vdb_column_free(&c);
}

/* ---- refusals --------------------------------------------------------------------------- */

static void test_unsuitable_kind_and_type_pairs_are_refused_with_a_message(void **state)
{
    (void)state;
    static const struct {
        vdb_sindex_kind kind;
        vdb_type type;
        uint32_t dim;
        const char *kname, *tname;
    } bad[] = {
        {VDB_SINDEX_TRIE, VDB_TYPE_INT64, 0, "TRIE", "INT64"},
        {VDB_SINDEX_TRIE, VDB_TYPE_BOOL, 0, "TRIE", "BOOL"},
        {VDB_SINDEX_TRIE, VDB_TYPE_DOUBLE, 0, "TRIE", "DOUBLE"},
        {VDB_SINDEX_SORTED, VDB_TYPE_VARCHAR, 0, "SORTED", "VARCHAR"},
        {VDB_SINDEX_SORTED, VDB_TYPE_JSON, 0, "SORTED", "JSON"},
        {VDB_SINDEX_INVERTED, VDB_TYPE_JSON, 0, "INVERTED", "JSON"},
        {VDB_SINDEX_TRIE, VDB_TYPE_JSON, 0, "TRIE", "JSON"},
        {VDB_SINDEX_SORTED, VDB_TYPE_ARRAY, 0, "SORTED", "ARRAY"},
        {VDB_SINDEX_INVERTED, VDB_TYPE_ARRAY, 0, "INVERTED", "ARRAY"},
        {VDB_SINDEX_TRIE, VDB_TYPE_ARRAY, 0, "TRIE", "ARRAY"},
        {VDB_SINDEX_SORTED, VDB_TYPE_FLOAT_VECTOR, 4, "SORTED", "FLOAT_VECTOR"},
        {VDB_SINDEX_INVERTED, VDB_TYPE_FLOAT_VECTOR, 4, "INVERTED", "FLOAT_VECTOR"},
        {VDB_SINDEX_TRIE, VDB_TYPE_FLOAT_VECTOR, 4, "TRIE", "FLOAT_VECTOR"},
    };
    for (size_t i = 0; i < VDB_ARRAY_LEN(bad); i++) {
        vdb_column c;
        vdb_column_init(&c, bad[i].type, bad[i].dim, false);
        vdb_scalar_index *ix = (vdb_scalar_index *)&c; /* must be reset to NULL */
        assert_int_equal(vdb_sindex_build(bad[i].kind, &c, &ix), VDB_EINVAL);
        assert_null(ix);
        if (!strstr(vdb_err_get(), bad[i].kname) || !strstr(vdb_err_get(), bad[i].tname)) {
            print_error("message '%s' should name %s and %s\n", vdb_err_get(), bad[i].kname,
                        bad[i].tname);
            fail();
        }
        vdb_column_free(&c);
    }
    vdb_column c;
    vdb_column_init(&c, VDB_TYPE_INT64, 0, false);
    vdb_scalar_index *ix = NULL;
    assert_int_equal(vdb_sindex_build((vdb_sindex_kind)99, &c, &ix), VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "99"));
    assert_null(ix);
    vdb_column_free(&c);
}

/* Each unanswerable lookup returns false and leaves out exactly as it was. */
static void test_lookups_a_kind_cannot_answer_return_false_and_leave_out_untouched(void **state)
{
    (void)state;
    uint64_t st = 5;
    vdb_column num, str;
    make_column(&num, VDB_TYPE_INT64, 200, true, &st);
    make_column(&str, VDB_TYPE_VARCHAR, 200, true, &st);
    vdb_scalar_index *sorted = build_ok(VDB_SINDEX_SORTED, &num);
    vdb_scalar_index *inv_num = build_ok(VDB_SINDEX_INVERTED, &num);
    vdb_scalar_index *inv_str = build_ok(VDB_SINDEX_INVERTED, &str);
    vdb_scalar_index *trie = build_ok(VDB_SINDEX_TRIE, &str);
    vdb_sval s = {.s = "a", .len = 1}, empty = {.s = "", .len = 0};
    vdb_sval i = {.is_int = true, .i = 1}, d = {.d = 1.0};
    uint64_t out[4] = {0xdeadbeef, 0, UINT64_MAX, 0x55};
    const uint64_t orig[4] = {0xdeadbeef, 0, UINT64_MAX, 0x55};

    assert_false(vdb_sindex_prefix(sorted, "a", 1, out));
    assert_false(vdb_sindex_prefix(inv_num, "a", 1, out));
    assert_false(vdb_sindex_prefix(inv_str, "a", 1, out));
    assert_false(vdb_sindex_prefix(trie, NULL, 3, out));
    assert_false(vdb_sindex_range(inv_num, &i, true, NULL, false, out));
    assert_false(vdb_sindex_range(inv_str, &s, true, NULL, false, out));
    assert_false(vdb_sindex_range(inv_num, NULL, false, NULL, false, out));
    assert_false(vdb_sindex_eq(sorted, &s, out));
    assert_false(vdb_sindex_eq(sorted, &empty, out));
    assert_false(vdb_sindex_eq(inv_num, &s, out));
    assert_false(vdb_sindex_range(sorted, &i, true, &s, true, out));
    assert_false(vdb_sindex_range(sorted, &s, true, NULL, true, out));
    assert_false(vdb_sindex_eq(inv_str, &i, out));
    assert_false(vdb_sindex_eq(trie, &d, out));
    assert_false(vdb_sindex_range(trie, &s, true, &i, true, out));
    assert_false(vdb_sindex_eq(sorted, NULL, out));
    assert_memory_equal(out, orig, sizeof out);

    vdb_sindex_free(sorted);
    vdb_sindex_free(inv_num);
    vdb_sindex_free(inv_str);
    vdb_sindex_free(trie);
    vdb_column_free(&num);
    vdb_column_free(&str);
}

/* ---- edge columns ----------------------------------------------------------------------- */

/* Every kind/type pair that fits, over a column of `rows` rows of which NULL when all_null. */
static void check_matches_nothing(size_t rows, bool all_null)
{
    static const vdb_type types[] = {VDB_TYPE_BOOL,  VDB_TYPE_INT8,  VDB_TYPE_INT16,
                                     VDB_TYPE_INT32, VDB_TYPE_INT64, VDB_TYPE_FLOAT,
                                     VDB_TYPE_DOUBLE, VDB_TYPE_VARCHAR};
    for (size_t ti = 0; ti < VDB_ARRAY_LEN(types); ti++) {
        vdb_column c;
        vdb_column_init(&c, types[ti], 0, all_null);
        for (size_t r = 0; r < rows; r++)
            assert_int_equal(vdb_column_push(&c, NULL, 0, false), VDB_OK);
        for (vdb_sindex_kind k = VDB_SINDEX_SORTED; k <= VDB_SINDEX_TRIE; k++) {
            bool var = types[ti] == VDB_TYPE_VARCHAR;
            if ((k == VDB_SINDEX_SORTED && var) || (k == VDB_SINDEX_TRIE && !var))
                continue;
            vdb_scalar_index *ix = build_ok(k, &c);
            vdb_sval v = var ? (vdb_sval){.s = "", .len = 0} : (vdb_sval){.is_int = true};
            uint64_t out[3] = {0, 0, 0};
            assert_true(vdb_sindex_eq(ix, &v, out));
            if (k != VDB_SINDEX_INVERTED)
                assert_true(vdb_sindex_range(ix, NULL, false, NULL, false, out));
            if (k == VDB_SINDEX_TRIE)
                assert_true(vdb_sindex_prefix(ix, "", 0, out));
            assert_int_equal(out[0] | out[1] | out[2], 0);
            assert_true(vdb_sindex_memory(ix) > 0);
            vdb_sindex_free(ix);
        }
        vdb_column_free(&c);
    }
}

static void test_empty_column_builds_and_matches_nothing(void **state)
{
    (void)state;
    check_matches_nothing(0, false);
}

static void test_all_null_column_builds_and_matches_nothing(void **state)
{
    (void)state;
    check_matches_nothing(130, true);
}

static void test_lookups_or_into_a_nonzero_bitset_and_keep_old_bits(void **state)
{
    (void)state;
    vdb_column num, str;
    vdb_column_init(&num, VDB_TYPE_INT16, 0, false);
    vdb_column_init(&str, VDB_TYPE_VARCHAR, 0, false);
    for (int16_t r = 0; r < 128; r++) {
        int16_t v = r % 2;
        assert_int_equal(vdb_column_push(&num, &v, 2, true), VDB_OK);
        assert_int_equal(vdb_column_push(&str, v ? "xy" : "z", v ? 2 : 1, true), VDB_OK);
    }
    const uint64_t odd = UINT64_C(0xaaaaaaaaaaaaaaaa), old = UINT64_C(0x0f0f);
    vdb_sval one = {.is_int = true, .i = 1}, xy = {.s = "xy", .len = 2};
    for (vdb_sindex_kind k = VDB_SINDEX_SORTED; k <= VDB_SINDEX_TRIE; k++) {
        vdb_scalar_index *ix = build_ok(k, k == VDB_SINDEX_TRIE ? &str : &num);
        uint64_t out[2] = {old, old};
        assert_true(vdb_sindex_eq(ix, k == VDB_SINDEX_TRIE ? &xy : &one, out));
        assert_int_equal(out[0], odd | old);
        assert_int_equal(out[1], odd | old);
        if (k == VDB_SINDEX_TRIE) {
            out[0] = out[1] = old;
            assert_true(vdb_sindex_prefix(ix, "x", 1, out));
            assert_int_equal(out[0], odd | old);
        }
        vdb_sindex_free(ix);
    }
    vdb_column_free(&num);
    vdb_column_free(&str);
}


/* ---- ARRAY elements: array_contains* through the filter, with the index and without ---- */

static const vdb_type elem_types[] = {VDB_TYPE_BOOL,  VDB_TYPE_INT8,   VDB_TYPE_INT16,
                                      VDB_TYPE_INT32, VDB_TYPE_INT64,  VDB_TYPE_FLOAT,
                                      VDB_TYPE_DOUBLE, VDB_TYPE_VARCHAR};

/* One element's JSON text from a small domain (so arrays repeat elements), plus the odd
 * spellings a scan must read as the same value: escapes, -0, exponents, integers past 2^53
 * in float arrays. */
static const char *rand_elem(uint64_t *st, vdb_type t)
{
    static const char *const bools[] = {"true", "false"};
    static const char *const ints[] = {"0", "1", "2", "3", "-1", "-2", "7", "-0"};
    static const char *const i64[] = {"9223372036854775807", "-9223372036854775808",
                                      "9007199254740993", "9007199254740992"};
    static const char *const reals[] = {"0", "1", "2.5", "-0.0", "-0", "1e0", "0.1",
                                        "9007199254740993", "250e-2", "3"};
    static const char *const strs[] = {"\"a\"", "\"b\"", "\"\"", "\"ab\"", "\"\\u0061\"",
                                       "\"\\u00e9\"", "\"\xc3\xa9\"", "\"a\\nb\"", "\"\\\"\""};
    switch (t) {
    case VDB_TYPE_BOOL: return bools[test_rand(st) % 2];
    case VDB_TYPE_INT64:
        if (test_rand(st) % 10 == 0)
            return i64[test_rand(st) % VDB_ARRAY_LEN(i64)];
        /* fall through */
    case VDB_TYPE_INT8:
    case VDB_TYPE_INT16:
    case VDB_TYPE_INT32: return ints[test_rand(st) % VDB_ARRAY_LEN(ints)];
    case VDB_TYPE_FLOAT:
    case VDB_TYPE_DOUBLE: return reals[test_rand(st) % VDB_ARRAY_LEN(reals)];
    default: return strs[test_rand(st) % VDB_ARRAY_LEN(strs)];
    }
}

/* n rows of ARRAY text: about one in six NULL, one in six empty, the rest 1..6 elements. */
static void make_array_column(vdb_column *c, vdb_type t, size_t n, uint64_t *st)
{
    vdb_column_init(c, VDB_TYPE_ARRAY, 0, true);
    for (size_t r = 0; r < n; r++) {
        char text[512];
        size_t len = 0;
        uint64_t kind = test_rand(st) % 6;
        if (kind == 0) {
            assert_int_equal(vdb_column_push(c, NULL, 0, false), VDB_OK);
            continue;
        }
        size_t m = kind == 1 ? 0 : 1 + (size_t)(test_rand(st) % 6);
        len += (size_t)snprintf(text + len, sizeof text - len, kind == 2 ? " [ " : "[");
        for (size_t i = 0; i < m; i++)
            len += (size_t)snprintf(text + len, sizeof text - len, "%s%s",
                                    i ? (kind == 2 ? " , " : ",") : "", rand_elem(st, t));
        len += (size_t)snprintf(text + len, sizeof text - len, "]");
        assert_int_equal(vdb_json_check_array(text, len, t, 100, 100, "test"), VDB_OK);
        assert_int_equal(vdb_column_push(c, text, len, true), VDB_OK);
    }
}

/* A constant for the filter text: the element domain, plus values no row holds. */
static const char *rand_const(uint64_t *st, vdb_type t)
{
    static const char *const nums[] = {"4", "2.5", "1.0", "-0.5", "9007199254740993",
                                       "9223372036854775807"};
    static const char *const strs[] = {"\"zz\"", "\"\\u00e9\"", "\"a\\nb\""};
    if (test_rand(st) % 4 == 0) {
        if (t == VDB_TYPE_BOOL)
            return "true";
        return t == VDB_TYPE_VARCHAR ? strs[test_rand(st) % VDB_ARRAY_LEN(strs)]
                                     : nums[test_rand(st) % VDB_ARRAY_LEN(nums)];
    }
    return rand_elem(st, t);
}

static void eval_filter(const char *text, const vdb_expr_schema *sc, const vdb_column *c,
                        const vdb_scalar_index *ix, uint64_t *out)
{
    vdb_expr *e = NULL;
    if (vdb_expr_parse(text, sc, &e) != VDB_OK) {
        print_error("parse '%s': %s\n", text, vdb_err_get());
        fail();
    }
    const vdb_column *cols[1] = {c};
    const vdb_scalar_index *ixs[1] = {ix};
    vdb_expr_input in = {c->rows, cols, ix ? ixs : NULL};
    assert_int_equal(vdb_expr_eval(e, &in, out), VDB_OK);
    vdb_expr_free(e);
}

static void check_array_kind(vdb_sindex_kind kind, uint64_t seed)
{
    uint64_t st = seed;
    for (size_t ti = 0; ti < VDB_ARRAY_LEN(elem_types); ti++) {
        vdb_type t = elem_types[ti];
        if (!vdb_sindex_suits_elems(kind, t)) {
            assert_true(kind == VDB_SINDEX_BITMAP && (t == VDB_TYPE_FLOAT || t == VDB_TYPE_DOUBLE));
            continue;
        }
        vdb_expr_field f = {"a", VDB_TYPE_ARRAY, t, true, 0};
        vdb_expr_schema sc = {1, &f, -1};
        for (int round = 0; round < 3; round++) {
            vdb_column c;
            size_t n = (size_t)(test_rand(&st) % 600) + (round == 0 ? 1 : 100);
            make_array_column(&c, t, n, &st);
            vdb_scalar_index *ix = NULL;
            if (vdb_sindex_build_elems(kind, t, &c, &ix) != VDB_OK) {
                print_error("build: %s\n", vdb_err_get());
                fail();
            }
            assert_true(vdb_sindex_is_elems(ix));
            size_t words = words_for(n);
            uint64_t *want = calloc(words, 8), *got = calloc(words, 8);
            assert_non_null(want);
            assert_non_null(got);
            for (int q = 0; q < 80; q++) {
                char text[256];
                const char *a = rand_const(&st, t), *b = rand_const(&st, t);
                switch (q % 7) {
                case 0: snprintf(text, sizeof text, "array_contains(a, %s)", a); break;
                case 1: snprintf(text, sizeof text, "array_contains_any(a, [%s, %s])", a, b); break;
                case 2: snprintf(text, sizeof text, "array_contains_all(a, [%s, %s])", a, b); break;
                case 3: snprintf(text, sizeof text, "not array_contains_any(a, [%s])", a); break;
                case 4: snprintf(text, sizeof text, "array_contains_all(a, [%s])", a); break;
                case 5:
                    snprintf(text, sizeof text, "array_contains(a, %s) or array_contains_all(a, "
                             "[%s, %s, %s])", a, b, a, rand_const(&st, t));
                    break;
                default: snprintf(text, sizeof text, "not array_contains_all(a, [%s, %s])", a, b);
                }
                eval_filter(text, &sc, &c, NULL, want);
                eval_filter(text, &sc, &c, ix, got);
                if (memcmp(want, got, words * 8)) {
                    print_error("'%s' on ARRAY of %s\n", text, vdb_type_name(t));
                    assert_bits_equal(want, got, words, "array_contains", t);
                }
            }
            free(want);
            free(got);
            vdb_sindex_free(ix);
            vdb_column_free(&c);
        }
    }
}

static void test_inverted_on_arrays_matches_the_scan_for_array_contains(void **state)
{
    (void)state;
    check_array_kind(VDB_SINDEX_INVERTED, 31);
}

static void test_bitmap_on_arrays_matches_the_scan_for_array_contains(void **state)
{
    (void)state;
    check_array_kind(VDB_SINDEX_BITMAP, 32);
}

/* A row repeating an element is one row of that element; NULL rows and empty arrays are in
 * no list; an element index is refused for unsuitable element types and non-array columns. */
static void test_array_duplicates_count_once_and_unsuitable_elements_are_refused(void **state)
{
    (void)state;
    vdb_column c;
    vdb_column_init(&c, VDB_TYPE_ARRAY, 0, true);
    const char *rows[] = {"[5,5,5]", NULL, "[]", "[5, 6]", "[6,6]"};
    for (size_t r = 0; r < VDB_ARRAY_LEN(rows); r++)
        assert_int_equal(
            vdb_column_push(&c, rows[r], rows[r] ? strlen(rows[r]) : 0, rows[r] != NULL), VDB_OK);
    for (vdb_sindex_kind k = VDB_SINDEX_INVERTED; k <= VDB_SINDEX_BITMAP; k += 2) {
        vdb_scalar_index *ix = NULL;
        assert_int_equal(vdb_sindex_build_elems(k, VDB_TYPE_INT32, &c, &ix), VDB_OK);
        uint64_t out[2] = {0, 0};
        vdb_sval five = {.is_int = true, .i = 5}, six = {.is_int = true, .i = 6};
        assert_true(vdb_sindex_eq(ix, &five, out));
        assert_int_equal(out[0], 0x9);
        out[0] = 0;
        assert_true(vdb_sindex_eq(ix, &six, out));
        assert_int_equal(out[0], 0x18);
        /* the filter asks the index: over a column of empty arrays it still answers with
         * the rows the index names (so the comparisons with the scan above are real) */
        vdb_column empty;
        vdb_column_init(&empty, VDB_TYPE_ARRAY, 0, true);
        for (size_t r = 0; r < VDB_ARRAY_LEN(rows); r++)
            assert_int_equal(vdb_column_push(&empty, "[]", 2, true), VDB_OK);
        vdb_expr_field f = {"a", VDB_TYPE_ARRAY, VDB_TYPE_INT32, true, 0};
        vdb_expr_schema sc = {1, &f, -1};
        uint64_t bits[2] = {0, 0};
        eval_filter("array_contains_any(a, [5, 6])", &sc, &empty, ix, bits);
        assert_int_equal(bits[0], 0x19);
        eval_filter("array_contains_all(a, [6, 5])", &sc, &empty, ix, bits);
        assert_int_equal(bits[0], 0x8);
        eval_filter("array_contains(a, 5)", &sc, &empty, NULL, bits);
        assert_int_equal(bits[0], 0);
        vdb_column_free(&empty);
        vdb_sindex_free(ix);
    }
    vdb_scalar_index *ix = (vdb_scalar_index *)&c;
    assert_int_equal(vdb_sindex_build_elems(VDB_SINDEX_BITMAP, VDB_TYPE_DOUBLE, &c, &ix),
                     VDB_EINVAL);
    assert_null(ix);
    assert_non_null(strstr(vdb_err_get(), "DOUBLE"));
    assert_int_equal(vdb_sindex_build_elems(VDB_SINDEX_SORTED, VDB_TYPE_INT32, &c, &ix),
                     VDB_EINVAL);
    /* a row that is not an array of the element type is a damaged column */
    assert_int_equal(vdb_column_push(&c, "[1.5]", 5, true), VDB_OK);
    assert_int_equal(vdb_sindex_build_elems(VDB_SINDEX_INVERTED, VDB_TYPE_INT32, &c, &ix),
                     VDB_ECORRUPT);
    assert_non_null(strstr(vdb_err_get(), "row 5"));
    vdb_column_free(&c);
    vdb_column num;
    vdb_column_init(&num, VDB_TYPE_INT32, 0, false);
    assert_int_equal(vdb_sindex_build_elems(VDB_SINDEX_INVERTED, VDB_TYPE_INT32, &num, &ix),
                     VDB_EINVAL);
    assert_int_equal(vdb_sindex_build(VDB_SINDEX_BITMAP, &num, &ix), VDB_OK);
    vdb_sindex_free(ix);
    vdb_column_free(&num);
    vdb_column_init(&num, VDB_TYPE_DOUBLE, 0, false);
    assert_int_equal(vdb_sindex_build(VDB_SINDEX_BITMAP, &num, &ix), VDB_EINVAL);
    vdb_column_free(&num);
}

/* BITMAP keeps a bitset only for values worth one: 3 values over 6400 rows are bitsets, the
 * 100 rare ones lists, and the index is smaller than the inverted one. */
static void test_bitmap_keeps_bitsets_for_frequent_values_and_lists_for_rare_ones(void **state)
{
    (void)state;
    vdb_column c;
    vdb_column_init(&c, VDB_TYPE_INT32, 0, false);
    for (int32_t r = 0; r < 6400; r++) {
        int32_t v = r % 64 == 0 ? 1000 + r / 64 : r % 3;
        assert_int_equal(vdb_column_push(&c, &v, 4, true), VDB_OK);
    }
    vdb_scalar_index *bm = build_ok(VDB_SINDEX_BITMAP, &c);
    vdb_scalar_index *inv = build_ok(VDB_SINDEX_INVERTED, &c);
    print_message("bitmap %zu bytes, inverted %zu bytes\n", vdb_sindex_memory(bm),
                  vdb_sindex_memory(inv));
    assert_true(vdb_sindex_memory(bm) < vdb_sindex_memory(inv));
    uint64_t a[101], b[101];
    vdb_sval lo = {.is_int = true, .i = 1}, hi = {.is_int = true, .i = 1010};
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    scan_range(&c, &lo, true, &hi, false, a);
    assert_true(vdb_sindex_range(bm, &lo, true, &hi, false, b));
    assert_memory_equal(a, b, sizeof a);
    vdb_sindex_free(bm);
    vdb_sindex_free(inv);
    vdb_column_free(&c);
}

/* ---- scale and failures ----------------------------------------------------------------- */

/* A million distinct int64 rows (shuffled) build, and lookups land on the right rows. */
static void test_million_row_int64_column_builds_and_answers(void **state)
{
    (void)state;
    const size_t n = 1000000;
    uint64_t st = 77;
    vdb_column c;
    vdb_column_init(&c, VDB_TYPE_INT64, 0, false);
    /* row r holds a bijective scramble of r, so every value is distinct */
    for (size_t r = 0; r < n; r++)
        push_i64(&c, (int64_t)((r * UINT64_C(2654435761)) % n) - (int64_t)(n / 2));
    for (vdb_sindex_kind k = VDB_SINDEX_SORTED; k <= VDB_SINDEX_INVERTED; k++) {
        vdb_scalar_index *ix = build_ok(k, &c);
        uint64_t *out = calloc(words_for(n), 8);
        assert_non_null(out);
        for (int q = 0; q < 20; q++) {
            size_t row = (size_t)(test_rand(&st) % n);
            int64_t v;
            memcpy(&v, vdb_column_at(&c, row), 8);
            vdb_sval sv = {.is_int = true, .i = v};
            assert_true(vdb_sindex_eq(ix, &sv, out));
            assert_true(out[row >> 6] & (UINT64_C(1) << (row & 63)));
        }
        size_t set = 0;
        for (size_t w = 0; w < words_for(n); w++)
            set += (size_t)__builtin_popcountll(out[w]);
        assert_true(set <= 20);
        if (k == VDB_SINDEX_SORTED) {
            vdb_sval lo = {.is_int = true, .i = -10}, hi = {.d = 9.5};
            memset(out, 0, words_for(n) * 8);
            assert_true(vdb_sindex_range(ix, &lo, true, &hi, true, out));
            set = 0;
            for (size_t w = 0; w < words_for(n); w++)
                set += (size_t)__builtin_popcountll(out[w]);
            assert_int_equal(set, 20); /* -10 .. 9 */
        }
        print_message("%s: %.1f bytes per row\n", k == VDB_SINDEX_SORTED ? "sorted" : "inverted",
                      (double)vdb_sindex_memory(ix) / (double)n);
        free(out);
        vdb_sindex_free(ix);
    }
    vdb_column_free(&c);
}

/* Failing the Nth allocation of a build, for every N, gives VDB_ENOMEM and no index (ASan
 * checks nothing leaks); once allocations succeed the build does too. */
static void test_allocation_failure_at_every_step_returns_enomem(void **state)
{
    (void)state;
    uint64_t st = 9;
    vdb_column num, str;
    make_column(&num, VDB_TYPE_INT32, 300, true, &st);
    make_column(&str, VDB_TYPE_VARCHAR, 300, true, &st);
    for (vdb_sindex_kind k = VDB_SINDEX_SORTED; k <= VDB_SINDEX_BITMAP; k++) {
        for (int v = 0; v < 2; v++) {
            const vdb_column *c = v ? &str : &num;
            if ((k == VDB_SINDEX_SORTED && v) || (k == VDB_SINDEX_TRIE && !v))
                continue;
            bool built = false;
            for (uint64_t nth = 1; nth < 50 && !built; nth++) {
                vdb_scalar_index *ix = NULL;
                vdb_fault_alloc_after(nth, false);
                vdb_status s = vdb_sindex_build(k, c, &ix);
                vdb_fault_alloc_after(0, false);
                if (s == VDB_OK) {
                    built = true;
                    vdb_sindex_free(ix);
                } else {
                    assert_int_equal(s, VDB_ENOMEM);
                    assert_null(ix);
                }
            }
            assert_true(built);
        }
    }
    vdb_column_free(&num);
    vdb_column_free(&str);
    static const vdb_type elems[] = {VDB_TYPE_INT32, VDB_TYPE_VARCHAR};
    for (size_t e = 0; e < VDB_ARRAY_LEN(elems); e++) {
        vdb_column arr;
        make_array_column(&arr, elems[e], 300, &st);
        for (vdb_sindex_kind k = VDB_SINDEX_INVERTED; k <= VDB_SINDEX_BITMAP; k += 2) {
            bool built = false;
            for (uint64_t nth = 1; nth < 500 && !built; nth++) {
                vdb_scalar_index *ix = NULL;
                vdb_fault_alloc_after(nth, false);
                vdb_status s = vdb_sindex_build_elems(k, elems[e], &arr, &ix);
                vdb_fault_alloc_after(0, false);
                if (s == VDB_OK) {
                    built = true;
                    vdb_sindex_free(ix);
                    print_message("%s over ARRAY of %s: %llu allocations\n",
                                  k == VDB_SINDEX_BITMAP ? "BITMAP" : "INVERTED",
                                  vdb_type_name(elems[e]), (unsigned long long)nth);
                } else {
                    assert_int_equal(s, VDB_ENOMEM);
                    assert_null(ix);
                }
            }
            assert_true(built);
        }
        vdb_column_free(&arr);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorted_matches_scan_for_eq_and_every_range_shape),
        cmocka_unit_test(test_inverted_matches_scan_for_eq_on_every_numeric_type),
        cmocka_unit_test(test_inverted_matches_scan_for_varchar_eq),
        cmocka_unit_test(test_trie_matches_scan_for_eq_prefix_and_range),
        cmocka_unit_test(test_bitmap_matches_scan_for_eq_and_ranges_on_bool_and_ints),
        cmocka_unit_test(test_bitmap_matches_scan_for_varchar_eq_prefix_and_range),
        cmocka_unit_test(test_int_column_with_fractional_bounds_is_a_range_between_ints),
        cmocka_unit_test(test_int64_against_double_near_2_pow_53_matches_like_a_scan),
        cmocka_unit_test(test_float_negative_zero_equals_zero_and_nan_constant_matches_nothing),
        cmocka_unit_test(test_nan_in_column_builds_and_never_matches),
        cmocka_unit_test(test_unsuitable_kind_and_type_pairs_are_refused_with_a_message),
        cmocka_unit_test(test_lookups_a_kind_cannot_answer_return_false_and_leave_out_untouched),
        cmocka_unit_test(test_empty_column_builds_and_matches_nothing),
        cmocka_unit_test(test_all_null_column_builds_and_matches_nothing),
        cmocka_unit_test(test_lookups_or_into_a_nonzero_bitset_and_keep_old_bits),
        cmocka_unit_test(test_inverted_on_arrays_matches_the_scan_for_array_contains),
        cmocka_unit_test(test_bitmap_on_arrays_matches_the_scan_for_array_contains),
        cmocka_unit_test(test_array_duplicates_count_once_and_unsuitable_elements_are_refused),
        cmocka_unit_test(test_bitmap_keeps_bitsets_for_frequent_values_and_lists_for_rare_ones),
        cmocka_unit_test(test_million_row_int64_column_builds_and_answers),
        cmocka_unit_test(test_allocation_failure_at_every_step_returns_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

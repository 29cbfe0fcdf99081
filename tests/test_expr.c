/* Tests for filter expressions: parse errors with positions, type errors, every operator and
 * function against plain C loops, three-valued logic with NULLs, a randomized differential
 * test, a large segment, and identical results with scalar indexes attached. */
#define _GNU_SOURCE
#include "test_common.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "expr/expr.h"
#include "index/scalar/scalar_index.h"

/* ---- the small segment: one column per field type ---- */

#define N 24
enum { C_PK, C_I8, C_I32, C_F, C_D, C_B, C_S, C_N, C_J, C_AI, C_AS, C_META, C_VEC, NCOLS };

static const vdb_expr_field fields[] = {
    {"pk", VDB_TYPE_INT64, VDB_TYPE_NONE, false, C_PK},
    {"i8", VDB_TYPE_INT8, VDB_TYPE_NONE, false, C_I8},
    {"i32", VDB_TYPE_INT32, VDB_TYPE_NONE, false, C_I32},
    {"f", VDB_TYPE_FLOAT, VDB_TYPE_NONE, false, C_F},
    {"d", VDB_TYPE_DOUBLE, VDB_TYPE_NONE, false, C_D},
    {"b", VDB_TYPE_BOOL, VDB_TYPE_NONE, false, C_B},
    {"s", VDB_TYPE_VARCHAR, VDB_TYPE_NONE, false, C_S},
    {"n", VDB_TYPE_INT32, VDB_TYPE_NONE, true, C_N},
    {"j", VDB_TYPE_JSON, VDB_TYPE_NONE, false, C_J},
    {"ai", VDB_TYPE_ARRAY, VDB_TYPE_INT64, false, C_AI},
    {"as", VDB_TYPE_ARRAY, VDB_TYPE_VARCHAR, false, C_AS},
    {"vec", VDB_TYPE_FLOAT_VECTOR, VDB_TYPE_NONE, false, C_VEC},
};
static const vdb_expr_schema schema = {VDB_ARRAY_LEN(fields), fields, C_META};
static const vdb_expr_schema schema_static = {VDB_ARRAY_LEN(fields), fields, -1};

static const char *strs[8] = {"apple", "banana", "apricot", "cherry", "", "grape",
                              "a\xcf\x80ple", "a%b"};

static vdb_column cols[NCOLS];
static const vdb_column *colp[NCOLS];
/* index configurations: 0 sorted, 1 inverted, 2 trie where each suits */
#define NCFG 3
static vdb_scalar_index *ixs[NCFG][NCOLS];

static int8_t v_i8(size_t i) { return (int8_t)((int)(i * 7 % 11) - 5); }
static int32_t v_i32(size_t i) { return (int32_t)i * 100 - 500; }
static float v_f(size_t i) { return (float)i * 0.5f; }
static double v_d(size_t i) { return (double)i * 1.25 - 3; }
static bool v_b(size_t i) { return i % 3 == 0; }
static const char *v_s(size_t i) { return strs[i % 8]; }
static bool n_null(size_t i) { return i % 4 == 0; }
static int32_t v_n(size_t i) { return (int32_t)i; }

enum { JA_MISSING, JA_INT, JA_FLOAT, JA_STR, JA_NULL };
static int ja_kind(size_t i)
{
    return i % 12 == 11 ? JA_NULL : i % 6 == 0 ? JA_MISSING : i % 6 == 4 ? JA_FLOAT
           : i % 6 == 5 ? JA_STR : JA_INT;
}
static bool ja_num(size_t i) { return ja_kind(i) == JA_INT || ja_kind(i) == JA_FLOAT; }
static double ja_val(size_t i) { return (double)i + (ja_kind(i) == JA_FLOAT ? 0.5 : 0); }
static bool has_age(size_t i) { return i % 5 != 4; }

static void push(vdb_column *c, const void *v, size_t len, bool valid)
{
    assert_int_equal(vdb_column_push(c, v, len, valid), VDB_OK);
}

static void push_str(vdb_column *c, const char *s) { push(c, s, strlen(s), true); }

static int setup(void **state)
{
    (void)state;
    static const vdb_type types[NCOLS] = {
        VDB_TYPE_INT64, VDB_TYPE_INT8, VDB_TYPE_INT32, VDB_TYPE_FLOAT, VDB_TYPE_DOUBLE,
        VDB_TYPE_BOOL, VDB_TYPE_VARCHAR, VDB_TYPE_INT32, VDB_TYPE_JSON, VDB_TYPE_ARRAY,
        VDB_TYPE_ARRAY, VDB_TYPE_JSON, VDB_TYPE_FLOAT_VECTOR};
    for (size_t c = 0; c < NCOLS; c++) {
        vdb_column_init(&cols[c], types[c], c == C_VEC ? 2 : 0, c == C_N);
        colp[c] = &cols[c];
    }
    char buf[256];
    for (size_t i = 0; i < N; i++) {
        int64_t pk = (int64_t)i;
        int8_t i8 = v_i8(i);
        int32_t i32 = v_i32(i), n = v_n(i);
        float f = v_f(i), vec[2] = {1, 2};
        double d = v_d(i);
        uint8_t b = v_b(i);
        push(&cols[C_PK], &pk, 8, true);
        push(&cols[C_I8], &i8, 1, true);
        push(&cols[C_I32], &i32, 4, true);
        push(&cols[C_F], &f, 4, true);
        push(&cols[C_D], &d, 8, true);
        push(&cols[C_B], &b, 1, true);
        push_str(&cols[C_S], v_s(i));
        push(&cols[C_N], n_null(i) ? NULL : &n, 4, !n_null(i));
        char a[32];
        switch (ja_kind(i)) {
        case JA_MISSING: a[0] = 0; break;
        case JA_INT: snprintf(a, sizeof a, "\"a\": %zu, ", i); break;
        case JA_FLOAT: snprintf(a, sizeof a, "\"a\": %zu.5, ", i); break;
        case JA_STR: snprintf(a, sizeof a, "\"a\": \"s%zu\", ", i); break;
        default: snprintf(a, sizeof a, "\"a\": null, "); break;
        }
        snprintf(buf, sizeof buf,
                 "{%s\"b\": {\"c\": \"x%zu\"}, \"arr\": [%zu, %zu, \"z\"], \"t\": %s, "
                 "\"e\": \"q\\\"\\u0041\"}",
                 a, i % 3, i, i + 1, i % 2 == 0 ? "true" : "false");
        push_str(&cols[C_J], buf);
        if (i % 4 == 0)
            snprintf(buf, sizeof buf, "[]");
        else
            snprintf(buf, sizeof buf, "[%zu, %zu, 7]", i, i * 2);
        push_str(&cols[C_AI], buf);
        push_str(&cols[C_AS], i % 3 == 0 ? "[\"red\", \"green\"]" : i % 3 == 1 ? "[\"blue\"]"
                                                                     : "[\"green\",\"blue\"]");
        if (has_age(i))
            snprintf(buf, sizeof buf,
                     "{\"age\": %zu, \"city\": \"c%zu\", \"nested\": {\"k\": [1, {\"m\": %zu}]}}",
                     i, i % 4, i);
        else
            snprintf(buf, sizeof buf, "{}");
        push_str(&cols[C_META], buf);
        push(&cols[C_VEC], vec, 8, true);
    }
    static const vdb_sindex_kind kinds[NCFG][2] = {
        {VDB_SINDEX_SORTED, VDB_SINDEX_INVERTED},
        {VDB_SINDEX_INVERTED, VDB_SINDEX_INVERTED},
        {VDB_SINDEX_SORTED, VDB_SINDEX_TRIE},
    };
    for (size_t k = 0; k < NCFG; k++)
        for (size_t c = 0; c < NCOLS; c++) {
            if (c == C_J || c == C_AI || c == C_AS || c == C_META || c == C_VEC)
                continue;
            vdb_sindex_kind kind = kinds[k][c == C_S];
            assert_int_equal(vdb_sindex_build(kind, &cols[c], &ixs[k][c]), VDB_OK);
        }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t c = 0; c < NCOLS; c++) {
        vdb_column_free(&cols[c]);
        for (size_t k = 0; k < NCFG; k++)
            vdb_sindex_free(ixs[k][c]);
    }
    return 0;
}

/* Evaluates text without and with every index configuration; each must give exactly want. */
static void check_rows(const char *text, const bool *want, int line)
{
    vdb_expr *e = NULL;
    if (vdb_expr_parse(text, &schema, &e) != VDB_OK)
        fail_msg("line %d: %s: %s", line, text, vdb_err_get());
    for (int cfg = -1; cfg < NCFG; cfg++) {
        vdb_expr_input in = {N, colp, cfg < 0 ? NULL : (const vdb_scalar_index *const *)ixs[cfg]};
        uint64_t out[(N + 63) / 64 + 1];
        out[1] = 0xdead;
        assert_int_equal(vdb_expr_eval(e, &in, out), VDB_OK);
        assert_int_equal(out[1], 0xdead); /* writes only ceil(rows/64) words */
        for (size_t i = 0; i < N; i++)
            if (((out[0] >> i) & 1) != want[i])
                fail_msg("line %d: %s (indexes %d): row %zu is %d, expected %d", line, text,
                         cfg, i, (int)((out[0] >> i) & 1), want[i]);
    }
    vdb_expr_free(e);
}

#define CHECK(text, cond)                                                                    \
    do {                                                                                     \
        bool want_[N];                                                                       \
        for (size_t i = 0; i < N; i++)                                                       \
            want_[i] = (cond);                                                               \
        check_rows(text, want_, __LINE__);                                                   \
    } while (0)

/* ---- parse and type errors ---- */

static void assert_error(const vdb_expr_schema *sc, const char *text, long at, const char *words)
{
    vdb_expr *e = (vdb_expr *)1;
    vdb_status st = vdb_expr_parse(text, sc, &e);
    if (st != VDB_EINVAL)
        fail_msg("'%s' gave %s, expected VDB_EINVAL", text, vdb_status_name(st));
    assert_null(e);
    const char *msg = vdb_err_get();
    char pos[32];
    snprintf(pos, sizeof pos, "filter: at %ld: ", at);
    if ((at >= 0 && strncmp(msg, pos, strlen(pos)) != 0) || strncmp(msg, "filter: ", 8) != 0 ||
        (words && !strstr(msg, words)))
        fail_msg("'%s': expected '%s' and '%s', got: %s", text, at >= 0 ? pos : "",
                 words ? words : "", msg);
}

static void test_syntax_errors_name_the_byte_and_what_was_expected(void **state)
{
    (void)state;
    const vdb_expr_schema *sc = &schema;
    assert_error(sc, "", 0, "expected an expression, found end of input");
    assert_error(sc, "   \t", 4, "expected an expression, found end of input");
    assert_error(sc, "pk >", 4, "expected a value or a field, found end of input");
    assert_error(sc, "pk > 1 )", 7, "expected 'and', 'or' or the end, found ')'");
    assert_error(sc, "pk > 1 pk", 7, "found 'pk'");
    assert_error(sc, "pk = 1", 3, "expected '=='");
    assert_error(sc, "pk > 1 & pk < 2", 7, "expected '&&'");
    assert_error(sc, "s == \"abc", 9, "expected a closing '\"', found end of input");
    assert_error(sc, "s == 'abc", 9, "closing");
    assert_error(sc, "s == 'a\\qb'", 8, "expected an escape");
    assert_error(sc, "s == 'a\\u12G4'", 11, "hex digits");
    assert_error(sc, "foo(1) > 2", 0, "unknown function 'foo'");
    assert_error(sc, "(pk > 1", 7, "expected ')'");
    assert_error(sc, "pk in [1, 2", 11, "expected ',' or ']'");
    assert_error(sc, "pk in 1", 6, "expected a list");
    assert_error(sc, "pk > 1 and", 10, "expected a value or a field");
    assert_error(sc, "pk # 1", 3, "found '#'");
    assert_error(sc, "pk is", 5, "expected 'null'");
    assert_error(sc, "pk is not 1", 10, "expected 'null'");
    assert_error(sc, "1 < pk > 3", 7, "to continue the range");
    assert_error(sc, "1 < pk < 3 < 4", 11, "a range has two bounds");
    assert_error(sc, "pk < 99999999999999999999", 5, "out of range");
    assert_error(sc, "pk == 9223372036854775808", 6, "out of range");
    assert_error(sc, "pk / 0 > 1", 3, "division by zero");
    assert_error(sc, "pk % (1 - 1) > 1", 3, "division by zero");
    assert_error(sc, "pk", 2, "expected a comparison, found end of input");
    assert_error(sc, "pk and b", 3, "expected a comparison, found 'and'");
    assert_error(sc, "s like pk", 7, "expected a pattern string");
    assert_error(sc, "pk > 1e", 7, "exponent");
    assert_error(sc, "pk == 0x", 8, "hex digits");
    assert_error(sc, "j[pk] == 1", 2, "expected a key string or an index");
    assert_error(sc, "ai[\"k\"] == 1", 3, "expected an array index");
    assert_error(sc, "exists pk", 0, "expected a JSON path");
    assert_error(sc, "pk in [1, pk]", 10, "expected a constant in the list");
}

static void test_unknown_names_are_dynamic_keys_or_errors_without_dynamic_field(void **state)
{
    (void)state;
    vdb_expr *e = NULL;
    assert_int_equal(vdb_expr_parse("nosuch > 1", &schema, &e), VDB_OK);
    vdb_expr_free(e);
    assert_error(&schema_static, "nosuch > 1", 0, "unknown field 'nosuch'");
    assert_error(&schema_static, "$meta[\"a\"] > 1", 0, "unknown field '$meta'");
}

static void test_type_errors_name_the_field_and_both_types(void **state)
{
    (void)state;
    const vdb_expr_schema *sc = &schema;
    assert_error(sc, "s > 1", -1, "field 's' is VARCHAR, cannot compare with a number");
    assert_error(sc, "pk == 'a'", -1, "field 'pk' is INT64, cannot compare with a string");
    assert_error(sc, "'a' == pk", -1, "field 'pk' is INT64, cannot compare with a string");
    assert_error(sc, "b == 1", -1, "field 'b' is BOOL, cannot compare with a number");
    assert_error(sc, "f == true", -1, "field 'f' is FLOAT, cannot compare with a bool");
    assert_error(sc, "pk == s", -1, "field 'pk' is INT64, cannot compare with field 's' (VARCHAR)");
    assert_error(sc, "pk in [1, 'x']", -1, "field 'pk' is INT64, cannot compare with a string");
    assert_error(sc, "s in ['a', 2]", -1, "field 's' is VARCHAR, cannot compare with a number");
    assert_error(sc, "pk like 'a%'", -1, "field 'pk' is INT64, cannot match 'like' with a string");
    assert_error(sc, "s + 1 > 2", -1, "field 's' is VARCHAR, cannot be used in arithmetic");
    assert_error(sc, "pk + 'a' > 2", -1, "a string cannot be used in arithmetic");
    assert_error(sc, "vec > 1", -1, "field 'vec' is FLOAT_VECTOR, vector fields cannot be used");
    assert_error(sc, "vec is null", -1, "vector fields cannot be used");
    assert_error(sc, "as[0] == 1", -1, "elements of field 'as' are VARCHAR, cannot compare with a number");
    assert_error(sc, "ai == 1", -1, "field 'ai' is ARRAY");
    assert_error(sc, "array_contains(ai, 'x')", -1,
                 "field 'ai' is an ARRAY of INT64, cannot contain a string");
    assert_error(sc, "array_contains_all(as, [1])", -1, "cannot contain a number");
    assert_error(sc, "array_contains(pk, 1)", -1, "field 'pk' is INT64");
    assert_error(sc, "json_contains_all(j, 1)", -1, "needs a list");
    assert_error(sc, "pk[0] == 1", 2, "cannot be indexed");
    assert_error(sc, "(pk > 1) == 2", 1, "expected a value, found a condition");
    assert_error(sc, "pk + 1 is null", 0, "expected a field before 'is null'");
}

static void test_deep_nesting_is_an_error_not_a_crash(void **state)
{
    (void)state;
    size_t n = 100000;
    char *s = malloc(n * 20 + 64);
    assert_non_null(s);
    static const char *cases[][3] = {
        {"", "(", "pk > 1"}, {"", "not ", "pk > 1"}, {"", "!", "pk > 1"},
        {"1 < ", "-", "pk"}, {"1 < ", "+", "pk"}, {"pk in ", "[", "1"},
        {"", "array_length(", "ai) > 1"}, {"", "json_contains(j, ", "1)"},
    };
    for (size_t u = 0; u < VDB_ARRAY_LEN(cases); u++) {
        size_t len = strlen(cases[u][1]);
        strcpy(s, cases[u][0]);
        size_t off = strlen(s);
        for (size_t i = 0; i < n; i++, off += len)
            memcpy(s + off, cases[u][1], len);
        strcpy(s + off, cases[u][2]);
        assert_error(&schema, s, -1, "nested deeper than 200");
    }
    /* a long arithmetic chain is a tall tree too */
    strcpy(s, "pk");
    for (size_t i = 0; i < 300; i++)
        strcat(s, " + 1");
    strcat(s, " > 0");
    assert_error(&schema, s, -1, "nested deeper than 200");
    /* but 190 levels of parentheses, and a flat chain of 5000 or-terms, are fine */
    s[0] = 0;
    for (size_t i = 0; i < 190; i++)
        strcat(s, "(");
    strcat(s, "pk > 20");
    for (size_t i = 0; i < 190; i++)
        strcat(s, ")");
    CHECK(s, i > 20);
    size_t off = 0;
    for (size_t i = 0; i < 5000; i++)
        off += (size_t)sprintf(s + off, "%spk == %zu", i ? " or " : "", i % 7 + 3);
    assert_true(off < n * 20);
    CHECK(s, i >= 3 && i <= 9);
    free(s);
}

/* ---- operators on every column type ---- */

static void test_comparisons_on_numeric_bool_and_varchar_fields(void **state)
{
    (void)state;
    CHECK("pk > 10", i > 10);
    CHECK("pk >= 10 and pk <= 12", i >= 10 && i <= 12);
    CHECK("10 < pk <= 15", i > 10 && i <= 15);
    CHECK("15 >= pk > 10", i > 10 && i <= 15);
    CHECK("3 > pk", i < 3);
    CHECK("pk == 0x10", i == 16);
    CHECK("pk < 1e1", i < 10);
    CHECK("pk == -1", false);
    CHECK("pk > -9223372036854775808", true);
    CHECK("i8 == -2", v_i8(i) == -2);
    CHECK("i8 != 3", v_i8(i) != 3);
    CHECK("i8 < 0", v_i8(i) < 0);
    CHECK("i8 > 1000", false);
    CHECK("i8 >= -128", true);
    CHECK("i32 > 2.5", v_i32(i) > 2.5);
    CHECK("i32 == 100.0", v_i32(i) == 100);
    CHECK("i32 == 100.5", false);
    CHECK("i32 != 100.5", true);
    CHECK("i32 < 100.5", v_i32(i) < 100.5);
    CHECK("i32 <= -99.5", v_i32(i) <= -99.5);
    CHECK("i32 >= -99.5", v_i32(i) >= -99.5);
    CHECK("i32 < 1e30", true);
    CHECK("i32 > -1e30", true);
    CHECK("i32 >= 1e30", false);
    CHECK("f > 3.2", v_f(i) > 3.2);
    CHECK("f == 2.5", v_f(i) == 2.5f);
    CHECK("f >= 3", v_f(i) >= 3);
    CHECK("f < .5", v_f(i) < 0.5);
    CHECK("d < 0.5", v_d(i) < 0.5);
    CHECK("d <= -1.75", v_d(i) <= -1.75);
    CHECK("d != 2", v_d(i) != 2);
    CHECK("b == true", v_b(i));
    CHECK("b", v_b(i));
    CHECK("not b", !v_b(i));
    CHECK("b != FALSE", v_b(i));
    CHECK("b == False", !v_b(i));
    CHECK("s == 'apple'", strcmp(v_s(i), "apple") == 0);
    CHECK("s != \"apple\"", strcmp(v_s(i), "apple") != 0);
    CHECK("s > 'b'", strcmp(v_s(i), "b") > 0);
    CHECK("'b' < s", strcmp(v_s(i), "b") > 0);
    CHECK("s <= 'apricot'", strcmp(v_s(i), "apricot") <= 0);
    CHECK("s == ''", v_s(i)[0] == 0);
    CHECK("s == 'a\\u03c0ple'", strcmp(v_s(i), "a\xcf\x80ple") == 0);
    CHECK("true", true);
    CHECK("false", false);
    CHECK("1 < 2", true);
    CHECK("not false", true);
}

static void test_in_and_like(void **state)
{
    (void)state;
    CHECK("i32 in [-500, 0, 700, 12345]", v_i32(i) == -500 || v_i32(i) == 0 || v_i32(i) == 700);
    CHECK("i32 not in [-500, 0]", v_i32(i) != -500 && v_i32(i) != 0);
    CHECK("i32 in [100.0, 200.5]", v_i32(i) == 100);
    CHECK("i32 in []", false);
    CHECK("i32 not in []", true);
    CHECK("f in [1, 2.5, 99]", v_f(i) == 1 || v_f(i) == 2.5f);
    CHECK("b in [true]", v_b(i));
    CHECK("b not in [true]", !v_b(i));
    CHECK("s in ['cherry', '', 'zzz']", strcmp(v_s(i), "cherry") == 0 || !v_s(i)[0]);
    CHECK("s not in ['cherry']", strcmp(v_s(i), "cherry") != 0);
    CHECK("pk in [3, 1, 2, 5, 8, 13, 21, 34, 55, 89, -1]",
          i == 1 || i == 2 || i == 3 || i == 5 || i == 8 || i == 13 || i == 21);
    CHECK("s like 'ap%'", strncmp(v_s(i), "ap", 2) == 0);
    CHECK("s like '%e'", strlen(v_s(i)) && v_s(i)[strlen(v_s(i)) - 1] == 'e');
    CHECK("s like '%an%'", strstr(v_s(i), "an") != NULL);
    CHECK("s like 'a_ple'", strcmp(v_s(i), "apple") == 0 || strcmp(v_s(i), "a\xcf\x80ple") == 0);
    CHECK("s like 'a\\%b'", strcmp(v_s(i), "a%b") == 0);
    CHECK("s like 'a%b'", strcmp(v_s(i), "a%b") == 0);
    CHECK("s like 'apple'", strcmp(v_s(i), "apple") == 0);
    CHECK("s like '%'", true);
    CHECK("s like ''", !v_s(i)[0]);
    CHECK("s like '%p%p%'", strcmp(v_s(i), "apple") == 0);
    CHECK("s not like 'a%'", v_s(i)[0] != 'a');
}

static void test_nulls_follow_three_valued_logic(void **state)
{
    (void)state;
#define NV(i) (!n_null(i))
    CHECK("n > 5", NV(i) && v_n(i) > 5);
    CHECK("n is null", n_null(i));
    CHECK("n is not null", NV(i));
    CHECK("not (n > 5)", NV(i) && !(v_n(i) > 5));
    CHECK("n != 5", NV(i) && v_n(i) != 5);
    CHECK("n not in [1, 2]", NV(i) && v_n(i) != 1 && v_n(i) != 2);
    CHECK("n in [1, 2, 4]", NV(i) && (v_n(i) == 1 || v_n(i) == 2));
    CHECK("n > 5 or pk < 3", (NV(i) && v_n(i) > 5) || i < 3);
    CHECK("n > 5 and pk < 3", false);
    CHECK("not (n > 5 or pk < 3)", i >= 3 && NV(i) && v_n(i) <= 5);
    /* false and unknown = false, so its negation is true even where n is NULL */
    CHECK("not (n > 5 and pk > 3)", i <= 3 || (NV(i) && v_n(i) <= 5));
    CHECK("not not (n > 5)", NV(i) && v_n(i) > 5);
    CHECK("not (n > 5) or n is null", !NV(i) || v_n(i) <= 5);
    CHECK("n == n", NV(i));
    CHECK("n + 1 > 6", NV(i) && v_n(i) + 1 > 6);
    CHECK("not (n % 3 == 1)", NV(i) && v_n(i) % 3 != 1);
    CHECK("n is null and not (n > 5)", false);
    CHECK("pk is null", false);
    CHECK("pk is not null", true);
#undef NV
}

static void test_arithmetic_inside_comparisons(void **state)
{
    (void)state;
    CHECK("pk + 5 > 10", i + 5 > 10);
    CHECK("pk % 2 == 0", i % 2 == 0);
    CHECK("2 * pk < 9", 2 * i < 9);
    CHECK("pk - 1 == 3", i == 4);
    CHECK("pk ** 2 > 100", i * i > 100);
    CHECK("pk / 2 == 3", i / 2 == 3);
    CHECK("-pk < -20", i > 20);
    CHECK("f * 2 == 5", v_f(i) * 2 == 5);
    CHECK("(pk + 1) * 2 == 10", i == 4);
    CHECK("i8 + i32 > 0", v_i8(i) + v_i32(i) > 0);
    CHECK("pk * 1.5 >= 6", i * 1.5 >= 6);
    CHECK("10 < pk + 1 < 13", i + 1 > 10 && i + 1 < 13);
    CHECK("pk > 2 * 5 - 1", i > 9);
    CHECK("i32 % 300 == 100", v_i32(i) % 300 == 100);
    CHECK("pk / pk == 1", i != 0); /* 0 / 0 is unknown, not an error */
}

static void test_json_paths_and_functions(void **state)
{
    (void)state;
    CHECK("j[\"a\"] > 3", ja_num(i) && ja_val(i) > 3);
    CHECK("not j[\"a\"] > 3", (ja_num(i) && !(ja_val(i) > 3)) || ja_kind(i) == JA_STR);
    CHECK("j['a'] == 's5'", i == 5);
    CHECK("j['a'] == 4.5", i == 4);
    CHECK("j['a'] >= 's'", ja_kind(i) == JA_STR);
    CHECK("j[\"b\"][\"c\"] == \"x1\"", i % 3 == 1);
    CHECK("j[\"arr\"][1] == 5", i == 4);
    CHECK("j[\"arr\"][2] == 'z'", true);
    CHECK("j[\"arr\"][3] == 'z'", false);
    CHECK("j['t']", i % 2 == 0);
    CHECK("j['t'] == false", i % 2 == 1);
    CHECK("not j['t']", i % 2 == 1);
    CHECK("j['e'] == 'q\"A'", true);
    CHECK("exists j['a']", ja_kind(i) != JA_MISSING);
    CHECK("exists j['b']['nope']", false);
    CHECK("j['a'] is null", ja_kind(i) == JA_MISSING || ja_kind(i) == JA_NULL);
    CHECK("j['a'] is not null", ja_num(i) || ja_kind(i) == JA_STR);
    CHECK("j['a'] in [1, 2, 16.5, 's17']",
          (ja_kind(i) == JA_INT && (i == 1 || i == 2)) || i == 16 || i == 17);
    CHECK("j['a'] like 's1%'", i == 17);
    CHECK("json_contains(j['arr'], 5)", i == 5 || i == 4);
    CHECK("json_contains(j['arr'], 'z')", true);
    CHECK("json_contains(j['b'], 'x1')", false);
    CHECK("json_contains_all(j['arr'], [3, 4])", i == 3);
    CHECK("json_contains_all(j['arr'], [])", true);
    CHECK("json_contains_any(j['arr'], [3, 100])", i == 3 || i == 2);
    CHECK("json_contains_any(j['nope'], [3])", false);
    CHECK("not json_contains_any(j['nope'], [3])", false);
    CHECK("array_length(j['arr']) == 3", true);
    CHECK("array_length(j['b']) == 3", false);
    CHECK("j['a'] + 1 > 5", ja_num(i) && ja_val(i) + 1 > 5);
    CHECK("j['a'] * 2 == 9", i == 4 || (ja_kind(i) == JA_INT && i * 2 == 9));
    CHECK("j['b'] == 1", false);
}

static void test_array_fields(void **state)
{
    (void)state;
    CHECK("array_contains(ai, 7)", i % 4 != 0);
    CHECK("array_contains(ai, 6)", i == 6 || i == 3);
    CHECK("ARRAY_CONTAINS(ai, 6.0)", i == 6 || i == 3);
    CHECK("array_contains_all(ai, [2, 4])", i == 2);
    CHECK("array_contains_any(ai, [3, 9])", i == 3 || i == 9);
    CHECK("array_length(ai) == 0", i % 4 == 0);
    CHECK("array_length(ai) > 2", i % 4 != 0);
    CHECK("ai[0] > 10", i % 4 != 0 && i > 10);
    CHECK("ai[2] == 7", i % 4 != 0);
    CHECK("not ai[2] == 7", false);
    CHECK("array_contains(as, \"blue\")", i % 3 != 0);
    CHECK("array_contains_all(as, ['green', 'blue'])", i % 3 == 2);
    CHECK("array_contains_any(as, ['red', 'x'])", i % 3 == 0);
    CHECK("as[0] == 'red'", i % 3 == 0);
    CHECK("as[1] like 'gr%'", i % 3 == 0);
    CHECK("array_length(as) >= 2", i % 3 != 1);
    CHECK("ai is null", false);
}

static void test_dynamic_keys(void **state)
{
    (void)state;
    CHECK("age > 10", has_age(i) && i > 10);
    CHECK("not (age > 10)", has_age(i) && i <= 10);
    CHECK("$meta[\"age\"] < 3", has_age(i) && i < 3);
    CHECK("city == 'c1'", has_age(i) && i % 4 == 1);
    CHECK("exists age", has_age(i));
    CHECK("exists $meta['city']", has_age(i));
    CHECK("age is null", !has_age(i));
    CHECK("$meta['nested']['k'][1]['m'] == 7", i == 7);
    CHECK("nested['k'][0] == 1", has_age(i));
    CHECK("age in [1, 2, 3, 4]", i >= 1 && i <= 3);
    CHECK("unknown_key == 1", false);
    CHECK("not unknown_key == 1", false);
    CHECK("age % 5 == 0 and pk < 12", has_age(i) && i % 5 == 0 && i < 12);
}

static void test_keywords_are_case_insensitive_and_symbols_work(void **state)
{
    (void)state;
    CHECK("pk > 3 AND pk < 6 Or pk == 20", (i > 3 && i < 6) || i == 20);
    CHECK("NOT pk > 3", i <= 3);
    CHECK("pk IN [1] or pk NOT IN [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]", i <= 1 || i > 15);
    CHECK("s LIKE 'b%'", v_s(i)[0] == 'b');
    CHECK("n IS NOT NULL", !n_null(i));
    CHECK("n Is Null", n_null(i));
    CHECK("pk > 3 && !(pk > 5) || pk == 0", (i > 3 && i <= 5) || i == 0);
    CHECK("pk==2||pk==3", i == 2 || i == 3);
    CHECK("\t pk\n>\r20 ", i > 20);
    CHECK("b == TRUE", v_b(i));
}

/* ---- randomized differential test ---- */

#define RROWS 300
enum { R_CMP, R_IN, R_NULL, R_RANGE, R_AND, R_OR, R_NOT };
typedef struct rnode {
    int kind, col, op, nlist;
    bool negate;
    int64_t k, k2, list[4];
    struct rnode *a, *b;
} rnode;

static rnode pool[64];
static size_t npool;
static int64_t rv[3][RROWS];
static bool rnull[RROWS]; /* column 2 only */
static const char *rnames[3] = {"A", "B", "C"};
static const char *ropstr[6] = {"==", "!=", "<", "<=", ">", ">="};

static rnode *gen(uint64_t *rs, int depth)
{
    rnode *x = &pool[npool++];
    memset(x, 0, sizeof *x);
    int kind = depth <= 0 || npool > 50 ? (int)(test_rand(rs) % 4) : (int)(test_rand(rs) % 7);
    x->kind = kind;
    x->col = (int)(test_rand(rs) % 3);
    x->op = (int)(test_rand(rs) % 6);
    x->k = (int64_t)(test_rand(rs) % 14) - 2;
    x->k2 = x->k + (int64_t)(test_rand(rs) % 5);
    x->negate = test_rand(rs) % 2;
    x->nlist = (int)(test_rand(rs) % 5);
    for (int i = 0; i < x->nlist; i++)
        x->list[i] = (int64_t)(test_rand(rs) % 12) - 1;
    if (kind >= R_AND) {
        x->a = gen(rs, depth - 1);
        if (kind != R_NOT)
            x->b = gen(rs, depth - 1);
    }
    return x;
}

static void print(const rnode *x, uint64_t *rs, char *buf, size_t size)
{
    size_t off = strlen(buf);
    char *o = buf + off;
    size_t left = size - off;
    static const char *ands[] = {"and", "&&", "AND"}, *ors[] = {"or", "||", "Or"},
                      *nots[] = {"not", "!", "NOT"};
    switch (x->kind) {
    case R_CMP:
        if (test_rand(rs) % 2)
            snprintf(o, left, "%s %s %lld", rnames[x->col], ropstr[x->op], (long long)x->k);
        else { /* constant first: the operator flips */
            static const int flipped[6] = {0, 1, 4, 5, 2, 3};
            snprintf(o, left, "%lld %s %s", (long long)x->k, ropstr[flipped[x->op]],
                     rnames[x->col]);
        }
        return;
    case R_IN:
        snprintf(o, left, "%s %sin [", rnames[x->col], x->negate ? "not " : "");
        for (int i = 0; i < x->nlist; i++)
            snprintf(buf + strlen(buf), size - strlen(buf), "%s%lld", i ? ", " : "",
                     (long long)x->list[i]);
        strcat(buf, "]");
        return;
    case R_NULL:
        snprintf(o, left, "%s is %snull", rnames[x->col], x->negate ? "not " : "");
        return;
    case R_RANGE:
        snprintf(o, left, "%lld < %s <= %lld", (long long)x->k, rnames[x->col],
                 (long long)x->k2);
        return;
    case R_NOT:
        snprintf(o, left, "%s (", nots[test_rand(rs) % 3]);
        print(x->a, rs, buf, size);
        strcat(buf, ")");
        return;
    default:
        strcat(buf, "(");
        print(x->a, rs, buf, size);
        snprintf(buf + strlen(buf), size - strlen(buf), ") %s (",
                 x->kind == R_AND ? ands[test_rand(rs) % 3] : ors[test_rand(rs) % 3]);
        print(x->b, rs, buf, size);
        strcat(buf, ")");
        return;
    }
}

/* 1 true, 0 false, -1 unknown */
static int ref_eval(const rnode *x, size_t row)
{
    bool null = x->col == 2 && rnull[row];
    int64_t v = rv[x->col][row];
    int a, b;
    switch (x->kind) {
    case R_CMP:
        if (null)
            return -1;
        switch (x->op) {
        case 0: return v == x->k;
        case 1: return v != x->k;
        case 2: return v < x->k;
        case 3: return v <= x->k;
        case 4: return v > x->k;
        default: return v >= x->k;
        }
    case R_IN: {
        if (null)
            return -1;
        bool in = false;
        for (int i = 0; i < x->nlist; i++)
            in |= v == x->list[i];
        return x->negate ? !in : in;
    }
    case R_NULL: return x->negate ? !null : null;
    case R_RANGE: return null ? -1 : x->k < v && v <= x->k2;
    case R_NOT: a = ref_eval(x->a, row); return a < 0 ? -1 : !a;
    case R_AND:
        a = ref_eval(x->a, row);
        b = ref_eval(x->b, row);
        return a == 0 || b == 0 ? 0 : a == 1 && b == 1 ? 1 : -1;
    default:
        a = ref_eval(x->a, row);
        b = ref_eval(x->b, row);
        return a == 1 || b == 1 ? 1 : a == 0 && b == 0 ? 0 : -1;
    }
}

static void test_random_expressions_match_a_direct_evaluation(void **state)
{
    (void)state;
    uint64_t rs = 42;
    static const vdb_expr_field rf[] = {
        {"A", VDB_TYPE_INT64, VDB_TYPE_NONE, false, 0},
        {"B", VDB_TYPE_INT32, VDB_TYPE_NONE, false, 1},
        {"C", VDB_TYPE_INT64, VDB_TYPE_NONE, true, 2},
    };
    vdb_expr_schema rsch = {3, rf, -1};
    vdb_column rc[3];
    vdb_column_init(&rc[0], VDB_TYPE_INT64, 0, false);
    vdb_column_init(&rc[1], VDB_TYPE_INT32, 0, false);
    vdb_column_init(&rc[2], VDB_TYPE_INT64, 0, true);
    for (size_t r = 0; r < RROWS; r++) {
        rv[0][r] = (int64_t)(test_rand(&rs) % 10);
        rv[1][r] = (int64_t)(test_rand(&rs) % 11) - 2;
        rv[2][r] = (int64_t)(test_rand(&rs) % 10);
        rnull[r] = test_rand(&rs) % 5 == 0;
        int32_t b32 = (int32_t)rv[1][r];
        push(&rc[0], &rv[0][r], 8, true);
        push(&rc[1], &b32, 4, true);
        push(&rc[2], rnull[r] ? NULL : &rv[2][r], 8, !rnull[r]);
    }
    const vdb_column *rcp[3] = {&rc[0], &rc[1], &rc[2]};
    vdb_scalar_index *rix[2][3];
    for (int c = 0; c < 3; c++) {
        assert_int_equal(vdb_sindex_build(VDB_SINDEX_SORTED, &rc[c], &rix[0][c]), VDB_OK);
        assert_int_equal(vdb_sindex_build(VDB_SINDEX_INVERTED, &rc[c], &rix[1][c]), VDB_OK);
    }
    char text[8192];
    uint64_t out[(RROWS + 63) / 64];
    for (int iter = 0; iter < 1000; iter++) {
        npool = 0;
        rnode *root = gen(&rs, 4);
        text[0] = 0;
        print(root, &rs, text, sizeof text);
        vdb_expr *e;
        if (vdb_expr_parse(text, &rsch, &e) != VDB_OK)
            fail_msg("%s: %s", text, vdb_err_get());
        for (int cfg = -1; cfg < 2; cfg++) {
            vdb_expr_input in = {RROWS, rcp,
                                 cfg < 0 ? NULL : (const vdb_scalar_index *const *)rix[cfg]};
            assert_int_equal(vdb_expr_eval(e, &in, out), VDB_OK);
            for (size_t r = 0; r < RROWS; r++)
                if ((int)((out[r / 64] >> (r % 64)) & 1) != (ref_eval(root, r) == 1))
                    fail_msg("%s (indexes %d): row %zu (A=%lld B=%lld C=%s%lld) is %d", text,
                             cfg, r, (long long)rv[0][r], (long long)rv[1][r],
                             rnull[r] ? "NULL/" : "", (long long)rv[2][r],
                             (int)((out[r / 64] >> (r % 64)) & 1));
        }
        vdb_expr_free(e);
    }
    for (int c = 0; c < 3; c++) {
        vdb_sindex_free(rix[0][c]);
        vdb_sindex_free(rix[1][c]);
        vdb_column_free(&rc[c]);
    }
}

/* ---- a large segment ---- */

static void test_large_segment_leaves_match_the_reference(void **state)
{
    (void)state;
    enum { ROWS = 100000 };
    static const vdb_expr_field lf[] = {
        {"x", VDB_TYPE_INT64, VDB_TYPE_NONE, false, 0},
        {"f", VDB_TYPE_FLOAT, VDB_TYPE_NONE, false, 1},
        {"s", VDB_TYPE_VARCHAR, VDB_TYPE_NONE, false, 2},
        {"n", VDB_TYPE_INT32, VDB_TYPE_NONE, true, 3},
    };
    vdb_expr_schema lsch = {4, lf, -1};
    vdb_column lc[4];
    vdb_column_init(&lc[0], VDB_TYPE_INT64, 0, false);
    vdb_column_init(&lc[1], VDB_TYPE_FLOAT, 0, false);
    vdb_column_init(&lc[2], VDB_TYPE_VARCHAR, 0, false);
    vdb_column_init(&lc[3], VDB_TYPE_INT32, 0, true);
    int64_t *x = malloc(ROWS * sizeof *x);
    float *fv = malloc(ROWS * sizeof *fv);
    int32_t *nv = malloc(ROWS * sizeof *nv);
    assert_true(x && fv && nv);
    uint64_t rs = 7;
    char sb[16];
    for (size_t r = 0; r < ROWS; r++) {
        x[r] = (int64_t)(test_rand(&rs) % 1000);
        fv[r] = test_randf(&rs);
        nv[r] = test_rand(&rs) % 10 == 0 ? -1 : (int32_t)(test_rand(&rs) % 100);
        snprintf(sb, sizeof sb, "k%05d", (int)(x[r] * 7 % 1000));
        push(&lc[0], &x[r], 8, true);
        push(&lc[1], &fv[r], 4, true);
        push_str(&lc[2], sb);
        push(&lc[3], nv[r] < 0 ? NULL : &nv[r], 4, nv[r] >= 0);
    }
    const vdb_column *lcp[4] = {&lc[0], &lc[1], &lc[2], &lc[3]};
    vdb_scalar_index *lix[4] = {NULL, NULL, NULL, NULL};
    assert_int_equal(vdb_sindex_build(VDB_SINDEX_SORTED, &lc[0], &lix[0]), VDB_OK);
    assert_int_equal(vdb_sindex_build(VDB_SINDEX_SORTED, &lc[1], &lix[1]), VDB_OK);
    assert_int_equal(vdb_sindex_build(VDB_SINDEX_TRIE, &lc[2], &lix[2]), VDB_OK);
    assert_int_equal(vdb_sindex_build(VDB_SINDEX_INVERTED, &lc[3], &lix[3]), VDB_OK);
    uint64_t *out = malloc((ROWS + 63) / 64 * 8);
    assert_non_null(out);
    static const char *exprs[] = {
        "x > 500", "x in [1, 5, 999]", "f < 0.25", "s like 'k001%'", "s == 'k00042'",
        "n >= 10 and not (x < 3)", "x % 7 == 3", "not (n == 5)", "200 <= x < 300",
    };
    for (size_t q = 0; q < VDB_ARRAY_LEN(exprs); q++) {
        vdb_expr *e;
        if (vdb_expr_parse(exprs[q], &lsch, &e) != VDB_OK)
            fail_msg("%s: %s", exprs[q], vdb_err_get());
        for (int cfg = 0; cfg < 2; cfg++) {
            vdb_expr_input in = {ROWS, lcp, cfg ? (const vdb_scalar_index *const *)lix : NULL};
            assert_int_equal(vdb_expr_eval(e, &in, out), VDB_OK);
            for (size_t r = 0; r < ROWS; r++) {
                size_t len;
                const char *s = vdb_column_var(&lc[2], r, &len);
                bool nn = nv[r] >= 0, want;
                switch (q) {
                case 0: want = x[r] > 500; break;
                case 1: want = x[r] == 1 || x[r] == 5 || x[r] == 999; break;
                case 2: want = fv[r] < 0.25; break;
                case 3: want = strncmp(s, "k001", 4) == 0; break;
                case 4: want = len == 6 && memcmp(s, "k00042", 6) == 0; break;
                case 5: want = nn && nv[r] >= 10 && x[r] >= 3; break;
                case 6: want = x[r] % 7 == 3; break;
                case 7: want = nn && nv[r] != 5; break;
                default: want = x[r] >= 200 && x[r] < 300; break;
                }
                if (((out[r / 64] >> (r % 64)) & 1) != want)
                    fail_msg("%s (indexes %d): row %zu wrong", exprs[q], cfg, r);
            }
        }
        vdb_expr_free(e);
    }
    free(out);
    free(x);
    free(fv);
    free(nv);
    for (int c = 0; c < 4; c++) {
        vdb_sindex_free(lix[c]);
        vdb_column_free(&lc[c]);
    }
}

static void test_eval_checks_the_columns_it_is_given(void **state)
{
    (void)state;
    vdb_expr *e;
    assert_int_equal(vdb_expr_parse("pk > 1", &schema, &e), VDB_OK);
    const vdb_column *wrong[NCOLS];
    memcpy(wrong, colp, sizeof wrong);
    wrong[C_PK] = &cols[C_I32];
    vdb_expr_input in = {N, wrong, NULL};
    uint64_t out[1];
    assert_int_equal(vdb_expr_eval(e, &in, out), VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "INT64"));
    in.cols = colp;
    in.rows = N + 1; /* more rows than the column holds */
    assert_int_equal(vdb_expr_eval(e, &in, out), VDB_EINVAL);
    in.rows = 0;
    assert_int_equal(vdb_expr_eval(e, &in, out), VDB_OK);
    vdb_expr_free(e);
}

static void test_parse_survives_allocation_failures(void **state)
{
    (void)state;
    const char *text = "(pk > 1 and s like 'a%') or j['a']['b'] in [1, 2, 's'] or "
                       "array_contains_all(ai, [1, 2]) or age + 1 > 3";
    for (uint64_t nth = 1; nth < 200; nth++) {
        vdb_expr *e = NULL;
        vdb_fault_alloc_after(nth, true);
        vdb_status st = vdb_expr_parse(text, &schema, &e);
        vdb_fault_alloc_after(0, false);
        if (st == VDB_OK) {
            vdb_expr_free(e);
            return;
        }
        assert_int_equal(st, VDB_ENOMEM);
        assert_null(e);
    }
    fail_msg("parse never succeeded");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syntax_errors_name_the_byte_and_what_was_expected),
        cmocka_unit_test(test_unknown_names_are_dynamic_keys_or_errors_without_dynamic_field),
        cmocka_unit_test(test_type_errors_name_the_field_and_both_types),
        cmocka_unit_test(test_deep_nesting_is_an_error_not_a_crash),
        cmocka_unit_test(test_comparisons_on_numeric_bool_and_varchar_fields),
        cmocka_unit_test(test_in_and_like),
        cmocka_unit_test(test_nulls_follow_three_valued_logic),
        cmocka_unit_test(test_arithmetic_inside_comparisons),
        cmocka_unit_test(test_json_paths_and_functions),
        cmocka_unit_test(test_array_fields),
        cmocka_unit_test(test_dynamic_keys),
        cmocka_unit_test(test_keywords_are_case_insensitive_and_symbols_work),
        cmocka_unit_test(test_random_expressions_match_a_direct_evaluation),
        cmocka_unit_test(test_large_segment_leaves_match_the_reference),
        cmocka_unit_test(test_eval_checks_the_columns_it_is_given),
        cmocka_unit_test(test_parse_survives_allocation_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

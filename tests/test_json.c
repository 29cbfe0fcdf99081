/* Tests for the JSON reader: validation with positions, typed arrays, scalars for default
 * values, member lookup and iteration, and string escaping. */
#define _GNU_SOURCE
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

static vdb_status validate(const char *s) { return vdb_json_validate(s, strlen(s), "field meta"); }

static void assert_valid(const char *s)
{
    if (validate(s) != VDB_OK)
        fail_msg("%s rejected: %s", s, vdb_err_get());
}

/* Invalid, with the message naming `what` and the byte position. */
static void assert_invalid_at(const char *s, size_t at, const char *words)
{
    assert_int_equal(validate(s), VDB_EINVAL);
    char want[64];
    snprintf(want, sizeof want, "at byte %zu:", at);
    const char *msg = vdb_err_get();
    if (!strstr(msg, want) || strncmp(msg, "field meta: ", 12) != 0 ||
        (words && !strstr(msg, words)))
        fail_msg("for %s expected '%s' and '%s', got: %s", s, want, words ? words : "", msg);
}

static void test_valid_documents_pass(void **state)
{
    (void)state;
    const char *ok[] = {
        "{}", "[]", " 1 ", "-0", "0", "1.5e+10", "-2E-3", "123456789012345678901234567890",
        "true", "false", "null", "\"\"", "\"\\u00e9\\n\\t\\\"\\\\\\/\\b\\f\\r\"",
        "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"", "\"\\ud83d\\ude00\"",
        "{\"a\":[1,2,{\"b\":null}],\"c\":{\"d\":\"e\"}}", "\t\r\n[ 1 , 2 ]\n",
        "{\"\":0}", "[[],[[]],{}]",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        assert_valid(ok[i]);
}

static void test_invalid_documents_name_the_byte_and_what_was_expected(void **state)
{
    (void)state;
    assert_invalid_at("", 0, "expected a value, found end of input");
    assert_invalid_at("   ", 3, "expected a value");
    assert_invalid_at("{\"a\":1,}", 7, "expected a string");
    assert_invalid_at("[1 2]", 3, "expected ',' or ']'");
    assert_invalid_at("{\"a\" 1}", 5, "':'");
    assert_invalid_at("{1:2}", 1, "expected a string");
    assert_invalid_at("01", 1, "leading zeros");
    assert_invalid_at("1.", 2, "digit");
    assert_invalid_at("1e", 2, "exponent");
    assert_invalid_at("-", 1, "digit");
    assert_invalid_at("+1", 0, "expected a value, found '+'");
    assert_invalid_at("\"abc", 4, "unterminated");
    assert_invalid_at("\"a\\x\"", 2, "invalid escape");
    assert_invalid_at("\"a\x01\"", 2, "control character");
    assert_invalid_at("\"\xc3\x28\"", 1, "UTF-8");
    assert_invalid_at("\"\xc0\xaf\"", 1, "UTF-8");     /* overlong '/' */
    assert_invalid_at("\"\xed\xa0\x80\"", 1, "UTF-8"); /* an encoded surrogate */
    assert_invalid_at("\"\xf4\x90\x80\x80\"", 1, "UTF-8"); /* past U+10FFFF */
    assert_invalid_at("\"ab\xe2\x82\"", 3, "UTF-8");   /* cut short */
    assert_invalid_at("\"\\ud800\"", 1, "surrogate");
    assert_invalid_at("\"\\ud800\\u0041\"", 1, "surrogate");
    assert_invalid_at("\"\\udc00\"", 1, "surrogate");
    assert_invalid_at("\"\\u12g4\"", 1, "hex");
    assert_invalid_at("tru", 0, "expected a value");
    assert_invalid_at("nul", 0, NULL);
    assert_invalid_at("[1] x", 4, "after the value");
    assert_invalid_at("{} {}", 3, NULL);
    assert_invalid_at("[1,]", 3, "expected a value");
    assert_invalid_at("\xef\xbb\xbf{}", 0, NULL); /* a byte order mark is not JSON */
    /* The length bounds the text: a NUL inside is a byte like any other. */
    assert_int_equal(vdb_json_validate("[1]\0", 4, "x"), VDB_EINVAL);
    assert_int_equal(vdb_json_validate("[1]xyz", 3, "x"), VDB_OK);
    /* Without a name the message still says JSON. */
    assert_int_equal(vdb_json_validate("[", 1, NULL), VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "JSON"));
}

static void test_nesting_deeper_than_64_is_rejected(void **state)
{
    (void)state;
    char doc[300];
    for (int depth = 63; depth <= 66; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++)
            doc[n++] = '[';
        for (int i = 0; i < depth; i++)
            doc[n++] = ']';
        doc[n] = 0;
        vdb_status st = validate(doc);
        if (depth <= 64) {
            assert_int_equal(st, VDB_OK);
        } else {
            assert_int_equal(st, VDB_EINVAL);
            assert_non_null(strstr(vdb_err_get(), "nesting"));
            assert_non_null(strstr(vdb_err_get(), "at byte 64:"));
        }
    }
    /* Objects count too. */
    char obj[600];
    size_t n = 0;
    for (int i = 0; i < 65; i++)
        n += (size_t)sprintf(obj + n, "{\"a\":");
    n += (size_t)sprintf(obj + n, "1");
    for (int i = 0; i < 65; i++)
        obj[n++] = '}';
    obj[n] = 0;
    assert_int_equal(validate(obj), VDB_EINVAL);
}

static vdb_status arr(const char *s, vdb_type t, uint32_t cap, uint32_t maxlen)
{
    return vdb_json_check_array(s, strlen(s), t, cap, maxlen, "field tags");
}

static void assert_msg_has(const char *a, const char *b)
{
    const char *m = vdb_err_get();
    if (!strstr(m, a) || (b && !strstr(m, b)))
        fail_msg("expected '%s' and '%s' in: %s", a, b ? b : "", m);
    assert_int_equal(strncmp(m, "field tags: ", 12), 0);
}

static void test_int_arrays_are_range_checked_per_element_type(void **state)
{
    (void)state;
    assert_int_equal(arr("[1, -128, 127]", VDB_TYPE_INT8, 10, 0), VDB_OK);
    assert_int_equal(arr("[1, 128]", VDB_TYPE_INT8, 10, 0), VDB_EINVAL);
    assert_msg_has("element 1", "out of range for INT8");
    assert_int_equal(arr("[-129]", VDB_TYPE_INT8, 10, 0), VDB_EINVAL);
    assert_msg_has("element 0", "-129");
    assert_int_equal(arr("[32767,-32768]", VDB_TYPE_INT16, 10, 0), VDB_OK);
    assert_int_equal(arr("[32768]", VDB_TYPE_INT16, 10, 0), VDB_EINVAL);
    assert_int_equal(arr("[2147483647,-2147483648]", VDB_TYPE_INT32, 10, 0), VDB_OK);
    assert_int_equal(arr("[0, 2147483648]", VDB_TYPE_INT32, 10, 0), VDB_EINVAL);
    assert_msg_has("element 1", "INT32");
    assert_int_equal(arr("[9223372036854775807,-9223372036854775808]", VDB_TYPE_INT64, 10, 0),
                     VDB_OK);
    assert_int_equal(arr("[9223372036854775808]", VDB_TYPE_INT64, 10, 0), VDB_EINVAL);
    assert_int_equal(arr("[-9223372036854775809]", VDB_TYPE_INT64, 10, 0), VDB_EINVAL);
    assert_int_equal(arr("[99999999999999999999999]", VDB_TYPE_INT64, 10, 0), VDB_EINVAL);
    assert_int_equal(arr("[1, 2.5]", VDB_TYPE_INT32, 10, 0), VDB_EINVAL);
    assert_msg_has("element 1", "not an integer");
    assert_int_equal(arr("[1e3]", VDB_TYPE_INT64, 10, 0), VDB_EINVAL);
    assert_int_equal(arr("[1, \"2\"]", VDB_TYPE_INT64, 10, 0), VDB_EINVAL);
    assert_msg_has("element 1", "expected INT64, found a string");
    assert_int_equal(arr("[null]", VDB_TYPE_INT64, 10, 0), VDB_EINVAL);
    assert_msg_has("element 0", "found null");
}

static void test_bool_float_and_varchar_arrays(void **state)
{
    (void)state;
    assert_int_equal(arr("[true,false]", VDB_TYPE_BOOL, 2, 0), VDB_OK);
    assert_int_equal(arr("[true, 1]", VDB_TYPE_BOOL, 5, 0), VDB_EINVAL);
    assert_msg_has("element 1", "expected BOOL, found a number");
    assert_int_equal(arr("[1, -2.5, 3e10, 0]", VDB_TYPE_FLOAT, 5, 0), VDB_OK);
    assert_int_equal(arr("[1e39]", VDB_TYPE_FLOAT, 5, 0), VDB_EINVAL);
    assert_msg_has("out of range for FLOAT", NULL);
    assert_int_equal(arr("[1e39, -1e300]", VDB_TYPE_DOUBLE, 5, 0), VDB_OK);
    assert_int_equal(arr("[1e400]", VDB_TYPE_DOUBLE, 5, 0), VDB_EINVAL);
    assert_msg_has("out of range", NULL);
    assert_int_equal(arr("[true]", VDB_TYPE_DOUBLE, 5, 0), VDB_EINVAL);
    /* max_length counts unescaped bytes: "\u00e9" is 2 bytes of UTF-8. */
    assert_int_equal(arr("[\"ab\", \"\\u00e9\", \"\"]", VDB_TYPE_VARCHAR, 5, 2), VDB_OK);
    assert_int_equal(arr("[\"ab\", \"abc\"]", VDB_TYPE_VARCHAR, 5, 2), VDB_EINVAL);
    assert_msg_has("element 1", "max_length 2");
    assert_int_equal(arr("[\"\\u20ac\"]", VDB_TYPE_VARCHAR, 5, 2), VDB_EINVAL); /* 3 bytes */
    assert_int_equal(arr("[\"a\", 1]", VDB_TYPE_VARCHAR, 5, 10), VDB_EINVAL);
    assert_msg_has("element 1", "expected VARCHAR");
    assert_int_equal(arr("[\"bad \\q\"]", VDB_TYPE_VARCHAR, 5, 10), VDB_EINVAL);
    assert_msg_has("invalid escape", NULL);
}

static void test_array_capacity_shape_and_element_type(void **state)
{
    (void)state;
    assert_int_equal(arr("[]", VDB_TYPE_INT64, 0, 0), VDB_OK);
    assert_int_equal(arr(" [ ] ", VDB_TYPE_INT64, 3, 0), VDB_OK);
    assert_int_equal(arr("[1,2,3]", VDB_TYPE_INT64, 3, 0), VDB_OK);
    assert_int_equal(arr("[1,2,3]", VDB_TYPE_INT64, 2, 0), VDB_EINVAL);
    assert_msg_has("element 2", "max_capacity 2");
    assert_int_equal(arr("{\"a\":1}", VDB_TYPE_INT64, 3, 0), VDB_EINVAL);
    assert_msg_has("expected an array", NULL);
    assert_int_equal(arr("[1] 2", VDB_TYPE_INT64, 3, 0), VDB_EINVAL);
    assert_msg_has("after the value", NULL);
    assert_int_equal(arr("[1,]", VDB_TYPE_INT64, 3, 0), VDB_EINVAL);
    assert_int_equal(arr("[1 2]", VDB_TYPE_INT64, 3, 0), VDB_EINVAL);
    assert_msg_has("at byte 3", "',' or ']'");
    assert_int_equal(arr("[[1]]", VDB_TYPE_INT64, 3, 0), VDB_EINVAL);
    assert_msg_has("found an array", NULL);
    assert_int_equal(arr("[1]", VDB_TYPE_JSON, 3, 0), VDB_EINVAL);
    assert_msg_has("not supported", NULL);
}

static void test_scalars_parse_with_ranges(void **state)
{
    (void)state;
    vdb_json_scalar v;
    assert_int_equal(vdb_json_parse_scalar("true", 4, VDB_TYPE_BOOL, 0, &v), VDB_OK);
    assert_int_equal(v.type, VDB_TYPE_BOOL);
    assert_int_equal(v.i, 1);
    assert_int_equal(vdb_json_parse_scalar(" false ", 7, VDB_TYPE_BOOL, 0, &v), VDB_OK);
    assert_int_equal(v.i, 0);
    assert_int_equal(vdb_json_parse_scalar("1", 1, VDB_TYPE_BOOL, 0, &v), VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "BOOL"));
    assert_int_equal(vdb_json_parse_scalar("-32768", 6, VDB_TYPE_INT16, 0, &v), VDB_OK);
    assert_int_equal(v.i, -32768);
    assert_int_equal(vdb_json_parse_scalar("32768", 5, VDB_TYPE_INT16, 0, &v), VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "out of range for INT16 [-32768, 32767]"));
    assert_int_equal(vdb_json_parse_scalar("-9223372036854775808", 20, VDB_TYPE_INT64, 0, &v),
                     VDB_OK);
    assert_true(v.i == INT64_MIN);
    assert_int_equal(vdb_json_parse_scalar("5.0", 3, VDB_TYPE_INT32, 0, &v), VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "not an integer"));
    assert_int_equal(vdb_json_parse_scalar("7 8", 3, VDB_TYPE_INT32, 0, &v), VDB_EINVAL);
    assert_int_equal(vdb_json_parse_scalar("", 0, VDB_TYPE_INT32, 0, &v), VDB_EINVAL);
    assert_int_equal(vdb_json_parse_scalar("1.5", 3, VDB_TYPE_FLOAT, 0, &v), VDB_OK);
    assert_true(v.d == 1.5);
    assert_int_equal(vdb_json_parse_scalar("-2.5e-3", 7, VDB_TYPE_DOUBLE, 0, &v), VDB_OK);
    assert_true(v.d == -2.5e-3);
    assert_int_equal(vdb_json_parse_scalar("42", 2, VDB_TYPE_DOUBLE, 0, &v), VDB_OK);
    assert_true(v.d == 42.0);
    assert_int_equal(vdb_json_parse_scalar("1e-400", 6, VDB_TYPE_DOUBLE, 0, &v), VDB_OK);
    assert_true(v.d == 0.0); /* underflow rounds to zero; only overflow is an error */
    assert_int_equal(vdb_json_parse_scalar("1e999", 5, VDB_TYPE_DOUBLE, 0, &v), VDB_EINVAL);
    assert_int_equal(vdb_json_parse_scalar("\"1\"", 3, VDB_TYPE_DOUBLE, 0, &v), VDB_EINVAL);
    assert_int_equal(vdb_json_parse_scalar("[1]", 3, VDB_TYPE_FLOAT_VECTOR, 0, &v), VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "FLOAT_VECTOR"));
}

static void test_varchar_scalar_unescapes_including_surrogate_pairs(void **state)
{
    (void)state;
    vdb_json_scalar v;
    const char *s = "\"a\\nb\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\u0000z\"";
    assert_int_equal(vdb_json_parse_scalar(s, strlen(s), VDB_TYPE_VARCHAR, 100, &v), VDB_OK);
    const char want[] = "a\nb\xc3\xa9\xf0\x9f\x98\x80\"\\/\0z";
    assert_int_equal(v.len, sizeof want - 1);
    assert_memory_equal(v.s, want, v.len);
    assert_int_equal(v.s[v.len], 0);
    vdb_json_scalar_free(&v);
    assert_null(v.s);
    assert_int_equal(vdb_json_parse_scalar(s, strlen(s), VDB_TYPE_VARCHAR, 13, &v), VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "max_length 13"));
    assert_null(v.s);
    assert_int_equal(vdb_json_parse_scalar("\"\"", 2, VDB_TYPE_VARCHAR, 0, &v), VDB_OK);
    assert_int_equal(v.len, 0);
    assert_string_equal(v.s, "");
    vdb_json_scalar_free(&v);
    assert_int_equal(vdb_json_parse_scalar("\"\\ude00\"", 8, VDB_TYPE_VARCHAR, 10, &v),
                     VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "surrogate"));
    assert_int_equal(vdb_json_parse_scalar("abc", 3, VDB_TYPE_VARCHAR, 10, &v), VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "expected VARCHAR"));
}

static void test_json_and_array_scalars_keep_the_text(void **state)
{
    (void)state;
    vdb_json_scalar v;
    const char *j = "  {\"a\": [1, 2]}  ";
    assert_int_equal(vdb_json_parse_scalar(j, strlen(j), VDB_TYPE_JSON, 0, &v), VDB_OK);
    assert_string_equal(v.s, "{\"a\": [1, 2]}");
    assert_int_equal(v.len, 13);
    vdb_json_scalar_free(&v);
    assert_int_equal(vdb_json_parse_scalar("{\"a\":}", 6, VDB_TYPE_JSON, 0, &v), VDB_EINVAL);
    assert_non_null(strstr(vdb_err_get(), "at byte 5"));
    assert_int_equal(vdb_json_parse_scalar("[1,2]", 5, VDB_TYPE_ARRAY, 0, &v), VDB_OK);
    assert_string_equal(v.s, "[1,2]");
    vdb_json_scalar_free(&v);
    assert_int_equal(vdb_json_parse_scalar("{}", 2, VDB_TYPE_ARRAY, 0, &v), VDB_EINVAL);
}

static const char OBJ[] =
    " { \"a\" : 1, \"b\": {\"c\": [1, 2]}, \"d\":\"x,y\", \"e\\u0041\": true, \"\": null } ";

static void test_get_finds_top_level_members_only(void **state)
{
    (void)state;
    const char *val;
    size_t vlen;
    assert_true(vdb_json_get(OBJ, strlen(OBJ), "a", &val, &vlen));
    assert_int_equal(vlen, 1);
    assert_memory_equal(val, "1", 1);
    assert_true(vdb_json_get(OBJ, strlen(OBJ), "b", &val, &vlen));
    assert_int_equal(vlen, strlen("{\"c\": [1, 2]}"));
    assert_memory_equal(val, "{\"c\": [1, 2]}", vlen);
    assert_true(vdb_json_get(OBJ, strlen(OBJ), "d", &val, &vlen));
    assert_memory_equal(val, "\"x,y\"", vlen);
    assert_true(vdb_json_get(OBJ, strlen(OBJ), "eA", &val, &vlen)); /* escaped key */
    assert_memory_equal(val, "true", vlen);
    assert_true(vdb_json_get(OBJ, strlen(OBJ), "", &val, &vlen));
    assert_memory_equal(val, "null", vlen);
    assert_false(vdb_json_get(OBJ, strlen(OBJ), "c", &val, &vlen)); /* nested */
    assert_false(vdb_json_get(OBJ, strlen(OBJ), "e", &val, &vlen));
    assert_false(vdb_json_get("[1]", 3, "a", &val, &vlen));
    assert_false(vdb_json_get("{}", 2, "a", &val, &vlen));
    assert_true(vdb_json_is_object(OBJ, strlen(OBJ)));
    assert_true(vdb_json_is_object(" {}", 3));
    assert_false(vdb_json_is_object("[{}]", 4));
    assert_false(vdb_json_is_object("\"{\"", 3));
    assert_false(vdb_json_is_object("", 0));
}

typedef struct members {
    char keys[8][16];
    char vals[8][32];
    int n, stop_after;
} members;

static int collect_member(void *arg, const char *key, size_t klen, const char *val, size_t vlen)
{
    members *m = arg;
    assert_int_equal(strlen(key), klen); /* NUL-terminated for convenience */
    snprintf(m->keys[m->n], 16, "%.*s", (int)klen, key);
    snprintf(m->vals[m->n], 32, "%.*s", (int)vlen, val);
    m->n++;
    return m->stop_after && m->n >= m->stop_after;
}

static void test_each_visits_members_in_order_with_unescaped_keys(void **state)
{
    (void)state;
    members m = {0};
    assert_int_equal(vdb_json_each(OBJ, strlen(OBJ), collect_member, &m), VDB_OK);
    assert_int_equal(m.n, 5);
    assert_string_equal(m.keys[0], "a");
    assert_string_equal(m.vals[0], "1");
    assert_string_equal(m.keys[1], "b");
    assert_string_equal(m.vals[1], "{\"c\": [1, 2]}");
    assert_string_equal(m.keys[3], "eA");
    assert_string_equal(m.vals[3], "true");
    assert_string_equal(m.keys[4], "");

    memset(&m, 0, sizeof m);
    m.stop_after = 2;
    assert_int_equal(vdb_json_each(OBJ, strlen(OBJ), collect_member, &m), VDB_OK);
    assert_int_equal(m.n, 2);

    memset(&m, 0, sizeof m);
    assert_int_equal(vdb_json_each("{}", 2, collect_member, &m), VDB_OK);
    assert_int_equal(m.n, 0);
    assert_int_equal(vdb_json_each("[1]", 3, collect_member, &m), VDB_EINVAL);
    assert_int_equal(m.n, 0);
}

static void test_put_string_escapes_and_round_trips(void **state)
{
    (void)state;
    vdb_buf b = {0};
    const char in[] = "a\"b\\c\n\x01\x1f/\xc3\xa9";
    vdb_json_put_string(&b, in, sizeof in - 1);
    const char want[] = "\"a\\\"b\\\\c\\n\\u0001\\u001f/\xc3\xa9\"";
    assert_int_equal(b.len, sizeof want - 1);
    assert_memory_equal(b.p, want, b.len);
    vdb_buf_free(&b);

    /* Every byte below 0x80, NUL included, survives escape then unescape. */
    char all[200];
    size_t n = 0;
    for (int c = 0; c < 0x80; c++)
        all[n++] = (char)c;
    memcpy(all + n, "\xe2\x82\xac\xf0\x9f\x98\x80", 7);
    n += 7;
    vdb_json_put_string(&b, all, n);
    assert_false(b.oom);
    assert_int_equal(vdb_json_validate((const char *)b.p, b.len, "escaped"), VDB_OK);
    vdb_json_scalar v;
    assert_int_equal(vdb_json_parse_scalar((const char *)b.p, b.len, VDB_TYPE_VARCHAR, 1000, &v),
                     VDB_OK);
    assert_int_equal(v.len, n);
    assert_memory_equal(v.s, all, n);
    vdb_json_scalar_free(&v);
    vdb_buf_free(&b);

    vdb_json_put_string(&b, "", 0);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.p, "\"\"", 2);
    vdb_buf_free(&b);
}

static void test_allocation_failure_while_unescaping_is_enomem(void **state)
{
    (void)state;
    vdb_json_scalar v;
    const char *s = "\"abc\\u00e9\"";
    vdb_fault_alloc_after(1, true);
    assert_int_equal(vdb_json_parse_scalar(s, strlen(s), VDB_TYPE_VARCHAR, 10, &v), VDB_ENOMEM);
    assert_null(v.s);
    members m = {0};
    const char *obj = "{\"k\\u0041\": 1}";
    assert_int_equal(vdb_json_each(obj, strlen(obj), collect_member, &m), VDB_ENOMEM);
    assert_int_equal(m.n, 0);
    vdb_fault_alloc_after(0, false);
    assert_int_equal(vdb_json_parse_scalar(s, strlen(s), VDB_TYPE_VARCHAR, 10, &v), VDB_OK);
    assert_string_equal(v.s, "abc\xc3\xa9");
    vdb_json_scalar_free(&v);
}

/* ---- typed array elements ---- */

typedef struct elems_seen {
    size_t n, stop_at;
    int64_t i[8];
    double d[8];
    char s[8][8];
    size_t len[8];
} elems_seen;

static vdb_status seen_elem(void *arg, const vdb_json_scalar *v)
{
    elems_seen *e = arg;
    if (e->n == e->stop_at)
        return vdb_set_errmsg(VDB_ECONFLICT, "stopped at %zu", e->n);
    e->i[e->n] = v->i;
    e->d[e->n] = v->d;
    e->len[e->n] = v->len;
    if (v->len && v->len < 8)
        memcpy(e->s[e->n], v->s, v->len);
    e->n++;
    return VDB_OK;
}

static void test_array_each_reads_typed_elements_in_order(void **state)
{
    (void)state;
    elems_seen e = {.stop_at = 99};
    const char *ints = " [ 3 , -0,-9223372036854775808 ] ";
    assert_int_equal(vdb_json_array_each(ints, strlen(ints), VDB_TYPE_INT64, NULL, seen_elem, &e),
                     VDB_OK);
    assert_int_equal(e.n, 3);
    assert_int_equal(e.i[0], 3);
    assert_int_equal(e.i[1], 0);
    assert_true(e.i[2] == INT64_MIN);
    e = (elems_seen){.stop_at = 99};
    const char *reals = "[0.1,1e2,-0.0,7]";
    assert_int_equal(vdb_json_array_each(reals, strlen(reals), VDB_TYPE_FLOAT, NULL, seen_elem,
                                         &e), VDB_OK);
    assert_int_equal(e.n, 4);
    assert_true(e.d[0] == 0.1 && e.d[1] == 100.0 && e.d[2] == 0.0 && e.d[3] == 7.0);
    e = (elems_seen){.stop_at = 99};
    const char *bools = "[true,false]";
    assert_int_equal(vdb_json_array_each(bools, strlen(bools), VDB_TYPE_BOOL, NULL, seen_elem,
                                         &e), VDB_OK);
    assert_int_equal(e.n, 2);
    assert_true(e.i[0] == 1 && e.i[1] == 0);
    /* strings unescaped, through a scratch buffer the caller keeps */
    vdb_buf scratch = {0};
    e = (elems_seen){.stop_at = 99};
    const char *strs = "[\"a\\u00e9\", \"\", \"x\\\"y\"]";
    assert_int_equal(vdb_json_array_each(strs, strlen(strs), VDB_TYPE_VARCHAR, &scratch,
                                         seen_elem, &e), VDB_OK);
    assert_int_equal(e.n, 3);
    assert_int_equal(e.len[0], 3);
    assert_memory_equal(e.s[0], "a\xc3\xa9", 3);
    assert_int_equal(e.len[1], 0);
    assert_int_equal(e.len[2], 3);
    assert_memory_equal(e.s[2], "x\"y", 3);
    vdb_buf_free(&scratch);
    e = (elems_seen){.stop_at = 99};
    assert_int_equal(vdb_json_array_each("[]", 2, VDB_TYPE_INT32, NULL, seen_elem, &e), VDB_OK);
    assert_int_equal(e.n, 0);
    /* the callback's status stops the walk; text that is not such an array is EINVAL */
    e = (elems_seen){.stop_at = 1};
    assert_int_equal(vdb_json_array_each(ints, strlen(ints), VDB_TYPE_INT64, NULL, seen_elem, &e),
                     VDB_ECONFLICT);
    assert_int_equal(e.n, 1);
    static const char *const bad[] = {"[1.5]", "{}", "[1,]", "[1 2]", "[\"a\"]", "", "[1"};
    for (size_t k = 0; k < VDB_ARRAY_LEN(bad); k++) {
        e = (elems_seen){.stop_at = 99};
        assert_int_equal(vdb_json_array_each(bad[k], strlen(bad[k]), VDB_TYPE_INT32, NULL,
                                             seen_elem, &e), VDB_EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_documents_pass),
        cmocka_unit_test(test_invalid_documents_name_the_byte_and_what_was_expected),
        cmocka_unit_test(test_nesting_deeper_than_64_is_rejected),
        cmocka_unit_test(test_int_arrays_are_range_checked_per_element_type),
        cmocka_unit_test(test_bool_float_and_varchar_arrays),
        cmocka_unit_test(test_array_capacity_shape_and_element_type),
        cmocka_unit_test(test_scalars_parse_with_ranges),
        cmocka_unit_test(test_varchar_scalar_unescapes_including_surrogate_pairs),
        cmocka_unit_test(test_json_and_array_scalars_keep_the_text),
        cmocka_unit_test(test_get_finds_top_level_members_only),
        cmocka_unit_test(test_each_visits_members_in_order_with_unescaped_keys),
        cmocka_unit_test(test_put_string_escapes_and_round_trips),
        cmocka_unit_test(test_allocation_failure_while_unescaping_is_enomem),
        cmocka_unit_test(test_array_each_reads_typed_elements_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

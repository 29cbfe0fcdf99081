/* libFuzzer target for filter expressions: parses arbitrary bytes against a schema with every
 * field type, evaluates what parses over a small segment, and checks that scalar indexes give
 * the same rows as scans (a difference traps). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "expr/expr.h"
#include "index/scalar/scalar_index.h"

enum { C_PK, C_I8, C_I16, C_I32, C_F, C_D, C_B, C_S, C_N, C_NS, C_J, C_AI, C_AS, C_AB, C_AF,
       C_VEC, C_META, NCOLS };
#define ROWS 9

static const vdb_expr_field fields[] = {
    {"pk", VDB_TYPE_INT64, VDB_TYPE_NONE, false, C_PK},
    {"i8", VDB_TYPE_INT8, VDB_TYPE_NONE, false, C_I8},
    {"i16", VDB_TYPE_INT16, VDB_TYPE_NONE, false, C_I16},
    {"i32", VDB_TYPE_INT32, VDB_TYPE_NONE, false, C_I32},
    {"f", VDB_TYPE_FLOAT, VDB_TYPE_NONE, false, C_F},
    {"d", VDB_TYPE_DOUBLE, VDB_TYPE_NONE, false, C_D},
    {"b", VDB_TYPE_BOOL, VDB_TYPE_NONE, false, C_B},
    {"s", VDB_TYPE_VARCHAR, VDB_TYPE_NONE, false, C_S},
    {"n", VDB_TYPE_INT64, VDB_TYPE_NONE, true, C_N},
    {"ns", VDB_TYPE_VARCHAR, VDB_TYPE_NONE, true, C_NS},
    {"j", VDB_TYPE_JSON, VDB_TYPE_NONE, false, C_J},
    {"ai", VDB_TYPE_ARRAY, VDB_TYPE_INT64, false, C_AI},
    {"as", VDB_TYPE_ARRAY, VDB_TYPE_VARCHAR, false, C_AS},
    {"ab", VDB_TYPE_ARRAY, VDB_TYPE_BOOL, false, C_AB},
    {"af", VDB_TYPE_ARRAY, VDB_TYPE_DOUBLE, false, C_AF},
    {"vec", VDB_TYPE_FLOAT_VECTOR, VDB_TYPE_NONE, false, C_VEC},
};
static const vdb_expr_schema schema = {sizeof fields / sizeof *fields, fields, C_META};

static const char *strs[ROWS] = {"", "a", "ab", "abc", "a%b", "b_", "\xcf\x80x", "zz", "A"};
static const char *jsons[ROWS] = {
    "{}",
    "{\"a\": 1, \"b\": {\"c\": [1, 2, {\"d\": \"x\"}]}, \"t\": true}",
    "{\"a\": -9223372036854775808, \"s\": \"x\\\"y\\u00e9\", \"arr\": [1, \"1\", 1.0, null]}",
    "{\"a\": 1.5e300, \"a\": 2, \"arr\": [], \"n\": null}",
    "{\"a\": \"str\", \"arr\": [[1], {\"k\": 1}, true, false]}",
    "[1, 2, 3]",
    "\"just a string\"",
    "null",
    "{\"a\": 18446744073709551616, \"\\u0061b\": 3, \"t\": false, \"arr\": [\"a\", \"b\"]}",
};
static const char *ais[ROWS] = {"[]", "[1]", "[1, 2, 3]", "[-9223372036854775808]",
                                "[9223372036854775807, 0]", "[5, 5, 5]", "[0]", "[]", "[7, 8]"};
static const char *ass[ROWS] = {"[]", "[\"a\"]", "[\"a\", \"b\"]", "[\"\"]", "[\"x\\\"y\"]",
                                "[\"\\u03c0\"]", "[\"a%\"]", "[]", "[\"b\", \"a\"]"};
static const char *abs_[ROWS] = {"[]", "[true]", "[false]", "[true, false]", "[]", "[true]",
                                 "[false, false]", "[]", "[true]"};
static const char *afs[ROWS] = {"[]", "[1.5]", "[0, -0.0]", "[1e308]", "[2]", "[-1.25, 3]", "[]",
                                "[0.1]", "[7]"};
static const char *metas[ROWS] = {
    "{}", "{\"age\": 5, \"name\": \"x\"}", "{\"age\": 5.5}", "{\"age\": \"5\"}",
    "{\"age\": null, \"tags\": [1, 2]}", "{\"age\": [5]}", "{\"age\": 40, \"city\": \"c\"}",
    "{\"name\": {\"first\": \"a\"}}", "{\"age\": -1, \"pk\": 3}",
};

static vdb_column cols[NCOLS];
static const vdb_column *colp[NCOLS];
static vdb_scalar_index *ix_a[NCOLS], *ix_b[NCOLS];

static void must(vdb_status st)
{
    if (st != VDB_OK) {
        fprintf(stderr, "fuzz_expr setup: %s\n", vdb_err_get());
        abort();
    }
}

static void push_str(vdb_column *c, const char *s, bool valid)
{
    must(vdb_column_push(c, valid ? s : NULL, valid ? strlen(s) : 0, valid));
}

static void setup(void)
{
    for (size_t c = 0; c < NCOLS; c++) {
        const vdb_expr_field *f = c == C_META ? NULL : &fields[c];
        vdb_column_init(&cols[c], f ? f->type : VDB_TYPE_JSON, c == C_VEC ? 2 : 0,
                        f && f->nullable);
        colp[c] = &cols[c];
    }
    for (size_t i = 0; i < ROWS; i++) {
        int64_t pk = (int64_t)i - 3, n = (int64_t)i * 3;
        int8_t i8 = (int8_t)(i * 37);
        int16_t i16 = (int16_t)(i * 9001);
        int32_t i32 = (int32_t)(i * 1000003u);
        float f = (float)i / 3.0f - 1;
        double d = i == 4 ? 1e300 : (double)i * -0.5;
        uint8_t b = i % 2;
        float vec[2] = {1, (float)i};
        must(vdb_column_push(&cols[C_PK], &pk, 8, true));
        must(vdb_column_push(&cols[C_I8], &i8, 1, true));
        must(vdb_column_push(&cols[C_I16], &i16, 2, true));
        must(vdb_column_push(&cols[C_I32], &i32, 4, true));
        must(vdb_column_push(&cols[C_F], &f, 4, true));
        must(vdb_column_push(&cols[C_D], &d, 8, true));
        must(vdb_column_push(&cols[C_B], &b, 1, true));
        push_str(&cols[C_S], strs[i], true);
        must(vdb_column_push(&cols[C_N], i % 3 ? &n : NULL, 8, i % 3 != 0));
        push_str(&cols[C_NS], strs[(i + 2) % ROWS], i % 4 != 1);
        push_str(&cols[C_J], jsons[i], true);
        push_str(&cols[C_AI], ais[i], true);
        push_str(&cols[C_AS], ass[i], true);
        push_str(&cols[C_AB], abs_[i], true);
        push_str(&cols[C_AF], afs[i], true);
        must(vdb_column_push(&cols[C_VEC], vec, 8, true));
        push_str(&cols[C_META], metas[i], true);
    }
    for (size_t c = 0; c < NCOLS; c++) {
        vdb_type t = cols[c].type;
        if (t == VDB_TYPE_VARCHAR) {
            must(vdb_sindex_build(VDB_SINDEX_TRIE, &cols[c], &ix_a[c]));
            must(vdb_sindex_build(VDB_SINDEX_INVERTED, &cols[c], &ix_b[c]));
        } else if (t != VDB_TYPE_JSON && t != VDB_TYPE_ARRAY && t != VDB_TYPE_FLOAT_VECTOR) {
            must(vdb_sindex_build(VDB_SINDEX_SORTED, &cols[c], &ix_a[c]));
            must(vdb_sindex_build(VDB_SINDEX_INVERTED, &cols[c], &ix_b[c]));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup();
        ready = true;
    }
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    vdb_expr *e = NULL;
    vdb_status st = vdb_expr_parse(text, &schema, &e);
    if (st == VDB_OK) {
        uint64_t plain = 0, a = 0, b = 0;
        vdb_expr_input in = {ROWS, colp, NULL};
        if (vdb_expr_eval(e, &in, &plain) != VDB_OK)
            __builtin_trap();
        in.indexes = (const vdb_scalar_index *const *)ix_a;
        if (vdb_expr_eval(e, &in, &a) != VDB_OK)
            __builtin_trap();
        in.indexes = (const vdb_scalar_index *const *)ix_b;
        if (vdb_expr_eval(e, &in, &b) != VDB_OK)
            __builtin_trap();
        if (plain != a || plain != b || (plain >> ROWS) != 0) {
            fprintf(stderr, "fuzz_expr: '%s': scan %llx, index %llx / %llx\n", text,
                    (unsigned long long)plain, (unsigned long long)a, (unsigned long long)b);
            __builtin_trap();
        }
        vdb_expr_free(e);
    } else if (st != VDB_EINVAL || e != NULL || strncmp(vdb_err_get(), "filter: ", 8) != 0) {
        __builtin_trap();
    }
    free(text);
    return 0;
}

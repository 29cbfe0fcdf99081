/* libFuzzer target for the JSON reader (lib/util/json.c): validation, typed scalars, typed
 * arrays, member lookup and iteration, over any bytes. The answers must agree with each
 * other: what validates as an object iterates, what parses as a string is valid UTF-8 that
 * re-escapes and parses back to the same bytes.
 *
 * Typed array elements (vdb_json_array_each, what element indexes read) are read from any
 * text without a crash, and from every array check_array accepts without an error.
 *
 * Input: u8 selector (the scalar or array element type), then the text. */
#include "fuzz.h"
#include "util/json.h"

static const vdb_type types[] = {VDB_TYPE_BOOL, VDB_TYPE_INT8, VDB_TYPE_INT16, VDB_TYPE_INT32,
                                 VDB_TYPE_INT64, VDB_TYPE_FLOAT, VDB_TYPE_DOUBLE,
                                 VDB_TYPE_VARCHAR};

static bool text_valid;

static int count_member(void *arg, const char *key, size_t klen, const char *val, size_t vlen)
{
    (void)key;
    (void)klen;
    if (text_valid && vdb_json_validate(val, vlen, "member") != VDB_OK)
        __builtin_trap(); /* a member of a valid object is valid JSON */
    (*(size_t *)arg)++;
    return 0;
}

static vdb_status count_elem(void *arg, const vdb_json_scalar *v)
{
    if (v->len && !v->s)
        __builtin_trap();
    (*(size_t *)arg)++;
    return VDB_OK;
}

static void einval_with_message(vdb_status st)
{
    if (st != VDB_OK && ((st != VDB_EINVAL && st != VDB_ERANGE) || !vdb_err_get()[0])) {
        fprintf(stderr, "fuzz_json: status %d '%s'\n", (int)st, vdb_err_get());
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    vdb_type t = types[data[0] % VDB_ARRAY_LEN(types)];
    uint32_t max_len = 1u + data[0] / 8u;
    char *s = (char *)fuzz_copy(data + 1, size - 1);
    size_t n = size - 1;

    vdb_status valid = vdb_json_validate(s, n, "fuzz");
    einval_with_message(valid);
    text_valid = valid == VDB_OK;
    bool obj = vdb_json_is_object(s, n);
    size_t members = 0;
    vdb_status each = vdb_json_each(s, n, count_member, &members);
    /* is_object, get and each take text already validated; on other text they need only
     * not crash */
    if (valid == VDB_OK && obj && each != VDB_OK)
        __builtin_trap();
    const char *v;
    size_t vlen;
    if (vdb_json_get(s, n, "a", &v, &vlen) && (v < s || v + vlen > s + n))
        __builtin_trap();

    vdb_json_scalar sc;
    vdb_status st = vdb_json_parse_scalar(s, n, t, max_len * 8, &sc);
    einval_with_message(st);
    if (st == VDB_OK && valid != VDB_OK)
        __builtin_trap(); /* a scalar is JSON */
    if (st == VDB_OK && t == VDB_TYPE_VARCHAR) {
        vdb_buf b = {0};
        vdb_json_put_string(&b, sc.s, sc.len);
        if (b.oom)
            abort();
        vdb_json_scalar back;
        if (vdb_json_parse_scalar((const char *)b.p, b.len, VDB_TYPE_VARCHAR, UINT32_MAX,
                                  &back) != VDB_OK)
            __builtin_trap();
        fuzz_check_same("fuzz_json (string)", sc.s, sc.len, back.s, back.len);
        vdb_json_scalar_free(&back);
        vdb_buf_free(&b);
    }
    if (st == VDB_OK)
        vdb_json_scalar_free(&sc);

    st = vdb_json_check_array(s, n, t, max_len, max_len * 4, "fuzz");
    einval_with_message(st);
    if (st == VDB_OK && valid != VDB_OK)
        __builtin_trap();
    size_t elems = 0;
    vdb_status each_st = vdb_json_array_each(s, n, t, NULL, count_elem, &elems);
    if (st == VDB_OK && (each_st != VDB_OK || elems > max_len))
        __builtin_trap(); /* an accepted array reads element by element */
    free(s);
    return 0;
}

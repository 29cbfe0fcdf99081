/* srv_secret_eq (server/secret.c): the token comparison of vdb-server's REST and gRPC fronts.
 * Equal only for the same bytes and the same length; a prefix, an extension, one byte off at
 * the start, the middle or the end, an embedded NUL, empty inputs: all unequal. (That it takes
 * no shortcut is a property of its code, one loop over the longer length with no branch on
 * the bytes; no timing is asserted here.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "secret.h"

static int eq(const char *a, const char *b)
{
    return srv_secret_eq(a, strlen(a), b, strlen(b));
}

static void test_equal(void **state)
{
    (void)state;
    assert_int_equal(eq("root:Milvus", "root:Milvus"), 1);
    assert_int_equal(eq("x", "x"), 1);
    assert_int_equal(srv_secret_eq("", 0, "", 0), 1);
    assert_int_equal(srv_secret_eq(NULL, 0, NULL, 0), 1);
    char big1[4096], big2[4096];
    for (size_t i = 0; i < sizeof big1; i++)
        big1[i] = big2[i] = (char)(i * 31 + 7);
    assert_int_equal(srv_secret_eq(big1, sizeof big1, big2, sizeof big2), 1);
}

static void test_unequal(void **state)
{
    (void)state;
    const char *want = "root:Milvus";
    assert_int_equal(eq("root:Milvu", want), 0);   /* prefix */
    assert_int_equal(eq("root:Milvus!", want), 0); /* extension */
    assert_int_equal(eq("", want), 0);
    assert_int_equal(eq(want, ""), 0);
    assert_int_equal(eq("Root:Milvus", want), 0);  /* first byte */
    assert_int_equal(eq("root;Milvus", want), 0);  /* middle */
    assert_int_equal(eq("root:MilvuS", want), 0);  /* last byte */
    assert_int_equal(eq("root:milvus", want), 0);  /* case matters */
    /* the old comparison wrapped the secret (want[i % len]): a repetition of it was equal in
     * every byte, only the length told them apart */
    assert_int_equal(eq("root:Milvusroot:Milvus", want), 0);
    /* an embedded NUL: the lengths decide, not a C string's end */
    assert_int_equal(srv_secret_eq("root\0Milvus", 11, "root", 4), 0);
    assert_int_equal(srv_secret_eq("root", 4, "root\0", 5), 0);
    /* every single-bit flip at every position */
    char g[12];
    for (size_t i = 0; i < 11; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(g, want, 12);
            g[i] = (char)(g[i] ^ (1 << bit));
            assert_int_equal(srv_secret_eq(g, 11, want, 11), 0);
        }
    /* lengths that differ by a multiple of 256 (a length folded into a byte must not match) */
    char a[300], b[44];
    memset(a, 'a', sizeof a);
    memset(b, 'a', sizeof b);
    assert_int_equal(srv_secret_eq(a, 300, b, 44), 0);
    assert_int_equal(srv_secret_eq(a, 256, b, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_unequal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Assertions for the tests that go through the public API: OK(call) fails the test with the
 * library's message unless the call returns VDB_OK; ERR(call, status, words) fails it unless
 * the call returns that status with a message containing words (NULL: any message). */
#ifndef VDB_TEST_API_H
#define VDB_TEST_API_H

#include <string.h>

#include <vdb/vdb.h>

#include "test_common.h"

#define OK(expr)                                                                              \
    do {                                                                                      \
        vdb_status st_ = (expr);                                                              \
        if (st_ != VDB_OK)                                                                    \
            fail_msg("line %d: %s -> %s: %s", __LINE__, #expr, vdb_status_name(st_),          \
                     vdb_errmsg(NULL));                                                       \
    } while (0)

static inline void test_check_err(vdb_status got, vdb_status want, const char *sub,
                                  const char *expr, int line)
{
    if (got != want)
        fail_msg("line %d: %s -> %s, expected %s (message: %s)", line, expr,
                 vdb_status_name(got), vdb_status_name(want), vdb_errmsg(NULL));
    if (sub && !strstr(vdb_errmsg(NULL), sub))
        fail_msg("line %d: %s: message '%s' does not mention '%s'", line, expr,
                 vdb_errmsg(NULL), sub);
}
#define ERR(expr, want, sub) test_check_err((expr), (want), (sub), #expr, __LINE__)

#endif

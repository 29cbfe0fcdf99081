/* Helpers shared by the cmocka tests: scratch folders and deterministic random data. */
#ifndef VDB_TEST_COMMON_H
#define VDB_TEST_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* A fresh empty folder for one test (malloc'ed path; remove with test_rmdir). */
char *test_tmpdir(const char *name);
void test_rmdir(const char *path);
/* xorshift random numbers, reproducible from a seed. */
uint64_t test_rand(uint64_t *state);
float test_randf(uint64_t *state); /* uniform in [-1, 1) */

#endif

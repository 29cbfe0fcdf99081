/* Tests for the shared utilities in lib/core: checksums, buffers, files, allocation faults. */
#define _GNU_SOURCE
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include "util/util.h"

/* CRC32C one bit at a time: slow, obviously right, independent of both library paths. */
static uint32_t crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void test_crc32c_known_answers(void **state)
{
    (void)state;
    assert_int_equal(vdb_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(vdb_crc32c(0, "", 0), 0u);
    uint8_t zeros[32] = {0}, ones[32];
    memset(ones, 0xff, sizeof ones);
    /* RFC 3720 (iSCSI) test vectors. */
    assert_int_equal(vdb_crc32c(0, zeros, 32), 0x8A9136AAu);
    assert_int_equal(vdb_crc32c(0, ones, 32), 0x62A8AB43u);
    uint8_t inc[32];
    for (int i = 0; i < 32; i++)
        inc[i] = (uint8_t)i;
    assert_int_equal(vdb_crc32c(0, inc, 32), 0x46DD794Eu);
}

static void test_crc32c_matches_bitwise_reference_for_lengths_0_to_1000(void **state)
{
    (void)state;
    uint64_t seed = 42;
    uint8_t *buf = malloc(1000 + 8);
    assert_non_null(buf);
    for (size_t i = 0; i < 1008; i++)
        buf[i] = (uint8_t)test_rand(&seed);
    for (size_t len = 0; len <= 1000; len++) {
        size_t shift = len % 8; /* unaligned starts reach the byte-wise head and tail */
        uint32_t want = crc32c_bitwise(0, buf + shift, len);
        assert_int_equal(vdb_crc32c(0, buf + shift, len), want);
    }
    free(buf);
}

static void test_crc32c_chains_across_calls(void **state)
{
    (void)state;
    uint64_t seed = 7;
    uint8_t buf[777];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)test_rand(&seed);
    uint32_t whole = vdb_crc32c(0, buf, sizeof buf);
    for (size_t cut = 0; cut <= sizeof buf; cut += 37) {
        uint32_t c = vdb_crc32c(0, buf, cut);
        assert_int_equal(vdb_crc32c(c, buf + cut, sizeof buf - cut), whole);
    }
    assert_int_equal(whole, crc32c_bitwise(0, buf, sizeof buf));
}

/* The CPU's CRC instruction is used where the CPU has one (checked here on its own). */
static bool cpu_has_crc(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
#elif defined(__aarch64__)
    return getauxval(AT_HWCAP) & HWCAP_CRC32;
#else
    return false;
#endif
}

static void test_crc32c_uses_the_cpu_instruction_where_there_is_one(void **state)
{
    (void)state;
    vdb_crc32c_force_table(false);
    assert_string_equal(vdb_crc32c_impl(), cpu_has_crc() ? "hardware" : "table");
}

/* The three tests above once more on the table path, so both paths are checked on a CPU that
 * has the instruction. */
static void test_crc32c_table_path_gives_the_same_answers(void **state)
{
    vdb_crc32c_force_table(true);
    assert_string_equal(vdb_crc32c_impl(), "table");
    test_crc32c_known_answers(state);
    test_crc32c_matches_bitwise_reference_for_lengths_0_to_1000(state);
    test_crc32c_chains_across_calls(state);
    vdb_crc32c_force_table(false);
}

static void test_buf_and_reader_round_trip(void **state)
{
    (void)state;
    vdb_buf b = {0};
    vdb_buf_u8(&b, 0xab);
    vdb_buf_u32(&b, 0xdeadbeefu);
    vdb_buf_u64(&b, UINT64_C(0x0123456789abcdef));
    vdb_buf_str(&b, "hello");
    vdb_buf_bytes(&b, "\0\1\2", 3);
    for (int i = 0; i < 1000; i++) /* forces several reallocations */
        vdb_buf_u32(&b, (uint32_t)i);
    assert_false(b.oom);
    assert_int_equal(b.len, 1 + 4 + 8 + 4 + 5 + 8 + 3 + 4000);
    /* Little-endian on disk whatever the host. */
    assert_int_equal(b.p[1], 0xef);
    assert_int_equal(b.p[4], 0xde);

    vdb_rd r = vdb_rd_init(b.p, b.len);
    assert_int_equal(vdb_rd_u8(&r), 0xab);
    assert_int_equal(vdb_rd_u32(&r), 0xdeadbeefu);
    assert_true(vdb_rd_u64(&r) == UINT64_C(0x0123456789abcdef));
    char *s = vdb_rd_str(&r);
    assert_string_equal(s, "hello");
    vdb_free(s);
    size_t n;
    const uint8_t *p = vdb_rd_bytes(&r, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "\0\1\2", 3);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(vdb_rd_u32(&r), (uint32_t)i);
    assert_false(r.err);
    assert_int_equal(r.off, r.len);
    vdb_buf_free(&b);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
}

static void test_reader_overrun_sets_err_and_yields_zeros(void **state)
{
    (void)state;
    uint8_t data[6] = {1, 2, 3, 4, 5, 6};
    vdb_rd r = vdb_rd_init(data, sizeof data);
    assert_int_equal(vdb_rd_u32(&r), 0x04030201u);
    assert_false(r.err);
    assert_int_equal(vdb_rd_u32(&r), 0u); /* only 2 bytes left */
    assert_true(r.err);
    assert_int_equal(vdb_rd_u8(&r), 0); /* stays failed */
    assert_null(vdb_rd_take(&r, 1));

    /* A length prefix that points past the end. */
    vdb_buf b = {0};
    vdb_buf_u64(&b, 1000);
    vdb_buf_put(&b, "abc", 3);
    r = vdb_rd_init(b.p, b.len);
    size_t n = 99;
    assert_null(vdb_rd_bytes(&r, &n));
    assert_true(r.err);
    assert_int_equal(n, 0);

    vdb_buf_free(&b);
    vdb_buf_u32(&b, 100);
    vdb_buf_put(&b, "short", 5);
    r = vdb_rd_init(b.p, b.len);
    assert_null(vdb_rd_str(&r));
    assert_true(r.err);

    /* A huge u64 length must not wrap the bounds check. */
    vdb_buf_free(&b);
    vdb_buf_u64(&b, UINT64_MAX - 2);
    r = vdb_rd_init(b.p, b.len);
    assert_null(vdb_rd_bytes(&r, &n));
    assert_true(r.err);
    vdb_buf_free(&b);
}

static void test_file_write_atomic_then_read_back(void **state)
{
    (void)state;
    char *dir = test_tmpdir("util_files");
    assert_non_null(dir);
    char *path = vdb_path_join(dir, "f.bin");
    assert_string_equal(path + strlen(dir), "/f.bin");
    uint8_t data[5000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 31);
    assert_int_equal(vdb_file_write_atomic(path, data, sizeof data), VDB_OK);
    void *got;
    size_t len;
    assert_int_equal(vdb_file_read(path, &got, &len), VDB_OK);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(got, data, sizeof data);
    assert_int_equal(((uint8_t *)got)[len], 0); /* NUL past the end */
    vdb_free(got);

    /* Replace with shorter content; no temporary file is left behind. */
    assert_int_equal(vdb_file_write_atomic(path, "xy", 2), VDB_OK);
    assert_int_equal(vdb_file_read(path, &got, &len), VDB_OK);
    assert_int_equal(len, 2);
    assert_memory_equal(got, "xy", 2);
    vdb_free(got);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", dir);
    assert_int_equal(system(cmd), 0);

    char *missing = vdb_path_join(dir, "nope");
    vdb_err_clear();
    assert_int_equal(vdb_file_read(missing, &got, &len), VDB_ENOTFOUND);
    assert_non_null(strstr(vdb_err_get(), "nope"));
    vdb_free(missing);
    vdb_free(path);
    test_rmdir(dir);
    free(dir);
}

static void test_mkdirs_and_remove_tree(void **state)
{
    (void)state;
    char *dir = test_tmpdir("util_dirs");
    assert_non_null(dir);
    char *deep = vdb_path_join(dir, "a/b/c/d");
    assert_int_equal(vdb_mkdirs(deep), VDB_OK);
    assert_int_equal(vdb_mkdirs(deep), VDB_OK); /* existing is fine */
    struct stat sb;
    assert_int_equal(stat(deep, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    char *file = vdb_path_join(deep, "x");
    assert_int_equal(vdb_file_write_atomic(file, "1", 1), VDB_OK);
    assert_int_equal(vdb_fsync_dir(deep), VDB_OK);

    /* A file in the way of a folder is an error with the path. */
    char *blocked = vdb_path_join(file, "y");
    assert_int_equal(vdb_mkdirs(blocked), VDB_EIO);
    assert_non_null(strstr(vdb_err_get(), "mkdir"));

    char *top = vdb_path_join(dir, "a");
    assert_int_equal(vdb_remove_tree(top), VDB_OK);
    assert_int_not_equal(stat(top, &sb), 0);
    assert_int_equal(vdb_remove_tree(top), VDB_OK); /* already gone */
    assert_int_equal(stat(dir, &sb), 0);
    vdb_free(blocked);
    vdb_free(file);
    vdb_free(top);
    vdb_free(deep);
    test_rmdir(dir);
    free(dir);
}

static void test_fault_alloc_after_fails_the_nth_allocation(void **state)
{
    (void)state;
    vdb_fault_alloc_after(3, false);
    void *a = vdb_malloc(10), *b = vdb_malloc(10), *c = vdb_malloc(10), *d = vdb_malloc(10);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(c);
    assert_non_null(d); /* not sticky: only the third failed */
    vdb_free(a);
    vdb_free(b);
    vdb_free(d);

    vdb_fault_alloc_after(1, true);
    assert_null(vdb_malloc(1));
    assert_null(vdb_calloc(1, 1));
    assert_null(vdb_strdup("x"));
    vdb_buf buf = {0};
    vdb_buf_u64(&buf, 1);
    assert_true(buf.oom);
    assert_int_equal(buf.len, 0);
    vdb_fault_alloc_after(0, false);
    void *e = vdb_malloc(1);
    assert_non_null(e);
    vdb_free(e);
    vdb_buf_free(&buf);
}

static void test_fault_alloc_makes_file_read_report_enomem(void **state)
{
    (void)state;
    char *dir = test_tmpdir("util_fault");
    char *path = vdb_path_join(dir, "f");
    assert_int_equal(vdb_file_write_atomic(path, "abc", 3), VDB_OK);
    void *got = NULL;
    size_t len;
    vdb_fault_alloc_after(1, false);
    assert_int_equal(vdb_file_read(path, &got, &len), VDB_ENOMEM);
    assert_non_null(strstr(vdb_err_get(), "out of memory"));
    assert_int_equal(vdb_file_read(path, &got, &len), VDB_OK);
    vdb_free(got);
    vdb_free(path);
    test_rmdir(dir);
    free(dir);
}

static void test_hash_is_deterministic_and_seeded(void **state)
{
    (void)state;
    const char *s = "the quick brown fox";
    assert_true(vdb_hash_bytes(s, strlen(s), 1) == vdb_hash_bytes(s, strlen(s), 1));
    assert_true(vdb_hash_bytes(s, strlen(s), 1) != vdb_hash_bytes(s, strlen(s), 2));
    assert_true(vdb_hash_bytes(s, 5, 1) != vdb_hash_bytes(s, 6, 1));
    assert_true(vdb_hash_u64(1) != vdb_hash_u64(2));
    uint64_t a = vdb_now_ms(), m1 = vdb_mono_ns(), m2 = vdb_mono_ns();
    assert_true(a > UINT64_C(1600000000000));
    assert_true(m2 >= m1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_known_answers),
        cmocka_unit_test(test_crc32c_matches_bitwise_reference_for_lengths_0_to_1000),
        cmocka_unit_test(test_crc32c_chains_across_calls),
        cmocka_unit_test(test_crc32c_uses_the_cpu_instruction_where_there_is_one),
        cmocka_unit_test(test_crc32c_table_path_gives_the_same_answers),
        cmocka_unit_test(test_buf_and_reader_round_trip),
        cmocka_unit_test(test_reader_overrun_sets_err_and_yields_zeros),
        cmocka_unit_test(test_file_write_atomic_then_read_back),
        cmocka_unit_test(test_mkdirs_and_remove_tree),
        cmocka_unit_test(test_fault_alloc_after_fails_the_nth_allocation),
        cmocka_unit_test(test_fault_alloc_makes_file_read_report_enomem),
        cmocka_unit_test(test_hash_is_deterministic_and_seeded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

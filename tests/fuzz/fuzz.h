/* Shared by the libFuzzer targets in this folder: an exact-size copy of the input (so that
 * AddressSanitizer sees a read one byte past it), the checksum fix-ups that let the fuzzer
 * get past a file's crc32c to the fields behind it, and the rule every decoder keeps: a
 * damaged input is a status with a message (VDB_ECORRUPT, or VDB_EVERSION for a version
 * field), never a crash, another status or an unbounded allocation (libFuzzer's
 * -malloc_limit_mb catches those). */
#ifndef VDB_FUZZ_H
#define VDB_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline uint8_t *fuzz_copy(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        abort();
    if (size)
        memcpy(p, data, size);
    return p;
}

/* The last 4 bytes become the crc32c of the bytes before them (the layout of the manifest,
 * delta, bloom and index files). */
static inline void fuzz_fix_tail_crc(uint8_t *p, size_t n)
{
    if (n >= 4)
        vdb_put_u32(p + n - 4, vdb_crc32c(0, p, n - 4));
}

/* A decoder's answer to bytes that may be damaged: OK, or ECORRUPT / EVERSION with a message
 * that says what (traps otherwise, so the fuzzer reports the input). */
static inline void fuzz_check_status(const char *target, vdb_status st)
{
    if (st == VDB_OK)
        return;
    const char *m = vdb_err_get();
    if ((st != VDB_ECORRUPT && st != VDB_EVERSION) || !m || !m[0]) {
        fprintf(stderr, "%s: status %d, message '%s'\n", target, (int)st, m ? m : "(null)");
        __builtin_trap();
    }
}

/* Traps unless a == b (a round trip of a decoded value changed its bytes). */
static inline void fuzz_check_same(const char *target, const void *a, size_t alen,
                                   const void *b, size_t blen)
{
    if (alen != blen || (alen && memcmp(a, b, alen) != 0)) {
        fprintf(stderr, "%s: re-encoding gives %zu bytes that differ from the %zu decoded\n",
                target, blen, alen);
        __builtin_trap();
    }
}

#endif

/* libFuzzer target for binlog files (lib/segment/binlog.c): header, checksums, the zstd frame
 * and the column inside. A decoded column re-encodes to the bytes that were compressed.
 *
 * Input: one mode byte, then bytes. Mode 0: the bytes are a binlog file taken as they are;
 * 1: a file whose two checksums are recomputed first; 2: the bytes are a column's plain
 * encoding, which the target compresses and wraps in a valid header (so the fuzzer works on
 * the column bytes, not on compressed ones). */
#include <zstd.h>

#include "fuzz.h"
#include "segment/segment.h"

#define HEADER 36

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 3;
    data++;
    size--;
    uint8_t *file;
    size_t len;
    if (mode == 2) {
        size_t bound = ZSTD_compressBound(size);
        file = malloc(HEADER + bound);
        if (!file)
            abort();
        size_t clen = ZSTD_compress(file + HEADER, bound, data, size, 1);
        if (ZSTD_isError(clen))
            abort();
        memcpy(file, "VDBBLOG1", 8);
        vdb_put_u32(file + 8, 1);
        vdb_put_u32(file + 12, vdb_crc32c(0, file + HEADER, clen));
        vdb_put_u64(file + 16, size);
        vdb_put_u64(file + 24, clen);
        vdb_put_u32(file + 32, vdb_crc32c(0, file, 32));
        len = HEADER + clen;
        uint8_t *exact = fuzz_copy(file, len);
        free(file);
        file = exact;
    } else {
        file = fuzz_copy(data, size);
        len = size;
        if (mode == 1 && len >= HEADER) {
            vdb_put_u32(file + 12, vdb_crc32c(0, file + HEADER, len - HEADER));
            vdb_put_u32(file + 32, vdb_crc32c(0, file, 32));
        }
    }
    vdb_column c;
    vdb_status st = vdb_binlog_decode(file, len, &c);
    fuzz_check_status("fuzz_binlog", st);
    if (st == VDB_OK) {
        vdb_buf again = {0};
        vdb_column_encode(&c, &again);
        if (again.oom)
            abort();
        if (mode == 2)
            fuzz_check_same("fuzz_binlog", data, size, again.p, again.len);
        else if (again.len != vdb_get_u64(file + 16))
            __builtin_trap();
        vdb_buf_free(&again);
        vdb_column_free(&c);
    }
    free(file);
    return 0;
}

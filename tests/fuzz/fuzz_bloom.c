/* libFuzzer target for bloom filter files (lib/segment/bloom.c): a decoded filter re-encodes
 * to the same bytes and answers lookups.
 *
 * Input: one flags byte (bit 0: recompute the trailing crc32c), then the file. */
#include "fuzz.h"
#include "segment/segment_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t *p = fuzz_copy(data + 1, size - 1);
    size--;
    if (data[0] & 1)
        fuzz_fix_tail_crc(p, size);
    vdb_bloom b;
    vdb_status st = vdb_bloom_file_decode(p, size, &b);
    fuzz_check_status("fuzz_bloom", st);
    if (st == VDB_OK) {
        for (uint64_t h = 0; h < 64; h++)
            (void)vdb_bloom_may_contain(&b, h * 0x9e3779b97f4a7c15ull);
        vdb_buf again = {0};
        vdb_bloom_file_encode(&b, &again);
        if (again.oom)
            abort();
        fuzz_check_same("fuzz_bloom", p, size, again.p, again.len);
        vdb_buf_free(&again);
        vdb_bloom_free(&b);
    }
    free(p);
    return 0;
}

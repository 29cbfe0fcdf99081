/* libFuzzer target for delete logs ("delta_<n>", lib/segment/delta.c): a decoded log
 * re-encodes to the same bytes.
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
    vdb_delete_rec *recs;
    size_t n;
    vdb_status st = vdb_delta_decode(p, size, &recs, &n);
    fuzz_check_status("fuzz_delta", st);
    if (st == VDB_OK) {
        vdb_buf again = {0};
        vdb_delta_encode(recs, n, &again);
        if (again.oom)
            abort();
        fuzz_check_same("fuzz_delta", p, size, again.p, again.len);
        vdb_buf_free(&again);
        vdb_free(recs);
    }
    free(p);
    return 0;
}

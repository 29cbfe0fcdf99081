/* libFuzzer target for segment manifests (lib/segment/manifest.c), as recovery reads them from
 * the meta store: a decoded manifest re-encodes to the same bytes, and the list of the files
 * it names (what a drop deletes) agrees with the decoder.
 *
 * Input: one flags byte (bit 0: recompute the trailing crc32c), then the manifest. */
#include "fuzz.h"
#include "segment/segment_int.h"

static void count_key(void *arg, const char *key)
{
    if (!key || !key[0])
        __builtin_trap();
    (*(size_t *)arg)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t *p = fuzz_copy(data + 1, size - 1);
    size--;
    if (data[0] & 1)
        fuzz_fix_tail_crc(p, size);
    vdb_manifest m;
    vdb_status st = vdb_manifest_decode(p, size, &m);
    fuzz_check_status("fuzz_manifest", st);
    size_t keys = 0;
    vdb_status st2 = vdb_segment_manifest_files(p, size, count_key, &keys);
    if ((st == VDB_OK) != (st2 == VDB_OK))
        __builtin_trap();
    if (st == VDB_OK) {
        if (keys != m.nfiles + m.ndeltas)
            __builtin_trap();
        vdb_buf again = {0};
        vdb_manifest_encode(&m, &again);
        if (again.oom)
            abort();
        fuzz_check_same("fuzz_manifest", p, size, again.p, again.len);
        vdb_buf_free(&again);
        vdb_manifest_free(&m);
    }
    free(p);
    return 0;
}

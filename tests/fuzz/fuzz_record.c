/* libFuzzer target for log records (lib/log/record.c) and the column encoding their bodies
 * carry (lib/segment/column.c, read by recovery through vdb_decode_columns): any bytes give
 * VDB_ECORRUPT or a record whose columns re-encode to the same bytes. */
#include "fuzz.h"
#include "log/log.h"
#include "segment/segment.h"

#define MAX_COLS 64

/* The body of an INSERT (u32 column count, then the columns) or a DELETE (one column). */
static void body_columns(const uint8_t *body, size_t len)
{
    vdb_rd r = vdb_rd_init(body, len);
    uint32_t n = vdb_rd_u32(&r);
    if (r.err)
        return;
    for (uint32_t i = 0; i < n && i < MAX_COLS; i++) {
        size_t at = r.off;
        vdb_column c;
        vdb_status st = vdb_column_decode(&r, &c);
        fuzz_check_status("fuzz_record", st);
        if (st != VDB_OK)
            return;
        vdb_buf again = {0};
        vdb_column_encode(&c, &again);
        if (again.oom)
            abort();
        fuzz_check_same("fuzz_record (column)", body + at, r.off - at, again.p, again.len);
        vdb_buf_free(&again);
        vdb_column_free(&c);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = fuzz_copy(data, size);
    vdb_rec_header h;
    const void *body;
    size_t blen;
    vdb_status st = vdb_rec_decode(p, size, &h, &body, &blen);
    fuzz_check_status("fuzz_record", st);
    if (st == VDB_OK) {
        if ((const uint8_t *)body < p || blen > size || (const uint8_t *)body + blen != p + size)
            __builtin_trap();
        vdb_buf again = {0};
        vdb_rec_encode(&h, body, blen, &again);
        if (again.oom)
            abort();
        if (again.len != size)
            __builtin_trap();
        vdb_buf_free(&again);
        if (h.type == VDB_REC_INSERT || h.type == VDB_REC_DELETE)
            body_columns(body, blen);
    }
    free(p);
    return 0;
}

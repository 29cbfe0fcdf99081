/* Primary keys: hashing, equality and reading a key out of a primary-key column. */
#include "segment.h"

/* Strings and ints hash apart so that "5" and 5 do not collide by construction. */
#define PK_STR_SEED 0x5bd1e9955bd1e995ULL

uint64_t vdb_pk_hash(vdb_pk pk)
{
    if (pk.s)
        return vdb_hash_bytes(pk.s, pk.len, PK_STR_SEED);
    return vdb_hash_u64((uint64_t)pk.i);
}

bool vdb_pk_equal(vdb_pk a, vdb_pk b)
{
    if (!a.s || !b.s)
        return !a.s && !b.s && a.i == b.i;
    return a.len == b.len && (a.len == 0 || memcmp(a.s, b.s, a.len) == 0);
}

int vdb_pk_cmp(vdb_pk a, vdb_pk b)
{
    if (!a.s || !b.s)
        return a.i < b.i ? -1 : a.i > b.i;
    int c = memcmp(a.s, b.s, VDB_MIN(a.len, b.len));
    return c ? c : (a.len < b.len ? -1 : a.len > b.len);
}

vdb_pk vdb_pk_of(const vdb_column *pkcol, size_t row)
{
    vdb_pk pk = {0, NULL, 0};
    if (vdb_type_is_var(pkcol->type)) {
        size_t len;
        const char *s = vdb_column_var(pkcol, row, &len);
        /* A column of empty strings may have no byte array; its keys are still strings. */
        pk.s = pkcol->bytes ? s : "";
        pk.len = len;
    } else {
        int64_t v;
        memcpy(&v, vdb_column_at(pkcol, row), sizeof v);
        pk.i = v;
    }
    return pk;
}

/* Structs that carry their size: what a caller built against an older (shorter) header passes
 * in is read no further than its struct_size, and what the library writes back no further. */
#include "util/util.h"

vdb_status vdb_struct_in(const void *in, uint32_t struct_size, size_t min, void *out, size_t size,
                         const char *what)
{
    if (struct_size < min)
        return vdb_set_errmsg(VDB_EINVAL, "%s.struct_size is %u: set it to sizeof(%s) (%zu)",
                              what, struct_size, what, size);
    memset(out, 0, size);
    memcpy(out, in, VDB_MIN((size_t)struct_size, size));
    return VDB_OK;
}

vdb_status vdb_struct_out(void *dst, size_t min, const void *src, size_t size, const char *what)
{
    uint32_t struct_size;
    memcpy(&struct_size, dst, sizeof struct_size); /* every sized struct starts with it */
    if (struct_size < min)
        return vdb_set_errmsg(VDB_EINVAL, "%s.struct_size is %u: set it to sizeof(%s) (%zu)",
                              what, struct_size, what, size);
    memcpy(dst, src, VDB_MIN((size_t)struct_size, size));
    memcpy(dst, &struct_size, sizeof struct_size); /* the caller's size stays */
    return VDB_OK;
}

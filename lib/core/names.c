/* Lists of names handed to the caller. */
#include "core/names.h"

vdb_status vdb_names_new(size_t n, vdb_names **out)
{
    vdb_names *v = vdb_calloc(1, sizeof *v);
    if (v)
        v->names = vdb_calloc(n + 1, sizeof *v->names);
    if (!v || !v->names) {
        vdb_free(v);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    *out = v;
    return VDB_OK;
}

void vdb_names_free(vdb_names *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->count; i++)
        vdb_free(n->names[i]);
    vdb_free(n->names);
    vdb_free(n);
}

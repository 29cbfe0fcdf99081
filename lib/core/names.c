/* Lists of names handed to the caller. */
#include "core/names.h"

#include <stdlib.h>
#include <string.h>

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

vdb_status vdb_names_add(vdb_names *list, const char *name)
{
    if (!(list->names[list->count] = vdb_strdup(name)))
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    list->count++;
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

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

vdb_status vdb_names_finish(vdb_names **out, size_t from, vdb_status st)
{
    if (st != VDB_OK) {
        vdb_names_free(*out);
        *out = NULL;
        return st;
    }
    if ((*out)->count > from)
        qsort((*out)->names + from, (*out)->count - from, sizeof(char *), name_cmp);
    return VDB_OK;
}

/* JSON path index paths: json_path as users write it, read by the filter parser (so an index
 * and a filter name a path alike) into the key the index keeps. */
#include "expr_int.h"

vdb_status vdb_jpath_key(const char *path, const char *field, char **key, size_t *len)
{
    *key = NULL;
    *len = 0;
    if (!path || !*path)
        return vdb_set_errmsg(VDB_EINVAL, "json_path is empty: give a path into field '%s' "
                              "such as %s[\"key\"]", field, field);
    /* the filter parser reads the path, so an index and a filter name a path alike */
    vdb_expr_field f = {field, VDB_TYPE_JSON, 0, true, 0};
    vdb_expr_schema sc = {1, &f, -1};
    vdb_buf text = {0};
    vdb_buf_put(&text, "exists ", 7);
    vdb_buf_put(&text, path, strlen(path) + 1);
    if (text.oom) {
        vdb_buf_free(&text);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    vdb_expr *e = NULL;
    vdb_status st = vdb_expr_parse((const char *)text.p, &sc, &e);
    vdb_buf_free(&text);
    if (st == VDB_OK && (e->root->kind != XN_EXISTS || e->root->a->kind != XN_JSON ||
                         !e->root->a->nsteps))
        st = VDB_EINVAL;
    if (st != VDB_OK) {
        vdb_expr_free(e);
        return vdb_set_errmsg(VDB_EINVAL, "json_path '%s' is not a path into JSON field '%s' "
                              "(write it as %s[\"key\"][\"key\"], keys quoted, array "
                              "positions as [0])", path, field, field);
    }
    vdb_buf b = {0};
    if (!vdb_expr_path_key(e->root->a->steps, e->root->a->nsteps, &b)) {
        vdb_buf_free(&b);
        vdb_expr_free(e);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    vdb_expr_free(e);
    *key = (char *)b.p;
    *len = b.len;
    return VDB_OK;
}

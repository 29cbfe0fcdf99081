/* Element indexes over ARRAY columns (INVERTED and BITMAP on arrays): every distinct element
 * value with the ascending rows whose array holds it, each row once however often its array
 * repeats the element. NULL rows and empty arrays hold no element, so they are in no list.
 * Elements are read from the array text as the filter's scan reads them, so
 * `array_contains*` answered here equals the scan. */
#include "util/json.h"
#include "sindex_int.h"

typedef struct elem_acc {
    vdb_type elem;
    uint32_t row;
    vdb_buf keys;  /* numeric: vdb_skey per element */
    vdb_buf rows;  /* uint32_t per element */
    vdb_buf blob;  /* varchar: the strings back to back */
    vdb_buf lens;  /* varchar: size_t per element */
    vdb_buf str;   /* varchar: the element being read */
} elem_acc;

static bool is_real(vdb_type t) { return t == VDB_TYPE_FLOAT || t == VDB_TYPE_DOUBLE; }

static vdb_status take_elem(void *arg, const vdb_json_scalar *v)
{
    elem_acc *a = arg;
    if (a->elem == VDB_TYPE_VARCHAR) {
        if (v->len)
            vdb_buf_put(&a->blob, v->s, v->len);
        vdb_buf_put(&a->lens, &v->len, sizeof v->len);
    } else {
        vdb_skey k;
        if (is_real(a->elem))
            k.d = v->d == 0 ? 0.0 : v->d; /* -0.0 equals 0.0: one value */
        else
            k.i = v->i;
        vdb_buf_put(&a->keys, &k, sizeof k);
    }
    vdb_buf_put(&a->rows, &a->row, sizeof a->row);
    return a->keys.oom || a->rows.oom || a->blob.oom || a->lens.oom
               ? vdb_set_errmsg(VDB_ENOMEM, "scalar index: out of memory reading arrays")
               : VDB_OK;
}

static vdb_status strings_of(vdb_scalar_index *ix, elem_acc *a)
{
    size_t n = a->rows.len / sizeof(uint32_t), at = 0;
    vdb_sstr *ents = vdb_malloc((n ? n : 1) * sizeof *ents);
    if (!ents)
        return vdb_set_errmsg(VDB_ENOMEM, "scalar index: out of memory for %zu elements", n);
    const char *blob = (const char *)a->blob.p;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        uint32_t row;
        memcpy(&len, a->lens.p + i * sizeof len, sizeof len);
        memcpy(&row, a->rows.p + i * sizeof row, sizeof row);
        ents[i] = (vdb_sstr){vdb_sindex_str_head(blob + at, len), blob + at, len, row};
        at += len;
    }
    vdb_status st = vdb_sindex_strings_table(ix, ents, n);
    vdb_free(ents);
    return st;
}

vdb_status vdb_sindex_elems_build(vdb_scalar_index *ix, const vdb_column *col)
{
    elem_acc a = {.elem = ix->elem};
    vdb_status st = VDB_OK;
    ix->is_float = is_real(ix->elem);
    for (size_t r = 0; r < col->rows && st == VDB_OK; r++) {
        if (vdb_column_is_null(col, r))
            continue;
        size_t len;
        const char *s = vdb_column_var(col, r, &len);
        a.row = (uint32_t)r;
        st = vdb_json_array_each(s, len, ix->elem, &a.str, take_elem, &a);
        if (st != VDB_OK && st != VDB_ENOMEM)
            st = vdb_set_errmsg(VDB_ECORRUPT, "scalar index: row %zu of the ARRAY column: %s",
                                r, vdb_err_get());
    }
    if (st != VDB_OK)
        goto done;
    if (ix->elem == VDB_TYPE_VARCHAR) {
        st = strings_of(ix, &a);
        goto done;
    }
    /* the buffers become the index's arrays */
    ix->n = a.rows.len / sizeof(uint32_t);
    ix->keys = (vdb_skey *)a.keys.p;
    ix->rows = (uint32_t *)a.rows.p;
    a.keys = (vdb_buf){0};
    a.rows = (vdb_buf){0};
    if (!ix->keys && (ix->keys = vdb_malloc(sizeof *ix->keys)) == NULL)
        st = vdb_set_errmsg(VDB_ENOMEM, "scalar index: out of memory");
    if (st == VDB_OK && !ix->rows && (ix->rows = vdb_malloc(sizeof *ix->rows)) == NULL)
        st = vdb_set_errmsg(VDB_ENOMEM, "scalar index: out of memory");
    if (st == VDB_OK)
        st = vdb_sindex_sort_pairs(ix->keys, ix->rows, ix->n, ix->is_float);
    if (st == VDB_OK)
        st = vdb_sindex_group_keys(ix);
done:
    vdb_buf_free(&a.keys);
    vdb_buf_free(&a.rows);
    vdb_buf_free(&a.blob);
    vdb_buf_free(&a.lens);
    vdb_buf_free(&a.str);
    return st;
}

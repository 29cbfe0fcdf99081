/* Columnar batches as the caller builds them: named columns copied into column storage. */
#include <math.h>

#include "core/batch.h"

vdb_status vdb_batch_new(vdb_batch **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(out, "vdb_batch_new: out is NULL");
    *out = vdb_calloc(1, sizeof **out);
    return *out ? VDB_OK : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
}

void vdb_batch_free(vdb_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->ncols; i++) {
        vdb_free(b->cols[i].name);
        vdb_column_free(&b->cols[i].col);
    }
    vdb_free(b->cols);
    vdb_free(b);
}

size_t vdb_batch_rows(const vdb_batch *b) { return b ? b->rows : 0; }

static bool known_type(vdb_type t)
{
    switch (t) {
    case VDB_TYPE_BOOL: case VDB_TYPE_INT8: case VDB_TYPE_INT16: case VDB_TYPE_INT32:
    case VDB_TYPE_INT64: case VDB_TYPE_FLOAT: case VDB_TYPE_DOUBLE: case VDB_TYPE_VARCHAR:
    case VDB_TYPE_ARRAY: case VDB_TYPE_JSON: case VDB_TYPE_FLOAT_VECTOR:
    case VDB_TYPE_SPARSE_FLOAT_VECTOR:
    case VDB_TYPE_FLOAT16_VECTOR: case VDB_TYPE_BFLOAT16_VECTOR: case VDB_TYPE_INT8_VECTOR:
    case VDB_TYPE_BINARY_VECTOR:
        return true;
    default:
        return false;
    }
}

/* A caller's sparse row as a stored one (n indices, then n values); its values are checked
 * at insert (convert.c), with the other columns. */
static vdb_status push_sparse(vdb_column *col, const char *field, size_t r,
                              const vdb_sparse_row *row, bool ok)
{
    if (!ok)
        return vdb_column_push(col, NULL, 0, false);
    if (row->count && (!row->indices || !row->values))
        return vdb_set_errmsg(VDB_EINVAL, "column '%s' row %zu: %u pairs but indices or values "
                              "is NULL", field, r, row->count);
    if (row->count > VDB_MAX_SPARSE_NNZ)
        return vdb_set_errmsg(VDB_EINVAL, "column '%s' row %zu: %u pairs, at most %u", field, r,
                              row->count, VDB_MAX_SPARSE_NNZ);
    size_t n = row->count, len = n * 8;
    uint8_t *tmp = vdb_malloc(len + 1);
    if (!tmp)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    if (n) {
        memcpy(tmp, row->indices, n * 4);
        memcpy(tmp + n * 4, row->values, n * 4);
    }
    vdb_status st = vdb_column_push(col, tmp, len, true);
    vdb_free(tmp);
    return st;
}

vdb_status vdb_batch_add_column(vdb_batch *b, const char *field, vdb_type type, const void *data,
                                const uint8_t *valid, size_t rows, uint32_t dim)
{
    vdb_err_clear();
    VDB_CHECK_ARG(b && field && data, "vdb_batch_add_column: batch, field or data is NULL");
    VDB_CHECK_ARG(*field && strlen(field) <= VDB_MAX_NAME, "column name must be 1..255 bytes");
    VDB_CHECK_ARG(known_type(type), "column '%s': unknown type %d", field, (int)type);
    VDB_CHECK_ARG(rows > 0, "column '%s' has no rows (an empty batch cannot be inserted)",
                  field);
    VDB_CHECK_ARG(rows <= VDB_MAX_BATCH_ROWS, "column '%s': at most %u rows per batch", field,
                  VDB_MAX_BATCH_ROWS);
    VDB_CHECK_ARG(!vdb_type_is_vector(type) || (dim >= 1 && dim <= VDB_MAX_DIM),
                  "column '%s': dim must be 1..%d, got %u", field, VDB_MAX_DIM, dim);
    VDB_CHECK_ARG(type != VDB_TYPE_BINARY_VECTOR || dim % 8 == 0,
                  "column '%s': a BINARY_VECTOR's dim (bits) must be a multiple of 8, got %u",
                  field, dim);
    VDB_CHECK_ARG(b->ncols == 0 || rows == b->rows,
                  "column '%s' has %zu rows but the batch's columns have %zu", field, rows,
                  b->rows);
    for (size_t i = 0; i < b->ncols; i++)
        if (!strcmp(b->cols[i].name, field))
            return vdb_set_errmsg(VDB_EEXIST, "the batch already has a column '%s'", field);
    if (b->ncols == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8;
        vdb_batch_col *cols = vdb_realloc(b->cols, cap * sizeof *cols);
        if (!cols)
            return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        b->cols = cols;
        b->cap = cap;
    }
    vdb_batch_col *bc = &b->cols[b->ncols];
    memset(bc, 0, sizeof *bc);
    bc->name = vdb_strdup(field);
    vdb_column_init(&bc->col, type, vdb_type_is_vector(type) ? dim : 0, valid != NULL);
    vdb_status st = bc->name ? VDB_OK : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    size_t width = vdb_type_width(type, bc->col.dim);
    for (size_t r = 0; r < rows && st == VDB_OK; r++) {
        bool ok = !valid || valid[r];
        if (type == VDB_TYPE_SPARSE_FLOAT_VECTOR) {
            st = push_sparse(&bc->col, field, r, &((const vdb_sparse_row *)data)[r], ok);
        } else if (vdb_type_is_var(type)) {
            const char *s = ((const char *const *)data)[r];
            if (ok && !s)
                st = vdb_set_errmsg(VDB_EINVAL, "column '%s' row %zu: NULL string (mark it "
                                    "invalid instead)", field, r);
            else
                st = vdb_column_push(&bc->col, ok ? s : "", ok ? strlen(s) : 0, ok);
        } else {
            st = vdb_column_push(&bc->col, (const uint8_t *)data + r * width, width, ok);
        }
    }
    if (st != VDB_OK) {
        vdb_free(bc->name);
        vdb_column_free(&bc->col);
        return st;
    }
    b->rows = rows;
    b->ncols++;
    return VDB_OK;
}

/* Columns in memory: growth, row appends, truncation, and the plain encoding with full
 * bounds checks on decode. */
#include "seg_cache.h"
#include "segment.h"

size_t vdb_type_width(vdb_type type, uint32_t dim)
{
    switch (type) {
    case VDB_TYPE_BOOL:
    case VDB_TYPE_INT8: return 1;
    case VDB_TYPE_INT16: return 2;
    case VDB_TYPE_INT32:
    case VDB_TYPE_FLOAT: return 4;
    case VDB_TYPE_INT64:
    case VDB_TYPE_DOUBLE: return 8;
    case VDB_TYPE_FLOAT_VECTOR:
    case VDB_TYPE_FLOAT16_VECTOR:
    case VDB_TYPE_BFLOAT16_VECTOR:
    case VDB_TYPE_INT8_VECTOR:
    case VDB_TYPE_BINARY_VECTOR: return vdb_vector_bytes(type, dim);
    default: return 0;
    }
}

static bool type_known(vdb_type t)
{
    return vdb_type_width(t, 1) > 0 || vdb_type_is_var(t);
}

void vdb_column_init(vdb_column *c, vdb_type type, uint32_t dim, bool nullable)
{
    memset(c, 0, sizeof *c);
    c->type = type;
    c->dim = dim;
    c->nullable = nullable;
}

void vdb_column_free(vdb_column *c)
{
    if (c->map) { /* data, or offsets and bytes, point into the mapped file */
        vdb_seg_map_release(c->map);
    } else {
        vdb_free(c->data);
        vdb_free(c->offsets);
        vdb_free(c->bytes);
    }
    vdb_free(c->valid);
    vdb_column_init(c, c->type, c->dim, c->nullable);
}

static bool mul_ok(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* Grows every array so that `rows` more rows and `nbytes` more var bytes fit. On failure the
 * arrays that did grow stay grown (harmless: cap only moves once all of them fit). */
static vdb_status column_reserve(vdb_column *c, size_t rows, size_t nbytes)
{
    size_t need;
    if (__builtin_add_overflow(c->rows, rows, &need))
        return vdb_set_errmsg(VDB_ENOMEM, "column: row count overflows");
    if (need > c->cap || (vdb_type_is_var(c->type) && !c->offsets)) {
        size_t cap = c->cap ? c->cap : 16;
        while (cap < need) {
            if (cap > SIZE_MAX / 2)
                return vdb_set_errmsg(VDB_ENOMEM, "column: row count overflows");
            cap *= 2;
        }
        size_t width = vdb_type_width(c->type, c->dim), sz;
        if (width) {
            if (!mul_ok(cap, width, &sz))
                return vdb_set_errmsg(VDB_ENOMEM, "column: %zu rows overflow", cap);
            uint8_t *p = vdb_realloc(c->data, sz);
            if (!p)
                return vdb_set_errmsg(VDB_ENOMEM, "column: out of memory for %zu rows", cap);
            c->data = p;
        }
        if (c->nullable) {
            uint8_t *p = vdb_realloc(c->valid, cap);
            if (!p)
                return vdb_set_errmsg(VDB_ENOMEM, "column: out of memory for %zu rows", cap);
            c->valid = p;
        }
        if (vdb_type_is_var(c->type)) {
            if (!mul_ok(cap + 1, sizeof(uint64_t), &sz))
                return vdb_set_errmsg(VDB_ENOMEM, "column: %zu rows overflow", cap);
            bool fresh = c->offsets == NULL;
            uint64_t *p = vdb_realloc(c->offsets, sz);
            if (!p)
                return vdb_set_errmsg(VDB_ENOMEM, "column: out of memory for %zu rows", cap);
            c->offsets = p;
            if (fresh)
                c->offsets[0] = 0;
        }
        c->cap = cap;
    }
    if (nbytes) {
        if (__builtin_add_overflow(c->nbytes, nbytes, &need))
            return vdb_set_errmsg(VDB_ENOMEM, "column: byte count overflows");
        if (need > c->bytes_cap) {
            size_t cap = c->bytes_cap ? c->bytes_cap : 256;
            while (cap < need) {
                if (cap > SIZE_MAX / 2)
                    return vdb_set_errmsg(VDB_ENOMEM, "column: byte count overflows");
                cap *= 2;
            }
            char *p = vdb_realloc(c->bytes, cap);
            if (!p)
                return vdb_set_errmsg(VDB_ENOMEM, "column: out of memory for %zu bytes", cap);
            c->bytes = p;
            c->bytes_cap = cap;
        }
    }
    return VDB_OK;
}

/* Writes one row into reserved space. */
static void put_row(vdb_column *c, const void *val, size_t len, bool valid)
{
    size_t r = c->rows;
    if (c->nullable)
        c->valid[r] = valid ? 1 : 0;
    if (vdb_type_is_var(c->type)) {
        if (!valid || !val)
            len = 0;
        if (len)
            memcpy(c->bytes + c->nbytes, val, len);
        c->nbytes += len;
        c->offsets[r + 1] = c->nbytes;
    } else {
        size_t w = vdb_type_width(c->type, c->dim);
        if (valid && val)
            memcpy(c->data + r * w, val, w);
        else
            memset(c->data + r * w, 0, w);
    }
    c->rows = r + 1;
}

vdb_status vdb_column_push(vdb_column *c, const void *val, size_t len, bool valid)
{
    if (!type_known(c->type))
        return vdb_set_errmsg(VDB_EINVAL, "column: unknown type %d", (int)c->type);
    if (!valid && !c->nullable)
        return vdb_set_errmsg(VDB_EINVAL, "column: NULL in a column that is not nullable");
    bool var = vdb_type_is_var(c->type);
    if (valid && !val && (!var || len))
        return vdb_set_errmsg(VDB_EINVAL, "column: NULL value pointer for a present row");
    vdb_status st = column_reserve(c, 1, var && valid ? len : 0);
    if (st)
        return st;
    put_row(c, val, len, valid);
    return VDB_OK;
}

static vdb_status check_same(const vdb_column *dst, const vdb_column *src)
{
    if (dst->type != src->type)
        return vdb_set_errmsg(VDB_EINVAL, "column: appending %s rows to a %s column",
                              vdb_type_name(src->type), vdb_type_name(dst->type));
    if (vdb_type_is_vector(dst->type) && dst->dim != src->dim)
        return vdb_set_errmsg(VDB_EINVAL, "column: appending dim %u vectors to a dim %u column",
                              src->dim, dst->dim);
    if (!type_known(dst->type))
        return vdb_set_errmsg(VDB_EINVAL, "column: unknown type %d", (int)dst->type);
    return VDB_OK;
}

static const void *src_row(const vdb_column *src, size_t row, size_t *len)
{
    if (vdb_type_is_var(src->type))
        return vdb_column_var(src, row, len);
    *len = 0;
    return vdb_column_at(src, row);
}

/* Shared by append and append_rows: idx == NULL means rows from, from+1, ... */
/* Checks rows of src against dst and makes room for them (appending them then cannot fail). */
static vdb_status reserve_impl(vdb_column *dst, const vdb_column *src, size_t from,
                               const uint32_t *idx, size_t n)
{
    vdb_status st = check_same(dst, src);
    if (st)
        return st;
    if (!idx && (from > src->rows || n > src->rows - from))
        return vdb_set_errmsg(VDB_EINVAL, "column: rows [%zu, +%zu) past the end (%zu rows)",
                              from, n, src->rows);
    size_t nbytes = 0;
    for (size_t i = 0; i < n; i++) {
        size_t r = idx ? idx[i] : from + i;
        if (idx && r >= src->rows)
            return vdb_set_errmsg(VDB_EINVAL, "column: row %zu past the end (%zu rows)", r,
                                  src->rows);
        if (!dst->nullable && vdb_column_is_null(src, r))
            return vdb_set_errmsg(VDB_EINVAL,
                                  "column: row %zu is NULL but the column is not nullable", r);
        if (vdb_type_is_var(src->type) && !vdb_column_is_null(src, r))
            nbytes += (size_t)(src->offsets[r + 1] - src->offsets[r]);
    }
    return column_reserve(dst, n, nbytes);
}

static vdb_status append_impl(vdb_column *dst, const vdb_column *src, size_t from,
                              const uint32_t *idx, size_t n)
{
    vdb_status st = reserve_impl(dst, src, from, idx, n);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++) {
        size_t r = idx ? idx[i] : from + i, len;
        const void *v = src_row(src, r, &len);
        put_row(dst, v, len, !vdb_column_is_null(src, r));
    }
    return VDB_OK;
}

vdb_status vdb_column_reserve_for(vdb_column *dst, const vdb_column *src, size_t from, size_t n)
{
    return reserve_impl(dst, src, from, NULL, n);
}

vdb_status vdb_column_append(vdb_column *dst, const vdb_column *src, size_t from, size_t n)
{
    return append_impl(dst, src, from, NULL, n);
}

vdb_status vdb_column_append_rows(vdb_column *dst, const vdb_column *src, const uint32_t *idx,
                                  size_t n)
{
    return append_impl(dst, src, 0, idx, n);
}

void vdb_column_truncate(vdb_column *c, size_t rows)
{
    if (rows >= c->rows)
        return;
    c->rows = rows;
    if (vdb_type_is_var(c->type))
        c->nbytes = (size_t)c->offsets[rows];
}

size_t vdb_column_memory(const vdb_column *c)
{
    size_t m = (c->map ? 0 : c->cap * vdb_type_width(c->type, c->dim)) + c->bytes_cap;
    if (c->nullable)
        m += c->cap;
    if (c->offsets && !c->map)
        m += (c->cap + 1) * sizeof(uint64_t);
    return m;
}

/* ---- plain encoding --------------------------------------------------------------------
 * u32 type, u32 dim, u8 nullable, u64 rows, [rows valid bytes], then fixed: rows*width
 * bytes; var: rows+1 u64 offsets and offsets[rows] bytes. */

void vdb_column_encode(const vdb_column *c, vdb_buf *out)
{
    vdb_buf_u32(out, (uint32_t)c->type);
    vdb_buf_u32(out, c->dim);
    vdb_buf_u8(out, c->nullable ? 1 : 0);
    vdb_buf_u64(out, c->rows);
    if (c->nullable)
        vdb_buf_put(out, c->valid, c->rows);
    if (vdb_type_is_var(c->type)) {
        if (!c->offsets) {
            vdb_buf_u64(out, 0); /* never pushed to: the single offset 0 */
            return;
        }
        vdb_buf_put(out, c->offsets, (c->rows + 1) * sizeof(uint64_t));
        vdb_buf_put(out, c->bytes, (size_t)c->offsets[c->rows]);
    } else {
        vdb_buf_put(out, c->data, c->rows * vdb_type_width(c->type, c->dim));
    }
}

vdb_status vdb_column_check_offsets(const void *offsets, size_t rows, const uint8_t *valid,
                                    vdb_type type, uint64_t *nbytes)
{
    const uint8_t *offs = offsets;
    uint64_t prev = vdb_get_u64(offs);
    if (prev != 0)
        return vdb_set_errmsg(VDB_ECORRUPT, "column: first offset is %llu, not 0",
                              (unsigned long long)prev);
    for (size_t i = 1; i <= rows; i++) {
        uint64_t o = vdb_get_u64(offs + i * 8);
        if (o < prev)
            return vdb_set_errmsg(VDB_ECORRUPT, "column: offsets decrease at row %zu", i - 1);
        if (valid && !valid[i - 1] && o != prev)
            return vdb_set_errmsg(VDB_ECORRUPT, "column: NULL row %zu has bytes", i - 1);
        if (type == VDB_TYPE_SPARSE_FLOAT_VECTOR && (o - prev) % 8)
            return vdb_set_errmsg(VDB_ECORRUPT, "column: sparse row %zu has %llu bytes, not "
                                  "a multiple of 8", i - 1, (unsigned long long)(o - prev));
        prev = o;
    }
    *nbytes = prev;
    return VDB_OK;
}

vdb_status vdb_column_decode(vdb_rd *r, vdb_column *out)
{
    vdb_status st = VDB_OK;
    uint32_t type = vdb_rd_u32(r);
    uint32_t dim = vdb_rd_u32(r);
    uint8_t nullable = vdb_rd_u8(r);
    uint64_t rows = vdb_rd_u64(r);
    vdb_column_init(out, (vdb_type)type, dim, nullable == 1);
    if (r->err)
        return vdb_set_errmsg(VDB_ECORRUPT, "column: truncated header");
    if (!type_known((vdb_type)type))
        return vdb_set_errmsg(VDB_ECORRUPT, "column: unknown type %u", type);
    if (nullable > 1)
        return vdb_set_errmsg(VDB_ECORRUPT, "column: bad nullable flag %u", nullable);
    if (vdb_type_is_vector((vdb_type)type) && (dim == 0 || dim > (1u << 24)))
        return vdb_set_errmsg(VDB_ECORRUPT, "column: bad vector dim %u", dim);
    size_t left = r->len - r->off;
    bool var = vdb_type_is_var((vdb_type)type);
    size_t width = vdb_type_width((vdb_type)type, dim);
    /* Every row takes at least one byte of input (valid byte, data or offset), so this
     * bounds the allocation by the input size before anything is allocated. */
    if (rows > left || (rows && !var && rows > left / width) ||
        (var && rows >= left / sizeof(uint64_t)))
        return vdb_set_errmsg(VDB_ECORRUPT, "column: %llu rows do not fit in %zu bytes",
                              (unsigned long long)rows, left);
    const uint8_t *valid = NULL;
    if (nullable) {
        valid = vdb_rd_take(r, (size_t)rows);
        if (!valid)
            return vdb_set_errmsg(VDB_ECORRUPT, "column: truncated valid bytes");
        for (size_t i = 0; i < rows; i++)
            if (valid[i] > 1)
                return vdb_set_errmsg(VDB_ECORRUPT, "column: bad valid byte %u at row %zu",
                                      valid[i], i);
    }
    const uint8_t *data = NULL, *offs = NULL;
    size_t nbytes = 0;
    if (var) {
        offs = vdb_rd_take(r, ((size_t)rows + 1) * sizeof(uint64_t));
        if (!offs)
            return vdb_set_errmsg(VDB_ECORRUPT, "column: truncated offsets");
        uint64_t prev;
        st = vdb_column_check_offsets(offs, (size_t)rows, valid, (vdb_type)type, &prev);
        if (st)
            return st;
        if (prev > r->len - r->off)
            return vdb_set_errmsg(VDB_ECORRUPT, "column: %llu bytes past the end of the input",
                                  (unsigned long long)prev);
        nbytes = (size_t)prev;
        data = vdb_rd_take(r, nbytes);
        if (!data && nbytes)
            return vdb_set_errmsg(VDB_ECORRUPT, "column: truncated bytes");
    } else {
        data = vdb_rd_take(r, (size_t)rows * width);
        if (!data)
            return vdb_set_errmsg(VDB_ECORRUPT, "column: truncated values");
        if (type == VDB_TYPE_BOOL)
            for (size_t i = 0; i < rows; i++)
                if (data[i] > 1)
                    return vdb_set_errmsg(VDB_ECORRUPT, "column: bad BOOL byte %u at row %zu",
                                          data[i], i);
    }
    st = column_reserve(out, (size_t)rows, nbytes);
    if (st)
        goto fail;
    if (nullable && rows)
        memcpy(out->valid, valid, (size_t)rows);
    if (var) {
        memcpy(out->offsets, offs, ((size_t)rows + 1) * sizeof(uint64_t));
        if (nbytes)
            memcpy(out->bytes, data, nbytes);
        out->nbytes = nbytes;
    } else if (rows) {
        memcpy(out->data, data, (size_t)rows * width);
    }
    out->rows = (size_t)rows;
    return VDB_OK;
fail:
    vdb_column_free(out);
    return st;
}

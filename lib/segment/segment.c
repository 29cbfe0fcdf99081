/* A segment in memory: its columns, row timestamps, pk index and delete records, and the
 * MVCC reads over them (visibility bitsets, point lookups). */
#include "seg_cache.h"
#include "segment_int.h"

static bool layout_type_ok(vdb_type t, uint32_t dim)
{
    if (vdb_type_is_vector(t))
        return dim > 0;
    return vdb_type_width(t, dim) > 0 || vdb_type_is_var(t);
}

vdb_status vdb_segment_new(uint64_t id, uint64_t partition_id, uint32_t shard,
                           const vdb_segment_layout *layout, vdb_segment **out)
{
    *out = NULL;
    if (!layout || layout->ncols == 0 || !layout->types || layout->pk_col >= layout->ncols)
        return vdb_set_errmsg(VDB_EINVAL, "segment %llu: bad layout", (unsigned long long)id);
    vdb_type pkt = layout->types[layout->pk_col];
    if (pkt != VDB_TYPE_INT64 && pkt != VDB_TYPE_VARCHAR)
        return vdb_set_errmsg(VDB_EINVAL, "segment %llu: primary key of type %s",
                              (unsigned long long)id, vdb_type_name(pkt));
    if (layout->nullable && layout->nullable[layout->pk_col])
        return vdb_set_errmsg(VDB_EINVAL, "segment %llu: nullable primary key",
                              (unsigned long long)id);
    for (size_t i = 0; i < layout->ncols; i++) {
        uint32_t dim = layout->dims ? layout->dims[i] : 0;
        if (!layout_type_ok(layout->types[i], dim))
            return vdb_set_errmsg(VDB_EINVAL, "segment %llu: column %zu has type %s dim %u",
                                  (unsigned long long)id, i, vdb_type_name(layout->types[i]),
                                  dim);
    }
    vdb_segment *s = vdb_calloc(1, sizeof *s);
    if (!s)
        return vdb_set_errmsg(VDB_ENOMEM, "segment: out of memory");
    s->cols = vdb_calloc(layout->ncols, sizeof *s->cols);
    if (!s->cols) {
        vdb_free(s);
        return vdb_set_errmsg(VDB_ENOMEM, "segment: out of memory");
    }
    s->refs = 1;
    s->id = id;
    s->partition_id = partition_id;
    s->shard = shard;
    s->ncols = layout->ncols;
    s->pk_col = layout->pk_col;
    for (size_t i = 0; i < layout->ncols; i++)
        vdb_column_init(&s->cols[i], layout->types[i], layout->dims ? layout->dims[i] : 0,
                        layout->nullable ? layout->nullable[i] : false);
    *out = s;
    return VDB_OK;
}

void vdb_segment_ref(vdb_segment *s) { __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED); }

/* Frees an attachment, then the mapped file it read. */
static void attachment_drop(vdb_seg_attachment *a)
{
    if (a->ptr && a->free_fn)
        a->free_fn(a->ptr);
    vdb_seg_map_release(a->map);
    *a = (vdb_seg_attachment){0};
}

void vdb_segment_free(vdb_segment *s)
{
    if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    for (size_t i = 0; i < s->ncols; i++)
        vdb_column_free(&s->cols[i]);
    vdb_free(s->cols);
    vdb_free(s->ts);
    vdb_pk_index_free(&s->idx);
    vdb_bloom_free(&s->bloom);
    for (size_t i = 0; i < s->ndels; i++)
        vdb_free((char *)s->dels[i].pk.s);
    vdb_free(s->dels);
    vdb_free(s->del_next);
    vdb_seg_files_free(s->files, s->nfiles);
    vdb_seg_files_free(s->deltas, s->ndeltas);
    for (size_t i = 0; s->att && i < s->ncols; i++)
        attachment_drop(&s->att[i]);
    vdb_free(s->att);
    vdb_free(s);
}

void vdb_segment_set_attachment_mapped(vdb_segment *s, size_t col, void *ptr,
                                       void (*free_fn)(void *), vdb_seg_map *map)
{
    if (col >= s->ncols)
        return;
    if (!s->att && !(s->att = vdb_calloc(s->ncols, sizeof *s->att))) {
        vdb_seg_attachment a = {ptr, free_fn, map};
        attachment_drop(&a); /* cannot keep it: the caller falls back to scanning */
        return;
    }
    attachment_drop(&s->att[col]);
    s->att[col] = (vdb_seg_attachment){ptr, free_fn, map};
}

void vdb_segment_set_attachment(vdb_segment *s, size_t col, void *ptr, void (*free_fn)(void *))
{
    vdb_segment_set_attachment_mapped(s, col, ptr, free_fn, NULL);
}

void *vdb_segment_attachment(const vdb_segment *s, size_t col)
{
    return s->att && col < s->ncols ? s->att[col].ptr : NULL;
}

void vdb_segment_get_info(const vdb_segment *s, vdb_segment_info *out)
{
    memset(out, 0, sizeof *out);
    out->id = s->id;
    out->partition_id = s->partition_id;
    out->shard = s->shard;
    out->sealed = s->sealed;
    out->rows = s->rows;
    out->min_ts = s->min_ts;
    out->max_ts = s->max_ts;
    out->end_pos = s->end_pos;
    out->deletes = s->ndels;
    out->persisted_deletes = s->persisted;
    out->memory = vdb_segment_memory(s);
}

uint64_t vdb_segment_id(const vdb_segment *s) { return s->id; }
uint32_t vdb_segment_shard(const vdb_segment *s) { return s->shard; }
uint64_t vdb_segment_partition(const vdb_segment *s) { return s->partition_id; }

size_t vdb_segment_memory(const vdb_segment *s)
{
    size_t m = sizeof *s + s->ncols * sizeof(vdb_column);
    for (size_t i = 0; i < s->ncols; i++)
        m += vdb_column_memory(&s->cols[i]);
    m += s->ts_cap * sizeof(uint64_t) + vdb_pk_index_memory(&s->idx);
    m += (size_t)(s->bloom.nbits / 8);
    m += s->dels_cap * (sizeof(vdb_delete_rec) + sizeof(uint32_t)) + s->del_bytes;
    return m;
}

void vdb_segment_set_end_pos(vdb_segment *s, uint64_t pos) { s->end_pos = pos; }

const vdb_column *vdb_segment_column(const vdb_segment *s, size_t col)
{
    return col < s->ncols ? &s->cols[col] : NULL;
}

vdb_status vdb_columns_widen(const vdb_segment_layout *L, vdb_column *cols, size_t n,
                             size_t rows)
{
    if (n > L->ncols || n == 0)
        return vdb_set_errmsg(VDB_ECORRUPT, "%zu columns where the layout has %zu", n,
                              L->ncols);
    if (n == L->ncols)
        return VDB_OK;
    size_t keep = L->meta_last ? n - 1 : n; /* columns that stay where they are */
    vdb_column *made = vdb_calloc(L->ncols - n, sizeof *made);
    if (!made)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    vdb_status st = VDB_OK;
    size_t done = 0;
    for (; done < L->ncols - n && st == VDB_OK; done++) {
        size_t j = keep + done;
        const vdb_column *f = L->fill ? &L->fill[j] : NULL;
        vdb_column_init(&made[done], L->types[j], L->dims ? L->dims[j] : 0,
                        L->nullable ? L->nullable[j] : false);
        if (!f || f->rows != 1 || f->type != L->types[j]) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "column %zu is missing and has no value for "
                                "older rows", j);
            break;
        }
        for (size_t r = 0; r < rows && st == VDB_OK; r++)
            st = vdb_column_append(&made[done], f, 0, 1);
    }
    if (st != VDB_OK) {
        for (size_t i = 0; i <= done && i < L->ncols - n; i++)
            vdb_column_free(&made[i]);
        vdb_free(made);
        return st;
    }
    if (L->meta_last)
        cols[L->ncols - 1] = cols[n - 1];
    for (size_t i = 0; i < L->ncols - n; i++)
        cols[keep + i] = made[i];
    vdb_free(made);
    return VDB_OK;
}

vdb_status vdb_segment_widen(vdb_segment *s, const vdb_segment_layout *L)
{
    if (s->ncols >= L->ncols)
        return VDB_OK;
    vdb_column *cols = vdb_calloc(L->ncols, sizeof *cols);
    vdb_seg_attachment *att = s->att ? vdb_calloc(L->ncols, sizeof *att) : NULL;
    if (!cols || (s->att && !att)) {
        vdb_free(cols);
        vdb_free(att);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    memcpy(cols, s->cols, s->ncols * sizeof *cols);
    vdb_status st = vdb_columns_widen(L, cols, s->ncols, s->rows);
    if (st != VDB_OK) {
        vdb_free(cols);
        vdb_free(att);
        return st;
    }
    if (att) { /* the attachments follow their columns */
        size_t keep = L->meta_last ? s->ncols - 1 : s->ncols;
        memcpy(att, s->att, keep * sizeof *att);
        if (L->meta_last)
            att[L->ncols - 1] = s->att[s->ncols - 1];
        vdb_free(s->att);
        s->att = att;
    }
    vdb_free(s->cols);
    s->cols = cols;
    s->ncols = L->ncols;
    return VDB_OK;
}

const uint64_t *vdb_segment_timestamps(const vdb_segment *s) { return s->ts; }
size_t vdb_segment_rows(const vdb_segment *s) { return s->rows; }

static vdb_status check_input(const vdb_segment *s, const vdb_column *cols, size_t from,
                              size_t rows)
{
    for (size_t i = 0; i < s->ncols; i++) {
        const vdb_column *c = &cols[i], *d = &s->cols[i];
        if (c->type != d->type || (vdb_type_is_vector(d->type) && c->dim != d->dim))
            return vdb_set_errmsg(VDB_EINVAL, "segment %llu: column %zu is %s dim %u, "
                                  "expected %s dim %u", (unsigned long long)s->id, i,
                                  vdb_type_name(c->type), c->dim, vdb_type_name(d->type),
                                  d->dim);
        if (from > c->rows || rows > c->rows - from)
            return vdb_set_errmsg(VDB_EINVAL, "segment %llu: column %zu has %zu rows, "
                                  "need %zu", (unsigned long long)s->id, i, c->rows,
                                  from + rows);
    }
    const vdb_column *pk = &cols[s->pk_col];
    for (size_t r = from; pk->nullable && r < from + rows; r++)
        if (!pk->valid[r])
            return vdb_set_errmsg(VDB_EINVAL, "segment %llu: NULL primary key at row %zu",
                                  (unsigned long long)s->id, r);
    return VDB_OK;
}

vdb_status vdb_segment_reserve(vdb_segment *s, const vdb_column *cols, size_t from, size_t rows)
{
    if (s->sealed)
        return vdb_set_errmsg(VDB_EINVAL, "segment %llu is sealed", (unsigned long long)s->id);
    vdb_status st = check_input(s, cols, from, rows);
    size_t total = s->rows + rows;
    if (st == VDB_OK)
        st = vdb_pk_index_reserve(&s->idx, total);
    if (st == VDB_OK && total > s->ts_cap) {
        size_t cap = s->ts_cap ? s->ts_cap : 64;
        while (cap < total)
            cap *= 2;
        uint64_t *p = vdb_realloc(s->ts, cap * sizeof *p);
        if (!p)
            return vdb_set_errmsg(VDB_ENOMEM, "segment %llu: out of memory for %zu rows",
                                  (unsigned long long)s->id, cap);
        s->ts = p;
        s->ts_cap = cap;
    }
    for (size_t i = 0; i < s->ncols && st == VDB_OK; i++)
        st = vdb_column_reserve_for(&s->cols[i], &cols[i], from, rows);
    return st;
}

vdb_status vdb_segment_append(vdb_segment *s, const vdb_column *cols, size_t from, size_t rows,
                              uint64_t ts)
{
    if (s->sealed)
        return vdb_set_errmsg(VDB_EINVAL, "segment %llu is sealed", (unsigned long long)s->id);
    if (rows == 0)
        return VDB_OK;
    vdb_status st = check_input(s, cols, from, rows);
    if (st)
        return st;
    size_t total = s->rows + rows;
    /* Everything that can fail comes before the first row lands anywhere. */
    st = vdb_pk_index_reserve(&s->idx, total);
    if (st)
        return st;
    if (total > s->ts_cap) {
        size_t cap = s->ts_cap ? s->ts_cap : 64;
        while (cap < total)
            cap *= 2;
        uint64_t *p = vdb_realloc(s->ts, cap * sizeof *p);
        if (!p)
            return vdb_set_errmsg(VDB_ENOMEM, "segment %llu: out of memory for %zu rows",
                                  (unsigned long long)s->id, cap);
        s->ts = p;
        s->ts_cap = cap;
    }
    size_t done = 0;
    for (; done < s->ncols; done++) {
        st = vdb_column_append(&s->cols[done], &cols[done], from, rows);
        if (st)
            goto fail;
    }
    for (size_t r = s->rows; r < total; r++) {
        s->ts[r] = ts;
        vdb_pk_index_add(&s->idx, &s->cols[s->pk_col]);
    }
    if (s->rows == 0 || ts < s->min_ts)
        s->min_ts = ts;
    if (s->rows == 0 || ts > s->max_ts)
        s->max_ts = ts;
    s->rows = total;
    return VDB_OK;
fail:
    for (size_t i = 0; i < done; i++)
        vdb_column_truncate(&s->cols[i], s->rows);
    return st;
}

vdb_status vdb_segment_add_delete(vdb_segment *s, vdb_pk_slot *slot, vdb_pk pk, uint64_t ts)
{
    for (uint32_t d = slot ? slot->del : VDB_ROW_NONE; d != VDB_ROW_NONE; d = s->del_next[d])
        if (s->dels[d].ts == ts)
            return VDB_OK;
    if (s->ndels + 1 >= VDB_ROW_NONE)
        return vdb_set_errmsg(VDB_ERANGE, "segment %llu: too many delete records",
                              (unsigned long long)s->id);
    if (s->ndels == s->dels_cap) {
        size_t cap = s->dels_cap ? s->dels_cap * 2 : 16;
        vdb_delete_rec *d = vdb_realloc(s->dels, cap * sizeof *d);
        if (!d)
            return vdb_set_errmsg(VDB_ENOMEM, "segment %llu: out of memory for deletes",
                                  (unsigned long long)s->id);
        s->dels = d;
        uint32_t *n = vdb_realloc(s->del_next, cap * sizeof *n);
        if (!n)
            return vdb_set_errmsg(VDB_ENOMEM, "segment %llu: out of memory for deletes",
                                  (unsigned long long)s->id);
        s->del_next = n;
        s->dels_cap = cap;
    }
    vdb_delete_rec rec = {pk, ts};
    if (pk.s) {
        char *copy = vdb_malloc(pk.len + 1);
        if (!copy)
            return vdb_set_errmsg(VDB_ENOMEM, "segment %llu: out of memory for a key",
                                  (unsigned long long)s->id);
        memcpy(copy, pk.s, pk.len);
        copy[pk.len] = 0;
        rec.pk.s = copy;
        s->del_bytes += pk.len + 1;
        rec.pk.i = 0;
    }
    uint32_t d = (uint32_t)s->ndels++;
    s->dels[d] = rec;
    s->del_next[d] = slot ? slot->del : VDB_ROW_NONE;
    if (slot)
        slot->del = d;
    return VDB_OK;
}

vdb_status vdb_segment_delete(vdb_segment *s, vdb_pk pk, uint64_t ts, bool *hit)
{
    *hit = false;
    vdb_pk_slot *slot = vdb_pk_index_find(&s->idx, &s->cols[s->pk_col], pk);
    if (!slot)
        return VDB_OK;
    bool older = false;
    for (uint32_t r = slot->row; r != VDB_ROW_NONE && !older; r = s->idx.next[r])
        older = s->ts[r] < ts;
    if (!older)
        return VDB_OK;
    vdb_status st = vdb_segment_add_delete(s, slot, pk, ts);
    if (st)
        return st;
    *hit = true;
    return VDB_OK;
}

const vdb_delete_rec *vdb_segment_deletes(const vdb_segment *s, size_t *n)
{
    *n = s->ndels;
    return s->dels;
}

size_t vdb_segment_visible(const vdb_segment *s, uint64_t T, uint64_t *bitset)
{
    size_t nw = (s->rows + 63) / 64;
    if (s->rows && s->max_ts <= T) {
        /* every row is old enough (the common case for a search): no per-row test */
        memset(bitset, 0xff, nw * sizeof *bitset);
        if (s->rows % 64)
            bitset[nw - 1] = (1ULL << (s->rows % 64)) - 1;
    } else {
        for (size_t w = 0; w < nw; w++) {
            size_t base = w * 64, end = VDB_MIN(base + 64, s->rows);
            uint64_t word = 0;
            for (size_t r = base; r < end; r++)
                word |= (uint64_t)(s->ts[r] <= T) << (r - base);
            bitset[w] = word;
        }
    }
    const vdb_column *pkcol = &s->cols[s->pk_col];
    for (size_t d = 0; d < s->ndels; d++) {
        const vdb_delete_rec *rec = &s->dels[d];
        if (rec->ts > T)
            continue;
        vdb_pk_slot *slot = vdb_pk_index_find(&s->idx, pkcol, rec->pk);
        for (uint32_t r = slot ? slot->row : VDB_ROW_NONE; r != VDB_ROW_NONE;
             r = s->idx.next[r])
            if (s->ts[r] < rec->ts)
                bitset[r / 64] &= ~(1ULL << (r % 64));
    }
    size_t n = 0;
    for (size_t w = 0; w < nw; w++)
        n += (size_t)__builtin_popcountll(bitset[w]);
    return n;
}

/* Whether row r (whose key has slot) survives every delete of its key up to T. */
static bool row_alive(const vdb_segment *s, const vdb_pk_slot *slot, uint32_t r, uint64_t T)
{
    for (uint32_t d = slot->del; d != VDB_ROW_NONE; d = s->del_next[d])
        if (s->ts[r] < s->dels[d].ts && s->dels[d].ts <= T)
            return false;
    return true;
}

int64_t vdb_segment_find(const vdb_segment *s, vdb_pk pk, uint64_t T)
{
    const vdb_pk_slot *slot = vdb_pk_index_find(&s->idx, &s->cols[s->pk_col], pk);
    if (!slot)
        return -1;
    int64_t best = -1;
    /* The chain runs newest-appended first, so on equal ts the first one seen wins. */
    for (uint32_t r = slot->row; r != VDB_ROW_NONE; r = s->idx.next[r]) {
        if (s->ts[r] > T || (best >= 0 && s->ts[r] <= s->ts[best]))
            continue;
        if (row_alive(s, slot, r, T))
            best = r;
    }
    return best;
}

bool vdb_segment_may_contain(const vdb_segment *s, vdb_pk pk)
{
    if (s->sealed && s->bloom.bits)
        return vdb_bloom_may_contain(&s->bloom, vdb_pk_hash(pk));
    return vdb_pk_index_find(&s->idx, &s->cols[s->pk_col], pk) != NULL;
}

static vdb_seg_map *attachment_map(const vdb_segment *s, size_t col)
{
    return s->att ? s->att[col].map : NULL;
}

vdb_status vdb_segment_check_mapped(const vdb_segment *s)
{
    for (size_t i = 0; i < s->ncols; i++) {
        vdb_status st = vdb_seg_map_check(s->cols[i].map);
        if (st)
            return vdb_set_errmsg(st, "segment %llu, column %zu: %s", (unsigned long long)s->id,
                                  i, vdb_err_get());
        st = vdb_seg_map_check(attachment_map(s, i));
        if (st)
            return vdb_set_errmsg(st, "segment %llu, index of column %zu: %s",
                                  (unsigned long long)s->id, i, vdb_err_get());
    }
    return VDB_OK;
}

void vdb_segment_drop_mapped_pages(const vdb_segment *s)
{
    for (size_t i = 0; i < s->ncols; i++) {
        if (vdb_segment_attachment(s, i)) /* an index reads it from now on; a scan would not */
            vdb_seg_map_drop_pages(s->cols[i].map);
        vdb_seg_map_drop_pages(attachment_map(s, i));
    }
}

size_t vdb_segment_mapped_bytes(const vdb_segment *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->ncols; i++)
        n += vdb_seg_map_size(s->cols[i].map) + vdb_seg_map_size(attachment_map(s, i));
    return n;
}

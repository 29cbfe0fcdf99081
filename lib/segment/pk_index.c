/* The primary-key index: a hash map from key to its rows (newest first) and its deletes. */
#include "segment_int.h"

void vdb_pk_index_free(vdb_pk_index *x)
{
    vdb_free(x->slots);
    vdb_free(x->next);
    memset(x, 0, sizeof *x);
}

static void place(vdb_pk_slot *slots, size_t mask, const vdb_pk_slot *s)
{
    size_t i = (size_t)s->hash & mask;
    while (slots[i].row != VDB_ROW_NONE)
        i = (i + 1) & mask;
    slots[i] = *s;
}

static vdb_status rehash(vdb_pk_index *x, size_t nslots)
{
    vdb_pk_slot *slots = vdb_malloc(nslots * sizeof *slots);
    if (!slots)
        return vdb_set_errmsg(VDB_ENOMEM, "pk index: out of memory for %zu slots", nslots);
    for (size_t i = 0; i < nslots; i++)
        slots[i].row = VDB_ROW_NONE;
    if (x->slots)
        for (size_t i = 0; i <= x->mask; i++)
            if (x->slots[i].row != VDB_ROW_NONE)
                place(slots, nslots - 1, &x->slots[i]);
    vdb_free(x->slots);
    x->slots = slots;
    x->mask = nslots - 1;
    return VDB_OK;
}

vdb_status vdb_pk_index_reserve(vdb_pk_index *x, size_t total)
{
    if (total >= VDB_ROW_NONE)
        return vdb_set_errmsg(VDB_ERANGE, "pk index: %zu rows exceed a segment's limit", total);
    if (total > x->next_cap) {
        size_t cap = x->next_cap ? x->next_cap : 64;
        while (cap < total)
            cap *= 2;
        uint32_t *p = vdb_realloc(x->next, cap * sizeof *p);
        if (!p)
            return vdb_set_errmsg(VDB_ENOMEM, "pk index: out of memory for %zu rows", cap);
        x->next = p;
        x->next_cap = cap;
    }
    /* Every new row may be a new key; keep the load at most one half. */
    size_t keys = x->nkeys + (total > x->rows ? total - x->rows : 0);
    size_t nslots = x->slots ? x->mask + 1 : 0;
    if (keys * 2 > nslots) {
        size_t n = nslots ? nslots : 64;
        while (n < keys * 2)
            n *= 2;
        return rehash(x, n);
    }
    return VDB_OK;
}

vdb_pk_slot *vdb_pk_index_find(const vdb_pk_index *x, const vdb_column *pkcol, vdb_pk pk)
{
    if (!x->slots)
        return NULL;
    uint64_t h = vdb_pk_hash(pk);
    for (size_t i = (size_t)h & x->mask;; i = (i + 1) & x->mask) {
        vdb_pk_slot *s = &x->slots[i];
        if (s->row == VDB_ROW_NONE)
            return NULL;
        if (s->hash == h && vdb_pk_equal(vdb_pk_of(pkcol, s->row), pk))
            return s;
    }
}

void vdb_pk_index_add(vdb_pk_index *x, const vdb_column *pkcol)
{
    uint32_t row = (uint32_t)x->rows;
    vdb_pk pk = vdb_pk_of(pkcol, row);
    vdb_pk_slot *s = vdb_pk_index_find(x, pkcol, pk);
    if (s) {
        x->next[row] = s->row;
        s->row = row;
    } else {
        vdb_pk_slot ns = {vdb_pk_hash(pk), row, VDB_ROW_NONE};
        x->next[row] = VDB_ROW_NONE;
        place(x->slots, x->mask, &ns);
        x->nkeys++;
    }
    x->rows++;
}

size_t vdb_pk_index_memory(const vdb_pk_index *x)
{
    return (x->slots ? (x->mask + 1) * sizeof(vdb_pk_slot) : 0) + x->next_cap * sizeof(uint32_t);
}

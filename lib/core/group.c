/* Grouping search's collector: a hash table of groups (by the group-by value), each with a
 * bounded heap of its best group_size hits. */
#include <stdlib.h>
#include <string.h>

#include "core/group.h"
#include "util/util.h"

typedef struct group {
    uint64_t hash;
    int kind;          /* 0: empty slot, 1: NULL, 2: integer (and bool), 3: string */
    int64_t i;
    char *s;
    size_t len;
    vdb_topk hits;
} group;

struct vdb_grouper {
    size_t group_size, n, cap;
    bool higher;
    group *slots;
};

vdb_status vdb_grouper_new(size_t group_size, bool higher, vdb_grouper **out)
{
    vdb_grouper *g = vdb_calloc(1, sizeof *g);
    if (g) {
        g->cap = 64;
        g->slots = vdb_calloc(g->cap, sizeof *g->slots);
    }
    if (!g || !g->slots) {
        vdb_free(g);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    g->group_size = group_size;
    g->higher = higher;
    *out = g;
    return VDB_OK;
}

void vdb_grouper_free(vdb_grouper *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->cap; i++)
        if (g->slots[i].kind) {
            vdb_free(g->slots[i].s);
            vdb_topk_free(&g->slots[i].hits);
        }
    vdb_free(g->slots);
    vdb_free(g);
}

size_t vdb_grouper_groups(const vdb_grouper *g) { return g->n; }

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static vdb_status grow(vdb_grouper *g)
{
    size_t cap = g->cap * 2;
    group *slots = vdb_calloc(cap, sizeof *slots);
    if (!slots)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (size_t i = 0; i < g->cap; i++) {
        if (!g->slots[i].kind)
            continue;
        size_t j = g->slots[i].hash & (cap - 1);
        while (slots[j].kind)
            j = (j + 1) & (cap - 1);
        slots[j] = g->slots[i];
    }
    vdb_free(g->slots);
    g->slots = slots;
    g->cap = cap;
    return VDB_OK;
}

vdb_status vdb_grouper_offer(vdb_grouper *g, const vdb_column *col, size_t row, float d,
                             int64_t id)
{
    int kind;
    int64_t iv = 0;
    const char *s = NULL;
    size_t len = 0;
    uint64_t h;
    if (vdb_column_is_null(col, row)) {
        kind = 1;
        h = 0x51ull;
    } else if (vdb_type_is_var(col->type)) {
        kind = 3;
        s = vdb_column_var(col, row, &len);
        h = 1469598103934665603ull;
        for (size_t i = 0; i < len; i++)
            h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
        h = mix(h);
    } else {
        kind = 2;
        const void *p = vdb_column_at(col, row);
        switch (col->type) {
        case VDB_TYPE_BOOL: iv = *(const uint8_t *)p != 0; break;
        case VDB_TYPE_INT8: iv = *(const int8_t *)p; break;
        case VDB_TYPE_INT16: { int16_t x; memcpy(&x, p, 2); iv = x; break; }
        case VDB_TYPE_INT32: { int32_t x; memcpy(&x, p, 4); iv = x; break; }
        default: memcpy(&iv, p, 8); break;
        }
        h = mix((uint64_t)iv);
    }
    size_t j = h & (g->cap - 1);
    for (;; j = (j + 1) & (g->cap - 1)) {
        group *e = &g->slots[j];
        if (!e->kind)
            break;
        if (e->hash == h && e->kind == kind &&
            (kind == 1 || (kind == 2 && e->i == iv) ||
             (kind == 3 && e->len == len && !memcmp(e->s, s, len)))) {
            vdb_topk_push(&e->hits, d, id);
            return VDB_OK;
        }
    }
    if ((g->n + 1) * 2 > g->cap) {
        vdb_status st = grow(g);
        if (st != VDB_OK)
            return st;
        return vdb_grouper_offer(g, col, row, d, id);
    }
    group *e = &g->slots[j];
    *e = (group){.hash = h, .kind = kind, .i = iv, .len = len};
    if ((kind == 3 && !(e->s = vdb_strndup(s, len))) ||
        vdb_topk_init(&e->hits, g->group_size, g->higher) != VDB_OK) {
        vdb_free(e->s);
        *e = (group){0};
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    g->n++;
    vdb_topk_push(&e->hits, d, id);
    return VDB_OK;
}

static _Thread_local bool grouper_higher; /* qsort has no context argument */
static int by_best(const void *x, const void *y)
{
    const group *a = *(const group *const *)x, *b = *(const group *const *)y;
    float da = a->hits.dist[0], db = b->hits.dist[0];
    if (da != db)
        return (grouper_higher ? da > db : da < db) ? -1 : 1;
    return a->hits.id[0] < b->hits.id[0] ? -1 : a->hits.id[0] > b->hits.id[0];
}

/* The best hit of a group (its heap is not sorted until take). */
static float group_best(const group *e, bool higher, int64_t *id)
{
    float b = e->hits.dist[0];
    *id = e->hits.id[0];
    for (size_t j = 1; j < e->hits.n; j++) {
        float d = e->hits.dist[j];
        if (higher ? d > b || (d == b && e->hits.id[j] < *id)
                   : d < b || (d == b && e->hits.id[j] < *id)) {
            b = d;
            *id = e->hits.id[j];
        }
    }
    return b;
}

typedef struct ranked {
    float best;
    int64_t id;
    bool full;
} ranked;

static _Thread_local bool ranked_higher;
static int by_rank(const void *x, const void *y)
{
    const ranked *a = x, *b = y;
    if (a->best != b->best)
        return (ranked_higher ? a->best > b->best : a->best < b->best) ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

vdb_status vdb_grouper_top_full(const vdb_grouper *g, size_t want, bool *out)
{
    *out = false;
    if (g->n < want)
        return VDB_OK;
    ranked *r = vdb_malloc((g->n + 1) * sizeof *r);
    if (!r)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < g->cap; i++)
        if (g->slots[i].kind) {
            r[m].best = group_best(&g->slots[i], g->higher, &r[m].id);
            r[m].full = g->slots[i].hits.n == g->group_size;
            m++;
        }
    ranked_higher = g->higher;
    qsort(r, m, sizeof *r, by_rank);
    bool all = true;
    for (size_t i = 0; i < want && all; i++)
        all = r[i].full;
    vdb_free(r);
    *out = all;
    return VDB_OK;
}

vdb_status vdb_grouper_take(vdb_grouper *g, size_t offset, size_t limit, int64_t *ids,
                            float *dist, size_t *n)
{
    *n = 0;
    group **order = vdb_malloc((g->n + 1) * sizeof *order);
    if (!order)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < g->cap; i++)
        if (g->slots[i].kind) {
            vdb_topk_sort(&g->slots[i].hits);
            order[m++] = &g->slots[i];
        }
    grouper_higher = g->higher;
    qsort(order, m, sizeof *order, by_best);
    for (size_t i = offset; i < m && i < offset + limit; i++)
        for (size_t j = 0; j < order[i]->hits.n; j++) {
            ids[*n] = order[i]->hits.id[j];
            dist[*n] = order[i]->hits.dist[j];
            (*n)++;
        }
    vdb_free(order);
    return VDB_OK;
}

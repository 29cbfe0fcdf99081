/* Indexes on sealed segments: building the collection's scalar indexes (in memory, from the
 * columns) and vector indexes (HNSW) for a segment, and keeping vector indexes next to the
 * segment in the object store so that an open loads them instead of rebuilding. */
#include <stdio.h>
#include <unistd.h>

#include "core.h"
#include "index/hnsw.h"

static void free_sindex(void *p) { vdb_sindex_free(p); }
static void free_hnsw(void *p) { vdb_hnsw_free(p); }

static vdb_sindex_kind kind_of(const char *type)
{
    if (!strcmp(type, "STL_SORT"))
        return VDB_SINDEX_SORTED;
    if (!strcmp(type, "INVERTED"))
        return VDB_SINDEX_INVERTED;
    if (!strcmp(type, "TRIE"))
        return VDB_SINDEX_TRIE;
    return 0;
}

/* "<segments>/<id>/hnsw_<col>_M<m>_efc<e>": the parameters are in the name, so an index
 * built with other ones is never mistaken for this one. */
static void hnsw_key(char *buf, size_t n, const vdb_collection *c, uint64_t id, size_t col,
                     const vdb_index_params *p)
{
    snprintf(buf, n, "%s/%llu/hnsw_%zu_M%u_efc%u", c->seg_prefix, (unsigned long long)id, col,
             p->M, p->ef_construction);
}

/* The HNSW index of column col: loaded from the object store when a saved copy is there and
 * whole, else built (on every CPU) and saved. A failed save only costs a rebuild later. */
static vdb_status hnsw_for(vdb_db *db, vdb_collection *c, vdb_segment *s, size_t col,
                           vdb_hnsw **out)
{
    const vdb_field_def *f = &c->schema->fields[col].def;
    const vdb_index_params *p = &c->index_params[col];
    const vdb_column *vc = vdb_segment_column(s, col);
    const float *base = (const float *)vc->data;
    vdb_segment_info info;
    vdb_segment_get_info(s, &info);
    char key[256];
    hnsw_key(key, sizeof key, c, info.id, col, p);
    void *data;
    size_t len;
    if (db->obj.be->get(db->obj.h, key, &data, &len) == VDB_OK) {
        vdb_status st = vdb_hnsw_decode(data, len, base, vc->rows, f->dim, out);
        vdb_free(data);
        if (st == VDB_OK)
            return VDB_OK; /* a damaged copy is rebuilt below and overwritten */
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    vdb_status st = vdb_hnsw_build(base, vc->rows, f->dim, f->metric, p->M, p->ef_construction,
                                   cpus > 0 ? (uint32_t)cpus : 1, NULL, NULL, out);
    if (st != VDB_OK)
        return vdb_set_errmsg(st, "building the HNSW index of '%s' on segment %llu: %s",
                              f->name, (unsigned long long)info.id, vdb_err_get());
    vdb_buf b = {0};
    if (vdb_hnsw_encode(*out, &b) == VDB_OK && !b.oom)
        db->obj.be->put(db->obj.h, key, b.p, b.len);
    vdb_buf_free(&b);
    return VDB_OK;
}

vdb_status vdb_index_segment(vdb_db *db, vdb_collection *c, vdb_segment *s,
                             pthread_rwlock_t *lock)
{
    const vdb_schema *sc = c->schema;
    void **built = vdb_calloc(sc->nfields + 1, sizeof *built);
    vdb_status st = built ? VDB_OK : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (size_t i = 0; i < sc->nfields && st == VDB_OK; i++) {
        const char *type = c->index_type[i];
        if (!type || vdb_segment_attachment(s, i))
            continue;
        if (!strcmp(type, "HNSW"))
            st = hnsw_for(db, c, s, i, (vdb_hnsw **)&built[i]);
        else if (kind_of(type))
            st = vdb_sindex_build(kind_of(type), vdb_segment_column(s, i),
                                  (vdb_scalar_index **)&built[i]);
    }
    if (lock)
        pthread_rwlock_wrlock(lock);
    for (size_t i = 0; built && i < sc->nfields; i++) {
        if (!built[i])
            continue;
        bool vec = c->types[i] == VDB_TYPE_FLOAT_VECTOR;
        if (st == VDB_OK) /* all or none: a half-indexed segment would be fine, but simpler */
            vdb_segment_set_attachment(s, i, built[i], vec ? free_hnsw : free_sindex);
        else if (vec)
            vdb_hnsw_free(built[i]);
        else
            vdb_sindex_free(built[i]);
    }
    if (lock)
        pthread_rwlock_unlock(lock);
    vdb_free(built);
    return st;
}

typedef struct key_list {
    size_t n, cap;
    char **keys;
} key_list;

static int take_key(void *arg, const char *key, uint64_t size)
{
    (void)size;
    key_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **k = vdb_realloc(l->keys, cap * sizeof *k);
        if (!k)
            return 1;
        l->keys = k;
        l->cap = cap;
    }
    if ((l->keys[l->n] = vdb_strdup(key)))
        l->n++;
    return 0;
}

void vdb_segment_objects_delete(vdb_db *db, const vdb_collection *c, uint64_t segment_id)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s/%llu/", c->seg_prefix, (unsigned long long)segment_id);
    key_list l = {0};
    db->obj.be->list(db->obj.h, prefix, take_key, &l); /* leftovers are garbage, never read */
    for (size_t i = 0; i < l.n; i++) {
        db->obj.be->del(db->obj.h, l.keys[i]);
        vdb_free(l.keys[i]);
    }
    vdb_free(l.keys);
}

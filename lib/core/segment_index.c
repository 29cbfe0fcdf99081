/* Indexes on sealed segments: the collection's scalar indexes (built in memory from the
 * columns, in the calling thread: they are cheap) and its vector indexes, which are built in
 * the background by the build pool, saved beside the segment in the object store so that an
 * open loads them instead of rebuilding, and swapped in under the collection's write lock. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/events.h"
#include "core/mmap.h"
#include "core/segment_index.h"
#include "core/jsonidx.h"
#include "segment/seg_cache.h"

static void free_sindex(void *p) { vdb_sindex_free(p); }
static void free_vindex(void *p) { vdb_vindex_free(p); }

bool vdb_index_builds(const vdb_collection *c, size_t f)
{
    const vdb_vindex_kind *k = c->index[f].spec.kind;
    return c->index[f].type && k && vdb_vindex_kind_builds(k);
}

/* "<segments>/<id>/<kind>_<col>_<params>": the parameters are in the name, so an index built
 * with other ones is never mistaken for this one. */
static void vindex_key(char *buf, size_t n, const vdb_collection *c, uint64_t id, size_t col,
                       const vdb_vindex_spec *spec)
{
    int k = snprintf(buf, n, "%s/%llu/", c->seg_prefix, (unsigned long long)id);
    size_t at = k > 0 ? (size_t)k : 0;
    if (at < n)
        vdb_vindex_spec_file(spec, col, buf + at, n - at);
}

/* The rows of a sealed segment's vector column, as an index sees them. */
static vdb_vectors segment_vectors(const vdb_collection *c, const vdb_segment *s, size_t col)
{
    const vdb_column *vc = vdb_segment_column(s, col);
    const vdb_field_def *f = &c->schema->fields[col].def;
    if (f->type == VDB_TYPE_SPARSE_FLOAT_VECTOR) /* var-length: bytes and offsets */
        return (vdb_vectors){f->type, 0, f->metric, vc->rows, vc->bytes, vc->offsets};
    return (vdb_vectors){f->type, f->dim, f->metric, vc->rows, vc->data, NULL};
}

/* ---- saved indexes used in place from the mmap cache (options.mmap) ----
 * A kind with decode_view (HNSW, IVF_FLAT) is not decoded onto the heap: its object is
 * decoded once (every check of the heap path), written to the cache in the kind's current
 * format (64-byte aligned arrays) with its checksum verified on disk, and mapped; the index
 * reads its lists and codes there. The cache file is named by the object's key and its last
 * 4 bytes (a saved index ends with the crc32c of the rest), read with a ranged get, so a
 * later open maps it without fetching the object, and an object written again is a new
 * file. */

static vdb_seg_map_shape index_shape(const vdb_collection *c, size_t col, size_t rows,
                                     uint32_t crc)
{
    const vdb_field_def *f = &c->schema->fields[col].def;
    return (vdb_seg_map_shape){VDB_SEG_MAP_INDEX | (uint32_t)f->type, f->dim, rows,
                               VDB_SEG_MAP_ANY_LEN, crc};
}

/* The last 4 bytes of object key by a ranged read; VDB_EUNSUPPORTED when the store has none
 * (the caller fetches the object). */
static vdb_status object_tail(vdb_db *db, const char *key, uint32_t *crc)
{
    const vdb_object_backend *be = db->obj.be;
    if (!be->head || !be->get_range)
        return VDB_EUNSUPPORTED;
    uint64_t size;
    vdb_status st = be->head(db->obj.h, key, &size);
    if (st != VDB_OK)
        return st;
    if (size < 4)
        return vdb_set_errmsg(VDB_ECORRUPT, "index object '%s' is %llu bytes", key,
                              (unsigned long long)size);
    void *data = NULL;
    size_t got = 0;
    st = be->get_range(db->obj.h, key, size - 4, 4, &data, &got);
    if (st == VDB_OK && got != 4)
        st = vdb_set_errmsg(VDB_ECORRUPT, "index object '%s': short read", key);
    if (st == VDB_OK)
        *crc = vdb_get_u32(data);
    free(data);
    return st;
}

/* An index used in place over cache file map (its bytes data); NULL, and the file dropped
 * from the cache, when they do not hold up (checked as a decode checks them, and no fault
 * while reading them). */
static vdb_vindex *view_of(const vdb_vindex_spec *spec, const vdb_vectors *rows,
                           vdb_seg_map *map, const void *data)
{
    vdb_vindex *v = NULL;
    if (vdb_vindex_decode_view(spec, data, vdb_seg_map_size(map), rows, &v) != VDB_OK ||
        vdb_seg_map_check(map) != VDB_OK) {
        vdb_vindex_free(v);
        vdb_seg_map_discard(map);
        return NULL;
    }
    return v;
}

/* Encoded index bytes (as saved under key) written to the cache, mapped and used in place;
 * NULL when that fails (the caller keeps its heap copy). */
static vdb_vindex *view_of_bytes(vdb_db *db, const vdb_collection *c, size_t col,
                                 const vdb_vindex_spec *spec, const vdb_vectors *rows,
                                 const char *key, const void *bytes, size_t len,
                                 vdb_seg_map **map)
{
    if (len < 4)
        return NULL;
    vdb_seg_map_shape shape = index_shape(c, col, rows->n,
                                          vdb_get_u32((const uint8_t *)bytes + len - 4));
    shape.data_len = len;
    const void *data;
    if (vdb_seg_cache_put(db->seg_cache, key, &shape, bytes, map, &data) != VDB_OK)
        return NULL;
    vdb_vindex *v = view_of(spec, rows, *map, data);
    if (!v)
        *map = NULL;
    return v;
}

static vdb_vindex *mapped_index(vdb_db *db, const vdb_collection *c, const vdb_segment *s,
                                size_t col, const char *key, vdb_seg_map **map)
{
    const vdb_vindex_spec *spec = &c->index[col].spec;
    vdb_vectors rows = segment_vectors(c, s, col);
    void *obj = NULL;
    size_t obj_len = 0;
    uint32_t crc = 0;
    vdb_status st = object_tail(db, key, &crc);
    if (st == VDB_EUNSUPPORTED) {
        if (db->obj.be->get(db->obj.h, key, &obj, &obj_len) != VDB_OK || obj_len < 4) {
            free(obj);
            return NULL;
        }
        crc = vdb_get_u32((const uint8_t *)obj + obj_len - 4);
    } else if (st != VDB_OK) {
        return NULL; /* not saved (built again), or unreadable (the heap path says why) */
    }
    vdb_seg_map_shape shape = index_shape(c, col, rows.n, crc);
    const void *data = NULL;
    if (vdb_seg_cache_get(db->seg_cache, key, &shape, map, &data) == VDB_OK && *map) {
        free(obj);
        vdb_vindex *v = view_of(spec, &rows, *map, data);
        if (!v)
            *map = NULL;
        return v;
    }
    *map = NULL;
    /* not cached yet: decoded (all the checks, a format-1 graph too) and written again in
     * the current format, which is what the view reads */
    if (!obj && db->obj.be->get(db->obj.h, key, &obj, &obj_len) != VDB_OK)
        return NULL;
    vdb_vindex *heap = NULL;
    vdb_buf b = {0};
    bool ok = vdb_vindex_decode(spec, obj, obj_len, &rows, &heap) == VDB_OK &&
              vdb_vindex_encode(heap, &b) == VDB_OK && !b.oom;
    free(obj);
    vdb_vindex_free(heap);
    vdb_vindex *v = ok ? view_of_bytes(db, c, col, spec, &rows, key, b.p, b.len, map) : NULL;
    vdb_buf_free(&b);
    return v;
}

/* A saved vector index of column col, or NULL when there is none or it is damaged (then it
 * is built again and overwritten). *map: the cache file it reads in place, or NULL. */
static vdb_vindex *saved_index(vdb_db *db, vdb_collection *c, vdb_segment *s, size_t col,
                               vdb_seg_map **map)
{
    const vdb_vindex_spec *spec = &c->index[col].spec;
    vdb_segment_info info;
    vdb_segment_get_info(s, &info);
    char key[256];
    vindex_key(key, sizeof key, c, info.id, col, spec);
    *map = NULL;
    vdb_vindex *v = NULL;
    if (vdb_collection_cache(db, c) && vdb_vindex_kind_views(spec->kind) &&
        (v = mapped_index(db, c, s, col, key, map)) != NULL)
        return v;
    void *data;
    size_t len;
    if (db->obj.be->get(db->obj.h, key, &data, &len) == VDB_OK) {
        vdb_vectors rows = segment_vectors(c, s, col);
        if (vdb_vindex_decode(spec, data, len, &rows, &v) != VDB_OK)
            v = NULL;
        vdb_free(data);
    }
    return v;
}

size_t vdb_index_verify(vdb_db *db, vdb_collection *c, void (*fn)(void *arg, vdb_status st),
                        void *arg)
{
    /* The list is copied under the lock; the segments stay (write_mu is held). */
    vdb_lock_rd(&c->lock, VDB_RANK_COLL);
    size_t n = c->nsealed;
    vdb_segment **segs = vdb_malloc((n ? n : 1) * sizeof *segs);
    if (segs && n)
        memcpy(segs, c->sealed, n * sizeof *segs);
    vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    if (!segs) {
        fn(arg, vdb_set_errmsg(VDB_ENOMEM, "out of memory checking the indexes of '%s'",
                               c->name));
        return 1;
    }
    size_t problems = 0;
    for (size_t col = 0; col < c->schema->nfields; col++) {
        if (!vdb_index_builds(c, col))
            continue;
        for (size_t i = 0; i < n; i++) {
            vdb_segment_info info;
            vdb_segment_get_info(segs[i], &info);
            char key[256];
            vindex_key(key, sizeof key, c, info.id, col, &c->index[col].spec);
            void *data;
            size_t len;
            vdb_status st = db->obj.be->get(db->obj.h, key, &data, &len);
            if (st == VDB_ENOTFOUND) /* not saved yet, or lost: built again either way */
                continue;
            if (st == VDB_OK) {
                vdb_vectors rows = segment_vectors(c, segs[i], col);
                vdb_vindex *v = NULL;
                st = vdb_vindex_decode(&c->index[col].spec, data, len, &rows, &v);
                vdb_free(data);
                if (v)
                    vdb_vindex_free(v);
                if (st != VDB_OK)
                    st = vdb_set_errmsg(VDB_ECORRUPT, "index object '%s' of segment %llu is "
                                        "damaged (%s); it is built again when it is loaded",
                                        key, (unsigned long long)info.id, vdb_err_get());
            } else {
                st = vdb_set_errmsg(st, "index object '%s': %s", key, vdb_err_get());
            }
            if (st != VDB_OK) {
                fn(arg, st);
                problems++;
            }
        }
    }
    vdb_free(segs);
    return problems;
}

vdb_status vdb_index_segment(vdb_db *db, vdb_collection *c, vdb_segment *s,
                             pthread_rwlock_t *lock, bool load_saved)
{
    const vdb_schema *sc = c->schema;
    void **built = vdb_calloc(sc->nfields + 1, sizeof *built);
    vdb_seg_map **maps = vdb_calloc(sc->nfields + 1, sizeof *maps);
    vdb_status st = built && maps ? VDB_OK : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (size_t i = 0; i < sc->nfields && st == VDB_OK; i++) {
        const vdb_field_index *x = &c->index[i];
        if (!x->type || vdb_segment_attachment(s, i))
            continue;
        if (vdb_index_builds(c, i)) {
            if (load_saved)
                built[i] = saved_index(db, c, s, i, &maps[i]);
        } else if (x->skind && sc->fields[i].def.type == VDB_TYPE_ARRAY) {
            st = vdb_sindex_build_elems(x->skind, sc->fields[i].def.element_type,
                                        vdb_segment_column(s, i),
                                        (vdb_scalar_index **)&built[i]);
        } else if (x->skind) {
            st = vdb_sindex_build(x->skind, vdb_segment_column(s, i),
                                  (vdb_scalar_index **)&built[i]);
        }
    }
    if (lock)
        vdb_lock_wr(lock, VDB_RANK_COLL);
    for (size_t i = 0; built && maps && i < sc->nfields; i++) {
        if (!built[i])
            continue;
        bool vec = vdb_index_builds(c, i);
        if (st == VDB_OK) { /* all or none: a half-indexed segment would be fine, but simpler */
            vdb_segment_set_attachment_mapped(s, i, built[i], vec ? free_vindex : free_sindex,
                                              maps[i]);
            continue;
        }
        if (vec)
            vdb_vindex_free(built[i]);
        else
            vdb_sindex_free(built[i]);
        vdb_seg_map_release(maps[i]);
    }
    if (lock)
        vdb_unlock_rw(lock, VDB_RANK_COLL);
    vdb_free(built);
    vdb_free(maps);
    if (st == VDB_OK)
        st = vdb_jpath_index_segment(c, s, lock);
    return st;
}

/* ---- background builds ---- */

typedef struct build_job {
    vdb_job job;
    vdb_db *db;
    vdb_collection *c;      /* alive while the job runs: a drop waits for its jobs */
    vdb_segment *s;         /* one reference held */
    size_t col;
    uint64_t gen;           /* c->index[col].gen when queued */
    vdb_vindex_spec spec;
    size_t rows;
    uint64_t last_report_ms;
    bool final_reported;
} build_job;


static void report(build_job *j, uint64_t done)
{
    vdb_db *db = j->db;
    char name[VDB_MAX_NAME + 1]; /* a rename may change it meanwhile: read under the lock */
    vdb_lock_rd(&j->c->lock, VDB_RANK_COLL);
    snprintf(name, sizeof name, "%s", j->c->name);
    vdb_unlock_rw(&j->c->lock, VDB_RANK_COLL);
    pthread_mutex_lock(&db->progress_mu);
    if (db->progress_fn)
        db->progress_fn(db->progress_arg, name, j->c->schema->fields[j->col].def.name,
                        done, j->rows);
    pthread_mutex_unlock(&db->progress_mu);
}

/* From inside the index build (never concurrently): at most ten reports a second. */
static void on_progress(void *arg, size_t done, size_t total)
{
    build_job *j = arg;
    uint64_t now = vdb_now_ms();
    bool final = total == 0 || done >= total;
    if (j->final_reported || (!final && now - j->last_report_ms < 100))
        return;
    j->last_report_ms = now;
    j->final_reported = final;
    /* IVF counts in its own units: scaled to rows */
    report(j, final ? j->rows : (uint64_t)((double)done / (double)total * (double)j->rows));
}

/* Whether the job's index is still wanted: its segment sealed here, its index the same. */
static bool wanted(const build_job *j)
{
    return j->c->index[j->col].gen == j->gen && vdb_collection_has_sealed(j->c, j->s);
}

static void build_run(vdb_job *job)
{
    build_job *j = (build_job *)job;
    vdb_db *db = j->db;
    vdb_collection *c = j->c;
    vdb_segment_info info; /* read under the lock: deletes update the segment meanwhile */
    vdb_lock_rd(&c->lock, VDB_RANK_COLL);
    bool want = wanted(j) && !vdb_segment_attachment(j->s, j->col);
    vdb_segment_get_info(j->s, &info);
    vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    if (!want)
        return;
    /* the rows of a sealed segment never change: no lock needed to read them */
    const vdb_field_def *f = &c->schema->fields[j->col].def;
    vdb_vectors rows = segment_vectors(c, j->s, j->col);
    vdb_vindex *v = NULL;
    j->last_report_ms = vdb_now_ms();
    vdb_status st = vdb_vindex_build(&j->spec, &rows, db->build_threads, on_progress, j, &v);
    if (st == VDB_OK) {
        /* the segment's attachments (other columns' indexes) change under c->lock */
        vdb_lock_rd(&c->lock, VDB_RANK_COLL);
        st = vdb_segment_check_mapped(j->s);
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    }
    if (st != VDB_OK && v) {
        vdb_vindex_free(v); /* built over a mapped file cut short: not to be kept or saved */
        v = NULL;
    }
    if (st != VDB_OK) {
        char msg[1024];
        vdb_lock_wr(&c->lock, VDB_RANK_COLL); /* c->name: see report */
        snprintf(msg, sizeof msg, "building the %s index of '%s' on segment %llu of '%s' "
                 "failed: %s", j->spec.kind->name, f->name,
                 (unsigned long long)info.id, c->name, vdb_err_get());
        vdb_field_index *x = &c->index[j->col];
        if (x->gen == j->gen) {
            c->index_failures++;
            if (!x->fail_msg) { /* the first failure tells */
                x->fail = st;
                x->fail_msg = vdb_strdup(msg);
            }
        }
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
        vdb_events_notify(db);
        return;
    }
    if (!j->final_reported) {
        j->final_reported = true;
        report(j, j->rows);
    }
    /* Saved before it is attached. A failed save only costs a rebuild at the next open. */
    char key[256];
    vindex_key(key, sizeof key, c, info.id, j->col, &j->spec);
    vdb_buf b = {0};
    bool saved = vdb_vindex_encode(v, &b) == VDB_OK && !b.oom &&
                 db->obj.be->put(db->obj.h, key, b.p, b.len) == VDB_OK;
    /* with options.mmap, the saved bytes are used in place (as the next open would) */
    vdb_seg_map *map = NULL;
    if (saved && vdb_collection_cache(db, c) && vdb_vindex_kind_views(j->spec.kind)) {
        vdb_vindex *view = view_of_bytes(db, c, j->col, &j->spec, &rows, key, b.p, b.len,
                                         &map);
        if (view) {
            vdb_vindex_free(v);
            v = view;
        }
    }
    vdb_buf_free(&b);
    vdb_lock_wr(&c->lock, VDB_RANK_COLL);
    want = wanted(j) && !vdb_segment_attachment(j->s, j->col);
    bool gone = !vdb_collection_has_sealed(c, j->s);
    if (want) {
        vdb_segment_set_attachment_mapped(j->s, j->col, v, free_vindex, map);
        v = NULL;
        map = NULL;
        vdb_segment_drop_mapped_pages(j->s); /* the build read every row (madvise, no I/O) */
    }
    vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    vdb_vindex_free(v); /* before the file it reads */
    v = NULL;
    vdb_seg_map_release(map);
    /* the segment was dropped or compacted away while we built: its folder is garbage, and
     * so is what we just put in it (the drop deleted the folder before or will after) */
    if (gone && saved)
        db->obj.be->del(db->obj.h, key);
    vdb_vindex_free(v);
    vdb_events_notify(db);
}

static void build_release(vdb_job *job, bool ran)
{
    (void)ran;
    build_job *j = (build_job *)job;
    vdb_segment_free(j->s); /* our reference */
    vdb_free(j);
}

void vdb_index_queue(vdb_db *db, vdb_collection *c, vdb_segment *s)
{
    vdb_lock_rd(&c->lock, VDB_RANK_COLL);
    for (size_t i = 0; i < c->schema->nfields; i++) {
        if (!vdb_index_builds(c, i) || vdb_segment_attachment(s, i))
            continue;
        build_job *j = vdb_calloc(1, sizeof *j);
        if (!j) {
            /* recorded like a failed build: the segment stays exact, waiters hear of it */
            vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
            vdb_lock_wr(&c->lock, VDB_RANK_COLL);
            c->index_failures++;
            if (!c->index[i].fail_msg) {
                c->index[i].fail = VDB_ENOMEM;
                c->index[i].fail_msg = vdb_strdup("out of memory queueing an index build");
            }
            vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
            vdb_events_notify(db);
            vdb_lock_rd(&c->lock, VDB_RANK_COLL);
            continue;
        }
        vdb_segment_ref(s);
        *j = (build_job){.job = {build_run, build_release, c, NULL}, .db = db, .c = c, .s = s,
                         .col = i, .gen = c->index[i].gen, .spec = c->index[i].spec,
                         .rows = vdb_segment_rows(s)};
        vdb_pool_submit(db->builds, &j->job);
    }
    vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
}

void vdb_index_usage(const vdb_collection *c, const vdb_segment *s, uint64_t *bytes,
                     uint64_t *rows)
{
    bool all = true, any = false;
    for (size_t i = 0; i < c->schema->nfields; i++) {
        if (!vdb_index_builds(c, i))
            continue;
        const vdb_vindex *v = vdb_segment_attachment(s, i);
        any = true;
        if (v)
            *bytes += vdb_vindex_memory(v);
        else
            all = false;
    }
    if (any && all)
        *rows += vdb_segment_rows(s);
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

/* Indexes on sealed segments: the collection's scalar indexes (built in memory from the
 * columns, in the calling thread: they are cheap) and its vector indexes, which are built in
 * the background by the build pool, saved beside the segment in the object store so that an
 * open loads them instead of rebuilding, and swapped in under the collection's write lock. */
#include <stdio.h>
#include <unistd.h>

#include "core/events.h"
#include "core/segment_index.h"

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

/* A saved vector index of column col, or NULL when there is none or it is damaged (then it
 * is built again and overwritten). */
static vdb_vindex *saved_index(vdb_db *db, vdb_collection *c, vdb_segment *s, size_t col)
{
    const vdb_vindex_spec *spec = &c->index[col].spec;
    vdb_segment_info info;
    vdb_segment_get_info(s, &info);
    char key[256];
    vindex_key(key, sizeof key, c, info.id, col, spec);
    void *data;
    size_t len;
    vdb_vindex *v = NULL;
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
    vdb_status st = built ? VDB_OK : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (size_t i = 0; i < sc->nfields && st == VDB_OK; i++) {
        const vdb_field_index *x = &c->index[i];
        if (!x->type || vdb_segment_attachment(s, i))
            continue;
        if (vdb_index_builds(c, i)) {
            if (load_saved)
                built[i] = saved_index(db, c, s, i);
        } else if (x->skind) {
            st = vdb_sindex_build(x->skind, vdb_segment_column(s, i),
                                  (vdb_scalar_index **)&built[i]);
        }
    }
    if (lock)
        vdb_lock_wr(lock, VDB_RANK_COLL);
    for (size_t i = 0; built && i < sc->nfields; i++) {
        if (!built[i])
            continue;
        bool vec = vdb_index_builds(c, i);
        if (st == VDB_OK) /* all or none: a half-indexed segment would be fine, but simpler */
            vdb_segment_set_attachment(s, i, built[i], vec ? free_vindex : free_sindex);
        else if (vec)
            vdb_vindex_free(built[i]);
        else
            vdb_sindex_free(built[i]);
    }
    if (lock)
        vdb_unlock_rw(lock, VDB_RANK_COLL);
    vdb_free(built);
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
    if (st == VDB_OK && (st = vdb_segment_check_mapped(j->s)) != VDB_OK) {
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
    vdb_buf_free(&b);
    vdb_lock_wr(&c->lock, VDB_RANK_COLL);
    want = wanted(j) && !vdb_segment_attachment(j->s, j->col);
    bool gone = !vdb_collection_has_sealed(c, j->s);
    if (want) {
        vdb_segment_set_attachment(j->s, j->col, v, free_vindex);
        v = NULL;
        vdb_segment_drop_mapped_pages(j->s); /* the build read every row (madvise, no I/O) */
    }
    vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
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

/* Sealed segments in the object store: seal (write the files), persist new deletes as delta
 * files, and load a segment back from its manifest, checking every object. */
#include <stdio.h>
#include <stdlib.h>

#include "seg_cache.h"
#include "segment_int.h"

#define BLOOM_FP 0.001

/* "<prefix>/<id>/<name>", or "<id>/<name>" with an empty prefix. */
static char *object_key(const char *prefix, uint64_t id, const char *name)
{
    char tail[64];
    snprintf(tail, sizeof tail, "%llu/%s", (unsigned long long)id, name);
    return prefix && *prefix ? vdb_path_join(prefix, tail) : vdb_strdup(tail);
}

/* Puts buf under key and records it in f (which takes the key). */
static vdb_status put_file(const vdb_segment *s, const vdb_object_backend *be, void *store,
                           char *key, const vdb_buf *buf, vdb_seg_file *f)
{
    if (!key)
        return vdb_set_errmsg(VDB_ENOMEM, "segment %llu: out of memory",
                              (unsigned long long)s->id);
    f->key = key;
    if (buf->oom)
        return vdb_set_errmsg(VDB_ENOMEM, "segment %llu: out of memory encoding '%s'",
                              (unsigned long long)s->id, key);
    vdb_status st = be->put(store, key, buf->p, buf->len);
    if (st) {
        char why[512];
        snprintf(why, sizeof why, "%s", vdb_err_get());
        return vdb_set_errmsg(st, "segment %llu: writing '%s': %s", (unsigned long long)s->id,
                              key, why);
    }
    f->size = buf->len;
    f->crc = vdb_crc32c(0, buf->p, buf->len);
    return VDB_OK;
}

static void fill_manifest(const vdb_segment *s, vdb_manifest *m)
{
    memset(m, 0, sizeof *m);
    m->id = s->id;
    m->partition_id = s->partition_id;
    m->shard = s->shard;
    m->rows = s->rows;
    m->min_ts = s->min_ts;
    m->max_ts = s->max_ts;
    m->end_pos = s->end_pos;
    m->ncols = s->nfiles >= 2 ? s->nfiles - 2 : s->ncols; /* a widened segment's files */
    m->files = s->files;
    m->nfiles = s->nfiles;
    m->deltas = s->deltas;
    m->ndeltas = s->ndeltas;
}

static vdb_status emit_manifest(const vdb_manifest *m, vdb_buf *out)
{
    size_t start = out->len;
    vdb_manifest_encode(m, out);
    if (out->oom) {
        out->len = start;
        out->oom = false;
        return vdb_set_errmsg(VDB_ENOMEM, "segment %llu: out of memory for the manifest",
                              (unsigned long long)m->id);
    }
    return VDB_OK;
}

vdb_status vdb_segment_deletes_snapshot(const vdb_segment *s, vdb_buf *out, size_t *count)
{
    vdb_delta_encode(s->dels, s->ndels, out);
    *count = s->ndels;
    return out->oom ? vdb_set_errmsg(VDB_ENOMEM, "segment %llu: out of memory for its deletes",
                                     (unsigned long long)s->id)
                    : VDB_OK;
}

vdb_status vdb_segment_seal_write(const vdb_segment *s, const vdb_object_backend *be,
                                  void *store, const char *prefix, const vdb_buf *deletes,
                                  size_t ndeletes, vdb_buf *manifest, vdb_seal_pending *out)
{
    vdb_status st = VDB_OK;
    memset(out, 0, sizeof *out);
    vdb_bloom bloom = {0};
    vdb_seg_file *files = NULL, *deltas = NULL;
    size_t nfiles = s->ncols + 2;
    vdb_buf buf = {0};
    if (s->sealed)
        return vdb_set_errmsg(VDB_EINVAL, "segment %llu is already sealed",
                              (unsigned long long)s->id);
    st = vdb_bloom_init(&bloom, s->rows, BLOOM_FP);
    if (st)
        goto fail;
    for (size_t r = 0; r < s->rows; r++)
        vdb_bloom_add(&bloom, vdb_pk_hash(vdb_pk_of(&s->cols[s->pk_col], r)));
    files = vdb_calloc(nfiles, sizeof *files);
    deltas = vdb_calloc(1, sizeof *deltas);
    if (!files || !deltas) {
        st = vdb_set_errmsg(VDB_ENOMEM, "segment %llu: out of memory", (unsigned long long)s->id);
        goto fail;
    }
    for (size_t i = 0; i < nfiles; i++) {
        char name[32];
        buf.len = 0;
        buf.oom = false;
        if (i < s->ncols) {
            snprintf(name, sizeof name, "col_%zu", i);
            st = vdb_binlog_encode(&s->cols[i], &buf);
        } else if (i == s->ncols) {
            /* The timestamps as an INT64 column, viewed in place rather than copied. */
            vdb_column tsc;
            vdb_column_init(&tsc, VDB_TYPE_INT64, 0, false);
            tsc.rows = tsc.cap = s->rows;
            tsc.data = (uint8_t *)s->ts;
            snprintf(name, sizeof name, "ts");
            st = vdb_binlog_encode(&tsc, &buf);
        } else {
            snprintf(name, sizeof name, "bloom");
            vdb_bloom_file_encode(&bloom, &buf);
        }
        if (st)
            goto fail;
        st = put_file(s, be, store, object_key(prefix, s->id, name), &buf, &files[i]);
        if (st)
            goto fail;
    }
    size_t ndeltas = 0;
    if (!deletes) { /* the caller keeps delete writers out: read them here */
        buf.len = 0;
        buf.oom = false;
        st = vdb_segment_deletes_snapshot(s, &buf, &ndeletes);
        if (st)
            goto fail;
        deletes = &buf;
    }
    if (ndeletes) {
        st = put_file(s, be, store, object_key(prefix, s->id, "delta_0"), deletes, &deltas[0]);
        if (st)
            goto fail;
        deltas[0].count = ndeletes;
        ndeltas = 1;
    }
    /* The manifest is made before the segment changes, so a failure leaves it growing. */
    vdb_manifest m;
    fill_manifest(s, &m);
    m.files = files;
    m.nfiles = nfiles;
    m.deltas = deltas;
    m.ndeltas = ndeltas;
    st = emit_manifest(&m, manifest);
    if (st)
        goto fail;
    *out = (vdb_seal_pending){files, nfiles, deltas, ndeltas, bloom, ndeletes, NULL, NULL};
    vdb_buf_free(&buf);
    return VDB_OK;
fail:
    vdb_buf_free(&buf);
    vdb_bloom_free(&bloom);
    vdb_seg_files_free(files, nfiles);
    vdb_seg_files_free(deltas, 1);
    return st;
}

static void column_set_mapped(vdb_column *c, size_t rows, vdb_seg_map *map, const void *data);

void vdb_segment_seal_finish(vdb_segment *s, vdb_seal_pending *p)
{
    for (size_t i = 0; p->maps && i < s->ncols; i++)
        if (p->maps[i]) {
            vdb_column_free(&s->cols[i]); /* the heap copy: readers are kept out by the caller */
            column_set_mapped(&s->cols[i], s->rows, p->maps[i], p->mapped[i]);
            p->maps[i] = NULL;
        }
    vdb_free(p->maps);
    vdb_free(p->mapped);
    vdb_seg_files_free(s->files, s->nfiles);
    vdb_seg_files_free(s->deltas, s->ndeltas);
    s->files = p->files;
    s->nfiles = p->nfiles;
    s->deltas = p->deltas;
    s->ndeltas = p->ndeltas;
    s->bloom = p->bloom;
    s->sealed = true;
    s->persisted = p->persisted;
    memset(p, 0, sizeof *p);
}

void vdb_seal_pending_free(vdb_seal_pending *p)
{
    for (size_t i = 0; p->maps && i < p->nfiles - 2; i++)
        vdb_seg_map_release(p->maps[i]); /* the files stay cached */
    vdb_free(p->maps);
    vdb_free(p->mapped);
    vdb_bloom_free(&p->bloom);
    vdb_seg_files_free(p->files, p->nfiles);
    vdb_seg_files_free(p->deltas, p->ndeltas);
    memset(p, 0, sizeof *p);
}

vdb_status vdb_segment_seal(vdb_segment *s, const vdb_object_backend *be, void *store,
                            const char *prefix, vdb_buf *manifest)
{
    return vdb_segment_seal_cached(s, be, store, prefix, NULL, manifest);
}

vdb_status vdb_segment_seal_cached(vdb_segment *s, const vdb_object_backend *be, void *store,
                                   const char *prefix, vdb_seg_cache *cache, vdb_buf *manifest)
{
    vdb_seal_pending p;
    vdb_status st = vdb_segment_seal_write(s, be, store, prefix, NULL, 0, manifest, &p);
    if (st == VDB_OK && cache)
        vdb_segment_seal_map(s, cache, &p);
    if (st == VDB_OK)
        vdb_segment_seal_finish(s, &p);
    return st;
}

vdb_status vdb_segment_deletes_write(const vdb_segment *s, const vdb_object_backend *be,
                                     void *store, const char *prefix, vdb_buf *manifest,
                                     vdb_delta_pending *out)
{
    memset(out, 0, sizeof *out);
    if (!s->sealed)
        return vdb_set_errmsg(VDB_EINVAL, "segment %llu is not sealed",
                              (unsigned long long)s->id);
    if (s->persisted == s->ndels)
        return VDB_OK;
    /* the segment's delta files (shared, not copied) with the new one last */
    vdb_seg_file *d = vdb_calloc(s->ndeltas + 1, sizeof *d);
    if (!d)
        return vdb_set_errmsg(VDB_ENOMEM, "segment %llu: out of memory",
                              (unsigned long long)s->id);
    memcpy(d, s->deltas, s->ndeltas * sizeof *d);
    vdb_seg_file *f = &d[s->ndeltas];
    char name[32];
    snprintf(name, sizeof name, "delta_%zu", s->ndeltas);
    vdb_buf buf = {0};
    vdb_delta_encode(s->dels + s->persisted, s->ndels - s->persisted, &buf);
    vdb_status st = put_file(s, be, store, object_key(prefix, s->id, name), &buf, f);
    vdb_buf_free(&buf);
    f->count = s->ndels - s->persisted;
    if (st == VDB_OK) {
        vdb_manifest m;
        fill_manifest(s, &m);
        m.deltas = d;
        m.ndeltas = s->ndeltas + 1;
        st = emit_manifest(&m, manifest);
    }
    if (st != VDB_OK) {
        vdb_free(f->key);
        vdb_free(d);
        return st;
    }
    *out = (vdb_delta_pending){d, s->ndeltas + 1, s->ndels};
    return VDB_OK;
}

void vdb_segment_deletes_finish(vdb_segment *s, vdb_delta_pending *p)
{
    if (!p->deltas)
        return;
    vdb_free(s->deltas); /* the array only: its keys moved into p's */
    s->deltas = p->deltas;
    s->ndeltas = p->ndeltas;
    s->persisted = p->persisted;
    memset(p, 0, sizeof *p);
}

void vdb_delta_pending_free(vdb_delta_pending *p)
{
    if (p->deltas) /* only the new, last file is the pending's own */
        vdb_free(p->deltas[p->ndeltas - 1].key);
    vdb_free(p->deltas);
    memset(p, 0, sizeof *p);
}

vdb_status vdb_segment_persist_deletes(vdb_segment *s, const vdb_object_backend *be,
                                       void *store, const char *prefix, vdb_buf *manifest,
                                       bool *wrote)
{
    vdb_delta_pending p;
    vdb_status st = vdb_segment_deletes_write(s, be, store, prefix, manifest, &p);
    *wrote = st == VDB_OK && p.deltas;
    if (*wrote)
        vdb_segment_deletes_finish(s, &p);
    return st;
}

/* Gets an object and checks it against its manifest entry. Frees with free(). */
static vdb_status get_file(const vdb_manifest *m, const vdb_object_backend *be, void *store,
                           const vdb_seg_file *f, void **data, size_t *len)
{
    *data = NULL;
    vdb_status st = be->get(store, f->key, data, len);
    if (st) {
        char why[512];
        snprintf(why, sizeof why, "%s", vdb_err_get());
        *data = NULL;
        /* The manifest lists it, so it was written: gone is damage, not a missing name. */
        if (st == VDB_ENOTFOUND)
            return vdb_set_errmsg(VDB_ECORRUPT, "segment %llu: object '%s' is missing (its "
                                  "manifest lists it): %s", (unsigned long long)m->id, f->key,
                                  why);
        return vdb_set_errmsg(st, "segment %llu: object '%s': %s", (unsigned long long)m->id,
                              f->key, why);
    }
    if (*len != f->size)
        st = vdb_set_errmsg(VDB_ECORRUPT, "segment %llu: object '%s' has %zu bytes, the "
                            "manifest says %llu", (unsigned long long)m->id, f->key, *len,
                            (unsigned long long)f->size);
    else if (vdb_crc32c(0, *data, *len) != f->crc)
        st = vdb_set_errmsg(VDB_ECORRUPT, "segment %llu: object '%s' fails its checksum",
                            (unsigned long long)m->id, f->key);
    if (st) {
        free(*data);
        *data = NULL;
    }
    return st;
}

size_t vdb_segment_verify(const void *manifest, size_t len, const vdb_object_backend *be,
                          void *store, void (*fn)(void *arg, vdb_status st), void *arg)
{
    vdb_manifest m;
    vdb_status st = vdb_manifest_decode(manifest, len, &m);
    if (st) {
        fn(arg, st);
        return 1;
    }
    size_t problems = 0;
    for (size_t i = 0; i < m.nfiles + m.ndeltas; i++) {
        const vdb_seg_file *f = i < m.nfiles ? &m.files[i] : &m.deltas[i - m.nfiles];
        void *data;
        size_t n;
        if ((st = get_file(&m, be, store, f, &data, &n)) != VDB_OK) {
            fn(arg, st);
            problems++;
            continue;
        }
        free(data);
    }
    vdb_manifest_free(&m);
    return problems;
}

/* Prefixes the current message with the segment and object it is about. */
static vdb_status name_error(vdb_status st, const vdb_manifest *m, const char *key)
{
    char why[512];
    snprintf(why, sizeof why, "%s", vdb_err_get());
    return vdb_set_errmsg(st, "segment %llu: object '%s': %s", (unsigned long long)m->id, key,
                          why);
}

static vdb_status load_column(const vdb_manifest *m, const vdb_object_backend *be, void *store,
                              const vdb_seg_file *f, vdb_type type, uint32_t dim, bool nullable,
                              vdb_column *out)
{
    void *data;
    size_t len;
    vdb_column_init(out, type, dim, nullable);
    vdb_status st = get_file(m, be, store, f, &data, &len);
    if (st)
        return st;
    st = vdb_binlog_decode(data, len, out);
    free(data);
    if (st)
        return name_error(st, m, f->key);
    if (out->type != type || (vdb_type_is_vector(type) && out->dim != dim) ||
        out->nullable != nullable || out->rows != m->rows) {
        st = vdb_set_errmsg(VDB_ECORRUPT, "segment %llu: object '%s' holds %zu %s%s rows "
                            "(dim %u), expected %llu %s%s (dim %u)", (unsigned long long)m->id,
                            f->key, out->rows, out->nullable ? "nullable " : "",
                            vdb_type_name(out->type), out->dim, (unsigned long long)m->rows,
                            nullable ? "nullable " : "", vdb_type_name(type), dim);
        vdb_column_free(out);
        return st;
    }
    out->dim = dim;
    return VDB_OK;
}

/* Whether a column of a sealed segment is read in place with options.mmap. */
static bool column_mappable(const vdb_column *c)
{
    return !c->nullable &&
           (vdb_type_is_vector(c->type) || c->type == VDB_TYPE_SPARSE_FLOAT_VECTOR);
}

/* A SPARSE_FLOAT_VECTOR column's cache file: its rows + 1 offsets (u64), zeros up to a
 * 64-byte boundary, then its rows' bytes (each row's indices then values; every row a
 * multiple of 8 bytes, so every row starts 8-byte aligned). Read in place as the column's
 * offsets and bytes. */
#define SPARSE_ALIGN 64u

static size_t sparse_offsets_len(size_t rows)
{
    return ((rows + 1) * sizeof(uint64_t) + SPARSE_ALIGN - 1) & ~(size_t)(SPARSE_ALIGN - 1);
}

/* What a column's cache file holds (data_len: its payload's bytes, for a put). */
static vdb_seg_map_shape column_shape(const vdb_column *c, size_t rows, uint32_t src_crc)
{
    vdb_seg_map_shape sh = {(uint32_t)c->type, c->dim, rows, 0, src_crc};
    if (c->type == VDB_TYPE_SPARSE_FLOAT_VECTOR)
        sh.data_len = sparse_offsets_len(rows) + c->nbytes;
    else
        sh.data_len = (uint64_t)rows * vdb_type_width(c->type, c->dim);
    return sh;
}

/* Column c (on the heap, c->rows rows) written as the cache file of object f and mapped. */
static vdb_status cache_put_column(vdb_seg_cache *cache, const vdb_seg_file *f,
                                   const vdb_column *c, vdb_seg_map **map, const void **data)
{
    vdb_seg_map_shape shape = column_shape(c, c->rows, f->crc);
    if (c->type != VDB_TYPE_SPARSE_FLOAT_VECTOR)
        return vdb_seg_cache_put(cache, f->key, &shape, c->data, map, data);
    static const uint8_t zeros[SPARSE_ALIGN];
    size_t olen = sparse_offsets_len(c->rows), raw = (c->rows + 1) * sizeof(uint64_t);
    const void *parts[3] = {c->offsets, zeros, c->bytes};
    size_t lens[3] = {raw, olen - raw, c->nbytes};
    return vdb_seg_cache_put_parts(cache, f->key, &shape, parts, lens, 3, map, data);
}

/* c (initialised, empty) reads rows rows in place from map, whose payload is data. */
static void column_set_mapped(vdb_column *c, size_t rows, vdb_seg_map *map, const void *data)
{
    /* read-only: a sealed column is never written */
    if (c->type == VDB_TYPE_SPARSE_FLOAT_VECTOR) {
        size_t olen = sparse_offsets_len(rows);
        c->offsets = (uint64_t *)data;
        c->bytes = (char *)data + olen;
        c->nbytes = vdb_seg_map_size(map) - olen;
    } else {
        c->data = (uint8_t *)data;
    }
    c->rows = c->cap = rows;
    c->map = map;
}

/* A vector column through the mmap cache: mapped from its cache file when that is there
 * and sound, otherwise decoded from its object (checked as load_column checks it), written
 * to the cache and mapped; the decoded copy is freed. */
static vdb_status load_mapped(const vdb_manifest *m, const vdb_object_backend *be, void *store,
                              vdb_seg_cache *cache, const vdb_seg_file *f, vdb_type type,
                              uint32_t dim, vdb_column *out)
{
    size_t width = vdb_type_width(type, dim);
    if (m->rows > SIZE_MAX / width)
        return vdb_set_errmsg(VDB_ECORRUPT, "segment %llu: %llu rows overflow",
                              (unsigned long long)m->id, (unsigned long long)m->rows);
    vdb_seg_map_shape shape = {(uint32_t)type, dim, m->rows, m->rows * width, f->crc};
    vdb_seg_map *map;
    const void *data;
    vdb_status st = vdb_seg_cache_get(cache, f->key, &shape, &map, &data);
    if (st)
        return name_error(st, m, f->key);
    if (!map) {
        vdb_column heap;
        st = load_column(m, be, store, f, type, dim, false, &heap);
        if (st)
            return st;
        st = vdb_seg_cache_put(cache, f->key, &shape, heap.data, &map, &data);
        vdb_column_free(&heap);
        if (st)
            return name_error(st, m, f->key);
    }
    vdb_column_init(out, type, dim, false);
    column_set_mapped(out, (size_t)m->rows, map, data);
    return VDB_OK;
}

/* The mapped layout checked once, as the binlog's decode checks it: every offset, and the
 * last one against the file's size. The payload's crc was verified when it was written. */
static bool sparse_layout_ok(const void *data, size_t len, size_t rows)
{
    size_t olen = sparse_offsets_len(rows);
    uint64_t nbytes;
    if (len < olen || vdb_column_check_offsets(data, rows, NULL, VDB_TYPE_SPARSE_FLOAT_VECTOR,
                                               &nbytes) != VDB_OK)
        return false;
    return nbytes == len - olen;
}

static vdb_status load_mapped_sparse(const vdb_manifest *m, const vdb_object_backend *be,
                                     void *store, vdb_seg_cache *cache, const vdb_seg_file *f,
                                     uint32_t dim, vdb_column *out)
{
    const vdb_type type = VDB_TYPE_SPARSE_FLOAT_VECTOR;
    if (m->rows >= SIZE_MAX / 16)
        return vdb_set_errmsg(VDB_ECORRUPT, "segment %llu: %llu rows overflow",
                              (unsigned long long)m->id, (unsigned long long)m->rows);
    size_t rows = (size_t)m->rows;
    vdb_seg_map_shape shape = {(uint32_t)type, dim, m->rows, VDB_SEG_MAP_ANY_LEN, f->crc};
    vdb_seg_map *map;
    const void *data;
    vdb_status st = vdb_seg_cache_get(cache, f->key, &shape, &map, &data);
    if (st)
        return name_error(st, m, f->key);
    if (map && !sparse_layout_ok(data, vdb_seg_map_size(map), rows)) {
        vdb_seg_map_discard(map); /* damaged at the same size: made again from the object */
        map = NULL;
    }
    if (!map) {
        vdb_column heap;
        st = load_column(m, be, store, f, type, dim, false, &heap);
        if (st)
            return st;
        st = cache_put_column(cache, f, &heap, &map, &data);
        vdb_column_free(&heap);
        if (st)
            return name_error(st, m, f->key);
    }
    vdb_column_init(out, type, dim, false);
    column_set_mapped(out, rows, map, data);
    return VDB_OK;
}

void vdb_segment_seal_map(const vdb_segment *s, vdb_seg_cache *cache, vdb_seal_pending *p)
{
    if (!s->rows || p->nfiles != s->ncols + 2)
        return;
    p->maps = vdb_calloc(s->ncols, sizeof *p->maps);
    p->mapped = vdb_calloc(s->ncols, sizeof *p->mapped);
    for (size_t i = 0; p->maps && p->mapped && i < s->ncols; i++) {
        const vdb_column *c = &s->cols[i];
        if (column_mappable(c) && cache_put_column(cache, &p->files[i], c, &p->maps[i],
                                                   &p->mapped[i]) != VDB_OK)
            p->maps[i] = NULL; /* stays on the heap, as a load over this bound would not */
    }
}

static vdb_status load_deltas(vdb_segment *s, const vdb_manifest *m,
                              const vdb_object_backend *be, void *store)
{
    for (size_t i = 0; i < m->ndeltas; i++) {
        const vdb_seg_file *f = &m->deltas[i];
        void *data;
        size_t len, n;
        vdb_delete_rec *recs;
        vdb_status st = get_file(m, be, store, f, &data, &len);
        if (st)
            return st;
        st = vdb_delta_decode(data, len, &recs, &n);
        if (st) {
            free(data);
            return name_error(st, m, f->key);
        }
        if (n != f->count) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "segment %llu: object '%s' holds %zu deletes, "
                                "the manifest says %llu", (unsigned long long)m->id, f->key, n,
                                (unsigned long long)f->count);
        }
        for (size_t j = 0; !st && j < n; j++) {
            vdb_pk_slot *slot = vdb_pk_index_find(&s->idx, &s->cols[s->pk_col], recs[j].pk);
            st = vdb_segment_add_delete(s, slot, recs[j].pk, recs[j].ts);
        }
        vdb_free(recs);
        free(data);
        if (st)
            return st;
    }
    return VDB_OK;
}

vdb_status vdb_segment_load(const void *manifest, size_t len, const vdb_segment_layout *layout,
                            const vdb_object_backend *be, void *store, vdb_segment **out)
{
    return vdb_segment_load_cached(manifest, len, layout, be, store, NULL, out);
}

vdb_status vdb_segment_load_cached(const void *manifest, size_t len,
                                   const vdb_segment_layout *layout,
                                   const vdb_object_backend *be, void *store,
                                   vdb_seg_cache *cache, vdb_segment **out)
{
    vdb_manifest m;
    vdb_segment *s = NULL;
    vdb_column tsc;
    vdb_column_init(&tsc, VDB_TYPE_INT64, 0, false);
    *out = NULL;
    vdb_status st = vdb_manifest_decode(manifest, len, &m);
    if (st)
        return st;
    /* fewer columns: written before fields were added (vdb_segment_widen fills them) */
    if (m.ncols > layout->ncols || (m.ncols < layout->ncols && !layout->fill)) {
        st = vdb_set_errmsg(VDB_ECORRUPT, "segment %llu: manifest has %zu columns, the layout "
                            "%zu", (unsigned long long)m.id, m.ncols, layout->ncols);
        goto fail;
    }
    vdb_segment_layout older = *layout;
    older.ncols = m.ncols;
    if (m.ncols < layout->ncols && layout->meta_last && layout->pk_col >= m.ncols - 1) {
        st = vdb_set_errmsg(VDB_ECORRUPT, "segment %llu: manifest has %zu columns, too few "
                            "for the layout", (unsigned long long)m.id, m.ncols);
        goto fail;
    }
    vdb_type otypes[VDB_SEG_MAX_COLS];
    uint32_t odims[VDB_SEG_MAX_COLS];
    bool onull[VDB_SEG_MAX_COLS];
    if (m.ncols < layout->ncols && layout->meta_last) { /* "$meta" was the last column then */
        if (m.ncols > VDB_SEG_MAX_COLS) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "segment %llu: %zu columns",
                                (unsigned long long)m.id, m.ncols);
            goto fail;
        }
        for (size_t i = 0; i < m.ncols; i++) {
            size_t j = i + 1 == m.ncols ? layout->ncols - 1 : i;
            otypes[i] = layout->types[j];
            odims[i] = layout->dims ? layout->dims[j] : 0;
            onull[i] = layout->nullable ? layout->nullable[j] : false;
        }
        older.types = otypes;
        older.dims = odims;
        older.nullable = onull;
    }
    st = vdb_segment_new(m.id, m.partition_id, m.shard, &older, &s);
    if (st)
        goto fail;
    for (size_t i = 0; i < s->ncols; i++) {
        vdb_column *c = &s->cols[i];
        if (cache && column_mappable(c) && m.rows)
            st = c->type == VDB_TYPE_SPARSE_FLOAT_VECTOR
                     ? load_mapped_sparse(&m, be, store, cache, &m.files[i], c->dim, c)
                     : load_mapped(&m, be, store, cache, &m.files[i], c->type, c->dim, c);
        else
            st = load_column(&m, be, store, &m.files[i], c->type, c->dim, c->nullable, c);
        if (st)
            goto fail;
    }
    st = load_column(&m, be, store, &m.files[s->ncols], VDB_TYPE_INT64, 0, false, &tsc);
    if (st)
        goto fail;
    /* The ts column's array becomes the segment's; it was allocated for uint64 rows. */
    s->ts = (uint64_t *)tsc.data;
    s->ts_cap = tsc.cap;
    tsc.data = NULL;
    s->rows = (size_t)m.rows;
    for (size_t r = 0; r < s->rows; r++) {
        if (r == 0 || s->ts[r] < s->min_ts)
            s->min_ts = s->ts[r];
        if (r == 0 || s->ts[r] > s->max_ts)
            s->max_ts = s->ts[r];
    }
    if (s->min_ts != m.min_ts || s->max_ts != m.max_ts) {
        st = vdb_set_errmsg(VDB_ECORRUPT, "segment %llu: object '%s' timestamps do not match "
                            "the manifest", (unsigned long long)m.id, m.files[s->ncols].key);
        goto fail;
    }
    void *data;
    size_t blen;
    const vdb_seg_file *bf = &m.files[s->ncols + 1];
    st = get_file(&m, be, store, bf, &data, &blen);
    if (st)
        goto fail;
    st = vdb_bloom_file_decode(data, blen, &s->bloom);
    free(data);
    if (st) {
        st = name_error(st, &m, bf->key);
        goto fail;
    }
    st = vdb_pk_index_reserve(&s->idx, s->rows);
    if (st)
        goto fail;
    for (size_t r = 0; r < s->rows; r++)
        vdb_pk_index_add(&s->idx, &s->cols[s->pk_col]);
    st = load_deltas(s, &m, be, store);
    if (st)
        goto fail;
    s->end_pos = m.end_pos;
    s->sealed = true;
    s->persisted = s->ndels;
    s->files = m.files;
    s->nfiles = m.nfiles;
    s->deltas = m.deltas;
    s->ndeltas = m.ndeltas;
    m.files = m.deltas = NULL; /* the segment's now */
    m.nfiles = m.ndeltas = 0;
    if ((st = vdb_segment_widen(s, layout)) != VDB_OK) {
        vdb_segment_free(s);
        return vdb_set_errmsg(st, "segment %llu: %s", (unsigned long long)m.id, vdb_err_get());
    }
    *out = s;
    return VDB_OK;
fail:
    vdb_column_free(&tsc);
    vdb_segment_free(s);
    vdb_manifest_free(&m);
    return st;
}

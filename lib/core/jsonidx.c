/* JSON path indexes: their parameters, meta record, per-segment builds and listing. */
#include <stdio.h>
#include <strings.h>

#include "core/jsonidx.h"
#include "util/kv.h"

#define RECORD_TAG "JSON_PATH"

void vdb_jpath_defs_free(vdb_jpath_def *defs, size_t n)
{
    for (size_t i = 0; defs && i < n; i++) {
        vdb_free(defs[i].name);
        vdb_free(defs[i].path);
        vdb_free(defs[i].key);
    }
    vdb_free(defs);
}

int vdb_jpath_named(const vdb_collection *c, const char *name)
{
    for (size_t i = 0; name && i < c->njpath; i++)
        if (!strcmp(c->jpath[i].name, name))
            return (int)i;
    return -1;
}

bool vdb_jpath_has(const vdb_collection *c, size_t f)
{
    for (size_t i = 0; i < c->njpath; i++)
        if (c->jpath[i].field == f)
            return true;
    return false;
}

static void def_clear(vdb_jpath_def *d)
{
    vdb_free(d->name);
    vdb_free(d->path);
    vdb_free(d->key);
    *d = (vdb_jpath_def){0};
}

static void *memdup(const void *p, size_t n)
{
    void *q = vdb_malloc(n ? n : 1);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

static void free_set(void *p)
{
    vdb_jpath_set *s = p;
    for (size_t i = 0; s && i < s->n; i++)
        vdb_jindex_free(s->ix[i]);
    if (s)
        vdb_free(s->ix);
    vdb_free(s);
}

/* ---- parameters ---- */

typedef struct jparams {
    const char *field;
    const char *path, *cast; /* into the buffers below (vdb_kv_each's strings do not last) */
    char pbuf[VDB_KV_MAX_TEXT + 1], cbuf[64];
} jparams;

static vdb_status jparam(void *arg, const char *key, const char *val)
{
    jparams *p = arg;
    if (!strcasecmp(key, "json_path"))
        p->path = memcpy(p->pbuf, val, VDB_MIN(strlen(val), sizeof p->pbuf - 1) + 1);
    else if (!strcasecmp(key, "json_cast_type"))
        p->cast = strncpy(p->cbuf, val, sizeof p->cbuf - 1);
    else if (!strcasecmp(key, "json_cast_function"))
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "json_cast_function (%s) is not supported: "
                              "JSON path indexes take the values of the cast type as they are",
                              val);
    else
        return vdb_set_errmsg(VDB_EINVAL, "a JSON path index on '%s' has no parameter '%s' "
                              "(json_path, json_cast_type)", p->field, key);
    return VDB_OK;
}

/* A def from the index type and parameters users give (the strings are copies). */
static vdb_status parse_def(const vdb_field_def *f, size_t field, const char *name,
                            const char *type, const char *params, vdb_jpath_def *out)
{
    *out = (vdb_jpath_def){0};
    if (strcasecmp(type, "INVERTED") && strcasecmp(type, "AUTOINDEX"))
        return vdb_set_errmsg(VDB_EINVAL, "index type %s does not suit JSON field '%s': a "
                              "JSON path index is INVERTED or AUTOINDEX", type, f->name);
    jparams p = {f->name, NULL, NULL, {0}, {0}};
    vdb_status st = vdb_kv_each(params, "index parameter", jparam, &p);
    if (st != VDB_OK)
        return st;
    if (!p.path || !p.cast)
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "an index on JSON field '%s' needs json_path "
                              "and json_cast_type (a path index); indexing the whole JSON "
                              "value is not supported", f->name);
    vdb_jcast cast = vdb_jcast_find(p.cast);
    if (!cast && (!strncasecmp(p.cast, "ARRAY_", 6) || !strcasecmp(p.cast, "JSON")))
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "json_cast_type %s is not supported yet "
                              "(BOOL, DOUBLE, VARCHAR are)", p.cast);
    if (!cast)
        return vdb_set_errmsg(VDB_EINVAL, "json_cast_type '%s' is unknown (BOOL, DOUBLE, "
                              "VARCHAR)", p.cast);
    for (const char *q = p.path; *q; q++)
        if ((unsigned char)*q < 0x20)
            return vdb_set_errmsg(VDB_EINVAL, "json_path of '%s' has a control character",
                                  f->name);
    out->field = field;
    out->cast = cast;
    if ((st = vdb_jpath_key(p.path, f->name, &out->key, &out->len)) != VDB_OK)
        return st;
    out->name = vdb_strdup(name);
    out->path = vdb_strdup(p.path);
    if (!out->name || !out->path) {
        def_clear(out);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    return VDB_OK;
}

/* ---- the meta record ---- */

static void rec_key(char *buf, size_t n, const vdb_collection *c, const char *field)
{
    snprintf(buf, n, "idx/%016llx/%s", (unsigned long long)c->id, field);
}

/* Writes field f's record for defs (deletes it when f has none). */
static vdb_status save(vdb_db *db, vdb_collection *c, size_t f, const vdb_jpath_def *defs,
                       size_t n)
{
    char key[400];
    vdb_buf b = {0};
    size_t count = 0;
    rec_key(key, sizeof key, c, c->schema->fields[f].def.name);
    vdb_buf_put(&b, RECORD_TAG, strlen(RECORD_TAG));
    for (size_t i = 0; i < n; i++) {
        if (defs[i].field != f)
            continue;
        const char *cast = vdb_jcast_name(defs[i].cast);
        vdb_buf_put(&b, "\n", 1);
        vdb_buf_put(&b, defs[i].name, strlen(defs[i].name));
        vdb_buf_put(&b, "\t", 1);
        vdb_buf_put(&b, cast, strlen(cast));
        vdb_buf_put(&b, "\t", 1);
        vdb_buf_put(&b, defs[i].path, strlen(defs[i].path));
        count++;
    }
    vdb_status st;
    if (b.oom)
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    else if (count)
        st = db->meta.be->put(db->meta.h, key, b.p, b.len);
    else
        st = db->meta.be->del(db->meta.h, key);
    vdb_buf_free(&b);
    return st;
}

vdb_status vdb_jpath_load(vdb_collection *c, int f, const char *key, const char *text,
                          size_t len)
{
    const vdb_field_def *fd = &c->schema->fields[f].def;
    size_t tag = strlen(RECORD_TAG);
    if (len < tag || memcmp(text, RECORD_TAG, tag) || (len > tag && text[tag] != '\n'))
        return vdb_set_errmsg(VDB_ECORRUPT, "meta key %s: JSON field '%s' has an index record "
                              "that is not one of JSON path indexes", key, fd->name);
    vdb_status st = VDB_OK;
    size_t at = tag + 1;
    while (at < len && st == VDB_OK) {
        const char *line = text + at, *end = memchr(line, '\n', len - at);
        size_t n = end ? (size_t)(end - line) : len - at;
        char *copy = vdb_malloc(n + 1), *tab1, *tab2 = NULL;
        if (!copy)
            return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        memcpy(copy, line, n);
        copy[n] = 0;
        at += n + 1;
        if (!(tab1 = strchr(copy, '\t')) || !(tab2 = strchr(tab1 + 1, '\t'))) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "meta key %s: a JSON path index line without "
                                "name, cast and path", key);
        } else {
            *tab1++ = 0;
            *tab2++ = 0;
            char params[VDB_KV_MAX_TEXT + 1];
            vdb_jpath_def d;
            vdb_jpath_def *grown;
            snprintf(params, sizeof params, "json_cast_type=%s,json_path=%s", tab1, tab2);
            if (!vdb_name_valid(copy) || vdb_jpath_named(c, copy) >= 0)
                st = vdb_set_errmsg(VDB_ECORRUPT, "meta key %s: JSON path index name '%s' is "
                                    "invalid or used twice", key, copy);
            else if ((st = parse_def(fd, (size_t)f, copy, "INVERTED", params, &d)) != VDB_OK)
                st = vdb_set_errmsg(VDB_ECORRUPT, "meta key %s: %s", key, vdb_err_get());
            else if (!(grown = vdb_realloc(c->jpath, (c->njpath + 1) * sizeof *grown))) {
                def_clear(&d);
                st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            } else {
                c->jpath = grown;
                c->jpath[c->njpath++] = d;
            }
        }
        vdb_free(copy);
    }
    return st;
}

/* ---- per-segment builds ---- */

/* The set of field f's indexes in defs[0..n) on s. */
static vdb_status build_set(const vdb_jpath_def *defs, size_t n, size_t f, vdb_segment *s,
                            vdb_jpath_set **out)
{
    *out = NULL;
    vdb_jpath_set *set = vdb_calloc(1, sizeof *set);
    if (!set || !(set->ix = vdb_calloc(n + 1, sizeof *set->ix))) {
        vdb_free(set);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    vdb_status st = VDB_OK;
    for (size_t i = 0; i < n && st == VDB_OK; i++) {
        if (defs[i].field != f)
            continue;
        st = vdb_jindex_build(vdb_segment_column(s, f), f, defs[i].key, defs[i].len,
                              defs[i].cast, &set->ix[set->n]);
        if (st == VDB_OK)
            set->n++;
    }
    if (st != VDB_OK || !set->n) {
        free_set(set);
        return st;
    }
    *out = set;
    return VDB_OK;
}

vdb_status vdb_jpath_index_segment(vdb_collection *c, vdb_segment *s, pthread_rwlock_t *lock)
{
    size_t nf = c->schema->nfields;
    vdb_jpath_set **sets = vdb_calloc(nf + 1, sizeof *sets);
    if (!sets)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    vdb_status st = VDB_OK;
    for (size_t f = 0; f < nf && st == VDB_OK; f++)
        if (vdb_jpath_has(c, f) && !vdb_segment_attachment(s, f))
            st = build_set(c->jpath, c->njpath, f, s, &sets[f]);
    if (lock)
        vdb_lock_wr(lock, VDB_RANK_COLL);
    for (size_t f = 0; f < nf; f++) {
        if (sets[f] && st == VDB_OK)
            vdb_segment_set_attachment(s, f, sets[f], free_set);
        else if (sets[f])
            free_set(sets[f]);
    }
    if (lock)
        vdb_unlock_rw(lock, VDB_RANK_COLL);
    vdb_free(sets);
    return st;
}

/* Makes defs[0..n) the path indexes of c: builds field f's sets on every sealed segment,
 * saves f's record, then swaps both in under c->lock (write_mu held). On failure nothing
 * changed and defs is the caller's. */
static vdb_status install(vdb_db *db, vdb_collection *c, size_t f, vdb_jpath_def *defs,
                          size_t n)
{
    vdb_jpath_set **sets = vdb_calloc(c->nsealed + 1, sizeof *sets);
    if (!sets)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    vdb_status st = VDB_OK;
    for (size_t i = 0; i < c->nsealed && st == VDB_OK; i++)
        st = build_set(defs, n, f, c->sealed[i], &sets[i]);
    if (st == VDB_OK)
        st = save(db, c, f, defs, n);
    if (st != VDB_OK) {
        for (size_t i = 0; i < c->nsealed; i++)
            free_set(sets[i]);
        vdb_free(sets);
        return st;
    }
    vdb_lock_wr(&c->lock, VDB_RANK_COLL);
    vdb_jpath_def *old = c->jpath;
    size_t nold = c->njpath;
    c->jpath = defs;
    c->njpath = n;
    for (size_t i = 0; i < c->nsealed; i++)
        vdb_segment_set_attachment(c->sealed[i], f, sets[i], sets[i] ? free_set : NULL);
    vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    vdb_free(sets);
    vdb_jpath_defs_free(old, nold);
    return VDB_OK;
}

/* A deep copy of c's defs with room for one more. */
static vdb_jpath_def *copy_defs(const vdb_collection *c)
{
    vdb_jpath_def *d = vdb_calloc(c->njpath + 1, sizeof *d);
    for (size_t i = 0; d && i < c->njpath; i++) {
        d[i] = c->jpath[i];
        d[i].name = vdb_strdup(c->jpath[i].name);
        d[i].path = vdb_strdup(c->jpath[i].path);
        d[i].key = memdup(c->jpath[i].key, c->jpath[i].len);
        if (!d[i].name || !d[i].path || !d[i].key) {
            vdb_jpath_defs_free(d, i + 1);
            return NULL;
        }
    }
    return d;
}

vdb_status vdb_jpath_create(vdb_db *db, vdb_collection *c, int f, const char *name,
                            const char *type, const char *params)
{
    const vdb_field_def *fd = &c->schema->fields[f].def;
    vdb_jpath_def want;
    if (!name)
        name = fd->name;
    vdb_status st = parse_def(fd, (size_t)f, name, type, params, &want);
    if (st != VDB_OK)
        return st;
    vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE);
    int same = vdb_jpath_named(c, name);
    bool used = false;
    for (size_t i = 0; i < c->schema->nfields; i++)
        used = used || (c->index[i].type && c->index[i].name && !strcmp(c->index[i].name, name));
    for (size_t i = 0; i < c->njpath && st == VDB_OK; i++) {
        const vdb_jpath_def *d = &c->jpath[i];
        if (d->field == want.field && d->len == want.len && !memcmp(d->key, want.key, d->len) &&
            (int)i != same)
            st = vdb_set_errmsg(VDB_EEXIST, "field '%s' already has a JSON path index on %s "
                                "('%s', %s): drop it first", fd->name, d->path, d->name,
                                vdb_jcast_name(d->cast));
    }
    if (st != VDB_OK) {
        /* as the message says */
    } else if (same >= 0) {
        const vdb_jpath_def *d = &c->jpath[same];
        if (d->field != want.field || d->cast != want.cast || d->len != want.len ||
            memcmp(d->key, want.key, d->len))
            st = vdb_set_errmsg(VDB_EEXIST, "index name '%s' is already used in '%s' (a JSON "
                                "path index on %s, %s): index names are unique within a "
                                "collection", name, c->name, d->path, vdb_jcast_name(d->cast));
        /* else: the same index again, as Milvus takes it */
    } else if (used) {
        st = vdb_set_errmsg(VDB_EEXIST, "index name '%s' is already used in '%s': give the "
                            "JSON path index another name (index_name)", name, c->name);
    } else {
        vdb_jpath_def *defs = copy_defs(c);
        if (!defs) {
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        } else {
            defs[c->njpath] = want;
            st = install(db, c, (size_t)f, defs, c->njpath + 1);
            if (st == VDB_OK)
                want = (vdb_jpath_def){0};
            else
                vdb_jpath_defs_free(defs, c->njpath); /* want is freed below */
        }
    }
    vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
    def_clear(&want);
    return st;
}

vdb_status vdb_jpath_drop(vdb_db *db, vdb_collection *c, int f, const char *name)
{
    int at = -1;
    if (name) {
        at = vdb_jpath_named(c, name);
    } else {
        size_t count = 0;
        for (size_t i = 0; i < c->njpath; i++)
            if ((int)c->jpath[i].field == f && count++ == 0)
                at = (int)i;
        if (count > 1)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s' of '%s' has %zu JSON path indexes: "
                                  "drop them by name", c->schema->fields[f].def.name, c->name,
                                  count);
    }
    if (at < 0)
        return name ? vdb_set_errmsg(VDB_ENOTFOUND, "index '%s' not found in '%s'", name,
                                     c->name)
                    : vdb_set_errmsg(VDB_ENOTFOUND, "field '%s' of '%s' has no index",
                                     c->schema->fields[f].def.name, c->name);
    size_t field = c->jpath[at].field;
    vdb_jpath_def *defs = copy_defs(c);
    if (!defs)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    def_clear(&defs[at]);
    memmove(&defs[at], &defs[at + 1], (c->njpath - (size_t)at - 1) * sizeof *defs);
    vdb_status st = install(db, c, field, defs, c->njpath - 1);
    if (st != VDB_OK)
        vdb_jpath_defs_free(defs, c->njpath - 1);
    return st;
}

size_t vdb_jpath_infos(const vdb_collection *c, const char *name, vdb_index_info *out,
                       vdb_status *st)
{
    size_t n = 0;
    *st = VDB_OK;
    for (size_t i = 0; i < c->njpath && *st == VDB_OK; i++) {
        const vdb_jpath_def *d = &c->jpath[i];
        if (name && strcmp(name, d->name))
            continue;
        vdb_index_info *o = &out[n++];
        vdb_buf p = {0};
        const char *cast = vdb_jcast_name(d->cast);
        vdb_buf_put(&p, "json_cast_type=", 15);
        vdb_buf_put(&p, cast, strlen(cast));
        vdb_buf_put(&p, ",json_path=", 11);
        vdb_buf_put(&p, d->path, strlen(d->path) + 1);
        o->struct_size = sizeof *o;
        o->type = "INVERTED";
        o->metric = "";
        o->state = VDB_INDEX_FINISHED;
        o->fail_status = VDB_OK;
        for (size_t s = 0; s < c->nsealed; s++) {
            uint64_t rows = vdb_segment_rows(c->sealed[s]);
            o->total_rows += rows;
            if (vdb_segment_attachment(c->sealed[s], d->field))
                o->indexed_rows += rows;
        }
        o->name = vdb_strdup(d->name);
        o->field = vdb_strdup(c->schema->fields[d->field].def.name);
        o->params = p.oom ? NULL : (const char *)p.p;
        if (p.oom)
            vdb_buf_free(&p);
        o->fail_reason = vdb_strdup("");
        if (!o->name || !o->field || !o->params || !o->fail_reason)
            *st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    return n;
}

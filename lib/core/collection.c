/* The collection object: creation from a schema, its record in the meta store
 * ("coll/<name>": id, schema, partitions), partition and shard lookups, the sealed-segment
 * list. */
#define _GNU_SOURCE
#include <stdio.h>

#include "core/collection.h"
#include "core/filter.h"
#include "core/jsonidx.h"

#define COLL_ENCODING 1

void vdb_meta_key(char *buf, size_t n, const char *kind, uint64_t coll, uint64_t id)
{
    snprintf(buf, n, "%s/%016llx/%016llx", kind, (unsigned long long)coll,
             (unsigned long long)id);
}

void vdb_collection_key(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "coll/%s", name);
}

void vdb_alias_key(char *buf, size_t n, const char *alias)
{
    snprintf(buf, n, "alias/%s", alias);
}

int vdb_partition_slot(const vdb_collection *c, uint64_t partition_id)
{
    for (size_t i = 0; i < c->nparts; i++)
        if (c->parts[i].id == partition_id)
            return (int)i;
    return -1;
}

int vdb_partition_by_name(const vdb_collection *c, const char *name)
{
    for (size_t i = 0; i < c->nparts; i++)
        if (!strcmp(c->parts[i].name, name))
            return (int)i;
    return -1;
}

uint32_t vdb_shard_of(const vdb_collection *c, vdb_pk pk)
{
    return c->nshards == 1 ? 0 : (uint32_t)(vdb_pk_hash(pk) % c->nshards);
}

vdb_status vdb_collection_check_writable(const vdb_collection *c)
{
    if (c->failed)
        return vdb_set_errmsg(VDB_EIO, "collection '%s' refuses writes after a failed write; "
                              "reopen the database to recover it", c->name);
    return VDB_OK;
}

void vdb_collection_free(vdb_collection *c)
{
    if (!c)
        return;
    for (uint32_t s = 0; s < c->nshards && c->shards; s++) {
        vdb_shard *sh = &c->shards[s];
        for (size_t g = 0; g < sh->ngrowing; g++)
            vdb_segment_free(sh->growing[g]);
        for (size_t g = 0; g < sh->nsealing; g++)
            vdb_segment_free(sh->sealing[g]);
        vdb_free(sh->growing);
        vdb_free(sh->sealing);
        vdb_free(sh->seal_fail_msg);
        pthread_mutex_destroy(&sh->seal_mu);
    }
    for (size_t i = 0; i < c->nsealed; i++)
        vdb_segment_free(c->sealed[i]);
    for (size_t i = 0; i < c->nparts; i++)
        vdb_free(c->parts[i].name);
    vdb_free(c->sealed);
    vdb_free(c->parts);
    vdb_props_free(&c->props);
    vdb_free(c->shards);
    vdb_free(c->expr_fields);
    for (size_t i = 0; c->index && c->schema && i < c->schema->nfields; i++) {
        vdb_free(c->index[i].fail_msg);
        vdb_free(c->index[i].name);
    }
    vdb_free(c->index);
    vdb_jpath_defs_free(c->jpath, c->njpath);
    vdb_free(c->types);
    vdb_free(c->dims);
    vdb_free(c->nullable);
    for (size_t i = 0; c->fill && i < c->ncols; i++)
        vdb_column_free(&c->fill[i]);
    vdb_free(c->fill);
    vdb_schema_free(c->schema);
    vdb_free(c->name);
    pthread_mutex_destroy(&c->write_mu);
    pthread_rwlock_destroy(&c->lock);
    vdb_free(c);
}

vdb_status vdb_collection_new(const vdb_schema *schema, uint64_t id, uint64_t incarnation,
                              vdb_collection **out)
{
    vdb_collection *c = vdb_calloc(1, sizeof *c);
    if (!c)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    pthread_mutex_init(&c->write_mu, NULL);
    /* writers first: a steady stream of searches must not starve inserts */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&c->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    c->id = id;
    c->incarnation = incarnation;
    vdb_status st = vdb_schema_copy(schema, &c->schema);
    if (st != VDB_OK) {
        vdb_free(c);
        return st;
    }
    c->name = vdb_strdup(schema->name);
    c->ncols = schema->nfields + (schema->dynamic ? 1 : 0);
    c->types = vdb_calloc(c->ncols, sizeof *c->types);
    c->dims = vdb_calloc(c->ncols, sizeof *c->dims);
    c->nullable = vdb_calloc(c->ncols, sizeof *c->nullable);
    c->fill = vdb_calloc(c->ncols, sizeof *c->fill);
    c->index = vdb_calloc(schema->nfields + 1, sizeof *c->index);
    c->nshards = schema->shards;
    c->shards = vdb_calloc(c->nshards, sizeof *c->shards);
    if (!c->shards) { /* nothing to destroy in a shard yet */
        c->nshards = 0;
    }
    for (uint32_t s = 0; s < c->nshards; s++)
        pthread_mutex_init(&c->shards[s].seal_mu, NULL);
    if (!c->name || !c->types || !c->dims || !c->nullable || !c->fill || !c->index ||
        !c->shards) {
        vdb_collection_free(c);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < schema->nfields; i++) {
        const vdb_field_def *d = &schema->fields[i].def;
        c->types[i] = d->type;
        c->dims[i] = vdb_type_is_vector(d->type) ? d->dim : 0;
        c->nullable[i] = d->nullable != 0;
    }
    if (schema->dynamic)
        c->types[schema->nfields] = VDB_TYPE_JSON;
    for (size_t i = 0; i < c->ncols; i++)
        vdb_column_init(&c->fill[i], c->types[i], c->dims[i], c->nullable[i]);
    /* what a row written before a field was added reads: its default, else NULL (only
     * fields added since can be missing: the others were in every record and segment) */
    for (size_t i = 0; i < schema->nfields && st == VDB_OK; i++) {
        const vdb_field *f = &c->schema->fields[i];
        if (f->added_ts && f->has_default)
            st = vdb_field_push_default(&c->fill[i], f);
        else if (f->added_ts && f->def.nullable)
            st = vdb_column_push(&c->fill[i], NULL, 0, false);
    }
    if (st != VDB_OK) {
        vdb_collection_free(c);
        return st;
    }
    c->layout = (vdb_segment_layout){c->ncols, c->types, c->dims, c->nullable,
                                     (size_t)schema->pk, c->fill, schema->dynamic};
    if ((st = vdb_filter_init(c)) != VDB_OK) {
        vdb_collection_free(c);
        return st;
    }
    /* The incarnation in every name, so that a collection made again with the same id (after
     * its meta record was lost) never reads an old one's channel or files; 0 (a collection
     * from before incarnations) keeps the old names. */
    if (incarnation)
        snprintf(c->seg_prefix, sizeof c->seg_prefix, "c%016llx-%016llx",
                 (unsigned long long)id, (unsigned long long)incarnation);
    else
        snprintf(c->seg_prefix, sizeof c->seg_prefix, "c%016llx", (unsigned long long)id);
    for (uint32_t s = 0; s < c->nshards; s++)
        snprintf(c->shards[s].channel, sizeof c->shards[s].channel, "%.40s-s%u", c->seg_prefix,
                 s);
    *out = c;
    return VDB_OK;
}

vdb_status vdb_collection_add_partition(vdb_collection *c, const char *name, uint64_t id)
{
    vdb_partition *parts = vdb_realloc(c->parts, (c->nparts + 1) * sizeof *parts);
    if (!parts)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    c->parts = parts;
    for (uint32_t s = 0; s < c->nshards; s++) {
        vdb_shard *sh = &c->shards[s];
        vdb_segment **g = vdb_realloc(sh->growing, (c->nparts + 1) * sizeof *g);
        if (!g)
            return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        g[c->nparts] = NULL;
        sh->growing = g;
        sh->ngrowing = c->nparts + 1;
    }
    char *n = vdb_strdup(name);
    if (!n)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    c->parts[c->nparts].name = n;
    c->parts[c->nparts].id = id;
    c->nparts++;
    return VDB_OK;
}

static vdb_status encode_with(const vdb_collection *c, const vdb_schema *schema,
                              const vdb_partition *extra, int skip_slot, vdb_buf *b)
{
    vdb_buf_u32(b, COLL_ENCODING);
    vdb_buf_u64(b, c->id);
    vdb_schema_encode(schema, b);
    uint32_t n = (uint32_t)c->nparts + (extra ? 1 : 0) - (skip_slot >= 0 ? 1 : 0);
    vdb_buf_u32(b, n);
    for (size_t i = 0; i < c->nparts; i++) {
        if ((int)i == skip_slot)
            continue;
        vdb_buf_str(b, c->parts[i].name);
        vdb_buf_u64(b, c->parts[i].id);
    }
    if (extra) {
        vdb_buf_str(b, extra->name);
        vdb_buf_u64(b, extra->id);
    }
    vdb_buf_u64(b, c->incarnation); /* after the partitions: records without it are older */
    if (c->props.n) { /* after the incarnation: records without them have none */
        vdb_buf_u32(b, (uint32_t)c->props.n);
        for (size_t i = 0; i < c->props.n; i++) {
            vdb_buf_str(b, c->props.keys[i]);
            vdb_buf_str(b, c->props.vals[i]);
        }
    }
    return b->oom ? vdb_set_errmsg(VDB_ENOMEM, "out of memory") : VDB_OK;
}

vdb_status vdb_collection_encode(const vdb_collection *c, const vdb_partition *extra,
                                 int skip_slot, vdb_buf *b)
{
    return encode_with(c, c->schema, extra, skip_slot, b);
}

vdb_status vdb_collection_encode_schema(const vdb_collection *c, const vdb_schema *schema,
                                       vdb_buf *b)
{
    return encode_with(c, schema, NULL, -1, b);
}

vdb_status vdb_collection_encode_as(const vdb_collection *c, const char *name, vdb_buf *b)
{
    vdb_schema *s;
    vdb_status st = vdb_schema_copy(c->schema, &s);
    if (st != VDB_OK)
        return st;
    char *n = vdb_strdup(name);
    if (!n) {
        vdb_schema_free(s);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    vdb_free(s->name);
    s->name = n;
    st = encode_with(c, s, NULL, -1, b);
    vdb_schema_free(s);
    return st;
}

vdb_status vdb_collection_decode(const void *val, size_t len, vdb_collection **out)
{
    vdb_rd r = vdb_rd_init(val, len);
    if (vdb_rd_u32(&r) != COLL_ENCODING)
        return vdb_set_errmsg(VDB_EVERSION, "collection record of an unknown encoding");
    uint64_t id = vdb_rd_u64(&r);
    vdb_schema *s = NULL;
    vdb_status st = vdb_schema_decode(&r, &s);
    if (st != VDB_OK)
        return st;
    /* The partitions are read first into a list, for the incarnation after them names the
     * collection's channels. */
    uint32_t n = vdb_rd_u32(&r);
    bool short_rec = r.err || n > r.len - r.off;
    vdb_partition *parts = short_rec ? NULL : vdb_calloc(n ? n : 1, sizeof *parts);
    if (!parts) {
        vdb_schema_free(s);
        return short_rec
                   ? vdb_set_errmsg(VDB_ECORRUPT, "collection record is truncated")
                   : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    uint32_t got = 0;
    for (; got < n && !r.err; got++) {
        parts[got].name = vdb_rd_str(&r);
        parts[got].id = vdb_rd_u64(&r);
        if (!parts[got].name || r.err) {
            vdb_free(parts[got].name);
            r.err = true;
            break;
        }
    }
    uint64_t incarnation = !r.err && r.len - r.off >= 8 ? vdb_rd_u64(&r) : 0;
    vdb_collection *c = NULL;
    st = r.err ? vdb_set_errmsg(VDB_ECORRUPT, "collection record is truncated")
               : vdb_collection_new(s, id, incarnation, &c);
    vdb_schema_free(s);
    for (uint32_t i = 0; i < got; i++) {
        if (st == VDB_OK)
            st = vdb_collection_add_partition(c, parts[i].name, parts[i].id);
        vdb_free(parts[i].name);
    }
    vdb_free(parts);
    if (st != VDB_OK) {
        vdb_collection_free(c);
        return st;
    }
    if (c->nparts == 0)
        st = vdb_set_errmsg(VDB_ECORRUPT, "collection record of '%s' is corrupt", c->name);
    if (st == VDB_OK && !r.err && r.len - r.off >= 4) {
        uint32_t np = vdb_rd_u32(&r);
        vdb_props p = {0};
        bool oom = false;
        if (np > r.len - r.off)
            r.err = true;
        else if (!(p.keys = vdb_calloc(np ? np : 1, sizeof *p.keys)) ||
                 !(p.vals = vdb_calloc(np ? np : 1, sizeof *p.vals)))
            oom = r.err = true;
        for (; !r.err && p.n < np; p.n++) {
            p.keys[p.n] = vdb_rd_str(&r);
            p.vals[p.n] = vdb_rd_str(&r);
            if (!p.keys[p.n] || !p.vals[p.n] || r.err) {
                r.err = true;
                p.n++;
            }
        }
        uint64_t ttl = 0;
        if (oom)
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        else if (r.err)
            st = vdb_set_errmsg(VDB_ECORRUPT, "properties of collection record '%s' are "
                                "corrupt", c->name);
        else
            st = vdb_props_check(&p, &ttl);
        if (st == VDB_OK)
            vdb_collection_take_props(c, &p, ttl);
        vdb_props_free(&p);
    }
    if (st != VDB_OK) {
        vdb_collection_free(c);
        return st;
    }
    *out = c;
    return VDB_OK;
}

vdb_status vdb_collection_add_sealed(vdb_collection *c, vdb_segment *s)
{
    if (c->nsealed == c->sealed_cap) {
        size_t cap = c->sealed_cap ? c->sealed_cap * 2 : 16;
        vdb_segment **v = vdb_realloc(c->sealed, cap * sizeof *v);
        if (!v)
            return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        c->sealed = v;
        c->sealed_cap = cap;
    }
    c->sealed[c->nsealed++] = s;
    return VDB_OK;
}

bool vdb_collection_has_sealed(const vdb_collection *c, const vdb_segment *s)
{
    for (size_t i = 0; i < c->nsealed; i++)
        if (c->sealed[i] == s)
            return true;
    return false;
}

vdb_status vdb_shard_add_sealing(vdb_shard *sh, vdb_segment *s)
{
    if (sh->nsealing == sh->sealing_cap) {
        size_t cap = sh->sealing_cap ? sh->sealing_cap * 2 : 8;
        vdb_segment **v = vdb_realloc(sh->sealing, cap * sizeof *v);
        if (!v)
            return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        sh->sealing = v;
        sh->sealing_cap = cap;
    }
    sh->sealing[sh->nsealing++] = s;
    return VDB_OK;
}

bool vdb_shard_take_sealing(vdb_shard *sh, const vdb_segment *s)
{
    for (size_t i = 0; i < sh->nsealing; i++)
        if (sh->sealing[i] == s) {
            memmove(&sh->sealing[i], &sh->sealing[i + 1],
                    (sh->nsealing - i - 1) * sizeof *sh->sealing);
            sh->nsealing--;
            return true;
        }
    return false;
}

void vdb_collection_remove_sealed(vdb_collection *c, vdb_segment *const *segs, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->nsealed; i++) {
        bool gone = false;
        for (size_t k = 0; k < n && !gone; k++)
            gone = c->sealed[i] == segs[k];
        if (gone)
            vdb_segment_free(c->sealed[i]);
        else
            c->sealed[kept++] = c->sealed[i];
    }
    c->nsealed = kept;
}

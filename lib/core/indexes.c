/* Index DDL: create, drop, describe and list the indexes of fields (by field or by index
 * name), and the checks of index types and parameters. The choice is kept in the meta store
 * ("idx/<collection>/<field>": the type, its parameters on a second line, the index's name on
 * a third unless it is the field's); the indexes themselves are built for each sealed
 * segment (segment_index.c) when it is sealed, loaded, or when the index is created. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "core/events.h"
#include "core/follow.h"
#include "core/indexes.h"
#include "core/jsonidx.h"
#include "core/segment_index.h"
#include "util/kv.h"

/* metric_type is the field's business: it must match the field's metric. */
static bool metric_hook(void *arg, const char *key, const char *val, vdb_status *st)
{
    const vdb_field_def *f = arg;
    if (strcasecmp(key, "metric_type") && strcasecmp(key, "metricType"))
        return false;
    vdb_metric m = !strcasecmp(val, "L2") ? VDB_METRIC_L2 : !strcasecmp(val, "IP") ? VDB_METRIC_IP
                   : !strcasecmp(val, "COSINE") ? VDB_METRIC_COSINE
                   : !strcasecmp(val, "HAMMING") ? VDB_METRIC_HAMMING
                   : !strcasecmp(val, "JACCARD") ? VDB_METRIC_JACCARD
                   : !strcasecmp(val, "BM25") ? VDB_METRIC_BM25 : 0;
    *st = VDB_OK;
    if (!vdb_type_is_any_vector(f->type) || m != f->metric)
        *st = vdb_set_errmsg(VDB_EINVAL, "metric_type %s does not match field '%s' (%s)", val,
                             f->name, vdb_type_is_any_vector(f->type) ? vdb_metric_name(f->metric)
                                                                       : "not a vector field");
    return true;
}

/* A vector type as Milvus's messages spell it ("Int8Vector"). */
static const char *milvus_type_name(vdb_type t)
{
    switch (t) {
    case VDB_TYPE_FLOAT_VECTOR: return "FloatVector";
    case VDB_TYPE_FLOAT16_VECTOR: return "Float16Vector";
    case VDB_TYPE_BFLOAT16_VECTOR: return "BFloat16Vector";
    case VDB_TYPE_INT8_VECTOR: return "Int8Vector";
    case VDB_TYPE_SPARSE_FLOAT_VECTOR: return "SparseFloatVector";
    default: return vdb_type_name(t);
    }
}

static vdb_status choose_vector(const vdb_field_def *f, const char *type, const char *params,
                                vdb_field_index *out)
{
    const vdb_vindex_kind *k = vdb_vindex_kind_find(type);
    if (f->type == VDB_TYPE_SPARSE_FLOAT_VECTOR && type && !strcasecmp(type, "AUTOINDEX"))
        k = &vdb_sparse_inverted_kind; /* as Milvus's AUTOINDEX picks for sparse fields */
    if (f->type == VDB_TYPE_BINARY_VECTOR && type && !strcasecmp(type, "AUTOINDEX"))
        k = &vdb_bin_flat_kind; /* exact, as AUTOINDEX on the other dense types */
    if (!k && vdb_vindex_kind_unsupported(type))
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "index type %s on vector field '%s' is not "
                              "supported (%s are)", type, f->name, vdb_vindex_kind_names());
    if (!k)
        return vdb_set_errmsg(VDB_EINVAL, "unknown index type '%s' for vector field '%s' (%s)",
                              type, f->name, vdb_vindex_kind_names());
    if (!(k->types & VDB_VTYPE_BIT(f->type))) {
        char kinds[256];
        vdb_vindex_kind_names_for(f->type, kinds, sizeof kinds);
        return vdb_set_errmsg(VDB_EINVAL, "data type %s can't build with this index %s (field "
                              "'%s' is %s: it takes %s)", milvus_type_name(f->type), k->name,
                              f->name, vdb_type_name(f->type), kinds);
    }
    vdb_vectors shape = {f->type, f->dim, f->metric, 0, NULL, NULL};
    vdb_status st = vdb_vindex_spec_parse(k, params, &shape, metric_hook, (void *)f, &out->spec);
    if (st == VDB_OK)
        out->type = k->name;
    return st;
}

/* Scalar indexes take no parameters (a metric_type they refuse as not a vector field). */
typedef struct scalar_params {
    const vdb_field_def *f;
    const char *kind;
} scalar_params;

static vdb_status scalar_param(void *arg, const char *key, const char *val)
{
    scalar_params *p = arg;
    vdb_status st;
    if (metric_hook((void *)p->f, key, val, &st))
        return st;
    return vdb_set_errmsg(VDB_EINVAL, "index type %s has no parameter '%s' (%s=%s)", p->kind,
                          key, key, val);
}

/* INVERTED or BITMAP over the elements of an ARRAY field (Milvus's rules: BITMAP for bool,
 * int and varchar elements; INVERTED for those and float/double). */
static vdb_status choose_array(const vdb_field_def *f, vdb_sindex_kind k, const char *type,
                               const char *params, vdb_field_index *out)
{
    if (!k && (vdb_vindex_kind_find(type) || vdb_vindex_kind_unsupported(type)))
        return vdb_set_errmsg(VDB_EINVAL, "index type %s is for vector fields; '%s' is ARRAY",
                              type, f->name);
    if (!k)
        return vdb_set_errmsg(VDB_EINVAL, "unknown index type '%s' for field '%s' (ARRAY: "
                              "INVERTED, BITMAP, AUTOINDEX)", type, f->name);
    if (!vdb_sindex_suits_elems(k, f->element_type))
        return vdb_set_errmsg(VDB_EINVAL, "index type %s does not suit ARRAY field '%s' of %s "
                              "(ARRAY fields take INVERTED, or BITMAP for BOOL, INT8..INT64 "
                              "and VARCHAR elements)", vdb_sindex_kind_name(k), f->name,
                              vdb_type_name(f->element_type));
    scalar_params sp = {f, vdb_sindex_kind_name(k)};
    vdb_status st = vdb_kv_each(params, "index parameter", scalar_param, &sp);
    if (st == VDB_OK) {
        out->skind = k;
        out->type = vdb_sindex_kind_name(k);
    }
    return st;
}

static vdb_status choose_scalar(const vdb_field_def *f, const char *type, const char *params,
                                vdb_field_index *out)
{
    vdb_type t = f->type;
    if (t == VDB_TYPE_JSON)
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "field '%s' is %s: no scalar index for it yet",
                              f->name, vdb_type_name(t));
    vdb_sindex_kind k = !strcasecmp(type, "AUTOINDEX") ? vdb_sindex_auto(t)
                                                       : vdb_sindex_kind_find(type);
    if (t == VDB_TYPE_ARRAY) /* an index of the elements; AUTOINDEX picks INVERTED for them */
        return choose_array(f, k ? k : !strcasecmp(type, "AUTOINDEX") ? VDB_SINDEX_INVERTED : 0,
                            type, params, out);
    if (k == VDB_SINDEX_BITMAP && f->is_primary)
        return vdb_set_errmsg(VDB_EINVAL, "index type BITMAP cannot index the primary key "
                              "'%s' (every value is distinct)", f->name);
    if (!k && (vdb_vindex_kind_find(type) || vdb_vindex_kind_unsupported(type)))
        return vdb_set_errmsg(VDB_EINVAL, "index type %s is for vector fields; '%s' is %s",
                              type, f->name, vdb_type_name(t));
    if (!k)
        return vdb_set_errmsg(VDB_EINVAL, "unknown index type '%s' for field '%s' (scalar: %s, "
                              "AUTOINDEX)", type, f->name, vdb_sindex_kind_names());
    if (!vdb_sindex_suits(k, t))
        return vdb_set_errmsg(VDB_EINVAL, "index type %s does not suit field '%s' of type %s "
                              "(STL_SORT: numeric; TRIE: VARCHAR; INVERTED: any scalar; "
                              "BITMAP: BOOL, INT8..INT64, VARCHAR)",
                              vdb_sindex_kind_name(k), f->name, vdb_type_name(t));
    scalar_params sp = {f, vdb_sindex_kind_name(k)};
    vdb_status st = vdb_kv_each(params, "index parameter", scalar_param, &sp);
    if (st == VDB_OK) {
        out->skind = k;
        out->type = vdb_sindex_kind_name(k);
    }
    return st;
}

vdb_status vdb_index_choose(const vdb_field_def *f, const char *type, const char *params,
                            vdb_field_index *out)
{
    *out = (vdb_field_index){0};
    return vdb_type_is_any_vector(f->type) ? choose_vector(f, type, params, out)
                                                : choose_scalar(f, type, params, out);
}

/* The meta value: the type, then its parameters on a second line, then the index's name on
 * a third when it is not the field's (records written before index names had no name). */
static int encode_value(char *buf, size_t n, const vdb_field_index *x, const char *field)
{
    bool named = x->name && strcmp(x->name, field);
    if ((!x->spec.kind || !x->spec.kind->n_build_params) && !named)
        return snprintf(buf, n, "%s", x->type);
    int k = snprintf(buf, n, "%s\n", x->type);
    size_t at = k > 0 ? (size_t)k : 0;
    if (x->spec.kind && x->spec.kind->n_build_params)
        k += vdb_vindex_spec_format(&x->spec, buf + VDB_MIN(at, n), at < n ? n - at : 0);
    at = k > 0 ? (size_t)k : 0;
    if (named)
        k += snprintf(buf + VDB_MIN(at, n), at < n ? n - at : 0, "\n%s", x->name);
    return k;
}

static bool same_index(const vdb_field_index *a, const vdb_field_index *b)
{
    if (!a->type || !b->type || strcmp(a->type, b->type))
        return false;
    return !a->spec.kind || vdb_vindex_spec_equal(&a->spec, &b->spec);
}

static void idx_key(char *buf, size_t n, const vdb_collection *c, const char *field)
{
    snprintf(buf, n, "idx/%016llx/%s", (unsigned long long)c->id, field);
}

static vdb_status find_field(vdb_collection *c, const char *field, int *f)
{
    *f = vdb_schema_find(c->schema, field);
    if (*f < 0)
        return vdb_set_errmsg(VDB_ENOTFOUND, "collection '%s' has no field '%s'", c->name,
                              field);
    return VDB_OK;
}

/* The collection and the field's column (under the caller's catalog lock). */
static vdb_status lookup_field(vdb_db *db, const char *collection, const char *field,
                               vdb_collection **c, int *f)
{
    vdb_status st = vdb_catalog_lookup(&db->catalog, collection, c);
    return st == VDB_OK ? find_field(*c, field, f) : st;
}

/* The field whose index is called name, -1 if none (write_mu or c->lock held). */
static int index_named(const vdb_collection *c, const char *name)
{
    for (size_t i = 0; i < c->schema->nfields; i++)
        if (c->index[i].type && c->index[i].name && !strcmp(c->index[i].name, name))
            return (int)i;
    return -1;
}

static vdb_status check_index_name(const char *name)
{
    if (!vdb_name_valid(name))
        return vdb_set_errmsg(VDB_EINVAL, "index name '%s' is invalid: use 1..255 letters, "
                              "digits or '_', starting with a letter or '_'", name);
    return VDB_OK;
}

vdb_status vdb_create_index_named(vdb_db *db, const char *collection, const char *field,
                                  const char *index_name, const char *type, const char *params)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_create_index_named");
    VDB_CHECK_ARG(db && collection && field, "vdb_create_index: db, collection or field is "
                  "NULL");
    if (!type || !*type)
        type = "AUTOINDEX";
    const char *name = index_name && *index_name ? index_name : NULL;
    if (name && check_index_name(name) != VDB_OK)
        return VDB_EINVAL;
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    int f;
    vdb_field_index want;
    vdb_status st = lookup_field(db, collection, field, &c, &f);
    if (st == VDB_OK && c->schema->fields[f].def.type == VDB_TYPE_JSON) {
        st = vdb_jpath_create(db, c, f, name, type, params);
        goto out;
    }
    if (st == VDB_OK)
        st = vdb_index_choose(&c->schema->fields[f].def, type, params, &want);
    if (st != VDB_OK)
        goto out;
    vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE); /* no seal or compaction while the index is added */
    vdb_field_index *x = &c->index[f];
    int other = -1;
    if (x->type && name && strcmp(name, x->name)) {
        st = vdb_set_errmsg(VDB_EEXIST, "at most one distinct index is allowed per field: "
                            "field '%s' already has index '%s' (%s): drop it first", field,
                            x->name, x->type);
    } else if (x->type && !same_index(x, &want)) {
        st = vdb_set_errmsg(VDB_EEXIST, "field '%s' already has a %s index%s ('%s'): drop it "
                            "first", field, x->type, strcmp(x->type, want.type) ? ""
                            : " with other parameters", x->name);
    } else if (!x->type && vdb_jpath_named(c, name ? name : field) >= 0) {
        st = vdb_set_errmsg(VDB_EEXIST, "index name '%s' is already used in '%s' (by a JSON "
                            "path index): index names are unique within a collection",
                            name ? name : field, collection);
    } else if (!x->type && (other = index_named(c, name ? name : field)) >= 0) {
        st = vdb_set_errmsg(VDB_EEXIST, "index name '%s' is already used in '%s' (by the "
                            "index of field '%s'): index names are unique within a collection",
                            name ? name : field, collection, c->schema->fields[other].def.name);
    } else if (!x->type) {
        char key[400], val[800];
        want.name = vdb_strdup(name ? name : field);
        if (!want.name) {
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            goto unlock;
        }
        idx_key(key, sizeof key, c, field);
        int n = encode_value(val, sizeof val, &want, field);
        st = db->meta.be->put(db->meta.h, key, val, (size_t)n);
        if (st != VDB_OK)
            vdb_free(want.name);
        if (st == VDB_OK) {
            vdb_lock_wr(&c->lock, VDB_RANK_COLL);
            x->type = want.type;
            x->spec = want.spec;
            x->skind = want.skind;
            x->name = want.name;
            x->gen++;
            vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
            /* scalar indexes are built here; vector ones are queued, and searches scan a
             * segment exactly until its index is attached */
            for (size_t i = 0; i < c->nsealed && st == VDB_OK; i++)
                st = vdb_index_segment(db, c, c->sealed[i], &c->lock, false);
            for (size_t i = 0; i < c->nsealed && st == VDB_OK; i++)
                vdb_index_queue(db, c, c->sealed[i]);
            vdb_events_notify(db);
        }
    }
unlock:
    vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
out:
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return st;
}

vdb_status vdb_create_index(vdb_db *db, const char *collection, const char *field,
                            const char *type, const char *params)
{
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_create_index");
    return vdb_create_index_named(db, collection, field, NULL, type, params);
}

/* Drops the index of field f of c, or (name not NULL) the one called name (catalog lock
 * read; the name is found under write_mu, so no create or drop comes between). */
static vdb_status drop_at(vdb_db *db, vdb_collection *c, int f, const char *name)
{
    vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE);
    vdb_status st = VDB_OK;
    if ((name && index_named(c, name) < 0 && vdb_jpath_named(c, name) >= 0) ||
        (!name && c->schema->fields[f].def.type == VDB_TYPE_JSON)) {
        st = vdb_jpath_drop(db, c, f, name);
        if (st == VDB_OK)
            vdb_events_notify(db);
    } else if (name && (f = index_named(c, name)) < 0) {
        st = vdb_set_errmsg(VDB_ENOTFOUND, "index '%s' not found in '%s'", name, c->name);
    } else if (!c->index[f].type) {
        st = vdb_set_errmsg(VDB_ENOTFOUND, "field '%s' of '%s' has no index",
                            c->schema->fields[f].def.name, c->name);
    } else {
        const char *field = c->schema->fields[f].def.name;
        vdb_field_index *x = &c->index[f];
        char key[400];
        idx_key(key, sizeof key, c, field);
        st = db->meta.be->del(db->meta.h, key);
        if (st == VDB_OK) {
            /* builds of it still queued see the new generation and do nothing */
            vdb_lock_wr(&c->lock, VDB_RANK_COLL);
            uint64_t gen = x->gen + 1;
            vdb_free(x->fail_msg);
            vdb_free(x->name);
            *x = (vdb_field_index){.gen = gen};
            c->index_failures = 0;
            for (size_t i = 0; i < c->nsealed; i++)
                vdb_segment_set_attachment(c->sealed[i], (size_t)f, NULL, NULL);
            vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
            vdb_events_notify(db);
        }
    }
    vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
    return st;
}

vdb_status vdb_drop_index(vdb_db *db, const char *collection, const char *field)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_drop_index");
    VDB_CHECK_ARG(db && collection && field, "vdb_drop_index: db, collection or field is NULL");
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    int f;
    vdb_status st = lookup_field(db, collection, field, &c, &f);
    if (st == VDB_OK)
        st = drop_at(db, c, f, NULL);
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return st;
}

vdb_status vdb_drop_index_by_name(vdb_db *db, const char *collection, const char *index_name)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_drop_index_by_name");
    VDB_CHECK_ARG(db && collection && index_name, "vdb_drop_index_by_name: db, collection or "
                  "index_name is NULL");
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_status st = vdb_catalog_lookup(&db->catalog, collection, &c);
    if (st == VDB_OK)
        st = drop_at(db, c, -1, index_name);
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return st;
}

vdb_status vdb_describe_index(vdb_db *db, const char *collection, const char *field,
                              const char **type)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && field && type, "vdb_describe_index: db, collection, field "
                  "or type is NULL");
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    int f;
    vdb_status st = lookup_field(db, collection, field, &c, &f);
    if (st == VDB_OK) {
        vdb_lock_rd(&c->lock, VDB_RANK_COLL);
        *type = c->index[f].type;
        if (!*type && vdb_jpath_has(c, (size_t)f))
            *type = "INVERTED"; /* JSON path indexes: vdb_list_indexes tells them apart */
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
        if (!*type)
            st = vdb_set_errmsg(VDB_ENOTFOUND, "field '%s' of '%s' has no index", field,
                                collection);
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return st;
}

/* ---- build state: waiting, progress ---- */

/* The build state of field f (c->lock held): *pending gets the sealed segments still
 * without the field's vector index; the rows go to *indexed / *total. */
static void build_state(const vdb_collection *c, int f, size_t *pending, uint64_t *indexed,
                        uint64_t *total)
{
    const vdb_field_index *x = &c->index[f];
    bool builds = vdb_index_builds(c, (size_t)f);
    bool flat = x->spec.kind && !builds; /* nothing to build: every segment counts as done */
    *pending = 0;
    *indexed = *total = 0;
    for (size_t i = 0; i < c->nsealed; i++) {
        uint64_t rows = vdb_segment_rows(c->sealed[i]);
        bool done = flat || vdb_segment_attachment(c->sealed[i], (size_t)f) != NULL;
        *total += rows;
        if (done)
            *indexed += rows;
        else if (builds)
            (*pending)++;
    }
}

/* One look: VDB_OK when done, VDB_ETIMEDOUT while builds are pending, else the error. */
static vdb_status wait_look(vdb_db *db, const char *collection, const char *field)
{
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    int f;
    vdb_status st = lookup_field(db, collection, field, &c, &f);
    if (st == VDB_OK) {
        vdb_lock_rd(&c->lock, VDB_RANK_COLL);
        size_t pending = 0;
        uint64_t indexed, total;
        if (c->index[f].type)
            build_state(c, f, &pending, &indexed, &total);
        if (c->index[f].fail_msg)
            st = vdb_set_errmsg(c->index[f].fail, "%s", c->index[f].fail_msg);
        else if (pending)
            st = vdb_set_errmsg(VDB_ETIMEDOUT, "the index of '%s' in '%s' is still building "
                                "(%zu segment%s to go)", field, collection, pending,
                                pending == 1 ? "" : "s");
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return st;
}

typedef struct index_look {
    vdb_db *db;
    const char *collection, *field;
} index_look;

static vdb_status look_index(void *arg)
{
    index_look *l = arg;
    return wait_look(l->db, l->collection, l->field);
}

vdb_status vdb_wait_for_index(vdb_db *db, const char *collection, const char *field,
                              uint64_t timeout_ms)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && field, "vdb_wait_for_index: db, collection or field is "
                  "NULL");
    index_look l = {db, collection, field};
    return vdb_events_wait(db, timeout_ms, look_index, &l);
}

vdb_status vdb_index_progress(vdb_db *db, const char *collection, const char *field,
                              uint64_t *indexed_rows, uint64_t *total_rows)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && field && indexed_rows && total_rows, "vdb_index_progress: "
                  "db, collection, field, indexed_rows or total_rows is NULL");
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    int f;
    vdb_status st = lookup_field(db, collection, field, &c, &f);
    if (st == VDB_OK) {
        vdb_lock_rd(&c->lock, VDB_RANK_COLL);
        size_t pending;
        if (!c->index[f].type)
            st = vdb_set_errmsg(VDB_ENOTFOUND, "field '%s' of '%s' has no index", field,
                                collection);
        else
            build_state(c, f, &pending, indexed_rows, total_rows);
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return st;
}

/* ---- lists of indexes: names, params, state ---- */

struct vdb_indexes {
    size_t n;
    vdb_index_info *items; /* the strings but type and metric are the list's own */
};

void vdb_indexes_free(vdb_indexes *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++) {
        vdb_free((char *)list->items[i].name);
        vdb_free((char *)list->items[i].field);
        vdb_free((char *)list->items[i].params);
        vdb_free((char *)list->items[i].fail_reason);
    }
    vdb_free(list->items);
    vdb_free(list);
}

size_t vdb_indexes_count(const vdb_indexes *list)
{
    return list ? list->n : 0;
}

vdb_status vdb_indexes_get(const vdb_indexes *list, size_t i, vdb_index_info *out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(list && out, "vdb_indexes_get: list or out is NULL");
    if (i >= list->n)
        return vdb_set_errmsg(VDB_EINVAL, "vdb_indexes_get: index %zu of a list of %zu", i,
                              list->n);
    return vdb_struct_out(out, sizeof(uint32_t) + 1, &list->items[i], sizeof list->items[i],
                          "vdb_index_info");
}

/* The info of the index of field f (c->lock held): VDB_ENOMEM leaves *out to be freed. */
static vdb_status index_info(const vdb_collection *c, int f, vdb_index_info *out)
{
    const vdb_field_index *x = &c->index[f];
    const vdb_field_def *d = &c->schema->fields[f].def;
    char params[512] = "";
    size_t pending;
    if (x->spec.kind && x->spec.kind->n_build_params)
        vdb_vindex_spec_format(&x->spec, params, sizeof params);
    build_state(c, f, &pending, &out->indexed_rows, &out->total_rows);
    out->struct_size = sizeof *out;
    out->type = x->type;
    out->metric = vdb_type_is_any_vector(d->type) ? vdb_metric_name(d->metric) : "";
    out->state = x->fail_msg ? VDB_INDEX_FAILED : pending ? VDB_INDEX_IN_PROGRESS
                                                          : VDB_INDEX_FINISHED;
    out->fail_status = x->fail_msg ? x->fail : VDB_OK;
    out->name = vdb_strdup(x->name ? x->name : d->name);
    out->field = vdb_strdup(d->name);
    out->params = vdb_strdup(params);
    out->fail_reason = vdb_strdup(x->fail_msg ? x->fail_msg : "");
    if (!out->name || !out->field || !out->params || !out->fail_reason)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    return VDB_OK;
}

/* The indexes of a collection: all of them (name NULL), else the one called name. */
static vdb_status list_indexes(vdb_db *db, const char *collection, const char *name,
                               vdb_indexes **out)
{
    *out = NULL;
    vdb_indexes *l = vdb_calloc(1, sizeof *l);
    if (!l)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_status st = vdb_catalog_lookup(&db->catalog, collection, &c);
    if (st == VDB_OK) {
        vdb_lock_rd(&c->lock, VDB_RANK_COLL);
        size_t nf = c->schema->nfields;
        l->items = vdb_calloc(nf + c->njpath + 1, sizeof *l->items);
        if (!l->items)
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        for (size_t i = 0; i < nf && st == VDB_OK; i++) {
            const vdb_field_index *x = &c->index[i];
            if (!x->type || (name && (!x->name || strcmp(x->name, name))))
                continue;
            st = index_info(c, (int)i, &l->items[l->n++]);
        }
        if (st == VDB_OK)
            l->n += vdb_jpath_infos(c, name, l->items + l->n, &st);
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
        if (st == VDB_OK && name && !l->n)
            st = vdb_set_errmsg(VDB_ENOTFOUND, "index '%s' not found in '%s'", name,
                                collection);
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    if (st != VDB_OK)
        vdb_indexes_free(l);
    else
        *out = l;
    return st;
}

vdb_status vdb_list_indexes(vdb_db *db, const char *collection, vdb_indexes **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && out, "vdb_list_indexes: db, collection or out is NULL");
    return list_indexes(db, collection, NULL, out);
}

vdb_status vdb_describe_index_by_name(vdb_db *db, const char *collection,
                                      const char *index_name, vdb_indexes **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection && index_name && out, "vdb_describe_index_by_name: db, "
                  "collection, index_name or out is NULL");
    return list_indexes(db, collection, index_name, out);
}

vdb_status vdb_set_index_progress(vdb_db *db, vdb_index_progress_fn fn, void *arg)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db, "vdb_set_index_progress: db is NULL");
    pthread_mutex_lock(&db->progress_mu); /* calls run under it: none is in flight after */
    db->progress_fn = fn;
    db->progress_arg = fn ? arg : NULL;
    pthread_mutex_unlock(&db->progress_mu);
    return VDB_OK;
}

/* Recovery: the index choices of a collection, before its segments load. */
typedef struct idx_loader {
    vdb_collection *c;
    vdb_status st;
} idx_loader;

static int load_one(void *arg, const char *key, const void *val, size_t len)
{
    idx_loader *l = arg;
    const char *field = strrchr(key, '/');
    int f = field ? vdb_schema_find(l->c->schema, field + 1) : -1;
    char text[512];
    if (f >= 0 && l->c->schema->fields[f].def.type == VDB_TYPE_JSON) {
        l->st = vdb_jpath_load(l->c, f, key, val, len);
        return l->st != VDB_OK;
    }
    if (f < 0 || len == 0 || len >= sizeof text) {
        l->st = vdb_set_errmsg(VDB_ECORRUPT, "meta key %s names no field of '%s'", key,
                               l->c->name);
        return 1;
    }
    memcpy(text, val, len);
    text[len] = 0;
    char *params = strchr(text, '\n'), *name = NULL;
    if (params)
        *params++ = 0;
    if (params && (name = strchr(params, '\n')))
        *name++ = 0;
    if (name && !vdb_name_valid(name)) {
        l->st = vdb_set_errmsg(VDB_ECORRUPT, "meta key %s: index name '%s' is invalid", key,
                               name);
        return 1;
    }
    vdb_field_index x;
    l->st = vdb_index_choose(&l->c->schema->fields[f].def, text, params && *params ? params
                                                                                    : NULL, &x);
    if (l->st != VDB_OK) {
        l->st = vdb_set_errmsg(VDB_ECORRUPT, "meta key %s: %s", key, vdb_err_get());
        return 1;
    }
    /* records from before index names have none: the field's */
    x.name = vdb_strdup(name ? name : field + 1);
    if (!x.name) {
        l->st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        return 1;
    }
    x.gen = l->c->index[f].gen;
    vdb_free(l->c->index[f].name);
    l->c->index[f] = x;
    return 0;
}

vdb_status vdb_load_indexes(vdb_db *db, vdb_collection *c)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "idx/%016llx/", (unsigned long long)c->id);
    idx_loader l = {c, VDB_OK};
    vdb_status st = db->meta.be->scan(db->meta.h, prefix, load_one, &l);
    if (st == VDB_OK)
        st = l.st;
    for (size_t i = 0; st == VDB_OK && i < c->schema->nfields; i++) {
        int j = c->index[i].name ? index_named(c, c->index[i].name) : (int)i;
        if (j != (int)i)
            st = vdb_set_errmsg(VDB_ECORRUPT, "meta: two indexes of '%s' are called '%s' "
                                "(fields '%s' and '%s')", c->name, c->index[i].name,
                                c->schema->fields[j].def.name, c->schema->fields[i].def.name);
        if (st == VDB_OK && c->index[i].type && vdb_jpath_named(c, c->index[i].name) >= 0)
            st = vdb_set_errmsg(VDB_ECORRUPT, "meta: two indexes of '%s' are called '%s' (of "
                                "field '%s' and a JSON path index)", c->name, c->index[i].name,
                                c->schema->fields[i].def.name);
    }
    return st;
}

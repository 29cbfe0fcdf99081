/* Collection schemas: the builder applications use, the checks Milvus makes on fields,
 * and the encoding kept in the meta store. */
#include <ctype.h>
#include <stdio.h>

#include "core/schema.h"
#include "segment/segment.h"
#include "text/text.h"

bool vdb_name_valid(const char *name)
{
    if (!name || !*name || strlen(name) > VDB_MAX_NAME)
        return false;
    if (!(isalpha((unsigned char)name[0]) || name[0] == '_'))
        return false;
    for (const char *p = name; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return false;
    return true;
}

static bool part_valid(const char *p, size_t n)
{
    char buf[VDB_MAX_NAME + 1];
    if (n > VDB_MAX_NAME)
        return false;
    memcpy(buf, p, n);
    buf[n] = 0;
    return vdb_name_valid(buf);
}

bool vdb_qualified_valid(const char *name)
{
    if (!name)
        return false;
    const char *dot = strchr(name, '.');
    if (!dot)
        return vdb_name_valid(name);
    return part_valid(name, (size_t)(dot - name)) && vdb_name_valid(dot + 1);
}

const char *vdb_qualified_canon(const char *name)
{
    size_t n = strlen(VDB_DEFAULT_DATABASE);
    if (name && !strncmp(name, VDB_DEFAULT_DATABASE, n) && name[n] == '.')
        return name + n + 1;
    return name;
}

size_t vdb_qualified_db_len(const char *name)
{
    const char *dot = name ? strchr(name, '.') : NULL;
    return dot ? (size_t)(dot - name) : 0;
}

bool vdb_same_database(const char *a, const char *b)
{
    size_t n = vdb_qualified_db_len(a);
    return n == vdb_qualified_db_len(b) && !strncmp(a, b, n);
}

vdb_status vdb_schema_new(const char *name, vdb_schema **out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(out, "vdb_schema_new: out is NULL");
    *out = NULL;
    VDB_CHECK_ARG(vdb_qualified_valid(name),
                  "collection name '%s' is invalid: use 1..255 letters, digits or '_', "
                  "starting with a letter or '_' (\"<database>.<name>\" for a collection of "
                  "another database)", name ? name : "(null)");
    name = vdb_qualified_canon(name);
    vdb_schema *s = vdb_calloc(1, sizeof *s);
    if (!s || !(s->name = vdb_strdup(name))) {
        vdb_free(s);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    s->shards = 1;
    s->pk = -1;
    s->pkey = -1;
    *out = s;
    return VDB_OK;
}

static void field_free(vdb_field *f)
{
    vdb_free((char *)f->def.name);
    vdb_free((char *)f->def.default_json);
    vdb_free((char *)f->def.description);
    vdb_free((char *)f->def.analyzer_params);
    vdb_json_scalar_free(&f->defv);
}

static void func_free(vdb_function_def *d)
{
    vdb_free((char *)d->name);
    vdb_free((char *)d->input_field);
    vdb_free((char *)d->output_field);
    vdb_free((char *)d->description);
}

void vdb_schema_free(vdb_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nfields; i++)
        field_free(&s->fields[i]);
    vdb_free(s->fields);
    for (size_t i = 0; i < s->nfuncs; i++)
        func_free(&s->funcs[i]);
    vdb_free(s->funcs);
    vdb_free(s->name);
    vdb_free(s->description);
    vdb_free(s);
}

int vdb_schema_find(const vdb_schema *s, const char *name)
{
    for (size_t i = 0; i < s->nfields; i++)
        if (!strcmp(s->fields[i].def.name, name))
            return (int)i;
    return -1;
}

static bool is_int_type(vdb_type t)
{
    return t == VDB_TYPE_INT8 || t == VDB_TYPE_INT16 || t == VDB_TYPE_INT32 ||
           t == VDB_TYPE_INT64;
}

static bool is_scalar_type(vdb_type t)
{
    return t == VDB_TYPE_BOOL || is_int_type(t) || t == VDB_TYPE_FLOAT ||
           t == VDB_TYPE_DOUBLE || t == VDB_TYPE_VARCHAR;
}

/* The checks Milvus makes on one field definition, with messages naming the parameter. */
static vdb_status check_field(const vdb_schema *s, const vdb_field_def *d)
{
    const char *n = d->name;
    if (!vdb_name_valid(n))
        return vdb_set_errmsg(VDB_EINVAL, "field name '%s' is invalid: use 1..255 letters, "
                              "digits or '_', starting with a letter or '_'", n ? n : "(null)");
    if (vdb_schema_find(s, n) >= 0)
        return vdb_set_errmsg(VDB_EEXIST, "field '%s' is already in the schema", n);
    if (s->nfields >= VDB_MAX_FIELDS)
        return vdb_set_errmsg(VDB_EINVAL, "a schema holds at most %d fields", VDB_MAX_FIELDS);
    switch (d->type) {
    case VDB_TYPE_BOOL: case VDB_TYPE_INT8: case VDB_TYPE_INT16: case VDB_TYPE_INT32:
    case VDB_TYPE_INT64: case VDB_TYPE_FLOAT: case VDB_TYPE_DOUBLE: case VDB_TYPE_JSON:
        break;
    case VDB_TYPE_VARCHAR:
        if (d->max_length < 1 || d->max_length > VDB_MAX_VARCHAR)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': max_length must be 1..%d, got %u",
                                  n, VDB_MAX_VARCHAR, d->max_length);
        break;
    case VDB_TYPE_ARRAY:
        if (!is_scalar_type(d->element_type))
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': element_type must be BOOL, INT8..INT64, "
                                  "FLOAT, DOUBLE or VARCHAR, got %s", n,
                                  vdb_type_name(d->element_type));
        if (d->max_capacity < 1 || d->max_capacity > VDB_MAX_CAPACITY)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': max_capacity must be 1..%d, got %u",
                                  n, VDB_MAX_CAPACITY, d->max_capacity);
        if (d->element_type == VDB_TYPE_VARCHAR &&
            (d->max_length < 1 || d->max_length > VDB_MAX_VARCHAR))
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': max_length of VARCHAR elements must "
                                  "be 1..%d, got %u", n, VDB_MAX_VARCHAR, d->max_length);
        break;
    case VDB_TYPE_FLOAT_VECTOR:
    case VDB_TYPE_FLOAT16_VECTOR:
    case VDB_TYPE_BFLOAT16_VECTOR:
    case VDB_TYPE_INT8_VECTOR:
        if (d->dim < 1 || d->dim > VDB_MAX_DIM)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': dim must be 1..%d, got %u", n,
                                  VDB_MAX_DIM, d->dim);
        if (d->metric && d->metric != VDB_METRIC_L2 && d->metric != VDB_METRIC_IP &&
            d->metric != VDB_METRIC_COSINE)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': metric of a %s field must be L2, IP "
                                  "or COSINE, not %s", n, vdb_type_name(d->type),
                                  vdb_metric_name(d->metric));
        if (d->nullable || d->default_json)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': vector fields cannot be nullable or "
                                  "have a default", n);
        break;
    case VDB_TYPE_BINARY_VECTOR:
        if (d->dim < 8 || d->dim > VDB_MAX_DIM || d->dim % 8)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': the dim of a BINARY_VECTOR (bits) "
                                  "must be a multiple of 8 in 8..%d, got %u", n, VDB_MAX_DIM,
                                  d->dim);
        if (d->metric && !vdb_metric_is_binary(d->metric))
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': metric of a BINARY_VECTOR field must "
                                  "be HAMMING or JACCARD, not %s", n, vdb_metric_name(d->metric));
        if (d->nullable || d->default_json)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': vector fields cannot be nullable or "
                                  "have a default", n);
        break;
    case VDB_TYPE_SPARSE_FLOAT_VECTOR:
        if (d->dim)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': a sparse vector field has no dim "
                                  "(got %u)", n, d->dim);
        /* BM25: set by vdb_schema_add_function on its output (decoded schemas carry it) */
        if (d->metric && d->metric != VDB_METRIC_IP && d->metric != VDB_METRIC_BM25)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': sparse vectors take metric IP only, "
                                  "not %s", n, vdb_metric_name(d->metric));
        if (d->nullable || d->default_json)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': vector fields cannot be nullable or "
                                  "have a default", n);
        break;
    default:
        return vdb_set_errmsg(VDB_EINVAL, "field '%s': unknown type %d", n, (int)d->type);
    }
    if (d->is_primary) {
        if (s->pk >= 0)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': the schema already has a primary key "
                                  "('%s')", n, s->fields[s->pk].def.name);
        if (d->type != VDB_TYPE_INT64 && d->type != VDB_TYPE_VARCHAR)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': a primary key must be INT64 or "
                                  "VARCHAR, not %s", n, vdb_type_name(d->type));
        if (d->auto_id && d->type != VDB_TYPE_INT64)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': auto_id needs an INT64 primary key", n);
        if (d->nullable || d->default_json)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': a primary key cannot be nullable or "
                                  "have a default", n);
    } else if (d->auto_id) {
        return vdb_set_errmsg(VDB_EINVAL, "field '%s': auto_id applies to the primary key only", n);
    }
    if (d->is_partition_key) {
        if (s->pkey >= 0)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': there are more than one partition "
                                  "key ('%s' is one already)", n, s->fields[s->pkey].def.name);
        if (d->type != VDB_TYPE_INT64 && d->type != VDB_TYPE_VARCHAR)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': the data type of a partition key "
                                  "should be Int64 or VarChar, not %s", n,
                                  vdb_type_name(d->type));
        if (d->is_primary)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': the partition key field cannot be "
                                  "the primary key", n);
        if (d->nullable)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': a partition key field cannot be "
                                  "nullable", n);
    }
    if (d->default_json && (d->type == VDB_TYPE_ARRAY || d->type == VDB_TYPE_JSON))
        return vdb_set_errmsg(VDB_EINVAL, "field '%s': defaults are for scalar fields only", n);
    if ((d->enable_analyzer || d->enable_match || d->analyzer_params) &&
        d->type != VDB_TYPE_VARCHAR)
        return vdb_set_errmsg(VDB_EINVAL, "field '%s': enable_analyzer, analyzer_params and "
                              "enable_match are for VARCHAR fields, not %s", n,
                              vdb_type_name(d->type));
    if (d->analyzer_params && !d->enable_analyzer)
        return vdb_set_errmsg(VDB_EINVAL, "field '%s': analyzer_params needs enable_analyzer",
                              n);
    if (d->enable_match && !d->enable_analyzer)
        return vdb_set_errmsg(VDB_EINVAL, "field '%s': enable_match needs enable_analyzer", n);
    if (d->enable_match)
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "field '%s': enable_match (TEXT_MATCH, "
                              "PHRASE_MATCH) is not built in libvdb yet", n);
    if (d->enable_analyzer) {
        char what[300];
        snprintf(what, sizeof what, "field '%s'", n);
        vdb_analyzer *a = NULL;
        vdb_status st = vdb_analyzer_new(d->analyzer_params,
                                         d->analyzer_params ? strlen(d->analyzer_params) : 0,
                                         what, &a);
        vdb_analyzer_free(a);
        if (st != VDB_OK)
            return st;
    }
    return VDB_OK;
}

static vdb_status field_fill(vdb_field *f, const vdb_field_def *d)
{
    memset(f, 0, sizeof *f);
    f->def = *d;
    f->def.name = vdb_strdup(d->name);
    f->def.default_json = d->default_json ? vdb_strdup(d->default_json) : NULL;
    f->def.description = d->description ? vdb_strdup(d->description) : NULL;
    f->def.analyzer_params = d->analyzer_params ? vdb_strdup(d->analyzer_params) : NULL;
    f->def.enable_analyzer = d->enable_analyzer != 0;
    f->def.enable_match = d->enable_match != 0;
    if (!f->def.name || (d->default_json && !f->def.default_json) ||
        (d->description && !f->def.description) ||
        (d->analyzer_params && !f->def.analyzer_params)) {
        field_free(f);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    if (vdb_type_is_vector(f->def.type) && !f->def.metric)
        f->def.metric = f->def.type == VDB_TYPE_BINARY_VECTOR ? VDB_METRIC_HAMMING
                                                              : VDB_METRIC_L2;
    if (f->def.type == VDB_TYPE_SPARSE_FLOAT_VECTOR && f->def.metric != VDB_METRIC_BM25)
        f->def.metric = VDB_METRIC_IP;
    if (d->default_json) {
        char what[300];
        snprintf(what, sizeof what, "default of field '%s'", d->name);
        vdb_status st = vdb_json_parse_scalar(d->default_json, strlen(d->default_json), d->type,
                                              d->max_length, &f->defv);
        if (st != VDB_OK) {
            field_free(f);
            return vdb_set_errmsg(st, "field '%s': default %s does not fit %s: %s", d->name,
                                  d->default_json, vdb_type_name(d->type), vdb_err_get());
        }
        f->has_default = true;
    }
    return VDB_OK;
}

vdb_status vdb_schema_add_field(vdb_schema *s, const vdb_field_def *in)
{
    vdb_err_clear();
    VDB_CHECK_ARG(s && in, "vdb_schema_add_field: schema or field is NULL");
    vdb_field_def def;
    vdb_status st = vdb_struct_in(in, in->struct_size, sizeof def, &def, sizeof def,
                                  "vdb_field_def");
    const vdb_field_def *d = &def;
    if (st == VDB_OK)
        st = check_field(s, d);
    if (st != VDB_OK)
        return st;
    vdb_field *fields = vdb_realloc(s->fields, (s->nfields + 1) * sizeof *fields);
    if (!fields)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    s->fields = fields;
    st = field_fill(&s->fields[s->nfields], d);
    if (st != VDB_OK)
        return st;
    if (d->is_primary)
        s->pk = (int)s->nfields;
    if (d->is_partition_key)
        s->pkey = (int)s->nfields;
    s->nfields++;
    return VDB_OK;
}

int vdb_schema_function_of(const vdb_schema *s, size_t f)
{
    for (size_t i = 0; i < s->nfuncs; i++)
        if (!strcmp(s->funcs[i].output_field, s->fields[f].def.name))
            return (int)i;
    return -1;
}

vdb_status vdb_schema_add_function(vdb_schema *s, const vdb_function_def *in)
{
    vdb_err_clear();
    VDB_CHECK_ARG(s && in, "vdb_schema_add_function: schema or function is NULL");
    vdb_function_def d;
    vdb_status st = vdb_struct_in(in, in->struct_size, sizeof d, &d, sizeof d,
                                  "vdb_function_def");
    if (st != VDB_OK)
        return st;
    const char *n = d.name;
    if (!vdb_name_valid(n))
        return vdb_set_errmsg(VDB_EINVAL, "function name '%s' is invalid: use 1..255 letters, "
                              "digits or '_', starting with a letter or '_'", n ? n : "(null)");
    for (size_t i = 0; i < s->nfuncs; i++)
        if (!strcmp(s->funcs[i].name, n))
            return vdb_set_errmsg(VDB_EEXIST, "function '%s' is already in the schema", n);
    if (d.type != VDB_FUNCTION_BM25)
        return vdb_set_errmsg(VDB_EINVAL, "function '%s': unknown function type %d (BM25 is "
                              "%d)", n, (int)d.type, (int)VDB_FUNCTION_BM25);
    int fi = d.input_field ? vdb_schema_find(s, d.input_field) : -1;
    int fo = d.output_field ? vdb_schema_find(s, d.output_field) : -1;
    if (fi < 0 || fo < 0)
        return vdb_set_errmsg(VDB_EINVAL, "function '%s': %s field '%s' is not in the schema "
                              "(add the fields first)", n, fi < 0 ? "input" : "output",
                              fi < 0 ? (d.input_field ? d.input_field : "(null)")
                                     : (d.output_field ? d.output_field : "(null)"));
    const vdb_field_def *in_f = &s->fields[fi].def;
    vdb_field_def *out_f = &s->fields[fo].def;
    if (in_f->type != VDB_TYPE_VARCHAR || !in_f->enable_analyzer)
        return vdb_set_errmsg(VDB_EINVAL, "function '%s': the input field '%s' of a BM25 "
                              "function must be VARCHAR with enable_analyzer", n, in_f->name);
    if (out_f->type != VDB_TYPE_SPARSE_FLOAT_VECTOR)
        return vdb_set_errmsg(VDB_EINVAL, "function '%s': the output field '%s' of a BM25 "
                              "function must be SPARSE_FLOAT_VECTOR, not %s", n, out_f->name,
                              vdb_type_name(out_f->type));
    if (vdb_schema_function_of(s, (size_t)fo) >= 0)
        return vdb_set_errmsg(VDB_EINVAL, "function '%s': field '%s' is already the output of "
                              "a function", n, out_f->name);
    vdb_function_def *funcs = vdb_realloc(s->funcs, (s->nfuncs + 1) * sizeof *funcs);
    if (!funcs)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    s->funcs = funcs;
    vdb_function_def *f = &funcs[s->nfuncs];
    memset(f, 0, sizeof *f);
    f->struct_size = sizeof *f;
    f->type = d.type;
    f->name = vdb_strdup(n);
    f->input_field = vdb_strdup(in_f->name);
    f->output_field = vdb_strdup(out_f->name);
    f->description = d.description ? vdb_strdup(d.description) : NULL;
    if (!f->name || !f->input_field || !f->output_field || (d.description && !f->description)) {
        func_free(f);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    out_f->metric = VDB_METRIC_BM25;
    s->nfuncs++;
    return VDB_OK;
}

size_t vdb_schema_function_count(const vdb_schema *s) { return s ? s->nfuncs : 0; }

vdb_status vdb_schema_function(const vdb_schema *s, size_t i, vdb_function_def *out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(s && out, "vdb_schema_function: schema or out is NULL");
    if (i >= s->nfuncs)
        return vdb_set_errmsg(VDB_ENOTFOUND, "function %zu: the schema has %zu functions", i,
                              s->nfuncs);
    vdb_function_def def = s->funcs[i];
    def.struct_size = sizeof def;
    return vdb_struct_out(out, sizeof(uint32_t) + 1, &def, sizeof def, "vdb_function_def");
}

vdb_status vdb_schema_set_dynamic(vdb_schema *s, int enabled)
{
    vdb_err_clear();
    VDB_CHECK_ARG(s, "vdb_schema_set_dynamic: schema is NULL");
    s->dynamic = enabled != 0;
    return VDB_OK;
}

vdb_status vdb_schema_set_shards(vdb_schema *s, uint32_t n)
{
    vdb_err_clear();
    VDB_CHECK_ARG(s, "vdb_schema_set_shards: schema is NULL");
    VDB_CHECK_ARG(n >= 1 && n <= VDB_MAX_SHARDS, "num_shards must be 1..%d, got %u",
                  VDB_MAX_SHARDS, n);
    s->shards = n;
    return VDB_OK;
}

vdb_status vdb_schema_set_description(vdb_schema *s, const char *text)
{
    vdb_err_clear();
    VDB_CHECK_ARG(s, "vdb_schema_set_description: schema is NULL");
    char *d = text ? vdb_strdup(text) : NULL;
    if (text && !d)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    vdb_free(s->description);
    s->description = d;
    return VDB_OK;
}

vdb_status vdb_schema_set_partitions(vdb_schema *s, uint32_t n)
{
    vdb_err_clear();
    VDB_CHECK_ARG(s, "vdb_schema_set_partitions: schema is NULL");
    VDB_CHECK_ARG(n >= 1 && n <= VDB_MAX_KEY_PARTITIONS, "num_partitions must be 1..%d, got %u",
                  VDB_MAX_KEY_PARTITIONS, n);
    s->key_parts = n;
    return VDB_OK;
}

uint32_t vdb_schema_partitions(const vdb_schema *s)
{
    if (!s || s->pkey < 0)
        return 0;
    return s->key_parts ? s->key_parts : VDB_DEFAULT_KEY_PARTITIONS;
}

const char *vdb_schema_name(const vdb_schema *s) { return s ? s->name : NULL; }
size_t vdb_schema_field_count(const vdb_schema *s) { return s ? s->nfields : 0; }
int vdb_schema_dynamic(const vdb_schema *s) { return s && s->dynamic; }
uint32_t vdb_schema_shards(const vdb_schema *s) { return s ? s->shards : 0; }

vdb_status vdb_schema_field(const vdb_schema *s, size_t i, vdb_field_def *out)
{
    vdb_err_clear();
    VDB_CHECK_ARG(s && out, "vdb_schema_field: schema or out is NULL");
    if (i >= s->nfields)
        return vdb_set_errmsg(VDB_ENOTFOUND, "field %zu: the schema has %zu fields", i,
                              s->nfields);
    vdb_field_def def = s->fields[i].def;
    def.struct_size = sizeof def;
    return vdb_struct_out(out, sizeof(uint32_t) + 1, &def, sizeof def, "vdb_field_def");
}

vdb_status vdb_schema_check_complete(const vdb_schema *s)
{
    if (s->pk < 0)
        return vdb_set_errmsg(VDB_EINVAL, "collection '%s' has no primary key field", s->name);
    if (s->key_parts && s->pkey < 0)
        return vdb_set_errmsg(VDB_EINVAL, "collection '%s': num_partitions should only be "
                              "specified with partition key field enabled", s->name);
    size_t nvec = 0;
    for (size_t i = 0; i < s->nfields; i++) {
        nvec += vdb_type_is_any_vector(s->fields[i].def.type);
        if (s->fields[i].def.metric == VDB_METRIC_BM25 && vdb_schema_function_of(s, i) < 0)
            return vdb_set_errmsg(VDB_EINVAL, "field '%s': metric BM25 is for the output of a "
                                  "BM25 function", s->fields[i].def.name);
    }
    if (nvec > VDB_MAX_VECTOR_FIELDS)
        return vdb_set_errmsg(VDB_EINVAL, "collection '%s' has %zu vector fields: at most %d "
                              "(as Milvus's default)", s->name, nvec, VDB_MAX_VECTOR_FIELDS);
    if (nvec)
        return VDB_OK;
    return vdb_set_errmsg(VDB_EINVAL, "collection '%s' has no vector field", s->name);
}

void vdb_schema_encode(const vdb_schema *s, vdb_buf *b)
{
    /* schema encoding version: 2 adds num_partitions (written only with a partition key, so
     * other schemas stay readable by older libraries) */
    /* 3 adds the schema version and when each field was added (written only once a field
     * was added, so an older library refuses the collection instead of misreading it); 4
     * (only with an analyzer or a function) adds, after those, each field's analyzer
     * settings and the functions */
    bool text = s->nfuncs > 0;
    for (size_t i = 0; i < s->nfields; i++)
        text = text || s->fields[i].def.enable_analyzer;
    uint32_t enc = text ? 4 : s->version ? 3 : s->pkey >= 0 ? 2 : 1;
    vdb_buf_u32(b, enc);
    vdb_buf_str(b, s->name);
    vdb_buf_str(b, s->description);
    vdb_buf_u8(b, s->dynamic);
    vdb_buf_u32(b, s->shards);
    vdb_buf_u32(b, (uint32_t)s->nfields);
    for (size_t i = 0; i < s->nfields; i++) {
        const vdb_field_def *d = &s->fields[i].def;
        vdb_buf_str(b, d->name);
        vdb_buf_u32(b, d->type);
        vdb_buf_u32(b, d->element_type);
        vdb_buf_u32(b, d->dim);
        vdb_buf_u32(b, d->metric);
        vdb_buf_u32(b, d->max_length);
        vdb_buf_u32(b, d->max_capacity);
        vdb_buf_u8(b, (uint8_t)((d->is_primary ? 1 : 0) | (d->auto_id ? 2 : 0) |
                                (d->nullable ? 4 : 0) | (d->default_json ? 8 : 0) |
                                (d->is_partition_key ? 16 : 0)));
        vdb_buf_str(b, d->default_json);
        vdb_buf_str(b, d->description);
    }
    if (s->pkey >= 0 || enc >= 3)
        vdb_buf_u32(b, s->key_parts);
    if (enc >= 3) {
        vdb_buf_u32(b, s->version);
        for (size_t i = 0; i < s->nfields; i++)
            vdb_buf_u64(b, s->fields[i].added_ts);
    }
    if (enc < 4)
        return;
    for (size_t i = 0; i < s->nfields; i++) {
        const vdb_field_def *d = &s->fields[i].def;
        vdb_buf_u8(b, (uint8_t)((d->enable_analyzer ? 1 : 0) | (d->enable_match ? 2 : 0) |
                                (d->analyzer_params ? 4 : 0)));
        vdb_buf_str(b, d->analyzer_params);
    }
    vdb_buf_u32(b, (uint32_t)s->nfuncs);
    for (size_t i = 0; i < s->nfuncs; i++) {
        const vdb_function_def *f = &s->funcs[i];
        vdb_buf_str(b, f->name);
        vdb_buf_u32(b, f->type);
        vdb_buf_str(b, f->input_field);
        vdb_buf_str(b, f->output_field);
        vdb_buf_str(b, f->description);
    }
}

/* Version 4's analyzer settings per field (checked as vdb_schema_add_field checks them)
 * and functions. */
static vdb_status decode_text(vdb_rd *r, vdb_schema *s)
{
    vdb_status st = VDB_OK;
    for (size_t i = 0; i < s->nfields && st == VDB_OK; i++) {
        uint8_t flags = vdb_rd_u8(r);
        char *ap = vdb_rd_str(r);
        vdb_field *f = &s->fields[i];
        if (r->err || !ap) {
            vdb_free(ap);
            return vdb_set_errmsg(VDB_ECORRUPT, "analyzer settings cut short");
        }
        vdb_field_def d = f->def;
        d.enable_analyzer = flags & 1;
        d.enable_match = (flags & 2) != 0;
        d.analyzer_params = (flags & 4) ? ap : NULL;
        if (d.enable_analyzer || d.enable_match || d.analyzer_params) {
            /* the field checks again, without the name clash with itself */
            vdb_schema probe = *s;
            probe.nfields = 0;
            probe.pk = probe.pkey = -1;
            d.is_primary = d.is_partition_key = 0;
            st = check_field(&probe, &d);
        }
        if (st == VDB_OK && (flags & 4)) {
            f->def.analyzer_params = ap;
            ap = NULL;
        }
        f->def.enable_analyzer = flags & 1;
        f->def.enable_match = (flags & 2) != 0;
        vdb_free(ap);
    }
    uint32_t nf = vdb_rd_u32(r);
    for (uint32_t i = 0; i < nf && st == VDB_OK && !r->err; i++) {
        vdb_function_def d = {.struct_size = sizeof d};
        char *name = vdb_rd_str(r);
        d.type = vdb_rd_u32(r);
        char *in = vdb_rd_str(r), *out = vdb_rd_str(r), *desc = vdb_rd_str(r);
        d.name = name;
        d.input_field = in;
        d.output_field = out;
        d.description = desc && *desc ? desc : NULL;
        st = r->err ? vdb_set_errmsg(VDB_ECORRUPT, "functions cut short")
                    : vdb_schema_add_function(s, &d);
        vdb_free(name);
        vdb_free(in);
        vdb_free(out);
        vdb_free(desc);
    }
    if (st == VDB_OK && r->err)
        st = vdb_set_errmsg(VDB_ECORRUPT, "functions cut short");
    return st;
}

vdb_status vdb_schema_decode(vdb_rd *r, vdb_schema **out)
{
    vdb_schema *s = NULL;
    char *name = NULL, *desc = NULL;
    vdb_status st = VDB_ECORRUPT;
    uint32_t version = vdb_rd_u32(r);
    if (version < 1 || version > 4)
        return vdb_set_errmsg(VDB_EVERSION, "schema written by an unknown version");
    name = vdb_rd_str(r);
    desc = vdb_rd_str(r);
    if (!name || !desc || (st = vdb_schema_new(name, &s)) != VDB_OK)
        goto fail;
    if (*desc)
        vdb_schema_set_description(s, desc);
    s->dynamic = vdb_rd_u8(r) != 0;
    s->shards = vdb_rd_u32(r);
    uint32_t nf = vdb_rd_u32(r);
    for (uint32_t i = 0; i < nf && !r->err; i++) {
        vdb_field_def d = {.struct_size = sizeof d};
        char *fname = vdb_rd_str(r);
        d.name = fname;
        d.type = vdb_rd_u32(r);
        d.element_type = vdb_rd_u32(r);
        d.dim = vdb_rd_u32(r);
        d.metric = vdb_rd_u32(r);
        d.max_length = vdb_rd_u32(r);
        d.max_capacity = vdb_rd_u32(r);
        uint8_t flags = vdb_rd_u8(r);
        d.is_primary = flags & 1;
        d.auto_id = (flags & 2) != 0;
        d.nullable = (flags & 4) != 0;
        d.is_partition_key = (flags & 16) != 0;
        char *dj = vdb_rd_str(r), *fd = vdb_rd_str(r);
        d.default_json = (flags & 8) ? dj : NULL;
        d.description = fd && *fd ? fd : NULL;
        st = r->err ? VDB_ECORRUPT : vdb_schema_add_field(s, &d);
        vdb_free(fname);
        vdb_free(dj);
        vdb_free(fd);
        if (st != VDB_OK)
            goto fail;
    }
    if (version >= 2)
        s->key_parts = vdb_rd_u32(r);
    if (version >= 3) {
        s->version = vdb_rd_u32(r);
        for (size_t i = 0; i < s->nfields; i++)
            s->fields[i].added_ts = vdb_rd_u64(r);
    }
    if (r->err || s->key_parts > VDB_MAX_KEY_PARTITIONS ||
        (version == 2 && s->pkey < 0) || (version == 1 && s->pkey >= 0) ||
        (version == 3 && !s->version)) {
        st = VDB_ECORRUPT;
        goto fail;
    }
    if (version == 4 && (st = decode_text(r, s)) != VDB_OK)
        goto fail;
    vdb_free(name);
    vdb_free(desc);
    *out = s;
    return VDB_OK;
fail:
    vdb_free(name);
    vdb_free(desc);
    vdb_schema_free(s);
    return vdb_set_errmsg(st == VDB_OK ? VDB_ECORRUPT : st, "stored schema is corrupt: %s",
                          vdb_err_get());
}

/* One scalar default, in column storage form. */
vdb_status vdb_field_push_default(vdb_column *col, const vdb_field *f)
{
    const vdb_json_scalar *d = &f->defv;
    union {
        uint8_t b;
        int8_t i8;
        int16_t i16;
        int32_t i32;
        int64_t i64;
        float f;
        double dbl;
    } v;
    switch (f->def.type) {
    case VDB_TYPE_BOOL: v.b = (uint8_t)(d->i != 0); break;
    case VDB_TYPE_INT8: v.i8 = (int8_t)d->i; break;
    case VDB_TYPE_INT16: v.i16 = (int16_t)d->i; break;
    case VDB_TYPE_INT32: v.i32 = (int32_t)d->i; break;
    case VDB_TYPE_INT64: v.i64 = d->i; break;
    case VDB_TYPE_FLOAT: v.f = (float)d->d; break;
    case VDB_TYPE_DOUBLE: v.dbl = d->d; break;
    default: return vdb_column_push(col, d->s, d->len, true);
    }
    return vdb_column_push(col, &v, 0, true);
}

vdb_status vdb_schema_copy(const vdb_schema *src, vdb_schema **out)
{
    vdb_buf b = {0};
    vdb_schema_encode(src, &b);
    if (b.oom)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    vdb_rd r = vdb_rd_init(b.p, b.len);
    vdb_status st = vdb_schema_decode(&r, out);
    vdb_buf_free(&b);
    return st;
}
